/* SPDX-License-Identifier: MIT */
/*
 * libxenlend: a thin library over the lending ABI (lend_abi.h), in the style
 * of libxendevicemodel: functions return 0 (or a count) on success and -1
 * with errno set on failure. ioreq-lend links xenlend.c (the privcmd ioctls
 * and the dm_op) on a real host; the simulator provides the same functions.
 */
#ifndef IOREQ_LEND_XENLEND_H
#define IOREQ_LEND_XENLEND_H

#include <stdint.h>
#include <xen/xen.h>
#include <xen/hvm/dm_op.h>

#include "lend_abi.h"

typedef struct xenlend_handle xenlend_handle;

/*
 * Open a lending handle for one domain: a privcmd fd restricted to domid.
 * NULL with errno: ENOENT (no privcmd: not on Xen), EACCES, ENOTTY (the
 * kernel has no lending), EOPNOTSUPP (the kernel has, the hypervisor has
 * not), EPROTONOSUPPORT (the kernel's lending is an older revision).
 */
xenlend_handle *xenlend_open(domid_t domid);
/* Close: every mapping of every slot of this handle is revoked. */
void xenlend_close(xenlend_handle *h);
/* Pollable for invalidation events. */
int xenlend_fd(xenlend_handle *h);

/*
 * Claim / release an access-only range (gfn-granular byte addresses,
 * inclusive end) on ioreq server `id`. EINVAL from a hypervisor without
 * lending.
 */
int xenlend_claim_access_range(xenlend_handle *h, ioservid_t id, uint64_t start, uint64_t end);
int xenlend_release_access_range(xenlend_handle *h, ioservid_t id, uint64_t start, uint64_t end);

/* IOCTL_PRIVCMD_LEND_SET_SLOT; pages == 0 deletes the slot. */
int xenlend_set_slot(xenlend_handle *h, uint32_t slot, uint64_t first_gfn, void *uaddr,
                     uint64_t pages, uint32_t flags);
/* IOCTL_PRIVCMD_LEND_MAP; *done = pages installed from first_page, also on error. */
int xenlend_map(xenlend_handle *h, uint32_t slot, uint64_t first_page, uint64_t count,
                uint32_t flags, uint64_t *done);
/* IOCTL_PRIVCMD_LEND_UNMAP */
int xenlend_unmap(xenlend_handle *h, uint32_t slot, uint64_t first_page, uint64_t count);
/*
 * IOCTL_PRIVCMD_LEND_AGE (revision 3): test and clear the accessed bits of
 * pages [first_page, first_page + count) of a slot, count <= LEND_AGE_MAX_PAGES.
 * Writes (count + 63) / 64 words to young_bits (bit i: page first_page + i
 * was accessed; a page not mapped reads 0) and returns the number of bits
 * set, or -1 with errno: ENOTTY (a revision-2 kernel), EOPNOTSUPP (no aging
 * in the hypervisor or the CPU), E2BIG, EINVAL, ESRCH.
 */
int xenlend_age(xenlend_handle *h, uint32_t slot, uint64_t first_page, uint64_t count,
                uint64_t *young_bits);
/* Read up to n events without blocking: the number read, 0 if none, -1 on error. */
int xenlend_read_events(xenlend_handle *h, struct privcmd_lend_event *ev, unsigned int n);

#endif
