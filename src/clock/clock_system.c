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

const struct clk_ops clk_ops_system = {
    .name = "system",
    .now = clk_read_realtime,
    .from_system = clk_identity,
    .step = system_step,
    .slew_once = system_slew_once,
    .slew_in_background = true,
    .set_freq = system_set_freq,
};
