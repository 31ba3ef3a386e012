/* SPDX-License-Identifier: MIT */
/*
 * libxenlend (ioreq-lend/xenlend.h) on the simulated host: the lending
 * ioctls of a privcmd fd become calls on a connection to the simulated
 * kernel and hypervisor, and invalidation events arrive on a pipe.
 *
 * Registering a slot: a real kernel resolves the slot's user addresses to
 * pages itself. The simulated kernel lives in another process, so this
 * library finds the file behind the address range (/proc/self/maps) and an
 * fd of ours open on it, and sends that fd along: the simulator then maps
 * the very same pages into the guest. Hence a simulator restriction: the
 * range must be one mapping of a file the process holds open (memfd, tmpfs
 * file), which every ioreq-lend backing of lending mode is.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include "conn.h"
#include "xenlend.h"

struct xenlend_handle {
    struct sim_conn conn;
    int event_fd;
    domid_t domid;
};

static int lend_call(xenlend_handle *h, struct sim_req *req, struct sim_reply *reply, int fd)
{
    req->domid = h->domid;
    return sim_conn_call(&h->conn, req, reply, fd, NULL);
}

xenlend_handle *xenlend_open(domid_t domid)
{
    struct xenlend_handle *h = calloc(1, sizeof(*h));
    struct sim_req req = {.op = SIM_OP_LEND_VERSION};
    struct sim_reply reply;
    int rc;

    if (!h)
        return NULL;
    h->domid = domid;
    rc = sim_conn_open(&h->conn, SIM_HANDLE_LEND, &reply, &h->event_fd);
    if (rc == 0 && h->event_fd < 0)
        rc = -EPROTO;
    if (rc) {
        free(h);
        errno = -rc;
        return NULL;
    }
    fcntl(h->event_fd, F_SETFL, O_NONBLOCK);
    /* One domain per fd, then ask whether this kernel lends at all. */
    struct sim_req restrict_req = {.op = SIM_OP_RESTRICT, .domid = domid};
    rc = sim_conn_call(&h->conn, &restrict_req, &reply, -1, NULL);
    if (rc == 0)
        rc = lend_call(h, &req, &reply, -1);
    /* As xenlend.c: an older revision's kernel is no lending kernel for us. */
    if (rc == 0 && reply.u.lend.version < PRIVCMD_LEND_VERSION)
        rc = -EPROTONOSUPPORT;
    if (rc) {
        xenlend_close(h);
        errno = -rc;
        return NULL;
    }
    return h;
}

void xenlend_close(xenlend_handle *h)
{
    if (!h)
        return;
    sim_conn_close(&h->conn);
    close(h->event_fd);
    free(h);
}

int xenlend_fd(xenlend_handle *h)
{
    return h->event_fd;
}

static int access_range(xenlend_handle *h, enum sim_op op, ioservid_t id, uint64_t start,
                        uint64_t end)
{
    struct sim_req req = {.op = op};
    struct sim_reply reply;

    req.u.lend_access.id = id;
    req.u.lend_access.start = start;
    req.u.lend_access.end = end;
    return sim_errno_return(lend_call(h, &req, &reply, -1));
}

int xenlend_claim_access_range(xenlend_handle *h, ioservid_t id, uint64_t start, uint64_t end)
{
    return access_range(h, SIM_OP_LEND_CLAIM_ACCESS, id, start, end);
}

int xenlend_release_access_range(xenlend_handle *h, ioservid_t id, uint64_t start, uint64_t end)
{
    return access_range(h, SIM_OP_LEND_RELEASE_ACCESS, id, start, end);
}

/* The file and offset behind [addr, addr + len): one mapping in /proc/self/maps. */
static int find_mapping(uintptr_t addr, uint64_t len, dev_t *dev, ino_t *ino, uint64_t *offset)
{
    FILE *f = fopen("/proc/self/maps", "re");
    char line[512];
    int rc = -EFAULT;

    if (!f)
        return -errno;
    while (fgets(line, sizeof(line), f)) {
        uintptr_t start, end;
        unsigned long long off, inode;
        unsigned int maj, min;

        if (sscanf(line, "%" SCNxPTR "-%" SCNxPTR " %*4s %llx %x:%x %llu", &start, &end, &off,
                   &maj, &min, &inode) != 6)
            continue;
        if (addr < start || addr >= end)
            continue;
        if (inode != 0 && len <= end - addr) {
            *dev = makedev(maj, min);
            *ino = (ino_t)inode;
            *offset = off + (addr - start);
            rc = 0;
        }
        break;
    }
    fclose(f);
    return rc;
}

/* One of our fds open on that file. */
static int find_fd(dev_t dev, ino_t ino)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int found = -EFAULT;

    if (!d)
        return -errno;
    while ((e = readdir(d))) {
        struct stat st;
        int fd = atoi(e->d_name);

        if (e->d_name[0] == '.' || fd == dirfd(d))
            continue;
        if (fstat(fd, &st) == 0 && st.st_ino == ino && st.st_dev == dev) {
            found = fd;
            break;
        }
    }
    closedir(d);
    return found;
}

int xenlend_set_slot(xenlend_handle *h, uint32_t slot, uint64_t first_gfn, void *uaddr,
                     uint64_t pages, uint32_t flags)
{
    struct sim_req req = {.op = SIM_OP_LEND_SET_SLOT};
    struct sim_reply reply;
    int fd = -1, rc;

    req.u.lend_slot.slot = slot;
    req.u.lend_slot.flags = flags;
    req.u.lend_slot.first_gfn = first_gfn;
    req.u.lend_slot.pages = pages;
    if (pages) {
        dev_t dev = 0;
        ino_t ino = 0;

        if (pages > UINT64_MAX / 4096)
            return sim_errno_return(-EINVAL);
        rc = find_mapping((uintptr_t)uaddr, pages * 4096, &dev, &ino,
                          &req.u.lend_slot.fd_offset);
        if (rc == 0)
            fd = find_fd(dev, ino);
        if (rc || fd < 0)
            return sim_errno_return(rc ? rc : fd);
    }
    return sim_errno_return(lend_call(h, &req, &reply, fd));
}

int xenlend_map(xenlend_handle *h, uint32_t slot, uint64_t first_page, uint64_t count,
                uint32_t flags, uint64_t *done)
{
    struct sim_req req = {.op = SIM_OP_LEND_MAP};
    struct sim_reply reply;
    int rc;

    req.u.lend_range.slot = slot;
    req.u.lend_range.flags = flags;
    req.u.lend_range.first_page = first_page;
    req.u.lend_range.count = count;
    rc = lend_call(h, &req, &reply, -1);
    *done = reply.u.lend.done;
    return sim_errno_return(rc);
}

int xenlend_unmap(xenlend_handle *h, uint32_t slot, uint64_t first_page, uint64_t count)
{
    struct sim_req req = {.op = SIM_OP_LEND_UNMAP};
    struct sim_reply reply;

    req.u.lend_range.slot = slot;
    req.u.lend_range.first_page = first_page;
    req.u.lend_range.count = count;
    return sim_errno_return(lend_call(h, &req, &reply, -1));
}

int xenlend_age(xenlend_handle *h, uint32_t slot, uint64_t first_page, uint64_t count,
                uint64_t *young_bits)
{
    struct sim_req req = {.op = SIM_OP_LEND_AGE};
    struct sim_reply reply;
    int rc;

    req.u.lend_range.slot = slot;
    req.u.lend_range.first_page = first_page;
    req.u.lend_range.count = count;
    rc = lend_call(h, &req, &reply, -1);
    if (rc)
        return sim_errno_return(rc);
    /* The reply carries the bitmap, as the kernel's copy_to_user() would write it. */
    memcpy(young_bits, reply.u.lend_age.bits, (count + 63) / 64 * sizeof(uint64_t));
    return (int)reply.u.lend_age.young;
}

int xenlend_read_events(xenlend_handle *h, struct privcmd_lend_event *ev, unsigned int n)
{
    ssize_t got;

    do {
        got = read(h->event_fd, ev, n * sizeof(*ev));
    } while (got < 0 && errno == EINTR);
    if (got < 0)
        return errno == EAGAIN ? 0 : -1;
    if (got % (ssize_t)sizeof(*ev)) {
        errno = EIO;
        return -1;
    }
    return (int)(got / (ssize_t)sizeof(*ev));
}
