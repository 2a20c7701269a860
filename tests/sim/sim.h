/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sim: a deterministic, seeded, in-process simulator of one NTP client against simulated
 * servers over simulated links. It owns true time, the local clock (frequency error,
 * random-walk wander, steps, the frequency the discipline sets), the servers (their replies
 * built by srv.c) and the links. The client side is the engine's own pure core, sync.c
 * (associations, iburst and poll schedule, on-wire checks, filter, selection, discipline,
 * poll policy), the same code stratumd runs, not a copy.
 */
#ifndef STRATUM_SIM_H
#define STRATUM_SIM_H

#include <stdbool.h>
#include <stdint.h>

#include "io/rng.h"

#define SIM_MAX_SERVERS 8

/* The seeded generator of every random choice: the daemon's xoshiro256** (io/rng.h),
 * seeded by splitmix64 from the scenario's seed instead of the kernel. */
struct sim_rng {
    struct rng_fast f;
};
void sim_rng_seed(struct sim_rng *r, uint64_t seed);
uint64_t sim_rng_next(struct sim_rng *r);
double sim_rng_uniform(struct sim_rng *r); /* [0, 1) */
double sim_rng_exp(struct sim_rng *r, double mean);
double sim_rng_normal(struct sim_rng *r);

struct sim_link {
    double delay_out, delay_in;   /* s, fixed one-way delays client->server, back */
    double jitter_out, jitter_in; /* s, means of exponential extra delays */
    double loss_out, loss_in;     /* probabilities */
    /* Reordering: with probability reorder a reply is held back by an extra delay drawn
     * uniformly from [hold_min, hold_max] s (longer than the iburst spacing, it arrives
     * after the replies to later requests). */
    double reorder, hold_min, hold_max;
    /* An outage: everything sent over the link (either way) in [down_from, down_to) of
     * true time is lost. down_to <= down_from: never. */
    double down_from, down_to;
};

struct sim_server {
    double offset;  /* s, its time minus true time (a falseticker) */
    double step_at; /* s of true time at which it steps by step_by (<0: never) */
    double step_by;
    /* It answers every request arriving in [kod_from, kod_to) of true time with a RATE
     * kiss-o'-death instead of the time. kod_to <= kod_from: never. */
    double kod_from, kod_to;
    struct sim_link link;
};

struct sim_config {
    const char *name;
    unsigned n_servers;
    struct sim_server server[SIM_MAX_SERVERS];
    double freq_ppm;   /* local clock's own frequency error (+: runs fast) */
    double wander_ppm; /* random walk of that error, ppm per sqrt(s) */
    double phase0;     /* s, local clock minus true time at the start */
    double duration;   /* s */
    int minpoll, maxpoll;
    bool iburst;
    bool burst;          /* a burst of requests (2 s apart) at every poll */
    bool allow_first;    /* ntpd -g */
    double settle_bound; /* s, |offset| bound for "settled" (1 ms) */
    bool era_cross;      /* start ten minutes before the 2036 NTP era rollover */
    bool ref_server0;    /* offset statistics (settle, rms, max) against server 0's time
                          * (steps included) instead of true time: what a client of one
                          * server that steps must end up following */
};

struct sim_result {
    double first_sync;             /* s of true time of the first clock correction; <0 none */
    double settle;                 /* s after which |offset| stays <= settle_bound; <0 never */
    double rms_offset, max_offset; /* s, after convergence (see sim.c) */
    double rms_freq_ppm;           /* frequency estimate minus the needed one, after conv. */
    double max_phase, min_phase;   /* s, local minus true, extremes over the whole run */
    unsigned steps;
    bool panicked;
    unsigned updates;
    unsigned served_stratum; /* sync_served at the end (16: unsynchronized) */
    int peer;                /* the system peer at the end, server index; -1 none */
    double first_step_t, last_step_t; /* s of true time of the first and last step; <0 none */
    int max_poll;                     /* the highest poll (log2 s) of any source, ever */
    /* The engine's per-association counters (assoc.h), summed over the sources. */
    uint64_t received, processed, bogusorg, oldpkt, kod_rx, distance;
    /* Seen by the world: replies delivered after a reply to a later request of the same
     * source (reordered); replies arriving after their source sent a newer request (late:
     * only the newest request may be answered), and of those the ones the engine refused by
     * the origin test (bogus or unsolicited) and the ones it took for an answer (never). */
    unsigned reordered, late, late_refused, late_accepted;
    /* KoD replies (ASSOC_KOD) after which the engine asked for any clock action (never). */
    unsigned kod_actions;
};

/* What the world looks like at each one-second tick of true time (for scenario checks). */
struct sim_tick {
    double t;              /* s of true time */
    double phase;          /* s, local minus true time */
    double ref_phase;      /* s, local minus the reference (true time, or server 0) */
    double osc_ppm;        /* the oscillator's own frequency error now (wanders) */
    double osc_phase;      /* s, the integral of that error since the start (no correction) */
    unsigned served_stratum; /* sync_served now (16: unsynchronized) */
    int peer;              /* the system peer, -1 none */
    unsigned steps;        /* so far */
    int poll;              /* server 0's poll, log2 s */
};
typedef void (*sim_tick_fn)(void *ctx, const struct sim_tick *tk);

/* Runs one scenario with one seed. */
void sim_run(const struct sim_config *cfg, uint64_t seed, struct sim_result *out);
/* The same, calling tick(ctx, ...) at every second of true time (tick may be NULL). */
void sim_run_ticks(const struct sim_config *cfg, uint64_t seed, struct sim_result *out,
                   sim_tick_fn tick, void *ctx);

#endif
