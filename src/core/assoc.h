/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * assoc: the state of one client association (one configured or pool-supplied server):
 * the reachability register, the poll interval and the schedule of requests (iburst and
 * burst), the on-wire bookkeeping (the outstanding request's nonce, at most one reply per
 * request, duplicates), the KoD policy and the header sanity tests, each counted by
 * reason. Pure: "now" is monotonic seconds passed in, the nonce comes from the caller's
 * RNG. The checks and arithmetic of one exchange are client_process's; the clock filter,
 * selection and discipline are not here.
 */
#ifndef STRATUM_ASSOC_H
#define STRATUM_ASSOC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "client.h"
#include "ntp_time.h"

/* Poll bounds, log2 s. RFC 5905 uses 4..17; lab configs may go down to 0 (1 s). */
#define ASSOC_POLL_FLOOR 0
#define ASSOC_POLL_CEILING 17
#define ASSOC_MINPOLL_DEFAULT 6
#define ASSOC_MAXPOLL_DEFAULT 10
/* RFC 5905 sec. 7.2 MAXDIST: the largest root distance of a usable sample. */
#define ASSOC_MAXDIST_DEFAULT 1.5
/* Requests in an iburst (sent when unreachable) and in a burst (each poll), and the time
 * between two of them (RFC 5905 A.5.7.3 BTIME), shortened to 2^minpoll if that is less. */
#define ASSOC_IBURST_COUNT 6
#define ASSOC_BURST_COUNT 8
#define ASSOC_BURST_SPACING 2.0
/* RFC 5905 A.5.7.3 UNREACH: polls without reach before the poll interval backs off. */
#define ASSOC_UNREACH 12

/* Configuration flags (ntp.conf server options). */
#define ASSOC_CFG_PREFER 0x1u
#define ASSOC_CFG_NOSELECT 0x2u
#define ASSOC_CFG_TRUE 0x4u

/* State flags, from assoc_flags(). */
#define ASSOC_F_RATE 0x1u       /* a KoD RATE was received: the poll floor was raised */
#define ASSOC_F_DENIED 0x2u     /* unauthenticated DENY/RSTR: backed off to maxpoll; a pool
                                 * should replace this member */
#define ASSOC_F_DEMOBILIZE 0x4u /* authenticated DENY/RSTR: stop polling, remove it */

struct assoc_config {
    int8_t minpoll;  /* log2 s */
    int8_t maxpoll;  /* log2 s */
    bool iburst;     /* a burst of ASSOC_IBURST_COUNT requests when unreachable */
    bool burst;      /* a burst of ASSOC_BURST_COUNT requests at each poll when reachable */
    uint8_t version; /* NTP version of our requests, 1..4 */
    double maxdist;  /* s, `tos maxdist`: a sample with a larger root distance is refused */
    unsigned flags;  /* ASSOC_CFG_* */
};

/* Per-association counters of what arrived and why it was refused. Names follow ntpq's
 * peer variables where it has them (received, sent, processed, bogusorg, oldpkt, badauth,
 * kod_rx); the others are ours. Every reply is counted in received and, unless it became
 * a sample (processed), in exactly one of the others. */
struct assoc_counters {
    uint64_t sent;      /* requests made */
    uint64_t received;  /* replies handed to assoc_receive */
    uint64_t processed; /* replies that became samples */
    uint64_t badformat; /* undecodable, or not a server (mode 4) reply */
    uint64_t bogusorg;  /* origin not our outstanding nonce (also zero), or nothing outstanding */
    uint64_t oldpkt;    /* a second reply to an answered request, or a repeated transmit time */
    uint64_t badtime;   /* RFC 5905 test 3: receive/transmit zero, or times out of order */
    uint64_t badauth;   /* counted by the caller through assoc_count_badauth */
    uint64_t kod_rx;    /* kiss-o'-death replies (after the origin check) */
    uint64_t unsync;    /* leap 3, or stratum >= 16 */
    uint64_t distance;  /* header root distance >= 16 s, or sample root distance > maxdist */
    uint64_t loop;      /* the server is synchronized to us (or to our system peer) */
};

/* What assoc_receive did with a reply. ASSOC_OK is 0; keep assoc_result_name in step.
 * FORMAT, UNSOLICITED, BOGUS, DUPLICATE and BADTIME change no state but their counter;
 * KOD, UNSYNC, DISTANCE and LOOP answered the outstanding request (it is consumed) and
 * the header is recorded, but they give no sample. */
enum assoc_result {
    ASSOC_OK = 0,
    ASSOC_FORMAT,      /* badformat */
    ASSOC_UNSOLICITED, /* bogusorg: no request outstanding */
    ASSOC_BOGUS,       /* bogusorg: origin zero or not our nonce */
    ASSOC_DUPLICATE,   /* oldpkt */
    ASSOC_BADTIME,     /* badtime */
    ASSOC_KOD,         /* kod_rx; out->kiss tells which */
    ASSOC_UNSYNC,      /* unsync */
    ASSOC_DISTANCE,    /* distance */
    ASSOC_LOOP,        /* loop */
    ASSOC_RESULT_COUNT
};

/* What we know about ourselves when a reply arrives. */
struct assoc_local {
    int8_t precision;    /* our clock's, log2 s */
    uint32_t sys_refid;  /* the refid we advertise (our system peer's); 0 when none */
    uint32_t addr_refid; /* the refid a server synchronized to us would show: our address's
                          * (IPv4, or the MD5 hash of IPv6); 0 when unknown */
    bool authenticated;  /* the caller verified this reply's MAC or NTS fields */
};

/* One association. Treat as opaque: use the functions below. Fixed size, no pointers, so
 * it can be copied and compared. */
struct assoc {
    struct assoc_config cfg;
    int8_t hpoll;       /* current poll interval, log2 s */
    int8_t want_poll;   /* what the discipline asked for (RFC 5905 s.poll), log2 s */
    int8_t poll_floor;  /* raised by KoD RATE/DENY, never below cfg.minpoll */
    int8_t ppoll;       /* poll field of the last reply, log2 s (status only) */
    uint8_t reach;      /* RFC 5905 reachability register, shifted at each poll */
    uint8_t unreach;    /* polls in a row with reach == 0, saturating */
    uint8_t burst_left; /* requests still to send in the current burst */
    uint8_t flags;      /* ASSOC_F_* */
    uint8_t calm;       /* samples since the last KoD: the RATE floor decays after 8 */
    double next_due;    /* monotonic s of the next request */
    double poll_start;  /* monotonic s of the last poll (burst start) */
    bool polled;        /* a poll has started since assoc_init */

    bool outstanding;   /* a request is waiting for its one reply */
    uint64_t nonce;     /* transmit timestamp of the last request (its origin cookie) */
    ntp_ts_t t1;        /* our clock when the last request left */
    ntp_ts_t last_xmt;  /* server transmit time of the last accepted reply; 0 none */

    /* Header of the last reply that answered a request (status: leap, stratum, refid). */
    uint8_t leap;
    uint8_t stratum;
    uint32_t refid;
    enum ntp_kiss last_kiss;

    struct assoc_counters counters;
};

/* Fills cfg with the defaults: minpoll 6, maxpoll 10, no iburst/burst, version 4,
 * maxdist 1.5 s, no flags. */
void assoc_config_default(struct assoc_config *cfg);

/* Initialises a for cfg (copied) with the first request due at now (monotonic s).
 * Returns false, leaving a unusable, if cfg is out of range: minpoll or maxpoll outside
 * ASSOC_POLL_FLOOR..ASSOC_POLL_CEILING, minpoll > maxpoll, version not 1..4, maxdist not
 * finite and positive. Validating configuration is the parser's job; this is the backstop. */
bool assoc_init(struct assoc *a, const struct assoc_config *cfg, double now);

/* True when a request is due at now. */
bool assoc_due(const struct assoc *a, double now);
/* Monotonic s when the next request is due (may be in the past). */
double assoc_next_due(const struct assoc *a);

/* Makes the next request: writes the data-minimised request (transmit = nonce) to buf and
 * returns its length (48), or 0 when cap is short or the association is to be
 * demobilised (nothing changes then). t1 is our clock's time of sending, used for the
 * sample. At the start of a poll (not within a burst) the reach register shifts left, so
 * a poll that gets no answer leaves a 0 bit (RFC 5905 A.5.7.3 poll()), and iburst, burst
 * and the unreachable backoff are decided. A request still outstanding is abandoned: its
 * late reply will be refused as bogus. nonce must be random; 0 is replaced by 1 (a zero
 * origin proves nothing). Normally called when assoc_due. */
size_t assoc_make_request(struct assoc *a, double now, uint64_t nonce, ntp_ts_t t1, uint8_t *buf,
                          size_t cap);

/* Processes a datagram of len octets from this association's server, received at t4 by
 * our clock (now in monotonic s). In order: the exchange checks of client_process
 * (format, mode, origin), the duplicate test and test 3 (zero or disordered times): a
 * refusal there changes nothing but its counter. Then the reply answers the outstanding
 * request (no second reply is accepted), the header is recorded; a KoD is acted upon
 * (RATE raises the poll floor by one, at least to the server's poll, at most to maxpoll;
 * DENY/RSTR back off to maxpoll and set ASSOC_F_DENIED, or ASSOC_F_DEMOBILIZE when
 * local->authenticated; other codes only recorded); otherwise the reach register gets
 * its bit. Then the header sanity tests: leap 3 / stratum >= 16 (UNSYNC), root distance
 * (DISTANCE: header >= 16 s or the sample's > cfg.maxdist), sync loop (LOOP: stratum > 1
 * and refid equal to local->addr_refid or local->sys_refid). ASSOC_OK gives the sample in
 * *out; on ASSOC_KOD *out holds the header and kiss; otherwise *out must not be used. */
enum assoc_result assoc_receive(struct assoc *a, double now, const uint8_t *buf, size_t len,
                                ntp_ts_t t4, const struct assoc_local *local,
                                struct ntp_sample *out);

/* The clock was stepped: the outstanding request (its t1 is on the old time scale) is
 * forgotten, so its reply will be refused. The schedule is monotonic and unchanged. */
void assoc_on_step(struct assoc *a);

/* The discipline's wish for the poll interval (log2 s, RFC 5905 s.poll). It is clamped
 * to [max(minpoll, KoD floor), maxpoll] and applies at once while the server is reachable
 * (the next request is rescheduled from the start of the last poll) and again when it
 * becomes reachable after an unreachable backoff. */
void assoc_set_poll(struct assoc *a, int8_t poll_log2);

/* The caller dropped a reply for failed authentication (RFC 5905 test 5): counts it and
 * changes nothing else (a failure never resets or demobilises). */
void assoc_count_badauth(struct assoc *a);

/* Accessors. */
uint8_t assoc_reach(const struct assoc *a);
bool assoc_unreachable(const struct assoc *a); /* reach == 0 */
int8_t assoc_poll(const struct assoc *a);      /* hpoll, log2 s */
unsigned assoc_flags(const struct assoc *a);   /* ASSOC_F_* */
bool assoc_outstanding(const struct assoc *a);
const struct assoc_counters *assoc_counters(const struct assoc *a);

/* Short stable name of a result ("bogus", "duplicate", ...). */
const char *assoc_result_name(enum assoc_result r);

#endif
