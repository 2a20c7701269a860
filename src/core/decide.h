/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * decide: what `stratum sync` does with a measured offset: step, slew or refuse, from the
 * number of servers that answered and agreed and the thresholds. Pure; the clock backend
 * carries out the decision.
 */
#ifndef STRATUM_DECIDE_H
#define STRATUM_DECIDE_H

#include <stdbool.h>
#include <stddef.h>

enum sync_mode { SYNC_AUTO = 0, SYNC_STEP, SYNC_SLEW };

struct sync_policy {
    enum sync_mode mode;        /* auto: slew below threshold, step above */
    double step_threshold;      /* s, default 0.128 */
    double max_step;            /* s, default 1000; refuse beyond unless force */
    bool force;
    size_t min_agree;           /* 0: a majority of those that answered */
};

enum sync_action {
    SYNC_NOTHING = 0,           /* offset is zero (|offset| < 1 ns) */
    SYNC_DO_SLEW,
    SYNC_DO_STEP,
    SYNC_REFUSE_NONE,           /* no server answered usefully */
    SYNC_REFUSE_DISAGREE,       /* fewer agreeing servers than required */
    SYNC_REFUSE_TOO_LARGE,      /* |offset| > max_step and not forced */
};

/* Decides. n_answered: servers with a usable sample; n_agree: truechimers among them. */
enum sync_action sync_decide(const struct sync_policy *p, size_t n_answered, size_t n_agree,
                             double offset);

/* Agreeing servers required for n_answered under p (the majority rule when min_agree is 0:
 * n / 2 + 1). */
size_t sync_required(const struct sync_policy *p, size_t n_answered);

const char *sync_action_name(enum sync_action a);

#endif
