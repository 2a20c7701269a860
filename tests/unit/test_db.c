/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of src/monitor/db.h: the same cases against SQLite (a file in a temporary
 * directory, always) and PostgreSQL (when STRATUM_TEST_PG_URL names a database the tests
 * may fill; skipped otherwise), plus each driver's own: WAL and file mode, disk full,
 * a dropped connection, and messages that never show a password. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "monitor/db.h"

struct fx {
    enum db_kind kind;
    char dir[256];
    char url[512];
    struct db *db;
};

static struct fx fx_sqlite = {.kind = DB_SQLITE};
static struct fx fx_pg = {.kind = DB_POSTGRES};

/* Busy timeout of the fixture's connection: short, so the busy case is quick. */
#define BUSY_MS 200

static const char *const drop_tables =
    "DROP TABLE IF EXISTS dbt_child; DROP TABLE IF EXISTS dbt_parent;"
    " DROP TABLE IF EXISTS dbt_items; DROP TABLE IF EXISTS dbt_q;";

static const char *const create_items =
    "CREATE TABLE dbt_items (id BIGINT PRIMARY KEY, x DOUBLE PRECISION, name TEXT,"
    " note TEXT, flag BOOLEAN, n BIGINT NOT NULL DEFAULT 0)";

static void rm_sqlite_files(const char *path)
{
    char p[600];
    unlink(path);
    snprintf(p, sizeof(p), "%s-wal", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-shm", path);
    unlink(p);
    snprintf(p, sizeof(p), "%s-journal", path);
    unlink(p);
}

static int setup(void **state)
{
    struct fx *f = *state;
    char err[256];
    if (f->kind == DB_SQLITE) {
        const char *tmp = getenv("TMPDIR");
        snprintf(f->dir, sizeof(f->dir), "%s/stratum-test-db-XXXXXX",
                 tmp != NULL && tmp[0] != '\0' ? tmp : "/tmp");
        if (mkdtemp(f->dir) == NULL) {
            return -1;
        }
        snprintf(f->url, sizeof(f->url), "%s/monitor.db", f->dir);
    } else {
        const char *url = getenv("STRATUM_TEST_PG_URL");
        if (url == NULL || url[0] == '\0') {
            f->db = NULL;
            return 0; /* each case skips */
        }
        snprintf(f->url, sizeof(f->url), "%s", url);
    }
    f->db = db_open(f->url, BUSY_MS, err, sizeof(err));
    if (f->db == NULL) {
        fprintf(stderr, "db_open(%s): %s\n", f->url, err);
        return -1;
    }
    if (db_exec(f->db, drop_tables) != DB_OK) {
        fprintf(stderr, "drop: %s\n", db_errmsg(f->db));
        return -1;
    }
    return 0;
}

static int teardown(void **state)
{
    struct fx *f = *state;
    if (f->db != NULL) {
        db_rollback(f->db);
        if (f->kind == DB_POSTGRES) {
            db_exec(f->db, drop_tables);
        }
        db_close(f->db);
        f->db = NULL;
    }
    if (f->kind == DB_SQLITE) {
        rm_sqlite_files(f->url);
        rmdir(f->dir);
    }
    return 0;
}

/* The fixture's db, or a skip when PostgreSQL is not configured. */
static struct db *fx_db(void **state)
{
    struct fx *f = *state;
    if (f->db == NULL) {
        skip();
    }
    return f->db;
}

static int64_t count_rows(struct db *db, const char *table)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", table);
    struct db_stmt *st = db_prepare(db, sql);
    assert_non_null(st);
    assert_int_equal(db_step(st), DB_ROW);
    int64_t n = db_col_int64(st, 0);
    assert_int_equal(db_step(st), DB_DONE);
    db_finalize(st);
    return n;
}

static void insert_item(struct db *db, int64_t id, const char *name)
{
    struct db_stmt *st = db_prepare(db, "INSERT INTO dbt_items (id, name) VALUES (?, ?)");
    assert_non_null(st);
    assert_int_equal(db_bind_int64(st, 1, id), DB_OK);
    assert_int_equal(db_bind_text(st, 2, name), DB_OK);
    assert_int_equal(db_step(st), DB_DONE);
    db_finalize(st);
}

/* ---- cases run against both drivers ---- */

static void binds_and_columns(void **state)
{
    struct db *db = fx_db(state);
    assert_int_equal(db_exec(db, create_items), DB_OK);

    struct db_stmt *st =
        db_prepare(db, "INSERT INTO dbt_items (id, x, name, note, flag) VALUES (?, ?, ?, ?, ?)");
    assert_non_null(st);
    const double third = 1.0 / 3.0;
    assert_int_equal(db_bind_int64(st, 1, INT64_MAX), DB_OK);
    assert_int_equal(db_bind_double(st, 2, third), DB_OK);
    char name[] = "h\xc3\xa9llo 'q' ? \"x\"";
    assert_int_equal(db_bind_text(st, 3, name), DB_OK);
    name[0] = 'H'; /* bound text was copied */
    assert_int_equal(db_bind_text(st, 4, NULL), DB_OK);
    assert_int_equal(db_bind_int64(st, 5, 1), DB_OK);
    assert_int_equal(db_step(st), DB_DONE);
    assert_int_equal(db_changes(db), 1);

    db_reset(st);
    assert_int_equal(db_bind_int64(st, 1, INT64_MIN), DB_OK);
    assert_int_equal(db_bind_double(st, 2, -1e-300), DB_OK);
    assert_int_equal(db_bind_null(st, 3), DB_OK);
    assert_int_equal(db_bind_text(st, 4, ""), DB_OK);
    assert_int_equal(db_bind_int64(st, 5, 0), DB_OK);
    assert_int_equal(db_step(st), DB_DONE);

    /* reset clears the bindings: all NULL but the key */
    db_reset(st);
    assert_int_equal(db_bind_int64(st, 1, 7), DB_OK);
    assert_int_equal(db_step(st), DB_DONE);
    db_finalize(st);

    st = db_prepare(db, "SELECT id, x, name, note, flag FROM dbt_items ORDER BY id");
    assert_non_null(st);
    assert_int_equal(db_step(st), DB_ROW);
    assert_true(db_col_int64(st, 0) == INT64_MIN);
    assert_true(db_col_double(st, 1) == -1e-300);
    assert_true(db_col_is_null(st, 2));
    assert_null(db_col_text(st, 2));
    assert_int_equal(db_col_int64(st, 2), 0);
    assert_false(db_col_is_null(st, 3));
    assert_string_equal(db_col_text(st, 3), "");
    assert_int_equal(db_col_int64(st, 4), 0);

    assert_int_equal(db_step(st), DB_ROW);
    assert_int_equal(db_col_int64(st, 0), 7);
    assert_true(db_col_is_null(st, 1));
    assert_true(db_col_double(st, 1) == 0.0);
    assert_true(db_col_is_null(st, 2));
    assert_true(db_col_is_null(st, 4));

    assert_int_equal(db_step(st), DB_ROW);
    assert_true(db_col_int64(st, 0) == INT64_MAX);
    assert_true(db_col_double(st, 1) == third); /* exact round trip */
    assert_string_equal(db_col_text(st, 2), "h\xc3\xa9llo 'q' ? \"x\"");
    assert_true(db_col_is_null(st, 3));
    assert_int_equal(db_col_int64(st, 4), 1); /* PostgreSQL's 't' */
    assert_true(db_col_double(st, 4) == 1.0);
    /* out of range: NULL */
    assert_true(db_col_is_null(st, 5));
    assert_true(db_col_is_null(st, -1));
    assert_null(db_col_text(st, 99));

    assert_int_equal(db_step(st), DB_DONE);
    /* no row: columns read as NULL, and the run stays ended until reset */
    assert_true(db_col_is_null(st, 0));
    assert_int_equal(db_col_int64(st, 0), 0);
    assert_int_equal(db_step(st), DB_DONE);
    db_reset(st);
    assert_int_equal(db_step(st), DB_ROW);
    db_finalize(st);

    /* text read as numbers, numbers as text */
    st = db_prepare(db, "SELECT CAST(? AS TEXT), CAST(? AS TEXT), 42, 2.5");
    assert_non_null(st);
    assert_int_equal(db_bind_text(st, 1, "123"), DB_OK);
    assert_int_equal(db_bind_text(st, 2, "0.25"), DB_OK);
    assert_int_equal(db_step(st), DB_ROW);
    assert_int_equal(db_col_int64(st, 0), 123);
    assert_true(db_col_double(st, 1) == 0.25);
    assert_string_equal(db_col_text(st, 2), "42");
    assert_int_equal(db_col_int64(st, 3), 2);
    assert_true(db_col_double(st, 3) == 2.5);
    db_finalize(st);
}

static void placeholders(void **state)
{
    struct db *db = fx_db(state);
    assert_int_equal(db_exec(db, create_items), DB_OK);
    assert_int_equal(db_exec(db, "CREATE TABLE dbt_q (\"a?b\" BIGINT, c TEXT)"), DB_OK);

    /* '?' inside a string, a quoted identifier and comments is not a placeholder */
    struct db_stmt *st = db_prepare(db, "INSERT INTO dbt_items (id, name, note) /* ? /* ? */ */"
                                        " VALUES (?, 'what?', 'it''s ?') -- ?\n");
    if (st == NULL && db_kind(db) == DB_SQLITE) {
        /* SQLite does not nest block comments: the same without the nesting */
        st = db_prepare(db, "INSERT INTO dbt_items (id, name, note) /* ? */"
                            " VALUES (?, 'what?', 'it''s ?') -- ?\n");
    }
    assert_non_null(st);
    assert_int_equal(db_bind_int64(st, 1, 5), DB_OK);
    assert_int_equal(db_bind_int64(st, 2, 6), DB_ERROR); /* only one placeholder */
    assert_non_null(strstr(db_errmsg(db), "parameter 2"));
    assert_int_equal(db_bind_int64(st, 0, 6), DB_ERROR);
    assert_int_equal(db_step(st), DB_DONE);
    /* binding after a step without reset is refused */
    assert_int_equal(db_bind_int64(st, 1, 9), DB_ERROR);
    db_finalize(st);

    st = db_prepare(db, "INSERT INTO dbt_q (\"a?b\", c) VALUES (?, '?')");
    assert_non_null(st);
    assert_int_equal(db_bind_int64(st, 1, 11), DB_OK);
    assert_int_equal(db_step(st), DB_DONE);
    db_finalize(st);

    st = db_prepare(db, "SELECT name, note, ? FROM dbt_items WHERE name = 'what?' AND id = ?");
    assert_non_null(st);
    assert_int_equal(db_bind_text(st, 1, "third"), DB_OK);
    assert_int_equal(db_bind_int64(st, 2, 5), DB_OK);
    assert_int_equal(db_step(st), DB_ROW);
    assert_string_equal(db_col_text(st, 0), "what?");
    assert_string_equal(db_col_text(st, 1), "it's ?");
    assert_string_equal(db_col_text(st, 2), "third");
    assert_int_equal(db_step(st), DB_DONE);
    db_finalize(st);

    st = db_prepare(db, "SELECT \"a?b\", c FROM dbt_q");
    assert_non_null(st);
    assert_int_equal(db_step(st), DB_ROW);
    assert_int_equal(db_col_int64(st, 0), 11);
    assert_string_equal(db_col_text(st, 1), "?");
    db_finalize(st);

    /* nothing to prepare, two statements, bad SQL: NULL with a message */
    assert_null(db_prepare(db, " ; -- nothing\n"));
    assert_non_null(strstr(db_errmsg(db), "no SQL statement"));
    assert_null(db_prepare(db, "SELECT 1; SELECT 2"));
    assert_true(db_errmsg(db)[0] != '\0');
    assert_null(db_prepare(db, "SELEKT 1"));
    assert_true(db_errmsg(db)[0] != '\0');
    /* a failed prepare leaves the connection usable */
    assert_int_equal(db_exec(db, "SELECT 1"), DB_OK);
    assert_string_equal(db_errmsg(db), "");
}

static void constraints(void **state)
{
    struct db *db = fx_db(state);
    assert_int_equal(db_exec(db, create_items), DB_OK);
    assert_int_equal(db_exec(db, "CREATE TABLE dbt_parent (id BIGINT PRIMARY KEY);"
                                 "CREATE TABLE dbt_child (id BIGINT PRIMARY KEY,"
                                 " parent BIGINT NOT NULL REFERENCES dbt_parent (id),"
                                 " CHECK (id > 0))"),
                     DB_OK);
    insert_item(db, 1, "one");

    struct db_stmt *st = db_prepare(db, "INSERT INTO dbt_items (id, name) VALUES (?, ?)");
    assert_non_null(st);
    assert_int_equal(db_bind_int64(st, 1, 1), DB_OK);
    assert_int_equal(db_bind_text(st, 2, "again"), DB_OK);
    assert_int_equal(db_step(st), DB_CONSTRAINT); /* UNIQUE */
    assert_true(db_errmsg(db)[0] != '\0');
    assert_int_equal(db_step(st), DB_CONSTRAINT); /* ended until reset */
    db_finalize(st);

    assert_int_equal(db_exec(db, "INSERT INTO dbt_items (id, n) VALUES (2, NULL)"),
                     DB_CONSTRAINT); /* NOT NULL */
    assert_int_equal(db_exec(db, "INSERT INTO dbt_child VALUES (1, 99)"),
                     DB_CONSTRAINT); /* FOREIGN KEY: foreign_keys=ON in SQLite */
    assert_int_equal(db_exec(db, "INSERT INTO dbt_parent VALUES (99)"), DB_OK);
    assert_int_equal(db_exec(db, "INSERT INTO dbt_child VALUES (-1, 99)"),
                     DB_CONSTRAINT); /* CHECK */
    assert_int_equal(db_exec(db, "INSERT INTO dbt_child VALUES (1, 99)"), DB_OK);
    assert_int_equal(db_exec(db, "SELEKT"), DB_ERROR);
    assert_int_equal(count_rows(db, "dbt_items"), 1);
}

static void transactions(void **state)
{
    struct db *db = fx_db(state);
    assert_int_equal(db_exec(db, create_items), DB_OK);
    assert_int_equal(db_rollback(db), DB_OK);  /* none open: fine */
    assert_int_equal(db_commit(db), DB_ERROR); /* none open */

    assert_int_equal(db_begin(db), DB_OK);
    assert_int_equal(db_begin(db), DB_ERROR); /* nested */
    insert_item(db, 1, "one");
    insert_item(db, 2, "two");
    assert_int_equal(count_rows(db, "dbt_items"), 2);
    assert_int_equal(db_rollback(db), DB_OK);
    assert_int_equal(count_rows(db, "dbt_items"), 0);

    assert_int_equal(db_begin(db), DB_OK);
    insert_item(db, 3, "three");
    assert_int_equal(db_commit(db), DB_OK);
    assert_int_equal(count_rows(db, "dbt_items"), 1);

    /* a statement prepared and finalized inside a transaction */
    assert_int_equal(db_begin(db), DB_OK);
    insert_item(db, 4, "four");
    assert_int_equal(db_commit(db), DB_OK);
    assert_int_equal(count_rows(db, "dbt_items"), 2);

    /* After a failure in a transaction: rollback, and the connection goes on. */
    assert_int_equal(db_begin(db), DB_OK);
    assert_int_equal(db_exec(db, "INSERT INTO dbt_items (id) VALUES (3)"), DB_CONSTRAINT);
    if (db_kind(db) == DB_POSTGRES) {
        /* PostgreSQL aborted the transaction: COMMIT must not look like success */
        assert_int_equal(db_commit(db), DB_ERROR);
        assert_non_null(strstr(db_errmsg(db), "rolled back"));
    }
    assert_int_equal(db_rollback(db), DB_OK);
    assert_int_equal(count_rows(db, "dbt_items"), 2);
}

static void changes(void **state)
{
    struct db *db = fx_db(state);
    assert_int_equal(db_exec(db, create_items), DB_OK);
    for (int i = 1; i <= 5; i++) {
        insert_item(db, i, "x");
        assert_int_equal(db_changes(db), 1);
    }
    struct db_stmt *st = db_prepare(db, "UPDATE dbt_items SET n = n + 1 WHERE id > ?");
    assert_non_null(st);
    assert_int_equal(db_bind_int64(st, 1, 2), DB_OK);
    assert_int_equal(db_step(st), DB_DONE);
    assert_int_equal(db_changes(db), 3);
    db_finalize(st);

    /* a SELECT is not a change */
    assert_int_equal(count_rows(db, "dbt_items"), 5);
    assert_int_equal(db_changes(db), 3);

    assert_int_equal(db_exec(db, "UPDATE dbt_items SET n = 0 WHERE id = 99"), DB_OK);
    assert_int_equal(db_changes(db), 0);
    assert_int_equal(db_exec(db, "DELETE FROM dbt_items WHERE id <= 4"), DB_OK);
    assert_int_equal(db_changes(db), 4);
    assert_int_equal(db_exec(db, "INSERT INTO dbt_items (id) VALUES (10);"
                                 "INSERT INTO dbt_items (id) SELECT id + 100 FROM dbt_items"),
                     DB_OK);
    assert_int_equal(db_changes(db), 2);
}

static void reopen(void **state)
{
    struct db *db = fx_db(state);
    struct fx *f = *state;
    assert_int_equal(db_exec(db, create_items), DB_OK);
    insert_item(db, 1, "kept");
    db_close(db);
    char err[256];
    f->db = db_open(f->url, BUSY_MS, err, sizeof(err));
    assert_non_null(f->db);
    assert_int_equal(db_kind(f->db), f->kind);
    struct db_stmt *st = db_prepare(f->db, "SELECT name FROM dbt_items WHERE id = ?");
    assert_non_null(st);
    assert_int_equal(db_bind_int64(st, 1, 1), DB_OK);
    assert_int_equal(db_step(st), DB_ROW);
    assert_string_equal(db_col_text(st, 0), "kept");
    db_finalize(st);
}

/* A second connection cannot write while the first holds a write transaction. */
static void busy(void **state)
{
    struct db *db = fx_db(state);
    struct fx *f = *state;
    assert_int_equal(db_exec(db, create_items), DB_OK);
    char err[256];
    struct db *other = db_open(f->url, 50, err, sizeof(err));
    assert_non_null(other);

    assert_int_equal(db_begin(db), DB_OK);
    insert_item(db, 1, "first");
    enum db_rc rc = db_begin(other); /* SQLite: BEGIN IMMEDIATE waits here */
    if (rc == DB_OK) {
        /* PostgreSQL: the same key waits for the first transaction */
        rc = db_exec(other, "INSERT INTO dbt_items (id) VALUES (1)");
    }
    assert_int_equal(rc, DB_BUSY);
    assert_true(db_errmsg(other)[0] != '\0');
    assert_int_equal(db_rollback(other), DB_OK);
    assert_int_equal(db_commit(db), DB_OK);
    assert_int_equal(count_rows(other, "dbt_items"), 1);
    db_close(other);
}

static void many_statements(void **state)
{
    /* Prepared statements are freed on finalize (PostgreSQL: DEALLOCATE), also from an
     * aborted transaction. */
    struct db *db = fx_db(state);
    assert_int_equal(db_exec(db, create_items), DB_OK);
    assert_int_equal(db_begin(db), DB_OK);
    struct db_stmt *st = db_prepare(db, "SELECT 1");
    assert_non_null(st);
    assert_int_equal(db_exec(db, "SELEKT"), DB_ERROR);
    db_finalize(st); /* PostgreSQL: deferred, the transaction refuses DEALLOCATE */
    assert_int_equal(db_rollback(db), DB_OK);
    for (int i = 0; i < 300; i++) {
        st = db_prepare(db, "SELECT ? + 1");
        assert_non_null(st);
        assert_int_equal(db_bind_int64(st, 1, i), DB_OK);
        assert_int_equal(db_step(st), DB_ROW);
        assert_int_equal(db_col_int64(st, 0), i + 1);
        db_finalize(st);
    }
    if (db_kind(db) == DB_POSTGRES) {
        st = db_prepare(db, "SELECT COUNT(*) FROM pg_prepared_statements");
        assert_non_null(st);
        assert_int_equal(db_step(st), DB_ROW);
        assert_int_equal(db_col_int64(st, 0), 1); /* itself */
        db_finalize(st);
    }
}

/* ---- SQLite only ---- */

static void wal_and_mode(void **state)
{
    struct db *db = fx_db(state);
    struct fx *f = *state;
    struct db_stmt *st = db_prepare(db, "PRAGMA journal_mode");
    assert_non_null(st);
    assert_int_equal(db_step(st), DB_ROW);
    assert_string_equal(db_col_text(st, 0), "wal");
    db_finalize(st);
    st = db_prepare(db, "PRAGMA synchronous");
    assert_non_null(st);
    assert_int_equal(db_step(st), DB_ROW);
    assert_int_equal(db_col_int64(st, 0), 1); /* NORMAL */
    db_finalize(st);
    st = db_prepare(db, "PRAGMA foreign_keys");
    assert_non_null(st);
    assert_int_equal(db_step(st), DB_ROW);
    assert_int_equal(db_col_int64(st, 0), 1);
    db_finalize(st);

    assert_int_equal(db_exec(db, create_items), DB_OK);
    insert_item(db, 1, "x");
    struct stat sb;
    assert_int_equal(stat(f->url, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
    char wal[600];
    snprintf(wal, sizeof(wal), "%s-wal", f->url);
    assert_int_equal(stat(wal, &sb), 0);
    assert_int_equal(sb.st_mode & 0777, 0600);
}

static void bad_paths(void **state)
{
    struct fx *f = *state;
    (void)fx_db(state);
    char err[256];
    struct db *db = db_open("/nonexistent-stratum-dir/sub/x.db", 100, err, sizeof(err));
    assert_null(db);
    assert_non_null(strstr(err, "/nonexistent-stratum-dir/sub/x.db"));
    assert_non_null(strstr(err, "does not exist"));

    /* a directory */
    db = db_open(f->dir, 100, err, sizeof(err));
    assert_null(db);
    assert_non_null(strstr(err, f->dir));

    /* a file that is not a database */
    char path[600];
    snprintf(path, sizeof(path), "%s/junk.db", f->dir);
    FILE *fp = fopen(path, "w");
    assert_non_null(fp);
    for (int i = 0; i < 64; i++) {
        fputs("this is not an SQLite database file\n", fp);
    }
    fclose(fp);
    db = db_open(path, 100, err, sizeof(err));
    assert_null(db);
    assert_non_null(strstr(err, path));
    assert_non_null(strstr(err, "not a database"));
    rm_sqlite_files(path);

    /* a too-small errlen is not overrun */
    char tiny[8];
    memset(tiny, 'x', sizeof(tiny));
    assert_null(db_open("/nonexistent-stratum-dir/x.db", 100, tiny, 4));
    assert_int_equal(strlen(tiny), 3);
    assert_int_equal(tiny[4], 'x');
    assert_null(db_open("/nonexistent-stratum-dir/x.db", 100, NULL, 0));
}

static void full(void **state)
{
    struct db *db = fx_db(state);
    struct fx *f = *state;
    assert_int_equal(db_exec(db, create_items), DB_OK);
    assert_int_equal(db_exec(db, "PRAGMA max_page_count = 8"), DB_OK);
    struct db_stmt *st = db_prepare(db, "INSERT INTO dbt_items (id, name) VALUES (?, ?)");
    assert_non_null(st);
    char big[2048];
    memset(big, 'a', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    enum db_rc rc = DB_DONE;
    for (int i = 0; i < 100 && rc == DB_DONE; i++) {
        db_reset(st);
        assert_int_equal(db_bind_int64(st, 1, i), DB_OK);
        assert_int_equal(db_bind_text(st, 2, big), DB_OK);
        rc = db_step(st);
    }
    assert_int_equal(rc, DB_FULL);
    assert_non_null(strstr(db_errmsg(db), f->url));
    db_finalize(st);
}

/* ---- PostgreSQL only ---- */

static void connection_lost(void **state)
{
    struct db *db = fx_db(state);
    struct db_stmt *st = db_prepare(db, "SELECT 1");
    assert_non_null(st);
    /* the server ends this session */
    db_exec(db, "SELECT pg_terminate_backend(pg_backend_pid())");
    assert_int_equal(db_exec(db, "SELECT 1"), DB_ERROR);
    assert_non_null(strstr(db_errmsg(db), "connection to the database lost"));
    assert_int_equal(db_step(st), DB_ERROR);
    assert_int_equal(db_rollback(db), DB_ERROR);
    db_finalize(st);
}

static void lock_timeout(void **state)
{
    struct db *db = fx_db(state);
    struct db_stmt *st = db_prepare(db, "SHOW lock_timeout");
    assert_non_null(st);
    assert_int_equal(db_step(st), DB_ROW);
    char want[32];
    snprintf(want, sizeof(want), "%dms", BUSY_MS);
    assert_string_equal(db_col_text(st, 0), want);
    db_finalize(st);
}

/* No server needed: connections to a closed port fail at once. */
static void pg_password_masked(void **state)
{
    (void)state;
    char err[512];
    static const char *const urls[] = {
        "postgresql://stratum:s3cretPW@127.0.0.1:1/monitor",
        "postgres://stratum:s3cretPW@127.0.0.1:1/monitor?connect_timeout=2",
        "postgresql://127.0.0.1:1/monitor?user=stratum&password=s3cretPW",
        "postgresql://stratum:s3cr%zzPW@127.0.0.1:1/monitor", /* bad escape: libpq quotes it */
        "postgresql://stratum:s3cr%65tPW@127.0.0.1:1/monitor?bogus=1",
    };
    for (size_t i = 0; i < sizeof(urls) / sizeof(urls[0]); i++) {
        struct db *db = db_open(urls[i], 100, err, sizeof(err));
        assert_null(db);
        assert_true(strncmp(err, "cannot connect to postgres", 26) == 0);
        assert_null(strstr(err, "s3cr"));
        assert_null(strstr(err, "cretPW"));
        assert_non_null(strstr(err, "***"));
        assert_null(strchr(err, '\n'));
    }
    assert_null(db_open("postgresql://127.0.0.1:1/monitor", 100, err, sizeof(err)));
    assert_non_null(strstr(err, "127.0.0.1"));
}

/* The same case once per driver, named after it. */
/* clang-format off */
#define ON(drv, f) {#drv "_" #f, f, setup, teardown, &fx_##drv}
/* clang-format on */
#define BOTH(f) ON(sqlite, f), ON(pg, f)

int main(void)
{
    const struct CMUnitTest tests[] = {
        BOTH(binds_and_columns),
        BOTH(placeholders),
        BOTH(constraints),
        BOTH(transactions),
        BOTH(changes),
        BOTH(reopen),
        BOTH(busy),
        BOTH(many_statements),
        ON(sqlite, wal_and_mode),
        ON(sqlite, bad_paths),
        ON(sqlite, full),
        ON(pg, connection_lost),
        ON(pg, lock_timeout),
        cmocka_unit_test(pg_password_masked),
    };
    if (getenv("STRATUM_TEST_PG_URL") == NULL) {
        printf("# PostgreSQL cases skipped: STRATUM_TEST_PG_URL is not set\n");
    }
    return cmocka_run_group_tests(tests, NULL, NULL);
}
