/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * filter: the per-source clock filter of RFC 5905 sec. 10. An 8-stage register of the
 * latest samples; the one with the lowest delay is chosen, the dispersion of each stage
 * ages by PHI, the peer jitter is the RMS of the offset differences to the chosen sample,
 * and a chosen sample is handed on only if it is newer than the last one handed on.
 * Pure: "now" is monotonic seconds passed in; no globals, no allocation. Selection across
 * sources and the clock discipline belong to select and discipline.
 */
#ifndef STRATUM_FILTER_H
#define STRATUM_FILTER_H

#include <stdbool.h>

#define FILTER_NSTAGE 8
/* RFC 5905 sec. 7.2: frequency tolerance, s/s: a stored sample's dispersion grows by it. */
#define FILTER_PHI 15e-6
/* RFC 5905 sec. 7.2: MAXDISP, the dispersion (and delay) of an empty stage. */
#define FILTER_MAXDISP 16.0

struct filter_stage {
    double t;          /* monotonic s at which the sample was taken */
    double offset;     /* s */
    double delay;      /* s, round trip */
    double dispersion; /* s, at time t */
    bool valid;
};

struct filter {
    struct filter_stage reg[FILTER_NSTAGE];
    unsigned next; /* stage the next sample goes into */
    double last_t; /* time of the last sample handed on */
    bool have_last;
};

/* What filter_select hands on. */
struct filter_out {
    double t;          /* monotonic s of the chosen sample */
    double offset;     /* s, of the chosen sample */
    double delay;      /* s, of the chosen sample */
    double dispersion; /* s, peer dispersion at now: sum of aged stage dispersions
                        * weighted 1/2, 1/4, ... in order of delay (empty = MAXDISP) */
    double jitter;     /* s, RMS of (offset_i - offset_chosen) over the other stored
                        * samples; 0 with a single sample */
    unsigned n;        /* stored samples */
};

/* Empties the register; the newer rule starts afresh. */
void filter_init(struct filter *f);

/* After a clock step: stored offsets no longer mean anything. Same as filter_init. */
void filter_clear(struct filter *f);

/* Stores one sample (from client_process) taken at monotonic time now, replacing the
 * oldest. Samples with a negative or non-finite delay, offset or dispersion are ignored
 * and false is returned. */
bool filter_add(struct filter *f, double now, double offset, double delay, double dispersion);

/* Chooses the lowest-delay stored sample and fills *out. Returns true only when that
 * sample is newer than the last one handed on (RFC 5905 sec. 10: an old sample is never
 * used twice), and then remembers it as handed on. With an empty register returns false. */
bool filter_select(struct filter *f, double now, struct filter_out *out);

/* Like filter_select but changes nothing and ignores the newer rule (for status). */
bool filter_peek(const struct filter *f, double now, struct filter_out *out);

#endif
