/* SPDX-License-Identifier: MIT */
/*
 * The replacement policy of lending mode's resident window (remap.c), over
 * fault-around groups, apart from any Xen call so that bench/belady.c runs
 * the very same code offline and unit tests drive it directly.
 *
 *   clock    second-chance CLOCK: the hand walks the groups that have
 *            resident pages; a referenced group is spared once. Without
 *            accessed bits a group is referenced only when a fault maps it,
 *            so this is FIFO with a second chance (the daemon before aging).
 *   tinylfu  the default: a small probation FIFO in front of a main CLOCK,
 *            and a frequency filter between them, after W-TinyLFU (Einziger,
 *            Friedman, Manes, 2017). A group a fault maps enters probation;
 *            when probation is full its oldest group is a candidate, and
 *            becomes main only if the filter has seen it used more often
 *            than the main CLOCK's victim; otherwise the candidate goes.
 *            A readahead chunk enters probation whole (up to
 *            EVICT_RING_SLACK groups beyond its size), so a stream cycles
 *            through probation instead of flushing main.
 *            Use is what aging reports: one count per aging pass that found
 *            a group accessed. The filter is a count-min sketch of byte
 *            counters sized to the window, halved every 100 windows of
 *            counts: it remembers the use of groups no longer resident
 *            (TinyLFU's ghost history, in bounded memory), and forgets old
 *            use. Main's victim is the least counted of a few groups its
 *            CLOCK would evict. A loop larger than the window gives every group the same
 *            count, so candidates never displace main (ties go against the
 *            candidate): main keeps a fixed part of the loop, as LIRS and
 *            CLOCK-Pro do, where LRU and CLOCK miss every access. On a skewed
 *            (Zipf) pattern the counts rank groups by popularity.
 *            It needs accessed bits: without them (a revision-2 kernel)
 *            every count is 0 and main would never change, so the daemon
 *            uses clock then.
 *
 * Memory: two bits per group of the BAR (referenced, main), the sketch
 * (4 rows of 2 x window groups, at most 2^16 counters a row: <= 256 KiB,
 * allocated at the first eviction) and a probation ring of window / 100
 * groups. Work per call is bounded: a victim search visits at most
 * EVICT_SWEEP_MAX groups (the caller answers "retry" and the next request
 * continues), aging at most EVICT_AGE_CALLS calls of LEND_AGE_MAX_PAGES
 * pages, halving the sketch its size in bytes once every 10 windows.
 */
#ifndef IOREQ_LEND_EVICT_H
#define IOREQ_LEND_EVICT_H

#include <stdbool.h>
#include <stdint.h>

#include "bitmap.h"

/* The default first: a zeroed configuration gets it. */
enum evict_policy { EVICT_TINYLFU, EVICT_CLOCK };

/*
 * Groups with resident pages one victim search may visit. A whole CLOCK
 * sweep of a window whose groups are all referenced visits every group
 * twice; past this bound the request is answered "retry" and the next one
 * continues from the hand. More than the 2 x 256 groups of the window
 * benchmark's sweeps.
 */
#define EVICT_SWEEP_MAX 1024
/*
 * Aging per request: at most this many calls of LEND_AGE_MAX_PAGES pages.
 * One: a request's cost must not depend on how sparse the resident pages
 * are (with a small window in a 64 GiB BAR a call covers one resident page,
 * a second call would double the round trips of every fault there and not
 * at 16 MiB); a window of up to 4096 dense pages is still aged whole.
 */
#define EVICT_AGE_CALLS 1
#define EVICT_NONE UINT64_MAX
/*
 * Probation may hold this many groups beyond its size while a request
 * evicts: a readahead chunk (at most 512 pages) enters it whole.
 */
#define EVICT_RING_SLACK 512

struct evict {
    enum evict_policy policy;
    uint64_t pages, group_pages, groups, window_groups;
    uint64_t *referenced; /* a bit per group: used since the hand last passed */
    uint64_t *main;       /* a bit per group (tinylfu): in main, else in probation */
    uint64_t hand;        /* a group index */
    uint64_t budget;      /* group visits left to this request's victim searches */
    uint64_t age_cursor;  /* the page where the next aging pass starts */
    /* tinylfu */
    uint64_t *ring;       /* probation, oldest at ring_head */
    uint64_t ring_cap, ring_size, ring_head, ring_len;
    bool evicted;         /* this request evicted: probation may exceed its size */
    uint8_t *sketch;      /* 4 rows of `width` counters, NULL until the first eviction */
    uint64_t width, counts, reset_at;
    uint64_t promoted, rejected; /* candidates that became main, or were evicted */
};

/* 0 or -errno. `window_pages`: the most resident pages. */
int evict_init(struct evict *e, enum evict_policy policy, uint64_t pages, uint64_t group_pages,
               uint64_t window_pages);
void evict_free(struct evict *e);
/* "clock" or "tinylfu": 0, or -EINVAL for another name. */
int evict_policy_parse(const char *name, enum evict_policy *out);
const char *evict_policy_name(enum evict_policy p);

/*
 * A request begins (every ACCESS request, whether it evicts or not): its
 * victim searches may visit EVICT_SWEEP_MAX groups in all.
 */
void evict_request_begin(struct evict *e);

/*
 * Group g was mapped. `fresh`: it had no resident page before (it enters
 * tinylfu's probation; otherwise it keeps its place). `faulted`: the
 * faulting access's own group, a use for clock (without aging, the only one
 * it sees); tinylfu counts use from aging only, so that a faulting group
 * and a resident one count the same for the same accesses.
 */
void evict_mapped(struct evict *e, uint64_t g, bool fresh, bool faulted);

/*
 * Age the resident pages: call `age` on runs of the resident bitmap from
 * where the last pass stopped, at most EVICT_AGE_CALLS calls of at most
 * `max_pages` pages each. `age` tests and clears the accessed bits of
 * [first, first + n), writes them to bits, and must apply the kernel's
 * events before it returns: only bits of pages still resident afterwards
 * are believed (a use is never a reason to think a page mapped). Returns 0,
 * or the first error of `age` (then nothing more is aged).
 */
typedef int (*evict_age_fn)(void *ctx, uint64_t first, uint64_t n, uint64_t *bits);
int evict_age(struct evict *e, const struct bitmap *resident, uint64_t max_pages, evict_age_fn age,
              void *ctx);

/*
 * The next group to unmap so that pages can be mapped, never one of groups
 * [keep_lo, keep_hi]; EVICT_NONE if the search reached its bound or nothing
 * is resident outside them. The caller unmaps it and clears its resident
 * bits; choosing it again before that is the caller's bug.
 */
uint64_t evict_choose(struct evict *e, const struct bitmap *resident, uint64_t keep_lo,
                      uint64_t keep_hi);

#endif
