/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * clock_impl: the table of operations each clock backend fills in (private to
 * src/clock).
 */
#ifndef STRATUM_CLOCK_IMPL_H
#define STRATUM_CLOCK_IMPL_H

#include <stdatomic.h>

#include "clock.h"

struct clk_ops {
    const char *name;
    void (*now)(struct clk *c, struct timespec *out);
    void (*from_system)(struct clk *c, const struct timespec *sys, struct timespec *out);
    int (*step)(struct clk *c, double offset, char *err, size_t errlen);
    int (*slew_once)(struct clk *c, double offset, char *err, size_t errlen);
    /* Sets the frequency correction in ppm (positive: the clock runs faster). */
    int (*set_freq)(struct clk *c, double freq_ppm, char *err, size_t errlen);
    /* NULL: nothing to tell this clock (accepted). */
    int (*set_leap)(struct clk *c, int leap, char *err, size_t errlen);
    int (*set_synced)(struct clk *c, bool synced, double est_error, double max_error,
                      char *err, size_t errlen);
    /* The system finishes a slew_once after it returns (Linux); otherwise slew_once returns
     * when the slew is done (Windows, sim). */
    bool slew_in_background;
};

struct clk {
    const struct clk_ops *ops;
    enum clk_kind kind;
    /* sim: virtual = base_virt + (mono - base_mono) * (1 + sim_err + freq correction),
     * rebased at every change of frequency and shifted by every step. A seqlock of
     * individually atomic fields: the engine writes, server workers read. */
    double sim_err;                 /* simulated frequency error, fraction (fixed) */
    _Atomic unsigned sim_seq;
    _Atomic int64_t sim_base_virt_ns;   /* Unix ns */
    _Atomic int64_t sim_base_mono_ns;
    _Atomic double sim_rate;            /* 1 + sim_err + correction */
    _Atomic double freq_ppm;            /* the frequency correction in force (all backends) */
    _Atomic int leap;                   /* enum clk_leap in force */
    _Atomic bool synced;
    /* statistics, written by the engine thread only */
    _Atomic uint64_t steps;
    _Atomic uint64_t slews;
    _Atomic int64_t last_step_ns;
    _Atomic int64_t total_adjust_ns;
};

extern const struct clk_ops clk_ops_system;
extern const struct clk_ops clk_ops_sim;
extern const struct clk_ops clk_ops_none;

/* Shared by backends: refusals for backends that never correct. */
int clk_refuse(struct clk *c, double offset, char *err, size_t errlen);
int clk_refuse_leap(struct clk *c, int leap, char *err, size_t errlen);
int clk_refuse_synced(struct clk *c, bool synced, double est_error, double max_error,
                      char *err, size_t errlen);

/* Shared by backends: CLOCK_REALTIME as-is. */
void clk_read_realtime(struct clk *c, struct timespec *out);
void clk_identity(struct clk *c, const struct timespec *sys, struct timespec *out);

#endif
