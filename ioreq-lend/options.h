/* SPDX-License-Identifier: MIT */
/*
 * The daemon's command line. Parsing is pure (no I/O but printing --help and
 * --version to stdout), so it can be unit-tested and fuzzed.
 */
#ifndef IOREQ_LEND_OPTIONS_H
#define IOREQ_LEND_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "evict.h"
#include "log.h"

enum lend_mode {
    MODE_AUTO = 0, /* lend if the hypervisor and kernel can, else emulate (one warning) */
    MODE_EMULATE,  /* every BAR access trapped and served from the backing */
    MODE_LEND,     /* reverse foreign maps + access-only ioreqs; fail if unavailable */
};

enum domain_type {
    DOMAIN_HVM = 0, /* QEMU or another device model owns 0xCF8; hvmloader places BARs */
    DOMAIN_PVH,     /* no firmware, no QEMU: the daemon places its BAR (options.c) */
};

enum on_lost_policy {
    ON_LOST_ZERO = 0, /* map a zero-filled page and let the guest go on */
    ON_LOST_FAULT,    /* refuse: the hypervisor injects a fault into the guest */
};

#define OPT_DEFAULT_BDF_BUS  0x00
#define OPT_DEFAULT_BDF_DEV  0x1f
#define OPT_DEFAULT_BDF_FN   0x0
#define OPT_DEFAULT_BAR_SIZE  (256ULL << 20)
#define OPT_DEFAULT_VENDOR   0x5853   /* XenSource: a Xen-emulated device */
#define OPT_DEFAULT_DEVICE   0x1e4d
#define OPT_DEFAULT_CLASS    0x058000 /* memory controller, other */
#define OPT_MIN_FAULT_AROUND (4ULL << 10)
#define OPT_MAX_FAULT_AROUND (2ULL << 20)
#define OPT_DEFAULT_STATE_DIR "/run/ioreq-lend"
/* Largest valid domid: DOMID_FIRST_RESERVED - 1 (xen/xen.h). */
#define OPT_MAX_DOMID        0x7fef

struct dm_options {
    uint32_t domid;                 /* required, 1..OPT_MAX_DOMID */
    uint16_t pci_seg;               /* --bdf [SSSS:]BB:DD.F, default 0000:00:1f.0 */
    uint8_t pci_bus, pci_dev, pci_fn;
    uint64_t bar_size;              /* 0: not given (backing's size, else the default) */
    const char *backing;            /* spec string; NULL: memfd of the BAR size */
    enum lend_mode mode;            /* default MODE_AUTO */
    uint16_t vendor_id, device_id;  /* --vendor, --device */
    uint16_t subsys_vendor_id, subsys_id; /* --subsys VVVV:DDDD, default = vendor:device */
    uint32_t class_code;            /* --class, 24 bits */
    enum log_level log_level;       /* --log-level, default info */
    bool log_syslog;                /* --syslog */
    bool no_xenstore;               /* --no-xenstore: no record in xenstore */
    int ready_fd;                   /* --ready-fd N, -1 if not given */
    const char *pidfile;            /* --pidfile PATH */
    const char *stats_path;         /* --stats PATH: JSON counters rewritten periodically */
    const char *runas;              /* --runas USER: drop privileges after set-up */
    const char *pci_sysfs_path;     /* --pci-sysfs-path DIR: libpci's sysfs.path (tests) */
    const char *state_dir;          /* --state-dir DIR: per-slot lock files (OPT_DEFAULT_STATE_DIR) */
    uint64_t fault_around;          /* --fault-around SIZE, power of two 4K..2M; 0: default */
    uint64_t window;                /* --window SIZE: resident bytes in lend mode; 0: BAR size */
    enum on_lost_policy on_lost;    /* --on-lost zero|fault */
    bool readahead_off;             /* --readahead off (default on) */
    enum evict_policy eviction;     /* --eviction (default tinylfu: evict.h) */
    unsigned int domain_poll_ms;    /* --domain-poll-ms N: domain liveness check period */
    const char *control_path;       /* --control PATH (backing none); NULL: the default */
    unsigned int max_regions;       /* --max-regions N (backing none) */
    enum domain_type domain_type;   /* --domain-type hvm|pvh, default hvm */
    bool host_bridge;               /* --host-bridge: conf1 ports and 00:00.0 (PVH only) */
    uint64_t bar_base;              /* --bar-base ADDR (PVH only); 0: OPT_PVH_BAR_BASE rule */
};

/*
 * Where a PVH daemon places BAR 0 without --bar-base: at the start of the
 * hole hvmloader uses for HVM guests, [0xF0000000, 0xFC000000), which a PVH
 * guest's RAM leaves free when it has less than 3840 MiB below 4 GiB (libxl
 * puts RAM below 0xFC000000, ACPI tables at 0xFC000000, the LAPIC at
 * 0xFEE00000). A BAR that does not fit there, or a larger guest, needs
 * --bar-base: above the guest's RAM (ioreq-lend-xl-create computes it).
 */
#define OPT_PVH_BAR_BASE 0xf0000000ULL
#define OPT_PVH_HOLE_END 0xfc000000ULL
/* Highest address a BAR may end at: 52 bits, x86's architectural limit. */
#define OPT_MAX_BAR_END (1ULL << 52)

enum options_status {
    OPTIONS_RUN = 0,  /* parsed: run the daemon */
    OPTIONS_EXIT = 1, /* --help or --version printed to stdout: exit 0 */
};

/*
 * Parse argv. Returns OPTIONS_RUN or OPTIONS_EXIT, or -EINVAL with a one-line
 * message in err naming the bad option or value (the caller prints it and
 * exits 2). Uses getopt_long; resets optind itself, so it may be called more
 * than once in a process (tests, fuzzing).
 */
int options_parse(int argc, char *const argv[], struct dm_options *o, char *err, size_t errlen);

/* The --help text. */
void options_usage(FILE *out);

const char *lend_mode_name(enum lend_mode m);

#endif
