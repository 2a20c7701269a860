/* SPDX-License-Identifier: BSD-2-Clause */
/* Unit tests of the client-side reading of mode 6 replies (src/core/ctlvars.c): texts as
 * NTPsec's ntpd and stratumd send them (the examples of the mode 6 notes), and hostile
 * ones. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "core/ctlvars.h"

#define TEXT(s) (s), (sizeof(s) - 1)

/* A freshly started NTPsec ntpd's default system variables (captured live). */
static const char ntpd_sys[] =
    "leap=3, stratum=16, precision=-24, rootdelay=0.000, rootdisp=0.135,\r\n"
    "refid=INIT, reftime=0x00000000.00000000, tc=0, peer=0, offset=0.000000,\r\n"
    "frequency=0.000000, sys_jitter=0.000000, clk_jitter=0.000060,\r\n"
    "clock=0xeec068c5.9f1ca48b, processor=\"x86_64\",\r\n"
    "system=\"Linux/6.18.44-fc-v1300\", version=\"ntpd ntpsec-1.2.2\",\r\n"
    "clk_wander=0.000000, mintc=0\r\n";

static const char synced_sys[] =
    "leap=0, stratum=2, precision=-24, rootdelay=12.345, rootdisp=20.571,\r\n"
    "refid=203.0.113.10, reftime=0xeec06a10.3c6a7ef9, tc=6, peer=17767,\r\n"
    "offset=-0.123456, frequency=-12.345678, sys_jitter=0.045600,\r\n"
    "sync_state=\"synchronized\", peeradr=203.0.113.10:123, ss_uptime=3723\r\n";

static const char peer_vars[] =
    "srcadr=203.0.113.10, srcport=123, dstadr=192.0.2.2, dstport=123, leap=0,\r\n"
    "hmode=3, stratum=1, ppoll=6, hpoll=6, precision=-20, rootdelay=0.000,\r\n"
    "rootdisp=0.168, refid=GPS, reftime=0xeec06a12.00000000,\r\n"
    "rec=0xeec06a13.1a2b3c4d, xmt=0xeec06a13.1a1f0000, reach=0xff, unreach=0,\r\n"
    "delay=0.532100, offset=-0.123456, jitter=0.045600, dispersion=1.234567,\r\n"
    "keyid=0, filtdelay= 0.53 0.52 0.55 0.51 0.50 0.56 0.54 0.52, pmode=4,\r\n"
    "flash=0x0, headway=0, ntscookies=-1, selection=\"outlier: removed by clustering\"\r\n";

static const char mru_reply[] =
    "nonce=eec06921d70bf3e2e47d021f, mv.0=35, ct.0=3, rs.0=0x40, sc.0=0.150,\r\n"
    "dr.0=0, addr.0=192.0.2.2:49649, first.0=0xeec06910.277f6e29,\r\n"
    "last.0=0xeec06910.278bee25, ffp.0=63399, mv.1=27, rs.1=0x0, sc.1=0.050,\r\n"
    "first.1=0xeec06910.2794aa6c, dr.1=0, ct.1=1, addr.1=[::1]:43043,\r\n"
    "last.1=0xeec06910.2794aa6c, kd.1=4, ct.2=5, addr.3=10.0.0.1:123,\r\n"
    "last.3=0xeec06921.d70bf3e2, now=0xeec06921.d7148260,\r\n"
    "last.newest=0xeec06921.d70bf3e2\r\n";

static void sys_ntpd_fresh(void **state)
{
    (void)state;
    struct ctlv_sys s;
    ctlv_parse_sys(TEXT(ntpd_sys), &s);
    assert_true((s.have & CTLV_S_LEAP) != 0);
    assert_int_equal(s.leap, 3);
    assert_int_equal(s.stratum, 16);
    assert_int_equal(s.precision, -24);
    assert_string_equal(s.refid, "INIT");
    assert_int_equal(s.reftime, 0);
    assert_int_equal(s.peer, 0);
    assert_true(s.rootdisp > 0.000134 && s.rootdisp < 0.000136);
    assert_int_equal(s.clock, UINT64_C(0xeec068c59f1ca48b));
    assert_string_equal(s.version, "ntpd ntpsec-1.2.2");
    assert_true((s.have & CTLV_S_SYNC_STATE) == 0);
    assert_true((s.have & CTLV_S_UPTIME) == 0);
}

static void sys_synced(void **state)
{
    (void)state;
    struct ctlv_sys s;
    ctlv_parse_sys(TEXT(synced_sys), &s);
    assert_int_equal(s.leap, 0);
    assert_int_equal(s.stratum, 2);
    assert_int_equal(s.peer, 17767);
    assert_string_equal(s.refid, "203.0.113.10");
    assert_true(s.offset < -0.000123455 && s.offset > -0.000123457);
    assert_true(s.rootdelay > 0.0123449 && s.rootdelay < 0.0123451);
    assert_true(s.frequency_ppm < -12.34567 && s.frequency_ppm > -12.34568);
    assert_string_equal(s.sync_state, "synchronized");
    assert_string_equal(s.peeradr, "203.0.113.10:123");
    assert_int_equal(s.uptime_s, 3723);
    assert_int_equal(s.tc, 6);
}

static void peer_default_set(void **state)
{
    (void)state;
    struct ctlv_peer p;
    ctlv_parse_peer(TEXT(peer_vars), &p);
    assert_string_equal(p.srcadr, "203.0.113.10");
    assert_int_equal(p.srcport, 123);
    assert_int_equal(p.hmode, 3);
    assert_int_equal(p.stratum, 1);
    assert_int_equal(p.ppoll, 6);
    assert_int_equal(p.reach, 0xff);
    assert_string_equal(p.refid, "GPS");
    assert_true(p.delay > 0.0005320 && p.delay < 0.0005322);
    assert_true(p.jitter > 0.0000455 && p.jitter < 0.0000457);
    assert_int_equal(p.ntscookies, -1);
    assert_string_equal(p.selection, "outlier: removed by clustering");
    /* ntpq's "when": the later of rec and reftime in the reply */
    assert_true((p.have & CTLV_P_LAST_SYNC) != 0);
    assert_int_equal(p.last_sync, UINT64_C(0xeec06a131a2b3c4d));
    assert_true((p.have & CTLV_P_SRCHOST) == 0);
}

static void hostile_values(void **state)
{
    (void)state;
    struct ctlv_sys s;
    static const char junk[] =
        "leap=4, stratum=-1, refid=A\x01\xff"
        "B, version=\"x\x7fy\", offset=nan, "
        "frequency=inf, peer=70000, ss_uptime=99999999999999999999999, rootdelay=1e400, "
        "rootdisp=12abc, precision=0x10, sync_state=\"a,b=c\", peeradr";
    ctlv_parse_sys(TEXT(junk), &s);
    assert_true(
        (s.have & (CTLV_S_LEAP | CTLV_S_STRATUM | CTLV_S_OFFSET | CTLV_S_FREQUENCY | CTLV_S_PEER |
                   CTLV_S_UPTIME | CTLV_S_ROOTDELAY | CTLV_S_ROOTDISP | CTLV_S_PEERADR)) == 0);
    assert_string_equal(s.refid, "A??B");
    assert_string_equal(s.version, "x?y");
    assert_int_equal(s.precision, 16);
    assert_string_equal(s.sync_state, "a,b=c");

    /* a value longer than the member is cut, still terminated */
    char big[300];
    memset(big, 0, sizeof(big));
    memcpy(big, "version=", 8);
    memset(big + 8, 'v', 200);
    ctlv_parse_sys(big, strlen(big), &s);
    assert_int_equal(strlen(s.version), CTLV_STR - 1);

    /* no terminating NUL needed: the length bounds the text */
    ctlv_parse_sys("stratum=3", 8, &s);
    assert_int_equal(s.stratum, 0);
    assert_true((s.have & CTLV_S_STRATUM) == 0);
}

static void assocs(void **state)
{
    (void)state;
    static const uint8_t d[] = {0x45, 0x68, 0x80, 0x11, 0x45, 0x67, 0x96, 0x14, 0x00, 0x00,
                                0x12, 0x34, 0x45, 0x67, 0x90, 0x14, 0x00, 0x01, 0x80};
    struct ctlv_assoc a[8];
    size_t n = ctlv_parse_assocs(d, sizeof(d), a, 8);
    assert_int_equal(n, 2); /* zero id dropped, duplicate id dropped, ragged tail ignored */
    assert_int_equal(a[0].associd, 0x4567);
    assert_int_equal(a[1].associd, 0x4568);
    assert_int_equal(a[1].status, 0x8011);
    assert_int_equal(ctlv_parse_assocs(d, sizeof(d), a, 1), 1);
    assert_int_equal(ctlv_parse_assocs(d, 0, a, 8), 0);
}

static void mru(void **state)
{
    (void)state;
    static struct ctlv_mru_entry rows[CTLV_MRU_ROWS];
    struct ctlv_mru_reply r;
    ctlv_parse_mru(TEXT(mru_reply), &r, rows, CTLV_MRU_ROWS);
    assert_string_equal(r.nonce, "eec06921d70bf3e2e47d021f");
    assert_true(r.have_now);
    assert_int_equal(r.now, UINT64_C(0xeec06921d7148260));
    assert_int_equal(r.n, 3);
    assert_int_equal(r.dropped, 1); /* entry 2 has neither addr nor last */
    assert_string_equal(rows[0].addr, "192.0.2.2:49649");
    assert_int_equal(rows[0].count, 3);
    assert_int_equal(rows[0].mv, 35);
    assert_int_equal(rows[0].rs, 0x40);
    assert_true((rows[0].have & CTLV_M_SCORE) != 0);
    assert_true((rows[0].have & CTLV_M_KODS) == 0);
    assert_string_equal(rows[0].last_text, "0xeec06910.278bee25");
    assert_string_equal(rows[1].addr, "[::1]:43043");
    assert_int_equal(rows[1].kods, 4);
    assert_string_equal(rows[2].addr, "10.0.0.1:123");
    assert_true((rows[2].have & CTLV_M_FIRST) == 0);

    /* entries beyond the room given are dropped, the rest kept */
    ctlv_parse_mru(TEXT(mru_reply), &r, rows, 2);
    assert_int_equal(r.n, 2);
    assert_true(r.dropped >= 1);

    /* a reply without `now`: more to come; a nonce that is not plain hex is not echoed */
    ctlv_parse_mru(TEXT("nonce=\"ab, frags=1\", addr.0=1.2.3.4:5, last.0=0x1.2"), &r, rows, 8);
    assert_false(r.have_now);
    assert_string_equal(r.nonce, "");
    assert_int_equal(r.n, 1);
    assert_int_equal(rows[0].last, UINT64_C(0x100000002));

    /* an address that would break our next request is refused */
    ctlv_parse_mru(TEXT("addr.0=\"1.2.3.4:5, last.0=0x1.2\", last.0=0x1.2"), &r, rows, 8);
    assert_int_equal(r.n, 0);
}

static void lfp_and_addr(void **state)
{
    (void)state;
    ntp_ts_t t;
    char ip[CTLV_STR];
    uint16_t port;
    assert_true(ctlv_parse_lfp("0xeec06921.d7148260", &t));
    assert_int_equal(t, UINT64_C(0xeec06921d7148260));
    assert_false(ctlv_parse_lfp("0xeec06921", &t));
    assert_false(ctlv_parse_lfp("0x123456789.0", &t));
    assert_false(ctlv_parse_lfp("0x1.2 ", &t));
    assert_false(ctlv_parse_lfp("eec06921.d7148260", &t));

    assert_true(ctlv_split_addr("192.0.2.1:123", ip, sizeof(ip), &port));
    assert_string_equal(ip, "192.0.2.1");
    assert_int_equal(port, 123);
    assert_true(ctlv_split_addr("[fe80::1%eth0]:40000", ip, sizeof(ip), &port));
    assert_string_equal(ip, "fe80::1%eth0");
    assert_int_equal(port, 40000);
    assert_false(ctlv_split_addr("::1:123", ip, sizeof(ip), &port));
    assert_false(ctlv_split_addr("1.2.3.4:65536", ip, sizeof(ip), &port));
    assert_false(ctlv_split_addr("1.2.3.4:", ip, sizeof(ip), &port));
    assert_false(ctlv_split_addr("[::1]123", ip, sizeof(ip), &port));
    assert_false(ctlv_split_addr("a b:1", ip, sizeof(ip), &port));
    assert_string_equal(ip, "a b:1"); /* a printable copy for messages */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(sys_ntpd_fresh),   cmocka_unit_test(sys_synced),
        cmocka_unit_test(peer_default_set), cmocka_unit_test(hostile_values),
        cmocka_unit_test(assocs),           cmocka_unit_test(mru),
        cmocka_unit_test(lfp_and_addr),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
