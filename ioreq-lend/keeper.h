/* SPDX-License-Identifier: MIT */
/*
 * The memfd keeper: a small process that holds the daemon's memfd backing
 * (the guest's BAR content) so that it survives the daemon. A daemon killed
 * at any moment and started again with the same arguments gets the same
 * memfd back, and the guest finds its data where it left it ("a pause, not
 * a new device").
 *
 * The keeper is forked by the daemon that creates the memfd, before any Xen
 * handle or mapping exists, leaves the daemon's session and keeps nothing of
 * it but the memfd, a listening socket (STATE_DIR/domN-SSSS:BB:DD.F.memfd,
 * mode 0600, only its own uid or root may connect) and one Xen handle
 * restricted to the domain. It releases the memory and exits when
 *  - a daemon exits cleanly (it then asks the keeper to release and waits
 *    until it has: a clean exit leaves nothing behind), or
 *  - the domain is gone, which it checks itself every --domain-poll-ms, so
 *    the memory goes with the domain even when no daemon runs.
 * Backings the daemon does not own are not kept: a file keeps its own data,
 * and an fd:N backing is given again by whoever restarts the daemon.
 */
#ifndef IOREQ_LEND_KEEPER_H
#define IOREQ_LEND_KEEPER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct keeper {
    int conn;      /* our connection to the keeper; -1: none */
    pid_t pid;     /* the keeper's, for messages */
    bool reused;   /* the memfd came from a predecessor's keeper, data included */
    char path[108]; /* its socket: sizeof(sockaddr_un.sun_path) */
};

#define KEEPER_INIT {.conn = -1}

struct keeper_params {
    const char *state_dir;
    const char *slot_name;  /* "domN-SSSS:BB:DD.F", the state file's stem */
    uint32_t domid;
    uint64_t size;          /* bytes of the memfd */
    unsigned int poll_ms;   /* the keeper's domain liveness check period */
    const char *runas;      /* NULL, or the user the keeper drops to (as the daemon) */
};

/*
 * The slot's memfd: from its running keeper if there is one with a memfd
 * of this size (k->reused), else a new zero-filled one with a new keeper
 * (a keeper holding another size is released first: another device). Returns
 * the memfd (the caller's to close), or -errno with one line in err.
 */
int keeper_attach(struct keeper *k, const struct keeper_params *p, char *err, size_t errlen);

/*
 * A clean exit: the keeper frees the memory and exits; returns once it has
 * (or after a few seconds, with a warning). Safe on KEEPER_INIT.
 */
void keeper_release(struct keeper *k);

/*
 * Set-up failed: a keeper this daemon started holds nothing of value and is
 * released; a predecessor's keeper (the guest's data) is left for the next
 * daemon. Safe on KEEPER_INIT.
 */
void keeper_detach(struct keeper *k);

#endif
