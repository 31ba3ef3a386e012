/* SPDX-License-Identifier: MIT */
/*
 * Which server gets an access (ioreq_server_select() and
 * arch_ioreq_server_get_type_addr() in Xen 4.17): inclusive ranges, the
 * whole access inside one (merged) range, highest enabled id first,
 * EEXIST/ENOENT/ENOMEM on claims, and PCI config cycles through CF8/CFC.
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

static uint64_t mem_read(struct sim_env *e, uint64_t gpa, unsigned int size)
{
    uint64_t val = 0;

    assert_int_equal(cpu_mem(vcpu0(e), gpa, size, IOREQ_READ, &val), 0);
    return val;
}

static uint32_t pio_read(struct sim_env *e, uint16_t port, unsigned int size)
{
    uint32_t val = 0;

    assert_int_equal(cpu_pio(vcpu0(e), port, size, IOREQ_READ, &val), 0);
    return val;
}

static void pio_write(struct sim_env *e, uint16_t port, unsigned int size, uint32_t val)
{
    assert_int_equal(cpu_pio(vcpu0(e), port, size, IOREQ_WRITE, &val), 0);
}

/* The last request dm logged, and that there are n in all. */
static ioreq_t last(struct sim_dm *dm, unsigned int n)
{
    assert_int_equal(sim_dm_nr_log(dm), n);
    return sim_dm_logged(dm, n - 1);
}

static void ends_are_inclusive(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_serving(e, HVM_IOREQSRV_BUFIOREQ_OFF);

    assert_non_null(dm);
    dm->read_value = 0x5555;
    assert_int_equal(sim_dm_claim_mmio(dm, B, B + 0xfff), 0);
    assert_int_equal(sim_dm_claim_pio(dm, 0x100, 0x103), 0);
    /* The last bytes are in. */
    mem_read(e, B + 0xffc, 4);
    assert_int_equal(last(dm, 1).addr, B + 0xffc);
    assert_int_equal(pio_read(e, 0x103, 1), 0x55);
    assert_int_equal(last(dm, 2).addr, 0x103);
    assert_int_equal(pio_read(e, 0x102, 2), 0x5555);
    assert_int_equal(last(dm, 3).addr, 0x102);
    /* One byte past the end is out, and so is an access reaching past it. */
    assert_int_equal(mem_read(e, B + 0x1000, 1), 0xff);
    assert_int_equal(pio_read(e, 0x104, 1), 0xff);
    assert_int_equal(pio_read(e, 0x102, 4), 0xffffffff);
    assert_int_equal(sim_dm_nr_log(dm), 3);
    assert_int_equal(sim_failures(e->hv), 0);
}

static void claim_errors(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *a = sim_dm_ready(e, HVM_IOREQSRV_BUFIOREQ_OFF);
    struct sim_dm *b = sim_dm_ready(e, HVM_IOREQSRV_BUFIOREQ_OFF);

    assert_non_null(a);
    assert_non_null(b);
    /* start > end. */
    assert_int_equal(sim_dm_claim_mmio(a, B + 1, B), -EINVAL);
    assert_int_equal(sim_dm_unclaim_mmio(a, B + 1, B), -EINVAL);
    /* A single byte is a range. */
    assert_int_equal(sim_dm_claim_mmio(a, B, B), 0);
    assert_int_equal(sim_dm_claim_mmio(a, B + 0x100, B + 0x1ff), 0);
    /* Overlapping a claim of the same server, even by one byte: EEXIST. */
    assert_int_equal(sim_dm_claim_mmio(a, B + 0x1ff, B + 0x2ff), -EEXIST);
    assert_int_equal(sim_dm_claim_mmio(a, B + 0x80, B + 0x100), -EEXIST);
    assert_int_equal(sim_dm_claim_mmio(a, B + 0x120, B + 0x130), -EEXIST);
    /* Another type is another rangeset. */
    assert_int_equal(sim_dm_claim_pio(a, 0x100, 0x1ff), 0);
    /* Another server may claim the same addresses. */
    assert_int_equal(sim_dm_claim_mmio(b, B + 0x100, B + 0x1ff), 0);
    assert_int_equal(sim_dm_claim_mmio(b, B, B + 0xfff), -EEXIST);
}

static void adjacent_claims_merge(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_serving(e, HVM_IOREQSRV_BUFIOREQ_OFF);

    assert_non_null(dm);
    assert_int_equal(sim_dm_claim_mmio(dm, B, B + 0x7fb), 0);
    /* An access across the end of the claim is not in it. */
    assert_int_equal(mem_read(e, B + 0x7f8, 8), ~0ULL);
    assert_int_equal(sim_dm_nr_log(dm), 0);
    /* Claim the rest: the two ranges merge and the access is contained. */
    assert_int_equal(sim_dm_claim_mmio(dm, B + 0x7fc, B + 0xfff), 0);
    assert_int_equal(mem_read(e, B + 0x7f8, 8), 0);
    assert_int_equal(last(dm, 1).addr, B + 0x7f8);
    assert_int_equal(last(dm, 1).size, 8);
    /* Merged, they come out as one range too... */
    assert_int_equal(sim_dm_unclaim_mmio(dm, B, B + 0xfff), 0);
    /* ...and nothing is left. */
    assert_int_equal(mem_read(e, B, 4), 0xffffffff);
    assert_int_equal(sim_dm_nr_log(dm), 1);
}

static void access_partly_inside_is_unclaimed(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_serving(e, HVM_IOREQSRV_BUFIOREQ_OFF);
    uint64_t val = 0x1122334455667788ULL;

    assert_non_null(dm);
    assert_int_equal(sim_dm_claim_mmio(dm, B + 2, B + 0xfff), 0);
    /* Starts before the claim: reads all ones, writes go nowhere. */
    assert_int_equal(mem_read(e, B, 4), 0xffffffff);
    assert_int_equal(mem_read(e, B, 8), ~0ULL);
    assert_int_equal(cpu_mem(vcpu0(e), B, 4, IOREQ_WRITE, &val), 0);
    assert_int_equal(sim_dm_nr_log(dm), 0);
    assert_int_equal(atomic_load(&e->hv->stats.unclaimed_reads), 2);
    assert_int_equal(atomic_load(&e->hv->stats.unclaimed_writes), 1);
    /* A rep stos run reaching outside goes nowhere as a whole. */
    assert_int_equal(cpu_rep_stos(vcpu0(e), B + 0xff8, 0xab, 4, 4, false), 0);
    assert_int_equal(sim_dm_nr_log(dm), 1); /* only the part in the first page, in the claim */
    assert_int_equal(last(dm, 1).addr, B + 0xff8);
    assert_int_equal(last(dm, 1).count, 2);
}

static void highest_enabled_server_wins(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm[3];

    for (unsigned int i = 0; i < 3; i++) {
        dm[i] = sim_dm_serving(e, HVM_IOREQSRV_BUFIOREQ_OFF);
        assert_non_null(dm[i]);
        assert_int_equal(dm[i]->id, i);
        assert_int_equal(sim_dm_claim_mmio(dm[i], B, B + 0xfff), 0);
    }
    mem_read(e, B, 4);
    assert_int_equal(sim_dm_nr_log(dm[2]), 1);
    /* Disabled servers are skipped. */
    assert_int_equal(sim_dm_set_state(dm[2], 0), 0);
    mem_read(e, B, 4);
    assert_int_equal(sim_dm_nr_log(dm[1]), 1);
    assert_int_equal(sim_dm_set_state(dm[1], 0), 0);
    mem_read(e, B, 4);
    assert_int_equal(sim_dm_nr_log(dm[0]), 1);
    /* Enabled again: the highest again. */
    assert_int_equal(sim_dm_set_state(dm[2], 1), 0);
    mem_read(e, B, 4);
    assert_int_equal(sim_dm_nr_log(dm[2]), 2);
    /* None enabled: nobody's. */
    assert_int_equal(sim_dm_set_state(dm[2], 0), 0);
    assert_int_equal(sim_dm_set_state(dm[0], 0), 0);
    assert_int_equal(mem_read(e, B, 4), 0xffffffff);
    assert_int_equal(sim_dm_nr_log(dm[0]) + sim_dm_nr_log(dm[1]) + sim_dm_nr_log(dm[2]), 4);
    assert_int_equal(sim_failures(e->hv), 0);
}

static void unmap_must_be_contained_and_splits(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_serving(e, HVM_IOREQSRV_BUFIOREQ_OFF);

    assert_non_null(dm);
    assert_int_equal(sim_dm_claim_mmio(dm, B, B + 0xfff), 0);
    assert_int_equal(sim_dm_claim_mmio(dm, B + 0x2000, B + 0x2fff), 0);
    /* Not inside one range: ENOENT. */
    assert_int_equal(sim_dm_unclaim_mmio(dm, B + 0x800, B + 0x27ff), -ENOENT);
    assert_int_equal(sim_dm_unclaim_mmio(dm, B + 0x1000, B + 0x1000), -ENOENT);
    assert_int_equal(sim_dm_unclaim_mmio(dm, B - 1, B + 4), -ENOENT);
    /* A hole in the middle splits the range. */
    assert_int_equal(sim_dm_unclaim_mmio(dm, B + 0x400, B + 0x4ff), 0);
    mem_read(e, B + 0x3fc, 4);
    mem_read(e, B + 0x500, 4);
    assert_int_equal(sim_dm_nr_log(dm), 2);
    assert_int_equal(mem_read(e, B + 0x400, 4), 0xffffffff);
    assert_int_equal(mem_read(e, B + 0x4fc, 4), 0xffffffff);
    /* A run across the start of the hole is in no range. */
    assert_int_equal(cpu_rep_stos(vcpu0(e), B + 0x3f8, 0x5a, 4, 4, false), 0);
    assert_int_equal(sim_dm_nr_log(dm), 2);
    /* Unmapping the hole again: ENOENT. */
    assert_int_equal(sim_dm_unclaim_mmio(dm, B + 0x400, B + 0x4ff), -ENOENT);
}

static void range_limit_is_enomem(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_ready(e, HVM_IOREQSRV_BUFIOREQ_OFF);

    assert_non_null(dm);
    for (uint64_t i = 0; i < RANGESET_MAX; i++)
        assert_int_equal(sim_dm_claim_mmio(dm, B + 0x10 * i, B + 0x10 * i + 7), 0);
    assert_int_equal(sim_dm_claim_mmio(dm, B + 0x100000, B + 0x100fff), -ENOMEM);
    /* Growing a range at its end is no new range. */
    assert_int_equal(sim_dm_claim_mmio(dm, B + 8, B + 9), 0);
    /* Growing one at its start is, the way Xen's rangeset adds it. */
    assert_int_equal(sim_dm_claim_mmio(dm, B + 0x4e, B + 0x4f), -ENOMEM);
    /* Splitting one needs one more: ENOMEM. */
    assert_int_equal(sim_dm_unclaim_mmio(dm, B + 0x22, B + 0x23), -ENOMEM);
    /* The limit is per type. */
    assert_int_equal(sim_dm_claim_pio(dm, 0x100, 0x1ff), 0);
}

static void pci_config_cycles_are_routed_by_sbdf(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_serving(e, HVM_IOREQSRV_BUFIOREQ_OFF);
    const uint64_t sbdf = XEN_DMOP_PCI_SBDF(0, 0, 3, 0);
    uint32_t val = 0;
    ioreq_t r;

    assert_non_null(dm);
    dm->read_value = 0xaabbccdd;
    assert_int_equal(
        xendevicemodel_map_pcidev_to_ioreq_server(dm->dmh, SIM_DOMID, dm->id, 0, 0, 3, 0), 0);
    assert_int_equal(cpu_pci_config(vcpu0(e), 0, 3, 0, 0x10, 4, IOREQ_READ, &val), 0);
    assert_int_equal(val, 0xaabbccdd);
    r = last(dm, 1);
    assert_int_equal(r.type, IOREQ_TYPE_PCI_CONFIG);
    assert_int_equal(r.addr, sbdf << 32 | 0x10);
    assert_int_equal(r.size, 4);
    assert_int_equal(r.dir, IOREQ_READ);
    val = 0x12345678;
    assert_int_equal(cpu_pci_config(vcpu0(e), 0, 3, 0, 0x3c, 4, IOREQ_WRITE, &val), 0);
    r = last(dm, 2);
    assert_int_equal(r.addr, sbdf << 32 | 0x3c);
    assert_int_equal(r.dir, IOREQ_WRITE);
    assert_int_equal(r.data, 0x12345678);
    /* Another function, device or bus is not claimed: all ones, nothing sent. */
    assert_int_equal(cpu_pci_config(vcpu0(e), 0, 3, 1, 0, 4, IOREQ_READ, &val), 0);
    assert_int_equal(val, 0xffffffff);
    assert_int_equal(cpu_pci_config(vcpu0(e), 0, 4, 0, 0, 2, IOREQ_READ, &val), 0);
    assert_int_equal(val, 0xffff);
    assert_int_equal(cpu_pci_config(vcpu0(e), 1, 3, 0, 0, 4, IOREQ_READ, &val), 0);
    assert_int_equal(val, 0xffffffff);
    assert_int_equal(sim_dm_nr_log(dm), 2);
    /* Unmapped: not claimed any more. */
    assert_int_equal(
        xendevicemodel_unmap_pcidev_from_ioreq_server(dm->dmh, SIM_DOMID, dm->id, 0, 0, 3, 0), 0);
    assert_int_equal(cpu_pci_config(vcpu0(e), 0, 3, 0, 0, 4, IOREQ_READ, &val), 0);
    assert_int_equal(val, 0xffffffff);
    assert_int_equal(sim_dm_nr_log(dm), 2);
    /* The library refuses a device or function number out of range itself. */
    assert_int_equal(
        xendevicemodel_map_pcidev_to_ioreq_server(dm->dmh, SIM_DOMID, dm->id, 0, 0, 0x20, 0), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(sim_failures(e->hv), 0);
}

static void pci_config_sub_dword_registers(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_serving(e, HVM_IOREQSRV_BUFIOREQ_OFF);
    const uint64_t sbdf = XEN_DMOP_PCI_SBDF(0, 2, 5, 3);
    ioreq_t r;

    assert_non_null(dm);
    dm->read_value = 0xaabbccdd;
    assert_int_equal(
        xendevicemodel_map_pcidev_to_ioreq_server(dm->dmh, SIM_DOMID, dm->id, 0, 2, 5, 3), 0);
    pio_write(e, 0xcf8, 4, 0x80000000u | 2 << 16 | 5 << 11 | 3 << 8 | 0x40);
    /* The low two bits of the register come from the data port's offset. */
    assert_int_equal(pio_read(e, 0xcfd, 1), 0xdd);
    r = last(dm, 1);
    assert_int_equal(r.type, IOREQ_TYPE_PCI_CONFIG);
    assert_int_equal(r.addr, sbdf << 32 | 0x41);
    assert_int_equal(r.size, 1);
    assert_int_equal(pio_read(e, 0xcfe, 2), 0xccdd);
    r = last(dm, 2);
    assert_int_equal(r.addr, sbdf << 32 | 0x42);
    assert_int_equal(r.size, 2);
    assert_int_equal(pio_read(e, 0xcff, 1), 0xdd);
    assert_int_equal(last(dm, 3).addr, sbdf << 32 | 0x43);
    pio_write(e, 0xcfc, 2, 0xbeef);
    r = last(dm, 4);
    assert_int_equal(r.addr, sbdf << 32 | 0x40);
    assert_int_equal(r.size, 2);
    assert_int_equal(r.dir, IOREQ_WRITE);
    assert_int_equal(r.data, 0xbeef);
}

static void cf8_is_latched_by_dword_writes_only(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_serving(e, HVM_IOREQSRV_BUFIOREQ_OFF);
    const uint64_t sbdf = XEN_DMOP_PCI_SBDF(0, 0, 3, 0);

    assert_non_null(dm);
    assert_int_equal(
        xendevicemodel_map_pcidev_to_ioreq_server(dm->dmh, SIM_DOMID, dm->id, 0, 0, 3, 0), 0);
    pio_write(e, 0xcf8, 4, 0x80000000u | 3 << 11 | 0x10);
    /* Word and byte writes to CF8 latch nothing (they would name device 4). */
    pio_write(e, 0xcf8, 2, 4 << 11 | 0x20);
    pio_write(e, 0xcfa, 2, 0x8000);
    pio_write(e, 0xcf8, 1, 0x20);
    pio_read(e, 0xcfc, 4);
    assert_int_equal(last(dm, 1).addr, sbdf << 32 | 0x10);
    /* A dword write does. */
    pio_write(e, 0xcf8, 4, 0x80000000u | 4 << 11 | 0x20);
    assert_int_equal(pio_read(e, 0xcfc, 4), 0xffffffff);
    assert_int_equal(sim_dm_nr_log(dm), 1);
}

static void cf8_enable_bit_clear_means_plain_pio(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_serving(e, HVM_IOREQSRV_BUFIOREQ_OFF);
    ioreq_t r;

    assert_non_null(dm);
    dm->read_value = 0x11223344;
    assert_int_equal(sim_dm_claim_pio(dm, 0xcf8, 0xcff), 0);
    assert_int_equal(
        xendevicemodel_map_pcidev_to_ioreq_server(dm->dmh, SIM_DOMID, dm->id, 0, 0, 3, 0), 0);
    /* The CF8 write itself is an ordinary port write, sent on to the server. */
    pio_write(e, 0xcf8, 4, 3 << 11 | 0x10);
    r = last(dm, 1);
    assert_int_equal(r.type, IOREQ_TYPE_PIO);
    assert_int_equal(r.addr, 0xcf8);
    assert_int_equal(r.data, 3 << 11 | 0x10);
    /* Enable bit clear: CFC is a port like any other. */
    assert_int_equal(pio_read(e, 0xcfc, 4), 0x11223344);
    r = last(dm, 2);
    assert_int_equal(r.type, IOREQ_TYPE_PIO);
    assert_int_equal(r.addr, 0xcfc);
    assert_int_equal(r.size, 4);
    /* Enable bit set: a config cycle, never the port range, even unclaimed. */
    pio_write(e, 0xcf8, 4, 0x80000000u | 6 << 11);
    assert_int_equal(sim_dm_nr_log(dm), 3);
    assert_int_equal(pio_read(e, 0xcfc, 4), 0xffffffff);
    assert_int_equal(sim_dm_nr_log(dm), 3);
    pio_write(e, 0xcf8, 4, 0x80000000u | 3 << 11 | 0x8);
    pio_read(e, 0xcfe, 2);
    assert_int_equal(last(dm, 5).type, IOREQ_TYPE_PCI_CONFIG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(ends_are_inclusive, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(claim_errors, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(adjacent_claims_merge, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(access_partly_inside_is_unclaimed, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(highest_enabled_server_wins, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(unmap_must_be_contained_and_splits, sim_setup,
                                        sim_teardown),
        cmocka_unit_test_setup_teardown(range_limit_is_enomem, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(pci_config_cycles_are_routed_by_sbdf, sim_setup,
                                        sim_teardown),
        cmocka_unit_test_setup_teardown(pci_config_sub_dword_registers, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(cf8_is_latched_by_dword_writes_only, sim_setup,
                                        sim_teardown),
        cmocka_unit_test_setup_teardown(cf8_enable_bit_clear_means_plain_pio, sim_setup,
                                        sim_teardown),
    };
    return cmocka_run_group_tests_name("sim-ranges", tests, NULL, NULL);
}
