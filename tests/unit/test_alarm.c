/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for monitor/alarm: the RFC 5424 message exactly (PRI, timestamp, header
 * fields cleaned and cut, SD-PARAM escaping, too small a buffer), the syslog line and the
 * hook's JSON; the sinks against sockets on 127.0.0.1 (a UDP datagram per event, TCP with
 * octet counting on one connection and a reconnect after the collector drops it) and real
 * hooks (stdin, environment, exit status, timeout killing the process group); bad remotes
 * refused by alarm_open.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <arpa/inet.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "monitor/alarm.h"

/* ---- helpers -------------------------------------------------------------------- */

#define T_MS 1796605323456LL /* 2026-12-07T01:02:03.456Z */

static struct alarm_event sample_enter(void)
{
    struct alarm_event ev = {
        .time_unix_ms = T_MS,
        .kind = "enter",
        .severity = "critical",
        .device = "cam-17",
        .host = "127.1.0.17",
        .group = "lobby",
        .status = "offset",
        .offset = 0.412317,
        .threshold_warn = 0.1,
        .threshold_crit = 0.4,
        .detail = "offset +0.412317 s beyond 0.400 s",
        .sweep_id = 42,
    };
    return ev;
}

static struct alarm_event sample_leave(void)
{
    struct alarm_event ev = sample_enter();
    ev.time_unix_ms = T_MS + 60000;
    ev.kind = "leave";
    ev.severity = "ok";
    ev.status = "ok";
    ev.offset = 0.000213;
    ev.detail = "offset +0.000213 s";
    ev.sweep_id = 43;
    return ev;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static char tmpdir[64];

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/stratum-test-alarm-XXXXXX");
    return mkdtemp(tmpdir) == NULL ? -1 : 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", tmpdir);
    return system(cmd) == 0 ? 0 : -1;
}

static void tmp_path(char *buf, size_t cap, const char *name)
{
    snprintf(buf, cap, "%s/%s", tmpdir, name);
}

/* The whole file, NUL-terminated, in buf; its length, or -1. */
static ssize_t slurp(const char *path, char *buf, size_t cap)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        return -1;
    }
    size_t n = fread(buf, 1, cap - 1, f);
    fclose(f);
    buf[n] = '\0';
    return (ssize_t)n;
}

static struct alarm *open_ok(const struct alarm_config *c)
{
    char err[256];
    struct alarm *a = alarm_open(c, err, sizeof(err));
    if (a == NULL) {
        fail_msg("alarm_open: %s", err);
    }
    return a;
}

static struct alarm_config config_with(const char *remote, const char *hook)
{
    struct alarm_config c;
    alarm_config_init(&c);
    snprintf(c.remote, sizeof(c.remote), "%s", remote);
    snprintf(c.hook, sizeof(c.hook), "%s", hook);
    snprintf(c.hostname, sizeof(c.hostname), "mon1.example");
    return c;
}

static int bound_socket(int type, uint16_t *port)
{
    int fd = socket(AF_INET, type | SOCK_CLOEXEC, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sin;
    memset(&sin, 0, sizeof(sin));
    sin.sin_family = AF_INET;
    sin.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(bind(fd, (struct sockaddr *)&sin, sizeof(sin)), 0);
    socklen_t sl = sizeof(sin);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&sin, &sl), 0);
    *port = ntohs(sin.sin_port);
    return fd;
}

#define assert_prefix(s, lit) assert_memory_equal((s), (lit), strlen(lit))

static bool readable(int fd, int timeout_ms)
{
    struct pollfd p = {.fd = fd, .events = POLLIN};
    return poll(&p, 1, timeout_ms) == 1;
}

/* ---- a minimal strict JSON reader: validates, and lists the top level's members ---- */

struct jmember {
    char key[32];
    const char *val; /* raw text of the value */
    size_t len;
};
struct jdoc {
    const char *p;
    struct jmember m[32];
    int n;
};

static bool j_value(struct jdoc *d, int depth);

static void j_ws(struct jdoc *d)
{
    while (*d->p == ' ' || *d->p == '\n' || *d->p == '\t' || *d->p == '\r') {
        d->p++;
    }
}

static bool j_string(struct jdoc *d, char *out, size_t cap)
{
    size_t k = 0;
    if (*d->p != '"') {
        return false;
    }
    d->p++;
    while (*d->p != '"') {
        unsigned char c = (unsigned char)*d->p;
        if (c < 0x20) {
            return false;
        }
        if (c == '\\') {
            d->p++;
            if (*d->p == 'u') {
                for (int i = 1; i <= 4; i++) {
                    if (!isxdigit((unsigned char)d->p[i])) {
                        return false;
                    }
                }
                d->p += 4;
                c = '?';
            } else if (strchr("\"\\/bfnrt", *d->p) != NULL && *d->p != '\0') {
                c = (unsigned char)*d->p;
            } else {
                return false;
            }
        }
        if (out != NULL && k + 1 < cap) {
            out[k++] = (char)c;
        }
        d->p++;
    }
    d->p++;
    if (out != NULL) {
        out[k] = '\0';
    }
    return true;
}

static bool j_number(struct jdoc *d)
{
    const char *s = d->p;
    if (*d->p == '-') {
        d->p++;
    }
    if (*d->p == '0') {
        d->p++;
    } else if (*d->p >= '1' && *d->p <= '9') {
        while (isdigit((unsigned char)*d->p)) {
            d->p++;
        }
    } else {
        return false;
    }
    if (*d->p == '.') {
        d->p++;
        if (!isdigit((unsigned char)*d->p)) {
            return false;
        }
        while (isdigit((unsigned char)*d->p)) {
            d->p++;
        }
    }
    if (*d->p == 'e' || *d->p == 'E') {
        d->p++;
        if (*d->p == '+' || *d->p == '-') {
            d->p++;
        }
        if (!isdigit((unsigned char)*d->p)) {
            return false;
        }
        while (isdigit((unsigned char)*d->p)) {
            d->p++;
        }
    }
    return d->p > s;
}

static bool j_object(struct jdoc *d, int depth)
{
    d->p++;
    j_ws(d);
    if (*d->p == '}') {
        d->p++;
        return true;
    }
    for (;;) {
        char key[32];
        j_ws(d);
        if (!j_string(d, key, sizeof(key))) {
            return false;
        }
        j_ws(d);
        if (*d->p++ != ':') {
            return false;
        }
        j_ws(d);
        const char *v = d->p;
        if (!j_value(d, depth + 1)) {
            return false;
        }
        if (depth == 0 && d->n < 32) {
            snprintf(d->m[d->n].key, sizeof(d->m[d->n].key), "%s", key);
            d->m[d->n].val = v;
            d->m[d->n].len = (size_t)(d->p - v);
            d->n++;
        }
        j_ws(d);
        if (*d->p == ',') {
            d->p++;
            continue;
        }
        if (*d->p == '}') {
            d->p++;
            return true;
        }
        return false;
    }
}

static bool j_value(struct jdoc *d, int depth)
{
    if (depth > 8) {
        return false;
    }
    j_ws(d);
    switch (*d->p) {
    case '{':
        return j_object(d, depth);
    case '"':
        return j_string(d, NULL, 0);
    case 't':
        return strncmp(d->p, "true", 4) == 0 && (d->p += 4, true);
    case 'f':
        return strncmp(d->p, "false", 5) == 0 && (d->p += 5, true);
    case 'n':
        return strncmp(d->p, "null", 4) == 0 && (d->p += 4, true);
    default:
        return j_number(d);
    }
}

/* Parses text as one JSON object; fails the test when it is not. */
static void j_parse(struct jdoc *d, const char *text)
{
    memset(d, 0, sizeof(*d));
    d->p = text;
    j_ws(d);
    assert_int_equal(*d->p, '{');
    assert_true(j_value(d, 0));
    j_ws(d);
    assert_int_equal(*d->p, '\0');
}

/* The raw text of member key, or fails the test. */
static const char *j_get(const struct jdoc *d, const char *key)
{
    static char buf[512];
    for (int i = 0; i < d->n; i++) {
        if (strcmp(d->m[i].key, key) == 0) {
            snprintf(buf, sizeof(buf), "%.*s", (int)d->m[i].len, d->m[i].val);
            return buf;
        }
    }
    fail_msg("no member '%s'", key);
    return "";
}

/* ---- formatters ---------------------------------------------------------------- */

static void test_format_enter_exact(void **state)
{
    (void)state;
    struct alarm_event ev = sample_enter();
    char buf[1024];
    size_t n = alarm_format_5424(&ev, "mon1.example", 3, 4242, buf, sizeof(buf));
    const char *want = "<26>1 2026-12-07T01:02:03.456Z mon1.example stratum-monitor 4242 enter "
                       "[stratum@32473 device=\"cam-17\" host=\"127.1.0.17\" group=\"lobby\" "
                       "status=\"offset\" offset=\"+0.412317000\" sweep=\"42\"] "
                       "cam-17 (127.1.0.17) not standard: offset +0.412317 s beyond 0.400 s "
                       "(critical)";
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));

    ev.severity = "warning";
    n = alarm_format_5424(&ev, "mon1.example", 1, 4242, buf, sizeof(buf));
    assert_true(n > 0);
    assert_prefix(buf, "<12>1 "); /* user.warning */
}

static void test_format_leave_exact(void **state)
{
    (void)state;
    struct alarm_event ev = sample_leave();
    ev.group = "";
    char buf[1024];
    size_t n = alarm_format_5424(&ev, "mon1.example", 3, 4242, buf, sizeof(buf));
    const char *want = "<29>1 2026-12-07T01:03:03.456Z mon1.example stratum-monitor 4242 leave "
                       "[stratum@32473 device=\"cam-17\" host=\"127.1.0.17\" group=\"\" "
                       "status=\"ok\" offset=\"+0.000213000\" sweep=\"43\"] "
                       "cam-17 (127.1.0.17) standard again: offset +0.000213 s";
    assert_string_equal(buf, want);
    assert_int_equal(n, strlen(want));
}

static void test_format_unmeasured(void **state)
{
    (void)state;
    struct alarm_event ev = sample_enter();
    ev.status = "unreachable";
    ev.offset = NAN;
    ev.detail = "no reply in 2 s";
    ev.time_unix_ms = -1; /* 1969-12-31T23:59:59.999Z */
    char buf[1024];
    assert_true(alarm_format_5424(&ev, "", 3, 0, buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "<26>1 1969-12-31T23:59:59.999Z - stratum-monitor - enter "
                             "[stratum@32473 device=\"cam-17\" host=\"127.1.0.17\" "
                             "group=\"lobby\" status=\"unreachable\" sweep=\"42\"] "
                             "cam-17 (127.1.0.17) not standard: no reply in 2 s (critical)");
    /* Beyond the year 9999: the NILVALUE. */
    ev.time_unix_ms = 253402300800000LL;
    assert_true(alarm_format_5424(&ev, "h", 3, 1, buf, sizeof(buf)) > 0);
    assert_prefix(buf, "<26>1 - h stratum-monitor 1 enter [");
    ev.time_unix_ms = INT64_MIN;
    assert_true(alarm_format_5424(&ev, "h", 3, 1, buf, sizeof(buf)) > 0);
    assert_prefix(buf, "<26>1 - h ");
}

static void test_format_escaping(void **state)
{
    (void)state;
    struct alarm_event ev = sample_enter();
    ev.device = "a\"b\\c]d";
    ev.host = "h]";
    ev.group = "x\ny\x7f"
               "z\xff";
    ev.detail = "line1\nline2 \"q\" ] \\ \xc3\xa9 \xc3";
    char buf[1024];
    assert_true(alarm_format_5424(&ev, "mon1", 3, 1, buf, sizeof(buf)) > 0);
    assert_non_null(strstr(buf, " device=\"a\\\"b\\\\c\\]d\" "));
    assert_non_null(strstr(buf, " host=\"h\\]\" "));
    /* Controls to spaces, a byte that is not UTF-8 to U+FFFD. */
    assert_non_null(strstr(buf, " group=\"x y z\xef\xbf\xbd\" "));
    /* MSG is not escaped (only PARAM-VALUEs are), but cleaned the same way. */
    const char *msg = strstr(buf, "\"] ");
    assert_non_null(msg);
    assert_string_equal(msg + 3, "a\"b\\c]d (h]) not standard: line1 line2 \"q\" ] \\ \xc3\xa9 "
                                 "\xef\xbf\xbd (critical)");
    assert_null(strchr(buf, '\n'));
}

static void test_format_header_fields(void **state)
{
    (void)state;
    struct alarm_event ev = sample_enter();
    char buf[4096];
    /* Space, a control and a UTF-8 letter (two bytes) become '_'. */
    assert_true(alarm_format_5424(&ev, "bad host\x01\xc3\xb1", 3, 7, buf, sizeof(buf)) > 0);
    assert_prefix(buf, "<26>1 2026-12-07T01:02:03.456Z bad_host___ stratum-monitor 7 ");
    /* HOSTNAME cut at 255, MSGID at 32 (and cleaned). */
    char longhost[400];
    memset(longhost, 'h', sizeof(longhost) - 1);
    longhost[sizeof(longhost) - 1] = '\0';
    ev.kind = "a kind that is much longer than thirty-two bytes";
    assert_true(alarm_format_5424(&ev, longhost, 3, 7, buf, sizeof(buf)) > 0);
    char want[600];
    snprintf(want, sizeof(want),
             "<26>1 2026-12-07T01:02:03.456Z %.255s stratum-monitor 7 "
             "a_kind_that_is_much_longer_than_ [",
             longhost);
    assert_prefix(buf, want);
    /* An empty MSGID is the NILVALUE; an unknown kind is not a leave: warning. */
    ev.kind = "";
    ev.severity = "odd";
    assert_true(alarm_format_5424(&ev, "h", 3, 7, buf, sizeof(buf)) > 0);
    assert_prefix(buf, "<28>1 2026-12-07T01:02:03.456Z h stratum-monitor 7 - [");
}

static void test_format_too_small(void **state)
{
    (void)state;
    struct alarm_event ev = sample_enter();
    char full[1024];
    size_t n = alarm_format_5424(&ev, "mon1.example", 3, 4242, full, sizeof(full));
    assert_true(n > 0);
    /* Every smaller buffer, exactly sized on the heap so ASan sees any overrun. */
    for (size_t cap = 0; cap <= n; cap++) {
        char *b = malloc(cap == 0 ? 1 : cap);
        assert_non_null(b);
        assert_int_equal(alarm_format_5424(&ev, "mon1.example", 3, 4242, b, cap), 0);
        free(b);
    }
    char *b = malloc(n + 1);
    assert_non_null(b);
    assert_int_equal(alarm_format_5424(&ev, "mon1.example", 3, 4242, b, n + 1), n);
    assert_string_equal(b, full);
    free(b);
}

static void test_format_text(void **state)
{
    (void)state;
    struct alarm_event ev = sample_enter();
    char buf[256];
    alarm_format_text(&ev, buf, sizeof(buf));
    assert_string_equal(buf, "cam-17 (127.1.0.17) not standard: offset +0.412317 s beyond 0.400 s "
                             "(critical)");
    ev = sample_leave();
    alarm_format_text(&ev, buf, sizeof(buf));
    assert_string_equal(buf, "cam-17 (127.1.0.17) standard again: offset +0.000213 s");

    /* Unnamed device: the host once. No detail: made from the numbers. */
    ev = sample_enter();
    ev.device = ev.host;
    ev.severity = "warning";
    ev.offset = -0.25;
    ev.detail = "";
    alarm_format_text(&ev, buf, sizeof(buf));
    assert_string_equal(buf, "127.1.0.17 not standard: offset -0.250000 s beyond 0.100 s "
                             "(warning)");
    ev.status = "unsynchronized";
    ev.offset = NAN;
    alarm_format_text(&ev, buf, sizeof(buf));
    assert_string_equal(buf, "127.1.0.17 not standard: unsynchronized (warning)");
    ev = sample_leave();
    ev.detail = "";
    alarm_format_text(&ev, buf, sizeof(buf));
    assert_string_equal(buf, "cam-17 (127.1.0.17) standard again: offset +0.000213 s");

    /* Truncated like snprintf. */
    ev = sample_enter();
    char small[8];
    size_t n = alarm_format_text(&ev, small, sizeof(small));
    assert_true(n > sizeof(small));
    assert_string_equal(small, "cam-17 ");
}

static void test_format_json(void **state)
{
    (void)state;
    struct alarm_event ev = sample_enter();
    ev.device = "cam \"17\"\n";
    char *text = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&text, &len);
    assert_non_null(m);
    assert_int_equal(alarm_format_json(&ev, m), 0);
    fclose(m);
    assert_true(len > 0 && text[len - 1] == '\n');
    assert_null(memchr(text, '\n', len - 1)); /* one line */
    struct jdoc d;
    j_parse(&d, text);
    assert_string_equal(j_get(&d, "schema_version"), "1");
    assert_string_equal(j_get(&d, "time"), "\"2026-12-07T01:02:03.456Z\"");
    assert_string_equal(j_get(&d, "time_unix_ms"), "1796605323456");
    assert_string_equal(j_get(&d, "kind"), "\"enter\"");
    assert_string_equal(j_get(&d, "severity"), "\"critical\"");
    assert_string_equal(j_get(&d, "device"), "\"cam \\\"17\\\"\\n\"");
    assert_string_equal(j_get(&d, "host"), "\"127.1.0.17\"");
    assert_string_equal(j_get(&d, "group"), "\"lobby\"");
    assert_string_equal(j_get(&d, "status"), "\"offset\"");
    assert_string_equal(j_get(&d, "offset"), "0.412317000");
    assert_string_equal(j_get(&d, "threshold_warn"), "0.100000000");
    assert_string_equal(j_get(&d, "threshold_crit"), "0.400000000");
    assert_string_equal(j_get(&d, "detail"), "\"offset +0.412317 s beyond 0.400 s\"");
    assert_string_equal(j_get(&d, "sweep_id"), "42");
    assert_int_equal(d.n, 14);
    free(text);

    ev.offset = NAN;
    text = NULL;
    m = open_memstream(&text, &len);
    assert_non_null(m);
    assert_int_equal(alarm_format_json(&ev, m), 0);
    fclose(m);
    j_parse(&d, text);
    assert_string_equal(j_get(&d, "offset"), "null");
    free(text);
}

/* ---- configuration --------------------------------------------------------------- */

static void expect_refused(const char *remote, const char *words)
{
    struct alarm_config c = config_with(remote, "");
    char err[256] = "untouched";
    struct alarm *a = alarm_open(&c, err, sizeof(err));
    if (a != NULL) {
        alarm_close(a);
        fail_msg("remote '%s' was accepted", remote);
    }
    if (strstr(err, words) == NULL) {
        fail_msg("remote '%s': message '%s' lacks '%s'", remote, err, words);
    }
}

static void test_open_bad_remote(void **state)
{
    (void)state;
    expect_refused("ftp://x", "scheme must be udp:// or tcp://");
    expect_refused("udp:/x:514", "scheme");
    expect_refused("udp://", "no host");
    expect_refused("udp://:514", "no host");
    expect_refused("udp://host", "no port");
    expect_refused("udp://host:", "no port");
    expect_refused("tcp://[::1]", "no port");
    expect_refused("tcp://[::1:514", "no ']'");
    expect_refused("udp://::1:514", "needs brackets");
    expect_refused("udp://127.0.0.1:0", "port '0' is not a number in 1 .. 65535");
    expect_refused("udp://127.0.0.1:70000", "port '70000'");
    expect_refused("udp://127.0.0.1:514/x", "port '514/x'");
    expect_refused("udp://127.0.0.1:-5", "port '-5'");
    expect_refused("udp://no-such-host.invalid:514", "cannot resolve 'no-such-host.invalid'");

    struct alarm_config c = config_with("", "");
    char err[256];
    c.facility = 24;
    assert_null(alarm_open(&c, err, sizeof(err)));
    assert_non_null(strstr(err, "facility 24"));
    c = config_with("", "");
    c.hook_timeout_ms = -1;
    assert_null(alarm_open(&c, err, sizeof(err)));
    assert_non_null(strstr(err, "negative"));

    /* Accepted: upper-case scheme, bracketed IPv6, the largest port; nothing configured. */
    const char *good[] = {"UDP://127.0.0.1:65535", "tcp://[::1]:514", "tcp://localhost:1", ""};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        c = config_with(good[i], "");
        struct alarm *a = alarm_open(&c, err, sizeof(err));
        if (a == NULL && strstr(good[i], "::1") != NULL) {
            continue; /* no IPv6 on this host */
        }
        if (a == NULL) {
            fail_msg("remote '%s' refused: %s", good[i], err);
        }
        alarm_close(a);
    }
    alarm_close(NULL);
}

static void test_local_syslog(void **state)
{
    (void)state;
    /* No /dev/log here: syslog(3) drops the line, which is not an error. */
    struct alarm_config c = config_with("", "");
    c.syslog_local = true;
    struct alarm *a = open_ok(&c);
    struct alarm_event ev = sample_enter();
    char err[256];
    assert_int_equal(alarm_send(a, &ev, err, sizeof(err)), 0);
    assert_string_equal(err, "");
    alarm_close(a);
}

/* ---- remote: UDP ----------------------------------------------------------------- */

static void test_udp(void **state)
{
    (void)state;
    uint16_t port;
    int rx = bound_socket(SOCK_DGRAM, &port);
    char remote[64];
    snprintf(remote, sizeof(remote), "udp://127.0.0.1:%u", port);
    struct alarm_config c = config_with(remote, "");
    struct alarm *a = open_ok(&c);
    char err[256];

    struct alarm_event ev = sample_enter();
    assert_int_equal(alarm_send(a, &ev, err, sizeof(err)), 0);
    ev = sample_leave();
    assert_int_equal(alarm_send(a, &ev, err, sizeof(err)), 0);

    char buf[4096], want[1024];
    const char *msgid[] = {"enter", "leave"};
    const char *pri[] = {"<26>", "<29>"};
    for (int i = 0; i < 2; i++) {
        assert_true(readable(rx, 2000));
        ssize_t n = recv(rx, buf, sizeof(buf) - 1, 0);
        assert_true(n > 0);
        buf[n] = '\0';
        /* Header: PRI VERSION TIMESTAMP HOSTNAME APP-NAME PROCID MSGID */
        char f[7][300];
        assert_int_equal(
            sscanf(buf, "%299s %299s %299s %299s %299s %299s", f[0], f[1], f[2], f[3], f[4], f[5]),
            6);
        assert_prefix(f[0], pri[i]);
        assert_string_equal(f[0] + 4, "1");
        assert_string_equal(f[2], "mon1.example");
        assert_string_equal(f[3], "stratum-monitor");
        assert_int_equal(atoi(f[4]), (int)getpid());
        assert_string_equal(f[5], msgid[i]);
        assert_non_null(strstr(buf, " [stratum@32473 device=\"cam-17\" host=\"127.1.0.17\" "));
        struct alarm_event e = i == 0 ? sample_enter() : sample_leave();
        assert_int_equal(
            alarm_format_5424(&e, "mon1.example", 3, (int)getpid(), want, sizeof(want)), (size_t)n);
        assert_string_equal(buf, want);
    }
    assert_false(readable(rx, 50)); /* one datagram per event */
    alarm_close(a);
    close(rx);
}

static void test_udp_refused(void **state)
{
    (void)state;
    uint16_t port;
    int rx = bound_socket(SOCK_DGRAM, &port);
    close(rx); /* nothing listens there now */
    char remote[64];
    snprintf(remote, sizeof(remote), "udp://127.0.0.1:%u", port);
    struct alarm_config c = config_with(remote, "");
    struct alarm *a = open_ok(&c);
    struct alarm_event ev = sample_enter();
    char err[256];
    assert_int_equal(alarm_send(a, &ev, err, sizeof(err)), 0);
    usleep(50000); /* the ICMP port unreachable comes back */
    assert_int_equal(alarm_send(a, &ev, err, sizeof(err)), -1);
    assert_non_null(strstr(err, remote));
    assert_non_null(strstr(err, "refused"));
    alarm_close(a);
}

/* ---- remote: TCP ----------------------------------------------------------------- */

/* One RFC 6587 octet-counted frame from fd: "LEN SP MSG". Returns MSG's length. */
static size_t read_frame(int fd, char *buf, size_t cap)
{
    char len_text[16];
    size_t k = 0;
    for (;;) {
        assert_true(readable(fd, 2000));
        char ch;
        assert_int_equal(recv(fd, &ch, 1, 0), 1);
        if (ch == ' ') {
            break;
        }
        assert_true(ch >= '0' && ch <= '9');
        assert_true(k > 0 || ch != '0'); /* MSG-LEN = NONZERO-DIGIT *DIGIT */
        assert_true(k + 1 < sizeof(len_text));
        len_text[k++] = ch;
    }
    len_text[k] = '\0';
    size_t len = (size_t)strtoul(len_text, NULL, 10);
    assert_true(len > 0 && len < cap);
    size_t got = 0;
    while (got < len) {
        assert_true(readable(fd, 2000));
        ssize_t n = recv(fd, buf + got, len - got, 0);
        assert_true(n > 0);
        got += (size_t)n;
    }
    buf[len] = '\0';
    return len;
}

static int accept_within(int lfd, int timeout_ms)
{
    assert_true(readable(lfd, timeout_ms));
    int fd = accept(lfd, NULL, NULL);
    assert_true(fd >= 0);
    return fd;
}

static void test_tcp(void **state)
{
    (void)state;
    uint16_t port;
    int lfd = bound_socket(SOCK_STREAM, &port);
    assert_int_equal(listen(lfd, 4), 0);
    char remote[64];
    snprintf(remote, sizeof(remote), "tcp://127.0.0.1:%u", port);
    struct alarm_config c = config_with(remote, "");
    struct alarm *a = open_ok(&c);
    assert_false(readable(lfd, 0)); /* no connection before the first event */

    char err[256], buf[4096], want[1024];
    struct alarm_event ev1 = sample_enter();
    struct alarm_event ev2 = sample_leave();
    assert_int_equal(alarm_send(a, &ev1, err, sizeof(err)), 0);
    assert_int_equal(alarm_send(a, &ev2, err, sizeof(err)), 0);
    int cfd = accept_within(lfd, 2000);
    /* Two frames back to back on one connection. */
    size_t n = read_frame(cfd, buf, sizeof(buf));
    assert_int_equal(n,
                     alarm_format_5424(&ev1, "mon1.example", 3, (int)getpid(), want, sizeof(want)));
    assert_string_equal(buf, want);
    n = read_frame(cfd, buf, sizeof(buf));
    alarm_format_5424(&ev2, "mon1.example", 3, (int)getpid(), want, sizeof(want));
    assert_string_equal(buf, want);
    assert_false(readable(lfd, 50)); /* still one connection */

    /* The collector drops the connection: the next event reconnects. */
    close(cfd);
    usleep(20000);
    ev1.sweep_id = 44;
    assert_int_equal(alarm_send(a, &ev1, err, sizeof(err)), 0);
    cfd = accept_within(lfd, 2000);
    read_frame(cfd, buf, sizeof(buf));
    assert_non_null(strstr(buf, " sweep=\"44\"] "));

    /* Dropped with a reset this time. */
    struct linger lg = {.l_onoff = 1, .l_linger = 0};
    assert_int_equal(setsockopt(cfd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg)), 0);
    close(cfd);
    usleep(20000);
    ev1.sweep_id = 45;
    assert_int_equal(alarm_send(a, &ev1, err, sizeof(err)), 0);
    cfd = accept_within(lfd, 2000);
    read_frame(cfd, buf, sizeof(buf));
    assert_non_null(strstr(buf, " sweep=\"45\"] "));

    /* The collector is gone: a clear error, quickly, and the next event tries again. */
    close(cfd);
    close(lfd);
    usleep(20000);
    int64_t t0 = now_ms();
    assert_int_equal(alarm_send(a, &ev1, err, sizeof(err)), -1);
    assert_true(now_ms() - t0 < 1000);
    char want_err[128];
    snprintf(want_err, sizeof(want_err), "remote %s: connect: Connection refused", remote);
    assert_string_equal(err, want_err);
    assert_int_equal(alarm_send(a, &ev1, err, sizeof(err)), -1);
    assert_string_equal(err, want_err);
    alarm_close(a);
}

/* ---- hook ------------------------------------------------------------------------ */

static struct alarm *hook_alarm(const char *cmd, int timeout_ms)
{
    struct alarm_config c = config_with("", cmd);
    if (timeout_ms > 0) {
        c.hook_timeout_ms = timeout_ms;
    }
    return open_ok(&c);
}

static void test_hook_stdin(void **state)
{
    (void)state;
    char out[128], env_out[128], cmd[512];
    tmp_path(out, sizeof(out), "event.json");
    tmp_path(env_out, sizeof(env_out), "env.txt");
    snprintf(cmd, sizeof(cmd),
             "cat > '%s' && printf '%%s|%%s|%%s|%%s|%%s' \"$STRATUM_EVENT\" \"$STRATUM_DEVICE\" "
             "\"$STRATUM_SEVERITY\" \"$STRATUM_HOST\" \"$STRATUM_STATUS\" > '%s'",
             out, env_out);
    /* An inherited STRATUM_EVENT is replaced, not duplicated. */
    assert_int_equal(setenv("STRATUM_EVENT", "stale", 1), 0);
    struct alarm *a = hook_alarm(cmd, 0);
    unsetenv("STRATUM_EVENT");
    struct alarm_event ev = sample_enter();
    char err[256];
    assert_int_equal(alarm_send(a, &ev, err, sizeof(err)), 0);
    assert_string_equal(err, "");

    char text[4096];
    assert_true(slurp(out, text, sizeof(text)) > 0);
    struct jdoc d;
    j_parse(&d, text);
    assert_string_equal(j_get(&d, "schema_version"), "1");
    assert_string_equal(j_get(&d, "kind"), "\"enter\"");
    assert_string_equal(j_get(&d, "device"), "\"cam-17\"");
    assert_string_equal(j_get(&d, "offset"), "0.412317000");
    assert_string_equal(j_get(&d, "sweep_id"), "42");
    assert_string_equal(j_get(&d, "time_unix_ms"), "1796605323456");
    assert_true(slurp(env_out, text, sizeof(text)) > 0);
    assert_string_equal(text, "enter|cam-17|critical|127.1.0.17|offset");

    ev = sample_leave();
    assert_int_equal(alarm_send(a, &ev, err, sizeof(err)), 0);
    assert_true(slurp(env_out, text, sizeof(text)) > 0);
    assert_string_equal(text, "leave|cam-17|ok|127.1.0.17|ok");
    alarm_close(a);
}

static void test_hook_status(void **state)
{
    (void)state;
    struct alarm *a = hook_alarm("exit 3", 0);
    struct alarm_event ev = sample_enter();
    char err[256];
    assert_int_equal(alarm_send(a, &ev, err, sizeof(err)), -1);
    assert_string_equal(err, "hook exited with status 3");
    alarm_close(a);

    a = hook_alarm("kill -TERM $$", 0);
    assert_int_equal(alarm_send(a, &ev, err, sizeof(err)), -1);
    assert_string_equal(err, "hook killed by signal 15");
    alarm_close(a);

    a = hook_alarm("/nonexistent/hook", 0);
    assert_int_equal(alarm_send(a, &ev, err, sizeof(err)), -1);
    assert_string_equal(err, "hook exited with status 127");
    alarm_close(a);
}

static void test_hook_timeout(void **state)
{
    (void)state;
    struct alarm *a = hook_alarm("sleep 5", 200);
    struct alarm_event ev = sample_enter();
    char err[256];
    int64_t t0 = now_ms();
    assert_int_equal(alarm_send(a, &ev, err, sizeof(err)), -1);
    int64_t took = now_ms() - t0;
    assert_in_range(took, 190, 1000);
    assert_string_equal(err, "hook timed out after 200 ms (killed)");
    alarm_close(a);
}

/* The whole process group dies: a background child of the hook too. The orphan is
 * re-parented to us (a subreaper), so we can see how it ended. */
static void test_hook_timeout_group(void **state)
{
    (void)state;
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0), 0);
    char pidfile[128], cmd[256];
    tmp_path(pidfile, sizeof(pidfile), "bg.pid");
    snprintf(cmd, sizeof(cmd), "sleep 30 & echo $! > '%s'; wait", pidfile);
    struct alarm *a = hook_alarm(cmd, 300);
    struct alarm_event ev = sample_enter();
    char err[256];
    assert_int_equal(alarm_send(a, &ev, err, sizeof(err)), -1);
    assert_string_equal(err, "hook timed out after 300 ms (killed)");
    alarm_close(a);

    char text[32];
    assert_true(slurp(pidfile, text, sizeof(text)) > 0);
    pid_t bg = (pid_t)atoi(text);
    assert_true(bg > 0);
    int status = 0;
    pid_t w = 0;
    for (int i = 0; i < 200 && w == 0; i++) {
        w = waitpid(bg, &status, WNOHANG);
        if (w == 0) {
            usleep(10000);
        }
    }
    if (w == 0) {
        kill(bg, SIGKILL);
        waitpid(bg, &status, 0);
        fail_msg("the hook's background child survived");
    }
    assert_int_equal(w, bg);
    assert_true(WIFSIGNALED(status));
    assert_int_equal(WTERMSIG(status), SIGKILL);
    assert_int_equal(prctl(PR_SET_CHILD_SUBREAPER, 0, 0, 0, 0), 0);
}

/* A hook that does not read a large event: the write fails with EPIPE and SIGPIPE (its
 * default would end this process) is not delivered. */
static void test_hook_ignores_stdin(void **state)
{
    (void)state;
    struct sigaction old, dfl;
    memset(&dfl, 0, sizeof(dfl));
    dfl.sa_handler = SIG_DFL;
    sigaction(SIGPIPE, &dfl, &old);

    size_t big = 300000;
    char *detail = malloc(big + 1);
    assert_non_null(detail);
    memset(detail, 'x', big);
    detail[big] = '\0';
    struct alarm *a = hook_alarm("exec 0<&-; exit 0", 0);
    struct alarm_event ev = sample_enter();
    ev.detail = detail;
    char err[256];
    assert_int_equal(alarm_send(a, &ev, err, sizeof(err)), 0);
    alarm_close(a);
    free(detail);

    sigset_t pending;
    sigpending(&pending);
    assert_false(sigismember(&pending, SIGPIPE));
    sigaction(SIGPIPE, &old, NULL);
}

/* Every sink is tried and every failure reported, in order. */
static void test_all_failures_reported(void **state)
{
    (void)state;
    uint16_t port;
    int lfd = bound_socket(SOCK_STREAM, &port);
    close(lfd); /* refused */
    char remote[64];
    snprintf(remote, sizeof(remote), "tcp://127.0.0.1:%u", port);
    char out[128], cmd[256];
    tmp_path(out, sizeof(out), "ran");
    snprintf(cmd, sizeof(cmd), "touch '%s'; exit 4", out);
    struct alarm_config c = config_with(remote, cmd);
    c.syslog_local = true;
    struct alarm *a = open_ok(&c);
    struct alarm_event ev = sample_enter();
    char err[512], want[512];
    assert_int_equal(alarm_send(a, &ev, err, sizeof(err)), -1);
    snprintf(want, sizeof(want),
             "remote %s: connect: Connection refused; hook exited with status 4", remote);
    assert_string_equal(err, want);
    struct stat st;
    assert_int_equal(stat(out, &st), 0);

    /* A short err is cut, never overrun. */
    char small[12];
    assert_int_equal(alarm_send(a, &ev, small, sizeof(small)), -1);
    assert_int_equal(strlen(small), sizeof(small) - 1);
    assert_int_equal(alarm_send(a, &ev, NULL, 0), -1);
    alarm_close(a);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_enter_exact),
        cmocka_unit_test(test_format_leave_exact),
        cmocka_unit_test(test_format_unmeasured),
        cmocka_unit_test(test_format_escaping),
        cmocka_unit_test(test_format_header_fields),
        cmocka_unit_test(test_format_too_small),
        cmocka_unit_test(test_format_text),
        cmocka_unit_test(test_format_json),
        cmocka_unit_test(test_open_bad_remote),
        cmocka_unit_test(test_local_syslog),
        cmocka_unit_test(test_udp),
        cmocka_unit_test(test_udp_refused),
        cmocka_unit_test(test_tcp),
        cmocka_unit_test_setup_teardown(test_hook_stdin, setup, teardown),
        cmocka_unit_test(test_hook_status),
        cmocka_unit_test(test_hook_timeout),
        cmocka_unit_test_setup_teardown(test_hook_timeout_group, setup, teardown),
        cmocka_unit_test(test_hook_ignores_stdin),
        cmocka_unit_test_setup_teardown(test_all_failures_reported, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
