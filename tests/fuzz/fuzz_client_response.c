/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: a datagram arriving as the answer to our client request (client_process).
 * Half the inputs (low bit of the poll octet set) are checked against their own origin
 * octets 24..31 as the nonce, so the fuzzer reaches the tests after the origin check; the
 * other half against a fixed nonce. Our send and receive times straddle the 2036 era
 * rollover. Invariants: a KoD has stratum 0; a sample is finite, its delay at least the
 * larger precision, its dispersion and root distance match the formulas of RFC 5905.
 */
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "core/client.h"
#include "core/ntp_time.h"
#include "core/pkt.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define FIXED_NONCE UINT64_C(0x5ca1ab1e0ddba11)
/* t1 0.0625 s before the end of era 0, t4 0.1875 s into era 1. */
#define T1 UINT64_C(0xfffffffff0000000)
#define T4 UINT64_C(0x0000000030000000)

static uint64_t get64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) {
        v = v << 8 | p[i];
    }
    return v;
}

static int close_to(double a, double b)
{
    return fabs(a - b) <= 1e-12 * (fabs(a) + fabs(b)) + 1e-15;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    uint64_t nonce = FIXED_NONCE;
    int8_t local_precision = -20;
    struct ntp_sample s;

    if (size >= 32 && (data[2] & 1) != 0) {
        nonce = get64(data + 24);
    }
    if (size >= 3) {
        /* Our precision from the poll octet too: 2^0 .. 2^-31 s. */
        local_precision = (int8_t)(0 - (int)((data[2] >> 1) & 31));
    }
    enum client_reject r = client_process(data, size, nonce, T1, T4, local_precision, &s);
    if ((unsigned)r >= CLIENT_REJECT_COUNT || client_reject_name(r) == NULL) {
        abort();
    }
    struct ntp_packet p;
    int decodes = pkt_decode(data, size, &p) == PKT_OK;
    if ((r == CLIENT_FORMAT) == decodes) {
        abort();
    }
    if (r == CLIENT_KOD && (s.stratum != 0 || p.stratum != 0 || p.org != nonce)) {
        abort();
    }
    if (r != CLIENT_OK) {
        return 0;
    }
    /* A sample only from a server response to our nonce, with both timestamps set. */
    if (p.mode != PKT_MODE_SERVER || nonce == 0 || p.org != nonce || p.rec == 0 || p.xmt == 0 ||
        s.stratum == 0 || s.stratum >= 16 || s.leap == PKT_LEAP_UNSYNC) {
        abort();
    }
    if (!isfinite(s.offset) || !isfinite(s.delay) || !isfinite(s.dispersion) ||
        !isfinite(s.root_delay) || !isfinite(s.root_disp) || !isfinite(s.root_distance)) {
        abort();
    }
    double prec = fmax(ldexp(1.0, s.precision), ldexp(1.0, local_precision));
    if (s.delay < 0.0 || s.delay < prec || s.root_distance < 0.0 || s.dispersion < 0.0) {
        abort();
    }
    if (s.root_delay / 2.0 + s.root_disp >= CLIENT_MAXDISP) {
        abort();
    }
    /* Recompute from the wire timestamps (RFC 5905 sec. 8). */
    double offset = (ntp_ts_diff(p.rec, T1) + ntp_ts_diff(p.xmt, T4)) / 2.0;
    double delay = fmax(ntp_ts_diff(T4, T1) - ntp_ts_diff(p.xmt, p.rec), prec);
    double disp =
        ldexp(1.0, s.precision) + ldexp(1.0, local_precision) + 15e-6 * ntp_ts_diff(T4, T1);
    double dist = (s.root_delay + s.delay) / 2.0 + s.root_disp + s.dispersion;
    if (!close_to(s.offset, offset) || !close_to(s.delay, delay) || !close_to(s.dispersion, disp) ||
        !close_to(s.root_distance, dist)) {
        abort();
    }
    if (s.t1 != T1 || s.t4 != T4 || s.t2 != p.rec || s.t3 != p.xmt) {
        abort();
    }
    return 0;
}
