/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * clock_win: internals of the Windows `system` clock backend (clock_win.c) that tests
 * reach: the FILETIME conversions, the slew plan, and the table of Windows calls the
 * backend makes, which tests/win replaces with mocks so that stepping and slewing run
 * under wine without ever touching the host's clock (wine maps SetSystemTime to it).
 * Private to src/clock and tests/win.
 */
#ifndef STRATUM_CLOCK_WIN_H
#define STRATUM_CLOCK_WIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* 100 ns intervals from 1601-01-01 (the FILETIME epoch) to 1970-01-01. */
#define CLK_WIN_UNIX_EPOCH_FT UINT64_C(116444736000000000)

/* The fastest slew, as on Linux (the kernel's singleshot rate). */
#define CLK_WIN_SLEW_MAX_PPM 500.0

/* FILETIME ticks (100 ns since 1601, UTC) to a Unix timespec (tv_nsec in [0, 1e9)). */
void clk_win_ft_to_timespec(uint64_t ft, struct timespec *out);

/* A slew by offset seconds on a clock whose adjustment is currently adj per increment
 * incr (both in the units of the API that reported them; the clock runs at the rate
 * adj / incr, nominal when adj == incr; disabled means the system's own mechanism is in
 * charge, i.e. the nominal rate). Picks the adjustment that runs the clock faster (offset
 * > 0) or slower by at most CLK_WIN_SLEW_MAX_PPM and how long to keep it. Returns 0, or -1
 * when the increment is too coarse to express such a rate or the result does not fit
 * max_adj (the largest value the API takes). */
struct clk_win_slew_plan {
    uint64_t base_adj;          /* the rate kept by the slew: adj, or incr when disabled */
    uint64_t new_adj;           /* what is set during the slew */
    double rate;                /* extra seconds per second of the slew, signed */
    int64_t duration_ns;        /* how long new_adj stays set */
};
int clk_win_plan_slew(double offset, uint64_t adj, uint64_t incr, bool disabled,
                      uint64_t max_adj, struct clk_win_slew_plan *out);

/* The Windows calls of the backend. Results: the BOOL-like ones return true on success,
 * with the reason in GetLastError() otherwise. */
struct clk_win_sys {
    /* GetSystemTimePreciseAsFileTime, as a 64-bit count. */
    uint64_t (*now_ft)(void);
    /* Enables SeSystemtimePrivilege on the process token. Returns 0, CLK_NOT_PERMITTED
     * (not held) or CLK_FAILED, with a message in err. */
    int (*enable_privilege)(char *err, size_t errlen);
    void (*disable_privilege)(void);
    /* SetSystemTime with a UTC time in FILETIME ticks that is a whole millisecond. */
    bool (*set_time_ft)(uint64_t ft);
    /* Get/SetSystemTimeAdjustment(Precise); *precise tells which API answered (the Set call
     * must use the same one). *max_adj is the largest adjustment the API takes. */
    bool (*get_adjust)(uint64_t *adj, uint64_t *incr, bool *disabled, bool *precise,
                       uint64_t *max_adj);
    bool (*set_adjust)(uint64_t adj, bool disabled, bool precise);
    /* Monotonic nanoseconds (QueryPerformanceCounter). */
    int64_t (*mono_ns)(void);
    /* Waits up to ms milliseconds; returns early when the slew is interrupted (Ctrl-C). */
    void (*wait_ms)(uint32_t ms);
    /* Whether progress goes to stderr (it is a console). */
    bool (*progress)(void);
};

/* Replaces the Windows calls (tests); NULL restores the real ones. Not thread-safe: call
 * before using the backend. */
void clk_win_set_sys(const struct clk_win_sys *sys);

/* Interrupts a slew in progress as Ctrl-C does: restores the previous adjustment and makes
 * the slew return CLK_FAILED (what the console control handler calls). */
void clk_win_interrupt(void);

#endif
