/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * driftfile: read the frequency (ntpd's one-number form or chrony's two) and write it
 * atomically, so a crash at any moment leaves either the old or the new file, never a
 * truncated one.
 */
#include "driftfile.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A drift file is a line of two numbers; anything this long is not one. */
#define DRIFTFILE_MAX_SIZE 256
/* Longest path we handle (the temporary name adds 7 octets). */
#define DRIFTFILE_PATH_MAX 4096

#if defined(__GNUC__)
static void set_err(char *err, size_t errlen, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
#endif

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Parses one decimal number token of n octets: digits, sign, point, exponent only (no
 * "nan", "inf" or hex floats, which strtod would take). Returns false if it is not one. */
static bool parse_number(const char *tok, size_t n, double *v)
{
    char tmp[64];

    if (n == 0 || n >= sizeof(tmp)) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = tok[i];
        if (!((c >= '0' && c <= '9') || c == '+' || c == '-' || c == '.' || c == 'e' || c == 'E')) {
            return false;
        }
    }
    memcpy(tmp, tok, n);
    tmp[n] = '\0';
    char *end = NULL;
    errno = 0;
    double d = strtod(tmp, &end);
    if (end != tmp + n || errno == ERANGE || !isfinite(d)) {
        return false;
    }
    *v = d;
    return true;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

enum driftfile_status driftfile_read(const char *path, double *freq_ppm, double *skew_ppm,
                                     char *err, size_t errlen)
{
    char buf[DRIFTFILE_MAX_SIZE + 1];
    size_t len = 0;

    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT) {
            set_err(err, errlen, "%s: no drift file yet", path);
            return DRIFTFILE_MISSING;
        }
        set_err(err, errlen, "%s: cannot open: %s", path, strerror(errno));
        return DRIFTFILE_ERROR;
    }
    for (;;) {
        ssize_t n = read(fd, buf + len, sizeof(buf) - len);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0) {
            int e = errno;
            close(fd);
            set_err(err, errlen, "%s: cannot read: %s", path, strerror(e));
            return DRIFTFILE_ERROR;
        }
        if (n == 0) {
            break;
        }
        len += (size_t)n;
        if (len == sizeof(buf)) {
            close(fd);
            set_err(err, errlen, "%s: longer than %d octets: not a drift file", path,
                    DRIFTFILE_MAX_SIZE);
            return DRIFTFILE_ERROR;
        }
    }
    close(fd);

    /* Split into at most two tokens separated by white space. */
    double v[2];
    size_t count = 0;
    size_t i = 0;
    while (i < len) {
        if (is_space(buf[i])) {
            i++;
            continue;
        }
        size_t start = i;
        while (i < len && !is_space(buf[i])) {
            i++;
        }
        if (count == 2) {
            set_err(err, errlen, "%s: more than two numbers", path);
            return DRIFTFILE_ERROR;
        }
        if (!parse_number(buf + start, i - start, &v[count])) {
            set_err(err, errlen, "%s: not a number: '%.*s'", path,
                    (int)(i - start > 32 ? 32 : i - start), buf + start);
            return DRIFTFILE_ERROR;
        }
        count++;
    }
    if (count == 0) {
        set_err(err, errlen, "%s: empty", path);
        return DRIFTFILE_ERROR;
    }
    if (fabs(v[0]) > DRIFTFILE_MAX_PPM) {
        set_err(err, errlen, "%s: frequency %.3f ppm beyond +-%.0f ppm", path, v[0],
                DRIFTFILE_MAX_PPM);
        return DRIFTFILE_ERROR;
    }
    if (count == 2 && v[1] < 0.0) {
        set_err(err, errlen, "%s: negative skew %.6f ppm", path, v[1]);
        return DRIFTFILE_ERROR;
    }
    *freq_ppm = v[0];
    if (skew_ppm != NULL) {
        *skew_ppm = count == 2 ? v[1] : NAN;
    }
    return DRIFTFILE_OK;
}

/* Writes all n octets, retrying short writes and EINTR. */
static int write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w < 0) {
            return -1;
        }
        if (w == 0) {
            errno = EIO;
            return -1;
        }
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

/* The directory part of path ("." for a bare name, "/" for "/name"). */
static void dir_of(const char *path, char *dir, size_t cap)
{
    const char *slash = strrchr(path, '/');
    if (slash == NULL) {
        snprintf(dir, cap, ".");
    } else if (slash == path) {
        snprintf(dir, cap, "/");
    } else {
        snprintf(dir, cap, "%.*s", (int)(slash - path), path);
    }
}

int driftfile_write(const char *path, double freq_ppm, double skew_ppm, char *err, size_t errlen)
{
    char tmp[DRIFTFILE_PATH_MAX];
    char dir[DRIFTFILE_PATH_MAX];
    char text[128];
    int n;

    if (!isfinite(freq_ppm) || fabs(freq_ppm) > DRIFTFILE_MAX_PPM) {
        set_err(err, errlen, "%s: refusing to write frequency %g ppm", path, freq_ppm);
        return -1;
    }
    /* %.6f: ntpd writes %.3f, chrony %.6f; both read any number. */
    if (isfinite(skew_ppm) && skew_ppm >= 0.0 && skew_ppm <= DRIFTFILE_MAX_SKEW_PPM) {
        n = snprintf(text, sizeof(text), "%.6f %.6f\n", freq_ppm, skew_ppm);
    } else {
        n = snprintf(text, sizeof(text), "%.6f\n", freq_ppm);
    }
    if (n < 0 || (size_t)n >= sizeof(text)) {
        set_err(err, errlen, "%s: frequency %g ppm does not fit", path, freq_ppm);
        return -1;
    }
    if (snprintf(tmp, sizeof(tmp), "%s.XXXXXX", path) >= (int)sizeof(tmp)) {
        set_err(err, errlen, "%s: path too long", path);
        return -1;
    }
    dir_of(path, dir, sizeof(dir));

    int fd = mkstemp(tmp);
    if (fd < 0) {
        set_err(err, errlen, "%s: cannot create temporary file: %s", path, strerror(errno));
        return -1;
    }
    const char *what = NULL;
    if (fchmod(fd, 0644) != 0) {
        what = "chmod";
    } else if (write_all(fd, text, (size_t)n) != 0) {
        what = "write";
    } else if (fsync(fd) != 0) {
        what = "fsync";
    }
    int e = errno;
    /* close() can report a deferred write error (NFS): it counts as a failure too. */
    if (close(fd) != 0 && what == NULL) {
        what = "close";
        e = errno;
    }
    if (what == NULL && rename(tmp, path) != 0) {
        what = "rename";
        e = errno;
    }
    if (what != NULL) {
        unlink(tmp);
        set_err(err, errlen, "%s: %s of %s failed: %s; old file kept", path, what, tmp,
                strerror(e));
        return -1;
    }

    /* The rename is durable only once the directory is on disk. */
    int dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) {
        set_err(err, errlen, "%s: written, but cannot open directory %s to fsync it: %s", path, dir,
                strerror(errno));
        return -1;
    }
    if (fsync(dfd) != 0) {
        e = errno;
        close(dfd);
        set_err(err, errlen, "%s: written, but fsync of directory %s failed: %s", path, dir,
                strerror(e));
        return -1;
    }
    close(dfd);
    return 0;
}
