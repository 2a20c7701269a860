/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: the daemon's control path (control_respond) on a fake daemon with three
 * associations and a client list of a few hundred sources. Any request must leave no
 * memory error, and what comes back must be a well-formed reply to that very request:
 * mode 6 responses with its sequence and opcode, at most CTL_MAX_FRAGS datagrams of at
 * most 480 octets, fragments that tile the payload from offset 0; nothing at all for a
 * datagram that is not a request (response or more bits, a non-zero offset, bad version).
 * Requests come from one of two sources so that nonces made for one are tried by the
 * other; a READ_MRU request is also retried with a valid nonce, so the deep paths are
 * reached without the fuzzer having to forge the keyed hash.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/ctl.h"
#include "daemon/control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static struct control *ctl;
static struct rl_table *table;
static int64_t now_ms = 1000000;

static void fake_status(void *arg, struct status *st)
{
    (void)arg;
    memset(st, 0, sizeof(*st));
    struct status_sys *s = &st->sys;
    s->leap = 0;
    s->stratum = 2;
    s->precision = -24;
    s->refid = 0xc0000201;
    s->reftime = UINT64_C(0xeec06a1000000000);
    s->rootdelay = 0.012;
    s->rootdisp = 0.02;
    s->peer = 7;
    s->offset = -1e-4;
    s->frequency = -12.5;
    s->state = "synchronized";
    s->clock_kind = "sim";
    s->synced = true;
    s->status = ctl_sys_status(0, CTL_SST_NTP, 3, CTL_SEV_SYNC);
    s->n_peers = 3;
    for (unsigned k = 0; k < 3; k++) {
        struct status_peer *p = &st->peer[k];
        p->associd = (uint16_t)(7 + k);
        snprintf(p->host, sizeof(p->host), "host\"%u,\r\n", k);
        snprintf(p->srcadr, sizeof(p->srcadr), "192.0.2.%u", k + 1);
        p->srcport = 123;
        p->hmode = 3;
        p->stratum = (uint8_t)(1 + k);
        p->reach = (uint8_t)(0xff >> k);
        p->n_filt = 8;
        p->sel = k == 0 ? CTL_SEL_SYSPEER : CTL_SEL_CANDIDATE;
        p->why = k == 0 ? NULL : "candidate";
        p->status = ctl_peer_status(CTL_PST_CONFIG | CTL_PST_REACH, p->sel, 1, CTL_PEV_REACH);
    }
}

static unsigned fake_tables(void *arg, const struct rl_table **out, unsigned max)
{
    (void)arg;
    if (max < 1) {
        return 0;
    }
    out[0] = table;
    return 1;
}

static void setup(void)
{
    static const uint8_t key[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
    struct control_env env = {.status = fake_status, .tables = fake_tables, .arg = NULL};
    struct rl_config rc = {3, 2, 8};
    table = calloc(1, rl_size(1024));
    CHECK(table != NULL);
    rl_init(table, 1024, &rc, key);
    for (unsigned i = 0; i < 300; i++) {
        struct net_addr a;
        memset(&a, 0, sizeof(a));
        a.family = i % 3 == 0 ? NET_IPV6 : NET_IPV4;
        a.bytes[0] = a.family == NET_IPV6 ? 0x20 : 10;
        a.bytes[3] = (uint8_t)i;
        a.bytes[15] = (uint8_t)(i * 7);
        struct rl_datagram dg = {.src = &a, .port = (uint16_t)(1000 + i), .mode_version = 0x23};
        rl_account(table, &dg, (int64_t)i * 10);
    }
    ctl = control_new(NULL, &env, key, now_ms, UINT64_C(0xeec06b0000000000));
    CHECK(ctl != NULL);
}

/* The invariants of a reply set to req. */
static void check_reply(const uint8_t *req, size_t len, const struct control_out *out)
{
    struct ctl_msg rq;
    enum ctl_reason r = ctl_decode(req, len, &rq);
    bool request = (r == CTL_OK || r == CTL_BAD_COUNT) &&
                   ctl_check_request(&rq) != CTL_BAD_RESPONSE &&
                   ctl_check_request(&rq) != CTL_BAD_OFFSET;
    if (!request) {
        CHECK(out->n == 0);
        return;
    }
    CHECK(out->n <= CTL_MAX_FRAGS);
    size_t next = 0;
    for (unsigned i = 0; i < out->n; i++) {
        struct ctl_msg m;
        CHECK(out->len[i] >= CTL_HEADER_LEN && out->len[i] <= CTL_HEADER_LEN + CTL_MAX_DATA);
        CHECK(ctl_decode(out->dgram[i], out->len[i], &m) == CTL_OK);
        CHECK(ctl_check_response(&m) == CTL_OK);
        CHECK(m.response && m.seq == rq.seq && m.opcode == rq.opcode);
        CHECK(m.version == rq.version);
        CHECK(m.offset == next);
        CHECK(m.more == (i + 1 < out->n) || m.error);
        /* padding is zero */
        for (size_t p = CTL_HEADER_LEN + m.count; p < out->len[i]; p++) {
            CHECK(out->dgram[i][p] == 0);
        }
        next += m.count;
        if (m.error) {
            CHECK(out->n == 1 && m.count == 0);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct control_out out;
    if (ctl == NULL) {
        setup();
    }
    if (size < 1) {
        return 0;
    }
    struct net_addr src;
    memset(&src, 0, sizeof(src));
    src.family = NET_IPV4;
    src.bytes[0] = 127;
    src.bytes[3] = (uint8_t)(1 + (data[0] & 1));
    uint16_t port = 40000;
    now_ms += 37;
    ntp_ts_t wall = UINT64_C(0xeec06b0000000000) + ((ntp_ts_t)(now_ms - 1000000) << 32) / 1000;
    const uint8_t *req = data + 1;
    size_t len = size - 1;
    control_respond(ctl, req, len, &src, port, now_ms, wall, &out);
    check_reply(req, len, &out);

    /* A READ_MRU request: again with a fresh nonce for this source in front of its data. */
    struct ctl_msg m;
    if (ctl_decode(req, len, &m) == CTL_OK && m.opcode == CTL_OP_READ_MRU && !m.response &&
        m.offset == 0) {
        static const uint8_t nreq[12] = {0x16, CTL_OP_REQ_NONCE, 0, 1};
        control_respond(ctl, nreq, sizeof(nreq), &src, port, now_ms, wall, &out);
        struct ctl_msg nm;
        if (out.n == 1 && ctl_decode(out.dgram[0], out.len[0], &nm) == CTL_OK && nm.count > 0) {
            uint8_t q[CTL_MAX_DGRAM];
            size_t n = nm.count;
            while (n > 0 && (nm.data[n - 1] == '\r' || nm.data[n - 1] == '\n')) {
                n--;
            }
            size_t extra = m.count < CTL_MAX_DATA - n - 2 ? m.count : CTL_MAX_DATA - n - 2;
            uint8_t body[CTL_MAX_DATA];
            memcpy(body, nm.data, n);
            body[n] = ',';
            memcpy(body + n + 1, m.data, extra);
            size_t ql = ctl_encode_request(m.version, CTL_OP_READ_MRU, m.seq, m.associd, body,
                                           n + 1 + extra, q, sizeof(q));
            if (ql > 0) {
                control_respond(ctl, q, ql, &src, port, now_ms, wall, &out);
                check_reply(q, ql, &out);
            }
        }
    }
    return 0;
}
