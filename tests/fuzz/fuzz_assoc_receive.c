/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: a datagram arriving at an association with a request outstanding
 * (assoc_receive). Octet 0 steers the scenario, octet 1 the poll bounds, the rest is the
 * datagram:
 *   octet 0 bit 0: the request's nonce is the datagram's own origin (octets 24..31), so the
 *                  fuzzer reaches everything after the origin test; else a fixed nonce
 *           bit 1: the reply counts as authenticated
 *           bit 2: an earlier exchange was answered (last transmit time known)
 *           bit 3: iburst configured;  bit 4: burst configured
 *           bit 5: our system refid is the datagram's refid (loop test)
 *           bit 6: the request was forgotten by a clock step before the reply
 *           bit 7: our clock's precision 2^-6 instead of 2^-24
 *   octet 1: minpoll = bits 0-2 (0..7), maxpoll = minpoll + bits 3-5 (0..7)
 * Each datagram is delivered twice. Invariants: every reply is counted once, under exactly
 * one reason; a refusal before the reply answers the request changes nothing but its
 * counter (memcmp); a reply is accepted at most once; reach stays the shifted register
 * (plus the reply's bit); the poll stays within [minpoll, maxpoll]; a KoD is acted upon
 * only as the policy says; a sample is finite and within maxdist.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/assoc.h"
#include "core/client.h"
#include "core/ntp_time.h"
#include "core/pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FIXED_NONCE UINT64_C(0x5ca1ab1e0ddba11)
/* t1 0.0625 s before the end of era 0, t4 0.1875 s into era 1. */
#define T1 UINT64_C(0xfffffffff0000000)
#define T4 UINT64_C(0x0000000030000000)
#define NOW 1000.0

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t counted(const struct assoc_counters *c)
{
    return c->processed + c->badformat + c->bogusorg + c->oldpkt + c->badtime + c->kod_rx +
           c->unsync + c->distance + c->loop;
}

static void check_bounds(const struct assoc *a)
{
    int8_t p = assoc_poll(a);
    if (p < a->cfg.minpoll || p > a->cfg.maxpoll || a->poll_floor < a->cfg.minpoll ||
        a->poll_floor > a->cfg.maxpoll || p < a->poll_floor || !isfinite(assoc_next_due(a))) {
        abort();
    }
    if ((assoc_flags(a) & ~(unsigned)(ASSOC_F_RATE | ASSOC_F_DENIED | ASSOC_F_DEMOBILIZE)) != 0) {
        abort();
    }
}

/* True for results that refuse the reply before it answers the request. */
static int no_state_change(enum assoc_result r)
{
    return r == ASSOC_FORMAT || r == ASSOC_UNSOLICITED || r == ASSOC_BOGUS ||
           r == ASSOC_DUPLICATE || r == ASSOC_BADTIME;
}

static enum assoc_result deliver(struct assoc *a, const uint8_t *dg, size_t len,
                                 const struct assoc_local *local)
{
    struct assoc before;
    struct ntp_sample s;

    memcpy(&before, a, sizeof(before));
    enum assoc_result r = assoc_receive(a, NOW + 0.25, dg, len, T4, local, &s);
    if ((unsigned)r >= ASSOC_RESULT_COUNT) {
        abort();
    }
    const struct assoc_counters *c = assoc_counters(a);
    if (c->received != before.counters.received + 1 ||
        counted(c) != counted(&before.counters) + 1 || c->sent != before.counters.sent) {
        abort();
    }
    check_bounds(a);
    if (no_state_change(r)) {
        struct assoc fixed;
        memcpy(&fixed, a, sizeof(fixed));
        fixed.counters = before.counters;
        if (memcmp(&fixed, &before, sizeof(fixed)) != 0) {
            abort();
        }
        return r;
    }
    /* The reply answered the outstanding request. */
    if (!before.outstanding || assoc_outstanding(a)) {
        abort();
    }
    struct ntp_packet p;
    if (pkt_decode(dg, len, &p) != PKT_OK || p.mode != PKT_MODE_SERVER || p.org != before.nonce ||
        p.org == 0) {
        abort();
    }
    if (r == ASSOC_KOD) {
        if (p.stratum != 0 || assoc_reach(a) != assoc_reach(&before) || s.kiss != a->last_kiss) {
            abort();
        }
        enum ntp_kiss k = ntp_kiss_from_refid(p.refid);
        unsigned newflags = assoc_flags(a) & ~assoc_flags(&before);
        if (k == NTP_KISS_RATE) {
            if (newflags & ~(unsigned)ASSOC_F_RATE || !(assoc_flags(a) & ASSOC_F_RATE) ||
                assoc_poll(a) < assoc_poll(&before) ||
                (assoc_poll(&before) < a->cfg.maxpoll && assoc_poll(a) <= assoc_poll(&before))) {
                abort();
            }
        } else if (k == NTP_KISS_DENY || k == NTP_KISS_RSTR) {
            unsigned want = local->authenticated ? ASSOC_F_DEMOBILIZE : ASSOC_F_DENIED;
            if (assoc_poll(a) != a->cfg.maxpoll || !(assoc_flags(a) & want) ||
                (newflags & ~want) != 0) {
                abort();
            }
        } else if (newflags != 0 || assoc_poll(a) != assoc_poll(&before) ||
                   assoc_next_due(a) != assoc_next_due(&before)) {
            abort();
        }
        return r;
    }
    if (assoc_reach(a) != (assoc_reach(&before) | 1) || assoc_poll(a) != assoc_poll(&before) ||
        assoc_flags(a) != assoc_flags(&before)) {
        abort();
    }
    if (r == ASSOC_OK) {
        if (!isfinite(s.offset) || !isfinite(s.delay) || !isfinite(s.root_distance) ||
            !(s.root_distance <= a->cfg.maxdist) || s.stratum == 0 || s.stratum >= 16 ||
            s.leap == PKT_LEAP_UNSYNC || p.rec == 0 || p.xmt == 0) {
            abort();
        }
        if (s.stratum > 1 && s.refid != 0 && s.refid != UINT32_C(0x7f000001) &&
            (s.refid == local->sys_refid || s.refid == local->addr_refid)) {
            abort();
        }
    }
    return r;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 2) {
        return 0;
    }
    uint8_t ctl = data[0];
    const uint8_t *dg = data + 2;
    size_t len = size - 2;

    struct assoc_config cfg;
    assoc_config_default(&cfg);
    cfg.minpoll = (int8_t)(data[1] & 7);
    cfg.maxpoll = (int8_t)(cfg.minpoll + ((data[1] >> 3) & 7));
    cfg.iburst = (ctl & 0x08) != 0;
    cfg.burst = (ctl & 0x10) != 0;
    struct assoc a;
    if (!assoc_init(&a, &cfg, 0.0)) {
        abort();
    }

    struct assoc_local local = {
        .precision = (ctl & 0x80) ? -6 : -24,
        .sys_refid = UINT32_C(0xc0000263),
        .addr_refid = UINT32_C(0xc0000202),
        .authenticated = (ctl & 0x02) != 0,
    };
    if ((ctl & 0x20) && len >= 16) {
        local.sys_refid = get32(dg + 12);
    }
    uint64_t nonce = FIXED_NONCE;
    if ((ctl & 0x01) && len >= 32) {
        nonce = get64(dg + 24);
    }

    uint8_t req[PKT_HEADER_LEN];
    if (ctl & 0x04) {
        /* An earlier exchange answered: its transmit time is the datagram's own when the
         * datagram is long enough, so the replay test fires. */
        uint64_t n0 = UINT64_C(0x0123456789abcdef);
        if (assoc_make_request(&a, 0.0, n0, T1 - (UINT64_C(64) << 32), req, sizeof(req)) !=
            PKT_HEADER_LEN) {
            abort();
        }
        struct ntp_packet p0;
        memset(&p0, 0, sizeof(p0));
        p0.version = 4;
        p0.mode = PKT_MODE_SERVER;
        p0.stratum = 2;
        p0.precision = -20;
        p0.org = n0;
        p0.rec = T1 - (UINT64_C(64) << 32) + 0x1000000;
        p0.xmt = len >= 48 ? get64(dg + 40) : p0.rec + 0x100000;
        if (p0.xmt == 0 || ntp_ts_diff(p0.xmt, p0.rec) < 0.0) {
            p0.xmt = p0.rec + 0x100000;
        }
        uint8_t w[PKT_HEADER_LEN];
        if (pkt_encode(&p0, w, sizeof(w)) != PKT_HEADER_LEN) {
            abort();
        }
        struct ntp_sample s0;
        if (assoc_receive(&a, 0.1, w, sizeof(w), T1 - (UINT64_C(64) << 32) + 0x4000000, &local,
                          &s0) != ASSOC_OK) {
            abort();
        }
    }
    if (assoc_make_request(&a, NOW, nonce, T1, req, sizeof(req)) != PKT_HEADER_LEN) {
        abort();
    }
    if (ctl & 0x40) {
        assoc_on_step(&a);
    }
    check_bounds(&a);

    enum assoc_result r1 = deliver(&a, dg, len, &local);
    enum assoc_result r2 = deliver(&a, dg, len, &local);
    /* At most one reply per request: the same datagram again is refused, and the same
     * way if the first changed nothing. */
    if (no_state_change(r1) ? r2 != r1 : r2 != ASSOC_DUPLICATE) {
        abort();
    }

    /* The association still works: the next request goes out unless demobilised. */
    size_t n = assoc_make_request(&a, assoc_next_due(&a), 7, T4, req, sizeof(req));
    if ((n == 0) != ((assoc_flags(&a) & ASSOC_F_DEMOBILIZE) != 0)) {
        abort();
    }
    check_bounds(&a);
    return 0;
}
