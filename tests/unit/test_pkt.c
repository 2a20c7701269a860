/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for pkt: every reject reason from a minimal packet that triggers exactly it,
 * header encode/decode round trips at extreme values and against hand-written wire bytes,
 * extension field and MAC layouts (RFC 7822), pkt_peek, pkt_set_xmt and reason names.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "core/pkt.h"

/* Room for the largest legal datagram and a few octets more. */
static uint8_t buf[PKT_MAX_LEN + 16];

/* A zeroed header with the given version and mode, followed by zeroes. */
static void hdr(unsigned version, unsigned mode)
{
    memset(buf, 0, sizeof(buf));
    buf[0] = (uint8_t)(version << 3 | mode);
}

/* Writes an extension field header (type, total length) at off; the value stays zero. */
static void ef(size_t off, uint16_t type, uint16_t length)
{
    buf[off] = (uint8_t)(type >> 8);
    buf[off + 1] = (uint8_t)type;
    buf[off + 2] = (uint8_t)(length >> 8);
    buf[off + 3] = (uint8_t)length;
}

static void put32(size_t off, uint32_t v)
{
    buf[off] = (uint8_t)(v >> 24);
    buf[off + 1] = (uint8_t)(v >> 16);
    buf[off + 2] = (uint8_t)(v >> 8);
    buf[off + 3] = (uint8_t)v;
}

static enum pkt_reason dec(size_t len, struct ntp_packet *p)
{
    return pkt_decode(buf, len, p);
}

static void test_reject_short_long_align(void **state)
{
    (void)state;
    struct ntp_packet p;

    hdr(4, 3);
    assert_int_equal(dec(47, &p), PKT_ERR_SHORT);
    assert_int_equal(dec(44, &p), PKT_ERR_SHORT);
    assert_int_equal(dec(0, &p), PKT_ERR_SHORT);
    /* Length checks come before the header is read: mode 6 with 12 octets is short. */
    hdr(2, 6);
    assert_int_equal(dec(12, &p), PKT_ERR_SHORT);

    hdr(4, 3);
    ef(48, 0x1234, PKT_MAX_LEN - 48);
    assert_int_equal(dec(PKT_MAX_LEN, &p), PKT_OK); /* the cap itself is fine */
    assert_int_equal(dec(PKT_MAX_LEN + 4, &p), PKT_ERR_LONG);
    assert_int_equal(dec(PKT_MAX_LEN + 1, &p), PKT_ERR_LONG);

    hdr(4, 3);
    assert_int_equal(dec(49, &p), PKT_ERR_ALIGN);
    assert_int_equal(dec(50, &p), PKT_ERR_ALIGN);
    assert_int_equal(dec(51, &p), PKT_ERR_ALIGN);
    /* Alignment before version. */
    hdr(0, 3);
    assert_int_equal(dec(50, &p), PKT_ERR_ALIGN);
}

static void test_reject_version_mode(void **state)
{
    (void)state;
    struct ntp_packet p;
    const unsigned bad_versions[] = {0, 5, 6, 7};

    for (size_t i = 0; i < 4; i++) {
        hdr(bad_versions[i], 3);
        assert_int_equal(dec(48, &p), PKT_ERR_VERSION);
    }
    /* Version before mode. */
    hdr(0, 6);
    assert_int_equal(dec(48, &p), PKT_ERR_VERSION);
    for (unsigned v = 1; v <= 4; v++) {
        hdr(v, 6);
        assert_int_equal(dec(48, &p), PKT_ERR_MODE);
        hdr(v, 7);
        assert_int_equal(dec(48, &p), PKT_ERR_MODE);
        /* Mode before the trailer. */
        assert_int_equal(dec(56, &p), PKT_ERR_MODE);
        for (unsigned m = 0; m <= 5; m++) {
            hdr(v, m);
            assert_int_equal(dec(48, &p), PKT_OK);
            assert_int_equal(p.version, v);
            assert_int_equal(p.mode, m);
        }
    }
}

static void test_reject_old_version_trailers(void **state)
{
    (void)state;
    struct ntp_packet p;

    for (unsigned v = 1; v <= 3; v++) {
        /* A crypto-NAK is an NTPv4 shape (RFC 7822). */
        hdr(v, 3);
        assert_int_equal(dec(52, &p), PKT_ERR_EF_VERSION);
        /* A valid-looking last extension field in v1-v3. */
        hdr(v, 3);
        ef(48, 0x0104, 28);
        assert_int_equal(dec(76, &p), PKT_ERR_EF_VERSION);
        /* An extension field followed by a MAC. */
        hdr(v, 3);
        ef(48, 0x0104, 16);
        assert_int_equal(dec(84, &p), PKT_ERR_EF_VERSION);
        /* Neither a MAC nor anything NTPv4 would take. */
        hdr(v, 3);
        assert_int_equal(dec(56, &p), PKT_ERR_TRAILER);
        assert_int_equal(dec(60, &p), PKT_ERR_TRAILER);
        assert_int_equal(dec(64, &p), PKT_ERR_TRAILER);  /* EF length 0 */
        assert_int_equal(dec(116, &p), PKT_ERR_TRAILER); /* 68: MS-SNTP is not supported */
    }
}

static void test_reject_v4_trailer(void **state)
{
    (void)state;
    struct ntp_packet p;

    /* Remainders that are neither 0, 4, 20, 24 nor >= 16. */
    hdr(4, 3);
    assert_int_equal(dec(56, &p), PKT_ERR_TRAILER);
    assert_int_equal(dec(60, &p), PKT_ERR_TRAILER);
    /* After a valid extension field (28 + 8 and 28 + 12 octets; 16 + 8 would be a MAC). */
    hdr(4, 3);
    ef(48, 0x0104, 28);
    assert_int_equal(dec(76 + 8, &p), PKT_ERR_TRAILER);
    assert_int_equal(dec(76 + 12, &p), PKT_ERR_TRAILER);
    /* After a field, a remainder of 16 that is no field. */
    assert_int_equal(dec(76 + 16, &p), PKT_ERR_EF_LENGTH);
}

static void test_reject_ef_length(void **state)
{
    (void)state;
    struct ntp_packet p;
    const uint16_t bad[] = {0, 4, 12, 17, 18, 30, 0xffff};

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        hdr(4, 3);
        ef(48, 0x0104, bad[i]);
        assert_int_equal(dec(48 + 32, &p), PKT_ERR_EF_LENGTH);
    }
    /* The second field is the bad one. */
    hdr(4, 3);
    ef(48, 0x0104, 16);
    ef(64, 0x0204, 8);
    assert_int_equal(dec(48 + 16 + 32, &p), PKT_ERR_EF_LENGTH);
}

static void test_reject_ef_truncated(void **state)
{
    (void)state;
    struct ntp_packet p;

    hdr(4, 3);
    ef(48, 0x0104, 32);
    assert_int_equal(dec(48 + 28, &p), PKT_ERR_EF_TRUNCATED);
    hdr(4, 3);
    ef(48, 0x0104, 0xfffc);
    assert_int_equal(dec(PKT_MAX_LEN, &p), PKT_ERR_EF_TRUNCATED);
    hdr(4, 3);
    ef(48, 0x0104, 16);
    ef(64, 0x0204, 64);
    assert_int_equal(dec(64 + 60, &p), PKT_ERR_EF_TRUNCATED);
}

static void test_reject_ef_last_short(void **state)
{
    (void)state;
    struct ntp_packet p;

    /* RFC 7822 sec. 7.5: without a MAC the last field must be >= 28 octets. 20 and 24
     * octets at the end are MACs by definition, so 16 is the only length that reaches
     * this check. */
    hdr(4, 3);
    ef(48, 0x0104, 16);
    assert_int_equal(dec(64, &p), PKT_ERR_EF_LAST_SHORT);
    hdr(4, 3);
    ef(48, 0x0104, 28);
    ef(76, 0x0204, 16);
    assert_int_equal(dec(92, &p), PKT_ERR_EF_LAST_SHORT);
}

static void test_last_24_octets_are_a_mac(void **state)
{
    (void)state;
    struct ntp_packet p;

    /* A 24-octet "extension field" with nothing after it cannot be told from a SHA1 MAC
     * (RFC 7822 sec. 7.5): it is decoded as a MAC whose key ID is the field header, never
     * as an extension field. The MAC check then rejects it. Same for 20. */
    hdr(4, 3);
    ef(48, 0x0104, 24);
    assert_int_equal(dec(72, &p), PKT_OK);
    assert_int_equal(p.n_ef, 0);
    assert_int_equal(p.trailer, PKT_TRAILER_MAC20);
    assert_int_equal(p.keyid, 0x01040018u);
    hdr(4, 3);
    ef(48, 0x0104, 20);
    assert_int_equal(dec(68, &p), PKT_OK);
    assert_int_equal(p.n_ef, 0);
    assert_int_equal(p.trailer, PKT_TRAILER_MAC16);
    assert_int_equal(p.keyid, 0x01040014u);
}

static void test_reject_ef_count(void **state)
{
    (void)state;
    struct ntp_packet p;
    size_t off = 48;

    /* PKT_MAX_EF fields of 16 octets and a final one of 28: one too many. */
    hdr(4, 3);
    for (int i = 0; i < PKT_MAX_EF; i++) {
        ef(off, (uint16_t)(0x1000 + i), 16);
        off += 16;
    }
    ef(off, 0x2000, 28);
    assert_int_equal(dec(off + 28, &p), PKT_ERR_EF_COUNT);

    /* The same with a 16-octet field and a MAC after it. */
    ef(off, 0x2000, 16);
    assert_int_equal(dec(off + 16 + 20, &p), PKT_ERR_EF_COUNT);

    /* PKT_MAX_EF fields exactly, followed by a MAC: accepted. */
    assert_int_equal(dec(off + 20, &p), PKT_OK);
    assert_int_equal(p.n_ef, PKT_MAX_EF);
    assert_int_equal(p.trailer, PKT_TRAILER_MAC16);
    for (int i = 0; i < PKT_MAX_EF; i++) {
        assert_int_equal(p.ef[i].type, 0x1000 + i);
        assert_int_equal(p.ef[i].length, 16);
        assert_int_equal(p.ef[i].offset, 48 + 16 * i);
    }
    /* PKT_MAX_EF - 1 short fields and a last one of 28: accepted. */
    ef(48 + 16 * (PKT_MAX_EF - 1), 0x2000, 28);
    assert_int_equal(dec(48 + 16 * (PKT_MAX_EF - 1) + 28, &p), PKT_OK);
    assert_int_equal(p.n_ef, PKT_MAX_EF);
    assert_int_equal(p.ef[PKT_MAX_EF - 1].length, 28);
    assert_int_equal(p.trailer, PKT_TRAILER_NONE);
}

static void test_v4_layouts(void **state)
{
    (void)state;
    struct ntp_packet p;

    /* Extension field of exactly 28 octets, last, no MAC. */
    hdr(4, 3);
    ef(48, 0x0104, 28);
    assert_int_equal(dec(76, &p), PKT_OK);
    assert_int_equal(p.len, 76);
    assert_int_equal(p.n_ef, 1);
    assert_int_equal(p.ef[0].type, 0x0104);
    assert_int_equal(p.ef[0].length, 28);
    assert_int_equal(p.ef[0].offset, 48);
    assert_int_equal(p.trailer, PKT_TRAILER_NONE);
    assert_int_equal(p.mac_len, 0);

    /* 16-octet field followed by a 20-octet MAC. */
    hdr(4, 3);
    ef(48, 0xabcd, 16);
    put32(64, 0xdeadbeefu);
    assert_int_equal(dec(84, &p), PKT_OK);
    assert_int_equal(p.n_ef, 1);
    assert_int_equal(p.ef[0].type, 0xabcd);
    assert_int_equal(p.ef[0].length, 16);
    assert_int_equal(p.trailer, PKT_TRAILER_MAC16);
    assert_int_equal(p.keyid, 0xdeadbeefu);
    assert_int_equal(p.mac_offset, 64);
    assert_int_equal(p.mac_len, 20);

    /* Same with a 24-octet MAC. */
    assert_int_equal(dec(88, &p), PKT_OK);
    assert_int_equal(p.trailer, PKT_TRAILER_MAC20);
    assert_int_equal(p.keyid, 0xdeadbeefu);
    assert_int_equal(p.mac_offset, 64);
    assert_int_equal(p.mac_len, 24);

    /* Three fields of mixed sizes, then a crypto-NAK. */
    hdr(4, 3);
    ef(48, 0x0104, 36);
    ef(84, 0x0204, 100);
    ef(184, 0x0304, 28);
    assert_int_equal(dec(212, &p), PKT_OK);
    assert_int_equal(p.n_ef, 3);
    assert_int_equal(p.trailer, PKT_TRAILER_NONE);
    assert_int_equal(p.ef[1].offset, 84);
    assert_int_equal(p.ef[1].length, 100);
    assert_int_equal(p.ef[2].offset, 184);
    assert_int_equal(dec(216, &p), PKT_OK);
    assert_int_equal(p.n_ef, 3);
    assert_int_equal(p.trailer, PKT_TRAILER_CRYPTO_NAK);
    assert_int_equal(p.keyid, 0);
    assert_int_equal(p.mac_offset, 212);
    assert_int_equal(p.mac_len, 4);

    /* Header + crypto-NAK alone (key ID 0 only; 4 octets with another key ID are
     * garbage); header + MACs alone. */
    hdr(4, 3);
    put32(48, 0);
    assert_int_equal(dec(52, &p), PKT_OK);
    assert_int_equal(p.trailer, PKT_TRAILER_CRYPTO_NAK);
    assert_int_equal(p.keyid, 0);
    put32(48, 0x01020304u);
    assert_int_equal(dec(52, &p), PKT_ERR_TRAILER);
    assert_int_equal(dec(68, &p), PKT_OK);
    assert_int_equal(p.trailer, PKT_TRAILER_MAC16);
    assert_int_equal(p.keyid, 0x01020304u);
    assert_int_equal(p.mac_offset, 48);
    assert_int_equal(dec(72, &p), PKT_OK);
    assert_int_equal(p.trailer, PKT_TRAILER_MAC20);
    assert_int_equal(p.n_ef, 0);
}

static void test_old_versions(void **state)
{
    (void)state;
    struct ntp_packet p;

    for (unsigned v = 1; v <= 3; v++) {
        hdr(v, 3);
        assert_int_equal(dec(48, &p), PKT_OK);
        assert_int_equal(p.version, v);
        assert_int_equal(p.trailer, PKT_TRAILER_NONE);
        put32(48, 7);
        assert_int_equal(dec(68, &p), PKT_OK);
        assert_int_equal(p.trailer, PKT_TRAILER_MAC16);
        assert_int_equal(p.keyid, 7);
        assert_int_equal(p.mac_offset, 48);
        assert_int_equal(p.mac_len, 20);
        assert_int_equal(p.n_ef, 0);
        assert_int_equal(dec(72, &p), PKT_OK);
        assert_int_equal(p.trailer, PKT_TRAILER_MAC20);
        assert_int_equal(p.mac_len, 24);
    }
}

static void test_decode_clears_output(void **state)
{
    (void)state;
    struct ntp_packet p;

    memset(&p, 0xa5, sizeof(p));
    hdr(4, 3);
    assert_int_equal(dec(48, &p), PKT_OK);
    assert_int_equal(p.n_ef, 0);
    assert_int_equal(p.trailer, PKT_TRAILER_NONE);
    assert_int_equal(p.keyid, 0);
    assert_int_equal(p.mac_offset, 0);
    assert_int_equal(p.mac_len, 0);
    assert_int_equal(p.len, 48);
}

static void test_decode_wire_bytes(void **state)
{
    (void)state;
    struct ntp_packet p;
    /* A hand-written server reply: LI 1, VN 4, mode 4, stratum 2, poll 6, precision -20,
     * root delay 1.5 s, root dispersion 0x00000010, refid 192.0.2.7, distinct timestamps. */
    static const uint8_t wire[48] = {
        0x64, 0x02, 0x06, 0xec, 0x00, 0x01, 0x80, 0x00, 0x00, 0x00, 0x00, 0x10,
        0xc0, 0x00, 0x02, 0x07, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08,
        0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x21, 0x22, 0x23, 0x24,
        0x25, 0x26, 0x27, 0x28, 0xf1, 0xf2, 0xf3, 0xf4, 0xf5, 0xf6, 0xf7, 0xf8,
    };
    uint8_t out[48];

    assert_int_equal(pkt_decode(wire, sizeof(wire), &p), PKT_OK);
    assert_int_equal(p.leap, 1);
    assert_int_equal(p.version, 4);
    assert_int_equal(p.mode, 4);
    assert_int_equal(p.stratum, 2);
    assert_int_equal(p.poll, 6);
    assert_int_equal(p.precision, -20);
    assert_int_equal(p.root_delay, 0x00018000u);
    assert_int_equal(p.root_disp, 0x10u);
    assert_int_equal(p.refid, 0xc0000207u);
    assert_int_equal(p.ref, UINT64_C(0x0102030405060708));
    assert_int_equal(p.org, UINT64_C(0x1112131415161718));
    assert_int_equal(p.rec, UINT64_C(0x2122232425262728));
    assert_int_equal(p.xmt, UINT64_C(0xf1f2f3f4f5f6f7f8));
    assert_int_equal(pkt_encode(&p, out, sizeof(out)), 48);
    assert_memory_equal(out, wire, 48);
}

static void round_trip(const struct ntp_packet *in)
{
    uint8_t wire[64];
    struct ntp_packet out;

    memset(wire, 0x5a, sizeof(wire));
    assert_int_equal(pkt_encode(in, wire, sizeof(wire)), PKT_HEADER_LEN);
    assert_int_equal(wire[48], 0x5a); /* nothing written past the header */
    assert_int_equal(pkt_decode(wire, PKT_HEADER_LEN, &out), PKT_OK);
    assert_int_equal(out.leap, in->leap);
    assert_int_equal(out.version, in->version);
    assert_int_equal(out.mode, in->mode);
    assert_int_equal(out.stratum, in->stratum);
    assert_int_equal(out.poll, in->poll);
    assert_int_equal(out.precision, in->precision);
    assert_int_equal(out.root_delay, in->root_delay);
    assert_int_equal(out.root_disp, in->root_disp);
    assert_int_equal(out.refid, in->refid);
    assert_int_equal(out.ref, in->ref);
    assert_int_equal(out.org, in->org);
    assert_int_equal(out.rec, in->rec);
    assert_int_equal(out.xmt, in->xmt);
    assert_int_equal(out.len, 48);
    assert_int_equal(out.n_ef, 0);
    assert_int_equal(out.trailer, PKT_TRAILER_NONE);
}

static void test_round_trip_extremes(void **state)
{
    (void)state;
    const uint64_t ts[] = {0,
                           1,
                           UINT64_MAX,
                           UINT64_C(0x8000000000000000),
                           UINT64_C(0x7fffffffffffffff),
                           UINT64_C(0xffffffff00000000),
                           UINT64_C(0x00000000ffffffff),
                           UINT64_C(0xe9a5c1a2b3c4d5e6)};
    const uint32_t u32[] = {0, 1, 0xffffffffu, 0x80000000u, 0x7fffffffu, 0x12345678u};
    const int8_t s8[] = {-128, -1, 0, 1, 127, -20, 17};
    const uint8_t u8[] = {0, 1, 15, 16, 255};
    const uint8_t modes[] = {0, 1, 2, 3, 4, 5};

    for (unsigned leap = 0; leap <= 3; leap++) {
        for (unsigned v = 1; v <= 4; v++) {
            for (size_t m = 0; m < sizeof(modes); m++) {
                struct ntp_packet p;
                memset(&p, 0, sizeof(p));
                p.leap = (uint8_t)leap;
                p.version = (uint8_t)v;
                p.mode = modes[m];
                p.stratum = u8[(leap + v + m) % sizeof(u8)];
                p.poll = s8[(leap + m) % sizeof(s8)];
                p.precision = s8[(v + m) % sizeof(s8)];
                round_trip(&p);
            }
        }
    }
    for (size_t i = 0; i < sizeof(u32) / sizeof(u32[0]); i++) {
        struct ntp_packet p;
        memset(&p, 0, sizeof(p));
        p.version = 4;
        p.mode = 3;
        p.root_delay = u32[i];
        p.root_disp = u32[(i + 1) % 6];
        p.refid = u32[(i + 2) % 6];
        round_trip(&p);
    }
    for (size_t i = 0; i < sizeof(ts) / sizeof(ts[0]); i++) {
        struct ntp_packet p;
        memset(&p, 0, sizeof(p));
        p.version = 4;
        p.mode = 4;
        p.ref = ts[i];
        p.org = ts[(i + 1) % 8];
        p.rec = ts[(i + 2) % 8];
        p.xmt = ts[(i + 3) % 8];
        round_trip(&p);
    }
    for (size_t i = 0; i < sizeof(s8); i++) {
        for (size_t j = 0; j < sizeof(s8); j++) {
            struct ntp_packet p;
            memset(&p, 0, sizeof(p));
            p.version = 3;
            p.mode = 1;
            p.poll = s8[i];
            p.precision = s8[j];
            p.stratum = u8[i % sizeof(u8)];
            round_trip(&p);
        }
    }
}

static void test_encode_masks_and_cap(void **state)
{
    (void)state;
    struct ntp_packet p;
    uint8_t out[48];

    memset(&p, 0, sizeof(p));
    p.leap = 0xff;    /* -> 3 */
    p.version = 0x0c; /* -> 4 */
    p.mode = 0x0b;    /* -> 3 */
    assert_int_equal(pkt_encode(&p, out, sizeof(out)), 48);
    assert_int_equal(out[0], 0xe3);

    memset(out, 0x77, sizeof(out));
    assert_int_equal(pkt_encode(&p, out, 47), 0);
    assert_int_equal(out[0], 0x77);
    assert_int_equal(pkt_encode(&p, out, 0), 0);
}

static void test_set_xmt(void **state)
{
    (void)state;
    uint8_t wire[48];
    uint8_t want[48];
    struct ntp_packet p;

    for (int i = 0; i < 48; i++) {
        wire[i] = (uint8_t)(0x20 + i);
    }
    wire[0] = 0x23;
    memcpy(want, wire, 48);
    want[40] = 0x89;
    want[41] = 0xab;
    want[42] = 0xcd;
    want[43] = 0xef;
    want[44] = 0x01;
    want[45] = 0x23;
    want[46] = 0x45;
    want[47] = 0x67;
    pkt_set_xmt(wire, UINT64_C(0x89abcdef01234567));
    assert_memory_equal(wire, want, 48);
    assert_int_equal(pkt_decode(wire, 48, &p), PKT_OK);
    assert_int_equal(p.xmt, UINT64_C(0x89abcdef01234567));
}

static void test_peek(void **state)
{
    (void)state;
    uint8_t b = 0xe3;
    uint8_t leap = 9, version = 9, mode = 9;

    pkt_peek(&b, 1, &leap, &version, &mode);
    assert_int_equal(leap, 3);
    assert_int_equal(version, 4);
    assert_int_equal(mode, 3);
    b = 0x16; /* LI 0, VN 2, mode 6: a control request */
    pkt_peek(&b, 1, &leap, &version, &mode);
    assert_int_equal(leap, 0);
    assert_int_equal(version, 2);
    assert_int_equal(mode, 6);
    leap = version = mode = 9;
    pkt_peek(&b, 0, &leap, &version, &mode);
    assert_int_equal(leap, 0);
    assert_int_equal(version, 0);
    assert_int_equal(mode, 0);
}

static void test_reason_names(void **state)
{
    (void)state;
    static const char *const want[PKT_REASON_COUNT] = {
        "ok",         "short",     "long",         "align",         "version",  "mode",
        "ef-version", "ef-length", "ef-truncated", "ef-last-short", "ef-count", "trailer",
    };

    for (int r = 0; r < PKT_REASON_COUNT; r++) {
        assert_non_null(want[r]);
        assert_string_equal(pkt_reason_name((enum pkt_reason)r), want[r]);
    }
    assert_string_equal(pkt_reason_name(PKT_ERR_EF_LAST_SHORT), "ef-last-short");
    assert_string_equal(pkt_reason_name(PKT_REASON_COUNT), "unknown");
    assert_string_equal(pkt_reason_name((enum pkt_reason)1000), "unknown");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_reject_short_long_align),
        cmocka_unit_test(test_reject_version_mode),
        cmocka_unit_test(test_reject_old_version_trailers),
        cmocka_unit_test(test_reject_v4_trailer),
        cmocka_unit_test(test_reject_ef_length),
        cmocka_unit_test(test_reject_ef_truncated),
        cmocka_unit_test(test_reject_ef_last_short),
        cmocka_unit_test(test_last_24_octets_are_a_mac),
        cmocka_unit_test(test_reject_ef_count),
        cmocka_unit_test(test_v4_layouts),
        cmocka_unit_test(test_old_versions),
        cmocka_unit_test(test_decode_clears_output),
        cmocka_unit_test(test_decode_wire_bytes),
        cmocka_unit_test(test_round_trip_extremes),
        cmocka_unit_test(test_encode_masks_and_cap),
        cmocka_unit_test(test_set_xmt),
        cmocka_unit_test(test_peek),
        cmocka_unit_test(test_reason_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
