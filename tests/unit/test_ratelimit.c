/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for core/ratelimit: the SipHash-2-4 vectors, the burst / average / minimum
 * rules with exact counts, KoD pacing, /64 keying, bounded memory under a spoofed flood,
 * LRU eviction and key-dependent placement, and clocks that jump.
 * The module's .c is included (as chrony's unit tests do) to reach set_index(); the test
 * then does not link the library's copy of the rl_* symbols. The SipHash vectors test
 * core/siphash, which the table uses.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>
#include <pthread.h>

#include "core/ratelimit.c"

#define COST_MS 8000 /* 2^3 s with the defaults */

static const uint8_t key_a[16] = {0x3c, 0x11, 0x9e, 0x07, 0x5a, 0xd2, 0x68, 0xf1,
                                  0x24, 0xb9, 0x80, 0x4e, 0x17, 0xcb, 0x63, 0x0d};
static const uint8_t key_b[16] = {0xa7, 0x02, 0x5f, 0xe8, 0x31, 0x96, 0x4b, 0xdc,
                                  0x70, 0x1a, 0xc5, 0x3e, 0x89, 0x54, 0xf6, 0x2b};
static const struct rl_config defaults = {RL_DEFAULT_AVERAGE_LOG2, RL_DEFAULT_MINIMUM_S,
                                          RL_DEFAULT_BURST};
static const struct rl_config burst1 = {3, 2, 1};

static struct rl_table *table_new(uint32_t entries, const struct rl_config *cfg,
                                  const uint8_t key[16])
{
    void *mem = malloc(rl_size(entries));
    struct rl_table *t;

    assert_non_null(mem);
    memset(mem, 0xee, rl_size(entries)); /* rl_init must not rely on zeroed memory */
    t = rl_init(mem, entries, cfg, key);
    assert_ptr_equal(t, mem);
    assert_int_equal(rl_used(t), 0);
    return t;
}

static struct net_addr v4(uint32_t x)
{
    struct net_addr a;

    memset(&a, 0, sizeof a);
    a.family = NET_IPV4;
    for (int i = 0; i < 4; i++) {
        a.bytes[i] = (uint8_t)(x >> (24 - 8 * i));
    }
    return a;
}

static struct net_addr v6(uint64_t hi, uint64_t lo)
{
    struct net_addr a;

    memset(&a, 0, sizeof a);
    a.family = NET_IPV6;
    for (int i = 0; i < 8; i++) {
        a.bytes[i] = (uint8_t)(hi >> (56 - 8 * i));
        a.bytes[8 + i] = (uint8_t)(lo >> (56 - 8 * i));
    }
    return a;
}

static enum rl_verdict check(struct rl_table *t, struct net_addr a, int64_t now_ms)
{
    return rl_check(t, &a, now_ms);
}

static uint32_t set_of(const struct rl_table *t, struct net_addr a)
{
    uint64_t key = 0;

    assert_true(source_key(&a, &key));
    return set_index(t, a.family, key);
}

#define K0 siphash_load_le64(key)
#define K1 siphash_load_le64(key + 8)

static void test_siphash_vectors(void **state)
{
    uint8_t key[16];
    uint8_t msg[16];

    (void)state;
    for (int i = 0; i < 16; i++) {
        key[i] = (uint8_t)i;
        msg[i] = (uint8_t)i;
    }
    /* The paper's appendix A: 15-byte message 00..0e under key 00..0f. */
    assert_int_equal(siphash24(K0, K1, msg, 15), 0xa129ca6149be45e5ull);
    /* The reference implementation's vectors for lengths 0 and 8. */
    assert_int_equal(siphash24(K0, K1, msg, 0), 0x726fdb47dd0e0e31ull);
    assert_int_equal(siphash24(K0, K1, msg, 8), 0x93f5f5799a932462ull);
}

static void test_size(void **state)
{
    struct rl_table *t;

    (void)state;
    assert_int_equal(rl_size(0), rl_size(64));
    assert_int_equal(rl_size(1), rl_size(64));
    assert_int_equal(rl_size(65), rl_size(72)); /* whole sets of 8 */
    assert_int_equal(rl_size(128) - rl_size(64), 64 * RL_SLOT_BYTES);
    assert_int_equal(rl_size(UINT32_MAX), rl_size(1u << 24));
    assert_true(rl_size(64) >= 64 * RL_SLOT_BYTES);

    t = table_new(0, &defaults, key_a);
    assert_int_equal(rl_capacity(t), 64);
    free(t);
    t = table_new(100000, &defaults, key_a);
    assert_int_equal(rl_capacity(t), 100000);
    free(t);
    t = table_new(100001, &defaults, key_a);
    assert_int_equal(rl_capacity(t), 100008);
    free(t);
}

/* One request per 8 s, 1000 times, is never limited; nor is 7/9 s jitter around it. */
static void test_steady_rate_never_limited(void **state)
{
    struct rl_table *t = table_new(64, &defaults, key_a);
    int64_t now = 123456;

    (void)state;
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(check(t, v4(0xc0000201), now), RL_PASS);
        now += COST_MS;
    }
    for (int i = 0; i < 1000; i++) {
        assert_int_equal(check(t, v6(0x20010db800000001ull, 5), now), RL_PASS);
        now += i % 2 ? 7000 : 9000;
    }
    assert_int_equal(rl_used(t), 2);
    free(t);
}

/* 7 s spacing is 8/7 of the allowed rate: passes are capped at (elapsed + cap) / cost. */
static void test_faster_than_average(void **state)
{
    struct rl_table *t = table_new(64, &defaults, key_a);
    int passes = 0;
    int kods = 0;

    (void)state;
    for (int i = 0; i < 1000; i++) {
        enum rl_verdict v = check(t, v4(0xc0000202), (int64_t)i * 7000);

        passes += v == RL_PASS;
        kods += v == RL_LIMITED_KOD;
    }
    /* (999 * 7000 + 64000) / 8000 = 882.1 */
    assert_int_equal(passes, 882);
    /* Each limited request comes 7 s after a pass or a KoD; only 8 s since the last KoD
     * allows another, so all but the ones within 8 s of a KoD are KoDs. */
    assert_int_equal(passes + kods, 1000);
    free(t);
}

static void test_burst(void **state)
{
    static const struct rl_config cfg = {4, 2, 3}; /* 16 s, 2 s, burst 3 */
    struct rl_table *t = table_new(64, &defaults, key_a);
    struct net_addr a = v4(0xcb007101);

    (void)state;
    for (int i = 0; i < 8; i++) {
        assert_int_equal(check(t, a, 1000), RL_PASS);
    }
    assert_int_equal(check(t, a, 1000), RL_LIMITED_KOD);
    assert_int_equal(check(t, a, 1000), RL_LIMITED_DROP);
    assert_int_equal(check(t, a, 1001), RL_LIMITED_DROP);
    /* One cost later, exactly one more (the gap since the last request is >= 2 s). */
    assert_int_equal(check(t, a, 9001), RL_PASS);
    assert_int_equal(check(t, a, 9001), RL_LIMITED_KOD);
    free(t);

    t = table_new(64, &cfg, key_a);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(check(t, a, 0), RL_PASS);
    }
    assert_int_equal(check(t, a, 0), RL_LIMITED_KOD);
    assert_int_equal(check(t, a, 15999), RL_LIMITED_DROP);
    assert_int_equal(check(t, a, 18000), RL_PASS);
    free(t);
}

/* Requests closer than `minimum` pass only among the first `burst` since a full bucket. */
static void test_minimum(void **state)
{
    struct rl_table *t = table_new(64, &defaults, key_a);
    struct net_addr a = v4(0xc6336401);
    struct net_addr b = v4(0xc6336402);

    (void)state;
    /* 4 s spacing: eight passes use the allowance while credit stays ample. */
    for (int i = 0; i < 8; i++) {
        assert_int_equal(check(t, a, (int64_t)i * 4000), RL_PASS);
    }
    /* Credit is 29000 at t = 29000, but the gap is 1 s and the allowance is spent. */
    assert_int_equal(check(t, a, 29000), RL_LIMITED_KOD);
    /* 2 s after that limited request: a normal pass. */
    assert_int_equal(check(t, a, 31000), RL_PASS);
    assert_int_equal(check(t, a, 31500), RL_LIMITED_DROP);

    /* 1 s spacing from a fresh start: burst passes, then the minimum bites although
     * credit (8000) would pay for one more. */
    for (int i = 0; i < 8; i++) {
        assert_int_equal(check(t, b, (int64_t)i * 1000), RL_PASS);
    }
    assert_int_equal(check(t, b, 8000), RL_LIMITED_KOD);
    assert_int_equal(check(t, b, 10000), RL_PASS);
    free(t);
}

/* A flood from one source: passes and KoDs are both paced, with exact counts. */
static void test_kod_paced_under_flood(void **state)
{
    struct rl_table *t = table_new(64, &defaults, key_a);
    struct net_addr a = v6(0x20010db8000000ffull, 1);
    int64_t last_kod = INT64_MIN;
    int passes = 0;
    int kods = 0;
    int drops = 0;

    (void)state;
    for (int64_t now = 0; now < 100000; now += 10) {
        switch (check(t, a, now)) {
        case RL_PASS:
            passes++;
            break;
        case RL_LIMITED_KOD:
            if (kods > 0) {
                assert_true(now - last_kod >= COST_MS);
            }
            last_kod = now;
            kods++;
            break;
        case RL_LIMITED_DROP:
            drops++;
            break;
        }
    }
    /* Burst at 0..70 ms; the bucket is full again at 64000 ms, another burst of 8. KoDs
     * at 80 + k * 8000 ms, k = 0..12. */
    assert_int_equal(passes, 16);
    assert_true(passes <= 8 + 100000 / COST_MS);
    assert_int_equal(kods, 13);
    assert_int_equal(last_kod, 96080);
    assert_int_equal(drops, 10000 - 16 - 13);
    free(t);
}

/* Limited requests never earn credit: a source that keeps asking is no better off than a
 * source that waits. */
static void test_limited_earns_nothing(void **state)
{
    struct rl_table *t = table_new(64, &defaults, key_a);
    struct net_addr pest = v4(0x0a000001);
    struct net_addr quiet = v4(0x0a000002);

    (void)state;
    for (int i = 0; i < 8; i++) {
        assert_int_equal(check(t, pest, 0), RL_PASS);
        assert_int_equal(check(t, quiet, 0), RL_PASS);
    }
    for (int64_t now = 500; now <= 5000; now += 500) {
        assert_int_not_equal(check(t, pest, now), RL_PASS);
    }
    /* 7999 ms of credit: had any limited request earned some, this would pass. */
    assert_int_not_equal(check(t, pest, 7999), RL_PASS);
    /* From here on both are judged alike: 2000 ms of credit left after these. */
    assert_int_equal(check(t, pest, 10000), RL_PASS);
    assert_int_equal(check(t, quiet, 10000), RL_PASS);
    assert_int_not_equal(check(t, pest, 15999), RL_PASS);
    assert_int_not_equal(check(t, quiet, 15999), RL_PASS);
    assert_int_equal(check(t, pest, 18000), RL_PASS);
    assert_int_equal(check(t, quiet, 18000), RL_PASS);
    free(t);
}

/* The key is the IPv4 address or the IPv6 /64: hosts in one /64 share one budget. */
static void test_keying(void **state)
{
    struct rl_table *t = table_new(64, &defaults, key_a);
    struct net_addr h1 = v6(0x20010db800010002ull, 1);
    struct net_addr h2 = v6(0x20010db800010002ull, 0xffffffffffffffffull);
    struct net_addr other64 = v6(0x20010db800010003ull, 1);
    struct net_addr ip4a = v4(0x01020304);
    struct net_addr ip4b = v4(0x01020305);
    struct net_addr same_bits = v6(0x0000000001020304ull, 0);

    (void)state;
    for (int i = 0; i < 8; i++) {
        assert_int_equal(check(t, i % 2 ? h1 : h2, 0), RL_PASS);
    }
    assert_int_equal(check(t, h1, 0), RL_LIMITED_KOD);
    assert_int_equal(check(t, h2, 0), RL_LIMITED_DROP);
    assert_int_equal(rl_used(t), 1);
    assert_int_equal(check(t, other64, 0), RL_PASS);
    assert_int_equal(rl_used(t), 2);

    for (int i = 0; i < 8; i++) {
        assert_int_equal(check(t, ip4a, 0), RL_PASS);
    }
    assert_int_equal(check(t, ip4a, 0), RL_LIMITED_KOD);
    assert_int_equal(check(t, ip4b, 0), RL_PASS);
    /* Equal key bits in another family are another source. */
    assert_int_equal(check(t, same_bits, 0), RL_PASS);
    assert_int_equal(rl_used(t), 5);
    free(t);
}

/* 1,000,000 spoofed sources, one per ms, never grow the table, and a client at the allowed
 * rate is always answered: either its entry survived, or it was evicted and starts over
 * with full credit. */
static void test_spoofed_flood(void **state)
{
    struct rl_table *t = table_new(1024, &defaults, key_a);
    struct net_addr legit = v4(0xc0000263);
    uint64_t x = 0x9e3779b97f4a7c15ull;
    int64_t now = 0;

    (void)state;
    for (uint32_t i = 0; i < 1000000; i++, now++) {
        if (now % COST_MS == 0) {
            assert_int_equal(check(t, legit, now), RL_PASS);
            assert_true(rl_used(t) <= rl_capacity(t));
        }
        /* Half IPv4, half IPv6 /64s, all distinct; each is new, so each passes. */
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        if (i % 2) {
            assert_int_equal(check(t, v4(0x0a000000u + i), now), RL_PASS);
        } else {
            assert_int_equal(check(t, v6(x | 1, x), now), RL_PASS);
        }
    }
    assert_int_equal(rl_used(t), 1024);
    assert_int_equal(rl_capacity(t), 1024);

    /* After the flood the table still judges exactly: burst, then limits. */
    for (int i = 0; i < 8; i++) {
        assert_int_equal(check(t, legit, now), RL_PASS);
    }
    assert_int_equal(check(t, legit, now), RL_LIMITED_KOD);
    assert_int_equal(check(t, legit, now + 1), RL_LIMITED_DROP);
    assert_int_equal(check(t, legit, now + COST_MS), RL_PASS);
    assert_int_equal(check(t, legit, now + COST_MS), RL_LIMITED_KOD);
    free(t);
}

/* A source keeps its state while fewer than 8 others land in its set between two of its
 * requests, and loses it (fails open) when 8 do. */
static void test_survival_and_eviction(void **state)
{
    struct rl_table *t = table_new(1024, &defaults, key_a);
    struct net_addr legit = v4(0xc0000264);
    uint32_t legit_set = set_of(t, legit);
    int same_set = 0;

    (void)state;
    for (int i = 0; i < 8; i++) {
        assert_int_equal(check(t, legit, 0), RL_PASS);
    }
    assert_int_equal(check(t, legit, 0), RL_LIMITED_KOD);
    /* 200 other sources in 8 s, fewer than 8 of them in its set (checked, not hoped). */
    for (uint32_t i = 0; i < 200; i++) {
        struct net_addr s = v4(0x0b000000u + i * 7919u);

        same_set += set_of(t, s) == legit_set;
        assert_int_equal(check(t, s, 1 + i), RL_PASS);
    }
    assert_true(same_set < 8);
    assert_int_equal(check(t, legit, 8000), RL_PASS);
    assert_int_equal(check(t, legit, 8000), RL_LIMITED_KOD); /* remembered */

    /* Now eight sources aimed at its set (only a test can aim: it knows the key). */
    same_set = 0;
    for (uint32_t i = 0; same_set < 8; i++) {
        struct net_addr s = v4(0x0c000000u + i);

        if (set_of(t, s) == legit_set) {
            assert_int_equal(check(t, s, 9000), RL_PASS);
            same_set++;
        }
    }
    assert_int_equal(check(t, legit, 9000), RL_PASS); /* forgotten: full credit again */
    assert_int_equal(check(t, legit, 9000), RL_PASS);
    free(t);
}

/* Nine sources in one set under key_a; returns them in s[]. */
static void find_colliding(const struct rl_table *t, struct net_addr s[9])
{
    int n = 0;
    uint32_t target = set_of(t, v4(0x0d000000u));

    for (uint32_t i = 0; n < 9; i++) {
        struct net_addr a = v4(0x0d000000u + i);

        if (set_of(t, a) == target) {
            s[n++] = a;
        }
    }
}

/* A miss evicts the least recently seen way of the set. */
static void test_lru(void **state)
{
    struct rl_table *t = table_new(64, &burst1, key_a);
    struct net_addr s[9];

    (void)state;
    find_colliding(t, s);
    for (int i = 0; i < 8; i++) {
        assert_int_equal(check(t, s[i], 1 + i), RL_PASS);
    }
    assert_int_equal(rl_used(t), 8);
    assert_int_equal(check(t, s[0], 9), RL_LIMITED_KOD); /* s[0] seen again */
    assert_int_equal(check(t, s[8], 10), RL_PASS);       /* evicts s[1] */
    assert_int_equal(rl_used(t), 8);
    assert_int_equal(check(t, s[0], 11), RL_LIMITED_DROP);
    for (int i = 2; i < 9; i++) {
        assert_int_equal(check(t, s[i], 12), RL_LIMITED_KOD);
    }
    assert_int_equal(check(t, s[1], 20), RL_PASS); /* forgotten */
    free(t);
}

/* Placement depends on the key: sources that collide under one key spread under another. */
static void test_key_changes_placement(void **state)
{
    struct rl_table *ta = table_new(64, &burst1, key_a);
    struct rl_table *tb = table_new(64, &burst1, key_b);
    struct net_addr s[9];
    uint32_t sets_b = 0;
    int n_sets_b = 0;
    int equal = 0;

    (void)state;
    for (uint32_t i = 0; i < 8000; i++) {
        equal += set_of(ta, v4(i * 2654435761u)) == set_of(tb, v4(i * 2654435761u));
    }
    /* Unrelated placements agree on 1 source in 8 sets; ~1000 of 8000. */
    assert_in_range(equal, 850, 1150);

    find_colliding(ta, s);
    for (int i = 0; i < 9; i++) {
        sets_b |= 1u << set_of(tb, s[i]);
    }
    for (; sets_b != 0; sets_b &= sets_b - 1) {
        n_sets_b++;
    }
    assert_true(n_sets_b > 1);
    for (int i = 0; i < 9; i++) {
        assert_int_equal(check(ta, s[i], i), RL_PASS);
        assert_int_equal(check(tb, s[i], i), RL_PASS);
    }
    /* Key A: the ninth evicted the first. Key B: everyone still known. */
    assert_int_equal(check(ta, s[0], 100), RL_PASS);
    assert_int_equal(check(tb, s[0], 100), RL_LIMITED_KOD);
    free(ta);
    free(tb);
}

static void test_time_backwards(void **state)
{
    struct rl_table *t = table_new(64, &defaults, key_a);
    struct net_addr a = v4(0xc0a80001);
    struct net_addr b = v4(0xc0a80002);

    (void)state;
    for (int i = 0; i < 8; i++) {
        assert_int_equal(check(t, a, 100000), RL_PASS);
    }
    assert_int_equal(check(t, a, 100000), RL_LIMITED_KOD);
    /* Backwards: no credit, no new KoD. */
    assert_int_equal(check(t, a, 99000), RL_LIMITED_DROP);
    assert_int_equal(check(t, a, 50000), RL_LIMITED_DROP);
    /* Forward again: credit counts from the latest time seen (100000), not from 50000. */
    assert_int_equal(check(t, a, 107999), RL_LIMITED_DROP);
    assert_int_equal(check(t, a, 110000), RL_PASS);
    assert_int_equal(check(t, a, 110000), RL_LIMITED_KOD);

    /* A new source that then sees time step back is judged as if no time passed. */
    assert_int_equal(check(t, b, 5000), RL_PASS);
    for (int i = 0; i < 7; i++) {
        assert_int_equal(check(t, b, 4000 - i), RL_PASS);
    }
    assert_int_equal(check(t, b, 1000), RL_LIMITED_KOD);
    assert_int_equal(check(t, b, 13000), RL_PASS);
    free(t);
}

static void test_huge_gaps(void **state)
{
    struct rl_table *t = table_new(64, &defaults, key_a);
    struct net_addr a = v4(0x08080808);
    struct net_addr b = v6(0x2a0000000000000full, 0);

    (void)state;
    for (int i = 0; i < 8; i++) {
        assert_int_equal(check(t, a, INT64_MIN + 1), RL_PASS);
    }
    assert_int_equal(check(t, a, INT64_MIN + 1), RL_LIMITED_KOD);
    assert_int_equal(check(t, a, INT64_MIN + 2), RL_LIMITED_DROP);
    /* INT64_MAX - INT64_MIN does not fit int64: saturates to a full bucket. */
    for (int i = 0; i < 8; i++) {
        assert_int_equal(check(t, a, INT64_MAX), RL_PASS);
    }
    assert_int_equal(check(t, a, INT64_MAX), RL_LIMITED_KOD);
    assert_int_equal(check(t, a, INT64_MAX), RL_LIMITED_DROP);
    assert_int_equal(check(t, a, 0), RL_LIMITED_DROP);

    /* A KoD at the very first representable instant still counts as sent. */
    for (int i = 0; i < 8; i++) {
        assert_int_equal(check(t, b, INT64_MIN), RL_PASS);
    }
    assert_int_equal(check(t, b, INT64_MIN), RL_LIMITED_KOD);
    assert_int_equal(check(t, b, INT64_MIN), RL_LIMITED_DROP);
    assert_int_equal(check(t, b, -4000000000000000000), RL_PASS);
    assert_int_equal(check(t, b, 4000000000000000000), RL_PASS);
    free(t);
}

static void test_bad_source(void **state)
{
    struct rl_table *t = table_new(64, &defaults, key_a);
    struct net_addr none;

    (void)state;
    memset(&none, 0, sizeof none);
    assert_int_equal(rl_check(t, &none, 0), RL_LIMITED_DROP);
    assert_int_equal(rl_check(t, NULL, 0), RL_LIMITED_DROP);
    none.family = 5;
    assert_int_equal(rl_check(t, &none, 0), RL_LIMITED_DROP);
    assert_int_equal(rl_used(t), 0);
    free(t);
}

/* Out-of-range settings are clamped into ranges where no arithmetic overflows. */
static void test_config_clamps(void **state)
{
    static const struct rl_config zero_burst = {3, 2, 0};
    static const struct rl_config extreme = {100, -5, 4000000000u};
    static const struct rl_config negative = {-7, 0, 2};
    struct rl_table *t;
    struct net_addr a = v4(0x7f000001);

    (void)state;
    t = table_new(64, &zero_burst, key_a);
    assert_int_equal(check(t, a, 0), RL_PASS);
    assert_int_equal(check(t, a, 0), RL_LIMITED_KOD);
    free(t);

    /* 2^24 s average, burst 65535, no minimum. */
    t = table_new(64, &extreme, key_a);
    for (int i = 0; i < 65535; i++) {
        assert_int_equal(check(t, a, i), RL_PASS);
    }
    assert_int_equal(check(t, a, 65535), RL_LIMITED_KOD);
    /* Credit is now 65535 ms: it pays for the next request at t = cost. */
    assert_int_equal(check(t, a, ((int64_t)1000 << 24) - 1), RL_LIMITED_DROP);
    assert_int_equal(check(t, a, (int64_t)1000 << 24), RL_PASS);
    free(t);

    /* Average 2^0 s: one request per second after the burst of 2. */
    t = table_new(64, &negative, key_a);
    assert_int_equal(check(t, a, 0), RL_PASS);
    assert_int_equal(check(t, a, 0), RL_PASS);
    assert_int_equal(check(t, a, 0), RL_LIMITED_KOD);
    assert_int_equal(check(t, a, 1000), RL_PASS);
    free(t);

    /* A NULL configuration means the defaults. */
    t = table_new(64, NULL, key_a);
    for (int i = 0; i < RL_DEFAULT_BURST; i++) {
        assert_int_equal(check(t, a, 0), RL_PASS);
    }
    assert_int_equal(check(t, a, 0), RL_LIMITED_KOD);
    free(t);
}

/* The client list: what one source's datagrams leave behind. */
static void test_client_list(void **state)
{
    (void)state;
    struct rl_table *t = table_new(64, &defaults, key_a);
    struct net_addr a = v4(0xc0000201);
    struct rl_datagram dg = {.src = &a, .port = 40000, .mode_version = 4 << 3 | 3,
                             .flags = 0x14, .limit = false};

    for (int i = 0; i < 5; i++) {
        dg.port = (uint16_t)(40000 + i);
        assert_int_equal(rl_account(t, &dg, 1000 + i * 100), RL_PASS);
    }
    /* A mode 6 query from the same address: recorded, never judged. */
    dg.mode_version = 2 << 3 | 6;
    dg.port = 5555;
    assert_int_equal(rl_account(t, &dg, 2000), RL_PASS);
    uint32_t found = 0;
    struct rl_client c;
    for (uint32_t i = 0; i < rl_capacity(t); i++) {
        if (rl_read(t, i, &c)) {
            found++;
            assert_int_equal(c.addr.family, NET_IPV4);
            assert_memory_equal(c.addr.bytes, a.bytes, 16);
            assert_int_equal(c.count, 6);
            assert_int_equal(c.port, 5555);
            assert_int_equal(c.mode_version, 2 << 3 | 6);
            assert_int_equal(c.first_ms, 1000);
            assert_int_equal(c.last_ms, 2000);
            assert_int_equal(c.limited, 0);
            assert_int_equal(c.flags, 0x14);
        }
    }
    assert_int_equal(found, 1);
    assert_false(rl_read(t, rl_capacity(t), &c));
    free(t);
}

static void test_client_list_limits_and_ipv6(void **state)
{
    (void)state;
    struct rl_table *t = table_new(64, &burst1, key_a);
    struct net_addr a = v6(0x20010db800000001ull, 0x1111);
    struct rl_datagram dg = {.src = &a, .port = 123, .mode_version = 4 << 3 | 3,
                             .limit = true, .kod = true};

    /* burst 1, minimum 2 s: the first passes; back to back, then a KoD, then drops. */
    assert_int_equal(rl_account(t, &dg, 0), RL_PASS);
    assert_int_equal(rl_account(t, &dg, 10), RL_LIMITED_KOD);
    assert_int_equal(rl_account(t, &dg, 20), RL_LIMITED_DROP);
    /* Another host of the same /64: the same source, its address now the latest. */
    struct net_addr b = v6(0x20010db800000001ull, 0x2222);
    dg.src = &b;
    assert_int_equal(rl_account(t, &dg, 30), RL_LIMITED_DROP);
    struct rl_client c;
    uint32_t found = 0;
    for (uint32_t i = 0; i < rl_capacity(t); i++) {
        if (rl_read(t, i, &c)) {
            found++;
            assert_memory_equal(c.addr.bytes, b.bytes, 16);
            assert_int_equal(c.count, 4);
            assert_int_equal(c.limited, 3);
            assert_int_equal(c.kods, 1);
        }
    }
    assert_int_equal(found, 1);
    assert_int_equal(rl_used(t), 1);
    free(t);
}

/* A reader beside a writer: every copy rl_read returns is one the writer wrote whole
 * (the writer keeps port == count mod 65536, so a torn copy would show it). */
struct hammer {
    struct rl_table *t;
    _Atomic int stop;
};

static void *hammer_writer(void *arg)
{
    struct hammer *h = arg;
    struct net_addr a[8];
    uint32_t n[8] = {0};
    for (unsigned k = 0; k < 8; k++) {
        a[k] = v4(0x0a000001u + k);
    }
    for (uint32_t i = 0; !atomic_load(&h->stop) && i < 2000000; i++) {
        unsigned k = i % 8;
        n[k]++;
        struct rl_datagram dg = {.src = &a[k], .port = (uint16_t)n[k],
                                 .mode_version = (uint8_t)n[k], .limit = false};
        rl_account(h->t, &dg, (int64_t)i);
    }
    return NULL;
}

static void test_client_list_concurrent_reader(void **state)
{
    (void)state;
    struct hammer h = {.t = table_new(64, &defaults, key_b)};
    atomic_init(&h.stop, 0);
    pthread_t th;
    assert_int_equal(pthread_create(&th, NULL, hammer_writer, &h), 0);
    unsigned reads = 0;
    for (unsigned round = 0; round < 20000; round++) {
        for (uint32_t i = 0; i < rl_capacity(h.t); i++) {
            struct rl_client c;
            if (rl_read(h.t, i, &c)) {
                reads++;
                assert_int_equal(c.port, (uint16_t)c.count);
                assert_int_equal(c.mode_version, (uint8_t)c.count);
                assert_true(c.first_ms <= c.last_ms);
            }
        }
    }
    atomic_store(&h.stop, 1);
    pthread_join(th, NULL);
    assert_true(reads > 0);
    free(h.t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_siphash_vectors),
        cmocka_unit_test(test_size),
        cmocka_unit_test(test_steady_rate_never_limited),
        cmocka_unit_test(test_faster_than_average),
        cmocka_unit_test(test_burst),
        cmocka_unit_test(test_minimum),
        cmocka_unit_test(test_kod_paced_under_flood),
        cmocka_unit_test(test_limited_earns_nothing),
        cmocka_unit_test(test_keying),
        cmocka_unit_test(test_spoofed_flood),
        cmocka_unit_test(test_survival_and_eviction),
        cmocka_unit_test(test_lru),
        cmocka_unit_test(test_key_changes_placement),
        cmocka_unit_test(test_time_backwards),
        cmocka_unit_test(test_huge_gaps),
        cmocka_unit_test(test_bad_source),
        cmocka_unit_test(test_config_clamps),
        cmocka_unit_test(test_client_list),
        cmocka_unit_test(test_client_list_limits_and_ipv6),
        cmocka_unit_test(test_client_list_concurrent_reader),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
