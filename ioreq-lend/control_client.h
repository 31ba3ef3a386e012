/* SPDX-License-Identifier: MIT */
/*
 * The client side of the control socket (control_proto.h): what
 * ioreq-lend-ctl and the simulator's harness call, and what a GPU backend
 * can copy. Every function returns 0 (or an fd) or a negative errno for the
 * transport; the daemon's answer is the reply's status.
 */
#ifndef IOREQ_LEND_CONTROL_CLIENT_H
#define IOREQ_LEND_CONTROL_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#include "control_proto.h"

/* How long a client waits for a reply. */
#define CTL_REPLY_TIMEOUT_MS 10000

/*
 * The daemon's default socket: STATE_DIR/domN-SSSS:BB:DD.F.ctl. 0, or
 * -ENAMETOOLONG if it does not fit a socket address (len <= 108).
 */
int ctl_default_path(char *buf, size_t len, const char *state_dir, unsigned int domid,
                     unsigned int seg, unsigned int bus, unsigned int dev, unsigned int fn);

/* Connect to a daemon's control socket: the socket (close-on-exec), or -errno. */
int ctl_connect(const char *path);

/* A request of op with every other field zero. */
void ctl_request_init(struct ctl_request *req, enum ctl_op op);

/*
 * Send req (with fd as SCM_RIGHTS if >= 0; the caller keeps its copy) and
 * wait for its reply. 0 (then rep->status is the daemon's answer), or
 * -errno: -EPIPE if the daemon closed the connection, -ETIMEDOUT, -EPROTO
 * for a reply of the wrong size or magic.
 */
int ctl_call(int sock, const struct ctl_request *req, int fd, struct ctl_reply *rep);

#endif
