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
#include "core/ctl.h"
#include "daemon/server.h"
#include "daemon/snapshot.h"
#include "io/udp.h"

#define WORKER_BATCH 64
#define WORKER_MAX_FDS 32

struct worker;

/* A control (mode 6) datagram on its way to the engine, with what its reply needs: the
 * socket it came in on (the reply leaves from it), the sender, and the destination
 * address of the request (the reply's source). */
struct ctl_fwd {
    int fd;
    socklen_t fromlen;
    struct sockaddr_storage from;
    struct udp_rxinfo info;
    uint16_t len;
    uint8_t buf[CTL_MAX_DGRAM];
};

/* Where control datagrams go: the engine's handler (workers 0) or a queue to it. */
typedef void (*ctl_sink_fn)(void *arg, const struct ctl_fwd *f);

/* Creates a worker for fds (owned by the caller), not yet running. stop_fd becomes
 * readable (or hung up) when the worker must exit; ctl_fd is a datagram socket on which
 * it queues control requests for the engine (a full queue drops them, counted as send
 * errors). Returns NULL on failure. */
struct worker *worker_new(int id, const int *fds, unsigned nfds, int stop_fd, int ctl_fd,
                          struct clk *clk, const struct snapshot *snap, const struct acl *acl,
                          const struct rl_config *rl, uint32_t rl_entries, int8_t precision,
                          bool monitor);
int worker_start(struct worker *w);
/* Between worker_join and the next worker_start: the pipe end that stops it next time. */
void worker_set_stop_fd(struct worker *w, int stop_fd);
void worker_join(struct worker *w);
void worker_free(struct worker *w);
struct server_ctx *worker_ctx(struct worker *w);

/* The plain path: drains up to `budget` datagrams from fd, answering each; control
 * requests go to sink(sink_arg, ...). */
void serve_plain(int fd, struct server_ctx *ctx, struct clk *clk, const struct snapshot *snap,
                 unsigned budget, ctl_sink_fn sink, void *sink_arg);

#endif
