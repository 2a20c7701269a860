/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for the clock backends that tests may drive: sim (steps, slews, frequency,
 * kernel timestamp mapping) and none (refuses everything). Elapsed times are bracketed
 * by monotonic readings, so the bounds hold however slow the machine is.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>
#include <time.h>

#include "clock/clock.h"
#include "core/ntp_time.h"

static double mono(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static double now_s(struct clk *c)
{
    struct timespec t;
    clk_now(c, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

static void sleep_ms(long ms)
{
    struct timespec t = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&t, NULL);
}

static struct clk *open_sim(int64_t start, double err_ppm)
{
    char err[128];
    struct clk_sim_params p = { .start_set = true, .start_unix_sec = start, .freq_ppm = err_ppm };
    struct clk *c = clk_open(CLK_SIM, &p, err, sizeof(err));
    assert_non_null(c);
    return c;
}

static void sim_starts_where_told_and_steps(void **state)
{
    (void)state;
    char err[128];
    double m0 = mono();
    struct clk *c = open_sim(2000000000, 0.0);
    double v = now_s(c);
    double m1 = mono();
    assert_true(v >= 2000000000.0 && v <= 2000000000.0 + (m1 - m0) + 1e-6);

    double a0 = mono();
    double before = now_s(c);
    assert_int_equal(clk_step(c, 10.25, err, sizeof(err)), 0);
    double after = now_s(c);
    double a1 = mono();
    assert_true(after - before >= 10.25 - 1e-6);
    assert_true(after - before <= 10.25 + (a1 - a0) + 1e-6);

    assert_int_equal(clk_slew_once(c, -0.5, err, sizeof(err)), 0);
    struct clk_stats st;
    clk_get_stats(c, &st);
    assert_int_equal(st.steps, 1);
    assert_int_equal(st.slews, 1);
    assert_true(st.last_step > 10.2499 && st.last_step < 10.2501);
    assert_true(st.total_adjust > 10.7499 && st.total_adjust < 10.7501);
    clk_close(c);
}

/* The virtual clock advances at (1 + error + correction) times the monotonic clock. */
static int rate_matches(struct clk *c, double rate)
{
    for (int attempt = 0; attempt < 5; attempt++) {
        double m0 = mono();
        double v1 = now_s(c);
        double m1 = mono();
        sleep_ms(100);
        double m2 = mono();
        double v2 = now_s(c);
        double m3 = mono();
        double lo = (m2 - m1) * rate, hi = (m3 - m0) * rate;
        /* The bracket must be tight enough to tell the rate from 1 +- 0.5 %. */
        if ((m1 - m0) + (m3 - m2) > 0.002) {
            continue;
        }
        return v2 - v1 >= lo - 1e-6 && v2 - v1 <= hi + 1e-6;
    }
    return 0;
}

static void sim_frequency_error_and_correction(void **state)
{
    (void)state;
    char err[128];
    struct clk *c = open_sim(1700000000, 50000.0);   /* 5 % fast */
    assert_true(rate_matches(c, 1.05));
    assert_int_equal(clk_set_freq(c, -500.0, err, sizeof(err)), 0);
    assert_true(clk_get_freq(c) == -500.0);
    assert_true(rate_matches(c, 1.05 - 500e-6));
    /* Out of range: refused, the correction in force stays. */
    assert_int_equal(clk_set_freq(c, 501.0, err, sizeof(err)), CLK_FAILED);
    assert_non_null(strstr(err, "500"));
    assert_true(clk_get_freq(c) == -500.0);
    struct clk_stats st;
    clk_get_stats(c, &st);
    assert_true(st.freq_ppm == -500.0);
    clk_close(c);
}

static void sim_maps_kernel_timestamps(void **state)
{
    (void)state;
    struct clk *c = open_sim(2085978494, 0.0);   /* 2 s before NTP era 1 */
    struct timespec real, mapped, v;
    clock_gettime(CLOCK_REALTIME, &real);
    clk_from_system(c, &real, &mapped);
    clk_now(c, &v);
    double d = ntp_timespec_diff(&v, &mapped);
    assert_true(d >= -1e-6 && d < 0.1);
    /* A stamp 1 s old maps to 1 s before now on the virtual clock too. */
    real.tv_sec -= 1;
    clk_from_system(c, &real, &mapped);
    clk_now(c, &v);
    d = ntp_timespec_diff(&v, &mapped);
    assert_true(d >= 1.0 - 1e-6 && d < 1.1);
    clk_close(c);
}

static void sim_records_leap_and_sync_state(void **state)
{
    (void)state;
    char err[128];
    struct clk *c = open_sim(1700000000, 0.0);
    struct clk_stats st;
    clk_get_stats(c, &st);
    assert_int_equal(st.leap, CLK_LEAP_NONE);
    assert_false(st.synced);
    assert_int_equal(clk_set_leap(c, CLK_LEAP_INSERT, err, sizeof(err)), 0);
    assert_int_equal(clk_set_synced(c, true, 0.001, 0.01, err, sizeof(err)), 0);
    clk_get_stats(c, &st);
    assert_int_equal(st.leap, CLK_LEAP_INSERT);
    assert_true(st.synced);
    assert_int_equal(clk_set_leap(c, (enum clk_leap)7, err, sizeof(err)), CLK_FAILED);
    clk_get_stats(c, &st);
    assert_int_equal(st.leap, CLK_LEAP_INSERT);
    clk_close(c);
}

static void none_refuses_every_correction(void **state)
{
    (void)state;
    char err[128];
    struct clk *c = clk_open(CLK_NONE, NULL, err, sizeof(err));
    assert_non_null(c);
    assert_int_equal(clk_step(c, 1.0, err, sizeof(err)), CLK_FAILED);
    assert_int_equal(clk_slew_once(c, 0.001, err, sizeof(err)), CLK_FAILED);
    assert_int_equal(clk_set_freq(c, 1.0, err, sizeof(err)), CLK_FAILED);
    assert_non_null(strstr(err, "never adjusts"));
    assert_int_equal(clk_set_leap(c, CLK_LEAP_INSERT, err, sizeof(err)), CLK_FAILED);
    assert_int_equal(clk_set_synced(c, true, 0.0, 0.0, err, sizeof(err)), CLK_FAILED);
    struct clk_stats st;
    clk_get_stats(c, &st);
    assert_int_equal(st.steps, 0);
    assert_true(st.total_adjust == 0.0);
    assert_true(clk_get_freq(c) == 0.0);
    clk_close(c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sim_starts_where_told_and_steps),
        cmocka_unit_test(sim_frequency_error_and_correction),
        cmocka_unit_test(sim_maps_kernel_timestamps),
        cmocka_unit_test(sim_records_leap_and_sync_state),
        cmocka_unit_test(none_refuses_every_correction),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
