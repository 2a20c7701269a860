/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * alarm: delivery of the fleet monitor's alarm events to its sinks: the local syslog
 * (syslog(3)), a remote syslog collector (RFC 5424 over UDP per RFC 5426, or over TCP with
 * RFC 6587 octet counting) and a hook command (/bin/sh -c, the event as JSON on stdin).
 * It does not decide when a device enters or leaves "not standard" (sweep.c does), and it
 * keeps no queue: an event a sink cannot take now is reported to the caller, not retried.
 * Linux only.
 */
#ifndef STRATUM_ALARM_H
#define STRATUM_ALARM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* One alarm event. All strings NUL-terminated, owned by the caller, none NULL. */
struct alarm_event {
    int64_t time_unix_ms;  /* when the sweep observed it (UTC, ms since 1970) */
    const char *kind;      /* "enter" (became not standard) or "leave" (back to standard) */
    const char *severity;  /* "warning", "critical", or "ok" for leave */
    const char *device;    /* the device's name (or its host when unnamed) */
    const char *host;      /* host[:port] as in the inventory */
    const char *group;     /* "" when none */
    const char *status;    /* ok | offset | unreachable | kod | unsynchronized | bad_response */
    double offset;         /* s; NaN when not measured */
    double threshold_warn; /* s */
    double threshold_crit; /* s */
    const char *detail;    /* human text: "offset +0.412317 s beyond 0.100 s", or the error */
    int64_t sweep_id;
};

#define ALARM_HOOK_TIMEOUT_DEFAULT_MS 10000
#define ALARM_FACILITY_DEFAULT 3 /* daemon (RFC 5424 sec. 6.2.1) */
#define ALARM_APP_NAME "stratum-monitor"
/* The SD-ID of the structured data. 32473 is the private enterprise number RFC 5612
 * reserves for documentation. */
#define ALARM_SD_ID "stratum@32473"

/* The sinks, filled by the CLI from its options. */
struct alarm_config {
    bool syslog_local; /* syslog(3), facility LOG_DAEMON, ident "stratum-monitor" */
    char remote[256];  /* "" none; "udp://HOST:PORT" or "tcp://HOST:PORT" ([v6]:PORT) */
    /* "" none; a command for /bin/sh -c, run in its own process group with the event's
     * JSON (alarm_format_json) on stdin, our stdout and stderr, no other descriptors, and
     * STRATUM_EVENT (kind), STRATUM_DEVICE, STRATUM_SEVERITY, STRATUM_HOST, STRATUM_STATUS
     * added to the environment. Exit status 0 is success. */
    char hook[1024];
    int hook_timeout_ms; /* SIGKILL the hook's process group after this (stdin included);
                          * 0: the default */
    char hostname[256];  /* RFC 5424 HOSTNAME; "": gethostname() */
    int facility;        /* RFC 5424 PRI facility, 1 .. 23; 0: the default (daemon, 3) */
};

struct alarm;

/* All sinks off, the defaults for the rest. */
void alarm_config_init(struct alarm_config *c);

/* Checks c and gets the sinks ready: opens the local syslog, resolves the remote's host
 * with getaddrinfo (once: later changes in DNS are not followed) and connects a UDP socket
 * to it (a TCP connection is made by the first alarm_send). Returns the handle, which the
 * caller closes with alarm_close, or NULL with a message in err naming the offending word
 * (bad scheme, no port, port out of 1 .. 65535, unresolvable host, ...). */
struct alarm *alarm_open(const struct alarm_config *c, char *err, size_t errlen);

/* Delivers ev to every configured sink, in this order: local syslog, remote, hook.
 * Returns 0 when all took it, -1 when any failed; then err says which and why ("remote
 * tcp://[::1]:6514: connect: Connection refused; hook exited with status 3"), and the
 * other sinks have still been tried. Blocks for at most about hook_timeout_ms + 2 s: the
 * remote TCP sink has 2 s in all to connect (non-blocking, polled), send, and on a broken
 * connection reconnect once and send again; the hook is killed at hook_timeout_ms.
 * The hook is waited for with waitpid, so the caller must not ignore SIGCHLD; SIGPIPE
 * from its stdin is blocked and consumed, whatever the caller's disposition. */
int alarm_send(struct alarm *a, const struct alarm_event *ev, char *err, size_t errlen);

/* Closes the sockets (and the local syslog). NULL is fine. */
void alarm_close(struct alarm *a);

/* ---- formatters: pure, no I/O ------------------------------------------------------- */

/* The RFC 5424 message, without framing:
 *   <PRI>1 TIMESTAMP HOSTNAME stratum-monitor PROCID MSGID [SD] MSG
 * PRI = facility * 8 + severity: 2 (crit) for "critical", 5 (notice) for "leave" events,
 * 4 (warning) otherwise; a facility outside 0 .. 23 is taken as the default. TIMESTAMP
 * is UTC with milliseconds ("2026-12-07T01:02:03.456Z"), "-" when time_unix_ms is outside
 * the years 0 .. 9999. HOSTNAME (255), APP-NAME (48) and
 * MSGID (32, the event's kind) keep printable US-ASCII but space, other bytes become '_',
 * and are cut at those lengths; an empty one is "-". PROCID is procid, "-" when <= 0.
 * SD is [stratum@32473 device="" host="" group="" status="" offset="" sweep=""] with
 * offset as %+.9f s and left out when NaN; in its values '"', '\' and ']' are escaped
 * with a backslash (RFC 5424 sec. 6.3.3), control characters become spaces and bytes
 * that are not UTF-8 become U+FFFD. MSG is alarm_format_text's line, sanitized the
 * same way, without a BOM (MSG-ANY).
 * Writes a NUL-terminated string to buf and returns its length (NUL not counted), or 0
 * when it does not fit in cap bytes. */
size_t alarm_format_5424(const struct alarm_event *ev, const char *hostname, int facility,
                         int procid, char *buf, size_t cap);

/* The human line of an event, as the local syslog gets it after "MON: ":
 *   "cam-17 (127.1.0.17) not standard: offset +0.412317 s beyond 0.100 s (critical)"
 *   "cam-17 (127.1.0.17) standard again: offset +0.000213 s"
 * "(host)" is left out when it equals the device name; without a detail, one is made from
 * status, offset and the threshold. Returns the length snprintf would have written:
 * truncated (NUL-terminated) when it is >= cap. */
size_t alarm_format_text(const struct alarm_event *ev, char *buf, size_t cap);

/* The hook's stdin: one JSON object on one line, ended by a newline, with
 * schema_version 1, time (the RFC 5424 TIMESTAMP form), time_unix_ms, kind, severity,
 * device, host, group, status, offset (9 decimals, null when NaN), threshold_warn,
 * threshold_crit, detail and sweep_id; strings as src/io/json.h writes them (UTF-8,
 * invalid bytes as U+FFFD). Returns 0, or -1 when writing to f failed. */
int alarm_format_json(const struct alarm_event *ev, FILE *f);

#endif
