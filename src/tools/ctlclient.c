/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ctlclient: requests, retries and the MRU walk over one connected UDP socket. What ntpq
 * does (NTPsec ntp/packet.py) is the model: version 2 requests, a reply complete when the
 * last fragment is in and the offsets from 0 leave no gap, one retry, and for the client
 * list a nonce, READ_MRU with frags, resume points addr.N/last.N echoed exactly as the
 * server sent them, until the server sends `now`.
 */
#include "ctlclient.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/rng.h"
#include "tools/query.h"

/* ntpq's mode 6 version. */
#define CTLC_VERSION 2
/* ntpq's MAXFRAGS: what a READ_MRU asks for first. */
#define CTLC_MRU_FRAGS 32
/* Resume points sent with each READ_MRU (ntpd reads up to 16). */
#define CTLC_MRU_RESUME 8
/* A nonce is good for 16 s at the server (NONCE_TIMEOUT); fetch a new one before. */
#define CTLC_NONCE_MAX_AGE_NS INT64_C(12000000000)
/* Datagrams read per readiness before polling again. */
#define CTLC_DRAIN 64

enum ctlc_result ctlc_open(struct ctlc *c, const char *target, const struct ctlc_opts *o)
{
    char host[256], service[8];
    uint16_t port;
    memset(c, 0, sizeof(*c));
    c->sock = PLAT_NO_SOCK;
    double ms = o->timeout * 1000.0 + 0.5;
    c->timeout_ms = ms < 1.0 ? 1 : ms > 600000.0 ? 600000 : (int)ms;
    if (rng_bytes(&c->seq, sizeof(c->seq)) != 0) {
        c->seq = (uint16_t)plat_mono_ns();
    }
    snprintf(c->host, sizeof(c->host), "%s", target);
    if (q_parse_target(target, o->port, host, sizeof(host), &port, c->err, sizeof(c->err)) != 0) {
        return CTLC_USAGE;
    }
    c->port = port;
    snprintf(service, sizeof(service), "%u", (unsigned)port);
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = o->family == 4 ? AF_INET : o->family == 6 ? AF_INET6 : AF_UNSPEC;
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_protocol = IPPROTO_UDP;
    hints.ai_flags = AI_NUMERICSERV;
    int g = getaddrinfo(host, service, &hints, &res);
    if (g != 0 || res == NULL) {
        snprintf(c->err, sizeof(c->err), "cannot resolve '%s': %s", host,
                 g != 0 ? gai_strerror(g) : "no address");
        if (res != NULL) {
            freeaddrinfo(res);
        }
        return CTLC_NAME;
    }
    if (getnameinfo(res->ai_addr, (socklen_t)res->ai_addrlen, c->addr_text, sizeof(c->addr_text),
                    NULL, 0, NI_NUMERICHOST) != 0) {
        snprintf(c->addr_text, sizeof(c->addr_text), "%.63s", host);
    }
    char err[200];
    c->sock = plat_udp_client(res->ai_addr, (socklen_t)res->ai_addrlen, err, sizeof(err));
    freeaddrinfo(res);
    if (c->sock == PLAT_NO_SOCK) {
        bool perm = plat_error_is_permission();
        snprintf(c->err, sizeof(c->err), "%s", err);
        return perm ? CTLC_DENIED : CTLC_NETWORK;
    }
    return CTLC_OK;
}

void ctlc_close(struct ctlc *c)
{
    if (c->sock != PLAT_NO_SOCK) {
        plat_close(c->sock);
        c->sock = PLAT_NO_SOCK;
    }
}

const char *ctlc_error_code_name(enum ctl_error e)
{
    static const char *const names[] = {"UNSPEC",   "PERMISSION", "BADFMT",   "BADOP",
                                        "BADASSOC", "UNKNOWNVAR", "BADVALUE", "RESTRICT"};
    return (unsigned)e < sizeof(names) / sizeof(names[0]) ? names[e] : "UNKNOWN";
}

static const char *opcode_name(uint8_t op)
{
    switch (op) {
    case CTL_OP_READSTAT:
        return "READSTAT";
    case CTL_OP_READVAR:
        return "READVAR";
    case CTL_OP_READ_MRU:
        return "READ_MRU";
    case CTL_OP_REQ_NONCE:
        return "REQ_NONCE";
    default:
        return "request";
    }
}

/* Where the request went, for messages: "127.0.0.1 port 123". */
static const char *where(const struct ctlc *c, char *b, size_t size)
{
    snprintf(b, size, "%s port %u", c->addr_text, (unsigned)c->port);
    return b;
}

enum ctlc_result ctlc_request(struct ctlc *c, uint8_t opcode, uint16_t associd, const char *data)
{
    uint8_t req[CTL_HEADER_LEN + CTL_MAX_DATA + 4];
    uint8_t buf[2048];
    char w[96];
    size_t dlen = data != NULL ? strlen(data) : 0;
    enum ctl_reason bad = CTL_OK;
    bool bad_seen = false;
    unsigned partial = 0; /* the most fragments of an incomplete reply, over both tries */

    c->err[0] = '\0';
    c->err_code = CTL_ERR_UNSPEC;
    if (c->sock == PLAT_NO_SOCK) {
        snprintf(c->err, sizeof(c->err), "no session");
        return CTLC_NETWORK;
    }
    if (dlen > CTL_MAX_DATA) {
        snprintf(c->err, sizeof(c->err), "%s: request of %zu octets is too long",
                 opcode_name(opcode), dlen);
        return CTLC_USAGE;
    }
    for (int attempt = 0; attempt < 2; attempt++) {
        c->seq = (uint16_t)(c->seq + 1);
        size_t rl =
            ctl_encode_request(CTLC_VERSION, opcode, c->seq, associd, data, dlen, req, sizeof(req));
        ctl_reasm_init(&c->r);
        c->requests++;
        if (rl == 0 || plat_send(c->sock, req, rl) != 0) {
            bool perm = plat_error_is_permission();
            snprintf(c->err, sizeof(c->err), "cannot send to %s: %s", where(c, w, sizeof(w)),
                     plat_error_text());
            return perm ? CTLC_DENIED : CTLC_NETWORK;
        }
        int64_t deadline = plat_mono_ns() + (int64_t)c->timeout_ms * 1000000;
        for (;;) {
            int64_t left = deadline - plat_mono_ns();
            if (left <= 0) {
                break;
            }
            bool ready = false;
            int pr = plat_poll(&c->sock, 1, (int)((left + 999999) / 1000000), &ready);
            if (pr < 0) {
                snprintf(c->err, sizeof(c->err), "poll: %s", plat_error_text());
                return CTLC_NETWORK;
            }
            if (!ready) {
                continue;
            }
            for (int k = 0; k < CTLC_DRAIN; k++) {
                size_t len = 0;
                bool trunc = false, have_ts = false;
                struct timespec ts;
                enum plat_recv_status st =
                    plat_recv(c->sock, buf, sizeof(buf), &len, &trunc, &have_ts, &ts);
                if (st == PLAT_RECV_AGAIN) {
                    break;
                }
                if (st == PLAT_RECV_REFUSED) {
                    snprintf(c->err, sizeof(c->err), "connection refused: nothing listens on %s",
                             where(c, w, sizeof(w)));
                    return CTLC_NETWORK;
                }
                if (st != PLAT_RECV_OK) {
                    snprintf(c->err, sizeof(c->err), "receive from %s: %s", where(c, w, sizeof(w)),
                             plat_error_text());
                    return CTLC_NETWORK;
                }
                c->datagrams++;
                struct ctl_msg m;
                enum ctl_reason why = trunc ? CTL_BAD_LONG : ctl_decode(buf, len, &m);
                if (why == CTL_OK && !m.response) {
                    c->ignored++; /* a request (our own, reflected?): not an answer */
                    continue;
                }
                if (why == CTL_OK) {
                    why = ctl_check_response(&m);
                }
                if (why != CTL_OK) {
                    bad = why;
                    bad_seen = true;
                    c->ignored++;
                    continue;
                }
                switch (ctl_reasm_add(&c->r, &m, c->seq, opcode)) {
                case CTL_REASM_IGNORED:
                    c->ignored++;
                    break;
                case CTL_REASM_BAD:
                    snprintf(c->err, sizeof(c->err),
                             "malformed reply from %s: %s fragments that do not fit together",
                             where(c, w, sizeof(w)), opcode_name(opcode));
                    return CTLC_BAD;
                case CTL_REASM_ERROR:
                    c->err_code = ctl_error_of(c->r.status);
                    c->leap = m.leap;
                    if (associd != 0) {
                        snprintf(w, sizeof(w), "%s of association %u", opcode_name(opcode),
                                 (unsigned)associd);
                    } else {
                        snprintf(w, sizeof(w), "%s", opcode_name(opcode));
                    }
                    snprintf(c->err, sizeof(c->err), "server error %s (%s) for %s",
                             ctlc_error_code_name(c->err_code), ctl_error_name(c->err_code), w);
                    return CTLC_SERVER;
                case CTL_REASM_MORE:
                    if (c->r.fragments > partial) {
                        partial = c->r.fragments;
                    }
                    c->leap = m.leap;
                    deadline = plat_mono_ns() + (int64_t)c->timeout_ms * 1000000;
                    break;
                case CTL_REASM_DONE:
                    c->leap = m.leap;
                    return CTLC_OK;
                }
            }
        }
    }
    if (bad_seen && partial == 0) {
        snprintf(c->err, sizeof(c->err), "malformed reply from %s (%s) to %s",
                 where(c, w, sizeof(w)), ctl_reason_name(bad), opcode_name(opcode));
        return CTLC_BAD;
    }
    if (partial > 0) {
        snprintf(c->err, sizeof(c->err),
                 "incomplete reply from %s to %s (%u fragments, then nothing for %d ms; sent "
                 "twice)",
                 where(c, w, sizeof(w)), opcode_name(opcode), partial, c->timeout_ms);
    } else {
        snprintf(c->err, sizeof(c->err), "no answer from %s within %.3g s (%s sent twice)",
                 where(c, w, sizeof(w)), c->timeout_ms / 1000.0, opcode_name(opcode));
    }
    return CTLC_TIMEOUT;
}

const char *ctlc_text(const struct ctlc *c)
{
    return (const char *)c->r.buf;
}

size_t ctlc_len(const struct ctlc *c)
{
    return c->r.seen_last ? c->r.end : 0;
}

enum ctlc_result ctlc_readstat(struct ctlc *c, uint16_t *sys_status, struct ctlv_assoc *out,
                               size_t cap, size_t *n)
{
    *n = 0;
    enum ctlc_result r = ctlc_request(c, CTL_OP_READSTAT, 0, NULL);
    if (r != CTLC_OK) {
        return r;
    }
    *sys_status = c->r.status;
    *n = ctlv_parse_assocs(c->r.buf, ctlc_len(c), out, cap);
    return CTLC_OK;
}

enum ctlc_result ctlc_readvar(struct ctlc *c, uint16_t associd, const char *names, uint16_t *status)
{
    enum ctlc_result r = ctlc_request(c, CTL_OP_READVAR, associd, names);
    if (r == CTLC_OK && status != NULL) {
        *status = c->r.status;
    }
    return r;
}

/* ---- the client list ------------------------------------------------------------------ */

/* The address part of an MRU "ip:port" / "[v6]:port" (the key: one entry per address). */
static size_t ip_part(const char *addr, const char **start)
{
    if (addr[0] == '[') {
        const char *e = strchr(addr, ']');
        *start = addr + 1;
        return e != NULL ? (size_t)(e - addr - 1) : strlen(addr) - 1;
    }
    const char *e = strrchr(addr, ':');
    *start = addr;
    return e != NULL ? (size_t)(e - addr) : strlen(addr);
}

static int mru_key_cmp(const void *a, const void *b)
{
    const struct ctlv_mru_entry *x = a, *y = b;
    const char *xs, *ys;
    size_t xl = ip_part(x->addr, &xs), yl = ip_part(y->addr, &ys);
    int r = memcmp(xs, ys, xl < yl ? xl : yl);
    if (r != 0) {
        return r;
    }
    if (xl != yl) {
        return xl < yl ? -1 : 1;
    }
    return ntp_ts_cmp(x->last, y->last);
}

static bool mru_append(struct ctlc_mru *m, const struct ctlv_mru_entry *e)
{
    if (m->n == m->cap) {
        size_t want = m->cap == 0 ? 256 : m->cap * 2;
        if (want > CTLC_MRU_MAX_ENTRIES) {
            want = CTLC_MRU_MAX_ENTRIES;
        }
        if (want <= m->cap) {
            return false;
        }
        struct ctlv_mru_entry *p = realloc(m->e, want * sizeof(*p));
        if (p == NULL) {
            return false;
        }
        m->e = p;
        m->cap = want;
    }
    m->e[m->n++] = *e;
    return true;
}

void ctlc_mru_free(struct ctlc_mru *m)
{
    free(m->e);
    memset(m, 0, sizeof(*m));
}

static enum ctlc_result fetch_nonce(struct ctlc *c, struct ctlv_mru_entry *rows, char *nonce,
                                    size_t size, int64_t *when)
{
    struct ctlv_mru_reply rep;
    enum ctlc_result r = ctlc_request(c, CTL_OP_REQ_NONCE, 0, NULL);
    if (r != CTLC_OK) {
        return r;
    }
    ctlv_parse_mru(ctlc_text(c), ctlc_len(c), &rep, rows, 1);
    if (rep.nonce[0] == '\0') {
        snprintf(c->err, sizeof(c->err),
                 "malformed reply from %s port %u: no nonce in the "
                 "REQ_NONCE reply",
                 c->addr_text, (unsigned)c->port);
        return CTLC_BAD;
    }
    snprintf(nonce, size, "%s", rep.nonce);
    *when = plat_mono_ns();
    return CTLC_OK;
}

enum ctlc_result ctlc_mrulist(struct ctlc *c, struct ctlc_mru *m)
{
    struct ctlv_mru_reply rep;
    char nonce[CTLV_STR], req[CTL_MAX_DATA + 1];
    /* The newest entries received, newest first: the resume points of the next request. */
    struct {
        char addr[CTLV_STR];
        char last[24];
    } held[CTLC_MRU_RESUME];
    size_t n_held = 0, received = 0;
    int frags = CTLC_MRU_FRAGS, shrinks = 0, empty = 0;
    int64_t nonce_at = 0;
    enum ctlc_result r;

    memset(m, 0, sizeof(*m));
    struct ctlv_mru_entry *rows = calloc(CTLV_MRU_ROWS, sizeof(*rows));
    if (rows == NULL) {
        snprintf(c->err, sizeof(c->err), "out of memory");
        return CTLC_USAGE;
    }
    r = fetch_nonce(c, rows, nonce, sizeof(nonce), &nonce_at);
    while (r == CTLC_OK) {
        if (m->requests >= CTLC_MRU_MAX_REQUESTS) {
            snprintf(c->err, sizeof(c->err),
                     "gave up after %u READ_MRU requests without reaching the end of the "
                     "client list",
                     m->requests);
            r = CTLC_BAD;
            break;
        }
        if (plat_mono_ns() - nonce_at > CTLC_NONCE_MAX_AGE_NS) {
            r = fetch_nonce(c, rows, nonce, sizeof(nonce), &nonce_at);
            if (r != CTLC_OK) {
                break;
            }
        }
        int len = snprintf(req, sizeof(req), "nonce=%s, frags=%d", nonce, frags);
        for (size_t k = 0; k < n_held && len > 0; k++) {
            char pair[128];
            int pl = snprintf(pair, sizeof(pair), ", addr.%zu=%s, last.%zu=%s", k, held[k].addr, k,
                              held[k].last);
            if (pl < 0 || (size_t)len + (size_t)pl > CTL_MAX_DATA) {
                break;
            }
            memcpy(req + len, pair, (size_t)pl + 1);
            len += pl;
        }
        m->requests++;
        r = ctlc_request(c, CTL_OP_READ_MRU, 0, req);
        if (r == CTLC_TIMEOUT && shrinks < 2) {
            /* ntpq's cure for lost fragments: ask for fewer. */
            frags /= 4;
            shrinks++;
            r = CTLC_OK;
            continue;
        }
        if (r == CTLC_SERVER && c->err_code == CTL_ERR_UNKNOWNVAR && n_held > 0) {
            /* The server has none of our resume points any more (they moved on): start
             * again from the oldest; what we hold is merged, not lost. */
            if (++m->restarts > CTLC_MRU_MAX_RESTARTS) {
                snprintf(c->err, sizeof(c->err),
                         "the client list changed faster than it could be read (%u restarts)",
                         CTLC_MRU_MAX_RESTARTS);
                break;
            }
            n_held = 0;
            r = CTLC_OK;
            continue;
        }
        if (r != CTLC_OK) {
            break;
        }
        ctlv_parse_mru(ctlc_text(c), ctlc_len(c), &rep, rows, CTLV_MRU_ROWS);
        if (rep.nonce[0] != '\0') {
            snprintf(nonce, sizeof(nonce), "%s", rep.nonce);
            nonce_at = plat_mono_ns();
        }
        for (size_t i = 0; i < rep.n; i++) {
            if (received >= CTLC_MRU_MAX_ENTRIES || !mru_append(m, &rows[i])) {
                m->truncated = true;
                break;
            }
            received++;
        }
        /* The last entries of this reply are the newest held. */
        size_t take = rep.n < CTLC_MRU_RESUME ? rep.n : CTLC_MRU_RESUME;
        if (take > 0) {
            n_held = take;
            for (size_t k = 0; k < take; k++) {
                const struct ctlv_mru_entry *e = &rows[rep.n - 1 - k];
                snprintf(held[k].addr, sizeof(held[k].addr), "%s", e->addr);
                snprintf(held[k].last, sizeof(held[k].last), "%s", e->last_text);
            }
        }
        if (rep.have_now) {
            m->now = rep.now;
            break;
        }
        if (m->truncated) {
            break;
        }
        if (rep.n == 0 && ++empty >= 3) {
            snprintf(c->err, sizeof(c->err),
                     "malformed reply from %s port %u: READ_MRU replies with neither entries nor "
                     "the end of the list",
                     c->addr_text, (unsigned)c->port);
            r = CTLC_BAD;
            break;
        }
        if (rep.n > 0) {
            empty = 0;
        }
    }
    free(rows);
    if (r != CTLC_OK) {
        return r;
    }
    /* One entry per address: the one with the latest packet. */
    if (m->n > 1) {
        qsort(m->e, m->n, sizeof(*m->e), mru_key_cmp);
        size_t k = 0;
        for (size_t i = 0; i < m->n; i++) {
            const char *a, *b;
            if (k > 0) {
                size_t al = ip_part(m->e[k - 1].addr, &a), bl = ip_part(m->e[i].addr, &b);
                if (al == bl && memcmp(a, b, al) == 0) {
                    m->e[k - 1] = m->e[i]; /* sorted by last: this one is newer */
                    continue;
                }
            }
            m->e[k++] = m->e[i];
        }
        m->n = k;
    }
    return CTLC_OK;
}

int ctlc_exit_code(enum ctlc_result r)
{
    switch (r) {
    case CTLC_OK:
        return 0;
    case CTLC_USAGE:
        return 1;
    case CTLC_NAME:
    case CTLC_TIMEOUT:
    case CTLC_NETWORK:
        return 2;
    case CTLC_SERVER:
    case CTLC_BAD:
        return 3;
    case CTLC_DENIED:
        return 4;
    }
    return 3;
}

const char *ctlc_result_name(enum ctlc_result r)
{
    switch (r) {
    case CTLC_OK:
        return "ok";
    case CTLC_USAGE:
        return "usage";
    case CTLC_NAME:
        return "name_error";
    case CTLC_TIMEOUT:
        return "timeout";
    case CTLC_NETWORK:
        return "network_error";
    case CTLC_SERVER:
        return "server_error";
    case CTLC_BAD:
        return "bad_response";
    case CTLC_DENIED:
        return "not_permitted";
    }
    return "unknown";
}
