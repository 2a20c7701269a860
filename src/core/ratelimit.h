/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ratelimit: per-source request rate limiting (ntp.conf `discard average A minimum M`)
 * in a table of fixed size. Sources are keyed by address (IPv4 /32, IPv6 /64), never by
 * port, through a keyed hash so that an attacker cannot aim at one bucket; a flood of
 * spoofed sources only evicts the least recently seen entries of a set, it cannot grow
 * the table. KoD replies are limited too: at most one per source per guard interval.
 * The same table is the client list (ntpq's mrulist): every datagram it records leaves
 * the source's first and last time, count, port, mode and version. The thread that owns
 * a table writes it without locks; any thread can read a consistent copy of one slot
 * (rl_read). Pure: the caller gives memory, the key and monotonic "now".
 */
#ifndef STRATUM_RATELIMIT_H
#define STRATUM_RATELIMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "netaddr.h"

struct rl_config {
    int average_log2;           /* mean spacing 2^average_log2 s allowed over a burst (3) */
    int minimum_s;              /* least spacing between two requests, seconds (2) */
    unsigned burst;             /* requests allowed back to back before limiting (8) */
};

#define RL_DEFAULT_AVERAGE_LOG2 3
#define RL_DEFAULT_MINIMUM_S 2
#define RL_DEFAULT_BURST 8

enum rl_verdict {
    RL_PASS = 0,                /* answer normally */
    RL_LIMITED_KOD,             /* over the limit; a RATE KoD may be sent now */
    RL_LIMITED_DROP,            /* over the limit; drop silently (KoD sent recently) */
};

struct rl_table;

/* Bytes needed for a table of `entries` slots (rounded up to a power of two, at least
 * 64). */
size_t rl_size(uint32_t entries);

/* Initialises a table in mem (rl_size(entries) bytes, any alignment of max_align_t).
 * key is 16 random octets for the keyed hash. Returns the table (== mem). */
struct rl_table *rl_init(void *mem, uint32_t entries, const struct rl_config *cfg,
                         const uint8_t key[16]);

/* New limits for a table in use (a reload): its sources and their state stay. Only while
 * no other thread uses the table. */
void rl_reconfig(struct rl_table *t, const struct rl_config *cfg);

/* One datagram as the table records it. */
struct rl_datagram {
    const struct net_addr *src;
    uint16_t port;
    uint8_t mode_version; /* version << 3 | mode */
    uint16_t flags;       /* restrict flags that applied (for the client list) */
    bool limit;           /* judge it by the rate limit (a request under `limited`) */
    bool kod;             /* a KoD verdict will be sent (counted per source) */
};

/* Records a datagram from dg->src at monotonic time now_ms in the client list and, when
 * dg->limit, judges it by the rules above (RL_PASS otherwise). */
enum rl_verdict rl_account(struct rl_table *t, const struct rl_datagram *dg, int64_t now_ms);

/* rl_account of a request under the limit, with nothing else recorded. */
enum rl_verdict rl_check(struct rl_table *t, const struct net_addr *src, int64_t now_ms);

/* Slots in use (for statistics and tests). */
uint32_t rl_used(const struct rl_table *t);
/* Total slots. */
uint32_t rl_capacity(const struct rl_table *t);
/* Bytes one slot takes. */
#define RL_SLOT_BYTES 80

/* One source of the client list. */
struct rl_client {
    struct net_addr addr; /* IPv4, or the latest IPv6 address of the /64 */
    uint16_t port;        /* of the latest datagram */
    int64_t first_ms, last_ms; /* monotonic */
    uint32_t count;       /* datagrams */
    uint32_t limited;     /* of them over the rate limit */
    uint16_t kods;        /* KoDs sent */
    uint8_t mode_version;
    uint16_t flags;
};

/* A consistent copy of slot i (0 .. rl_capacity - 1) from any thread, even while the
 * owner writes the table. Returns false for an empty slot, or one rewritten during every
 * try (skipped). */
bool rl_read(const struct rl_table *t, uint32_t i, struct rl_client *out);

#endif
