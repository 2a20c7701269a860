/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of daemon/metrics: a status with two sources rendered as Prometheus text
 * (the expected lines, a HELP and a TYPE before every sample, counters ending in
 * _total), values that are not finite left out (never "NaN" or "Inf"), label values
 * escaped (quotes, backslashes, newlines, bytes that are not UTF-8 in a configured
 * host name), and the same status as JSON. When promtool is on the PATH the rendered
 * text is also given to `promtool check metrics`.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "core/pkt.h"
#include "core/srv.h"
#include "daemon/metrics.h"
#include "daemon/server.h"
#include "daemon/status.h"

/* ---- helpers -------------------------------------------------------------------- */

/* A synchronized daemon at stratum 2 with two sources: 127.0.0.1 (system peer) and
 * 192.0.2.7 (candidate), and some server traffic. */
static struct status *two_peers(void)
{
    struct status *st = test_calloc(1, sizeof(*st));
    struct status_sys *s = &st->sys;
    s->leap = 0;
    s->stratum = 2;
    s->precision = -20;
    s->refid = 0x7f000001;
    s->reftime = (ntp_ts_t)3900000000u << 32;
    s->clock = ((ntp_ts_t)3900000000u + 5) << 32;
    s->rootdelay = 0.000250;
    s->rootdisp = 0.001500;
    s->peer = 1234;
    s->offset = -0.000123;
    s->frequency = -31.25;
    s->sys_jitter = 0.000045;
    s->clk_jitter = 0.000012;
    s->clk_wander = 0.002;
    s->tc = 4;
    s->state = "synchronized";
    s->synced = true;
    s->uptime = 3600.5;
    s->clock_kind = "sim";
    s->clock_steps = 1;
    s->clock_slews = 17;
    s->clock_last_step = -2.5;
    s->clock_total_adjust = 2.75;
    s->n_peers = 2;
    snprintf(s->peeradr, sizeof(s->peeradr), "127.0.0.1:123");
    s->cnt[CNT_RECEIVED] = 60;
    s->cnt[CNT_PROCESSED] = 42;
    s->cnt[CNT_LIMITED] = 5;
    s->cnt[CNT_KODSENT] = 4;
    s->cnt[CNT_DECLINED] = 3;
    s->cnt[CNT_BADFORMAT] = 2;
    s->cnt[CNT_MODE_FIRST + 3] = 50;
    s->cnt[CNT_VERSION_FIRST + 4] = 47;
    s->cnt[CNT_SRV_FIRST + SRV_DROP_PRIVATE] = 3;
    s->cnt[CNT_PKT_FIRST + PKT_ERR_SHORT] = 2;
    s->cnt[CNT_V1_CLIENT] = 1;
    s->clients = 7;
    s->client_slots = 16384;

    struct status_peer *p = &st->peer[0];
    p->associd = 1234;
    snprintf(p->host, sizeof(p->host), "ntp.example.org");
    snprintf(p->srcadr, sizeof(p->srcadr), "127.0.0.1");
    p->srcport = 123;
    p->stratum = 1;
    p->hpoll = 6;
    p->reach = 0377;
    p->refid = 0x4c4f434c; /* LOCL */
    p->have_sample = true;
    p->offset = -0.000123;
    p->delay = 0.000080;
    p->dispersion = 0.000950;
    p->jitter = 0.000030;
    p->rootdist = 0.001;
    p->since_rec = 12.0;
    p->sel = CTL_SEL_SYSPEER;
    p->sys_peer = true;
    p->truechimer = true;
    p->cnt.sent = 20;
    p->cnt.received = 19;
    p->cnt.processed = 18;
    p->cnt.bogusorg = 1;

    p = &st->peer[1];
    p->associd = 1235;
    snprintf(p->host, sizeof(p->host), "pool.example.org");
    snprintf(p->srcadr, sizeof(p->srcadr), "192.0.2.7");
    p->srcport = 10123;
    p->pool = true;
    p->stratum = 3;
    p->hpoll = 10;
    p->reach = 0x0f;
    p->have_sample = true;
    p->offset = 0.002;
    p->delay = 0.010;
    p->jitter = 0.001;
    p->since_rec = 3.5;
    p->sel = CTL_SEL_CANDIDATE;
    p->why = "candidate: agrees, combined, not the nearest";
    p->cnt.sent = 4;
    p->cnt.received = 4;
    p->cnt.processed = 4;
    return st;
}

/* Renders st; the caller frees the text. */
static char *render_prom(const struct status *st)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    metrics_write_prometheus(f, st);
    assert_int_equal(ferror(f), 0);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(strlen(buf), len);
    return buf;
}

static char *render_json(const struct status *st)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    assert_non_null(f);
    metrics_write_json(f, st, false);
    assert_int_equal(fclose(f), 0);
    return buf;
}

/* True when text has line as one whole line. */
static bool has_line(const char *text, const char *line)
{
    size_t n = strlen(line);
    for (const char *p = text; (p = strstr(p, line)) != NULL; p++) {
        if ((p == text || p[-1] == '\n') && (p[n] == '\n' || p[n] == '\0')) {
            return true;
        }
    }
    return false;
}

static void expect_line(const char *text, const char *line)
{
    if (!has_line(text, line)) {
        print_error("missing line: %s\n", line);
    }
    assert_true(has_line(text, line));
}

/* Exposition format checks: every sample's family has a HELP and a TYPE line before
 * it, each family is declared once, counters end in _total and nothing else does, no
 * value is NaN or infinite, and every line ends in a newline. */
static void check_format(const char *text)
{
    char declared[256][96];
    char types[256][16];
    unsigned nfam = 0;
    assert_true(text[0] != '\0');
    assert_int_equal(text[strlen(text) - 1], '\n');
    for (const char *p = text; *p != '\0';) {
        const char *end = strchr(p, '\n');
        assert_non_null(end);
        char line[2048];
        size_t n = (size_t)(end - p);
        assert_true(n < sizeof(line));
        memcpy(line, p, n);
        line[n] = '\0';
        p = end + 1;
        char name[96], type[16];
        if (strncmp(line, "# HELP ", 7) == 0) {
            assert_int_equal(sscanf(line + 7, "%95s", name), 1);
            for (unsigned i = 0; i < nfam; i++) {
                if (strcmp(declared[i], name) == 0) {
                    print_error("family %s declared twice\n", name);
                    fail();
                }
            }
            assert_true(nfam < 256);
            snprintf(declared[nfam], sizeof(declared[0]), "%s", name);
            types[nfam][0] = '\0';
            nfam++;
            assert_true(strlen(line) > 8 + strlen(name)); /* some help text */
            continue;
        }
        if (strncmp(line, "# TYPE ", 7) == 0) {
            assert_int_equal(sscanf(line + 7, "%95s %15s", name, type), 2);
            assert_true(nfam > 0);
            assert_string_equal(declared[nfam - 1], name); /* right after its HELP */
            snprintf(types[nfam - 1], sizeof(types[0]), "%s", type);
            size_t nl = strlen(name);
            bool total = nl > 6 && strcmp(name + nl - 6, "_total") == 0;
            if (strcmp(type, "counter") == 0) {
                assert_true(total);
            } else {
                assert_string_equal(type, "gauge");
                assert_false(total);
            }
            assert_int_equal(strncmp(name, "stratum_", 8), 0);
            continue;
        }
        assert_true(line[0] != '#');
        size_t k = strcspn(line, "{ ");
        assert_true(k > 0 && k < sizeof(name));
        memcpy(name, line, k);
        name[k] = '\0';
        /* The sample belongs to the family declared last. */
        assert_true(nfam > 0);
        if (strcmp(declared[nfam - 1], name) != 0) {
            print_error("sample of %s under family %s\n", name, declared[nfam - 1]);
            fail();
        }
        assert_true(types[nfam - 1][0] != '\0');
        const char *value = strrchr(line, ' ');
        assert_non_null(value);
        char *vend;
        double v = strtod(value + 1, &vend);
        assert_true(*vend == '\0' && vend != value + 1);
        assert_true(isfinite(v));
    }
    assert_null(strstr(text, "NaN"));
    assert_null(strstr(text, "nan"));
    assert_null(strstr(text, "Inf"));
    assert_null(strstr(text, "inf\n"));
}

/* `promtool check metrics` on text, when promtool is installed: must exit 0. */
static void promtool_check(const char *text)
{
    if (system("command -v promtool >/dev/null 2>&1") != 0) {
        print_message("promtool not installed: lint check skipped\n");
        return;
    }
    FILE *p = popen("promtool check metrics", "w");
    assert_non_null(p);
    fputs(text, p);
    int rc = pclose(p);
    if (!(WIFEXITED(rc) && WEXITSTATUS(rc) == 0)) {
        print_error("promtool check metrics failed (%d) on:\n%s", rc, text);
        fail();
    }
}

/* ---- tests ---------------------------------------------------------------------- */

static void test_two_peers_lines(void **state)
{
    (void)state;
    struct status *st = two_peers();
    char *t = render_prom(st);
    check_format(t);

    expect_line(t, "stratum_info{version=\"" STRATUM_VERSION "\",clock=\"sim\"} 1");
    expect_line(t, "stratum_stratum 2");
    expect_line(t, "stratum_leap_indicator 0");
    expect_line(t, "stratum_sync_state{state=\"synchronized\"} 1");
    expect_line(t, "stratum_sync_state{state=\"unsynchronized\"} 0");
    expect_line(t, "stratum_sync_state{state=\"local clock\"} 0");
    expect_line(t, "stratum_sync_state{state=\"panic\"} 0");
    expect_line(t, "stratum_offset_seconds -0.000123");
    expect_line(t, "stratum_frequency_ppm -31.25");
    expect_line(t, "stratum_jitter_seconds 4.5e-05");
    expect_line(t, "stratum_root_delay_seconds 0.00025");
    expect_line(t, "stratum_root_dispersion_seconds 0.0015");
    expect_line(t, "stratum_root_distance_seconds 0.001625");
    expect_line(t, "stratum_precision_seconds 9.53674316e-07");
    expect_line(t, "stratum_poll_seconds 16");
    expect_line(t, "stratum_reference_age_seconds 5");
    expect_line(t, "stratum_uptime_seconds 3600.5");
    expect_line(t, "stratum_sources 2");
    expect_line(t, "stratum_clock_steps_total 1");
    expect_line(t, "stratum_clock_slews_total 17");
    expect_line(t, "stratum_clock_last_step_seconds -2.5");
    expect_line(t, "stratum_clock_adjust_seconds_total 2.75");
    expect_line(t, "stratum_client_list_entries 7");
    expect_line(t, "stratum_client_list_slots 16384");

    expect_line(t, "stratum_server_received_total 60");
    expect_line(t, "stratum_server_packets_total{outcome=\"processed\"} 42");
    expect_line(t, "stratum_server_packets_total{outcome=\"limited\"} 5");
    expect_line(t, "stratum_server_packets_total{outcome=\"declined\"} 3");
    expect_line(t, "stratum_server_packets_total{outcome=\"badformat\"} 2");
    expect_line(t, "stratum_server_packets_total{outcome=\"restricted\"} 0");
    expect_line(t, "stratum_server_kod_sent_total 4");
    expect_line(t, "stratum_server_dropped_total{reason=\"mode7\"} 3");
    expect_line(t, "stratum_server_dropped_total{reason=\"unreachable\"} 0");
    assert_null(strstr(t, "stratum_server_dropped_total{reason=\"answered\"}"));
    expect_line(t, "stratum_server_format_errors_total{reason=\"short\"} 2");
    expect_line(t, "stratum_server_format_errors_total{reason=\"ef-length\"} 0");
    assert_null(strstr(t, "stratum_server_format_errors_total{reason=\"ok\"}"));
    expect_line(t, "stratum_server_packets_by_mode_total{mode=\"3\"} 50");
    expect_line(t, "stratum_server_packets_by_mode_total{mode=\"0\"} 0");
    expect_line(t, "stratum_server_packets_by_mode_total{mode=\"7\"} 0");
    expect_line(t, "stratum_server_packets_by_version_total{version=\"4\"} 47");
    expect_line(t, "stratum_server_ntpv1_total{kind=\"client\"} 1");

#define P1 "associd=\"1234\",source=\"127.0.0.1\",port=\"123\""
#define P2 "associd=\"1235\",source=\"192.0.2.7\",port=\"10123\""
    expect_line(t, "stratum_source_info{" P1 ",host=\"ntp.example.org\",type=\"server\"} 1");
    expect_line(t, "stratum_source_info{" P2 ",host=\"pool.example.org\",type=\"pool\"} 1");
    expect_line(t, "stratum_source_reach{" P1 "} 255");
    expect_line(t, "stratum_source_reach{" P2 "} 15");
    expect_line(t, "stratum_source_selected{" P1 "} 1");
    expect_line(t, "stratum_source_selected{" P2 "} 0");
    expect_line(t, "stratum_source_selection{" P1 ",selection=\"sys.peer\"} 1");
    expect_line(t, "stratum_source_selection{" P1 ",selection=\"candidate\"} 0");
    expect_line(t, "stratum_source_selection{" P2 ",selection=\"candidate\"} 1");
    expect_line(t, "stratum_source_selection{" P2 ",selection=\"reject\"} 0");
    expect_line(t, "stratum_source_truechimer{" P1 "} 1");
    expect_line(t, "stratum_source_stratum{" P1 "} 1");
    expect_line(t, "stratum_source_stratum{" P2 "} 3");
    expect_line(t, "stratum_source_poll_seconds{" P1 "} 64");
    expect_line(t, "stratum_source_poll_seconds{" P2 "} 1024");
    expect_line(t, "stratum_source_offset_seconds{" P1 "} -0.000123");
    expect_line(t, "stratum_source_offset_seconds{" P2 "} 0.002");
    expect_line(t, "stratum_source_delay_seconds{" P1 "} 8e-05");
    expect_line(t, "stratum_source_jitter_seconds{" P2 "} 0.001");
    expect_line(t, "stratum_source_sample_age_seconds{" P2 "} 3.5");
    expect_line(t, "stratum_source_packets_sent_total{" P1 "} 20");
    expect_line(t, "stratum_source_packets_received_total{" P1 "} 19");
    expect_line(t, "stratum_source_samples_total{" P1 "} 18");
    expect_line(t, "stratum_source_packets_rejected_total{" P1 ",reason=\"bogusorg\"} 1");
    expect_line(t, "stratum_source_packets_rejected_total{" P2 ",reason=\"kod\"} 0");
#undef P1
#undef P2
    promtool_check(t);
    free(t);
    test_free(st);
}

/* Without sources, before any sample: the source families are declared with no
 * samples, and the reference age (never set) is left out. */
static void test_no_sources(void **state)
{
    (void)state;
    struct status *st = test_calloc(1, sizeof(*st));
    st->sys.stratum = 16;
    st->sys.leap = 3;
    st->sys.state = NULL; /* not filled: counts as unsynchronized */
    char *t = render_prom(st);
    check_format(t);
    expect_line(t, "stratum_stratum 16");
    expect_line(t, "stratum_sync_state{state=\"unsynchronized\"} 1");
    expect_line(t, "stratum_sync_state{state=\"synchronized\"} 0");
    expect_line(t, "stratum_info{version=\"" STRATUM_VERSION "\",clock=\"\"} 1");
    expect_line(t, "# TYPE stratum_source_reach gauge");
    assert_null(strstr(t, "stratum_source_reach{"));
    assert_null(strstr(t, "\nstratum_reference_age_seconds "));
    promtool_check(t);
    free(t);
    test_free(st);
}

/* A source that has not answered yet: no offset, delay, stratum; reach 0. */
static void test_source_without_sample(void **state)
{
    (void)state;
    struct status *st = two_peers();
    struct status_peer *p = &st->peer[1];
    p->have_sample = false;
    p->cnt.received = 0;
    p->since_rec = -1.0;
    p->reach = 0;
    char *t = render_prom(st);
    check_format(t);
    expect_line(t, "stratum_source_reach{associd=\"1235\",source=\"192.0.2.7\",port=\"10123\"} 0");
    assert_null(strstr(t, "stratum_source_offset_seconds{associd=\"1235\""));
    assert_null(strstr(t, "stratum_source_stratum{associd=\"1235\""));
    assert_null(strstr(t, "stratum_source_sample_age_seconds{associd=\"1235\""));
    expect_line(t, "stratum_source_offset_seconds{associd=\"1234\",source=\"127.0.0.1\","
                   "port=\"123\"} -0.000123");
    free(t);
    test_free(st);
}

/* NaN and infinities never reach the text: the sample is left out; in JSON they are
 * null. */
static void test_no_nan(void **state)
{
    (void)state;
    struct status *st = two_peers();
    st->sys.offset = NAN;
    st->sys.frequency = INFINITY;
    st->sys.sys_jitter = -INFINITY;
    st->sys.rootdisp = NAN;
    st->sys.uptime = NAN;
    st->sys.clock_total_adjust = INFINITY;
    st->peer[0].jitter = NAN;
    st->peer[1].offset = -INFINITY;
    st->peer[1].since_rec = INFINITY;
    char *t = render_prom(st);
    check_format(t);
    assert_null(strstr(t, "\nstratum_offset_seconds "));
    assert_null(strstr(t, "\nstratum_frequency_ppm "));
    assert_null(strstr(t, "\nstratum_root_distance_seconds "));
    assert_null(strstr(t, "\nstratum_clock_adjust_seconds_total "));
    assert_null(strstr(t, "stratum_source_jitter_seconds{associd=\"1234\""));
    assert_null(strstr(t, "stratum_source_offset_seconds{associd=\"1235\""));
    expect_line(t, "# TYPE stratum_offset_seconds gauge");
    expect_line(t, "stratum_stratum 2");
    promtool_check(t);
    free(t);

    char *j = render_json(st);
    assert_null(strstr(j, "nan"));
    assert_null(strstr(j, "inf"));
    assert_non_null(strstr(j, "\"offset\":null"));
    assert_non_null(strstr(j, "\"frequency_ppm\":null"));
    free(j);
    test_free(st);
}

/* Host names as configured may hold anything the config's quoting allows: quotes,
 * backslashes, newlines (through an include of a crafted file), bytes that are not
 * UTF-8. Label values escape the first three and replace the last with U+FFFD. */
static void test_label_escaping(void **state)
{
    (void)state;
    struct status *st = two_peers();
    snprintf(st->peer[0].host, sizeof(st->peer[0].host),
             "a\"b\\c\nd\xff"
             "e\xc3\xa9");
    snprintf(st->peer[1].host, sizeof(st->peer[1].host), "}\"} 1\n# TYPE x counter");
    snprintf(st->peer[1].srcadr, sizeof(st->peer[1].srcadr), "fe80::1%%eth0");
    char *t = render_prom(st);
    check_format(t);
    expect_line(t, "stratum_source_info{associd=\"1234\",source=\"127.0.0.1\",port=\"123\","
                   "host=\"a\\\"b\\\\c\\nd\xef\xbf\xbd"
                   "e\xc3\xa9\",type=\"server\"} 1");
    expect_line(t, "stratum_source_info{associd=\"1235\",source=\"fe80::1%eth0\","
                   "port=\"10123\",host=\"}\\\"} 1\\n# TYPE x counter\",type=\"pool\"} 1");
    assert_null(strstr(t, "\n# TYPE x counter"));
    promtool_check(t);
    free(t);

    char *j = render_json(st);
    assert_non_null(strstr(j, "\"host\":\"a\\\"b\\\\c\\nd\\ufffde\xc3\xa9\""));
    free(j);
    test_free(st);
}

/* A host name of the full 255 octets, every one needing an escape or a replacement:
 * the label is cut, never overflows, and stays well formed. */
static void test_long_host(void **state)
{
    (void)state;
    struct status *st = two_peers();
    memset(st->peer[0].host, 0xff, sizeof(st->peer[0].host) - 1);
    st->peer[0].host[sizeof(st->peer[0].host) - 1] = '\0';
    memset(st->peer[1].host, '"', sizeof(st->peer[1].host) - 1);
    st->peer[1].host[sizeof(st->peer[1].host) - 1] = '\0';
    char *t = render_prom(st);
    check_format(t);
    promtool_check(t);
    free(t);
    test_free(st);
}

static void test_json(void **state)
{
    (void)state;
    struct status *st = two_peers();
    char *j = render_json(st);
    const char *head = "{\"schema_version\":1,\"version\":\"" STRATUM_VERSION "\",";
    assert_int_equal(strncmp(j, head, strlen(head)), 0);
    assert_int_equal(j[strlen(j) - 1], '\n');
    assert_non_null(strstr(j, "\"state\":\"synchronized\""));
    assert_non_null(strstr(j, "\"stratum\":2,"));
    assert_non_null(strstr(j, "\"refid\":\"127.0.0.1\""));
    assert_non_null(strstr(j, "\"offset\":-0.000123000"));
    assert_non_null(strstr(j, "\"system_peer\":1234"));
    assert_non_null(strstr(j, "\"kind\":\"sim\",\"steps\":1,\"slews\":17"));
    assert_non_null(strstr(j, "\"ss_received\":60"));
    assert_non_null(strstr(j, "\"mode3\":50"));
    assert_non_null(strstr(j, "\"srv_mode7\":3"));
    assert_non_null(strstr(j, "\"pkt_short\":2"));
    assert_non_null(strstr(j, "\"associd\":1234,\"host\":\"ntp.example.org\","
                              "\"address\":\"127.0.0.1\",\"port\":123"));
    assert_non_null(strstr(j, "\"reach\":255"));
    assert_non_null(strstr(j, "\"selection\":\"sys.peer\",\"tally\":\"*\",\"selected\":true"));
    assert_non_null(strstr(j, "\"selection\":\"candidate\",\"tally\":\"+\",\"selected\":false"));
    assert_non_null(strstr(j, "\"why_not_selected\":null"));
    assert_non_null(strstr(j, "\"refid\":\"LOCL\""));
    assert_non_null(strstr(j, "\"type\":\"pool\""));
    free(j);
    test_free(st);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_two_peers_lines),
        cmocka_unit_test(test_no_sources),
        cmocka_unit_test(test_source_without_sample),
        cmocka_unit_test(test_no_nan),
        cmocka_unit_test(test_label_escaping),
        cmocka_unit_test(test_long_host),
        cmocka_unit_test(test_json),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
