/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sim: event loop over true time around the engine's own core (core/sync.c: associations,
 * filters, selection, discipline, poll policy). The simulator is only the world: true
 * time, the local clock, the servers (srv.c) and the links. Events: something due in the
 * engine (sync_next_due: requests from sync_request, which cross the link and are
 * answered by the server at once, and the discipline's deadline, sync_tick), a reply
 * arriving (sync_receive; its action is applied to the simulated clock), and a metrics
 * tick every second of true time. Monotonic time is true time (the ppm difference does
 * not matter here). Randomness comes only from the seeded xoshiro256**; the optional
 * impairments (reordering) draw from it only when configured, so scenarios without them
 * see the same sequence as before they existed. Outage windows and KoD windows draw
 * nothing.
 */
#include "sim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/assoc.h"
#include "core/discipline.h"
#include "core/srv.h"
#include "core/sync.h"

/* ---- PRNG: xoshiro256** seeded by splitmix64 ---- */

static uint64_t splitmix64(uint64_t *x)
{
    uint64_t z = (*x += UINT64_C(0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C(0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C(0x94d049bb133111eb);
    return z ^ (z >> 31);
}

void sim_rng_seed(struct sim_rng *r, uint64_t seed)
{
    for (int i = 0; i < 4; i++) {
        r->f.s[i] = splitmix64(&seed);
    }
}

uint64_t sim_rng_next(struct sim_rng *r)
{
    return rng_fast_u64(&r->f);
}

double sim_rng_uniform(struct sim_rng *r)
{
    return (double)(sim_rng_next(r) >> 11) * 0x1.0p-53;
}

double sim_rng_exp(struct sim_rng *r, double mean)
{
    return mean > 0.0 ? -mean * log1p(-sim_rng_uniform(r)) : 0.0;
}

double sim_rng_normal(struct sim_rng *r)
{
    double u1 = sim_rng_uniform(r), u2 = sim_rng_uniform(r);
    return sqrt(-2.0 * log1p(-u1)) * cos(2.0 * M_PI * u2);
}

/* ---- the world ---- */

/* Our precision and the servers': 2^-24 s, about 60 ns. */
#define SIM_PRECISION (-24)
/* Server processing time between receive and transmit timestamps. */
#define SIM_PROC 5e-6
/* Warm-up excluded from the "after convergence" statistics besides the settle time. */
#define SIM_WARMUP 900.0
/* Replies on the way back at one time (a few per source at most). */
#define SIM_MAX_FLIGHTS 64
/* Our address as a refid (192.0.2.100) and the servers' (192.0.2.1 + k). */
#define SIM_OUR_REFID UINT32_C(0xc0000264)
#define SIM_SRV_REFID(k) (UINT32_C(0xc0000201) + (uint32_t)(k))
/* Events allowed between two metric ticks before the run is declared stuck. */
#define SIM_MAX_EVENTS_PER_TICK 100000

struct sim_clock {
    double t;         /* true time of the last advance */
    double phase;     /* s, local minus true */
    double freq_err;  /* s/s, own error (+: fast) */
    double wander;    /* s/s per sqrt(s) */
    double freq_corr; /* s/s, applied by the discipline */
    double osc_phase; /* s, integral of freq_err alone (what an uncorrected clock drifts) */
};

static void clock_advance(struct sim_clock *c, struct sim_rng *r, double t)
{
    double dt = t - c->t;
    if (dt <= 0.0) {
        return;
    }
    c->phase += (c->freq_err + c->freq_corr) * dt;
    c->osc_phase += c->freq_err * dt;
    if (c->wander > 0.0) {
        c->freq_err += c->wander * sqrt(dt) * sim_rng_normal(r);
    }
    c->t = t;
}

/* A server's reply on its way to us. */
struct flight {
    bool used;
    unsigned src;
    uint64_t seq; /* which request of its source it answers (1, 2, ...) */
    double at;    /* s of true time of arrival */
    uint8_t buf[48];
};

struct world {
    const struct sim_config *cfg;
    struct sim_rng rng;
    struct sim_clock clk;
    ntp_ts_t base; /* NTP time at true time 0 */
    struct sync sync;
    struct flight fl[SIM_MAX_FLIGHTS];
    double first_sync;
    unsigned steps;
    double first_step_t, last_step_t;
    bool panicked;
    bool trace;
    uint64_t req_seq[SIM_MAX_SERVERS];   /* requests sent per source */
    uint64_t delivered[SIM_MAX_SERVERS]; /* highest request seq whose reply arrived */
    unsigned reordered, late, late_refused, late_accepted, kod_actions;
};

static ntp_ts_t local_ts(const struct world *w)
{
    return ntp_ts_add(w->base, w->clk.t + w->clk.phase);
}

static double server_time(const struct sim_server *s, double t)
{
    double v = t + s->offset;
    if (s->step_at >= 0.0 && t >= s->step_at) {
        v += s->step_by;
    }
    return v;
}

static bool link_down(const struct sim_link *l, double t)
{
    return l->down_to > l->down_from && t >= l->down_from && t < l->down_to;
}

/* Request number seq of source k (from sync_request) leaves for server k at true time t: it
 * crosses the link, the server answers through srv.c (the time, or a KoD RATE inside its
 * KoD window), and the reply is queued for its arrival. */
static void send_request(struct world *w, unsigned k, double t, const uint8_t *req, size_t len,
                         uint64_t seq)
{
    const struct sim_server *s = &w->cfg->server[k];
    if (link_down(&s->link, t)) {
        return;
    }
    if (sim_rng_uniform(&w->rng) < s->link.loss_out) {
        return;
    }
    double arrive = t + s->link.delay_out + sim_rng_exp(&w->rng, s->link.jitter_out);
    struct ntp_packet p;
    uint8_t mode;
    enum pkt_reason why;
    if (srv_classify(req, len, 12345, &p, &mode, &why) != SRV_ANSWER) {
        return;
    }
    struct flight *f = NULL;
    for (unsigned i = 0; i < SIM_MAX_FLIGHTS; i++) {
        if (!w->fl[i].used) {
            f = &w->fl[i];
            break;
        }
    }
    if (f == NULL) {
        fprintf(stderr, "sim: too many replies in flight\n");
        abort();
    }
    if (s->kod_to > s->kod_from && arrive >= s->kod_from && arrive < s->kod_to) {
        if (srv_kod(&p, mode, ntp_refid_from_ascii("RATE"), f->buf, sizeof(f->buf)) != 48) {
            return;
        }
    } else {
        struct srv_sys sys = {0, 1, SIM_PRECISION, 0x47505300u /* "GPS" */, 0, 0.0, 1e-5};
        double rx = server_time(s, arrive);
        sys.ref_time = ntp_ts_add(w->base, rx - 8.0);
        uint32_t rnd = (uint32_t)sim_rng_next(&w->rng);
        if (srv_reply(&sys, &p, mode, ntp_ts_add(w->base, rx), rnd, f->buf, sizeof(f->buf)) !=
            48) {
            return;
        }
        srv_stamp_xmt(f->buf, ntp_ts_add(w->base, server_time(s, arrive + SIM_PROC)),
                      SIM_PRECISION, (uint32_t)sim_rng_next(&w->rng));
    }
    if (sim_rng_uniform(&w->rng) < s->link.loss_in || link_down(&s->link, arrive + SIM_PROC)) {
        return;
    }
    f->used = true;
    f->src = k;
    f->seq = seq;
    f->at = arrive + SIM_PROC + s->link.delay_in + sim_rng_exp(&w->rng, s->link.jitter_in);
    if (s->link.reorder > 0.0 && sim_rng_uniform(&w->rng) < s->link.reorder) {
        f->at += s->link.hold_min +
                 (s->link.hold_max - s->link.hold_min) * sim_rng_uniform(&w->rng);
    }
}

/* The engine's action, applied to the simulated clock. */
static void apply(struct world *w, const struct sync_action *a, double t, bool correction)
{
    switch (a->kind) {
    case SYNC_ACT_FREQ:
        w->clk.freq_corr = a->freq_ppm * 1e-6;
        break;
    case SYNC_ACT_STEP:
        w->clk.phase += a->step;
        w->clk.freq_corr = a->freq_ppm * 1e-6;
        w->steps++;
        if (w->first_step_t < 0.0) {
            w->first_step_t = t;
        }
        w->last_step_t = t;
        break;
    case SYNC_ACT_PANIC:
        w->panicked = true;
        return;
    case SYNC_ACT_STEP_LIMIT:
    case SYNC_ACT_NONE:
        return;
    }
    if (correction && w->first_sync < 0.0) {
        w->first_sync = t;
    }
}

static void receive(struct world *w, struct flight *f, double t)
{
    f->used = false;
    enum assoc_result res;
    struct sync_action a =
        sync_receive(&w->sync, f->src, t, f->buf, sizeof(f->buf), local_ts(w), &res);
    /* On-wire bookkeeping seen from outside: only the newest request may be answered. */
    if (f->seq < w->delivered[f->src]) {
        w->reordered++;
    } else {
        w->delivered[f->src] = f->seq;
    }
    if (f->seq < w->req_seq[f->src]) {
        w->late++;
        if (res == ASSOC_BOGUS || res == ASSOC_UNSOLICITED) {
            w->late_refused++;
        } else if (res == ASSOC_OK || res == ASSOC_KOD || res == ASSOC_UNSYNC ||
                   res == ASSOC_DISTANCE || res == ASSOC_LOOP) {
            w->late_accepted++;
        }
    }
    if (res == ASSOC_KOD && a.kind != SYNC_ACT_NONE) {
        w->kod_actions++;
    }
    if (w->trace) {
        struct discipline_status d;
        discipline_get_status(&w->sync.disc, &d);
        fprintf(stderr,
                "t %9.1f src %u %-8s | act %d off %+.6f step %+.6f f %+9.4f | est %+.6f "
                "fest %+9.4f skew %.4f n %u noise %.2e | poll %d phase %+.6f ferr %+.4f\n",
                t, f->src, assoc_result_name(res), (int)a.kind, a.offset, a.step, a.freq_ppm,
                d.offset, d.freq_ppm, d.skew_ppm, d.samples, d.noise,
                assoc_poll(&w->sync.src[f->src].as), w->clk.phase,
                d.freq_ppm + w->clk.freq_err * 1e6);
        const char *win = getenv("SIM_WIN");
        if (win != NULL && t >= atof(win) && t < atof(win) + 1.0) {
            /* the regression window: each sample's offset against today's line */
            const struct discipline *dd = &w->sync.disc;
            for (unsigned i = 0; i < dd->n; i++) {
                fprintf(stderr, "   win %2u t %9.1f err %.6f  off %+.6f\n", i, dd->st[i],
                        dd->se[i], dd->sy[i] - dd->corr - dd->freq_est * (dd->st[i] - t));
            }
        }
    }
    apply(w, &a, t, true);
}

/* Something is due in the engine at t: requests, and the discipline's deadline. */
static void engine_due(struct world *w, double t)
{
    for (unsigned k = 0; k < w->sync.n; k++) {
        uint8_t req[48];
        uint64_t nonce = sim_rng_next(&w->rng);
        size_t len = sync_request(&w->sync, k, t, nonce, local_ts(w), req, sizeof(req));
        if (len > 0) {
            send_request(w, k, t, req, len, ++w->req_seq[k]);
        }
    }
    struct sync_action a = sync_tick(&w->sync, t);
    apply(w, &a, t, false);
}

void sim_run(const struct sim_config *cfg, uint64_t seed, struct sim_result *out)
{
    sim_run_ticks(cfg, seed, out, NULL, NULL);
}

void sim_run_ticks(const struct sim_config *cfg, uint64_t seed, struct sim_result *out,
                   sim_tick_fn tick_fn, void *ctx)
{
    static struct world w; /* large-ish; one run at a time */
    memset(&w, 0, sizeof(w));
    w.cfg = cfg;
    sim_rng_seed(&w.rng, seed);
    w.clk.phase = cfg->phase0;
    w.clk.freq_err = cfg->freq_ppm * 1e-6;
    w.clk.wander = cfg->wander_ppm * 1e-6;
    /* 2026-ish; scenario "era" starts ten minutes before the 2036 rollover. */
    w.base = cfg->era_cross ? ((ntp_ts_t)0xffffffffu - 600u) << 32 : (ntp_ts_t)3973000000u << 32;
    w.first_sync = -1.0;
    w.first_step_t = w.last_step_t = -1.0;
    w.trace = getenv("SIM_TRACE") != NULL;

    struct sync_config sc;
    memset(&sc, 0, sizeof(sc));
    discipline_config_default(&sc.disc);
    sc.disc.allow_first = cfg->allow_first;
    sc.minsane = 1;
    sc.precision = SIM_PRECISION;
    sc.addr_refid = SIM_OUR_REFID;
    sync_init(&w.sync, &sc, 0.0, 0.0, false);
    struct assoc_config ac;
    assoc_config_default(&ac);
    ac.minpoll = (int8_t)cfg->minpoll;
    ac.maxpoll = (int8_t)cfg->maxpoll;
    if (getenv("SIM_MAXPOLL") != NULL) {
        ac.maxpoll = (int8_t)atoi(getenv("SIM_MAXPOLL"));
    }
    ac.iburst = cfg->iburst;
    ac.burst = cfg->burst;
    for (unsigned k = 0; k < cfg->n_servers; k++) {
        if (sync_add(&w.sync, &ac, SIM_SRV_REFID(k), 0.0) != (int)k) {
            fprintf(stderr, "sim: sync_add failed for server %u\n", k);
            abort();
        }
    }

    size_t nticks = (size_t)cfg->duration + 1;
    double *ph = malloc(nticks * sizeof(*ph));
    double *fe = malloc(nticks * sizeof(*fe));
    if (ph == NULL || fe == NULL) {
        abort();
    }
    out->max_phase = -INFINITY;
    out->min_phase = INFINITY;
    out->max_poll = cfg->minpoll;
    size_t tick = 0;
    unsigned events = 0;
    while (tick < nticks && !w.panicked) {
        /* Next event: a metrics tick, something due in the engine, or a reply arriving. */
        double t = (double)tick;
        int kind = 0;
        struct flight *who = NULL;
        double due = sync_next_due(&w.sync);
        if (due >= 0.0 && due < t) {
            t = due;
            kind = 1;
        }
        for (unsigned i = 0; i < SIM_MAX_FLIGHTS; i++) {
            if (w.fl[i].used && w.fl[i].at < t) {
                t = w.fl[i].at;
                kind = 2;
                who = &w.fl[i];
            }
        }
        clock_advance(&w.clk, &w.rng, t);
        if (kind != 0 && ++events > SIM_MAX_EVENTS_PER_TICK) {
            fprintf(stderr, "sim: stuck at t %.6f (engine due %.6f)\n", t, due);
            abort();
        }
        if (kind == 1) {
            engine_due(&w, t);
        } else if (kind == 2) {
            receive(&w, who, t);
        } else {
            double ref = cfg->ref_server0 ? server_time(&cfg->server[0], t) - t : 0.0;
            ph[tick] = w.clk.phase - ref;
            fe[tick] = sync_freq_ppm(&w.sync) + w.clk.freq_err * 1e6;
            out->max_phase = fmax(out->max_phase, w.clk.phase);
            out->min_phase = fmin(out->min_phase, w.clk.phase);
            for (unsigned k = 0; k < w.sync.n; k++) {
                out->max_poll = out->max_poll > assoc_poll(&w.sync.src[k].as)
                                    ? out->max_poll
                                    : assoc_poll(&w.sync.src[k].as);
            }
            if (tick_fn != NULL) {
                struct srv_sys sv;
                sync_served(&w.sync, t, &sv);
                struct sim_tick tk = {
                    .t = t,
                    .phase = w.clk.phase,
                    .ref_phase = ph[tick],
                    .osc_ppm = w.clk.freq_err * 1e6,
                    .osc_phase = w.clk.osc_phase,
                    .served_stratum = sv.stratum,
                    .peer = w.sync.sys_peer,
                    .steps = w.steps,
                    .poll = assoc_poll(&w.sync.src[0].as),
                };
                tick_fn(ctx, &tk);
            }
            tick++;
            events = 0;
        }
    }
    struct srv_sys served;
    sync_served(&w.sync, w.clk.t, &served);
    out->served_stratum = served.stratum;
    out->peer = w.sync.sys_peer;
    out->first_sync = w.first_sync;
    out->steps = w.steps;
    out->first_step_t = w.first_step_t;
    out->last_step_t = w.last_step_t;
    out->received = out->processed = out->bogusorg = out->oldpkt = out->kod_rx = 0;
    out->distance = 0;
    for (unsigned k = 0; k < w.sync.n; k++) {
        const struct assoc_counters *c = assoc_counters(&w.sync.src[k].as);
        out->received += c->received;
        out->processed += c->processed;
        out->bogusorg += c->bogusorg;
        out->oldpkt += c->oldpkt;
        out->kod_rx += c->kod_rx;
        out->distance += c->distance;
    }
    out->reordered = w.reordered;
    out->late = w.late;
    out->late_refused = w.late_refused;
    out->late_accepted = w.late_accepted;
    out->kod_actions = w.kod_actions;
    out->panicked = w.panicked;
    out->updates = w.sync.disc.updates;
    out->settle = -1.0;
    out->rms_offset = out->max_offset = out->rms_freq_ppm = NAN;
    if (!w.panicked && w.first_sync >= 0.0) {
        size_t last_bad = 0;
        bool any_bad = false;
        for (size_t i = 0; i < nticks; i++) {
            if (fabs(ph[i]) > cfg->settle_bound) {
                last_bad = i;
                any_bad = true;
            }
        }
        if (!any_bad || last_bad + 1 < nticks) {
            out->settle = any_bad ? (double)(last_bad + 1) : 0.0;
            size_t from = (size_t)fmax(out->settle, SIM_WARMUP);
            double s2 = 0, f2 = 0, mx = 0;
            size_t m = 0;
            for (size_t i = from; i < nticks; i++, m++) {
                s2 += ph[i] * ph[i];
                f2 += fe[i] * fe[i];
                mx = fmax(mx, fabs(ph[i]));
            }
            if (m > 0) {
                out->rms_offset = sqrt(s2 / (double)m);
                out->rms_freq_ppm = sqrt(f2 / (double)m);
                out->max_offset = mx;
            }
        }
    }
    free(ph);
    free(fe);
}
