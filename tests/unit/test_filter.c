/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for src/core/filter: the RFC 5905 sec. 10 clock filter with real numbers:
 * the lowest-delay choice, dispersion aging by PHI and the 1/2, 1/4, ... weighting, the
 * newer-only rule, the jitter of a known set, the 8-stage replacement and the clear.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdbool.h>

#include "core/filter.h"

static void assert_near(double got, double want, double eps)
{
    if (!(fabs(got - want) <= eps)) {
        fail_msg("got %.17g, want %.17g (eps %g)", got, want, eps);
    }
}

static void empty_gives_nothing(void **state)
{
    (void)state;
    struct filter f;
    struct filter_out o;
    filter_init(&f);
    assert_false(filter_select(&f, 0.0, &o));
    assert_false(filter_peek(&f, 0.0, &o));
}

static void picks_lowest_delay(void **state)
{
    (void)state;
    struct filter f;
    struct filter_out o;
    filter_init(&f);
    const double delay[] = {5e-3, 3e-3, 8e-3, 1e-3, 4e-3};
    const double offset[] = {0.010, 0.011, 0.012, 0.013, 0.014};
    for (int i = 0; i < 5; i++) {
        assert_true(filter_add(&f, 16.0 * i, offset[i], delay[i], 1e-6));
    }
    assert_true(filter_select(&f, 64.0, &o));
    assert_near(o.offset, 0.013, 0);
    assert_near(o.delay, 1e-3, 0);
    assert_near(o.t, 48.0, 0);
    assert_int_equal(o.n, 5);
}

static void ages_dispersion(void **state)
{
    (void)state;
    struct filter f;
    struct filter_out o;
    filter_init(&f);
    assert_true(filter_add(&f, 0.0, 0.0, 1e-3, 1e-3));
    assert_true(filter_peek(&f, 100.0, &o));
    /* (1e-3 + 15e-6 * 100) / 2 + 16 * (1/4 + ... + 1/256) */
    assert_near(o.dispersion, 2.5e-3 / 2.0 + 16.0 * (0.5 - 1.0 / 256.0), 1e-12);
    /* Two samples: sorted by delay, the better one weighs 1/2, the other 1/4. */
    assert_true(filter_add(&f, 50.0, 0.0, 2e-3, 2e-3));
    assert_true(filter_peek(&f, 100.0, &o));
    double want = (1e-3 + 15e-6 * 100) / 2 + (2e-3 + 15e-6 * 50) / 4 + 16.0 * (0.25 - 1.0 / 256.0);
    assert_near(o.dispersion, want, 1e-12);
}

static void newer_only(void **state)
{
    (void)state;
    struct filter f;
    struct filter_out o;
    filter_init(&f);
    assert_true(filter_add(&f, 0.0, 0.001, 1e-3, 1e-6));
    assert_true(filter_select(&f, 0.0, &o));
    /* A worse sample: the best is still the one already handed on. */
    assert_true(filter_add(&f, 16.0, 0.002, 5e-3, 1e-6));
    assert_false(filter_select(&f, 16.0, &o));
    assert_false(filter_select(&f, 17.0, &o));
    /* A better, newer one goes on. */
    assert_true(filter_add(&f, 32.0, 0.003, 0.5e-3, 1e-6));
    assert_true(filter_select(&f, 32.0, &o));
    assert_near(o.offset, 0.003, 0);
    assert_false(filter_select(&f, 33.0, &o));
}

static void jitter_of_known_set(void **state)
{
    (void)state;
    struct filter f;
    struct filter_out o;
    filter_init(&f);
    assert_true(filter_add(&f, 0.0, 0.000, 1e-3, 0));
    assert_true(filter_add(&f, 1.0, 0.001, 2e-3, 0));
    assert_true(filter_add(&f, 2.0, -0.001, 3e-3, 0));
    assert_true(filter_add(&f, 3.0, 0.002, 4e-3, 0));
    assert_true(filter_select(&f, 3.0, &o));
    assert_near(o.offset, 0.0, 0);
    /* sqrt((1 + 1 + 4) / 3) ms */
    assert_near(o.jitter, sqrt(2.0) * 1e-3, 1e-15);
    filter_init(&f);
    assert_true(filter_add(&f, 0.0, 0.005, 1e-3, 0));
    assert_true(filter_select(&f, 0.0, &o));
    assert_near(o.jitter, 0.0, 0);
}

static void eight_stages_oldest_replaced(void **state)
{
    (void)state;
    struct filter f;
    struct filter_out o;
    filter_init(&f);
    assert_true(filter_add(&f, 0.0, 0.100, 1e-4, 0));
    for (int i = 1; i < FILTER_NSTAGE; i++) {
        assert_true(filter_add(&f, i, 0.001 * i, 1e-3 * i, 0));
    }
    assert_true(filter_peek(&f, 8.0, &o));
    assert_near(o.offset, 0.100, 0);
    assert_int_equal(o.n, 8);
    /* The ninth replaces the first (the best so far). */
    assert_true(filter_add(&f, 8.0, 0.008, 8e-3, 0));
    assert_true(filter_peek(&f, 8.0, &o));
    assert_near(o.offset, 0.001, 0);
    assert_int_equal(o.n, 8);
}

static void clear_and_bad_input(void **state)
{
    (void)state;
    struct filter f;
    struct filter_out o;
    filter_init(&f);
    assert_true(filter_add(&f, 100.0, 0.5, 1e-3, 0));
    assert_true(filter_select(&f, 100.0, &o));
    filter_clear(&f);
    assert_false(filter_peek(&f, 100.0, &o));
    /* After a clear the newer rule starts afresh. */
    assert_true(filter_add(&f, 50.0, 0.0, 1e-3, 0));
    assert_true(filter_select(&f, 50.0, &o));
    assert_false(filter_add(&f, 60.0, NAN, 1e-3, 0));
    assert_false(filter_add(&f, 60.0, 0.0, -1e-3, 0));
    assert_false(filter_add(&f, 60.0, 0.0, 1e-3, INFINITY));
    assert_true(filter_peek(&f, 60.0, &o));
    assert_int_equal(o.n, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(empty_gives_nothing), cmocka_unit_test(picks_lowest_delay),
        cmocka_unit_test(ages_dispersion),     cmocka_unit_test(newer_only),
        cmocka_unit_test(jitter_of_known_set), cmocka_unit_test(eight_stages_oldest_replaced),
        cmocka_unit_test(clear_and_bad_input),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
