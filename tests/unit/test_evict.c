/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for evict.c, the resident window's replacement policy: a small
 * window driven as remap.c drives it (age before choosing, unmap the
 * victim, map the faulting page), with a model of the accessed bits.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "evict.h"
#include "lend_abi.h"

#define PAGES 4096

/* A window over PAGES one-page groups, the accessed bits, and what aging was asked. */
struct win {
    struct evict e;
    struct bitmap resident;
    uint64_t window;
    bool young[PAGES];
    /* What the age callback saw and does. */
    unsigned int age_calls;
    uint64_t max_n;
    int age_err;
    uint64_t invalidate_on_age; /* a page the host takes back during the call (UINT64_MAX: none) */
};

static void win_init(struct win *w, enum evict_policy p, uint64_t window)
{
    memset(w, 0, sizeof(*w));
    w->window = window;
    w->invalidate_on_age = UINT64_MAX;
    assert_int_equal(bitmap_init(&w->resident, PAGES), 0);
    assert_int_equal(evict_init(&w->e, p, PAGES, 1, window), 0);
}

static void win_free(struct win *w)
{
    evict_free(&w->e);
    bitmap_free(&w->resident);
}

/* The kernel's aging of [first, first + n): young & resident, cleared. */
static int age_cb(void *ctx, uint64_t first, uint64_t n, uint64_t *bits)
{
    struct win *w = ctx;

    w->age_calls++;
    w->max_n = n > w->max_n ? n : w->max_n;
    if (w->age_err)
        return -w->age_err;
    memset(bits, 0, (n + 63) / 64 * sizeof(uint64_t));
    for (uint64_t i = 0; i < n; i++) {
        if (w->young[first + i] && bitmap_test(&w->resident, first + i)) {
            w->young[first + i] = false;
            bits[i / 64] |= 1ULL << (i % 64);
        }
    }
    /* The host took this page after its bit was read; the callback applies the event. */
    if (w->invalidate_on_age != UINT64_MAX)
        bitmap_clear_range(&w->resident, w->invalidate_on_age, 1);
    return 0;
}

/* One guest access, as remap_handle_access() serves it: true if it missed. */
static bool access_page(struct win *w, uint64_t p, bool aging)
{
    w->young[p] = true;
    if (bitmap_test(&w->resident, p))
        return false;
    evict_request_begin(&w->e);
    if (w->resident.set + 1 > w->window) {
        if (aging)
            assert_int_equal(evict_age(&w->e, &w->resident, LEND_AGE_MAX_PAGES, age_cb, w), 0);
        while (w->resident.set + 1 > w->window) {
            uint64_t g = evict_choose(&w->e, &w->resident, p, p);

            assert_int_not_equal(g, EVICT_NONE);
            assert_int_not_equal(g, p);
            assert_true(bitmap_test(&w->resident, g));
            bitmap_clear_range(&w->resident, g, 1);
            w->young[g] = false;
        }
    }
    bitmap_set_range(&w->resident, p, 1);
    evict_mapped(&w->e, p, true, true);
    return true;
}

static uint64_t run_loop(enum evict_policy pol, bool aging, uint64_t window, uint64_t loop,
                         uint64_t rounds)
{
    struct win *w = calloc(1, sizeof(*w));
    uint64_t misses = 0;

    assert_non_null(w);
    win_init(w, pol, window);
    for (uint64_t r = 0; r < rounds; r++)
        for (uint64_t p = 0; p < loop; p++)
            misses += access_page(w, p, aging);
    win_free(w);
    free(w);
    return misses;
}

/* A loop twice the window: CLOCK misses every access, tinylfu keeps most of a window resident. */
static void tinylfu_resists_a_loop(void **state)
{
    uint64_t window = 64, loop = 128, rounds = 20;
    uint64_t clock = run_loop(EVICT_CLOCK, true, window, loop, rounds);
    uint64_t lfu = run_loop(EVICT_TINYLFU, true, window, loop, rounds);

    (void)state;
    assert_int_equal(clock, loop * rounds);
    /* OPT misses about loop - window + 1 per round; allow 1.5x that. */
    assert_true(lfu <= loop + (rounds - 1) * (loop - window + 1) * 3 / 2);
}

/* Hot pages used between faults survive a long scan under tinylfu, not under CLOCK. */
static uint64_t hot_survivors(enum evict_policy pol)
{
    struct win *w = calloc(1, sizeof(*w));
    uint64_t survivors = 0;

    assert_non_null(w);
    win_init(w, pol, 32);
    /* Pages 0..7 are used often while 100..399 fault in, each once. */
    for (uint64_t i = 0; i < 600; i++) {
        access_page(w, i % 8, true);
        if (i % 3 == 0)
            access_page(w, 100 + i / 3, true);
    }
    /* Then a scan of 1000 pages that are never used again. */
    for (uint64_t p = 1000; p < 2000; p++)
        access_page(w, p, true);
    for (uint64_t p = 0; p < 8; p++)
        survivors += bitmap_test(&w->resident, p);
    win_free(w);
    free(w);
    return survivors;
}

/*
 * A readahead chunk: pages [first, first + k) mapped at once, the faulting
 * one used, room made for all of them with the chunk kept (remap.c).
 */
static void access_chunk(struct win *w, uint64_t first, uint64_t k)
{
    uint64_t missing = k - bitmap_count_range(&w->resident, first, k);

    w->young[first] = true;
    evict_request_begin(&w->e);
    if (w->resident.set + missing > w->window) {
        assert_int_equal(evict_age(&w->e, &w->resident, LEND_AGE_MAX_PAGES, age_cb, w), 0);
        while (w->resident.set + missing > w->window) {
            uint64_t g = evict_choose(&w->e, &w->resident, first, first + k - 1);

            assert_int_not_equal(g, EVICT_NONE);
            assert_true(g < first || g >= first + k);
            bitmap_clear_range(&w->resident, g, 1);
            w->young[g] = false;
        }
    }
    for (uint64_t p = first; p < first + k; p++) {
        bool fresh = !bitmap_test(&w->resident, p);

        bitmap_set_range(&w->resident, p, 1);
        evict_mapped(&w->e, p, fresh, p == first);
    }
}

/* A stream read in readahead chunks cycles through probation: it does not flush main. */
static void tinylfu_chunks_do_not_flush_main(void **state)
{
    struct win *w = calloc(1, sizeof(*w));
    uint64_t survivors = 0, before = 0;

    (void)state;
    assert_non_null(w);
    win_init(w, EVICT_TINYLFU, 128);
    /* Pages 0..31 used often while single faults fill and turn the window over. */
    for (uint64_t i = 0; i < 2000; i++) {
        access_page(w, i % 32, true);
        if (i % 4 == 0)
            access_page(w, 100 + i / 4, true);
    }
    for (uint64_t p = 0; p < 32; p++)
        before += bitmap_test(&w->resident, p);
    assert_int_equal(before, 32);
    /* A stream of 16-page chunks (larger than probation's 1 page) over 2048 pages. */
    for (uint64_t p = 1000; p < 3048; p += 16)
        access_chunk(w, p, 16);
    for (uint64_t p = 0; p < 32; p++)
        survivors += bitmap_test(&w->resident, p);
    assert_int_equal(survivors, 32);
    assert_true(w->resident.set <= w->window);
    win_free(w);
    free(w);
}

static void tinylfu_keeps_hot_pages_through_a_scan(void **state)
{
    (void)state;
    assert_int_equal(hot_survivors(EVICT_TINYLFU), 8);
    assert_int_equal(hot_survivors(EVICT_CLOCK), 0);
}

/* Without accessed bits, clock is second-chance FIFO over faults: the old daemon. */
static void clock_without_aging_is_second_chance_fifo(void **state)
{
    struct win w0, *w = &w0;

    (void)state;
    win_init(w, EVICT_CLOCK, 4);
    for (uint64_t p = 0; p < 4; p++)
        access_page(w, p, false);
    /* Every page referenced once: the hand clears 0..3, then evicts 0. */
    access_page(w, 4, false);
    assert_false(bitmap_test(&w->resident, 0));
    /* Uses without aging save nothing: 1 goes next although it was just read. */
    access_page(w, 1, false);
    access_page(w, 5, false);
    assert_false(bitmap_test(&w->resident, 1));
    win_free(w);
}

/* A bit of a page an invalidation took during the call neither counts nor maps it again. */
static void a_use_never_resurrects_a_page(void **state)
{
    struct win w0, *w = &w0;
    uint64_t resident_before;

    (void)state;
    win_init(w, EVICT_TINYLFU, 8);
    for (uint64_t p = 0; p < 8; p++)
        access_page(w, p, true);
    w->young[3] = true;
    w->invalidate_on_age = 3;
    evict_request_begin(&w->e);
    assert_int_equal(evict_age(&w->e, &w->resident, LEND_AGE_MAX_PAGES, age_cb, w), 0);
    resident_before = w->resident.set;
    assert_false(bitmap_test(&w->resident, 3));
    assert_int_equal(resident_before, 7);
    /* And it is never chosen as a victim: it is not resident. */
    for (int i = 0; i < 8; i++) {
        uint64_t g = evict_choose(&w->e, &w->resident, UINT64_MAX, UINT64_MAX);
        if (g == EVICT_NONE)
            break;
        assert_int_not_equal(g, 3);
        bitmap_clear_range(&w->resident, g, 1);
    }
    win_free(w);
}

/* Aging is bounded per request: at most EVICT_AGE_CALLS calls of at most max_pages. */
static void aging_is_bounded(void **state)
{
    struct win *w = calloc(1, sizeof(*w));

    (void)state;
    assert_non_null(w);
    win_init(w, EVICT_TINYLFU, PAGES);
    bitmap_set_range(&w->resident, 0, PAGES);
    evict_request_begin(&w->e);
    assert_int_equal(evict_age(&w->e, &w->resident, 512, age_cb, w), 0);
    assert_int_equal(w->age_calls, EVICT_AGE_CALLS);
    assert_int_equal(w->max_n, 512);
    /* The next request goes on from where this one stopped, and wraps round. */
    w->age_calls = 0;
    for (int i = 0; i < 4; i++)
        assert_int_equal(evict_age(&w->e, &w->resident, 512, age_cb, w), 0);
    assert_int_equal(w->age_calls, 4 * EVICT_AGE_CALLS);
    /* An error stops the pass and is returned (ENOTTY: remap.c falls back to clock). */
    w->age_err = ENOTTY;
    w->age_calls = 0;
    assert_int_equal(evict_age(&w->e, &w->resident, 512, age_cb, w), -ENOTTY);
    assert_int_equal(w->age_calls, 1);
    /* Nothing resident: nothing to ask. */
    w->age_err = 0;
    w->age_calls = 0;
    bitmap_clear_all(&w->resident);
    assert_int_equal(evict_age(&w->e, &w->resident, 512, age_cb, w), 0);
    assert_int_equal(w->age_calls, 0);
    win_free(w);
    free(w);
}

/* A victim search stops at its budget and never offers the kept groups. */
static void search_is_bounded_and_spares_keep(void **state)
{
    struct win *w = calloc(1, sizeof(*w));
    unsigned int found = 0;

    (void)state;
    assert_non_null(w);
    for (int pol = 0; pol < 2; pol++) {
        win_init(w, pol == 0 ? EVICT_CLOCK : EVICT_TINYLFU, PAGES);
        /* Every page referenced: clock needs more than one sweep of 4096 groups. */
        for (uint64_t p = 0; p < PAGES; p++) {
            bitmap_set_range(&w->resident, p, 1);
            evict_mapped(&w->e, p, true, true);
            w->young[p] = true;
        }
        evict_request_begin(&w->e);
        assert_int_equal(evict_age(&w->e, &w->resident, LEND_AGE_MAX_PAGES, age_cb, w), 0);
        if (pol == 0)
            assert_int_equal(evict_choose(&w->e, &w->resident, 0, 0), EVICT_NONE);
        /* Only the kept range resident: nothing to offer. */
        bitmap_clear_all(&w->resident);
        bitmap_set_range(&w->resident, 10, 4);
        evict_request_begin(&w->e);
        assert_int_equal(evict_choose(&w->e, &w->resident, 10, 13), EVICT_NONE);
        /* That search spent the request's budget: the next request offers group 13. */
        assert_int_equal(evict_choose(&w->e, &w->resident, 10, 12), EVICT_NONE);
        evict_request_begin(&w->e);
        found += evict_choose(&w->e, &w->resident, 10, 12) == 13;
        win_free(w);
    }
    /* Each policy offered the one group outside the kept range. */
    assert_int_equal(found, 2);
    free(w);
}

static void policy_names(void **state)
{
    enum evict_policy p;

    (void)state;
    assert_int_equal(evict_policy_parse("clock", &p), 0);
    assert_int_equal(p, EVICT_CLOCK);
    assert_string_equal(evict_policy_name(p), "clock");
    assert_int_equal(evict_policy_parse("tinylfu", &p), 0);
    assert_int_equal(p, EVICT_TINYLFU);
    assert_string_equal(evict_policy_name(p), "tinylfu");
    assert_int_equal(evict_policy_parse("lru", &p), -EINVAL);
    /* The zeroed default is tinylfu. */
    assert_int_equal((enum evict_policy)0, EVICT_TINYLFU);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(tinylfu_resists_a_loop),
        cmocka_unit_test(tinylfu_keeps_hot_pages_through_a_scan),
        cmocka_unit_test(tinylfu_chunks_do_not_flush_main),
        cmocka_unit_test(clock_without_aging_is_second_chance_fifo),
        cmocka_unit_test(a_use_never_resurrects_a_page),
        cmocka_unit_test(aging_is_bounded),
        cmocka_unit_test(search_is_bounded_and_spares_keep),
        cmocka_unit_test(policy_names),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
