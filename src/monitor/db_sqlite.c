/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * db_sqlite: the SQLite driver of db.h (a file in WAL mode, one connection per db), and
 * the public db_* functions, which check their arguments and the statement's state once
 * for both drivers and then call the driver's table (db_impl.h). db_open picks the driver
 * by the URL's scheme. The PostgreSQL driver lives in db_pg.c.
 */
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <sqlite3.h>

#include "monitor/db_impl.h"

/* ---- shared helpers ---- */

void db_set_err(struct db *db, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(db->err, sizeof(db->err), fmt, ap);
    va_end(ap);
}

void db_open_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* ---- the SQLite driver ---- */

struct sq_db {
    struct db base;
    sqlite3 *h;
    char *path;
};

struct sq_stmt {
    struct db_stmt base;
    sqlite3_stmt *s;
};

static struct sq_db *sq_db(struct db *db)
{
    return (struct sq_db *)db;
}

static struct sq_stmt *sq_stmt(struct db_stmt *st)
{
    return (struct sq_stmt *)st;
}

static enum db_rc sq_map(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_OK:
        return DB_OK;
    case SQLITE_ROW:
        return DB_ROW;
    case SQLITE_DONE:
        return DB_DONE;
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
        return DB_BUSY;
    case SQLITE_FULL:
        return DB_FULL;
    case SQLITE_CONSTRAINT:
        return DB_CONSTRAINT;
    default:
        return DB_ERROR;
    }
}

/* Errors about the file itself name it (and the OS error when SQLite saw one); errors about
 * the SQL are SQLite's message alone. */
static bool sq_is_file_error(int rc)
{
    switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_FULL:
    case SQLITE_IOERR:
    case SQLITE_READONLY:
    case SQLITE_CANTOPEN:
    case SQLITE_CORRUPT:
    case SQLITE_NOTADB:
    case SQLITE_PERM:
        return true;
    default:
        return false;
    }
}

/* The OS error is added when SQLite saw one, except ENOENT: the file exists by then, and an
 * ENOENT comes from a probe for a -journal or -wal file, which misleads. */
static void sq_format_err(char *buf, size_t len, sqlite3 *h, const char *path, int rc)
{
    const char *msg = h != NULL ? sqlite3_errmsg(h) : sqlite3_errstr(rc);
    int sys = h != NULL ? sqlite3_system_errno(h) : 0;
    if (!sq_is_file_error(rc)) {
        snprintf(buf, len, "%s", msg);
    } else if (sys != 0 && sys != ENOENT && (rc & 0xff) != SQLITE_BUSY) {
        snprintf(buf, len, "%s: %s (%s)", path, msg, strerror(sys));
    } else {
        snprintf(buf, len, "%s: %s", path, msg);
    }
}

/* Sets the error from the connection's state after a call failed with rc; returns the code. */
static enum db_rc sq_fail(struct sq_db *d, int rc)
{
    sq_format_err(d->base.err, sizeof(d->base.err), d->h, d->path, rc);
    return sq_map(rc);
}

static void sq_close(struct db *db)
{
    struct sq_db *d = sq_db(db);
    /* sqlite3_close (not _v2) fails with SQLITE_BUSY if a statement was not finalized,
     * which is our caller's bug; the assert catches it in tests. */
    int rc = sqlite3_close(d->h);
    assert(rc == SQLITE_OK);
    (void)rc;
    free(d->path);
    free(d);
}

static enum db_rc sq_exec(struct db *db, const char *sql)
{
    struct sq_db *d = sq_db(db);
    int rc = sqlite3_exec(d->h, sql, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        return sq_fail(d, rc);
    }
    return DB_OK;
}

static enum db_rc sq_begin(struct db *db)
{
    return sq_exec(db, "BEGIN IMMEDIATE");
}

static enum db_rc sq_commit(struct db *db)
{
    return sq_exec(db, "COMMIT");
}

static enum db_rc sq_rollback(struct db *db)
{
    if (sqlite3_get_autocommit(sq_db(db)->h)) {
        return DB_OK;
    }
    return sq_exec(db, "ROLLBACK");
}

/* True if sql holds a statement (not only blanks, ';' and comments). Prepares and drops it. */
static int sq_has_statement(sqlite3 *h, const char *sql, bool *found)
{
    sqlite3_stmt *s = NULL;
    int rc = sqlite3_prepare_v2(h, sql, -1, &s, NULL);
    *found = s != NULL;
    sqlite3_finalize(s);
    return rc;
}

static struct db_stmt *sq_prepare(struct db *db, const char *sql)
{
    struct sq_db *d = sq_db(db);
    sqlite3_stmt *s = NULL;
    const char *tail = NULL;
    int rc = sqlite3_prepare_v2(d->h, sql, -1, &s, &tail);
    if (rc != SQLITE_OK) {
        sq_fail(d, rc);
        return NULL;
    }
    if (s == NULL) {
        db_set_err(db, "no SQL statement to prepare");
        return NULL;
    }
    /* One statement only, as PostgreSQL's prepared statements: SQLite would silently drop
     * the rest. */
    bool more = false;
    rc = sq_has_statement(d->h, tail, &more);
    if (rc != SQLITE_OK || more) {
        sqlite3_finalize(s);
        if (rc != SQLITE_OK) {
            sq_fail(d, rc);
        } else {
            db_set_err(db, "cannot prepare more than one statement at once");
        }
        return NULL;
    }
    struct sq_stmt *st = calloc(1, sizeof(*st));
    if (st == NULL) {
        sqlite3_finalize(s);
        db_set_err(db, "out of memory");
        return NULL;
    }
    st->s = s;
    st->base.nparams = sqlite3_bind_parameter_count(s);
    st->base.ncols = sqlite3_column_count(s);
    return &st->base;
}

static void sq_finalize(struct db_stmt *st)
{
    sqlite3_finalize(sq_stmt(st)->s);
    free(st);
}

static enum db_rc sq_bound(struct db_stmt *st, int rc)
{
    if (rc != SQLITE_OK) {
        return sq_fail(sq_db(st->db), rc);
    }
    return DB_OK;
}

static enum db_rc sq_bind_int64(struct db_stmt *st, int idx, int64_t v)
{
    return sq_bound(st, sqlite3_bind_int64(sq_stmt(st)->s, idx, v));
}

static enum db_rc sq_bind_double(struct db_stmt *st, int idx, double v)
{
    return sq_bound(st, sqlite3_bind_double(sq_stmt(st)->s, idx, v));
}

static enum db_rc sq_bind_text(struct db_stmt *st, int idx, const char *v)
{
    return sq_bound(st, sqlite3_bind_text(sq_stmt(st)->s, idx, v, -1, SQLITE_TRANSIENT));
}

static enum db_rc sq_bind_null(struct db_stmt *st, int idx)
{
    return sq_bound(st, sqlite3_bind_null(sq_stmt(st)->s, idx));
}

static enum db_rc sq_step(struct db_stmt *st)
{
    int rc = sqlite3_step(sq_stmt(st)->s);
    if (rc == SQLITE_ROW) {
        st->ncols = sqlite3_data_count(sq_stmt(st)->s);
        return DB_ROW;
    }
    if (rc == SQLITE_DONE) {
        return DB_DONE;
    }
    return sq_fail(sq_db(st->db), rc);
}

static bool sq_col_is_null(struct db_stmt *st, int col)
{
    return sqlite3_column_type(sq_stmt(st)->s, col) == SQLITE_NULL;
}

static int64_t sq_col_int64(struct db_stmt *st, int col)
{
    return sqlite3_column_int64(sq_stmt(st)->s, col);
}

static double sq_col_double(struct db_stmt *st, int col)
{
    return sqlite3_column_double(sq_stmt(st)->s, col);
}

static const char *sq_col_text(struct db_stmt *st, int col)
{
    return (const char *)sqlite3_column_text(sq_stmt(st)->s, col);
}

static void sq_reset(struct db_stmt *st)
{
    /* sqlite3_reset repeats the last step's error, which was reported already. */
    sqlite3_reset(sq_stmt(st)->s);
    sqlite3_clear_bindings(sq_stmt(st)->s);
}

static int64_t sq_changes(struct db *db)
{
    return sqlite3_changes64(sq_db(db)->h);
}

static const struct db_ops sq_ops = {
    .close = sq_close,
    .exec = sq_exec,
    .begin = sq_begin,
    .commit = sq_commit,
    .rollback = sq_rollback,
    .prepare = sq_prepare,
    .finalize = sq_finalize,
    .bind_int64 = sq_bind_int64,
    .bind_double = sq_bind_double,
    .bind_text = sq_bind_text,
    .bind_null = sq_bind_null,
    .step = sq_step,
    .col_is_null = sq_col_is_null,
    .col_int64 = sq_col_int64,
    .col_double = sq_col_double,
    .col_text = sq_col_text,
    .reset = sq_reset,
    .changes = sq_changes,
};

/* Creates path as an empty file of mode 0600 unless it exists: SQLite would create it 0644
 * (less the umask), and gives its -wal and -shm files the database file's mode. An empty
 * file is a valid empty database. */
static bool sq_create_file(const char *path, char *err, size_t errlen)
{
    int fd = open(path, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOCTTY, 0600);
    if (fd >= 0) {
        close(fd);
        return true;
    }
    if (errno == EEXIST) {
        return true;
    }
    int e = errno;
    if (e == ENOENT) {
        /* The directory is what is missing (the file was to be created). */
        const char *slash = strrchr(path, '/');
        int dirlen = slash == NULL ? 1 : (slash == path ? 1 : (int)(slash - path));
        db_open_err(err, errlen, "cannot create %s: directory %.*s does not exist", path, dirlen,
                    slash == NULL ? "." : path);
    } else {
        db_open_err(err, errlen, "cannot create %s: %s", path, strerror(e));
    }
    return false;
}

static struct db *sq_open(const char *path, int busy_timeout_ms, char *err, size_t errlen)
{
    /* ":memory:", "" (a private temporary database) and "file:" URIs are SQLite's to
     * open; the mode is then SQLite's. */
    bool is_file =
        path[0] != '\0' && strcmp(path, ":memory:") != 0 && strncmp(path, "file:", 5) != 0;
    if (is_file && !sq_create_file(path, err, errlen)) {
        return NULL;
    }
    sqlite3 *h = NULL;
    int rc = sqlite3_open_v2(
        path, &h, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, NULL);
    if (rc != SQLITE_OK) {
        char msg[DB_ERR_MAX];
        sq_format_err(msg, sizeof(msg), h, path, rc == SQLITE_NOMEM ? rc : SQLITE_CANTOPEN);
        db_open_err(err, errlen, "cannot open %s", msg);
        sqlite3_close(h);
        return NULL;
    }
    sqlite3_extended_result_codes(h, 1);
    sqlite3_busy_timeout(h, busy_timeout_ms > 0 ? busy_timeout_ms : 0);
    /* WAL: readers never block the writer; synchronous=NORMAL is durable against a crash
     * of the process and consistent (not durable to the last commit) against power loss. */
    static const char *const pragmas = "PRAGMA journal_mode=WAL;"
                                       "PRAGMA synchronous=NORMAL;"
                                       "PRAGMA foreign_keys=ON;";
    rc = sqlite3_exec(h, pragmas, NULL, NULL, NULL);
    if (rc != SQLITE_OK) {
        char msg[DB_ERR_MAX];
        /* Always name the file: here even "file is not a database" is about the file. */
        if (sq_is_file_error(rc)) {
            sq_format_err(msg, sizeof(msg), h, path, rc);
        } else {
            snprintf(msg, sizeof(msg), "%s: %s", path, sqlite3_errmsg(h));
        }
        db_open_err(err, errlen, "cannot open %s", msg);
        sqlite3_close(h);
        return NULL;
    }
    struct sq_db *d = calloc(1, sizeof(*d));
    char *copy = strdup(path);
    if (d == NULL || copy == NULL) {
        free(d);
        free(copy);
        sqlite3_close(h);
        db_open_err(err, errlen, "cannot open %s: out of memory", path);
        return NULL;
    }
    d->base.ops = &sq_ops;
    d->base.kind = DB_SQLITE;
    d->h = h;
    d->path = copy;
    return &d->base;
}

/* ---- the public functions: argument and state checks once, then the driver ---- */

static bool is_pg_url(const char *url)
{
    return strncmp(url, "postgresql://", strlen("postgresql://")) == 0 ||
           strncmp(url, "postgres://", strlen("postgres://")) == 0;
}

struct db *db_open(const char *url, int busy_timeout_ms, char *err, size_t errlen)
{
    db_open_err(err, errlen, "%s", "");
    if (url == NULL) {
        db_open_err(err, errlen, "no database given");
        return NULL;
    }
    if (is_pg_url(url)) {
        return db_pg_open(url, busy_timeout_ms, err, errlen);
    }
    return sq_open(url, busy_timeout_ms, err, errlen);
}

void db_close(struct db *db)
{
    if (db != NULL) {
        db->ops->close(db);
    }
}

enum db_kind db_kind(const struct db *db)
{
    return db->kind;
}

const char *db_errmsg(const struct db *db)
{
    return db->err;
}

enum db_rc db_exec(struct db *db, const char *sql)
{
    db->err[0] = '\0';
    return db->ops->exec(db, sql);
}

enum db_rc db_begin(struct db *db)
{
    db->err[0] = '\0';
    return db->ops->begin(db);
}

enum db_rc db_commit(struct db *db)
{
    db->err[0] = '\0';
    return db->ops->commit(db);
}

enum db_rc db_rollback(struct db *db)
{
    db->err[0] = '\0';
    return db->ops->rollback(db);
}

struct db_stmt *db_prepare(struct db *db, const char *sql)
{
    db->err[0] = '\0';
    struct db_stmt *st = db->ops->prepare(db, sql);
    if (st != NULL) {
        st->db = db;
        st->started = false;
        st->row = false;
        st->end = DB_OK;
    }
    return st;
}

void db_finalize(struct db_stmt *st)
{
    if (st != NULL) {
        st->db->ops->finalize(st);
    }
}

/* A bind is refused once the statement was stepped: SQLite would refuse it (MISUSE), and
 * PostgreSQL would apply it to the next run only; both ways hide a missing db_reset. */
static bool bind_ok(struct db_stmt *st, int idx)
{
    st->db->err[0] = '\0';
    if (st->started) {
        db_set_err(st->db, "cannot bind parameter %d: statement was stepped and not reset", idx);
        return false;
    }
    if (idx < 1 || idx > st->nparams) {
        db_set_err(st->db, "cannot bind parameter %d: the statement has %d", idx, st->nparams);
        return false;
    }
    return true;
}

enum db_rc db_bind_int64(struct db_stmt *st, int idx, int64_t v)
{
    if (!bind_ok(st, idx)) {
        return DB_ERROR;
    }
    return st->db->ops->bind_int64(st, idx, v);
}

enum db_rc db_bind_double(struct db_stmt *st, int idx, double v)
{
    if (!bind_ok(st, idx)) {
        return DB_ERROR;
    }
    return st->db->ops->bind_double(st, idx, v);
}

enum db_rc db_bind_text(struct db_stmt *st, int idx, const char *v)
{
    if (!bind_ok(st, idx)) {
        return DB_ERROR;
    }
    if (v == NULL) {
        return st->db->ops->bind_null(st, idx);
    }
    return st->db->ops->bind_text(st, idx, v);
}

enum db_rc db_bind_null(struct db_stmt *st, int idx)
{
    if (!bind_ok(st, idx)) {
        return DB_ERROR;
    }
    return st->db->ops->bind_null(st, idx);
}

enum db_rc db_step(struct db_stmt *st)
{
    /* Once ended, stay ended until db_reset: SQLite would silently run the statement
     * again, PostgreSQL would not. */
    if (st->end != DB_OK) {
        return st->end;
    }
    st->db->err[0] = '\0';
    enum db_rc rc = st->db->ops->step(st);
    st->started = true;
    st->row = rc == DB_ROW;
    if (rc != DB_ROW) {
        st->end = rc;
    }
    return rc;
}

static bool col_ok(const struct db_stmt *st, int col)
{
    return st->row && col >= 0 && col < st->ncols;
}

bool db_col_is_null(struct db_stmt *st, int col)
{
    return !col_ok(st, col) || st->db->ops->col_is_null(st, col);
}

int64_t db_col_int64(struct db_stmt *st, int col)
{
    return col_ok(st, col) ? st->db->ops->col_int64(st, col) : 0;
}

double db_col_double(struct db_stmt *st, int col)
{
    return col_ok(st, col) ? st->db->ops->col_double(st, col) : 0.0;
}

const char *db_col_text(struct db_stmt *st, int col)
{
    return col_ok(st, col) ? st->db->ops->col_text(st, col) : NULL;
}

void db_reset(struct db_stmt *st)
{
    st->db->ops->reset(st);
    st->started = false;
    st->row = false;
    st->end = DB_OK;
}

int64_t db_changes(struct db *db)
{
    return db->ops->changes(db);
}
