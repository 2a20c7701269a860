/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * select: which sources agree. The interval intersection of RFC 5905 sec. 11.2.1 (after
 * Marzullo): each source's correctness interval is [offset - distance, offset +
 * distance]; the largest set of sources whose intervals share a point, allowing fewer
 * than half to be falsetickers, are the truechimers. Then a combined offset weighted by
 * 1 / distance (sec. 11.2.3), and the clustering of sec. 11.2.2 that trims the
 * truechimers farthest from the rest. Pure. Shared by `stratum query` / `sync` and the
 * daemon.
 */
#ifndef STRATUM_SELECT_H
#define STRATUM_SELECT_H

#include <stdbool.h>
#include <stddef.h>

#define SEL_MAX_SOURCES 64

struct sel_source {
    double offset;          /* s */
    double distance;        /* s, root distance (> 0); the interval's half width */
};

struct sel_result {
    size_t n_true;          /* number of truechimers (0: no majority agrees) */
    double low, high;       /* the intersection interval, valid when n_true > 0 */
    double offset;          /* combined offset of the truechimers, weighted by 1/distance */
    double jitter;          /* RMS of truechimer offsets about the combined offset */
};

/* Runs the intersection over n sources (n <= SEL_MAX_SOURCES; more are ignored) and
 * fills truechimer[i] for each: a source is a truechimer when its interval overlaps the
 * final intersection interval (ntpd's rule). The intersection must be agreed by more than
 * half of the sources: with f falsetickers allowed for f = 0 .. (n-1)/2, the smallest f
 * that gives a non-empty interval wins. With n == 0 or no majority, n_true is 0 and every
 * truechimer[i] is false. */
void sel_intersect(const struct sel_source *src, size_t n, bool *truechimer,
                   struct sel_result *out);

/* One source as clustering sees it. */
struct sel_cluster_source {
    double offset; /* s, brought to a common time */
    double jitter; /* s, the source's own (peer) jitter */
    bool keep;     /* never removed (ntpd's `true` option) */
};

/* RFC 5905 sec. 11.2.2: while more than minclock of the sources with survivor[i] set
 * remain, the one whose offset is farthest from the other survivors (the largest RMS
 * difference, its selection jitter) is removed, unless that selection jitter is already
 * no larger than the smallest peer jitter among the survivors (nothing more to gain).
 * Sources with keep set are never removed. Clears survivor[i] of the removed sources;
 * returns how many survive. n <= SEL_MAX_SOURCES (more are ignored). */
size_t sel_cluster(const struct sel_cluster_source *src, size_t n, unsigned minclock,
                   bool *survivor);

#endif
