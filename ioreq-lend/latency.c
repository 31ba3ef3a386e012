/* SPDX-License-Identifier: MIT */
/* Owns the request latency histograms (latency.h): recording, quantiles, their JSON. */
#include "latency.h"

#include <math.h>

static const char *const kind_names[LAT_KINDS] = {
    [LAT_ACCESS] = "access",
    [LAT_COPY] = "copy",
    [LAT_CONFIG] = "config",
};

const char *lat_kind_name(enum lat_kind k)
{
    return (unsigned int)k < LAT_KINDS ? kind_names[k] : NULL;
}

unsigned int lat_bucket_of(uint64_t ns)
{
    unsigned int log2 = ns < 2 ? 0 : 63u - (unsigned int)__builtin_clzll(ns);

    return log2 < LAT_BUCKETS - 1 ? log2 : LAT_BUCKETS - 1;
}

uint64_t lat_bucket_upper_ns(unsigned int i)
{
    return i < LAT_BUCKETS - 1 ? UINT64_C(2) << i : 0;
}

static uint64_t bucket_lower_ns(unsigned int i)
{
    return i == 0 ? 0 : UINT64_C(1) << i;
}

void lat_hist_record(struct lat_hist *h, uint64_t ns)
{
    h->count++;
    h->sum_ns = h->sum_ns > UINT64_MAX - ns ? UINT64_MAX : h->sum_ns + ns;
    h->bucket[lat_bucket_of(ns)]++;
}

uint64_t lat_hist_quantile(const struct lat_hist *h, double q)
{
    uint64_t total = 0, below = 0, rank;

    /* The buckets, not count: a reader's histogram may disagree with its own count. */
    for (unsigned int i = 0; i < LAT_BUCKETS; i++)
        total += h->bucket[i];
    if (total == 0 || !(q > 0))
        return 0;
    if (q > 1)
        q = 1;
    rank = (uint64_t)ceil(q * (double)total);
    if (rank == 0)
        rank = 1;
    for (unsigned int i = 0; i < LAT_BUCKETS; i++) {
        uint64_t n = h->bucket[i], lo = bucket_lower_ns(i);
        if (rank > below + n) {
            below += n;
            continue;
        }
        if (i == LAT_BUCKETS - 1)
            return lo;
        return lo + (uint64_t)((double)(lat_bucket_upper_ns(i) - lo) * (double)(rank - below) /
                               (double)n);
    }
    return 0; /* not reached: rank <= total */
}

uint64_t lat_elapsed_ns(const struct timespec *start, const struct timespec *end)
{
    int64_t ns = ((int64_t)end->tv_sec - (int64_t)start->tv_sec) * 1000000000 +
                 ((int64_t)end->tv_nsec - (int64_t)start->tv_nsec);

    return ns > 0 ? (uint64_t)ns : 0;
}

void latency_write_json(const struct latency *l, FILE *out)
{
    fputs("\"latency_ns\":{", out);
    for (unsigned int k = 0; k < LAT_KINDS; k++) {
        const struct lat_hist *h = &l->kind[k];
        fprintf(out, "%s\"%s\":{\"count\":%llu,\"sum\":%llu,\"buckets\":[", k ? "," : "",
                kind_names[k], (unsigned long long)h->count, (unsigned long long)h->sum_ns);
        for (unsigned int i = 0; i < LAT_BUCKETS; i++)
            fprintf(out, "%s%llu", i ? "," : "", (unsigned long long)h->bucket[i]);
        fputs("]}", out);
    }
    fputc('}', out);
}
