/* SPDX-License-Identifier: MIT */
/*
 * The in-process mock of the Xen libraries and libxenlend (mock_xen.h).
 *
 * One process-wide "host" (like the real Xen there is one): the fuzz targets
 * run one daemon at a time and reset the mock between runs. Prototypes come
 * from the installed headers, so the daemon compiles against the real API.
 */
#include "mock_xen.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xentoolcore.h>
#include <xen/memory.h>

#include "xenlend.h"

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define MOCK_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define MOCK_ASAN 1
#endif
#ifdef MOCK_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n)   ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n)   ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

#define PAGE         4096u
#define MAX_BINDINGS (MOCK_MAX_VCPUS + 8)

struct xendevicemodel_handle {
    int magic;
};
struct xenforeignmemory_handle {
    int magic;
};
struct xenevtchn_handle {
    int magic;
};
struct xenforeignmemory_resource_handle {
    void *addr;
};
struct xenlend_handle {
    int magic;
};

#define MAGIC_OPEN 0x6f70656e

struct binding {
    evtchn_port_t local, remote;
    bool bound;
};

struct range_set {
    struct mock_range r[MOCK_MAX_RANGES];
    unsigned int n;
    /* Ranges whose release was made to fail: they may outlive the daemon's knowledge. */
    struct mock_range stale[MOCK_MAX_RANGES * 4];
    unsigned int nstale;
};

static struct mock {
    struct mock_config cfg;
    enum mock_phase phase;
    unsigned int setup_calls;
    const uint8_t *fault;
    size_t fault_len, fault_pos;
    bool dead;

    /* Handles. */
    int dm_open, fm_open, xce_open, lend_open;

    /* The ioreq server. */
    bool server;
    ioservid_t id;             /* ours: the predecessor's, or a new one */
    bool pred;                 /* the server is a crashed predecessor's... */
    bool pred_named;           /* ...the daemon asked for its pages (the lock file named it)... */
    bool adopted;              /* ...and got them */
    bool said_gone;            /* ...or was told (ENOENT, ESRCH) that it does not exist */
    bool leaked, leaked_named; /* a predecessor's server left behind by a new one */
    bool enabled;
    bool pcidev;
    bool bridge, ports; /* --host-bridge: 00:00.0 and ports 0xcf8-0xcff claimed */
    uint32_t sbdf;
    struct range_set mmio, access;
    uint8_t *res_pages; /* 2 pages: buffered ring, ioreq page */
    bool res_mapped;
    bool res_kept; /* the pages hold a predecessor's state: map them as they are */

    /* Event channels. */
    struct binding bind[MAX_BINDINGS];
    evtchn_port_t next_local;
    evtchn_port_t queued[8];
    unsigned int nqueued;
    evtchn_port_t notified[64];
    unsigned int nnotified;
    int last_pending;
    unsigned int faults; /* failures injected while serving */

    /* Guest RAM. */
    uint8_t *ram[MOCK_GUEST_RAM_PAGES];
    unsigned int ram_maps[MOCK_GUEST_RAM_PAGES];
    uint8_t ram_touched[MOCK_GUEST_RAM_PAGES];
    unsigned int maps_live;
    bool map_failed;

    /* Lending: slot 0 only (the daemon's REMAP_SLOT). */
    bool slot_live;
    uint64_t slot_gfn, slot_pages;
    const void *slot_uaddr;
    uint8_t mapped[MOCK_LEND_MAX_PAGES];
    /* Mapped when an OVERFLOW record was read: the daemon must take these back. */
    uint8_t unknown[MOCK_LEND_MAX_PAGES];
    /* ...and it tried, but the kernel refused: excused from the window check. */
    uint8_t forgotten[MOCK_LEND_MAX_PAGES];
    uint8_t lost[MOCK_LEND_MAX_PAGES];
    int backing_fd; /* the daemon's backing: a lost page stays lost until a hole is there */
    uint64_t backing_off;
    struct privcmd_lend_event queue[MOCK_LEND_QUEUE];
    unsigned int nevents;
    bool overflowed;
} M;

void mock_violation(const char *fmt, ...)
{
    va_list ap;

    fputs("\n*** PROPERTY VIOLATED: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n", stderr);
    abort();
}

/* ---- Run control and failure injection ---- */

void mock_reset(const struct mock_config *cfg)
{
    mock_finish();
    memset(&M, 0, sizeof(M));
    M.cfg = *cfg;
    M.backing_fd = -1;
    M.phase = MOCK_SETUP;
    M.next_local = cfg->port_base;
    M.last_pending = -1;
    M.id = cfg->server_id;
}

void mock_finish(void)
{
    if (M.res_pages) {
        UNPOISON(M.res_pages, 2 * PAGE);
        free(M.res_pages);
        M.res_pages = NULL;
    }
    for (unsigned int i = 0; i < MOCK_GUEST_RAM_PAGES; i++) {
        if (M.ram[i]) {
            UNPOISON(M.ram[i], PAGE);
            free(M.ram[i]);
            M.ram[i] = NULL;
        }
    }
}

void mock_set_phase(enum mock_phase phase)
{
    M.phase = phase;
}

void mock_set_faults(const uint8_t *bytes, size_t len)
{
    M.fault = bytes;
    M.fault_len = len;
    M.fault_pos = 0;
}

int mock_fault_byte(void)
{
    if (M.fault_pos >= M.fault_len)
        return -1;
    return M.fault[M.fault_pos++];
}

static const int fault_errnos[] = {ENOMEM, EAGAIN, ENOENT, ESRCH, EINVAL, EFAULT, EBUSY, EIO};

/*
 * Should this fallible call fail? Returns the errno to fail with, or 0.
 * A dead domain fails every hypercall with ESRCH (hypercall = true).
 */
static int injected(bool hypercall)
{
    int b;

    if (M.dead && hypercall)
        return ESRCH;
    switch (M.phase) {
    case MOCK_SETUP:
        M.setup_calls++;
        if (M.cfg.setup_fail_call && M.setup_calls == M.cfg.setup_fail_call)
            return M.cfg.setup_fail_errno ? M.cfg.setup_fail_errno : ENOMEM;
        return 0;
    case MOCK_SERVING:
        b = mock_fault_byte();
        if (b < MOCK_FAULT_THRESHOLD)
            return 0;
        M.faults++;
        return fault_errnos[b & 7];
    case MOCK_TEARDOWN:
    default:
        return 0;
    }
}

bool mock_setup_fault_hit(void)
{
    return M.cfg.setup_fail_call && M.setup_calls >= M.cfg.setup_fail_call;
}

static int fail_with(int e)
{
    errno = e;
    return -1;
}

static void check_domid(uint32_t domid, const char *what)
{
    if (domid != M.cfg.domid)
        mock_violation("%s on domain %u, not the served domain %u", what, domid, M.cfg.domid);
}

static void check_server(ioservid_t id, const char *what)
{
    if (M.server && id != M.id)
        mock_violation("%s names ioreq server %u, ours is %u", what, id, M.id);
}

/* ---- Range sets (Xen's rangesets: inclusive, EEXIST on overlap) ---- */

static int range_add(struct range_set *s, uint64_t start, uint64_t end)
{
    if (start > end)
        return EINVAL;
    for (unsigned int i = 0; i < s->n; i++) {
        if (start <= s->r[i].end && s->r[i].start <= end)
            return EEXIST;
    }
    if (s->n == MOCK_MAX_RANGES)
        return ENOSPC;
    s->r[s->n].start = start;
    s->r[s->n].end = end;
    s->n++;
    return 0;
}

static int range_del(struct range_set *s, uint64_t start, uint64_t end)
{
    for (unsigned int i = 0; i < s->n; i++) {
        if (s->r[i].start == start && s->r[i].end == end) {
            s->r[i] = s->r[--s->n];
            return 0;
        }
    }
    return ENOENT;
}

static void range_mark_stale(struct range_set *s, uint64_t start, uint64_t end)
{
    if (s->nstale < sizeof(s->stale) / sizeof(s->stale[0])) {
        s->stale[s->nstale].start = start;
        s->stale[s->nstale].end = end;
        s->nstale++;
    }
}

static bool range_covers(const struct range_set *s, uint64_t addr)
{
    for (unsigned int i = 0; i < s->n; i++) {
        if (addr >= s->r[i].start && addr <= s->r[i].end)
            return true;
    }
    return false;
}

/* ---- xentoolcore ---- */

int xentoolcore_restrict_all(domid_t domid)
{
    int e;

    check_domid(domid, "xentoolcore_restrict_all");
    e = injected(false);
    return e ? fail_with(e) : 0;
}

/*
 * Every handle is only "open or not" (its first member, magic), counted per
 * library for the leak check at the end of each input.
 */
static void *handle_open(size_t size, int *open_count, int err)
{
    int *magic;

    if (err) {
        errno = err;
        return NULL;
    }
    magic = calloc(1, size);
    if (!magic)
        abort();
    *magic = MAGIC_OPEN;
    (*open_count)++;
    return magic;
}

/* False for NULL (closing nothing is allowed); a handle not open is a violation. */
static bool handle_close(void *h, int *open_count, const char *what)
{
    int *magic = h;

    if (!h)
        return false;
    if (*magic != MAGIC_OPEN)
        mock_violation("%s of a handle not open", what);
    *magic = 0;
    free(h);
    (*open_count)--;
    return true;
}

static void handle_check(const void *h, const char *what, const char *kind)
{
    if (!h || *(const int *)h != MAGIC_OPEN)
        mock_violation("%s on %s handle not open", what, kind);
}

/* ---- libxendevicemodel ---- */

xendevicemodel_handle *xendevicemodel_open(struct xentoollog_logger *logger, unsigned int flags)
{
    (void)logger;
    (void)flags;
    return handle_open(sizeof(struct xendevicemodel_handle), &M.dm_open, injected(false));
}

int xendevicemodel_close(xendevicemodel_handle *dmod)
{
    handle_close(dmod, &M.dm_open, "xendevicemodel_close");
    return 0;
}

static void check_dm(xendevicemodel_handle *h, const char *what)
{
    handle_check(h, what, "a devicemodel");
}

int xendevicemodel_nr_vcpus(xendevicemodel_handle *dmod, domid_t domid, unsigned int *vcpus)
{
    int e;

    check_dm(dmod, "nr_vcpus");
    check_domid(domid, "nr_vcpus");
    e = injected(true);
    if (e)
        return fail_with(e);
    *vcpus = M.cfg.nr_vcpus;
    return 0;
}

int xendevicemodel_create_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                       int handle_bufioreq, ioservid_t *id)
{
    int e;

    check_dm(dmod, "create_ioreq_server");
    check_domid(domid, "create_ioreq_server");
    (void)handle_bufioreq;
    e = injected(true);
    if (e)
        return fail_with(e);
    if (M.server && M.pred && !M.adopted) {
        /*
         * A second server while the predecessor's is still there (Xen allows
         * 8): it stays, claiming the function, with nobody serving it.
         */
        M.leaked = true;
        M.leaked_named = M.pred_named && !M.said_gone;
        M.server = false;
        M.enabled = false;
        M.pcidev = M.bridge = M.ports = false;
        M.mmio.n = 0;
        M.access.n = 0;
        M.res_kept = false;
        M.pred = false;
        M.id = (ioservid_t)((M.id + 1) % 8);
    }
    if (M.server)
        return fail_with(ENOSPC); /* one server is all this domain allows us */
    M.server = true;
    *id = M.id;
    return 0;
}

int xendevicemodel_get_ioreq_server_info(xendevicemodel_handle *dmod, domid_t domid, ioservid_t id,
                                         xen_pfn_t *ioreq_gfn, xen_pfn_t *bufioreq_gfn,
                                         evtchn_port_t *bufioreq_port)
{
    int e;

    check_dm(dmod, "get_ioreq_server_info");
    check_domid(domid, "get_ioreq_server_info");
    check_server(id, "get_ioreq_server_info");
    e = injected(true);
    if (e)
        return fail_with(e);
    if (!M.server)
        return fail_with(ENOENT);
    if (ioreq_gfn || bufioreq_gfn)
        return fail_with(EOPNOTSUPP); /* the resource scheme only: no gfns */
    if (bufioreq_port)
        *bufioreq_port = MOCK_REMOTE_BUF_PORT;
    return 0;
}

static int io_range(xendevicemodel_handle *dmod, domid_t domid, ioservid_t id, int is_mmio,
                    uint64_t start, uint64_t end, bool add)
{
    const char *what = add ? "map_io_range_to_ioreq_server" : "unmap_io_range_from_ioreq_server";
    int e;

    check_dm(dmod, what);
    check_domid(domid, what);
    check_server(id, what);
    if (!is_mmio && !(start == 0xcf8 && end == 0xcff))
        mock_violation("%s of ports 0x%llx-0x%llx: only conf1's (--host-bridge)", what,
                       (unsigned long long)start, (unsigned long long)end);
    if (!is_mmio) {
        e = injected(true);
        if (e)
            return fail_with(e);
        if (!M.server)
            return fail_with(ENOENT);
        if (add && M.ports)
            return fail_with(EEXIST);
        if (!add && !M.ports)
            return fail_with(ENOENT);
        M.ports = add;
        return 0;
    }
    e = injected(true);
    if (e) {
        if (!add)
            range_mark_stale(&M.mmio, start, end);
        return fail_with(e);
    }
    if (!M.server)
        return fail_with(ENOENT);
    e = add ? range_add(&M.mmio, start, end) : range_del(&M.mmio, start, end);
    return e ? fail_with(e) : 0;
}

int xendevicemodel_map_io_range_to_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                                ioservid_t id, int is_mmio, uint64_t start,
                                                uint64_t end)
{
    return io_range(dmod, domid, id, is_mmio, start, end, true);
}

int xendevicemodel_unmap_io_range_from_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                                    ioservid_t id, int is_mmio, uint64_t start,
                                                    uint64_t end)
{
    return io_range(dmod, domid, id, is_mmio, start, end, false);
}

int xendevicemodel_map_pcidev_to_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                              ioservid_t id, uint16_t segment, uint8_t bus,
                                              uint8_t device, uint8_t function)
{
    int e;

    check_dm(dmod, "map_pcidev");
    check_domid(domid, "map_pcidev");
    check_server(id, "map_pcidev");
    e = injected(true);
    if (e)
        return fail_with(e);
    if (!M.server)
        return fail_with(ENOENT);
    if (segment == 0 && bus == 0 && device == 0 && function == 0) {
        /* The host bridge (--host-bridge): a second function on the same server. */
        if (M.bridge)
            return fail_with(EEXIST);
        M.bridge = true;
        return 0;
    }
    if (M.pcidev)
        return fail_with(EEXIST);
    M.pcidev = true;
    M.sbdf = (uint32_t)XEN_DMOP_PCI_SBDF(segment, bus, device, function);
    return 0;
}

int xendevicemodel_unmap_pcidev_from_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                                  ioservid_t id, uint16_t segment, uint8_t bus,
                                                  uint8_t device, uint8_t function)
{
    int e;

    check_dm(dmod, "unmap_pcidev");
    check_domid(domid, "unmap_pcidev");
    check_server(id, "unmap_pcidev");
    e = injected(true);
    if (e)
        return fail_with(e);
    if (!M.server)
        return fail_with(ENOENT);
    if (!M.pcidev || M.sbdf != (uint32_t)XEN_DMOP_PCI_SBDF(segment, bus, device, function))
        mock_violation("unmap_pcidev of %04x:%02x:%02x.%x, which is not claimed", segment, bus,
                       device, function);
    M.pcidev = false;
    return 0;
}

int xendevicemodel_set_ioreq_server_state(xendevicemodel_handle *dmod, domid_t domid, ioservid_t id,
                                          int enabled)
{
    int e;

    check_dm(dmod, "set_ioreq_server_state");
    check_domid(domid, "set_ioreq_server_state");
    check_server(id, "set_ioreq_server_state");
    e = injected(true);
    if (e)
        return fail_with(e);
    if (!M.server)
        return fail_with(ENOENT);
    M.enabled = enabled != 0;
    /* Xen writes each vCPU's event channel into its slot when the server is enabled. */
    if (M.enabled && M.res_mapped) {
        shared_iopage_t *io = mock_iopage();

        for (unsigned int v = 0; v < M.cfg.nr_vcpus && v < MOCK_MAX_VCPUS; v++)
            io->vcpu_ioreq[v].vp_eport =
                (int)v == M.cfg.zero_vp_eport ? 0 : MOCK_REMOTE_VCPU_PORT(v);
    }
    return 0;
}

int xendevicemodel_destroy_ioreq_server(xendevicemodel_handle *dmod, domid_t domid, ioservid_t id)
{
    int e;

    check_dm(dmod, "destroy_ioreq_server");
    check_domid(domid, "destroy_ioreq_server");
    check_server(id, "destroy_ioreq_server");
    /* Cleanup: Xen fails it only for a missing server or a dying domain. */
    e = M.dead ? ESRCH : M.phase == MOCK_SERVING ? injected(true) : 0;
    if (e)
        return fail_with(e);
    if (!M.server)
        return fail_with(ENOENT);
    /* Everything the server held goes with it, its pages too. */
    M.res_kept = false;
    M.pred = false;
    M.server = false;
    M.enabled = false;
    M.pcidev = M.bridge = M.ports = false;
    M.mmio.n = 0;
    M.access.n = 0;
    return 0;
}

/* ---- libxenforeignmemory ---- */

xenforeignmemory_handle *xenforeignmemory_open(struct xentoollog_logger *logger, unsigned int flags)
{
    (void)logger;
    (void)flags;
    return handle_open(sizeof(struct xenforeignmemory_handle), &M.fm_open, injected(false));
}

int xenforeignmemory_close(xenforeignmemory_handle *fmem)
{
    handle_close(fmem, &M.fm_open, "xenforeignmemory_close");
    return 0;
}

static void check_fm(xenforeignmemory_handle *h, const char *what)
{
    handle_check(h, what, "a foreign-memory");
}

uint8_t mock_guest_initial(uint64_t gfn, unsigned int off)
{
    return (uint8_t)(gfn * 37 + off * 13 + (off >> 8));
}

/* Guest RAM: one heap page per gfn, content a function of the gfn, poisoned while unmapped. */
static uint8_t *ram_page(uint64_t gfn)
{
    if (!M.ram[gfn]) {
        if (posix_memalign((void **)&M.ram[gfn], PAGE, PAGE))
            abort();
        for (unsigned int i = 0; i < PAGE; i++)
            M.ram[gfn][i] = mock_guest_initial(gfn, i);
        POISON(M.ram[gfn], PAGE);
    }
    return M.ram[gfn];
}

void *xenforeignmemory_map(xenforeignmemory_handle *fmem, uint32_t dom, int prot, size_t pages,
                           const xen_pfn_t arr[], int err[])
{
    uint8_t *page;
    int e;

    (void)prot;
    check_fm(fmem, "xenforeignmemory_map");
    check_domid(dom, "xenforeignmemory_map");
    if (pages != 1)
        mock_violation("xenforeignmemory_map of %zu pages: the daemon maps one at a time", pages);
    e = injected(true);
    if (!e && arr[0] >= MOCK_GUEST_RAM_PAGES)
        e = ENOENT; /* not RAM: MMIO, a hole, or beyond the guest's memory */
    if (e) {
        M.map_failed = true;
        if (err) {
            err[0] = -e;
            /* The library returns the mapping with per-page errors; keep it simple. */
        }
        errno = e;
        return NULL;
    }
    page = ram_page(arr[0]);
    if (M.ram_maps[arr[0]]++ == 0)
        UNPOISON(page, PAGE);
    M.ram_touched[arr[0]] = 1;
    M.maps_live++;
    if (err)
        err[0] = 0;
    return page;
}

int xenforeignmemory_unmap(xenforeignmemory_handle *fmem, void *addr, size_t pages)
{
    check_fm(fmem, "xenforeignmemory_unmap");
    if (pages != 1)
        mock_violation("xenforeignmemory_unmap of %zu pages", pages);
    for (unsigned int g = 0; g < MOCK_GUEST_RAM_PAGES; g++) {
        if (M.ram[g] == addr && M.ram_maps[g]) {
            if (--M.ram_maps[g] == 0)
                POISON(addr, PAGE);
            M.maps_live--;
            return 0;
        }
    }
    mock_violation("xenforeignmemory_unmap of %p, which is not a mapping", addr);
}

int xenforeignmemory_restrict(xenforeignmemory_handle *fmem, domid_t domid)
{
    check_fm(fmem, "xenforeignmemory_restrict");
    check_domid(domid, "xenforeignmemory_restrict");
    return 0;
}

xenforeignmemory_resource_handle *
xenforeignmemory_map_resource(xenforeignmemory_handle *fmem, domid_t domid, unsigned int type,
                              unsigned int id, unsigned long frame, unsigned long nr_frames,
                              void **paddr, int prot, int flags)
{
    struct xenforeignmemory_resource_handle *r;
    int e;

    (void)prot;
    (void)flags;
    check_fm(fmem, "map_resource");
    check_domid(domid, "map_resource");
    if (M.server && M.pred && id == M.id)
        M.pred_named = true;
    e = injected(true);
    if (e) {
        /* An injected ENOENT/ESRCH says what Xen says of a server that is gone. */
        if (M.server && M.pred && id == M.id && (e == ENOENT || e == ESRCH))
            M.said_gone = true;
        errno = e;
        return NULL;
    }
    if (!M.server || id != M.id) {
        errno = ENOENT; /* Xen: no such ioreq server */
        return NULL;
    }
    if (type != XENMEM_resource_ioreq_server ||
        frame != XENMEM_resource_ioreq_server_frame_bufioreq || nr_frames != 2) {
        errno = EINVAL;
        return NULL;
    }
    if (M.pred)
        M.adopted = true;
    if (M.res_mapped)
        mock_violation("the ioreq server's pages are mapped twice");
    if (!M.res_pages) {
        if (posix_memalign((void **)&M.res_pages, PAGE, 2 * PAGE))
            abort();
    }
    UNPOISON(M.res_pages, 2 * PAGE);
    if (!M.res_kept)
        memset(M.res_pages, 0, 2 * PAGE);
    r = calloc(1, sizeof(*r));
    if (!r)
        abort();
    r->addr = M.res_pages;
    M.res_mapped = true;
    *paddr = M.res_pages;
    return r;
}

int xenforeignmemory_unmap_resource(xenforeignmemory_handle *fmem,
                                    xenforeignmemory_resource_handle *fres)
{
    check_fm(fmem, "unmap_resource");
    if (!fres || !M.res_mapped || fres->addr != M.res_pages)
        mock_violation("unmap_resource of a resource not mapped");
    M.res_mapped = false;
    POISON(M.res_pages, 2 * PAGE);
    free(fres);
    return 0;
}

/* ---- libxenevtchn ---- */

xenevtchn_handle *xenevtchn_open(struct xentoollog_logger *logger, unsigned int flags)
{
    (void)logger;
    (void)flags;
    return handle_open(sizeof(struct xenevtchn_handle), &M.xce_open, injected(false));
}

int xenevtchn_close(xenevtchn_handle *xce)
{
    if (!handle_close(xce, &M.xce_open, "xenevtchn_close"))
        return 0;
    /* Closing the device unbinds every port bound through it. */
    for (unsigned int i = 0; i < MAX_BINDINGS; i++)
        M.bind[i].bound = false;
    return 0;
}

static void check_xce(xenevtchn_handle *h, const char *what)
{
    handle_check(h, what, "an event-channel");
}

int xenevtchn_fd(xenevtchn_handle *xce)
{
    check_xce(xce, "xenevtchn_fd");
    return 1000; /* never polled by the fuzz targets */
}

static struct binding *binding_of_local(evtchn_port_t local)
{
    for (unsigned int i = 0; i < MAX_BINDINGS; i++) {
        if (M.bind[i].bound && M.bind[i].local == local)
            return &M.bind[i];
    }
    return NULL;
}

xenevtchn_port_or_error_t xenevtchn_bind_interdomain(xenevtchn_handle *xce, uint32_t domid,
                                                     evtchn_port_t remote)
{
    bool known = remote == MOCK_REMOTE_BUF_PORT;
    int e;

    check_xce(xce, "bind_interdomain");
    check_domid(domid, "bind_interdomain");
    e = injected(true);
    if (e)
        return fail_with(e);
    for (unsigned int v = 0; v < M.cfg.nr_vcpus && v < MOCK_MAX_VCPUS; v++)
        known |= remote == MOCK_REMOTE_VCPU_PORT(v);
    if (!known)
        return fail_with(EINVAL); /* not an unbound port of the domain */
    for (unsigned int i = 0; i < MAX_BINDINGS; i++) {
        if (M.bind[i].bound && M.bind[i].remote == remote)
            return fail_with(EINVAL); /* the remote end is already bound */
    }
    for (unsigned int i = 0; i < MAX_BINDINGS; i++) {
        if (!M.bind[i].bound) {
            M.bind[i].bound = true;
            M.bind[i].remote = remote;
            M.bind[i].local = ++M.next_local;
            if (M.bind[i].local == 0)
                M.bind[i].local = ++M.next_local;
            return (xenevtchn_port_or_error_t)M.bind[i].local;
        }
    }
    return fail_with(ENOSPC);
}

xenevtchn_port_or_error_t xenevtchn_bind_unbound_port(xenevtchn_handle *xce, uint32_t domid)
{
    (void)xce;
    (void)domid;
    mock_violation("bind_unbound_port: not used by the daemon");
}

xenevtchn_port_or_error_t xenevtchn_bind_virq(xenevtchn_handle *xce, unsigned int virq)
{
    (void)xce;
    (void)virq;
    mock_violation("bind_virq: not used by the daemon");
}

int xenevtchn_unbind(xenevtchn_handle *xce, evtchn_port_t port)
{
    struct binding *b;

    check_xce(xce, "unbind");
    b = binding_of_local(port);
    if (!b)
        mock_violation("unbind of port %u, which is not bound", port);
    b->bound = false;
    return 0;
}

int xenevtchn_notify(xenevtchn_handle *xce, evtchn_port_t port)
{
    int e;

    check_xce(xce, "notify");
    if (!binding_of_local(port))
        mock_violation("notify on port %u, which is not bound", port);
    if (M.nnotified < sizeof(M.notified) / sizeof(M.notified[0]))
        M.notified[M.nnotified++] = port;
    e = injected(false);
    return e ? fail_with(e) : 0;
}

xenevtchn_port_or_error_t xenevtchn_pending(xenevtchn_handle *xce)
{
    evtchn_port_t p;
    int e;

    check_xce(xce, "pending");
    M.last_pending = -1;
    e = injected(false);
    if (e)
        return fail_with(e);
    if (M.nqueued == 0)
        return fail_with(EAGAIN);
    p = M.queued[0];
    memmove(&M.queued[0], &M.queued[1], (M.nqueued - 1) * sizeof(M.queued[0]));
    M.nqueued--;
    M.last_pending = (int)p;
    return (xenevtchn_port_or_error_t)p;
}

int xenevtchn_unmask(xenevtchn_handle *xce, evtchn_port_t port)
{
    int e;

    check_xce(xce, "unmask");
    (void)port;
    e = injected(false);
    return e ? fail_with(e) : 0;
}

int xenevtchn_restrict(xenevtchn_handle *xce, domid_t domid)
{
    check_xce(xce, "xenevtchn_restrict");
    check_domid(domid, "xenevtchn_restrict");
    return 0;
}

/* ---- libxenlend ---- */

xenlend_handle *xenlend_open(domid_t domid)
{
    int e;

    check_domid(domid, "xenlend_open");
    e = injected(false);
    if (!e && !M.cfg.lend_kernel)
        e = ENOTTY;
    return handle_open(sizeof(struct xenlend_handle), &M.lend_open, e);
}

static void lend_unmap_all(void)
{
    memset(M.mapped, 0, sizeof(M.mapped));
    memset(M.unknown, 0, sizeof(M.unknown));
    memset(M.forgotten, 0, sizeof(M.forgotten));
}

static void lend_unmap_page(uint64_t p)
{
    M.mapped[p] = 0;
    M.unknown[p] = 0;
    M.forgotten[p] = 0;
}

void xenlend_close(xenlend_handle *h)
{
    if (!handle_close(h, &M.lend_open, "xenlend_close"))
        return;
    /* Closing the fd revokes every mapping of every slot. */
    M.slot_live = false;
    lend_unmap_all();
}

static void check_lend(xenlend_handle *h, const char *what)
{
    handle_check(h, what, "a lend");
}

int xenlend_fd(xenlend_handle *h)
{
    check_lend(h, "xenlend_fd");
    return 1001;
}

int xenlend_claim_access_range(xenlend_handle *h, ioservid_t id, uint64_t start, uint64_t end)
{
    int e;

    check_lend(h, "claim_access_range");
    check_server(id, "claim_access_range");
    e = injected(true);
    if (!e && !M.cfg.lend_hv)
        e = EINVAL; /* stock Xen: unknown range type */
    if (!e && !M.server)
        e = ENOENT;
    if (!e)
        e = range_add(&M.access, start, end);
    return e ? fail_with(e) : 0;
}

int xenlend_release_access_range(xenlend_handle *h, ioservid_t id, uint64_t start, uint64_t end)
{
    int e;

    check_lend(h, "release_access_range");
    check_server(id, "release_access_range");
    e = injected(true);
    if (e) {
        range_mark_stale(&M.access, start, end);
        return fail_with(e);
    }
    if (!M.server)
        return fail_with(ENOENT);
    e = range_del(&M.access, start, end);
    return e ? fail_with(e) : 0;
}

int xenlend_set_slot(xenlend_handle *h, uint32_t slot, uint64_t first_gfn, void *uaddr,
                     uint64_t pages, uint32_t flags)
{
    int e;

    check_lend(h, "set_slot");
    if (slot != 0)
        mock_violation("set_slot %u: the daemon uses slot 0", slot);
    if (pages == 0) {
        /* Deleting cannot fail but for bad arguments: every page leaves the guest. */
        M.slot_live = false;
        lend_unmap_all();
        return 0;
    }
    e = injected(false);
    if (e)
        return fail_with(e);
    if (((uintptr_t)uaddr & (PAGE - 1)) || pages > MOCK_LEND_MAX_PAGES || flags)
        return fail_with(EINVAL);
    if (M.slot_live) {
        if (M.slot_gfn == first_gfn && M.slot_pages == pages && M.slot_uaddr == uaddr)
            return 0;
        return fail_with(EEXIST);
    }
    M.slot_live = true;
    M.slot_gfn = first_gfn;
    M.slot_pages = pages;
    M.slot_uaddr = uaddr;
    memset(M.lost, 0, sizeof(M.lost));
    lend_unmap_all();
    return 0;
}

void mock_lend_set_backing(int fd, uint64_t offset)
{
    M.backing_fd = fd;
    M.backing_off = offset;
}

/* Is BAR page p a hole in the daemon's backing (the daemon punched one)? */
static bool backing_hole(uint64_t p)
{
    off_t off = (off_t)(M.backing_off + p * PAGE), data;

    if (M.backing_fd < 0)
        return false;
    data = lseek(M.backing_fd, off, SEEK_DATA);
    return data < 0 ? errno == ENXIO : data != off;
}

int xenlend_map(xenlend_handle *h, uint32_t slot, uint64_t first_page, uint64_t count,
                uint32_t flags, uint64_t *done)
{
    uint64_t limit = count, n = 0;
    int e = 0, b, c = -1;

    check_lend(h, "xenlend_map");
    *done = 0;
    if (slot != 0)
        mock_violation("xenlend_map of slot %u", slot);
    if (M.dead)
        return fail_with(ESRCH);
    if (!M.slot_live || first_page >= M.slot_pages || count > M.slot_pages - first_page)
        return fail_with(EINVAL);
    if (flags)
        mock_violation("xenlend_map with flags 0x%x: revision 2 defines none", flags);
    /* Injected: EAGAIN (an invalidation raced), ENODATA or another errno, after `limit` pages. */
    if (M.phase == MOCK_SERVING && (b = mock_fault_byte()) >= MOCK_FAULT_THRESHOLD) {
        c = mock_fault_byte();
        limit = c < 0 ? 0 : (uint64_t)c % (count + 1);
        M.faults++;
        e = (b & 3) == 0 ? EAGAIN : (b & 3) == 1 ? ENODATA : fault_errnos[(b >> 2) & 7];
    }
    for (; n < count && n < limit; n++) {
        uint64_t p = first_page + n, gfn = M.slot_gfn + p;

        if (!range_covers(&M.access, gfn * PAGE) || !range_covers(&M.access, gfn * PAGE + PAGE - 1))
            mock_violation("lent page %llu mapped at gfn 0x%llx, outside every claimed "
                           "access-only range",
                           (unsigned long long)p, (unsigned long long)gfn);
        /* Lost until the daemon punches a hole there (its --on-lost zero). */
        if (M.lost[p] && !backing_hole(p)) {
            e = ENODATA;
            break;
        }
        M.lost[p] = 0;
        M.mapped[p] = 1;
        M.unknown[p] = 0;
        M.forgotten[p] = 0;
    }
    *done = n;
    /* A kernel that over-reports (it is trusted, not with the daemon's arithmetic). */
    if (c >= 0xf0)
        *done = count + (uint64_t)(c & 0xf);
    return e ? fail_with(e) : 0;
}

int xenlend_unmap(xenlend_handle *h, uint32_t slot, uint64_t first_page, uint64_t count)
{
    int e;

    check_lend(h, "xenlend_unmap");
    if (slot != 0)
        mock_violation("xenlend_unmap of slot %u", slot);
    if (!M.slot_live || first_page >= M.slot_pages || count > M.slot_pages - first_page)
        return fail_with(EINVAL);
    e = injected(true);
    if (e) {
        /* Pages the daemon could not know about after an overflow, and could not take back. */
        for (uint64_t p = first_page; p < first_page + count; p++)
            M.forgotten[p] |= M.unknown[p];
        return fail_with(e);
    }
    for (uint64_t p = first_page; p < first_page + count; p++)
        lend_unmap_page(p);
    return 0;
}

/*
 * Revision 3's aging: the input decides which mapped pages were used (one
 * byte per call, a bit per page of it), and may answer ENOTTY, as a
 * revision-2 kernel does, so the fallback to CLOCK is fuzzed too. Pages
 * not mapped read 0, as the ABI says.
 */
int xenlend_age(xenlend_handle *h, uint32_t slot, uint64_t first_page, uint64_t count,
                uint64_t *young_bits)
{
    int e, used, young = 0;

    check_lend(h, "xenlend_age");
    if (slot != 0)
        mock_violation("xenlend_age of slot %u", slot);
    if (count > LEND_AGE_MAX_PAGES)
        mock_violation("xenlend_age of %llu pages, past LEND_AGE_MAX_PAGES",
                       (unsigned long long)count);
    if (!M.slot_live || count == 0 || first_page >= M.slot_pages ||
        count > M.slot_pages - first_page)
        return fail_with(EINVAL);
    e = injected(true);
    if (e)
        return fail_with(e == EAGAIN ? ENOTTY : e); /* aging never races: EAGAIN stands for ENOTTY */
    used = M.phase == MOCK_SERVING ? mock_fault_byte() : 0xff;
    memset(young_bits, 0, (count + 63) / 64 * sizeof(uint64_t));
    for (uint64_t i = 0; i < count; i++) {
        uint64_t p = first_page + i;

        if (p < MOCK_LEND_MAX_PAGES && M.mapped[p] && used >= 0 && (used >> (i % 8) & 1)) {
            young_bits[i / 64] |= 1ULL << (i % 64);
            young++;
        }
    }
    return young;
}

int xenlend_read_events(xenlend_handle *h, struct privcmd_lend_event *ev, unsigned int n)
{
    unsigned int k = 0;
    int e;

    check_lend(h, "read_events");
    e = injected(false);
    if (e == EAGAIN)
        return 0;
    if (e)
        return fail_with(EIO);
    if (M.overflowed && n > 0) {
        memset(&ev[k], 0, sizeof(ev[k]));
        ev[k++].reason = LEND_EV_OVERFLOW;
        M.overflowed = false;
        /* From here the daemon cannot know which pages are mapped. */
        memcpy(M.unknown, M.mapped, sizeof(M.unknown));
    }
    for (; k < n && M.nevents; k++) {
        ev[k] = M.queue[0];
        memmove(&M.queue[0], &M.queue[1], (M.nevents - 1) * sizeof(M.queue[0]));
        M.nevents--;
    }
    return (int)k;
}

void mock_lend_event(const struct privcmd_lend_event *ev)
{
    bool in_slot = ev->slot == 0 && M.slot_live && ev->first_page < M.slot_pages &&
                   ev->count <= M.slot_pages - ev->first_page;

    /*
     * The record is queued, then the pages go (lend_abi.h: events are queued
     * before the mappings are removed); the daemon sees both at once.
     */
    /*
     * Reason 2 (revision 1's LOST) stands for "the host lost the content": a
     * revision 2 kernel tells only MIGRATED, and the loss shows at map time.
     */
    bool lost = ev->reason == 2;
    struct privcmd_lend_event sent = *ev;

    if (lost)
        sent.reason = LEND_EV_MIGRATED;
    ev = &sent;
    if (in_slot) {
        for (uint64_t p = ev->first_page; p < ev->first_page + ev->count; p++) {
            lend_unmap_page(p);
            if (lost) {
                M.lost[p] = 1;
                /* The content is gone: the page is data again, poisoned. */
                if (M.backing_fd >= 0)
                    fallocate(M.backing_fd, 0, (off_t)(M.backing_off + p * PAGE), PAGE);
            }
        }
    }
    if (ev->reason == LEND_EV_OVERFLOW || M.nevents == MOCK_LEND_QUEUE) {
        /*
         * Records were dropped: one OVERFLOW record replaces the queue. Pages
         * still mapped stay mapped (the dropped records' pages are gone);
         * the daemon must take the rest back (see xenlend_read_events()).
         */
        M.overflowed = true;
        M.nevents = 0;
        return;
    }
    M.queue[M.nevents++] = *ev;
}

/* ---- The harness's side ---- */

void mock_lend_backing_moved(const void *from, const void *to)
{
    if (M.slot_live && M.slot_uaddr == from)
        M.slot_uaddr = to;
}

void mock_preexisting_server(const struct mock_predecessor *p)
{
    M.server = true;
    M.pred = true;
    M.enabled = p->enabled;
    M.pcidev = p->pcidev;
    M.sbdf = p->sbdf;
    if (p->mmio)
        range_add(&M.mmio, p->range.start, p->range.end);
    if (p->access)
        range_add(&M.access, p->range.start, p->range.end);
    if (!M.res_pages && posix_memalign((void **)&M.res_pages, PAGE, 2 * PAGE))
        abort();
    UNPOISON(M.res_pages, 2 * PAGE);
    memcpy(M.res_pages, p->pages, 2 * PAGE);
    POISON(M.res_pages, 2 * PAGE);
    M.res_kept = true;
}

shared_iopage_t *mock_iopage(void)
{
    return M.res_mapped ? (shared_iopage_t *)(M.res_pages + PAGE) : NULL;
}

buffered_iopage_t *mock_bufpage(void)
{
    return M.res_mapped ? (buffered_iopage_t *)M.res_pages : NULL;
}

evtchn_port_t mock_local_port(evtchn_port_t remote)
{
    for (unsigned int i = 0; i < MAX_BINDINGS; i++) {
        if (M.bind[i].bound && M.bind[i].remote == remote)
            return M.bind[i].local;
    }
    return 0;
}

evtchn_port_t mock_remote_port(evtchn_port_t local)
{
    struct binding *b = binding_of_local(local);

    return b ? b->remote : 0;
}

void mock_queue_event(evtchn_port_t local)
{
    if (M.nqueued < sizeof(M.queued) / sizeof(M.queued[0]))
        M.queued[M.nqueued++] = local;
}

void mock_clear_events(void)
{
    M.nqueued = 0;
}

unsigned int mock_take_notifies(evtchn_port_t *ports, unsigned int max)
{
    unsigned int n = M.nnotified;

    for (unsigned int i = 0; i < n && i < max; i++)
        ports[i] = M.notified[i];
    M.nnotified = 0;
    return n;
}

void mock_domain_die(void)
{
    M.dead = true;
    M.server = false;
    M.enabled = false;
    M.pcidev = M.bridge = M.ports = false;
    M.mmio.n = 0;
    M.access.n = 0;
    /* The p2m goes with the domain: nothing is lent any more. */
    lend_unmap_all();
}

bool mock_domain_dead(void)
{
    return M.dead;
}

int mock_take_pending(void)
{
    int p = M.last_pending;

    M.last_pending = -1;
    return p;
}

unsigned int mock_take_faults(void)
{
    unsigned int n = M.faults;

    M.faults = 0;
    return n;
}

bool mock_lend_page_mapped(uint64_t page)
{
    return page < MOCK_LEND_MAX_PAGES && M.mapped[page];
}

bool mock_lend_page_lost(uint64_t page)
{
    return page < MOCK_LEND_MAX_PAGES && M.lost[page];
}

bool mock_lend_page_hole(uint64_t page)
{
    return page < MOCK_LEND_MAX_PAGES && backing_hole(page);
}

ioservid_t mock_server_id(void)
{
    return M.id;
}

bool mock_server_exists(void)
{
    return M.server;
}

bool mock_server_enabled(void)
{
    return M.enabled;
}

static unsigned int ranges_copy(const struct range_set *s, struct mock_range *out, unsigned int max)
{
    for (unsigned int i = 0; i < s->n && i < max; i++)
        out[i] = s->r[i];
    return s->n;
}

unsigned int mock_mmio_ranges(struct mock_range *out, unsigned int max)
{
    return ranges_copy(&M.mmio, out, max);
}

unsigned int mock_access_ranges(struct mock_range *out, unsigned int max)
{
    return ranges_copy(&M.access, out, max);
}

bool mock_range_maybe_stale(bool access, const struct mock_range *r)
{
    const struct range_set *s = access ? &M.access : &M.mmio;

    for (unsigned int i = 0; i < s->nstale; i++) {
        if (s->stale[i].start == r->start && s->stale[i].end == r->end)
            return true;
    }
    return false;
}

bool mock_lend_slot(uint64_t *first_gfn, uint64_t *pages, const void **uaddr)
{
    if (first_gfn)
        *first_gfn = M.slot_gfn;
    if (pages)
        *pages = M.slot_pages;
    if (uaddr)
        *uaddr = M.slot_uaddr;
    return M.slot_live;
}

uint64_t mock_lend_known_mapped(void)
{
    uint64_t n = 0;

    for (unsigned int p = 0; p < MOCK_LEND_MAX_PAGES; p++)
        n += M.mapped[p] && !M.forgotten[p];
    return n;
}

uint64_t mock_lend_mapped(void)
{
    uint64_t n = 0;

    for (unsigned int p = 0; p < MOCK_LEND_MAX_PAGES; p++)
        n += M.mapped[p];
    return n;
}

unsigned int mock_guest_maps_live(void)
{
    return M.maps_live;
}

bool mock_take_guest_map_failed(void)
{
    bool f = M.map_failed;

    M.map_failed = false;
    return f;
}

bool mock_guest_page_exists(uint64_t gfn)
{
    return gfn < MOCK_GUEST_RAM_PAGES;
}

void mock_guest_read(uint64_t gpa, void *buf, size_t len)
{
    uint8_t *out = buf;

    while (len) {
        uint64_t gfn = gpa / PAGE, off = gpa % PAGE;
        size_t n = len < PAGE - off ? len : (size_t)(PAGE - off);
        uint8_t *page;

        if (gfn >= MOCK_GUEST_RAM_PAGES)
            abort();
        page = ram_page(gfn);
        if (!M.ram_maps[gfn])
            UNPOISON(page, PAGE);
        memcpy(out, page + off, n);
        if (!M.ram_maps[gfn])
            POISON(page, PAGE);
        out += n;
        gpa += n;
        len -= n;
    }
}

void mock_take_guest_touched(uint8_t touched[MOCK_GUEST_RAM_PAGES])
{
    for (unsigned int g = 0; g < MOCK_GUEST_RAM_PAGES; g++) {
        touched[g] = M.ram_touched[g] || M.ram_maps[g];
        M.ram_touched[g] = 0;
    }
}

void mock_assert_clean(void)
{
    unsigned int bound = 0;

    if (M.dm_open || M.fm_open || M.xce_open || M.lend_open)
        mock_violation("handles left open after teardown: devicemodel %d, foreignmemory %d, "
                       "evtchn %d, lend %d",
                       M.dm_open, M.fm_open, M.xce_open, M.lend_open);
    /* A predecessor's server the daemon never took over stays, for the next one to adopt. */
    if (M.server && !(M.pred && !M.adopted))
        mock_violation("the ioreq server outlived teardown");
    if (M.leaked && M.leaked_named)
        mock_violation("the crashed predecessor's ioreq server, named in the lock file, was "
                       "left in Xen (still claiming the PCI function) when adopting it failed");
    for (unsigned int i = 0; i < MAX_BINDINGS; i++)
        bound += M.bind[i].bound;
    if (bound)
        mock_violation("%u event channel port(s) left bound after teardown", bound);
    if (M.res_mapped)
        mock_violation("the ioreq server's pages left mapped after teardown");
    if (M.maps_live)
        mock_violation("%u guest RAM mapping(s) left after teardown", M.maps_live);
    if (M.slot_live || mock_lend_mapped())
        mock_violation("a lend slot (%llu pages mapped) left after teardown",
                       (unsigned long long)mock_lend_mapped());
}

/* ---- libxenstore: absent (the fuzz driver runs the daemon with --no-xenstore) ---- */
#include <xenstore.h>

struct xs_handle *xs_open(unsigned long flags)
{
    (void)flags;
    errno = ENOENT;
    return NULL;
}

void xs_close(struct xs_handle *xsh)
{
    (void)xsh;
}

void *xs_read(struct xs_handle *h, xs_transaction_t t, const char *path, unsigned int *len)
{
    (void)h, (void)t, (void)path, (void)len;
    errno = ENOENT;
    return NULL;
}

bool xs_write(struct xs_handle *h, xs_transaction_t t, const char *path, const void *data,
              unsigned int len)
{
    (void)h, (void)t, (void)path, (void)data, (void)len;
    errno = ENOENT;
    return false;
}

bool xs_rm(struct xs_handle *h, xs_transaction_t t, const char *path)
{
    (void)h, (void)t, (void)path;
    errno = ENOENT;
    return false;
}

char **xs_directory(struct xs_handle *h, xs_transaction_t t, const char *path, unsigned int *num)
{
    (void)h, (void)t, (void)path, (void)num;
    errno = ENOENT;
    return NULL;
}

xs_transaction_t xs_transaction_start(struct xs_handle *h)
{
    (void)h;
    errno = ENOENT;
    return XBT_NULL;
}

bool xs_transaction_end(struct xs_handle *h, xs_transaction_t t, bool abort)
{
    (void)h, (void)t, (void)abort;
    errno = ENOENT;
    return false;
}
