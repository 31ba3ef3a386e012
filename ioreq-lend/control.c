/* SPDX-License-Identifier: MIT */
/* Owns the control socket and its clients (control.h): every request checked, then applied. */
#include "control.h"

#include <errno.h>
#include <poll.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

void control_init(struct control *c)
{
    memset(c, 0, sizeof(*c));
    c->listen_fd = -1;
    for (unsigned int i = 0; i < CONTROL_MAX_CLIENTS; i++)
        c->clients[i].fd = -1;
}

/* ---- One request ---- */

static void reply_init(struct ctl_reply *rep, uint16_t op)
{
    memset(rep, 0, sizeof(*rep));
    rep->magic = CTL_PROTO_MAGIC;
    rep->version = CTL_PROTO_VERSION;
    rep->op = op;
}

static void __attribute__((format(printf, 3, 4)))
reply_msg(struct ctl_reply *rep, int status, const char *fmt, ...)
{
    va_list ap;

    rep->status = status;
    va_start(ap, fmt);
    vsnprintf(rep->msg, sizeof(rep->msg), fmt, ap);
    va_end(ap);
}

/* A refusal from a function that wrote its reason into why: status and message. */
static void reply_err(struct ctl_reply *rep, int rc, const char *why)
{
    rep->status = -rc;
    snprintf(rep->msg, sizeof(rep->msg), "%s", why);
}

static void fill_stats(const struct regions *rs, const struct counters *cnt, struct ctl_stats *s)
{
    s->regions = rs->n;
    s->mapped_bytes = rs->mapped_bytes;
    s->max_regions = rs->max;
    s->bar_size = rs->bar_size;
    s->maps = cnt->ctl_maps;
    s->unmaps = cnt->ctl_unmaps;
    s->requests_refused = cnt->ctl_refused;
    s->clients = cnt->ctl_clients;
    s->clients_refused = cnt->ctl_clients_refused;
    s->hole_reads = cnt->ctl_hole_reads;
    s->hole_writes = cnt->ctl_hole_writes;
    s->ro_writes = cnt->ctl_ro_writes;
    s->bus_errors = cnt->ctl_bus_errors;
}

/* Checks every op shares; the op-specific fields are checked by the op. */
static bool header_ok(const void *msg, size_t len, struct ctl_request *req, struct ctl_reply *rep)
{
    if (len < 8) {
        reply_msg(rep, EBADMSG, "a request is %zu bytes, got %zu", sizeof(*req), len);
        return false;
    }
    memcpy(req, msg, MIN(len, sizeof(*req)));
    rep->op = req->op;
    if (req->magic != CTL_PROTO_MAGIC) {
        reply_msg(rep, EBADMSG, "not an ioreq-lend control request (magic 0x%08x)", req->magic);
        return false;
    }
    if (req->version != CTL_PROTO_VERSION || len != sizeof(*req)) {
        reply_msg(rep, EPROTO,
                  "protocol version %u (%zu bytes) requested; this daemon speaks %u "
                  "(%zu bytes)",
                  req->version, len, CTL_PROTO_VERSION, sizeof(*req));
        return false;
    }
    if (req->reserved) {
        reply_msg(rep, EINVAL, "reserved field not zero");
        return false;
    }
    return true;
}

static void do_map(struct regions *rs, const struct ctl_request *req, int *fd,
                   struct ctl_reply *rep)
{
    char why[CTL_MSG_LEN], a[32];
    int rc;

    if (req->flags & ~CTL_MAP_FLAGS || req->index) {
        reply_msg(rep, EINVAL, "map: unknown flags 0x%x or a list index", req->flags);
        return;
    }
    rc = regions_map(rs, *fd, req->bar_offset, req->fd_offset, req->length,
                     req->flags & CTL_MAP_READONLY, why, sizeof(why));
    if (rc) {
        reply_err(rep, rc, why);
        return;
    }
    *fd = -1; /* the region's now */
    reply_msg(rep, 0, "mapped %s%s at 0x%llx", format_size(req->length, a, sizeof(a)),
              req->flags & CTL_MAP_READONLY ? " read-only" : "",
              (unsigned long long)req->bar_offset);
}

static void do_unmap(struct regions *rs, const struct ctl_request *req, struct ctl_reply *rep)
{
    char why[CTL_MSG_LEN];
    unsigned int n;
    int rc;

    if (req->flags || req->index || req->fd_offset) {
        reply_msg(rep, EINVAL, "unmap: flags, index and fd offset must be 0");
        return;
    }
    rc = regions_unmap(rs, req->bar_offset, req->length, &n, why, sizeof(why));
    if (rc) {
        reply_err(rep, rc, why);
        return;
    }
    rep->count = n;
    reply_msg(rep, 0, "unmapped %u region%s", n, n == 1 ? "" : "s");
}

static void do_list(struct regions *rs, const struct ctl_request *req, struct ctl_reply *rep)
{
    if (req->flags || req->bar_offset || req->fd_offset || req->length) {
        reply_msg(rep, EINVAL, "list: only the index may be set");
        return;
    }
    rep->total = rs->n;
    for (unsigned int i = req->index; i < rs->n && rep->count < CTL_LIST_MAX; i++)
        regions_describe(rs, i, &rep->u.regions[rep->count++]);
    reply_msg(rep, 0, "%u of %u regions", rep->count, rs->n);
}

void control_handle(struct regions *rs, struct counters *cnt, const void *msg, size_t len, int fd,
                    struct ctl_reply *rep)
{
    struct ctl_request req;

    reply_init(rep, 0);
    memset(&req, 0, sizeof(req));
    if (header_ok(msg, len, &req, rep)) {
        if (fd >= 0 && req.op != CTL_OP_MAP) {
            reply_msg(rep, EINVAL, "only a map request carries an fd");
        } else {
            switch (req.op) {
            case CTL_OP_MAP:
                do_map(rs, &req, &fd, rep);
                break;
            case CTL_OP_UNMAP:
                do_unmap(rs, &req, rep);
                break;
            case CTL_OP_LIST:
                do_list(rs, &req, rep);
                break;
            case CTL_OP_STATS:
                if (req.flags || req.index || req.bar_offset || req.fd_offset || req.length) {
                    reply_msg(rep, EINVAL, "stats: every field must be 0");
                    break;
                }
                fill_stats(rs, cnt, &rep->u.stats);
                reply_msg(rep, 0, "stats");
                break;
            default:
                reply_msg(rep, EOPNOTSUPP, "unknown request %u", req.op);
                break;
            }
        }
    }
    if (fd >= 0)
        close(fd);
    if (rep->status)
        cnt->ctl_refused++;
}

/* ---- The socket ---- */

static void client_drop(struct control_client *cl)
{
    if (cl->fd < 0)
        return;
    if (cl->c->loop)
        ev_io_stop(cl->c->loop, &cl->watch);
    close(cl->fd);
    cl->fd = -1;
    cl->c->cnt->ctl_clients--;
}

static void on_client(struct ev_loop *loop, ev_io *w, int revents)
{
    struct control_client *cl = w->data;
    struct control *c = cl->c;
    /* One byte more than a request: a longer message shows as longer. */
    unsigned char buf[sizeof(struct ctl_request) + 1];
    struct ctl_reply rep;
    ssize_t n;
    int fd;

    (void)loop;
    (void)revents;
    n = msg_recv_fd(cl->fd, buf, sizeof(buf), &fd, MSG_DONTWAIT);
    if (n == -EAGAIN)
        return;
    if (n <= 0) {
        /* EOF or an error: the peer is gone. Its regions stay: they are the daemon's. */
        if (fd >= 0)
            close(fd);
        client_drop(cl);
        return;
    }
    control_handle(c->rs, c->cnt, buf, (size_t)n, fd, &rep);
    if (rep.status)
        log_guest(LOG_LVL_INFO, "control: refused: %s", rep.msg);
    else if (rep.op == CTL_OP_MAP || rep.op == CTL_OP_UNMAP)
        log_guest(LOG_LVL_INFO, "control: %s", rep.msg);
    /* The socket is non-blocking: a client that does not read its replies is dropped. */
    if (send(cl->fd, &rep, sizeof(rep), MSG_DONTWAIT | MSG_NOSIGNAL) != (ssize_t)sizeof(rep))
        client_drop(cl);
}

static bool client_add(struct control *c, struct ev_loop *loop, int s)
{
    for (unsigned int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
        struct control_client *cl = &c->clients[i];

        if (cl->fd >= 0)
            continue;
        cl->fd = s;
        cl->c = c;
        ev_io_init(&cl->watch, on_client, s, EV_READ);
        cl->watch.data = cl;
        ev_io_start(loop, &cl->watch);
        c->cnt->ctl_clients++;
        return true;
    }
    return false;
}

/*
 * Drop the clients that hung up but whose EOF the loop has not reached yet,
 * serving what they sent first (bounded: their socket buffer, and no more
 * can come). Returns how many went.
 */
static unsigned int reap_hung_up(struct control *c)
{
    struct pollfd pfd[CONTROL_MAX_CLIENTS];
    unsigned int n = 0;

    for (unsigned int i = 0; i < CONTROL_MAX_CLIENTS; i++)
        pfd[i] = (struct pollfd){.fd = c->clients[i].fd, .events = POLLRDHUP};
    if (poll(pfd, CONTROL_MAX_CLIENTS, 0) <= 0)
        return 0;
    for (unsigned int i = 0; i < CONTROL_MAX_CLIENTS; i++) {
        struct control_client *cl = &c->clients[i];

        if (cl->fd < 0 || !(pfd[i].revents & (POLLHUP | POLLRDHUP | POLLERR)))
            continue;
        for (unsigned int k = 0; k < 64 && cl->fd >= 0; k++)
            on_client(c->loop, &cl->watch, EV_READ);
        client_drop(cl);
        n++;
    }
    return n;
}

static void on_accept(struct ev_loop *loop, ev_io *w, int revents)
{
    struct control *c = w->data;
    int s = accept4(c->listen_fd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);

    (void)revents;
    if (s < 0)
        return;
    if (client_add(c, loop, s) || (reap_hung_up(c) && client_add(c, loop, s)))
        return;
    /* Full of live clients: this one learns it from the closed socket. */
    c->cnt->ctl_clients_refused++;
    log_guest(LOG_LVL_WARN, "control: %u clients already: connection refused", CONTROL_MAX_CLIENTS);
    close(s);
}

int control_listen(struct control *c, const char *path, const char *runas, struct regions *rs,
                   struct counters *cnt, char *err, size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct passwd *pw = NULL;
    int rc;

    control_init(c);
    if (strlen(path) >= sizeof(c->path))
        return err_fmt(err, errlen, -ENAMETOOLONG,
                       "--control: '%s' is longer than a socket path may be (%zu bytes)", path,
                       sizeof(c->path) - 1);
    if (runas && !(pw = getpwnam(runas)))
        return err_fmt(err, errlen, -ENOENT, "--runas: no user '%s'", runas);
    c->listen_fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (c->listen_fd < 0)
        return err_fmt(err, errlen, -errno, "control socket: %s", strerror(errno));
    memcpy(sa.sun_path, path, strlen(path) + 1);
    /* We hold the slot's lock: a socket there is a dead predecessor's. */
    unlink(path);
    /* Created 0600 from the start (umask), so nobody connects before the chmod. */
    mode_t old = umask(0177);
    rc = bind(c->listen_fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (rc < 0) {
        rc = -errno;
        close(c->listen_fd);
        c->listen_fd = -1;
        return err_fmt(err, errlen, rc, "--control: cannot bind %s: %s", path, strerror(-rc));
    }
    memcpy(c->path, path, strlen(path) + 1);
    if (chmod(path, 0600) < 0 || (pw && chown(path, pw->pw_uid, pw->pw_gid) < 0) ||
        listen(c->listen_fd, CONTROL_MAX_CLIENTS) < 0) {
        rc = -errno;
        control_close(c);
        return err_fmt(err, errlen, rc, "--control: cannot set up %s: %s", path, strerror(-rc));
    }
    c->rs = rs;
    c->cnt = cnt;
    return 0;
}

void control_start(struct control *c, struct ev_loop *loop)
{
    if (c->listen_fd < 0)
        return;
    c->loop = loop;
    ev_io_init(&c->accept_watch, on_accept, c->listen_fd, EV_READ);
    c->accept_watch.data = c;
    ev_io_start(loop, &c->accept_watch);
}

void control_stop(struct control *c)
{
    if (!c->loop)
        return;
    for (unsigned int i = 0; i < CONTROL_MAX_CLIENTS; i++)
        if (c->clients[i].fd >= 0)
            ev_io_stop(c->loop, &c->clients[i].watch);
    if (c->listen_fd >= 0)
        ev_io_stop(c->loop, &c->accept_watch);
    c->loop = NULL;
}

void control_close(struct control *c)
{
    control_stop(c);
    for (unsigned int i = 0; i < CONTROL_MAX_CLIENTS; i++)
        if (c->clients[i].fd >= 0)
            client_drop(&c->clients[i]);
    if (c->listen_fd >= 0) {
        close(c->listen_fd);
        unlink(c->path);
    }
    c->listen_fd = -1;
    c->loop = NULL;
}
