/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * log: line-at-a-time logging to stderr, a file or syslog. The syslog datagrams are
 * written here (the C library's syslog(3) cannot be pointed at another socket, which
 * tests and containers without /dev/log need); logsink.h carries them.
 */
#include "log.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "io/logsink.h"

static int log_fd = 2;
static enum log_level log_level = LOGL_INFO;
static unsigned log_cats = LOG_CAT_ALL;
/* Syslog output: set before any thread starts, read-only afterwards. */
static bool log_to_syslog;
static int log_facility = LOG_FACILITY_DAEMON;
static char log_ident[32] = "stratumd";
static char log_sink_path[256];
/* When the last complaint about syslog went to stderr (monotonic ms; any thread). */
static _Atomic int64_t log_complained_ms = INT64_MIN / 2;

static const char *const level_names[] = { "error", "warning", "notice", "info", "debug" };
/* RFC 5424 sec. 6.2.1 severities of our levels: err, warning, notice, info, debug. */
static const int level_severity[] = { 3, 4, 5, 6, 7 };

static const struct {
    const char *name;
    unsigned bit;
} categories[] = {
    { "CLOCK", LOG_CAT_CLOCK }, { "PROTO", LOG_CAT_PROTO }, { "CONF", LOG_CAT_CONF },
    { "IO", LOG_CAT_IO },       { "AUTH", LOG_CAT_AUTH },   { "MON", LOG_CAT_MON },
};

/* RFC 5424 sec. 6.2.1 facility numbers, by the names rsyslog gives them. */
static const char *const facility_names[24] = {
    "kern",   "user",   "mail",   "daemon", "auth",   "syslog", "lpr",    "news",
    "uucp",   "cron",   "authpriv", "ftp",  "ntp",    "audit",  "alert",  "clock",
    "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
};

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
    if (log_to_syslog) {
        logsink_close();
        log_to_syslog = false;
    }
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
    if (log_to_syslog) {
        logsink_close();
        log_to_syslog = false;
    }
}

int log_level_parse(const char *word, enum log_level *out)
{
    static const struct {
        const char *name;
        enum log_level level;
    } words[] = {
        { "debug", LOGL_DEBUG }, { "info", LOGL_INFO }, { "notice", LOGL_NOTICE },
        { "warning", LOGL_WARN }, { "warn", LOGL_WARN }, { "err", LOGL_ERR },
        { "error", LOGL_ERR },
    };
    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        if (strcmp(word, words[i].name) == 0) {
            *out = words[i].level;
            return 0;
        }
    }
    return -1;
}

const char *log_level_name(enum log_level level)
{
    return (unsigned)level <= LOGL_DEBUG ? level_names[level] : "?";
}

unsigned log_category_of(const char *msg)
{
    for (size_t i = 0; i < sizeof(categories) / sizeof(categories[0]); i++) {
        size_t n = strlen(categories[i].name);
        if (strncmp(msg, categories[i].name, n) == 0 && msg[n] == ':') {
            return categories[i].bit;
        }
    }
    return 0;
}

void log_set_categories(unsigned mask)
{
    log_cats = mask & LOG_CAT_ALL;
}

int log_facility_parse(const char *name)
{
    for (int i = 0; i < 24; i++) {
        if (strcmp(name, facility_names[i]) == 0) {
            return i;
        }
    }
    return -1;
}

const char *log_facility_name(int facility)
{
    return facility >= 0 && facility < 24 ? facility_names[facility] : "?";
}

int log_open_syslog(const char *path, int facility, const char *ident)
{
    if (path == NULL) {
        path = LOG_SYSLOG_DEFAULT_PATH;
    }
    if (facility < 0 || facility >= 24 || strlen(path) >= sizeof(log_sink_path)) {
        errno = EINVAL;
        return -1;
    }
    if (logsink_open(path) != 0) {
        return -1;
    }
    if (log_fd > 2) {
        close(log_fd);
        log_fd = 2;
    }
    snprintf(log_sink_path, sizeof(log_sink_path), "%s", path);
    snprintf(log_ident, sizeof(log_ident), "%s", ident != NULL ? ident : "stratumd");
    log_facility = facility;
    log_to_syslog = true;
    return 0;
}

size_t log_format_syslog(char *buf, size_t cap, int facility, enum log_level level,
                         const struct tm *local, const char *ident, long pid, const char *msg)
{
    static const char months[12][4] = { "Jan", "Feb", "Mar", "Apr", "May", "Jun",
                                        "Jul", "Aug", "Sep", "Oct", "Nov", "Dec" };
    if (cap == 0) {
        return 0;
    }
    int pri = facility * 8 + level_severity[(unsigned)level <= LOGL_DEBUG ? level : LOGL_DEBUG];
    int mon = local->tm_mon >= 0 && local->tm_mon < 12 ? local->tm_mon : 0;
    /* RFC 3164 sec. 4.1.2: "Mmm dd hh:mm:ss", the day padded with a space. */
    int n = snprintf(buf, cap, "<%d>%s %2d %02d:%02d:%02d %s[%ld]: %s", pri, months[mon],
                     local->tm_mday, local->tm_hour, local->tm_min, local->tm_sec, ident, pid,
                     msg);
    if (n < 0) {
        buf[0] = '\0';
        return 0;
    }
    return (size_t)n < cap ? (size_t)n : cap - 1;
}

/* One line to fd: an ISO 8601 UTC timestamp, the level, the message. */
static void write_line(int fd, const struct timespec *now, enum log_level level,
                       const char *msg)
{
    char line[4200];
    struct tm tm;
    gmtime_r(&now->tv_sec, &tm);
    size_t n = strftime(line, sizeof(line), "%Y-%m-%dT%H:%M:%S", &tm);
    int m = snprintf(line + n, sizeof(line) - n - 1, ".%06ldZ %s %s", now->tv_nsec / 1000,
                     level_names[level], msg);
    n += m < 0 ? 0 : (size_t)m;
    if (n > sizeof(line) - 2) {
        n = sizeof(line) - 2;
    }
    line[n++] = '\n';
    ssize_t w = write(fd, line, n);
    (void)w;
}

/* The syslog daemon did not take a message: it goes to stderr, with a word on why at
 * most once a minute (whichever thread gets there first says it). */
static void syslog_failed(const struct timespec *now, enum log_level level, const char *msg,
                          int err)
{
    struct timespec mono;
    clock_gettime(CLOCK_MONOTONIC, &mono);
    int64_t ms = (int64_t)mono.tv_sec * 1000 + mono.tv_nsec / 1000000;
    int64_t last = atomic_load(&log_complained_ms);
    if (ms - last >= 60000 && atomic_compare_exchange_strong(&log_complained_ms, &last, ms)) {
        char why[512];
        snprintf(why, sizeof(why), "IO: syslog %s: %s; messages go to standard error until "
                                   "it takes them again", log_sink_path, strerror(err));
        write_line(2, now, LOGL_WARN, why);
    }
    write_line(2, now, level, msg);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    char msg[4096];
    struct timespec now;
    va_list ap;
    int saved = errno;

    if (level > log_level) {
        return;
    }
    if (level > LOGL_WARN && log_cats != LOG_CAT_ALL) {
        unsigned cat = log_category_of(fmt);
        if (cat != 0 && (cat & log_cats) == 0) {
            return;
        }
    }
    va_start(ap, fmt);
    int m = vsnprintf(msg, sizeof(msg), fmt, ap);
    va_end(ap);
    if (m < 0) {
        msg[0] = '\0';
    }
    clock_gettime(CLOCK_REALTIME, &now);
    if (log_to_syslog) {
        char dgram[4200];
        struct tm local;
        localtime_r(&now.tv_sec, &local);
        size_t n = log_format_syslog(dgram, sizeof(dgram), log_facility, level, &local,
                                     log_ident, (long)getpid(), msg);
        if (logsink_send(dgram, n) != 0) {
            syslog_failed(&now, level, msg, errno);
        }
    } else {
        write_line(log_fd, &now, level, msg);
    }
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
