/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rng_win: system randomness on Windows: CNG's system-preferred RNG (BCryptGenRandom).
 * The fast generator seeded from it is rng_fast.c's, as on Linux.
 */
#include "rng.h"

#include <errno.h>
#include <windows.h>
#include <bcrypt.h>

int rng_bytes(void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n > 0) {
        ULONG chunk = n > 0x10000000u ? 0x10000000u : (ULONG)n;
        if (!BCRYPT_SUCCESS(BCryptGenRandom(NULL, p, chunk, BCRYPT_USE_SYSTEM_PREFERRED_RNG))) {
            errno = EIO;
            return -1;
        }
        p += chunk;
        n -= chunk;
    }
    return 0;
}
