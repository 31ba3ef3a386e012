/* SPDX-License-Identifier: MIT */
/*
 * libxenevtchn on the simulated hypervisor. As with /dev/xen/evtchn, pending
 * ports are read from a file descriptor (here a pipe the hypervisor writes
 * port numbers into), a delivered port stays masked until the handle unmasks
 * it, and unbinding happens when the handle closes.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <xenevtchn.h>

#include "conn.h"

struct xenevtchn_handle {
    struct sim_conn conn;
    int event_fd;
};

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

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
    return port_message(xce, SIM_OP_NOTIFY, port);
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
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
