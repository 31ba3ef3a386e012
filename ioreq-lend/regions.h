/* SPDX-License-Identifier: MIT */
/*
 * The regions of a `--backing none` window (emulation mode): fds a backend
 * mapped at BAR offsets through the control socket (control.c), and the
 * guest's accesses to them. Owns each region's fd and mapping from a
 * successful map until its unmap.
 *
 *  - A hole (no region) reads zeros and drops writes; a read-only region
 *    drops writes. Each is counted (ctl.hole_reads, ctl.hole_writes,
 *    ctl.ro_writes).
 *  - The table is a sorted array of at most `max` regions, allocated once:
 *    nothing a client does allocates beyond it. Lookups are a binary search.
 *  - An fd shrunk under a region (a file truncated by its owner; memfds are
 *    sealed against it) would raise SIGBUS on access: the access is caught,
 *    answered as a hole and counted (ctl.bus_errors), and the daemon goes on.
 *  - Unmap: the region is unmapped and its fd closed before the function
 *    returns. The daemon serves the guest and the control socket from one
 *    thread, and an access runs to completion inside one handler, so once
 *    regions_unmap() returns no access in flight still copies from the old
 *    pages: the next one finds a hole.
 */
#ifndef IOREQ_LEND_REGIONS_H
#define IOREQ_LEND_REGIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "control_proto.h"
#include "counters.h"

#define REGIONS_DEFAULT_MAX 4096
#define REGIONS_MAX_MAX     65536

struct region {
    uint64_t off, len; /* in the BAR */
    uint64_t fd_off;   /* in the fd */
    int fd;            /* owned */
    bool ro;
    uint8_t *base;     /* mmap of [fd_off, fd_off + len) */
    uint64_t dev, ino; /* fstat of fd, for LIST */
};

struct regions {
    struct region *r; /* sorted by off, non-overlapping */
    unsigned int n, max;
    uint64_t bar_size;
    uint64_t mapped_bytes;
    struct counters *cnt;
};

/* The table, for a window of bar_size bytes; nothing mapped. 0 or -ENOMEM. */
int regions_init(struct regions *rs, uint64_t bar_size, unsigned int max, struct counters *cnt);
/*
 * Install the SIGBUS handler that turns an access to a shrunk fd into a
 * hole (regions_init() does; a test harness that installs its own handlers
 * calls it again). A SIGBUS outside a region access stays fatal.
 */
void regions_catch_sigbus(void);

/* Unmap and close every region, free the table. Safe on a zeroed struct. */
void regions_destroy(struct regions *rs);

/*
 * Map fd's [fd_off, fd_off + len) at BAR offset off. On success the region
 * owns fd; on failure the caller still does. Returns 0 or a negative errno
 * with one line in err: -EINVAL (alignment, length, an fd that cannot be
 * mapped or is too short, a memfd that can shrink), -ERANGE (outside the
 * BAR), -EEXIST (overlap), -ENOSPC (too many regions), -EACCES (read-write
 * region on an fd not open for writing).
 */
int regions_map(struct regions *rs, int fd, uint64_t off, uint64_t fd_off, uint64_t len, bool ro,
                char *err, size_t errlen);

/*
 * Unmap every region inside [off, off + len) and close their fds; *count
 * gets how many. -EINVAL (alignment, length), -ERANGE (outside the BAR),
 * -EBUSY (a region straddles the range's edge: nothing unmapped), -ENOENT
 * (no region in the range).
 */
int regions_unmap(struct regions *rs, uint64_t off, uint64_t len, unsigned int *count, char *err,
                  size_t errlen);

/* The guest's accesses at BAR offset off (size 1, 2, 4 or 8, inside the BAR). */
uint64_t regions_read(struct regions *rs, uint64_t off, unsigned int size);
void regions_write(struct regions *rs, uint64_t off, unsigned int size, uint64_t val);

/* Region i (0 <= i < n) as LIST reports it. */
void regions_describe(const struct regions *rs, unsigned int i, struct ctl_region *out);

#endif
