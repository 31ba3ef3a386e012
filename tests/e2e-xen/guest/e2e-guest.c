/* SPDX-License-Identifier: MIT */
/*
 * e2e-guest: the test program the real-Xen end-to-end harness runs inside the guest.
 * Built on the host with gcc -static, started by the guest's busybox init.
 *
 * It finds the emulated PCI function, records where the firmware (hvmloader)
 * placed BAR 0, maps the BAR and pushes seeded patterns through it (pattern.h),
 * then prints one machine-readable line:
 *
 *     E2E-GUEST {"ok":true,"bytes_written":...,"bytes_read":...,"integrity_errors":0,...}
 *
 * Progress lines start with "E2E-GUEST-MARK"; dom0 waits for some of them.
 *
 * Modes (--mode):
 *   traffic   (default) find the function through sysfs, then the phases:
 *             threads  : two threads pinned to vCPU 0 and 1 write disjoint halves of
 *                        BAR [0, N), verify their own half, then (after a barrier)
 *                        verify the other thread's half; the first --plain-bytes of
 *                        each half with 8-byte stores/loads, the rest with rep movsq
 *                        one page at a time (under nested TCG every trapped access
 *                        costs ~1 ms, so plain accesses cannot cover MiBs);
 *             rep-movs : rep movsq RAM -> BAR [N, N+R) and BAR -> RAM (Xen sends
 *                        data_is_ptr COPY ioreqs), plus one backwards (DF=1) copy;
 *             sizes    : one page written with 1-, 2-, 4- and 8-byte stores, read back;
 *             digest   : BAR [0, N+R+4K) read back a page per rep movsq, FNV-1a;
 *             config   : the 256 bytes of config space through sysfs, as hex.
 *   loop      find and map the function, print "E2E-GUEST-MARK traffic-started",
 *             then write/verify BAR [0, N) from both vCPUs forever (the destroy case),
 *             reporting the pass count at most every 0.25 s per vCPU.
 *             First, with --probe-groups P, one 8-byte read of each 64 KiB group of
 *             BAR [N+W, N+W+64K*P), last group first, timed: in lending mode a first touch is an
 *             access-only request and a remap (the daemon's --fault-around 64K);
 *             then the same reads again, native (p50/p99 of each, in us).
 *             With --watch-bytes W, vCPU 0 also reads BAR [N, N+W) when it reports
 *             and reports how many of its pages hold, in every word, the value of
 *             the first page's first word (and how many read zeros, how many
 *             faulted: a page lost under --on-lost fault): dom0 fills that range through its own
 *             mapping after a memory-management operation, and a stale p2m entry
 *             would show the old value.
 *   probe     find the function and dump its config space; no BAR traffic.
 *   selftest  on the host: anonymous RAM stands in for the BAR (checks the phases).
 *   raw       for guests whose kernel does not probe PCI (PVH): report what Linux
 *             saw, then reach the function with conf1 (CF8/CFC) port I/O, program
 *             BAR 0 ourselves, map it through /dev/mem and run the traffic phases.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <sched.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>
#include <sys/klog.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "pattern.h"

#define KIB ((uint64_t)1024)
#define MIB ((uint64_t)1024 * 1024)

/* ------------------------------------------------------------------ options */

static struct {
    const char *mode;
    unsigned vendor, device;
    unsigned bus, dev, fn;
    uint64_t seed;
    uint64_t threads_bytes; /* N */
    uint64_t rep_bytes;     /* R */
    uint64_t plain_bytes;   /* of each thread range, with plain 8-byte accesses */
    uint64_t watch_bytes;   /* loop: BAR [N, N+W) only read, each page's words reported */
    unsigned probe_groups;  /* loop: first touches of BAR [N+W, N+W+64K*P), timed */
    int expect_vcpus;
} opt = {
    .mode = "traffic",
    .vendor = 0x5853,
    .device = 0x1e4d,
    .bus = 0, .dev = 0x1f, .fn = 0,
    .seed = E2E_PATTERN_DEFAULT_SEED,
    .threads_bytes = 4 * MIB,
    .rep_bytes = 1 * MIB,
    .plain_bytes = 8 * KIB,
    .expect_vcpus = 2,
};

/* ------------------------------------------------------------------ JSON output */

static char json[65536];
static size_t jlen;
static bool jfirst = true;

static void jraw(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void jraw(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(json + jlen, sizeof(json) - jlen, fmt, ap);
    va_end(ap);
    if (n > 0)
        jlen += (size_t)n < sizeof(json) - jlen ? (size_t)n : sizeof(json) - jlen - 1;
}

static void jkey(const char *k)
{
    jraw("%s\"%s\":", jfirst ? "" : ",", k);
    jfirst = false;
}

static void jstr_val(const char *s)
{
    jraw("\"");
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            jraw("\\%c", c);
        else if (c < 0x20 || c >= 0x7f)
            jraw("\\u%04x", c);
        else
            jraw("%c", c);
    }
    jraw("\"");
}

static void jstr(const char *k, const char *v) { jkey(k); jstr_val(v); }
static void jbool(const char *k, bool v) { jkey(k); jraw("%s", v ? "true" : "false"); }
static void ju64(const char *k, uint64_t v) { jkey(k); jraw("%" PRIu64, v); }
static void jhex(const char *k, uint64_t v) { jkey(k); jraw("\"0x%" PRIx64 "\"", v); }
static void jdbl(const char *k, double v) { jkey(k); jraw("%.3f", v); }
static void jobj_begin(const char *k) { jkey(k); jraw("{"); jfirst = true; }
static void jarr_begin(const char *k) { jkey(k); jraw("["); jfirst = true; }
static void jobj_end(void) { jraw("}"); jfirst = false; }
static void jarr_end(void) { jraw("]"); jfirst = false; }

/* ------------------------------------------------------------------ helpers */

static const char *first_error;
static char errbuf[512];

static void set_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void set_error(const char *fmt, ...)
{
    if (first_error)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(errbuf, sizeof(errbuf), fmt, ap);
    va_end(ap);
    first_error = errbuf;
    printf("E2E-GUEST-MARK error %s\n", errbuf);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int read_file(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n < 0)
        return -1;
    buf[n] = 0;
    return (int)n;
}

static unsigned long read_hex_file(const char *dir, const char *name)
{
    char p[512], b[64];
    snprintf(p, sizeof(p), "%s/%s", dir, name);
    if (read_file(p, b, sizeof(b)) < 0)
        return ~0UL;
    return strtoul(b, NULL, 0);
}

static uint64_t parse_size(const char *s)
{
    char *end;
    uint64_t v = strtoull(s, &end, 0);
    switch (*end) {
    case 'k': case 'K': v *= KIB; break;
    case 'm': case 'M': v *= MIB; break;
    case 'g': case 'G': v *= 1024 * MIB; break;
    default: break;
    }
    return v;
}

/* ------------------------------------------------------------------ the function */

static struct {
    bool found;
    char bdf[256];
    char sysdir[320];
    unsigned vendor, device, class_code;
    uint64_t bar0, bar0_size, bar0_flags;
    uint8_t cfg[256];
    int cfg_len;
    uint16_t command_before, command_after;
    int ndevices;
    char devices[1024];
} fn;

static void hexdump_config(const uint8_t *cfg, int len)
{
    for (int row = 0; row < len; row += 16) {
        printf("E2E-GUEST-CONFIG %02x:", row);
        for (int i = row; i < row + 16 && i < len; i++)
            printf(" %02x", cfg[i]);
        printf("\n");
    }
}

static int sysfs_read_config(void)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/config", fn.sysdir);
    int fd = open(p, O_RDONLY);
    if (fd < 0)
        return -1;
    ssize_t n = pread(fd, fn.cfg, sizeof(fn.cfg), 0);
    close(fd);
    fn.cfg_len = n < 0 ? 0 : (int)n;
    return n == 256 ? 0 : -1;
}

static uint16_t cfg16(const uint8_t *c, int off) { return (uint16_t)(c[off] | c[off + 1] << 8); }
static uint32_t cfg32(const uint8_t *c, int off) { return cfg16(c, off) | (uint32_t)cfg16(c, off + 2) << 16; }

/* Find vendor:device in /sys/bus/pci/devices; note every device seen. */
static bool sysfs_find(void)
{
    DIR *d = opendir("/sys/bus/pci/devices");
    if (!d)
        return false;
    struct dirent *e;
    size_t dl = 0;
    while ((e = readdir(d))) {
        if (e->d_name[0] == '.')
            continue;
        char dir[300];
        snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s", e->d_name);
        unsigned long v = read_hex_file(dir, "vendor"), dv = read_hex_file(dir, "device");
        fn.ndevices++;
        if (dl < sizeof(fn.devices) - 64)
            dl += (size_t)snprintf(fn.devices + dl, sizeof(fn.devices) - dl, "%s%s=%04lx:%04lx",
                                   dl ? " " : "", e->d_name, v, dv);
        if (v == opt.vendor && dv == opt.device && !fn.found) {
            fn.found = true;
            snprintf(fn.bdf, sizeof(fn.bdf), "%s", e->d_name);
            snprintf(fn.sysdir, sizeof(fn.sysdir), "%s", dir);
        }
    }
    closedir(d);
    if (!fn.found)
        return false;
    fn.vendor = (unsigned)read_hex_file(fn.sysdir, "vendor");
    fn.device = (unsigned)read_hex_file(fn.sysdir, "device");
    fn.class_code = (unsigned)read_hex_file(fn.sysdir, "class");
    /* resource: one line per resource, "start end flags"; BAR 0 is the first. */
    char p[512], buf[4096];
    snprintf(p, sizeof(p), "%s/resource", fn.sysdir);
    if (read_file(p, buf, sizeof(buf)) > 0) {
        unsigned long long s = 0, en = 0, fl = 0;
        if (sscanf(buf, "%llx %llx %llx", &s, &en, &fl) == 3 && (s || en)) {
            fn.bar0 = s;
            fn.bar0_size = en - s + 1;
            fn.bar0_flags = fl;
        }
    }
    return true;
}

/* ------------------------------------------------------------------ conf1 (raw mode) */

static uint32_t conf1_addr(unsigned reg)
{
    return 0x80000000u | opt.bus << 16 | opt.dev << 11 | opt.fn << 8 | (reg & 0xfc);
}
static uint32_t conf1_read32(unsigned reg)
{
    outl(conf1_addr(reg), 0xcf8);
    return inl(0xcfc);
}
static void conf1_write32(unsigned reg, uint32_t v)
{
    outl(conf1_addr(reg), 0xcf8);
    outl(v, 0xcfc);
}

/* ------------------------------------------------------------------ traffic */

static volatile uint8_t *bar;   /* the mapping of BAR 0 */
static uint64_t map_len;

struct tstat {
    int cpu_wanted, cpu_seen;
    bool pinned;
    uint64_t written, read, errors, plain;
    uint64_t first_err_off, first_err_exp, first_err_got;
    bool have_err;
    double t_write, t_verify, t_cross;
};

static void note_err(struct tstat *s, uint64_t off, uint64_t exp, uint64_t got)
{
    if (!s->have_err) {
        s->have_err = true;
        s->first_err_off = off;
        s->first_err_exp = exp;
        s->first_err_got = got;
    }
    s->errors++;
}

/*
 * The threads phase moves most bytes with rep movsq, one page (one ioreq) at a time,
 * and the first --plain-bytes of each range with plain 8-byte stores and loads (one
 * ioreq each: ~1 ms apiece under nested TCG, so that part stays small).
 */
static __thread uint64_t *tbuf; /* one page of RAM per thread, locked */
static uint64_t corrupt_off = ~0ULL; /* selftest: flip a byte here after writing it */

static void thread_buf(void)
{
    if (!tbuf) {
        tbuf = aligned_alloc(4096, 4096);
        memset(tbuf, 0, 4096);
        mlock(tbuf, 4096);
    }
}

static void rep_movsq(volatile void *dst, const volatile void *src, uint64_t nq);

/* [a, b) in chunks that do not cross a page: calls f(offset, length). */
#define FOR_PAGE_CHUNKS(o, n, a, b)                                                                \
    for (uint64_t o = (a), n; o < (b) && (n = ((o | 4095) + 1 < (b) ? (o | 4095) + 1 : (b)) - o); o += n)

static void write_range(uint64_t seed, uint64_t a, uint64_t b, struct tstat *s)
{
    uint64_t pe = a + opt.plain_bytes < b ? a + opt.plain_bytes : b;
    for (uint64_t o = a; o < pe; o += 8)
        *(volatile uint64_t *)(bar + o) = e2e_pattern_word(seed, o);
    s->plain += pe - a;
    thread_buf();
    FOR_PAGE_CHUNKS(o, n, pe, b) {
        for (uint64_t i = 0; i < n / 8; i++)
            tbuf[i] = e2e_pattern_word(seed, o + 8 * i);
        rep_movsq(bar + o, tbuf, n / 8);
    }
    if (corrupt_off >= a && corrupt_off < b)
        bar[corrupt_off] ^= 0x40;
    s->written += b - a;
}

static void verify_range(uint64_t seed, uint64_t a, uint64_t b, struct tstat *s)
{
    uint64_t pe = a + opt.plain_bytes < b ? a + opt.plain_bytes : b;
    for (uint64_t o = a; o < pe; o += 8) {
        uint64_t got = *(volatile uint64_t *)(bar + o);
        uint64_t exp = e2e_pattern_word(seed, o);
        if (got != exp)
            note_err(s, o, exp, got);
    }
    s->plain += pe - a;
    thread_buf();
    FOR_PAGE_CHUNKS(o, n, pe, b) {
        memset(tbuf, 0, n);
        rep_movsq(tbuf, bar + o, n / 8);
        for (uint64_t i = 0; i < n / 8; i++) {
            uint64_t exp = e2e_pattern_word(seed, o + 8 * i);
            if (tbuf[i] != exp)
                note_err(s, o + 8 * i, exp, tbuf[i]);
        }
    }
    s->read += b - a;
}

static pthread_barrier_t tbarrier;
static struct tstat tstats[2];
static volatile int loop_started;

static void pin(struct tstat *s, int cpu)
{
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(cpu, &set);
    s->cpu_wanted = cpu;
    s->pinned = sched_setaffinity(0, sizeof(set), &set) == 0;
    s->cpu_seen = sched_getcpu();
}

static void *thread_phase(void *arg)
{
    int t = (int)(intptr_t)arg;
    struct tstat *s = &tstats[t];
    uint64_t half = opt.threads_bytes / 2;
    uint64_t mine = t * half, other = (1 - t) * half;
    pin(s, t);
    pthread_barrier_wait(&tbarrier);
    double t0 = now_s();
    write_range(opt.seed, mine, mine + half, s);
    double t1 = now_s();
    verify_range(opt.seed, mine, mine + half, s);
    double t2 = now_s();
    printf("E2E-GUEST-MARK threads vcpu=%d wrote+verified %" PRIu64 " KiB in %.1fs errors=%" PRIu64 "\n",
           s->cpu_seen, half / KIB, t2 - t0, s->errors);
    pthread_barrier_wait(&tbarrier);
    double t3 = now_s();
    verify_range(opt.seed, other, other + half, s);
    double t4 = now_s();
    s->t_write = t1 - t0;
    s->t_verify = t2 - t1;
    s->t_cross = t4 - t3;
    return NULL;
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* The q-quantile (0..1) of n samples, sorted in place. */
static double quantile(double *v, int n, double q)
{
    if (n <= 0)
        return -1;
    qsort(v, (size_t)n, sizeof(*v), cmp_double);
    int i = (int)(q * (n - 1) + 0.5);
    return v[i];
}

/* --probe-groups: first touches of fresh groups, then the same reads again. */
static void access_probe(void)
{
    static double first[256], again[256];
    uint64_t base = opt.threads_bytes + opt.watch_bytes;
    int n = (int)opt.probe_groups;

    /*
     * Groups in descending order: the daemon's readahead follows forward
     * streams only, so each first touch is one ACCESS request and one group.
     */
    for (int pass = 0; pass < 2; pass++) {
        for (int i = n - 1; i >= 0; i--) {
            volatile uint64_t *a = (volatile uint64_t *)(bar + base + 64 * KIB * (uint64_t)i);
            double t0 = now_s();
            (void)*a;
            (pass ? again : first)[i] = (now_s() - t0) * 1e6;
        }
    }
    double f50 = quantile(first, n, 0.5), f99 = quantile(first, n, 0.99);
    double a50 = quantile(again, n, 0.5);
    jobj_begin("access_probe_us");
    jdbl("first_p50", f50);
    jdbl("first_p99", f99);
    jdbl("again_p50", a50);
    jobj_end();
    printf("E2E-GUEST-MARK access-probe n=%d first_p50=%.1f first_p99=%.1f again_p50=%.2f\n", n, f50, f99, a50);
}

/*
 * A page of the watch range the host lost while the daemon runs --on-lost fault
 * answers the access with a fault: #GP, SIGSEGV here. Only inside watch_report()
 * is that expected: the page is counted and the read goes on with the next one.
 */
static __thread sigjmp_buf watch_jmp;
static __thread volatile sig_atomic_t in_watch;

static void on_sigsegv(int sig)
{
    if (in_watch)
        siglongjmp(watch_jmp, 1);
    signal(sig, SIG_DFL);
    raise(sig);
}

/* One page of the watch range into tbuf; -1 if reading it faulted. */
static int watch_read_page(uint64_t p)
{
    if (sigsetjmp(watch_jmp, 1)) {
        in_watch = 0;
        return -1;
    }
    in_watch = 1;
    rep_movsq(tbuf, bar + opt.threads_bytes + p * 4096, 512);
    in_watch = 0;
    return 0;
}

/*
 * Read BAR [N, N+W) a page per rep movsq; print the first page's first word, how
 * many pages hold it in every word, how many read all zeros, and how many faulted.
 */
static void watch_report(uint64_t pass)
{
    uint64_t first = 0, same = 0, zero = 0, faults = 0, pages = opt.watch_bytes / 4096;
    static bool handler;

    if (!handler) {
        struct sigaction sa = {.sa_handler = on_sigsegv};
        sigemptyset(&sa.sa_mask);
        sigaction(SIGSEGV, &sa, NULL);
        handler = true;
    }
    thread_buf();
    for (uint64_t p = 0; p < pages; p++) {
        bool uniform = true, zeros = true;

        if (watch_read_page(p) < 0) {
            faults++;
            continue;
        }
        if (p == 0)
            first = tbuf[0];
        for (unsigned i = 0; i < 512 && (uniform || zeros); i++) {
            uniform = uniform && tbuf[i] == first;
            zeros = zeros && tbuf[i] == 0;
        }
        same += uniform;
        zero += zeros;
    }
    printf("E2E-GUEST-MARK watch pass=%" PRIu64 " first=0x%" PRIx64 " same=%" PRIu64 " zero=%" PRIu64
           " faults=%" PRIu64 " pages=%" PRIu64 "\n", pass, first, same, zero, faults, pages);
}

static void *thread_loop(void *arg)
{
    int t = (int)(intptr_t)arg;
    struct tstat *s = &tstats[t];
    uint64_t half = opt.threads_bytes / 2;
    uint64_t mine = t * half;
    double last_print = 0;
    pin(s, t);
    pthread_barrier_wait(&tbarrier);
    for (uint64_t pass = 0;; pass++) {
        uint64_t seed = opt.seed + 16 + pass;
        for (uint64_t o = mine; o < mine + half; o += 64 * KIB) {
            uint64_t e = o + 64 * KIB < mine + half ? o + 64 * KIB : mine + half;
            write_range(seed, o, e, s);
            if (t == 0 && !loop_started) {
                loop_started = 1;
                printf("E2E-GUEST-MARK traffic-started vcpu=%d\n", s->cpu_seen);
            }
        }
        verify_range(seed, mine, mine + half, s);
        /* At most 4 lines a second: a console flood would slow dom0's readers down. */
        if (now_s() - last_print < 0.25)
            continue;
        last_print = now_s();
        if (t == 0 && opt.watch_bytes)
            watch_report(pass);
        printf("E2E-GUEST-MARK loop vcpu=%d pass=%" PRIu64 " written=%" PRIu64 " errors=%" PRIu64 "\n",
               s->cpu_seen, pass, s->written, s->errors);
    }
    return NULL;
}

static void rep_movsq(volatile void *dst, const volatile void *src, uint64_t nq)
{
    __asm__ volatile("cld; rep movsq" : "+D"(dst), "+S"(src), "+c"(nq) : : "memory");
}

/* Backwards: rdi/rsi point at the LAST quadword, DF=1. */
static void rep_movsq_down(volatile void *dst_last, const volatile void *src_last, uint64_t nq)
{
    __asm__ volatile("std; rep movsq; cld" : "+D"(dst_last), "+S"(src_last), "+c"(nq) : : "memory", "cc");
}

static struct {
    uint64_t written, read, errors, plain_read, plain_errors;
    uint64_t down_bytes, down_errors;
    double t_to_bar, t_from_bar;
    uint64_t first_err_off;
    bool have_err;
} rep;

static void rep_phase(uint64_t base)
{
    uint64_t R = opt.rep_bytes, seed = opt.seed + 1;
    uint64_t *src = aligned_alloc(4096, R), *dst = aligned_alloc(4096, R);
    if (!src || !dst) {
        set_error("rep-movs: cannot allocate %" PRIu64 " bytes", R);
        return;
    }
    for (uint64_t i = 0; i < R / 8; i++) {
        src[i] = e2e_pattern_word(seed, base + i * 8);
        dst[i] = 0;
    }
    mlock(src, R);
    mlock(dst, R);
    double t0 = now_s();
    rep_movsq(bar + base, src, R / 8);
    double t1 = now_s();
    rep_movsq(dst, bar + base, R / 8);
    double t2 = now_s();
    rep.written = R;
    rep.read = R;
    rep.t_to_bar = t1 - t0;
    rep.t_from_bar = t2 - t1;
    for (uint64_t i = 0; i < R / 8; i++)
        if (dst[i] != src[i]) {
            if (!rep.have_err) {
                rep.have_err = true;
                rep.first_err_off = base + i * 8;
            }
            rep.errors++;
        }
    /* Plain loads see what rep movsq stored: first and last quadword of each page. */
    for (uint64_t o = 0; o < R; o += 4096) {
        uint64_t offs[2] = {o, o + 4096 - 8 < R ? o + 4096 - 8 : R - 8};
        for (int k = 0; k < 2; k++) {
            uint64_t got = *(volatile uint64_t *)(bar + base + offs[k]);
            rep.plain_read += 8;
            if (got != e2e_pattern_word(seed, base + offs[k]))
                rep.plain_errors++;
        }
    }
    /* One backwards copy (DF=1) of the first 64 KiB: RAM -> BAR, then forwards back. */
    uint64_t D = R < 64 * KIB ? R : 64 * KIB;
    for (uint64_t i = 0; i < D / 8; i++)
        src[i] = e2e_pattern_word(seed ^ 0xdf, base + i * 8);
    rep_movsq_down(bar + base + D - 8, &src[D / 8 - 1], D / 8);
    memset(dst, 0, D);
    rep_movsq(dst, bar + base, D / 8);
    rep.down_bytes = D;
    for (uint64_t i = 0; i < D / 8; i++)
        if (dst[i] != src[i])
            rep.down_errors++;
    rep.written += D;
    rep.read += D;
    printf("E2E-GUEST-MARK rep-movs %" PRIu64 " KiB to BAR in %.2fs, back in %.2fs, errors=%" PRIu64
           " plain_errors=%" PRIu64 " down_errors=%" PRIu64 "\n",
           R / KIB, rep.t_to_bar, rep.t_from_bar, rep.errors, rep.plain_errors, rep.down_errors);
    munlock(src, R);
    munlock(dst, R);
    free(src);
    free(dst);
}

static struct {
    uint64_t written, read, errors;
} sizes;

static void sizes_phase(uint64_t base)
{
    uint64_t seed = opt.seed + 2;
    volatile uint8_t *p = bar + base;
    for (uint64_t o = 0; o < 1024; o++)
        p[o] = e2e_pattern_byte(seed, base + o);
    for (uint64_t o = 1024; o < 2048; o += 2)
        *(volatile uint16_t *)(p + o) = (uint16_t)(e2e_pattern_word(seed, base + (o & ~7ULL)) >> (8 * (o & 7)));
    for (uint64_t o = 2048; o < 3072; o += 4)
        *(volatile uint32_t *)(p + o) = (uint32_t)(e2e_pattern_word(seed, base + (o & ~7ULL)) >> (8 * (o & 7)));
    for (uint64_t o = 3072; o < 4096; o += 8)
        *(volatile uint64_t *)(p + o) = e2e_pattern_word(seed, base + o);
    sizes.written = 4096;
    for (uint64_t o = 0; o < 4096; o += 8) {
        if (*(volatile uint64_t *)(p + o) != e2e_pattern_word(seed, base + o))
            sizes.errors++;
    }
    /* Narrow loads too: the first 64 bytes of each quarter, 1, 2 and 4 bytes at a time. */
    for (uint64_t q = 0; q < 4096; q += 1024) {
        for (uint64_t o = q; o < q + 64; o++)
            if (p[o] != e2e_pattern_byte(seed, base + o))
                sizes.errors++;
        for (uint64_t o = q; o < q + 64; o += 2)
            if (*(volatile uint16_t *)(p + o) != (uint16_t)(e2e_pattern_byte(seed, base + o) |
                                                          e2e_pattern_byte(seed, base + o + 1) << 8))
                sizes.errors++;
        for (uint64_t o = q; o < q + 64; o += 4)
            if (*(volatile uint32_t *)(p + o) != (uint32_t)(e2e_pattern_word(seed, base + (o & ~7ULL)) >> (8 * (o & 7))))
                sizes.errors++;
    }
    sizes.read = 4096 + 4 * (64 + 64 + 64);
    printf("E2E-GUEST-MARK sizes errors=%" PRIu64 "\n", sizes.errors);
}

/*
 * The final content of everything the phases wrote, BAR [0, len), read one page per
 * rep movsq into RAM and hashed with FNV-1a: the fidelity check runs the same phases
 * on the simulator (xensim's `digest ... via=movs`, the same reads) and compares.
 */
static struct {
    uint64_t hash, bytes;
} digest;

static void digest_phase(uint64_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    thread_buf();
    FOR_PAGE_CHUNKS(o, n, 0, len) {
        rep_movsq(tbuf, bar + o, n / 8);
        for (uint64_t i = 0; i < n; i++) {
            h ^= ((const uint8_t *)tbuf)[i];
            h *= 0x100000001b3ULL;
        }
    }
    digest.hash = h;
    digest.bytes = len;
}

/* ------------------------------------------------------------------ latency */

/* Round-trip cost of trapped accesses, in microseconds: a port nobody claims (Xen
 * answers by itself), a conf1 read of QEMU's host bridge (a round trip through QEMU in
 * dom0), the same for our function (through the daemon), and an 8-byte read of the BAR
 * (through the daemon). conf1 reads are an OUT to 0xCF8 (Xen latches it) and an IN. */
static uint64_t probe_bytes_read; /* the BAR loads below: part of what the guest read */

static void latency_probe(void)
{
    enum { N = 50 };
    static double pus[N], cqs[N], cds[N], mrs[N];
    double pu = -1, cq = -1, cd = -1, mr = -1;
    if (ioperm(0xcf8, 8, 1) == 0 && ioperm(0x5000, 4, 1) == 0) {
        for (int i = 0; i < N; i++) {
            double t0 = now_s();
            (void)inb(0x5000);
            pus[i] = (now_s() - t0) * 1e6;
        }
        pu = quantile(pus, N, 0.5);
        /* conf1 reads of the host bridge (QEMU's) and of our function (the daemon's). */
        for (int i = 0; i < N; i++) {
            double t0 = now_s();
            outl(0x80000000u, 0xcf8);
            (void)inl(0xcfc);
            cqs[i] = (now_s() - t0) * 1e6;
        }
        cq = quantile(cqs, N, 0.5);
        if (fn.found || !strcmp(opt.mode, "raw")) {
            for (int i = 0; i < N; i++) {
                double t0 = now_s();
                (void)conf1_read32(0);
                cds[i] = (now_s() - t0) * 1e6;
            }
            cd = quantile(cds, N, 0.5);
        }
        outl(0, 0xcf8);
    }
    if (bar) {
        for (int i = 0; i < N; i++) {
            double t0 = now_s();
            (void)*(volatile uint64_t *)(bar + 8 * (i % 64));
            mrs[i] = (now_s() - t0) * 1e6;
        }
        mr = quantile(mrs, N, 0.5);
        probe_bytes_read = 8 * (uint64_t)N;
    }
    /* Medians of 50 (they were means of 50 before; medians resist a preempted sample). */
    jobj_begin("latency_us");
    jdbl("pio_unclaimed", pu);
    jdbl("conf1_qemu", cq);
    jdbl("conf1_daemon", cd);
    jdbl("mmio_read8", mr);
    jobj_end();
    printf("E2E-GUEST-MARK latency (us, median of 50; conf1 = 2 port accesses) pio_unclaimed=%.1f conf1_qemu=%.1f "
           "conf1_daemon=%.1f mmio_read8_daemon=%.1f\n", pu, cq, cd, mr);
}

/* ------------------------------------------------------------------ kernel log */

/* The kernel's lines that mention one of words (NULL-terminated), up to max, as a JSON array. */
static void dmesg_lines(const char *name, const char *const *words, int max)
{
    static char buf[1 << 20];
    int n = klogctl(3 /* SYSLOG_ACTION_READ_ALL */, buf, sizeof(buf) - 1);
    jarr_begin(name);
    if (n > 0) {
        buf[n] = 0;
        int kept = 0;
        for (char *line = strtok(buf, "\n"); line && kept < max; line = strtok(NULL, "\n")) {
            bool hit = false;
            for (const char *const *w = words; *w && !hit; w++)
                hit = strstr(line, *w) != NULL;
            if (hit) {
                char *msg = strchr(line, ']');
                msg = msg ? msg + 1 : line;
                while (*msg == ' ')
                    msg++;
                jraw("%s", kept ? "," : "");
                jstr_val(msg);
                kept++;
            }
        }
    }
    jarr_end();
}

static void dmesg_pci_lines(void)
{
    static const char *const pci[] = {"PCI", "pci", "conf1", NULL};
    /* What a guest without ACPI loses: how it found its CPUs and interrupts. */
    static const char *const boot[] = {"ACPI", "smp", "SMP", "APIC", "MP-table", "CPU", NULL};

    dmesg_lines("dmesg_pci", pci, 48);
    dmesg_lines("dmesg_boot", boot, 24);
}

/* ------------------------------------------------------------------ main */

static void usage(void)
{
    fprintf(stderr, "usage: e2e-guest [--mode traffic|loop|probe|raw] [--vendor V] [--device D]\n"
                    "                 [--bdf BB:DD.F] [--seed S] [--threads-bytes SIZE] [--rep-bytes SIZE]\n"
                    "                 [--plain-bytes SIZE] [--watch-bytes SIZE] [--probe-groups N (<= 256)]\n"
                    "                 [--vcpus N]\n"
                    "                 (SIZE: bytes, or K, M, G)\n");
    exit(2);
}

static void parse_args(int argc, char **argv)
{
    static const struct option lo[] = {
        {"mode", 1, 0, 'm'}, {"vendor", 1, 0, 'v'}, {"device", 1, 0, 'd'}, {"bdf", 1, 0, 'b'},
        {"seed", 1, 0, 's'}, {"threads-bytes", 1, 0, 'n'}, {"rep-bytes", 1, 0, 'r'}, {"vcpus", 1, 0, 'c'},
        {"plain-bytes", 1, 0, 'p'}, {"selftest-corrupt", 1, 0, 'x'}, {"watch-bytes", 1, 0, 'w'},
        {"probe-groups", 1, 0, 'g'},
        {0, 0, 0, 0}};
    int c;
    while ((c = getopt_long(argc, argv, "", lo, NULL)) != -1) {
        switch (c) {
        case 'm': opt.mode = optarg; break;
        case 'v': opt.vendor = (unsigned)strtoul(optarg, NULL, 0); break;
        case 'd': opt.device = (unsigned)strtoul(optarg, NULL, 0); break;
        case 'b':
            if (sscanf(optarg, "%x:%x.%x", &opt.bus, &opt.dev, &opt.fn) != 3)
                usage();
            break;
        case 's': opt.seed = strtoull(optarg, NULL, 0); break;
        case 'n': opt.threads_bytes = parse_size(optarg); break;
        case 'r': opt.rep_bytes = parse_size(optarg); break;
        case 'c': opt.expect_vcpus = atoi(optarg); break;
        case 'x': corrupt_off = parse_size(optarg); break;
        case 'p': opt.plain_bytes = parse_size(optarg) & ~7ULL; break;
        case 'w': opt.watch_bytes = parse_size(optarg) & ~(4 * KIB - 1); break;
        case 'g': opt.probe_groups = (unsigned)strtoul(optarg, NULL, 0) % 257; break;
        default: usage();
        }
    }
    /* Halves of whole pages, rep region in whole pages. */
    opt.threads_bytes &= ~(8 * KIB - 1);
    opt.rep_bytes &= ~(4 * KIB - 1);
    if (opt.threads_bytes < 8 * KIB)
        opt.threads_bytes = 8 * KIB;
    if (opt.rep_bytes < 4 * KIB)
        opt.rep_bytes = 4 * KIB;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IOLBF, 0);
    parse_args(argc, argv);

    double t_start = now_s();
    bool raw = !strcmp(opt.mode, "raw"), loop = !strcmp(opt.mode, "loop");
    bool probe = !strcmp(opt.mode, "probe"), selftest = !strcmp(opt.mode, "selftest");
    bool traffic = !strcmp(opt.mode, "traffic") || raw || selftest;
    if (!raw && !loop && !probe && !traffic)
        usage();
    int ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);

    jraw("{");
    jstr("mode", opt.mode);
    ju64("vcpus", (uint64_t)ncpu);
    jhex("seed", opt.seed);
    {
        char id[16];
        snprintf(id, sizeof(id), "%04x:%04x", opt.vendor, opt.device);
        jstr("want", id);
    }
    printf("E2E-GUEST-MARK start mode=%s vcpus=%d\n", opt.mode, ncpu);
    if (ncpu < opt.expect_vcpus)
        set_error("%d vCPUs online, %d expected", ncpu, opt.expect_vcpus);

    /* ---- find the function ---- */
    bool kernel_found = !selftest && sysfs_find();
    jbool("kernel_found", kernel_found);
    ju64("pci_devices", (uint64_t)fn.ndevices);
    if (!kernel_found)
        jstr("pci_device_list", fn.devices);
    uint64_t bar_phys = 0, bar_size = 0;

    if (kernel_found) {
        if (sysfs_read_config() < 0)
            set_error("cannot read 256 bytes of %s/config", fn.sysdir);
        fn.command_before = cfg16(fn.cfg, 4);
        jstr("bdf", fn.bdf);
        jhex("vendor", fn.vendor);
        jhex("device", fn.device);
        jhex("class", fn.class_code);
        /* Where the firmware placed BAR 0 (Linux keeps firmware assignments). */
        jhex("bar0", fn.bar0);
        ju64("bar0_size", fn.bar0_size);
        jhex("bar0_flags", fn.bar0_flags);
        bar_phys = fn.bar0;
        bar_size = fn.bar0_size;
        uint64_t cfg_bar = ((uint64_t)cfg32(fn.cfg, 0x14) << 32 | cfg32(fn.cfg, 0x10)) & ~0xfULL;
        jhex("config_bar0", cfg_bar);
        if (fn.cfg_len == 256) {
            if (cfg16(fn.cfg, 0) != fn.vendor || cfg16(fn.cfg, 2) != fn.device)
                set_error("config space ids %04x:%04x differ from sysfs %04x:%04x", cfg16(fn.cfg, 0),
                          cfg16(fn.cfg, 2), fn.vendor, fn.device);
            if (cfg_bar != fn.bar0)
                set_error("config BAR0 0x%" PRIx64 " differs from sysfs resource 0x%" PRIx64, cfg_bar, fn.bar0);
        }
        if (!fn.bar0_size)
            set_error("BAR 0 of %s is not assigned (resource is empty)", fn.bdf);
        if (!(fn.command_before & 2)) {
            char p[512];
            snprintf(p, sizeof(p), "%s/enable", fn.sysdir);
            FILE *f = fopen(p, "w");
            if (!f || fputs("1", f) < 0 || fclose(f) != 0)
                set_error("cannot enable %s (memory decoding off)", fn.bdf);
            sysfs_read_config();
        }
        fn.command_after = cfg16(fn.cfg, 4);
        jhex("command", fn.command_after);
        printf("E2E-GUEST-MARK found %s %04x:%04x class %06x bar0 0x%" PRIx64 " size 0x%" PRIx64 "\n", fn.bdf,
               fn.vendor, fn.device, fn.class_code, fn.bar0, fn.bar0_size);
    } else if (selftest) {
        /* Host self-test of the phases: anonymous RAM stands in for the BAR. */
        bar_size = opt.threads_bytes + opt.rep_bytes + 4096;
    } else if (!raw) {
        set_error("PCI function %04x:%04x not found in /sys/bus/pci/devices (%d devices: %s)", opt.vendor,
                  opt.device, fn.ndevices, fn.devices);
    }

    if (raw) {
        /* What Linux did about PCI, then conf1 by hand. */
        dmesg_pci_lines();
        jobj_begin("raw");
        if (ioperm(0xcf8, 8, 1) != 0) {
            jstr("error", strerror(errno));
            jobj_end();
            set_error("ioperm(0xcf8): %s", strerror(errno));
        } else {
            /* Linux's pci_check_type1(): write 0x80000000 to CF8 and read it back. */
            uint32_t save = inl(0xcf8);
            outl(0x80000000u, 0xcf8);
            uint32_t rb = inl(0xcf8);
            outl(save, 0xcf8);
            jhex("cf8_readback", rb);
            jbool("linux_type1_check_passes", rb == 0x80000000u);
            uint32_t id = conf1_read32(0);
            jhex("conf1_id", id);
            uint8_t rawcfg[256];
            for (int r = 0; r < 256; r += 4) {
                uint32_t v = conf1_read32((unsigned)r);
                memcpy(rawcfg + r, &v, 4);
            }
            if (!kernel_found)
                memcpy(fn.cfg, rawcfg, 256);
            if (!kernel_found)
                fn.cfg_len = 256;
            bool match = (id & 0xffff) == opt.vendor && (id >> 16) == opt.device;
            jbool("conf1_match", match);
            if (kernel_found) {
                /* Linux probed it after all: keep its placement, use sysfs. */
                jobj_end();
                if (!match)
                    set_error("conf1 read of %02x:%02x.%x gave id 0x%08x", opt.bus, opt.dev, opt.fn, id);
            } else if (!match) {
                jobj_end();
                set_error("conf1 read of %02x:%02x.%x gave id 0x%08x", opt.bus, opt.dev, opt.fn, id);
            } else {
                fn.vendor = id & 0xffff;
                fn.device = id >> 16;
                fn.class_code = conf1_read32(8) >> 8;
                /* Size BAR 0/1 (64-bit) with decoding off, then place it ourselves. */
                uint32_t cmd = conf1_read32(4) & 0xffff;
                conf1_write32(4, cmd & ~2u);
                uint32_t lo0 = conf1_read32(0x10), hi0 = conf1_read32(0x14);
                conf1_write32(0x10, 0xffffffffu);
                conf1_write32(0x14, 0xffffffffu);
                uint64_t m = ((uint64_t)conf1_read32(0x14) << 32 | conf1_read32(0x10)) & ~0xfULL;
                bar_size = m ? (~m + 1) : 0;
                /* Below 4 GiB in the usual hole when it fits, else at 64 GiB. */
                bar_phys = bar_size && bar_size <= 256 * MIB ? 0xe0000000ULL : 64ULL << 30;
                conf1_write32(0x10, (uint32_t)bar_phys | (lo0 & 0xf));
                conf1_write32(0x14, (uint32_t)(bar_phys >> 32));
                conf1_write32(4, cmd | 2u);
                uint64_t rbbar = ((uint64_t)conf1_read32(0x14) << 32 | conf1_read32(0x10)) & ~0xfULL;
                fn.command_after = conf1_read32(4) & 0xffff;
                jhex("bar0_before", ((uint64_t)hi0 << 32 | lo0) & ~0xfULL);
                jhex("bar0_programmed", bar_phys);
                jhex("bar0_readback", rbbar);
                jobj_end();
                jhex("vendor", fn.vendor);
                jhex("device", fn.device);
                jhex("class", fn.class_code);
                jhex("bar0", bar_phys);
                ju64("bar0_size", bar_size);
                jhex("command", fn.command_after);
                if (!bar_size)
                    set_error("BAR 0 sizing through conf1 returned 0");
                else if (rbbar != bar_phys)
                    set_error("BAR 0 read back 0x%" PRIx64 " after programming 0x%" PRIx64, rbbar, bar_phys);
            }
        }
    }

    if (fn.cfg_len == 256) {
        if (getenv("E2E_CONFIG_DUMP"))
            hexdump_config(fn.cfg, 256);
        char hex[513];
        for (int i = 0; i < 256; i++)
            snprintf(hex + 2 * i, 3, "%02x", fn.cfg[i]);
        jstr("config_hex", hex);
    }

    /* ---- map the BAR ---- */
    if (!first_error && !probe && bar_size) {
        uint64_t need = opt.threads_bytes +
                        (loop ? opt.watch_bytes + 64 * KIB * opt.probe_groups : opt.rep_bytes + 4096);
        if (need > bar_size) {
            opt.watch_bytes = 0;
            opt.probe_groups = 0;
            /* Shrink the phases to fit a small BAR. */
            opt.threads_bytes = (bar_size / 2) & ~(8 * KIB - 1);
            opt.rep_bytes = ((bar_size - opt.threads_bytes) / 2) & ~(4 * KIB - 1);
            need = opt.threads_bytes + (loop ? 0 : opt.rep_bytes + 4096);
        }
        map_len = (need + 4095) & ~4095ULL;
        int fd;
        off_t off = 0;
        if (selftest) {
            fd = -1;
        } else if (raw && !kernel_found) {
            fd = open("/dev/mem", O_RDWR | O_SYNC);
            off = (off_t)bar_phys;
        } else {
            char p[512];
            snprintf(p, sizeof(p), "%s/resource0", fn.sysdir);
            fd = open(p, O_RDWR | O_SYNC);
        }
        void *m = selftest ? mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0)
                  : fd < 0 ? MAP_FAILED
                           : mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
        if (m == MAP_FAILED)
            set_error("cannot map BAR 0 (%s): %s", raw && !kernel_found ? "/dev/mem" : "resource0",
                      strerror(errno));
        else
            bar = m;
    }

    ju64("threads_bytes", opt.threads_bytes);
    ju64("rep_bytes", opt.rep_bytes);
    ju64("plain_bytes", opt.plain_bytes);
    ju64("watch_bytes", opt.watch_bytes);

    if (!selftest)
        latency_probe();

    if (bar && loop) {
        if (opt.probe_groups)
            access_probe();
        pthread_barrier_init(&tbarrier, NULL, 2);
        pthread_t th[2];
        for (int t = 0; t < 2; t++)
            pthread_create(&th[t], NULL, thread_loop, (void *)(intptr_t)t);
        pthread_join(th[0], NULL); /* never returns */
    }

    if (bar && traffic) {
        printf("E2E-GUEST-MARK traffic-started threads_bytes=%" PRIu64 "\n", opt.threads_bytes);
        pthread_barrier_init(&tbarrier, NULL, 2);
        pthread_t th[2];
        double t0 = now_s();
        for (int t = 0; t < 2; t++)
            pthread_create(&th[t], NULL, thread_phase, (void *)(intptr_t)t);
        for (int t = 0; t < 2; t++)
            pthread_join(th[t], NULL);
        double t_threads = now_s() - t0;
        printf("E2E-GUEST-MARK threads-done %.1fs\n", t_threads);
        rep_phase(opt.threads_bytes);
        sizes_phase(opt.threads_bytes + opt.rep_bytes);
        digest_phase(opt.threads_bytes + opt.rep_bytes + 4096);

        uint64_t w = 0, r = 0, e = 0;
        jarr_begin("threads");
        for (int t = 0; t < 2; t++) {
            struct tstat *s = &tstats[t];
            jraw("%s{", t ? "," : "");
            jfirst = true;
            ju64("cpu_wanted", (uint64_t)s->cpu_wanted);
            jkey("cpu_seen");
            jraw("%d", s->cpu_seen);
            jbool("pinned", s->pinned);
            ju64("written", s->written);
            ju64("read", s->read);
            ju64("errors", s->errors);
            ju64("plain", s->plain);
            jdbl("t_write_s", s->t_write);
            jdbl("t_verify_s", s->t_verify);
            jdbl("t_cross_s", s->t_cross);
            if (s->have_err) {
                jhex("first_error_off", s->first_err_off);
                jhex("first_error_expected", s->first_err_exp);
                jhex("first_error_got", s->first_err_got);
            }
            jobj_end();
            w += s->written;
            r += s->read;
            e += s->errors;
            if (!s->pinned || s->cpu_seen != t)
                set_error("thread %d not running on vCPU %d (pinned=%d, on %d)", t, t, s->pinned, s->cpu_seen);
        }
        jarr_end();
        jobj_begin("rep_movs");
        ju64("bytes", opt.rep_bytes);
        ju64("errors", rep.errors);
        ju64("plain_errors", rep.plain_errors);
        ju64("down_bytes", rep.down_bytes);
        ju64("down_errors", rep.down_errors);
        jdbl("t_to_bar_s", rep.t_to_bar);
        jdbl("t_from_bar_s", rep.t_from_bar);
        if (rep.have_err)
            jhex("first_error_off", rep.first_err_off);
        jobj_end();
        jobj_begin("sizes");
        ju64("errors", sizes.errors);
        jobj_end();
        jhex("digest", digest.hash);
        ju64("digest_bytes", digest.bytes);
        w += rep.written + sizes.written;
        r += rep.read + rep.plain_read + sizes.read + digest.bytes + probe_bytes_read;
        e += rep.errors + rep.plain_errors + rep.down_errors + sizes.errors;
        ju64("bytes_written", w);
        ju64("bytes_read", r);
        ju64("integrity_errors", e);
        jdbl("threads_s", t_threads);
        jdbl("threads_mib_s", t_threads > 0 ? 3.0 * opt.threads_bytes / MIB / t_threads : 0);
        if (e)
            set_error("%" PRIu64 " integrity errors", e);
    }

    if (first_error)
        jstr("error", first_error);
    jdbl("elapsed_s", now_s() - t_start);
    /* "ok" last: dom0 checks it, and a truncated line cannot claim success. */
    jbool("ok", !first_error && (probe || bar));
    jraw("}");
    printf("E2E-GUEST %s\n", json);
    return first_error ? 1 : 0;
}
