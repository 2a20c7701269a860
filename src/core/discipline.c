/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * discipline: step policy (PROTOCOL-CHECKS sec. 4), then a weighted least-squares line
 * through (t, offset + C(t)) over an adaptive window, in the spirit of chrony's
 * sourcestats/regress (own code: weights, window rule and the prior blend are ours).
 * The slope is the frequency the clock needs; the line's value at now, minus C(now), is
 * the offset still to remove, which goes into the frequency for corr_ratio intervals.
 */
#include "discipline.h"

#include <math.h>
#include <string.h>

/* Fewer samples than this are never cut by the runs test. */
#define MIN_WINDOW 6
/* Below this many samples the residuals say too little about the noise; a floor is used. */
#define MIN_DOF_SAMPLES 4
/* Runs test: the window is accepted when the number of sign runs is at least the
 * expected number minus RUNS_Z standard deviations (about 5 % one-sided). */
#ifndef RUNS_Z
#define RUNS_Z 1.64
#endif
/* The frequency wander assumed for the sample weights, s/s per sqrt(s): a random walk of
 * 0.001 ppm/sqrt(s), a quartz oscillator in a room (Allan deviation about 2e-8 at
 * 1000 s). Simulator, 50 seeds (kod-rate runs at poll 1024 s after a 2 h holdover): RMS
 * offset 203 -> 113 us, hard-64 170 -> 151 us, LAN 3.30 -> 3.65 us. */
#define WANDER 1e-9
/* Frequency prior without a drift file: anything a real oscillator does. */
#define PRIOR_SKEW_NO_DRIFT 200e-6

void discipline_config_default(struct discipline_config *cfg)
{
    cfg->step_threshold = DISCIPLINE_STEP_DEFAULT;
    cfg->panic_threshold = DISCIPLINE_PANIC_DEFAULT;
    cfg->stepout = DISCIPLINE_STEPOUT_DEFAULT;
    cfg->allow_first = false;
    cfg->step_limit = 0.0;
    cfg->max_freq_ppm = DISCIPLINE_MAX_FREQ_PPM;
    cfg->corr_ratio = 2.0;
    cfg->drift_skew_ppm = 1.0;
}

static double clampd(double v, double lim)
{
    return v > lim ? lim : (v < -lim ? -lim : v);
}

static void hist_push(struct discipline *d, double t, double c, double f)
{
    if (d->n_hist == DISCIPLINE_HIST) {
        memmove(d->hist_t, d->hist_t + 1, (DISCIPLINE_HIST - 1) * sizeof(d->hist_t[0]));
        memmove(d->hist_c, d->hist_c + 1, (DISCIPLINE_HIST - 1) * sizeof(d->hist_c[0]));
        memmove(d->hist_f, d->hist_f + 1, (DISCIPLINE_HIST - 1) * sizeof(d->hist_f[0]));
        d->n_hist--;
    }
    d->hist_t[d->n_hist] = t;
    d->hist_c[d->n_hist] = c;
    d->hist_f[d->n_hist] = f;
    d->n_hist++;
}

void discipline_init(struct discipline *d, const struct discipline_config *cfg, double now,
                     double drift_ppm, bool have_drift)
{
    memset(d, 0, sizeof(*d));
    d->cfg = *cfg;
    if (!(d->cfg.max_freq_ppm > 0.0)) {
        d->cfg.max_freq_ppm = DISCIPLINE_MAX_FREQ_PPM;
    }
    if (!(d->cfg.corr_ratio > 0.0)) {
        d->cfg.corr_ratio = 2.0;
    }
    double lim = d->cfg.max_freq_ppm * 1e-6;
    d->corr_t = now;
    if (have_drift && isfinite(drift_ppm)) {
        d->prior_freq = clampd(drift_ppm * 1e-6, lim);
        d->prior_skew = (d->cfg.drift_skew_ppm > 0.0 ? d->cfg.drift_skew_ppm : 1.0) * 1e-6;
    } else {
        d->prior_freq = 0.0;
        d->prior_skew = PRIOR_SKEW_NO_DRIFT;
    }
    d->freq_est = d->prior_freq;
    d->freq_set = d->prior_freq;
    d->skew = d->prior_skew;
    d->noise = 1e-4;
    hist_push(d, now, 0.0, d->freq_set);
}

double discipline_correction(const struct discipline *d, double now)
{
    if (d->corr_end > d->corr_t && now > d->corr_end) {
        return d->corr + d->freq_set * (d->corr_end - d->corr_t) +
               d->freq_est * (now - d->corr_end);
    }
    return d->corr + d->freq_set * (now - d->corr_t);
}

double discipline_deadline(const struct discipline *d)
{
    return d->corr_end > d->corr_t ? d->corr_end : -1.0;
}

double discipline_freq_applied_ppm(const struct discipline *d)
{
    return d->freq_set * 1e6;
}

double discipline_freq_ppm(const struct discipline *d)
{
    return d->freq_est * 1e6;
}

double discipline_skew_ppm(const struct discipline *d)
{
    return d->skew * 1e6;
}

void discipline_get_status(const struct discipline *d, struct discipline_status *out)
{
    out->offset = d->offset_est;
    out->offset_err = d->offset_err;
    out->noise = d->noise;
    out->freq_ppm = d->freq_est * 1e6;
    out->skew_ppm = d->skew * 1e6;
    out->freq_applied_ppm = d->freq_set * 1e6;
    out->stepped = d->stepped;
    out->samples = d->n;
    out->first_done = d->first_done;
}

struct fit {
    double a;           /* value at x = 0 (now) */
    double b;           /* slope */
    double s2;          /* residual variance of a unit-weight sample */
    double sxx, sw, xm; /* weighted spread of x, sum of weights, weighted mean of x */
    double w[DISCIPLINE_MAX_SAMPLES]; /* each sample's weight (index as in the window) */
};

/* Weighted least squares over samples [from, n) with x = t - now. A sample whose error
 * estimate exceeds the window's smallest by ex (extra path delay, which shows up in the
 * offset by up to about ex / 2) is taken to have variance s0^2 + (ex / 2)^2, where s0,
 * an eighth of the median excess, stands for the error even the best samples carry. A
 * sample older than the newest by `age` adds (WANDER * age^1.5)^2: how far a random walk
 * of the frequency bends the line over that time, so hours-old samples (after an outage,
 * or at long polls) no longer hold the line against what the clock does now. */
static void regress(const struct discipline *d, unsigned from, double now, struct fit *f)
{
    double emin = INFINITY;
    for (unsigned i = from; i < d->n; i++) {
        emin = fmin(emin, d->se[i]);
    }
    double ex[DISCIPLINE_MAX_SAMPLES], tmp[DISCIPLINE_MAX_SAMPLES];
    unsigned m = d->n - from;
    for (unsigned i = from; i < d->n; i++) {
        ex[i] = d->se[i] - emin;
        /* insertion into tmp, sorted, for the median */
        unsigned j = i - from;
        while (j > 0 && tmp[j - 1] > ex[i]) {
            tmp[j] = tmp[j - 1];
            j--;
        }
        tmp[j] = ex[i];
    }
    double s0 = fmax(tmp[m / 2] / 8.0, 1e-9);
    double sw = 0, swx = 0, swy = 0;
    double *w = f->w;
    for (unsigned i = from; i < d->n; i++) {
        double e = ex[i] / 2.0;
        double age = d->st[d->n - 1] - d->st[i];
        double ea = WANDER * age * sqrt(age);
        w[i] = s0 * s0 / (s0 * s0 + e * e + ea * ea);
        double x = d->st[i] - now;
        sw += w[i];
        swx += w[i] * x;
        swy += w[i] * d->sy[i];
    }
    double xm = swx / sw, ym = swy / sw;
    double sxx = 0, sxy = 0;
    for (unsigned i = from; i < d->n; i++) {
        double dx = d->st[i] - now - xm;
        sxx += w[i] * dx * dx;
        sxy += w[i] * dx * (d->sy[i] - ym);
    }
    f->b = sxx > 0.0 ? sxy / sxx : 0.0;
    f->a = ym - f->b * xm;
    double ss = 0;
    for (unsigned i = from; i < d->n; i++) {
        double r = d->sy[i] - (f->a + f->b * (d->st[i] - now));
        ss += w[i] * r * r;
    }
    f->s2 = m > 2 ? ss / (double)(m - 2) : 0.0;
    f->sxx = sxx;
    f->sw = sw;
    f->xm = xm;
}

/* Wald-Wolfowitz runs test on the residual signs, normal approximation. Only samples that
 * carry weight in the fit take part: on a path with asymmetric jitter the delayed samples
 * are all biased the same way, and their signs would say "not random" about a line that
 * fits the samples it rests on. */
#define RUNS_MIN_WEIGHT 0.1
static bool runs_ok(const struct discipline *d, unsigned from, double now, const struct fit *f)
{
    unsigned np = 0, nm = 0, runs = 0;
    int last_sign = 0;
    for (unsigned i = from; i < d->n; i++) {
        if (f->w[i] < RUNS_MIN_WEIGHT) {
            continue;
        }
        double r = d->sy[i] - (f->a + f->b * (d->st[i] - now));
        int sign = r >= 0.0 ? 1 : -1;
        if (sign > 0) {
            np++;
        } else {
            nm++;
        }
        runs += sign != last_sign;
        last_sign = sign;
    }
    double n = (double)(np + nm);
    if (n < MIN_WINDOW) {
        return true;
    }
    if (np == 0 || nm == 0) {
        return false;
    }
    double p = 2.0 * (double)np * (double)nm;
    double mean = 1.0 + p / n;
    double var = p * (p - n) / (n * n * (n - 1.0));
    return (double)runs >= mean - RUNS_Z * sqrt(var > 0.0 ? var : 0.0);
}

/* Fits the window, dropping the oldest samples while the residuals are not random. */
static void fit_window(struct discipline *d, double now, struct fit *f)
{
    unsigned from = 0;
    for (;;) {
        regress(d, from, now, f);
        if (d->n - from <= MIN_WINDOW || runs_ok(d, from, now, f)) {
            break;
        }
        from++;
    }
    if (from > 0) {
        unsigned m = d->n - from;
        memmove(d->st, d->st + from, m * sizeof(d->st[0]));
        memmove(d->sy, d->sy + from, m * sizeof(d->sy[0]));
        memmove(d->se, d->se + from, m * sizeof(d->se[0]));
        d->n = m;
    }
}

static void add_sample(struct discipline *d, double now, double y, double err)
{
    if (d->n == DISCIPLINE_MAX_SAMPLES) {
        unsigned m = d->n - 1;
        memmove(d->st, d->st + 1, m * sizeof(d->st[0]));
        memmove(d->sy, d->sy + 1, m * sizeof(d->sy[0]));
        memmove(d->se, d->se + 1, m * sizeof(d->se[0]));
        d->n = m;
    }
    d->st[d->n] = now;
    d->sy[d->n] = y;
    d->se[d->n] = err;
    d->n++;
}

static void advance(struct discipline *d, double now)
{
    if (d->corr_end > d->corr_t && now >= d->corr_end) {
        /* The phase term ended at corr_end: a breakpoint there. */
        double ce = d->corr + d->freq_set * (d->corr_end - d->corr_t);
        hist_push(d, d->corr_end, ce, d->freq_est);
    }
    d->corr = discipline_correction(d, now);
    if (d->corr_end > d->corr_t && now >= d->corr_end) {
        d->freq_set = d->freq_est;
        d->corr_end = -1.0;
    }
    /* A phase term still running keeps its end: an ignored sample does not extend it. */
    d->corr_t = now;
}

/* C(t) for a t in the past, from the breakpoints (before the oldest: extrapolated back). */
static double correction_at(const struct discipline *d, double t)
{
    if (t >= d->corr_t) {
        return discipline_correction(d, t);
    }
    for (unsigned i = d->n_hist; i-- > 0;) {
        if (d->hist_t[i] <= t || i == 0) {
            return d->hist_c[i] + d->hist_f[i] * (t - d->hist_t[i]);
        }
    }
    return discipline_correction(d, t);
}

double discipline_offset_at(const struct discipline *d, double t, double offset, double t_to)
{
    return offset + d->freq_est * (t_to - t) - (correction_at(d, t_to) - correction_at(d, t));
}

struct discipline_action discipline_tick(struct discipline *d, double now)
{
    struct discipline_action act = {DISCIPLINE_NONE, 0.0, d->freq_set * 1e6};
    if (isfinite(now) && d->corr_end > d->corr_t && now >= d->corr_end) {
        advance(d, now);
        act.kind = DISCIPLINE_FREQ;
        act.freq_ppm = d->freq_set * 1e6;
    }
    return act;
}

struct discipline_action discipline_update(struct discipline *d, double now, double offset,
                                           double err, int poll_log2)
{
    return discipline_update_at(d, now, now, offset, err, poll_log2);
}

struct discipline_action discipline_update_at(struct discipline *d, double now, double t,
                                              double offset, double err, int poll_log2)
{
    struct discipline_action act = {DISCIPLINE_NONE, 0.0, d->freq_set * 1e6};
    if (!isfinite(now) || !isfinite(t) || !isfinite(offset) || !isfinite(err) || now < d->corr_t ||
        t > now || (d->n > 0 && t <= d->st[d->n - 1])) {
        return act;
    }
    /* What the sample says about now: for the step policy and the phase term. */
    double meas = offset;
    double c_t = correction_at(d, t);
    offset = discipline_offset_at(d, t, meas, now);
    if (!(err > 0.0)) {
        err = 1e-9;
    }
    advance(d, now);
    act.freq_ppm = d->freq_set * 1e6;
    double mag = fabs(offset);
    const struct discipline_config *c = &d->cfg;

    /* CVE-2015-5300: the panic threshold is armed after the first correction of any size;
     * before it, only an explicit allowance (ntpd -g) lets a huge offset through. */
    if (c->panic_threshold > 0.0 && mag > c->panic_threshold &&
        (d->first_done || !c->allow_first)) {
        act.kind = DISCIPLINE_PANIC;
        return act;
    }
    if (c->step_threshold > 0.0 && mag > c->step_threshold) {
        if (d->first_done && c->stepout > 0.0) {
            if (!d->in_spike) {
                d->in_spike = true;
                d->spike_since = now;
            }
            if (now - d->spike_since < c->stepout) {
                return act;
            }
        }
        if (c->step_limit > 0.0 && d->stepped + mag > c->step_limit) {
            act.kind = DISCIPLINE_STEP_LIMIT;
            return act;
        }
        /* The samples stay across the first correction (offset + C is unchanged by a step
         * that C records). A later step means the time scale of the sources moved (a
         * server that stepped, past the stepout): the old samples describe another time
         * scale, so the window starts afresh (the frequency estimate stays). */
        if (d->first_done) {
            d->n = 0;
            /* What was learnt of the oscillator still holds: it becomes the prior. */
            d->prior_freq = d->freq_est;
            d->prior_skew = fmax(d->skew, 0.1e-6);
        }
        d->corr += offset;
        d->stepped += mag;
        d->in_spike = false;
        d->first_done = true;
        d->freq_set = d->freq_est;
        d->corr_end = -1.0;
        d->offset_est = offset;
        hist_push(d, now, d->corr, d->freq_set);
        act.kind = DISCIPLINE_STEP;
        act.step = offset;
        act.freq_ppm = d->freq_set * 1e6;
        return act;
    }
    d->in_spike = false;

    add_sample(d, t, meas + c_t, err);
    struct fit f;
    fit_window(d, now, &f);
    double s2 = f.s2;
    if (d->n < MIN_DOF_SAMPLES) {
        /* Too few residuals to trust: no better than the last noise estimate, nor than
         * half the spread of the error estimates (the path's delay variation). */
        double emin = INFINITY, emax = -INFINITY;
        for (unsigned i = 0; i < d->n; i++) {
            emin = fmin(emin, d->se[i]);
            emax = fmax(emax, d->se[i]);
        }
        double spread = (emax - emin) / 2.0;
        s2 = fmax(s2, fmax(d->noise * d->noise, spread * spread));
    } else {
        d->noise = fmax(sqrt(s2), 1e-9);
    }
    double var_a = s2 * (1.0 / f.sw + (f.sxx > 0.0 ? f.xm * f.xm / f.sxx : 0.0));
    double lim = c->max_freq_ppm * 1e-6;
    /* Blend the regression's frequency with the prior (drift file or 0) by inverse
     * variance: with a few samples taken seconds apart the slope alone is wild. */
    double wp = 1.0 / (d->prior_skew * d->prior_skew);
    double wr = (d->n >= 2 && f.sxx > 0.0) ? f.sxx / fmax(s2, 1e-30) : 0.0;
    double fest = (wp * d->prior_freq + wr * f.b) / (wp + wr);
    d->freq_est = clampd(fest, lim);
    d->skew = sqrt(1.0 / (wp + wr));
    /* With the slope pulled towards the prior, the line through the weighted mean moves. */
    double a = f.a + (f.b - fest) * f.xm;
    d->offset_est = a - d->corr;
    d->offset_err = sqrt(fmax(var_a, 0.0));

    if (poll_log2 < -6) {
        poll_log2 = -6;
    } else if (poll_log2 > 17) {
        poll_log2 = 17;
    }
    double tc = c->corr_ratio * ldexp(1.0, poll_log2);
    /* An offset well beyond its own uncertainty is no noise: remove it faster, down to
     * what the frequency limit allows (chrony slews such offsets at once). */
    double sig = 3.0 * d->offset_err;
    if (fabs(d->offset_est) > sig && sig > 0.0) {
        tc = fmax(tc * sig / fabs(d->offset_est), fabs(d->offset_est) / (0.5 * lim));
    }
    double fs = d->freq_est + d->offset_est / tc;
    if (fabs(fs) > lim) {
        /* Limited: the phase term takes longer. */
        fs = clampd(fs, lim);
        tc = fs != d->freq_est ? d->offset_est / (fs - d->freq_est) : tc;
    }
    d->freq_set = fs;
    d->corr_end = now + tc;
    hist_push(d, now, d->corr, d->freq_set);
    d->first_done = true;
    d->updates++;
    d->update_t = now;
    d->update_corr = d->corr;
    act.kind = DISCIPLINE_FREQ;
    act.freq_ppm = d->freq_set * 1e6;
    return act;
}

struct discipline_action discipline_step_now(struct discipline *d, double now)
{
    struct discipline_action act = {DISCIPLINE_NONE, 0.0, d->freq_set * 1e6};
    if (d->updates == 0 || !isfinite(now) || now < d->corr_t) {
        return act;
    }
    advance(d, now);
    /* What the phase term removed since the update: the correction beyond the frequency
     * estimate's share. */
    double removed = (d->corr - d->update_corr) - d->freq_est * (now - d->update_t);
    double rest = d->offset_est - removed;
    if (d->cfg.step_limit > 0.0 && d->stepped + fabs(rest) > d->cfg.step_limit) {
        act.kind = DISCIPLINE_STEP_LIMIT;
        act.step = rest;
        return act;
    }
    d->corr += rest;
    d->stepped += fabs(rest);
    d->freq_set = d->freq_est;
    d->corr_end = -1.0;
    d->in_spike = false;
    d->offset_est = 0.0;
    d->update_t = now;
    d->update_corr = d->corr;
    hist_push(d, now, d->corr, d->freq_set);
    act.kind = DISCIPLINE_STEP;
    act.step = rest;
    act.freq_ppm = d->freq_set * 1e6;
    return act;
}
