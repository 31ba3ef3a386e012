/* SPDX-License-Identifier: MIT */
/*
 * fuzz_dispatch: the request path end to end, against the in-process mock of
 * the Xen libraries (mock_xen.c).
 *
 * Each input brings a struct daemon up with daemon_setup() -- emulation or
 * lending mode, with failures injected into set-up or while serving -- then
 * plays a bounded program of guest and host actions: synchronous requests in
 * a vCPU's slot (raw, or built as config cycles, MMIO accesses, access-only
 * requests), buffered-ring entries, lending invalidation events, spurious
 * events, torn slots, the domain's death. The event loop's work is the
 * daemon's own: daemon_on_evtchn() and daemon_on_lend_event(), the bodies
 * of its libev callbacks. After every step the harness checks the daemon
 * against shadow models (abort() on any violation):
 *
 *  - a handled request: the slot ends IORESP_READY, exactly one notify went to
 *    that vCPU's port, and the daemon wrote nothing in the shared page but
 *    that slot's state and data -- also when the slot was torn while the
 *    daemon worked (it must have used only its one copy);
 *  - the answer is the shadow model's: config reads as bar.c reads, MMIO reads
 *    what the backing holds, refusals all ones;
 *  - the backing and guest RAM change exactly as the request says (a shadow
 *    copy of each), buffered entries are consumed as the ring says;
 *  - what the mock's Xen has claimed equals the function's decoded window
 *    (bar.h), derived independently from config space, also under injected
 *    claim failures (MEMORY in both modes, access-only in lend mode too); in
 *    lend mode guest data moves only through the COPY requests Xen sends for
 *    what it emulates, and the pages lent to the guest never exceed the window;
 *  - after daemon_teardown() the mock holds nothing: no server, port, mapping,
 *    handle, fd or lock file.
 *
 * Header bit 7 makes the domain PVH with --host-bridge: the daemon places
 * BAR 0 at set-up and serves conf1's ports and 00:00.0, which the programs
 * then probe with requests of every shape (the model: Xen's CF8 latch, all
 * ones from the data ports, a read-only host bridge).
 *
 * A header bit adds a crashed predecessor: its lock file (pid, server id,
 * config space; or garbage), its ioreq server still in Xen with its claims,
 * and whatever its slots and buffered ring held (READY, INPROCESS, answered,
 * anything). The daemon must take it over -- every request left in flight
 * answered and notified, the config space and window restored -- or start
 * afresh, and the invariants above must hold either way.
 *
 * ASan reports any access outside the backing (guard pages around it), the
 * ioreq pages or guest RAM (heap pages, poisoned while not mapped).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "daemon.h"
#include "state_file.h"
#include "fuzz_input.h"
#include "log.h"
#include "mock_xen.h"
#include "util.h"

#define DOMID        7
#define BAR_SIZE     (64u << 10)
#define BAR_PAGES    (BAR_SIZE / 4096)
#define SBDF         XEN_DMOP_PCI_SBDF(0, 0, 0x1f, 0)
#define MAX_ACTIONS  64
#define MAX_BUFFERED 512
#define NO_ANSWER    0x5a5a5a5a5a5a5a5aULL

static char state_dir[64];
static bool trace; /* FUZZ_TRACE set: say what each event carried and what came of it */

/* One run's harness state. */
static struct run {
    struct daemon *d;
    bool host_bridge; /* PVH with --host-bridge: conf1 ports and 00:00.0 are served */
    uint32_t latch;   /* the shadow of the CF8 latch (4-byte writes to 0xCF8) */
    bool lend; /* resolved mode */
    bool on_lost_fault;
    uint64_t window_pages;
    bool dead;
    uint8_t *guard; /* the reservation around the backing */
    size_t guard_len;
    const struct ioreq_srv_ops *daemon_ops;

    /* The request being handled (set by deliver(), checked by the wrapper). */
    int expect_vcpu;        /* -1: no synchronous request should be handled */
    uint8_t slot_image[32]; /* what the slot holds, as the peer wrote it (and tore it) */
    ioreq_t sent;           /* the request as sent, before any tear */
    bool handled;
    uint64_t answer;

    /* Buffered entries the daemon handed over during this event. */
    ioreq_t buffered[MAX_BUFFERED];
    unsigned int nbuffered;

    /* Shadows. */
    uint8_t backing[BAR_SIZE];
    uint8_t guest[MOCK_GUEST_RAM_PAGES][4096];
    bool guest_valid[MOCK_GUEST_RAM_PAGES];
    uint8_t iopage[4096];
    uint8_t bufpage[4096];
} R;

/* ---- Helpers ---- */

static uint64_t le_load(const uint8_t *p, unsigned int size)
{
    uint64_t v = 0;

    for (unsigned int i = size; i > 0; i--)
        v = v << 8 | p[i - 1];
    return v;
}

static void le_store(uint8_t *p, unsigned int size, uint64_t v)
{
    for (unsigned int i = 0; i < size; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static void guest_shadow_valid(uint64_t gfn)
{
    if (!R.guest_valid[gfn]) {
        for (unsigned int i = 0; i < 4096; i++)
            R.guest[gfn][i] = mock_guest_initial(gfn, i);
        R.guest_valid[gfn] = true;
    }
}

static void guest_shadow_rw(uint64_t gpa, uint8_t *buf, unsigned int len, bool write)
{
    for (unsigned int i = 0; i < len; i++, gpa++) {
        uint64_t gfn = gpa / 4096;

        guest_shadow_valid(gfn);
        if (write)
            R.guest[gfn][gpa % 4096] = buf[i];
        else
            buf[i] = R.guest[gfn][gpa % 4096];
    }
}

static int count_fds(void)
{
    DIR *dir = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    if (!dir)
        return -1;
    while ((e = readdir(dir)))
        n += e->d_name[0] != '.';
    closedir(dir);
    return n;
}

/* The window config space describes, derived from the guest-visible bytes alone (PCI 3.0 6.2). */
static struct bar_window derived_window(const struct pci_func *f)
{
    struct bar_window w = {.enabled = false, .base = 0, .size = BAR_SIZE};
    uint32_t cmd, lo, hi;
    uint64_t addr;

    pci_func_config_read(f, 0x04, 2, &cmd);
    pci_func_config_read(f, 0x10, 4, &lo);
    pci_func_config_read(f, 0x14, 4, &hi);
    if ((lo & 0xf) != 0xc)
        mock_violation("BAR 0 flags read 0x%x, not 64-bit prefetchable memory", lo & 0xf);
    addr = ((uint64_t)hi << 32 | lo) & ~0xfULL;
    if (addr % BAR_SIZE)
        mock_violation("BAR 0 reads 0x%llx, not aligned to its size", (unsigned long long)addr);
    if ((cmd & 2) && addr != 0 && addr != ~(uint64_t)(BAR_SIZE - 1)) {
        w.enabled = true;
        w.base = addr;
    }
    return w;
}

/* ---- The emulation model: which COPY requests are served, and where ---- */

struct span {
    uint64_t first, last; /* inclusive */
};

/* Elements of `size` from addr, `count` times, downwards if df: with 128-bit arithmetic. */
static bool span_of(uint64_t addr, unsigned int size, uint32_t count, bool df, struct span *s)
{
    unsigned __int128 bytes = (unsigned __int128)size * count;
    __int128 first, last;

    if (df) {
        first = (__int128)addr - (__int128)(bytes - size);
        last = (__int128)addr + size - 1;
    } else {
        first = addr;
        last = (__int128)addr + (__int128)bytes - 1;
    }
    if (first < 0 || last > (__int128)UINT64_MAX)
        return false;
    s->first = (uint64_t)first;
    s->last = (uint64_t)last;
    return true;
}

/* Would emulate_copy() serve this request? (emulate.h: sizes, one page at most, inside the window.)
 */
static bool copy_accepted(const ioreq_t *r, const struct bar_window *w, struct span *bar,
                          struct span *gpa)
{
    unsigned int size = r->size;

    if (size != 1 && size != 2 && size != 4 && size != 8)
        return false;
    if (r->count == 0 || (uint64_t)r->count * size > 4096)
        return false;
    if (!w->enabled || !span_of(r->addr, size, r->count, r->df, bar))
        return false;
    if (bar->first < w->base || bar->last > w->base + w->size - 1 ||
        bar->last - w->base >= R.d->backing.size)
        return false;
    if (r->data_is_ptr && !span_of(r->data, size, r->count, r->df, gpa))
        return false;
    return true;
}

/*
 * Apply an accepted COPY to the shadows. Returns the answer for a read
 * without a pointer (the last element), else the request's data unchanged.
 */
static uint64_t copy_apply(const ioreq_t *r, const struct bar_window *w)
{
    unsigned int size = r->size;
    uint64_t value = 0;
    uint8_t tmp[8];

    for (uint32_t i = 0; i < r->count; i++) {
        uint64_t step = (uint64_t)i * size;
        uint64_t off = (r->df ? r->addr - step : r->addr + step) - w->base;
        uint64_t gpa = r->df ? r->data - step : r->data + step;

        if (r->dir == IOREQ_WRITE) {
            if (r->data_is_ptr)
                guest_shadow_rw(gpa, tmp, size, false);
            else
                le_store(tmp, size, r->data & size_mask(size));
            memcpy(&R.backing[off], tmp, size);
        } else {
            memcpy(tmp, &R.backing[off], size);
            value = le_load(tmp, size);
            if (r->data_is_ptr)
                guest_shadow_rw(gpa, tmp, size, true);
        }
    }
    return r->dir == IOREQ_READ && !r->data_is_ptr ? value : r->data;
}

/* Grow `acc` to cover `add` too (an empty span has first > last). */
static void span_union(struct span *acc, const struct span *add)
{
    if (add->first > add->last)
        return;
    if (acc->first > acc->last) {
        *acc = *add;
        return;
    }
    acc->first = add->first < acc->first ? add->first : acc->first;
    acc->last = add->last > acc->last ? add->last : acc->last;
}

/* Every guest page the copy may have touched lies in these pages. */
static bool gpa_span_pages_ram(const struct span *g)
{
    return g->last / 4096 < MOCK_GUEST_RAM_PAGES;
}

/* ---- Shadow comparisons ---- */

/*
 * The backing must equal its shadow, except inside `loose` (a request that
 * failed half-way may have done part of its work): those bytes are taken over.
 */
static void check_backing(const struct span *loose)
{
    const uint8_t *b = R.d->backing.base;

    if (memcmp(b, R.backing, BAR_SIZE) == 0)
        return;
    for (unsigned int i = 0; i < BAR_SIZE; i++) {
        if (b[i] == R.backing[i])
            continue;
        if (loose && R.d->pci.window.base + i >= loose->first &&
            R.d->pci.window.base + i <= loose->last) {
            R.backing[i] = b[i];
            continue;
        }
        mock_violation("backing byte 0x%x is 0x%02x, the model says 0x%02x: written where no "
                       "request said, or not written where one did",
                       i, b[i], R.backing[i]);
    }
}

static void check_guest_ram(const struct span *loose)
{
    uint8_t touched[MOCK_GUEST_RAM_PAGES], page[4096];

    mock_take_guest_touched(touched);
    for (uint64_t g = 0; g < MOCK_GUEST_RAM_PAGES; g++) {
        if (!touched[g])
            continue;
        guest_shadow_valid(g);
        mock_guest_read(g * 4096, page, sizeof(page));
        for (unsigned int i = 0; i < 4096; i++) {
            uint64_t gpa = g * 4096 + i;

            if (page[i] == R.guest[g][i])
                continue;
            if (loose && gpa >= loose->first && gpa <= loose->last) {
                R.guest[g][i] = page[i];
                continue;
            }
            mock_violation("guest RAM byte 0x%llx is 0x%02x, expected 0x%02x",
                           (unsigned long long)gpa, page[i], R.guest[g][i]);
        }
    }
}

/* ---- Invariants after every step ---- */

/* One kind of range (MEMORY or access-only) against the window: claimed exactly, or not at all. */
static void check_claim_kind(bool access, bool want_claimed)
{
    struct mock_range ranges[MOCK_MAX_RANGES];
    unsigned int n = access ? mock_access_ranges(ranges, MOCK_MAX_RANGES)
                            : mock_mmio_ranges(ranges, MOCK_MAX_RANGES);
    const struct bar_window *w = &R.d->pci.window;
    struct mock_range want = {w->base, w->base + w->size - 1};
    const char *kind = access ? "access-only" : "MMIO";
    bool found = false;

    for (unsigned int i = 0; i < n; i++) {
        if (want_claimed && w->enabled && ranges[i].start == want.start &&
            ranges[i].end == want.end) {
            found = true;
            continue;
        }
        if (mock_range_maybe_stale(access, &ranges[i]))
            continue;
        if (!want_claimed)
            mock_violation("%s mode claimed a %s range 0x%llx-0x%llx",
                           R.lend ? "lend" : "emulation", kind,
                           (unsigned long long)ranges[i].start, (unsigned long long)ranges[i].end);
        else
            mock_violation("%s range 0x%llx-0x%llx is claimed but the BAR %s", kind,
                           (unsigned long long)ranges[i].start, (unsigned long long)ranges[i].end,
                           w->enabled ? "decodes elsewhere" : "does not decode");
    }
    if (want_claimed && w->enabled && !found)
        mock_violation("the BAR decodes at 0x%llx but its %s range is not claimed",
                       (unsigned long long)w->base, kind);
}

/* Both modes claim the window as MEMORY; lending as access-only too (lend_abi.h). */
static void check_claims(void)
{
    check_claim_kind(false, true);
    check_claim_kind(true, R.lend);
}

static void check_invariants(void)
{
    struct daemon *d = R.d;
    struct bar_window w = derived_window(&d->pci);
    uint64_t gfn, pages;
    const void *uaddr;

    if (w.enabled != d->pci.window.enabled || (w.enabled && w.base != d->pci.window.base) ||
        d->pci.window.size != BAR_SIZE)
        mock_violation("config space decodes %s 0x%llx, bar.h's window says %s 0x%llx",
                       w.enabled ? "on" : "off", (unsigned long long)w.base,
                       d->pci.window.enabled ? "on" : "off",
                       (unsigned long long)d->pci.window.base);
    if (!R.dead) {
        if (!mock_server_exists() || !mock_server_enabled())
            mock_violation("the ioreq server is gone or disabled while serving");
        check_claims();
    }
    if (!mock_iopage())
        mock_violation("the ioreq pages were unmapped while serving");
    if (mock_guest_maps_live() > GUEST_RAM_CACHE_PAGES)
        mock_violation("%u guest RAM mappings, more than the cache's %u", mock_guest_maps_live(),
                       GUEST_RAM_CACHE_PAGES);
    if (R.lend) {
        if (mock_lend_known_mapped() > R.window_pages)
            mock_violation("%llu pages lent to the guest, more than the %llu-page window",
                           (unsigned long long)mock_lend_known_mapped(),
                           (unsigned long long)R.window_pages);
        if (mock_lend_slot(&gfn, &pages, &uaddr)) {
            if (!d->pci.window.enabled || gfn * 4096 != d->pci.window.base || pages != BAR_PAGES ||
                uaddr != d->backing.base)
                mock_violation("the lend slot is at gfn 0x%llx (%llu pages), the BAR decodes %s "
                               "at 0x%llx",
                               (unsigned long long)gfn, (unsigned long long)pages,
                               d->pci.window.enabled ? "on" : "off",
                               (unsigned long long)d->pci.window.base);
        } else if (mock_lend_mapped()) {
            mock_violation("pages lent without a slot");
        }
    } else if (mock_lend_mapped() || mock_lend_slot(NULL, NULL, NULL)) {
        mock_violation("emulation mode left a lend slot");
    }
}

/* ---- The ops wrapper: sees the private copy, tears the slot, records the answer ---- */

static void tear_slot(volatile uint8_t *slot)
{
    int t = mock_fault_byte();

    if (t < MOCK_FAULT_THRESHOLD)
        return;
    for (int i = 0; i <= (t & 3); i++) {
        int pos = mock_fault_byte(), x = mock_fault_byte();

        pos = pos < 0 ? 0 : pos % 32;
        x = x <= 0 ? 0xff : x;
        slot[pos] ^= (uint8_t)x;
        R.slot_image[pos] ^= (uint8_t)x;
    }
}

static enum lat_kind wrap_handle(void *opaque, unsigned int vcpu, ioreq_t *req)
{
    enum lat_kind kind;
    uint8_t copy[32];

    if (R.expect_vcpu < 0 || vcpu != (unsigned int)R.expect_vcpu)
        mock_violation("the daemon handled vCPU %u's slot; the event was for %d", vcpu,
                       R.expect_vcpu);
    if (R.handled)
        mock_violation("vCPU %u's request handled twice for one event", vcpu);
    /* The one copy: exactly what the peer wrote, state already INPROCESS. */
    memcpy(copy, R.slot_image, sizeof(copy));
    copy[30] = (uint8_t)((copy[30] & 0xf0) | STATE_IOREQ_INPROCESS);
    if (memcmp(copy, req, sizeof(copy)))
        mock_violation("the daemon's copy of vCPU %u's request differs from the slot", vcpu);
    if (mock_iopage()->vcpu_ioreq[vcpu].state != STATE_IOREQ_INPROCESS)
        mock_violation("vCPU %u's slot is not INPROCESS while its request is handled", vcpu);
    /* The peer rewrites the slot under the daemon's feet. */
    tear_slot((volatile uint8_t *)&mock_iopage()->vcpu_ioreq[vcpu]);
    kind = R.daemon_ops->handle(opaque, vcpu, req);
    R.handled = true;
    R.answer = req->data;
    return kind;
}

static void wrap_buffered(void *opaque, ioreq_t *req)
{
    if (R.nbuffered == MAX_BUFFERED)
        mock_violation("more than %u buffered entries for one event", MAX_BUFFERED);
    R.buffered[R.nbuffered++] = *req;
    R.daemon_ops->handle_buffered(opaque, req);
}

static const struct ioreq_srv_ops wrap_ops = {
    .handle = wrap_handle,
    .handle_buffered = wrap_buffered,
};

/* ---- One event, and what must come of it ---- */

/* drain_buffered() as buffered_iopage_t and access_ioreq.c's contract describe it. */
static uint32_t model_buffered(const buffered_iopage_t *pg, ioreq_t *out, unsigned int *n)
{
    uint32_t rp = pg->read_pointer, wp = pg->write_pointer;
    unsigned int handled = 0;

    *n = 0;
    while (handled < IOREQ_BUFFER_SLOT_NUM && rp != wp && wp - rp <= IOREQ_BUFFER_SLOT_NUM) {
        const buf_ioreq_t *b = &pg->buf_ioreq[rp % IOREQ_BUFFER_SLOT_NUM];
        ioreq_t r;
        unsigned int k = 1;

        memset(&r, 0, sizeof(r));
        r.type = b->type;
        r.dir = b->dir;
        r.addr = b->addr;
        r.size = 1u << b->size;
        r.count = 1;
        r.data = b->data;
        if (r.size == 8) {
            if (wp - rp < 2)
                break;
            r.data |= (uint64_t)pg->buf_ioreq[(rp + 1) % IOREQ_BUFFER_SLOT_NUM].data << 32;
            k = 2;
        }
        out[(*n)++] = r;
        rp += k;
        handled += k;
    }
    return rp;
}

/* What the answer to a synchronous request must be, with its effects applied to the shadows. */
struct expect {
    bool exact; /* the answer is known */
    uint64_t answer;
    struct span loose_bar, loose_gpa; /* where a half-done copy may have written */
    bool loose;
    bool copy_ok; /* a COPY the model serves */
    bool access;  /* an ACCESS request (checked after) */
    bool invalidate;
};

static uint64_t refused_answer(const ioreq_t *r)
{
    return r->dir == IOREQ_READ && !r->data_is_ptr ? ~0ULL : r->data;
}

/*
 * conf1 (--host-bridge), modelled from Xen's rules rather than conf1.c: one
 * access of 1, 2 or 4 bytes inside 0xCF8-0xCFB or 0xCFC-0xCFF; reads of the
 * address register give the latch's bytes, of the data ports all ones (Xen
 * sends them only while no config cycle is addressed).
 */
static bool port_ok(const ioreq_t *r)
{
    return r->count == 1 && !r->data_is_ptr && (r->size == 1 || r->size == 2 || r->size == 4) &&
           r->addr >= 0xcf8 && r->addr <= 0xcff && r->addr + r->size <= 0xd00 &&
           !(r->addr < 0xcfc && r->addr + r->size > 0xcfc);
}

static uint64_t model_port(const ioreq_t *r)
{
    uint64_t mask;

    if (!port_ok(r))
        return refused_answer(r);
    mask = r->size == 4 ? 0xffffffffULL : (1ULL << (8 * r->size)) - 1;
    if (r->dir == IOREQ_WRITE)
        return r->data;
    if (r->addr >= 0xcfc)
        return mask;
    return (R.latch >> (8 * (r->addr - 0xcf8))) & mask;
}

/* After the daemon handled r: the latch Xen (and so the daemon) keeps. */
static void model_port_apply(const ioreq_t *r)
{
    if (R.host_bridge && r->type == IOREQ_TYPE_PIO && port_ok(r) && r->dir == IOREQ_WRITE &&
        r->addr == 0xcf8 && r->size == 4)
        R.latch = (uint32_t)r->data;
}

/* The host bridge's header: 8086:1237 rev 2, class 0x060000, the rest zero; read-only. */
static uint64_t model_bridge_read(uint32_t reg, uint32_t size)
{
    static const uint8_t hdr[12] = {0x86, 0x80, 0x37, 0x12, 0, 0, 0, 0, 0x02, 0, 0, 0x06};
    uint32_t v = 0;

    if (reg >= 256 || reg % size)
        return 0xffffffffu;
    for (uint32_t i = 0; i < size; i++)
        v |= (uint32_t)(reg + i < sizeof(hdr) ? hdr[reg + i] : 0) << (8 * i);
    return v;
}

static void expect_request(const ioreq_t *r, const struct bar_window *w, struct expect *e)
{
    struct daemon *d = R.d;
    struct span bar, gpa;
    uint32_t val;

    memset(e, 0, sizeof(*e));
    e->exact = true;
    e->answer = r->data;
    switch (r->type) {
    case IOREQ_TYPE_PIO:
        if (R.host_bridge)
            e->answer = model_port(r);
        else
            e->answer = refused_answer(r);
        return;
    case IOREQ_TYPE_PCI_CONFIG:
        if (R.host_bridge && (uint32_t)(r->addr >> 32) == 0 && r->count == 1 && !r->data_is_ptr &&
            !r->df && (r->size == 1 || r->size == 2 || r->size == 4)) {
            if (r->dir == IOREQ_READ)
                e->answer = model_bridge_read((uint32_t)r->addr, r->size);
            return;
        }
        if ((uint32_t)(r->addr >> 32) != SBDF || r->count != 1 || r->data_is_ptr || r->df ||
            (r->size != 1 && r->size != 2 && r->size != 4)) {
            e->answer = refused_answer(r);
        } else if (r->dir == IOREQ_READ) {
            pci_func_config_read(&d->pci, (uint32_t)r->addr, r->size, &val);
            e->answer = val;
        }
        return;
    case IOREQ_TYPE_COPY:
        /* Lend mode too: the accesses Xen has to emulate (lend_abi.h). */
        if (!copy_accepted(r, w, &bar, &gpa)) {
            e->answer = refused_answer(r);
            return;
        }
        e->copy_ok = true;
        if (r->data_is_ptr && !gpa_span_pages_ram(&gpa)) {
            /* Some element's page is not RAM: refused part-way. */
            e->exact = false;
        }
        e->loose_bar = bar;
        e->loose_gpa = r->data_is_ptr ? gpa : (struct span){1, 0};
        return;
    case IOREQ_TYPE_INVALIDATE:
        e->invalidate = true;
        return;
    case IOREQ_TYPE_TIMEOFFSET:
        return;
    case IOREQ_TYPE_ACCESS:
        e->access = true;
        e->exact = !R.lend;
        e->answer = IOREQ_ACCESS_FAIL;
        return;
    default:
        e->answer = refused_answer(r);
        return;
    }
}

/* After an ACCESS in lend mode: a fault is answered only when nothing can be mapped. */
static void check_access(const ioreq_t *r, uint64_t answer, bool faults)
{
    const struct bar_window *w = &R.d->pci.window;
    bool inside = w->enabled && r->addr >= w->base && r->addr - w->base < w->size;
    uint64_t page = inside ? (r->addr - w->base) / 4096 : 0;
    bool slot = mock_lend_slot(NULL, NULL, NULL);

    if (answer != IOREQ_ACCESS_RETRY && answer != IOREQ_ACCESS_FAIL)
        mock_violation("ACCESS answered %llu, neither RETRY nor FAIL", (unsigned long long)answer);
    /* Outside the window: the guest moved the BAR under its access; it re-executes. */
    if (!inside) {
        if (answer != IOREQ_ACCESS_RETRY)
            mock_violation("ACCESS at 0x%llx outside the lent window answered FAIL",
                           (unsigned long long)r->addr);
        return;
    }
    if (!slot) {
        if (answer != IOREQ_ACCESS_FAIL)
            mock_violation("ACCESS at 0x%llx with no lend slot answered RETRY",
                           (unsigned long long)r->addr);
        return;
    }
    if (faults || R.dead)
        return;
    if (answer == IOREQ_ACCESS_RETRY && !mock_lend_page_mapped(page))
        mock_violation("ACCESS to BAR page %llu answered RETRY, but the page is not mapped",
                       (unsigned long long)page);
    if (answer == IOREQ_ACCESS_FAIL && !(R.on_lost_fault && mock_lend_page_lost(page)))
        mock_violation("ACCESS to BAR page %llu answered FAIL with nothing failing",
                       (unsigned long long)page);
}

/* What one event's delivery started from, and what the models expect of it. */
struct delivery {
    evtchn_port_t local, remote;
    int target;                     /* the vCPU whose READY request it carries, or -1 */
    struct expect e;                /* for that request, as sent */
    struct bar_window win;          /* the window the buffered entries meet */
    ioreq_t model[MAX_BUFFERED];    /* the buffered ring's entries, as the model reads them */
    unsigned int nmodel;
    uint32_t rp_after;              /* read_pointer once they are consumed */
    uint64_t buf_copies, buf_bytes; /* buffered COPY writes the model serves */
    struct counters before;
    int pending;                    /* what reading the event channel gave */
    bool faults;                    /* failures were injected while serving */
    struct span loose_bar, loose_gpa; /* where the shadows may be off (a half-done request) */
    bool loose;
};

/* Before the event: which request it carries, the pages as they are, the ring's model. */
static void delivery_prepare(struct delivery *dl, evtchn_port_t local)
{
    struct daemon *d = R.d;
    shared_iopage_t *io = mock_iopage();
    buffered_iopage_t *bp = mock_bufpage();
    evtchn_port_t notified[8];

    memset(dl, 0, sizeof(*dl));
    dl->local = local;
    dl->remote = mock_remote_port(local);
    dl->target = -1;
    dl->before = d->cnt;
    dl->loose_bar = dl->loose_gpa = (struct span){1, 0};
    for (unsigned int v = 0; v < d->srv.nr_vcpus; v++) {
        if (dl->remote == MOCK_REMOTE_VCPU_PORT(v) &&
            io->vcpu_ioreq[v].state == STATE_IOREQ_READY)
            dl->target = (int)v;
    }
    if (dl->target >= 0) {
        memcpy(R.slot_image, &io->vcpu_ioreq[dl->target], 32);
        memcpy(&R.sent, &io->vcpu_ioreq[dl->target], sizeof(R.sent));
        expect_request(&R.sent, &d->pci.window, &dl->e);
    }
    /* The ring is drained before the request is served, which may move the window. */
    dl->win = d->pci.window;
    memcpy(R.iopage, io, 4096);
    memcpy(R.bufpage, bp, 4096);
    dl->rp_after = model_buffered(bp, dl->model, &dl->nmodel);
    R.expect_vcpu = dl->target;
    R.handled = false;
    R.answer = NO_ANSWER;
    R.nbuffered = 0;
    mock_take_faults();
    mock_take_notifies(notified, 8);
    mock_take_guest_map_failed();
}

/* The event loop's own body for the event-channel fd. */
static void delivery_run(struct delivery *dl)
{
    mock_clear_events();
    mock_queue_event(dl->local);
    daemon_on_evtchn(R.d);
    dl->pending = mock_take_pending();
    mock_clear_events();
    dl->faults = mock_take_faults() != 0;
    if (dl->pending < 0) {
        /* Reading the event channel failed: nothing may have happened. */
        if (R.handled || R.nbuffered)
            mock_violation("requests handled although no event was read");
        dl->target = -1;
        dl->nmodel = 0;
        dl->rp_after = R.bufpage[0] | R.bufpage[1] << 8 | R.bufpage[2] << 16 |
                       (uint32_t)R.bufpage[3] << 24;
    }
}

static void delivery_trace(const struct delivery *dl)
{
    const struct daemon *d = R.d;

    fprintf(stderr, "event on port %u (remote %u): pending %d, %u buffered entr%s", dl->local,
            dl->remote, dl->pending, R.nbuffered, R.nbuffered == 1 ? "y" : "ies");
    if (dl->target >= 0)
        fprintf(stderr,
                "; vCPU %d: type %u dir %u addr 0x%llx size %u count %u ptr %u df %u "
                "data 0x%llx -> 0x%llx",
                dl->target, R.sent.type, R.sent.dir, (unsigned long long)R.sent.addr, R.sent.size,
                R.sent.count, R.sent.data_is_ptr, R.sent.df, (unsigned long long)R.sent.data,
                (unsigned long long)R.answer);
    fprintf(stderr, "; window %s 0x%llx; faults %s\n", d->pci.window.enabled ? "on" : "off",
            (unsigned long long)d->pci.window.base, dl->faults ? "yes" : "no");
    for (unsigned int i = 0; i < R.nbuffered; i++)
        fprintf(stderr, "  buffered: type %u dir %u addr 0x%llx size %u data 0x%llx\n",
                R.buffered[i].type, R.buffered[i].dir, (unsigned long long)R.buffered[i].addr,
                R.buffered[i].size, (unsigned long long)R.buffered[i].data);
}

/* The buffered ring: consumed as the ring says, nothing else touched; writes go to the shadow. */
static void delivery_check_buffered(struct delivery *dl)
{
    buffered_iopage_t *bp = mock_bufpage();

    if (R.nbuffered != dl->nmodel)
        mock_violation("%u buffered entries handled, the ring held %u", R.nbuffered, dl->nmodel);
    for (unsigned int i = 0; i < dl->nmodel; i++) {
        const ioreq_t *m = &dl->model[i], *g = &R.buffered[i];
        struct span bar, gpa;

        if (m->type != g->type || m->dir != g->dir || m->addr != g->addr || m->size != g->size ||
            m->count != g->count || m->data != g->data || g->data_is_ptr || g->df)
            mock_violation("buffered entry %u decoded as type %u addr 0x%llx size %u data 0x%llx, "
                           "the ring says type %u addr 0x%llx size %u data 0x%llx",
                           i, g->type, (unsigned long long)g->addr, g->size,
                           (unsigned long long)g->data, m->type, (unsigned long long)m->addr,
                           m->size, (unsigned long long)m->data);
        if (m->type == IOREQ_TYPE_COPY && m->dir == IOREQ_WRITE &&
            copy_accepted(m, &dl->win, &bar, &gpa)) {
            copy_apply(m, &dl->win);
            dl->buf_copies++;
            dl->buf_bytes += m->size;
        }
    }
    if (bp->read_pointer != dl->rp_after)
        mock_violation("buffered read_pointer is %u, expected %u", bp->read_pointer, dl->rp_after);
    if (memcmp((uint8_t *)bp + 4, R.bufpage + 4, 4096 - 4))
        mock_violation("the daemon wrote into the buffered ring beyond read_pointer");
}

/* The slot after the answer: only state and data changed, one notify, to that vCPU. */
static void delivery_check_slot(const struct delivery *dl, const evtchn_port_t *notified,
                                unsigned int nn)
{
    shared_iopage_t *io = mock_iopage();
    volatile uint8_t *slot = (volatile uint8_t *)&io->vcpu_ioreq[dl->target];
    uint8_t want[32];

    if (!R.handled)
        mock_violation("vCPU %d's READY request was not handled", dl->target);
    memcpy(want, R.slot_image, 32);
    le_store(want + 8, 8, R.answer);
    want[30] = (uint8_t)((want[30] & 0xf0) | STATE_IORESP_READY);
    for (unsigned int i = 0; i < 32; i++) {
        if (slot[i] != want[i])
            mock_violation("vCPU %d's slot byte %u is 0x%02x after the answer, expected "
                           "0x%02x (only state and data are the daemon's)",
                           dl->target, i, slot[i], want[i]);
    }
    if (nn != 1 || mock_remote_port(notified[0]) != MOCK_REMOTE_VCPU_PORT(dl->target))
        mock_violation("%u notification(s) after vCPU %d's answer, first to remote port %u", nn,
                       dl->target, nn ? mock_remote_port(notified[0]) : 0);
    /* Everything else in the page as it was. */
    memcpy(R.iopage + 32 * dl->target, want, 32);
    if (memcmp(io, R.iopage, 4096))
        mock_violation("the daemon wrote into another vCPU's slot");
}

/* The answer, against the model (computed from the request as sent, before any tear). */
static void delivery_check_answer(struct delivery *dl)
{
    struct daemon *d = R.d;
    struct expect *e = &dl->e;

    if (e->copy_ok) {
        bool map_failed = mock_take_guest_map_failed();
        bool served = d->cnt.ioreqs_copy == dl->before.ioreqs_copy + dl->buf_copies + 1;

        if (!map_failed && e->exact) {
            uint64_t bytes = d->cnt.emulated_bytes - dl->before.emulated_bytes;

            e->answer = copy_apply(&R.sent, &dl->win);
            if (!served)
                mock_violation("a COPY the model serves was refused");
            if (bytes != dl->buf_bytes + (uint64_t)R.sent.count * R.sent.size)
                mock_violation("a served COPY counted %llu bytes, not %u",
                               (unsigned long long)bytes, R.sent.count * R.sent.size);
        } else {
            /* A guest page could not be mapped: refused, perhaps half-done. */
            if (served)
                mock_violation("a COPY whose guest buffer failed to map was served");
            e->answer = refused_answer(&R.sent);
            dl->loose = true;
            if (R.sent.dir == IOREQ_WRITE)
                dl->loose_bar = e->loose_bar;
            else
                dl->loose_gpa = e->loose_gpa;
        }
    }
    if (e->access && R.lend)
        check_access(&R.sent, R.answer, dl->faults);
    else if (e->access && R.answer != IOREQ_ACCESS_FAIL)
        mock_violation("emulation mode answered an ACCESS with %llu, not FAIL",
                       (unsigned long long)R.answer);
    else if (e->exact && R.answer != e->answer)
        mock_violation("request type %u dir %u addr 0x%llx size %u count %u answered 0x%llx, "
                       "expected 0x%llx",
                       R.sent.type, R.sent.dir, (unsigned long long)R.sent.addr, R.sent.size,
                       R.sent.count, (unsigned long long)R.answer, (unsigned long long)e->answer);
    if (e->invalidate && mock_guest_maps_live())
        mock_violation("%u guest RAM mappings survived an INVALIDATE", mock_guest_maps_live());
    if (R.handled)
        model_port_apply(&R.sent);
}

/* The BAR pages whose content the host lost, as a mask (BAR_SIZE is 16 pages). */
static uint32_t lost_pages(void)
{
    uint32_t m = 0;

    for (unsigned int p = 0; p < BAR_SIZE / 4096; p++)
        m |= mock_lend_page_lost(p) ? 1u << p : 0;
    return m;
}

/*
 * Under --on-lost zero the daemon makes a page whose content the host lost a
 * hole in its backing (lend_abi.h): such a page legitimately reads zeros now,
 * whatever was written into it since the loss. Any other hole is checked as
 * data by check_backing().
 */
static void forget_lost_punched(uint32_t lost_before)
{
    for (unsigned int p = 0; p < BAR_SIZE / 4096; p++)
        if (!R.on_lost_fault && (lost_before & (1u << p)) && mock_lend_page_hole(p))
            memset(R.backing + p * 4096, 0, 4096);
}

/*
 * Deliver `local` on the event channel and run the daemon's loop body for it,
 * then check everything: the slot the port belongs to is handled if it holds a
 * READY request, the buffered ring is drained either way.
 */
static void deliver(evtchn_port_t local)
{
    struct daemon *d = R.d;
    shared_iopage_t *io = mock_iopage();
    evtchn_port_t notified[8];
    struct delivery dl;
    unsigned int nn;
    uint32_t lost_before = lost_pages();

    delivery_prepare(&dl, local);
    delivery_run(&dl);
    forget_lost_punched(lost_before);
    if (trace)
        delivery_trace(&dl);
    delivery_check_buffered(&dl);
    nn = mock_take_notifies(notified, 8);
    if (dl.target >= 0) {
        delivery_check_slot(&dl, notified, nn);
        delivery_check_answer(&dl);
        /* The vCPU takes its answer: Xen sets the slot back to NONE. */
        io->vcpu_ioreq[dl.target].state = STATE_IOREQ_NONE;
    } else {
        if (R.handled)
            mock_violation("a request was handled for an event that carried none");
        if (nn)
            mock_violation("%u notification(s) for an event that carried no request", nn);
        if (memcmp(io, R.iopage, 4096))
            mock_violation("the daemon wrote into a slot without a request");
    }
    if (R.lend && d->cnt.emulated_bytes && !d->cnt.ioreqs_copy_lent)
        mock_violation("lend mode moved guest data without a COPY request");
    check_backing(dl.loose ? &dl.loose_bar : NULL);
    check_guest_ram(dl.loose ? &dl.loose_gpa : NULL);
    check_invariants();
}

/* ---- Actions ---- */

enum action {
    A_RAW,      /* 32 raw bytes into a slot */
    A_CONFIG,   /* a config cycle */
    A_MMIO,     /* a COPY near the BAR */
    A_ACCESS,   /* an access-only request near the BAR */
    A_OTHER,    /* invalidate, time offset, PIO, unknown types */
    A_BUFFERED, /* entries into the buffered ring */
    A_EVENTS,   /* lending invalidation events */
    A_SPURIOUS, /* an event with nothing behind it */
    A_DIE,      /* the domain is destroyed */
    A_NUM,
};

/* Write the request into vCPU v's slot, READY, and deliver an event chosen by `how`. */
static void send(struct fuzz_input *in, ioreq_t *r, unsigned int v, unsigned int how)
{
    struct daemon *d = R.d;
    shared_iopage_t *io = mock_iopage();
    evtchn_port_t port;

    (void)in;
    v %= d->srv.nr_vcpus;
    r->state = STATE_IOREQ_READY;
    r->vp_eport = MOCK_REMOTE_VCPU_PORT(v);
    memcpy(&io->vcpu_ioreq[v], r, sizeof(*r));
    if (how == 6 && d->srv.nr_vcpus > 1)
        port = mock_local_port(MOCK_REMOTE_VCPU_PORT((v + 1) % d->srv.nr_vcpus));
    else if (how == 7)
        port = mock_local_port(MOCK_REMOTE_BUF_PORT);
    else
        port = mock_local_port(MOCK_REMOTE_VCPU_PORT(v));
    deliver(port);
}

/* An address near the BAR: relative to where it decodes (or is programmed). */
static uint64_t near_bar(int32_t off)
{
    uint64_t base =
        R.d->pci.window.enabled ? R.d->pci.window.base : pci_func_bar_address(&R.d->pci);

    return base + (uint64_t)(int64_t)off;
}

static void act_raw(struct fuzz_input *in, unsigned int how)
{
    unsigned int v = fi_u8(in);
    ioreq_t r;

    fi_bytes(in, &r, sizeof(r));
    send(in, &r, v, how);
}

static void act_config(struct fuzz_input *in, unsigned int how)
{
    unsigned int v = fi_u8(in), flags = fi_u8(in);
    uint16_t reg = fi_u16(in);
    uint8_t size = fi_u8(in);
    uint32_t val = fi_u32(in);
    ioreq_t r;

    memset(&r, 0, sizeof(r));
    r.type = IOREQ_TYPE_PCI_CONFIG;
    r.addr = (uint64_t)((flags & 1) ? SBDF ^ (1u << ((flags >> 4) & 15)) : SBDF) << 32 | reg;
    if (R.host_bridge && (flags & 0x31) == 0x30)
        r.addr = reg; /* 00:00.0 */
    r.size = size;
    r.count = (flags & 2) ? 2 : 1;
    r.data_is_ptr = (flags >> 2) & 1;
    r.df = (flags >> 3) & 1;
    r.dir = (flags >> 7) & 1;
    r.data = val | (uint64_t)(flags & 0x40 ? 0xdeadbeef : 0) << 32;
    send(in, &r, v, how);
}

static void act_mmio(struct fuzz_input *in, unsigned int how)
{
    static const unsigned int sizes[] = {1, 2, 4, 8};
    unsigned int v = fi_u8(in), flags = fi_u8(in);
    uint16_t count = fi_u16(in);
    int32_t off = (int32_t)fi_u32(in);
    uint64_t data = fi_u64(in);
    ioreq_t r;

    memset(&r, 0, sizeof(r));
    r.type = IOREQ_TYPE_COPY;
    r.dir = flags & 1;
    r.df = (flags >> 1) & 1;
    r.data_is_ptr = (flags >> 2) & 1;
    r.size = (flags & 0x80) ? (flags >> 3) & 15 : sizes[(flags >> 3) & 3];
    r.count = (flags & 0x40) ? (uint32_t)count << 16 | count : count;
    r.addr = (flags & 0x20) ? (uint64_t)(int64_t)off : near_bar(off);
    /* Pointers mostly into guest RAM, near its end sometimes. */
    r.data =
        r.data_is_ptr && !(flags & 0x20) ? data % ((MOCK_GUEST_RAM_PAGES + 2) * 4096ULL) : data;
    send(in, &r, v, how);
}

static void act_access(struct fuzz_input *in, unsigned int how)
{
    unsigned int v = fi_u8(in), flags = fi_u8(in);
    int32_t off = (int32_t)fi_u32(in);
    ioreq_t r;

    memset(&r, 0, sizeof(r));
    r.type = IOREQ_TYPE_ACCESS;
    r.dir = flags & 1;
    r.size = (flags & 2) ? 1u << ((flags >> 2) & 3) : 1;
    r.count = 1;
    r.addr = (flags & 0x80) ? (uint64_t)(int64_t)off : near_bar(off % (int32_t)(2 * BAR_SIZE));
    send(in, &r, v, how);
}

static void act_other(struct fuzz_input *in, unsigned int how)
{
    static const uint8_t types[] = {
        IOREQ_TYPE_INVALIDATE, IOREQ_TYPE_TIMEOFFSET, IOREQ_TYPE_PIO, 3, 10, 0xff};
    unsigned int v = fi_u8(in), flags = fi_u8(in);
    ioreq_t r;

    memset(&r, 0, sizeof(r));
    r.type = types[flags % sizeof(types)];
    r.dir = (flags >> 3) & 1;
    r.data_is_ptr = (flags >> 4) & 1;
    r.size = 4;
    r.count = 1;
    r.addr = fi_u16(in);
    r.data = fi_u64(in);
    if (R.host_bridge && r.type == IOREQ_TYPE_PIO) {
        /* conf1's ports and their neighbours, every size, sometimes a string. */
        static const uint8_t sizes[] = {1, 2, 4, 1, 2, 4, 3, 8};

        r.size = sizes[(flags >> 5) & 7];
        r.addr = 0xcf6 + r.addr % 12;
        r.count = (r.data >> 60) == 0xf ? 2 : 1;
    }
    send(in, &r, v, how);
}

static void act_buffered(struct fuzz_input *in, unsigned int how)
{
    buffered_iopage_t *bp = mock_bufpage();
    unsigned int flags = fi_u8(in), n = fi_u8(in) % 16;
    uint32_t wp = bp->write_pointer;

    for (unsigned int i = 0; i < n; i++) {
        buf_ioreq_t b;
        uint8_t kind = fi_u8(in);
        uint32_t off = fi_u16(in);

        memset(&b, 0, sizeof(b));
        b.type = (kind & 0x80) ? kind & 0x0f : IOREQ_TYPE_COPY;
        b.dir = (kind >> 2) & 1 ? IOREQ_READ : IOREQ_WRITE;
        b.size = kind & 3;
        /* The BAR below 1M is reachable: 20 address bits. */
        b.addr = (uint32_t)(near_bar((int32_t)off) & 0xfffff);
        b.data = fi_u32(in);
        memcpy(&bp->buf_ioreq[wp % IOREQ_BUFFER_SLOT_NUM], &b, sizeof(b));
        wp++;
    }
    if (flags & 1) {
        /* A hostile or broken peer: any pointers at all. */
        bp->read_pointer = fi_u32(in);
        bp->write_pointer = fi_u32(in);
    } else {
        /* Xen publishes the entries, then the pointer. */
        __atomic_store_n(&bp->write_pointer, wp, __ATOMIC_RELEASE);
    }
    if (how == 7 || (flags & 2))
        deliver(mock_local_port(MOCK_REMOTE_BUF_PORT));
    else
        deliver(mock_local_port(MOCK_REMOTE_VCPU_PORT(0)));
}

static void act_events(struct fuzz_input *in, unsigned int how)
{
    unsigned int n = fi_u8(in) % 8 + 1;

    for (unsigned int i = 0; i < n; i++) {
        struct privcmd_lend_event ev;
        uint8_t kind = fi_u8(in);

        memset(&ev, 0, sizeof(ev));
        ev.reason = (kind & 0x80) ? fi_u32(in) : (uint32_t)(kind % 4) + 1;
        ev.slot = (kind & 0x40) ? fi_u8(in) : 0;
        ev.first_page = (kind & 0x20) ? fi_u64(in) : fi_u8(in) % (BAR_PAGES + 2);
        ev.count = (kind & 0x10) ? fi_u64(in) : fi_u8(in) % (BAR_PAGES + 1);
        mock_lend_event(&ev);
    }
    if (!R.d->remap)
        return;
    if (how & 1) {
        /* The event loop's own body for the lending fd. */
        struct counters before = R.d->cnt;

        mock_take_faults();
        daemon_on_lend_event(R.d);
        if (R.d->cnt.ioreqs_rejected != before.ioreqs_rejected)
            mock_violation("applying lend events refused a request");
        check_invariants();
    }
}

static void act_spurious(struct fuzz_input *in, unsigned int how)
{
    uint16_t raw = fi_u16(in);
    evtchn_port_t port;

    (void)how;
    switch (raw & 3) {
    case 0:
        port = raw >> 2;
        break;
    case 1:
        port = mock_local_port(MOCK_REMOTE_BUF_PORT);
        break;
    default:
        /* A vCPU port whose slot holds no READY request. */
        port = mock_local_port(MOCK_REMOTE_VCPU_PORT((raw >> 2) % R.d->srv.nr_vcpus));
        if (mock_iopage()->vcpu_ioreq[(raw >> 2) % R.d->srv.nr_vcpus].state == STATE_IOREQ_READY)
            mock_iopage()->vcpu_ioreq[(raw >> 2) % R.d->srv.nr_vcpus].state = STATE_IOREQ_NONE;
        break;
    }
    deliver(port);
}

/* ---- A crashed predecessor ---- */

static int accept_window(void *opaque, const struct bar_window *o, const struct bar_window *n)
{
    (void)opaque;
    (void)o;
    (void)n;
    return 0;
}

struct predecessor {
    bool present;
    uint8_t flags;
    uint8_t initial_state[4];
    struct mock_predecessor xen;
    struct bar_window window;
};

enum {
    PRED_MISMATCH = 0x01, /* a read-only config byte differs: another device */
    PRED_DECODING = 0x02, /* COMMAND.MEMORY was on */
    PRED_SERVER_GONE = 0x04,
    PRED_GARBAGE = 0x08, /* the lock file holds junk */
    PRED_NO_PCIDEV = 0x10,
    PRED_DISABLED = 0x40,
};

/*
 * Read the predecessor block and stage it: the lock file in state_dir and
 * the server in the mock. Its function is built as pci_setup() builds ours.
 */
static void predecessor_stage(struct fuzz_input *in, struct predecessor *p,
                              const struct dm_options *o, bool lend, unsigned int nr_vcpus)
{
    struct pci_func_params pp = {
        .ids = {.vendor_id = o->vendor_id,
                .device_id = o->device_id,
                .subsystem_vendor_id = o->subsys_vendor_id,
                .subsystem_id = o->subsys_id,
                .class_code = o->class_code},
        .bar_size = BAR_SIZE,
        .mode = lend ? LEND_CAP_MODE_LEND : LEND_CAP_MODE_EMULATE,
        .cap_flags = o->on_lost == ON_LOST_ZERO ? LEND_CAP_F_LOST_ZERO : 0,
        .resident_size = lend && o->window ? o->window : BAR_SIZE,
    };
    static struct pci_func pf;
    char text[1024], path[128], junk[65];
    uint64_t base;
    buffered_iopage_t *bp = (buffered_iopage_t *)p->xen.pages;
    shared_iopage_t *io = (shared_iopage_t *)(p->xen.pages + 4096);
    unsigned int n, nb;
    int fd;

    memset(p, 0, sizeof(*p));
    p->present = true;
    p->flags = fi_u8(in);
    base = (uint64_t)fi_u16(in) << 16 | (uint64_t)fi_u8(in) << 32;
    if (pci_func_init(&pf, &pp, accept_window, NULL))
        abort();
    pci_func_config_write(&pf, 0x10, 4, (uint32_t)base);
    pci_func_config_write(&pf, 0x14, 4, (uint32_t)(base >> 32));
    if (p->flags & PRED_DECODING)
        pci_func_config_write(&pf, 0x04, 2, 0x0006);
    p->window = pf.window;
    if (p->flags & PRED_MISMATCH)
        pf.cfg[fi_u8(in) % 0x40 == 0x04 ? 0x00 : 0x02] ^= 0x10; /* vendor or device id */

    /* What its slots held: nothing, a request, one being served, an answer, anything. */
    for (unsigned int v = 0; v < nr_vcpus && v < 4; v++) {
        static const uint8_t states[] = {STATE_IOREQ_NONE, STATE_IOREQ_READY, STATE_IOREQ_INPROCESS,
                                         STATE_IORESP_READY};
        uint8_t sel = fi_u8(in), *slot = (uint8_t *)&io->vcpu_ioreq[v];

        fi_bytes(in, slot, 32);
        p->initial_state[v] = sel < 0xf0 ? states[sel % 4] : sel & 0xf;
        slot[30] = (uint8_t)((slot[30] & 0xf0) | p->initial_state[v]);
        io->vcpu_ioreq[v].vp_eport = MOCK_REMOTE_VCPU_PORT(v);
    }
    nb = fi_u8(in);
    for (n = 0; n < nb % 8; n++)
        fi_bytes(in, &bp->buf_ioreq[n], sizeof(bp->buf_ioreq[n]));
    bp->write_pointer = n;
    if (nb & 0x80) {
        bp->read_pointer = fi_u32(in);
        bp->write_pointer = fi_u32(in);
    }

    /* Its server, still in Xen. */
    p->xen.enabled = !(p->flags & PRED_DISABLED);
    p->xen.pcidev = !(p->flags & PRED_NO_PCIDEV);
    p->xen.sbdf = SBDF;
    if (p->window.enabled) {
        p->xen.mmio = !lend;
        p->xen.access = lend;
        p->xen.range.start = p->window.base;
        p->xen.range.end = p->window.base + p->window.size - 1;
    }
    if (!(p->flags & PRED_SERVER_GONE))
        mock_preexisting_server(&p->xen);

    /* Its state file, as the daemon writes it (the record it made last). */
    struct dm_state st = {.have_server = true, .server = mock_server_id(), .have_config = true};

    memcpy(st.config, pf.cfg, sizeof(st.config));
    n = (unsigned int)state_record_format(text, sizeof(text), &st, 1);
    if (p->flags & PRED_GARBAGE) {
        fi_bytes(in, junk, 64);
        junk[64] = '\0';
        /* Junk in place of one line, or after everything. */
        memcpy(text + (p->flags & 0x80 ? 0 : n), junk, 65);
        n = (unsigned int)strlen(text);
    }
    snprintf(path, sizeof(path), "%s/dom%u-0000:00:1f.0.lock", state_dir, DOMID);
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0 || write(fd, text, n) != (ssize_t)n)
        abort();
    close(fd);
}

/* After a successful set-up: the predecessor's requests answered, or a fresh server. */
static void predecessor_check(const struct predecessor *p, const uint8_t pages[2 * 4096])
{
    struct daemon *d = R.d;
    shared_iopage_t *io = mock_iopage();
    const shared_iopage_t *before = (const shared_iopage_t *)(pages + 4096);
    evtchn_port_t notified[16];
    unsigned int nn = mock_take_notifies(notified, 16), want = 0;
    ioreq_t model[MAX_BUFFERED];
    unsigned int nmodel;
    bool config_written = false;

    if (!d->srv.adopted) {
        /* Afresh: nothing of the predecessor may remain decoded or claimed. */
        if (nn)
            mock_violation("a fresh server notified %u port(s) at set-up", nn);
        return;
    }
    if (!(p->flags & PRED_GARBAGE) && (p->flags & (PRED_SERVER_GONE | PRED_MISMATCH)))
        mock_violation("took over a server that is gone or a device that differs");
    for (unsigned int v = 0; v < d->srv.nr_vcpus && v < 4; v++) {
        const ioreq_t *r = &before->vcpu_ioreq[v];

        if ((p->initial_state[v] == STATE_IOREQ_READY ||
             p->initial_state[v] == STATE_IOREQ_INPROCESS) &&
            r->type == IOREQ_TYPE_PCI_CONFIG && r->dir == IOREQ_WRITE)
            config_written = true; /* served in flight: it may move the window */
    }
    /* A repair claim that failed (an injected error) leaves the window off: nothing decodes. */
    if (!(p->flags & PRED_GARBAGE) && !config_written &&
        !(mock_setup_fault_hit() && !d->pci.window.enabled) &&
        (d->pci.window.enabled != p->window.enabled ||
         (p->window.enabled && d->pci.window.base != p->window.base)))
        mock_violation("took over, but the window is %s 0x%llx, the predecessor%cs %s 0x%llx",
                       d->pci.window.enabled ? "on" : "off", (unsigned long long)d->pci.window.base,
                       0x27, p->window.enabled ? "on" : "off", (unsigned long long)p->window.base);
    for (unsigned int v = 0; v < d->srv.nr_vcpus && v < 4; v++) {
        uint8_t st = p->initial_state[v];
        volatile uint8_t *slot = (volatile uint8_t *)&io->vcpu_ioreq[v];
        const uint8_t *old = (const uint8_t *)&before->vcpu_ioreq[v];
        bool served = st == STATE_IOREQ_READY || st == STATE_IOREQ_INPROCESS;
        bool notify = served || st == STATE_IORESP_READY;
        unsigned int got = 0;

        for (unsigned int i = 0; i < nn; i++)
            got += mock_remote_port(notified[i]) == MOCK_REMOTE_VCPU_PORT(v);
        if (got != (notify ? 1u : 0u))
            mock_violation("vCPU %u's slot left in state %u was notified %u time(s)", v, st, got);
        want += notify;
        if (io->vcpu_ioreq[v].state != (served ? STATE_IORESP_READY : st))
            mock_violation("vCPU %u's slot left in state %u is now in state %u", v, st,
                           io->vcpu_ioreq[v].state);
        for (unsigned int i = 0; i < 32; i++) {
            bool daemons = (i >= 8 && i < 16 && served) || i == 30;

            if (!daemons && slot[i] != old[i])
                mock_violation("taking over changed byte %u of vCPU %u's slot", i, v);
            if (i == 30 && (slot[i] & 0xf0) != (old[i] & 0xf0))
                mock_violation("taking over changed the flags of vCPU %u's slot", v);
        }
        if (served)
            io->vcpu_ioreq[v].state = STATE_IOREQ_NONE;
    }
    if (nn != want)
        mock_violation("%u notification(s) at take-over, %u expected", nn, want);
    if (mock_bufpage()->read_pointer !=
        model_buffered((const buffered_iopage_t *)pages, model, &nmodel))
        mock_violation("the predecessor's buffered ring was not drained as it says");
}

/*
 * What the take-over served, applied to the shadows: serve_pending() drains
 * the ring, then serves the slots in vCPU order, all with the restored window
 * until a config write among them moves it; from there effects are only
 * bounded (loose spans) and answers not checked. Returns whether the shadows
 * are loose.
 */
static bool predecessor_effects(const struct predecessor *p, const uint8_t pages[2 * 4096],
                                struct span *loose_bar, struct span *loose_gpa)
{
    struct daemon *d = R.d;
    const shared_iopage_t *before = (const shared_iopage_t *)(pages + 4096);
    /* A repair claim that failed (injected) turned decoding off: then nothing is served. */
    const struct bar_window *win =
        mock_setup_fault_hit() && !d->pci.window.enabled ? &d->pci.window : &p->window;
    ioreq_t model[MAX_BUFFERED];
    unsigned int nmodel;
    bool map_failed = mock_take_guest_map_failed(), moved = false, loose = false;

    if (!d->srv.adopted)
        return false;
    model_buffered((const buffered_iopage_t *)pages, model, &nmodel);
    for (unsigned int i = 0; i < nmodel; i++) {
        struct span bar, gpa;

        if (model[i].type == IOREQ_TYPE_COPY && model[i].dir == IOREQ_WRITE &&
            copy_accepted(&model[i], win, &bar, &gpa))
            copy_apply(&model[i], win);
    }
    for (unsigned int v = 0; v < d->srv.nr_vcpus && v < 4; v++) {
        uint8_t st = p->initial_state[v];
        uint64_t answer = mock_iopage()->vcpu_ioreq[v].data;
        struct span bar, gpa;
        struct expect e;
        ioreq_t req;

        if (st != STATE_IOREQ_READY && st != STATE_IOREQ_INPROCESS)
            continue;
        memcpy(&req, &before->vcpu_ioreq[v], sizeof(req));
        if (req.type == IOREQ_TYPE_PCI_CONFIG) {
            moved |= req.dir == IOREQ_WRITE;
            continue; /* answers depend on order */
        }
        if (req.type == IOREQ_TYPE_PIO && R.host_bridge) {
            /* Served in vCPU order: the latch follows the writes; reads are order's. */
            model_port_apply(&req);
            continue;
        }
        if (moved) {
            /* Whatever window it met: at most its own span changed. */
            if (req.type == IOREQ_TYPE_COPY &&
                (req.size == 1 || req.size == 2 || req.size == 4 || req.size == 8) &&
                span_of(req.addr, req.size, req.count, req.df, &bar)) {
                /* Which window mapped it to the backing is unknown: any byte. */
                bar.first = 0;
                bar.last = UINT64_MAX;
                span_union(loose_bar, &bar);
                if (req.data_is_ptr && span_of(req.data, req.size, req.count, req.df, &gpa))
                    span_union(loose_gpa, &gpa);
                loose = true;
            }
            continue;
        }
        expect_request(&req, win, &e);
        if (e.access)
            continue;
        if (e.copy_ok) {
            if (map_failed || !e.exact) {
                span_union(loose_bar, &e.loose_bar);
                span_union(loose_gpa, &e.loose_gpa);
                loose = map_failed = true;
                continue;
            }
            e.answer = copy_apply(&req, win);
        }
        if (e.exact && answer != e.answer)
            mock_violation("vCPU %u's request left by the predecessor (type %u) answered 0x%llx, "
                           "expected 0x%llx",
                           v, req.type, (unsigned long long)answer, (unsigned long long)e.answer);
    }
    return loose;
}

/* ---- Set-up and teardown ---- */

static void guard_backing(struct daemon *d)
{
    /* Move the backing between two PROT_NONE pages: a stray access faults. */
    size_t len = d->backing.size + 2 * 4096;
    uint8_t *g = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    void *moved;

    if (g == MAP_FAILED)
        abort();
    moved = mremap(d->backing.base, d->backing.size, d->backing.size, MREMAP_MAYMOVE | MREMAP_FIXED,
                   g + 4096);
    if (moved != g + 4096)
        abort();
    mock_lend_backing_moved(d->backing.base, moved);
    d->backing.base = moved;
    R.guard = g;
    R.guard_len = len;
}

static void unguard_backing(void)
{
    if (!R.guard)
        return;
    munmap(R.guard, 4096);
    munmap(R.guard + R.guard_len - 4096, 4096);
    R.guard = NULL;
}

static void check_err_line(const char *err)
{
    if (!err[0])
        mock_violation("set-up failed without a message");
    for (const char *p = err; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            mock_violation("set-up error message has a control character: %s", err);
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void remove_state_dir(void)
{
    rmdir(state_dir);
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    snprintf(state_dir, sizeof(state_dir), "/tmp/ioreq-lend-fuzz-XXXXXX");
    if (!mkdtemp(state_dir))
        abort();
    atexit(remove_state_dir);
    trace = getenv("FUZZ_TRACE") != NULL;
    log_set_level(trace ? LOG_LVL_DEBUG : LOG_LVL_ERROR);
    return 0;
}

/*
 * The input's header: its first six bytes, decoded here once. Everything
 * else reads these fields, never the bytes (tests/fuzz/README.md describes
 * the input format; make_seeds.py writes it).
 */
struct fuzz_header {
    unsigned int mode;          /* byte 0 bits 0-1: emulate, lend, auto, auto on a host without */
    bool kernel_lends_anyway;   /* bit 2: with mode 3, the kernel lends (Xen does not) */
    bool on_lost_fault;         /* bit 3 */
    bool setup_fault;           /* bit 4: one set-up call fails */
    bool broken_xen;            /* bit 5 */
    bool predecessor;           /* bit 6: a crashed predecessor's state follows */
    bool host_bridge;           /* bit 7: PVH, --host-bridge (BAR placed at 4 GiB) */
    unsigned int nr_vcpus;      /* byte 1 bits 0-1, plus one */
    unsigned int server_id;     /* bits 2-4 */
    unsigned int port_base;     /* bits 5-7, times 37 */
    unsigned int fault_around;  /* byte 2 bits 0-1: index into fault_arounds[] */
    unsigned int window_pages;  /* bits 2-6: 0 for the whole BAR */
    uint8_t fault_split;        /* byte 3: where the serving faults' bytes begin */
    unsigned int setup_fail_call; /* byte 4, mod 24, plus one */
    unsigned int broken_kind;   /* byte 5 bits 6-7: no vCPUs, 129, or a vCPU without a port */
    unsigned int broken_vcpu;   /* bits 0-1: that vCPU */
    unsigned int setup_errno;   /* bits 0-2: index into setup_errnos[] */
};

static const char *const modes[] = {"emulate", "lend", "auto", "auto"};
static const char *const fault_arounds[] = {"4K", "8K", "16K", NULL};
static const int setup_errnos[] = {ENOMEM, EAGAIN, ENOENT, ESRCH, EINVAL, EACCES, ENOSPC, E2BIG};

static struct fuzz_header header_decode(struct fuzz_input *in)
{
    uint8_t b[6];
    struct fuzz_header h;

    for (unsigned int i = 0; i < 6; i++)
        b[i] = fi_u8(in);
    h = (struct fuzz_header){
        .mode = b[0] & 3,
        .kernel_lends_anyway = b[0] & 4,
        .on_lost_fault = b[0] & 8,
        .setup_fault = b[0] & 0x10,
        .broken_xen = b[0] & 0x20,
        .predecessor = b[0] & 0x40,
        .host_bridge = b[0] & 0x80,
        .nr_vcpus = (b[1] & 3) + 1,
        .server_id = (b[1] >> 2) & 7,
        .port_base = (b[1] >> 5) * 37u,
        .fault_around = b[2] & 3,
        .window_pages = (b[2] >> 2) & 31,
        .fault_split = b[3],
        .setup_fail_call = b[4] % 24u + 1,
        .broken_kind = b[5] >> 6,
        .broken_vcpu = b[5] & 3,
        .setup_errno = b[5] & 7,
    };
    if (h.window_pages > BAR_PAGES)
        h.window_pages = BAR_PAGES;
    return h;
}

/* The mocked Xen and kernel the header describes. */
static void header_mock_config(const struct fuzz_header *h, struct mock_config *cfg)
{
    memset(cfg, 0, sizeof(*cfg));
    cfg->domid = DOMID;
    cfg->nr_vcpus = h->nr_vcpus;
    cfg->server_id = (ioservid_t)h->server_id;
    cfg->port_base = (evtchn_port_t)h->port_base;
    cfg->lend_kernel = h->mode != 3 || h->kernel_lends_anyway;
    cfg->lend_hv = h->mode != 3;
    cfg->zero_vp_eport = -1;
    if (h->broken_xen) {
        /* A broken Xen: no vCPUs, too many, or a vCPU without an event channel. */
        if (h->broken_kind == 0)
            cfg->nr_vcpus = 0;
        else if (h->broken_kind == 1)
            cfg->nr_vcpus = 129;
        else
            cfg->zero_vp_eport = (int)(h->broken_vcpu % cfg->nr_vcpus);
    }
    if (h->setup_fault) {
        cfg->setup_fail_call = h->setup_fail_call;
        cfg->setup_fail_errno = setup_errnos[h->setup_errno];
    }
}

/* The daemon's command line for the header, parsed as main() would. */
struct fuzz_argv {
    const char *argv[26];
    char window[32], backing[32];
    int backing_fd;
};

static void header_options(const struct fuzz_header *h, struct fuzz_argv *a, struct dm_options *opt)
{
    char err[512];
    int argc = 0;

    a->argv[argc++] = "ioreq-lend";
    a->argv[argc++] = "--domid";
    a->argv[argc++] = "7";
    a->argv[argc++] = "--bar-size";
    a->argv[argc++] = "64K";
    /*
     * A memfd of our own, given as fd:N: with memfd:SIZE the daemon would
     * start a keeper process for it on every input.
     */
    a->backing_fd = memfd_create("fuzz-backing", MFD_CLOEXEC);
    if (a->backing_fd < 0 || ftruncate(a->backing_fd, BAR_SIZE) < 0)
        abort();
    snprintf(a->backing, sizeof(a->backing), "fd:%d", a->backing_fd);
    a->argv[argc++] = "--backing";
    a->argv[argc++] = a->backing;
    a->argv[argc++] = "--state-dir";
    a->argv[argc++] = state_dir;
    /* No record keeper per input: a fork each would be most of the run's time. */
    a->argv[argc++] = "--no-xenstore";
    a->argv[argc++] = "--mode";
    a->argv[argc++] = modes[h->mode];
    a->argv[argc++] = "--on-lost";
    a->argv[argc++] = h->on_lost_fault ? "fault" : "zero";
    if (fault_arounds[h->fault_around]) {
        a->argv[argc++] = "--fault-around";
        a->argv[argc++] = fault_arounds[h->fault_around];
    }
    if (h->window_pages) {
        snprintf(a->window, sizeof(a->window), "%uK", h->window_pages * 4);
        a->argv[argc++] = "--window";
        a->argv[argc++] = a->window;
    }
    if (h->host_bridge) {
        /* Above the mock's guest RAM: the daemon places BAR 0 there at set-up. */
        a->argv[argc++] = "--domain-type";
        a->argv[argc++] = "pvh";
        a->argv[argc++] = "--host-bridge";
        a->argv[argc++] = "--bar-base";
        a->argv[argc++] = "0x100000000";
    }
    a->argv[argc] = NULL;
    if (options_parse(argc, (char *const *)a->argv, opt, err, sizeof(err)) != OPTIONS_RUN) {
        fprintf(stderr, "fuzz_dispatch: options: %s\n", err);
        abort();
    }
}

/* A set-up that succeeded: the mode the header asked for, a server that serves. */
static void check_setup(const struct fuzz_header *h, const struct mock_config *cfg)
{
    struct daemon *d = R.d;

    if (h->mode == 1 && !R.lend)
        mock_violation("--mode lend came up emulating");
    if (h->mode == 0 && R.lend)
        mock_violation("--mode emulate came up lending");
    if (h->mode == 3 && R.lend)
        mock_violation("lending came up on a host without it");
    if (h->mode == 2 && !cfg->setup_fail_call && !R.lend)
        mock_violation("--mode auto emulates on a host that can lend");
    if (d->srv.nr_vcpus != cfg->nr_vcpus || !mock_iopage() || !mock_server_enabled())
        mock_violation("set-up succeeded but the server is not serving");
    for (unsigned int v = 0; v < cfg->nr_vcpus; v++) {
        if (mock_remote_port(d->srv.vcpu_port[v]) != MOCK_REMOTE_VCPU_PORT(v))
            mock_violation("vCPU %u's port is bound to the wrong remote port", v);
    }
    if (mock_remote_port(d->srv.buf_port) != MOCK_REMOTE_BUF_PORT)
        mock_violation("the buffered port is bound to the wrong remote port");
}

/* The bounded program of guest and host actions that follows the header. */
static void run_program(struct fuzz_input *in)
{
    for (unsigned int step = 0; step < MAX_ACTIONS && !fi_empty(in); step++) {
        uint8_t op = fi_u8(in);
        unsigned int how = op >> 5;

        switch (op % A_NUM) {
        case A_RAW:
            act_raw(in, how);
            break;
        case A_CONFIG:
            act_config(in, how);
            break;
        case A_MMIO:
            act_mmio(in, how);
            break;
        case A_ACCESS:
            act_access(in, how);
            break;
        case A_OTHER:
            act_other(in, how);
            break;
        case A_BUFFERED:
            act_buffered(in, how);
            break;
        case A_EVENTS:
            act_events(in, how);
            break;
        case A_SPURIOUS:
            act_spurious(in, how);
            break;
        case A_DIE:
            if (how == 7) {
                mock_domain_die();
                R.dead = true;
            }
            break;
        }
    }
}

/* After set-up: the predecessor's leftovers handled, the shadows started, serving armed. */
static void start_serving(const struct predecessor *pred, const uint8_t *pred_pages,
                          const struct fuzz_input *faults)
{
    struct daemon *d = R.d;

    guard_backing(d);
    /* A fresh memfd holds zeros: what changed it since, the models must say. */
    memset(R.backing, 0, BAR_SIZE);
    if (pred->present) {
        struct span lb = {1, 0}, lg = {1, 0};
        bool loose = predecessor_effects(pred, pred_pages, &lb, &lg);

        predecessor_check(pred, pred_pages);
        check_backing(loose ? &lb : NULL);
        check_guest_ram(loose ? &lg : NULL);
    } else {
        check_backing(NULL);
    }
    R.daemon_ops = d->srv.ops;
    d->srv.ops = &wrap_ops;
    mock_set_faults(faults->p, faults->n);
    mock_set_phase(MOCK_SERVING);
    check_invariants();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    struct fuzz_input in = {data, size}, faults;
    struct fuzz_header h = header_decode(&in);
    struct mock_config cfg;
    struct dm_options opt;
    struct fuzz_argv args;
    char err[512], lock[4200];
    int fds, rc;
    static struct predecessor pred;
    static uint8_t pred_pages[2 * 4096];

    header_mock_config(&h, &cfg);
    header_options(&h, &args, &opt);
    memset(&R, 0, sizeof(R));
    R.d = calloc(1, sizeof(*R.d));
    if (!R.d)
        abort();
    R.on_lost_fault = h.on_lost_fault;
    R.host_bridge = h.host_bridge;
    R.expect_vcpu = -1;
    fds = count_fds();
    mock_reset(&cfg);
    pred.present = false;
    if (h.predecessor) {
        predecessor_stage(&in, &pred, &opt, h.mode == 1 || h.mode == 2, cfg.nr_vcpus);
        memcpy(pred_pages, pred.xen.pages, sizeof(pred_pages));
    }
    faults = fi_split(&in, h.fault_split);
    rc = daemon_setup(R.d, &opt, err, sizeof(err));
    snprintf(lock, sizeof(lock), "%s", R.d->state.path);
    if (rc) {
        check_err_line(err);
    } else {
        R.lend = R.d->mode == MODE_LEND;
        mock_lend_set_backing(R.d->backing.fd, R.d->backing.fd_offset);
        R.window_pages = h.window_pages && R.lend ? h.window_pages : BAR_PAGES;
        check_setup(&h, &cfg);
        start_serving(&pred, pred_pages, &faults);
        run_program(&in);
    }
    if (trace) {
        /* For a human reproducing an input: what the run did. */
        fprintf(stderr,
                "fuzz_dispatch: set-up %s (%s), mode %s, window %s 0x%llx, lent pages %llu\n",
                rc ? "failed" : "ok", rc ? err : "-", R.lend ? "lend" : "emulate",
                R.d->pci.window.enabled ? "on" : "off", (unsigned long long)R.d->pci.window.base,
                (unsigned long long)mock_lend_mapped());
        counters_write_json(&R.d->cnt, lend_mode_name(R.d->mode), &R.d->lat, stderr);
        fputc('\n', stderr);
    }
    mock_set_phase(MOCK_TEARDOWN);
    daemon_teardown(R.d);
    unguard_backing();
    mock_assert_clean();
    /* The backing fd is the daemon's once set-up took it; a set-up that stopped earlier did not. */
    if (fcntl(args.backing_fd, F_GETFD) >= 0 && R.d->backing.fd != args.backing_fd)
        close(args.backing_fd);
    if (count_fds() != fds - 1)
        mock_violation("%d fds open after teardown, %d before set-up", count_fds(), fds - 1);
    if (lock[0] && access(lock, F_OK) == 0)
        mock_violation("the lock file %s outlived teardown", lock);
    mock_finish();
    free(R.d);
    R.d = NULL;
    return 0;
}
