/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * query: ask NTP servers for the time, as `stratum query` and `stratum sync` do: resolve
 * the names, send data-minimised requests from fresh random ports with random nonces,
 * several rounds in parallel across servers, keep the lowest-delay sample per server,
 * and find which servers agree. Printing (text and JSON) lives here too, so that query
 * and sync show servers the same way.
 */
#ifndef STRATUM_QUERY_H
#define STRATUM_QUERY_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "clock/clock.h"
#include "core/client.h"
#include "core/select.h"
#include "io/json.h"
#include "io/plat.h"

#define Q_MAX_TARGETS SEL_MAX_SOURCES
#define Q_MAX_SAMPLES 64

struct q_opts {
    int family;             /* 0 any, 4, 6 */
    int samples;            /* requests per server */
    double interval;        /* s between rounds */
    double timeout;         /* s per request */
    uint16_t port;          /* default port */
    uint8_t version;        /* NTP version of the requests */
    bool json;
    enum clk_kind clock;    /* the clock our timestamps are read from */
};

enum q_status {
    Q_OK = 0,
    Q_NAME,                 /* name does not resolve */
    Q_TIMEOUT,              /* no valid answer */
    Q_REFUSED,              /* ICMP port unreachable */
    Q_NETWORK,              /* socket or send error */
    Q_KOD,                  /* kiss-o'-death */
    Q_UNSYNC,               /* server not synchronized */
    Q_BAD,                  /* response failed a sanity check */
};

struct q_target {
    char host[256];         /* as given */
    char addr_text[64];     /* numeric */
    uint16_t port;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    enum q_status status;
    char error[320];
    enum client_reject reject;      /* the last reject seen, for Q_BAD / Q_UNSYNC / Q_KOD */
    enum ntp_kiss kiss;
    bool kissed;            /* a kiss-o'-death arrived: no more requests to this server */
    struct ntp_sample best;
    int n_sent;
    int n_ok;
    bool truechimer;
    /* per round */
    plat_sock sock;
    uint64_t nonce;
    ntp_ts_t t1;
    bool waiting;
};

struct q_run {
    struct q_opts opts;
    struct q_target t[Q_MAX_TARGETS];
    size_t n;
    struct clk *clk;
    int8_t precision;
    struct sel_result agree;
    size_t n_ok;
};

/* Parses HOST, HOST:PORT, [V6]:PORT or a bare IPv6 address into host and port. Returns 0
 * or -1 with a message. */
int q_parse_target(const char *arg, uint16_t default_port, char *host, size_t hostlen,
                   uint16_t *port, char *err, size_t errlen);

/* Resolves every argument into targets (all addresses of each name). A name that does not
 * resolve becomes one target with status Q_NAME. Returns 0, or -1 (usage error: bad
 * argument, too many targets) with a message in err. */
int q_resolve(struct q_run *r, char *const *args, int nargs, char *err, size_t errlen);

/* Runs the rounds of requests and the agreement test. progress may be NULL. */
void q_measure(struct q_run *r);

/* Exit code for the results (DESIGN table): 0 when at least one server gave a sample; else
 * 3 when some server answered but was unusable; else 2. */
int q_exit_code(const struct q_run *r);

const char *q_status_name(enum q_status s);
const char *q_leap_name(uint8_t leap);

void q_print_text(const struct q_run *r, FILE *f);
/* Writes the "servers" array and "agreement" object members into an open JSON object. */
void q_json_members(const struct q_run *r, struct json *j);

#endif
