/* SPDX-License-Identifier: MIT */
/*
 * The buffered ring (ioreq_send_buffered() in xen/common/ioreq.c, fed by
 * stdvga's handler for the VGA window): single writes to 0xA0000-0xBFFFF go
 * to a server's ring when it has one, 8-byte writes take two slots, ATOMIC
 * handling lowers both pointers by multiples of 511, a full ring falls back
 * to a synchronous request, and TIMEOFFSET is broadcast through the rings.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sim_dm.h"

#define VGA_START 0xa0000ULL
#define VGA_END   0xbffffULL

static struct hv_vcpu *vcpu0(struct sim_env *e)
{
    return &e->hv->vcpu[0];
}

static void vga_write(struct sim_env *e, uint64_t gpa, unsigned int size, uint64_t val)
{
    assert_int_equal(cpu_mem(vcpu0(e), gpa, size, IOREQ_WRITE, &val), 0);
}

static void assert_slot(const buffered_iopage_t *pg, unsigned int k, uint8_t type,
                        unsigned int size_log2, uint32_t addr, uint32_t data)
{
    const buf_ioreq_t *b = &pg->buf_ioreq[k % IOREQ_BUFFER_SLOT_NUM];

    assert_int_equal(b->type, type);
    assert_int_equal(b->dir, IOREQ_WRITE);
    assert_int_equal(b->size, size_log2);
    assert_int_equal(b->addr, addr);
    assert_int_equal(b->data, data);
}

/* A server with a ring claiming the VGA window; its bind events consumed. */
static struct sim_dm *vga_server(struct sim_env *e, int bufioreq)
{
    struct sim_dm *dm = sim_dm_ready(e, bufioreq);

    assert_non_null(dm);
    assert_int_equal(sim_dm_claim_mmio(dm, VGA_START, VGA_END), 0);
    sim_evtchn_quiesce(dm->xce);
    return dm;
}

static void vga_writes_go_to_the_ring(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = vga_server(e, HVM_IOREQSRV_BUFIOREQ_LEGACY);
    buffered_iopage_t *pg = dm->bufpage;
    struct sim_job *j;
    ioreq_t r;

    /* No device model runs: buffered writes complete without one. */
    vga_write(e, 0xa0001, 1, 0x12);
    vga_write(e, 0xa0010, 2, 0x3456);
    vga_write(e, 0xb0000, 4, 0x789abcde);
    vga_write(e, 0xbfff8, 8, 0x1122334455667788ULL);
    assert_int_equal(pg->read_pointer, 0);
    assert_int_equal(pg->write_pointer, 5);
    assert_slot(pg, 0, IOREQ_TYPE_COPY, 0, 0xa0001, 0x12);
    assert_slot(pg, 1, IOREQ_TYPE_COPY, 1, 0xa0010, 0x3456);
    assert_slot(pg, 2, IOREQ_TYPE_COPY, 2, 0xb0000, 0x789abcde);
    /* 8 bytes: two slots, the high half in the second. */
    assert_slot(pg, 3, IOREQ_TYPE_COPY, 3, 0xbfff8, 0x55667788);
    assert_slot(pg, 4, IOREQ_TYPE_COPY, 3, 0xbfff8, 0x11223344);
    /* The ring's port was notified (once: masked since), no vCPU's. */
    assert_int_equal(sim_evtchn_wait(dm->xce, SIM_WAIT_MS), dm->buf_local);
    assert_false(sim_readable(xenevtchn_fd(dm->xce), SIM_QUIET_MS));
    assert_int_equal(sim_slot_state(&dm->iopage->vcpu_ioreq[0]), STATE_IOREQ_NONE);
    assert_int_equal(atomic_load(&e->hv->stats.ioreq_buffered), 4);
    /* Reads in the window are synchronous. */
    j = sim_job_mem(e, 0, 0xa0004, 4, IOREQ_READ, 0);
    assert_non_null(j);
    assert_int_equal(sim_dm_wait_request(dm, 0, &r), 0);
    assert_int_equal(r.addr, 0xa0004);
    assert_int_equal(r.dir, IOREQ_READ);
    sim_dm_answer(dm, 0, 0xcafe);
    assert_int_equal(sim_job_join(j), 0);
    assert_int_equal(j->val, 0xcafe);
    /* Outside the window a write to the same server is synchronous too. */
    assert_int_equal(sim_dm_claim_mmio(dm, SIM_MMIO_BASE, SIM_MMIO_BASE + 0xfff), 0);
    j = sim_job_mem(e, 0, SIM_MMIO_BASE, 1, IOREQ_WRITE, 0x42);
    assert_non_null(j);
    assert_int_equal(sim_dm_wait_request(dm, 0, &r), 0);
    assert_int_equal(r.addr, SIM_MMIO_BASE);
    sim_dm_answer(dm, 0, 0);
    assert_int_equal(sim_job_join(j), 0);
    assert_int_equal(pg->write_pointer, 5);
    assert_int_equal(sim_failures(e->hv), 0);
}

static void vga_write_to_a_server_without_ring_is_synchronous(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_serving(e, HVM_IOREQSRV_BUFIOREQ_OFF);
    ioreq_t r;

    assert_non_null(dm);
    assert_int_equal(sim_dm_claim_mmio(dm, VGA_START, VGA_END), 0);
    vga_write(e, 0xa0008, 8, 0x1122334455667788ULL);
    assert_int_equal(sim_dm_nr_log(dm), 1);
    r = sim_dm_logged(dm, 0);
    assert_int_equal(r.type, IOREQ_TYPE_COPY);
    assert_int_equal(r.addr, 0xa0008);
    assert_int_equal(r.size, 8);
    assert_int_equal(r.data, 0x1122334455667788ULL);
    assert_int_equal(atomic_load(&e->hv->stats.ioreq_buffered), 0);
}

/* Write n bytes to VGA memory, one per write. */
static void vga_bytes(struct sim_env *e, unsigned int n)
{
    for (unsigned int i = 0; i < n; i++)
        vga_write(e, VGA_START + i, 1, i & 0xff);
}

/* The test consumes n slots, as a device model advancing read_pointer atomically. */
static void consume(buffered_iopage_t *pg, uint32_t n)
{
    __atomic_fetch_add(&pg->read_pointer, n, __ATOMIC_ACQ_REL);
}

static void atomic_handling_canonicalises_pointers(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *atom = vga_server(e, HVM_IOREQSRV_BUFIOREQ_ATOMIC);
    buffered_iopage_t *pg = atom->bufpage;

    vga_bytes(e, 300);
    consume(pg, 300);
    vga_bytes(e, 300);
    assert_int_equal(pg->write_pointer, 600);
    consume(pg, 300);
    assert_int_equal(pg->read_pointer, 600);
    /* The next write lowers both by 511 (600 / 511 = 1 time). */
    vga_write(e, VGA_START, 1, 0xaa);
    assert_int_equal(pg->read_pointer, 89);
    assert_int_equal(pg->write_pointer, 90);
    /* The slot went where the old pointer said: 600 % 511 = 89. */
    assert_slot(pg, 89, IOREQ_TYPE_COPY, 0, VGA_START, 0xaa);
    assert_int_equal(sim_failures(e->hv), 0);
}

static void legacy_handling_leaves_pointers_alone(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *leg = vga_server(e, HVM_IOREQSRV_BUFIOREQ_LEGACY);
    buffered_iopage_t *pg = leg->bufpage;

    vga_bytes(e, 300);
    consume(pg, 300);
    vga_bytes(e, 300);
    consume(pg, 300);
    vga_write(e, VGA_START, 1, 0xaa);
    assert_int_equal(pg->read_pointer, 600);
    assert_int_equal(pg->write_pointer, 601);
    assert_slot(pg, 600, IOREQ_TYPE_COPY, 0, VGA_START, 0xaa);
}

static void full_ring_falls_back_to_a_synchronous_request(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_ready(e, HVM_IOREQSRV_BUFIOREQ_LEGACY);
    buffered_iopage_t *pg;
    ioreq_t r;

    assert_non_null(dm);
    dm->drain_buffered = false; /* the test consumes the ring itself */
    assert_int_equal(sim_dm_start(dm), 0);
    assert_int_equal(sim_dm_claim_mmio(dm, VGA_START, VGA_END), 0);
    pg = dm->bufpage;
    vga_bytes(e, IOREQ_BUFFER_SLOT_NUM);
    assert_int_equal(pg->write_pointer, IOREQ_BUFFER_SLOT_NUM);
    assert_int_equal(sim_dm_nr_log(dm), 0);
    /* Full: the next write is an ordinary request. */
    vga_write(e, VGA_START + 0x100, 2, 0xbeef);
    assert_int_equal(sim_dm_nr_log(dm), 1);
    r = sim_dm_logged(dm, 0);
    assert_int_equal(r.addr, VGA_START + 0x100);
    assert_int_equal(r.size, 2);
    assert_int_equal(r.data, 0xbeef);
    assert_int_equal(pg->write_pointer, IOREQ_BUFFER_SLOT_NUM);
    /* One slot free is not enough for 8 bytes. */
    consume(pg, 1);
    vga_write(e, VGA_START + 0x200, 8, 0x0102030405060708ULL);
    assert_int_equal(sim_dm_nr_log(dm), 2);
    assert_int_equal(sim_dm_logged(dm, 1).size, 8);
    /* Two are. */
    consume(pg, 1);
    vga_write(e, VGA_START + 0x200, 8, 0x0102030405060708ULL);
    assert_int_equal(sim_dm_nr_log(dm), 2);
    assert_int_equal(pg->write_pointer, IOREQ_BUFFER_SLOT_NUM + 2);
    assert_slot(pg, IOREQ_BUFFER_SLOT_NUM, IOREQ_TYPE_COPY, 3, VGA_START + 0x200, 0x05060708);
    assert_slot(pg, IOREQ_BUFFER_SLOT_NUM + 1, IOREQ_TYPE_COPY, 3, VGA_START + 0x200, 0x01020304);
    assert_int_equal(sim_failures(e->hv), 0);
}

static void single_rep_movs_to_vga_is_buffered_as_data(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_ready(e, HVM_IOREQSRV_BUFIOREQ_LEGACY);
    uint32_t word = 0x600df00d;

    assert_non_null(dm);
    dm->drain_buffered = false;
    assert_int_equal(sim_dm_start(dm), 0);
    assert_int_equal(sim_dm_claim_mmio(dm, VGA_START, VGA_END), 0);
    memcpy(sim_ram(e->hv, 0x100000), &word, 4);
    /* One element: stdvga gets the data fetched from RAM and buffers it. */
    assert_int_equal(cpu_rep_movs(vcpu0(e), VGA_START + 0x40, 0x100000, 4, 1, false), 0);
    assert_int_equal(dm->bufpage->write_pointer, 1);
    assert_slot(dm->bufpage, 0, IOREQ_TYPE_COPY, 2, VGA_START + 0x40, 0x600df00d);
    assert_int_equal(sim_dm_nr_log(dm), 0);
    /* More than one: stdvga refuses, the server gets a data pointer. */
    assert_int_equal(cpu_rep_movs(vcpu0(e), VGA_START + 0x40, 0x100000, 4, 2, false), 0);
    assert_int_equal(dm->bufpage->write_pointer, 1);
    assert_int_equal(sim_dm_nr_log(dm), 1);
    assert_int_equal(sim_dm_logged(dm, 0).data_is_ptr, 1);
    assert_int_equal(sim_dm_logged(dm, 0).count, 2);
}

static void timeoffset_goes_to_every_enabled_ring(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *leg = sim_dm_ready(e, HVM_IOREQSRV_BUFIOREQ_LEGACY);
    struct sim_dm *atom = sim_dm_ready(e, HVM_IOREQSRV_BUFIOREQ_ATOMIC);
    struct sim_dm *off = sim_dm_ready(e, HVM_IOREQSRV_BUFIOREQ_OFF);
    struct sim_dm *disabled = sim_dm_ready(e, HVM_IOREQSRV_BUFIOREQ_LEGACY);
    struct sim_dm *unmapped = sim_dm_new(e);
    ioreq_t p = {.type = IOREQ_TYPE_TIMEOFFSET,
                 .size = 8,
                 .count = 1,
                 .dir = IOREQ_WRITE,
                 .data = 0xfffffffe00000123ULL};

    assert_non_null(leg);
    assert_non_null(atom);
    assert_non_null(off);
    assert_non_null(disabled);
    assert_non_null(unmapped);
    assert_int_equal(sim_dm_set_state(disabled, 0), 0);
    /* A ring that was never allocated cannot take it: counted as failed, as Xen does. */
    assert_int_equal(sim_dm_create(unmapped, HVM_IOREQSRV_BUFIOREQ_LEGACY), 0);
    assert_int_equal(sim_dm_set_state(unmapped, 1), 0);
    sim_evtchn_quiesce(leg->xce);
    assert_int_equal(hv_ioreq_broadcast_buffered(e->hv, &p), 1);
    assert_int_equal(leg->bufpage->write_pointer, 2);
    assert_int_equal(atom->bufpage->write_pointer, 2);
    assert_slot(leg->bufpage, 0, IOREQ_TYPE_TIMEOFFSET, 3, 0, 0x00000123);
    assert_slot(leg->bufpage, 1, IOREQ_TYPE_TIMEOFFSET, 3, 0, 0xfffffffe);
    assert_slot(atom->bufpage, 0, IOREQ_TYPE_TIMEOFFSET, 3, 0, 0x00000123);
    assert_slot(atom->bufpage, 1, IOREQ_TYPE_TIMEOFFSET, 3, 0, 0xfffffffe);
    assert_int_equal(disabled->bufpage->write_pointer, 0);
    /* Nothing synchronous anywhere. */
    assert_int_equal(sim_slot_state(&off->iopage->vcpu_ioreq[0]), STATE_IOREQ_NONE);
    assert_int_equal(sim_slot_state(&leg->iopage->vcpu_ioreq[0]), STATE_IOREQ_NONE);
    /* The ring's port was notified, once. */
    assert_int_equal(sim_evtchn_wait(leg->xce, SIM_WAIT_MS), leg->buf_local);
    assert_false(sim_readable(xenevtchn_fd(leg->xce), SIM_QUIET_MS));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(vga_writes_go_to_the_ring, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(vga_write_to_a_server_without_ring_is_synchronous,
                                        sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(atomic_handling_canonicalises_pointers, sim_setup,
                                        sim_teardown),
        cmocka_unit_test_setup_teardown(legacy_handling_leaves_pointers_alone, sim_setup,
                                        sim_teardown),
        cmocka_unit_test_setup_teardown(full_ring_falls_back_to_a_synchronous_request, sim_setup,
                                        sim_teardown),
        cmocka_unit_test_setup_teardown(single_rep_movs_to_vga_is_buffered_as_data, sim_setup,
                                        sim_teardown),
        cmocka_unit_test_setup_teardown(timeoffset_goes_to_every_enabled_ring, sim_setup,
                                        sim_teardown),
    };
    return cmocka_run_group_tests_name("sim-buffered", tests, NULL, NULL);
}
