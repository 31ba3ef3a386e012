/* SPDX-License-Identifier: MIT */
/*
 * Ioreq servers on the simulated Xen, through the real library API: creation
 * (bufioreq handling, limits, ids), the resource scheme (frame 0 the ring,
 * frame 1 the slots), the legacy gfn scheme and how the two exclude each
 * other, and vp_eport written at enable time
 * (xen/common/ioreq.c, xen/arch/x86/hvm/ioreq.c, xen/common/memory.c).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sim_dm.h"

static void create_with_each_bufioreq_handling(void **state)
{
    struct sim_env *e = *state;
    const int modes[] = {HVM_IOREQSRV_BUFIOREQ_OFF, HVM_IOREQSRV_BUFIOREQ_LEGACY,
                         HVM_IOREQSRV_BUFIOREQ_ATOMIC};

    for (unsigned int k = 0; k < 3; k++) {
        struct sim_dm *dm = sim_dm_new(e);
        evtchn_port_t port = 0xdead;

        assert_non_null(dm);
        assert_int_equal(sim_dm_create(dm, modes[k]), 0);
        assert_int_equal(dm->id, k);
        assert_int_equal(e->hv->server[dm->id].bufioreq_handling, modes[k]);
        assert_int_equal(
            xendevicemodel_get_ioreq_server_info(dm->dmh, SIM_DOMID, dm->id, NULL, NULL, &port), 0);
        if (modes[k] == HVM_IOREQSRV_BUFIOREQ_OFF) {
            /* No ring, no buffered port. */
            assert_int_equal(port, 0);
        } else {
            assert_int_not_equal(port, 0);
            assert_int_equal(port, e->hv->server[dm->id].buf_port);
            for (unsigned int v = 0; v < dm->nr_vcpus; v++)
                assert_int_not_equal(port, e->hv->server[dm->id].vcpu_port[v]);
        }
        /* Each mode's pages map the way the helper expects; the ring starts empty. */
        assert_int_equal(sim_dm_map(dm), 0);
        if (dm->bufpage) {
            assert_int_equal(dm->bufpage->read_pointer, 0);
            assert_int_equal(dm->bufpage->write_pointer, 0);
        }
    }
}

static void create_with_invalid_handling_is_einval(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_new(e);
    ioservid_t id;

    assert_non_null(dm);
    assert_int_equal(xendevicemodel_create_ioreq_server(dm->dmh, SIM_DOMID, 3, &id), -1);
    assert_int_equal(errno, EINVAL);
    assert_int_equal(xendevicemodel_create_ioreq_server(dm->dmh, SIM_DOMID, -1, &id), -1);
    assert_int_equal(errno, EINVAL);
    assert_false(e->hv->server[0].used);
    /*
     * The dm_op field is a uint8_t and the library truncates the int it is
     * given: 256 is OFF, as on real Xen.
     */
    assert_int_equal(xendevicemodel_create_ioreq_server(dm->dmh, SIM_DOMID, 256, &id), 0);
    assert_int_equal(e->hv->server[id].bufioreq_handling, HVM_IOREQSRV_BUFIOREQ_OFF);
    assert_int_equal(xendevicemodel_destroy_ioreq_server(dm->dmh, SIM_DOMID, id), 0);
}

static void ninth_server_is_enospc(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_new(e);
    ioservid_t id;

    assert_non_null(dm);
    for (unsigned int i = 0; i < HV_MAX_SERVERS; i++) {
        assert_int_equal(xendevicemodel_create_ioreq_server(dm->dmh, SIM_DOMID,
                                                            HVM_IOREQSRV_BUFIOREQ_ATOMIC, &id),
                         0);
        assert_int_equal(id, i);
    }
    assert_int_equal(
        xendevicemodel_create_ioreq_server(dm->dmh, SIM_DOMID, HVM_IOREQSRV_BUFIOREQ_OFF, &id), -1);
    assert_int_equal(errno, ENOSPC);
    for (unsigned int i = 0; i < HV_MAX_SERVERS; i++)
        assert_int_equal(xendevicemodel_destroy_ioreq_server(dm->dmh, SIM_DOMID, (ioservid_t)i), 0);
}

static void ids_are_reused_after_destroy(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_new(e);
    ioservid_t id;

    assert_non_null(dm);
    for (unsigned int i = 0; i < 5; i++)
        assert_int_equal(
            xendevicemodel_create_ioreq_server(dm->dmh, SIM_DOMID, HVM_IOREQSRV_BUFIOREQ_OFF, &id),
            0);
    assert_int_equal(xendevicemodel_destroy_ioreq_server(dm->dmh, SIM_DOMID, 3), 0);
    assert_int_equal(xendevicemodel_destroy_ioreq_server(dm->dmh, SIM_DOMID, 1), 0);
    /* The lowest free id comes first. */
    assert_int_equal(
        xendevicemodel_create_ioreq_server(dm->dmh, SIM_DOMID, HVM_IOREQSRV_BUFIOREQ_OFF, &id), 0);
    assert_int_equal(id, 1);
    assert_int_equal(
        xendevicemodel_create_ioreq_server(dm->dmh, SIM_DOMID, HVM_IOREQSRV_BUFIOREQ_OFF, &id), 0);
    assert_int_equal(id, 3);
    assert_int_equal(
        xendevicemodel_create_ioreq_server(dm->dmh, SIM_DOMID, HVM_IOREQSRV_BUFIOREQ_OFF, &id), 0);
    assert_int_equal(id, 5);
    /* Destroying twice, or an id that never was: ENOENT. */
    assert_int_equal(xendevicemodel_destroy_ioreq_server(dm->dmh, SIM_DOMID, 5), 0);
    assert_int_equal(xendevicemodel_destroy_ioreq_server(dm->dmh, SIM_DOMID, 5), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(xendevicemodel_destroy_ioreq_server(dm->dmh, SIM_DOMID, 8), -1);
    assert_int_equal(errno, ENOENT);
}

/* Map `nr` frames of server id's resource from `frame`; NULL and errno on failure. */
static void *map_frames(struct sim_dm *dm, unsigned int type, unsigned int id, unsigned long frame,
                        unsigned long nr, xenforeignmemory_resource_handle **res)
{
    void *addr = NULL;

    *res = xenforeignmemory_map_resource(dm->fmem, SIM_DOMID, type, id, frame, nr, &addr,
                                         PROT_READ | PROT_WRITE, 0);
    return *res ? addr : NULL;
}

static void resource_frames_are_ring_then_slots(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_new(e);
    xenforeignmemory_resource_handle *r0, *r1, *r01;
    uint8_t *ring, *slots, *both;

    assert_non_null(dm);
    assert_int_equal(sim_dm_create(dm, HVM_IOREQSRV_BUFIOREQ_LEGACY), 0);
    ring = map_frames(dm, XENMEM_resource_ioreq_server, dm->id,
                      XENMEM_resource_ioreq_server_frame_bufioreq, 1, &r0);
    slots = map_frames(dm, XENMEM_resource_ioreq_server, dm->id,
                       XENMEM_resource_ioreq_server_frame_ioreq(0), 1, &r1);
    both = map_frames(dm, XENMEM_resource_ioreq_server, dm->id, 0, 2, &r01);
    assert_non_null(ring);
    assert_non_null(slots);
    assert_non_null(both);
    /* The pages are the hypervisor's ring and ioreq page. */
    assert_ptr_equal(hv_frame_ptr(e->hv, e->hv->server[dm->id].bufioreq_frame),
                     e->hv->server[dm->id].bufpage);
    assert_ptr_equal(hv_frame_ptr(e->hv, e->hv->server[dm->id].ioreq_frame),
                     e->hv->server[dm->id].iopage);
    /* Frames 0..1 in one call are the same pages, in that order. */
    ring[100] = 0x5a;
    slots[4000] = 0xa5;
    assert_int_equal(both[100], 0x5a);
    assert_int_equal(both[4096 + 4000], 0xa5);
    assert_int_equal(((uint8_t *)e->hv->server[dm->id].bufpage)[100], 0x5a);
    ring[100] = 0;
    slots[4000] = 0;
    /* vCPU i's slot is at 32 * i: enable writes each vp_eport there. */
    assert_int_equal(xendevicemodel_set_ioreq_server_state(dm->dmh, SIM_DOMID, dm->id, 1), 0);
    for (unsigned int v = 0; v < dm->nr_vcpus; v++) {
        uint32_t port;

        memcpy(&port, slots + 32 * v + offsetof(ioreq_t, vp_eport), sizeof(port));
        assert_int_equal(port, e->hv->server[dm->id].vcpu_port[v]);
        memcpy(&port, both + 4096 + 32 * v + offsetof(ioreq_t, vp_eport), sizeof(port));
        assert_int_equal(port, e->hv->server[dm->id].vcpu_port[v]);
    }
    assert_int_equal(xenforeignmemory_unmap_resource(dm->fmem, r0), 0);
    assert_int_equal(xenforeignmemory_unmap_resource(dm->fmem, r1), 0);
    assert_int_equal(xenforeignmemory_unmap_resource(dm->fmem, r01), 0);
    assert_int_equal(hv_foreign_pages_held(e->hv), 0);
}

static void resource_errors(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *off = sim_dm_new(e), *buf = sim_dm_new(e);
    xenforeignmemory_resource_handle *r;

    assert_non_null(off);
    assert_non_null(buf);
    assert_int_equal(sim_dm_create(off, HVM_IOREQSRV_BUFIOREQ_OFF), 0);
    assert_int_equal(sim_dm_create(buf, HVM_IOREQSRV_BUFIOREQ_ATOMIC), 0);
    /* No ring without bufioreq handling: ENOENT, alone or with frame 1. */
    assert_null(map_frames(off, XENMEM_resource_ioreq_server, off->id, 0, 1, &r));
    assert_int_equal(errno, ENOENT);
    assert_null(map_frames(off, XENMEM_resource_ioreq_server, off->id, 0, 2, &r));
    assert_int_equal(errno, ENOENT);
    /* Frames past the ioreq page: EINVAL. */
    assert_null(map_frames(buf, XENMEM_resource_ioreq_server, buf->id, 2, 1, &r));
    assert_int_equal(errno, EINVAL);
    assert_null(map_frames(buf, XENMEM_resource_ioreq_server, buf->id, 1, 2, &r));
    assert_int_equal(errno, EINVAL);
    assert_null(map_frames(buf, XENMEM_resource_ioreq_server, buf->id, 0, 3, &r));
    assert_int_equal(errno, EINVAL);
    /* A resource type Xen does not know. */
    assert_null(map_frames(buf, 0xff, buf->id, 1, 1, &r));
    assert_int_equal(errno, EOPNOTSUPP);
    /* A server that does not exist; an id that is no ioservid_t. */
    assert_null(map_frames(buf, XENMEM_resource_ioreq_server, 5, 1, 1, &r));
    assert_int_equal(errno, ENOENT);
    assert_null(map_frames(buf, XENMEM_resource_ioreq_server, 0x10000 + buf->id, 1, 1, &r));
    assert_int_equal(errno, EINVAL);
    /* None of the failures left a mapping behind. */
    assert_int_equal(hv_foreign_pages_held(e->hv), 0);
}

static void gfn_scheme_excludes_resource_scheme(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_new(e);
    xen_pfn_t ig = 0, bg = 0;
    evtchn_port_t port = 0;
    xenforeignmemory_resource_handle *r;

    assert_non_null(dm);
    assert_int_equal(sim_dm_create(dm, HVM_IOREQSRV_BUFIOREQ_LEGACY), 0);
    assert_int_equal(
        xendevicemodel_get_ioreq_server_info(dm->dmh, SIM_DOMID, dm->id, &ig, &bg, &port), 0);
    assert_int_not_equal(ig, 0);
    assert_int_not_equal(bg, 0);
    assert_int_not_equal(ig, bg);
    assert_int_equal(port, e->hv->server[dm->id].buf_port);
    /* The pages went out as guest frames: not as a resource any more. */
    assert_null(map_frames(dm, XENMEM_resource_ioreq_server, dm->id, 1, 1, &r));
    assert_int_equal(errno, EPERM);
    assert_null(map_frames(dm, XENMEM_resource_ioreq_server, dm->id, 0, 1, &r));
    assert_int_equal(errno, EPERM);
    /* Asking again is fine, and gives the same gfns. */
    xen_pfn_t ig2 = 0;
    assert_int_equal(
        xendevicemodel_get_ioreq_server_info(dm->dmh, SIM_DOMID, dm->id, &ig2, NULL, NULL), 0);
    assert_int_equal(ig2, ig);
}

static void resource_scheme_excludes_gfn_scheme(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_new(e);
    xen_pfn_t ig = 0, bg = 0;
    evtchn_port_t port = 0;

    assert_non_null(dm);
    assert_int_equal(sim_dm_create(dm, HVM_IOREQSRV_BUFIOREQ_ATOMIC), 0);
    assert_int_equal(sim_dm_map(dm), 0);
    assert_int_equal(
        xendevicemodel_get_ioreq_server_info(dm->dmh, SIM_DOMID, dm->id, &ig, NULL, NULL), -1);
    assert_int_equal(errno, EPERM);
    assert_int_equal(
        xendevicemodel_get_ioreq_server_info(dm->dmh, SIM_DOMID, dm->id, NULL, &bg, NULL), -1);
    assert_int_equal(errno, EPERM);
    /* Without gfns (XEN_DMOP_no_gfns) it still gives the buffered port. */
    assert_int_equal(
        xendevicemodel_get_ioreq_server_info(dm->dmh, SIM_DOMID, dm->id, NULL, NULL, &port), 0);
    assert_int_not_equal(port, 0);
    assert_int_equal(port, e->hv->server[dm->id].buf_port);
}

static void gfn_scheme_pages_leave_the_p2m_at_enable(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_new(e), *off = sim_dm_new(e);
    xen_pfn_t ig = 0, bg = 0, obg = 0xdead, oig = 0;
    shared_iopage_t *page;

    assert_non_null(dm);
    assert_non_null(off);
    assert_int_equal(sim_dm_create(dm, HVM_IOREQSRV_BUFIOREQ_LEGACY), 0);
    assert_int_equal(
        xendevicemodel_get_ioreq_server_info(dm->dmh, SIM_DOMID, dm->id, &ig, &bg, NULL), 0);
    /* While disabled, the pages are guest frames a device model may map. */
    page = xenforeignmemory_map(dm->fmem, SIM_DOMID, PROT_READ | PROT_WRITE, 1, &ig, NULL);
    assert_non_null(page);
    assert_int_equal(page->vcpu_ioreq[0].vp_eport, 0);
    page->vcpu_ioreq[0].data = 0x1234; /* cleared when the page leaves the p2m */
    assert_int_equal(xendevicemodel_set_ioreq_server_state(dm->dmh, SIM_DOMID, dm->id, 1), 0);
    /* Enabled: cleared, vp_eport written, and no longer mappable by gfn. */
    assert_int_equal(page->vcpu_ioreq[0].data, 0);
    for (unsigned int v = 0; v < dm->nr_vcpus; v++)
        assert_int_equal(page->vcpu_ioreq[v].vp_eport, e->hv->server[dm->id].vcpu_port[v]);
    assert_null(xenforeignmemory_map(dm->fmem, SIM_DOMID, PROT_READ, 1, &ig, NULL));
    assert_null(xenforeignmemory_map(dm->fmem, SIM_DOMID, PROT_READ, 1, &bg, NULL));
    /* Disabled: back in the p2m, cleared again. */
    assert_int_equal(xendevicemodel_set_ioreq_server_state(dm->dmh, SIM_DOMID, dm->id, 0), 0);
    assert_int_equal(page->vcpu_ioreq[0].vp_eport, 0);
    void *again = xenforeignmemory_map(dm->fmem, SIM_DOMID, PROT_READ, 1, &ig, NULL);
    assert_non_null(again);
    assert_int_equal(xenforeignmemory_unmap(dm->fmem, again, 1), 0);
    assert_int_equal(xenforeignmemory_unmap(dm->fmem, page, 1), 0);
    /* Without a ring there is no buffered gfn and no buffered port. */
    evtchn_port_t oport = 0xdead;
    assert_int_equal(sim_dm_create(off, HVM_IOREQSRV_BUFIOREQ_OFF), 0);
    assert_int_equal(
        xendevicemodel_get_ioreq_server_info(off->dmh, SIM_DOMID, off->id, &oig, &obg, &oport), 0);
    assert_int_not_equal(oig, 0);
    assert_int_equal(obg, 0);
    assert_int_equal(oport, 0);
}

static void enable_writes_vp_eport(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *a = sim_dm_new(e), *b = sim_dm_new(e);

    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(sim_dm_create(a, HVM_IOREQSRV_BUFIOREQ_OFF), 0);
    assert_int_equal(sim_dm_create(b, HVM_IOREQSRV_BUFIOREQ_ATOMIC), 0);
    assert_int_equal(sim_dm_map(a), 0);
    assert_int_equal(sim_dm_map(b), 0);
    /* Before enable: 0 in every slot. */
    for (unsigned int v = 0; v < a->nr_vcpus; v++) {
        assert_int_equal(a->iopage->vcpu_ioreq[v].vp_eport, 0);
        assert_int_equal(b->iopage->vcpu_ioreq[v].vp_eport, 0);
    }
    assert_int_equal(sim_dm_set_state(a, 1), 0);
    assert_int_equal(sim_dm_set_state(b, 1), 0);
    /* After: each vCPU's own port, never 0, all distinct. */
    for (unsigned int v = 0; v < a->nr_vcpus; v++) {
        uint32_t pa = a->iopage->vcpu_ioreq[v].vp_eport, pb = b->iopage->vcpu_ioreq[v].vp_eport;

        assert_int_not_equal(pa, 0);
        assert_int_not_equal(pb, 0);
        assert_int_equal(pa, e->hv->server[a->id].vcpu_port[v]);
        assert_int_equal(pb, e->hv->server[b->id].vcpu_port[v]);
        assert_int_not_equal(pa, pb);
        for (unsigned int w = 0; w < v; w++)
            assert_int_not_equal(pa, a->iopage->vcpu_ioreq[w].vp_eport);
    }
    /* Binding them works; port 0 is never a port. */
    assert_int_equal(sim_dm_bind(b), 0);
    assert_int_equal(xenevtchn_bind_interdomain(b->xce, SIM_DOMID, 0), -1);
    assert_int_equal(errno, EINVAL);
}

static void enable_before_the_page_exists_leaves_vp_eport_zero(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_new(e);
    uint64_t val = 0;

    assert_non_null(dm);
    assert_int_equal(sim_dm_create(dm, HVM_IOREQSRV_BUFIOREQ_OFF), 0);
    assert_int_equal(sim_dm_set_state(dm, 1), 0);
    assert_int_equal(sim_dm_map(dm), 0);
    /* ioreq_server_update_evtchn() found no page at enable time. */
    for (unsigned int v = 0; v < dm->nr_vcpus; v++)
        assert_int_equal(dm->iopage->vcpu_ioreq[v].vp_eport, 0);
    /* Enabling what is enabled changes nothing. */
    assert_int_equal(sim_dm_set_state(dm, 1), 0);
    assert_int_equal(dm->iopage->vcpu_ioreq[0].vp_eport, 0);
    /* A request now meets the wrong vp_eport: Xen refuses to send it. */
    assert_int_equal(sim_dm_claim_mmio(dm, SIM_MMIO_BASE, SIM_MMIO_BASE + 0xfff), 0);
    assert_int_equal(cpu_mem(&e->hv->vcpu[0], SIM_MMIO_BASE, 4, IOREQ_READ, &val), 0);
    assert_int_equal(val, 0xffffffff);
    assert_int_equal(sim_failures(e->hv), 1);
    assert_true(sim_failed_with(e->hv, "bad event channel 0"));
    /* Disable and enable again: now the page exists. */
    assert_int_equal(sim_dm_set_state(dm, 0), 0);
    assert_int_equal(sim_dm_set_state(dm, 1), 0);
    for (unsigned int v = 0; v < dm->nr_vcpus; v++)
        assert_int_equal(dm->iopage->vcpu_ioreq[v].vp_eport, e->hv->server[dm->id].vcpu_port[v]);
}

static void request_to_a_server_without_page_is_a_failure(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_new(e);
    uint64_t val = 0;

    assert_non_null(dm);
    assert_int_equal(sim_dm_create(dm, HVM_IOREQSRV_BUFIOREQ_OFF), 0);
    assert_int_equal(sim_dm_claim_mmio(dm, SIM_MMIO_BASE, SIM_MMIO_BASE + 0xfff), 0);
    assert_int_equal(sim_dm_set_state(dm, 1), 0);
    /* Xen's get_ioreq() would dereference the page that was never allocated. */
    assert_int_equal(cpu_mem(&e->hv->vcpu[0], SIM_MMIO_BASE, 4, IOREQ_READ, &val), 0);
    assert_int_equal(val, 0xffffffff);
    assert_int_equal(sim_failures(e->hv), 1);
    assert_true(sim_failed_with(e->hv, "no ioreq page"));
}

static void unknown_server_is_enoent(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_new(e);
    evtchn_port_t port;

    assert_non_null(dm);
    assert_int_equal(xendevicemodel_set_ioreq_server_state(dm->dmh, SIM_DOMID, 2, 1), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(xendevicemodel_get_ioreq_server_info(dm->dmh, SIM_DOMID, 2, NULL, NULL, &port),
                     -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(
        xendevicemodel_map_io_range_to_ioreq_server(dm->dmh, SIM_DOMID, 2, 1, 0x1000, 0x1fff), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(xendevicemodel_map_pcidev_to_ioreq_server(dm->dmh, SIM_DOMID, 9, 0, 0, 1, 0),
                     -1);
    assert_int_equal(errno, ENOENT);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(create_with_each_bufioreq_handling, sim_setup,
                                        sim_teardown),
        cmocka_unit_test_setup_teardown(create_with_invalid_handling_is_einval, sim_setup,
                                        sim_teardown),
        cmocka_unit_test_setup_teardown(ninth_server_is_enospc, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(ids_are_reused_after_destroy, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(resource_frames_are_ring_then_slots, sim_setup,
                                        sim_teardown),
        cmocka_unit_test_setup_teardown(resource_errors, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(gfn_scheme_excludes_resource_scheme, sim_setup,
                                        sim_teardown),
        cmocka_unit_test_setup_teardown(resource_scheme_excludes_gfn_scheme, sim_setup,
                                        sim_teardown),
        cmocka_unit_test_setup_teardown(gfn_scheme_pages_leave_the_p2m_at_enable, sim_setup,
                                        sim_teardown),
        cmocka_unit_test_setup_teardown(enable_writes_vp_eport, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(enable_before_the_page_exists_leaves_vp_eport_zero,
                                        sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(request_to_a_server_without_page_is_a_failure, sim_setup,
                                        sim_teardown),
        cmocka_unit_test_setup_teardown(unknown_server_is_enoent, sim_setup, sim_teardown),
    };
    return cmocka_run_group_tests_name("sim-servers", tests, NULL, NULL);
}
