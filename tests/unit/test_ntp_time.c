/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for ntp_time: era resolution around the 2036 rollover and the 1900/1970
 * epochs, timestamp differences, timespec conversion and its rounding, the 16.16 short
 * format, refids and kiss codes. Expected values are computed by hand, not by the code
 * under test.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <math.h>
#include <string.h>

#include "core/crypto.h"
#include "core/ntp_time.h"

/* 2036-02-07 06:28:16 UTC (`date -u -d @2085978496`): NTP era 1, second 0. */
#define ERA1_UNIX INT64_C(2085978496)
/* 2020-01-01 00:00:00 UTC (era 0) and 2040-01-01 00:00:00 UTC (era 1). */
#define UNIX_2020 INT64_C(1577836800)
#define UNIX_2040 INT64_C(2208988800)
/* 2100-01-01 00:00:00 UTC (era 1). */
#define UNIX_2100 INT64_C(4102444800)

#define TS(sec, frac) (((uint64_t)(uint32_t)(sec) << 32) | (uint32_t)(frac))

static struct timespec mkts(int64_t sec, long nsec)
{
    struct timespec t;
    t.tv_sec = (time_t)sec;
    t.tv_nsec = nsec;
    return t;
}

static void assert_ts_to(ntp_ts_t t, int64_t pivot, int64_t want_sec, long want_nsec)
{
    struct timespec out;
    ntp_ts_to_timespec(t, pivot, &out);
    assert_int_equal((int64_t)out.tv_sec, want_sec);
    assert_int_equal(out.tv_nsec, want_nsec);
}

static void test_epochs(void **state)
{
    (void)state;
    struct timespec unix0 = mkts(0, 0);

    /* 1970-01-01 is NTP second 2208988800 = 0x83aa7e80 of era 0. */
    assert_int_equal(ntp_ts_from_timespec(&unix0), TS(0x83aa7e80u, 0));
    assert_ts_to(TS(0x83aa7e80u, 0), 0, 0, 0);
    /* 1900-01-01 00:00:00 is wire 0 of era 0: found from a pivot in 1900 ... */
    assert_ts_to(TS(0, 0), -NTP_UNIX_OFFSET, -NTP_UNIX_OFFSET, 0);
    assert_ts_to(TS(0, 0), -NTP_UNIX_OFFSET + 1000, -NTP_UNIX_OFFSET, 0);
    /* ... but from 1970 the nearest time with wire seconds 0 is 2036, not 1900:
     * 1900 is 2208988800 s away (> 2^31), 2036 only 2085978496 s. */
    assert_ts_to(TS(0, 0), 0, ERA1_UNIX, 0);
    struct timespec t1900 = mkts(-NTP_UNIX_OFFSET, 0);
    assert_int_equal(ntp_ts_from_timespec(&t1900), 0);
}

static void test_era_boundary_from_timespec(void **state)
{
    (void)state;
    struct timespec t;

    t = mkts(ERA1_UNIX, 0);
    assert_int_equal(ntp_ts_from_timespec(&t), TS(0, 0));
    t = mkts(ERA1_UNIX - 1, 0);
    assert_int_equal(ntp_ts_from_timespec(&t), TS(0xffffffffu, 0));
    /* 999999999 ns = 0xfffffffb.b4... units -> nearest is 0xfffffffc. */
    t = mkts(ERA1_UNIX - 1, 999999999);
    assert_int_equal(ntp_ts_from_timespec(&t), TS(0xffffffffu, 0xfffffffcu));
    /* 1 ns = 4.29 units -> 4. */
    t = mkts(ERA1_UNIX, 1);
    assert_int_equal(ntp_ts_from_timespec(&t), TS(0, 4));
    t = mkts(ERA1_UNIX + 1, 500000000);
    assert_int_equal(ntp_ts_from_timespec(&t), TS(1, 0x80000000u));
    /* Era 2 starts 2^32 s after era 1. */
    t = mkts(ERA1_UNIX + NTP_ERA_SECONDS + 7, 0);
    assert_int_equal(ntp_ts_from_timespec(&t), TS(7, 0));
}

static void test_era_boundary_to_timespec(void **state)
{
    (void)state;

    /* Pivot exactly at the rollover. */
    assert_ts_to(TS(0, 0), ERA1_UNIX, ERA1_UNIX, 0);
    assert_ts_to(TS(0xffffffffu, 0), ERA1_UNIX, ERA1_UNIX - 1, 0);
    assert_ts_to(TS(0xffffffffu, 0xfffffffcu), ERA1_UNIX, ERA1_UNIX - 1, 999999999);
    assert_ts_to(TS(0, 4), ERA1_UNIX, ERA1_UNIX, 1);
    /* Pivot in era 0 (2020): timestamps just after the rollover land in 2036. */
    assert_ts_to(TS(0, 0), UNIX_2020, ERA1_UNIX, 0);
    assert_ts_to(TS(5, 0), UNIX_2020, ERA1_UNIX + 5, 0);
    assert_ts_to(TS(0xffffffffu, 0), UNIX_2020, ERA1_UNIX - 1, 0);
    /* Pivot in era 1 (2040): timestamps just before the rollover land in 2036 too. */
    assert_ts_to(TS(0xffffffffu, 0), UNIX_2040, ERA1_UNIX - 1, 0);
    assert_ts_to(TS(0, 0), UNIX_2040, ERA1_UNIX, 0);
    /* 2040 itself is wire second 2208988800 + 2208988800 - 2^32 of era 1. */
    assert_ts_to(TS((uint32_t)(2 * NTP_UNIX_OFFSET - NTP_ERA_SECONDS), 0), UNIX_2040, UNIX_2040, 0);
    /* 2100 with a pivot in 2100. */
    uint32_t w2100 = (uint32_t)(UNIX_2100 + NTP_UNIX_OFFSET - NTP_ERA_SECONDS);
    assert_ts_to(TS(w2100, 0), UNIX_2100, UNIX_2100, 0);
    assert_ts_to(TS(w2100, 0), UNIX_2100 - 1000000000, UNIX_2100, 0);
}

static void test_pivot_window_edges(void **state)
{
    (void)state;
    const int64_t pivots[] = {0,         UNIX_2020, ERA1_UNIX,        ERA1_UNIX - 1,
                              UNIX_2040, UNIX_2100, -NTP_UNIX_OFFSET, INT64_C(-5000000000)};
    const int64_t half = INT64_C(0x80000000);

    for (size_t i = 0; i < sizeof(pivots) / sizeof(pivots[0]); i++) {
        int64_t p = pivots[i];
        uint32_t pw = (uint32_t)((uint64_t)p + (uint64_t)NTP_UNIX_OFFSET);
        /* The window is [p - 2^31, p + 2^31). */
        assert_ts_to(TS(pw, 0), p, p, 0);
        assert_ts_to(TS(pw + 0x7fffffffu, 0), p, p + half - 1, 0);
        assert_ts_to(TS(pw + 0x80000000u, 0), p, p - half, 0);
        assert_ts_to(TS(pw - 0x80000000u, 0), p, p - half, 0);
        assert_ts_to(TS(pw - 1u, 0), p, p - 1, 0);
    }
}

static void test_timespec_round_trip(void **state)
{
    (void)state;
    const int64_t secs[] = {-NTP_UNIX_OFFSET,
                            -1,
                            0,
                            1,
                            1000000000,
                            UNIX_2020,
                            ERA1_UNIX - 1,
                            ERA1_UNIX,
                            ERA1_UNIX + 1,
                            UNIX_2040,
                            UNIX_2100,
                            INT64_C(-3000000000)};
    const long nsecs[] = {0,         1,         2,         3,         232,       233,
                          499999999, 500000000, 500000001, 123456789, 999999998, 999999999};
    const int64_t pivot_offsets[] = {
        0, 1, -1, 1000000000, -1000000000, INT64_C(2147483647), INT64_C(-2147483647)};

    for (size_t i = 0; i < sizeof(secs) / sizeof(secs[0]); i++) {
        for (size_t j = 0; j < sizeof(nsecs) / sizeof(nsecs[0]); j++) {
            struct timespec in = mkts(secs[i], nsecs[j]);
            ntp_ts_t t = ntp_ts_from_timespec(&in);
            for (size_t k = 0; k < sizeof(pivot_offsets) / sizeof(pivot_offsets[0]); k++) {
                /* A 32-bit fraction is finer than 1 ns, so ns -> fraction -> ns is exact. */
                assert_ts_to(t, secs[i] + pivot_offsets[k], secs[i], nsecs[j]);
            }
        }
    }
}

static void test_fraction_rounding(void **state)
{
    (void)state;
    struct timespec t;

    /* ns -> fraction, nearest: n * 2^32 / 1e9. */
    t = mkts(0, 500000000);
    assert_int_equal((uint32_t)ntp_ts_from_timespec(&t), 0x80000000u);
    t = mkts(0, 250000000);
    assert_int_equal((uint32_t)ntp_ts_from_timespec(&t), 0x40000000u);
    t = mkts(0, 2); /* 8.59 -> 9 */
    assert_int_equal((uint32_t)ntp_ts_from_timespec(&t), 9);
    t = mkts(0, 3); /* 12.88 -> 13 */
    assert_int_equal((uint32_t)ntp_ts_from_timespec(&t), 13);

    /* fraction -> ns, nearest: f * 1e9 / 2^32. */
    assert_ts_to(TS(0x83aa7e80u, 1), 0, 0, 0); /* 0.23 ns */
    assert_ts_to(TS(0x83aa7e80u, 2), 0, 0, 0); /* 0.47 ns */
    assert_ts_to(TS(0x83aa7e80u, 3), 0, 0, 1); /* 0.70 ns */
    assert_ts_to(TS(0x83aa7e80u, 0x80000000u), 0, 0, 500000000);
    assert_ts_to(TS(0x83aa7e80u, 0xfffffffdu), 0, 0, 999999999); /* 999999999.30 */
    /* 999999999.53 and .77 ns round to a whole second and carry into the seconds. */
    assert_ts_to(TS(0x83aa7e80u, 0xfffffffeu), 0, 1, 0);
    assert_ts_to(TS(0x83aa7e80u, 0xffffffffu), 0, 1, 0);
    /* The carry crosses the era boundary as well. */
    assert_ts_to(TS(0xffffffffu, 0xffffffffu), ERA1_UNIX, ERA1_UNIX, 0);
    assert_ts_to(TS(0xffffffffu, 0xffffffffu), UNIX_2020, ERA1_UNIX, 0);
}

static void test_denormal_timespec(void **state)
{
    (void)state;
    struct timespec a = mkts(10, 1500000000);
    struct timespec b = mkts(11, 500000000);
    assert_int_equal(ntp_ts_from_timespec(&a), ntp_ts_from_timespec(&b));
    a = mkts(10, -1);
    b = mkts(9, 999999999);
    assert_int_equal(ntp_ts_from_timespec(&a), ntp_ts_from_timespec(&b));
}

static void test_diff_and_cmp(void **state)
{
    (void)state;
    ntp_ts_t before = TS(0xffffffffu, 0); /* 2036-02-07 06:28:15 */
    ntp_ts_t after = TS(1, 0);            /* 2036-02-07 06:28:17 */

    assert_true(ntp_ts_diff(after, before) == 2.0);
    assert_true(ntp_ts_diff(before, after) == -2.0);
    assert_true(ntp_ts_diff(TS(0, 0), TS(0xffffffffu, 0x80000000u)) == 0.5);
    assert_true(ntp_ts_diff(TS(0xffffffffu, 0x80000000u), TS(0, 0)) == -0.5);
    assert_int_equal(ntp_ts_cmp(after, before), 1);
    assert_int_equal(ntp_ts_cmp(before, after), -1);
    assert_int_equal(ntp_ts_cmp(after, after), 0);

    /* Plain negative differences within an era. */
    assert_true(ntp_ts_diff(TS(100, 0x40000000u), TS(100, 0xc0000000u)) == -0.5);
    assert_true(ntp_ts_diff(TS(100, 0), TS(101, 0)) == -1.0);
    assert_true(ntp_ts_diff(TS(100, 1), TS(100, 2)) == -1.0 / 4294967296.0);
    assert_int_equal(ntp_ts_cmp(TS(100, 1), TS(100, 2)), -1);

    /* The limit of the method: just under 68 years either way. */
    assert_true(ntp_ts_diff(TS(0x7fffffffu, 0), TS(0, 0)) == 2147483647.0);
    assert_true(ntp_ts_diff(TS(0, 0), TS(0x7fffffffu, 0)) == -2147483647.0);
    /* Exactly half the range apart: two's complement says -2^31 s. */
    assert_true(ntp_ts_diff(TS(0x7fffffffu, 0), TS(0xffffffffu, 0)) == -2147483648.0);

    /* Differences agree with the resolved Unix times on both sides of the rollover. */
    struct timespec a = mkts(ERA1_UNIX + 3, 250000000);
    struct timespec b = mkts(ERA1_UNIX - 2, 750000000);
    assert_true(ntp_ts_diff(ntp_ts_from_timespec(&a), ntp_ts_from_timespec(&b)) == 4.5);
    assert_true(ntp_ts_diff(ntp_ts_from_timespec(&b), ntp_ts_from_timespec(&a)) == -4.5);
}

static void test_add(void **state)
{
    (void)state;
    assert_int_equal(ntp_ts_add(TS(0xffffffffu, 0x80000000u), 1.0), TS(0, 0x80000000u));
    assert_int_equal(ntp_ts_add(TS(0, 0x80000000u), -1.0), TS(0xffffffffu, 0x80000000u));
    assert_int_equal(ntp_ts_add(TS(0, 0), -0.5), TS(0xffffffffu, 0x80000000u));
    assert_int_equal(ntp_ts_add(TS(0, 0), 0.25), TS(0, 0x40000000u));
    assert_int_equal(ntp_ts_add(TS(7, 7), 0.0), TS(7, 7));
    assert_int_equal(ntp_ts_add(TS(7, 7), NAN), TS(7, 7));
    /* add and diff are inverse. */
    ntp_ts_t t = TS(0xfffffff0u, 0x12345678u);
    assert_true(ntp_ts_diff(ntp_ts_add(t, 100.125), t) == 100.125);
    assert_true(ntp_ts_diff(ntp_ts_add(t, -100.125), t) == -100.125);
}

static void test_short_format(void **state)
{
    (void)state;
    assert_true(ntp_short_to_double(0) == 0.0);
    assert_true(ntp_short_to_double(0x00010000u) == 1.0);
    assert_true(ntp_short_to_double(0x00008000u) == 0.5);
    assert_true(ntp_short_to_double(1) == 1.0 / 65536.0);
    assert_true(ntp_short_to_double(0xffffffffu) == 65535.0 + 65535.0 / 65536.0);

    assert_int_equal(ntp_short_from_double(1.0), 0x00010000u);
    assert_int_equal(ntp_short_from_double(0.5), 0x00008000u);
    assert_int_equal(ntp_short_from_double(1.0 / 65536.0), 1);
    /* Rounded up: anything above a unit boundary takes the next unit. */
    assert_int_equal(ntp_short_from_double(1e-9), 1);
    assert_int_equal(ntp_short_from_double(1.5 / 65536.0), 2);
    assert_int_equal(ntp_short_from_double(1.0 + 1e-9), 0x00010001u);
    assert_int_equal(ntp_short_from_double(65535.0), 0xffff0000u);
    assert_int_equal(ntp_short_from_double(65535.9999), 0xfffffffau); /* 4294967289.4 */
    /* Zero, negatives and NaN give 0. */
    assert_int_equal(ntp_short_from_double(0.0), 0);
    assert_int_equal(ntp_short_from_double(-0.0), 0);
    assert_int_equal(ntp_short_from_double(-1e-9), 0);
    assert_int_equal(ntp_short_from_double(-70000.0), 0);
    assert_int_equal(ntp_short_from_double(NAN), 0);
    assert_int_equal(ntp_short_from_double(-INFINITY), 0);
    /* Saturation. */
    assert_int_equal(ntp_short_from_double(65535.99998), 0xffffffffu);
    assert_int_equal(ntp_short_from_double(65536.0), 0xffffffffu);
    assert_int_equal(ntp_short_from_double(1e12), 0xffffffffu);
    assert_int_equal(ntp_short_from_double(INFINITY), 0xffffffffu);
}

static void test_timespec_helpers(void **state)
{
    (void)state;
    struct timespec a = mkts(5, 0);
    struct timespec b = mkts(3, 500000000);
    assert_true(ntp_timespec_diff(&a, &b) == 1.5);
    assert_true(ntp_timespec_diff(&b, &a) == -1.5);

    struct timespec t = mkts(1, 900000000);
    ntp_timespec_add(&t, 0.2);
    assert_int_equal((int64_t)t.tv_sec, 2);
    assert_int_equal(t.tv_nsec, 100000000);
    t = mkts(1, 100000000);
    ntp_timespec_add(&t, -0.2);
    assert_int_equal((int64_t)t.tv_sec, 0);
    assert_int_equal(t.tv_nsec, 900000000);
    t = mkts(0, 0);
    ntp_timespec_add(&t, -1e-9);
    assert_int_equal((int64_t)t.tv_sec, -1);
    assert_int_equal(t.tv_nsec, 999999999);
    t = mkts(0, 999999999);
    ntp_timespec_add(&t, 1e-9);
    assert_int_equal((int64_t)t.tv_sec, 1);
    assert_int_equal(t.tv_nsec, 0);
    t = mkts(ERA1_UNIX - 1, 500000000);
    ntp_timespec_add(&t, -3600.5);
    assert_int_equal((int64_t)t.tv_sec, ERA1_UNIX - 3601);
    assert_int_equal(t.tv_nsec, 0);
    t = mkts(42, 42);
    ntp_timespec_add(&t, NAN);
    assert_int_equal((int64_t)t.tv_sec, 42);
    assert_int_equal(t.tv_nsec, 42);
}

static void test_refid_ipv4_ascii(void **state)
{
    (void)state;
    const uint8_t v4[4] = {192, 0, 2, 1};
    char s[5];

    assert_int_equal(ntp_refid_ipv4(v4), 0xc0000201u);
    assert_int_equal(ntp_refid_from_ascii("LOCL"), 0x4c4f434cu);
    assert_int_equal(ntp_refid_from_ascii("RATE"), 0x52415445u);
    assert_int_equal(ntp_refid_from_ascii("GPS"), 0x47505300u);
    assert_int_equal(ntp_refid_from_ascii(""), 0);
    assert_int_equal(ntp_refid_from_ascii("TOOLONG"), ntp_refid_from_ascii("TOOL"));

    ntp_refid_to_ascii(0x52415445u, s);
    assert_string_equal(s, "RATE");
    ntp_refid_to_ascii(0x47505300u, s);
    assert_string_equal(s, "GPS");
    ntp_refid_to_ascii(0, s);
    assert_string_equal(s, "");
    ntp_refid_to_ascii(0x41004200u, s); /* interior NUL is not trailing */
    assert_string_equal(s, "A.B");
    ntp_refid_to_ascii(0x0a414243u, s);
    assert_string_equal(s, ".ABC");
    ntp_refid_to_ascii(0x41ff427fu, s);
    assert_string_equal(s, "A.B.");
    ntp_refid_to_ascii(0xc0000201u, s);
    assert_string_equal(s, "...."); /* 0xc0 is not ASCII; the 0x00s are interior */
}

static void test_refid_ipv6(void **state)
{
    (void)state;
    /* Expected digests from the command line, independent of our code:
     *   printf '\x20\x01\x0d\xb8\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x01' | openssl md5
     *     -> 39ab9b3749629b8f2c7ccf39226f680c   (2001:db8::1)
     *   printf '\x00...\x00\x01' (15 zero octets, then 1) | openssl md5
     *     -> cf404dc806178c245b5b4fe2531e6d8c   (::1) */
    const uint8_t doc[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    const uint8_t lo[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

    assert_int_equal(ntp_refid_ipv6(doc), 0x39ab9b37u);
    assert_int_equal(ntp_refid_ipv6(lo), 0xcf404dc8u);
}

static void test_crypto_md5(void **state)
{
    (void)state;
    /* RFC 1321 appendix A.5 test suite. */
    const uint8_t abc[16] = {0x90, 0x01, 0x50, 0x98, 0x3c, 0xd2, 0x4f, 0xb0,
                             0xd6, 0x96, 0x3f, 0x7d, 0x28, 0xe1, 0x7f, 0x72};
    const uint8_t empty[16] = {0xd4, 0x1d, 0x8c, 0xd9, 0x8f, 0x00, 0xb2, 0x04,
                               0xe9, 0x80, 0x09, 0x98, 0xec, 0xf8, 0x42, 0x7e};
    uint8_t out[16];

    assert_int_equal(crypto_md5("abc", 3, out), 0);
    assert_memory_equal(out, abc, 16);
    assert_int_equal(crypto_md5("", 0, out), 0);
    assert_memory_equal(out, empty, 16);
    assert_int_equal(crypto_md5(NULL, 0, out), 0);
    assert_memory_equal(out, empty, 16);
    assert_int_equal(crypto_md5(NULL, 1, out), -1);
}

static void test_kiss(void **state)
{
    (void)state;
    static const struct {
        enum ntp_kiss k;
        const char *name;
    } codes[] = {
        {NTP_KISS_ACST, "ACST"}, {NTP_KISS_AUTH, "AUTH"}, {NTP_KISS_AUTO, "AUTO"},
        {NTP_KISS_BCST, "BCST"}, {NTP_KISS_CRYP, "CRYP"}, {NTP_KISS_DENY, "DENY"},
        {NTP_KISS_DROP, "DROP"}, {NTP_KISS_RSTR, "RSTR"}, {NTP_KISS_INIT, "INIT"},
        {NTP_KISS_MCST, "MCST"}, {NTP_KISS_NKEY, "NKEY"}, {NTP_KISS_NTSN, "NTSN"},
        {NTP_KISS_RATE, "RATE"}, {NTP_KISS_RMOT, "RMOT"}, {NTP_KISS_STEP, "STEP"},
    };

    assert_int_equal(sizeof(codes) / sizeof(codes[0]), NTP_KISS_STEP);
    for (size_t i = 0; i < sizeof(codes) / sizeof(codes[0]); i++) {
        assert_string_equal(ntp_kiss_name(codes[i].k), codes[i].name);
        uint32_t refid = ((uint32_t)(uint8_t)codes[i].name[0] << 24) |
                         ((uint32_t)(uint8_t)codes[i].name[1] << 16) |
                         ((uint32_t)(uint8_t)codes[i].name[2] << 8) | (uint8_t)codes[i].name[3];
        assert_int_equal(ntp_kiss_from_refid(refid), codes[i].k);
    }
    assert_int_equal(ntp_kiss_from_refid(0x52415445u), NTP_KISS_RATE);
    assert_int_equal(ntp_kiss_from_refid(0x44454e59u), NTP_KISS_DENY);
    assert_int_equal(ntp_kiss_from_refid(0x72617465u), NTP_KISS_UNKNOWN); /* "rate" */
    assert_int_equal(ntp_kiss_from_refid(0x4c4f434cu), NTP_KISS_UNKNOWN); /* "LOCL" */
    assert_int_equal(ntp_kiss_from_refid(0x52415400u), NTP_KISS_UNKNOWN); /* "RAT" */
    assert_int_equal(ntp_kiss_from_refid(0x3f3f3f3fu), NTP_KISS_UNKNOWN); /* "????" */
    assert_int_equal(ntp_kiss_from_refid(0), NTP_KISS_UNKNOWN);
    assert_string_equal(ntp_kiss_name(NTP_KISS_UNKNOWN), "????");
    assert_string_equal(ntp_kiss_name((enum ntp_kiss)99), "????");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_epochs),
        cmocka_unit_test(test_era_boundary_from_timespec),
        cmocka_unit_test(test_era_boundary_to_timespec),
        cmocka_unit_test(test_pivot_window_edges),
        cmocka_unit_test(test_timespec_round_trip),
        cmocka_unit_test(test_fraction_rounding),
        cmocka_unit_test(test_denormal_timespec),
        cmocka_unit_test(test_diff_and_cmp),
        cmocka_unit_test(test_add),
        cmocka_unit_test(test_short_format),
        cmocka_unit_test(test_timespec_helpers),
        cmocka_unit_test(test_refid_ipv4_ascii),
        cmocka_unit_test(test_refid_ipv6),
        cmocka_unit_test(test_crypto_md5),
        cmocka_unit_test(test_kiss),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
