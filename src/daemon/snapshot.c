/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * snapshot: seqlock publication of struct srv_sys. The data is copied with relaxed
 * atomic byte-wise access bracketed by fences, which is the C11-clean form of a seqlock.
 */
#include "snapshot.h"

#include <string.h>

static void copy_in(struct srv_sys *dst, const struct srv_sys *src)
{
    _Atomic unsigned char *d = (_Atomic unsigned char *)(void *)dst;
    const unsigned char *s = (const unsigned char *)src;
    for (size_t i = 0; i < sizeof(*dst); i++) {
        atomic_store_explicit(&d[i], s[i], memory_order_relaxed);
    }
}

static void copy_out(struct srv_sys *dst, const struct srv_sys *src)
{
    const _Atomic unsigned char *s = (const _Atomic unsigned char *)(const void *)src;
    unsigned char *d = (unsigned char *)dst;
    for (size_t i = 0; i < sizeof(*dst); i++) {
        d[i] = atomic_load_explicit(&s[i], memory_order_relaxed);
    }
}

void snapshot_init(struct snapshot *s, const struct srv_sys *initial)
{
    atomic_init(&s->seq, 0);
    memcpy(&s->sys, initial, sizeof(*initial));
}

void snapshot_publish(struct snapshot *s, const struct srv_sys *sys)
{
    unsigned seq = atomic_load_explicit(&s->seq, memory_order_relaxed);
    atomic_store_explicit(&s->seq, seq + 1, memory_order_relaxed);
    atomic_thread_fence(memory_order_release);
    copy_in(&s->sys, sys);
    atomic_store_explicit(&s->seq, seq + 2, memory_order_release);
}

void snapshot_read(const struct snapshot *s, struct srv_sys *out)
{
    for (;;) {
        unsigned a = atomic_load_explicit(&s->seq, memory_order_acquire);
        if ((a & 1u) != 0) {
            continue;
        }
        copy_out(out, &s->sys);
        atomic_thread_fence(memory_order_acquire);
        unsigned b = atomic_load_explicit(&s->seq, memory_order_relaxed);
        if (a == b) {
            return;
        }
    }
}
