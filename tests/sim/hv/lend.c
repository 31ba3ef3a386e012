/* SPDX-License-Identifier: MIT */
/* The lending extension in the simulated kernel and hypervisor: see lend.h. */
#include "lend.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/userfaultfd.h>
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../harness/pattern.h"
#include "lend_abi.h"

_Static_assert(SIM_AGE_WORDS * 64 == LEND_AGE_MAX_PAGES, "one reply holds one call's bitmap");

/* Per-page state, kept by the simulated kernel. */
#define PG_MAPPED 1u /* installed in the guest's p2m */
#define PG_SHADOW 2u /* content moved to "system RAM"; the backing page is poisoned */

/*
 * Chunks of pages a slot ever mapped or moved: deleting a slot and zapping a
 * range skip the untouched ones, so their cost follows what was lent, as a
 * page-table walk skips empty tables (KVM's zap of a memslot), not the
 * slot's size.
 */
#define CHUNK_PAGES 512ULL
/* Consecutive "retry" answers for one access before the simulator calls it a livelock. */
#define LIVELOCK_RETRIES 100000
/* Views of deleted slots stay reserved so a vCPU racing the deletion faults cleanly. */
#define RETIRED_VIEWS 1024

struct lend_slot {
    bool used;
    int conn;
    uint32_t id, flags;
    uint64_t first_gfn, pages;
    int fd;
    uint64_t fd_off;
    dev_t dev; /* the file behind the slot, for struct lost_page */
    ino_t ino;
    uint8_t *host;   /* the backing pages themselves */
    uint8_t *guest;  /* what the vCPUs load and store through */
    uint8_t *shadow; /* "system RAM" for evicted content */
    int shadow_fd;
    uint8_t *pg;
    uint64_t *touched; /* one bit per CHUNK_PAGES pages: some pg[] flag was ever set there */
    /*
     * The p2m entries' accessed bits, one per page, set by the vCPUs as a
     * nested page walk would (lend_guest_ptr()), atomically and only when
     * clear, so a hot page costs a load, not a locked write, per access.
     * Meaningful only with PG_MAPPED: aging reports young & mapped, and a
     * zap clears the bits of the pages it removes.
     */
    uint64_t *young;
    uint64_t installed;
    /* KVM's invalidation protocol. */
    pthread_mutex_t mmu_lock;
    pthread_mutex_t content_lock; /* a page being moved: the page lock */
    uint64_t seq;
    unsigned int in_progress;
    uint64_t inv_lo, inv_hi;
};

struct hv_lend {
    int uffd;
    pthread_rwlock_t lock; /* the slot table; vCPUs take it for reading */
    struct lend_slot slot[HV_LEND_SLOTS];
    struct {
        uint8_t *base;
        uint64_t len;
    } retired[RETIRED_VIEWS];
    unsigned int nr_retired, next_retired;
    atomic_uint race_every;
    atomic_uint_fast64_t race_count;
    atomic_uint age_race_every;
    atomic_uint_fast64_t age_race_count;
    bool overflowed[HV_MAX_CONNS];
    /*
     * File pages whose content the host lost, by file and offset: like
     * hardware poison in Linux's page cache, lost-ness belongs to the page of
     * the file, not to a slot, and outlives any slot over it.
     */
    pthread_mutex_t lost_lock;
    struct lost_page {
        dev_t dev;
        ino_t ino;
        uint64_t off;
    } *lost;
    size_t nr_lost, cap_lost;
};

static _Thread_local struct hv_vcpu *tls_vcpu;

static void *page_of(uint8_t *base, uint64_t i)
{
    return base + i * HV_PAGE_SIZE;
}

/* ---- The guest side: a vCPU touching a lent page ---- */

enum view_hit { VIEW_NONE, VIEW_LIVE, VIEW_RETIRED };

/* Which lent page a faulting host address is, if any. */
static enum view_hit view_lookup(struct hv_lend *l, const uint8_t *addr, uint64_t *gpa)
{
    enum view_hit hit = VIEW_NONE;

    pthread_rwlock_rdlock(&l->lock);
    for (unsigned int i = 0; i < HV_LEND_SLOTS && hit == VIEW_NONE; i++) {
        struct lend_slot *s = &l->slot[i];
        if (s->used && addr >= s->guest && addr < s->guest + s->pages * HV_PAGE_SIZE) {
            *gpa = s->first_gfn * HV_PAGE_SIZE + (uint64_t)(addr - s->guest);
            hit = VIEW_LIVE;
        }
    }
    for (unsigned int i = 0; i < l->nr_retired && hit == VIEW_NONE; i++)
        if (addr >= l->retired[i].base && addr < l->retired[i].base + l->retired[i].len)
            hit = VIEW_RETIRED;
    pthread_rwlock_unlock(&l->lock);
    return hit;
}

static void page_state(struct hv_lend *l, uint64_t gpa, char *buf, size_t len);

/* One more "retry" for this vCPU's access: true (and reported) past the livelock bound. */
static bool livelocked(struct hv_vcpu *v, uint64_t gpa)
{
    char why[160];

    if (++v->retry_streak <= LIVELOCK_RETRIES)
        return false;
    page_state(v->hv->lend, gpa, why, sizeof(why));
    hv_fail(v->hv, "vCPU %u: %u retries for gpa 0x%llx without the page appearing (%s)", v->id,
            LIVELOCK_RETRIES, (unsigned long long)gpa, why);
    v->retry_streak = 0;
    return true;
}

/*
 * Is gpa's lent page in the p2m (PG_MAPPED)? Then Xen would not have taken
 * an EPT violation: the fault is the host's page table disagreeing with the
 * simulated p2m. The guest view's PTE belongs to the host kernel, which may
 * take it back on its own (reclaim, swap, migration of the shmem page): it
 * is put back here, as the entry Xen's p2m still holds. Asking the device
 * model instead cannot help: the kernel's map of a page it has mapped does
 * nothing (lend_abi.h), so the guest would fault forever.
 */
static bool p2m_present(struct hv *hv, uint64_t gpa)
{
    struct hv_lend *l = hv->lend;
    uint64_t gfn = gpa >> HV_PAGE_SHIFT;
    bool present = false;

    pthread_rwlock_rdlock(&l->lock);
    for (unsigned int i = 0; i < HV_LEND_SLOTS; i++) {
        struct lend_slot *s = &l->slot[i];
        uint64_t pg;

        if (!s->used || gfn < s->first_gfn || gfn - s->first_gfn >= s->pages)
            continue;
        pg = gfn - s->first_gfn;
        pthread_mutex_lock(&s->mmu_lock);
        if (s->pg[pg] & PG_MAPPED) {
            struct uffdio_continue cont = {
                .range = {.start = (uintptr_t)page_of(s->guest, pg), .len = HV_PAGE_SIZE}};

            /* EEXIST: installed between the fault and here, nothing was missing. */
            if (ioctl(l->uffd, UFFDIO_CONTINUE, &cont) == 0)
                atomic_fetch_add(&hv->stats.lend_ptes_restored, 1);
            else if (errno != EEXIST)
                hv_fail(hv, "restoring the host PTE of lent page %llu: %s", (unsigned long long)pg,
                        strerror(errno));
            present = true;
        }
        pthread_mutex_unlock(&s->mmu_lock);
        break;
    }
    pthread_rwlock_unlock(&l->lock);
    return present;
}

/*
 * Xen's EPT-violation path, run in the faulting vCPU's signal handler. It
 * only interrupts a guest access (never code holding a lock or in malloc),
 * which is what makes the locks and the ioreq round trip below safe here.
 */
static void guest_fault(int sig, siginfo_t *si, void *uctx)
{
    struct hv_vcpu *v = tls_vcpu;
    uint64_t gpa = 0;

    (void)uctx;
    if (!v || !v->in_guest_access || !v->hv->lend) {
        signal(sig, SIG_DFL); /* not ours: let it crash where it happened */
        return;
    }
    switch (view_lookup(v->hv->lend, si->si_addr, &gpa)) {
    case VIEW_NONE:
        signal(sig, SIG_DFL);
        return;
    case VIEW_RETIRED:
        siglongjmp(v->jmp, LEND_JMP_RELOOKUP);
    case VIEW_LIVE:
        break;
    }
    if (p2m_present(v->hv, gpa)) {
        if (livelocked(v, gpa))
            siglongjmp(v->jmp, LEND_JMP_FAULT);
        return; /* the instruction runs again, natively */
    }
    switch (lend_access(v, gpa, v->access_size, v->access_dir)) {
    case LEND_ACCESS_RETRY:
        return; /* the instruction runs again, natively */
    case LEND_ACCESS_FAULT:
        siglongjmp(v->jmp, LEND_JMP_FAULT);
    case LEND_ACCESS_UNCLAIMED:
        siglongjmp(v->jmp, LEND_JMP_UNCLAIMED);
    case LEND_ACCESS_DEAD:
        siglongjmp(v->jmp, LEND_JMP_DEAD);
    }
}

void lend_vcpu_enter(struct hv_vcpu *v)
{
    tls_vcpu = v;
}

/*
 * The guest is about to access page i: set its accessed bit. Before the
 * access rather than after it, as the page walk comes before the access;
 * if the access then faults, the page is not mapped and its bit means
 * nothing until the map installs it, when the re-executed access finds it
 * set, as hardware would set it. A rep run stays within a page, so one bit
 * per access is the page granularity of the hardware's bit.
 */
static void young_mark(struct lend_slot *s, uint64_t i)
{
    uint64_t *w = &s->young[i / 64], bit = 1ULL << (i % 64);

    if (!(__atomic_load_n(w, __ATOMIC_RELAXED) & bit))
        __atomic_fetch_or(w, bit, __ATOMIC_RELAXED);
}

void *lend_guest_ptr(struct hv *hv, uint64_t gpa)
{
    struct hv_lend *l = hv->lend;
    uint64_t gfn = gpa >> HV_PAGE_SHIFT;
    void *p = NULL;

    if (!l)
        return NULL;
    pthread_rwlock_rdlock(&l->lock);
    for (unsigned int i = 0; i < HV_LEND_SLOTS && !p; i++) {
        struct lend_slot *s = &l->slot[i];
        if (s->used && gfn >= s->first_gfn && gfn - s->first_gfn < s->pages) {
            p = s->guest + (gpa - s->first_gfn * HV_PAGE_SIZE);
            if (s->young)
                young_mark(s, gfn - s->first_gfn);
        }
    }
    pthread_rwlock_unlock(&l->lock);
    return p;
}

/* The highest enabled server claiming [gpa, gpa + size) as access-only, or -1. */
static int access_server_locked(struct hv *hv, uint64_t gpa, unsigned int size, uint32_t *gen)
{
    for (int id = HV_MAX_SERVERS - 1; id >= 0; id--) {
        struct hv_server *s = &hv->server[id];
        if (s->used && s->enabled &&
            rangeset_contains(&s->range[XEN_DMOP_IO_RANGE_ACCESS], gpa, gpa + size - 1)) {
            *gen = s->generation;
            return id;
        }
    }
    return -1;
}

/*
 * What the simulated kernel believes of the lent page at gpa, and what the
 * host's page table says of its guest view (/proc/self/pagemap): a livelock
 * report shows which of the two gave up on the page.
 */
static void page_state(struct hv_lend *l, uint64_t gpa, char *buf, size_t len)
{
    uint64_t gfn = gpa >> HV_PAGE_SHIFT;

    snprintf(buf, len, "no slot");
    if (!l)
        return;
    pthread_rwlock_rdlock(&l->lock);
    for (unsigned int i = 0; i < HV_LEND_SLOTS; i++) {
        struct lend_slot *s = &l->slot[i];
        uint64_t entry = 0, pg;
        unsigned int flags;
        int fd;

        if (!s->used || gfn < s->first_gfn || gfn - s->first_gfn >= s->pages)
            continue;
        pg = gfn - s->first_gfn;
        pthread_mutex_lock(&s->mmu_lock);
        flags = s->pg[pg];
        pthread_mutex_unlock(&s->mmu_lock);
        fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            off_t off = (off_t)((uintptr_t)page_of(s->guest, pg) / HV_PAGE_SIZE * sizeof(entry));
            if (pread(fd, &entry, sizeof(entry), off) != (ssize_t)sizeof(entry))
                entry = 0;
            close(fd);
        }
        snprintf(buf, len, "slot page %llu:%s%s, host pte %s", (unsigned long long)pg,
                 flags & PG_MAPPED ? " mapped" : " unmapped", flags & PG_SHADOW ? " moved" : "",
                 entry >> 63 & 1   ? "present"
                 : entry >> 62 & 1 ? "swap/migration"
                 : entry           ? "other"
                                   : "none");
        break;
    }
    pthread_rwlock_unlock(&l->lock);
}

enum lend_access_outcome lend_access(struct hv_vcpu *v, uint64_t gpa, unsigned int size, int dir)
{
    struct hv *hv = v->hv;
    ioreq_t p = {.type = IOREQ_TYPE_ACCESS, .addr = gpa, .size = size ? size : 1, .count = 1,
                 .dir = (uint8_t)dir};
    uint32_t gen = 0;
    int id;

    if (hv->state != DOM_ALIVE || v->stuck)
        return LEND_ACCESS_DEAD;
    pthread_mutex_lock(&hv->lock);
    id = access_server_locked(hv, gpa, p.size, &gen);
    pthread_mutex_unlock(&hv->lock);
    if (id < 0)
        return LEND_ACCESS_UNCLAIMED;
    switch (hv_ioreq_send_to(v, (uint16_t)id, &p)) {
    case HV_IO_DEAD:
        return LEND_ACCESS_DEAD;
    case HV_IO_UNCLAIMED:
        return LEND_ACCESS_RETRY; /* the server was disabled meanwhile: fault again, re-select */
    case HV_IO_HANDLED:
        break;
    }
    /* Destroyed while we waited: nothing answered; the access simply runs again. */
    if (hv->server[id].generation != gen)
        return LEND_ACCESS_RETRY;
    if (p.data == IOREQ_ACCESS_RETRY)
        return livelocked(v, gpa) ? LEND_ACCESS_FAULT : LEND_ACCESS_RETRY;
    /* IOREQ_ACCESS_FAIL, or anything else: Xen injects the fault. */
    atomic_fetch_add(&hv->stats.faults_injected, 1);
    return LEND_ACCESS_FAULT;
}

/* ---- The kernel side: slots, maps, invalidations ---- */

static void send_event(struct hv *hv, int conn, uint32_t slot, uint32_t reason, uint64_t first,
                       uint64_t count)
{
    struct privcmd_lend_event ev = {.slot = slot, .reason = reason, .first_page = first,
                                    .count = count};
    struct hv_lend *l = hv->lend;
    int queued = 0;

    pthread_mutex_lock(&hv->lock);
    if (hv->conn[conn].used && hv->conn[conn].event_wfd >= 0) {
        int fd = hv->conn[conn].event_wfd;

        ioctl(fd, FIONREAD, &queued);
        /* A bounded queue: past it, one OVERFLOW record, then nothing until it drains. */
        if (l->overflowed[conn] && queued <= (int)(LEND_EVENT_QUEUE / 2 * sizeof(ev)))
            l->overflowed[conn] = false;
        if (!l->overflowed[conn]) {
            if (queued + 2 * (int)sizeof(ev) > (int)(LEND_EVENT_QUEUE * sizeof(ev))) {
                ev = (struct privcmd_lend_event){.reason = LEND_EV_OVERFLOW};
                l->overflowed[conn] = true;
            }
            /* EPIPE: the device model died and its close is not processed yet. */
            if (write(fd, &ev, sizeof(ev)) != (ssize_t)sizeof(ev) && errno != EPIPE)
                hv_fail(hv, "lending event pipe: %s", strerror(errno));
        }
    }
    pthread_mutex_unlock(&hv->lock);
}

/* Page i's chunk may have flags set from now on (before the flag is set). */
static void chunk_touch(struct lend_slot *s, uint64_t i)
{
    uint64_t c = i / CHUNK_PAGES;

    __atomic_fetch_or(&s->touched[c / 64], 1ULL << (c % 64), __ATOMIC_RELAXED);
}

/* The first page at or after i, below end, whose chunk was touched (end if none). */
static uint64_t chunk_next(const struct lend_slot *s, uint64_t i, uint64_t end)
{
    while (i < end) {
        uint64_t c = i / CHUNK_PAGES,
                 w = __atomic_load_n(&s->touched[c / 64], __ATOMIC_RELAXED) >> (c % 64);

        if (w & 1)
            return i;
        /* The next touched chunk of this word, or the next word. */
        c = w ? c + (uint64_t)__builtin_ctzll(w) : (c / 64 + 1) * 64;
        i = c * CHUNK_PAGES;
    }
    return end;
}

/* Clear the accessed bits of pages [first, first + n): a word at a time. */
static void young_clear(struct lend_slot *s, uint64_t first, uint64_t n)
{
    if (!s->young)
        return;
    for (uint64_t i = first; i < first + n;) {
        uint64_t in_word = MIN_U64(64 - i % 64, first + n - i);
        uint64_t mask = (in_word == 64 ? ~0ULL : ((1ULL << in_word) - 1)) << (i % 64);

        __atomic_fetch_and(&s->young[i / 64], ~mask, __ATOMIC_RELAXED);
        i += in_word;
    }
}

/*
 * IOCTL_PRIVCMD_LEND_AGE: test and clear the accessed bits of [first,
 * first + count) under mmu_lock, so that no zap or install of these pages
 * is half done; vCPUs set bits without the lock, atomically. A bit counts
 * only for a page that is mapped; an unmapped page's bit reads 0 and stays:
 * the access that faulted on it set it (young_mark()), and finds it set once
 * the page is installed and it re-executes, as a real walk would set it then.
 * Work: a word at a time, and a page's flags only where a bit is set.
 */
static int slot_age(struct lend_slot *s, uint64_t first, uint64_t count, uint32_t flags,
                    uint64_t *bits, uint64_t *young)
{
    if (flags || count == 0 || first >= s->pages || count > s->pages - first)
        return -EINVAL;
    if (count > LEND_AGE_MAX_PAGES)
        return -E2BIG;
    memset(bits, 0, (count + 63) / 64 * sizeof(*bits));
    *young = 0;
    pthread_mutex_lock(&s->mmu_lock);
    for (uint64_t i = first; i < first + count;) {
        uint64_t in_word = MIN_U64(64 - i % 64, first + count - i);
        uint64_t mask = (in_word == 64 ? ~0ULL : ((1ULL << in_word) - 1)) << (i % 64);
        uint64_t set = __atomic_load_n(&s->young[i / 64], __ATOMIC_RELAXED) & mask, mapped = 0;

        for (uint64_t b = set; b; b &= b - 1) {
            uint64_t p = i / 64 * 64 + (uint64_t)__builtin_ctzll(b), out = p - first;

            if (s->pg[p] & PG_MAPPED) {
                mapped |= 1ULL << (p % 64);
                bits[out / 64] |= 1ULL << (out % 64);
                (*young)++;
            }
        }
        /* Only mapped pages' bits: the access that faulted on a page set its bit already. */
        if (mapped)
            __atomic_fetch_and(&s->young[i / 64], ~mapped, __ATOMIC_RELAXED);
        i += in_word;
    }
    pthread_mutex_unlock(&s->mmu_lock);
    return 0;
}

/* Remove the guest's PTEs for the mapped pages in [first, first + n). Needs mmu_lock. */
static uint64_t zap_locked(struct lend_slot *s, uint64_t first, uint64_t n)
{
    uint64_t zapped = 0;

    for (uint64_t i = first; i < first + n;) {
        uint64_t run = 0;

        if (i % CHUNK_PAGES == 0 || i == first) {
            i = chunk_next(s, i, first + n);
            if (i >= first + n)
                break;
        }

        while (i + run < first + n && (s->pg[i + run] & PG_MAPPED))
            s->pg[i + run++] &= (uint8_t)~PG_MAPPED;
        if (run) {
            /* The accessed bits go with the entries: a page mapped again starts afresh. */
            young_clear(s, i, run);
            /* Returns once no CPU can reach the old pages: the invalidation's promise. */
            madvise(s->guest + i * HV_PAGE_SIZE, run * HV_PAGE_SIZE, MADV_DONTNEED);
            zapped += run;
            i += run;
        } else {
            i++;
        }
    }
    s->installed -= zapped;
    return zapped;
}

/* Is page i of slot s lost? Optionally mark it lost or not. */
static bool lost_page(struct hv_lend *l, const struct lend_slot *s, uint64_t i, int set)
{
    uint64_t off = s->fd_off + i * HV_PAGE_SIZE;
    size_t k;
    bool lost;

    pthread_mutex_lock(&l->lost_lock);
    for (k = 0; k < l->nr_lost; k++)
        if (l->lost[k].dev == s->dev && l->lost[k].ino == s->ino && l->lost[k].off == off)
            break;
    lost = k < l->nr_lost;
    if (set == 0 && lost) {
        l->lost[k] = l->lost[--l->nr_lost];
    } else if (set == 1 && !lost) {
        if (l->nr_lost == l->cap_lost) {
            size_t cap = l->cap_lost ? 2 * l->cap_lost : 64;
            struct lost_page *p = realloc(l->lost, cap * sizeof(*p));
            if (!p)
                abort(); /* the simulator's own memory: not a case it models */
            l->lost = p;
            l->cap_lost = cap;
        }
        l->lost[l->nr_lost++] = (struct lost_page){.dev = s->dev, .ino = s->ino, .off = off};
    }
    pthread_mutex_unlock(&l->lost_lock);
    return lost;
}

#define LOST_TEST (-1)

/* What the host does to a page once the guest can no longer reach it. Needs content_lock. */
static void content_change(struct hv_lend *l, struct lend_slot *s, uint64_t i,
                           enum lend_host_op op, uint64_t seed)
{
    switch (op) {
    case LEND_HOST_EVICT:
        if (!(s->pg[i] & PG_SHADOW) && !lost_page(l, s, i, LOST_TEST)) {
            memcpy(page_of(s->shadow, i), page_of(s->host, i), HV_PAGE_SIZE);
            hv_poison(page_of(s->host, i), HV_PAGE_SIZE);
            chunk_touch(s, i);
            s->pg[i] |= PG_SHADOW;
        }
        break;
    case LEND_HOST_LOSE:
        hv_poison(page_of(s->host, i), HV_PAGE_SIZE);
        s->pg[i] &= (uint8_t)~PG_SHADOW;
        lost_page(l, s, i, 1);
        break;
    case LEND_HOST_WRITE: {
        uint8_t *dst = page_of(s->pg[i] & PG_SHADOW ? s->shadow : s->host, i);
        for (uint64_t b = 0; b < HV_PAGE_SIZE; b += 8) {
            uint64_t w = pattern_word(seed, (i * HV_PAGE_SIZE + b) / 8);
            memcpy(dst + b, &w, 8);
        }
        lost_page(l, s, i, 0); /* the host put content there again */
        break;
    }
    case LEND_HOST_DROP_PTES:
        break; /* the content stays where it is (lend_host()) */
    }
}

/*
 * An MMU-notifier invalidation of [first, first + n): start (in_progress,
 * range, zap), tell the device model, change the pages, end (seq++).
 */
static void slot_invalidate(struct hv *hv, struct lend_slot *s, uint64_t first, uint64_t n,
                            enum lend_host_op op, uint64_t seed)
{
    uint64_t zapped;

    /*
     * The event is queued before the mappings go: any access request this
     * invalidation causes then finds it already queued, so a device model
     * that reads events before serving requests never counts a page it has
     * just mapped again as gone.
     */
    /* Revision 2: the kernel cannot know whether content survives (lend_abi.h). */
    send_event(hv, s->conn, s->id, LEND_EV_MIGRATED, first, n);
    pthread_mutex_lock(&s->mmu_lock);
    if (s->in_progress++ == 0) {
        s->inv_lo = first;
        s->inv_hi = first + n - 1;
    } else {
        s->inv_lo = MIN_U64(s->inv_lo, first);
        s->inv_hi = s->inv_hi > first + n - 1 ? s->inv_hi : first + n - 1;
    }
    zapped = zap_locked(s, first, n);
    pthread_mutex_unlock(&s->mmu_lock);
    atomic_fetch_add(&hv->stats.lend_pages_invalidated, zapped);
    pthread_mutex_lock(&s->content_lock);
    for (uint64_t i = first; i < first + n; i++)
        content_change(hv->lend, s, i, op, seed);
    pthread_mutex_unlock(&s->content_lock);
    pthread_mutex_lock(&s->mmu_lock);
    s->seq++;
    s->in_progress--;
    pthread_mutex_unlock(&s->mmu_lock);
}

/* Is page i of the slot a hole in its file now (the device model punched one)? */
static bool page_is_hole(const struct lend_slot *s, uint64_t i)
{
    off_t off = (off_t)(s->fd_off + i * HV_PAGE_SIZE), data = lseek(s->fd, off, SEEK_DATA);

    return data < 0 ? errno == ENXIO : data != off;
}

/*
 * Make page i's content present in the backing. Needs content_lock. A lost
 * page faults (ENODATA: hmm_range_fault()'s SIGBUS) until the device model
 * punches a hole there, which truncates the poisoned page away: then it is
 * a fresh zero page, as in Linux.
 */
static int resolve_locked(struct hv_lend *l, struct lend_slot *s, uint64_t i)
{
    if (lost_page(l, s, i, LOST_TEST)) {
        if (!page_is_hole(s, i))
            return -ENODATA;
        lost_page(l, s, i, 0);
    } else if (s->pg[i] & PG_SHADOW) {
        memcpy(page_of(s->host, i), page_of(s->shadow, i), HV_PAGE_SIZE);
        hv_poison(page_of(s->shadow, i), HV_PAGE_SIZE);
        s->pg[i] &= (uint8_t)~PG_SHADOW;
    }
    /* In the page cache, so a minor fault can install it (holes would be missing faults). */
    if (fallocate(s->fd, 0, (off_t)(s->fd_off + i * HV_PAGE_SIZE), HV_PAGE_SIZE) < 0 &&
        errno != EOPNOTSUPP)
        return -EFAULT;
    return 0;
}

static bool access_claimed(struct hv *hv, uint64_t gfn)
{
    uint32_t gen;
    bool claimed;

    pthread_mutex_lock(&hv->lock);
    claimed = access_server_locked(hv, gfn * HV_PAGE_SIZE, HV_PAGE_SIZE, &gen) >= 0;
    pthread_mutex_unlock(&hv->lock);
    return claimed;
}

/* IOCTL_PRIVCMD_LEND_MAP, page by page, KVM's fault protocol for each. */
static int slot_map(struct hv *hv, struct lend_slot *s, uint64_t first, uint64_t count,
                    uint32_t flags, uint64_t *done)
{
    struct hv_lend *l = hv->lend;

    *done = 0;
    /* Revision 2 defines no map flags (LEND_MAP_F_ZERO_LOST is gone). */
    if (first >= s->pages || count > s->pages - first || flags)
        return -EINVAL;
    for (uint64_t i = first; i < first + count; i++) {
        uint64_t gfn = s->first_gfn + i, seq;
        struct uffdio_continue cont = {
            .range = {.start = (uintptr_t)page_of(s->guest, i), .len = HV_PAGE_SIZE}};
        int rc;

        if (hv->state != DOM_ALIVE)
            return -ESRCH;
        /* Guest RAM is never replaced; lent entries live only in access-only ranges. */
        if (hv_gfn_to_frame(hv, gfn) >= 0)
            return -EBUSY;
        if (!access_claimed(hv, gfn))
            return -EPERM;
        pthread_mutex_lock(&s->mmu_lock);
        seq = s->seq;
        bool mapped = s->pg[i] & PG_MAPPED;
        pthread_mutex_unlock(&s->mmu_lock);
        if (mapped) {
            (*done)++;
            continue;
        }
        pthread_mutex_lock(&s->content_lock);
        rc = resolve_locked(l, s, i);
        pthread_mutex_unlock(&s->content_lock);
        if (rc)
            return rc;
        /* The race injector: an invalidation lands between resolve and install. */
        unsigned int every = atomic_load(&l->race_every);
        if (every && atomic_fetch_add(&l->race_count, 1) % every == every - 1)
            slot_invalidate(hv, s, i, 1, LEND_HOST_EVICT, 0);
        pthread_mutex_lock(&s->mmu_lock);
        if (s->seq != seq || (s->in_progress && i >= s->inv_lo && i <= s->inv_hi)) {
            pthread_mutex_unlock(&s->mmu_lock);
            atomic_fetch_add(&hv->stats.lend_stale_installs_rejected, 1);
            atomic_fetch_add(&hv->stats.lend_retries, 1);
            return -EAGAIN;
        }
        if (ioctl(l->uffd, UFFDIO_CONTINUE, &cont) < 0 && errno != EEXIST) {
            pthread_mutex_unlock(&s->mmu_lock);
            return -EFAULT;
        }
        chunk_touch(s, i);
        s->pg[i] |= PG_MAPPED;
        s->installed++;
        /* Slots change only on the RPC thread, which is here: a plain max is enough. */
        if (s->installed > atomic_load(&hv->stats.lend_peak_installed))
            atomic_store(&hv->stats.lend_peak_installed, s->installed);
        pthread_mutex_unlock(&s->mmu_lock);
        atomic_fetch_add(&hv->stats.lend_pages_mapped, 1);
        (*done)++;
    }
    return 0;
}

static struct lend_slot *slot_find_locked(struct hv_lend *l, int conn, uint32_t id)
{
    for (unsigned int i = 0; i < HV_LEND_SLOTS; i++)
        if (l->slot[i].used && l->slot[i].conn == conn && l->slot[i].id == id)
            return &l->slot[i];
    return NULL;
}

static void retire_view(struct hv_lend *l, uint8_t *base, uint64_t len)
{
    unsigned int i = l->next_retired;

    /* Keep the address range reserved: a vCPU holding a stale pointer faults, not corrupts. */
    if (l->nr_retired == RETIRED_VIEWS)
        munmap(l->retired[i].base, l->retired[i].len);
    else
        l->nr_retired++;
    mmap(base, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED, -1, 0);
    l->retired[i].base = base;
    l->retired[i].len = len;
    l->next_retired = (i + 1) % RETIRED_VIEWS;
}

static size_t young_bytes(uint64_t pages)
{
    return (size_t)(pages + 63) / 64 * sizeof(uint64_t);
}

/* Delete a slot: every page leaves the guest, moved content returns home. */
static uint64_t slot_delete(struct hv *hv, struct lend_slot *s)
{
    struct hv_lend *l = hv->lend;
    uint64_t len = s->pages * HV_PAGE_SIZE, was_installed;

    pthread_rwlock_wrlock(&l->lock);
    pthread_mutex_lock(&s->mmu_lock);
    was_installed = s->installed;
    zap_locked(s, 0, s->pages);
    pthread_mutex_unlock(&s->mmu_lock);
    /* Moved content comes home; lost content stays lost (struct lost_page). */
    for (uint64_t i = chunk_next(s, 0, s->pages); i < s->pages; i = chunk_next(s, i + 1, s->pages))
        if (s->pg[i] & PG_SHADOW)
            memcpy(page_of(s->host, i), page_of(s->shadow, i), HV_PAGE_SIZE);
    retire_view(l, s->guest, len);
    munmap(s->host, len);
    munmap(s->shadow, len);
    close(s->shadow_fd);
    close(s->fd);
    munmap(s->pg, s->pages);
    if (s->young)
        munmap(s->young, young_bytes(s->pages));
    free(s->touched);
    pthread_mutex_destroy(&s->mmu_lock);
    pthread_mutex_destroy(&s->content_lock);
    memset(s, 0, sizeof(*s));
    pthread_rwlock_unlock(&l->lock);
    return was_installed;
}

static int slot_create(struct hv *hv, int conn, const struct sim_req *req, int fd)
{
    struct hv_lend *l = hv->lend;
    uint64_t pages = req->u.lend_slot.pages, gfn = req->u.lend_slot.first_gfn;
    struct lend_slot *s = NULL, *old;
    struct uffdio_register reg;
    uint64_t len;
    int rc = -EINVAL;

    if (fd < 0 || req->u.lend_slot.slot >= LEND_MAX_SLOTS || pages == 0 ||
        pages > (1ULL << (HV_PADDR_BITS - HV_PAGE_SHIFT)) || gfn + pages > (1ULL << 34) ||
        (req->u.lend_slot.fd_offset & (HV_PAGE_SIZE - 1)) || req->u.lend_slot.flags)
        return -EINVAL;
    len = pages * HV_PAGE_SIZE;
    pthread_rwlock_rdlock(&l->lock);
    old = slot_find_locked(l, conn, req->u.lend_slot.slot);
    if (old) {
        /* Same parameters: nothing to do. Anything else: delete first (ABI). */
        rc = old->first_gfn == gfn && old->pages == pages ? 0 : -EEXIST;
        pthread_rwlock_unlock(&l->lock);
        return rc;
    }
    for (unsigned int i = 0; i < HV_LEND_SLOTS; i++) {
        struct lend_slot *o = &l->slot[i];
        if (o->used && gfn < o->first_gfn + o->pages && o->first_gfn < gfn + pages) {
            pthread_rwlock_unlock(&l->lock);
            return -EINVAL;
        }
        if (!o->used && !s)
            s = o;
    }
    pthread_rwlock_unlock(&l->lock);
    if (!s)
        return -ENOSPC;

    struct lend_slot n = {.conn = conn, .id = req->u.lend_slot.slot, .first_gfn = gfn,
                          .pages = pages, .fd = -1, .shadow_fd = -1,
                          .fd_off = req->u.lend_slot.fd_offset};
    n.fd = dup(fd);
    if (n.fd >= 0) {
        struct stat st;

        if (fstat(n.fd, &st) == 0) {
            n.dev = st.st_dev;
            n.ino = st.st_ino;
        }
    }
    n.host = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)n.fd_off);
    n.guest = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd,
                   (off_t)n.fd_off);
    n.shadow_fd = memfd_create("xensim-sysram", MFD_CLOEXEC);
    if (n.shadow_fd >= 0 && ftruncate(n.shadow_fd, (off_t)len) == 0)
        n.shadow = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE,
                        n.shadow_fd, 0);
    /*
     * Its own zero-fill-on-demand mapping: a calloc() reusing a freed heap
     * chunk would clear one byte per page of the slot (16 MiB at 64 GiB) on
     * every slot creation, a cost real page tables do not have.
     */
    n.pg = mmap(NULL, pages, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE,
                -1, 0);
    if (n.pg == MAP_FAILED)
        n.pg = NULL;
    if (hv->cfg.lend_age) {
        /* Zero-fill on demand too: a bit per page of the slot, touched where the guest goes. */
        n.young = mmap(NULL, young_bytes(pages), PROT_READ | PROT_WRITE,
                       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
        if (n.young == MAP_FAILED)
            n.young = NULL;
    }
    n.touched = calloc((pages + CHUNK_PAGES * 64 - 1) / (CHUNK_PAGES * 64), sizeof(uint64_t));
    rc = -ENOMEM;
    if (n.fd < 0 || n.host == MAP_FAILED || n.guest == MAP_FAILED || !n.shadow ||
        n.shadow == MAP_FAILED || !n.pg || !n.touched || (hv->cfg.lend_age && !n.young))
        goto fail;
    /* Nothing of the slot is in the guest yet: every access faults until mapped. */
    madvise(n.guest, len, MADV_DONTNEED);
    reg = (struct uffdio_register){.range = {.start = (uintptr_t)n.guest, .len = len},
                                   .mode = UFFDIO_REGISTER_MODE_MISSING |
                                           UFFDIO_REGISTER_MODE_MINOR};
    rc = -EFAULT; /* the simulator can only lend shared memory (memfd, tmpfs files) */
    if (ioctl(l->uffd, UFFDIO_REGISTER, &reg) < 0)
        goto fail;
    pthread_mutex_init(&n.mmu_lock, NULL);
    pthread_mutex_init(&n.content_lock, NULL);
    n.used = true;
    pthread_rwlock_wrlock(&l->lock);
    *s = n;
    pthread_rwlock_unlock(&l->lock);
    return 0;
fail:
    if (n.host && n.host != MAP_FAILED)
        munmap(n.host, len);
    if (n.guest && n.guest != MAP_FAILED)
        munmap(n.guest, len);
    if (n.shadow && n.shadow != MAP_FAILED)
        munmap(n.shadow, len);
    if (n.shadow_fd >= 0)
        close(n.shadow_fd);
    if (n.fd >= 0)
        close(n.fd);
    if (n.pg)
        munmap(n.pg, pages);
    if (n.young)
        munmap(n.young, young_bytes(pages));
    free(n.touched);
    return rc;
}

static struct lend_slot *slot_of(struct hv *hv, int conn, uint32_t id)
{
    struct lend_slot *s;

    pthread_rwlock_rdlock(&hv->lend->lock);
    s = slot_find_locked(hv->lend, conn, id);
    pthread_rwlock_unlock(&hv->lend->lock);
    return s; /* slots change only on this (the RPC) thread */
}

/* The first page an aging reply reports used (there is one). */
static uint64_t first_young(const struct sim_reply *reply)
{
    unsigned int w = 0;

    while (!reply->u.lend_age.bits[w])
        w++;
    return w * 64ULL + (uint64_t)__builtin_ctzll(reply->u.lend_age.bits[w]);
}

int lend_dispatch(struct hv *hv, int conn, const struct sim_req *req, int fd_in,
                  struct sim_reply *reply, int *fd_reply)
{
    struct hv_conn *c = &hv->conn[conn];
    struct lend_slot *s;

    (void)fd_reply;
    /* A kernel without the extension: an unknown privcmd ioctl. */
    if (!hv->cfg.lend_kernel || !hv->lend)
        return -ENOTTY;
    if (c->restrict_domid < 0 || (uint32_t)c->restrict_domid != req->domid)
        return -EPERM; /* one domain per fd, restricted first */
    if (req->domid != hv->cfg.domid || hv->state == DOM_DEAD)
        return -ESRCH;
    switch (req->op) {
    case SIM_OP_LEND_VERSION:
        /* Revision 2 asks Xen too: XENMEM_lend_unmap answered ENOSYS means no lending there. */
        if (!hv->cfg.lend_xen)
            return -EOPNOTSUPP;
        reply->u.lend.version = hv->cfg.lend_age ? PRIVCMD_LEND_VERSION_AGE : PRIVCMD_LEND_VERSION;
        return 0;
    case SIM_OP_LEND_CLAIM_ACCESS:
        return hv_server_map_range(hv, req->u.lend_access.id, XEN_DMOP_IO_RANGE_ACCESS,
                                   req->u.lend_access.start, req->u.lend_access.end);
    case SIM_OP_LEND_RELEASE_ACCESS:
        return hv_server_unmap_range(hv, req->u.lend_access.id, XEN_DMOP_IO_RANGE_ACCESS,
                                     req->u.lend_access.start, req->u.lend_access.end);
    case SIM_OP_LEND_SET_SLOT:
        if (req->u.lend_slot.pages)
            return hv->state == DOM_ALIVE ? slot_create(hv, conn, req, fd_in) : -ESRCH;
        s = slot_of(hv, conn, req->u.lend_slot.slot);
        if (!s)
            return -EINVAL;
        slot_delete(hv, s);
        return 0;
    case SIM_OP_LEND_MAP:
        s = slot_of(hv, conn, req->u.lend_range.slot);
        if (!s)
            return -EINVAL;
        return slot_map(hv, s, req->u.lend_range.first_page, req->u.lend_range.count,
                        req->u.lend_range.flags, &reply->u.lend.done);
    case SIM_OP_LEND_UNMAP: {
        uint64_t first = req->u.lend_range.first_page, n = req->u.lend_range.count, zapped;

        s = slot_of(hv, conn, req->u.lend_range.slot);
        if (!s || first >= s->pages || n > s->pages - first || req->u.lend_range.flags)
            return -EINVAL;
        pthread_mutex_lock(&s->mmu_lock);
        zapped = zap_locked(s, first, n);
        pthread_mutex_unlock(&s->mmu_lock);
        atomic_fetch_add(&hv->stats.lend_pages_evicted, zapped);
        return 0;
    }
    case SIM_OP_LEND_AGE: {
        int rc;

        /* A revision-2 kernel does not know the ioctl. */
        if (!hv->cfg.lend_age)
            return -ENOTTY;
        s = slot_of(hv, conn, req->u.lend_range.slot);
        if (!s)
            return -EINVAL;
        rc = slot_age(s, req->u.lend_range.first_page, req->u.lend_range.count,
                      req->u.lend_range.flags, reply->u.lend_age.bits, &reply->u.lend_age.young);
        if (rc == 0 && reply->u.lend_age.young) {
            /* The race injector: the host takes a page back just after its bit was read. */
            unsigned int every = atomic_load(&hv->lend->age_race_every);

            if (every && atomic_fetch_add(&hv->lend->age_race_count, 1) % every == every - 1)
                slot_invalidate(hv, s, req->u.lend_range.first_page + first_young(reply), 1,
                                LEND_HOST_EVICT, 0);
        }
        if (rc == 0) {
            atomic_fetch_add(&hv->stats.lend_age_calls, 1);
            atomic_fetch_add(&hv->stats.lend_pages_young, reply->u.lend_age.young);
        }
        return rc;
    }
    }
    return -ENOTTY;
}

void lend_close_conn(struct hv *hv, int conn, uint64_t *released_pages)
{
    if (!hv->lend)
        return;
    /* Closing the fd revokes every mapping of every slot: kill -9 leaves the guest nothing. */
    for (unsigned int i = 0; i < HV_LEND_SLOTS; i++)
        if (hv->lend->slot[i].used && hv->lend->slot[i].conn == conn)
            *released_pages += slot_delete(hv, &hv->lend->slot[i]);
    hv->lend->overflowed[conn] = false;
}

static struct lend_slot *slot_at_gfn(struct hv *hv, uint64_t gfn)
{
    for (unsigned int i = 0; i < HV_LEND_SLOTS; i++)
        if (hv->lend->slot[i].used && hv->lend->slot[i].first_gfn == gfn)
            return &hv->lend->slot[i];
    return NULL;
}

int lend_host(struct hv *hv, uint64_t bar_gfn, enum lend_host_op op, uint64_t first_page,
              uint64_t count, uint64_t seed)
{
    struct lend_slot *s;
    int rc = -ENOENT;

    if (!hv->lend)
        return -ENOTTY;
    pthread_rwlock_rdlock(&hv->lend->lock);
    s = slot_at_gfn(hv, bar_gfn);
    if (s && (first_page >= s->pages || count > s->pages - first_page || count == 0)) {
        rc = -EINVAL;
    } else if (s) {
        if (op == LEND_HOST_WRITE) {
            /* The host writes where the content is; a mapped page shows it at once. */
            pthread_mutex_lock(&s->content_lock);
            for (uint64_t i = first_page; i < first_page + count; i++)
                content_change(hv->lend, s, i, op, seed);
            pthread_mutex_unlock(&s->content_lock);
        } else if (op == LEND_HOST_DROP_PTES) {
            /* Behind the simulated kernel's back: no event, the p2m keeps its entries. */
            madvise(page_of(s->guest, first_page), count * HV_PAGE_SIZE, MADV_DONTNEED);
        } else {
            slot_invalidate(hv, s, first_page, count, op, seed);
        }
        rc = 0;
    }
    pthread_rwlock_unlock(&hv->lend->lock);
    return rc;
}

uint64_t lend_slot_pages(struct hv *hv, uint64_t bar_gfn)
{
    struct lend_slot *s;
    uint64_t n = 0;

    if (!hv->lend)
        return 0;
    pthread_rwlock_rdlock(&hv->lend->lock);
    s = slot_at_gfn(hv, bar_gfn);
    if (s)
        n = s->pages;
    pthread_rwlock_unlock(&hv->lend->lock);
    return n;
}

void lend_set_age_race(struct hv *hv, uint32_t every)
{
    if (hv->lend)
        atomic_store(&hv->lend->age_race_every, every);
}

void lend_set_race(struct hv *hv, uint32_t every)
{
    if (hv->lend)
        atomic_store(&hv->lend->race_every, every);
}

uint64_t lend_pages_installed(struct hv *hv)
{
    uint64_t n = 0;

    if (!hv->lend)
        return 0;
    pthread_rwlock_rdlock(&hv->lend->lock);
    for (unsigned int i = 0; i < HV_LEND_SLOTS; i++)
        if (hv->lend->slot[i].used)
            n += hv->lend->slot[i].installed;
    pthread_rwlock_unlock(&hv->lend->lock);
    return n;
}

/* The domain died: its p2m, lent entries included, is gone. */
void lend_domain_destroyed(struct hv *hv)
{
    if (!hv->lend)
        return;
    pthread_rwlock_rdlock(&hv->lend->lock);
    for (unsigned int i = 0; i < HV_LEND_SLOTS; i++) {
        struct lend_slot *s = &hv->lend->slot[i];
        if (!s->used)
            continue;
        pthread_mutex_lock(&s->mmu_lock);
        zap_locked(s, 0, s->pages);
        pthread_mutex_unlock(&s->mmu_lock);
    }
    pthread_rwlock_unlock(&hv->lend->lock);
}

int lend_init(struct hv *hv)
{
    struct hv_lend *l;
    struct uffdio_api api = {.api = UFFD_API,
                             .features = UFFD_FEATURE_SIGBUS | UFFD_FEATURE_MINOR_SHMEM};
    struct sigaction sa = {.sa_sigaction = guest_fault, .sa_flags = SA_SIGINFO | SA_NODEFER};

    if (!hv->cfg.lend_kernel)
        return 0;
    l = calloc(1, sizeof(*l));
    if (!l)
        return -ENOMEM;
    l->uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC | O_NONBLOCK);
    if (l->uffd < 0 || ioctl(l->uffd, UFFDIO_API, &api) < 0) {
        int rc = -errno;
        if (l->uffd >= 0)
            close(l->uffd);
        free(l);
        return rc;
    }
    pthread_rwlock_init(&l->lock, NULL);
    pthread_mutex_init(&l->lost_lock, NULL);
    /* SA_NODEFER: the handler leaves with siglongjmp(jmp, ...) saved without a mask. */
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);
    sigaction(SIGSEGV, &sa, NULL);
    hv->lend = l;
    return 0;
}

void lend_fini(struct hv *hv)
{
    struct hv_lend *l = hv->lend;

    if (!l)
        return;
    for (unsigned int i = 0; i < HV_LEND_SLOTS; i++)
        if (l->slot[i].used)
            slot_delete(hv, &l->slot[i]);
    for (unsigned int i = 0; i < l->nr_retired; i++)
        munmap(l->retired[i].base, l->retired[i].len);
    close(l->uffd);
    pthread_rwlock_destroy(&l->lock);
    pthread_mutex_destroy(&l->lost_lock);
    free(l->lost);
    free(l);
    hv->lend = NULL;
}

bool lend_gfn_installed(struct hv *hv, uint64_t gfn)
{
    struct hv_lend *l = hv->lend;
    bool installed = false;

    if (!l)
        return false;
    pthread_rwlock_rdlock(&l->lock);
    for (unsigned int i = 0; i < HV_LEND_SLOTS && !installed; i++) {
        struct lend_slot *s = &l->slot[i];

        if (!s->used || gfn < s->first_gfn || gfn - s->first_gfn >= s->pages)
            continue;
        pthread_mutex_lock(&s->mmu_lock);
        installed = s->pg[gfn - s->first_gfn] & PG_MAPPED;
        pthread_mutex_unlock(&s->mmu_lock);
    }
    pthread_rwlock_unlock(&l->lock);
    return installed;
}
