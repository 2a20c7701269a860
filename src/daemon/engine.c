/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * engine: sockets, workers, signals, timers and the system state for serving.
 */
#include "engine.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/ntp_time.h"
#include "core/srv.h"
#include "daemon/server.h"
#include "daemon/snapshot.h"
#include "daemon/worker.h"
#include "io/log.h"
#include "io/udp.h"

/* How often the served reference time is renewed when serving from the local clock. */
#define LOCAL_REFRESH_MS 8000
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

/* The state served: the local clock at the configured stratum, or unsynchronized. */
static void refresh_state(struct engine *e)
{
    struct srv_sys *s = &e->sys;
    memset(s, 0, sizeof(*s));
    s->precision = e->precision;
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

struct engine *engine_new(const struct conf *conf, struct clk *clk, char *err, size_t errlen)
{
    struct engine *e = calloc(1, sizeof(*e));
    if (e == NULL) {
        snprintf(err, errlen, "out of memory");
        return NULL;
    }
    e->conf = conf;
    e->clk = clk;
    e->stop_pipe[0] = e->stop_pipe[1] = -1;
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
    return e;
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
}

static int start_workers(struct engine *e)
{
    unsigned nl = e->conf->n_listen;
    if (pipe(e->stop_pipe) != 0) {
        log_msg(LOGL_ERR, "IO: pipe: %s", strerror(errno));
        return -1;
    }
    for (unsigned w = 0; w < e->nworkers; w++) {
        int fds[CONF_MAX_LISTEN];
        for (unsigned l = 0; l < nl; l++) {
            fds[l] = e->fds[l * e->nworkers + w];
        }
        e->workers[w] = worker_new((int)w, fds, nl, e->stop_pipe[0], e->clk, &e->snap,
                                   &e->conf->acl, &e->conf->rl, e->conf->rl_entries,
                                   e->precision);
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

int engine_run(struct engine *e)
{
    struct sigaction sa;
    int status = 0;

    e->start_ms = mono_ms();
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
                            e->precision) != 0) {
            log_msg(LOGL_ERR, "IO: cannot set up the server");
            return 1;
        }
        e->plain_ready = true;
    }
    log_msg(LOGL_NOTICE, "PROTO: ready: serving %s, stratum %d, precision %d, %u worker%s, "
                         "clock %s",
            e->sys.leap == PKT_LEAP_UNSYNC ? "unsynchronized" : "from the local clock",
            e->sys.stratum, e->precision, e->nworkers, e->nworkers == 1 ? "" : "s",
            clk_name(e->clk));

    struct pollfd pfd[CONF_MAX_LISTEN + 1];
    unsigned npfd = 0;
    pfd[npfd].fd = sig_pipe[0];
    pfd[npfd++].events = POLLIN;
    if (e->nworkers == 0) {
        for (unsigned i = 0; i < e->nfds; i++) {
            pfd[npfd].fd = e->fds[i];
            pfd[npfd++].events = POLLIN;
        }
    }
    int64_t next_refresh = mono_ms() + LOCAL_REFRESH_MS;
    bool running = true;
    while (running) {
        int64_t now = mono_ms();
        int timeout = -1;
        if (e->conf->local_stratum > 0) {
            timeout = next_refresh > now ? (int)(next_refresh - now) : 0;
        }
        int r = poll(pfd, npfd, timeout);
        if (r < 0 && errno != EINTR) {
            log_msg(LOGL_ERR, "IO: poll: %s", strerror(errno));
            status = 1;
            break;
        }
        now = mono_ms();
        if (e->conf->local_stratum > 0 && now >= next_refresh) {
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
                    log_msg(LOGL_NOTICE, "CONF: SIGHUP: reloading is not implemented yet; "
                                         "restart to apply changes");
                }
            }
        }
        for (unsigned i = 1; i < npfd; i++) {
            if (pfd[i].revents != 0) {
                serve_plain(pfd[i].fd, &e->plain, e->clk, &e->snap, WORKER_BATCH);
            }
        }
    }
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
    if (e->stop_pipe[0] >= 0) {
        close(e->stop_pipe[0]);
    }
    if (e->stop_pipe[1] >= 0) {
        close(e->stop_pipe[1]);
    }
    free(e);
}
