/* SPDX-License-Identifier: MIT */
/*
 * Page-access traces for window-pressure experiments, as pure functions of
 * their parameters: the simulated guest replays one (the `trace` workload)
 * and an offline tool computes Belady's optimal eviction on the very same
 * sequence (bench/).
 *
 *   loop: pages 0, 1, ..., pages-1, 0, 1, ... (a working set scanned cyclically)
 *   zipf: page ranks drawn from a Zipf distribution of exponent s (given in
 *         hundredths), rank r mapped to page (r * 0x9e3779b1) % pages so
 *         hot pages are scattered over the range, not packed at its start.
 */
#ifndef XENSIM_TRACE_H
#define XENSIM_TRACE_H

#include <math.h>
#include <stdint.h>
#include <stdlib.h>

#include "pattern.h"

enum trace_kind { TRACE_LOOP, TRACE_ZIPF };

struct trace {
    enum trace_kind kind;
    uint64_t pages;
    uint64_t rng;
    double *cdf; /* zipf: cumulative probabilities by rank */
};

/* 0, or -1 if the cumulative table cannot be allocated. */
static inline int trace_init(struct trace *t, enum trace_kind kind, uint64_t pages,
                             unsigned int s_hundredths, uint64_t seed)
{
    t->kind = kind;
    t->pages = pages;
    t->rng = seed;
    t->cdf = NULL;
    if (kind == TRACE_ZIPF) {
        double sum = 0, s = s_hundredths / 100.0;

        t->cdf = malloc(pages * sizeof(double));
        if (!t->cdf)
            return -1;
        for (uint64_t r = 0; r < pages; r++) {
            sum += 1.0 / pow((double)(r + 1), s);
            t->cdf[r] = sum;
        }
        for (uint64_t r = 0; r < pages; r++)
            t->cdf[r] /= sum;
    }
    return 0;
}

static inline void trace_fini(struct trace *t)
{
    free(t->cdf);
    t->cdf = NULL;
}

/* The i-th page of the trace (call with i = 0, 1, 2, ... in order). */
static inline uint64_t trace_next(struct trace *t, uint64_t i)
{
    if (t->kind == TRACE_LOOP)
        return i % t->pages;
    double u = (double)(pattern_splitmix64(t->rng++) >> 11) / (double)(1ULL << 53);
    uint64_t lo = 0, hi = t->pages - 1;
    while (lo < hi) {
        uint64_t mid = (lo + hi) / 2;
        if (t->cdf[mid] < u)
            lo = mid + 1;
        else
            hi = mid;
    }
    return (lo * 0x9e3779b1ULL) % t->pages;
}

#endif
