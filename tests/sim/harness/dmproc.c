/* SPDX-License-Identifier: MIT */
/*
 * The device model under test runs as a separate process, as on a real
 * host: killing it, or it crashing, is observed by the simulated hypervisor
 * through its handles closing. Readiness comes through --ready-fd; exit is
 * waited for with a pidfd, never by sleeping.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"

#define READY_FD 3

extern char **environ;

static void record_exit(struct harness *h, struct dm_proc *dm, int status,
                        const struct rusage *ru)
{
    dm->running = false;
    dm->exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
    dm->peak_rss_kb = ru->ru_maxrss;
    if (ru->ru_maxrss > h->peak_rss_kb)
        h->peak_rss_kb = ru->ru_maxrss;
    h->last_exit_status = dm->exit_status;
    /* A kill point (dm kill-at) kills it from inside the simulator. */
    if (WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
        dm->killed = true;
    /* A daemon the harness killed leaves its clean-up to the OS and Xen. */
    if (!dm->killed && h->nr_exited < ARRAY_SIZE(h->exited_pids))
        h->exited_pids[h->nr_exited++] = dm->pid;
}

int dm_wait_exit(struct harness *h, struct dm_proc *dm, unsigned int timeout_ms)
{
    struct rusage ru;
    int status, pidfd;

    if (!dm->running)
        return 0;
    pidfd = (int)syscall(SYS_pidfd_open, dm->pid, 0);
    if (pidfd >= 0) {
        struct pollfd pfd = {.fd = pidfd, .events = POLLIN};
        int n = poll(&pfd, 1, (int)timeout_ms);
        close(pidfd);
        if (n == 0)
            return -ETIMEDOUT;
    }
    if (wait4(dm->pid, &status, 0, &ru) != dm->pid)
        return -errno;
    record_exit(h, dm, status, &ru);
    /* Its files are closed by now on a real host: so are its Xen handles here. */
    if (h->hv && hv_wait_handles_released(h->hv, dm->pid, 10000))
        h_fail(h, "the simulator did not see daemon %d's handles close", dm->pid);
    return 0;
}

long dm_status_kb(pid_t pid, const char *field)
{
    char path[64], line[256];
    size_t n = strlen(field);
    long kb = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    if (!f)
        return -1;
    while (fgets(line, sizeof(line), f))
        if (strncmp(line, field, n) == 0)
            kb = strtol(line + n, NULL, 10);
    fclose(f);
    return kb;
}

int dm_signal(struct dm_proc *dm, int sig)
{
    if (!dm->running)
        return -ESRCH;
    if (sig == SIGKILL)
        dm->killed = true;
    return kill(dm->pid, sig) ? -errno : 0;
}

/* Split the wrapper command ("valgrind --error-exitcode=99 ...") on spaces. */
static int split_words(char *s, char **out, int max)
{
    int n = 0;

    for (char *tok = strtok(s, " "); tok && n < max; tok = strtok(NULL, " "))
        out[n++] = tok;
    return n;
}

int dm_start(struct harness *h, struct dm_proc *dm, char *const args[], int nargs,
             bool wait_ready, unsigned int ready_timeout_ms, const char *runas)
{    char *argv[H_MAX_ARGS + 16];
    char domid[16], readyfd[8], wrapper[256];
    posix_spawn_file_actions_t fa;
    int ready[2], argc = 0, rc, log_fd;
    pid_t pid;

    if (dm->running)
        return -EBUSY;
    if (runas) {
        /* An unprivileged daemon: what a user without access to Xen's devices gets. */
        argv[argc++] = "setpriv";
        argv[argc++] = strcmp(runas, "nobody") == 0 ? "--reuid=65534" : "--reuid=1";
        argv[argc++] = "--regid=65534";
        argv[argc++] = "--clear-groups";
    }
    if (h->dm_wrapper) {
        snprintf(wrapper, sizeof(wrapper), "%s", h->dm_wrapper);
        argc += split_words(wrapper, argv + argc, 8);
    }
    snprintf(domid, sizeof(domid), "%u", h->hv ? h->hv->cfg.domid : 1);
    snprintf(readyfd, sizeof(readyfd), "%d", READY_FD);
    argv[argc++] = (char *)h->dm_path;
    argv[argc++] = "--domid";
    argv[argc++] = domid;
    argv[argc++] = "--ready-fd";
    argv[argc++] = readyfd;
    /* Per-run lock directory (parallel runs all serve domain 1) and counters file. */
    argv[argc++] = "--state-dir";
    argv[argc++] = h->dm_state;
    argv[argc++] = "--stats";
    argv[argc++] = h->dm_stats;
    for (int i = 0; i < nargs && argc < (int)ARRAY_SIZE(argv) - 1; i++)
        argv[argc++] = args[i];
    argv[argc] = NULL;

    if (pipe2(ready, O_CLOEXEC) < 0)
        return -errno;
    log_fd = open(h->dm_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_adddup2(&fa, ready[1], READY_FD);
    if (log_fd >= 0) {
        posix_spawn_file_actions_adddup2(&fa, log_fd, STDOUT_FILENO);
        posix_spawn_file_actions_adddup2(&fa, log_fd, STDERR_FILENO);
    }
    rc = posix_spawnp(&pid, argv[0], &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy(&fa);
    close(ready[1]);
    if (log_fd >= 0)
        close(log_fd);
    if (rc) {
        close(ready[0]);
        return -rc;
    }
    *dm = (struct dm_proc){.pid = pid, .running = true};
    if (h->verbose)
        fprintf(stderr, "xensim: started device model pid %d\n", pid);
    rc = 0;
    if (wait_ready) {
        struct pollfd pfd = {.fd = ready[0], .events = POLLIN};
        char line[256];
        ssize_t n = 0;

        if (poll(&pfd, 1, (int)ready_timeout_ms) == 1)
            n = read(ready[0], line, sizeof(line) - 1);
        if (n <= 0) {
            /* EOF: the daemon exited (or closed the fd) without saying it is ready. */
            rc = n == 0 && pfd.revents ? -EPIPE : -ETIMEDOUT;
        } else if (h->verbose) {
            line[n] = '\0';
            fprintf(stderr, "xensim: device model ready: %s", line);
        }
    }
    close(ready[0]);
    return rc;
}

void dm_print_log(struct harness *h, FILE *out)
{
    FILE *f = fopen(h->dm_log, "r");
    char line[1024];

    if (!f)
        return;
    while (fgets(line, sizeof(line), f))
        fprintf(out, "  dm| %s", line);
    fclose(f);
}

int dm_read_stats(struct harness *h)
{
    FILE *f = fopen(h->dm_stats, "r");
    char *buf = NULL;
    size_t len = 0;

    if (!f)
        return -errno;
    if (getdelim(&buf, &len, '\0', f) < 0) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (!buf)
        return -EIO;
    free(h->dm_stats_json);
    h->dm_stats_json = buf;
    return 0;
}

int dm_refresh_stats(struct harness *h, unsigned int timeout_ms)
{
    char dir[96], *slash;
    int ino, rc = -ETIMEDOUT;

    if (!h->dm.running)
        return dm_read_stats(h);
    /* The daemon renames a new file into place: wait for that rename, not a guess. */
    snprintf(dir, sizeof(dir), "%s", h->dm_stats);
    slash = strrchr(dir, '/');
    *slash = '\0';
    ino = inotify_init1(IN_CLOEXEC);
    if (ino < 0 || inotify_add_watch(ino, dir, IN_MOVED_TO) < 0) {
        if (ino >= 0)
            close(ino);
        return -errno;
    }
    dm_signal(&h->dm, SIGUSR1);
    for (;;) {
        struct pollfd pfd = {.fd = ino, .events = POLLIN};
        char ev[sizeof(struct inotify_event) + 256];
        ssize_t n;

        if (poll(&pfd, 1, (int)timeout_ms) != 1)
            break;
        n = read(ino, ev, sizeof(ev));
        bool ours = false;
        for (char *p = ev; n > 0 && p < ev + n;) {
            struct inotify_event *e = (struct inotify_event *)(void *)p;
            if (e->len && strcmp(e->name, slash + 1) == 0)
                ours = true;
            p += sizeof(*e) + e->len;
        }
        if (ours) {
            rc = dm_read_stats(h);
            break;
        }
    }
    close(ino);
    return rc;
}

bool dm_stat(struct harness *h, const char *name, double *out)
{
    const char *dot = strchr(name, '.'), *g, *k;
    char key[96];

    if (!h->dm_stats_json || !dot)
        return false;
    /* Our own flat two-level format: {"group":{"name":N,...},...} */
    snprintf(key, sizeof(key), "\"%.*s\":{", (int)(dot - name), name);
    g = strstr(h->dm_stats_json, key);
    if (!g)
        return false;
    snprintf(key, sizeof(key), "\"%s\":", dot + 1);
    k = strstr(g, key);
    if (!k || (strchr(g, '}') && k > strchr(g, '}')))
        return false;
    *out = strtod(k + strlen(key), NULL);
    return true;
}
