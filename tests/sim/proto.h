/* SPDX-License-Identifier: MIT */
/*
 * Wire protocol between the simulator's implementation of the Xen libraries
 * (tests/sim/client, linked into the device model in place of
 * libxendevicemodel, libxenevtchn, libxenforeignmemory, libxentoolcore and the
 * lending extension) and the simulated hypervisor (tests/sim/hv, inside the
 * xensim process).
 *
 * Each library handle is one AF_UNIX SOCK_SEQPACKET connection, like each
 * real handle is one open file on /dev/xen/privcmd or /dev/xen/evtchn: the
 * hypervisor side keeps per-connection state (domain restriction, bound
 * ports, mappings) and releases it when the connection closes, as the Linux
 * drivers do when the file is released.
 *
 * A call is one request message and one reply message. Unmask and notify are
 * one-way (no reply), as the real ones never fail for a correctly bound port;
 * a bad port is recorded by the simulator as a protocol error instead.
 * File descriptors travel with SCM_RIGHTS: the event pipe for an event
 * channel handle, the memory pool for a foreign memory handle.
 */
#ifndef XENSIM_PROTO_H
#define XENSIM_PROTO_H

#include <stdint.h>

/* The environment variable naming the simulator's socket. */
#define XENSIM_SOCKET_ENV "XENSIM_SOCKET"

enum sim_handle_kind {
    SIM_HANDLE_DEVICEMODEL = 1,
    SIM_HANDLE_FOREIGNMEMORY,
    SIM_HANDLE_EVTCHN,
    SIM_HANDLE_LEND,
    SIM_HANDLE_XENSTORE, /* libxenstore: a connection to xenstored, as dom0 */
};

enum sim_op {
    SIM_OP_HELLO = 1,   /* kind, pid -> (evtchn: event pipe fd; fmem: pool fd) */
    SIM_OP_RESTRICT,    /* domid */

    /* libxendevicemodel: one dm_op each. */
    SIM_OP_CREATE_SERVER,
    SIM_OP_GET_SERVER_INFO,
    SIM_OP_MAP_IO_RANGE,
    SIM_OP_UNMAP_IO_RANGE,
    SIM_OP_MAP_PCIDEV,
    SIM_OP_UNMAP_PCIDEV,
    SIM_OP_SET_SERVER_STATE,
    SIM_OP_DESTROY_SERVER,
    SIM_OP_NR_VCPUS,
    SIM_OP_INJECT_EVENT,

    /* libxenforeignmemory */
    SIM_OP_MAP_RESOURCE,   /* -> frame index in the pool */
    SIM_OP_UNMAP_RESOURCE,
    SIM_OP_MAP_GFNS,       /* gfns -> frames (per-page errors) */
    SIM_OP_UNMAP_GFNS,

    /* libxenevtchn */
    SIM_OP_BIND_INTERDOMAIN,
    SIM_OP_UNBIND,
    SIM_OP_UNMASK, /* one-way */
    SIM_OP_NOTIFY, /* one-way */
    SIM_OP_EVTCHN_SHM, /* -> the shared event-channel page's fd, and this handle's index */

    /* The lending extension (lend_abi.h), on a privcmd-like handle. */
    SIM_OP_LEND_VERSION,        /* IOCTL_PRIVCMD_LEND_VERSION */
    SIM_OP_LEND_SET_SLOT,       /* + the fd behind the slot's memory */
    SIM_OP_LEND_MAP,
    SIM_OP_LEND_UNMAP,
    SIM_OP_LEND_CLAIM_ACCESS,   /* the access-only io range dm_op */
    SIM_OP_LEND_RELEASE_ACCESS,
    SIM_OP_LEND_AGE,            /* IOCTL_PRIVCMD_LEND_AGE (revision 3) */
};
/* libxenstore (xenstored's wire protocol, reduced to what ioreq-lend calls). */
#define SIM_OP_XS_FIRST 64
enum sim_xs_op {
    SIM_OP_XS_READ = SIM_OP_XS_FIRST,
    SIM_OP_XS_WRITE,
    SIM_OP_XS_RM,
    SIM_OP_XS_DIRECTORY,
    SIM_OP_XS_TX_START,
    SIM_OP_XS_TX_END,
    SIM_OP_XS_LAST = SIM_OP_XS_TX_END,
};
#define SIM_XS_PATH_MAX  256 /* xenstored allows more; the record's paths are short */
#define SIM_XS_VALUE_MAX 256
#define SIM_XS_DIR_MAX   1024 /* a directory listing: names, each NUL-terminated */

/* The first and last lending ops (ranges of ops per handle kind). */
#define SIM_OP_LEND_REGISTER       SIM_OP_LEND_VERSION
#define SIM_OP_LEND_UNCLAIM_ACCESS SIM_OP_LEND_RELEASE_ACCESS
#define SIM_OP_LEND_LAST           SIM_OP_LEND_AGE

/* LEND_AGE_MAX_PAGES / 64: one SIM_OP_LEND_AGE reply's bitmap (lend.c checks). */
#define SIM_AGE_WORDS 64

/* Largest number of gfns in one SIM_OP_MAP_GFNS message. */
#define SIM_MAP_GFNS_MAX 256

struct sim_req {
    uint32_t op;
    uint32_t domid;
    union {
        struct {
            uint32_t kind;
            int32_t pid;
        } hello;
        struct {
            int32_t handle_bufioreq;
        } create;
        struct {
            uint16_t id;
            uint8_t want_gfns;
        } info;
        struct {
            uint16_t id;
            uint32_t type; /* XEN_DMOP_IO_RANGE_* */
            uint64_t start, end;
        } range;
        struct {
            uint16_t id;
            uint32_t sbdf;
        } pcidev;
        struct {
            uint16_t id;
            int32_t enabled;
        } state;
        struct {
            uint16_t id;
        } server;
        struct {
            uint32_t vcpu;
            uint8_t vector, type, insn_len;
            uint32_t error_code;
            uint64_t extra;
        } inject;
        struct {
            uint64_t cookie; /* identifies the mapping for unmap and leak accounting */
            uint32_t type, id;
            uint64_t frame, nr_frames;
        } resource;
        struct {
            uint64_t cookie; /* identifies the mapping for unmap and leak accounting */
        } unmap;
        struct {
            uint64_t cookie;
            uint32_t count;
            uint32_t writable;
            uint64_t gfns[SIM_MAP_GFNS_MAX];
        } gfns;
        struct {
            uint32_t remote_port;
        } bind;
        struct {
            uint32_t port;
        } port;
        struct {
            uint32_t slot;
            uint32_t flags;
            uint64_t first_gfn;
            uint64_t pages;     /* 0: delete the slot */
            uint64_t fd_offset; /* where the slot starts in the fd sent along */
        } lend_slot;
        struct {
            uint32_t slot;
            uint32_t flags;
            uint64_t first_page;
            uint64_t count;
        } lend_range;
        struct {
            uint16_t id;
            uint64_t start, end;
        } lend_access;
        struct {
            uint32_t tx;    /* XBT_NULL (0) or a transaction */
            uint32_t len;   /* WRITE: bytes of value */
            uint32_t abort; /* TX_END */
            char path[SIM_XS_PATH_MAX];
            char value[SIM_XS_VALUE_MAX];
        } xs;
    } u;
};

struct sim_reply {
    int32_t rc; /* 0 or a negative errno */
    uint32_t pad;
    union {
        struct {
            uint16_t id;
        } create;
        struct {
            uint64_t ioreq_gfn, bufioreq_gfn;
            uint32_t bufioreq_port;
        } info;
        struct {
            uint32_t nr;
        } vcpus;
        struct {
            uint64_t frame;          /* first frame in the pool */
            uint64_t pool_pages;     /* hello (fmem): pool size in pages */
        } mem;
        struct {
            uint32_t count;
            int32_t err[SIM_MAP_GFNS_MAX];    /* per page: 0 or -errno */
            uint64_t frames[SIM_MAP_GFNS_MAX];
        } gfns;
        struct {
            uint32_t local_port;
        } bind;
        struct {
            uint32_t conn;  /* this handle's index: owner + 1 in the shared page */
            uint32_t pages; /* size of the shared page(s) */
        } shm;
        struct {
            uint64_t done;    /* LEND_MAP: pages installed, also with an error */
            uint32_t version; /* LEND_VERSION */
        } lend;
        struct {
            uint64_t young;                         /* bits set */
            uint64_t bits[SIM_AGE_WORDS]; /* the caller's bitmap */
        } lend_age;
        struct {
            uint32_t tx;  /* TX_START */
            uint32_t len; /* READ: value bytes; DIRECTORY: number of names */
            char data[SIM_XS_DIR_MAX];
        } xs;
    } u;
};

#endif
