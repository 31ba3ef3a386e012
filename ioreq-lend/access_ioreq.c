/* SPDX-License-Identifier: MIT */
/*
 * Owns the ioreq server's whole lifecycle (access_ioreq.h): the Xen handles,
 * creating, adopting or renewing the server, its pages and ports, the PCI
 * function's claim, one teardown from any stage; and the request loop: the
 * event channel, the buffered ring, each vCPU's slot read once.
 */
#include "access_ioreq.h"

#include <errno.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <xentoolcore.h>
#include <xentoollog.h>
#include <xen/memory.h>

#include "log.h"
#include "util.h"

_Static_assert(sizeof(ioreq_t) == 32, "an ioreq slot is 32 bytes");
_Static_assert(sizeof(ioreq_t) * IOREQ_SRV_MAX_VCPUS == XC_PAGE_SIZE, "128 slots fill a page");
_Static_assert(sizeof(buffered_iopage_t) <= XC_PAGE_SIZE, "the buffered ring fits a page");

static void srv_unwind(struct ioreq_srv *s, enum ioreq_srv_stage to);

int ioreq_open_failure(char *err, size_t errlen, const char *what)
{
    int rc = -errno;

    if (rc == -ENOENT || rc == -ENXIO || rc == -ENODEV)
        return err_fmt(err, errlen, rc,
                       "cannot open %s: no Xen here (not running in dom0 of a Xen host, or the "
                       "xen-privcmd/xen-evtchn modules are not loaded)",
                       what);
    if (rc == -EACCES || rc == -EPERM)
        return err_fmt(err, errlen, rc, "cannot open %s: permission denied (run as root)", what);
    return err_fmt(err, errlen, rc, "cannot open %s: %s", what, strerror(-rc));
}

int ioreq_restrict_failure(char *err, size_t errlen, uint32_t domid)
{
    return err_fmt(err, errlen, -errno, "cannot restrict the Xen handles to domain %u: %s", domid,
                   strerror(errno));
}

/*
 * The Xen libraries' own messages go to our log at debug level: by default
 * they print to stderr, and an operator must see one line per failure, ours.
 */
static void xtl_forward(struct xentoollog_logger *logger, xentoollog_level level, int errnoval,
                        const char *context, const char *format, va_list al)
    __attribute__((format(printf, 5, 0)));

static void xtl_forward(struct xentoollog_logger *logger, xentoollog_level level, int errnoval,
                        const char *context, const char *format, va_list al)
{
    char msg[256];

    (void)logger;
    (void)level;
    (void)errnoval;
    vsnprintf(msg, sizeof(msg), format, al);
    log_debug("%s: %s", context ? context : "xen", msg);
}

static void xtl_destroy(struct xentoollog_logger *logger)
{
    (void)logger;
}

static struct xentoollog_logger xtl_to_debug_log = {
    .vmessage = xtl_forward,
    .destroy = xtl_destroy,
};

struct xentoollog_logger *ioreq_xen_logger(void)
{
    return &xtl_to_debug_log;
}

int ioreq_srv_open(struct ioreq_srv *s, uint32_t domid, struct counters *cnt, struct latency *lat,
                   char *err, size_t errlen)
{
    memset(s, 0, sizeof(*s));
    s->domid = domid;
    s->cnt = cnt;
    s->lat = lat;
    s->dmod = xendevicemodel_open(&xtl_to_debug_log, 0);
    if (!s->dmod)
        return ioreq_open_failure(err, errlen, "the Xen device-model interface");
    s->stage = SRV_HANDLES_OPEN;
    s->fmem = xenforeignmemory_open(&xtl_to_debug_log, 0);
    if (!s->fmem)
        return ioreq_open_failure(err, errlen, "the Xen foreign-memory interface");
    s->xce = xenevtchn_open(&xtl_to_debug_log, 0);
    if (!s->xce)
        return ioreq_open_failure(err, errlen, "the Xen event-channel device");
    return 0;
}

int ioreq_srv_restrict(struct ioreq_srv *s, char *err, size_t errlen)
{
    if (xentoolcore_restrict_all((domid_t)s->domid) < 0)
        return ioreq_restrict_failure(err, errlen, s->domid);
    s->stage = SRV_RESTRICTED;
    return 0;
}

static int query_vcpus(struct ioreq_srv *s, char *err, size_t errlen)
{
    if (xendevicemodel_nr_vcpus(s->dmod, (domid_t)s->domid, &s->nr_vcpus) < 0) {
        if (errno == ESRCH)
            return err_fmt(err, errlen, -ESRCH, "domain %u does not exist", s->domid);
        return err_fmt(err, errlen, -errno, "cannot query domain %u: %s", s->domid,
                       strerror(errno));
    }
    if (s->nr_vcpus == 0 || s->nr_vcpus > IOREQ_SRV_MAX_VCPUS)
        return err_fmt(err, errlen, -E2BIG, "domain %u has %u vCPUs; one ioreq page serves 1 to %u",
                       s->domid, s->nr_vcpus, IOREQ_SRV_MAX_VCPUS);
    return 0;
}

/* Frame 0 is the buffered ring, frame 1 the ioreq page: one mapping of both. */
static int map_pages(struct ioreq_srv *s)
{
    void *addr = NULL;

    s->res = xenforeignmemory_map_resource(s->fmem, (domid_t)s->domid, XENMEM_resource_ioreq_server,
                                           s->id, XENMEM_resource_ioreq_server_frame_bufioreq, 2,
                                           &addr, PROT_READ | PROT_WRITE, 0);
    if (!s->res)
        return -errno;
    s->bufpage = addr;
    s->iopage = (shared_iopage_t *)((uint8_t *)addr + XC_PAGE_SIZE);
    s->stage = SRV_PAGES_MAPPED;
    return 0;
}

/*
 * SRV_PAGES_MAPPED with the server a crashed predecessor left: Xen keeps a
 * server until it is destroyed, and any process of the emulating domain may
 * map its pages and rebind its ports. -ENOENT or -ESRCH: it is gone.
 */
static int srv_adopt(struct ioreq_srv *s, ioservid_t id)
{
    int rc;

    s->id = id;
    s->stage = SRV_CREATED;
    rc = map_pages(s);
    if (rc) {
        /* Gone: nothing to undo. Still there but unusable: it claims the function
         * with nobody serving it, so it must not stay behind either. */
        if (rc == -ENOENT || rc == -ESRCH)
            s->stage = SRV_RESTRICTED;
        srv_unwind(s, SRV_RESTRICTED);
        return rc;
    }
    s->adopted = true;
    return 0;
}

static int srv_create(struct ioreq_srv *s, char *err, size_t errlen)
{
    int rc;

    /* ATOMIC: we advance read_pointer atomically, so Xen may canonicalise the pair. */
    if (xendevicemodel_create_ioreq_server(s->dmod, (domid_t)s->domid, HVM_IOREQSRV_BUFIOREQ_ATOMIC,
                                           &s->id) < 0) {
        if (errno == ENOSPC)
            return err_fmt(err, errlen, -ENOSPC,
                           "domain %u already has the maximum of 8 ioreq servers", s->domid);
        if (errno == ESRCH)
            return err_fmt(err, errlen, -ESRCH, "domain %u does not exist", s->domid);
        return err_fmt(err, errlen, -errno, "cannot create an ioreq server for domain %u: %s",
                       s->domid, strerror(errno));
    }
    s->stage = SRV_CREATED;
    rc = map_pages(s);
    if (rc)
        return err_fmt(err, errlen, rc, "cannot map the pages of ioreq server %u: %s", s->id,
                       strerror(-rc));
    return 0;
}

int ioreq_srv_create(struct ioreq_srv *s, const ioservid_t *predecessor, char *err, size_t errlen)
{
    int rc = query_vcpus(s, err, errlen);

    if (rc)
        return rc;
    if (predecessor) {
        rc = srv_adopt(s, *predecessor);
        if (rc == 0)
            return 0;
        log_info("the previous daemon's ioreq server %u is %s: creating a new one", *predecessor,
                 rc == -ENOENT || rc == -ESRCH ? "gone" : "unusable, destroyed");
    }
    return srv_create(s, err, errlen);
}

int ioreq_srv_renew(struct ioreq_srv *s, char *err, size_t errlen)
{
    srv_unwind(s, SRV_RESTRICTED);
    s->adopted = false;
    return srv_create(s, err, errlen);
}

int ioreq_srv_start(struct ioreq_srv *s, uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn,
                    const struct ioreq_srv_ops *ops, void *opaque, char *err, size_t errlen)
{
    evtchn_port_t remote;
    int port;

    s->ops = ops;
    s->opaque = opaque;
    /* Enable before binding: Xen writes vp_eport into each slot at enable time. */
    if (xendevicemodel_set_ioreq_server_state(s->dmod, (domid_t)s->domid, s->id, 1) < 0)
        return err_fmt(err, errlen, -errno, "cannot enable ioreq server %u: %s", s->id,
                       strerror(errno));
    s->stage = SRV_ENABLED;
    for (unsigned int v = 0; v < s->nr_vcpus; v++) {
        /* Read once: the page is shared; port 0 is never valid. */
        remote = ((volatile ioreq_t *)&s->iopage->vcpu_ioreq[v])->vp_eport;
        if (remote == 0)
            return err_fmt(err, errlen, -EPROTO, "Xen gave vCPU %u of domain %u no event channel",
                           v, s->domid);
        port = xenevtchn_bind_interdomain(s->xce, s->domid, remote);
        if (port < 0)
            return err_fmt(err, errlen, -errno, "cannot bind the event channel of vCPU %u: %s", v,
                           strerror(errno));
        s->vcpu_port[v] = (evtchn_port_t)port;
    }
    if (xendevicemodel_get_ioreq_server_info(s->dmod, (domid_t)s->domid, s->id, NULL, NULL,
                                             &remote) < 0)
        return err_fmt(err, errlen, -errno, "cannot query ioreq server %u: %s", s->id,
                       strerror(errno));
    port = xenevtchn_bind_interdomain(s->xce, s->domid, remote);
    if (port < 0)
        return err_fmt(err, errlen, -errno, "cannot bind the buffered-ring event channel: %s",
                       strerror(errno));
    s->buf_port = (evtchn_port_t)port;
    s->stage = SRV_PORTS_BOUND;
    /* An adopted server still routes the function to itself: EEXIST is that claim. */
    if (xendevicemodel_map_pcidev_to_ioreq_server(s->dmod, (domid_t)s->domid, s->id, seg, bus, dev,
                                                  fn) < 0 &&
        !(s->adopted && errno == EEXIST))
        return err_fmt(err, errlen, -errno, "cannot claim PCI function %04x:%02x:%02x.%x: %s", seg,
                       bus, dev, fn, strerror(errno));
    s->sbdf = XEN_DMOP_PCI_SBDF(seg, bus, dev, fn);
    s->stage = SRV_PCI_CLAIMED;
    return 0;
}

/* Errors during teardown are expected once the domain is gone; others are worth a line. */
static void teardown_check(int rc, const char *what)
{
    if (rc < 0 && errno != ENOENT && errno != ESRCH)
        log_warn("teardown: %s: %s", what, strerror(errno));
}

/* Undo the stages above `to`, in reverse; the handles go only at SRV_CLOSED. */
static void srv_unwind(struct ioreq_srv *s, enum ioreq_srv_stage to)
{
    domid_t d = (domid_t)s->domid;

    if (s->stage >= SRV_PCI_CLAIMED && to < SRV_PCI_CLAIMED)
        teardown_check(xendevicemodel_unmap_pcidev_from_ioreq_server(
                           s->dmod, d, s->id, (uint16_t)(s->sbdf >> 16), (uint8_t)(s->sbdf >> 8),
                           (uint8_t)((s->sbdf >> 3) & 0x1f), (uint8_t)(s->sbdf & 7)),
                       "unclaim PCI function");
    if (s->stage >= SRV_ENABLED && to < SRV_ENABLED) {
        for (unsigned int v = 0; v < s->nr_vcpus; v++)
            if (s->vcpu_port[v])
                teardown_check(xenevtchn_unbind(s->xce, s->vcpu_port[v]), "unbind vCPU port");
        if (s->buf_port)
            teardown_check(xenevtchn_unbind(s->xce, s->buf_port), "unbind buffered port");
        memset(s->vcpu_port, 0, sizeof(s->vcpu_port));
        s->buf_port = 0;
        teardown_check(xendevicemodel_set_ioreq_server_state(s->dmod, d, s->id, 0),
                       "disable server");
    }
    if (s->stage >= SRV_PAGES_MAPPED && to < SRV_PAGES_MAPPED) {
        teardown_check(xenforeignmemory_unmap_resource(s->fmem, s->res), "unmap ioreq pages");
        s->res = NULL;
        s->bufpage = NULL;
        s->iopage = NULL;
    }
    if (s->stage >= SRV_CREATED && to < SRV_CREATED)
        teardown_check(xendevicemodel_destroy_ioreq_server(s->dmod, d, s->id), "destroy server");
    if (to == SRV_CLOSED) {
        if (s->xce)
            xenevtchn_close(s->xce);
        if (s->fmem)
            xenforeignmemory_close(s->fmem);
        if (s->dmod)
            xendevicemodel_close(s->dmod);
        s->xce = NULL;
        s->fmem = NULL;
        s->dmod = NULL;
    }
    if (s->stage > to)
        s->stage = to;
}

void ioreq_srv_close(struct ioreq_srv *s)
{
    srv_unwind(s, SRV_CLOSED);
}

int ioreq_srv_claim_ports(struct ioreq_srv *s, uint64_t start, uint64_t end)
{
    if (xendevicemodel_map_io_range_to_ioreq_server(s->dmod, (domid_t)s->domid, s->id, 0, start,
                                                    end) < 0 &&
        !(s->adopted && errno == EEXIST))
        return -errno;
    return 0;
}

int ioreq_srv_claim_pcidev(struct ioreq_srv *s, uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn)
{
    if (xendevicemodel_map_pcidev_to_ioreq_server(s->dmod, (domid_t)s->domid, s->id, seg, bus, dev,
                                                  fn) < 0 &&
        !(s->adopted && errno == EEXIST))
        return -errno;
    return 0;
}

int ioreq_srv_claim_mmio(struct ioreq_srv *s, uint64_t start, uint64_t end)
{
    return xendevicemodel_map_io_range_to_ioreq_server(s->dmod, (domid_t)s->domid, s->id, 1, start,
                                                       end) < 0
               ? -errno
               : 0;
}

int ioreq_srv_release_mmio(struct ioreq_srv *s, uint64_t start, uint64_t end)
{
    return xendevicemodel_unmap_io_range_from_ioreq_server(s->dmod, (domid_t)s->domid, s->id, 1,
                                                           start, end) < 0
               ? -errno
               : 0;
}

void ioreq_refuse(ioreq_t *req, uint64_t *reason, struct counters *cnt)
{
    (*reason)++;
    cnt->ioreqs_rejected++;
    if (req->dir == IOREQ_READ && !req->data_is_ptr)
        req->data = ~0ULL;
}

int ioreq_srv_fd(const struct ioreq_srv *s)
{
    return xenevtchn_fd(s->xce);
}

int ioreq_srv_check_alive(struct ioreq_srv *s)
{
    /* Without gfn pointers this touches nothing: XEN_DMOP_no_gfns. */
    if (xendevicemodel_get_ioreq_server_info(s->dmod, (domid_t)s->domid, s->id, NULL, NULL, NULL) ==
        0)
        return 0;
    return -errno;
}

/*
 * The buffered ring's pointers, read as one 64-bit pair: with ATOMIC handling
 * Xen lowers both by multiples of 511 with a 64-bit compare-and-swap.
 */
static uint64_t ring_pointers(const buffered_iopage_t *pg)
{
    return __atomic_load_n((const uint64_t *)(const void *)pg, __ATOMIC_ACQUIRE);
}

static void drain_buffered(struct ioreq_srv *s)
{
    buffered_iopage_t *pg = s->bufpage;

    /* At most one ring's worth per call: bounded work whatever the peer does. */
    for (unsigned int handled = 0; handled < IOREQ_BUFFER_SLOT_NUM;) {
        uint64_t ptrs = ring_pointers(pg);
        uint32_t rp = (uint32_t)ptrs, wp = (uint32_t)(ptrs >> 32);
        buf_ioreq_t b, hi;
        ioreq_t req;
        unsigned int n;

        if (rp == wp)
            return;
        if (wp - rp > IOREQ_BUFFER_SLOT_NUM) {
            s->cnt->reject_ring++;
            log_guest(LOG_LVL_WARN, "buffered ring pointers corrupt (read %u, write %u)", rp, wp);
            return;
        }
        /* Copy the slot(s) once; rp % 511 is stable across Xen's canonicalisation. */
        memcpy(&b, &pg->buf_ioreq[rp % IOREQ_BUFFER_SLOT_NUM], sizeof(b));
        memset(&req, 0, sizeof(req));
        req.type = b.type;
        req.dir = b.dir;
        req.addr = b.addr;
        req.size = 1u << b.size;
        req.count = 1;
        req.data = b.data;
        n = 1;
        if (req.size == 8) {
            /* The high half is in the next slot, written before write_pointer moved. */
            if (wp - rp < 2) {
                s->cnt->reject_ring++;
                return;
            }
            memcpy(&hi, &pg->buf_ioreq[(rp + 1) % IOREQ_BUFFER_SLOT_NUM], sizeof(hi));
            req.data |= (uint64_t)hi.data << 32;
            n = 2;
        }
        s->cnt->ioreqs_buffered++;
        s->ops->handle_buffered(s->opaque, &req);
        __atomic_fetch_add(&pg->read_pointer, n, __ATOMIC_RELEASE);
        handled += n;
    }
}

/*
 * Serve vCPU `vcpu`'s slot if a request is there. `resume`: also take one a
 * dead predecessor left INPROCESS (serving a memory access twice is what
 * re-executing it would do).
 */
static void handle_slot(struct ioreq_srv *s, unsigned int vcpu, bool resume)
{
    volatile ioreq_t *slot = &s->iopage->vcpu_ioreq[vcpu];
    unsigned int state = slot->state;
    struct timespec picked, done;
    enum lat_kind kind;
    ioreq_t req;

    if (state != STATE_IOREQ_READY && !(resume && state == STATE_IOREQ_INPROCESS)) {
        /* Spurious wake-ups happen (Xen notifies on bind; events coalesce). */
        s->cnt->events_spurious++;
        return;
    }
    /* Read the request only after seeing READY. */
    atomic_thread_fence(memory_order_acquire);
    /* The service time a vCPU waits for: from here to the notification. */
    clock_gettime(CLOCK_MONOTONIC, &picked);
    slot->state = STATE_IOREQ_INPROCESS;
    /* The one read of the slot; from here on only the private copy is used. */
    memcpy(&req, (const void *)slot, sizeof(req));
    kind = s->ops->handle(s->opaque, vcpu, &req);
    slot->data = req.data;
    /* The answer is visible before the state says it is there. */
    atomic_thread_fence(memory_order_release);
    slot->state = STATE_IORESP_READY;
    xenevtchn_notify(s->xce, s->vcpu_port[vcpu]);
    if (kind < LAT_KINDS && s->lat) {
        clock_gettime(CLOCK_MONOTONIC, &done);
        lat_hist_record(&s->lat->kind[kind], lat_elapsed_ns(&picked, &done));
    }
}

void ioreq_srv_handle_event(struct ioreq_srv *s)
{
    xenevtchn_port_or_error_t port = xenevtchn_pending(s->xce);

    if (port < 0) {
        log_guest(LOG_LVL_WARN, "reading the event channel failed: %s", strerror(errno));
        return;
    }
    xenevtchn_unmask(s->xce, (evtchn_port_t)port);
    /* Buffered writes happened before any synchronous request behind them. */
    drain_buffered(s);
    if ((evtchn_port_t)port == s->buf_port)
        return;
    for (unsigned int v = 0; v < s->nr_vcpus; v++) {
        if (s->vcpu_port[v] == (evtchn_port_t)port) {
            handle_slot(s, v, false);
            return;
        }
    }
    s->cnt->events_spurious++;
}

void ioreq_srv_serve_pending(struct ioreq_srv *s)
{
    drain_buffered(s);
    for (unsigned int v = 0; v < s->nr_vcpus; v++) {
        volatile ioreq_t *slot = &s->iopage->vcpu_ioreq[v];

        if (slot->state == STATE_IORESP_READY)
            xenevtchn_notify(s->xce, s->vcpu_port[v]); /* answered, never announced */
        else if (slot->state != STATE_IOREQ_NONE)
            handle_slot(s, v, true);
    }
}

void ioreq_srv_log_slots(const struct ioreq_srv *s)
{
    unsigned int idle = 0;

    if (!s->iopage)
        return;
    for (unsigned int v = 0; v < s->nr_vcpus; v++) {
        const volatile ioreq_t *slot = &s->iopage->vcpu_ioreq[v];
        unsigned int state = slot->state;

        if (state == STATE_IOREQ_NONE) {
            idle++;
            continue;
        }
        log_info("vCPU %u: slot state %u, type %u, addr 0x%llx, port %u", v, state,
                 (unsigned int)slot->type, (unsigned long long)slot->addr, s->vcpu_port[v]);
    }
    log_info("%u of %u vCPU slots idle", idle, s->nr_vcpus);
}
