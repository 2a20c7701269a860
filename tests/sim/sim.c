/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sim: event loop over true time. Events: a client poll to a server (the request crosses
 * the link, the server answers through srv.c at once, and the reply is queued for its
 * arrival), a reply arriving (client_process, filter, select, discipline), and a metrics
 * tick every second of true time. Randomness comes only from the seeded xoshiro256**.
 */
#include "sim.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/client.h"
#include "core/discipline.h"
#include "core/filter.h"
#include "core/select.h"
#include "core/srv.h"

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
        r->s[i] = splitmix64(&seed);
    }
}

static uint64_t rotl(uint64_t x, int k)
{
    return (x << k) | (x >> (64 - k));
}

uint64_t sim_rng_next(struct sim_rng *r)
{
    uint64_t *s = r->s;
    uint64_t res = rotl(s[1] * 5, 7) * 9;
    uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return res;
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
/* ntpd's iburst: 8 requests 2 s apart while the source is not yet reachable. */
#define BURST_COUNT 8
/* s: see adapt_poll */
#define SIM_POLL_NOISE 2e-6
#define BURST_SPACING 2.0
/* Warm-up excluded from the "after convergence" statistics besides the settle time. */
#define SIM_WARMUP 900.0

struct sim_clock {
    double t;         /* true time of the last advance */
    double phase;     /* s, local minus true */
    double freq_err;  /* s/s, own error (+: fast) */
    double wander;    /* s/s per sqrt(s) */
    double freq_corr; /* s/s, applied by the discipline */
};

static void clock_advance(struct sim_clock *c, struct sim_rng *r, double t)
{
    double dt = t - c->t;
    if (dt <= 0.0) {
        return;
    }
    c->phase += (c->freq_err + c->freq_corr) * dt;
    if (c->wander > 0.0) {
        c->freq_err += c->wander * sqrt(dt) * sim_rng_normal(r);
    }
    c->t = t;
}

struct assoc {
    struct filter f;
    int poll;
    int burst_left;
    unsigned good;
    double next_send;
    bool pending;
    double rx_at;
    uint8_t reply[48];
    uint64_t nonce;
    ntp_ts_t t1;
    bool have;
    struct filter_out last;
    double root_delay, root_disp;
};

struct world {
    const struct sim_config *cfg;
    struct sim_rng rng;
    struct sim_clock clk;
    ntp_ts_t base; /* NTP time at true time 0 */
    struct discipline disc;
    struct assoc as[SIM_MAX_SERVERS];
    double first_sync;
    unsigned steps;
    bool panicked;
    int maxpoll_override;
    bool own_sample;
    bool rfc_filter_only; /* hand the discipline only the filter's newer samples */
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

static void do_send(struct world *w, unsigned k, double t)
{
    struct assoc *a = &w->as[k];
    const struct sim_server *s = &w->cfg->server[k];
    uint8_t req[48];
    a->nonce = sim_rng_next(&w->rng);
    a->t1 = local_ts(w);
    client_request(req, sizeof(req), 4, (int8_t)a->poll, a->nonce);
    a->pending = false;
    if (a->burst_left > 0) {
        a->burst_left--;
        a->next_send = t + BURST_SPACING;
    } else {
        a->next_send = t + ldexp(1.0, a->poll);
    }
    if (sim_rng_uniform(&w->rng) < s->link.loss_out) {
        return;
    }
    double arrive = t + s->link.delay_out + sim_rng_exp(&w->rng, s->link.jitter_out);
    struct ntp_packet p;
    uint8_t mode;
    enum pkt_reason why;
    if (srv_classify(req, sizeof(req), 12345, &p, &mode, &why) != SRV_ANSWER) {
        return;
    }
    struct srv_sys sys = {0, 1, SIM_PRECISION, 0x47505300u /* "GPS" */, 0, 0.0, 1e-5};
    double rx = server_time(s, arrive);
    sys.ref_time = ntp_ts_add(w->base, rx - 8.0);
    uint32_t rnd = (uint32_t)sim_rng_next(&w->rng);
    if (srv_reply(&sys, &p, mode, ntp_ts_add(w->base, rx), rnd, a->reply, sizeof(a->reply)) != 48) {
        return;
    }
    srv_stamp_xmt(a->reply, ntp_ts_add(w->base, server_time(s, arrive + SIM_PROC)), SIM_PRECISION,
                  (uint32_t)sim_rng_next(&w->rng));
    if (sim_rng_uniform(&w->rng) < s->link.loss_in) {
        return;
    }
    a->pending = true;
    a->rx_at = arrive + SIM_PROC + s->link.delay_in + sim_rng_exp(&w->rng, s->link.jitter_in);
}

static void after_step(struct world *w, double t)
{
    for (unsigned k = 0; k < w->cfg->n_servers; k++) {
        struct assoc *a = &w->as[k];
        filter_clear(&a->f);
        a->pending = false;
        a->have = false;
        a->good = 0;
        a->burst_left = BURST_COUNT - 1;
        a->next_send = t + BURST_SPACING;
    }
}

/* The engine's poll policy: quiet paths are polled less often (one step per 4 updates with
 * a small offset), noisy ones at minpoll, where the regression gets the many samples it
 * needs within the time the oscillator's wander leaves a straight line. Target: the largest
 * poll with noise * 2^(poll - minpoll) <= SIM_POLL_NOISE. */
static void adapt_poll(struct world *w, struct assoc *a)
{
    struct discipline_status st;
    discipline_get_status(&w->disc, &st);
    const struct discipline_status *d = &st;
    int maxpoll = w->maxpoll_override ? w->maxpoll_override : w->cfg->maxpoll;
    int target = w->cfg->minpoll;
    while (target < maxpoll &&
           d->noise * ldexp(1.0, target + 1 - w->cfg->minpoll) <= SIM_POLL_NOISE) {
        target++;
    }
    double tol = 3.0 * fmax(d->noise, d->offset_err);
    if (a->poll > target || (fabs(d->offset) > 3.0 * tol && a->poll > w->cfg->minpoll)) {
        a->poll--;
        a->good = 0;
    } else if (a->poll < target && d->samples >= 8 && fabs(d->offset) <= tol) {
        if (++a->good >= 4) {
            a->poll++;
            a->good = 0;
        }
    }
}

static void do_receive(struct world *w, unsigned k, double t)
{
    struct assoc *a = &w->as[k];
    a->pending = false;
    struct ntp_sample smp;
    if (client_process(a->reply, sizeof(a->reply), a->nonce, a->t1, local_ts(w), SIM_PRECISION,
                       &smp) != CLIENT_OK) {
        return;
    }
    double now = t; /* monotonic = true time: the ppm difference is irrelevant here */
    filter_add(&a->f, now, smp.offset, smp.delay, smp.dispersion);
    a->root_delay = smp.root_delay;
    a->root_disp = smp.root_disp;
    struct filter_out fo;
    bool fresh = filter_select(&a->f, now, &fo);
    if (!w->rfc_filter_only) {
        /* Every sample goes on: the regression weighs samples by their delay itself,
         * which keeps what the 8-stage filter would discard (as chrony and ntpd-rs
         * do). The filter still supplies dispersion and jitter for the selection. */
        (void)filter_peek(&a->f, now, &fo);
        fo.t = now;
        fo.offset = smp.offset;
        fo.delay = smp.delay;
    } else if (!fresh) {
        return;
    }
    a->last = fo;
    a->have = true;

    /* Selection over the sources' latest filtered samples, brought to the newest one's
     * time. */
    struct sel_source src[SIM_MAX_SERVERS];
    unsigned idx[SIM_MAX_SERVERS];
    size_t n = 0;
    double t_ref = fo.t;
    for (unsigned j = 0; j < w->cfg->n_servers; j++) {
        if (w->as[j].have && w->as[j].last.t > t_ref) {
            t_ref = w->as[j].last.t;
        }
    }
    for (unsigned j = 0; j < w->cfg->n_servers; j++) {
        const struct assoc *b = &w->as[j];
        if (!b->have) {
            continue;
        }
        src[n].offset = discipline_offset_at(&w->disc, b->last.t, b->last.offset, t_ref);
        src[n].distance =
            fmax((b->root_delay + b->last.delay) / 2.0 + b->root_disp + b->last.dispersion +
                     b->last.jitter + FILTER_PHI * (now - b->last.t),
                 1e-6);
        idx[n++] = j;
    }
    bool tc[SIM_MAX_SERVERS];
    struct sel_result res;
    sel_intersect(src, n, tc, &res);
    bool mine = false;
    double sw = 0.0, err = 0.0;
    for (size_t i = 0; i < n; i++) {
        if (tc[i]) {
            double wt = 1.0 / src[i].distance;
            sw += wt;
            err += wt * w->as[idx[i]].last.delay / 2.0;
            if (idx[i] == k) {
                mine = true;
            }
        }
    }
    if (res.n_true < 1 || !mine) {
        return;
    }
    err /= sw;
    double off = res.offset;
    if (w->own_sample) {
        /* Each measurement enters the regression once: the triggering truechimer's own. */
        t_ref = a->last.t;
        off = a->last.offset;
        err = a->last.delay / 2.0;
    }
    struct discipline_action act = discipline_update_at(&w->disc, now, t_ref, off, err, a->poll);
    if (getenv("SIM_TRACE") != NULL) {
        fprintf(stderr,
                "t %9.1f src %u off %+.6f err %.6f | act %d step %+.6f f %+9.4f | "
                "est %+.6f fest %+9.4f skew %.4f n %u noise %.2e | poll %d phase %+.6f\n",
                t, k, res.offset, err, (int)act.kind, act.step, act.freq_ppm, w->disc.offset_est,
                discipline_freq_ppm(&w->disc), discipline_skew_ppm(&w->disc), w->disc.n,
                w->disc.noise, a->poll, w->clk.phase);
    }
    switch (act.kind) {
    case DISCIPLINE_FREQ:
        w->clk.freq_corr = act.freq_ppm * 1e-6;
        adapt_poll(w, a);
        break;
    case DISCIPLINE_STEP:
        w->clk.phase += act.step;
        w->clk.freq_corr = act.freq_ppm * 1e-6;
        w->steps++;
        after_step(w, t);
        break;
    case DISCIPLINE_PANIC:
        w->panicked = true;
        return;
    case DISCIPLINE_NONE:
    case DISCIPLINE_STEP_LIMIT:
        return;
    }
    if (w->first_sync < 0.0) {
        w->first_sync = t;
    }
}

void sim_run(const struct sim_config *cfg, uint64_t seed, struct sim_result *out)
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
    w.rfc_filter_only = getenv("SIM_RFC_FILTER") != NULL;
    w.own_sample = getenv("SIM_COMBINED") == NULL;
    struct discipline_config dc;
    discipline_config_default(&dc);
    dc.allow_first = cfg->allow_first;
    discipline_init(&w.disc, &dc, 0.0, 0.0, false);
    for (unsigned k = 0; k < cfg->n_servers; k++) {
        struct assoc *a = &w.as[k];
        filter_init(&a->f);
        a->poll = cfg->minpoll;
        if (getenv("SIM_MAXPOLL") != NULL) {
            w.maxpoll_override = atoi(getenv("SIM_MAXPOLL"));
        }
        a->burst_left = cfg->iburst ? BURST_COUNT - 1 : 0;
        /* Sources start a little apart, as resolvers and sockets do. */
        a->next_send = 0.1 + 0.3 * k;
    }
    size_t nticks = (size_t)cfg->duration + 1;
    double *ph = malloc(nticks * sizeof(*ph));
    double *fe = malloc(nticks * sizeof(*fe));
    if (ph == NULL || fe == NULL) {
        abort();
    }
    out->max_phase = -INFINITY;
    out->min_phase = INFINITY;
    size_t tick = 0;
    while (tick < nticks && !w.panicked) {
        /* Next event: a tick, a send or a receive. */
        double t = (double)tick;
        int kind = 0;
        unsigned who = 0;
        double dl = discipline_deadline(&w.disc);
        if (dl >= 0.0 && dl < t) {
            t = dl;
            kind = 3;
        }
        for (unsigned k = 0; k < cfg->n_servers; k++) {
            if (w.as[k].pending && w.as[k].rx_at < t) {
                t = w.as[k].rx_at;
                kind = 2;
                who = k;
            }
            if (w.as[k].next_send < t) {
                t = w.as[k].next_send;
                kind = 1;
                who = k;
            }
        }
        clock_advance(&w.clk, &w.rng, t);
        if (kind == 1) {
            do_send(&w, who, t);
        } else if (kind == 2) {
            do_receive(&w, who, t);
        } else if (kind == 3) {
            struct discipline_action act = discipline_tick(&w.disc, t);
            if (act.kind == DISCIPLINE_FREQ) {
                w.clk.freq_corr = act.freq_ppm * 1e-6;
            }
        } else {
            ph[tick] = w.clk.phase;
            fe[tick] = discipline_freq_ppm(&w.disc) + w.clk.freq_err * 1e6;
            out->max_phase = fmax(out->max_phase, w.clk.phase);
            out->min_phase = fmin(out->min_phase, w.clk.phase);
            tick++;
        }
    }
    out->first_sync = w.first_sync;
    out->steps = w.steps;
    out->panicked = w.panicked;
    out->updates = w.disc.updates;
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
