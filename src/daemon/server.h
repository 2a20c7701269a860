/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * server: the serving path for one datagram, shared by the worker threads (batched I/O)
 * and the single-threaded engine (workers 0): access control, classification, rate
 * limiting, reply or kiss-o'-death, and a counter for every outcome. Each worker owns
 * one struct server_ctx; nothing in it is shared, so the hot path takes no lock.
 */
#ifndef STRATUM_SERVER_H
#define STRATUM_SERVER_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/acl.h"
#include "core/netaddr.h"
#include "core/pkt.h"
#include "core/ratelimit.h"
#include "core/srv.h"
#include "io/rng.h"

/* Counters. The first ones carry ntpq's sysstats names. */
enum server_counter {
    CNT_RECEIVED,       /* ss_received: every datagram */
    CNT_THISVER,        /* ss_thisver: NTPv4 */
    CNT_OLDVER,         /* ss_oldver: NTPv1-3 */
    CNT_BADFORMAT,      /* ss_badformat: malformed, wrong length, bad version */
    CNT_BADAUTH,        /* ss_badauth: MAC present, cannot be verified */
    CNT_DECLINED,       /* ss_declined: modes not served here (2,4,5,6,7, reserved) */
    CNT_RESTRICTED,     /* ss_restricted: refused by restrict (ignore, noserve, ...) */
    CNT_LIMITED,        /* ss_limited: over the rate limit */
    CNT_KODSENT,        /* ss_kodsent */
    CNT_PROCESSED,      /* ss_processed: answered with time */
    CNT_TRUNCATED,      /* longer than the receive buffer */
    CNT_SENDERR,        /* reply could not be sent */
    CNT_CONTROL,        /* control (mode 6) requests passed to the engine */
    CNT_V1_CLIENT,      /* ss_ver1client: NTPv1 requests answered as client requests */
    CNT_V1_ZERO,        /* ss_ver1zero: NTPv1 with mode 0 */
    CNT_V1_SYMM,        /* ss_ver1symm: NTPv1 symmetric active */
    CNT_MODE_FIRST,     /* 8 counters: by mode */
    CNT_VERSION_FIRST = CNT_MODE_FIRST + 8, /* 8 counters: by version */
    CNT_PKT_FIRST = CNT_VERSION_FIRST + 8,  /* decoder rejects by pkt_reason */
    CNT_SRV_FIRST = CNT_PKT_FIRST + PKT_REASON_COUNT, /* outcomes by srv_drop */
    CNT_COUNT = CNT_SRV_FIRST + SRV_DROP_COUNT
};

struct server_counters {
    /* Written by one thread with relaxed load+store (no locked instruction), read by
     * the engine for reports. */
    _Atomic uint64_t v[CNT_COUNT];
};

struct server_ctx {
    const struct acl *acl;
    struct rl_table *rl;        /* owned by this context: rate limits and client list */
    bool monitor;               /* record every client (the MRU list), not only limited ones */
    struct server_counters cnt;
    struct rng_fast rng;
    int8_t precision;
};

/* Prepares a context: allocates its rate table (entries slots). monitor: keep the client
 * list of every source (`disable monitor` turns it off). Returns 0 or -1. */
int server_ctx_init(struct server_ctx *s, const struct acl *acl, const struct rl_config *rl,
                    uint32_t rl_entries, int8_t precision, bool monitor);
void server_ctx_free(struct server_ctx *s);

/* What the receive path knows about a datagram beyond its bytes. */
enum server_rx_flag {
    SERVER_RX_TRUNCATED = 1u << 0,      /* longer than the receive buffer */
    SERVER_RX_TO_GROUP = 1u << 1,       /* sent to a broadcast or multicast address */
};

/* Handles one datagram of len octets from src/src_port with rx_flags (enum
 * server_rx_flag), received at rx (this clock's time, NTP format), at monotonic now_ms,
 * against system state sys. Writes the reply into out (cap) and returns its length, 0
 * when nothing is to be sent. A control (mode 6) request that access control lets
 * through sets *control (may be NULL: then it is declined) and gets no reply here: the
 * caller passes it to the engine's control path. */
size_t server_handle(struct server_ctx *s, const struct srv_sys *sys, const uint8_t *req,
                     size_t len, unsigned rx_flags, const struct net_addr *src,
                     uint16_t src_port, ntp_ts_t rx, int64_t now_ms, uint8_t *out, size_t cap,
                     bool *control);

/* Whether src may send control (mode 6) queries under restrict flags `flags`: not
 * `noquery`, and this host itself unless a restrict line (or `restrict default`) covers
 * the address (DESIGN: control from localhost by default, others when configured). */
bool server_query_allowed(uint32_t flags, const struct net_addr *src);

/* Adds one more to counter i. */
static inline void server_count(struct server_ctx *s, unsigned i)
{
    uint64_t v = atomic_load_explicit(&s->cnt.v[i], memory_order_relaxed);
    atomic_store_explicit(&s->cnt.v[i], v + 1, memory_order_relaxed);
}

/* Sum of counter i over n contexts. */
uint64_t server_counter_sum(struct server_ctx *const *ctxs, unsigned n, unsigned i);

/* Name of counter i for reports ("ss_received", "mode3", "drop_ef-length", ...). */
const char *server_counter_name(unsigned i, char *buf, size_t size);

#endif
