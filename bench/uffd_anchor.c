/* SPDX-License-Identifier: MIT */
/*
 * The anchor for the fault-latency benchmark: what a KVM-based VMM pays to
 * serve a guest page the host took back, measured on this machine in the
 * same run as ours.
 *
 * A memfd of PAGES pages is filled through one view (so every page is in the
 * page cache), mapped a second time, and that second view is registered with
 * userfaultfd in minor mode. Each round zaps the second view
 * (MADV_DONTNEED: the PTEs go, the pages stay in the page cache), then the
 * faulting thread reads one word of every page; each read blocks in the
 * kernel until a handler thread, woken by the userfaultfd (blocking read),
 * answers with UFFDIO_CONTINUE. The faulting thread times each read with
 * CLOCK_MONOTONIC: that is "touch a discarded page -> resumed" for a
 * userfaultfd minor fault on shmem.
 *
 *   uffd_anchor [--pages N] [--rounds R]
 *
 * Prints one JSON object: samples, p50/p99/mean in microseconds (exact, and
 * by the simulator's histogram buckets, hv_hist, so both sides are read the
 * same way), and the histogram as [bucket_ns, count] pairs.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <linux/userfaultfd.h>
#include <poll.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define PAGE 4096UL
/* The simulator's histogram (tests/sim/hv/hv.c): 8 buckets per power of two. */
#define HIST_BUCKETS (64 * 8)

static int uffd;
static uintptr_t sentinel; /* the page whose fault tells the handler to finish */

static uint64_t now_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

static unsigned int hist_bucket(uint64_t ns)
{
    unsigned int b, e;

    if (ns < 8)
        return (unsigned int)ns;
    e = 63 - (unsigned int)__builtin_clzll(ns);
    b = e * 8 + (unsigned int)((ns >> (e - 3)) & 7);
    return b < HIST_BUCKETS ? b : HIST_BUCKETS - 1;
}

static uint64_t hist_value(unsigned int b)
{
    unsigned int e = b / 8, sub = b % 8;

    return e < 3 ? b : (8ULL + sub) << (e - 3);
}

static void die(const char *what)
{
    fprintf(stderr, "uffd_anchor: %s: %s\n", what, strerror(errno));
    exit(1);
}

/* The handler thread: read fault messages (blocking), resolve each with UFFDIO_CONTINUE. */
static void *handler(void *arg)
{
    (void)arg;
    for (;;) {
        struct uffd_msg msg;
        ssize_t n = read(uffd, &msg, sizeof(msg));

        if (n < 0) {
            if (errno == EINTR || errno == EAGAIN)
                continue;
            die("read(userfaultfd)");
        }
        if (n != (ssize_t)sizeof(msg) || msg.event != UFFD_EVENT_PAGEFAULT)
            continue;
        uintptr_t page = msg.arg.pagefault.address & ~(PAGE - 1);
        struct uffdio_continue cont = {.range = {.start = page, .len = PAGE}};
        if (ioctl(uffd, UFFDIO_CONTINUE, &cont) < 0) {
            if (errno != EEXIST)
                die("UFFDIO_CONTINUE");
            /* Already mapped (a repeated message): the faulting thread still needs waking. */
            struct uffdio_range wake = {.start = page, .len = PAGE};
            ioctl(uffd, UFFDIO_WAKE, &wake);
        }
        if (page == sentinel)
            return NULL;
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

    return x < y ? -1 : x > y;
}

static uint64_t pct_exact(const uint64_t *sorted, uint64_t n, double pct)
{
    uint64_t i = (uint64_t)(pct / 100.0 * (double)n);

    return sorted[i >= n ? n - 1 : i];
}

/* The same estimator as hv_hist_percentile(): the lower edge of the bucket. */
static uint64_t pct_hist(const uint64_t *hist, uint64_t total, double pct)
{
    uint64_t want = (uint64_t)(pct / 100.0 * (double)total), seen = 0;

    if (want >= total)
        want = total - 1;
    for (unsigned int b = 0; b < HIST_BUCKETS; b++) {
        seen += hist[b];
        if (seen > want)
            return hist_value(b);
    }
    return 0;
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"pages", required_argument, NULL, 'p'},
        {"rounds", required_argument, NULL, 'r'},
        {NULL, 0, NULL, 0},
    };
    uint64_t pages = 16384, rounds = 4;
    int c;

    while ((c = getopt_long(argc, argv, "", longopts, NULL)) != -1) {
        if (c == 'p')
            pages = strtoull(optarg, NULL, 0);
        else if (c == 'r')
            rounds = strtoull(optarg, NULL, 0);
        else {
            fprintf(stderr, "usage: uffd_anchor [--pages N] [--rounds R]\n");
            return 2;
        }
    }
    if (pages == 0 || rounds == 0) {
        fprintf(stderr, "uffd_anchor: --pages and --rounds must be positive\n");
        return 2;
    }
    /* One page more than measured: the sentinel that ends the handler. */
    size_t len = pages * PAGE, map_len = len + PAGE;
    int fd = memfd_create("uffd-anchor", MFD_CLOEXEC);
    if (fd < 0 || ftruncate(fd, (off_t)map_len) < 0)
        die("memfd");
    uint8_t *fill = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    uint8_t *view = mmap(NULL, map_len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    if (fill == MAP_FAILED || view == MAP_FAILED)
        die("mmap");
    /* Every page in the page cache, with content: a minor fault only needs the PTE. */
    for (size_t off = 0; off < map_len; off += PAGE)
        memset(fill + off, (int)(off / PAGE) & 0xff, PAGE);
    sentinel = (uintptr_t)(view + len);

    uffd = (int)syscall(SYS_userfaultfd, O_CLOEXEC);
    if (uffd < 0)
        die("userfaultfd (needs root or vm.unprivileged_userfaultfd=1)");
    struct uffdio_api api = {.api = UFFD_API, .features = UFFD_FEATURE_MINOR_SHMEM};
    if (ioctl(uffd, UFFDIO_API, &api) < 0)
        die("UFFDIO_API (minor faults on shmem need Linux 5.13)");
    struct uffdio_register reg = {.range = {.start = (uintptr_t)view, .len = map_len},
                                  .mode = UFFDIO_REGISTER_MODE_MINOR};
    if (ioctl(uffd, UFFDIO_REGISTER, &reg) < 0)
        die("UFFDIO_REGISTER");

    pthread_t th;
    if (pthread_create(&th, NULL, handler, NULL))
        die("pthread_create");

    uint64_t n = pages * rounds, k = 0, sum = 0;
    uint64_t *lat = malloc(n * sizeof(*lat));
    uint64_t *hist = calloc(HIST_BUCKETS, sizeof(*hist));
    volatile uint64_t sink = 0;
    if (!lat || !hist)
        die("malloc");
    for (uint64_t r = 0; r < rounds; r++) {
        /* Discard: the PTEs go, the pages stay in the page cache. */
        if (madvise(view, len, MADV_DONTNEED) < 0)
            die("madvise(MADV_DONTNEED)");
        for (size_t off = 0; off < len; off += PAGE) {
            uint64_t t0 = now_ns();
            sink += *(volatile uint64_t *)(view + off);
            uint64_t dt = now_ns() - t0;
            lat[k++] = dt;
            sum += dt;
            hist[hist_bucket(dt)]++;
        }
    }
    /* The sentinel's fault: the handler resolves it and returns. */
    if (madvise(view + len, PAGE, MADV_DONTNEED) < 0)
        die("madvise(MADV_DONTNEED)");
    sink += *(volatile uint64_t *)(view + len);
    (void)sink;
    pthread_join(th, NULL);

    qsort(lat, n, sizeof(*lat), cmp_u64);
    printf("{\"mechanism\":\"userfaultfd minor fault on shmem, UFFDIO_CONTINUE from a handler "
           "thread (blocking read)\",\"pages\":%llu,\"rounds\":%llu,\"samples\":%llu,"
           "\"p50_us\":%.3f,\"p99_us\":%.3f,\"mean_us\":%.3f,"
           "\"hist_p50_us\":%.3f,\"hist_p99_us\":%.3f,\"hist\":[",
           (unsigned long long)pages, (unsigned long long)rounds, (unsigned long long)n,
           (double)pct_exact(lat, n, 50) / 1000.0, (double)pct_exact(lat, n, 99) / 1000.0,
           (double)sum / (double)n / 1000.0, (double)pct_hist(hist, n, 50) / 1000.0,
           (double)pct_hist(hist, n, 99) / 1000.0);
    for (unsigned int b = 0, first = 1; b < HIST_BUCKETS; b++) {
        if (!hist[b])
            continue;
        printf("%s[%llu,%llu]", first ? "" : ",", (unsigned long long)hist_value(b),
               (unsigned long long)hist[b]);
        first = 0;
    }
    printf("]}\n");
    free(lat);
    free(hist);
    return 0;
}
