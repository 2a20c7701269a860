/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for src/core/client: the request on the wire octet by octet, the on-wire
 * arithmetic of RFC 5905 sec. 8 (exact values, across the 2036 era rollover), and each
 * reject reason in the order of the checks.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/client.h"
#include "core/ntp_time.h"
#include "core/pkt.h"

#define NONCE UINT64_C(0x0123456789abcdef)
/* 2^32 units of the 32.32 fraction per second. */
#define SEC(x) ((uint64_t)((x)*4294967296.0))

static void assert_near(double got, double want, double eps)
{
    if (!(fabs(got - want) <= eps)) {
        fail_msg("got %.17g, want %.17g (eps %g)", got, want, eps);
    }
}

/* A plausible, valid server response to NONCE; tests change what they exercise. */
static struct ntp_packet response(ntp_ts_t t2, ntp_ts_t t3)
{
    struct ntp_packet p;
    memset(&p, 0, sizeof(p));
    p.leap = PKT_LEAP_NONE;
    p.version = 4;
    p.mode = PKT_MODE_SERVER;
    p.stratum = 2;
    p.poll = 6;
    p.precision = -20;
    p.root_delay = 0x00008000; /* 0.5 s */
    p.root_disp = 0x00004000;  /* 0.25 s */
    p.refid = 0xc0000201;
    p.ref = t2 - SEC(64);
    p.org = NONCE;
    p.rec = t2;
    p.xmt = t3;
    return p;
}

static enum client_reject run(const struct ntp_packet *p, uint64_t nonce, ntp_ts_t t1, ntp_ts_t t4,
                              int8_t local_precision, struct ntp_sample *s)
{
    uint8_t buf[PKT_HEADER_LEN];
    assert_int_equal(pkt_encode(p, buf, sizeof(buf)), PKT_HEADER_LEN);
    return client_process(buf, sizeof(buf), nonce, t1, t4, local_precision, s);
}

static void request_octets_exact(void **state)
{
    (void)state;
    uint8_t buf[64];
    static const uint8_t want[48] = {
        0x23, 0x00, 0x06, 0x00,                         /* LI 0, VN 4, mode 3; poll 6 */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* root delay, root dispersion */
        0x00, 0x00, 0x00, 0x00,                         /* refid */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* reference */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* origin */
        0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, /* receive */
        0x01, 0x23, 0x45, 0x67, 0x89, 0xab, 0xcd, 0xef, /* transmit = nonce */
    };

    memset(buf, 0xa5, sizeof(buf));
    assert_int_equal(client_request(buf, sizeof(buf), 4, 6, NONCE), 48);
    assert_memory_equal(buf, want, sizeof(want));
    assert_int_equal(buf[48], 0xa5); /* nothing written past the header */

    /* NTPv3, poll -1 (two's complement on the wire). */
    static const uint8_t want3[8] = {0x1b, 0x00, 0xff, 0x00, 0x00, 0x00, 0x00, 0x00};
    assert_int_equal(client_request(buf, 48, 3, -1, UINT64_C(0xffffffffffffffff)), 48);
    assert_memory_equal(buf, want3, sizeof(want3));
    for (size_t i = 8; i < 40; i++) {
        assert_int_equal(buf[i], 0);
    }
    for (size_t i = 40; i < 48; i++) {
        assert_int_equal(buf[i], 0xff);
    }
}

static void request_short_buffer(void **state)
{
    (void)state;
    uint8_t buf[48];
    memset(buf, 0xa5, sizeof(buf));
    assert_int_equal(client_request(buf, 47, 4, 6, NONCE), 0);
    for (size_t i = 0; i < sizeof(buf); i++) {
        assert_int_equal(buf[i], 0xa5);
    }
}

/* The request round-trips through the decoder as a data-minimised mode 3 packet. */
static void request_decodes(void **state)
{
    (void)state;
    uint8_t buf[48];
    struct ntp_packet p;
    assert_int_equal(client_request(buf, sizeof(buf), 4, 10, NONCE), 48);
    assert_int_equal(pkt_decode(buf, 48, &p), PKT_OK);
    assert_int_equal(p.mode, PKT_MODE_CLIENT);
    assert_int_equal(p.version, 4);
    assert_int_equal(p.poll, 10);
    assert_int_equal(p.leap, 0);
    assert_int_equal(p.stratum, 0);
    assert_int_equal(p.precision, 0);
    assert_int_equal(p.org, 0);
    assert_int_equal(p.rec, 0);
    assert_true(p.xmt == NONCE);
}

/* Server 0.25 s ahead, 0.0625 s each way, 0.125 s in the server: binary fractions, so
 * every result is exact. */
static void exchange_exact(void **state)
{
    (void)state;
    ntp_ts_t t1 = UINT64_C(0xe8b0000000000000);
    ntp_ts_t t2 = t1 + SEC(0.3125);
    ntp_ts_t t3 = t1 + SEC(0.4375);
    ntp_ts_t t4 = t1 + SEC(0.25);
    struct ntp_packet p = response(t2, t3);
    struct ntp_sample s;

    assert_int_equal(run(&p, NONCE, t1, t4, -18, &s), CLIENT_OK);
    assert_true(s.offset == 0.25);
    assert_true(s.delay == 0.125);
    double disp = ldexp(1.0, -20) + ldexp(1.0, -18) + 15e-6 * 0.25;
    assert_near(s.dispersion, disp, 1e-18);
    assert_true(s.root_delay == 0.5);
    assert_true(s.root_disp == 0.25);
    assert_near(s.root_distance, (0.5 + 0.125) / 2.0 + 0.25 + disp, 1e-15);
    assert_int_equal(s.stratum, 2);
    assert_int_equal(s.leap, 0);
    assert_int_equal(s.version, 4);
    assert_int_equal(s.precision, -20);
    assert_int_equal(s.poll, 6);
    assert_int_equal(s.refid, 0xc0000201);
    assert_true(s.ref == p.ref);
    assert_true(s.t1 == t1 && s.t2 == t2 && s.t3 == t3 && s.t4 == t4);
}

/* t1 is the caller's send time, never the packet's origin (a random nonce): a nonce far
 * from the real time changes nothing. */
static void t1_is_ours_not_origin(void **state)
{
    (void)state;
    ntp_ts_t t1 = UINT64_C(0xe8b0000000000000);
    struct ntp_packet p = response(t1 + SEC(0.3125), t1 + SEC(0.4375));
    struct ntp_sample s;
    uint64_t nonce = UINT64_C(0x0000000100000000); /* 1 s into era 0 */

    p.org = nonce;
    assert_int_equal(run(&p, nonce, t1, t1 + SEC(0.25), -20, &s), CLIENT_OK);
    assert_true(s.offset == 0.25);
    assert_true(s.delay == 0.125);
}

/* RFC 5905 sec. 6: t1 0.0625 s before the 2036 rollover (era 0), t2, t3, t4 in era 1. */
static void exchange_across_era(void **state)
{
    (void)state;
    ntp_ts_t t1 = UINT64_C(0xfffffffff0000000);
    ntp_ts_t t2 = UINT64_C(0x0000000040000000);
    ntp_ts_t t3 = UINT64_C(0x0000000060000000);
    ntp_ts_t t4 = UINT64_C(0x0000000030000000);
    struct ntp_packet p = response(t2, t3);
    struct ntp_sample s;

    assert_int_equal(run(&p, NONCE, t1, t4, -20, &s), CLIENT_OK);
    assert_true(s.offset == 0.25);
    assert_true(s.delay == 0.125);
    assert_near(s.dispersion, 2 * ldexp(1.0, -20) + 15e-6 * 0.25, 1e-18);

    /* The other way round: the server still in era 0, we already in era 1. */
    t1 = UINT64_C(0x0000000010000000);
    t4 = t1 + SEC(0.25);
    t2 = t1 + SEC(0.0625) - SEC(2.0); /* wraps below zero into era 0 */
    t3 = t2 + SEC(0.125);
    p = response(t2, t3);
    assert_true(t2 == UINT64_C(0xfffffffe20000000)); /* era 0, 1.875 s before its end */
    assert_int_equal(run(&p, NONCE, t1, t4, -20, &s), CLIENT_OK);
    assert_true(s.offset == -2.0);
    assert_true(s.delay == 0.125);
}

static void negative_offsets(void **state)
{
    (void)state;
    ntp_ts_t t1 = UINT64_C(0xe8b0000000000000);
    ntp_ts_t t4 = t1 + SEC(0.25);
    struct ntp_sample s;

    /* Server 3.5 s behind. */
    ntp_ts_t t2 = t1 + SEC(0.0625) - SEC(3.5);
    struct ntp_packet p = response(t2, t2 + SEC(0.125));
    assert_int_equal(run(&p, NONCE, t1, t4, -20, &s), CLIENT_OK);
    assert_true(s.offset == -3.5);
    assert_true(s.delay == 0.125);

    /* A day behind, and a year ahead. */
    t2 = t1 + SEC(0.0625) - SEC(86400.0);
    p = response(t2, t2 + SEC(0.125));
    assert_int_equal(run(&p, NONCE, t1, t4, -20, &s), CLIENT_OK);
    assert_true(s.offset == -86400.0);
    t2 = t1 + SEC(0.0625) + SEC(31536000.0);
    p = response(t2, t2 + SEC(0.125));
    assert_int_equal(run(&p, NONCE, t1, t4, -20, &s), CLIENT_OK);
    assert_true(s.offset == 31536000.0);

    /* Sub-millisecond: 100 us behind (not a binary fraction: near, not equal). */
    t2 = t1 + SEC(0.0625) - SEC(0.0001);
    p = response(t2, t2 + SEC(0.125));
    assert_int_equal(run(&p, NONCE, t1, t4, -20, &s), CLIENT_OK);
    assert_near(s.offset, -0.0001, 1e-9);
}

/* RFC 5905 sec. 8: the delay is at least the larger of the two precisions. */
static void delay_clamp(void **state)
{
    (void)state;
    ntp_ts_t t1 = UINT64_C(0xe8b0000000000000);
    ntp_ts_t t4 = t1 + SEC(0.001);
    struct ntp_sample s;

    /* Server holds it 0.0015 s while our round trip is 0.001 s: a negative delay. */
    struct ntp_packet p = response(t1 + SEC(0.0001), t1 + SEC(0.0016));
    p.precision = -6;
    assert_int_equal(run(&p, NONCE, t1, t4, -20, &s), CLIENT_OK);
    assert_true(s.delay == 0.015625); /* 2^-6, the server's */
    assert_near(s.root_distance, (0.5 + 0.015625) / 2 + 0.25 + s.dispersion, 1e-15);

    /* Our precision the larger. */
    p.precision = -20;
    assert_int_equal(run(&p, NONCE, t1, t4, -4, &s), CLIENT_OK);
    assert_true(s.delay == 0.0625);

    /* Small but positive delay below both precisions. */
    p = response(t1 + SEC(0.0001), t1 + SEC(0.0001));
    t4 = t1 + (SEC(0.0001) >> 8); /* about 0.4 us round trip */
    assert_int_equal(run(&p, NONCE, t1, t4, -20, &s), CLIENT_OK);
    assert_true(s.delay == ldexp(1.0, -20));

    /* Above the floor: untouched. */
    p = response(t1 + SEC(0.25), t1 + SEC(0.25));
    assert_int_equal(run(&p, NONCE, t1, t1 + SEC(0.5), -20, &s), CLIENT_OK);
    assert_true(s.delay == 0.5);
}

static void reject_format(void **state)
{
    (void)state;
    ntp_ts_t t1 = UINT64_C(0xe8b0000000000000);
    struct ntp_packet p = response(t1 + SEC(0.3125), t1 + SEC(0.4375));
    uint8_t buf[PKT_HEADER_LEN + 4];
    struct ntp_sample s;

    assert_int_equal(pkt_encode(&p, buf, sizeof(buf)), 48);
    assert_int_equal(client_process(buf, 47, NONCE, t1, t1 + SEC(0.25), -20, &s), CLIENT_FORMAT);
    assert_int_equal(client_process(buf, 0, NONCE, t1, t1 + SEC(0.25), -20, &s), CLIENT_FORMAT);
    buf[48] = 0;
    assert_int_equal(client_process(buf, 49, NONCE, t1, t1 + SEC(0.25), -20, &s), CLIENT_FORMAT);
    p.version = 0;
    assert_int_equal(run(&p, NONCE, t1, t1 + SEC(0.25), -20, &s), CLIENT_FORMAT);
    p.version = 5;
    assert_int_equal(run(&p, NONCE, t1, t1 + SEC(0.25), -20, &s), CLIENT_FORMAT);
    p.version = 4;
    p.mode = PKT_MODE_CONTROL;
    assert_int_equal(run(&p, NONCE, t1, t1 + SEC(0.25), -20, &s), CLIENT_FORMAT);
}

static void reject_mode(void **state)
{
    (void)state;
    ntp_ts_t t1 = UINT64_C(0xe8b0000000000000);
    struct ntp_packet p = response(t1 + SEC(0.3125), t1 + SEC(0.4375));
    struct ntp_sample s;
    static const uint8_t modes[] = {0, 1, 2, 3, 5};

    for (size_t i = 0; i < sizeof(modes); i++) {
        p.mode = modes[i];
        assert_int_equal(run(&p, NONCE, t1, t1 + SEC(0.25), -20, &s), CLIENT_MODE);
    }
    /* Before the origin test: a mode 3 packet with a wrong origin is still "mode". */
    p.mode = PKT_MODE_CLIENT;
    p.org = 0;
    assert_int_equal(run(&p, NONCE, t1, t1 + SEC(0.25), -20, &s), CLIENT_MODE);
}

static void reject_bogus(void **state)
{
    (void)state;
    ntp_ts_t t1 = UINT64_C(0xe8b0000000000000);
    struct ntp_packet p = response(t1 + SEC(0.3125), t1 + SEC(0.4375));
    struct ntp_sample s;

    p.org = NONCE ^ 1;
    assert_int_equal(run(&p, NONCE, t1, t1 + SEC(0.25), -20, &s), CLIENT_BOGUS);
    p.org = NONCE ^ (UINT64_C(1) << 63);
    assert_int_equal(run(&p, NONCE, t1, t1 + SEC(0.25), -20, &s), CLIENT_BOGUS);
    p.org = 0;
    assert_int_equal(run(&p, NONCE, t1, t1 + SEC(0.25), -20, &s), CLIENT_BOGUS);
    /* A zero nonce never matches, not even a zero origin. */
    assert_int_equal(run(&p, 0, t1, t1 + SEC(0.25), -20, &s), CLIENT_BOGUS);
    /* The exchange is otherwise valid: with the right origin it is a sample. */
    p.org = NONCE;
    assert_int_equal(run(&p, NONCE, t1, t1 + SEC(0.25), -20, &s), CLIENT_OK);
}

/* CVE-2015-8138: a KoD with the wrong origin is bogus and says nothing: no kiss, no
 * header fields taken over. */
static void kod_needs_origin(void **state)
{
    (void)state;
    ntp_ts_t t1 = UINT64_C(0xe8b0000000000000);
    struct ntp_packet p = response(0, 0);
    struct ntp_sample s;

    p.leap = PKT_LEAP_UNSYNC;
    p.stratum = 0;
    p.refid = ntp_refid_from_ascii("DENY");
    p.org = NONCE + 1;
    assert_int_equal(run(&p, NONCE, t1, t1 + SEC(0.25), -20, &s), CLIENT_BOGUS);
    assert_int_equal(s.kiss, NTP_KISS_UNKNOWN);
    assert_int_equal(s.refid, 0);
    assert_int_equal(s.leap, 0);
    p.org = 0;
    assert_int_equal(run(&p, 0, t1, t1 + SEC(0.25), -20, &s), CLIENT_BOGUS);
}

static void kod_fields(void **state)
{
    (void)state;
    ntp_ts_t t1 = UINT64_C(0xe8b0000000000000);
    struct ntp_packet p = response(0, 0); /* KoDs usually carry no times */
    struct ntp_sample s;
    static const struct {
        const char *code;
        enum ntp_kiss kiss;
    } codes[] = {
        {"RATE", NTP_KISS_RATE}, {"DENY", NTP_KISS_DENY},    {"RSTR", NTP_KISS_RSTR},
        {"NTSN", NTP_KISS_NTSN}, {"rate", NTP_KISS_UNKNOWN}, {"ABCD", NTP_KISS_UNKNOWN},
    };

    p.leap = PKT_LEAP_UNSYNC;
    p.stratum = 0;
    p.version = 3;
    p.poll = 9;
    p.precision = -7;
    p.root_delay = 0x00010000;
    p.root_disp = 0x00020000;
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        p.refid = ntp_refid_from_ascii(codes[i].code);
        assert_int_equal(run(&p, NONCE, t1, t1 + SEC(0.25), -20, &s), CLIENT_KOD);
        assert_int_equal(s.kiss, codes[i].kiss);
        assert_int_equal(s.refid, p.refid);
        assert_int_equal(s.stratum, 0);
        assert_int_equal(s.leap, PKT_LEAP_UNSYNC);
        assert_int_equal(s.version, 3);
        assert_int_equal(s.poll, 9);
        assert_int_equal(s.precision, -7);
        assert_true(s.root_delay == 1.0);
        assert_true(s.root_disp == 2.0);
        assert_true(s.offset == 0.0 && s.delay == 0.0 && s.root_distance == 0.0);
    }
    /* Stratum 0 is a KoD whatever the leap bits and times say (checked before them). */
    p.leap = PKT_LEAP_NONE;
    p.refid = ntp_refid_from_ascii("RATE");
    p.rec = t1;
    p.xmt = t1 - SEC(1.0); /* would be bad times */
    assert_int_equal(run(&p, NONCE, t1, t1 + SEC(0.25), -20, &s), CLIENT_KOD);
    assert_int_equal(s.kiss, NTP_KISS_RATE);
}

static void reject_unsync(void **state)
{
    (void)state;
    ntp_ts_t t1 = UINT64_C(0xe8b0000000000000);
    struct ntp_packet p = response(t1 + SEC(0.3125), t1 + SEC(0.4375));
    struct ntp_sample s;

    p.leap = PKT_LEAP_UNSYNC;
    assert_int_equal(run(&p, NONCE, t1, t1 + SEC(0.25), -20, &s), CLIENT_UNSYNC);
    assert_int_equal(s.leap, PKT_LEAP_UNSYNC); /* header filled after the origin test */
    p.leap = PKT_LEAP_INSERT;
    p.stratum = 16;
    assert_int_equal(run(&p, NONCE, t1, t1 + SEC(0.25), -20, &s), CLIENT_UNSYNC);
    assert_int_equal(s.stratum, 16);
    p.stratum = 255;
    assert_int_equal(run(&p, NONCE, t1, t1 + SEC(0.25), -20, &s), CLIENT_UNSYNC);
    /* Leap 1 and 2 and stratum 15 are fine. */
    p.stratum = 15;
    assert_int_equal(run(&p, NONCE, t1, t1 + SEC(0.25), -20, &s), CLIENT_OK);
    p.leap = PKT_LEAP_DELETE;
    p.stratum = 1;
    assert_int_equal(run(&p, NONCE, t1, t1 + SEC(0.25), -20, &s), CLIENT_OK);
    /* Before the zero-time test. */
    p.leap = PKT_LEAP_UNSYNC;
    p.rec = 0;
    assert_int_equal(run(&p, NONCE, t1, t1 + SEC(0.25), -20, &s), CLIENT_UNSYNC);
}

static void reject_zero_time(void **state)
{
    (void)state;
    ntp_ts_t t1 = UINT64_C(0xe8b0000000000000);
    struct ntp_sample s;

    struct ntp_packet p = response(0, t1 + SEC(0.4375));
    assert_int_equal(run(&p, NONCE, t1, t1 + SEC(0.25), -20, &s), CLIENT_ZERO_TIME);
    p = response(t1 + SEC(0.3125), 0);
    assert_int_equal(run(&p, NONCE, t1, t1 + SEC(0.25), -20, &s), CLIENT_ZERO_TIME);
    /* Only an all-zero timestamp counts: zero seconds with a fraction is a time. */
    p = response(1, 2);
    assert_int_equal(run(&p, NONCE, 0, 3, -20, &s), CLIENT_OK);
}

static void reject_bad_times(void **state)
{
    (void)state;
    ntp_ts_t t1 = UINT64_C(0xe8b0000000000000);
    struct ntp_sample s;

    /* Server transmit before its receive. */
    struct ntp_packet p = response(t1 + SEC(0.4375), t1 + SEC(0.3125));
    assert_int_equal(run(&p, NONCE, t1, t1 + SEC(0.25), -20, &s), CLIENT_BAD_TIMES);
    /* Our receive before our send. */
    p = response(t1 + SEC(0.3125), t1 + SEC(0.4375));
    assert_int_equal(run(&p, NONCE, t1, t1 - 1, -20, &s), CLIENT_BAD_TIMES);
    /* Across the era: t4 "smaller" as a number but later in time is fine; the reverse
     * is not. */
    assert_int_equal(run(&p, NONCE, UINT64_C(0xfffffffff0000000), UINT64_C(0x30000000), -20, &s),
                     CLIENT_OK);
    assert_int_equal(run(&p, NONCE, UINT64_C(0x30000000), UINT64_C(0xfffffffff0000000), -20, &s),
                     CLIENT_BAD_TIMES);
    /* Equal times are allowed (a zero hold, a zero round trip). */
    p = response(t1 + SEC(0.3125), t1 + SEC(0.3125));
    assert_int_equal(run(&p, NONCE, t1, t1, -20, &s), CLIENT_OK);
    assert_true(s.delay == ldexp(1.0, -20));
}

static void reject_distance(void **state)
{
    (void)state;
    ntp_ts_t t1 = UINT64_C(0xe8b0000000000000);
    struct ntp_packet p = response(t1 + SEC(0.3125), t1 + SEC(0.4375));
    struct ntp_sample s;

    p.root_delay = 0;
    p.root_disp = 0x00100000; /* 16 s: at the limit is out */
    assert_int_equal(run(&p, NONCE, t1, t1 + SEC(0.25), -20, &s), CLIENT_DISTANCE);
    p.root_disp = 0x000fffff; /* one unit below */
    assert_int_equal(run(&p, NONCE, t1, t1 + SEC(0.25), -20, &s), CLIENT_OK);
    p.root_delay = 0x00200000; /* 32 s / 2 */
    p.root_disp = 0;
    assert_int_equal(run(&p, NONCE, t1, t1 + SEC(0.25), -20, &s), CLIENT_DISTANCE);
    p.root_delay = 0x00100000; /* 8 + 8 */
    p.root_disp = 0x00080000;
    assert_int_equal(run(&p, NONCE, t1, t1 + SEC(0.25), -20, &s), CLIENT_DISTANCE);
    p.root_disp = 0x0007ffff;
    assert_int_equal(run(&p, NONCE, t1, t1 + SEC(0.25), -20, &s), CLIENT_OK);
    assert_near(s.root_distance, (16.0 + 0.125) / 2 + 0x7ffff / 65536.0 + s.dispersion, 1e-12);
    /* The distance test comes after the time tests. */
    p.root_disp = 0xffffffff;
    p.xmt = p.rec - 1;
    assert_int_equal(run(&p, NONCE, t1, t1 + SEC(0.25), -20, &s), CLIENT_BAD_TIMES);
}

/* A v4 response with a MAC trailer or an extension field still decodes and is measured
 * (verifying the MAC is the caller's business). */
static void response_with_trailer(void **state)
{
    (void)state;
    ntp_ts_t t1 = UINT64_C(0xe8b0000000000000);
    struct ntp_packet p = response(t1 + SEC(0.3125), t1 + SEC(0.4375));
    uint8_t buf[48 + 24];
    struct ntp_sample s;

    memset(buf, 0, sizeof(buf));
    pkt_encode(&p, buf, sizeof(buf));
    buf[51] = 1; /* key ID 1, 20-octet digest */
    assert_int_equal(client_process(buf, sizeof(buf), NONCE, t1, t1 + SEC(0.25), -20, &s),
                     CLIENT_OK);
    assert_true(s.offset == 0.25);
}

static void reject_names(void **state)
{
    (void)state;
    for (int i = 0; i < CLIENT_REJECT_COUNT; i++) {
        const char *a = client_reject_name((enum client_reject)i);
        assert_non_null(a);
        assert_true(strlen(a) > 0);
        assert_string_not_equal(a, "unknown");
        for (int j = 0; j < i; j++) {
            assert_string_not_equal(a, client_reject_name((enum client_reject)j));
        }
    }
    assert_string_equal(client_reject_name(CLIENT_BOGUS), "bogus");
    assert_string_equal(client_reject_name(CLIENT_KOD), "kod");
    assert_string_equal(client_reject_name(CLIENT_REJECT_COUNT), "unknown");
    assert_string_equal(client_reject_name((enum client_reject) - 1), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(request_octets_exact),
        cmocka_unit_test(request_short_buffer),
        cmocka_unit_test(request_decodes),
        cmocka_unit_test(exchange_exact),
        cmocka_unit_test(t1_is_ours_not_origin),
        cmocka_unit_test(exchange_across_era),
        cmocka_unit_test(negative_offsets),
        cmocka_unit_test(delay_clamp),
        cmocka_unit_test(reject_format),
        cmocka_unit_test(reject_mode),
        cmocka_unit_test(reject_bogus),
        cmocka_unit_test(kod_needs_origin),
        cmocka_unit_test(kod_fields),
        cmocka_unit_test(reject_unsync),
        cmocka_unit_test(reject_zero_time),
        cmocka_unit_test(reject_bad_times),
        cmocka_unit_test(reject_distance),
        cmocka_unit_test(response_with_trailer),
        cmocka_unit_test(reject_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
