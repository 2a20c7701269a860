/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for daemon/stats: the line formats against ntpd's (field by field), the MJD
 * and seconds of day of any time (before 1970, at the 2036 NTP era rollover through
 * core/ntp_time.h), the names of every file generation type, and the files themselves
 * with a fake time: a new file at midnight UTC, the link replaced, type none, a symlink
 * planted under the data file's name refused, a file in the link's way kept aside.
 * Temporary directories live in /tmp and are removed by each test.
 */
#include <dirent.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/ntp_time.h"
#include "daemon/stats.h"

/* ---- helpers -------------------------------------------------------------------- */

static char tmpdir[128];

static int setup_dir(void **state)
{
    (void)state;
    snprintf(tmpdir, sizeof(tmpdir), "/tmp/stratum-test-stats-XXXXXX");
    return mkdtemp(tmpdir) != NULL ? 0 : -1;
}

/* Removes tmpdir and everything in it (one level: the tests make no subdirectories). */
static int remove_dir(void **state)
{
    (void)state;
    DIR *d = opendir(tmpdir);
    if (d != NULL) {
        struct dirent *de;
        while ((de = readdir(d)) != NULL) {
            if (strcmp(de->d_name, ".") != 0 && strcmp(de->d_name, "..") != 0) {
                char p[PATH_MAX];
                snprintf(p, sizeof(p), "%s/%s", tmpdir, de->d_name);
                unlink(p);
            }
        }
        closedir(d);
    }
    return rmdir(tmpdir);
}

static struct timespec ts(int64_t sec, long nsec)
{
    struct timespec t = { .tv_sec = (time_t)sec, .tv_nsec = nsec };
    return t;
}

/* Reads a whole file (small) into buf; returns its length or -1. */
static long slurp(const char *name, char *buf, size_t cap)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
    FILE *f = fopen(p, "r");
    if (f == NULL) {
        return -1;
    }
    size_t n = fread(buf, 1, cap - 1, f);
    buf[n] = '\0';
    fclose(f);
    return (long)n;
}

static unsigned count_lines(const char *s)
{
    unsigned n = 0;
    for (; *s != '\0'; s++) {
        n += *s == '\n';
    }
    return n;
}

static void link_target(const char *name, char *out, size_t cap)
{
    char p[PATH_MAX];
    snprintf(p, sizeof(p), "%s/%s", tmpdir, name);
    ssize_t n = readlink(p, out, cap - 1);
    assert_true(n > 0);
    out[n] = '\0';
}

static void config_in_tmp(struct stats_config *c)
{
    stats_config_default(c);
    snprintf(c->dir, sizeof(c->dir), "%s", tmpdir);
    for (unsigned k = 0; k < STATS_KINDS; k++) {
        c->gen[k].enabled = true;
    }
}

/* 2025-01-07T23:59:59Z, a Tuesday. */
#define T_2025_01_07_235959 INT64_C(1736294399)

/* ---- time ----------------------------------------------------------------------- */

static void test_mjd(void **state)
{
    (void)state;
    struct stats_time t;
    struct timespec x = ts(0, 0);
    stats_time_from_timespec(&x, &t);
    assert_int_equal(t.mjd, 40587); /* 1970-01-01 */
    assert_int_equal(t.day_ms, 0);

    x = ts(T_2025_01_07_235959, 999999999);
    stats_time_from_timespec(&x, &t);
    assert_int_equal(t.mjd, 60682);
    assert_int_equal(t.day_ms, 86399999); /* truncated: never 86400.000 */

    /* Before 1970: floor division. 1969-12-31T23:59:59.5Z. */
    x = ts(-1, 500000000);
    stats_time_from_timespec(&x, &t);
    assert_int_equal(t.mjd, 40586);
    assert_int_equal(t.day_ms, 86399500);

    /* 1900-01-01 (NTP era 0 starts): MJD 15020. */
    x = ts(-NTP_UNIX_OFFSET, 0);
    stats_time_from_timespec(&x, &t);
    assert_int_equal(t.mjd, 15020);
    assert_int_equal(t.day_ms, 0);

    /* A denormal timespec (ns beyond a second) is carried over. */
    x = ts(0, 1500000000L);
    stats_time_from_timespec(&x, &t);
    assert_int_equal(t.mjd, 40587);
    assert_int_equal(t.day_ms, 1500);
}

static void test_mjd_ntp_eras(void **state)
{
    (void)state;
    struct stats_time t;
    /* NTP timestamp 0: 1900-01-01 in era 0, 2036-02-07T06:28:16Z in era 1. The pivot
     * (the local clock) decides. */
    stats_time_from_ntp(0, -NTP_UNIX_OFFSET + 1000, &t);
    assert_int_equal(t.mjd, 15020);
    assert_int_equal(t.day_ms, 0);
    stats_time_from_ntp(0, INT64_C(2085978496) - 3600, &t);
    assert_int_equal(t.mjd, 64730);
    assert_int_equal(t.day_ms, 23296000); /* 06:28:16 */

    /* The last second of era 0 and the first of era 1, from a pivot on either side. */
    ntp_ts_t last = (ntp_ts_t)UINT32_MAX << 32 | 0x80000000u; /* .5 s */
    stats_time_from_ntp(last, INT64_C(2085978496) + 100, &t);
    assert_int_equal(t.mjd, 64730);
    assert_int_equal(t.day_ms, 23295500);
    stats_time_from_ntp((ntp_ts_t)1 << 32, INT64_C(2085978496) - 100, &t);
    assert_int_equal(t.mjd, 64730);
    assert_int_equal(t.day_ms, 23297000);

    /* A time today: the same day the Unix path gives. */
    struct timespec now = ts(T_2025_01_07_235959, 250000000);
    struct stats_time u;
    stats_time_from_timespec(&now, &u);
    stats_time_from_ntp(ntp_ts_from_timespec(&now), T_2025_01_07_235959, &t);
    assert_int_equal(t.mjd, u.mjd);
    assert_int_equal(t.day_ms, u.day_ms);
}

/* ---- line formats ----------------------------------------------------------------- */

static void test_format_loop(void **state)
{
    (void)state;
    char buf[256];
    struct stats_time t = { .mjd = 50935, .day_ms = 75440031 };
    struct stats_loop v = { .offset = 0.000006019, .freq_ppm = 13.778190,
                            .jitter = 0.000351733, .wander_ppm = 0.0133806, .tc = 6 };
    size_t n = stats_format_loop(buf, sizeof(buf), &t, &v);
    /* NTPsec's documented example line, as ntpd's "%lu %s %.9f %.3f %.9f %.6f %d" makes
     * it. */
    assert_string_equal(buf, "50935 75440.031 0.000006019 13.778 0.000351733 0.013381 6\n");
    assert_int_equal(n, strlen(buf));

    t.day_ms = 5;
    v.offset = -0.25;
    v.freq_ppm = -500.0;
    v.tc = 0;
    stats_format_loop(buf, sizeof(buf), &t, &v);
    assert_string_equal(buf, "50935 0.005 -0.250000000 -500.000 0.000351733 0.013381 0\n");
    /* Too small a buffer: nothing. */
    assert_int_equal(stats_format_loop(buf, 10, &t, &v), 0);
}

static void test_format_peer(void **state)
{
    (void)state;
    char buf[256];
    struct stats_time t = { .mjd = 48773, .day_ms = 10847650 };
    struct stats_peer v = { .addr = "127.0.0.1", .status = 0x9714, .offset = -0.001605376,
                            .delay = 0.0, .dispersion = 0.001424877, .jitter = 0.000958674 };
    stats_format_peer(buf, sizeof(buf), &t, &v);
    assert_string_equal(buf, "48773 10847.650 127.0.0.1 9714 -0.001605376 0.000000000 "
                             "0.001424877 0.000958674\n");
    /* The status word in hex as ntpd's %x writes it: lower case, no padding. */
    snprintf(v.addr, sizeof(v.addr), "2001:db8::1");
    v.status = 0x0a1;
    stats_format_peer(buf, sizeof(buf), &t, &v);
    assert_non_null(strstr(buf, " 2001:db8::1 a1 "));
}

static void test_format_sys(void **state)
{
    (void)state;
    char buf[512];
    struct stats_time t = { .mjd = 59935, .day_ms = 82782547 };
    struct stats_sys v = { .since_reset_s = 3600, .received = 36082754, .processed = 31287166,
                           .thisver = 26510580, .oldver = 4779042, .restricted = 113,
                           .badformat = 19698, .badauth = 1997, .declined = 428,
                           .limited = 4773352, .kodsent = 0, .v1 = 366120 };
    stats_format_sys(buf, sizeof(buf), &t, &v);
    /* NTPsec's documented example: ntpd 4.2.8's 13 fields and NTPsec's NTPv1 count. */
    assert_string_equal(buf, "59935 82782.547 3600 36082754 31287166 26510580 4779042 113 "
                             "19698 1997 428 4773352 0 366120\n");
}

/* ---- file names --------------------------------------------------------------------- */

static void test_suffixes(void **state)
{
    (void)state;
    char b[32];
    struct timespec t = ts(T_2025_01_07_235959, 0);
    assert_int_equal(stats_gen_suffix(STATS_GEN_NONE, &t, 0, 42, b, sizeof(b)), 0);
    assert_string_equal(b, "");
    assert_int_equal(stats_gen_suffix(STATS_GEN_DAY, &t, 0, 42, b, sizeof(b)), 0);
    assert_string_equal(b, ".20250107");
    assert_int_equal(stats_gen_suffix(STATS_GEN_MONTH, &t, 0, 42, b, sizeof(b)), 0);
    assert_string_equal(b, ".202501");
    assert_int_equal(stats_gen_suffix(STATS_GEN_YEAR, &t, 0, 42, b, sizeof(b)), 0);
    assert_string_equal(b, ".2025");
    assert_int_equal(stats_gen_suffix(STATS_GEN_PID, &t, 0, 4242, b, sizeof(b)), 0);
    assert_string_equal(b, ".#4242");
    /* Every 24 h of running, named by the uptime it began at. */
    assert_int_equal(stats_gen_suffix(STATS_GEN_AGE, &t, 86399, 42, b, sizeof(b)), 0);
    assert_string_equal(b, ".a00000000");
    assert_int_equal(stats_gen_suffix(STATS_GEN_AGE, &t, 2 * 86400 + 5, 42, b, sizeof(b)), 0);
    assert_string_equal(b, ".a00172800");
    /* ISO 8601 weeks: 2025-01-07 is in week 2; 2024-12-30 (Monday) is in 2025's week 1;
     * 2021-01-03 (Sunday) in 2020's week 53. */
    assert_int_equal(stats_gen_suffix(STATS_GEN_WEEK, &t, 0, 42, b, sizeof(b)), 0);
    assert_string_equal(b, ".2025w02");
    t = ts(INT64_C(1735516800), 0);
    stats_gen_suffix(STATS_GEN_WEEK, &t, 0, 42, b, sizeof(b));
    assert_string_equal(b, ".2025w01");
    t = ts(INT64_C(1609632000), 0);
    stats_gen_suffix(STATS_GEN_WEEK, &t, 0, 42, b, sizeof(b));
    assert_string_equal(b, ".2020w53");
    /* Too small a buffer fails. */
    assert_int_equal(stats_gen_suffix(STATS_GEN_DAY, &t, 0, 42, b, 4), -1);
}

static void test_names(void **state)
{
    (void)state;
    enum stats_kind k;
    enum stats_gen g;
    assert_int_equal(stats_kind_parse("peerstats", &k), 0);
    assert_int_equal(k, STATS_PEER);
    assert_int_equal(stats_kind_parse("clockstats", &k), -1);
    assert_true(stats_name_known("clockstats"));
    assert_true(stats_name_known("usestats"));
    assert_false(stats_name_known("potatostats"));
    assert_int_equal(stats_gen_parse("age", &g), 0);
    assert_int_equal(g, STATS_GEN_AGE);
    assert_int_equal(stats_gen_parse("hour", &g), -1);
    assert_string_equal(stats_gen_name(STATS_GEN_WEEK), "week");
    assert_string_equal(stats_kind_name(STATS_SYS), "sysstats");
}

/* ---- the files ------------------------------------------------------------------------ */

static void test_rotation_at_midnight(void **state)
{
    (void)state;
    struct stats_config c;
    config_in_tmp(&c);
    struct stats s;
    stats_init(&s, &c);
    struct stats_loop v = { .offset = 0.001, .freq_ppm = 1.5, .jitter = 0.0001,
                            .wander_ppm = 0.01, .tc = 6 };
    char buf[4096], target[256];

    struct timespec t = ts(T_2025_01_07_235959, 0);
    stats_write_loop(&s, &t, 10, &v);
    t = ts(T_2025_01_07_235959, 999000000);
    stats_write_loop(&s, &t, 10, &v);
    link_target("loopstats", target, sizeof(target));
    assert_string_equal(target, "loopstats.20250107"); /* relative: the directory may move */

    /* Midnight UTC: the next line goes to a new file, and the link follows. */
    t = ts(T_2025_01_07_235959 + 1, 0);
    stats_write_loop(&s, &t, 11, &v);
    assert_true(slurp("loopstats.20250107", buf, sizeof(buf)) > 0);
    assert_int_equal(count_lines(buf), 2);
    assert_memory_equal(buf, "60682 86399.000 ", 16);
    assert_non_null(strstr(buf, "\n60682 86399.999 "));
    assert_true(slurp("loopstats.20250108", buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "60683 0.000 0.001000000 1.500 0.000100000 0.010000 6\n");
    link_target("loopstats", target, sizeof(target));
    assert_string_equal(target, "loopstats.20250108");
    /* The data files are 0644 regular files (modulo the umask), the temporary link gone. */
    char p[PATH_MAX];
    struct stat st;
    snprintf(p, sizeof(p), "%s/loopstats.20250108", tmpdir);
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    assert_int_equal(st.st_mode & 0133, 0);
    snprintf(p, sizeof(p), "%s/.loopstats.link", tmpdir);
    assert_int_not_equal(lstat(p, &st), 0);

    /* A step back before midnight: the line goes to that day's file again (appended). */
    t = ts(T_2025_01_07_235959 - 10, 0);
    stats_write_loop(&s, &t, 12, &v);
    assert_true(slurp("loopstats.20250107", buf, sizeof(buf)) > 0);
    assert_int_equal(count_lines(buf), 3);

    /* Each kind has its own files; a restart appends to the day's file. */
    struct stats_peer pv = { .addr = "192.0.2.1", .status = 0x961a, .offset = 0.001 };
    stats_write_peer(&s, &t, 12, &pv);
    stats_close(&s);
    stats_init(&s, &c);
    stats_write_peer(&s, &t, 0, &pv);
    struct stats_sys sv = { .since_reset_s = 3600, .received = 7 };
    stats_write_sys(&s, &t, 0, &sv);
    stats_close(&s);
    assert_true(slurp("peerstats.20250107", buf, sizeof(buf)) > 0);
    assert_int_equal(count_lines(buf), 2);
    assert_true(slurp("sysstats.20250107", buf, sizeof(buf)) > 0);
    assert_memory_equal(buf, "60682 86389.000 3600 7 0 ", 25);
}

static void test_type_none_and_options(void **state)
{
    (void)state;
    struct stats_config c;
    config_in_tmp(&c);
    c.gen[STATS_LOOP].type = STATS_GEN_NONE; /* one file, no link */
    c.gen[STATS_PEER].link = false;
    snprintf(c.gen[STATS_PEER].file, sizeof(c.gen[STATS_PEER].file), "peers");
    c.gen[STATS_SYS].enabled = false;
    struct stats s;
    stats_init(&s, &c);
    struct stats_loop v = { .tc = 4 };
    struct stats_peer pv = { .addr = "192.0.2.1" };
    struct stats_sys sv = { .received = 1 };
    for (int day = 0; day < 2; day++) {
        struct timespec t = ts(T_2025_01_07_235959 + day * 86400, 0);
        stats_write_loop(&s, &t, 0, &v);
        stats_write_peer(&s, &t, 0, &pv);
        stats_write_sys(&s, &t, 0, &sv);
    }
    stats_close(&s);
    char buf[4096];
    struct stat st;
    char p[PATH_MAX];
    assert_true(slurp("loopstats", buf, sizeof(buf)) > 0);
    assert_int_equal(count_lines(buf), 2);
    snprintf(p, sizeof(p), "%s/loopstats", tmpdir);
    assert_int_equal(lstat(p, &st), 0);
    assert_true(S_ISREG(st.st_mode));
    /* file NAME below the directory; nolink: no link. */
    assert_true(slurp("peers.20250107", buf, sizeof(buf)) > 0);
    assert_true(slurp("peers.20250108", buf, sizeof(buf)) > 0);
    snprintf(p, sizeof(p), "%s/peers", tmpdir);
    assert_int_not_equal(lstat(p, &st), 0);
    /* Disabled: no file. */
    assert_int_equal(slurp("sysstats.20250107", buf, sizeof(buf)), -1);

    /* `disable stats`, or no directory: nothing at all. */
    config_in_tmp(&c);
    c.on = false;
    stats_init(&s, &c);
    assert_false(stats_wants(&s, STATS_LOOP));
    c.on = true;
    c.dir[0] = '\0';
    stats_init(&s, &c);
    assert_false(stats_wants(&s, STATS_LOOP));
    struct timespec t = ts(T_2025_01_07_235959, 0);
    stats_write_loop(&s, &t, 0, &v);
    stats_close(&s);
}

static void test_symlink_refused_and_file_in_the_way(void **state)
{
    (void)state;
    char p[PATH_MAX], q[PATH_MAX], buf[4096], target[256];
    struct stats_config c;
    config_in_tmp(&c);

    /* A symlink planted under the day's data file name is not followed: nothing is
     * written through it, and the daemon goes on (the next day works). */
    snprintf(q, sizeof(q), "%s/victim", tmpdir);
    FILE *f = fopen(q, "w");
    assert_non_null(f);
    fputs("precious\n", f);
    fclose(f);
    snprintf(p, sizeof(p), "%s/loopstats.20250107", tmpdir);
    assert_int_equal(symlink("victim", p), 0);
    /* A regular file where the link goes (left by `type none`): kept under another
     * name, not overwritten. */
    snprintf(p, sizeof(p), "%s/peerstats", tmpdir);
    f = fopen(p, "w");
    assert_non_null(f);
    fputs("old data\n", f);
    fclose(f);

    struct stats s;
    stats_init(&s, &c);
    struct stats_loop v = { .tc = 4 };
    struct timespec t = ts(T_2025_01_07_235959, 0);
    stats_write_loop(&s, &t, 0, &v);
    stats_write_loop(&s, &t, 0, &v);
    assert_true(slurp("victim", buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "precious\n");
    t = ts(T_2025_01_07_235959 + 1, 0);
    stats_write_loop(&s, &t, 0, &v);
    assert_true(slurp("loopstats.20250108", buf, sizeof(buf)) > 0);
    assert_int_equal(count_lines(buf), 1);

    struct stats_peer pv = { .addr = "192.0.2.1" };
    stats_write_peer(&s, &t, 0, &pv);
    stats_close(&s);
    link_target("peerstats", target, sizeof(target));
    assert_string_equal(target, "peerstats.20250108");
    char saved[64];
    snprintf(saved, sizeof(saved), "peerstats.%ldC0", (long)getpid());
    assert_true(slurp(saved, buf, sizeof(buf)) > 0);
    assert_string_equal(buf, "old data\n");
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup_dir, remove_dir)
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mjd),
        cmocka_unit_test(test_mjd_ntp_eras),
        cmocka_unit_test(test_format_loop),
        cmocka_unit_test(test_format_peer),
        cmocka_unit_test(test_format_sys),
        cmocka_unit_test(test_suffixes),
        cmocka_unit_test(test_names),
        T(test_rotation_at_midnight),
        T(test_type_none_and_options),
        T(test_symlink_refused_and_file_in_the_way),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
