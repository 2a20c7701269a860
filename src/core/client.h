/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * client: one client/server exchange seen from the client (RFC 5905 sec. 8 on-wire,
 * RFC 9109 and the data-minimisation practice): the request that reveals nothing but a
 * random nonce in the transmit timestamp, and the checks and arithmetic that turn a
 * response into a sample or a reason to reject it. Pure. Shared by `stratum query`,
 * `stratum sync`, the fleet monitor's ntp probe and, later, the daemon's associations.
 */
#ifndef STRATUM_CLIENT_H
#define STRATUM_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "ntp_time.h"
#include "pkt.h"

/* RFC 5905 sec. 7.2: the largest root distance a usable server may claim. */
#define CLIENT_MAXDISP 16.0

/* Writes a client request (48 octets) into buf: version, mode 3, poll, and transmit =
 * nonce; every other field zero (leap, stratum, precision, root fields, refid, reference,
 * origin and receive timestamps), so the request reveals nothing about our clock.
 * Returns 48, or 0 if cap is short. */
size_t client_request(uint8_t *buf, size_t cap, uint8_t version, int8_t poll, uint64_t nonce);

/* Why a response is not a usable sample. CLIENT_OK is 0; keep client_reject_name in step.
 * The order is the order of the checks: a packet that fails an early one says nothing
 * about the later ones. */
enum client_reject {
    CLIENT_OK = 0,
    CLIENT_FORMAT,          /* pkt_decode rejected it */
    CLIENT_MODE,            /* not a server response (mode 4) */
    CLIENT_BOGUS,           /* origin is not our nonce: not an answer to our request */
    CLIENT_KOD,             /* kiss-o'-death (stratum 0); sample->kiss tells which */
    CLIENT_UNSYNC,          /* leap 3, or stratum >= 16 */
    CLIENT_ZERO_TIME,       /* receive or transmit timestamp zero */
    CLIENT_BAD_TIMES,       /* server transmit before its receive, or our t4 before t1 */
    CLIENT_DISTANCE,        /* root delay / 2 + root dispersion >= CLIENT_MAXDISP */
    CLIENT_REJECT_COUNT
};

/* A measurement. Times of the exchange: t1 our send, t2 server receive, t3 server
 * transmit, t4 our receive (RFC 5905 names T1..T4). */
struct ntp_sample {
    double offset;          /* s, server clock minus ours: ((t2 - t1) + (t3 - t4)) / 2 */
    double delay;           /* s, (t4 - t1) - (t3 - t2), at least the larger precision */
    double dispersion;      /* s, precisions of both clocks + PHI * (t4 - t1) */
    double root_delay;      /* s, server's, as announced */
    double root_disp;       /* s, server's, as announced */
    double root_distance;   /* s, (root_delay + delay) / 2 + root_disp + dispersion */
    uint8_t leap;
    uint8_t stratum;
    uint8_t version;
    int8_t precision;       /* server's, log2 s */
    int8_t poll;
    uint32_t refid;
    enum ntp_kiss kiss;     /* for CLIENT_KOD */
    ntp_ts_t ref;
    ntp_ts_t t1, t2, t3, t4;
};

/* Checks a response of len octets against our request's nonce and computes the sample.
 * t1 and t4 are our clock's send and receive times, local_precision our clock's
 * precision (log2 s). On CLIENT_KOD the header fields and kiss are filled; on other
 * rejects *out must not be used. */
enum client_reject client_process(const uint8_t *buf, size_t len, uint64_t nonce, ntp_ts_t t1,
                                  ntp_ts_t t4, int8_t local_precision, struct ntp_sample *out);

/* Short stable name ("bogus", "kod", ...). */
const char *client_reject_name(enum client_reject r);

#endif
