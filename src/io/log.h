/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * log: one line per event to stderr, a file or the local syslog daemon, each line a
 * level and a category prefix chosen by the caller ("CLOCK: stepped by +0.412317 s");
 * to stderr and files with a timestamp in front. Thread-safe: each line is one write()
 * or one datagram. A level threshold applies to every output, and logconfig's category
 * mask to the messages below warning. Messages a remote peer can trigger go through a
 * log_limit so a flood cannot fill the disk.
 */
#ifndef STRATUM_LOG_H
#define STRATUM_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum log_level { LOGL_ERR = 0, LOGL_WARN, LOGL_NOTICE, LOGL_INFO, LOGL_DEBUG };

/* Logs to path (appending) or to stderr when path is NULL. Returns 0 or -1 (errno). */
int log_open(const char *path);
void log_set_level(enum log_level level);
void log_close(void);

/* "debug", "info", "notice", "warning" (or "warn"), "err" (or "error"). Returns 0 or -1. */
int log_level_parse(const char *word, enum log_level *out);
const char *log_level_name(enum log_level level);

/* Categories: the prefix of each message ("CLOCK: ..."). */
enum log_category {
    LOG_CAT_CLOCK = 1u << 0,
    LOG_CAT_PROTO = 1u << 1,
    LOG_CAT_CONF = 1u << 2,
    LOG_CAT_IO = 1u << 3,
    LOG_CAT_AUTH = 1u << 4,
    LOG_CAT_MON = 1u << 5,
    LOG_CAT_ALL = (1u << 6) - 1,
};
/* The category of a message from its prefix; 0 when it has none we know. */
unsigned log_category_of(const char *msg);
/* Messages below warning whose category is not in mask are dropped (logconfig); errors,
 * warnings and messages without a category always pass. Default LOG_CAT_ALL. */
void log_set_categories(unsigned mask);

/* Syslog (RFC 5424 sec. 6.2.1 numbers). */
#define LOG_FACILITY_DAEMON 3
#define LOG_SYSLOG_DEFAULT_PATH "/dev/log"
/* Facility by name ("daemon", "local0", ...). Returns its number, or -1. */
int log_facility_parse(const char *name);
const char *log_facility_name(int facility);

/* Logs to the local syslog daemon from now on: one RFC 3164 datagram per message, as the
 * C library's syslog(3) sends it, on the AF_UNIX datagram socket at path (NULL:
 * LOG_SYSLOG_DEFAULT_PATH), with facility (0 .. 23) and ident ("stratumd"). Sending
 * never blocks: a line the syslog daemon cannot take now goes to stderr, and so does
 * everything while its socket cannot be reached (reconnecting on the next message), with
 * a complaint at most once a minute. Returns 0, or -1 with errno when the socket cannot
 * be reached now (then nothing changes). */
int log_open_syslog(const char *path, int facility, const char *ident);

/* One syslog datagram: "<PRI>Mmm dd hh:mm:ss IDENT[PID]: MSG" (RFC 3164 sec. 4.1, the
 * local form without a host name), PRI = facility * 8 + the severity of level, local the
 * broken-down local time. Returns its length (no NUL counted), truncated to cap - 1. */
size_t log_format_syslog(char *buf, size_t cap, int facility, enum log_level level,
                         const struct tm *local, const char *ident, long pid, const char *msg);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* A token bucket for one kind of remote-triggered message: at most `burst` lines, then
 * one per `interval_ms`. */
struct log_limit {
    int64_t last_ms;
    unsigned tokens;
    unsigned burst;
    int64_t interval_ms;
    uint64_t suppressed;
};
/* True when a line may be logged now; counts suppressed lines otherwise. */
bool log_limit_pass(struct log_limit *l, int64_t now_ms);

#endif
