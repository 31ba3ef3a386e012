/* SPDX-License-Identifier: MIT */
/*
 * Offline replay of the page trace the simulated guest runs (the `trace`
 * workload, tests/sim/harness/trace.h): misses of a resident window of
 * WINDOW pages under
 *
 *   opt    Belady's optimal: evict the page whose next use is farthest away
 *   lru    least recently used
 *   fifo   first in, first out
 *   clock  the daemon's policy as ioreq-lend/remap.c implements it: CLOCK over
 *          the BAR's groups (pages here: --fault-around 4K), the hand walking
 *          group indices 0..BAR_PAGES-1, a group's referenced bit set when a
 *          fault maps it (the daemon sees no other use), cleared on the
 *          hand's first pass, evicted on the second
 *
 * Every policy starts empty, so compulsory misses count for all; the
 * daemon's misses are the run's ACCESS requests. `clock` must equal them: it
 * checks that the offline replay is the trace the guest ran.
 *
 *   belady --kind loop|zipf --pages N [--s HUNDREDTHS] [--seed S] --count N
 *          --window PAGES [--bar-pages N]
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "trace.h"

#define NEVER UINT64_MAX

static void *xcalloc(size_t n, size_t size)
{
    void *p = calloc(n ? n : 1, size);

    if (!p) {
        fprintf(stderr, "belady: out of memory\n");
        exit(1);
    }
    return p;
}

/* A binary max-heap of (next use, page), with lazy deletion. */
struct heap {
    uint64_t *key, *page;
    uint64_t n, cap;
};

static void heap_push(struct heap *h, uint64_t key, uint64_t page)
{
    uint64_t i = h->n++;

    if (h->n > h->cap) {
        h->cap = h->cap ? 2 * h->cap : 1024;
        h->key = realloc(h->key, h->cap * sizeof(uint64_t));
        h->page = realloc(h->page, h->cap * sizeof(uint64_t));
        if (!h->key || !h->page) {
            fprintf(stderr, "belady: out of memory\n");
            exit(1);
        }
    }
    while (i > 0 && h->key[(i - 1) / 2] < key) {
        h->key[i] = h->key[(i - 1) / 2];
        h->page[i] = h->page[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    h->key[i] = key;
    h->page[i] = page;
}

static void heap_pop(struct heap *h, uint64_t *key, uint64_t *page)
{
    uint64_t k = h->key[--h->n], p = h->page[h->n], i = 0;

    *key = h->key[0];
    *page = h->page[0];
    for (;;) {
        uint64_t c = 2 * i + 1;
        if (c >= h->n)
            break;
        if (c + 1 < h->n && h->key[c + 1] > h->key[c])
            c++;
        if (h->key[c] <= k)
            break;
        h->key[i] = h->key[c];
        h->page[i] = h->page[c];
        i = c;
    }
    h->key[i] = k;
    h->page[i] = p;
}

static uint64_t opt_misses(const uint64_t *seq, uint64_t n, uint64_t pages, uint64_t window)
{
    uint64_t *next = xcalloc(n, sizeof(uint64_t)), *last = xcalloc(pages, sizeof(uint64_t));
    uint64_t *cur = xcalloc(pages, sizeof(uint64_t)); /* a resident page's next use */
    bool *res = xcalloc(pages, sizeof(bool));
    struct heap h = {0};
    uint64_t misses = 0, resident = 0;

    for (uint64_t p = 0; p < pages; p++)
        last[p] = NEVER;
    for (uint64_t i = n; i-- > 0;) {
        next[i] = last[seq[i]];
        last[seq[i]] = i;
    }
    for (uint64_t i = 0; i < n; i++) {
        uint64_t p = seq[i];

        if (!res[p]) {
            misses++;
            if (resident == window) {
                /* Farthest next use; entries whose key is stale are skipped. */
                for (;;) {
                    uint64_t k, q;
                    heap_pop(&h, &k, &q);
                    if (res[q] && cur[q] == k) {
                        res[q] = false;
                        resident--;
                        break;
                    }
                }
            }
            res[p] = true;
            resident++;
        }
        cur[p] = next[i];
        heap_push(&h, next[i], p);
    }
    free(next);
    free(last);
    free(cur);
    free(res);
    free(h.key);
    free(h.page);
    return misses;
}

/* LRU with a doubly linked list over pages. */
static uint64_t lru_misses(const uint64_t *seq, uint64_t n, uint64_t pages, uint64_t window)
{
    uint64_t *prev = xcalloc(pages, sizeof(uint64_t)), *nxt = xcalloc(pages, sizeof(uint64_t));
    bool *res = xcalloc(pages, sizeof(bool));
    uint64_t head = NEVER, tail = NEVER, misses = 0, resident = 0;

#define UNLINK(p)                                                                                  \
    do {                                                                                           \
        if (prev[p] != NEVER) nxt[prev[p]] = nxt[p]; else head = nxt[p];                           \
        if (nxt[p] != NEVER) prev[nxt[p]] = prev[p]; else tail = prev[p];                          \
    } while (0)
    for (uint64_t i = 0; i < n; i++) {
        uint64_t p = seq[i];

        if (res[p]) {
            UNLINK(p);
        } else {
            misses++;
            if (resident == window) {
                uint64_t v = tail;
                UNLINK(v);
                res[v] = false;
                resident--;
            }
            res[p] = true;
            resident++;
        }
        /* Most recent at the head. */
        prev[p] = NEVER;
        nxt[p] = head;
        if (head != NEVER)
            prev[head] = p;
        head = p;
        if (tail == NEVER)
            tail = p;
    }
#undef UNLINK
    free(prev);
    free(nxt);
    free(res);
    return misses;
}

static uint64_t fifo_misses(const uint64_t *seq, uint64_t n, uint64_t pages, uint64_t window)
{
    uint64_t *ring = xcalloc(window, sizeof(uint64_t)), head = 0, count = 0, misses = 0;
    bool *res = xcalloc(pages, sizeof(bool));

    for (uint64_t i = 0; i < n; i++) {
        uint64_t p = seq[i];

        if (res[p])
            continue;
        misses++;
        if (count == window) {
            res[ring[head]] = false;
            ring[head] = p;
            head = (head + 1) % window;
        } else {
            ring[(head + count++) % window] = p;
        }
        res[p] = true;
    }
    free(ring);
    free(res);
    return misses;
}

/* remap.c's evict_for() and remap_handle_access(), with one page per group. */
static uint64_t clock_misses(const uint64_t *seq, uint64_t n, uint64_t bar_pages, uint64_t window)
{
    bool *res = xcalloc(bar_pages, sizeof(bool)), *ref = xcalloc(bar_pages, sizeof(bool));
    uint64_t hand = 0, resident = 0, misses = 0;

    for (uint64_t i = 0; i < n; i++) {
        uint64_t g = seq[i];

        if (res[g])
            continue;
        misses++;
        for (uint64_t steps = 0; steps < 2 * bar_pages; steps++) {
            uint64_t c = hand;

            if (resident + 1 <= window)
                break;
            hand = (hand + 1) % bar_pages;
            if (c == g || !res[c])
                continue;
            if (ref[c]) {
                ref[c] = false;
                continue;
            }
            res[c] = false;
            resident--;
        }
        res[g] = true;
        resident++;
        ref[g] = true;
    }
    free(res);
    free(ref);
    return misses;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"kind", required_argument, NULL, 'k'},   {"pages", required_argument, NULL, 'p'},
        {"s", required_argument, NULL, 's'},      {"seed", required_argument, NULL, 'e'},
        {"count", required_argument, NULL, 'c'},  {"window", required_argument, NULL, 'w'},
        {"bar-pages", required_argument, NULL, 'b'}, {NULL, 0, NULL, 0},
    };
    const char *kind = NULL;
    uint64_t pages = 0, s = 100, seed = 1, count = 0, window = 0, bar_pages = 0;
    int c;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
        case 'k': kind = optarg; break;
        case 'p': pages = strtoull(optarg, NULL, 0); break;
        case 's': s = strtoull(optarg, NULL, 0); break;
        case 'e': seed = strtoull(optarg, NULL, 0); break;
        case 'c': count = strtoull(optarg, NULL, 0); break;
        case 'w': window = strtoull(optarg, NULL, 0); break;
        case 'b': bar_pages = strtoull(optarg, NULL, 0); break;
        default: goto usage;
        }
    }
    if (!bar_pages)
        bar_pages = pages;
    if (!kind || (strcmp(kind, "loop") && strcmp(kind, "zipf")) || !pages || !count || !window ||
        bar_pages < pages)
        goto usage;

    struct trace t;
    uint64_t *seq = xcalloc(count, sizeof(uint64_t));
    if (trace_init(&t, strcmp(kind, "zipf") == 0 ? TRACE_ZIPF : TRACE_LOOP, pages,
                   (unsigned int)s, seed)) {
        fprintf(stderr, "belady: out of memory\n");
        return 1;
    }
    for (uint64_t i = 0; i < count; i++)
        seq[i] = trace_next(&t, i);
    trace_fini(&t);

    uint64_t distinct = 0;
    bool *seen = xcalloc(pages, sizeof(bool));
    for (uint64_t i = 0; i < count; i++)
        if (!seen[seq[i]]) {
            seen[seq[i]] = true;
            distinct++;
        }
    free(seen);
    printf("{\"kind\":\"%s\",\"pages\":%llu,\"s\":%llu,\"seed\":%llu,\"count\":%llu,"
           "\"window\":%llu,\"distinct\":%llu,\"opt\":%llu,\"lru\":%llu,\"fifo\":%llu,"
           "\"clock\":%llu}\n",
           kind, (unsigned long long)pages, (unsigned long long)s, (unsigned long long)seed,
           (unsigned long long)count, (unsigned long long)window, (unsigned long long)distinct,
           (unsigned long long)opt_misses(seq, count, pages, window),
           (unsigned long long)lru_misses(seq, count, pages, window),
           (unsigned long long)fifo_misses(seq, count, pages, window),
           (unsigned long long)clock_misses(seq, count, bar_pages, window));
    free(seq);
    return 0;
usage:
    fprintf(stderr, "usage: belady --kind loop|zipf --pages N [--s HUNDREDTHS] [--seed S] "
                    "--count N --window PAGES [--bar-pages N]\n");
    return 2;
}
