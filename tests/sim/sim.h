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

#define SIM_MAX_SERVERS 8

struct sim_rng {
    uint64_t s[4];
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
};

struct sim_server {
    double offset;  /* s, its time minus true time (a falseticker) */
    double step_at; /* s of true time at which it steps by step_by (<0: never) */
    double step_by;
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
    bool allow_first;    /* ntpd -g */
    double settle_bound; /* s, |offset| bound for "settled" (1 ms) */
    bool era_cross;      /* start ten minutes before the 2036 NTP era rollover */
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
};

/* Runs one scenario with one seed. */
void sim_run(const struct sim_config *cfg, uint64_t seed, struct sim_result *out);

#endif
