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
 * Implemented for Xen 4.17 by the patch series in upstream/xen/ (a
 * request type and a range type in the ioreq server, p2m types for lent
 * entries, two memory_op sub-ops) and for Linux 6.1 by the privcmd module in
 * upstream/linux/ (MMU interval notifiers and HMM's fault protocol,
 * as lib/test_hmm.c uses them). Revision 3's aging (XENMEM_lend_age,
 * IOCTL_PRIVCMD_LEND_AGE) is implemented by both, for AMD's NPT (Xen's EPT
 * answers EOPNOTSUPP: upstream/xen/README.md), and by the simulator.
 */
#ifndef IOREQ_LEND_LEND_ABI_H
#define IOREQ_LEND_LEND_ABI_H

#include <stdint.h>
#include <sys/ioctl.h>

/* ===================== Part 1: the hypervisor ===================== */

/*
 * Revision 2, after lend_abi v1 met the sources of Xen 4.17 and
 * Linux 6.1 (shared/reference/lending-on-real-xen.md). What changed, and why:
 *  - lend_map/lend_unmap are memory_op sub-ops, no longer dm_ops: privcmd
 *    forwards any dm_op of a domain-restricted fd to Xen, so a de-privileged
 *    device model could have lent any dom0 frame (kernel memory included)
 *    to its guest. A restricted fd cannot issue memory_op at all.
 *  - IOREQ_ACCESS_FAIL injects #GP(0), not a machine check: Linux on AMD
 *    panics on any uncorrected #MC unless the CPU reports SUCCOR, which Xen
 *    hides from guests.
 *  - LOST is not an invalidation event any more: every content-changing
 *    operation (reclaim, swap, migration, compaction, hole punch) reaches the
 *    notifier as the same MMU_NOTIFY_CLEAR, so a kernel cannot tell at that
 *    point whether the content survives. Lost content shows up when the page
 *    is mapped again, as ENODATA; LEND_MAP_F_ZERO_LOST went with it (a device
 *    model that wants zeros punches a hole in its own backing and maps again).
 *  - Access-only ranges must be page aligned; a device model claims its
 *    window as a MEMORY range too, so that accesses Xen must emulate reach it
 *    as COPY requests instead of Xen's null handler (below).
 *  - The p2m cost of lent entries is stated (below: shadow_memory).
 *
 * A fourth ioreq-server range type, after XEN_DMOP_IO_RANGE_PORT (0),
 * _MEMORY (1) and _PCI (2), claimed with XEN_DMOP_map_io_range_to_ioreq_server
 * (the dm_op; libxendevicemodel's wrapper only passes port or memory, so
 * xenlend.c issues the dm_op itself). Meaning: "memory, access-only": a guest
 * access to a gfn in the range that has no p2m entry produces an
 * IOREQ_TYPE_ACCESS request to this server instead of being emulated.
 * Stock Xen rejects the unknown type with EINVAL: that is how a device model
 * detects that lending is unavailable.
 *
 * Rules: start and end + 1 page aligned (EINVAL otherwise); inclusive end,
 * EEXIST on overlap within the server, at most 256 ranges per type per
 * server, highest enabled server id first -- as for memory ranges.
 *
 * Accesses Xen has to emulate (a rep movs between an emulated device and the
 * BAR, rep ins/outs with the BAR as the memory operand, an instruction Xen
 * emulates for another reason) never produce ACCESS: they reach the ioreq
 * server that claims the gfn as a MEMORY range, as COPY requests, whether a
 * lent page is mapped there or not (Xen never reads or writes a lent frame
 * itself). So a device model claims its window as MEMORY as well as ACCESS
 * and serves those few COPY requests from its own mapping; with only the
 * ACCESS range they would hit Xen's null handler (reads all ones, writes
 * dropped). The ACCESS check runs in the nested-page-fault handler before
 * any MEMORY lookup, so native accesses still produce ACCESS.
 */
#define XEN_DMOP_IO_RANGE_ACCESS 3

/*
 * The request type after IOREQ_TYPE_INVALIDATE (8). Sent synchronously on
 * the faulting vCPU's slot, exactly like a COPY request, with:
 *   addr   the guest-physical address touched (not page aligned; on AMD NPT
 *          the faulting gpa, on Intel EPT the same)
 *   size   1 (Xen does not decode the instruction: informational only)
 *   count  1
 *   dir    IOREQ_READ or IOREQ_WRITE (an instruction fetch reads)
 *   df, data_is_ptr  0
 *   data   0 in the request. In the response it is the answer below, never
 *          guest data.
 * Xen raises it from the nested-page-fault (NPT/EPT violation) handler,
 * before any emulation, so no instruction has been retired: when the answer
 * comes, Xen resumes the vCPU without advancing its instruction pointer and
 * the access re-executes natively. A rep string instruction faults at an
 * iteration boundary with its registers already updated, so it continues
 * where it stopped.
 */
#define IOREQ_TYPE_ACCESS 9

/*
 * Answers to IOREQ_TYPE_ACCESS, in the response's data field. An access by a
 * vCPU the selected server has no slot for gets #GP(0) without a request.
 */
#define IOREQ_ACCESS_RETRY 0 /* the mapping is fixed: re-execute the access */
#define IOREQ_ACCESS_FAIL  1 /* cannot be fixed: Xen injects #GP(0) */
/*
 * Any other value is treated as FAIL. A #GP(0) kills the guest process
 * that made the access (SIGSEGV) or oopses its kernel, so a device model
 * answers FAIL only for content that is really gone. A machine check with
 * MCi_ADDR = gpa would tell a driver more, but Linux on AMD panics on any
 * uncorrected #MC without SUCCOR, which Xen 4.17 hides from guests: a vMCE
 * variant can only ever be an opt-in for Intel guests, and is not defined.
 *
 * An ACCESS that races the guest's own BAR move or decode-off (the request
 * names a gpa the device no longer decodes) is answered RETRY: by then the
 * device model has released the range, so the re-executed access goes
 * wherever that address decodes now -- for an address nothing claims, Xen's
 * null handler (reads all ones, writes dropped), which is exactly what an
 * emulated device gives an access that loses that race. FAIL would kill
 * guest code for a race the guest's own driver is allowed to have.
 */

/*
 * The p2m types for lent entries (xen/arch/x86/include/asm/p2m.h):
 * p2m_lent_rw and p2m_lent_ro. A lent entry maps a 4 KiB frame owned by the
 * lending domain, with Xen's own page reference (and, for _rw, a writable
 * type reference, so the frame can never be one of the lender's page tables
 * while it is lent). Lent entries are not RAM to Xen:
 *  - never foreign-mappable (privcmd mmapbatch, add_to_physmap_batch with a
 *    foreign gfn: EINVAL), never granted (GNTST_bad_page), never a hypercall
 *    buffer or an emulation buffer of the guest, never given away by the
 *    guest (decrease_reservation: EPERM), never in the guest's IOMMU tables;
 *  - executable; a write to a _ro entry injects #GP(0);
 *  - removed when the borrower dies (relinquish, before the p2m is freed).
 * Lending is refused (EOPNOTSUPP) for a borrower without HAP, with an
 * altp2m mode configured at creation (it could be switched on after lending),
 * nested virtualisation or memory sharing, or whose IOMMU shares the p2m's
 * page tables (lent pages would be DMA-able).
 *
 * Cost to the borrower: the p2m's page tables for the BAR come from the
 * domain's paging pool (xl's shadow_memory, in MiB). 4 KiB lent entries need
 * an L1 table per 2 MiB of BAR that is ever touched, and on NPT a table is
 * only freed when a superpage replaces it, so budget BAR size / 512 bytes
 * (an 8 GiB BAR: 16 MiB) on top of libxl's default of 1 MiB per vCPU plus
 * 4 KiB per MiB of RAM. When the pool is exhausted lend_map fails with
 * ENOMEM and the guest's access is answered FAIL.
 *
 * Xen's 'q' debug key prints "lent entries: N" per HVM domain (0 once
 * nothing is lent), so a test can check that nothing leaked; relinquishing a
 * dying domain's entries logs "dN: relinquished M lent entries, K left".
 */

/*
 * Two memory_op sub-ops for the dom0 kernel. They carry frames, which only
 * the kernel knows, and are reachable only from kernel code and unrestricted
 * privcmd fds (root); a domain-restricted privcmd fd cannot issue memory_op.
 * Frames are named as the caller's kernel names them: machine frames from a
 * PV caller, its own gfns from a translated (PVH) caller. The caller must
 * own each frame (EPERM otherwise). Each gfn must lie inside an access-only
 * range of an ioreq server that the caller runs for `domid`, enabled or not
 * (a device model may fill the window before it enables its server; EPERM
 * otherwise), and
 * must hold nothing or a lent entry (EBUSY otherwise: guest RAM is never
 * replaced). All or nothing per call; at most LEND_MAX_BATCH entries per
 * call, so every call takes bounded time. lend_unmap removes lent entries
 * only (other types are skipped, so RAM is never touched), needs no range
 * check (the kernel must always be able to revoke), and flushes every TLB
 * that could hold the entries before it returns. Both return ESRCH once the
 * borrower is dying (its entries are then gone or going), before any other
 * check: its servers are already gone, so the range check would answer
 * EPERM first. lend_unmap with flags or frames set is EINVAL.
 * Other errors: EINVAL (nr 0 or > LEND_MAX_BATCH, unknown flags, a gfn
 * beyond the guest's address width), ENOMEM (the borrower's paging pool),
 * EOPNOTSUPP (see above). Stock Xen: ENOSYS. lend_unmap with nr 0 answers
 * EINVAL before it looks at the domain: a kernel probes for lending with it
 * (anything but ENOSYS means Xen has the sub-ops).
 */
#define XENMEM_lend_map   29
#define XENMEM_lend_unmap 30
struct xen_lend_map {
    uint16_t domid;           /* domid_t: the borrower */
    uint16_t flags;           /* lend_map: LEND_MAP_F_READONLY; lend_unmap: 0 */
    uint32_t nr;              /* 1 .. LEND_MAX_BATCH */
    uint64_t first_gfn;       /* the borrower's gfns first_gfn .. first_gfn + nr - 1 */
    uint64_t frames;          /* XEN_GUEST_HANDLE(xen_pfn_t): nr frames; lend_unmap: 0 */
};
/* Xen's public memory.h spells these XENMEM_LEND_READONLY and XENMEM_LEND_MAX_BATCH. */
#define LEND_MAP_F_READONLY (1u << 0)
#define LEND_MAX_BATCH      512

/*
 * Revision 3 (this header): aging (issue 14, "eviction that sees use"). What changed, and
 * why: a device model that evicts to keep a resident window (remap.c) saw
 * only faults, never hits, so its CLOCK degenerated to FIFO (2.3x Belady's
 * OPT on a Zipf trace). Hardware keeps an accessed bit in every lent p2m
 * entry (AMD NPT: _PAGE_ACCESSED of the nested PTE; Intel EPT: bit 8, when
 * the EPTP enables accessed/dirty flags); revision 3 lets the device model
 * test and clear them, as KVM's secondary MMU gives MGLRU clear_young /
 * test_young. Nothing else changed: a revision-2 device model runs unchanged
 * on a revision-3 kernel and hypervisor, and a revision-3 device model on a
 * revision-2 kernel gets ENOTTY from IOCTL_PRIVCMD_LEND_AGE and evicts
 * without use bits (its old CLOCK).
 *
 * XENMEM_lend_age: a memory_op sub-op for the dom0 kernel, reachable as
 * lend_map is (kernel code and unrestricted privcmd fds only), with the same
 * struct xen_lend_map: `frames` is a XEN_GUEST_HANDLE(uint64) of
 * (nr + 63) / 64 words that Xen writes, bit i % 64 of word i / 64 for gfn
 * first_gfn + i. For each gfn Xen atomically tests and clears the accessed
 * bit of its p2m entry if the entry is lent (p2m_lent_rw/ro) and its frame
 * is owned by the caller, and writes 1 for a bit that was set; every other
 * gfn (no entry, RAM, MMIO, another lender's page, a gfn beyond the p2m)
 * reads 0 and is left alone. So the answer is about lent entries only, and
 * a page that is not mapped into the guest reads 0 whatever happened
 * before: a bit of an entry lend_unmap or an invalidation removed dies with
 * the entry (a new entry is written afresh).
 *  - Granularity: a 4 KiB gfn (lent entries are never superpages).
 *  - Bounded: nr 1 .. LEND_MAX_BATCH (512) per call, as lend_map; else
 *    EINVAL. No range check beyond that (the answer covers lent entries of
 *    the caller's own frames only, so it says nothing about anyone else).
 *  - No TLB flush. A stale TLB entry lets the guest keep using the page
 *    without the bit being set again until that entry is evicted or
 *    flushed, so a page may read "not accessed" while it is in use. That is
 *    acceptable because aging is advisory: the worst outcome is that the
 *    device model evicts a page it should have kept, and the guest's next
 *    access faults it back, a cost, never a correctness problem (eviction
 *    itself goes through lend_unmap, which flushes). Linux makes the same
 *    trade for its own page tables on x86 (ptep_clear_flush_young() does
 *    not flush), and KVM's clear_young does not flush either. A flush per
 *    call would cost every vCPU of the guest an IPI per aging pass.
 *  - Never changes what is mapped, its type or its permissions: no entry
 *    is added or removed, the D bit is not touched. The test-and-clear is
 *    atomic with respect to lend_unmap and relinquish: under the p2m lock,
 *    as p2m_change_type_range does, or a cmpxchg on the present entry; never
 *    a read now and a write-back later, which could write back an entry
 *    lend_unmap removed meanwhile and map a frame the kernel is freeing
 *    (tests/model: bug-age-rmw).
 *  - Hardware. NPT: Xen 4.17 writes every entry with _PAGE_ACCESSED set
 *    (P2M_BASE_FLAGS); the CPU sets it again on the next nested walk that
 *    uses the entry once it is cleared. EPT: the CPU writes accessed bits
 *    only if the EPTP's A/D enable (bit 6) is set, which Xen 4.17 does only
 *    for PML (p2m->ept.ad); the first lend_age for a borrower sets it
 *    (vmx_domain_update_eptp()) when cpu_has_vmx_ept_ad, and answers
 *    EOPNOTSUPP on a CPU without EPT A/D flags (upstream/xen's patch 9 does
 *    not do that yet: it answers EOPNOTSUPP on every EPT p2m). With A/D on, the CPU also
 *    counts its own walks of guest page tables as writes (sets the D bits of
 *    their entries): harmless outside log-dirty mode, which enables it
 *    anyway. Until the first call every lent entry reads accessed (Xen
 *    wrote them so): the first pass over a range reports every mapped page.
 * Errors: ESRCH (the borrower is dying), EINVAL (nr 0 or >
 * LEND_MAX_BATCH, flags not 0), EOPNOTSUPP (lending refused for this
 * borrower, or EPT without A/D flags), EFAULT (the bitmap). Stock Xen and
 * revision-2 Xen: ENOSYS.
 */
#define XENMEM_lend_age 31
#define LEND_AGE_MAX_BATCH LEND_MAX_BATCH

/* ===================== Part 2: the Linux privcmd driver ===================== */

/*
 * Ioctls on an fd of /dev/xen/privcmd restricted to one domain with
 * IOCTL_PRIVCMD_RESTRICT first (one domain per fd; the fd is the whole
 * capability: no root needed beyond it, as with a KVM VM fd). The slot
 * ioctls fail with EPERM on an unrestricted fd, and with EIO when called
 * from another process (mm) than the one that set the slot. Closing the fd
 * revokes every mapping of every slot (the entries are removed before the
 * notifiers). A kernel without lending answers ENOTTY to all of them.
 * Nothing here pins a page: the kernel resolves pages without taking a
 * reference it keeps, and an MMU interval notifier removes a lent entry
 * before Linux may free, move or reuse its page.
 */
#define PRIVCMD_LEND_VERSION 2

/*
 * Returns the revision (2, or 3 with aging: below); PRIVCMD_LEND_VERSION is
 * the least a device model needs. ENOTTY: no lending in this kernel;
 * EOPNOTSUPP: the kernel has it, the hypervisor does not (XENMEM_lend_*
 * answered ENOSYS).
 */
#define IOCTL_PRIVCMD_LEND_VERSION _IO('P', 0x40)

/*
 * Create or delete a slot, as KVM_SET_USER_MEMORY_REGION does: `pages` ==
 * 0 deletes the slot (every page unmapped first; EINVAL if there is none).
 * Changing first_gfn of an existing slot is not allowed (EINVAL): delete
 * and recreate, since every mapping must be revoked anyway. Setting a slot
 * that died (UNMAPPED below) creates it anew, even with the same parameters. uaddr and pages
 * describe a range of the caller's address space, page aligned, backed by
 * a mapping the kernel can fault in without pinning (shmem, memfd, page-cache
 * files). VM_IO/VM_PFNMAP mappings (device BARs, VRAM dma-bufs) cannot be
 * lent in this revision (EFAULT at map time): emulation serves them.
 * Nothing is mapped into the guest yet.
 * Errors: EINVAL (alignment, size, slot >= LEND_MAX_SLOTS, overlapping gfns
 * of another slot, unknown flags), EEXIST (slot in use with other
 * parameters), EFAULT (uaddr not mapped), ENOMEM, EPERM, EIO (above).
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
 * The kernel follows KVM's (and HMM's) fault protocol: snapshot the
 * notifier sequence, resolve the pages (may sleep, faults them in writable
 * for a writable slot so that they are dirty, never pins), then under the
 * notifier lock install them only if no invalidation is in progress over
 * them and the sequence has not moved; otherwise it installs nothing more
 * and fails with EAGAIN. `done` returns how many pages from first_page were
 * installed (also on error), so a caller retries from there.
 * Errors: EAGAIN (an invalidation raced: retry), ENODATA (page first_page +
 * done cannot be faulted in while the slot's mapping still covers it: its
 * content is lost -- hardware-poisoned, truncated away, device gone), EBUSY
 * (a gfn holds other memory, such as guest RAM), EINVAL (range outside the
 * slot, flags not 0), EFAULT (nothing is mapped at the slot's uaddr any
 * more, or a mapping that cannot be lent), ESRCH (the domain died), ENOMEM
 * (also: the borrower's paging pool, see shadow_memory above), EPERM (from
 * Xen: the gfn is in no access-only range of the caller's server, or the
 * frame is not the caller's), EOPNOTSUPP (Xen refuses this borrower: no HAP,
 * altp2m, shared IOMMU tables...), EINTR (the caller was killed meanwhile).
 * A page already mapped is left as it is and counted as done.
 */
struct privcmd_lend_range {
    uint32_t slot;
    uint32_t flags; /* 0 (revision 1's LEND_MAP_F_ZERO_LOST is gone: EINVAL) */
    uint64_t first_page;
    uint64_t count;
    uint64_t done; /* out */
};
#define IOCTL_PRIVCMD_LEND_MAP _IOWR('P', 0x42, struct privcmd_lend_range)

/*
 * Remove pages from the guest (the device model's own eviction). The pages
 * stay in the caller's address space; the next guest access to one produces
 * an ACCESS request again. flags: 0. Pages not mapped are ignored. `done`
 * reads back `count` on success.
 */
#define IOCTL_PRIVCMD_LEND_UNMAP _IOWR('P', 0x43, struct privcmd_lend_range)

/*
 * Invalidation events, read() from the fd (poll for POLLIN), whole records
 * only (EINVAL for a buffer smaller than one). The queue exists on a
 * restricted fd from its first use; an unrestricted fd reads EINVAL and
 * never polls ready. Each says pages of a slot left the guest because of
 * the host (a record may cover more pages than the operation that caused
 * it: Linux may invalidate a whole range, e.g. 2 MiB around a VMA split):
 *   MIGRATED  the host's memory manager took the pages back (reclaim, swap,
 *             migration, compaction, a hole punched, a truncation). The
 *             content is whatever the host mapping holds at the next map:
 *             preserved by swap and migration, zeros after a hole punch, and
 *             if it is gone for good, the next map fails with ENODATA.
 *   UNMAPPED  the caller's own mapping behind the slot went away (munmap,
 *             mremap, exit): the slot is dead until set again.
 *   OVERFLOW  the bounded event queue overflowed: events were dropped, so
 *             every page of every slot must be assumed unmapped (slot and
 *             range fields are zero).
 * (Reason 2 was revision 1's LOST, which no kernel can know at invalidation
 * time; it is never sent.) The kernel sends an event for every invalidation
 * that covers mapped pages, whatever its cause (also protection changes),
 * and merges it with the previous record when adjacent and of the same kind.
 * An event is queued before the mappings it describes are removed (in the
 * notifier's invalidate callback, before the hypercall that removes them):
 * an access request an invalidation causes can only reach the device model
 * after its event, so reading events before serving each request keeps the
 * device model's view of what is mapped exact, never counting a page just
 * mapped again as gone. The queue holds at most LEND_EVENT_QUEUE records per
 * fd: the kernel never allocates without bound because a guest faults a lot.
 * On overflow the device model can no longer know what is mapped: it unmaps
 * every slot (IOCTL_PRIVCMD_LEND_UNMAP) to make "nothing is mapped" true
 * again.
 */
/*
 * Revision 3: age pages [first_page, first_page + count) of a slot (the
 * hypervisor's XENMEM_lend_age above, split into calls of at most
 * LEND_AGE_MAX_BATCH gfns). For each page the kernel tests and clears the
 * accessed bit of its guest mapping and writes the old value to the
 * caller's bitmap: (count + 63) / 64 uint64_t words at `bitmap`, bit i % 64
 * of word i / 64 for page first_page + i, 1 = the guest accessed the page
 * since the last aging of it (or since it was mapped, for a page never aged:
 * see above). `young` returns how many bits are 1.
 *  - A page that is not mapped into the guest reads 0: the bit belongs to
 *    the mapping, and a page unmapped (LEND_UNMAP, an invalidation, OVERFLOW)
 *    and mapped again starts afresh. An invalidation in progress over the
 *    range is no reason to fail: pages already zapped read 0, the others are
 *    tested and the invalidation removes them afterwards. A device model
 *    must therefore apply the events it read after the call before it
 *    believes any bit: a 1 for a page an event then says is gone says that
 *    the page was used, never that it is mapped.
 *  - Never maps, unmaps or faults in a page, never sleeps on the host's
 *    memory manager, takes no notifier sequence: it cannot fail with
 *    EAGAIN, and it is never a reason for an event.
 *  - No TLB flush (above): advisory, a hot page may read 0 now and then.
 *  - count 1 .. LEND_AGE_MAX_PAGES (4096 pages, 16 MiB of BAR, a 512-byte
 *    bitmap: bounded work per call); a larger count is E2BIG.
 * Errors: ENOTTY (a revision-2 kernel: the device model evicts without use
 * bits, and says so once), EOPNOTSUPP (the hypervisor has no lend_age, or
 * the CPU no accessed bits for it: the same fallback), E2BIG (count), EINVAL
 * (count 0, range outside the slot, flags not 0, no such slot), EFAULT (the
 * bitmap), ESRCH (the domain died), EPERM, EIO (as the other slot ioctls).
 * IOCTL_PRIVCMD_LEND_VERSION returns PRIVCMD_LEND_VERSION_AGE (3) on a
 * kernel whose hypervisor has XENMEM_lend_age; it may return 2 where only
 * the kernel has it, so the call itself is the test.
 */
#define PRIVCMD_LEND_VERSION_AGE 3
#define LEND_AGE_MAX_PAGES 4096
struct privcmd_lend_age {
    uint32_t slot;
    uint32_t flags;      /* 0 */
    uint64_t first_page;
    uint64_t count;      /* 1 .. LEND_AGE_MAX_PAGES */
    uint64_t bitmap;     /* user pointer to (count + 63) / 64 uint64_t, written */
    uint64_t young;      /* out: bits set */
};
#define IOCTL_PRIVCMD_LEND_AGE _IOWR('P', 0x44, struct privcmd_lend_age)

enum lend_event_reason {
    LEND_EV_MIGRATED = 1,
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

_Static_assert(sizeof(struct xen_lend_map) == 24, "stable hypercall layout");
_Static_assert(sizeof(struct privcmd_lend_slot) == 32, "stable ioctl layout");
_Static_assert(sizeof(struct privcmd_lend_range) == 32, "stable ioctl layout");
_Static_assert(sizeof(struct privcmd_lend_event) == 24, "stable record layout");
_Static_assert(sizeof(struct privcmd_lend_age) == 40, "stable ioctl layout");

#endif
