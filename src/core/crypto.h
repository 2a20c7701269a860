/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * crypto: the small seam through which the pure core reaches hash functions.
 * Implemented by src/crypto/crypto_openssl.c (Linux) and a CNG file on Windows.
 */
#ifndef STRATUM_CRYPTO_H
#define STRATUM_CRYPTO_H

#include <stddef.h>
#include <stdint.h>

/* MD5 of len bytes at data into out. Returns 0, or -1 when the backend failed. */
int crypto_md5(const void *data, size_t len, uint8_t out[16]);

#endif
