/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * acl: the `restrict` list. Owns rule storage order and longest-prefix matching; the
 * config parser owns the words around the flags ("default", "mask", "-4"), and the
 * caller owns acting on the flags (including ACL_NTPPORT, which needs the port).
 */
#include "acl.h"

#include <stdbool.h>
#include <string.h>

static unsigned family_bits(uint8_t family)
{
    if (family == NET_IPV4) {
        return 32;
    }
    if (family == NET_IPV6) {
        return 128;
    }
    return 0;
}

void acl_init(struct acl *acl)
{
    memset(acl, 0, sizeof *acl);
}

/* Clears every bit of the address beyond prefix_len, so that equal networks compare
 * equal byte for byte whatever host bits the configuration wrote. */
static void clear_host_bits(struct net_addr *a, unsigned prefix_len)
{
    unsigned whole = prefix_len / 8;
    unsigned rest = prefix_len % 8;

    if (rest != 0) {
        a->bytes[whole] &= (uint8_t)(0xff << (8 - rest));
        whole++;
    }
    memset(a->bytes + whole, 0, sizeof a->bytes - whole);
}

int acl_add(struct acl *acl, const struct net_addr *net, unsigned prefix_len, uint32_t flags)
{
    struct acl_rule rule;
    unsigned pos;

    if (net == NULL || family_bits(net->family) == 0 || prefix_len > family_bits(net->family)) {
        return -1;
    }
    memset(&rule, 0, sizeof rule);
    rule.net.family = net->family;
    memcpy(rule.net.bytes, net->bytes, sizeof rule.net.bytes);
    clear_host_bits(&rule.net, prefix_len);
    rule.prefix_len = (uint8_t)prefix_len;
    rule.flags = flags;

    for (unsigned i = 0; i < acl->n_rules; i++) {
        struct acl_rule *r = &acl->rules[i];

        if (r->prefix_len == rule.prefix_len && r->net.family == rule.net.family &&
            memcmp(r->net.bytes, rule.net.bytes, sizeof r->net.bytes) == 0) {
            r->flags = flags;
            return 0;
        }
    }
    if (acl->n_rules >= ACL_MAX_RULES) {
        return -1;
    }
    /* Insert after every rule at least as long, so the list stays sorted even for a caller
     * who forgets acl_finish, and equal lengths keep their configuration order. */
    for (pos = acl->n_rules; pos > 0 && acl->rules[pos - 1].prefix_len < rule.prefix_len; pos--) {
        acl->rules[pos] = acl->rules[pos - 1];
    }
    acl->rules[pos] = rule;
    acl->n_rules++;
    return 0;
}

void acl_finish(struct acl *acl)
{
    /* Stable insertion sort, longest prefix first. At most ACL_MAX_RULES rules, run once at
     * configuration time, and already sorted when every rule came through acl_add. */
    for (unsigned i = 1; i < acl->n_rules; i++) {
        struct acl_rule r = acl->rules[i];
        unsigned j = i;

        while (j > 0 && acl->rules[j - 1].prefix_len < r.prefix_len) {
            acl->rules[j] = acl->rules[j - 1];
            j--;
        }
        acl->rules[j] = r;
    }
}

static uint32_t match(const struct acl *acl, const struct net_addr *src, bool from_ntp_port)
{
    if (src == NULL || family_bits(src->family) == 0) {
        /* The I/O layer only hands us IPv4 and IPv6; anything else is refused. */
        return ACL_IGNORE;
    }
    /* Sorted longest first, so the first match is the most specific one. */
    for (unsigned i = 0; i < acl->n_rules; i++) {
        const struct acl_rule *r = &acl->rules[i];

        if ((r->flags & ACL_NTPPORT) != 0 && !from_ntp_port) {
            continue;
        }
        if (net_addr_match(src, &r->net, r->prefix_len)) {
            return r->flags;
        }
    }
    return src->family == NET_IPV4 ? acl->default4 : acl->default6;
}

uint32_t acl_match(const struct acl *acl, const struct net_addr *src)
{
    return match(acl, src, true);
}

uint32_t acl_match_port(const struct acl *acl, const struct net_addr *src, uint16_t port)
{
    return match(acl, src, port == 123);
}

static const struct {
    const char *word;
    uint32_t flag;
} acl_words[] = {
    {"ignore", ACL_IGNORE},           {"noserve", ACL_NOSERVE},
    {"limited", ACL_LIMITED},         {"kod", ACL_KOD},
    {"noquery", ACL_NOQUERY},         {"nomodify", ACL_NOMODIFY},
    {"nopeer", ACL_NOPEER},           {"notrap", ACL_NOTRAP},
    {"nomrulist", ACL_NOMRULIST},     {"notrust", ACL_NOTRUST},
    {"ntpport", ACL_NTPPORT},         {"version", ACL_VERSION},
    {"lowpriotrap", ACL_LOWPRIOTRAP}, {"noepeer", ACL_NOEPEER},
    {"mssntp", ACL_MSSNTP},
};

int acl_flag_parse(const char *word, uint32_t *flag)
{
    if (word == NULL) {
        return -1;
    }
    /* Exact, lower-case words: the configuration parser reports anything else. */
    for (size_t i = 0; i < sizeof acl_words / sizeof acl_words[0]; i++) {
        if (strcmp(word, acl_words[i].word) == 0) {
            if (flag != NULL) {
                *flag = acl_words[i].flag;
            }
            return 0;
        }
    }
    return -1;
}
