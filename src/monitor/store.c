/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * store: the monitor's schema and every statement it runs, written once for both
 * databases (db.h). The few differences (the id column, the database size) are asked of
 * db_kind. Each public function is one transaction, rolled back on any failure.
 */
#include "monitor/store.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Results per multi-row INSERT: 64 rows of 14 parameters, well inside both databases'
 * limits, and a hundredfold fewer statements than one row each. */
#define BATCH_ROWS 64
#define RESULT_PARAMS 14

/* A sweep without a heartbeat for this long belongs to a monitor that died. */
#define DEAD_SWEEP_MS 60000

static const char *schema_sql(enum db_kind k)
{
    /* SQLite's rowid alias must be spelt INTEGER PRIMARY KEY; PostgreSQL wants a sequence. */
    if (k == DB_POSTGRES) {
        return
#define ID_COLUMN "id BIGSERIAL PRIMARY KEY"
#include "monitor/store_schema.inc"
#undef ID_COLUMN
            ;
    }
    return
#define ID_COLUMN "id INTEGER PRIMARY KEY"
#include "monitor/store_schema.inc"
#undef ID_COLUMN
        ;
}

static int fail(struct store *st, enum db_rc rc, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Records why, from the database's message and rc; rolls back. Returns -1. */
static int fail(struct store *st, enum db_rc rc, const char *fmt, ...)
{
    char what[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(what, sizeof(what), fmt, ap);
    va_end(ap);
    const char *msg = db_errmsg(st->db);
    switch (rc) {
    case DB_BUSY:
        snprintf(st->err, sizeof(st->err),
                 "%s: the database is locked by another writer (%s); try again later", what, msg);
        break;
    case DB_FULL:
        snprintf(st->err, sizeof(st->err), "%s: the disk is full (%s); nothing was written", what,
                 msg);
        break;
    default:
        snprintf(st->err, sizeof(st->err), "%s: %s", what, msg);
        break;
    }
    st->last_rc = rc;
    db_rollback(st->db);
    return -1;
}

/* Creates the tables (one transaction). */
static enum db_rc create_schema(struct store *st)
{
    enum db_rc rc = db_begin(st->db);
    if (rc == DB_OK && db_kind(st->db) == DB_POSTGRES) {
        /* Two monitors starting at once on a new database would race in CREATE TABLE IF
         * NOT EXISTS (a unique violation in PostgreSQL's catalog): one at a time. */
        rc = db_exec(st->db, "SELECT pg_advisory_xact_lock(7870513)");
    }
    if (rc == DB_OK) {
        rc = db_exec(st->db, schema_sql(db_kind(st->db)));
    }
    if (rc == DB_OK) {
        rc = db_commit(st->db);
    }
    return rc;
}

/* The schema's version, or -1 when there is none yet. */
static int schema_version(struct store *st)
{
    struct db_stmt *q = db_prepare(st->db, "SELECT value FROM stratum_meta WHERE key = 'schema'");
    int version = -1;
    if (q != NULL && db_step(q) == DB_ROW) {
        version = atoi(db_col_text(q, 0));
    }
    db_finalize(q);
    if (version < 0) {
        db_rollback(st->db); /* PostgreSQL: a failed statement aborts a transaction */
    }
    return version;
}

int store_open(struct store *st, const char *url, char *err, size_t errlen)
{
    memset(st, 0, sizeof(*st));
    st->db = db_open(url, 5000, err, errlen);
    if (st->db == NULL) {
        return -1;
    }
    /* When the schema exists (the usual case) nothing is written, so a reader such as
     * `report` needs neither write permission nor the write lock. */
    int version = schema_version(st);
    if (version < 0) {
        enum db_rc rc = create_schema(st);
        if (rc != DB_OK) {
            fail(st, rc, "cannot create the monitor's tables");
            snprintf(err, errlen, "%s", st->err);
            store_close(st);
            return -1;
        }
        version = schema_version(st);
    }
    /* A newer schema is somebody else's, not ours to write to. */
    if (version > STORE_SCHEMA_VERSION) {
        char shown[400];
        db_url_shown(url, shown, sizeof(shown));
        snprintf(err, errlen, "%s: schema version %d is newer than this stratum's (%d)", shown,
                 version, STORE_SCHEMA_VERSION);
        store_close(st);
        return -1;
    }
    return 0;
}

void store_close(struct store *st)
{
    if (st->db != NULL) {
        db_close(st->db);
        st->db = NULL;
    }
}

/* ---- helpers ---------------------------------------------------------------------------- */

static void bind_opt_double(struct db_stmt *q, int idx, double v)
{
    if (isfinite(v)) {
        db_bind_double(q, idx, v);
    } else {
        db_bind_null(q, idx);
    }
}

static void bind_opt_int(struct db_stmt *q, int idx, int v)
{
    if (v >= 0) {
        db_bind_int64(q, idx, v);
    } else {
        db_bind_null(q, idx);
    }
}

static void bind_opt_text(struct db_stmt *q, int idx, const char *v)
{
    db_bind_text(q, idx, v[0] != '\0' ? v : NULL);
}

static double col_opt_double(struct db_stmt *q, int col)
{
    return db_col_is_null(q, col) ? NAN : db_col_double(q, col);
}

static int col_opt_int(struct db_stmt *q, int col)
{
    return db_col_is_null(q, col) ? -1 : (int)db_col_int64(q, col);
}

static void col_text(struct db_stmt *q, int col, char *dst, size_t cap)
{
    const char *s = db_col_is_null(q, col) ? NULL : db_col_text(q, col);
    snprintf(dst, cap, "%s", s != NULL ? s : "");
}

#define DEV_COLS "d.id, d.host, d.port, d.name, d.grp, d.probe, d.warn_s, d.crit_s, d.alarm_level"
#define DEV_NCOLS 9

static void read_device(struct db_stmt *q, int c, struct mon_device *d)
{
    memset(d, 0, sizeof(*d));
    d->id = db_col_int64(q, c);
    col_text(q, c + 1, d->host, sizeof(d->host));
    d->port = (uint16_t)db_col_int64(q, c + 2);
    col_text(q, c + 3, d->name, sizeof(d->name));
    col_text(q, c + 4, d->group, sizeof(d->group));
    int p = mon_probe_parse(db_col_is_null(q, c + 5) ? "" : db_col_text(q, c + 5));
    d->probe = p < 0 ? MON_PROBE_NTP : (enum mon_probe)p;
    d->warn = db_col_double(q, c + 6);
    d->crit = db_col_double(q, c + 7);
    d->alarm_level = (int)db_col_int64(q, c + 8);
}

#define RES_COLS                                                                                  \
    "r.time_ms, r.status, r.offset_s, r.delay_s, r.root_dist_s, r.stratum, r.leap, r.refid, "     \
    "r.dev_synced, r.dev_offset_s, r.dev_peer, r.error"

static void read_result(struct db_stmt *q, int c, int64_t device_id, struct mon_result *r)
{
    mon_result_init(r, device_id);
    r->time_ms = db_col_int64(q, c);
    int s = mon_status_parse(db_col_is_null(q, c + 1) ? "" : db_col_text(q, c + 1));
    r->status = s < 0 ? MON_BAD_RESPONSE : (enum mon_status)s;
    r->offset = col_opt_double(q, c + 2);
    r->delay = col_opt_double(q, c + 3);
    r->root_distance = col_opt_double(q, c + 4);
    r->stratum = col_opt_int(q, c + 5);
    r->leap = col_opt_int(q, c + 6);
    col_text(q, c + 7, r->refid, sizeof(r->refid));
    r->dev_synced = col_opt_int(q, c + 8);
    r->dev_offset = col_opt_double(q, c + 9);
    col_text(q, c + 10, r->dev_peer, sizeof(r->dev_peer));
    col_text(q, c + 11, r->error, sizeof(r->error));
}

/* Grows a malloc'd array by one element of size sz; NULL on failure (the old one stays). */
static void *grow(void *arr, size_t *cap, size_t n, size_t sz)
{
    if (n < *cap) {
        return arr;
    }
    size_t nc = *cap ? *cap * 2 : 64;
    void *p = realloc(arr, nc * sz);
    if (p != NULL) {
        *cap = nc;
    }
    return p;
}

/* ---- devices ---------------------------------------------------------------------------- */

int store_add_devices(struct store *st, struct mon_device *devs, size_t n, int64_t now_ms)
{
    enum db_rc rc = db_begin(st->db);
    if (rc != DB_OK) {
        return fail(st, rc, "cannot add devices");
    }
    struct db_stmt *q = db_prepare(st->db,
                                   "INSERT INTO device (host, port, name, grp, probe, warn_s, "
                                   "crit_s, added_ms) VALUES (?, ?, ?, ?, ?, ?, ?, ?) RETURNING id");
    if (q == NULL) {
        return fail(st, DB_ERROR, "cannot add devices");
    }
    for (size_t i = 0; i < n; i++) {
        struct mon_device *d = &devs[i];
        db_reset(q);
        db_bind_text(q, 1, d->host);
        db_bind_int64(q, 2, d->port);
        db_bind_text(q, 3, d->name);
        db_bind_text(q, 4, d->group);
        db_bind_text(q, 5, mon_probe_name(d->probe));
        db_bind_double(q, 6, d->warn);
        db_bind_double(q, 7, d->crit);
        db_bind_int64(q, 8, now_ms);
        rc = db_step(q);
        if (rc != DB_ROW) {
            db_finalize(q);
            if (rc == DB_CONSTRAINT) {
                return fail(st, rc, "cannot add %s (%s:%u): a device of that name or address "
                                    "is in the inventory already", d->name, d->host, d->port);
            }
            return fail(st, rc, "cannot add %s", d->name);
        }
        d->id = db_col_int64(q, 0);
        d->alarm_level = -1;
    }
    db_finalize(q);
    rc = db_commit(st->db);
    if (rc != DB_OK) {
        return fail(st, rc, "cannot add devices");
    }
    return 0;
}

/* The WHERE clause that finds a device by name, host, host:port or [v6]:port as list shows
 * it (four parameters, all the key; the port is compared as text so "host:123" matches). */
#define FIND_WHERE                                                                                \
    "(d.name = ? OR d.host = ? OR d.host || ':' || CAST(d.port AS TEXT) = ? OR "                  \
    "'[' || d.host || ']:' || CAST(d.port AS TEXT) = ?)"

int store_find_device(struct store *st, const char *key, struct mon_device *out)
{
    struct db_stmt *q = db_prepare(st->db, "SELECT " DEV_COLS " FROM device d WHERE " FIND_WHERE
                                           " ORDER BY (d.name = ?) DESC, d.id LIMIT 1");
    if (q == NULL) {
        return fail(st, DB_ERROR, "cannot look up %s", key);
    }
    for (int i = 1; i <= 5; i++) {
        db_bind_text(q, i, key);
    }
    enum db_rc rc = db_step(q);
    int found = 0;
    if (rc == DB_ROW) {
        read_device(q, 0, out);
        found = 1;
    } else if (rc != DB_DONE) {
        db_finalize(q);
        return fail(st, rc, "cannot look up %s", key);
    }
    db_finalize(q);
    return found;
}

int store_remove_device(struct store *st, const char *key)
{
    struct mon_device d;
    int f = store_find_device(st, key, &d);
    if (f <= 0) {
        return f;
    }
    enum db_rc rc = db_begin(st->db);
    if (rc != DB_OK) {
        return fail(st, rc, "cannot remove %s", key);
    }
    /* Its results first: one index range, then the device. */
    struct db_stmt *q = db_prepare(st->db, "DELETE FROM result WHERE device_id = ?");
    if (q == NULL) {
        return fail(st, DB_ERROR, "cannot remove %s", key);
    }
    db_bind_int64(q, 1, d.id);
    rc = db_step(q);
    db_finalize(q);
    if (rc != DB_DONE) {
        return fail(st, rc, "cannot remove %s", key);
    }
    q = db_prepare(st->db, "DELETE FROM device WHERE id = ?");
    if (q == NULL) {
        return fail(st, DB_ERROR, "cannot remove %s", key);
    }
    db_bind_int64(q, 1, d.id);
    rc = db_step(q);
    db_finalize(q);
    if (rc != DB_DONE) {
        return fail(st, rc, "cannot remove %s", key);
    }
    rc = db_commit(st->db);
    if (rc != DB_OK) {
        return fail(st, rc, "cannot remove %s", key);
    }
    return 1;
}

/* Steps q (bound) to its end, reading each row with rd into a malloc'd array of elements
 * of size sz; finalizes q. what names the rows in messages. Returns 0, or -1 (rolled back). */
static int read_rows(struct store *st, struct db_stmt *q, size_t sz,
                     void (*rd)(struct db_stmt *q, void *elem), void **out, size_t *n,
                     const char *what)
{
    char *arr = NULL;
    size_t cap = 0, cnt = 0;
    enum db_rc rc;
    while ((rc = db_step(q)) == DB_ROW) {
        char *g = grow(arr, &cap, cnt, sz);
        if (g == NULL) {
            free(arr);
            db_finalize(q);
            snprintf(st->err, sizeof(st->err), "out of memory reading %s", what);
            db_rollback(st->db);
            return -1;
        }
        arr = g;
        rd(q, arr + cnt * sz);
        cnt++;
    }
    db_finalize(q);
    if (rc != DB_DONE) {
        free(arr);
        return fail(st, rc, "cannot read %s", what);
    }
    *out = arr;
    *n = cnt;
    return 0;
}

static void rd_device(struct db_stmt *q, void *elem)
{
    read_device(q, 0, elem);
}

/* Runs q (bound) and reads every row's device columns at 0. */
static int read_devices(struct store *st, struct db_stmt *q, struct mon_device **out, size_t *n)
{
    void *arr = NULL;
    int rc = read_rows(st, q, sizeof(**out), rd_device, &arr, n, "the inventory");
    *out = arr;
    return rc;
}

int store_list_devices(struct store *st, const char *group, struct mon_device **out, size_t *n)
{
    struct db_stmt *q = db_prepare(st->db, group != NULL
                                               ? "SELECT " DEV_COLS " FROM device d WHERE "
                                                 "d.grp = ? ORDER BY d.name"
                                               : "SELECT " DEV_COLS " FROM device d ORDER BY "
                                                 "d.name");
    if (q == NULL) {
        return fail(st, DB_ERROR, "cannot read the inventory");
    }
    if (group != NULL) {
        db_bind_text(q, 1, group);
    }
    return read_devices(st, q, out, n);
}

static void rd_group(struct db_stmt *q, void *elem)
{
    struct store_group *g = elem;
    col_text(q, 0, g->name, sizeof(g->name));
    g->devices = db_col_int64(q, 1);
}

int store_list_groups(struct store *st, struct store_group **out, size_t *n)
{
    struct db_stmt *q =
        db_prepare(st->db, "SELECT grp, COUNT(*) FROM device GROUP BY grp ORDER BY grp");
    if (q == NULL) {
        return fail(st, DB_ERROR, "cannot read the groups");
    }
    void *arr = NULL;
    int rc = read_rows(st, q, sizeof(**out), rd_group, &arr, n, "the groups");
    *out = arr;
    return rc;
}

/* ---- sweeps ----------------------------------------------------------------------------- */

/* Runs one statement with int64/text parameters given as a format: 'i' int64, 't' text.
 * Returns the db_rc of its end (DB_DONE on success). */
static enum db_rc run(struct store *st, const char *sql, const char *fmt, ...)
{
    struct db_stmt *q = db_prepare(st->db, sql);
    if (q == NULL) {
        return DB_ERROR;
    }
    va_list ap;
    va_start(ap, fmt);
    for (int i = 0; fmt[i] != '\0'; i++) {
        if (fmt[i] == 'i') {
            db_bind_int64(q, i + 1, va_arg(ap, int64_t));
        } else {
            db_bind_text(q, i + 1, va_arg(ap, const char *));
        }
    }
    va_end(ap);
    enum db_rc rc;
    while ((rc = db_step(q)) == DB_ROW) {
    }
    db_finalize(q);
    return rc;
}

/* Reads id, host, port, probe, warn, crit rows into one block: the array, then the hosts
 * (pointers fixed up at the end, as the block moves while it grows). */
static int read_targets(struct store *st, struct db_stmt *q, struct mon_target **out, size_t *n)
{
    size_t cnt = 0, cap = 0, text_len = 0, text_cap = 0;
    struct mon_target *arr = NULL;
    char *text = NULL;
    size_t *off = NULL;
    enum db_rc rc;
    bool oom = false;
    while ((rc = db_step(q)) == DB_ROW) {
        if (cnt == cap) {
            size_t nc = cap ? cap * 2 : 256;
            struct mon_target *na = realloc(arr, nc * sizeof(*arr));
            size_t *no = realloc(off, nc * sizeof(*off));
            arr = na ? na : arr;
            off = no ? no : off;
            if (na == NULL || no == NULL) {
                oom = true;
                break;
            }
            cap = nc;
        }
        const char *h = db_col_is_null(q, 1) ? "" : db_col_text(q, 1);
        size_t hl = strnlen(h, MON_HOST_LEN - 1) + 1;
        if (text_len + hl > text_cap) {
            size_t nc = text_cap ? text_cap * 2 : 4096;
            while (nc < text_len + hl) {
                nc *= 2;
            }
            char *nt = realloc(text, nc);
            if (nt == NULL) {
                oom = true;
                break;
            }
            text = nt;
            text_cap = nc;
        }
        memcpy(text + text_len, h, hl - 1);
        text[text_len + hl - 1] = '\0';
        struct mon_target *t = &arr[cnt];
        t->id = db_col_int64(q, 0);
        off[cnt] = text_len;
        text_len += hl;
        t->port = (uint16_t)db_col_int64(q, 2);
        int p = mon_probe_parse(db_col_is_null(q, 3) ? "" : db_col_text(q, 3));
        t->probe = p < 0 ? MON_PROBE_NTP : (enum mon_probe)p;
        t->warn = db_col_double(q, 4);
        t->crit = db_col_double(q, 5);
        cnt++;
    }
    db_finalize(q);
    struct mon_target *block = NULL;
    if (!oom && (rc == DB_DONE)) {
        block = malloc(cnt * sizeof(*arr) + text_len + 1);
        oom = block == NULL;
    }
    if (block != NULL) {
        char *tb = (char *)(block + cnt);
        if (text_len > 0) {
            memcpy(tb, text, text_len);
        }
        for (size_t i = 0; i < cnt; i++) {
            block[i] = arr[i];
            block[i].host = tb + off[i];
        }
    }
    free(arr);
    free(off);
    free(text);
    if (oom) {
        snprintf(st->err, sizeof(st->err), "out of memory reading the inventory");
        db_rollback(st->db);
        return -1;
    }
    if (rc != DB_DONE) {
        return fail(st, rc, "cannot read the inventory");
    }
    *out = block;
    *n = cnt;
    return 0;
}

int store_begin_sweep(struct store *st, const char *owner, int64_t now_ms, int64_t *sweep_id)
{
    enum db_rc rc = db_begin(st->db);
    if (rc != DB_OK) {
        return fail(st, rc, "cannot start a sweep");
    }
    /* A monitor that died (no heartbeat for a minute) leaves its sweep and its leases:
     * both are taken back, so the next sweep probes every device again. */
    rc = run(st, "UPDATE device SET lease_owner = NULL, lease_until_ms = NULL WHERE "
                 "lease_owner IN (SELECT owner FROM sweep WHERE state = 'running' AND "
                 "heartbeat_ms < ?)", "i", now_ms - DEAD_SWEEP_MS);
    if (rc == DB_DONE) {
        rc = run(st, "UPDATE sweep SET state = 'interrupted' WHERE state = 'running' AND "
                     "heartbeat_ms < ?", "i", now_ms - DEAD_SWEEP_MS);
    }
    if (rc != DB_DONE) {
        return fail(st, rc, "cannot start a sweep");
    }
    struct db_stmt *q = db_prepare(st->db, "INSERT INTO sweep (owner, started_ms, heartbeat_ms) "
                                           "VALUES (?, ?, ?) RETURNING id");
    if (q == NULL) {
        return fail(st, DB_ERROR, "cannot start a sweep");
    }
    db_bind_text(q, 1, owner);
    db_bind_int64(q, 2, now_ms);
    db_bind_int64(q, 3, now_ms);
    rc = db_step(q);
    if (rc != DB_ROW) {
        db_finalize(q);
        return fail(st, rc, "cannot start a sweep");
    }
    *sweep_id = db_col_int64(q, 0);
    db_finalize(q);
    rc = db_commit(st->db);
    if (rc != DB_OK) {
        return fail(st, rc, "cannot start a sweep");
    }
    return 0;
}

int store_lease_devices(struct store *st, const char *owner, const char *group,
                        int64_t since_ms, int64_t now_ms, int64_t lease_until_ms, size_t limit,
                        struct mon_target **targets, size_t *n)
{
    /* Devices nobody holds (or whose lease ran out) and that nobody has probed since
     * since_ms, the start of this sweep: its newest result is a seek on the primary key.
     * PostgreSQL: a second monitor skips the rows the first has locked and takes the next
     * ones, instead of waiting for them; SQLite has one writer at a time anyway. */
    char sql[1024];
    snprintf(sql, sizeof(sql),
             "UPDATE device SET lease_owner = ?, lease_until_ms = ? WHERE id IN (SELECT d.id "
             "FROM device d WHERE (d.lease_until_ms IS NULL OR d.lease_until_ms < ?)%s AND "
             "COALESCE((SELECT r.time_ms FROM result r WHERE r.device_id = d.id ORDER BY "
             "r.sweep_id DESC LIMIT 1), 0) < ? ORDER BY d.id LIMIT ?%s) RETURNING id, host, port, "
             "probe, warn_s, crit_s",
             group != NULL ? " AND d.grp = ?" : "",
             db_kind(st->db) == DB_POSTGRES ? " FOR UPDATE SKIP LOCKED" : "");
    enum db_rc rc = db_begin(st->db);
    if (rc != DB_OK) {
        return fail(st, rc, "cannot lease the devices");
    }
    struct db_stmt *q = db_prepare(st->db, sql);
    if (q == NULL) {
        return fail(st, DB_ERROR, "cannot lease the devices");
    }
    int k = 1;
    db_bind_text(q, k++, owner);
    db_bind_int64(q, k++, lease_until_ms);
    db_bind_int64(q, k++, now_ms);
    if (group != NULL) {
        db_bind_text(q, k++, group);
    }
    db_bind_int64(q, k++, since_ms);
    db_bind_int64(q, k++, limit > 0 && limit < (size_t)INT64_MAX ? (int64_t)limit : INT64_MAX);
    if (read_targets(st, q, targets, n) != 0) {
        return -1; /* rolled back */
    }
    rc = db_commit(st->db);
    if (rc != DB_OK) {
        free(*targets);
        *targets = NULL;
        return fail(st, rc, "cannot lease the devices");
    }
    return 0;
}

static void bind_result(struct db_stmt *q, int base, int64_t sweep_id, const struct mon_result *r)
{
    db_bind_int64(q, base + 1, r->device_id);
    db_bind_int64(q, base + 2, sweep_id);
    db_bind_int64(q, base + 3, r->time_ms);
    db_bind_text(q, base + 4, mon_status_name(r->status));
    bind_opt_double(q, base + 5, r->offset);
    bind_opt_double(q, base + 6, r->delay);
    bind_opt_double(q, base + 7, r->root_distance);
    bind_opt_int(q, base + 8, r->stratum);
    bind_opt_int(q, base + 9, r->leap);
    bind_opt_text(q, base + 10, r->refid);
    bind_opt_int(q, base + 11, r->dev_synced);
    bind_opt_double(q, base + 12, r->dev_offset);
    bind_opt_text(q, base + 13, r->dev_peer);
    bind_opt_text(q, base + 14, r->error);
}

/* "INSERT ... VALUES (?, ... ?), ..." for rows rows. */
static char *insert_sql(size_t rows)
{
    static const char head[] = "INSERT INTO result (device_id, sweep_id, time_ms, status, "
                               "offset_s, delay_s, root_dist_s, stratum, leap, refid, "
                               "dev_synced, dev_offset_s, dev_peer, error) VALUES ";
    static const char row[] = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
    size_t len = sizeof(head) + rows * (sizeof(row) + 2);
    char *s = malloc(len);
    if (s == NULL) {
        return NULL;
    }
    size_t off = (size_t)snprintf(s, len, "%s", head);
    for (size_t i = 0; i < rows; i++) {
        off += (size_t)snprintf(s + off, len - off, "%s%s", i ? ", " : "", row);
    }
    return s;
}

int store_write_results(struct store *st, int64_t sweep_id, const struct mon_result *r, size_t n,
                        int64_t now_ms)
{
    enum db_rc rc = db_begin(st->db);
    if (rc != DB_OK) {
        return fail(st, rc, "cannot write results");
    }
    char *sql_batch = insert_sql(BATCH_ROWS);
    char *sql_one = insert_sql(1);
    struct db_stmt *batch = sql_batch ? db_prepare(st->db, sql_batch) : NULL;
    struct db_stmt *one = sql_one ? db_prepare(st->db, sql_one) : NULL;
    free(sql_batch);
    free(sql_one);
    if (batch == NULL || one == NULL) {
        db_finalize(batch);
        db_finalize(one);
        return fail(st, DB_ERROR, "cannot write results");
    }
    size_t i = 0;
    rc = DB_DONE;
    while (i < n && rc == DB_DONE) {
        struct db_stmt *q = n - i >= BATCH_ROWS ? batch : one;
        size_t rows = q == batch ? BATCH_ROWS : 1;
        db_reset(q);
        for (size_t k = 0; k < rows; k++) {
            bind_result(q, (int)(k * RESULT_PARAMS), sweep_id, &r[i + k]);
        }
        rc = db_step(q);
        i += rows;
    }
    db_finalize(batch);
    db_finalize(one);
    if (rc != DB_DONE) {
        return fail(st, rc, "cannot write results");
    }
    rc = run(st, "UPDATE sweep SET heartbeat_ms = ?, devices = devices + ? WHERE id = ?", "iii",
             now_ms, (int64_t)n, sweep_id);
    if (rc != DB_DONE) {
        return fail(st, rc, "cannot write results");
    }
    rc = db_commit(st->db);
    if (rc != DB_OK) {
        return fail(st, rc, "cannot write results");
    }
    return 0;
}

int store_end_sweep(struct store *st, int64_t sweep_id, const char *owner, int64_t now_ms,
                    const struct store_reference *ref)
{
    enum db_rc rc = db_begin(st->db);
    if (rc != DB_OK) {
        return fail(st, rc, "cannot end the sweep");
    }
    struct db_stmt *q = db_prepare(st->db, "UPDATE sweep SET state = 'done', finished_ms = ?, "
                                           "heartbeat_ms = ?, ref_synced = ?, ref_bound_s = ?, "
                                           "ref_text = ? WHERE id = ?");
    if (q == NULL) {
        return fail(st, DB_ERROR, "cannot end the sweep");
    }
    db_bind_int64(q, 1, now_ms);
    db_bind_int64(q, 2, now_ms);
    bind_opt_int(q, 3, ref->synced);
    bind_opt_double(q, 4, ref->bound);
    bind_opt_text(q, 5, ref->text);
    db_bind_int64(q, 6, sweep_id);
    rc = db_step(q);
    db_finalize(q);
    if (rc == DB_DONE) {
        rc = run(st, "UPDATE device SET lease_owner = NULL, lease_until_ms = NULL WHERE "
                     "lease_owner = ?", "t", owner);
    }
    if (rc != DB_DONE) {
        return fail(st, rc, "cannot end the sweep");
    }
    rc = db_commit(st->db);
    if (rc != DB_OK) {
        return fail(st, rc, "cannot end the sweep");
    }
    return 0;
}

int store_release_owner(struct store *st, const char *owner)
{
    enum db_rc rc = db_begin(st->db);
    if (rc == DB_OK) {
        rc = run(st, "UPDATE device SET lease_owner = NULL, lease_until_ms = NULL WHERE "
                     "lease_owner = ?", "t", owner);
    }
    if (rc == DB_DONE) {
        rc = run(st, "UPDATE sweep SET state = 'interrupted' WHERE state = 'running' AND "
                     "owner = ?", "t", owner);
    }
    if (rc == DB_DONE) {
        rc = db_commit(st->db);
    }
    if (rc != DB_OK) {
        return fail(st, rc, "cannot release %s's devices", owner);
    }
    return 0;
}

static void rd_owner(struct db_stmt *q, void *elem)
{
    col_text(q, 0, elem, 128);
}

int store_running_owners(struct store *st, char (**owners)[128], size_t *n)
{
    struct db_stmt *q =
        db_prepare(st->db, "SELECT DISTINCT owner FROM sweep WHERE state = 'running'");
    if (q == NULL) {
        return fail(st, DB_ERROR, "cannot read the sweeps");
    }
    void *arr = NULL;
    int rc = read_rows(st, q, sizeof(**owners), rd_owner, &arr, n, "the sweeps");
    *owners = arr;
    return rc;
}

int store_set_alarm_level(struct store *st, int64_t device_id, int level)
{
    enum db_rc rc = db_begin(st->db);
    if (rc == DB_OK) {
        rc = run(st, "UPDATE device SET alarm_level = ? WHERE id = ?", "ii", (int64_t)level,
                 device_id);
    }
    if (rc == DB_DONE) {
        rc = db_commit(st->db);
    }
    if (rc != DB_OK) {
        return fail(st, rc, "cannot record the alarm");
    }
    return 0;
}

/* ---- reading results ------------------------------------------------------------------- */

int store_latest(struct store *st, const char *group, struct mon_device **devs,
                 struct mon_result **res, bool **have, size_t *n)
{
    /* The newest result of each device: a seek on the primary key (device_id, sweep_id). */
    static const char sql_all[] =
        "SELECT " DEV_COLS ", r.sweep_id, " RES_COLS " FROM device d LEFT JOIN result r ON "
        "r.device_id = d.id AND r.sweep_id = (SELECT MAX(r2.sweep_id) FROM result r2 WHERE "
        "r2.device_id = d.id) ORDER BY d.name";
    static const char sql_grp[] =
        "SELECT " DEV_COLS ", r.sweep_id, " RES_COLS " FROM device d LEFT JOIN result r ON "
        "r.device_id = d.id AND r.sweep_id = (SELECT MAX(r2.sweep_id) FROM result r2 WHERE "
        "r2.device_id = d.id) WHERE d.grp = ? ORDER BY d.name";
    struct db_stmt *q = db_prepare(st->db, group ? sql_grp : sql_all);
    if (q == NULL) {
        return fail(st, DB_ERROR, "cannot read the results");
    }
    if (group != NULL) {
        db_bind_text(q, 1, group);
    }
    struct mon_device *d = NULL;
    struct mon_result *r = NULL;
    bool *h = NULL;
    size_t cd = 0, cr = 0, ch = 0, cnt = 0;
    enum db_rc rc;
    while ((rc = db_step(q)) == DB_ROW) {
        struct mon_device *gd = grow(d, &cd, cnt, sizeof(*d));
        d = gd ? gd : d;
        struct mon_result *gr = grow(r, &cr, cnt, sizeof(*r));
        r = gr ? gr : r;
        bool *gh = grow(h, &ch, cnt, sizeof(*h));
        h = gh ? gh : h;
        if (gd == NULL || gr == NULL || gh == NULL) {
            free(d);
            free(r);
            free(h);
            db_finalize(q);
            snprintf(st->err, sizeof(st->err), "out of memory reading the results");
            return -1;
        }
        read_device(q, 0, &d[cnt]);
        h[cnt] = !db_col_is_null(q, DEV_NCOLS);
        if (h[cnt]) {
            read_result(q, DEV_NCOLS + 1, d[cnt].id, &r[cnt]);
            r[cnt].sweep_id = db_col_int64(q, DEV_NCOLS);
        } else {
            mon_result_init(&r[cnt], d[cnt].id);
        }
        cnt++;
    }
    db_finalize(q);
    if (rc != DB_DONE) {
        free(d);
        free(r);
        free(h);
        return fail(st, rc, "cannot read the results");
    }
    *devs = d;
    *res = r;
    *have = h;
    *n = cnt;
    return 0;
}

static void rd_result(struct db_stmt *q, void *elem)
{
    read_result(q, 0, 0, elem);
}

int store_history(struct store *st, int64_t device_id, int64_t since_ms, size_t limit,
                  struct mon_result **out, size_t *n)
{
    /* The newest `limit` results, returned oldest first. */
    struct db_stmt *q = db_prepare(st->db, "SELECT " RES_COLS " FROM result r WHERE "
                                           "r.device_id = ? AND r.time_ms >= ? ORDER BY "
                                           "r.sweep_id DESC LIMIT ?");
    if (q == NULL) {
        return fail(st, DB_ERROR, "cannot read the history");
    }
    db_bind_int64(q, 1, device_id);
    db_bind_int64(q, 2, since_ms);
    db_bind_int64(q, 3, (int64_t)limit);
    void *rows = NULL;
    size_t cnt = 0;
    if (read_rows(st, q, sizeof(**out), rd_result, &rows, &cnt, "the history") != 0) {
        return -1;
    }
    struct mon_result *arr = rows;
    for (size_t i = 0; i < cnt; i++) {
        arr[i].device_id = device_id;
    }
    for (size_t i = 0; i < cnt / 2; i++) {
        struct mon_result t = arr[i];
        arr[i] = arr[cnt - 1 - i];
        arr[cnt - 1 - i] = t;
    }
    *out = arr;
    *n = cnt;
    return 0;
}

int store_last_sweep(struct store *st, struct store_sweep *out)
{
    memset(out, 0, sizeof(*out));
    struct db_stmt *q = db_prepare(st->db, "SELECT id, started_ms, finished_ms, state, owner, "
                                           "devices, ref_synced, ref_bound_s, ref_text FROM "
                                           "sweep ORDER BY id DESC LIMIT 1");
    if (q == NULL) {
        return fail(st, DB_ERROR, "cannot read the sweeps");
    }
    enum db_rc rc = db_step(q);
    int found = 0;
    if (rc == DB_ROW) {
        out->id = db_col_int64(q, 0);
        out->started_ms = db_col_int64(q, 1);
        out->finished_ms = db_col_int64(q, 2);
        col_text(q, 3, out->state, sizeof(out->state));
        col_text(q, 4, out->owner, sizeof(out->owner));
        out->devices = db_col_int64(q, 5);
        out->ref.synced = col_opt_int(q, 6);
        out->ref.bound = col_opt_double(q, 7);
        col_text(q, 8, out->ref.text, sizeof(out->ref.text));
        found = 1;
    } else if (rc != DB_DONE) {
        db_finalize(q);
        return fail(st, rc, "cannot read the sweeps");
    }
    db_finalize(q);
    return found;
}

static int scalar(struct store *st, const char *sql, int64_t *v)
{
    struct db_stmt *q = db_prepare(st->db, sql);
    if (q == NULL) {
        return fail(st, DB_ERROR, "cannot count");
    }
    enum db_rc rc = db_step(q);
    if (rc != DB_ROW) {
        db_finalize(q);
        return fail(st, rc, "cannot count");
    }
    *v = db_col_int64(q, 0);
    db_finalize(q);
    return 0;
}

int store_stats(struct store *st, struct store_stats *out)
{
    memset(out, 0, sizeof(*out));
    if (scalar(st, "SELECT COUNT(*) FROM device", &out->devices) != 0 ||
        scalar(st, "SELECT COUNT(*) FROM sweep", &out->sweeps) != 0 ||
        scalar(st, "SELECT COUNT(*) FROM result", &out->results) != 0 ||
        scalar(st, "SELECT COALESCE(MIN(time_ms), 0) FROM result", &out->oldest_ms) != 0 ||
        scalar(st, "SELECT COALESCE(MAX(time_ms), 0) FROM result", &out->newest_ms) != 0) {
        return -1;
    }
    const char *size_sql = db_kind(st->db) == DB_POSTGRES
                               ? "SELECT pg_database_size(current_database())"
                               : "SELECT page_count * page_size FROM pragma_page_count(), "
                                 "pragma_page_size()";
    if (scalar(st, size_sql, &out->db_bytes) != 0) {
        out->db_bytes = -1;
    }
    return 0;
}

int64_t store_prune(struct store *st, int64_t before_ms)
{
    enum db_rc rc = db_begin(st->db);
    if (rc != DB_OK) {
        fail(st, rc, "cannot prune");
        return -1;
    }
    /* Results go by sweep (indexed), sweeps that started before the limit and are over. */
    struct db_stmt *q = db_prepare(st->db, "DELETE FROM result WHERE sweep_id IN (SELECT id FROM "
                                           "sweep WHERE started_ms < ? AND state <> 'running')");
    if (q == NULL) {
        fail(st, DB_ERROR, "cannot prune");
        return -1;
    }
    db_bind_int64(q, 1, before_ms);
    rc = db_step(q);
    int64_t deleted = db_changes(st->db);
    db_finalize(q);
    if (rc == DB_DONE) {
        rc = run(st, "DELETE FROM sweep WHERE started_ms < ? AND state <> 'running'", "i",
                 before_ms);
    }
    if (rc == DB_DONE) {
        rc = db_commit(st->db);
    }
    if (rc != DB_OK && rc != DB_DONE) {
        fail(st, rc, "cannot prune");
        return -1;
    }
    return deleted;
}
