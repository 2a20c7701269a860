/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * acl: the `restrict` access list of ntp.conf. Rules are address/prefix pairs with
 * flags; the most specific matching rule wins (longest prefix), as in ntpd. Pure; the
 * rule table is a fixed-size array owned by the caller's struct acl.
 */
#ifndef STRATUM_ACL_H
#define STRATUM_ACL_H

#include <stdint.h>

#include "netaddr.h"

/* Restriction flags (ntp.conf words). Only the serving ones act today; the others are
 * parsed and kept so that later parts can honour them. */
enum acl_flag {
    ACL_IGNORE = 1u << 0,       /* drop everything */
    ACL_NOSERVE = 1u << 1,      /* no time service (mode 3, mode 1 stateless) */
    ACL_LIMITED = 1u << 2,      /* rate limit per `discard` */
    ACL_KOD = 1u << 3,          /* send RATE KoD when limited (else drop) */
    ACL_NOQUERY = 1u << 4,      /* no mode 6 */
    ACL_NOMODIFY = 1u << 5,
    ACL_NOPEER = 1u << 6,       /* no mobilising associations from mode 1 */
    ACL_NOTRAP = 1u << 7,
    ACL_NOMRULIST = 1u << 8,
    ACL_NOTRUST = 1u << 9,
    ACL_NTPPORT = 1u << 10,     /* rule matches only source port 123 */
    ACL_VERSION = 1u << 11,     /* only the current NTP version */
    ACL_LOWPRIOTRAP = 1u << 12,
    ACL_NOEPEER = 1u << 13,
    ACL_MSSNTP = 1u << 14,
    /* Not a word: set by the configuration on every rule and default it writes, so that
     * a match can tell a configured line from the built-in default (everything allowed
     * but control queries from other hosts than this one). */
    ACL_CONFIGURED = 1u << 15,
};

#define ACL_MAX_RULES 512

struct acl_rule {
    struct net_addr net;
    uint8_t prefix_len;         /* 0..32 or 0..128 */
    uint32_t flags;
};

struct acl {
    /* Sorted by acl_finish: longest prefix first. */
    struct acl_rule rules[ACL_MAX_RULES];
    unsigned n_rules;
    uint32_t default4;          /* flags of `restrict default` / `restrict -4 default` */
    uint32_t default6;          /* flags of `restrict default` / `restrict -6 default` */
};

/* Empty list: everything allowed. */
void acl_init(struct acl *acl);

/* Adds or replaces (same net and prefix) a rule. Host bits of net beyond prefix_len are
 * cleared. Returns 0, or -1 when the table is full or the prefix exceeds the family. */
int acl_add(struct acl *acl, const struct net_addr *net, unsigned prefix_len, uint32_t flags);

/* Orders the rules for acl_match; call after the last acl_add. */
void acl_finish(struct acl *acl);

/* Flags for a source: the most specific rule's flags, else the family default. Every
 * rule applies, ACL_NTPPORT ones included (use acl_match_port when the port is known). */
uint32_t acl_match(const struct acl *acl, const struct net_addr *src);

/* As acl_match for a source port: a rule with ACL_NTPPORT applies only to port 123, and
 * for other ports the next less specific rule decides, as ntpd's `ntpport` does. */
uint32_t acl_match_port(const struct acl *acl, const struct net_addr *src, uint16_t port);

/* Parses one flag word ("noserve") into *flag. Returns 0, or -1 if the word is not a
 * restrict flag. Words that are restrict syntax but not flags ("mask", "default",
 * "-4", "-6") are the caller's business. */
int acl_flag_parse(const char *word, uint32_t *flag);

#endif
