/* SPDX-License-Identifier: MIT */
/*
 * libxenlend (ioreq-lend/xenlend.h) on the simulated host. Until the
 * simulated kernel implements the lending ioctls, it behaves as a stock
 * kernel does: no lending (ENOTTY).
 */
#include <errno.h>
#include <stddef.h>

#include "xenlend.h"

xenlend_handle *xenlend_open(domid_t domid)
{
    (void)domid;
    errno = ENOTTY;
    return NULL;
}

void xenlend_close(xenlend_handle *h)
{
    (void)h;
}

int xenlend_fd(xenlend_handle *h)
{
    (void)h;
    return -1;
}

int xenlend_claim_access_range(xenlend_handle *h, ioservid_t id, uint64_t start, uint64_t end)
{
    (void)h;
    (void)id;
    (void)start;
    (void)end;
    errno = EINVAL;
    return -1;
}

int xenlend_release_access_range(xenlend_handle *h, ioservid_t id, uint64_t start, uint64_t end)
{
    return xenlend_claim_access_range(h, id, start, end);
}

int xenlend_set_slot(xenlend_handle *h, uint32_t slot, uint64_t first_gfn, void *uaddr,
                     uint64_t pages, uint32_t flags)
{
    (void)h;
    (void)slot;
    (void)first_gfn;
    (void)uaddr;
    (void)pages;
    (void)flags;
    errno = ENOTTY;
    return -1;
}

int xenlend_map(xenlend_handle *h, uint32_t slot, uint64_t first_page, uint64_t count,
                uint32_t flags, uint64_t *done)
{
    (void)h;
    (void)slot;
    (void)first_page;
    (void)count;
    (void)flags;
    *done = 0;
    errno = ENOTTY;
    return -1;
}

int xenlend_unmap(xenlend_handle *h, uint32_t slot, uint64_t first_page, uint64_t count)
{
    (void)h;
    (void)slot;
    (void)first_page;
    (void)count;
    errno = ENOTTY;
    return -1;
}

int xenlend_read_events(xenlend_handle *h, struct privcmd_lend_event *ev, unsigned int n)
{
    (void)h;
    (void)ev;
    (void)n;
    errno = ENOTTY;
    return -1;
}
