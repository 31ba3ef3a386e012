/* SPDX-License-Identifier: MIT */
/*
 * The simulator's rangesets against Xen's (xen/common/rangeset.c): inclusive
 * ranges, adjacent and overlapping ones merge, removal trims or splits, a
 * limit on the number of ranges (MAX_NR_IO_RANGES, 256) including Xen's way
 * of reaching it, and the ends of the 64-bit space.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <cmocka.h>

#include "sim/hv/rangeset.h"

static struct rangeset *rs_new(void)
{
    struct rangeset *rs = malloc(sizeof(*rs));

    assert_non_null(rs);
    rangeset_init(rs);
    return rs;
}

/* The set is exactly these ranges, in order. */
static void assert_ranges(const struct rangeset *rs, unsigned int n, const uint64_t *se)
{
    assert_int_equal(rs->nr, n);
    for (unsigned int i = 0; i < n; i++) {
        assert_int_equal(rs->r[i].s, se[2 * i]);
        assert_int_equal(rs->r[i].e, se[2 * i + 1]);
    }
}

static void add_merges_adjacent_and_overlapping(void **state)
{
    struct rangeset *rs = rs_new();

    (void)state;
    assert_int_equal(rangeset_add(rs, 10, 19), 0);
    /* Adjacent after: merges. */
    assert_int_equal(rangeset_add(rs, 20, 29), 0);
    assert_ranges(rs, 1, (uint64_t[]){10, 29});
    /* Adjacent before: merges. */
    assert_int_equal(rangeset_add(rs, 5, 9), 0);
    assert_ranges(rs, 1, (uint64_t[]){5, 29});
    /* A gap of one keeps them apart... */
    assert_int_equal(rangeset_add(rs, 31, 40), 0);
    assert_ranges(rs, 2, (uint64_t[]){5, 29, 31, 40});
    /* ...until the gap is filled: three become one. */
    assert_int_equal(rangeset_add(rs, 30, 30), 0);
    assert_ranges(rs, 1, (uint64_t[]){5, 40});
    /* Overlapping and swallowing several. */
    assert_int_equal(rangeset_add(rs, 100, 110), 0);
    assert_int_equal(rangeset_add(rs, 200, 210), 0);
    assert_int_equal(rangeset_add(rs, 300, 310), 0);
    assert_int_equal(rangeset_add(rs, 105, 305), 0);
    assert_ranges(rs, 2, (uint64_t[]){5, 40, 100, 310});
    assert_int_equal(rangeset_add(rs, 0, 1000), 0);
    assert_ranges(rs, 1, (uint64_t[]){0, 1000});
    /* Inside an existing range: nothing changes. */
    assert_int_equal(rangeset_add(rs, 7, 8), 0);
    assert_ranges(rs, 1, (uint64_t[]){0, 1000});
    free(rs);
}

static void remove_trims_and_splits(void **state)
{
    struct rangeset *rs = rs_new();

    (void)state;
    assert_int_equal(rangeset_add(rs, 100, 199), 0);
    /* Split in the middle. */
    assert_int_equal(rangeset_remove(rs, 120, 129), 0);
    assert_ranges(rs, 2, (uint64_t[]){100, 119, 130, 199});
    /* Trim the start, then the end. */
    assert_int_equal(rangeset_remove(rs, 100, 104), 0);
    assert_int_equal(rangeset_remove(rs, 190, 199), 0);
    assert_ranges(rs, 2, (uint64_t[]){105, 119, 130, 189});
    /* A whole range. */
    assert_int_equal(rangeset_remove(rs, 105, 119), 0);
    assert_ranges(rs, 1, (uint64_t[]){130, 189});
    /* Not contained in one range: -ENOENT, nothing changes. */
    assert_int_equal(rangeset_remove(rs, 120, 135), -ENOENT);
    assert_int_equal(rangeset_remove(rs, 0, 5), -ENOENT);
    assert_ranges(rs, 1, (uint64_t[]){130, 189});
    free(rs);
}

static void contains_and_overlaps_edges(void **state)
{
    struct rangeset *rs = rs_new();

    (void)state;
    assert_int_equal(rangeset_add(rs, 10, 19), 0);
    assert_int_equal(rangeset_add(rs, 30, 39), 0);
    /* Inclusive ends. */
    assert_true(rangeset_contains(rs, 10, 19));
    assert_true(rangeset_contains(rs, 19, 19));
    assert_false(rangeset_contains(rs, 19, 20));
    assert_false(rangeset_contains(rs, 9, 10));
    /* Across a gap: in neither range. */
    assert_false(rangeset_contains(rs, 15, 35));
    assert_true(rangeset_overlaps(rs, 19, 29));
    assert_true(rangeset_overlaps(rs, 0, 10));
    assert_false(rangeset_overlaps(rs, 20, 29));
    assert_false(rangeset_overlaps(rs, 0, 9));
    assert_true(rangeset_overlaps(rs, 0, UINT64_MAX));
    free(rs);
}

static void top_of_the_address_space(void **state)
{
    struct rangeset *rs = rs_new();

    (void)state;
    assert_int_equal(rangeset_add(rs, UINT64_MAX, UINT64_MAX), 0);
    assert_true(rangeset_contains(rs, UINT64_MAX, UINT64_MAX));
    assert_false(rangeset_contains(rs, UINT64_MAX - 1, UINT64_MAX));
    assert_true(rangeset_overlaps(rs, UINT64_MAX - 5, UINT64_MAX));
    /* [0, 0] is not adjacent to UINT64_MAX: no wrap-around merge. */
    assert_int_equal(rangeset_add(rs, 0, 0), 0);
    assert_ranges(rs, 2, (uint64_t[]){0, 0, UINT64_MAX, UINT64_MAX});
    /* Adjacent from below merges up to the top. */
    assert_int_equal(rangeset_add(rs, UINT64_MAX - 9, UINT64_MAX - 1), 0);
    assert_ranges(rs, 2, (uint64_t[]){0, 0, UINT64_MAX - 9, UINT64_MAX});
    /* Everything: one range. */
    assert_int_equal(rangeset_add(rs, 1, UINT64_MAX - 10), 0);
    assert_ranges(rs, 1, (uint64_t[]){0, UINT64_MAX});
    assert_true(rangeset_contains(rs, 0, UINT64_MAX));
    /* Splitting the whole space, and trimming both of its ends. */
    assert_int_equal(rangeset_remove(rs, 5, UINT64_MAX - 5), 0);
    assert_ranges(rs, 2, (uint64_t[]){0, 4, UINT64_MAX - 4, UINT64_MAX});
    assert_int_equal(rangeset_remove(rs, 0, 0), 0);
    assert_int_equal(rangeset_remove(rs, UINT64_MAX, UINT64_MAX), 0);
    assert_ranges(rs, 2, (uint64_t[]){1, 4, UINT64_MAX - 4, UINT64_MAX - 1});
    free(rs);
}

/* 256 ranges 0-0, 2-2, 4-4, ...: full. */
static struct rangeset *rs_full(void)
{
    struct rangeset *rs = rs_new();

    for (uint64_t i = 0; i < RANGESET_MAX; i++)
        assert_int_equal(rangeset_add(rs, 10 * i + 10, 10 * i + 14), 0);
    assert_int_equal(rs->nr, RANGESET_MAX);
    return rs;
}

static void limit_of_256_ranges(void **state)
{
    struct rangeset *rs = rs_full();

    (void)state;
    /* A 257th separate range: -ENOMEM, nothing changes. */
    assert_int_equal(rangeset_add(rs, 100000, 100001), -ENOMEM);
    assert_int_equal(rangeset_add(rs, 0, 5), -ENOMEM);
    assert_int_equal(rs->nr, RANGESET_MAX);
    /* Growing a range at its end needs no new range. */
    assert_int_equal(rangeset_add(rs, 15, 16), 0);
    assert_int_equal(rs->r[0].e, 16);
    /* Overlapping, too. */
    assert_int_equal(rangeset_add(rs, 24, 26), 0);
    assert_int_equal(rs->r[1].e, 26);
    /*
     * Growing a range at its start does: Xen allocates the new range first
     * and merges it with the next one afterwards, so at the limit it fails.
     */
    assert_int_equal(rangeset_add(rs, 38, 39), -ENOMEM);
    assert_int_equal(rs->r[3].s, 40);
    /* Filling a gap merges two ranges into one, freeing a place... */
    assert_int_equal(rangeset_add(rs, 17, 19), 0);
    assert_int_equal(rs->nr, RANGESET_MAX - 1);
    assert_int_equal(rs->r[0].s, 10);
    assert_int_equal(rs->r[0].e, 26);
    /* ...which the next new range takes. */
    assert_int_equal(rangeset_add(rs, 100000, 100001), 0);
    assert_int_equal(rangeset_add(rs, 200000, 200001), -ENOMEM);
    free(rs);
}

static void split_at_the_limit(void **state)
{
    struct rangeset *rs = rs_full();

    (void)state;
    /* Splitting needs one more range: -ENOMEM, nothing changes. */
    assert_int_equal(rangeset_remove(rs, 12, 12), -ENOMEM);
    assert_int_equal(rs->r[0].s, 10);
    assert_int_equal(rs->r[0].e, 14);
    /* Trimming does not. */
    assert_int_equal(rangeset_remove(rs, 10, 11), 0);
    assert_int_equal(rangeset_remove(rs, 14, 14), 0);
    assert_int_equal(rs->r[0].s, 12);
    assert_int_equal(rs->r[0].e, 13);
    /* Removing a whole range frees a place for a split. */
    assert_int_equal(rangeset_remove(rs, 20, 24), 0);
    assert_int_equal(rangeset_remove(rs, 32, 32), 0);
    assert_int_equal(rs->nr, RANGESET_MAX);
    free(rs);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(add_merges_adjacent_and_overlapping),
        cmocka_unit_test(remove_trims_and_splits),
        cmocka_unit_test(contains_and_overlaps_edges),
        cmocka_unit_test(top_of_the_address_space),
        cmocka_unit_test(limit_of_256_ranges),
        cmocka_unit_test(split_at_the_limit),
    };
    return cmocka_run_group_tests_name("sim-rangeset", tests, NULL, NULL);
}
