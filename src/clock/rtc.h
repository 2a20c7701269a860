/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rtc: writing the hardware clock. Behind a seam whose device path tests point at a
 * regular file: a character device gets the RTC_SET_TIME ioctl (Linux), a regular file
 * gets the time as text, so tests never touch real hardware.
 */
#ifndef STRATUM_RTC_H
#define STRATUM_RTC_H

#include <stddef.h>
#include <time.h>

#define RTC_DEFAULT_DEVICE "/dev/rtc0"

/* Sets the RTC at path to the UTC time utc (whole seconds). Returns 0, CLK_FAILED or
 * CLK_NOT_PERMITTED (see clock.h) with a message in err. */
int rtc_write(const char *path, const struct timespec *utc, char *err, size_t errlen);

#endif
