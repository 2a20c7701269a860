/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * siphash: SipHash-2-4 (Aumasson and Bernstein, 2012), a keyed 64-bit hash for tables a
 * remote party must not be able to aim at, and for short authenticators (nonces). Pure.
 */
#ifndef STRATUM_SIPHASH_H
#define STRATUM_SIPHASH_H

#include <stddef.h>
#include <stdint.h>

/* The hash of len octets at msg under the key (k0, k1). */
uint64_t siphash24(uint64_t k0, uint64_t k1, const uint8_t *msg, size_t len);

/* A little-endian 64-bit word at p (how a 16-octet key becomes k0, k1). */
uint64_t siphash_load_le64(const uint8_t *p);

#endif
