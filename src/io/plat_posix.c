/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * plat_posix: the tool's platform seam on Linux: non-blocking connected UDP sockets with
 * kernel receive timestamps (SO_TIMESTAMPING), poll(), CLOCK_MONOTONIC.
 */
#include "plat.h"

#include <sys/socket.h>

#include <sys/un.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/errqueue.h>
#include <linux/net_tstamp.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

int plat_init(void)
{
    return 0;
}

void plat_cleanup(void)
{
}

plat_sock plat_udp_client(const struct sockaddr *addr, socklen_t len, char *err, size_t errlen)
{
    int fd = socket(addr->sa_family, SOCK_DGRAM, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return PLAT_NO_SOCK;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) < 0) {
        snprintf(err, errlen, "fcntl: %s", strerror(errno));
        close(fd);
        return PLAT_NO_SOCK;
    }
    int ts = SOF_TIMESTAMPING_RX_SOFTWARE | SOF_TIMESTAMPING_SOFTWARE;
    (void)setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPING, &ts, sizeof(ts));
    if (connect(fd, addr, len) != 0) {
        snprintf(err, errlen, "connect: %s", strerror(errno));
        close(fd);
        return PLAT_NO_SOCK;
    }
    return fd;
}

int plat_send(plat_sock s, const void *buf, size_t len)
{
    ssize_t n = send(s, buf, len, 0);
    return n == (ssize_t)len ? 0 : -1;
}

enum plat_recv_status plat_recv(plat_sock s, void *buf, size_t cap, size_t *len,
                                bool *truncated, bool *have_ts, struct timespec *ts)
{
    uint8_t ctl[256];
    struct iovec iov = { .iov_base = buf, .iov_len = cap };
    struct msghdr m;
    memset(&m, 0, sizeof(m));
    m.msg_iov = &iov;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    m.msg_controllen = sizeof(ctl);
    *have_ts = false;
    ssize_t n = recvmsg(s, &m, 0);
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) {
            return PLAT_RECV_AGAIN;
        }
        return errno == ECONNREFUSED ? PLAT_RECV_REFUSED : PLAT_RECV_ERROR;
    }
    *len = (size_t)n;
    *truncated = (m.msg_flags & MSG_TRUNC) != 0;
    for (struct cmsghdr *c = CMSG_FIRSTHDR(&m); c != NULL; c = CMSG_NXTHDR(&m, c)) {
        if (c->cmsg_level == SOL_SOCKET && c->cmsg_type == SO_TIMESTAMPING &&
            c->cmsg_len >= CMSG_LEN(sizeof(struct scm_timestamping))) {
            struct scm_timestamping sts;
            memcpy(&sts, CMSG_DATA(c), sizeof(sts));
            if (sts.ts[0].tv_sec != 0 || sts.ts[0].tv_nsec != 0) {
                *have_ts = true;
                *ts = sts.ts[0];
            }
        }
    }
    return PLAT_RECV_OK;
}

int plat_poll(const plat_sock *socks, size_t n, int timeout_ms, bool *ready)
{
    struct pollfd pfd[256];
    if (n > sizeof(pfd) / sizeof(pfd[0])) {
        errno = EINVAL;
        return -1;
    }
    for (size_t i = 0; i < n; i++) {
        pfd[i].fd = socks[i];
        pfd[i].events = POLLIN;
        pfd[i].revents = 0;
    }
    int r = poll(pfd, (nfds_t)n, timeout_ms);
    for (size_t i = 0; i < n; i++) {
        ready[i] = r > 0 && pfd[i].revents != 0;
    }
    return r < 0 && errno == EINTR ? 0 : r;
}

void plat_close(plat_sock s)
{
    if (s >= 0) {
        close(s);
    }
}

int64_t plat_mono_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

const char *plat_error_text(void)
{
    return strerror(errno);
}

bool plat_error_is_permission(void)
{
    return errno == EPERM || errno == EACCES;
}

int plat_gmtime(int64_t t, struct tm *out)
{
    time_t tt = (time_t)t;
    return gmtime_r(&tt, out) != NULL ? 0 : -1;
}

int plat_localtime(int64_t t, struct tm *out)
{
    time_t tt = (time_t)t;
    tzset();
    return localtime_r(&tt, out) != NULL ? 0 : -1;
}

size_t plat_strftime(char *s, size_t max, const char *fmt, const struct tm *tm)
{
    /* fmt is checked at the callers (plat.h gives plat_strftime the strftime attribute). */
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
    size_t n = strftime(s, max, fmt, tm);
#pragma GCC diagnostic pop
    if (n == 0 && max > 0) {
        s[0] = '\0';
    }
    return n;
}

bool plat_stdout_is_tty(void)
{
    return isatty(1) == 1;
}

bool plat_clear_screen(void)
{
    if (isatty(1) != 1) {
        return false;
    }
    /* ECMA-48: cursor home, erase the whole display. */
    fputs("\033[H\033[2J", stdout);
    return true;
}

int plat_local_request(const char *path, const char *line, int timeout_ms, char *reply,
                       size_t cap, char *err, size_t errlen)
{
    struct sockaddr_un sa;
    if (cap == 0) {
        return PLAT_LOCAL_FAILED;
    }
    reply[0] = '\0';
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "%s: path too long", path);
        return PLAT_LOCAL_FAILED;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sun_family = AF_UNIX;
    snprintf(sa.sun_path, sizeof(sa.sun_path), "%s", path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        snprintf(err, errlen, "socket: %s", strerror(errno));
        return PLAT_LOCAL_FAILED;
    }
    if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        int e = errno;
        close(fd);
        snprintf(err, errlen, "%s: %s", path, strerror(e));
        return e == EACCES || e == EPERM                ? PLAT_LOCAL_DENIED
               : e == ENOENT || e == ECONNREFUSED       ? PLAT_LOCAL_ABSENT
                                                        : PLAT_LOCAL_FAILED;
    }
    size_t n = strlen(line);
    if (send(fd, line, n, MSG_NOSIGNAL) != (ssize_t)n || send(fd, "\n", 1, MSG_NOSIGNAL) != 1) {
        snprintf(err, errlen, "%s: send: %s", path, strerror(errno));
        close(fd);
        return PLAT_LOCAL_FAILED;
    }
    size_t got = 0;
    int64_t deadline = plat_mono_ns() / 1000000 + timeout_ms;
    for (;;) {
        int64_t left = deadline - plat_mono_ns() / 1000000;
        if (left <= 0) {
            snprintf(err, errlen, "%s: no complete reply within %d ms", path, timeout_ms);
            close(fd);
            return PLAT_LOCAL_FAILED;
        }
        struct pollfd p = {.fd = fd, .events = POLLIN};
        if (poll(&p, 1, (int)left) < 0 && errno != EINTR) {
            snprintf(err, errlen, "poll: %s", strerror(errno));
            close(fd);
            return PLAT_LOCAL_FAILED;
        }
        if (p.revents == 0) {
            continue;
        }
        ssize_t r = recv(fd, reply + got, cap - 1 - got, 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            break;
        }
        got += (size_t)r;
        if (got >= cap - 1) {
            break;
        }
    }
    reply[got] = '\0';
    close(fd);
    return 0;
}
