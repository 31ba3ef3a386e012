/* SPDX-License-Identifier: MIT */
/* Owns the regions of a `--backing none` window (regions.h): their fds, mappings and accesses. */
#include "regions.h"

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

#ifndef F_SEAL_SHRINK
#define F_SEAL_SEAL   0x0001
#define F_SEAL_SHRINK 0x0002
#endif

/* ---- SIGBUS: an fd shrunk under a region ---- */

/*
 * Armed around each access to a region's pages. The handler runs with
 * SA_NODEFER, so jumping out of it leaves SIGBUS unblocked and sigsetjmp
 * need not save the mask (no system call per access). A SIGBUS anywhere
 * else is the default one: the handler restores it and returns, and the
 * faulting instruction raises it again.
 */
static _Thread_local sigjmp_buf *bus_jump;

static void on_sigbus(int sig, siginfo_t *si, void *uc)
{
    (void)si;
    (void)uc;
    if (bus_jump)
        siglongjmp(*bus_jump, 1);
    signal(sig, SIG_DFL);
}

void regions_catch_sigbus(void)
{
    struct sigaction sa;

    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_sigbus;
    sa.sa_flags = SA_SIGINFO | SA_NODEFER;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGBUS, &sa, NULL);
}

/* One access of exactly `size` bytes: the pages may be device memory (a dma-buf). */
static uint64_t load(const uint8_t *p, unsigned int size)
{
    uint64_t v = 0;

    if (((uintptr_t)p & (size - 1)) == 0) {
        switch (size) {
        case 1:
            return *(const volatile uint8_t *)p;
        case 2:
            return *(const volatile uint16_t *)p;
        case 4:
            return *(const volatile uint32_t *)p;
        case 8:
            return *(const volatile uint64_t *)p;
        }
    }
    memcpy(&v, p, size);
    return v;
}

static void store(uint8_t *p, unsigned int size, uint64_t v)
{
    if (((uintptr_t)p & (size - 1)) == 0) {
        switch (size) {
        case 1:
            *(volatile uint8_t *)p = (uint8_t)v;
            return;
        case 2:
            *(volatile uint16_t *)p = (uint16_t)v;
            return;
        case 4:
            *(volatile uint32_t *)p = (uint32_t)v;
            return;
        case 8:
            *(volatile uint64_t *)p = v;
            return;
        }
    }
    memcpy(p, &v, size);
}

/* ---- The table ---- */

int regions_init(struct regions *rs, uint64_t bar_size, unsigned int max, struct counters *cnt)
{
    memset(rs, 0, sizeof(*rs));
    rs->r = calloc(max ? max : 1, sizeof(*rs->r));
    if (!rs->r)
        return -ENOMEM;
    rs->max = max;
    rs->bar_size = bar_size;
    rs->cnt = cnt;
    regions_catch_sigbus();
    return 0;
}

static void region_release(struct region *r)
{
    if (r->base)
        munmap(r->base, (size_t)r->len);
    if (r->fd >= 0)
        close(r->fd);
    r->base = NULL;
    r->fd = -1;
}

static void sync_counters(struct regions *rs)
{
    if (rs->cnt) {
        rs->cnt->ctl_regions = rs->n;
        rs->cnt->ctl_mapped_bytes = rs->mapped_bytes;
    }
}

void regions_destroy(struct regions *rs)
{
    for (unsigned int i = 0; rs->r && i < rs->n; i++)
        region_release(&rs->r[i]);
    free(rs->r);
    rs->r = NULL;
    rs->n = 0;
    rs->mapped_bytes = 0;
    sync_counters(rs);
}

/* Index of the first region that ends after off (n if none). */
static unsigned int first_ending_after(const struct regions *rs, uint64_t off)
{
    unsigned int lo = 0, hi = rs->n;

    while (lo < hi) {
        unsigned int mid = lo + (hi - lo) / 2;

        if (rs->r[mid].off + rs->r[mid].len <= off)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo;
}

/* The checks MAP and UNMAP share: page aligned, 4K..1T, inside the BAR. */
static int check_range(const struct regions *rs, uint64_t off, uint64_t len, const char *what,
                       char *err, size_t errlen)
{
    if ((off | len) & (XC_PAGE_SIZE - 1))
        return err_fmt(err, errlen, -EINVAL,
                       "%s: offset 0x%llx and length 0x%llx must be multiples of 4K", what,
                       (unsigned long long)off, (unsigned long long)len);
    if (len == 0 || len > CTL_MAX_REGION_LEN)
        return err_fmt(err, errlen, -EINVAL, "%s: length 0x%llx is not between 4K and 1T", what,
                       (unsigned long long)len);
    if (!range_inside(off, len, rs->bar_size))
        return err_fmt(err, errlen, -ERANGE, "%s: 0x%llx+0x%llx is outside the 0x%llx-byte BAR",
                       what, (unsigned long long)off, (unsigned long long)len,
                       (unsigned long long)rs->bar_size);
    return 0;
}

/* True if fd is a memfd (its /proc link reads "/memfd:NAME (deleted)"). */
static bool is_memfd(int fd)
{
    char path[64], link[16];
    ssize_t n;

    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    n = readlink(path, link, sizeof(link));
    return n >= 7 && memcmp(link, "/memfd:", 7) == 0;
}

/*
 * A memfd must not shrink under the mapping: add F_SEAL_SHRINK where it is
 * missing, refuse where it cannot be added (created without
 * MFD_ALLOW_SEALING, or F_SEAL_SEAL set, or open read-only). Other files
 * (tmpfs files report F_SEAL_SEAL too) may be truncated by their owner:
 * SIGBUS is caught (ctl.bus_errors).
 */
static int check_seals(int fd, char *err, size_t errlen)
{
    int seals = fcntl(fd, F_GET_SEALS);

    if (seals < 0 || (seals & F_SEAL_SHRINK))
        return 0;
    if (fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK) == 0 || !is_memfd(fd))
        return 0;
    return err_fmt(err, errlen, -EINVAL,
                   "the memfd may shrink and cannot be sealed F_SEAL_SHRINK (%s): seal it",
                   strerror(errno));
}

/* Bytes the fd holds: fstat for regular files and memfds, else its end (dma-bufs). */
static int fd_bytes(int fd, const struct stat *st, uint64_t *out)
{
    off_t end;

    if (S_ISREG(st->st_mode)) {
        *out = (uint64_t)st->st_size;
        return 0;
    }
    /* The fd's offset is shared with the client that passed it: put it back. */
    off_t cur = lseek(fd, 0, SEEK_CUR);

    end = lseek(fd, 0, SEEK_END);
    if (end < 0)
        return -errno;
    if (cur >= 0)
        (void)lseek(fd, cur, SEEK_SET);
    *out = (uint64_t)end;
    return 0;
}

int regions_map(struct regions *rs, int fd, uint64_t off, uint64_t fd_off, uint64_t len, bool ro,
                char *err, size_t errlen)
{
    struct region nr = {.off = off, .len = len, .fd_off = fd_off, .fd = fd, .ro = ro};
    struct stat st;
    uint64_t have = 0;
    unsigned int i;
    int flags, rc;
    void *p;

    rc = check_range(rs, off, len, "map", err, errlen);
    if (rc)
        return rc;
    if (fd_off & (XC_PAGE_SIZE - 1))
        return err_fmt(err, errlen, -EINVAL, "map: fd offset 0x%llx is not a multiple of 4K",
                       (unsigned long long)fd_off);
    if (fd_off > (uint64_t)INT64_MAX - len)
        return err_fmt(err, errlen, -EINVAL, "map: fd offset 0x%llx is too large",
                       (unsigned long long)fd_off);
    i = first_ending_after(rs, off);
    if (i < rs->n && rs->r[i].off < off + len)
        return err_fmt(err, errlen, -EEXIST,
                       "map: 0x%llx+0x%llx overlaps the region at 0x%llx+0x%llx",
                       (unsigned long long)off, (unsigned long long)len,
                       (unsigned long long)rs->r[i].off, (unsigned long long)rs->r[i].len);
    if (rs->n >= rs->max)
        return err_fmt(err, errlen, -ENOSPC, "map: %u regions already (--max-regions)", rs->max);
    if (fd < 0)
        return err_fmt(err, errlen, -EBADF, "map: no fd passed (SCM_RIGHTS)");
    flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fstat(fd, &st) < 0)
        return err_fmt(err, errlen, -EBADF, "map: not a usable fd: %s", strerror(errno));
    if (S_ISDIR(st.st_mode) || S_ISFIFO(st.st_mode) || S_ISSOCK(st.st_mode))
        return err_fmt(err, errlen, -EINVAL, "map: the fd is a directory, pipe or socket");
    if ((flags & O_ACCMODE) == O_WRONLY || (!ro && (flags & O_ACCMODE) != O_RDWR))
        return err_fmt(err, errlen, -EACCES, "map: the fd is not open %s",
                       ro ? "for reading" : "read-write (or map it read-only)");
    rc = fd_bytes(fd, &st, &have);
    if (rc)
        return err_fmt(err, errlen, -EINVAL, "map: cannot find the fd's size: %s", strerror(-rc));
    if (fd_off > have || len > have - fd_off)
        return err_fmt(
            err, errlen, -EINVAL, "map: the fd holds 0x%llx bytes, less than 0x%llx+0x%llx",
            (unsigned long long)have, (unsigned long long)fd_off, (unsigned long long)len);
    if (len > SIZE_MAX)
        return err_fmt(err, errlen, -EINVAL, "map: too long for this host");
    rc = check_seals(fd, err, errlen);
    if (rc)
        return rc;
    p = mmap(NULL, (size_t)len, ro ? PROT_READ : PROT_READ | PROT_WRITE, MAP_SHARED, fd,
             (off_t)fd_off);
    if (p == MAP_FAILED)
        return err_fmt(err, errlen, errno == EACCES ? -EACCES : -EINVAL,
                       "map: the fd cannot be mapped: %s", strerror(errno));
    nr.base = p;
    nr.dev = (uint64_t)st.st_dev;
    nr.ino = (uint64_t)st.st_ino;
    memmove(&rs->r[i + 1], &rs->r[i], (rs->n - i) * sizeof(*rs->r));
    rs->r[i] = nr;
    rs->n++;
    rs->mapped_bytes += len;
    if (rs->cnt)
        rs->cnt->ctl_maps++;
    sync_counters(rs);
    return 0;
}

int regions_unmap(struct regions *rs, uint64_t off, uint64_t len, unsigned int *count, char *err,
                  size_t errlen)
{
    unsigned int first, last;
    int rc;

    *count = 0;
    rc = check_range(rs, off, len, "unmap", err, errlen);
    if (rc)
        return rc;
    first = first_ending_after(rs, off);
    for (last = first; last < rs->n && rs->r[last].off < off + len; last++) {
        const struct region *r = &rs->r[last];

        if (r->off < off || r->off + r->len > off + len)
            return err_fmt(err, errlen, -EBUSY,
                           "unmap: the region at 0x%llx+0x%llx is only partly inside "
                           "0x%llx+0x%llx: nothing unmapped",
                           (unsigned long long)r->off, (unsigned long long)r->len,
                           (unsigned long long)off, (unsigned long long)len);
    }
    if (last == first)
        return err_fmt(err, errlen, -ENOENT, "unmap: no region inside 0x%llx+0x%llx",
                       (unsigned long long)off, (unsigned long long)len);
    for (unsigned int i = first; i < last; i++) {
        rs->mapped_bytes -= rs->r[i].len;
        region_release(&rs->r[i]);
    }
    memmove(&rs->r[first], &rs->r[last], (rs->n - last) * sizeof(*rs->r));
    rs->n -= last - first;
    *count = last - first;
    if (rs->cnt)
        rs->cnt->ctl_unmaps += *count;
    sync_counters(rs);
    return 0;
}

void regions_describe(const struct regions *rs, unsigned int i, struct ctl_region *out)
{
    const struct region *r = &rs->r[i];

    memset(out, 0, sizeof(*out));
    out->bar_offset = r->off;
    out->fd_offset = r->fd_off;
    out->length = r->len;
    out->flags = r->ro ? CTL_MAP_READONLY : 0;
    out->dev = r->dev;
    out->ino = r->ino;
}

/* ---- The guest's accesses ---- */

/* The region holding all of [off, off + size), NULL for a hole; *mixed if it straddles. */
static struct region *lookup(struct regions *rs, uint64_t off, unsigned int size, bool *mixed)
{
    unsigned int i = first_ending_after(rs, off);
    struct region *r = i < rs->n ? &rs->r[i] : NULL;

    *mixed = false;
    if (!r || r->off >= off + size)
        return NULL; /* all hole */
    if (r->off <= off && off + size <= r->off + r->len)
        return r;
    *mixed = true;
    return NULL;
}

/* A guarded access: false if the fd shrank under it (SIGBUS). */
static bool guarded(struct region *r, uint64_t off, unsigned int size, bool write, uint64_t *v)
{
    sigjmp_buf jump;
    uint8_t *p = r->base + (off - r->off);

    if (sigsetjmp(jump, 0)) {
        bus_jump = NULL;
        return false;
    }
    bus_jump = &jump;
    if (write)
        store(p, size, *v);
    else
        *v = load(p, size);
    bus_jump = NULL;
    return true;
}

uint64_t regions_read(struct regions *rs, uint64_t off, unsigned int size)
{
    bool mixed;
    struct region *r = lookup(rs, off, size, &mixed);
    uint64_t v = 0;

    if (mixed) {
        /* Across a region's edge: byte by byte, each from its own side. */
        for (unsigned int i = 0; i < size; i++)
            v |= regions_read(rs, off + i, 1) << (8 * i);
        return v;
    }
    if (!r) {
        rs->cnt->ctl_hole_reads++;
        return 0;
    }
    if (!guarded(r, off, size, false, &v)) {
        rs->cnt->ctl_bus_errors++;
        return 0;
    }
    return v;
}

void regions_write(struct regions *rs, uint64_t off, unsigned int size, uint64_t val)
{
    bool mixed;
    struct region *r = lookup(rs, off, size, &mixed);

    if (mixed) {
        for (unsigned int i = 0; i < size; i++)
            regions_write(rs, off + i, 1, (val >> (8 * i)) & 0xff);
        return;
    }
    if (!r) {
        rs->cnt->ctl_hole_writes++;
        return;
    }
    if (r->ro) {
        rs->cnt->ctl_ro_writes++;
        return;
    }
    if (!guarded(r, off, size, true, &val))
        rs->cnt->ctl_bus_errors++;
}
