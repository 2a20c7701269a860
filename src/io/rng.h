/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rng: randomness for the daemon. rng_bytes reads the kernel's CSPRNG (keys, nonces,
 * origin timestamps); struct rng_fast is a per-thread xoshiro256** generator seeded from
 * it, for the bits below precision in served timestamps (unpredictable, not secret).
 */
#ifndef STRATUM_RNG_H
#define STRATUM_RNG_H

#include <stddef.h>
#include <stdint.h>

/* Fills buf with n random octets. Returns 0 or -1 (errno). */
int rng_bytes(void *buf, size_t n);

struct rng_fast {
    uint64_t s[4];
};

/* Seeds from rng_bytes. Returns 0 or -1. */
int rng_fast_seed(struct rng_fast *r);
uint64_t rng_fast_u64(struct rng_fast *r);

#endif
