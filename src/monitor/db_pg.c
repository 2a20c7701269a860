/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * db_pg: the PostgreSQL driver of db.h, over libpq. One connection per db; statements are
 * server-side prepared statements ("s1", "s2", ...) whose '?' placeholders are rewritten to
 * $1..$n, with parameters and results as text. Owns the connection's session settings and
 * the masking of the password in what it reports; the public db_* functions are in
 * db_sqlite.c.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libpq-fe.h>

#include "monitor/db_impl.h"

/* PostgreSQL's wire protocol counts parameters in 16 bits. */
#define PG_MAX_PARAMS 65535

struct pg_db {
    struct db base;
    PGconn *conn;
    unsigned next_id; /* of the next prepared statement's name */
    int64_t changes;
    /* Prepared statements finalized while the session could not drop them (an aborted
     * transaction refuses every command but ROLLBACK); dropped at the next chance. */
    unsigned *pending;
    size_t npending;
    size_t cap;
};

struct pg_stmt {
    struct db_stmt base;
    unsigned id;
    char **vals;   /* nparams texts, NULL for SQL NULL */
    PGresult *res; /* the run's rows, NULL before the run */
    int nrows;
    int rowi; /* the current row, -1 before the first */
};

static struct pg_db *pg_db(struct db *db)
{
    return (struct pg_db *)db;
}

static struct pg_stmt *pg_stmt(struct db_stmt *st)
{
    return (struct pg_stmt *)st;
}

/* Copies libpq's message to one line: its "\n\t" continuation lines joined as sentences,
 * the final newline dropped. */
static void pg_oneline(char *dst, size_t len, const char *src)
{
    size_t n = 0;
    bool blank = false;
    if (len == 0) {
        return;
    }
    for (const char *p = src; *p != '\0' && n + 1 < len; p++) {
        if (*p == '\n' || *p == '\t' || *p == '\r') {
            blank = n > 0;
            continue;
        }
        if (blank) {
            if (n + 3 >= len) {
                break;
            }
            if (strchr(".:;?! ", dst[n - 1]) == NULL) {
                dst[n++] = '.';
            }
            if (dst[n - 1] != ' ' && n + 1 < len) {
                dst[n++] = ' ';
            }
            blank = false;
        }
        dst[n++] = *p;
    }
    while (n > 0 && dst[n - 1] == ' ') {
        n--;
    }
    dst[n] = '\0';
}

/* Records the failure of a call that returned res (which may be NULL) and maps it. */
static enum db_rc pg_fail(struct pg_db *d, const PGresult *res)
{
    char msg[DB_ERR_MAX];
    if (PQstatus(d->conn) != CONNECTION_OK) {
        pg_oneline(msg, sizeof(msg), PQerrorMessage(d->conn));
        db_set_err(&d->base, "connection to the database lost: %s", msg);
        return DB_ERROR;
    }
    const char *state = res != NULL ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    const char *primary = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_PRIMARY) : NULL;
    const char *detail = res != NULL ? PQresultErrorField(res, PG_DIAG_MESSAGE_DETAIL) : NULL;
    if (primary != NULL) {
        pg_oneline(msg, sizeof(msg), primary);
        if (detail != NULL) {
            char det[DB_ERR_MAX];
            pg_oneline(det, sizeof(det), detail);
            db_set_err(&d->base, "%s: %s", msg, det);
        } else {
            db_set_err(&d->base, "%s", msg);
        }
    } else {
        const char *m = res != NULL ? PQresultErrorMessage(res) : "";
        pg_oneline(msg, sizeof(msg), m[0] != '\0' ? m : PQerrorMessage(d->conn));
        db_set_err(&d->base, "%s", msg[0] != '\0' ? msg : "unknown PostgreSQL error");
    }
    if (state == NULL || strlen(state) != 5) {
        return DB_ERROR;
    }
    if (strncmp(state, "23", 2) == 0) {
        return DB_CONSTRAINT; /* integrity_constraint_violation */
    }
    if (strncmp(state, "53", 2) == 0) {
        return DB_FULL; /* insufficient_resources: disk_full, out_of_memory, ... */
    }
    if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0 || strcmp(state, "55P03") == 0) {
        return DB_BUSY; /* serialization_failure, deadlock_detected, lock_not_available */
    }
    return DB_ERROR;
}

/* Runs sql and keeps only whether it worked. */
static enum db_rc pg_simple(struct pg_db *d, const char *sql)
{
    PGresult *res = PQexec(d->conn, sql);
    ExecStatusType s = PQresultStatus(res);
    enum db_rc rc = DB_OK;
    if (s != PGRES_COMMAND_OK && s != PGRES_TUPLES_OK && s != PGRES_EMPTY_QUERY) {
        rc = pg_fail(d, res);
    }
    PQclear(res);
    return rc;
}

/* db_changes counts what INSERT, UPDATE, DELETE and MERGE changed, as SQLite does; a
 * SELECT's row count (also in PQcmdTuples) is not a change. */
static void pg_note_changes(struct pg_db *d, PGresult *res)
{
    const char *tag = PQcmdStatus(res);
    static const char *const dml[] = {"INSERT ", "UPDATE ", "DELETE ", "MERGE "};
    for (size_t i = 0; i < sizeof(dml) / sizeof(dml[0]); i++) {
        if (strncmp(tag, dml[i], strlen(dml[i])) == 0) {
            d->changes = strtoll(PQcmdTuples(res), NULL, 10);
            return;
        }
    }
}

static bool pg_can_run(struct pg_db *d)
{
    PGTransactionStatusType t = PQtransactionStatus(d->conn);
    return PQstatus(d->conn) == CONNECTION_OK && (t == PQTRANS_IDLE || t == PQTRANS_INTRANS);
}

static void pg_deallocate(struct pg_db *d, unsigned id)
{
    char sql[32];
    snprintf(sql, sizeof(sql), "DEALLOCATE s%u", id);
    PQclear(PQexec(d->conn, sql));
}

static void pg_flush_pending(struct pg_db *d)
{
    if (d->npending == 0 || !pg_can_run(d)) {
        return;
    }
    for (size_t i = 0; i < d->npending; i++) {
        pg_deallocate(d, d->pending[i]);
    }
    d->npending = 0;
}

static void pg_close(struct db *db)
{
    struct pg_db *d = pg_db(db);
    /* Ending the session drops its prepared statements. */
    PQfinish(d->conn);
    free(d->pending);
    free(d);
}

static enum db_rc pg_exec(struct db *db, const char *sql)
{
    struct pg_db *d = pg_db(db);
    pg_flush_pending(d);
    /* The simple query protocol: several statements allowed; PQexec returns the last
     * result, or the first failure. */
    PGresult *res = PQexec(d->conn, sql);
    ExecStatusType s = PQresultStatus(res);
    enum db_rc rc = DB_OK;
    if (s == PGRES_COMMAND_OK || s == PGRES_TUPLES_OK) {
        pg_note_changes(d, res);
    } else if (s != PGRES_EMPTY_QUERY) {
        rc = pg_fail(d, res);
    }
    PQclear(res);
    return rc;
}

static enum db_rc pg_begin(struct db *db)
{
    struct pg_db *d = pg_db(db);
    /* PostgreSQL only warns about a nested BEGIN; refuse it as SQLite does. */
    if (PQstatus(d->conn) == CONNECTION_OK && PQtransactionStatus(d->conn) != PQTRANS_IDLE) {
        db_set_err(db, "cannot start a transaction within a transaction");
        return DB_ERROR;
    }
    return pg_simple(d, "BEGIN");
}

static enum db_rc pg_commit(struct db *db)
{
    struct pg_db *d = pg_db(db);
    if (PQstatus(d->conn) == CONNECTION_OK && PQtransactionStatus(d->conn) == PQTRANS_IDLE) {
        db_set_err(db, "cannot commit - no transaction is active");
        return DB_ERROR;
    }
    PGresult *res = PQexec(d->conn, "COMMIT");
    enum db_rc rc = DB_OK;
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        rc = pg_fail(d, res);
    } else if (strcmp(PQcmdStatus(res), "ROLLBACK") == 0) {
        /* COMMIT of a transaction in which a statement failed rolls it back, "successfully". */
        db_set_err(db, "the transaction was rolled back: a statement in it had failed");
        rc = DB_ERROR;
    }
    PQclear(res);
    pg_flush_pending(d);
    return rc;
}

static enum db_rc pg_rollback(struct db *db)
{
    struct pg_db *d = pg_db(db);
    if (PQstatus(d->conn) == CONNECTION_OK && PQtransactionStatus(d->conn) == PQTRANS_IDLE) {
        return DB_OK;
    }
    enum db_rc rc = pg_simple(d, "ROLLBACK");
    pg_flush_pending(d);
    return rc;
}

/* Rewrites '?' to $1..$n outside '...' strings, "..." identifiers, -- and (nested) block
 * comments. Sets *n to the count and *empty when sql holds nothing but blanks, ';' and
 * comments. NULL when out of memory. */
static char *pg_rewrite(const char *sql, int *n, bool *empty)
{
    size_t len = strlen(sql);
    size_t marks = 0;
    for (const char *p = sql; *p != '\0'; p++) {
        marks += *p == '?';
    }
    /* Each '?' grows to at most "$65536" (more are refused by the caller). */
    size_t size = len + 5 * marks + 1;
    char *out = malloc(size);
    if (out == NULL) {
        return NULL;
    }
    enum { CODE, SQUOTE, DQUOTE, LINE, BLOCK } state = CODE;
    int depth = 0;
    size_t o = 0;
    *n = 0;
    *empty = true;
    for (size_t i = 0; i < len; i++) {
        char c = sql[i];
        char next = sql[i + 1];
        switch (state) {
        case CODE:
            if (c == '-' && next == '-') {
                state = LINE;
            } else if (c == '/' && next == '*') {
                state = BLOCK;
                depth = 1;
                out[o++] = c;
                c = sql[++i];
            } else if (c == '?' && *n <= PG_MAX_PARAMS) {
                (*n)++;
                o += (size_t)snprintf(out + o, size - o, "$%d", *n);
                *empty = false;
                continue;
            } else if (strchr(" \t\r\n\f;", c) == NULL) {
                *empty = false;
                if (c == '\'') {
                    state = SQUOTE;
                } else if (c == '"') {
                    state = DQUOTE;
                }
            }
            break;
        case SQUOTE:
            /* A doubled '' closes and reopens: the same as staying inside. */
            if (c == '\'') {
                state = CODE;
            }
            break;
        case DQUOTE:
            if (c == '"') {
                state = CODE;
            }
            break;
        case LINE:
            if (c == '\n') {
                state = CODE;
            }
            break;
        case BLOCK:
            if (c == '/' && next == '*') {
                depth++;
                out[o++] = c;
                c = sql[++i];
            } else if (c == '*' && next == '/') {
                out[o++] = c;
                c = sql[++i];
                if (--depth == 0) {
                    state = CODE;
                }
            }
            break;
        }
        out[o++] = c;
    }
    out[o] = '\0';
    return out;
}

static struct db_stmt *pg_prepare(struct db *db, const char *sql)
{
    struct pg_db *d = pg_db(db);
    int n = 0;
    bool empty = true;
    char *q = pg_rewrite(sql, &n, &empty);
    if (q == NULL) {
        db_set_err(db, "out of memory");
        return NULL;
    }
    if (empty || n > PG_MAX_PARAMS) {
        if (empty) {
            db_set_err(db, "no SQL statement to prepare");
        } else {
            db_set_err(db, "more than %d parameters", PG_MAX_PARAMS);
        }
        free(q);
        return NULL;
    }
    struct pg_stmt *st = calloc(1, sizeof(*st));
    char **vals = n > 0 ? calloc((size_t)n, sizeof(*vals)) : NULL;
    if (st == NULL || (n > 0 && vals == NULL)) {
        free(st);
        free(vals);
        free(q);
        db_set_err(db, "out of memory");
        return NULL;
    }
    pg_flush_pending(d);
    char name[16];
    st->id = ++d->next_id;
    snprintf(name, sizeof(name), "s%u", st->id);
    /* No parameter types: the server infers each from where it stands, as for a quoted
     * literal, so a text "1" fits a BIGINT, a DOUBLE PRECISION or a BOOLEAN column. */
    PGresult *res = PQprepare(d->conn, name, q, n, NULL);
    free(q);
    if (PQresultStatus(res) != PGRES_COMMAND_OK) {
        pg_fail(d, res);
        PQclear(res);
        free(vals);
        free(st);
        return NULL;
    }
    PQclear(res);
    st->vals = vals;
    st->base.nparams = n;
    st->rowi = -1;
    return &st->base;
}

static void pg_clear_run(struct pg_stmt *st)
{
    PQclear(st->res);
    st->res = NULL;
    st->nrows = 0;
    st->rowi = -1;
}

static void pg_clear_vals(struct pg_stmt *st)
{
    for (int i = 0; i < st->base.nparams; i++) {
        free(st->vals[i]);
        st->vals[i] = NULL;
    }
}

static void pg_finalize(struct db_stmt *base)
{
    struct pg_stmt *st = pg_stmt(base);
    struct pg_db *d = pg_db(base->db);
    pg_clear_run(st);
    pg_clear_vals(st);
    free(st->vals);
    if (pg_can_run(d)) {
        pg_deallocate(d, st->id);
    } else if (PQstatus(d->conn) == CONNECTION_OK) {
        if (d->npending == d->cap) {
            size_t cap = d->cap == 0 ? 16 : 2 * d->cap;
            unsigned *p = realloc(d->pending, cap * sizeof(*p));
            if (p != NULL) {
                d->pending = p;
                d->cap = cap;
            }
        }
        /* Without room the statement stays until the session ends: harmless. */
        if (d->npending < d->cap) {
            d->pending[d->npending++] = st->id;
        }
    }
    free(st);
}

static enum db_rc pg_set_val(struct db_stmt *base, int idx, char *v)
{
    struct pg_stmt *st = pg_stmt(base);
    if (v == NULL) {
        db_set_err(base->db, "out of memory");
        return DB_ERROR;
    }
    free(st->vals[idx - 1]);
    st->vals[idx - 1] = v;
    return DB_OK;
}

static enum db_rc pg_bind_int64(struct db_stmt *st, int idx, int64_t v)
{
    char buf[24];
    snprintf(buf, sizeof(buf), "%lld", (long long)v);
    return pg_set_val(st, idx, strdup(buf));
}

static enum db_rc pg_bind_double(struct db_stmt *st, int idx, double v)
{
    char buf[32];
    /* Spelled so that both float8 and numeric read them back. */
    if (isnan(v)) {
        snprintf(buf, sizeof(buf), "NaN");
    } else if (isinf(v)) {
        snprintf(buf, sizeof(buf), "%sInfinity", v < 0 ? "-" : "");
    } else {
        snprintf(buf, sizeof(buf), "%.17g", v);
    }
    return pg_set_val(st, idx, strdup(buf));
}

static enum db_rc pg_bind_text(struct db_stmt *st, int idx, const char *v)
{
    return pg_set_val(st, idx, strdup(v));
}

static enum db_rc pg_bind_null(struct db_stmt *base, int idx)
{
    struct pg_stmt *st = pg_stmt(base);
    free(st->vals[idx - 1]);
    st->vals[idx - 1] = NULL;
    return DB_OK;
}

static enum db_rc pg_step(struct db_stmt *base)
{
    struct pg_stmt *st = pg_stmt(base);
    struct pg_db *d = pg_db(base->db);
    if (st->res == NULL) {
        char name[16];
        snprintf(name, sizeof(name), "s%u", st->id);
        PGresult *res = PQexecPrepared(d->conn, name, base->nparams, (const char *const *)st->vals,
                                       NULL, NULL, 0);
        ExecStatusType s = PQresultStatus(res);
        if (s == PGRES_COMMAND_OK || s == PGRES_EMPTY_QUERY) {
            pg_note_changes(d, res);
            PQclear(res);
            return DB_DONE;
        }
        if (s != PGRES_TUPLES_OK) {
            enum db_rc rc = pg_fail(d, res);
            PQclear(res);
            return rc;
        }
        pg_note_changes(d, res); /* INSERT ... RETURNING */
        st->res = res;
        st->nrows = PQntuples(res);
        st->rowi = -1;
        base->ncols = PQnfields(res);
    }
    if (st->rowi + 1 < st->nrows) {
        st->rowi++;
        return DB_ROW;
    }
    st->rowi = st->nrows;
    return DB_DONE;
}

static bool pg_col_is_null(struct db_stmt *base, int col)
{
    struct pg_stmt *st = pg_stmt(base);
    return PQgetisnull(st->res, st->rowi, col) != 0;
}

static const char *pg_col_text(struct db_stmt *base, int col)
{
    struct pg_stmt *st = pg_stmt(base);
    if (PQgetisnull(st->res, st->rowi, col)) {
        return NULL;
    }
    return PQgetvalue(st->res, st->rowi, col);
}

static double pg_col_double(struct db_stmt *base, int col)
{
    const char *s = pg_col_text(base, col);
    if (s == NULL) {
        return 0.0;
    }
    /* A boolean reads as SQLite stores it. */
    if (strcmp(s, "t") == 0 || strcmp(s, "f") == 0) {
        return s[0] == 't' ? 1.0 : 0.0;
    }
    return strtod(s, NULL);
}

static int64_t pg_col_int64(struct db_stmt *base, int col)
{
    const char *s = pg_col_text(base, col);
    if (s == NULL) {
        return 0;
    }
    if (strcmp(s, "t") == 0 || strcmp(s, "f") == 0) {
        return s[0] == 't';
    }
    char *end = NULL;
    long long v = strtoll(s, &end, 10);
    if (*end != '.' && *end != 'e' && *end != 'E' && *end != 'I' && *end != 'N') {
        return v;
    }
    /* A float or numeric: truncated toward zero and clamped, as SQLite converts a REAL. */
    double x = strtod(s, NULL);
    if (isnan(x)) {
        return 0;
    }
    if (x >= 9223372036854775807.0) {
        return INT64_MAX;
    }
    if (x <= -9223372036854775808.0) {
        return INT64_MIN;
    }
    return (int64_t)x;
}

static void pg_reset(struct db_stmt *base)
{
    struct pg_stmt *st = pg_stmt(base);
    pg_clear_run(st);
    pg_clear_vals(st);
}

static int64_t pg_changes(struct db *db)
{
    return pg_db(db)->changes;
}

static const struct db_ops pg_ops = {
    .close = pg_close,
    .exec = pg_exec,
    .begin = pg_begin,
    .commit = pg_commit,
    .rollback = pg_rollback,
    .prepare = pg_prepare,
    .finalize = pg_finalize,
    .bind_int64 = pg_bind_int64,
    .bind_double = pg_bind_double,
    .bind_text = pg_bind_text,
    .bind_null = pg_bind_null,
    .step = pg_step,
    .col_is_null = pg_col_is_null,
    .col_int64 = pg_col_int64,
    .col_double = pg_col_double,
    .col_text = pg_col_text,
    .reset = pg_reset,
    .changes = pg_changes,
};

/* ---- opening, and keeping the password out of messages ---- */

/* The URL's secrets: the password of "scheme://user:password@host" and the value of a
 * "password=" query parameter, as [start, end) offsets into the URL. */
struct pg_secrets {
    size_t start[2];
    size_t end[2];
    int n;
};

static void pg_find_secrets(const char *url, struct pg_secrets *sec)
{
    sec->n = 0;
    const char *p = strstr(url, "://");
    if (p == NULL) {
        return;
    }
    p += 3;
    /* As libpq reads it: user info ends at the first '@' before any '/'. */
    const char *at = p;
    while (*at != '\0' && *at != '@' && *at != '/') {
        at++;
    }
    const char *rest = p;
    if (*at == '@') {
        const char *colon = memchr(p, ':', (size_t)(at - p));
        if (colon != NULL) {
            sec->start[sec->n] = (size_t)(colon + 1 - url);
            sec->end[sec->n] = (size_t)(at - url);
            sec->n++;
        }
        rest = at + 1;
    }
    const char *query = strchr(rest, '?');
    for (const char *k = query; k != NULL && sec->n < 2; k = strchr(k + 1, '&')) {
        if (strncmp(k + 1, "password=", 9) == 0) {
            const char *v = k + 10;
            const char *e = strchr(v, '&');
            sec->start[sec->n] = (size_t)(v - url);
            sec->end[sec->n] = e != NULL ? (size_t)(e - url) : strlen(url);
            sec->n++;
        }
    }
}

/* Appends src[0..n) to dst (of size len, holding *o bytes), truncating. */
static void pg_append(char *dst, size_t len, size_t *o, const char *src, size_t n)
{
    while (n-- > 0 && *o + 1 < len) {
        dst[(*o)++] = *src++;
    }
    dst[*o] = '\0';
}

static void pg_mask_url(const char *url, const struct pg_secrets *sec, char *dst, size_t len)
{
    size_t o = 0;
    size_t from = 0;
    dst[0] = '\0';
    for (int i = 0; i < sec->n; i++) {
        pg_append(dst, len, &o, url + from, sec->start[i] - from);
        pg_append(dst, len, &o, "***", 3);
        from = sec->end[i];
    }
    pg_append(dst, len, &o, url + from, strlen(url + from));
}

/* Replaces in msg every occurrence of secret (n bytes, n > 0). */
static void pg_scrub_one(char *msg, size_t len, const char *secret, size_t n)
{
    char needle[DB_ERR_MAX];
    if (n >= sizeof(needle)) {
        return; /* longer than any message: cannot be quoted whole */
    }
    memcpy(needle, secret, n);
    needle[n] = '\0';
    char out[DB_ERR_MAX];
    size_t o = 0;
    out[0] = '\0';
    const char *p = msg;
    const char *hit;
    while ((hit = strstr(p, needle)) != NULL) {
        pg_append(out, sizeof(out), &o, p, (size_t)(hit - p));
        pg_append(out, sizeof(out), &o, "***", 3);
        p = hit + n;
    }
    pg_append(out, sizeof(out), &o, p, strlen(p));
    snprintf(msg, len, "%s", out);
}

static int pg_hex(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Replaces in msg every occurrence of each secret, as written and percent-decoded: libpq
 * quotes the pieces of a URL it cannot parse, which may be the password. */
static void pg_scrub(char *msg, size_t len, const char *url, const struct pg_secrets *sec)
{
    for (int i = 0; i < sec->n; i++) {
        const char *s = url + sec->start[i];
        size_t n = sec->end[i] - sec->start[i];
        if (n == 0) {
            continue;
        }
        pg_scrub_one(msg, len, s, n);
        char dec[DB_ERR_MAX];
        size_t d = 0;
        for (size_t k = 0; k < n && d < sizeof(dec); k++) {
            int hi = s[k] == '%' && k + 2 < n ? pg_hex(s[k + 1]) : -1;
            int lo = hi >= 0 ? pg_hex(s[k + 2]) : -1;
            if (hi >= 0 && lo >= 0) {
                dec[d++] = (char)(hi * 16 + lo);
                k += 2;
            } else {
                dec[d++] = s[k];
            }
        }
        if (d > 0 && d < sizeof(dec) && (d != n || memcmp(dec, s, n) != 0) &&
            memchr(dec, '\0', d) == NULL) {
            pg_scrub_one(msg, len, dec, d);
        }
    }
}

void db_url_shown(const char *url, char *dst, size_t len)
{
    struct pg_secrets sec;
    pg_find_secrets(url, &sec);
    pg_mask_url(url, &sec, dst, len);
}

struct db *db_pg_open(const char *url, int busy_timeout_ms, char *err, size_t errlen)
{
    struct pg_secrets sec;
    pg_find_secrets(url, &sec);
    char shown[DB_ERR_MAX / 2];
    pg_mask_url(url, &sec, shown, sizeof(shown));

    /* expand_dbname: the URL is read as a whole connection string. */
    const char *const keys[] = {"dbname", "fallback_application_name", NULL};
    const char *const vals[] = {url, "stratum-monitor", NULL};
    PGconn *conn = PQconnectdbParams(keys, vals, 1);
    if (conn == NULL) {
        db_open_err(err, errlen, "cannot connect to %s: out of memory", shown);
        return NULL;
    }
    if (PQstatus(conn) != CONNECTION_OK) {
        char msg[DB_ERR_MAX];
        pg_oneline(msg, sizeof(msg), PQerrorMessage(conn));
        pg_scrub(msg, sizeof(msg), url, &sec);
        db_open_err(err, errlen, "cannot connect to %s: %s", shown, msg);
        PQfinish(conn);
        return NULL;
    }
    struct pg_db *d = calloc(1, sizeof(*d));
    if (d == NULL) {
        PQfinish(conn);
        db_open_err(err, errlen, "cannot connect to %s: out of memory", shown);
        return NULL;
    }
    d->base.ops = &pg_ops;
    d->base.kind = DB_POSTGRES;
    d->conn = conn;
    /* The session as the drivers assume it: text in UTF-8 as SQLite keeps it, backslash
     * not an escape in '...' (pg_rewrite relies on it), doubles that read back exactly,
     * warnings only, and a lock wait bounded as SQLite's busy timeout. */
    char set[320];
    snprintf(set, sizeof(set),
             "SET client_encoding = 'UTF8'; SET standard_conforming_strings = on;"
             " SET extra_float_digits = 3; SET client_min_messages = warning;"
             " SET lock_timeout = %d",
             busy_timeout_ms > 0 ? busy_timeout_ms : 0);
    if (pg_simple(d, set) != DB_OK) {
        db_open_err(err, errlen, "cannot set up the session on %s: %s", shown, d->base.err);
        pg_close(&d->base);
        return NULL;
    }
    return &d->base;
}
