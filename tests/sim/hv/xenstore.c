/* SPDX-License-Identifier: MIT */
/*
 * xenstored, as far as ioreq-lend uses it: a tree of nodes with values
 * (docs/misc/xenstore.txt). A write creates the missing parents with empty
 * values, as xenstored does; a removal takes the subtree; a directory lists
 * the immediate children; a missing node is ENOENT. Paths must be absolute
 * and well formed (EINVAL otherwise), as xenstored requires.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "hv.h"

/* "/a/b", no empty component, no trailing '/', printable characters only. */
static bool path_ok(const char *p)
{
    size_t n = strnlen(p, SIM_XS_PATH_MAX);

    if (n == 0 || n == SIM_XS_PATH_MAX || p[0] != '/' || (n > 1 && p[n - 1] == '/'))
        return false;
    /* xenstored's valid_chars(): letters, digits and -/_@ only (no ':' or '.'). */
    if (strspn(p, "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-/_@") != n)
        return false;
    for (size_t i = 0; i + 1 < n; i++)
        if (p[i] == '/' && p[i + 1] == '/')
            return false;
    return true;
}

static struct hv_xs_node *find(struct hv *hv, const char *path)
{
    for (unsigned int i = 0; i < HV_XS_NODES; i++)
        if (hv->xs[i].used && strcmp(hv->xs[i].path, path) == 0)
            return &hv->xs[i];
    return NULL;
}

/* Is node n at or below path? */
static bool below(const struct hv_xs_node *n, const char *path)
{
    size_t l = strlen(path);

    if (strcmp(path, "/") == 0)
        return true;
    return strncmp(n->path, path, l) == 0 && (n->path[l] == '\0' || n->path[l] == '/');
}

static int create(struct hv *hv, const char *path, struct hv_xs_node **out)
{
    struct hv_xs_node *n = find(hv, path);

    if (!n) {
        for (unsigned int i = 0; i < HV_XS_NODES && !n; i++)
            if (!hv->xs[i].used)
                n = &hv->xs[i];
        if (!n)
            return -ENOSPC; /* xenstored's quota, in effect */
        *n = (struct hv_xs_node){.used = true};
        snprintf(n->path, sizeof(n->path), "%s", path);
    }
    *out = n;
    return 0;
}

static int xs_write_locked(struct hv *hv, const char *path, const char *value, uint32_t len)
{
    char parent[SIM_XS_PATH_MAX];
    struct hv_xs_node *n;
    int rc;

    /* Every ancestor exists after a write. */
    snprintf(parent, sizeof(parent), "%s", path);
    for (char *slash = strchr(parent + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
        *slash = '\0';
        rc = create(hv, parent, &n);
        *slash = '/';
        if (rc)
            return rc;
    }
    rc = create(hv, path, &n);
    if (rc)
        return rc;
    memcpy(n->value, value, len);
    n->len = len;
    return 0;
}

static int xs_rm_locked(struct hv *hv, const char *path)
{
    unsigned int removed = 0;

    for (unsigned int i = 0; i < HV_XS_NODES; i++) {
        if (hv->xs[i].used && below(&hv->xs[i], path)) {
            hv->xs[i].used = false;
            removed++;
        }
    }
    return removed ? 0 : -ENOENT;
}

static int xs_directory_locked(struct hv *hv, const char *path, struct sim_reply *reply)
{
    size_t l = strcmp(path, "/") == 0 ? 0 : strlen(path), used = 0;

    if (l && !find(hv, path))
        return -ENOENT;
    reply->u.xs.len = 0;
    for (unsigned int i = 0; i < HV_XS_NODES; i++) {
        const struct hv_xs_node *n = &hv->xs[i];
        const char *name = n->path + l + 1;
        size_t nl;

        if (!n->used || !below(n, path) || n->path[l] != '/' || strchr(name, '/'))
            continue;
        nl = strlen(name) + 1;
        if (used + nl > sizeof(reply->u.xs.data))
            return -E2BIG;
        memcpy(reply->u.xs.data + used, name, nl);
        used += nl;
        reply->u.xs.len++;
    }
    return 0;
}

int hv_xs_dispatch(struct hv *hv, const struct sim_req *req, struct sim_reply *reply)
{
    const char *path = req->u.xs.path;
    struct hv_xs_node *n;
    int rc = 0;

    if (req->op != SIM_OP_XS_TX_START && req->op != SIM_OP_XS_TX_END && !path_ok(path))
        return -EINVAL;
    pthread_mutex_lock(&hv->lock);
    switch (req->op) {
    case SIM_OP_XS_READ:
        n = find(hv, path);
        if (!n) {
            rc = -ENOENT;
            break;
        }
        memcpy(reply->u.xs.data, n->value, n->len);
        reply->u.xs.len = n->len;
        break;
    case SIM_OP_XS_WRITE:
        rc = req->u.xs.len > SIM_XS_VALUE_MAX ? -E2BIG
                                              : xs_write_locked(hv, path, req->u.xs.value,
                                                                req->u.xs.len);
        break;
    case SIM_OP_XS_RM:
        rc = xs_rm_locked(hv, path);
        break;
    case SIM_OP_XS_DIRECTORY:
        rc = xs_directory_locked(hv, path, reply);
        break;
    case SIM_OP_XS_TX_START:
        reply->u.xs.tx = ++hv->xs_next_tx ? hv->xs_next_tx : ++hv->xs_next_tx;
        break;
    case SIM_OP_XS_TX_END:
        rc = req->u.xs.tx ? 0 : -EINVAL;
        break;
    default:
        rc = -ENOTTY;
    }
    pthread_mutex_unlock(&hv->lock);
    return rc;
}

int hv_xs_read(struct hv *hv, const char *path, char *buf, size_t len)
{
    struct hv_xs_node *n;
    int rc = -ENOENT;

    pthread_mutex_lock(&hv->lock);
    n = find(hv, path);
    if (n && len) {
        size_t l = n->len < len - 1 ? n->len : len - 1;
        memcpy(buf, n->value, l);
        buf[l] = '\0';
        rc = 0;
    }
    pthread_mutex_unlock(&hv->lock);
    return rc;
}

static unsigned int count_locked(struct hv *hv, const char *path)
{
    unsigned int count = 0;

    for (unsigned int i = 0; i < HV_XS_NODES; i++)
        count += hv->xs[i].used && below(&hv->xs[i], path);
    return count;
}

unsigned int hv_xs_count(struct hv *hv, const char *path)
{
    unsigned int count;

    pthread_mutex_lock(&hv->lock);
    count = count_locked(hv, path);
    pthread_mutex_unlock(&hv->lock);
    return count;
}

int hv_xs_wait_absent(struct hv *hv, const char *path, unsigned int timeout_ms)
{
    struct timespec deadline;
    int rc = 0;

    hv_deadline_in(&deadline, timeout_ms);
    pthread_mutex_lock(&hv->lock);
    /* A removal is followed by its writer's handle closing (conn_closed): no change is missed. */
    while (rc == 0 && count_locked(hv, path))
        rc = pthread_cond_timedwait(&hv->conn_closed, &hv->lock, &deadline);
    rc = count_locked(hv, path) ? -ETIMEDOUT : 0;
    pthread_mutex_unlock(&hv->lock);
    return rc;
}
