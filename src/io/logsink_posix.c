/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * logsink_posix: the syslog transport on Linux and other POSIX systems, an AF_UNIX
 * datagram socket connected to the syslog daemon's (/dev/log, or a path of the
 * configuration's). Plain calls only (socket, non-blocking by fcntl, connect, sendto),
 * as DESIGN's `workers 0` contract asks.
 */
#include "logsink.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static pthread_mutex_t sink_lock = PTHREAD_MUTEX_INITIALIZER;
static int sink_fd = -1;
static char sink_path[sizeof(((struct sockaddr_un *)0)->sun_path)];
static int64_t sink_retry_ms; /* no reconnection before this (monotonic) */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int connect_path(const char *path)
{
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    if (strlen(path) >= sizeof(sun.sun_path)) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy(sun.sun_path, path, strlen(path));
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    if (fd < 0) {
        return -1;
    }
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0 ||
        fcntl(fd, F_SETFD, FD_CLOEXEC) != 0 ||
        connect(fd, (const struct sockaddr *)&sun, sizeof(sun)) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    return fd;
}

int logsink_open(const char *path)
{
    int fd = connect_path(path);
    if (fd < 0) {
        return -1;
    }
    pthread_mutex_lock(&sink_lock);
    if (sink_fd >= 0) {
        close(sink_fd);
    }
    sink_fd = fd;
    snprintf(sink_path, sizeof(sink_path), "%s", path);
    sink_retry_ms = 0;
    pthread_mutex_unlock(&sink_lock);
    return 0;
}

static int reconnect(void)
{
    int64_t now = mono_ms();
    if (sink_path[0] == '\0' || now < sink_retry_ms) {
        errno = ENOTCONN;
        return -1;
    }
    sink_retry_ms = now + 1000;
    if (sink_fd >= 0) {
        close(sink_fd);
    }
    sink_fd = connect_path(sink_path);
    return sink_fd < 0 ? -1 : 0;
}

int logsink_send(const void *buf, size_t len)
{
    ssize_t r = -1;
    int err = ENOTCONN;
    pthread_mutex_lock(&sink_lock);
    if (sink_fd >= 0 || reconnect() == 0) {
        r = sendto(sink_fd, buf, len, MSG_NOSIGNAL, NULL, 0);
        err = errno;
        /* ECONNREFUSED: nobody reads the socket we connected to any more (the syslog
         * daemon restarted and made a new one under the same name). */
        if (r < 0 && (err == ECONNREFUSED || err == ENOTCONN) && reconnect() == 0) {
            r = sendto(sink_fd, buf, len, MSG_NOSIGNAL, NULL, 0);
            err = errno;
        } else if (r < 0 && sink_fd < 0) {
            err = errno;
        }
    } else {
        err = errno;
    }
    pthread_mutex_unlock(&sink_lock);
    if (r == (ssize_t)len) {
        return 0;
    }
    errno = r < 0 ? err : EMSGSIZE;
    return -1;
}

void logsink_close(void)
{
    pthread_mutex_lock(&sink_lock);
    if (sink_fd >= 0) {
        close(sink_fd);
    }
    sink_fd = -1;
    sink_path[0] = '\0';
    pthread_mutex_unlock(&sink_lock);
}
