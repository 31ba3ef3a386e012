/* SPDX-License-Identifier: MIT */
/* The memfd keeper (keeper.h): the daemon's side and the keeper process. */
#include "keeper.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <xendevicemodel.h>
#include <xentoolcore.h>

#include "access_ioreq.h"
#include "log.h"
#include "util.h"

enum keeper_op {
    KEEPER_READY = 1,   /* keeper -> its starter: set up (rc 0) or not (-errno) */
    KEEPER_GET = 2,     /* -> the memfd (SCM_RIGHTS) and its size */
    KEEPER_RELEASE = 3, /* free the memory and exit; the answer is the closed socket */
};

struct keeper_msg {
    uint32_t op;
    int32_t rc;
    uint64_t size;
    char why[160]; /* READY with an error: the line the daemon reports */
};

/* Peers at once: the daemon, its successor-to-be, an operator's tool. */
#define KEEPER_CONNS 4

/* How long a daemon waits for a keeper to answer or to exit. */
#define KEEPER_TIMEOUT_MS 5000

static int send_msg(int sock, const struct keeper_msg *m, int fd)
{
    return msg_send_fd(sock, m, sizeof(*m), fd) == (ssize_t)sizeof(*m) ? 0 : -EIO;
}

/* One message within timeout_ms (-1: forever). 0, -ETIMEDOUT, or -EPIPE at EOF. */
static int recv_msg(int sock, struct keeper_msg *m, int *fd, int timeout_ms)
{
    struct pollfd pfd = {.fd = sock, .events = POLLIN};
    int got;
    ssize_t n;

    if (fd)
        *fd = -1;
    if (poll(&pfd, 1, timeout_ms) == 0)
        return -ETIMEDOUT;
    n = msg_recv_fd(sock, m, sizeof(*m), &got, MSG_DONTWAIT);
    if (n == (ssize_t)sizeof(*m) && fd)
        *fd = got;
    else if (got >= 0)
        close(got);
    if (n == (ssize_t)sizeof(*m))
        return 0;
    return n == 0 ? -EPIPE : -EIO;
}

/* ---- The keeper process ---- */

/* Only the keeper's own user, or root, may take the memory. */
static bool peer_allowed(int sock)
{
    struct ucred cred;
    socklen_t len = sizeof(cred);

    return getsockopt(sock, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0 &&
           (cred.uid == 0 || cred.uid == geteuid());
}

static void keeper_serve(int sock, int memfd, uint64_t size, bool *release)
{
    struct keeper_msg m;

    if (recv_msg(sock, &m, NULL, 0) < 0)
        return;
    if (m.op == KEEPER_RELEASE) {
        *release = true;
        return;
    }
    m.rc = m.op == KEEPER_GET ? 0 : -EINVAL;
    m.size = size;
    send_msg(sock, &m, m.rc == 0 ? memfd : -1);
}

static int64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Is the domain still there? Only a definite "gone" counts. */
static bool domain_gone(xendevicemodel_handle *dmod, uint32_t domid)
{
    unsigned int vcpus;

    return xendevicemodel_nr_vcpus(dmod, (domid_t)domid, &vcpus) < 0 &&
           (errno == ESRCH || errno == ENOENT);
}

static void __attribute__((noreturn))
keeper_main(int listen_fd, int conn, int memfd, const char *path, const struct keeper_params *p)
{
    struct keeper_msg ready = {.op = KEEPER_READY};
    int conns[KEEPER_CONNS] = {-1, -1, -1, -1};
    int64_t next_check;
    xendevicemodel_handle *dmod;
    bool release = false;
    sigset_t none;

    prctl(PR_SET_NAME, "ioreq-lend-kpr");
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    /* Its own Xen handle, limited to the domain, then no privilege at all. */
    dmod = xendevicemodel_open(ioreq_xen_logger(), 0);
    if (!dmod)
        ready.rc = ioreq_open_failure(ready.why, sizeof(ready.why),
                                      "the Xen device-model interface");
    else if (xentoolcore_restrict_all((domid_t)p->domid) < 0)
        ready.rc = ioreq_restrict_failure(ready.why, sizeof(ready.why), p->domid);
    else if (p->runas)
        ready.rc = drop_privileges(p->runas, ready.why, sizeof(ready.why));
    send_msg(conn, &ready, -1);
    if (ready.rc) {
        unlink(path);
        _exit(1);
    }
    conns[0] = conn;
    next_check = now_ms() + p->poll_ms;
    while (!release) {
        struct pollfd pfd[1 + KEEPER_CONNS] = {{.fd = listen_fd, .events = POLLIN}};
        int n;

        for (unsigned int i = 0; i < KEEPER_CONNS; i++)
            pfd[1 + i] = (struct pollfd){.fd = conns[i], .events = POLLIN};
        n = poll(pfd, 1 + KEEPER_CONNS, (int)MAX(next_check - now_ms(), 0));
        /* On schedule, however busy the peers keep it. */
        if (now_ms() >= next_check) {
            if (domain_gone(dmod, p->domid)) {
                log_info("memfd keeper: domain %u is gone: releasing its BAR memory", p->domid);
                break;
            }
            next_check = now_ms() + p->poll_ms;
        }
        if (n <= 0) {
            if (n < 0 && errno != EINTR)
                break;
            continue;
        }
        for (unsigned int i = 0; i < KEEPER_CONNS && !release; i++) {
            if (conns[i] >= 0 && (pfd[1 + i].revents & POLLIN)) {
                keeper_serve(conns[i], memfd, p->size, &release);
            } else if (conns[i] >= 0 && pfd[1 + i].revents) {
                close(conns[i]); /* a daemon died, or a peer left */
                conns[i] = -1;
            }
        }
        if (pfd[0].revents & POLLIN) {
            int s = accept4(listen_fd, NULL, NULL, SOCK_CLOEXEC);

            if (s >= 0 && peer_allowed(s)) {
                /* Bounded: a new peer takes the oldest place when all are taken. */
                unsigned int i = 0;

                while (i < KEEPER_CONNS - 1 && conns[i] >= 0)
                    i++;
                if (conns[i] >= 0)
                    close(conns[i]);
                conns[i] = s;
            } else if (s >= 0) {
                close(s);
            }
        }
    }
    /* Gone before the socket closes: a waiting daemon's EOF means "released". */
    unlink(path);
    xendevicemodel_close(dmod);
    _exit(0);
}

/* ---- The daemon's side ---- */

static int keeper_connect(const char *path)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int s = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

    if (s < 0)
        return -errno;
    memcpy(sa.sun_path, path, strlen(path) + 1);
    if (connect(s, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
        int rc = -errno;

        close(s);
        return rc;
    }
    return s;
}

/* Ask the keeper behind conn to release and wait until it has exited (its EOF). */
static void release_conn(int conn, pid_t pid)
{
    struct keeper_msg m = {.op = KEEPER_RELEASE};
    int rc = send_msg(conn, &m, -1);

    /* Nothing is sent back: skip a stray message at most once, then EOF. */
    for (int i = 0; rc == 0 && i < 2; i++)
        rc = recv_msg(conn, &m, NULL, KEEPER_TIMEOUT_MS);
    if (rc != -EPIPE)
        log_warn("the memfd keeper (pid %d) did not exit when released", (int)pid);
    close(conn);
}

/* Start a keeper for memfd: fork twice so that it belongs to nobody's session. */
static int keeper_start(struct keeper *k, const struct keeper_params *p, int memfd, char *err,
                        size_t errlen)
{
    struct sockaddr_un sa = {.sun_family = AF_UNIX};
    int lfd, pair[2], pidpipe[2], status;
    pid_t mid;

    lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (lfd < 0)
        return err_fmt(err, errlen, -errno, "memfd keeper: socket: %s", strerror(errno));
    memcpy(sa.sun_path, k->path, strlen(k->path) + 1);
    /* A socket a killed keeper left: nobody answers there. */
    unlink(k->path);
    if (bind(lfd, (struct sockaddr *)&sa, sizeof(sa)) < 0 || chmod(k->path, 0600) < 0 ||
        listen(lfd, 4) < 0) {
        int rc = -errno;

        close(lfd);
        unlink(k->path);
        return err_fmt(err, errlen, rc, "memfd keeper: cannot listen on %s: %s", k->path,
                       strerror(-rc));
    }
    if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, pair) < 0 ||
        pipe2(pidpipe, O_CLOEXEC) < 0) {
        int rc = -errno;

        close(lfd);
        unlink(k->path);
        return err_fmt(err, errlen, rc, "memfd keeper: %s", strerror(-rc));
    }
    mid = fork();
    if (mid == 0) {
        /* The middle child: start the keeper, tell its pid, and go. */
        pid_t kp = fork();

        if (kp == 0) {
            int fd_null = open("/dev/null", O_RDWR);

            setsid();
            /* Keep the memfd, the two sockets and stderr; nothing else of the daemon. */
            if (fd_null < 0 || dup2(fd_null, 0) < 0 || dup2(fd_null, 1) < 0 ||
                dup2(lfd, 3) < 0 || dup2(pair[1], 4) < 0 || dup2(memfd, 5) < 0)
                _exit(1);
            close_range(6, ~0U, 0);
            keeper_main(3, 4, 5, k->path, p);
        }
        (void)!write(pidpipe[1], &kp, sizeof(kp));
        _exit(kp > 0 ? 0 : 1);
    }
    close(lfd);
    close(pair[1]);
    close(pidpipe[1]);
    k->pid = -1;
    if (mid > 0 && read(pidpipe[0], &k->pid, sizeof(k->pid)) != sizeof(k->pid))
        k->pid = -1;
    close(pidpipe[0]);
    if (mid > 0)
        waitpid(mid, &status, 0);
    if (k->pid <= 0) {
        close(pair[0]);
        unlink(k->path);
        return err_fmt(err, errlen, -EAGAIN, "memfd keeper: cannot fork");
    }
    k->conn = pair[0];
    /* It reports once it watches the domain; until then it is not worth trusting. */
    struct keeper_msg ready;
    int rc = recv_msg(k->conn, &ready, NULL, KEEPER_TIMEOUT_MS);

    if (rc == 0 && ready.op == KEEPER_READY && ready.rc == 0)
        return 0;
    close(k->conn);
    k->conn = -1;
    unlink(k->path);
    if (rc == 0 && ready.rc < 0) {
        ready.why[sizeof(ready.why) - 1] = '\0';
        return err_fmt(err, errlen, ready.rc, "memfd keeper: %s", ready.why);
    }
    rc = rc ? rc : -EPROTO;
    return err_fmt(err, errlen, rc, "memfd keeper: no answer: %s", strerror(-rc));
}

static int memfd_new(uint64_t size, char *err, size_t errlen)
{
    int fd = memfd_create("ioreq-lend", MFD_CLOEXEC);

    if (fd < 0)
        return err_fmt(err, errlen, -errno, "backing memfd: memfd_create: %s", strerror(errno));
    if (size > (uint64_t)INT64_MAX || ftruncate(fd, (off_t)size) < 0) {
        int rc = size > (uint64_t)INT64_MAX ? -EFBIG : -errno;

        close(fd);
        return err_fmt(err, errlen, rc, "backing memfd: cannot size it: %s", strerror(-rc));
    }
    return fd;
}

/* The memfd of a running keeper, if it holds one of `size` bytes; -errno otherwise. */
static int keeper_reuse(struct keeper *k, uint64_t size)
{
    struct keeper_msg m = {.op = KEEPER_GET};
    struct ucred cred;
    socklen_t len = sizeof(cred);
    int conn = keeper_connect(k->path), fd = -1, rc;

    if (conn < 0)
        return conn;
    if (getsockopt(conn, SOL_SOCKET, SO_PEERCRED, &cred, &len) == 0)
        k->pid = cred.pid;
    rc = send_msg(conn, &m, -1);
    if (rc == 0)
        rc = recv_msg(conn, &m, &fd, KEEPER_TIMEOUT_MS);
    if (rc == 0 && (m.rc < 0 || fd < 0))
        rc = m.rc < 0 ? m.rc : -EPROTO;
    if (rc == 0 && m.size != size) {
        char a[32], b[32];

        log_info("the memfd keeper (pid %d) holds %s, this BAR needs %s: releasing it",
                 (int)k->pid, format_size(m.size, a, sizeof(a)), format_size(size, b, sizeof(b)));
        close(fd);
        release_conn(conn, k->pid);
        return -ESTALE;
    }
    if (rc) {
        if (fd >= 0)
            close(fd);
        close(conn);
        return rc;
    }
    k->conn = conn;
    k->reused = true;
    return fd;
}

int keeper_attach(struct keeper *k, const struct keeper_params *p, char *err, size_t errlen)
{
    int fd, rc;

    *k = (struct keeper)KEEPER_INIT;
    if (snprintf(k->path, sizeof(k->path), "%s/%s.memfd", p->state_dir, p->slot_name) >=
        (int)sizeof(k->path))
        return err_fmt(err, errlen, -ENAMETOOLONG,
                       "--state-dir is too long for the memfd keeper's socket (%zu bytes at most)",
                       sizeof(k->path) - strlen(p->slot_name) - 8);
    fd = keeper_reuse(k, p->size);
    if (fd >= 0) {
        log_info("the memfd keeper (pid %d) still holds the BAR's memory: the guest's data is "
                 "kept",
                 (int)k->pid);
        return fd;
    }
    fd = memfd_new(p->size, err, errlen);
    if (fd < 0)
        return fd;
    rc = keeper_start(k, p, fd, err, errlen);
    if (rc) {
        close(fd);
        return rc;
    }
    return fd;
}

void keeper_release(struct keeper *k)
{
    if (k->conn < 0)
        return;
    release_conn(k->conn, k->pid);
    k->conn = -1;
}

void keeper_detach(struct keeper *k)
{
    if (k->conn < 0)
        return;
    if (!k->reused) {
        keeper_release(k);
        return;
    }
    close(k->conn);
    k->conn = -1;
}
