/* SPDX-License-Identifier: MIT */
/*
 * Starting daemons through helpers (see lend_spawn.h).
 *
 * A helper talks to us over a socket pair, one line each way at most:
 *   helper -> us   "R <daemon pid> <the daemon's ready line>\n"
 *                  "F <daemon pid> <wait status>\n"   (exited before ready)
 *                  "E <errno> <what failed>\n"        (the helper could not start it)
 *   us -> helper   "g" (detach), or the socket closes (stop the daemon)
 * The helper runs no code that needs the launcher's state after fork() but
 * the argv built before it, and leaves with _exit().
 */
#include "lend_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "backing.h"
#include "util.h"

/* How long a daemon gets to exit cleanly after SIGTERM before SIGKILL. */
#define STOP_GRACE_MS 5000

static int pidfd_open_(pid_t pid)
{
#ifdef SYS_pidfd_open
    /* pidfds are always close-on-exec. */
    return (int)syscall(SYS_pidfd_open, pid, 0);
#else
    (void)pid;
    errno = ENOSYS;
    return -1;
#endif
}

static int pidfd_kill(int pidfd, pid_t pid, int sig)
{
#ifdef SYS_pidfd_send_signal
    if (pidfd >= 0)
        return (int)syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0);
#else
    (void)pidfd;
#endif
    return kill(pid, sig);
}

static uint64_t now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* Wait up to ms for the process behind pidfd to end. True if it did. */
static bool pidfd_wait(int pidfd, unsigned int ms)
{
    struct pollfd p = {.fd = pidfd, .events = POLLIN};
    uint64_t end = now_ms() + ms;
    int rc;

    for (;;) {
        uint64_t now = now_ms();

        rc = poll(&p, 1, now >= end ? 0 : (int)(end - now));
        if (rc > 0)
            return true;
        if (rc == 0 || errno != EINTR)
            return false;
    }
}

static pid_t waitpid_retry(pid_t pid, int *status)
{
    pid_t r;

    do {
        r = waitpid(pid, status, 0);
    } while (r < 0 && errno == EINTR);
    return r;
}

/* ---- The helper (a child of the launcher; never returns) ---- */

/* Close every fd from 3 up but those in keep[] (n small, at most 3). */
static void close_all_but(int *keep, size_t n)
{
    unsigned int lo = 3;

    /* Insertion sort: n is 1 to 3. */
    for (size_t i = 1; i < n; i++) {
        for (size_t j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
            int t = keep[j];
            keep[j] = keep[j - 1];
            keep[j - 1] = t;
        }
    }
    for (size_t i = 0; i < n; i++) {
        unsigned int k = (unsigned int)keep[i];

        if (keep[i] < 3 || k < lo)
            continue;
        if (k > lo && close_range(lo, k - 1, 0) < 0) {
            for (unsigned int fd = lo; fd < k; fd++)
                close((int)fd);
        }
        lo = k + 1;
    }
    if (close_range(lo, ~0U, 0) < 0) {
        long max = sysconf(_SC_OPEN_MAX);
        for (long fd = lo; fd < (max > 0 ? max : 65536); fd++)
            close((int)fd);
    }
}

/* 0, 1 and 2 open (on /dev/null if they were not), so no pipe of ours lands there. */
static void stdio_open(void)
{
    for (int fd = 0; fd <= 2; fd++) {
        if (fcntl(fd, F_GETFD) >= 0)
            continue;
        int nul = open("/dev/null", O_RDWR);
        if (nul >= 0 && nul != fd) {
            dup2(nul, fd);
            close(nul);
        }
    }
}

static void helper_say(int sock, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void helper_say(int sock, const char *fmt, ...)
{
    char buf[384];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(buf)) {
        n = (int)sizeof(buf) - 1;
        buf[n - 1] = '\n';
    }
    if (n > 0 && send(sock, buf, (size_t)n, MSG_NOSIGNAL) < 0) {
        /* The launcher is gone: the caller stops the daemon on the socket's EOF. */
    }
}

static void stop_daemon(pid_t d)
{
    int pidfd = pidfd_open_(d), st;

    pidfd_kill(pidfd, d, SIGTERM);
    if (pidfd >= 0 && !pidfd_wait(pidfd, STOP_GRACE_MS))
        pidfd_kill(pidfd, d, SIGKILL);
    waitpid_retry(d, &st);
    if (pidfd >= 0)
        close(pidfd);
}

/* Reap d if it exits within the grace period (its status in *st); false if it does not. */
static bool exits_soon(pid_t d, int *st)
{
    int pidfd = pidfd_open_(d);
    bool gone = pidfd < 0 || pidfd_wait(pidfd, STOP_GRACE_MS);

    if (pidfd >= 0)
        close(pidfd);
    if (gone)
        waitpid_retry(d, st);
    return gone;
}

/*
 * Read the daemon's ready line from rfd, or notice the launcher giving up on
 * sock. Returns 1 with a line, 0 on the pipe's EOF (the daemon exited or
 * closed it), -1 if the launcher closed the socket.
 */
static int helper_wait_ready(int rfd, int sock, char *line, size_t len)
{
    struct pollfd p[2] = {{.fd = rfd, .events = POLLIN}, {.fd = sock, .events = POLLIN}};
    size_t used = 0;
    ssize_t n;

    for (;;) {
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return 0;
        }
        /* Anything on the socket before we reported means: stop. */
        if (p[1].revents)
            return -1;
        if (!p[0].revents)
            continue;
        n = read(rfd, line + used, len - 1 - used);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        used += (size_t)n;
        line[used] = '\0';
        if (memchr(line, '\n', used) || used == len - 1)
            break;
    }
    line[used] = '\0';
    line[strcspn(line, "\n")] = '\0';
    return used > 0 ? 1 : 0;
}

static void __attribute__((noreturn)) helper_main(const char *prog, int sock, const char *path,
                                                  char **argv, int argc, int keep_fd, int log_fd)
{
    int keep[3] = {sock}, rp[2], st = -1, rc;
    char fdarg[16], line[256];
    size_t nkeep = 1;
    pid_t d;
    char c;

    if (keep_fd >= 0)
        keep[nkeep++] = keep_fd;
    if (log_fd >= 0)
        keep[nkeep++] = log_fd;
    setsid();
    /* Whatever libxl left ignored: we wait for the daemon, and need its status. */
    signal(SIGCHLD, SIG_DFL);
    close_all_but(keep, nkeep);
    stdio_open();
    /* The daemon reads nothing; a terminal or libxl's stdin is not its business. */
    int nul = open("/dev/null", O_RDONLY);
    if (nul > 0) {
        dup2(nul, 0);
        close(nul);
    }
    if (pipe2(rp, O_CLOEXEC) < 0) {
        helper_say(sock, "E %d pipe\n", errno);
        _exit(1);
    }
    snprintf(fdarg, sizeof(fdarg), "%d", rp[1]);
    argv[argc] = "--ready-fd";
    argv[argc + 1] = fdarg;
    argv[argc + 2] = NULL;
    d = fork();
    if (d == 0) {
        sigset_t none;

        /* Default dispositions, nothing blocked: an inherited SIG_IGN would stick. */
        for (int sig = 1; sig < NSIG; sig++) {
            if (sig != SIGKILL && sig != SIGSTOP)
                signal(sig, SIG_DFL);
        }
        sigemptyset(&none);
        sigprocmask(SIG_SETMASK, &none, NULL);
        /* The domain's log (close-on-exec itself, and 3 or above) as stdout and stderr. */
        if (log_fd >= 0) {
            dup2(log_fd, 1);
            dup2(log_fd, 2);
        }
        /* The write end alone crosses exec; the socket and read end are close-on-exec. */
        fcntl(rp[1], F_SETFD, 0);
        if (keep_fd >= 0)
            fcntl(keep_fd, F_SETFD, 0);
        execv(path, argv);
        dprintf(2, "%s: cannot run %s: %s\n", prog, path, strerror(errno));
        _exit(127);
    }
    close(rp[1]);
    if (d < 0) {
        helper_say(sock, "E %d fork\n", errno);
        _exit(1);
    }
    rc = helper_wait_ready(rp[0], sock, line, sizeof(line));
    close(rp[0]);
    if (rc < 0) {
        stop_daemon(d);
        _exit(0);
    }
    if (rc == 0 || strncmp(line, "ready ", 6) != 0) {
        /*
         * No ready line: the daemon failed set-up (it said why on stderr) and
         * exits. If it wrote something else, or closed the pipe and goes on,
         * it is stopped: nothing runs that was not ready.
         */
        if (rc == 1 || !exits_soon(d, &st)) {
            stop_daemon(d);
            st = -2;
        }
        helper_say(sock, "F %d %d\n", (int)d, st);
        _exit(0);
    }
    helper_say(sock, "R %d %s\n", (int)d, line);
    /* The verdict: "g" lets the daemon go; anything else (EOF) stops it. */
    while ((rc = (int)read(sock, &c, 1)) < 0 && errno == EINTR)
        ;
    if (rc == 1 && c == 'g')
        _exit(0);
    stop_daemon(d);
    _exit(0);
}

/* ---- The launcher's side ---- */

static void describe_status(int st, char *buf, size_t len)
{
    if (st == -2)
        snprintf(buf, len, "did not write its ready line, and was stopped");
    else if (st < 0)
        snprintf(buf, len, "ended before it was ready");
    else if (WIFEXITED(st) && WEXITSTATUS(st) == 127)
        snprintf(buf, len, "could not be run");
    else if (WIFEXITED(st))
        snprintf(buf, len, "exited with status %d before it was ready", WEXITSTATUS(st));
    else if (WIFSIGNALED(st))
        snprintf(buf, len, "was killed by signal %d (%s) before it was ready", WTERMSIG(st),
                 strsignal(WTERMSIG(st)));
    else
        snprintf(buf, len, "ended before it was ready (wait status 0x%x)", (unsigned int)st);
}

/* A complete report from child c: act on it. Returns 0, or -errno with err set. */
static int on_report(struct lend_group *g, size_t i, const struct lend_spec *spec, char *err,
                     size_t errlen)
{
    struct lend_child *c = &g->child[i];
    char what[160];
    int pid = 0, st = 0, off = 0;

    c->line[strcspn(c->line, "\n")] = '\0';
    if (c->line[0] == 'R' && sscanf(c->line, "R %d %n", &pid, &off) == 1 && off > 0) {
        c->state = LEND_CHILD_READY;
        c->daemon = (pid_t)pid;
        memmove(c->line, c->line + off, strlen(c->line + off) + 1);
        fprintf(stderr, "%s: %s pid=%d\n", g->prog, c->line, pid);
        return 0;
    }
    c->state = LEND_CHILD_FAILED;
    if (c->line[0] == 'F' && sscanf(c->line, "F %d %d", &pid, &st) == 2) {
        c->daemon = (pid_t)pid;
        c->status = st;
        describe_status(st, what, sizeof(what));
        if (spec->opt.log_syslog)
            return err_fmt(err, errlen, -EIO,
                           "the ioreq-lend for %s (lend spec %zu) %s: its reason is in syslog",
                           spec->bdf, i + 1, what);
        if (g->log_fd >= 0)
            return err_fmt(err, errlen, -EIO,
                           "the ioreq-lend for %s (lend spec %zu) %s: its reason is in %s",
                           spec->bdf, i + 1, what, g->log_path);
        return err_fmt(err, errlen, -EIO,
                       "the ioreq-lend for %s (lend spec %zu) %s: its reason is on the line above",
                       spec->bdf, i + 1, what);
    }
    if (c->line[0] == 'E' && sscanf(c->line, "E %d %15s", &st, what) == 2)
        return err_fmt(err, errlen, -EIO,
                       "cannot start the ioreq-lend for %s (lend spec %zu): %s: %s", spec->bdf,
                       i + 1, what, strerror(st));
    return err_fmt(err, errlen, -EIO,
                   "the helper starting the ioreq-lend for %s (lend spec %zu) died", spec->bdf,
                   i + 1);
}

/* Read what child i sent. Returns 1 when its report is complete, 0 if more is to come. */
static int read_report(struct lend_child *c)
{
    ssize_t n;

    n = read(c->sock, c->line + c->line_len, sizeof(c->line) - 1 - c->line_len);
    if (n < 0 && (errno == EINTR || errno == EAGAIN))
        return 0;
    if (n <= 0) {
        c->line[c->line_len] = '\0';
        return 1; /* EOF: whatever came is all there is */
    }
    c->line_len += (size_t)n;
    c->line[c->line_len] = '\0';
    return memchr(c->line, '\n', c->line_len) || c->line_len == sizeof(c->line) - 1;
}

/* Which fd an fd:N backing needs kept open, or -1. */
static int backing_fd(const struct lend_spec *spec)
{
    struct backing_spec b;
    char why[256];

    if (!spec->opt.backing || backing_parse(spec->opt.backing, &b, why, sizeof(why)))
        return -1;
    return b.kind == BACKING_FD ? b.fd : -1;
}

/*
 * The daemon's command line, in the log: an operator can run it again by
 * hand (a restarted daemon adopts what a crashed one left in Xen). In the
 * domain's log too, with the time: the daemons' own lines carry none, and
 * the file holds one start (it is rotated at the next).
 */
static void log_command(const struct lend_group *g, char *const argv[])
{
    char line[2048];
    size_t used = 0;

    for (int a = 0; argv[a] && used + 8 < sizeof(line); a++) {
        /* Quoted for a shell when it has to be; ' itself as '\''. */
        bool quote = argv[a][0] == '\0' || strpbrk(argv[a], " \t\n'\"\\$`;&|<>()*?[]#~") != NULL;

        if (a)
            line[used++] = ' ';
        if (quote)
            line[used++] = '\'';
        for (const char *c = argv[a]; *c && used + 6 < sizeof(line); c++) {
            if (*c == '\'' && quote) {
                memcpy(line + used, "'\\''", 4);
                used += 4;
            } else {
                line[used++] = (unsigned char)*c < 0x20 ? '?' : *c;
            }
        }
        if (quote)
            line[used++] = '\'';
    }
    line[used] = '\0';
    fprintf(stderr, "%s: starting %s\n", g->prog, line);
    if (g->log_fd >= 0) {
        char stamp[32], out[sizeof(line) + 96];
        time_t now = time(NULL);
        struct tm tm;
        int n;

        strftime(stamp, sizeof(stamp), "%Y-%m-%d %H:%M:%S UTC", gmtime_r(&now, &tm));
        n = snprintf(out, sizeof(out), "%s: %s: starting %s\n", g->prog, stamp, line);
        /* One write(): the daemons append to the same file. A lost line costs nothing more. */
        if (n > 0 && write(g->log_fd, out, MIN((size_t)n, sizeof(out) - 1)) < 0) {
        }
    }
}

static int start_one(struct lend_group *g, size_t i, const struct lend_spec *spec, char *err,
                     size_t errlen)
{
    struct lend_child *c = &g->child[i];
    char *argv[LEND_SPEC_MAX_ARGS + 3];
    int sv[2], keep = backing_fd(spec);
    pid_t pid;

    if (keep >= 0 && fcntl(keep, F_GETFD) < 0)
        return err_fmt(err, errlen, -EBADF, "lend spec %zu: backing fd:%d is not open", i + 1,
                       keep);
    /* argv[0] is the daemon's path; the helper appends --ready-fd N. */
    argv[0] = (char *)(uintptr_t)g->daemon_path;
    for (int a = 1; a < spec->argc; a++)
        argv[a] = spec->argv[a];
    argv[spec->argc] = NULL;
    log_command(g, argv);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv) < 0)
        return err_fmt(err, errlen, -errno, "socketpair: %s", strerror(errno));
    pid = fork();
    if (pid < 0) {
        int rc = -errno;
        close(sv[0]);
        close(sv[1]);
        return err_fmt(err, errlen, rc, "fork: %s", strerror(-rc));
    }
    if (pid == 0)
        helper_main(g->prog, sv[1], g->daemon_path, argv, spec->argc, keep, g->log_fd);
    close(sv[1]);
    c->state = LEND_CHILD_STARTING;
    c->helper = pid;
    c->sock = sv[0];
    return 0;
}

static int wait_all_ready(struct lend_group *g, const struct lend_spec *specs, char *err,
                          size_t errlen)
{
    uint64_t deadline = now_ms() + g->timeout_ms;

    for (;;) {
        struct pollfd p[LEND_SPAWN_MAX];
        size_t idx[LEND_SPAWN_MAX], np = 0;
        uint64_t now = now_ms();
        int rc;

        for (size_t i = 0; i < g->n; i++) {
            if (g->child[i].state == LEND_CHILD_STARTING) {
                p[np] = (struct pollfd){.fd = g->child[i].sock, .events = POLLIN};
                idx[np++] = i;
            }
        }
        if (np == 0)
            return 0;
        if (now >= deadline) {
            for (size_t k = 0; k < np; k++)
                fprintf(stderr,
                        "%s: the ioreq-lend for %s (lend spec %zu) is not ready after %u ms\n",
                        g->prog, specs[idx[k]].bdf, idx[k] + 1, g->timeout_ms);
            return err_fmt(err, errlen, -ETIMEDOUT,
                           "the ioreq-lend for %s (lend spec %zu) was not ready within %u ms",
                           specs[idx[0]].bdf, idx[0] + 1, g->timeout_ms);
        }
        rc = poll(p, np, (int)MIN(deadline - now, (uint64_t)INT_MAX));
        if (rc < 0 && errno != EINTR)
            return err_fmt(err, errlen, -errno, "poll: %s", strerror(errno));
        for (size_t k = 0; rc > 0 && k < np; k++) {
            size_t i = idx[k];

            if (!p[k].revents || !read_report(&g->child[i]))
                continue;
            rc = on_report(g, i, &specs[i], err, errlen);
            if (rc)
                return rc;
            rc = 1;
        }
    }
}

int lend_spawn_start(struct lend_group *g, const struct lend_spec *specs, size_t n, char *err,
                     size_t errlen)
{
    int rc = 0;

    if (n > LEND_SPAWN_MAX)
        return err_fmt(err, errlen, -E2BIG, "%zu lend specs: at most %u (ioreq servers per domain)",
                       n, LEND_SPAWN_MAX);
    g->n = 0;
    for (size_t i = 0; i < LEND_SPAWN_MAX; i++)
        g->child[i] = (struct lend_child){.sock = -1, .pidfd = -1, .status = -1};
    if (!g->timeout_ms)
        g->timeout_ms = LEND_SPAWN_DEFAULT_TIMEOUT_MS;
    /* All at once: they set up in parallel, and each is ready before we go on. */
    for (size_t i = 0; i < n && rc == 0; i++) {
        rc = start_one(g, i, &specs[i], err, errlen);
        if (rc == 0)
            g->n = i + 1;
    }
    if (rc == 0)
        rc = wait_all_ready(g, specs, err, errlen);
    if (rc)
        lend_spawn_stop(g);
    return rc;
}

static void reap_helper(struct lend_child *c)
{
    int st;

    if (c->helper > 0)
        waitpid_retry(c->helper, &st);
    c->helper = 0;
}

void lend_spawn_detach(struct lend_group *g)
{
    for (size_t i = 0; i < g->n; i++) {
        struct lend_child *c = &g->child[i];

        if (c->state != LEND_CHILD_READY)
            continue;
        /* Opened while the helper, its parent, still waits: the pid cannot be reused yet. */
        c->pidfd = pidfd_open_(c->daemon);
        if (send(c->sock, "g", 1, MSG_NOSIGNAL) != 1) {
            /* The helper is gone, and with it (it stops it on EOF) the daemon. */
        }
        close(c->sock);
        c->sock = -1;
        reap_helper(c);
        c->state = LEND_CHILD_DETACHED;
    }
}

void lend_spawn_stop(struct lend_group *g)
{
    /* Close every socket first: the helpers stop their daemons in parallel. */
    for (size_t i = 0; i < g->n; i++) {
        struct lend_child *c = &g->child[i];

        if (c->sock >= 0)
            close(c->sock);
        c->sock = -1;
        if (c->state == LEND_CHILD_DETACHED) {
            pidfd_kill(c->pidfd, c->daemon, SIGTERM);
            if (c->pidfd >= 0 && !pidfd_wait(c->pidfd, STOP_GRACE_MS)) {
                pidfd_kill(c->pidfd, c->daemon, SIGKILL);
                pidfd_wait(c->pidfd, STOP_GRACE_MS);
            }
        }
        if (c->pidfd >= 0)
            close(c->pidfd);
        c->pidfd = -1;
    }
    for (size_t i = 0; i < g->n; i++) {
        struct lend_child *c = &g->child[i];

        reap_helper(c);
        if (c->state != LEND_CHILD_FAILED)
            c->state = LEND_CHILD_STOPPED;
    }
}

pid_t lend_spawn_pid(const struct lend_group *g, size_t i)
{
    return i < g->n ? g->child[i].daemon : 0;
}
