/* SPDX-License-Identifier: MIT */
/*
 * The control socket's wire format: how a GPU backend (or ioreq-lend-ctl)
 * fills a `--backing none` window at run time.
 *
 * Transport: a SOCK_SEQPACKET unix socket (`--control PATH`, by default
 * STATE_DIR/domN-SSSS:BB:DD.F.ctl, mode 0600, owned by the --runas user):
 * its permissions are the capability. One request is one message of exactly
 * sizeof(struct ctl_request) bytes; a MAP request carries the fd to map as
 * SCM_RIGHTS (exactly one; any other request carries none). Every request
 * gets one reply of exactly sizeof(struct ctl_reply) bytes, in order: a
 * status (0 or a positive errno) and a one-line message. All integers are in
 * the host's byte order (both ends are on the same host).
 *
 * Versioning: `version` is CTL_PROTO_VERSION; a daemon answers a request of
 * another version or size with EPROTO (a reply of its own version), so a
 * client finds out what the daemon speaks. Fields marked reserved must be
 * zero (EINVAL otherwise): a later version may give them a meaning.
 *
 * Semantics (emulation mode; README "A window filled at run time"):
 *  - MAP: the fd's bytes [fd_offset, fd_offset + length) appear at BAR
 *    offset bar_offset. All three page aligned; length from 4K to
 *    CTL_MAX_REGION_LEN; inside the BAR; no overlap with a mapped region
 *    (EEXIST); at most --max-regions regions (ENOSPC). The fd must be
 *    mappable (a memfd, a regular file, a dma-buf that supports mmap) and
 *    hold the range (EINVAL, with a message). A memfd must be sealed against
 *    shrinking: the daemon adds F_SEAL_SHRINK if it can, else refuses. A
 *    read-write region needs an fd open for writing (EACCES).
 *    CTL_MAP_READONLY: guest writes there are dropped (and counted).
 *  - UNMAP: every region inside [bar_offset, bar_offset + length) goes;
 *    a region that only partly overlaps the range is refused (EBUSY) and
 *    nothing is unmapped; a range holding no region is ENOENT. When the reply
 *    arrives the guest can no longer reach the old pages and the daemon has
 *    closed their fds: the backend may free or reuse the buffers.
 *  - LIST: up to CTL_LIST_MAX regions from index `index` (in BAR order);
 *    `total` says how many there are.
 *  - STATS: the control counters (struct ctl_stats).
 * Regions belong to the daemon, not to the connection: they stay when the
 * client disconnects, and any client may list or unmap them.
 */
#ifndef IOREQ_LEND_CONTROL_PROTO_H
#define IOREQ_LEND_CONTROL_PROTO_H

#include <stdint.h>

#define CTL_PROTO_MAGIC   0x4c54434cu /* "LCTL" little-endian */
#define CTL_PROTO_VERSION 1

enum ctl_op {
    CTL_OP_MAP = 1,
    CTL_OP_UNMAP = 2,
    CTL_OP_LIST = 3,
    CTL_OP_STATS = 4,
};

#define CTL_MAP_READONLY 0x1u
#define CTL_MAP_FLAGS    CTL_MAP_READONLY

/* One region: at most 1 TiB (the largest BAR). */
#define CTL_MAX_REGION_LEN (1ULL << 40)
/* Regions per LIST reply. */
#define CTL_LIST_MAX 32
/* The reply's message, NUL-terminated. */
#define CTL_MSG_LEN 128

struct ctl_request {
    uint32_t magic;      /* CTL_PROTO_MAGIC */
    uint16_t version;    /* CTL_PROTO_VERSION */
    uint16_t op;         /* enum ctl_op */
    uint32_t flags;      /* MAP: CTL_MAP_*; others: 0 */
    uint32_t index;      /* LIST: the first region to list; others: 0 */
    uint64_t bar_offset; /* MAP, UNMAP */
    uint64_t fd_offset;  /* MAP; others: 0 */
    uint64_t length;     /* MAP, UNMAP */
    uint64_t reserved;   /* 0 */
};
_Static_assert(sizeof(struct ctl_request) == 48, "ctl_request is part of the ABI");

struct ctl_region {
    uint64_t bar_offset;
    uint64_t fd_offset;
    uint64_t length;
    uint32_t flags; /* CTL_MAP_* */
    uint32_t reserved;
    uint64_t dev, ino; /* what the daemon's fd refers to (fstat), for matching */
};
_Static_assert(sizeof(struct ctl_region) == 48, "ctl_region is part of the ABI");

/* The control counters; the daemon's stats file has them as ctl.* too. */
struct ctl_stats {
    uint64_t regions;          /* mapped now */
    uint64_t mapped_bytes;     /* bytes of the BAR mapped now */
    uint64_t max_regions;      /* --max-regions */
    uint64_t bar_size;         /* the window's size */
    uint64_t maps;             /* MAP requests that mapped a region */
    uint64_t unmaps;           /* regions unmapped (their fds closed) */
    uint64_t requests_refused; /* requests answered with an error */
    uint64_t clients;          /* connected now */
    uint64_t clients_refused;  /* connections closed at once: too many clients */
    uint64_t hole_reads;       /* guest reads of a hole: zeros */
    uint64_t hole_writes;      /* guest writes to a hole: dropped */
    uint64_t ro_writes;        /* guest writes to a read-only region: dropped */
    uint64_t bus_errors;       /* accesses that met a truncated fd (SIGBUS): as a hole */
};

struct ctl_reply {
    uint32_t magic;   /* CTL_PROTO_MAGIC */
    uint16_t version; /* CTL_PROTO_VERSION: what the daemon speaks */
    uint16_t op;      /* the request's op (0 if it could not be read) */
    int32_t status;   /* 0, or a positive errno */
    uint32_t count;   /* LIST: regions in this reply */
    uint32_t total;   /* LIST: regions in all */
    uint32_t reserved;
    char msg[CTL_MSG_LEN]; /* one line: "mapped 1M at 0x100000", or why not */
    union {
        struct ctl_region regions[CTL_LIST_MAX]; /* LIST */
        struct ctl_stats stats;                  /* STATS */
    } u;
};
_Static_assert(sizeof(struct ctl_reply) == 24 + CTL_MSG_LEN + 48 * CTL_LIST_MAX,
               "ctl_reply is part of the ABI");

#endif
