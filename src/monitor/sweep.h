/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sweep: probes a list of devices concurrently, from one thread: names resolved by a
 * small pool of threads first, then requests paced by a token bucket (the rate), at most
 * max_inflight devices at a time, retries that overlap (a try every timeout / tries, each
 * answerable until the device's timeout), a few unconnected UDP sockets in rotation
 * whose answers are matched by (address, port) and then by the probe's nonce or sequence
 * number. Kernel receive timestamps (SO_TIMESTAMPNS) are t4. Completed results are
 * handed to a callback in batches (the store writes them), so a crash loses at most the
 * last batch. Linux.
 */
#ifndef STRATUM_SWEEP_H
#define STRATUM_SWEEP_H

#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "monitor/mon.h"
#include "monitor/probe.h"

struct sweep_opts {
    double timeout;   /* s per device, all its tries (default 1.0) */
    int tries;        /* requests per device, 1..PROBE_MAX_TRIES (default 3) */
    double rate;      /* requests per second, all devices together (default 10000) */
    int max_inflight; /* devices probed at once (default 10000) */
    int sockets;      /* UDP sockets per address family (default 4) */
    int resolvers;    /* threads resolving names (default 16) */
    int family;       /* 0 any, 4, 6: of resolved names */
    size_t batch;     /* results per flush (default 1000); also flushed every 0.5 s */
    /* Called with completed results (time order); returns 0, or -1 to stop the sweep. */
    int (*flush)(void *ctx, const struct mon_result *r, size_t n);
    /* Called about ten times a second: done of total. */
    void (*progress)(void *ctx, size_t done, size_t total);
    void *ctx;
    /* When it becomes non-zero the sweep sends nothing more, flushes what is complete,
     * and returns (SIGTERM, SIGINT). */
    volatile sig_atomic_t *stop;
};

struct sweep_stats {
    size_t devices, completed;
    size_t by_status[MON_STATUS_COUNT];
    uint64_t sent, received, send_errors;
    uint64_t dropped[PROBE_DROP_COUNT];
    uint64_t unmatched; /* from an address and port we probe nothing at */
    double wall_s;
    bool stopped; /* by *stop or by the flush callback */
};

void sweep_opts_default(struct sweep_opts *o);

/* Probes devs[0 .. n) and writes results[i] for devs[i] (every one of them unless the
 * sweep was stopped: then results[i].time_ms == 0 for those not done). Returns 0, or -1
 * on a failure that stopped the sweep (no socket, out of memory) with a message in err. */
int sweep_run(const struct mon_target *devs, size_t n, const struct sweep_opts *o,
              struct mon_result *results, struct sweep_stats *stats, char *err, size_t errlen);

#endif
