/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ctlvars: the client side's reading of mode 6 replies into structs: the system
 * variables, one association's variables, the READSTAT association list and a READ_MRU
 * reply (the client list). Built on ctl_items_next (src/core/ctl.h); shared by `stratum
 * status/peers/clients` and the monitor's ntpq probe. It owns no sockets and no
 * requests (src/tools/ctlclient.c). Pure: hostile text is handled, never trusted: a
 * value that does not parse is left out (its "have" bit stays clear), every string is
 * bounded and printable ASCII. Times are seconds and frequencies ppm (the wire's
 * milliseconds are converted); absolute times stay NTP timestamps.
 */
#ifndef STRATUM_CTLVARS_H
#define STRATUM_CTLVARS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ntp_time.h"

/* Room of every string member, NUL included (addresses with a port and a scope fit). */
#define CTLV_STR 64
/* Room of the `selection` text (stratumd's reason a source is not selected). */
#define CTLV_WHY 128
/* The most entries one READ_MRU reply may index (addr.0 .. addr.511); ntpd sends at most
 * 256 rows (MRU_ROW_LIMIT) and a 32-fragment reply holds about 110 of ours. */
#define CTLV_MRU_ROWS 512

/* System variables (READVAR, association 0). */
enum ctlv_sys_have {
    CTLV_S_LEAP = 1u << 0,
    CTLV_S_STRATUM = 1u << 1,
    CTLV_S_PRECISION = 1u << 2,
    CTLV_S_ROOTDELAY = 1u << 3,
    CTLV_S_ROOTDISP = 1u << 4,
    CTLV_S_REFID = 1u << 5,
    CTLV_S_REFTIME = 1u << 6,
    CTLV_S_PEER = 1u << 7,
    CTLV_S_OFFSET = 1u << 8,
    CTLV_S_FREQUENCY = 1u << 9,
    CTLV_S_SYS_JITTER = 1u << 10,
    CTLV_S_CLK_JITTER = 1u << 11,
    CTLV_S_CLOCK = 1u << 12,
    CTLV_S_VERSION = 1u << 13,
    CTLV_S_SYNC_STATE = 1u << 14,
    CTLV_S_PEERADR = 1u << 15,
    CTLV_S_UPTIME = 1u << 16,
    CTLV_S_TC = 1u << 17,
    CTLV_S_CLK_WANDER = 1u << 18,
};

struct ctlv_sys {
    uint32_t have; /* enum ctlv_sys_have bits of the members that were sent and parsed */
    uint8_t leap;  /* 0..3 */
    int stratum;   /* 0..255 */
    int precision; /* log2 s */
    int tc;        /* log2 s */
    double rootdelay, rootdisp; /* s */
    char refid[CTLV_STR];
    ntp_ts_t reftime, clock;
    uint16_t peer;                         /* association id of the system peer, 0 for none */
    double offset, sys_jitter, clk_jitter; /* s */
    double frequency_ppm, clk_wander_ppm;
    char version[CTLV_STR];    /* "stratumd 0.1.0", "ntpd ntpsec-1.2.2" */
    char sync_state[CTLV_STR]; /* stratumd's words: "synchronized", "local clock" ... */
    char peeradr[CTLV_STR];    /* "ip:port" / "[v6]:port"; "0.0.0.0:0" for none */
    int64_t uptime_s;          /* ss_uptime */
};

/* Per-association variables (READVAR, association id != 0). */
enum ctlv_peer_have {
    CTLV_P_SRCADR = 1u << 0,
    CTLV_P_SRCPORT = 1u << 1,
    CTLV_P_SRCHOST = 1u << 2,
    CTLV_P_LEAP = 1u << 3,
    CTLV_P_HMODE = 1u << 4,
    CTLV_P_STRATUM = 1u << 5,
    CTLV_P_PPOLL = 1u << 6,
    CTLV_P_HPOLL = 1u << 7,
    CTLV_P_REFID = 1u << 8,
    CTLV_P_REFTIME = 1u << 9,
    CTLV_P_REC = 1u << 10,
    CTLV_P_REACH = 1u << 11,
    CTLV_P_DELAY = 1u << 12,
    CTLV_P_OFFSET = 1u << 13,
    CTLV_P_JITTER = 1u << 14,
    CTLV_P_DISPERSION = 1u << 15,
    CTLV_P_ROOTDISP = 1u << 16,
    CTLV_P_NTSCOOKIES = 1u << 17,
    CTLV_P_SELECTION = 1u << 18,
    CTLV_P_UNREACH = 1u << 19,
    CTLV_P_FLASH = 1u << 20,
    CTLV_P_LAST_SYNC = 1u << 21, /* last_sync holds rec or reftime */
};

struct ctlv_peer {
    uint32_t have;         /* enum ctlv_peer_have bits */
    char srcadr[CTLV_STR]; /* address text, no port */
    uint16_t srcport;
    char srchost[CTLV_STR]; /* configured name, or a refclock's "PPS(0)" */
    uint8_t leap;
    int hmode, stratum, ppoll, hpoll;
    char refid[CTLV_STR];
    ntp_ts_t reftime, rec;
    /* What ntpq's "when" column is measured from: whichever of rec and reftime came
     * later in the reply (with ntpd's order, rec). */
    ntp_ts_t last_sync;
    unsigned reach; /* 8-bit register */
    unsigned unreach;
    unsigned flash;
    double delay, offset, jitter, dispersion, rootdisp; /* s */
    int ntscookies;
    char selection[CTLV_WHY]; /* stratumd: why it is not selected ("" for the system peer) */
};

/* One (association id, peer status word) pair of a READSTAT reply. */
struct ctlv_assoc {
    uint16_t associd;
    uint16_t status;
};

/* One client of a READ_MRU reply. */
enum ctlv_mru_have {
    CTLV_M_ADDR = 1u << 0,
    CTLV_M_LAST = 1u << 1,
    CTLV_M_FIRST = 1u << 2,
    CTLV_M_COUNT = 1u << 3,
    CTLV_M_MV = 1u << 4,
    CTLV_M_RS = 1u << 5,
    CTLV_M_DROPPED = 1u << 6,
    CTLV_M_KODS = 1u << 7,
    CTLV_M_SCORE = 1u << 8,
};

struct ctlv_mru_entry {
    uint16_t have;        /* enum ctlv_mru_have bits */
    char addr[CTLV_STR];  /* as the server sent it ("ip:port", "[v6]:port"): echoed back */
    char last_text[24];   /* last.N as sent: echoed back when resuming */
    ntp_ts_t first, last; /* the first and latest packet */
    uint64_t count;       /* packets */
    uint8_t mv;           /* (version << 3) | mode of the latest packet */
    uint32_t rs;          /* restrict flags (ntpd's RES_ bits) */
    uint64_t dropped;     /* dr.N: packets dropped by rate limiting */
    uint64_t kods;        /* kd.N (stratumd): kiss-o'-death replies sent */
    double score;         /* sc.N (ntpd) */
};

/* What a READ_MRU reply carries besides its entries. */
struct ctlv_mru_reply {
    char nonce[CTLV_STR]; /* "" when the reply had none */
    bool have_now;        /* `now` was sent: the walk reached the newest entry */
    ntp_ts_t now;
    size_t n;       /* entries written to rows[0 .. n), in the server's order (oldest first) */
    size_t dropped; /* entries left out: without a usable addr.N and last.N, or N too large */
};

/* Fills *s from a system READVAR reply of len octets (the reply need not be terminated).
 * Members not sent, or not parsable, keep their have bit clear. */
void ctlv_parse_sys(const char *text, size_t len, struct ctlv_sys *s);

/* Fills *p from an association's READVAR reply. */
void ctlv_parse_peer(const char *text, size_t len, struct ctlv_peer *p);

/* The (association id, status) pairs of a READSTAT reply (4 octets each; a ragged tail is
 * ignored), sorted by id with duplicates removed, at most cap. Returns the count. */
size_t ctlv_parse_assocs(const uint8_t *data, size_t len, struct ctlv_assoc *out, size_t cap);

/* Parses a READ_MRU reply: the nonce, `now`, and the entries addr.N/last.N/... with
 * N < cap (at most CTLV_MRU_ROWS) into rows, compacted in order of N. Entries without a
 * valid addr.N and last.N are dropped (and counted). */
void ctlv_parse_mru(const char *text, size_t len, struct ctlv_mru_reply *r,
                    struct ctlv_mru_entry *rows, size_t cap);

/* "0x%08x.%08x" (1 to 8 hex digits each side) to a timestamp; false if it is not one. */
bool ctlv_parse_lfp(const char *s, ntp_ts_t *out);

/* Splits an MRU address "a.b.c.d:port" or "[v6]:port" into the address (no brackets)
 * and the port. False when it has neither form (ip is then a printable copy of all). */
bool ctlv_split_addr(const char *addr, char *ip, size_t iplen, uint16_t *port);

#endif
