/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * responder: the fleet monitor's test peer. One process answers NTP client requests and
 * mode 6 control requests for every address 127.x.y.z on one UDP port, each address
 * behaving as its spec rule says (offset, loss, silence, kiss-o'-death, delay, malformed
 * replies). It owns the spec parser, the address -> behaviour table, the delay queue and
 * the batched socket loop; the wire formats are core/pkt and core/ctl. Test-only: it never
 * touches the clock and drops any request not addressed to 127.0.0.0/8 or ::1.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "core/ctl.h"
#include "core/ntp_time.h"
#include "core/pkt.h"

#define PROG "stratum-responder"
#define BATCH 64
#define RX_BUF 1536
#define TX_BUF CTL_MAX_DGRAM
#define SOCK_BUF (8 * 1024 * 1024)
#define MAX_RULES 4096
#define QUEUE_MAX 1000000u
/* Receive batches per wake-up before the delay queue gets its turn. */
#define RX_ROUNDS 16
#define PEER_ASSOC 4711
#define PRECISION (-23)
#define LOOPBACK_NET 127u

/* ---- behaviour: what one device does, as a rule sets it and as merged per address ---- */

enum key {
    K_OFFSET = 1u << 0,
    K_LOSS = 1u << 1,
    K_SILENT = 1u << 2,
    K_KOD = 1u << 3,
    K_UNSYNC = 1u << 4,
    K_STRATUM = 1u << 5,
    K_REFID = 1u << 6,
    K_ROOTDELAY = 1u << 7,
    K_ROOTDISP = 1u << 8,
    K_LEAP = 1u << 9,
    K_DELAY = 1u << 10,
    K_NOMODE6 = 1u << 11,
    K_MODE6 = 1u << 12,
    K_NTP = 1u << 13,
    K_WRONGSRC = 1u << 14,
    K_VERSION = 1u << 15,
    K_SYSOFFSET = 1u << 16,
};

enum mode6_kind { M6_NORMAL, M6_GARBAGE, M6_HUGE, M6_ERROR };
enum ntp_kind { NTPK_NORMAL, NTPK_GARBAGE };

struct behaviour {
    uint32_t set;  /* enum key bits given explicitly */
    double offset; /* s, added to CLOCK_REALTIME */
    double spread; /* s, per-address offset in [-spread, +spread] on top of offset */
    double loss;   /* probability 0..1 */
    double rootdelay, rootdisp, sysoffset; /* s */
    double delay_ms;
    bool silent, unsync, nomode6, wrongsrc;
    char kod[5];                    /* empty: no kiss-o'-death */
    uint8_t stratum, leap, version; /* version 0: the request's */
    uint8_t mode6, ntp;             /* enum mode6_kind, enum ntp_kind */
    uint32_t refid;
    char refid_text[16]; /* as mode 6 shows it */
};

struct rule {
    uint32_t lo, hi; /* host order, inclusive; only for v4 rules */
    bool star, v6;   /* '*' covers all of 127/8 and ::1; v6 is "::1" alone */
    struct behaviour b;
};

/* ---- requests, decoded on arrival so a delayed one needs no packet copy ---- */

enum req_kind { REQ_NTP, REQ_CTL, REQ_CTL_ERROR };

struct req {
    uint64_t varmask; /* mode 6 variables asked for; 0: all */
    ntp_ts_t xmt;     /* NTP: becomes the reply's origin */
    uint16_t seq, associd;
    uint8_t kind, version, opcode, err;
    int8_t poll;
};

union sockaddr_any {
    struct sockaddr sa;
    struct sockaddr_in in4;
    struct sockaddr_in6 in6;
};

struct job {
    uint64_t due_ns; /* CLOCK_MONOTONIC */
    ntp_ts_t rx;     /* arrival, system time without the device offset */
    union sockaddr_any peer;
    uint32_t dst; /* the device (host order); 0 for ::1 */
    uint32_t profile;
    struct req req;
};

struct txq {
    int fd;
    unsigned n;
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    uint8_t buf[BATCH][TX_BUF];
    union sockaddr_any to[BATCH];
    union {
        size_t align; /* struct cmsghdr has a flexible array member */
        uint8_t b[CMSG_SPACE(sizeof(struct in_pktinfo))];
    } ctrl[BATCH];
};

struct rxq {
    struct mmsghdr msgs[BATCH];
    struct iovec iov[BATCH];
    uint8_t buf[BATCH][RX_BUF];
    union sockaddr_any from[BATCH];
    union {
        size_t align; /* struct cmsghdr has a flexible array member */
        uint8_t b[CMSG_SPACE(sizeof(struct in6_pktinfo)) + CMSG_SPACE(sizeof(struct timespec))];
    } ctrl[BATCH];
};

/* Counters, written as 'name value' lines by --stats. */
enum stat {
    ST_RX_TOTAL,
    ST_RX_NTP,
    ST_RX_CTL,
    ST_RX_OTHER,
    ST_RX_MALFORMED,
    ST_DROP_NONLOOPBACK,
    ST_DROP_SILENT,
    ST_DROP_LOSS,
    ST_DROP_NOMODE6,
    ST_DROP_CTL_BAD,
    ST_DROP_QUEUE_FULL,
    ST_DELAYED,
    ST_QUEUE_PEAK,
    ST_ANSWERED_NTP,
    ST_ANSWERED_KOD,
    ST_ANSWERED_CTL,
    ST_ANSWERED_CTL_ERROR,
    ST_ANSWERED_GARBAGE,
    ST_ANSWERED_WRONGSRC,
    ST_TX_DATAGRAMS,
    ST_TX_ERRORS,
    ST_COUNT
};

static const char *const stat_names[ST_COUNT] = {
    "rx_total",
    "rx_ntp",
    "rx_ctl",
    "rx_other",
    "rx_malformed",
    "drop_nonloopback",
    "drop_silent",
    "drop_loss",
    "drop_nomode6",
    "drop_ctl_bad",
    "drop_queue_full",
    "delayed",
    "queue_peak",
    "answered_ntp",
    "answered_kod",
    "answered_ctl",
    "answered_ctl_error",
    "answered_garbage",
    "answered_wrongsrc",
    "tx_datagrams",
    "tx_errors",
};

struct ctx {
    struct rule *rules;
    size_t n_rules;
    uint32_t *starts;           /* interval i covers [starts[i], starts[i + 1]) */
    struct behaviour *profiles; /* per interval; the last one is ::1's */
    size_t n_intervals;
    uint64_t seed;
    uint64_t rng[4];
    struct job *heap;
    size_t heap_len, heap_cap;
    struct txq *tx4, *tx6;
    struct rxq *rx;
    uint64_t st[ST_COUNT];
    uint16_t port;
};

static volatile sig_atomic_t g_stop, g_dump;

/* ---- PRNG (xoshiro256**) and the per-address hash ---- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct ctx *c)
{
    uint64_t *s = c->rng;
    uint64_t r = rotl(s[1] * 5, 7) * 9, t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return r;
}

static double rng_uniform(struct ctx *c)
{
    return (double)(rng_next(c) >> 11) * 0x1.0p-53;
}

static unsigned rng_below(struct ctx *c, unsigned n)
{
    return (unsigned)(rng_next(c) % n);
}

static double device_offset(const struct ctx *c, const struct behaviour *b, uint32_t addr)
{
    if (b->spread <= 0.0) {
        return b->offset;
    }
    uint64_t x = c->seed * UINT64_C(0x2545f4914f6cdd1d) ^ addr;
    double u = (double)(splitmix64(&x) >> 11) * 0x1.0p-53;
    return b->offset + b->spread * (2.0 * u - 1.0);
}

/* ---- spec file ---- */

static void behaviour_default(struct behaviour *b)
{
    memset(b, 0, sizeof(*b));
    b->stratum = 2;
    b->rootdelay = 0.001;
    b->rootdisp = 0.002;
    b->sysoffset = 0.00005;
    static const uint8_t ref[4] = {192, 0, 2, 1};
    b->refid = ntp_refid_ipv4(ref);
    snprintf(b->refid_text, sizeof(b->refid_text), "192.0.2.1");
}

/* Copies the keys rule r sets onto b: later rules override earlier ones key by key. */
static void behaviour_merge(struct behaviour *b, const struct behaviour *r)
{
    uint32_t s = r->set;
    if (s & K_OFFSET) {
        b->offset = r->offset;
        b->spread = r->spread;
    }
    if (s & K_LOSS) {
        b->loss = r->loss;
    }
    if (s & K_SILENT) {
        b->silent = r->silent;
    }
    if (s & K_KOD) {
        memcpy(b->kod, r->kod, sizeof(b->kod));
    }
    if (s & K_UNSYNC) {
        b->unsync = r->unsync;
    }
    if (s & K_STRATUM) {
        b->stratum = r->stratum;
    }
    if (s & K_REFID) {
        b->refid = r->refid;
        memcpy(b->refid_text, r->refid_text, sizeof(b->refid_text));
    }
    if (s & K_ROOTDELAY) {
        b->rootdelay = r->rootdelay;
    }
    if (s & K_ROOTDISP) {
        b->rootdisp = r->rootdisp;
    }
    if (s & K_LEAP) {
        b->leap = r->leap;
    }
    if (s & K_DELAY) {
        b->delay_ms = r->delay_ms;
    }
    if (s & K_NOMODE6) {
        b->nomode6 = r->nomode6;
    }
    if (s & K_MODE6) {
        b->mode6 = r->mode6;
    }
    if (s & K_NTP) {
        b->ntp = r->ntp;
    }
    if (s & K_WRONGSRC) {
        b->wrongsrc = r->wrongsrc;
    }
    if (s & K_VERSION) {
        b->version = r->version;
    }
    if (s & K_SYSOFFSET) {
        b->sysoffset = r->sysoffset;
    }
    b->set |= s;
}

/* unsync: LI=3 and, unless the rules gave them, stratum 16 and refid INIT (as ntpd). */
static void behaviour_finish(struct behaviour *b)
{
    if (!b->unsync) {
        return;
    }
    b->leap = PKT_LEAP_UNSYNC;
    if (!(b->set & K_STRATUM)) {
        b->stratum = 16;
    }
    if (!(b->set & K_REFID)) {
        b->refid = ntp_refid_from_ascii("INIT");
        snprintf(b->refid_text, sizeof(b->refid_text), "INIT");
    }
}

static bool parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || *end != '\0' || errno != 0 || !isfinite(v) || v < lo || v > hi) {
        return false;
    }
    *out = v;
    return true;
}

static bool parse_uint(const char *s, unsigned lo, unsigned hi, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long v = strtoul(s, &end, 10);
    if (end == s || *end != '\0' || errno != 0 || *s == '-' || v < lo || v > hi) {
        return false;
    }
    *out = (unsigned)v;
    return true;
}

/* A flag: bare, or =1/=0/=yes/=no. */
static bool parse_flag(const char *val, bool *out)
{
    if (val == NULL || strcmp(val, "1") == 0 || strcmp(val, "yes") == 0) {
        *out = true;
    } else if (strcmp(val, "0") == 0 || strcmp(val, "no") == 0) {
        *out = false;
    } else {
        return false;
    }
    return true;
}

/* 1-4 printable ASCII characters (kiss codes, text refids). */
static bool parse_code(const char *s, char out[5])
{
    size_t n = strlen(s);
    if (n < 1 || n > 4) {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        if (s[i] <= 0x20 || s[i] >= 0x7f || s[i] == ',' || s[i] == '"' || s[i] == '=') {
            return false;
        }
    }
    memcpy(out, s, n + 1);
    return true;
}

static bool parse_v4(const char *s, uint32_t *out)
{
    struct in_addr a;
    if (inet_pton(AF_INET, s, &a) != 1) {
        return false;
    }
    *out = ntohl(a.s_addr);
    return true;
}

/* "127.1.2.3", "127.1.0.0/16", "127.1.0.0-127.1.39.255", "*" or "::1". */
static const char *parse_target(char *w, struct rule *r)
{
    char *sep;
    if (strcmp(w, "*") == 0) {
        r->star = true;
        r->lo = LOOPBACK_NET << 24;
        r->hi = r->lo | 0xffffffu;
        return NULL;
    }
    if (strcmp(w, "::1") == 0) {
        r->v6 = true;
        return NULL;
    }
    if ((sep = strchr(w, '/')) != NULL) {
        *sep = '\0';
        unsigned plen;
        if (!parse_v4(w, &r->lo) || !parse_uint(sep + 1, 0, 32, &plen)) {
            return "bad CIDR block";
        }
        uint32_t mask = plen == 0 ? 0 : 0xffffffffu << (32 - plen);
        r->lo &= mask;
        r->hi = r->lo | ~mask;
    } else if ((sep = strchr(w, '-')) != NULL) {
        *sep = '\0';
        if (!parse_v4(w, &r->lo) || !parse_v4(sep + 1, &r->hi) || r->lo > r->hi) {
            return "bad address range";
        }
    } else if (parse_v4(w, &r->lo)) {
        r->hi = r->lo;
    } else {
        return "bad address";
    }
    if (r->lo >> 24 != LOOPBACK_NET || r->hi >> 24 != LOOPBACK_NET) {
        return "address outside 127.0.0.0/8";
    }
    return NULL;
}

static const struct {
    const char *name;
    uint32_t key;
} key_names[] = {
    {"offset", K_OFFSET},       {"loss", K_LOSS},
    {"silent", K_SILENT},       {"kod", K_KOD},
    {"unsync", K_UNSYNC},       {"stratum", K_STRATUM},
    {"refid", K_REFID},         {"rootdelay", K_ROOTDELAY},
    {"rootdisp", K_ROOTDISP},   {"leap", K_LEAP},
    {"delay", K_DELAY},         {"nomode6", K_NOMODE6},
    {"mode6", K_MODE6},         {"ntp", K_NTP},
    {"wrongsrc", K_WRONGSRC},   {"version", K_VERSION},
    {"sysoffset", K_SYSOFFSET},
};

/* The value of key (a bare word) into b. Returns false when it is bad. */
static bool parse_value(uint32_t key, const char *val, struct behaviour *b)
{
    unsigned u = 0;
    uint32_t a;
    char code[5];
    bool ok = false;
    switch (key) {
    case K_SILENT:
        return parse_flag(val, &b->silent);
    case K_UNSYNC:
        return parse_flag(val, &b->unsync);
    case K_NOMODE6:
        return parse_flag(val, &b->nomode6);
    case K_WRONGSRC:
        return parse_flag(val, &b->wrongsrc);
    default:
        break;
    }
    if (val == NULL) {
        return false;
    }
    switch (key) {
    case K_OFFSET:
        b->offset = 0.0;
        b->spread = 0.0;
        if (strncmp(val, "spread:", 7) == 0) {
            return parse_double(val + 7, 0.0, 1e8, &b->spread);
        }
        return parse_double(val, -1e8, 1e8, &b->offset);
    case K_LOSS:
        return parse_double(val, 0.0, 1.0, &b->loss);
    case K_KOD:
        b->kod[0] = '\0';
        return strcmp(val, "none") == 0 || parse_code(val, b->kod);
    case K_STRATUM:
        ok = parse_uint(val, 0, 255, &u);
        b->stratum = (uint8_t)u;
        return ok;
    case K_REFID:
        if (parse_v4(val, &a)) {
            uint8_t o[4] = {(uint8_t)(a >> 24), (uint8_t)(a >> 16), (uint8_t)(a >> 8), (uint8_t)a};
            b->refid = ntp_refid_ipv4(o);
        } else if (parse_code(val, code)) {
            b->refid = ntp_refid_from_ascii(code);
        } else {
            return false;
        }
        snprintf(b->refid_text, sizeof(b->refid_text), "%s", val);
        return true;
    case K_ROOTDELAY:
        return parse_double(val, 0.0, 65535.0, &b->rootdelay);
    case K_ROOTDISP:
        return parse_double(val, 0.0, 65535.0, &b->rootdisp);
    case K_SYSOFFSET:
        return parse_double(val, -1e6, 1e6, &b->sysoffset);
    case K_LEAP:
        ok = parse_uint(val, 0, 3, &u);
        b->leap = (uint8_t)u;
        return ok;
    case K_DELAY:
        return parse_double(val, 0.0, 3600000.0, &b->delay_ms);
    case K_VERSION:
        ok = parse_uint(val, 0, 7, &u);
        b->version = (uint8_t)u;
        return ok;
    case K_MODE6: {
        static const char *const names[] = {"normal", "garbage", "huge", "error"};
        for (unsigned i = 0; i < 4; i++) {
            if (strcmp(val, names[i]) == 0) {
                b->mode6 = (uint8_t)i;
                ok = true;
            }
        }
        return ok;
    }
    case K_NTP:
        b->ntp = strcmp(val, "garbage") == 0 ? NTPK_GARBAGE : NTPK_NORMAL;
        return b->ntp == NTPK_GARBAGE || strcmp(val, "normal") == 0;
    default:
        return false;
    }
}

/* One "key[=value]" word into b. Returns NULL or what is wrong. */
static const char *parse_key(char *w, struct behaviour *b)
{
    char *val = strchr(w, '=');
    if (val != NULL) {
        *val++ = '\0';
    }
    for (size_t i = 0; i < sizeof(key_names) / sizeof(key_names[0]); i++) {
        if (strcmp(w, key_names[i].name) == 0) {
            if (!parse_value(key_names[i].key, val, b)) {
                return val == NULL ? "key needs a value" : "bad value for key";
            }
            b->set |= key_names[i].key;
            return NULL;
        }
    }
    return "unknown key";
}

static bool spec_load(struct ctx *c, const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "%s: %s: %s\n", PROG, path, strerror(errno));
        return false;
    }
    char *line = NULL;
    size_t cap = 0;
    unsigned lineno = 0;
    bool ok = true;
    c->rules = calloc(MAX_RULES, sizeof(*c->rules));
    if (c->rules == NULL) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        fclose(f);
        return false;
    }
    while (ok && getline(&line, &cap, f) != -1) {
        lineno++;
        char *hash = strchr(line, '#');
        if (hash != NULL) {
            *hash = '\0';
        }
        char *save = NULL;
        char *w = strtok_r(line, " \t\r\n", &save);
        if (w == NULL) {
            continue;
        }
        if (c->n_rules == MAX_RULES) {
            fprintf(stderr, "%s:%u: more than %d rules\n", path, lineno, MAX_RULES);
            ok = false;
            break;
        }
        struct rule *r = &c->rules[c->n_rules];
        memset(r, 0, sizeof(*r));
        char word[128];
        snprintf(word, sizeof(word), "%s", w);
        const char *why = parse_target(w, r);
        while (why == NULL && (w = strtok_r(NULL, " \t\r\n", &save)) != NULL) {
            snprintf(word, sizeof(word), "%s", w);
            why = parse_key(w, &r->b);
        }
        if (why != NULL) {
            fprintf(stderr, "%s:%u: %s '%s'\n", path, lineno, why, word);
            ok = false;
            break;
        }
        c->n_rules++;
    }
    if (ok && ferror(f)) {
        fprintf(stderr, "%s: read error: %s\n", path, strerror(errno));
        ok = false;
    }
    free(line);
    fclose(f);
    return ok;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Cuts 127/8 at every rule edge and merges the rules covering each piece, so a lookup is a
 * binary search over at most 2 * MAX_RULES + 1 intervals. The extra last profile is ::1. */
static bool profiles_build(struct ctx *c)
{
    size_t nb = 0;
    uint64_t *bounds = calloc(2 * c->n_rules + 2, sizeof(*bounds));
    if (bounds == NULL) {
        return false;
    }
    bounds[nb++] = (uint64_t)LOOPBACK_NET << 24;
    bounds[nb++] = (uint64_t)(LOOPBACK_NET + 1) << 24;
    for (size_t i = 0; i < c->n_rules; i++) {
        if (!c->rules[i].v6) {
            bounds[nb++] = c->rules[i].lo;
            bounds[nb++] = (uint64_t)c->rules[i].hi + 1;
        }
    }
    qsort(bounds, nb, sizeof(*bounds), cmp_u64);
    size_t nu = 0;
    for (size_t i = 0; i < nb; i++) {
        if (nu == 0 || bounds[i] != bounds[nu - 1]) {
            bounds[nu++] = bounds[i];
        }
    }
    c->n_intervals = nu - 1;
    c->starts = calloc(nu, sizeof(*c->starts));
    c->profiles = calloc(nu, sizeof(*c->profiles));
    if (c->starts == NULL || c->profiles == NULL) {
        free(bounds);
        return false;
    }
    for (size_t k = 0; k < c->n_intervals; k++) {
        uint32_t a = (uint32_t)bounds[k];
        c->starts[k] = a;
        behaviour_default(&c->profiles[k]);
        for (size_t i = 0; i < c->n_rules; i++) {
            const struct rule *r = &c->rules[i];
            if (!r->v6 && a >= r->lo && a <= r->hi) {
                behaviour_merge(&c->profiles[k], &r->b);
            }
        }
        behaviour_finish(&c->profiles[k]);
    }
    struct behaviour *v6 = &c->profiles[c->n_intervals];
    behaviour_default(v6);
    for (size_t i = 0; i < c->n_rules; i++) {
        if (c->rules[i].star || c->rules[i].v6) {
            behaviour_merge(v6, &c->rules[i].b);
        }
    }
    behaviour_finish(v6);
    free(bounds);
    return true;
}

/* The profile index of a 127/8 address (host order). */
static uint32_t profile_find(const struct ctx *c, uint32_t addr)
{
    size_t lo = 0, hi = c->n_intervals;
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (c->starts[mid] <= addr) {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    return (uint32_t)lo;
}

/* ---- delay queue: binary min-heap on due time ---- */

static bool heap_push(struct ctx *c, const struct job *j)
{
    if (c->heap_len == c->heap_cap) {
        if (c->heap_cap >= QUEUE_MAX) {
            return false;
        }
        size_t cap = c->heap_cap == 0 ? 1024 : c->heap_cap * 2;
        cap = cap > QUEUE_MAX ? QUEUE_MAX : cap;
        struct job *h = realloc(c->heap, cap * sizeof(*h));
        if (h == NULL) {
            return false;
        }
        c->heap = h;
        c->heap_cap = cap;
    }
    size_t i = c->heap_len++;
    while (i > 0 && c->heap[(i - 1) / 2].due_ns > j->due_ns) {
        c->heap[i] = c->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    c->heap[i] = *j;
    if (c->heap_len > c->st[ST_QUEUE_PEAK]) {
        c->st[ST_QUEUE_PEAK] = c->heap_len;
    }
    return true;
}

static void heap_pop(struct ctx *c, struct job *out)
{
    *out = c->heap[0];
    struct job last = c->heap[--c->heap_len];
    size_t i = 0, n = c->heap_len;
    for (;;) {
        size_t l = 2 * i + 1, m = i;
        if (l >= n) {
            break;
        }
        m = l + 1 < n && c->heap[l + 1].due_ns < c->heap[l].due_ns ? l + 1 : l;
        if (c->heap[m].due_ns >= last.due_ns) {
            break;
        }
        c->heap[i] = c->heap[m];
        i = m;
    }
    if (n > 0) {
        c->heap[i] = last;
    }
}

/* ---- sending ---- */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static ntp_ts_t real_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return ntp_ts_from_timespec(&ts);
}

static void tx_flush(struct ctx *c, struct txq *q)
{
    unsigned sent = 0;
    int again = 0;
    while (sent < q->n) {
        int r = sendmmsg(q->fd, q->msgs + sent, q->n - sent, 0);
        if (r > 0) {
            sent += (unsigned)r;
            c->st[ST_TX_DATAGRAMS] += (uint64_t)r;
            continue;
        }
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r < 0 && (errno == EAGAIN || errno == ENOBUFS) && again++ < 20) {
            struct pollfd p = {.fd = q->fd, .events = POLLOUT};
            (void)poll(&p, 1, 5);
            continue;
        }
        if (c->st[ST_TX_ERRORS]++ % 10000 == 0) {
            fprintf(stderr, "%s: send: %s (%llu errors)\n", PROG, strerror(errno),
                    (unsigned long long)c->st[ST_TX_ERRORS]);
        }
        sent++;
    }
    q->n = 0;
}

/* A free datagram buffer in q, flushing first when the batch is full. */
static uint8_t *tx_slot(struct ctx *c, struct txq *q)
{
    if (q->n == BATCH) {
        tx_flush(c, q);
    }
    return q->buf[q->n];
}

/* Queues the datagram just written to tx_slot: to `peer`, from `src` (host order, v4). */
static void tx_commit(struct txq *q, size_t len, const union sockaddr_any *peer, uint32_t src)
{
    unsigned i = q->n++;
    struct msghdr *m = &q->msgs[i].msg_hdr;
    memset(m, 0, sizeof(*m));
    q->iov[i].iov_base = q->buf[i];
    q->iov[i].iov_len = len;
    q->to[i] = *peer;
    m->msg_iov = &q->iov[i];
    m->msg_iovlen = 1;
    m->msg_name = &q->to[i];
    if (peer->sa.sa_family == AF_INET6) {
        m->msg_namelen = sizeof(struct sockaddr_in6);
        return;
    }
    m->msg_namelen = sizeof(struct sockaddr_in);
    memset(q->ctrl[i].b, 0, sizeof(q->ctrl[i].b));
    m->msg_control = q->ctrl[i].b;
    m->msg_controllen = sizeof(q->ctrl[i].b);
    struct cmsghdr *cm = CMSG_FIRSTHDR(m);
    cm->cmsg_level = IPPROTO_IP;
    cm->cmsg_type = IP_PKTINFO;
    cm->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
    struct in_pktinfo pi;
    memset(&pi, 0, sizeof(pi));
    pi.ipi_spec_dst.s_addr = htonl(src);
    memcpy(CMSG_DATA(cm), &pi, sizeof(pi));
}

/* ---- NTP replies ---- */

static void put64(uint8_t *p, uint64_t v)
{
    for (int i = 0; i < 8; i++) {
        p[i] = (uint8_t)(v >> (56 - 8 * i));
    }
}

/* A malformed NTP reply, one of several shapes a monitor must survive. */
static size_t ntp_garbage(struct ctx *c, uint8_t *buf, uint8_t *good)
{
    size_t len = PKT_HEADER_LEN;
    memcpy(buf, good, PKT_HEADER_LEN);
    switch (rng_below(c, 7)) {
    case 0: /* short */
        len = 1 + rng_below(c, PKT_HEADER_LEN - 1);
        break;
    case 1: { /* wrong mode */
        static const uint8_t modes[] = {0, 1, 2, 3, 5, 6, 7};
        buf[0] = (uint8_t)((buf[0] & 0xf8u) | modes[rng_below(c, 7)]);
        break;
    }
    case 2: /* bogus origin */
        put64(buf + 24, rng_next(c));
        break;
    case 3: /* version 0 or 7 */
        buf[0] = (uint8_t)((buf[0] & 0xc7u) | (rng_below(c, 2) ? 7u : 0u) << 3);
        break;
    case 4: /* odd length with junk after the header */
        len = PKT_HEADER_LEN + 1 + rng_below(c, 15);
        for (size_t i = PKT_HEADER_LEN; i < len; i++) {
            buf[i] = (uint8_t)rng_next(c);
        }
        break;
    case 5: /* zero transmit timestamp */
        put64(buf + 40, 0);
        break;
    default: /* random bytes */
        for (size_t i = 0; i < PKT_HEADER_LEN; i++) {
            buf[i] = (uint8_t)rng_next(c);
        }
        break;
    }
    return len;
}

static void answer_ntp(struct ctx *c, struct txq *q, const struct job *j, const struct behaviour *b,
                       double off, uint32_t src)
{
    struct ntp_packet p;
    memset(&p, 0, sizeof(p));
    p.version = b->version != 0 ? b->version : j->req.version;
    p.mode = PKT_MODE_SERVER;
    p.poll = j->req.poll;
    p.precision = PRECISION;
    p.org = j->req.xmt;
    p.rec = ntp_ts_add(j->rx, off);
    if (b->kod[0] != '\0') {
        p.leap = PKT_LEAP_UNSYNC;
        p.refid = ntp_refid_from_ascii(b->kod);
        c->st[ST_ANSWERED_KOD]++;
    } else {
        p.leap = b->leap;
        p.stratum = b->stratum;
        p.root_delay = ntp_short_from_double(b->rootdelay);
        p.root_disp = ntp_short_from_double(b->rootdisp);
        p.refid = b->refid;
        c->st[ST_ANSWERED_NTP]++;
    }
    uint8_t *buf = tx_slot(c, q);
    p.xmt = ntp_ts_add(real_now(), off);
    if (!b->unsync && b->kod[0] == '\0') {
        p.ref = ntp_ts_add(p.xmt, -32.0);
    }
    size_t len = pkt_encode(&p, buf, TX_BUF);
    if (b->ntp == NTPK_GARBAGE) {
        uint8_t good[PKT_HEADER_LEN];
        memcpy(good, buf, sizeof(good));
        len = ntp_garbage(c, buf, good);
        c->st[ST_ANSWERED_GARBAGE]++;
    }
    tx_commit(q, len, &j->peer, src);
}

/* ---- mode 6 replies ---- */

/* One mode 6 variable as the reply will carry it. */
struct var {
    const char *name;
    char value[48];
    bool quoted;
};

#define MAX_VARS 32

__attribute__((format(printf, 4, 5))) static void var_set(struct var *v, const char *name,
                                                          bool quoted, const char *fmt, ...)
{
    va_list ap;
    v->name = name;
    v->quoted = quoted;
    va_start(ap, fmt);
    vsnprintf(v->value, sizeof(v->value), fmt, ap);
    va_end(ap);
}

#define TS_FMT "0x%08x.%08x"
#define TS_ARGS(t) (unsigned)((t) >> 32), (unsigned)((t) % (UINT64_C(1) << 32))

/* ntpd's system variables (`ntpq -c rv`); times in ms as ntpd sends them. */
static size_t sys_vars(struct var *v, const struct behaviour *b, ntp_ts_t now)
{
    ntp_ts_t ref = b->unsync ? 0 : ntp_ts_add(now, -32.0);
    size_t n = 0;
    var_set(&v[n++], "version", true, "ntpd 4.2.8p15 (responder)");
    var_set(&v[n++], "processor", true, "x86_64");
    var_set(&v[n++], "system", true, "Linux");
    var_set(&v[n++], "leap", false, "%u", b->leap);
    var_set(&v[n++], "stratum", false, "%u", b->stratum);
    var_set(&v[n++], "precision", false, "%d", PRECISION);
    var_set(&v[n++], "rootdelay", false, "%.3f", b->rootdelay * 1e3);
    var_set(&v[n++], "rootdisp", false, "%.3f", b->rootdisp * 1e3);
    var_set(&v[n++], "refid", false, "%s", b->refid_text);
    var_set(&v[n++], "reftime", false, TS_FMT, TS_ARGS(ref));
    var_set(&v[n++], "clock", false, TS_FMT, TS_ARGS(now));
    var_set(&v[n++], "peer", false, "%u", b->unsync ? 0u : PEER_ASSOC);
    var_set(&v[n++], "tc", false, "6");
    var_set(&v[n++], "mintc", false, "3");
    var_set(&v[n++], "offset", false, "%.6f", b->unsync ? 0.0 : b->sysoffset * 1e3);
    var_set(&v[n++], "frequency", false, "-1.234");
    var_set(&v[n++], "sys_jitter", false, "0.123");
    var_set(&v[n++], "clk_jitter", false, "0.045");
    var_set(&v[n++], "clk_wander", false, "0.002");
    return n;
}

/* The system peer's variables (`ntpq -c "rv 4711"`): the refid's address if it is one. */
static size_t peer_vars(struct var *v, const struct behaviour *b, ntp_ts_t now, const char *dstadr)
{
    uint32_t a;
    bool ip = parse_v4(b->refid_text, &a);
    unsigned stratum = b->unsync ? 16u : b->stratum > 2 && b->stratum < 16 ? b->stratum - 1u : 1u;
    size_t n = 0;
    var_set(&v[n++], "srcadr", false, "%s", ip ? b->refid_text : "192.0.2.1");
    var_set(&v[n++], "srcport", false, "123");
    var_set(&v[n++], "dstadr", false, "%s", dstadr);
    var_set(&v[n++], "dstport", false, "123");
    var_set(&v[n++], "leap", false, "%u", b->unsync ? 3u : 0u);
    var_set(&v[n++], "stratum", false, "%u", stratum);
    var_set(&v[n++], "precision", false, "-20");
    var_set(&v[n++], "rootdelay", false, "0.000");
    var_set(&v[n++], "rootdisp", false, "0.500");
    var_set(&v[n++], "refid", false, "%s", stratum == 1 ? "GPS" : "192.0.2.254");
    var_set(&v[n++], "reftime", false, TS_FMT, TS_ARGS(ntp_ts_add(now, -40.0)));
    var_set(&v[n++], "rec", false, TS_FMT, TS_ARGS(ntp_ts_add(now, -20.0)));
    var_set(&v[n++], "reach", false, "%s", b->unsync ? "0" : "377");
    var_set(&v[n++], "unreach", false, "0");
    var_set(&v[n++], "hmode", false, "3");
    var_set(&v[n++], "pmode", false, "4");
    var_set(&v[n++], "hpoll", false, "6");
    var_set(&v[n++], "ppoll", false, "6");
    var_set(&v[n++], "headway", false, "0");
    var_set(&v[n++], "flash", false, "0x0");
    var_set(&v[n++], "offset", false, "%.6f", b->sysoffset * 1e3);
    var_set(&v[n++], "delay", false, "0.345");
    var_set(&v[n++], "dispersion", false, "1.234");
    var_set(&v[n++], "jitter", false, "0.089");
    return n;
}

/* The variables of association assoc (0: the system), all of them or those in mask. */
static void vars_text(struct ctl_text *t, const struct behaviour *b, uint16_t assoc, uint64_t mask,
                      ntp_ts_t now, const char *dstadr)
{
    struct var v[MAX_VARS];
    size_t n = assoc == 0 ? sys_vars(v, b, now) : peer_vars(v, b, now, dstadr);
    for (size_t i = 0; i < n; i++) {
        if (mask != 0 && !(mask & (UINT64_C(1) << i))) {
            continue;
        }
        if (v[i].quoted) {
            ctl_text_str(t, v[i].name, v[i].value);
        } else {
            ctl_text_add(t, v[i].name, "%s", v[i].value);
        }
    }
}

static void put16(uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* A malformed mode 6 reply: bad framing, wrong opcode/sequence, counts or offsets out of
 * range, fragments that never complete, or junk text. */
static size_t ctl_garbage(struct ctx *c, const struct req *r, uint8_t *buf)
{
    uint8_t b0 = (uint8_t)((r->version & 7u) << 3 | 6u), b1 = (uint8_t)(0x80u | r->opcode);
    uint16_t seq = r->seq, off = 0, count = 40;
    size_t len = CTL_HEADER_LEN + 40;
    for (size_t i = CTL_HEADER_LEN; i < TX_BUF; i++) {
        buf[i] = (uint8_t)("x9=\"\r\n,\0\x01"[rng_below(c, 10)]);
    }
    switch (rng_below(c, 9)) {
    case 0: /* random bytes of random length */
        len = 4 * (3 + rng_below(c, (CTL_HEADER_LEN + CTL_MAX_DATA) / 4 - 2));
        for (size_t i = 0; i < len; i++) {
            buf[i] = (uint8_t)rng_next(c);
        }
        return len;
    case 1:
        b1 = (uint8_t)(0x80u | ((r->opcode + 1u) & 0x1fu));
        break;
    case 2:
        count = (uint16_t)(100 + rng_below(c, 900));
        break;
    case 3:
        off = (uint16_t)(CTL_MAX_PAYLOAD - 10 + rng_below(c, 50000));
        break;
    case 4:
        b1 = r->opcode;
        break;
    case 5:
        seq = (uint16_t)(seq + 1 + rng_below(c, 100));
        break;
    case 6:
        count = 5;
        len = CTL_HEADER_LEN + 5;
        break;
    case 7: /* "more" with nothing after it */
        b1 |= 0x20u;
        break;
    default: /* version 5 or 0 */
        b0 = (uint8_t)(rng_below(c, 2) ? 0x2eu : 0x06u);
        break;
    }
    buf[0] = b0;
    buf[1] = b1;
    put16(buf + 2, seq);
    put16(buf + 4, 0x0615);
    put16(buf + 6, r->associd);
    put16(buf + 8, off);
    put16(buf + 10, count);
    return len;
}

static uint8_t g_payload[CTL_MAX_PAYLOAD + 1];

static void answer_ctl(struct ctx *c, struct txq *q, const struct job *j, const struct behaviour *b,
                       double off, uint32_t src)
{
    const struct req *r = &j->req;
    struct ctl_msg m;
    memset(&m, 0, sizeof(m));
    m.version = r->version;
    m.opcode = r->opcode;
    m.seq = r->seq;
    m.associd = r->associd;
    uint8_t *buf = tx_slot(c, q);
    if (b->mode6 == M6_GARBAGE) {
        c->st[ST_ANSWERED_GARBAGE]++;
        tx_commit(q, ctl_garbage(c, r, buf), &j->peer, src);
        return;
    }
    uint8_t err = r->err;
    if (b->mode6 == M6_ERROR) {
        err = rng_below(c, 2) ? CTL_ERR_PERMISSION : CTL_ERR_BADASSOC;
    } else if (r->kind == REQ_CTL && r->associd != 0 && r->associd != PEER_ASSOC) {
        err = CTL_ERR_BADASSOC;
    } else if (r->kind == REQ_CTL && r->opcode != CTL_OP_READVAR && r->opcode != CTL_OP_READSTAT) {
        err = CTL_ERR_BADOP;
    }
    if (err != 0) {
        c->st[ST_ANSWERED_CTL_ERROR]++;
        tx_commit(q, ctl_encode_error(&m, b->leap, (enum ctl_error)err, buf, TX_BUF), &j->peer,
                  src);
        return;
    }
    c->st[ST_ANSWERED_CTL]++;
    ntp_ts_t now = ntp_ts_add(real_now(), off);
    uint16_t sys_st = b->unsync ? ctl_sys_status(3, CTL_SST_UNSPEC, 1, CTL_SEV_RESTART)
                                : ctl_sys_status(b->leap, CTL_SST_NTP, 1, CTL_SEV_SYNC);
    uint16_t peer_st =
        b->unsync
            ? ctl_peer_status(CTL_PST_CONFIG, CTL_SEL_REJECT, 1, CTL_PEV_UNREACH)
            : ctl_peer_status(CTL_PST_CONFIG | CTL_PST_REACH, CTL_SEL_SYSPEER, 1, CTL_PEV_SYSPEER);
    uint16_t status = r->associd == 0 ? sys_st : peer_st;
    size_t plen;
    if (r->opcode == CTL_OP_READSTAT && r->associd == 0) {
        put16(g_payload, PEER_ASSOC);
        put16(g_payload + 2, peer_st);
        plen = 4;
    } else {
        struct ctl_text t;
        char dst[INET6_ADDRSTRLEN] = "::1";
        if (j->peer.sa.sa_family == AF_INET) {
            struct in_addr a = {.s_addr = htonl(j->dst)};
            inet_ntop(AF_INET, &a, dst, sizeof(dst));
        }
        ctl_text_init(&t, (char *)g_payload, sizeof(g_payload));
        vars_text(&t, b, r->associd, r->varmask, now, dst);
        if (b->mode6 == M6_HUGE && r->opcode == CTL_OP_READVAR) {
            static const char junk[] = "0123456789abcdefghijklmnopqrstuvwxyzABCDEF";
            for (unsigned i = 1; !t.overflow; i++) {
                char name[16];
                snprintf(name, sizeof(name), "x%u", i);
                ctl_text_add(&t, name, "%s", junk);
            }
        }
        ctl_text_finish(&t);
        plen = t.len;
    }
    size_t n = ctl_fragments(plen);
    for (size_t f = 0; f < n; f++) {
        buf = tx_slot(c, q);
        size_t len =
            ctl_encode_response(&m, b->leap, status, r->associd, g_payload, plen, f, buf, TX_BUF);
        tx_commit(q, len, &j->peer, src);
    }
}

static void answer(struct ctx *c, const struct job *j)
{
    const struct behaviour *b = &c->profiles[j->profile];
    bool v6 = j->peer.sa.sa_family == AF_INET6;
    struct txq *q = v6 ? c->tx6 : c->tx4;
    uint32_t src = j->dst;
    if (b->wrongsrc) {
        if (v6) {
            return; /* ::1 is the only loopback v6 address: nowhere else to answer from */
        }
        src = (src & 0xffffffu) == 0xffffffu ? src - 1 : src + 1;
        c->st[ST_ANSWERED_WRONGSRC]++;
    }
    double off = device_offset(c, b, j->dst);
    if (j->req.kind == REQ_NTP) {
        answer_ntp(c, q, j, b, off, src);
    } else {
        answer_ctl(c, q, j, b, off, src);
    }
}

/* ---- receiving ---- */

/* Sets *mask to the variables a READVAR's data names; false when one is unknown. */
static bool ctl_varmask(const struct ctl_msg *m, const struct behaviour *b, uint64_t *mask)
{
    struct var v[MAX_VARS];
    size_t n = m->associd == 0 ? sys_vars(v, b, 0) : peer_vars(v, b, 0, ""), pos = 0;
    struct ctl_item it;
    *mask = 0;
    while (ctl_items_next((const char *)m->data, m->count, &pos, &it)) {
        size_t i = 0;
        while (i < n && !ctl_item_is(&it, v[i].name)) {
            i++;
        }
        if (i == n) {
            return false;
        }
        *mask |= UINT64_C(1) << i;
    }
    return true;
}

/* Decodes one datagram for device dst into j->req. False: not answered (counted). */
static bool classify(struct ctx *c, const uint8_t *buf, size_t len, const struct behaviour *b,
                     struct job *j)
{
    uint8_t leap, version, mode;
    struct req *r = &j->req;
    if (len == 0) {
        c->st[ST_RX_MALFORMED]++;
        return false;
    }
    pkt_peek(buf, len, &leap, &version, &mode);
    if (mode == PKT_MODE_CONTROL) {
        struct ctl_msg m;
        enum ctl_reason why = ctl_decode(buf, len, &m);
        if (why != CTL_OK && why != CTL_BAD_COUNT) {
            c->st[ST_RX_MALFORMED]++;
            return false;
        }
        c->st[ST_RX_CTL]++;
        enum ctl_reason chk = ctl_check_request(&m);
        if (chk == CTL_BAD_RESPONSE || chk == CTL_BAD_OFFSET) {
            c->st[ST_DROP_CTL_BAD]++;
            return false;
        }
        if (b->silent || b->nomode6) {
            c->st[ST_DROP_SILENT] += b->silent;
            c->st[ST_DROP_NOMODE6] += !b->silent;
            return false;
        }
        r->kind = REQ_CTL;
        r->version = m.version;
        r->opcode = m.opcode;
        r->seq = m.seq;
        r->associd = m.associd;
        if (why == CTL_BAD_COUNT || chk == CTL_BAD_ALIGN) {
            r->kind = REQ_CTL_ERROR;
            r->err = CTL_ERR_BADFMT;
        } else if (m.opcode == CTL_OP_READVAR && m.count > 0 &&
                   (m.associd == 0 || m.associd == PEER_ASSOC) &&
                   !ctl_varmask(&m, b, &r->varmask)) {
            r->kind = REQ_CTL_ERROR;
            r->err = CTL_ERR_UNKNOWNVAR;
        }
        return true;
    }
    struct ntp_packet p;
    enum pkt_reason why = pkt_decode(buf, len, &p);
    if (why != PKT_OK) {
        c->st[ST_RX_MALFORMED]++;
        return false;
    }
    if (p.mode != PKT_MODE_CLIENT) {
        c->st[ST_RX_OTHER]++;
        return false;
    }
    c->st[ST_RX_NTP]++;
    if (b->silent) {
        c->st[ST_DROP_SILENT]++;
        return false;
    }
    r->kind = REQ_NTP;
    r->version = p.version;
    r->poll = p.poll;
    r->xmt = p.xmt;
    return true;
}

static void handle(struct ctx *c, const uint8_t *buf, size_t len, const union sockaddr_any *from,
                   uint32_t dst, uint32_t profile, ntp_ts_t rx, uint64_t now_mono)
{
    struct job j;
    memset(&j, 0, sizeof(j));
    const struct behaviour *b = &c->profiles[profile];
    if (!classify(c, buf, len, b, &j)) {
        return;
    }
    if (b->loss > 0.0 && rng_uniform(c) < b->loss) {
        c->st[ST_DROP_LOSS]++;
        return;
    }
    j.peer = *from;
    j.dst = dst;
    j.profile = profile;
    j.rx = rx;
    if (b->delay_ms <= 0.0) {
        answer(c, &j);
        return;
    }
    j.due_ns = now_mono + (uint64_t)llround(b->delay_ms * 1e6);
    if (!heap_push(c, &j)) {
        c->st[ST_DROP_QUEUE_FULL]++;
        return;
    }
    c->st[ST_DELAYED]++;
}

/* Reads up to RX_ROUNDS batches from fd, answering (or queueing) as it goes. */
static void rx_drain(struct ctx *c, int fd, bool v6)
{
    struct rxq *q = c->rx;
    for (int round = 0; round < RX_ROUNDS; round++) {
        for (unsigned i = 0; i < BATCH; i++) {
            struct msghdr *m = &q->msgs[i].msg_hdr;
            q->iov[i].iov_base = q->buf[i];
            q->iov[i].iov_len = RX_BUF;
            m->msg_iov = &q->iov[i];
            m->msg_iovlen = 1;
            m->msg_name = &q->from[i];
            m->msg_namelen = sizeof(q->from[i]);
            m->msg_control = q->ctrl[i].b;
            m->msg_controllen = sizeof(q->ctrl[i].b);
            m->msg_flags = 0;
        }
        int n = recvmmsg(fd, q->msgs, BATCH, MSG_DONTWAIT, NULL);
        if (n <= 0) {
            if (n < 0 && errno != EAGAIN && errno != EINTR) {
                fprintf(stderr, "%s: recvmmsg: %s\n", PROG, strerror(errno));
            }
            return;
        }
        uint64_t now_mono = mono_ns();
        ntp_ts_t fallback = real_now();
        for (int i = 0; i < n; i++) {
            struct msghdr *m = &q->msgs[i].msg_hdr;
            ntp_ts_t rx = fallback;
            bool have_dst = v6;
            uint32_t dst = 0;
            c->st[ST_RX_TOTAL]++;
            for (struct cmsghdr *cm = CMSG_FIRSTHDR(m); cm != NULL; cm = CMSG_NXTHDR(m, cm)) {
                if (cm->cmsg_level == IPPROTO_IP && cm->cmsg_type == IP_PKTINFO) {
                    struct in_pktinfo pi;
                    memcpy(&pi, CMSG_DATA(cm), sizeof(pi));
                    dst = ntohl(pi.ipi_addr.s_addr);
                    have_dst = true;
                } else if (cm->cmsg_level == SOL_SOCKET && cm->cmsg_type == SCM_TIMESTAMPNS) {
                    struct timespec ts;
                    memcpy(&ts, CMSG_DATA(cm), sizeof(ts));
                    rx = ntp_ts_from_timespec(&ts);
                }
            }
            if (!have_dst || (!v6 && dst >> 24 != LOOPBACK_NET)) {
                c->st[ST_DROP_NONLOOPBACK]++;
                continue;
            }
            if (m->msg_flags & MSG_TRUNC) {
                c->st[ST_RX_MALFORMED]++;
                continue;
            }
            uint32_t prof = v6 ? (uint32_t)c->n_intervals : profile_find(c, dst);
            handle(c, q->buf[i], q->msgs[i].msg_len, &q->from[i], dst, prof, rx, now_mono);
        }
        tx_flush(c, c->tx4);
        tx_flush(c, c->tx6);
        if (n < BATCH) {
            return;
        }
    }
}

/* ---- setup, stats, main loop ---- */

static void set_buf(int fd, int force_opt, int opt)
{
    int size = SOCK_BUF;
    if (setsockopt(fd, SOL_SOCKET, force_opt, &size, sizeof(size)) != 0) {
        (void)setsockopt(fd, SOL_SOCKET, opt, &size, sizeof(size));
    }
}

static int open_socket(int family, uint16_t *port, bool bind_any)
{
    int fd = socket(family, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        return -1;
    }
    int one = 1;
    set_buf(fd, SO_RCVBUFFORCE, SO_RCVBUF);
    set_buf(fd, SO_SNDBUFFORCE, SO_SNDBUF);
    (void)setsockopt(fd, SOL_SOCKET, SO_TIMESTAMPNS, &one, sizeof(one));
    union sockaddr_any a;
    memset(&a, 0, sizeof(a));
    socklen_t alen;
    if (family == AF_INET) {
        if (setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof(one)) != 0) {
            close(fd);
            return -1;
        }
        /* Loopback only, unless told otherwise: the 127/8 check then has nothing to drop. */
        if (!bind_any && setsockopt(fd, SOL_SOCKET, SO_BINDTODEVICE, "lo", 3) != 0) {
            fprintf(stderr, "%s: SO_BINDTODEVICE lo: %s (continuing unbound)\n", PROG,
                    strerror(errno));
        }
        a.in4.sin_family = AF_INET;
        a.in4.sin_port = htons(*port);
        a.in4.sin_addr.s_addr = htonl(INADDR_ANY);
        alen = sizeof(a.in4);
    } else {
        (void)setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        a.in6.sin6_family = AF_INET6;
        a.in6.sin6_port = htons(*port);
        a.in6.sin6_addr = in6addr_loopback;
        alen = sizeof(a.in6);
    }
    if (bind(fd, &a.sa, alen) != 0) {
        int e = errno;
        close(fd);
        errno = e;
        return -1;
    }
    if (getsockname(fd, &a.sa, &alen) == 0) {
        *port = ntohs(family == AF_INET ? a.in4.sin_port : a.in6.sin6_port);
    }
    return fd;
}

static void stats_write(const struct ctx *c, const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        fprintf(stderr, "%s: %s: %s\n", PROG, tmp, strerror(errno));
        return;
    }
    for (size_t i = 0; i < ST_COUNT; i++) {
        fprintf(f, "%s %llu\n", stat_names[i], (unsigned long long)c->st[i]);
    }
    fprintf(f, "queue_len %zu\n", c->heap_len);
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        fprintf(stderr, "%s: %s: %s\n", PROG, path, strerror(errno));
        (void)unlink(tmp);
    }
}

static bool pidfile_write(const char *path)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp%ld", path, (long)getpid());
    FILE *f = fopen(tmp, "w");
    if (f == NULL) {
        return false;
    }
    fprintf(f, "%ld\n", (long)getpid());
    if (fclose(f) != 0 || rename(tmp, path) != 0) {
        (void)unlink(tmp);
        return false;
    }
    return true;
}

static void on_signal(int sig)
{
    if (sig == SIGUSR1) {
        g_dump = 1;
    } else {
        g_stop = 1;
    }
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: " PROG " --port P --spec FILE [--bind-any] [--pidfile F] [--stats F]\n"
            "                         [--seed N]\n"
            "Simulates NTP devices at every 127.x.y.z (and ::1) on UDP port P (0: pick one,\n"
            "printed as 'port N' on stdout). Replies come from the address asked.\n"
            "  --bind-any   do not restrict the socket to the loopback device (SO_BINDTODEVICE)\n"
            "  --pidfile F  written once the sockets are bound\n"
            "  --stats F    'key value' lines, written at exit and on SIGUSR1\n"
            "  --seed N     seeds loss, garbage and offset=spread (default 1)\n"
            "Spec: one rule per line, '#' comments: TARGET key[=value] ...\n"
            "  TARGET: 127.1.2.3 | 127.1.0.0/16 | 127.1.0.0-127.1.39.255 | * | ::1\n"
            "  Later rules override earlier ones key by key; unmatched addresses answer\n"
            "  with the defaults. Keys: offset=S|spread:A loss=P silent kod=CODE|none unsync\n"
            "  stratum=N refid=A.B.C.D|TEXT rootdelay=S rootdisp=S leap=0..3 delay=MS\n"
            "  nomode6 mode6=normal|garbage|huge|error ntp=normal|garbage wrongsrc\n"
            "  version=N sysoffset=S (flags also take =0/=1)\n");
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {
        {"port", required_argument, NULL, 'p'},  {"bind-any", no_argument, NULL, 'a'},
        {"spec", required_argument, NULL, 's'},  {"pidfile", required_argument, NULL, 'P'},
        {"stats", required_argument, NULL, 'S'}, {"seed", required_argument, NULL, 'r'},
        {"help", no_argument, NULL, 'h'},        {NULL, 0, NULL, 0},
    };
    static struct ctx c;
    const char *spec = NULL, *pidfile = NULL, *stats = NULL;
    bool bind_any = false, have_port = false;
    unsigned port = 0;
    int o;
    c.seed = 1;
    while ((o = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
        switch (o) {
        case 'p':
            if (!parse_uint(optarg, 0, 65535, &port)) {
                fprintf(stderr, "%s: bad --port '%s'\n", PROG, optarg);
                return 1;
            }
            have_port = true;
            break;
        case 'a':
            bind_any = true;
            break;
        case 's':
            spec = optarg;
            break;
        case 'P':
            pidfile = optarg;
            break;
        case 'S':
            stats = optarg;
            break;
        case 'r': {
            char *end;
            errno = 0;
            c.seed = strtoull(optarg, &end, 0);
            if (end == optarg || *end != '\0' || errno != 0) {
                fprintf(stderr, "%s: bad --seed '%s'\n", PROG, optarg);
                return 1;
            }
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        default:
            usage(stderr);
            return 1;
        }
    }
    if (!have_port || spec == NULL || optind != argc) {
        usage(stderr);
        return 1;
    }
    if (!spec_load(&c, spec)) {
        return 1;
    }
    if (!profiles_build(&c)) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        return 1;
    }
    uint64_t s = c.seed;
    for (int i = 0; i < 4; i++) {
        c.rng[i] = splitmix64(&s);
    }
    c.tx4 = calloc(1, sizeof(*c.tx4));
    c.tx6 = calloc(1, sizeof(*c.tx6));
    c.rx = calloc(1, sizeof(*c.rx));
    if (c.tx4 == NULL || c.tx6 == NULL || c.rx == NULL) {
        fprintf(stderr, "%s: out of memory\n", PROG);
        return 1;
    }
    uint16_t p16 = (uint16_t)port;
    int fd4 = open_socket(AF_INET, &p16, bind_any);
    if (fd4 < 0) {
        fprintf(stderr, "%s: UDP 0.0.0.0:%u: %s\n", PROG, port, strerror(errno));
        return 1;
    }
    int fd6 = open_socket(AF_INET6, &p16, bind_any);
    if (fd6 < 0) {
        fprintf(stderr, "%s: UDP [::1]:%u: %s (IPv4 only)\n", PROG, (unsigned)p16, strerror(errno));
    }
    c.port = p16;
    c.tx4->fd = fd4;
    c.tx6->fd = fd6;
    if (port == 0) {
        printf("port %u\n", (unsigned)p16);
        fflush(stdout);
    }

    sigset_t block, empty;
    sigemptyset(&block);
    sigemptyset(&empty);
    sigaddset(&block, SIGTERM);
    sigaddset(&block, SIGINT);
    sigaddset(&block, SIGUSR1);
    sigprocmask(SIG_BLOCK, &block, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);

    if (pidfile != NULL && !pidfile_write(pidfile)) {
        fprintf(stderr, "%s: %s: %s\n", PROG, pidfile, strerror(errno));
        return 1;
    }
    struct pollfd pfd[2] = {{.fd = fd4, .events = POLLIN}, {.fd = fd6, .events = POLLIN}};
    while (!g_stop) {
        struct timespec tmo, *tp = NULL;
        if (c.heap_len > 0) {
            uint64_t now = mono_ns(), due = c.heap[0].due_ns;
            uint64_t wait = due > now ? due - now : 0;
            tmo.tv_sec = (time_t)(wait / 1000000000u);
            tmo.tv_nsec = (long)(wait % 1000000000u);
            tp = &tmo;
        }
        int n = ppoll(pfd, fd6 >= 0 ? 2 : 1, tp, &empty);
        if (n < 0 && errno != EINTR) {
            fprintf(stderr, "%s: ppoll: %s\n", PROG, strerror(errno));
            break;
        }
        if (g_dump) {
            g_dump = 0;
            if (stats != NULL) {
                stats_write(&c, stats);
            }
        }
        if (n > 0 && (pfd[0].revents & POLLIN)) {
            rx_drain(&c, fd4, false);
        }
        if (n > 0 && fd6 >= 0 && (pfd[1].revents & POLLIN)) {
            rx_drain(&c, fd6, true);
        }
        uint64_t now = mono_ns();
        while (c.heap_len > 0 && c.heap[0].due_ns <= now) {
            struct job j;
            heap_pop(&c, &j);
            answer(&c, &j);
        }
        tx_flush(&c, c.tx4);
        tx_flush(&c, c.tx6);
    }
    if (stats != NULL) {
        stats_write(&c, stats);
    }
    close(fd4);
    if (fd6 >= 0) {
        close(fd6);
    }
    free(c.heap);
    free(c.rules);
    free(c.starts);
    free(c.profiles);
    free(c.tx4);
    free(c.tx6);
    free(c.rx);
    return 0;
}
