/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * monitor: `stratum monitor` (see monitor.h and stratum(1)). Parsing, validation and
 * output live here; the database is store.c's, the probing sweep.c's, the alarm delivery
 * alarm.c's.
 */
#include "tools/monitor.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "io/json.h"
#include "monitor/alarm.h"
#include "monitor/store.h"
#include "monitor/sweep.h"
#include "tools/ctlclient.h"

#define EXIT_OK 0
#define EXIT_USAGE 1
#define EXIT_NETWORK 2
#define EXIT_FAIL 3

#define DEFAULT_DB_DIR "/var/lib/stratum"
#define DEFAULT_DB DEFAULT_DB_DIR "/monitor.db"
#define JSON_SCHEMA_VERSION 1

static volatile sig_atomic_t g_stop;
static volatile sig_atomic_t g_reload;

static void on_stop(int sig)
{
    g_stop = sig;
}

static void on_hup(int sig)
{
    (void)sig;
    g_reload = 1;
}

static int64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- common options ------------------------------------------------------------------- */

struct common {
    const char *db;
    const char *group;
    bool json, csv;
    int64_t max_age_s; /* list, report: older results are unknown; 0 any age */
};

static void usage(FILE *f)
{
    fprintf(f,
            "Usage: stratum monitor [--db PATH|URL] COMMAND [options]\n"
            "\n"
            "Watches the clocks of a fleet of devices from this machine.\n"
            "\n"
            "Inventory:\n"
            "  add HOST[:PORT] [--name N] [--group G] [--probe ntp|ntpq] [--threshold S]\n"
            "                  [--critical S]       add one device\n"
            "  import FILE.csv [--skip-invalid]     add devices from a CSV file with a header\n"
            "                                       row (host,name,group,probe,port,threshold,\n"
            "                                       critical); all or nothing\n"
            "  list [--group G] [--json|--csv]      every device with its latest result\n"
            "  remove NAME|HOST[:PORT] ...          remove devices and their results\n"
            "  groups [--json]                      the groups and their sizes\n"
            "\n"
            "Probing and results:\n"
            "  sweep [--group G] [--rate N] [--timeout S] [--tries N] [--keep DURATION]\n"
            "                                       probe every device once\n"
            "  report [--group G] [--max-age D] [--json|--csv]\n"
            "                                       the devices whose time is not standard;\n"
            "                                       exit 0 ok, 1 warning, 2 critical, 3 unknown\n"
            "  history DEVICE [--since DURATION] [--limit N] [--json|--csv]\n"
            "  stats [--worst N] [--json]           counts by status, worst devices, sizes\n"
            "  prune --keep DURATION                delete results older than DURATION\n"
            "  serve [--interval DURATION] [--syslog] [--remote udp://HOST:PORT|tcp://...]\n"
            "        [--hook COMMAND] [sweep options]\n"
            "                                       sweep on a schedule, alarm on changes\n"
            "\n"
            "The database: --db, else $STRATUM_MONITOR_DB, else " DEFAULT_DB ".\n"
            "A path is a SQLite file; postgresql://USER@HOST:PORT/DB is PostgreSQL.\n"
            "DURATION: a number of seconds or with a unit: 90s, 15m, 12h, 30d, 2w.\n"
            "See stratum(1).\n");
}

/* ---- parsing helpers ---------------------------------------------------------------- */

static bool parse_double(const char *s, double lo, double hi, double *out)
{
    char *end;
    errno = 0;
    double v = strtod(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v) || v < lo || v > hi) {
        return false;
    }
    *out = v;
    return true;
}

static bool parse_long(const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < lo || v > hi) {
        return false;
    }
    *out = v;
    return true;
}

/* The argument of option --opt of command cmd as a number in [lo, hi]; when it is not one,
 * says so ("is not " what) and returns false. */
static bool opt_double(const char *cmd, const char *opt, double lo, double hi, const char *what,
                       double *out)
{
    if (parse_double(optarg, lo, hi, out)) {
        return true;
    }
    fprintf(stderr, "stratum monitor %s: --%s '%s' is not %s\n", cmd, opt, optarg, what);
    return false;
}

static bool opt_long(const char *cmd, const char *opt, long lo, long hi, const char *what,
                     long *out)
{
    if (parse_long(optarg, lo, hi, out)) {
        return true;
    }
    fprintf(stderr, "stratum monitor %s: --%s '%s' is not %s\n", cmd, opt, optarg, what);
    return false;
}

/* A host name (letters, digits, '.', '-', '_'), an IPv4 address, or an IPv6 address. What
 * looks like an address must be one: "127.2.300.1" is a typo, not a name to look up. */
static bool valid_host(const char *h)
{
    size_t n = strlen(h);
    if (n == 0 || n >= MON_HOST_LEN) {
        return false;
    }
    uint8_t buf[16];
    if (strchr(h, ':') != NULL) {
        return inet_pton(AF_INET6, h, buf) == 1;
    }
    if (strspn(h, "0123456789.") == n) {
        return inet_pton(AF_INET, h, buf) == 1;
    }
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)h[k];
        if (!isalnum(c) && c != '.' && c != '-' && c != '_') {
            return false;
        }
    }
    return h[0] != '.' && h[0] != '-';
}

/* Printable UTF-8 or ASCII without control characters, of at most cap - 1 octets. */
static bool valid_label(const char *s, size_t cap)
{
    size_t n = strlen(s);
    if (n >= cap) {
        return false;
    }
    for (size_t k = 0; k < n; k++) {
        unsigned char c = (unsigned char)s[k];
        if (c < 0x20 || c == 0x7f) {
            return false;
        }
    }
    return true;
}

/* "host", "host:port", "[v6]:port", "v6" into host and port (default 123). */
static bool split_hostport(const char *s, char *host, size_t cap, uint16_t *port, char *why,
                           size_t whylen)
{
    const char *colon = strrchr(s, ':');
    int hl; /* the host's length: too long is an error, not a truncated name */
    *port = 123;
    if (s[0] == '[') {
        const char *close = strchr(s, ']');
        if (close == NULL || (close[1] != '\0' && close[1] != ':')) {
            snprintf(why, whylen, "'%s' is not [IPv6]:PORT", s);
            return false;
        }
        hl = snprintf(host, cap, "%.*s", (int)(close - s - 1), s + 1);
        colon = close[1] == ':' ? close + 1 : NULL;
    } else if (colon != NULL && strchr(s, ':') != colon) {
        colon = NULL; /* a bare IPv6 address */
        hl = snprintf(host, cap, "%s", s);
    } else if (colon != NULL) {
        hl = snprintf(host, cap, "%.*s", (int)(colon - s), s);
    } else {
        hl = snprintf(host, cap, "%s", s);
    }
    if (hl < 0 || (size_t)hl >= cap) {
        snprintf(why, whylen, "the host is longer than %zu octets", cap - 1);
        return false;
    }
    if (colon != NULL) {
        long p;
        if (!parse_long(colon + 1, 1, 65535, &p)) {
            snprintf(why, whylen, "'%s': the port must be 1 to 65535", s);
            return false;
        }
        *port = (uint16_t)p;
    }
    if (!valid_host(host)) {
        snprintf(why, whylen, "'%s' is not a host name or address", host[0] ? host : s);
        return false;
    }
    return true;
}

static void default_name(struct mon_device *d)
{
    if (d->port == 123) {
        snprintf(d->name, sizeof(d->name), "%.127s", d->host);
    } else if (strchr(d->host, ':') != NULL) {
        snprintf(d->name, sizeof(d->name), "[%.100s]:%u", d->host, (unsigned)d->port);
    } else {
        snprintf(d->name, sizeof(d->name), "%.110s:%u", d->host, (unsigned)d->port);
    }
}

static void host_text(const struct mon_device *d, char *out, size_t cap)
{
    if (d->port == 123) {
        snprintf(out, cap, "%s", d->host);
    } else if (strchr(d->host, ':') != NULL) {
        snprintf(out, cap, "[%s]:%u", d->host, (unsigned)d->port);
    } else {
        snprintf(out, cap, "%s:%u", d->host, (unsigned)d->port);
    }
}

static int open_store(struct store *st, const struct common *c)
{
    char err[600];
    /* The default database's folder is ours to make (as a package would); a path the user
     * gives must exist. */
    if (strcmp(c->db, DEFAULT_DB) == 0 && mkdir(DEFAULT_DB_DIR, 0750) != 0 && errno != EEXIST) {
        fprintf(stderr, "stratum monitor: cannot create %s: %s (or give --db PATH)\n",
                DEFAULT_DB_DIR, strerror(errno));
        return -1;
    }
    if (store_open(st, c->db, err, sizeof(err)) != 0) {
        fprintf(stderr, "stratum monitor: %s\n", err);
        return -1;
    }
    return 0;
}

static void store_error(struct store *st)
{
    fprintf(stderr, "stratum monitor: %s\n", st->err);
}

/* ---- add / import ----------------------------------------------------------------------- */

struct dev_opts {
    const char *name, *group, *probe;
    double warn, crit;
    bool have_warn, have_crit;
};

/* Fills d from host text and options; false with why. */
static bool make_device(struct mon_device *d, const char *hostport, const struct dev_opts *o,
                        char *why, size_t whylen)
{
    memset(d, 0, sizeof(*d));
    d->alarm_level = -1;
    if (!split_hostport(hostport, d->host, sizeof(d->host), &d->port, why, whylen)) {
        return false;
    }
    if (o->name != NULL && o->name[0] != '\0') {
        if (!valid_label(o->name, sizeof(d->name))) {
            snprintf(why, whylen, "the name must be printable and under %zu octets",
                     sizeof(d->name));
            return false;
        }
        snprintf(d->name, sizeof(d->name), "%s", o->name);
    } else {
        default_name(d);
    }
    if (o->group != NULL) {
        if (!valid_label(o->group, sizeof(d->group))) {
            snprintf(why, whylen, "the group must be printable and under %zu octets",
                     sizeof(d->group));
            return false;
        }
        snprintf(d->group, sizeof(d->group), "%s", o->group);
    }
    int p = o->probe != NULL && o->probe[0] != '\0' ? mon_probe_parse(o->probe) : MON_PROBE_NTP;
    if (p < 0) {
        snprintf(why, whylen, "probe '%s' is not one of ntp, ntpq", o->probe);
        return false;
    }
    d->probe = (enum mon_probe)p;
    d->warn = o->have_warn ? o->warn : MON_DEFAULT_WARN;
    d->crit = o->have_crit ? o->crit : (d->warn > MON_DEFAULT_CRIT ? d->warn : MON_DEFAULT_CRIT);
    if (d->crit < d->warn) {
        snprintf(why, whylen, "the critical threshold %g s is below the warning threshold %g s",
                 d->crit, d->warn);
        return false;
    }
    return true;
}

static int cmd_add(const struct common *c, int argc, char **argv)
{
    static const struct option opts[] = {
        { "name", required_argument, NULL, 'n' },
        { "group", required_argument, NULL, 'g' },
        { "probe", required_argument, NULL, 'p' },
        { "threshold", required_argument, NULL, 't' },
        { "critical", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    struct dev_opts o = { 0 };
    o.group = c->group;
    int ch;
    while ((ch = getopt_long(argc, argv, "n:g:p:t:c:h", opts, NULL)) != -1) {
        switch (ch) {
        case 'n':
            o.name = optarg;
            break;
        case 'g':
            o.group = optarg;
            break;
        case 'p':
            o.probe = optarg;
            break;
        case 't':
            if (!opt_double("add", "threshold", 1e-6, 1e6, "a number of seconds above 0",
                            &o.warn)) {
                return EXIT_USAGE;
            }
            o.have_warn = true;
            break;
        case 'c':
            if (!opt_double("add", "critical", 1e-6, 1e6, "a number of seconds above 0",
                            &o.crit)) {
                return EXIT_USAGE;
            }
            o.have_crit = true;
            break;
        case 'h':
            printf("Usage: stratum monitor add HOST[:PORT] [--name NAME] [--group GROUP]\n"
                   "       [--probe ntp|ntpq] [--threshold SECONDS] [--critical SECONDS]\n"
                   "Adds a device. --threshold: beyond it the device is not standard (a\n"
                   "warning; default %g s); --critical: beyond it critical (default %g s).\n",
                   MON_DEFAULT_WARN, MON_DEFAULT_CRIT);
            return EXIT_OK;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "stratum monitor add: give exactly one HOST[:PORT] (see --help)\n");
        return EXIT_USAGE;
    }
    struct mon_device d;
    char why[300];
    if (!make_device(&d, argv[optind], &o, why, sizeof(why))) {
        fprintf(stderr, "stratum monitor add: %s\n", why);
        return EXIT_USAGE;
    }
    struct store st;
    if (open_store(&st, c) != 0) {
        return EXIT_FAIL;
    }
    int rc = EXIT_OK;
    if (store_add_devices(&st, &d, 1, now_ms()) != 0) {
        store_error(&st);
        rc = EXIT_FAIL;
    } else {
        char ht[300];
        host_text(&d, ht, sizeof(ht));
        printf("added %s (%s, probe %s, threshold %g s, critical %g s%s%s)\n", d.name, ht,
               mon_probe_name(d.probe), d.warn, d.crit, d.group[0] ? ", group " : "", d.group);
    }
    store_close(&st);
    return rc;
}

/* One CSV record: fields split on commas, RFC 4180 quotes ("" inside quotes is a quote).
 * Returns the field count, or -1 with why (an unterminated quote). Fields point into
 * line, which is modified. */
static int csv_split(char *line, char **fields, int cap, char *why, size_t whylen)
{
    int n = 0;
    char *p = line;
    for (;;) {
        if (n == cap) {
            snprintf(why, whylen, "more than %d fields", cap);
            return -1;
        }
        char *out = p;
        fields[n++] = out;
        if (*p == '"') {
            p++;
            for (;;) {
                if (*p == '\0') {
                    snprintf(why, whylen, "a quoted field is not closed");
                    return -1;
                }
                if (*p == '"' && p[1] == '"') {
                    *out++ = '"';
                    p += 2;
                } else if (*p == '"') {
                    p++;
                    break;
                } else {
                    *out++ = *p++;
                }
            }
            if (*p != ',' && *p != '\0') {
                snprintf(why, whylen, "text after a closing quote");
                return -1;
            }
        } else {
            while (*p != ',' && *p != '\0') {
                *out++ = *p++;
            }
        }
        bool more = *p == ',';
        *out = '\0';
        /* trim spaces around unquoted values */
        char *f = fields[n - 1];
        while (*f == ' ' || *f == '\t') {
            f++;
        }
        size_t fl = strlen(f);
        while (fl > 0 && (f[fl - 1] == ' ' || f[fl - 1] == '\t')) {
            f[--fl] = '\0';
        }
        fields[n - 1] = f;
        if (!more) {
            return n;
        }
        p++;
    }
}

enum csv_col { COL_HOST, COL_NAME, COL_GROUP, COL_PROBE, COL_PORT, COL_WARN, COL_CRIT, COL_N };
static const char *const csv_cols[COL_N] = { "host", "name", "group", "probe",
                                             "port", "threshold", "critical" };

/* A set of strings (open addressing, FNV-1a): the keys an import has seen, so a file of
 * 100,000 lines is checked in linear time. */
struct seen {
    char **slot;
    size_t cap, n;
};

static uint64_t str_hash(const char *s)
{
    uint64_t h = 1469598103934665603ULL;
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    }
    return h;
}

/* Adds k; returns 1 added, 0 present already, -1 out of memory. */
static int seen_add(struct seen *s, const char *k)
{
    if ((s->n + 1) * 2 > s->cap) {
        size_t nc = s->cap ? s->cap * 2 : 1024;
        char **ns = calloc(nc, sizeof(*ns));
        if (ns == NULL) {
            return -1;
        }
        for (size_t i = 0; i < s->cap; i++) {
            if (s->slot[i] != NULL) {
                size_t h = str_hash(s->slot[i]) & (nc - 1);
                while (ns[h] != NULL) {
                    h = (h + 1) & (nc - 1);
                }
                ns[h] = s->slot[i];
            }
        }
        free(s->slot);
        s->slot = ns;
        s->cap = nc;
    }
    size_t h = str_hash(k) & (s->cap - 1);
    while (s->slot[h] != NULL) {
        if (strcmp(s->slot[h], k) == 0) {
            return 0;
        }
        h = (h + 1) & (s->cap - 1);
    }
    s->slot[h] = strdup(k);
    if (s->slot[h] == NULL) {
        return -1;
    }
    s->n++;
    return 1;
}

static bool seen_has(const struct seen *s, const char *k)
{
    if (s->cap == 0) {
        return false;
    }
    size_t h = str_hash(k) & (s->cap - 1);
    while (s->slot[h] != NULL) {
        if (strcmp(s->slot[h], k) == 0) {
            return true;
        }
        h = (h + 1) & (s->cap - 1);
    }
    return false;
}

static void seen_free(struct seen *s)
{
    for (size_t i = 0; i < s->cap; i++) {
        free(s->slot[i]);
    }
    free(s->slot);
}

static int cmd_import(const struct common *c, int argc, char **argv)
{
    static const struct option opts[] = {
        { "skip-invalid", no_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    bool skip = false;
    int ch;
    while ((ch = getopt_long(argc, argv, "sh", opts, NULL)) != -1) {
        switch (ch) {
        case 's':
            skip = true;
            break;
        case 'h':
            printf("Usage: stratum monitor import FILE.csv [--skip-invalid]\n"
                   "The first row names the columns: host (required), name, group, probe\n"
                   "(ntp or ntpq), port, threshold and critical (seconds). Every invalid line\n"
                   "is reported with its number; nothing is imported unless all are valid,\n"
                   "or --skip-invalid imports the valid ones. '-' reads standard input.\n");
            return EXIT_OK;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "stratum monitor import: give one CSV file (see --help)\n");
        return EXIT_USAGE;
    }
    const char *path = argv[optind];
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "stratum monitor import: cannot read %s: %s\n", path, strerror(errno));
        return EXIT_USAGE;
    }
    struct store st;
    if (open_store(&st, c) != 0) {
        if (f != stdin) {
            fclose(f);
        }
        return EXIT_FAIL;
    }
    /* What is in the inventory already: names and host:port keys, sorted. */
    struct mon_device *have = NULL;
    size_t nhave = 0;
    if (store_list_devices(&st, NULL, &have, &nhave) != 0) {
        store_error(&st);
        store_close(&st);
        if (f != stdin) {
            fclose(f);
        }
        return EXIT_FAIL;
    }
    /* The inventory's names and addresses, then this file's. */
    struct seen inv_names = { 0 }, inv_addrs = { 0 };
    for (size_t i = 0; i < nhave; i++) {
        char k[300];
        snprintf(k, sizeof(k), "%s|%u", have[i].host, (unsigned)have[i].port);
        if (seen_add(&inv_names, have[i].name) < 0 || seen_add(&inv_addrs, k) < 0) {
            fprintf(stderr, "stratum monitor import: out of memory\n");
            exit(EXIT_FAIL);
        }
    }
    struct mon_device *devs = NULL;
    size_t ndev = 0, cap = 0;
    struct seen fnames = { 0 }, faddrs = { 0 };
    char *line = NULL;
    size_t lcap = 0;
    ssize_t len;
    long lineno = 0;
    int colmap[16];
    int ncols = 0;
    size_t invalid = 0;
    int rc = EXIT_OK;
    while ((len = getline(&line, &lcap, f)) >= 0) {
        lineno++;
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            line[--len] = '\0';
        }
        if (lineno == 1 && (unsigned char)line[0] == 0xef && (unsigned char)line[1] == 0xbb &&
            (unsigned char)line[2] == 0xbf) {
            memmove(line, line + 3, (size_t)len - 2); /* a UTF-8 byte order mark */
        }
        char *fields[16];
        char why[300] = "";
        int nf = csv_split(line, fields, 16, why, sizeof(why));
        if (ncols == 0) {
            /* the header */
            if (nf < 0) {
                fprintf(stderr, "%s:%ld: header: %s\n", path, lineno, why);
                rc = EXIT_USAGE;
                break;
            }
            bool has_host = false;
            for (int k = 0; k < nf; k++) {
                colmap[k] = -1;
                for (int cc = 0; cc < COL_N; cc++) {
                    if (strcasecmp(fields[k], csv_cols[cc]) == 0) {
                        colmap[k] = cc;
                    }
                }
                if (colmap[k] < 0) {
                    fprintf(stderr, "%s:%ld: header: unknown column '%s' (known: host, name, "
                                    "group, probe, port, threshold, critical)\n",
                            path, lineno, fields[k]);
                    rc = EXIT_USAGE;
                }
                has_host |= colmap[k] == COL_HOST;
            }
            if (!has_host && rc == EXIT_OK) {
                fprintf(stderr, "%s:%ld: header: no 'host' column (the first row names the "
                                "columns)\n", path, lineno);
                rc = EXIT_USAGE;
            }
            if (rc != EXIT_OK) {
                break;
            }
            ncols = nf;
            continue;
        }
        if (len == 0 || line[0] == '#') {
            continue;
        }
        struct mon_device d;
        bool ok = nf >= 0;
        if (ok && nf != ncols) {
            snprintf(why, sizeof(why), "%d fields, the header has %d", nf, ncols);
            ok = false;
        }
        if (ok) {
            const char *v[COL_N] = { 0 };
            for (int k = 0; k < nf; k++) {
                v[colmap[k]] = fields[k];
            }
            struct dev_opts o = { .name = v[COL_NAME], .group = v[COL_GROUP] ? v[COL_GROUP]
                                                                              : c->group,
                                  .probe = v[COL_PROBE] };
            char hp[400];
            snprintf(hp, sizeof(hp), "%s", v[COL_HOST] ? v[COL_HOST] : "");
            if (v[COL_PORT] != NULL && v[COL_PORT][0] != '\0') {
                long p;
                if (!parse_long(v[COL_PORT], 1, 65535, &p)) {
                    snprintf(why, sizeof(why), "port '%s' is not 1 to 65535", v[COL_PORT]);
                    ok = false;
                } else if (strchr(hp, ':') != NULL && hp[0] != '[') {
                    snprintf(hp, sizeof(hp), "[%s]:%ld", v[COL_HOST], p);
                } else {
                    snprintf(hp, sizeof(hp), "%s:%ld", v[COL_HOST], p);
                }
            }
            if (ok && v[COL_WARN] != NULL && v[COL_WARN][0] != '\0') {
                o.have_warn = parse_double(v[COL_WARN], 1e-6, 1e6, &o.warn);
                if (!o.have_warn) {
                    snprintf(why, sizeof(why), "threshold '%s' is not seconds above 0",
                             v[COL_WARN]);
                    ok = false;
                }
            }
            if (ok && v[COL_CRIT] != NULL && v[COL_CRIT][0] != '\0') {
                o.have_crit = parse_double(v[COL_CRIT], 1e-6, 1e6, &o.crit);
                if (!o.have_crit) {
                    snprintf(why, sizeof(why), "critical '%s' is not seconds above 0",
                             v[COL_CRIT]);
                    ok = false;
                }
            }
            if (ok && hp[0] == '\0') {
                snprintf(why, sizeof(why), "no host");
                ok = false;
            }
            if (ok) {
                ok = make_device(&d, hp, &o, why, sizeof(why));
            }
        }
        if (ok) {
            char k[300];
            snprintf(k, sizeof(k), "%s|%u", d.host, (unsigned)d.port);
            if (seen_has(&inv_names, d.name) || seen_has(&inv_addrs, k)) {
                snprintf(why, sizeof(why), "%s is in the inventory already", d.name);
                ok = false;
            } else if (seen_has(&fnames, d.name) || seen_has(&faddrs, k)) {
                snprintf(why, sizeof(why), "%s appears twice in this file", d.name);
                ok = false;
            } else if (seen_add(&fnames, d.name) < 0 || seen_add(&faddrs, k) < 0) {
                fprintf(stderr, "stratum monitor import: out of memory\n");
                rc = EXIT_FAIL;
                break;
            }
        }
        if (!ok) {
            fprintf(stderr, "%s:%ld: %s\n", path, lineno, why);
            invalid++;
            continue;
        }
        if (ndev == cap) {
            cap = cap ? cap * 2 : 256;
            devs = realloc(devs, cap * sizeof(*devs));
            if (devs == NULL) {
                fprintf(stderr, "stratum monitor import: out of memory\n");
                rc = EXIT_FAIL;
                break;
            }
        }
        devs[ndev++] = d;
    }
    if (rc == EXIT_OK && ncols == 0) {
        fprintf(stderr, "%s: empty: the first row must name the columns (host,...)\n", path);
        rc = EXIT_USAGE;
    }
    if (rc == EXIT_OK && invalid > 0 && !skip) {
        fprintf(stderr, "stratum monitor import: %zu invalid line%s: nothing imported (fix them, "
                        "or --skip-invalid imports the %zu valid ones)\n",
                invalid, invalid == 1 ? "" : "s", ndev);
        rc = EXIT_USAGE;
    }
    if (rc == EXIT_OK) {
        if (ndev > 0 && store_add_devices(&st, devs, ndev, now_ms()) != 0) {
            store_error(&st);
            rc = EXIT_FAIL;
        } else {
            printf("imported %zu device%s%s", ndev, ndev == 1 ? "" : "s",
                   invalid > 0 ? "" : "\n");
            if (invalid > 0) {
                printf(", skipped %zu invalid line%s\n", invalid, invalid == 1 ? "" : "s");
            }
        }
    }
    free(line);
    free(devs);
    seen_free(&fnames);
    seen_free(&faddrs);
    seen_free(&inv_names);
    seen_free(&inv_addrs);
    free(have);
    store_close(&st);
    if (f != stdin) {
        fclose(f);
    }
    return rc;
}

/* ---- list / groups / remove ------------------------------------------------------------ */

static void fmt_time(int64_t ms, char *out, size_t cap)
{
    if (ms <= 0) {
        snprintf(out, cap, "-");
        return;
    }
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, cap, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void fmt_offset(double v, char *out, size_t cap)
{
    if (!isfinite(v)) {
        snprintf(out, cap, "-");
    } else {
        snprintf(out, cap, "%+.6f", v);
    }
}

/* A CSV field: quoted when it holds a comma, quote or line break. */
static void csv_field(FILE *f, const char *s, bool last)
{
    if (strpbrk(s, ",\"\r\n") != NULL) {
        fputc('"', f);
        for (const char *p = s; *p; p++) {
            if (*p == '"') {
                fputc('"', f);
            }
            fputc(*p, f);
        }
        fputc('"', f);
    } else {
        fputs(s, f);
    }
    fputc(last ? '\n' : ',', f);
}

static void json_opt_double(struct json *j, const char *k, double v, int decimals)
{
    json_key(j, k);
    if (isfinite(v)) {
        json_fixed(j, v, decimals);
    } else {
        json_null(j);
    }
}

static void json_opt_int(struct json *j, const char *k, int v)
{
    json_key(j, k);
    if (v >= 0) {
        json_int(j, v);
    } else {
        json_null(j);
    }
}

static void json_opt_str(struct json *j, const char *k, const char *v)
{
    json_key(j, k);
    if (v[0] != '\0') {
        json_string(j, v);
    } else {
        json_null(j);
    }
}

static void json_result(struct json *j, const struct mon_result *r)
{
    char t[40];
    fmt_time(r->time_ms, t, sizeof(t));
    json_key(j, "time");
    json_string(j, t);
    json_key(j, "status");
    json_string(j, mon_status_name(r->status));
    json_opt_double(j, "offset", r->offset, 9);
    json_opt_double(j, "delay", r->delay, 9);
    json_opt_double(j, "root_distance", r->root_distance, 9);
    json_opt_int(j, "stratum", r->stratum);
    json_opt_int(j, "leap", r->leap);
    json_opt_str(j, "refid", r->refid);
    json_key(j, "device_synchronized");
    if (r->dev_synced >= 0) {
        json_bool(j, r->dev_synced == 1);
    } else {
        json_null(j);
    }
    json_opt_double(j, "device_offset", r->dev_offset, 9);
    json_opt_str(j, "device_peer", r->dev_peer);
    json_opt_str(j, "error", r->error);
}

static void json_device(struct json *j, const struct mon_device *d)
{
    char ht[300];
    host_text(d, ht, sizeof(ht));
    json_key(j, "name");
    json_string(j, d->name);
    json_key(j, "host");
    json_string(j, ht);
    json_key(j, "group");
    json_string(j, d->group);
    json_key(j, "probe");
    json_string(j, mon_probe_name(d->probe));
    json_key(j, "threshold");
    json_double(j, d->warn);
    json_key(j, "critical");
    json_double(j, d->crit);
}

static int parse_output_opts(int ch, struct common *c)
{
    if (ch == 'j') {
        c->json = true;
        return 1;
    }
    if (ch == 'C') {
        c->csv = true;
        return 1;
    }
    return 0;
}

static const struct option out_opts[] = {
    { "group", required_argument, NULL, 'g' },
    { "json", no_argument, NULL, 'j' },
    { "csv", no_argument, NULL, 'C' },
    { "max-age", required_argument, NULL, 'a' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
};

/* Options shared by list and report: --group, --json, --csv. Returns -1 on help (exit 0),
 * 1 on a usage error, 0 to go on. */
static int parse_list_opts(struct common *c, int argc, char **argv, const char *help)
{
    int ch;
    while ((ch = getopt_long(argc, argv, "g:jCa:h", out_opts, NULL)) != -1) {
        if (parse_output_opts(ch, c)) {
            continue;
        }
        if (ch == 'g') {
            c->group = optarg;
        } else if (ch == 'a') {
            c->max_age_s = mon_parse_duration(optarg);
            if (c->max_age_s <= 0) {
                fprintf(stderr, "stratum monitor %s: --max-age '%s' is not a duration (15m, "
                                "1h, 3600)\n", argv[0], optarg);
                return 1;
            }
        } else if (ch == 'h') {
            fputs(help, stdout);
            return -1;
        } else {
            return 1;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "stratum monitor %s: unexpected argument '%s'\n", argv[0], argv[optind]);
        return 1;
    }
    if (c->json && c->csv) {
        fprintf(stderr, "stratum monitor %s: --json or --csv, not both\n", argv[0]);
        return 1;
    }
    return 0;
}

static const char *csv_header = "name,host,group,probe,threshold,critical,level,time,status,"
                                "offset,delay,stratum,leap,refid,device_synchronized,"
                                "device_offset,device_peer,error,reason\n";

static void csv_row(FILE *f, const struct mon_device *d, const struct mon_result *r, bool have,
                    enum mon_level lv, const char *why)
{
    char ht[300], t[40], num[64];
    host_text(d, ht, sizeof(ht));
    csv_field(f, d->name, false);
    csv_field(f, ht, false);
    csv_field(f, d->group, false);
    csv_field(f, mon_probe_name(d->probe), false);
    snprintf(num, sizeof(num), "%g", d->warn);
    csv_field(f, num, false);
    snprintf(num, sizeof(num), "%g", d->crit);
    csv_field(f, num, false);
    csv_field(f, mon_level_name(lv), false);
    fmt_time(have ? r->time_ms : 0, t, sizeof(t));
    csv_field(f, have ? t : "", false);
    csv_field(f, have ? mon_status_name(r->status) : "", false);
    snprintf(num, sizeof(num), "%.9f", r->offset);
    csv_field(f, have && isfinite(r->offset) ? num : "", false);
    snprintf(num, sizeof(num), "%.9f", r->delay);
    csv_field(f, have && isfinite(r->delay) ? num : "", false);
    snprintf(num, sizeof(num), "%d", r->stratum);
    csv_field(f, have && r->stratum >= 0 ? num : "", false);
    snprintf(num, sizeof(num), "%d", r->leap);
    csv_field(f, have && r->leap >= 0 ? num : "", false);
    csv_field(f, have ? r->refid : "", false);
    csv_field(f, have && r->dev_synced >= 0 ? (r->dev_synced ? "yes" : "no") : "", false);
    snprintf(num, sizeof(num), "%.9f", r->dev_offset);
    csv_field(f, have && isfinite(r->dev_offset) ? num : "", false);
    csv_field(f, have ? r->dev_peer : "", false);
    csv_field(f, have ? r->error : "", false);
    csv_field(f, why, true);
}

/* The verdict of a device: never probed, or its latest result older than max_age_s (when
 * not 0): unknown. A monitor that stopped sweeping must not leave a report saying OK. */
static enum mon_level level_of(const struct mon_device *d, const struct mon_result *r, bool have,
                               int64_t max_age_s, int64_t now, char *why, size_t whylen)
{
    if (!have) {
        snprintf(why, whylen, "never probed");
        return MON_LEVEL_UNKNOWN;
    }
    if (max_age_s > 0 && now - r->time_ms > max_age_s * 1000) {
        snprintf(why, whylen, "the latest result is %lld s old (--max-age %lld s)",
                 (long long)((now - r->time_ms) / 1000), (long long)max_age_s);
        return MON_LEVEL_UNKNOWN;
    }
    return mon_verdict(d->warn, d->crit, r, why, whylen);
}

static void text_header(void)
{
    printf("%-24s %-22s %-12s %-8s %-14s %-15s %s\n", "NAME", "HOST", "GROUP", "LEVEL", "STATUS",
           "OFFSET (s)", "WHY");
}

static void text_row(const struct mon_device *d, const struct mon_result *r, bool have,
                     enum mon_level lv, const char *why)
{
    char ht[300], off[32];
    host_text(d, ht, sizeof(ht));
    fmt_offset(have ? r->offset : NAN, off, sizeof(off));
    printf("%-24s %-22s %-12s %-8s %-14s %-15s %s\n", d->name, ht, d->group[0] ? d->group : "-",
           mon_level_name(lv), have ? mon_status_name(r->status) : "-", off, why);
}

static int cmd_list_or_report(struct common *c, int argc, char **argv, bool report)
{
    const char *help =
        report ? "Usage: stratum monitor report [--group G] [--max-age DURATION] [--json|--csv]\n"
                 "The devices whose time is not standard: beyond their threshold (warning) or\n"
                 "critical threshold, unsynchronized, unreachable, refusing (kiss-o'-death) or\n"
                 "answering nonsense, by their latest result. Exit status as a Nagios plugin:\n"
                 "0 all standard, 1 warning, 2 critical, 3 unknown (a device never probed, or\n"
                 "no devices). --json lists only the devices that are not standard.\n"
                 "--max-age: a device whose latest result is older is unknown (so that a\n"
                 "monitor that stopped sweeping does not leave an OK behind).\n"
               : "Usage: stratum monitor list [--group G] [--max-age DURATION] [--json|--csv]\n"
                 "Every device of the inventory with its latest result.\n";
    int pr = parse_list_opts(c, argc, argv, help);
    if (pr != 0) {
        /* a Nagios plugin says UNKNOWN (3) when it was called wrongly */
        return pr < 0 ? EXIT_OK : report ? (int)MON_LEVEL_UNKNOWN : EXIT_USAGE;
    }
    struct store st;
    if (open_store(&st, c) != 0) {
        return report ? MON_LEVEL_UNKNOWN : EXIT_FAIL;
    }
    struct mon_device *d = NULL;
    struct mon_result *r = NULL;
    bool *have = NULL;
    size_t n = 0;
    if (store_latest(&st, c->group, &d, &r, &have, &n) != 0) {
        store_error(&st);
        store_close(&st);
        return report ? MON_LEVEL_UNKNOWN : EXIT_FAIL;
    }
    struct store_sweep sw;
    int has_sweep = store_last_sweep(&st, &sw);
    store_close(&st);
    size_t count[4] = { 0 };
    int64_t now = now_ms();
    enum mon_level *lv = malloc((n ? n : 1) * sizeof(*lv));
    char (*why)[160] = malloc((n ? n : 1) * sizeof(*why));
    if (lv == NULL || why == NULL) {
        fprintf(stderr, "stratum monitor: out of memory\n");
        free(lv);
        free(why);
        free(d);
        free(r);
        free(have);
        return EXIT_FAIL;
    }
    for (size_t i = 0; i < n; i++) {
        lv[i] = level_of(&d[i], &r[i], have[i], c->max_age_s, now, why[i], sizeof(why[i]));
        count[lv[i]]++;
    }
    enum mon_level worst = MON_LEVEL_OK;
    if (count[MON_LEVEL_CRITICAL] > 0) {
        worst = MON_LEVEL_CRITICAL;
    } else if (count[MON_LEVEL_WARNING] > 0) {
        worst = MON_LEVEL_WARNING;
    } else if (count[MON_LEVEL_UNKNOWN] > 0 || n == 0) {
        worst = MON_LEVEL_UNKNOWN;
    }
    size_t not_std = count[MON_LEVEL_WARNING] + count[MON_LEVEL_CRITICAL];
    if (c->json) {
        struct json j;
        json_init(&j, stdout, true);
        json_object_begin(&j);
        json_key(&j, "schema_version");
        json_int(&j, JSON_SCHEMA_VERSION);
        if (report) {
            json_key(&j, "level");
            json_string(&j, mon_level_name(worst));
            json_key(&j, "exit_code");
            json_int(&j, worst);
        }
        json_key(&j, "devices");
        json_int(&j, (int64_t)n);
        json_key(&j, "counts");
        json_object_begin(&j);
        for (int k = 0; k < 4; k++) {
            json_key(&j, mon_level_name((enum mon_level)k));
            json_int(&j, (int64_t)count[k]);
        }
        json_object_end(&j);
        json_key(&j, "reference");
        if (has_sweep == 1) {
            json_object_begin(&j);
            json_key(&j, "synchronized");
            if (sw.ref.synced >= 0) {
                json_bool(&j, sw.ref.synced == 1);
            } else {
                json_null(&j);
            }
            json_opt_double(&j, "offset_bound", sw.ref.bound, 9);
            json_key(&j, "text");
            json_string(&j, sw.ref.text);
            json_object_end(&j);
        } else {
            json_null(&j);
        }
        json_key(&j, report ? "not_standard" : "list");
        json_array_begin(&j);
        for (size_t i = 0; i < n; i++) {
            if (report && (lv[i] == MON_LEVEL_OK || lv[i] == MON_LEVEL_UNKNOWN)) {
                continue;
            }
            json_object_begin(&j);
            json_device(&j, &d[i]);
            json_key(&j, "level");
            json_string(&j, mon_level_name(lv[i]));
            json_key(&j, "reason");
            json_string(&j, why[i]);
            json_key(&j, "result");
            if (have[i]) {
                json_object_begin(&j);
                json_result(&j, &r[i]);
                json_object_end(&j);
            } else {
                json_null(&j);
            }
            json_object_end(&j);
        }
        json_array_end(&j);
        json_object_end(&j);
        json_finish(&j);
    } else if (c->csv) {
        fputs(csv_header, stdout);
        for (size_t i = 0; i < n; i++) {
            if (report && (lv[i] == MON_LEVEL_OK || lv[i] == MON_LEVEL_UNKNOWN)) {
                continue;
            }
            csv_row(stdout, &d[i], &r[i], have[i], lv[i], why[i]);
        }
    } else {
        if (report) {
            /* Nagios: the first line is the verdict */
            printf("NTP FLEET %s - %zu of %zu device%s not standard (%zu critical, %zu warning"
                   "%s%zu unknown)\n",
                   worst == MON_LEVEL_OK ? "OK" : worst == MON_LEVEL_WARNING ? "WARNING"
                                              : worst == MON_LEVEL_CRITICAL ? "CRITICAL"
                                                                            : "UNKNOWN",
                   not_std, n, n == 1 ? "" : "s", count[MON_LEVEL_CRITICAL],
                   count[MON_LEVEL_WARNING], ", ", count[MON_LEVEL_UNKNOWN]);
        }
        if (has_sweep == 1) {
            char t[40];
            fmt_time(sw.started_ms, t, sizeof(t));
            printf("last sweep %lld at %s (%s); reference: %s\n", (long long)sw.id, t, sw.state,
                   sw.ref.text[0] ? sw.ref.text : "unknown");
        }
        bool any = false;
        for (size_t i = 0; i < n; i++) {
            if (report && (lv[i] == MON_LEVEL_OK || lv[i] == MON_LEVEL_UNKNOWN)) {
                continue;
            }
            if (!any) {
                text_header();
                any = true;
            }
            text_row(&d[i], &r[i], have[i], lv[i], why[i]);
        }
        if (!report && n == 0) {
            printf("the inventory is empty (stratum monitor add / import)\n");
        }
    }
    free(lv);
    free(why);
    free(d);
    free(r);
    free(have);
    return report ? (int)worst : EXIT_OK;
}

static int cmd_groups(struct common *c, int argc, char **argv)
{
    int pr = parse_list_opts(c, argc, argv, "Usage: stratum monitor groups [--json]\n");
    if (pr != 0) {
        return pr < 0 ? EXIT_OK : EXIT_USAGE;
    }
    struct store st;
    if (open_store(&st, c) != 0) {
        return EXIT_FAIL;
    }
    struct store_group *g = NULL;
    size_t n = 0;
    int rc = EXIT_OK;
    if (store_list_groups(&st, &g, &n) != 0) {
        store_error(&st);
        rc = EXIT_FAIL;
    } else if (c->json) {
        struct json j;
        json_init(&j, stdout, true);
        json_object_begin(&j);
        json_key(&j, "schema_version");
        json_int(&j, JSON_SCHEMA_VERSION);
        json_key(&j, "groups");
        json_array_begin(&j);
        for (size_t i = 0; i < n; i++) {
            json_object_begin(&j);
            json_key(&j, "name");
            json_string(&j, g[i].name);
            json_key(&j, "devices");
            json_int(&j, g[i].devices);
            json_object_end(&j);
        }
        json_array_end(&j);
        json_object_end(&j);
        json_finish(&j);
    } else {
        printf("%-32s %s\n", "GROUP", "DEVICES");
        for (size_t i = 0; i < n; i++) {
            printf("%-32s %lld\n", g[i].name[0] ? g[i].name : "(none)", (long long)g[i].devices);
        }
    }
    free(g);
    store_close(&st);
    return rc;
}

static int cmd_remove(struct common *c, int argc, char **argv)
{
    if (argc >= 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        printf("Usage: stratum monitor remove NAME|HOST[:PORT] ...\n"
               "Removes devices and their results.\n");
        return EXIT_OK;
    }
    if (argc < 2) {
        fprintf(stderr, "stratum monitor remove: name the devices to remove\n");
        return EXIT_USAGE;
    }
    struct store st;
    if (open_store(&st, c) != 0) {
        return EXIT_FAIL;
    }
    int rc = EXIT_OK;
    for (int i = 1; i < argc; i++) {
        int r = store_remove_device(&st, argv[i]);
        if (r < 0) {
            store_error(&st);
            rc = EXIT_FAIL;
            break;
        }
        if (r == 0) {
            fprintf(stderr, "stratum monitor remove: no device '%s'\n", argv[i]);
            rc = EXIT_USAGE;
        } else {
            printf("removed %s\n", argv[i]);
        }
    }
    store_close(&st);
    return rc;
}

/* ---- the reference ---------------------------------------------------------------------- */

/* The monitor's clock is the reference: asks the local daemon (mode 6) how good it is. */
static void read_reference(const char *target, struct store_reference *ref)
{
    memset(ref, 0, sizeof(*ref));
    ref->synced = -1;
    ref->bound = NAN;
    if (target == NULL || strcmp(target, "none") == 0) {
        snprintf(ref->text, sizeof(ref->text), "this machine's clock, its state not asked");
        return;
    }
    struct ctlc c;
    struct ctlc_opts o = { .family = 0, .port = 123, .timeout = 0.3 };
    enum ctlc_result r = ctlc_open(&c, target, &o);
    uint16_t status = 0;
    if (r == CTLC_OK) {
        r = ctlc_readvar(&c, 0, "leap,stratum,refid,offset,rootdelay,rootdisp,version", &status);
    }
    if (r != CTLC_OK) {
        snprintf(ref->text, sizeof(ref->text),
                 "this machine's clock, state unknown (no NTP daemon answered at %.60s)", target);
        ctlc_close(&c);
        return;
    }
    struct ctlv_sys s;
    ctlv_parse_sys(ctlc_text(&c), ctlc_len(&c), &s);
    ctlc_close(&c);
    const char *who = (s.have & CTLV_S_VERSION) ? s.version : "the NTP daemon";
    bool synced = (s.have & CTLV_S_LEAP) && s.leap != 3 && (s.have & CTLV_S_STRATUM) &&
                  s.stratum >= 1 && s.stratum < 16;
    /* A daemon serving its own clock (`local stratum`, ntpd's LOCAL driver) says leap 0,
     * but nothing checks that clock: not a reference. */
    bool local = (s.have & CTLV_S_REFID) &&
                 (strcmp(s.refid, "LOCL") == 0 || strncmp(s.refid, "LOCAL", 5) == 0);
    if (synced && local) {
        ref->synced = 0;
        snprintf(ref->text, sizeof(ref->text),
                 "%.30s at %.30s: serves its own clock (refid %.6s), synchronized to nothing",
                 who, target, s.refid);
        return;
    }
    ref->synced = synced;
    if (synced && (s.have & CTLV_S_OFFSET)) {
        ref->bound = fabs(s.offset) + ((s.have & CTLV_S_ROOTDELAY) ? s.rootdelay / 2 : 0) +
                     ((s.have & CTLV_S_ROOTDISP) ? s.rootdisp : 0);
        snprintf(ref->text, sizeof(ref->text),
                 "%.40s at %.40s: synchronized (stratum %d), offset bound %.6f s", who, target,
                 s.stratum, ref->bound);
    } else {
        snprintf(ref->text, sizeof(ref->text),
                 "%.40s at %.40s: NOT synchronized: the offsets are relative to an unchecked "
                 "clock", who, target);
    }
}

/* ---- sweep ------------------------------------------------------------------------------ */

struct sweep_cli {
    struct sweep_opts so;
    size_t lease_chunk; /* devices leased at a time; 0: all */
    const char *reference;
    int64_t keep_s; /* 0: keep all */
    bool quiet;
};

struct sweep_ctx {
    struct store *st;
    int64_t sweep_id;
    bool tty;
    int64_t t0;
    bool failed;
};

static int flush_cb(void *ctx, const struct mon_result *r, size_t n)
{
    struct sweep_ctx *x = ctx;
    if (store_write_results(x->st, x->sweep_id, r, n, now_ms()) != 0) {
        x->failed = true;
        return -1;
    }
    return 0;
}

static void progress_cb(void *ctx, size_t done, size_t total)
{
    struct sweep_ctx *x = ctx;
    if (!x->tty || total == 0) {
        return;
    }
    int width = 30;
    int fill = (int)((double)done / (double)total * width);
    double secs = (double)(now_ms() - x->t0) / 1000.0;
    fprintf(stderr, "\r[%.*s%*s] %zu/%zu %3d%% %6.0f/s", fill,
            "##############################", width - fill, "", done, total,
            (int)(100.0 * (double)done / (double)total), secs > 0 ? (double)done / secs : 0.0);
    if (done == total) {
        fputc('\n', stderr);
    }
    fflush(stderr);
}

enum sweep_opt_ids { SO_LEASE = 299, SO_RATE = 300, SO_TIMEOUT, SO_TRIES, SO_INFLIGHT, SO_REF, SO_KEEP,
                     SO_QUIET, SO_INTERVAL, SO_SYSLOG, SO_REMOTE, SO_HOOK, SO_HOOK_TIMEOUT,
                     SO_ONCE, SO_SOCKETS };

_Static_assert(PROBE_MAX_TRIES == 5, "the --tries message says 1 to 5");

/* Parses a sweep option; 1 taken, 0 not one, -1 invalid (message printed). */
static int parse_sweep_opt(int ch, struct sweep_cli *s, const char *cmd)
{
    double v;
    long l;
    switch (ch) {
    case SO_RATE:
        if (!opt_double(cmd, "rate", 1, 1e7, "1 to 10000000 requests a second", &v)) {
            return -1;
        }
        s->so.rate = v;
        return 1;
    case SO_TIMEOUT:
        if (!opt_double(cmd, "timeout", 0.01, 60, "0.01 to 60 s", &v)) {
            return -1;
        }
        s->so.timeout = v;
        return 1;
    case SO_TRIES:
        if (!opt_long(cmd, "tries", 1, PROBE_MAX_TRIES, "1 to 5", &l)) {
            return -1;
        }
        s->so.tries = (int)l;
        return 1;
    case SO_INFLIGHT:
        if (!opt_long(cmd, "max-inflight", 1, 1000000, "1 to 1000000", &l)) {
            return -1;
        }
        s->so.max_inflight = (int)l;
        return 1;
    case SO_SOCKETS:
        if (!opt_long(cmd, "sockets", 1, 16, "1 to 16", &l)) {
            return -1;
        }
        s->so.sockets = (int)l;
        return 1;
    case SO_LEASE:
        if (!opt_long(cmd, "lease", 1, 100000000, "1 to 100000000 devices", &l)) {
            return -1;
        }
        s->lease_chunk = (size_t)l;
        return 1;
    case SO_REF:
        s->reference = optarg;
        return 1;
    case SO_KEEP:
        s->keep_s = mon_parse_duration(optarg);
        if (s->keep_s <= 0) {
            fprintf(stderr, "stratum monitor %s: --keep '%s' is not a duration (30d, 12h, "
                            "3600)\n", cmd, optarg);
            return -1;
        }
        return 1;
    case SO_QUIET:
        s->quiet = true;
        return 1;
    default:
        return 0;
    }
}

#define SWEEP_LONGOPTS                                                                            \
    { "group", required_argument, NULL, 'g' }, { "rate", required_argument, NULL, SO_RATE },     \
        { "timeout", required_argument, NULL, SO_TIMEOUT },                                       \
        { "tries", required_argument, NULL, SO_TRIES },                                           \
        { "max-inflight", required_argument, NULL, SO_INFLIGHT },                                 \
        { "sockets", required_argument, NULL, SO_SOCKETS },                                       \
        { "reference", required_argument, NULL, SO_REF },                                         \
        { "lease", required_argument, NULL, SO_LEASE },                                           \
        { "keep", required_argument, NULL, SO_KEEP }, { "quiet", no_argument, NULL, SO_QUIET },   \
        { "json", no_argument, NULL, 'j' }, { "help", no_argument, NULL, 'h' }

static const char sweep_opts_help[] =
    "  --group G          only the devices of group G\n"
    "  --rate N           requests a second, all devices together (default 10000)\n"
    "  --timeout S        seconds a device has to answer, all tries (default 1)\n"
    "  --tries N          requests per device, overlapping (default 3)\n"
    "  --max-inflight N   devices probed at once (default 10000)\n"
    "  --reference HOST   the NTP daemon that says how good this machine's clock is\n"
    "                     (mode 6; default 127.0.0.1; 'none' asks nobody)\n"
    "  --keep DURATION    delete results older than DURATION after the sweep\n"
    "  --lease N          take N devices at a time, so that monitors sharing one\n"
    "                     PostgreSQL split a sweep between them (default: all at once)\n"
    "  --quiet            no summary (errors only)\n";

/* One sweep: lease, probe, write, end. Results are left in *res (n of them) for serve.
 * Returns 0, or an exit status. */
/* What a sweep came to, over all its pieces. */
struct sweep_total {
    int64_t id;
    size_t devices, not_standard;
    struct sweep_stats stats; /* summed */
    struct store_reference ref;
};

static void add_stats(struct sweep_stats *t, const struct sweep_stats *p)
{
    t->devices += p->devices;
    t->completed += p->completed;
    for (int k = 0; k < MON_STATUS_COUNT; k++) {
        t->by_status[k] += p->by_status[k];
    }
    t->sent += p->sent;
    t->received += p->received;
    t->send_errors += p->send_errors;
    for (int k = 0; k < PROBE_DROP_COUNT; k++) {
        t->dropped[k] += p->dropped[k];
    }
    t->unmatched += p->unmatched;
    t->stopped |= p->stopped;
}

/* One sweep: lease devices (all at once, or --lease N at a time), probe them, write the
 * results, end. Returns 0, or an exit status. */
static int run_sweep(struct store *st, const struct sweep_cli *s, const char *group,
                     struct sweep_total *tot)
{
    memset(tot, 0, sizeof(*tot));
    char owner[160], host[100] = "";
    gethostname(host, sizeof(host) - 1);
    snprintf(owner, sizeof(owner), "%s/%ld", host, (long)getpid());
    /* A sweep of this machine killed (kill -9, a crash) left its leases: its process is
     * gone, so they are taken back now rather than after the minute of silence. */
    char(*owners)[128] = NULL;
    size_t nown = 0;
    size_t hl = strlen(host);
    if (store_running_owners(st, &owners, &nown) == 0) {
        for (size_t k = 0; k < nown; k++) {
            char *end;
            if (strncmp(owners[k], host, hl) != 0 || owners[k][hl] != '/') {
                continue;
            }
            long pid = strtol(owners[k] + hl + 1, &end, 10);
            if (*end != '\0' || pid <= 0 || pid == (long)getpid()) {
                continue;
            }
            if (kill((pid_t)pid, 0) != 0 && errno == ESRCH) {
                if (!s->quiet) {
                    fprintf(stderr, "stratum monitor: a sweep by process %ld of this machine "
                                    "was interrupted; its devices are free again\n", pid);
                }
                store_release_owner(st, owners[k]);
            }
        }
        free(owners);
    }
    int64_t t0 = now_ms();
    /* The lease is a ceiling (a day); what frees the devices of a monitor that died is its
     * sweep's heartbeat falling silent for a minute (store_begin_sweep), or, on this
     * machine, its process being gone (above). */
    int64_t lease_ms = 86400000;
    if (store_begin_sweep(st, owner, t0, &tot->id) != 0) {
        store_error(st);
        return EXIT_FAIL;
    }
    read_reference(s->reference, &tot->ref);
    struct sweep_ctx ctx = { .st = st, .sweep_id = tot->id, .tty = isatty(2) && !s->quiet,
                             .t0 = t0 };
    struct sweep_opts so = s->so;
    so.flush = flush_cb;
    so.progress = progress_cb;
    so.ctx = &ctx;
    so.stop = &g_stop;
    int rc = 0;
    int64_t wall0_ms = now_ms();
    for (;;) {
        struct mon_target *devs = NULL;
        size_t n = 0;
        if (store_lease_devices(st, owner, group, t0, now_ms(), now_ms() + lease_ms,
                                s->lease_chunk, &devs, &n) != 0) {
            ctx.failed = true; /* its message below */
            break;
        }
        if (n == 0) {
            free(devs);
            break;
        }
        struct mon_result *res = calloc(n, sizeof(*res));
        if (res == NULL) {
            fprintf(stderr, "stratum monitor: out of memory for %zu results\n", n);
            free(devs);
            rc = -1;
            break;
        }
        struct sweep_stats part;
        char err[300] = "";
        rc = sweep_run(devs, n, &so, res, &part, err, sizeof(err));
        if (rc != 0) {
            fprintf(stderr, "stratum monitor: sweep failed: %s\n", err);
        }
        add_stats(&tot->stats, &part);
        tot->devices += n;
        for (size_t i = 0; i < n; i++) {
            char why[160];
            if (res[i].time_ms != 0 &&
                mon_verdict(devs[i].warn, devs[i].crit, &res[i], why, sizeof(why)) != 0) {
                tot->not_standard++;
            }
        }
        free(devs);
        free(res);
        if (rc != 0 || ctx.failed || part.stopped || s->lease_chunk == 0) {
            break;
        }
    }
    tot->stats.wall_s = (double)(now_ms() - wall0_ms) / 1000.0;
    if (ctx.failed) {
        fprintf(stderr, "stratum monitor: %s\n", st->err);
        fprintf(stderr, "stratum monitor: the sweep stopped; results written before it are "
                        "kept\n");
    }
    int exit_rc = rc != 0 || ctx.failed ? EXIT_FAIL : EXIT_OK;
    if (!ctx.failed && rc == 0) {
        if (tot->stats.stopped) {
            /* interrupted (SIGTERM, SIGINT): recorded as such, not as done, and its devices
             * are free again at once */
            fprintf(stderr, "stratum monitor: interrupted: %zu of %zu devices probed, their "
                            "results written\n", tot->stats.completed, tot->devices);
            /* the shell's convention for a death by signal: 128 + its number */
            exit_rc = 128 + (g_stop > 0 ? (int)g_stop : SIGTERM);
            if (store_release_owner(st, owner) != 0) {
                store_error(st);
                exit_rc = EXIT_FAIL;
            }
        } else if (store_end_sweep(st, tot->id, owner, now_ms(), &tot->ref) != 0) {
            store_error(st);
            exit_rc = EXIT_FAIL;
        }
        if (exit_rc == EXIT_OK && s->keep_s > 0) {
            int64_t del = store_prune(st, now_ms() - s->keep_s * 1000);
            if (del < 0) {
                store_error(st);
                exit_rc = EXIT_FAIL;
            }
        }
    } else {
        /* a failed write: the devices go back; the sweep is recorded as interrupted */
        store_release_owner(st, owner);
    }
    return exit_rc;
}

static void print_sweep_json(const struct sweep_total *t)
{
    const struct sweep_stats *stats = &t->stats;
    const struct store_reference *ref = &t->ref;
    struct json j;
    json_init(&j, stdout, true);
    json_object_begin(&j);
    json_key(&j, "schema_version");
    json_int(&j, JSON_SCHEMA_VERSION);
    json_key(&j, "sweep");
    json_int(&j, t->id);
    json_key(&j, "devices");
    json_int(&j, (int64_t)t->devices);
    json_key(&j, "completed");
    json_int(&j, (int64_t)stats->completed);
    json_key(&j, "wall_seconds");
    json_fixed(&j, stats->wall_s, 3);
    json_key(&j, "by_status");
    json_object_begin(&j);
    for (int k = 0; k < MON_STATUS_COUNT; k++) {
        json_key(&j, mon_status_name((enum mon_status)k));
        json_int(&j, (int64_t)stats->by_status[k]);
    }
    json_object_end(&j);
    json_key(&j, "not_standard");
    json_int(&j, (int64_t)t->not_standard);
    json_key(&j, "packets");
    json_object_begin(&j);
    json_key(&j, "sent");
    json_int(&j, (int64_t)stats->sent);
    json_key(&j, "received");
    json_int(&j, (int64_t)stats->received);
    json_key(&j, "send_errors");
    json_int(&j, (int64_t)stats->send_errors);
    json_key(&j, "unmatched");
    json_int(&j, (int64_t)stats->unmatched);
    for (int k = 0; k < PROBE_DROP_COUNT; k++) {
        json_key(&j, probe_drop_name((enum probe_drop)k));
        json_int(&j, (int64_t)stats->dropped[k]);
    }
    json_object_end(&j);
    json_key(&j, "reference");
    json_object_begin(&j);
    json_key(&j, "synchronized");
    if (ref->synced >= 0) {
        json_bool(&j, ref->synced == 1);
    } else {
        json_null(&j);
    }
    json_opt_double(&j, "offset_bound", ref->bound, 9);
    json_key(&j, "text");
    json_string(&j, ref->text);
    json_object_end(&j);
    json_object_end(&j);
    json_finish(&j);
}

static void print_sweep_text(const struct sweep_total *t)
{
    const struct sweep_stats *st = &t->stats;
    printf("sweep %lld: %zu device%s in %.2f s (%.0f/s): ", (long long)t->id, st->completed,
           st->completed == 1 ? "" : "s", st->wall_s,
           st->wall_s > 0 ? (double)st->completed / st->wall_s : 0.0);
    for (int k = 0; k < MON_STATUS_COUNT; k++) {
        printf("%s%zu %s", k ? ", " : "", st->by_status[k], mon_status_name((enum mon_status)k));
    }
    printf("; %zu not standard\n", t->not_standard);
    printf("reference: %s\n", t->ref.text);
}

static int cmd_sweep(struct common *c, int argc, char **argv)
{
    static const struct option opts[] = { SWEEP_LONGOPTS, { NULL, 0, NULL, 0 } };
    struct sweep_cli s = { .reference = "127.0.0.1" };
    sweep_opts_default(&s.so);
    int ch;
    while ((ch = getopt_long(argc, argv, "g:jh", opts, NULL)) != -1) {
        int r = parse_sweep_opt(ch, &s, "sweep");
        if (r < 0) {
            return EXIT_USAGE;
        }
        if (r > 0) {
            continue;
        }
        if (ch == 'g') {
            c->group = optarg;
        } else if (ch == 'j') {
            c->json = true;
        } else if (ch == 'h') {
            printf("Usage: stratum monitor sweep [options]\n"
                   "Probes every device once (concurrently) and writes one result per device.\n"
                   "A progress bar on a terminal. Options:\n%s"
                   "  --json             the summary as JSON\n",
                   sweep_opts_help);
            return EXIT_OK;
        } else {
            return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "stratum monitor sweep: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    struct store st;
    if (open_store(&st, c) != 0) {
        return EXIT_FAIL;
    }
    struct sigaction sa = { 0 };
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    struct sweep_total tot;
    int rc = run_sweep(&st, &s, c->group, &tot);
    if (rc != EXIT_FAIL && !s.quiet) {
        if (c->json) {
            print_sweep_json(&tot);
        } else {
            print_sweep_text(&tot);
        }
        if (tot.devices == 0) {
            fprintf(stderr, "stratum monitor sweep: no devices to probe%s (stratum monitor add "
                            "/ import)\n", c->group ? " in that group" : "");
        }
    }
    store_close(&st);
    return rc;
}

/* ---- history / stats / prune ----------------------------------------------------------- */

static int cmd_history(struct common *c, int argc, char **argv)
{
    static const struct option opts[] = {
        { "since", required_argument, NULL, 's' }, { "limit", required_argument, NULL, 'l' },
        { "json", no_argument, NULL, 'j' },        { "csv", no_argument, NULL, 'C' },
        { "help", no_argument, NULL, 'h' },        { NULL, 0, NULL, 0 },
    };
    int64_t since_s = 0;
    long limit = 1000;
    int ch;
    while ((ch = getopt_long(argc, argv, "s:l:jCh", opts, NULL)) != -1) {
        if (parse_output_opts(ch, c)) {
            continue;
        }
        switch (ch) {
        case 's':
            since_s = mon_parse_duration(optarg);
            if (since_s <= 0) {
                fprintf(stderr, "stratum monitor history: --since '%s' is not a duration (7d, "
                                "12h)\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case 'l':
            if (!opt_long("history", "limit", 1, 10000000, "1 to 10000000", &limit)) {
                return EXIT_USAGE;
            }
            break;
        case 'h':
            printf("Usage: stratum monitor history DEVICE [--since DURATION] [--limit N] "
                   "[--json|--csv]\n"
                   "A device's results, oldest first (the newest N, default 1000).\n");
            return EXIT_OK;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind + 1 != argc) {
        fprintf(stderr, "stratum monitor history: name one device (see --help)\n");
        return EXIT_USAGE;
    }
    struct store st;
    if (open_store(&st, c) != 0) {
        return EXIT_FAIL;
    }
    struct mon_device d;
    int f = store_find_device(&st, argv[optind], &d);
    if (f <= 0) {
        if (f < 0) {
            store_error(&st);
        } else {
            fprintf(stderr, "stratum monitor history: no device '%s'\n", argv[optind]);
        }
        store_close(&st);
        return f < 0 ? EXIT_FAIL : EXIT_USAGE;
    }
    struct mon_result *r = NULL;
    size_t n = 0;
    int64_t since = since_s > 0 ? now_ms() - since_s * 1000 : 0;
    if (store_history(&st, d.id, since, (size_t)limit, &r, &n) != 0) {
        store_error(&st);
        store_close(&st);
        return EXIT_FAIL;
    }
    store_close(&st);
    if (c->json) {
        struct json j;
        json_init(&j, stdout, true);
        json_object_begin(&j);
        json_key(&j, "schema_version");
        json_int(&j, JSON_SCHEMA_VERSION);
        json_key(&j, "device");
        json_object_begin(&j);
        json_device(&j, &d);
        json_object_end(&j);
        json_key(&j, "results");
        json_array_begin(&j);
        for (size_t i = 0; i < n; i++) {
            json_object_begin(&j);
            json_result(&j, &r[i]);
            json_object_end(&j);
        }
        json_array_end(&j);
        json_object_end(&j);
        json_finish(&j);
    } else if (c->csv) {
        fputs(csv_header, stdout);
        for (size_t i = 0; i < n; i++) {
            char why[160];
            enum mon_level lv = mon_verdict(d.warn, d.crit, &r[i], why, sizeof(why));
            csv_row(stdout, &d, &r[i], true, lv, why);
        }
    } else {
        char ht[300];
        host_text(&d, ht, sizeof(ht));
        printf("%s (%s): %zu result%s\n", d.name, ht, n, n == 1 ? "" : "s");
        printf("%-22s %-14s %-15s %-12s %-8s %s\n", "TIME", "STATUS", "OFFSET (s)", "DELAY (s)",
               "STRATUM", "ERROR");
        for (size_t i = 0; i < n; i++) {
            char t[40], off[32], dl[32], sn[16];
            fmt_time(r[i].time_ms, t, sizeof(t));
            fmt_offset(r[i].offset, off, sizeof(off));
            if (isfinite(r[i].delay)) {
                snprintf(dl, sizeof(dl), "%.6f", r[i].delay);
            } else {
                snprintf(dl, sizeof(dl), "-");
            }
            snprintf(sn, sizeof(sn), r[i].stratum >= 0 ? "%d" : "-", r[i].stratum);
            printf("%-22s %-14s %-15s %-12s %-8s %s\n", t, mon_status_name(r[i].status), off, dl,
                   sn, r[i].error);
        }
    }
    free(r);
    return EXIT_OK;
}

struct worst_row {
    size_t i;
    double key;
};

static int cmp_worst(const void *a, const void *b)
{
    const struct worst_row *x = a, *y = b;
    return x->key < y->key ? 1 : x->key > y->key ? -1 : 0;
}

static int cmd_stats(struct common *c, int argc, char **argv)
{
    static const struct option opts[] = {
        { "worst", required_argument, NULL, 'w' }, { "group", required_argument, NULL, 'g' },
        { "json", no_argument, NULL, 'j' },        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    long worst_n = 10;
    int ch;
    while ((ch = getopt_long(argc, argv, "w:g:jh", opts, NULL)) != -1) {
        switch (ch) {
        case 'w':
            if (!opt_long("stats", "worst", 0, 100000, "0 to 100000", &worst_n)) {
                return EXIT_USAGE;
            }
            break;
        case 'g':
            c->group = optarg;
            break;
        case 'j':
            c->json = true;
            break;
        case 'h':
            printf("Usage: stratum monitor stats [--worst N] [--group G] [--json]\n"
                   "Counts of the latest results by status, the N devices with the largest\n"
                   "offsets (default 10), the results kept and the database's size.\n");
            return EXIT_OK;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "stratum monitor stats: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    struct store st;
    if (open_store(&st, c) != 0) {
        return EXIT_FAIL;
    }
    struct store_stats ss;
    struct mon_device *d = NULL;
    struct mon_result *r = NULL;
    bool *have = NULL;
    size_t n = 0;
    if (store_stats(&st, &ss) != 0 || store_latest(&st, c->group, &d, &r, &have, &n) != 0) {
        store_error(&st);
        store_close(&st);
        return EXIT_FAIL;
    }
    store_close(&st);
    int64_t by_status[MON_STATUS_COUNT] = { 0 };
    int64_t never = 0;
    struct worst_row *w = malloc((n ? n : 1) * sizeof(*w));
    size_t nw = 0;
    for (size_t i = 0; i < n; i++) {
        if (!have[i]) {
            never++;
            continue;
        }
        by_status[r[i].status]++;
        if (w != NULL && r[i].status == MON_OK && isfinite(r[i].offset)) {
            w[nw].i = i;
            w[nw].key = fabs(r[i].offset);
            nw++;
        }
    }
    if (w != NULL) {
        qsort(w, nw, sizeof(*w), cmp_worst);
    }
    if ((long)nw > worst_n) {
        nw = (size_t)worst_n;
    }
    char oldest[40], newest[40];
    fmt_time(ss.oldest_ms, oldest, sizeof(oldest));
    fmt_time(ss.newest_ms, newest, sizeof(newest));
    if (c->json) {
        struct json j;
        json_init(&j, stdout, true);
        json_object_begin(&j);
        json_key(&j, "schema_version");
        json_int(&j, JSON_SCHEMA_VERSION);
        json_key(&j, "devices");
        json_int(&j, (int64_t)n);
        json_key(&j, "never_probed");
        json_int(&j, never);
        json_key(&j, "by_status");
        json_object_begin(&j);
        for (int k = 0; k < MON_STATUS_COUNT; k++) {
            json_key(&j, mon_status_name((enum mon_status)k));
            json_int(&j, by_status[k]);
        }
        json_object_end(&j);
        json_key(&j, "worst");
        json_array_begin(&j);
        for (size_t k = 0; k < nw; k++) {
            json_object_begin(&j);
            json_device(&j, &d[w[k].i]);
            json_key(&j, "offset");
            json_fixed(&j, r[w[k].i].offset, 9);
            json_object_end(&j);
        }
        json_array_end(&j);
        json_key(&j, "sweeps");
        json_int(&j, ss.sweeps);
        json_key(&j, "results");
        json_int(&j, ss.results);
        json_key(&j, "oldest");
        json_string(&j, oldest);
        json_key(&j, "newest");
        json_string(&j, newest);
        json_key(&j, "database_bytes");
        json_int(&j, ss.db_bytes);
        json_object_end(&j);
        json_finish(&j);
    } else {
        printf("devices: %zu (%lld never probed)\n", n, (long long)never);
        printf("latest results:");
        for (int k = 0; k < MON_STATUS_COUNT; k++) {
            printf("%s %lld %s", k ? "," : "", (long long)by_status[k],
                   mon_status_name((enum mon_status)k));
        }
        printf("\nkept: %lld results of %lld sweeps, %s to %s; database %lld bytes\n",
               (long long)ss.results, (long long)ss.sweeps, oldest, newest,
               (long long)ss.db_bytes);
        if (nw > 0) {
            printf("largest offsets:\n");
            for (size_t k = 0; k < nw; k++) {
                char ht[300];
                host_text(&d[w[k].i], ht, sizeof(ht));
                printf("  %-24s %-22s %+.6f s\n", d[w[k].i].name, ht, r[w[k].i].offset);
            }
        }
    }
    free(w);
    free(d);
    free(r);
    free(have);
    return EXIT_OK;
}

static int cmd_prune(struct common *c, int argc, char **argv)
{
    static const struct option opts[] = {
        { "keep", required_argument, NULL, 'k' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int64_t keep = -1;
    int ch;
    while ((ch = getopt_long(argc, argv, "k:h", opts, NULL)) != -1) {
        if (ch == 'k') {
            keep = mon_parse_duration(optarg);
            if (keep <= 0) {
                fprintf(stderr, "stratum monitor prune: --keep '%s' is not a duration (30d)\n",
                        optarg);
                return EXIT_USAGE;
            }
        } else if (ch == 'h') {
            printf("Usage: stratum monitor prune --keep DURATION\n"
                   "Deletes the results of sweeps older than DURATION (30d, 12h, ...).\n");
            return EXIT_OK;
        } else {
            return EXIT_USAGE;
        }
    }
    if (keep <= 0 || optind != argc) {
        fprintf(stderr, "stratum monitor prune: give --keep DURATION (see --help)\n");
        return EXIT_USAGE;
    }
    struct store st;
    if (open_store(&st, c) != 0) {
        return EXIT_FAIL;
    }
    int64_t del = store_prune(&st, now_ms() - keep * 1000);
    int rc = EXIT_OK;
    if (del < 0) {
        store_error(&st);
        rc = EXIT_FAIL;
    } else {
        printf("deleted %lld result%s\n", (long long)del, del == 1 ? "" : "s");
    }
    store_close(&st);
    return rc;
}

/* ---- serve ------------------------------------------------------------------------------ */

static void log_line(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void log_line(const char *fmt, ...)
{
    char t[40];
    fmt_time(now_ms(), t, sizeof(t));
    fprintf(stderr, "%s ", t);
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputc('\n', stderr);
    fflush(stderr);
}

/* Alarms on the changes between a device's alarmed level and its new verdict: entering
 * "not standard" (warning or critical) and leaving it, once each; a change of severity
 * while not standard is an "enter" of the new severity. */
static size_t raise_alarms(struct store *st, struct alarm *al, int64_t sweep_id,
                           const struct mon_device *devs, const struct mon_result *res,
                           const bool *have, size_t n, size_t *failed)
{
    size_t events = 0;
    for (size_t i = 0; i < n; i++) {
        char why[160];
        if (!have[i] || res[i].sweep_id != sweep_id) {
            continue; /* not probed by this sweep (another monitor's device) */
        }
        enum mon_level lv = mon_verdict(devs[i].warn, devs[i].crit, &res[i], why, sizeof(why));
        int before = devs[i].alarm_level;
        bool was_bad = before == MON_LEVEL_WARNING || before == MON_LEVEL_CRITICAL;
        bool is_bad = lv != MON_LEVEL_OK;
        const char *kind = NULL;
        if (is_bad && before != (int)lv) {
            kind = "enter";
        } else if (!is_bad && was_bad) {
            kind = "leave";
        }
        if (kind != NULL) {
            char ht[300];
            host_text(&devs[i], ht, sizeof(ht));
            struct alarm_event ev = {
                .time_unix_ms = res[i].time_ms,
                .kind = kind,
                .severity = is_bad ? mon_level_name(lv) : "ok",
                .device = devs[i].name,
                .host = ht,
                .group = devs[i].group,
                .status = res[i].status == MON_OK && is_bad ? "offset"
                                                            : mon_status_name(res[i].status),
                .offset = res[i].offset,
                .threshold_warn = devs[i].warn,
                .threshold_crit = devs[i].crit,
                .detail = why,
                .sweep_id = sweep_id,
            };
            char err[400] = "";
            if (al != NULL && alarm_send(al, &ev, err, sizeof(err)) != 0) {
                /* not recorded as alarmed: the next sweep sends it again (at least once) */
                log_line("MON: alarm for %s not delivered everywhere: %s (again at the next "
                         "sweep)", devs[i].name, err);
                (*failed)++;
                continue;
            }
            log_line("MON: %s %s: %s (%s)", devs[i].name,
                     is_bad ? "is not standard" : "is standard again", why,
                     is_bad ? mon_level_name(lv) : "ok");
            events++;
        }
        if ((int)lv != before && (is_bad || was_bad || before < 0)) {
            if (store_set_alarm_level(st, devs[i].id, (int)lv) != 0) {
                log_line("MON: %s", st->err);
            }
        }
    }
    return events;
}

static int cmd_serve(struct common *c, int argc, char **argv)
{
    static const struct option opts[] = {
        SWEEP_LONGOPTS,
        { "interval", required_argument, NULL, SO_INTERVAL },
        { "syslog", no_argument, NULL, SO_SYSLOG },
        { "remote", required_argument, NULL, SO_REMOTE },
        { "hook", required_argument, NULL, SO_HOOK },
        { "hook-timeout", required_argument, NULL, SO_HOOK_TIMEOUT },
        { "once", no_argument, NULL, SO_ONCE },
        { NULL, 0, NULL, 0 },
    };
    struct sweep_cli s = { .reference = "127.0.0.1" };
    sweep_opts_default(&s.so);
    s.quiet = true;
    struct alarm_config ac;
    memset(&ac, 0, sizeof(ac));
    ac.hook_timeout_ms = 10000;
    ac.facility = 3;
    int64_t interval_s = 300;
    bool once = false;
    int ch;
    while ((ch = getopt_long(argc, argv, "g:jh", opts, NULL)) != -1) {
        int r = parse_sweep_opt(ch, &s, "serve");
        if (r < 0) {
            return EXIT_USAGE;
        }
        if (r > 0) {
            continue;
        }
        switch (ch) {
        case 'g':
            c->group = optarg;
            break;
        case 'j':
            fprintf(stderr, "stratum monitor serve: --json is not an option of serve (it logs "
                            "to standard error; the alarms' JSON goes to --hook)\n");
            return EXIT_USAGE;
        case SO_INTERVAL:
            interval_s = mon_parse_duration(optarg);
            if (interval_s <= 0) {
                fprintf(stderr, "stratum monitor serve: --interval '%s' is not a duration (5m, "
                                "60)\n", optarg);
                return EXIT_USAGE;
            }
            break;
        case SO_SYSLOG:
            ac.syslog_local = true;
            break;
        case SO_REMOTE:
            snprintf(ac.remote, sizeof(ac.remote), "%s", optarg);
            break;
        case SO_HOOK:
            snprintf(ac.hook, sizeof(ac.hook), "%s", optarg);
            break;
        case SO_HOOK_TIMEOUT: {
            double v;
            if (!opt_double("serve", "hook-timeout", 0.01, 3600, "0.01 to 3600 s", &v)) {
                return EXIT_USAGE;
            }
            ac.hook_timeout_ms = (int)(v * 1000);
            break;
        }
        case SO_ONCE:
            once = true;
            break;
        case 'h':
            printf("Usage: stratum monitor serve [options]\n"
                   "Sweeps every --interval (default 300 s) and raises an alarm when a device\n"
                   "enters or leaves 'not standard', once each. Logs to standard error.\n"
                   "SIGTERM/SIGINT: finish the write in progress and exit; SIGHUP: reopen the\n"
                   "database and the alarm sinks, and sweep now. Options:\n%s"
                   "  --interval DURATION  between the starts of sweeps (default 300 s)\n"
                   "  --syslog             alarms to the local syslog (daemon facility)\n"
                   "  --remote URL         alarms as RFC 5424 to udp://HOST:PORT or tcp://HOST:PORT\n"
                   "  --hook COMMAND       run COMMAND (sh -c) per alarm, the event as JSON on\n"
                   "                       its standard input\n"
                   "  --hook-timeout S     kill the hook after S seconds (default 10)\n"
                   "  --once               one sweep with its alarms, then exit\n",
                   sweep_opts_help);
            return EXIT_OK;
        default:
            return EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fprintf(stderr, "stratum monitor serve: unexpected argument '%s'\n", argv[optind]);
        return EXIT_USAGE;
    }
    char err[600];
    struct alarm *al = alarm_open(&ac, err, sizeof(err));
    if (al == NULL) {
        fprintf(stderr, "stratum monitor serve: %s\n", err);
        return EXIT_USAGE;
    }
    struct store st;
    if (open_store(&st, c) != 0) {
        alarm_close(al);
        return EXIT_FAIL;
    }
    struct sigaction sa = { 0 };
    sa.sa_handler = on_stop;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sa.sa_handler = on_hup;
    sigaction(SIGHUP, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    char db_shown[600];
    db_url_shown(c->db, db_shown, sizeof(db_shown));
    log_line("MON: serving: a sweep every %lld s, database %s", (long long)interval_s, db_shown);
    int rc = EXIT_OK;
    while (!g_stop) {
        int64_t start = now_ms();
        struct sweep_total tot;
        int sr = run_sweep(&st, &s, c->group, &tot);
        const struct sweep_stats stats = tot.stats;
        int64_t id = tot.id;
        if (sr != EXIT_FAIL) {
            /* The verdicts from what the store now holds: this sweep's results, with the
             * level each device was last alarmed at. */
            struct mon_device *devs = NULL;
            struct mon_result *latest = NULL;
            bool *have = NULL;
            size_t nl = 0;
            if (store_latest(&st, c->group, &devs, &latest, &have, &nl) != 0) {
                log_line("MON: %s", st.err);
            } else {
                size_t failed = 0;
                size_t ev = raise_alarms(&st, al, id, devs, latest, have, nl, &failed);
                log_line("MON: sweep %lld: %zu devices in %.2f s, %zu ok, %zu alarm%s%s",
                         (long long)id, stats.completed, stats.wall_s, stats.by_status[MON_OK], ev,
                         ev == 1 ? "" : "s", failed ? " (some not delivered)" : "");
            }
            free(devs);
            free(latest);
            free(have);
        }
        if (sr == EXIT_FAIL) {
            log_line("MON: the sweep failed; next try in %lld s", (long long)interval_s);
        }
        if (once) {
            rc = sr;
            break;
        }
        /* Sleep to the next start, waking for signals. */
        while (!g_stop && !g_reload && now_ms() < start + interval_s * 1000) {
            struct timespec ts = { 0, 100000000 };
            nanosleep(&ts, NULL);
        }
        if (g_reload && !g_stop) {
            g_reload = 0;
            log_line("MON: SIGHUP: reopening the database and the alarm sinks");
            store_close(&st);
            if (open_store(&st, c) != 0) {
                rc = EXIT_FAIL;
                break;
            }
            struct alarm *na = alarm_open(&ac, err, sizeof(err));
            if (na == NULL) {
                log_line("MON: alarm sinks: %s (keeping the old ones)", err);
            } else {
                alarm_close(al);
                al = na;
            }
        }
    }
    if (g_stop) {
        log_line("MON: stopping (signal)");
    }
    store_close(&st);
    alarm_close(al);
    return rc;
}

/* ---- dispatch ----------------------------------------------------------------------------- */

int monitor_command(int argc, char **argv)
{
    struct common c = { 0 };
    c.db = getenv("STRATUM_MONITOR_DB");
    if (c.db == NULL || c.db[0] == '\0') {
        c.db = DEFAULT_DB;
    }
    int i = 1;
    for (; i < argc && argv[i][0] == '-'; i++) {
        if (strcmp(argv[i], "--db") == 0 && i + 1 < argc) {
            c.db = argv[++i];
        } else if (strncmp(argv[i], "--db=", 5) == 0) {
            c.db = argv[i] + 5;
        } else if (strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0) {
            usage(stdout);
            return EXIT_OK;
        } else {
            fprintf(stderr, "stratum monitor: unknown option '%s' (see --help)\n", argv[i]);
            return EXIT_USAGE;
        }
    }
    if (i >= argc) {
        usage(stderr);
        return EXIT_USAGE;
    }
    if (c.db[0] == '\0') { /* SQLite would open a temporary database, gone at exit */
        fprintf(stderr, "stratum monitor: --db is empty\n");
        return EXIT_USAGE;
    }
    const char *sub = argv[i];
    int sargc = argc - i;
    char **sargv = argv + i;
    optind = 0; /* getopt_long starts over on the subcommand's arguments */
    static const struct {
        const char *name;
        int (*fn)(struct common *, int, char **);
    } cmds[] = {
        { "list", NULL }, { "report", NULL },        { "groups", cmd_groups },
        { "remove", cmd_remove }, { "sweep", cmd_sweep }, { "history", cmd_history },
        { "stats", cmd_stats },   { "prune", cmd_prune }, { "serve", cmd_serve },
    };
    if (strcmp(sub, "add") == 0) {
        return cmd_add(&c, sargc, sargv);
    }
    if (strcmp(sub, "import") == 0) {
        return cmd_import(&c, sargc, sargv);
    }
    if (strcmp(sub, "list") == 0 || strcmp(sub, "report") == 0) {
        return cmd_list_or_report(&c, sargc, sargv, strcmp(sub, "report") == 0);
    }
    for (size_t k = 0; k < sizeof(cmds) / sizeof(cmds[0]); k++) {
        if (cmds[k].fn != NULL && strcmp(sub, cmds[k].name) == 0) {
            return cmds[k].fn(&c, sargc, sargv);
        }
    }
    fprintf(stderr, "stratum monitor: '%s' is not a command (add, import, list, remove, groups, "
                    "sweep, report, history, stats, prune, serve; see --help)\n", sub);
    return EXIT_USAGE;
}
