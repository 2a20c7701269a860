/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ntp_time: the NTP wire time formats (64-bit 32.32 timestamps, 32-bit 16.16 short
 * format), era resolution against a pivot, conversion to and from struct timespec,
 * signed differences valid across the 2036 rollover, and refid rules.
 * Pure: no clock reads, no system calls. Absolute times are never doubles.
 */
#ifndef STRATUM_NTP_TIME_H
#define STRATUM_NTP_TIME_H

#include <stdint.h>
#include <time.h>

/* 32.32 fixed point seconds since the start of an NTP era (era 0 starts 1900-01-01). */
typedef uint64_t ntp_ts_t;
/* 16.16 fixed point seconds (root delay, root dispersion). */
typedef uint32_t ntp_short_t;

/* Seconds from 1900-01-01 (NTP era 0) to 1970-01-01 (Unix epoch). */
#define NTP_UNIX_OFFSET INT64_C(2208988800)
/* Seconds in one NTP era (2^32). */
#define NTP_ERA_SECONDS INT64_C(4294967296)

/* Folds a Unix time (any era) into a wire timestamp. Rounds nanoseconds to nearest. */
ntp_ts_t ntp_ts_from_timespec(const struct timespec *ts);

/* Resolves the era of wire timestamp t to the Unix time nearest pivot_unix_sec (RFC 5905
 * sec. 6: the era is ambiguous on the wire; the local clock disambiguates) and writes it
 * to out (tv_nsec in [0, 1e9)). */
void ntp_ts_to_timespec(ntp_ts_t t, int64_t pivot_unix_sec, struct timespec *out);

/* a - b in seconds, computed in 64-bit two's complement so it is correct across an era
 * boundary when |a - b| < 68 years. */
double ntp_ts_diff(ntp_ts_t a, ntp_ts_t b);

/* t + s seconds (s may be negative), wrapping across eras. */
ntp_ts_t ntp_ts_add(ntp_ts_t t, double s);

/* Signed comparison by ntp_ts_diff: <0, 0, >0. */
int ntp_ts_cmp(ntp_ts_t a, ntp_ts_t b);

/* Short format to seconds. */
double ntp_short_to_double(ntp_short_t s);
/* Seconds to short format, rounded up to the next unit; negatives and NaN give 0, values
 * beyond 65535.99998 s saturate. */
ntp_short_t ntp_short_from_double(double s);

/* timespec helpers: a - b in seconds; add seconds in place (normalised). */
double ntp_timespec_diff(const struct timespec *a, const struct timespec *b);
void ntp_timespec_add(struct timespec *ts, double s);

/* Refids. A refid is held in host order with the first wire octet as the most
 * significant byte, so 'L','O','C','L' is 0x4c4f434c. */
uint32_t ntp_refid_ipv4(const uint8_t addr[4]);
/* RFC 5905 sec. 7.3: first four octets of the MD5 digest of the IPv6 address. */
uint32_t ntp_refid_ipv6(const uint8_t addr[16]);
/* Up to 4 ASCII characters, NUL padded ("RATE" -> 0x52415445). */
uint32_t ntp_refid_from_ascii(const char *code);
/* Printable form of an ASCII refid: non-printable octets become '.'; trailing NULs are
 * dropped. out gets at most 4 characters and a NUL. */
void ntp_refid_to_ascii(uint32_t refid, char out[5]);

/* Kiss codes (RFC 5905 sec. 7.4) we act on or recognise. */
enum ntp_kiss {
    NTP_KISS_UNKNOWN = 0,
    NTP_KISS_ACST, NTP_KISS_AUTH, NTP_KISS_AUTO, NTP_KISS_BCST, NTP_KISS_CRYP,
    NTP_KISS_DENY, NTP_KISS_DROP, NTP_KISS_RSTR, NTP_KISS_INIT, NTP_KISS_MCST,
    NTP_KISS_NKEY, NTP_KISS_NTSN, NTP_KISS_RATE, NTP_KISS_RMOT, NTP_KISS_STEP,
};
enum ntp_kiss ntp_kiss_from_refid(uint32_t refid);
/* The four-letter code, or "????" for NTP_KISS_UNKNOWN. */
const char *ntp_kiss_name(enum ntp_kiss k);

#endif
