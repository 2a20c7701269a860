/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * resolver: name resolution off the engine thread (DESIGN: a helper thread, only when
 * names are configured). The engine queues requests; the thread answers through a pipe
 * the engine polls, so a slow DNS never delays serving or the clock discipline.
 */
#ifndef STRATUM_RESOLVER_H
#define STRATUM_RESOLVER_H

#include <stdint.h>
#include <sys/socket.h>

#define RESOLVER_MAX_ADDRS 16

struct resolver_result {
    int tag;                    /* the request's */
    int error;                  /* 0, or a getaddrinfo code */
    char message[160];          /* why, when error */
    unsigned n;
    struct sockaddr_storage addr[RESOLVER_MAX_ADDRS];
    socklen_t len[RESOLVER_MAX_ADDRS];
};

struct resolver;

/* Starts the thread. Returns NULL on failure. */
struct resolver *resolver_start(void);

/* The fd to poll for results (readable when one is waiting). */
int resolver_fd(const struct resolver *r);

/* Queues a lookup of host (UDP, both families) for port. Returns 0, or -1 when the queue
 * is full (the caller retries later). */
int resolver_request(struct resolver *r, int tag, const char *host, uint16_t port);

/* A finished lookup, or 0 when none is waiting. Non-blocking. */
int resolver_take(struct resolver *r, struct resolver_result *out);

/* Stops the thread (an in-flight lookup is waited for) and frees everything. */
void resolver_stop(struct resolver *r);

#endif
