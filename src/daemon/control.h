/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * control: the mode 6 control protocol of stratumd (what ntpq and check_ntp_peer speak):
 * READSTAT, READVAR of the system and of each association with ntpd's variable names and
 * formats, the client list (REQ_NONCE + READ_MRU, a nonce bound to the client's address
 * and port so the list cannot be aimed at a spoofed victim), errors as ntpd sends them.
 * Nothing here changes the daemon: writes and configuration are refused. It owns the
 * nonce key, the sorted snapshot of the client list and a rate limit on replies; the
 * engine owns the state it reports (given through struct control_env) and the sockets.
 * control_respond is pure apart from the environment's callbacks: the fuzz target runs
 * it on a fake daemon.
 */
#ifndef STRATUM_CONTROL_H
#define STRATUM_CONTROL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/acl.h"
#include "core/ctl.h"
#include "core/netaddr.h"
#include "core/ntp_time.h"
#include "core/ratelimit.h"
#include "daemon/status.h"

/* Most client tables (server contexts) the control path reads. */
#define CONTROL_MAX_TABLES 72

/* What the control path reads from the daemon. Every callback runs on the caller's
 * thread (the engine's). */
struct control_env {
    /* The state at this moment. */
    void (*status)(void *arg, struct status *out);
    /* The client tables (one per server context); returns how many, at most max. */
    unsigned (*tables)(void *arg, const struct rl_table **out, unsigned max);
    void *arg;
};

/* Replies to one request: at most CTL_MAX_FRAGS datagrams. */
struct control_out {
    unsigned n;
    uint16_t len[CTL_MAX_FRAGS];
    uint8_t dgram[CTL_MAX_FRAGS][CTL_HEADER_LEN + CTL_MAX_DATA];
};

/* Why a control request got no reply (counted). */
enum control_drop {
    CONTROL_ANSWERED = 0,
    CONTROL_DROP_MALFORMED, /* too short, not mode 6, bad version, response bits, offset */
    CONTROL_DROP_NONCE,     /* READ_MRU without a valid nonce of this client's */
    CONTROL_DROP_RATE,      /* over the control rate limit */
    CONTROL_DROP_COUNT
};

struct control_counters {
    uint64_t requests;
    uint64_t by_drop[CONTROL_DROP_COUNT];
    uint64_t errors;    /* error replies sent */
    uint64_t datagrams; /* reply datagrams built */
};

struct control;

/* A control path over env; acl is the daemon's (for `limited`, `nomrulist`); key is 16
 * random octets for the nonces; now_ms and wall give one instant of the monotonic and
 * of our clock, from which client list times are written (control_set_epoch moves it
 * after a step). Returns NULL when out of memory. */
struct control *control_new(const struct acl *acl, const struct control_env *env,
                            const uint8_t key[16], int64_t now_ms, ntp_ts_t wall);
void control_free(struct control *c);

/* After the clock was stepped: a new monotonic/clock pair for client list times. */
void control_set_epoch(struct control *c, int64_t now_ms, ntp_ts_t wall);

/* Answers one request of len octets from src/port (access control already passed, by
 * server_handle), received at monotonic now_ms and our clock's time wall. Fills out
 * with the reply datagrams (possibly none). Returns why nothing was sent, or
 * CONTROL_ANSWERED. */
enum control_drop control_respond(struct control *c, const uint8_t *req, size_t len,
                                  const struct net_addr *src, uint16_t port, int64_t now_ms,
                                  ntp_ts_t wall, struct control_out *out);

const struct control_counters *control_counters(const struct control *c);

/* ntpd's restrict bits (RES_*) for our restrict flags, as mrulist shows and filters them. */
uint32_t control_res_bits(uint32_t acl_flags);

#endif
