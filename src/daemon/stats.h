/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * stats: the statistics files of ntpd (loopstats, peerstats, sysstats), line for line in
 * ntpd's formats so that existing readers (NTPsec's ntpviz, the awk scripts) take them,
 * and ntpd's file generation sets (filegen: one file per day, week, ... and a link to
 * the current one). It owns the files; the engine decides when a line is due and passes
 * the values and the time of its clock. Engine thread only. Pure helpers (line formats,
 * file names) are separate so that they can be tested with any time.
 */
#ifndef STRATUM_STATS_H
#define STRATUM_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "core/ntp_time.h"
#include "io/log.h"

#define STATS_PATH_MAX 4096
#define STATS_NAME_MAX 256

/* The statistics Stratum writes. */
enum stats_kind { STATS_LOOP = 0, STATS_PEER, STATS_SYS, STATS_KINDS };

/* ntpd's file generation types (ntp.conf(5) filegen ... type). */
enum stats_gen {
    STATS_GEN_NONE = 0, /* one file, NAME */
    STATS_GEN_PID,      /* NAME.#PID, one per run */
    STATS_GEN_DAY,      /* NAME.YYYYMMDD, a new one at midnight UTC (the default) */
    STATS_GEN_WEEK,     /* NAME.YYYYwWW, ISO 8601 week (Monday 00:00 UTC) */
    STATS_GEN_MONTH,    /* NAME.YYYYMM */
    STATS_GEN_YEAR,     /* NAME.YYYY */
    STATS_GEN_AGE,      /* NAME.aSSSSSSSS: every 24 h of running; the uptime it began at */
};

struct stats_filegen {
    char file[STATS_NAME_MAX]; /* name below statsdir ("" = the statistic's name) */
    enum stats_gen type;       /* default STATS_GEN_DAY, as ntpd */
    bool link;                 /* keep NAME as a symlink to the current file (default) */
    bool enabled;              /* `statistics NAME` or `filegen NAME enable` */
};

struct stats_config {
    char dir[STATS_PATH_MAX];  /* statsdir; "" = no statistics files */
    bool on;                   /* enable|disable stats (default on) */
    struct stats_filegen gen[STATS_KINDS];
};

/* Defaults: no directory, every kind disabled, type day with link. */
void stats_config_default(struct stats_config *c);

/* "loopstats", "peerstats", "sysstats". */
const char *stats_kind_name(enum stats_kind k);
/* The kind of a statistic's name. Returns 0, or -1 when Stratum does not write it (a name
 * of ntpd's that we do not know is told apart by stats_name_known). */
int stats_kind_parse(const char *name, enum stats_kind *out);
/* Whether ntpd or NTPsec know the name (clockstats, rawstats, protostats, cryptostats,
 * timingstats, usestats and ours). */
bool stats_name_known(const char *name);
/* "none", "pid", "day", "week", "month", "year", "age". Returns 0 or -1. */
int stats_gen_parse(const char *word, enum stats_gen *out);
const char *stats_gen_name(enum stats_gen g);

/* ---- line formats (pure) -------------------------------------------------------- */

/* A time as the files write it: the Modified Julian Day and the seconds past midnight
 * UTC, truncated to milliseconds. */
struct stats_time {
    int64_t mjd;
    uint32_t day_ms; /* 0 .. 86399999 */
};

/* From a Unix time (any sign; floor division, so times before 1970 work). */
void stats_time_from_timespec(const struct timespec *t, struct stats_time *out);
/* From an NTP timestamp, its era resolved against pivot_unix_sec (core/ntp_time.h): the
 * right day across the 2036 rollover. */
void stats_time_from_ntp(ntp_ts_t t, int64_t pivot_unix_sec, struct stats_time *out);

/* The values of one line of each kind. Seconds unless named otherwise. */
struct stats_loop {
    double offset;     /* the offset of this clock update */
    double freq_ppm;   /* the frequency estimate */
    double jitter;     /* clock jitter (ntpq clk_jitter) */
    double wander_ppm; /* frequency wander (ntpq clk_wander) */
    int tc;            /* time constant, log2 s (the system poll) */
};

struct stats_peer {
    char addr[64];     /* numeric address of the source, no port */
    uint16_t status;   /* the peer status word (mode 6) */
    double offset, delay, dispersion, jitter;
};

/* Counters since the last reset (hourly), in ntpd's order. */
struct stats_sys {
    uint64_t since_reset_s;
    uint64_t received, processed, thisver, oldver, restricted, badformat, badauth,
        declined, limited, kodsent, v1; /* v1: NTPv1 requests (NTPsec's last column) */
};

/* Each writes one line with its newline into buf and returns its length, or 0 when cap
 * is too small. Formats (ntpd 4.2.8 ntp_util.c, NTPsec docs/includes/mon-commands.adoc):
 *   loopstats: MJD S.mmm offset(%.9f) freq_ppm(%.3f) jitter(%.9f) wander_ppm(%.6f) tc
 *   peerstats: MJD S.mmm addr status(%x) offset delay dispersion jitter (%.9f each)
 *   sysstats:  MJD S.mmm since_reset received processed thisver oldver restricted
 *              badformat badauth declined limited kodsent v1 */
size_t stats_format_loop(char *buf, size_t cap, const struct stats_time *t,
                         const struct stats_loop *v);
size_t stats_format_peer(char *buf, size_t cap, const struct stats_time *t,
                         const struct stats_peer *v);
size_t stats_format_sys(char *buf, size_t cap, const struct stats_time *t,
                        const struct stats_sys *v);

/* The suffix of a generation's file name (".20250107", ".2025w02", ".#1234", ...; "" for
 * none) at Unix time `now`, uptime_s into the run, for process pid. Returns 0 or -1. */
int stats_gen_suffix(enum stats_gen g, const struct timespec *now, int64_t uptime_s, long pid,
                     char *buf, size_t cap);

/* ---- the files ----------------------------------------------------------------- */

struct stats_file {
    int fd;                    /* -1: not open */
    char path[STATS_PATH_MAX + STATS_NAME_MAX + 32]; /* of the open file */
    int failed;                /* errno of the failure last logged; 0 while all is well
                                * (each failure is logged once, not every line) */
};

struct stats {
    struct stats_config cfg;
    struct stats_file f[STATS_KINDS];
    struct log_limit err_limit; /* open, write and link errors */
    unsigned conflicts;         /* files saved aside from a link's name */
};

/* Takes the configuration (copied). Opens nothing yet: each file opens at its first line,
 * so the directory may appear later. Logs a notice when statistics are enabled but no
 * statsdir is set, and a warning when the directory cannot be used now. */
void stats_init(struct stats *s, const struct stats_config *cfg);
void stats_close(struct stats *s);

/* Whether lines of kind k are written (a directory, `stats` on, the kind enabled). */
bool stats_wants(const struct stats *s, enum stats_kind k);

/* Appends one line of kind k at `now` (this daemon's clock), uptime_s into the run: opens
 * or changes the generation's file first when due (O_APPEND, O_NOFOLLOW, 0644; the link
 * replaced atomically). A failure is logged once, rate-limited; nothing stops. */
void stats_write_loop(struct stats *s, const struct timespec *now, int64_t uptime_s,
                      const struct stats_loop *v);
void stats_write_peer(struct stats *s, const struct timespec *now, int64_t uptime_s,
                      const struct stats_peer *v);
void stats_write_sys(struct stats *s, const struct timespec *now, int64_t uptime_s,
                     const struct stats_sys *v);

#endif
