/* SPDX-License-Identifier: MIT */
/* Unit tests for util.c: size parsing and formatting. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "util.h"

static void parse_size_accepts_units(void **state)
{
    uint64_t v;
    (void)state;
    assert_int_equal(parse_size("4096", &v), 0);
    assert_int_equal(v, 4096);
    assert_int_equal(parse_size("4K", &v), 0);
    assert_int_equal(v, 4096);
    assert_int_equal(parse_size("256M", &v), 0);
    assert_int_equal(v, 256ULL << 20);
    assert_int_equal(parse_size("8GiB", &v), 0);
    assert_int_equal(v, 8ULL << 30);
    assert_int_equal(parse_size("1T", &v), 0);
    assert_int_equal(v, 1ULL << 40);
    assert_int_equal(parse_size("0x1000", &v), 0);
    assert_int_equal(v, 4096);
}

static void parse_size_rejects_garbage(void **state)
{
    uint64_t v = 7;
    (void)state;
    assert_int_equal(parse_size("", &v), -EINVAL);
    assert_int_equal(parse_size("-1", &v), -EINVAL);
    assert_int_equal(parse_size("12Q", &v), -EINVAL);
    assert_int_equal(parse_size("4KX", &v), -EINVAL);
    assert_int_equal(parse_size("K", &v), -EINVAL);
    assert_int_equal(parse_size("99999999999999999999", &v), -ERANGE);
    assert_int_equal(parse_size("17179869184T", &v), -ERANGE);
    assert_int_equal(v, 7);
}

static void parse_u64_bounds(void **state)
{
    uint64_t v;
    (void)state;
    assert_int_equal(parse_u64("32751", 0x7fef, &v), 0);
    assert_int_equal(v, 32751);
    assert_int_equal(parse_u64("32752", 0x7fef, &v), -ERANGE);
    assert_int_equal(parse_u64("12 ", 100, &v), -EINVAL);
    /* A leading zero is not octal. */
    assert_int_equal(parse_u64("010", 100, &v), 0);
    assert_int_equal(v, 10);
    assert_int_equal(parse_u64("0x", 100, &v), -EINVAL);
    assert_int_equal(parse_u64("0x-1", 100, &v), -EINVAL);
}

/* Found by fuzz_backing_spec: strtoull() skips any white space and then takes a sign. */
static void parse_rejects_leading_blanks_and_signs(void **state)
{
    static const char *const bad[] = {" 5", "\t5", "\n0", "\v1", "\f1", "\r1", "\t-4096",
                                      "+5", "-5", "0x\t5", "0x 5", "0x+5", "0xg"};
    uint64_t v = 7;
    (void)state;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        assert_int_equal(parse_size(bad[i], &v), -EINVAL);
        assert_int_equal(parse_u64(bad[i], UINT64_MAX, &v), -EINVAL);
    }
    assert_int_equal(v, 7);
}

static void format_size_picks_largest_unit(void **state)
{
    char buf[32];
    (void)state;
    assert_string_equal(format_size(256ULL << 20, buf, sizeof(buf)), "256M");
    assert_string_equal(format_size(4097, buf, sizeof(buf)), "4097");
    assert_string_equal(format_size(3ULL << 40, buf, sizeof(buf)), "3T");
}

static void saturating_helpers(void **state)
{
    (void)state;
    assert_true(sat_add_u64(UINT64_MAX - 1, 5) == UINT64_MAX);
    assert_true(sat_mul_u64(1ULL << 40, 1ULL << 30) == UINT64_MAX);
    assert_true(range_inside(0, 4096, 4096));
    assert_false(range_inside(1, 4096, 4096));
    assert_false(range_inside(0, 0, 4096));
    assert_false(range_inside(UINT64_MAX, 2, 4096));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_size_accepts_units),
        cmocka_unit_test(parse_size_rejects_garbage),
        cmocka_unit_test(parse_u64_bounds),
        cmocka_unit_test(parse_rejects_leading_blanks_and_signs),
        cmocka_unit_test(format_size_picks_largest_unit),
        cmocka_unit_test(saturating_helpers),
    };
    return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
