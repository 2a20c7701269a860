/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * probe: the ntp and ntpq probes' requests and the reading of their answers. Pure.
 */
#include "monitor/probe.h"

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "core/client.h"
#include "core/ctlvars.h"

/* What the ntpq probe asks: the few system variables a verdict needs (one fragment from
 * ntpd, NTPsec and stratumd), then the system peer's address. */
static const char SYS_VARS[] = "leap,stratum,refid,offset,peer,rootdelay,rootdisp";
static const char PEER_VARS[] = "srcadr,srcport";

void probe_init(struct probe *p, enum mon_probe kind)
{
    memset(p, 0, sizeof(*p));
    p->kind = kind;
    p->ntp_pending = true;
    p->ctl_pending = kind == MON_PROBE_NTPQ;
}

bool probe_wants_ctl(const struct probe *p)
{
    return !p->done && p->ctl_pending;
}

size_t probe_ntp_request(struct probe *p, uint8_t *buf, size_t cap, uint64_t nonce, ntp_ts_t t1)
{
    if (p->done || !p->ntp_pending || p->tries >= PROBE_MAX_TRIES) {
        return 0;
    }
    size_t n = client_request(buf, cap, 4, 0, nonce);
    if (n == 0) {
        return 0;
    }
    p->nonce[p->tries] = nonce;
    p->t1[p->tries] = t1;
    p->tries++;
    return n;
}

size_t probe_ctl_request(struct probe *p, uint8_t *buf, size_t cap, uint16_t seq)
{
    if (p->done || !p->ctl_pending || p->reasm == NULL || p->ctl_tries >= PROBE_MAX_TRIES) {
        return 0;
    }
    const char *vars = p->ctl_stage == 0 ? SYS_VARS : PEER_VARS;
    uint16_t assoc = p->ctl_stage == 0 ? 0 : p->peer_assoc;
    size_t n = ctl_encode_request(2, CTL_OP_READVAR, seq, assoc, vars, strlen(vars), buf, cap);
    if (n == 0) {
        return 0;
    }
    /* A new request: fragments of an older one no longer count. */
    ctl_reasm_init(p->reasm);
    p->ctl_seq = seq;
    p->ctl_assoc = assoc;
    p->ctl_tries++;
    return n;
}

/* Copies a printable, bounded version of s. */
static void copy_printable(char *dst, size_t cap, const char *s)
{
    size_t j = 0;
    for (size_t k = 0; s[k] != '\0' && j + 1 < cap; k++) {
        unsigned char ch = (unsigned char)s[k];
        dst[j++] = (ch >= 0x20 && ch < 0x7f) ? (char)ch : '?';
    }
    if (cap > 0) {
        dst[j] = '\0';
    }
}

void probe_refid_text(uint32_t refid, int stratum, char *out, size_t cap)
{
    bool letters = true;
    for (int k = 0; k < 4; k++) {
        unsigned char ch = (unsigned char)(refid >> (24 - 8 * k));
        if (ch != 0 && (ch < 'A' || ch > 'Z') && (ch < '0' || ch > '9')) {
            letters = false;
        }
    }
    if (stratum <= 1 || (letters && (refid >> 24) >= 'A')) {
        char a[5];
        ntp_refid_to_ascii(refid, a);
        /* a hostile server's bytes never reach a terminal or a database as they are */
        copy_printable(out, cap, a);
        return;
    }
    snprintf(out, cap, "%u.%u.%u.%u", (unsigned)(refid >> 24), (unsigned)((refid >> 16) & 255),
             (unsigned)((refid >> 8) & 255), (unsigned)(refid & 255));
}

/* The NTP answer: which of our requests it answers (any try: retries overlap). */
static enum probe_rx ntp_receive(struct probe *p, const uint8_t *buf, size_t len, ntp_ts_t t4,
                                 int8_t prec, struct mon_result *r, enum probe_drop *why)
{
    if (!p->ntp_pending) {
        *why = PROBE_DROP_LATE;
        return PROBE_RX_IGNORED;
    }
    struct ntp_sample s;
    enum client_reject rej = CLIENT_BOGUS;
    for (int k = 0; k < p->tries; k++) {
        rej = client_process(buf, len, p->nonce[k], p->t1[k], t4, prec, &s);
        if (rej != CLIENT_BOGUS) {
            break;
        }
    }
    switch (rej) {
    case CLIENT_BOGUS:
        *why = PROBE_DROP_BOGUS;
        return PROBE_RX_IGNORED;
    case CLIENT_FORMAT:
    case CLIENT_MODE:
        /* Before the origin check: it may not be the device's answer at all, so a
         * better one may still come; remembered in case none does. */
        p->bad_reason = (int)rej;
        *why = PROBE_DROP_MALFORMED;
        return PROBE_RX_IGNORED;
    case CLIENT_OK:
        r->status = MON_OK;
        r->offset = s.offset;
        r->delay = s.delay;
        r->root_distance = s.root_distance;
        break;
    case CLIENT_KOD:
        r->status = MON_KOD;
        snprintf(r->error, sizeof(r->error), "kiss-o'-death %s", ntp_kiss_name(s.kiss));
        break;
    case CLIENT_UNSYNC:
        r->status = MON_UNSYNCHRONIZED;
        snprintf(r->error, sizeof(r->error), "the device says it is not synchronized (leap 3 "
                                             "or stratum 16)");
        break;
    default:
        r->status = MON_BAD_RESPONSE;
        snprintf(r->error, sizeof(r->error), "unusable answer: %s", client_reject_name(rej));
        break;
    }
    if (rej == CLIENT_OK || rej == CLIENT_KOD) {
        r->stratum = s.stratum;
        r->leap = s.leap;
        probe_refid_text(s.refid, s.stratum, r->refid, sizeof(r->refid));
    } else if (rej == CLIENT_UNSYNC && len >= 48) {
        /* The header says why: leap and stratum as sent. */
        r->leap = buf[0] >> 6;
        r->stratum = buf[1];
    }
    p->ntp_pending = false;
    return PROBE_RX_ACCEPTED;
}

/* A complete mode 6 reply to the current stage's request. */
static enum probe_rx ctl_complete(struct probe *p, struct mon_result *r)
{
    const char *text = (const char *)p->reasm->buf;
    size_t len = p->reasm->end;
    if (p->ctl_stage == 0) {
        struct ctlv_sys sys;
        ctlv_parse_sys(text, len, &sys);
        if ((sys.have & (CTLV_S_LEAP | CTLV_S_STRATUM)) == (CTLV_S_LEAP | CTLV_S_STRATUM)) {
            r->dev_synced = sys.leap != 3 && sys.stratum >= 1 && sys.stratum < 16;
        } else {
            snprintf(p->ctl_note, sizeof(p->ctl_note), "mode 6 answer without leap/stratum");
        }
        if (sys.have & CTLV_S_OFFSET) {
            r->dev_offset = sys.offset;
        }
        if ((sys.have & CTLV_S_PEERADR) && strcmp(sys.peeradr, "0.0.0.0:0") != 0) {
            copy_printable(r->dev_peer, sizeof(r->dev_peer), sys.peeradr);
        } else if ((sys.have & CTLV_S_PEER) && sys.peer != 0) {
            p->peer_assoc = sys.peer;
            p->ctl_stage = 1;
            p->ctl_tries = 0;
            return PROBE_RX_SEND;
        }
    } else {
        struct ctlv_peer peer;
        ctlv_parse_peer(text, len, &peer);
        if (peer.have & CTLV_P_SRCADR) {
            if ((peer.have & CTLV_P_SRCPORT) && peer.srcport != 123) {
                char both[MON_PEER_LEN];
                snprintf(both, sizeof(both), "%.40s:%u", peer.srcadr, (unsigned)peer.srcport);
                copy_printable(r->dev_peer, sizeof(r->dev_peer), both);
            } else {
                copy_printable(r->dev_peer, sizeof(r->dev_peer), peer.srcadr);
            }
        }
    }
    p->ctl_pending = false;
    return PROBE_RX_ACCEPTED;
}

static enum probe_rx ctl_receive(struct probe *p, const uint8_t *buf, size_t len,
                                 struct mon_result *r, enum probe_drop *why)
{
    struct ctl_msg m;
    if (!p->ctl_pending || p->reasm == NULL) {
        *why = PROBE_DROP_LATE;
        return PROBE_RX_IGNORED;
    }
    if (ctl_decode(buf, len, &m) != CTL_OK || ctl_check_response(&m) != CTL_OK) {
        *why = PROBE_DROP_CTL_BAD;
        return PROBE_RX_IGNORED;
    }
    if (m.associd != p->ctl_assoc && !m.error) {
        *why = PROBE_DROP_CTL_STRAY;
        return PROBE_RX_IGNORED;
    }
    switch (ctl_reasm_add(p->reasm, &m, p->ctl_seq, CTL_OP_READVAR)) {
    case CTL_REASM_MORE:
        return PROBE_RX_ACCEPTED;
    case CTL_REASM_DONE:
        return ctl_complete(p, r);
    case CTL_REASM_ERROR:
        snprintf(p->ctl_note, sizeof(p->ctl_note), "mode 6 refused: %s",
                 ctl_error_name(ctl_error_of(p->reasm->status)));
        p->ctl_pending = false;
        return PROBE_RX_ACCEPTED;
    case CTL_REASM_IGNORED:
        *why = PROBE_DROP_CTL_STRAY;
        return PROBE_RX_IGNORED;
    case CTL_REASM_BAD:
        break;
    }
    /* Fragments that cannot form a response: the request is spoilt; its retry may fare
     * better, and if none does the note says why. */
    snprintf(p->ctl_note, sizeof(p->ctl_note), "malformed mode 6 answer");
    ctl_reasm_init(p->reasm);
    p->ctl_seq ^= 0x8000; /* nothing more of this sequence is accepted */
    *why = PROBE_DROP_CTL_BAD;
    return PROBE_RX_IGNORED;
}

/* When neither part is pending, the result is final. */
static enum probe_rx settle(struct probe *p, struct mon_result *r, enum probe_rx rx)
{
    if (rx == PROBE_RX_IGNORED || rx == PROBE_RX_SEND) {
        return rx;
    }
    if (!p->ntp_pending && !p->ctl_pending) {
        probe_finish(p, r);
        return PROBE_RX_DONE;
    }
    return rx;
}

enum probe_rx probe_receive(struct probe *p, const uint8_t *buf, size_t len, ntp_ts_t t4,
                            int8_t local_precision, struct mon_result *r, enum probe_drop *why)
{
    *why = PROBE_DROP_MALFORMED;
    if (p->done) {
        *why = PROBE_DROP_LATE;
        return PROBE_RX_IGNORED;
    }
    if (len < 1) {
        return PROBE_RX_IGNORED;
    }
    unsigned mode = buf[0] & 7;
    if (mode == 6) {
        return settle(p, r, ctl_receive(p, buf, len, r, why));
    }
    return settle(p, r, ntp_receive(p, buf, len, t4, local_precision, r, why));
}

void probe_finish(struct probe *p, struct mon_result *r)
{
    if (p->done) {
        return;
    }
    if (p->ntp_pending) {
        if (p->bad_reason != 0) {
            r->status = MON_BAD_RESPONSE;
            snprintf(r->error, sizeof(r->error), "only unusable answers: %s",
                     client_reject_name((enum client_reject)p->bad_reason));
        } else {
            r->status = MON_UNREACHABLE;
            snprintf(r->error, sizeof(r->error), "no answer to %d request%s", p->tries,
                     p->tries == 1 ? "" : "s");
        }
        p->ntp_pending = false;
    }
    if (p->ctl_pending) {
        if (p->ctl_note[0] == '\0') {
            snprintf(p->ctl_note, sizeof(p->ctl_note), "no mode 6 answer");
        }
        p->ctl_pending = false;
    }
    if (p->kind == MON_PROBE_NTPQ && r->status == MON_OK && r->dev_synced == 0) {
        /* It answers with time but says of itself that it is not synchronized. */
        r->status = MON_UNSYNCHRONIZED;
        snprintf(r->error, sizeof(r->error), "its mode 6 state says it is not synchronized");
    } else if (p->ctl_note[0] != '\0' && r->error[0] == '\0') {
        snprintf(r->error, sizeof(r->error), "%s", p->ctl_note);
    }
    p->done = true;
}

const char *probe_drop_name(enum probe_drop d)
{
    static const char *const names[PROBE_DROP_COUNT] = {
        "malformed", "bogus_origin", "ctl_stray", "ctl_bad", "late",
    };
    return (unsigned)d < PROBE_DROP_COUNT ? names[d] : "?";
}
