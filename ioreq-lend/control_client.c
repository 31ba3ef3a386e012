/* SPDX-License-Identifier: MIT */
/* The control socket's client side (control_client.h). */
#include "control_client.h"

#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "util.h"

int ctl_default_path(char *buf, size_t len, const char *state_dir, unsigned int domid,
                     unsigned int seg, unsigned int bus, unsigned int dev, unsigned int fn)
{
    int n =
        snprintf(buf, len, "%s/dom%u-%04x:%02x:%02x.%x.ctl", state_dir, domid, seg, bus, dev, fn);

    return n < 0 || (size_t)n >= len || (size_t)n >= sizeof(((struct sockaddr_un *)0)->sun_path)
               ? -ENAMETOOLONG
               : 0;
}

int ctl_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int s, rc;

    if (strlen(path) >= sizeof(sa.sun_path))
        return -ENAMETOOLONG;
    s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (s < 0)
        return -errno;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        rc = -errno;
        close(s);
        return rc;
    }
    return s;
}

void ctl_request_init(struct ctl_request *req, enum ctl_op op)
{
    memset(req, 0, sizeof(*req));
    req->magic = CTL_PROTO_MAGIC;
    req->version = CTL_PROTO_VERSION;
    req->op = (uint16_t)op;
}

int ctl_call(int sock, const struct ctl_request *req, int fd, struct ctl_reply *rep)
{
    struct pollfd pfd = {.fd = sock, .events = POLLIN};
    ssize_t n;
    int got, rc;

    n = msg_send_fd(sock, req, sizeof(*req), fd);
    if (n < 0)
        return (int)n;
    if (n != (ssize_t)sizeof(*req))
        return -EIO;
    do {
        rc = poll(&pfd, 1, CTL_REPLY_TIMEOUT_MS);
    } while (rc < 0 && errno == EINTR);
    if (rc == 0)
        return -ETIMEDOUT;
    n = msg_recv_fd(sock, rep, sizeof(*rep), &got, 0);
    if (got >= 0)
        close(got);
    if (n == 0)
        return -EPIPE;
    if (n < 0)
        return (int)n;
    if (n != (ssize_t)sizeof(*rep) || rep->magic != CTL_PROTO_MAGIC)
        return -EPROTO;
    rep->msg[sizeof(rep->msg) - 1] = '\0';
    return 0;
}
