/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * admin: the local administration socket (Unix domain, stream) through which `stratum
 * ctl` changes the running daemon: reload the configuration, add or remove a source,
 * step now, write the drift file. The network never gets these powers: only a process
 * that can open the socket file (mode 0600, or 0660 for a configured group) can ask. One
 * request line per connection, one reply ("ok ..." or "error ...", then detail lines),
 * then the daemon closes it. A few connections at a time, each with a deadline, so a
 * client that connects and says nothing costs nothing. Owns the socket and the
 * connections; what a command does is the engine's (a callback).
 */
#ifndef STRATUM_ADMIN_H
#define STRATUM_ADMIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ADMIN_DEFAULT_PATH "/run/stratum/stratumd.sock"
#define ADMIN_MAX_CONN 8
#define ADMIN_LINE_MAX 1024
#define ADMIN_REPLY_MAX 65536

/* Carries out one request line; writes the reply (first line "ok ..." or "error ...")
 * into reply (cap octets, NUL-terminated). uid/pid: the peer, from SO_PEERCRED. */
typedef void (*admin_exec_fn)(void *arg, const char *line, uid_t uid, pid_t pid, char *reply,
                              size_t cap);

struct admin;

/* Creates the socket at path (its directory is created 0755 when missing): refuses to
 * replace a socket a live daemon answers on, removes a stale one. mode 0600, or 0660 with
 * the group gid (gid < 0: none). Returns NULL with a message in err. */
struct admin *admin_open(const char *path, long gid, admin_exec_fn exec, void *arg, char *err,
                         size_t errlen);

/* Removes the socket file and closes everything. */
void admin_close(struct admin *a);

/* The descriptors to poll (the listening socket and open connections) and the events
 * wanted; returns how many (at most ADMIN_MAX_CONN + 1). */
unsigned admin_pollfds(const struct admin *a, int *fds, short *events);

/* The earliest monotonic ms at which a connection times out, or -1. */
int64_t admin_deadline(const struct admin *a);

/* After poll: accepts, reads, answers and closes what is ready, and drops connections
 * past their deadline. now_ms: monotonic. */
void admin_service(struct admin *a, int64_t now_ms);

#endif
