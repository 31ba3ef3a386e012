/* SPDX-License-Identifier: MIT */
/*
 * Request service-time histograms: how long the daemon took from picking a
 * request up to notifying its completion, per kind of request, in log2
 * buckets of nanoseconds. Fixed size, nothing allocated per request: the
 * daemon records into them (access_ioreq.c) and writes them into its stats
 * file (counters.c); ioreq-lend-top reads them back and computes percentiles
 * with the same code.
 */
#ifndef IOREQ_LEND_LATENCY_H
#define IOREQ_LEND_LATENCY_H

#include <stdint.h>
#include <stdio.h>
#include <time.h>

/*
 * Bucket i (0 < i < LAT_BUCKETS - 1) holds times in [2^i, 2^(i+1)) ns,
 * bucket 0 holds [0, 2) ns, the last one everything from 2^31 ns (2.1 s) up.
 */
#define LAT_BUCKETS 32

/* The kinds a vCPU waits for; in the stats file under "latency_ns" by name. */
enum lat_kind {
    LAT_ACCESS, /* access-only faults (lend mode): ioreqs.access */
    LAT_COPY,   /* COPY requests served (emulation, or lend mode's emulated accesses) */
    LAT_CONFIG, /* config cycles and conf1 port accesses served */
    LAT_KINDS,
    LAT_NONE = LAT_KINDS, /* not recorded: refused, or nothing a vCPU waited for */
};

struct lat_hist {
    uint64_t count;
    uint64_t sum_ns; /* saturates instead of wrapping */
    uint64_t bucket[LAT_BUCKETS];
};

struct latency {
    struct lat_hist kind[LAT_KINDS];
};

/* "access", "copy", "config"; NULL for LAT_NONE or out of range. */
const char *lat_kind_name(enum lat_kind k);
/* The bucket a time of ns nanoseconds falls into. */
unsigned int lat_bucket_of(uint64_t ns);
/* Bucket i's exclusive upper bound in ns (2^(i+1)); 0 for the last, unbounded one. */
uint64_t lat_bucket_upper_ns(unsigned int i);
/* Count one request that took ns nanoseconds. */
void lat_hist_record(struct lat_hist *h, uint64_t ns);
/*
 * The q-quantile (0 < q <= 1) in ns, estimated as Prometheus'
 * histogram_quantile() does: linear inside the bucket that holds the rank,
 * so within a factor of two of the truth; the last bucket gives its lower
 * bound. 0 for an empty histogram.
 */
uint64_t lat_hist_quantile(const struct lat_hist *h, double q);
/* end - start in ns, 0 if the clock went backwards (it does not: CLOCK_MONOTONIC). */
uint64_t lat_elapsed_ns(const struct timespec *start, const struct timespec *end);
/* "latency_ns":{"access":{"count":N,"sum":N,"buckets":[...]},...}, as a JSON member. */
void latency_write_json(const struct latency *l, FILE *out);

#endif
