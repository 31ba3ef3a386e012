/* SPDX-License-Identifier: MIT */
#include "conn.h"

#include "util.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sim_conn *registry;

int sim_errno_return(int rc)
{
    if (rc >= 0)
        return rc;
    errno = -rc;
    return -1;
}

static int send_msg(int sock, const void *buf, size_t len, int fd)
{
    /* The simulator gone reads as the domain gone. */
    return msg_send_fd(sock, buf, len, fd) == (ssize_t)len ? 0 : -ESRCH;
}

static int recv_msg(int sock, void *buf, size_t len, int *fd_out)
{
    int fd;
    ssize_t n = msg_recv_fd(sock, buf, len, &fd, 0);

    if (fd_out)
        *fd_out = fd;
    else if (fd >= 0)
        close(fd);
    return n > 0 ? 0 : -ESRCH;
}

int sim_conn_call(struct sim_conn *c, const struct sim_req *req, struct sim_reply *reply,
                  int fd_in, int *fd_out)
{
    int rc;

    pthread_mutex_lock(&c->lock);
    rc = send_msg(c->sock, req, sizeof(*req), fd_in);
    if (rc == 0) {
        memset(reply, 0, sizeof(*reply));
        rc = recv_msg(c->sock, reply, sizeof(*reply), fd_out);
    }
    pthread_mutex_unlock(&c->lock);
    return rc ? rc : reply->rc;
}

int sim_conn_send(struct sim_conn *c, const struct sim_req *req)
{
    int rc;

    pthread_mutex_lock(&c->lock);
    rc = send_msg(c->sock, req, sizeof(*req), -1);
    pthread_mutex_unlock(&c->lock);
    return rc;
}

int sim_conn_open(struct sim_conn *c, enum sim_handle_kind kind, struct sim_reply *reply,
                  int *fd_out)
{
    const char *path = getenv(XENSIM_SOCKET_ENV);
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    struct sim_req req;
    int rc;

    memset(c, 0, sizeof(*c));
    c->sock = -1;
    c->kind = kind;
    if (!path || !*path)
        return -ENOENT;
    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    strcpy(sa.sun_path, path);
    c->sock = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (c->sock < 0)
        return -errno;
    if (connect(c->sock, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        rc = -errno;
        close(c->sock);
        c->sock = -1;
        /* No hypervisor listening: as if the device node were absent. */
        return rc == -ECONNREFUSED ? -ENOENT : rc;
    }
    pthread_mutex_init(&c->lock, NULL);
    memset(&req, 0, sizeof(req));
    req.op = SIM_OP_HELLO;
    req.u.hello.kind = kind;
    req.u.hello.pid = getpid();
    rc = sim_conn_call(c, &req, reply, -1, fd_out);
    if (rc) {
        if (fd_out && *fd_out >= 0)
            close(*fd_out);
        sim_conn_close(c);
        return rc;
    }
    return 0;
}

void sim_conn_close(struct sim_conn *c)
{
    if (c->sock >= 0) {
        close(c->sock);
        pthread_mutex_destroy(&c->lock);
    }
    c->sock = -1;
}

void sim_conn_register(struct sim_conn *c)
{
    pthread_mutex_lock(&registry_lock);
    c->next = registry;
    registry = c;
    pthread_mutex_unlock(&registry_lock);
}

void sim_conn_unregister(struct sim_conn *c)
{
    pthread_mutex_lock(&registry_lock);
    for (struct sim_conn **p = &registry; *p; p = &(*p)->next) {
        if (*p == c) {
            *p = c->next;
            break;
        }
    }
    pthread_mutex_unlock(&registry_lock);
}

int sim_conn_restrict_all(uint32_t domid)
{
    struct sim_req req = {.op = SIM_OP_RESTRICT, .domid = domid};
    struct sim_reply reply;
    int rc = 0;

    pthread_mutex_lock(&registry_lock);
    for (struct sim_conn *c = registry; c && rc == 0; c = c->next)
        rc = sim_conn_call(c, &req, &reply, -1, NULL);
    pthread_mutex_unlock(&registry_lock);
    return rc;
}
