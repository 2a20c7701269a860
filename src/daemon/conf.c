/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * conf: the ntp.conf-dialect parser. A line is a directive and its words; '#' starts a
 * comment; a word may be quoted with "..." to hold spaces. Each directive has a handler;
 * the table of directives other daemons know lets us warn about what we do not
 * implement instead of failing on a working ntp.conf.
 */
#include "conf.h"

#include <errno.h>
#include <grp.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define CONF_MAX_WORDS 64
#define CONF_MAX_LINE 4096

struct parse {
    struct conf *c;
    const char *file;
    int line;
    int depth;
    char *err;
    size_t errlen;
};

struct words {
    char *w[CONF_MAX_WORDS];
    int n;
};

static int fail(struct parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct parse *p, const char *fmt, ...)
{
    va_list ap;
    int n = snprintf(p->err, p->errlen, "%s:%d: ", p->file, p->line);
    if (n < 0 || (size_t)n >= p->errlen) {
        return -1;
    }
    va_start(ap, fmt);
    vsnprintf(p->err + n, p->errlen - (size_t)n, fmt, ap);
    va_end(ap);
    return -1;
}

static void warn(struct parse *p, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warn(struct parse *p, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    int n = snprintf(msg, sizeof(msg), "%s:%d: ", p->file, p->line);
    va_start(ap, fmt);
    if (n > 0 && (size_t)n < sizeof(msg)) {
        vsnprintf(msg + n, sizeof(msg) - (size_t)n, fmt, ap);
    }
    va_end(ap);
    p->c->n_warnings++;
    if (p->c->warn != NULL) {
        p->c->warn(p->c->warn_arg, msg);
    }
}

/* Splits line in place into words. Returns 0 or -1 (unterminated quote, too many). */
static int split(struct parse *p, char *line, struct words *ws)
{
    char *s = line;
    ws->n = 0;
    for (;;) {
        while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n') {
            s++;
        }
        if (*s == '\0' || *s == '#') {
            return 0;
        }
        if (ws->n == CONF_MAX_WORDS) {
            return fail(p, "too many words on one line (at most %d)", CONF_MAX_WORDS);
        }
        if (*s == '"') {
            char *start = ++s;
            while (*s != '\0' && *s != '"') {
                s++;
            }
            if (*s != '"') {
                return fail(p, "unterminated quoted word \"%s", start);
            }
            *s++ = '\0';
            ws->w[ws->n++] = start;
            continue;
        }
        ws->w[ws->n++] = s;
        while (*s != '\0' && *s != ' ' && *s != '\t' && *s != '\r' && *s != '\n' &&
               *s != '#') {
            s++;
        }
        if (*s == '#') {
            *s = '\0';
            return 0;
        }
        if (*s != '\0') {
            *s++ = '\0';
        }
    }
}

static int parse_int(struct parse *p, const char *dir, const char *word, long min, long max,
                     long *out)
{
    char *end;
    errno = 0;
    long v = strtol(word, &end, 10);
    if (errno != 0 || end == word || *end != '\0' || v < min || v > max) {
        return fail(p, "%s: '%s': expected an integer from %ld to %ld", dir, word, min, max);
    }
    *out = v;
    return 0;
}

static int parse_double(struct parse *p, const char *dir, const char *word, double min,
                        double max, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(word, &end);
    if (errno != 0 || end == word || *end != '\0' || !isfinite(v) || v < min || v > max) {
        return fail(p, "%s: '%s': expected a number from %g to %g", dir, word, min, max);
    }
    *out = v;
    return 0;
}

static int need_arg(struct parse *p, const struct words *ws, int i, const char *what)
{
    if (i >= ws->n) {
        return fail(p, "%s: missing %s after '%s'", ws->w[0], what, ws->w[i - 1]);
    }
    return 0;
}

static int copy_path(struct parse *p, const struct words *ws, char *dst)
{
    if (ws->n != 2) {
        return fail(p, "%s: expected exactly one file name", ws->w[0]);
    }
    if (strlen(ws->w[1]) >= CONF_PATH_MAX) {
        return fail(p, "%s: file name too long", ws->w[0]);
    }
    strcpy(dst, ws->w[1]);
    return 0;
}

/* IPv4-mapped IPv6 (::ffff:a.b.c.d) to IPv4: the I/O layer hands the core mapped
 * sources as IPv4, so rules and addresses must be written the same way to match. */
static void unmap(struct net_addr *a)
{
    static const uint8_t mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
    if (a->family == NET_IPV6 && memcmp(a->bytes, mapped, 12) == 0) {
        uint8_t v4[4];
        memcpy(v4, a->bytes + 12, 4);
        memset(a->bytes, 0, sizeof(a->bytes));
        memcpy(a->bytes, v4, 4);
        a->family = NET_IPV4;
    }
}

/* Accepts "1.2.3.4", "::1", "[::1]". */
static int parse_addr(const char *word, struct net_addr *out)
{
    char tmp[64];
    size_t n = strlen(word);
    int r;
    if (n >= 2 && word[0] == '[' && word[n - 1] == ']' && n - 2 < sizeof(tmp)) {
        memcpy(tmp, word + 1, n - 2);
        tmp[n - 2] = '\0';
        r = net_addr_parse(tmp, out);
    } else {
        r = net_addr_parse(word, out);
    }
    return r;
}

static int add_listen(struct parse *p, const struct net_addr *a, bool wildcard, uint16_t port)
{
    struct conf *c = p->c;
    if (c->n_listen == CONF_MAX_LISTEN) {
        return fail(p, "listen: too many listen addresses (at most %d)", CONF_MAX_LISTEN);
    }
    struct conf_listen *l = &c->listen[c->n_listen++];
    l->addr = *a;
    l->wildcard = wildcard;
    l->port = port;
    return 0;
}

static int do_listen(struct parse *p, struct words *ws)
{
    long port = CONF_DEFAULT_PORT;
    struct net_addr a;

    if (ws->n != 2 && ws->n != 4) {
        return fail(p, "listen: expected 'listen ADDRESS [port N]'");
    }
    if (ws->n == 4) {
        if (strcmp(ws->w[2], "port") != 0) {
            return fail(p, "listen: '%s': expected 'port'", ws->w[2]);
        }
        if (parse_int(p, "listen", ws->w[3], 1, 65535, &port) != 0) {
            return -1;
        }
    }
    const char *w = ws->w[1];
    if (strcmp(w, "*") == 0 || strcmp(w, "any") == 0 || strcmp(w, "all") == 0) {
        memset(&a, 0, sizeof(a));
        a.family = NET_IPV4;
        if (add_listen(p, &a, true, (uint16_t)port) != 0) {
            return -1;
        }
        a.family = NET_IPV6;
        return add_listen(p, &a, true, (uint16_t)port);
    }
    if (parse_addr(w, &a) != 0) {
        return fail(p, "listen: '%s': expected a numeric IPv4 or IPv6 address, or '*'", w);
    }
    bool zero = true;
    for (size_t i = 0; i < sizeof(a.bytes); i++) {
        zero = zero && a.bytes[i] == 0;
    }
    return add_listen(p, &a, zero, (uint16_t)port);
}

/* http ADDRESS:PORT, the address numeric, IPv6 in brackets: "127.0.0.1:9100",
 * "[::1]:9100". One listener: a later line replaces an earlier one. */
static int do_http(struct parse *p, struct words *ws)
{
    static const char *const form = "expected 'http ADDRESS:PORT' (IPv6 as [ADDRESS]:PORT)";
    char host[64];
    const char *colon;
    long port;

    if (ws->n != 2) {
        return fail(p, "http: %s", form);
    }
    const char *w = ws->w[1];
    if (w[0] == '[') {
        const char *close = strchr(w, ']');
        if (close == NULL || close[1] != ':') {
            return fail(p, "http: '%s': %s", w, form);
        }
        colon = close + 1;
        if ((size_t)(close - w - 1) >= sizeof(host)) {
            return fail(p, "http: '%s': expected a numeric IPv6 address in brackets", w);
        }
        memcpy(host, w + 1, (size_t)(close - w - 1));
        host[close - w - 1] = '\0';
    } else {
        colon = strrchr(w, ':');
        if (colon == NULL) {
            return fail(p, "http: '%s': missing ':PORT' (%s)", w, form);
        }
        if (memchr(w, ':', (size_t)(colon - w)) != NULL) {
            return fail(p, "http: '%s': an IPv6 address goes in brackets: [ADDRESS]:PORT", w);
        }
        if ((size_t)(colon - w) >= sizeof(host)) {
            return fail(p, "http: '%s': expected a numeric IPv4 address", w);
        }
        memcpy(host, w, (size_t)(colon - w));
        host[colon - w] = '\0';
    }
    struct net_addr a;
    if (net_addr_parse(host, &a) != 0 || (w[0] == '[' && a.family != NET_IPV6)) {
        return fail(p, "http: '%s': expected a numeric IPv4 or IPv6 address before ':PORT'",
                    w);
    }
    if (colon[1] == '\0') {
        return fail(p, "http: '%s': missing the port after ':'", w);
    }
    if (parse_int(p, "http", colon + 1, 1, 65535, &port) != 0) {
        return -1;
    }
    p->c->http.enabled = true;
    p->c->http.addr = a;
    p->c->http.port = (uint16_t)port;
    return 0;
}

static int do_local(struct parse *p, struct words *ws)
{
    long v;
    if (ws->n != 3 || strcmp(ws->w[1], "stratum") != 0) {
        return fail(p, "local: expected 'local stratum N' (N from 1 to 15)");
    }
    if (parse_int(p, "local stratum", ws->w[2], 1, 15, &v) != 0) {
        return -1;
    }
    p->c->local_stratum = (int)v;
    return 0;
}

static int do_clock(struct parse *p, struct words *ws)
{
    if (ws->n < 2) {
        return fail(p, "clock: expected 'clock system|sim|none'");
    }
    if (clk_kind_parse(ws->w[1], &p->c->clock) != 0) {
        return fail(p, "clock: '%s': expected system, sim or none", ws->w[1]);
    }
    for (int i = 2; i < ws->n; i += 2) {
        if (p->c->clock != CLK_SIM) {
            return fail(p, "clock %s: '%s': options are only for 'clock sim'", ws->w[1],
                        ws->w[i]);
        }
        if (strcmp(ws->w[i], "start") == 0) {
            long v;
            if (need_arg(p, ws, i + 1, "a Unix time") != 0 ||
                parse_int(p, "clock sim start", ws->w[i + 1], 0, 0x7fffffffffffL, &v) != 0) {
                return -1;
            }
            p->c->sim.start_set = true;
            p->c->sim.start_unix_sec = v;
        } else if (strcmp(ws->w[i], "freq") == 0) {
            if (need_arg(p, ws, i + 1, "a frequency in ppm") != 0 ||
                parse_double(p, "clock sim freq", ws->w[i + 1], -100000.0, 100000.0,
                             &p->c->sim.freq_ppm) != 0) {
                return -1;
            }
        } else {
            return fail(p, "clock sim: '%s': expected 'start' or 'freq'", ws->w[i]);
        }
    }
    return 0;
}

static int do_workers(struct parse *p, struct words *ws)
{
    long v;
    if (ws->n != 2) {
        return fail(p, "workers: expected 'workers N'");
    }
    if (parse_int(p, "workers", ws->w[1], 0, CONF_MAX_WORKERS, &v) != 0) {
        return -1;
    }
    p->c->workers = (int)v;
    return 0;
}

static int do_pidfile(struct parse *p, struct words *ws)
{
    return copy_path(p, ws, p->c->pidfile);
}

static int do_logfile(struct parse *p, struct words *ws)
{
    return copy_path(p, ws, p->c->logfile);
}

static int do_restrict(struct parse *p, struct words *ws)
{
    int i = 1;
    int only = 0;
    struct net_addr net;
    int prefix = -1;
    bool is_default = false;

    if (i < ws->n && (strcmp(ws->w[i], "-4") == 0 || strcmp(ws->w[i], "-6") == 0)) {
        only = ws->w[i][1] == '4' ? NET_IPV4 : NET_IPV6;
        i++;
    }
    if (i >= ws->n) {
        return fail(p, "restrict: expected 'restrict [-4|-6] default|ADDRESS[/PREFIX] "
                       "[mask MASK] [FLAG ...]'");
    }
    const char *target = ws->w[i++];
    if (strcmp(target, "default") == 0) {
        is_default = true;
    } else if (strcmp(target, "source") == 0) {
        warn(p, "restrict source: not implemented yet; line ignored");
        return 0;
    } else {
        char tmp[64];
        const char *slash = strchr(target, '/');
        size_t alen = slash != NULL ? (size_t)(slash - target) : strlen(target);
        if (alen >= sizeof(tmp)) {
            return fail(p, "restrict: '%s': expected a numeric address", target);
        }
        memcpy(tmp, target, alen);
        tmp[alen] = '\0';
        if (parse_addr(tmp, &net) != 0) {
            return fail(p, "restrict: '%s': expected 'default' or a numeric IPv4/IPv6 "
                           "address (names are not resolved here)", target);
        }
        if (only != 0 && net.family != only) {
            return fail(p, "restrict: '%s' is not an IPv%d address", target, only);
        }
        int maxlen = net.family == NET_IPV4 ? 32 : 128;
        if (slash != NULL) {
            long v;
            if (parse_int(p, "restrict prefix", slash + 1, 0, maxlen, &v) != 0) {
                return -1;
            }
            prefix = (int)v;
        }
        if (i < ws->n && strcmp(ws->w[i], "mask") == 0) {
            struct net_addr m;
            if (need_arg(p, ws, i + 1, "a netmask") != 0) {
                return -1;
            }
            if (slash != NULL) {
                return fail(p, "restrict: '%s': give either /PREFIX or mask, not both",
                            target);
            }
            if (parse_addr(ws->w[i + 1], &m) != 0 || (prefix = net_mask_prefix(&m)) < 0 ||
                m.family != net.family) {
                return fail(p, "restrict: mask '%s': expected a contiguous netmask of the "
                               "address's family", ws->w[i + 1]);
            }
            i += 2;
        }
        if (prefix < 0) {
            prefix = maxlen;
        }
        if (net.family == NET_IPV6 && prefix >= 96) {
            struct net_addr before = net;
            unmap(&net);
            if (net.family != before.family) {
                prefix -= 96;
            }
        }
    }

    uint32_t flags = 0;
    for (; i < ws->n; i++) {
        uint32_t f;
        const char *w = ws->w[i];
        if (acl_flag_parse(w, &f) == 0) {
            flags |= f;
        } else if (strcmp(w, "flake") == 0 || strcmp(w, "interface") == 0 ||
                   strcmp(w, "epeer") == 0) {
            warn(p, "restrict: flag '%s' not implemented yet; ignored", w);
        } else if (strcmp(w, "ippeerlimit") == 0) {
            long v;
            if (need_arg(p, ws, i + 1, "a number") != 0 ||
                parse_int(p, "restrict ippeerlimit", ws->w[i + 1], -1, 65535, &v) != 0) {
                return -1;
            }
            warn(p, "restrict: 'ippeerlimit %ld' not implemented yet; ignored", v);
            i++;
        } else if (strcmp(w, "serverresponse") == 0) {
            if (i + 1 < ws->n && strcmp(ws->w[i + 1], "fuzz") == 0) {
                i++;
            }
            warn(p, "restrict: 'serverresponse fuzz' is always on in Stratum; ignored");
        } else if (strcmp(w, "mask") == 0) {
            return fail(p, "restrict: 'mask' must follow the address");
        } else {
            return fail(p, "restrict: '%s': unknown flag (expected one of ignore, noserve, "
                           "limited, kod, noquery, nomodify, nopeer, notrap, nomrulist, "
                           "notrust, ntpport, version, lowpriotrap, noepeer, mssntp)", w);
        }
    }
    /* Marks what a line said, as against the built-in default (control queries). */
    flags |= ACL_CONFIGURED;
    if (is_default) {
        if (only != NET_IPV6) {
            p->c->acl.default4 = flags;
        }
        if (only != NET_IPV4) {
            p->c->acl.default6 = flags;
        }
        return 0;
    }
    if (acl_add(&p->c->acl, &net, (unsigned)prefix, flags) != 0) {
        return fail(p, "restrict: too many restrict lines (at most %d)", ACL_MAX_RULES);
    }
    return 0;
}

static int do_discard(struct parse *p, struct words *ws)
{
    if (ws->n < 3 || (ws->n - 1) % 2 != 0) {
        return fail(p, "discard: expected 'discard [average N] [minimum N] [monitor N]'");
    }
    for (int i = 1; i < ws->n; i += 2) {
        long v;
        if (strcmp(ws->w[i], "average") == 0) {
            if (parse_int(p, "discard average", ws->w[i + 1], 0, 16, &v) != 0) {
                return -1;
            }
            p->c->rl.average_log2 = (int)v;
        } else if (strcmp(ws->w[i], "minimum") == 0) {
            if (parse_int(p, "discard minimum", ws->w[i + 1], 0, 3600, &v) != 0) {
                return -1;
            }
            p->c->rl.minimum_s = (int)v;
        } else if (strcmp(ws->w[i], "monitor") == 0) {
            if (parse_int(p, "discard monitor", ws->w[i + 1], 0, 1000000000L, &v) != 0) {
                return -1;
            }
            warn(p, "discard monitor: not implemented yet; ignored");
        } else {
            return fail(p, "discard: '%s': expected average, minimum or monitor", ws->w[i]);
        }
    }
    return 0;
}

static int do_driftfile(struct parse *p, struct words *ws)
{
    return copy_path(p, ws, p->c->driftfile);
}

/* Options given as "NAME VALUE" pairs; known[] are parsed as numbers into out[] (NULL: a
 * word other daemons know that we only warn about). */
struct num_opt {
    const char *name;
    double min, max;
    double *out;
};

static int do_pairs(struct parse *p, struct words *ws, const struct num_opt *opts)
{
    if (ws->n < 3 || (ws->n - 1) % 2 != 0) {
        return fail(p, "%s: expected '%s OPTION VALUE ...'", ws->w[0], ws->w[0]);
    }
    for (int i = 1; i < ws->n; i += 2) {
        const struct num_opt *o = opts;
        while (o->name != NULL && strcmp(o->name, ws->w[i]) != 0) {
            o++;
        }
        if (o->name == NULL) {
            char known[256] = "";
            for (const struct num_opt *k = opts; k->name != NULL; k++) {
                strncat(known, k == opts ? "" : ", ", sizeof(known) - strlen(known) - 1);
                strncat(known, k->name, sizeof(known) - strlen(known) - 1);
            }
            return fail(p, "%s: '%s': expected one of %s", ws->w[0], ws->w[i], known);
        }
        double v;
        char what[64];
        snprintf(what, sizeof(what), "%s %s", ws->w[0], o->name);
        if (parse_double(p, what, ws->w[i + 1], o->min, o->max, &v) != 0) {
            return -1;
        }
        if (o->out == NULL) {
            warn(p, "%s %s: not implemented yet; ignored", ws->w[0], o->name);
        } else {
            *o->out = v;
        }
    }
    return 0;
}

static int do_tos(struct parse *p, struct words *ws)
{
    struct conf *c = p->c;
    const struct num_opt opts[] = {
        { "minsane", 1, 64, &c->minsane },         { "maxdist", 0.001, 16, &c->maxdist },
        { "minclock", 1, 64, &c->minclock },       { "maxclock", 1, 64, &c->maxclock },
        { "mindist", 0, 16, NULL },                { "ceiling", 1, 16, NULL },
        { "floor", 0, 16, NULL },                  { "cohort", 0, 1, NULL },
        { "orphan", 1, 16, NULL },                 { "orphanwait", 0, 86400, NULL },
        { "beacon", 0, 86400, NULL },              { "bcpollbstep", 0, 16, NULL },
        { "maxdisp", 0, 16, NULL },                { "minstratum", 0, 16, NULL },
        { NULL, 0, 0, NULL },
    };
    return do_pairs(p, ws, opts);
}

static int do_tinker(struct parse *p, struct words *ws)
{
    struct conf *c = p->c;
    const struct num_opt opts[] = {
        { "step", 0, 1e6, &c->step_threshold },    { "stepout", 0, 1e6, &c->stepout },
        { "panic", 0, 1e9, &c->panic_threshold },  { "steplimit", 0, 1e9, &c->step_limit },
        { "allan", 0, 1e6, NULL },
        { "dispersion", 0, 1e6, NULL },            { "freq", -500, 500, NULL },
        { "huffpuff", 0, 1e6, NULL },              { "stepback", 0, 1e6, NULL },
        { "stepfwd", 0, 1e6, NULL },               { "tick", 0, 1, NULL },
        { NULL, 0, 0, NULL },
    };
    return do_pairs(p, ws, opts);
}

static int do_mru(struct parse *p, struct words *ws)
{
    static const char *const known[] = { "maxdepth", "mindepth", "maxage", "minage",
                                         "maxmem", "minmem", "initalloc", "initmem",
                                         "incalloc", "incmem", NULL };
    if (ws->n < 3 || (ws->n - 1) % 2 != 0) {
        return fail(p, "mru: expected 'mru maxdepth N ...'");
    }
    for (int i = 1; i < ws->n; i += 2) {
        long v;
        int k = 0;
        while (known[k] != NULL && strcmp(known[k], ws->w[i]) != 0) {
            k++;
        }
        if (known[k] == NULL) {
            return fail(p, "mru: '%s': expected one of maxdepth, mindepth, maxage, minage, "
                           "maxmem, minmem, initalloc, initmem, incalloc, incmem", ws->w[i]);
        }
        if (parse_int(p, "mru", ws->w[i + 1], 0, 100000000L, &v) != 0) {
            return -1;
        }
        if (strcmp(ws->w[i], "maxdepth") == 0) {
            if (v < 64) {
                return fail(p, "mru maxdepth: '%s': expected at least 64", ws->w[i + 1]);
            }
            p->c->rl_entries = (uint32_t)v;
        } else {
            warn(p, "mru %s: not implemented yet; ignored", ws->w[i]);
        }
    }
    return 0;
}

/* control socket PATH|none [group NAME]: the local administration socket. */
static int do_control(struct parse *p, struct words *ws)
{
    if (ws->n < 3 || strcmp(ws->w[1], "socket") != 0 || (ws->n != 3 && ws->n != 5)) {
        return fail(p, "control: expected 'control socket PATH [group NAME]' or 'control "
                       "socket none'");
    }
    const char *path = ws->w[2];
    if (strcmp(path, "none") != 0 && path[0] != '/') {
        return fail(p, "control socket: '%s': expected an absolute path or 'none'", path);
    }
    if (strlen(path) >= 108) {
        return fail(p, "control socket: '%s': too long for a socket path (at most 107)", path);
    }
    snprintf(p->c->control_socket, sizeof(p->c->control_socket), "%s", path);
    p->c->control_group = -1;
    if (ws->n == 5) {
        if (strcmp(ws->w[3], "group") != 0) {
            return fail(p, "control socket: '%s': expected 'group'", ws->w[3]);
        }
        struct group *g = getgrnam(ws->w[4]);
        char *end;
        long gid = strtol(ws->w[4], &end, 10);
        if (g != NULL) {
            gid = (long)g->gr_gid;
        } else if (*end != '\0' || gid < 0) {
            return fail(p, "control socket group: '%s': no such group", ws->w[4]);
        }
        p->c->control_group = gid;
    }
    return 0;
}

/* enable / disable FLAG...: `monitor` (the client list) acts; ntpd's other flags parse and
 * are reported as not implemented. */
static int do_enable(struct parse *p, struct words *ws)
{
    static const char *const known[] = { "auth", "bclient", "calibrate", "kernel", "monitor",
                                         "ntp", "stats", "mode7", "peer_clear_digest_early",
                                         "unpeer_crypto_early", "unpeer_crypto_nak_early",
                                         "unpeer_digest_early", NULL };
    bool on = strcmp(ws->w[0], "enable") == 0;
    if (ws->n < 2) {
        return fail(p, "%s: expected a flag (auth, bclient, calibrate, kernel, monitor, ntp, "
                       "stats, mode7)", ws->w[0]);
    }
    for (int i = 1; i < ws->n; i++) {
        int k = 0;
        while (known[k] != NULL && strcmp(known[k], ws->w[i]) != 0) {
            k++;
        }
        if (known[k] == NULL) {
            return fail(p, "%s: '%s': unknown flag (expected auth, bclient, calibrate, kernel, "
                           "monitor, ntp, stats, mode7)", ws->w[0], ws->w[i]);
        }
        if (strcmp(ws->w[i], "monitor") == 0) {
            p->c->monitor = on;
        } else if (strcmp(ws->w[i], "stats") == 0) {
            p->c->stats.on = on;
        } else {
            warn(p, "%s %s: not implemented yet; ignored", ws->w[0], ws->w[i]);
        }
    }
    return 0;
}

/* statsdir DIR: where the statistics files go (ntpd: the filegen prefix). */
static int do_statsdir(struct parse *p, struct words *ws)
{
    if (ws->n != 2 || ws->w[1][0] == '\0') {
        return fail(p, "statsdir: expected exactly one directory name");
    }
    if (strlen(ws->w[1]) >= sizeof(p->c->stats.dir)) {
        return fail(p, "statsdir: directory name too long");
    }
    strcpy(p->c->stats.dir, ws->w[1]);
    return 0;
}

/* A statistic's name: ours give its kind (0); ntpd's others a warning (1); else -1. */
static int stats_name(struct parse *p, const char *dir, const char *name,
                      enum stats_kind *k)
{
    if (stats_kind_parse(name, k) == 0) {
        return 0;
    }
    if (stats_name_known(name)) {
        warn(p, "%s %s: not implemented yet; ignored", dir, name);
        return 1;
    }
    return fail(p, "%s: '%s': unknown statistic (expected loopstats, peerstats, sysstats, "
                   "or one of ntpd's: clockstats, rawstats, protostats, cryptostats, "
                   "timingstats, usestats)", dir, name);
}

/* statistics NAME...: which statistics are written (ntpd: enables those filegens). */
static int do_statistics(struct parse *p, struct words *ws)
{
    if (ws->n < 2) {
        return fail(p, "statistics: expected one or more of loopstats, peerstats, sysstats");
    }
    for (int i = 1; i < ws->n; i++) {
        enum stats_kind k;
        int r = stats_name(p, "statistics", ws->w[i], &k);
        if (r < 0) {
            return -1;
        }
        if (r == 0) {
            p->c->stats.gen[k].enabled = true;
        }
    }
    return 0;
}

/* filegen NAME [file FILE] [type TYPE] [link|nolink] [enable|disable] (ntp.conf(5)). */
static int do_filegen(struct parse *p, struct words *ws)
{
    enum stats_kind k;
    if (ws->n < 2) {
        return fail(p, "filegen: expected 'filegen NAME [file FILE] [type TYPE] "
                       "[link|nolink] [enable|disable]'");
    }
    int known = stats_name(p, "filegen", ws->w[1], &k);
    if (known < 0) {
        return -1;
    }
    struct stats_filegen g = known == 0 ? p->c->stats.gen[k] : (struct stats_filegen){ 0 };
    for (int i = 2; i < ws->n; i++) {
        const char *w = ws->w[i];
        if (strcmp(w, "file") == 0) {
            if (need_arg(p, ws, i + 1, "a file name") != 0) {
                return -1;
            }
            const char *f = ws->w[++i];
            /* ntpd's rule: the name stays below statsdir, no ".." component. */
            bool dotdot = false;
            for (const char *s = f; s != NULL; s = strchr(s, '/')) {
                s += *s == '/';
                dotdot = dotdot || (s[0] == '.' && s[1] == '.' && (s[2] == '\0' || s[2] == '/'));
            }
            if (f[0] == '\0' || f[0] == '/' || dotdot || f[strlen(f) - 1] == '/') {
                return fail(p, "filegen %s: file '%s': expected a file name below statsdir "
                               "(not absolute, no '..')", ws->w[1], f);
            }
            if (strlen(f) >= sizeof(g.file)) {
                return fail(p, "filegen %s: file '%s': name too long", ws->w[1], f);
            }
            strcpy(g.file, f);
        } else if (strcmp(w, "type") == 0) {
            if (need_arg(p, ws, i + 1, "a type") != 0) {
                return -1;
            }
            if (stats_gen_parse(ws->w[i + 1], &g.type) != 0) {
                return fail(p, "filegen %s: type '%s': expected none, pid, day, week, month, "
                               "year or age", ws->w[1], ws->w[i + 1]);
            }
            i++;
        } else if (strcmp(w, "link") == 0 || strcmp(w, "nolink") == 0) {
            g.link = w[0] == 'l';
        } else if (strcmp(w, "enable") == 0 || strcmp(w, "disable") == 0) {
            g.enabled = w[0] == 'e';
        } else {
            return fail(p, "filegen %s: '%s': expected file, type, link, nolink, enable or "
                           "disable", ws->w[1], w);
        }
    }
    if (known == 0) {
        p->c->stats.gen[k] = g;
    }
    return 0;
}

/* The categories of ntpd's logconfig classes (clock, peer, sys, sync). Our messages
 * carry a category, not ntpd's class and type: sync events are CLOCK lines; peer events
 * PROTO (sources) and AUTH; the system's PROTO, CONF, IO, AUTH and MON. */
static int logconfig_item(const char *w, unsigned *mask, bool *typed)
{
    static const struct {
        const char *name;
        unsigned cats;
    } classes[] = {
        { "clock", LOG_CAT_CLOCK },
        { "peer", LOG_CAT_PROTO | LOG_CAT_AUTH },
        { "sync", LOG_CAT_CLOCK },
        { "sys", LOG_CAT_PROTO | LOG_CAT_CONF | LOG_CAT_IO | LOG_CAT_AUTH | LOG_CAT_MON },
        { "all", LOG_CAT_ALL },
    };
    static const char *const types[] = { "all", "info", "events", "status", "statistics" };
    /* ntpd's misspellings of CLASSall: allclock, allpeer, allsys, allsync. */
    if (strncmp(w, "all", 3) == 0 && strcmp(w, "allall") != 0) {
        for (size_t c = 0; c + 1 < sizeof(classes) / sizeof(classes[0]); c++) {
            if (strcmp(w + 3, classes[c].name) == 0) {
                *mask = classes[c].cats;
                *typed = false;
                return 0;
            }
        }
    }
    /* A bare type ("all", "events") covers every class. */
    unsigned cats = LOG_CAT_ALL;
    const char *t = w;
    for (size_t c = 0; c < sizeof(classes) / sizeof(classes[0]); c++) {
        size_t n = strlen(classes[c].name);
        if (strncmp(w, classes[c].name, n) == 0 && w[n] != '\0') {
            bool is_type = false;
            for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
                is_type = is_type || strcmp(w + n, types[i]) == 0;
            }
            if (is_type) {
                cats = classes[c].cats;
                t = w + n;
                break;
            }
        }
    }
    for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++) {
        if (strcmp(t, types[i]) == 0) {
            *mask = cats;
            *typed = i != 0;
            return 0;
        }
    }
    return -1;
}

/* logconfig [=|+|-]CLASSTYPE ... (ntpd): "=syncall +clockall -peerinfo". Without a sign
 * an item sets the mask, as with '=' (ntpd's parser). */
static int do_logconfig(struct parse *p, struct words *ws)
{
    unsigned mask = p->c->log_categories;
    bool warned = false;
    if (ws->n < 2) {
        return fail(p, "logconfig: expected '[=|+|-]CLASSTYPE ...', e.g. '=syncall +clockall'");
    }
    for (int i = 1; i < ws->n; i++) {
        const char *w = ws->w[i];
        char op = '=';
        if (w[0] == '=' || w[0] == '+' || w[0] == '-') {
            op = w[0];
            /* "= all" as two words: the sign applies to the next one. */
            if (w[1] == '\0') {
                if (need_arg(p, ws, i + 1, "a class and type") != 0) {
                    return -1;
                }
                w = ws->w[++i];
            } else {
                w++;
            }
        }
        unsigned cats;
        bool typed;
        if (logconfig_item(w, &cats, &typed) != 0) {
            return fail(p, "logconfig: '%s': expected a class (clock, peer, sys, sync, all) "
                           "joined to a type (all, info, events, status, statistics), e.g. "
                           "syncall", ws->w[i]);
        }
        if (typed && !warned) {
            warn(p, "logconfig %s: message types are not told apart yet; the whole class "
                    "is taken", ws->w[i]);
            warned = true;
        }
        mask = op == '+' ? mask | cats : op == '-' ? mask & ~cats : cats;
    }
    p->c->log_categories = mask;
    return 0;
}

/* loglevel debug|info|notice|warning|err (ours): the least severe level logged. */
static int do_loglevel(struct parse *p, struct words *ws)
{
    enum log_level l;
    if (ws->n != 2 || log_level_parse(ws->w[1], &l) != 0) {
        return fail(p, "loglevel: %s%s%sexpected debug, info, notice, warning or err",
                    ws->n >= 2 ? "'" : "", ws->n >= 2 ? ws->w[1] : "",
                    ws->n >= 2 ? "': " : "");
    }
    p->c->log_level = (int)l;
    return 0;
}

/* syslog [socket PATH] [facility NAME] (ours): log to the syslog daemon. */
static int do_syslog(struct parse *p, struct words *ws)
{
    struct conf *c = p->c;
    for (int i = 1; i < ws->n; i += 2) {
        const char *w = ws->w[i];
        if (strcmp(w, "socket") == 0) {
            if (need_arg(p, ws, i + 1, "a socket path") != 0) {
                return -1;
            }
            /* sockaddr_un holds 108 octets with the NUL on Linux. */
            if (ws->w[i + 1][0] == '\0' || strlen(ws->w[i + 1]) >= 108) {
                return fail(p, "syslog socket: '%s': expected a path of 1 to 107 characters",
                            ws->w[i + 1]);
            }
            strcpy(c->syslog_socket, ws->w[i + 1]);
        } else if (strcmp(w, "facility") == 0) {
            if (need_arg(p, ws, i + 1, "a facility") != 0) {
                return -1;
            }
            int f = log_facility_parse(ws->w[i + 1]);
            if (f < 0) {
                return fail(p, "syslog facility: '%s': expected daemon, user, local0 .. local7, "
                               "or another syslog facility name", ws->w[i + 1]);
            }
            c->syslog_facility = f;
        } else {
            return fail(p, "syslog: '%s': expected 'socket PATH' or 'facility NAME'", w);
        }
    }
    c->syslog = true;
    return 0;
}

static int do_source(struct parse *p, struct words *ws)
{
    struct conf *c = p->c;
    if (ws->n < 2) {
        return fail(p, "%s: expected '%s ADDRESS [options]'", ws->w[0], ws->w[0]);
    }
    if (c->n_sources == CONF_MAX_SOURCES) {
        return fail(p, "%s: too many sources (at most %d)", ws->w[0], CONF_MAX_SOURCES);
    }
    struct conf_source *s = &c->sources[c->n_sources];
    memset(s, 0, sizeof(*s));
    /* ntpd and NTPsec: "server [-4|-6] ADDRESS [options]". */
    int first = 1;
    if (strcmp(ws->w[1], "-4") == 0 || strcmp(ws->w[1], "-6") == 0) {
        if (ws->n < 3) {
            return fail(p, "%s %s: missing the address", ws->w[0], ws->w[1]);
        }
        warn(p, "%s: '%s' (address family) not implemented yet; ignored", ws->w[0], ws->w[1]);
        first = 2;
    }
    s->kind = strcmp(ws->w[0], "pool") == 0   ? CONF_SRC_POOL
              : strcmp(ws->w[0], "peer") == 0 ? CONF_SRC_PEER
                                              : CONF_SRC_SERVER;
    if (strlen(ws->w[first]) >= sizeof(s->host)) {
        return fail(p, "%s: '%s': name too long", ws->w[0], ws->w[first]);
    }
    strcpy(s->host, ws->w[first]);
    s->port = CONF_DEFAULT_PORT;
    s->minpoll = 6;
    s->maxpoll = 10;
    for (int i = first + 1; i < ws->n; i++) {
        const char *w = ws->w[i];
        long v;
        if (strcmp(w, "iburst") == 0) {
            s->flags |= CONF_SRC_IBURST;
        } else if (strcmp(w, "burst") == 0) {
            s->flags |= CONF_SRC_BURST;
        } else if (strcmp(w, "prefer") == 0) {
            s->flags |= CONF_SRC_PREFER;
        } else if (strcmp(w, "noselect") == 0) {
            s->flags |= CONF_SRC_NOSELECT;
        } else if (strcmp(w, "true") == 0) {
            s->flags |= CONF_SRC_TRUE;
        } else if (strcmp(w, "minpoll") == 0 || strcmp(w, "maxpoll") == 0) {
            if (need_arg(p, ws, i + 1, "a poll exponent") != 0 ||
                parse_int(p, w, ws->w[i + 1], 0, 17, &v) != 0) {
                return -1;
            }
            if (w[1] == 'i') {
                s->minpoll = (int)v;
            } else {
                s->maxpoll = (int)v;
            }
            i++;
        } else if (strcmp(w, "port") == 0) {
            if (need_arg(p, ws, i + 1, "a port") != 0 ||
                parse_int(p, "port", ws->w[i + 1], 1, 65535, &v) != 0) {
                return -1;
            }
            s->port = (uint16_t)v;
            i++;
        } else if (strcmp(w, "key") == 0 || strcmp(w, "version") == 0 ||
                   strcmp(w, "mode") == 0 || strcmp(w, "ttl") == 0 ||
                   strcmp(w, "bias") == 0 || strcmp(w, "maxdelay") == 0 ||
                   strcmp(w, "ca") == 0 || strcmp(w, "cert") == 0 ||
                   strcmp(w, "aead") == 0 || strcmp(w, "refid") == 0 ||
                   strcmp(w, "stratum") == 0 || strcmp(w, "path") == 0 ||
                   strcmp(w, "ppspath") == 0 || strcmp(w, "baud") == 0 ||
                   strcmp(w, "subtype") == 0 || strcmp(w, "unit") == 0 ||
                   strcmp(w, "time1") == 0 || strcmp(w, "time2") == 0) {
            if (need_arg(p, ws, i + 1, "a value") != 0) {
                return -1;
            }
            warn(p, "%s: option '%s %s' not implemented yet; ignored", ws->w[0], w,
                 ws->w[i + 1]);
            i++;
        } else if (strcmp(w, "autokey") == 0 || strcmp(w, "preempt") == 0 ||
                   strcmp(w, "xleave") == 0 || strcmp(w, "nts") == 0 ||
                   strcmp(w, "noval") == 0 || strcmp(w, "-4") == 0 ||
                   strcmp(w, "-6") == 0 || strcmp(w, "dynamic") == 0 ||
                   strcmp(w, "xmtnonce") == 0) {
            warn(p, "%s: option '%s' not implemented yet; ignored", ws->w[0], w);
        } else {
            return fail(p, "%s: '%s': unknown option (expected iburst, burst, minpoll N, "
                           "maxpoll N, prefer, noselect, true, port N, key N, ...)",
                        ws->w[0], w);
        }
    }
    if (s->minpoll > s->maxpoll) {
        return fail(p, "%s %s: minpoll %d is above maxpoll %d", ws->w[0], s->host,
                    s->minpoll, s->maxpoll);
    }
    c->n_sources++;
    if (s->kind == CONF_SRC_PEER) {
        warn(p, "peer %s: symmetric mode is not implemented yet; polled as a server", s->host);
    }
    return 0;
}

static int load_file(struct parse *parent, struct conf *c, const char *path, int depth);

static int do_includefile(struct parse *p, struct words *ws)
{
    char path[CONF_PATH_MAX];
    if (ws->n != 2) {
        return fail(p, "includefile: expected exactly one file name");
    }
    if (p->depth + 1 >= CONF_MAX_INCLUDE_DEPTH) {
        return fail(p, "includefile: '%s': includes nested deeper than %d (a loop?)",
                    ws->w[1], CONF_MAX_INCLUDE_DEPTH);
    }
    const char *inc = ws->w[1];
    if (inc[0] != '/' && strchr(p->file, '/') != NULL) {
        const char *slash = strrchr(p->file, '/');
        int n = snprintf(path, sizeof(path), "%.*s/%s", (int)(slash - p->file), p->file, inc);
        if (n < 0 || (size_t)n >= sizeof(path)) {
            return fail(p, "includefile: '%s': path too long", inc);
        }
    } else {
        if (strlen(inc) >= sizeof(path)) {
            return fail(p, "includefile: '%s': path too long", inc);
        }
        strcpy(path, inc);
    }
    return load_file(p, p->c, path, p->depth + 1);
}

typedef int (*handler_fn)(struct parse *p, struct words *ws);

static const struct {
    const char *name;
    handler_fn fn;
} handlers[] = {
    { "listen", do_listen },       { "local", do_local },
    { "clock", do_clock },         { "workers", do_workers },
    { "pidfile", do_pidfile },     { "logfile", do_logfile },
    { "includefile", do_includefile }, { "restrict", do_restrict },
    { "discard", do_discard },     { "mru", do_mru },
    { "driftfile", do_driftfile }, { "tos", do_tos },
    { "tinker", do_tinker },
    { "server", do_source },       { "pool", do_source },
    { "peer", do_source },         { "enable", do_enable },
    { "disable", do_enable },      { "control", do_control },      { "http", do_http },
    { "statsdir", do_statsdir },   { "statistics", do_statistics },
    { "filegen", do_filegen },     { "logconfig", do_logconfig },
    { "loglevel", do_loglevel },   { "syslog", do_syslog },
};

/* Directives of ntpd (4.2.8) and NTPsec that Stratum does not implement yet. */
static const char *const known_unimplemented[] = {
    "automax", "autokey", "broadcast", "broadcastclient", "broadcastdelay", "calldelay",
    "controlkey", "crypto", "device", "dscp", "fudge",
    "ident", "interface", "keys", "keysdir", "leapfile", "leapsmearinterval",
    "manycastclient", "manycastserver", "mdnstries", "multicastclient",
    "nic", "nonvolatile", "nts", "ntpsigndsocket", "phone", "pps", "qos", "refclock",
    "requestkey", "reset", "revoke", "rlimit", "saveconfigdir", "setvar",
    "tick", "trap", "trustedkey", "ttl", "unconfig",
    "unpeer", "unrestrict", NULL,
};

static int do_line(struct parse *p, char *line)
{
    struct words ws;
    if (split(p, line, &ws) != 0) {
        return -1;
    }
    if (ws.n == 0) {
        return 0;
    }
    if (strcmp(ws.w[0], "end") == 0) {
        /* ntpd: the rest of the file is not read. */
        if (ws.n != 1) {
            return fail(p, "end: expected no arguments");
        }
        return 1;
    }
    /* ntpd's scanner makes '=' a token of its own: "logconfig=all" is "logconfig =all". */
    char eq_item[CONF_MAX_LINE];
    if (strncmp(ws.w[0], "logconfig=", 10) == 0 && ws.n < CONF_MAX_WORDS) {
        snprintf(eq_item, sizeof(eq_item), "%s", ws.w[0] + 9);
        memmove(&ws.w[2], &ws.w[1], (size_t)(ws.n - 1) * sizeof(ws.w[0]));
        ws.w[0][9] = '\0';
        ws.w[1] = eq_item;
        ws.n++;
    }
    for (size_t i = 0; i < sizeof(handlers) / sizeof(handlers[0]); i++) {
        if (strcmp(ws.w[0], handlers[i].name) == 0) {
            return handlers[i].fn(p, &ws);
        }
    }
    for (int i = 0; known_unimplemented[i] != NULL; i++) {
        if (strcmp(ws.w[0], known_unimplemented[i]) == 0) {
            warn(p, "%s: not implemented yet; line ignored", ws.w[0]);
            return 0;
        }
    }
    return fail(p, "'%s': unknown directive", ws.w[0]);
}

static int parse_text(struct parse *p, const char *text, size_t len)
{
    char line[CONF_MAX_LINE];
    size_t pos = 0;
    p->line = 0;
    while (pos < len) {
        size_t start = pos;
        while (pos < len && text[pos] != '\n') {
            pos++;
        }
        size_t n = pos - start;
        p->line++;
        if (pos < len) {
            pos++;
        }
        if (n >= sizeof(line)) {
            return fail(p, "line longer than %d characters", CONF_MAX_LINE - 1);
        }
        memcpy(line, text + start, n);
        line[n] = '\0';
        if (memchr(line, '\0', n) != NULL) {
            return fail(p, "NUL character in the file (is it a text file?)");
        }
        int r = do_line(p, line);
        if (r < 0) {
            return -1;
        }
        if (r > 0) {
            break;      /* "end" */
        }
    }
    return 0;
}

static int load_file(struct parse *parent, struct conf *c, const char *path, int depth)
{
    struct parse p = { .c = c, .file = path, .line = 0, .depth = depth };
    p.err = parent != NULL ? parent->err : NULL;
    p.errlen = parent != NULL ? parent->errlen : 0;

    FILE *f = fopen(path, "r");
    if (f == NULL) {
        if (parent != NULL && parent->file != NULL) {
            return fail(parent, "includefile: cannot open '%s': %s", path, strerror(errno));
        }
        snprintf(p.err, p.errlen, "%s: cannot open: %s", path, strerror(errno));
        return -1;
    }
    size_t cap = 65536, len = 0;
    char *buf = malloc(cap);
    int rc = -1;
    if (buf == NULL) {
        snprintf(p.err, p.errlen, "%s: out of memory", path);
        fclose(f);
        return -1;
    }
    for (;;) {
        size_t r = fread(buf + len, 1, cap - len, f);
        len += r;
        if (r == 0) {
            break;
        }
        if (len == cap) {
            if (cap >= 16u * 1024 * 1024) {
                snprintf(p.err, p.errlen, "%s: larger than 16 MiB", path);
                goto out;
            }
            char *nb = realloc(buf, cap * 2);
            if (nb == NULL) {
                snprintf(p.err, p.errlen, "%s: out of memory", path);
                goto out;
            }
            buf = nb;
            cap *= 2;
        }
    }
    if (ferror(f)) {
        snprintf(p.err, p.errlen, "%s: read error: %s", path, strerror(errno));
        goto out;
    }
    rc = parse_text(&p, buf, len);
out:
    free(buf);
    fclose(f);
    return rc;
}

void conf_init(struct conf *c)
{
    memset(c, 0, sizeof(*c));
    c->clock = CLK_SYSTEM;
    c->workers = 1;
    acl_init(&c->acl);
    c->rl.average_log2 = RL_DEFAULT_AVERAGE_LOG2;
    c->rl.minimum_s = RL_DEFAULT_MINIMUM_S;
    c->rl.burst = RL_DEFAULT_BURST;
    c->rl_entries = CONF_DEFAULT_RL_ENTRIES;
    c->minsane = 1;
    c->minclock = 3;
    c->maxdist = 1.5;
    c->step_threshold = 0.128;
    c->stepout = 900.0;
    c->panic_threshold = 1000.0;
    c->monitor = true;
    c->control_group = -1;
    stats_config_default(&c->stats);
    c->log_level = -1;
    c->log_categories = LOG_CAT_ALL;
    c->syslog_facility = LOG_FACILITY_DAEMON;
}

int conf_load_file(struct conf *c, const char *path, char *err, size_t errlen)
{
    snprintf(c->path, sizeof(c->path), "%s", path);
    struct parse root = { .c = c, .file = NULL, .err = err, .errlen = errlen };
    return load_file(&root, c, path, 0);
}

int conf_load_string(struct conf *c, const char *name, const char *text, char *err,
                     size_t errlen)
{
    struct parse p = { .c = c, .file = name, .depth = 0, .err = err, .errlen = errlen };
    return parse_text(&p, text, strlen(text));
}

void conf_finish(struct conf *c)
{
    if (c->n_listen == 0) {
        memset(&c->listen[0], 0, sizeof(c->listen[0]));
        c->listen[0].addr.family = NET_IPV4;
        c->listen[0].wildcard = true;
        c->listen[0].port = CONF_DEFAULT_PORT;
        c->listen[1] = c->listen[0];
        c->listen[1].addr.family = NET_IPV6;
        c->n_listen = 2;
    }
    acl_finish(&c->acl);
}
