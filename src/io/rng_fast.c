/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rng_fast: the fast per-thread generator of rng.h (xoshiro256**, from the published
 * description by Blackman and Vigna), seeded from the system's rng_bytes (rng.c on
 * Linux, rng_win.c on Windows).
 */
#include "rng.h"

int rng_fast_seed(struct rng_fast *r)
{
    do {
        if (rng_bytes(r->s, sizeof(r->s)) != 0) {
            return -1;
        }
    } while ((r->s[0] | r->s[1] | r->s[2] | r->s[3]) == 0);
    return 0;
}

static inline uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t rng_fast_u64(struct rng_fast *r)
{
    uint64_t *s = r->s;
    uint64_t result = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}
