/* SPDX-License-Identifier: MIT */
/*
 * Interdomain event channels between the guest (where Xen allocates one
 * unbound port per vCPU and ioreq server) and dom0 (where the device model
 * binds them through an event channel handle).
 *
 * Delivery to dom0 follows Linux's evtchn driver: a delivered port is masked
 * until the handle unmasks it; notifications while masked set it pending and
 * coalesce; unmasking a pending port delivers it again. Binding delivers one
 * event straight away, as Xen's evtchn_bind_interdomain() does to cover
 * notifications lost while the port was unbound: device models must cope
 * with spurious wake-ups.
 *
 * The delivery flags, each dom0 port's owner and vCPU, and the vCPUs' wake
 * words live in a page shared with the event channel handles
 * (struct hv_evtchn_shm): a handle notifies and unmasks its own ports there
 * without a round trip, as a domain sets pending and mask bits in its
 * shared info page. Anything else (another handle's port, an unmask that
 * must redeliver) comes here as a message.
 */
#include <errno.h>
#include <string.h>
#include <unistd.h>

#include "futex.h"
#include "hv.h"

int hv_evtchn_alloc_locked(struct hv *hv, int vcpu, uint32_t *port)
{
    for (uint32_t p = HV_FIRST_DOMU_PORT; p < HV_MAX_PORTS; p++) {
        if (!hv->chan[p].allocated) {
            hv->chan[p] = (struct hv_chan){.allocated = true, .vcpu = vcpu};
            *port = p;
            return 0;
        }
    }
    return -ENOSPC;
}

/* What dom0's notify on local_port wakes, as the handles see it in the shared page. */
static void publish_locked(struct hv *hv, uint32_t local_port)
{
    struct hv_local_port *lp = &hv->local[local_port];
    int vcpu = lp->used && lp->domu_port ? hv->chan[lp->domu_port].vcpu : -1;

    atomic_store(&hv->evt->port[local_port].owner, lp->used ? (unsigned int)lp->conn + 1 : 0);
    atomic_store(&hv->evt->port[local_port].vcpu, vcpu >= 0 ? (unsigned int)vcpu + 1 : 0);
}

void hv_evtchn_free_locked(struct hv *hv, uint32_t port)
{
    struct hv_chan *ch = &hv->chan[port];

    /* dom0's end stays allocated but unbound: its notifications go nowhere. */
    if (ch->local_port) {
        hv->local[ch->local_port].domu_port = 0;
        publish_locked(hv, ch->local_port);
    }
    *ch = (struct hv_chan){0};
}

/* Write the port into the handle's event pipe; the caller has set MASKED. */
static void deliver_locked(struct hv *hv, uint32_t local_port)
{
    struct hv_local_port *lp = &hv->local[local_port];
    int fd = hv->conn[lp->conn].event_wfd;

    atomic_fetch_add_explicit(&hv->stats.events_to_dom0, 1, memory_order_relaxed);
    /* EPIPE: the handle's process is gone and its close not yet seen; nothing to deliver. */
    if (fd >= 0 && write(fd, &local_port, sizeof(local_port)) != sizeof(local_port) &&
        errno != EPIPE)
        hv_fail(hv, "event pipe of dom0 port %u is full (%s)", local_port, strerror(errno));
}

void hv_evtchn_send_to_dom0_locked(struct hv *hv, uint32_t domu_port)
{
    struct hv_chan *ch;

    if (domu_port == 0 || domu_port >= HV_MAX_PORTS)
        return;
    ch = &hv->chan[domu_port];
    if (ch->allocated && ch->local_port) {
        atomic_uint *flags = &hv->evt->port[ch->local_port].flags;
        unsigned int old = atomic_load(flags), new;

        /* Masked: remember it. Else mask it and deliver: the handle unmasks when done. */
        do {
            new = old & CHAN_MASKED ? old | CHAN_PENDING : old | CHAN_MASKED;
        } while (!atomic_compare_exchange_weak(flags, &old, new));
        if (!(old & CHAN_MASKED))
            deliver_locked(hv, ch->local_port);
    }
}

void hv_evtchn_send_to_dom0(struct hv *hv, uint32_t domu_port)
{
    pthread_mutex_lock(&hv->lock);
    hv_evtchn_send_to_dom0_locked(hv, domu_port);
    pthread_mutex_unlock(&hv->lock);
}

/* The handle must own the port; -ENOTCONN as Linux's evtchn driver says otherwise. */
static struct hv_local_port *owned_port_locked(struct hv *hv, int conn, uint32_t local_port)
{
    if (local_port == 0 || local_port >= HV_MAX_PORTS)
        return NULL;
    if (!hv->local[local_port].used || hv->local[local_port].conn != conn)
        return NULL;
    return &hv->local[local_port];
}

int hv_evtchn_bind(struct hv *hv, int conn, uint32_t domu_port, uint32_t *local_port)
{
    int rc = -EINVAL;

    pthread_mutex_lock(&hv->lock);
    if (hv->state != DOM_ALIVE) {
        rc = -ESRCH;
        goto out;
    }
    if (domu_port == 0 || domu_port >= HV_MAX_PORTS || !hv->chan[domu_port].allocated ||
        hv->chan[domu_port].local_port)
        goto out;
    rc = -ENOSPC;
    for (uint32_t p = HV_FIRST_LOCAL_PORT; p < HV_MAX_PORTS; p++) {
        if (hv->local[p].used)
            continue;
        hv->local[p] = (struct hv_local_port){.used = true, .conn = conn, .domu_port = domu_port};
        hv->chan[domu_port].local_port = p;
        *local_port = p;
        publish_locked(hv, p);
        /* Conservatively notify, as Xen does on bind. */
        atomic_store(&hv->evt->port[p].flags, CHAN_MASKED);
        deliver_locked(hv, p);
        rc = 0;
        break;
    }
out:
    pthread_mutex_unlock(&hv->lock);
    return rc;
}

static void unbind_locked(struct hv *hv, uint32_t local_port)
{
    struct hv_local_port *lp = &hv->local[local_port];

    /* The guest's end returns to unbound, as after EVTCHNOP_close in dom0. */
    if (lp->domu_port)
        hv->chan[lp->domu_port].local_port = 0;
    *lp = (struct hv_local_port){0};
    publish_locked(hv, local_port);
    atomic_store(&hv->evt->port[local_port].flags, 0);
}

int hv_evtchn_unbind(struct hv *hv, int conn, uint32_t local_port)
{
    int rc = -ENOTCONN;

    pthread_mutex_lock(&hv->lock);
    if (owned_port_locked(hv, conn, local_port)) {
        unbind_locked(hv, local_port);
        rc = 0;
    }
    pthread_mutex_unlock(&hv->lock);
    return rc;
}

int hv_evtchn_notify_from_dom0(struct hv *hv, int conn, uint32_t local_port)
{
    struct hv_local_port *lp;
    int vcpu = -1, rc = 0;

    pthread_mutex_lock(&hv->lock);
    lp = owned_port_locked(hv, conn, local_port);
    if (!lp)
        rc = -ENOTCONN;
    else if (lp->domu_port)
        vcpu = hv->chan[lp->domu_port].vcpu;
    pthread_mutex_unlock(&hv->lock);
    if (rc)
        return rc;
    atomic_fetch_add_explicit(&hv->evt->events_from_dom0, 1, memory_order_relaxed);
    if (vcpu >= 0) {
        atomic_fetch_add(hv->vcpu[vcpu].wake, 1);
        futex_wake_all(hv->vcpu[vcpu].wake);
    }
    return 0;
}

int hv_evtchn_unmask(struct hv *hv, int conn, uint32_t local_port)
{
    struct hv_local_port *lp;
    int rc = -ENOTCONN;

    pthread_mutex_lock(&hv->lock);
    lp = owned_port_locked(hv, conn, local_port);
    if (lp) {
        atomic_uint *flags = &hv->evt->port[local_port].flags;
        unsigned int old = atomic_load(flags), new;

        rc = 0;
        /* Unmask; a notification that came while masked is delivered now (and masks again). */
        do {
            new = old & CHAN_PENDING ? CHAN_MASKED : old & ~CHAN_MASKED;
        } while (!atomic_compare_exchange_weak(flags, &old, new));
        if (old & CHAN_PENDING)
            deliver_locked(hv, local_port);
    }
    pthread_mutex_unlock(&hv->lock);
    return rc;
}

void hv_evtchn_close_conn(struct hv *hv, int conn, uint64_t *released)
{
    pthread_mutex_lock(&hv->lock);
    for (uint32_t p = HV_FIRST_LOCAL_PORT; p < HV_MAX_PORTS; p++) {
        if (hv->local[p].used && hv->local[p].conn == conn) {
            /* The handle never unbound it: closing the handle does. */
            (*released)++;
            unbind_locked(hv, p);
        }
    }
    pthread_mutex_unlock(&hv->lock);
}
