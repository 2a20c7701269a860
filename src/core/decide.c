/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * decide: the one-shot correction policy of `stratum sync` (step, slew or refuse), from
 * the counts of answering and agreeing servers and the combined offset. Pure; carrying
 * the decision out belongs to the clock backend, and measuring to client/select.
 */
#include "decide.h"

#include <math.h>

/* Offsets below this are no correction at all (1 ns, the clock interfaces' resolution). */
#define SYNC_ZERO 1e-9

size_t sync_required(const struct sync_policy *p, size_t n_answered)
{
    /* An explicit minimum stands even above the number that answered: then nothing can
     * meet it and the decision refuses, which is what the operator asked for. */
    if (p->min_agree > 0) {
        return p->min_agree;
    }
    /* Majority: more than half of the servers that answered (RFC 5905 sec. 11.2.1 allows
     * fewer than half to be falsetickers). */
    return n_answered / 2 + 1;
}

enum sync_action sync_decide(const struct sync_policy *p, size_t n_answered, size_t n_agree,
                             double offset)
{
    /* A non-finite offset is no usable answer, whatever the counts or force say. */
    if (n_answered == 0 || !isfinite(offset)) {
        return SYNC_REFUSE_NONE;
    }
    if (n_agree < sync_required(p, n_answered)) {
        return SYNC_REFUSE_DISAGREE;
    }
    double magnitude = fabs(offset);
    /* RFC 5905 Appendix A.5.5 (PANICT): beyond the panic bound only on explicit request. */
    if (magnitude > p->max_step && !p->force) {
        return SYNC_REFUSE_TOO_LARGE;
    }
    switch (p->mode) {
    case SYNC_STEP:
        return SYNC_DO_STEP;
    case SYNC_SLEW:
        return SYNC_DO_SLEW;
    case SYNC_AUTO:
    default:
        break;
    }
    /* Nothing to correct comes first, so that --threshold 0 does not step by zero. */
    if (magnitude < SYNC_ZERO) {
        return SYNC_NOTHING;
    }
    /* RFC 5905 Appendix A.5.5 (STEPT): at or above the step threshold, step; below, slew. */
    if (magnitude >= p->step_threshold) {
        return SYNC_DO_STEP;
    }
    return SYNC_DO_SLEW;
}

const char *sync_action_name(enum sync_action a)
{
    switch (a) {
    case SYNC_NOTHING:
        return "nothing";
    case SYNC_DO_SLEW:
        return "slew";
    case SYNC_DO_STEP:
        return "step";
    case SYNC_REFUSE_NONE:
        return "refuse-none";
    case SYNC_REFUSE_DISAGREE:
        return "refuse-disagree";
    case SYNC_REFUSE_TOO_LARGE:
        return "refuse-too-large";
    }
    return "unknown";
}
