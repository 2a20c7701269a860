/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * rtc_linux: RTC_SET_TIME on a character device; plain text on a regular file (tests).
 */
#include "rtc.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/rtc.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "clock.h"

int rtc_write(const char *path, const struct timespec *utc, char *err, size_t errlen)
{
    struct tm tm;
    time_t t = utc->tv_sec + (utc->tv_nsec >= 500000000L ? 1 : 0);
    if (gmtime_r(&t, &tm) == NULL) {
        snprintf(err, errlen, "RTC %s: time out of range", path);
        return CLK_FAILED;
    }
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(err, errlen, "RTC %s: %s", path, strerror(e));
        return e == EACCES || e == EPERM ? CLK_NOT_PERMITTED : CLK_FAILED;
    }
    struct stat st;
    int rc = 0;
    if (fstat(fd, &st) == 0 && S_ISCHR(st.st_mode)) {
        struct rtc_time rt;
        memset(&rt, 0, sizeof(rt));
        rt.tm_sec = tm.tm_sec;
        rt.tm_min = tm.tm_min;
        rt.tm_hour = tm.tm_hour;
        rt.tm_mday = tm.tm_mday;
        rt.tm_mon = tm.tm_mon;
        rt.tm_year = tm.tm_year;
        if (ioctl(fd, RTC_SET_TIME, &rt) != 0) {
            int e = errno;
            snprintf(err, errlen, "RTC %s: RTC_SET_TIME: %s", path, strerror(e));
            rc = e == EACCES || e == EPERM ? CLK_NOT_PERMITTED : CLK_FAILED;
        }
    } else {
        char line[64];
        int n = (int)strftime(line, sizeof(line), "%Y-%m-%d %H:%M:%S UTC\n", &tm);
        if (ftruncate(fd, 0) != 0 || write(fd, line, (size_t)n) != n) {
            snprintf(err, errlen, "RTC %s: write: %s", path, strerror(errno));
            rc = CLK_FAILED;
        }
    }
    close(fd);
    return rc;
}
