/* SPDX-License-Identifier: MIT */
/*
 * Starting ioreq-lend daemons for a domain that is still paused, and waiting
 * until each serves its device, for the launchers (ioreq-lend-qemu,
 * ioreq-lend-xl-create).
 *
 * Each daemon is started through a helper process: the helper leaves our
 * session (setsid), closes every fd it inherited but stdio (and an fd:N
 * backing), starts the daemon with --ready-fd on a pipe of its own, and
 * reports "ready" or the daemon's exit status on a socket. It then waits:
 * told to go, it exits and the daemon, orphaned, belongs to init (or to the
 * nearest subreaper: systemd's unit cgroup); if we die or close the socket
 * instead, it stops the daemon and waits for it to be gone. So the caller's
 * fds never reach a daemon, the caller (about to become QEMU) is left with no
 * child of ours, and no daemon outlives a failed start.
 *
 * With a log fd (the domain's log, launcher_open_domain_log()), each daemon
 * gets it as its stdout and stderr, and each start is recorded there with the
 * time and the daemon's command line; without, the daemons inherit ours.
 *
 * Every fd we open is close-on-exec; the caller's own fds are not touched.
 */
#ifndef IOREQ_LEND_LEND_SPAWN_H
#define IOREQ_LEND_LEND_SPAWN_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "lend_spec.h"

#define LEND_SPAWN_MAX                8 /* ioreq servers per domain in Xen 4.17 */
#define LEND_SPAWN_DEFAULT_TIMEOUT_MS 30000

enum lend_child_state {
    LEND_CHILD_NONE = 0,
    LEND_CHILD_STARTING, /* helper forked, no report yet */
    LEND_CHILD_READY,    /* the daemon reported ready */
    LEND_CHILD_DETACHED, /* the helper let go: the daemon runs on its own */
    LEND_CHILD_FAILED,   /* the daemon exited, or the helper died, before ready */
    LEND_CHILD_STOPPED,  /* stopped by us, and gone */
};

struct lend_child {
    enum lend_child_state state;
    pid_t helper;   /* until reaped */
    pid_t daemon;   /* as reported by the helper */
    int sock;       /* our end of the helper's socket; -1 when closed */
    int pidfd;      /* the detached daemon (to stop it if exec fails); -1 */
    char line[256]; /* the report being read, then the daemon's ready line */
    size_t line_len;
    int status; /* LEND_CHILD_FAILED: wait status, or -1 if unknown */
};

struct lend_group {
    const char *prog;        /* prefix of our messages, e.g. "ioreq-lend-qemu" */
    const char *daemon_path; /* the ioreq-lend binary */
    unsigned int timeout_ms; /* for all daemons to be ready */
    int log_fd;              /* the daemons' stdout and stderr, or -1: ours (set it!) */
    const char *log_path;    /* its name, for messages */
    size_t n;
    struct lend_child child[LEND_SPAWN_MAX];
};

/*
 * Start a daemon for each spec (all for the same domain) and wait until
 * every one is ready, or one fails, or the timeout passes. Each ready line is
 * logged to stderr. Returns 0 with every child READY, or a negative errno
 * with one line in err (which daemon, and its exit status) after stopping
 * every daemon started and waiting until they are gone.
 */
int lend_spawn_start(struct lend_group *g, const struct lend_spec *specs, size_t n, char *err,
                     size_t errlen);

/* Let every helper go: the daemons run on their own. Reaps the helpers. */
void lend_spawn_detach(struct lend_group *g);

/*
 * Stop every daemon, started or detached, and wait until they are gone (a
 * detached daemon: as long as a pidfd lets us watch it). Reaps the helpers.
 */
void lend_spawn_stop(struct lend_group *g);

/* The i-th daemon's pid, or 0. */
pid_t lend_spawn_pid(const struct lend_group *g, size_t i);

#endif
