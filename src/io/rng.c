/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rng: kernel randomness on Linux (getrandom). The fast generator seeded from it is
 * rng_fast.c's; Windows has rng_win.c.
 */
#include "rng.h"

#include <errno.h>
#include <sys/random.h>

int rng_bytes(void *buf, size_t n)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t r = getrandom(p, n, 0);
        if (r < 0) {
            if (errno == EINTR) {
                continue;
            }
            return -1;
        }
        p += r;
        n -= (size_t)r;
    }
    return 0;
}
