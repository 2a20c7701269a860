/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * status: `stratum status|peers|clients [HOST[:PORT]]` over mode 6. What is asked:
 *   status   READVAR 0 (the default set), then ss_uptime and peeradr (each tolerated
 *            missing), and the system peer's srcadr when peeradr is unknown;
 *   peers    READSTAT, READVAR 0 "clock" (the server's now, for the when column), then
 *            READVAR of each association with the default set (as ntpq -p: a list with
 *            our own `selection` would fail as a whole on ntpd with UNKNOWNVAR);
 *   clients  the MRU walk (ctlclient).
 * Addresses are always printed numerically: no reverse DNS (-n is accepted for ntpq's
 * users). The columns follow ntpq's (NTPsec ntp/util.py), values in ms as ntpq shows them;
 * JSON has seconds.
 */
#include "status.h"

#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/ctl.h"
#include "core/ctlvars.h"
#include "core/ntp_time.h"
#include "io/json.h"
#include "io/plat.h"
#include "tools/ctlclient.h"

#define EXIT_OK 0
#define EXIT_USAGE 1
#define EXIT_UNUSABLE 3

#define ST_SCHEMA_VERSION 1
/* DESIGN: the status target is this machine's daemon unless a host is given. */
#define ST_DEFAULT_TARGET "127.0.0.1"
#define ST_DEFAULT_TIMEOUT 2.0
/* ntpq's width of the remote and refid columns. */
#define ST_NAME_WIDTH 15
#define ST_REFID_WIDTH 15

enum st_cmd { ST_STATUS, ST_PEERS, ST_CLIENTS };

enum st_sort { SORT_LSTINT, SORT_AVGINT, SORT_ADDR, SORT_COUNT, SORT_SCORE, SORT_DROP, SORT_KOD };

static const struct {
    const char *name;
    enum st_sort key;
} sort_keys[] = {
    {"lstint", SORT_LSTINT}, {"avgint", SORT_AVGINT}, {"addr", SORT_ADDR}, {"count", SORT_COUNT},
    {"score", SORT_SCORE},   {"drop", SORT_DROP},     {"kod", SORT_KOD},
};

struct st_opts {
    enum st_cmd cmd;
    const char *name;
    struct ctlc_opts c;
    const char *target;
    bool json;
    double watch; /* s between refreshes; 0: once */
    long count;   /* refreshes with --watch; 0: until interrupted */
    enum st_sort sort;
    bool sort_reverse;
    const char *sort_name;
    long limit; /* clients shown; 0: all */
};

/* ---- options ----------------------------------------------------------------------------- */

static void usage(FILE *f, const struct st_opts *o)
{
    static const char *const what[] = {
        ("Shows the state of an NTP server (stratumd, ntpd, NTPsec) over the control\n"
         "protocol (mode 6): synchronized or not, stratum, system peer, offset, frequency,\n"
         "jitter, root distance, leap indicator, uptime.\n"),
        ("Lists an NTP server's sources as `ntpq -p` does (tally, remote, refid, st, t,\n"
         "when, poll, reach, delay, offset, jitter), and why a source is not selected when\n"
         "the server says (stratumd).\n"),
        ("Lists the clients an NTP server has seen (its MRU list, as `ntpq -c mrulist`),\n"
         "newest first or sorted.\n"),
    };
    fprintf(f, "Usage: stratum %s [options] [HOST[:PORT]]\n%s", o->name, what[o->cmd]);
    fprintf(f,
            "HOST defaults to " ST_DEFAULT_TARGET " (this machine's daemon).\n\n"
            "  -4, -6                only IPv4 / only IPv6 addresses\n"
            "  -t, --timeout S       seconds to wait for each reply (default 2; one retry)\n"
            "  -p, --port N          server port when HOST has none (default 123)\n"
            "  -n, --numeric         addresses as numbers (always; for ntpq's users)\n"
            "  -j, --json            JSON output (schema: docs/schema/stratum-%s.schema.json)\n"
            "  -w, --watch S         refresh every S seconds until interrupted (Ctrl-C)\n"
            "      --count N         with --watch: stop after N refreshes\n",
            o->name);
    if (o->cmd == ST_CLIENTS) {
        fprintf(f, "  -s, --sort KEY        lstint (default: newest first), avgint, addr, count,\n"
                   "                        score, drop, kod; -KEY reverses (-count: busiest "
                   "first)\n"
                   "  -l, --limit N         show the first N clients only\n");
    }
    fprintf(f,
            "  -h, --help            this text\n"
            "\nExit codes: 0 ok, 1 usage error, 2 network failure (timeout, unknown name,\n"
            "nothing listening), 3 the server refused or answered unusably (an error reply,\n"
            "a malformed reply%s), 4 not permitted. See stratum(1).\n",
            o->cmd == ST_STATUS ? "; and for status: the server is unsynchronized" : "");
}

static int opt_number(const char *cmd, const char *opt, const char *arg, double min, double max,
                      double *out)
{
    char *end;
    errno = 0;
    double v = strtod(arg, &end);
    if (*arg == '\0' || *end != '\0' || errno != 0 || !isfinite(v) || v < min || v > max) {
        fprintf(stderr, "stratum %s: %s '%s': expected a number from %g to %g\n", cmd, opt, arg,
                min, max);
        return -1;
    }
    *out = v;
    return 0;
}

static int opt_count(const char *cmd, const char *opt, const char *arg, long min, long max,
                     long *out)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (*arg == '\0' || *end != '\0' || errno != 0 || v < min || v > max) {
        fprintf(stderr, "stratum %s: %s '%s': expected a whole number from %ld to %ld\n", cmd, opt,
                arg, min, max);
        return -1;
    }
    *out = v;
    return 0;
}

enum { OPT_COUNT = 256 };

/* Returns 0, -1 (usage error, message printed) or -2 (help printed). */
static int parse_opts(int argc, char **argv, struct st_opts *o)
{
    static const struct option opts[] = {
        {"timeout", required_argument, NULL, 't'}, {"port", required_argument, NULL, 'p'},
        {"numeric", no_argument, NULL, 'n'},       {"json", no_argument, NULL, 'j'},
        {"watch", required_argument, NULL, 'w'},   {"count", required_argument, NULL, OPT_COUNT},
        {"sort", required_argument, NULL, 's'},    {"limit", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},          {NULL, 0, NULL, 0},
    };
    const char *cmd = o->name;
    bool have_count = false;
    long v;
    int c;
    optind = 1;
    opterr = 0;
    while ((c = getopt_long(argc, argv, ":46t:p:njw:s:l:h", opts, NULL)) != -1) {
        if ((c == 's' || c == 'l') && o->cmd != ST_CLIENTS) {
            fprintf(stderr, "stratum %s: --sort and --limit are options of 'stratum clients'\n",
                    cmd);
            return -1;
        }
        switch (c) {
        case '4':
        case '6':
            o->c.family = c == '4' ? 4 : 6;
            break;
        case 't':
            if (opt_number(cmd, "--timeout", optarg, 0.001, 60, &o->c.timeout) != 0) {
                return -1;
            }
            break;
        case 'p':
            if (opt_count(cmd, "--port", optarg, 1, 65535, &v) != 0) {
                return -1;
            }
            o->c.port = (uint16_t)v;
            break;
        case 'n':
            break; /* always numeric */
        case 'j':
            o->json = true;
            break;
        case 'w':
            if (opt_number(cmd, "--watch", optarg, 0.1, 86400, &o->watch) != 0) {
                return -1;
            }
            break;
        case OPT_COUNT:
            if (opt_count(cmd, "--count", optarg, 1, 1000000, &o->count) != 0) {
                return -1;
            }
            have_count = true;
            break;
        case 's': {
            const char *k = optarg[0] == '-' ? optarg + 1 : optarg;
            bool found = false;
            for (size_t i = 0; i < sizeof(sort_keys) / sizeof(sort_keys[0]); i++) {
                if (strcmp(k, sort_keys[i].name) == 0) {
                    o->sort = sort_keys[i].key;
                    found = true;
                }
            }
            if (!found) {
                fprintf(stderr,
                        "stratum %s: --sort '%s': expected lstint, avgint, addr, count, score, "
                        "drop or kod, optionally after '-'\n",
                        cmd, optarg);
                return -1;
            }
            o->sort_reverse = optarg[0] == '-';
            o->sort_name = optarg;
            break;
        }
        case 'l':
            if (opt_count(cmd, "--limit", optarg, 1, CTLC_MRU_MAX_ENTRIES, &o->limit) != 0) {
                return -1;
            }
            break;
        case 'h':
            usage(stdout, o);
            return -2;
        case ':':
            fprintf(stderr, "stratum %s: %s needs a value (see --help)\n", cmd, argv[optind - 1]);
            return -1;
        default:
            fprintf(stderr, "stratum %s: unknown option '%s' (see --help)\n", cmd,
                    argv[optind - 1]);
            return -1;
        }
    }
    if (have_count && o->watch <= 0.0) {
        fprintf(stderr, "stratum %s: --count goes with --watch\n", cmd);
        return -1;
    }
    if (argc - optind > 1) {
        fprintf(stderr, "stratum %s: one server at a time ('%s' is one too many)\n", cmd,
                argv[optind + 1]);
        return -1;
    }
    if (optind < argc) {
        o->target = argv[optind];
    }
    return 0;
}

/* ---- words and numbers ---------------------------------------------------------------------- */

static const char *leap_word(unsigned leap)
{
    static const char *const w[] = {"none", "insert", "delete", "unsynchronized"};
    return w[leap & 3u];
}

static const char *leap_text(unsigned leap)
{
    static const char *const w[] = {
        "none",
        "insert (a leap second will be inserted at the end of the day)",
        "delete (a second will be deleted at the end of the day)",
        "alarm (unsynchronized)",
    };
    return w[leap & 3u];
}

static const char *clock_source_name(unsigned src)
{
    static const char *const w[] = {
        "sync_unspec", "sync_pps", "sync_lf_radio", "sync_hf_radio",   "sync_uhf_radio",
        "sync_local",  "sync_ntp", "sync_other",    "sync_wristwatch", "sync_telephone"};
    return src < sizeof(w) / sizeof(w[0]) ? w[src] : "sync_unknown";
}

static ntp_ts_t local_now(void)
{
    struct timespec ts = {.tv_sec = time(NULL), .tv_nsec = 0};
    return ntp_ts_from_timespec(&ts);
}

/* An NTP timestamp as UTC: "2026-05-01 12:00:00 UTC" or, iso, "2026-05-01T12:00:00.123456Z".
 * The era is the one nearest this machine's clock. */
static void ts_text(ntp_ts_t t, bool iso, char *out, size_t size)
{
    struct timespec ts;
    struct tm tm;
    char base[32];
    ntp_ts_to_timespec(t, (int64_t)time(NULL), &ts);
    if (plat_gmtime((int64_t)ts.tv_sec, &tm) != 0 ||
        strftime(base, sizeof(base), iso ? "%Y-%m-%dT%H:%M:%S" : "%Y-%m-%d %H:%M:%S", &tm) == 0) {
        snprintf(out, size, "?");
        return;
    }
    if (iso) {
        snprintf(out, size, "%s.%06ldZ", base, (long)(ts.tv_nsec / 1000));
    } else {
        snprintf(out, size, "%s UTC", base);
    }
}

static void json_ts(struct json *j, bool have, ntp_ts_t t)
{
    char b[48];
    if (!have || t == 0) {
        json_null(j);
        return;
    }
    ts_text(t, true, b, sizeof(b));
    json_string(j, b);
}

static void json_secs(struct json *j, bool have, double v)
{
    if (have) {
        json_fixed(j, v, 9);
    } else {
        json_null(j);
    }
}

static void json_str_or_null(struct json *j, bool have, const char *s)
{
    if (have) {
        json_string(j, s);
    } else {
        json_null(j);
    }
}

/* ntpq's f8dot4: milliseconds in 8 characters, 4 decimals when they fit. */
static const char *f8dot4(double ms, char *out, size_t size)
{
    if (!isfinite(ms)) {
        snprintf(out, size, "%8s", "nan");
    } else if (ms >= 0.0) {
        int d = ms < 1e3 ? 4 : ms < 1e4 ? 3 : ms < 1e5 ? 2 : ms < 1e6 ? 1 : ms < 1e8 ? 0 : -1;
        if (d >= 0) {
            snprintf(out, size, "%8.*f", d, ms);
        } else {
            snprintf(out, size, "%8.1e", ms);
        }
    } else {
        int d = ms > -1e2 ? 4 : ms > -1e3 ? 3 : ms > -1e4 ? 2 : ms > -1e5 ? 1 : ms > -1e7 ? 0 : -1;
        if (d >= 0) {
            snprintf(out, size, "%8.*f", d, ms);
        } else {
            snprintf(out, size, "%8.1e", ms);
        }
    }
    return out;
}

/* ntpq's prettyinterval: s, then minutes, hours, days; "-" for none. */
static const char *interval_text(double s, char *out, size_t size)
{
    if (!(s >= 1.0) || s > 1e12) {
        snprintf(out, size, "-");
        return out;
    }
    double d = floor(s);
    if (d <= 2048) {
        snprintf(out, size, "%.0f", d);
        return out;
    }
    d = (d + 29) / 60;
    if (d <= 300) {
        snprintf(out, size, "%dm", (int)d);
        return out;
    }
    d = (d + 29) / 60;
    if (d <= 96) {
        snprintf(out, size, "%dh", (int)d);
        return out;
    }
    d = (d + 11) / 24;
    snprintf(out, size, "%.0fd", floor(d));
    return out;
}

/* "a.b.c.d:port", "[v6]:port". */
static void addr_port(const char *ip, uint16_t port, char *out, size_t size)
{
    snprintf(out, size, strchr(ip, ':') != NULL ? "[%s]:%u" : "%s:%u", ip, (unsigned)port);
}

/* ---- the server block shared by every JSON output ---------------------------------------- */

static void json_head(struct json *j, const struct st_opts *o, const struct ctlc *c)
{
    json_object_begin(j);
    json_key(j, "schema_version");
    json_int(j, ST_SCHEMA_VERSION);
    json_key(j, "command");
    json_string(j, o->name);
    json_key(j, "server");
    json_object_begin(j);
    json_key(j, "host");
    json_string(j, c->host);
    json_key(j, "address");
    json_str_or_null(j, c->addr_text[0] != '\0', c->addr_text);
    json_key(j, "port");
    json_int(j, c->port);
    json_object_end(j);
}

static void json_error(struct json *j, enum ctlc_result r, const struct ctlc *c)
{
    json_key(j, "error");
    if (r == CTLC_OK) {
        json_null(j);
        return;
    }
    json_object_begin(j);
    json_key(j, "kind");
    json_string(j, ctlc_result_name(r));
    json_key(j, "message");
    json_string(j, c->err);
    json_key(j, "code");
    json_str_or_null(j, r == CTLC_SERVER, ctlc_error_code_name(c->err_code));
    json_object_end(j);
}

static void json_tail(struct json *j, int rc)
{
    json_key(j, "exit_code");
    json_int(j, rc);
    json_object_end(j);
    json_finish(j);
}

/* ---- status ------------------------------------------------------------------------------- */

struct st_status {
    uint16_t sys_status;
    struct ctlv_sys sys;
    const char *state;
    bool state_from_server;
    bool have_peer_addr;
    char peer_ip[CTLV_STR];
    uint16_t peer_port;
};

static void merge_sys(struct ctlv_sys *d, const struct ctlv_sys *s)
{
    if ((s->have & CTLV_S_UPTIME) != 0) {
        d->uptime_s = s->uptime_s;
        d->have |= CTLV_S_UPTIME;
    }
    if ((s->have & CTLV_S_PEERADR) != 0) {
        memcpy(d->peeradr, s->peeradr, sizeof(d->peeradr));
        d->have |= CTLV_S_PEERADR;
    }
}

/* Variables not every server knows: together, and on an error reply (a name unknown to
 * the server fails the whole request) one at a time; an error reply just leaves one out. */
static enum ctlc_result optional_sys(struct ctlc *c, const char *const *names, size_t n,
                                     struct ctlv_sys *into)
{
    char list[128] = "";
    struct ctlv_sys t;
    for (size_t i = 0; i < n; i++) {
        size_t l = strlen(list);
        snprintf(list + l, sizeof(list) - l, "%s%s", i > 0 ? "," : "", names[i]);
    }
    enum ctlc_result r = ctlc_readvar(c, 0, list, NULL);
    if (r == CTLC_OK) {
        ctlv_parse_sys(ctlc_text(c), ctlc_len(c), &t);
        merge_sys(into, &t);
        return CTLC_OK;
    }
    if (r != CTLC_SERVER || n == 1) {
        return r == CTLC_SERVER ? CTLC_OK : r;
    }
    for (size_t i = 0; i < n; i++) {
        r = ctlc_readvar(c, 0, names[i], NULL);
        if (r == CTLC_OK) {
            ctlv_parse_sys(ctlc_text(c), ctlc_len(c), &t);
            merge_sys(into, &t);
        } else if (r != CTLC_SERVER) {
            return r;
        }
    }
    return CTLC_OK;
}

/* In words, from the server's own sync_state (stratumd), else from leap, stratum, the
 * system peer and the clock source of the status word (ntpd, NTPsec). */
static const char *derive_state(const struct ctlv_sys *s, uint16_t status)
{
    unsigned leap = (s->have & CTLV_S_LEAP) != 0 ? s->leap : (unsigned)(status >> 14);
    unsigned source = (status >> 8) & 0x3fu;
    if (leap == 3 || (s->have & CTLV_S_STRATUM) == 0 || s->stratum == 0 || s->stratum >= 16) {
        return "unsynchronized";
    }
    if (s->peer != 0 || (source != CTL_SST_UNSPEC && source != CTL_SST_LOCAL)) {
        return "synchronized";
    }
    return "local clock";
}

static enum ctlc_result get_status(struct ctlc *c, struct st_status *s)
{
    static const char *const extra[] = {"ss_uptime", "peeradr"};
    memset(s, 0, sizeof(*s));
    enum ctlc_result r = ctlc_readvar(c, 0, NULL, &s->sys_status);
    if (r != CTLC_OK) {
        return r;
    }
    ctlv_parse_sys(ctlc_text(c), ctlc_len(c), &s->sys);
    r = optional_sys(c, extra, 2, &s->sys);
    if (r != CTLC_OK) {
        return r;
    }
    char ip[CTLV_STR];
    uint16_t port;
    if ((s->sys.have & CTLV_S_PEERADR) != 0 &&
        ctlv_split_addr(s->sys.peeradr, ip, sizeof(ip), &port) && port != 0 &&
        strcmp(ip, "0.0.0.0") != 0 && strcmp(ip, "::") != 0) {
        memcpy(s->peer_ip, ip, sizeof(ip));
        s->peer_port = port;
        s->have_peer_addr = true;
    } else if (s->sys.peer != 0) {
        r = ctlc_readvar(c, s->sys.peer, "srcadr,srcport", NULL);
        if (r == CTLC_OK) {
            struct ctlv_peer p;
            ctlv_parse_peer(ctlc_text(c), ctlc_len(c), &p);
            if ((p.have & CTLV_P_SRCADR) != 0) {
                memcpy(s->peer_ip, p.srcadr, sizeof(s->peer_ip));
                s->peer_port = p.srcport;
                s->have_peer_addr = true;
            }
        } else if (r != CTLC_SERVER) {
            return r;
        }
    }
    if ((s->sys.have & CTLV_S_SYNC_STATE) != 0 && s->sys.sync_state[0] != '\0') {
        s->state = s->sys.sync_state;
        s->state_from_server = true;
    } else {
        s->state = derive_state(&s->sys, s->sys_status);
    }
    return CTLC_OK;
}

/* `status` exits 3 when the server does not keep time (like ntpstat's non-zero). */
static int status_exit(const struct st_status *s)
{
    return strcmp(s->state, "unsynchronized") == 0 || strcmp(s->state, "panic") == 0 ? EXIT_UNUSABLE
                                                                                     : EXIT_OK;
}

static void uptime_text(int64_t s, char *out, size_t size)
{
    long long d = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;
    if (d > 0) {
        snprintf(out, size, "%lldd %02lldh %02lldm %02llds (%lld s)", d, h, m, sec, (long long)s);
    } else if (h > 0) {
        snprintf(out, size, "%lldh %02lldm %02llds (%lld s)", h, m, sec, (long long)s);
    } else if (m > 0) {
        snprintf(out, size, "%lldm %02llds (%lld s)", m, sec, (long long)s);
    } else {
        snprintf(out, size, "%lld s", sec);
    }
}

static void print_status(const struct ctlc *c, const struct st_status *s)
{
    const struct ctlv_sys *y = &s->sys;
    char b[160], w[96];
    addr_port(c->addr_text, c->port, w, sizeof(w));
    if ((y->have & CTLV_S_VERSION) != 0) {
        printf("server          %s (%s)\n", w, y->version);
    } else {
        printf("server          %s\n", w);
    }
    printf("state           %s\n", s->state);
    if ((y->have & CTLV_S_STRATUM) != 0) {
        printf("stratum         %d\n", y->stratum);
    }
    if (s->have_peer_addr) {
        addr_port(s->peer_ip, s->peer_port, b, sizeof(b));
        printf("system peer     %s", b);
        printf(y->peer != 0 ? " (association %u)\n" : "\n", (unsigned)y->peer);
    } else if (y->peer != 0) {
        printf("system peer     association %u\n", (unsigned)y->peer);
    } else {
        printf("system peer     none\n");
    }
    if ((y->have & CTLV_S_REFID) != 0) {
        printf("refid           %s\n", y->refid);
    }
    if ((y->have & CTLV_S_REFTIME) != 0) {
        if (y->reftime == 0) {
            printf("reference time  never\n");
        } else {
            ts_text(y->reftime, false, b, sizeof(b));
            double age = (y->have & CTLV_S_CLOCK) != 0 ? ntp_ts_diff(y->clock, y->reftime)
                                                       : ntp_ts_diff(local_now(), y->reftime);
            printf("reference time  %s (%.0f s ago)\n", b, age);
        }
    }
    if ((y->have & CTLV_S_OFFSET) != 0) {
        printf("offset          %+.6f ms\n", y->offset * 1e3);
    }
    if ((y->have & CTLV_S_FREQUENCY) != 0) {
        printf("frequency       %+.3f ppm\n", y->frequency_ppm);
    }
    if ((y->have & CTLV_S_SYS_JITTER) != 0) {
        printf("system jitter   %.6f ms\n", y->sys_jitter * 1e3);
    }
    if ((y->have & (CTLV_S_ROOTDELAY | CTLV_S_ROOTDISP)) == (CTLV_S_ROOTDELAY | CTLV_S_ROOTDISP)) {
        printf("root distance   %.3f ms (root delay %.3f ms / 2 + root dispersion %.3f ms)\n",
               (y->rootdelay / 2.0 + y->rootdisp) * 1e3, y->rootdelay * 1e3, y->rootdisp * 1e3);
    }
    unsigned leap = (y->have & CTLV_S_LEAP) != 0 ? y->leap : (unsigned)(s->sys_status >> 14);
    printf("leap            %s\n", leap_text(leap));
    if ((y->have & CTLV_S_UPTIME) != 0) {
        uptime_text(y->uptime_s, b, sizeof(b));
        printf("uptime          %s\n", b);
    }
}

static void json_status(struct json *j, const struct st_status *s)
{
    const struct ctlv_sys *y = &s->sys;
    bool root =
        (y->have & (CTLV_S_ROOTDELAY | CTLV_S_ROOTDISP)) == (CTLV_S_ROOTDELAY | CTLV_S_ROOTDISP);
    json_key(j, "state");
    json_string(j, s->state);
    json_key(j, "state_source");
    json_string(j, s->state_from_server ? "server" : "derived");
    json_key(j, "software");
    json_str_or_null(j, (y->have & CTLV_S_VERSION) != 0, y->version);
    json_key(j, "status_word");
    json_int(j, s->sys_status);
    json_key(j, "clock_source");
    json_string(j, clock_source_name((s->sys_status >> 8) & 0x3fu));
    json_key(j, "leap");
    json_string(
        j, leap_word((y->have & CTLV_S_LEAP) != 0 ? y->leap : (unsigned)(s->sys_status >> 14)));
    json_key(j, "stratum");
    if ((y->have & CTLV_S_STRATUM) != 0) {
        json_int(j, y->stratum);
    } else {
        json_null(j);
    }
    json_key(j, "system_peer");
    if (!s->have_peer_addr && y->peer == 0) {
        json_null(j);
    } else {
        json_object_begin(j);
        json_key(j, "associd");
        if (y->peer != 0) {
            json_int(j, y->peer);
        } else {
            json_null(j);
        }
        json_key(j, "address");
        json_str_or_null(j, s->have_peer_addr, s->peer_ip);
        json_key(j, "port");
        if (s->have_peer_addr && s->peer_port != 0) {
            json_int(j, s->peer_port);
        } else {
            json_null(j);
        }
        json_object_end(j);
    }
    json_key(j, "refid");
    json_str_or_null(j, (y->have & CTLV_S_REFID) != 0, y->refid);
    json_key(j, "reference_time");
    json_ts(j, (y->have & CTLV_S_REFTIME) != 0, y->reftime);
    json_key(j, "offset");
    json_secs(j, (y->have & CTLV_S_OFFSET) != 0, y->offset);
    json_key(j, "frequency_ppm");
    if ((y->have & CTLV_S_FREQUENCY) != 0) {
        json_double(j, y->frequency_ppm);
    } else {
        json_null(j);
    }
    json_key(j, "sys_jitter");
    json_secs(j, (y->have & CTLV_S_SYS_JITTER) != 0, y->sys_jitter);
    json_key(j, "clk_jitter");
    json_secs(j, (y->have & CTLV_S_CLK_JITTER) != 0, y->clk_jitter);
    json_key(j, "root_delay");
    json_secs(j, (y->have & CTLV_S_ROOTDELAY) != 0, y->rootdelay);
    json_key(j, "root_dispersion");
    json_secs(j, (y->have & CTLV_S_ROOTDISP) != 0, y->rootdisp);
    json_key(j, "root_distance");
    json_secs(j, root, y->rootdelay / 2.0 + y->rootdisp);
    json_key(j, "uptime");
    if ((y->have & CTLV_S_UPTIME) != 0) {
        json_int(j, y->uptime_s);
    } else {
        json_null(j);
    }
}

/* ---- peers -------------------------------------------------------------------------------- */

struct st_peer {
    uint16_t associd;
    uint16_t status; /* of the READVAR reply: the tally comes from it, as in ntpq */
    struct ctlv_peer p;
};

struct st_peers {
    struct st_peer *v;
    size_t n;
    ntp_ts_t now;
    bool now_from_server;
    bool any_selection; /* the server sends `selection` (stratumd): show the why column */
};

static enum ctlc_result get_peers(struct ctlc *c, struct st_peers *P)
{
    uint16_t sys_status;
    size_t n = 0;
    memset(P, 0, sizeof(*P));
    struct ctlv_assoc *as = malloc(CTLC_MAX_ASSOCS * sizeof(*as));
    if (as == NULL) {
        snprintf(c->err, sizeof(c->err), "out of memory");
        return CTLC_USAGE;
    }
    enum ctlc_result r = ctlc_readstat(c, &sys_status, as, CTLC_MAX_ASSOCS, &n);
    if (r == CTLC_OK) {
        r = ctlc_readvar(c, 0, "clock", NULL);
        if (r == CTLC_OK) {
            struct ctlv_sys s;
            ctlv_parse_sys(ctlc_text(c), ctlc_len(c), &s);
            P->now_from_server = (s.have & CTLV_S_CLOCK) != 0 && s.clock != 0;
            P->now = s.clock;
        } else if (r == CTLC_SERVER) {
            r = CTLC_OK;
        }
        if (!P->now_from_server) {
            P->now = local_now();
        }
    }
    if (r == CTLC_OK) {
        P->v = calloc(n > 0 ? n : 1, sizeof(*P->v));
        if (P->v == NULL) {
            snprintf(c->err, sizeof(c->err), "out of memory");
            r = CTLC_USAGE;
        }
    }
    for (size_t i = 0; r == CTLC_OK && i < n; i++) {
        struct st_peer *e = &P->v[P->n];
        r = ctlc_readvar(c, as[i].associd, NULL, &e->status);
        if (r == CTLC_SERVER && c->err_code == CTL_ERR_BADASSOC) {
            r = CTLC_OK; /* gone since the READSTAT */
            continue;
        }
        if (r != CTLC_OK) {
            break;
        }
        e->associd = as[i].associd;
        ctlv_parse_peer(ctlc_text(c), ctlc_len(c), &e->p);
        if ((e->p.have & CTLV_P_SELECTION) != 0) {
            P->any_selection = true;
        }
        P->n++;
    }
    free(as);
    return r;
}

static void peers_free(struct st_peers *P)
{
    free(P->v);
    memset(P, 0, sizeof(*P));
}

/* ntpq's remote column, but with the port when it is not 123 (sources on one host). */
static void peer_remote(const struct ctlv_peer *p, char *out, size_t size)
{
    bool addr = (p->have & CTLV_P_SRCADR) != 0 && p->srcadr[0] != '\0' &&
                strcmp(p->srcadr, "0.0.0.0") != 0 && strcmp(p->srcadr, "::") != 0 &&
                strncmp(p->srcadr, "127.127", 7) != 0;
    if (addr) {
        if ((p->have & CTLV_P_SRCPORT) != 0 && p->srcport != 123 && p->srcport != 0) {
            addr_port(p->srcadr, p->srcport, out, size);
        } else {
            snprintf(out, size, "%s", p->srcadr);
        }
    } else if ((p->have & CTLV_P_SRCHOST) != 0 && p->srchost[0] != '\0') {
        snprintf(out, size, "%s", p->srchost);
    } else {
        snprintf(out, size, "%s", (p->have & CTLV_P_SRCADR) != 0 ? p->srcadr : "");
    }
}

/* ntpq's t column. */
static char peer_type(const struct ctlv_peer *p)
{
    bool mcast = strncmp(p->srcadr, "224.", 4) == 0;
    switch (p->hmode) {
    case 1:
        return 's';
    case 2:
        return 'S';
    case 3:
        if (strchr(p->srchost, '(') != NULL) {
            return 'l';
        }
        if (strcmp(p->refid, "POOL") == 0) {
            return 'p';
        }
        if (mcast) {
            return 'a';
        }
        if (p->ntscookies >= 0 && p->ntscookies <= 9) {
            return (char)('0' + p->ntscookies);
        }
        return 'u';
    case 5:
        return mcast ? 'M' : 'B';
    case 6:
        return 'b';
    default:
        return '?';
    }
}

/* ntpq's refid column text: codes in dots, long ones cut from the left. */
static void peer_refid(const struct ctlv_peer *p, char *out, size_t size)
{
    char b[CTLV_STR + 2];
    const char *r = (p->have & CTLV_P_REFID) != 0 ? p->refid : "";
    if (strchr(r, '.') == NULL && strchr(r, ':') == NULL) {
        snprintf(b, sizeof(b), ".%s.", r);
    } else {
        snprintf(b, sizeof(b), "%s", r);
    }
    size_t l = strlen(b);
    if (l > ST_REFID_WIDTH) {
        snprintf(out, size, "-%s", b + l - (ST_REFID_WIDTH - 1));
    } else {
        snprintf(out, size, "%s", b);
    }
}

/* Seconds since the last packet (the later of rec and reftime in the reply), or -1. */
static double peer_when(const struct st_peers *P, const struct ctlv_peer *p)
{
    if ((p->have & CTLV_P_LAST_SYNC) == 0 || p->last_sync == 0) {
        return -1.0;
    }
    return ntp_ts_diff(P->now, p->last_sync);
}

/* 2^min(ppoll, hpoll) s as ntpq computes it (a negative exponent counts as 0), or -1. */
static long peer_poll(const struct ctlv_peer *p)
{
    if ((p->have & (CTLV_P_PPOLL | CTLV_P_HPOLL)) == 0) {
        return -1;
    }
    int pp = (p->have & CTLV_P_PPOLL) != 0 ? (p->ppoll < 0 ? 0 : p->ppoll) : 0;
    int hp = (p->have & CTLV_P_HPOLL) != 0 ? (p->hpoll < 0 ? 0 : p->hpoll) : 0;
    int e = pp < hp ? pp : hp;
    return 1L << (e > 30 ? 30 : e);
}

/* The last column: jitter, else dispersion (or root dispersion), as ntpq. */
static bool peer_jitter(const struct ctlv_peer *p, double *v)
{
    if ((p->have & CTLV_P_JITTER) != 0) {
        *v = p->jitter;
    } else if ((p->have & CTLV_P_DISPERSION) != 0) {
        *v = p->dispersion;
    } else if ((p->have & CTLV_P_ROOTDISP) != 0) {
        *v = p->rootdisp;
    } else {
        return false;
    }
    return true;
}

static void print_peers(const struct st_peers *P)
{
    char remote[CTLV_STR + 8];
    int width = ST_NAME_WIDTH;
    for (size_t i = 0; i < P->n; i++) {
        peer_remote(&P->v[i].p, remote, sizeof(remote));
        if ((int)strlen(remote) > width) {
            width = (int)strlen(remote);
        }
    }
    char head[256];
    int hl = snprintf(head, sizeof(head), "%-*s%-*s%s", width, "     remote", ST_REFID_WIDTH + 3,
                      "       refid", "st t when poll reach   delay   offset   jitter");
    if (P->any_selection) {
        snprintf(head + hl, sizeof(head) - (size_t)hl, " why");
    }
    printf("%s\n", head);
    int rule = width + 64; /* ntpq's 79 columns with a 15-column remote */
    for (int i = 0; i < rule; i++) {
        putchar('=');
    }
    putchar('\n');
    for (size_t i = 0; i < P->n; i++) {
        const struct st_peer *e = &P->v[i];
        const struct ctlv_peer *p = &e->p;
        char refid[CTLV_STR + 4], st[8], when[16], poll[16], d[24], o[24], jt[24];
        double jv;
        peer_remote(p, remote, sizeof(remote));
        peer_refid(p, refid, sizeof(refid));
        if ((p->have & CTLV_P_STRATUM) != 0) {
            snprintf(st, sizeof(st), "%2d", p->stratum);
        } else {
            snprintf(st, sizeof(st), " -");
        }
        interval_text(peer_when(P, p), when, sizeof(when));
        long pl = peer_poll(p);
        interval_text((double)pl, poll, sizeof(poll));
        if ((p->have & CTLV_P_DELAY) != 0) {
            f8dot4(p->delay * 1e3, d, sizeof(d));
        } else {
            snprintf(d, sizeof(d), "%8s", ".");
        }
        if ((p->have & CTLV_P_OFFSET) != 0) {
            f8dot4(p->offset * 1e3, o, sizeof(o));
        } else {
            snprintf(o, sizeof(o), "%8s", ".");
        }
        if (peer_jitter(p, &jv)) {
            f8dot4(jv * 1e3, jt, sizeof(jt));
        } else {
            snprintf(jt, sizeof(jt), "%8s", ".");
        }
        printf("%c%-*s %-*s %s %c %4.4s %4.4s  %3o %s %s %s", ctl_sel_tally(e->status >> 8), width,
               remote, ST_REFID_WIDTH, refid, st, peer_type(p), when, poll, p->reach, d, o, jt);
        if (P->any_selection && p->selection[0] != '\0') {
            printf(" %s", p->selection);
        }
        putchar('\n');
    }
}

static void json_peers(struct json *j, const struct st_peers *P)
{
    char b[CTLV_STR + 8];
    json_key(j, "peers");
    json_array_begin(j);
    for (size_t i = 0; i < P->n; i++) {
        const struct st_peer *e = &P->v[i];
        const struct ctlv_peer *p = &e->p;
        unsigned sel = (e->status >> 8) & 7u;
        double jv;
        json_object_begin(j);
        json_key(j, "associd");
        json_int(j, e->associd);
        json_key(j, "status_word");
        json_int(j, e->status);
        b[0] = ctl_sel_tally(sel);
        b[1] = '\0';
        json_key(j, "tally");
        json_string(j, b);
        json_key(j, "condition");
        json_string(j, ctl_sel_name(sel));
        peer_remote(p, b, sizeof(b));
        json_key(j, "remote");
        json_string(j, b);
        json_key(j, "address");
        json_str_or_null(j, (p->have & CTLV_P_SRCADR) != 0, p->srcadr);
        json_key(j, "port");
        if ((p->have & CTLV_P_SRCPORT) != 0) {
            json_int(j, p->srcport);
        } else {
            json_null(j);
        }
        json_key(j, "host");
        json_str_or_null(j, (p->have & CTLV_P_SRCHOST) != 0 && p->srchost[0] != '\0', p->srchost);
        json_key(j, "refid");
        json_str_or_null(j, (p->have & CTLV_P_REFID) != 0, p->refid);
        json_key(j, "stratum");
        if ((p->have & CTLV_P_STRATUM) != 0) {
            json_int(j, p->stratum);
        } else {
            json_null(j);
        }
        b[0] = peer_type(p);
        b[1] = '\0';
        json_key(j, "type");
        json_string(j, b);
        double when = peer_when(P, p);
        json_key(j, "when");
        if (when >= 0.0 && when < 1e12) {
            json_int(j, (int64_t)when);
        } else {
            json_null(j);
        }
        long pl = peer_poll(p);
        json_key(j, "poll");
        if (pl > 0) {
            json_int(j, pl);
        } else {
            json_null(j);
        }
        json_key(j, "reach");
        if ((p->have & CTLV_P_REACH) != 0) {
            json_int(j, p->reach);
        } else {
            json_null(j);
        }
        json_key(j, "delay");
        json_secs(j, (p->have & CTLV_P_DELAY) != 0, p->delay);
        json_key(j, "offset");
        json_secs(j, (p->have & CTLV_P_OFFSET) != 0, p->offset);
        bool hj = peer_jitter(p, &jv);
        json_key(j, "jitter");
        json_secs(j, hj, jv);
        json_key(j, "why");
        json_str_or_null(j, (p->have & CTLV_P_SELECTION) != 0 && p->selection[0] != '\0',
                         p->selection);
        json_object_end(j);
    }
    json_array_end(j);
}

/* ---- clients ------------------------------------------------------------------------------ */

struct st_row {
    const struct ctlv_mru_entry *e;
    double key;
    uint8_t addr[17]; /* family (0 IPv4, 1 IPv6, 2 other) then the address, for --sort addr */
    double lstint, avgint;
};

/* For --sort addr: IPv4 numerically, then IPv6 numerically (ntpq's order). */
static void row_addr(struct st_row *r)
{
    char ip[CTLV_STR];
    uint16_t port;
    struct addrinfo hints, *res = NULL;
    memset(r->addr, 0, sizeof(r->addr));
    r->addr[0] = 2;
    if (!ctlv_split_addr(r->e->addr, ip, sizeof(ip), &port)) {
        return;
    }
    memset(&hints, 0, sizeof(hints));
    hints.ai_flags = AI_NUMERICHOST;
    hints.ai_socktype = SOCK_DGRAM;
    if (getaddrinfo(ip, NULL, &hints, &res) != 0 || res == NULL) {
        return;
    }
    if (res->ai_family == AF_INET) {
        const struct sockaddr_in *s = (const struct sockaddr_in *)(const void *)res->ai_addr;
        r->addr[0] = 0;
        memcpy(r->addr + 1, &s->sin_addr, 4);
    } else if (res->ai_family == AF_INET6) {
        const struct sockaddr_in6 *s = (const struct sockaddr_in6 *)(const void *)res->ai_addr;
        r->addr[0] = 1;
        memcpy(r->addr + 1, &s->sin6_addr, 16);
    }
    freeaddrinfo(res);
}

static int row_cmp_fwd(const void *a, const void *b)
{
    const struct st_row *x = a, *y = b;
    if (x->key != y->key) {
        return x->key < y->key ? -1 : 1;
    }
    int r = memcmp(x->addr, y->addr, sizeof(x->addr));
    if (r != 0) {
        return r;
    }
    return strcmp(x->e->addr, y->e->addr);
}

static int row_cmp_rev(const void *a, const void *b)
{
    return row_cmp_fwd(b, a);
}

struct st_clients {
    struct ctlc_mru m;
    struct st_row *rows;
    size_t n; /* rows shown (after --limit) */
};

static enum ctlc_result get_clients(struct ctlc *c, const struct st_opts *o, struct st_clients *C)
{
    memset(C, 0, sizeof(*C));
    enum ctlc_result r = ctlc_mrulist(c, &C->m);
    if (r != CTLC_OK) {
        return r;
    }
    C->rows = calloc(C->m.n > 0 ? C->m.n : 1, sizeof(*C->rows));
    if (C->rows == NULL) {
        snprintf(c->err, sizeof(c->err), "out of memory");
        return CTLC_USAGE;
    }
    for (size_t i = 0; i < C->m.n; i++) {
        struct st_row *w = &C->rows[i];
        const struct ctlv_mru_entry *e = &C->m.e[i];
        w->e = e;
        w->lstint = ntp_ts_diff(C->m.now, e->last);
        ntp_ts_t first = (e->have & CTLV_M_FIRST) != 0 ? e->first : e->last;
        w->avgint = e->count > 1 ? ntp_ts_diff(e->last, first) / (double)(e->count - 1) : 0.0;
        switch (o->sort) {
        case SORT_LSTINT:
            w->key = w->lstint;
            break;
        case SORT_AVGINT:
            w->key = w->avgint;
            break;
        case SORT_ADDR:
            w->key = 0.0;
            break;
        case SORT_COUNT:
            w->key = (double)e->count;
            break;
        case SORT_SCORE:
            w->key = (e->have & CTLV_M_SCORE) != 0 ? e->score : 0.0;
            break;
        case SORT_DROP:
            w->key = (double)e->dropped;
            break;
        case SORT_KOD:
            w->key = (double)e->kods;
            break;
        }
        if (o->sort == SORT_ADDR) {
            row_addr(w);
        } else {
            /* ties: newest first, then by address text */
            memset(w->addr, 0, sizeof(w->addr));
        }
    }
    if (C->m.n > 1) {
        qsort(C->rows, C->m.n, sizeof(*C->rows), o->sort_reverse ? row_cmp_rev : row_cmp_fwd);
    }
    C->n = o->limit > 0 && (size_t)o->limit < C->m.n ? (size_t)o->limit : C->m.n;
    return CTLC_OK;
}

static void clients_free(struct st_clients *C)
{
    free(C->rows);
    ctlc_mru_free(&C->m);
    memset(C, 0, sizeof(*C));
}

static char rs_code(uint32_t rs)
{
    /* ntpd's RES_KOD 0x400, RES_LIMITED 0x20 */
    return (rs & 0x400u) != 0 ? 'K' : (rs & 0x20u) != 0 ? 'L' : '.';
}

static void print_clients(const struct st_clients *C)
{
    printf(" lstint avgint rstr r m v  count    score   drop   kod rport remote address\n");
    printf("===============================================================================\n");
    for (size_t i = 0; i < C->n; i++) {
        const struct st_row *w = &C->rows[i];
        const struct ctlv_mru_entry *e = w->e;
        char ip[CTLV_STR], avg[16], sc[16], dr[16], kd[16];
        uint16_t port;
        (void)ctlv_split_addr(e->addr, ip, sizeof(ip), &port);
        double l = floor(w->lstint + 0.5);
        if (w->avgint > 5.0 || e->count <= 1) {
            snprintf(avg, sizeof(avg), "%6.0f", floor(w->avgint + 0.5));
        } else if (w->avgint >= 1.0) {
            snprintf(avg, sizeof(avg), "%6.2f", w->avgint);
        } else {
            snprintf(avg, sizeof(avg), "%6.3f", w->avgint);
        }
        if ((e->have & CTLV_M_SCORE) != 0 && e->score != 0.0) {
            snprintf(sc, sizeof(sc),
                     e->score > 1e5   ? "%8.1f"
                     : e->score > 1e4 ? "%8.2f"
                                      : "%8.3f",
                     e->score);
        } else {
            snprintf(sc, sizeof(sc), "%8s", "-");
        }
        if ((e->have & CTLV_M_DROPPED) != 0) {
            snprintf(dr, sizeof(dr), "%6llu", (unsigned long long)e->dropped);
        } else {
            snprintf(dr, sizeof(dr), "%6s", "-");
        }
        if ((e->have & CTLV_M_KODS) != 0) {
            snprintf(kd, sizeof(kd), "%5llu", (unsigned long long)e->kods);
        } else {
            snprintf(kd, sizeof(kd), "%5s", "-");
        }
        printf("%7.0f %s %4x %c %u %u %6llu %s %s %s %5u %s\n", l, avg, (unsigned)(e->rs & 0xffffu),
               rs_code(e->rs), (unsigned)(e->mv & 7u), (unsigned)((e->mv >> 3) & 7u),
               (unsigned long long)e->count, sc, dr, kd, (unsigned)port, ip);
    }
    if (C->m.truncated) {
        printf("(the list was cut at %d entries)\n", CTLC_MRU_MAX_ENTRIES);
    }
}

static void json_clients(struct json *j, const struct st_opts *o, const struct st_clients *C)
{
    json_key(j, "sort");
    json_string(j, o->sort_name != NULL ? o->sort_name : "lstint");
    json_key(j, "truncated");
    json_bool(j, C->m.truncated);
    json_key(j, "total");
    json_int(j, (int64_t)C->m.n);
    json_key(j, "now");
    json_ts(j, true, C->m.now);
    json_key(j, "clients");
    json_array_begin(j);
    for (size_t i = 0; i < C->n; i++) {
        const struct st_row *w = &C->rows[i];
        const struct ctlv_mru_entry *e = w->e;
        char ip[CTLV_STR], fl[2] = {rs_code(e->rs), '\0'};
        uint16_t port;
        (void)ctlv_split_addr(e->addr, ip, sizeof(ip), &port);
        json_object_begin(j);
        json_key(j, "address");
        json_string(j, ip);
        json_key(j, "port");
        json_int(j, port);
        json_key(j, "lstint");
        json_fixed(j, w->lstint, 3);
        json_key(j, "avgint");
        json_fixed(j, w->avgint, 3);
        json_key(j, "count");
        json_int(j, (int64_t)e->count);
        json_key(j, "mode");
        json_int(j, e->mv & 7u);
        json_key(j, "version");
        json_int(j, (e->mv >> 3) & 7u);
        json_key(j, "restrict_flags");
        json_int(j, e->rs);
        json_key(j, "rate_flag");
        json_string(j, fl);
        json_key(j, "dropped");
        if ((e->have & CTLV_M_DROPPED) != 0) {
            json_int(j, (int64_t)e->dropped);
        } else {
            json_null(j);
        }
        json_key(j, "kods_sent");
        if ((e->have & CTLV_M_KODS) != 0) {
            json_int(j, (int64_t)e->kods);
        } else {
            json_null(j);
        }
        json_key(j, "score");
        if ((e->have & CTLV_M_SCORE) != 0) {
            json_double(j, e->score);
        } else {
            json_null(j);
        }
        json_key(j, "first");
        json_ts(j, (e->have & CTLV_M_FIRST) != 0, e->first);
        json_key(j, "last");
        json_ts(j, true, e->last);
        json_object_end(j);
    }
    json_array_end(j);
}

/* ---- one run, and --watch ------------------------------------------------------------------ */

static int run_once(struct ctlc *c, const struct st_opts *o)
{
    enum ctlc_result r;
    int rc;
    struct json j;
    static struct st_status s;
    struct st_peers P;
    struct st_clients C;
    memset(&P, 0, sizeof(P));
    memset(&C, 0, sizeof(C));

    switch (o->cmd) {
    case ST_STATUS:
        r = get_status(c, &s);
        break;
    case ST_PEERS:
        r = get_peers(c, &P);
        break;
    default:
        r = get_clients(c, o, &C);
        break;
    }
    rc = r != CTLC_OK ? ctlc_exit_code(r) : o->cmd == ST_STATUS ? status_exit(&s) : EXIT_OK;
    if (o->json) {
        json_init(&j, stdout, o->watch <= 0.0);
        json_head(&j, o, c);
        json_error(&j, r, c);
        if (r == CTLC_OK) {
            if (o->cmd == ST_STATUS) {
                json_status(&j, &s);
            } else if (o->cmd == ST_PEERS) {
                json_peers(&j, &P);
            } else {
                json_clients(&j, o, &C);
            }
        }
        json_tail(&j, rc);
    } else if (r == CTLC_OK) {
        if (o->cmd == ST_STATUS) {
            print_status(c, &s);
        } else if (o->cmd == ST_PEERS) {
            print_peers(&P);
        } else {
            print_clients(&C);
        }
    }
    if (r != CTLC_OK) {
        fprintf(stderr, "stratum %s: %s\n", o->name, c->err);
        if (o->watch > 0.0 && !o->json) {
            printf("%s\n", c->err);
        }
    }
    peers_free(&P);
    clients_free(&C);
    return rc;
}

static void watch_header(const struct st_opts *o, const struct ctlc *c)
{
    char now[48];
    ts_text(local_now(), false, now, sizeof(now));
    if (!plat_clear_screen()) {
        putchar('\n');
    }
    printf("Every %gs: stratum %s %s   %s\n\n", o->watch, o->name, c->host, now);
}

int status_command(const char *cmd, int argc, char **argv)
{
    struct st_opts o;
    static struct ctlc c;
    memset(&o, 0, sizeof(o));
    o.cmd = strcmp(cmd, "status") == 0  ? ST_STATUS
            : strcmp(cmd, "peers") == 0 ? ST_PEERS
                                        : ST_CLIENTS;
    o.name = cmd;
    o.c.port = 123;
    o.c.timeout = ST_DEFAULT_TIMEOUT;
    o.target = ST_DEFAULT_TARGET;
    int p = parse_opts(argc, argv, &o);
    if (p < 0) {
        return p == -2 ? EXIT_OK : EXIT_USAGE;
    }
    enum ctlc_result r = ctlc_open(&c, o.target, &o.c);
    if (r != CTLC_OK) {
        ctlc_close(&c);
        fprintf(stderr, "stratum %s: %s\n", cmd, c.err);
        if (o.json && r != CTLC_USAGE) {
            struct json j;
            json_init(&j, stdout, true);
            json_head(&j, &o, &c);
            json_error(&j, r, &c);
            json_tail(&j, ctlc_exit_code(r));
        }
        return ctlc_exit_code(r);
    }
    int rc = EXIT_OK;
    for (long i = 0; o.watch <= 0.0 ? i < 1 : (o.count == 0 || i < o.count); i++) {
        if (i > 0) {
            plat_poll(NULL, 0, (int)(o.watch * 1000.0), NULL);
        }
        if (o.watch > 0.0 && !o.json) {
            watch_header(&o, &c);
        }
        rc = run_once(&c, &o);
        fflush(stdout);
    }
    ctlc_close(&c);
    return rc;
}
