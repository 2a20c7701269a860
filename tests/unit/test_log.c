/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for io/log: the syslog datagram format (PRI from facility and level, the
 * RFC 3164 timestamp, IDENT[PID]), the names of levels, facilities and categories, and
 * the outputs: syslog to a private AF_UNIX datagram socket (what arrives, with the level
 * threshold and logconfig's category mask applied), the fall-back to stderr with one
 * complaint when the syslog daemon is gone, reconnection when it is back, and a log file
 * after syslog.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "io/log.h"

/* ---- helpers -------------------------------------------------------------------- */

static char tmpdir[64];
static char sock_path[96]; /* fits sockaddr_un.sun_path */

static int setup(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/stratum-test-log-XXXXXX");
    if (mkdtemp(tmpdir) == NULL) {
        return -1;
    }
    snprintf(sock_path, sizeof(sock_path), "%s/log.sock", tmpdir);
    log_set_level(LOGL_INFO);
    log_set_categories(LOG_CAT_ALL);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char p[PATH_MAX];
    log_close();
    log_set_level(LOGL_INFO);
    log_set_categories(LOG_CAT_ALL);
    unlink(sock_path);
    snprintf(p, sizeof(p), "%s/stderr.txt", tmpdir);
    unlink(p);
    snprintf(p, sizeof(p), "%s/file.log", tmpdir);
    unlink(p);
    return rmdir(tmpdir);
}

/* A syslog daemon stand-in: a datagram socket bound at sock_path. */
static int listener(void)
{
    struct sockaddr_un sun;
    memset(&sun, 0, sizeof(sun));
    sun.sun_family = AF_UNIX;
    snprintf(sun.sun_path, sizeof(sun.sun_path), "%s", sock_path);
    unlink(sock_path);
    int fd = socket(AF_UNIX, SOCK_DGRAM, 0);
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&sun, sizeof(sun)), 0);
    return fd;
}

/* The next datagram, or "" when none is waiting. */
static const char *next_dgram(int fd)
{
    static char buf[8192];
    ssize_t n = recv(fd, buf, sizeof(buf) - 1, MSG_DONTWAIT);
    buf[n > 0 ? n : 0] = '\0';
    return buf;
}

/* ---- formats and names --------------------------------------------------------- */

static void test_format_syslog(void **state)
{
    (void)state;
    char buf[256];
    struct tm tm;
    memset(&tm, 0, sizeof(tm));
    tm.tm_mon = 0;
    tm.tm_mday = 7;
    tm.tm_hour = 23;
    tm.tm_min = 5;
    tm.tm_sec = 9;
    size_t n = log_format_syslog(buf, sizeof(buf), LOG_FACILITY_DAEMON, LOGL_NOTICE, &tm,
                                 "stratumd", 4242, "CLOCK: stepped by +0.5 s");
    assert_string_equal(buf, "<29>Jan  7 23:05:09 stratumd[4242]: CLOCK: stepped by +0.5 s");
    assert_int_equal(n, strlen(buf));
    /* Severities: err 3, warning 4, notice 5, info 6, debug 7; PRI = facility * 8 + it. */
    static const enum log_level levels[] = { LOGL_ERR, LOGL_WARN, LOGL_NOTICE, LOGL_INFO,
                                             LOGL_DEBUG };
    for (int i = 0; i < 5; i++) {
        char want[16];
        log_format_syslog(buf, sizeof(buf), 19 /* local3 */, levels[i], &tm, "x", 1, "m");
        snprintf(want, sizeof(want), "<%d>", 19 * 8 + 3 + i);
        assert_memory_equal(buf, want, strlen(want));
    }
    tm.tm_mon = 11;
    tm.tm_mday = 24;
    log_format_syslog(buf, sizeof(buf), 0, LOGL_ERR, &tm, "x", 1, "m");
    assert_string_equal(buf, "<3>Dec 24 23:05:09 x[1]: m");
    /* Truncated, NUL-terminated. */
    assert_int_equal(log_format_syslog(buf, 8, 0, LOGL_ERR, &tm, "x", 1, "m"), 7);
    assert_string_equal(buf, "<3>Dec ");
}

static void test_names(void **state)
{
    (void)state;
    enum log_level l;
    assert_int_equal(log_level_parse("debug", &l), 0);
    assert_int_equal(l, LOGL_DEBUG);
    assert_int_equal(log_level_parse("warning", &l), 0);
    assert_int_equal(l, LOGL_WARN);
    assert_int_equal(log_level_parse("err", &l), 0);
    assert_int_equal(l, LOGL_ERR);
    assert_int_equal(log_level_parse("loud", &l), -1);
    assert_string_equal(log_level_name(LOGL_NOTICE), "notice");
    assert_int_equal(log_facility_parse("daemon"), 3);
    assert_int_equal(log_facility_parse("local0"), 16);
    assert_int_equal(log_facility_parse("local7"), 23);
    assert_int_equal(log_facility_parse("local8"), -1);
    assert_string_equal(log_facility_name(4), "auth");
    assert_int_equal(log_category_of("CLOCK: x"), LOG_CAT_CLOCK);
    assert_int_equal(log_category_of("PROTO: ready"), LOG_CAT_PROTO);
    assert_int_equal(log_category_of("IO: %s"), LOG_CAT_IO);
    assert_int_equal(log_category_of("CONFIG: x"), 0);
    assert_int_equal(log_category_of("no category"), 0);
}

/* ---- outputs --------------------------------------------------------------------- */

static void test_syslog_socket(void **state)
{
    (void)state;
    int fd = listener();
    char want[64];
    assert_int_equal(log_open_syslog(sock_path, 16, "stratumd-test"), 0);
    log_msg(LOGL_NOTICE, "CLOCK: hello %d", 5);
    const char *d = next_dgram(fd);
    assert_memory_equal(d, "<133>", 5); /* local0.notice */
    snprintf(want, sizeof(want), " stratumd-test[%ld]: CLOCK: hello 5", (long)getpid());
    assert_non_null(strstr(d, want));
    assert_int_equal(strlen(d), 5 + 15 + strlen(want)); /* "Mmm dd hh:mm:ss" */

    /* The level threshold applies. */
    log_set_level(LOGL_NOTICE);
    log_msg(LOGL_INFO, "CLOCK: not wanted");
    assert_string_equal(next_dgram(fd), "");
    log_msg(LOGL_WARN, "CLOCK: wanted");
    assert_non_null(strstr(next_dgram(fd), "CLOCK: wanted"));
    log_set_level(LOGL_DEBUG);
    log_msg(LOGL_DEBUG, "PROTO: debug");
    assert_memory_equal(next_dgram(fd), "<135>", 5);

    /* logconfig: below warning, only the categories in the mask (and lines without
     * one); warnings and errors always. */
    log_set_categories(LOG_CAT_CLOCK);
    log_msg(LOGL_NOTICE, "PROTO: ready");
    assert_string_equal(next_dgram(fd), "");
    log_msg(LOGL_NOTICE, "CLOCK: synchronized");
    assert_non_null(strstr(next_dgram(fd), "CLOCK: synchronized"));
    log_msg(LOGL_WARN, "PROTO: a warning");
    assert_non_null(strstr(next_dgram(fd), "PROTO: a warning"));
    log_msg(LOGL_ERR, "IO: an error");
    assert_non_null(strstr(next_dgram(fd), "IO: an error"));
    log_msg(LOGL_INFO, "plain words");
    assert_non_null(strstr(next_dgram(fd), "plain words"));
    log_set_categories(LOG_CAT_ALL);

    /* errno is left as it was. */
    errno = ERANGE;
    log_msg(LOGL_NOTICE, "CLOCK: errno");
    assert_int_equal(errno, ERANGE);
    close(fd);
}

static void test_syslog_gone_falls_back_to_stderr(void **state)
{
    (void)state;
    char p[PATH_MAX];
    int fd = listener();
    assert_int_equal(log_open_syslog(sock_path, LOG_FACILITY_DAEMON, "stratumd"), 0);
    log_msg(LOGL_NOTICE, "PROTO: first");
    assert_non_null(strstr(next_dgram(fd), "PROTO: first"));

    /* The syslog daemon goes away: messages go to stderr, with one complaint. */
    close(fd);
    unlink(sock_path);
    snprintf(p, sizeof(p), "%s/stderr.txt", tmpdir);
    int out = open(p, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    assert_true(out >= 0);
    int saved = dup(2);
    dup2(out, 2);
    log_msg(LOGL_NOTICE, "PROTO: second");
    log_msg(LOGL_NOTICE, "PROTO: third");

    /* It comes back (a new socket under the same name): after a second the next message
     * reconnects and arrives there. */
    fd = listener();
    struct timespec pause = { 1, 100000000 };
    nanosleep(&pause, NULL);
    log_msg(LOGL_NOTICE, "PROTO: fourth");
    dup2(saved, 2);
    close(saved);
    close(out);
    assert_non_null(strstr(next_dgram(fd), "PROTO: fourth"));
    close(fd);

    char buf[4096];
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    const char *c = strstr(buf, "warning IO: syslog ");
    assert_non_null(c);
    assert_null(strstr(c + 1, "warning IO: syslog ")); /* once a minute at most */
    assert_non_null(strstr(buf, "notice PROTO: second\n"));
    assert_non_null(strstr(buf, "notice PROTO: third\n"));
    assert_null(strstr(buf, "fourth"));
}

static void test_no_socket_and_file_after_syslog(void **state)
{
    (void)state;
    char p[PATH_MAX];
    /* Nothing listens: log_open_syslog fails and changes nothing. */
    errno = 0;
    assert_int_equal(log_open_syslog(sock_path, LOG_FACILITY_DAEMON, "stratumd"), -1);
    assert_true(errno == ENOENT || errno == ECONNREFUSED);
    assert_int_equal(log_open_syslog(sock_path, 24, "stratumd"), -1);

    int fd = listener();
    assert_int_equal(log_open_syslog(sock_path, LOG_FACILITY_DAEMON, "stratumd"), 0);
    snprintf(p, sizeof(p), "%s/file.log", tmpdir);
    assert_int_equal(log_open(p), 0);
    log_msg(LOGL_NOTICE, "CONF: to the file");
    assert_string_equal(next_dgram(fd), "");
    close(fd);
    char buf[512];
    FILE *f = fopen(p, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    buf[n] = '\0';
    fclose(f);
    assert_non_null(strstr(buf, "Z notice CONF: to the file\n"));
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_format_syslog),
        cmocka_unit_test(test_names),
        T(test_syslog_socket),
        T(test_syslog_gone_falls_back_to_stderr),
        T(test_no_socket_and_file_after_syslog),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
