/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * ctlclient: a mode 6 (control protocol) client session with one server, as `stratum
 * status/peers/clients` use it: one connected UDP socket for the whole session (the MRU
 * nonce is bound to our source port), requests with sequence numbers, fragments
 * reassembled by ctl_reasm with a per-request timeout and one retry, error replies
 * turned into messages and exit codes, and the MRU walk (nonce, resumption, restarts,
 * bounds). The wire codec is src/core/ctl.c's, the reading of values src/core/ctlvars.c's;
 * the platform seam src/io/plat.h's, so this builds for Windows too.
 */
#ifndef STRATUM_CTLCLIENT_H
#define STRATUM_CTLCLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/ctl.h"
#include "core/ctlvars.h"
#include "io/plat.h"

/* The most associations a READSTAT reply can list (4 octets each). */
#define CTLC_MAX_ASSOCS (CTL_MAX_PAYLOAD / 4)
/* Bounds of one MRU walk: entries received in all (duplicates included), requests, and
 * restarts after the server lost our resume point (CERR_UNKNOWNVAR). */
#define CTLC_MRU_MAX_ENTRIES 100000
#define CTLC_MRU_MAX_REQUESTS 2000
#define CTLC_MRU_MAX_RESTARTS 8

/* What a request came to; ctlc_exit_code maps each to stratum's exit status. */
enum ctlc_result {
    CTLC_OK = 0,
    CTLC_USAGE,   /* a malformed HOST[:PORT], a request we cannot send: exit 1 */
    CTLC_NAME,    /* the name does not resolve: exit 2 */
    CTLC_TIMEOUT, /* no (complete) answer, after one retry: exit 2 */
    CTLC_NETWORK, /* a socket error, ICMP port unreachable: exit 2 */
    CTLC_SERVER,  /* an error reply (code in err_code): exit 3 */
    CTLC_BAD,     /* a reply we cannot use (malformed, fragments that do not fit): exit 3 */
    CTLC_DENIED,  /* this machine did not let us send (EPERM/EACCES): exit 4 */
};

struct ctlc_opts {
    int family;     /* 0 any, 4, 6 */
    uint16_t port;  /* when HOST has none (123) */
    double timeout; /* s to wait for a reply (and between its fragments) */
};

struct ctlc {
    plat_sock sock;
    char host[256];     /* as given */
    char addr_text[64]; /* numeric address asked */
    uint16_t port;
    int timeout_ms;
    uint16_t seq;
    /* The last reply: payload in r.buf[0 .. r.end), r.status its status word. */
    struct ctl_reasm r;
    uint8_t leap;            /* LI of the last reply */
    enum ctl_error err_code; /* of the last CTLC_SERVER */
    char err[320];           /* message of the last failure */
    unsigned requests, datagrams, ignored;
};

/* Resolves target (HOST, HOST:PORT, [V6]:PORT, a bare IPv6 address; the first address
 * of the family asked) and opens the session's socket. On failure c->err says why;
 * ctlc_close is safe either way. */
enum ctlc_result ctlc_open(struct ctlc *c, const char *target, const struct ctlc_opts *o);
void ctlc_close(struct ctlc *c);

/* One request (data: a NUL-terminated text, NULL for none) and its whole reply, which
 * ends in c->r. Waits timeout for the first fragment and for each next one; sends the
 * request once more (a new sequence number) when the reply does not come complete. */
enum ctlc_result ctlc_request(struct ctlc *c, uint8_t opcode, uint16_t associd, const char *data);

/* The reply text of the last successful request and its length. */
const char *ctlc_text(const struct ctlc *c);
size_t ctlc_len(const struct ctlc *c);

/* READSTAT of association 0: the system status word and the associations (sorted). */
enum ctlc_result ctlc_readstat(struct ctlc *c, uint16_t *sys_status, struct ctlv_assoc *out,
                               size_t cap, size_t *n);

/* READVAR of association associd (0: the system) for names ("a,b"; NULL or "": the
 * server's default set). *status gets the reply's status word. */
enum ctlc_result ctlc_readvar(struct ctlc *c, uint16_t associd, const char *names,
                              uint16_t *status);

/* The whole client list, one entry per address (the newest), in no particular order. */
struct ctlc_mru {
    struct ctlv_mru_entry *e; /* heap, ctlc_mru_free */
    size_t n, cap;
    ntp_ts_t now;   /* the server's time at the end of the walk */
    bool truncated; /* stopped at CTLC_MRU_MAX_ENTRIES */
    unsigned requests, restarts;
};

/* REQ_NONCE, then READ_MRU until the server sends `now`: resuming after the newest
 * entries held (addr.N/last.N), a fresh nonce from each reply, a restart when the server
 * lost every resume point, fewer fragments after a timeout; bounded by the limits above.
 * On success m holds the merged list; on failure c->err says why. */
enum ctlc_result ctlc_mrulist(struct ctlc *c, struct ctlc_mru *m);
void ctlc_mru_free(struct ctlc_mru *m);

/* stratum's exit status for a result (0 ok, 1 usage, 2 network, 3 server, 4 denied). */
int ctlc_exit_code(enum ctlc_result r);

/* A short name for JSON ("ok", "name_error", "timeout", ...). */
const char *ctlc_result_name(enum ctlc_result r);

/* ntpq's name of an error code: "PERMISSION", "UNKNOWNVAR" ... */
const char *ctlc_error_code_name(enum ctl_error e);

#endif
