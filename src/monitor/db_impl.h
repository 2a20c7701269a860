/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * db_impl: what the two drivers of db.h share, and nothing the store may see. The public
 * functions live once, in db_sqlite.c: they check arguments and statement state, then call
 * through the driver's table (struct db_ops). Each driver embeds struct db and struct
 * db_stmt as the first member of its own handles.
 */
#ifndef STRATUM_DB_IMPL_H
#define STRATUM_DB_IMPL_H

#include <stdarg.h>

#include "monitor/db.h"

/* A driver. The dispatcher has already checked: st is not NULL, idx is within
 * 1..nparams, the statement is not stepped when bound, col is within 0..ncols-1 and a
 * row is current when a column is read, bind_text gets a non-NULL string. Errors are
 * written with db_set_err before returning the code. */
struct db_ops {
    void (*close)(struct db *db);
    enum db_rc (*exec)(struct db *db, const char *sql);
    enum db_rc (*begin)(struct db *db);
    enum db_rc (*commit)(struct db *db);
    enum db_rc (*rollback)(struct db *db); /* DB_OK when no transaction is open */
    struct db_stmt *(*prepare)(struct db *db, const char *sql);
    void (*finalize)(struct db_stmt *st);
    enum db_rc (*bind_int64)(struct db_stmt *st, int idx, int64_t v);
    enum db_rc (*bind_double)(struct db_stmt *st, int idx, double v);
    enum db_rc (*bind_text)(struct db_stmt *st, int idx, const char *v);
    enum db_rc (*bind_null)(struct db_stmt *st, int idx);
    enum db_rc (*step)(struct db_stmt *st); /* sets st->ncols before returning DB_ROW */
    bool (*col_is_null)(struct db_stmt *st, int col);
    int64_t (*col_int64)(struct db_stmt *st, int col);
    double (*col_double)(struct db_stmt *st, int col);
    const char *(*col_text)(struct db_stmt *st, int col);
    void (*reset)(struct db_stmt *st); /* ends the run and clears the bindings */
    int64_t (*changes)(struct db *db);
};

#define DB_ERR_MAX 512

struct db {
    const struct db_ops *ops;
    enum db_kind kind;
    char err[DB_ERR_MAX]; /* the last error, "" when none */
};

struct db_stmt {
    struct db *db;
    int nparams;    /* placeholders, set by the driver's prepare */
    int ncols;      /* columns of the result, set by the driver */
    bool started;   /* stepped since the last reset */
    bool row;       /* the last step returned DB_ROW */
    enum db_rc end; /* DB_OK while the run may go on; else what ended it, returned again */
};

/* Formats the db's last error message (truncated to DB_ERR_MAX - 1 bytes). */
void db_set_err(struct db *db, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Formats into err (if errlen > 0); for db_open's failures. */
void db_open_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The PostgreSQL driver's open (db_pg.c): url is a postgresql:// or postgres:// URL;
 * busy_timeout_ms > 0 becomes the session's lock_timeout. NULL and a message in err on
 * failure; the message never holds the URL's password. */
struct db *db_pg_open(const char *url, int busy_timeout_ms, char *err, size_t errlen);

#endif
