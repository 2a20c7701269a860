/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * store: the monitor's inventory and results in its database (db.h: SQLite or
 * PostgreSQL, one schema): devices, sweeps, one result row per device and sweep, the
 * leases that let several monitors share one PostgreSQL (a device is swept by one at a
 * time), retention, and the queries behind report/history/stats. Every write is a
 * transaction: a crash leaves the database as of the last commit.
 */
#ifndef STRATUM_STORE_H
#define STRATUM_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "monitor/db.h"
#include "monitor/mon.h"

#define STORE_SCHEMA_VERSION 1

struct store {
    struct db *db;
    char err[512];
    enum db_rc last_rc; /* of the last failure: DB_BUSY and DB_FULL get their own words */
};

/* Opens (and creates or upgrades) the database at url. Returns 0, or -1 with st->err. */
int store_open(struct store *st, const char *url, char *err, size_t errlen);
void store_close(struct store *st);

/* Adds devices (one transaction: all or none), added at now_ms. On a duplicate host:port
 * or name, -1 and st->err names it; ids are written to devs[i].id. */
int store_add_devices(struct store *st, struct mon_device *devs, size_t n, int64_t now_ms);

/* Removes the device whose name, or host (host:port), is key. Returns 1 removed, 0 no such
 * device, -1 error. Its results go with it. */
int store_remove_device(struct store *st, const char *key);

/* Finds one device by name, host or host:port. Returns 1 found, 0 not, -1 error. */
int store_find_device(struct store *st, const char *key, struct mon_device *out);

/* All devices (of group, when not NULL), by name. *out is malloc'd (free it). */
int store_list_devices(struct store *st, const char *group, struct mon_device **out, size_t *n);

/* Groups with their device counts. */
struct store_group {
    char name[MON_GROUP_LEN];
    int64_t devices;
};
int store_list_groups(struct store *st, struct store_group **out, size_t *n);

/* A sweep: marks sweeps left "running" by a dead monitor (no heartbeat for 60 s) as
 * "interrupted", takes back their leases, and inserts the new sweep. */
int store_begin_sweep(struct store *st, const char *owner, int64_t now_ms, int64_t *sweep_id);

/* Leases to owner, until lease_until_ms, at most limit (0: all) devices (of group when not
 * NULL) that no live monitor holds and nobody has probed since since_ms (the start of the
 * caller's sweep). Called again and again, it hands out a fleet in pieces: several
 * monitors sharing one database split a sweep between them, each device probed by one.
 * *targets is one malloc'd block (the hosts after the array): free it alone; *n = 0 when
 * none is left. */
int store_lease_devices(struct store *st, const char *owner, const char *group,
                        int64_t since_ms, int64_t now_ms, int64_t lease_until_ms, size_t limit,
                        struct mon_target **targets, size_t *n);

/* Writes results (one transaction) and the sweep's heartbeat. */
int store_write_results(struct store *st, int64_t sweep_id, const struct mon_result *r, size_t n,
                        int64_t now_ms);

/* The reference's state during the sweep, as the monitor saw it. */
struct store_reference {
    int synced;     /* 1, 0, -1 unknown */
    double bound;   /* s, |offset| + root distance of the local daemon; NaN unknown */
    char text[160]; /* "stratumd at 127.0.0.1: synchronized, offset bound 0.000412 s" */
};

/* Ends the sweep: "done", the reference, and releases owner's leases. (A sweep stopped
 * early ends with store_release_owner: "interrupted".) */
int store_end_sweep(struct store *st, int64_t sweep_id, const char *owner, int64_t now_ms,
                    const struct store_reference *ref);

/* Takes back what a dead monitor (owner) held: its leases, and its sweeps left running
 * become "interrupted". For a monitor on this machine whose process is gone; others are
 * recognised by their silence (store_begin_sweep). */
int store_release_owner(struct store *st, const char *owner);

/* The owners of sweeps marked running (malloc'd array). */
int store_running_owners(struct store *st, char (**owners)[128], size_t *n);

/* Updates a device's alarmed level (serve). */
int store_set_alarm_level(struct store *st, int64_t device_id, int level);

/* The latest result of every device (of group when not NULL); devices never probed get
 * have[i] = false. *devs, *res, *have are malloc'd in step. */
int store_latest(struct store *st, const char *group, struct mon_device **devs,
                 struct mon_result **res, bool **have, size_t *n);

/* A device's results since since_ms, oldest first (at most limit). */
int store_history(struct store *st, int64_t device_id, int64_t since_ms, size_t limit,
                  struct mon_result **out, size_t *n);

/* The last sweep's row. Returns 1, 0 when there is none, -1. */
struct store_sweep {
    int64_t id, started_ms, finished_ms; /* finished 0 while running / interrupted */
    char state[16];                      /* running, done, interrupted */
    char owner[128];
    int64_t devices;
    struct store_reference ref;
};
int store_last_sweep(struct store *st, struct store_sweep *out);

/* Counts for `stats`: results by status since since_ms, the sweeps, the database size. */
struct store_stats {
    int64_t devices, sweeps, results;
    int64_t by_status[MON_STATUS_COUNT]; /* in the latest results */
    int64_t oldest_ms, newest_ms;        /* of the results kept */
    int64_t db_bytes;                    /* -1 unknown */
};
int store_stats(struct store *st, struct store_stats *out);

/* Deletes results older than before_ms (and sweeps left without any). Returns the number
 * of results deleted, or -1. */
int64_t store_prune(struct store *st, int64_t before_ms);

#endif
