/* SPDX-License-Identifier: MIT */
#include "lend.h"

#include <errno.h>

int lend_dispatch(struct hv *hv, int conn, const struct sim_req *req, int fd_in,
                  struct sim_reply *reply, int *fd_reply)
{
    (void)hv;
    (void)conn;
    (void)req;
    (void)fd_in;
    (void)reply;
    (void)fd_reply;
    /* A kernel without the extension: unknown privcmd ioctl. */
    return -ENOTTY;
}

void lend_close_conn(struct hv *hv, int conn, uint64_t *released_pages)
{
    (void)hv;
    (void)conn;
    (void)released_pages;
}
