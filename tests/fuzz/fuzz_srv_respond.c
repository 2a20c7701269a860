/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the whole serving path for one datagram (server_handle: access control,
 * classification, rate limiting, reply or KoD). Invariants checked on every input: a
 * reply is never larger than the request, is a well-formed 48-octet NTP packet of mode 4
 * or 2 with the request's version and origin = the request's transmit timestamp.
 */
#include <stddef.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/acl.h"
#include "core/pkt.h"
#include "core/srv.h"
#include "daemon/server.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static struct acl acl;
static struct server_ctx ctx;
static int ready;

static void setup(void)
{
    struct rl_config rl = { .average_log2 = 3, .minimum_s = 2, .burst = 8 };
    acl_init(&acl);
    acl.default4 = ACL_LIMITED | ACL_KOD;
    acl.default6 = ACL_LIMITED | ACL_KOD;
    acl_finish(&acl);
    if (server_ctx_init(&ctx, &acl, &rl, 256, -20, true) != 0) {
        abort();
    }
    ready = 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static const struct srv_sys sys = {
        .leap = 0, .stratum = 3, .precision = -20, .refid = 0x4c4f434c,
        .ref_time = UINT64_C(0xe8b0000000000000), .root_delay = 0.001, .root_disp = 0.002,
    };
    static int64_t now_ms;
    uint8_t out[PKT_MAX_LEN];
    struct net_addr src;

    if (!ready) {
        setup();
    }
    memset(&src, 0, sizeof(src));
    src.family = NET_IPV4;
    src.bytes[0] = 192;
    src.bytes[1] = 0;
    src.bytes[2] = 2;
    src.bytes[3] = (uint8_t)(size & 7);     /* a few sources, so limits are reached */
    uint16_t port = (size / 4) % 2 == 0 ? 123 : 40000;
    now_ms += 250;
    bool control = false;
    size_t n = server_handle(&ctx, &sys, data, size, 0, &src, port,
                             UINT64_C(0xe8b0001000000000), now_ms, out, sizeof(out), &control);
    if (control) {
        /* Handed to the control path: mode 6, and no reply from here. */
        if (n != 0 || size < 1 || (data[0] & 7) != 6) {
            abort();
        }
        return 0;
    }
    if (n == 0) {
        return 0;
    }
    if (n > size || n != PKT_HEADER_LEN) {
        abort();
    }
    struct ntp_packet req, rep;
    if (pkt_decode(out, n, &rep) != PKT_OK || pkt_decode(data, size, &req) != PKT_OK) {
        abort();
    }
    if (rep.mode != PKT_MODE_SERVER && rep.mode != PKT_MODE_PASSIVE) {
        abort();
    }
    if (rep.version != req.version || rep.org != req.xmt) {
        abort();
    }
    if (rep.stratum == 0 && (rep.leap != PKT_LEAP_UNSYNC || rep.refid != 0x52415445)) {
        abort();        /* stratum 0 only as a RATE KoD */
    }
    return 0;
}
