/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pkt: decode and encode the NTP header (RFC 5905 sec. 7.3), walk NTPv4 extension fields
 * (RFC 7822) and locate the MAC trailer. Reads big-endian fields octet by octet from the
 * buffer; never casts it to a struct. Verifying MACs and judging field values (stratum,
 * timestamps, kiss codes) belong to the callers.
 */
#include "pkt.h"

#include <stdbool.h>
#include <string.h>

/* Octet offsets of the header fields (RFC 5905 fig. 8). */
enum {
    OFF_LVM = 0,
    OFF_STRATUM = 1,
    OFF_POLL = 2,
    OFF_PRECISION = 3,
    OFF_ROOT_DELAY = 4,
    OFF_ROOT_DISP = 8,
    OFF_REFID = 12,
    OFF_REF = 16,
    OFF_ORG = 24,
    OFF_REC = 32,
    OFF_XMT = 40,
};

/* Trailer sizes: key ID alone (crypto-NAK), key ID + 16- or 20-octet digest. */
#define TRAILER_NAK_LEN 4
#define TRAILER_MAC16_LEN 20
#define TRAILER_MAC20_LEN 24

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | (unsigned)p[1]);
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

static uint64_t get64(const uint8_t *p)
{
    return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static void put32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void put64(uint8_t *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

/* An octet as a signed log2 value, without implementation-defined conversions. */
static int8_t octet_to_s8(uint8_t v)
{
    return v < 128 ? (int8_t)v : (int8_t)((int)v - 256);
}

void pkt_peek(const uint8_t *buf, size_t len, uint8_t *leap, uint8_t *version, uint8_t *mode)
{
    uint8_t b = (buf != NULL && len >= 1) ? buf[OFF_LVM] : 0;

    if (leap != NULL) {
        *leap = (uint8_t)(b >> 6);
    }
    if (version != NULL) {
        *version = (uint8_t)((b >> 3) & 7);
    }
    if (mode != NULL) {
        *mode = (uint8_t)(b & 7);
    }
}

/* If the rem octets at buf + off have one of the three trailer shapes (a crypto-NAK must
 * carry key ID 0), records the trailer and returns true; otherwise returns false and
 * leaves out alone. */
static bool take_trailer(const uint8_t *buf, size_t off, size_t rem, struct ntp_packet *out)
{
    switch (rem) {
    case TRAILER_NAK_LEN:
        /* RFC 7822 / PROTOCOL-CHECKS sec. 1: a crypto-NAK is the key ID 0 alone. */
        if (get32(buf + off) != 0) {
            return false;
        }
        out->trailer = PKT_TRAILER_CRYPTO_NAK;
        break;
    case TRAILER_MAC16_LEN:
        out->trailer = PKT_TRAILER_MAC16;
        break;
    case TRAILER_MAC20_LEN:
        out->trailer = PKT_TRAILER_MAC20;
        break;
    default:
        return false;
    }
    out->keyid = get32(buf + off);
    out->mac_offset = (uint16_t)off;
    out->mac_len = (uint16_t)rem;
    return true;
}

/* RFC 7822 sec. 7.5: walks the extension fields from off to len and classifies what
 * follows them. After the fields, a remainder of 20 or 24 octets is a MAC and 4 octets a
 * crypto-NAK; an extension field is never that short when last without a MAC (>= 28),
 * which is what makes the two distinguishable. Every iteration either ends the walk or
 * advances by at least PKT_EF_MIN_LEN octets, and at most PKT_MAX_EF fields are kept. */
static enum pkt_reason walk_v4(const uint8_t *buf, size_t len, struct ntp_packet *out)
{
    size_t off = PKT_HEADER_LEN;

    for (;;) {
        size_t rem = len - off;

        if (rem == 0) {
            return PKT_OK;
        }
        if (take_trailer(buf, off, rem, out)) {
            return PKT_OK;
        }
        if (rem < PKT_EF_MIN_LEN) {
            return PKT_ERR_TRAILER;
        }
        uint16_t type = get16(buf + off);
        uint16_t ef_len = get16(buf + off + 2);
        if (ef_len < PKT_EF_MIN_LEN || ef_len % 4 != 0) {
            return PKT_ERR_EF_LENGTH;
        }
        if (ef_len > rem) {
            return PKT_ERR_EF_TRUNCATED;
        }
        if (ef_len == rem && ef_len < PKT_EF_MIN_LAST_LEN) {
            return PKT_ERR_EF_LAST_SHORT;
        }
        if (out->n_ef >= PKT_MAX_EF) {
            return PKT_ERR_EF_COUNT;
        }
        out->ef[out->n_ef].type = type;
        out->ef[out->n_ef].length = ef_len;
        out->ef[out->n_ef].offset = (uint16_t)off;
        out->n_ef++;
        off += ef_len;
    }
}

/* Versions 1-3 know no extension fields: what follows the header is nothing or a MAC
 * (RFC 1305 appendix C; in practice MD5 or SHA1, 20 or 24 octets; the DES authenticator
 * and MS-SNTP's 68 octets are not supported). RFC 7822 sec. 7.5 gives the v4-only shapes.
 * Reason for a reject:
 * PKT_ERR_EF_VERSION when the remainder would be valid in NTPv4 (a crypto-NAK, or
 * extension fields optionally followed by a MAC), so a counter tells "v4 shape with the
 * wrong version" apart from plain garbage, which is PKT_ERR_TRAILER. */
static enum pkt_reason walk_old(const uint8_t *buf, size_t len, struct ntp_packet *out)
{
    size_t rem = len - PKT_HEADER_LEN;

    if (rem == 0) {
        return PKT_OK;
    }
    if (rem != TRAILER_NAK_LEN && take_trailer(buf, PKT_HEADER_LEN, rem, out)) {
        return PKT_OK;
    }
    /* Probe with the v4 rules on a scratch copy, so out stays as a v1-v3 decode left it. */
    struct ntp_packet probe;
    memset(&probe, 0, sizeof(probe));
    if (walk_v4(buf, len, &probe) == PKT_OK) {
        return PKT_ERR_EF_VERSION;
    }
    return PKT_ERR_TRAILER;
}

enum pkt_reason pkt_decode(const uint8_t *buf, size_t len, struct ntp_packet *out)
{
    memset(out, 0, sizeof(*out));

    /* RFC 5905 sec. 7.3: the header alone is 48 octets. The cap and the 32-bit alignment
     * are chrony's practice (PROTOCOL-CHECKS sec. 1). */
    if (len < PKT_HEADER_LEN) {
        return PKT_ERR_SHORT;
    }
    if (len > PKT_MAX_LEN) {
        return PKT_ERR_LONG;
    }
    if (len % 4 != 0) {
        return PKT_ERR_ALIGN;
    }
    out->len = (uint16_t)len;

    uint8_t lvm = buf[OFF_LVM];
    out->leap = (uint8_t)(lvm >> 6);
    out->version = (uint8_t)((lvm >> 3) & 7);
    out->mode = (uint8_t)(lvm & 7);
    if (out->version < 1 || out->version > 4) {
        return PKT_ERR_VERSION;
    }
    /* Modes 6 (RFC 9327) and 7 (private) are not time packets and have other formats. */
    if (out->mode == PKT_MODE_CONTROL || out->mode == PKT_MODE_PRIVATE) {
        return PKT_ERR_MODE;
    }

    out->stratum = buf[OFF_STRATUM];
    out->poll = octet_to_s8(buf[OFF_POLL]);
    out->precision = octet_to_s8(buf[OFF_PRECISION]);
    out->root_delay = get32(buf + OFF_ROOT_DELAY);
    out->root_disp = get32(buf + OFF_ROOT_DISP);
    out->refid = get32(buf + OFF_REFID);
    out->ref = get64(buf + OFF_REF);
    out->org = get64(buf + OFF_ORG);
    out->rec = get64(buf + OFF_REC);
    out->xmt = get64(buf + OFF_XMT);

    if (out->version == 4) {
        return walk_v4(buf, len, out);
    }
    return walk_old(buf, len, out);
}

size_t pkt_encode(const struct ntp_packet *p, uint8_t *buf, size_t cap)
{
    if (cap < PKT_HEADER_LEN) {
        return 0;
    }
    buf[OFF_LVM] = (uint8_t)((p->leap & 3u) << 6 | (p->version & 7u) << 3 | (p->mode & 7u));
    buf[OFF_STRATUM] = p->stratum;
    buf[OFF_POLL] = (uint8_t)p->poll;
    buf[OFF_PRECISION] = (uint8_t)p->precision;
    put32(buf + OFF_ROOT_DELAY, p->root_delay);
    put32(buf + OFF_ROOT_DISP, p->root_disp);
    put32(buf + OFF_REFID, p->refid);
    put64(buf + OFF_REF, p->ref);
    put64(buf + OFF_ORG, p->org);
    put64(buf + OFF_REC, p->rec);
    put64(buf + OFF_XMT, p->xmt);
    return PKT_HEADER_LEN;
}

void pkt_set_xmt(uint8_t *buf, ntp_ts_t xmt)
{
    put64(buf + OFF_XMT, xmt);
}

const char *pkt_reason_name(enum pkt_reason r)
{
    static const char *const names[PKT_REASON_COUNT] = {
        [PKT_OK] = "ok",
        [PKT_ERR_SHORT] = "short",
        [PKT_ERR_LONG] = "long",
        [PKT_ERR_ALIGN] = "align",
        [PKT_ERR_VERSION] = "version",
        [PKT_ERR_MODE] = "mode",
        [PKT_ERR_EF_VERSION] = "ef-version",
        [PKT_ERR_EF_LENGTH] = "ef-length",
        [PKT_ERR_EF_TRUNCATED] = "ef-truncated",
        [PKT_ERR_EF_LAST_SHORT] = "ef-last-short",
        [PKT_ERR_EF_COUNT] = "ef-count",
        [PKT_ERR_TRAILER] = "trailer",
    };

    if ((unsigned)r >= PKT_REASON_COUNT || names[r] == NULL) {
        return "unknown";
    }
    return names[r];
}
