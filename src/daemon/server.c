/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * server: one datagram in, at most one reply out, every outcome counted. The order of
 * checks follows PROTOCOL-CHECKS.md: framing, access control, classification, rate
 * limiting (requests only), then the reply.
 */
#include "server.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int server_ctx_init(struct server_ctx *s, const struct acl *acl, const struct rl_config *rl,
                    uint32_t rl_entries, int8_t precision, bool monitor)
{
    uint8_t key[16];
    memset(s, 0, sizeof(*s));
    s->acl = acl;
    s->precision = precision;
    s->monitor = monitor;
    if (rng_fast_seed(&s->rng) != 0 || rng_bytes(key, sizeof(key)) != 0) {
        return -1;
    }
    /* calloc: pages of the table are touched only as sources arrive, so an idle
     * daemon's RSS does not pay for the table's full size. */
    void *mem = calloc(1, rl_size(rl_entries));
    if (mem == NULL) {
        return -1;
    }
    s->rl = rl_init(mem, rl_entries, rl, key);
    return 0;
}

void server_ctx_free(struct server_ctx *s)
{
    free(s->rl);
    s->rl = NULL;
}

bool server_query_allowed(uint32_t flags, const struct net_addr *src)
{
    if ((flags & ACL_NOQUERY) != 0) {
        return false;
    }
    if ((flags & ACL_CONFIGURED) != 0) {
        return true;
    }
    return net_addr_is_loopback(src);
}

/* Records a datagram in the client list and, for a request under `limited`, judges it. */
static enum rl_verdict note(struct server_ctx *s, const struct net_addr *src, uint16_t port,
                            uint8_t version, uint8_t mode, uint32_t flags, bool limit,
                            int64_t now_ms)
{
    if (!limit && !s->monitor) {
        return RL_PASS;
    }
    struct rl_datagram dg = {
        .src = src,
        .port = port,
        .mode_version = (uint8_t)((version & 7u) << 3 | (mode & 7u)),
        .flags = (uint16_t)flags,
        .limit = limit,
        .kod = (flags & ACL_KOD) != 0,
    };
    return rl_account(s->rl, &dg, now_ms);
}

size_t server_handle(struct server_ctx *s, const struct srv_sys *sys, const uint8_t *req,
                     size_t len, unsigned rx_flags, const struct net_addr *src,
                     uint16_t src_port, ntp_ts_t rx, int64_t now_ms, uint8_t *out, size_t cap,
                     bool *control)
{
    struct ntp_packet p;
    uint8_t reply_mode;
    enum pkt_reason why;
    uint8_t leap, version, mode;

    if (control != NULL) {
        *control = false;
    }
    server_count(s, CNT_RECEIVED);
    if ((rx_flags & SERVER_RX_TRUNCATED) != 0) {
        server_count(s, CNT_TRUNCATED);
        server_count(s, CNT_BADFORMAT);
        server_count(s, CNT_PKT_FIRST + PKT_ERR_LONG);
        return 0;
    }
    pkt_peek(req, len, &leap, &version, &mode);
    if (len > 0) {
        server_count(s, CNT_MODE_FIRST + mode);
        server_count(s, CNT_VERSION_FIRST + version);
    }

    uint32_t flags = acl_match_port(s->acl, src, src_port);
    if ((flags & ACL_IGNORE) != 0) {
        server_count(s, CNT_RESTRICTED);
        return 0;
    }

    enum srv_drop d = srv_classify(req, len, src_port, &p, &reply_mode, &why);
    /* Port 0 cannot be answered (the kernel refuses it), and a request sent to a
     * broadcast or multicast group is not for a unicast server (no manycast here). */
    if ((d == SRV_ANSWER || d == SRV_DROP_CONTROL) &&
        (src_port == 0 || (rx_flags & SERVER_RX_TO_GROUP) != 0)) {
        d = SRV_DROP_UNREACHABLE;
    }
    if (d == SRV_DROP_CONTROL && control != NULL) {
        /* Mode 6: the engine's business; access control first (noquery, and only this
         * host unless configured), then it is recorded like any client. */
        if (!server_query_allowed(flags, src)) {
            server_count(s, CNT_RESTRICTED);
            return 0;
        }
        (void)note(s, src, src_port, version, mode, flags, false, now_ms);
        server_count(s, CNT_CONTROL);
        *control = true;
        return 0;
    }
    server_count(s, CNT_SRV_FIRST + d);
    if (d == SRV_DROP_FORMAT) {
        server_count(s, CNT_BADFORMAT);
        server_count(s, CNT_PKT_FIRST + why);
        return 0;
    }
    if (d == SRV_DROP_AUTH) {
        server_count(s, CNT_BADAUTH);
        return 0;
    }
    if (d != SRV_ANSWER) {
        server_count(s, CNT_DECLINED);
        return 0;
    }
    server_count(s, p.version == 4 ? CNT_THISVER : CNT_OLDVER);
    if (p.version == 1) {
        server_count(s, mode == PKT_MODE_RESERVED ? CNT_V1_ZERO
                        : reply_mode == PKT_MODE_PASSIVE ? CNT_V1_SYMM
                                                         : CNT_V1_CLIENT);
    }

    /* DESIGN: the stateless answer to symmetric active is gated by nopeer as well. */
    if ((flags & ACL_NOSERVE) != 0 ||
        ((flags & ACL_NOPEER) != 0 && reply_mode == PKT_MODE_PASSIVE) ||
        ((flags & ACL_VERSION) != 0 && p.version != 4)) {
        (void)note(s, src, src_port, p.version, p.mode, flags, false, now_ms);
        server_count(s, CNT_RESTRICTED);
        return 0;
    }
    enum rl_verdict v = note(s, src, src_port, p.version, p.mode, flags,
                             (flags & ACL_LIMITED) != 0, now_ms);
    if (v != RL_PASS) {
        server_count(s, CNT_LIMITED);
        if (v == RL_LIMITED_KOD && (flags & ACL_KOD) != 0) {
            size_t n = srv_kod(&p, reply_mode, ntp_refid_from_ascii("RATE"), out, cap);
            if (n > 0) {
                server_count(s, CNT_KODSENT);
            }
            return n <= len ? n : 0;
        }
        return 0;
    }
    size_t n = srv_reply(sys, &p, reply_mode, rx, (uint32_t)rng_fast_u64(&s->rng), out, cap);
    if (n == 0 || n > len) {
        /* Never larger than the request: cannot happen with 48-octet replies, checked
         * anyway because it is the property that keeps us from being an amplifier. */
        return 0;
    }
    server_count(s, CNT_PROCESSED);
    return n;
}

uint64_t server_counter_sum(struct server_ctx *const *ctxs, unsigned n, unsigned i)
{
    uint64_t sum = 0;
    for (unsigned k = 0; k < n; k++) {
        sum += atomic_load_explicit(&ctxs[k]->cnt.v[i], memory_order_relaxed);
    }
    return sum;
}

const char *server_counter_name(unsigned i, char *buf, size_t size)
{
    static const char *const base[] = {
        "ss_received", "ss_thisver", "ss_oldver", "ss_badformat", "ss_badauth",
        "ss_declined", "ss_restricted", "ss_limited", "ss_kodsent", "ss_processed",
        "truncated", "senderr", "control", "ss_ver1client", "ss_ver1zero", "ss_ver1symm",
    };
    if (i < CNT_MODE_FIRST) {
        snprintf(buf, size, "%s", base[i]);
    } else if (i < CNT_VERSION_FIRST) {
        snprintf(buf, size, "mode%u", i - CNT_MODE_FIRST);
    } else if (i < CNT_PKT_FIRST) {
        snprintf(buf, size, "version%u", i - CNT_VERSION_FIRST);
    } else if (i < CNT_SRV_FIRST) {
        snprintf(buf, size, "pkt_%s", pkt_reason_name((enum pkt_reason)(i - CNT_PKT_FIRST)));
    } else {
        snprintf(buf, size, "srv_%s", srv_drop_name((enum srv_drop)(i - CNT_SRV_FIRST)));
    }
    return buf;
}
