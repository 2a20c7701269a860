/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * clock: backend selection, precision measurement and statistics shared by all clock
 * backends.
 */
#include "clock_impl.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ntp_time.h"

struct clk *clk_open(enum clk_kind kind, const struct clk_sim_params *sim, char *err,
                     size_t errlen)
{
    struct clk *c = calloc(1, sizeof(*c));
    if (c == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    c->kind = kind;
    switch (kind) {
    case CLK_SYSTEM:
        c->ops = &clk_ops_system;
        break;
    case CLK_NONE:
        c->ops = &clk_ops_none;
        break;
    case CLK_SIM: {
        struct timespec mono, start;
        c->ops = &clk_ops_sim;
        clock_gettime(CLOCK_MONOTONIC, &mono);
        if (sim != NULL && sim->start_set) {
            start.tv_sec = (time_t)sim->start_unix_sec;
            start.tv_nsec = 0;
        } else {
            clock_gettime(CLOCK_REALTIME, &start);
        }
        c->sim_err = sim != NULL ? sim->freq_ppm * 1e-6 : 0.0;
        atomic_init(&c->sim_seq, 0);
        atomic_init(&c->sim_base_virt_ns, (int64_t)start.tv_sec * 1000000000 + start.tv_nsec);
        atomic_init(&c->sim_base_mono_ns, (int64_t)mono.tv_sec * 1000000000 + mono.tv_nsec);
        atomic_init(&c->sim_rate, 1.0 + c->sim_err);
        break;
    }
    default:
        free(c);
        snprintf(err, errlen, "unknown clock kind %d", (int)kind);
        return NULL;
    }
    return c;
}

void clk_close(struct clk *c)
{
    free(c);
}

void clk_now(struct clk *c, struct timespec *out)
{
    c->ops->now(c, out);
}

void clk_from_system(struct clk *c, const struct timespec *sys, struct timespec *out)
{
    c->ops->from_system(c, sys, out);
}

int clk_step(struct clk *c, double offset, char *err, size_t errlen)
{
    int r = c->ops->step(c, offset, err, errlen);
    if (r == 0) {
        int64_t ns = (int64_t)llround(offset * 1e9);
        atomic_fetch_add(&c->steps, 1);
        atomic_store(&c->last_step_ns, ns);
        atomic_fetch_add(&c->total_adjust_ns, ns < 0 ? -ns : ns);
    }
    return r;
}

int clk_slew_once(struct clk *c, double offset, char *err, size_t errlen)
{
    int r = c->ops->slew_once(c, offset, err, errlen);
    if (r == 0) {
        int64_t ns = (int64_t)llround(offset * 1e9);
        atomic_fetch_add(&c->slews, 1);
        atomic_fetch_add(&c->total_adjust_ns, ns < 0 ? -ns : ns);
    }
    return r;
}

int clk_set_freq(struct clk *c, double freq_ppm, char *err, size_t errlen)
{
    if (!(freq_ppm >= -CLK_MAX_FREQ_PPM && freq_ppm <= CLK_MAX_FREQ_PPM)) {
        snprintf(err, errlen, "frequency %g ppm is beyond +-%g ppm", freq_ppm,
                 CLK_MAX_FREQ_PPM);
        return CLK_FAILED;
    }
    int r = c->ops->set_freq(c, freq_ppm, err, errlen);
    if (r == 0) {
        atomic_store(&c->freq_ppm, freq_ppm);
    }
    return r;
}

int clk_set_leap(struct clk *c, enum clk_leap leap, char *err, size_t errlen)
{
    if (leap != CLK_LEAP_NONE && leap != CLK_LEAP_INSERT && leap != CLK_LEAP_DELETE) {
        snprintf(err, errlen, "unknown leap %d", (int)leap);
        return CLK_FAILED;
    }
    int r = c->ops->set_leap != NULL ? c->ops->set_leap(c, (int)leap, err, errlen) : 0;
    if (r == 0) {
        atomic_store(&c->leap, (int)leap);
    }
    return r;
}

int clk_set_synced(struct clk *c, bool synced, double est_error, double max_error, char *err,
                   size_t errlen)
{
    int r = c->ops->set_synced != NULL
                ? c->ops->set_synced(c, synced, est_error, max_error, err, errlen)
                : 0;
    if (r == 0) {
        atomic_store(&c->synced, synced);
    }
    return r;
}

double clk_get_freq(const struct clk *c)
{
    return atomic_load(&((struct clk *)c)->freq_ppm);
}

bool clk_slew_in_background(const struct clk *c)
{
    return c->ops->slew_in_background;
}

int clk_refuse_leap(struct clk *c, int leap, char *err, size_t errlen)
{
    snprintf(err, errlen, "clock %s never adjusts the clock (asked to arm leap %d)",
             c->ops->name, leap);
    return CLK_FAILED;
}

int clk_refuse_synced(struct clk *c, bool synced, double est_error, double max_error,
                      char *err, size_t errlen)
{
    (void)est_error;
    (void)max_error;
    snprintf(err, errlen, "clock %s never adjusts the clock (asked to mark it %s)",
             c->ops->name, synced ? "synchronized" : "unsynchronized");
    return CLK_FAILED;
}

int clk_refuse(struct clk *c, double offset, char *err, size_t errlen)
{
    snprintf(err, errlen, "clock %s never adjusts the clock (asked for %+.6f s)",
             c->ops->name, offset);
    return CLK_FAILED;
}

int8_t clk_measure_precision(struct clk *c)
{
    double best = 1.0;
    struct timespec a, b;

    /* The smallest positive step between consecutive readings over a few hundred reads:
     * it is the resolution or the cost of reading, whichever is larger. */
    for (int i = 0; i < 300; i++) {
        int spins = 0;
        clk_now(c, &a);
        /* Bounded: under a simulator that interposes the clock, time may stand still. */
        do {
            clk_now(c, &b);
        } while (b.tv_sec == a.tv_sec && b.tv_nsec == a.tv_nsec && ++spins < 100000);
        double d = ntp_timespec_diff(&b, &a);
        if (d > 0 && d < best) {
            best = d;
        }
    }
    int p = (int)ceil(log2(best));
    if (p < -30) {
        p = -30;
    }
    if (p > 0) {
        p = 0;
    }
    return (int8_t)p;
}

void clk_get_stats(struct clk *c, struct clk_stats *out)
{
    out->steps = atomic_load(&c->steps);
    out->slews = atomic_load(&c->slews);
    out->last_step = (double)atomic_load(&c->last_step_ns) * 1e-9;
    out->total_adjust = (double)atomic_load(&c->total_adjust_ns) * 1e-9;
    out->freq_ppm = atomic_load(&c->freq_ppm);
    out->leap = atomic_load(&c->leap);
    out->synced = atomic_load(&c->synced);
}

const char *clk_name(const struct clk *c)
{
    return c->ops->name;
}

enum clk_kind clk_kind_of(const struct clk *c)
{
    return c->kind;
}

int clk_kind_parse(const char *word, enum clk_kind *out)
{
    if (strcmp(word, "system") == 0) {
        *out = CLK_SYSTEM;
    } else if (strcmp(word, "sim") == 0) {
        *out = CLK_SIM;
    } else if (strcmp(word, "none") == 0) {
        *out = CLK_NONE;
    } else {
        return -1;
    }
    return 0;
}

void clk_read_realtime(struct clk *c, struct timespec *out)
{
    (void)c;
    clock_gettime(CLOCK_REALTIME, out);
}

void clk_identity(struct clk *c, const struct timespec *sys, struct timespec *out)
{
    (void)c;
    *out = *sys;
}
