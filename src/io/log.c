/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * log: line-at-a-time logging to stderr or a file.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int log_fd = 2;
static enum log_level log_level = LOGL_INFO;

static const char *const level_names[] = { "error", "warning", "notice", "info", "debug" };

int log_open(const char *path)
{
    if (path == NULL) {
        log_fd = 2;
        return 0;
    }
    /* No symlinks: as root, a planted link must not make us append to another file. */
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (fd < 0) {
        return -1;
    }
    if (log_fd > 2) {
        close(log_fd);
    }
    log_fd = fd;
    return 0;
}

void log_set_level(enum log_level level)
{
    log_level = level;
}

void log_close(void)
{
    if (log_fd > 2) {
        close(log_fd);
    }
    log_fd = 2;
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    char line[4096];
    struct timespec now;
    struct tm tm;
    va_list ap;
    int saved = errno;

    if (level > log_level) {
        return;
    }
    clock_gettime(CLOCK_REALTIME, &now);
    gmtime_r(&now.tv_sec, &tm);
    size_t n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    n += (size_t)snprintf(line + n, sizeof(line) - n, ".%06ldZ %s ", now.tv_nsec / 1000,
                          level_names[level]);
    va_start(ap, fmt);
    int m = vsnprintf(line + n, sizeof(line) - n - 1, fmt, ap);
    va_end(ap);
    if (m < 0) {
        m = 0;
    }
    n += (size_t)m;
    if (n > sizeof(line) - 2) {
        n = sizeof(line) - 2;
    }
    line[n++] = '\n';
    ssize_t w = write(log_fd, line, n);
    (void)w;
    errno = saved;
}

bool log_limit_pass(struct log_limit *l, int64_t now_ms)
{
    if (l->interval_ms <= 0) {
        return true;
    }
    if (now_ms - l->last_ms >= l->interval_ms) {
        int64_t add = (now_ms - l->last_ms) / l->interval_ms;
        l->tokens = add >= (int64_t)l->burst ? l->burst : l->tokens + (unsigned)add;
        if (l->tokens > l->burst) {
            l->tokens = l->burst;
        }
        l->last_ms = now_ms;
    }
    if (l->tokens > 0) {
        l->tokens--;
        return true;
    }
    l->suppressed++;
    return false;
}
