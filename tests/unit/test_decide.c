/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for src/core/decide: every action of `stratum sync`, the majority rule and
 * min_agree, and the thresholds exactly at their boundaries.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "core/decide.h"

static struct sync_policy defaults(void)
{
    struct sync_policy p;
    memset(&p, 0, sizeof(p));
    p.mode = SYNC_AUTO;
    p.step_threshold = 0.128;
    p.max_step = 1000.0;
    p.force = false;
    p.min_agree = 0;
    return p;
}

static void every_action(void **state)
{
    (void)state;
    struct sync_policy p = defaults();

    assert_int_equal(sync_decide(&p, 3, 3, 0.0), SYNC_NOTHING);
    assert_int_equal(sync_decide(&p, 3, 3, 0.05), SYNC_DO_SLEW);
    assert_int_equal(sync_decide(&p, 3, 3, -0.05), SYNC_DO_SLEW);
    assert_int_equal(sync_decide(&p, 3, 3, 0.5), SYNC_DO_STEP);
    assert_int_equal(sync_decide(&p, 3, 3, -0.5), SYNC_DO_STEP);
    assert_int_equal(sync_decide(&p, 0, 0, 0.5), SYNC_REFUSE_NONE);
    assert_int_equal(sync_decide(&p, 3, 1, 0.5), SYNC_REFUSE_DISAGREE);
    assert_int_equal(sync_decide(&p, 3, 3, 1500.0), SYNC_REFUSE_TOO_LARGE);
    assert_int_equal(sync_decide(&p, 3, 3, -1500.0), SYNC_REFUSE_TOO_LARGE);
}

/* The refusals come first, in their order: none, disagree, too large. */
static void refusal_order(void **state)
{
    (void)state;
    struct sync_policy p = defaults();

    assert_int_equal(sync_decide(&p, 0, 0, 5000.0), SYNC_REFUSE_NONE);
    assert_int_equal(sync_decide(&p, 4, 2, 5000.0), SYNC_REFUSE_DISAGREE);
    p.mode = SYNC_STEP;
    assert_int_equal(sync_decide(&p, 0, 0, 0.5), SYNC_REFUSE_NONE);
    assert_int_equal(sync_decide(&p, 2, 1, 0.5), SYNC_REFUSE_DISAGREE);
    assert_int_equal(sync_decide(&p, 2, 2, 5000.0), SYNC_REFUSE_TOO_LARGE);
    p.force = true;
    /* force lifts only the size limit. */
    assert_int_equal(sync_decide(&p, 0, 0, 5000.0), SYNC_REFUSE_NONE);
    assert_int_equal(sync_decide(&p, 2, 1, 5000.0), SYNC_REFUSE_DISAGREE);
    assert_int_equal(sync_decide(&p, 2, 2, 5000.0), SYNC_DO_STEP);
}

static void forced_modes(void **state)
{
    (void)state;
    struct sync_policy p = defaults();

    p.mode = SYNC_STEP;
    assert_int_equal(sync_decide(&p, 1, 1, 0.001), SYNC_DO_STEP);
    assert_int_equal(sync_decide(&p, 1, 1, -0.5), SYNC_DO_STEP);
    assert_int_equal(sync_decide(&p, 1, 1, 1000.0), SYNC_DO_STEP);
    assert_int_equal(sync_decide(&p, 1, 1, 1000.001), SYNC_REFUSE_TOO_LARGE);
    p.mode = SYNC_SLEW;
    assert_int_equal(sync_decide(&p, 1, 1, 0.001), SYNC_DO_SLEW);
    assert_int_equal(sync_decide(&p, 1, 1, 30.0), SYNC_DO_SLEW);
    assert_int_equal(sync_decide(&p, 1, 1, -1000.0), SYNC_DO_SLEW);
    assert_int_equal(sync_decide(&p, 1, 1, -1000.5), SYNC_REFUSE_TOO_LARGE);
    p.force = true;
    assert_int_equal(sync_decide(&p, 1, 1, 1e6), SYNC_DO_SLEW);
    p.mode = SYNC_AUTO;
    assert_int_equal(sync_decide(&p, 1, 1, -1e6), SYNC_DO_STEP);
}

/* AUTO: |offset| >= threshold steps; below slews; below 1 ns nothing. */
static void thresholds_at_boundary(void **state)
{
    (void)state;
    struct sync_policy p = defaults();

    assert_int_equal(sync_decide(&p, 1, 1, 0.128), SYNC_DO_STEP);
    assert_int_equal(sync_decide(&p, 1, 1, -0.128), SYNC_DO_STEP);
    assert_int_equal(sync_decide(&p, 1, 1, nextafter(0.128, 0.0)), SYNC_DO_SLEW);
    assert_int_equal(sync_decide(&p, 1, 1, -nextafter(0.128, 0.0)), SYNC_DO_SLEW);
    assert_int_equal(sync_decide(&p, 1, 1, 1e-9), SYNC_DO_SLEW);
    assert_int_equal(sync_decide(&p, 1, 1, nextafter(1e-9, 0.0)), SYNC_NOTHING);
    assert_int_equal(sync_decide(&p, 1, 1, -5e-10), SYNC_NOTHING);
    assert_int_equal(sync_decide(&p, 1, 1, -0.0), SYNC_NOTHING);
    /* max_step: at the limit is allowed, beyond it refused. */
    assert_int_equal(sync_decide(&p, 1, 1, 1000.0), SYNC_DO_STEP);
    assert_int_equal(sync_decide(&p, 1, 1, -1000.0), SYNC_DO_STEP);
    assert_int_equal(sync_decide(&p, 1, 1, nextafter(1000.0, 2000.0)), SYNC_REFUSE_TOO_LARGE);
    /* Another threshold. */
    p.step_threshold = 0.5;
    assert_int_equal(sync_decide(&p, 1, 1, 0.4999), SYNC_DO_SLEW);
    assert_int_equal(sync_decide(&p, 1, 1, 0.5), SYNC_DO_STEP);
}

/* A NaN or infinite offset is never acted upon, forced or not. */
static void non_finite_offset(void **state)
{
    (void)state;
    struct sync_policy p = defaults();

    assert_int_equal(sync_decide(&p, 3, 3, NAN), SYNC_REFUSE_NONE);
    assert_int_equal(sync_decide(&p, 3, 3, INFINITY), SYNC_REFUSE_NONE);
    p.force = true;
    p.mode = SYNC_STEP;
    assert_int_equal(sync_decide(&p, 3, 3, -INFINITY), SYNC_REFUSE_NONE);
    assert_int_equal(sync_decide(&p, 3, 3, NAN), SYNC_REFUSE_NONE);
}

/* n / 2 + 1 of those that answered, for n = 1 .. 6. */
static void majority_rule(void **state)
{
    (void)state;
    struct sync_policy p = defaults();
    static const size_t want[7] = {1, 1, 2, 2, 3, 3, 4};

    for (size_t n = 0; n <= 6; n++) {
        assert_int_equal(sync_required(&p, n), want[n]);
    }
    for (size_t n = 1; n <= 6; n++) {
        for (size_t agree = 0; agree <= n; agree++) {
            enum sync_action a = sync_decide(&p, n, agree, 0.05);
            if (2 * agree > n) {
                assert_int_equal(a, SYNC_DO_SLEW);
            } else {
                assert_int_equal(a, SYNC_REFUSE_DISAGREE);
            }
        }
    }
}

static void min_agree(void **state)
{
    (void)state;
    struct sync_policy p = defaults();

    p.min_agree = 2;
    assert_int_equal(sync_required(&p, 1), 2);
    assert_int_equal(sync_required(&p, 6), 2);
    assert_int_equal(sync_decide(&p, 6, 2, 0.05), SYNC_DO_SLEW); /* below a majority */
    assert_int_equal(sync_decide(&p, 6, 1, 0.05), SYNC_REFUSE_DISAGREE);
    /* More than answered: it stands, so the decision refuses. */
    assert_int_equal(sync_decide(&p, 1, 1, 0.05), SYNC_REFUSE_DISAGREE);
    p.min_agree = 5;
    assert_int_equal(sync_required(&p, 3), 5);
    assert_int_equal(sync_decide(&p, 3, 3, 0.05), SYNC_REFUSE_DISAGREE);
    assert_int_equal(sync_decide(&p, 5, 5, 0.05), SYNC_DO_SLEW);
    p.min_agree = 1;
    assert_int_equal(sync_decide(&p, 6, 1, 0.5), SYNC_DO_STEP);
}

static void action_names(void **state)
{
    (void)state;
    static const enum sync_action all[] = {
        SYNC_NOTHING,     SYNC_DO_SLEW,         SYNC_DO_STEP,
        SYNC_REFUSE_NONE, SYNC_REFUSE_DISAGREE, SYNC_REFUSE_TOO_LARGE,
    };
    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        const char *a = sync_action_name(all[i]);
        assert_non_null(a);
        assert_string_not_equal(a, "unknown");
        for (size_t j = 0; j < i; j++) {
            assert_string_not_equal(a, sync_action_name(all[j]));
        }
    }
    assert_string_equal(sync_action_name(SYNC_DO_STEP), "step");
    assert_string_equal(sync_action_name((enum sync_action)99), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_action),      cmocka_unit_test(refusal_order),
        cmocka_unit_test(forced_modes),      cmocka_unit_test(thresholds_at_boundary),
        cmocka_unit_test(non_finite_offset), cmocka_unit_test(majority_rule),
        cmocka_unit_test(min_agree),         cmocka_unit_test(action_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
