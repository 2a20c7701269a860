/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * http: the HTTP listener (`http ADDRESS:PORT`): GET /metrics (Prometheus text) and
 * GET /status.json, served by libmicrohttpd in a thread of its own from the status the
 * engine publishes (statusbox); it reads that copy only and changes nothing. The
 * socket is bound early (before privileges are dropped and before daemonising), the
 * thread started later (after the fork). Rendering belongs to metrics.c.
 */
#ifndef STRATUM_HTTP_H
#define STRATUM_HTTP_H

#include <stddef.h>
#include <stdint.h>

#include "core/netaddr.h"
#include "daemon/statusbox.h"

/* At most this many connections at once, and seconds a connection may stay idle. */
#define HTTP_MAX_CONNECTIONS 16
#define HTTP_MAX_PER_ADDRESS 8
#define HTTP_TIMEOUT_S 10

struct http;

/* Binds and listens on exactly addr:port (TCP; 0.0.0.0 or :: for every address of that
 * family, an IPv6 socket being IPv6-only). Returns the listener, not yet serving, or
 * NULL with "http ADDR port N: ..." in err. */
struct http *http_open(const struct net_addr *addr, uint16_t port, char *err, size_t errlen);

/* Starts serving from box (which must outlive http_free) in a thread of its own and
 * logs "IO: http listening on ADDR port N". Returns 0, or -1 after logging why. */
int http_start(struct http *h, struct status_box *box);

/* Stops the thread (waiting for it), closes the socket and frees h. NULL is ignored. */
void http_free(struct http *h);

#endif
