/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for bar.c: the emulated function's config space.
 *
 * Expected values are written out here from the PCI specification, not taken
 * from bar.c, so a wrong mask or a wrong byte order in bar.c fails a test.
 * The window callback is a fake ioreq server: it records every call, can be
 * told to fail, and checks that the device always reports the window that is
 * really claimed (so a rollback that forgets anything is caught on the next
 * call).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "bar.h"
#include "util.h"

/* From the PCI Local Bus Specification 3.0, 6.2.2, independent of bar.c. */
#define CMD_IO           0x0001
#define CMD_MEMORY       0x0002
#define CMD_MASTER       0x0004
#define CMD_PARITY       0x0040
#define CMD_SERR         0x0100
#define CMD_INTX_DISABLE 0x0400
#define CMD_WRITABLE     0x0546

#define T_VENDOR     0x5853
#define T_DEVICE     0x1e4d
#define T_SUBVENDOR  0xabcd
#define T_SUBDEVICE  0x0123
#define T_CLASS      0x058012 /* distinct bytes, so a byte-order slip shows */
#define T_REVISION   0x44
#define T_BAR_SIZE   (256 * MiB)
#define T_RESIDENT   (64 * MiB)
#define T_ADDR       0xe0000000ULL
#define MAX_RECORDED 8

struct fake_server {
    int calls;
    int fail_rc;               /* returned instead of accepting, when non-zero */
    struct bar_window claimed; /* what this fake ioreq server has claimed */
    struct bar_window old_seen[MAX_RECORDED];
    struct bar_window new_seen[MAX_RECORDED];
};

struct fixture {
    struct pci_func f;
    struct fake_server srv;
};

static bool win_eq(const struct bar_window *a, const struct bar_window *b)
{
    return a->enabled == b->enabled && a->base == b->base && a->size == b->size;
}

static int fake_window_change(void *opaque, const struct bar_window *old_win,
                              const struct bar_window *new_win)
{
    struct fake_server *srv = opaque;

    /* The device must hand over exactly what is claimed now, and a real change. */
    assert_true(win_eq(old_win, &srv->claimed));
    assert_false(win_eq(old_win, new_win));
    if (srv->calls < MAX_RECORDED) {
        srv->old_seen[srv->calls] = *old_win;
        srv->new_seen[srv->calls] = *new_win;
    }
    srv->calls++;
    if (srv->fail_rc != 0)
        return srv->fail_rc;
    srv->claimed = *new_win;
    return 0;
}

static struct pci_func_params default_params(uint64_t bar_size)
{
    struct pci_func_params p = {
        .ids =
            {
                .vendor_id = T_VENDOR,
                .device_id = T_DEVICE,
                .subsystem_vendor_id = T_SUBVENDOR,
                .subsystem_id = T_SUBDEVICE,
                .class_code = T_CLASS,
                .revision = T_REVISION,
            },
        .bar_size = bar_size,
        .mode = LEND_CAP_MODE_LEND,
        .cap_flags = LEND_CAP_F_LOST_ZERO,
        .resident_size = MIN(T_RESIDENT, bar_size),
    };
    return p;
}

/* (Re)start the fixture with a fresh function of this BAR size. */
static void fixture_init(struct fixture *fx, uint64_t bar_size)
{
    struct pci_func_params p = default_params(bar_size);

    memset(fx, 0, sizeof(*fx));
    fx->srv.claimed = (struct bar_window){.enabled = false, .base = 0, .size = bar_size};
    assert_int_equal(pci_func_init(&fx->f, &p, fake_window_change, &fx->srv), 0);
}

static int setup(void **state)
{
    struct fixture *fx = test_malloc(sizeof(*fx));

    fixture_init(fx, T_BAR_SIZE);
    *state = fx;
    return 0;
}

static int teardown(void **state)
{
    test_free(*state);
    return 0;
}

static uint32_t rd(const struct pci_func *f, uint32_t reg, uint32_t size)
{
    uint32_t v = 0x5a5a5a5a;

    assert_int_equal(pci_func_config_read(f, reg, size, &v), 0);
    return v;
}

static void wr(struct pci_func *f, uint32_t reg, uint32_t size, uint32_t val)
{
    assert_int_equal(pci_func_config_write(f, reg, size, val), 0);
}

/* The whole space as the guest sees it, through byte reads. */
static void snapshot(const struct pci_func *f, uint8_t img[PCI_CFG_SPACE_SIZE])
{
    for (uint32_t i = 0; i < PCI_CFG_SPACE_SIZE; i++)
        img[i] = (uint8_t)rd(f, i, 1);
}

static uint64_t rd_bar64(const struct pci_func *f)
{
    return (uint64_t)rd(f, PCI_CFG_BAR1, 4) << 32 | rd(f, PCI_CFG_BAR0, 4);
}

/* Firmware's placement: two dword writes, low first. */
static void program_bar(struct pci_func *f, uint64_t addr)
{
    wr(f, PCI_CFG_BAR0, 4, (uint32_t)addr);
    wr(f, PCI_CFG_BAR1, 4, (uint32_t)(addr >> 32));
}

static void assert_window(const struct bar_window *w, bool enabled, uint64_t base, uint64_t size)
{
    assert_int_equal(w->enabled, enabled);
    assert_int_equal(w->base, base);
    assert_int_equal(w->size, size);
}

/* The writable bits of each byte, from the requirements (not from bar.c). */
static uint8_t expected_wmask(uint32_t off, uint64_t bar_size)
{
    switch (off) {
    case 0x04:
        return CMD_WRITABLE & 0xff;
    case 0x05:
        return CMD_WRITABLE >> 8;
    case 0x0c: /* cache line size */
    case 0x3c: /* interrupt line */
        return 0xff;
    default:
        break;
    }
    if (off >= 0x10 && off < 0x18) {
        uint64_t m = ~(bar_size - 1) & ~0xfULL;
        return (uint8_t)(m >> (8 * (off - 0x10)));
    }
    return 0;
}

/* --- power-on state --------------------------------------------------- */

static void init_builds_header(void **state)
{
    struct fixture *fx = *state;
    uint8_t expect[PCI_CFG_SPACE_SIZE] = {0};
    uint8_t img[PCI_CFG_SPACE_SIZE];

    /* Little-endian, byte by byte, as the spec lays it out. */
    expect[0x00] = 0x53, expect[0x01] = 0x58;                      /* vendor */
    expect[0x02] = 0x4d, expect[0x03] = 0x1e;                      /* device */
    expect[0x06] = 0x10;                                           /* status: capability list */
    expect[0x08] = 0x44;                                           /* revision */
    expect[0x09] = 0x12, expect[0x0a] = 0x80, expect[0x0b] = 0x05; /* prog-if, sub, base */
    expect[0x10] = 0x0c;                      /* 64-bit prefetchable memory, address 0 */
    expect[0x2c] = 0xcd, expect[0x2d] = 0xab; /* subsystem vendor */
    expect[0x2e] = 0x23, expect[0x2f] = 0x01; /* subsystem */
    expect[0x34] = 0x40;                      /* capability pointer */
    expect[0x40] = 0x09, expect[0x41] = 0x00, expect[0x42] = 24, expect[0x43] = 1;
    expect[0x44] = 0, expect[0x45] = LEND_CAP_MODE_LEND, expect[0x46] = 0x01, expect[0x47] = 0;
    expect[0x4b] = 0x10; /* size 0x10000000 */
    expect[0x53] = 0x04; /* resident 0x04000000 */

    snapshot(&fx->f, img);
    assert_memory_equal(img, expect, sizeof(expect));

    /* Wider reads assemble the same bytes little-endian. */
    assert_int_equal(rd(&fx->f, 0x00, 4), 0x1e4d5853);
    assert_int_equal(rd(&fx->f, 0x00, 2), 0x5853);
    assert_int_equal(rd(&fx->f, 0x02, 2), 0x1e4d);
    assert_int_equal(rd(&fx->f, 0x04, 4), 0x00100000);
    assert_int_equal(rd(&fx->f, 0x08, 4), 0x05801244);
    assert_int_equal(rd(&fx->f, 0x0c, 4), 0x00000000); /* header type 0: single function */
    assert_int_equal(rd(&fx->f, 0x2c, 4), 0x0123abcd);
    assert_int_equal(rd(&fx->f, 0x3c, 4), 0x00000000); /* pin 0: no interrupt */

    assert_window(&fx->f.window, false, 0, T_BAR_SIZE);
    assert_int_equal(pci_func_bar_address(&fx->f), 0);
    assert_int_equal(fx->srv.calls, 0);
}

static void capability_contents(void **state)
{
    struct fixture *fx = *state;
    struct pci_func_params p = default_params(1 * TiB);
    uint32_t cap = LEND_CAP_OFFSET;

    /* Walk the list the way a guest driver does. */
    assert_true(rd(&fx->f, PCI_CFG_STATUS, 2) & 0x0010);
    assert_int_equal(rd(&fx->f, PCI_CFG_CAP_PTR, 1), 0x40);
    assert_int_equal(rd(&fx->f, cap, 1), 0x09);
    assert_int_equal(rd(&fx->f, cap + 1, 1), 0x00);
    assert_int_equal(rd(&fx->f, cap + 2, 1), 24);
    assert_int_equal(rd(&fx->f, cap + 3, 1), 1);
    assert_int_equal(rd(&fx->f, cap + 4, 1), 0);
    assert_int_equal(rd(&fx->f, cap + 5, 1), LEND_CAP_MODE_LEND);
    assert_int_equal(rd(&fx->f, cap + 6, 2), LEND_CAP_F_LOST_ZERO);
    assert_int_equal(rd(&fx->f, cap + 8, 4), 0x10000000);
    assert_int_equal(rd(&fx->f, cap + 12, 4), 0);
    assert_int_equal(rd(&fx->f, cap + 16, 4), 0x04000000);
    assert_int_equal(rd(&fx->f, cap + 20, 4), 0);
    assert_int_equal(rd(&fx->f, cap + 24, 4), 0); /* nothing after it */

    /* Both u64 halves, with a size above 4 GiB, in emulate mode without flags. */
    p.mode = LEND_CAP_MODE_EMULATE;
    p.cap_flags = 0;
    p.resident_size = 1 * TiB;
    assert_int_equal(pci_func_init(&fx->f, &p, fake_window_change, &fx->srv), 0);
    assert_int_equal(rd(&fx->f, cap + 5, 1), LEND_CAP_MODE_EMULATE);
    assert_int_equal(rd(&fx->f, cap + 6, 2), 0);
    assert_int_equal(rd(&fx->f, cap + 8, 4), 0);
    assert_int_equal(rd(&fx->f, cap + 12, 4), 0x100);
    assert_int_equal(rd(&fx->f, cap + 16, 4), 0);
    assert_int_equal(rd(&fx->f, cap + 20, 4), 0x100);
}

/* --- write masks --------------------------------------------------------- */

/*
 * Every naturally aligned access of every size, on a fresh function each
 * time: all ones then all zeros. Each byte must end as
 * (old & ~wmask) | (val & wmask), and no byte outside the access may change.
 */
static void check_mask_table(uint64_t bar_size)
{
    static const uint32_t sizes[] = {1, 2, 4};
    static const uint32_t patterns[] = {0xffffffff, 0x00000000};
    struct fixture fx;

    for (size_t s = 0; s < ARRAY_SIZE(sizes); s++) {
        uint32_t size = sizes[s];

        for (uint32_t reg = 0; reg < PCI_CFG_SPACE_SIZE; reg += size) {
            fixture_init(&fx, bar_size);
            for (size_t k = 0; k < ARRAY_SIZE(patterns); k++) {
                uint8_t before[PCI_CFG_SPACE_SIZE], after[PCI_CFG_SPACE_SIZE];

                snapshot(&fx.f, before);
                wr(&fx.f, reg, size, patterns[k]);
                snapshot(&fx.f, after);
                for (uint32_t i = 0; i < PCI_CFG_SPACE_SIZE; i++) {
                    uint8_t m = expected_wmask(i, bar_size);
                    uint8_t v = (uint8_t)patterns[k];
                    uint8_t want = (i >= reg && i < reg + size)
                                       ? (uint8_t)((before[i] & ~m) | (v & m))
                                       : before[i];

                    if (after[i] != want)
                        fail_msg("size %u write %#x at %#x: byte %#x is %#x, want %#x", size,
                                 patterns[k], reg, i, after[i], want);
                }
            }
            /* The BAR never held a placed address with decoding on: no window. */
            assert_int_equal(fx.srv.calls, 0);
        }
    }
}

static void write_masks_every_register_every_size(void **state)
{
    (void)state;
    check_mask_table(4 * KiB);
    check_mask_table(256 * MiB);
    check_mask_table(4 * GiB);
    check_mask_table(8 * GiB);
    check_mask_table(1 * TiB);
}

static void command_writable_bits_only(void **state)
{
    struct fixture *fx = *state;

    wr(&fx->f, PCI_CFG_COMMAND, 2, 0xffff);
    assert_int_equal(rd(&fx->f, PCI_CFG_COMMAND, 2), CMD_WRITABLE);
    assert_int_equal(rd(&fx->f, PCI_CFG_COMMAND, 2) & CMD_IO, 0); /* no I/O BAR */
    wr(&fx->f, PCI_CFG_COMMAND, 2, 0);
    assert_int_equal(rd(&fx->f, PCI_CFG_COMMAND, 2), 0);

    /* Byte writes reach each half alone. */
    wr(&fx->f, PCI_CFG_COMMAND + 1, 1, 0xff);
    assert_int_equal(rd(&fx->f, PCI_CFG_COMMAND, 2), CMD_SERR | CMD_INTX_DISABLE);
    wr(&fx->f, PCI_CFG_COMMAND, 1, 0xff);
    assert_int_equal(rd(&fx->f, PCI_CFG_COMMAND, 2), CMD_WRITABLE);
    wr(&fx->f, PCI_CFG_COMMAND, 1, CMD_PARITY);
    assert_int_equal(rd(&fx->f, PCI_CFG_COMMAND, 2), CMD_PARITY | CMD_SERR | CMD_INTX_DISABLE);

    /* A dword write at 0x04 leaves STATUS alone (no RW1C bits emulated either). */
    wr(&fx->f, PCI_CFG_COMMAND, 4, 0xffff0000 | CMD_MASTER);
    assert_int_equal(rd(&fx->f, PCI_CFG_COMMAND, 4), 0x00100000 | CMD_MASTER);
    assert_int_equal(fx->srv.calls, 0); /* BAR unplaced: nothing to decode */
}

static void status_and_ids_read_only(void **state)
{
    struct fixture *fx = *state;

    wr(&fx->f, PCI_CFG_STATUS, 2, 0xffff);
    assert_int_equal(rd(&fx->f, PCI_CFG_STATUS, 2), 0x0010);
    wr(&fx->f, PCI_CFG_STATUS, 2, 0);
    assert_int_equal(rd(&fx->f, PCI_CFG_STATUS, 2), 0x0010);
    wr(&fx->f, PCI_CFG_VENDOR_ID, 4, 0);
    assert_int_equal(rd(&fx->f, PCI_CFG_VENDOR_ID, 4), 0x1e4d5853);
    wr(&fx->f, PCI_CFG_REVISION, 4, 0xffffffff);
    assert_int_equal(rd(&fx->f, PCI_CFG_REVISION, 4), 0x05801244);
    wr(&fx->f, PCI_CFG_SUBSYS_VENDOR, 4, 0x11111111);
    assert_int_equal(rd(&fx->f, PCI_CFG_SUBSYS_VENDOR, 4), 0x0123abcd);
    wr(&fx->f, PCI_CFG_CAP_PTR, 1, 0x80);
    assert_int_equal(rd(&fx->f, PCI_CFG_CAP_PTR, 1), 0x40);
}

/* kvmtool's bug: it saw a writable byte in the dword and copied all four. */
static void dword_write_at_0x0c_keeps_header_type(void **state)
{
    struct fixture *fx = *state;

    wr(&fx->f, PCI_CFG_CACHE_LINE, 4, 0xffffffff);
    assert_int_equal(rd(&fx->f, PCI_CFG_HEADER_TYPE, 1), 0x00);
    assert_int_equal(rd(&fx->f, PCI_CFG_LATENCY, 1), 0x00);
    assert_int_equal(rd(&fx->f, 0x0f, 1), 0x00); /* BIST */
    assert_int_equal(rd(&fx->f, PCI_CFG_CACHE_LINE, 4), 0x000000ff);
    wr(&fx->f, PCI_CFG_CACHE_LINE, 2, 0x8010);
    assert_int_equal(rd(&fx->f, PCI_CFG_CACHE_LINE, 4), 0x00000010);
}

static void interrupt_line_writable_pin_zero(void **state)
{
    struct fixture *fx = *state;

    wr(&fx->f, PCI_CFG_INTERRUPT_LINE, 4, 0xffffffff);
    assert_int_equal(rd(&fx->f, PCI_CFG_INTERRUPT_LINE, 4), 0x000000ff);
    wr(&fx->f, PCI_CFG_INTERRUPT_LINE, 2, 0x010b);
    assert_int_equal(rd(&fx->f, PCI_CFG_INTERRUPT_LINE, 1), 0x0b);
    assert_int_equal(rd(&fx->f, PCI_CFG_INTERRUPT_PIN, 1), 0x00);
}

static void unused_bars_and_rom_hardwired_zero(void **state)
{
    struct fixture *fx = *state;

    for (uint32_t reg = 0x18; reg <= 0x24; reg += 4) {
        wr(&fx->f, reg, 4, 0xffffffff);
        assert_int_equal(rd(&fx->f, reg, 4), 0);
    }
    /* ROM sizing: all ones but the enable bit, then all ones. */
    wr(&fx->f, PCI_CFG_ROM_ADDRESS, 4, 0xfffff800);
    assert_int_equal(rd(&fx->f, PCI_CFG_ROM_ADDRESS, 4), 0);
    wr(&fx->f, PCI_CFG_ROM_ADDRESS, 4, 0xffffffff);
    assert_int_equal(rd(&fx->f, PCI_CFG_ROM_ADDRESS, 4), 0);
}

static void capability_read_only(void **state)
{
    struct fixture *fx = *state;
    uint8_t before[PCI_CFG_SPACE_SIZE], after[PCI_CFG_SPACE_SIZE];

    snapshot(&fx->f, before);
    for (uint32_t reg = LEND_CAP_OFFSET; reg < LEND_CAP_OFFSET + LEND_CAP_LEN; reg += 4) {
        wr(&fx->f, reg, 4, 0xffffffff);
        wr(&fx->f, reg, 2, 0);
        wr(&fx->f, reg + 3, 1, 0x77);
    }
    snapshot(&fx->f, after);
    assert_memory_equal(before, after, sizeof(before));
}

/* --- access rules --------------------------------------------------------- */

static void bad_accesses_rejected(void **state)
{
    struct fixture *fx = *state;
    static const struct {
        uint32_t reg, size, ones;
    } bad[] = {
        {0x01, 2, 0xffff},      {0x03, 2, 0xffff},
        {0x02, 4, 0xffffffff},  {0x11, 4, 0xffffffff},
        {0x13, 4, 0xffffffff},  {0x06, 4, 0xffffffff},
        {0x100, 1, 0xff},       {0x100, 4, 0xffffffff},
        {0x1fc, 4, 0xffffffff}, {0xfffffffc, 4, 0xffffffff},
        {0xffffffff, 1, 0xff},  {0xfffffffe, 2, 0xffff},
        {0x04, 0, 0xffffffff},  {0x04, 3, 0xffffffff},
        {0x00, 8, 0xffffffff},  {0x00, 0xffffffff, 0xffffffff},
        {0x00, 3, 0xffffffff},  {0x0c, 3, 0xffffffff},
        {0x00, 16, 0xffffffff},
    };
    uint8_t before[PCI_CFG_SPACE_SIZE], after[PCI_CFG_SPACE_SIZE];

    /* Place the BAR and enable decoding, so a leaked write would show. */
    program_bar(&fx->f, T_ADDR);
    wr(&fx->f, PCI_CFG_COMMAND, 2, CMD_MEMORY);
    assert_int_equal(fx->srv.calls, 1);
    snapshot(&fx->f, before);

    for (size_t i = 0; i < ARRAY_SIZE(bad); i++) {
        uint32_t v = 0x12345678;

        assert_int_equal(pci_func_config_read(&fx->f, bad[i].reg, bad[i].size, &v), -EINVAL);
        assert_int_equal(v, bad[i].ones);
        assert_int_equal(pci_func_config_write(&fx->f, bad[i].reg, bad[i].size, 0), -EINVAL);
        assert_int_equal(pci_func_config_write(&fx->f, bad[i].reg, bad[i].size, 0xffffffff),
                         -EINVAL);
    }
    snapshot(&fx->f, after);
    assert_memory_equal(before, after, sizeof(before));
    assert_int_equal(fx->srv.calls, 1);
    assert_window(&fx->f.window, true, T_ADDR, T_BAR_SIZE);

    /* The last byte, word and dword are inside. */
    assert_int_equal(rd(&fx->f, 0xff, 1), 0);
    assert_int_equal(rd(&fx->f, 0xfe, 2), 0);
    assert_int_equal(rd(&fx->f, 0xfc, 4), 0);
    wr(&fx->f, 0xfc, 4, 0xffffffff);
}

/* --- BAR sizing ------------------------------------------------------------ */

static void check_sizing(uint64_t bar_size, uint32_t want_lo, uint32_t want_hi)
{
    struct fixture fx;
    uint64_t bar;

    fixture_init(&fx, bar_size);
    wr(&fx.f, PCI_CFG_BAR0, 4, 0xffffffff);
    assert_int_equal(rd(&fx.f, PCI_CFG_BAR0, 4), want_lo);
    wr(&fx.f, PCI_CFG_BAR1, 4, 0xffffffff);
    assert_int_equal(rd(&fx.f, PCI_CFG_BAR1, 4), want_hi);
    assert_int_equal(rd(&fx.f, PCI_CFG_BAR0, 4), want_lo);

    /* What firmware computes from it. */
    bar = rd_bar64(&fx.f);
    assert_int_equal(bar & 0xf, 0xc);
    assert_int_equal(~(bar & ~0xfULL) + 1, bar_size);

    /* High dword first (some firmware), same result. */
    fixture_init(&fx, bar_size);
    wr(&fx.f, PCI_CFG_BAR1, 4, 0xffffffff);
    wr(&fx.f, PCI_CFG_BAR0, 4, 0xffffffff);
    assert_int_equal(rd_bar64(&fx.f), bar);

    /* Restoring 0 brings the flags back, not a 0 dword. */
    program_bar(&fx.f, 0);
    assert_int_equal(rd(&fx.f, PCI_CFG_BAR0, 4), 0xc);
    assert_int_equal(rd(&fx.f, PCI_CFG_BAR1, 4), 0);
    assert_int_equal(fx.srv.calls, 0);
    assert_false(fx.f.window.enabled);
}

static void bar_sizing_4k(void **state)
{
    (void)state;
    check_sizing(4 * KiB, 0xfffff00c, 0xffffffff);
}

static void bar_sizing_256m(void **state)
{
    (void)state;
    check_sizing(256 * MiB, 0xf000000c, 0xffffffff);
}

static void bar_sizing_4g(void **state)
{
    (void)state;
    check_sizing(4 * GiB, 0x0000000c, 0xffffffff);
}

static void bar_sizing_8g(void **state)
{
    (void)state;
    check_sizing(8 * GiB, 0x0000000c, 0xfffffffe);
}

static void bar_sizing_1t(void **state)
{
    (void)state;
    check_sizing(1 * TiB, 0x0000000c, 0xffffff00);
}

static void bar_address_bits_below_size_read_zero(void **state)
{
    struct fixture *fx = *state;

    wr(&fx->f, PCI_CFG_BAR0, 4, 0xe7654321);
    assert_int_equal(rd(&fx->f, PCI_CFG_BAR0, 4), 0xe000000c);
    wr(&fx->f, PCI_CFG_BAR1, 4, 0x12345678);
    assert_int_equal(rd(&fx->f, PCI_CFG_BAR1, 4), 0x12345678);
    assert_int_equal(pci_func_bar_address(&fx->f), 0x12345678e0000000ULL);

    /* Above 4 GiB the whole low dword is fixed. */
    fixture_init(fx, 8 * GiB);
    program_bar(&fx->f, 0x0000000bfffffff0ULL);
    assert_int_equal(rd(&fx->f, PCI_CFG_BAR0, 4), 0x0000000c);
    assert_int_equal(rd(&fx->f, PCI_CFG_BAR1, 4), 0x0000000a);
    assert_int_equal(pci_func_bar_address(&fx->f), 0x0000000a00000000ULL);
}

/* --- partial writes into the BAR --------------------------------------- */

static void bar_byte_and_word_writes(void **state)
{
    struct fixture *fx = *state;

    wr(&fx->f, PCI_CFG_BAR0 + 3, 1, 0xe5);
    assert_int_equal(rd(&fx->f, PCI_CFG_BAR0, 4), 0xe000000c);
    wr(&fx->f, PCI_CFG_BAR0, 1, 0xff); /* flags and address bits below the size */
    wr(&fx->f, PCI_CFG_BAR0 + 1, 1, 0xff);
    wr(&fx->f, PCI_CFG_BAR0 + 2, 1, 0xff);
    assert_int_equal(rd(&fx->f, PCI_CFG_BAR0, 4), 0xe000000c);
    wr(&fx->f, PCI_CFG_BAR0 + 2, 2, 0xd0ff);
    assert_int_equal(rd(&fx->f, PCI_CFG_BAR0, 4), 0xd000000c);
    wr(&fx->f, PCI_CFG_BAR0, 2, 0x0000);
    assert_int_equal(rd(&fx->f, PCI_CFG_BAR0, 4), 0xd000000c);
    wr(&fx->f, PCI_CFG_BAR1, 1, 0x01);
    wr(&fx->f, PCI_CFG_BAR1 + 2, 2, 0x0203);
    assert_int_equal(rd(&fx->f, PCI_CFG_BAR1, 4), 0x02030001);
    assert_int_equal(pci_func_bar_address(&fx->f), 0x02030001d0000000ULL);
    assert_int_equal(fx->srv.calls, 0); /* decoding off */

    /* With decoding on, a byte write moves the window: one callback each. */
    program_bar(&fx->f, T_ADDR);
    wr(&fx->f, PCI_CFG_COMMAND, 1, CMD_MEMORY);
    assert_int_equal(fx->srv.calls, 1);
    wr(&fx->f, PCI_CFG_BAR1, 1, 0x01);
    assert_int_equal(fx->srv.calls, 2);
    assert_window(&fx->srv.old_seen[1], true, T_ADDR, T_BAR_SIZE);
    assert_window(&fx->srv.new_seen[1], true, 0x1e0000000ULL, T_BAR_SIZE);
    wr(&fx->f, PCI_CFG_BAR0 + 2, 2, 0xc000);
    assert_int_equal(fx->srv.calls, 3);
    assert_window(&fx->srv.new_seen[2], true, 0x1c0000000ULL, T_BAR_SIZE);
    /* A byte write that changes no writable bit changes nothing. */
    wr(&fx->f, PCI_CFG_BAR0, 1, 0xff);
    assert_int_equal(fx->srv.calls, 3);
    assert_window(&fx->f.window, true, 0x1c0000000ULL, T_BAR_SIZE);
}

/* --- decoding and the window ----------------------------------------------- */

static void decode_on_off_one_callback_each(void **state)
{
    struct fixture *fx = *state;

    program_bar(&fx->f, T_ADDR);
    assert_int_equal(fx->srv.calls, 0);
    assert_false(fx->f.window.enabled);

    wr(&fx->f, PCI_CFG_COMMAND, 2, CMD_MEMORY | CMD_MASTER);
    assert_int_equal(fx->srv.calls, 1);
    assert_window(&fx->srv.old_seen[0], false, 0, T_BAR_SIZE);
    assert_window(&fx->srv.new_seen[0], true, T_ADDR, T_BAR_SIZE);
    assert_window(&fx->f.window, true, T_ADDR, T_BAR_SIZE);

    /* Other COMMAND bits, the same BAR value again: no change, no call. */
    wr(&fx->f, PCI_CFG_COMMAND, 2, CMD_MEMORY);
    wr(&fx->f, PCI_CFG_COMMAND, 2, CMD_MEMORY | CMD_SERR | CMD_PARITY);
    program_bar(&fx->f, T_ADDR);
    wr(&fx->f, PCI_CFG_COMMAND + 1, 1, 0x00);
    assert_int_equal(fx->srv.calls, 1);

    wr(&fx->f, PCI_CFG_COMMAND, 2, CMD_MASTER);
    assert_int_equal(fx->srv.calls, 2);
    assert_window(&fx->srv.old_seen[1], true, T_ADDR, T_BAR_SIZE);
    assert_window(&fx->srv.new_seen[1], false, 0, T_BAR_SIZE);
    assert_window(&fx->f.window, false, 0, T_BAR_SIZE);
    assert_int_equal(pci_func_bar_address(&fx->f), T_ADDR); /* kept while off */
}

static void decode_on_unplaced_bar_no_window(void **state)
{
    struct fixture *fx = *state;

    wr(&fx->f, PCI_CFG_COMMAND, 2, CMD_MEMORY);
    assert_int_equal(fx->srv.calls, 0);
    assert_false(fx->f.window.enabled);

    /* Placing it while decoding is on claims it (one dword suffices below 4 GiB). */
    wr(&fx->f, PCI_CFG_BAR0, 4, (uint32_t)T_ADDR);
    assert_int_equal(fx->srv.calls, 1);
    assert_window(&fx->srv.new_seen[0], true, T_ADDR, T_BAR_SIZE);
    wr(&fx->f, PCI_CFG_BAR1, 4, 0); /* same upper half: no change */
    assert_int_equal(fx->srv.calls, 1);

    /* Back to 0 releases it. */
    wr(&fx->f, PCI_CFG_BAR0, 4, 0);
    assert_int_equal(fx->srv.calls, 2);
    assert_window(&fx->srv.new_seen[1], false, 0, T_BAR_SIZE);
}

static void bar_moved_while_decoding(void **state)
{
    struct fixture *fx = *state;

    program_bar(&fx->f, 0x1e0000000ULL);
    wr(&fx->f, PCI_CFG_COMMAND, 2, CMD_MEMORY);
    assert_int_equal(fx->srv.calls, 1);

    /* Each dword write is a real decoded address in between, like hardware. */
    program_bar(&fx->f, 0x2c0000000ULL);
    assert_int_equal(fx->srv.calls, 3);
    assert_window(&fx->srv.old_seen[1], true, 0x1e0000000ULL, T_BAR_SIZE);
    assert_window(&fx->srv.new_seen[1], true, 0x1c0000000ULL, T_BAR_SIZE);
    assert_window(&fx->srv.old_seen[2], true, 0x1c0000000ULL, T_BAR_SIZE);
    assert_window(&fx->srv.new_seen[2], true, 0x2c0000000ULL, T_BAR_SIZE);
    assert_window(&fx->f.window, true, 0x2c0000000ULL, T_BAR_SIZE);

    /* An intermediate address of 0 is not a placement: released, then claimed. */
    program_bar(&fx->f, 0x0e0000000ULL);
    program_bar(&fx->f, 0x100000000ULL);
    assert_int_equal(fx->srv.calls, 7);
    assert_window(&fx->srv.new_seen[5], false, 0, T_BAR_SIZE);
    assert_window(&fx->srv.new_seen[6], true, 0x100000000ULL, T_BAR_SIZE);
}

static void bar_moved_while_not_decoding(void **state)
{
    struct fixture *fx = *state;

    program_bar(&fx->f, T_ADDR);
    program_bar(&fx->f, 0x2c0000000ULL);
    wr(&fx->f, PCI_CFG_BAR1 + 1, 1, 0x7f);
    wr(&fx->f, PCI_CFG_BAR0 + 2, 2, 0x1000);
    assert_int_equal(fx->srv.calls, 0);
    assert_window(&fx->f.window, false, 0, T_BAR_SIZE);
    assert_int_equal(pci_func_bar_address(&fx->f), 0x00007f0210000000ULL);

    /* Enabling now claims the final address only. */
    wr(&fx->f, PCI_CFG_COMMAND, 2, CMD_MEMORY);
    assert_int_equal(fx->srv.calls, 1);
    assert_window(&fx->srv.new_seen[0], true, 0x00007f0210000000ULL, T_BAR_SIZE);
}

static void check_sizing_pattern_never_decodes(uint64_t bar_size)
{
    struct fixture fx;

    /* Sized with decoding off, then decoding turned on before restoring. */
    fixture_init(&fx, bar_size);
    program_bar(&fx.f, UINT64_MAX);
    wr(&fx.f, PCI_CFG_COMMAND, 2, CMD_MEMORY);
    assert_int_equal(fx.srv.calls, 0);
    assert_false(fx.f.window.enabled);

    /* Sized with decoding on: the window must be gone once both dwords hold it. */
    fixture_init(&fx, bar_size);
    program_bar(&fx.f, 0x8000000000ULL);
    wr(&fx.f, PCI_CFG_COMMAND, 2, CMD_MEMORY);
    assert_true(fx.f.window.enabled);
    program_bar(&fx.f, UINT64_MAX);
    assert_false(fx.f.window.enabled);
    assert_false(fx.srv.claimed.enabled);
    /* ... and restoring it brings it back. */
    program_bar(&fx.f, 0x8000000000ULL);
    assert_window(&fx.f.window, true, 0x8000000000ULL, bar_size);
}

static void sizing_pattern_never_decodes(void **state)
{
    (void)state;
    check_sizing_pattern_never_decodes(4 * KiB);
    check_sizing_pattern_never_decodes(256 * MiB);
    check_sizing_pattern_never_decodes(4 * GiB);
    check_sizing_pattern_never_decodes(8 * GiB);
}

static void window_above_4g_for_large_bar(void **state)
{
    struct fixture *fx = *state;

    fixture_init(fx, 8 * GiB);
    program_bar(&fx->f, 0x800000000ULL);
    assert_int_equal(fx->srv.calls, 0);
    wr(&fx->f, PCI_CFG_COMMAND, 2, CMD_MEMORY);
    assert_int_equal(fx->srv.calls, 1);
    assert_window(&fx->srv.new_seen[0], true, 0x800000000ULL, 8 * GiB);

    fixture_init(fx, 1 * TiB);
    program_bar(&fx->f, 0x10000000000ULL);
    wr(&fx->f, PCI_CFG_COMMAND, 2, CMD_MEMORY);
    assert_window(&fx->f.window, true, 0x10000000000ULL, 1 * TiB);
}

/* --- callback failure ------------------------------------------------------- */

static void failed_enable_rolls_back(void **state)
{
    struct fixture *fx = *state;
    uint8_t before[PCI_CFG_SPACE_SIZE], after[PCI_CFG_SPACE_SIZE];

    program_bar(&fx->f, T_ADDR);
    snapshot(&fx->f, before);
    fx->srv.fail_rc = -ENOMEM;
    /* One dword write touching COMMAND and STATUS: all of it is undone. */
    assert_int_equal(pci_func_config_write(&fx->f, PCI_CFG_COMMAND, 4, CMD_MEMORY | CMD_MASTER),
                     -ENOMEM);
    assert_int_equal(fx->srv.calls, 1);
    snapshot(&fx->f, after);
    assert_memory_equal(before, after, sizeof(before));
    assert_int_equal(rd(&fx->f, PCI_CFG_COMMAND, 2), 0);
    assert_window(&fx->f.window, false, 0, T_BAR_SIZE);

    /* The state is consistent: a retry works and sees the true old window. */
    fx->srv.fail_rc = 0;
    wr(&fx->f, PCI_CFG_COMMAND, 2, CMD_MEMORY);
    assert_int_equal(fx->srv.calls, 2);
    assert_window(&fx->f.window, true, T_ADDR, T_BAR_SIZE);
}

static void failed_move_rolls_back(void **state)
{
    struct fixture *fx = *state;
    uint8_t before[PCI_CFG_SPACE_SIZE], after[PCI_CFG_SPACE_SIZE];

    program_bar(&fx->f, 0x1e0000000ULL);
    wr(&fx->f, PCI_CFG_COMMAND, 2, CMD_MEMORY);
    snapshot(&fx->f, before);

    fx->srv.fail_rc = -EBUSY;
    assert_int_equal(pci_func_config_write(&fx->f, PCI_CFG_BAR0, 4, 0xc0000000), -EBUSY);
    assert_int_equal(pci_func_config_write(&fx->f, PCI_CFG_BAR1 + 1, 1, 0x12), -EBUSY);
    assert_int_equal(pci_func_config_write(&fx->f, PCI_CFG_BAR0 + 2, 2, 0xd000), -EBUSY);
    snapshot(&fx->f, after);
    assert_memory_equal(before, after, sizeof(before));
    assert_int_equal(rd_bar64(&fx->f), 0x1e000000cULL); /* the guest reads the old value */
    assert_window(&fx->f.window, true, 0x1e0000000ULL, T_BAR_SIZE);
    assert_int_equal(fx->srv.calls, 4);

    /* A two-dword move whose second half fails stops at the intermediate address. */
    fx->srv.fail_rc = 0;
    wr(&fx->f, PCI_CFG_BAR0, 4, 0xc0000000);
    fx->srv.fail_rc = -ENOSPC;
    assert_int_equal(pci_func_config_write(&fx->f, PCI_CFG_BAR1, 4, 2), -ENOSPC);
    assert_int_equal(rd_bar64(&fx->f), 0x1c000000cULL);
    assert_window(&fx->f.window, true, 0x1c0000000ULL, T_BAR_SIZE);
    assert_true(win_eq(&fx->f.window, &fx->srv.claimed));
}

static void failed_disable_rolls_back(void **state)
{
    struct fixture *fx = *state;

    program_bar(&fx->f, T_ADDR);
    wr(&fx->f, PCI_CFG_COMMAND, 2, CMD_MEMORY | CMD_MASTER);
    fx->srv.fail_rc = -EIO;
    assert_int_equal(pci_func_config_write(&fx->f, PCI_CFG_COMMAND, 1, CMD_MASTER), -EIO);
    assert_int_equal(rd(&fx->f, PCI_CFG_COMMAND, 2), CMD_MEMORY | CMD_MASTER);
    assert_window(&fx->f.window, true, T_ADDR, T_BAR_SIZE);

    /* Sizing with decoding on, refused: the BAR keeps its address. */
    assert_int_equal(pci_func_config_write(&fx->f, PCI_CFG_BAR0, 4, 0xffffffff), -EIO);
    assert_int_equal(rd(&fx->f, PCI_CFG_BAR0, 4), 0xe000000c);

    /* A callback breaking the convention with a positive value still fails the write. */
    fx->srv.fail_rc = 1;
    assert_int_equal(pci_func_config_write(&fx->f, PCI_CFG_COMMAND, 2, 0), -EIO);
    assert_int_equal(rd(&fx->f, PCI_CFG_COMMAND, 2), CMD_MEMORY | CMD_MASTER);
    assert_window(&fx->f.window, true, T_ADDR, T_BAR_SIZE);
}

/* --- pci_func_init --------------------------------------------------------- */

static void init_rejects_bad_params(void **state)
{
    struct fixture *fx = *state;
    static const uint64_t bad_sizes[] = {
        0, 1, 2 * KiB, 4 * KiB - 1, 4 * KiB + 4096 * 2, 3 * MiB, 2 * TiB, 1ULL << 63, UINT64_MAX,
    };
    struct pci_func_params p;

    for (size_t i = 0; i < ARRAY_SIZE(bad_sizes); i++) {
        p = default_params(256 * MiB);
        p.bar_size = bad_sizes[i];
        p.resident_size = 0;
        assert_int_equal(pci_func_init(&fx->f, &p, fake_window_change, &fx->srv), -EINVAL);
    }

    p = default_params(256 * MiB);
    p.ids.class_code = 0x1000000;
    assert_int_equal(pci_func_init(&fx->f, &p, fake_window_change, &fx->srv), -EINVAL);
    p = default_params(256 * MiB);
    p.resident_size = 256 * MiB + 1;
    assert_int_equal(pci_func_init(&fx->f, &p, fake_window_change, &fx->srv), -EINVAL);
    p = default_params(256 * MiB);
    p.mode = (enum lend_cap_mode)2;
    assert_int_equal(pci_func_init(&fx->f, &p, fake_window_change, &fx->srv), -EINVAL);
    p = default_params(256 * MiB);
    p.cap_flags = 0x0002;
    assert_int_equal(pci_func_init(&fx->f, &p, fake_window_change, &fx->srv), -EINVAL);
    p = default_params(256 * MiB);
    assert_int_equal(pci_func_init(&fx->f, &p, NULL, &fx->srv), -EINVAL);
    assert_int_equal(pci_func_init(&fx->f, NULL, fake_window_change, &fx->srv), -EINVAL);
    assert_int_equal(pci_func_init(NULL, &p, fake_window_change, &fx->srv), -EINVAL);

    /* The edges are accepted. */
    p = default_params(4 * KiB);
    p.ids.class_code = 0xffffff;
    p.resident_size = 4 * KiB;
    assert_int_equal(pci_func_init(&fx->f, &p, fake_window_change, &fx->srv), 0);
    assert_int_equal(rd(&fx->f, PCI_CFG_REVISION, 4), 0xffffff44);
    p = default_params(1 * TiB);
    p.resident_size = 0;
    assert_int_equal(pci_func_init(&fx->f, &p, fake_window_change, NULL), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(init_builds_header, setup, teardown),
        cmocka_unit_test_setup_teardown(capability_contents, setup, teardown),
        cmocka_unit_test_setup_teardown(write_masks_every_register_every_size, setup, teardown),
        cmocka_unit_test_setup_teardown(command_writable_bits_only, setup, teardown),
        cmocka_unit_test_setup_teardown(status_and_ids_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(dword_write_at_0x0c_keeps_header_type, setup, teardown),
        cmocka_unit_test_setup_teardown(interrupt_line_writable_pin_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(unused_bars_and_rom_hardwired_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(capability_read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_accesses_rejected, setup, teardown),
        cmocka_unit_test_setup_teardown(bar_sizing_4k, setup, teardown),
        cmocka_unit_test_setup_teardown(bar_sizing_256m, setup, teardown),
        cmocka_unit_test_setup_teardown(bar_sizing_4g, setup, teardown),
        cmocka_unit_test_setup_teardown(bar_sizing_8g, setup, teardown),
        cmocka_unit_test_setup_teardown(bar_sizing_1t, setup, teardown),
        cmocka_unit_test_setup_teardown(bar_address_bits_below_size_read_zero, setup, teardown),
        cmocka_unit_test_setup_teardown(bar_byte_and_word_writes, setup, teardown),
        cmocka_unit_test_setup_teardown(decode_on_off_one_callback_each, setup, teardown),
        cmocka_unit_test_setup_teardown(decode_on_unplaced_bar_no_window, setup, teardown),
        cmocka_unit_test_setup_teardown(bar_moved_while_decoding, setup, teardown),
        cmocka_unit_test_setup_teardown(bar_moved_while_not_decoding, setup, teardown),
        cmocka_unit_test_setup_teardown(sizing_pattern_never_decodes, setup, teardown),
        cmocka_unit_test_setup_teardown(window_above_4g_for_large_bar, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_enable_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_move_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(failed_disable_rolls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(init_rejects_bad_params, setup, teardown),
    };
    return cmocka_run_group_tests_name("bar", tests, NULL, NULL);
}
