/* SPDX-License-Identifier: MIT */
/*
 * Synchronous requests as a device model receives them: COPY of each size,
 * each vCPU in its own slot, rep stos and rep movs cut the way Xen 4.17's
 * emulator cuts them (hvmemul_do_io(): the MMIO side never crosses a page;
 * hvmemul_do_io_addr(): the RAM side neither, one element short downwards),
 * data pointers served through foreign mappings of guest RAM, unclaimed
 * accesses, port I/O, and INVALIDATE broadcast to every enabled server.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sim_dm.h"

#define B SIM_MMIO_BASE

static struct hv_vcpu *vcpu0(struct sim_env *e)
{
    return &e->hv->vcpu[0];
}

/* A serving device model with its memory window claimed at B. */
static struct sim_dm *device(struct sim_env *e)
{
    struct sim_dm *dm = sim_dm_serving(e, HVM_IOREQSRV_BUFIOREQ_OFF);

    assert_non_null(dm);
    assert_int_equal(sim_dm_claim_mmio(dm, B, B + SIM_DM_MMIO_SIZE - 1), 0);
    return dm;
}

/* Request k is a COPY at addr of count elements, with these fields. */
static void assert_copy(struct sim_dm *dm, unsigned int k, uint64_t addr, uint32_t count,
                        unsigned int size, int dir, bool ptr, uint64_t data, bool df)
{
    ioreq_t r = sim_dm_logged(dm, k);

    assert_int_equal(r.type, IOREQ_TYPE_COPY);
    assert_int_equal(r.addr, addr);
    assert_int_equal(r.count, count);
    assert_int_equal(r.size, size);
    assert_int_equal(r.dir, dir);
    assert_int_equal(r.data_is_ptr, ptr);
    assert_int_equal(r.df, df);
    if (ptr || dir == IOREQ_WRITE)
        assert_int_equal(r.data, data);
}

static void fill(uint8_t *p, size_t n, uint8_t seed)
{
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(seed + i * 7);
}

static void copy_of_each_size(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = device(e);
    const uint64_t pattern = 0x1122334455667788ULL;
    unsigned int n = 0;

    for (unsigned int size = 1; size <= 8; size *= 2) {
        uint64_t gpa = B + 0x100 + 8 * size, val = pattern;

        /* A write carries the value masked to its size. */
        assert_int_equal(cpu_mem(vcpu0(e), gpa, size, IOREQ_WRITE, &val), 0);
        assert_copy(dm, n++, gpa, 1, size, IOREQ_WRITE, false, pattern & size_mask(size),
                    false);
        assert_int_equal(sim_dm_logged(dm, n - 1).vp_eport, dm->vcpu_remote[0]);
        /* A read returns what the device answers. */
        val = 0;
        assert_int_equal(cpu_mem(vcpu0(e), gpa, size, IOREQ_READ, &val), 0);
        assert_copy(dm, n++, gpa, 1, size, IOREQ_READ, false, 0, false);
        assert_int_equal(val, pattern & size_mask(size));
    }
    /* The device answers 64 bits to a narrow read: the vCPU gets its size's worth. */
    dm->read_value = pattern;
    assert_int_equal(sim_dm_unclaim_mmio(dm, B, B + SIM_DM_MMIO_SIZE - 1), 0);
    assert_int_equal(sim_dm_claim_mmio(dm, B + 0x100000, B + 0x100fff), 0);
    for (unsigned int size = 1; size <= 8; size *= 2) {
        uint64_t val = 0;

        assert_int_equal(cpu_mem(vcpu0(e), B + 0x100000, size, IOREQ_READ, &val), 0);
        assert_int_equal(val, pattern & size_mask(size));
    }
    assert_int_equal(sim_failures(e->hv), 0);
}

static void each_vcpu_has_its_own_slot(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_ready(e, HVM_IOREQSRV_BUFIOREQ_OFF);
    struct sim_job *j;
    ioreq_t r;

    assert_non_null(dm);
    assert_int_equal(sim_dm_claim_mmio(dm, B, B + 0xfff), 0);
    j = sim_job_mem(e, 1, B + 0x40, 4, IOREQ_READ, 0);
    assert_non_null(j);
    assert_int_equal(sim_dm_wait_request(dm, 1, &r), 0);
    /* vCPU 1's request is in the slot at 32 bytes, with vCPU 1's port; slot 0 is idle. */
    assert_ptr_equal(&dm->iopage->vcpu_ioreq[1], (uint8_t *)dm->iopage + 32);
    assert_int_equal(r.addr, B + 0x40);
    assert_int_equal(r.vp_eport, dm->vcpu_remote[1]);
    assert_int_equal(sim_slot_state(&dm->iopage->vcpu_ioreq[0]), STATE_IOREQ_NONE);
    /* Unanswered, the vCPU waits. */
    assert_false(sim_job_done_within(j, SIM_QUIET_MS));
    sim_dm_answer(dm, 1, 0xfeedf00d);
    assert_int_equal(sim_job_join(j), 0);
    assert_int_equal(j->val, 0xfeedf00d);
    /* Xen takes the answer and leaves the slot at NONE. */
    assert_int_equal(sim_slot_state(&dm->iopage->vcpu_ioreq[1]), STATE_IOREQ_NONE);
    assert_int_equal(sim_failures(e->hv), 0);
}

static void rep_stos_is_cut_at_pages(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = device(e);
    uint32_t v;

    /* Upwards: to the end of the page, then on. */
    assert_int_equal(cpu_rep_stos(vcpu0(e), B + 0xff0, 0xdeadbeef, 4, 8, false), 0);
    assert_int_equal(sim_dm_nr_log(dm), 2);
    assert_copy(dm, 0, B + 0xff0, 4, 4, IOREQ_WRITE, false, 0xdeadbeef, false);
    assert_copy(dm, 1, B + 0x1000, 4, 4, IOREQ_WRITE, false, 0xdeadbeef, false);
    for (unsigned int i = 0; i < 8; i++) {
        memcpy(&v, &dm->mmio[0xff0 + 4 * i], 4);
        assert_int_equal(v, 0xdeadbeef);
    }
    assert_int_equal(dm->mmio[0xfef], 0);
    assert_int_equal(dm->mmio[0x1010], 0);
    /* Downwards: to the start of the page, including the element at offset 0. */
    assert_int_equal(cpu_rep_stos(vcpu0(e), B + 0x2008, 0x77, 1, 12, true), 0);
    assert_int_equal(sim_dm_nr_log(dm), 4);
    assert_copy(dm, 2, B + 0x2008, 9, 1, IOREQ_WRITE, false, 0x77, true);
    assert_copy(dm, 3, B + 0x1fff, 3, 1, IOREQ_WRITE, false, 0x77, true);
    for (unsigned int i = 0; i < 12; i++)
        assert_int_equal(dm->mmio[0x2008 - i], 0x77);
    assert_int_equal(dm->mmio[0x2009], 0);
    assert_int_equal(dm->mmio[0x1ffc], 0);
    assert_int_equal(sim_failures(e->hv), 0);
}

static void rep_movs_between_ram_and_mmio(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = device(e);
    uint8_t *src = sim_ram(e->hv, 0x100ff0), *dst;

    /* RAM to MMIO: the RAM side reaches its page end first. */
    fill(src, 64, 3);
    assert_int_equal(cpu_rep_movs(vcpu0(e), B + 0x800, 0x100ff0, 4, 16, false), 0);
    assert_int_equal(sim_dm_nr_log(dm), 2);
    assert_copy(dm, 0, B + 0x800, 4, 4, IOREQ_WRITE, true, 0x100ff0, false);
    assert_copy(dm, 1, B + 0x810, 12, 4, IOREQ_WRITE, true, 0x101000, false);
    /* The device model copied through its foreign mapping of guest RAM. */
    for (unsigned int i = 0; i < 16; i++)
        assert_memory_equal(&dm->mmio[0x800 + 4 * i], sim_ram(e->hv, 0x100ff0 + 4 * i), 4);
    /* And back, into a buffer starting 4 bytes before a page end. */
    dst = sim_ram(e->hv, 0x200ffc);
    assert_int_equal(cpu_rep_movs(vcpu0(e), 0x200ffc, B + 0x800, 4, 16, false), 0);
    assert_int_equal(sim_dm_nr_log(dm), 4);
    assert_copy(dm, 2, B + 0x800, 1, 4, IOREQ_READ, true, 0x200ffc, false);
    assert_copy(dm, 3, B + 0x804, 15, 4, IOREQ_READ, true, 0x201000, false);
    assert_memory_equal(dst, src, 4);
    for (unsigned int i = 1; i < 16; i++)
        assert_memory_equal(sim_ram(e->hv, 0x200ffc + 4 * i), sim_ram(e->hv, 0x100ff0 + 4 * i), 4);
    /* The MMIO side is cut at its own page end too. */
    fill(sim_ram(e->hv, 0x300000), 16, 9);
    assert_int_equal(cpu_rep_movs(vcpu0(e), B + 0xff8, 0x300000, 4, 4, false), 0);
    assert_int_equal(sim_dm_nr_log(dm), 6);
    assert_copy(dm, 4, B + 0xff8, 2, 4, IOREQ_WRITE, true, 0x300000, false);
    assert_copy(dm, 5, B + 0x1000, 2, 4, IOREQ_WRITE, true, 0x300008, false);
    assert_memory_equal(&dm->mmio[0xff8], sim_ram(e->hv, 0x300000), 16);
    assert_int_equal(sim_failures(e->hv), 0);
}

static void rep_movs_downwards(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = device(e);

    fill(sim_ram(e->hv, 0x100f00), 0x200, 5);
    /*
     * RAM side from offset 0x10 downwards: Xen counts (0x10 + 3) / 4 = 4,
     * leaving the element at offset 0 for a request of its own, then
     * (0xffc + 3) / 4 = 1023 in the page below.
     */
    assert_int_equal(cpu_rep_movs(vcpu0(e), B + 0x900, 0x101010, 4, 8, true), 0);
    assert_int_equal(sim_dm_nr_log(dm), 3);
    assert_copy(dm, 0, B + 0x900, 4, 4, IOREQ_WRITE, true, 0x101010, true);
    assert_copy(dm, 1, B + 0x8f0, 1, 4, IOREQ_WRITE, true, 0x101000, true);
    assert_copy(dm, 2, B + 0x8ec, 3, 4, IOREQ_WRITE, true, 0x100ffc, true);
    for (unsigned int i = 0; i < 8; i++)
        assert_memory_equal(&dm->mmio[0x900 - 4 * i], sim_ram(e->hv, 0x101010 - 4 * i), 4);
    /* MMIO side from offset 8 downwards: 3 elements reach its page start. */
    assert_int_equal(cpu_rep_movs(vcpu0(e), B + 0x1008, 0x100800, 4, 8, true), 0);
    assert_int_equal(sim_dm_nr_log(dm), 5);
    assert_copy(dm, 3, B + 0x1008, 3, 4, IOREQ_WRITE, true, 0x100800, true);
    assert_copy(dm, 4, B + 0xffc, 5, 4, IOREQ_WRITE, true, 0x1007f4, true);
    for (unsigned int i = 0; i < 8; i++)
        assert_memory_equal(&dm->mmio[0x1008 - 4 * i], sim_ram(e->hv, 0x100800 - 4 * i), 4);
    /*
     * MMIO to RAM downwards, the RAM side from offset 0x1c: 7, then offset 0
     * alone. That one is the last of the instruction: with one repetition
     * left x86_emulate() reads and writes it plainly, no data pointer (the
     * real-Xen fidelity check caught the difference).
     */
    memset(sim_ram(e->hv, 0x300000), 0, 64);
    assert_int_equal(cpu_rep_movs(vcpu0(e), 0x30001c, B + 0x900, 4, 8, true), 0);
    assert_int_equal(sim_dm_nr_log(dm), 7);
    assert_copy(dm, 5, B + 0x900, 7, 4, IOREQ_READ, true, 0x30001c, true);
    assert_copy(dm, 6, B + 0x8e4, 1, 4, IOREQ_READ, false, 0, false);
    for (unsigned int i = 0; i < 8; i++)
        assert_memory_equal(sim_ram(e->hv, 0x30001c - 4 * i), &dm->mmio[0x900 - 4 * i], 4);
    assert_int_equal(sim_failures(e->hv), 0);
}

static void rep_movs_mmio_to_mmio_goes_one_element_at_a_time(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = device(e);

    fill(&dm->mmio[0x100], 12, 1);
    assert_int_equal(cpu_rep_movs(vcpu0(e), B + 0x200, B + 0x100, 4, 3, false), 0);
    assert_int_equal(sim_dm_nr_log(dm), 6);
    for (unsigned int i = 0; i < 3; i++) {
        uint32_t word;

        memcpy(&word, &dm->mmio[0x100 + 4 * i], 4);
        assert_copy(dm, 2 * i, B + 0x100 + 4 * i, 1, 4, IOREQ_READ, false, 0, false);
        assert_copy(dm, 2 * i + 1, B + 0x200 + 4 * i, 1, 4, IOREQ_WRITE, false, word, false);
    }
    assert_memory_equal(&dm->mmio[0x200], &dm->mmio[0x100], 12);
}

static void rep_movs_ram_to_ram_is_the_cpu_s(void **state)
{
    struct sim_env *e = *state;
    uint8_t *p = sim_ram(e->hv, 0x400000);

    /* Overlapping forwards: each byte copies the one just written. */
    for (unsigned int i = 0; i < 9; i++)
        p[i] = (uint8_t)(i + 1);
    assert_int_equal(cpu_rep_movs(vcpu0(e), 0x400001, 0x400000, 1, 8, false), 0);
    for (unsigned int i = 0; i < 9; i++)
        assert_int_equal(p[i], 1);
    /* Across a page boundary, no device model involved. */
    fill(sim_ram(e->hv, 0x400ff0), 32, 3);
    assert_int_equal(cpu_rep_movs(vcpu0(e), 0x500ff8, 0x400ff0, 8, 4, false), 0);
    assert_memory_equal(sim_ram(e->hv, 0x500ff8), sim_ram(e->hv, 0x400ff0), 8);
    assert_memory_equal(sim_ram(e->hv, 0x501000), sim_ram(e->hv, 0x400ff8), 24);
}

static void unclaimed_accesses(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = device(e);
    uint8_t *ram = sim_ram(e->hv, 0x500000);
    uint64_t val = 0x1234;

    /* Writes are dropped, reads float high. */
    assert_int_equal(cpu_mem(vcpu0(e), B + 0x100000, 4, IOREQ_WRITE, &val), 0);
    assert_int_equal(cpu_mem(vcpu0(e), B + 0x100000, 8, IOREQ_READ, &val), 0);
    assert_int_equal(val, ~0ULL);
    assert_int_equal(cpu_rep_stos(vcpu0(e), B + 0x100000, 1, 4, 4, false), 0);
    /* A string read from nowhere fills guest RAM with ones, exactly its length. */
    memset(ram, 0x5a, 64);
    assert_int_equal(cpu_rep_movs(vcpu0(e), 0x500000, B + 0x100000, 4, 8, false), 0);
    for (unsigned int i = 0; i < 32; i++)
        assert_int_equal(ram[i], 0xff);
    assert_int_equal(ram[32], 0x5a);
    assert_int_equal(sim_dm_nr_log(dm), 0);
    assert_int_equal(atomic_load(&e->hv->stats.unclaimed_writes), 2);
    assert_int_equal(atomic_load(&e->hv->stats.unclaimed_reads), 2);
}

static void port_io(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_serving(e, HVM_IOREQSRV_BUFIOREQ_OFF);
    uint32_t val = 0xabcd;
    ioreq_t r;

    assert_non_null(dm);
    dm->read_value = 0x1122334455667788ULL;
    assert_int_equal(sim_dm_claim_pio(dm, 0x300, 0x30f), 0);
    assert_int_equal(cpu_pio(vcpu0(e), 0x302, 2, IOREQ_WRITE, &val), 0);
    r = sim_dm_logged(dm, 0);
    assert_int_equal(r.type, IOREQ_TYPE_PIO);
    assert_int_equal(r.addr, 0x302);
    assert_int_equal(r.size, 2);
    assert_int_equal(r.count, 1);
    assert_int_equal(r.dir, IOREQ_WRITE);
    assert_int_equal(r.data, 0xabcd);
    assert_int_equal(cpu_pio(vcpu0(e), 0x30c, 4, IOREQ_READ, &val), 0);
    assert_int_equal(val, 0x55667788);
    assert_int_equal(sim_dm_logged(dm, 1).dir, IOREQ_READ);
    /* Outside the claim. */
    assert_int_equal(cpu_pio(vcpu0(e), 0x310, 1, IOREQ_READ, &val), 0);
    assert_int_equal(val, 0xff);
    assert_int_equal(sim_dm_nr_log(dm), 2);
}

static const ioreq_t invalidate = {
    .type = IOREQ_TYPE_INVALIDATE,
    .size = 4,
    .dir = IOREQ_WRITE,
    .data = ~0ULL,
};

static void invalidate_is_answered_by_every_enabled_server(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *a = sim_dm_ready(e, HVM_IOREQSRV_BUFIOREQ_OFF);
    struct sim_dm *off = sim_dm_serving(e, HVM_IOREQSRV_BUFIOREQ_OFF);
    struct sim_dm *b = sim_dm_ready(e, HVM_IOREQSRV_BUFIOREQ_ATOMIC);
    struct sim_job args = {.req = invalidate}, *j;
    ioreq_t r;

    assert_non_null(a);
    assert_non_null(off);
    assert_non_null(b);
    assert_int_equal(sim_dm_set_state(off, 0), 0);
    j = sim_job_start(e, 0, sim_job_broadcast_fn, &args);
    assert_non_null(j);
    /* Both enabled servers get it, synchronously. */
    assert_int_equal(sim_dm_wait_request(a, 0, &r), 0);
    assert_int_equal(r.type, IOREQ_TYPE_INVALIDATE);
    assert_int_equal(r.data, ~0ULL);
    assert_int_equal(sim_dm_wait_request(b, 0, &r), 0);
    assert_int_equal(r.type, IOREQ_TYPE_INVALIDATE);
    sim_dm_answer(a, 0, 0);
    /* One answer is not enough. */
    assert_false(sim_job_done_within(j, SIM_QUIET_MS));
    sim_dm_answer(b, 0, 0);
    assert_int_equal(sim_job_join(j), 0);
    assert_int_equal(j->failed, 0);
    assert_int_equal(sim_dm_nr_log(off), 0);
    assert_int_equal(atomic_load(&e->hv->stats.ioreq_invalidate), 2);
    assert_int_equal(sim_failures(e->hv), 0);
}

static void invalidate_unanswered_counts_as_failed(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *a = sim_dm_serving(e, HVM_IOREQSRV_BUFIOREQ_OFF);
    struct sim_dm *mute = sim_dm_serving(e, HVM_IOREQSRV_BUFIOREQ_OFF);
    ioreq_t p = invalidate;

    assert_non_null(a);
    assert_non_null(mute);
    mute->mode = SIM_DM_NEVER;
    /*
     * Xen waits for the servers highest id first: the mute one (id 1) never
     * answers, so the vCPU never gets to the other's answer either.
     */
    assert_int_equal(hv_ioreq_broadcast(vcpu0(e), &p), 2);
    assert_int_equal(sim_dm_nr_log(a), 1);
    assert_int_equal(sim_dm_nr_log(mute), 1);
    assert_true(sim_failed_with(e->hv, "no answer"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(copy_of_each_size, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(each_vcpu_has_its_own_slot, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(rep_stos_is_cut_at_pages, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(rep_movs_between_ram_and_mmio, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(rep_movs_downwards, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(rep_movs_mmio_to_mmio_goes_one_element_at_a_time, sim_setup,
                                        sim_teardown),
        cmocka_unit_test_setup_teardown(rep_movs_ram_to_ram_is_the_cpu_s, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(unclaimed_accesses, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(port_io, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(invalidate_is_answered_by_every_enabled_server, sim_setup,
                                        sim_teardown),
        cmocka_unit_test_setup_teardown(invalidate_unanswered_counts_as_failed,
                                        sim_setup_short_timeout, sim_teardown),
    };
    return cmocka_run_group_tests_name("sim-requests", tests, NULL, NULL);
}
