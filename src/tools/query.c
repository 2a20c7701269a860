/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * query: resolve, measure in parallel, agree, print. The on-wire checks and arithmetic
 * are src/core/client.c's; the agreement test is src/core/select.c's.
 */
#include "query.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "core/ntp_time.h"
#include "io/rng.h"

static void set_error(struct q_target *t, enum q_status st, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void set_error(struct q_target *t, enum q_status st, const char *fmt, ...)
{
    va_list ap;
    t->status = st;
    va_start(ap, fmt);
    vsnprintf(t->error, sizeof(t->error), fmt, ap);
    va_end(ap);
}

int q_parse_target(const char *arg, uint16_t default_port, char *host, size_t hostlen,
                   uint16_t *port, char *err, size_t errlen)
{
    const char *h = arg;
    size_t hl;
    const char *p = NULL;

    *port = default_port;
    if (arg[0] == '\0') {
        snprintf(err, errlen, "empty server name");
        return -1;
    }
    if (arg[0] == '[') {
        const char *close = strchr(arg, ']');
        if (close == NULL) {
            snprintf(err, errlen, "'%s': missing ']'", arg);
            return -1;
        }
        h = arg + 1;
        hl = (size_t)(close - h);
        if (close[1] == ':') {
            p = close + 2;
        } else if (close[1] != '\0') {
            snprintf(err, errlen, "'%s': expected ':PORT' after ']'", arg);
            return -1;
        }
    } else {
        const char *colon = strchr(arg, ':');
        if (colon != NULL && strchr(colon + 1, ':') == NULL) {
            hl = (size_t)(colon - arg);     /* one colon: HOST:PORT */
            p = colon + 1;
        } else {
            hl = strlen(arg);               /* none, or an IPv6 address */
        }
    }
    if (hl == 0 || hl >= hostlen) {
        snprintf(err, errlen, "'%s': bad server name", arg);
        return -1;
    }
    memcpy(host, h, hl);
    host[hl] = '\0';
    if (p != NULL) {
        char *end;
        errno = 0;
        long v = strtol(p, &end, 10);
        if (*p == '\0' || *end != '\0' || errno != 0 || v < 1 || v > 65535) {
            snprintf(err, errlen, "'%s': port must be a number from 1 to 65535", arg);
            return -1;
        }
        *port = (uint16_t)v;
    }
    return 0;
}

int q_resolve(struct q_run *r, char *const *args, int nargs, char *err, size_t errlen)
{
    r->n = 0;
    for (int i = 0; i < nargs; i++) {
        char host[256];
        char service[8];
        uint16_t port;
        if (q_parse_target(args[i], r->opts.port, host, sizeof(host), &port, err, errlen) != 0) {
            return -1;
        }
        snprintf(service, sizeof(service), "%u", (unsigned)port);
        struct addrinfo hints, *res = NULL;
        memset(&hints, 0, sizeof(hints));
        hints.ai_family = r->opts.family == 4 ? AF_INET : r->opts.family == 6 ? AF_INET6
                                                                              : AF_UNSPEC;
        hints.ai_socktype = SOCK_DGRAM;
        hints.ai_protocol = IPPROTO_UDP;
        hints.ai_flags = AI_NUMERICSERV;
        int g = getaddrinfo(host, service, &hints, &res);
        if (g != 0 || res == NULL) {
            if (r->n == Q_MAX_TARGETS) {
                snprintf(err, errlen, "too many servers (at most %d addresses)", Q_MAX_TARGETS);
                return -1;
            }
            struct q_target *t = &r->t[r->n++];
            memset(t, 0, sizeof(*t));
            snprintf(t->host, sizeof(t->host), "%s", host);
            t->port = port;
            t->sock = PLAT_NO_SOCK;
            snprintf(t->error, sizeof(t->error), "cannot resolve '%s': %s", host,
                     g != 0 ? gai_strerror(g) : "no address");
            t->status = Q_NAME;
            continue;
        }
        for (struct addrinfo *a = res; a != NULL; a = a->ai_next) {
            if (a->ai_addrlen > sizeof(struct sockaddr_storage)) {
                continue;
            }
            bool dup = false;
            for (size_t k = 0; k < r->n; k++) {
                if ((size_t)r->t[k].addr_len == (size_t)a->ai_addrlen &&
                    memcmp(&r->t[k].addr, a->ai_addr, a->ai_addrlen) == 0) {
                    dup = true;
                }
            }
            if (dup) {
                continue;
            }
            if (r->n == Q_MAX_TARGETS) {
                freeaddrinfo(res);
                snprintf(err, errlen, "too many servers (at most %d addresses)", Q_MAX_TARGETS);
                return -1;
            }
            struct q_target *t = &r->t[r->n++];
            memset(t, 0, sizeof(*t));
            snprintf(t->host, sizeof(t->host), "%s", host);
            t->port = port;
            memcpy(&t->addr, a->ai_addr, a->ai_addrlen);
            t->addr_len = (socklen_t)a->ai_addrlen;
            t->sock = PLAT_NO_SOCK;
            t->status = Q_TIMEOUT;
            snprintf(t->error, sizeof(t->error), "no answer");
            if (getnameinfo(a->ai_addr, (socklen_t)a->ai_addrlen, t->addr_text,
                            sizeof(t->addr_text), NULL, 0, NI_NUMERICHOST) != 0) {
                snprintf(t->addr_text, sizeof(t->addr_text), "?");
            }
        }
        freeaddrinfo(res);
    }
    return 0;
}

static ntp_ts_t now_ts(struct clk *c)
{
    struct timespec ts;
    clk_now(c, &ts);
    return ntp_ts_from_timespec(&ts);
}

/* A better sample: lower delay (RFC 5905 clock filter's choice, with one exchange each). */
static void keep_sample(struct q_target *t, const struct ntp_sample *s)
{
    if (t->n_ok == 0 || s->delay < t->best.delay) {
        t->best = *s;
    }
    t->n_ok++;
    t->status = Q_OK;
    t->error[0] = '\0';
}

static void handle_reply(struct q_run *r, struct q_target *t)
{
    uint8_t buf[2048];
    for (int k = 0; k < 16 && t->waiting; k++) {
        size_t len = 0;
        bool trunc = false, have_ts = false;
        struct timespec kts;
        enum plat_recv_status st = plat_recv(t->sock, buf, sizeof(buf), &len, &trunc, &have_ts,
                                             &kts);
        if (st == PLAT_RECV_AGAIN) {
            return;
        }
        if (st == PLAT_RECV_REFUSED) {
            if (t->n_ok == 0) {
                set_error(t, Q_REFUSED, "%s", "connection refused (nothing listens on that port)");
            }
            t->waiting = false;
            return;
        }
        if (st != PLAT_RECV_OK) {
            if (t->n_ok == 0) {
                set_error(t, Q_NETWORK, "receive failed: %s", plat_error_text());
            }
            t->waiting = false;
            return;
        }
        ntp_ts_t t4;
        if (have_ts) {
            struct timespec local;
            clk_from_system(r->clk, &kts, &local);
            t4 = ntp_ts_from_timespec(&local);
        } else {
            t4 = now_ts(r->clk);
        }
        struct ntp_sample s;
        enum client_reject why = trunc ? CLIENT_FORMAT
                                       : client_process(buf, len, t->nonce, t->t1, t4,
                                                        r->precision, &s);
        if (why == CLIENT_BOGUS || why == CLIENT_FORMAT || why == CLIENT_MODE) {
            /* Not an answer to this request: keep waiting for the real one (an injected
             * or stale packet must not end the exchange). */
            if (t->n_ok == 0 && t->status != Q_KOD && t->status != Q_UNSYNC) {
                t->reject = why;
            }
            continue;
        }
        t->waiting = false;
        if (why == CLIENT_OK) {
            keep_sample(t, &s);
            return;
        }
        t->reject = why;
        if (why == CLIENT_KOD) {
            /* RFC 5905 sec. 7.4: a server that kisses us gets no more requests, whatever
             * it answered before. */
            t->kissed = true;
            t->kiss = s.kiss;
        }
        if (t->n_ok > 0) {
            return;     /* an earlier sample stands */
        }
        if (why == CLIENT_KOD) {
            t->kiss = s.kiss;
            t->best = s;
            t->status = Q_KOD;
            snprintf(t->error, sizeof(t->error), "kiss-o'-death %s%s",
                     ntp_kiss_name(s.kiss),
                     s.kiss == NTP_KISS_RATE   ? ": the server asks us to query less often"
                     : s.kiss == NTP_KISS_DENY ? ": access denied"
                     : s.kiss == NTP_KISS_RSTR ? ": access restricted"
                                               : "");
        } else if (why == CLIENT_UNSYNC) {
            t->status = Q_UNSYNC;
            snprintf(t->error, sizeof(t->error),
                     "server is not synchronized (leap %u, stratum %u)",
                     (unsigned)((buf[0] >> 6) & 3), (unsigned)buf[1]);
        } else {
            t->status = Q_BAD;
            snprintf(t->error, sizeof(t->error), "bad response: %s",
                     client_reject_name(why));
        }
    }
}

static void round_run(struct q_run *r)
{
    plat_sock socks[Q_MAX_TARGETS];
    size_t idx[Q_MAX_TARGETS];
    bool ready[Q_MAX_TARGETS];
    uint8_t req[PKT_HEADER_LEN];
    char err[160];
    int64_t deadline = plat_mono_ns() + (int64_t)(r->opts.timeout * 1e9);

    for (size_t i = 0; i < r->n; i++) {
        struct q_target *t = &r->t[i];
        t->waiting = false;
        /* A name that did not resolve, or a kiss-o'-death: no more requests. */
        if (t->status == Q_NAME || t->status == Q_KOD || t->kissed) {
            continue;
        }
        t->sock = plat_udp_client((struct sockaddr *)&t->addr, t->addr_len, err, sizeof(err));
        if (t->sock == PLAT_NO_SOCK) {
            if (t->n_ok == 0) {
                set_error(t, Q_NETWORK, "%s", err);
            }
            continue;
        }
        /* RFC 9109 and data minimisation: a random nonce, not our clock, in the request. */
        do {
            if (rng_bytes(&t->nonce, sizeof(t->nonce)) != 0) {
                t->nonce = (uint64_t)plat_mono_ns() * UINT64_C(0x9e3779b97f4a7c15);
            }
        } while (t->nonce == 0);
        client_request(req, sizeof(req), r->opts.version, 0, t->nonce);
        t->t1 = now_ts(r->clk);
        if (plat_send(t->sock, req, sizeof(req)) != 0) {
            if (t->n_ok == 0) {
                set_error(t, Q_NETWORK, "send failed: %s", plat_error_text());
            }
            plat_close(t->sock);
            t->sock = PLAT_NO_SOCK;
            continue;
        }
        t->n_sent++;
        t->waiting = true;
    }
    for (;;) {
        size_t n = 0;
        for (size_t i = 0; i < r->n; i++) {
            if (r->t[i].waiting) {
                socks[n] = r->t[i].sock;
                idx[n++] = i;
            }
        }
        int64_t left = deadline - plat_mono_ns();
        if (n == 0 || left <= 0) {
            break;
        }
        int ms = (int)((left + 999999) / 1000000);
        if (plat_poll(socks, n, ms, ready) < 0) {
            break;
        }
        for (size_t k = 0; k < n; k++) {
            if (ready[k]) {
                handle_reply(r, &r->t[idx[k]]);
            }
        }
    }
    for (size_t i = 0; i < r->n; i++) {
        struct q_target *t = &r->t[i];
        if (t->sock != PLAT_NO_SOCK) {
            plat_close(t->sock);
            t->sock = PLAT_NO_SOCK;
        }
        if (t->waiting && t->n_ok == 0 && t->status == Q_TIMEOUT) {
            snprintf(t->error, sizeof(t->error), "no answer within %.3g s%s%s",
                     r->opts.timeout, t->reject != CLIENT_OK ? " (ignored: " : "",
                     t->reject != CLIENT_OK ? client_reject_name(t->reject) : "");
            if (t->reject != CLIENT_OK) {
                strncat(t->error, ")", sizeof(t->error) - strlen(t->error) - 1);
            }
        }
        t->waiting = false;
    }
}

static void sleep_ns(int64_t ns)
{
    if (ns <= 0) {
        return;
    }
    /* poll with no sockets is a portable sleep through the seam. */
    plat_poll(NULL, 0, (int)(ns / 1000000), NULL);
}

void q_measure(struct q_run *r)
{
    r->precision = clk_measure_precision(r->clk);
    for (int k = 0; k < r->opts.samples; k++) {
        int64_t start = plat_mono_ns();
        round_run(r);
        if (k + 1 < r->opts.samples) {
            sleep_ns((int64_t)(r->opts.interval * 1e9) - (plat_mono_ns() - start));
        }
    }
    struct sel_source src[Q_MAX_TARGETS];
    bool tc[Q_MAX_TARGETS];
    size_t map[Q_MAX_TARGETS];
    size_t n = 0;
    for (size_t i = 0; i < r->n; i++) {
        r->t[i].truechimer = false;
        if (r->t[i].status == Q_OK) {
            src[n].offset = r->t[i].best.offset;
            src[n].distance = r->t[i].best.root_distance;
            map[n++] = i;
        }
    }
    r->n_ok = n;
    sel_intersect(src, n, tc, &r->agree);
    for (size_t k = 0; k < n; k++) {
        r->t[map[k]].truechimer = tc[k];
    }
}

int q_exit_code(const struct q_run *r)
{
    bool unusable = false;
    for (size_t i = 0; i < r->n; i++) {
        if (r->t[i].status == Q_OK) {
            return 0;
        }
        if (r->t[i].status == Q_KOD || r->t[i].status == Q_UNSYNC || r->t[i].status == Q_BAD) {
            unusable = true;
        }
    }
    return unusable ? 3 : 2;
}

const char *q_status_name(enum q_status s)
{
    switch (s) {
    case Q_OK:
        return "ok";
    case Q_NAME:
        return "name_error";
    case Q_TIMEOUT:
        return "timeout";
    case Q_REFUSED:
        return "refused";
    case Q_NETWORK:
        return "network_error";
    case Q_KOD:
        return "kod";
    case Q_UNSYNC:
        return "unsynchronized";
    case Q_BAD:
        return "bad_response";
    }
    return "unknown";
}

const char *q_leap_name(uint8_t leap)
{
    static const char *const names[] = { "none", "insert", "delete", "unsynchronized" };
    return names[leap & 3];
}

static void refid_text(const struct ntp_sample *s, char *out, size_t size)
{
    bool printable = true;
    for (int k = 0; k < 4; k++) {
        unsigned char ch = (unsigned char)(s->refid >> (24 - 8 * k));
        printable = printable && ((ch >= 0x20 && ch < 0x7f) || (ch == 0 && k > 0));
    }
    if (s->stratum <= 1 && printable) {
        char a[5];
        ntp_refid_to_ascii(s->refid, a);
        snprintf(out, size, "%s", a);
    } else if (s->stratum <= 1) {
        /* Not a kiss or reference code (chronyd's local clock: 127.127.1.1). */
        snprintf(out, size, "%u.%u.%u.%u", (unsigned)(s->refid >> 24),
                 (unsigned)((s->refid >> 16) & 255), (unsigned)((s->refid >> 8) & 255),
                 (unsigned)(s->refid & 255));
    } else {
        /* Stratum 2+: an IPv4 address or the hash of an IPv6 one; print as a dotted quad,
         * as ntpq does. Servers on their local clock (ntpd's LOCAL driver, ours) keep an
         * ASCII refid at any stratum: show the letters too when all four are capitals or
         * digits (an address is rarely made of those octets). */
        bool ascii = true;
        char a[5];
        for (int k = 0; k < 4; k++) {
            unsigned char ch = (unsigned char)(s->refid >> (24 - 8 * k));
            ascii = ascii && ((ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9'));
        }
        ntp_refid_to_ascii(s->refid, a);
        snprintf(out, size, ascii ? "%u.%u.%u.%u (%s)" : "%u.%u.%u.%u",
                 (unsigned)(s->refid >> 24), (unsigned)((s->refid >> 16) & 255),
                 (unsigned)((s->refid >> 8) & 255), (unsigned)(s->refid & 255), a);
    }
}

/* The server's clock at our receive time t4: t4 + offset, era resolved by our clock. */
static void server_time(const struct ntp_sample *s, struct timespec *out)
{
    struct timespec pivot;
    ntp_ts_to_timespec(s->t4, (int64_t)time(NULL), &pivot);
    ntp_ts_to_timespec(ntp_ts_add(s->t4, s->offset), (int64_t)pivot.tv_sec, out);
}

/* A time for people ("2026-11-25 18:44:19.616954 CET (+0100)") or, when iso, for
 * machines (RFC 3339: "2026-11-25T18:44:19.616954+01:00"); UTC unless local. */
static void format_time(const struct timespec *ts, bool local, bool iso, char *out,
                        size_t size)
{
    struct tm tm;
    char base[32], zone[40] = "", off[8] = "+0000";
    long us = (long)(ts->tv_nsec / 1000);
    int r = local ? plat_localtime((int64_t)ts->tv_sec, &tm)
                  : plat_gmtime((int64_t)ts->tv_sec, &tm);
    if (r != 0) {
        snprintf(out, size, "?");
        return;
    }
    strftime(base, sizeof(base), iso ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm);
    if (!local) {
        snprintf(out, size, iso ? "%s.%06ldZ" : "%s.%06ld UTC", base, us);
        return;
    }
    plat_strftime(off, sizeof(off), "%z", &tm);
    if (iso) {
        /* RFC 3339 wants +hh:mm. */
        snprintf(out, size, "%s.%06ld%.3s:%.2s", base, us, off, off + 3);
        return;
    }
    plat_strftime(zone, sizeof(zone), "%Z", &tm);
    snprintf(out, size, "%s.%06ld %s (%s)", base, us, zone, off);
}

static const char *label(const struct q_target *t, char *buf, size_t size)
{
    bool numeric = strcmp(t->host, t->addr_text) == 0 || t->addr_text[0] == '\0';
    bool v6 = strchr(t->addr_text, ':') != NULL;
    if (numeric) {
        snprintf(buf, size, v6 ? "[%s]:%u" : "%s:%u", t->addr_text[0] != '\0' ? t->addr_text
                                                                              : t->host,
                 (unsigned)t->port);
    } else {
        snprintf(buf, size, v6 ? "%s [%s]:%u" : "%s (%s:%u)", t->host, t->addr_text,
                 (unsigned)t->port);
    }
    return buf;
}

void q_print_text(const struct q_run *r, FILE *f)
{
    char name[400], ref[32], utc[96], loc[128];
    for (size_t i = 0; i < r->n; i++) {
        const struct q_target *t = &r->t[i];
        fprintf(f, "%s\n", label(t, name, sizeof(name)));
        if (t->status != Q_OK) {
            fprintf(f, "  %s: %s\n", q_status_name(t->status), t->error);
            continue;
        }
        const struct ntp_sample *s = &t->best;
        refid_text(s, ref, sizeof(ref));
        struct timespec st;
        server_time(s, &st);
        format_time(&st, false, false, utc, sizeof(utc));
        format_time(&st, true, false, loc, sizeof(loc));
        fprintf(f, "  offset %+.6f s   delay %.6f s   dispersion %.6f s   (best of %d/%d)\n",
                s->offset, s->delay, s->dispersion, t->n_ok, t->n_sent);
        fprintf(f, "  stratum %u   refid %s   leap %s   precision 2^%d s (%.3g s)   NTPv%u\n",
                (unsigned)s->stratum, ref, q_leap_name(s->leap), s->precision,
                ldexp(1.0, s->precision), (unsigned)s->version);
        fprintf(f, "  root delay %.6f s   root dispersion %.6f s   root distance %.6f s\n",
                s->root_delay, s->root_disp, s->root_distance);
        fprintf(f, "  server time %s\n              %s\n", utc, loc);
        if (t->kissed) {
            fprintf(f, "  kiss-o'-death %s received after %d sample%s: no more requests sent\n",
                    ntp_kiss_name(t->kiss), t->n_ok, t->n_ok == 1 ? "" : "s");
        }
    }
    if (r->n > 1) {
        if (r->n_ok == 0) {
            fprintf(f, "agreement: no server answered usefully\n");
        } else if (r->agree.n_true == 0) {
            fprintf(f, "agreement: none: no majority of the %zu servers that answered agree "
                       "on the time\n", r->n_ok);
        } else {
            fprintf(f, "agreement: %zu of %zu servers agree; combined offset %+.6f s "
                       "(interval %+.6f .. %+.6f s)\n",
                    r->agree.n_true, r->n_ok, r->agree.offset, r->agree.low, r->agree.high);
            for (size_t i = 0; i < r->n; i++) {
                if (r->t[i].status == Q_OK && !r->t[i].truechimer) {
                    fprintf(f, "  falseticker: %s (offset %+.6f s)\n",
                            label(&r->t[i], name, sizeof(name)), r->t[i].best.offset);
                }
            }
        }
    }
}

void q_json_members(const struct q_run *r, struct json *j)
{
    char ref[32], iso[96];
    json_key(j, "servers");
    json_array_begin(j);
    for (size_t i = 0; i < r->n; i++) {
        const struct q_target *t = &r->t[i];
        const struct ntp_sample *s = &t->best;
        json_object_begin(j);
        json_key(j, "host");
        json_string(j, t->host);
        json_key(j, "address");
        if (t->addr_text[0] != '\0') {
            json_string(j, t->addr_text);
        } else {
            json_null(j);
        }
        json_key(j, "port");
        json_int(j, t->port);
        json_key(j, "status");
        json_string(j, q_status_name(t->status));
        json_key(j, "error");
        if (t->status == Q_OK) {
            json_null(j);
        } else {
            json_string(j, t->error);
        }
        json_key(j, "samples_sent");
        json_int(j, t->n_sent);
        json_key(j, "samples_ok");
        json_int(j, t->n_ok);
        if (t->status == Q_KOD || t->kissed) {
            json_key(j, "kiss_code");
            json_string(j, ntp_kiss_name(t->kiss));
        }
        if (t->status == Q_OK) {
            refid_text(s, ref, sizeof(ref));
            json_key(j, "offset");
            json_fixed(j, s->offset, 9);
            json_key(j, "delay");
            json_fixed(j, s->delay, 9);
            json_key(j, "dispersion");
            json_fixed(j, s->dispersion, 9);
            json_key(j, "stratum");
            json_int(j, s->stratum);
            json_key(j, "refid");
            json_string(j, ref);
            json_key(j, "leap");
            json_string(j, q_leap_name(s->leap));
            json_key(j, "version");
            json_int(j, s->version);
            json_key(j, "precision");
            json_int(j, s->precision);
            json_key(j, "root_delay");
            json_fixed(j, s->root_delay, 9);
            json_key(j, "root_dispersion");
            json_fixed(j, s->root_disp, 9);
            json_key(j, "root_distance");
            json_fixed(j, s->root_distance, 9);
            struct timespec st;
            server_time(s, &st);
            format_time(&st, false, true, iso, sizeof(iso));
            json_key(j, "server_time_utc");
            json_string(j, iso);
            format_time(&st, true, true, iso, sizeof(iso));
            json_key(j, "server_time_local");
            json_string(j, iso);
            struct tm tm;
            char zone[40] = "";
            if (plat_localtime((int64_t)st.tv_sec, &tm) == 0) {
                plat_strftime(zone, sizeof(zone), "%Z", &tm);
            }
            json_key(j, "timezone");
            json_string(j, zone);
            json_key(j, "truechimer");
            json_bool(j, t->truechimer);
        }
        json_object_end(j);
    }
    json_array_end(j);
    json_key(j, "agreement");
    json_object_begin(j);
    json_key(j, "answered");
    json_int(j, (int64_t)r->n_ok);
    json_key(j, "agree");
    json_int(j, (int64_t)r->agree.n_true);
    if (r->agree.n_true > 0) {
        json_key(j, "offset");
        json_fixed(j, r->agree.offset, 9);
        json_key(j, "low");
        json_fixed(j, r->agree.low, 9);
        json_key(j, "high");
        json_fixed(j, r->agree.high, 9);
    } else {
        json_key(j, "offset");
        json_null(j);
    }
    json_object_end(j);
}
