/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * status: the daemon's state as the observability layers see it: the control protocol
 * (mode 6), the HTTP metrics and status page, the statistics files. Plain data the
 * engine fills (engine thread) at the moment it is asked for; readers on other threads
 * get a copy (status_copy in the HTTP thread). Seconds are seconds, unless a name says
 * otherwise.
 */
#ifndef STRATUM_STATUS_H
#define STRATUM_STATUS_H

#include <stdbool.h>
#include <stdint.h>

#include "core/assoc.h"
#include "core/ctl.h"
#include "core/ntp_time.h"
#include "core/sync.h"
#include "daemon/server.h"

#define STATUS_MAX_PEERS SYNC_MAX_SOURCES

struct status_peer {
    uint16_t associd;
    char host[256];   /* as configured: a name or an address */
    char srcadr[64];  /* numeric address of the server */
    uint16_t srcport;
    char dstadr[64];  /* our address towards it ("" unknown) */
    uint16_t dstport;
    bool pool;        /* a pool member (else `server` or `peer`) */
    uint8_t hmode;    /* our mode towards it: 3 (client) */
    uint8_t pmode;    /* its mode in replies: 4 (server); 0 before any */
    uint8_t leap, stratum;
    int8_t precision; /* of the server's clock, log2 s; 0 unknown */
    int8_t hpoll, ppoll, minpoll, maxpoll;
    uint8_t reach;
    unsigned unreach; /* polls without an answer in a row */
    uint32_t refid;
    double rootdelay, rootdisp;
    ntp_ts_t reftime; /* the server's reference time (0: unknown) */
    ntp_ts_t rec;     /* our clock when its last reply arrived (0: none) */
    ntp_ts_t xmt;     /* our clock when the last request left (0: none) */
    double rootdist;  /* root distance of its latest sample */
    double since_rec; /* s since then; < 0 never */
    double next_poll; /* s until the next request */
    bool have_sample;
    double offset, delay, dispersion, jitter; /* the latest sample and the filter's */
    unsigned n_filt;
    double filt_offset[8], filt_delay[8], filt_disp[8]; /* newest first */
    uint16_t flash;   /* RFC 5905 flash bits of the last reply refused (0: none) */
    enum ctl_sel sel;
    const char *why;  /* why it is not selected, in words; NULL when it is */
    uint16_t status;  /* the peer status word */
    bool prefer, noselect, truechimer, sys_peer;
    struct assoc_counters cnt;
};

struct status_sys {
    uint8_t leap, stratum;
    int8_t precision;
    uint32_t refid;
    ntp_ts_t reftime;
    double rootdelay, rootdisp; /* rootdisp aged to now */
    uint16_t peer;              /* the system peer's associd, 0 none */
    double offset;              /* s, the last system offset the discipline used */
    double frequency;           /* ppm, the frequency estimate */
    double freq_applied;        /* ppm, what the clock runs at now (phase term included) */
    double sys_jitter, clk_jitter;
    double clk_wander;          /* ppm, the frequency estimate's standard error */
    int tc, mintc;              /* poll of the system peer, and the least minpoll, log2 s */
    const char *state;          /* "synchronized", "unsynchronized", "local clock" */
    bool synced;                /* from upstream sources */
    uint16_t status;            /* the system status word */
    double uptime;              /* s since start */
    ntp_ts_t clock;             /* our clock now */
    const char *clock_kind;     /* system, sim, none */
    unsigned clock_steps;
    uint64_t clock_slews;       /* slews (phase adjustments) the clock was given */
    double clock_last_step, clock_total_adjust; /* s */
    double stepped;             /* s, the sum of |steps| the discipline made */
    bool panicked;
    unsigned n_peers;
    char peeradr[80];           /* the system peer as "address:port", "" none */
    uint64_t cnt[CNT_COUNT];    /* the servers' counters, summed over the workers */
    uint64_t cnt_reset[CNT_COUNT]; /* their values at the last hourly reset */
    double reset_age;           /* s since that reset */
    uint32_t clients, client_slots; /* the client list: sources in it, and its size */
};

struct status {
    struct status_sys sys;
    struct status_peer peer[STATUS_MAX_PEERS];
};

#endif
