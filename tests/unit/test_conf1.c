/* SPDX-License-Identifier: MIT */
/*
 * conf1.c: the CF8 latch as Xen keeps it, the data ports with conf1
 * disabled, the host bridge's read-only header, and every request a hostile
 * guest can make of them (string accesses, odd sizes, spans crossing the
 * registers, ports outside the range): refused, reads all ones, counted.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "conf1.h"

static ioreq_t pio(uint64_t port, uint32_t size, int dir, uint64_t data)
{
    return (ioreq_t){.type = IOREQ_TYPE_PIO,
                     .addr = port,
                     .size = size,
                     .count = 1,
                     .dir = (uint8_t)dir,
                     .data = data};
}

static uint64_t in(struct conf1 *c, struct counters *cnt, uint64_t port, uint32_t size)
{
    ioreq_t r = pio(port, size, IOREQ_READ, 0x1234);

    conf1_port_request(c, &r, cnt);
    return r.data;
}

static void out(struct conf1 *c, struct counters *cnt, uint64_t port, uint32_t size, uint64_t val)
{
    ioreq_t r = pio(port, size, IOREQ_WRITE, val);

    conf1_port_request(c, &r, cnt);
}

/* Linux's pci_check_type1(): 0x01 to 0xCFB, save CF8, 0x80000000 read back, restore. */
static void linux_type1_check(void **state)
{
    struct conf1 c;
    struct counters cnt = {0};
    uint64_t saved;

    (void)state;
    conf1_init(&c);
    out(&c, &cnt, 0xcfb, 1, 0x01); /* not latched: Xen latches 4-byte writes to 0xCF8 only */
    saved = in(&c, &cnt, 0xcf8, 4);
    assert_true(saved == 0);
    out(&c, &cnt, 0xcf8, 4, 0x80000000u);
    assert_true(in(&c, &cnt, 0xcf8, 4) == 0x80000000u);
    out(&c, &cnt, 0xcf8, 4, saved);
    assert_true(in(&c, &cnt, 0xcf8, 4) == 0);
    assert_true(cnt.ioreqs_pio == 6);
    assert_true(cnt.ioreqs_rejected == 0);
}

static void latch_bytes_and_data_ports(void **state)
{
    struct conf1 c;
    struct counters cnt = {0};

    (void)state;
    conf1_init(&c);
    out(&c, &cnt, 0xcf8, 4, 0x8000f8a4u);
    /* Narrow reads see the latch's bytes; narrow or offset writes leave it (as Xen does). */
    assert_true(in(&c, &cnt, 0xcf8, 1) == 0xa4);
    assert_true(in(&c, &cnt, 0xcf9, 1) == 0xf8);
    assert_true(in(&c, &cnt, 0xcfa, 2) == 0x8000);
    assert_true(in(&c, &cnt, 0xcf9, 2) == 0x00f8);
    out(&c, &cnt, 0xcf8, 2, 0xffff);
    out(&c, &cnt, 0xcf9, 1, 0xff);
    assert_true(in(&c, &cnt, 0xcf8, 4) == 0x8000f8a4u);
    /* Data ports reach us only with conf1 disabled: nothing is addressed. */
    out(&c, &cnt, 0xcf8, 4, 0);
    assert_true(in(&c, &cnt, 0xcfc, 4) == 0xffffffffu);
    assert_true(in(&c, &cnt, 0xcfe, 2) == 0xffff);
    assert_true(in(&c, &cnt, 0xcff, 1) == 0xff);
    out(&c, &cnt, 0xcfc, 4, 0x12345678);
    assert_true(in(&c, &cnt, 0xcf8, 4) == 0);
    assert_true(cnt.ioreqs_rejected == 0);
}

static void hostile_port_requests(void **state)
{
    struct conf1 c;
    struct counters cnt = {0};
    const struct {
        uint64_t port;
        uint32_t size, count;
        uint8_t ptr;
    } bad[] = {
        {0xcf8, 8, 1, 0}, {0xcf8, 3, 1, 0},
        {0xcf8, 0, 1, 0}, {0xcfa, 4, 1, 0},
        {0xcfb, 2, 1, 0}, {0xcfe, 4, 1, 0},
        {0xcff, 2, 1, 0}, {0xcf7, 1, 1, 0},
        {0xd00, 1, 1, 0}, {0xcf8, 4, 2, 0},
        {0xcf8, 4, 0, 0}, {0xcf8, 4, 1, 1},
        {~0ULL, 4, 1, 0}, {0xcf8 + (1ULL << 32), 4, 1, 0},
    };

    (void)state;
    conf1_init(&c);
    out(&c, &cnt, 0xcf8, 4, 0x80000000u);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        for (int dir = 0; dir < 2; dir++) {
            ioreq_t r = pio(bad[i].port, bad[i].size, dir, 0xdeadbeefcafef00dULL);

            r.count = bad[i].count;
            r.data_is_ptr = bad[i].ptr;
            conf1_port_request(&c, &r, &cnt);
            if (dir == IOREQ_READ && !bad[i].ptr)
                assert_true(r.data == ~0ULL);
            if (bad[i].ptr || dir == IOREQ_WRITE)
                assert_true(r.data == 0xdeadbeefcafef00dULL); /* a pointer is never written */
        }
    }
    assert_true(cnt.reject_port == 2 * sizeof(bad) / sizeof(bad[0]));
    assert_true(cnt.ioreqs_rejected == cnt.reject_port);
    /* Nothing reached the latch. */
    assert_true(in(&c, &cnt, 0xcf8, 4) == 0x80000000u);
}

static void host_bridge_header(void **state)
{
    struct conf1 c;
    uint32_t v = 0;

    (void)state;
    conf1_init(&c);
    assert_int_equal(conf1_bridge_config(&c, 0, 4, IOREQ_READ, &v), 0);
    assert_true(v == 0x12378086u);
    assert_int_equal(conf1_bridge_config(&c, 0x08, 4, IOREQ_READ, &v), 0);
    assert_true(v == 0x06000002u);
    assert_int_equal(conf1_bridge_config(&c, 0x0a, 2, IOREQ_READ, &v), 0);
    assert_true(v == 0x0600); /* what pci_sanity_check() looks for */
    assert_int_equal(conf1_bridge_config(&c, 0x0e, 1, IOREQ_READ, &v), 0);
    assert_true(v == 0);
    /* Read-only: sizing a BAR, enabling decoding, anything: dropped. */
    for (uint32_t reg = 0; reg < 256; reg += 4) {
        uint32_t before = 0, after = 0, ones = 0xffffffffu;

        conf1_bridge_config(&c, reg, 4, IOREQ_READ, &before);
        assert_int_equal(conf1_bridge_config(&c, reg, 4, IOREQ_WRITE, &ones), 0);
        conf1_bridge_config(&c, reg, 4, IOREQ_READ, &after);
        assert_true(before == after);
        if (reg >= 0x10 && reg < 0x28)
            assert_true(after == 0);
    }
    /* Misaligned, too wide, outside: -EINVAL, all ones. */
    v = 0;
    assert_int_equal(conf1_bridge_config(&c, 1, 2, IOREQ_READ, &v), -EINVAL);
    assert_true(v == 0xffffffffu);
    assert_int_equal(conf1_bridge_config(&c, 2, 4, IOREQ_READ, &v), -EINVAL);
    assert_int_equal(conf1_bridge_config(&c, 256, 1, IOREQ_READ, &v), -EINVAL);
    assert_int_equal(conf1_bridge_config(&c, 0, 8, IOREQ_READ, &v), -EINVAL);
    assert_int_equal(conf1_bridge_config(&c, 0, 3, IOREQ_READ, &v), -EINVAL);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(linux_type1_check),
        cmocka_unit_test(latch_bytes_and_data_ports),
        cmocka_unit_test(hostile_port_requests),
        cmocka_unit_test(host_bridge_header),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
