/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for daemon/conf: the ntp.conf-dialect parser. Every directive's values in
 * struct conf, the defaults conf_finish fills, the warnings for what other daemons know
 * and Stratum does not implement (each "FILE:LINE: ..."), every kind of error (each
 * carrying "FILE:LINE:" and the offending word), includefile (relative to the including
 * file, loops, missing files), and real-world configurations: Debian's stock NTPsec
 * ntp.conf and a classic ntpd 4.2.8 one. Temporary files live in /tmp (mkstemp,
 * mkdtemp) and are removed by each test's teardown.
 *
 * The tests named test_bug_* describe parser behaviour that contradicts DESIGN.md
 * ("every directive and flag that ntpd or NTPsec knows is parsed"); they fail until
 * conf.c is fixed and are kept on purpose.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "core/acl.h"
#include "core/netaddr.h"
#include "core/ratelimit.h"
#include "daemon/conf.h"

/* ---- helpers -------------------------------------------------------------------- */

#define REC_MAX 64

struct rec {
    unsigned n;
    char msg[REC_MAX][512];
};

/* Restrict flags as the lines said them (ACL_CONFIGURED marks every configured rule). */
static uint32_t fl(uint32_t flags)
{
    return flags & ~(uint32_t)ACL_CONFIGURED;
}

static void record(void *arg, const char *msg)
{
    struct rec *r = arg;
    if (r->n < REC_MAX) {
        snprintf(r->msg[r->n], sizeof(r->msg[0]), "%s", msg);
    }
    r->n++;
}

/* A fresh conf whose warnings land in *r (both on the heap: struct conf is ~40 KiB). */
static struct conf *new_conf(struct rec **r)
{
    struct conf *c = test_calloc(1, sizeof(*c));
    *r = test_calloc(1, sizeof(**r));
    conf_init(c);
    c->warn = record;
    c->warn_arg = *r;
    return c;
}

static void free_conf(struct conf *c, struct rec *r)
{
    test_free(c);
    test_free(r);
}

static struct net_addr addr(const char *text)
{
    struct net_addr a;
    assert_int_equal(net_addr_parse(text, &a), 0);
    return a;
}

/* Temporary files and directories made by a test; removed by cleanup(). */
#define TMPS_MAX 16
static char tmp_files[TMPS_MAX][256];
static unsigned n_tmp_files;
static char tmp_dirs[TMPS_MAX][256];
static unsigned n_tmp_dirs;

static int cleanup(void **state)
{
    (void)state;
    for (unsigned i = n_tmp_files; i > 0; i--) {
        unlink(tmp_files[i - 1]);
    }
    n_tmp_files = 0;
    for (unsigned i = n_tmp_dirs; i > 0; i--) {
        rmdir(tmp_dirs[i - 1]);
    }
    n_tmp_dirs = 0;
    return 0;
}

/* Creates an empty file /tmp/stratum-conf-XXXXXX; returns its path (static storage). */
static const char *make_tmp_file(void)
{
    assert_true(n_tmp_files < TMPS_MAX);
    char *path = tmp_files[n_tmp_files];
    snprintf(path, sizeof(tmp_files[0]), "/tmp/stratum-conf-XXXXXX");
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    close(fd);
    n_tmp_files++;
    return path;
}

/* Registers a file at a chosen path (inside a temporary directory) for removal. */
static const char *track_file(const char *path)
{
    assert_true(n_tmp_files < TMPS_MAX);
    snprintf(tmp_files[n_tmp_files], sizeof(tmp_files[0]), "%s", path);
    return tmp_files[n_tmp_files++];
}

static const char *make_tmp_dir(void)
{
    assert_true(n_tmp_dirs < TMPS_MAX);
    char *path = tmp_dirs[n_tmp_dirs];
    snprintf(path, sizeof(tmp_dirs[0]), "/tmp/stratum-conf-dir-XXXXXX");
    assert_non_null(mkdtemp(path));
    n_tmp_dirs++;
    return path;
}

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, len, f), len);
    assert_int_equal(fclose(f), 0);
}

static void write_text(const char *path, const char *text)
{
    write_file(path, text, strlen(text));
}

static const char *base_name(const char *path)
{
    const char *s = strrchr(path, '/');
    return s != NULL ? s + 1 : path;
}

/* Loads text that must fail; checks "NAME:LINE:" and each given word is in the error. */
static void expect_error(const char *text, int line, const char *word)
{
    struct rec *r;
    struct conf *c = new_conf(&r);
    char err[1024] = "";
    char where[64];

    int rc = conf_load_string(c, "bad.conf", text, err, sizeof(err));
    if (rc != -1) {
        print_error("no error for: %s\n", text);
    }
    assert_int_equal(rc, -1);
    snprintf(where, sizeof(where), "bad.conf:%d: ", line);
    if (strstr(err, where) == NULL || strstr(err, word) == NULL) {
        print_error("input: %s\nerror: %s\nwanted: '%s' and '%s'\n", text, err, where, word);
    }
    assert_non_null(strstr(err, where));
    assert_non_null(strstr(err, word));
    /* The prefix is at the start, as a compiler would print it. */
    assert_memory_equal(err, where, strlen(where));
    free_conf(c, r);
}

/* Loads text that must succeed. */
static void load_ok(struct conf *c, const char *text)
{
    char err[1024] = "";
    int rc = conf_load_string(c, "test.conf", text, err, sizeof(err));
    if (rc != 0) {
        print_error("unexpected error: %s\n", err);
    }
    assert_int_equal(rc, 0);
}

/* ---- defaults ------------------------------------------------------------------- */

static void test_init_defaults(void **state)
{
    struct rec *r;
    struct conf *c = new_conf(&r);
    (void)state;

    assert_int_equal(c->n_listen, 0);
    assert_int_equal(c->local_stratum, 0);
    assert_int_equal(c->clock, CLK_SYSTEM);
    assert_false(c->sim.start_set);
    assert_true(c->sim.freq_ppm == 0.0);
    assert_int_equal(c->workers, 1);
    assert_string_equal(c->pidfile, "");
    assert_string_equal(c->logfile, "");
    assert_int_equal(c->acl.n_rules, 0);
    assert_int_equal(fl(c->acl.default4), 0);
    assert_int_equal(fl(c->acl.default6), 0);
    assert_int_equal(c->rl.average_log2, RL_DEFAULT_AVERAGE_LOG2);
    assert_int_equal(c->rl.average_log2, 3);
    assert_int_equal(c->rl.minimum_s, RL_DEFAULT_MINIMUM_S);
    assert_int_equal(c->rl.minimum_s, 2);
    assert_int_equal(c->rl.burst, RL_DEFAULT_BURST);
    assert_int_equal(c->rl_entries, CONF_DEFAULT_RL_ENTRIES);
    assert_int_equal(c->rl_entries, 16384);
    assert_int_equal(c->n_sources, 0);
    assert_int_equal(c->n_warnings, 0);
    free_conf(c, r);
}

static void test_finish_adds_wildcards(void **state)
{
    struct rec *r;
    struct conf *c = new_conf(&r);
    (void)state;

    load_ok(c, "# nothing but a comment\n\n");
    conf_finish(c);
    assert_int_equal(c->n_listen, 2);
    assert_int_equal(c->listen[0].addr.family, NET_IPV4);
    assert_true(c->listen[0].wildcard);
    assert_int_equal(c->listen[0].port, 123);
    assert_int_equal(c->listen[1].addr.family, NET_IPV6);
    assert_true(c->listen[1].wildcard);
    assert_int_equal(c->listen[1].port, 123);
    for (size_t i = 0; i < sizeof(c->listen[0].addr.bytes); i++) {
        assert_int_equal(c->listen[0].addr.bytes[i], 0);
        assert_int_equal(c->listen[1].addr.bytes[i], 0);
    }
    assert_int_equal(c->n_warnings, 0);
    free_conf(c, r);
}

static void test_finish_keeps_configured_listen(void **state)
{
    struct rec *r;
    struct conf *c = new_conf(&r);
    (void)state;

    load_ok(c, "listen 127.0.0.1 port 11123\n");
    conf_finish(c);
    assert_int_equal(c->n_listen, 1);
    assert_int_equal(c->listen[0].port, 11123);
    assert_false(c->listen[0].wildcard);
    free_conf(c, r);
}

/* ---- file format ---------------------------------------------------------------- */

static void test_words_comments_quotes(void **state)
{
    struct rec *r;
    struct conf *c = new_conf(&r);
    (void)state;

    load_ok(c, "\n"
               "   # an indented comment\n"
               "\tworkers\t\t4   # trailing comment\r\n"
               "pidfile \"/run/with space/stratumd.pid\"\n"
               "logfile \"/var/log/a#b.log\"   # '#' inside quotes is kept\n"
               "local stratum 9#comment glued to a word\n"
               "   \t  \r\n"
               "listen 127.0.0.1 port 1234"); /* no final newline */
    assert_int_equal(c->workers, 4);
    assert_string_equal(c->pidfile, "/run/with space/stratumd.pid");
    assert_string_equal(c->logfile, "/var/log/a#b.log");
    assert_int_equal(c->local_stratum, 9);
    assert_int_equal(c->n_listen, 1);
    assert_int_equal(c->listen[0].port, 1234);
    assert_int_equal(c->n_warnings, 0);
    free_conf(c, r);
}

static void test_later_line_wins(void **state)
{
    struct rec *r;
    struct conf *c = new_conf(&r);
    (void)state;

    load_ok(c, "workers 2\nworkers 5\npidfile /a\npidfile /b\nlocal stratum 3\n"
               "local stratum 12\n");
    assert_int_equal(c->workers, 5);
    assert_string_equal(c->pidfile, "/b");
    assert_int_equal(c->local_stratum, 12);
    free_conf(c, r);
}

static void test_load_string_twice_accumulates(void **state)
{
    struct rec *r;
    struct conf *c = new_conf(&r);
    (void)state;

    load_ok(c, "listen 127.0.0.1 port 1000\n");
    load_ok(c, "listen ::1 port 1001\n");
    assert_int_equal(c->n_listen, 2);
    assert_int_equal(c->listen[0].port, 1000);
    assert_int_equal(c->listen[1].port, 1001);
    free_conf(c, r);
}

/* ---- listen --------------------------------------------------------------------- */

static void test_listen_addresses(void **state)
{
    struct rec *r;
    struct conf *c = new_conf(&r);
    struct net_addr a;
    (void)state;

    load_ok(c, "listen 127.0.0.1 port 11123\n"
               "listen ::1\n"
               "listen [2001:db8::5] port 5\n"
               "listen 0.0.0.0 port 65535\n"
               "listen :: port 1\n");
    assert_int_equal(c->n_listen, 5);

    a = addr("127.0.0.1");
    assert_int_equal(c->listen[0].addr.family, NET_IPV4);
    assert_memory_equal(c->listen[0].addr.bytes, a.bytes, 16);
    assert_false(c->listen[0].wildcard);
    assert_int_equal(c->listen[0].port, 11123);

    a = addr("::1");
    assert_int_equal(c->listen[1].addr.family, NET_IPV6);
    assert_memory_equal(c->listen[1].addr.bytes, a.bytes, 16);
    assert_false(c->listen[1].wildcard);
    assert_int_equal(c->listen[1].port, 123);

    a = addr("2001:db8::5");
    assert_int_equal(c->listen[2].addr.family, NET_IPV6);
    assert_memory_equal(c->listen[2].addr.bytes, a.bytes, 16);
    assert_int_equal(c->listen[2].port, 5);

    /* The unspecified addresses are the wildcards of their family. */
    assert_int_equal(c->listen[3].addr.family, NET_IPV4);
    assert_true(c->listen[3].wildcard);
    assert_int_equal(c->listen[3].port, 65535);
    assert_int_equal(c->listen[4].addr.family, NET_IPV6);
    assert_true(c->listen[4].wildcard);
    assert_int_equal(c->listen[4].port, 1);
    assert_int_equal(c->n_warnings, 0);
    free_conf(c, r);
}

static void test_listen_star_is_two_wildcards(void **state)
{
    static const char *const words[] = { "*", "any", "all" };
    (void)state;

    for (size_t i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
        struct rec *r;
        struct conf *c = new_conf(&r);
        char text[64];

        snprintf(text, sizeof(text), "listen %s port 4123\n", words[i]);
        load_ok(c, text);
        assert_int_equal(c->n_listen, 2);
        assert_int_equal(c->listen[0].addr.family, NET_IPV4);
        assert_true(c->listen[0].wildcard);
        assert_int_equal(c->listen[0].port, 4123);
        assert_int_equal(c->listen[1].addr.family, NET_IPV6);
        assert_true(c->listen[1].wildcard);
        assert_int_equal(c->listen[1].port, 4123);
        conf_finish(c);
        assert_int_equal(c->n_listen, 2);
        free_conf(c, r);
    }

    struct rec *r;
    struct conf *c = new_conf(&r);
    load_ok(c, "listen *\n");
    assert_int_equal(c->n_listen, 2);
    assert_int_equal(c->listen[0].port, 123);
    assert_int_equal(c->listen[1].port, 123);
    free_conf(c, r);
}

static void test_listen_limit(void **state)
{
    struct rec *r;
    struct conf *c = new_conf(&r);
    char text[CONF_MAX_LISTEN * 40 + 64];
    size_t len = 0;
    char err[512] = "";
    (void)state;

    for (int i = 0; i < CONF_MAX_LISTEN; i++) {
        len += (size_t)snprintf(text + len, sizeof(text) - len, "listen 127.0.0.1 port %d\n",
                                2000 + i);
    }
    load_ok(c, text);
    assert_int_equal(c->n_listen, CONF_MAX_LISTEN);
    assert_int_equal(conf_load_string(c, "more.conf", "listen 127.0.0.2\n", err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "more.conf:1: "));
    assert_non_null(strstr(err, "too many"));
    free_conf(c, r);
}

/* ---- local, clock, workers, pidfile, logfile ------------------------------------ */

static void test_local_stratum(void **state)
{
    struct rec *r;
    struct conf *c = new_conf(&r);
    (void)state;

    load_ok(c, "local stratum 1\n");
    assert_int_equal(c->local_stratum, 1);
    load_ok(c, "local stratum 15\n");
    assert_int_equal(c->local_stratum, 15);
    load_ok(c, "local stratum 10\n");
    assert_int_equal(c->local_stratum, 10);
    free_conf(c, r);
}

static void test_clock(void **state)
{
    struct rec *r;
    struct conf *c = new_conf(&r);
    (void)state;

    load_ok(c, "clock none\n");
    assert_int_equal(c->clock, CLK_NONE);
    load_ok(c, "clock system\n");
    assert_int_equal(c->clock, CLK_SYSTEM);
    load_ok(c, "clock sim\n");
    assert_int_equal(c->clock, CLK_SIM);
    assert_false(c->sim.start_set);
    assert_true(c->sim.freq_ppm == 0.0);
    load_ok(c, "clock sim start 1700000000 freq -12.5\n");
    assert_int_equal(c->clock, CLK_SIM);
    assert_true(c->sim.start_set);
    assert_int_equal(c->sim.start_unix_sec, 1700000000);
    assert_true(c->sim.freq_ppm == -12.5);
    load_ok(c, "clock sim freq 100000 start 0\n");
    assert_true(c->sim.start_set);
    assert_int_equal(c->sim.start_unix_sec, 0);
    assert_true(c->sim.freq_ppm == 100000.0);
    load_ok(c, "clock sim start 4102444800\n"); /* 2100-01-01, past 2036 and 2038 */
    assert_int_equal(c->sim.start_unix_sec, INT64_C(4102444800));
    assert_int_equal(c->n_warnings, 0);
    free_conf(c, r);
}

static void test_workers_and_paths(void **state)
{
    struct rec *r;
    struct conf *c = new_conf(&r);
    (void)state;

    load_ok(c, "workers 0\npidfile /run/stratum/stratumd.pid\nlogfile /var/log/stratumd.log\n");
    assert_int_equal(c->workers, 0);
    assert_string_equal(c->pidfile, "/run/stratum/stratumd.pid");
    assert_string_equal(c->logfile, "/var/log/stratumd.log");
    load_ok(c, "workers 64\n");
    assert_int_equal(c->workers, CONF_MAX_WORKERS);
    load_ok(c, "pidfile relative.pid\n");
    assert_string_equal(c->pidfile, "relative.pid");
    assert_int_equal(c->n_warnings, 0);
    free_conf(c, r);
}

/* ---- restrict ------------------------------------------------------------------- */

static void test_restrict_prefix_equals_mask(void **state)
{
    struct rec *r1, *r2;
    struct conf *a = new_conf(&r1);
    struct conf *b = new_conf(&r2);
    (void)state;

    load_ok(a, "restrict 192.168.1.0/24 nomodify notrap\n"
               "restrict 2001:db8::/32 noquery\n");
    load_ok(b, "restrict 192.168.1.0 mask 255.255.255.0 nomodify notrap\n"
               "restrict 2001:db8:: mask ffff:ffff:: noquery\n");
    conf_finish(a);
    conf_finish(b);
    assert_int_equal(a->acl.n_rules, 2);
    assert_int_equal(b->acl.n_rules, 2);
    for (unsigned i = 0; i < 2; i++) {
        assert_int_equal(a->acl.rules[i].net.family, b->acl.rules[i].net.family);
        assert_memory_equal(a->acl.rules[i].net.bytes, b->acl.rules[i].net.bytes, 16);
        assert_int_equal(a->acl.rules[i].prefix_len, b->acl.rules[i].prefix_len);
        assert_int_equal(a->acl.rules[i].flags, b->acl.rules[i].flags);
    }
    /* Longest prefix first. */
    assert_int_equal(a->acl.rules[0].prefix_len, 32);
    assert_int_equal(a->acl.rules[0].net.family, NET_IPV6);
    assert_int_equal(fl(a->acl.rules[0].flags), ACL_NOQUERY);
    assert_int_equal(a->acl.rules[1].prefix_len, 24);
    assert_int_equal(fl(a->acl.rules[1].flags), ACL_NOMODIFY | ACL_NOTRAP);
    struct net_addr n = addr("192.168.1.0");
    assert_memory_equal(a->acl.rules[1].net.bytes, n.bytes, 16);

    /* Both forms name one rule: the second line replaces the first's flags. */
    load_ok(a, "restrict 192.168.1.0 mask 255.255.255.0 noserve\n");
    assert_int_equal(a->acl.n_rules, 2);
    conf_finish(a);
    struct net_addr in = addr("192.168.1.77");
    struct net_addr out = addr("192.168.2.1");
    assert_int_equal(fl(acl_match(&a->acl, &in)), ACL_NOSERVE);
    assert_int_equal(fl(acl_match(&a->acl, &out)), 0);
    free_conf(a, r1);
    free_conf(b, r2);
}

static void test_restrict_host_bits_and_hosts(void **state)
{
    struct rec *r;
    struct conf *c = new_conf(&r);
    (void)state;

    load_ok(c, "restrict 10.1.2.3 mask 255.0.0.0 kod\n" /* host bits are cleared */
               "restrict 127.0.0.1\n"                   /* a host: /32, no flags */
               "restrict ::1\n"                         /* a host: /128 */
               "restrict [fe80::]/10 ignore\n"          /* brackets accepted */
               "restrict 0.0.0.0 mask 0.0.0.0 limited\n");
    conf_finish(c);
    assert_int_equal(c->acl.n_rules, 5);
    assert_int_equal(c->acl.rules[0].prefix_len, 128);
    assert_int_equal(fl(c->acl.rules[0].flags), 0);
    assert_int_equal(c->acl.rules[1].prefix_len, 32);
    assert_int_equal(fl(c->acl.rules[1].flags), 0);
    assert_int_equal(c->acl.rules[2].prefix_len, 10);
    assert_int_equal(fl(c->acl.rules[2].flags), ACL_IGNORE);
    assert_int_equal(c->acl.rules[3].prefix_len, 8);
    assert_int_equal(fl(c->acl.rules[3].flags), ACL_KOD);
    struct net_addr ten = addr("10.0.0.0");
    assert_memory_equal(c->acl.rules[3].net.bytes, ten.bytes, 16);
    assert_int_equal(c->acl.rules[4].prefix_len, 0);
    assert_int_equal(fl(c->acl.rules[4].flags), ACL_LIMITED);

    struct net_addr x = addr("10.200.0.1");
    assert_int_equal(fl(acl_match(&c->acl, &x)), ACL_KOD);
    x = addr("127.0.0.1");
    assert_int_equal(fl(acl_match(&c->acl, &x)), 0);
    x = addr("203.0.113.9");
    assert_int_equal(fl(acl_match(&c->acl, &x)), ACL_LIMITED);
    x = addr("fe80::1234");
    assert_int_equal(fl(acl_match(&c->acl, &x)), ACL_IGNORE);
    assert_int_equal(c->n_warnings, 0);
    free_conf(c, r);
}

static void test_restrict_ipv4_mapped(void **state)
{
    struct rec *r;
    struct conf *c = new_conf(&r);
    (void)state;

    /* Sources reach the ACL as IPv4, so IPv4-mapped rules become IPv4 rules. */
    load_ok(c, "restrict ::ffff:192.0.2.0/120 noserve\n"
               "restrict ::ffff:198.51.100.7 kod\n"
               "restrict [::ffff:203.0.113.0]/120 ignore\n"
               "restrict -6 ::ffff:100.64.0.0/106 limited\n");
    conf_finish(c);
    assert_int_equal(c->acl.n_rules, 4);
    assert_int_equal(c->acl.rules[0].net.family, NET_IPV4);
    assert_int_equal(c->acl.rules[0].prefix_len, 32);
    assert_int_equal(fl(c->acl.rules[0].flags), ACL_KOD);
    for (unsigned i = 1; i < 3; i++) {
        assert_int_equal(c->acl.rules[i].net.family, NET_IPV4);
        assert_int_equal(c->acl.rules[i].prefix_len, 24);
    }
    assert_int_equal(c->acl.rules[3].net.family, NET_IPV4);
    assert_int_equal(c->acl.rules[3].prefix_len, 10);
    struct net_addr a = addr("192.0.2.9");
    assert_int_equal(fl(acl_match(&c->acl, &a)), ACL_NOSERVE);
    a = addr("198.51.100.7");
    assert_int_equal(fl(acl_match(&c->acl, &a)), ACL_KOD);
    a = addr("203.0.113.1");
    assert_int_equal(fl(acl_match(&c->acl, &a)), ACL_IGNORE);
    a = addr("100.127.0.1");
    assert_int_equal(fl(acl_match(&c->acl, &a)), ACL_LIMITED);

    /* The plain IPv4 form names the same rule. */
    load_ok(c, "restrict 192.0.2.0/24 version\n");
    assert_int_equal(c->acl.n_rules, 4);
    conf_finish(c);
    a = addr("192.0.2.9");
    assert_int_equal(fl(acl_match(&c->acl, &a)), ACL_VERSION);
    free_conf(c, r);
}

static void test_restrict_defaults_by_family(void **state)
{
    struct rec *r;
    struct conf *c = new_conf(&r);
    (void)state;

    load_ok(c, "restrict default limited kod\n");
    assert_int_equal(fl(c->acl.default4), ACL_LIMITED | ACL_KOD);
    assert_int_equal(fl(c->acl.default6), ACL_LIMITED | ACL_KOD);
    load_ok(c, "restrict -4 default noserve\n");
    assert_int_equal(fl(c->acl.default4), ACL_NOSERVE);
    assert_int_equal(fl(c->acl.default6), ACL_LIMITED | ACL_KOD);
    load_ok(c, "restrict -6 default ignore\n");
    assert_int_equal(fl(c->acl.default4), ACL_NOSERVE);
    assert_int_equal(fl(c->acl.default6), ACL_IGNORE);
    load_ok(c, "restrict default\n");
    assert_int_equal(fl(c->acl.default4), 0);
    assert_int_equal(fl(c->acl.default6), 0);
    assert_int_equal(c->acl.n_rules, 0);

    /* -4 / -6 before an address of that family. */
    load_ok(c, "restrict -4 192.0.2.0/24 noserve\nrestrict -6 2001:db8::/48 noserve\n");
    assert_int_equal(c->acl.n_rules, 2);
    conf_finish(c);
    struct net_addr v4 = addr("198.51.100.1");
    struct net_addr v6 = addr("2001:db9::1");
    assert_int_equal(fl(acl_match(&c->acl, &v4)), 0);
    assert_int_equal(fl(acl_match(&c->acl, &v6)), 0);
    assert_int_equal(c->n_warnings, 0);
    free_conf(c, r);
}

static void test_restrict_every_flag(void **state)
{
    static const struct {
        const char *word;
        uint32_t flag;
    } flags[] = {
        { "ignore", ACL_IGNORE },       { "noserve", ACL_NOSERVE },
        { "limited", ACL_LIMITED },     { "kod", ACL_KOD },
        { "noquery", ACL_NOQUERY },     { "nomodify", ACL_NOMODIFY },
        { "nopeer", ACL_NOPEER },       { "notrap", ACL_NOTRAP },
        { "nomrulist", ACL_NOMRULIST }, { "notrust", ACL_NOTRUST },
        { "ntpport", ACL_NTPPORT },     { "version", ACL_VERSION },
        { "lowpriotrap", ACL_LOWPRIOTRAP }, { "noepeer", ACL_NOEPEER },
        { "mssntp", ACL_MSSNTP },
    };
    char line[512] = "restrict default";
    uint32_t all = 0;
    (void)state;

    for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
        struct rec *r;
        struct conf *c = new_conf(&r);
        char one[64];
        snprintf(one, sizeof(one), "restrict 192.0.2.1 %s\n", flags[i].word);
        load_ok(c, one);
        assert_int_equal(c->acl.n_rules, 1);
        assert_int_equal(fl(c->acl.rules[0].flags), flags[i].flag);
        assert_int_equal(c->n_warnings, 0);
        free_conf(c, r);
        strcat(line, " ");
        strcat(line, flags[i].word);
        all |= flags[i].flag;
    }
    strcat(line, "\n");
    struct rec *r;
    struct conf *c = new_conf(&r);
    load_ok(c, line);
    assert_int_equal(fl(c->acl.default4), all);
    assert_int_equal(fl(c->acl.default6), all);
    assert_int_equal(c->n_warnings, 0);
    free_conf(c, r);
}

static void test_restrict_accepted_but_ignored(void **state)
{
    struct rec *r;
    struct conf *c = new_conf(&r);
    (void)state;

    load_ok(c, "restrict source nomodify noquery\n"                 /* 1 warning */
               "restrict default kod limited flake\n"                /* 1 warning */
               "restrict 192.0.2.0/24 serverresponse fuzz noquery\n" /* 1 warning */
               "restrict ::1 serverresponse\n");                     /* 1 warning */
    assert_int_equal(c->n_warnings, 4);
    assert_int_equal(r->n, 4);
    /* restrict source creates no rule; the other flags of those lines still count. */
    assert_int_equal(fl(c->acl.default4), ACL_KOD | ACL_LIMITED);
    assert_int_equal(c->acl.n_rules, 2);
    conf_finish(c);
    struct net_addr a = addr("192.0.2.5");
    assert_int_equal(fl(acl_match(&c->acl, &a)), ACL_NOQUERY);
    assert_memory_equal(r->msg[0], "test.conf:1: ", 13);
    assert_memory_equal(r->msg[1], "test.conf:2: ", 13);
    assert_non_null(strstr(r->msg[1], "flake"));
    assert_memory_equal(r->msg[2], "test.conf:3: ", 13);
    assert_memory_equal(r->msg[3], "test.conf:4: ", 13);
    free_conf(c, r);
}

static void test_restrict_table_limit(void **state)
{
    struct rec *r;
    struct conf *c = new_conf(&r);
    char err[512] = "";
    char line[64];
    (void)state;

    for (int i = 0; i < ACL_MAX_RULES; i++) {
        snprintf(line, sizeof(line), "restrict 10.%d.%d.0/24 noserve\n", i / 256, i % 256);
        load_ok(c, line);
    }
    assert_int_equal(c->acl.n_rules, ACL_MAX_RULES);
    /* The same network again replaces, it does not add. */
    load_ok(c, "restrict 10.0.0.0/24 ignore\n");
    assert_int_equal(c->acl.n_rules, ACL_MAX_RULES);
    assert_int_equal(
        conf_load_string(c, "full.conf", "restrict 172.16.0.0/12\n", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "full.conf:1: "));
    assert_non_null(strstr(err, "too many"));
    free_conf(c, r);
}

/* ---- discard, mru --------------------------------------------------------------- */

static void test_discard(void **state)
{
    struct rec *r;
    struct conf *c = new_conf(&r);
    (void)state;

    load_ok(c, "discard average 5 minimum 1\n");
    assert_int_equal(c->rl.average_log2, 5);
    assert_int_equal(c->rl.minimum_s, 1);
    assert_int_equal(c->rl.burst, RL_DEFAULT_BURST);
    assert_int_equal(c->n_warnings, 0);
    load_ok(c, "discard minimum 3600\ndiscard average 0\n");
    assert_int_equal(c->rl.average_log2, 0);
    assert_int_equal(c->rl.minimum_s, 3600);
    load_ok(c, "discard average 16 minimum 0 monitor 3000\n");
    assert_int_equal(c->rl.average_log2, 16);
    assert_int_equal(c->rl.minimum_s, 0);
    assert_int_equal(c->n_warnings, 1); /* monitor */
    assert_non_null(strstr(r->msg[0], "monitor"));
    free_conf(c, r);
}

static void test_mru(void **state)
{
    struct rec *r;
    struct conf *c = new_conf(&r);
    (void)state;

    load_ok(c, "mru maxdepth 4096\n");
    assert_int_equal(c->rl_entries, 4096);
    assert_int_equal(c->n_warnings, 0);
    load_ok(c, "mru maxdepth 64\n");
    assert_int_equal(c->rl_entries, 64);
    load_ok(c, "mru maxage 64 maxdepth 100000 mindepth 600 maxmem 1024 minage 10 "
               "initalloc 10 initmem 10 incalloc 10 incmem 10\n");
    assert_int_equal(c->rl_entries, 100000);
    assert_int_equal(c->n_warnings, 8); /* every mru option but maxdepth */
    for (unsigned i = 0; i < 8; i++) {
        assert_memory_equal(r->msg[i], "test.conf:1: ", 13);
    }
    free_conf(c, r);
}

/* ---- server, pool, peer --------------------------------------------------------- */

static void test_sources(void **state)
{
    struct rec *r;
    struct conf *c = new_conf(&r);
    (void)state;

    load_ok(c, "server 192.0.2.1 iburst prefer minpoll 4 maxpoll 8 port 1123\n"
               "pool pool.ntp.org burst noselect true\n"
               "peer 192.0.2.2 key 5 xleave\n"
               "server ntp.example.org minpoll 0 maxpoll 17\n"
               "server 2001:db8::1\n");
    assert_int_equal(c->n_sources, 5);

    assert_int_equal(c->sources[0].kind, CONF_SRC_SERVER);
    assert_string_equal(c->sources[0].host, "192.0.2.1");
    assert_int_equal(c->sources[0].flags, CONF_SRC_IBURST | CONF_SRC_PREFER);
    assert_int_equal(c->sources[0].minpoll, 4);
    assert_int_equal(c->sources[0].maxpoll, 8);
    assert_int_equal(c->sources[0].port, 1123);

    assert_int_equal(c->sources[1].kind, CONF_SRC_POOL);
    assert_string_equal(c->sources[1].host, "pool.ntp.org");
    assert_int_equal(c->sources[1].flags, CONF_SRC_BURST | CONF_SRC_NOSELECT | CONF_SRC_TRUE);
    assert_int_equal(c->sources[1].minpoll, 6);
    assert_int_equal(c->sources[1].maxpoll, 10);
    assert_int_equal(c->sources[1].port, 123);

    assert_int_equal(c->sources[2].kind, CONF_SRC_PEER);
    assert_string_equal(c->sources[2].host, "192.0.2.2");
    assert_int_equal(c->sources[2].flags, 0);

    assert_int_equal(c->sources[3].minpoll, 0);
    assert_int_equal(c->sources[3].maxpoll, 17);
    assert_string_equal(c->sources[4].host, "2001:db8::1");

    /* One warning per unimplemented option (key 5, xleave) and one for the peer (polled as
     * a server: symmetric mode is not implemented yet). */
    assert_int_equal(c->n_warnings, 3);
    unsigned symmetric = 0;
    for (unsigned i = 0; i < r->n && i < REC_MAX; i++) {
        if (strstr(r->msg[i], "symmetric mode") != NULL) {
            symmetric++;
        }
    }
    assert_int_equal(symmetric, 1);
    free_conf(c, r);
}

static void test_sources_limit(void **state)
{
    struct rec *r;
    struct conf *c = new_conf(&r);
    char err[512] = "";
    char line[64];
    (void)state;

    for (int i = 0; i < CONF_MAX_SOURCES; i++) {
        snprintf(line, sizeof(line), "server 192.0.2.%d\n", i + 1);
        load_ok(c, line);
    }
    assert_int_equal(c->n_sources, CONF_MAX_SOURCES);
    assert_int_equal(conf_load_string(c, "x.conf", "\npool pool.ntp.org\n", err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "x.conf:2: "));
    assert_non_null(strstr(err, "too many"));
    free_conf(c, r);
}

/* ---- warnings for directives other daemons know --------------------------------- */

static void test_unimplemented_directives_warn(void **state)
{
    /* Directives of ntpd 4.2.8 and NTPsec that Stratum does not implement yet; each
     * gives exactly one warning "NAME:LINE: ..." and changes nothing. */
    static const char *const lines[] = {
        "leapfile /usr/share/zoneinfo/leap-seconds.list",
        "statistics clockstats",
        "filegen rawstats file rawstats type day enable",
        "keys /etc/ntp.keys",
        "keysdir /etc/ntp",
        "trustedkey 1 2 (4 ... 8)",
        "controlkey 1",
        "requestkey 1",
        "revoke 16",
        "automax 12",
        "crypto pw secret",
        "ident group",
        "tos orphan 5",
        "tinker allan 1500",
        "enable calibrate",
        "disable kernel",
        "broadcast 192.0.2.255",
        "broadcastclient",
        "broadcastdelay 0.004",
        "multicastclient 224.0.1.1",
        "manycastclient 239.1.1.1",
        "manycastserver 239.1.1.1",
        "calldelay 5",
        "interface listen eth0",
        "nic ignore all",
        "fudge 127.127.1.0 stratum 10",
        "refclock shm unit 0 refid GPS",
        "device 1 /dev/ttyS0",
        "phone ATDT5551234",
        "pps /dev/pps0",
        "nts enable",
        "ntpsigndsocket /var/lib/samba/ntp_signd",
        "dscp 46",
        "qos lowdelay",
        "rlimit memlock 32",
        "mdnstries 5",
        "leapsmearinterval 86400",
        "nonvolatile 0.000001",
        "reset allpeers",
        "saveconfigdir /var/lib/ntp",
        "setvar foo = bar",
        "tick 0.01",
        "trap 192.0.2.9",
        "ttl 1 2 3",
        "unpeer 192.0.2.1",
        "unrestrict 192.0.2.1",
    };
    const size_t n = sizeof(lines) / sizeof(lines[0]);
    char text[4096];
    size_t len = 0;
    (void)state;

    for (size_t i = 0; i < n; i++) {
        len += (size_t)snprintf(text + len, sizeof(text) - len, "%s\n", lines[i]);
        assert_true(len < sizeof(text));
    }
    struct rec *r;
    struct conf *c = new_conf(&r);
    char err[512] = "";
    int rc = conf_load_string(c, "ntp.conf", text, err, sizeof(err));
    if (rc != 0) {
        print_error("%s\n", err);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(c->n_warnings, n);
    assert_int_equal(r->n, n);
    assert_true(n <= REC_MAX);
    for (size_t i = 0; i < n; i++) {
        char where[64];
        char name[32];
        snprintf(where, sizeof(where), "ntp.conf:%zu: ", i + 1);
        sscanf(lines[i], "%31s", name);
        if (strncmp(r->msg[i], where, strlen(where)) != 0 || strstr(r->msg[i], name) == NULL) {
            print_error("warning %zu: '%s'\n", i, r->msg[i]);
        }
        assert_memory_equal(r->msg[i], where, strlen(where));
        assert_non_null(strstr(r->msg[i], name));
    }
    /* Nothing was configured by them. */
    assert_int_equal(c->n_listen, 0);
    assert_int_equal(c->n_sources, 0);
    assert_int_equal(c->acl.n_rules, 0);
    assert_int_equal(c->clock, CLK_SYSTEM);
    free_conf(c, r);
}

static void test_sync_directives(void **state)
{
    struct rec *r;
    struct conf *c = new_conf(&r);
    char err[512] = "";
    (void)state;

    /* Defaults (RFC 5905 / PROTOCOL-CHECKS sec. 4). */
    assert_true(c->minsane == 1.0 && c->maxdist == 1.5);
    assert_true(c->step_threshold == 0.128 && c->stepout == 900.0 &&
                c->panic_threshold == 1000.0);
    assert_string_equal(c->driftfile, "");
    load_ok(c, "driftfile /var/lib/stratum/drift\ntos minsane 2 maxdist 0.5\n"
               "tinker step 0.4 stepout 60 panic 0\n");
    assert_string_equal(c->driftfile, "/var/lib/stratum/drift");
    assert_true(c->minsane == 2.0 && c->maxdist == 0.5);
    assert_true(c->step_threshold == 0.4 && c->stepout == 60.0 && c->panic_threshold == 0.0);
    assert_int_equal(c->n_warnings, 0);
    /* Errors name the file, the line and the word. */
    assert_int_equal(conf_load_string(c, "s.conf", "tos minsane zero\n", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "s.conf:1:"));
    assert_non_null(strstr(err, "zero"));
    assert_int_equal(conf_load_string(c, "s.conf", "tinker wobble 3\n", err, sizeof(err)), -1);
    assert_non_null(strstr(err, "wobble"));
    assert_int_equal(conf_load_string(c, "s.conf", "tinker step\n", err, sizeof(err)), -1);
    assert_int_equal(conf_load_string(c, "s.conf", "driftfile\n", err, sizeof(err)), -1);
    free_conf(c, r);
}

static void test_warnings_without_callback(void **state)
{
    struct conf *c = test_calloc(1, sizeof(*c));
    (void)state;

    conf_init(c);
    assert_null(c->warn);
    load_ok(c, "leapfile /x\ntos orphan 1\n");
    assert_int_equal(c->n_warnings, 2);
    test_free(c);
}

/* ---- errors --------------------------------------------------------------------- */

static void test_error_unknown_directive(void **state)
{
    (void)state;
    expect_error("listen 127.0.0.1\nfrobnicate 3\n", 2, "'frobnicate'");
    expect_error("# comment\n\n  Listen 127.0.0.1\n", 3, "Listen"); /* case matters */
    expect_error("chronyd_only_directive yes\n", 1, "chronyd_only_directive");
    expect_error("makestep 1 3\n", 1, "makestep"); /* chrony, not ntp.conf */
}

static void test_error_bad_number(void **state)
{
    (void)state;
    expect_error("workers x3\n", 1, "x3");
    expect_error("workers 2x\n", 1, "2x");
    expect_error("workers 1.5\n", 1, "1.5");
    expect_error("workers \"\"\n", 1, "workers");
    expect_error("local stratum ten\n", 1, "ten");
    expect_error("listen 127.0.0.1 port http\n", 1, "http");
    expect_error("clock sim start yesterday\n", 1, "yesterday");
    expect_error("clock sim freq fast\n", 1, "fast");
    expect_error("clock sim freq nan\n", 1, "nan");
    expect_error("clock sim freq inf\n", 1, "inf");
    expect_error("discard average often\n", 1, "often");
    expect_error("mru maxdepth lots\n", 1, "lots");
    expect_error("server 192.0.2.1 minpoll six\n", 1, "six");
    expect_error("restrict 10.0.0.0/eight\n", 1, "eight");
    expect_error("workers 99999999999999999999999\n", 1, "99999999999999999999999");
}

static void test_error_out_of_range(void **state)
{
    (void)state;
    expect_error("workers 65\n", 1, "65");
    expect_error("workers -1\n", 1, "-1");
    expect_error("local stratum 0\n", 1, "'0'");
    expect_error("local stratum 16\n", 1, "16");
    expect_error("listen 127.0.0.1 port 0\n", 1, "'0'");
    expect_error("listen 127.0.0.1 port 65536\n", 1, "65536");
    expect_error("clock sim start -1\n", 1, "-1");
    expect_error("clock sim freq 100001\n", 1, "100001");
    expect_error("discard average 17\n", 1, "17");
    expect_error("discard minimum 3601\n", 1, "3601");
    expect_error("mru maxdepth 63\n", 1, "63");
    expect_error("server 192.0.2.1 maxpoll 18\n", 1, "18");
    expect_error("server 192.0.2.1 port 70000\n", 1, "70000");
    expect_error("restrict 10.0.0.0/33\n", 1, "33");
    expect_error("restrict 2001:db8::/129\n", 1, "129");
    expect_error("server 192.0.2.1 minpoll 10 maxpoll 6\n", 1, "minpoll 10");
}

static void test_error_missing_argument(void **state)
{
    (void)state;
    expect_error("clock sim start\n", 1, "'start'");
    expect_error("clock sim freq\n", 1, "'freq'");
    expect_error("server 192.0.2.1 iburst maxpoll\n", 1, "'maxpoll'");
    expect_error("server 192.0.2.1 port\n", 1, "'port'");
    expect_error("server 192.0.2.1 key\n", 1, "'key'");
    expect_error("restrict 10.0.0.0 mask\n", 1, "'mask'");
    expect_error("server\n", 1, "server");
    expect_error("pool\n", 1, "pool");
    expect_error("listen\n", 1, "listen");
    expect_error("listen 127.0.0.1 port\n", 1, "listen");
    expect_error("local\n", 1, "local");
    expect_error("local stratum\n", 1, "local");
    expect_error("clock\n", 1, "clock");
    expect_error("workers\n", 1, "workers");
    expect_error("pidfile\n", 1, "pidfile");
    expect_error("logfile\n", 1, "logfile");
    expect_error("includefile\n", 1, "includefile");
    expect_error("restrict\n", 1, "restrict");
    expect_error("restrict -4\n", 1, "restrict");
    expect_error("discard\n", 1, "discard");
    expect_error("discard average\n", 1, "discard");
    expect_error("mru\n", 1, "mru");
    expect_error("mru maxdepth\n", 1, "mru");
}

static void test_error_extra_or_wrong_words(void **state)
{
    (void)state;
    expect_error("workers 2 3\n", 1, "workers");
    expect_error("pidfile /a /b\n", 1, "pidfile");
    expect_error("listen 127.0.0.1 prt 5\n", 1, "prt");
    expect_error("listen 127.0.0.1 port 5 extra\n", 1, "listen");
    expect_error("local strata 5\n", 1, "local");
    expect_error("clock atomic\n", 1, "atomic");
    expect_error("clock none start 5\n", 1, "start");
    expect_error("clock system freq 5\n", 1, "freq");
    expect_error("clock sim speed 5\n", 1, "speed");
    expect_error("discard maximum 5\n", 1, "maximum");
    expect_error("mru maxsize 5\n", 1, "maxsize");
    expect_error("server 192.0.2.1 fastest\n", 1, "fastest");
    expect_error("restrict 10.0.0.0/8 mask 255.0.0.0\n", 1, "10.0.0.0/8");
    expect_error("restrict 10.0.0.0 noquery mask 255.0.0.0\n", 1, "mask");
    expect_error("restrict 10.0.0.0 mask 255.0.255.0\n", 1, "255.0.255.0");
    expect_error("restrict 10.0.0.0 mask ffff::\n", 1, "ffff::");
    expect_error("restrict -6 127.0.0.1\n", 1, "127.0.0.1");
    expect_error("restrict -4 ::1\n", 1, "::1");
}

static void test_error_unknown_restrict_flag(void **state)
{
    (void)state;
    expect_error("restrict default nosuchflag\n", 1, "nosuchflag");
    expect_error("restrict 127.0.0.1 kod\nrestrict ::1 NOQUERY\n", 2, "NOQUERY");
    expect_error("restrict -6 default kod notrap nomodify nopeer noquery limitd\n", 1,
                 "limitd");
}

static void test_error_unterminated_quote(void **state)
{
    (void)state;
    expect_error("workers 1\nlogfile \"/var/log/x y\n", 2, "/var/log/x y");
    expect_error("pidfile \"", 1, "unterminated");
}

static void test_error_non_numeric_address(void **state)
{
    (void)state;
    expect_error("listen localhost\n", 1, "localhost");
    expect_error("listen 127.0.0.1:123\n", 1, "127.0.0.1:123");
    expect_error("listen 010.0.0.1\n", 1, "010.0.0.1");
    expect_error("listen fe80::1%eth0\n", 1, "fe80::1%eth0");
    expect_error("restrict ntp.example.org nomodify\n", 1, "ntp.example.org");
    expect_error("restrict 256.0.0.0/8\n", 1, "256.0.0.0/8");
    expect_error("restrict 10.0.0.0 mask 255.255.0\n", 1, "255.255.0");
}

static void test_error_overlong_line(void **state)
{
    char *text = test_malloc(10000);
    (void)state;

    /* 4095 characters fit; 4096 do not, even in a comment. */
    memset(text, ' ', 4095);
    memcpy(text, "# ", 2);
    strcpy(text + 4095, "\nworkers 3\n");
    struct rec *r;
    struct conf *c = new_conf(&r);
    load_ok(c, text);
    assert_int_equal(c->workers, 3);
    free_conf(c, r);

    strcpy(text, "workers 2\n\n");
    memset(text + 11, 'x', 5000);
    text[11] = '#';
    strcpy(text + 5011, "\nworkers 3\n");
    expect_error(text, 3, "longer than 4095");
    test_free(text);
}

static void test_error_too_many_words(void **state)
{
    char text[512] = "restrict default";
    (void)state;

    for (int i = 0; i < 62; i++) {
        strcat(text, " kod");
    }
    strcat(text, "\n"); /* 64 words: accepted */
    struct rec *r;
    struct conf *c = new_conf(&r);
    load_ok(c, text);
    assert_int_equal(fl(c->acl.default4), ACL_KOD);
    free_conf(c, r);

    text[strlen(text) - 1] = '\0';
    strcat(text, " kod\n"); /* 65 */
    expect_error(text, 1, "too many words");
}

static void test_error_stops_at_first(void **state)
{
    struct rec *r;
    struct conf *c = new_conf(&r);
    char err[512] = "";
    (void)state;

    /* Lines before the error are applied, lines after it are not read. */
    assert_int_equal(conf_load_string(c, "stop.conf", "workers 7\nbogus\nworkers 9\n", err,
                                      sizeof(err)),
                     -1);
    assert_int_equal(c->workers, 7);
    assert_non_null(strstr(err, "stop.conf:2: "));
    free_conf(c, r);
}

static void test_error_small_buffer(void **state)
{
    struct rec *r;
    struct conf *c = new_conf(&r);
    char err[8];
    (void)state;

    memset(err, 'Z', sizeof(err));
    assert_int_equal(conf_load_string(c, "a-rather-long-name.conf", "bogus\n", err, sizeof(err)),
                     -1);
    assert_non_null(memchr(err, '\0', sizeof(err)));
    assert_int_equal(conf_load_string(c, "x", "bogus\n", NULL, 0), -1);
    free_conf(c, r);
}

/* ---- files and includefile ------------------------------------------------------ */

static void test_load_file(void **state)
{
    const char *path = make_tmp_file();
    struct rec *r;
    struct conf *c = new_conf(&r);
    char err[1024] = "";
    (void)state;

    write_text(path, "listen 127.0.0.1 port 11123\nlocal stratum 10\nclock none\n"
                     "leapfile /var/lib/x\n");
    assert_int_equal(conf_load_file(c, path, err, sizeof(err)), 0);
    assert_int_equal(c->n_listen, 1);
    assert_int_equal(c->local_stratum, 10);
    assert_int_equal(c->clock, CLK_NONE);
    assert_int_equal(r->n, 1);
    char where[160];
    snprintf(where, sizeof(where), "%s:4: ", path);
    assert_memory_equal(r->msg[0], where, strlen(where));
    free_conf(c, r);
}

static void test_load_file_missing(void **state)
{
    struct rec *r;
    struct conf *c = new_conf(&r);
    char err[1024] = "";
    (void)state;

    assert_int_equal(conf_load_file(c, "/nonexistent/stratum/stratum.conf", err, sizeof(err)),
                     -1);
    assert_non_null(strstr(err, "/nonexistent/stratum/stratum.conf"));
    assert_non_null(strstr(err, "cannot open"));
    free_conf(c, r);
}

static void test_load_file_errors_carry_path(void **state)
{
    const char *path = make_tmp_file();
    struct rec *r;
    struct conf *c = new_conf(&r);
    char err[1024] = "";
    char where[160];
    (void)state;

    write_text(path, "# first\nworkers 1\nrestrict default kod bogusflag\n");
    assert_int_equal(conf_load_file(c, path, err, sizeof(err)), -1);
    snprintf(where, sizeof(where), "%s:3: ", path);
    assert_memory_equal(err, where, strlen(where));
    assert_non_null(strstr(err, "bogusflag"));
    free_conf(c, r);
}

static void test_load_file_nul(void **state)
{
    const char *path = make_tmp_file();
    struct rec *r;
    struct conf *c = new_conf(&r);
    char err[1024] = "";
    char where[160];
    static const char text[] = "workers 1\nwork\0ers 2\n";
    (void)state;

    write_file(path, text, sizeof(text) - 1);
    assert_int_equal(conf_load_file(c, path, err, sizeof(err)), -1);
    snprintf(where, sizeof(where), "%s:2: ", path);
    assert_memory_equal(err, where, strlen(where));
    assert_non_null(strstr(err, "NUL"));
    free_conf(c, r);
}

static void test_include_relative_to_including_file(void **state)
{
    /* Both in /tmp; the include names the other by its base name only. The test runs
     * from the build directory, so only resolution against the including file's
     * directory finds it. */
    const char *main_path = make_tmp_file();
    const char *sub_path = make_tmp_file();
    struct rec *r;
    struct conf *c = new_conf(&r);
    char err[1024] = "";
    char text[256];
    (void)state;

    snprintf(text, sizeof(text), "workers 3\nincludefile %s\nlocal stratum 8\n",
             base_name(sub_path));
    write_text(main_path, text);
    write_text(sub_path, "listen ::1 port 4000\nlocal stratum 5\ntos orphan 2\n");
    assert_int_equal(conf_load_file(c, main_path, err, sizeof(err)), 0);
    assert_int_equal(c->workers, 3);
    assert_int_equal(c->n_listen, 1);
    assert_int_equal(c->listen[0].port, 4000);
    assert_int_equal(c->local_stratum, 8); /* the line after the include wins */
    /* A warning in the included file names that file and its own line. */
    assert_int_equal(r->n, 1);
    char where[160];
    snprintf(where, sizeof(where), "%s:3: ", sub_path);
    assert_memory_equal(r->msg[0], where, strlen(where));
    free_conf(c, r);
}

static void test_include_subdirectories_and_absolute(void **state)
{
    const char *dir = make_tmp_dir();
    char sub_dir[160], main_path[160], extra_path[160], more_path[160], abs_path[160];
    char text[512];
    struct rec *r;
    struct conf *c = new_conf(&r);
    char err[1024] = "";
    (void)state;

    snprintf(sub_dir, sizeof(sub_dir), "%s/sub", dir);
    assert_int_equal(mkdir(sub_dir, 0700), 0);
    assert_true(n_tmp_dirs < TMPS_MAX);
    snprintf(tmp_dirs[n_tmp_dirs++], sizeof(tmp_dirs[0]), "%s", sub_dir);
    snprintf(main_path, sizeof(main_path), "%s/main.conf", dir);
    snprintf(extra_path, sizeof(extra_path), "%s/sub/extra.conf", dir);
    snprintf(more_path, sizeof(more_path), "%s/sub/more.conf", dir);
    track_file(main_path);
    track_file(extra_path);
    track_file(more_path);
    abs_path[0] = '\0';
    snprintf(abs_path, sizeof(abs_path), "%s", make_tmp_file());

    snprintf(text, sizeof(text), "includefile sub/extra.conf\nincludefile \"%s\"\n", abs_path);
    write_text(main_path, text);
    write_text(extra_path, "workers 6\nincludefile more.conf\n"); /* relative to sub/ */
    write_text(more_path, "local stratum 4\n");
    write_text(abs_path, "pidfile /run/p.pid\n");
    assert_int_equal(conf_load_file(c, main_path, err, sizeof(err)), 0);
    assert_int_equal(c->workers, 6);
    assert_int_equal(c->local_stratum, 4);
    assert_string_equal(c->pidfile, "/run/p.pid");
    assert_int_equal(c->n_warnings, 0);
    free_conf(c, r);
}

static void test_include_from_string_uses_name_directory(void **state)
{
    const char *sub_path = make_tmp_file();
    struct rec *r;
    struct conf *c = new_conf(&r);
    char err[1024] = "";
    char text[256];
    (void)state;

    write_text(sub_path, "workers 11\n");
    snprintf(text, sizeof(text), "includefile %s\n", base_name(sub_path));
    assert_int_equal(conf_load_string(c, "/tmp/virtual.conf", text, err, sizeof(err)), 0);
    assert_int_equal(c->workers, 11);
    free_conf(c, r);
}

static void test_include_missing_file(void **state)
{
    const char *main_path = make_tmp_file();
    struct rec *r;
    struct conf *c = new_conf(&r);
    char err[1024] = "";
    char where[160];
    (void)state;

    write_text(main_path, "workers 1\nincludefile stratum-no-such-file.conf\n");
    assert_int_equal(conf_load_file(c, main_path, err, sizeof(err)), -1);
    snprintf(where, sizeof(where), "%s:2: ", main_path);
    assert_memory_equal(err, where, strlen(where));
    assert_non_null(strstr(err, "stratum-no-such-file.conf"));
    assert_non_null(strstr(err, "cannot open"));
    free_conf(c, r);

    /* From a string too: the name and line of the including text. */
    expect_error("\n\nincludefile /nonexistent/dir/x.conf\n", 3, "/nonexistent/dir/x.conf");
}

static void test_include_error_inside_included_file(void **state)
{
    const char *main_path = make_tmp_file();
    const char *sub_path = make_tmp_file();
    struct rec *r;
    struct conf *c = new_conf(&r);
    char err[1024] = "";
    char text[256];
    char where[160];
    (void)state;

    snprintf(text, sizeof(text), "includefile %s\nworkers 2\n", sub_path);
    write_text(main_path, text);
    write_text(sub_path, "# sub\nlocal stratum 99\n");
    assert_int_equal(conf_load_file(c, main_path, err, sizeof(err)), -1);
    snprintf(where, sizeof(where), "%s:2: ", sub_path);
    assert_memory_equal(err, where, strlen(where));
    assert_non_null(strstr(err, "99"));
    assert_int_equal(c->workers, 1); /* the rest of main was not read */
    free_conf(c, r);
}

static void test_include_loop(void **state)
{
    const char *a = make_tmp_file();
    const char *b = make_tmp_file();
    struct rec *r;
    struct conf *c = new_conf(&r);
    char err[1024] = "";
    char text[256];
    char where[160];
    (void)state;

    /* a -> b -> a -> ...: the chain stops at the nesting limit, at b's include line
     * (a is at even depths, b at odd ones; the include from depth 7 is refused). */
    snprintf(text, sizeof(text), "# a\nincludefile %s\n", base_name(b));
    write_text(a, text);
    snprintf(text, sizeof(text), "includefile %s\n", base_name(a));
    write_text(b, text);
    assert_int_equal(conf_load_file(c, a, err, sizeof(err)), -1);
    snprintf(where, sizeof(where), "%s:1: ", b);
    if (strncmp(err, where, strlen(where)) != 0) {
        print_error("error: %s\n", err);
    }
    assert_memory_equal(err, where, strlen(where));
    assert_non_null(strstr(err, base_name(a)));
    assert_non_null(strstr(err, "loop"));
    free_conf(c, r);

    /* A file that includes itself. */
    c = new_conf(&r);
    snprintf(text, sizeof(text), "workers 2\nincludefile %s\n", a);
    write_text(a, text);
    assert_int_equal(conf_load_file(c, a, err, sizeof(err)), -1);
    snprintf(where, sizeof(where), "%s:2: ", a);
    assert_memory_equal(err, where, strlen(where));
    assert_non_null(strstr(err, "deeper than 8"));
    free_conf(c, r);
}

static void test_include_depth_limit(void **state)
{
    /* f0 includes f1 ... : eight files deep (f0..f7) load, a ninth is refused. */
    const char *f[9];
    char text[256];
    (void)state;

    for (int i = 0; i < 9; i++) {
        f[i] = make_tmp_file();
    }
    for (int i = 0; i < 9; i++) {
        if (i < 8) {
            snprintf(text, sizeof(text), "workers %d\nincludefile %s\n", i, f[i + 1]);
        } else {
            snprintf(text, sizeof(text), "workers %d\n", i);
        }
        write_text(f[i], text);
    }
    /* From f1: f1..f8 is eight files. */
    struct rec *r;
    struct conf *c = new_conf(&r);
    char err[1024] = "";
    assert_int_equal(conf_load_file(c, f[1], err, sizeof(err)), 0);
    assert_int_equal(c->workers, 8);
    free_conf(c, r);
    /* From f0: nine files. */
    c = new_conf(&r);
    assert_int_equal(conf_load_file(c, f[0], err, sizeof(err)), -1);
    char where[160];
    snprintf(where, sizeof(where), "%s:2: ", f[7]);
    assert_memory_equal(err, where, strlen(where));
    assert_non_null(strstr(err, base_name(f[8])));
    assert_int_equal(c->workers, 7);
    free_conf(c, r);
}

/* ---- real-world configurations -------------------------------------------------- */

/* Debian 12's stock /etc/ntpsec/ntp.conf, without its comments. */
static const char debian_ntpsec[] =
    "driftfile /var/lib/ntpsec/ntp.drift\n"
    "leapfile /usr/share/zoneinfo/leap-seconds.list\n"
    "tos maxclock 11\n"
    "tos minclock 4 minsane 3\n"
    "pool 0.debian.pool.ntp.org iburst\n"
    "pool 1.debian.pool.ntp.org iburst\n"
    "pool 2.debian.pool.ntp.org iburst\n"
    "pool 3.debian.pool.ntp.org iburst\n"
    "restrict default kod nomodify nopeer noquery limited\n"
    "restrict 127.0.0.1\n"
    "restrict ::1\n";

static void test_debian_ntpsec_config(void **state)
{
    struct rec *r;
    struct conf *c = new_conf(&r);
    char err[1024] = "";
    (void)state;

    assert_int_equal(conf_load_string(c, "/etc/ntpsec/ntp.conf", debian_ntpsec, err,
                                      sizeof(err)),
                     0);
    /* leapfile only (tos, driftfile and the pools are implemented). */
    assert_int_equal(c->n_warnings, 1);
    assert_true(c->minclock == 4.0 && c->maxclock == 11.0);
    assert_true(c->minsane == 3.0);
    assert_string_equal(c->driftfile, "/var/lib/ntpsec/ntp.drift");
    for (unsigned i = 0; i < r->n && i < REC_MAX; i++) {
        assert_memory_equal(r->msg[i], "/etc/ntpsec/ntp.conf:", 21);
    }
    assert_int_equal(c->n_sources, 4);
    for (unsigned i = 0; i < 4; i++) {
        char host[64];
        snprintf(host, sizeof(host), "%u.debian.pool.ntp.org", i);
        assert_int_equal(c->sources[i].kind, CONF_SRC_POOL);
        assert_string_equal(c->sources[i].host, host);
        assert_int_equal(c->sources[i].flags, CONF_SRC_IBURST);
    }
    uint32_t def = ACL_KOD | ACL_NOMODIFY | ACL_NOPEER | ACL_NOQUERY | ACL_LIMITED;
    assert_int_equal(fl(c->acl.default4), def);
    assert_int_equal(fl(c->acl.default6), def);
    conf_finish(c);
    assert_int_equal(c->acl.n_rules, 2);
    struct net_addr lo4 = addr("127.0.0.1");
    struct net_addr lo6 = addr("::1");
    struct net_addr other = addr("192.0.2.1");
    assert_int_equal(fl(acl_match(&c->acl, &lo4)), 0);
    assert_int_equal(fl(acl_match(&c->acl, &lo6)), 0);
    assert_int_equal(fl(acl_match(&c->acl, &other)), def);
    assert_int_equal(c->n_listen, 2); /* wildcards, port 123 */
    free_conf(c, r);
}

/* A classic ntpd 4.2.8 configuration (Debian's old ntp package and common edits). */
static const char classic_ntpd[] =
    "# /etc/ntp.conf, configuration for ntpd; see ntp.conf(5) for help\n"
    "driftfile /var/lib/ntp/ntp.drift\n"
    "leapfile /usr/share/zoneinfo/leap-seconds.list\n"
    "statsdir /var/log/ntpstats/\n"
    "statistics loopstats peerstats clockstats\n"
    "filegen loopstats file loopstats type day enable\n"
    "filegen peerstats file peerstats type day enable\n"
    "filegen clockstats file clockstats type day enable\n"
    "server 0.pool.ntp.org iburst\n"
    "server 1.pool.ntp.org iburst\n"
    "pool 2.debian.pool.ntp.org iburst\n"
    "server 127.127.1.0\n"
    "fudge 127.127.1.0 stratum 10\n"
    "restrict -4 default kod notrap nomodify nopeer noquery limited\n"
    "restrict -6 default kod notrap nomodify nopeer noquery limited\n"
    "restrict 127.0.0.1\n"
    "restrict -6 ::1\n"
    "restrict source notrap nomodify noquery\n"
    "restrict 192.168.1.0 mask 255.255.255.0 nomodify notrap\n"
    "keys /etc/ntp.keys\n"
    "trustedkey 1\n"
    "controlkey 1\n"
    "requestkey 1\n"
    "disable monitor\n";

static void test_classic_ntpd_config(void **state)
{
    struct rec *r;
    struct conf *c = new_conf(&r);
    char err[1024] = "";
    (void)state;

    int rc = conf_load_string(c, "/etc/ntp.conf", classic_ntpd, err, sizeof(err));
    if (rc != 0) {
        print_error("%s\n", err);
    }
    assert_int_equal(rc, 0);
    /* leapfile, clockstats (on the statistics line and its filegen), fudge, restrict
     * source, keys trustedkey controlkey requestkey. `disable monitor` and the loopstats
     * and peerstats statistics are implemented. */
    assert_int_equal(c->n_warnings, 9);
    assert_false(c->monitor);
    assert_string_equal(c->stats.dir, "/var/log/ntpstats/");
    assert_true(c->stats.gen[STATS_LOOP].enabled && c->stats.gen[STATS_PEER].enabled);
    assert_false(c->stats.gen[STATS_SYS].enabled);
    assert_string_equal(c->stats.gen[STATS_LOOP].file, "loopstats");
    assert_int_equal(c->stats.gen[STATS_PEER].type, STATS_GEN_DAY);
    assert_int_equal(c->n_sources, 4);
    assert_string_equal(c->sources[0].host, "0.pool.ntp.org");
    assert_int_equal(c->sources[0].kind, CONF_SRC_SERVER);
    assert_int_equal(c->sources[2].kind, CONF_SRC_POOL);
    uint32_t def = ACL_KOD | ACL_NOTRAP | ACL_NOMODIFY | ACL_NOPEER | ACL_NOQUERY | ACL_LIMITED;
    assert_int_equal(fl(c->acl.default4), def);
    assert_int_equal(fl(c->acl.default6), def);
    conf_finish(c);
    assert_int_equal(c->acl.n_rules, 3);
    struct net_addr lan = addr("192.168.1.20");
    assert_int_equal(fl(acl_match(&c->acl, &lan)), ACL_NOMODIFY | ACL_NOTRAP);
    struct net_addr lo = addr("127.0.0.1");
    assert_int_equal(fl(acl_match(&c->acl, &lo)), 0);
    struct net_addr far = addr("2001:db8::1");
    assert_int_equal(fl(acl_match(&c->acl, &far)), def);
    free_conf(c, r);
}

static void test_example_config(void **state)
{
    /* examples/stratum.conf's directives. */
    struct rec *r;
    struct conf *c = new_conf(&r);
    (void)state;

    load_ok(c, "listen 127.0.0.1 port 11123\nlocal stratum 10\nclock none\nworkers 1\n"
               "restrict default limited kod nomodify nopeer noquery\nrestrict 127.0.0.1\n"
               "discard average 3 minimum 2\n");
    assert_int_equal(c->n_warnings, 0);
    conf_finish(c);
    assert_int_equal(c->n_listen, 1);
    assert_int_equal(c->local_stratum, 10);
    assert_int_equal(c->clock, CLK_NONE);
    free_conf(c, r);
}

/* ---- parser bugs (fail until conf.c is fixed) ----------------------------------- */

/* ntp.conf(5) of ntpd and NTPsec: "server [-4|-6] address [options]" (ntp_parser.y:
 * address: ip_address | address_fam T_String). conf.c takes "-4" as the host name and
 * then fails on the real host name as an unknown option. */
static void test_bug_server_family_flag_before_address(void **state)
{
    struct rec *r;
    struct conf *c = new_conf(&r);
    char err[1024] = "";
    (void)state;

    int rc = conf_load_string(c, "fam.conf",
                              "server -4 0.pool.ntp.org iburst\npool -6 2.pool.ntp.org\n", err,
                              sizeof(err));
    if (rc != 0) {
        print_error("BUG: %s\n", err);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(c->n_sources, 2);
    assert_string_equal(c->sources[0].host, "0.pool.ntp.org");
    assert_int_equal(c->sources[0].flags, CONF_SRC_IBURST);
    assert_string_equal(c->sources[1].host, "2.pool.ntp.org");
    free_conf(c, r);
}

/* ntpd 4.2.8 restrict flags missing from conf.c: "ippeerlimit N" (since 4.2.8p11) and
 * "epeer" (keyword-gen.c, access_control_flag). They should be accepted with a warning. */
static void test_bug_restrict_ntpd_flags(void **state)
{
    struct rec *r;
    struct conf *c = new_conf(&r);
    char err[1024] = "";
    (void)state;

    int rc = conf_load_string(c, "flags.conf",
                              "restrict default kod limited ippeerlimit 2 nomodify\n"
                              "restrict 192.0.2.0/24 epeer\n",
                              err, sizeof(err));
    if (rc != 0) {
        print_error("BUG: %s\n", err);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(fl(c->acl.default4), ACL_KOD | ACL_LIMITED | ACL_NOMODIFY);
    assert_int_equal(c->acl.n_rules, 1);
    assert_int_equal(c->n_warnings, 2);
    free_conf(c, r);
}

/* ntpd and NTPsec directives missing from conf.c's table: "unconfig" (a synonym of
 * unpeer, ntp_parser.y unpeer_keyword) and "end" (stops reading the file). */
static void test_bug_unconfig_and_end_directives(void **state)
{
    struct rec *r;
    struct conf *c = new_conf(&r);
    char err[1024] = "";
    (void)state;

    int rc = conf_load_string(c, "dirs.conf", "unconfig 192.0.2.1\n", err, sizeof(err));
    if (rc != 0) {
        print_error("BUG: %s\n", err);
    }
    assert_int_equal(rc, 0);
    assert_true(c->n_warnings >= 1);
    rc = conf_load_string(c, "dirs.conf", "end\n", err, sizeof(err));
    if (rc != 0) {
        print_error("BUG: %s\n", err);
    }
    assert_int_equal(rc, 0);
    free_conf(c, r);
}

/* conf.c do_restrict: an IPv4-mapped address is unmapped to IPv4 before the mask is
 * parsed, and then an IPv6 netmask is refused as "not of the address's family". The
 * /PREFIX form of the same rule (::ffff:10.0.0.0/104) loads as 10.0.0.0/8; the mask
 * form should give the same rule. */
static void test_bug_restrict_ipv4_mapped_with_mask(void **state)
{
    struct rec *r;
    struct conf *c = new_conf(&r);
    char err[1024] = "";
    (void)state;

    load_ok(c, "restrict ::ffff:10.0.0.0/104 noserve\n");
    assert_int_equal(c->acl.n_rules, 1);
    int rc = conf_load_string(c, "mapped.conf",
                              "restrict ::ffff:10.0.0.0 mask ffff:ffff:ffff:ffff:ffff:ffff:ff00:0 "
                              "ignore\n",
                              err, sizeof(err));
    if (rc != 0) {
        print_error("BUG: %s\n", err);
    }
    assert_int_equal(rc, 0);
    assert_int_equal(c->acl.n_rules, 1);
    assert_int_equal(c->acl.rules[0].net.family, NET_IPV4);
    assert_int_equal(c->acl.rules[0].prefix_len, 8);
    assert_int_equal(fl(c->acl.rules[0].flags), ACL_IGNORE);
    free_conf(c, r);
}

/* Every configured rule and default carries ACL_CONFIGURED; the built-in default not. */
static void test_restrict_marks_configured(void **state)
{
    (void)state;
    struct rec *r;
    struct conf *c = new_conf(&r);
    conf_finish(c);
    struct net_addr x = addr("192.0.2.1");
    assert_int_equal(acl_match(&c->acl, &x), 0);
    free_conf(c, r);
    c = new_conf(&r);
    load_ok(c, "restrict -4 default noquery\nrestrict 192.0.2.0/24\n");
    conf_finish(c);
    assert_int_equal(acl_match(&c->acl, &x), ACL_CONFIGURED);
    struct net_addr y = addr("198.51.100.1");
    assert_int_equal(acl_match(&c->acl, &y), ACL_CONFIGURED | ACL_NOQUERY);
    struct net_addr z = addr("2001:db8::1");
    assert_int_equal(acl_match(&c->acl, &z), 0);
    free_conf(c, r);
}

static void test_enable_disable(void **state)
{
    (void)state;
    struct rec *r;
    struct conf *c = new_conf(&r);
    assert_true(c->monitor);
    load_ok(c, "disable monitor\n");
    assert_false(c->monitor);
    load_ok(c, "enable monitor calibrate\n");
    assert_true(c->monitor);
    assert_int_equal(r->n, 1); /* calibrate: not implemented */
    free_conf(c, r);
    expect_error("disable\n", 1, "expected a flag");
    expect_error("enable monitor telepathy\n", 1, "'telepathy'");
}

/* ---- statistics and logging ----------------------------------------------------- */

static void test_statistics_defaults(void **state)
{
    (void)state;
    struct rec *r;
    struct conf *c = new_conf(&r);
    assert_string_equal(c->stats.dir, "");
    assert_true(c->stats.on);
    for (unsigned k = 0; k < STATS_KINDS; k++) {
        assert_false(c->stats.gen[k].enabled);
        assert_int_equal(c->stats.gen[k].type, STATS_GEN_DAY); /* ntpd's defaults */
        assert_true(c->stats.gen[k].link);
        assert_string_equal(c->stats.gen[k].file, "");
    }
    assert_int_equal(c->log_level, -1);
    assert_int_equal(c->log_categories, LOG_CAT_ALL);
    assert_false(c->syslog);
    assert_int_equal(c->syslog_facility, LOG_FACILITY_DAEMON);
    free_conf(c, r);
}

static void test_statistics_filegen(void **state)
{
    (void)state;
    struct rec *r;
    struct conf *c = new_conf(&r);
    load_ok(c, "statsdir /var/log/stratum\n"
               "statistics loopstats sysstats\n"
               "filegen loopstats file loop type week nolink\n"
               "filegen peerstats type none enable\n"
               "filegen sysstats disable\n"
               "filegen sysstats type month link\n");
    assert_int_equal(r->n, 0);
    assert_string_equal(c->stats.dir, "/var/log/stratum");
    assert_true(c->stats.gen[STATS_LOOP].enabled);
    assert_string_equal(c->stats.gen[STATS_LOOP].file, "loop");
    assert_int_equal(c->stats.gen[STATS_LOOP].type, STATS_GEN_WEEK);
    assert_false(c->stats.gen[STATS_LOOP].link);
    assert_true(c->stats.gen[STATS_PEER].enabled);
    assert_int_equal(c->stats.gen[STATS_PEER].type, STATS_GEN_NONE);
    /* A later filegen line changes only what it names. */
    assert_false(c->stats.gen[STATS_SYS].enabled);
    assert_int_equal(c->stats.gen[STATS_SYS].type, STATS_GEN_MONTH);
    assert_true(c->stats.gen[STATS_SYS].link);
    /* Every ntpd type parses. */
    static const char *const types[] = { "none", "pid", "day", "week", "month", "year", "age" };
    for (unsigned i = 0; i < 7; i++) {
        char line[64];
        snprintf(line, sizeof(line), "filegen loopstats type %s\n", types[i]);
        load_ok(c, line);
        assert_int_equal(c->stats.gen[STATS_LOOP].type, (int)i);
    }
    load_ok(c, "disable stats\n");
    assert_false(c->stats.on);
    load_ok(c, "enable stats\n");
    assert_true(c->stats.on);
    assert_int_equal(r->n, 0);
    /* ntpd's statistics we do not write: one warning each, with file:line; values are
     * still checked. */
    load_ok(c, "statistics clockstats rawstats loopstats\nfilegen protostats type day\n");
    assert_int_equal(r->n, 3);
    assert_non_null(strstr(r->msg[0], "test.conf:1: "));
    assert_non_null(strstr(r->msg[0], "clockstats"));
    assert_non_null(strstr(r->msg[1], "rawstats"));
    assert_non_null(strstr(r->msg[2], "test.conf:2: "));
    free_conf(c, r);

    expect_error("statsdir\n", 1, "statsdir");
    expect_error("statsdir /a /b\n", 1, "statsdir");
    expect_error("statistics\n", 1, "statistics");
    expect_error("statistics loopstats potatostats\n", 1, "'potatostats'");
    expect_error("\nfilegen\n", 2, "filegen");
    expect_error("filegen bogusstats\n", 1, "'bogusstats'");
    expect_error("filegen loopstats type hourly\n", 1, "'hourly'");
    expect_error("filegen loopstats type\n", 1, "missing a type");
    expect_error("filegen loopstats file\n", 1, "missing a file name");
    expect_error("filegen loopstats file ../etc/passwd\n", 1, "'../etc/passwd'");
    expect_error("filegen loopstats file a/../../b\n", 1, "'a/../../b'");
    expect_error("filegen loopstats file /etc/loop\n", 1, "'/etc/loop'");
    expect_error("filegen loopstats linky\n", 1, "'linky'");
    expect_error("filegen clockstats type hourly\n", 1, "'hourly'");
}

static void test_logconfig(void **state)
{
    (void)state;
    struct rec *r;
    struct conf *c = new_conf(&r);
    load_ok(c, "logconfig =syncall +clockall\n");
    assert_int_equal(c->log_categories, LOG_CAT_CLOCK);
    load_ok(c, "logconfig =allall -peerall\n");
    assert_int_equal(c->log_categories, LOG_CAT_CLOCK | LOG_CAT_CONF | LOG_CAT_IO | LOG_CAT_MON);
    load_ok(c, "logconfig +sysall\n");
    assert_int_equal(c->log_categories, LOG_CAT_ALL);
    /* No sign: sets, as '='; ntpd's spellings allclock/allsync; '=' glued to the
     * directive, or standing alone. */
    load_ok(c, "logconfig clockall\n");
    assert_int_equal(c->log_categories, LOG_CAT_CLOCK);
    load_ok(c, "logconfig=allpeer +allsync\n");
    assert_int_equal(c->log_categories, LOG_CAT_PROTO | LOG_CAT_AUTH | LOG_CAT_CLOCK);
    load_ok(c, "logconfig = all\n");
    assert_int_equal(c->log_categories, LOG_CAT_ALL);
    assert_int_equal(r->n, 0);
    /* A type other than all is taken as the whole class, with one warning a line. */
    load_ok(c, "logconfig =syncevents +clockstatus\n");
    assert_int_equal(c->log_categories, LOG_CAT_CLOCK);
    assert_int_equal(r->n, 1);
    assert_non_null(strstr(r->msg[0], "test.conf:1: logconfig"));
    free_conf(c, r);

    expect_error("logconfig\n", 1, "logconfig");
    expect_error("logconfig =everything\n", 1, "'=everything'");
    expect_error("logconfig +clock\n", 1, "'+clock'");
    expect_error("logconfig =\n", 1, "missing");
}

static void test_loglevel_and_syslog(void **state)
{
    (void)state;
    struct rec *r;
    struct conf *c = new_conf(&r);
    load_ok(c, "loglevel notice\n");
    assert_int_equal(c->log_level, LOGL_NOTICE);
    load_ok(c, "loglevel debug\n");
    assert_int_equal(c->log_level, LOGL_DEBUG);
    load_ok(c, "loglevel err\n");
    assert_int_equal(c->log_level, LOGL_ERR);
    load_ok(c, "syslog\n");
    assert_true(c->syslog);
    assert_string_equal(c->syslog_socket, "");
    assert_int_equal(c->syslog_facility, LOG_FACILITY_DAEMON);
    load_ok(c, "syslog socket /run/test/log.sock facility local3\n");
    assert_string_equal(c->syslog_socket, "/run/test/log.sock");
    assert_int_equal(c->syslog_facility, 19);
    assert_int_equal(r->n, 0);
    free_conf(c, r);

    expect_error("loglevel\n", 1, "loglevel");
    expect_error("loglevel chatty\n", 1, "'chatty'");
    expect_error("loglevel info debug\n", 1, "loglevel");
    expect_error("syslog facility\n", 1, "missing a facility");
    expect_error("syslog facility local9\n", 1, "'local9'");
    expect_error("syslog socket\n", 1, "missing a socket path");
    expect_error("syslog port 514\n", 1, "'port'");
    char line[300];
    char longp[200];
    memset(longp, 'x', sizeof(longp) - 1);
    longp[0] = '/';
    longp[sizeof(longp) - 1] = '\0';
    snprintf(line, sizeof(line), "syslog socket %s\n", longp);
    expect_error(line, 1, "1 to 107");
}

/* http ADDRESS:PORT: off by default; IPv4, IPv6 in brackets, the wildcards; one
 * listener, the later line wins; errors carry file:line and the word. */
static void test_http(void **state)
{
    (void)state;
    struct rec *r;
    struct conf *c = new_conf(&r);
    struct net_addr a;
    assert_false(c->http.enabled);
    load_ok(c, "http 127.0.0.1:9100\n");
    assert_true(c->http.enabled);
    a = addr("127.0.0.1");
    assert_int_equal(c->http.addr.family, NET_IPV4);
    assert_memory_equal(c->http.addr.bytes, a.bytes, 16);
    assert_int_equal(c->http.port, 9100);
    load_ok(c, "http [::1]:8080\n");
    a = addr("::1");
    assert_int_equal(c->http.addr.family, NET_IPV6);
    assert_memory_equal(c->http.addr.bytes, a.bytes, 16);
    assert_int_equal(c->http.port, 8080);
    load_ok(c, "http 0.0.0.0:1\nhttp [::]:65535\n");
    a = addr("::");
    assert_int_equal(c->http.addr.family, NET_IPV6);
    assert_memory_equal(c->http.addr.bytes, a.bytes, 16);
    assert_int_equal(c->http.port, 65535);
    load_ok(c, "http [2001:db8::5]:443 # metrics\n");
    a = addr("2001:db8::5");
    assert_memory_equal(c->http.addr.bytes, a.bytes, 16);
    assert_int_equal(c->http.port, 443);
    assert_int_equal(r->n, 0);
    /* conf_finish leaves it alone; it is not an NTP listen address. */
    conf_finish(c);
    assert_true(c->http.enabled);
    assert_int_equal(c->n_listen, 2);
    free_conf(c, r);

    expect_error("http\n", 1, "expected 'http ADDRESS:PORT'");
    expect_error("workers 1\nhttp 127.0.0.1\n", 2, "'127.0.0.1': missing ':PORT'");
    expect_error("http 127.0.0.1:\n", 1, "missing the port");
    expect_error("http 127.0.0.1:0\n", 1, "'0'");
    expect_error("http 127.0.0.1:65536\n", 1, "'65536'");
    expect_error("http 127.0.0.1:-1\n", 1, "'-1'");
    expect_error("http 127.0.0.1:http\n", 1, "'http'");
    expect_error("http 127.0.0.1:80x\n", 1, "'80x'");
    expect_error("http localhost:9100\n", 1, "'localhost:9100'");
    expect_error("http 256.0.0.1:9100\n", 1, "'256.0.0.1:9100'");
    expect_error("http :9100\n", 1, "':9100'");
    expect_error("http ::1:9100\n", 1, "brackets");
    expect_error("http [::1]9100\n", 1, "'[::1]9100'");
    expect_error("http [::1]\n", 1, "'[::1]'");
    expect_error("http [::1:9100\n", 1, "'[::1:9100'");
    expect_error("http [127.0.0.1]:9100\n", 1, "'[127.0.0.1]:9100'");
    expect_error("http [fe80::1%eth0]:9100\n", 1, "'[fe80::1%eth0]:9100'");
    expect_error("http 127.0.0.1:9100 extra\n", 1, "http");
    expect_error("http 127.0.0.1 port 9100\n", 1, "http");
}

int main(void)
{
#define T(f) cmocka_unit_test_teardown(f, cleanup)
    const struct CMUnitTest tests[] = {
        T(test_http),
        cmocka_unit_test(test_enable_disable),
        cmocka_unit_test(test_statistics_defaults),
        cmocka_unit_test(test_statistics_filegen),
        cmocka_unit_test(test_logconfig),
        cmocka_unit_test(test_loglevel_and_syslog),
        cmocka_unit_test(test_restrict_marks_configured),
        T(test_init_defaults),
        T(test_finish_adds_wildcards),
        T(test_finish_keeps_configured_listen),
        T(test_words_comments_quotes),
        T(test_later_line_wins),
        T(test_load_string_twice_accumulates),
        T(test_listen_addresses),
        T(test_listen_star_is_two_wildcards),
        T(test_listen_limit),
        T(test_local_stratum),
        T(test_clock),
        T(test_workers_and_paths),
        T(test_restrict_prefix_equals_mask),
        T(test_restrict_host_bits_and_hosts),
        T(test_restrict_ipv4_mapped),
        T(test_restrict_defaults_by_family),
        T(test_restrict_every_flag),
        T(test_restrict_accepted_but_ignored),
        T(test_restrict_table_limit),
        T(test_discard),
        T(test_mru),
        T(test_sources),
        T(test_sources_limit),
        T(test_unimplemented_directives_warn),
        T(test_sync_directives),
        T(test_warnings_without_callback),
        T(test_error_unknown_directive),
        T(test_error_bad_number),
        T(test_error_out_of_range),
        T(test_error_missing_argument),
        T(test_error_extra_or_wrong_words),
        T(test_error_unknown_restrict_flag),
        T(test_error_unterminated_quote),
        T(test_error_non_numeric_address),
        T(test_error_overlong_line),
        T(test_error_too_many_words),
        T(test_error_stops_at_first),
        T(test_error_small_buffer),
        T(test_load_file),
        T(test_load_file_missing),
        T(test_load_file_errors_carry_path),
        T(test_load_file_nul),
        T(test_include_relative_to_including_file),
        T(test_include_subdirectories_and_absolute),
        T(test_include_from_string_uses_name_directory),
        T(test_include_missing_file),
        T(test_include_error_inside_included_file),
        T(test_include_loop),
        T(test_include_depth_limit),
        T(test_debian_ntpsec_config),
        T(test_classic_ntpd_config),
        T(test_example_config),
        T(test_bug_server_family_flag_before_address),
        T(test_bug_restrict_ntpd_flags),
        T(test_bug_unconfig_and_end_directives),
        T(test_bug_restrict_ipv4_mapped_with_mask),
    };
#undef T
    return cmocka_run_group_tests(tests, NULL, NULL);
}
