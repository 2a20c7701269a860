/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for src/core/discipline: the step threshold, the panic threshold armed after
 * the first correction (CVE-2015-5300), the ntpd -g allowance used once, stepout, the
 * step limit, frequency convergence on a clean synthetic clock, the +-500 ppm limit, the
 * drift file's frequency, and the correction bookkeeping across steps.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdbool.h>

#include "core/discipline.h"

static void assert_near(double got, double want, double eps)
{
    if (!(fabs(got - want) <= eps)) {
        fail_msg("got %.17g, want %.17g (eps %g)", got, want, eps);
    }
}

static struct discipline_config cfg_default(void)
{
    struct discipline_config c;
    discipline_config_default(&c);
    return c;
}

static void defaults(void **state)
{
    (void)state;
    struct discipline_config c = cfg_default();
    assert_near(c.step_threshold, 0.128, 0);
    assert_near(c.panic_threshold, 1000.0, 0);
    assert_near(c.stepout, 900.0, 0);
    assert_false(c.allow_first);
    assert_near(c.step_limit, 0.0, 0);
    assert_near(c.max_freq_ppm, 500.0, 0);
}

static void step_above_threshold(void **state)
{
    (void)state;
    struct discipline_config c = cfg_default();
    struct discipline d;
    discipline_init(&d, &c, 0.0, 0.0, false);
    struct discipline_action a = discipline_update(&d, 10.0, 0.5, 1e-3, 4);
    assert_int_equal(a.kind, DISCIPLINE_STEP);
    assert_near(a.step, 0.5, 0);
    assert_near(discipline_correction(&d, 10.0), 0.5, 1e-12);
    /* Just under the threshold: slewed by frequency, never stepped. */
    discipline_init(&d, &c, 0.0, 0.0, false);
    a = discipline_update(&d, 10.0, 0.127, 1e-3, 4);
    assert_int_equal(a.kind, DISCIPLINE_FREQ);
    assert_true(a.freq_ppm > 0.0);
    assert_true(a.freq_ppm <= 500.0);
    a = discipline_update(&d, 26.0, -0.2, 1e-3, 4);
    /* After the first correction a big offset is a spike until the stepout has passed. */
    assert_int_equal(a.kind, DISCIPLINE_NONE);
}

static void panic_rules(void **state)
{
    (void)state;
    struct discipline_config c = cfg_default();
    struct discipline d;
    /* First correction beyond the panic threshold: refused without -g. */
    discipline_init(&d, &c, 0.0, 0.0, false);
    struct discipline_action a = discipline_update(&d, 1.0, 3600.0, 1e-3, 4);
    assert_int_equal(a.kind, DISCIPLINE_PANIC);
    assert_near(discipline_correction(&d, 1.0), 0.0, 0);
    a = discipline_update(&d, 2.0, -1000.5, 1e-3, 4);
    assert_int_equal(a.kind, DISCIPLINE_PANIC);
    /* Up to the panic threshold the first correction steps. */
    a = discipline_update(&d, 3.0, 999.0, 1e-3, 4);
    assert_int_equal(a.kind, DISCIPLINE_STEP);
    assert_near(a.step, 999.0, 0);
    /* Armed now: beyond 1000 s is refused even with the stepout long passed. */
    a = discipline_update(&d, 5000.0, 1500.0, 1e-3, 4);
    assert_int_equal(a.kind, DISCIPLINE_PANIC);
}

static void allowance_once(void **state)
{
    (void)state;
    struct discipline_config c = cfg_default();
    c.allow_first = true;
    struct discipline d;
    discipline_init(&d, &c, 0.0, 0.0, false);
    struct discipline_action a = discipline_update(&d, 1.0, 3600.0, 1e-3, 4);
    assert_int_equal(a.kind, DISCIPLINE_STEP);
    assert_near(a.step, 3600.0, 0);
    a = discipline_update(&d, 5000.0, 3600.0, 1e-3, 4);
    assert_int_equal(a.kind, DISCIPLINE_PANIC);
    /* A first correction of any size (here a tiny slew) uses the allowance up. */
    discipline_init(&d, &c, 0.0, 0.0, false);
    a = discipline_update(&d, 1.0, 0.001, 1e-3, 4);
    assert_int_equal(a.kind, DISCIPLINE_FREQ);
    a = discipline_update(&d, 17.0, 3600.0, 1e-3, 4);
    assert_int_equal(a.kind, DISCIPLINE_PANIC);
}

static void stepout_then_step(void **state)
{
    (void)state;
    struct discipline_config c = cfg_default();
    struct discipline d;
    discipline_init(&d, &c, 0.0, 0.0, false);
    assert_int_equal(discipline_update(&d, 1.0, 0.0, 1e-3, 4).kind, DISCIPLINE_FREQ);
    assert_int_equal(discipline_update(&d, 90.0, 0.01, 1e-3, 4).kind, DISCIPLINE_FREQ);
    /* 10 ms removed by a frequency term that ends at a deadline ... */
    double dl = discipline_deadline(&d);
    assert_true(dl > 90.0);
    assert_true(discipline_freq_applied_ppm(&d) > 0.0);
    /* ... which an ignored spike neither moves nor cancels. */
    assert_int_equal(discipline_update(&d, 91.0, 0.5, 1e-3, 4).kind, DISCIPLINE_NONE);
    assert_near(discipline_deadline(&d), dl, 0);
    assert_int_equal(discipline_tick(&d, dl - 0.5).kind, DISCIPLINE_NONE);
    struct discipline_action t = discipline_tick(&d, dl);
    assert_int_equal(t.kind, DISCIPLINE_FREQ);
    assert_near(t.freq_ppm, discipline_freq_ppm(&d), 1e-12);
    assert_true(discipline_deadline(&d) < 0.0);
    assert_int_equal(discipline_update(&d, 100.0, 0.5, 1e-3, 4).kind, DISCIPLINE_NONE);
    assert_int_equal(discipline_update(&d, 500.0, 0.5, 1e-3, 4).kind, DISCIPLINE_NONE);
    /* Back within the threshold: the spike is forgotten and the clock is slewed. */
    assert_int_equal(discipline_update(&d, 600.0, 0.01, 1e-3, 4).kind, DISCIPLINE_FREQ);
    assert_int_equal(discipline_update(&d, 700.0, 0.5, 1e-3, 4).kind, DISCIPLINE_NONE);
    assert_int_equal(discipline_update(&d, 1599.0, 0.5, 1e-3, 4).kind, DISCIPLINE_NONE);
    struct discipline_action a = discipline_update(&d, 1600.0, 0.5, 1e-3, 4);
    assert_int_equal(a.kind, DISCIPLINE_STEP);
    assert_near(a.step, 0.5, 1e-9);
}

static void step_limit(void **state)
{
    (void)state;
    struct discipline_config c = cfg_default();
    c.step_limit = 1.0;
    c.stepout = 0.0;
    struct discipline d;
    discipline_init(&d, &c, 0.0, 0.0, false);
    assert_int_equal(discipline_update(&d, 1.0, 0.6, 1e-3, 4).kind, DISCIPLINE_STEP);
    assert_int_equal(discipline_update(&d, 20.0, -0.6, 1e-3, 4).kind, DISCIPLINE_STEP_LIMIT);
    assert_int_equal(discipline_update(&d, 40.0, 0.3, 1e-3, 4).kind, DISCIPLINE_STEP);
}

/* A clock with a constant frequency error, no noise: the offset it reads is -phase. The
 * discipline's actions are applied exactly, including the deadlines of discipline_tick. */
struct toy {
    double t, phase, err, corr;
};

static void toy_advance(struct toy *k, double t)
{
    k->phase += (k->err + k->corr) * (t - k->t);
    k->t = t;
}

static void toy_run(struct discipline *d, struct toy *k, double until, double interval,
                    double *max_applied)
{
    double next = k->t + interval;
    while (next <= until) {
        double dl = discipline_deadline(d);
        if (dl >= 0.0 && dl < next) {
            toy_advance(k, dl);
            struct discipline_action a = discipline_tick(d, dl);
            if (a.kind == DISCIPLINE_FREQ) {
                k->corr = a.freq_ppm * 1e-6;
            }
            continue;
        }
        toy_advance(k, next);
        struct discipline_action a = discipline_update(d, next, -k->phase, 1e-4, 4);
        assert_true(a.kind == DISCIPLINE_FREQ);
        k->corr = a.freq_ppm * 1e-6;
        *max_applied = fmax(*max_applied, fabs(a.freq_ppm));
        next += interval;
    }
}

static void converges_on_clean_clock(void **state)
{
    (void)state;
    struct discipline_config c = cfg_default();
    struct discipline d;
    discipline_init(&d, &c, 0.0, 0.0, false);
    struct toy k = {0.0, 0.002, 37e-6, 0.0};
    double mx = 0.0;
    toy_run(&d, &k, 3000.0, 16.0, &mx);
    assert_near(discipline_freq_ppm(&d), -37.0, 0.01);
    assert_true(discipline_skew_ppm(&d) < 0.1);
    assert_near(k.phase, 0.0, 1e-6);
    assert_true(mx <= 500.0);
}

static void frequency_limited(void **state)
{
    (void)state;
    struct discipline_config c = cfg_default();
    c.step_threshold = 0.0; /* never step: only the frequency is under test */
    struct discipline d;
    discipline_init(&d, &c, 0.0, 0.0, false);
    struct toy k = {0.0, 0.0, 800e-6, 0.0};
    double mx = 0.0;
    toy_run(&d, &k, 2000.0, 16.0, &mx);
    assert_near(mx, 500.0, 1e-9);
    assert_near(discipline_freq_ppm(&d), -500.0, 1e-9);
    assert_near(discipline_freq_applied_ppm(&d), -500.0, 1e-9);
    /* The uncorrectable 300 ppm shows as a growing offset, never as a bigger frequency. */
    assert_true(k.phase > 0.5);
}

static void drift_file_first(void **state)
{
    (void)state;
    struct discipline_config c = cfg_default();
    struct discipline d;
    discipline_init(&d, &c, 0.0, -37.0, true);
    assert_near(discipline_freq_applied_ppm(&d), -37.0, 1e-9);
    assert_near(discipline_freq_ppm(&d), -37.0, 1e-9);
    struct toy k = {0.0, 0.0, 37e-6, -37e-6};
    double mx = 0.0;
    toy_run(&d, &k, 200.0, 16.0, &mx);
    /* Started on the right frequency: nothing to correct. */
    assert_near(k.phase, 0.0, 1e-9);
    assert_near(discipline_freq_ppm(&d), -37.0, 1e-6);
    /* A drift beyond the limit is clamped. */
    discipline_init(&d, &c, 0.0, 900.0, true);
    assert_near(discipline_freq_applied_ppm(&d), 500.0, 1e-9);
}

static void offsets_across_corrections(void **state)
{
    (void)state;
    struct discipline_config c = cfg_default();
    struct discipline d;
    discipline_init(&d, &c, 0.0, 10.0, true);
    /* 10 ppm applied: an offset of 1 ms read at t=0 reads 1 ms - 10 us at t=1 ... but the
     * frequency estimate (10 ppm) says the clock also drifts back by as much. */
    assert_near(discipline_offset_at(&d, 0.0, 1e-3, 1.0), 1e-3, 1e-12);
    assert_int_equal(discipline_update(&d, 10.0, 0.5, 1e-3, 4).kind, DISCIPLINE_STEP);
    /* A sample taken before the step reads 0.5 s less after it. */
    assert_near(discipline_offset_at(&d, 5.0, 0.5, 11.0), 0.0, 1e-9);
    /* Non-finite input changes nothing. */
    assert_int_equal(discipline_update(&d, 12.0, NAN, 1e-3, 4).kind, DISCIPLINE_NONE);
    /* A sample older than the last one used is ignored. */
    assert_int_equal(discipline_update_at(&d, 20.0, 20.0, 0.0, 1e-3, 4).kind, DISCIPLINE_FREQ);
    assert_int_equal(discipline_update_at(&d, 21.0, 19.0, 0.0, 1e-3, 4).kind, DISCIPLINE_NONE);
}

/* `stratum ctl step`: the step is what the phase term has not removed yet, so that the
 * clock is right at once; the frequency stays; nothing before a first estimate. */
static void step_now(void **state)
{
    (void)state;
    struct discipline_config c = cfg_default();
    struct discipline d;
    discipline_init(&d, &c, 0.0, 0.0, false);
    assert_int_equal(discipline_step_now(&d, 0.0).kind, DISCIPLINE_NONE);

    /* The clock is 50 ms behind and keeps perfect time: the offset at t is 0.05 - C(t). */
    struct discipline_action a = discipline_update(&d, 0.0, 0.05, 1e-4, 6);
    assert_int_equal(a.kind, DISCIPLINE_FREQ);
    double f = discipline_freq_ppm(&d);
    double before = discipline_correction(&d, 10.0);
    assert_true(before > 0.0 && before < 0.05);
    a = discipline_step_now(&d, 10.0);
    assert_int_equal(a.kind, DISCIPLINE_STEP);
    assert_near(a.step, 0.05 - before, 1e-12);
    assert_near(discipline_correction(&d, 10.0), 0.05, 1e-12);
    assert_near(a.freq_ppm, f, 1e-9);
    /* Nothing left: the next measurement sees no offset, and no phase term runs. */
    assert_true(discipline_deadline(&d) < 0.0);
    assert_near(0.05 - discipline_correction(&d, 20.0), -f * 1e-6 * 10.0, 1e-12);

    /* With a step limit already used up: refused, the clock left alone. */
    c.step_limit = 0.01;
    discipline_init(&d, &c, 0.0, 0.0, false);
    discipline_update(&d, 0.0, 0.05, 1e-4, 6);
    before = discipline_correction(&d, 1.0);
    a = discipline_step_now(&d, 1.0);
    assert_int_equal(a.kind, DISCIPLINE_STEP_LIMIT);
    assert_near(discipline_correction(&d, 1.0), before, 1e-15);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),
        cmocka_unit_test(step_above_threshold),
        cmocka_unit_test(panic_rules),
        cmocka_unit_test(allowance_once),
        cmocka_unit_test(stepout_then_step),
        cmocka_unit_test(step_limit),
        cmocka_unit_test(converges_on_clean_clock),
        cmocka_unit_test(frequency_limited),
        cmocka_unit_test(drift_file_first),
        cmocka_unit_test(offsets_across_corrections),
        cmocka_unit_test(step_now),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
