/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * alarm: the fleet monitor's alarm sinks. Formats each event three ways (a syslog line,
 * an RFC 5424 message, a JSON object) and delivers it to the local syslog, a remote
 * collector (UDP datagram or TCP with RFC 6587 octet counting) and a hook command, each
 * with a bounded wait. Owns the remote socket and the hook's process; not when to alarm.
 */
#include "monitor/alarm.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "io/json.h"

extern char **environ;

/* RFC 5424 sec. 6: the longest a header field may be. */
#define HOSTNAME_MAX 255
#define APP_NAME_MAX 48
#define PROCID_MAX 128
#define MSGID_MAX 32

#define REMOTE_MAX_ADDRS 8        /* addresses of the remote's name that are tried */
#define REMOTE_TCP_BUDGET_MS 2000 /* connect + send + one reconnect, in all */
#define ALARM_MSG_MAX 16384       /* one RFC 5424 message */
#define FRAME_HDR_MAX 24          /* "16384 " with room to spare */
#define TIMESTAMP_LEN 80          /* 25 used; room for what -Wformat-truncation fears */

enum remote_proto {
    REMOTE_NONE,
    REMOTE_UDP,
    REMOTE_TCP,
};

struct alarm {
    struct alarm_config cfg;
    char hostname[HOSTNAME_MAX + 1];
    enum remote_proto proto;
    struct sockaddr_storage addrs[REMOTE_MAX_ADDRS];
    socklen_t addrlens[REMOTE_MAX_ADDRS];
    int naddrs;
    int fd; /* the remote's socket (UDP: connected at open), or -1 */
    bool syslog_open;
};

/* ---- small helpers -------------------------------------------------------------------- */

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int remaining_ms(int64_t deadline_ms)
{
    int64_t left = deadline_ms - mono_ms();
    if (left <= 0) {
        return 0;
    }
    return left > 1000000 ? 1000000 : (int)left;
}

static void __attribute__((format(printf, 3, 4)))
msg_set(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
}

/* Appends to err, after "; " when it already holds a message. */
static void __attribute__((format(printf, 3, 4)))
msg_append(char *err, size_t errlen, const char *fmt, ...)
{
    if (err == NULL || errlen == 0) {
        return;
    }
    size_t used = strnlen(err, errlen - 1);
    if (used > 0 && used + 2 < errlen) {
        memcpy(err + used, "; ", 3);
        used += 2;
    }
    if (used + 1 >= errlen) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err + used, errlen - used, fmt, ap);
    va_end(ap);
}

static bool str_eq(const char *a, const char *b)
{
    return strcmp(a, b) == 0;
}

/* ---- formatters ------------------------------------------------------------------------ */

/* A bounded writer: `full` once anything did not fit (with room for the NUL). */
struct out {
    char *buf;
    size_t cap;
    size_t len;
    bool full;
};

static void out_bytes(struct out *o, const char *s, size_t n)
{
    if (o->full || n >= o->cap - o->len) {
        o->full = true;
        return;
    }
    memcpy(o->buf + o->len, s, n);
    o->len += n;
}

static void out_str(struct out *o, const char *s)
{
    out_bytes(o, s, strlen(s));
}

static void out_char(struct out *o, char c)
{
    out_bytes(o, &c, 1);
}

/* A header field (RFC 5424 sec. 6.2: 1*N PRINTUSASCII): bytes outside %d33-126 become
 * '_', cut at max bytes; an empty field is the NILVALUE. */
static void out_token(struct out *o, const char *s, size_t max)
{
    if (s[0] == '\0') {
        out_char(o, '-');
        return;
    }
    for (size_t i = 0; s[i] != '\0' && i < max; i++) {
        unsigned char c = (unsigned char)s[i];
        out_char(o, c >= 33 && c <= 126 ? (char)c : '_');
    }
}

/* UTF-8 text for a PARAM-VALUE (escaped: RFC 5424 sec. 6.3.3) or for MSG: control
 * characters become spaces (a newline would split the line at many collectors), bytes
 * that are not UTF-8 become U+FFFD. */
static void out_text(struct out *o, const char *s, bool sd_escape)
{
    for (const unsigned char *p = (const unsigned char *)s; *p != '\0'; p++) {
        if (sd_escape && (*p == '"' || *p == '\\' || *p == ']')) {
            out_char(o, '\\');
            out_char(o, (char)*p);
        } else if (*p < 0x20 || *p == 0x7f) {
            out_char(o, ' ');
        } else if (*p < 0x80) {
            out_char(o, (char)*p);
        } else {
            size_t n = json_utf8_len(p);
            if (n == 0) {
                out_str(o, "\xef\xbf\xbd");
            } else {
                out_bytes(o, (const char *)p, n);
                p += n - 1;
            }
        }
    }
}

static void out_param(struct out *o, const char *name, const char *value)
{
    out_char(o, ' ');
    out_str(o, name);
    out_str(o, "=\"");
    out_text(o, value, true);
    out_char(o, '"');
}

/* "2026-12-07T01:02:03.456Z" into ts, or false when ms is outside the years 0 .. 9999. */
static bool format_timestamp(int64_t ms, char ts[TIMESTAMP_LEN])
{
    int64_t sec = ms / 1000;
    int64_t frac = ms % 1000;
    if (frac < 0) {
        frac += 1000;
        sec--;
    }
    time_t t = (time_t)sec;
    struct tm tm;
    if ((int64_t)t != sec || gmtime_r(&t, &tm) == NULL) {
        return false;
    }
    long year = (long)tm.tm_year + 1900;
    if (year < 0 || year > 9999) {
        return false;
    }
    snprintf(ts, TIMESTAMP_LEN, "%04ld-%02d-%02dT%02d:%02d:%02d.%03dZ", year, tm.tm_mon + 1,
             tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)frac);
    return true;
}

static bool event_is_leave(const struct alarm_event *ev)
{
    return str_eq(ev->kind, "leave");
}

/* RFC 5424 sec. 6.2.1 severity of an event. */
static int event_severity(const struct alarm_event *ev)
{
    if (event_is_leave(ev) || str_eq(ev->severity, "ok")) {
        return 5;
    }
    if (str_eq(ev->severity, "critical")) {
        return 2;
    }
    return 4;
}

size_t alarm_format_text(const struct alarm_event *ev, char *buf, size_t cap)
{
    bool leave = event_is_leave(ev);
    bool show_host = ev->host[0] != '\0' && !str_eq(ev->host, ev->device);
    char made[128];
    const char *detail = ev->detail;
    if (detail[0] == '\0') {
        if (!leave && str_eq(ev->status, "offset") && isfinite(ev->offset)) {
            double limit =
                str_eq(ev->severity, "critical") ? ev->threshold_crit : ev->threshold_warn;
            snprintf(made, sizeof(made), "offset %+.6f s beyond %.3f s", ev->offset, limit);
        } else if (leave && isfinite(ev->offset)) {
            snprintf(made, sizeof(made), "offset %+.6f s", ev->offset);
        } else {
            snprintf(made, sizeof(made), "%s", ev->status);
        }
        detail = made;
    }
    int n;
    if (leave) {
        n = snprintf(buf, cap, "%s%s%s%s standard again: %s", ev->device, show_host ? " (" : "",
                     show_host ? ev->host : "", show_host ? ")" : "", detail);
    } else {
        n = snprintf(buf, cap, "%s%s%s%s not standard: %s (%s)", ev->device, show_host ? " (" : "",
                     show_host ? ev->host : "", show_host ? ")" : "", detail, ev->severity);
    }
    return n < 0 ? 0 : (size_t)n;
}

size_t alarm_format_5424(const struct alarm_event *ev, const char *hostname, int facility,
                         int procid, char *buf, size_t cap)
{
    struct out o = {buf, cap, 0, cap == 0};
    char tmp[TIMESTAMP_LEN + 32];

    if (facility < 0 || facility > 23) {
        facility = ALARM_FACILITY_DEFAULT;
    }
    snprintf(tmp, sizeof(tmp), "<%d>1 ", facility * 8 + event_severity(ev));
    out_str(&o, tmp);
    if (!format_timestamp(ev->time_unix_ms, tmp)) {
        snprintf(tmp, sizeof(tmp), "-");
    }
    out_str(&o, tmp);
    out_char(&o, ' ');
    out_token(&o, hostname, HOSTNAME_MAX);
    out_char(&o, ' ');
    out_token(&o, ALARM_APP_NAME, APP_NAME_MAX);
    out_char(&o, ' ');
    if (procid > 0) {
        snprintf(tmp, sizeof(tmp), "%d", procid);
        out_token(&o, tmp, PROCID_MAX);
    } else {
        out_char(&o, '-');
    }
    out_char(&o, ' ');
    out_token(&o, ev->kind, MSGID_MAX);

    out_str(&o, " [" ALARM_SD_ID);
    out_param(&o, "device", ev->device);
    out_param(&o, "host", ev->host);
    out_param(&o, "group", ev->group);
    out_param(&o, "status", ev->status);
    if (isfinite(ev->offset)) {
        snprintf(tmp, sizeof(tmp), "%+.9f", ev->offset);
        out_param(&o, "offset", tmp);
    }
    snprintf(tmp, sizeof(tmp), "%lld", (long long)ev->sweep_id);
    out_param(&o, "sweep", tmp);
    out_str(&o, "] ");

    char line[2048];
    alarm_format_text(ev, line, sizeof(line));
    out_text(&o, line, false);

    if (o.full) {
        if (cap > 0) {
            buf[0] = '\0';
        }
        return 0;
    }
    buf[o.len] = '\0';
    return o.len;
}

int alarm_format_json(const struct alarm_event *ev, FILE *f)
{
    struct json j;
    char ts[TIMESTAMP_LEN];
    json_init(&j, f, false);
    json_object_begin(&j);
    json_key(&j, "schema_version");
    json_int(&j, 1);
    json_key(&j, "time");
    if (format_timestamp(ev->time_unix_ms, ts)) {
        json_string(&j, ts);
    } else {
        json_null(&j);
    }
    json_key(&j, "time_unix_ms");
    json_int(&j, ev->time_unix_ms);
    json_key(&j, "kind");
    json_string(&j, ev->kind);
    json_key(&j, "severity");
    json_string(&j, ev->severity);
    json_key(&j, "device");
    json_string(&j, ev->device);
    json_key(&j, "host");
    json_string(&j, ev->host);
    json_key(&j, "group");
    json_string(&j, ev->group);
    json_key(&j, "status");
    json_string(&j, ev->status);
    json_key(&j, "offset");
    json_fixed(&j, ev->offset, 9);
    json_key(&j, "threshold_warn");
    json_fixed(&j, ev->threshold_warn, 9);
    json_key(&j, "threshold_crit");
    json_fixed(&j, ev->threshold_crit, 9);
    json_key(&j, "detail");
    json_string(&j, ev->detail);
    json_key(&j, "sweep_id");
    json_int(&j, ev->sweep_id);
    json_object_end(&j);
    json_finish(&j);
    return ferror(f) ? -1 : 0;
}

/* ---- configuration --------------------------------------------------------------------- */

void alarm_config_init(struct alarm_config *c)
{
    memset(c, 0, sizeof(*c));
    c->hook_timeout_ms = ALARM_HOOK_TIMEOUT_DEFAULT_MS;
    c->facility = ALARM_FACILITY_DEFAULT;
}

/* "udp://HOST:PORT", "tcp://[V6]:PORT" into its parts. Returns 0, or -1 with a message. */
static int remote_parse(const char *s, enum remote_proto *proto, char *host, size_t hostcap,
                        char *port, size_t portcap, char *err, size_t errlen)
{
    if (strncasecmp(s, "udp://", 6) == 0) {
        *proto = REMOTE_UDP;
    } else if (strncasecmp(s, "tcp://", 6) == 0) {
        *proto = REMOTE_TCP;
    } else {
        msg_set(err, errlen, "remote '%s': the scheme must be udp:// or tcp://", s);
        return -1;
    }
    const char *rest = s + 6;
    const char *host_begin, *host_end, *after;
    if (rest[0] == '[') {
        host_begin = rest + 1;
        host_end = strchr(host_begin, ']');
        if (host_end == NULL) {
            msg_set(err, errlen, "remote '%s': no ']' after the IPv6 address", s);
            return -1;
        }
        after = host_end + 1;
    } else {
        host_begin = rest;
        host_end = strrchr(rest, ':');
        if (host_end != NULL && memchr(rest, ':', (size_t)(host_end - rest)) != NULL) {
            msg_set(err, errlen, "remote '%s': an IPv6 address needs brackets: [ADDRESS]:PORT", s);
            return -1;
        }
        if (host_end == NULL) {
            host_end = rest + strlen(rest);
        }
        after = host_end;
    }
    size_t hostlen = (size_t)(host_end - host_begin);
    if (hostlen == 0) {
        msg_set(err, errlen, "remote '%s': no host (udp://HOST:PORT)", s);
        return -1;
    }
    if (hostlen >= hostcap) {
        msg_set(err, errlen, "remote '%s': the host name is too long", s);
        return -1;
    }
    if (after[0] != ':' || after[1] == '\0') {
        msg_set(err, errlen, "remote '%s': no port (HOST:PORT)", s);
        return -1;
    }
    const char *p = after + 1;
    long value = 0;
    size_t i;
    for (i = 0; p[i] != '\0'; i++) {
        if (p[i] < '0' || p[i] > '9' || i >= 5) {
            break;
        }
        value = value * 10 + (p[i] - '0');
    }
    if (p[i] != '\0' || value < 1 || value > 65535) {
        msg_set(err, errlen, "remote '%s': port '%s' is not a number in 1 .. 65535", s, p);
        return -1;
    }
    memcpy(host, host_begin, hostlen);
    host[hostlen] = '\0';
    snprintf(port, portcap, "%ld", value);
    return 0;
}

static int remote_resolve(struct alarm *a, char *err, size_t errlen)
{
    char host[256], port[8];
    if (remote_parse(a->cfg.remote, &a->proto, host, sizeof(host), port, sizeof(port), err,
                     errlen) != 0) {
        return -1;
    }
    struct addrinfo hints, *res = NULL;
    memset(&hints, 0, sizeof(hints));
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = a->proto == REMOTE_UDP ? SOCK_DGRAM : SOCK_STREAM;
    hints.ai_flags = AI_NUMERICSERV;
    int rc = getaddrinfo(host, port, &hints, &res);
    if (rc != 0) {
        msg_set(err, errlen, "remote '%s': cannot resolve '%s': %s", a->cfg.remote, host,
                rc == EAI_SYSTEM ? strerror(errno) : gai_strerror(rc));
        return -1;
    }
    for (struct addrinfo *ai = res; ai != NULL && a->naddrs < REMOTE_MAX_ADDRS; ai = ai->ai_next) {
        if (ai->ai_addrlen > sizeof(a->addrs[0])) {
            continue;
        }
        memcpy(&a->addrs[a->naddrs], ai->ai_addr, ai->ai_addrlen);
        a->addrlens[a->naddrs] = ai->ai_addrlen;
        a->naddrs++;
    }
    freeaddrinfo(res);
    if (a->naddrs == 0) {
        msg_set(err, errlen, "remote '%s': '%s' has no usable address", a->cfg.remote, host);
        return -1;
    }
    return 0;
}

/* A connected UDP socket to the first address that takes one. */
static int udp_open(struct alarm *a, char *err, size_t errlen)
{
    int e = 0;
    for (int i = 0; i < a->naddrs; i++) {
        int fd = socket(a->addrs[i].ss_family, SOCK_DGRAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            e = errno;
            continue;
        }
        if (connect(fd, (const struct sockaddr *)&a->addrs[i], a->addrlens[i]) == 0) {
            a->fd = fd;
            return 0;
        }
        e = errno;
        close(fd);
    }
    msg_set(err, errlen, "remote '%s': connect: %s", a->cfg.remote, strerror(e));
    return -1;
}

static bool field_terminated(const char *field, size_t size)
{
    return memchr(field, '\0', size) != NULL;
}

struct alarm *alarm_open(const struct alarm_config *c, char *err, size_t errlen)
{
    msg_set(err, errlen, "%s", "");
    if (!field_terminated(c->remote, sizeof(c->remote)) ||
        !field_terminated(c->hook, sizeof(c->hook)) ||
        !field_terminated(c->hostname, sizeof(c->hostname))) {
        msg_set(err, errlen, "alarm: a configuration string is not NUL-terminated");
        return NULL;
    }
    if (c->facility < 0 || c->facility > 23) {
        msg_set(err, errlen, "alarm: syslog facility %d is not in 0 .. 23", c->facility);
        return NULL;
    }
    if (c->hook_timeout_ms < 0) {
        msg_set(err, errlen, "alarm: hook timeout %d ms is negative", c->hook_timeout_ms);
        return NULL;
    }

    struct alarm *a = calloc(1, sizeof(*a));
    if (a == NULL) {
        msg_set(err, errlen, "alarm: out of memory");
        return NULL;
    }
    a->cfg = *c;
    a->fd = -1;
    a->proto = REMOTE_NONE;
    if (a->cfg.facility == 0) {
        a->cfg.facility = ALARM_FACILITY_DEFAULT;
    }
    if (a->cfg.hook_timeout_ms == 0) {
        a->cfg.hook_timeout_ms = ALARM_HOOK_TIMEOUT_DEFAULT_MS;
    }
    if (c->hostname[0] != '\0') {
        snprintf(a->hostname, sizeof(a->hostname), "%s", c->hostname);
    } else if (gethostname(a->hostname, sizeof(a->hostname)) != 0) {
        a->hostname[0] = '\0'; /* the formatter writes the NILVALUE */
    }
    a->hostname[sizeof(a->hostname) - 1] = '\0';

    if (a->cfg.remote[0] != '\0') {
        if (remote_resolve(a, err, errlen) != 0 ||
            (a->proto == REMOTE_UDP && udp_open(a, err, errlen) != 0)) {
            free(a);
            return NULL;
        }
    }
    if (a->cfg.syslog_local) {
        openlog(ALARM_APP_NAME, LOG_PID | LOG_NDELAY, LOG_DAEMON);
        a->syslog_open = true;
    }
    return a;
}

void alarm_close(struct alarm *a)
{
    if (a == NULL) {
        return;
    }
    if (a->fd >= 0) {
        close(a->fd);
    }
    if (a->syslog_open) {
        closelog();
    }
    free(a);
}

/* ---- local syslog ---------------------------------------------------------------------- */

static void local_send(const struct alarm_event *ev)
{
    static const int prio[] = {[2] = LOG_CRIT, [4] = LOG_WARNING, [5] = LOG_NOTICE};
    char line[2048];
    alarm_format_text(ev, line, sizeof(line));
    /* syslog(3) reports nothing: without a syslog daemon the line is dropped. */
    syslog(prio[event_severity(ev)], "MON: %s", line);
}

/* ---- remote: UDP ----------------------------------------------------------------------- */

static int udp_send(struct alarm *a, const char *msg, size_t len, char *err, size_t errlen)
{
    if (send(a->fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)len) {
        return 0;
    }
    int e = errno;
    if (e == ECONNREFUSED) {
        /* The ICMP port unreachable of an earlier datagram, reported now, and this one
         * was not sent. Send it again, but say the collector is not listening. */
        bool resent = send(a->fd, msg, len, MSG_NOSIGNAL | MSG_DONTWAIT) == (ssize_t)len;
        msg_append(err, errlen, "remote %s: send: %s (an earlier message was refused%s)",
                   a->cfg.remote, strerror(e), resent ? "; this one sent again" : "");
        return -1;
    }
    msg_append(err, errlen, "remote %s: send: %s", a->cfg.remote, strerror(e));
    return -1;
}

/* ---- remote: TCP ----------------------------------------------------------------------- */

/* A non-blocking connect to each address in turn, until deadline_ms. Returns the
 * socket, or -1 with *e set. */
static int tcp_connect(struct alarm *a, int64_t deadline_ms, int *e)
{
    *e = ETIMEDOUT;
    for (int i = 0; i < a->naddrs; i++) {
        int fd = socket(a->addrs[i].ss_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
        if (fd < 0) {
            *e = errno;
            continue;
        }
        if (connect(fd, (const struct sockaddr *)&a->addrs[i], a->addrlens[i]) == 0) {
            return fd;
        }
        if (errno != EINPROGRESS) {
            *e = errno;
            close(fd);
            continue;
        }
        for (;;) {
            struct pollfd p = {.fd = fd, .events = POLLOUT};
            int r = poll(&p, 1, remaining_ms(deadline_ms));
            if (r < 0 && errno == EINTR) {
                continue;
            }
            if (r <= 0) {
                *e = r == 0 ? ETIMEDOUT : errno;
                break;
            }
            int soerr = 0;
            socklen_t sl = sizeof(soerr);
            if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &soerr, &sl) != 0) {
                soerr = errno;
            }
            if (soerr == 0) {
                return fd;
            }
            *e = soerr;
            break;
        }
        close(fd);
        if (*e == ETIMEDOUT) {
            break; /* the budget is spent */
        }
    }
    return -1;
}

/* False when the collector has closed (or reset) the connection. A collector sends
 * nothing on it (RFC 6587), so anything readable is the end or stray bytes, dropped. */
static bool tcp_alive(int fd)
{
    for (;;) {
        struct pollfd p = {.fd = fd, .events = POLLIN | POLLRDHUP};
        int r = poll(&p, 1, 0);
        if (r < 0 && errno == EINTR) {
            continue;
        }
        if (r <= 0) {
            return r == 0;
        }
        if (p.revents & (POLLERR | POLLHUP | POLLRDHUP | POLLNVAL)) {
            return false;
        }
        char junk[512];
        ssize_t n = recv(fd, junk, sizeof(junk), MSG_DONTWAIT);
        if (n == 0 || (n < 0 && errno != EAGAIN && errno != EINTR)) {
            return false;
        }
        if (n < 0) {
            return true;
        }
    }
}

/* All of buf, or -1 with errno (ETIMEDOUT at the deadline). */
static int send_all(int fd, const char *buf, size_t len, int64_t deadline_ms)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            return -1;
        }
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int r = poll(&p, 1, remaining_ms(deadline_ms));
        if (r == 0) {
            errno = ETIMEDOUT;
            return -1;
        }
        if (r < 0 && errno != EINTR) {
            return -1;
        }
    }
    return 0;
}

/* One octet-counted frame (RFC 6587 sec. 3.4.1) on the persistent connection: connect
 * when there is none, and when the one we had is broken, reconnect once and send again.
 * A frame sent only in part leaves the stream out of step, so any failure closes it. */
static int tcp_send(struct alarm *a, const char *frame, size_t len, char *err, size_t errlen)
{
    int64_t deadline = mono_ms() + REMOTE_TCP_BUDGET_MS;
    bool fresh = false;
    int e = 0;
    if (a->fd >= 0 && !tcp_alive(a->fd)) {
        close(a->fd);
        a->fd = -1;
    }
    if (a->fd < 0) {
        a->fd = tcp_connect(a, deadline, &e);
        if (a->fd < 0) {
            msg_append(err, errlen, "remote %s: connect: %s", a->cfg.remote, strerror(e));
            return -1;
        }
        fresh = true;
    }
    if (send_all(a->fd, frame, len, deadline) == 0) {
        return 0;
    }
    int send_e = errno;
    close(a->fd);
    a->fd = -1;
    if (fresh || send_e == ETIMEDOUT) {
        msg_append(err, errlen, "remote %s: send: %s", a->cfg.remote, strerror(send_e));
        return -1;
    }
    a->fd = tcp_connect(a, deadline, &e);
    if (a->fd < 0) {
        msg_append(err, errlen, "remote %s: send: %s; reconnect: %s", a->cfg.remote,
                   strerror(send_e), strerror(e));
        return -1;
    }
    if (send_all(a->fd, frame, len, deadline) == 0) {
        return 0;
    }
    e = errno;
    close(a->fd);
    a->fd = -1;
    msg_append(err, errlen, "remote %s: send after reconnecting: %s", a->cfg.remote, strerror(e));
    return -1;
}

static int remote_send(struct alarm *a, const struct alarm_event *ev, char *err, size_t errlen)
{
    /* The message goes after room for the frame header, which is written in front of it
     * for TCP: one buffer, one send. */
    char frame[FRAME_HDR_MAX + ALARM_MSG_MAX];
    char *msg = frame + FRAME_HDR_MAX;
    size_t len =
        alarm_format_5424(ev, a->hostname, a->cfg.facility, (int)getpid(), msg, ALARM_MSG_MAX);
    if (len == 0) {
        msg_append(err, errlen, "remote %s: the message is longer than %d bytes", a->cfg.remote,
                   ALARM_MSG_MAX);
        return -1;
    }
    if (a->proto == REMOTE_UDP) {
        return udp_send(a, msg, len, err, errlen);
    }
    char hdr[FRAME_HDR_MAX];
    int hlen = snprintf(hdr, sizeof(hdr), "%zu ", len);
    memcpy(msg - hlen, hdr, (size_t)hlen);
    return tcp_send(a, msg - hlen, len + (size_t)hlen, err, errlen);
}

/* ---- hook ------------------------------------------------------------------------------ */

static const char *const hook_env_names[] = {
    "STRATUM_EVENT", "STRATUM_DEVICE", "STRATUM_SEVERITY", "STRATUM_HOST", "STRATUM_STATUS",
};
#define HOOK_ENV_COUNT (sizeof(hook_env_names) / sizeof(hook_env_names[0]))

static bool env_is_hooks(const char *entry)
{
    for (size_t i = 0; i < HOOK_ENV_COUNT; i++) {
        size_t n = strlen(hook_env_names[i]);
        if (strncmp(entry, hook_env_names[i], n) == 0 && entry[n] == '=') {
            return true;
        }
    }
    return false;
}

/* The hook's environment: ours, with STRATUM_* describing the event. Built before fork,
 * since the child may only make async-signal-safe calls. *owned gets the strings to free
 * (HOOK_ENV_COUNT of them). Returns NULL when out of memory. */
static char **hook_env(const struct alarm_event *ev, char *owned[HOOK_ENV_COUNT])
{
    const char *values[HOOK_ENV_COUNT] = {ev->kind, ev->device, ev->severity, ev->host, ev->status};
    size_t n = 0;
    for (char **e = environ; e != NULL && *e != NULL; e++) {
        n++;
    }
    char **env = calloc(n + HOOK_ENV_COUNT + 1, sizeof(*env));
    if (env == NULL) {
        return NULL;
    }
    size_t k = 0;
    for (char **e = environ; e != NULL && *e != NULL; e++) {
        if (!env_is_hooks(*e)) {
            env[k++] = *e;
        }
    }
    for (size_t i = 0; i < HOOK_ENV_COUNT; i++) {
        size_t len = strlen(hook_env_names[i]) + 1 + strlen(values[i]) + 1;
        owned[i] = malloc(len);
        if (owned[i] == NULL) {
            for (size_t j = 0; j < i; j++) {
                free(owned[j]);
            }
            free(env);
            return NULL;
        }
        snprintf(owned[i], len, "%s=%s", hook_env_names[i], values[i]);
        env[k++] = owned[i];
    }
    env[k] = NULL;
    return env;
}

static void hook_env_free(char **env, char *owned[HOOK_ENV_COUNT])
{
    for (size_t i = 0; i < HOOK_ENV_COUNT; i++) {
        free(owned[i]);
    }
    free(env);
}

/* In the child, between fork and exec: async-signal-safe calls only. */
static void __attribute__((noreturn)) hook_exec(const char *cmd, int stdin_fd, char **env)
{
    setpgid(0, 0);
    if (stdin_fd != STDIN_FILENO) {
        dup2(stdin_fd, STDIN_FILENO); /* the copy is not close-on-exec */
    } else {
        fcntl(STDIN_FILENO, F_SETFD, 0);
    }
    /* Ignored signals and the signal mask survive exec; the hook gets the defaults. */
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &sa, NULL);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    close_range(3, ~0u, 0); /* nothing of ours (database, sockets) leaks to the hook */
    char *const argv[] = {"sh", "-c", (char *)cmd, NULL};
    execve("/bin/sh", argv, env);
    _exit(127);
}

/* Writes the event to the hook's stdin until deadline_ms. SIGPIPE is blocked around the
 * writes (and one it raised consumed), so a hook that does not read its stdin cannot kill
 * us; that is not an error. Returns false only at the deadline. */
static bool hook_feed(int fd, const char *buf, size_t len, int64_t deadline_ms)
{
    sigset_t pipe_set, old, pending;
    sigemptyset(&pipe_set);
    sigaddset(&pipe_set, SIGPIPE);
    sigemptyset(&pending);
    pthread_sigmask(SIG_BLOCK, &pipe_set, &old);
    sigpending(&pending);
    bool was_pending = sigismember(&pending, SIGPIPE) == 1;
    bool in_time = true;
    bool broken = false;

    while (len > 0) {
        ssize_t n = write(fd, buf, len);
        if (n > 0) {
            buf += n;
            len -= (size_t)n;
            continue;
        }
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK) {
            broken = errno == EPIPE;
            break;
        }
        struct pollfd p = {.fd = fd, .events = POLLOUT};
        int r = poll(&p, 1, remaining_ms(deadline_ms));
        if (r == 0) {
            in_time = false;
            break;
        }
    }
    if (broken && !was_pending) {
        struct timespec zero = {0, 0};
        while (sigtimedwait(&pipe_set, NULL, &zero) < 0 && errno == EINTR) {
        }
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    return in_time;
}

/* Waits for pid until deadline_ms. Returns 1 with *status when it ended, 0 at the
 * deadline, -1 with errno when waitpid failed. A pidfd when the kernel has them (5.3),
 * otherwise a WNOHANG loop with short sleeps. */
static int hook_wait(pid_t pid, int64_t deadline_ms, int *status)
{
#ifdef SYS_pidfd_open
    int pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
    if (pidfd >= 0) {
        int r;
        do {
            struct pollfd p = {.fd = pidfd, .events = POLLIN};
            r = poll(&p, 1, remaining_ms(deadline_ms));
        } while (r < 0 && errno == EINTR);
        close(pidfd);
        if (r == 0) {
            return 0;
        }
    }
#endif
    for (;;) {
        pid_t w = waitpid(pid, status, WNOHANG);
        if (w == pid) {
            return 1;
        }
        if (w < 0 && errno != EINTR) {
            return -1;
        }
        if (w == 0) {
            if (remaining_ms(deadline_ms) == 0) {
                return 0;
            }
            struct timespec nap = {0, 5 * 1000000};
            nanosleep(&nap, NULL);
        }
    }
}

static int hook_run(struct alarm *a, const struct alarm_event *ev, char *err, size_t errlen)
{
    int64_t start = mono_ms();
    int64_t deadline = start + a->cfg.hook_timeout_ms;
    char *json = NULL;
    size_t jlen = 0;
    FILE *m = open_memstream(&json, &jlen);
    if (m == NULL) {
        msg_append(err, errlen, "hook: open_memstream: %s", strerror(errno));
        return -1;
    }
    int jrc = alarm_format_json(ev, m);
    if (fclose(m) != 0 || jrc != 0) {
        free(json);
        msg_append(err, errlen, "hook: cannot format the event");
        return -1;
    }

    char *owned[HOOK_ENV_COUNT] = {NULL};
    char **env = hook_env(ev, owned);
    int pfd[2];
    if (env == NULL || pipe2(pfd, O_CLOEXEC) != 0) {
        msg_append(err, errlen, "hook: %s", env == NULL ? "out of memory" : strerror(errno));
        if (env != NULL) {
            hook_env_free(env, owned);
        }
        free(json);
        return -1;
    }
    pid_t pid = fork();
    if (pid == 0) {
        hook_exec(a->cfg.hook, pfd[0], env);
    }
    int fork_e = errno;
    hook_env_free(env, owned);
    close(pfd[0]);
    if (pid < 0) {
        close(pfd[1]);
        free(json);
        msg_append(err, errlen, "hook: fork: %s", strerror(fork_e));
        return -1;
    }
    /* Also here, so the group exists whichever of us runs first (EACCES once the child
     * has exec'd: it had done it then). */
    setpgid(pid, pid);

    int fl = fcntl(pfd[1], F_GETFL);
    if (fl >= 0) {
        fcntl(pfd[1], F_SETFL, fl | O_NONBLOCK);
    }
    bool in_time = hook_feed(pfd[1], json, jlen, deadline);
    close(pfd[1]);
    free(json);

    int status = 0;
    int w = in_time ? hook_wait(pid, deadline, &status) : 0;
    if (w == 0) {
        kill(-pid, SIGKILL);
        kill(pid, SIGKILL); /* in case the group was not made */
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
        }
        msg_append(err, errlen, "hook timed out after %d ms (killed)", a->cfg.hook_timeout_ms);
        return -1;
    }
    if (w < 0) {
        msg_append(err, errlen, "hook: waitpid: %s", strerror(errno));
        return -1;
    }
    if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
        return 0;
    }
    if (WIFEXITED(status)) {
        msg_append(err, errlen, "hook exited with status %d", WEXITSTATUS(status));
    } else if (WIFSIGNALED(status)) {
        msg_append(err, errlen, "hook killed by signal %d", WTERMSIG(status));
    } else {
        msg_append(err, errlen, "hook ended with wait status 0x%x", (unsigned)status);
    }
    return -1;
}

/* ---- delivery -------------------------------------------------------------------------- */

int alarm_send(struct alarm *a, const struct alarm_event *ev, char *err, size_t errlen)
{
    int rc = 0;
    msg_set(err, errlen, "%s", "");
    if (a->syslog_open) {
        local_send(ev);
    }
    if (a->proto != REMOTE_NONE && remote_send(a, ev, err, errlen) != 0) {
        rc = -1;
    }
    if (a->cfg.hook[0] != '\0' && hook_run(a, ev, err, errlen) != 0) {
        rc = -1;
    }
    return rc;
}
