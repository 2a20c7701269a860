/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * test_win: the Windows seams under wine, with a tiny assert-style harness (cmocka has no
 * mingw build here): plat_win (Winsock UDP against an in-process 127.0.0.1 server, poll,
 * refused, monotonic time, time conversion), the JSON writer's exact output, FILETIME
 * conversion, MD5 through CNG against known vectors, BCryptGenRandom, and the Windows
 * clock backend's step and slew logic against MOCKED Windows calls: nothing here may
 * reach SetSystemTime or SetSystemTimeAdjustment, since wine maps them to the host clock.
 * Prints TAP; exits 1 when a check failed.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock/clock.h"
#include "clock/clock_win.h"
#include "clock/rtc.h"
#include "core/crypto.h"
#include "core/ntp_time.h"
#include "io/json.h"
#include "io/plat.h"
#include "io/rng.h"

#include <windows.h>

static int n_tests, n_failed, cur_failed;

/* A failed check reports where and goes on; the test it belongs to fails. */
#define CHECK(cond)                                                                          \
    do {                                                                                     \
        if (!(cond)) {                                                                       \
            printf("#   %s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);              \
            cur_failed++;                                                                    \
        }                                                                                    \
    } while (0)

static void run(const char *name, void (*fn)(void))
{
    cur_failed = 0;
    fn();
    n_tests++;
    if (cur_failed > 0) {
        n_failed++;
    }
    printf("%s %d - %s\n", cur_failed == 0 ? "ok" : "not ok", n_tests, name);
    fflush(stdout);
}

/* ---- crypto, rng ------------------------------------------------------------------------ */

static void hex(const uint8_t *d, size_t n, char *out)
{
    for (size_t i = 0; i < n; i++) {
        snprintf(out + 2 * i, 3, "%02x", d[i]);
    }
}

static void test_md5_cng(void)
{
    /* Vectors computed with `printf ... | openssl md5` on Linux. */
    static const struct {
        const char *in;
        const char *md5;
    } v[] = {
        { "", "d41d8cd98f00b204e9800998ecf8427e" },
        { "abc", "900150983cd24fb0d6963f7d28e17f72" },
        { "The quick brown fox jumps over the lazy dog", "9e107d9d372bb6826bd81d3542a419d6" },
    };
    uint8_t d[16];
    char h[33];
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        CHECK(crypto_md5(v[i].in, strlen(v[i].in), d) == 0);
        hex(d, 16, h);
        CHECK(strcmp(h, v[i].md5) == 0);
    }
    size_t big = 1000000;
    char *a = malloc(big);
    CHECK(a != NULL);
    if (a != NULL) {
        memset(a, 'a', big);
        CHECK(crypto_md5(a, big, d) == 0);
        hex(d, 16, h);
        CHECK(strcmp(h, "7707d6ae4e027c70eea2a935c2296f21") == 0);
        free(a);
    }
    CHECK(crypto_md5(NULL, 0, d) == 0);
    CHECK(crypto_md5(NULL, 1, d) == -1);
    /* The core's use: the IPv6 refid of ::1 (MD5 cf404dc8...). */
    static const uint8_t lo6[16] = { [15] = 1 };
    CHECK(ntp_refid_ipv6(lo6) == 0xcf404dc8u);
}

static void test_rng(void)
{
    uint8_t a[32], b[32], zero[32] = { 0 };
    CHECK(rng_bytes(a, sizeof(a)) == 0);
    CHECK(rng_bytes(b, sizeof(b)) == 0);
    CHECK(memcmp(a, zero, sizeof(a)) != 0);
    CHECK(memcmp(a, b, sizeof(a)) != 0);
    CHECK(rng_bytes(a, 0) == 0);
    struct rng_fast r;
    CHECK(rng_fast_seed(&r) == 0);
    uint64_t x = rng_fast_u64(&r), y = rng_fast_u64(&r);
    CHECK(x != y);
    CHECK((x | y) != 0);
}

/* ---- json ------------------------------------------------------------------------------- */

static void json_to_string(bool pretty, char *out, size_t cap)
{
    FILE *f = tmpfile();
    CHECK(f != NULL);
    if (f == NULL) {
        out[0] = '\0';
        return;
    }
    struct json j;
    json_init(&j, f, pretty);
    json_object_begin(&j);
    json_key(&j, "schema_version");
    json_int(&j, 1);
    json_key(&j, "s");
    json_string(&j, "a\"b\\c\n\t\x01");
    json_key(&j, "offset");
    json_fixed(&j, -0.000123456, 9);
    json_key(&j, "d");
    json_double(&j, 0.125);
    json_key(&j, "big");
    json_int(&j, INT64_C(-9007199254740993));
    json_key(&j, "nan");
    json_double(&j, NAN);
    json_key(&j, "list");
    json_array_begin(&j);
    json_bool(&j, true);
    json_null(&j);
    json_object_begin(&j);
    json_object_end(&j);
    json_array_end(&j);
    json_object_end(&j);
    json_finish(&j);
    rewind(f);
    size_t n = fread(out, 1, cap - 1, f);
    out[n] = '\0';
    fclose(f);
}

static void test_json_writer(void)
{
    char buf[1024];
    json_to_string(false, buf, sizeof(buf));
    CHECK(strcmp(buf, "{\"schema_version\":1,\"s\":\"a\\\"b\\\\c\\n\\t\\u0001\","
                      "\"offset\":-0.000123456,\"d\":0.125,\"big\":-9007199254740993,"
                      "\"nan\":null,\"list\":[true,null,{}]}\n") == 0);
    if (cur_failed) {
        printf("#   got: %s", buf);
    }
    json_to_string(true, buf, sizeof(buf));
    CHECK(strstr(buf, "{\n  \"schema_version\": 1,\n  \"s\": ") == buf);
    CHECK(strstr(buf, "\"list\": [\n    true,\n    null,\n    {}\n  ]\n}\n") != NULL);
}

/* ---- plat_win --------------------------------------------------------------------------- */

/* A UDP server socket on the loopback address of family fam; port in *port. */
static SOCKET server_socket(int fam, struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof(*ss));
    if (fam == AF_INET) {
        struct sockaddr_in *a = (struct sockaddr_in *)ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        *len = sizeof(*a);
    } else {
        struct sockaddr_in6 *a = (struct sockaddr_in6 *)ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        *len = sizeof(*a);
    }
    SOCKET s = socket(fam, SOCK_DGRAM, IPPROTO_UDP);
    if (s == INVALID_SOCKET) {
        return s;
    }
    if (bind(s, (struct sockaddr *)ss, *len) != 0 ||
        getsockname(s, (struct sockaddr *)ss, len) != 0) {
        closesocket(s);
        return INVALID_SOCKET;
    }
    return s;
}

static int local_port(plat_sock s)
{
    struct sockaddr_storage ss;
    socklen_t len = sizeof(ss);
    if (getsockname(s, (struct sockaddr *)&ss, &len) != 0) {
        return -1;
    }
    return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
                                         : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

static void echo_round_trip(int fam)
{
    struct sockaddr_storage ss;
    socklen_t len;
    char err[200];
    SOCKET srv = server_socket(fam, &ss, &len);
    CHECK(srv != INVALID_SOCKET);
    if (srv == INVALID_SOCKET) {
        return;
    }
    plat_sock c = plat_udp_client((struct sockaddr *)&ss, len, err, sizeof(err));
    CHECK(c != PLAT_NO_SOCK);
    if (c == PLAT_NO_SOCK) {
        printf("#   %s\n", err);
        closesocket(srv);
        return;
    }
    int lp = local_port(c);
    CHECK(lp > 0);      /* connect() made the system pick an ephemeral port */

    /* Non-blocking: nothing to read yet. */
    uint8_t buf[64];
    size_t n = 0;
    bool trunc = true, have_ts = true;
    struct timespec ts;
    CHECK(plat_recv(c, buf, sizeof(buf), &n, &trunc, &have_ts, &ts) == PLAT_RECV_AGAIN);

    CHECK(plat_send(c, "ping", 4) == 0);
    struct sockaddr_storage from;
    int flen = sizeof(from);
    char in[16];
    bool ready = false;
    plat_sock ssock = srv;
    CHECK(plat_poll(&ssock, 1, 2000, &ready) == 1 && ready);
    int got = recvfrom(srv, in, sizeof(in), 0, (struct sockaddr *)&from, &flen);
    CHECK(got == 4 && memcmp(in, "ping", 4) == 0);
    CHECK(sendto(srv, "pong!", 5, 0, (struct sockaddr *)&from, flen) == 5);

    ready = false;
    CHECK(plat_poll(&c, 1, 2000, &ready) == 1 && ready);
    CHECK(plat_recv(c, buf, sizeof(buf), &n, &trunc, &have_ts, &ts) == PLAT_RECV_OK);
    CHECK(n == 5 && memcmp(buf, "pong!", 5) == 0);
    CHECK(!trunc);
    CHECK(!have_ts);

    /* A datagram larger than the buffer: cut, and said so. */
    CHECK(sendto(srv, "0123456789", 10, 0, (struct sockaddr *)&from, flen) == 10);
    CHECK(plat_poll(&c, 1, 2000, &ready) == 1 && ready);
    CHECK(plat_recv(c, buf, 4, &n, &trunc, &have_ts, &ts) == PLAT_RECV_OK);
    CHECK(n == 4 && trunc && memcmp(buf, "0123", 4) == 0);

    /* Nothing listens any more: the ICMP port unreachable makes recv report "refused"
     * (WSAECONNRESET on Windows), or the answer never comes. */
    closesocket(srv);
    CHECK(plat_send(c, "ping", 4) == 0);
    int r = plat_poll(&c, 1, 1000, &ready);
    if (r == 1) {
        enum plat_recv_status st = plat_recv(c, buf, sizeof(buf), &n, &trunc, &have_ts, &ts);
        CHECK(st == PLAT_RECV_REFUSED);
        if (st != PLAT_RECV_REFUSED) {
            printf("#   recv status %d: %s\n", (int)st, plat_error_text());
        }
    } else {
        /* wine: WSAPoll does not report a UDP socket's pending error; recv does. */
        printf("#   (WSAPoll reported no ICMP error within 1 s)\n");
        CHECK(r == 0);
    }
    /* Without polling: the error is there for the next recv. */
    CHECK(plat_send(c, "ping", 4) == 0);
    Sleep(200);
    CHECK(plat_recv(c, buf, sizeof(buf), &n, &trunc, &have_ts, &ts) == PLAT_RECV_REFUSED);
    plat_close(c);
}

static void test_plat_udp_ipv4(void)
{
    echo_round_trip(AF_INET);
}

static void test_plat_udp_ipv6(void)
{
    SOCKET s = socket(AF_INET6, SOCK_DGRAM, IPPROTO_UDP);
    if (s == INVALID_SOCKET) {
        printf("# no IPv6 here: skipped\n");
        return;
    }
    closesocket(s);
    echo_round_trip(AF_INET6);
}

static void test_plat_errors(void)
{
    struct sockaddr_in a;
    char err[200] = "";
    memset(&a, 0, sizeof(a));
    a.sin_family = AF_INET;     /* port 0: connect fails */
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    plat_sock c = plat_udp_client((struct sockaddr *)&a, sizeof(a), err, sizeof(err));
    if (c != PLAT_NO_SOCK) {
        plat_close(c);  /* some stacks accept port 0; the text check below still runs */
    } else {
        CHECK(strncmp(err, "connect: ", 9) == 0);
    }
    WSASetLastError(WSAECONNREFUSED);
    const char *t = plat_error_text();
    CHECK(t != NULL && strlen(t) > 0);
    CHECK(strstr(t, "10061") != NULL);
    WSASetLastError(WSAEACCES);
    CHECK(plat_error_is_permission());
    WSASetLastError(WSAEWOULDBLOCK);
    CHECK(!plat_error_is_permission());
    plat_close(PLAT_NO_SOCK);   /* harmless */
}

static void test_plat_time(void)
{
    int64_t a = plat_mono_ns();
    plat_poll(NULL, 0, 50, NULL);       /* the callers' sleep */
    int64_t b = plat_mono_ns();
    CHECK(b - a >= 40000000);
    CHECK(b - a < 2000000000);
    int64_t prev = plat_mono_ns();
    for (int i = 0; i < 1000; i++) {
        int64_t now = plat_mono_ns();
        CHECK(now >= prev);
        prev = now;
    }
    struct tm tm;
    CHECK(plat_gmtime(0, &tm) == 0);
    CHECK(tm.tm_year == 70 && tm.tm_mon == 0 && tm.tm_mday == 1 && tm.tm_hour == 0);
    CHECK(plat_gmtime(INT64_C(1704067199), &tm) == 0);
    CHECK(tm.tm_year == 123 && tm.tm_mon == 11 && tm.tm_mday == 31 && tm.tm_hour == 23 &&
          tm.tm_min == 59 && tm.tm_sec == 59);
    /* Past 2038 (64-bit time) and the NTP era boundary of 2036. */
    CHECK(plat_gmtime(INT64_C(4102444800), &tm) == 0);
    CHECK(tm.tm_year == 200 && tm.tm_mon == 0 && tm.tm_mday == 1);
    CHECK(plat_localtime(INT64_C(1704067200), &tm) == 0);
    CHECK(tm.tm_year == 123 || tm.tm_year == 124);
    (void)plat_stdout_is_tty();
}

/* ---- clock ------------------------------------------------------------------------------ */

static void test_filetime(void)
{
    struct timespec ts;
    clk_win_ft_to_timespec(CLK_WIN_UNIX_EPOCH_FT, &ts);
    CHECK(ts.tv_sec == 0 && ts.tv_nsec == 0);
    clk_win_ft_to_timespec(CLK_WIN_UNIX_EPOCH_FT + 1, &ts);
    CHECK(ts.tv_sec == 0 && ts.tv_nsec == 100);
    clk_win_ft_to_timespec(CLK_WIN_UNIX_EPOCH_FT - 1, &ts);
    CHECK(ts.tv_sec == -1 && ts.tv_nsec == 999999900);
    /* 2024-01-01T00:00:00.1234567Z */
    clk_win_ft_to_timespec(CLK_WIN_UNIX_EPOCH_FT + UINT64_C(17040672001234567), &ts);
    CHECK((int64_t)ts.tv_sec == INT64_C(1704067200) && ts.tv_nsec == 123456700);
    /* 2040 (beyond 2038 and the 2036 NTP era boundary) */
    clk_win_ft_to_timespec(CLK_WIN_UNIX_EPOCH_FT + UINT64_C(22089888000000000), &ts);
    CHECK((int64_t)ts.tv_sec == INT64_C(2208988800) && ts.tv_nsec == 0);
    /* The 1601 epoch itself. */
    clk_win_ft_to_timespec(0, &ts);
    CHECK((int64_t)ts.tv_sec == INT64_C(-11644473600) && ts.tv_nsec == 0);

    /* The real clock: GetSystemTimePreciseAsFileTime agrees with the CRT's time(). */
    char err[200];
    struct clk *c = clk_open(CLK_SYSTEM, NULL, err, sizeof(err));
    CHECK(c != NULL);
    if (c != NULL) {
        struct timespec now;
        time_t t0 = time(NULL);
        clk_now(c, &now);
        CHECK(llabs((long long)now.tv_sec - (long long)t0) <= 2);
        CHECK(now.tv_nsec >= 0 && now.tv_nsec < 1000000000);
        CHECK(strcmp(clk_name(c), "system") == 0);
        int8_t p = clk_measure_precision(c);
        CHECK(p <= -7 && p >= -30);
        clk_close(c);
    }
}

/* Mocked Windows calls: a virtual clock and a record of what would have been set. */
static struct {
    uint64_t ft;                /* now, FILETIME */
    int64_t mono;               /* virtual monotonic ns */
    int priv_rc;                /* what enable_privilege returns */
    int priv_on, priv_off;
    int n_set_time;
    uint64_t set_time;
    bool set_time_ok;
    uint64_t adj, incr;
    bool disabled, precise;
    int n_set_adjust;
    uint64_t set_adj[8];
    bool set_dis[8];
    int n_get;
    int foreign_after;          /* get_adjust calls after which someone else owns it */
    int n_wait;
    int interrupt_at;           /* wait number that acts as Ctrl-C */
    int64_t waited_ns;
} m;

static uint64_t mock_now_ft(void)
{
    return m.ft + (uint64_t)(m.mono / 100);
}

static int mock_enable_privilege(char *err, size_t errlen)
{
    m.priv_on++;
    if (m.priv_rc != 0) {
        snprintf(err, errlen, "mock: no SeSystemtimePrivilege");
    }
    return m.priv_rc;
}

static void mock_disable_privilege(void)
{
    m.priv_off++;
}

static bool mock_set_time_ft(uint64_t ft)
{
    m.n_set_time++;
    m.set_time = ft;
    if (!m.set_time_ok) {
        SetLastError(ERROR_PRIVILEGE_NOT_HELD);
    }
    return m.set_time_ok;
}

static bool mock_get_adjust(uint64_t *adj, uint64_t *incr, bool *disabled, bool *precise,
                            uint64_t *max_adj)
{
    m.n_get++;
    *adj = m.adj;
    *incr = m.incr;
    *disabled = m.disabled;
    *precise = m.precise;
    *max_adj = m.precise ? UINT64_MAX : UINT32_MAX;
    if (m.foreign_after > 0 && m.n_get > m.foreign_after) {
        *adj = m.incr + 3;      /* W32Time's own frequency correction */
        *disabled = false;
    }
    return true;
}

static bool mock_set_adjust(uint64_t adj, bool disabled, bool precise)
{
    CHECK(precise == m.precise);
    if (m.n_set_adjust < 8) {
        m.set_adj[m.n_set_adjust] = adj;
        m.set_dis[m.n_set_adjust] = disabled;
    }
    m.n_set_adjust++;
    m.adj = adj;
    m.disabled = disabled;
    return true;
}

static int64_t mock_mono_ns(void)
{
    m.mono += 1000;     /* every reading costs 1 us, so busy-waits end */
    return m.mono;
}

static void mock_wait_ms(uint32_t ms)
{
    m.n_wait++;
    m.waited_ns += (int64_t)ms * 1000000;
    m.mono += (int64_t)ms * 1000000;
    if (m.interrupt_at > 0 && m.n_wait == m.interrupt_at) {
        clk_win_interrupt();
    }
}

static bool mock_progress(void)
{
    return false;
}

static const struct clk_win_sys mock_sys = {
    .now_ft = mock_now_ft,
    .enable_privilege = mock_enable_privilege,
    .disable_privilege = mock_disable_privilege,
    .set_time_ft = mock_set_time_ft,
    .get_adjust = mock_get_adjust,
    .set_adjust = mock_set_adjust,
    .mono_ns = mock_mono_ns,
    .wait_ms = mock_wait_ms,
    .progress = mock_progress,
};

static struct clk *mock_clock(void)
{
    char err[200];
    memset(&m, 0, sizeof(m));
    m.ft = CLK_WIN_UNIX_EPOCH_FT + UINT64_C(17040672001234567);   /* not a whole ms */
    m.set_time_ok = true;
    m.adj = m.incr = 156250;    /* 15.625 ms per tick, the classic legacy values */
    m.disabled = true;
    clk_win_set_sys(&mock_sys);
    return clk_open(CLK_SYSTEM, NULL, err, sizeof(err));
}

static void test_clock_step_mocked(void)
{
    char err[256] = "";
    struct clk *c = mock_clock();
    CHECK(c != NULL);
    if (c == NULL) {
        clk_win_set_sys(NULL);
        return;
    }
    uint64_t before = mock_now_ft();
    CHECK(clk_step(c, 1.5, err, sizeof(err)) == 0);
    CHECK(m.n_set_time == 1);
    CHECK(m.set_time % 10000 == 0);             /* whole milliseconds */
    /* The time set is the one read plus 1.5 s, plus the < 1 ms waited for the boundary. */
    CHECK(m.set_time >= before + 15000000 && m.set_time < before + 15000000 + 10000 + 100);
    CHECK(m.priv_on == 1 && m.priv_off == 1);
    CHECK(m.n_set_adjust == 0);

    /* Backwards. */
    before = mock_now_ft();
    CHECK(clk_step(c, -2.25, err, sizeof(err)) == 0);
    CHECK(m.set_time >= before - 22500000 && m.set_time < before - 22500000 + 10000 + 100);

    /* The privilege is not held. */
    m.priv_rc = CLK_NOT_PERMITTED;
    CHECK(clk_step(c, 1.0, err, sizeof(err)) == CLK_NOT_PERMITTED);
    CHECK(m.n_set_time == 2);
    /* SetSystemTime refused although the privilege was enabled. */
    m.priv_rc = 0;
    m.set_time_ok = false;
    CHECK(clk_step(c, 1.0, err, sizeof(err)) == CLK_NOT_PERMITTED);
    CHECK(strstr(err, "SeSystemtimePrivilege") != NULL);
    CHECK(clk_step(c, NAN, err, sizeof(err)) == CLK_FAILED);
    CHECK(clk_step(c, 2e9, err, sizeof(err)) == CLK_FAILED);

    struct clk_stats st;
    clk_get_stats(c, &st);
    CHECK(st.steps == 2);
    clk_close(c);
    clk_win_set_sys(NULL);
}

static void test_clock_slew_mocked(void)
{
    char err[256] = "";
    struct clk *c = mock_clock();
    CHECK(c != NULL);
    if (c == NULL) {
        clk_win_set_sys(NULL);
        return;
    }
    /* Legacy API, automatic adjustment on: 78 units per 156250 = 499.2 ppm. */
    CHECK(clk_slew_once(c, 0.001, err, sizeof(err)) == 0);
    CHECK(m.n_set_adjust == 2);
    CHECK(m.set_adj[0] == 156250 + 78 && !m.set_dis[0]);
    CHECK(m.set_adj[1] == 156250 && m.set_dis[1]);      /* restored, automatic again */
    double want_ns = 0.001 / (78.0 / 156250.0) * 1e9;
    CHECK(fabs((double)m.waited_ns - want_ns) < 2e6);
    CHECK(m.priv_on == 1 && m.priv_off == 1);
    CHECK(m.n_set_time == 0);

    /* Slower, keeping a frequency correction W32Time had set (enabled, 156300). */
    memset(m.set_adj, 0, sizeof(m.set_adj));
    m.n_set_adjust = 0;
    m.adj = 156300;
    m.disabled = false;
    CHECK(clk_slew_once(c, -0.0005, err, sizeof(err)) == 0);
    CHECK(m.set_adj[0] == 156300 - 78 && !m.set_dis[0]);
    CHECK(m.set_adj[1] == 156300 && !m.set_dis[1]);

    /* The precise API with a fine increment: exactly 500 ppm. */
    m.n_set_adjust = 0;
    m.precise = true;
    m.adj = m.incr = 10000000;
    m.disabled = true;
    m.waited_ns = 0;
    CHECK(clk_slew_once(c, 0.002, err, sizeof(err)) == 0);
    CHECK(m.set_adj[0] == 10005000 && m.set_adj[1] == 10000000 && m.set_dis[1]);
    CHECK(fabs((double)m.waited_ns - 4e9) < 2e6);

    /* Ctrl-C on the second wait: restored once, reported as interrupted. */
    m.n_set_adjust = 0;
    m.n_wait = 0;
    m.interrupt_at = 2;
    CHECK(clk_slew_once(c, 0.01, err, sizeof(err)) == CLK_FAILED);
    CHECK(strstr(err, "interrupted") != NULL);
    CHECK(m.n_set_adjust == 2 && m.set_adj[1] == 10000000 && m.set_dis[1]);
    CHECK(m.n_wait == 2);
    m.interrupt_at = 0;

    /* W32Time takes over: stop, and leave its setting alone. */
    m.n_set_adjust = 0;
    m.n_get = 0;
    m.foreign_after = 2;
    CHECK(clk_slew_once(c, 0.01, err, sizeof(err)) == CLK_FAILED);
    CHECK(strstr(err, "W32Time") != NULL);
    CHECK(m.n_set_adjust == 1);
    m.foreign_after = 0;

    /* Not permitted; nothing set. */
    m.n_set_adjust = 0;
    m.priv_rc = CLK_NOT_PERMITTED;
    CHECK(clk_slew_once(c, 0.01, err, sizeof(err)) == CLK_NOT_PERMITTED);
    CHECK(m.n_set_adjust == 0);
    m.priv_rc = 0;
    CHECK(clk_slew_once(c, 3000.0, err, sizeof(err)) == CLK_FAILED);
    CHECK(m.n_set_adjust == 0);

    struct clk_stats st;
    clk_get_stats(c, &st);
    CHECK(st.slews == 3);
    clk_close(c);
    clk_win_set_sys(NULL);
}

static void test_slew_plan(void)
{
    struct clk_win_slew_plan p;
    CHECK(clk_win_plan_slew(0.1, 156250, 156250, true, UINT32_MAX, &p) == 0);
    CHECK(p.base_adj == 156250 && p.new_adj == 156328);
    CHECK(p.rate > 0 && p.rate <= 500e-6);
    CHECK(llabs(p.duration_ns - (int64_t)llround(0.1 / p.rate * 1e9)) <= 1);
    CHECK(clk_win_plan_slew(-0.1, 100144, 100144, true, UINT32_MAX, &p) == 0);
    CHECK(p.new_adj == 100144 - 50 && p.rate < 0 && p.rate >= -500e-6);
    /* Too coarse an increment for a 500 ppm step, or no room in a DWORD. */
    CHECK(clk_win_plan_slew(0.1, 1000, 1000, true, UINT32_MAX, &p) == -1);
    CHECK(clk_win_plan_slew(0.1, UINT32_MAX, 156250, false, UINT32_MAX, &p) == -1);
    CHECK(clk_win_plan_slew(0.1, 0, 0, true, UINT32_MAX, &p) == -1);
    CHECK(clk_win_plan_slew(NAN, 156250, 156250, true, UINT32_MAX, &p) == -1);
}

static void test_clock_sim_none(void)
{
    char err[200];
    struct clk_sim_params sp = { .start_set = true, .start_unix_sec = INT64_C(2208988800),
                                 .freq_ppm = 0 };
    struct clk *c = clk_open(CLK_SIM, &sp, err, sizeof(err));
    CHECK(c != NULL);
    if (c != NULL) {
        struct timespec a, b;
        clk_now(c, &a);
        CHECK((int64_t)a.tv_sec >= INT64_C(2208988800) &&
              (int64_t)a.tv_sec < INT64_C(2208988810));
        CHECK(clk_step(c, 10.0, err, sizeof(err)) == 0);
        CHECK(clk_slew_once(c, -0.5, err, sizeof(err)) == 0);
        clk_now(c, &b);
        double d = ntp_timespec_diff(&b, &a);
        CHECK(d > 9.4 && d < 9.7);
        clk_close(c);
    }
    c = clk_open(CLK_NONE, NULL, err, sizeof(err));
    CHECK(c != NULL);
    if (c != NULL) {
        struct timespec now;
        clk_now(c, &now);
        CHECK(llabs((long long)now.tv_sec - (long long)time(NULL)) <= 2);
        CHECK(clk_step(c, 1.0, err, sizeof(err)) == CLK_FAILED);
        CHECK(clk_slew_once(c, 1.0, err, sizeof(err)) == CLK_FAILED);
        clk_close(c);
    }
}

static void test_rtc(void)
{
    char err[200];
    struct timespec ts = { 0, 0 };
    CHECK(rtc_write(RTC_DEFAULT_DEVICE, &ts, err, sizeof(err)) == CLK_FAILED);
    CHECK(strstr(err, "not supported on Windows") != NULL);
}

int main(void)
{
    if (plat_init() != 0 || plat_init() != 0) {
        printf("Bail out! plat_init failed\n");
        return 1;
    }
    printf("TAP version 13\n");
    run("md5 via CNG: known vectors and the IPv6 refid", test_md5_cng);
    run("rng: BCryptGenRandom and the fast generator", test_rng);
    run("json writer: exact output", test_json_writer);
    run("plat: UDP round trip over 127.0.0.1, truncation, refused", test_plat_udp_ipv4);
    run("plat: UDP round trip over ::1", test_plat_udp_ipv6);
    run("plat: error text and permission errors", test_plat_errors);
    run("plat: monotonic time, sleep, gmtime/localtime", test_plat_time);
    run("clock: FILETIME conversion and the real clock's reading", test_filetime);
    run("clock: slew plan (at most 500 ppm)", test_slew_plan);
    run("clock: step with mocked Windows calls", test_clock_step_mocked);
    run("clock: slew, restore, Ctrl-C, W32Time with mocked Windows calls",
        test_clock_slew_mocked);
    run("clock: sim and none backends", test_clock_sim_none);
    run("rtc: not supported on Windows", test_rtc);
    plat_cleanup();
    printf("1..%d\n# %d passed, %d failed\n", n_tests, n_tests - n_failed, n_failed);
    return n_failed == 0 ? 0 : 1;
}
