/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for src/core/assoc: the reach register over answered and unanswered polls
 * (exact bit patterns), the iburst/burst schedule, poll bounds and backoff, the on-wire
 * rules (one reply per request; bogus, zero-origin, unsolicited and duplicate replies
 * change nothing but a counter, checked with memcmp of the whole struct), the KoD policy,
 * each header-sanity reason, loop detection and the step hook.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <string.h>

#include "core/assoc.h"
#include "core/client.h"
#include "core/ntp_time.h"
#include "core/pkt.h"

#define SEC(x) ((uint64_t)((x)*4294967296.0))
/* Our clock's time scale for T1..T4: some day in 2024 as an NTP timestamp. */
#define EPOCH (UINT64_C(0xe9000000) << 32)
#define ADDR_REFID UINT32_C(0xc0000202) /* 192.0.2.2: our address */
#define SYS_REFID UINT32_C(0xc0000263)  /* 192.0.2.99: our system peer */

static const struct assoc_local LOCAL = {
    .precision = -20, .sys_refid = SYS_REFID, .addr_refid = ADDR_REFID, .authenticated = false};

/* Test clock: monotonic seconds and the matching NTP time of our clock. */
static ntp_ts_t ntp_at(double mono)
{
    return EPOCH + SEC(mono);
}

static struct assoc_config config(int8_t minpoll, int8_t maxpoll, bool iburst)
{
    struct assoc_config c;
    assoc_config_default(&c);
    c.minpoll = minpoll;
    c.maxpoll = maxpoll;
    c.iburst = iburst;
    return c;
}

/* A valid server reply to nonce, received 20 ms after t1 from a server 5 ms ahead. */
static struct ntp_packet reply_to(uint64_t nonce, ntp_ts_t t1)
{
    struct ntp_packet p;
    memset(&p, 0, sizeof(p));
    p.version = 4;
    p.mode = PKT_MODE_SERVER;
    p.stratum = 2;
    p.poll = 6;
    p.precision = -20;
    p.root_delay = 0x00000100; /* ~3.9 ms */
    p.root_disp = 0x00000100;
    p.refid = UINT32_C(0xc6336401);
    p.org = nonce;
    p.rec = t1 + SEC(0.015);
    p.xmt = t1 + SEC(0.016);
    p.ref = p.rec - SEC(30);
    return p;
}

static enum assoc_result deliver(struct assoc *a, double now, const struct ntp_packet *p,
                                 struct ntp_sample *s)
{
    uint8_t buf[PKT_HEADER_LEN];
    assert_int_equal(pkt_encode(p, buf, sizeof(buf)), PKT_HEADER_LEN);
    return assoc_receive(a, now, buf, sizeof(buf), ntp_at(now), &LOCAL, s);
}

static uint64_t next_nonce = UINT64_C(0x1000000000000001);

/* Makes a request at now; returns its nonce. */
static uint64_t request(struct assoc *a, double now)
{
    uint8_t buf[64];
    uint64_t nonce = next_nonce;
    next_nonce += UINT64_C(0x0100000000000f01);
    assert_int_equal(assoc_make_request(a, now, nonce, ntp_at(now), buf, sizeof(buf)), 48);
    return nonce;
}

/* Polls at now and, if answered, delivers a valid reply 20 ms later. */
static enum assoc_result poll_once(struct assoc *a, double now, bool answered)
{
    uint64_t nonce = request(a, now);
    if (!answered) {
        return ASSOC_RESULT_COUNT;
    }
    struct ntp_packet p = reply_to(nonce, ntp_at(now));
    struct ntp_sample s;
    return deliver(a, now + 0.02, &p, &s);
}

/* Asserts the receive changed nothing but the named counter (and received). */
#define ASSERT_ONLY_COUNTER(before, after, field)                                                  \
    do {                                                                                           \
        assert_int_equal((after).counters.received, (before).counters.received + 1);               \
        assert_int_equal((after).counters.field, (before).counters.field + 1);                     \
        struct assoc fixed_;                                                                       \
        memcpy(&fixed_, &(after), sizeof(fixed_));                                                 \
        fixed_.counters = (before).counters;                                                       \
        assert_memory_equal(&fixed_, &(before), sizeof(fixed_));                                   \
    } while (0)

static void init_defaults_and_bad_configs(void **state)
{
    (void)state;
    struct assoc_config c;
    struct assoc a;

    assoc_config_default(&c);
    assert_int_equal(c.minpoll, 6);
    assert_int_equal(c.maxpoll, 10);
    assert_int_equal(c.version, 4);
    assert_true(c.maxdist == 1.5);
    assert_false(c.iburst);
    assert_true(assoc_init(&a, &c, 50.0));
    assert_int_equal(assoc_poll(&a), 6);
    assert_int_equal(assoc_reach(&a), 0);
    assert_true(assoc_unreachable(&a));
    assert_false(assoc_outstanding(&a));
    assert_int_equal(assoc_flags(&a), 0);
    assert_true(assoc_due(&a, 50.0));
    assert_false(assoc_due(&a, 49.999));
    assert_true(assoc_next_due(&a) == 50.0);

    struct assoc_config bad = c;
    bad.minpoll = 11; /* > maxpoll */
    assert_false(assoc_init(&a, &bad, 0));
    bad = c;
    bad.maxpoll = 18;
    assert_false(assoc_init(&a, &bad, 0));
    bad = c;
    bad.minpoll = -1;
    assert_false(assoc_init(&a, &bad, 0));
    bad = c;
    bad.version = 5;
    assert_false(assoc_init(&a, &bad, 0));
    bad = c;
    bad.maxdist = NAN;
    assert_false(assoc_init(&a, &bad, 0));
    bad = c;
    bad.maxdist = 0;
    assert_false(assoc_init(&a, &bad, 0));
    bad = config(0, 0, false); /* lab: 1 s */
    assert_true(assoc_init(&a, &bad, 0));
}

static void request_is_data_minimised_with_hpoll(void **state)
{
    (void)state;
    struct assoc_config c = config(7, 9, false);
    struct assoc a;
    uint8_t buf[64], want[48];

    assert_true(assoc_init(&a, &c, 0));
    assert_int_equal(assoc_make_request(&a, 0, 0x1122334455667788, ntp_at(0), buf, 47), 0);
    assert_int_equal(assoc_counters(&a)->sent, 0);
    assert_int_equal(assoc_make_request(&a, 0, 0x1122334455667788, ntp_at(0), buf, 64), 48);
    assert_int_equal(client_request(want, sizeof(want), 4, 7, 0x1122334455667788), 48);
    assert_memory_equal(buf, want, 48);
    assert_true(assoc_outstanding(&a));
    assert_int_equal(assoc_counters(&a)->sent, 1);
    /* A zero nonce would make a zero origin acceptable: never sent. */
    assert_int_equal(assoc_make_request(&a, 128, 0, ntp_at(128), buf, 64), 48);
    assert_int_equal(client_request(want, sizeof(want), 4, 7, 1), 48);
    assert_memory_equal(buf, want, 48);
}

static void reach_register_exact_bits(void **state)
{
    (void)state;
    struct assoc_config c = config(6, 10, false);
    struct assoc a;
    static const struct {
        bool answered;
        uint8_t reach_after;
    } seq[] = {
        {true, 0x01},  {true, 0x03},  {false, 0x06}, {true, 0x0d},  {false, 0x1a},
        {false, 0x34}, {true, 0x69},  {true, 0xd3},  {true, 0xa7},  {true, 0x4f},
        {false, 0x9e}, {false, 0x3c}, {false, 0x78}, {false, 0xf0}, {false, 0xe0},
        {false, 0xc0}, {false, 0x80}, {false, 0x00}, {true, 0x01},
    };
    double now = 1000.0;

    assert_true(assoc_init(&a, &c, now));
    for (size_t i = 0; i < sizeof(seq) / sizeof(seq[0]); i++) {
        assert_true(assoc_due(&a, now));
        enum assoc_result r = poll_once(&a, now, seq[i].answered);
        if (seq[i].answered) {
            assert_int_equal(r, ASSOC_OK);
        }
        if (assoc_reach(&a) != seq[i].reach_after) {
            fail_msg("poll %zu: reach %02x, want %02x", i, assoc_reach(&a), seq[i].reach_after);
        }
        assert_int_equal(assoc_unreachable(&a), seq[i].reach_after == 0);
        /* No iburst, no backoff yet: one request every 64 s. */
        assert_true(assoc_next_due(&a) == now + 64.0);
        now += 64.0;
    }
    assert_int_equal(assoc_counters(&a)->sent, sizeof(seq) / sizeof(seq[0]));
    assert_int_equal(assoc_counters(&a)->processed, 8);
}

static void iburst_timing(void **state)
{
    (void)state;
    struct assoc_config c = config(6, 10, true);
    struct assoc a;

    assert_true(assoc_init(&a, &c, 100.0));
    /* Six requests 2 s apart, answered; the reach register shifts once per poll, not per
     * request of the burst. */
    double t = 100.0;
    for (int i = 0; i < ASSOC_IBURST_COUNT; i++) {
        assert_true(assoc_due(&a, t));
        assert_int_equal(poll_once(&a, t, true), ASSOC_OK);
        assert_int_equal(assoc_reach(&a), 1);
        if (i < ASSOC_IBURST_COUNT - 1) {
            assert_true(assoc_next_due(&a) == t + 2.0);
            assert_false(assoc_due(&a, t + 1.999));
        }
        t += 2.0;
    }
    /* After the burst: 2^6 s after the burst began. */
    assert_true(assoc_next_due(&a) == 164.0);
    assert_int_equal(assoc_counters(&a)->processed, ASSOC_IBURST_COUNT);
    assert_int_equal(poll_once(&a, 164.0, true), ASSOC_OK);
    assert_int_equal(assoc_reach(&a), 3);
    /* Reachable: no burst. */
    assert_true(assoc_next_due(&a) == 228.0);
}

static void iburst_only_once_while_unreachable(void **state)
{
    (void)state;
    struct assoc_config c = config(4, 10, true);
    struct assoc a;

    assert_true(assoc_init(&a, &c, 0.0));
    double t = 0.0;
    for (int i = 0; i < ASSOC_IBURST_COUNT; i++) {
        assert_true(assoc_due(&a, t));
        (void)request(&a, t);
        t += 2.0;
    }
    assert_true(assoc_next_due(&a) == 16.0);
    /* Silent server: the next polls are single requests at 2^4 s. */
    (void)request(&a, 16.0);
    assert_true(assoc_next_due(&a) == 32.0);
    (void)request(&a, 32.0);
    assert_true(assoc_next_due(&a) == 48.0);
    assert_int_equal(assoc_counters(&a)->sent, ASSOC_IBURST_COUNT + 2);

    /* It answers, then falls silent for 8 polls: a new iburst starts at the poll that
     * finds the register empty again. */
    assert_int_equal(poll_once(&a, 48.0, true), ASSOC_OK);
    t = 64.0;
    for (int i = 0; i < 7; i++) {
        (void)request(&a, t);
        assert_true(assoc_next_due(&a) == t + 16.0);
        t += 16.0;
    }
    assert_int_equal(assoc_reach(&a), 0x80);
    (void)request(&a, t);
    assert_int_equal(assoc_reach(&a), 0);
    assert_true(assoc_next_due(&a) == t + 2.0);
}

static void iburst_spacing_with_minpoll_zero(void **state)
{
    (void)state;
    struct assoc_config c = config(0, 4, true);
    struct assoc a;

    assert_true(assoc_init(&a, &c, 10.0));
    (void)request(&a, 10.0);
    assert_true(assoc_next_due(&a) == 11.0);
}

static void burst_option_when_reachable(void **state)
{
    (void)state;
    struct assoc_config c = config(6, 10, false);
    c.burst = true;
    struct assoc a;

    assert_true(assoc_init(&a, &c, 0.0));
    /* Unreachable at the first poll: burst needs reach; one request. */
    assert_int_equal(poll_once(&a, 0.0, true), ASSOC_OK);
    assert_true(assoc_next_due(&a) == 64.0);
    double t = 64.0;
    for (int i = 0; i < ASSOC_BURST_COUNT; i++) {
        assert_int_equal(poll_once(&a, t, true), ASSOC_OK);
        t += 2.0;
    }
    assert_int_equal(assoc_reach(&a), 3);
    assert_true(assoc_next_due(&a) == 128.0);
}

static void poll_bounds_and_set_poll(void **state)
{
    (void)state;
    struct assoc_config c = config(5, 9, false);
    struct assoc a;

    assert_true(assoc_init(&a, &c, 0.0));
    assert_int_equal(assoc_poll(&a), 5);
    /* Unreachable: the wish is remembered, not applied. */
    assoc_set_poll(&a, 8);
    assert_int_equal(assoc_poll(&a), 5);
    assert_int_equal(poll_once(&a, 0.0, true), ASSOC_OK);
    assert_int_equal(assoc_poll(&a), 5); /* first poll found reach 0 */
    assert_true(assoc_next_due(&a) == 32.0);
    /* Reachable: applies at once and reschedules from the last poll's start. */
    assoc_set_poll(&a, 8);
    assert_int_equal(assoc_poll(&a), 8);
    assert_true(assoc_next_due(&a) == 256.0);
    assoc_set_poll(&a, 17);
    assert_int_equal(assoc_poll(&a), 9);
    assert_true(assoc_next_due(&a) == 512.0);
    assoc_set_poll(&a, -3);
    assert_int_equal(assoc_poll(&a), 5);
    assert_true(assoc_next_due(&a) == 32.0);
    /* The request carries the current poll. */
    uint8_t buf[48];
    assert_int_equal(assoc_make_request(&a, 32.0, 77, ntp_at(32.0), buf, sizeof(buf)), 48);
    assert_int_equal((int8_t)buf[2], 5);
}

static void unreachable_backoff_stays_within_maxpoll(void **state)
{
    (void)state;
    struct assoc_config c = config(4, 7, false);
    struct assoc a;

    assert_true(assoc_init(&a, &c, 0.0));
    double t = 0.0;
    int polls = 0;
    /* ASSOC_UNREACH silent polls at minpoll, then one step per poll up to maxpoll. */
    for (; polls < ASSOC_UNREACH; polls++) {
        (void)request(&a, t);
        assert_int_equal(assoc_poll(&a), 4);
        t = assoc_next_due(&a);
    }
    static const int8_t want[] = {5, 6, 7, 7, 7, 7};
    for (size_t i = 0; i < sizeof(want); i++) {
        (void)request(&a, t);
        assert_int_equal(assoc_poll(&a), want[i]);
        assert_true(assoc_next_due(&a) == t + ldexp(1.0, want[i]));
        t = assoc_next_due(&a);
    }
    /* It answers again: the next poll returns to what the discipline wants. */
    assoc_set_poll(&a, 4); /* remembered only: still unreachable */
    assert_int_equal(assoc_poll(&a), 7);
    assert_int_equal(poll_once(&a, t, true), ASSOC_OK);
    t = assoc_next_due(&a);
    (void)request(&a, t);
    assert_int_equal(assoc_poll(&a), 4);
}

static void one_reply_per_request(void **state)
{
    (void)state;
    struct assoc_config c = config(6, 10, false);
    struct assoc a, before, after;
    struct ntp_sample s;

    assert_true(assoc_init(&a, &c, 0.0));
    uint64_t nonce = request(&a, 0.0);
    struct ntp_packet p = reply_to(nonce, ntp_at(0.0));
    assert_int_equal(deliver(&a, 0.02, &p, &s), ASSOC_OK);
    assert_false(assoc_outstanding(&a));
    assert_true(fabs(s.offset - 0.0055) < 1e-6);
    assert_true(fabs(s.delay - 0.019) < 1e-6);

    /* The same datagram again. */
    memcpy(&before, &a, sizeof(a));
    assert_int_equal(deliver(&a, 0.03, &p, &s), ASSOC_DUPLICATE);
    memcpy(&after, &a, sizeof(a));
    ASSERT_ONLY_COUNTER(before, after, oldpkt);

    /* A different, valid-looking second reply to the same request. */
    p.rec += SEC(0.5);
    p.xmt += SEC(0.5);
    memcpy(&before, &a, sizeof(a));
    assert_int_equal(deliver(&a, 0.04, &p, &s), ASSOC_DUPLICATE);
    memcpy(&after, &a, sizeof(a));
    ASSERT_ONLY_COUNTER(before, after, oldpkt);
    assert_int_equal(assoc_counters(&a)->processed, 1);
}

static void bogus_zero_and_unsolicited_change_nothing(void **state)
{
    (void)state;
    struct assoc_config c = config(6, 10, true);
    struct assoc a, before, after;
    struct ntp_sample s;

    assert_true(assoc_init(&a, &c, 0.0));
    /* Before any request: unsolicited. */
    struct ntp_packet p = reply_to(0x4242, ntp_at(0.0));
    memcpy(&before, &a, sizeof(a));
    assert_int_equal(deliver(&a, 0.01, &p, &s), ASSOC_UNSOLICITED);
    memcpy(&after, &a, sizeof(a));
    ASSERT_ONLY_COUNTER(before, after, bogusorg);

    uint64_t nonce = request(&a, 0.0);
    /* Wrong origin, zero origin, origin off by one bit. */
    static const uint64_t bad[] = {0x4242, 0, 0};
    for (size_t i = 0; i < 3; i++) {
        p = reply_to(i == 2 ? nonce ^ 1 : bad[i], ntp_at(0.0));
        memcpy(&before, &a, sizeof(a));
        assert_int_equal(deliver(&a, 0.02, &p, &s), ASSOC_BOGUS);
        memcpy(&after, &a, sizeof(a));
        ASSERT_ONLY_COUNTER(before, after, bogusorg);
    }
    /* Undecodable and wrong-mode datagrams. */
    uint8_t junk[47] = {0x24};
    memcpy(&before, &a, sizeof(a));
    assert_int_equal(assoc_receive(&a, 0.02, junk, sizeof(junk), ntp_at(0.02), &LOCAL, &s),
                     ASSOC_FORMAT);
    memcpy(&after, &a, sizeof(a));
    ASSERT_ONLY_COUNTER(before, after, badformat);
    p = reply_to(nonce, ntp_at(0.0));
    p.mode = PKT_MODE_CLIENT;
    memcpy(&before, &a, sizeof(a));
    assert_int_equal(deliver(&a, 0.02, &p, &s), ASSOC_FORMAT);
    memcpy(&after, &a, sizeof(a));
    ASSERT_ONLY_COUNTER(before, after, badformat);

    /* The genuine reply still gets through. */
    p = reply_to(nonce, ntp_at(0.0));
    assert_int_equal(deliver(&a, 0.02, &p, &s), ASSOC_OK);
    assert_int_equal(assoc_reach(&a), 1);
    const struct assoc_counters *k = assoc_counters(&a);
    assert_int_equal(k->received, 7);
    assert_int_equal(k->bogusorg, 4);
    assert_int_equal(k->badformat, 2);
    assert_int_equal(k->processed, 1);
}

static void late_reply_to_abandoned_request_is_bogus(void **state)
{
    (void)state;
    struct assoc_config c = config(6, 10, false);
    struct assoc a, before, after;
    struct ntp_sample s;

    assert_true(assoc_init(&a, &c, 0.0));
    uint64_t old = request(&a, 0.0);
    (void)request(&a, 64.0);
    struct ntp_packet p = reply_to(old, ntp_at(0.0));
    memcpy(&before, &a, sizeof(a));
    assert_int_equal(deliver(&a, 64.01, &p, &s), ASSOC_BOGUS);
    memcpy(&after, &a, sizeof(a));
    ASSERT_ONLY_COUNTER(before, after, bogusorg);
    assert_int_equal(assoc_reach(&a), 0);
}

static void badtime_changes_nothing_and_keeps_request(void **state)
{
    (void)state;
    struct assoc_config c = config(6, 10, false);
    struct assoc a, before, after;
    struct ntp_sample s;

    assert_true(assoc_init(&a, &c, 0.0));
    uint64_t nonce = request(&a, 0.0);
    struct ntp_packet p;
    for (int i = 0; i < 4; i++) {
        p = reply_to(nonce, ntp_at(0.0));
        if (i == 0) {
            p.rec = 0;
        } else if (i == 1) {
            p.xmt = 0;
        } else if (i == 2) {
            p.xmt = p.rec - SEC(0.001); /* server sent before it received */
        } else {
            p.leap = PKT_LEAP_UNSYNC; /* unsynchronized and no times: test 3 first */
            p.stratum = 16;
            p.rec = 0;
        }
        memcpy(&before, &a, sizeof(a));
        assert_int_equal(deliver(&a, 0.02, &p, &s), ASSOC_BADTIME);
        memcpy(&after, &a, sizeof(a));
        ASSERT_ONLY_COUNTER(before, after, badtime);
    }
    assert_true(assoc_outstanding(&a));
    p = reply_to(nonce, ntp_at(0.0));
    assert_int_equal(deliver(&a, 0.02, &p, &s), ASSOC_OK);
}

static void replayed_transmit_time_is_duplicate(void **state)
{
    (void)state;
    struct assoc_config c = config(6, 10, false);
    struct assoc a, before, after;
    struct ntp_sample s;

    assert_true(assoc_init(&a, &c, 0.0));
    uint64_t n1 = request(&a, 0.0);
    struct ntp_packet p1 = reply_to(n1, ntp_at(0.0));
    assert_int_equal(deliver(&a, 0.02, &p1, &s), ASSOC_OK);
    uint64_t n2 = request(&a, 64.0);
    /* Right origin, but the server's transmit time of the previous reply. */
    struct ntp_packet p2 = p1;
    p2.org = n2;
    memcpy(&before, &a, sizeof(a));
    assert_int_equal(deliver(&a, 64.02, &p2, &s), ASSOC_DUPLICATE);
    memcpy(&after, &a, sizeof(a));
    ASSERT_ONLY_COUNTER(before, after, oldpkt);
    assert_true(assoc_outstanding(&a));
}

static struct ntp_packet kod(uint64_t nonce, const char *code, int8_t poll)
{
    struct ntp_packet p;
    memset(&p, 0, sizeof(p));
    p.leap = PKT_LEAP_UNSYNC;
    p.version = 4;
    p.mode = PKT_MODE_SERVER;
    p.stratum = 0;
    p.poll = poll;
    p.refid = ntp_refid_from_ascii(code);
    p.org = nonce;
    /* As ntpd sends it: receive and transmit copied from the request. */
    p.rec = nonce;
    p.xmt = nonce;
    return p;
}

static void kod_rate_raises_poll_up_to_maxpoll(void **state)
{
    (void)state;
    struct assoc_config c = config(6, 9, true);
    struct assoc a;
    struct ntp_sample s;

    assert_true(assoc_init(&a, &c, 0.0));
    /* A RATE in the middle of the iburst ends the burst. */
    uint64_t n = request(&a, 0.0);
    struct ntp_packet k = kod(n, "RATE", 0);
    assert_int_equal(deliver(&a, 0.02, &k, &s), ASSOC_KOD);
    assert_int_equal(s.kiss, NTP_KISS_RATE);
    assert_int_equal(assoc_poll(&a), 7);
    assert_true(assoc_flags(&a) & ASSOC_F_RATE);
    assert_false(assoc_outstanding(&a));
    assert_int_equal(assoc_reach(&a), 0); /* a KoD does not make a server reachable */
    assert_true(assoc_next_due(&a) == 128.0);
    assert_int_equal(assoc_counters(&a)->kod_rx, 1);
    assert_int_equal(assoc_counters(&a)->processed, 0);

    static const int8_t want[] = {8, 9, 9};
    double t = 128.0;
    for (size_t i = 0; i < sizeof(want); i++) {
        n = request(&a, t);
        k = kod(n, "RATE", 0);
        assert_int_equal(deliver(&a, t + 0.02, &k, &s), ASSOC_KOD);
        assert_int_equal(assoc_poll(&a), want[i]);
        t = assoc_next_due(&a);
    }
    /* The discipline cannot go under the floor. */
    assert_int_equal(poll_once(&a, t, true), ASSOC_OK);
    assoc_set_poll(&a, 6);
    assert_int_equal(assoc_poll(&a), 9);
}

static void kod_rate_takes_server_poll(void **state)
{
    (void)state;
    struct assoc_config c = config(4, 12, false);
    struct assoc a;
    struct ntp_sample s;

    assert_true(assoc_init(&a, &c, 0.0));
    uint64_t n = request(&a, 0.0);
    struct ntp_packet k = kod(n, "RATE", 10);
    assert_int_equal(deliver(&a, 0.02, &k, &s), ASSOC_KOD);
    assert_int_equal(assoc_poll(&a), 10);
    /* A hostile poll of 127 is held at maxpoll. */
    double t = assoc_next_due(&a);
    n = request(&a, t);
    k = kod(n, "RATE", 127);
    assert_int_equal(deliver(&a, t + 0.02, &k, &s), ASSOC_KOD);
    assert_int_equal(assoc_poll(&a), 12);
}

static void kod_with_wrong_origin_is_ignored(void **state)
{
    (void)state;
    struct assoc_config c = config(6, 10, false);
    struct assoc a, before, after;
    struct ntp_sample s;
    static const char *const codes[] = {"RATE", "DENY", "RSTR"};

    assert_true(assoc_init(&a, &c, 0.0));
    uint64_t n = request(&a, 0.0);
    for (size_t i = 0; i < 3; i++) {
        for (int zero = 0; zero < 2; zero++) {
            struct ntp_packet k = kod(zero ? 0 : n + 1, codes[i], 12);
            memcpy(&before, &a, sizeof(a));
            assert_int_equal(deliver(&a, 0.02, &k, &s), ASSOC_BOGUS);
            memcpy(&after, &a, sizeof(a));
            ASSERT_ONLY_COUNTER(before, after, bogusorg);
        }
    }
    assert_int_equal(assoc_poll(&a), 6);
    assert_int_equal(assoc_flags(&a), 0);
    assert_int_equal(assoc_counters(&a)->kod_rx, 0);
    /* Nor is a KoD with nothing outstanding acted upon. */
    struct ntp_packet p = reply_to(n, ntp_at(0.0));
    assert_int_equal(deliver(&a, 0.02, &p, &s), ASSOC_OK);
    struct ntp_packet k = kod(n, "DENY", 12);
    memcpy(&before, &a, sizeof(a));
    assert_int_equal(deliver(&a, 0.03, &k, &s), ASSOC_DUPLICATE);
    memcpy(&after, &a, sizeof(a));
    ASSERT_ONLY_COUNTER(before, after, oldpkt);
    assert_int_equal(assoc_flags(&a), 0);
}

static void kod_deny_rstr_back_off_and_flag(void **state)
{
    (void)state;
    static const char *const codes[] = {"DENY", "RSTR"};

    for (size_t i = 0; i < 2; i++) {
        struct assoc_config c = config(6, 10, true);
        struct assoc a;
        struct ntp_sample s;
        uint8_t buf[48];

        assert_true(assoc_init(&a, &c, 0.0));
        uint64_t n = request(&a, 0.0);
        struct ntp_packet k = kod(n, codes[i], 6);
        assert_int_equal(deliver(&a, 0.02, &k, &s), ASSOC_KOD);
        assert_int_equal(assoc_poll(&a), 10);
        assert_int_equal(assoc_flags(&a), ASSOC_F_DENIED);
        assert_true(assoc_next_due(&a) == 1024.0); /* the iburst ended */
        assoc_set_poll(&a, 6);
        assert_int_equal(assoc_poll(&a), 10);
        /* Unauthenticated: still polling, at maxpoll. */
        assert_true(assoc_due(&a, 1024.0));
        assert_int_equal(assoc_make_request(&a, 1024.0, 99, ntp_at(1024.0), buf, 48), 48);
        assert_int_equal(assoc_poll(&a), 10);
    }
}

static void kod_deny_authenticated_demobilises(void **state)
{
    (void)state;
    struct assoc_config c = config(6, 10, false);
    struct assoc a;
    struct ntp_sample s;
    uint8_t buf[48];
    uint8_t wire[48];
    struct assoc_local auth = LOCAL;
    auth.authenticated = true;

    assert_true(assoc_init(&a, &c, 0.0));
    uint64_t n = request(&a, 0.0);
    struct ntp_packet k = kod(n, "DENY", 6);
    assert_int_equal(pkt_encode(&k, wire, sizeof(wire)), 48);
    assert_int_equal(assoc_receive(&a, 0.02, wire, sizeof(wire), ntp_at(0.02), &auth, &s),
                     ASSOC_KOD);
    assert_true(assoc_flags(&a) & ASSOC_F_DEMOBILIZE);
    assert_false(assoc_flags(&a) & ASSOC_F_DENIED);
    assert_false(assoc_due(&a, 1e9));
    assert_int_equal(assoc_make_request(&a, 1e9, 99, ntp_at(0), buf, 48), 0);
    assert_int_equal(assoc_counters(&a)->sent, 1);
}

static void kod_unknown_codes_ignored(void **state)
{
    (void)state;
    static const char *const codes[] = {"XABC", "INIT", "STEP", "rate", "\x01\x02\x03\x04"};

    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        struct assoc_config c = config(6, 10, false);
        struct assoc a;
        struct ntp_sample s;

        assert_true(assoc_init(&a, &c, 0.0));
        uint64_t n = request(&a, 0.0);
        struct ntp_packet k = kod(n, codes[i], 12);
        assert_int_equal(deliver(&a, 0.02, &k, &s), ASSOC_KOD);
        assert_int_equal(assoc_poll(&a), 6);
        assert_int_equal(assoc_flags(&a), 0);
        assert_true(assoc_next_due(&a) == 64.0);
        assert_int_equal(assoc_counters(&a)->kod_rx, 1);
        assert_int_equal(assoc_reach(&a), 0);
        /* It answered the request: a second reply is refused. */
        assert_false(assoc_outstanding(&a));
        struct ntp_packet p = reply_to(n, ntp_at(0.0));
        assert_int_equal(deliver(&a, 0.03, &p, &s), ASSOC_DUPLICATE);
    }
}

/* Delivers p (with origin set to a fresh request's nonce) and checks result, counter and
 * that the request was consumed with the reach bit set and the header recorded. */
static void header_case(struct assoc *a, double t, struct ntp_packet p, enum assoc_result want,
                        const struct assoc_local *local)
{
    struct ntp_sample s;
    uint8_t wire[48];
    uint64_t n = request(a, t);
    p.org = n;
    p.rec = ntp_at(t) + SEC(0.015);
    p.xmt = ntp_at(t) + SEC(0.016);
    assert_int_equal(pkt_encode(&p, wire, sizeof(wire)), 48);
    enum assoc_result r =
        assoc_receive(a, t + 0.02, wire, sizeof(wire), ntp_at(t + 0.02), local, &s);
    if (r != want) {
        fail_msg("got %s, want %s", assoc_result_name(r), assoc_result_name(want));
    }
    assert_false(assoc_outstanding(a));
    assert_int_equal(assoc_reach(a) & 1, 1);
    assert_int_equal(a->stratum, p.stratum);
    assert_int_equal(a->refid, p.refid);
}

static void header_sanity_each_reason_counted(void **state)
{
    (void)state;
    struct assoc_config c = config(6, 10, false);
    struct assoc a;
    double t = 0.0;

    assert_true(assoc_init(&a, &c, 0.0));
    struct ntp_packet base = reply_to(0, 0);

    struct ntp_packet p = base;
    p.leap = PKT_LEAP_UNSYNC;
    header_case(&a, t, p, ASSOC_UNSYNC, &LOCAL);
    t += 64;
    p = base;
    p.stratum = 16;
    header_case(&a, t, p, ASSOC_UNSYNC, &LOCAL);
    t += 64;
    p = base;
    p.stratum = 200;
    header_case(&a, t, p, ASSOC_UNSYNC, &LOCAL);
    t += 64;
    assert_int_equal(assoc_counters(&a)->unsync, 3);

    p = base;
    p.root_delay = 0x00200000; /* 32 s: header distance 16 s (client's test 7) */
    header_case(&a, t, p, ASSOC_DISTANCE, &LOCAL);
    t += 64;
    p = base;
    p.root_disp = 0x00018000; /* 1.5 s + the rest: over maxdist */
    header_case(&a, t, p, ASSOC_DISTANCE, &LOCAL);
    t += 64;
    p = base;
    p.root_delay = 0x00030000; /* 3 s: distance 1.5 s + delay etc. */
    header_case(&a, t, p, ASSOC_DISTANCE, &LOCAL);
    t += 64;
    assert_int_equal(assoc_counters(&a)->distance, 3);

    p = base;
    p.refid = ADDR_REFID;
    header_case(&a, t, p, ASSOC_LOOP, &LOCAL);
    t += 64;
    p = base;
    p.refid = SYS_REFID;
    p.stratum = 3;
    header_case(&a, t, p, ASSOC_LOOP, &LOCAL);
    t += 64;
    assert_int_equal(assoc_counters(&a)->loop, 2);

    /* Not loops: stratum 1 (refid is a clock code), loopback, and zero refids. */
    p = base;
    p.stratum = 1;
    p.refid = ADDR_REFID;
    header_case(&a, t, p, ASSOC_OK, &LOCAL);
    t += 64;
    p = base;
    p.refid = UINT32_C(0x7f000001);
    struct assoc_local lo = LOCAL;
    lo.sys_refid = UINT32_C(0x7f000001);
    header_case(&a, t, p, ASSOC_OK, &lo);
    t += 64;
    p = base;
    p.refid = 0;
    struct assoc_local none = LOCAL;
    none.sys_refid = 0;
    none.addr_refid = 0;
    header_case(&a, t, p, ASSOC_OK, &none);
    t += 64;

    const struct assoc_counters *k = assoc_counters(&a);
    assert_int_equal(k->received, 11);
    assert_int_equal(k->processed, 3);
    assert_int_equal(k->unsync + k->distance + k->loop + k->processed, k->received);
    assert_int_equal(assoc_reach(&a), 0xff);
}

static void maxdist_is_configurable(void **state)
{
    (void)state;
    struct assoc_config c = config(6, 10, false);
    c.maxdist = 3.0;
    struct assoc a;

    assert_true(assoc_init(&a, &c, 0.0));
    struct ntp_packet p = reply_to(0, 0);
    p.root_disp = 0x00018000; /* 1.5 s */
    header_case(&a, 0.0, p, ASSOC_OK, &LOCAL);
    p.root_disp = 0x00030000; /* 3 s */
    header_case(&a, 64.0, p, ASSOC_DISTANCE, &LOCAL);
}

static void on_step_forgets_outstanding_request(void **state)
{
    (void)state;
    struct assoc_config c = config(6, 10, false);
    struct assoc a, before, after;
    struct ntp_sample s;

    assert_true(assoc_init(&a, &c, 0.0));
    assert_int_equal(poll_once(&a, 0.0, true), ASSOC_OK);
    uint64_t n = request(&a, 64.0);
    double due = assoc_next_due(&a);
    assoc_on_step(&a);
    assert_false(assoc_outstanding(&a));
    assert_true(assoc_next_due(&a) == due);
    assert_int_equal(assoc_reach(&a), 2);
    struct ntp_packet p = reply_to(n, ntp_at(64.0));
    memcpy(&before, &a, sizeof(a));
    assert_int_equal(deliver(&a, 64.02, &p, &s), ASSOC_UNSOLICITED);
    memcpy(&after, &a, sizeof(a));
    ASSERT_ONLY_COUNTER(before, after, bogusorg);
    /* The next poll works as usual; the unanswered poll left its 0 bit. */
    assert_int_equal(poll_once(&a, 128.0, true), ASSOC_OK);
    assert_int_equal(assoc_reach(&a), 5);
}

static void badauth_only_counts(void **state)
{
    (void)state;
    struct assoc_config c = config(6, 10, false);
    struct assoc a, before;

    assert_true(assoc_init(&a, &c, 0.0));
    (void)request(&a, 0.0);
    memcpy(&before, &a, sizeof(a));
    assoc_count_badauth(&a);
    assert_int_equal(assoc_counters(&a)->badauth, 1);
    a.counters.badauth = 0;
    assert_memory_equal(&a, &before, sizeof(a));
}

static void result_names(void **state)
{
    (void)state;
    assert_string_equal(assoc_result_name(ASSOC_OK), "ok");
    assert_string_equal(assoc_result_name(ASSOC_BOGUS), "bogus");
    assert_string_equal(assoc_result_name(ASSOC_DUPLICATE), "duplicate");
    assert_string_equal(assoc_result_name(ASSOC_LOOP), "loop");
    assert_string_equal(assoc_result_name(ASSOC_RESULT_COUNT), "unknown");
    for (int r = 0; r < ASSOC_RESULT_COUNT; r++) {
        assert_string_not_equal(assoc_result_name((enum assoc_result)r), "unknown");
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(init_defaults_and_bad_configs),
        cmocka_unit_test(request_is_data_minimised_with_hpoll),
        cmocka_unit_test(reach_register_exact_bits),
        cmocka_unit_test(iburst_timing),
        cmocka_unit_test(iburst_only_once_while_unreachable),
        cmocka_unit_test(iburst_spacing_with_minpoll_zero),
        cmocka_unit_test(burst_option_when_reachable),
        cmocka_unit_test(poll_bounds_and_set_poll),
        cmocka_unit_test(unreachable_backoff_stays_within_maxpoll),
        cmocka_unit_test(one_reply_per_request),
        cmocka_unit_test(bogus_zero_and_unsolicited_change_nothing),
        cmocka_unit_test(late_reply_to_abandoned_request_is_bogus),
        cmocka_unit_test(badtime_changes_nothing_and_keeps_request),
        cmocka_unit_test(replayed_transmit_time_is_duplicate),
        cmocka_unit_test(kod_rate_raises_poll_up_to_maxpoll),
        cmocka_unit_test(kod_rate_takes_server_poll),
        cmocka_unit_test(kod_with_wrong_origin_is_ignored),
        cmocka_unit_test(kod_deny_rstr_back_off_and_flag),
        cmocka_unit_test(kod_deny_authenticated_demobilises),
        cmocka_unit_test(kod_unknown_codes_ignored),
        cmocka_unit_test(header_sanity_each_reason_counted),
        cmocka_unit_test(maxdist_is_configurable),
        cmocka_unit_test(on_step_forgets_outstanding_request),
        cmocka_unit_test(badauth_only_counts),
        cmocka_unit_test(result_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
