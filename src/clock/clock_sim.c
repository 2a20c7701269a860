/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * clock_sim: a virtual clock for tests and dry runs. Virtual time = start + elapsed
 * monotonic time scaled by (1 + simulated frequency error) + all corrections. Steps
 * change only the virtual clock. Kernel receive timestamps (CLOCK_REALTIME) are mapped
 * through the monotonic clock so that they shift with everything else.
 */
#include "clock_impl.h"

#include <math.h>

#include "core/ntp_time.h"

static void sim_at_mono(struct clk *c, const struct timespec *mono, struct timespec *out)
{
    double el = ntp_timespec_diff(mono, &c->mono0) * (1.0 + c->sim_freq);
    *out = c->sim_start;
    ntp_timespec_add(out, el + (double)atomic_load_explicit(&c->corr_ns,
                                                            memory_order_relaxed) * 1e-9);
}

static void sim_now(struct clk *c, struct timespec *out)
{
    struct timespec mono;
    clock_gettime(CLOCK_MONOTONIC, &mono);
    sim_at_mono(c, &mono, out);
}

static void sim_from_system(struct clk *c, const struct timespec *sys, struct timespec *out)
{
    struct timespec real, mono;
    /* How long ago (realtime) the kernel stamped the packet, applied to monotonic now. */
    clock_gettime(CLOCK_MONOTONIC, &mono);
    clock_gettime(CLOCK_REALTIME, &real);
    ntp_timespec_add(&mono, ntp_timespec_diff(sys, &real));
    sim_at_mono(c, &mono, out);
}

static int sim_step(struct clk *c, double offset, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    atomic_fetch_add(&c->corr_ns, (int64_t)llround(offset * 1e9));
    return 0;
}

const struct clk_ops clk_ops_sim = {
    .name = "sim",
    .now = sim_now,
    .from_system = sim_from_system,
    .step = sim_step,
    /* The virtual clock applies a slew at once: what matters to tests is its size. */
    .slew_once = sim_step,
};
