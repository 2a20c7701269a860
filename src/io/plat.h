/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * plat: the platform seam of the `stratum` tool: UDP client sockets, readiness polling,
 * a monotonic clock and error text, implemented by plat_posix.c (Linux) and plat_win.c
 * (Winsock). Shared code never includes OS socket headers beyond what this one does.
 */
#ifndef STRATUM_PLAT_H
#define STRATUM_PLAT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#ifdef _WIN32
#include <winsock2.h>
#include <ws2tcpip.h>
typedef SOCKET plat_sock;
#define PLAT_NO_SOCK INVALID_SOCKET
#else
#include <netdb.h>
#include <sys/socket.h>
typedef int plat_sock;
#define PLAT_NO_SOCK (-1)
#endif

/* Once per process (Winsock start-up on Windows). Returns 0 or -1. */
int plat_init(void);
void plat_cleanup(void);

/* A non-blocking UDP socket connected to addr, on a random ephemeral port chosen by the
 * system (RFC 9109). Returns PLAT_NO_SOCK with a message in err. */
plat_sock plat_udp_client(const struct sockaddr *addr, socklen_t len, char *err, size_t errlen);

/* Sends len octets. Returns 0 or -1 (plat_error_text tells why). */
int plat_send(plat_sock s, const void *buf, size_t len);

enum plat_recv_status { PLAT_RECV_OK = 0, PLAT_RECV_AGAIN, PLAT_RECV_REFUSED, PLAT_RECV_ERROR };

/* Receives one datagram. *len gets its length, *truncated whether it was cut to cap.
 * When the system time-stamped it, *have_ts is true and *ts holds the kernel's realtime
 * stamp. */
enum plat_recv_status plat_recv(plat_sock s, void *buf, size_t cap, size_t *len,
                                bool *truncated, bool *have_ts, struct timespec *ts);

/* Waits up to timeout_ms for any of n sockets to become readable; ready[i] tells which.
 * Returns the number ready, 0 on timeout, -1 on error. */
int plat_poll(const plat_sock *socks, size_t n, int timeout_ms, bool *ready);

void plat_close(plat_sock s);

/* Monotonic nanoseconds. */
int64_t plat_mono_ns(void);

/* Text of the last socket error (errno / WSAGetLastError). */
const char *plat_error_text(void);

/* True when the last socket error means "not permitted" (EPERM/EACCES). */
bool plat_error_is_permission(void);

/* Broken-down UTC and local time (honouring TZ and the system's zone). Return 0 or -1. */
int plat_gmtime(int64_t t, struct tm *out);
int plat_localtime(int64_t t, struct tm *out);

/* strftime, except that %z is the UTC offset (+hhmm) and %Z the zone's name on every
 * platform (the Windows CRT prints the zone's name for both), and that s holds a
 * NUL-terminated string even when the result did not fit (then "" and 0 is returned).
 * %z and %Z need a tm from plat_localtime. */
size_t plat_strftime(char *s, size_t max, const char *fmt, const struct tm *tm)
#if defined(__GNUC__)
    __attribute__((format(strftime, 3, 0)))
#endif
    ;

/* Whether stdout is a terminal. */
bool plat_stdout_is_tty(void);

/* Clears the terminal on stdout and puts the cursor home (`--watch`). Returns false, and
 * writes nothing, when stdout is not a terminal or the console cannot do it. */
bool plat_clear_screen(void);

/* One request line to a local stream socket at path (stratumd's administration socket),
 * and its whole reply (until the daemon closes), NUL-terminated in reply. Waits at most
 * timeout_ms in all. Returns 0, PLAT_LOCAL_ABSENT (nothing listens there), PLAT_LOCAL_DENIED
 * (no permission), or PLAT_LOCAL_FAILED, with a message in err. Windows: not available. */
#define PLAT_LOCAL_ABSENT (-2)
#define PLAT_LOCAL_DENIED (-3)
#define PLAT_LOCAL_FAILED (-1)
int plat_local_request(const char *path, const char *line, int timeout_ms, char *reply,
                       size_t cap, char *err, size_t errlen);

#endif
