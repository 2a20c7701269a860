/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sync: the synchronization engine's pure core, shared by stratumd and the simulator.
 * It owns the sources (association + clock filter each), selection of truechimers by
 * interval intersection, the system peer, the clock discipline, the poll policy and the
 * system state served to our own clients (stratum, refid, root delay and dispersion,
 * leap, hold time). I/O, the clock backend and logging are the caller's: it sends the
 * requests this module builds, hands it the replies, and applies the actions it returns.
 * "now" is monotonic seconds passed in; no globals, no allocation.
 */
#ifndef STRATUM_SYNC_H
#define STRATUM_SYNC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "assoc.h"
#include "discipline.h"
#include "filter.h"
#include "srv.h"

#define SYNC_MAX_SOURCES 16
/* Synchronization is held this long without an update before the served state turns
 * unsynchronized (or at least 4 polls of the slowest source). */
#define SYNC_HOLD_S 3600.0

struct sync_config {
    struct discipline_config disc;
    unsigned minsane;           /* truechimers needed before the clock is touched (1) */
    unsigned minclock;          /* clustering keeps at least this many survivors (3) */
    int8_t precision;           /* our clock's, log2 s */
    uint32_t addr_refid;        /* our own address as a refid (loop detection), or 0 */
};

/* What the last selection made of a source (status, ntpq's tally codes). */
enum sync_sel {
    SYNC_SEL_NONE = 0,          /* not considered: no sample, unreachable, noselect, stratum */
    SYNC_SEL_FALSETICKER,       /* outside the intersection */
    SYNC_SEL_OUTLIER,           /* removed by clustering */
    SYNC_SEL_SURVIVOR,          /* a truechimer that survived clustering */
    SYNC_SEL_SYSPEER,           /* the system peer */
};

struct sync_source {
    bool active;                /* false: a free slot (never used, or dropped) */
    unsigned falseticks;        /* selections in a row that found it a falseticker */
    struct assoc as;
    struct filter f;
    uint32_t refid_of_addr;     /* our refid when this source is the system peer */
    bool have;                  /* a sample is available */
    struct filter_out last;     /* the latest sample with the filter's jitter/dispersion */
    double root_delay, root_disp;
    double sample_disp;         /* the latest sample's own dispersion (not the filter's) */
    bool truechimer;
    unsigned good;              /* poll policy: quiet updates in a row */
    /* For status: the server's precision and reference time from its last sample, our
     * clock when that sample arrived, and what the last selection made of the source. */
    int8_t precision;
    ntp_ts_t reftime, rec;
    enum sync_sel sel;
};

struct sync {
    struct sync_config cfg;
    struct discipline disc;
    struct sync_source src[SYNC_MAX_SOURCES];
    unsigned n;
    int sys_peer;               /* index, -1 none */
    bool synced;
    double last_update;         /* monotonic s */
    struct srv_sys sys;         /* served state at the last update */
    unsigned steps;
    bool panicked;
};

enum sync_kind {
    SYNC_ACT_NONE = 0,
    SYNC_ACT_FREQ,
    SYNC_ACT_STEP,
    SYNC_ACT_PANIC,
    SYNC_ACT_STEP_LIMIT,        /* a step of `step` s was refused: the total would pass the
                                 * configured limit; the clock is left alone */
};

struct sync_action {
    enum sync_kind kind;
    double step;                /* s, for STEP: add to the clock, then run at freq_ppm */
    double freq_ppm;            /* FREQ and STEP: the frequency correction to apply */
    double offset;              /* the offset that led to it (for logs) */
};

/* Starts the engine at monotonic now; with have_drift the drift file's frequency is the
 * first estimate (apply sync_freq_ppm() to the clock at start). */
void sync_init(struct sync *s, const struct sync_config *cfg, double now, double drift_ppm,
               bool have_drift);

/* Adds a source in the first free slot. refid_of_addr is its address as a refid (IPv4, or
 * the hash of IPv6). Returns its index, or -1 (table full, or the association config is
 * invalid). Slots are indices below s->n; check sync_active when walking them. */
int sync_add(struct sync *s, const struct assoc_config *ac, uint32_t refid_of_addr,
             double now);

/* Removes source k (a pool member being replaced); its slot is reused by sync_add. */
void sync_drop(struct sync *s, unsigned k);

/* Whether slot k holds a source. */
bool sync_active(const struct sync *s, unsigned k);

/* The earliest monotonic time something is due: a source's request or the discipline's
 * deadline (call sync_tick then). */
double sync_next_due(const struct sync *s);

/* Builds source k's request if it is due (nonce random, t1 our clock now). Returns its
 * length, 0 when not due. */
size_t sync_request(struct sync *s, unsigned k, double now, uint64_t nonce, ntp_ts_t t1,
                    uint8_t *buf, size_t cap);

/* A reply from source k, received at t4 by our clock and at monotonic now. *res (may be
 * NULL) tells what the association made of it. Returns the action for the clock. */
struct sync_action sync_receive(struct sync *s, unsigned k, double now, const uint8_t *buf,
                                size_t len, ntp_ts_t t4, enum assoc_result *res);

/* `stratum ctl step`: step now by the offset still to correct (STEP, or STEP_LIMIT, or
 * NONE before the first update). Like every step, it flushes filters and requests. */
struct sync_action sync_step_now(struct sync *s, double now);

/* At the discipline's deadline (sync_next_due): the action to apply (FREQ or NONE). */
struct sync_action sync_tick(struct sync *s, double now);

/* The served system state at monotonic now: the last update's (stratum = system peer + 1,
 * its refid, accumulated root delay and dispersion, leap) while held, else unsynchronized
 * (leap 3, stratum 16). */
void sync_served(const struct sync *s, double now, struct srv_sys *out);

/* The frequency estimate for the drift file, ppm, and its error. */
double sync_freq_ppm(const struct sync *s);
double sync_skew_ppm(const struct sync *s);

#endif
