/* SPDX-License-Identifier: MIT */
/*
 * The simulator's own tests (tests/unit/test_sim_*.c) share this: a fresh
 * simulated Xen per test, a minimal scripted device model that uses only the
 * real library API (xendevicemodel, xenforeignmemory, xenevtchn), and vCPU
 * jobs that run guest accesses on threads of their own so the test thread
 * can play the device model step by step.
 *
 * Every unit test is a single file linked on its own, so this is a header of
 * static inline functions.
 *
 * Synchronisation is by events, semaphores and joins only. Where a test must
 * show that something does NOT happen, it polls with a short bounded timeout
 * (SIM_QUIET_MS); where something must happen, the bound (SIM_WAIT_MS) only
 * turns a broken simulator into a failing test instead of a hang.
 */
#ifndef SIM_DM_H
#define SIM_DM_H

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xentoolcore.h>

#include "sim/hv/futex.h"
#include "sim/hv/hv.h"
#include "util.h"

#define SIM_DOMID       1
#define SIM_OTHER_DOMID 7    /* a domain that does not exist */
#define SIM_WAIT_MS     5000 /* something that must happen: the bound of a failing test */
#define SIM_QUIET_MS    50   /* how long "nothing happens" is watched */
#define SIM_SHORT_MS    200  /* ioreq timeout when the timeout is what is tested */

#define SIM_DM_LOG       1024
#define SIM_DM_MMIO_SIZE (4 * 4096)
#define SIM_MAX_DMS      9
#define SIM_MAX_JOBS     8

/* Where the scripted device models put their devices (in the MMIO hole). */
#define SIM_MMIO_BASE 0xe0000000ULL

/* ------------------------------------------------------------------------ */
/* Slots: the state nibble is shared with the hypervisor. */

static inline uint8_t *sim_slot_flags(ioreq_t *slot)
{
    return (uint8_t *)slot + offsetof(ioreq_t, _pad0) + sizeof(slot->_pad0);
}

static inline unsigned int sim_slot_state(ioreq_t *slot)
{
    return __atomic_load_n(sim_slot_flags(slot), __ATOMIC_ACQUIRE) & 0xf;
}

static inline void sim_slot_set_state(ioreq_t *slot, unsigned int state)
{
    uint8_t *b = sim_slot_flags(slot);
    uint8_t old = __atomic_load_n(b, __ATOMIC_RELAXED);

    __atomic_store_n(b, (uint8_t)((old & 0xf0) | (state & 0xf)), __ATOMIC_RELEASE);
}

static inline uint64_t sim_now_ms(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ------------------------------------------------------------------------ */
/* The environment: one simulated Xen, its socket, what to clean up. */

struct sim_dm;
struct sim_job;

struct sim_env {
    struct hv *hv;
    char dir[64];
    struct sim_dm *dm[SIM_MAX_DMS];
    unsigned int nr_dm;
    struct sim_job *job[SIM_MAX_JOBS];
    unsigned int nr_job;
};

static inline struct hv_domain_config sim_default_cfg(void)
{
    return (struct hv_domain_config){
        .domid = SIM_DOMID,
        .vcpus = 2,
        .ram = 16ULL << 20,
        .balloon_reserve = 1ULL << 20,
        .ioreq_timeout_ms = SIM_WAIT_MS,
    };
}

static inline int sim_env_start(struct sim_env *e, const struct hv_domain_config *cfg)
{
    char path[128];
    int rc;

    memset(e, 0, sizeof(*e));
    snprintf(e->dir, sizeof(e->dir), "/tmp/xensim-test-XXXXXX");
    if (!mkdtemp(e->dir))
        return -errno;
    e->hv = calloc(1, sizeof(*e->hv));
    if (!e->hv)
        return -ENOMEM;
    rc = hv_create(e->hv, cfg, e->dir);
    if (rc) {
        free(e->hv);
        e->hv = NULL;
        rmdir(e->dir);
        return rc;
    }
    snprintf(path, sizeof(path), "%s/xensim.sock", e->dir);
    setenv(XENSIM_SOCKET_ENV, path, 1);
    return 0;
}

static inline void sim_dm_free(struct sim_dm *dm);
static inline void sim_job_reap(struct sim_job *j);
static inline bool sim_job_running(struct sim_job *j);

static inline void sim_env_stop(struct sim_env *e)
{
    bool stuck = false;

    if (!e->hv)
        return;
    /* A test that failed half-way may leave a vCPU blocked: let it go. */
    for (unsigned int i = 0; i < e->nr_job; i++)
        stuck |= sim_job_running(e->job[i]);
    if (stuck)
        hv_domain_destroy(e->hv);
    for (unsigned int i = 0; i < e->nr_dm; i++)
        sim_dm_free(e->dm[i]);
    for (unsigned int i = 0; i < e->nr_job; i++)
        sim_job_reap(e->job[i]);
    hv_destroy(e->hv);
    free(e->hv);
    e->hv = NULL;
    rmdir(e->dir);
}

static inline int sim_setup_cfg(void **state, const struct hv_domain_config *cfg)
{
    struct sim_env *e = calloc(1, sizeof(*e));

    if (!e || sim_env_start(e, cfg)) {
        free(e);
        return -1;
    }
    *state = e;
    return 0;
}

static inline int sim_setup(void **state)
{
    struct hv_domain_config cfg = sim_default_cfg();

    return sim_setup_cfg(state, &cfg);
}

/* The ioreq timeout is what the test is about: keep it short. */
static inline int sim_setup_short_timeout(void **state)
{
    struct hv_domain_config cfg = sim_default_cfg();

    cfg.ioreq_timeout_ms = SIM_SHORT_MS;
    return sim_setup_cfg(state, &cfg);
}

static inline int sim_teardown(void **state)
{
    struct sim_env *e = *state;

    if (e) {
        sim_env_stop(e);
        free(e);
    }
    return 0;
}

/* ------------------------------------------------------------------------ */
/* What the simulator recorded against the device model. */

static inline unsigned int sim_failures(struct hv *hv)
{
    unsigned int n;

    pthread_mutex_lock(&hv->fail_lock);
    n = hv->nr_failures;
    pthread_mutex_unlock(&hv->fail_lock);
    return n;
}

/* Does some recorded failure contain `needle`? */
static inline bool sim_failed_with(struct hv *hv, const char *needle)
{
    bool found = false;

    pthread_mutex_lock(&hv->fail_lock);
    for (unsigned int i = 0; i < hv->nr_failures && !found; i++)
        found = strstr(hv->failure[i], needle) != NULL;
    pthread_mutex_unlock(&hv->fail_lock);
    return found;
}

/* ------------------------------------------------------------------------ */
/* Barriers through the RPC thread (no sleeps). */

/*
 * The RPC thread serves one handle's messages in order: after a synchronous
 * call on a handle returns, every one-way message sent before it on that
 * handle (unmask, notify) has been served. Unbinding port 0 is such a call
 * that changes nothing (it fails).
 */
static inline void sim_evtchn_barrier(xenevtchn_handle *xce)
{
    (void)xenevtchn_unbind(xce, 0);
}

/*
 * Make sure the RPC thread has served everything that was ready before this
 * call, such as the end of a dead process's connections. One poll() round
 * serves every ready connection, but maybe the caller's before the others:
 * the second call is served in a later round, after all of them.
 */
static inline void sim_rpc_barrier(xendevicemodel_handle *dmh)
{
    unsigned int n;

    (void)xendevicemodel_nr_vcpus(dmh, SIM_DOMID, &n);
    (void)xendevicemodel_nr_vcpus(dmh, SIM_DOMID, &n);
}

/* Is fd readable within ms? poll() with a bound is the assertion itself. */
static inline bool sim_readable(int fd, int ms)
{
    struct pollfd pfd = {.fd = fd, .events = POLLIN};
    int n;

    do {
        n = poll(&pfd, 1, ms);
    } while (n < 0 && errno == EINTR);
    return n > 0 && (pfd.revents & POLLIN);
}

/* The next pending port, if one arrives within ms; -ETIMEDOUT otherwise. */
static inline int sim_evtchn_wait(xenevtchn_handle *xce, int ms)
{
    if (!sim_readable(xenevtchn_fd(xce), ms))
        return -ETIMEDOUT;
    return xenevtchn_pending(xce);
}

/* Consume every event there is, unmasking each, until none comes for SIM_QUIET_MS. */
static inline void sim_evtchn_quiesce(xenevtchn_handle *xce)
{
    int port;

    while ((port = sim_evtchn_wait(xce, SIM_QUIET_MS)) > 0) {
        xenevtchn_unmask(xce, (evtchn_port_t)port);
        sim_evtchn_barrier(xce);
    }
}

/* ------------------------------------------------------------------------ */
/* The scripted device model. */

enum sim_dm_mode {
    SIM_DM_ANSWER,        /* as the protocol says */
    SIM_DM_NEVER,         /* takes the request (INPROCESS), never answers */
    SIM_DM_NO_NOTIFY,     /* answers, never notifies */
    SIM_DM_UNKNOWN_STATE, /* writes a state that does not exist */
    SIM_DM_BACKWARDS,     /* INPROCESS, seen by the vCPU, then READY again */
    SIM_DM_NONE,          /* writes NONE instead of IORESP_READY */
    SIM_DM_CHANGE_FIELDS, /* answers with addr changed */
    SIM_DM_CHANGE_EPORT,  /* answers with vp_eport changed */
};

struct sim_dm {
    struct sim_env *env;
    struct hv *hv;
    uint32_t domid;
    unsigned int nr_vcpus;
    xendevicemodel_handle *dmh;
    xenforeignmemory_handle *fmem;
    xenevtchn_handle *xce;
    bool created;
    ioservid_t id;
    int bufioreq;
    xenforeignmemory_resource_handle *res;
    shared_iopage_t *iopage;
    buffered_iopage_t *bufpage;
    evtchn_port_t vcpu_remote[HV_MAX_VCPUS], vcpu_local[HV_MAX_VCPUS];
    evtchn_port_t buf_remote, buf_local;

    /* The device: memory behind SIM_MMIO_BASE-like windows, a value for the rest. */
    uint64_t mmio_base;
    uint8_t mmio[SIM_DM_MMIO_SIZE];
    uint64_t read_value;
    enum sim_dm_mode mode;
    bool drain_buffered;
    bool left_ready[HV_MAX_VCPUS]; /* SIM_DM_BACKWARDS left READY behind: not a request */

    /* What it received, for the test to check. */
    pthread_mutex_t log_lock;
    ioreq_t log[SIM_DM_LOG];
    unsigned int log_vcpu[SIM_DM_LOG];
    unsigned int nr_log;
    buf_ioreq_t buflog[SIM_DM_LOG];
    unsigned int nr_buflog;
    sem_t buffered; /* posted per buffered slot drained */
    int error;      /* first failure inside the serving thread: -errno */

    pthread_t thread;
    bool running;
    int stop_pipe[2];
};

static inline void sim_dm_error(struct sim_dm *dm, int err)
{
    pthread_mutex_lock(&dm->log_lock);
    if (!dm->error)
        dm->error = err;
    pthread_mutex_unlock(&dm->log_lock);
}

/* A device model with its three handles open (not yet restricted). */
static inline struct sim_dm *sim_dm_new(struct sim_env *e)
{
    struct sim_dm *dm;

    if (e->nr_dm == SIM_MAX_DMS)
        return NULL;
    dm = calloc(1, sizeof(*dm));
    if (!dm)
        return NULL;
    dm->env = e;
    dm->hv = e->hv;
    dm->domid = SIM_DOMID;
    dm->mmio_base = SIM_MMIO_BASE;
    dm->drain_buffered = true;
    dm->stop_pipe[0] = dm->stop_pipe[1] = -1;
    pthread_mutex_init(&dm->log_lock, NULL);
    sem_init(&dm->buffered, 0, 0);
    e->dm[e->nr_dm++] = dm;
    dm->dmh = xendevicemodel_open(NULL, 0);
    dm->fmem = xenforeignmemory_open(NULL, 0);
    dm->xce = xenevtchn_open(NULL, 0);
    if (!dm->dmh || !dm->fmem || !dm->xce ||
        xendevicemodel_nr_vcpus(dm->dmh, dm->domid, &dm->nr_vcpus))
        return NULL;
    return dm;
}

static inline int sim_err(int rc)
{
    return rc < 0 ? -errno : rc;
}

static inline int sim_dm_create(struct sim_dm *dm, int bufioreq)
{
    int rc = xendevicemodel_create_ioreq_server(dm->dmh, dm->domid, bufioreq, &dm->id);

    if (rc)
        return -errno;
    dm->created = true;
    dm->bufioreq = bufioreq;
    return 0;
}

/* Map the server's pages as a resource: the ring (if any) and the ioreq page in one call. */
static inline int sim_dm_map(struct sim_dm *dm)
{
    bool ring = dm->bufioreq != HVM_IOREQSRV_BUFIOREQ_OFF;
    void *addr = NULL;

    dm->res =
        xenforeignmemory_map_resource(dm->fmem, dm->domid, XENMEM_resource_ioreq_server, dm->id,
                                      ring ? XENMEM_resource_ioreq_server_frame_bufioreq
                                           : XENMEM_resource_ioreq_server_frame_ioreq(0),
                                      ring ? 2 : 1, &addr, PROT_READ | PROT_WRITE, 0);
    if (!dm->res)
        return -errno;
    dm->bufpage = ring ? addr : NULL;
    dm->iopage = (shared_iopage_t *)((uint8_t *)addr + (ring ? 4096 : 0));
    return 0;
}

static inline int sim_dm_set_state(struct sim_dm *dm, int enabled)
{
    return sim_err(xendevicemodel_set_ioreq_server_state(dm->dmh, dm->domid, dm->id, enabled));
}

/* Bind every vCPU's port (read from its slot) and the buffered port. */
static inline int sim_dm_bind(struct sim_dm *dm)
{
    for (unsigned int i = 0; i < dm->nr_vcpus; i++) {
        int lp;

        dm->vcpu_remote[i] = dm->iopage->vcpu_ioreq[i].vp_eport;
        lp = xenevtchn_bind_interdomain(dm->xce, dm->domid, dm->vcpu_remote[i]);
        if (lp < 0)
            return -errno;
        dm->vcpu_local[i] = (evtchn_port_t)lp;
    }
    if (dm->bufioreq != HVM_IOREQSRV_BUFIOREQ_OFF) {
        int lp;

        if (xendevicemodel_get_ioreq_server_info(dm->dmh, dm->domid, dm->id, NULL, NULL,
                                                 &dm->buf_remote))
            return -errno;
        lp = xenevtchn_bind_interdomain(dm->xce, dm->domid, dm->buf_remote);
        if (lp < 0)
            return -errno;
        dm->buf_local = (evtchn_port_t)lp;
    }
    return 0;
}

/* The set-up that works (create, map, enable, bind); ranges are the test's. */
static inline int sim_dm_setup(struct sim_dm *dm, int bufioreq)
{
    int rc = sim_dm_create(dm, bufioreq);

    if (rc == 0)
        rc = sim_dm_map(dm);
    if (rc == 0)
        rc = sim_dm_set_state(dm, 1);
    if (rc == 0)
        rc = sim_dm_bind(dm);
    return rc;
}

/* A device model, set up, or NULL. */
static inline struct sim_dm *sim_dm_ready(struct sim_env *e, int bufioreq)
{
    struct sim_dm *dm = sim_dm_new(e);

    if (!dm || sim_dm_setup(dm, bufioreq))
        return NULL;
    return dm;
}

static inline int sim_dm_claim_mmio(struct sim_dm *dm, uint64_t s, uint64_t e)
{
    return sim_err(
        xendevicemodel_map_io_range_to_ioreq_server(dm->dmh, dm->domid, dm->id, 1, s, e));
}

static inline int sim_dm_claim_pio(struct sim_dm *dm, uint64_t s, uint64_t e)
{
    return sim_err(
        xendevicemodel_map_io_range_to_ioreq_server(dm->dmh, dm->domid, dm->id, 0, s, e));
}

static inline int sim_dm_unclaim_mmio(struct sim_dm *dm, uint64_t s, uint64_t e)
{
    return sim_err(
        xendevicemodel_unmap_io_range_from_ioreq_server(dm->dmh, dm->domid, dm->id, 1, s, e));
}

/* The device's memory at guest address a, size bytes, or NULL outside its window. */
static inline uint8_t *sim_dm_mmio_ptr(struct sim_dm *dm, uint64_t a, unsigned int size)
{
    if (a < dm->mmio_base || a - dm->mmio_base > SIM_DM_MMIO_SIZE - size)
        return NULL;
    return dm->mmio + (a - dm->mmio_base);
}

/*
 * A COPY with a data pointer: the buffer is guest RAM at `data`, reached
 * through a foreign mapping of its gfns; for each element both sides step by
 * size, downwards when df is set.
 */
static inline int sim_dm_copy_ptr(struct sim_dm *dm, const ioreq_t *req)
{
    uint64_t span = (uint64_t)(req->count - 1) * req->size;
    uint64_t lo = req->df ? req->data - span : req->data, hi = lo + span + req->size - 1;
    uint64_t first_gfn = lo >> 12, npages = (hi >> 12) - first_gfn + 1;
    xen_pfn_t gfns[4];
    uint8_t *map;

    if (npages > 4)
        return -E2BIG;
    for (uint64_t i = 0; i < npages; i++)
        gfns[i] = first_gfn + i;
    map = xenforeignmemory_map(dm->fmem, dm->domid, PROT_READ | PROT_WRITE, npages, gfns, NULL);
    if (!map)
        return -errno;
    for (uint32_t i = 0; i < req->count; i++) {
        uint64_t step = (uint64_t)i * req->size;
        uint64_t a = req->df ? req->addr - step : req->addr + step;
        uint64_t g = req->df ? req->data - step : req->data + step;
        uint8_t *ram = map + (g - (first_gfn << 12));
        uint8_t *dev = sim_dm_mmio_ptr(dm, a, req->size);
        uint64_t ones = ~0ULL;

        if (req->dir == IOREQ_READ)
            memcpy(ram, dev ? dev : (uint8_t *)&ones, req->size);
        else if (dev)
            memcpy(dev, ram, req->size);
    }
    xenforeignmemory_unmap(dm->fmem, map, npages);
    return 0;
}

/* What the device does with a request; returns the data of a read. */
static inline uint64_t sim_dm_device(struct sim_dm *dm, const ioreq_t *req)
{
    uint64_t data = 0;

    switch (req->type) {
    case IOREQ_TYPE_COPY:
        if (req->data_is_ptr) {
            int rc = sim_dm_copy_ptr(dm, req);
            if (rc)
                sim_dm_error(dm, rc);
            return 0;
        }
        for (uint32_t i = 0; i < req->count; i++) {
            uint64_t step = (uint64_t)i * req->size;
            uint8_t *dev =
                sim_dm_mmio_ptr(dm, req->df ? req->addr - step : req->addr + step, req->size);

            if (req->dir == IOREQ_WRITE && dev) {
                uint64_t v = req->data & size_mask(req->size);
                memcpy(dev, &v, req->size);
            } else if (req->dir == IOREQ_READ) {
                data = dm->read_value;
                if (dev)
                    memcpy(&data, dev, req->size);
            }
        }
        return data;
    case IOREQ_TYPE_PIO:
    case IOREQ_TYPE_PCI_CONFIG:
        return dm->read_value;
    default:
        /* INVALIDATE: this device model caches no mapping; nothing to drop. */
        return 0;
    }
}

/* Drain the buffered ring into the log, advancing read_pointer as the handling requires. */
static inline void sim_dm_drain(struct sim_dm *dm)
{
    buffered_iopage_t *pg = dm->bufpage;

    if (!pg)
        return;
    for (;;) {
        uint32_t rp = __atomic_load_n(&pg->read_pointer, __ATOMIC_ACQUIRE);
        uint32_t wp = __atomic_load_n(&pg->write_pointer, __ATOMIC_ACQUIRE);
        unsigned int n;
        buf_ioreq_t b;

        if (rp == wp)
            break;
        b = pg->buf_ioreq[rp % IOREQ_BUFFER_SLOT_NUM];
        n = b.size == 3 ? 2 : 1;
        pthread_mutex_lock(&dm->log_lock);
        for (unsigned int k = 0; k < n && dm->nr_buflog < SIM_DM_LOG; k++)
            dm->buflog[dm->nr_buflog++] = pg->buf_ioreq[(rp + k) % IOREQ_BUFFER_SLOT_NUM];
        pthread_mutex_unlock(&dm->log_lock);
        /* Slots read before the pointer moves; Xen may lower it concurrently (ATOMIC). */
        if (dm->bufioreq == HVM_IOREQSRV_BUFIOREQ_ATOMIC)
            __atomic_fetch_add(&pg->read_pointer, n, __ATOMIC_ACQ_REL);
        else
            __atomic_store_n(&pg->read_pointer, rp + n, __ATOMIC_RELEASE);
        for (unsigned int k = 0; k < n; k++)
            sem_post(&dm->buffered);
    }
}

/* Wait until the vCPU has blocked having seen `state` (after `since` blocks). */
static inline int sim_vcpu_wait_blocked_in(struct hv_vcpu *v, unsigned int since,
                                           unsigned int state)
{
    uint64_t deadline = sim_now_ms() + SIM_WAIT_MS;

    for (;;) {
        unsigned int b = atomic_load(&v->blocked);

        if (b != since && atomic_load(&v->blocked_state) == state)
            return 0;
        if (sim_now_ms() > deadline)
            return -ETIMEDOUT;
        futex_wait_ms(&v->blocked, b, SIM_WAIT_MS);
    }
}

/* Handle vCPU i's slot if it holds a request, as dm->mode says. */
static inline void sim_dm_handle_slot(struct sim_dm *dm, unsigned int i)
{
    ioreq_t *slot = &dm->iopage->vcpu_ioreq[i];
    evtchn_port_t port = dm->vcpu_local[i];
    ioreq_t req;
    uint64_t data;

    if (sim_slot_state(slot) != STATE_IOREQ_READY || dm->left_ready[i])
        return; /* spurious: nothing for us */
    if (dm->drain_buffered)
        sim_dm_drain(dm);
    sim_slot_set_state(slot, STATE_IOREQ_INPROCESS);
    memcpy(&req, slot, sizeof(req)); /* work on a copy */
    pthread_mutex_lock(&dm->log_lock);
    if (dm->nr_log < SIM_DM_LOG) {
        dm->log_vcpu[dm->nr_log] = i;
        dm->log[dm->nr_log++] = req;
    }
    pthread_mutex_unlock(&dm->log_lock);
    data = sim_dm_device(dm, &req);

    switch (dm->mode) {
    case SIM_DM_NEVER:
        return;
    case SIM_DM_UNKNOWN_STATE:
        sim_slot_set_state(slot, 7);
        xenevtchn_notify(dm->xce, port);
        return;
    case SIM_DM_NONE:
        sim_slot_set_state(slot, STATE_IOREQ_NONE);
        xenevtchn_notify(dm->xce, port);
        return;
    case SIM_DM_BACKWARDS: {
        struct hv_vcpu *v = &dm->hv->vcpu[i];
        unsigned int since = atomic_load(&v->blocked);

        xenevtchn_notify(dm->xce, port);
        if (sim_vcpu_wait_blocked_in(v, since, STATE_IOREQ_INPROCESS))
            sim_dm_error(dm, -ETIMEDOUT);
        dm->left_ready[i] = true;
        sim_slot_set_state(slot, STATE_IOREQ_READY);
        xenevtchn_notify(dm->xce, port);
        return;
    }
    case SIM_DM_CHANGE_FIELDS:
        slot->addr ^= 0x1000;
        break;
    case SIM_DM_CHANGE_EPORT:
        slot->vp_eport += 1;
        break;
    case SIM_DM_ANSWER:
    case SIM_DM_NO_NOTIFY:
        break;
    }
    /* Write back only the data. */
    if (req.dir == IOREQ_READ && !req.data_is_ptr)
        slot->data = data;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    sim_slot_set_state(slot, STATE_IORESP_READY);
    if (dm->mode != SIM_DM_NO_NOTIFY)
        xenevtchn_notify(dm->xce, port);
}

/* One event: unmask its port, then serve what it is for. */
static inline void sim_dm_serve_port(struct sim_dm *dm, evtchn_port_t port)
{
    xenevtchn_unmask(dm->xce, port);
    if (dm->buf_local && port == dm->buf_local) {
        if (dm->drain_buffered)
            sim_dm_drain(dm);
        return;
    }
    for (unsigned int i = 0; i < dm->nr_vcpus; i++)
        if (dm->vcpu_local[i] == port)
            sim_dm_handle_slot(dm, i);
}

static inline void *sim_dm_main(void *arg)
{
    struct sim_dm *dm = arg;
    struct pollfd pfd[2] = {
        {.fd = xenevtchn_fd(dm->xce), .events = POLLIN},
        {.fd = dm->stop_pipe[0], .events = POLLIN},
    };

    for (;;) {
        if (poll(pfd, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            sim_dm_error(dm, -errno);
            break;
        }
        if (pfd[1].revents)
            break;
        if (pfd[0].revents & POLLIN) {
            int port = xenevtchn_pending(dm->xce);

            if (port < 0) {
                sim_dm_error(dm, -errno);
                break;
            }
            sim_dm_serve_port(dm, (evtchn_port_t)port);
        }
    }
    return NULL;
}

/* Serve requests on a thread of its own until sim_dm_stop(). */
static inline int sim_dm_start(struct sim_dm *dm)
{
    int rc;

    if (pipe(dm->stop_pipe) < 0)
        return -errno;
    rc = pthread_create(&dm->thread, NULL, sim_dm_main, dm);
    if (rc)
        return -rc;
    dm->running = true;
    return 0;
}

static inline void sim_dm_stop(struct sim_dm *dm)
{
    if (dm->running) {
        char c = 0;

        if (write(dm->stop_pipe[1], &c, 1) == 1)
            pthread_join(dm->thread, NULL);
        dm->running = false;
    }
    for (int k = 0; k < 2; k++)
        if (dm->stop_pipe[k] >= 0)
            close(dm->stop_pipe[k]);
    dm->stop_pipe[0] = dm->stop_pipe[1] = -1;
}

/* A device model set up and serving, or NULL. */
static inline struct sim_dm *sim_dm_serving(struct sim_env *e, int bufioreq)
{
    struct sim_dm *dm = sim_dm_ready(e, bufioreq);

    if (!dm || sim_dm_start(dm))
        return NULL;
    return dm;
}

/* The requests logged so far. */
static inline unsigned int sim_dm_nr_log(struct sim_dm *dm)
{
    unsigned int n;

    pthread_mutex_lock(&dm->log_lock);
    n = dm->nr_log;
    pthread_mutex_unlock(&dm->log_lock);
    return n;
}

static inline ioreq_t sim_dm_logged(struct sim_dm *dm, unsigned int k)
{
    ioreq_t r;

    pthread_mutex_lock(&dm->log_lock);
    r = dm->log[k];
    pthread_mutex_unlock(&dm->log_lock);
    return r;
}

/*
 * The test thread as the device model, step by step: wait until vCPU i's
 * slot holds a request (events consumed and unmasked on the way).
 */
static inline int sim_dm_wait_request(struct sim_dm *dm, unsigned int i, ioreq_t *out)
{
    ioreq_t *slot = &dm->iopage->vcpu_ioreq[i];
    uint64_t deadline = sim_now_ms() + SIM_WAIT_MS;

    while (sim_slot_state(slot) != STATE_IOREQ_READY) {
        int port;

        if (sim_now_ms() > deadline)
            return -ETIMEDOUT;
        port = sim_evtchn_wait(dm->xce, SIM_WAIT_MS);
        if (port < 0)
            return port;
        xenevtchn_unmask(dm->xce, (evtchn_port_t)port);
    }
    __atomic_thread_fence(__ATOMIC_ACQUIRE);
    memcpy(out, slot, sizeof(*out));
    return 0;
}

static inline void sim_dm_answer(struct sim_dm *dm, unsigned int i, uint64_t data)
{
    ioreq_t *slot = &dm->iopage->vcpu_ioreq[i];

    sim_slot_set_state(slot, STATE_IOREQ_INPROCESS);
    slot->data = data;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    sim_slot_set_state(slot, STATE_IORESP_READY);
    xenevtchn_notify(dm->xce, dm->vcpu_local[i]);
}

/* Teardown in the documented order; safe from any partial set-up. */
static inline void sim_dm_close(struct sim_dm *dm)
{
    sim_dm_stop(dm);
    if (dm->xce) {
        for (unsigned int i = 0; i < dm->nr_vcpus; i++)
            if (dm->vcpu_local[i])
                xenevtchn_unbind(dm->xce, dm->vcpu_local[i]);
        if (dm->buf_local)
            xenevtchn_unbind(dm->xce, dm->buf_local);
    }
    memset(dm->vcpu_local, 0, sizeof(dm->vcpu_local));
    dm->buf_local = 0;
    if (dm->created && dm->dmh)
        xendevicemodel_set_ioreq_server_state(dm->dmh, dm->domid, dm->id, 0);
    if (dm->res)
        xenforeignmemory_unmap_resource(dm->fmem, dm->res);
    dm->res = NULL;
    dm->iopage = NULL;
    dm->bufpage = NULL;
    if (dm->created && dm->dmh)
        xendevicemodel_destroy_ioreq_server(dm->dmh, dm->domid, dm->id);
    dm->created = false;
    if (dm->xce)
        xenevtchn_close(dm->xce);
    if (dm->fmem)
        xenforeignmemory_close(dm->fmem);
    if (dm->dmh)
        xendevicemodel_close(dm->dmh);
    dm->xce = NULL;
    dm->fmem = NULL;
    dm->dmh = NULL;
}

static inline void sim_dm_free(struct sim_dm *dm)
{
    sim_dm_close(dm);
    sem_destroy(&dm->buffered);
    pthread_mutex_destroy(&dm->log_lock);
    free(dm);
}

/* ------------------------------------------------------------------------ */
/* vCPU jobs: one guest access on a thread of its own. */

struct sim_job {
    struct hv_vcpu *v;
    int (*fn)(struct sim_job *);
    uint64_t addr, val, src;
    unsigned int size;
    int dir;
    bool df;
    uint64_t reps;
    ioreq_t req;
    int rc;
    unsigned int failed;
    pthread_t thread;
    sem_t done;
    bool started, joined;
};

static inline void *sim_job_main(void *arg)
{
    struct sim_job *j = arg;

    j->rc = j->fn(j);
    sem_post(&j->done);
    return NULL;
}

static inline int sim_job_mem_fn(struct sim_job *j)
{
    return cpu_mem(j->v, j->addr, j->size, j->dir, &j->val);
}

static inline int sim_job_pio_fn(struct sim_job *j)
{
    uint32_t v = (uint32_t)j->val;
    int rc = cpu_pio(j->v, (uint16_t)j->addr, j->size, j->dir, &v);

    j->val = v;
    return rc;
}

static inline int sim_job_broadcast_fn(struct sim_job *j)
{
    j->failed = hv_ioreq_broadcast(j->v, &j->req);
    return 0;
}

static inline int sim_job_movs_fn(struct sim_job *j)
{
    return cpu_rep_movs(j->v, j->addr, j->src, j->size, j->reps, j->df);
}

static inline struct sim_job *sim_job_start(struct sim_env *e, unsigned int vcpu,
                                            int (*fn)(struct sim_job *), const struct sim_job *args)
{
    struct sim_job *j;

    if (e->nr_job == SIM_MAX_JOBS)
        return NULL;
    j = calloc(1, sizeof(*j));
    if (!j)
        return NULL;
    if (args)
        *j = *args;
    j->v = &e->hv->vcpu[vcpu];
    j->fn = fn;
    j->started = j->joined = false;
    sem_init(&j->done, 0, 0);
    e->job[e->nr_job++] = j;
    if (pthread_create(&j->thread, NULL, sim_job_main, j))
        return NULL;
    j->started = true;
    return j;
}

/* A guest access (cpu_mem) on vCPU `vcpu`'s own thread. */
static inline struct sim_job *sim_job_mem(struct sim_env *e, unsigned int vcpu, uint64_t gpa,
                                          unsigned int size, int dir, uint64_t val)
{
    struct sim_job a = {.addr = gpa, .size = size, .dir = dir, .val = val};

    return sim_job_start(e, vcpu, sim_job_mem_fn, &a);
}

/* Did the job finish within ms? (a bounded wait as an assertion) */
static inline bool sim_job_done_within(struct sim_job *j, unsigned int ms)
{
    struct timespec ts;
    int rc;

    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    do {
        rc = sem_timedwait(&j->done, &ts);
    } while (rc < 0 && errno == EINTR);
    if (rc == 0)
        sem_post(&j->done); /* still done for the next look */
    return rc == 0;
}

/* Join the job; returns its rc. */
static inline int sim_job_join(struct sim_job *j)
{
    if (j->started && !j->joined) {
        pthread_join(j->thread, NULL);
        j->joined = true;
    }
    return j->rc;
}

static inline bool sim_job_running(struct sim_job *j)
{
    int v = 0;

    if (!j->started || j->joined)
        return false;
    sem_getvalue(&j->done, &v);
    return v == 0;
}

static inline void sim_job_reap(struct sim_job *j)
{
    sim_job_join(j);
    sem_destroy(&j->done);
    free(j);
}

/* ------------------------------------------------------------------------ */
/* Guest RAM as the vCPU sees it (test set-up and checks, not emulation). */

static inline uint8_t *sim_ram(struct hv *hv, uint64_t gpa)
{
    int64_t frame = hv_gfn_to_frame(hv, gpa >> HV_PAGE_SHIFT);

    if (frame < 0)
        return NULL;
    return (uint8_t *)hv_frame_ptr(hv, (uint64_t)frame) + (gpa & (HV_PAGE_SIZE - 1));
}

#endif
