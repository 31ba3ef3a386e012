/* SPDX-License-Identifier: MIT */
/*
 * Lending mode (remap.h). The BAR is one lend slot over the whole backing;
 * the table below is what the daemon believes is mapped into the guest.
 * The kernel is the truth: an ACCESS for a page we believe mapped is mapped
 * again, invalidation events only keep the window accounting honest.
 *
 * Memory: one bit per page (resident, with summary levels: bitmap.h) and
 * two per fault-around group (the policy's: evict.h): a 64 GiB BAR costs
 * 2 MiB + 32 KiB + 256 KiB.
 *
 * Work per request does not grow with the BAR: the resident bitmap finds the
 * next resident page in a few word reads per level, a group's resident count
 * is a popcount of its (at most 8) words, re-basing and event handling walk
 * what is resident, and one request's victim search visits at most
 * EVICT_SWEEP_MAX groups (evict.h): when that is not enough it answers
 * "retry" and the next request continues from where the hand stopped.
 *
 * Readahead (--readahead, on by default): a fault where one of a few
 * sequential streams' last chunk ended maps the stream's next chunk, twice
 * the last, up to 2 MiB and to a size two of which per vCPU fit the window;
 * any other fault maps its group and starts a candidate stream
 * (readahead_chunk()). No room for a chunk: the group alone.
 *
 * Eviction (evict.h): when mapping would take more pages than the window
 * allows, the request first ages the resident pages (IOCTL_PRIVCMD_LEND_AGE:
 * which were used since the last pass, one call of at most 4096 pages a
 * request)
 * and then unmaps the groups the policy chooses: by default tinylfu, a
 * frequency filter between a small probation FIFO and a main CLOCK, which
 * keeps part of a loop larger than the window resident and ranks groups by
 * use; --eviction clock is second-chance CLOCK. A kernel that cannot age
 * (revision 2: ENOTTY) leaves only faults as use: clock, as before aging.
 */
#include "remap.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "bitmap.h"
#include "log.h"
#include "util.h"

/* The one slot: the whole BAR. */
#define REMAP_SLOT 0
/* EAGAIN means an invalidation raced us: retry a few times, then let the guest fault again. */
#define REMAP_MAX_RETRIES 16
#define EVENT_BATCH 64
/*
 * Readahead: the sequential streams followed at once (interleaved copies,
 * several vCPUs), and the most one fault maps for a stream: 2 MiB, the
 * largest fault-around, so a request stays as bounded as before.
 */
#define RA_STREAMS   8
#define RA_MAX_PAGES 512

struct ra_stream {
    uint64_t next;  /* the page where a fault continues the stream: the end of its last chunk */
    uint64_t pages; /* the last chunk's size */
    uint64_t used;  /* when it last matched or started (0: free) */
};

struct remap {
    struct remap_params p;
    uint64_t pages;           /* BAR pages */
    uint64_t group_pages;     /* fault-around, in pages */
    uint64_t groups;
    uint64_t window_pages;    /* resident pages at most */
    struct bitmap resident;   /* one bit per page; .set is the resident page count */
    struct evict ev;          /* the replacement policy, over groups */
    bool aging_off;           /* the kernel cannot age (revision 2): evict.h's clock, no aging */
    bool aged;                /* this request aged already */
    uint64_t ra_max;          /* pages a stream's chunk may grow to; group_pages: readahead off */
    uint64_t ra_clock;
    struct ra_stream ra[RA_STREAMS];
    struct bar_window win;    /* the window the slot and the access range follow */
    bool slot_live;
    uint64_t overflows;       /* event-queue overflows seen: everything was unmapped */
};

/* Mark pages [first, first + n) resident or not: how many changed. */
static uint64_t mark_range(struct remap *r, uint64_t first, uint64_t n, bool resident)
{
    uint64_t changed = resident ? bitmap_set_range(&r->resident, first, n)
                                : bitmap_clear_range(&r->resident, first, n);

    /* A gauge: a scenario compares it with what the kernel has installed. */
    r->p.cnt->remap_resident_pages = r->resident.set;
    return changed;
}

static uint64_t resident_in(const struct remap *r, uint64_t first, uint64_t n)
{
    return bitmap_count_range(&r->resident, first, n);
}

static uint64_t resident_pages(const struct remap *r)
{
    return r->resident.set;
}

uint64_t remap_min_window(unsigned int nr_vcpus)
{
    return 2ULL * MAX(nr_vcpus, 1u) * XC_PAGE_SIZE;
}

int remap_create(struct remap **out, const struct remap_params *p)
{
    struct remap *r;

    *out = NULL;
    if (p->window < remap_min_window(p->nr_vcpus))
        return -EINVAL;
    if (!p->lend || !is_power_of_2(p->bar_size) || p->bar_size < XC_PAGE_SIZE ||
        !is_power_of_2(p->fault_around) || p->fault_around < XC_PAGE_SIZE ||
        p->fault_around > (2ULL << 20) || p->window < XC_PAGE_SIZE ||
        p->window % XC_PAGE_SIZE || p->window > p->bar_size || p->backing->size < p->bar_size)
        return -EINVAL;
    r = calloc(1, sizeof(*r));
    if (!r)
        return -ENOMEM;
    r->p = *p;
    r->pages = p->bar_size / XC_PAGE_SIZE;
    r->group_pages = MIN(p->fault_around, p->bar_size) / XC_PAGE_SIZE;
    r->window_pages = p->window / XC_PAGE_SIZE;
    /* Two groups per vCPU must fit the window: shrink groups until they do. */
    while (r->group_pages > 1 && r->group_pages * 2 * MAX(p->nr_vcpus, 1u) > r->window_pages)
        r->group_pages /= 2;
    r->groups = r->pages / r->group_pages;
    /* A chunk is a group for the window's rule: two per vCPU must fit. */
    r->ra_max = r->group_pages;
    while (p->readahead && r->ra_max * 2 <= MIN(RA_MAX_PAGES, r->pages) &&
           r->ra_max * 2 * 2 * MAX(p->nr_vcpus, 1u) <= r->window_pages)
        r->ra_max *= 2;
    if (evict_init(&r->ev, p->eviction, r->pages, r->group_pages, r->window_pages) ||
        bitmap_init(&r->resident, r->pages)) {
        bitmap_free(&r->resident);
        evict_free(&r->ev);
        free(r);
        return -ENOMEM;
    }
    *out = r;
    return 0;
}

int remap_fd(const struct remap *r)
{
    return xenlend_fd(r->p.lend);
}

/*
 * Nothing is resident. The policy's bits of groups without resident pages
 * are never read (its searches visit resident groups only, and a fresh map
 * resets a group's place), so they stay: the work follows what was resident.
 */
static void forget_all(struct remap *r)
{
    bitmap_clear_all(&r->resident);
    r->p.cnt->remap_resident_pages = 0;
}

static int claim_range(struct remap *r, const struct bar_window *w)
{
    return xenlend_claim_access_range(r->p.lend, r->p.server, w->base, w->base + w->size - 1) < 0
               ? -errno
               : 0;
}

static void release_range(struct remap *r, const struct bar_window *w)
{
    if (xenlend_release_access_range(r->p.lend, r->p.server, w->base, w->base + w->size - 1) < 0)
        log_guest(LOG_LVL_WARN, "releasing the access range at 0x%llx: %s",
                  (unsigned long long)w->base, strerror(errno));
}

static int slot_set(struct remap *r, const struct bar_window *w)
{
    return xenlend_set_slot(r->p.lend, REMAP_SLOT, w->base / XC_PAGE_SIZE, r->p.backing->base,
                            r->pages, 0) < 0
               ? -errno
               : 0;
}

static void slot_delete(struct remap *r)
{
    /* Every page leaves the guest with the slot. */
    if (xenlend_set_slot(r->p.lend, REMAP_SLOT, 0, NULL, 0, 0) < 0)
        log_guest(LOG_LVL_WARN, "deleting the lend slot: %s", strerror(errno));
    r->slot_live = false;
}

static int map_pages(struct remap *r, uint64_t first, uint64_t n, uint64_t faulting);

/*
 * Re-base: the pages that were resident at the old gfns are mapped at the
 * new ones straight away, so a relocation does not cost the guest a fault
 * per page. Exactly those pages, run by run: a group is often only partly
 * resident (invalidations take single pages), and mapping whole groups
 * could exceed the resident window. Bounded by the resident window.
 */
static void remap_resident(struct remap *r)
{
    for (uint64_t p = bitmap_next_set(&r->resident, 0); p < r->pages;) {
        uint64_t n = bitmap_next_clear(&r->resident, p, r->pages) - p;

        mark_range(r, p, n, false);
        map_pages(r, p, n, UINT64_MAX);
        p = bitmap_next_set(&r->resident, p + n);
    }
}

int remap_window_change(struct remap *r, const struct bar_window *old_win,
                        const struct bar_window *new_win)
{
    int rc;

    if (new_win->enabled) {
        /* Claim the new range first: on failure nothing has changed. */
        rc = claim_range(r, new_win);
        if (rc)
            return rc;
        if (r->slot_live)
            slot_delete(r);
        rc = slot_set(r, new_win);
        if (rc) {
            /* Roll back to the old window, as bar.h asks of us. */
            if (old_win->enabled && slot_set(r, old_win) == 0) {
                r->slot_live = true;
                remap_resident(r);
            }
            release_range(r, new_win);
            return rc;
        }
        r->slot_live = true;
        if (old_win->enabled)
            release_range(r, old_win);
        r->win = *new_win;
        remap_resident(r);
        return 0;
    }
    /*
     * Decoding off (or the BAR unplaced, as between the two dword writes of a
     * 64-bit move): every page leaves the guest. The resident bits stay, as
     * the list of pages to map again when the window comes back.
     */
    if (r->slot_live)
        slot_delete(r);
    if (old_win->enabled)
        release_range(r, old_win);
    r->win = *new_win;
    return 0;
}

void remap_release_access(struct remap *r, const struct bar_window *w)
{
    if (w->enabled)
        xenlend_release_access_range(r->p.lend, r->p.server, w->base, w->base + w->size - 1);
}

int remap_take_over(struct remap *r, const struct bar_window *target,
                    const struct bar_window *stale, unsigned int n)
{
    int rc;

    for (unsigned int i = 0; i < n; i++)
        if (xenlend_release_access_range(r->p.lend, r->p.server, stale[i].base,
                                         stale[i].base + stale[i].size - 1) < 0 &&
            errno != ENOENT)
            log_warn("releasing the access range at 0x%llx a change left: %s",
                     (unsigned long long)stale[i].base, strerror(errno));
    if (!target->enabled)
        return 0;
    rc = claim_range(r, target);
    if (rc == 0 || rc == -EEXIST)
        rc = slot_set(r, target);
    if (rc) {
        /* The caller then treats the window as not decoding: claim nothing either. */
        remap_release_access(r, target);
        return rc;
    }
    r->slot_live = true;
    r->win = *target;
    return 0;
}

void remap_destroy(struct remap *r)
{
    if (!r)
        return;
    if (r->slot_live)
        slot_delete(r);
    if (r->win.enabled)
        release_range(r, &r->win);
    bitmap_free(&r->resident);
    evict_free(&r->ev);
    free(r);
}

void remap_apply_events(struct remap *r)
{
    struct privcmd_lend_event ev[EVENT_BATCH];
    int n;

    /* At most a bounded number of batches per call; the fd stays readable if more wait. */
    for (unsigned int batch = 0; batch < 16; batch++) {
        n = xenlend_read_events(r->p.lend, ev, EVENT_BATCH);
        if (n < 0) {
            log_guest(LOG_LVL_WARN, "reading lending events: %s", strerror(errno));
            return;
        }
        for (int i = 0; i < n; i++) {
            const struct privcmd_lend_event *e = &ev[i];
            uint64_t gone;

            if (e->reason == LEND_EV_OVERFLOW) {
                /*
                 * Events were lost: which pages are still mapped is unknown.
                 * Unmap them all, so the table's "nothing mapped" is true and
                 * the window stays honest; they fault back in as needed.
                 */
                r->overflows++;
                if (r->slot_live && xenlend_unmap(r->p.lend, REMAP_SLOT, 0, r->pages) < 0)
                    log_guest(LOG_LVL_WARN, "unmapping after an event overflow: %s",
                              strerror(errno));
                r->p.cnt->remap_pages_dropped += resident_pages(r);
                forget_all(r);
                log_guest(LOG_LVL_WARN, "lending event queue overflowed: unmapped everything");
                continue;
            }
            if (e->slot != REMAP_SLOT || e->first_page >= r->pages ||
                e->count > r->pages - e->first_page) {
                r->p.cnt->remap_stale_events++;
                continue;
            }
            gone = mark_range(r, e->first_page, e->count, false);
            r->p.cnt->remap_pages_invalidated += gone;
            if (gone < e->count)
                r->p.cnt->remap_stale_events++;
            /* Whether MIGRATED content survived shows when the page is mapped again. */
            if (e->reason == LEND_EV_UNMAPPED) {
                log_guest(LOG_LVL_ERROR, "the backing behind the BAR was unmapped");
            }
        }
        if (n < EVENT_BATCH)
            return;
    }
}

/*
 * The policy's aging call: the kernel's accessed bits of [first, first + n),
 * then the events, so that a page an invalidation took is no longer
 * resident when evict_age() reads the bits (a bit says "used", never
 * "mapped"). ENOTTY / EOPNOTSUPP: no aging here (a revision-2 kernel or
 * hypervisor): the policy becomes clock, once, and says so.
 */
static int age_range(void *ctx, uint64_t first, uint64_t n, uint64_t *bits)
{
    struct remap *r = ctx;
    int young = xenlend_age(r->p.lend, REMAP_SLOT, first, n, bits);

    if (young < 0) {
        int err = errno;

        if (err == ENOTTY || err == EOPNOTSUPP) {
            /* Once: from now on no request ages, and tinylfu would have no counts. */
            r->aging_off = true;
            r->ev.policy = EVICT_CLOCK;
            log_guest(LOG_LVL_WARN, "no aging in this kernel or hypervisor (%s): evicting with "
                      "CLOCK without use bits", strerror(err));
        } else {
            log_guest(LOG_LVL_WARN, "aging BAR pages 0x%llx+%llu: %s",
                      (unsigned long long)(first * XC_PAGE_SIZE), (unsigned long long)n,
                      strerror(err));
        }
        return -err;
    }
    remap_apply_events(r);
    r->p.cnt->remap_aged_pages += n;
    r->p.cnt->remap_young_pages += (uint64_t)young;
    return 0;
}

/*
 * Make room for `need` more resident pages, never touching groups
 * [keep_lo, keep_hi] (what is about to be mapped): age the resident pages
 * (once per request, bounded: evict.h), then unmap the groups the policy
 * chooses. Its searches are bounded per request; when that is not enough the
 * caller answers "retry" and the next request continues. True if there is
 * room.
 */
static bool evict_for(struct remap *r, uint64_t need, uint64_t keep_lo, uint64_t keep_hi)
{
    if (resident_pages(r) + need <= r->window_pages)
        return true;
    /* Once per request: the readahead's fallback to its group comes back here. */
    if (!r->aging_off && !r->aged) {
        r->aged = true;
        evict_age(&r->ev, &r->resident, LEND_AGE_MAX_PAGES, age_range, r);
    }
    while (resident_pages(r) + need > r->window_pages) {
        uint64_t g = evict_choose(&r->ev, &r->resident, keep_lo, keep_hi), first, n;

        if (g == EVICT_NONE) {
            r->p.cnt->remap_sweeps_deferred++;
            return false;
        }
        first = g * r->group_pages;
        n = resident_in(r, first, r->group_pages);
        if (xenlend_unmap(r->p.lend, REMAP_SLOT, first, r->group_pages) < 0) {
            log_guest(LOG_LVL_WARN, "evicting BAR offset 0x%llx: %s",
                      (unsigned long long)(first * XC_PAGE_SIZE), strerror(errno));
            /*
             * Still resident: back in the policy's books as if just mapped,
             * and this request gives up (a dying domain fails every unmap:
             * trying other groups would only fail again).
             */
            evict_mapped(&r->ev, g, true, false);
            r->p.cnt->remap_sweeps_deferred++;
            return false;
        }
        mark_range(r, first, r->group_pages, false);
        r->p.cnt->remap_pages_evicted += n;
    }
    return true;
}

/*
 * --on-lost zero: the page whose content the host lost becomes a hole in
 * the backing, which then reads zeros, as after any hole the host punches
 * (the kernel cannot install zeros itself: lend_abi.h). Backings without a
 * file behind them (a device's BAR, a dma-buf) cannot: EOPNOTSUPP.
 */
static int zero_lost_page(struct remap *r, uint64_t page)
{
    const struct backing *b = r->p.backing;

    if (fallocate(b->fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE,
                  (off_t)(b->fd_offset + page * XC_PAGE_SIZE), (off_t)XC_PAGE_SIZE) < 0)
        return -errno;
    return 0;
}

/*
 * Map [first, first + n): the kernel checks each page's lease as it installs
 * it. EAGAIN: an invalidation raced, retry from where it stopped. ENODATA
 * (content lost: made a hole and mapped again under --on-lost zero) or
 * EBUSY (the gfn holds guest RAM: a guest that put its BAR over its own
 * memory): a neighbour is skipped, only the faulting page decides the
 * answer. Returns 0, or the faulting page's -errno.
 */
static int map_pages(struct remap *r, uint64_t first, uint64_t n, uint64_t faulting)
{
    unsigned int retries = 0;
    uint64_t zeroed = UINT64_MAX; /* the page last made a hole: once per page */

    while (n) {
        uint64_t done = 0, overflows = r->overflows;
        int rc = xenlend_map(r->p.lend, REMAP_SLOT, first, n, 0, &done);
        int err = rc < 0 ? errno : 0;

        if (done > n)
            done = n; /* the kernel is trusted, but not with our arithmetic */
        /*
         * Events queued before our pages went in describe invalidations that
         * may have ended before the install: applied after marking, they
         * would clear pages that are mapped again and the window would
         * overfill. Applied first, a late one can only make us count a page
         * that is gone, which the next access request corrects.
         */
        remap_apply_events(r);
        if (r->overflows == overflows)
            r->p.cnt->remap_pages_mapped += mark_range(r, first, done, true);
        first += done;
        n -= done;
        if (rc == 0)
            return 0;
        if (err == EAGAIN) {
            r->p.cnt->remap_retries++;
            if (++retries > REMAP_MAX_RETRIES)
                return -EAGAIN;
            continue;
        }
        if (err == ENODATA && zeroed != first) {
            r->p.cnt->remap_lost++;
            if (r->p.on_lost == ON_LOST_ZERO && zero_lost_page(r, first) == 0) {
                zeroed = first;
                continue; /* the same page again, zeros now */
            }
        }
        if (err == ENODATA || err == EBUSY) {
            if (first == faulting)
                return -err;
            /* A lost or busy neighbour: leave it to its own fault (if any), map the rest. */
            first++;
            n--;
            continue;
        }
        return -err;
    }
    return 0;
}

/*
 * What a fault in `group` maps: its group, or, when it lands where a
 * sequential stream's last chunk ended, the next chunk of that stream, twice
 * the last (as Linux's readahead grows its window), up to ra_max pages and
 * the BAR's end. Any other fault starts a candidate stream in the least
 * recently used entry, so random access maps the fault-around only, and a
 * few interleaved streams are each followed. Returns the stream entry used,
 * its previous state in *was (put back if the request is answered "retry":
 * the same fault comes again and must find the stream as it was).
 */
static struct ra_stream *readahead_chunk(struct remap *r, uint64_t group, uint64_t *first,
                                         uint64_t *n, struct ra_stream *was)
{
    uint64_t start = group * r->group_pages;
    struct ra_stream *lru = &r->ra[0];

    *first = start;
    *n = r->group_pages;
    r->ra_clock++;
    for (unsigned int i = 0; i < RA_STREAMS; i++) {
        struct ra_stream *s = &r->ra[i];

        if (s->used && s->next == start && r->ra_max > r->group_pages) {
            *was = *s;
            *n = MIN(MIN(2 * s->pages, r->ra_max), r->pages - start);
            s->pages = *n;
            s->next = start + *n;
            s->used = r->ra_clock;
            r->p.cnt->remap_readahead_hits++;
            return s;
        }
        if (s->used < lru->used)
            lru = s;
    }
    *was = *lru;
    lru->next = start + r->group_pages;
    lru->pages = r->group_pages;
    lru->used = r->ra_clock;
    return lru;
}

uint64_t remap_handle_access(struct remap *r, const ioreq_t *req)
{
    uint64_t page, group, first, n, missing;
    bool fresh_groups[RA_MAX_PAGES];
    struct ra_stream *stream, was;
    int rc;

    r->p.cnt->remap_accesses++;
    if (!r->win.enabled || req->addr < r->win.base || req->addr - r->win.base >= r->win.size) {
        /*
         * The guest moved the BAR or turned decoding off while this vCPU's
         * access was in flight: the range is no longer ours, so the access
         * re-executed goes where that address decodes now (lend_abi.h).
         */
        r->p.cnt->remap_outside_window++;
        return IOREQ_ACCESS_RETRY;
    }
    if (!r->slot_live) {
        r->p.cnt->remap_faults++;
        log_guest(LOG_LVL_WARN, "access-only request at 0x%llx while the slot is dead: fault",
                  (unsigned long long)req->addr);
        return IOREQ_ACCESS_FAIL;
    }
    page = (req->addr - r->win.base) / XC_PAGE_SIZE;
    group = page / r->group_pages;
    evict_request_begin(&r->ev);
    r->aged = false;
    /* The page is mapped as far as we know: the request says otherwise, and it wins. */
    mark_range(r, page, 1, false);
    stream = readahead_chunk(r, group, &first, &n, &was);
    missing = n - resident_in(r, first, n);
    if (!evict_for(r, missing, first / r->group_pages, (first + n - 1) / r->group_pages)) {
        if (n == r->group_pages) {
            /*
             * The sweep reached its bound (it goes on at the next request)
             * or eviction failed (logged above): mapping now would overfill
             * the window. As after too many races, the guest faults again.
             */
            *stream = was;
            return IOREQ_ACCESS_RETRY;
        }
        /* No room for the readahead: the faulting group alone, and the stream starts over. */
        stream->pages = r->group_pages;
        stream->next = (group + 1) * r->group_pages;
        first = group * r->group_pages;
        n = r->group_pages;
        missing = n - resident_in(r, first, n);
        if (!evict_for(r, missing, group, group)) {
            *stream = was;
            return IOREQ_ACCESS_RETRY;
        }
    }
    if (n > r->group_pages)
        r->p.cnt->remap_readahead_pages += n - r->group_pages;
    /* Which groups had nothing resident: they enter the policy's probation (bounded: a chunk). */
    for (uint64_t g = first / r->group_pages; g <= (first + n - 1) / r->group_pages; g++)
        fresh_groups[g - first / r->group_pages] = resident_in(r, g * r->group_pages,
                                                               r->group_pages) == 0;
    rc = map_pages(r, first, n, page);
    for (uint64_t g = first / r->group_pages; g <= (first + n - 1) / r->group_pages; g++)
        if (g == group || resident_in(r, g * r->group_pages, r->group_pages))
            evict_mapped(&r->ev, g, fresh_groups[g - first / r->group_pages], g == group);
    if (rc == 0 || rc == -EAGAIN) {
        /* After too many races the guest simply faults again: no harm, no livelock here. */
        return IOREQ_ACCESS_RETRY;
    }
    r->p.cnt->remap_faults++;
    if (rc == -ENODATA) {
        log_guest(LOG_LVL_WARN, "BAR offset 0x%llx lost its content: the guest takes a fault",
                  (unsigned long long)(page * XC_PAGE_SIZE));
    } else {
        r->p.cnt->remap_map_failures++;
        log_guest(LOG_LVL_WARN, "mapping BAR offset 0x%llx failed: %s: the guest takes a fault",
                  (unsigned long long)(page * XC_PAGE_SIZE), strerror(-rc));
    }
    return IOREQ_ACCESS_FAIL;
}
