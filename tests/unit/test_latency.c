/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for latency.c: the log2 bucket edges, recording, the quantile
 * estimate against an exact sort of the same samples, and the JSON the stats
 * file carries (ioreq-lend-top parses it back: tests/top/check.sh).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "latency.h"

static void bucket_edges(void **state)
{
    (void)state;
    assert_int_equal(lat_bucket_of(0), 0);
    assert_int_equal(lat_bucket_of(1), 0);
    for (unsigned int i = 1; i < LAT_BUCKETS - 1; i++) {
        /* [2^i, 2^(i+1)): both ends, and the bound is the next bucket's start. */
        assert_int_equal(lat_bucket_of(UINT64_C(1) << i), i);
        assert_int_equal(lat_bucket_of((UINT64_C(2) << i) - 1), i);
        assert_int_equal(lat_bucket_upper_ns(i), UINT64_C(2) << i);
        assert_int_equal(lat_bucket_of(lat_bucket_upper_ns(i)), i + 1);
    }
    assert_int_equal(lat_bucket_upper_ns(0), 2);
    /* The last bucket is open: everything from 2^31 ns up, however long. */
    assert_int_equal(lat_bucket_of(UINT64_C(1) << 31), LAT_BUCKETS - 1);
    assert_int_equal(lat_bucket_of(UINT64_MAX), LAT_BUCKETS - 1);
    assert_int_equal(lat_bucket_upper_ns(LAT_BUCKETS - 1), 0);
}

static void record_counts_and_saturates(void **state)
{
    struct lat_hist h = {0};

    (void)state;
    lat_hist_record(&h, 1500);
    lat_hist_record(&h, 1024);
    lat_hist_record(&h, 3);
    assert_int_equal(h.count, 3);
    assert_int_equal(h.sum_ns, 2527);
    assert_int_equal(h.bucket[10], 2);
    assert_int_equal(h.bucket[1], 1);
    lat_hist_record(&h, UINT64_MAX);
    assert_int_equal(h.sum_ns, UINT64_MAX); /* saturated, not wrapped */
    assert_int_equal(h.bucket[LAT_BUCKETS - 1], 1);
    assert_int_equal(h.count, 4);
}

static void quantile_of_known_buckets(void **state)
{
    struct lat_hist h = {0};

    (void)state;
    assert_int_equal(lat_hist_quantile(&h, 0.5), 0); /* empty */
    for (int i = 0; i < 100; i++)
        lat_hist_record(&h, 1024 + (uint64_t)i);
    /* All in [1024, 2048): rank 50 of 100 is half way, 99 near the top. */
    assert_int_equal(lat_hist_quantile(&h, 0.5), 1536);
    assert_int_equal(lat_hist_quantile(&h, 0.99), 2037);
    assert_int_equal(lat_hist_quantile(&h, 1.0), 2048);
    /* One slow request among 99 fast ones: p99 stays fast, p100 finds it. */
    h = (struct lat_hist){0};
    for (int i = 0; i < 99; i++)
        lat_hist_record(&h, 100);
    lat_hist_record(&h, 5000000);
    assert_true(lat_hist_quantile(&h, 0.99) <= 128); /* [64, 128)'s top, at most */
    assert_true(lat_hist_quantile(&h, 1.0) >= 4194304);
    /* Out-of-range q: clamped above, 0 for q <= 0. */
    assert_int_equal(lat_hist_quantile(&h, 2.0), lat_hist_quantile(&h, 1.0));
    assert_int_equal(lat_hist_quantile(&h, 0), 0);
    assert_int_equal(lat_hist_quantile(&h, -1), 0);
    /* The open bucket answers its lower bound. */
    h = (struct lat_hist){0};
    lat_hist_record(&h, UINT64_C(10) << 31);
    assert_int_equal(lat_hist_quantile(&h, 0.5), UINT64_C(1) << 31);
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

/* Against the exact order statistic: the estimate is in the same bucket, so within 2x. */
static void quantile_within_a_bucket_of_truth(void **state)
{
    enum { N = 5000 };
    static uint64_t v[N];
    uint64_t x = 88172645463325252ULL;
    const double qs[] = {0.01, 0.5, 0.9, 0.99, 0.999, 1.0};
    struct lat_hist h = {0};

    (void)state;
    for (int i = 0; i < N; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        v[i] = (x % 1000000) >> (x % 17); /* spread over many buckets */
        lat_hist_record(&h, v[i]);
    }
    qsort(v, N, sizeof(v[0]), cmp_u64);
    for (size_t k = 0; k < sizeof(qs) / sizeof(qs[0]); k++) {
        size_t rank = (size_t)(qs[k] * N + 0.999999);
        uint64_t truth = v[(rank ? rank : 1) - 1], est = lat_hist_quantile(&h, qs[k]);
        unsigned int b = lat_bucket_of(truth);

        assert_true(est >= (b ? UINT64_C(1) << b : 0));
        assert_true(est <= lat_bucket_upper_ns(b));
    }
    /* Monotonic in q. */
    assert_true(lat_hist_quantile(&h, 0.5) <= lat_hist_quantile(&h, 0.99));
}

static void json_shape(void **state)
{
    struct latency l = {0};
    char *buf = NULL, *p;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);

    (void)state;
    assert_non_null(f);
    lat_hist_record(&l.kind[LAT_COPY], 1500);
    latency_write_json(&l, f);
    assert_int_equal(fclose(f), 0);
    static const char head[] = "\"latency_ns\":{\"access\":{\"count\":0,\"sum\":0,\"buckets\":[0,";
    assert_memory_equal(buf, head, sizeof(head) - 1);
    p = strstr(buf, "\"copy\":{\"count\":1,\"sum\":1500,\"buckets\":[0,0,0,0,0,0,0,0,0,0,1,0,");
    assert_non_null(p);
    assert_non_null(strstr(buf, "\"config\":{\"count\":0,"));
    /* 3 arrays of 32: 31 commas inside each. */
    size_t commas = 0;
    for (p = buf; *p; p++)
        commas += *p == ',';
    assert_int_equal(commas, 3 * 31 + 3 * 2 + 2);
    assert_string_equal(lat_kind_name(LAT_ACCESS), "access");
    assert_null(lat_kind_name(LAT_NONE));
    free(buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(bucket_edges),
        cmocka_unit_test(record_counts_and_saturates),
        cmocka_unit_test(quantile_of_known_buckets),
        cmocka_unit_test(quantile_within_a_bucket_of_truth),
        cmocka_unit_test(json_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
