/* SPDX-License-Identifier: MIT */
/*
 * The host's memory manager taking lent pages back, for scenarios:
 *
 *   host evict off=.. len=..          content preserved but moved (VRAM to system RAM)
 *   host lose off=.. len=..           content gone
 *   host write off=.. len=.. seed=S   the host changes the content
 *   host storm rate=R duration=MS [off=.. len=..]   random evictions while the guest runs
 *   host storm-stop                   end a running storm now (host.storm_seconds: its run time)
 *   host race every=N                 an invalidation between resolve and install of every Nth map
 *   host race-age every=N             an invalidation of a page every Nth aging call found used,
 *                                     after the call tested it and before it returns
 *   host drop-ptes off=.. len=..      the simulator's host kernel drops the guest view's PTEs
 *                                     (reclaim, migration): Xen's p2m keeps the pages
 *
 * Offsets are BAR offsets of the current device, page aligned.
 */
#include <errno.h>
#include <string.h>
#include <time.h>

#include "../hv/lend.h"
#include "harness.h"
#include "pattern.h"
#include "util.h"

struct storm {
    struct harness *h;
    const struct device *dev; /* the host takes back its backing's pages, wherever the BAR is */
    uint64_t first_page, pages;
    uint64_t rate, duration_ms, count; /* count: stop after that many (0: none) */
};

static void *storm_main(void *arg)
{
    struct storm *st = arg;
    struct harness *h = st->h;
    double start = h_now(), end = start + (double)st->duration_ms / 1000.0;
    uint64_t rng = 0x5eed, period_ns = 1000000000ULL / st->rate;
    struct timespec next;

    clock_gettime(CLOCK_MONOTONIC, &next);
    for (uint64_t done = 0; (st->count == 0 || done < st->count) && h_now() < end &&
                            h->hv->state == DOM_ALIVE && !atomic_load(&h->storm_stop);) {
        uint64_t page = st->first_page + pattern_splitmix64(rng++) % st->pages;

        /* A slot that is gone (decoding off, daemon dead) is just nothing to take. */
        uint64_t bar_gfn = __atomic_load_n(&st->dev->bar_base, __ATOMIC_RELAXED) >> HV_PAGE_SHIFT;

        if (lend_host(h->hv, bar_gfn, LEND_HOST_EVICT, page, 1, 0) == 0) {
            atomic_fetch_add(&h->storm_invalidations, 1);
            done++;
        }
        /* Pacing of the load generator (absolute deadlines), not synchronisation. */
        next.tv_nsec += (long)period_ns;
        while (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    atomic_store(&h->storm_us, (uint64_t)((h_now() - start) * 1e6));
    return NULL;
}

void host_storm_join(struct harness *h)
{
    if (h->storm_running) {
        pthread_join(h->storm_thread, NULL);
        h->storm_running = false;
    }
}

int host_directive(struct harness *h, const char *what, uint64_t off, uint64_t len, uint64_t seed,
                   uint64_t rate, uint64_t duration_ms, uint64_t every, uint64_t count)
{
    struct device *d = &h->dev[h->cur_dev];
    static struct storm st;
    enum lend_host_op op;
    int rc;

    if (strcmp(what, "race") == 0) {
        lend_set_race(h->hv, (uint32_t)every);
        return 0;
    }
    if (strcmp(what, "race-age") == 0) {
        lend_set_age_race(h->hv, (uint32_t)every);
        return 0;
    }
    if (strcmp(what, "storm-stop") == 0) {
        atomic_store(&h->storm_stop, true);
        host_storm_join(h);
        atomic_store(&h->storm_stop, false);
        return 0;
    }
    if (!d->used || d->bar_size == 0)
        return -ENODEV;
    if ((off | len) & (HV_PAGE_SIZE - 1) || !range_inside(off, len, d->bar_size))
        return -EINVAL;
    if (strcmp(what, "storm") == 0) {
        if (h->storm_running || rate == 0 || duration_ms == 0)
            return -EINVAL;
        st = (struct storm){.h = h, .dev = d,
                            .first_page = off >> HV_PAGE_SHIFT, .pages = len >> HV_PAGE_SHIFT,
                            .rate = rate, .duration_ms = duration_ms, .count = count};
        rc = pthread_create(&h->storm_thread, NULL, storm_main, &st);
        if (rc)
            return -rc;
        h->storm_running = true;
        return 0;
    }
    if (strcmp(what, "evict") == 0)
        op = LEND_HOST_EVICT;
    else if (strcmp(what, "lose") == 0)
        op = LEND_HOST_LOSE;
    else if (strcmp(what, "write") == 0)
        op = LEND_HOST_WRITE;
    else if (strcmp(what, "drop-ptes") == 0)
        op = LEND_HOST_DROP_PTES;
    else
        return -EINVAL;
    return lend_host(h->hv, d->bar_base >> HV_PAGE_SHIFT, op, off >> HV_PAGE_SHIFT,
                     len >> HV_PAGE_SHIFT, seed);
}
