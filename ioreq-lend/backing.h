/* SPDX-License-Identifier: MIT */
/*
 * The host memory behind the BAR. Four kinds, chosen by a spec string:
 *
 *   memfd:SIZE              anonymous shared memory (the default)
 *   file:PATH               a file mapped shared; it must hold the whole BAR
 *   pci:SSSS:BB:DD.F/barN   a host PCI device's memory BAR, found and checked
 *                           with libpci, mapped through sysfs resourceN
 *   fd:N                    an inherited fd (a dma-buf, a memfd); size from
 *                           fstat, or lseek(SEEK_END) for objects fstat
 *                           reports as size 0 (dma-bufs)
 *   none                    an empty window: nothing is opened or mapped
 *                           here; a backend fills it at run time through the
 *                           control socket (regions.c, control.c)
 *
 * The mapping is always MAP_SHARED read/write of exactly the BAR size, and
 * the fd stays open: lending mode registers the mapping with the kernel,
 * which resolves it to the pages behind the fd.
 */
#ifndef IOREQ_LEND_BACKING_H
#define IOREQ_LEND_BACKING_H

#include <stddef.h>
#include <stdint.h>

enum backing_kind {
    BACKING_MEMFD,
    BACKING_FILE,
    BACKING_PCI,
    BACKING_FD,
    BACKING_NONE,
};

#define BACKING_PATH_MAX 4096

/* A parsed spec; no resource is held. */
struct backing_spec {
    enum backing_kind kind;
    uint64_t memfd_size;             /* BACKING_MEMFD */
    char path[BACKING_PATH_MAX];     /* BACKING_FILE */
    uint16_t pci_seg;                /* BACKING_PCI */
    uint8_t pci_bus, pci_dev, pci_fn;
    uint8_t pci_bar;                 /* 0..5 */
    int fd;                          /* BACKING_FD */
};

struct backing {
    enum backing_kind kind;
    int fd;             /* owned: closed by backing_close() (fd:N included) */
    uint64_t fd_offset; /* where the window starts in fd */
    uint64_t size;      /* bytes mapped at base */
    void *base;         /* MAP_SHARED, PROT_READ | PROT_WRITE; NULL for none */
    char desc[160];     /* for log lines, e.g. "memfd 256M", "pci 0000:03:00.0 BAR2" */
};

/*
 * Parse a PCI address "[SSSS:]BB:DD.F": hex digits only (segment 1-4, bus 1-2,
 * device 1-2 and <= 0x1f, function 1 and <= 7); segment 0 when omitted. The
 * whole string must be the address. Returns 0 or -EINVAL (outputs untouched).
 * Shared with --bdf, so the daemon has one grammar for a PCI address.
 */
int backing_parse_bdf(const char *s, uint16_t *seg, uint8_t *bus, uint8_t *dev, uint8_t *fn);

/*
 * Parse a spec string. Returns 0, or -EINVAL with a one-line reason in err
 * (e.g. "backing 'memfd:12Q': bad size '12Q'").
 */
int backing_parse(const char *spec, struct backing_spec *out, char *err, size_t errlen);

/*
 * Open and map a parsed spec. `size` is the number of bytes the BAR needs, or
 * 0 to take the backing's natural size (memfd SIZE, file size, PCI BAR size,
 * fd size). A backing smaller than `size` is an error. `pci_sysfs_path` is
 * libpci's "sysfs.path" (NULL: libpci's default, /sys/bus/pci); tests point
 * it at a fake tree. On failure nothing stays open or mapped and *b is BACKING_INIT; returns a
 * negative errno with a one-line reason in err.
 */
int backing_open(const struct backing_spec *spec, uint64_t size, const char *pci_sysfs_path,
                 struct backing *b, char *err, size_t errlen);

/* A backing holding nothing, safe to pass to backing_close(). */
#define BACKING_INIT {.fd = -1}

/* Unmap and close. Safe on BACKING_INIT and after a failed open. */
void backing_close(struct backing *b);

#endif
