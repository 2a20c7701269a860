/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * pkt: NTP packet codec for versions 1-4 (RFC 1059/1119/1305/5905): the 48-octet header,
 * NTPv4 extension fields (RFC 7822) and the MAC trailer, which is located and classified
 * here but verified elsewhere. Decoding never casts the buffer; every length is checked
 * and a reject returns a reason the caller counts. Mode 6 and 7 packets have other
 * formats: pkt_decode only reads their first octet (see pkt_peek).
 */
#ifndef STRATUM_PKT_H
#define STRATUM_PKT_H

#include <stddef.h>
#include <stdint.h>

#include "ntp_time.h"

#define PKT_HEADER_LEN 48
/* Largest datagram accepted: header + 1024 octets of extension fields + a 24-octet MAC,
 * rounded up. Receive with a larger buffer and drop truncated datagrams. */
#define PKT_MAX_LEN 1104
/* Most extension fields decoded from one packet; more is a reject. */
#define PKT_MAX_EF 16
#define PKT_EF_MIN_LEN 16
/* Without a MAC the last extension field must be at least this long (RFC 7822 sec. 7.5). */
#define PKT_EF_MIN_LAST_LEN 28

enum pkt_mode {
    PKT_MODE_RESERVED = 0,
    PKT_MODE_ACTIVE = 1,    /* symmetric active */
    PKT_MODE_PASSIVE = 2,   /* symmetric passive */
    PKT_MODE_CLIENT = 3,
    PKT_MODE_SERVER = 4,
    PKT_MODE_BROADCAST = 5,
    PKT_MODE_CONTROL = 6,
    PKT_MODE_PRIVATE = 7,
};

enum pkt_leap {
    PKT_LEAP_NONE = 0,
    PKT_LEAP_INSERT = 1,
    PKT_LEAP_DELETE = 2,
    PKT_LEAP_UNSYNC = 3,
};

/* What follows the header and the extension fields. */
enum pkt_trailer {
    PKT_TRAILER_NONE = 0,
    PKT_TRAILER_CRYPTO_NAK, /* 4 octets: key ID only */
    PKT_TRAILER_MAC16,      /* key ID + 16-octet digest (MD5, AES-128-CMAC) */
    PKT_TRAILER_MAC20,      /* key ID + 20-octet digest (SHA1) */
};

/* Why pkt_decode rejected a datagram. PKT_OK is 0. Keep pkt_reason_name in step. */
enum pkt_reason {
    PKT_OK = 0,
    PKT_ERR_SHORT,          /* fewer than 48 octets */
    PKT_ERR_LONG,           /* more than PKT_MAX_LEN octets */
    PKT_ERR_ALIGN,          /* length not a multiple of 4 */
    PKT_ERR_VERSION,        /* version 0 or 5-7 */
    PKT_ERR_MODE,           /* mode 6 or 7: not an NTP time packet (use pkt_peek) */
    PKT_ERR_EF_VERSION,     /* extension fields or a trailer shape only NTPv4 may carry */
    PKT_ERR_EF_LENGTH,      /* extension field length < 16 or not a multiple of 4 */
    PKT_ERR_EF_TRUNCATED,   /* extension field length beyond the datagram */
    PKT_ERR_EF_LAST_SHORT,  /* last extension field shorter than 28 octets and no MAC */
    PKT_ERR_EF_COUNT,       /* more than PKT_MAX_EF extension fields */
    PKT_ERR_TRAILER,        /* octets after the header / fields that are neither EF nor MAC */
    PKT_REASON_COUNT
};

struct pkt_ef {
    uint16_t type;
    uint16_t length;        /* whole field, header included */
    uint16_t offset;        /* of the field header from the start of the datagram */
};

/* A decoded NTP packet in host order. */
struct ntp_packet {
    uint8_t leap;           /* enum pkt_leap */
    uint8_t version;        /* 1-4 */
    uint8_t mode;           /* enum pkt_mode */
    uint8_t stratum;
    int8_t poll;            /* log2 s */
    int8_t precision;       /* log2 s */
    ntp_short_t root_delay;
    ntp_short_t root_disp;
    uint32_t refid;         /* first wire octet most significant */
    ntp_ts_t ref;
    ntp_ts_t org;
    ntp_ts_t rec;
    ntp_ts_t xmt;

    /* Filled by pkt_decode; pkt_encode writes only the header. */
    uint16_t len;           /* datagram length */
    uint8_t n_ef;
    struct pkt_ef ef[PKT_MAX_EF];
    uint8_t trailer;        /* enum pkt_trailer */
    uint32_t keyid;         /* valid unless trailer == NONE */
    uint16_t mac_offset;    /* of the key ID from the start of the datagram */
    uint16_t mac_len;       /* key ID + digest, octets */
};

/* The first octet, without any validation: for dispatch of modes 6/7 and for counting. */
void pkt_peek(const uint8_t *buf, size_t len, uint8_t *leap, uint8_t *version, uint8_t *mode);

/* Decodes len octets at buf into *out. Returns PKT_OK or the reason for the reject; out is
 * then partly filled and must not be used. Checks: length bounds and alignment, version
 * 1-4, mode not 6/7, extension fields (v4 only) and the trailer shape (0, 4, 20 or 24
 * octets; in v1-v3 anything after the header must be a MAC). Field values (stratum,
 * timestamps) are not judged here: that belongs to the receiver's tests. */
enum pkt_reason pkt_decode(const uint8_t *buf, size_t len, struct ntp_packet *out);

/* Writes the 48-octet header of p to buf (cap >= 48). Returns 48, or 0 if cap is short.
 * Values are masked to their field widths. */
size_t pkt_encode(const struct ntp_packet *p, uint8_t *buf, size_t cap);

/* Overwrites the transmit timestamp of an encoded header in place. */
void pkt_set_xmt(uint8_t *buf, ntp_ts_t xmt);

/* Short stable name of a reason, e.g. "short", "ef-length". */
const char *pkt_reason_name(enum pkt_reason r);

#endif
