/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * conf: the stratumd configuration file, in the ntp.conf dialect. Every directive that
 * ntpd or NTPsec knows is parsed; one Stratum does not implement yet is reported as a
 * warning with file:line and ignored; a word no NTP daemon knows is an error. Errors
 * carry file:line, the offending word and what was expected. No global state.
 */
#ifndef STRATUM_CONF_H
#define STRATUM_CONF_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "clock/clock.h"
#include "core/acl.h"
#include "core/netaddr.h"
#include "core/ratelimit.h"
#include "daemon/stats.h"

#define CONF_MAX_LISTEN 32
#define CONF_MAX_SOURCES 64
#define CONF_MAX_INCLUDE_DEPTH 8
#define CONF_MAX_WORKERS 64
#define CONF_PATH_MAX 4096
#define CONF_DEFAULT_PORT 123
#define CONF_DEFAULT_RL_ENTRIES 16384

struct conf_listen {
    struct net_addr addr;       /* family set; bytes zero when wildcard */
    bool wildcard;
    uint16_t port;
};

/* The HTTP listener (`http ADDRESS:PORT`, /metrics and /status.json); off unless set. */
struct conf_http {
    bool enabled;
    struct net_addr addr;       /* numeric; 0.0.0.0 and :: are the wildcards */
    uint16_t port;              /* 1-65535 */
};

enum conf_source_kind { CONF_SRC_SERVER, CONF_SRC_POOL, CONF_SRC_PEER };

enum conf_source_flag {
    CONF_SRC_IBURST = 1u << 0,
    CONF_SRC_BURST = 1u << 1,
    CONF_SRC_PREFER = 1u << 2,
    CONF_SRC_NOSELECT = 1u << 3,
    CONF_SRC_TRUE = 1u << 4,
};

struct conf_source {
    enum conf_source_kind kind;
    char host[256];
    uint16_t port;
    int minpoll;
    int maxpoll;
    unsigned flags;
};

/* Receives each warning ("FILE:LINE: ..."), e.g. to log it. */
typedef void (*conf_warn_fn)(void *arg, const char *msg);

struct conf {
    struct conf_listen listen[CONF_MAX_LISTEN];
    unsigned n_listen;
    struct conf_http http;      /* the last `http` line */
    int local_stratum;          /* 0: not configured */
    enum clk_kind clock;
    struct clk_sim_params sim;
    int workers;
    char pidfile[CONF_PATH_MAX];
    char logfile[CONF_PATH_MAX];
    struct acl acl;
    struct rl_config rl;
    uint32_t rl_entries;
    struct conf_source sources[CONF_MAX_SOURCES];
    unsigned n_sources;
    unsigned n_warnings;
    bool allow_first_step;      /* -g: the first correction may be of any size */
    bool once;                  /* -q: correct once after the first synchronization, exit */
    char driftfile[CONF_PATH_MAX];
    double minsane;             /* tos minsane: truechimers needed to touch the clock (1) */
    double minclock;            /* tos minclock: survivors clustering keeps (3) */
    double maxclock;            /* tos maxclock: addresses a pool keeps (0: 4) */
    double maxdist;             /* tos maxdist, s (1.5) */
    double step_threshold;      /* tinker step, s (0.128; 0: never step) */
    double stepout;             /* tinker stepout, s (900) */
    double panic_threshold;     /* tinker panic, s (1000; 0: no limit) */
    double step_limit;          /* tinker steplimit (ours), s: cap on the sum of steps (0) */
    bool monitor;               /* keep the client list of every source (enable/disable
                                 * monitor; on by default) */
    char control_socket[CONF_PATH_MAX]; /* `control socket PATH` ("": the default, tried
                                         * but not required; "none": no socket) */
    long control_group;         /* `control socket PATH group NAME`: its gid; -1 none */
    char path[CONF_PATH_MAX];   /* the file conf_load_file read (reloads read it again) */
    struct stats_config stats;  /* statsdir, statistics, filegen, enable/disable stats */
    int log_level;              /* loglevel: an enum log_level; -1 when not configured */
    unsigned log_categories;    /* logconfig: LOG_CAT_* logged below warning (all) */
    bool syslog;                /* a `syslog` line: log to syslog unless a log file is set */
    char syslog_socket[CONF_PATH_MAX]; /* its socket ("": /dev/log) */
    int syslog_facility;        /* RFC 5424 facility number (daemon, 3) */

    conf_warn_fn warn;
    void *warn_arg;
};

/* Defaults: no listen entries yet (conf_finish adds the wildcards), clock system,
 * workers 1, rate limiting per RL_DEFAULT_*, everything allowed. */
void conf_init(struct conf *c);

/* Parses a file (and what it includes). Returns 0, or -1 with "FILE:LINE: ..." in err. */
int conf_load_file(struct conf *c, const char *path, char *err, size_t errlen);

/* Parses text as if it were the file `name` (tests, fuzzing); a relative includefile is
 * resolved against the directory part of name, or the current directory when name has
 * none. */
int conf_load_string(struct conf *c, const char *name, const char *text, char *err,
                     size_t errlen);

/* Fills what nothing configured: listen on the wildcards of both families, port 123;
 * orders the ACL. Call once after loading. */
void conf_finish(struct conf *c);

#endif
