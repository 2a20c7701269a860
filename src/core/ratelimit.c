/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ratelimit: per-source request limiting in a fixed, set-associative table placed in the
 * caller's memory. Owns the keyed hash (SipHash-2-4), slot placement, eviction and the
 * credit arithmetic; it does not own the KoD packet, the ACL `limited`/`kod` decision or
 * the clock (the caller passes monotonic "now" in ms).
 *
 * Rules, per source (IPv4 address, or IPv6 /64), with cost = 2^average_log2 s in ms,
 * cap = burst * cost, min = minimum_s in ms:
 *  1. credit grows by the time elapsed since the source's previous request (any verdict),
 *     up to cap; a new source starts at cap. A clock that steps back counts as 0 elapsed.
 *  2. Whenever credit is at cap (the source has rested), its short-gap allowance is reset
 *     to burst.
 *  3. A request passes when credit >= cost and either it came at least min after the
 *     previous request (a new source counts as such) or the allowance is not used up.
 *     A pass takes cost from credit and 1 from the allowance.
 *  4. Otherwise the request is limited: it takes no credit and gives none (credit grows
 *     with time only), so flooding neither earns nor resets anything; it only moves the
 *     time of last sight (and the KoD time, rule 5).
 *  5. A limited request is RL_LIMITED_KOD if no KoD verdict was given to the source in
 *     the last cost ms, else RL_LIMITED_DROP.
 * Consequences: `burst` back-to-back requests pass, then at most one per cost on
 * average (credit is a token bucket filled by time only); requests closer than min pass
 * only among the first `burst` since the source last had a full bucket.
 *
 * Eviction: a miss takes an empty way of the source's set, else the way seen least
 * recently. The table never grows, and eviction only forgets: an evicted source comes
 * back as new, with full credit (fails open, never wrongly limits). A source sending
 * every T ms keeps its entry while fewer than RL_WAYS other sources hashed to its set
 * arrive within T, i.e. roughly while (new sources per ms) * T < capacity.
 */
#include "ratelimit.h"

#include <assert.h>
#include <stdbool.h>
#include <string.h>

#define RL_WAYS 8u /* ways per set: one LRU scan of 8 * 40 bytes */
#define RL_MIN_ENTRIES 64u
#define RL_MAX_ENTRIES (1u << 24) /* 640 MiB of slots; larger requests are clamped */
#define RL_MAX_AVERAGE_LOG2 24    /* 2^24 s, half a year: keeps cap far below 2^63 ms */
#define RL_MAX_MINIMUM_S (1 << 24)
#define RL_MAX_BURST 65535u /* fits the 16-bit allowance */

struct rl_entry {
    uint64_t key;        /* IPv4 address or IPv6 /64 prefix, as a big-endian number */
    int64_t last_ms;     /* latest request seen; never moves backwards */
    int64_t kod_ms;      /* latest KoD verdict */
    int64_t credit_ms;   /* 0..cap_ms */
    uint16_t burst_left; /* short-gap passes left since the bucket was last full */
    uint8_t family;      /* enum net_family; NET_NONE marks an empty slot */
    uint8_t kod_sent;    /* kod_ms is valid (any int64 is a possible monotonic time) */
};

_Static_assert(sizeof(struct rl_entry) == 40, "rl_entry layout: 40 bytes per slot");

struct rl_table {
    uint64_t k0, k1; /* SipHash key */
    int64_t cost_ms; /* credit one passing request takes, 2^average_log2 s */
    int64_t cap_ms;  /* burst * cost_ms */
    int64_t minimum_ms;
    uint32_t burst;
    uint32_t n_entries; /* power of two, multiple of RL_WAYS */
    uint32_t set_mask;  /* n_entries / RL_WAYS - 1 */
    uint32_t used;
    struct rl_entry slots[];
};

static uint32_t round_entries(uint32_t entries)
{
    uint32_t n = RL_MIN_ENTRIES;

    while (n < entries && n < RL_MAX_ENTRIES) {
        n <<= 1;
    }
    return n;
}

size_t rl_size(uint32_t entries)
{
    return sizeof(struct rl_table) + (size_t)round_entries(entries) * sizeof(struct rl_entry);
}

static uint64_t load_le64(const uint8_t *p)
{
    uint64_t v = 0;

    for (int i = 7; i >= 0; i--) {
        v = v << 8 | p[i];
    }
    return v;
}

static uint64_t rotl64(uint64_t x, unsigned r)
{
    return x << r | x >> (64 - r);
}

#define SIPROUND(v0, v1, v2, v3)                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = rotl64(v1, 13);                                                                       \
        v1 ^= v0;                                                                                  \
        v0 = rotl64(v0, 32);                                                                       \
        v2 += v3;                                                                                  \
        v3 = rotl64(v3, 16);                                                                       \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = rotl64(v3, 21);                                                                       \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = rotl64(v1, 17);                                                                       \
        v1 ^= v2;                                                                                  \
        v2 = rotl64(v2, 32);                                                                       \
    } while (0)

/* SipHash-2-4 (Aumasson and Bernstein, 2012): little-endian 64-bit words, two rounds per
 * word, the length mod 256 in the top byte of the last word, four finishing rounds. */
static uint64_t siphash24(uint64_t k0, uint64_t k1, const uint8_t *msg, size_t len)
{
    uint64_t v0 = k0 ^ 0x736f6d6570736575ull;
    uint64_t v1 = k1 ^ 0x646f72616e646f6dull;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ull;
    uint64_t v3 = k1 ^ 0x7465646279746573ull;
    size_t whole = len - len % 8;
    uint64_t m;

    for (size_t i = 0; i < whole; i += 8) {
        m = load_le64(msg + i);
        v3 ^= m;
        SIPROUND(v0, v1, v2, v3);
        SIPROUND(v0, v1, v2, v3);
        v0 ^= m;
    }
    m = (uint64_t)(len & 0xff) << 56;
    for (size_t i = whole; i < len; i++) {
        m |= (uint64_t)msg[i] << (8 * (i - whole));
    }
    v3 ^= m;
    SIPROUND(v0, v1, v2, v3);
    SIPROUND(v0, v1, v2, v3);
    v0 ^= m;
    v2 ^= 0xff;
    for (int i = 0; i < 4; i++) {
        SIPROUND(v0, v1, v2, v3);
    }
    return v0 ^ v1 ^ v2 ^ v3;
}

static int64_t clamp_i64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

struct rl_table *rl_init(void *mem, uint32_t entries, const struct rl_config *cfg,
                         const uint8_t key[16])
{
    struct rl_table *t = mem;
    int average_log2 = cfg != NULL ? cfg->average_log2 : RL_DEFAULT_AVERAGE_LOG2;
    int minimum_s = cfg != NULL ? cfg->minimum_s : RL_DEFAULT_MINIMUM_S;
    unsigned burst = cfg != NULL ? cfg->burst : RL_DEFAULT_BURST;
    uint32_t n = round_entries(entries);

    assert(mem != NULL && key != NULL);
    memset(t, 0, sizeof *t);
    /* Only the empty marker needs clearing (an insert sets every field). Writing it only
     * where it is set leaves untouched pages of calloc'd memory unbacked until sources
     * arrive, so a large table costs an idle daemon no RSS. */
    for (uint32_t i = 0; i < n; i++) {
        if (t->slots[i].family != NET_NONE) {
            t->slots[i].family = NET_NONE;
        }
    }
    t->k0 = load_le64(key);
    t->k1 = load_le64(key + 8);
    /* Out-of-range settings are clamped, not refused: the config parser owns the error
     * message, and this keeps every product below well inside int64. */
    t->cost_ms = (int64_t)1000 << clamp_i64(average_log2, 0, RL_MAX_AVERAGE_LOG2);
    t->minimum_ms = 1000 * clamp_i64(minimum_s, 0, RL_MAX_MINIMUM_S);
    t->burst = (uint32_t)clamp_i64(burst, 1, RL_MAX_BURST);
    t->cap_ms = t->cost_ms * t->burst;
    t->n_entries = n;
    t->set_mask = n / RL_WAYS - 1;
    t->used = 0;
    return t;
}

/* Time from then to now in ms; 0 when now is not later (clock stepped back), saturated
 * at INT64_MAX; computed in uint64 so that no gap can overflow. */
static int64_t elapsed_ms(int64_t then, int64_t now)
{
    uint64_t d;

    if (now <= then) {
        return 0;
    }
    d = (uint64_t)now - (uint64_t)then;
    return d > (uint64_t)INT64_MAX ? INT64_MAX : (int64_t)d;
}

/* The part of the address that names a source: all of IPv4, the /64 of IPv6 (one
 * customer's network, RFC 6177), since a host can pick any interface ID it likes. */
static bool source_key(const struct net_addr *src, uint64_t *key)
{
    unsigned len;
    uint64_t k = 0;

    if (src == NULL) {
        return false;
    }
    if (src->family == NET_IPV4) {
        len = 4;
    } else if (src->family == NET_IPV6) {
        len = 8;
    } else {
        return false;
    }
    for (unsigned i = 0; i < len; i++) {
        k = k << 8 | src->bytes[i];
    }
    *key = k;
    return true;
}

/* The set a source lives in. The family is part of the hashed message because
 * 1.2.3.4 and 102:304::/64 have equal key bits but are different sources. */
static uint32_t set_index(const struct rl_table *t, uint8_t family, uint64_t key)
{
    uint8_t msg[9];

    msg[0] = family;
    for (unsigned i = 0; i < 8; i++) {
        msg[1 + i] = (uint8_t)(key >> (56 - 8 * i));
    }
    return (uint32_t)(siphash24(t->k0, t->k1, msg, sizeof msg) & t->set_mask);
}

static struct rl_entry *find_or_evict(struct rl_table *t, uint8_t family, uint64_t key, bool *found)
{
    struct rl_entry *set = &t->slots[(size_t)set_index(t, family, key) * RL_WAYS];
    struct rl_entry *victim = NULL;

    for (unsigned w = 0; w < RL_WAYS; w++) {
        struct rl_entry *e = &set[w];

        if (e->family == family && e->key == key) {
            *found = true;
            return e;
        }
        /* An empty way beats any used one; among used ways the least recently seen. */
        if (victim == NULL || (victim->family != NET_NONE &&
                               (e->family == NET_NONE || e->last_ms < victim->last_ms))) {
            victim = e;
        }
    }
    *found = false;
    return victim;
}

enum rl_verdict rl_check(struct rl_table *t, const struct net_addr *src, int64_t now_ms)
{
    uint64_t key;
    bool found;
    bool short_gap = false;
    struct rl_entry *e;

    if (!source_key(src, &key)) {
        return RL_LIMITED_DROP; /* the I/O layer gives only IPv4/IPv6; refuse the rest */
    }
    e = find_or_evict(t, src->family, key, &found);
    if (!found) {
        if (e->family == NET_NONE) {
            t->used++;
        }
        e->key = key;
        e->family = src->family;
        e->last_ms = now_ms;
        e->kod_ms = 0;
        e->kod_sent = 0;
        e->credit_ms = t->cap_ms;
    } else {
        int64_t gap = elapsed_ms(e->last_ms, now_ms);

        short_gap = gap < t->minimum_ms;
        /* Written so that credit + gap cannot overflow. */
        e->credit_ms = gap >= t->cap_ms - e->credit_ms ? t->cap_ms : e->credit_ms + gap;
        if (now_ms > e->last_ms) {
            e->last_ms = now_ms;
        }
    }
    if (e->credit_ms == t->cap_ms) {
        e->burst_left = (uint16_t)t->burst;
    }
    if (e->credit_ms >= t->cost_ms && (!short_gap || e->burst_left > 0)) {
        e->credit_ms -= t->cost_ms;
        if (e->burst_left > 0) {
            e->burst_left--;
        }
        return RL_PASS;
    }
    /* A KoD is a reply too: unpaced, a spoofed flood would turn us into its reflector. */
    if (!e->kod_sent || elapsed_ms(e->kod_ms, now_ms) >= t->cost_ms) {
        e->kod_ms = now_ms;
        e->kod_sent = 1;
        return RL_LIMITED_KOD;
    }
    return RL_LIMITED_DROP;
}

uint32_t rl_used(const struct rl_table *t)
{
    return t->used;
}

uint32_t rl_capacity(const struct rl_table *t)
{
    return t->n_entries;
}
