/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * netaddr: a network address as the pure core sees it (no sockaddr), with prefix
 * matching and text forms. IPv4-mapped IPv6 addresses are normalised to IPv4 by the
 * I/O layer before they reach the core.
 */
#ifndef STRATUM_NETADDR_H
#define STRATUM_NETADDR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum net_family { NET_NONE = 0, NET_IPV4 = 4, NET_IPV6 = 6 };

struct net_addr {
    uint8_t family;         /* enum net_family */
    uint8_t bytes[16];      /* network order; IPv4 uses bytes[0..3], the rest is zero */
};

/* Parses a numeric IPv4 or IPv6 address (no names, no brackets, no scope). Returns 0 or
 * -1 when text is not an address. */
int net_addr_parse(const char *text, struct net_addr *out);

/* Numeric text form into out (size >= 46). Returns out. */
const char *net_addr_format(const struct net_addr *a, char *out, size_t size);

/* True when the first prefix_len bits of a and net are equal and the families match. */
bool net_addr_match(const struct net_addr *a, const struct net_addr *net, unsigned prefix_len);

/* True for this host's own addresses by definition: 127.0.0.0/8 and ::1. */
bool net_addr_is_loopback(const struct net_addr *a);

/* Prefix length of a contiguous netmask (255.255.0.0 -> 16), or -1 if not contiguous or
 * of another family. */
int net_mask_prefix(const struct net_addr *mask);

#endif
