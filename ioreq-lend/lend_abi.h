/* SPDX-License-Identifier: MIT */
/*
 * The memory-lending ABI ioreq-lend proposes (Teddy Astie's split of Demi
 * Marie Obenour's design, xen-devel, March 2026). Neither Xen 4.17 nor
 * Linux has it; this header is what a Xen patch series and a Linux privcmd
 * patch would implement. ioreq-lend uses it through xenlend.h, implemented
 * for real in xenlend.c (fails cleanly on today's kernels and hypervisors)
 * and by the simulator.
 *
 * The problem: a guest wants pageable host memory (GPU VRAM, file-backed
 * memory) mapped through a PCI BAR. Linux must be able to move or drop such
 * pages at any time (MMU notifiers), which grants cannot allow, and a guest
 * must never make the host pin memory. The split:
 *
 *  1. Reverse foreign maps. The device model lends a range of its own
 *     address space (a "slot", as KVM's memslots) to a guest. It asks the
 *     kernel to map pages of a slot into the guest's p2m; the kernel resolves
 *     them (faulting them in, never pinning), installs them with a hypercall
 *     and watches them with an MMU interval notifier. When Linux invalidates
 *     a range, the kernel removes those p2m entries before the notifier
 *     returns -- in bounded time, without the guest's or the device model's
 *     cooperation -- and tells the device model with an event.
 *  2. Access-only ioreqs. A guest touching a lent gfn that has no p2m entry
 *     does not get emulated: Xen sends the device model an IOREQ_TYPE_ACCESS
 *     request naming the address. The device model maps the page again
 *     (part 1) and answers "retry"; Xen resumes the vCPU without advancing
 *     its instruction pointer, so the access re-executes natively. No guest
 *     data ever passes through the device model.
 *
 * Everything here can be implemented in Xen 4.17 (a request type in
 * xen/common/ioreq.c, a range type in the ioreq server's rangesets, a p2m
 * type for lent entries, two dm_ops) and in Linux's privcmd driver (MMU
 * interval notifiers, as drivers/xen/gntdev.c uses them).
 */
#ifndef IOREQ_LEND_LEND_ABI_H
#define IOREQ_LEND_LEND_ABI_H

#include <stdint.h>
#include <sys/ioctl.h>

/* ===================== Part 1: the hypervisor ===================== */

/*
 * A fourth ioreq-server range type, after XEN_DMOP_IO_RANGE_PORT (0),
 * _MEMORY (1) and _PCI (2), claimed with XEN_DMOP_map_io_range_to_ioreq_server
 * (the dm_op; libxendevicemodel's wrapper only passes port or memory, so
 * xenlend.c issues the dm_op itself). Meaning: "memory, access-only": a guest
 * access to a gfn in the range that has no p2m entry produces an
 * IOREQ_TYPE_ACCESS request to this server instead of being emulated.
 * Stock Xen rejects the unknown type with EINVAL: that is how a device model
 * detects that lending is unavailable.
 *
 * Same rules as memory ranges: inclusive end, EEXIST on overlap within the
 * server, at most 256 ranges per type, highest enabled server id first.
 */
#define XEN_DMOP_IO_RANGE_ACCESS 3

/*
 * The request type after IOREQ_TYPE_INVALIDATE (8). Sent synchronously on
 * the faulting vCPU's slot, exactly like a COPY request, with:
 *   addr   the guest-physical address touched (not page aligned)
 *   size   bytes of the access if Xen decoded it, else 1 (informational)
 *   count  1
 *   dir    IOREQ_READ or IOREQ_WRITE (an instruction fetch reads)
 *   df, data_is_ptr  0
 *   data   0 in the request. In the response it is the answer below, never
 *          guest data.
 * Xen must be able to cancel the emulation without retiring the instruction:
 * this is safe because an ACCESS is only sent for the first memory access of
 * an instruction that touches a lent gfn with no p2m entry (Xen raises it
 * from the EPT/NPT violation handler, before any emulation). A rep string
 * instruction is restarted from its current iteration.
 */
#define IOREQ_TYPE_ACCESS 9

/* Answers to IOREQ_TYPE_ACCESS, in the response's data field. */
#define IOREQ_ACCESS_RETRY 0 /* the mapping is fixed: re-execute the access */
#define IOREQ_ACCESS_FAIL  1 /* cannot be fixed: Xen injects a fault (below) */
/*
 * On IOREQ_ACCESS_FAIL Xen injects the fault the platform uses for an
 * unrecoverable memory error at that address (on x86, a machine check with
 * MCi_ADDR = the gpa, or #GP(0) if the guest has no vMCE), so a guest driver
 * can tell a lost page from a bug. Any other value is treated as FAIL.
 */

/*
 * The p2m type for lent entries (xen/arch/x86/include/asm/p2m.h, after
 * p2m_map_foreign): p2m_lent_rw. A lent entry maps a frame owned by the
 * lending domain (RAM or MMIO such as a host GPU BAR). It is:
 *  - never foreign-mappable (XENMEM_add_to_physmap_batch, privcmd mmapbatch
 *    and acquire_resource on it fail with EPERM), never granted, and not
 *    usable as a hypercall buffer of the guest (copy_from_guest fails);
 *  - never in the guest's IOMMU tables (IOTLB faults are not replayable);
 *  - removed by XEN_DMOP_lend_unmap with a TLB flush of every vCPU before
 *    the dm_op returns.
 */

/*
 * Two dm_ops for the dom0 kernel (not for device models): they carry
 * machine frames, which only the kernel knows. The caller must own each
 * frame (or have iomem permission for it); the gfns must lie inside an
 * access-only range of an ioreq server of the target domain, and must
 * hold nothing or a lent entry (EBUSY otherwise: guest RAM is never
 * replaced).
 */
#define XEN_DMOP_lend_map 21 /* after XEN_DMOP_nr_vcpus (20) */
struct xen_dm_op_lend_map {
    uint64_t first_gfn;
    uint32_t nr;      /* at most LEND_MAX_BATCH; the frames follow in buffer 1 (xen_pfn_t[]) */
    uint32_t flags;   /* LEND_MAP_F_READONLY */
};
#define XEN_DMOP_lend_unmap 22
struct xen_dm_op_lend_unmap {
    uint64_t first_gfn;
    uint32_t nr; /* at most LEND_MAX_BATCH per call: bounded time */
    uint32_t pad;
};
#define LEND_MAP_F_READONLY (1u << 0)
#define LEND_MAX_BATCH      512

/* ===================== Part 2: the Linux privcmd driver ===================== */

/*
 * Ioctls on an fd of /dev/xen/privcmd restricted to one domain with
 * IOCTL_PRIVCMD_RESTRICT first (one domain per fd; the fd is the whole
 * capability: no root needed beyond it, as with a KVM VM fd). Closing the fd
 * revokes every mapping of every slot (the notifiers are removed after the
 * entries). A kernel without lending answers ENOTTY to all of them.
 */
#define PRIVCMD_LEND_VERSION 1

/* Returns PRIVCMD_LEND_VERSION (>= 1). ENOTTY: no lending in this kernel. */
#define IOCTL_PRIVCMD_LEND_VERSION _IO('P', 0x40)

/*
 * Create, move or delete a slot, as KVM_SET_USER_MEMORY_REGION does:
 * `pages` == 0 deletes the slot (every page unmapped first). Changing
 * first_gfn of an existing slot is not allowed (EINVAL): delete and
 * recreate, since every mapping must be revoked anyway. uaddr and pages
 * describe a range of the caller's address space, page aligned, backed by
 * any mapping the kernel can fault in (shmem, files, device memory with a
 * fault handler, dma-bufs). Nothing is mapped into the guest yet.
 * Errors: EINVAL (alignment, size, slot >= LEND_MAX_SLOTS, overlapping gfns
 * of another slot), EEXIST (slot in use with other parameters), EFAULT
 * (uaddr not mapped), ENOMEM.
 */
#define LEND_MAX_SLOTS 32
struct privcmd_lend_slot {
    uint32_t slot;
    uint32_t flags; /* LEND_SLOT_F_READONLY */
    uint64_t first_gfn;
    uint64_t uaddr;
    uint64_t pages;
};
#define LEND_SLOT_F_READONLY (1u << 0)
#define IOCTL_PRIVCMD_LEND_SET_SLOT _IOW('P', 0x41, struct privcmd_lend_slot)

/*
 * Map pages [first_page, first_page + count) of a slot into the guest.
 * The kernel, for each page, follows KVM's fault protocol: snapshot the
 * notifier sequence, resolve the page (may sleep, never pins), then under
 * the notifier lock install it only if no invalidation is in progress over
 * it and the sequence has not moved; otherwise it installs nothing more and
 * fails with EAGAIN. `done` returns how many pages from first_page were
 * installed (also on error), so a caller retries from there.
 * Errors: EAGAIN (an invalidation raced: retry), ENODATA (the page's content
 * was lost -- device gone, I/O error -- and LEND_MAP_F_ZERO_LOST was not
 * given), EBUSY (a gfn holds other memory), EINVAL (range outside the slot),
 * EFAULT (the memory behind uaddr is gone), ESRCH (the domain died), ENOMEM.
 * A page already mapped is left as it is and counted as done.
 */
struct privcmd_lend_range {
    uint32_t slot;
    uint32_t flags; /* LEND_MAP_F_ZERO_LOST */
    uint64_t first_page;
    uint64_t count;
    uint64_t done; /* out */
};
/* Where content was lost, install a zero-filled page instead of ENODATA. */
#define LEND_MAP_F_ZERO_LOST (1u << 0)
#define IOCTL_PRIVCMD_LEND_MAP _IOWR('P', 0x42, struct privcmd_lend_range)

/*
 * Remove pages from the guest (the device model's own eviction). The pages
 * stay in the caller's address space; the next guest access to one produces
 * an ACCESS request again. flags: 0. Pages not mapped are ignored.
 */
#define IOCTL_PRIVCMD_LEND_UNMAP _IOWR('P', 0x43, struct privcmd_lend_range)

/*
 * Invalidation events, read() from the fd (poll for POLLIN), whole records
 * only. Each says pages of a slot left the guest because of the host:
 *   MIGRATED  the page moved (VRAM to system RAM, compaction, swap out);
 *             its content is preserved and the next map finds it.
 *   LOST      the content is gone (device unplugged, I/O error); the next
 *             map fails with ENODATA unless LEND_MAP_F_ZERO_LOST.
 *   UNMAPPED  the caller's own mapping behind the slot went away (munmap):
 *             the slot is dead until set again.
 *   OVERFLOW  the bounded event queue overflowed: events were dropped, so
 *             every page of every slot must be assumed unmapped (slot and
 *             range fields are zero).
 * An event is queued before the mappings it describes are removed (in the
 * notifier's invalidate_range_start, before the zap): an access request an
 * invalidation causes can only reach the device model after its event, so
 * reading events before serving each request keeps the device model's view
 * of what is mapped exact, never counting a page just mapped again as gone.
 * The queue holds at most LEND_EVENT_QUEUE records per fd: the kernel never
 * allocates without bound because a guest faults a lot. On overflow the
 * device model can no longer know what is mapped: it unmaps every slot
 * (IOCTL_PRIVCMD_LEND_UNMAP) to make "nothing is mapped" true again.
 */
enum lend_event_reason {
    LEND_EV_MIGRATED = 1,
    LEND_EV_LOST = 2,
    LEND_EV_UNMAPPED = 3,
    LEND_EV_OVERFLOW = 4,
};
#define LEND_EVENT_QUEUE 1024
struct privcmd_lend_event {
    uint32_t slot;
    uint32_t reason;
    uint64_t first_page;
    uint64_t count;
};

_Static_assert(sizeof(struct privcmd_lend_slot) == 32, "stable ioctl layout");
_Static_assert(sizeof(struct privcmd_lend_range) == 32, "stable ioctl layout");
_Static_assert(sizeof(struct privcmd_lend_event) == 24, "stable record layout");

#endif
