/* SPDX-License-Identifier: MIT */
/*
 * Offline replay of the page trace the simulated guest runs (the `trace`
 * workload, tests/sim/harness/trace.h): misses of a resident window of
 * WINDOW pages under
 *
 *   opt    Belady's optimal: evict the page whose next use is farthest away
 *   lru    least recently used
 *   fifo   first in, first out
 *   oracle the popularity oracle: the true probabilities, A0 (oracle_misses())
 *   lfu    perfect LFU: exact counts of the whole trace so far (lfu_misses())
 *   and the daemon's own policies, ioreq-lend/evict.c itself (groups are
 *   pages here: --fault-around 4K, --readahead off; the hand walks page
 *   indices 0..BAR_PAGES-1):
 *   clock       --eviction clock without aging (a revision-2 kernel, and
 *               the daemon before revision 3): faults are the only use
 *   clock_aged  --eviction clock with accessed bits
 *   tinylfu     --eviction tinylfu (the default), with accessed bits
 *
 * Every policy starts empty, so compulsory misses count for all; the
 * daemon's misses are the run's ACCESS requests. The model of the policy
 * the daemon ran must equal them: it checks that the offline replay is the
 * trace the guest ran, and that the daemon's aging saw what the model's did.
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

#include "bitmap.h"
#include "evict.h"
#include "lend_abi.h"
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

/*
 * The daemon's eviction (ioreq-lend/evict.c, the same code remap.c runs)
 * with one page per group and no readahead: what remap_handle_access() and
 * evict_for() do on a miss, and the simulated hardware's accessed bits
 * (tests/sim/hv/lend.c): every access sets its page's bit, an unmap clears
 * it, aging reports and clears the bits of resident pages.
 */
struct model {
    struct bitmap resident;
    uint64_t *young;
};

static int model_age(void *ctx, uint64_t first, uint64_t n, uint64_t *bits)
{
    struct model *m = ctx;

    memset(bits, 0, (n + 63) / 64 * sizeof(uint64_t));
    for (uint64_t i = 0; i < n; i++) {
        uint64_t p = first + i;

        if ((m->young[p / 64] >> (p % 64) & 1) && bitmap_test(&m->resident, p)) {
            m->young[p / 64] &= ~(1ULL << (p % 64));
            bits[i / 64] |= 1ULL << (i % 64);
        }
    }
    return 0;
}

static uint64_t policy_misses(const uint64_t *seq, uint64_t n, uint64_t bar_pages, uint64_t window,
                              enum evict_policy policy, bool aging)
{
    struct model m = {.young = xcalloc((bar_pages + 63) / 64, sizeof(uint64_t))};
    struct evict e;
    uint64_t misses = 0;

    if (bitmap_init(&m.resident, bar_pages) || evict_init(&e, policy, bar_pages, 1, window)) {
        fprintf(stderr, "belady: out of memory\n");
        exit(1);
    }
    for (uint64_t i = 0; i < n; i++) {
        uint64_t p = seq[i];
        bool room = true;

        m.young[p / 64] |= 1ULL << (p % 64);
        if (bitmap_test(&m.resident, p))
            continue;
        do {
            misses++; /* an ACCESS request; "retry" without a map sends another */
            evict_request_begin(&e);
            if (m.resident.set + 1 <= window)
                break;
            if (aging)
                evict_age(&e, &m.resident, LEND_AGE_MAX_PAGES, model_age, &m);
            room = true;
            while (m.resident.set + 1 > window) {
                uint64_t g = evict_choose(&e, &m.resident, p, p);

                if (g == EVICT_NONE) {
                    room = false;
                    break;
                }
                bitmap_clear_range(&m.resident, g, 1);
                m.young[g / 64] &= ~(1ULL << (g % 64));
            }
        } while (!room);
        bitmap_set_range(&m.resident, p, 1);
        evict_mapped(&e, p, true, true);
    }
    evict_free(&e);
    bitmap_free(&m.resident);
    free(m.young);
    return misses;
}

/*
 * Perfect LFU: every access of the trace counted for good (resident or
 * not), the resident page counted least evicted, the least recent among
 * equals. What a frequency learner could at best know from the trace so far,
 * unbounded memory: the gap to the oracle below is what learning costs.
 */
static uint64_t lfu_misses(const uint64_t *seq, uint64_t n, uint64_t pages, uint64_t window)
{
    uint64_t *res = xcalloc(window, sizeof(uint64_t)), nres = 0, misses = 0;
    uint64_t *count = xcalloc(pages, sizeof(uint64_t)), *last = xcalloc(pages, sizeof(uint64_t));
    bool *in = xcalloc(pages, sizeof(bool));

    for (uint64_t i = 0; i < n; i++) {
        uint64_t p = seq[i], worst = 0;

        count[p]++;
        last[p] = i;
        if (in[p])
            continue;
        misses++;
        if (nres < window) {
            res[nres++] = p;
            in[p] = true;
            continue;
        }
        for (uint64_t k = 1; k < nres; k++) {
            uint64_t a = res[k], b = res[worst];
            if (count[a] < count[b] || (count[a] == count[b] && last[a] < last[b]))
                worst = k;
        }
        in[res[worst]] = false;
        res[worst] = p;
        in[p] = true;
    }
    free(res);
    free(count);
    free(last);
    free(in);
    return misses;
}

/*
 * The popularity oracle: knows each page's true probability (the Zipf
 * rank; for a loop, where all are equal, the page number) and on a miss
 * evicts the resident page least likely to be used (A0, the best policy
 * that does not look ahead on an independent-reference trace: it keeps the
 * window - 1 hottest pages for good once they came).
 */
static uint64_t oracle_misses(const uint64_t *seq, uint64_t n, uint64_t pages, uint64_t window,
                              const uint64_t *rank)
{
    uint64_t *res = xcalloc(window, sizeof(uint64_t)), nres = 0, misses = 0;
    bool *in = xcalloc(pages, sizeof(bool));

    for (uint64_t i = 0; i < n; i++) {
        uint64_t p = seq[i], worst = 0;

        if (in[p])
            continue;
        misses++;
        if (nres < window) {
            res[nres++] = p;
            in[p] = true;
            continue;
        }
        for (uint64_t k = 1; k < nres; k++)
            if (rank[res[k]] > rank[res[worst]])
                worst = k;
        in[res[worst]] = false;
        res[worst] = p;
        in[p] = true;
    }
    free(res);
    free(in);
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

    /* Popularity ranks: trace.h's rank r is page (r * 0x9e3779b1) % pages. */
    uint64_t *rank = xcalloc(bar_pages, sizeof(uint64_t));
    for (uint64_t p = 0; p < bar_pages; p++)
        rank[p] = strcmp(kind, "zipf") == 0 ? UINT64_MAX : p;
    if (strcmp(kind, "zipf") == 0)
        for (uint64_t r = pages; r-- > 0;)
            rank[(r * 0x9e3779b1ULL) % pages] = r;

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
           "\"clock\":%llu,\"clock_aged\":%llu,\"tinylfu\":%llu,\"oracle\":%llu,\"lfu\":%llu}\n",
           kind, (unsigned long long)pages, (unsigned long long)s, (unsigned long long)seed,
           (unsigned long long)count, (unsigned long long)window, (unsigned long long)distinct,
           (unsigned long long)opt_misses(seq, count, pages, window),
           (unsigned long long)lru_misses(seq, count, pages, window),
           (unsigned long long)fifo_misses(seq, count, pages, window),
           (unsigned long long)policy_misses(seq, count, bar_pages, window, EVICT_CLOCK, false),
           (unsigned long long)policy_misses(seq, count, bar_pages, window, EVICT_CLOCK, true),
           (unsigned long long)policy_misses(seq, count, bar_pages, window, EVICT_TINYLFU, true),
           (unsigned long long)oracle_misses(seq, count, pages, window, rank),
           (unsigned long long)lfu_misses(seq, count, pages, window));
    free(rank);
    free(seq);
    return 0;
usage:
    fprintf(stderr, "usage: belady --kind loop|zipf --pages N [--s HUNDREDTHS] [--seed S] "
                    "--count N --window PAGES [--bar-pages N]\n");
    return 2;
}
