/* SPDX-License-Identifier: MIT */
/*
 * One connection to the simulated hypervisor per library handle, and the
 * process-wide list of open handles that xentoolcore_restrict_all() walks
 * (the real libraries keep the same list in libxentoolcore).
 */
#ifndef XENSIM_CLIENT_CONN_H
#define XENSIM_CLIENT_CONN_H

#include <pthread.h>
#include <stdint.h>

#include "../proto.h"

struct sim_conn {
    int sock;
    enum sim_handle_kind kind;
    pthread_mutex_t lock; /* one call at a time per handle */
    struct sim_conn *next;
};

/*
 * Connect and say hello. On success *fd_out (if not NULL) receives the fd the
 * hypervisor sent along, or -1. Returns 0 or a negative errno (-ENOENT when
 * no simulator is configured: as if /dev/xen/privcmd did not exist).
 */
int sim_conn_open(struct sim_conn *c, enum sim_handle_kind kind, struct sim_reply *reply,
                  int *fd_out);
void sim_conn_close(struct sim_conn *c);

/*
 * A call: send req (and fd_in if >= 0), wait for the reply. Returns the
 * reply's rc (0 or negative errno), or a negative errno if the hypervisor is
 * gone (-ESRCH, as a hypercall to a dead hypervisor cannot be made).
 */
int sim_conn_call(struct sim_conn *c, const struct sim_req *req, struct sim_reply *reply,
                  int fd_in, int *fd_out);

/* A one-way message (unmask, notify). */
int sim_conn_send(struct sim_conn *c, const struct sim_req *req);

/* Convert a call's result to the libraries' convention: -1 with errno. */
int sim_errno_return(int rc);

/* Registry for xentoolcore_restrict_all(). */
void sim_conn_register(struct sim_conn *c);
void sim_conn_unregister(struct sim_conn *c);
int sim_conn_restrict_all(uint32_t domid);

#endif
