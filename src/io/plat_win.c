/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * plat_win: the tool's platform seam on Windows: Winsock UDP client sockets (non-blocking,
 * connected, on an ephemeral port the system picks), WSAPoll, QueryPerformanceCounter,
 * FormatMessage error text, the CRT's gmtime_s/localtime_s. No kernel receive timestamps
 * (have_ts is always false): the caller reads its clock when WSAPoll returns.
 */
#include "plat.h"

#include <io.h>
#include <stdio.h>
#include <string.h>
#include <windows.h>

/* mswsock.h's SIO_UDP_CONNRESET, absent from mingw-w64's headers. */
#ifndef SIO_UDP_CONNRESET
#define SIO_UDP_CONNRESET _WSAIOW(IOC_VENDOR, 12)
#endif

static LONG started;            /* WSAStartup done (0/1) */

int plat_init(void)
{
    WSADATA wd;
    if (InterlockedCompareExchange(&started, 1, 0) != 0) {
        return 0;
    }
    if (WSAStartup(MAKEWORD(2, 2), &wd) != 0) {
        InterlockedExchange(&started, 0);
        return -1;
    }
    return 0;
}

void plat_cleanup(void)
{
    if (InterlockedCompareExchange(&started, 0, 1) == 1) {
        WSACleanup();
    }
}

/* Error text of a Winsock or Win32 error code, without the trailing newline. */
static const char *error_text(DWORD code, char *buf, size_t size)
{
    DWORD n = FormatMessageA(FORMAT_MESSAGE_FROM_SYSTEM | FORMAT_MESSAGE_IGNORE_INSERTS, NULL,
                             code, MAKELANGID(LANG_NEUTRAL, SUBLANG_DEFAULT), buf,
                             (DWORD)size, NULL);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r' || buf[n - 1] == ' ' ||
                     buf[n - 1] == '.')) {
        buf[--n] = '\0';
    }
    if (n == 0) {
        snprintf(buf, size, "error %lu", (unsigned long)code);
    } else {
        size_t len = strlen(buf);
        snprintf(buf + len, size - len, " (%lu)", (unsigned long)code);
    }
    return buf;
}

plat_sock plat_udp_client(const struct sockaddr *addr, socklen_t len, char *err, size_t errlen)
{
    char text[160];
    SOCKET s = socket(addr->sa_family, SOCK_DGRAM, IPPROTO_UDP);
    if (s == INVALID_SOCKET) {
        snprintf(err, errlen, "socket: %s", error_text((DWORD)WSAGetLastError(), text,
                                                        sizeof(text)));
        return PLAT_NO_SOCK;
    }
    /* Not inherited by child processes (the counterpart of FD_CLOEXEC). */
    (void)SetHandleInformation((HANDLE)s, HANDLE_FLAG_INHERIT, 0);
    u_long on = 1;
    if (ioctlsocket(s, FIONBIO, &on) != 0) {
        snprintf(err, errlen, "ioctlsocket(FIONBIO): %s",
                 error_text((DWORD)WSAGetLastError(), text, sizeof(text)));
        closesocket(s);
        return PLAT_NO_SOCK;
    }
    /* Keep (explicitly) the behaviour that an ICMP port unreachable fails the next recv
     * with WSAECONNRESET: that is how "nothing listens there" is told from a timeout. */
    BOOL report = TRUE;
    DWORD ret = 0;
    (void)WSAIoctl(s, SIO_UDP_CONNRESET, &report, sizeof(report), NULL, 0, &ret, NULL, NULL);
    /* connect() without bind(): the system binds a random ephemeral port (RFC 9109). */
    if (connect(s, addr, len) != 0) {
        snprintf(err, errlen, "connect: %s", error_text((DWORD)WSAGetLastError(), text,
                                                         sizeof(text)));
        closesocket(s);
        return PLAT_NO_SOCK;
    }
    return s;
}

int plat_send(plat_sock s, const void *buf, size_t len)
{
    if (len > INT32_MAX) {
        WSASetLastError(WSAEMSGSIZE);
        return -1;
    }
    int n = send(s, buf, (int)len, 0);
    return n == (int)len ? 0 : -1;
}

enum plat_recv_status plat_recv(plat_sock s, void *buf, size_t cap, size_t *len,
                                bool *truncated, bool *have_ts, struct timespec *ts)
{
    (void)ts;
    *have_ts = false;
    *truncated = false;
    int c = cap > INT32_MAX ? INT32_MAX : (int)cap;
    int n = recv(s, buf, c, 0);
    if (n == SOCKET_ERROR) {
        int e = WSAGetLastError();
        switch (e) {
        case WSAEWOULDBLOCK:
        case WSAEINTR:
            return PLAT_RECV_AGAIN;
        case WSAEMSGSIZE:
            /* The datagram did not fit: Windows fills the buffer and drops the rest. */
            *len = (size_t)c;
            *truncated = true;
            return PLAT_RECV_OK;
        case WSAECONNRESET:     /* ICMP port unreachable on a UDP socket (Windows) */
        case WSAECONNREFUSED:   /* the same, as wine reports it */
            return PLAT_RECV_REFUSED;
        default:
            return PLAT_RECV_ERROR;
        }
    }
    *len = (size_t)n;
    return PLAT_RECV_OK;
}

int plat_poll(const plat_sock *socks, size_t n, int timeout_ms, bool *ready)
{
    WSAPOLLFD pfd[256];
    if (n == 0) {
        /* The callers' portable sleep; WSAPoll rejects an empty set (WSAEINVAL). */
        Sleep(timeout_ms > 0 ? (DWORD)timeout_ms : 0);
        return 0;
    }
    if (n > sizeof(pfd) / sizeof(pfd[0])) {
        n = sizeof(pfd) / sizeof(pfd[0]);
    }
    for (size_t i = 0; i < n; i++) {
        pfd[i].fd = socks[i];
        pfd[i].events = POLLRDNORM;
        pfd[i].revents = 0;
    }
    int r = WSAPoll(pfd, (ULONG)n, timeout_ms < 0 ? -1 : timeout_ms);
    for (size_t i = 0; i < n; i++) {
        /* POLLERR/POLLHUP too: the following recv reports what happened. */
        ready[i] = r > 0 && pfd[i].revents != 0;
    }
    if (r == SOCKET_ERROR) {
        return WSAGetLastError() == WSAEINTR ? 0 : -1;
    }
    return r;
}

void plat_close(plat_sock s)
{
    if (s != PLAT_NO_SOCK) {
        closesocket(s);
    }
}

int64_t plat_mono_ns(void)
{
    static LONG64 freq;         /* counts per second; constant after boot */
    LARGE_INTEGER c;
    LONG64 f = InterlockedCompareExchange64(&freq, 0, 0);
    if (f == 0) {
        LARGE_INTEGER q;
        QueryPerformanceFrequency(&q);
        f = q.QuadPart;
        InterlockedExchange64(&freq, f);
    }
    QueryPerformanceCounter(&c);
    /* Split so that counts * 1e9 cannot overflow int64 (counts reach 2^63 / 1e9 after
     * about 100 days at 10 MHz). */
    int64_t sec = c.QuadPart / f;
    int64_t rem = c.QuadPart % f;
    return sec * 1000000000 + rem * 1000000000 / f;
}

const char *plat_error_text(void)
{
    static char buf[256];       /* the tool is single-threaded */
    return error_text((DWORD)WSAGetLastError(), buf, sizeof(buf));
}

bool plat_error_is_permission(void)
{
    int e = WSAGetLastError();
    return e == WSAEACCES || e == ERROR_ACCESS_DENIED || e == ERROR_PRIVILEGE_NOT_HELD;
}

int plat_gmtime(int64_t t, struct tm *out)
{
    __time64_t tt = (__time64_t)t;
    return _gmtime64_s(out, &tt) == 0 ? 0 : -1;
}

int plat_localtime(int64_t t, struct tm *out)
{
    __time64_t tt = (__time64_t)t;
    _tzset();
    return _localtime64_s(out, &tt) == 0 ? 0 : -1;
}

/* Appends text to f at *k (room for the NUL kept), doubling '%' so strftime copies it. */
static bool put_literal(char *f, size_t cap, size_t *k, const char *text)
{
    for (const char *p = text; *p != '\0'; p++) {
        if (*k + (*p == '%' ? 2 : 1) >= cap) {
            return false;
        }
        if (*p == '%') {
            f[(*k)++] = '%';
        }
        f[(*k)++] = *p;
    }
    return true;
}

size_t plat_strftime(char *s, size_t max, const char *fmt, const struct tm *tm)
{
    /* The CRT (msvcrt) prints the zone's name for %z: expand %z and %Z here, into a
     * format of literals, and let strftime do the rest. */
    char f[256], ins[64];
    size_t k = 0, n = 0;
    bool ok = true;
    for (const char *p = fmt; *p != '\0' && ok; p++) {
        if (p[0] == '%' && p[1] == 'z') {
            /* The offset of this broken-down local time: read as UTC minus its real time. */
            struct tm a = *tm, b = *tm;
            __time64_t as_utc = _mkgmtime64(&a);
            __time64_t real = _mktime64(&b);
            long off = as_utc != -1 && real != -1 ? (long)(as_utc - real) : 0;
            long m = (off < 0 ? -off : off) / 60;
            snprintf(ins, sizeof(ins), "%c%02ld%02ld", off < 0 ? '-' : '+', m / 60, m % 60);
            ok = put_literal(f, sizeof(f), &k, ins);
            p++;
        } else if (p[0] == '%' && p[1] == 'Z') {
            _tzset();
            ok = put_literal(f, sizeof(f), &k, _tzname[tm->tm_isdst > 0 ? 1 : 0]);
            p++;
        } else if (p[0] == '%' && p[1] != '\0') {
            ok = k + 2 < sizeof(f);
            if (ok) {
                f[k++] = p[0];
                f[k++] = p[1];
            }
            p++;
        } else {
            ok = k + 1 < sizeof(f);
            if (ok) {
                f[k++] = *p;
            }
        }
    }
    f[k] = '\0';
    if (ok) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        n = strftime(s, max, f, tm);
#pragma GCC diagnostic pop
    }
    if (n == 0 && max > 0) {
        s[0] = '\0';
    }
    return n;
}

bool plat_stdout_is_tty(void)
{
    return _isatty(_fileno(stdout)) != 0;
}

#ifndef ENABLE_VIRTUAL_TERMINAL_PROCESSING
#define ENABLE_VIRTUAL_TERMINAL_PROCESSING 0x0004
#endif

bool plat_clear_screen(void)
{
    HANDLE h = GetStdHandle(STD_OUTPUT_HANDLE);
    DWORD mode = 0;
    if (_isatty(_fileno(stdout)) == 0 || h == INVALID_HANDLE_VALUE || !GetConsoleMode(h, &mode)) {
        return false;
    }
    /* Windows 10 and later consoles understand ECMA-48 once asked to. */
    if ((mode & ENABLE_VIRTUAL_TERMINAL_PROCESSING) == 0 &&
        !SetConsoleMode(h, mode | ENABLE_VIRTUAL_TERMINAL_PROCESSING)) {
        return false;
    }
    fputs("\033[H\033[2J", stdout);
    return true;
}

int plat_local_request(const char *path, const char *line, int timeout_ms, char *reply,
                       size_t cap, char *err, size_t errlen)
{
    (void)path;
    (void)line;
    (void)timeout_ms;
    if (cap > 0) {
        reply[0] = '\0';
    }
    snprintf(err, errlen, "the administration socket is stratumd's, on Linux: not available "
                          "on Windows");
    return PLAT_LOCAL_FAILED;
}
