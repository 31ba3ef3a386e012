/* SPDX-License-Identifier: MIT */
/* Unit tests for bitmap.c: every operation against a plain bool array, at sizes that need 1 to 4
 * levels. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "bitmap.h"

static uint64_t rng_state = 88172645463325252ULL;

static uint64_t rnd(uint64_t n)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return n ? rng_state % n : 0;
}

static void check_against_shadow(uint64_t nbits, unsigned int ops, uint64_t max_run)
{
    struct bitmap b;
    bool *shadow = calloc(nbits, sizeof(bool));
    uint64_t set = 0;

    assert_non_null(shadow);
    assert_int_equal(bitmap_init(&b, nbits), 0);
    for (unsigned int op = 0; op < ops; op++) {
        uint64_t first = rnd(nbits + 8), n = rnd(max_run) + 1, end, expect = 0;

        end = first >= nbits ? first : (n > nbits - first ? nbits : first + n);
        switch (rnd(5)) {
        case 0:
        case 1:
            for (uint64_t i = first; i < end; i++)
                if (!shadow[i]) {
                    shadow[i] = true;
                    expect++;
                }
            assert_int_equal(bitmap_set_range(&b, first, n), expect);
            set += expect;
            break;
        case 2:
            for (uint64_t i = first; i < end; i++)
                if (shadow[i]) {
                    shadow[i] = false;
                    expect++;
                }
            assert_int_equal(bitmap_clear_range(&b, first, n), expect);
            set -= expect;
            break;
        case 3:
            for (uint64_t i = first; i < end; i++)
                expect += shadow[i];
            assert_int_equal(bitmap_count_range(&b, first, n), expect);
            break;
        case 4: {
            uint64_t from = rnd(nbits + 2), next = from, clear = from, limit = from + rnd(max_run);
            while (next < nbits && !shadow[next])
                next++;
            if (limit > nbits)
                limit = nbits;
            while (clear < limit && shadow[clear])
                clear++;
            if (clear > limit)
                clear = limit;
            assert_int_equal(bitmap_next_set(&b, from), next < nbits ? next : nbits);
            assert_int_equal(bitmap_next_clear(&b, from, limit), from >= limit ? limit : clear);
            break;
        }
        }
        assert_int_equal(b.set, set);
        if (op % 64 == 0)
            for (uint64_t i = 0; i < nbits; i += 1 + rnd(64))
                assert_int_equal(bitmap_test(&b, i), shadow[i]);
    }
    /* Walking the set bits finds exactly the shadow's. */
    uint64_t seen = 0;
    for (uint64_t i = bitmap_next_set(&b, 0); i < nbits; i = bitmap_next_set(&b, i + 1)) {
        assert_true(shadow[i]);
        seen++;
    }
    assert_int_equal(seen, set);
    bitmap_clear_all(&b);
    assert_int_equal(b.set, 0);
    assert_int_equal(bitmap_next_set(&b, 0), nbits);
    for (unsigned int k = 0; k < b.levels; k++)
        for (uint64_t w = 0; w < (b.lv_bits[k] + 63) / 64; w++)
            assert_int_equal(b.lv[k][w], 0);
    bitmap_free(&b);
    free(shadow);
}

static void one_word(void **state)
{
    (void)state;
    check_against_shadow(1, 200, 4);
    check_against_shadow(63, 2000, 70);
    check_against_shadow(64, 2000, 70);
}

static void two_levels(void **state)
{
    (void)state;
    check_against_shadow(65, 4000, 70);
    check_against_shadow(4096, 20000, 300);
}

static void many_levels(void **state)
{
    (void)state;
    /* 3 and 4 levels; sparse runs, as a small window in a large BAR. */
    check_against_shadow(4097, 20000, 200);
    check_against_shadow((1u << 18) + 17, 20000, 40);
    check_against_shadow((1u << 18) + 17, 2000, 5000);
}

static void far_apart_bits(void **state)
{
    struct bitmap b;
    uint64_t n = 1ULL << 24; /* 64 GiB of 4 KiB pages */
    (void)state;
    assert_int_equal(bitmap_init(&b, n), 0);
    assert_int_equal(b.levels, 4);
    assert_int_equal(bitmap_set_range(&b, n - 1, 5), 1);
    assert_int_equal(bitmap_set_range(&b, 3, 1), 1);
    assert_int_equal(bitmap_next_set(&b, 0), 3);
    assert_int_equal(bitmap_next_set(&b, 4), n - 1);
    assert_int_equal(bitmap_clear_range(&b, 0, n), 2);
    assert_int_equal(bitmap_next_set(&b, 0), n);
    bitmap_free(&b);
    assert_int_equal(bitmap_init(&b, 0), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(one_word),
        cmocka_unit_test(two_levels),
        cmocka_unit_test(many_levels),
        cmocka_unit_test(far_apart_bits),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
