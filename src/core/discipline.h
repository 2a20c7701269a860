/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * discipline: the clock discipline. It turns the system offset (server time minus ours,
 * combined from the selected sources) into one action: step, refuse (panic), or "run
 * the clock at this frequency until the next update". The offset is tracked over time by a
 * weighted linear regression over an adaptive window of samples (the window shrinks when
 * the residuals stop looking random: a runs test), which gives a frequency and an offset
 * estimate; the estimated offset is removed by an extra frequency term over a few poll
 * intervals, so every clock backend only needs "set frequency". Pure: "now" is monotonic
 * seconds passed in; no globals, no allocation. Stepping the clock, drift file I/O and
 * logging belong to the caller.
 */
#ifndef STRATUM_DISCIPLINE_H
#define STRATUM_DISCIPLINE_H

#include <stdbool.h>

/* Regression window: the most samples kept. */
#define DISCIPLINE_MAX_SAMPLES 64

/* Breakpoints of the correction kept to relate older samples to it. */
#define DISCIPLINE_HIST 32

/* PROTOCOL-CHECKS sec. 4 defaults. */
#define DISCIPLINE_STEP_DEFAULT 0.128
#define DISCIPLINE_PANIC_DEFAULT 1000.0
#define DISCIPLINE_STEPOUT_DEFAULT 900.0
#define DISCIPLINE_MAX_FREQ_PPM 500.0

struct discipline_config {
    double step_threshold;  /* s; |offset| above it is stepped (0: never step) */
    double panic_threshold; /* s; |offset| above it is refused after the first correction,
                             * and also for the first unless allow_first (0: no limit) */
    double stepout;         /* s; after the first correction an offset beyond the step
                             * threshold must persist this long before a step; until then
                             * such samples are ignored as spikes (0: step at once) */
    bool allow_first;       /* ntpd -g: the first correction may be of any size */
    double step_limit;      /* s; cap on the sum of |steps| over the run (0: no cap) */
    double max_freq_ppm;    /* the applied frequency is kept within +-this */
    double corr_ratio;      /* the estimated offset is removed over corr_ratio poll
                             * intervals */
    double drift_skew_ppm;  /* assumed error of a drift file's frequency */
};

/* Fills the defaults above (step 0.128, panic 1000, stepout 900, allow_first false, no step
 * limit, 500 ppm, corr_ratio 2, drift_skew 1 ppm). */
void discipline_config_default(struct discipline_config *cfg);

enum discipline_kind {
    DISCIPLINE_NONE = 0,   /* sample ignored: a spike inside the stepout, stale, not finite */
    DISCIPLINE_FREQ,       /* run the clock at freq_ppm until the next update or tick */
    DISCIPLINE_STEP,       /* step the clock by step s (add it), then run at freq_ppm */
    DISCIPLINE_PANIC,      /* |offset| beyond the panic threshold: refuse, log "panic" */
    DISCIPLINE_STEP_LIMIT, /* a step would pass step_limit: refused, clock left alone */
};

struct discipline_action {
    enum discipline_kind kind;
    double step;     /* s, for DISCIPLINE_STEP: add this to the clock */
    double freq_ppm; /* for FREQ and STEP: the total frequency correction to apply;
                      * positive makes the clock run faster */
};

struct discipline {
    struct discipline_config cfg;
    /* The correction applied so far, C(t): steps plus the integral of the applied
     * frequency. offset + C(t) is what the offset would be had nothing been corrected;
     * that is the quantity regressed, so samples survive frequency changes and steps. */
    double corr;     /* s, C at corr_t */
    double corr_t;   /* monotonic s */
    double freq_set; /* s/s, the frequency correction being applied */
    double corr_end; /* monotonic s at which the phase term ends and the frequency
                      * falls back to freq_est (discipline_tick); <= corr_t: none */
    /* Breakpoints of C(t): where the applied frequency last changed, newest last, so an
     * offset measured a few polls ago can still be related to C at its time. */
    unsigned n_hist;
    double hist_t[DISCIPLINE_HIST], hist_c[DISCIPLINE_HIST], hist_f[DISCIPLINE_HIST];
    unsigned n;                        /* samples in the window, oldest first */
    double st[DISCIPLINE_MAX_SAMPLES]; /* monotonic s */
    double sy[DISCIPLINE_MAX_SAMPLES]; /* s, offset + C(t) */
    double se[DISCIPLINE_MAX_SAMPLES]; /* s, error estimate as given */
    double prior_freq;                 /* s/s: drift file, or 0 */
    double prior_skew;                 /* s/s */
    double freq_est;                   /* s/s, frequency estimate (the drift) */
    double skew;                       /* s/s, its standard error */
    double offset_est;  /* s, estimated offset at the last update (before correction) */
    double offset_err;  /* s, its standard error */
    double noise;       /* s, residual sd of the best samples (regression scale) */
    double stepped;     /* s, sum of |steps| */
    double spike_since; /* monotonic s; valid when in_spike */
    bool in_spike;
    bool first_done; /* a correction (of any size) has been made: panic armed */
    unsigned updates;
    double update_t;    /* monotonic s of the last update */
    double update_corr; /* C(update_t) */
};

/* Starts the discipline at monotonic time now. With have_drift, drift_ppm (from the drift
 * file) is the first frequency estimate and is applied at once (discipline_freq_ppm gives
 * it); otherwise 0. cfg is copied. */
void discipline_init(struct discipline *d, const struct discipline_config *cfg, double now,
                     double drift_ppm, bool have_drift);

/* One update: offset is the system offset (s, server minus ours: the correction to apply)
 * measured at monotonic time now; err (s, > 0) an error estimate whose excess over the
 * smallest in the window bounds the offset's error (half the round-trip delay, or a root
 * distance); poll_log2 the interval until the next update is expected: the estimated
 * offset is removed by a frequency term over corr_ratio such intervals, after which
 * discipline_tick puts the plain frequency estimate back. Returns the action; the caller
 * applies it (a STEP also means: flush filters and outstanding requests). */
struct discipline_action discipline_update(struct discipline *d, double now, double offset,
                                           double err, int poll_log2);

/* The same for an offset measured at monotonic time t <= now (the filter hands on the best
 * of its last samples, which may be a few polls old). A t older than the last sample used
 * is ignored (DISCIPLINE_NONE). */
struct discipline_action discipline_update_at(struct discipline *d, double now, double t,
                                              double offset, double err, int poll_log2);

/* An offset measured at time t, brought to time t_to (both within the last
 * DISCIPLINE_HIST frequency changes): what it would read then, by the frequency estimate
 * and the corrections made in between. For combining several sources' samples. */
double discipline_offset_at(const struct discipline *d, double t, double offset, double t_to);

/* The monotonic time at which the engine must call discipline_tick (the phase correction
 * is complete), or a negative number when no call is due. */
double discipline_deadline(const struct discipline *d);

/* At the deadline: returns DISCIPLINE_FREQ with the plain frequency estimate when the phase
 * correction has run its course (now >= deadline), else DISCIPLINE_NONE. The accounting
 * assumes the new frequency took effect at the deadline itself. */
struct discipline_action discipline_tick(struct discipline *d, double now);

/* Steps now by the offset still to correct (the last estimate less what the phase term
 * has removed since): `stratum ctl step`, chrony's makestep. Returns DISCIPLINE_STEP with
 * it, DISCIPLINE_STEP_LIMIT when the total of steps would pass step_limit, or
 * DISCIPLINE_NONE before the first update (no estimate). The frequency stays. */
struct discipline_action discipline_step_now(struct discipline *d, double now);

/* C(now): the correction applied since init, s (now at or after the last update). */
double discipline_correction(const struct discipline *d, double now);

/* The frequency correction being applied, ppm (what the backend should be running). */
double discipline_freq_applied_ppm(const struct discipline *d);

/* For status and the engine's poll policy. */
struct discipline_status {
    double offset;     /* s, estimated offset at the last update, before correction */
    double offset_err; /* s, its standard error */
    double noise;      /* s, sd of the best samples about the regression line */
    double freq_ppm;   /* frequency estimate */
    double skew_ppm;   /* its standard error */
    double freq_applied_ppm;
    double stepped;   /* s, sum of |steps| so far */
    unsigned samples; /* in the regression window */
    bool first_done;  /* a correction was made: the panic threshold is armed */
};
void discipline_get_status(const struct discipline *d, struct discipline_status *out);

/* The frequency estimate (for the drift file and status), ppm, and its standard error. */
double discipline_freq_ppm(const struct discipline *d);
double discipline_skew_ppm(const struct discipline *d);

#endif
