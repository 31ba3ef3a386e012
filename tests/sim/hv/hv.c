/* SPDX-License-Identifier: MIT */
/* The simulated domain: memory pool, p2m of RAM, ballooning, failures, histograms. */
#include "hv.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "futex.h"
#include "lend.h"

#define GFN_4G (0x100000000ULL >> HV_PAGE_SHIFT)

void hv_fail(struct hv *hv, const char *fmt, ...)
{
    char buf[512];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&hv->fail_lock);
    if (hv->nr_failures < HV_MAX_FAILURES)
        hv->failure[hv->nr_failures++] = strdup(buf);
    pthread_mutex_unlock(&hv->fail_lock);
    fprintf(stderr, "xensim: FAILURE: %s\n", buf);
}

void hv_poison(void *p, size_t len)
{
    uint64_t *w = p;

    for (size_t i = 0; i < len / sizeof(*w); i++)
        w[i] = HV_POISON_WORD;
}

/* Index of a RAM gfn in ram_frame[], or -1 if the gfn is not RAM. */
static int64_t ram_index(const struct hv *hv, uint64_t gfn)
{
    if (gfn < hv->low_pages)
        return (int64_t)gfn;
    if (gfn >= GFN_4G && gfn - GFN_4G < hv->high_pages)
        return (int64_t)(hv->low_pages + (gfn - GFN_4G));
    return -1;
}

int64_t hv_gfn_to_frame(struct hv *hv, uint64_t gfn)
{
    int64_t i = ram_index(hv, gfn);

    if (i < 0 || hv->ram_frame[i] == UINT32_MAX)
        return -1;
    return hv->ram_frame[i];
}

void *hv_frame_ptr(struct hv *hv, uint64_t frame)
{
    return hv->pool + frame * HV_PAGE_SIZE;
}

uint64_t hv_ram_end(const struct hv *hv)
{
    if (hv->high_pages)
        return (GFN_4G + hv->high_pages) << HV_PAGE_SHIFT;
    return hv->low_pages << HV_PAGE_SHIFT;
}

uint64_t hv_alloc_xen_frames(struct hv *hv, unsigned int n)
{
    uint64_t f;

    if (hv->xen_end - hv->next_xen_frame < n)
        return UINT64_MAX;
    f = hv->next_xen_frame;
    hv->next_xen_frame += n;
    memset(hv_frame_ptr(hv, f), 0, n * HV_PAGE_SIZE);
    return f;
}

int hv_balloon_out(struct hv *hv, uint64_t gfn, uint64_t count)
{
    pthread_mutex_lock(&hv->lock);
    for (uint64_t i = 0; i < count; i++) {
        int64_t idx = ram_index(hv, gfn + i);

        if (idx < 0 || hv->ram_frame[idx] == UINT32_MAX)
            continue;
        /*
         * The frame goes back to Xen, which frees it once nothing holds it:
         * a device model's foreign mapping keeps it (and its content) alive
         * until unmapped, which is why Xen then sends an INVALIDATE.
         */
        hv->frame_released[hv->ram_frame[idx]] = 1;
        if (hv->frame_refs[hv->ram_frame[idx]] == 0)
            hv_poison(hv_frame_ptr(hv, hv->ram_frame[idx]), HV_PAGE_SIZE);
        hv->ram_frame[idx] = UINT32_MAX;
    }
    pthread_mutex_unlock(&hv->lock);
    return 0;
}

int hv_balloon_in(struct hv *hv, uint64_t gfn, uint64_t count)
{
    int rc = 0;

    pthread_mutex_lock(&hv->lock);
    for (uint64_t i = 0; i < count; i++) {
        int64_t idx = ram_index(hv, gfn + i);

        if (idx < 0) {
            rc = -EINVAL;
            break;
        }
        if (hv->ram_frame[idx] != UINT32_MAX)
            continue;
        /*
         * Xen's p2m_add_page() will not replace a lent entry (nor a grant or
         * foreign one): it crashes the domain that asks.
         */
        if (lend_gfn_installed(hv, gfn + i)) {
            atomic_store(&hv->crashed, true);
            atomic_fetch_add(&hv->stats.guest_crashes, 1);
            rc = -EPERM;
            break;
        }
        if (hv->next_spare_frame == hv->spare_end) {
            rc = -ENOMEM;
            break;
        }
        /* A fresh frame: never one a device model may still have mapped. */
        memset(hv_frame_ptr(hv, hv->next_spare_frame), 0, HV_PAGE_SIZE);
        hv->ram_frame[idx] = (uint32_t)hv->next_spare_frame++;
    }
    pthread_mutex_unlock(&hv->lock);
    return rc;
}

void hv_frame_get_locked(struct hv *hv, uint64_t frame)
{
    if (frame < hv->pool_pages && hv->frame_refs[frame] < UINT16_MAX)
        hv->frame_refs[frame]++;
}

void hv_frame_put_locked(struct hv *hv, uint64_t frame)
{
    if (frame >= hv->pool_pages || hv->frame_refs[frame] == 0)
        return;
    /* The last reference to a frame the guest gave back: now it is freed. */
    if (--hv->frame_refs[frame] == 0 && hv->frame_released[frame])
        hv_poison(hv_frame_ptr(hv, frame), HV_PAGE_SIZE);
}

uint64_t hv_foreign_pages_held(struct hv *hv)
{
    uint64_t n = 0;

    for (unsigned int c = 0; c < HV_MAX_CONNS; c++) {
        if (!hv->conn[c].used)
            continue;
        for (struct hv_mapping *m = hv->conn[c].mappings; m; m = m->next)
            n += m->pages;
    }
    return n;
}

int hv_create(struct hv *hv, const struct hv_domain_config *cfg, const char *sock_dir)
{
    uint64_t ram_pages, low_limit;

    memset(hv, 0, sizeof(*hv));
    hv->cfg = *cfg;
    hv->pool_fd = -1;
    hv->evt_fd = -1;
    hv->listen_fd = -1;
    hv->wake_pipe[0] = hv->wake_pipe[1] = -1;
    pthread_mutex_init(&hv->lock, NULL);
    pthread_mutex_init(&hv->fail_lock, NULL);
    pthread_cond_init(&hv->conn_closed, NULL);
    if (cfg->vcpus == 0 || cfg->vcpus > HV_MAX_VCPUS || cfg->ram < 16 * HV_PAGE_SIZE ||
        cfg->ram % HV_PAGE_SIZE)
        return -EINVAL;
    if (cfg->mmio_hole && (cfg->mmio_hole % (256ULL << 20) || cfg->mmio_hole > (3ULL << 30) ||
                           cfg->mmio_hole < (256ULL << 20)))
        return -EINVAL;
    /*
     * PVH (no device model): libxl's hole starts at ACPI_INFO_PHYSICAL_ADDRESS
     * (0xFC000000, below the LAPIC and Xen's special pages), so RAM may reach it.
     */
    if (cfg->pvh && cfg->mmio_hole)
        return -EINVAL;
    hv->mmio_hole_start = cfg->pvh         ? HV_LOW_MMIO_END
                          : cfg->mmio_hole ? 0x100000000ULL - cfg->mmio_hole
                                           : HV_DEFAULT_MMIO_HOLE_START;
    ram_pages = cfg->ram >> HV_PAGE_SHIFT;
    low_limit = hv->mmio_hole_start >> HV_PAGE_SHIFT;
    hv->low_pages = ram_pages < low_limit ? ram_pages : low_limit;
    hv->high_pages = ram_pages - hv->low_pages;

    hv->pool_pages = ram_pages + (cfg->balloon_reserve >> HV_PAGE_SHIFT) + HV_XEN_FRAMES;
    hv->next_spare_frame = ram_pages;
    hv->spare_end = ram_pages + (cfg->balloon_reserve >> HV_PAGE_SHIFT);
    hv->next_xen_frame = hv->spare_end;
    hv->xen_end = hv->pool_pages;
    hv->pool_fd = memfd_create("xensim-pool", MFD_CLOEXEC);
    if (hv->pool_fd < 0 || ftruncate(hv->pool_fd, (off_t)(hv->pool_pages * HV_PAGE_SIZE)) < 0)
        goto fail;
    hv->pool = mmap(NULL, hv->pool_pages * HV_PAGE_SIZE, PROT_READ | PROT_WRITE,
                    MAP_SHARED | MAP_NORESERVE, hv->pool_fd, 0);
    if (hv->pool == MAP_FAILED) {
        hv->pool = NULL;
        goto fail;
    }
    hv->ram_frame = calloc(ram_pages, sizeof(uint32_t));
    hv->frame_refs = calloc(hv->pool_pages, sizeof(uint16_t));
    hv->frame_released = calloc(hv->pool_pages, 1);
    if (!hv->ram_frame || !hv->frame_refs || !hv->frame_released)
        goto fail;
    for (uint64_t i = 0; i < ram_pages; i++)
        hv->ram_frame[i] = (uint32_t)i;
    /*
     * The VGA hole 0xA0000-0xBFFFF is never populated in an HVM guest
     * (libxenguest's meminit_hvm() skips it): accesses there are emulated.
     */
    for (uint64_t gfn = HV_VGA_HOLE_START; gfn < HV_VGA_HOLE_END && gfn < hv->low_pages; gfn++)
        hv->ram_frame[gfn] = UINT32_MAX;
    /* The page dom0's event channel handles share with us (struct hv_evtchn_shm). */
    hv->evt_fd = memfd_create("xensim-evtchn", MFD_CLOEXEC);
    if (hv->evt_fd < 0 || ftruncate(hv->evt_fd, (off_t)sizeof(*hv->evt)) < 0)
        goto fail;
    hv->evt = mmap(NULL, sizeof(*hv->evt), PROT_READ | PROT_WRITE, MAP_SHARED, hv->evt_fd, 0);
    if (hv->evt == MAP_FAILED) {
        hv->evt = NULL;
        goto fail;
    }
    for (unsigned int i = 0; i < cfg->vcpus; i++)
        hv_vcpu_init(hv, i);
    for (unsigned int c = 0; c < HV_MAX_CONNS; c++)
        hv->conn[c].sock = hv->conn[c].event_wfd = -1;
    snprintf(hv->sock_path, sizeof(hv->sock_path), "%s/xensim.sock", sock_dir);
    /* A kernel that lends needs userfaultfd here: without it, say so rather than pretend. */
    int rc = lend_init(hv);
    if (rc) {
        fprintf(stderr, "xensim: lending needs userfaultfd (minor faults on shmem): %s\n",
                strerror(-rc));
        hv_destroy(hv);
        return rc;
    }
    return hv_rpc_start(hv);
fail:
    hv_destroy(hv);
    return -ENOMEM;
}

void hv_destroy(struct hv *hv)
{
    hv_rpc_stop(hv); /* closing every handle deletes every lend slot */
    lend_fini(hv);
    if (hv->pool)
        munmap(hv->pool, hv->pool_pages * HV_PAGE_SIZE);
    if (hv->pool_fd >= 0)
        close(hv->pool_fd);
    if (hv->evt)
        munmap(hv->evt, sizeof(*hv->evt));
    if (hv->evt_fd >= 0)
        close(hv->evt_fd);
    hv->evt = NULL;
    hv->evt_fd = -1;
    free(hv->ram_frame);
    free(hv->frame_refs);
    free(hv->frame_released);
    hv->frame_refs = NULL;
    hv->frame_released = NULL;
    for (unsigned int i = 0; i < hv->nr_failures; i++)
        free(hv->failure[i]);
    hv->pool = NULL;
    hv->pool_fd = -1;
    hv->ram_frame = NULL;
    hv->nr_failures = 0;
}

void hv_hist_add(struct hv_hist *h, uint64_t ns)
{
    unsigned int b;

    if (ns < 8) {
        b = (unsigned int)ns;
    } else {
        unsigned int e = 63 - (unsigned int)__builtin_clzll(ns);
        b = e * 8 + (unsigned int)((ns >> (e - 3)) & 7);
    }
    if (b >= HV_HIST_BUCKETS)
        b = HV_HIST_BUCKETS - 1;
    atomic_fetch_add_explicit(&h->n[b], 1, memory_order_relaxed);
}

static uint64_t hist_bucket_value(unsigned int b)
{
    unsigned int e = b / 8, sub = b % 8;

    if (e < 3)
        return b;
    return (8ULL + sub) << (e - 3);
}

uint64_t hv_hist_percentile(const struct hv_hist *h, double pct)
{
    uint64_t total = 0, seen = 0, want;

    for (unsigned int b = 0; b < HV_HIST_BUCKETS; b++)
        total += atomic_load_explicit(&h->n[b], memory_order_relaxed);
    if (total == 0)
        return 0;
    want = (uint64_t)(pct / 100.0 * (double)total);
    if (want >= total)
        want = total - 1;
    for (unsigned int b = 0; b < HV_HIST_BUCKETS; b++) {
        seen += atomic_load_explicit(&h->n[b], memory_order_relaxed);
        if (seen > want)
            return hist_bucket_value(b);
    }
    return 0;
}

void hv_domain_destroy(struct hv *hv)
{
    pthread_mutex_lock(&hv->lock);
    if (hv->state != DOM_ALIVE) {
        pthread_mutex_unlock(&hv->lock);
        return;
    }
    hv->state = DOM_DYING;
    pthread_mutex_unlock(&hv->lock);
    /* As domain_kill(): every ioreq server goes, and with it its event channels. */
    for (uint16_t id = 0; id < HV_MAX_SERVERS; id++)
        if (hv->server[id].used)
            hv_server_destroy(hv, id);
    /* The p2m goes too, lent entries included. */
    lend_domain_destroyed(hv);
    pthread_mutex_lock(&hv->lock);
    /* The guest's RAM is freed; a device model still mapping it keeps the domain a zombie. */
    if (hv_foreign_pages_held(hv) == 0)
        hv->state = DOM_DEAD;
    pthread_mutex_unlock(&hv->lock);
    /* Release every vCPU blocked in an ioreq. */
    for (unsigned int i = 0; i < hv->cfg.vcpus; i++) {
        atomic_fetch_add(hv->vcpu[i].wake, 1);
        futex_wake_all(hv->vcpu[i].wake);
    }
}
