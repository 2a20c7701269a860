/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * worker: a server thread on its own SO_REUSEPORT sockets, answering requests in batches
 * (recvmmsg/sendmmsg) from the published snapshot. Also the plain path the engine uses
 * when `workers 0`: recvmsg/sendmsg one datagram at a time, nothing but POSIX calls.
 */
#ifndef STRATUM_WORKER_H
#define STRATUM_WORKER_H

#include <pthread.h>

#include "clock/clock.h"
#include "daemon/server.h"
#include "daemon/snapshot.h"

#define WORKER_BATCH 64
#define WORKER_MAX_FDS 32

struct worker;

/* Creates a worker for fds (owned by the caller), not yet running. stop_fd becomes
 * readable (or hung up) when the worker must exit. Returns NULL on failure. */
struct worker *worker_new(int id, const int *fds, unsigned nfds, int stop_fd, struct clk *clk,
                          const struct snapshot *snap, const struct acl *acl,
                          const struct rl_config *rl, uint32_t rl_entries, int8_t precision);
int worker_start(struct worker *w);
void worker_join(struct worker *w);
void worker_free(struct worker *w);
struct server_ctx *worker_ctx(struct worker *w);

/* The plain path: drains up to `budget` datagrams from fd, answering each. */
void serve_plain(int fd, struct server_ctx *ctx, struct clk *clk, const struct snapshot *snap,
                 unsigned budget);

#endif
