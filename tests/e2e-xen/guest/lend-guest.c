/* SPDX-License-Identifier: MIT */
/*
 * lend-guest: the guest half of the xen-lend case (the dom0 half is
 * dom0/lendtest.c, which serves the access-only ranges and holds the frames).
 * Built static on the host; the guest's init runs it instead of e2e-guest when
 * the kernel command line says e2e.prog=lend-guest.
 *
 * usage: lend-guest --gpa HEX     (2 MiB aligned; nothing may be mapped there)
 *
 * Maps P0..P2 = GPA + 0..3 pages and B = GPA + 2M .. GPA + 4M through /dev/mem
 * and, each step printed as an E2E-LEND-MARK line:
 *   1. reads B[0] and B[511]: lent before the guest ran, no request expected;
 *   2. reads P0: the first ACCESS is answered RETRY with nothing mapped (the
 *      read faults again), the second after F0 was lent: reads PAT0;
 *   3. writes a cookie to P0 word 1 (dom0 sees it in its frame);
 *   4. a child writes P1: FAIL -> #GP -> SIGSEGV (the ACCESS says "write");
 *   5. reads P2 (lent read-only): PAT2; a child writes it: #GP -> SIGSEGV;
 *   6. grants dom0 batch page 0 (a lent gfn) as reference 500 and a page of
 *      its own RAM as 501, writing the two entries into its grant table
 *      itself (below): dom0 must fail to map the first and map the second;
 *      then prints "E2E-LEND-MARK phase-a-done" and spins on P0 word 2 until it
 *      reads GO: dom0 unmaps P0, the next read faults, dom0 lends F1 there;
 *   7. reads P0 word 0 again: PAT1 (a different frame).
 * Then one line E2E-GUEST {json} with what it saw.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
#define PAT0 0x4c454e4430000000ULL
#define PAT1 0x4c454e4431000000ULL
#define PAT2 0x4c454e4432000000ULL
#define PATB 0x4c454e4442000000ULL
#define GO 0x474f474f474f474fULL
#define COOKIE 0x6775657374000001ULL
#define SPIN_LIMIT_S 180

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static volatile uint64_t *map_phys(int fd, uint64_t pa, size_t len)
{
    void *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, (off_t)pa);
    return p == MAP_FAILED ? NULL : p;
}

/* Run one access in a child; return the signal that ended it (0: none). */
static int in_child(volatile uint64_t *p, bool write)
{
    pid_t pid = fork();
    if (pid == 0) {
        if (write)
            *p = COOKIE;
        else
            (void)*p;
        _exit(0);
    }
    int st;
    if (pid < 0 || waitpid(pid, &st, 0) != pid)
        return -1;
    return WIFSIGNALED(st) ? WTERMSIG(st) : 0;
}

/*
 * The guest's grant table, to grant a gfn the kernel would never grant. Linux
 * (drivers/xen/platform-pci.c) puts an HVM guest's grant frames at the start of
 * the Xen platform device's BAR 1 (5853:0001); v1 entries, 8 bytes each. The
 * toolstack seeds entry 1 (xenstore) for dom0: checked, so that a wrong guess
 * shows as "not_found" rather than as a grant dom0 could not map.
 */
struct grant_v1 {
    uint16_t flags;
    uint16_t domid;
    uint32_t frame;
};
#define GTF_PERMIT_ACCESS 1
#define GREF_LENT 500
#define GREF_RAM 501

/* A sysfs file's first hexadecimal number (0 if none). */
static unsigned long read_hex(const char *dev, const char *name)
{
    char path[512];
    unsigned long v = 0;
    FILE *f;

    snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/%s", dev, name);
    if ((f = fopen(path, "r"))) {
        if (fscanf(f, "%lx", &v) != 1)
            v = 0;
        fclose(f);
    }
    return v;
}

static uint64_t platform_bar1(void)
{
    DIR *d = opendir("/sys/bus/pci/devices");
    struct dirent *e;
    uint64_t bar = 0;

    while (d && !bar && (e = readdir(d))) {
        char path[512], line[128];
        FILE *f;

        if (read_hex(e->d_name, "vendor") != 0x5853 || read_hex(e->d_name, "device") != 0x0001)
            continue;
        snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/resource", e->d_name);
        if ((f = fopen(path, "r"))) {
            /* One line per resource: start end flags; BAR 1 is the second. */
            if (fgets(line, sizeof(line), f) && fgets(line, sizeof(line), f))
                bar = strtoull(line, NULL, 16);
            fclose(f);
        }
    }
    if (d)
        closedir(d);
    return bar;
}

/* The gfn of a page of our own RAM (pagemap: bits 0-54, present in bit 63). */
static uint64_t own_gfn(void *page)
{
    uint64_t e = 0;
    int fd = open("/proc/self/pagemap", O_RDONLY);

    mlock(page, PAGE);
    *(volatile char *)page = 1;
    if (fd < 0 || pread(fd, &e, sizeof(e), (off_t)((uintptr_t)page / PAGE * sizeof(e))) != sizeof(e))
        e = 0;
    if (fd >= 0)
        close(fd);
    return e >> 63 ? e & ((1ULL << 55) - 1) : 0;
}

/* Writes the two grants; returns "ok", "not_found" or "no_ram_gfn". */
static const char *grant_to_dom0(int fd, uint64_t lent_gfn, uint64_t *ram_gfn)
{
    static char page[PAGE] __attribute__((aligned(PAGE)));
    uint64_t bar = platform_bar1();
    volatile struct grant_v1 *gt = bar ? (volatile struct grant_v1 *)map_phys(fd, bar, PAGE) : NULL;

    printf("E2E-LEND-MARK grant table: platform BAR 1 at 0x%" PRIx64 ", mapped %s", bar, gt ? "yes" : "no");
    for (int i = 0; gt && i < 2; i++)
        printf(", entry %d flags 0x%x domid %u frame 0x%x", i, gt[i].flags, gt[i].domid, gt[i].frame);
    printf("\n");
    if (!gt || !(gt[1].flags & GTF_PERMIT_ACCESS) || gt[1].domid != 0)
        return "not_found";
    *ram_gfn = own_gfn(page);
    if (!*ram_gfn)
        return "no_ram_gfn";
    /* Frame and domid first, then the flags that make the entry valid. */
    gt[GREF_LENT].domid = 0;
    gt[GREF_LENT].frame = (uint32_t)lent_gfn;
    gt[GREF_RAM].domid = 0;
    gt[GREF_RAM].frame = (uint32_t)*ram_gfn;
    __atomic_thread_fence(__ATOMIC_RELEASE);
    gt[GREF_LENT].flags = GTF_PERMIT_ACCESS;
    gt[GREF_RAM].flags = GTF_PERMIT_ACCESS;
    return "ok";
}

int main(int argc, char **argv)
{
    uint64_t gpa = 0;
    setvbuf(stdout, NULL, _IOLBF, 0);
    for (int i = 1; i + 1 < argc; i++)
        if (!strcmp(argv[i], "--gpa"))
            gpa = strtoull(argv[i + 1], NULL, 16);
    if (!gpa || gpa & ((2UL << 20) - 1)) {
        printf("E2E-GUEST {\"ok\":false,\"error\":\"usage: lend-guest --gpa HEX (2 MiB aligned)\"}\n");
        return 2;
    }
    int fd = open("/dev/mem", O_RDWR | O_SYNC);
    volatile uint64_t *p = fd < 0 ? NULL : map_phys(fd, gpa, 3 * PAGE);
    volatile uint64_t *b = fd < 0 ? NULL : map_phys(fd, gpa + (2UL << 20), 2UL << 20);
    if (!p || !b) {
        printf("E2E-GUEST {\"ok\":false,\"error\":\"mapping 0x%" PRIx64 " through /dev/mem: %s\"}\n", gpa,
               strerror(errno));
        return 1;
    }
    volatile uint64_t *p0 = p, *p1 = p + PAGE / 8, *p2 = p + 2 * PAGE / 8;

    printf("E2E-LEND-MARK step 1: batch pages\n");
    uint64_t b0 = b[0], b511 = b[511 * PAGE / 8];
    printf("E2E-LEND-MARK step 2: read P0\n");
    uint64_t v0 = p0[0];
    printf("E2E-LEND-MARK step 3: write P0 word 1\n");
    p0[1] = COOKIE;
    printf("E2E-LEND-MARK step 4: write P1 in a child\n");
    int sig_fail = in_child(p1, true);
    printf("E2E-LEND-MARK step 5: read P2, write it in a child\n");
    uint64_t v2 = p2[0];
    int sig_ro = in_child(p2, true);
    uint64_t v2_after = p2[0];
    uint64_t ram_gfn = 0, lent_gfn = (gpa + (2UL << 20)) / PAGE;
    const char *grants = grant_to_dom0(fd, lent_gfn, &ram_gfn);
    printf("E2E-LEND-MARK step 6: grants %s: ref %d = lent gfn 0x%" PRIx64 ", ref %d = RAM gfn 0x%" PRIx64 "\n",
           grants, GREF_LENT, lent_gfn, GREF_RAM, ram_gfn);
    printf("E2E-LEND-MARK phase-a-done\n");
    double t0 = now_s();
    bool go = false;
    while (now_s() - t0 < SPIN_LIMIT_S)
        if (p0[2] == GO) {
            go = true;
            break;
        }
    uint64_t v0_again = p0[0];
    printf("E2E-LEND-MARK step 7: go=%d after %.1fs\n", go, now_s() - t0);

    bool ok = b0 == PATB && b511 == (PATB | 511) && v0 == PAT0 && sig_fail == SIGSEGV && v2 == PAT2 &&
              sig_ro == SIGSEGV && v2_after == PAT2 && go && v0_again == PAT1;
    printf("E2E-GUEST {\"ok\":%s,\"gpa\":\"0x%" PRIx64 "\",\"b0\":\"0x%" PRIx64 "\",\"b511\":\"0x%" PRIx64
           "\",\"p0\":\"0x%" PRIx64 "\",\"p1_child_signal\":%d,\"p2\":\"0x%" PRIx64
           "\",\"p2_write_child_signal\":%d,\"p2_after\":\"0x%" PRIx64 "\",\"go\":%s,\"spin_s\":%.1f,"
           "\"p0_again\":\"0x%" PRIx64 "\",\"grants\":\"%s\",\"ram_gfn\":\"0x%" PRIx64 "\"}\n",
           ok ? "true" : "false", gpa, b0, b511, v0, sig_fail, v2, sig_ro, v2_after, go ? "true" : "false",
           now_s() - t0, v0_again, grants, ram_gfn);
    return ok ? 0 : 1;
}
