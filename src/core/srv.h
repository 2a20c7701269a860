/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * srv: the server's answer to one datagram, as a pure function of the request, the
 * published system state and the receive time. It decides whether a datagram deserves an
 * answer at all (never a response, a broadcast, a mode 6/7 packet, a malformed packet, or
 * a request carrying a MAC before authentication exists) and builds the reply or the
 * kiss-o'-death. The reply is never longer than the request. Access control and rate
 * limiting are decided by the caller (acl, ratelimit) and passed in as a verdict.
 */
#ifndef STRATUM_SRV_H
#define STRATUM_SRV_H

#include <stddef.h>
#include <stdint.h>

#include "ntp_time.h"
#include "pkt.h"

/* RFC 5905 sec. 7.2: frequency tolerance; root dispersion grows by this per second. */
#define SRV_PHI 15e-6

/* The system state replies are built from; the engine publishes it as a snapshot. */
struct srv_sys {
    uint8_t leap;           /* enum pkt_leap; 3 when unsynchronized */
    uint8_t stratum;        /* 1-15 when synchronized, 16 otherwise */
    int8_t precision;       /* log2 s, measured at start */
    uint32_t refid;
    ntp_ts_t ref_time;      /* when the clock was last set or corrected; 0 = never */
    double root_delay;      /* s */
    double root_disp;       /* s, at ref_time; grows by SRV_PHI per second after it */
};

/* Why a datagram gets no time reply. SRV_ANSWER is 0. Keep srv_drop_name in step. */
enum srv_drop {
    SRV_ANSWER = 0,
    SRV_DROP_FORMAT,        /* pkt_decode rejected it (see the pkt_reason) */
    SRV_DROP_MODE0,         /* reserved mode 0 other than an NTPv1 request */
    SRV_DROP_RESPONSE,      /* mode 2 or 4: a response, never answered */
    SRV_DROP_BROADCAST,     /* mode 5 */
    SRV_DROP_CONTROL,       /* mode 6: the control path's business */
    SRV_DROP_PRIVATE,       /* mode 7: never implemented */
    SRV_DROP_AUTH,          /* carries a MAC or crypto-NAK: authentication not available */
    SRV_DROP_UNREACHABLE,   /* (set by the caller) source port 0, or sent to a group */
    SRV_DROP_COUNT
};

/* Classifies a datagram of len octets from source port src_port. On SRV_ANSWER, *req is
 * the decoded request and *reply_mode is 4 (client request) or 2 (stateless answer to
 * symmetric active). An NTPv1 packet (whose mode field was reserved) counts as a client
 * request unless it comes from port 123, when it is a symmetric active one, as ntpd does.
 * On SRV_DROP_FORMAT, *why holds the decoder's reason; otherwise *why is PKT_OK. */
enum srv_drop srv_classify(const uint8_t *buf, size_t len, uint16_t src_port,
                           struct ntp_packet *req, uint8_t *reply_mode, enum pkt_reason *why);

/* Builds the time reply (48 octets) into out (cap >= 48) and returns its length, or 0 if
 * cap is short. rx is the receive timestamp; rnd gives random bits that fill the
 * receive timestamp's bits below the precision (CVE-2020-13817). The transmit timestamp
 * is left zero: stamp it with srv_stamp_xmt as late as possible before sending. */
size_t srv_reply(const struct srv_sys *sys, const struct ntp_packet *req, uint8_t reply_mode,
                 ntp_ts_t rx, uint32_t rnd, uint8_t *out, size_t cap);

/* Builds a kiss-o'-death (LI 3, stratum 0, refid = kiss code, origin = the request's
 * transmit timestamp, everything else zero but version, mode and poll) into out. Returns
 * its length (48) or 0. */
size_t srv_kod(const struct ntp_packet *req, uint8_t reply_mode, uint32_t kiss_refid,
               uint8_t *out, size_t cap);

/* Writes the transmit timestamp, its bits below precision replaced by rnd, and never
 * earlier than the reply's receive timestamp. */
void srv_stamp_xmt(uint8_t *reply, ntp_ts_t xmt, int8_t precision, uint32_t rnd);

/* Replaces the bits of t below 2^precision s with random bits (precision in -32..0). */
ntp_ts_t srv_fuzz_ts(ntp_ts_t t, int8_t precision, uint32_t rnd);

/* Short stable name, e.g. "response", "control". */
const char *srv_drop_name(enum srv_drop d);

#endif
