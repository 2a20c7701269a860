/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ctlvars: mode 6 reply text into structs. Value formats follow NTPsec's ntpd (and
 * stratumd, which copies them): integers in decimal or 0x hex, times in ms and
 * frequencies in ppm as decimals, timestamps as 0xXXXXXXXX.XXXXXXXX, strings quoted or
 * bare. ntpq reads values the same lenient way (int(v, 0), then float(v), then text).
 */
#include "ctlvars.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/ctl.h"

/* A string value, truncated to cap (ctl_item_value makes it printable). */
static bool val_str(const struct ctl_item *it, char *dst, size_t cap)
{
    if (it->value == NULL) {
        return false;
    }
    (void)ctl_item_value(it, dst, cap);
    return true;
}

static bool val_int(const struct ctl_item *it, int64_t lo, int64_t hi, int64_t *out)
{
    char b[32];
    char *end;
    if (!ctl_item_value(it, b, sizeof(b)) || b[0] == '\0' || b[0] == ' ') {
        return false;
    }
    errno = 0;
    long long v = strtoll(b, &end, 0);
    if (end == b || *end != '\0' || errno != 0 || v < lo || v > hi) {
        return false;
    }
    *out = (int64_t)v;
    return true;
}

/* A finite decimal number. */
static bool val_num(const struct ctl_item *it, double *out)
{
    char b[48];
    char *end;
    if (!ctl_item_value(it, b, sizeof(b)) || b[0] == '\0' || b[0] == ' ') {
        return false;
    }
    double v = strtod(b, &end);
    if (end == b || *end != '\0' || !isfinite(v)) {
        return false;
    }
    *out = v;
    return true;
}

/* Milliseconds on the wire, seconds here. */
static bool val_ms(const struct ctl_item *it, double *out)
{
    double v;
    if (!val_num(it, &v)) {
        return false;
    }
    *out = v / 1e3;
    return true;
}

static int hexval(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* 1 to 8 hex digits at *s, advancing it. */
static bool hex32(const char **s, uint32_t *out)
{
    uint32_t v = 0;
    int n = 0;
    const char *p = *s;
    while (hexval(*p) >= 0) {
        if (++n > 8) {
            return false;
        }
        v = v << 4 | (uint32_t)hexval(*p++);
    }
    if (n == 0) {
        return false;
    }
    *s = p;
    *out = v;
    return true;
}

bool ctlv_parse_lfp(const char *s, ntp_ts_t *out)
{
    uint32_t hi, lo;
    if (s[0] != '0' || (s[1] != 'x' && s[1] != 'X')) {
        return false;
    }
    s += 2;
    if (!hex32(&s, &hi) || *s++ != '.' || !hex32(&s, &lo) || *s != '\0') {
        return false;
    }
    *out = (ntp_ts_t)hi << 32 | lo;
    return true;
}

static bool val_lfp(const struct ctl_item *it, ntp_ts_t *out)
{
    char b[32];
    return ctl_item_value(it, b, sizeof(b)) && ctlv_parse_lfp(b, out);
}

void ctlv_parse_sys(const char *text, size_t len, struct ctlv_sys *s)
{
    memset(s, 0, sizeof(*s));
    struct ctl_item it;
    size_t pos = 0;
    while (ctl_items_next(text, len, &pos, &it)) {
        int64_t i;
        if (ctl_item_is(&it, "leap")) {
            if (val_int(&it, 0, 3, &i)) {
                s->leap = (uint8_t)i;
                s->have |= CTLV_S_LEAP;
            }
        } else if (ctl_item_is(&it, "stratum")) {
            if (val_int(&it, 0, 255, &i)) {
                s->stratum = (int)i;
                s->have |= CTLV_S_STRATUM;
            }
        } else if (ctl_item_is(&it, "precision")) {
            if (val_int(&it, -128, 127, &i)) {
                s->precision = (int)i;
                s->have |= CTLV_S_PRECISION;
            }
        } else if (ctl_item_is(&it, "tc")) {
            if (val_int(&it, -128, 127, &i)) {
                s->tc = (int)i;
                s->have |= CTLV_S_TC;
            }
        } else if (ctl_item_is(&it, "rootdelay")) {
            if (val_ms(&it, &s->rootdelay)) {
                s->have |= CTLV_S_ROOTDELAY;
            }
        } else if (ctl_item_is(&it, "rootdisp")) {
            if (val_ms(&it, &s->rootdisp)) {
                s->have |= CTLV_S_ROOTDISP;
            }
        } else if (ctl_item_is(&it, "refid")) {
            if (val_str(&it, s->refid, sizeof(s->refid))) {
                s->have |= CTLV_S_REFID;
            }
        } else if (ctl_item_is(&it, "reftime")) {
            if (val_lfp(&it, &s->reftime)) {
                s->have |= CTLV_S_REFTIME;
            }
        } else if (ctl_item_is(&it, "clock")) {
            if (val_lfp(&it, &s->clock)) {
                s->have |= CTLV_S_CLOCK;
            }
        } else if (ctl_item_is(&it, "peer")) {
            if (val_int(&it, 0, 65535, &i)) {
                s->peer = (uint16_t)i;
                s->have |= CTLV_S_PEER;
            }
        } else if (ctl_item_is(&it, "offset")) {
            if (val_ms(&it, &s->offset)) {
                s->have |= CTLV_S_OFFSET;
            }
        } else if (ctl_item_is(&it, "frequency")) {
            if (val_num(&it, &s->frequency_ppm)) {
                s->have |= CTLV_S_FREQUENCY;
            }
        } else if (ctl_item_is(&it, "clk_wander")) {
            if (val_num(&it, &s->clk_wander_ppm)) {
                s->have |= CTLV_S_CLK_WANDER;
            }
        } else if (ctl_item_is(&it, "sys_jitter")) {
            if (val_ms(&it, &s->sys_jitter)) {
                s->have |= CTLV_S_SYS_JITTER;
            }
        } else if (ctl_item_is(&it, "clk_jitter")) {
            if (val_ms(&it, &s->clk_jitter)) {
                s->have |= CTLV_S_CLK_JITTER;
            }
        } else if (ctl_item_is(&it, "version")) {
            if (val_str(&it, s->version, sizeof(s->version))) {
                s->have |= CTLV_S_VERSION;
            }
        } else if (ctl_item_is(&it, "sync_state")) {
            if (val_str(&it, s->sync_state, sizeof(s->sync_state))) {
                s->have |= CTLV_S_SYNC_STATE;
            }
        } else if (ctl_item_is(&it, "peeradr")) {
            if (val_str(&it, s->peeradr, sizeof(s->peeradr))) {
                s->have |= CTLV_S_PEERADR;
            }
        } else if (ctl_item_is(&it, "ss_uptime")) {
            if (val_int(&it, 0, INT64_MAX, &i)) {
                s->uptime_s = i;
                s->have |= CTLV_S_UPTIME;
            }
        }
    }
}

void ctlv_parse_peer(const char *text, size_t len, struct ctlv_peer *p)
{
    memset(p, 0, sizeof(*p));
    p->ntscookies = -1;
    struct ctl_item it;
    size_t pos = 0;
    while (ctl_items_next(text, len, &pos, &it)) {
        int64_t i;
        if (ctl_item_is(&it, "srcadr")) {
            if (val_str(&it, p->srcadr, sizeof(p->srcadr))) {
                p->have |= CTLV_P_SRCADR;
            }
        } else if (ctl_item_is(&it, "srcport")) {
            if (val_int(&it, 0, 65535, &i)) {
                p->srcport = (uint16_t)i;
                p->have |= CTLV_P_SRCPORT;
            }
        } else if (ctl_item_is(&it, "srchost")) {
            if (val_str(&it, p->srchost, sizeof(p->srchost))) {
                p->have |= CTLV_P_SRCHOST;
            }
        } else if (ctl_item_is(&it, "leap")) {
            if (val_int(&it, 0, 3, &i)) {
                p->leap = (uint8_t)i;
                p->have |= CTLV_P_LEAP;
            }
        } else if (ctl_item_is(&it, "hmode")) {
            if (val_int(&it, 0, 7, &i)) {
                p->hmode = (int)i;
                p->have |= CTLV_P_HMODE;
            }
        } else if (ctl_item_is(&it, "stratum")) {
            if (val_int(&it, 0, 255, &i)) {
                p->stratum = (int)i;
                p->have |= CTLV_P_STRATUM;
            }
        } else if (ctl_item_is(&it, "ppoll")) {
            if (val_int(&it, -128, 127, &i)) {
                p->ppoll = (int)i;
                p->have |= CTLV_P_PPOLL;
            }
        } else if (ctl_item_is(&it, "hpoll")) {
            if (val_int(&it, -128, 127, &i)) {
                p->hpoll = (int)i;
                p->have |= CTLV_P_HPOLL;
            }
        } else if (ctl_item_is(&it, "refid")) {
            if (val_str(&it, p->refid, sizeof(p->refid))) {
                p->have |= CTLV_P_REFID;
            }
        } else if (ctl_item_is(&it, "reftime")) {
            if (val_lfp(&it, &p->reftime)) {
                p->have |= CTLV_P_REFTIME | CTLV_P_LAST_SYNC;
                p->last_sync = p->reftime;
            }
        } else if (ctl_item_is(&it, "rec")) {
            if (val_lfp(&it, &p->rec)) {
                p->have |= CTLV_P_REC | CTLV_P_LAST_SYNC;
                p->last_sync = p->rec;
            }
        } else if (ctl_item_is(&it, "reach")) {
            if (val_int(&it, 0, 255, &i)) {
                p->reach = (unsigned)i;
                p->have |= CTLV_P_REACH;
            }
        } else if (ctl_item_is(&it, "unreach")) {
            if (val_int(&it, 0, UINT32_MAX, &i)) {
                p->unreach = (unsigned)i;
                p->have |= CTLV_P_UNREACH;
            }
        } else if (ctl_item_is(&it, "flash")) {
            if (val_int(&it, 0, 0xffff, &i)) {
                p->flash = (unsigned)i;
                p->have |= CTLV_P_FLASH;
            }
        } else if (ctl_item_is(&it, "delay")) {
            if (val_ms(&it, &p->delay)) {
                p->have |= CTLV_P_DELAY;
            }
        } else if (ctl_item_is(&it, "offset")) {
            if (val_ms(&it, &p->offset)) {
                p->have |= CTLV_P_OFFSET;
            }
        } else if (ctl_item_is(&it, "jitter")) {
            if (val_ms(&it, &p->jitter)) {
                p->have |= CTLV_P_JITTER;
            }
        } else if (ctl_item_is(&it, "dispersion")) {
            if (val_ms(&it, &p->dispersion)) {
                p->have |= CTLV_P_DISPERSION;
            }
        } else if (ctl_item_is(&it, "rootdisp")) {
            if (val_ms(&it, &p->rootdisp)) {
                p->have |= CTLV_P_ROOTDISP;
            }
        } else if (ctl_item_is(&it, "ntscookies")) {
            if (val_int(&it, -1, 1000, &i)) {
                p->ntscookies = (int)i;
                p->have |= CTLV_P_NTSCOOKIES;
            }
        } else if (ctl_item_is(&it, "selection")) {
            if (val_str(&it, p->selection, sizeof(p->selection))) {
                p->have |= CTLV_P_SELECTION;
            }
        }
    }
}

static int assoc_cmp(const void *a, const void *b)
{
    const struct ctlv_assoc *x = a, *y = b;
    return (x->associd > y->associd) - (x->associd < y->associd);
}

size_t ctlv_parse_assocs(const uint8_t *data, size_t len, struct ctlv_assoc *out, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i + 4 <= len && n < cap; i += 4) {
        out[n].associd = (uint16_t)((unsigned)data[i] << 8 | data[i + 1]);
        out[n].status = (uint16_t)((unsigned)data[i + 2] << 8 | data[i + 3]);
        if (out[n].associd != 0) {
            n++;
        }
    }
    if (n > 1) {
        qsort(out, n, sizeof(*out), assoc_cmp);
    }
    size_t k = 0;
    for (size_t i = 0; i < n; i++) {
        if (k == 0 || out[k - 1].associd != out[i].associd) {
            out[k++] = out[i];
        }
    }
    return k;
}

static bool addr_char(char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '.' ||
           c == ':' || c == '%' || c == '-' || c == '_';
}

bool ctlv_split_addr(const char *addr, char *ip, size_t iplen, uint16_t *port)
{
    const char *a = addr, *ae, *p;
    *port = 0;
    if (iplen == 0) {
        return false;
    }
    ip[0] = '\0';
    if (addr[0] == '[') {
        a = addr + 1;
        ae = strchr(a, ']');
        if (ae == NULL || ae[1] != ':') {
            goto bad;
        }
        p = ae + 2;
    } else {
        ae = strrchr(addr, ':');
        if (ae == NULL) {
            goto bad;
        }
        p = ae + 1;
        if (memchr(addr, ':', (size_t)(ae - addr)) != NULL) {
            goto bad; /* an IPv6 address needs brackets before its port */
        }
    }
    if (ae == a || (size_t)(ae - a) >= iplen) {
        goto bad;
    }
    for (const char *c = a; c < ae; c++) {
        if (!addr_char(*c)) {
            goto bad;
        }
    }
    unsigned long v = 0;
    size_t nd = 0;
    for (; *p >= '0' && *p <= '9' && nd < 6; p++, nd++) {
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (nd == 0 || *p != '\0' || v > 65535) {
        goto bad;
    }
    memcpy(ip, a, (size_t)(ae - a));
    ip[ae - a] = '\0';
    *port = (uint16_t)v;
    return true;
bad:
    for (size_t i = 0; i + 1 < iplen && addr[i] != '\0'; i++) {
        unsigned char c = (unsigned char)addr[i];
        ip[i] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
        ip[i + 1] = '\0';
    }
    return false;
}

/* "addr.17" -> field "addr", index 17. False for any other shape. */
static bool mru_tag(const struct ctl_item *it, char *field, size_t flen, size_t *index)
{
    const char *dot = memchr(it->name, '.', it->name_len);
    if (dot == NULL) {
        return false;
    }
    size_t fl = (size_t)(dot - it->name);
    size_t il = it->name_len - fl - 1;
    if (fl == 0 || fl >= flen || il == 0 || il > 6) {
        return false;
    }
    size_t v = 0;
    for (size_t i = 0; i < il; i++) {
        char c = dot[1 + i];
        if (c < '0' || c > '9') {
            return false;
        }
        v = v * 10 + (size_t)(c - '0');
    }
    memcpy(field, it->name, fl);
    field[fl] = '\0';
    *index = v;
    return true;
}

/* A nonce is echoed into our next request: only letters and digits may pass. */
static bool nonce_ok(const char *s)
{
    if (s[0] == '\0') {
        return false;
    }
    for (; *s != '\0'; s++) {
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z'))) {
            return false;
        }
    }
    return true;
}

void ctlv_parse_mru(const char *text, size_t len, struct ctlv_mru_reply *r,
                    struct ctlv_mru_entry *rows, size_t cap)
{
    memset(r, 0, sizeof(*r));
    if (cap > CTLV_MRU_ROWS) {
        cap = CTLV_MRU_ROWS;
    }
    memset(rows, 0, cap * sizeof(*rows));
    size_t top = 0; /* one past the highest index filled */
    bool beyond = false;
    struct ctl_item it;
    size_t pos = 0;
    while (ctl_items_next(text, len, &pos, &it)) {
        char field[8];
        size_t k;
        int64_t i;
        if (ctl_item_is(&it, "nonce")) {
            char b[CTLV_STR];
            if (val_str(&it, b, sizeof(b)) && nonce_ok(b)) {
                memcpy(r->nonce, b, sizeof(r->nonce));
            }
            continue;
        }
        if (ctl_item_is(&it, "now")) {
            r->have_now = val_lfp(&it, &r->now);
            continue;
        }
        if (!mru_tag(&it, field, sizeof(field), &k)) {
            continue; /* last.newest, addr.older, last.older, decoys: not needed */
        }
        if (k >= cap) {
            beyond = true;
            continue;
        }
        struct ctlv_mru_entry *e = &rows[k];
        uint16_t bit = 0;
        if (strcmp(field, "addr") == 0) {
            char a[CTLV_STR], ip[CTLV_STR];
            uint16_t port;
            if (ctl_item_value(&it, a, sizeof(a)) && ctlv_split_addr(a, ip, sizeof(ip), &port)) {
                memcpy(e->addr, a, sizeof(e->addr));
                bit = CTLV_M_ADDR;
            }
        } else if (strcmp(field, "last") == 0) {
            if (val_lfp(&it, &e->last)) {
                (void)ctl_item_value(&it, e->last_text, sizeof(e->last_text));
                bit = CTLV_M_LAST;
            }
        } else if (strcmp(field, "first") == 0) {
            bit = val_lfp(&it, &e->first) ? CTLV_M_FIRST : 0;
        } else if (strcmp(field, "ct") == 0) {
            if (val_int(&it, 0, INT64_MAX, &i)) {
                e->count = (uint64_t)i;
                bit = CTLV_M_COUNT;
            }
        } else if (strcmp(field, "mv") == 0) {
            if (val_int(&it, 0, 255, &i)) {
                e->mv = (uint8_t)i;
                bit = CTLV_M_MV;
            }
        } else if (strcmp(field, "rs") == 0) {
            if (val_int(&it, 0, UINT32_MAX, &i)) {
                e->rs = (uint32_t)i;
                bit = CTLV_M_RS;
            }
        } else if (strcmp(field, "dr") == 0) {
            if (val_int(&it, 0, INT64_MAX, &i)) {
                e->dropped = (uint64_t)i;
                bit = CTLV_M_DROPPED;
            }
        } else if (strcmp(field, "kd") == 0) {
            if (val_int(&it, 0, INT64_MAX, &i)) {
                e->kods = (uint64_t)i;
                bit = CTLV_M_KODS;
            }
        } else if (strcmp(field, "sc") == 0) {
            bit = val_num(&it, &e->score) ? CTLV_M_SCORE : 0;
        } else {
            continue;
        }
        if (bit != 0) {
            e->have |= bit;
            if (k + 1 > top) {
                top = k + 1;
            }
        }
    }
    size_t n = 0;
    for (size_t k = 0; k < top; k++) {
        uint16_t need = CTLV_M_ADDR | CTLV_M_LAST;
        if ((rows[k].have & need) == need) {
            if (n != k) {
                rows[n] = rows[k];
            }
            n++;
        } else if (rows[k].have != 0) {
            r->dropped++;
        }
    }
    r->n = n;
    if (beyond) {
        r->dropped++;
    }
}
