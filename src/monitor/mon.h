/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mon: the fleet monitor's shared vocabulary: a device of the inventory, the result of
 * probing it once, the statuses and the verdict that turns a result into "standard" or
 * not. Pure; owns no storage (store.c) and no sockets (sweep.c).
 */
#ifndef STRATUM_MON_H
#define STRATUM_MON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MON_HOST_LEN 256
#define MON_NAME_LEN 128
#define MON_GROUP_LEN 64
#define MON_REFID_LEN 16
#define MON_PEER_LEN 64
#define MON_ERR_LEN 120

/* Defaults of a device's thresholds (s): beyond warn it is not standard (a warning),
 * beyond crit critical. */
#define MON_DEFAULT_WARN 0.1
#define MON_DEFAULT_CRIT 1.0

enum mon_probe {
    MON_PROBE_NTP = 0, /* an NTP client request: the device's clock against ours */
    MON_PROBE_NTPQ,    /* that, and mode 6 READVAR: the device's own sync state and peer */
    MON_PROBE_COUNT
};

/* What probing a device came to; the order is the database's text (mon_status_name). */
enum mon_status {
    MON_OK = 0,
    MON_UNREACHABLE,    /* no answer (after retries), the name does not resolve, ICMP */
    MON_KOD,            /* a kiss-o'-death */
    MON_UNSYNCHRONIZED, /* leap 3 / stratum 16, or its mode 6 state says so */
    MON_BAD_RESPONSE,   /* answers we cannot use (malformed, impossible times) */
    MON_STATUS_COUNT
};

/* The verdict on a device's latest result (Nagios order: the exit code of `report`). */
enum mon_level {
    MON_LEVEL_OK = 0,
    MON_LEVEL_WARNING = 1,
    MON_LEVEL_CRITICAL = 2,
    MON_LEVEL_UNKNOWN = 3, /* never probed */
};

struct mon_device {
    int64_t id;
    char host[MON_HOST_LEN]; /* a name or a numeric address, without port */
    uint16_t port;
    char name[MON_NAME_LEN];
    char group[MON_GROUP_LEN];
    enum mon_probe probe;
    double warn, crit; /* s */
    int alarm_level;   /* the level last alarmed (serve), enum mon_level; -1 none yet */
};

/* What a sweep needs of a device: compact (the host points into an arena of the list),
 * so 100,000 of them take a few megabytes. */
struct mon_target {
    int64_t id;
    const char *host;
    uint16_t port;
    enum mon_probe probe;
    double warn, crit; /* s */
};

/* One probe of one device in one sweep. Members that were not measured are NaN (doubles)
 * or -1 (integers); strings are "" then. */
struct mon_result {
    int64_t device_id;
    int64_t sweep_id;  /* as read from the store (0 while sweeping) */
    int64_t time_ms;   /* UTC ms, when the answer came (or the probe gave up) */
    enum mon_status status;
    double offset;     /* s, device minus the monitor's clock */
    double delay;      /* s, round trip */
    double root_distance; /* s, the device's own, as announced, plus half our delay */
    int stratum;
    int leap;
    char refid[MON_REFID_LEN];
    /* ntpq probe: what the device says of itself */
    int dev_synced;    /* 1 yes, 0 no, -1 unknown */
    double dev_offset; /* s, its offset to its system peer */
    char dev_peer[MON_PEER_LEN]; /* its system peer's address, "" none */
    char error[MON_ERR_LEN];
};

const char *mon_status_name(enum mon_status s);
/* Parses a status name; -1 if unknown. */
int mon_status_parse(const char *s);
const char *mon_probe_name(enum mon_probe p);
int mon_probe_parse(const char *s);
const char *mon_level_name(enum mon_level l);

/* The verdict: OK within warn, WARNING beyond it, CRITICAL beyond crit or any status but
 * MON_OK. Writes a short reason ("offset +0.412 s beyond 0.100 s") to why. */
enum mon_level mon_verdict(double warn, double crit, const struct mon_result *r, char *why,
                           size_t whylen);

/* "30d", "12h", "90m", "45s", "2w" or a bare number of seconds to seconds; -1 if invalid. */
int64_t mon_parse_duration(const char *s);

/* Resets r to "nothing measured" for device id. */
void mon_result_init(struct mon_result *r, int64_t device_id);

#endif
