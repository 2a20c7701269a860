/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ratelimit: per-source request rate limiting (ntp.conf `discard average A minimum M`)
 * in a table of fixed size. Sources are keyed by address (IPv4 /32, IPv6 /64), never by
 * port, through a keyed hash so that an attacker cannot aim at one bucket; a flood of
 * spoofed sources only evicts the least recently seen entries of a set, it cannot grow
 * the table. KoD replies are limited too: at most one per source per guard interval.
 * Pure: the caller gives memory, the key and monotonic "now".
 */
#ifndef STRATUM_RATELIMIT_H
#define STRATUM_RATELIMIT_H

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

/* Accounts one request from src at monotonic time now_ms and judges it. */
enum rl_verdict rl_check(struct rl_table *t, const struct net_addr *src, int64_t now_ms);

/* Slots in use (for statistics and tests). */
uint32_t rl_used(const struct rl_table *t);
/* Total slots. */
uint32_t rl_capacity(const struct rl_table *t);

#endif
