/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * filter: RFC 5905 sec. 10 clock filter over a fixed 8-stage register. Sorting is an
 * insertion sort of 8 indices; nothing grows with input.
 */
#include "filter.h"

#include <math.h>
#include <string.h>

void filter_init(struct filter *f)
{
    memset(f, 0, sizeof(*f));
}

void filter_clear(struct filter *f)
{
    filter_init(f);
}

bool filter_add(struct filter *f, double now, double offset, double delay, double dispersion)
{
    if (!isfinite(now) || !isfinite(offset) || !isfinite(delay) || !isfinite(dispersion) ||
        delay < 0.0 || dispersion < 0.0) {
        return false;
    }
    struct filter_stage *s = &f->reg[f->next];
    s->t = now;
    s->offset = offset;
    s->delay = delay;
    s->dispersion = dispersion;
    s->valid = true;
    f->next = (f->next + 1) % FILTER_NSTAGE;
    return true;
}

/* Stage indices in order of delay, empty stages last; ties go to the newer sample. */
static unsigned sort_stages(const struct filter *f, unsigned idx[FILTER_NSTAGE])
{
    unsigned n = 0;
    for (unsigned i = 0; i < FILTER_NSTAGE; i++) {
        if (!f->reg[i].valid) {
            continue;
        }
        unsigned j = n++;
        while (j > 0) {
            const struct filter_stage *a = &f->reg[idx[j - 1]];
            const struct filter_stage *b = &f->reg[i];
            if (a->delay < b->delay || (a->delay == b->delay && a->t >= b->t)) {
                break;
            }
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = i;
    }
    return n;
}

bool filter_peek(const struct filter *f, double now, struct filter_out *out)
{
    unsigned idx[FILTER_NSTAGE];
    unsigned n = sort_stages(f, idx);
    if (n == 0) {
        return false;
    }
    const struct filter_stage *best = &f->reg[idx[0]];
    /* RFC 5905 sec. 10: epsilon = sum over stages of eps_i / 2^(i+1), i in delay order,
     * each stage's dispersion aged by PHI since it was taken; empty stages count MAXDISP. */
    double disp = 0.0, w = 0.5, sq = 0.0;
    for (unsigned i = 0; i < FILTER_NSTAGE; i++, w *= 0.5) {
        double e = FILTER_MAXDISP;
        if (i < n) {
            const struct filter_stage *s = &f->reg[idx[i]];
            double age = now - s->t;
            e = s->dispersion + FILTER_PHI * (age > 0.0 ? age : 0.0);
            if (e > FILTER_MAXDISP) {
                e = FILTER_MAXDISP;
            }
            if (i > 0) {
                double d = s->offset - best->offset;
                sq += d * d;
            }
        }
        disp += e * w;
    }
    out->t = best->t;
    out->offset = best->offset;
    out->delay = best->delay;
    out->dispersion = disp;
    out->jitter = n > 1 ? sqrt(sq / (double)(n - 1)) : 0.0;
    out->n = n;
    return true;
}

bool filter_select(struct filter *f, double now, struct filter_out *out)
{
    if (!filter_peek(f, now, out)) {
        return false;
    }
    if (f->have_last && out->t <= f->last_t) {
        return false;
    }
    f->last_t = out->t;
    f->have_last = true;
    return true;
}
