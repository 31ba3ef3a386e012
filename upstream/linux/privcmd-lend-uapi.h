/* SPDX-License-Identifier: ((GPL-2.0 WITH Linux-syscall-note) OR MIT) */
/*
 * Memory lending through a domain-restricted privcmd fd: what this module
 * adds to include/uapi/xen/privcmd.h. Same layout, numbers and names as Part 2
 * of ioreq-lend's lend_abi.h (revision 3); build.sh checks that they agree.
 *
 * A device model lends ranges of its own address space ("slots", as KVM's
 * memslots) to the guest its fd is restricted to. LEND_MAP resolves pages
 * without pinning them and installs them in the guest's p2m with
 * XENMEM_lend_map; an MMU interval notifier removes them again before Linux
 * frees, moves or reuses a page, and queues an event that read() returns.
 */
#ifndef __LINUX_PUBLIC_PRIVCMD_LEND_H__
#define __LINUX_PUBLIC_PRIVCMD_LEND_H__

#include <linux/types.h>
#include <linux/ioctl.h>

#define PRIVCMD_LEND_VERSION 2
#define LEND_MAX_SLOTS 32
#define LEND_EVENT_QUEUE 1024

struct privcmd_lend_slot {
	__u32 slot;
	__u32 flags;		/* LEND_SLOT_F_READONLY */
	__u64 first_gfn;
	__u64 uaddr;
	__u64 pages;		/* 0: delete the slot */
};
#define LEND_SLOT_F_READONLY (1u << 0)

struct privcmd_lend_range {
	__u32 slot;
	__u32 flags;		/* 0 */
	__u64 first_page;
	__u64 count;
	__u64 done;		/* out: pages from first_page that are mapped */
};

/* read() returns whole records. */
enum lend_event_reason {
	LEND_EV_MIGRATED = 1,	/* the host's MM took the pages back */
	LEND_EV_UNMAPPED = 3,	/* the mapping behind the slot went away */
	LEND_EV_OVERFLOW = 4,	/* events were dropped: assume nothing is mapped */
};
struct privcmd_lend_event {
	__u32 slot;
	__u32 reason;
	__u64 first_page;
	__u64 count;
};

#define IOCTL_PRIVCMD_LEND_VERSION  _IO('P', 0x40)
#define IOCTL_PRIVCMD_LEND_SET_SLOT _IOW('P', 0x41, struct privcmd_lend_slot)
#define IOCTL_PRIVCMD_LEND_MAP      _IOWR('P', 0x42, struct privcmd_lend_range)
#define IOCTL_PRIVCMD_LEND_UNMAP    _IOWR('P', 0x43, struct privcmd_lend_range)

/*
 * Revision 3: test and clear the accessed bits of a slot's pages in the
 * guest's p2m (XENMEM_lend_age), count 1 .. LEND_AGE_MAX_PAGES (E2BIG
 * above). The bitmap gets bit i % 64 of word i / 64 for page first_page + i;
 * pages not mapped read 0. No TLB flush: advisory. LEND_VERSION returns
 * PRIVCMD_LEND_VERSION_AGE where the hypervisor has it.
 */
#define PRIVCMD_LEND_VERSION_AGE 3
#define LEND_AGE_MAX_PAGES 4096
struct privcmd_lend_age {
	__u32 slot;
	__u32 flags;		/* 0 */
	__u64 first_page;
	__u64 count;
	__u64 bitmap;		/* user pointer to (count + 63) / 64 __u64, written */
	__u64 young;		/* out: bits set */
};
#define IOCTL_PRIVCMD_LEND_AGE      _IOWR('P', 0x44, struct privcmd_lend_age)

#endif /* __LINUX_PUBLIC_PRIVCMD_LEND_H__ */
