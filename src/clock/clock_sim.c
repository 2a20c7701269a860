/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * clock_sim: a virtual clock for tests and dry runs. Virtual time = start + elapsed
 * monotonic time scaled by (1 + simulated frequency error + frequency correction) + all
 * steps; the scale is rebased whenever the correction changes. Corrections change only
 * the virtual clock. Kernel receive timestamps (CLOCK_REALTIME) are mapped through the
 * monotonic clock so that they shift with everything else.
 */
#include "clock_impl.h"

#include <math.h>

#include "core/ntp_time.h"

static int64_t ts_ns(const struct timespec *t)
{
    return (int64_t)t->tv_sec * 1000000000 + t->tv_nsec;
}

/* One consistent reading of the base (a seqlock: retry if a write overlapped). */
static void sim_base(struct clk *c, int64_t *virt_ns, int64_t *mono_ns, double *rate)
{
    for (;;) {
        unsigned a = atomic_load_explicit(&c->sim_seq, memory_order_acquire);
        *virt_ns = atomic_load_explicit(&c->sim_base_virt_ns, memory_order_relaxed);
        *mono_ns = atomic_load_explicit(&c->sim_base_mono_ns, memory_order_relaxed);
        *rate = atomic_load_explicit(&c->sim_rate, memory_order_relaxed);
        atomic_thread_fence(memory_order_acquire);
        unsigned b = atomic_load_explicit(&c->sim_seq, memory_order_relaxed);
        if (a == b && (a & 1u) == 0) {
            return;
        }
    }
}

static int64_t sim_at_mono_ns(struct clk *c, int64_t mono_ns)
{
    int64_t virt, mono;
    double rate;
    sim_base(c, &virt, &mono, &rate);
    return virt + (int64_t)llround((double)(mono_ns - mono) * rate);
}

static void to_timespec(int64_t ns, struct timespec *out)
{
    int64_t s = ns / 1000000000;
    int64_t r = ns % 1000000000;
    if (r < 0) {
        r += 1000000000;
        s -= 1;
    }
    out->tv_sec = (time_t)s;
    out->tv_nsec = (long)r;
}

static int64_t mono_now_ns(void)
{
    struct timespec mono;
    clock_gettime(CLOCK_MONOTONIC, &mono);
    return ts_ns(&mono);
}

static void sim_now(struct clk *c, struct timespec *out)
{
    to_timespec(sim_at_mono_ns(c, mono_now_ns()), out);
}

static void sim_from_system(struct clk *c, const struct timespec *sys, struct timespec *out)
{
    struct timespec real;
    int64_t mono = mono_now_ns();
    /* How long ago (realtime) the kernel stamped the packet, applied to monotonic now. */
    clock_gettime(CLOCK_REALTIME, &real);
    to_timespec(sim_at_mono_ns(c, mono + (ts_ns(sys) - ts_ns(&real))), out);
}

/* Engine thread only: a new base (virtual time now, shifted by step_ns) and rate. */
static void sim_rebase(struct clk *c, int64_t step_ns, double rate)
{
    int64_t mono = mono_now_ns();
    int64_t virt = sim_at_mono_ns(c, mono) + step_ns;
    unsigned seq = atomic_load_explicit(&c->sim_seq, memory_order_relaxed);
    atomic_store_explicit(&c->sim_seq, seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    atomic_store_explicit(&c->sim_base_virt_ns, virt, memory_order_relaxed);
    atomic_store_explicit(&c->sim_base_mono_ns, mono, memory_order_relaxed);
    atomic_store_explicit(&c->sim_rate, rate, memory_order_relaxed);
    atomic_store_explicit(&c->sim_seq, seq + 2, memory_order_release);
}

static int sim_step(struct clk *c, double offset, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    sim_rebase(c, (int64_t)llround(offset * 1e9),
               atomic_load_explicit(&c->sim_rate, memory_order_relaxed));
    return 0;
}

static int sim_set_freq(struct clk *c, double freq_ppm, char *err, size_t errlen)
{
    (void)err;
    (void)errlen;
    sim_rebase(c, 0, 1.0 + c->sim_err + freq_ppm * 1e-6);
    return 0;
}

const struct clk_ops clk_ops_sim = {
    .name = "sim",
    .now = sim_now,
    .from_system = sim_from_system,
    .step = sim_step,
    /* The virtual clock applies a slew at once: what matters to tests is its size. */
    .slew_once = sim_step,
    .set_freq = sim_set_freq,
};
