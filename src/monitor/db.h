/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * db: the monitor's seam to its SQL database. One small interface (open, exec, prepared
 * statements with '?' placeholders, rows, transactions) that two drivers fill in:
 * db_sqlite.c (a file, WAL) and db_pg.c (libpq, a postgresql:// URL). The store
 * (store.c) writes its SQL once, in the dialect both accept, and asks db_kind only for the
 * few statements that differ. Owns no schema and no policy.
 */
#ifndef STRATUM_DB_H
#define STRATUM_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum db_kind {
    DB_SQLITE,
    DB_POSTGRES,
};

/* What a call came to. */
enum db_rc {
    DB_OK = 0,   /* done (exec, bind, begin, commit) */
    DB_ROW,      /* db_step: a row is ready for db_col_* */
    DB_DONE,     /* db_step: no (more) rows */
    DB_ERROR,    /* failed: db_errmsg says why; a transaction in progress must be rolled back */
    DB_BUSY,     /* locked beyond the busy timeout (PostgreSQL also: deadlock, serialization) */
    DB_FULL,     /* disk full or quota (SQLite SQLITE_FULL, PostgreSQL class 53) */
    DB_CONSTRAINT, /* a UNIQUE / NOT NULL / CHECK / FOREIGN KEY constraint failed */
};

struct db;
struct db_stmt;

/* Opens the database named by url: a "postgresql://..." or "postgres://..." URL selects
 * PostgreSQL (libpq's URL syntax; busy_timeout_ms > 0 becomes the session's lock_timeout);
 * anything else is a SQLite file path (created if absent, mode 0600; WAL journal,
 * synchronous=NORMAL, foreign keys on, a busy timeout of busy_timeout_ms). On failure
 * returns NULL and writes a message to err (truncated to errlen; it never shows the URL's
 * password). A db and its statements are for one thread at a time. */
struct db *db_open(const char *url, int busy_timeout_ms, char *err, size_t errlen);
/* url as a log or message may show it: a PostgreSQL URL's passwords (user:PASSWORD@ and
 * password=) replaced by "***"; anything else as it is. Truncated to len. */
void db_url_shown(const char *url, char *dst, size_t len);
void db_close(struct db *db);

enum db_kind db_kind(const struct db *db);

/* The last error's message (never NULL; "" when none). */
const char *db_errmsg(const struct db *db);

/* Runs sql, which may hold several statements separated by ';' and no parameters;
 * rows are discarded. */
enum db_rc db_exec(struct db *db, const char *sql);

/* BEGIN (SQLite: BEGIN IMMEDIATE, so a writer waits for the lock up front), COMMIT,
 * ROLLBACK. Rollback is safe to call when no transaction is open. */
enum db_rc db_begin(struct db *db);
enum db_rc db_commit(struct db *db);
enum db_rc db_rollback(struct db *db);

/* Prepares one statement, sql, with '?' placeholders (numbered 1.. left to right; the
 * PostgreSQL driver rewrites them to $1..$n outside '...' strings, "..." identifiers and
 * comments, and the server infers each one's type from where it stands: write
 * CAST(? AS type) where it cannot, as in "? IS NULL"). Returns NULL on error (db_errmsg);
 * in PostgreSQL that also aborts an open transaction. A statement belongs to its db and
 * must be finalized before db_close. */
struct db_stmt *db_prepare(struct db *db, const char *sql);
void db_finalize(struct db_stmt *st);

/* Binds parameter idx (1-based). Text is copied. Returns DB_OK or DB_ERROR (idx out of
 * range, or the statement was stepped and not reset). */
enum db_rc db_bind_int64(struct db_stmt *st, int idx, int64_t v);
enum db_rc db_bind_double(struct db_stmt *st, int idx, double v);
enum db_rc db_bind_text(struct db_stmt *st, int idx, const char *v); /* NULL binds NULL */
enum db_rc db_bind_null(struct db_stmt *st, int idx);

/* Runs the statement (on the first call after bind/reset) and moves to the next row:
 * DB_ROW, DB_DONE, or an error code. Once DB_DONE or an error, returns it again until
 * db_reset. */
enum db_rc db_step(struct db_stmt *st);

/* Columns of the current row (0-based). A NULL reads as 0, 0.0 or NULL. The text stays
 * valid until the next db_step, db_reset or db_finalize. */
bool db_col_is_null(struct db_stmt *st, int col);
int64_t db_col_int64(struct db_stmt *st, int col);
double db_col_double(struct db_stmt *st, int col);
const char *db_col_text(struct db_stmt *st, int col);

/* Ends the current run (rows not read are dropped) and clears the bindings, so the
 * statement can be bound and stepped again. */
void db_reset(struct db_stmt *st);

/* Rows changed by the last INSERT/UPDATE/DELETE statement stepped to DB_DONE. */
int64_t db_changes(struct db *db);

#endif
