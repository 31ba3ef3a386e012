/* SPDX-License-Identifier: MIT */
/*
 * The lending extension (ioreq-lend/lend_abi.h) in the simulated kernel and
 * hypervisor.
 *
 * A lend slot's pages are the device model's own pages: the simulator maps
 * the file behind them twice, a host view (the "physical pages") and a
 * guest view the vCPUs load and store through with ordinary instructions.
 * The guest view is registered with userfaultfd (minor and missing modes,
 * SIGBUS feature): a page is in the guest's p2m when its PTE is installed
 * (UFFDIO_CONTINUE) and leaves it when zapped (MADV_DONTNEED, which returns
 * only after every CPU's TLB is flushed). A vCPU touching a page that is not
 * installed gets SIGBUS; its handler is Xen's EPT-violation path: it sends
 * an IOREQ_TYPE_ACCESS request and, on "retry", returns so the instruction
 * re-executes natively.
 *
 * The host's memory manager can take pages back (evict, lose, storm); each
 * invalidation follows KVM's protocol (shared/reference/lending-and-kvm-retry.md):
 * in_progress++ and the pending range widened and the PTEs zapped under the
 * notifier lock, then the page is moved, then seq++ and in_progress--. A map
 * snapshots seq, resolves the page, and installs it under the lock only if
 * no invalidation covers it and seq has not moved (else EAGAIN).
 *
 * Eviction moves a page's content to a "system RAM" shadow and poisons the
 * old place; mapping it again moves it back. A PTE that survived an
 * invalidation would therefore show poison: a stale mapping is an integrity
 * error the guest sees, not an invisible bug.
 */
#ifndef XENSIM_LEND_H
#define XENSIM_LEND_H

#include "hv.h"

#define HV_LEND_SLOTS 32 /* across all handles */

/* Serve a SIM_OP_LEND_* call. */
int lend_dispatch(struct hv *hv, int conn, const struct sim_req *req, int fd_in,
                  struct sim_reply *reply, int *fd_reply);
/* The handle closed: every mapping of every slot it registered is revoked. */
void lend_close_conn(struct hv *hv, int conn, uint64_t *released_pages);

/* Set up / tear down the lending state of a domain (hv_create, hv_destroy). */
int lend_init(struct hv *hv);
void lend_fini(struct hv *hv);

/*
 * The vCPU side. lend_guest_ptr(): where the guest reaches gpa through a lent
 * page (installed or not), or NULL if gpa is in no slot.
 */
void *lend_guest_ptr(struct hv *hv, uint64_t gpa);

enum lend_access_outcome {
    LEND_ACCESS_RETRY,     /* re-execute the access */
    LEND_ACCESS_FAULT,     /* the device model refused: a fault is injected */
    LEND_ACCESS_UNCLAIMED, /* no server claims gpa as access-only: emulate as MMIO */
    LEND_ACCESS_DEAD,      /* the domain died, or the vCPU was abandoned */
};
/* Xen's path for a vCPU touching an access-only gfn with no p2m entry. */
enum lend_access_outcome lend_access(struct hv_vcpu *v, uint64_t gpa, unsigned int size, int dir);

/* Results of a protected guest access (sigsetjmp values). */
#define LEND_JMP_FAULT     1 /* a fault was injected */
#define LEND_JMP_RELOOKUP  2 /* the slot went away: look the address up again */
#define LEND_JMP_DEAD      3 /* the domain died */
#define LEND_JMP_UNCLAIMED 4 /* no server claims it: emulate as MMIO */

/* The calling thread is vCPU v (its fault handler needs to know). */
void lend_vcpu_enter(struct hv_vcpu *v);
/* The domain died: every lent entry leaves its p2m. */
void lend_domain_destroyed(struct hv *hv);

/* The host's memory manager, for the harness. Ranges are in pages of the slot at bar_gfn. */
enum lend_host_op {
    LEND_HOST_EVICT, /* content preserved, moved elsewhere */
    LEND_HOST_LOSE,  /* content gone */
    LEND_HOST_WRITE, /* the host writes new content (pattern of seed) */
    /*
     * The simulator's own host kernel drops the guest view's PTEs (as reclaim
     * or migration may): no invalidation, Xen's p2m keeps the pages.
     */
    LEND_HOST_DROP_PTES,
};
int lend_host(struct hv *hv, uint64_t bar_gfn, enum lend_host_op op, uint64_t first_page,
              uint64_t count, uint64_t seed);
/* Pages in the slot at bar_gfn (0 if none): for the storm generator. */
uint64_t lend_slot_pages(struct hv *hv, uint64_t bar_gfn);
/* Force an invalidation between resolve and install of every Nth page map (0: off). */
void lend_set_race(struct hv *hv, uint32_t every);
/*
 * Force an invalidation of the first page every Nth aging call reports
 * used, right after the call tested it and before it returns (0: off): a
 * device model must drop the page on that event, whatever its bit said.
 */
void lend_set_age_race(struct hv *hv, uint32_t every);
/* Pages installed in the guest right now, across slots. */
uint64_t lend_pages_installed(struct hv *hv);
/* Does gfn hold an installed lent page (a p2m_lent entry)? */
bool lend_gfn_installed(struct hv *hv, uint64_t gfn);

#endif
