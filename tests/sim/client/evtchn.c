/* SPDX-License-Identifier: MIT */
/*
 * libxenevtchn on the simulated hypervisor. As with /dev/xen/evtchn, pending
 * ports are read from a file descriptor (here a pipe the hypervisor writes
 * port numbers into), a delivered port stays masked until the handle unmasks
 * it, and unbinding happens when the handle closes.
 *
 * Notify and unmask of the handle's own ports go through a page shared with
 * the simulated hypervisor (struct hv_evtchn_shm), as a domain's do through
 * its shared info page: no round trip on the hot path. Anything the page
 * cannot settle (a port this handle does not own, an unmask that must
 * deliver again) goes to the hypervisor as a message.
 */
#include <errno.h>
#include <signal.h>
#include <linux/futex.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <xenevtchn.h>

#include "../hv/hv.h"
#include "conn.h"

struct xenevtchn_handle {
    struct sim_conn conn;
    int event_fd;
    struct hv_evtchn_shm *shm;
    unsigned int owner; /* our index + 1, as the page records a port's owner */
};

/* Map the shared event-channel page and learn which handle we are. */
static int map_shared_page(struct xenevtchn_handle *h)
{
    struct sim_req req = {.op = SIM_OP_EVTCHN_SHM};
    struct sim_reply reply;
    int fd, rc = sim_conn_call(&h->conn, &req, &reply, -1, &fd);

    if (rc)
        return rc;
    if (fd < 0)
        return -EPROTO;
    h->shm = mmap(NULL, sizeof(*h->shm), PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    close(fd);
    if (h->shm == MAP_FAILED) {
        h->shm = NULL;
        return -ENOMEM;
    }
    h->owner = reply.u.shm.conn + 1;
    return 0;
}

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger, unsigned int flags)
{
    struct xenevtchn_handle *h = calloc(1, sizeof(*h));
    struct sim_reply reply;
    int rc;

    (void)logger;
    (void)flags;
    if (!h)
        return NULL;
    rc = sim_conn_open(&h->conn, SIM_HANDLE_EVTCHN, &reply, &h->event_fd);
    if (rc == 0 && h->event_fd < 0) {
        sim_conn_close(&h->conn);
        rc = -EPROTO;
    }
    if (rc == 0 && (rc = map_shared_page(h))) {
        sim_conn_close(&h->conn);
        close(h->event_fd);
    }
    if (rc) {
        free(h);
        errno = -rc;
        return NULL;
    }
    sim_conn_register(&h->conn);
    return h;
}

xenevtchn_handle *xenevtchn_fdopen(struct xentoollog_logger *logger, int fd, unsigned open_flags)
{
    (void)logger;
    (void)fd;
    (void)open_flags;
    errno = EOPNOTSUPP;
    return NULL;
}

int xenevtchn_close(xenevtchn_handle *xce)
{
    if (!xce)
        return 0;
    sim_conn_unregister(&xce->conn);
    sim_conn_close(&xce->conn);
    close(xce->event_fd);
    munmap(xce->shm, sizeof(*xce->shm));
    free(xce);
    return 0;
}

int xenevtchn_fd(xenevtchn_handle *xce)
{
    return xce->event_fd;
}

static int port_message(xenevtchn_handle *xce, enum sim_op op, evtchn_port_t port)
{
    struct sim_req req = {.op = op};

    req.u.port.port = port;
    return sim_errno_return(sim_conn_send(&xce->conn, &req));
}

static bool port_is_ours(xenevtchn_handle *xce, evtchn_port_t port)
{
    return port < HV_MAX_PORTS && atomic_load(&xce->shm->port[port].owner) == xce->owner;
}

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
    unsigned int vcpu;

    unsigned int kill_at = atomic_load(&xce->shm->kill_before_notify);

    /* A kill point the simulator armed (hv_arm_kill): die as if killed right here. */
    while (kill_at && !atomic_compare_exchange_weak(&xce->shm->kill_before_notify, &kill_at,
                                                    kill_at - 1))
        ;
    if (kill_at == 1)
        raise(SIGKILL);
    if (!port_is_ours(xce, port))
        return port_message(xce, SIM_OP_NOTIFY, port);
    atomic_fetch_add_explicit(&xce->shm->events_from_dom0, 1, memory_order_relaxed);
    /* The guest's end gone, or the buffered port: the notification goes nowhere. */
    vcpu = atomic_load(&xce->shm->port[port].vcpu);
    if (vcpu == 0 || vcpu > HV_MAX_VCPUS)
        return 0;
    atomic_fetch_add(&xce->shm->vcpu_wake[vcpu - 1], 1);
    syscall(SYS_futex, (uint32_t *)&xce->shm->vcpu_wake[vcpu - 1], FUTEX_WAKE, INT32_MAX, NULL,
            NULL, 0);
    return 0;
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
    atomic_uint *flags;
    unsigned int old;

    if (!port_is_ours(xce, port))
        return port_message(xce, SIM_OP_UNMASK, port);
    flags = &xce->shm->port[port].flags;
    old = atomic_load(flags);
    /* Clear the mask unless a notification is pending: that one needs delivering. */
    while (!(old & CHAN_PENDING)) {
        if (atomic_compare_exchange_weak(flags, &old, old & ~CHAN_MASKED))
            return 0;
    }
    return port_message(xce, SIM_OP_UNMASK, port);
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce, uint32_t domid,
                                                     evtchn_port_t remote_port)
{
    struct sim_req req = {.op = SIM_OP_BIND_INTERDOMAIN, .domid = domid};
    struct sim_reply reply;
    int rc;

    req.u.bind.remote_port = remote_port;
    rc = sim_conn_call(&xce->conn, &req, &reply, -1, NULL);
    if (rc)
        return sim_errno_return(rc);
    return (xenevtchn_port_or_error_t)reply.u.bind.local_port;
}

xenevtchn_port_or_error_t xenevtchn_bind_unbound_port(xenevtchn_handle *xce, uint32_t domid)
{
    (void)xce;
    (void)domid;
    errno = EOPNOTSUPP;
    return -1;
}

xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *xce, unsigned int virq)
{
    (void)xce;
    (void)virq;
    errno = EOPNOTSUPP;
    return -1;
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
    struct sim_req req = {.op = SIM_OP_UNBIND};
    struct sim_reply reply;

    req.u.port.port = port;
    return sim_errno_return(sim_conn_call(&xce->conn, &req, &reply, -1, NULL));
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
    evtchn_port_t port;
    ssize_t n;

    do {
        n = read(xce->event_fd, &port, sizeof(port));
    } while (n < 0 && errno == EINTR);
    if (n != (ssize_t)sizeof(port)) {
        if (n >= 0)
            errno = EIO;
        return -1;
    }
    return (xenevtchn_port_or_error_t)port;
}

int xenevtchn_restrict(xenevtchn_handle *xce, domid_t domid)
{
    struct sim_req req = {.op = SIM_OP_RESTRICT, .domid = domid};
    struct sim_reply reply;

    return sim_errno_return(sim_conn_call(&xce->conn, &req, &reply, -1, NULL));
}
