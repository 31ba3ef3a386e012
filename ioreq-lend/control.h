/* SPDX-License-Identifier: MIT */
/*
 * The control socket of a `--backing none` daemon (control_proto.h has the
 * wire format and the semantics): the listening socket, its clients, and
 * each request checked and applied to the regions (regions.c).
 *
 * Bounded: at most CONTROL_MAX_CLIENTS connections (one more is accepted and
 * closed at once, counted), one request read per readable event, a reply
 * that does not fit the client's socket buffer drops the client (it is not
 * reading), and the regions table is allocated once. A peer that sends
 * garbage, a short or long message, fds it should not, or disconnects gets
 * an error or is dropped; the guest is served meanwhile from the same loop.
 */
#ifndef IOREQ_LEND_CONTROL_H
#define IOREQ_LEND_CONTROL_H

#include <ev.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control_proto.h"
#include "counters.h"
#include "regions.h"

#define CONTROL_MAX_CLIENTS 16

struct control;

struct control_client {
    int fd; /* -1: free */
    ev_io watch;
    struct control *c;
};

struct control {
    char path[108]; /* sizeof(sockaddr_un.sun_path) */
    int listen_fd;  /* -1: not listening */
    struct regions *rs;
    struct counters *cnt;
    struct ev_loop *loop;
    ev_io accept_watch;
    struct control_client clients[CONTROL_MAX_CLIENTS];
};

/* Not listening; safe to pass to control_close(). */
void control_init(struct control *c);

/*
 * Listen on path (a stale socket there is replaced: the caller holds the
 * slot's lock), mode 0600, owned by user runas if given. 0, or -errno with
 * one line in err (nothing left behind).
 */
int control_listen(struct control *c, const char *path, const char *runas, struct regions *rs,
                   struct counters *cnt, char *err, size_t errlen);

/* Serve clients from loop. */
void control_start(struct control *c, struct ev_loop *loop);

/* Stop serving from the loop (before it is destroyed); clients stay connected. */
void control_stop(struct control *c);

/* Close every client and the socket, and remove it. Safe on control_init()'s state. */
void control_close(struct control *c);

/*
 * One request: msg (len bytes as received) with fd (-1: none; always
 * consumed: kept by a mapped region or closed) -> *rep. Pure but for the
 * regions it changes: what the socket code, the unit tests and the fuzz
 * target all call.
 */
void control_handle(struct regions *rs, struct counters *cnt, const void *msg, size_t len, int fd,
                    struct ctl_reply *rep);

#endif
