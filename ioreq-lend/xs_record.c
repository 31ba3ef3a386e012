/* SPDX-License-Identifier: MIT */
/*
 * Owns the daemon's xenstore record and its keeper process (xs_record.h).
 * One socketpair between them: the record's content one way, one byte back
 * once it is written; its closing (the daemon's exit, however it comes)
 * tells the keeper to remove the record.
 */
#include "xs_record.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>
#include <xenstore.h>

#include "log.h"

#define XS_RECORD_TRIES 8 /* transactions retried on EAGAIN (another writer) */

/* What the daemon sends, once; read whole or not at all. */
struct xs_record_msg {
    int32_t pid;
    char mode[16];
    char stats[4096];
};

static bool read_full(int fd, void *buf, size_t len)
{
    size_t got = 0;

    while (got < len) {
        ssize_t n = read(fd, (char *)buf + got, len - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        got += (size_t)n;
    }
    return true;
}

static bool write_key(struct xs_handle *xs, xs_transaction_t t, const char *dir, const char *key,
                      const char *value)
{
    char path[256];

    snprintf(path, sizeof(path), "%s/%s", dir, key);
    return xs_write(xs, t, path, value, (unsigned int)strlen(value));
}

static bool write_record(struct xs_handle *xs, const char *dir, const struct xs_record_msg *m)
{
    char pid[16];

    snprintf(pid, sizeof(pid), "%d", (int)m->pid);
    for (int i = 0; i < XS_RECORD_TRIES; i++) {
        /* One transaction: a reader sees the whole record or none of it. */
        xs_transaction_t t = xs_transaction_start(xs);
        bool ok;

        if (t == XBT_NULL)
            return false;
        ok = write_key(xs, t, dir, "pid", pid) && write_key(xs, t, dir, "state", "running") &&
             write_key(xs, t, dir, "mode", m->mode) &&
             (!m->stats[0] || write_key(xs, t, dir, "stats", m->stats));
        if (!ok) {
            int e = errno;
            xs_transaction_end(xs, t, true);
            errno = e;
            return false;
        }
        if (xs_transaction_end(xs, t, false))
            return true;
        if (errno != EAGAIN)
            return false;
    }
    return false;
}

/* Remove dir's parent and grandparent if our record left them empty (up to device-model/). */
static void remove_if_empty(struct xs_handle *xs, xs_transaction_t t, char *path, int levels)
{
    for (int l = 0; l < levels; l++) {
        char *slash = strrchr(path, '/');
        unsigned int n = 0;
        char **names;

        if (!slash)
            return;
        *slash = '\0';
        names = xs_directory(xs, t, path, &n);
        free(names);
        if (!names || n)
            return;
        xs_rm(xs, t, path);
    }
}

static bool remove_record(struct xs_handle *xs, const char *dir, pid_t pid)
{
    char want[16], path[256];

    snprintf(want, sizeof(want), "%d", (int)pid);
    for (int i = 0; i < XS_RECORD_TRIES; i++) {
        xs_transaction_t t = xs_transaction_start(xs);
        char *cur;

        if (t == XBT_NULL)
            return false;
        snprintf(path, sizeof(path), "%s/pid", dir);
        cur = xs_read(xs, t, path, NULL);
        /* A successor that took over the slot wrote its own pid: its record stays. */
        if (cur && strcmp(cur, want) == 0) {
            xs_rm(xs, t, dir);
            snprintf(path, sizeof(path), "%s", dir);
            remove_if_empty(xs, t, path, 2); /* .../ioreq-lend, .../device-model/DOMID */
        }
        free(cur);
        if (xs_transaction_end(xs, t, false))
            return true;
        if (errno != EAGAIN)
            return false;
    }
    return false;
}

static void __attribute__((noreturn)) keeper_main(int fd, const char *dir)
{
    struct xs_record_msg m;
    struct xs_handle *xs = NULL;
    bool written = false;
    char c;

    prctl(PR_SET_NAME, "ioreq-lend-xsr");
    /* No signal of the daemon's group may stop it before the record is gone: the
     * daemon's blocked set (TERM, INT, USR1, HUP) stays blocked here. */
    if (read_full(fd, &m, sizeof(m))) {
        m.mode[sizeof(m.mode) - 1] = m.stats[sizeof(m.stats) - 1] = '\0';
        xs = xs_open(0);
        if (!xs)
            log_warn("xenstore is unreachable (%s): no record at %s", strerror(errno), dir);
        else if (!(written = write_record(xs, dir, &m)))
            log_warn("cannot write the record at %s in xenstore: %s", dir, strerror(errno));
        /* Done, either way: the daemon says it is ready only after this. */
        c = written;
        /* A failure means the daemon is gone: the read below sees that. */
        (void)!write(fd, &c, 1);
    }
    /* The daemon's exit, however it came, closes the socket. */
    while (read(fd, &c, 1) > 0 || errno == EINTR)
        ;
    if (written && !remove_record(xs, dir, m.pid))
        log_warn("cannot remove the record at %s from xenstore: %s", dir, strerror(errno));
    xs_close(xs);
    _exit(0);
}

int xs_record_start(struct xs_record *r, uint32_t domid, const char *bdf)
{
    char dir[128];
    int p[2];
    pid_t pid;

    snprintf(dir, sizeof(dir), "/local/domain/0/device-model/%u/ioreq-lend/%s", domid, bdf);
    /* Both ways: the content to the keeper, "written" back. */
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p) < 0)
        return -errno;
    fflush(NULL);
    pid = fork();
    if (pid < 0) {
        int rc = -errno;
        close(p[0]);
        close(p[1]);
        return rc;
    }
    if (pid == 0) {
        /* Only the pipe and stdio: none of the daemon's locks, sockets or memory fds. */
        if (dup2(p[0], 3) < 0)
            _exit(1);
        close_range(4, ~0U, 0);
        keeper_main(3, dir);
    }
    close(p[0]);
    r->keeper = pid;
    r->fd = p[1];
    return 0;
}

void xs_record_publish(struct xs_record *r, const char *mode, const char *stats_path)
{
    struct xs_record_msg m = {.pid = (int32_t)getpid()};
    char done;

    if (r->fd < 0)
        return;
    snprintf(m.mode, sizeof(m.mode), "%s", mode);
    if (stats_path)
        snprintf(m.stats, sizeof(m.stats), "%s", stats_path);
    /* The keeper reads it whole; a short write (it died) just means no record. */
    if (write(r->fd, &m, sizeof(m)) != (ssize_t)sizeof(m)) {
        log_warn("cannot hand the xenstore record to its keeper: %s", strerror(errno));
        return;
    }
    /* Wait until it is written (or failed: the keeper said why): ready means recorded. */
    if (!read_full(r->fd, &done, 1))
        log_warn("the xenstore record's keeper died: no record");
}

void xs_record_stop(struct xs_record *r)
{
    if (r->fd >= 0)
        close(r->fd);
    r->fd = -1;
    /* Once it exited, the record is gone: callers (and tests) may rely on that. */
    while (r->keeper > 0 && waitpid(r->keeper, NULL, 0) < 0 && errno == EINTR)
        ;
    r->keeper = -1;
}
