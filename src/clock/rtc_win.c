/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rtc_win: Windows sets the hardware clock itself whenever the system time is set, so
 * `stratum sync --rtc` has nothing to do there and says so.
 */
#include "rtc.h"

#include <stdio.h>

#include "clock.h"

int rtc_write(const char *path, const struct timespec *utc, char *err, size_t errlen)
{
    (void)path;
    (void)utc;
    snprintf(err, errlen,
             "setting the RTC is not supported on Windows (Windows keeps it in sync itself)");
    return CLK_FAILED;
}
