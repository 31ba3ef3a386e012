/* SPDX-License-Identifier: MIT */
/*
 * The simulated Xen 4.17: one HVM domain, its p2m and memory, ioreq servers,
 * event channels to dom0, and the emulation path a vCPU takes when it
 * touches something that is not RAM. It behaves as
 * shared/reference/xen-ioreq-protocol.md describes, and it checks the device
 * model as Xen would: what Xen would answer with domain_crash() is recorded
 * as a failure.
 *
 * Threads: the RPC thread (hv_rpc.c) serves the device model's library
 * calls; each vCPU is a thread of the harness that calls into cpu.c, which
 * sends ioreqs and blocks like a vCPU does. hv->lock protects everything but
 * the counters (atomics) and the ioreq slots (shared with the device model,
 * ordered by the slot's state byte).
 */
#ifndef XENSIM_HV_H
#define XENSIM_HV_H

#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include <xen/xen.h>
#include <xen/hvm/dm_op.h>
#include <xen/hvm/hvm_op.h>
#include <xen/hvm/ioreq.h>
#include <xen/memory.h>

#include "../proto.h"
#include "rangeset.h"

#define MIN_U64(a, b) ((uint64_t)(a) < (uint64_t)(b) ? (uint64_t)(a) : (uint64_t)(b))

#define HV_PAGE_SIZE   4096ULL
#define HV_PAGE_SHIFT  12
#define HV_MAX_SERVERS 8   /* MAX_NR_IOREQ_SERVERS */
#define HV_MAX_VCPUS   128 /* one ioreq page of 32-byte slots */
#define HV_MAX_PORTS   1024
#define HV_MAX_CONNS   64
#define HV_XS_NODES    128 /* xenstore nodes: the paths to a few records */
#define HV_FIRST_DOMU_PORT 5    /* the guest's own channels come first */
#define HV_FIRST_LOCAL_PORT 40  /* dom0's ports: a different range, so mixing them up fails */
/* Frames Xen itself allocates (ioreq pages); never reused within a run. */
#define HV_XEN_FRAMES  1024
/* Guest physical address width (46 bits, as on the HVM guests we model). */
#define HV_PADDR_BITS  46
#define HV_LOW_MMIO_END 0xFC000000ULL         /* hvmloader's PCI_MEM_END */
/* Gfns of the VGA hole, which an HVM guest's p2m leaves unpopulated. */
#define HV_VGA_HOLE_START          0xa0ULL
#define HV_VGA_HOLE_END            0xc0ULL
#define HV_DEFAULT_MMIO_HOLE_START 0xF0000000ULL /* HVM_BELOW_4G_MMIO_START */
/* Range types: Xen's three plus the lending extension's access-only type. */
#define HV_NR_RANGE_TYPES 4
/* IOREQ_TYPE_ACCESS of the lending ABI (ioreq-lend/lend_abi.h). */
#define HV_IOREQ_TYPE_ACCESS 9
/* The pattern freed frames are filled with, so a stale mapping shows up. */
#define HV_POISON_WORD 0xdeadbeefdeadbeefULL

enum hv_dom_state {
    DOM_ALIVE = 0,
    DOM_DYING, /* destroyed, resources released, but foreign mappings still held: a zombie */
    DOM_DEAD,
};

struct hv_mapping {
    uint64_t cookie;
    uint64_t pages;
    bool resource;
    uint32_t *frames; /* guest frames held (not resource mappings), nr_frames of them */
    uint64_t nr_frames;
    struct hv_mapping *next;
};

/* One open library handle of a device model process. */
struct hv_conn {
    bool used;
    int sock;
    enum sim_handle_kind kind;
    pid_t pid;
    /*
     * A device model the harness started (its child; or the process itself,
     * in unit tests): failure injections and kill points apply to it only,
     * not to processes a daemon starts (its memfd keeper).
     */
    bool device_model;
    int restrict_domid; /* -1: unrestricted */
    int event_wfd;      /* evtchn and lend handles: write end of the event pipe */
    struct hv_mapping *mappings;
};

/* The guest's end of an interdomain event channel, indexed by its port. */
struct hv_chan {
    bool allocated;
    uint32_t local_port; /* dom0's end; 0 = unbound */
    int vcpu;            /* vCPU woken when dom0 notifies; -1 for a buffered port */
};

/* dom0's end, indexed by its local port; owned by one event channel handle. */
struct hv_local_port {
    bool used;
    int conn;
    uint32_t domu_port; /* 0: the guest's end was closed (the domain died) */
};

/*
 * Event-channel state the simulated hypervisor shares with dom0's event
 * channel handles, as Xen shares pending and mask bits with a domain: dom0's
 * notify wakes the vCPU directly and an unmask with nothing pending is an
 * atomic, so a round trip costs what an event channel costs, not two RPCs.
 * The hypervisor writes owner and vcpu (under hv->lock); flags are updated
 * with compare-and-swap from both sides.
 */
#define CHAN_PENDING 1u
#define CHAN_MASKED  2u
struct hv_evtchn_shm {
    atomic_uint vcpu_wake[HV_MAX_VCPUS]; /* futex words, shared between processes */
    struct {
        atomic_uint owner; /* binding connection + 1; 0: unbound */
        atomic_uint vcpu;  /* vCPU + 1 woken by dom0's notify; 0: none */
        atomic_uint flags; /* CHAN_*: delivery to the handle's event pipe */
    } port[HV_MAX_PORTS];
    atomic_uint_fast64_t events_from_dom0;
    /*
     * A kill point (hv_arm_kill): the client library kills its own process
     * right before the Nth notify it sends from now (0: disarmed), as the
     * daemon would die if killed between answering a request and notifying.
     */
    atomic_uint kill_before_notify;
};

struct hv_server {
    bool used;
    uint32_t generation; /* bumped at destroy, so a waiting vCPU notices */
    bool enabled;
    int bufioreq_handling;
    pid_t creator_pid;
    bool pages_allocated;
    bool gfn_scheme; /* pages exposed through get_info gfns: map_resource is EPERM */
    uint64_t ioreq_frame, bufioreq_frame;
    uint64_t ioreq_gfn, bufioreq_gfn;
    shared_iopage_t *iopage;
    buffered_iopage_t *bufpage;
    struct rangeset range[HV_NR_RANGE_TYPES];
    uint32_t vcpu_port[HV_MAX_VCPUS];
    uint32_t buf_port;
};

struct hv_vcpu {
    struct hv *hv;
    unsigned int id;
    atomic_uint *wake; /* futex word (in the shared page): bumped when dom0 notifies its ports */
    bool stuck;       /* an ioreq was never answered; the vCPU is abandoned */
    /*
     * For tests that must know what the vCPU has seen: each time it blocks
     * waiting for an answer it stores the slot state it read last in
     * blocked_state, then bumps blocked (a futex word, woken).
     */
    atomic_uint blocked_state;
    atomic_uint blocked;
    /*
     * A guest access through a lent page: where its fault handler jumps
     * back to (lend.h LEND_JMP_*), and what the access was, for the
     * access-only request it sends.
     */
    sigjmp_buf jmp;
    volatile bool in_guest_access;
    unsigned int access_size;
    int access_dir;
    unsigned int retry_streak;
};

/* Latency histogram: log2 buckets of nanoseconds, with 8 sub-buckets each. */
#define HV_HIST_BUCKETS (64 * 8)
struct hv_hist {
    atomic_uint_fast64_t n[HV_HIST_BUCKETS];
};

struct hv_stats {
    atomic_uint_fast64_t ioreq_copy, ioreq_pci_config, ioreq_pio, ioreq_buffered,
        ioreq_invalidate, ioreq_timeoffset, ioreq_access, ioreq_other;
    atomic_uint_fast64_t emulated_bytes;  /* guest bytes moved by the device model: COPY
                                             requests of guest instructions (not forged ones) */
    atomic_uint_fast64_t unclaimed_reads, unclaimed_writes;
    atomic_uint_fast64_t faults_injected;
    atomic_uint_fast64_t events_to_dom0; /* events_from_dom0: in the shared page */
    /* The lending extension: pages the kernel installed or took back. */
    atomic_uint_fast64_t lend_pages_mapped, lend_pages_invalidated, lend_pages_evicted,
        lend_stale_installs_rejected, lend_retries;
    atomic_uint_fast64_t lend_peak_installed; /* the most pages one slot ever had installed */
    /* Host PTEs of installed pages put back after the host dropped them (p2m_present()). */
    atomic_uint_fast64_t lend_ptes_restored;
    /* Revision 3: IOCTL_PRIVCMD_LEND_AGE calls answered, and pages they reported accessed. */
    atomic_uint_fast64_t lend_age_calls, lend_pages_young;
    atomic_uint_fast64_t guest_crashes; /* domain_crash() for something the guest asked */
    struct hv_hist lat_copy, lat_access;
};

/* Failure injection into the device model's library calls. */
struct hv_inject {
    uint32_t skip;  /* calls to let through first */
    uint32_t count; /* calls to fail after that */
    int err;        /* positive errno */
};

#define HV_MAX_FAILURES 64

struct hv_domain_config {
    uint32_t domid;
    unsigned int vcpus;
    uint64_t ram;       /* bytes */
    uint64_t mmio_hole; /* bytes below 4 GiB; 0: hvmloader's default */
    bool pvh;           /* libxl's PVH layout: RAM up to HV_LOW_MMIO_END, no hvmloader hole */
    uint64_t balloon_reserve; /* spare frames for repopulated RAM */
    bool lend_kernel;   /* the kernel has the lending ioctls (else ENOTTY) */
    bool lend_xen;      /* the hypervisor has access-only ranges (else EINVAL) */
    bool lend_age;      /* revision 3: accessed bits and IOCTL_PRIVCMD_LEND_AGE (else ENOTTY) */
    unsigned int ioreq_timeout_ms;
};

struct hv {
    pthread_mutex_t lock;
    struct hv_domain_config cfg;
    enum hv_dom_state state;
    atomic_bool crashed; /* domain_crash(): its vCPUs never run again */

    /* Memory: one pool memfd holding every guest and Xen frame. */
    int pool_fd;
    uint8_t *pool;
    uint64_t pool_pages;
    uint64_t next_spare_frame, spare_end; /* balloon frames: bump-allocated */
    uint64_t next_xen_frame, xen_end;     /* Xen's own pages: bump-allocated */

    /* p2m of RAM: low RAM at 0, the rest from 4 GiB. */
    uint64_t low_pages, high_pages;
    uint32_t *ram_frame; /* index: ram_index(); UINT32_MAX = ballooned out */
    /*
     * Per pool frame: foreign mappings holding it, and whether the guest gave
     * it back meanwhile. Xen frees (here: poisons) a frame only once its last
     * reference is gone, so a device model's mapping keeps the old content.
     */
    uint16_t *frame_refs;
    uint8_t *frame_released;
    uint64_t mmio_hole_start;
    uint32_t pci_cf8;

    struct hv_server server[HV_MAX_SERVERS];
    struct hv_chan chan[HV_MAX_PORTS];
    struct hv_local_port local[HV_MAX_PORTS];
    struct hv_evtchn_shm *evt; /* shared with dom0's event channel handles */
    int evt_fd;
    struct hv_vcpu vcpu[HV_MAX_VCPUS];
    struct hv_conn conn[HV_MAX_CONNS];

    /* The RPC thread. */
    pthread_cond_t conn_closed; /* broadcast each time a handle is released */
    int listen_fd;
    char sock_path[108];
    int wake_pipe[2];
    pthread_t rpc_thread;
    bool rpc_running;

    struct hv_lend *lend; /* lend.c, when the kernel has lending */

    /* xenstore.c: xenstored's tree, dom0's view. Under lock. */
    struct hv_xs_node {
        bool used;
        char path[SIM_XS_PATH_MAX];
        char value[SIM_XS_VALUE_MAX];
        uint32_t len;
    } xs[HV_XS_NODES];
    uint32_t xs_next_tx;

    struct hv_stats stats;
    struct hv_inject inject[SIM_OP_LEND_LAST + 1];
    uint64_t op_calls[SIM_OP_LEND_LAST + 1];
    struct {
        uint32_t op;        /* 0: disarmed */
        uint32_t countdown; /* the call that dies: 1 = the next one */
        bool after;         /* after the call took effect, before its reply */
    } kill;

    /*
     * For tests: called on the vCPU's thread right after it posted a
     * synchronous request (state READY, port notified), before it sleeps.
     */
    void (*after_post)(struct hv_vcpu *v, ioreq_t *slot, void *arg);
    void *after_post_arg;

    /* Resources released only by a closing connection, per process. */
    struct hv_leaks {
        pid_t pid;
        uint64_t servers, ports, mappings, lent_pages;
    } leak[16];
    unsigned int nr_leak;

    pthread_mutex_t fail_lock;
    char *failure[HV_MAX_FAILURES];
    unsigned int nr_failures;
};

/* hv.c: the domain and its memory. */
int hv_create(struct hv *hv, const struct hv_domain_config *cfg, const char *sock_dir);
void hv_destroy(struct hv *hv);
/* The domain dies: servers destroyed, vCPUs released, channels closed. */
void hv_domain_destroy(struct hv *hv);
/* Record a failure (a protocol violation Xen would punish, a missing answer, ...). */
void hv_fail(struct hv *hv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Is gfn guest RAM? Returns the frame or -1. Caller holds hv->lock or accepts a racy read. */
int64_t hv_gfn_to_frame(struct hv *hv, uint64_t gfn);
void *hv_frame_ptr(struct hv *hv, uint64_t frame);
uint64_t hv_alloc_xen_frames(struct hv *hv, unsigned int n);
/* Balloon: remove RAM pages from the p2m (frames poisoned) or repopulate them. */
int hv_balloon_out(struct hv *hv, uint64_t gfn, uint64_t count);
int hv_balloon_in(struct hv *hv, uint64_t gfn, uint64_t count);
uint64_t hv_ram_end(const struct hv *hv); /* first gfn after high RAM, as an address */
void hv_poison(void *p, size_t len);
/* Is this domain-visible state still held by some connection (zombie domain)? */
uint64_t hv_foreign_pages_held(struct hv *hv);
/* A foreign mapping takes / drops a reference on a frame (hv->lock held). */
void hv_frame_get_locked(struct hv *hv, uint64_t frame);
void hv_frame_put_locked(struct hv *hv, uint64_t frame);
void hv_hist_add(struct hv_hist *h, uint64_t ns);
uint64_t hv_hist_percentile(const struct hv_hist *h, double pct);

/* ioreq.c: ioreq servers (dm_ops) and sending requests. */
int hv_server_create(struct hv *hv, int bufioreq, pid_t creator, uint16_t *id);
int hv_server_destroy(struct hv *hv, uint16_t id);
int hv_server_get_info(struct hv *hv, uint16_t id, bool want_gfns, uint64_t *ioreq_gfn,
                       uint64_t *bufioreq_gfn, uint32_t *buf_port);
int hv_server_get_frame(struct hv *hv, uint16_t id, uint64_t idx, uint64_t *frame);
int hv_server_map_range(struct hv *hv, uint16_t id, uint32_t type, uint64_t s, uint64_t e);
int hv_server_unmap_range(struct hv *hv, uint16_t id, uint32_t type, uint64_t s, uint64_t e);
int hv_server_set_state(struct hv *hv, uint16_t id, bool enabled);

enum hv_send_result {
    HV_IO_HANDLED,   /* answered; p->data holds the result */
    HV_IO_UNCLAIMED, /* no server: reads all ones, writes dropped */
    HV_IO_DEAD,      /* the domain died, or the vCPU was abandoned */
};
/*
 * Route a PIO/COPY request as Xen does (PCI config cycles through CF8,
 * highest enabled server first, whole access inside one range) and wait for
 * the answer. Called on the vCPU's own thread.
 */
enum hv_send_result hv_ioreq_emulate(struct hv_vcpu *v, ioreq_t *p);
/* Send to one server regardless of ranges (the sim as a hostile Xen peer, and ACCESS). */
enum hv_send_result hv_ioreq_send_to(struct hv_vcpu *v, uint16_t id, ioreq_t *p);
/* Synchronous broadcast to every enabled server (INVALIDATE). */
unsigned int hv_ioreq_broadcast(struct hv_vcpu *v, ioreq_t *p);
/* Buffered broadcast (TIMEOFFSET) to servers with a ring. */
unsigned int hv_ioreq_broadcast_buffered(struct hv *hv, ioreq_t *p);

/* evtchn.c: ports between the guest and dom0. The _locked ones need hv->lock. */
int hv_evtchn_alloc_locked(struct hv *hv, int vcpu, uint32_t *port);
void hv_evtchn_free_locked(struct hv *hv, uint32_t port);
int hv_evtchn_bind(struct hv *hv, int conn, uint32_t domu_port, uint32_t *local_port);
int hv_evtchn_unbind(struct hv *hv, int conn, uint32_t local_port);
/* Xen notifies dom0 on the guest's port (from any thread, even a signal handler). */
void hv_evtchn_send_to_dom0(struct hv *hv, uint32_t domu_port);
void hv_evtchn_send_to_dom0_locked(struct hv *hv, uint32_t domu_port);
/* dom0's notify and unmask, on its local port. */
int hv_evtchn_notify_from_dom0(struct hv *hv, int conn, uint32_t local_port);
int hv_evtchn_unmask(struct hv *hv, int conn, uint32_t local_port);
void hv_evtchn_close_conn(struct hv *hv, int conn, uint64_t *released);

/* hv_rpc.c: the RPC thread serving the device model's library calls. */
int hv_rpc_start(struct hv *hv);
void hv_rpc_stop(struct hv *hv);
/* Inject failures: fail `count` calls of op after letting `skip` through. */
void hv_inject_failure(struct hv *hv, enum sim_op op, uint32_t skip, uint32_t count, int err);
/*
 * A kill point: the device model is killed (SIGKILL) at its nth call of op
 * from now, before Xen does anything (after = false) or after the call took
 * effect but before it returns (after = true). SIM_OP_NOTIFY: before the nth
 * notify. The caller then waits for the daemon's exit.
 */
void hv_arm_kill(struct hv *hv, enum sim_op op, uint32_t nth, bool after);
/* Open handles of processes that are not device models (a daemon's memfd keeper). */
unsigned int hv_other_handles(struct hv *hv);
/* Wait until there are none; 0, or -ETIMEDOUT. */
int hv_wait_other_handles_released(struct hv *hv, unsigned int timeout_ms);
/* Resources a process left to be released by closing its handles. */
struct hv_leaks hv_leaks_of(struct hv *hv, pid_t pid);
/*
 * Wait until no handle of process pid is open: a dead process's files are
 * released before its parent's wait() returns, and so must its handles be.
 */
void hv_deadline_in(struct timespec *deadline, unsigned int ms);
int hv_wait_handles_released(struct hv *hv, pid_t pid, unsigned int timeout_ms);
/* Open handles of process pid that are not restricted to a domain. */
unsigned int hv_unrestricted_handles(struct hv *hv, pid_t pid);

/*
 * xenstore.c: libxenstore's calls (SIM_OP_XS_*), and the harness's view.
 * Transactions apply each operation at once and never conflict: the only
 * writers are the daemons' record keepers, each on its own record.
 */
int hv_xs_dispatch(struct hv *hv, const struct sim_req *req, struct sim_reply *reply);
/* The value at path (NUL-terminated into buf), or -ENOENT. */
int hv_xs_read(struct hv *hv, const char *path, char *buf, size_t len);
/* Nodes at or below path. */
unsigned int hv_xs_count(struct hv *hv, const char *path);
/* Wait until no node is at or below path, woken by each handle released; 0 or -ETIMEDOUT. */
int hv_xs_wait_absent(struct hv *hv, const char *path, unsigned int timeout_ms);

/* cpu.c: what a vCPU does when it accesses memory or ports. */
void hv_vcpu_init(struct hv *hv, unsigned int id);
int cpu_pio(struct hv_vcpu *v, uint16_t port, unsigned int size, int dir, uint32_t *val);
/* One mov of size 1/2/4/8 at gpa, naturally aligned. */
int cpu_mem(struct hv_vcpu *v, uint64_t gpa, unsigned int size, int dir, uint64_t *val);
/* rep movs / rep stos as Xen emulates them against MMIO; RAM side direct. */
int cpu_rep_movs(struct hv_vcpu *v, uint64_t dst, uint64_t src, unsigned int size, uint64_t reps,
                 bool df);
int cpu_rep_stos(struct hv_vcpu *v, uint64_t dst, uint64_t value, unsigned int size,
                 uint64_t reps, bool df);
int cpu_pci_config(struct hv_vcpu *v, unsigned int bus, unsigned int dev, unsigned int fn,
                   unsigned int reg, unsigned int size, int dir, uint32_t *val);

#endif
