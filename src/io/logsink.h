/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * logsink: the platform seam under log.c's syslog output: one datagram socket connected
 * to the local syslog daemon (POSIX: AF_UNIX SOCK_DGRAM, /dev/log; logsink_posix.c). It
 * moves bytes only; log.c formats the messages and decides what to do on failure.
 * Thread-safe (one lock around the socket).
 */
#ifndef STRATUM_LOGSINK_H
#define STRATUM_LOGSINK_H

#include <stddef.h>

/* Connects to the syslog socket at path, replacing any earlier one. Returns 0, or -1 with
 * errno (nothing changes then). */
int logsink_open(const char *path);

/* Sends one datagram without blocking. When the syslog daemon has gone away (its socket
 * re-created by a restart) it reconnects, at most once a second, and sends again. Returns
 * 0, or -1 with errno (EAGAIN: its queue is full). */
int logsink_send(const void *buf, size_t len);

void logsink_close(void);

#endif
