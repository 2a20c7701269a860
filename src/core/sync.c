/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * sync: sources -> filter -> selection -> system peer -> discipline -> actions, and the
 * state served downstream (RFC 5905 secs. 10-11 and Appendix A.5.5, with the choices the
 * simulator in tests/sim settled: every sample goes to the discipline's regression, the
 * triggering truechimer's own sample is used once, the poll rises only on quiet paths).
 */
#include "sync.h"

#include <math.h>
#include <string.h>

#include "select.h"

/* Poll policy: the largest poll whose interval keeps the measured noise, scaled by the
 * interval, under this (the regression needs many samples while the oscillator's wander
 * still leaves a straight line). */
#define SYNC_POLL_NOISE 2e-6
/* Samples a source must have before its first correction may be a step. */
#define SYNC_FIRST_STEP_SAMPLES 3

void sync_init(struct sync *s, const struct sync_config *cfg, double now, double drift_ppm,
               bool have_drift)
{
    memset(s, 0, sizeof(*s));
    s->cfg = *cfg;
    if (s->cfg.minsane == 0) {
        s->cfg.minsane = 1;
    }
    if (s->cfg.minclock == 0) {
        s->cfg.minclock = 3;
    }
    s->sys_peer = -1;
    discipline_init(&s->disc, &cfg->disc, now, drift_ppm, have_drift);
}

int sync_add(struct sync *s, const struct assoc_config *ac, uint32_t refid_of_addr, double now)
{
    unsigned k = 0;
    while (k < s->n && s->src[k].active) {
        k++;
    }
    if (k == SYNC_MAX_SOURCES) {
        return -1;
    }
    struct sync_source *src = &s->src[k];
    memset(src, 0, sizeof(*src));
    /* Sources start a little apart, as ntpd does, so their bursts do not coincide. */
    if (!assoc_init(&src->as, ac, now + 0.1 * k)) {
        return -1;
    }
    filter_init(&src->f);
    src->refid_of_addr = refid_of_addr;
    src->active = true;
    if (k == s->n) {
        s->n++;
    }
    return (int)k;
}

void sync_drop(struct sync *s, unsigned k)
{
    if (k < s->n) {
        s->src[k].active = false;
        s->src[k].truechimer = false;
        s->src[k].have = false;
        if (s->sys_peer == (int)k) {
            s->sys_peer = -1;
        }
    }
}

bool sync_active(const struct sync *s, unsigned k)
{
    return k < s->n && s->src[k].active;
}

double sync_next_due(const struct sync *s)
{
    double t = discipline_deadline(&s->disc);
    for (unsigned k = 0; k < s->n; k++) {
        if (!s->src[k].active || (assoc_flags(&s->src[k].as) & ASSOC_F_DEMOBILIZE) != 0) {
            continue;
        }
        double d = assoc_next_due(&s->src[k].as);
        if (t < 0.0 || d < t) {
            t = d;
        }
    }
    return t;
}

size_t sync_request(struct sync *s, unsigned k, double now, uint64_t nonce, ntp_ts_t t1,
                    uint8_t *buf, size_t cap)
{
    if (!sync_active(s, k) || !assoc_due(&s->src[k].as, now)) {
        return 0;
    }
    return assoc_make_request(&s->src[k].as, now, nonce, t1, buf, cap);
}

/* After a step: stored samples and outstanding requests mean nothing any more (DESIGN:
 * every step flushes them). */
static void after_step(struct sync *s)
{
    for (unsigned k = 0; k < s->n; k++) {
        filter_clear(&s->src[k].f);
        assoc_on_step(&s->src[k].as);
        s->src[k].have = false;
        s->src[k].good = 0;
    }
}

/* Quiet paths are polled less often (one step up per 4 quiet updates), noisy ones at
 * minpoll. */
static void adapt_poll(struct sync *s, struct sync_source *src)
{
    struct discipline_status d;
    discipline_get_status(&s->disc, &d);
    int minpoll = src->as.cfg.minpoll, maxpoll = src->as.cfg.maxpoll;
    int poll = assoc_poll(&src->as);
    int target = minpoll;
    while (target < maxpoll && d.noise * ldexp(1.0, target + 1 - minpoll) <= SYNC_POLL_NOISE) {
        target++;
    }
    double tol = 3.0 * fmax(d.noise, d.offset_err);
    if (poll > target || (fabs(d.offset) > 3.0 * tol && poll > minpoll)) {
        assoc_set_poll(&src->as, (int8_t)(poll - 1));
        src->good = 0;
    } else if (poll < target && d.samples >= 8 && fabs(d.offset) <= tol) {
        if (++src->good >= 4) {
            assoc_set_poll(&src->as, (int8_t)(poll + 1));
            src->good = 0;
        }
    }
}

static double distance_of(const struct sync_source *b, double now)
{
    /* RFC 5905 sec. 11.2.1: root distance, aged since the sample. */
    return fmax((b->root_delay + b->last.delay) / 2.0 + b->root_disp + b->last.dispersion +
                    b->last.jitter + FILTER_PHI * (now - b->last.t),
                1e-6);
}

/* A pivot for the era of our own clock's timestamps in the leap-month test: any time
 * within 68 years of now will do (2023-11-14). */
#define SYNC_ERA_PIVOT INT64_C(1700000000)

/* Month (1-12) of a Unix time, UTC (civil-from-days, proleptic Gregorian). */
static int utc_month(int64_t unix_sec)
{
    int64_t z = (unix_sec >= 0 ? unix_sec : unix_sec - 86399) / 86400 + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    return (int)(mp < 10 ? mp + 3 : mp - 9);
}

/* PROTOCOL-CHECKS sec. 4: a leap second only by majority vote of the truechimers (never
 * from a single source: at least two must announce it), and only in June or December,
 * when one can happen at the end of the month. */
static uint8_t vote_leap(const struct sync *s, ntp_ts_t t4)
{
    unsigned n = 0, ins = 0, del = 0;
    for (unsigned k = 0; k < s->n; k++) {
        if (!s->src[k].truechimer) {
            continue;
        }
        n++;
        ins += s->src[k].as.leap == 1;
        del += s->src[k].as.leap == 2;
    }
    struct timespec ts;
    ntp_ts_to_timespec(t4, SYNC_ERA_PIVOT, &ts);
    int month = utc_month((int64_t)ts.tv_sec);
    if (n == 0 || (month != 6 && month != 12)) {
        return 0;
    }
    if (ins >= 2 && 2 * ins > n) {
        return 1;
    }
    if (del >= 2 && 2 * del > n) {
        return 2;
    }
    return 0;
}

/* The served state after an update from system peer p at our clock time t4. */
static void update_served(struct sync *s, int p, ntp_ts_t t4, double offset, double now)
{
    const struct sync_source *peer = &s->src[p];
    struct srv_sys *v = &s->sys;
    v->leap = vote_leap(s, t4);
    v->stratum = (uint8_t)(peer->as.stratum + 1);
    v->precision = s->cfg.precision;
    v->refid = peer->refid_of_addr;
    v->ref_time = t4;
    v->root_delay = peer->root_delay + peer->last.delay;
    /* The sample's own dispersion, not the filter's: with few samples RFC 5905's filter
     * dispersion counts empty stages as 16 s and would announce seconds of error. */
    v->root_disp = peer->root_disp + peer->sample_disp + peer->last.jitter + fabs(offset);
    s->synced = true;
    s->last_update = now;
}

struct sync_action sync_receive(struct sync *s, unsigned k, double now, const uint8_t *buf,
                                size_t len, ntp_ts_t t4, enum assoc_result *res)
{
    struct sync_action none = { SYNC_ACT_NONE, 0.0, 0.0, 0.0 };
    if (!sync_active(s, k) || s->panicked) {
        return none;
    }
    struct sync_source *src = &s->src[k];
    struct assoc_local local = {
        .precision = s->cfg.precision,
        .sys_refid = s->synced ? s->sys.refid : 0,
        .addr_refid = s->cfg.addr_refid,
        .authenticated = false,
    };
    struct ntp_sample smp;
    enum assoc_result r = assoc_receive(&src->as, now, buf, len, t4, &local, &smp);
    if (res != NULL) {
        *res = r;
    }
    if (r != ASSOC_OK) {
        return none;
    }
    if (!filter_add(&src->f, now, smp.offset, smp.delay, smp.dispersion)) {
        return none;
    }
    src->root_delay = smp.root_delay;
    src->root_disp = smp.root_disp;
    src->precision = smp.precision;
    src->reftime = smp.ref;
    src->rec = t4;
    src->sample_disp = smp.dispersion;
    /* Every sample goes on; the filter supplies jitter and dispersion for selection. */
    (void)filter_select(&src->f, now, &src->last);
    (void)filter_peek(&src->f, now, &src->last);
    src->last.t = now;
    src->last.offset = smp.offset;
    src->last.delay = smp.delay;
    src->have = true;

    /* Selection over the selectable sources' latest samples, brought to a common time. */
    struct sel_source in[SYNC_MAX_SOURCES];
    unsigned idx[SYNC_MAX_SOURCES];
    bool tc[SYNC_MAX_SOURCES];
    size_t n = 0;
    for (unsigned j = 0; j < s->n; j++) {
        struct sync_source *b = &s->src[j];
        b->truechimer = false;
        b->sel = SYNC_SEL_NONE;
        /* A source at stratum 15 would make us 16: unsynchronized (and a loop through
         * ourselves climbs there). */
        if (!b->active || !b->have || assoc_unreachable(&b->as) || b->as.stratum >= 15 ||
            (b->as.cfg.flags & ASSOC_CFG_NOSELECT) != 0) {
            continue;
        }
        in[n].offset = discipline_offset_at(&s->disc, b->last.t, b->last.offset, now);
        in[n].distance = distance_of(b, now);
        idx[n++] = j;
    }
    struct sel_result sel;
    sel_intersect(in, n, tc, &sel);
    for (size_t i = 0; i < n; i++) {
        /* `true` (ntpd): the source is always taken for a truechimer. */
        if ((s->src[idx[i]].as.cfg.flags & ASSOC_CFG_TRUE) != 0) {
            tc[i] = true;
        }
        /* Only a verdict among several counts against a source (a pool replaces it). */
        struct sync_source *b = &s->src[idx[i]];
        b->falseticks = tc[i] || n < 3 ? 0 : b->falseticks + 1;
    }
    struct sel_cluster_source cl[SYNC_MAX_SOURCES];
    for (size_t i = 0; i < n; i++) {
        const struct sync_source *b = &s->src[idx[i]];
        cl[i].offset = in[i].offset;
        cl[i].jitter = b->last.jitter;
        cl[i].keep = (b->as.cfg.flags & ASSOC_CFG_TRUE) != 0;
    }
    bool in_sel[SYNC_MAX_SOURCES];
    for (size_t i = 0; i < n; i++) {
        in_sel[i] = tc[i];
    }
    (void)sel_cluster(cl, n, s->cfg.minclock, tc);
    for (size_t i = 0; i < n; i++) {
        s->src[idx[i]].sel = tc[i]       ? SYNC_SEL_SURVIVOR
                             : in_sel[i] ? SYNC_SEL_OUTLIER
                                         : SYNC_SEL_FALSETICKER;
    }
    bool mine = false;
    int peer = -1;
    double best = 0.0;
    size_t n_true = 0;
    for (size_t i = 0; i < n; i++) {
        struct sync_source *b = &s->src[idx[i]];
        if (!tc[i]) {
            continue;
        }
        n_true++;
        b->truechimer = true;
        mine = mine || idx[i] == k;
        /* The system peer: a prefer source among the truechimers, else the nearest. */
        double d = in[i].distance;
        if ((b->as.cfg.flags & ASSOC_CFG_PREFER) != 0) {
            d = 0.0;
        }
        if (peer < 0 || d < best) {
            peer = (int)idx[i];
            best = d;
        }
    }
    if (n_true < s->cfg.minsane || !mine) {
        return none;
    }
    if (s->sys_peer >= 0 && s->sys_peer != peer && s->src[s->sys_peer].sel == SYNC_SEL_SYSPEER) {
        s->src[s->sys_peer].sel = SYNC_SEL_SURVIVOR;
    }
    s->sys_peer = peer;
    s->src[peer].sel = SYNC_SEL_SYSPEER;

    /* Each measurement enters the regression once: the triggering truechimer's own. But
     * the first correction, when it is a step, waits for 3 samples and takes the filter's
     * lowest-delay one: a single delayed reply must not set the clock (with the clock
     * wrong by the delay, the right samples would then look like spikes). */
    double t_use = src->last.t, off_use = src->last.offset, delay_use = src->last.delay;
    const struct discipline_config *dc = &s->cfg.disc;
    if (!s->disc.first_done && dc->step_threshold > 0.0 &&
        fabs(off_use) > dc->step_threshold) {
        struct filter_out fb;
        if (!filter_peek(&src->f, now, &fb) || fb.n < SYNC_FIRST_STEP_SAMPLES) {
            return none;
        }
        t_use = fb.t;
        off_use = fb.offset;
        delay_use = fb.delay;
    }
    struct discipline_action a = discipline_update_at(&s->disc, now, t_use, off_use,
                                                      delay_use / 2.0, assoc_poll(&src->as));
    struct sync_action out = { SYNC_ACT_NONE, 0.0, a.freq_ppm, off_use };
    switch (a.kind) {
    case DISCIPLINE_FREQ:
        out.kind = SYNC_ACT_FREQ;
        adapt_poll(s, src);
        update_served(s, peer, t4, src->last.offset, now);
        break;
    case DISCIPLINE_STEP:
        out.kind = SYNC_ACT_STEP;
        out.step = a.step;
        s->steps++;
        after_step(s);
        /* The served state waits for the first sample after the step: the reference time
         * and dispersion of before no longer describe the clock. */
        s->synced = false;
        break;
    case DISCIPLINE_PANIC:
        out.kind = SYNC_ACT_PANIC;
        s->panicked = true;
        break;
    case DISCIPLINE_STEP_LIMIT:
        out.kind = SYNC_ACT_STEP_LIMIT;
        out.step = off_use;
        break;
    case DISCIPLINE_NONE:
        break;
    }
    return out;
}

struct sync_action sync_step_now(struct sync *s, double now)
{
    struct sync_action out = {SYNC_ACT_NONE, 0.0, 0.0, 0.0};
    if (s->panicked) {
        return out;
    }
    struct discipline_action a = discipline_step_now(&s->disc, now);
    out.freq_ppm = a.freq_ppm;
    out.offset = a.step;
    if (a.kind == DISCIPLINE_STEP) {
        out.kind = SYNC_ACT_STEP;
        out.step = a.step;
        s->steps++;
        after_step(s);
        s->synced = false;
    } else if (a.kind == DISCIPLINE_STEP_LIMIT) {
        out.kind = SYNC_ACT_STEP_LIMIT;
        out.step = a.step;
    }
    return out;
}

struct sync_action sync_tick(struct sync *s, double now)
{
    struct sync_action out = { SYNC_ACT_NONE, 0.0, 0.0, 0.0 };
    struct discipline_action a = discipline_tick(&s->disc, now);
    if (a.kind == DISCIPLINE_FREQ) {
        out.kind = SYNC_ACT_FREQ;
        out.freq_ppm = a.freq_ppm;
    }
    return out;
}

void sync_served(const struct sync *s, double now, struct srv_sys *out)
{
    double hold = SYNC_HOLD_S;
    for (unsigned k = 0; k < s->n; k++) {
        if (s->src[k].active) {
            hold = fmax(hold, 4.0 * ldexp(1.0, s->src[k].as.cfg.maxpoll));
        }
    }
    if (s->synced && now - s->last_update <= hold) {
        *out = s->sys;
        return;
    }
    memset(out, 0, sizeof(*out));
    out->leap = 3;
    out->stratum = 16;
    out->precision = s->cfg.precision;
    out->refid = ntp_refid_from_ascii("INIT");
    out->root_disp = 16.0;
}

double sync_freq_ppm(const struct sync *s)
{
    return discipline_freq_ppm(&s->disc);
}

double sync_skew_ppm(const struct sync *s)
{
    return discipline_skew_ppm(&s->disc);
}
