/* SPDX-License-Identifier: MIT */
#include "remap.h"

#include <errno.h>

/* Lending mode arrives with the lending ABI's implementation (issue: lending mode). */
int remap_create(struct remap **out, const struct remap_params *p)
{
    (void)p;
    *out = NULL;
    return -EOPNOTSUPP;
}

void remap_destroy(struct remap *r)
{
    (void)r;
}

int remap_window_change(struct remap *r, const struct bar_window *old_win,
                        const struct bar_window *new_win)
{
    (void)r;
    (void)old_win;
    (void)new_win;
    return -EOPNOTSUPP;
}

uint64_t remap_handle_access(struct remap *r, const ioreq_t *req)
{
    (void)r;
    (void)req;
    return IOREQ_ACCESS_FAIL;
}

void remap_apply_events(struct remap *r)
{
    (void)r;
}

int remap_fd(const struct remap *r)
{
    (void)r;
    return -1;
}
