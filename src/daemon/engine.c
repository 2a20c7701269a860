/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * engine: sockets, workers, signals, timers and the system state for serving.
 */
#include "engine.h"

#include <errno.h>
#include <math.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/ntp_time.h"
#include "core/srv.h"
#include "daemon/server.h"
#include "daemon/snapshot.h"
#include "daemon/worker.h"
#include "core/sync.h"
#include "daemon/admin.h"
#include "daemon/control.h"
#include "daemon/driftfile.h"
#include "daemon/status.h"
#include "daemon/statusbox.h"
#include "daemon/resolver.h"
#include "daemon/stats.h"
#include "daemon/http.h"
#include "io/log.h"
#include "io/plat.h"
#include "io/rng.h"
#include "io/udp.h"

/* How often the served reference time is renewed when serving from the local clock. */
#define LOCAL_REFRESH_MS 8000
/* Members a pool keeps (chrony's maxsources default), addresses a pool avoids after
 * dropping them, and for how long. */
#define POOL_MEMBERS 4
#define POOL_AVOID 8
#define POOL_AVOID_S 3600.0
/* A pool member is replaced after this many polls unreachable, or this many selections
 * as a falseticker. */
#define POOL_DROP_POLLS 8
/* Re-resolution: while a line has fewer addresses than it wants, and at most this often. */
#define RESOLVE_RETRY_S 60.0
#define RESOLVE_REFRESH_S 3600.0
/* How often the engine looks at pool members. */
#define MAINTENANCE_S 1.0
/* How often the frequency estimate goes to the drift file (and at exit). */
#define DRIFT_INTERVAL_MS (3600 * 1000)
/* Root dispersion announced while unsynchronized (RFC 5905 MAXDISP). */
#define UNSYNC_ROOT_DISP 16.0

struct engine {
    const struct conf *conf;
    struct clk *clk;
    int8_t precision;
    struct snapshot snap;
    struct srv_sys sys;

    int fds[CONF_MAX_LISTEN * (CONF_MAX_WORKERS > 0 ? CONF_MAX_WORKERS : 1)];
    unsigned nfds;
    unsigned nworkers;
    struct worker *workers[CONF_MAX_WORKERS];
    struct server_ctx plain;        /* workers 0 */
    bool plain_ready;
    int stop_pipe[2];
    int64_t start_ms;

    /* Upstream synchronization (when sources are configured). */
    bool syncing;
    struct sync sync;
    struct {
        struct sockaddr_storage addr;
        socklen_t len;
        plat_sock fd;               /* the current request's socket (a new port each time) */
        char name[320];
        int origin;                 /* index of its server/pool line in the configuration */
        uint16_t associd;           /* its association ID (mode 6) */
        enum assoc_result last_res; /* what became of its last reply */
        uint8_t event, events;      /* last peer event code and how many in a row */
        uint8_t last_reach;         /* reach register at the last look (events) */
        int last_sel;               /* selection at the last look (events) */
    } src[SYNC_MAX_SOURCES];
    uint16_t next_associd;
    /* Per configuration line: name resolution and, for pools, member replacement. */
    struct resolver *resolver;
    struct {
        bool pending;               /* a lookup is queued */
        double next_resolve;        /* monotonic s; 0: none planned */
        struct sockaddr_storage avoid[POOL_AVOID];
        socklen_t avoid_len[POOL_AVOID];
        double avoid_until[POOL_AVOID];
    } line[CONF_MAX_SOURCES];
    double next_maintenance;
    bool freq_warned;
    struct rng_fast rng;            /* nonces when the kernel's generator fails */
    struct log_limit io_limit;      /* socket errors: a few, then one a minute */
    struct log_limit remote_limit;  /* what a source's replies can make us log (KoD, leap) */
    struct stats stats;             /* loopstats, peerstats, sysstats files */
    int clock_leap;                 /* what the clock was last told (enum clk_leap) */
    bool clock_synced;
    bool status_warned;
    int exit_status;                /* set when the engine must stop (panic) */
    bool stop;

    /* The control protocol (mode 6): requests from the workers come on ctl_pair[0]. */
    struct control *control;
    int ctl_pair[2];
    uint8_t sys_event, sys_events;  /* last system event code and how many in a row */
    double last_offset;             /* s, of the last update (status) */
    /* Counters at the last hourly reset (ntpq sysstats). */
    uint64_t cnt_reset[CNT_COUNT];
    int64_t reset_ms;

    /* The status published for other threads (the HTTP listener), when one reads it. */
    bool publish;
    struct status_box box;
    struct status pub;              /* scratch for filling it */
    int64_t next_publish;
    struct http *http;              /* the HTTP listener (`http`), NULL when off */

    /* The configuration the engine runs (its own copy: reload and `stratum ctl add` change
     * it; workers read its restrict list) and the administration socket. */
    struct conf *own;
    struct admin *admin;
};

static int sig_pipe[2] = { -1, -1 };

static void on_signal(int sig)
{
    int saved = errno;
    unsigned char b = (unsigned char)sig;
    ssize_t r = write(sig_pipe[1], &b, 1);
    (void)r;
    errno = saved;
}

static int64_t mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int set_nonblock(int fd)
{
    int fl = fcntl(fd, F_GETFL);
    if (fl < 0 || fcntl(fd, F_SETFL, fl | O_NONBLOCK) < 0) {
        return -1;
    }
    return fcntl(fd, F_SETFD, FD_CLOEXEC);
}

/* ---- events and status (the control protocol, metrics) ----------------------------- */

static ntp_ts_t clock_ts(struct engine *e)
{
    struct timespec ts;
    clk_now(e->clk, &ts);
    return ntp_ts_from_timespec(&ts);
}

static void sys_event(struct engine *e, uint8_t code)
{
    if (e->sys_event != code) {
        e->sys_events = 0;
    }
    e->sys_event = code;
    if (e->sys_events < 15) {
        e->sys_events++;
    }
}

static void peer_event(struct engine *e, unsigned k, uint8_t code)
{
    if (e->src[k].event != code) {
        e->src[k].events = 0;
    }
    e->src[k].event = code;
    if (e->src[k].events < 15) {
        e->src[k].events++;
    }
}

/* Tells the clock backend the leap second the sources voted for and whether it is
 * synchronized (Linux: STA_INS/STA_DEL, STA_UNSYNC and the kernel's RTC sync). */
static void tell_clock(struct engine *e, const struct srv_sys *s)
{
    char err[256];
    bool synced = s->leap != PKT_LEAP_UNSYNC;
    int leap = s->leap == PKT_LEAP_INSERT   ? CLK_LEAP_INSERT
               : s->leap == PKT_LEAP_DELETE ? CLK_LEAP_DELETE
                                            : CLK_LEAP_NONE;
    if (leap != e->clock_leap) {
        if (clk_set_leap(e->clk, (enum clk_leap)leap, err, sizeof(err)) == 0) {
            e->clock_leap = leap;
            sys_event(e, leap != CLK_LEAP_NONE ? CTL_SEV_LEAP_ARMED : CTL_SEV_LEAP_DISARMED);
            /* Sources set the bits: one flapping them must not flood the log. */
            if (log_limit_pass(&e->remote_limit, mono_ms())) {
                log_msg(LOGL_NOTICE, "CLOCK: leap second %s at the end of the month (sources' "
                                     "majority)",
                        leap == CLK_LEAP_INSERT   ? "insertion armed"
                        : leap == CLK_LEAP_DELETE ? "deletion armed"
                                                  : "disarmed");
            }
        } else if (!e->status_warned) {
            log_msg(LOGL_WARN, "CLOCK: %s", err);
            e->status_warned = true;
        }
    }
    if (synced != e->clock_synced) {
        double max_error = s->root_delay / 2.0 + s->root_disp;
        if (clk_set_synced(e->clk, synced, s->root_disp, max_error, err, sizeof(err)) == 0) {
            e->clock_synced = synced;
            sys_event(e, synced ? CTL_SEV_SYNC : CTL_SEV_NO_PEER);
            log_msg(LOGL_NOTICE, "CLOCK: %s (stratum %u)",
                    synced ? "synchronized" : "synchronization lost", (unsigned)s->stratum);
        } else if (!e->status_warned) {
            log_msg(LOGL_WARN, "CLOCK: %s", err);
            e->status_warned = true;
        }
    }
}

/* The state served: from upstream while synchronized (and held), else the local clock at
 * the configured stratum, else unsynchronized. */
static void refresh_state(struct engine *e)
{
    struct srv_sys *s = &e->sys;
    memset(s, 0, sizeof(*s));
    s->precision = e->precision;
    if (e->syncing) {
        sync_served(&e->sync, (double)mono_ms() / 1000.0, s);
        tell_clock(e, s);
        if (s->leap != PKT_LEAP_UNSYNC) {
            snapshot_publish(&e->snap, s);
            return;
        }
        memset(s, 0, sizeof(*s));
        s->precision = e->precision;
    }
    if (e->conf->local_stratum > 0) {
        struct timespec now;
        clk_now(e->clk, &now);
        s->leap = PKT_LEAP_NONE;
        s->stratum = (uint8_t)e->conf->local_stratum;
        /* As ntpd's local clock driver: refid "LOCL", the reference time is now. */
        s->refid = ntp_refid_from_ascii("LOCL");
        s->ref_time = ntp_ts_from_timespec(&now);
        s->root_delay = 0.0;
        s->root_disp = 0.0;
    } else {
        s->leap = PKT_LEAP_UNSYNC;
        s->stratum = 16;
        s->refid = ntp_refid_from_ascii("INIT");
        s->ref_time = 0;
        s->root_delay = 0.0;
        s->root_disp = UNSYNC_ROOT_DISP;
    }
    snapshot_publish(&e->snap, s);
}

/* True when sa is where this daemon itself listens (a source there would be ourselves:
 * our own replies would come back as samples and the stratum would climb to 16). */
static bool is_own_address(const struct engine *e, const struct sockaddr *sa)
{
    struct net_addr a;
    uint16_t port;
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof(ss));
    memcpy(&ss, sa, sa->sa_family == AF_INET ? sizeof(struct sockaddr_in)
                                             : sizeof(struct sockaddr_in6));
    if (udp_sockaddr_to_net(&ss, &a, &port) != 0) {
        return false;
    }
    bool loopback = (a.family == NET_IPV4 && a.bytes[0] == 127) ||
                    (a.family == NET_IPV6 && a.bytes[15] == 1 &&
                     memcmp(a.bytes, (const uint8_t[15]){ 0 }, 15) == 0);
    for (unsigned l = 0; l < e->conf->n_listen; l++) {
        const struct conf_listen *li = &e->conf->listen[l];
        if (li->port != port || li->addr.family != a.family) {
            continue;
        }
        if (li->wildcard ? loopback : memcmp(li->addr.bytes, a.bytes, 16) == 0) {
            return true;
        }
    }
    return false;
}

/* Adds one resolved address of configuration line `origin` to the sync engine. */
static void add_source(struct engine *e, int origin, const struct sockaddr *sa, socklen_t salen,
                       double now)
{
    const struct conf_source *cs = &e->conf->sources[origin];
    if (is_own_address(e, sa)) {
        log_msg(LOGL_WARN, "PROTO: source %s is this daemon's own address and port: ignored",
                cs->host);
        return;
    }
    struct assoc_config ac;
    assoc_config_default(&ac);
    ac.minpoll = (int8_t)cs->minpoll;
    ac.maxpoll = (int8_t)cs->maxpoll;
    ac.iburst = (cs->flags & CONF_SRC_IBURST) != 0;
    ac.maxdist = e->conf->maxdist;
    ac.burst = (cs->flags & CONF_SRC_BURST) != 0;
    ac.flags = ((cs->flags & CONF_SRC_PREFER) != 0 ? ASSOC_CFG_PREFER : 0u) |
               ((cs->flags & CONF_SRC_NOSELECT) != 0 ? ASSOC_CFG_NOSELECT : 0u) |
               ((cs->flags & CONF_SRC_TRUE) != 0 ? ASSOC_CFG_TRUE : 0u);
    uint32_t refid;
    if (sa->sa_family == AF_INET) {
        refid = ntp_refid_ipv4((const uint8_t *)&((const struct sockaddr_in *)sa)->sin_addr);
    } else {
        refid = ntp_refid_ipv6((const uint8_t *)&((const struct sockaddr_in6 *)sa)->sin6_addr);
    }
    int k = sync_add(&e->sync, &ac, refid, now);
    if (k < 0) {
        log_msg(LOGL_WARN, "PROTO: %s: too many sources (at most %d); ignored", cs->host,
                SYNC_MAX_SOURCES);
        return;
    }
    memcpy(&e->src[k].addr, sa, salen);
    e->src[k].len = salen;
    e->src[k].fd = PLAT_NO_SOCK;
    e->src[k].origin = origin;
    /* Association IDs are never reused while the daemon runs (0 is the system's). */
    if (++e->next_associd == 0) {
        e->next_associd = 1;
    }
    e->src[k].associd = e->next_associd;
    e->src[k].last_res = ASSOC_OK;
    e->src[k].event = 0;
    e->src[k].events = 0;
    e->src[k].last_reach = 0;
    e->src[k].last_sel = SYNC_SEL_NONE;
    peer_event(e, (unsigned)k, CTL_PEV_MOBILIZE);
    char text[64] = "?";
    getnameinfo(sa, salen, text, sizeof(text), NULL, 0, NI_NUMERICHOST);
    snprintf(e->src[k].name, sizeof(e->src[k].name), "%s (%s port %u)", cs->host, text,
             (unsigned)cs->port);
    log_msg(LOGL_NOTICE, "PROTO: source %s: minpoll %d maxpoll %d%s", e->src[k].name,
            cs->minpoll, cs->maxpoll, ac.iburst ? " iburst" : "");
}

/* The sync engine (with the drift file's frequency), before any source is added. */
static void init_sync(struct engine *e)
{
    const struct conf *conf = e->conf;
    struct sync_config sc;
    memset(&sc, 0, sizeof(sc));
    discipline_config_default(&sc.disc);
    sc.disc.allow_first = conf->allow_first_step;
    sc.disc.step_threshold = conf->step_threshold;
    sc.disc.stepout = conf->stepout;
    sc.disc.panic_threshold = conf->panic_threshold;
    sc.disc.step_limit = conf->step_limit;
    sc.minsane = (unsigned)conf->minsane;
    sc.minclock = (unsigned)conf->minclock;
    sc.precision = e->precision;
    double now = (double)mono_ms() / 1000.0;
    double drift = 0.0;
    bool have_drift = false;
    if (conf->driftfile[0] != '\0') {
        char err[256];
        enum driftfile_status ds = driftfile_read(conf->driftfile, &drift, NULL, err,
                                                  sizeof(err));
        if (ds == DRIFTFILE_OK) {
            have_drift = true;
            sys_event(e, CTL_SEV_FREQ_SET);
            log_msg(LOGL_NOTICE, "CLOCK: frequency %+.3f ppm from the drift file %s", drift,
                    conf->driftfile);
        } else if (ds == DRIFTFILE_MISSING) {
            sys_event(e, CTL_SEV_FREQ_NOT_SET);
            log_msg(LOGL_NOTICE, "CLOCK: no drift file %s yet: the frequency starts at 0",
                    conf->driftfile);
        } else {
            log_msg(LOGL_WARN, "CLOCK: drift file ignored: %s", err);
        }
    }
    sync_init(&e->sync, &sc, now, drift, have_drift);
    if (have_drift) {
        char err[256];
        if (clk_set_freq(e->clk, drift, err, sizeof(err)) != 0) {
            log_msg(LOGL_WARN, "CLOCK: cannot set the frequency to %+.3f ppm: %s", drift, err);
        }
    }
    /* The engine runs (sockets, polling) even before a name resolves. */
    e->syncing = true;
    rng_fast_seed(&e->rng);
    e->io_limit.burst = 5;
    e->io_limit.tokens = 5;
    e->io_limit.interval_ms = 60000;
}

/* Starts configuration line i: a numeric address is added now; a name goes to the
 * resolver thread, started only when a name is configured. */
static void start_line(struct engine *e, unsigned i, double now)
{
    const struct conf_source *cs = &e->conf->sources[i];
    char port[8];
    struct addrinfo hints, *res = NULL;
    memset(&e->line[i], 0, sizeof(e->line[i]));
    snprintf(port, sizeof(port), "%u", (unsigned)cs->port);
    memset(&hints, 0, sizeof(hints));
    hints.ai_socktype = SOCK_DGRAM;
    hints.ai_protocol = IPPROTO_UDP;
    hints.ai_flags = AI_NUMERICSERV | AI_NUMERICHOST;
    if (getaddrinfo(cs->host, port, &hints, &res) == 0 && res != NULL) {
        add_source(e, (int)i, res->ai_addr, (socklen_t)res->ai_addrlen, now);
        freeaddrinfo(res);
        return;
    }
    if (e->resolver == NULL && (e->resolver = resolver_start()) == NULL) {
        log_msg(LOGL_ERR, "PROTO: cannot start the name resolver: %s; %s ignored",
                strerror(errno), cs->host);
        return;
    }
    e->line[i].next_resolve = now; /* queued by the maintenance */
}

static void setup_sources(struct engine *e)
{
    init_sync(e);
    double now = (double)mono_ms() / 1000.0;
    for (unsigned i = 0; i < e->conf->n_sources; i++) {
        start_line(e, i, now);
    }
}

static bool same_addr(const struct sockaddr_storage *a, socklen_t alen,
                      const struct sockaddr_storage *b, socklen_t blen)
{
    return alen == blen && memcmp(a, b, alen) == 0;
}

/* Active sources that came from configuration line i. */
static unsigned members(const struct engine *e, int i)
{
    unsigned n = 0;
    for (unsigned k = 0; k < e->sync.n; k++) {
        n += sync_active(&e->sync, k) && e->src[k].origin == i;
    }
    return n;
}

/* A finished lookup for configuration line i: a server takes its first address, a pool
 * tops itself up to POOL_MEMBERS with addresses it has not and does not avoid. */
static void resolved(struct engine *e, const struct resolver_result *res)
{
    int i = res->tag;
    double now = (double)mono_ms() / 1000.0;
    if (i < 0 || (unsigned)i >= e->conf->n_sources) {
        return;
    }
    const struct conf_source *cs = &e->conf->sources[i];
    bool pool = cs->kind == CONF_SRC_POOL;
    unsigned want = !pool ? 1 : e->conf->maxclock >= 1 ? (unsigned)e->conf->maxclock : POOL_MEMBERS;
    e->line[i].pending = false;
    if (res->error != 0) {
        log_msg(LOGL_WARN, "PROTO: source %s: cannot resolve: %s (retry in %.0f s)", cs->host,
                res->message, RESOLVE_RETRY_S);
        e->line[i].next_resolve = now + RESOLVE_RETRY_S;
        return;
    }
    for (unsigned j = 0; j < res->n && members(e, i) < want; j++) {
        bool skip = false;
        for (unsigned k = 0; k < e->sync.n && !skip; k++) {
            skip = sync_active(&e->sync, k) &&
                   same_addr(&e->src[k].addr, e->src[k].len, &res->addr[j], res->len[j]);
        }
        for (unsigned v = 0; v < POOL_AVOID && !skip; v++) {
            skip = e->line[i].avoid_until[v] > now &&
                   same_addr(&e->line[i].avoid[v], e->line[i].avoid_len[v], &res->addr[j],
                             res->len[j]);
        }
        if (!skip) {
            add_source(e, i, (const struct sockaddr *)&res->addr[j], res->len[j], now);
        }
    }
    e->line[i].next_resolve = now + (members(e, i) < want ? RESOLVE_RETRY_S : RESOLVE_REFRESH_S);
}

/* Pool members that are unreachable, denied or persistently falseticking are dropped and
 * avoided for a while; lines short of addresses are resolved again. */
static void maintain_sources(struct engine *e, double now)
{
    if (now < e->next_maintenance) {
        return;
    }
    e->next_maintenance = now + MAINTENANCE_S;
    for (unsigned k = 0; k < e->sync.n; k++) {
        if (!sync_active(&e->sync, k)) {
            continue;
        }
        int i = e->src[k].origin;
        const struct sync_source *s = &e->sync.src[k];
        if (e->conf->sources[i].kind != CONF_SRC_POOL) {
            continue;
        }
        const char *why = s->as.polled && s->as.unreach >= POOL_DROP_POLLS ? "unreachable"
                          : (assoc_flags(&s->as) & (ASSOC_F_DENIED | ASSOC_F_DEMOBILIZE)) != 0
                              ? "access denied (kiss-o'-death)"
                          : s->falseticks >= POOL_DROP_POLLS ? "a falseticker"
                                                             : NULL;
        if (why == NULL) {
            continue;
        }
        log_msg(LOGL_NOTICE, "PROTO: pool member %s is %s: replacing it", e->src[k].name, why);
        unsigned v = 0;
        for (unsigned w = 1; w < POOL_AVOID; w++) {
            if (e->line[i].avoid_until[w] < e->line[i].avoid_until[v]) {
                v = w;
            }
        }
        e->line[i].avoid[v] = e->src[k].addr;
        e->line[i].avoid_len[v] = e->src[k].len;
        e->line[i].avoid_until[v] = now + POOL_AVOID_S;
        plat_close(e->src[k].fd);
        e->src[k].fd = PLAT_NO_SOCK;
        sync_drop(&e->sync, k);
        e->line[i].next_resolve = now;
    }
    for (unsigned i = 0; i < e->conf->n_sources; i++) {
        if (e->resolver == NULL || e->line[i].pending || e->line[i].next_resolve <= 0.0 ||
            now < e->line[i].next_resolve) {
            continue;
        }
        if (resolver_request(e->resolver, (int)i, e->conf->sources[i].host,
                             e->conf->sources[i].port) == 0) {
            e->line[i].pending = true;
        }
    }
}

/* ---- administration (stratum ctl, SIGHUP) ------------------------------------------- */

static void stop_workers(struct engine *e);
static int start_workers(struct engine *e);
static unsigned server_ctxs(struct engine *e, struct server_ctx **ctxs, unsigned max);
static void fill_peer(struct engine *e, unsigned k, double now, struct status_peer *p);
static void refresh_state(struct engine *e);
static void apply(struct engine *e, const struct sync_action *a, const char *from);
static bool save_drift_now(struct engine *e, char *why, size_t size);

/* Appends printf text to a reply buffer. */
static void say(char *reply, size_t cap, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void say(char *reply, size_t cap, const char *fmt, ...)
{
    size_t n = strlen(reply);
    if (n + 1 >= cap) {
        return;
    }
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(reply + n, cap - n, fmt, ap);
    va_end(ap);
}

static bool same_line(const struct conf_source *a, const struct conf_source *b)
{
    return a->kind == b->kind && strcmp(a->host, b->host) == 0 && a->port == b->port &&
           a->minpoll == b->minpoll && a->maxpoll == b->maxpoll && a->flags == b->flags;
}

/* Drops every source of configuration line i. */
static void drop_line(struct engine *e, unsigned i)
{
    for (unsigned k = 0; k < e->sync.n; k++) {
        if (sync_active(&e->sync, k) && e->src[k].origin == (int)i) {
            log_msg(LOGL_NOTICE, "PROTO: source %s removed", e->src[k].name);
            plat_close(e->src[k].fd);
            e->src[k].fd = PLAT_NO_SOCK;
            sync_drop(&e->sync, k);
        }
    }
}

/* Renumbers: configuration line `from` is now line `to` (sources and resolver state). */
static void move_line(struct engine *e, unsigned from, unsigned to, void *line_state)
{
    for (unsigned k = 0; k < e->sync.n; k++) {
        if (sync_active(&e->sync, k) && e->src[k].origin == (int)from) {
            e->src[k].origin = (int)to;
        }
    }
    memcpy(&e->line[to], line_state, sizeof(e->line[to]));
}

/* Re-reads the configuration file and applies what can change while running: sources
 * (lines added, removed, changed), restrict and discard, monitor, local stratum, tos
 * minsane/minclock/maxdist, tinker thresholds. The rest needs a restart, and is named. */
static void reload(struct engine *e, char *reply, size_t cap)
{
    struct conf *n = malloc(sizeof(*n));
    char err[1024];
    if (n == NULL) {
        say(reply, cap, "error out of memory\n");
        return;
    }
    conf_init(n);
    n->warn = e->conf->warn;
    n->warn_arg = e->conf->warn_arg;
    if (conf_load_file(n, e->conf->path, err, sizeof(err)) != 0) {
        log_msg(LOGL_ERR, "CONF: reload refused: %s", err);
        say(reply, cap, "error %s\n", err);
        free(n);
        return;
    }
    conf_finish(n);
    struct conf *o = e->own;
    n->allow_first_step = o->allow_first_step;
    n->once = o->once;
    n->clock = o->clock; /* --clock on the command line wins, as at start */
    n->sim = o->sim;

    /* What only a restart changes. */
    char restart[512] = "";
#define CHANGED(cond, what)                                                                        \
    do {                                                                                           \
        if (cond) {                                                                                \
            say(restart, sizeof(restart), "%s%s", restart[0] != '\0' ? ", " : "", what);         \
        }                                                                                          \
    } while (0)
    CHANGED(n->n_listen != o->n_listen ||
                memcmp(n->listen, o->listen, sizeof(n->listen[0]) * n->n_listen) != 0,
            "listen");
    CHANGED(n->workers != o->workers, "workers");
    CHANGED(strcmp(n->pidfile, o->pidfile) != 0, "pidfile");
    CHANGED(strcmp(n->logfile, o->logfile) != 0, "logfile");
    CHANGED(strcmp(n->driftfile, o->driftfile) != 0, "driftfile");
    CHANGED(strcmp(n->control_socket, o->control_socket) != 0 ||
                n->control_group != o->control_group,
            "control socket");
    CHANGED(n->rl_entries != o->rl_entries, "mru maxdepth");
    CHANGED(memcmp(&n->http, &o->http, sizeof(n->http)) != 0, "http");
    CHANGED(memcmp(&n->stats, &o->stats, sizeof(n->stats)) != 0, "statistics");
    CHANGED(n->log_level != o->log_level || n->log_categories != o->log_categories ||
                n->syslog != o->syslog || strcmp(n->syslog_socket, o->syslog_socket) != 0 ||
                n->syslog_facility != o->syslog_facility,
            "logging");
#undef CHANGED

    /* restrict, discard, monitor: the workers stop for the moment of the change (their
     * sockets keep receiving), so no thread reads a list being rewritten. */
    bool acl_changed = memcmp(&n->acl, &o->acl, sizeof(n->acl)) != 0 ||
                       memcmp(&n->rl, &o->rl, sizeof(n->rl)) != 0 || n->monitor != o->monitor;
    if (acl_changed) {
        bool running = e->nworkers > 0 && e->stop_pipe[1] >= 0;
        if (running) {
            stop_workers(e);
            close(e->stop_pipe[0]);
            e->stop_pipe[0] = -1;
        }
        memcpy(&o->acl, &n->acl, sizeof(o->acl));
        o->rl = n->rl;
        o->monitor = n->monitor;
        struct server_ctx *ctxs[CONF_MAX_WORKERS + 1];
        unsigned nc = server_ctxs(e, ctxs, CONF_MAX_WORKERS + 1);
        for (unsigned i = 0; i < nc; i++) {
            rl_reconfig(ctxs[i]->rl, &o->rl);
            ctxs[i]->monitor = o->monitor;
        }
        if (running && start_workers(e) != 0) {
            log_msg(LOGL_ERR, "IO: cannot restart the workers after a reload; exiting");
            e->exit_status = 1;
            e->stop = true;
        }
    }

    /* Sources: lines that stay keep their sources (renumbered), removed lines lose them,
     * new lines start. */
    unsigned kept = 0, added = 0, removed = 0;
    bool used[CONF_MAX_SOURCES] = {false};
    int map[CONF_MAX_SOURCES];
    for (unsigned i = 0; i < o->n_sources; i++) {
        map[i] = -1;
        for (unsigned j = 0; j < n->n_sources && map[i] < 0; j++) {
            if (!used[j] && same_line(&o->sources[i], &n->sources[j])) {
                map[i] = (int)j;
                used[j] = true;
            }
        }
    }
    if (n->n_sources > 0 && !e->syncing) {
        init_sync(e);
    }
    /* Renumber through a copy of the per-line state (lines may swap places). */
    static __typeof__(e->line) saved;
    memcpy(saved, e->line, sizeof(saved));
    for (unsigned i = 0; i < o->n_sources; i++) {
        if (map[i] < 0) {
            drop_line(e, i);
            removed++;
        }
    }
    /* Mark the sources of kept lines with their new numbers, offset so that old and new
     * numbers cannot meet, then take the offset away. */
    for (unsigned k = 0; e->syncing && k < e->sync.n; k++) {
        if (sync_active(&e->sync, k) && map[e->src[k].origin] >= 0) {
            e->src[k].origin = map[e->src[k].origin] + CONF_MAX_SOURCES;
        }
    }
    memset(e->line, 0, sizeof(e->line));
    for (unsigned i = 0; i < o->n_sources; i++) {
        if (map[i] >= 0) {
            move_line(e, (unsigned)map[i] + CONF_MAX_SOURCES, (unsigned)map[i], &saved[i]);
            kept++;
        }
    }
    memcpy(o->sources, n->sources, sizeof(o->sources));
    o->n_sources = n->n_sources;
    double now = (double)mono_ms() / 1000.0;
    for (unsigned j = 0; j < n->n_sources; j++) {
        if (!used[j]) {
            start_line(e, j, now);
            added++;
        }
    }

    /* Thresholds and the local stratum. */
    o->local_stratum = n->local_stratum;
    o->minsane = n->minsane;
    o->minclock = n->minclock;
    o->maxclock = n->maxclock;
    o->maxdist = n->maxdist;
    o->step_threshold = n->step_threshold;
    o->stepout = n->stepout;
    o->panic_threshold = n->panic_threshold;
    o->step_limit = n->step_limit;
    if (e->syncing) {
        e->sync.cfg.minsane = (unsigned)(o->minsane >= 1 ? o->minsane : 1);
        e->sync.cfg.minclock = (unsigned)(o->minclock >= 1 ? o->minclock : 3);
        e->sync.cfg.disc.step_threshold = o->step_threshold;
        e->sync.cfg.disc.stepout = o->stepout;
        e->sync.cfg.disc.panic_threshold = o->panic_threshold;
        e->sync.cfg.disc.step_limit = o->step_limit;
        e->sync.disc.cfg = e->sync.cfg.disc;
        for (unsigned k = 0; k < e->sync.n; k++) {
            e->sync.src[k].as.cfg.maxdist = o->maxdist;
        }
    }
    refresh_state(e);
    free(n);
    log_msg(LOGL_NOTICE, "CONF: reloaded %s: %u source line%s kept, %u added, %u removed%s%s%s",
            o->path, kept, kept == 1 ? "" : "s", added, removed,
            acl_changed ? "; restrict/discard/monitor updated" : "",
            restart[0] != '\0' ? "; needs a restart: " : "", restart);
    say(reply, cap, "ok reloaded %s\n", o->path);
    say(reply, cap, "source lines: %u kept, %u added, %u removed\n", kept, added, removed);
    if (acl_changed) {
        say(reply, cap, "restrict/discard/monitor: updated\n");
    }
    if (restart[0] != '\0') {
        say(reply, cap, "not applied until a restart: %s\n", restart);
    }
}

/* `add server|pool|peer HOST [options]`: one configuration line, parsed as in the file. */
static void admin_add(struct engine *e, const char *text, char *reply, size_t cap)
{
    struct conf *t = malloc(sizeof(*t));
    char err[1024];
    if (t == NULL) {
        say(reply, cap, "error out of memory\n");
        return;
    }
    conf_init(t);
    if (conf_load_string(t, "stratum ctl add", text, err, sizeof(err)) != 0 ||
        t->n_sources != 1) {
        say(reply, cap, "error %s\n",
            t->n_sources != 1 && err[0] == '\0' ? "expected one server, pool or peer line" : err);
        free(t);
        return;
    }
    struct conf *o = e->own;
    for (unsigned i = 0; i < o->n_sources; i++) {
        if (same_line(&o->sources[i], &t->sources[0])) {
            say(reply, cap, "error %s is already a source\n", t->sources[0].host);
            free(t);
            return;
        }
    }
    if (o->n_sources >= CONF_MAX_SOURCES) {
        say(reply, cap, "error too many source lines (at most %d)\n", CONF_MAX_SOURCES);
        free(t);
        return;
    }
    if (!e->syncing) {
        init_sync(e);
    }
    unsigned i = o->n_sources++;
    o->sources[i] = t->sources[0];
    free(t);
    start_line(e, i, (double)mono_ms() / 1000.0);
    log_msg(LOGL_NOTICE, "CONF: source %s added at run time (not in %s: a reload or restart "
                         "forgets it)", o->sources[i].host, o->path);
    say(reply, cap, "ok added %s\n", o->sources[i].host);
}

/* `remove HOST|ASSOCID`: a configuration line by its host, or one association. */
static void admin_remove(struct engine *e, const char *what, char *reply, size_t cap)
{
    struct conf *o = e->own;
    char *end;
    long id = strtol(what, &end, 10);
    if (*end == '\0' && id > 0 && id <= 65535) {
        for (unsigned k = 0; e->syncing && k < e->sync.n; k++) {
            if (sync_active(&e->sync, k) && e->src[k].associd == (uint16_t)id) {
                unsigned i = (unsigned)e->src[k].origin;
                if (o->sources[i].kind == CONF_SRC_POOL) {
                    /* One member of a pool: the pool replaces it. */
                    log_msg(LOGL_NOTICE, "PROTO: pool member %s removed", e->src[k].name);
                    plat_close(e->src[k].fd);
                    e->src[k].fd = PLAT_NO_SOCK;
                    sync_drop(&e->sync, k);
                    e->line[i].next_resolve = (double)mono_ms() / 1000.0;
                    say(reply, cap, "ok removed association %ld (pool member)\n", id);
                    return;
                }
                what = o->sources[i].host;
                break;
            }
        }
    }
    for (unsigned i = 0; i < o->n_sources; i++) {
        if (strcmp(o->sources[i].host, what) != 0) {
            continue;
        }
        drop_line(e, i);
        /* Later lines move down by one. */
        for (unsigned j = i + 1; j < o->n_sources; j++) {
            o->sources[j - 1] = o->sources[j];
            move_line(e, j, j - 1, &e->line[j]);
        }
        o->n_sources--;
        say(reply, cap, "ok removed %s\n", what);
        return;
    }
    say(reply, cap, "error no source %s (a host as configured, or an association ID)\n", what);
}

static void admin_sources(struct engine *e, char *reply, size_t cap)
{
    say(reply, cap, "ok %u source line%s\n", e->conf->n_sources,
        e->conf->n_sources == 1 ? "" : "s");
    double now = (double)mono_ms() / 1000.0;
    for (unsigned k = 0; e->syncing && k < e->sync.n; k++) {
        if (!sync_active(&e->sync, k)) {
            continue;
        }
        struct status_peer p;
        fill_peer(e, k, now, &p);
        say(reply, cap, "%u %s %s reach %03o stratum %u offset %+.9f%s%s\n", p.associd,
            p.host, p.srcadr, p.reach, p.stratum, p.offset, p.sys_peer ? " sys_peer" : "",
            p.why != NULL ? "" : "");
    }
}

static void admin_exec(void *arg, const char *line, uid_t uid, pid_t pid, char *reply, size_t cap)
{
    struct engine *e = arg;
    char cmd[32] = "";
    int used = 0;
    reply[0] = '\0';
    if (sscanf(line, " %31s %n", cmd, &used) < 1) {
        say(reply, cap, "error empty request\n");
        return;
    }
    const char *rest = line + used;
    log_msg(LOGL_NOTICE, "IO: administration request from uid %ld pid %ld: %.200s", (long)uid,
            (long)pid, line);
    if (strcmp(cmd, "reload") == 0) {
        reload(e, reply, cap);
    } else if (strcmp(cmd, "add") == 0) {
        admin_add(e, rest, reply, cap);
    } else if (strcmp(cmd, "remove") == 0) {
        char what[256];
        if (sscanf(rest, "%255s", what) != 1) {
            say(reply, cap, "error remove: expected a host or an association ID\n");
        } else {
            admin_remove(e, what, reply, cap);
        }
    } else if (strcmp(cmd, "step") == 0) {
        if (!e->syncing) {
            say(reply, cap, "error no sources: nothing to step to\n");
            return;
        }
        struct sync_action a = sync_step_now(&e->sync, (double)mono_ms() / 1000.0);
        if (a.kind == SYNC_ACT_NONE) {
            say(reply, cap, "error no offset estimate yet (not synchronized)\n");
            return;
        }
        apply(e, &a, "stratum ctl step");
        if (a.kind == SYNC_ACT_STEP) {
            say(reply, cap, "ok stepped by %+.9f s\n", a.step);
        } else {
            say(reply, cap, "error step of %+.9f s refused: tinker steplimit\n", a.step);
        }
    } else if (strcmp(cmd, "writedrift") == 0) {
        char why[256];
        if (save_drift_now(e, why, sizeof(why))) {
            say(reply, cap, "ok %s\n", why);
        } else {
            say(reply, cap, "error %s\n", why);
        }
    } else if (strcmp(cmd, "sources") == 0) {
        admin_sources(e, reply, cap);
    } else {
        say(reply, cap, "error unknown request '%s' (reload, add, remove, step, writedrift, "
                        "sources)\n", cmd);
    }
}

struct engine *engine_new(const struct conf *conf, struct clk *clk, char *err, size_t errlen)
{
    struct engine *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->own = malloc(sizeof(*e->own));
    if (e->own == NULL) {
        free(e);
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    memcpy(e->own, conf, sizeof(*conf));
    e->conf = e->own;
    conf = e->own;
    e->clk = clk;
    e->stop_pipe[0] = e->stop_pipe[1] = -1;
    e->ctl_pair[0] = e->ctl_pair[1] = -1;
    status_box_init(&e->box);
    stats_init(&e->stats, &conf->stats);
    e->remote_limit.burst = 10;
    e->remote_limit.tokens = 10;
    e->remote_limit.interval_ms = 60000;
    uint16_t first_id = 0;
    if (rng_bytes(&first_id, sizeof(first_id)) != 0) {
        first_id = (uint16_t)getpid();
    }
    e->next_associd = (uint16_t)(first_id & 0x7fff);
    sys_event(e, CTL_SEV_RESTART);
    e->nworkers = (unsigned)conf->workers;
    if (e->nworkers > 1 && !udp_steer_available()) {
        /* Per-source rate limits live in each worker; without steering by source a
         * client could dodge them by changing ports. One worker keeps them whole. */
        log_msg(LOGL_WARN, "IO: this kernel cannot steer SO_REUSEPORT groups by source "
                           "address; using 1 worker instead of %u", e->nworkers);
        e->nworkers = 1;
    }
    e->precision = clk_measure_precision(clk);
    refresh_state(e);
    snapshot_init(&e->snap, &e->sys);

    unsigned per = e->nworkers > 0 ? e->nworkers : 1;
    for (unsigned l = 0; l < conf->n_listen; l++) {
        const struct conf_listen *li = &conf->listen[l];
        struct net_addr a = li->addr;
        if (li->wildcard) {
            a.family = NET_NONE;
        }
        if (e->nworkers > 0) {
            /* SO_REUSEPORT would let a second daemon (or any socket of the same user) join
             * the group silently and take part of the traffic: bind once without it first,
             * so an address in use is an error, as it is with workers 0. */
            int probe = udp_open_server(&a, li->addr.family, li->port, 0, err, errlen);
            if (probe < 0) {
                engine_free(e);
                return NULL;
            }
            close(probe);
        }
        for (unsigned k = 0; k < per; k++) {
            int fd = udp_open_server(&a, li->addr.family, li->port,
                                     e->nworkers > 0 ? UDP_REUSEPORT : 0, err, errlen);
            if (fd < 0) {
                engine_free(e);
                return NULL;
            }
            e->fds[e->nfds++] = fd;
        }
        if (e->nworkers > 1 &&
            udp_steer_by_source(e->fds[e->nfds - per], li->addr.family, per) != 0) {
            snprintf(err, errlen, "cannot steer %s by source address: %s",
                     udp_describe(li->wildcard ? NULL : &li->addr, li->addr.family, li->port,
                                  (char[80]){ 0 }, 80), strerror(errno));
            engine_free(e);
            return NULL;
        }
        char desc[80];
        log_msg(LOGL_NOTICE, "IO: listening on %s",
                udp_describe(li->wildcard ? NULL : &li->addr, li->addr.family, li->port, desc,
                             sizeof(desc)));
    }
    /* Bound now, while privileges last; served from engine_run, after daemonising. */
    if (conf->http.enabled &&
        (e->http = http_open(&conf->http.addr, conf->http.port, err, errlen)) == NULL) {
        engine_free(e);
        return NULL;
    }
    if (conf->n_sources > 0) {
        setup_sources(e);
    }
    /* The administration socket: a configured one must open; the default is tried (a
     * daemon without root, or a second one on this machine, goes without it). */
    if (strcmp(conf->control_socket, "none") != 0) {
        bool dflt = conf->control_socket[0] == '\0';
        const char *path = dflt ? ADMIN_DEFAULT_PATH : conf->control_socket;
        char aerr[512];
        e->admin = admin_open(path, conf->control_group, admin_exec, e, aerr, sizeof(aerr));
        if (e->admin == NULL && !dflt) {
            snprintf(err, errlen, "%s", aerr);
            engine_free(e);
            return NULL;
        }
        if (e->admin == NULL) {
            log_msg(LOGL_NOTICE, "IO: no administration socket: %s", aerr);
        } else {
            log_msg(LOGL_NOTICE, "IO: administration socket %s", path);
        }
    }
    return e;
}

/* Peer events from what changed since the last look: reachable, unreachable, system
 * peer. */
static void peer_events(struct engine *e)
{
    for (unsigned k = 0; e->syncing && k < e->sync.n; k++) {
        if (!sync_active(&e->sync, k)) {
            continue;
        }
        uint8_t reach = assoc_reach(&e->sync.src[k].as);
        if (reach != 0 && e->src[k].last_reach == 0) {
            peer_event(e, k, CTL_PEV_REACH);
        } else if (reach == 0 && e->src[k].last_reach != 0) {
            peer_event(e, k, CTL_PEV_UNREACH);
        }
        e->src[k].last_reach = reach;
        int sel = (int)e->sync.src[k].sel;
        if (sel == SYNC_SEL_SYSPEER && e->src[k].last_sel != SYNC_SEL_SYSPEER) {
            peer_event(e, k, CTL_PEV_SYSPEER);
        }
        e->src[k].last_sel = sel;
    }
}

static unsigned server_ctxs(struct engine *e, struct server_ctx **ctxs, unsigned max)
{
    unsigned n = 0;
    if (e->plain_ready && n < max) {
        ctxs[n++] = &e->plain;
    }
    for (unsigned i = 0; i < e->nworkers && n < max; i++) {
        if (e->workers[i] != NULL) {
            ctxs[n++] = worker_ctx(e->workers[i]);
        }
    }
    return n;
}

static unsigned status_tables(void *arg, const struct rl_table **out, unsigned max)
{
    struct engine *e = arg;
    struct server_ctx *ctxs[CONF_MAX_WORKERS + 1];
    unsigned n = server_ctxs(e, ctxs, CONF_MAX_WORKERS + 1);
    unsigned m = 0;
    for (unsigned i = 0; i < n && m < max; i++) {
        if (ctxs[i]->rl != NULL) {
            out[m++] = ctxs[i]->rl;
        }
    }
    return m;
}

static void sockaddr_text(const struct sockaddr_storage *ss, socklen_t len, char *host,
                          size_t hsize, uint16_t *port)
{
    char serv[16];
    if (getnameinfo((const struct sockaddr *)ss, len, host, (socklen_t)hsize, serv,
                    sizeof(serv), NI_NUMERICHOST | NI_NUMERICSERV) != 0) {
        snprintf(host, hsize, "%s", "");
        *port = 0;
        return;
    }
    *port = (uint16_t)atoi(serv);
}

static const char *why_not(const struct sync *s, unsigned k)
{
    const struct sync_source *b = &s->src[k];
    switch (b->sel) {
    case SYNC_SEL_SYSPEER:
        return NULL;
    case SYNC_SEL_SURVIVOR:
        return "candidate: agrees, combined, not the nearest";
    case SYNC_SEL_OUTLIER:
        return "outlier: removed by clustering";
    case SYNC_SEL_FALSETICKER:
        return "falseticker: outside the intersection of the agreeing sources";
    case SYNC_SEL_NONE:
        break;
    }
    if ((b->as.cfg.flags & ASSOC_CFG_NOSELECT) != 0) {
        return "noselect";
    }
    if (assoc_unreachable(&b->as)) {
        return b->as.polled ? "unreachable" : "not polled yet";
    }
    if (b->as.stratum >= 15) {
        return "stratum 15 or above (unsynchronized)";
    }
    if (!b->have) {
        return "no usable sample yet";
    }
    return "not selected yet";
}

static uint16_t flash_of(enum assoc_result r)
{
    switch (r) {
    case ASSOC_DUPLICATE:
        return 0x0001;
    case ASSOC_BOGUS:
    case ASSOC_UNSOLICITED:
        return 0x0002;
    case ASSOC_BADTIME:
    case ASSOC_FORMAT:
        return 0x0004;
    case ASSOC_UNSYNC:
    case ASSOC_KOD:
        return 0x0020;
    case ASSOC_DISTANCE:
        return 0x0040;
    case ASSOC_LOOP:
        return 0x0800;
    default:
        return 0;
    }
}

/* The least minpoll of the sources (ntpq's mintc; the time constant without a system
 * peer), 0 without sources. */
static int least_minpoll(const struct engine *e)
{
    int m = -1;
    for (unsigned k = 0; e->syncing && k < e->sync.n; k++) {
        if (sync_active(&e->sync, k) && (m < 0 || e->sync.src[k].as.cfg.minpoll < m)) {
            m = e->sync.src[k].as.cfg.minpoll;
        }
    }
    return m < 0 ? 0 : m;
}

static void fill_peer(struct engine *e, unsigned k, double now, struct status_peer *p)
{
    const struct sync_source *b = &e->sync.src[k];
    const struct assoc *a = &b->as;
    const struct conf_source *cs = &e->conf->sources[e->src[k].origin];
    memset(p, 0, sizeof(*p));
    p->associd = e->src[k].associd;
    snprintf(p->host, sizeof(p->host), "%s", cs->host);
    sockaddr_text(&e->src[k].addr, e->src[k].len, p->srcadr, sizeof(p->srcadr), &p->srcport);
    if (e->src[k].fd != PLAT_NO_SOCK) {
        struct sockaddr_storage me;
        socklen_t ml = sizeof(me);
        if (getsockname(e->src[k].fd, (struct sockaddr *)&me, &ml) == 0) {
            sockaddr_text(&me, ml, p->dstadr, sizeof(p->dstadr), &p->dstport);
        }
    }
    p->pool = cs->kind == CONF_SRC_POOL;
    p->hmode = 3;
    const struct assoc_counters *c = assoc_counters(a);
    p->cnt = *c;
    p->pmode = c->received > 0 ? 4 : 0;
    p->leap = a->leap;
    p->stratum = a->stratum;
    p->refid = a->refid;
    p->precision = b->precision;
    p->reftime = b->reftime;
    p->rec = b->rec;
    p->xmt = a->t1;
    p->hpoll = assoc_poll(a);
    p->ppoll = a->ppoll;
    p->minpoll = a->cfg.minpoll;
    p->maxpoll = a->cfg.maxpoll;
    p->reach = assoc_reach(a);
    p->unreach = a->unreach;
    p->rootdelay = b->root_delay;
    p->rootdisp = b->root_disp;
    p->since_rec = b->have ? now - b->last.t : -1.0;
    p->next_poll = assoc_next_due(a) - now;
    p->have_sample = b->have;
    if (b->have) {
        p->offset = b->last.offset;
        p->delay = b->last.delay;
        p->dispersion = b->last.dispersion;
        p->jitter = b->last.jitter;
        p->rootdist = (b->root_delay + b->last.delay) / 2.0 + b->root_disp + b->last.dispersion;
    }
    for (unsigned i = 0; i < FILTER_NSTAGE; i++) {
        const struct filter_stage *st =
            &b->f.reg[(b->f.next + FILTER_NSTAGE - 1 - i) % FILTER_NSTAGE];
        if (st->valid && p->n_filt < 8) {
            p->filt_offset[p->n_filt] = st->offset;
            p->filt_delay[p->n_filt] = st->delay;
            p->filt_disp[p->n_filt] = st->dispersion + FILTER_PHI * (now - st->t);
            p->n_filt++;
        }
    }
    p->flash = flash_of(e->src[k].last_res);
    static const enum ctl_sel sel_of[] = {
        [SYNC_SEL_NONE] = CTL_SEL_REJECT,       [SYNC_SEL_FALSETICKER] = CTL_SEL_FALSETICK,
        [SYNC_SEL_OUTLIER] = CTL_SEL_OUTLIER,   [SYNC_SEL_SURVIVOR] = CTL_SEL_CANDIDATE,
        [SYNC_SEL_SYSPEER] = CTL_SEL_SYSPEER,
    };
    p->sel = sel_of[b->sel];
    p->why = why_not(&e->sync, k);
    p->prefer = (a->cfg.flags & ASSOC_CFG_PREFER) != 0;
    p->noselect = (a->cfg.flags & ASSOC_CFG_NOSELECT) != 0;
    p->truechimer = b->truechimer;
    p->sys_peer = e->sync.sys_peer == (int)k;
    uint8_t fl = (uint8_t)((p->pool ? 0u : CTL_PST_CONFIG) | (p->reach != 0 ? CTL_PST_REACH : 0u));
    p->status = ctl_peer_status(fl, p->sel, e->src[k].events, e->src[k].event);
}

/* The daemon's state now, for the control protocol and the metrics. */
static void fill_status(void *arg, struct status *st)
{
    struct engine *e = arg;
    struct status_sys *s = &st->sys;
    int64_t now_ms = mono_ms();
    double now = (double)now_ms / 1000.0;
    memset(s, 0, sizeof(*s));
    s->leap = e->sys.leap;
    s->stratum = e->sys.stratum;
    s->precision = e->precision;
    s->refid = e->sys.refid;
    s->reftime = e->sys.ref_time;
    s->rootdelay = e->sys.root_delay;
    s->clock = clock_ts(e);
    s->rootdisp = e->sys.root_disp;
    if (e->sys.ref_time != 0 && e->sys.leap != PKT_LEAP_UNSYNC) {
        double age = ntp_ts_diff(s->clock, e->sys.ref_time);
        s->rootdisp += age > 0.0 ? SRV_PHI * age : 0.0;
    }
    bool upstream = e->syncing && e->sys.leap != PKT_LEAP_UNSYNC && e->sync.synced &&
                    e->sync.sys_peer >= 0 && e->sys.refid != ntp_refid_from_ascii("LOCL");
    s->synced = upstream;
    s->state = e->syncing && e->sync.panicked          ? "panic"
               : upstream                              ? "synchronized"
               : e->sys.leap != PKT_LEAP_UNSYNC        ? "local clock"
                                                       : "unsynchronized";
    s->mintc = 0;
    if (e->syncing) {
        struct discipline_status d;
        discipline_get_status(&e->sync.disc, &d);
        s->offset = e->last_offset;
        s->frequency = d.freq_ppm;
        s->freq_applied = d.freq_applied_ppm;
        s->clk_wander = d.skew_ppm;
        s->sys_jitter = d.noise;
        s->clk_jitter = d.offset_err;
        s->stepped = d.stepped;
        s->panicked = e->sync.panicked;
        s->mintc = least_minpoll(e);
        s->tc = s->mintc;
        if (upstream) {
            unsigned k = (unsigned)e->sync.sys_peer;
            s->peer = e->src[k].associd;
            s->tc = assoc_poll(&e->sync.src[k].as);
            char host[64];
            uint16_t port;
            sockaddr_text(&e->src[k].addr, e->src[k].len, host, sizeof(host), &port);
            snprintf(s->peeradr, sizeof(s->peeradr),
                     strchr(host, ':') != NULL ? "[%s]:%u" : "%s:%u",
                     host, (unsigned)port);
        }
        for (unsigned k = 0; k < e->sync.n && s->n_peers < STATUS_MAX_PEERS; k++) {
            if (sync_active(&e->sync, k)) {
                fill_peer(e, k, now, &st->peer[s->n_peers++]);
            }
        }
    }
    s->status = ctl_sys_status(s->leap,
                               upstream                           ? CTL_SST_NTP
                               : e->sys.leap != PKT_LEAP_UNSYNC   ? CTL_SST_LOCAL
                                                                  : CTL_SST_UNSPEC,
                               e->sys_events, e->sys_event);
    s->uptime = (double)(now_ms - e->start_ms) / 1000.0;
    struct clk_stats cs;
    clk_get_stats(e->clk, &cs);
    s->clock_kind = clk_name(e->clk);
    s->clock_steps = (unsigned)cs.steps;
    s->clock_slews = cs.slews;
    s->clock_last_step = cs.last_step;
    s->clock_total_adjust = cs.total_adjust;
    struct server_ctx *ctxs[CONF_MAX_WORKERS + 1];
    unsigned n = server_ctxs(e, ctxs, CONF_MAX_WORKERS + 1);
    for (unsigned i = 0; i < CNT_COUNT; i++) {
        s->cnt[i] = server_counter_sum(ctxs, n, i);
    }
    memcpy(s->cnt_reset, e->cnt_reset, sizeof(s->cnt_reset));
    s->reset_age = (double)(now_ms - e->reset_ms) / 1000.0;
    for (unsigned i = 0; i < n; i++) {
        if (ctxs[i]->rl != NULL) {
            s->clients += rl_used(ctxs[i]->rl);
            s->client_slots += rl_capacity(ctxs[i]->rl);
        }
    }
}

/* About once a second, a fresh status for the other threads. */
static void publish_status(struct engine *e, int64_t now_ms)
{
    if (!e->publish || now_ms < e->next_publish) {
        return;
    }
    fill_status(e, &e->pub);
    status_box_put(&e->box, &e->pub);
    e->next_publish = now_ms + 1000;
}

/* ---- statistics files (daemon/stats): the values ntpq shows, at this clock's time -- */

static int64_t uptime_s(const struct engine *e)
{
    return (mono_ms() - e->start_ms) / 1000;
}

/* loopstats, after a clock update: its offset and the discipline's frequency, clock
 * jitter and wander (ntpq's offset, frequency, clk_jitter, clk_wander), and the system
 * poll as the time constant. */
static void record_loop(struct engine *e, const struct sync_action *a)
{
    if (!stats_wants(&e->stats, STATS_LOOP)) {
        return;
    }
    struct discipline_status d;
    discipline_get_status(&e->sync.disc, &d);
    int tc = e->sync.sys_peer >= 0 ? assoc_poll(&e->sync.src[e->sync.sys_peer].as)
                                   : least_minpoll(e);
    struct stats_loop v = { .offset = a->offset, .freq_ppm = d.freq_ppm,
                            .jitter = d.offset_err, .wander_ppm = d.skew_ppm, .tc = tc };
    struct timespec now;
    clk_now(e->clk, &now);
    stats_write_loop(&e->stats, &now, uptime_s(e), &v);
}

/* peerstats, after a sample of source k was accepted: what ntpq shows for it. */
static void record_peer(struct engine *e, unsigned k)
{
    if (!stats_wants(&e->stats, STATS_PEER)) {
        return;
    }
    struct status_peer p;
    fill_peer(e, k, (double)mono_ms() / 1000.0, &p);
    struct stats_peer v = { .status = p.status, .offset = p.offset, .delay = p.delay,
                            .dispersion = p.dispersion, .jitter = p.jitter };
    snprintf(v.addr, sizeof(v.addr), "%s", p.srcadr);
    struct timespec now;
    clk_now(e->clk, &now);
    stats_write_peer(&e->stats, &now, uptime_s(e), &v);
}

/* sysstats, hourly: the counters since the last reset, in ntpd's order. */
static void record_sys(struct engine *e, int64_t now_ms)
{
    if (!stats_wants(&e->stats, STATS_SYS)) {
        return;
    }
    struct server_ctx *ctxs[CONF_MAX_WORKERS + 1];
    unsigned n = server_ctxs(e, ctxs, CONF_MAX_WORKERS + 1);
#define SINCE(i) (server_counter_sum(ctxs, n, (i)) - e->cnt_reset[(i)])
    struct stats_sys v = {
        .since_reset_s = (uint64_t)((now_ms - e->reset_ms) / 1000),
        .received = SINCE(CNT_RECEIVED),     .processed = SINCE(CNT_PROCESSED),
        .thisver = SINCE(CNT_THISVER),       .oldver = SINCE(CNT_OLDVER),
        .restricted = SINCE(CNT_RESTRICTED), .badformat = SINCE(CNT_BADFORMAT),
        .badauth = SINCE(CNT_BADAUTH),       .declined = SINCE(CNT_DECLINED),
        .limited = SINCE(CNT_LIMITED),       .kodsent = SINCE(CNT_KODSENT),
        .v1 = SINCE(CNT_VERSION_FIRST + 1),
    };
#undef SINCE
    struct timespec now;
    clk_now(e->clk, &now);
    stats_write_sys(&e->stats, &now, uptime_s(e), &v);
}

/* Every hour the "since reset" counters start again (ntpq sysstats, ntpd's sysstats). */
static void hourly_reset(struct engine *e, int64_t now_ms)
{
    if (now_ms - e->reset_ms < 3600 * 1000) {
        return;
    }
    record_sys(e, now_ms);
    struct server_ctx *ctxs[CONF_MAX_WORKERS + 1];
    unsigned n = server_ctxs(e, ctxs, CONF_MAX_WORKERS + 1);
    for (unsigned i = 0; i < CNT_COUNT; i++) {
        e->cnt_reset[i] = server_counter_sum(ctxs, n, i);
    }
    e->reset_ms = now_ms;
}

/* One control request: the reply datagrams leave from the socket and address the
 * request came to. */
static void control_sink(void *arg, const struct ctl_fwd *f)
{
    struct engine *e = arg;
    static struct control_out out; /* engine thread only */
    struct net_addr src;
    uint16_t port;
    if (e->control == NULL || udp_sockaddr_to_net(&f->from, &src, &port) != 0) {
        return;
    }
    if (control_respond(e->control, f->buf, f->len, &src, port, mono_ms(), clock_ts(e), &out) !=
        CONTROL_ANSWERED) {
        return;
    }
    uint8_t ctl[UDP_CMSG_SPACE];
    for (unsigned i = 0; i < out.n; i++) {
        struct iovec iov = {.iov_base = out.dgram[i], .iov_len = out.len[i]};
        struct msghdr m;
        memset(&m, 0, sizeof(m));
        m.msg_name = (void *)&f->from;
        m.msg_namelen = f->fromlen;
        m.msg_iov = &iov;
        m.msg_iovlen = 1;
        m.msg_controllen = udp_reply_cmsgs(&f->info, ctl, sizeof(ctl));
        m.msg_control = m.msg_controllen > 0 ? ctl : NULL;
        if (sendmsg(f->fd, &m, 0) < 0 && log_limit_pass(&e->io_limit, mono_ms())) {
            log_msg(LOGL_WARN, "IO: control reply: %s", strerror(errno));
            break;
        }
    }
}

/* Control requests the workers queued. */
static void control_readable(struct engine *e)
{
    static struct ctl_fwd f; /* engine thread only */
    for (int n = 0; n < 64; n++) {
        ssize_t r = recv(e->ctl_pair[0], &f, sizeof(f), MSG_DONTWAIT);
        if (r < (ssize_t)offsetof(struct ctl_fwd, buf) ||
            (size_t)r != offsetof(struct ctl_fwd, buf) + f.len) {
            return;
        }
        control_sink(e, &f);
    }
}

static void log_counters(struct engine *e)
{
    struct server_ctx *ctxs[CONF_MAX_WORKERS + 1];
    unsigned n = 0;
    char line[4096];
    size_t len = 0;

    if (e->plain_ready) {
        ctxs[n++] = &e->plain;
    }
    for (unsigned i = 0; i < e->nworkers; i++) {
        if (e->workers[i] != NULL) {
            ctxs[n++] = worker_ctx(e->workers[i]);
        }
    }
    len += (size_t)snprintf(line, sizeof(line), "ss_uptime=%lld",
                            (long long)((mono_ms() - e->start_ms) / 1000));
    for (unsigned i = 0; i < CNT_COUNT && len < sizeof(line) - 64; i++) {
        char name[48];
        uint64_t v = server_counter_sum(ctxs, n, i);
        /* The ss_ ones always, the detailed ones when non-zero. */
        if (i >= CNT_MODE_FIRST && v == 0) {
            continue;
        }
        len += (size_t)snprintf(line + len, sizeof(line) - len, " %s=%llu",
                                server_counter_name(i, name, sizeof(name)),
                                (unsigned long long)v);
    }
    log_msg(LOGL_NOTICE, "PROTO: counters %s", line);
    if (e->control != NULL) {
        const struct control_counters *cc = control_counters(e->control);
        log_msg(LOGL_NOTICE, "PROTO: control requests=%llu malformed=%llu bad_nonce=%llu "
                             "rate_limited=%llu errors=%llu datagrams=%llu",
                (unsigned long long)cc->requests,
                (unsigned long long)cc->by_drop[CONTROL_DROP_MALFORMED],
                (unsigned long long)cc->by_drop[CONTROL_DROP_NONCE],
                (unsigned long long)cc->by_drop[CONTROL_DROP_RATE],
                (unsigned long long)cc->errors, (unsigned long long)cc->datagrams);
    }
    for (unsigned k = 0; e->syncing && k < e->sync.n; k++) {
        if (!sync_active(&e->sync, k)) {
            continue;
        }
        const struct assoc *a = &e->sync.src[k].as;
        const struct assoc_counters *c = assoc_counters(a);
        log_msg(LOGL_NOTICE, "PROTO: source %s reach %03o poll %d stratum %u%s%s sent=%llu "
                             "received=%llu processed=%llu badformat=%llu bogusorg=%llu "
                             "oldpkt=%llu badtime=%llu kod_rx=%llu unsync=%llu distance=%llu "
                             "loop=%llu",
                e->src[k].name, (unsigned)assoc_reach(a), (int)assoc_poll(a),
                (unsigned)a->stratum, e->sync.sys_peer == (int)k ? " sys_peer" : "",
                e->sync.src[k].truechimer ? " truechimer" : "",
                (unsigned long long)c->sent, (unsigned long long)c->received,
                (unsigned long long)c->processed, (unsigned long long)c->badformat,
                (unsigned long long)c->bogusorg, (unsigned long long)c->oldpkt,
                (unsigned long long)c->badtime, (unsigned long long)c->kod_rx,
                (unsigned long long)c->unsync, (unsigned long long)c->distance,
                (unsigned long long)c->loop);
    }
}

static int start_workers(struct engine *e)
{
    unsigned nl = e->conf->n_listen;
    if (pipe(e->stop_pipe) != 0) {
        log_msg(LOGL_ERR, "IO: pipe: %s", strerror(errno));
        return -1;
    }
    /* Control requests from the workers to the engine: datagrams keep their bounds. */
    if (e->ctl_pair[0] < 0 &&
        (socketpair(AF_UNIX, SOCK_DGRAM, 0, e->ctl_pair) != 0 ||
         set_nonblock(e->ctl_pair[0]) != 0 || set_nonblock(e->ctl_pair[1]) != 0)) {
        log_msg(LOGL_ERR, "IO: socketpair: %s", strerror(errno));
        return -1;
    }
    for (unsigned w = 0; w < e->nworkers; w++) {
        if (e->workers[w] != NULL) {
            /* A restart (reload): same worker, same client list, a new stop pipe. */
            worker_set_stop_fd(e->workers[w], e->stop_pipe[0]);
            if (worker_start(e->workers[w]) != 0) {
                log_msg(LOGL_ERR, "IO: cannot restart worker %u", w);
                return -1;
            }
            continue;
        }
        int fds[CONF_MAX_LISTEN];
        for (unsigned l = 0; l < nl; l++) {
            fds[l] = e->fds[l * e->nworkers + w];
        }
        e->workers[w] = worker_new((int)w, fds, nl, e->stop_pipe[0], e->ctl_pair[1], e->clk,
                                   &e->snap, &e->conf->acl, &e->conf->rl, e->conf->rl_entries,
                                   e->precision, e->conf->monitor);
        if (e->workers[w] == NULL || worker_start(e->workers[w]) != 0) {
            log_msg(LOGL_ERR, "IO: cannot start worker %u", w);
            worker_free(e->workers[w]);
            e->workers[w] = NULL;
            return -1;
        }
    }
    return 0;
}

static void stop_workers(struct engine *e)
{
    if (e->stop_pipe[1] >= 0) {
        close(e->stop_pipe[1]);     /* hang-up wakes every worker's poll */
        e->stop_pipe[1] = -1;
    }
    for (unsigned w = 0; w < e->nworkers; w++) {
        if (e->workers[w] != NULL) {
            worker_join(e->workers[w]);
        }
    }
}


/* -q: the first accepted measurement is corrected once, as `stratum sync` does (step above
 * the step threshold, else a one-shot slew), and the daemon exits. */
static void apply_once(struct engine *e, const struct sync_action *a, const char *from)
{
    char err[256];
    double off = a->kind == SYNC_ACT_STEP ? a->step : a->offset;
    bool step = a->kind == SYNC_ACT_STEP;
    int r = step ? clk_step(e->clk, off, err, sizeof(err))
                 : clk_slew_once(e->clk, off, err, sizeof(err));
    if (r != 0) {
        log_msg(LOGL_ERR, "CLOCK: cannot %s by %+.6f s: %s", step ? "step" : "slew", off, err);
        e->exit_status = 1;
    } else {
        log_msg(LOGL_NOTICE, "CLOCK: %s by %+.6f s, from %s; exiting after the first "
                             "synchronization (-q)", step ? "stepped" : "slewing", off, from);
    }
    e->stop = true;
}

/* Carries out what the sync engine decided, on the clock backend. */
static void apply(struct engine *e, const struct sync_action *a, const char *from)
{
    char err[256];
    if (e->conf->once && (a->kind == SYNC_ACT_STEP || a->kind == SYNC_ACT_FREQ)) {
        apply_once(e, a, from);
        return;
    }
    if (a->kind == SYNC_ACT_FREQ || a->kind == SYNC_ACT_STEP) {
        e->last_offset = a->offset;
    }
    switch (a->kind) {
    case SYNC_ACT_NONE:
        return;
    case SYNC_ACT_STEP_LIMIT:
        log_msg(LOGL_WARN, "CLOCK: step of %+.6f s from %s refused: the steps would pass "
                           "tinker steplimit %g s",
                a->step, from, e->sync.cfg.disc.step_limit);
        return;
    case SYNC_ACT_PANIC:
        log_msg(LOGL_ERR, "CLOCK: panic: offset %+.6f s from %s is beyond the panic "
                          "threshold (%g s); refusing to adjust the clock (start with -g to "
                          "allow a first correction of any size)",
                a->offset, from, e->sync.cfg.disc.panic_threshold);
        sys_event(e, CTL_SEV_PANIC);
        e->exit_status = 1;
        e->stop = true;
        return;
    case SYNC_ACT_STEP:
        if (clk_step(e->clk, a->step, err, sizeof(err)) != 0) {
            /* The engine already counts the step as done: going on would chase an offset
             * the clock never lost. Stop, as a panic does. */
            log_msg(LOGL_ERR, "CLOCK: cannot step by %+.6f s: %s; exiting", a->step, err);
            e->exit_status = 1;
            e->stop = true;
            return;
        } else {
            log_msg(LOGL_NOTICE, "CLOCK: stepped by %+.6f s (threshold %g s), from %s",
                    a->step, e->sync.cfg.disc.step_threshold, from);
            sys_event(e, CTL_SEV_STEP);
            if (e->control != NULL) {
                control_set_epoch(e->control, mono_ms(), clock_ts(e));
            }
        }
        break;
    case SYNC_ACT_FREQ:
        break;
    }
    if (clk_set_freq(e->clk, a->freq_ppm, err, sizeof(err)) != 0) {
        if (!e->freq_warned) {
            log_msg(LOGL_WARN, "CLOCK: cannot set the frequency to %+.3f ppm: %s",
                    a->freq_ppm, err);
            e->freq_warned = true;
        }
    } else {
        log_msg(LOGL_DEBUG, "CLOCK: offset %+.9f s, frequency %+.3f ppm (from %s)",
                a->offset, a->freq_ppm, from);
    }
    refresh_state(e);
}

/* A reply (or anything) on source k's request socket. */
static void source_readable(struct engine *e, unsigned k)
{
    uint8_t buf[2048];
    for (int n = 0; n < 8; n++) {
        size_t len = 0;
        bool trunc = false, have_ts = false;
        struct timespec kts;
        enum plat_recv_status st = plat_recv(e->src[k].fd, buf, sizeof(buf), &len, &trunc,
                                             &have_ts, &kts);
        if (st != PLAT_RECV_OK) {
            return;
        }
        ntp_ts_t t4;
        if (have_ts) {
            struct timespec local;
            clk_from_system(e->clk, &kts, &local);
            t4 = ntp_ts_from_timespec(&local);
        } else {
            t4 = clock_ts(e);
        }
        if (trunc) {
            continue;
        }
        enum assoc_result res;
        ntp_ts_t rec_before = e->sync.src[k].rec;
        struct sync_action a = sync_receive(&e->sync, k, (double)mono_ms() / 1000.0, buf, len,
                                            t4, &res);
        /* The filter took the sample (sync_receive notes its arrival only then). */
        bool sample = res == ASSOC_OK && e->sync.src[k].have && e->sync.src[k].rec == t4 &&
                      rec_before != t4;
        e->src[k].last_res = res;
        if (res == ASSOC_KOD) {
            enum ntp_kiss kiss = e->sync.src[k].as.last_kiss;
            peer_event(e, k, kiss == NTP_KISS_RATE ? CTL_PEV_RATE : CTL_PEV_DENY);
            if (log_limit_pass(&e->remote_limit, mono_ms())) {
                log_msg(LOGL_NOTICE, "PROTO: %s: kiss-o'-death %s", e->src[k].name,
                        ntp_kiss_name(kiss));
            }
        } else if (res != ASSOC_OK) {
            log_msg(LOGL_DEBUG, "PROTO: %s: reply refused: %s", e->src[k].name,
                    assoc_result_name(res));
        }
        apply(e, &a, e->src[k].name);
        peer_events(e);
        if (sample) {
            record_peer(e, k);
        }
        if (a.kind == SYNC_ACT_FREQ || a.kind == SYNC_ACT_STEP) {
            record_loop(e, &a);
        }
        if (e->stop) {
            return;
        }
    }
}

/* Writes the frequency estimate to the drift file (atomically), once the discipline has
 * an estimate of its own. Returns whether it did, and in why what happened. */
static bool save_drift_now(struct engine *e, char *why, size_t size)
{
    char err[256];
    /* clock none: the frequency is that of a virtual clock over an already disciplined
     * system clock; it must not overwrite a real drift file. */
    if (e->conf->driftfile[0] == '\0') {
        snprintf(why, size, "no driftfile configured");
        return false;
    }
    if (e->conf->clock == CLK_NONE) {
        snprintf(why, size, "clock none: the frequency is not the system clock's");
        return false;
    }
    if (!e->syncing || e->sync.disc.updates < 4) {
        snprintf(why, size, "no frequency estimate yet (fewer than 4 updates)");
        return false;
    }
    if (driftfile_write(e->conf->driftfile, sync_freq_ppm(&e->sync), sync_skew_ppm(&e->sync),
                        err, sizeof(err)) != 0) {
        log_msg(LOGL_WARN, "CLOCK: %s", err);
        snprintf(why, size, "%s", err);
        return false;
    }
    snprintf(why, size, "wrote %+.3f ppm to %.200s", sync_freq_ppm(&e->sync),
             e->conf->driftfile);
    return true;
}

static void save_drift(struct engine *e)
{
    char why[256];
    (void)save_drift_now(e, why, sizeof(why));
}

/* Requests that are due, and the discipline's deadline. */
static void sync_timers(struct engine *e)
{
    double now = (double)mono_ms() / 1000.0;
    maintain_sources(e, now);
    struct sync_action a = sync_tick(&e->sync, now);
    apply(e, &a, "the discipline");
    peer_events(e);
    for (unsigned k = 0; k < e->sync.n && !e->stop; k++) {
        uint8_t req[PKT_HEADER_LEN];
        uint64_t nonce;
        if (!sync_active(&e->sync, k) || !assoc_due(&e->sync.src[k].as, now)) {
            continue;
        }
        if (rng_bytes(&nonce, sizeof(nonce)) != 0) {
            nonce = rng_fast_u64(&e->rng);
        }
        /* RFC 9109: a fresh socket, so a fresh random source port, for every request; a
         * late reply to the previous one is dropped with its socket. */
        if (e->src[k].fd != PLAT_NO_SOCK) {
            plat_close(e->src[k].fd);
        }
        char err[160];
        e->src[k].fd = plat_udp_client((const struct sockaddr *)&e->src[k].addr, e->src[k].len,
                                       err, sizeof(err));
        /* t1 as late as possible: right before the send. The poll is used up even when
         * the socket or the send failed (no network yet): it counts as unanswered, and
         * the schedule moves on instead of retrying at once. */
        size_t n = sync_request(&e->sync, k, now, nonce, clock_ts(e), req, sizeof(req));
        if (e->src[k].fd == PLAT_NO_SOCK) {
            if (log_limit_pass(&e->io_limit, mono_ms())) {
                log_msg(LOGL_WARN, "IO: %s: %s", e->src[k].name, err);
            }
            continue;
        }
        if (n > 0 && plat_send(e->src[k].fd, req, n) != 0 &&
            log_limit_pass(&e->io_limit, mono_ms())) {
            log_msg(LOGL_WARN, "IO: %s: send: %s", e->src[k].name, plat_error_text());
        }
    }
}

int engine_run(struct engine *e)
{
    struct sigaction sa;
    int status = 0;

    e->start_ms = mono_ms();
    e->reset_ms = e->start_ms;
    uint8_t key[16];
    if (rng_bytes(key, sizeof(key)) != 0) {
        log_msg(LOGL_ERR, "IO: no randomness for the control protocol's nonces");
        return 1;
    }
    struct control_env env = {.status = fill_status, .tables = status_tables, .arg = e};
    e->control = control_new(&e->conf->acl, &env, key, e->start_ms, clock_ts(e));
    if (e->control == NULL) {
        log_msg(LOGL_ERR, "IO: out of memory");
        return 1;
    }
    if (pipe(sig_pipe) != 0 || set_nonblock(sig_pipe[0]) != 0 || set_nonblock(sig_pipe[1]) != 0) {
        log_msg(LOGL_ERR, "IO: pipe: %s", strerror(errno));
        return 1;
    }
    memset(&sa, 0, sizeof(sa));
    sa.sa_handler = on_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    sigaction(SIGTERM, &sa, NULL);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGHUP, &sa, NULL);
    sigaction(SIGUSR1, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);

    if (e->nworkers > 0) {
        if (start_workers(e) != 0) {
            stop_workers(e);
            return 1;
        }
    } else {
        if (server_ctx_init(&e->plain, &e->conf->acl, &e->conf->rl, e->conf->rl_entries,
                            e->precision, e->conf->monitor) != 0) {
            log_msg(LOGL_ERR, "IO: cannot set up the server");
            return 1;
        }
        e->plain_ready = true;
    }
    if (e->http != NULL) {
        /* The listener reads only what is published: publish before it starts. */
        e->publish = true;
        publish_status(e, mono_ms());
        if (http_start(e->http, &e->box) != 0) {
            stop_workers(e);
            return 1;
        }
    }
    log_msg(LOGL_NOTICE, "PROTO: ready: serving %s, stratum %d, precision %d, %u worker%s, "
                         "clock %s",
            e->sys.leap == PKT_LEAP_UNSYNC ? "unsynchronized" : "from the local clock",
            e->sys.stratum, e->precision, e->nworkers, e->nworkers == 1 ? "" : "s",
            clk_name(e->clk));

    struct pollfd pfd[CONF_MAX_LISTEN + 3 + SYNC_MAX_SOURCES + ADMIN_MAX_CONN + 1];
    int64_t next_refresh = mono_ms() + LOCAL_REFRESH_MS;
    int64_t next_drift = mono_ms() + DRIFT_INTERVAL_MS;
    bool running = true;
    while (running && !e->stop) {
        unsigned npfd = 0, nserve;
        pfd[npfd].fd = sig_pipe[0];
        pfd[npfd++].events = POLLIN;
        if (e->nworkers == 0) {
            for (unsigned i = 0; i < e->nfds; i++) {
                pfd[npfd].fd = e->fds[i];
                pfd[npfd++].events = POLLIN;
            }
        }
        nserve = npfd;
        int ctl_slot = -1;
        if (e->ctl_pair[0] >= 0) {
            ctl_slot = (int)npfd;
            pfd[npfd].fd = e->ctl_pair[0];
            pfd[npfd++].events = POLLIN;
        }
        int src_of[SYNC_MAX_SOURCES];
        unsigned nsrc = 0;
        int res_slot = -1;
        if (e->resolver != NULL) {
            res_slot = (int)npfd;
            pfd[npfd].fd = resolver_fd(e->resolver);
            pfd[npfd++].events = POLLIN;
        }
        unsigned admin_base = npfd, nadmin = 0;
        if (e->admin != NULL) {
            int afd[ADMIN_MAX_CONN + 1];
            short aev[ADMIN_MAX_CONN + 1];
            nadmin = admin_pollfds(e->admin, afd, aev);
            for (unsigned i = 0; i < nadmin; i++) {
                pfd[npfd].fd = afd[i];
                pfd[npfd++].events = aev[i];
            }
        }
        unsigned src_base = npfd;
        for (unsigned k = 0; e->syncing && k < e->sync.n; k++) {
            if (sync_active(&e->sync, k) && e->src[k].fd != PLAT_NO_SOCK) {
                pfd[npfd].fd = e->src[k].fd;
                pfd[npfd++].events = POLLIN;
                src_of[nsrc++] = (int)k;
            }
        }
        int64_t now = mono_ms();
        int64_t wake = -1;
        if (e->admin != NULL && admin_deadline(e->admin) >= 0) {
            wake = admin_deadline(e->admin);
        }
        if ((e->conf->local_stratum > 0 || e->syncing) && (wake < 0 || next_refresh < wake)) {
            wake = next_refresh;
        }
        if (e->syncing) {
            double due = sync_next_due(&e->sync);
            if (due < 0.0 || e->next_maintenance < due) {
                due = e->next_maintenance;
            }
            int64_t due_ms = (int64_t)ceil(due * 1000.0);
            wake = wake < 0 || due_ms < wake ? due_ms : wake;
        }
        if (wake < 0 || wake > e->reset_ms + 3600 * 1000) {
            wake = e->reset_ms + 3600 * 1000;
        }
        if (e->publish && wake > e->next_publish) {
            wake = e->next_publish;
        }
        int timeout = wake > now ? (int)(wake - now) : 0;
        int r = poll(pfd, npfd, timeout);
        if (r < 0 && errno != EINTR) {
            log_msg(LOGL_ERR, "IO: poll: %s", strerror(errno));
            status = 1;
            break;
        }
        now = mono_ms();
        bool admin_ready = false;
        for (unsigned i = 0; i < nadmin; i++) {
            admin_ready = admin_ready || pfd[admin_base + i].revents != 0;
        }
        if (e->admin != NULL && (admin_ready || (admin_deadline(e->admin) >= 0 &&
                                                 now >= admin_deadline(e->admin)))) {
            admin_service(e->admin, now);
        }
        hourly_reset(e, now);
        publish_status(e, now);
        if (e->syncing) {
            if (res_slot >= 0 && pfd[res_slot].revents != 0) {
                struct resolver_result *res = malloc(sizeof(*res));
                if (res != NULL && resolver_take(e->resolver, res)) {
                    resolved(e, res);
                }
                free(res);
            }
            for (unsigned i = 0; i < nsrc; i++) {
                if (pfd[src_base + i].revents != 0 && sync_active(&e->sync, (unsigned)src_of[i])) {
                    source_readable(e, (unsigned)src_of[i]);
                }
            }
            sync_timers(e);
        }
        if (e->syncing && now >= next_drift) {
            save_drift(e);
            next_drift = now + DRIFT_INTERVAL_MS;
        }
        if ((e->conf->local_stratum > 0 || e->syncing) && now >= next_refresh) {
            refresh_state(e);
            next_refresh = now + LOCAL_REFRESH_MS;
        }
        if (r <= 0) {
            continue;
        }
        if (pfd[0].revents != 0) {
            unsigned char sig;
            while (read(sig_pipe[0], &sig, 1) == 1) {
                if (sig == SIGTERM || sig == SIGINT) {
                    log_msg(LOGL_NOTICE, "PROTO: signal %d: shutting down", sig);
                    running = false;
                } else if (sig == SIGUSR1) {
                    log_counters(e);
                } else if (sig == SIGHUP) {
                    static char hup_reply[2048];
                    hup_reply[0] = '\0';
                    reload(e, hup_reply, sizeof(hup_reply));
                }
            }
        }
        for (unsigned i = 1; i < nserve; i++) {
            if (pfd[i].revents != 0) {
                serve_plain(pfd[i].fd, &e->plain, e->clk, &e->snap, WORKER_BATCH, control_sink,
                            e);
            }
        }
        if (ctl_slot >= 0 && pfd[ctl_slot].revents != 0) {
            control_readable(e);
        }
    }
    if (e->exit_status != 0) {
        status = e->exit_status;
    } else {
        save_drift(e);
    }
    http_free(e->http);
    e->http = NULL;
    stop_workers(e);
    log_counters(e);
    return status;
}

void engine_free(struct engine *e)
{
    if (e == NULL) {
        return;
    }
    for (unsigned w = 0; w < e->nworkers; w++) {
        worker_free(e->workers[w]);
    }
    if (e->plain_ready) {
        server_ctx_free(&e->plain);
    }
    for (unsigned i = 0; i < e->nfds; i++) {
        close(e->fds[i]);
    }
    for (unsigned k = 0; e->syncing && k < e->sync.n; k++) {
        if (sync_active(&e->sync, k)) {
            plat_close(e->src[k].fd);
        }
    }
    resolver_stop(e->resolver);
    control_free(e->control);
    admin_close(e->admin);
    stats_close(&e->stats);
    http_free(e->http); /* before the box it reads goes */
    status_box_destroy(&e->box);
    for (int i = 0; i < 2; i++) {
        if (e->ctl_pair[i] >= 0) {
            close(e->ctl_pair[i]);
        }
    }
    if (e->stop_pipe[0] >= 0) {
        close(e->stop_pipe[0]);
    }
    if (e->stop_pipe[1] >= 0) {
        close(e->stop_pipe[1]);
    }
    free(e->own);
    free(e);
}
