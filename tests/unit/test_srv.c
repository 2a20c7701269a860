/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for src/core/srv: what is answered, how, and what never is.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>
#include <string.h>

#include "core/ntp_time.h"
#include "core/pkt.h"
#include "core/srv.h"

static size_t make_req(uint8_t *buf, uint8_t version, uint8_t mode, ntp_ts_t xmt)
{
    struct ntp_packet p;
    memset(&p, 0, sizeof(p));
    p.version = version;
    p.mode = mode;
    p.poll = 6;
    p.xmt = xmt;
    return pkt_encode(&p, buf, PKT_MAX_LEN);
}

static const struct srv_sys synced = {
    .leap = PKT_LEAP_NONE,
    .stratum = 2,
    .precision = -20,
    .refid = 0x7f000001,
    .ref_time = UINT64_C(0xe8b0000000000000),
    .root_delay = 0.0125,
    .root_disp = 0.001,
};

static void classify_every_mode_and_version(void **state)
{
    (void)state;
    uint8_t buf[PKT_MAX_LEN];
    struct ntp_packet req;
    uint8_t rm;
    enum pkt_reason why;

    for (uint8_t v = 0; v < 8; v++) {
        for (uint8_t m = 0; m < 8; m++) {
            size_t n = make_req(buf, v, m, 0x1234);
            enum srv_drop d = srv_classify(buf, n, 40000, &req, &rm, &why);
            if (m == 6) {
                assert_int_equal(d, SRV_DROP_CONTROL);
            } else if (m == 7) {
                assert_int_equal(d, SRV_DROP_PRIVATE);
            } else if (v == 0 || v > 4) {
                assert_int_equal(d, SRV_DROP_FORMAT);
                assert_int_equal(why, PKT_ERR_VERSION);
            } else if (m == 3) {
                assert_int_equal(d, SRV_ANSWER);
                assert_int_equal(rm, PKT_MODE_SERVER);
            } else if (m == 1) {
                assert_int_equal(d, SRV_ANSWER);
                assert_int_equal(rm, PKT_MODE_PASSIVE);
            } else if (m == 2 || m == 4) {
                assert_int_equal(d, SRV_DROP_RESPONSE);
            } else if (m == 5) {
                assert_int_equal(d, SRV_DROP_BROADCAST);
            } else if (m == 0 && v == 1) {
                assert_int_equal(d, SRV_ANSWER);
                assert_int_equal(rm, PKT_MODE_SERVER);
            } else {
                assert_int_equal(m, 0);
                assert_int_equal(d, SRV_DROP_MODE0);
            }
        }
    }
}

static void ntpv1_from_port_123_is_a_peer(void **state)
{
    (void)state;
    uint8_t buf[PKT_MAX_LEN];
    struct ntp_packet req;
    uint8_t rm;
    enum pkt_reason why;
    size_t n = make_req(buf, 1, 0, 1);
    assert_int_equal(srv_classify(buf, n, 123, &req, &rm, &why), SRV_ANSWER);
    assert_int_equal(rm, PKT_MODE_PASSIVE);
}

static void short_and_malformed_are_format_drops(void **state)
{
    (void)state;
    uint8_t buf[PKT_MAX_LEN];
    struct ntp_packet req;
    uint8_t rm;
    enum pkt_reason why;
    size_t n = make_req(buf, 4, 3, 1);
    assert_int_equal(srv_classify(buf, 47, 1, &req, &rm, &why), SRV_DROP_FORMAT);
    assert_int_equal(why, PKT_ERR_SHORT);
    assert_int_equal(srv_classify(buf, 0, 1, &req, &rm, &why), SRV_DROP_FORMAT);
    assert_int_equal(srv_classify(buf, n + 2, 1, &req, &rm, &why), SRV_DROP_FORMAT);
    assert_int_equal(why, PKT_ERR_ALIGN);
}

static void mac_or_nak_is_not_answered(void **state)
{
    (void)state;
    uint8_t buf[PKT_MAX_LEN];
    struct ntp_packet req;
    uint8_t rm;
    enum pkt_reason why;
    static const size_t trailers[] = { 4, 20, 24 };
    for (size_t i = 0; i < 3; i++) {
        memset(buf, 0, sizeof(buf));
        size_t n = make_req(buf, 4, 3, 1);
        buf[n + 3] = trailers[i] == 4 ? 0 : 1;  /* a crypto-NAK is key ID 0 */
        assert_int_equal(srv_classify(buf, n + trailers[i], 1, &req, &rm, &why), SRV_DROP_AUTH);
    }
    /* NTPv3 with an MD5 MAC too. */
    size_t n = make_req(buf, 3, 3, 1);
    assert_int_equal(srv_classify(buf, n + 20, 1, &req, &rm, &why), SRV_DROP_AUTH);
}

static void reply_fields(void **state)
{
    (void)state;
    uint8_t buf[PKT_MAX_LEN], out[PKT_MAX_LEN];
    struct ntp_packet req, rep;
    uint8_t rm;
    enum pkt_reason why;
    ntp_ts_t rx = synced.ref_time + (UINT64_C(100) << 32);  /* 100 s after the reference */

    for (uint8_t v = 1; v <= 4; v++) {
        size_t n = make_req(buf, v, 3, UINT64_C(0xdeadbeefcafef00d));
        assert_int_equal(srv_classify(buf, n, 5555, &req, &rm, &why), SRV_ANSWER);
        size_t r = srv_reply(&synced, &req, rm, rx, 0, out, sizeof(out));
        assert_int_equal(r, PKT_HEADER_LEN);
        assert_true(r <= n);
        srv_stamp_xmt(out, rx + 1000, synced.precision, 0);
        assert_int_equal(pkt_decode(out, r, &rep), PKT_OK);
        assert_int_equal(rep.version, v);           /* version echo: v1 answers as v1 */
        assert_int_equal(rep.mode, PKT_MODE_SERVER);
        assert_int_equal(rep.leap, PKT_LEAP_NONE);
        assert_int_equal(rep.stratum, 2);
        assert_int_equal(rep.poll, 6);
        assert_int_equal(rep.precision, -20);
        assert_int_equal(rep.refid, 0x7f000001);
        assert_true(rep.ref == synced.ref_time);
        assert_true(rep.org == UINT64_C(0xdeadbeefcafef00d));
        /* Receive time fuzzed only below the precision (2^-20 s = 12 bits of fraction). */
        assert_true((rep.rec >> 12) == (rx >> 12));
        assert_true((rep.xmt >> 12) == ((rx + 1000) >> 12));
        assert_true(ntp_short_to_double(rep.root_delay) >= 0.0125);
        assert_true(ntp_short_to_double(rep.root_delay) < 0.0126);
        /* Root dispersion grew by PHI over 100 s: 0.001 + 0.0015. */
        double disp = ntp_short_to_double(rep.root_disp);
        assert_true(disp >= 0.0025 && disp < 0.00252);
    }
}

static void unsynchronized_is_leap3_stratum16(void **state)
{
    (void)state;
    uint8_t buf[PKT_MAX_LEN], out[PKT_MAX_LEN];
    struct ntp_packet req, rep;
    uint8_t rm;
    enum pkt_reason why;
    struct srv_sys s = synced;
    s.leap = PKT_LEAP_UNSYNC;
    s.stratum = 0;              /* must never go out as 0: that is a KoD */
    size_t n = make_req(buf, 4, 3, 77);
    assert_int_equal(srv_classify(buf, n, 5555, &req, &rm, &why), SRV_ANSWER);
    size_t r = srv_reply(&s, &req, rm, 1, 0, out, sizeof(out));
    assert_int_equal(pkt_decode(out, r, &rep), PKT_OK);
    assert_int_equal(rep.leap, PKT_LEAP_UNSYNC);
    assert_int_equal(rep.stratum, 16);
    s.leap = PKT_LEAP_NONE;
    s.stratum = 16;
    r = srv_reply(&s, &req, rm, 1, 0, out, sizeof(out));
    assert_int_equal(pkt_decode(out, r, &rep), PKT_OK);
    assert_int_equal(rep.leap, PKT_LEAP_UNSYNC);
}

static void symmetric_active_gets_mode2(void **state)
{
    (void)state;
    uint8_t buf[PKT_MAX_LEN], out[PKT_MAX_LEN];
    struct ntp_packet req, rep;
    uint8_t rm;
    enum pkt_reason why;
    size_t n = make_req(buf, 3, 1, 99);
    assert_int_equal(srv_classify(buf, n, 123, &req, &rm, &why), SRV_ANSWER);
    size_t r = srv_reply(&synced, &req, rm, 1, 0, out, sizeof(out));
    assert_int_equal(pkt_decode(out, r, &rep), PKT_OK);
    assert_int_equal(rep.mode, PKT_MODE_PASSIVE);
    assert_int_equal(rep.version, 3);
    assert_true(rep.org == 99);
}

static void kod_format(void **state)
{
    (void)state;
    uint8_t buf[PKT_MAX_LEN], out[PKT_MAX_LEN];
    struct ntp_packet req, rep;
    uint8_t rm;
    enum pkt_reason why;
    size_t n = make_req(buf, 4, 3, UINT64_C(0x0102030405060708));
    assert_int_equal(srv_classify(buf, n, 5555, &req, &rm, &why), SRV_ANSWER);
    size_t r = srv_kod(&req, rm, ntp_refid_from_ascii("RATE"), out, sizeof(out));
    assert_int_equal(r, PKT_HEADER_LEN);
    assert_int_equal(pkt_decode(out, r, &rep), PKT_OK);
    assert_int_equal(rep.leap, PKT_LEAP_UNSYNC);
    assert_int_equal(rep.stratum, 0);
    assert_int_equal(rep.mode, PKT_MODE_SERVER);
    assert_int_equal(rep.refid, ntp_refid_from_ascii("RATE"));
    assert_int_equal(ntp_kiss_from_refid(rep.refid), NTP_KISS_RATE);
    assert_true(rep.org == UINT64_C(0x0102030405060708));
    assert_true(rep.rec == 0 && rep.xmt == 0 && rep.ref == 0);
}

static void extension_fields_are_ignored_and_reply_is_smaller(void **state)
{
    (void)state;
    uint8_t buf[PKT_MAX_LEN], out[PKT_MAX_LEN];
    struct ntp_packet req;
    uint8_t rm;
    enum pkt_reason why;
    memset(buf, 0, sizeof(buf));
    size_t n = make_req(buf, 4, 3, 5);
    /* One unknown 32-octet extension field (type 0x7777). */
    buf[n] = 0x77;
    buf[n + 1] = 0x77;
    buf[n + 3] = 32;
    n += 32;
    assert_int_equal(srv_classify(buf, n, 5555, &req, &rm, &why), SRV_ANSWER);
    size_t r = srv_reply(&synced, &req, rm, 1, 0, out, sizeof(out));
    assert_int_equal(r, PKT_HEADER_LEN);
    assert_true(r < n);
}

static void fuzz_keeps_significant_bits(void **state)
{
    (void)state;
    ntp_ts_t t = UINT64_C(0x123456789abcdef0);
    assert_true(srv_fuzz_ts(t, -32, 0xffffffff) == t);
    assert_true(srv_fuzz_ts(t, -20, 0) == (t & ~UINT64_C(0xfff)));
    assert_true(srv_fuzz_ts(t, -20, 0xffffffff) == (t | UINT64_C(0xfff)));
    assert_true(srv_fuzz_ts(t, 0, 0) == (t & ~UINT64_C(0xffffffff)));
    assert_true(srv_fuzz_ts(t, 5, 0) == (t & ~UINT64_C(0xffffffff)));
}

static void reply_needs_room(void **state)
{
    (void)state;
    uint8_t buf[PKT_MAX_LEN], out[PKT_MAX_LEN];
    struct ntp_packet req;
    uint8_t rm;
    enum pkt_reason why;
    size_t n = make_req(buf, 4, 3, 5);
    assert_int_equal(srv_classify(buf, n, 5555, &req, &rm, &why), SRV_ANSWER);
    assert_int_equal(srv_reply(&synced, &req, rm, 1, 0, out, 47), 0);
    assert_int_equal(srv_kod(&req, rm, 0, out, 47), 0);
}

static void drop_names_are_distinct(void **state)
{
    (void)state;
    for (int i = 0; i < SRV_DROP_COUNT; i++) {
        for (int j = i + 1; j < SRV_DROP_COUNT; j++) {
            assert_string_not_equal(srv_drop_name((enum srv_drop)i),
                                    srv_drop_name((enum srv_drop)j));
        }
    }
    assert_string_equal(srv_drop_name(SRV_DROP_COUNT), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(classify_every_mode_and_version),
        cmocka_unit_test(ntpv1_from_port_123_is_a_peer),
        cmocka_unit_test(short_and_malformed_are_format_drops),
        cmocka_unit_test(mac_or_nak_is_not_answered),
        cmocka_unit_test(reply_fields),
        cmocka_unit_test(unsynchronized_is_leap3_stratum16),
        cmocka_unit_test(symmetric_active_gets_mode2),
        cmocka_unit_test(kod_format),
        cmocka_unit_test(extension_fields_are_ignored_and_reply_is_smaller),
        cmocka_unit_test(fuzz_keeps_significant_bits),
        cmocka_unit_test(reply_needs_room),
        cmocka_unit_test(drop_names_are_distinct),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
