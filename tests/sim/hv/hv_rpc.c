/* SPDX-License-Identifier: MIT */
/*
 * The RPC thread: accepts one connection per library handle of a device
 * model process and serves its calls as the privcmd and evtchn drivers plus
 * Xen would: domain restriction per handle (EPERM for dm_ops and mappings of
 * another domain, EACCES for binds), ESRCH for a domain that does not exist,
 * per-handle resources released when the handle (the process) goes away.
 */
#include <errno.h>
#include <signal.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "hv.h"
#include "lend.h"
#include "util.h"

static int send_reply(int sock, const struct sim_reply *reply, int fd)
{
    ssize_t n = msg_send_fd(sock, reply, sizeof(*reply), fd);

    return n == (ssize_t)sizeof(*reply) ? 0 : n < 0 ? (int)n : -EIO;
}

/* Receive one request; *fd_out gets an attached fd or -1. Returns bytes, 0 on EOF. */
static ssize_t recv_request(int sock, struct sim_req *req, int *fd_out)
{
    return msg_recv_fd(sock, req, sizeof(*req), fd_out, 0);
}

void hv_inject_failure(struct hv *hv, enum sim_op op, uint32_t skip, uint32_t count, int err)
{
    pthread_mutex_lock(&hv->lock);
    hv->inject[op] = (struct hv_inject){.skip = skip, .count = count, .err = err};
    pthread_mutex_unlock(&hv->lock);
}

/* The harness's own child, or itself: see hv_conn.device_model. */
static bool started_by_us(pid_t pid)
{
    char path[64], buf[512], *p;
    FILE *f;
    int ppid = 0;

    if (pid == getpid())
        return true;
    snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return false;
    /* "pid (comm) state ppid ...": comm may hold spaces and parentheses. */
    if (fgets(buf, sizeof(buf), f) && (p = strrchr(buf, ')')))
        sscanf(p + 1, " %*c %d", &ppid);
    fclose(f);
    return ppid == getpid();
}

void hv_arm_kill(struct hv *hv, enum sim_op op, uint32_t nth, bool after)
{
    pthread_mutex_lock(&hv->lock);
    if (op == SIM_OP_NOTIFY) {
        atomic_store(&hv->evt->kill_before_notify, nth);
        hv->kill.op = 0;
    } else {
        hv->kill.op = op;
        hv->kill.countdown = nth;
        hv->kill.after = after;
    }
    pthread_mutex_unlock(&hv->lock);
}

/* Does this call of a device model's hit the armed kill point? *after: when. */
static bool kill_point_hit(struct hv *hv, const struct hv_conn *c, uint32_t op, bool *after)
{
    bool hit = false;

    pthread_mutex_lock(&hv->lock);
    if (hv->kill.op == op && c->device_model && --hv->kill.countdown == 0) {
        hit = true;
        *after = hv->kill.after;
        hv->kill.op = 0;
    }
    pthread_mutex_unlock(&hv->lock);
    return hit;
}

static int injected_failure(struct hv *hv, const struct hv_conn *c, uint32_t op)
{
    struct hv_inject *in;
    int rc = 0;

    if (op >= ARRAY_SIZE(hv->inject))
        return 0;
    pthread_mutex_lock(&hv->lock);
    in = &hv->inject[op];
    hv->op_calls[op]++;
    if (!c->device_model)
        ;
    else if (in->skip)
        in->skip--;
    else if (in->count) {
        in->count--;
        rc = -in->err;
    }
    pthread_mutex_unlock(&hv->lock);
    return rc;
}

/* The domain the call names, as seen through this handle. */
static int check_domain(struct hv *hv, struct hv_conn *c, uint32_t domid)
{
    if (c->restrict_domid >= 0 && (uint32_t)c->restrict_domid != domid)
        return -EPERM;
    if (domid != hv->cfg.domid || hv->state == DOM_DEAD)
        return -ESRCH;
    return 0;
}

/* hv->lock held. frames: the guest frames the mapping holds (NULL for a resource). */
static void mapping_add(struct hv_conn *c, uint64_t cookie, uint64_t pages, bool resource,
                        const uint32_t *frames, uint64_t nr_frames)
{
    struct hv_mapping *m;

    for (m = c->mappings; m; m = m->next)
        if (m->cookie == cookie && m->resource == resource)
            break;
    if (!m) {
        m = calloc(1, sizeof(*m));
        if (!m)
            abort(); /* the simulator's own memory: not a case it models */
        *m = (struct hv_mapping){.cookie = cookie, .resource = resource, .next = c->mappings};
        c->mappings = m;
    }
    m->pages += pages;
    if (nr_frames) {
        uint32_t *f = realloc(m->frames, (m->nr_frames + nr_frames) * sizeof(*f));
        if (!f)
            abort();
        memcpy(f + m->nr_frames, frames, nr_frames * sizeof(*f));
        m->frames = f;
        m->nr_frames += nr_frames;
    }
}

/* hv->lock held: drop the mapping's frame references, then the mapping. */
static void mapping_free(struct hv *hv, struct hv_mapping *m)
{
    for (uint64_t i = 0; i < m->nr_frames; i++)
        hv_frame_put_locked(hv, m->frames[i]);
    free(m->frames);
    free(m);
}

static int mapping_remove(struct hv *hv, struct hv_conn *c, uint64_t cookie, bool resource)
{
    for (struct hv_mapping **p = &c->mappings; *p; p = &(*p)->next) {
        if ((*p)->cookie == cookie && (*p)->resource == resource) {
            struct hv_mapping *m = *p;
            *p = m->next;
            mapping_free(hv, m);
            return 0;
        }
    }
    return -EINVAL;
}

/* A dying domain is freed once nobody maps its memory any more. */
static void domain_reap_locked(struct hv *hv)
{
    if (hv->state == DOM_DYING && hv_foreign_pages_held(hv) == 0)
        hv->state = DOM_DEAD;
}

static int map_gfns(struct hv *hv, struct hv_conn *c, const struct sim_req *req,
                    struct sim_reply *reply)
{
    uint32_t n = req->u.gfns.count;
    uint32_t ok = 0;

    if (n == 0 || n > SIM_MAP_GFNS_MAX)
        return -EINVAL;
    pthread_mutex_lock(&hv->lock);
    if (hv->state != DOM_ALIVE) {
        pthread_mutex_unlock(&hv->lock);
        return -ESRCH;
    }
    uint32_t held[SIM_MAP_GFNS_MAX];

    reply->u.gfns.count = n;
    for (uint32_t i = 0; i < n; i++) {
        uint64_t gfn = req->u.gfns.gfns[i];
        int64_t frame = hv_gfn_to_frame(hv, gfn);

        /*
         * The legacy scheme's ioreq pages are guest frames too, while the
         * server is disabled: enabling takes them out of the p2m.
         */
        for (unsigned int id = 0; frame < 0 && id < HV_MAX_SERVERS; id++) {
            struct hv_server *s = &hv->server[id];

            if (!s->used || !s->gfn_scheme || s->enabled)
                continue;
            if (gfn == s->ioreq_gfn)
                frame = (int64_t)s->ioreq_frame;
            else if (s->bufioreq_handling != HVM_IOREQSRV_BUFIOREQ_OFF && gfn == s->bufioreq_gfn)
                frame = (int64_t)s->bufioreq_frame;
        }
        /* Lent or MMIO frames are never foreign-mappable. */
        reply->u.gfns.err[i] = frame < 0 ? -EINVAL : 0;
        reply->u.gfns.frames[i] = frame < 0 ? 0 : (uint64_t)frame;
        if (frame >= 0) {
            hv_frame_get_locked(hv, (uint64_t)frame);
            held[ok++] = (uint32_t)frame;
        }
    }
    mapping_add(c, req->u.gfns.cookie, n, false, held, ok);
    pthread_mutex_unlock(&hv->lock);
    return 0;
}

static int map_resource(struct hv *hv, struct hv_conn *c, const struct sim_req *req,
                        struct sim_reply *reply)
{
    uint64_t first = 0;
    int rc;

    /* acquire_resource(): frame and frame + nr_frames must fit in 32 bits. */
    if (req->u.resource.nr_frames == 0 || (req->u.resource.frame >> 32) ||
        req->u.resource.nr_frames >> 32 ||
        ((req->u.resource.frame + req->u.resource.nr_frames) >> 32))
        return -EINVAL;
    if (req->u.resource.type != XENMEM_resource_ioreq_server)
        return -EOPNOTSUPP;
    /* acquire_ioreq_server(): an id that is not an ioservid_t. */
    if (req->u.resource.id > UINT16_MAX)
        return -EINVAL;
    /* Frame by frame, as Xen: the first frame that fails decides the error. */
    for (uint64_t i = 0; i < req->u.resource.nr_frames; i++) {
        uint64_t frame;

        rc = hv_server_get_frame(hv, (uint16_t)req->u.resource.id, req->u.resource.frame + i,
                                 &frame);
        if (rc)
            return rc;
        if (i == 0)
            first = frame;
        else if (frame != first + i)
            return -EINVAL;
    }
    pthread_mutex_lock(&hv->lock);
    mapping_add(c, req->u.resource.cookie, req->u.resource.nr_frames, true, NULL, 0);
    pthread_mutex_unlock(&hv->lock);
    reply->u.mem.frame = first;
    return 0;
}

static int unmap_cookie(struct hv *hv, struct hv_conn *c, uint64_t cookie, bool resource)
{
    int rc;

    pthread_mutex_lock(&hv->lock);
    rc = mapping_remove(hv, c, cookie, resource);
    domain_reap_locked(hv);
    pthread_mutex_unlock(&hv->lock);
    return rc;
}

/* Each call belongs to one kind of handle, as each ioctl to one device node. */
static bool op_allowed(enum sim_handle_kind kind, uint32_t op)
{
    if (op == SIM_OP_RESTRICT)
        return true;
    if (op >= SIM_OP_CREATE_SERVER && op <= SIM_OP_INJECT_EVENT)
        return kind == SIM_HANDLE_DEVICEMODEL;
    if (op >= SIM_OP_MAP_RESOURCE && op <= SIM_OP_UNMAP_GFNS)
        return kind == SIM_HANDLE_FOREIGNMEMORY;
    if (op >= SIM_OP_BIND_INTERDOMAIN && op <= SIM_OP_EVTCHN_SHM)
        return kind == SIM_HANDLE_EVTCHN;
    if (op >= SIM_OP_LEND_REGISTER && op <= SIM_OP_LEND_LAST)
        return kind == SIM_HANDLE_LEND;
    if (op >= SIM_OP_XS_FIRST && op <= SIM_OP_XS_LAST)
        return kind == SIM_HANDLE_XENSTORE;
    return false;
}

/* Serve one call; returns the rc for the reply. *fd_reply: an fd to send along. */
static int dispatch(struct hv *hv, int ci, const struct sim_req *req, int fd_in,
                    struct sim_reply *reply, int *fd_reply)
{
    struct hv_conn *c = &hv->conn[ci];
    int rc;

    if (!op_allowed(c->kind, req->op))
        return -ENOTTY;
    if (req->op >= SIM_OP_XS_FIRST && req->op <= SIM_OP_XS_LAST)
        /* A restricted libxenstore handle is dead (xentoolcore dup2s /dev/null over it). */
        return c->restrict_domid >= 0 ? -EBADF : hv_xs_dispatch(hv, req, reply);
    rc = injected_failure(hv, c, req->op);
    if (rc)
        return rc;
    switch (req->op) {
    case SIM_OP_RESTRICT:
        /* privcmd: once restricted, a handle cannot be moved to another domain. */
        if (c->restrict_domid >= 0 && (uint32_t)c->restrict_domid != req->domid)
            return -EINVAL;
        c->restrict_domid = (int)req->domid;
        return 0;
    case SIM_OP_NR_VCPUS:
        rc = check_domain(hv, c, req->domid);
        if (rc == 0)
            reply->u.vcpus.nr = hv->cfg.vcpus;
        return rc;
    case SIM_OP_CREATE_SERVER: {
        uint16_t id;

        rc = check_domain(hv, c, req->domid);
        if (rc)
            return rc;
        if (hv->state != DOM_ALIVE)
            return -ESRCH;
        rc = hv_server_create(hv, req->u.create.handle_bufioreq, c->pid, &id);
        if (rc == 0)
            reply->u.create.id = id;
        return rc;
    }
    case SIM_OP_GET_SERVER_INFO: {
        uint64_t ig = 0, bg = 0;
        uint32_t bp = 0;

        rc = check_domain(hv, c, req->domid);
        if (rc == 0)
            rc = hv_server_get_info(hv, req->u.info.id, req->u.info.want_gfns, &ig, &bg, &bp);
        reply->u.info.ioreq_gfn = ig;
        reply->u.info.bufioreq_gfn = bg;
        reply->u.info.bufioreq_port = bp;
        return rc;
    }
    case SIM_OP_MAP_IO_RANGE:
    case SIM_OP_UNMAP_IO_RANGE:
        rc = check_domain(hv, c, req->domid);
        if (rc)
            return rc;
        /* The library only ever sends port or memory ranges through this call. */
        if (req->u.range.type > XEN_DMOP_IO_RANGE_MEMORY)
            return -EINVAL;
        return (req->op == SIM_OP_MAP_IO_RANGE ? hv_server_map_range : hv_server_unmap_range)(
            hv, req->u.range.id, req->u.range.type, req->u.range.start, req->u.range.end);
    case SIM_OP_MAP_PCIDEV:
    case SIM_OP_UNMAP_PCIDEV:
        rc = check_domain(hv, c, req->domid);
        if (rc)
            return rc;
        return (req->op == SIM_OP_MAP_PCIDEV ? hv_server_map_range : hv_server_unmap_range)(
            hv, req->u.pcidev.id, XEN_DMOP_IO_RANGE_PCI, req->u.pcidev.sbdf, req->u.pcidev.sbdf);
    case SIM_OP_SET_SERVER_STATE:
        rc = check_domain(hv, c, req->domid);
        return rc ? rc : hv_server_set_state(hv, req->u.state.id, req->u.state.enabled);
    case SIM_OP_DESTROY_SERVER:
        rc = check_domain(hv, c, req->domid);
        return rc ? rc : hv_server_destroy(hv, req->u.server.id);
    case SIM_OP_INJECT_EVENT:
        rc = check_domain(hv, c, req->domid);
        if (rc == 0 && req->u.inject.vcpu >= hv->cfg.vcpus)
            rc = -EINVAL;
        if (rc == 0)
            atomic_fetch_add(&hv->stats.faults_injected, 1);
        return rc;
    case SIM_OP_MAP_RESOURCE:
        rc = check_domain(hv, c, req->domid);
        return rc ? rc : map_resource(hv, c, req, reply);
    case SIM_OP_UNMAP_RESOURCE:
        return unmap_cookie(hv, c, req->u.unmap.cookie, true);
    case SIM_OP_MAP_GFNS:
        rc = check_domain(hv, c, req->domid);
        return rc ? rc : map_gfns(hv, c, req, reply);
    case SIM_OP_UNMAP_GFNS:
        return unmap_cookie(hv, c, req->u.unmap.cookie, false);
    case SIM_OP_BIND_INTERDOMAIN: {
        uint32_t lp;

        /* Linux's evtchn driver: a restricted handle binds only to its domain. */
        if (c->restrict_domid >= 0 && (uint32_t)c->restrict_domid != req->domid)
            return -EACCES;
        if (req->domid != hv->cfg.domid || hv->state == DOM_DEAD)
            return -ESRCH;
        rc = hv_evtchn_bind(hv, ci, req->u.bind.remote_port, &lp);
        if (rc == 0)
            reply->u.bind.local_port = lp;
        return rc;
    }
    case SIM_OP_UNBIND:
        return hv_evtchn_unbind(hv, ci, req->u.port.port);
    case SIM_OP_UNMASK:
        return hv_evtchn_unmask(hv, ci, req->u.port.port);
    case SIM_OP_NOTIFY:
        return hv_evtchn_notify_from_dom0(hv, ci, req->u.port.port);
    case SIM_OP_EVTCHN_SHM:
        reply->u.shm.conn = (uint32_t)ci;
        reply->u.shm.pages = (uint32_t)((sizeof(*hv->evt) + HV_PAGE_SIZE - 1) / HV_PAGE_SIZE);
        *fd_reply = hv->evt_fd;
        return 0;
    default:
        return lend_dispatch(hv, ci, req, fd_in, reply, fd_reply);
    }
}

static void conn_close(struct hv *hv, int ci)
{
    struct hv_conn *c = &hv->conn[ci];
    struct hv_leaks released = {.pid = c->pid};

    if (!c->used)
        return;
    hv_evtchn_close_conn(hv, ci, &released.ports);
    lend_close_conn(hv, ci, &released.lent_pages);
    pthread_mutex_lock(&hv->lock);
    while (c->mappings) {
        struct hv_mapping *m = c->mappings;
        c->mappings = m->next;
        released.mappings += m->pages;
        mapping_free(hv, m);
    }
    /* Remember what only the handle's closing released, per process. */
    if (released.ports || released.mappings || released.lent_pages) {
        unsigned int i;
        for (i = 0; i < hv->nr_leak && hv->leak[i].pid != c->pid; i++)
            ;
        if (i < ARRAY_SIZE(hv->leak)) {
            if (i == hv->nr_leak)
                hv->leak[hv->nr_leak++] = (struct hv_leaks){.pid = c->pid};
            hv->leak[i].ports += released.ports;
            hv->leak[i].mappings += released.mappings;
            hv->leak[i].lent_pages += released.lent_pages;
        }
    }
    close(c->sock);
    if (c->event_wfd >= 0)
        close(c->event_wfd);
    *c = (struct hv_conn){.sock = -1, .event_wfd = -1};
    domain_reap_locked(hv);
    pthread_cond_broadcast(&hv->conn_closed);
    pthread_mutex_unlock(&hv->lock);
}

unsigned int hv_unrestricted_handles(struct hv *hv, pid_t pid)
{
    unsigned int n = 0;

    pthread_mutex_lock(&hv->lock);
    for (int i = 0; i < HV_MAX_CONNS; i++)
        n += hv->conn[i].used && hv->conn[i].pid == pid && hv->conn[i].restrict_domid < 0;
    pthread_mutex_unlock(&hv->lock);
    return n;
}

/* The CLOCK_REALTIME instant ms from now, for pthread_cond_timedwait. */
void hv_deadline_in(struct timespec *deadline, unsigned int ms)
{
    clock_gettime(CLOCK_REALTIME, deadline);
    deadline->tv_sec += ms / 1000;
    deadline->tv_nsec += (long)(ms % 1000) * 1000000L;
    if (deadline->tv_nsec >= 1000000000L) {
        deadline->tv_sec++;
        deadline->tv_nsec -= 1000000000L;
    }
}

int hv_wait_handles_released(struct hv *hv, pid_t pid, unsigned int timeout_ms)
{
    struct timespec deadline;
    int rc = 0;

    hv_deadline_in(&deadline, timeout_ms);
    pthread_mutex_lock(&hv->lock);
    for (;;) {
        bool open = false;
        for (int i = 0; i < HV_MAX_CONNS; i++)
            open |= hv->conn[i].used && hv->conn[i].pid == pid;
        if (!open || rc == ETIMEDOUT)
            break;
        rc = pthread_cond_timedwait(&hv->conn_closed, &hv->lock, &deadline);
    }
    pthread_mutex_unlock(&hv->lock);
    return rc == ETIMEDOUT ? -ETIMEDOUT : 0;
}

/*
 * A Xen handle of another process than the daemon: its memfd keeper's. The
 * xenstore record keeper's libxenstore handle is not counted: it is no Xen
 * handle, and the record's own absence is what tests check (`xenstore`).
 */
static bool other_xen_handle(const struct hv_conn *c)
{
    return c->used && c->kind && c->kind != SIM_HANDLE_XENSTORE && !c->device_model;
}

unsigned int hv_other_handles(struct hv *hv)
{
    unsigned int n = 0;

    pthread_mutex_lock(&hv->lock);
    for (int i = 0; i < HV_MAX_CONNS; i++)
        n += other_xen_handle(&hv->conn[i]);
    pthread_mutex_unlock(&hv->lock);
    return n;
}

int hv_wait_other_handles_released(struct hv *hv, unsigned int timeout_ms)
{
    struct timespec deadline;
    int rc = 0;

    hv_deadline_in(&deadline, timeout_ms);
    pthread_mutex_lock(&hv->lock);
    for (;;) {
        bool open = false;
        for (int i = 0; i < HV_MAX_CONNS; i++)
            open |= other_xen_handle(&hv->conn[i]);
        if (!open || rc == ETIMEDOUT)
            break;
        rc = pthread_cond_timedwait(&hv->conn_closed, &hv->lock, &deadline);
    }
    pthread_mutex_unlock(&hv->lock);
    return rc == ETIMEDOUT ? -ETIMEDOUT : 0;
}

struct hv_leaks hv_leaks_of(struct hv *hv, pid_t pid)
{
    struct hv_leaks l = {.pid = pid};

    pthread_mutex_lock(&hv->lock);
    for (unsigned int i = 0; i < hv->nr_leak; i++)
        if (hv->leak[i].pid == pid)
            l = hv->leak[i];
    for (unsigned int id = 0; id < HV_MAX_SERVERS; id++)
        if (hv->server[id].used && hv->server[id].creator_pid == pid)
            l.servers++;
    pthread_mutex_unlock(&hv->lock);
    return l;
}

static int hello(struct hv *hv, int ci, const struct sim_req *req, struct sim_reply *reply,
                 int *fd_reply)
{
    struct hv_conn *c = &hv->conn[ci];
    int p[2];

    c->kind = req->u.hello.kind;
    c->pid = req->u.hello.pid;
    c->device_model = started_by_us(c->pid);
    switch (c->kind) {
    case SIM_HANDLE_DEVICEMODEL:
    case SIM_HANDLE_XENSTORE:
        return 0;
    case SIM_HANDLE_FOREIGNMEMORY:
        reply->u.mem.pool_pages = hv->pool_pages;
        *fd_reply = hv->pool_fd;
        return 0;
    case SIM_HANDLE_EVTCHN:
    case SIM_HANDLE_LEND:
        /* Events travel through a pipe: pollable, and ordered like a ring. */
        if (pipe2(p, O_CLOEXEC) < 0)
            return -errno;
        fcntl(p[1], F_SETFL, O_NONBLOCK);
        c->event_wfd = p[1];
        *fd_reply = p[0];
        return 0;
    }
    return -EINVAL;
}

static void serve_conn(struct hv *hv, int ci)
{
    struct hv_conn *c = &hv->conn[ci];
    struct sim_req req;
    struct sim_reply reply;
    int fd_in, fd_reply = -1, rc;
    bool close_reply_fd = false;
    ssize_t n = recv_request(c->sock, &req, &fd_in);

    if (n <= 0) {
        conn_close(hv, ci);
        return;
    }
    memset(&reply, 0, sizeof(reply));
    if (n != (ssize_t)sizeof(req)) {
        rc = -EINVAL;
    } else if (req.op == SIM_OP_HELLO) {
        rc = hello(hv, ci, &req, &reply, &fd_reply);
        close_reply_fd = c->kind == SIM_HANDLE_EVTCHN || c->kind == SIM_HANDLE_LEND;
    } else {
        bool after = false, kill_it = kill_point_hit(hv, c, req.op, &after);

        rc = kill_it && !after ? 0 : dispatch(hv, ci, &req, fd_in, &reply, &fd_reply);
        if (kill_it) {
            /* It dies inside the call, never seeing a reply; its handles close with it. */
            kill(c->pid, SIGKILL);
            if (fd_in >= 0)
                close(fd_in);
            if (fd_reply >= 0 && close_reply_fd)
                close(fd_reply);
            return;
        }
    }
    if (fd_in >= 0)
        close(fd_in);
    /* Unmask and notify are one-way; a failure is the device model's bug. */
    if (req.op == SIM_OP_UNMASK || req.op == SIM_OP_NOTIFY) {
        if (rc)
            hv_fail(hv, "device model %s port %u not bound by that handle (errno %d)",
                    req.op == SIM_OP_UNMASK ? "unmasked" : "notified", req.u.port.port, -rc);
        return;
    }
    reply.rc = rc;
    if (send_reply(c->sock, &reply, rc == 0 ? fd_reply : -1) < 0)
        conn_close(hv, ci);
    if (close_reply_fd && fd_reply >= 0)
        close(fd_reply);
}

static void accept_conn(struct hv *hv)
{
    int sock = accept4(hv->listen_fd, NULL, NULL, SOCK_CLOEXEC);

    if (sock < 0)
        return;
    pthread_mutex_lock(&hv->lock);
    for (int i = 0; i < HV_MAX_CONNS; i++) {
        if (!hv->conn[i].used) {
            hv->conn[i] = (struct hv_conn){.used = true, .sock = sock, .restrict_domid = -1,
                                           .event_wfd = -1};
            pthread_mutex_unlock(&hv->lock);
            return;
        }
    }
    pthread_mutex_unlock(&hv->lock);
    close(sock); /* as if the device nodes ran out of minors */
}

static void *rpc_thread(void *arg)
{
    struct hv *hv = arg;
    struct pollfd pfd[HV_MAX_CONNS + 2];
    int idx[HV_MAX_CONNS + 2];

    for (;;) {
        unsigned int n = 0;

        pfd[n++] = (struct pollfd){.fd = hv->wake_pipe[0], .events = POLLIN};
        pfd[n++] = (struct pollfd){.fd = hv->listen_fd, .events = POLLIN};
        for (int i = 0; i < HV_MAX_CONNS; i++) {
            if (hv->conn[i].used) {
                idx[n] = i;
                pfd[n++] = (struct pollfd){.fd = hv->conn[i].sock, .events = POLLIN};
            }
        }
        if (poll(pfd, n, -1) < 0)
            continue;
        if (pfd[0].revents)
            break;
        if (pfd[1].revents & POLLIN)
            accept_conn(hv);
        for (unsigned int k = 2; k < n; k++)
            if (pfd[k].revents)
                serve_conn(hv, idx[k]);
    }
    return NULL;
}

int hv_rpc_start(struct hv *hv)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int rc;

    if (strlen(hv->sock_path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, hv->sock_path);
    unlink(hv->sock_path);
    if (pipe2(hv->wake_pipe, O_CLOEXEC) < 0)
        return -errno;
    hv->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (hv->listen_fd < 0)
        return -errno;
    /* Only the harness's user may talk to this hypervisor, as only root opens privcmd. */
    if (bind(hv->listen_fd, (struct sockaddr *)&sa, sizeof(sa)) < 0 ||
        chmod(hv->sock_path, 0600) < 0 || listen(hv->listen_fd, 16) < 0)
        return -errno;
    rc = pthread_create(&hv->rpc_thread, NULL, rpc_thread, hv);
    if (rc)
        return -rc;
    hv->rpc_running = true;
    return 0;
}

void hv_rpc_stop(struct hv *hv)
{
    if (hv->rpc_running) {
        char c = 0;
        if (write(hv->wake_pipe[1], &c, 1) != 1)
            abort();
        pthread_join(hv->rpc_thread, NULL);
        hv->rpc_running = false;
    }
    for (int i = 0; i < HV_MAX_CONNS; i++)
        if (hv->conn[i].used)
            conn_close(hv, i);
    if (hv->listen_fd >= 0) {
        close(hv->listen_fd);
        unlink(hv->sock_path);
    }
    for (int i = 0; i < 2; i++)
        if (hv->wake_pipe[i] >= 0)
            close(hv->wake_pipe[i]);
    hv->listen_fd = hv->wake_pipe[0] = hv->wake_pipe[1] = -1;
}
