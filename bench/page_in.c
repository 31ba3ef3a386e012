/* SPDX-License-Identifier: MIT */
/*
 * The host's page-in bandwidth for the cold scan's pages, without the guest
 * (`page_in_mib_s`, issue 14 item 6): the limit a cold scan could reach if
 * the transport, the daemon and the guest's faults cost nothing.
 *
 * The same kind of backing as the cold scan: a memfd of SIZE bytes mapped
 * twice, the host's view and the guest's view (MAP_SHARED, as
 * tests/sim/hv/lend.c maps a slot), and a second memfd as "system RAM".
 * It is discarded the way `host evict` discards a lent page (lend.c
 * LEND_HOST_EVICT): the content is copied to "system RAM", the backing page
 * is poisoned (it stays allocated, in the page cache), and the guest view's
 * PTEs are zapped (MADV_DONTNEED). Then, timed, every page in order is paged
 * back in as the simulated kernel does on a map (resolve_locked(): copy the
 * content back from "system RAM"), and read through the guest's view (a
 * minor fault installs the PTE, where the simulator uses UFFDIO_CONTINUE)
 * into a 1 MiB buffer, as the guest's `memcpy-out` copies into its 1 MiB
 * scratch RAM (workload.c SCRATCH_MAX).
 *
 *   page_in --size SIZE
 *
 * Prints one JSON object: page_in_mib_s (the above), fault_only_mib_s (zap
 * and re-read, the content already back: the minor faults alone) and
 * native_mib_s (the mapped view re-read), one pass each.
 */
#include <errno.h>
#include <getopt.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#define PAGE    4096UL
#define SCRATCH (1UL << 20)
#define POISON  0xdeadbeefdeadbeefULL /* any word: the simulator's HV_POISON_WORD's role */

static double now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *map_memfd(const char *name, size_t len)
{
    int fd = memfd_create(name, MFD_CLOEXEC);
    void *p;

    if (fd < 0 || ftruncate(fd, (off_t)len) < 0) {
        perror("page_in: memfd");
        exit(1);
    }
    p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
    if (p == MAP_FAILED) {
        perror("page_in: mmap");
        exit(1);
    }
    close(fd);
    return p;
}

/* One memfd, two views: the host's (the backing) and the guest's. */
static void map_twice(size_t len, uint8_t **host, uint8_t **guest)
{
    int fd = memfd_create("page-in-backing", MFD_CLOEXEC);

    if (fd < 0 || ftruncate(fd, (off_t)len) < 0) {
        perror("page_in: memfd");
        exit(1);
    }
    *host = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    *guest = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd, 0);
    if (*host == MAP_FAILED || *guest == MAP_FAILED) {
        perror("page_in: mmap");
        exit(1);
    }
    close(fd);
}

static void poison(void *p, size_t len)
{
    uint64_t *w = p;

    for (size_t i = 0; i < len / sizeof(*w); i++)
        w[i] = POISON;
}

static size_t parse_size(const char *s)
{
    char *end;
    unsigned long long v = strtoull(s, &end, 0);

    switch (*end) {
    case 'K':
        v <<= 10;
        break;
    case 'M':
        v <<= 20;
        break;
    case 'G':
        v <<= 30;
        break;
    case '\0':
        break;
    default:
        fprintf(stderr, "page_in: bad size %s\n", s);
        exit(2);
    }
    return (size_t)v;
}

int main(int argc, char **argv)
{
    static const struct option opts[] = {{"size", required_argument, NULL, 's'}, {0}};
    size_t len = 64UL << 20;
    uint8_t *host, *guest, *shadow, *scratch;
    double t0, page_in, fault_only, native;
    uint64_t sum = 0;
    int c;

    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c != 's') {
            fprintf(stderr, "usage: page_in --size SIZE\n");
            return 2;
        }
        len = parse_size(optarg);
    }
    if (len == 0 || len % PAGE) {
        fprintf(stderr, "page_in: SIZE must be a multiple of 4096\n");
        return 2;
    }
    map_twice(len, &host, &guest);
    shadow = map_memfd("page-in-sysram", len);
    scratch = aligned_alloc(PAGE, SCRATCH);
    if (!scratch)
        return 1;
    memset(scratch, 1, SCRATCH);

    /* The content, in the backing, mapped in the guest's view (a lent, used window). */
    for (size_t off = 0; off < len; off += 8) {
        uint64_t w = off * 0x9e3779b97f4a7c15ULL;
        memcpy(host + off, &w, 8);
    }
    for (size_t off = 0; off < len; off += PAGE)
        sum += guest[off];

    /* host evict: content to "system RAM", the backing page poisoned, the guest's PTEs zapped. */
    for (size_t off = 0; off < len; off += PAGE) {
        memcpy(shadow + off, host + off, PAGE);
        poison(host + off, PAGE);
    }
    madvise(guest, len, MADV_DONTNEED);

    /* Page in, in order: content back, then the read through the guest's view (minor fault). */
    t0 = now();
    for (size_t off = 0; off < len; off += PAGE) {
        memcpy(host + off, shadow + off, PAGE);
        memcpy(scratch + off % SCRATCH, guest + off, PAGE);
    }
    page_in = now() - t0;
    sum += scratch[0];

    /* The same read again after a zap: the minor faults alone. */
    madvise(guest, len, MADV_DONTNEED);
    t0 = now();
    for (size_t off = 0; off < len; off += PAGE)
        memcpy(scratch + off % SCRATCH, guest + off, PAGE);
    fault_only = now() - t0;

    /* Mapped: native. */
    t0 = now();
    for (size_t off = 0; off < len; off += PAGE)
        memcpy(scratch + off % SCRATCH, guest + off, PAGE);
    native = now() - t0;
    sum += scratch[SCRATCH - 1];

    if (memcmp(guest, shadow, PAGE) || memcmp(guest + len - PAGE, shadow + len - PAGE, PAGE)) {
        fprintf(stderr, "page_in: the content did not come back\n");
        return 1;
    }
    printf("{\"bytes\": %zu, \"page_in_mib_s\": %.1f, \"fault_only_mib_s\": %.1f, "
           "\"native_mib_s\": %.1f, \"page_in_s\": %.6f, \"checksum\": %llu}\n",
           len, (double)len / (1 << 20) / page_in, (double)len / (1 << 20) / fault_only,
           (double)len / (1 << 20) / native, page_in, (unsigned long long)(sum & 0xff));
    return 0;
}
