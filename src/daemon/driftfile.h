/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * driftfile: the `driftfile` directive's file, which keeps the clock's frequency error
 * across restarts. Format: one number, the frequency in ppm, as ntpd and NTPsec write it;
 * chrony adds a second, the skew in ppm. Both forms are read; writing is atomic (temporary
 * file, fsync, rename, fsync of the directory). When to read or write is the engine's.
 */
#ifndef STRATUM_DRIFTFILE_H
#define STRATUM_DRIFTFILE_H

#include <stddef.h>

/* The largest frequency error accepted from or written to the file (ntpd's NTP_MAXFREQ:
 * 500 ppm). */
#define DRIFTFILE_MAX_PPM 500.0
/* A larger skew is not written (it says nothing chrony could use). */
#define DRIFTFILE_MAX_SKEW_PPM 1e6

enum driftfile_status {
    DRIFTFILE_OK = 0,
    DRIFTFILE_MISSING = 1, /* no such file (first start): not an error, start from 0 ppm */
    DRIFTFILE_ERROR = -1,  /* unreadable or invalid: err says why */
};

/* Reads path. On DRIFTFILE_OK sets *freq_ppm and, if skew_ppm is not NULL, *skew_ppm (NAN
 * when the file holds one number). The file must hold one or two decimal numbers separated
 * by white space and nothing else; the frequency must be finite and within
 * +-DRIFTFILE_MAX_PPM, the skew finite and >= 0. On DRIFTFILE_ERROR writes a message with
 * the path and the reason (errno text for system errors) to err (errlen octets, may be 0);
 * outputs are untouched on any status but OK. */
enum driftfile_status driftfile_read(const char *path, double *freq_ppm, double *skew_ppm,
                                     char *err, size_t errlen);

/* Writes freq_ppm (and skew_ppm when it is finite and within 0..DRIFTFILE_MAX_SKEW_PPM;
 * pass NAN for ntpd's one-number form) to path atomically: a temporary "path.XXXXXX" in the
 * same directory is written, fsynced and renamed over path, then the directory is fsynced.
 * Mode 0644. Returns 0, or -1 with a message in err; on failure before the rename the old
 * file is intact and the temporary removed. A failed fsync of the directory after the
 * rename is reported too (the new content is in place but may not survive a crash).
 * freq_ppm must be finite and within +-DRIFTFILE_MAX_PPM. */
int driftfile_write(const char *path, double freq_ppm, double skew_ppm, char *err, size_t errlen);

#endif
