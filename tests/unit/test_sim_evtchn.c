/* SPDX-License-Identifier: MIT */
/*
 * Event channels between the guest's ioreq ports and dom0, as the device
 * model sees them through libxenevtchn: one spurious event at bind
 * (evtchn_bind_interdomain()), a delivered port masked until unmasked with
 * notifications coalescing meanwhile (Linux's evtchn driver), a pollable fd,
 * unbind, misuse recorded, and a restricted handle's EACCES.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sim_dm.h"

/* A server created, mapped and enabled; nothing bound yet. */
static struct sim_dm *enabled_server(struct sim_env *e, int bufioreq)
{
    struct sim_dm *dm = sim_dm_new(e);

    assert_non_null(dm);
    assert_int_equal(sim_dm_create(dm, bufioreq), 0);
    assert_int_equal(sim_dm_map(dm), 0);
    assert_int_equal(sim_dm_set_state(dm, 1), 0);
    return dm;
}

static void bind_delivers_one_spurious_event(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = enabled_server(e, HVM_IOREQSRV_BUFIOREQ_OFF);
    int fd = xenevtchn_fd(dm->xce);
    int lp;

    assert_false(sim_readable(fd, SIM_QUIET_MS));
    lp = xenevtchn_bind_interdomain(dm->xce, SIM_DOMID, dm->iopage->vcpu_ioreq[0].vp_eport);
    assert_true(lp > 0);
    /* Xen sets the new port pending: one event, with nothing in the slot. */
    assert_true(sim_readable(fd, SIM_WAIT_MS));
    assert_int_equal(xenevtchn_pending(dm->xce), lp);
    assert_int_equal(sim_slot_state(&dm->iopage->vcpu_ioreq[0]), STATE_IOREQ_NONE);
    assert_false(sim_readable(fd, SIM_QUIET_MS));
}

static void delivered_port_stays_masked_until_unmask(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = enabled_server(e, HVM_IOREQSRV_BUFIOREQ_OFF);
    int fd = xenevtchn_fd(dm->xce);
    uint32_t remote = dm->iopage->vcpu_ioreq[0].vp_eport;
    int lp = xenevtchn_bind_interdomain(dm->xce, SIM_DOMID, remote);

    assert_true(lp > 0);
    assert_int_equal(sim_evtchn_wait(dm->xce, SIM_WAIT_MS), lp); /* the bind's event */
    /* Masked: Xen's notifications pile up as one pending event. */
    hv_evtchn_send_to_dom0(e->hv, remote);
    hv_evtchn_send_to_dom0(e->hv, remote);
    hv_evtchn_send_to_dom0(e->hv, remote);
    assert_false(sim_readable(fd, SIM_QUIET_MS));
    /* Unmask delivers it again, once. */
    assert_int_equal(xenevtchn_unmask(dm->xce, lp), 0);
    assert_int_equal(sim_evtchn_wait(dm->xce, SIM_WAIT_MS), lp);
    assert_false(sim_readable(fd, SIM_QUIET_MS));
    /* Unmasking with nothing pending delivers nothing... */
    assert_int_equal(xenevtchn_unmask(dm->xce, lp), 0);
    sim_evtchn_barrier(dm->xce);
    assert_false(sim_readable(fd, SIM_QUIET_MS));
    /* ...and the next notification arrives straight away. */
    hv_evtchn_send_to_dom0(e->hv, remote);
    assert_int_equal(sim_evtchn_wait(dm->xce, SIM_WAIT_MS), lp);
    assert_false(sim_readable(fd, SIM_QUIET_MS));
    assert_int_equal(sim_failures(e->hv), 0);
}

static void ports_per_vcpu_and_for_the_ring(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = enabled_server(e, HVM_IOREQSRV_BUFIOREQ_ATOMIC);
    int fd = xenevtchn_fd(dm->xce);

    assert_int_equal(sim_dm_bind(dm), 0);
    /* The bind events: one per port, vCPUs' and the ring's. */
    for (unsigned int k = 0; k < dm->nr_vcpus + 1; k++)
        assert_true(sim_evtchn_wait(dm->xce, SIM_WAIT_MS) > 0);
    assert_false(sim_readable(fd, SIM_QUIET_MS));
    assert_int_not_equal(dm->buf_local, 0);
    assert_int_not_equal(dm->vcpu_local[0], dm->vcpu_local[1]);
    assert_int_not_equal(dm->vcpu_local[1], dm->buf_local);
    /* Each remote port arrives on its own local port (unmasked first). */
    xenevtchn_unmask(dm->xce, dm->vcpu_local[0]);
    xenevtchn_unmask(dm->xce, dm->vcpu_local[1]);
    xenevtchn_unmask(dm->xce, dm->buf_local);
    sim_evtchn_barrier(dm->xce);
    assert_false(sim_readable(fd, SIM_QUIET_MS));
    hv_evtchn_send_to_dom0(e->hv, dm->vcpu_remote[1]);
    assert_int_equal(sim_evtchn_wait(dm->xce, SIM_WAIT_MS), dm->vcpu_local[1]);
    hv_evtchn_send_to_dom0(e->hv, dm->buf_remote);
    assert_int_equal(sim_evtchn_wait(dm->xce, SIM_WAIT_MS), dm->buf_local);
    hv_evtchn_send_to_dom0(e->hv, dm->vcpu_remote[0]);
    assert_int_equal(sim_evtchn_wait(dm->xce, SIM_WAIT_MS), dm->vcpu_local[0]);
    assert_false(sim_readable(fd, SIM_QUIET_MS));
}

static void dom0_notify_wakes_its_vcpu_only(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = enabled_server(e, HVM_IOREQSRV_BUFIOREQ_LEGACY);
    unsigned int w0, w1;

    assert_int_equal(sim_dm_bind(dm), 0);
    w0 = atomic_load(e->hv->vcpu[0].wake);
    w1 = atomic_load(e->hv->vcpu[1].wake);
    assert_int_equal(xenevtchn_notify(dm->xce, dm->vcpu_local[1]), 0);
    sim_evtchn_barrier(dm->xce);
    assert_int_equal(atomic_load(e->hv->vcpu[0].wake), w0);
    assert_int_equal(atomic_load(e->hv->vcpu[1].wake), w1 + 1);
    /* The ring's port wakes no vCPU. */
    assert_int_equal(xenevtchn_notify(dm->xce, dm->buf_local), 0);
    sim_evtchn_barrier(dm->xce);
    assert_int_equal(atomic_load(e->hv->vcpu[0].wake), w0);
    assert_int_equal(atomic_load(e->hv->vcpu[1].wake), w1 + 1);
    assert_int_equal(sim_failures(e->hv), 0);
}

static void unbind_stops_delivery(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = enabled_server(e, HVM_IOREQSRV_BUFIOREQ_OFF);
    int fd = xenevtchn_fd(dm->xce);
    uint32_t remote = dm->iopage->vcpu_ioreq[0].vp_eport;
    int lp = xenevtchn_bind_interdomain(dm->xce, SIM_DOMID, remote), lp2;

    assert_true(lp > 0);
    assert_int_equal(sim_evtchn_wait(dm->xce, SIM_WAIT_MS), lp);
    assert_int_equal(xenevtchn_unmask(dm->xce, lp), 0);
    assert_int_equal(xenevtchn_unbind(dm->xce, lp), 0);
    hv_evtchn_send_to_dom0(e->hv, remote);
    assert_false(sim_readable(fd, SIM_QUIET_MS));
    /* Unbinding again: not this handle's port any more. */
    assert_int_equal(xenevtchn_unbind(dm->xce, lp), -1);
    assert_int_equal(errno, ENOTCONN);
    /* The guest's end is unbound again, so it can be bound anew (with its event). */
    lp2 = xenevtchn_bind_interdomain(dm->xce, SIM_DOMID, remote);
    assert_true(lp2 > 0);
    assert_int_equal(sim_evtchn_wait(dm->xce, SIM_WAIT_MS), lp2);
    assert_int_equal(sim_failures(e->hv), 0);
}

static void misuse_of_ports_is_recorded(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = enabled_server(e, HVM_IOREQSRV_BUFIOREQ_OFF), *dm2 = sim_dm_new(e);
    int lp = xenevtchn_bind_interdomain(dm->xce, SIM_DOMID, dm->iopage->vcpu_ioreq[0].vp_eport);
    xenevtchn_handle *other;

    assert_non_null(dm2);
    other = dm2->xce;
    assert_true(lp > 0);
    /* Another handle's port: notify and unmask are failures, unbind ENOTCONN. */
    xenevtchn_notify(other, lp);
    sim_evtchn_barrier(other);
    assert_int_equal(sim_failures(e->hv), 1);
    assert_true(sim_failed_with(e->hv, "notified port"));
    xenevtchn_unmask(other, lp);
    sim_evtchn_barrier(other);
    assert_int_equal(sim_failures(e->hv), 2);
    assert_true(sim_failed_with(e->hv, "unmasked port"));
    assert_int_equal(xenevtchn_unbind(other, lp), -1);
    assert_int_equal(errno, ENOTCONN);
    /* A port nobody bound, and port 0. */
    xenevtchn_notify(dm->xce, 999);
    xenevtchn_unmask(dm->xce, 0);
    sim_evtchn_barrier(dm->xce);
    assert_int_equal(sim_failures(e->hv), 4);
    /* The owner's port still works. */
    assert_int_equal(sim_evtchn_wait(dm->xce, SIM_WAIT_MS), lp);
}

static void bind_errors(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = enabled_server(e, HVM_IOREQSRV_BUFIOREQ_OFF), *dm2 = sim_dm_new(e);
    uint32_t remote = dm->iopage->vcpu_ioreq[0].vp_eport;
    xenevtchn_handle *other;

    assert_non_null(dm2);
    other = dm2->xce;
    assert_true(xenevtchn_bind_interdomain(dm->xce, SIM_DOMID, remote) > 0);
    /* Already bound (by any handle): not unbound any more. */
    assert_int_equal(xenevtchn_bind_interdomain(other, SIM_DOMID, remote), -1);
    assert_int_equal(errno, EINVAL);
    /* A guest port that was never allocated. */
    assert_int_equal(xenevtchn_bind_interdomain(other, SIM_DOMID, HV_MAX_PORTS - 1), -1);
    assert_int_equal(errno, EINVAL);
    /* A domain that does not exist. */
    assert_int_equal(xenevtchn_bind_interdomain(other, SIM_OTHER_DOMID, remote), -1);
    assert_int_equal(errno, ESRCH);
}

static void restricted_bind_to_another_domain_is_eacces(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = enabled_server(e, HVM_IOREQSRV_BUFIOREQ_OFF);
    uint32_t remote = dm->iopage->vcpu_ioreq[0].vp_eport;

    assert_int_equal(xenevtchn_restrict(dm->xce, SIM_DOMID), 0);
    assert_int_equal(xenevtchn_bind_interdomain(dm->xce, SIM_OTHER_DOMID, remote), -1);
    assert_int_equal(errno, EACCES);
    /* Its own domain still binds. */
    assert_true(xenevtchn_bind_interdomain(dm->xce, SIM_DOMID, remote) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(bind_delivers_one_spurious_event, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(delivered_port_stays_masked_until_unmask, sim_setup,
                                        sim_teardown),
        cmocka_unit_test_setup_teardown(ports_per_vcpu_and_for_the_ring, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(dom0_notify_wakes_its_vcpu_only, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(unbind_stops_delivery, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(misuse_of_ports_is_recorded, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(bind_errors, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(restricted_bind_to_another_domain_is_eacces, sim_setup,
                                        sim_teardown),
    };
    return cmocka_run_group_tests_name("sim-evtchn", tests, NULL, NULL);
}
