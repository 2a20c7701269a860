/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * select: the interval intersection of RFC 5905 sec. 11.2.1 and the weighted combine of
 * sec. 11.2.3 over at most SEL_MAX_SOURCES sources. Pure, no allocation: every table is a
 * fixed-size array on the stack. The clustering step (sec. 11.2.2) and the system peer
 * choice belong to the caller.
 */
#include "select.h"

#include <math.h>
#include <string.h>

/* Largest |offset| + distance (s) taken as a measurement. Far beyond anything NTP can
 * express (+-68 years is about 2.1e9 s), small enough that no sum below can overflow. */
#define SEL_VALUE_LIMIT 1e15

enum edge_type { EDGE_LOW = 0, EDGE_HIGH = 1 };

struct edge {
    double value;
    enum edge_type type;
};

/* A source takes part only with a positive distance and finite values: anything else is
 * treated as absent, so it neither votes nor counts towards the majority. */
static bool source_usable(const struct sel_source *s)
{
    return isfinite(s->offset) && isfinite(s->distance) && s->distance > 0.0 &&
           fabs(s->offset) + s->distance <= SEL_VALUE_LIMIT;
}

/* Ascending by value; at equal values a low edge comes before a high edge, so a scan in
 * either direction counts a point shared by two closed intervals as inside both. */
static bool edge_before(const struct edge *a, const struct edge *b)
{
    if (a->value != b->value) {
        return a->value < b->value;
    }
    return a->type == EDGE_LOW && b->type == EDGE_HIGH;
}

static void sort_edges(struct edge *e, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        struct edge key = e[i];
        size_t j = i;
        while (j > 0 && edge_before(&key, &e[j - 1])) {
            e[j] = e[j - 1];
            j--;
        }
        e[j] = key;
    }
}

/* Source indices ordered by (offset, distance): the combine sums in this order, so the
 * result is the same, to the last bit, whatever order the caller listed the sources in. */
static void sort_indices(const struct sel_source *src, size_t *idx, size_t n)
{
    for (size_t i = 1; i < n; i++) {
        size_t key = idx[i];
        size_t j = i;
        while (j > 0) {
            const struct sel_source *a = &src[key];
            const struct sel_source *b = &src[idx[j - 1]];
            if (a->offset > b->offset || (a->offset == b->offset && a->distance >= b->distance)) {
                break;
            }
            idx[j] = idx[j - 1];
            j--;
        }
        idx[j] = key;
    }
}

/* RFC 5905 sec. 11.2.1 with f falsetickers allowed: the lowest point inside at least
 * m - f intervals (scanning up) and the highest (scanning down). Returns true and the
 * interval when both exist and low < high. The counts never go below zero: every
 * interval's low edge sorts before its high edge. */
static bool intersect_with(const struct edge *e, size_t n_edges, size_t need, double *low,
                           double *high)
{
    size_t count = 0;
    bool have_low = false;
    bool have_high = false;

    for (size_t i = 0; i < n_edges && !have_low; i++) {
        if (e[i].type == EDGE_LOW) {
            count++;
        } else {
            count--;
        }
        if (e[i].type == EDGE_LOW && count >= need) {
            *low = e[i].value;
            have_low = true;
        }
    }
    count = 0;
    for (size_t i = n_edges; i > 0 && !have_high; i--) {
        if (e[i - 1].type == EDGE_HIGH) {
            count++;
        } else {
            count--;
        }
        if (e[i - 1].type == EDGE_HIGH && count >= need) {
            *high = e[i - 1].value;
            have_high = true;
        }
    }
    return have_low && have_high && *low < *high;
}

void sel_intersect(const struct sel_source *src, size_t n, bool *truechimer, struct sel_result *out)
{
    struct edge edges[2 * SEL_MAX_SOURCES];
    size_t idx[SEL_MAX_SOURCES];
    size_t n_edges = 0;
    size_t m = 0;

    memset(out, 0, sizeof(*out));
    if (truechimer != NULL) {
        for (size_t i = 0; i < n; i++) {
            truechimer[i] = false;
        }
    }
    if (n > SEL_MAX_SOURCES) {
        n = SEL_MAX_SOURCES;
    }
    for (size_t i = 0; i < n; i++) {
        if (!source_usable(&src[i])) {
            continue;
        }
        edges[n_edges].value = src[i].offset - src[i].distance;
        edges[n_edges].type = EDGE_LOW;
        n_edges++;
        edges[n_edges].value = src[i].offset + src[i].distance;
        edges[n_edges].type = EDGE_HIGH;
        n_edges++;
        idx[m++] = i;
    }
    if (m == 0) {
        return;
    }
    sort_edges(edges, n_edges);

    /* RFC 5905 sec. 11.2.1: allow f = 0, 1, ... falsetickers while f < m / 2 (fewer than
     * half), and stop at the first f that leaves a non-empty intersection. The RFC's
     * midpoint count (d <= f) is not applied, as in ntpd's current code and chrony: with
     * intervals that are root distances it rejects ordinary jittery truechimers whose
     * offsets lie outside the common part of their intervals (see test_select). */
    double low = 0.0;
    double high = 0.0;
    bool found = false;
    for (size_t f = 0; 2 * f < m && !found; f++) {
        found = intersect_with(edges, n_edges, m - f, &low, &high);
    }
    if (!found) {
        return;
    }

    /* A truechimer's interval overlaps [low, high] (ntpd's rule); touching counts. */
    bool is_true[SEL_MAX_SOURCES];
    double d_min = INFINITY;
    for (size_t k = 0; k < m; k++) {
        const struct sel_source *s = &src[idx[k]];
        is_true[idx[k]] = s->offset + s->distance >= low && s->offset - s->distance <= high;
        if (is_true[idx[k]]) {
            out->n_true++;
            if (s->distance < d_min) {
                d_min = s->distance;
            }
            if (truechimer != NULL) {
                truechimer[idx[k]] = true;
            }
        }
    }

    /* RFC 5905 sec. 11.2.3: offsets weighted by 1 / distance. Weights are scaled by the
     * smallest distance (to (0, 1]) so a tiny distance cannot overflow the sums. */
    sort_indices(src, idx, m);
    double w_sum = 0.0;
    double wo_sum = 0.0;
    for (size_t k = 0; k < m; k++) {
        const struct sel_source *s = &src[idx[k]];
        if (is_true[idx[k]]) {
            double w = d_min / s->distance;
            w_sum += w;
            wo_sum += w * s->offset;
        }
    }
    double combined = wo_sum / w_sum;
    double sq_sum = 0.0;
    for (size_t k = 0; k < m; k++) {
        const struct sel_source *s = &src[idx[k]];
        if (is_true[idx[k]]) {
            double r = s->offset - combined;
            sq_sum += r * r;
        }
    }
    out->low = low;
    out->high = high;
    out->offset = combined;
    out->jitter = sqrt(sq_sum / (double)out->n_true);
}

size_t sel_cluster(const struct sel_cluster_source *src, size_t n, unsigned minclock,
                   bool *survivor)
{
    if (n > SEL_MAX_SOURCES) {
        n = SEL_MAX_SOURCES;
    }
    for (;;) {
        size_t alive = 0;
        for (size_t i = 0; i < n; i++) {
            alive += survivor[i];
        }
        if (alive <= minclock || alive < 2) {
            return alive;
        }
        double max_sj = -1.0, min_pj = INFINITY;
        size_t worst = n;
        for (size_t i = 0; i < n; i++) {
            if (!survivor[i]) {
                continue;
            }
            double sum = 0.0;
            for (size_t j = 0; j < n; j++) {
                if (survivor[j] && j != i) {
                    double d = src[j].offset - src[i].offset;
                    sum += d * d;
                }
            }
            double sj = sqrt(sum / (double)(alive - 1));
            min_pj = fmin(min_pj, src[i].jitter);
            if (!src[i].keep && sj > max_sj) {
                max_sj = sj;
                worst = i;
            }
        }
        if (worst == n || max_sj <= min_pj) {
            return alive;
        }
        survivor[worst] = false;
    }
}
