/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests of the fleet monitor's pure parts and its store: durations and verdicts
 * (mon.c), the ntp and ntpq probes' reading of answers (probe.c), and the store on a
 * SQLite file (store.c): devices, leases, results, latest, history, pruning, dead owners.
 */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "core/ctl.h"
#include "core/pkt.h"
#include "monitor/mon.h"
#include "monitor/probe.h"
#include "monitor/store.h"

/* ---- mon.c ---------------------------------------------------------------------------- */

static void test_durations(void **state)
{
    (void)state;
    assert_int_equal(mon_parse_duration("45"), 45);
    assert_int_equal(mon_parse_duration("45s"), 45);
    assert_int_equal(mon_parse_duration("90m"), 5400);
    assert_int_equal(mon_parse_duration("12h"), 43200);
    assert_int_equal(mon_parse_duration("30d"), 30 * 86400);
    assert_int_equal(mon_parse_duration("2w"), 14 * 86400);
    assert_int_equal(mon_parse_duration(""), -1);
    assert_int_equal(mon_parse_duration("d"), -1);
    assert_int_equal(mon_parse_duration("-5"), -1);
    assert_int_equal(mon_parse_duration("5x"), -1);
    assert_int_equal(mon_parse_duration("5dd"), -1);
    assert_int_equal(mon_parse_duration("99999999999999999999"), -1);
}

static void test_verdict(void **state)
{
    (void)state;
    struct mon_result r;
    char why[160];
    mon_result_init(&r, 1);
    r.status = MON_OK;
    r.offset = 0.05;
    assert_int_equal(mon_verdict(0.1, 1.0, &r, why, sizeof(why)), MON_LEVEL_OK);
    r.offset = -0.2;
    assert_int_equal(mon_verdict(0.1, 1.0, &r, why, sizeof(why)), MON_LEVEL_WARNING);
    assert_non_null(strstr(why, "-0.200000"));
    r.offset = 1.5;
    assert_int_equal(mon_verdict(0.1, 1.0, &r, why, sizeof(why)), MON_LEVEL_CRITICAL);
    r.offset = 0.1; /* on the threshold: still standard */
    assert_int_equal(mon_verdict(0.1, 1.0, &r, why, sizeof(why)), MON_LEVEL_OK);
    r.offset = NAN;
    assert_int_equal(mon_verdict(0.1, 1.0, &r, why, sizeof(why)), MON_LEVEL_CRITICAL);
    r.offset = 0;
    r.status = MON_KOD;
    snprintf(r.error, sizeof(r.error), "kiss-o'-death RATE");
    assert_int_equal(mon_verdict(0.1, 1.0, &r, why, sizeof(why)), MON_LEVEL_CRITICAL);
    assert_string_equal(why, "kod: kiss-o'-death RATE");
    for (int s = 0; s < MON_STATUS_COUNT; s++) {
        assert_int_equal(mon_status_parse(mon_status_name((enum mon_status)s)), s);
    }
    assert_int_equal(mon_status_parse("fine"), -1);
    assert_int_equal(mon_probe_parse("ntpq"), MON_PROBE_NTPQ);
    assert_int_equal(mon_probe_parse("snmp"), -1);
}

/* ---- probe.c -------------------------------------------------------------------------- */

#define T1 UINT64_C(0xeb00000000000000)
#define SEC UINT64_C(0x100000000)

/* A server answer to nonce: its clock ahead by offset_s, 10 ms after our t1. */
static size_t ntp_answer(uint8_t *buf, uint64_t nonce, ntp_ts_t t1, double offset_s,
                         uint8_t leap, uint8_t stratum, const char *kiss)
{
    memset(buf, 0, 48);
    buf[0] = (uint8_t)(leap << 6 | 4 << 3 | 4);
    buf[1] = stratum;
    buf[3] = (uint8_t)-20;
    if (kiss != NULL) {
        memcpy(buf + 12, kiss, 4);
    } else {
        buf[12] = 192;
        buf[15] = 1;
    }
    ntp_ts_t t2 = ntp_ts_add(t1, 0.005 + offset_s);
    ntp_ts_t t3 = ntp_ts_add(t2, 0.0001);
    for (int i = 0; i < 8; i++) {
        buf[16 + i] = (uint8_t)(t2 >> (56 - 8 * i)); /* reference */
        buf[24 + i] = (uint8_t)(nonce >> (56 - 8 * i));
        buf[32 + i] = (uint8_t)(t2 >> (56 - 8 * i));
        buf[40 + i] = (uint8_t)(t3 >> (56 - 8 * i));
    }
    return 48;
}

static void test_probe_ntp_ok(void **state)
{
    (void)state;
    struct probe p;
    struct mon_result r;
    uint8_t buf[CTL_MAX_DGRAM], ans[48];
    enum probe_drop why;
    probe_init(&p, MON_PROBE_NTP);
    mon_result_init(&r, 7);
    assert_int_equal(probe_ntp_request(&p, buf, sizeof(buf), 111, T1), 48);
    assert_int_equal(probe_ctl_request(&p, buf, sizeof(buf), 1), 0); /* ntp only */
    /* a retry: the answer to the first try still counts (overlapping tries) */
    assert_int_equal(probe_ntp_request(&p, buf, sizeof(buf), 222, T1 + SEC / 4), 48);
    ntp_answer(ans, 999, T1, 0.25, 0, 2, NULL);
    assert_int_equal(probe_receive(&p, ans, 48, T1 + SEC / 100, -20, &r, &why), PROBE_RX_IGNORED);
    assert_int_equal(why, PROBE_DROP_BOGUS);
    ntp_answer(ans, 111, T1, 0.25, 0, 2, NULL);
    assert_int_equal(probe_receive(&p, ans, 48, T1 + SEC / 100, -20, &r, &why), PROBE_RX_DONE);
    assert_int_equal(r.status, MON_OK);
    assert_true(fabs(r.offset - 0.25) < 1e-4);
    assert_true(r.delay > 0.009 && r.delay < 0.011);
    assert_int_equal(r.stratum, 2);
    assert_string_equal(r.refid, "192.0.0.1");
    assert_true(p.done);
    /* anything later is late */
    assert_int_equal(probe_receive(&p, ans, 48, T1 + SEC / 100, -20, &r, &why), PROBE_RX_IGNORED);
    assert_int_equal(why, PROBE_DROP_LATE);
}

static void test_probe_ntp_kod_unsync_bad(void **state)
{
    (void)state;
    struct probe p;
    struct mon_result r;
    uint8_t buf[CTL_MAX_DGRAM], ans[48];
    enum probe_drop why;

    probe_init(&p, MON_PROBE_NTP);
    mon_result_init(&r, 1);
    probe_ntp_request(&p, buf, sizeof(buf), 5, T1);
    ntp_answer(ans, 5, T1, 0, 3, 0, "RATE");
    assert_int_equal(probe_receive(&p, ans, 48, T1 + SEC / 100, -20, &r, &why), PROBE_RX_DONE);
    assert_int_equal(r.status, MON_KOD);
    assert_non_null(strstr(r.error, "RATE"));

    probe_init(&p, MON_PROBE_NTP);
    mon_result_init(&r, 1);
    probe_ntp_request(&p, buf, sizeof(buf), 6, T1);
    ntp_answer(ans, 6, T1, 0, 3, 16, NULL);
    assert_int_equal(probe_receive(&p, ans, 48, T1 + SEC / 100, -20, &r, &why), PROBE_RX_DONE);
    assert_int_equal(r.status, MON_UNSYNCHRONIZED);
    assert_int_equal(r.stratum, 16);

    /* a malformed datagram first (it may not be the device's), then nothing: bad_response */
    probe_init(&p, MON_PROBE_NTP);
    mon_result_init(&r, 1);
    probe_ntp_request(&p, buf, sizeof(buf), 7, T1);
    assert_int_equal(probe_receive(&p, ans, 20, T1, -20, &r, &why), PROBE_RX_IGNORED);
    assert_int_equal(why, PROBE_DROP_MALFORMED);
    assert_false(p.done);
    probe_finish(&p, &r);
    assert_int_equal(r.status, MON_BAD_RESPONSE);
    /* ... while a good answer after the malformed one wins */
    probe_init(&p, MON_PROBE_NTP);
    mon_result_init(&r, 1);
    probe_ntp_request(&p, buf, sizeof(buf), 8, T1);
    probe_receive(&p, ans, 20, T1, -20, &r, &why);
    ntp_answer(ans, 8, T1, -0.5, 0, 1, "GPS\0");
    assert_int_equal(probe_receive(&p, ans, 48, T1 + SEC / 100, -20, &r, &why), PROBE_RX_DONE);
    assert_int_equal(r.status, MON_OK);
    assert_string_equal(r.refid, "GPS");
    /* silence */
    probe_init(&p, MON_PROBE_NTP);
    mon_result_init(&r, 1);
    probe_ntp_request(&p, buf, sizeof(buf), 9, T1);
    probe_ntp_request(&p, buf, sizeof(buf), 10, T1);
    probe_finish(&p, &r);
    assert_int_equal(r.status, MON_UNREACHABLE);
    assert_string_equal(r.error, "no answer to 2 requests");
}

/* A mode 6 response to request req_buf carrying text (one or more fragments). */
static size_t ctl_answer(const uint8_t *req_buf, size_t req_len, const char *text, size_t frag,
                         uint16_t status, uint8_t *out)
{
    struct ctl_msg req;
    assert_int_equal(ctl_decode(req_buf, req_len, &req), CTL_OK);
    return ctl_encode_response(&req, 0, status, req.associd, (const uint8_t *)text, strlen(text),
                               frag, out, CTL_MAX_DGRAM);
}

static void test_probe_ntpq(void **state)
{
    (void)state;
    static struct ctl_reasm reasm;
    struct probe p;
    struct mon_result r;
    uint8_t ntpreq[CTL_MAX_DGRAM], req[CTL_MAX_DGRAM], out[CTL_MAX_DGRAM], ans[48];
    enum probe_drop why;
    probe_init(&p, MON_PROBE_NTPQ);
    mon_result_init(&r, 3);
    assert_true(probe_wants_ctl(&p));
    p.reasm = &reasm;
    assert_int_equal(probe_ntp_request(&p, ntpreq, sizeof(ntpreq), 42, T1), 48);
    size_t rl = probe_ctl_request(&p, req, sizeof(req), 500);
    assert_true(rl > 12);
    ntp_answer(ans, 42, T1, 0.002, 0, 3, NULL);
    assert_int_equal(probe_receive(&p, ans, 48, T1 + SEC / 100, -20, &r, &why),
                     PROBE_RX_ACCEPTED);
    /* the system variables in two fragments, the last first */
    char sys[600];
    snprintf(sys, sizeof(sys), "leap=0, stratum=3, refid=192.0.2.1, offset=0.125, peer=4711, "
                               "rootdelay=1.5, rootdisp=2.5, %0400d", 0);
    size_t n1 = ctl_answer(req, rl, sys, 1, 0x0615, out);
    assert_true(n1 > 0);
    assert_int_equal(probe_receive(&p, out, n1, T1, -20, &r, &why), PROBE_RX_ACCEPTED);
    /* a stray sequence number is not ours */
    uint8_t stray[CTL_MAX_DGRAM];
    size_t n0 = ctl_answer(req, rl, sys, 0, 0x0615, stray);
    stray[3] ^= 1;
    assert_int_equal(probe_receive(&p, stray, n0, T1, -20, &r, &why), PROBE_RX_IGNORED);
    assert_int_equal(why, PROBE_DROP_CTL_STRAY);
    n0 = ctl_answer(req, rl, sys, 0, 0x0615, out);
    assert_int_equal(probe_receive(&p, out, n0, T1, -20, &r, &why), PROBE_RX_SEND);
    assert_int_equal(r.dev_synced, 1);
    assert_true(fabs(r.dev_offset - 0.000125) < 1e-12);
    /* stage 2: the system peer's address */
    rl = probe_ctl_request(&p, req, sizeof(req), 501);
    assert_true(rl > 12);
    assert_int_equal(p.ctl_assoc, 4711);
    size_t n2 = ctl_answer(req, rl, "srcadr=192.0.2.9, srcport=123", 0, 0x961a, out);
    assert_int_equal(probe_receive(&p, out, n2, T1, -20, &r, &why), PROBE_RX_DONE);
    assert_int_equal(r.status, MON_OK);
    assert_string_equal(r.dev_peer, "192.0.2.9");
    assert_string_equal(r.error, "");
}

static void test_probe_ntpq_unsync_and_refusal(void **state)
{
    (void)state;
    static struct ctl_reasm reasm;
    struct probe p;
    struct mon_result r;
    uint8_t req[CTL_MAX_DGRAM], out[CTL_MAX_DGRAM], ans[48];
    enum probe_drop why;
    /* NTP says fine, mode 6 says leap 3: unsynchronized */
    probe_init(&p, MON_PROBE_NTPQ);
    mon_result_init(&r, 3);
    p.reasm = &reasm;
    probe_ntp_request(&p, req, sizeof(req), 42, T1);
    size_t rl = probe_ctl_request(&p, req, sizeof(req), 9);
    ntp_answer(ans, 42, T1, 0, 0, 3, NULL);
    probe_receive(&p, ans, 48, T1 + SEC / 100, -20, &r, &why);
    size_t n = ctl_answer(req, rl, "leap=3, stratum=16, peer=0", 0, 0xc016, out);
    assert_int_equal(probe_receive(&p, out, n, T1, -20, &r, &why), PROBE_RX_DONE);
    assert_int_equal(r.status, MON_UNSYNCHRONIZED);
    assert_int_equal(r.dev_synced, 0);
    /* an error answer: the NTP result stands, the note says why */
    probe_init(&p, MON_PROBE_NTPQ);
    mon_result_init(&r, 3);
    p.reasm = &reasm;
    probe_ntp_request(&p, req, sizeof(req), 43, T1);
    rl = probe_ctl_request(&p, req, sizeof(req), 10);
    struct ctl_msg m;
    assert_int_equal(ctl_decode(req, rl, &m), CTL_OK);
    n = ctl_encode_error(&m, 0, CTL_ERR_PERMISSION, out, sizeof(out));
    assert_int_equal(probe_receive(&p, out, n, T1, -20, &r, &why), PROBE_RX_ACCEPTED);
    ntp_answer(ans, 43, T1, 0, 0, 3, NULL);
    assert_int_equal(probe_receive(&p, ans, 48, T1 + SEC / 100, -20, &r, &why), PROBE_RX_DONE);
    assert_int_equal(r.status, MON_OK);
    assert_non_null(strstr(r.error, "mode 6 refused"));
    /* no mode 6 answer at all */
    probe_init(&p, MON_PROBE_NTPQ);
    mon_result_init(&r, 3);
    p.reasm = &reasm;
    probe_ntp_request(&p, req, sizeof(req), 44, T1);
    probe_ctl_request(&p, req, sizeof(req), 11);
    ntp_answer(ans, 44, T1, 0, 0, 3, NULL);
    assert_int_equal(probe_receive(&p, ans, 48, T1 + SEC / 100, -20, &r, &why),
                     PROBE_RX_ACCEPTED);
    probe_finish(&p, &r);
    assert_int_equal(r.status, MON_OK);
    assert_string_equal(r.error, "no mode 6 answer");
}

/* ---- store.c (SQLite) ------------------------------------------------------------------ */

struct fixture {
    char dir[64];
    char path[96];
    struct store st;
};

static int store_setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    snprintf(f->dir, sizeof(f->dir), "/tmp/stratum-test-monitor-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->path, sizeof(f->path), "%s/m.db", f->dir);
    char err[512];
    assert_int_equal(store_open(&f->st, f->path, err, sizeof(err)), 0);
    *state = f;
    return 0;
}

static int store_teardown(void **state)
{
    struct fixture *f = *state;
    store_close(&f->st);
    char p[128];
    const char *sfx[] = { "", "-wal", "-shm" };
    for (int i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "%s%s", f->path, sfx[i]);
        unlink(p);
    }
    rmdir(f->dir);
    free(f);
    return 0;
}

static struct mon_device dev(const char *host, uint16_t port, const char *name, const char *grp)
{
    struct mon_device d;
    memset(&d, 0, sizeof(d));
    snprintf(d.host, sizeof(d.host), "%s", host);
    d.port = port;
    snprintf(d.name, sizeof(d.name), "%s", name);
    snprintf(d.group, sizeof(d.group), "%s", grp);
    d.warn = 0.1;
    d.crit = 1.0;
    d.alarm_level = -1;
    return d;
}

/* A sweep and its lease of every free device not probed since now. */
static int begin(struct store *st, const char *owner, const char *group, int64_t now,
                 int64_t until, int64_t *sid, struct mon_target **t, size_t *n)
{
    if (store_begin_sweep(st, owner, now, sid) != 0) {
        return -1;
    }
    return store_lease_devices(st, owner, group, now, now, until, 0, t, n);
}

static void test_store_devices(void **state)
{
    struct fixture *f = *state;
    struct mon_device d[3] = { dev("127.0.0.1", 123, "a", "g1"), dev("127.0.0.2", 123, "b", "g1"),
                               dev("127.0.0.3", 124, "c", "") };
    d[2].probe = MON_PROBE_NTPQ;
    assert_int_equal(store_add_devices(&f->st, d, 3, 1000), 0);
    assert_true(d[0].id > 0 && d[1].id > d[0].id);
    /* a duplicate name, and a duplicate address: all or nothing */
    struct mon_device dup[2] = { dev("127.0.0.9", 123, "z", ""), dev("127.0.0.1", 123, "y", "") };
    assert_int_equal(store_add_devices(&f->st, dup, 2, 1000), -1);
    assert_non_null(strstr(f->st.err, "in the inventory already"));
    struct mon_device *list = NULL;
    size_t n = 0;
    assert_int_equal(store_list_devices(&f->st, NULL, &list, &n), 0);
    assert_int_equal(n, 3);
    assert_string_equal(list[2].name, "c");
    assert_int_equal(list[2].port, 124);
    assert_int_equal(list[2].probe, MON_PROBE_NTPQ);
    free(list);
    assert_int_equal(store_list_devices(&f->st, "g1", &list, &n), 0);
    assert_int_equal(n, 2);
    free(list);
    struct store_group *g = NULL;
    assert_int_equal(store_list_groups(&f->st, &g, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(g[1].name, "g1");
    assert_int_equal(g[1].devices, 2);
    free(g);
    struct mon_device found;
    assert_int_equal(store_find_device(&f->st, "127.0.0.3:124", &found), 1);
    assert_string_equal(found.name, "c");
    assert_int_equal(store_find_device(&f->st, "nope", &found), 0);
    assert_int_equal(store_remove_device(&f->st, "b"), 1);
    assert_int_equal(store_remove_device(&f->st, "b"), 0);
}

static void test_store_sweeps(void **state)
{
    struct fixture *f = *state;
    struct mon_device d[2] = { dev("127.0.0.1", 123, "a", ""), dev("127.0.0.2", 123, "b", "") };
    assert_int_equal(store_add_devices(&f->st, d, 2, 1000), 0);
    int64_t sid = 0;
    struct mon_target *t = NULL;
    size_t n = 0;
    assert_int_equal(begin(&f->st, "h/1", NULL, 10000, 20000, &sid, &t, &n), 0);
    assert_int_equal(n, 2);
    assert_string_equal(t[1].host, "127.0.0.2");
    /* a second monitor meanwhile gets nothing: the devices are leased */
    int64_t sid2 = 0;
    struct mon_target *t2 = NULL;
    size_t n2 = 9;
    assert_int_equal(begin(&f->st, "h/2", NULL, 10001, 20001, &sid2, &t2, &n2), 0);
    assert_int_equal(n2, 0);
    free(t2);
    struct mon_result r[2];
    mon_result_init(&r[0], t[0].id);
    r[0].status = MON_OK;
    r[0].offset = 0.5;
    r[0].time_ms = 10500;
    snprintf(r[0].refid, sizeof(r[0].refid), "GPS");
    mon_result_init(&r[1], t[1].id);
    r[1].time_ms = 10600;
    snprintf(r[1].error, sizeof(r[1].error), "no answer");
    assert_int_equal(store_write_results(&f->st, sid, r, 2, 10700), 0);
    struct store_reference ref = { .synced = 1, .bound = 0.001, .text = "ref" };
    assert_int_equal(store_end_sweep(&f->st, sid, "h/1", 11000, &ref), 0);
    assert_int_equal(store_end_sweep(&f->st, sid2, "h/2", 11000, &ref), 0);
    free(t);

    struct mon_device *ld = NULL;
    struct mon_result *lr = NULL;
    bool *have = NULL;
    assert_int_equal(store_latest(&f->st, NULL, &ld, &lr, &have, &n), 0);
    assert_int_equal(n, 2);
    assert_true(have[0] && have[1]);
    assert_int_equal(lr[0].status, MON_OK);
    assert_true(lr[0].offset == 0.5);
    assert_string_equal(lr[0].refid, "GPS");
    assert_int_equal(lr[0].sweep_id, sid);
    assert_int_equal(lr[1].status, MON_UNREACHABLE);
    assert_true(isnan(lr[1].offset));
    assert_int_equal(lr[1].stratum, -1);
    free(ld);
    free(lr);
    free(have);

    /* a second sweep (the leases were released), then history and pruning */
    assert_int_equal(begin(&f->st, "h/1", NULL, 20000, 30000, &sid2, &t, &n), 0);
    assert_int_equal(n, 2);
    r[0].offset = 0.25;
    r[0].time_ms = 20500;
    assert_int_equal(store_write_results(&f->st, sid2, r, 1, 20600), 0);
    assert_int_equal(store_end_sweep(&f->st, sid2, "h/1", 21000, &ref), 0);
    free(t);
    struct mon_result *h = NULL;
    assert_int_equal(store_history(&f->st, r[0].device_id, 0, 100, &h, &n), 0);
    assert_int_equal(n, 2);
    assert_true(h[0].offset == 0.5 && h[1].offset == 0.25);
    free(h);
    struct store_sweep last;
    assert_int_equal(store_last_sweep(&f->st, &last), 1);
    assert_int_equal(last.id, sid2);
    assert_string_equal(last.state, "done");
    assert_string_equal(last.ref.text, "ref");
    assert_int_equal(store_prune(&f->st, 15000), 2); /* the first sweep's two results */
    struct store_stats ss;
    assert_int_equal(store_stats(&f->st, &ss), 0);
    assert_int_equal(ss.results, 1);
    assert_int_equal(ss.devices, 2);
    assert_true(ss.db_bytes > 0);
}

static void test_store_lease_pieces(void **state)
{
    struct fixture *f = *state;
    struct mon_device d[3] = { dev("127.0.0.1", 123, "a", ""), dev("127.0.0.2", 123, "b", ""),
                               dev("127.0.0.3", 123, "c", "") };
    assert_int_equal(store_add_devices(&f->st, d, 3, 1000), 0);
    int64_t s1, s2;
    struct mon_target *t = NULL;
    size_t n = 0;
    assert_int_equal(store_begin_sweep(&f->st, "m/1", 5000, &s1), 0);
    assert_int_equal(store_begin_sweep(&f->st, "m/2", 5000, &s2), 0);
    /* two monitors take turns, two devices at a time: each device goes to one of them */
    assert_int_equal(store_lease_devices(&f->st, "m/1", NULL, 5000, 5000, 99999, 2, &t, &n), 0);
    assert_int_equal(n, 2);
    int64_t first = t[0].id;
    free(t);
    assert_int_equal(store_lease_devices(&f->st, "m/2", NULL, 5000, 5000, 99999, 2, &t, &n), 0);
    assert_int_equal(n, 1);
    assert_true(t[0].id != first);
    /* m/2 probes its device; once m/1 is done and releases, its devices are probed already
     * or not: only the ones without a result since the start come back */
    struct mon_result r;
    mon_result_init(&r, t[0].id);
    r.time_ms = 5100;
    assert_int_equal(store_write_results(&f->st, s2, &r, 1, 5100), 0);
    free(t);
    struct store_reference ref = { .synced = -1, .bound = NAN, .text = "" };
    assert_int_equal(store_end_sweep(&f->st, s2, "m/2", 5200, &ref), 0);
    assert_int_equal(store_lease_devices(&f->st, "m/2", NULL, 5000, 5300, 99999, 2, &t, &n), 0);
    assert_int_equal(n, 0);
    free(t);
    assert_int_equal(store_end_sweep(&f->st, s1, "m/1", 5400, &ref), 0);
    assert_int_equal(store_lease_devices(&f->st, "m/3", NULL, 5000, 5500, 99999, 0, &t, &n), 0);
    assert_int_equal(n, 2); /* m/1 wrote nothing: both of its devices are free and unprobed */
    free(t);
}

static void test_store_dead_owner(void **state)
{
    struct fixture *f = *state;
    struct mon_device d[1] = { dev("127.0.0.1", 123, "a", "") };
    assert_int_equal(store_add_devices(&f->st, d, 1, 1000), 0);
    int64_t sid, sid2;
    struct mon_target *t = NULL;
    size_t n = 0;
    assert_int_equal(begin(&f->st, "h/1", NULL, 10000, 10000 + 3600000, &sid, &t,
                                       &n), 0);
    free(t);
    /* killed: no end; its process gone, so this machine takes its devices back */
    char(*owners)[128] = NULL;
    assert_int_equal(store_running_owners(&f->st, &owners, &n), 0);
    assert_int_equal(n, 1);
    assert_string_equal(owners[0], "h/1");
    free(owners);
    assert_int_equal(store_release_owner(&f->st, "h/1"), 0);
    assert_int_equal(begin(&f->st, "h/2", NULL, 11000, 20000, &sid2, &t, &n), 0);
    assert_int_equal(n, 1);
    free(t);
    struct store_sweep last;
    assert_int_equal(store_last_sweep(&f->st, &last), 1);
    assert_int_equal(last.id, sid2);
    /* another machine's monitor that fell silent: a minute without heartbeat */
    assert_int_equal(begin(&f->st, "other/7", NULL, 11000 + 61000, 200000, &sid, &t,
                                       &n), 0);
    assert_int_equal(n, 1);
    free(t);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_verdict),
        cmocka_unit_test(test_probe_ntp_ok),
        cmocka_unit_test(test_probe_ntp_kod_unsync_bad),
        cmocka_unit_test(test_probe_ntpq),
        cmocka_unit_test(test_probe_ntpq_unsync_and_refusal),
        cmocka_unit_test_setup_teardown(test_store_devices, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_store_sweeps, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_store_lease_pieces, store_setup, store_teardown),
        cmocka_unit_test_setup_teardown(test_store_dead_owner, store_setup, store_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
