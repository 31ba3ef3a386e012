/* SPDX-License-Identifier: MIT */
/*
 * The `ctl` directives: the harness as a GPU backend on the daemon's control
 * socket (ioreq-lend/control_proto.h), through the same client code as
 * ioreq-lend-ctl. Buffers are memfds named "xensim-region", filled so that
 * the guest reading BAR offset X of a region sees what `verify-pattern
 * seed=S` expects at X; the harness keeps its own mapping of each, so that
 * `unmap poison=1` can poison the old buffer the moment the answer arrives
 * (a later guest read of it would count in vm.stale_accesses).
 *
 *   ctl map off=A len=L [seed=S] [ro=1] [fd-off=F] [expect=ERRNO|0]
 *           [fd=memfd|none|pipe|rdonly|short|nosealing|two|file:PATH]
 *   ctl unmap off=A len=L [poison=1] [expect=ERRNO|0]
 *   ctl raw kind=garbage|short|long|version|reserved|fd-on-list|unknown-op expect=ERRNO
 *   ctl disconnect off=A len=L [seed=S]   send a map and close before the answer
 *   ctl hold n=N | ctl release             keep N idle connections open, close them
 *   ctl flood                  requests without reading a reply, until the daemon drops it
 *   ctl cli exit=N [match="text"] [prog=P] ARGS...  run ioreq-lend-ctl (beside the daemon
 *                              binary) with --socket and ARGS: its exit status, and text in
 *                              its output; prog=P: program P there, the socket its argument
 *   [socket=PATH] on any: the daemon's --control (default: its default under --state-dir)
 *
 * expect=EPIPE means the daemon closed the connection without answering.
 * Metrics: ctl.regions, ctl.clients, ctl.clients_refused, ctl.refused (the
 * daemon's STATS, asked live) and proc.region_fds (the daemon's open fds on
 * harness buffers, from /proc).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "control_client.h"
#include "harness.h"
#include "pattern.h"
#include "util.h"

#define REGION_NAME "xensim-region"

static const struct {
    const char *name;
    int err;
} errnames[] = {
    {"0", 0},
    {"EINVAL", EINVAL},
    {"EEXIST", EEXIST},
    {"ERANGE", ERANGE},
    {"ENOSPC", ENOSPC},
    {"EBADF", EBADF},
    {"EACCES", EACCES},
    {"ENOENT", ENOENT},
    {"EBUSY", EBUSY},
    {"EPROTO", EPROTO},
    {"EBADMSG", EBADMSG},
    {"EPIPE", EPIPE},
    {"EOPNOTSUPP", EOPNOTSUPP},
};

static int errno_by_name(const char *s)
{
    for (unsigned int i = 0; i < ARRAY_SIZE(errnames); i++)
        if (strcmp(s, errnames[i].name) == 0)
            return errnames[i].err;
    return -1;
}

static const char *errno_text(int e)
{
    for (unsigned int i = 0; i < ARRAY_SIZE(errnames); i++)
        if (errnames[i].err == e)
            return errnames[i].name;
    return strerror(e);
}

/* key=value among the directive's words. */
static const char *kv(int ntok, char **tok, const char *key)
{
    size_t n = strlen(key);

    for (int i = 2; i < ntok; i++)
        if (strncmp(tok[i], key, n) == 0 && tok[i][n] == '=')
            return tok[i] + n + 1;
    return NULL;
}

/* Receive one reply and compare its status (EPIPE: none) with expect. */
static void recv_expect(struct harness *h, int sock, const char *what, int expect)
{
    struct ctl_reply rep;
    int fd, got;
    ssize_t n = msg_recv_fd(sock, &rep, sizeof(rep), &fd, 0);

    if (fd >= 0)
        close(fd);
    got = n == sizeof(rep) ? rep.status : EPIPE;
    if (n == sizeof(rep))
        rep.msg[sizeof(rep.msg) - 1] = '\0';
    h->nr_expects++;
    if (got != expect) {
        h->nr_expects_failed++;
        h_fail(h, "line %u: ctl %s: status %s (%s), expected %s", h->lineno, what, errno_text(got),
               n == sizeof(rep) ? rep.msg : "no answer", errno_text(expect));
    }
}

static int ctl_path(struct harness *h, const char *given, char *buf, size_t len)
{
    const struct device *d = &h->dev[h->cur_dev];

    if (given) {
        snprintf(buf, len, "%s", given);
        return 0;
    }
    return ctl_default_path(buf, len, h->dm_state, h->hv ? h->hv->cfg.domid : 1, 0,
                            d->used ? d->bus : 0, d->used ? d->dev : 0x1f, d->used ? d->fn : 0);
}

static int ctl_open(struct harness *h, const char *given)
{
    char path[128];

    if (ctl_path(h, given, path, sizeof(path)))
        return -ENAMETOOLONG;
    return ctl_connect(path);
}

/* A memfd of `size` bytes holding the pattern of `seed` for BAR offset `off` from fd offset `at`.
 */
static int buffer_new(uint64_t size, uint64_t at, uint64_t off, uint64_t seed, bool fill, bool seal,
                      void **map)
{
    int fd = memfd_create(REGION_NAME, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    uint64_t *w;

    *map = NULL;
    if (fd < 0)
        return -errno;
    if (ftruncate(fd, (off_t)size) < 0) {
        close(fd);
        return -errno;
    }
    w = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (w == MAP_FAILED) {
        close(fd);
        return -errno;
    }
    for (uint64_t i = 0; fill && at + i * 8 + 8 <= size; i++)
        w[at / 8 + i] = pattern_word(seed, off / 8 + i);
    if (seal)
        fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK);
    *map = w;
    return fd;
}

/* Keep the harness's view of a mapped buffer (for poison=1). */
static void buffer_keep(struct harness *h, uint64_t off, uint64_t len, void *map, uint64_t size)
{
    for (unsigned int i = 0; i < ARRAY_SIZE(h->ctl_buf); i++) {
        if (h->ctl_buf[i].map)
            continue;
        h->ctl_buf[i].off = off;
        h->ctl_buf[i].len = len;
        h->ctl_buf[i].map = map;
        h->ctl_buf[i].size = size;
        return;
    }
    munmap(map, (size_t)size); /* table full: no poisoning for this one */
}

/* After an unmap's answer: poison (if asked) and forget the buffers inside the range. */
static void buffers_unmapped(struct harness *h, uint64_t off, uint64_t len, bool poison)
{
    for (unsigned int i = 0; i < ARRAY_SIZE(h->ctl_buf); i++) {
        if (!h->ctl_buf[i].map || h->ctl_buf[i].off < off ||
            h->ctl_buf[i].off + h->ctl_buf[i].len > off + len)
            continue;
        if (poison) {
            uint64_t *w = h->ctl_buf[i].map;

            for (uint64_t j = 0; j < h->ctl_buf[i].size / 8; j++)
                w[j] = HV_POISON_WORD;
        }
        munmap(h->ctl_buf[i].map, (size_t)h->ctl_buf[i].size);
        h->ctl_buf[i].map = NULL;
    }
}

/* One call; compares its status (or EPIPE for no answer) with expect. */
static int call_expect(struct harness *h, int sock, const struct ctl_request *req, int fd,
                       int expect, struct ctl_reply *rep)
{
    int rc = ctl_call(sock, req, fd, rep);
    int got = rc == -EPIPE || rc == -ECONNRESET ? EPIPE : rc ? -rc : rep->status;

    h->nr_expects++;
    if (rc && got != EPIPE) {
        h->nr_expects_failed++;
        h_fail(h, "line %u: ctl: no answer: %s", h->lineno, strerror(-rc));
        return rc;
    }
    if (got != expect) {
        h->nr_expects_failed++;
        h_fail(h, "line %u: ctl: status %s (%s), expected %s", h->lineno, errno_text(got),
               rc ? "no answer" : rep->msg, errno_text(expect));
        return -EIO;
    }
    return 0;
}

static int memfd_variant(const char *kind, uint64_t size, uint64_t fd_off, uint64_t off,
                         uint64_t seed, bool fill, void **map, int *fd2)
{
    int fd, ro;
    char path[64];

    *fd2 = -1;
    if (strcmp(kind, "memfd") == 0 || strcmp(kind, "two") == 0) {
        fd = buffer_new(size, fd_off, off, seed, fill, false, map);
        if (fd >= 0 && strcmp(kind, "two") == 0) {
            void *m2;

            *fd2 = buffer_new(size, fd_off, off, seed, fill, false, &m2);
            if (m2)
                munmap(m2, (size_t)size);
        }
        return fd;
    }
    if (strcmp(kind, "short") == 0)
        return buffer_new(size - XC_PAGE_SIZE, 0, off, seed, false, false, map);
    if (strcmp(kind, "nosealing") == 0) {
        /* Sealed against further seals, not against shrinking: cannot be made safe. */
        fd = buffer_new(size, fd_off, off, seed, fill, false, map);
        if (fd >= 0)
            fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL);
        return fd;
    }
    if (strcmp(kind, "rdonly") == 0) {
        fd = buffer_new(size, fd_off, off, seed, fill, true, map);
        if (fd < 0)
            return fd;
        snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
        ro = open(path, O_RDONLY | O_CLOEXEC);
        close(fd);
        return ro < 0 ? -errno : ro;
    }
    if (strcmp(kind, "pipe") == 0) {
        int p[2];

        if (pipe2(p, O_CLOEXEC) < 0)
            return -errno;
        close(p[1]);
        return p[0];
    }
    if (strncmp(kind, "file:", 5) == 0) {
        fd = open(kind + 5, O_RDWR | O_CLOEXEC);
        return fd < 0 ? -errno : fd;
    }
    return -EINVAL;
}

static int do_map(struct harness *h, const char *sockp, uint64_t off, uint64_t len, uint64_t fd_off,
                  uint64_t seed, bool fill, bool ro, const char *kind, int expect, bool disconnect)
{
    struct ctl_request req;
    struct ctl_reply rep;
    void *map = NULL;
    int sock, fd = -1, fd2 = -1, rc;

    if (strcmp(kind, "none") != 0) {
        fd = memfd_variant(kind, sat_add_u64(fd_off, len), fd_off, off, seed, fill, &map, &fd2);
        if (fd < 0) {
            h_fail(h, "line %u: ctl map: cannot make fd=%s: %s", h->lineno, kind, strerror(-fd));
            return fd;
        }
    }
    sock = ctl_open(h, sockp);
    if (sock < 0) {
        h_fail(h, "line %u: ctl: cannot connect: %s", h->lineno, strerror(-sock));
        rc = sock;
        goto out;
    }
    ctl_request_init(&req, CTL_OP_MAP);
    req.bar_offset = off;
    req.fd_offset = fd_off;
    req.length = len;
    req.flags = ro ? CTL_MAP_READONLY : 0;
    if (disconnect) {
        /* Gone before the answer: the region is mapped all the same (it is the daemon's). */
        rc = msg_send_fd(sock, &req, sizeof(req), fd) == sizeof(req) ? 0 : -EIO;
    } else if (fd2 >= 0) {
        /* Two fds on one request: the daemon takes the first and the kernel drops the rest. */
        int fds[2] = {fd, fd2};
        char cbuf[CMSG_SPACE(sizeof(fds))];
        struct iovec iov = {.iov_base = &req, .iov_len = sizeof(req)};
        struct msghdr msg = {
            .msg_iov = &iov, .msg_iovlen = 1, .msg_control = cbuf, .msg_controllen = sizeof(cbuf)};
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);

        memset(cbuf, 0, sizeof(cbuf));
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(fds));
        memcpy(CMSG_DATA(cm), fds, sizeof(fds));
        rc = sendmsg(sock, &msg, MSG_NOSIGNAL) == sizeof(req) ? 0 : -EIO;
        if (rc == 0)
            recv_expect(h, sock, "map fd=two", expect);
    } else {
        rc = call_expect(h, sock, &req, fd, expect, &rep);
    }
    close(sock);
    if (rc == 0 && map && (expect == 0 || disconnect)) {
        buffer_keep(h, off, len, map, fd_off + len);
        map = NULL;
    }
out:
    if (map)
        munmap(map,
               (size_t)(strcmp(kind, "short") == 0 ? fd_off + len - XC_PAGE_SIZE : fd_off + len));
    if (fd >= 0)
        close(fd);
    if (fd2 >= 0)
        close(fd2);
    return rc;
}

static int do_raw(struct harness *h, const char *sockp, const char *kind, int expect)
{
    struct ctl_request req;
    unsigned char buf[sizeof(req) + 16];
    size_t len = sizeof(req);
    int sock, fd = -1, rc;

    ctl_request_init(&req, CTL_OP_STATS);
    if (strcmp(kind, "garbage") == 0)
        req.magic = 0x12345678;
    else if (strcmp(kind, "short") == 0)
        len = 7;
    else if (strcmp(kind, "long") == 0)
        len = sizeof(buf);
    else if (strcmp(kind, "version") == 0)
        req.version = 99;
    else if (strcmp(kind, "reserved") == 0)
        req.reserved = 1;
    else if (strcmp(kind, "unknown-op") == 0)
        req.op = 77;
    else if (strcmp(kind, "fd-on-list") == 0) {
        req.op = CTL_OP_LIST;
        fd = memfd_create(REGION_NAME, MFD_CLOEXEC);
    } else {
        h_fail(h,
               "line %u: ctl raw kind=garbage|short|long|version|reserved|unknown-op|"
               "fd-on-list",
               h->lineno);
        return -EINVAL;
    }
    memset(buf, 0xa5, sizeof(buf));
    memcpy(buf, &req, sizeof(req));
    sock = ctl_open(h, sockp);
    if (sock < 0) {
        h_fail(h, "line %u: ctl: cannot connect: %s", h->lineno, strerror(-sock));
        return sock;
    }
    rc = msg_send_fd(sock, buf, len, fd) == (ssize_t)len ? 0 : -EIO;
    if (fd >= 0)
        close(fd);
    if (rc == 0)
        recv_expect(h, sock, kind, expect);
    close(sock);
    return rc;
}

/* ioreq-lend-ctl, as a person or a script runs it. */
static int do_cli(struct harness *h, int ntok, char **tok)
{
    const char *match = kv(ntok, tok, "match"), *slash = strrchr(h->dm_path, '/');
    const char *prog = kv(ntok, tok, "prog");
    char cmd[2048], sock[128], out[4096];
    uint64_t want = 0;
    size_t used, n;
    FILE *p;
    int first = 2, status;

    if ((kv(ntok, tok, "exit") && parse_u64(kv(ntok, tok, "exit"), 255, &want)) ||
        ctl_path(h, kv(ntok, tok, "socket"), sock, sizeof(sock)))
        return -EINVAL;
    while (first < ntok &&
           (strncmp(tok[first], "exit=", 5) == 0 || strncmp(tok[first], "match=", 6) == 0 ||
            strncmp(tok[first], "socket=", 7) == 0 || strncmp(tok[first], "prog=", 5) == 0))
        first++;
    /* prog=P: another program beside the daemon's binary, given the socket as its argument. */
    if (prog && (strchr(prog, '\'') || strstr(prog, "..")))
        return -EINVAL;
    used = (size_t)snprintf(cmd, sizeof(cmd), "'%.*s%s' %s'%s'",
                            slash ? (int)(slash - h->dm_path + 1) : 0, h->dm_path,
                            prog ? prog : "ioreq-lend-ctl", prog ? "" : "--socket ", sock);
    for (int i = first; i < ntok && used < sizeof(cmd); i++)
        used += (size_t)snprintf(cmd + used, sizeof(cmd) - used, " '%s'", tok[i]);
    if (used + 8 >= sizeof(cmd))
        return -E2BIG;
    strcat(cmd, " 2>&1");
    p = popen(cmd, "r");
    if (!p)
        return -errno;
    n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    status = pclose(p);
    if (h->verbose)
        fprintf(stderr, "xensim: %s -> %d: %s", cmd, status, out);
    h->nr_expects++;
    if (!WIFEXITED(status) || WEXITSTATUS(status) != (int)want || (match && !strstr(out, match)) ||
        (want != 0 && strchr(out, '\n') && strchr(out, '\n')[1] != '\0')) {
        h->nr_expects_failed++;
        h_fail(h, "line %u: ioreq-lend-ctl exited %d, expected %llu%s%s (one line): %s", h->lineno,
               WIFEXITED(status) ? WEXITSTATUS(status) : -1, (unsigned long long)want,
               match ? " with " : "", match ? match : "", out);
    }
    return 0;
}

int ctl_directive(struct harness *h, int ntok, char **tok)
{
    const char *what = ntok > 1 ? tok[1] : "";
    const char *sockp = kv(ntok, tok, "socket"), *v;
    uint64_t off = 0, len = 0, fd_off = 0, seed = 0, n = 0;
    int expect = 0;

    v = kv(ntok, tok, "expect");
    if (v && (expect = errno_by_name(v)) < 0) {
        h_fail(h, "line %u: ctl: expect=%s is not an errno name this harness knows", h->lineno, v);
        return -EINVAL;
    }
    if (((v = kv(ntok, tok, "off")) && parse_size(v, &off)) ||
        ((v = kv(ntok, tok, "len")) && parse_size(v, &len)) ||
        ((v = kv(ntok, tok, "fd-off")) && parse_size(v, &fd_off)) ||
        ((v = kv(ntok, tok, "seed")) && parse_size(v, &seed)) ||
        ((v = kv(ntok, tok, "n")) && parse_size(v, &n))) {
        h_fail(h, "line %u: ctl: bad number", h->lineno);
        return -EINVAL;
    }
    if (strcmp(what, "map") == 0 || strcmp(what, "disconnect") == 0) {
        const char *kind = kv(ntok, tok, "fd");
        const char *ro = kv(ntok, tok, "ro");

        if (!(kind && strcmp(kind, "none") == 0) &&
            (len == 0 || len > (1ULL << 30) || fd_off > (1ULL << 30))) {
            h_fail(h, "line %u: ctl map: len= from 1 to 1G (the harness's buffer), fd-off <= 1G",
                   h->lineno);
            return -EINVAL;
        }
        return do_map(h, sockp, off, len, fd_off, seed, kv(ntok, tok, "seed") != NULL,
                      ro && strcmp(ro, "0"), kind ? kind : "memfd", expect,
                      strcmp(what, "disconnect") == 0);
    }
    if (strcmp(what, "unmap") == 0) {
        struct ctl_request req;
        struct ctl_reply rep;
        const char *poison = kv(ntok, tok, "poison");
        int sock = ctl_open(h, sockp), rc;

        if (sock < 0) {
            h_fail(h, "line %u: ctl: cannot connect: %s", h->lineno, strerror(-sock));
            return sock;
        }
        ctl_request_init(&req, CTL_OP_UNMAP);
        req.bar_offset = off;
        req.length = len;
        rc = call_expect(h, sock, &req, -1, expect, &rep);
        close(sock);
        if (rc == 0 && expect == 0)
            buffers_unmapped(h, off, len, poison && strcmp(poison, "0"));
        return rc;
    }
    if (strcmp(what, "raw") == 0)
        return do_raw(h, sockp, kv(ntok, tok, "kind") ? kv(ntok, tok, "kind") : "", expect);
    if (strcmp(what, "hold") == 0) {
        for (uint64_t i = 0; i < n && h->nr_ctl_held < ARRAY_SIZE(h->ctl_held); i++) {
            int s = ctl_open(h, sockp);

            if (s < 0) {
                h_fail(h, "line %u: ctl hold: %s", h->lineno, strerror(-s));
                return s;
            }
            h->ctl_held[h->nr_ctl_held++] = s;
        }
        return 0;
    }
    if (strcmp(what, "flood") == 0) {
        /* Requests, never reading a reply: the daemon must drop this client, not block. */
        struct ctl_request req;
        int s = ctl_open(h, sockp);
        uint64_t i;

        if (s < 0) {
            h_fail(h, "line %u: ctl flood: %s", h->lineno, strerror(-s));
            return s;
        }
        ctl_request_init(&req, CTL_OP_STATS);
        for (i = 0; i < 100000; i++)
            if (msg_send_fd(s, &req, sizeof(req), -1) != sizeof(req))
                break;
        close(s);
        h->nr_expects++;
        if (i == 100000) {
            h->nr_expects_failed++;
            h_fail(h, "line %u: ctl flood: the daemon kept a client that reads no replies",
                   h->lineno);
        }
        return 0;
    }
    if (strcmp(what, "cli") == 0)
        return do_cli(h, ntok, tok);
    if (strcmp(what, "release") == 0) {
        ctl_release_all(h);
        return 0;
    }
    h_fail(h, "line %u: ctl map|unmap|raw|disconnect|hold|release|flood|cli", h->lineno);
    return -EINVAL;
}

void ctl_release_all(struct harness *h)
{
    for (unsigned int i = 0; i < h->nr_ctl_held; i++)
        close(h->ctl_held[i]);
    h->nr_ctl_held = 0;
}

void ctl_forget_buffers(struct harness *h)
{
    for (unsigned int i = 0; i < ARRAY_SIZE(h->ctl_buf); i++) {
        if (h->ctl_buf[i].map)
            munmap(h->ctl_buf[i].map, (size_t)h->ctl_buf[i].size);
        h->ctl_buf[i].map = NULL;
    }
}

double ctl_metric(struct harness *h, int which)
{
    struct ctl_request req;
    struct ctl_reply rep;
    int sock;

    if (!h->dm.running)
        return -1;
    sock = ctl_open(h, NULL);
    if (sock < 0)
        return -1;
    ctl_request_init(&req, CTL_OP_STATS);
    if (ctl_call(sock, &req, -1, &rep) || rep.status) {
        close(sock);
        return -1;
    }
    close(sock);
    switch (which) {
    case 0:
        return (double)rep.u.stats.regions;
    case 1:
        return (double)rep.u.stats.clients;
    case 2:
        return (double)rep.u.stats.clients_refused;
    case 3:
        return (double)rep.u.stats.requests_refused;
    default:
        return (double)rep.u.stats.mapped_bytes;
    }
}

double ctl_region_fds(struct harness *h)
{
    char dir[64], path[320], link[256];
    struct dirent *e;
    double n = 0;
    DIR *d;

    if (!h->dm.running)
        return -1;
    snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)h->dm.pid);
    d = opendir(dir);
    if (!d)
        return -1;
    while ((e = readdir(d))) {
        ssize_t len;

        snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
        len = readlink(path, link, sizeof(link) - 1);
        if (len <= 0)
            continue;
        link[len] = '\0';
        n += strstr(link, "memfd:" REGION_NAME) != NULL;
    }
    closedir(d);
    return n;
}
