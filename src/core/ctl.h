/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ctl: the NTP control protocol (mode 6, RFC 9327; what ntpq speaks) as a pure codec. It
 * owns the 12-octet header, request checks, the fragmentation of a response payload into
 * datagrams of at most 468 data octets, reassembly of fragments on the client side, the
 * "name=value, ..." variable lists in both directions, and the system and peer status
 * words. It does not own which variables exist, access control or rate limiting (the
 * daemon's control module) nor sockets. Shared by stratumd and `stratum status/peers/
 * clients` and the monitor's ntpq probe. Never casts a buffer; every length is checked.
 */
#ifndef STRATUM_CTL_H
#define STRATUM_CTL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CTL_HEADER_LEN 12
/* Data octets in one datagram (RFC 9327 sec. 2: at most 468). */
#define CTL_MAX_DATA 468
/* The most fragments any response of ours has (ntpq gives up beyond 64 datagrams). */
#define CTL_MAX_FRAGS 32
#define CTL_MAX_PAYLOAD (CTL_MAX_DATA * CTL_MAX_FRAGS)
/* A datagram: header, data, padding, and room for a MAC trailer. */
#define CTL_MAX_DGRAM (CTL_HEADER_LEN + CTL_MAX_DATA + 4 + 24)

enum ctl_opcode {
    CTL_OP_UNSPEC = 0,
    CTL_OP_READSTAT = 1,
    CTL_OP_READVAR = 2,
    CTL_OP_WRITEVAR = 3,
    CTL_OP_READCLOCK = 4,
    CTL_OP_WRITECLOCK = 5,
    CTL_OP_SETTRAP = 6,
    CTL_OP_ASYNCMSG = 7,
    CTL_OP_CONFIGURE = 8,
    CTL_OP_SAVECONFIG = 9,
    CTL_OP_READ_MRU = 10,
    CTL_OP_READ_ORDLIST_A = 11,
    CTL_OP_REQ_NONCE = 12,
    CTL_OP_UNSETTRAP = 31,
};

/* Error codes carried in the high octet of an error response's status word. */
enum ctl_error {
    CTL_ERR_UNSPEC = 0,
    CTL_ERR_PERMISSION = 1, /* authentication needed or failed */
    CTL_ERR_BADFMT = 2,
    CTL_ERR_BADOP = 3,
    CTL_ERR_BADASSOC = 4,
    CTL_ERR_UNKNOWNVAR = 5,
    CTL_ERR_BADVALUE = 6,
    CTL_ERR_RESTRICT = 7, /* access denied */
};

/* Why ctl_decode or a check refused a datagram. CTL_OK is 0. Keep ctl_reason_name in
 * step. */
enum ctl_reason {
    CTL_OK = 0,
    CTL_BAD_SHORT,    /* fewer than 12 octets */
    CTL_BAD_LONG,     /* longer than CTL_MAX_DGRAM */
    CTL_BAD_MODE,     /* not mode 6 */
    CTL_BAD_VERSION,  /* version 0 or 5-7 */
    CTL_BAD_COUNT,    /* count beyond the datagram or above 468 (header fields are set) */
    CTL_BAD_RESPONSE, /* a request with the response, error or more bit set */
    CTL_BAD_OFFSET,   /* a request with a non-zero offset */
    CTL_BAD_ALIGN,    /* a length that is not a multiple of 4 */
    CTL_REASON_COUNT
};

/* A decoded mode 6 datagram: the header in host order and a view of its data. */
struct ctl_msg {
    uint8_t leap;
    uint8_t version;
    bool response, error, more;
    uint8_t opcode; /* 5 bits */
    uint16_t seq;
    uint16_t status;
    uint16_t associd;
    uint16_t offset;
    uint16_t count;
    const uint8_t *data; /* count octets inside the datagram */
    size_t len;          /* of the whole datagram */
    size_t trailer;      /* octets after the data padded to 4 (a MAC, or junk): ignored */
};

/* Decodes the header of len octets at buf: mode, version, and that count fits the
 * datagram and CTL_MAX_DATA. On CTL_BAD_COUNT the header fields are filled (the request
 * checks still apply before an error reply). */
enum ctl_reason ctl_decode(const uint8_t *buf, size_t len, struct ctl_msg *out);

/* The request checks beyond ctl_decode, in ntpd's order (RFC 9327; PROTOCOL-CHECKS sec.
 * 9): a response, error or more bit, or a non-zero offset: drop silently
 * (CTL_BAD_RESPONSE, CTL_BAD_OFFSET); a length that is not a multiple of 4: answer
 * "bad format" (CTL_BAD_ALIGN). Anything after the padded data is ignored. */
enum ctl_reason ctl_check_request(const struct ctl_msg *m);

/* The checks a client makes on a response datagram: a multiple of 4 long, and holding
 * its count of data padded to 4 (CTL_BAD_ALIGN, CTL_BAD_COUNT). */
enum ctl_reason ctl_check_response(const struct ctl_msg *m);

/* Writes a request header + data (padded to 4 octets with zeros) into out. Returns the
 * length, or 0 when cap is short or len > CTL_MAX_DATA. */
size_t ctl_encode_request(uint8_t version, uint8_t opcode, uint16_t seq, uint16_t associd,
                          const void *data, size_t len, uint8_t *out, size_t cap);

/* Number of datagrams a payload of plen octets takes (at least 1). */
size_t ctl_fragments(size_t plen);

/* Fragment `frag` of a response to req carrying payload (plen octets, <= CTL_MAX_PAYLOAD):
 * the reply's leap is `leap`, its version the request's, status and associd as given.
 * Returns the datagram length (padded to 4), 0 when frag is past the end or cap short. */
size_t ctl_encode_response(const struct ctl_msg *req, uint8_t leap, uint16_t status,
                           uint16_t associd, const uint8_t *payload, size_t plen, size_t frag,
                           uint8_t *out, size_t cap);

/* An error response to req (error bit, code in the status word's high octet, no data). */
size_t ctl_encode_error(const struct ctl_msg *req, uint8_t leap, enum ctl_error err,
                        uint8_t *out, size_t cap);

/* Client-side reassembly of the fragments of one response, at any offsets. */
struct ctl_reasm {
    uint8_t buf[CTL_MAX_PAYLOAD];
    uint8_t covered[CTL_MAX_PAYLOAD / 8]; /* one bit per payload octet received */
    size_t n_covered;
    size_t max_end; /* the end of the furthest fragment received */
    size_t end;     /* valid when seen_last */
    bool seen_last;
    uint16_t status; /* of the last fragment */
    uint16_t associd;
    unsigned fragments;
};

enum ctl_reasm_result {
    CTL_REASM_MORE = 0,  /* accepted, more expected */
    CTL_REASM_DONE,      /* complete: payload in buf[0 .. end) */
    CTL_REASM_ERROR,     /* an error response: code in ctl_error_of(status) */
    CTL_REASM_IGNORED,   /* not ours (sequence/opcode/no response bit) or a duplicate */
    CTL_REASM_BAD,       /* a fragment that cannot be part of any valid response */
};

void ctl_reasm_init(struct ctl_reasm *r);

/* Offers one decoded datagram answering a request with sequence seq and opcode op. A
 * fragment must fit CTL_MAX_PAYLOAD and end no later than a last fragment already seen;
 * one that overlaps data already received is a duplicate (ignored), a second or an
 * earlier-ending "last" is bad, more fragments than CTL_MAX_FRAGS * 2 are bad. */
enum ctl_reasm_result ctl_reasm_add(struct ctl_reasm *r, const struct ctl_msg *m, uint16_t seq,
                                    uint8_t op);

/* The error code of an error response's status word. */
static inline enum ctl_error ctl_error_of(uint16_t status)
{
    return (enum ctl_error)(status >> 8);
}

/* Variable lists: "name=value, name=value,\r\nname=value". */
struct ctl_text {
    char *buf;
    size_t cap;
    size_t len;
    size_t line; /* characters on the current line, commas and blanks included */
    bool overflow; /* an item did not fit: dropped whole, the text stays well formed */
};

void ctl_text_init(struct ctl_text *t, char *buf, size_t cap);

/* Appends "name=value" (value printf-formatted; NULL: the bare name), preceded by ", ",
 * or ",\r\n" when the line would reach 72 characters, as ntpd lays its lists out. */
void ctl_text_add(struct ctl_text *t, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Appends name="value" with value quoted (a string; quotes inside become '). */
void ctl_text_str(struct ctl_text *t, const char *name, const char *value);

/* Ends a non-empty list with "\r\n" (when it fits), as ntpd does. */
void ctl_text_finish(struct ctl_text *t);

/* One item of a variable list: views into the text, not terminated. */
struct ctl_item {
    const char *name;
    size_t name_len;
    const char *value; /* NULL when the item has no '=' */
    size_t value_len;  /* without surrounding quotes */
};

/* Walks a variable list: fills *it with the next item after *pos (which it advances) and
 * returns true, or false at the end. Items are separated by commas outside double
 * quotes; names and values are trimmed of blanks, CR and LF; quoted values lose their
 * quotes. NUL octets and other control characters end nothing but are skipped as blanks
 * only at the edges; an item longer than the text is impossible. */
bool ctl_items_next(const char *text, size_t len, size_t *pos, struct ctl_item *it);

/* Whether item's name equals s. */
bool ctl_item_is(const struct ctl_item *it, const char *s);

/* Copies item's value into dst (cap >= 1), truncated and NUL-terminated. Returns false
 * when there is no value or it did not fit. */
bool ctl_item_value(const struct ctl_item *it, char *dst, size_t cap);

/* Status words (RFC 9327 sec. 2.2, ntpd's layout). */
enum ctl_sel {
    CTL_SEL_REJECT = 0,  /* ' ' */
    CTL_SEL_FALSETICK,   /* 'x' */
    CTL_SEL_EXCESS,      /* '.' */
    CTL_SEL_OUTLIER,     /* '-' */
    CTL_SEL_CANDIDATE,   /* '+' */
    CTL_SEL_BACKUP,      /* '#' */
    CTL_SEL_SYSPEER,     /* '*' */
    CTL_SEL_PPSPEER,     /* 'o' */
};

/* Peer status flags (the high five bits). */
enum ctl_peer_flag {
    CTL_PST_CONFIG = 0x80,
    CTL_PST_AUTHENABLE = 0x40,
    CTL_PST_AUTHENTIC = 0x20,
    CTL_PST_REACH = 0x10,
    CTL_PST_BCAST = 0x08,
};

/* System clock source codes. */
enum ctl_sync_source {
    CTL_SST_UNSPEC = 0,
    CTL_SST_PPS = 1,
    CTL_SST_LOCAL = 5,
    CTL_SST_NTP = 6,
};

/* System event codes (the low nibble). */
enum ctl_sys_event {
    CTL_SEV_UNSPEC = 0,
    CTL_SEV_FREQ_NOT_SET = 1,
    CTL_SEV_FREQ_SET = 2,
    CTL_SEV_SPIKE = 3,
    CTL_SEV_FREQ_MODE = 4,
    CTL_SEV_SYNC = 5,
    CTL_SEV_RESTART = 6,
    CTL_SEV_PANIC = 7,
    CTL_SEV_NO_PEER = 8,
    CTL_SEV_LEAP_ARMED = 9,
    CTL_SEV_LEAP_DISARMED = 10,
    CTL_SEV_LEAP_EVENT = 11,
    CTL_SEV_STEP = 12,
};

/* Peer event codes (the low nibble). */
enum ctl_peer_event {
    CTL_PEV_UNSPEC = 0,
    CTL_PEV_MOBILIZE = 1,
    CTL_PEV_DEMOBILIZE = 2,
    CTL_PEV_UNREACH = 3,
    CTL_PEV_REACH = 4,
    CTL_PEV_RESTART = 5,
    CTL_PEV_NO_REPLY = 6,
    CTL_PEV_RATE = 7,
    CTL_PEV_DENY = 8,
    CTL_PEV_ARMED = 9,
    CTL_PEV_SYSPEER = 10,
};

uint16_t ctl_sys_status(uint8_t leap, uint8_t source, uint8_t count, uint8_t event);
uint16_t ctl_peer_status(uint8_t flags, enum ctl_sel sel, uint8_t count, uint8_t event);

/* The tally character ntpq prints for a selection code (' ' x . - + # * o). */
char ctl_sel_tally(unsigned sel);
/* ntpq's name of a selection code ("reject", "falsetick", ..., "sys.peer", "pps.peer"). */
const char *ctl_sel_name(unsigned sel);

/* Short stable name, e.g. "count", "response-bits". */
const char *ctl_reason_name(enum ctl_reason r);

/* ntpq's words for an error code ("permission denied", "unknown variable", ...). */
const char *ctl_error_name(enum ctl_error e);

#endif
