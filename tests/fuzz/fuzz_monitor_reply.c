/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the fleet monitor's reading of a device's answers (src/monitor/probe.c),
 * the part a hostile or broken device controls. One input is a probe and a conversation:
 *   octet 0: bit 0 the probe kind (ntp / ntpq), bits 1-2 how many requests to send first
 *   octets 1-8: the NTP nonce, 9-10: the mode 6 sequence number
 *   then datagrams, each: 2 octets flags+length (length = low 11 bits; bit 15: patch the
 *   origin timestamp to our nonce, bit 14: patch the mode 6 sequence number and
 *   association to ours, bit 13: a timeout after this datagram), then the octets.
 * The patches let the fuzzer past the nonce and sequence checks. Invariants: the result's
 * strings are terminated and printable, its status in range, an ok result has a finite
 * offset and delay, and nothing is accepted after the probe is done.
 */
#include <assert.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ctl.h"
#include "monitor/probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    assert(n < cap);
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        /* error texts are ours; device strings are made printable */
        assert(c >= 0x20 && c != 0x7f);
    }
}

static void check_result(const struct mon_result *r)
{
    assert((unsigned)r->status < MON_STATUS_COUNT);
    check_text(r->refid, sizeof(r->refid));
    check_text(r->dev_peer, sizeof(r->dev_peer));
    check_text(r->error, sizeof(r->error));
    if (r->status == MON_OK) {
        assert(isfinite(r->offset) && isfinite(r->delay));
    }
    assert(r->dev_synced >= -1 && r->dev_synced <= 1);
}

#define T1 UINT64_C(0xeb00000000000000)

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 11) {
        return 0;
    }
    static struct ctl_reasm reasm;
    struct probe p;
    struct mon_result r;
    enum mon_probe kind = (data[0] & 1) ? MON_PROBE_NTPQ : MON_PROBE_NTP;
    int rounds = 1 + ((data[0] >> 1) & 3);
    uint64_t nonce = 0;
    for (int i = 0; i < 8; i++) {
        nonce = nonce << 8 | data[1 + i];
    }
    uint16_t seq = (uint16_t)(data[9] << 8 | data[10]);
    probe_init(&p, kind);
    mon_result_init(&r, 1);
    if (probe_wants_ctl(&p)) {
        p.reasm = &reasm;
    }
    uint8_t out[CTL_MAX_DGRAM];
    for (int k = 0; k < rounds; k++) {
        probe_ntp_request(&p, out, sizeof(out), nonce + (uint64_t)k, T1 + (uint64_t)k);
        probe_ctl_request(&p, out, sizeof(out), (uint16_t)(seq + k));
    }
    size_t pos = 11;
    uint8_t buf[2048];
    while (pos + 2 <= size) {
        unsigned hdr = (unsigned)data[pos] << 8 | data[pos + 1];
        pos += 2;
        size_t len = hdr & 0x7ff;
        if (len > size - pos) {
            len = size - pos;
        }
        memcpy(buf, data + pos, len);
        pos += len;
        if ((hdr & 0x8000) && len >= 32) {
            /* the latest try's nonce as the origin */
            uint64_t o = p.tries > 0 ? p.nonce[p.tries - 1] : nonce;
            for (int i = 0; i < 8; i++) {
                buf[24 + i] = (uint8_t)(o >> (56 - 8 * i));
            }
        }
        if ((hdr & 0x4000) && len >= 8) {
            buf[2] = (uint8_t)(p.ctl_seq >> 8);
            buf[3] = (uint8_t)p.ctl_seq;
            buf[6] = (uint8_t)(p.ctl_assoc >> 8);
            buf[7] = (uint8_t)p.ctl_assoc;
        }
        bool was_done = p.done;
        enum probe_drop why = PROBE_DROP_COUNT;
        enum probe_rx rx = probe_receive(&p, buf, len, T1 + UINT64_C(0x10000000), -20, &r, &why);
        if (was_done) {
            assert(rx == PROBE_RX_IGNORED && why == PROBE_DROP_LATE);
        }
        if (rx == PROBE_RX_IGNORED) {
            assert((unsigned)why < PROBE_DROP_COUNT);
        }
        if (rx == PROBE_RX_SEND) {
            size_t n = probe_ctl_request(&p, out, sizeof(out), (uint16_t)(p.ctl_seq + 1));
            assert(n > 0 && n <= sizeof(out));
        }
        check_result(&r);
        if (hdr & 0x2000) {
            probe_finish(&p, &r);
            check_result(&r);
            assert(p.done);
        }
    }
    probe_finish(&p, &r);
    check_result(&r);
    assert(p.done && !p.ntp_pending && !p.ctl_pending);
    return 0;
}
