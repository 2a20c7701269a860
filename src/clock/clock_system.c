/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * clock_system: the machine's real clock on Linux. A step is one relative
 * clock_adjtime(ADJ_SETOFFSET), so no time passes between reading and setting; a one-shot
 * slew is adjtimex(ADJ_OFFSET_SINGLESHOT), which the kernel completes by itself at its
 * fixed slew rate, so nothing is left running in this process.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <sys/timex.h>

#include "clock_impl.h"

static int fail(char *err, size_t errlen, const char *what, double offset)
{
    int e = errno;
    snprintf(err, errlen, "%s by %+.6f s: %s%s", what, offset, strerror(e),
             e == EPERM ? " (needs root or CAP_SYS_TIME)" : "");
    return e == EPERM || e == EACCES ? CLK_NOT_PERMITTED : CLK_FAILED;
}

static int system_step(struct clk *c, double offset, char *err, size_t errlen)
{
    struct timex tx;
    (void)c;
    if (!isfinite(offset) || fabs(offset) > 1e9) {
        snprintf(err, errlen, "refusing to step by %g s", offset);
        return CLK_FAILED;
    }
    memset(&tx, 0, sizeof(tx));
    double whole = floor(offset);
    tx.modes = ADJ_SETOFFSET | ADJ_NANO;
    tx.time.tv_sec = (time_t)whole;
    /* With ADJ_NANO the tv_usec field carries nanoseconds, in [0, 1e9). */
    tx.time.tv_usec = (long)llround((offset - whole) * 1e9);
    if (tx.time.tv_usec >= 1000000000L) {
        tx.time.tv_sec += 1;
        tx.time.tv_usec -= 1000000000L;
    }
    if (clock_adjtime(CLOCK_REALTIME, &tx) < 0) {
        return fail(err, errlen, "step", offset);
    }
    return 0;
}

static int system_slew_once(struct clk *c, double offset, char *err, size_t errlen)
{
    struct timex tx;
    (void)c;
    /* The kernel's singleshot offset is in microseconds in a long. */
    if (!isfinite(offset) || fabs(offset) > 2000.0) {
        snprintf(err, errlen, "refusing to slew by %g s (at 500 ppm that takes %.0f h)",
                 offset, fabs(offset) / 500e-6 / 3600.0);
        return CLK_FAILED;
    }
    memset(&tx, 0, sizeof(tx));
    tx.modes = ADJ_OFFSET_SINGLESHOT;
    tx.offset = (long)llround(offset * 1e6);
    if (adjtimex(&tx) < 0) {
        return fail(err, errlen, "slew", offset);
    }
    return 0;
}

static int system_set_freq(struct clk *c, double freq_ppm, char *err, size_t errlen)
{
    struct timex tx;
    (void)c;
    memset(&tx, 0, sizeof(tx));
    /* ADJ_FREQUENCY takes ppm scaled by 2^16. */
    tx.modes = ADJ_FREQUENCY;
    tx.freq = (long)llround(freq_ppm * 65536.0);
    if (adjtimex(&tx) < 0) {
        int e = errno;
        snprintf(err, errlen, "set frequency %+.3f ppm: %s%s", freq_ppm, strerror(e),
                 e == EPERM ? " (needs root or CAP_SYS_TIME)" : "");
        return e == EPERM || e == EACCES ? CLK_NOT_PERMITTED : CLK_FAILED;
    }
    return 0;
}

/* Sets or clears status bits, keeping the others (read first: ADJ_STATUS replaces the
 * whole word). */
static int system_status(int set, int clear, const char *what, char *err, size_t errlen)
{
    struct timex tx;
    memset(&tx, 0, sizeof(tx));
    if (adjtimex(&tx) < 0) {
        snprintf(err, errlen, "%s: adjtimex: %s", what, strerror(errno));
        return CLK_FAILED;
    }
    int status = (tx.status & ~clear) | set;
    memset(&tx, 0, sizeof(tx));
    tx.modes = ADJ_STATUS;
    tx.status = status;
    if (adjtimex(&tx) < 0) {
        int e = errno;
        snprintf(err, errlen, "%s: %s%s", what, strerror(e),
                 e == EPERM ? " (needs root or CAP_SYS_TIME)" : "");
        return e == EPERM || e == EACCES ? CLK_NOT_PERMITTED : CLK_FAILED;
    }
    return 0;
}

static int system_set_leap(struct clk *c, int leap, char *err, size_t errlen)
{
    (void)c;
    int set = leap == CLK_LEAP_INSERT ? STA_INS : leap == CLK_LEAP_DELETE ? STA_DEL : 0;
    return system_status(set, (STA_INS | STA_DEL) & ~set, "arm leap second", err, errlen);
}

static int system_set_synced(struct clk *c, bool synced, double est_error, double max_error,
                             char *err, size_t errlen)
{
    (void)c;
    /* STA_UNSYNC clear also lets the kernel write the RTC every 11 minutes. */
    int r = system_status(synced ? 0 : STA_UNSYNC, synced ? STA_UNSYNC : 0,
                          "set synchronization status", err, errlen);
    if (r != 0) {
        return r;
    }
    struct timex tx;
    memset(&tx, 0, sizeof(tx));
    tx.modes = ADJ_ESTERROR | ADJ_MAXERROR;
    tx.esterror = (long)llround(fmax(0.0, fmin(est_error, 16.0)) * 1e6); /* microseconds */
    tx.maxerror = (long)llround(fmax(0.0, fmin(max_error, 16.0)) * 1e6);
    if (adjtimex(&tx) < 0) {
        snprintf(err, errlen, "set error estimates: %s", strerror(errno));
        return CLK_FAILED;
    }
    return 0;
}

const struct clk_ops clk_ops_system = {
    .name = "system",
    .now = clk_read_realtime,
    .from_system = clk_identity,
    .step = system_step,
    .slew_once = system_slew_once,
    .slew_in_background = true,
    .set_freq = system_set_freq,
    .set_leap = system_set_leap,
    .set_synced = system_set_synced,
};
