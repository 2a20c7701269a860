/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * clock: the one interface through which Stratum reads and corrects the clock it keeps.
 * Backends: system (the real clock; reading here, corrections arrive with the
 * synchronization work), sim (a virtual clock for tests and dry runs), none (observe
 * only; never corrects). ONLY this folder may call what can change the system clock.
 */
#ifndef STRATUM_CLOCK_H
#define STRATUM_CLOCK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum clk_kind { CLK_SYSTEM = 0, CLK_SIM, CLK_NONE };

struct clk_sim_params {
    bool start_set;             /* false: virtual time starts at the real time */
    int64_t start_unix_sec;     /* virtual time at start */
    double freq_ppm;            /* simulated frequency error of the virtual clock */
};

/* What was done to the clock so far (for status and tests). */
struct clk_stats {
    uint64_t steps;
    uint64_t slews;
    double last_step;           /* signed s */
    double total_adjust;        /* sum of |corrections|, s */
    double freq_ppm;
    int leap;                   /* enum clk_leap announced to the clock */
    bool synced;                /* the clock was told it is synchronized */
};

/* A leap second the clock is told to apply at the end of the UTC day. */
enum clk_leap { CLK_LEAP_NONE = 0, CLK_LEAP_INSERT, CLK_LEAP_DELETE };

struct clk;

/* Opens a backend. sim may be NULL for kinds other than CLK_SIM. Returns NULL and a
 * message in err on failure. */
struct clk *clk_open(enum clk_kind kind, const struct clk_sim_params *sim, char *err,
                     size_t errlen);
void clk_close(struct clk *c);

/* The time of this clock. Thread-safe; cheap (one clock_gettime plus arithmetic). */
void clk_now(struct clk *c, struct timespec *out);

/* Converts a CLOCK_REALTIME reading taken by the kernel (a receive timestamp) into this
 * clock's time. Thread-safe. */
void clk_from_system(struct clk *c, const struct timespec *sys, struct timespec *out);

/* Result of a correction: 0 done; CLK_FAILED with err set; CLK_NOT_PERMITTED when the
 * process lacks the privilege (CAP_SYS_TIME, SE_SYSTEMTIME_NAME). */
#define CLK_FAILED (-1)
#define CLK_NOT_PERMITTED (-2)

/* Steps the clock by offset seconds (none: refused). */
int clk_step(struct clk *c, double offset, char *err, size_t errlen);

/* A one-shot slew by offset seconds. Linux: ADJ_OFFSET_SINGLESHOT, which the kernel
 * completes on its own after this returns, leaving nothing running in this process.
 * Windows: returns when the slew is done, restoring the previous adjustment (also on
 * Ctrl-C). sim: applied at once. none: refused. */
int clk_slew_once(struct clk *c, double offset, char *err, size_t errlen);

/* The largest frequency correction, ppm (the Linux kernel's limit). */
#define CLK_MAX_FREQ_PPM 500.0

/* Sets the clock's frequency correction in ppm (positive: runs faster), kept until the
 * next call: the one mechanism of slewing that Linux (ADJ_FREQUENCY), Windows and the
 * simulated clock share; a phase correction is a frequency held for a while. Beyond
 * +-CLK_MAX_FREQ_PPM: CLK_FAILED. none: refused. */
int clk_set_freq(struct clk *c, double freq_ppm, char *err, size_t errlen);
/* The correction in force, ppm. */
double clk_get_freq(const struct clk *c);

/* Arms (or disarms) a leap second at the end of the current UTC day (Linux: STA_INS /
 * STA_DEL, applied by the kernel). Windows applies leap seconds itself: a no-op there.
 * none: refused. */
int clk_set_leap(struct clk *c, enum clk_leap leap, char *err, size_t errlen);

/* Tells the clock whether it is synchronized, with the estimated and maximum error in
 * seconds (Linux: STA_UNSYNC, which also lets the kernel copy the time to the RTC every
 * 11 minutes when clear, and ADJ_ESTERROR / ADJ_MAXERROR). none: refused. */
int clk_set_synced(struct clk *c, bool synced, double est_error, double max_error, char *err,
                   size_t errlen);

/* True when clk_slew_once returns before the slew is complete (the system finishes it). */
bool clk_slew_in_background(const struct clk *c);

/* Measured precision: log2 of the smallest interval between two distinct readings,
 * rounded up (RFC 5905 sec. 7.3 "precision"), in -30..0. */
int8_t clk_measure_precision(struct clk *c);

void clk_get_stats(struct clk *c, struct clk_stats *out);
const char *clk_name(const struct clk *c);
enum clk_kind clk_kind_of(const struct clk *c);

/* Parses "system", "sim", "none". Returns 0 or -1. */
int clk_kind_parse(const char *word, enum clk_kind *out);

#endif
