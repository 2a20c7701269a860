/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Fuzz target: what the mode 6 client (`stratum status/peers/clients`) does with the
 * datagrams that come back: ctl_decode, ctl_check_response and ctl_reasm_add, then the
 * reading of each complete reply by src/core/ctlvars.c as system variables, association
 * variables, READSTAT pairs and an MRU reply (every reading on every reply).
 *
 * Input: octet 0 holds flags. Bit 0 set: the rest is one reply payload, read directly.
 * Otherwise the rest is a sequence of datagrams, each a 2-octet big-endian length and that
 * many octets (the last one cut at the end of the input). The sequence and opcode
 * expected are those in the first datagram after each complete (or failed) reply, as if
 * it answered our request, so the fuzzer gets past the matching at once.
 *
 * Invariants: no memory error (every datagram and payload is copied to a buffer of its
 * exact size); a decoded count fits the datagram; a complete reply covers 0 .. end with
 * end <= CTL_MAX_PAYLOAD; every parsed string is NUL-terminated inside its member and
 * printable ASCII; parsed numbers are finite and in range; READSTAT pairs are sorted,
 * unique and non-zero; MRU rows have an address that splits and a last time that parses
 * back to the same value; a nonce is letters and digits only.
 */
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/ctl.h"
#include "core/ctlvars.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define CHECK(cond)                                                                                \
    do {                                                                                           \
        if (!(cond)) {                                                                             \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

/* The most datagrams one input may carry (a whole MRU walk is a few hundred). */
#define MAX_DGRAMS 512

static struct ctl_reasm reasm;
static struct ctlv_assoc assocs[CTL_MAX_PAYLOAD / 4];
static struct ctlv_mru_entry rows[CTLV_MRU_ROWS];

static void check_str(const char *s, size_t cap)
{
    size_t n = strnlen(s, cap);
    CHECK(n < cap);
    for (size_t i = 0; i < n; i++) {
        CHECK(s[i] >= 0x20 && s[i] < 0x7f);
    }
}

static void check_sys(const struct ctlv_sys *s)
{
    check_str(s->refid, sizeof(s->refid));
    check_str(s->version, sizeof(s->version));
    check_str(s->sync_state, sizeof(s->sync_state));
    check_str(s->peeradr, sizeof(s->peeradr));
    CHECK(s->leap <= 3);
    CHECK(s->stratum >= 0 && s->stratum <= 255);
    CHECK(isfinite(s->rootdelay) && isfinite(s->rootdisp) && isfinite(s->offset));
    CHECK(isfinite(s->sys_jitter) && isfinite(s->clk_jitter));
    CHECK(isfinite(s->frequency_ppm) && isfinite(s->clk_wander_ppm));
    CHECK(s->uptime_s >= 0);
    if ((s->have & CTLV_S_PEERADR) != 0) {
        char ip[CTLV_STR];
        uint16_t port;
        (void)ctlv_split_addr(s->peeradr, ip, sizeof(ip), &port);
        check_str(ip, sizeof(ip));
    }
}

static void check_peer(const struct ctlv_peer *p)
{
    check_str(p->srcadr, sizeof(p->srcadr));
    check_str(p->srchost, sizeof(p->srchost));
    check_str(p->refid, sizeof(p->refid));
    check_str(p->selection, sizeof(p->selection));
    CHECK(p->leap <= 3 && p->reach <= 255 && p->hmode >= 0 && p->hmode <= 7);
    CHECK(p->stratum >= 0 && p->stratum <= 255);
    CHECK(p->ppoll >= -128 && p->ppoll <= 127 && p->hpoll >= -128 && p->hpoll <= 127);
    CHECK(p->ntscookies >= -1 && p->ntscookies <= 1000);
    CHECK(isfinite(p->delay) && isfinite(p->offset) && isfinite(p->jitter));
    CHECK(isfinite(p->dispersion) && isfinite(p->rootdisp));
    if ((p->have & CTLV_P_LAST_SYNC) != 0) {
        CHECK(p->last_sync == p->rec || p->last_sync == p->reftime);
    }
}

static void check_mru(const char *text, size_t len, size_t cap)
{
    struct ctlv_mru_reply r;
    ctlv_parse_mru(text, len, &r, rows, cap);
    CHECK(r.n <= cap && r.n <= CTLV_MRU_ROWS);
    check_str(r.nonce, sizeof(r.nonce));
    for (const char *c = r.nonce; *c != '\0'; c++) {
        CHECK((*c >= '0' && *c <= '9') || (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z'));
    }
    for (size_t i = 0; i < r.n; i++) {
        const struct ctlv_mru_entry *e = &rows[i];
        char ip[CTLV_STR];
        uint16_t port;
        ntp_ts_t last;
        CHECK((e->have & (CTLV_M_ADDR | CTLV_M_LAST)) == (CTLV_M_ADDR | CTLV_M_LAST));
        check_str(e->addr, sizeof(e->addr));
        check_str(e->last_text, sizeof(e->last_text));
        CHECK(ctlv_split_addr(e->addr, ip, sizeof(ip), &port));
        check_str(ip, sizeof(ip));
        CHECK(ip[0] != '\0');
        CHECK(ctlv_parse_lfp(e->last_text, &last) && last == e->last);
        CHECK(e->mv <= 255 && isfinite(e->score));
        /* what the client echoes must not break its next request */
        CHECK(strpbrk(e->addr, ",=\" ") == NULL && strpbrk(e->last_text, ",=\" ") == NULL);
    }
}

/* Every reading of one payload, from a buffer of its exact size. */
static void read_payload(const uint8_t *payload, size_t len)
{
    uint8_t *p = malloc(len > 0 ? len : 1);
    if (p == NULL) {
        return;
    }
    if (len > 0) {
        memcpy(p, payload, len);
    }
    const char *t = (const char *)p;
    struct ctlv_sys s;
    struct ctlv_peer pe;
    ctlv_parse_sys(t, len, &s);
    check_sys(&s);
    ctlv_parse_peer(t, len, &pe);
    check_peer(&pe);
    size_t n = ctlv_parse_assocs(p, len, assocs, sizeof(assocs) / sizeof(assocs[0]));
    CHECK(n <= len / 4);
    for (size_t i = 0; i < n; i++) {
        CHECK(assocs[i].associd != 0);
        CHECK(i == 0 || assocs[i - 1].associd < assocs[i].associd);
    }
    n = ctlv_parse_assocs(p, len, assocs, 2);
    CHECK(n <= 2);
    check_mru(t, len, CTLV_MRU_ROWS);
    check_mru(t, len, 3);
    free(p);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0) {
        return 0;
    }
    if ((data[0] & 1u) != 0) {
        read_payload(data + 1, size - 1);
        return 0;
    }
    ctl_reasm_init(&reasm);
    bool expecting = false;
    uint16_t seq = 0;
    uint8_t op = 0;
    size_t pos = 1;
    for (unsigned k = 0; k < MAX_DGRAMS && pos + 2 <= size; k++) {
        size_t len = (size_t)data[pos] << 8 | data[pos + 1];
        pos += 2;
        if (len > size - pos) {
            len = size - pos;
        }
        uint8_t *d = malloc(len > 0 ? len : 1);
        if (d == NULL) {
            return 0;
        }
        if (len > 0) {
            memcpy(d, data + pos, len);
        }
        pos += len;
        if (!expecting && len >= 4) {
            op = (uint8_t)(d[1] & 0x1fu);
            seq = (uint16_t)((unsigned)d[2] << 8 | d[3]);
            expecting = true;
        }
        struct ctl_msg m;
        enum ctl_reason why = ctl_decode(d, len, &m);
        CHECK((unsigned)why < CTL_REASON_COUNT && ctl_reason_name(why) != NULL);
        if (why == CTL_OK) {
            CHECK(m.count <= CTL_MAX_DATA && CTL_HEADER_LEN + (size_t)m.count <= len);
            CHECK(m.data == d + CTL_HEADER_LEN && m.len == len);
            why = ctl_check_response(&m);
        }
        if (why == CTL_OK && m.response) {
            enum ctl_reasm_result res = ctl_reasm_add(&reasm, &m, seq, op);
            CHECK(reasm.max_end <= CTL_MAX_PAYLOAD && reasm.n_covered <= reasm.max_end);
            CHECK(reasm.fragments <= 2 * CTL_MAX_FRAGS + 1);
            switch (res) {
            case CTL_REASM_DONE:
                CHECK(m.error == false && reasm.seen_last);
                CHECK(reasm.end <= CTL_MAX_PAYLOAD && reasm.n_covered == reasm.end);
                read_payload(reasm.buf, reasm.end);
                ctl_reasm_init(&reasm);
                expecting = false;
                break;
            case CTL_REASM_ERROR:
                CHECK(m.error);
                CHECK(ctl_error_name(ctl_error_of(reasm.status)) != NULL);
                ctl_reasm_init(&reasm);
                expecting = false;
                break;
            case CTL_REASM_BAD:
                ctl_reasm_init(&reasm);
                expecting = false;
                break;
            case CTL_REASM_MORE:
            case CTL_REASM_IGNORED:
                break;
            }
        }
        free(d);
    }
    return 0;
}
