/* SPDX-License-Identifier: MIT */
/*
 * libxenforeignmemory on the simulated hypervisor. The hypervisor keeps all
 * guest frames (RAM and its own pages, such as ioreq pages) in one memory
 * pool whose fd arrives with the handle; mapping a gfn is asking the
 * hypervisor which frame backs it now, then mmap()ing that frame of the pool.
 * Like a real foreign mapping, it keeps pointing at that frame even if the
 * guest's p2m changes later: that is why a device model must drop its
 * mappings on IOREQ_TYPE_INVALIDATE.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <xenforeignmemory.h>
#include <xen/memory.h>

#include "conn.h"

#define PAGE_SIZE_BYTES 4096UL

struct xenforeignmemory_handle {
    struct sim_conn conn;
    int pool_fd;
    uint64_t pool_pages;
};

struct xenforeignmemory_resource_handle {
    void *addr;
    size_t nr_frames;
    uint64_t cookie;
};

xenforeignmemory_handle *xenforeignmemory_open(struct xentoollog_logger *logger,
                                               unsigned open_flags)
{
    struct xenforeignmemory_handle *h = calloc(1, sizeof(*h));
    struct sim_reply reply;
    int rc;

    (void)logger;
    (void)open_flags;
    if (!h)
        return NULL;
    rc = sim_conn_open(&h->conn, SIM_HANDLE_FOREIGNMEMORY, &reply, &h->pool_fd);
    if (rc == 0 && h->pool_fd < 0) {
        sim_conn_close(&h->conn);
        rc = -EPROTO;
    }
    if (rc) {
        free(h);
        errno = -rc;
        return NULL;
    }
    h->pool_pages = reply.u.mem.pool_pages;
    sim_conn_register(&h->conn);
    return h;
}

int xenforeignmemory_close(xenforeignmemory_handle *fmem)
{
    if (!fmem)
        return 0;
    sim_conn_unregister(&fmem->conn);
    sim_conn_close(&fmem->conn);
    close(fmem->pool_fd);
    free(fmem);
    return 0;
}

/* Map pool frames [frame, frame + n) at addr. */
static int map_frames(xenforeignmemory_handle *fmem, void *addr, int prot, uint64_t frame,
                      size_t n)
{
    void *p;

    if (frame >= fmem->pool_pages || n > fmem->pool_pages - frame)
        return -EFAULT;
    p = mmap(addr, n * PAGE_SIZE_BYTES, prot, MAP_SHARED | MAP_FIXED, fmem->pool_fd,
             (off_t)(frame * PAGE_SIZE_BYTES));
    return p == MAP_FAILED ? -errno : 0;
}

static void unmap_notify(xenforeignmemory_handle *fmem, uint64_t cookie)
{
    struct sim_req req = {.op = SIM_OP_UNMAP_GFNS};
    struct sim_reply reply;

    req.u.unmap.cookie = cookie;
    sim_conn_call(&fmem->conn, &req, &reply, -1, NULL);
}

static void unmap_resource_notify(xenforeignmemory_handle *fmem, uint64_t cookie)
{
    struct sim_req req = {.op = SIM_OP_UNMAP_RESOURCE};
    struct sim_reply reply;

    req.u.unmap.cookie = cookie;
    sim_conn_call(&fmem->conn, &req, &reply, -1, NULL);
}

void *xenforeignmemory_map2(xenforeignmemory_handle *fmem, uint32_t dom, void *addr, int prot,
                            int flags, size_t pages, const xen_pfn_t arr[], int err[])
{
    int *err_to_free = NULL;
    struct sim_req *req;
    struct sim_reply *reply;
    char *base;
    int rc = 0;

    if (pages == 0 || (flags & ~(MAP_SHARED | MAP_FIXED))) {
        errno = EINVAL;
        return NULL;
    }
    if (!err) {
        err = err_to_free = calloc(pages, sizeof(int));
        if (!err)
            return NULL;
    }
    req = calloc(1, sizeof(*req));
    reply = calloc(1, sizeof(*reply));
    base = mmap(addr, pages * PAGE_SIZE_BYTES, PROT_NONE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (flags & MAP_FIXED), -1, 0);
    if (!req || !reply || base == MAP_FAILED) {
        rc = -ENOMEM;
        goto out;
    }
    /* The mapping's address identifies it to the hypervisor's accounting. */
    for (size_t done = 0; done < pages && rc == 0;) {
        size_t n = pages - done < SIM_MAP_GFNS_MAX ? pages - done : SIM_MAP_GFNS_MAX;

        memset(req, 0, sizeof(*req));
        req->op = SIM_OP_MAP_GFNS;
        req->domid = dom;
        req->u.gfns.cookie = (uint64_t)(uintptr_t)base;
        req->u.gfns.count = (uint32_t)n;
        req->u.gfns.writable = !!(prot & PROT_WRITE);
        for (size_t i = 0; i < n; i++)
            req->u.gfns.gfns[i] = arr[done + i];
        rc = sim_conn_call(&fmem->conn, req, reply, -1, NULL);
        if (rc)
            break;
        for (size_t i = 0; i < n; i++) {
            err[done + i] = reply->u.gfns.err[i];
            if (err[done + i] == 0)
                err[done + i] = map_frames(fmem, base + (done + i) * PAGE_SIZE_BYTES, prot,
                                           reply->u.gfns.frames[i], 1);
        }
        done += n;
    }
    if (rc == 0 && err_to_free) {
        for (size_t i = 0; i < pages; i++) {
            if (err[i]) {
                rc = err[i];
                break;
            }
        }
    }
out:
    if (rc && base != MAP_FAILED) {
        unmap_notify(fmem, (uint64_t)(uintptr_t)base);
        munmap(base, pages * PAGE_SIZE_BYTES);
    }
    free(req);
    free(reply);
    free(err_to_free);
    if (rc) {
        errno = -rc;
        return NULL;
    }
    return base;
}

void *xenforeignmemory_map(xenforeignmemory_handle *fmem, uint32_t dom, int prot, size_t pages,
                           const xen_pfn_t arr[], int err[])
{
    return xenforeignmemory_map2(fmem, dom, NULL, prot, 0, pages, arr, err);
}

int xenforeignmemory_unmap(xenforeignmemory_handle *fmem, void *addr, size_t pages)
{
    unmap_notify(fmem, (uint64_t)(uintptr_t)addr);
    return munmap(addr, pages * PAGE_SIZE_BYTES);
}

int xenforeignmemory_restrict(xenforeignmemory_handle *fmem, domid_t domid)
{
    struct sim_req req = {.op = SIM_OP_RESTRICT, .domid = domid};
    struct sim_reply reply;

    return sim_errno_return(sim_conn_call(&fmem->conn, &req, &reply, -1, NULL));
}

xenforeignmemory_resource_handle *xenforeignmemory_map_resource(xenforeignmemory_handle *fmem,
                                                                domid_t domid, unsigned int type,
                                                                unsigned int id,
                                                                unsigned long frame,
                                                                unsigned long nr_frames,
                                                                void **paddr, int prot, int flags)
{
    struct xenforeignmemory_resource_handle *fres;
    struct sim_req req = {.op = SIM_OP_MAP_RESOURCE, .domid = domid};
    struct sim_reply reply;
    void *addr = *paddr;
    int rc;

    if (nr_frames == 0 || (flags & ~MAP_FIXED)) {
        errno = EINVAL;
        return NULL;
    }
    fres = calloc(1, sizeof(*fres));
    if (!fres)
        return NULL;
    addr = mmap(addr, nr_frames * PAGE_SIZE_BYTES, PROT_NONE,
                MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | (flags & MAP_FIXED), -1, 0);
    if (addr == MAP_FAILED) {
        free(fres);
        return NULL;
    }
    req.u.resource.type = type;
    req.u.resource.id = id;
    req.u.resource.frame = frame;
    req.u.resource.nr_frames = nr_frames;
    fres->cookie = (uint64_t)(uintptr_t)addr;
    req.u.resource.cookie = fres->cookie;
    rc = sim_conn_call(&fmem->conn, &req, &reply, -1, NULL);
    if (rc == 0) {
        rc = map_frames(fmem, addr, prot, reply.u.mem.frame, nr_frames);
        if (rc)
            unmap_resource_notify(fmem, fres->cookie);
    }
    if (rc) {
        munmap(addr, nr_frames * PAGE_SIZE_BYTES);
        free(fres);
        errno = -rc;
        return NULL;
    }
    fres->addr = addr;
    fres->nr_frames = nr_frames;
    *paddr = addr;
    return fres;
}

int xenforeignmemory_unmap_resource(xenforeignmemory_handle *fmem,
                                    xenforeignmemory_resource_handle *fres)
{
    int rc;

    if (!fres)
        return 0;
    unmap_resource_notify(fmem, fres->cookie);
    rc = munmap(fres->addr, fres->nr_frames * PAGE_SIZE_BYTES);
    free(fres);
    return rc;
}

int xenforeignmemory_resource_size(xenforeignmemory_handle *fmem, domid_t domid,
                                   unsigned int type, unsigned int id, size_t *size)
{
    (void)fmem;
    (void)domid;
    (void)id;
    if (type != XENMEM_resource_ioreq_server) {
        errno = EOPNOTSUPP;
        return -1;
    }
    /* The buffered ring and one ioreq page (up to 128 vCPUs). */
    *size = 2;
    return 0;
}
