/* SPDX-License-Identifier: MIT */
/*
 * The emulated PCI function: a type-0 configuration header whose BAR 0/1 is a
 * 64-bit prefetchable memory BAR -- the window onto lent memory.
 *
 * Config space is a plain byte array, exactly what the guest sees. What the
 * daemon needs to know about it (BAR size, the window currently claimed, the
 * callback) lives outside the array, so no guest write can reach it.
 *
 * Every write goes through a per-byte writable mask:
 *     new = (old & ~wmask) | (val & wmask)
 * COMMAND and the BAR registers then have their side effects evaluated: the
 * window (what the ioreq server must claim) is derived from COMMAND.MEMORY and
 * the BAR address, and any change is handed to the window callback. If the
 * callback fails, the write is undone completely (config bytes and window),
 * so the guest reads back exactly what is decoded.
 */
#ifndef IOREQ_LEND_BAR_H
#define IOREQ_LEND_BAR_H

#include <stdbool.h>
#include <stdint.h>

#define PCI_CFG_SPACE_SIZE 256

/* BAR 0's size: a power of two from 4 KiB (a page) to 1 TiB. The one check of it. */
#define PCI_BAR_SIZE_MIN (4ULL << 10)
#define PCI_BAR_SIZE_MAX (1ULL << 40)

static inline bool pci_bar_size_valid(uint64_t size)
{
    return size >= PCI_BAR_SIZE_MIN && size <= PCI_BAR_SIZE_MAX && (size & (size - 1)) == 0;
}

/* Type-0 header offsets we implement (PCI Local Bus Spec 3.0, 6.1). */
#define PCI_CFG_VENDOR_ID      0x00
#define PCI_CFG_DEVICE_ID      0x02
#define PCI_CFG_COMMAND        0x04
#define PCI_CFG_STATUS         0x06
#define PCI_CFG_REVISION       0x08
#define PCI_CFG_CLASS_PROG     0x09
#define PCI_CFG_CACHE_LINE     0x0c
#define PCI_CFG_LATENCY        0x0d
#define PCI_CFG_HEADER_TYPE    0x0e
#define PCI_CFG_BAR0           0x10
#define PCI_CFG_BAR1           0x14
#define PCI_CFG_SUBSYS_VENDOR  0x2c
#define PCI_CFG_SUBSYS_ID      0x2e
#define PCI_CFG_ROM_ADDRESS    0x30
#define PCI_CFG_CAP_PTR        0x34
#define PCI_CFG_INTERRUPT_LINE 0x3c
#define PCI_CFG_INTERRUPT_PIN  0x3d

#define PCI_COMMAND_MEMORY     0x0002
#define PCI_STATUS_CAP_LIST    0x0010

/* BAR 0 low-dword flag bits: memory, 64-bit, prefetchable. */
#define PCI_BAR_MEM_TYPE_64    0x4
#define PCI_BAR_MEM_PREFETCH   0x8
#define PCI_BAR_FLAGS          (PCI_BAR_MEM_TYPE_64 | PCI_BAR_MEM_PREFETCH)

/*
 * Vendor-specific capability (ID 0x09) describing the window, so a guest
 * driver can find its size and mode without knowing our IDs.
 */
#define PCI_CAP_ID_VNDR        0x09
#define LEND_CAP_OFFSET        0x40
#define LEND_CAP_LEN           24
#define LEND_CAP_VERSION       1
/* Offsets inside the capability. */
#define LEND_CAP_OFF_VERSION   3  /* u8: LEND_CAP_VERSION */
#define LEND_CAP_OFF_BAR       4  /* u8: index of the BAR holding the window (0) */
#define LEND_CAP_OFF_MODE      5  /* u8: enum lend_cap_mode */
#define LEND_CAP_OFF_FLAGS     6  /* u16: LEND_CAP_F_* */
#define LEND_CAP_OFF_SIZE      8  /* u64: window size in bytes (= BAR size) */
#define LEND_CAP_OFF_RESIDENT  16 /* u64: resident window in bytes (lend mode) */

enum lend_cap_mode {
    LEND_CAP_MODE_EMULATE = 0, /* every access trapped and served by the device model */
    LEND_CAP_MODE_LEND = 1,    /* host pages mapped into the guest, remapped on demand */
};
#define LEND_CAP_F_LOST_ZERO   0x0001 /* lost content reads as zeros (else: fault) */

struct pci_ids {
    uint16_t vendor_id;
    uint16_t device_id;
    uint16_t subsystem_vendor_id;
    uint16_t subsystem_id;
    uint32_t class_code; /* 24 bits: base class, subclass, programming interface */
    uint8_t revision;
};

/* What the BAR decodes right now: the MMIO range the ioreq server must claim. */
struct bar_window {
    bool enabled;  /* COMMAND.MEMORY set and the BAR programmed */
    uint64_t base; /* guest-physical, size aligned */
    uint64_t size;
};

/*
 * Called with the old and new window whenever they differ. Returns 0, or a
 * negative errno: then the config write that caused the change is undone and
 * pci_func_config_write() returns that errno. The callback must leave the
 * old window claimed when it fails (it is transactional on its side too).
 */
typedef int (*bar_window_change_fn)(void *opaque, const struct bar_window *old_win,
                                    const struct bar_window *new_win);

struct pci_func_params {
    struct pci_ids ids;
    uint64_t bar_size; /* power of two, 4 KiB .. 1 TiB */
    enum lend_cap_mode mode;
    uint16_t cap_flags;     /* LEND_CAP_F_* */
    uint64_t resident_size; /* lend mode: the resident window; else = bar_size */
};

struct pci_func {
    /* Guest-visible. */
    uint8_t cfg[PCI_CFG_SPACE_SIZE];
    /* Private to the daemon: never reachable through config cycles. */
    uint8_t wmask[PCI_CFG_SPACE_SIZE];
    uint64_t bar_size;
    struct bar_window window;
    bar_window_change_fn window_change;
    void *opaque;
};

/*
 * Build the power-on header: IDs, class, status with the capability list,
 * BAR 0/1 at address 0 with decoding off, the vendor capability.
 * Returns 0, or -EINVAL if the parameters are out of range.
 */
int pci_func_init(struct pci_func *f, const struct pci_func_params *p, bar_window_change_fn fn,
                  void *opaque);

/*
 * A config read of `size` bytes (1, 2 or 4) at `reg`. The access must be
 * naturally aligned and below PCI_CFG_SPACE_SIZE; otherwise returns -EINVAL
 * and *val is all ones (what a master abort reads). Returns 0 otherwise.
 */
int pci_func_config_read(const struct pci_func *f, uint32_t reg, uint32_t size, uint32_t *val);

/*
 * A config write. Same access rules as reads (-EINVAL, write dropped).
 * Returns 0, or the window callback's errno after undoing the write.
 */
int pci_func_config_write(struct pci_func *f, uint32_t reg, uint32_t size, uint32_t val);

/*
 * Take over the guest-visible state of a previous daemon's function (a
 * restart after a crash): the writable bytes of `saved` are applied, and the
 * window derived from them without calling the window callback, since the
 * claims it implies still exist in Xen. -EINVAL, and nothing changed, if a
 * read-only byte of `saved` differs from this function's (other IDs, BAR
 * size or mode: a different device).
 */
int pci_func_restore(struct pci_func *f, const uint8_t saved[PCI_CFG_SPACE_SIZE]);

/*
 * After pci_func_restore(): the claims of the restored window could not be
 * made again, so the function stops decoding memory (COMMAND.MEMORY reads
 * 0), without calling the window callback. The guest reads back exactly
 * what decodes, and enabling decoding again claims the window anew.
 */
void pci_func_stop_decoding(struct pci_func *f);

/* The guest-programmed 64-bit BAR address (flags stripped), decoding or not. */
uint64_t pci_func_bar_address(const struct pci_func *f);

#endif
