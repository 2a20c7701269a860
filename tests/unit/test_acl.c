/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for core/acl: longest prefix wins whatever the insertion order, per-family
 * defaults, replacement of an equal rule, the table bound, and every flag word.
 */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "core/acl.h"

static struct net_addr addr(const char *text)
{
    struct net_addr a;

    assert_int_equal(net_addr_parse(text, &a), 0);
    return a;
}

static uint32_t match(const struct acl *acl, const char *text)
{
    struct net_addr a = addr(text);

    return acl_match(acl, &a);
}

static void add(struct acl *acl, const char *net, unsigned prefix_len, uint32_t flags)
{
    struct net_addr a = addr(net);

    assert_int_equal(acl_add(acl, &a, prefix_len, flags), 0);
}

static void assert_sorted(const struct acl *acl)
{
    for (unsigned i = 1; i < acl->n_rules; i++) {
        assert_true(acl->rules[i - 1].prefix_len >= acl->rules[i].prefix_len);
    }
}

static void test_empty(void **state)
{
    struct acl *acl = malloc(sizeof *acl);
    struct net_addr none;

    (void)state;
    assert_non_null(acl);
    memset(acl, 0xff, sizeof *acl);
    acl_init(acl);
    acl_finish(acl);
    assert_int_equal(acl->n_rules, 0);
    assert_int_equal(match(acl, "192.0.2.1"), 0);
    assert_int_equal(match(acl, "2001:db8::1"), 0);
    /* No address at all is refused rather than allowed. */
    memset(&none, 0, sizeof none);
    assert_int_equal(acl_match(acl, &none), ACL_IGNORE);
    assert_int_equal(acl_match(acl, NULL), ACL_IGNORE);
    free(acl);
}

struct rule_spec {
    const char *net;
    unsigned len;
    uint32_t flags;
};

static const struct rule_spec v4_rules[] = {
    {"10.0.0.0", 8, ACL_LIMITED}, {"10.1.0.0", 16, ACL_NOSERVE}, {"10.1.2.0", 24, ACL_IGNORE},
    {"10.1.2.3", 32, ACL_KOD},    {"0.0.0.0", 0, ACL_NOQUERY},
};

static const struct rule_spec v6_rules[] = {
    {"2001:db8::", 32, ACL_LIMITED},
    {"2001:db8:1::", 48, ACL_NOSERVE},
    {"2001:db8:1:2::", 64, ACL_IGNORE},
    {"2001:db8:1:2::1", 128, ACL_KOD},
    {"::", 0, ACL_NOQUERY},
};

static void check_nested(const struct acl *acl)
{
    assert_int_equal(match(acl, "10.1.2.3"), ACL_KOD);
    assert_int_equal(match(acl, "10.1.2.4"), ACL_IGNORE);
    assert_int_equal(match(acl, "10.1.2.255"), ACL_IGNORE);
    assert_int_equal(match(acl, "10.1.3.1"), ACL_NOSERVE);
    assert_int_equal(match(acl, "10.2.0.1"), ACL_LIMITED);
    assert_int_equal(match(acl, "11.0.0.1"), ACL_NOQUERY);
    assert_int_equal(match(acl, "2001:db8:1:2::1"), ACL_KOD);
    assert_int_equal(match(acl, "2001:db8:1:2::2"), ACL_IGNORE);
    assert_int_equal(match(acl, "2001:db8:1:3::1"), ACL_NOSERVE);
    assert_int_equal(match(acl, "2001:db8:2::1"), ACL_LIMITED);
    assert_int_equal(match(acl, "2001:db9::1"), ACL_NOQUERY);
}

/* Every one of the 5! insertion orders (both families interleaved) gives the same answers. */
static void test_longest_prefix_any_order(void **state)
{
    struct acl *acl = malloc(sizeof *acl);
    unsigned perm[5] = {0, 1, 2, 3, 4};
    unsigned orders = 0;

    (void)state;
    assert_non_null(acl);
    for (;;) {
        acl_init(acl);
        for (unsigned i = 0; i < 5; i++) {
            add(acl, v4_rules[perm[i]].net, v4_rules[perm[i]].len, v4_rules[perm[i]].flags);
            /* The IPv6 rules go in the reverse order. */
            add(acl, v6_rules[perm[4 - i]].net, v6_rules[perm[4 - i]].len,
                v6_rules[perm[4 - i]].flags);
        }
        acl_finish(acl);
        assert_int_equal(acl->n_rules, 10);
        assert_sorted(acl);
        check_nested(acl);
        orders++;

        /* Next permutation in lexicographic order. */
        int i = 3;
        while (i >= 0 && perm[i] > perm[i + 1]) {
            i--;
        }
        if (i < 0) {
            break;
        }
        int j = 4;
        while (perm[j] < perm[i]) {
            j--;
        }
        unsigned tmp = perm[i];
        perm[i] = perm[j];
        perm[j] = tmp;
        for (int a = i + 1, b = 4; a < b; a++, b--) {
            tmp = perm[a];
            perm[a] = perm[b];
            perm[b] = tmp;
        }
    }
    assert_int_equal(orders, 120);
    free(acl);
}

static void test_defaults_per_family(void **state)
{
    struct acl *acl = malloc(sizeof *acl);

    (void)state;
    assert_non_null(acl);
    acl_init(acl);
    acl->default4 = ACL_NOSERVE | ACL_KOD;
    acl->default6 = ACL_IGNORE;
    add(acl, "192.0.2.0", 24, ACL_NOQUERY);
    add(acl, "2001:db8::", 32, ACL_NOMODIFY);
    acl_finish(acl);
    assert_int_equal(match(acl, "192.0.2.77"), ACL_NOQUERY);
    assert_int_equal(match(acl, "198.51.100.1"), ACL_NOSERVE | ACL_KOD);
    assert_int_equal(match(acl, "2001:db8::77"), ACL_NOMODIFY);
    assert_int_equal(match(acl, "2001:db9::1"), ACL_IGNORE);
    /* An IPv4-mapped IPv6 address is IPv6 here (the I/O layer unmaps before the core). */
    assert_int_equal(match(acl, "::ffff:192.0.2.77"), ACL_IGNORE);

    /* A /0 rule of one family says nothing about the other. */
    add(acl, "0.0.0.0", 0, ACL_NOTRAP);
    acl_finish(acl);
    assert_int_equal(match(acl, "198.51.100.1"), ACL_NOTRAP);
    assert_int_equal(match(acl, "2001:db9::1"), ACL_IGNORE);
    free(acl);
}

static void test_replace_and_host_bits(void **state)
{
    struct acl *acl = malloc(sizeof *acl);

    (void)state;
    assert_non_null(acl);
    acl_init(acl);
    add(acl, "192.168.0.0", 16, ACL_LIMITED);
    add(acl, "192.168.0.0", 16, ACL_NOSERVE);
    assert_int_equal(acl->n_rules, 1);
    assert_int_equal(match(acl, "192.168.5.5"), ACL_NOSERVE);

    /* Host bits are cleared, so 10.9.9.9/8 is the same rule as 10.1.2.3/8. */
    add(acl, "10.1.2.3", 8, ACL_KOD);
    assert_int_equal(acl->n_rules, 2);
    struct net_addr want = addr("10.0.0.0");
    assert_memory_equal(acl->rules[1].net.bytes, want.bytes, 16);
    add(acl, "10.9.9.9", 8, ACL_NOPEER);
    assert_int_equal(acl->n_rules, 2);
    assert_int_equal(match(acl, "10.200.0.1"), ACL_NOPEER);

    add(acl, "2001:db8:1:2:3:4:5:6", 33, ACL_NOTRUST);
    /* The longest rule, so acl_add put it first. */
    want = addr("2001:db8::");
    assert_int_equal(acl->rules[0].prefix_len, 33);
    assert_memory_equal(acl->rules[0].net.bytes, want.bytes, 16);
    add(acl, "2001:db8:7f::", 33, ACL_VERSION);
    assert_int_equal(acl->n_rules, 3);
    assert_int_equal(match(acl, "2001:db8:0:1::1"), ACL_VERSION);
    assert_int_equal(match(acl, "2001:db8:8000::1"), 0);

    /* Same network, another length: a second rule. Same bytes, other family: too. */
    add(acl, "192.168.0.0", 24, ACL_IGNORE);
    add(acl, "0.0.0.0", 0, ACL_MSSNTP);
    add(acl, "::", 0, ACL_NOEPEER);
    acl_finish(acl);
    assert_int_equal(acl->n_rules, 6);
    assert_int_equal(match(acl, "192.168.0.9"), ACL_IGNORE);
    assert_int_equal(match(acl, "192.168.1.9"), ACL_NOSERVE);
    assert_int_equal(match(acl, "1.1.1.1"), ACL_MSSNTP);
    assert_int_equal(match(acl, "::1"), ACL_NOEPEER);
    free(acl);
}

static void test_bad_rules(void **state)
{
    struct acl *acl = malloc(sizeof *acl);
    struct net_addr v4 = addr("10.0.0.0");
    struct net_addr v6 = addr("2001:db8::");
    struct net_addr none;

    (void)state;
    assert_non_null(acl);
    acl_init(acl);
    memset(&none, 0, sizeof none);
    assert_int_equal(acl_add(acl, &v4, 33, 0), -1);
    assert_int_equal(acl_add(acl, &v6, 129, 0), -1);
    assert_int_equal(acl_add(acl, &v4, 1000, 0), -1);
    assert_int_equal(acl_add(acl, &none, 0, 0), -1);
    assert_int_equal(acl_add(acl, NULL, 0, 0), -1);
    assert_int_equal(acl->n_rules, 0);
    assert_int_equal(acl_add(acl, &v4, 32, 0), 0);
    assert_int_equal(acl_add(acl, &v6, 128, 0), 0);
    assert_int_equal(acl->n_rules, 2);
    free(acl);
}

static void test_table_full(void **state)
{
    struct acl *acl = malloc(sizeof *acl);
    struct net_addr a;

    (void)state;
    assert_non_null(acl);
    acl_init(acl);
    memset(&a, 0, sizeof a);
    a.family = NET_IPV4;
    a.bytes[0] = 10;
    for (unsigned i = 0; i < ACL_MAX_RULES; i++) {
        a.bytes[2] = (uint8_t)(i >> 8);
        a.bytes[3] = (uint8_t)i;
        assert_int_equal(acl_add(acl, &a, 32, i), 0);
    }
    assert_int_equal(acl->n_rules, 512);
    a.bytes[2] = 9;
    assert_int_equal(acl_add(acl, &a, 32, 1), -1);
    struct net_addr six = addr("::1");
    assert_int_equal(acl_add(acl, &six, 128, 1), -1);
    assert_int_equal(acl->n_rules, 512);
    /* Replacing still works when full. */
    struct net_addr last = addr("10.0.1.255");
    assert_int_equal(acl_add(acl, &last, 32, ACL_IGNORE), 0);
    acl_finish(acl);
    assert_int_equal(acl->n_rules, 512);
    assert_int_equal(match(acl, "10.0.1.255"), ACL_IGNORE);
    assert_int_equal(match(acl, "10.0.1.254"), 510);
    assert_int_equal(match(acl, "10.0.0.7"), 7);
    assert_int_equal(match(acl, "10.0.2.0"), 0);
    free(acl);
}

/* acl_finish sorts rules placed by hand, longest first, keeping equal lengths in order. */
static void test_finish_stable(void **state)
{
    static const uint8_t lens[] = {8, 24, 8, 32, 0, 24, 16, 8, 32, 0};
    static const uint32_t want[] = {3, 8, 1, 5, 6, 0, 2, 7, 4, 9};
    struct acl *acl = malloc(sizeof *acl);

    (void)state;
    assert_non_null(acl);
    acl_init(acl);
    for (unsigned i = 0; i < sizeof lens; i++) {
        acl->rules[i].net = addr("10.0.0.0");
        acl->rules[i].prefix_len = lens[i];
        acl->rules[i].flags = i;
    }
    acl->n_rules = sizeof lens;
    acl_finish(acl);
    for (unsigned i = 0; i < sizeof lens; i++) {
        assert_int_equal(acl->rules[i].flags, want[i]);
    }
    acl_finish(acl);
    for (unsigned i = 0; i < sizeof lens; i++) {
        assert_int_equal(acl->rules[i].flags, want[i]);
    }
    free(acl);
}

/* ntpport rules apply only to source port 123; other ports fall to the next rule. */
static void test_ntpport(void **state)
{
    struct acl *acl = malloc(sizeof *acl);
    struct net_addr host = addr("192.0.2.9");
    struct net_addr other = addr("198.51.100.1");
    struct net_addr six = addr("2001:db8::9");

    (void)state;
    assert_non_null(acl);
    acl_init(acl);
    acl->default4 = ACL_NOQUERY;
    acl->default6 = ACL_NOTRAP;
    add(acl, "192.0.2.0", 24, ACL_LIMITED);
    add(acl, "192.0.2.9", 32, ACL_NTPPORT | ACL_NOSERVE);
    add(acl, "198.51.100.0", 24, ACL_NTPPORT | ACL_IGNORE);
    add(acl, "2001:db8::", 64, ACL_NTPPORT | ACL_KOD);
    acl_finish(acl);
    assert_int_equal(acl_match_port(acl, &host, 123), ACL_NTPPORT | ACL_NOSERVE);
    assert_int_equal(acl_match_port(acl, &host, 40000), ACL_LIMITED);
    assert_int_equal(acl_match_port(acl, &host, 0), ACL_LIMITED);
    assert_int_equal(acl_match_port(acl, &other, 123), ACL_NTPPORT | ACL_IGNORE);
    assert_int_equal(acl_match_port(acl, &other, 124), ACL_NOQUERY);
    assert_int_equal(acl_match_port(acl, &six, 123), ACL_NTPPORT | ACL_KOD);
    assert_int_equal(acl_match_port(acl, &six, 1023), ACL_NOTRAP);
    /* Without a port every rule applies. */
    assert_int_equal(acl_match(acl, &host), ACL_NTPPORT | ACL_NOSERVE);
    assert_int_equal(acl_match_port(acl, NULL, 123), ACL_IGNORE);
    free(acl);
}

static void test_flag_words(void **state)
{
    static const struct {
        const char *word;
        uint32_t flag;
    } words[] = {
        {"ignore", ACL_IGNORE},           {"noserve", ACL_NOSERVE},
        {"limited", ACL_LIMITED},         {"kod", ACL_KOD},
        {"noquery", ACL_NOQUERY},         {"nomodify", ACL_NOMODIFY},
        {"nopeer", ACL_NOPEER},           {"notrap", ACL_NOTRAP},
        {"nomrulist", ACL_NOMRULIST},     {"notrust", ACL_NOTRUST},
        {"ntpport", ACL_NTPPORT},         {"version", ACL_VERSION},
        {"lowpriotrap", ACL_LOWPRIOTRAP}, {"noepeer", ACL_NOEPEER},
        {"mssntp", ACL_MSSNTP},
    };
    static const char *const not_flags[] = {
        "flake",  "serverresponse", "fuzz",    "interface", "mask",     "default", "-4", "-6",
        "",       "NOSERVE",        "Kod",     "noserve ",  " noserve", "kodx",    "no", "nomrulis",
        "source", "limitedkod",     "nopeer,", "restrict",
    };
    uint32_t all = 0;
    uint32_t flag;

    (void)state;
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++) {
        flag = 0xdeadbeef;
        assert_int_equal(acl_flag_parse(words[i].word, &flag), 0);
        assert_int_equal(flag, words[i].flag);
        assert_int_equal(all & flag, 0);
        all |= flag;
    }
    assert_int_equal(all, 0x7fff);
    for (size_t i = 0; i < sizeof not_flags / sizeof not_flags[0]; i++) {
        flag = 0xdeadbeef;
        if (acl_flag_parse(not_flags[i], &flag) != -1) {
            fail_msg("accepted \"%s\"", not_flags[i]);
        }
        assert_int_equal(flag, 0xdeadbeef);
    }
    assert_int_equal(acl_flag_parse(NULL, &flag), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_empty),
        cmocka_unit_test(test_longest_prefix_any_order),
        cmocka_unit_test(test_defaults_per_family),
        cmocka_unit_test(test_replace_and_host_bits),
        cmocka_unit_test(test_bad_rules),
        cmocka_unit_test(test_table_full),
        cmocka_unit_test(test_finish_stable),
        cmocka_unit_test(test_ntpport),
        cmocka_unit_test(test_flag_words),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
