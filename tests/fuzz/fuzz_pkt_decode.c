/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target for pkt_decode (and pkt_peek, pkt_encode, pkt_set_xmt on its output). Any
 * datagram must decode without a memory error, and an accepted one must satisfy the
 * layout invariants below; a violation calls abort() so libFuzzer and the corpus replay
 * both report it.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static unsigned be16(const uint8_t *p)
{
    return (unsigned)p[0] << 8 | p[1];
}

static uint32_t be32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* The checks that do not depend on what follows the header, in their documented order. */
static void check_framing(const uint8_t *data, size_t size, enum pkt_reason r)
{
    if (size < PKT_HEADER_LEN) {
        CHECK(r == PKT_ERR_SHORT);
        return;
    }
    if (size > PKT_MAX_LEN) {
        CHECK(r == PKT_ERR_LONG);
        return;
    }
    if (size % 4 != 0) {
        CHECK(r == PKT_ERR_ALIGN);
        return;
    }
    unsigned version = (data[0] >> 3) & 7;
    unsigned mode = data[0] & 7;
    if (version < 1 || version > 4) {
        CHECK(r == PKT_ERR_VERSION);
        return;
    }
    if (mode == 6 || mode == 7) {
        CHECK(r == PKT_ERR_MODE);
        return;
    }
    /* Past this point only the trailer/field reasons are possible. */
    CHECK(r != PKT_ERR_SHORT && r != PKT_ERR_LONG && r != PKT_ERR_ALIGN && r != PKT_ERR_VERSION &&
          r != PKT_ERR_MODE);
    if (version < 4) {
        CHECK(r == PKT_OK || r == PKT_ERR_EF_VERSION || r == PKT_ERR_TRAILER);
    } else {
        CHECK(r != PKT_ERR_EF_VERSION);
    }
}

/* Key ID plus digest octets of each trailer kind. */
static size_t trailer_len(uint8_t trailer)
{
    switch (trailer) {
    case PKT_TRAILER_CRYPTO_NAK:
        return 4;
    case PKT_TRAILER_MAC16:
        return 20;
    case PKT_TRAILER_MAC20:
        return 24;
    default:
        return 0;
    }
}

static void check_accepted(const uint8_t *data, size_t size, const struct ntp_packet *p)
{
    CHECK(p->len == size);
    CHECK(p->version >= 1 && p->version <= 4);
    CHECK(p->mode != PKT_MODE_CONTROL && p->mode != PKT_MODE_PRIVATE);
    CHECK(p->n_ef <= PKT_MAX_EF);
    if (p->version < 4) {
        CHECK(p->n_ef == 0);
        CHECK(p->trailer != PKT_TRAILER_CRYPTO_NAK);
    }

    /* Fields tile the datagram from the end of the header, then the trailer ends it. */
    size_t off = PKT_HEADER_LEN;
    for (unsigned i = 0; i < p->n_ef; i++) {
        const struct pkt_ef *e = &p->ef[i];
        CHECK(e->offset == off);
        CHECK(e->length >= PKT_EF_MIN_LEN && e->length % 4 == 0);
        CHECK((size_t)e->offset + e->length <= size);
        CHECK(e->type == be16(data + e->offset));
        CHECK(e->length == be16(data + e->offset + 2));
        off += e->length;
    }
    switch (p->trailer) {
    case PKT_TRAILER_NONE:
        CHECK(p->mac_len == 0 && p->mac_offset == 0 && p->keyid == 0);
        CHECK(off == size);
        if (p->n_ef > 0) {
            CHECK(p->ef[p->n_ef - 1].length >= PKT_EF_MIN_LAST_LEN);
        }
        break;
    case PKT_TRAILER_CRYPTO_NAK:
    case PKT_TRAILER_MAC16:
    case PKT_TRAILER_MAC20:
        CHECK(p->mac_len == trailer_len(p->trailer));
        CHECK(p->mac_offset == off);
        CHECK((size_t)p->mac_offset + p->mac_len == size);
        CHECK(p->keyid == be32(data + p->mac_offset));
        break;
    default:
        CHECK(0);
    }

    /* Encoding the decoded header reproduces the octets it came from: every field is
     * decoded in full, nothing is lost or invented. */
    uint8_t wire[PKT_HEADER_LEN];
    CHECK(pkt_encode(p, wire, sizeof(wire)) == PKT_HEADER_LEN);
    CHECK(memcmp(wire, data, PKT_HEADER_LEN) == 0);

    /* And decoding that header alone gives the same header fields. */
    struct ntp_packet q;
    CHECK(pkt_decode(wire, sizeof(wire), &q) == PKT_OK);
    CHECK(q.leap == p->leap && q.version == p->version && q.mode == p->mode);
    CHECK(q.stratum == p->stratum && q.poll == p->poll && q.precision == p->precision);
    CHECK(q.root_delay == p->root_delay && q.root_disp == p->root_disp);
    CHECK(q.refid == p->refid);
    CHECK(q.ref == p->ref && q.org == p->org && q.rec == p->rec && q.xmt == p->xmt);
    CHECK(q.len == PKT_HEADER_LEN && q.n_ef == 0 && q.trailer == PKT_TRAILER_NONE);

    /* pkt_set_xmt touches only octets 40..47. */
    ntp_ts_t x = ~p->xmt;
    pkt_set_xmt(wire, x);
    CHECK(memcmp(wire, data, 40) == 0);
    CHECK(pkt_decode(wire, sizeof(wire), &q) == PKT_OK);
    CHECK(q.xmt == x && q.rec == p->rec);
}

/* Versions 1-3 against NTPv4: the same octets with the version set to 4 must be accepted
 * exactly when the old version was accepted or rejected as an NTPv4-only shape. */
static void check_old_vs_v4(const uint8_t *data, size_t size, enum pkt_reason r,
                            const struct ntp_packet *p)
{
    uint8_t copy[PKT_MAX_LEN];
    struct ntp_packet q;

    if (r != PKT_OK && r != PKT_ERR_EF_VERSION && r != PKT_ERR_TRAILER) {
        return;
    }
    if (size < PKT_HEADER_LEN || size > PKT_MAX_LEN || ((data[0] >> 3) & 7) >= 4) {
        return;
    }
    memcpy(copy, data, size);
    copy[0] = (uint8_t)((copy[0] & 0xc7) | 4 << 3);
    enum pkt_reason r4 = pkt_decode(copy, size, &q);
    if (r == PKT_ERR_TRAILER) {
        CHECK(r4 != PKT_OK);
    } else {
        CHECK(r4 == PKT_OK);
    }
    if (r == PKT_OK) {
        CHECK(q.n_ef == 0 && q.trailer == p->trailer && q.keyid == p->keyid);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct ntp_packet p;
    uint8_t leap, version, mode;

    pkt_peek(data, size, &leap, &version, &mode);
    if (size >= 1) {
        CHECK(leap == data[0] >> 6 && version == ((data[0] >> 3) & 7) && mode == (data[0] & 7));
    }

    enum pkt_reason r = pkt_decode(data, size, &p);
    CHECK((unsigned)r < PKT_REASON_COUNT);
    const char *name = pkt_reason_name(r);
    CHECK(name != NULL && strcmp(name, "unknown") != 0);
    CHECK((r == PKT_OK) == (strcmp(name, "ok") == 0));

    check_framing(data, size, r);
    if (r == PKT_OK) {
        check_accepted(data, size, &p);
    }
    check_old_vs_v4(data, size, r, &p);
    return 0;
}
