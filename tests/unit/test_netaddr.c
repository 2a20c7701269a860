/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for core/netaddr: numeric parsing (valid and hostile text), RFC 5952 text
 * out, prefix matching at the byte and family boundaries, and netmask conversion.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <string.h>
#include <cmocka.h>

#include "core/netaddr.h"

static struct net_addr addr(const char *text)
{
    struct net_addr a;

    assert_int_equal(net_addr_parse(text, &a), 0);
    return a;
}

static void test_ipv4_valid(void **state)
{
    static const char *const forms[] = {
        "0.0.0.0",    "255.255.255.255", "1.2.3.4",     "192.168.0.1",
        "10.0.0.255", "127.0.0.1",       "100.64.9.99", "203.0.113.200",
    };
    char buf[64];
    struct net_addr a;

    (void)state;
    for (size_t i = 0; i < sizeof forms / sizeof forms[0]; i++) {
        assert_int_equal(net_addr_parse(forms[i], &a), 0);
        assert_int_equal(a.family, NET_IPV4);
        assert_string_equal(net_addr_format(&a, buf, sizeof buf), forms[i]);
    }

    a = addr("192.0.2.254");
    assert_int_equal(a.bytes[0], 192);
    assert_int_equal(a.bytes[1], 0);
    assert_int_equal(a.bytes[2], 2);
    assert_int_equal(a.bytes[3], 254);
    for (int i = 4; i < 16; i++) {
        assert_int_equal(a.bytes[i], 0);
    }
}

static void test_ipv4_invalid(void **state)
{
    static const char *const bad[] = {
        "",          "1.2.3",        "1.2.3.4.5", "256.0.0.1",  "1.2.3.256", "1.2.3.04",
        "01.2.3.4",  "00.0.0.0",     "1..2.3",    "1.2.3.",     ".1.2.3",    " 1.2.3.4",
        "1.2.3.4 ",  "1.2.3.-4",     "0x1.2.3.4", "1.2.3.4/24", "a.b.c.d",   "1234.1.1.1",
        "localhost", "1.2.3.4%eth0", "1",         "16909060",   "1.2.3.4\n", "+1.2.3.4",
        "1.2.3.4.",  "1.2.3.4a",     "999.1.1.1", "1.2..3",     "1,2,3,4",   "[1.2.3.4]",
    };
    struct net_addr a;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&a, 0xa5, sizeof a);
        if (net_addr_parse(bad[i], &a) != -1) {
            fail_msg("accepted \"%s\"", bad[i]);
        }
        /* A failed parse leaves the output alone. */
        assert_int_equal(a.family, 0xa5);
    }
    assert_int_equal(net_addr_parse(NULL, &a), -1);
    assert_int_equal(net_addr_parse("1.2.3.4", NULL), -1);
}

/* Input form and its RFC 5952 form. */
static const struct {
    const char *in;
    const char *out;
} v6_forms[] = {
    {"::", "::"},
    {"0:0:0:0:0:0:0:0", "::"},
    {"::1", "::1"},
    {"0:0:0:0:0:0:0:1", "::1"},
    {"1::", "1::"},
    {"1:0:0:0:0:0:0:0", "1::"},
    {"2001:DB8::1", "2001:db8::1"},
    {"2001:0db8:0000:0000:0000:0000:0000:0001", "2001:db8::1"},
    {"2001:db8::0:1", "2001:db8::1"},
    /* RFC 5952 sec. 4.2.3: first of two equal runs. */
    {"2001:db8:0:0:1:0:0:1", "2001:db8::1:0:0:1"},
    /* sec. 4.2.3: the longest run. */
    {"2001:0:0:1:0:0:0:1", "2001:0:0:1::1"},
    /* sec. 4.2.2: one zero group is not compressed. */
    {"2001:db8:0:1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},
    {"2001:db8::1:1:1:1:1", "2001:db8:0:1:1:1:1:1"},
    {"1:2:3:4:5:6:7::", "1:2:3:4:5:6:7:0"},
    {"::2:3:4:5:6:7:8", "0:2:3:4:5:6:7:8"},
    {"0:0:1:0:0:1:0:0", "::1:0:0:1:0:0"},
    {"1:0:0:2:0:0:0:3", "1:0:0:2::3"},
    {"1:0:0:0:1:0:0:0", "1::1:0:0:0"},
    {"0:0:0:1:0:0:0:0", "0:0:0:1::"},
    {"a:0:b:0:c:0:d:0", "a:0:b:0:c:0:d:0"},
    {"FE80::1", "fe80::1"},
    {"0001:0002::000a", "1:2::a"},
    {"ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff"},
    {"AbCd:Ef01:2345:6789:aBcD:eF01:2345:6789", "abcd:ef01:2345:6789:abcd:ef01:2345:6789"},
    /* sec. 5: IPv4-mapped keeps the dotted quad, whichever way it was written. */
    {"::ffff:1.2.3.4", "::ffff:1.2.3.4"},
    {"::FFFF:192.0.2.1", "::ffff:192.0.2.1"},
    {"::ffff:c000:0201", "::ffff:192.0.2.1"},
    {"0:0:0:0:0:ffff:255.255.255.255", "::ffff:255.255.255.255"},
    {"::ffff:0.0.0.0", "::ffff:0.0.0.0"},
    /* Other embedded IPv4 forms are written as hex groups. */
    {"64:ff9b::192.0.2.33", "64:ff9b::c000:221"},
    {"::1.2.3.4", "::102:304"},
    {"1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:102:304"},
    {"1::1.2.3.4", "1::102:304"},
    {"::ffff:0:1.2.3.4", "::ffff:0:102:304"},
    {"2001:db8:85a3::8a2e:370:7334", "2001:db8:85a3::8a2e:370:7334"},
};

static void test_ipv6_round_trip(void **state)
{
    char buf[64];
    char again[64];
    struct net_addr a;
    struct net_addr b;

    (void)state;
    for (size_t i = 0; i < sizeof v6_forms / sizeof v6_forms[0]; i++) {
        if (net_addr_parse(v6_forms[i].in, &a) != 0) {
            fail_msg("rejected \"%s\"", v6_forms[i].in);
        }
        assert_int_equal(a.family, NET_IPV6);
        assert_string_equal(net_addr_format(&a, buf, sizeof buf), v6_forms[i].out);
        /* The canonical form parses back to the same bytes and formats to itself. */
        assert_int_equal(net_addr_parse(buf, &b), 0);
        assert_memory_equal(a.bytes, b.bytes, 16);
        assert_string_equal(net_addr_format(&b, again, sizeof again), buf);
    }
}

static void test_ipv6_bytes(void **state)
{
    static const uint8_t want1[16] = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};
    static const uint8_t want2[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 1, 2, 3, 4};
    static const uint8_t want3[16] = {0, 1, 0, 2, 0, 3, 0, 4, 0, 5, 0, 6, 0, 7, 0, 0};
    struct net_addr a;

    (void)state;
    a = addr("2001:db8::1");
    assert_memory_equal(a.bytes, want1, 16);
    a = addr("::ffff:1.2.3.4");
    assert_memory_equal(a.bytes, want2, 16);
    a = addr("1:2:3:4:5:6:7::");
    assert_memory_equal(a.bytes, want3, 16);
}

static void test_ipv6_invalid(void **state)
{
    static const char *const bad[] = {
        ":::",
        "1:::2",
        "1::2::3",
        "::1::",
        ":1::2",
        ":1:2:3:4:5:6:7:8",
        "1::2:",
        "1:2:3:4:5:6:7:8:",
        "1:2:3:4:5:6:7:8:9",
        "1:2:3:4:5:6:7",
        "1:2:3:4:5:6:7:8::",
        "::1:2:3:4:5:6:7:8",
        "1::2:3:4:5:6:7:8",
        "12345::1",
        "00000::1",
        "::00001",
        "g::1",
        "fe80::1%eth0",
        "fe80::1%1",
        "[::1]",
        "[::1]:123",
        "::1 ",
        " ::1",
        "::1\t",
        ":",
        "1:",
        ":1",
        "::1/64",
        "2001:db8::1x",
        "::-1",
        "::+1",
        "1:2:3:4:5:6:7:1.2.3.4",
        "::1:2:3:4:5:6:1.2.3.4",
        "::ffff:1.2.3",
        "::ffff:1.2.3.4.5",
        "::ffff:01.2.3.4",
        "::ffff:256.2.3.4",
        "::1.2.3.4:5",
        "::1.2.3.4::",
        "1.2.3.4::",
        "::ffff:1.2.3.4%eth0",
        "0x1::",
        "ip6-localhost",
        "1:2:3:4:5:6:7:8:1.2.3.4",
        "1:2:3:4:5:6:7:ab.1.2.3",
        "2001:db8:::1",
        "::ffff:1..2.3",
        "1:2:3:4:5:6:7:8 ",
    };
    struct net_addr a;

    (void)state;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        memset(&a, 0x5a, sizeof a);
        if (net_addr_parse(bad[i], &a) != -1) {
            fail_msg("accepted \"%s\"", bad[i]);
        }
        assert_int_equal(a.family, 0x5a);
    }
}

static void test_format_edges(void **state)
{
    char buf[64];
    char small[5];
    struct net_addr none;
    struct net_addr a;

    (void)state;
    memset(&none, 0, sizeof none);
    assert_string_equal(net_addr_format(&none, buf, sizeof buf), "?");
    assert_string_equal(net_addr_format(NULL, buf, sizeof buf), "?");

    /* A short buffer truncates but stays terminated. */
    a = addr("192.168.100.200");
    assert_ptr_equal(net_addr_format(&a, small, sizeof small), small);
    assert_string_equal(small, "192.");
    buf[0] = 'x';
    assert_string_equal(net_addr_format(&a, buf, 1), "");
    assert_null(net_addr_format(&a, NULL, 10));

    /* The longest forms fit the documented 46 octets. */
    char exact[46];
    a = addr("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff");
    assert_int_equal(strlen(net_addr_format(&a, exact, sizeof exact)), 39);
    a = addr("::ffff:255.255.255.255");
    assert_int_equal(strlen(net_addr_format(&a, exact, sizeof exact)), 22);
}

static void test_match_ipv4(void **state)
{
    struct net_addr a = addr("192.168.1.129");
    struct net_addr n128 = addr("192.168.1.128");
    struct net_addr n0 = addr("0.0.0.0");
    struct net_addr all = addr("255.255.255.255");
    struct net_addr low = addr("10.0.0.0");
    struct net_addr low2 = addr("127.255.255.255");
    struct net_addr high = addr("128.0.0.0");
    struct net_addr six = addr("::");

    (void)state;
    assert_true(net_addr_match(&a, &n0, 0));
    assert_true(net_addr_match(&a, &all, 0));
    assert_true(net_addr_match(&low, &low2, 1));
    assert_false(net_addr_match(&low, &high, 1));
    assert_true(net_addr_match(&all, &high, 1));
    assert_true(net_addr_match(&a, &n128, 24));
    assert_true(net_addr_match(&a, &n128, 25));
    assert_true(net_addr_match(&a, &n128, 31));
    assert_false(net_addr_match(&a, &n128, 32));
    assert_true(net_addr_match(&a, &a, 32));
    /* Beyond the family, and across families, nothing matches. */
    assert_false(net_addr_match(&a, &a, 33));
    assert_false(net_addr_match(&a, &six, 0));
    assert_false(net_addr_match(&six, &n0, 0));
    assert_false(net_addr_match(NULL, &n0, 0));
}

static void test_match_ipv6(void **state)
{
    struct net_addr net = addr("2001:db8::");
    struct net_addr in64 = addr("2001:db8::ffff:ffff:ffff:ffff");
    struct net_addr next64 = addr("2001:db8:0:1::");
    struct net_addr next63 = addr("2001:db8:0:2::");
    struct net_addr two = addr("::2");
    struct net_addr three = addr("::3");
    struct net_addr four = addr("::4");
    struct net_addr zero = addr("::");
    struct net_addr top = addr("8000::");
    struct net_addr below = addr("7fff:ffff::");
    struct net_addr none;

    (void)state;
    assert_true(net_addr_match(&in64, &net, 63));
    assert_true(net_addr_match(&in64, &net, 64));
    assert_false(net_addr_match(&in64, &net, 65));
    assert_true(net_addr_match(&next64, &net, 63));
    assert_false(net_addr_match(&next64, &net, 64));
    assert_false(net_addr_match(&next63, &net, 63));
    assert_true(net_addr_match(&next63, &net, 62));
    assert_true(net_addr_match(&three, &two, 127));
    assert_false(net_addr_match(&three, &two, 128));
    assert_false(net_addr_match(&four, &two, 127));
    assert_true(net_addr_match(&two, &two, 128));
    assert_false(net_addr_match(&two, &two, 129));
    assert_true(net_addr_match(&top, &zero, 0));
    assert_false(net_addr_match(&top, &zero, 1));
    assert_true(net_addr_match(&below, &zero, 1));
    memset(&none, 0, sizeof none);
    assert_false(net_addr_match(&none, &none, 0));
}

static void check_mask(const char *text, int want)
{
    struct net_addr m = addr(text);
    int got = net_mask_prefix(&m);

    if (got != want) {
        fail_msg("%s: prefix %d, want %d", text, got, want);
    }
}

static void test_mask_prefix(void **state)
{
    struct net_addr none;

    (void)state;
    check_mask("255.255.0.0", 16);
    check_mask("0.0.0.0", 0);
    check_mask("255.255.255.255", 32);
    check_mask("255.255.255.254", 31);
    check_mask("128.0.0.0", 1);
    check_mask("255.255.255.128", 25);
    check_mask("255.255.240.0", 20);
    check_mask("255.0.255.0", -1);
    check_mask("255.255.0.1", -1);
    check_mask("254.255.0.0", -1);
    check_mask("255.255.253.0", -1);
    check_mask("0.0.0.1", -1);
    check_mask("127.0.0.0", -1);
    check_mask("ffff:ffff:ffff:ffff::", 64);
    check_mask("::", 0);
    check_mask("ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff", 128);
    check_mask("ffff:ffff:ffff:fffe::", 63);
    check_mask("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffe", 127);
    check_mask("ffff:ffff:ffff:ffff:8000::", 65);
    check_mask("ffff::1", -1);
    check_mask("fff0:ff00::", -1);
    check_mask("ffff:ffff:ffff:ffff:ffff:ffff:ffff:fffd", -1);
    check_mask("::ffff:255.255.0.0", -1);
    memset(&none, 0, sizeof none);
    assert_int_equal(net_mask_prefix(&none), -1);
    assert_int_equal(net_mask_prefix(NULL), -1);
}

static void test_loopback(void **state)
{
    (void)state;
    static const char *const yes[] = {"127.0.0.1", "127.255.0.9", "::1"};
    static const char *const no[] = {"128.0.0.1", "126.255.255.255", "::", "::2", "0.0.0.0",
                                     "::ffff:127.0.0.1", "fe80::1", "10.0.0.1"};
    struct net_addr a;
    for (size_t i = 0; i < sizeof(yes) / sizeof(yes[0]); i++) {
        assert_int_equal(net_addr_parse(yes[i], &a), 0);
        assert_true(net_addr_is_loopback(&a));
    }
    for (size_t i = 0; i < sizeof(no) / sizeof(no[0]); i++) {
        assert_int_equal(net_addr_parse(no[i], &a), 0);
        assert_false(net_addr_is_loopback(&a));
    }
    memset(&a, 0, sizeof(a));
    assert_false(net_addr_is_loopback(&a));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_ipv4_valid),      cmocka_unit_test(test_ipv4_invalid),
        cmocka_unit_test(test_ipv6_round_trip), cmocka_unit_test(test_ipv6_bytes),
        cmocka_unit_test(test_ipv6_invalid),    cmocka_unit_test(test_format_edges),
        cmocka_unit_test(test_match_ipv4),      cmocka_unit_test(test_match_ipv6),
        cmocka_unit_test(test_mask_prefix),     cmocka_unit_test(test_loopback),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
