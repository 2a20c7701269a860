/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * client: the data-minimised request and the receive-side tests and arithmetic of one
 * client/server exchange (RFC 5905 sec. 8 and Appendix A.5.1). Pure: our clock's send
 * and receive times arrive as parameters. What to do with a reject (count it, back off on
 * a KoD, demobilise) belongs to the caller.
 */
#include "client.h"

#include <math.h>
#include <string.h>

/* RFC 5905 sec. 7.2: PHI, the frequency tolerance assumed for our clock (15 ppm). */
#define CLIENT_PHI 15e-6

size_t client_request(uint8_t *buf, size_t cap, uint8_t version, int8_t poll, uint64_t nonce)
{
    struct ntp_packet p;

    /* RFC 9109 and draft-ietf-ntp-data-minimization: a client request says nothing about
     * our clock. Only version, mode and poll are set; the transmit timestamp is the
     * caller's random nonce, which the server echoes as origin (the test-2 cookie). */
    memset(&p, 0, sizeof(p));
    p.version = version;
    p.mode = PKT_MODE_CLIENT;
    p.poll = poll;
    p.xmt = nonce;
    return pkt_encode(&p, buf, cap);
}

/* Copies the header fields a caller may report (stratum, refid, ...) into the sample. */
static void fill_header(const struct ntp_packet *p, struct ntp_sample *out)
{
    out->leap = p->leap;
    out->stratum = p->stratum;
    out->version = p->version;
    /* A server's claimed precision is bounded to 2^-32 .. 1 s: a hostile +127 would
     * otherwise become a 1e38 s delay and dispersion. */
    out->precision = p->precision < -32 ? -32 : (p->precision > 0 ? 0 : p->precision);
    out->poll = p->poll;
    out->refid = p->refid;
    out->ref = p->ref;
    out->root_delay = ntp_short_to_double(p->root_delay);
    out->root_disp = ntp_short_to_double(p->root_disp);
    out->t2 = p->rec;
    out->t3 = p->xmt;
}

enum client_reject client_process(const uint8_t *buf, size_t len, uint64_t nonce, ntp_ts_t t1,
                                  ntp_ts_t t4, int8_t local_precision, struct ntp_sample *out)
{
    struct ntp_packet p;

    memset(out, 0, sizeof(*out));
    out->t1 = t1;
    out->t4 = t4;
    if (pkt_decode(buf, len, &p) != PKT_OK) {
        return CLIENT_FORMAT;
    }
    if (p.mode != PKT_MODE_SERVER) {
        return CLIENT_MODE;
    }
    /* RFC 5905 sec. 8 test 2 (bogus): the origin must be the nonce we sent, and a zero
     * nonce proves nothing. Nothing in the packet is trusted before this passes: a KoD is
     * acted upon only after it (CVE-2015-8138, and a spoofed KoD must not silence us). */
    if (nonce == 0 || p.org != nonce) {
        return CLIENT_BOGUS;
    }
    fill_header(&p, out);
    /* RFC 5905 sec. 7.4: stratum 0 is a kiss-o'-death, never a time sample. */
    if (p.stratum == 0) {
        out->kiss = ntp_kiss_from_refid(p.refid);
        return CLIENT_KOD;
    }
    /* RFC 5905 Appendix A.5.1.1 test 6: the server is not synchronised. */
    if (p.leap == PKT_LEAP_UNSYNC || p.stratum >= 16) {
        return CLIENT_UNSYNC;
    }
    /* Test 3: a server that has not received or sent a time has no exchange to measure. */
    if (p.rec == 0 || p.xmt == 0) {
        return CLIENT_ZERO_TIME;
    }
    /* Differences in 64-bit two's complement (RFC 5905 sec. 6), right across eras. */
    double server_hold = ntp_ts_diff(p.xmt, p.rec); /* t3 - t2 */
    double round_trip = ntp_ts_diff(t4, t1);        /* t4 - t1 */
    if (server_hold < 0.0 || round_trip < 0.0) {
        return CLIENT_BAD_TIMES;
    }
    /* Test 7 (header distance): the server's own root distance. */
    if (out->root_delay / 2.0 + out->root_disp >= CLIENT_MAXDISP) {
        return CLIENT_DISTANCE;
    }

    /* RFC 5905 sec. 8: offset and delay from T1..T4; t1 is our send time, not the
     * packet's origin, which is only the nonce. */
    double server_prec = ldexp(1.0, out->precision);     /* bounded in fill_header */
    double our_prec = ldexp(1.0, local_precision);
    double floor_delay = server_prec > our_prec ? server_prec : our_prec;

    out->offset = (ntp_ts_diff(p.rec, t1) + ntp_ts_diff(p.xmt, t4)) / 2.0;
    out->delay = round_trip - server_hold;
    /* RFC 5905 sec. 8: the delay is at least the larger of the two precisions; a smaller
     * (or negative) value is a measurement artefact, not a shorter path. */
    if (out->delay < floor_delay) {
        out->delay = floor_delay;
    }
    /* RFC 5905 sec. 8 / A.5.2: both read errors plus the drift over the round trip. */
    out->dispersion = server_prec + our_prec + CLIENT_PHI * round_trip;
    /* RFC 5905 sec. 11.2: root distance = (root delay + delay) / 2 + root dispersion +
     * dispersion (the jitter term belongs to the filter, not to one sample). */
    out->root_distance = (out->root_delay + out->delay) / 2.0 + out->root_disp + out->dispersion;
    return CLIENT_OK;
}

const char *client_reject_name(enum client_reject r)
{
    static const char *const names[CLIENT_REJECT_COUNT] = {
        [CLIENT_OK] = "ok",
        [CLIENT_FORMAT] = "format",
        [CLIENT_MODE] = "mode",
        [CLIENT_BOGUS] = "bogus",
        [CLIENT_KOD] = "kod",
        [CLIENT_UNSYNC] = "unsync",
        [CLIENT_ZERO_TIME] = "zero-time",
        [CLIENT_BAD_TIMES] = "bad-times",
        [CLIENT_DISTANCE] = "distance",
    };

    if ((unsigned)r >= CLIENT_REJECT_COUNT || names[r] == NULL) {
        return "unknown";
    }
    return names[r];
}
