/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * assoc: one client association's reachability, poll schedule, on-wire bookkeeping, KoD
 * policy and header sanity tests (RFC 5905 sec. 8, A.5.1 receive()/packet(), A.5.7.3
 * poll(); PROTOCOL-CHECKS sections 3 and 5). The exchange checks and arithmetic are
 * client_process's; this module adds what needs memory across packets. Pure.
 */
#include "assoc.h"

#include <math.h>
#include <string.h>

#include "pkt.h"

/* 127.0.0.1 as a refid: a server showing it is synchronized to its own local clock, not
 * to us (ntpd excludes it from the loop test too). */
#define ASSOC_REFID_LOOPBACK UINT32_C(0x7f000001)

static int8_t clamp_poll(int v, int8_t lo, int8_t hi)
{
    if (v < lo) {
        return lo;
    }
    if (v > hi) {
        return hi;
    }
    return (int8_t)v;
}

void assoc_config_default(struct assoc_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->minpoll = ASSOC_MINPOLL_DEFAULT;
    cfg->maxpoll = ASSOC_MAXPOLL_DEFAULT;
    cfg->version = 4;
    cfg->maxdist = ASSOC_MAXDIST_DEFAULT;
}

bool assoc_init(struct assoc *a, const struct assoc_config *cfg, double now)
{
    /* Zero everything, padding included, so that two associations in the same state
     * compare equal octet by octet (tests and the fuzz target rely on it). */
    memset(a, 0, sizeof(*a));
    if (cfg->minpoll < ASSOC_POLL_FLOOR || cfg->minpoll > ASSOC_POLL_CEILING ||
        cfg->maxpoll < ASSOC_POLL_FLOOR || cfg->maxpoll > ASSOC_POLL_CEILING ||
        cfg->minpoll > cfg->maxpoll || cfg->version < 1 || cfg->version > 4 ||
        !isfinite(cfg->maxdist) || cfg->maxdist <= 0.0 || !isfinite(now)) {
        return false;
    }
    a->cfg = *cfg;
    a->hpoll = cfg->minpoll;
    a->want_poll = cfg->minpoll;
    a->poll_floor = cfg->minpoll;
    a->next_due = now;
    a->poll_start = now;
    /* What ntpq shows before the first answer: unsynchronized, stratum 16, .INIT. */
    a->leap = PKT_LEAP_UNSYNC;
    a->stratum = 16;
    a->refid = ntp_refid_from_ascii("INIT");
    return true;
}

bool assoc_due(const struct assoc *a, double now)
{
    return (a->flags & ASSOC_F_DEMOBILIZE) == 0 && now >= a->next_due;
}

double assoc_next_due(const struct assoc *a)
{
    return a->next_due;
}

/* The next poll is 2^hpoll after the start of the last one (RFC 5905 A.5.7.3
 * poll_update(): nextdate = outdate + 2^poll). Client mode ignores the server's ppoll: a
 * server may slow us down only by a KoD RATE, never speed us up. */
static void schedule_next_poll(struct assoc *a)
{
    if (a->polled && a->burst_left == 0) {
        a->next_due = a->poll_start + ldexp(1.0, a->hpoll);
    }
}

size_t assoc_make_request(struct assoc *a, double now, uint64_t nonce, ntp_ts_t t1, uint8_t *buf,
                          size_t cap)
{
    if ((a->flags & ASSOC_F_DEMOBILIZE) != 0 || cap < PKT_HEADER_LEN) {
        return 0;
    }
    if (nonce == 0) {
        nonce = 1;
    }
    if (a->burst_left == 0) {
        /* RFC 5905 A.5.7.3 poll(): a new poll, not a request within a burst. Shift the
         * reach register; the reply to this poll sets the low bit. */
        a->polled = true;
        a->poll_start = now;
        a->reach = (uint8_t)(a->reach << 1);
        if (a->reach == 0) {
            /* Unreachable: one iburst when it first becomes so (unreach still 0), then
             * after ASSOC_UNREACH silent polls back off one step per poll. */
            if (a->cfg.iburst && a->unreach == 0) {
                a->burst_left = ASSOC_IBURST_COUNT - 1;
            } else if (a->unreach >= ASSOC_UNREACH) {
                a->hpoll = clamp_poll(a->hpoll + 1, a->poll_floor, a->cfg.maxpoll);
            }
            if (a->unreach < UINT8_MAX) {
                a->unreach++;
            }
        } else {
            /* Reachable: the poll the discipline wants (RFC 5905: hpoll = s.poll), never
             * below a KoD floor. */
            a->unreach = 0;
            a->hpoll = clamp_poll(a->want_poll > a->poll_floor ? a->want_poll : a->poll_floor,
                                  a->poll_floor, a->cfg.maxpoll);
            if (a->cfg.burst) {
                a->burst_left = ASSOC_BURST_COUNT - 1;
            }
        }
    } else {
        a->burst_left--;
    }

    size_t n = client_request(buf, cap, a->cfg.version, a->hpoll, nonce);
    /* A previous request still outstanding is abandoned here: its nonce is forgotten, so
     * a late reply to it fails the origin test. */
    a->outstanding = true;
    a->nonce = nonce;
    a->t1 = t1;
    a->counters.sent++;
    if (a->burst_left > 0) {
        double spacing = ldexp(1.0, a->cfg.minpoll);
        a->next_due = now + (spacing < ASSOC_BURST_SPACING ? spacing : ASSOC_BURST_SPACING);
    } else {
        schedule_next_poll(a);
    }
    return n;
}

/* RFC 5905 sec. 7.4 as corrected by practice (PROTOCOL-CHECKS sec. 5), reached only after
 * the origin test: RATE raises the poll floor, DENY/RSTR back off or demobilise, anything
 * else is only displayed. A kiss ends any burst: the server asked for less traffic. */
static void apply_kiss(struct assoc *a, enum ntp_kiss kiss, int8_t server_poll, bool authentic)
{
    switch (kiss) {
    case NTP_KISS_RATE: {
        /* Each RATE lengthens the poll by at least one step, and at least to the poll the
         * server announces; at most to maxpoll. The floor holds the discipline above it
         * and decays one step per 8 good samples without a kiss (assoc_receive). */
        int want = a->hpoll + 1 > server_poll ? a->hpoll + 1 : server_poll;
        int8_t floor = clamp_poll(want, a->cfg.minpoll, a->cfg.maxpoll);
        if (floor > a->poll_floor) {
            a->poll_floor = floor;
        }
        if (a->hpoll < a->poll_floor) {
            a->hpoll = a->poll_floor;
        }
        a->flags |= ASSOC_F_RATE;
        break;
    }
    case NTP_KISS_DENY:
    case NTP_KISS_RSTR:
        /* DESIGN: only an authenticated DENY/RSTR demobilises; an unauthenticated one may
         * be spoofed by anyone who saw our request, so it only backs off to maxpoll and
         * tells a pool to replace this member. */
        a->poll_floor = a->cfg.maxpoll;
        a->hpoll = a->cfg.maxpoll;
        a->flags |= authentic ? ASSOC_F_DEMOBILIZE : ASSOC_F_DENIED;
        break;
    default:
        return;
    }
    a->calm = 0;
    a->burst_left = 0;
    schedule_next_poll(a);
}

static bool is_loop(const struct ntp_sample *s, const struct assoc_local *local)
{
    /* RFC 5905 A.5.5.1 fit() test 12 (ntpd's TEST12): a server above stratum 1 whose refid
     * is our address, or our own system peer's refid, would follow us. */
    if (s->stratum <= 1 || s->refid == 0 || s->refid == ASSOC_REFID_LOOPBACK) {
        return false;
    }
    return s->refid == local->addr_refid || s->refid == local->sys_refid;
}

enum assoc_result assoc_receive(struct assoc *a, double now, const uint8_t *buf, size_t len,
                                ntp_ts_t t4, const struct assoc_local *local,
                                struct ntp_sample *out)
{
    (void)now;
    a->counters.received++;

    /* PROTOCOL-CHECKS sec. 3, steps 1-3: parse, tests 1, 2 and 3 with no side effects
     * but a counter (CVE-2015-1799, CVE-2015-8138). */
    if (!a->outstanding) {
        /* Nothing is waiting. A copy of the reply that answered the last request (its
         * origin is still our last nonce) is a duplicate; anything else is unsolicited.
         * a->nonce is 0 before the first request and after a step: always bogus. */
        enum client_reject r = client_process(buf, len, a->nonce, a->t1, t4, local->precision, out);
        if (r == CLIENT_FORMAT || r == CLIENT_MODE) {
            a->counters.badformat++;
            return ASSOC_FORMAT;
        }
        if (r == CLIENT_BOGUS) {
            a->counters.bogusorg++;
            return ASSOC_UNSOLICITED;
        }
        a->counters.oldpkt++;
        return ASSOC_DUPLICATE;
    }
    enum client_reject r = client_process(buf, len, a->nonce, a->t1, t4, local->precision, out);
    if (r == CLIENT_FORMAT || r == CLIENT_MODE) {
        a->counters.badformat++;
        return ASSOC_FORMAT;
    }
    if (r == CLIENT_BOGUS) {
        a->counters.bogusorg++;
        return ASSOC_BOGUS;
    }
    /* From here the header fields and t2/t3 in *out are filled. Test 1: a transmit time
     * we already accepted is a replay, even with a fresh origin. */
    if (a->last_xmt != 0 && out->t3 == a->last_xmt) {
        a->counters.oldpkt++;
        return ASSOC_DUPLICATE;
    }
    /* Test 3. client_process judges an unsynchronized header before the timestamps, so
     * repeat the zero test for it; a KoD needs no times. */
    if (r == CLIENT_ZERO_TIME || r == CLIENT_BAD_TIMES ||
        (r == CLIENT_UNSYNC && (out->t2 == 0 || out->t3 == 0))) {
        a->counters.badtime++;
        return ASSOC_BADTIME;
    }

    /* Step 5: the reply answers our request. Consume it (chrony's valid_rx: at most one
     * reply per request) and record the header. */
    a->outstanding = false;
    if (out->t3 != 0) {
        a->last_xmt = out->t3;
    }
    a->leap = out->leap;
    a->stratum = out->stratum;
    a->refid = out->refid;
    a->ppoll = out->poll;

    if (r == CLIENT_KOD) {
        /* A KoD is never a sample and does not make the server reachable. */
        a->counters.kod_rx++;
        a->last_kiss = out->kiss;
        apply_kiss(a, out->kiss, out->poll, local->authenticated);
        return ASSOC_KOD;
    }
    /* The server answered: it is reachable, even if unusable for time just now. */
    a->reach |= 1;
    /* Reachable again: the count of silent polls starts over (ntpq's `unreach`). */
    a->unreach = 0;

    /* Step 6: tests 6 and 7 (and maxdist, TEST11/BOGON14) before the sample is used;
     * test 12 (loop) here too, as the header says all it needs. */
    if (r == CLIENT_UNSYNC) {
        a->counters.unsync++;
        return ASSOC_UNSYNC;
    }
    if (r == CLIENT_DISTANCE || !(out->root_distance <= a->cfg.maxdist)) {
        a->counters.distance++;
        return ASSOC_DISTANCE;
    }
    if (is_loop(out, local)) {
        a->counters.loop++;
        return ASSOC_LOOP;
    }
    a->counters.processed++;
    /* A RATE floor is not forever: a server that has answered 8 times in a row without a
     * kiss gets one step back (DENY/RSTR keep maxpoll: a pool replaces such a member). */
    if (a->poll_floor > a->cfg.minpoll && (a->flags & ASSOC_F_DENIED) == 0) {
        if (++a->calm >= 8) {
            a->calm = 0;
            a->poll_floor--;
        }
    }
    return ASSOC_OK;
}

void assoc_on_step(struct assoc *a)
{
    /* DESIGN: every step flushes outstanding requests. t1 is on the old time scale, so a
     * reply to it would give a wrong sample; forget the nonce too so it is refused as
     * unsolicited, not taken for a duplicate. */
    a->outstanding = false;
    a->nonce = 0;
    a->t1 = 0;
}

void assoc_set_poll(struct assoc *a, int8_t poll_log2)
{
    a->want_poll = clamp_poll(poll_log2, a->cfg.minpoll, a->cfg.maxpoll);
    if (a->reach == 0) {
        /* Unreachable: the backoff rules; the wish applies when it answers again. */
        return;
    }
    int8_t p = a->want_poll > a->poll_floor ? a->want_poll : a->poll_floor;
    if (p != a->hpoll) {
        a->hpoll = p;
        schedule_next_poll(a);
    }
}

void assoc_count_badauth(struct assoc *a)
{
    a->counters.badauth++;
}

uint8_t assoc_reach(const struct assoc *a)
{
    return a->reach;
}

bool assoc_unreachable(const struct assoc *a)
{
    return a->reach == 0;
}

int8_t assoc_poll(const struct assoc *a)
{
    return a->hpoll;
}

unsigned assoc_flags(const struct assoc *a)
{
    return a->flags;
}

bool assoc_outstanding(const struct assoc *a)
{
    return a->outstanding;
}

const struct assoc_counters *assoc_counters(const struct assoc *a)
{
    return &a->counters;
}

const char *assoc_result_name(enum assoc_result r)
{
    static const char *const names[ASSOC_RESULT_COUNT] = {
        [ASSOC_OK] = "ok",
        [ASSOC_FORMAT] = "format",
        [ASSOC_UNSOLICITED] = "unsolicited",
        [ASSOC_BOGUS] = "bogus",
        [ASSOC_DUPLICATE] = "duplicate",
        [ASSOC_BADTIME] = "badtime",
        [ASSOC_KOD] = "kod",
        [ASSOC_UNSYNC] = "unsync",
        [ASSOC_DISTANCE] = "distance",
        [ASSOC_LOOP] = "loop",
    };

    if ((unsigned)r >= ASSOC_RESULT_COUNT || names[r] == NULL) {
        return "unknown";
    }
    return names[r];
}
