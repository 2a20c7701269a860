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

#include "siphash.h"

#include <assert.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <string.h>

#define RL_WAYS 8u /* ways per set: one LRU scan of 8 slots */
#define RL_MIN_ENTRIES 64u
#define RL_MAX_ENTRIES (1u << 24) /* 1.25 GiB of slots; larger requests are clamped */
#define RL_MAX_AVERAGE_LOG2 24    /* 2^24 s, half a year: keeps cap far below 2^63 ms */
#define RL_MAX_MINIMUM_S (1 << 24)
#define RL_MAX_BURST 65535u /* fits the 16-bit allowance */

/* One source, unpacked: a private copy of what a slot holds. */
struct rl_entry {
    uint64_t key;        /* IPv4 address or IPv6 /64 prefix, as a big-endian number */
    int64_t last_ms;     /* latest request seen; never moves backwards */
    int64_t kod_ms;      /* latest KoD verdict */
    int64_t credit_ms;   /* 0..cap_ms */
    int64_t first_ms;    /* when the source was first seen (since it last got a slot) */
    uint64_t iid;        /* IPv6: the low 64 bits of the latest address */
    uint32_t count;      /* datagrams recorded, saturating */
    uint32_t limited;    /* of them over the rate limit, saturating */
    uint16_t burst_left; /* short-gap passes left since the bucket was last full */
    uint16_t port;       /* of the latest datagram */
    uint16_t flags;      /* restrict flags that applied to it (low 16 bits) */
    uint16_t kods;       /* KoD verdicts, saturating */
    uint8_t family;      /* enum net_family; NET_NONE marks an empty slot */
    uint8_t kod_sent;    /* kod_ms is valid (any int64 is a possible monotonic time) */
    uint8_t mode_version; /* of the latest datagram: version << 3 | mode */
};

/* A slot is RL_WORDS 64-bit words, each read and written with relaxed atomics, and a
 * sequence number that is odd while its owner writes (a seqlock per slot): the thread
 * that owns a table writes it without a lock, and another thread can still take a
 * consistent copy of any slot for the client list (rl_read). */
#define RL_WORDS 9
struct rl_slot {
    _Atomic uint64_t seq;
    _Atomic uint64_t w[RL_WORDS];
};

_Static_assert(sizeof(struct rl_slot) == 80, "rl_slot layout: 80 bytes per slot");

/* w[8]: family | kod_sent << 8 | mode_version << 16 | flags << 32 | kods << 48 */
#define W_MISC 8

static uint64_t wload(const struct rl_slot *s, unsigned i)
{
    return atomic_load_explicit(&s->w[i], memory_order_relaxed);
}

static void wstore(struct rl_slot *s, unsigned i, uint64_t v)
{
    atomic_store_explicit(&s->w[i], v, memory_order_relaxed);
}

static uint8_t slot_family(const struct rl_slot *s)
{
    return (uint8_t)wload(s, W_MISC);
}

static void unpack(const uint64_t w[RL_WORDS], struct rl_entry *e)
{
    e->key = w[0];
    e->last_ms = (int64_t)w[1];
    e->kod_ms = (int64_t)w[2];
    e->credit_ms = (int64_t)w[3];
    e->first_ms = (int64_t)w[4];
    e->iid = w[5];
    e->count = (uint32_t)w[6];
    e->limited = (uint32_t)(w[6] >> 32);
    e->burst_left = (uint16_t)w[7];
    e->port = (uint16_t)(w[7] >> 16);
    e->family = (uint8_t)w[8];
    e->kod_sent = (uint8_t)(w[8] >> 8);
    e->mode_version = (uint8_t)(w[8] >> 16);
    e->flags = (uint16_t)(w[8] >> 32);
    e->kods = (uint16_t)(w[8] >> 48);
}

/* The owner's own read: nobody else writes the slot. */
static void slot_get(const struct rl_slot *s, struct rl_entry *e)
{
    uint64_t w[RL_WORDS];
    for (unsigned i = 0; i < RL_WORDS; i++) {
        w[i] = wload(s, i);
    }
    unpack(w, e);
}

static void slot_put(struct rl_slot *s, const struct rl_entry *e)
{
    uint64_t seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
    atomic_store_explicit(&s->seq, seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    wstore(s, 0, e->key);
    wstore(s, 1, (uint64_t)e->last_ms);
    wstore(s, 2, (uint64_t)e->kod_ms);
    wstore(s, 3, (uint64_t)e->credit_ms);
    wstore(s, 4, (uint64_t)e->first_ms);
    wstore(s, 5, e->iid);
    wstore(s, 6, (uint64_t)e->count | (uint64_t)e->limited << 32);
    wstore(s, 7, (uint64_t)e->burst_left | (uint64_t)e->port << 16);
    wstore(s, W_MISC, (uint64_t)e->family | (uint64_t)e->kod_sent << 8 |
                          (uint64_t)e->mode_version << 16 | (uint64_t)e->flags << 32 |
                          (uint64_t)e->kods << 48);
    atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
}

struct rl_table {
    uint64_t k0, k1; /* SipHash key */
    int64_t cost_ms; /* credit one passing request takes, 2^average_log2 s */
    int64_t cap_ms;  /* burst * cost_ms */
    int64_t minimum_ms;
    uint32_t burst;
    uint32_t n_entries; /* power of two, multiple of RL_WAYS */
    uint32_t n_sets;    /* n_entries / RL_WAYS */
    uint32_t used;
    struct rl_slot slots[];
};

/* The table holds exactly the entries asked for, rounded up to whole sets: a set is
 * chosen by a multiply-shift of the hash, not a mask, so no power of two is needed (a
 * table for 100,000 sources takes 100,000 slots, not 131,072). */
static uint32_t round_entries(uint32_t entries)
{
    if (entries < RL_MIN_ENTRIES) {
        return RL_MIN_ENTRIES;
    }
    if (entries > RL_MAX_ENTRIES) {
        return RL_MAX_ENTRIES;
    }
    return (entries + RL_WAYS - 1) / RL_WAYS * RL_WAYS;
}

size_t rl_size(uint32_t entries)
{
    return sizeof(struct rl_table) + (size_t)round_entries(entries) * sizeof(struct rl_slot);
}

static int64_t clamp_i64(int64_t v, int64_t lo, int64_t hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

static void set_limits(struct rl_table *t, const struct rl_config *cfg)
{
    int average_log2 = cfg != NULL ? cfg->average_log2 : RL_DEFAULT_AVERAGE_LOG2;
    int minimum_s = cfg != NULL ? cfg->minimum_s : RL_DEFAULT_MINIMUM_S;
    unsigned burst = cfg != NULL ? cfg->burst : RL_DEFAULT_BURST;
    /* Out-of-range settings are clamped, not refused: the config parser owns the error
     * message, and this keeps every product below well inside int64. */
    t->cost_ms = (int64_t)1000 << clamp_i64(average_log2, 0, RL_MAX_AVERAGE_LOG2);
    t->minimum_ms = 1000 * clamp_i64(minimum_s, 0, RL_MAX_MINIMUM_S);
    t->burst = (uint32_t)clamp_i64(burst, 1, RL_MAX_BURST);
    t->cap_ms = t->cost_ms * t->burst;
}

void rl_reconfig(struct rl_table *t, const struct rl_config *cfg)
{
    set_limits(t, cfg);
}

struct rl_table *rl_init(void *mem, uint32_t entries, const struct rl_config *cfg,
                         const uint8_t key[16])
{
    struct rl_table *t = mem;
    uint32_t n = round_entries(entries);

    assert(mem != NULL && key != NULL);
    memset(t, 0, sizeof *t);
    /* Only the empty marker needs clearing (an insert sets every field). Writing it only
     * where it is set leaves untouched pages of calloc'd memory unbacked until sources
     * arrive, so a large table costs an idle daemon no RSS. */
    for (uint32_t i = 0; i < n; i++) {
        if (atomic_load_explicit(&t->slots[i].w[W_MISC], memory_order_relaxed) != 0) {
            atomic_store_explicit(&t->slots[i].w[W_MISC], 0, memory_order_relaxed);
        }
        if (atomic_load_explicit(&t->slots[i].seq, memory_order_relaxed) != 0) {
            atomic_store_explicit(&t->slots[i].seq, 0, memory_order_relaxed);
        }
    }
    t->k0 = siphash_load_le64(key);
    t->k1 = siphash_load_le64(key + 8);
    set_limits(t, cfg);
    t->n_entries = n;
    t->n_sets = n / RL_WAYS;
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
    uint64_t h = siphash24(t->k0, t->k1, msg, sizeof msg);
    /* The top 32 bits scaled to [0, n_sets): uniform for any number of sets. */
    return (uint32_t)(((h >> 32) * t->n_sets) >> 32);
}

static struct rl_slot *find_or_evict(struct rl_table *t, uint8_t family, uint64_t key, bool *found)
{
    struct rl_slot *set = &t->slots[(size_t)set_index(t, family, key) * RL_WAYS];
    struct rl_slot *victim = NULL;
    int64_t victim_last = 0;
    uint8_t victim_family = NET_NONE;

    for (unsigned w = 0; w < RL_WAYS; w++) {
        struct rl_slot *e = &set[w];
        uint8_t fam = slot_family(e);
        int64_t last = (int64_t)wload(e, 1);

        if (fam == family && fam != NET_NONE && wload(e, 0) == key) {
            *found = true;
            return e;
        }
        /* An empty way beats any used one; among used ways the least recently seen. */
        if (victim == NULL ||
            (victim_family != NET_NONE && (fam == NET_NONE || last < victim_last))) {
            victim = e;
            victim_last = last;
            victim_family = fam;
        }
    }
    *found = false;
    return victim;
}

static uint64_t low64(const struct net_addr *a)
{
    uint64_t v = 0;
    for (unsigned i = 8; i < 16; i++) {
        v = v << 8 | a->bytes[i];
    }
    return v;
}

enum rl_verdict rl_account(struct rl_table *t, const struct rl_datagram *dg, int64_t now_ms)
{
    uint64_t key;
    bool found;
    bool short_gap = false;
    struct rl_entry e;
    enum rl_verdict v = RL_PASS;

    if (!source_key(dg->src, &key)) {
        return RL_LIMITED_DROP; /* the I/O layer gives only IPv4/IPv6; refuse the rest */
    }
    struct rl_slot *slot = find_or_evict(t, dg->src->family, key, &found);
    if (!found) {
        if (slot_family(slot) == NET_NONE) {
            t->used++;
        }
        memset(&e, 0, sizeof(e));
        e.key = key;
        e.family = dg->src->family;
        e.last_ms = now_ms;
        e.first_ms = now_ms;
        e.credit_ms = t->cap_ms;
    } else {
        slot_get(slot, &e);
        int64_t gap = elapsed_ms(e.last_ms, now_ms);

        short_gap = gap < t->minimum_ms;
        /* Written so that credit + gap cannot overflow. */
        e.credit_ms = gap >= t->cap_ms - e.credit_ms ? t->cap_ms : e.credit_ms + gap;
        if (now_ms > e.last_ms) {
            e.last_ms = now_ms;
        }
    }
    e.port = dg->port;
    e.mode_version = dg->mode_version;
    e.flags = dg->flags;
    e.iid = dg->src->family == NET_IPV6 ? low64(dg->src) : 0;
    if (e.count < UINT32_MAX) {
        e.count++;
    }
    if (e.credit_ms == t->cap_ms) {
        e.burst_left = (uint16_t)t->burst;
    }
    if (dg->limit) {
        if (e.credit_ms >= t->cost_ms && (!short_gap || e.burst_left > 0)) {
            e.credit_ms -= t->cost_ms;
            if (e.burst_left > 0) {
                e.burst_left--;
            }
        } else if (!e.kod_sent || elapsed_ms(e.kod_ms, now_ms) >= t->cost_ms) {
            /* A KoD is a reply too: unpaced, a spoofed flood would turn us into its
             * reflector. */
            e.kod_ms = now_ms;
            e.kod_sent = 1;
            v = RL_LIMITED_KOD;
        } else {
            v = RL_LIMITED_DROP;
        }
    }
    if (v != RL_PASS && e.limited < UINT32_MAX) {
        e.limited++;
    }
    if (v == RL_LIMITED_KOD && dg->kod && e.kods < UINT16_MAX) {
        e.kods++;
    }
    slot_put(slot, &e);
    return v;
}

enum rl_verdict rl_check(struct rl_table *t, const struct net_addr *src, int64_t now_ms)
{
    struct rl_datagram dg = {.src = src, .limit = true, .kod = true};
    return rl_account(t, &dg, now_ms);
}

uint32_t rl_used(const struct rl_table *t)
{
    return t->used;
}

uint32_t rl_capacity(const struct rl_table *t)
{
    return t->n_entries;
}

bool rl_read(const struct rl_table *t, uint32_t i, struct rl_client *out)
{
    if (i >= t->n_entries) {
        return false;
    }
    const struct rl_slot *s = &t->slots[i];
    uint64_t w[RL_WORDS];
    /* A slot being rewritten gets a few tries; a writer that keeps winning means the
     * source is busy, and it is skipped this time rather than waited for. */
    for (int tries = 0; tries < 16; tries++) {
        uint64_t a = atomic_load_explicit(&s->seq, memory_order_acquire);
        if ((a & 1u) != 0) {
            continue;
        }
        for (unsigned k = 0; k < RL_WORDS; k++) {
            w[k] = wload(s, k);
        }
        atomic_thread_fence(memory_order_acquire);
        if (atomic_load_explicit(&s->seq, memory_order_relaxed) != a) {
            continue;
        }
        struct rl_entry e;
        unpack(w, &e);
        if (e.family != NET_IPV4 && e.family != NET_IPV6) {
            return false;
        }
        memset(out, 0, sizeof(*out));
        out->addr.family = e.family;
        unsigned n = e.family == NET_IPV4 ? 4 : 8;
        for (unsigned b = 0; b < n; b++) {
            out->addr.bytes[b] = (uint8_t)(e.key >> (8 * (n - 1 - b)));
        }
        if (e.family == NET_IPV6) {
            for (unsigned b = 0; b < 8; b++) {
                out->addr.bytes[8 + b] = (uint8_t)(e.iid >> (8 * (7 - b)));
            }
        }
        out->port = e.port;
        out->first_ms = e.first_ms;
        out->last_ms = e.last_ms;
        out->count = e.count;
        out->limited = e.limited;
        out->kods = e.kods;
        out->mode_version = e.mode_version;
        out->flags = e.flags;
        return true;
    }
    return false;
}
