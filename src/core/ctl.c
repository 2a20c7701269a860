/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ctl: mode 6 header, fragments, reassembly, variable lists and status words. Layout of
 * the header (RFC 9327 sec. 2): LI/VN/mode, R E M + 5-bit opcode, then 16-bit sequence,
 * status, association ID, offset and count, then count octets of data padded to 4.
 */
#include "ctl.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* ntpd starts a new line before an item that would take a line past this. */
#define CTL_LINE_MAX 72

static uint16_t get16(const uint8_t *p)
{
    return (uint16_t)((unsigned)p[0] << 8 | p[1]);
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static size_t pad4(size_t n)
{
    return (n + 3u) & ~(size_t)3u;
}

enum ctl_reason ctl_decode(const uint8_t *buf, size_t len, struct ctl_msg *out)
{
    memset(out, 0, sizeof(*out));
    if (buf == NULL || len < CTL_HEADER_LEN) {
        return CTL_BAD_SHORT;
    }
    if (len > CTL_MAX_DGRAM) {
        return CTL_BAD_LONG;
    }
    if ((buf[0] & 7u) != 6u) {
        return CTL_BAD_MODE;
    }
    out->leap = (uint8_t)(buf[0] >> 6);
    out->version = (uint8_t)((buf[0] >> 3) & 7u);
    if (out->version < 1 || out->version > 4) {
        return CTL_BAD_VERSION;
    }
    out->response = (buf[1] & 0x80u) != 0;
    out->error = (buf[1] & 0x40u) != 0;
    out->more = (buf[1] & 0x20u) != 0;
    out->opcode = (uint8_t)(buf[1] & 0x1fu);
    out->seq = get16(buf + 2);
    out->status = get16(buf + 4);
    out->associd = get16(buf + 6);
    out->offset = get16(buf + 8);
    out->count = get16(buf + 10);
    out->len = len;
    size_t end = CTL_HEADER_LEN + (size_t)out->count;
    if (out->count > CTL_MAX_DATA || end > len) {
        return CTL_BAD_COUNT;
    }
    out->data = buf + CTL_HEADER_LEN;
    out->trailer = len > pad4(end) ? len - pad4(end) : 0;
    return CTL_OK;
}

enum ctl_reason ctl_check_request(const struct ctl_msg *m)
{
    if (m->response || m->error || m->more) {
        return CTL_BAD_RESPONSE;
    }
    if (m->offset != 0) {
        return CTL_BAD_OFFSET;
    }
    if (m->len % 4 != 0) {
        return CTL_BAD_ALIGN;
    }
    return CTL_OK;
}

enum ctl_reason ctl_check_response(const struct ctl_msg *m)
{
    if (m->len % 4 != 0) {
        return CTL_BAD_ALIGN;
    }
    if (pad4(CTL_HEADER_LEN + (size_t)m->count) > m->len) {
        return CTL_BAD_COUNT;
    }
    return CTL_OK;
}

static void put_header(uint8_t *out, uint8_t b0, uint8_t b1, uint16_t seq, uint16_t status,
                       uint16_t associd, uint16_t offset, uint16_t count)
{
    out[0] = b0;
    out[1] = b1;
    put16(out + 2, seq);
    put16(out + 4, status);
    put16(out + 6, associd);
    put16(out + 8, offset);
    put16(out + 10, count);
}

size_t ctl_encode_request(uint8_t version, uint8_t opcode, uint16_t seq, uint16_t associd,
                          const void *data, size_t len, uint8_t *out, size_t cap)
{
    size_t total = pad4(CTL_HEADER_LEN + len);
    if (len > CTL_MAX_DATA || cap < total || version < 1 || version > 4) {
        return 0;
    }
    put_header(out, (uint8_t)((version & 7u) << 3 | 6u), (uint8_t)(opcode & 0x1fu), seq, 0,
               associd, 0, (uint16_t)len);
    if (len > 0) {
        memcpy(out + CTL_HEADER_LEN, data, len);
    }
    memset(out + CTL_HEADER_LEN + len, 0, total - CTL_HEADER_LEN - len);
    return total;
}

size_t ctl_fragments(size_t plen)
{
    return plen == 0 ? 1 : (plen + CTL_MAX_DATA - 1) / CTL_MAX_DATA;
}

size_t ctl_encode_response(const struct ctl_msg *req, uint8_t leap, uint16_t status,
                           uint16_t associd, const uint8_t *payload, size_t plen, size_t frag,
                           uint8_t *out, size_t cap)
{
    if (plen > CTL_MAX_PAYLOAD) {
        return 0;
    }
    size_t n = ctl_fragments(plen);
    if (frag >= n) {
        return 0;
    }
    size_t off = frag * CTL_MAX_DATA;
    size_t cnt = plen - off < CTL_MAX_DATA ? plen - off : CTL_MAX_DATA;
    size_t total = pad4(CTL_HEADER_LEN + cnt);
    if (cap < total) {
        return 0;
    }
    bool more = frag + 1 < n;
    put_header(out, (uint8_t)((leap & 3u) << 6 | (req->version & 7u) << 3 | 6u),
               (uint8_t)(0x80u | (more ? 0x20u : 0u) | (req->opcode & 0x1fu)), req->seq,
               status, associd, (uint16_t)off, (uint16_t)cnt);
    if (cnt > 0) {
        memcpy(out + CTL_HEADER_LEN, payload + off, cnt);
    }
    memset(out + CTL_HEADER_LEN + cnt, 0, total - CTL_HEADER_LEN - cnt);
    return total;
}

size_t ctl_encode_error(const struct ctl_msg *req, uint8_t leap, enum ctl_error err,
                        uint8_t *out, size_t cap)
{
    if (cap < CTL_HEADER_LEN) {
        return 0;
    }
    put_header(out, (uint8_t)((leap & 3u) << 6 | (req->version & 7u) << 3 | 6u),
               (uint8_t)(0xc0u | (req->opcode & 0x1fu)), req->seq,
               (uint16_t)(((unsigned)err & 0xffu) << 8), req->associd, 0, 0);
    return CTL_HEADER_LEN;
}

void ctl_reasm_init(struct ctl_reasm *r)
{
    memset(r, 0, sizeof(*r));
}

static bool covered(const struct ctl_reasm *r, size_t i)
{
    return (r->covered[i / 8] >> (i % 8)) & 1u;
}

enum ctl_reasm_result ctl_reasm_add(struct ctl_reasm *r, const struct ctl_msg *m, uint16_t seq,
                                    uint8_t op)
{
    if (!m->response || m->seq != seq || m->opcode != (op & 0x1fu)) {
        return CTL_REASM_IGNORED;
    }
    if (m->error) {
        r->status = m->status;
        return CTL_REASM_ERROR;
    }
    if (m->count == 0 && m->more) {
        return CTL_REASM_IGNORED;
    }
    if (++r->fragments > 2 * CTL_MAX_FRAGS) {
        return CTL_REASM_BAD;
    }
    size_t start = m->offset, end = (size_t)m->offset + m->count;
    if (end > CTL_MAX_PAYLOAD) {
        return CTL_REASM_BAD;
    }
    if (r->seen_last && end > r->end) {
        return CTL_REASM_BAD;
    }
    if (!m->more && (r->seen_last || end < r->max_end)) {
        return CTL_REASM_BAD;
    }
    for (size_t i = start; i < end; i++) {
        if (covered(r, i)) {
            return CTL_REASM_IGNORED;
        }
    }
    memcpy(r->buf + start, m->data, m->count);
    for (size_t i = start; i < end; i++) {
        r->covered[i / 8] = (uint8_t)(r->covered[i / 8] | 1u << (i % 8));
    }
    r->n_covered += m->count;
    if (end > r->max_end) {
        r->max_end = end;
    }
    if (!m->more) {
        r->seen_last = true;
        r->end = end;
        r->status = m->status;
        r->associd = m->associd;
    }
    return r->seen_last && r->n_covered == r->end ? CTL_REASM_DONE : CTL_REASM_MORE;
}

void ctl_text_init(struct ctl_text *t, char *buf, size_t cap)
{
    t->buf = buf;
    t->cap = cap;
    t->len = 0;
    t->line = 0;
    t->overflow = false;
    if (cap > 0) {
        buf[0] = '\0';
    }
}

/* ntpd's layout: after the first item, a comma, then a blank, or CR LF when the item
 * would take the line (comma and blank counted) to 72 characters. */
static void text_put(struct ctl_text *t, const char *item, size_t n)
{
    const char *sep = "";
    size_t sl = 0;
    bool wrap = false;
    if (t->len > 0) {
        wrap = n + t->line + 2 >= CTL_LINE_MAX;
        sep = wrap ? ",\r\n" : ", ";
        sl = wrap ? 3 : 2;
    }
    if (t->len + sl + n + 1 > t->cap) {
        t->overflow = true;
        return;
    }
    memcpy(t->buf + t->len, sep, sl);
    t->len += sl;
    t->line = wrap ? 0 : t->line + sl;
    memcpy(t->buf + t->len, item, n);
    t->len += n;
    t->line += n;
    t->buf[t->len] = '\0';
}

void ctl_text_finish(struct ctl_text *t)
{
    if (t->len > 0 && t->len + 3 <= t->cap) {
        memcpy(t->buf + t->len, "\r\n", 3);
        t->len += 2;
        t->line = 0;
    }
}

void ctl_text_add(struct ctl_text *t, const char *name, const char *fmt, ...)
{
    char item[512];
    int n = snprintf(item, sizeof(item), "%s%s", name, fmt != NULL ? "=" : "");
    if (n < 0 || (size_t)n >= sizeof(item)) {
        t->overflow = true;
        return;
    }
    if (fmt != NULL) {
        va_list ap;
        va_start(ap, fmt);
        int m = vsnprintf(item + n, sizeof(item) - (size_t)n, fmt, ap);
        va_end(ap);
        if (m < 0 || (size_t)m >= sizeof(item) - (size_t)n) {
            t->overflow = true;
            return;
        }
        n += m;
    }
    text_put(t, item, (size_t)n);
}

void ctl_text_str(struct ctl_text *t, const char *name, const char *value)
{
    char item[512];
    size_t n = 0;
    size_t nl = strlen(name);
    if (nl + 4 > sizeof(item)) {
        t->overflow = true;
        return;
    }
    memcpy(item, name, nl);
    n = nl;
    item[n++] = '=';
    item[n++] = '"';
    for (const char *v = value; *v != '\0'; v++) {
        if (n + 2 >= sizeof(item)) {
            t->overflow = true;
            return;
        }
        unsigned char c = (unsigned char)*v;
        item[n++] = c == '"' ? '\'' : (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
    }
    item[n++] = '"';
    text_put(t, item, n);
}

static bool blank(char c)
{
    unsigned char u = (unsigned char)c;
    return u <= 0x20 || u == 0x7f;
}

bool ctl_items_next(const char *text, size_t len, size_t *pos, struct ctl_item *it)
{
    size_t i = *pos;
    for (;;) {
        while (i < len && (blank(text[i]) || text[i] == ',')) {
            i++;
        }
        if (i >= len) {
            *pos = len;
            return false;
        }
        size_t start = i;
        bool quoted = false;
        while (i < len && (quoted || text[i] != ',')) {
            if (text[i] == '"') {
                quoted = !quoted;
            }
            i++;
        }
        size_t end = i;
        *pos = i;
        while (end > start && blank(text[end - 1])) {
            end--;
        }
        if (end == start) {
            continue;
        }
        const char *eq = memchr(text + start, '=', end - start);
        it->name = text + start;
        it->name_len = eq != NULL ? (size_t)(eq - (text + start)) : end - start;
        while (it->name_len > 0 && blank(it->name[it->name_len - 1])) {
            it->name_len--;
        }
        it->value = NULL;
        it->value_len = 0;
        if (eq != NULL) {
            const char *v = eq + 1, *ve = text + end;
            while (v < ve && blank(*v)) {
                v++;
            }
            if (ve - v >= 2 && *v == '"' && ve[-1] == '"') {
                v++;
                ve--;
            }
            it->value = v;
            it->value_len = (size_t)(ve - v);
        }
        return true;
    }
}

bool ctl_item_is(const struct ctl_item *it, const char *s)
{
    size_t n = strlen(s);
    return it->name_len == n && memcmp(it->name, s, n) == 0;
}

bool ctl_item_value(const struct ctl_item *it, char *dst, size_t cap)
{
    if (cap == 0) {
        return false;
    }
    dst[0] = '\0';
    if (it->value == NULL) {
        return false;
    }
    size_t n = it->value_len < cap - 1 ? it->value_len : cap - 1;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)it->value[i];
        dst[i] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
    }
    dst[n] = '\0';
    return n == it->value_len;
}

uint16_t ctl_sys_status(uint8_t leap, uint8_t source, uint8_t count, uint8_t event)
{
    return (uint16_t)((leap & 3u) << 14 | (source & 0x3fu) << 8 | (count & 0xfu) << 4 |
                      (event & 0xfu));
}

uint16_t ctl_peer_status(uint8_t flags, enum ctl_sel sel, uint8_t count, uint8_t event)
{
    return (uint16_t)(((flags & 0xf8u) | ((unsigned)sel & 7u)) << 8 | (count & 0xfu) << 4 |
                      (event & 0xfu));
}

char ctl_sel_tally(unsigned sel)
{
    return " x.-+#*o"[sel & 7u];
}

const char *ctl_sel_name(unsigned sel)
{
    static const char *const names[8] = {
        "reject", "falsetick", "excess", "outlier", "candidate", "backup", "sys.peer", "pps.peer",
    };
    return names[sel & 7u];
}

const char *ctl_reason_name(enum ctl_reason r)
{
    static const char *const names[CTL_REASON_COUNT] = {
        "ok", "short", "long", "mode", "version", "count", "response-bits", "offset", "align",
    };
    return (unsigned)r < CTL_REASON_COUNT ? names[r] : "?";
}

const char *ctl_error_name(enum ctl_error e)
{
    static const char *const names[] = {
        "unspecified error", "permission denied", "bad format", "unknown opcode",
        "unknown association", "unknown variable", "bad value", "access denied",
    };
    return (unsigned)e < sizeof(names) / sizeof(names[0]) ? names[e] : "unknown error";
}
