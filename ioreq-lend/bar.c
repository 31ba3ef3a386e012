/* SPDX-License-Identifier: MIT */
/*
 * The emulated PCI function's configuration space (see bar.h).
 *
 * The guest-visible header is f->cfg; f->wmask says, per byte, which bits a
 * config write may change. Every write goes through that mask and nothing
 * else, so read-only fields (IDs, header type, flag bits, the capability)
 * cannot be disturbed by a write of any size. COMMAND and BAR 0/1 writes then
 * re-derive the window and hand any change to the window callback, undoing
 * the write if the callback fails.
 */
#include <errno.h>
#include <stddef.h>
#include <string.h>

#include "bar.h"
#include "util.h"

/* COMMAND bits we implement (PCI 3.0, 6.2.2); I/O space stays 0: no I/O BAR. */
#define PCI_COMMAND_MASTER       0x0004
#define PCI_COMMAND_PARITY       0x0040
#define PCI_COMMAND_SERR         0x0100
#define PCI_COMMAND_INTX_DISABLE 0x0400
#define PCI_COMMAND_WRITABLE                                                                       \
    (PCI_COMMAND_MEMORY | PCI_COMMAND_MASTER | PCI_COMMAND_PARITY | PCI_COMMAND_SERR |             \
     PCI_COMMAND_INTX_DISABLE)

#define PCI_HEADER_TYPE_NORMAL 0x00   /* type 0, bit 7 clear: single function */
#define PCI_STD_HEADER_SIZEOF  0x40   /* capabilities must live above the header */
#define PCI_BAR_LOW_BITS       0xfULL /* memory BAR bits 3:0: encoding, not address */

#define CLASS_MAX    0xffffffu

/* The layout this file relies on; a change to bar.h that breaks it fails here. */
_Static_assert(PCI_CFG_SPACE_SIZE == 256, "type-0 config space is 256 bytes");
_Static_assert(sizeof(((struct pci_func *)NULL)->cfg) == PCI_CFG_SPACE_SIZE, "cfg size");
_Static_assert(sizeof(((struct pci_func *)NULL)->wmask) == PCI_CFG_SPACE_SIZE, "wmask size");
_Static_assert(PCI_CFG_COMMAND + 2 == PCI_CFG_STATUS, "COMMAND is a word");
_Static_assert(PCI_CFG_CLASS_PROG == PCI_CFG_REVISION + 1, "class follows revision");
_Static_assert(PCI_CFG_BAR1 == PCI_CFG_BAR0 + 4, "BAR 1 is the upper dword of BAR 0");
_Static_assert(PCI_CFG_SUBSYS_ID == PCI_CFG_SUBSYS_VENDOR + 2, "subsystem IDs");
_Static_assert(PCI_CFG_INTERRUPT_PIN == PCI_CFG_INTERRUPT_LINE + 1, "interrupt line/pin");
_Static_assert(PCI_CFG_INTERRUPT_PIN < PCI_STD_HEADER_SIZEOF, "header ends at 0x40");
_Static_assert(LEND_CAP_OFFSET >= PCI_STD_HEADER_SIZEOF, "capability above the header");
_Static_assert(LEND_CAP_OFFSET % 4 == 0, "capability pointers are dword aligned");
_Static_assert(LEND_CAP_OFFSET <= 0xff && LEND_CAP_LEN <= 0xff, "fit their u8 fields");
_Static_assert(LEND_CAP_OFFSET + LEND_CAP_LEN <= PCI_CFG_SPACE_SIZE, "capability fits");
_Static_assert(LEND_CAP_OFF_VERSION == 3, "after ID, next pointer and length");
_Static_assert(LEND_CAP_OFF_BAR > LEND_CAP_OFF_VERSION, "capability field order");
_Static_assert(LEND_CAP_OFF_MODE > LEND_CAP_OFF_BAR, "capability field order");
_Static_assert(LEND_CAP_OFF_FLAGS > LEND_CAP_OFF_MODE, "capability field order");
_Static_assert(LEND_CAP_OFF_SIZE >= LEND_CAP_OFF_FLAGS + 2, "capability field order");
_Static_assert(LEND_CAP_OFF_RESIDENT >= LEND_CAP_OFF_SIZE + 8, "capability field order");
_Static_assert(LEND_CAP_OFF_RESIDENT + 8 <= LEND_CAP_LEN, "capability field order");
/* The flag bits lie below the smallest BAR, so the address mask never covers them. */
_Static_assert(PCI_BAR_LOW_BITS < PCI_BAR_SIZE_MIN, "flags below the address bits");
_Static_assert((PCI_BAR_FLAGS & ~PCI_BAR_LOW_BITS) == 0, "flags in bits 3:0");

/* Little-endian accessors: config space byte order does not depend on the host's. */
static uint64_t cfg_get(const uint8_t *buf, uint32_t off, uint32_t len)
{
    uint64_t v = 0;

    for (uint32_t i = len; i > 0; i--)
        v = (v << 8) | buf[off + i - 1];
    return v;
}

static void cfg_put(uint8_t *buf, uint32_t off, uint64_t v, uint32_t len)
{
    for (uint32_t i = 0; i < len; i++)
        buf[off + i] = (uint8_t)(v >> (8 * i));
}

/* Size 1, 2 or 4, naturally aligned, inside the 256 bytes. */
static bool config_access_valid(uint32_t reg, uint32_t size)
{
    if (size != 1 && size != 2 && size != 4)
        return false;
    return reg % size == 0 && range_inside(reg, size, PCI_CFG_SPACE_SIZE);
}

/* What a master abort reads: all ones of the access size. */
static uint32_t config_all_ones(uint32_t size)
{
    return size == 1 ? 0xffu : size == 2 ? 0xffffu : 0xffffffffu;
}

static bool range_overlaps(uint32_t a, uint32_t alen, uint32_t b, uint32_t blen)
{
    return a < b + blen && b < a + alen;
}

/* ~(size - 1): what a BAR reads back after all ones are written to both dwords. */
static uint64_t bar_sizing_pattern(uint64_t bar_size)
{
    return ~(bar_size - 1);
}

/*
 * The window the current header decodes. A disabled window always has base
 * 0, so moving an undecoded BAR is not a window change.
 */
static struct bar_window bar_window_derive(const struct pci_func *f)
{
    struct bar_window w = {.enabled = false, .base = 0, .size = f->bar_size};
    uint16_t cmd = (uint16_t)cfg_get(f->cfg, PCI_CFG_COMMAND, 2);
    uint64_t addr = pci_func_bar_address(f);

    /*
     * Address 0 is what an unassigned BAR holds, and the sizing pattern is
     * transient state firmware restores before enabling decode; neither is
     * a real placement. (The pattern also ends at 2^64, so base + size of a
     * decoded window never wraps.)
     */
    if ((cmd & PCI_COMMAND_MEMORY) && addr != 0 && addr != bar_sizing_pattern(f->bar_size)) {
        w.enabled = true;
        w.base = addr;
    }
    return w;
}

static bool bar_window_equal(const struct bar_window *a, const struct bar_window *b)
{
    return a->enabled == b->enabled && a->base == b->base && a->size == b->size;
}

static int pci_func_params_check(const struct pci_func_params *p, bar_window_change_fn fn)
{
    if (!p || !fn)
        return -EINVAL;
    if (!pci_bar_size_valid(p->bar_size))
        return -EINVAL;
    if (p->ids.class_code > CLASS_MAX)
        return -EINVAL;
    if (p->resident_size > p->bar_size)
        return -EINVAL;
    /* The capability tells the guest driver these; it must not see values we never defined. */
    if (p->mode != LEND_CAP_MODE_EMULATE && p->mode != LEND_CAP_MODE_LEND)
        return -EINVAL;
    if (p->cap_flags & ~LEND_CAP_F_LOST_ZERO)
        return -EINVAL;
    return 0;
}

static void pci_func_build_header(struct pci_func *f, const struct pci_func_params *p)
{
    uint8_t *cfg = f->cfg;
    uint64_t bar_wmask = bar_sizing_pattern(p->bar_size) & ~PCI_BAR_LOW_BITS;
    uint8_t *cap = &cfg[LEND_CAP_OFFSET];

    cfg_put(cfg, PCI_CFG_VENDOR_ID, p->ids.vendor_id, 2);
    cfg_put(cfg, PCI_CFG_DEVICE_ID, p->ids.device_id, 2);
    cfg_put(cfg, PCI_CFG_STATUS, PCI_STATUS_CAP_LIST, 2);
    cfg_put(cfg, PCI_CFG_REVISION, p->ids.revision, 1);
    cfg_put(cfg, PCI_CFG_CLASS_PROG, p->ids.class_code, 3);
    cfg_put(cfg, PCI_CFG_HEADER_TYPE, PCI_HEADER_TYPE_NORMAL, 1);
    /* Address 0, decoding off: firmware sizes and places it. */
    cfg_put(cfg, PCI_CFG_BAR0, PCI_BAR_FLAGS, 4);
    cfg_put(cfg, PCI_CFG_SUBSYS_VENDOR, p->ids.subsystem_vendor_id, 2);
    cfg_put(cfg, PCI_CFG_SUBSYS_ID, p->ids.subsystem_id, 2);
    cfg_put(cfg, PCI_CFG_CAP_PTR, LEND_CAP_OFFSET, 1);
    /* Interrupt pin stays 0: the function raises no interrupt. */

    cap[0] = PCI_CAP_ID_VNDR;
    cap[1] = 0; /* last capability */
    cap[2] = LEND_CAP_LEN;
    cap[LEND_CAP_OFF_VERSION] = LEND_CAP_VERSION;
    cap[LEND_CAP_OFF_BAR] = 0;
    cap[LEND_CAP_OFF_MODE] = (uint8_t)p->mode;
    cfg_put(cap, LEND_CAP_OFF_FLAGS, p->cap_flags, 2);
    cfg_put(cap, LEND_CAP_OFF_SIZE, p->bar_size, 8);
    cfg_put(cap, LEND_CAP_OFF_RESIDENT, p->resident_size, 8);

    /* Everything not set here stays 0 in wmask: read-only. */
    cfg_put(f->wmask, PCI_CFG_COMMAND, PCI_COMMAND_WRITABLE, 2);
    cfg_put(f->wmask, PCI_CFG_CACHE_LINE, 0xff, 1);
    cfg_put(f->wmask, PCI_CFG_INTERRUPT_LINE, 0xff, 1);
    /*
     * PCI Local Bus Specification 3.0, 6.2.5.1: "Power-up software can
     * determine how much address space the device requires by writing a
     * value of all 1's to the register and then reading the value back. The
     * device will return 0's in all don't-care address bits, effectively
     * specifying the address space required." and "Bits 0-3 are read-only."
     * So the writable bits are exactly the address bits at or above the
     * size: all-ones then reads back ~(size - 1) with the flags intact, and
     * no other value can place the BAR misaligned.
     *
     * For the 64-bit pair: "64-bit (memory) Base Address registers can be
     * handled the same, except that the second 32-bit register is considered
     * an extension of the first; i.e., bits 32-63. Software writes 0FFFFFFFFh
     * to both registers, reads them back, and combines the result into a
     * 64-bit value. Size calculation is done on the 64-bit value." Hence one
     * 64-bit mask split over BAR0 and BAR1: BAR1 reads back the upper half of
     * ~(size - 1), and for sizes >= 4 GiB the low dword has no writable bit.
     */
    cfg_put(f->wmask, PCI_CFG_BAR0, bar_wmask, 8);
}

int pci_func_init(struct pci_func *f, const struct pci_func_params *p, bar_window_change_fn fn,
                  void *opaque)
{
    int rc;

    if (!f)
        return -EINVAL;
    rc = pci_func_params_check(p, fn);
    if (rc < 0)
        return rc;

    memset(f, 0, sizeof(*f));
    pci_func_build_header(f, p);
    f->bar_size = p->bar_size;
    f->window_change = fn;
    f->opaque = opaque;
    f->window = bar_window_derive(f);
    return 0;
}

int pci_func_config_read(const struct pci_func *f, uint32_t reg, uint32_t size, uint32_t *val)
{
    if (!config_access_valid(reg, size)) {
        *val = config_all_ones(size);
        return -EINVAL;
    }
    *val = (uint32_t)cfg_get(f->cfg, reg, size);
    return 0;
}

int pci_func_config_write(struct pci_func *f, uint32_t reg, uint32_t size, uint32_t val)
{
    uint8_t saved[4];
    uint16_t old_cmd, new_cmd;
    struct bar_window old_win, new_win;
    int rc;

    if (!config_access_valid(reg, size))
        return -EINVAL;

    old_cmd = (uint16_t)cfg_get(f->cfg, PCI_CFG_COMMAND, 2);
    memcpy(saved, &f->cfg[reg], size);
    /* Byte by byte through the mask, whatever the access size (not kvmtool's whole copy). */
    for (uint32_t i = 0; i < size; i++) {
        uint8_t m = f->wmask[reg + i];
        uint8_t b = (uint8_t)(val >> (8 * i));

        f->cfg[reg + i] = (uint8_t)((f->cfg[reg + i] & ~m) | (b & m));
    }
    new_cmd = (uint16_t)cfg_get(f->cfg, PCI_CFG_COMMAND, 2);

    /* Only COMMAND.MEMORY and the BAR address decide the window. */
    if (!((old_cmd ^ new_cmd) & PCI_COMMAND_MEMORY) && !range_overlaps(reg, size, PCI_CFG_BAR0, 8))
        return 0;

    old_win = f->window;
    new_win = bar_window_derive(f);
    if (bar_window_equal(&old_win, &new_win))
        return 0;

    /*
     * The callback sees the header already holding the new value while
     * f->window still says what is claimed. A positive return breaks the
     * convention but must still fail the write, never look like success.
     */
    rc = f->window_change(f->opaque, &old_win, &new_win);
    if (rc != 0) {
        /* The old window is still claimed: make the header say so again. */
        memcpy(&f->cfg[reg], saved, size);
        return rc < 0 ? rc : -EIO;
    }
    f->window = new_win;
    return 0;
}

int pci_func_restore(struct pci_func *f, const uint8_t saved[PCI_CFG_SPACE_SIZE])
{
    /* Read-only bytes (IDs, class, BAR flags, capability) must be ours exactly. */
    for (uint32_t i = 0; i < PCI_CFG_SPACE_SIZE; i++)
        if ((saved[i] & ~f->wmask[i]) != (f->cfg[i] & ~f->wmask[i]))
            return -EINVAL;
    for (uint32_t i = 0; i < PCI_CFG_SPACE_SIZE; i++)
        f->cfg[i] = (uint8_t)((f->cfg[i] & ~f->wmask[i]) | (saved[i] & f->wmask[i]));
    /* What the previous daemon decoded is still claimed: no callback. */
    f->window = bar_window_derive(f);
    return 0;
}

void pci_func_stop_decoding(struct pci_func *f)
{
    uint16_t cmd = (uint16_t)cfg_get(f->cfg, PCI_CFG_COMMAND, 2);

    cfg_put(f->cfg, PCI_CFG_COMMAND, cmd & ~PCI_COMMAND_MEMORY, 2);
    f->window = bar_window_derive(f);
}

uint64_t pci_func_bar_address(const struct pci_func *f)
{
    return cfg_get(f->cfg, PCI_CFG_BAR0, 8) & ~PCI_BAR_LOW_BITS;
}
