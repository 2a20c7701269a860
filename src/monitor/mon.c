/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * mon: names of statuses, probes and levels, the verdict on a result, durations. Pure.
 */
#include "monitor/mon.h"

#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const status_names[MON_STATUS_COUNT] = {
    "ok", "unreachable", "kod", "unsynchronized", "bad_response",
};
static const char *const probe_names[MON_PROBE_COUNT] = { "ntp", "ntpq" };

const char *mon_status_name(enum mon_status s)
{
    return (unsigned)s < MON_STATUS_COUNT ? status_names[s] : "?";
}

int mon_status_parse(const char *s)
{
    for (int i = 0; i < MON_STATUS_COUNT; i++) {
        if (strcmp(s, status_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

const char *mon_probe_name(enum mon_probe p)
{
    return (unsigned)p < MON_PROBE_COUNT ? probe_names[p] : "?";
}

int mon_probe_parse(const char *s)
{
    for (int i = 0; i < MON_PROBE_COUNT; i++) {
        if (strcmp(s, probe_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

const char *mon_level_name(enum mon_level l)
{
    switch (l) {
    case MON_LEVEL_OK:
        return "ok";
    case MON_LEVEL_WARNING:
        return "warning";
    case MON_LEVEL_CRITICAL:
        return "critical";
    case MON_LEVEL_UNKNOWN:
        break;
    }
    return "unknown";
}

enum mon_level mon_verdict(double warn, double crit, const struct mon_result *r, char *why,
                           size_t whylen)
{
    if (r->status != MON_OK) {
        snprintf(why, whylen, "%s%s%s", mon_status_name(r->status), r->error[0] ? ": " : "",
                 r->error);
        return MON_LEVEL_CRITICAL;
    }
    if (!isfinite(r->offset)) {
        snprintf(why, whylen, "no offset measured");
        return MON_LEVEL_CRITICAL;
    }
    double a = fabs(r->offset);
    if (a > crit) {
        snprintf(why, whylen, "offset %+.6f s beyond %.3f s", r->offset, crit);
        return MON_LEVEL_CRITICAL;
    }
    if (a > warn) {
        snprintf(why, whylen, "offset %+.6f s beyond %.3f s", r->offset, warn);
        return MON_LEVEL_WARNING;
    }
    snprintf(why, whylen, "offset %+.6f s", r->offset);
    return MON_LEVEL_OK;
}

int64_t mon_parse_duration(const char *s)
{
    if (s == NULL || !isdigit((unsigned char)s[0])) {
        return -1;
    }
    char *end;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno != 0 || v > 100ULL * 365 * 86400) {
        return -1;
    }
    int64_t mult = 1;
    if (*end != '\0') {
        switch (*end) {
        case 's':
            mult = 1;
            break;
        case 'm':
            mult = 60;
            break;
        case 'h':
            mult = 3600;
            break;
        case 'd':
            mult = 86400;
            break;
        case 'w':
            mult = 7 * 86400;
            break;
        default:
            return -1;
        }
        if (end[1] != '\0') {
            return -1;
        }
    }
    return (int64_t)v * mult;
}

void mon_result_init(struct mon_result *r, int64_t device_id)
{
    memset(r, 0, sizeof(*r));
    r->device_id = device_id;
    r->status = MON_UNREACHABLE;
    r->offset = r->delay = r->root_distance = r->dev_offset = NAN;
    r->stratum = r->leap = r->dev_synced = -1;
}
