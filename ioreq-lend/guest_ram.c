/* SPDX-License-Identifier: MIT */
/* Owns the cache of foreign mappings of guest RAM (guest_ram.h) for data-pointer requests. */
#include "guest_ram.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>
#include <xen/hvm/ioreq.h>

#include "util.h"

void guest_ram_init(struct guest_ram *g, xenforeignmemory_handle *fmem, uint32_t domid,
                    struct counters *cnt)
{
    memset(g, 0, sizeof(*g));
    g->fmem = fmem;
    g->domid = domid;
    g->cnt = cnt;
}

static void entry_drop(struct guest_ram *g, unsigned int i)
{
    if (!g->entry[i].va)
        return;
    xenforeignmemory_unmap(g->fmem, g->entry[i].va, 1);
    g->entry[i].va = NULL;
    g->cnt->guest_ram_drops++;
}

void guest_ram_drop_all(struct guest_ram *g)
{
    for (unsigned int i = 0; i < GUEST_RAM_CACHE_PAGES; i++)
        entry_drop(g, i);
}

/* The mapping of one guest page, from the cache or mapped now. */
static uint8_t *page_lookup(struct guest_ram *g, uint64_t gfn)
{
    unsigned int victim = 0;
    xen_pfn_t pfn = gfn;
    uint8_t *va;

    for (unsigned int i = 0; i < GUEST_RAM_CACHE_PAGES; i++) {
        if (g->entry[i].va && g->entry[i].gfn == gfn) {
            g->entry[i].last_use = ++g->tick;
            g->cnt->guest_ram_hits++;
            return g->entry[i].va;
        }
        if (!g->entry[i].va || (g->entry[victim].va &&
                                g->entry[i].last_use < g->entry[victim].last_use))
            victim = i;
    }
    va = xenforeignmemory_map(g->fmem, g->domid, PROT_READ | PROT_WRITE, 1, &pfn, NULL);
    if (!va)
        return NULL;
    entry_drop(g, victim);
    g->entry[victim].gfn = gfn;
    g->entry[victim].va = va;
    g->entry[victim].last_use = ++g->tick;
    g->cnt->guest_ram_maps++;
    return va;
}

int guest_ram_copy(struct guest_ram *g, uint64_t gpa, void *buf, size_t len, int dir)
{
    uint8_t *b = buf;

    /* Split at page boundaries: Xen promises not to cross one, a hostile peer may. */
    while (len) {
        size_t off = (size_t)(gpa & (XC_PAGE_SIZE - 1));
        size_t n = MIN(len, (size_t)XC_PAGE_SIZE - off);
        uint8_t *page = page_lookup(g, gpa >> XC_PAGE_SHIFT);

        if (!page)
            return -EFAULT;
        if (dir == IOREQ_READ)
            memcpy(b, page + off, n);
        else
            memcpy(page + off, b, n);
        gpa += n;
        b += n;
        len -= n;
    }
    return 0;
}
