/* SPDX-License-Identifier: MIT */
/*
 * Ioreq servers as Xen 4.17 implements them (xen/common/ioreq.c,
 * xen/arch/x86/hvm/ioreq.c): creation with per-vCPU event channels, pages
 * allocated on first use by either the resource or the gfn scheme (never
 * both), vp_eport written at enable time, ranges with Xen's rangeset rules,
 * selection highest id first among enabled servers, and the vCPU side of a
 * request: write the slot, notify, block, and check every state the device
 * model leaves behind.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <time.h>

#include "futex.h"
#include "hv.h"
#include "lend_abi.h"

/* ioreq_t's state:4 bitfield lives in the low nibble of byte 30. */
#define SLOT_FLAGS_OFFSET 30
_Static_assert(sizeof(ioreq_t) == 32, "ioreq_t is 32 bytes");
_Static_assert(offsetof(ioreq_t, vp_eport) == 24, "vp_eport offset");
_Static_assert(offsetof(ioreq_t, type) == 31, "type offset");
_Static_assert(sizeof(buffered_iopage_t) <= HV_PAGE_SIZE, "buffered page fits");

/* Gfns handed out by the legacy get_info scheme (below the special pages). */
#define IOREQ_GFN_BASE 0xfeff0ULL

static uint8_t slot_state(ioreq_t *slot)
{
    return __atomic_load_n((uint8_t *)slot + SLOT_FLAGS_OFFSET, __ATOMIC_ACQUIRE) & 0xf;
}

static void slot_set_state(ioreq_t *slot, uint8_t state)
{
    uint8_t *b = (uint8_t *)slot + SLOT_FLAGS_OFFSET;
    uint8_t old = __atomic_load_n(b, __ATOMIC_RELAXED);

    __atomic_store_n(b, (uint8_t)((old & 0xf0) | state), __ATOMIC_RELEASE);
}

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static struct hv_server *server_get_locked(struct hv *hv, uint16_t id)
{
    if (id >= HV_MAX_SERVERS || !hv->server[id].used)
        return NULL;
    return &hv->server[id];
}

int hv_server_create(struct hv *hv, int bufioreq, pid_t creator, uint16_t *id)
{
    struct hv_server *s = NULL;
    uint16_t i;
    int rc;

    if (bufioreq < HVM_IOREQSRV_BUFIOREQ_OFF || bufioreq > HVM_IOREQSRV_BUFIOREQ_ATOMIC)
        return -EINVAL;
    pthread_mutex_lock(&hv->lock);
    for (i = 0; i < HV_MAX_SERVERS; i++) {
        if (!hv->server[i].used) {
            s = &hv->server[i];
            break;
        }
    }
    rc = -ENOSPC;
    if (!s)
        goto out;
    uint32_t generation = s->generation;
    memset(s, 0, sizeof(*s));
    s->generation = generation;
    s->bufioreq_handling = bufioreq;
    s->creator_pid = creator;
    for (unsigned int t = 0; t < HV_NR_RANGE_TYPES; t++)
        rangeset_init(&s->range[t]);
    /* One unbound channel per vCPU, plus the buffered one (ioreq_server_add_vcpu). */
    for (unsigned int v = 0; v < hv->cfg.vcpus; v++) {
        rc = hv_evtchn_alloc_locked(hv, (int)v, &s->vcpu_port[v]);
        if (rc)
            goto undo;
    }
    if (bufioreq != HVM_IOREQSRV_BUFIOREQ_OFF) {
        rc = hv_evtchn_alloc_locked(hv, -1, &s->buf_port);
        if (rc)
            goto undo;
    }
    s->used = true;
    *id = i;
    rc = 0;
    goto out;
undo:
    for (unsigned int v = 0; v < hv->cfg.vcpus; v++)
        if (s->vcpu_port[v])
            hv_evtchn_free_locked(hv, s->vcpu_port[v]);
    memset(s, 0, sizeof(*s));
    s->generation = generation;
out:
    pthread_mutex_unlock(&hv->lock);
    return rc;
}

int hv_server_destroy(struct hv *hv, uint16_t id)
{
    struct hv_server *s;

    pthread_mutex_lock(&hv->lock);
    s = server_get_locked(hv, id);
    if (!s) {
        pthread_mutex_unlock(&hv->lock);
        return -ENOENT;
    }
    for (unsigned int v = 0; v < hv->cfg.vcpus; v++)
        hv_evtchn_free_locked(hv, s->vcpu_port[v]);
    if (s->buf_port)
        hv_evtchn_free_locked(hv, s->buf_port);
    /* The pages stay in the pool, never reused: a device model may still map them. */
    uint32_t generation = s->generation + 1;
    memset(s, 0, sizeof(*s));
    s->generation = generation;
    pthread_mutex_unlock(&hv->lock);
    /* A vCPU waiting on this server completes, as after Xen destroys it. */
    for (unsigned int v = 0; v < hv->cfg.vcpus; v++) {
        atomic_fetch_add(hv->vcpu[v].wake, 1);
        futex_wake_all(hv->vcpu[v].wake);
    }
    return 0;
}

/* ioreq_server_alloc_pages(): both pages at once, contiguous (bufioreq first). */
static int server_alloc_pages_locked(struct hv *hv, struct hv_server *s)
{
    uint64_t f;

    if (s->pages_allocated)
        return 0;
    f = hv_alloc_xen_frames(hv, 2);
    if (f == UINT64_MAX)
        return -ENOMEM;
    s->bufioreq_frame = f;
    s->ioreq_frame = f + 1;
    s->bufpage = hv_frame_ptr(hv, s->bufioreq_frame);
    s->iopage = hv_frame_ptr(hv, s->ioreq_frame);
    s->pages_allocated = true;
    return 0;
}

int hv_server_get_frame(struct hv *hv, uint16_t id, uint64_t idx, uint64_t *frame)
{
    struct hv_server *s;
    int rc = -ENOENT;

    pthread_mutex_lock(&hv->lock);
    s = server_get_locked(hv, id);
    if (!s)
        goto out;
    /* A page exposed through a guest frame may not also be a resource. */
    rc = -EPERM;
    if (s->gfn_scheme)
        goto out;
    rc = server_alloc_pages_locked(hv, s);
    if (rc)
        goto out;
    if (idx == XENMEM_resource_ioreq_server_frame_bufioreq) {
        rc = -ENOENT;
        if (s->bufioreq_handling == HVM_IOREQSRV_BUFIOREQ_OFF)
            goto out;
        *frame = s->bufioreq_frame;
        rc = 0;
    } else if (idx == (uint64_t)XENMEM_resource_ioreq_server_frame_ioreq(0)) {
        *frame = s->ioreq_frame;
        rc = 0;
    } else {
        rc = -EINVAL;
    }
out:
    pthread_mutex_unlock(&hv->lock);
    return rc;
}

int hv_server_get_info(struct hv *hv, uint16_t id, bool want_gfns, uint64_t *ioreq_gfn,
                       uint64_t *bufioreq_gfn, uint32_t *buf_port)
{
    struct hv_server *s;
    int rc = -ENOENT;

    pthread_mutex_lock(&hv->lock);
    s = server_get_locked(hv, id);
    if (!s)
        goto out;
    if (want_gfns) {
        /* hvm_map_ioreq_gfn(): pages already handed out as a resource: EPERM. */
        rc = -EPERM;
        if (s->pages_allocated && !s->gfn_scheme)
            goto out;
        rc = server_alloc_pages_locked(hv, s);
        if (rc)
            goto out;
        s->gfn_scheme = true;
        s->ioreq_gfn = IOREQ_GFN_BASE - 2ULL * id;
        *ioreq_gfn = s->ioreq_gfn;
        /* arch_ioreq_server_map_pages(): a buffered gfn only when there is a ring. */
        if (s->bufioreq_handling != HVM_IOREQSRV_BUFIOREQ_OFF) {
            s->bufioreq_gfn = s->ioreq_gfn - 1;
            *bufioreq_gfn = s->bufioreq_gfn;
        }
    }
    if (s->bufioreq_handling != HVM_IOREQSRV_BUFIOREQ_OFF)
        *buf_port = s->buf_port;
    rc = 0;
out:
    pthread_mutex_unlock(&hv->lock);
    return rc;
}

static bool range_type_valid(const struct hv *hv, uint32_t type)
{
    if (type <= XEN_DMOP_IO_RANGE_PCI)
        return true;
    /* The lending extension's access-only type; stock Xen says EINVAL. */
    return type == XEN_DMOP_IO_RANGE_ACCESS && hv->cfg.lend_xen;
}

int hv_server_map_range(struct hv *hv, uint16_t id, uint32_t type, uint64_t s_, uint64_t e)
{
    struct hv_server *s;
    int rc;

    if (s_ > e)
        return -EINVAL;
    pthread_mutex_lock(&hv->lock);
    rc = -ENOENT;
    s = server_get_locked(hv, id);
    if (!s)
        goto out;
    rc = -EINVAL;
    if (!range_type_valid(hv, type))
        goto out;
    rc = -EEXIST;
    if (rangeset_overlaps(&s->range[type], s_, e))
        goto out;
    rc = rangeset_add(&s->range[type], s_, e);
out:
    pthread_mutex_unlock(&hv->lock);
    return rc;
}

int hv_server_unmap_range(struct hv *hv, uint16_t id, uint32_t type, uint64_t s_, uint64_t e)
{
    struct hv_server *s;
    int rc;

    if (s_ > e)
        return -EINVAL;
    pthread_mutex_lock(&hv->lock);
    rc = -ENOENT;
    s = server_get_locked(hv, id);
    if (!s)
        goto out;
    rc = -EINVAL;
    if (!range_type_valid(hv, type))
        goto out;
    rc = -ENOENT;
    if (!rangeset_contains(&s->range[type], s_, e))
        goto out;
    rc = rangeset_remove(&s->range[type], s_, e);
out:
    pthread_mutex_unlock(&hv->lock);
    return rc;
}

int hv_server_set_state(struct hv *hv, uint16_t id, bool enabled)
{
    struct hv_server *s;
    int rc = -ENOENT;

    pthread_mutex_lock(&hv->lock);
    s = server_get_locked(hv, id);
    if (s && enabled != s->enabled) {
        /*
         * The gfn scheme's pages leave the guest's p2m at enable and return at
         * disable, cleared each time (hvm_remove_ioreq_gfn(), hvm_add_ioreq_gfn()).
         */
        if (s->gfn_scheme) {
            memset(s->iopage, 0, HV_PAGE_SIZE);
            if (s->bufioreq_handling != HVM_IOREQSRV_BUFIOREQ_OFF)
                memset(s->bufpage, 0, HV_PAGE_SIZE);
        }
        if (enabled && s->iopage) {
            /* ioreq_server_update_evtchn(): only if the page exists by now. */
            for (unsigned int v = 0; v < hv->cfg.vcpus; v++)
                s->iopage->vcpu_ioreq[v].vp_eport = s->vcpu_port[v];
        }
        s->enabled = enabled;
    }
    if (s)
        rc = 0;
    pthread_mutex_unlock(&hv->lock);
    return rc;
}

/* ioreq_mmio_first_byte() / ioreq_mmio_last_byte() */
static uint64_t mmio_first_byte(const ioreq_t *p)
{
    return p->df ? p->addr - (p->count - 1ULL) * p->size : p->addr;
}

static uint64_t mmio_last_byte(const ioreq_t *p)
{
    return p->df ? p->addr + p->size - 1 : p->addr + (uint64_t)p->count * p->size - 1;
}

#define CF8_ENABLED(cf8) ((cf8) & 0x80000000u)

/*
 * ioreq_server_select(): the highest enabled server whose range of the
 * request's type holds the whole access. A config data cycle becomes
 * PCI_CONFIG with addr = sbdf << 32 | register.
 */
static int server_select_locked(struct hv *hv, ioreq_t *p)
{
    uint32_t type;
    uint64_t addr = p->addr;

    if (p->type == IOREQ_TYPE_PIO && (p->addr & ~3ULL) == 0xcfc && CF8_ENABLED(hv->pci_cf8)) {
        uint32_t cf8 = hv->pci_cf8;
        uint32_t sbdf = (cf8 >> 8) & 0xffff; /* segment 0, bus, devfn */
        uint32_t reg = (cf8 & 0xfc) | (uint32_t)(p->addr & 3);

        type = XEN_DMOP_IO_RANGE_PCI;
        addr = ((uint64_t)sbdf << 32) | reg;
    } else if (p->type == IOREQ_TYPE_PIO) {
        type = XEN_DMOP_IO_RANGE_PORT;
    } else if (p->type == IOREQ_TYPE_COPY) {
        type = XEN_DMOP_IO_RANGE_MEMORY;
    } else {
        return -1;
    }
    for (int id = HV_MAX_SERVERS - 1; id >= 0; id--) {
        struct hv_server *s = &hv->server[id];

        if (!s->used || !s->enabled)
            continue;
        switch (type) {
        case XEN_DMOP_IO_RANGE_PORT:
            if (rangeset_contains(&s->range[type], addr, addr + p->size - 1))
                return id;
            break;
        case XEN_DMOP_IO_RANGE_MEMORY:
            if (rangeset_contains(&s->range[type], mmio_first_byte(p), mmio_last_byte(p)))
                return id;
            break;
        case XEN_DMOP_IO_RANGE_PCI:
            if (rangeset_contains(&s->range[type], addr >> 32, addr >> 32)) {
                p->type = IOREQ_TYPE_PCI_CONFIG;
                p->addr = addr;
                return id;
            }
            break;
        }
    }
    return -1;
}

static void count_request(struct hv *hv, const ioreq_t *p)
{
    atomic_uint_fast64_t *c;

    switch (p->type) {
    case IOREQ_TYPE_COPY: c = &hv->stats.ioreq_copy; break;
    case IOREQ_TYPE_PCI_CONFIG: c = &hv->stats.ioreq_pci_config; break;
    case IOREQ_TYPE_PIO: c = &hv->stats.ioreq_pio; break;
    case IOREQ_TYPE_INVALIDATE: c = &hv->stats.ioreq_invalidate; break;
    default:
        c = p->type == HV_IOREQ_TYPE_ACCESS ? &hv->stats.ioreq_access : &hv->stats.ioreq_other;
        break;
    }
    atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/*
 * Where a synchronous request goes: the server, the vCPU's slot and port,
 * taken together under hv->lock (the server may be destroyed while the vCPU
 * waits; its page stays in the pool).
 */
struct ioreq_target {
    struct hv_server *s;
    ioreq_t *slot;
    uint32_t port;
    uint32_t generation;
};

/* ioreq_send(), synchronous half: put the request in the vCPU's slot and notify. */
static bool slot_post(struct hv_vcpu *v, const struct ioreq_target *t, const ioreq_t *p)
{
    struct hv *hv = v->hv;
    ioreq_t *slot = t->slot;
    ioreq_t req = *p;
    uint8_t state = slot_state(slot);

    if (state != STATE_IOREQ_NONE) {
        hv_fail(hv, "vCPU %u: device model set bad IO state %u in the slot of server %u", v->id,
                state, (unsigned int)(t->s - hv->server));
        return false;
    }
    if (slot->vp_eport != t->port) {
        hv_fail(hv, "vCPU %u: device model set bad event channel %u (expected %u)", v->id,
                slot->vp_eport, t->port);
        return false;
    }
    req.state = STATE_IOREQ_NONE;
    req.vp_eport = t->port;
    memcpy(slot, &req, sizeof(req));
    /* The request is complete in the slot before it is marked READY. */
    atomic_thread_fence(memory_order_release);
    slot_set_state(slot, STATE_IOREQ_READY);
    count_request(hv, p);
    hv_evtchn_send_to_dom0(hv, t->port);
    return true;
}

/* Fields the device model must leave alone: everything but state and data. */
static void check_untouched(struct hv *hv, unsigned int vcpu, const ioreq_t *sent,
                            const ioreq_t *now)
{
    if (now->addr != sent->addr || now->count != sent->count || now->size != sent->size ||
        now->type != sent->type || now->dir != sent->dir || now->df != sent->df ||
        now->data_is_ptr != sent->data_is_ptr || now->vp_eport != sent->vp_eport)
        hv_fail(hv, "vCPU %u: device model changed request fields other than data", vcpu);
}

/*
 * What a vCPU waiting for answers keeps: the wake counter's value when it
 * last went to sleep, and whether it has been woken since posting. Xen
 * blocks the vCPU before it marks a request READY
 * (prepare_wait_on_xen_event_channel()), and only dom0's notification of one
 * of its ports wakes it: until then it does not look at any slot, answered
 * or not.
 */
struct vcpu_wait {
    unsigned int wake;
    bool woken;
    uint64_t deadline;
};

static void vcpu_wait_init(struct hv_vcpu *v, struct vcpu_wait *w)
{
    w->wake = atomic_load(v->wake);
    w->woken = false;
    w->deadline = now_ns() + (uint64_t)v->hv->cfg.ioreq_timeout_ms * 1000000ULL;
}

/*
 * Sleep until dom0 notifies one of this vCPU's ports. Returns true when
 * woken; false when the wait ended otherwise, with *r the request's result.
 */
static bool vcpu_block(struct hv_vcpu *v, const struct ioreq_target *t, struct vcpu_wait *w,
                       unsigned int seen, ioreq_t *p, enum hv_send_result *r)
{
    struct hv *hv = v->hv;

    atomic_store(&v->blocked_state, seen);
    atomic_fetch_add(&v->blocked, 1);
    futex_wake_all(&v->blocked);
    for (;;) {
        unsigned int now;

        futex_wait_ms(v->wake, w->wake, 50);
        now = atomic_load(v->wake);
        if (hv->state != DOM_ALIVE) {
            *r = HV_IO_DEAD;
            return false;
        }
        /* Notified: the slot is read next (its page outlives the server in the sim). */
        if (now != w->wake) {
            w->wake = now;
            w->woken = true;
            return true;
        }
        if (!t->s->used || t->s->generation != t->generation) {
            /* Destroyed under us: Xen completes the I/O with nothing pending. */
            p->data = ~0ULL;
            *r = HV_IO_HANDLED;
            return false;
        }
        if (now_ns() > w->deadline) {
            unsigned int state = slot_state(t->slot);

            if (state == STATE_IORESP_READY)
                hv_fail(hv, "vCPU %u: answered but the port was never notified", v->id);
            else
                hv_fail(hv, "vCPU %u: no answer after %u ms (state %u); Xen would wait forever",
                        v->id, hv->cfg.ioreq_timeout_ms, state);
            v->stuck = true;
            *r = HV_IO_DEAD;
            return false;
        }
    }
}

/*
 * wait_for_io(): once woken, follow the slot's state until the answer. A
 * state going backwards or an unknown state crashes the domain. A slot back
 * at NONE ends the wait with all ones, without a crash (Xen: "an emulator
 * dying races with I/O being requested"). Returns HV_IO_HANDLED with
 * p->data set from the answer.
 */
static enum hv_send_result slot_wait(struct hv_vcpu *v, const struct ioreq_target *t, ioreq_t *p,
                                     struct vcpu_wait *w)
{
    struct hv *hv = v->hv;
    ioreq_t *slot = t->slot;
    unsigned int prev_state = STATE_IOREQ_NONE, state;
    enum hv_send_result r;

    if (!w->woken && !vcpu_block(v, t, w, STATE_IOREQ_READY, p, &r))
        return r;
    state = slot_state(slot);
    while (state != STATE_IOREQ_NONE) {
        if (state < prev_state) {
            hv_fail(hv, "vCPU %u: weird HVM ioreq state transition %u -> %u (domain crash)",
                    v->id, prev_state, state);
            atomic_store(&hv->crashed, true);
            return HV_IO_DEAD;
        }
        switch (prev_state = state) {
        case STATE_IORESP_READY: {
            ioreq_t now;

            memcpy(&now, slot, sizeof(now));
            check_untouched(hv, v->id, p, &now);
            p->data = now.data;
            slot_set_state(slot, STATE_IOREQ_NONE);
            return HV_IO_HANDLED;
        }
        case STATE_IOREQ_READY:
        case STATE_IOREQ_INPROCESS:
            break;
        default:
            hv_fail(hv, "vCPU %u: weird HVM iorequest state %u (domain crash)", v->id, state);
            atomic_store(&hv->crashed, true);
            return HV_IO_DEAD;
        }
        /* wait_on_xen_event_channel(): sleep until the state may have changed. */
        if (!vcpu_block(v, t, w, state, p, &r))
            return r;
        state = slot_state(slot);
    }
    /* Back at NONE without an answer: the I/O completes with all ones. */
    p->data = ~0ULL;
    return HV_IO_HANDLED;
}

/*
 * May a synchronous request be posted to server id? Fills *t if so. Xen's
 * get_ioreq() takes the ioreq page for granted (ASSERT(p != NULL)): a
 * request to an enabled server whose page was never allocated would fault
 * in Xen itself.
 */
static bool target_get(struct hv_vcpu *v, unsigned int id, struct ioreq_target *t)
{
    struct hv *hv = v->hv;
    struct hv_server *s = &hv->server[id];
    bool ok = false;

    pthread_mutex_lock(&hv->lock);
    if (s->used && s->enabled && !s->iopage)
        hv_fail(hv,
                "request to enabled ioreq server %u that has no ioreq page (Xen would "
                "dereference a NULL page)",
                id);
    else if (s->used && s->enabled) {
        *t = (struct ioreq_target){.s = s,
                                   .slot = &s->iopage->vcpu_ioreq[v->id],
                                   .port = s->vcpu_port[v->id],
                                   .generation = s->generation};
        ok = true;
    }
    pthread_mutex_unlock(&hv->lock);
    return ok;
}

/*
 * from_guest: Xen built the request from a guest instruction, so the bytes
 * of a COPY are guest data the device model moved (dm.emulated_bytes); a
 * request forged as a hostile Xen would send it moves nothing that counts.
 */
static enum hv_send_result send_sync(struct hv_vcpu *v, int id, ioreq_t *p, bool from_guest)
{
    struct hv *hv = v->hv;
    struct ioreq_target t;
    ioreq_t sent;
    enum hv_send_result r;
    struct vcpu_wait w;
    uint64_t t0;

    if (!target_get(v, (unsigned int)id, &t))
        return HV_IO_UNCLAIMED;
    t0 = now_ns();
    sent = *p;
    sent.vp_eport = t.port;
    vcpu_wait_init(v, &w);
    if (!slot_post(v, &t, &sent))
        return HV_IO_UNCLAIMED;
    if (hv->after_post)
        hv->after_post(v, t.slot, hv->after_post_arg);
    r = slot_wait(v, &t, &sent, &w);
    p->data = sent.data;
    if (r == HV_IO_HANDLED) {
        uint64_t dt = now_ns() - t0;

        if (p->type == IOREQ_TYPE_COPY) {
            hv_hist_add(&hv->stats.lat_copy, dt);
            if (from_guest)
                atomic_fetch_add_explicit(&hv->stats.emulated_bytes,
                                          (uint64_t)p->size * p->count, memory_order_relaxed);
        } else if (p->type == HV_IOREQ_TYPE_ACCESS) {
            hv_hist_add(&hv->stats.lat_access, dt);
        }
    }
    return r;
}

/*
 * ioreq_send_buffered(): only for writes of 1..8 bytes below 1 MiB without a
 * data pointer; 8 bytes take two slots. Returns false if the request must go
 * the synchronous way (not bufferable, or the ring is full).
 */
static bool send_buffered(struct hv *hv, struct hv_server *s, const ioreq_t *p)
{
    buffered_iopage_t *pg = s->bufpage;
    buf_ioreq_t bp = {.type = p->type, .dir = p->dir, .addr = (uint32_t)(p->addr & 0xfffff)};
    unsigned int qw = 0;
    uint32_t rp, wp;

    if (!pg || p->addr > 0xfffff || p->data_is_ptr || p->count != 1)
        return false;
    switch (p->size) {
    case 1: bp.size = 0; break;
    case 2: bp.size = 1; break;
    case 4: bp.size = 2; break;
    case 8: bp.size = 3; qw = 1; break;
    default: return false;
    }
    bp.data = (uint32_t)p->data;
    rp = __atomic_load_n(&pg->read_pointer, __ATOMIC_ACQUIRE);
    wp = pg->write_pointer;
    if (wp - rp > IOREQ_BUFFER_SLOT_NUM) {
        hv_fail(hv, "buffered ring pointers corrupt: read %u write %u", rp, wp);
        return false;
    }
    if (wp - rp >= IOREQ_BUFFER_SLOT_NUM - qw)
        return false;
    pg->buf_ioreq[wp % IOREQ_BUFFER_SLOT_NUM] = bp;
    if (qw) {
        bp.data = (uint32_t)(p->data >> 32);
        pg->buf_ioreq[(wp + 1) % IOREQ_BUFFER_SLOT_NUM] = bp;
    }
    /* The slots are visible before write_pointer moves. */
    __atomic_store_n(&pg->write_pointer, wp + 1 + qw, __ATOMIC_RELEASE);
    /* Canonicalise both pointers, as Xen does with ATOMIC handling. */
    while (s->bufioreq_handling == HVM_IOREQSRV_BUFIOREQ_ATOMIC && qw++ < IOREQ_BUFFER_SLOT_NUM) {
        uint64_t *ptrs = (uint64_t *)pg;
        uint64_t old = __atomic_load_n(ptrs, __ATOMIC_ACQUIRE);
        uint32_t r = (uint32_t)old, w = (uint32_t)(old >> 32);

        if (r < IOREQ_BUFFER_SLOT_NUM)
            break;
        uint32_t n = r / IOREQ_BUFFER_SLOT_NUM;
        uint64_t new = ((uint64_t)(w - n * IOREQ_BUFFER_SLOT_NUM) << 32) |
                       (r - n * IOREQ_BUFFER_SLOT_NUM);
        __atomic_compare_exchange_n(ptrs, &old, new, false, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE);
    }
    atomic_fetch_add_explicit(&hv->stats.ioreq_buffered, 1, memory_order_relaxed);
    /* The caller holds hv->lock (Xen notifies under the bufioreq lock too). */
    hv_evtchn_send_to_dom0_locked(hv, s->buf_port);
    return true;
}

/* stdvga's memory window: the one place Xen 4.17 buffers guest writes. */
static bool is_vga_write(const ioreq_t *p)
{
    return p->type == IOREQ_TYPE_COPY && p->dir == IOREQ_WRITE && p->addr >= 0xa0000 &&
           p->addr + p->size <= 0xc0000;
}

/*
 * The write stdvga's handler would try to buffer: stdvga_mem_accept() takes
 * single writes only, and hvm_process_io_intercept() hands it the data
 * already fetched from guest RAM when the instruction had a RAM operand
 * (rep movs of one element), so what reaches the ring is plain data.
 */
static bool vga_bufferable_locked(struct hv *hv, const ioreq_t *p, ioreq_t *out)
{
    uint64_t off = p->data & (HV_PAGE_SIZE - 1), d = 0;
    int64_t frame;

    if (!is_vga_write(p) || p->count != 1)
        return false;
    *out = *p;
    if (!p->data_is_ptr)
        return true;
    frame = hv_gfn_to_frame(hv, p->data >> HV_PAGE_SHIFT);
    if (frame < 0 || off + p->size > HV_PAGE_SIZE || p->size > sizeof(d))
        return false;
    memcpy(&d, (uint8_t *)hv_frame_ptr(hv, (uint64_t)frame) + off, p->size);
    out->data = d;
    out->data_is_ptr = 0;
    return true;
}

/* domain_crash() pauses the domain for good: its vCPUs run no more instructions. */
static bool vcpu_runs(const struct hv_vcpu *v)
{
    return v->hv->state == DOM_ALIVE && !atomic_load(&v->hv->crashed) && !v->stuck;
}

enum hv_send_result hv_ioreq_emulate(struct hv_vcpu *v, ioreq_t *p)
{
    struct hv *hv = v->hv;
    ioreq_t vga;
    int id;

    if (!vcpu_runs(v))
        return HV_IO_DEAD;
    pthread_mutex_lock(&hv->lock);
    id = server_select_locked(hv, p);
    bool buffered = id >= 0 && hv->server[id].bufioreq_handling != HVM_IOREQSRV_BUFIOREQ_OFF &&
                    vga_bufferable_locked(hv, p, &vga) && send_buffered(hv, &hv->server[id], &vga);
    pthread_mutex_unlock(&hv->lock);
    if (id < 0) {
        atomic_fetch_add_explicit(p->dir == IOREQ_READ ? &hv->stats.unclaimed_reads
                                                       : &hv->stats.unclaimed_writes,
                                  1, memory_order_relaxed);
        return HV_IO_UNCLAIMED;
    }
    if (buffered)
        return HV_IO_HANDLED;
    return send_sync(v, id, p, true);
}

enum hv_send_result hv_ioreq_send_to(struct hv_vcpu *v, uint16_t id, ioreq_t *p)
{
    if (!vcpu_runs(v) || id >= HV_MAX_SERVERS)
        return HV_IO_DEAD;
    return send_sync(v, id, p, false);
}

unsigned int hv_ioreq_broadcast(struct hv_vcpu *v, ioreq_t *p)
{
    struct ioreq_target t[HV_MAX_SERVERS];
    bool posted[HV_MAX_SERVERS] = {false};
    ioreq_t sent[HV_MAX_SERVERS];
    unsigned int failed = 0;
    bool dead = false;
    struct vcpu_wait w;

    /*
     * Post to every enabled server first, then wait for each (sv->pending),
     * highest id first both times as FOR_EACH_IOREQ_SERVER() walks them.
     */
    vcpu_wait_init(v, &w);
    for (int id = HV_MAX_SERVERS - 1; id >= 0; id--) {
        if (!target_get(v, id, &t[id]))
            continue;
        sent[id] = *p;
        sent[id].vp_eport = t[id].port;
        posted[id] = slot_post(v, &t[id], &sent[id]);
        if (!posted[id])
            failed++;
    }
    for (int id = HV_MAX_SERVERS - 1; id >= 0; id--) {
        if (!posted[id])
            continue;
        /* A vCPU that never got one answer never gets to the next. */
        if (dead || slot_wait(v, &t[id], &sent[id], &w) != HV_IO_HANDLED) {
            dead = true;
            failed++;
        }
    }
    return failed;
}

unsigned int hv_ioreq_broadcast_buffered(struct hv *hv, ioreq_t *p)
{
    unsigned int failed = 0;

    pthread_mutex_lock(&hv->lock);
    for (int id = HV_MAX_SERVERS - 1; id >= 0; id--) {
        struct hv_server *s = &hv->server[id];

        if (!s->used || !s->enabled || s->bufioreq_handling == HVM_IOREQSRV_BUFIOREQ_OFF)
            continue;
        if (!send_buffered(hv, s, p))
            failed++;
    }
    pthread_mutex_unlock(&hv->lock);
    return failed;
}
