/* SPDX-License-Identifier: MIT */
/*
 * The request decoder: daemon_handle_request() fed private copies of ioreqs,
 * as access_ioreq.c hands them over. A fresh daemon context per test, with a
 * memfd backing and a decoding BAR at 0xf0000000; requests whose data is a
 * pointer into guest RAM go through a simulated Xen's foreign mappings.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "daemon.h"
#include "sim/hv/hv.h"

#define BAR_BASE 0xf0000000ULL
#define BAR_SIZE (64ULL << 10)
#define SBDF     XEN_DMOP_PCI_SBDF(0, 0, 0x1f, 0)

struct fixture {
    struct daemon d;
    struct hv *hv; /* for data-pointer requests only */
    char dir[32];
    xenforeignmemory_handle *fmem;
    unsigned int window_calls;
};

static int window_recorder(void *opaque, const struct bar_window *o, const struct bar_window *n)
{
    struct fixture *f = opaque;

    (void)o;
    (void)n;
    f->window_calls++;
    return 0;
}

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));
    struct backing_spec spec;
    char err[256];
    struct pci_func_params p = {
        .ids = {.vendor_id = 0x5853, .device_id = 0x1e4d, .class_code = 0x058000},
        .bar_size = BAR_SIZE,
        .resident_size = BAR_SIZE,
    };
    uint32_t v;

    assert_non_null(f);
    f->d.backing = (struct backing)BACKING_INIT;
    f->d.mode = MODE_EMULATE;
    f->d.srv.sbdf = SBDF;
    assert_int_equal(backing_parse("memfd:64K", &spec, err, sizeof(err)), 0);
    assert_int_equal(backing_open(&spec, BAR_SIZE, NULL, &f->d.backing, err, sizeof(err)), 0);
    assert_int_equal(pci_func_init(&f->d.pci, &p, window_recorder, f), 0);
    /* Firmware: place BAR 0 and turn decoding on. */
    assert_int_equal(pci_func_config_write(&f->d.pci, 0x10, 4, (uint32_t)BAR_BASE), 0);
    assert_int_equal(pci_func_config_write(&f->d.pci, 0x04, 2, 0x2), 0);
    assert_true(f->d.pci.window.enabled);
    pci_func_config_read(&f->d.pci, 0x04, 2, &v);
    assert_int_equal(v, 2);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    if (f->fmem) {
        guest_ram_drop_all(&f->d.ram);
        xenforeignmemory_close(f->fmem);
    }
    if (f->hv) {
        hv_destroy(f->hv);
        free(f->hv);
        rmdir(f->dir);
    }
    backing_close(&f->d.backing);
    free(f);
    return 0;
}

/* A simulated Xen whose guest RAM the daemon can map, for data pointers. */
static void with_guest_ram(struct fixture *f)
{
    struct hv_domain_config cfg = {.domid = 1, .vcpus = 1, .ram = 16 << 20,
                                   .balloon_reserve = 1 << 20, .ioreq_timeout_ms = 1000};
    char path[96];

    snprintf(f->dir, sizeof(f->dir), "/tmp/xensim-unit-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    f->hv = calloc(1, sizeof(*f->hv));
    assert_int_equal(hv_create(f->hv, &cfg, f->dir), 0);
    snprintf(path, sizeof(path), "%s/xensim.sock", f->dir);
    setenv(XENSIM_SOCKET_ENV, path, 1);
    f->fmem = xenforeignmemory_open(NULL, 0);
    assert_non_null(f->fmem);
    guest_ram_init(&f->d.ram, f->fmem, 1, &f->d.cnt);
}

static uint8_t *guest_ptr(struct fixture *f, uint64_t gpa)
{
    return (uint8_t *)hv_frame_ptr(f->hv, (uint64_t)hv_gfn_to_frame(f->hv, gpa >> 12)) +
           (gpa & 0xfff);
}

static ioreq_t copy_req(uint64_t addr, uint32_t size, uint32_t count, int dir, uint64_t data)
{
    ioreq_t r = {.addr = addr, .size = size, .count = count, .dir = (uint8_t)dir,
                 .type = IOREQ_TYPE_COPY, .data = data, .state = STATE_IOREQ_INPROCESS};
    return r;
}

static uint8_t *bar(struct fixture *f, uint64_t off)
{
    return (uint8_t *)f->d.backing.base + off;
}

static void copy_every_size_writes_and_reads_the_backing(void **state)
{
    struct fixture *f = *state;
    static const uint32_t sizes[] = {1, 2, 4, 8};

    for (unsigned int i = 0; i < 4; i++) {
        uint32_t sz = sizes[i];
        uint64_t off = 0x100 * (i + 1), want = 0x1122334455667788ULL;
        ioreq_t w = copy_req(BAR_BASE + off, sz, 1, IOREQ_WRITE, want);
        ioreq_t r = copy_req(BAR_BASE + off, sz, 1, IOREQ_READ, 0);
        uint64_t mask = sz == 8 ? ~0ULL : (1ULL << (sz * 8)) - 1, got = 0;

        /* A served COPY's time goes to the copy histogram (access_ioreq.c records it). */
        assert_int_equal(daemon_handle_request(&f->d, 0, &w), LAT_COPY);
        memcpy(&got, bar(f, off), sz);
        assert_int_equal(got, want & mask);
        /* Only `size` bytes are written: the next byte is untouched. */
        assert_int_equal(*bar(f, off + sz), 0);
        daemon_handle_request(&f->d, 0, &r);
        assert_int_equal(r.data, want & mask);
    }
    assert_int_equal(f->d.cnt.ioreqs_copy, 8);
    assert_int_equal(f->d.cnt.ioreqs_copy_read, 4);
    assert_int_equal(f->d.cnt.ioreqs_copy_ptr, 0);
    assert_int_equal(f->d.cnt.emulated_bytes, 2 * (1 + 2 + 4 + 8));
    assert_int_equal(f->d.cnt.ioreqs_rejected, 0);
}

/*
 * Found by fuzz_dispatch: the guest may place the BAR anywhere, up to the top
 * of the address space; the backing pointer must be offset by the address
 * relative to the BAR, never by the guest address itself (UBSan: pointer
 * overflow in the ASan+UBSan build).
 */
static void copy_at_a_bar_placed_at_the_top(void **state)
{
    struct fixture *f = *state;
    uint64_t top = ~(uint64_t)(BAR_SIZE - 1);
    ioreq_t w = copy_req(top + 0x10, 8, 4, IOREQ_WRITE, 0x0102030405060708ULL);
    ioreq_t r = copy_req(top + 0x28, 8, 4, IOREQ_READ, 0);
    uint64_t got;

    /* Not the sizing pattern ~(size - 1): one BAR below the top. */
    top -= BAR_SIZE;
    w.addr -= BAR_SIZE;
    r.addr -= BAR_SIZE;
    assert_int_equal(pci_func_config_write(&f->d.pci, 0x10, 4, (uint32_t)top), 0);
    assert_int_equal(pci_func_config_write(&f->d.pci, 0x14, 4, (uint32_t)(top >> 32)), 0);
    assert_true(f->d.pci.window.enabled);
    assert_true(f->d.pci.window.base == top);
    daemon_handle_request(&f->d, 0, &w);
    r.df = 1;
    daemon_handle_request(&f->d, 0, &r);
    memcpy(&got, bar(f, 0x28), 8);
    assert_true(got == 0x0102030405060708ULL);
    assert_true(r.data == 0x0102030405060708ULL);
    assert_int_equal(f->d.cnt.ioreqs_copy, 2);
    assert_int_equal(f->d.cnt.ioreqs_rejected, 0);
}

static void copy_rep_stos_repeats_data_both_directions(void **state)
{
    struct fixture *f = *state;
    ioreq_t up = copy_req(BAR_BASE + 0x1000, 4, 16, IOREQ_WRITE, 0xabcd1234);
    ioreq_t down = copy_req(BAR_BASE + 0x2000 + 15 * 2, 2, 16, IOREQ_WRITE, 0x5a5a);

    down.df = 1;
    daemon_handle_request(&f->d, 0, &up);
    daemon_handle_request(&f->d, 0, &down);
    for (unsigned int i = 0; i < 16; i++) {
        uint32_t a;
        uint16_t b;
        memcpy(&a, bar(f, 0x1000 + 4 * i), 4);
        memcpy(&b, bar(f, 0x2000 + 2 * i), 2);
        assert_int_equal(a, 0xabcd1234);
        assert_int_equal(b, 0x5a5a);
    }
    assert_int_equal(*bar(f, 0x1000 + 64), 0);
    assert_int_equal(*bar(f, 0x2000 - 1), 0);
    assert_int_equal(f->d.cnt.emulated_bytes, 64 + 32);
}

static void copy_rep_read_returns_the_last_element(void **state)
{
    struct fixture *f = *state;
    ioreq_t r = copy_req(BAR_BASE + 0x3000, 8, 3, IOREQ_READ, 0);

    for (uint64_t i = 0; i < 3; i++)
        memcpy(bar(f, 0x3000 + 8 * i), &(uint64_t){100 + i}, 8);
    daemon_handle_request(&f->d, 0, &r);
    assert_int_equal(r.data, 102);
    r = copy_req(BAR_BASE + 0x3010, 8, 3, IOREQ_READ, 0);
    r.df = 1;
    daemon_handle_request(&f->d, 0, &r);
    assert_int_equal(r.data, 100);
}

static void copy_outside_the_window_is_refused(void **state)
{
    struct fixture *f = *state;
    const struct {
        uint64_t addr;
        uint32_t size, count;
        uint8_t df;
    } bad[] = {
        {BAR_BASE - 8, 8, 1, 0},                 /* just below */
        {BAR_BASE + BAR_SIZE, 1, 1, 0},          /* just above */
        {BAR_BASE + BAR_SIZE - 4, 8, 1, 0},      /* straddles the end */
        {BAR_BASE + BAR_SIZE - 8, 8, 2, 0},      /* the second element leaves */
        {BAR_BASE, 8, 2, 1},                     /* walking down below the base */
        {0xfffffffffffffff8ULL, 8, 2, 0},        /* wraps the address space */
        {8, 8, 2, 1},                            /* wraps downwards */
    };

    memset(bar(f, 0), 0x77, BAR_SIZE);
    for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        ioreq_t r = copy_req(bad[i].addr, bad[i].size, bad[i].count, IOREQ_READ, 0);
        ioreq_t w = copy_req(bad[i].addr, bad[i].size, bad[i].count, IOREQ_WRITE, 0);

        r.df = w.df = bad[i].df;
        /* Refused: in no histogram, as in no ioreqs.* counter. */
        assert_int_equal(daemon_handle_request(&f->d, 0, &r), LAT_NONE);
        assert_int_equal(r.data, ~0ULL);
        assert_int_equal(daemon_handle_request(&f->d, 0, &w), LAT_NONE);
    }
    for (uint64_t off = 0; off < BAR_SIZE; off++)
        assert_int_equal(*bar(f, off), 0x77);
    assert_int_equal(f->d.cnt.reject_range, 14);
    assert_int_equal(f->d.cnt.ioreqs_rejected, 14);
    assert_int_equal(f->d.cnt.emulated_bytes, 0);
}

static void copy_when_decoding_is_off_is_refused(void **state)
{
    struct fixture *f = *state;
    ioreq_t r = copy_req(BAR_BASE, 4, 1, IOREQ_READ, 0);

    assert_int_equal(pci_func_config_write(&f->d.pci, 0x04, 2, 0), 0);
    daemon_handle_request(&f->d, 0, &r);
    assert_int_equal(r.data, ~0ULL);
    assert_int_equal(f->d.cnt.reject_range, 1);
}

static void copy_bad_size_and_count_are_refused(void **state)
{
    struct fixture *f = *state;
    static const uint32_t sizes[] = {0, 3, 5, 16, 0xffffffff};
    ioreq_t r;

    for (unsigned int i = 0; i < 5; i++) {
        r = copy_req(BAR_BASE, sizes[i], 1, IOREQ_READ, 0);
        daemon_handle_request(&f->d, 0, &r);
        assert_int_equal(r.data, ~0ULL);
    }
    r = copy_req(BAR_BASE, 4, 0, IOREQ_READ, 0);
    daemon_handle_request(&f->d, 0, &r);
    /* More than a page of data in one request: Xen never sends it. */
    r = copy_req(BAR_BASE, 8, 513, IOREQ_WRITE, 0);
    daemon_handle_request(&f->d, 0, &r);
    r = copy_req(BAR_BASE, 8, 0xffffffff, IOREQ_WRITE, 0);
    daemon_handle_request(&f->d, 0, &r);
    assert_int_equal(f->d.cnt.reject_size, 5);
    assert_int_equal(f->d.cnt.reject_count, 3);
    assert_int_equal(f->d.cnt.emulated_bytes, 0);
    /* A full page is fine. */
    r = copy_req(BAR_BASE, 8, 512, IOREQ_WRITE, 9);
    daemon_handle_request(&f->d, 0, &r);
    assert_int_equal(f->d.cnt.emulated_bytes, 4096);
}

static void copy_with_data_pointer_moves_guest_ram(void **state)
{
    struct fixture *f = *state;
    uint64_t gpa = 0x200000;
    ioreq_t w, r;

    with_guest_ram(f);
    for (unsigned int i = 0; i < 64; i++)
        guest_ptr(f, gpa)[i] = (uint8_t)(i * 3 + 1);
    /* rep movs RAM -> BAR, 8 elements of 8. */
    w = copy_req(BAR_BASE + 0x400, 8, 8, IOREQ_WRITE, gpa);
    w.data_is_ptr = 1;
    daemon_handle_request(&f->d, 0, &w);
    assert_memory_equal(bar(f, 0x400), guest_ptr(f, gpa), 64);
    /* And back to another buffer, walking down. */
    r = copy_req(BAR_BASE + 0x400 + 56, 8, 8, IOREQ_READ, gpa + 0x1000 + 56);
    r.data_is_ptr = 1;
    r.df = 1;
    daemon_handle_request(&f->d, 0, &r);
    assert_memory_equal(guest_ptr(f, gpa + 0x1000), bar(f, 0x400), 64);
    assert_int_equal(r.data, gpa + 0x1000 + 56); /* a pointer is not an answer */
    assert_int_equal(f->d.cnt.ioreqs_rejected, 0);
    assert_int_equal(f->d.cnt.ioreqs_copy_ptr, 2);
    assert_int_equal(f->d.cnt.ioreqs_copy_read, 1);
    assert_int_equal(f->d.cnt.guest_ram_maps, 2);
}

static void data_pointer_outside_guest_ram_is_refused(void **state)
{
    struct fixture *f = *state;
    ioreq_t w;

    with_guest_ram(f);
    memset(bar(f, 0), 0x33, 64);
    w = copy_req(BAR_BASE, 8, 4, IOREQ_WRITE, 0x7ff00000000ULL);
    w.data_is_ptr = 1;
    daemon_handle_request(&f->d, 0, &w);
    assert_int_equal(*bar(f, 0), 0x33);
    assert_int_equal(f->d.cnt.reject_guest_buffer, 1);
}

static void invalidate_drops_guest_mappings(void **state)
{
    struct fixture *f = *state;
    ioreq_t w = copy_req(BAR_BASE, 8, 1, IOREQ_WRITE, 0x100000), inv = {0};

    with_guest_ram(f);
    w.data_is_ptr = 1;
    daemon_handle_request(&f->d, 0, &w);
    daemon_handle_request(&f->d, 0, &w);
    assert_int_equal(f->d.cnt.guest_ram_maps, 1);
    assert_int_equal(f->d.cnt.guest_ram_hits, 1);
    /* The frame leaves the guest; after INVALIDATE the daemon maps the new one. */
    hv_balloon_out(f->hv, 0x100, 1);
    hv_balloon_in(f->hv, 0x100, 1);
    memcpy(guest_ptr(f, 0x100000), &(uint64_t){0x600dULL}, 8);
    inv.type = IOREQ_TYPE_INVALIDATE;
    inv.size = 4;
    inv.count = 1;
    daemon_handle_request(&f->d, 0, &inv);
    assert_int_equal(f->d.cnt.ioreqs_invalidate, 1);
    assert_int_equal(f->d.cnt.guest_ram_drops, 1);
    daemon_handle_request(&f->d, 0, &w);
    assert_int_equal(f->d.cnt.guest_ram_maps, 2);
    assert_memory_equal(bar(f, 0), &(uint64_t){0x600dULL}, 8);
}

static ioreq_t cfg_req(uint32_t sbdf, uint32_t reg, uint32_t size, int dir, uint64_t data)
{
    ioreq_t r = {.addr = ((uint64_t)sbdf << 32) | reg, .size = size, .count = 1,
                 .dir = (uint8_t)dir, .type = IOREQ_TYPE_PCI_CONFIG, .data = data};
    return r;
}

static void config_cycles_reach_the_function(void **state)
{
    struct fixture *f = *state;
    ioreq_t r = cfg_req(SBDF, 0, 4, IOREQ_READ, 0);
    ioreq_t w = cfg_req(SBDF, 0x3c, 1, IOREQ_WRITE, 0x1ab); /* masked to one byte */
    ioreq_t r2 = cfg_req(SBDF, 0x3c, 1, IOREQ_READ, 0);

    assert_int_equal(daemon_handle_request(&f->d, 0, &r), LAT_CONFIG);
    assert_int_equal(r.data, 0x1e4d5853);
    assert_int_equal(daemon_handle_request(&f->d, 0, &w), LAT_CONFIG);
    daemon_handle_request(&f->d, 0, &r2);
    assert_int_equal(r2.data, 0xab);
    assert_int_equal(f->d.cnt.ioreqs_pci_config, 3);
}

static void config_cycles_out_of_rule_are_refused_or_counted(void **state)
{
    struct fixture *f = *state;
    ioreq_t other = cfg_req(SBDF + 1, 0, 4, IOREQ_READ, 0);
    ioreq_t rep = cfg_req(SBDF, 0, 4, IOREQ_READ, 0);
    ioreq_t big = cfg_req(SBDF, 0, 8, IOREQ_READ, 0);
    ioreq_t misaligned = cfg_req(SBDF, 1, 2, IOREQ_READ, 0);
    ioreq_t beyond = cfg_req(SBDF, 0x100, 4, IOREQ_WRITE, 0);

    rep.count = 2;
    assert_int_equal(daemon_handle_request(&f->d, 0, &other), LAT_NONE);
    assert_int_equal(daemon_handle_request(&f->d, 0, &rep), LAT_NONE);
    daemon_handle_request(&f->d, 0, &big);
    assert_int_equal(other.data, ~0ULL);
    assert_int_equal(rep.data, ~0ULL);
    assert_int_equal(big.data, ~0ULL);
    assert_int_equal(f->d.cnt.reject_sbdf, 1);
    assert_int_equal(f->d.cnt.reject_size, 2);
    daemon_handle_request(&f->d, 0, &misaligned);
    daemon_handle_request(&f->d, 0, &beyond);
    assert_int_equal(misaligned.data & 0xffff, 0xffff);
    assert_int_equal(f->d.cnt.config_errors, 2);
    assert_int_equal(f->window_calls, 1); /* only the set-up's enable */
}

static void other_types_are_answered(void **state)
{
    struct fixture *f = *state;
    ioreq_t access = {.type = IOREQ_TYPE_ACCESS, .addr = BAR_BASE, .size = 4, .count = 1};
    ioreq_t pio = {.type = IOREQ_TYPE_PIO, .addr = 0xcfc, .size = 4, .count = 1,
                   .dir = IOREQ_READ};
    ioreq_t odd = {.type = 200, .size = 4, .count = 1, .dir = IOREQ_READ};
    ioreq_t time = {.type = IOREQ_TYPE_TIMEOFFSET, .size = 8, .count = 1, .data = 77};

    /* No lending here: an access-only request gets "fail", never "retry"; no histogram. */
    assert_int_equal(daemon_handle_request(&f->d, 0, &access), LAT_NONE);
    assert_int_equal(access.data, IOREQ_ACCESS_FAIL);
    assert_int_equal(daemon_handle_request(&f->d, 0, &pio), LAT_NONE);
    assert_int_equal(daemon_handle_request(&f->d, 0, &odd), LAT_NONE);
    assert_int_equal(pio.data, ~0ULL);
    assert_int_equal(odd.data, ~0ULL);
    daemon_handle_request(&f->d, 0, &time);
    assert_int_equal(time.data, 77);
    assert_int_equal(f->d.cnt.reject_type, 3);
    assert_int_equal(f->d.cnt.ioreqs_timeoffset, 1);
}

/*
 * Lend mode: the guest's own accesses never become COPY requests; the few Xen
 * has to emulate do (lend_abi.h revision 2), and are served from the backing
 * like emulation's, counted apart, and refused outside the window all the same.
 */
static void lend_mode_serves_what_xen_emulates(void **state)
{
    struct fixture *f = *state;
    ioreq_t w = copy_req(BAR_BASE, 8, 1, IOREQ_WRITE, 0x1234);
    ioreq_t r = copy_req(BAR_BASE, 8, 1, IOREQ_READ, 0);
    ioreq_t out = copy_req(BAR_BASE - 8, 8, 1, IOREQ_WRITE, 0x5678);

    f->d.mode = MODE_LEND;
    daemon_handle_request(&f->d, 0, &w);
    daemon_handle_request(&f->d, 0, &r);
    assert_int_equal(*(uint64_t *)(void *)bar(f, 0), 0x1234);
    assert_int_equal(r.data, 0x1234);
    assert_int_equal(f->d.cnt.ioreqs_copy_lent, 2);
    assert_int_equal(f->d.cnt.emulated_bytes, 16);
    daemon_handle_request(&f->d, 0, &out);
    assert_int_equal(f->d.cnt.reject_range, 1);
    assert_int_equal(f->d.cnt.emulated_bytes, 16);
}

static void buffered_entries_are_served_or_counted(void **state)
{
    struct fixture *f = *state;
    ioreq_t w = copy_req(BAR_BASE + 8, 4, 1, IOREQ_WRITE, 0xfeed);
    ioreq_t t = {.type = IOREQ_TYPE_TIMEOFFSET, .size = 8, .count = 1};
    ioreq_t p = {.type = IOREQ_TYPE_PIO, .size = 1, .count = 1};

    daemon_handle_buffered(&f->d, &w);
    daemon_handle_buffered(&f->d, &t);
    daemon_handle_buffered(&f->d, &p);
    assert_int_equal(*(uint32_t *)(void *)bar(f, 8), 0xfeed);
    assert_int_equal(f->d.cnt.ioreqs_timeoffset, 1);
    assert_int_equal(f->d.cnt.reject_type, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(copy_every_size_writes_and_reads_the_backing, setup, teardown),
        cmocka_unit_test_setup_teardown(copy_at_a_bar_placed_at_the_top, setup, teardown),
        cmocka_unit_test_setup_teardown(copy_rep_stos_repeats_data_both_directions, setup, teardown),
        cmocka_unit_test_setup_teardown(copy_rep_read_returns_the_last_element, setup, teardown),
        cmocka_unit_test_setup_teardown(copy_outside_the_window_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(copy_when_decoding_is_off_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(copy_bad_size_and_count_are_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(copy_with_data_pointer_moves_guest_ram, setup, teardown),
        cmocka_unit_test_setup_teardown(data_pointer_outside_guest_ram_is_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(invalidate_drops_guest_mappings, setup, teardown),
        cmocka_unit_test_setup_teardown(config_cycles_reach_the_function, setup, teardown),
        cmocka_unit_test_setup_teardown(config_cycles_out_of_rule_are_refused_or_counted, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(other_types_are_answered, setup, teardown),
        cmocka_unit_test_setup_teardown(lend_mode_serves_what_xen_emulates, setup, teardown),
        cmocka_unit_test_setup_teardown(buffered_entries_are_served_or_counted, setup, teardown),
    };
    return cmocka_run_group_tests_name("daemon-requests", tests, NULL, NULL);
}
