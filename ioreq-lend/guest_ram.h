/* SPDX-License-Identifier: MIT */
/*
 * A small cache of foreign mappings of guest RAM pages, for requests whose
 * data is a pointer into guest memory (rep movs between RAM and the BAR).
 * Bounded: GUEST_RAM_CACHE_PAGES mappings at most, least recently used one
 * replaced. Dropped whole on IOREQ_TYPE_INVALIDATE, which Xen sends after
 * guest RAM left the p2m: a mapping kept past it would point at a frame the
 * guest no longer owns.
 */
#ifndef IOREQ_LEND_GUEST_RAM_H
#define IOREQ_LEND_GUEST_RAM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <xenforeignmemory.h>

#include "counters.h"

#define GUEST_RAM_CACHE_PAGES 64

struct guest_ram {
    xenforeignmemory_handle *fmem;
    uint32_t domid;
    struct counters *cnt;
    uint64_t tick;
    struct {
        uint64_t gfn;
        uint8_t *va; /* NULL: free */
        uint64_t last_use;
    } entry[GUEST_RAM_CACHE_PAGES];
};

void guest_ram_init(struct guest_ram *g, xenforeignmemory_handle *fmem, uint32_t domid,
                    struct counters *cnt);
/*
 * Copy len bytes between guest-physical gpa and buf (dir: IOREQ_READ copies
 * from the guest into buf). Pages are mapped on demand. Returns 0 or a
 * negative errno (a page that is not guest RAM).
 */
int guest_ram_copy(struct guest_ram *g, uint64_t gpa, void *buf, size_t len, int dir);
/* Unmap everything (INVALIDATE, teardown). */
void guest_ram_drop_all(struct guest_ram *g);

#endif
