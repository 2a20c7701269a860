/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * netaddr: numeric IPv4/IPv6 text forms and prefix matching for the pure core. The
 * parser and formatter are our own so that core/ needs no socket headers (Windows).
 * Text out follows RFC 5952; text in is the strict numeric form (no names, scopes,
 * brackets, octal or short IPv4 forms). Converting sockaddrs is the I/O layer's job.
 */
#include "netaddr.h"

#include <string.h>

/* Longest text: "ffff:ffff:ffff:ffff:ffff:ffff:255.255.255.255" is 45 + NUL (INET6_ADDRSTRLEN). */
#define NETADDR_TEXT_MAX 46

static int hex_value(char c)
{
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

/* Dotted quad of exactly four decimal octets, ending the string. Leading zeros are
 * refused: "010" is octal to inet_aton and decimal to others, so it is ambiguous. */
static int parse_ipv4(const char *p, uint8_t out[4])
{
    for (unsigned i = 0; i < 4; i++) {
        unsigned v = 0;
        unsigned digits = 0;
        const char *start = p;

        while (*p >= '0' && *p <= '9') {
            if (digits == 3) {
                return -1;
            }
            v = v * 10 + (unsigned)(*p - '0');
            digits++;
            p++;
        }
        if (digits == 0 || v > 255 || (digits > 1 && *start == '0')) {
            return -1;
        }
        out[i] = (uint8_t)v;
        if (i < 3) {
            if (*p != '.') {
                return -1;
            }
            p++;
        }
    }
    return *p == '\0' ? 0 : -1;
}

/* RFC 4291 sec. 2.2: eight groups of 1-4 hex digits, at most one "::" standing for one or
 * more zero groups, and optionally a dotted quad in place of the last two groups. */
static int parse_ipv6(const char *p, uint8_t out[16])
{
    uint16_t groups[8];
    unsigned n = 0;
    int gap = -1; /* index in groups[] where "::" stands, or -1 */

    if (*p == ':') {
        if (p[1] != ':') {
            return -1;
        }
        gap = 0;
        p += 2;
    }
    while (*p != '\0') {
        const char *start = p;
        unsigned v = 0;
        unsigned digits = 0;
        int d;

        while ((d = hex_value(*p)) >= 0) {
            if (digits == 4) {
                return -1;
            }
            v = v * 16 + (unsigned)d;
            digits++;
            p++;
        }
        if (digits == 0) {
            return -1; /* ":::", a lone trailing ':', or a stray character */
        }
        if (*p == '.') {
            uint8_t v4[4];

            if (n > 6 || parse_ipv4(start, v4) != 0) {
                return -1;
            }
            groups[n++] = (uint16_t)(v4[0] << 8 | v4[1]);
            groups[n++] = (uint16_t)(v4[2] << 8 | v4[3]);
            break; /* parse_ipv4 consumed the rest of the string */
        }
        if (n == 8) {
            return -1;
        }
        groups[n++] = (uint16_t)v;
        if (*p == '\0') {
            break;
        }
        if (*p != ':') {
            return -1; /* '%' scope, ']' bracket, space, ... */
        }
        p++;
        if (*p == ':') {
            if (gap >= 0) {
                return -1;
            }
            gap = (int)n;
            p++;
        } else if (*p == '\0') {
            return -1;
        }
    }

    if (gap < 0 ? n != 8 : n > 7) {
        return -1;
    }
    memset(out, 0, 16);
    if (gap < 0) {
        gap = 8;
    }
    /* Groups before the gap go to the front, the rest to the back. */
    for (unsigned i = 0; i < n; i++) {
        unsigned pos = i < (unsigned)gap ? i : 8 - (n - i);

        out[2 * pos] = (uint8_t)(groups[i] >> 8);
        out[2 * pos + 1] = (uint8_t)(groups[i] & 0xff);
    }
    return 0;
}

int net_addr_parse(const char *text, struct net_addr *out)
{
    struct net_addr a;

    if (text == NULL || out == NULL) {
        return -1;
    }
    memset(&a, 0, sizeof a);
    if (strchr(text, ':') != NULL) {
        if (parse_ipv6(text, a.bytes) != 0) {
            return -1;
        }
        a.family = NET_IPV6;
    } else {
        if (parse_ipv4(text, a.bytes) != 0) {
            return -1;
        }
        a.family = NET_IPV4;
    }
    *out = a;
    return 0;
}

static char *put_decimal(char *p, unsigned v)
{
    if (v >= 100) {
        *p++ = (char)('0' + v / 100);
    }
    if (v >= 10) {
        *p++ = (char)('0' + v / 10 % 10);
    }
    *p++ = (char)('0' + v % 10);
    return p;
}

static char *put_dotted(char *p, const uint8_t b[4])
{
    for (unsigned i = 0; i < 4; i++) {
        if (i > 0) {
            *p++ = '.';
        }
        p = put_decimal(p, b[i]);
    }
    return p;
}

/* RFC 5952 sec. 4.1: no leading zeros; sec. 4.3: lower case. */
static char *put_group(char *p, unsigned v)
{
    static const char hex[] = "0123456789abcdef";
    int shift = 12;

    while (shift > 0 && (v >> shift) == 0) {
        shift -= 4;
    }
    for (; shift >= 0; shift -= 4) {
        *p++ = hex[(v >> shift) & 0xf];
    }
    return p;
}

static char *put_ipv6(char *p, const uint8_t b[16])
{
    static const uint8_t mapped[12] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff};
    unsigned g[8];
    int best = -1;
    int best_len = 0;

    /* RFC 5952 sec. 5: IPv4-mapped addresses keep their dotted quad. */
    if (memcmp(b, mapped, sizeof mapped) == 0) {
        memcpy(p, "::ffff:", 7);
        return put_dotted(p + 7, b + 12);
    }
    for (int i = 0; i < 8; i++) {
        g[i] = (unsigned)b[2 * i] << 8 | b[2 * i + 1];
    }
    /* RFC 5952 sec. 4.2.2-4.2.3: compress the longest run of two or more zero groups,
     * the first one on a tie (hence the strict '>'). */
    for (int i = 0; i < 8;) {
        int j = i;

        while (j < 8 && g[j] == 0) {
            j++;
        }
        if (j - i > best_len && j - i >= 2) {
            best = i;
            best_len = j - i;
        }
        i = j > i ? j : i + 1;
    }
    for (int i = 0; i < 8; i++) {
        if (i == best) {
            *p++ = ':';
            *p++ = ':';
            i += best_len - 1;
            continue;
        }
        if (i > 0 && i != best + best_len) {
            *p++ = ':';
        }
        p = put_group(p, g[i]);
    }
    return p;
}

const char *net_addr_format(const struct net_addr *a, char *out, size_t size)
{
    char buf[NETADDR_TEXT_MAX];
    char *end = buf;
    size_t len;

    if (out == NULL || size == 0) {
        return out;
    }
    if (a != NULL && a->family == NET_IPV4) {
        end = put_dotted(buf, a->bytes);
    } else if (a != NULL && a->family == NET_IPV6) {
        end = put_ipv6(buf, a->bytes);
    } else {
        *end++ = '?'; /* no address: something printable for a log line */
    }
    /* A short buffer gets a truncated but terminated string rather than an overrun. */
    len = (size_t)(end - buf);
    if (len > size - 1) {
        len = size - 1;
    }
    memcpy(out, buf, len);
    out[len] = '\0';
    return out;
}

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

bool net_addr_match(const struct net_addr *a, const struct net_addr *net, unsigned prefix_len)
{
    unsigned whole;
    unsigned rest;

    if (a == NULL || net == NULL || a->family != net->family) {
        return false;
    }
    /* An unknown family or a prefix longer than the address matches nothing. */
    if (family_bits(a->family) == 0 || prefix_len > family_bits(a->family)) {
        return false;
    }
    whole = prefix_len / 8;
    rest = prefix_len % 8;
    if (memcmp(a->bytes, net->bytes, whole) != 0) {
        return false;
    }
    if (rest != 0) {
        uint8_t mask = (uint8_t)(0xff << (8 - rest));

        return ((a->bytes[whole] ^ net->bytes[whole]) & mask) == 0;
    }
    return true;
}

int net_mask_prefix(const struct net_addr *mask)
{
    unsigned bits;
    unsigned len = 0;
    unsigned i;

    if (mask == NULL || (bits = family_bits(mask->family)) == 0) {
        return -1;
    }
    for (i = 0; i < bits / 8 && mask->bytes[i] == 0xff; i++) {
        len += 8;
    }
    if (i < bits / 8) {
        uint8_t b = mask->bytes[i];

        /* The partial byte must be ones then zeros: its complement is 2^k - 1. */
        if (((uint8_t)~b & (uint8_t)(~b + 1)) != 0) {
            return -1;
        }
        while (b & 0x80) {
            len++;
            b = (uint8_t)(b << 1);
        }
        for (i++; i < bits / 8; i++) {
            if (mask->bytes[i] != 0) {
                return -1;
            }
        }
    }
    return (int)len;
}

bool net_addr_is_loopback(const struct net_addr *a)
{
    if (a->family == NET_IPV4) {
        return a->bytes[0] == 127;
    }
    if (a->family == NET_IPV6) {
        for (unsigned i = 0; i < 15; i++) {
            if (a->bytes[i] != 0) {
                return false;
            }
        }
        return a->bytes[15] == 1;
    }
    return false;
}
