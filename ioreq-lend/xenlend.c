/* SPDX-License-Identifier: MIT */
/*
 * libxenlend on a real host: the lending ioctls of a domain-restricted
 * privcmd fd, and the access-only range dm_op issued through that fd
 * (libxendevicemodel's wrapper can only pass port or memory ranges). On
 * today's kernels xenlend_open() fails with ENOTTY, under a kernel that lends
 * on a hypervisor that does not with EOPNOTSUPP; on today's hypervisors
 * xenlend_claim_access_range() fails with EINVAL. The kernel-only map and
 * unmap operations (XENMEM_lend_*) are not here: only the kernel issues them.
 */
#include "xenlend.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xen/hvm/dm_op.h>
#include <xen/sys/privcmd.h>

struct xenlend_handle {
    int fd;
    domid_t domid;
};

xenlend_handle *xenlend_open(domid_t domid)
{
    struct xenlend_handle *h = calloc(1, sizeof(*h));
    int saved, version;

    if (!h)
        return NULL;
    h->domid = domid;
    h->fd = open("/dev/xen/privcmd", O_RDWR | O_CLOEXEC | O_NONBLOCK);
    if (h->fd < 0)
        goto fail;
    /* One domain per fd: the fd is the capability. */
    if (ioctl(h->fd, IOCTL_PRIVCMD_RESTRICT, &domid) < 0)
        goto fail;
    /* ENOTTY: no lending in this kernel; EOPNOTSUPP: none in the hypervisor. */
    version = ioctl(h->fd, IOCTL_PRIVCMD_LEND_VERSION);
    if (version < 0)
        goto fail;
    if (version < PRIVCMD_LEND_VERSION) {
        errno = EPROTONOSUPPORT;
        goto fail;
    }
    return h;
fail:
    saved = errno;
    if (h->fd >= 0)
        close(h->fd);
    free(h);
    errno = saved;
    return NULL;
}

void xenlend_close(xenlend_handle *h)
{
    if (!h)
        return;
    close(h->fd);
    free(h);
}

int xenlend_fd(xenlend_handle *h)
{
    return h->fd;
}

static int access_range_op(xenlend_handle *h, uint32_t op_code, ioservid_t id, uint64_t start,
                           uint64_t end)
{
    struct xen_dm_op op;
    privcmd_dm_op_buf_t buf = {.uptr = &op, .size = sizeof(op)};
    privcmd_dm_op_t dm = {.dom = h->domid, .num = 1, .ubufs = &buf};

    memset(&op, 0, sizeof(op));
    op.op = op_code;
    /* map_ and unmap_io_range share one payload layout. */
    op.u.map_io_range_to_ioreq_server.id = id;
    op.u.map_io_range_to_ioreq_server.type = XEN_DMOP_IO_RANGE_ACCESS;
    op.u.map_io_range_to_ioreq_server.start = start;
    op.u.map_io_range_to_ioreq_server.end = end;
    return ioctl(h->fd, IOCTL_PRIVCMD_DM_OP, &dm) < 0 ? -1 : 0;
}

int xenlend_claim_access_range(xenlend_handle *h, ioservid_t id, uint64_t start, uint64_t end)
{
    return access_range_op(h, XEN_DMOP_map_io_range_to_ioreq_server, id, start, end);
}

int xenlend_release_access_range(xenlend_handle *h, ioservid_t id, uint64_t start, uint64_t end)
{
    return access_range_op(h, XEN_DMOP_unmap_io_range_from_ioreq_server, id, start, end);
}

int xenlend_set_slot(xenlend_handle *h, uint32_t slot, uint64_t first_gfn, void *uaddr,
                     uint64_t pages, uint32_t flags)
{
    struct privcmd_lend_slot s = {.slot = slot, .flags = flags, .first_gfn = first_gfn,
                                  .uaddr = (uint64_t)(uintptr_t)uaddr, .pages = pages};

    return ioctl(h->fd, IOCTL_PRIVCMD_LEND_SET_SLOT, &s) < 0 ? -1 : 0;
}

int xenlend_map(xenlend_handle *h, uint32_t slot, uint64_t first_page, uint64_t count,
                uint32_t flags, uint64_t *done)
{
    struct privcmd_lend_range r = {.slot = slot, .flags = flags, .first_page = first_page,
                                   .count = count};
    int rc = ioctl(h->fd, IOCTL_PRIVCMD_LEND_MAP, &r);

    *done = r.done;
    return rc < 0 ? -1 : 0;
}

int xenlend_unmap(xenlend_handle *h, uint32_t slot, uint64_t first_page, uint64_t count)
{
    struct privcmd_lend_range r = {.slot = slot, .first_page = first_page, .count = count};

    return ioctl(h->fd, IOCTL_PRIVCMD_LEND_UNMAP, &r) < 0 ? -1 : 0;
}

int xenlend_age(xenlend_handle *h, uint32_t slot, uint64_t first_page, uint64_t count,
                uint64_t *young_bits)
{
    struct privcmd_lend_age a = {.slot = slot, .first_page = first_page, .count = count,
                                 .bitmap = (uint64_t)(uintptr_t)young_bits};

    /* A revision-2 kernel answers ENOTTY: the caller falls back to evicting without use bits. */
    if (ioctl(h->fd, IOCTL_PRIVCMD_LEND_AGE, &a) < 0)
        return -1;
    return a.young > count ? (int)count : (int)a.young;
}

int xenlend_read_events(xenlend_handle *h, struct privcmd_lend_event *ev, unsigned int n)
{
    ssize_t got;

    do {
        got = read(h->fd, ev, n * sizeof(*ev));
    } while (got < 0 && errno == EINTR);
    if (got < 0)
        return errno == EAGAIN ? 0 : -1;
    /* Whole records only, by the ABI's promise. */
    if (got % (ssize_t)sizeof(*ev)) {
        errno = EIO;
        return -1;
    }
    return (int)(got / (ssize_t)sizeof(*ev));
}
