/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * snapshot: the system state the engine publishes for the server workers, as a seqlock:
 * one writer (the engine), any number of readers that never block the writer and never
 * take a lock; a reader retries in the rare case it overlapped a write.
 */
#ifndef STRATUM_SNAPSHOT_H
#define STRATUM_SNAPSHOT_H

#include <stdatomic.h>

#include "core/srv.h"

struct snapshot {
    _Atomic unsigned seq;
    struct srv_sys sys;
};

void snapshot_init(struct snapshot *s, const struct srv_sys *initial);
/* Engine thread only. */
void snapshot_publish(struct snapshot *s, const struct srv_sys *sys);
/* Any thread. */
void snapshot_read(const struct snapshot *s, struct srv_sys *out);

#endif
