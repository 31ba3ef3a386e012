/* SPDX-License-Identifier: MIT */
/* The resident window's replacement policy (evict.h). */
#include "evict.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "lend_abi.h"

/*
 * The filter's constants, measured with bench/belady.c (bench/README.md):
 * byte counts and a halving every 100 windows of counts, not TinyLFU's
 * 4-bit counts and 10 windows: on the Zipf traces few pages near the
 * window's edge are used often enough to rank with less history (1.16x the
 * popularity oracle with 10 windows, 1.15x with 100; on a 10x longer trace
 * 1.21x against 1.09x). Main's victim is the least counted of up to
 * EVICT_SAMPLES unreferenced groups the hand finds (4: 1.147x against 1.164x
 * with 1, no better with 8 or 16).
 */
#define SKETCH_ROWS          4
#define SKETCH_MAX_WIDTH     (1u << 16)
#define SKETCH_COUNT_MAX     255
#define SKETCH_RESET_WINDOWS 100
#define EVICT_SAMPLES        4

static bool bit_test(const uint64_t *map, uint64_t i)
{
    return map[i / 64] >> (i % 64) & 1;
}

static void bit_set(uint64_t *map, uint64_t i)
{
    map[i / 64] |= 1ULL << (i % 64);
}

static void bit_clear(uint64_t *map, uint64_t i)
{
    map[i / 64] &= ~(1ULL << (i % 64));
}

int evict_policy_parse(const char *name, enum evict_policy *out)
{
    if (strcmp(name, "clock") == 0)
        *out = EVICT_CLOCK;
    else if (strcmp(name, "tinylfu") == 0)
        *out = EVICT_TINYLFU;
    else
        return -EINVAL;
    return 0;
}

const char *evict_policy_name(enum evict_policy p)
{
    return p == EVICT_TINYLFU ? "tinylfu" : "clock";
}

int evict_init(struct evict *e, enum evict_policy policy, uint64_t pages, uint64_t group_pages,
               uint64_t window_pages)
{
    memset(e, 0, sizeof(*e));
    if (!pages || !group_pages || pages % group_pages || !window_pages)
        return -EINVAL;
    e->policy = policy;
    e->pages = pages;
    e->group_pages = group_pages;
    e->groups = pages / group_pages;
    e->window_groups = window_pages / group_pages ? window_pages / group_pages : 1;
    e->budget = EVICT_SWEEP_MAX;
    e->referenced = calloc((e->groups + 63) / 64, sizeof(uint64_t));
    e->main = calloc((e->groups + 63) / 64, sizeof(uint64_t));
    /* Probation: 1% of the window, as W-TinyLFU's admission window. */
    e->ring_cap = e->window_groups / 100 ? e->window_groups / 100 : 1;
    e->ring_size = e->ring_cap + EVICT_RING_SLACK;
    e->ring = calloc(e->ring_size, sizeof(uint64_t));
    if (!e->referenced || !e->main || !e->ring) {
        evict_free(e);
        return -ENOMEM;
    }
    return 0;
}

void evict_free(struct evict *e)
{
    free(e->referenced);
    free(e->main);
    free(e->ring);
    free(e->sketch);
    e->referenced = e->main = e->ring = NULL;
    e->sketch = NULL;
}

/* ---- The frequency filter: a count-min sketch of 4-bit counts ---- */

static uint64_t mix64(uint64_t x)
{
    x ^= x >> 30;
    x *= 0xbf58476d1ce4e5b9ULL;
    x ^= x >> 27;
    x *= 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

static uint8_t *sketch_cell(struct evict *e, unsigned int row, uint64_t g)
{
    return &e->sketch[row * e->width + (mix64(g * SKETCH_ROWS + row) & (e->width - 1))];
}

/* Allocated at the first use: a daemon that never fills its window never pays for it. */
static bool sketch_ready(struct evict *e)
{
    uint64_t w = 64;

    if (e->sketch)
        return true;
    while (w < 2 * e->window_groups && w < SKETCH_MAX_WIDTH)
        w *= 2;
    e->sketch = calloc(SKETCH_ROWS * w, 1);
    if (!e->sketch)
        return false;
    e->width = w;
    e->reset_at = SKETCH_RESET_WINDOWS * e->window_groups;
    return true;
}

static unsigned int sketch_estimate(struct evict *e, uint64_t g)
{
    unsigned int est = UINT8_MAX;

    if (!e->sketch)
        return 0;
    for (unsigned int r = 0; r < SKETCH_ROWS; r++) {
        unsigned int c = *sketch_cell(e, r, g);
        est = c < est ? c : est;
    }
    return est;
}

static void sketch_add(struct evict *e, uint64_t g)
{
    if (!sketch_ready(e))
        return;
    for (unsigned int r = 0; r < SKETCH_ROWS; r++) {
        uint8_t *c = sketch_cell(e, r, g);
        if (*c < SKETCH_COUNT_MAX)
            (*c)++;
    }
    /* Forget old use: every count halves (bounded: the sketch's size, once per 10 windows). */
    if (++e->counts >= e->reset_at) {
        for (uint64_t i = 0; i < SKETCH_ROWS * e->width; i++)
            e->sketch[i] >>= 1;
        e->counts /= 2;
    }
}

/* ---- What the daemon tells the policy ---- */

void evict_request_begin(struct evict *e)
{
    e->budget = EVICT_SWEEP_MAX;
    e->evicted = false;
}

static bool group_resident(const struct evict *e, const struct bitmap *resident, uint64_t g)
{
    return bitmap_count_range(resident, g * e->group_pages, e->group_pages) != 0;
}

/*
 * Stale entries (a group that left or was promoted) are only checked when
 * popped as candidates: being made main again does them no harm.
 */
static void probation_promote_oldest(struct evict *e)
{
    uint64_t c = e->ring[e->ring_head];

    e->ring_head = (e->ring_head + 1) % e->ring_size;
    e->ring_len--;
    bit_set(e->main, c);
}

void evict_mapped(struct evict *e, uint64_t g, bool fresh, bool faulted)
{
    if (e->policy == EVICT_CLOCK) {
        if (faulted)
            bit_set(e->referenced, g);
        return;
    }
    if (!fresh)
        return;
    bit_clear(e->main, g);
    bit_clear(e->referenced, g);
    if (e->ring_len == e->ring_size)
        probation_promote_oldest(e); /* cannot happen with chunks of at most the slack */
    e->ring[(e->ring_head + e->ring_len++) % e->ring_size] = g;
    /*
     * Probation over its size while the window had room (this request
     * evicted nothing: filling up, or after invalidations): the oldest go to
     * main without a contest. When the request did evict, they stay: the
     * next evictions contest them, so a readahead chunk of scanned groups
     * cycles through probation instead of flushing main.
     */
    while (!e->evicted && e->ring_len > e->ring_cap)
        probation_promote_oldest(e);
}

static void note_use(struct evict *e, uint64_t g)
{
    bit_set(e->referenced, g);
    if (e->policy == EVICT_TINYLFU)
        sketch_add(e, g);
}

int evict_age(struct evict *e, const struct bitmap *resident, uint64_t max_pages, evict_age_fn age,
              void *ctx)
{
    uint64_t bits[LEND_AGE_MAX_PAGES / 64];
    uint64_t start, first;
    bool wrapped = false;

    if (max_pages > LEND_AGE_MAX_PAGES)
        max_pages = LEND_AGE_MAX_PAGES;
    start = bitmap_next_set(resident, e->age_cursor < e->pages ? e->age_cursor : 0);
    if (start >= e->pages) {
        start = bitmap_next_set(resident, 0);
        wrapped = true;
    }
    if (start >= e->pages || max_pages == 0)
        return 0;
    first = start;
    for (unsigned int call = 0; call < EVICT_AGE_CALLS; call++) {
        uint64_t n = max_pages < e->pages - start ? max_pages : e->pages - start;
        uint64_t last = EVICT_NONE;
        int rc = age(ctx, start, n, bits);

        if (rc)
            return rc;
        for (uint64_t w = 0; w < (n + 63) / 64; w++) {
            for (uint64_t b = bits[w]; b; b &= b - 1) {
                uint64_t p = start + w * 64 + (uint64_t)__builtin_ctzll(b), g;

                /* Only pages still resident after the events: a use never maps anything. */
                if (p >= start + n || !bitmap_test(resident, p))
                    continue;
                g = p / e->group_pages;
                if (g != last)
                    note_use(e, g);
                last = g;
            }
        }
        e->age_cursor = start + n;
        start = bitmap_next_set(resident, e->age_cursor);
        if (start >= e->pages) {
            if (wrapped)
                break;
            wrapped = true;
            start = bitmap_next_set(resident, 0);
        }
        /* Once round: what this request aged is not aged again. */
        if (start >= e->pages || (wrapped && start >= first))
            break;
    }
    return 0;
}

/*
 * The CLOCK hand over groups with resident pages (of main only, for
 * tinylfu): a referenced group is spared once. Spends the request's budget.
 */
static uint64_t clock_victim(struct evict *e, const struct bitmap *resident, uint64_t keep_lo,
                             uint64_t keep_hi, bool main_only)
{
    while (e->budget) {
        uint64_t p, g;

        e->budget--;
        p = bitmap_next_set(resident, e->hand * e->group_pages);
        if (p >= e->pages)
            p = bitmap_next_set(resident, 0); /* wrap */
        if (p >= e->pages)
            return EVICT_NONE;
        g = p / e->group_pages;
        e->hand = (g + 1) % e->groups;
        if (g >= keep_lo && g <= keep_hi)
            continue;
        if (main_only && !bit_test(e->main, g))
            continue;
        if (bit_test(e->referenced, g)) {
            bit_clear(e->referenced, g);
            continue;
        }
        return g;
    }
    return EVICT_NONE;
}

/*
 * Main's victim for a contest: the least counted of up to EVICT_SAMPLES
 * groups CLOCK would evict, as Redis samples for its approximate LFU. Those
 * not chosen were counted more than the victim: they get the second chance
 * a use would have given them (measured: 1.147x the oracle on zipf-2x,
 * 1.156x if they keep their place unreferenced).
 */
static uint64_t main_victim(struct evict *e, const struct bitmap *resident, uint64_t keep_lo,
                            uint64_t keep_hi)
{
    uint64_t v = clock_victim(e, resident, keep_lo, keep_hi, true);

    for (unsigned int k = 1; k < EVICT_SAMPLES && v != EVICT_NONE; k++) {
        uint64_t w = clock_victim(e, resident, keep_lo, keep_hi, true);

        if (w == EVICT_NONE || w == v)
            break; /* the bound, or the hand came round: v is all there is */
        if (sketch_estimate(e, w) < sketch_estimate(e, v)) {
            bit_set(e->referenced, v);
            v = w;
        } else {
            bit_set(e->referenced, w);
        }
    }
    return v;
}

/* The oldest group of probation still in it (stale entries dropped), or EVICT_NONE. */
static uint64_t probation_head(struct evict *e, const struct bitmap *resident)
{
    while (e->ring_len) {
        uint64_t c = e->ring[e->ring_head];

        if (group_resident(e, resident, c) && !bit_test(e->main, c))
            return c;
        e->ring_head = (e->ring_head + 1) % e->ring_size;
        e->ring_len--;
    }
    return EVICT_NONE;
}

static void probation_pop(struct evict *e)
{
    e->ring_head = (e->ring_head + 1) % e->ring_size;
    e->ring_len--;
}

static uint64_t choose(struct evict *e, const struct bitmap *resident, uint64_t keep_lo,
                       uint64_t keep_hi)
{
    /* The groups about to be mapped (a readahead chunk): they will enter probation. */
    uint64_t c, v, pending = keep_hi - keep_lo + 1;

    if (e->policy == EVICT_CLOCK)
        return clock_victim(e, resident, keep_lo, keep_hi, false);
    c = probation_head(e, resident);
    if (c != EVICT_NONE && c >= keep_lo && c <= keep_hi)
        c = EVICT_NONE;
    /* Probation has room for what comes: it grows, main gives its least counted. */
    if (c == EVICT_NONE || e->ring_len + pending <= e->ring_cap) {
        v = main_victim(e, resident, keep_lo, keep_hi);
        if (v != EVICT_NONE || c == EVICT_NONE)
            return v;
        probation_pop(e);
        return c;
    }
    /* The candidate against main's victim: the one used more stays, a tie keeps main. */
    v = main_victim(e, resident, keep_lo, keep_hi);
    probation_pop(e);
    if (v != EVICT_NONE && sketch_estimate(e, c) > sketch_estimate(e, v)) {
        bit_set(e->main, c);
        e->promoted++;
        return v;
    }
    e->rejected++;
    return c;
}

uint64_t evict_choose(struct evict *e, const struct bitmap *resident, uint64_t keep_lo,
                      uint64_t keep_hi)
{
    uint64_t g = choose(e, resident, keep_lo, keep_hi);

    if (g != EVICT_NONE)
        e->evicted = true;
    return g;
}
