/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * srv: decide whether a datagram deserves a time reply and build it (RFC 5905 sec. 9.2
 * dispatch table, sec. 7.4 kiss-o'-death). Pure. Access control, rate limiting and the
 * counting of every drop belong to the caller.
 */
#include "srv.h"

#include <string.h>

enum srv_drop srv_classify(const uint8_t *buf, size_t len, uint16_t src_port,
                           struct ntp_packet *req, uint8_t *reply_mode, enum pkt_reason *why)
{
    uint8_t leap, version, mode;

    *why = PKT_OK;
    *reply_mode = 0;
    pkt_peek(buf, len, &leap, &version, &mode);
    /* Modes 6 and 7 have their own formats; dispatch them before the NTP decoder so they
     * are counted as what they are, not as malformed. */
    if (len >= 1 && mode == PKT_MODE_CONTROL) {
        return SRV_DROP_CONTROL;
    }
    if (len >= 1 && mode == PKT_MODE_PRIVATE) {
        return SRV_DROP_PRIVATE;
    }
    *why = pkt_decode(buf, len, req);
    if (*why != PKT_OK) {
        return SRV_DROP_FORMAT;
    }
    switch (req->mode) {
    case PKT_MODE_RESERVED:
        /* NTPv1 (RFC 1059) had no mode field. ntpd's rule: from port 123 it is a peer
         * (symmetric active), from any other port a client. Mode 0 in later versions is
         * reserved and never answered. */
        if (req->version != 1) {
            return SRV_DROP_MODE0;
        }
        *reply_mode = src_port == 123 ? PKT_MODE_PASSIVE : PKT_MODE_SERVER;
        break;
    case PKT_MODE_CLIENT:
        *reply_mode = PKT_MODE_SERVER;
        break;
    case PKT_MODE_ACTIVE:
        /* Stateless answer, no association (DESIGN: symmetric active from an
         * unconfigured address). */
        *reply_mode = PKT_MODE_PASSIVE;
        break;
    case PKT_MODE_PASSIVE:
    case PKT_MODE_SERVER:
        return SRV_DROP_RESPONSE;
    case PKT_MODE_BROADCAST:
        return SRV_DROP_BROADCAST;
    default:
        return SRV_DROP_PRIVATE;
    }
    /* A MAC or crypto-NAK asks for an authenticated answer we cannot give yet; an
     * unauthenticated reply would let the client be misled. */
    if (req->trailer != PKT_TRAILER_NONE) {
        return SRV_DROP_AUTH;
    }
    return SRV_ANSWER;
}

ntp_ts_t srv_fuzz_ts(ntp_ts_t t, int8_t precision, uint32_t rnd)
{
    /* Bits of the fraction below 2^precision s carry no information; randomise them so
     * that the server's clock reading cannot be predicted (chrony's practice). */
    int nrand = 32 + precision;     /* fraction bits below 2^precision s */
    if (nrand <= 0) {
        return t;
    }
    if (nrand > 32) {
        nrand = 32;
    }
    uint64_t mask = (UINT64_C(1) << nrand) - 1;
    return (t & ~mask) | ((uint64_t)rnd & mask);
}

size_t srv_reply(const struct srv_sys *sys, const struct ntp_packet *req, uint8_t reply_mode,
                 ntp_ts_t rx, uint32_t rnd, uint8_t *out, size_t cap)
{
    struct ntp_packet r;
    double disp = sys->root_disp;

    memset(&r, 0, sizeof(r));
    r.leap = sys->leap;
    r.version = req->version;
    r.mode = reply_mode;
    r.stratum = sys->stratum;
    if (r.leap == PKT_LEAP_UNSYNC || r.stratum == 0 || r.stratum > 15) {
        /* DESIGN: unsynchronized is LI 3 + stratum 16 on the wire; stratum 0 would be
         * read as a kiss-o'-death. */
        r.leap = PKT_LEAP_UNSYNC;
        r.stratum = 16;
    }
    /* Echo the client's poll, bounded to RFC 5905's range, as ntpd and chrony do. */
    r.poll = req->poll < 0 ? 0 : (req->poll > 17 ? 17 : req->poll);
    r.precision = sys->precision;
    if (sys->ref_time != 0) {
        double age = ntp_ts_diff(rx, sys->ref_time);
        if (age > 0) {
            disp += SRV_PHI * age;
        }
    }
    r.root_delay = ntp_short_from_double(sys->root_delay);
    r.root_disp = ntp_short_from_double(disp);
    r.refid = sys->refid;
    r.ref = sys->ref_time;
    r.org = req->xmt;
    r.rec = srv_fuzz_ts(rx, sys->precision, rnd);
    r.xmt = 0;
    return pkt_encode(&r, out, cap);
}

size_t srv_kod(const struct ntp_packet *req, uint8_t reply_mode, uint32_t kiss_refid,
               uint8_t *out, size_t cap)
{
    struct ntp_packet r;

    memset(&r, 0, sizeof(r));
    r.leap = PKT_LEAP_UNSYNC;
    r.version = req->version;
    r.mode = reply_mode;
    r.stratum = 0;
    r.poll = req->poll < 0 ? 0 : (req->poll > 17 ? 17 : req->poll);
    r.refid = kiss_refid;
    /* RFC 5905 sec. 7.4: the client validates a KoD by its origin timestamp. */
    r.org = req->xmt;
    return pkt_encode(&r, out, cap);
}

void srv_stamp_xmt(uint8_t *reply, ntp_ts_t xmt, int8_t precision, uint32_t rnd)
{
    ntp_ts_t t = srv_fuzz_ts(xmt, precision, rnd);
    /* With a coarse clock receive and transmit fall in one tick and their random low bits
     * could put the transmit before the receive, which clients rightly reject. */
    ntp_ts_t rec = 0;
    for (int i = 0; i < 8; i++) {
        rec = (rec << 8) | reply[32 + i];
    }
    if (rec != 0 && ntp_ts_diff(t, rec) < 0) {
        t = rec;
    }
    pkt_set_xmt(reply, t);
}

const char *srv_drop_name(enum srv_drop d)
{
    static const char *const names[SRV_DROP_COUNT] = {
        [SRV_ANSWER] = "answered",
        [SRV_DROP_FORMAT] = "badformat",
        [SRV_DROP_MODE0] = "mode0",
        [SRV_DROP_RESPONSE] = "response",
        [SRV_DROP_BROADCAST] = "broadcast",
        [SRV_DROP_CONTROL] = "control",
        [SRV_DROP_PRIVATE] = "mode7",
        [SRV_DROP_AUTH] = "auth",
        [SRV_DROP_UNREACHABLE] = "unreachable",
    };
    if ((unsigned)d >= SRV_DROP_COUNT) {
        return "unknown";
    }
    return names[d];
}
