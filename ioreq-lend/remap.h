/* SPDX-License-Identifier: MIT */
/*
 * Lending mode: the BAR's pages are the backing's own pages, mapped into the
 * guest through a lend slot (lend_abi.h). The host may take any page back at
 * any time; a guest touching it produces an access-only request, and this
 * module maps the page (and its aligned neighbours: fault-around) again,
 * keeps the number of resident pages within the window by evicting cold
 * ones, and answers "retry" so the vCPU re-executes natively. The daemon
 * never reads or writes guest data in this mode.
 */
#ifndef IOREQ_LEND_REMAP_H
#define IOREQ_LEND_REMAP_H

#include <stdint.h>
#include <xen/hvm/ioreq.h>

#include "backing.h"
#include "bar.h"
#include "counters.h"
#include "evict.h"
#include "options.h"
#include "xenlend.h"

struct remap;

struct remap_params {
    xenlend_handle *lend;
    ioservid_t server;
    const struct backing *backing;
    uint64_t bar_size;
    uint64_t fault_around; /* bytes, power of two, 4K..2M */
    uint64_t window;       /* resident bytes at most; multiple of 4K, <= bar_size */
    enum on_lost_policy on_lost;
    bool readahead;        /* sequential streams map more than the fault-around */
    enum evict_policy eviction; /* evict.h; clock without accessed bits (revision 2) */
    unsigned int nr_vcpus; /* the window must hold two fault-around groups per vCPU */
    struct counters *cnt;
};

/*
 * The smallest resident window for nr_vcpus vCPUs: two 4 KiB pages each (an
 * access may straddle two pages). With fewer, vCPUs can evict each other's
 * pages between a map and its re-execution for ever (found by the model in
 * tests/model). Fault-around groups shrink so the window holds two per vCPU.
 */
uint64_t remap_min_window(unsigned int nr_vcpus);

/* 0 or -errno. Nothing is claimed until the BAR window is enabled. */
int remap_create(struct remap **out, const struct remap_params *p);
/* Release the access range and delete the slot (every page leaves the guest). */
void remap_destroy(struct remap *r);
/* The BAR window moved, appeared or went: transactional, as bar.h requires. */
int remap_window_change(struct remap *r, const struct bar_window *old_win,
                        const struct bar_window *new_win);
/*
 * Take over after a crashed predecessor: `target` is the window its recorded
 * config decodes, `stale` windows that a change it left unfinished may have
 * claimed too. Releases the stale access-only ranges, claims the target's
 * (already claimed is fine: both are idempotent) and registers the slot
 * (which died with the predecessor's fd); pages fault in as the guest
 * touches them. 0 or -errno (then nothing decodes).
 */
int remap_take_over(struct remap *r, const struct bar_window *target,
                    const struct bar_window *stale, unsigned int n);
/* Release w's access-only range if it is claimed (a take-over that failed). Idempotent. */
void remap_release_access(struct remap *r, const struct bar_window *w);
/* An IOREQ_TYPE_ACCESS request (a private copy): IOREQ_ACCESS_RETRY or _FAIL. */
uint64_t remap_handle_access(struct remap *r, const ioreq_t *req);
/* Apply the kernel's invalidation events (the lend fd is readable, or before an access). */
void remap_apply_events(struct remap *r);
int remap_fd(const struct remap *r);

#endif
