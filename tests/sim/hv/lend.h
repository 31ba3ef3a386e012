/* SPDX-License-Identifier: MIT */
/*
 * The lending extension in the simulated kernel and hypervisor: lend slots
 * registered on a privcmd-like handle, reverse foreign maps into the guest,
 * MMU-notifier style invalidation, and access-only ioreqs.
 */
#ifndef XENSIM_LEND_H
#define XENSIM_LEND_H

#include "hv.h"

/* Serve a SIM_OP_LEND_* call. */
int lend_dispatch(struct hv *hv, int conn, const struct sim_req *req, int fd_in,
                  struct sim_reply *reply, int *fd_reply);
/* The handle closed: every mapping of every slot it registered is revoked. */
void lend_close_conn(struct hv *hv, int conn, uint64_t *released_pages);

#endif
