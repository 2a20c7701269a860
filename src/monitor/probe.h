/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * probe: what the monitor sends a device and how it reads the answers, per probe kind,
 * as a pure state machine: sweep.c owns the sockets, the clock and the timers and hands
 * each datagram that came from the device's address here. The ntp probe is one client
 * exchange (src/core/client.c); the ntpq probe adds mode 6 READVAR of the system
 * variables and of the system peer (src/core/ctl.c, ctlvars.c). Retries overlap: every
 * request sent stays answerable until the probe gives up. Hostile answers are counted and
 * never trusted: strings are bounded and printable, numbers checked.
 *
 * Adding a kind (SNMP hrSystemDate, ICMP timestamp, HTTP Date) means a request builder and
 * a reply reader here, and a case in probe_receive.
 */
#ifndef STRATUM_PROBE_H
#define STRATUM_PROBE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ctl.h"
#include "core/ntp_time.h"
#include "monitor/mon.h"

#define PROBE_MAX_TRIES 5

/* What a datagram came to. */
enum probe_rx {
    PROBE_RX_IGNORED = 0, /* not an answer to any request of ours (counted by reason) */
    PROBE_RX_ACCEPTED,    /* taken; nothing to send yet */
    PROBE_RX_SEND,        /* taken; probe_ctl_request has the next stage's request */
    PROBE_RX_DONE,        /* the probe is finished: the result is final */
};

/* Why a datagram was not used, for the sweep's counters. */
enum probe_drop {
    PROBE_DROP_MALFORMED = 0, /* neither a decodable NTP nor mode 6 packet */
    PROBE_DROP_BOGUS,         /* an NTP answer whose origin is none of our nonces */
    PROBE_DROP_CTL_STRAY,     /* a mode 6 datagram of another sequence, or a duplicate */
    PROBE_DROP_CTL_BAD,       /* mode 6 fragments that cannot form a response */
    PROBE_DROP_LATE,          /* anything after the probe finished */
    PROBE_DROP_COUNT
};

struct probe {
    enum mon_probe kind;
    bool ntp_pending, ctl_pending, done;
    int tries; /* NTP requests sent */
    uint64_t nonce[PROBE_MAX_TRIES];
    ntp_ts_t t1[PROBE_MAX_TRIES];
    int bad_reason;   /* the last CLIENT_ reject of a malformed NTP answer, 0 none */
    /* mode 6 */
    int ctl_stage;    /* 0: system variables, 1: the system peer's */
    int ctl_tries;
    uint16_t ctl_seq;
    uint16_t ctl_assoc;
    uint16_t peer_assoc;
    struct ctl_reasm *reasm; /* lent by the sweep while a mode 6 request is out, else NULL */
    char ctl_note[48];       /* why mode 6 gave nothing ("no mode 6 answer", "error 4") */
};

/* Starts a probe of kind. */
void probe_init(struct probe *p, enum mon_probe kind);

/* True while the probe needs a mode 6 reassembly buffer for its next request. */
bool probe_wants_ctl(const struct probe *p);

/* The NTP request of the next try (nonce in its transmit timestamp; t1 our clock now),
 * when the NTP answer is still pending and tries remain. Returns its length, or 0. */
size_t probe_ntp_request(struct probe *p, uint8_t *buf, size_t cap, uint64_t nonce,
                         ntp_ts_t t1);

/* The mode 6 request of the current stage (a first try or a retry, sequence seq), when a
 * mode 6 answer is pending and p->reasm is lent. Returns its length, or 0. */
size_t probe_ctl_request(struct probe *p, uint8_t *buf, size_t cap, uint16_t seq);

/* Offers a datagram from the device's address and port. t4 is its receive time on our
 * clock, local_precision ours (log2 s). Fills r as the answers come. */
enum probe_rx probe_receive(struct probe *p, const uint8_t *buf, size_t len, ntp_ts_t t4,
                            int8_t local_precision, struct mon_result *r, enum probe_drop *why);

/* Gives up on what is still pending (the timeout): the result's status becomes
 * unreachable if no NTP answer came (bad_response if only unusable ones came); a
 * missing mode 6 answer leaves a note. Marks the probe done. */
void probe_finish(struct probe *p, struct mon_result *r);

const char *probe_drop_name(enum probe_drop d);

/* Writes a refid as text: four letters at stratum 0/1 (or when all are capitals), an
 * IPv4 address otherwise. */
void probe_refid_text(uint32_t refid, int stratum, char *out, size_t cap);

#endif
