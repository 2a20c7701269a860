/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * statusbox: one mutex, one copy.
 */
#include "statusbox.h"

#include <string.h>

void status_box_init(struct status_box *b)
{
    memset(b, 0, sizeof(*b));
    pthread_mutex_init(&b->mu, NULL);
}

void status_box_destroy(struct status_box *b)
{
    pthread_mutex_destroy(&b->mu);
}

void status_box_put(struct status_box *b, const struct status *st)
{
    pthread_mutex_lock(&b->mu);
    memcpy(&b->st, st, sizeof(*st));
    b->valid = true;
    b->version++;
    pthread_mutex_unlock(&b->mu);
}

bool status_box_get(struct status_box *b, struct status *out)
{
    pthread_mutex_lock(&b->mu);
    bool ok = b->valid;
    if (ok) {
        memcpy(out, &b->st, sizeof(*out));
    }
    pthread_mutex_unlock(&b->mu);
    return ok;
}
