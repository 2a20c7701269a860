/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ntp_time: NTP 32.32 timestamps and 16.16 short values, era resolution, timespec
 * conversion and refids. Pure: no clock reads, no system calls, no mutable globals; "now"
 * arrives as a pivot. The MD5 for IPv6 refids goes through the crypto seam (crypto.h).
 * Wrapping arithmetic is done on unsigned types, so no value (from the wire or not) can
 * cause signed overflow.
 */
#include "ntp_time.h"

#include <math.h>
#include <stddef.h>
#include <string.h>

#include "crypto.h"

#define NSEC_PER_SEC INT64_C(1000000000)
#define FRAC_PER_SEC 4294967296.0 /* 2^32 units of the 32.32 fraction */

/* Largest magnitude (seconds) that ntp_ts_add and ntp_timespec_add accept; larger values
 * are clamped. Far beyond any meaningful offset, well inside int64_t once scaled. */
#define ADD_LIMIT_SEC 1e9

/* Two's complement reinterpretation without relying on implementation-defined
 * unsigned-to-signed conversion. */
static int64_t u64_to_s64(uint64_t u)
{
    if (u <= (uint64_t)INT64_MAX) {
        return (int64_t)u;
    }
    return -(int64_t)(~u) - 1;
}

/* Fraction of a second (ns, [0, 1e9)) to 32.32 fraction units, rounded to nearest. The
 * largest input, 999999999 ns, gives 0xfffffffc: the result never reaches 2^32. */
static uint32_t nsec_to_frac(int64_t nsec)
{
    uint64_t f = ((uint64_t)nsec << 32) + (uint64_t)(NSEC_PER_SEC / 2);
    return (uint32_t)(f / (uint64_t)NSEC_PER_SEC);
}

/* Normalises a possibly denormal timespec into whole seconds and [0, 1e9) ns. Seconds
 * wrap (two's complement) rather than overflow at the extremes of int64_t. */
static void split_timespec(const struct timespec *ts, int64_t *sec, int64_t *nsec)
{
    uint64_t s = (uint64_t)(int64_t)ts->tv_sec;
    int64_t n = (int64_t)ts->tv_nsec;

    s += (uint64_t)(n / NSEC_PER_SEC);
    n %= NSEC_PER_SEC;
    if (n < 0) {
        n += NSEC_PER_SEC;
        s -= 1;
    }
    *sec = u64_to_s64(s);
    *nsec = n;
}

ntp_ts_t ntp_ts_from_timespec(const struct timespec *ts)
{
    int64_t sec, nsec;

    split_timespec(ts, &sec, &nsec);
    /* RFC 5905 sec. 6: the wire carries the seconds of the era only, i.e. the NTP
     * seconds modulo 2^32. Unsigned addition wraps instead of overflowing. */
    uint32_t wire_sec = (uint32_t)((uint64_t)sec + (uint64_t)NTP_UNIX_OFFSET);
    return ((uint64_t)wire_sec << 32) | nsec_to_frac(nsec);
}

void ntp_ts_to_timespec(ntp_ts_t t, int64_t pivot_unix_sec, struct timespec *out)
{
    uint32_t wire_sec = (uint32_t)(t >> 32);
    uint32_t frac = (uint32_t)t;
    uint32_t pivot_wire = (uint32_t)((uint64_t)pivot_unix_sec + (uint64_t)NTP_UNIX_OFFSET);

    /* RFC 5905 sec. 6: of all times that share these era seconds, take the one within
     * half an era of the pivot: [pivot - 2^31, pivot + 2^31). */
    int64_t delta = (int64_t)(uint32_t)(wire_sec - pivot_wire);
    if (delta >= INT64_C(0x80000000)) {
        delta -= NTP_ERA_SECONDS;
    }
    uint64_t sec = (uint64_t)pivot_unix_sec + (uint64_t)delta;

    /* Fraction to ns, rounded to nearest; 0xfffffffe and up round to a whole second. */
    int64_t nsec = (int64_t)(((uint64_t)frac * (uint64_t)NSEC_PER_SEC + (UINT64_C(1) << 31)) >> 32);
    if (nsec >= NSEC_PER_SEC) {
        nsec -= NSEC_PER_SEC;
        sec += 1;
    }
    out->tv_sec = (time_t)u64_to_s64(sec);
    out->tv_nsec = (long)nsec;
}

double ntp_ts_diff(ntp_ts_t a, ntp_ts_t b)
{
    /* RFC 5905 sec. 6: the difference of two timestamps in 64-bit two's complement is
     * right whatever their eras, as long as they are within 68 years of each other. */
    return (double)u64_to_s64(a - b) / FRAC_PER_SEC;
}

ntp_ts_t ntp_ts_add(ntp_ts_t t, double s)
{
    if (isnan(s)) {
        return t;
    }
    if (s > ADD_LIMIT_SEC) {
        s = ADD_LIMIT_SEC;
    } else if (s < -ADD_LIMIT_SEC) {
        s = -ADD_LIMIT_SEC;
    }
    int64_t units = (int64_t)llround(s * FRAC_PER_SEC);
    return t + (uint64_t)units;
}

int ntp_ts_cmp(ntp_ts_t a, ntp_ts_t b)
{
    int64_t d = u64_to_s64(a - b);
    return (d > 0) - (d < 0);
}

double ntp_short_to_double(ntp_short_t s)
{
    return (double)s / 65536.0;
}

ntp_short_t ntp_short_from_double(double s)
{
    /* Root delay and dispersion are error bounds: rounding up never understates them. The
     * negated comparison also catches NaN. */
    if (!(s > 0.0)) {
        return 0;
    }
    double scaled = s * 65536.0;
    if (scaled >= 4294967295.0) {
        return UINT32_MAX;
    }
    /* ceil() without the libm call: this runs twice for every reply served. */
    uint32_t units = (uint32_t)scaled;
    if ((double)units < scaled) {
        units++;
    }
    return units;
}

double ntp_timespec_diff(const struct timespec *a, const struct timespec *b)
{
    int64_t sec = u64_to_s64((uint64_t)(int64_t)a->tv_sec - (uint64_t)(int64_t)b->tv_sec);
    int64_t nsec = (int64_t)a->tv_nsec - (int64_t)b->tv_nsec;
    return (double)sec + (double)nsec / 1e9;
}

void ntp_timespec_add(struct timespec *ts, double s)
{
    int64_t sec, nsec;

    if (isnan(s)) {
        return;
    }
    if (s > ADD_LIMIT_SEC) {
        s = ADD_LIMIT_SEC;
    } else if (s < -ADD_LIMIT_SEC) {
        s = -ADD_LIMIT_SEC;
    }
    double whole = floor(s);
    int64_t add_sec = (int64_t)whole;
    int64_t add_nsec = (int64_t)llround((s - whole) * 1e9); /* [0, 1e9], 1e9 carries below */

    split_timespec(ts, &sec, &nsec);
    nsec += add_nsec;
    uint64_t usec = (uint64_t)sec + (uint64_t)add_sec;
    if (nsec >= NSEC_PER_SEC) {
        nsec -= NSEC_PER_SEC;
        usec += 1;
    }
    ts->tv_sec = (time_t)u64_to_s64(usec);
    ts->tv_nsec = (long)nsec;
}

uint32_t ntp_refid_ipv4(const uint8_t addr[4])
{
    return (uint32_t)addr[0] << 24 | (uint32_t)addr[1] << 16 | (uint32_t)addr[2] << 8 |
           (uint32_t)addr[3];
}

uint32_t ntp_refid_ipv6(const uint8_t addr[16])
{
    uint8_t digest[16];

    /* RFC 5905 sec. 7.3: an IPv6 refid is the first four octets of the MD5 hash of the
     * address. A failing backend gives 0, a refid no peer has, rather than garbage. */
    if (crypto_md5(addr, 16, digest) != 0) {
        return 0;
    }
    return (uint32_t)digest[0] << 24 | (uint32_t)digest[1] << 16 | (uint32_t)digest[2] << 8 |
           (uint32_t)digest[3];
}

uint32_t ntp_refid_from_ascii(const char *code)
{
    uint32_t refid = 0;

    for (int i = 0; i < 4; i++) {
        uint8_t c = 0;
        if (code != NULL && code[0] != '\0') {
            c = (uint8_t)*code++;
        }
        refid = refid << 8 | c;
    }
    return refid;
}

void ntp_refid_to_ascii(uint32_t refid, char out[5])
{
    uint8_t octet[4];
    int n = 4;

    for (int i = 0; i < 4; i++) {
        octet[i] = (uint8_t)(refid >> (24 - 8 * i));
    }
    while (n > 0 && octet[n - 1] == 0) {
        n--;
    }
    for (int i = 0; i < n; i++) {
        out[i] = (octet[i] >= 0x20 && octet[i] <= 0x7e) ? (char)octet[i] : '.';
    }
    out[n] = '\0';
}

/* Indexed by enum ntp_kiss; entry 0 is the name of NTP_KISS_UNKNOWN. */
static const char *const kiss_names[] = {
    [NTP_KISS_UNKNOWN] = "????", [NTP_KISS_ACST] = "ACST", [NTP_KISS_AUTH] = "AUTH",
    [NTP_KISS_AUTO] = "AUTO",    [NTP_KISS_BCST] = "BCST", [NTP_KISS_CRYP] = "CRYP",
    [NTP_KISS_DENY] = "DENY",    [NTP_KISS_DROP] = "DROP", [NTP_KISS_RSTR] = "RSTR",
    [NTP_KISS_INIT] = "INIT",    [NTP_KISS_MCST] = "MCST", [NTP_KISS_NKEY] = "NKEY",
    [NTP_KISS_NTSN] = "NTSN",    [NTP_KISS_RATE] = "RATE", [NTP_KISS_RMOT] = "RMOT",
    [NTP_KISS_STEP] = "STEP",
};

#define KISS_COUNT (sizeof(kiss_names) / sizeof(kiss_names[0]))

enum ntp_kiss ntp_kiss_from_refid(uint32_t refid)
{
    /* RFC 5905 sec. 7.4: kiss codes are exact four-letter ASCII strings; anything else,
     * including a different case, is unknown and (sec. 7.4) to be ignored. */
    for (size_t k = 1; k < KISS_COUNT; k++) {
        if (ntp_refid_from_ascii(kiss_names[k]) == refid) {
            return (enum ntp_kiss)k;
        }
    }
    return NTP_KISS_UNKNOWN;
}

const char *ntp_kiss_name(enum ntp_kiss k)
{
    if ((size_t)k >= KISS_COUNT) {
        return kiss_names[NTP_KISS_UNKNOWN];
    }
    return kiss_names[k];
}
