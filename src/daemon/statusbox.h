/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * statusbox: the daemon's status (struct status) published by the engine for readers on
 * other threads (the HTTP listener): the engine puts a fresh copy about once a second,
 * a reader takes a whole copy. A mutex guards the copy; neither side holds it for more
 * than one memcpy, and the serving workers never touch it.
 */
#ifndef STRATUM_STATUSBOX_H
#define STRATUM_STATUSBOX_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "daemon/status.h"

struct status_box {
    pthread_mutex_t mu;
    bool valid;
    uint64_t version; /* puts so far */
    struct status st;
};

void status_box_init(struct status_box *b);
void status_box_destroy(struct status_box *b);
/* Engine thread. */
void status_box_put(struct status_box *b, const struct status *st);
/* Any thread: copies the latest status into *out. Returns false before the first put. */
bool status_box_get(struct status_box *b, struct status *out);

#endif
