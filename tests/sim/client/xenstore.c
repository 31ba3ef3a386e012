/* SPDX-License-Identifier: MIT */
/*
 * libxenstore on the simulated hypervisor: each call is one request to the
 * simulated xenstored (tests/sim/hv/xenstore.c), with the library's own
 * conventions: false or NULL with errno on failure, results malloc()ed for
 * the caller to free. Prototypes come from the installed <xenstore.h>. Like
 * the real handle, it is registered with xentoolcore, whose restriction
 * leaves it dead (the real one dup2()s /dev/null over its socket).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xenstore.h>

#include "conn.h"

struct xs_handle {
    struct sim_conn conn;
};

struct xs_handle *xs_open(unsigned long flags)
{
    struct xs_handle *h = calloc(1, sizeof(*h));
    struct sim_reply reply;
    int rc;

    (void)flags;
    if (!h)
        return NULL;
    rc = sim_conn_open(&h->conn, SIM_HANDLE_XENSTORE, &reply, NULL);
    if (rc) {
        free(h);
        errno = -rc;
        return NULL;
    }
    sim_conn_register(&h->conn);
    return h;
}

void xs_close(struct xs_handle *xsh)
{
    if (!xsh)
        return;
    sim_conn_unregister(&xsh->conn);
    sim_conn_close(&xsh->conn);
    free(xsh);
}

/* One call on path; 0 or -errno (also for a path too long for the wire). */
static int xs_call(struct xs_handle *h, uint32_t op, xs_transaction_t t, const char *path,
                   struct sim_req *req, struct sim_reply *reply)
{
    req->op = op;
    req->u.xs.tx = t;
    if (path && strlen(path) >= sizeof(req->u.xs.path))
        return -ENAMETOOLONG;
    if (path)
        strcpy(req->u.xs.path, path);
    return sim_conn_call(&h->conn, req, reply, -1, NULL);
}

void *xs_read(struct xs_handle *h, xs_transaction_t t, const char *path, unsigned int *len)
{
    struct sim_req req;
    struct sim_reply reply;
    char *v;
    int rc;

    memset(&req, 0, sizeof(req));
    rc = xs_call(h, SIM_OP_XS_READ, t, path, &req, &reply);
    if (rc) {
        errno = -rc;
        return NULL;
    }
    /* As the real library: NUL-terminated, the length without it. */
    v = malloc(reply.u.xs.len + 1);
    if (!v)
        return NULL;
    memcpy(v, reply.u.xs.data, reply.u.xs.len);
    v[reply.u.xs.len] = '\0';
    if (len)
        *len = reply.u.xs.len;
    return v;
}

bool xs_write(struct xs_handle *h, xs_transaction_t t, const char *path, const void *data,
              unsigned int len)
{
    struct sim_req req;
    struct sim_reply reply;
    int rc;

    memset(&req, 0, sizeof(req));
    if (len > sizeof(req.u.xs.value)) {
        errno = E2BIG;
        return false;
    }
    memcpy(req.u.xs.value, data, len);
    req.u.xs.len = len;
    rc = xs_call(h, SIM_OP_XS_WRITE, t, path, &req, &reply);
    return rc ? (errno = -rc, false) : true;
}

bool xs_rm(struct xs_handle *h, xs_transaction_t t, const char *path)
{
    struct sim_req req;
    struct sim_reply reply;
    int rc;

    memset(&req, 0, sizeof(req));
    rc = xs_call(h, SIM_OP_XS_RM, t, path, &req, &reply);
    return rc ? (errno = -rc, false) : true;
}

char **xs_directory(struct xs_handle *h, xs_transaction_t t, const char *path, unsigned int *num)
{
    struct sim_req req;
    struct sim_reply reply;
    size_t used = 0;
    char **v, *names;
    int rc;

    memset(&req, 0, sizeof(req));
    rc = xs_call(h, SIM_OP_XS_DIRECTORY, t, path, &req, &reply);
    if (rc) {
        errno = -rc;
        return NULL;
    }
    /* One allocation, as the real library: the pointers, then the names. */
    v = malloc((reply.u.xs.len + 1) * sizeof(char *) + sizeof(reply.u.xs.data));
    if (!v)
        return NULL;
    names = (char *)(v + reply.u.xs.len + 1);
    memcpy(names, reply.u.xs.data, sizeof(reply.u.xs.data));
    for (uint32_t i = 0; i < reply.u.xs.len; i++) {
        v[i] = names + used;
        used += strlen(v[i]) + 1;
    }
    v[reply.u.xs.len] = NULL;
    *num = reply.u.xs.len;
    return v;
}

xs_transaction_t xs_transaction_start(struct xs_handle *h)
{
    struct sim_req req;
    struct sim_reply reply;
    int rc;

    memset(&req, 0, sizeof(req));
    rc = xs_call(h, SIM_OP_XS_TX_START, XBT_NULL, NULL, &req, &reply);
    if (rc) {
        errno = -rc;
        return XBT_NULL;
    }
    return reply.u.xs.tx;
}

bool xs_transaction_end(struct xs_handle *h, xs_transaction_t t, bool abort)
{
    struct sim_req req;
    struct sim_reply reply;
    int rc;

    memset(&req, 0, sizeof(req));
    req.u.xs.abort = abort;
    rc = xs_call(h, SIM_OP_XS_TX_END, t, NULL, &req, &reply);
    return rc ? (errno = -rc, false) : true;
}
