/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for src/core/select: the interval intersection of RFC 5905 sec. 11.2.1 on
 * the classic cases, ties at shared endpoints, absent (invalid) sources, the weighted
 * combine of sec. 11.2.3, and independence of the input order.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "core/select.h"

#define N_OF(a) (sizeof(a) / sizeof((a)[0]))

static void assert_near(double got, double want, double eps)
{
    if (!(fabs(got - want) <= eps)) {
        fail_msg("got %.17g, want %.17g (eps %g)", got, want, eps);
    }
}

static void assert_flags(const bool *got, const bool *want, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        if (got[i] != want[i]) {
            fail_msg("truechimer[%zu] is %d, want %d", i, got[i], want[i]);
        }
    }
}

static void three_agree(void **state)
{
    (void)state;
    const struct sel_source src[] = {{0.010, 0.05}, {0.012, 0.05}, {0.011, 0.05}};
    const bool want[] = {true, true, true};
    bool tc[N_OF(src)];
    struct sel_result r;

    sel_intersect(src, N_OF(src), tc, &r);
    assert_int_equal(r.n_true, 3);
    assert_flags(tc, want, N_OF(src));
    assert_near(r.low, 0.012 - 0.05, 1e-15); /* all three agree: the common part */
    assert_near(r.high, 0.010 + 0.05, 1e-15);
    assert_near(r.offset, 0.011, 1e-15); /* equal distances: the mean */
    assert_near(r.jitter, sqrt(2e-6 / 3.0), 1e-15);
}

/* The RFC's example shape: one of four sources a second off is the falseticker. */
static void four_one_outlier(void **state)
{
    (void)state;
    const struct sel_source src[] = {{0.000, 0.1}, {1.000, 0.1}, {0.002, 0.1}, {-0.002, 0.1}};
    const bool want[] = {true, false, true, true};
    bool tc[N_OF(src)];
    struct sel_result r;

    sel_intersect(src, N_OF(src), tc, &r);
    assert_int_equal(r.n_true, 3);
    assert_flags(tc, want, N_OF(src));
    assert_near(r.low, 0.002 - 0.1, 1e-15);
    assert_near(r.high, -0.002 + 0.1, 1e-15);
    assert_near(r.offset, 0.0, 1e-15); /* not pulled towards 1 s */
    assert_near(r.jitter, sqrt(8e-6 / 3.0), 1e-15);
}

static void two_disjoint(void **state)
{
    (void)state;
    const struct sel_source src[] = {{0.0, 0.1}, {1.0, 0.1}};
    bool tc[N_OF(src)] = {true, true};
    struct sel_result r;

    memset(&r, 0x5a, sizeof(r));
    sel_intersect(src, N_OF(src), tc, &r);
    assert_int_equal(r.n_true, 0);
    assert_false(tc[0]);
    assert_false(tc[1]);
    assert_true(r.offset == 0.0 && r.jitter == 0.0 && r.low == 0.0 && r.high == 0.0);
}

/* Two against two: f may only reach 1 (< n / 2), so no majority. */
static void two_against_two(void **state)
{
    (void)state;
    const struct sel_source src[] = {{0.0, 0.1}, {0.01, 0.1}, {1.0, 0.1}, {1.01, 0.1}};
    bool tc[N_OF(src)];
    struct sel_result r;

    sel_intersect(src, N_OF(src), tc, &r);
    assert_int_equal(r.n_true, 0);
    for (size_t i = 0; i < N_OF(src); i++) {
        assert_false(tc[i]);
    }
}

static void all_identical(void **state)
{
    (void)state;
    struct sel_source src[5];
    bool tc[5];
    struct sel_result r;

    for (size_t i = 0; i < 5; i++) {
        src[i].offset = 0.5;
        src[i].distance = 0.01;
    }
    sel_intersect(src, 5, tc, &r);
    assert_int_equal(r.n_true, 5);
    for (size_t i = 0; i < 5; i++) {
        assert_true(tc[i]);
    }
    assert_true(r.low == 0.5 - 0.01);
    assert_true(r.high == 0.5 + 0.01);
    assert_true(r.offset == 0.5);
    assert_true(r.jitter == 0.0);
}

static void one_source(void **state)
{
    (void)state;
    const struct sel_source src[] = {{-2.5, 0.25}};
    bool tc[1];
    struct sel_result r;

    sel_intersect(src, 1, tc, &r);
    assert_int_equal(r.n_true, 1);
    assert_true(tc[0]);
    assert_true(r.low == -2.75);
    assert_true(r.high == -2.25);
    assert_true(r.offset == -2.5);
    assert_true(r.jitter == 0.0);
}

static void no_sources(void **state)
{
    (void)state;
    struct sel_result r;

    memset(&r, 0x5a, sizeof(r));
    sel_intersect(NULL, 0, NULL, &r);
    assert_int_equal(r.n_true, 0);
    assert_true(r.offset == 0.0);
}

/* Closed intervals that share only an endpoint share no interval: low < high fails. */
static void touching_at_a_point(void **state)
{
    (void)state;
    const struct sel_source two[] = {{-0.5, 0.5}, {0.5, 0.5}}; /* [-1, 0] and [0, 1] */
    bool tc[3];
    struct sel_result r;

    sel_intersect(two, N_OF(two), tc, &r);
    assert_int_equal(r.n_true, 0);
    assert_false(tc[0]);
    assert_false(tc[1]);

    /* A third interval bridging them: all three meet only at 0 (f = 0 fails), two agree
     * on [-0.25, 0.25] (f = 1), and every interval touches that. */
    const struct sel_source bridge[] = {{-0.5, 0.5}, {0.5, 0.5}, {0.0, 0.25}};
    sel_intersect(bridge, N_OF(bridge), tc, &r);
    assert_int_equal(r.n_true, 3);
    assert_true(r.low == -0.25);
    assert_true(r.high == 0.25);
    assert_true(tc[0] && tc[1] && tc[2]);
    /* Weighted by 1 / distance: (-0.5 * 2 + 0.5 * 2 + 0 * 4) / 8. */
    assert_near(r.offset, 0.0, 1e-15);

    /* Touching pair plus a third far away: the pair's only common point is not enough. */
    const struct sel_source far[] = {{-0.5, 0.5}, {0.5, 0.5}, {5.5, 0.5}};
    sel_intersect(far, N_OF(far), tc, &r);
    assert_int_equal(r.n_true, 0);

    /* An interval that only touches the intersection is a truechimer: [0.1, 0.3]
     * against two copies of [-0.1, 0.1] (0.2 - 0.1 == 0.1 exactly in binary). */
    const struct sel_source edge[] = {{0.0, 0.1}, {0.2, 0.1}, {0.0, 0.1}};
    sel_intersect(edge, N_OF(edge), tc, &r);
    assert_int_equal(r.n_true, 3);
    assert_true(r.low == -0.1);
    assert_true(r.high == 0.1);
    assert_true(tc[0] && tc[1] && tc[2]);
    assert_near(r.offset, 0.2 / 3.0, 1e-15);

    /* Closed intervals: where [0, 1] and [1, 2] touch, two sources agree, so with one
     * falseticker allowed the intersection reaches 1 and [1, 2] is a truechimer (a scan
     * that met the low edge at 1 before the high edge would stop at 0.6 and drop it). */
    const struct sel_source reach[] = {{0.5, 0.5}, {1.5, 0.5}, {0.55, 0.05}};
    sel_intersect(reach, N_OF(reach), tc, &r);
    assert_int_equal(r.n_true, 3);
    assert_true(r.low == 0.5);
    assert_true(r.high == 1.0);
    assert_true(tc[0] && tc[1] && tc[2]);
}

static void five_with_two_falsetickers(void **state)
{
    (void)state;
    const struct sel_source src[] = {
        {0.5, 0.02}, {0.000, 0.02}, {-0.7, 0.02}, {0.004, 0.02}, {-0.003, 0.02},
    };
    const bool want[] = {false, true, false, true, true};
    bool tc[N_OF(src)];
    struct sel_result r;

    sel_intersect(src, N_OF(src), tc, &r);
    assert_int_equal(r.n_true, 3);
    assert_flags(tc, want, N_OF(src));
    assert_near(r.low, 0.004 - 0.02, 1e-15);
    assert_near(r.high, -0.003 + 0.02, 1e-15);
    assert_near(r.offset, 0.001 / 3.0, 1e-15);

    /* Two falsetickers that agree with each other still lose to three. */
    const struct sel_source pair[] = {
        {1.0, 0.02}, {0.000, 0.02}, {1.001, 0.02}, {0.004, 0.02}, {-0.003, 0.02},
    };
    sel_intersect(pair, N_OF(pair), tc, &r);
    assert_int_equal(r.n_true, 3);
    assert_flags(tc, want, N_OF(pair));

    /* Three falsetickers out of five are too many. */
    const struct sel_source three[] = {
        {1.0, 0.02}, {0.000, 0.02}, {2.0, 0.02}, {0.004, 0.02}, {3.0, 0.02},
    };
    sel_intersect(three, N_OF(three), tc, &r);
    assert_int_equal(r.n_true, 0);
}

/* RFC 5905 sec. 11.2.3: weights 1 / distance. */
static void weighted_combine(void **state)
{
    (void)state;
    const struct sel_source src[] = {{0.0, 0.1}, {0.03, 0.05}, {0.01, 0.2}};
    bool tc[N_OF(src)];
    struct sel_result r;

    sel_intersect(src, N_OF(src), tc, &r);
    assert_int_equal(r.n_true, 3);
    double want = (0.0 / 0.1 + 0.03 / 0.05 + 0.01 / 0.2) / (1 / 0.1 + 1 / 0.05 + 1 / 0.2);
    assert_near(r.offset, want, 1e-15);
    assert_near(r.offset, 0.65 / 35.0, 1e-15);
    double j =
        sqrt((want * want + (0.03 - want) * (0.03 - want) + (0.01 - want) * (0.01 - want)) / 3.0);
    assert_near(r.jitter, j, 1e-15);

    /* A subnormal distance (1 / d would be infinite) dominates the combine without
     * overflowing it. Its interval is a single point, so all three agree only at f = 1. */
    const struct sel_source tiny[] = {{0.001, 1e-310}, {0.002, 0.01}, {0.0015, 0.01}};
    sel_intersect(tiny, N_OF(tiny), tc, &r);
    assert_int_equal(r.n_true, 3);
    assert_near(r.low, -0.008, 1e-15);
    assert_near(r.high, 0.0115, 1e-15);
    assert_near(r.offset, 0.001, 1e-15);
    assert_near(r.jitter, sqrt((0.001 * 0.001 + 0.0005 * 0.0005) / 3.0), 1e-15);
}

/* Sources with a distance <= 0 or non-finite values are absent: they neither vote nor
 * count towards the majority. */
static void invalid_sources_ignored(void **state)
{
    (void)state;
    const struct sel_source src[] = {
        {0.0, 0.1},   {NAN, 0.1},      {0.001, NAN},    {0.002, -0.1}, {0.001, 0.1},
        {0.001, 0.0}, {INFINITY, 0.1}, {0.0, INFINITY}, {-0.001, 0.1}, {1e300, 1e300},
    };
    const bool want[] = {true, false, false, false, true, false, false, false, true, false};
    bool tc[N_OF(src)];
    struct sel_result r;

    sel_intersect(src, N_OF(src), tc, &r);
    assert_int_equal(r.n_true, 3);
    assert_flags(tc, want, N_OF(src));
    assert_near(r.offset, 0.0, 1e-15);
    assert_true(isfinite(r.jitter));

    /* Two valid agreeing sources and three invalid ones: two of two is a majority. */
    const struct sel_source few[] = {{NAN, 0.1}, {0.0, 0.1}, {5.0, -1.0}, {0.01, 0.1}, {0.0, 0.0}};
    sel_intersect(few, N_OF(few), tc, &r);
    assert_int_equal(r.n_true, 2);
    assert_true(tc[1] && tc[3]);
    assert_false(tc[0] || tc[2] || tc[4]);

    /* Only invalid sources. */
    const struct sel_source none[] = {{NAN, NAN}, {0.0, -0.0}};
    sel_intersect(none, N_OF(none), tc, &r);
    assert_int_equal(r.n_true, 0);
}

/* The RFC text also counts midpoints outside the interval (d <= f). Not applied: with
 * root distances as intervals it would reject three honest sources whose offsets jitter
 * by more than the overlap of their intervals. */
static void jittery_truechimers_accepted(void **state)
{
    (void)state;
    const struct sel_source src[] = {
        {0.00, 0.03}, {0.02, 0.03}, {0.04, 0.03}, {0.8, 0.03}, {-0.9, 0.03},
    };
    const bool want[] = {true, true, true, false, false};
    bool tc[N_OF(src)];
    struct sel_result r;

    sel_intersect(src, N_OF(src), tc, &r);
    assert_int_equal(r.n_true, 3);
    assert_flags(tc, want, N_OF(src));
    assert_near(r.low, 0.01, 1e-15);
    assert_near(r.high, 0.03, 1e-15);
    assert_near(r.offset, 0.02, 1e-15);
}

/* The majority rule across n: k agreeing sources out of n are found exactly when
 * k > n / 2. */
static void majority_rule(void **state)
{
    (void)state;
    struct sel_source src[9];
    bool tc[9];
    struct sel_result r;

    for (size_t n = 1; n <= 9; n++) {
        for (size_t k = 1; k <= n; k++) {
            for (size_t i = 0; i < n; i++) {
                /* k near zero, the rest spread far apart from each other. */
                src[i].offset = i < k ? 0.001 * (double)i : 10.0 * (double)(i + 1);
                src[i].distance = 0.05;
            }
            sel_intersect(src, n, tc, &r);
            size_t want = 2 * k > n ? k : 0;
            if (r.n_true != want) {
                fail_msg("n %zu k %zu: n_true %zu, want %zu", n, k, r.n_true, want);
            }
        }
    }
}

static void check_same(const struct sel_source *src, size_t n, const struct sel_result *ref,
                       const bool *ref_tc, const size_t *perm)
{
    struct sel_source shuffled[SEL_MAX_SOURCES];
    bool tc[SEL_MAX_SOURCES];
    struct sel_result r;

    for (size_t i = 0; i < n; i++) {
        shuffled[i] = src[perm[i]];
    }
    sel_intersect(shuffled, n, tc, &r);
    assert_int_equal(r.n_true, ref->n_true);
    /* Bit for bit, not just near: the combine sums in a canonical order. */
    assert_true(r.low == ref->low);
    assert_true(r.high == ref->high);
    assert_true(r.offset == ref->offset);
    assert_true(r.jitter == ref->jitter);
    for (size_t i = 0; i < n; i++) {
        assert_int_equal(tc[i], ref_tc[perm[i]]);
    }
}

/* Every permutation of seven sources (two falsetickers, shared endpoints, a duplicate),
 * then random shuffles of the full 64. */
static void order_independent(void **state)
{
    (void)state;
    const struct sel_source src[] = {
        {0.0131, 0.021}, {0.0125, 0.013}, {-0.9, 0.05},     {0.0150, 0.0070},
        {0.0125, 0.013}, {0.6, 0.1},      {0.0087, 0.0123},
    };
    const size_t n = N_OF(src);
    bool ref_tc[N_OF(src)];
    struct sel_result ref;
    size_t perm[N_OF(src)];
    size_t c[N_OF(src)];
    size_t count = 1;

    sel_intersect(src, n, ref_tc, &ref);
    assert_int_equal(ref.n_true, 5);
    assert_false(ref_tc[2]);
    assert_false(ref_tc[5]);
    /* Heap's algorithm, iterative. */
    for (size_t i = 0; i < n; i++) {
        perm[i] = i;
        c[i] = 0;
    }
    check_same(src, n, &ref, ref_tc, perm);
    for (size_t i = 1; i < n;) {
        if (c[i] < i) {
            size_t j = i % 2 == 0 ? 0 : c[i];
            size_t t = perm[j];
            perm[j] = perm[i];
            perm[i] = t;
            check_same(src, n, &ref, ref_tc, perm);
            count++;
            c[i]++;
            i = 1;
        } else {
            c[i] = 0;
            i++;
        }
    }
    assert_int_equal(count, 5040);

    struct sel_source big[SEL_MAX_SOURCES];
    bool big_tc[SEL_MAX_SOURCES];
    size_t big_perm[SEL_MAX_SOURCES];
    uint32_t rng = 12345;
    for (size_t i = 0; i < SEL_MAX_SOURCES; i++) {
        rng = rng * 1103515245u + 12345u;
        big[i].offset = (double)(rng >> 16) / 65536.0 * 0.01 + (i % 5 == 0 ? 3.0 : 0.0);
        big[i].distance = 0.005 + (double)(i % 7) * 0.001;
        big_perm[i] = i;
    }
    sel_intersect(big, SEL_MAX_SOURCES, big_tc, &ref);
    assert_true(ref.n_true > SEL_MAX_SOURCES / 2);
    for (int round = 0; round < 200; round++) {
        for (size_t i = SEL_MAX_SOURCES - 1; i > 0; i--) {
            rng = rng * 1103515245u + 12345u;
            size_t j = (rng >> 8) % (i + 1);
            size_t t = big_perm[i];
            big_perm[i] = big_perm[j];
            big_perm[j] = t;
        }
        check_same(big, SEL_MAX_SOURCES, &ref, big_tc, big_perm);
    }
}

/* Closed intervals containing the point x. */
static size_t depth_at(const struct sel_source *src, size_t n, double x)
{
    size_t d = 0;
    for (size_t i = 0; i < n; i++) {
        if (src[i].offset - src[i].distance <= x && x <= src[i].offset + src[i].distance) {
            d++;
        }
    }
    return d;
}

/* A slow reference written from the definition: for each f, the lowest and highest
 * endpoint lying in at least n - f closed intervals. */
static void reference(const struct sel_source *src, size_t n, struct sel_result *r, bool *tc)
{
    memset(r, 0, sizeof(*r));
    for (size_t f = 0; 2 * f < n; f++) {
        double low = INFINITY;
        double high = -INFINITY;
        for (size_t i = 0; i < n; i++) {
            double e[2] = {src[i].offset - src[i].distance, src[i].offset + src[i].distance};
            for (int k = 0; k < 2; k++) {
                if (depth_at(src, n, e[k]) >= n - f) {
                    low = fmin(low, e[k]);
                    high = fmax(high, e[k]);
                }
            }
        }
        if (low < high) {
            r->low = low;
            r->high = high;
            for (size_t i = 0; i < n; i++) {
                tc[i] = src[i].offset + src[i].distance >= low &&
                        src[i].offset - src[i].distance <= high;
                r->n_true += tc[i];
            }
            return;
        }
    }
    for (size_t i = 0; i < n; i++) {
        tc[i] = false;
    }
}

/* Random sets on a coarse grid (so shared endpoints are common) against the reference. */
static void matches_reference(void **state)
{
    (void)state;
    struct sel_source src[12];
    bool tc[12];
    bool want_tc[12];
    struct sel_result r;
    struct sel_result want;
    uint32_t rng = 99;
    size_t found = 0;

    for (int round = 0; round < 20000; round++) {
        rng = rng * 1103515245u + 12345u;
        size_t n = 1 + (rng >> 16) % 12;
        for (size_t i = 0; i < n; i++) {
            rng = rng * 1103515245u + 12345u;
            src[i].offset = (double)((int)((rng >> 8) % 21) - 10) * 0.125;
            rng = rng * 1103515245u + 12345u;
            src[i].distance = (double)(1 + (rng >> 8) % 8) * 0.125;
        }
        sel_intersect(src, n, tc, &r);
        reference(src, n, &want, want_tc);
        if (r.n_true != want.n_true) {
            fail_msg("round %d n %zu: n_true %zu, want %zu", round, n, r.n_true, want.n_true);
        }
        assert_flags(tc, want_tc, n);
        if (want.n_true > 0) {
            found++;
            assert_true(r.low == want.low);
            assert_true(r.high == want.high);
        }
    }
    /* Both outcomes were exercised in bulk. */
    assert_true(found > 2000 && found < 18000);
}

/* More than SEL_MAX_SOURCES: the rest are ignored and never truechimers. */
static void too_many_sources(void **state)
{
    (void)state;
    struct sel_source src[SEL_MAX_SOURCES + 6];
    bool tc[SEL_MAX_SOURCES + 6];
    struct sel_result r;

    for (size_t i = 0; i < SEL_MAX_SOURCES + 6; i++) {
        src[i].offset = 0.001;
        src[i].distance = 0.01;
    }
    sel_intersect(src, SEL_MAX_SOURCES + 6, tc, &r);
    assert_int_equal(r.n_true, SEL_MAX_SOURCES);
    for (size_t i = 0; i < SEL_MAX_SOURCES + 6; i++) {
        assert_int_equal(tc[i], i < SEL_MAX_SOURCES);
    }
}

/* RFC 5905 sec. 11.2.2 clustering. */
static void cluster_run(const double *off, const double *jit, const bool *keep, bool *surv,
                        size_t n, unsigned minclock, size_t want_alive, const bool *want)
{
    struct sel_cluster_source c[16];
    for (size_t i = 0; i < n; i++) {
        c[i].offset = off[i];
        c[i].jitter = jit[i];
        c[i].keep = keep != NULL && keep[i];
    }
    assert_int_equal(sel_cluster(c, n, minclock, surv), want_alive);
    assert_flags(surv, want, n);
}

static void cluster_trims_to_minclock(void **state)
{
    (void)state;
    /* The outlier goes first; then -1 ms, the farthest from the rest (RMS 1.55 ms against
     * 1.32 ms for +1 ms); three remain: minclock. */
    const double off[] = {0.0, 0.001, -0.001, 0.0005, 0.05};
    const double jit[] = {1e-4, 1e-4, 1e-4, 1e-4, 1e-4};
    bool surv[] = {true, true, true, true, true};
    const bool want[] = {true, true, false, true, false};
    cluster_run(off, jit, NULL, surv, 5, 3, 3, want);
}

static void cluster_stops_at_peer_jitter(void **state)
{
    (void)state;
    /* The survivors' spread (0.4 ms) is below their own jitter (10 ms): nothing to gain. */
    const double off[] = {0.0, 0.0001, 0.0002, 0.0003, 0.0004};
    const double jit[] = {0.01, 0.01, 0.01, 0.01, 0.01};
    bool surv[] = {true, true, true, true, true};
    const bool want[] = {true, true, true, true, true};
    cluster_run(off, jit, NULL, surv, 5, 3, 5, want);
    /* One quiet source among them (it stays, in the middle): its jitter is the floor, so
     * the spread now counts: +0.45 ms goes, then +0.32 ms. */
    const double off2[] = {0.0002, 0.0, 0.0001, 0.00032, 0.00045};
    const double jit2[] = {1e-6, 0.01, 0.01, 0.01, 0.01};
    bool surv2[] = {true, true, true, true, true};
    const bool want2[] = {true, true, true, false, false};
    cluster_run(off2, jit2, NULL, surv2, 5, 3, 3, want2);
}

static void cluster_keeps_true_sources(void **state)
{
    (void)state;
    /* The outlier is `true`: it stays, and those farthest from the others go instead
     * (-0.3 ms, then 0: the ones farthest from the kept outlier). */
    const double off[] = {0.0, 0.0002, -0.0003, 0.0001, 0.05};
    const double jit[] = {1e-6, 1e-6, 1e-6, 1e-6, 1e-6};
    const bool keep[] = {false, false, false, false, true};
    bool surv[] = {true, true, true, true, true};
    const bool want[] = {false, true, false, true, true};
    cluster_run(off, jit, keep, surv, 5, 3, 3, want);
    /* Every source kept: nothing can be removed. */
    const bool all[] = {true, true, true, true, true};
    bool surv2[] = {true, true, true, true, true};
    cluster_run(off, jit, all, surv2, 5, 1, 5, all);
}

static void cluster_ignores_non_survivors(void **state)
{
    (void)state;
    /* A falseticker from the intersection (survivor false) neither votes nor comes back;
     * with it ignored the three others are within minclock. */
    const double off[] = {0.0, 0.0002, 5.0, -0.0001};
    const double jit[] = {1e-6, 1e-6, 1e-6, 1e-6};
    bool surv[] = {true, true, false, true};
    const bool want[] = {true, true, false, true};
    cluster_run(off, jit, NULL, surv, 4, 3, 3, want);
    /* minclock at or above the count, or fewer than two: nothing to do. */
    bool surv2[] = {true, true, true, true};
    const bool want2[] = {true, true, true, true};
    cluster_run(off, jit, NULL, surv2, 4, 4, 4, want2);
    bool surv3[] = {false, false, true, false};
    const bool want3[] = {false, false, true, false};
    cluster_run(off, jit, NULL, surv3, 4, 0, 1, want3);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(three_agree),
        cmocka_unit_test(four_one_outlier),
        cmocka_unit_test(two_disjoint),
        cmocka_unit_test(two_against_two),
        cmocka_unit_test(all_identical),
        cmocka_unit_test(one_source),
        cmocka_unit_test(no_sources),
        cmocka_unit_test(touching_at_a_point),
        cmocka_unit_test(five_with_two_falsetickers),
        cmocka_unit_test(weighted_combine),
        cmocka_unit_test(invalid_sources_ignored),
        cmocka_unit_test(jittery_truechimers_accepted),
        cmocka_unit_test(majority_rule),
        cmocka_unit_test(order_independent),
        cmocka_unit_test(matches_reference),
        cmocka_unit_test(too_many_sources),
        cmocka_unit_test(cluster_trims_to_minclock),
        cmocka_unit_test(cluster_stops_at_peer_jitter),
        cmocka_unit_test(cluster_keeps_true_sources),
        cmocka_unit_test(cluster_ignores_non_survivors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
