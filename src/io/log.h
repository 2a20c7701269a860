/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * log: one line per event to stderr or a file, each line a timestamp, a level and a
 * category prefix chosen by the caller ("CLOCK: stepped by +0.412317 s"). Thread-safe:
 * each line is one write(). Messages a remote peer can trigger go through a
 * log_limit so a flood cannot fill the disk.
 */
#ifndef STRATUM_LOG_H
#define STRATUM_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level { LOGL_ERR = 0, LOGL_WARN, LOGL_NOTICE, LOGL_INFO, LOGL_DEBUG };

/* Logs to path (appending) or to stderr when path is NULL. Returns 0 or -1 (errno). */
int log_open(const char *path);
void log_set_level(enum log_level level);
void log_close(void);

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
