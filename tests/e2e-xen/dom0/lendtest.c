/* SPDX-License-Identifier: MIT */
/*
 * lendtest: the dom0 half of the xen-lend case (tests/e2e-xen/cases/xen-lend.sh).
 * Built static on the host, runs in the PV dom0 of the patched hypervisor
 * (upstream/xen/) and drives its lending interface directly, without the
 * privcmd module that will normally issue XENMEM_lend_* (upstream/linux/):
 *
 *   lendtest probe DOMID
 *       Create an ioreq server for DOMID (not enabled) and try the access-only
 *       range dm_op (type 3) page aligned and not, and XENMEM_lend_unmap.
 *       One line: LT {"event":"probe","map_aligned":"OK"|"EINVAL",...}
 *
 *   lendtest serve DOMID GPA
 *       Be an ioreq server for DOMID claiming two access-only ranges:
 *         A = [GPA, GPA + 3 pages)          the guest's pages P0, P1, P2
 *         B = [GPA + 2M, GPA + 4M)          one full batch of 512 lent pages
 *       Frames: this program's own dom0 frames, obtained from Xen with
 *       XENMEM_increase_reservation (dom0's max raised by as much first), so
 *       that their MFNs are known to user space and, given back at the end with
 *       decrease_reservation, show in Xen's free memory whether a reference
 *       leaked. Before the guest runs: B is lent in one call, and the error
 *       cases are tried. Then the ACCESS requests are answered by a script:
 *         #1 P0  RETRY without mapping anything      (the access must fault again)
 *         #2 P0  lend F0 read/write, RETRY            (the guest reads F0)
 *         #3 P1  FAIL                                 (the guest process: SIGSEGV)
 *         #4 P2  lend F2 read-only, RETRY             (a write to it: #GP)
 *         #5 P0  lend F1 read/write, RETRY            (after "unmap": a new frame)
 *       Commands on stdin: "foreign" (foreign-map the lent gfns and a RAM gfn),
 *       "grant LENT RAM" (map the guest's grant references LENT, whose frame is
 *       a lent gfn, and RAM, a gfn of its RAM, through /dev/xen/gntdev),
 *       "unmap" (XENMEM_lend_unmap over A; ACCESS requests are then held, their
 *       vCPUs blocked, until "release"), "age" (XENMEM_lend_age over B: which
 *       pages the guest accessed since they were lent or last aged), "quit" (after the guest died: try
 *       lend_map, expect ESRCH; give the frames back; restore dom0's max).
 *       Every event is one line on stdout: LT {json}.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <xencall.h>
#include <xenctrl.h>
#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xengnttab.h>
#include <xen/hvm/dm_op.h>
#include <xen/hvm/ioreq.h>
#include <xen/memory.h>
#include <xen/sys/privcmd.h>

/* The lending ABI (lend_abi_v2.h Part 1), as the patched public headers define it. */
#ifndef XEN_DMOP_IO_RANGE_ACCESS
#define XEN_DMOP_IO_RANGE_ACCESS 3
#endif
#ifndef IOREQ_TYPE_ACCESS
#define IOREQ_TYPE_ACCESS 9
#define IOREQ_ACCESS_RETRY 0
#define IOREQ_ACCESS_FAIL 1
#endif
#define XENMEM_lend_map 29
#define XENMEM_lend_unmap 30
#define XENMEM_lend_age 31 /* revision 3 */
#define LEND_MAP_F_READONLY (1u << 0)
#define LEND_MAX_BATCH 512
struct xen_lend_map_arg {
    uint16_t domid;
    uint16_t flags;
    uint32_t nr;
    uint64_t first_gfn;
    uint64_t frames;
};
_Static_assert(sizeof(struct xen_lend_map_arg) == 24, "lend_abi_v2.h layout");

#define PAGE 4096ULL
/* What the frames hold, as the guest half (guest/lend-guest.c) expects it. */
#define PAT0 0x4c454e4430000000ULL
#define PAT1 0x4c454e4431000000ULL
#define PAT2 0x4c454e4432000000ULL
#define PATB 0x4c454e4442000000ULL /* | page index */
#define GO 0x474f474f474f474fULL

static xc_interface *xch;
static xencall_handle *xcall;
static xendevicemodel_handle *dmod;
static xenforeignmemory_handle *fmem;
static xenevtchn_handle *xce;
static int privcmd = -1;
static domid_t domid;
static ioservid_t sid;

static void out(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void out(const char *fmt, ...)
{
    va_list ap;

    printf("LT {");
    va_start(ap, fmt);
    vprintf(fmt, ap);
    va_end(ap);
    printf("}\n");
    fflush(stdout);
}

static void put_frames(void);
static bool have_frames;

static __attribute__((noreturn)) void die(const char *what)
{
    out("\"event\":\"fatal\",\"what\":\"%s\",\"errno\":\"%s\"", what, strerrorname_np(errno) ?: "?");
    if (have_frames)
        put_frames();
    exit(1);
}

/* "OK" or the errno's name. */
static const char *res(int rc)
{
    return rc == 0 ? "OK" : (strerrorname_np(errno) ?: "?");
}

/* The access-only range dm_op, as ioreq-lend/xenlend.c issues it. */
static int access_range(bool map, uint64_t start, uint64_t end)
{
    struct xen_dm_op op = {.op = map ? XEN_DMOP_map_io_range_to_ioreq_server
                                     : XEN_DMOP_unmap_io_range_from_ioreq_server};
    privcmd_dm_op_buf_t buf = {.uptr = &op, .size = sizeof(op)};
    privcmd_dm_op_t dm = {.dom = domid, .num = 1, .ubufs = &buf};

    op.u.map_io_range_to_ioreq_server.id = sid;
    op.u.map_io_range_to_ioreq_server.type = XEN_DMOP_IO_RANGE_ACCESS;
    op.u.map_io_range_to_ioreq_server.start = start;
    op.u.map_io_range_to_ioreq_server.end = end;
    return ioctl(privcmd, IOCTL_PRIVCMD_DM_OP, &dm) < 0 ? -1 : 0;
}

/* XENMEM_lend_map / lend_unmap through the unrestricted privcmd fd (libxencall). */
static struct xen_lend_map_arg *larg;
static xen_pfn_t *lframes;

static int lend(unsigned int cmd, uint64_t gfn, uint32_t nr, const xen_pfn_t *frames, uint16_t flags)
{
    larg->domid = domid;
    larg->flags = flags;
    larg->nr = nr;
    larg->first_gfn = gfn;
    larg->frames = 0;
    if (frames) {
        memcpy(lframes, frames, (nr > LEND_MAX_BATCH + 1 ? LEND_MAX_BATCH + 1 : nr) * sizeof(*frames));
        larg->frames = (uintptr_t)lframes;
    }
    return xencall2(xcall, __HYPERVISOR_memory_op, cmd, (uintptr_t)larg) < 0 ? -1 : 0;
}

static int open_all(void)
{
    xch = xc_interface_open(NULL, NULL, 0);
    xcall = xencall_open(NULL, 0);
    dmod = xendevicemodel_open(NULL, 0);
    fmem = xenforeignmemory_open(NULL, 0);
    xce = xenevtchn_open(NULL, 0);
    privcmd = open("/dev/xen/privcmd", O_RDWR | O_CLOEXEC);
    if (!xch || !xcall || !dmod || !fmem || !xce || privcmd < 0)
        return -1;
    larg = xencall_alloc_buffer(xcall, sizeof(*larg));
    lframes = xencall_alloc_buffer(xcall, (LEND_MAX_BATCH + 1) * sizeof(*lframes));
    return larg && lframes ? 0 : -1;
}

static int probe(void)
{
    if (xendevicemodel_create_ioreq_server(dmod, domid, HVM_IOREQSRV_BUFIOREQ_OFF, &sid) < 0)
        die("create_ioreq_server");
    int a = access_range(true, 0x200000000ULL, 0x200000000ULL + PAGE - 1);
    const char *aligned = res(a);
    if (a == 0)
        access_range(false, 0x200000000ULL, 0x200000000ULL + PAGE - 1);
    const char *ustart = res(access_range(true, 0x200000800ULL, 0x200000800ULL + PAGE - 1));
    const char *uend = res(access_range(true, 0x200000000ULL, 0x200000000ULL + PAGE - 2));
    const char *unmap = res(lend(XENMEM_lend_unmap, 0x200000, 1, NULL, 0));
    xendevicemodel_destroy_ioreq_server(dmod, domid, sid);
    out("\"event\":\"probe\",\"server\":%u,\"map_aligned\":\"%s\",\"map_unaligned_start\":\"%s\","
        "\"map_unaligned_end\":\"%s\",\"lend_unmap\":\"%s\"",
        sid, aligned, ustart, uend, unmap);
    return 0;
}

/* ------------------------------------------------------------------ serve */

#define NB LEND_MAX_BATCH
#define NF (3 + NB)          /* F0, F1, F2, then the batch */
static xen_pfn_t mfn[NF];
static uint64_t *frame[NF]; /* our mapping of each */
static uint64_t *fmap;
static unsigned long maxmem_kb;
static shared_iopage_t *iopage;
static evtchn_port_t *ports;
static unsigned int nr_vcpus;
static uint64_t gpa, gfn0, gfnb;
static unsigned int naccess;
static bool hold;                 /* between "unmap" and "release" */
static evtchn_port_t held[8];
static unsigned int nheld;

static void get_frames(void)
{
    xc_dominfo_t info;

    if (xc_domain_getinfo(xch, 0, 1, &info) != 1 || info.domid != 0)
        die("getinfo dom0");
    maxmem_kb = info.max_memkb;
    /* Room for our frames on top of dom0's own allowance. */
    if (xc_domain_setmaxmem(xch, 0, maxmem_kb + NF * 4 + 64) < 0)
        die("setmaxmem dom0");
    if (xc_domain_increase_reservation_exact(xch, 0, NF, 0, 0, mfn) < 0) {
        xc_domain_setmaxmem(xch, 0, maxmem_kb);
        die("increase_reservation");
    }
    have_frames = true;
    int err[NF];
    /* Our own frames, by MFN (Xen refuses our own domid as a "foreign" one). */
    fmap = xenforeignmemory_map(fmem, DOMID_SELF, PROT_READ | PROT_WRITE, NF, mfn, err);
    if (!fmap)
        die("map own frames");
    for (int i = 0; i < NF; i++) {
        if (err[i]) {
            errno = -err[i];
            die("map own frame");
        }
        frame[i] = (uint64_t *)((char *)fmap + i * PAGE);
        memset(frame[i], 0, PAGE);
    }
    frame[0][0] = PAT0;
    frame[1][0] = PAT1;
    frame[1][2] = GO;
    frame[2][0] = PAT2;
    for (int i = 0; i < NB; i++)
        frame[3 + i][0] = PATB | (uint64_t)i;
    out("\"event\":\"frames\",\"n\":%d,\"mfn0\":\"0x%lx\",\"dom0_maxmem_kb\":%lu", NF, (unsigned long)mfn[0],
        maxmem_kb);
}

static void put_frames(void)
{
    have_frames = false;
    if (fmap)
        xenforeignmemory_unmap(fmem, fmap, NF);
    int rc = xc_domain_decrease_reservation_exact(xch, 0, NF, 0, mfn);
    const char *r = res(rc);
    int rc2 = xc_domain_setmaxmem(xch, 0, maxmem_kb);
    out("\"event\":\"frames_returned\",\"decrease_reservation\":\"%s\",\"setmaxmem\":\"%s\"", r, res(rc2));
}

/* The error cases, before the guest runs. */
static void error_cases(void)
{
    char buf[512];
    int n = 0;

    n += snprintf(buf + n, sizeof(buf) - n, "\"nr0\":\"%s\"", res(lend(XENMEM_lend_map, gfnb, 0, mfn + 3, 0)));
    n += snprintf(buf + n, sizeof(buf) - n, ",\"nr513\":\"%s\"",
                  res(lend(XENMEM_lend_map, gfnb, NB + 1, mfn + 2, 0)));
    n += snprintf(buf + n, sizeof(buf) - n, ",\"bad_flags\":\"%s\"",
                  res(lend(XENMEM_lend_map, gfnb, 1, mfn + 3, 2)));
    /* A gfn in no access range of ours. */
    n += snprintf(buf + n, sizeof(buf) - n, ",\"outside_range\":\"%s\"",
                  res(lend(XENMEM_lend_map, gfn0 + 16, 1, mfn + 3, 0)));
    /* A frame dom0 does not own (MFN 0). */
    xen_pfn_t zero = 0;
    n += snprintf(buf + n, sizeof(buf) - n, ",\"foreign_frame\":\"%s\"",
                  res(lend(XENMEM_lend_map, gfn0, 1, &zero, 0)));
    /* Guest RAM (1 MiB) inside an access range: never replaced. */
    if (access_range(true, 0x100000, 0x100000 + PAGE - 1) < 0)
        die("claim RAM page as access range");
    n += snprintf(buf + n, sizeof(buf) - n, ",\"over_ram\":\"%s\"",
                  res(lend(XENMEM_lend_map, 0x100, 1, mfn + 3, 0)));
    access_range(false, 0x100000, 0x100000 + PAGE - 1);
    /* All or nothing: the last gfn of this batch is outside B. */
    n += snprintf(buf + n, sizeof(buf) - n, ",\"partly_outside\":\"%s\"",
                  res(lend(XENMEM_lend_map, gfnb + 1, NB, mfn + 3, 0)));
    out("\"event\":\"errors\",%s", buf);
}

static void setup_server(void)
{
    if (xendevicemodel_create_ioreq_server(dmod, domid, HVM_IOREQSRV_BUFIOREQ_OFF, &sid) < 0)
        die("create_ioreq_server");
    void *addr = NULL;
    xenforeignmemory_resource_handle *res_h = xenforeignmemory_map_resource(
        fmem, domid, XENMEM_resource_ioreq_server, sid, XENMEM_resource_ioreq_server_frame_ioreq(0), 1, &addr,
        PROT_READ | PROT_WRITE, 0);
    if (!res_h)
        die("map ioreq page");
    iopage = addr;
    if (xendevicemodel_nr_vcpus(dmod, domid, &nr_vcpus) < 0)
        die("nr_vcpus");
    if (xendevicemodel_set_ioreq_server_state(dmod, domid, sid, 1) < 0)
        die("enable server");
    ports = calloc(nr_vcpus, sizeof(*ports));
    for (unsigned int i = 0; i < nr_vcpus; i++) {
        xenevtchn_port_or_error_t p = xenevtchn_bind_interdomain(xce, domid, iopage->vcpu_ioreq[i].vp_eport);
        if (p < 0)
            die("bind");
        ports[i] = (evtchn_port_t)p;
    }
    if (access_range(true, gpa, gpa + 3 * PAGE - 1) < 0)
        die("claim range A");
    if (access_range(true, gfnb * PAGE, gfnb * PAGE + NB * PAGE - 1) < 0)
        die("claim range B");
}

/* The script: what to answer to the n-th ACCESS request. */
static uint64_t on_access(const ioreq_t *p)
{
    uint64_t page = (p->addr >> 12) - gfn0, answer = IOREQ_ACCESS_RETRY;
    const char *action = "retry";
    int rc = 0;

    naccess++;
    if (p->addr >> 12 < gfn0 || page > 2) {
        action = "fail (not ours)";
        answer = IOREQ_ACCESS_FAIL;
    } else if (naccess == 1) {
        action = "retry, nothing mapped";
    } else if (page == 0 && naccess == 2) {
        rc = lend(XENMEM_lend_map, gfn0, 1, &mfn[0], 0);
        action = "lend F0 rw, retry";
    } else if (page == 1) {
        action = "fail";
        answer = IOREQ_ACCESS_FAIL;
    } else if (page == 2) {
        rc = lend(XENMEM_lend_map, gfn0 + 2, 1, &mfn[2], LEND_MAP_F_READONLY);
        action = "lend F2 ro, retry";
    } else {
        rc = lend(XENMEM_lend_map, gfn0, 1, &mfn[1], 0);
        action = "lend F1 rw, retry";
    }
    if (rc < 0)
        answer = IOREQ_ACCESS_FAIL;
    /* What the guest wrote into F0 directly, once it could (step 2 of the guest). */
    out("\"event\":\"access\",\"n\":%u,\"addr\":\"0x%" PRIx64 "\",\"dir\":\"%s\",\"size\":%u,\"count\":%u,"
        "\"data_is_ptr\":%u,\"page\":%" PRIu64 ",\"action\":\"%s\",\"lend\":\"%s\",\"f0_word1\":\"0x%" PRIx64 "\"",
        naccess, (uint64_t)p->addr, p->dir == IOREQ_READ ? "read" : "write", p->size, p->count, p->data_is_ptr,
        page, action, res(rc), frame[0][1]);
    return answer;
}

static void handle_port(evtchn_port_t port)
{
    if (hold) {
        /* The request stays READY in its slot and the vCPU blocked. */
        if (nheld < sizeof(held) / sizeof(held[0]))
            held[nheld++] = port;
        out("\"event\":\"held\",\"port\":%u", port);
        return;
    }
    for (unsigned int i = 0; i < nr_vcpus; i++) {
        if (ports[i] != port)
            continue;
        ioreq_t *slot = &iopage->vcpu_ioreq[i];
        if (slot->state != STATE_IOREQ_READY)
            return;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        slot->state = STATE_IOREQ_INPROCESS;
        ioreq_t req = *slot;
        uint64_t data = 0;
        if (req.type == IOREQ_TYPE_ACCESS)
            data = on_access(&req);
        else
            out("\"event\":\"other\",\"type\":%u,\"addr\":\"0x%" PRIx64 "\"", req.type, (uint64_t)req.addr);
        slot->data = data;
        __atomic_thread_fence(__ATOMIC_SEQ_CST);
        slot->state = STATE_IORESP_READY;
        xenevtchn_notify(xce, port);
        return;
    }
}

static void foreign(void)
{
    xen_pfn_t g[3] = {gfn0, gfnb, 0x100};
    int err[3];
    void *m = xenforeignmemory_map(fmem, domid, PROT_READ, 3, g, err);
    out("\"event\":\"foreign\",\"mapped\":%s,\"lent_p0\":\"%s\",\"lent_b0\":\"%s\",\"ram\":\"%s\"",
        m ? "true" : "false", err[0] ? strerrorname_np(-err[0]) : "OK", err[1] ? strerrorname_np(-err[1]) : "OK",
        err[2] ? strerrorname_np(-err[2]) : "OK");
    if (m)
        xenforeignmemory_unmap(fmem, m, 3);
}

/*
 * The guest granted dom0 a lent gfn (ref `lent`) and a gfn of its RAM (ref
 * `ram`): Xen's grant map takes the granter's page with get_page_from_gfn(),
 * which a lent entry (not RAM) must fail.
 */
static void grant(uint32_t lent, uint32_t ram)
{
    xengnttab_handle *gt = xengnttab_open(NULL, 0);
    const char *r[2] = {"no_gntdev", "no_gntdev"};
    uint32_t refs[2] = {lent, ram};

    for (int i = 0; gt && i < 2; i++) {
        void *m = xengnttab_map_grant_ref(gt, domid, refs[i], PROT_READ);

        r[i] = m ? "OK" : strerrorname_np(errno);
        if (m)
            xengnttab_unmap(gt, m, 1);
    }
    out("\"event\":\"grant\",\"lent_ref\":%u,\"lent\":\"%s\",\"ram_ref\":%u,\"ram\":\"%s\"", lent, r[0],
        ram, r[1]);
    if (gt)
        xengnttab_close(gt);
}

/*
 * "age": XENMEM_lend_age over the batch B. How many of its pages were
 * accessed since they were lent or last aged, and which (the first 16).
 */
static void age_batch(void)
{
    static const xen_pfn_t none[NB];
    static unsigned int n;
    char pages[16 * 5 + 1] = "";
    unsigned int young = 0;
    size_t len = 0;
    int rc = lend(XENMEM_lend_age, gfnb, NB, none, 0);

    for (unsigned int i = 0; rc == 0 && i < NB; i++) {
        if (!(lframes[i / 64] >> (i % 64) & 1))
            continue;
        if (young++ < 16)
            len += snprintf(pages + len, sizeof(pages) - len, "%s%u", len ? "," : "", i);
    }
    out("\"event\":\"age\",\"n\":%u,\"lend_age\":\"%s\",\"young\":%u,\"pages\":[%s]", ++n, res(rc),
        young, pages);
}

static int serve(void)
{
    gfn0 = gpa >> 12;
    gfnb = (gpa + (2ULL << 20)) >> 12;
    get_frames();
    setup_server();
    /* One full batch, before the guest runs. */
    const char *batch = res(lend(XENMEM_lend_map, gfnb, NB, mfn + 3, 0));
    out("\"event\":\"batch\",\"gfn\":\"0x%" PRIx64 "\",\"nr\":%d,\"lend_map\":\"%s\"", gfnb, NB, batch);
    error_cases();
    out("\"event\":\"ready\",\"server\":%u,\"vcpus\":%u", sid, nr_vcpus);

    struct pollfd pf[2] = {{.fd = xenevtchn_fd(xce), .events = POLLIN}, {.fd = 0, .events = POLLIN}};
    char line[64];
    size_t llen = 0;
    for (;;) {
        if (poll(pf, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            die("poll");
        }
        if (pf[0].revents & POLLIN) {
            xenevtchn_port_or_error_t port = xenevtchn_pending(xce);
            if (port >= 0) {
                xenevtchn_unmask(xce, port);
                handle_port(port);
            }
        }
        if (pf[1].revents & (POLLIN | POLLHUP)) {
            char c;
            ssize_t r = read(0, &c, 1);
            if (r <= 0)
                break;
            if (c != '\n') {
                if (llen < sizeof(line) - 1)
                    line[llen++] = c;
                continue;
            }
            line[llen] = 0;
            llen = 0;
            unsigned int gl, gr;

            if (!strcmp(line, "foreign")) {
                foreign();
            } else if (sscanf(line, "grant %u %u", &gl, &gr) == 2) {
                grant(gl, gr);
            } else if (!strcmp(line, "unmap")) {
                hold = true;
                const char *r = res(lend(XENMEM_lend_unmap, gfn0, 3, NULL, 0));
                out("\"event\":\"unmapped\",\"lend_unmap\":\"%s\"", r);
            } else if (!strcmp(line, "release")) {
                hold = false;
                out("\"event\":\"released\",\"held\":%u", nheld);
                for (unsigned int i = 0; i < nheld; i++)
                    handle_port(held[i]);
                nheld = 0;
            } else if (!strcmp(line, "age")) {
                age_batch();
            } else if (!strcmp(line, "quit")) {
                break;
            } else {
                out("\"event\":\"unknown_command\",\"line\":\"%s\"", line);
            }
        }
    }
    /* The guest is gone by now: lending to it must fail. */
    const char *late = res(lend(XENMEM_lend_map, gfn0, 1, &mfn[0], 0));
    xendevicemodel_destroy_ioreq_server(dmod, domid, sid);
    out("\"event\":\"late_lend\",\"lend_map\":\"%s\"", late);
    put_frames();
    out("\"event\":\"done\",\"accesses\":%u", naccess);
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    if (argc < 3 || (strcmp(argv[1], "probe") && strcmp(argv[1], "serve")) ||
        (!strcmp(argv[1], "serve") && argc < 4)) {
        fprintf(stderr, "usage: lendtest probe DOMID | lendtest serve DOMID GPA\n");
        return 2;
    }
    domid = (domid_t)strtoul(argv[2], NULL, 0);
    if (open_all() < 0)
        die("open Xen interfaces");
    if (!strcmp(argv[1], "probe"))
        return probe();
    gpa = strtoull(argv[3], NULL, 0);
    if (gpa & ((2ULL << 20) - 1)) {
        fprintf(stderr, "lendtest: GPA must be 2 MiB aligned\n");
        return 2;
    }
    return serve();
}
