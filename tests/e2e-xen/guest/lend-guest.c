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
 *   6. prints "E2E-LEND-MARK phase-a-done" and spins on P0 word 2 until it
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
           "\"p0_again\":\"0x%" PRIx64 "\"}\n",
           ok ? "true" : "false", gpa, b0, b511, v0, sig_fail, v2, sig_ro, v2_after, go ? "true" : "false",
           now_s() - t0, v0_again);
    return ok ? 0 : 1;
}
