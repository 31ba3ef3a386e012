/* SPDX-License-Identifier: MIT */
/*
 * The domain around the ioreq servers: its death (ENOENT, then ESRCH once no
 * foreign mapping keeps it a zombie; silent event channels; vCPUs released),
 * ballooned-out RAM, handles restricted to it, a device model process killed
 * outright, and failures injected into the library calls.
 */
#include <errno.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>
#include <cmocka.h>

#include "sim_dm.h"

#define B   SIM_MMIO_BASE
#define GFN 0x200ULL

static void death_makes_server_ops_enoent_then_esrch(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_ready(e, HVM_IOREQSRV_BUFIOREQ_ATOMIC);
    xen_pfn_t gfn = GFN;
    unsigned int n;
    void *ram;

    assert_non_null(dm);
    assert_int_equal(sim_dm_claim_mmio(dm, B, B + 0xfff), 0);
    ram = xenforeignmemory_map(dm->fmem, SIM_DOMID, PROT_READ, 1, &gfn, NULL);
    assert_non_null(ram);
    hv_domain_destroy(e->hv);
    /* Its servers are gone; the domain is not, while its memory is mapped. */
    assert_int_equal(e->hv->state, DOM_DYING);
    assert_int_equal(sim_dm_set_state(dm, 0), -ENOENT);
    assert_int_equal(sim_dm_claim_mmio(dm, B + 0x1000, B + 0x1fff), -ENOENT);
    assert_int_equal(xendevicemodel_destroy_ioreq_server(dm->dmh, SIM_DOMID, dm->id), -1);
    assert_int_equal(errno, ENOENT);
    assert_int_equal(xendevicemodel_nr_vcpus(dm->dmh, SIM_DOMID, &n), 0);
    /* One mapping less: still a zombie. */
    assert_int_equal(xenforeignmemory_unmap(dm->fmem, ram, 1), 0);
    assert_int_equal(e->hv->state, DOM_DYING);
    /* The last one: gone. */
    assert_int_equal(xenforeignmemory_unmap_resource(dm->fmem, dm->res), 0);
    dm->res = NULL;
    assert_int_equal(e->hv->state, DOM_DEAD);
    assert_int_equal(sim_dm_set_state(dm, 0), -ESRCH);
    assert_int_equal(xendevicemodel_nr_vcpus(dm->dmh, SIM_DOMID, &n), -1);
    assert_int_equal(errno, ESRCH);
    assert_null(xenforeignmemory_map(dm->fmem, SIM_DOMID, PROT_READ, 1, &gfn, NULL));
    assert_int_equal(errno, ESRCH);
    assert_int_equal(xenevtchn_bind_interdomain(dm->xce, SIM_DOMID, dm->vcpu_remote[0]), -1);
    assert_int_equal(errno, ESRCH);
}

static void a_domain_without_mappings_dies_at_once(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_new(e);
    unsigned int n;

    assert_non_null(dm);
    assert_int_equal(sim_dm_create(dm, HVM_IOREQSRV_BUFIOREQ_OFF), 0);
    hv_domain_destroy(e->hv);
    assert_int_equal(e->hv->state, DOM_DEAD);
    assert_int_equal(xendevicemodel_nr_vcpus(dm->dmh, SIM_DOMID, &n), -1);
    assert_int_equal(errno, ESRCH);
}

static void death_silences_event_channels(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_ready(e, HVM_IOREQSRV_BUFIOREQ_LEGACY);
    unsigned int w0;

    assert_non_null(dm);
    sim_evtchn_quiesce(dm->xce);
    hv_domain_destroy(e->hv);
    w0 = atomic_load(e->hv->vcpu[0].wake);
    /* dom0's ends are still this handle's: notify and unmask succeed, and do nothing. */
    assert_int_equal(xenevtchn_notify(dm->xce, dm->vcpu_local[0]), 0);
    assert_int_equal(xenevtchn_unmask(dm->xce, dm->buf_local), 0);
    sim_evtchn_barrier(dm->xce);
    assert_int_equal(sim_failures(e->hv), 0);
    assert_int_equal(atomic_load(e->hv->vcpu[0].wake), w0);
    /* The guest's ends are closed: nothing reaches dom0 any more. */
    hv_evtchn_send_to_dom0(e->hv, dm->vcpu_remote[0]);
    hv_evtchn_send_to_dom0(e->hv, dm->buf_remote);
    assert_false(sim_readable(xenevtchn_fd(dm->xce), SIM_QUIET_MS));
    /* Unbinding still works. */
    assert_int_equal(xenevtchn_unbind(dm->xce, dm->vcpu_local[0]), 0);
    dm->vcpu_local[0] = 0;
}

static void death_releases_a_blocked_vcpu(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_ready(e, HVM_IOREQSRV_BUFIOREQ_OFF);
    struct sim_job *j;
    ioreq_t r;

    assert_non_null(dm);
    assert_int_equal(sim_dm_claim_mmio(dm, B, B + 0xfff), 0);
    j = sim_job_mem(e, 1, B, 4, IOREQ_READ, 0);
    assert_non_null(j);
    assert_int_equal(sim_dm_wait_request(dm, 1, &r), 0);
    assert_false(sim_job_done_within(j, SIM_QUIET_MS));
    hv_domain_destroy(e->hv);
    /* Released long before the ioreq timeout (SIM_WAIT_MS) would. */
    assert_true(sim_job_done_within(j, SIM_WAIT_MS / 5));
    assert_int_equal(sim_job_join(j), -ESRCH);
    assert_int_equal(sim_failures(e->hv), 0);
    /* A dead domain's vCPUs do nothing more. */
    uint64_t val;
    assert_int_equal(cpu_mem(&e->hv->vcpu[0], B, 4, IOREQ_READ, &val), -ESRCH);
}

static void destroying_the_server_completes_a_waiting_vcpu(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_ready(e, HVM_IOREQSRV_BUFIOREQ_OFF);
    struct sim_job *j;
    ioreq_t r;

    assert_non_null(dm);
    assert_int_equal(sim_dm_claim_mmio(dm, B, B + 0xfff), 0);
    j = sim_job_mem(e, 0, B, 4, IOREQ_READ, 0);
    assert_non_null(j);
    assert_int_equal(sim_dm_wait_request(dm, 0, &r), 0);
    assert_int_equal(xendevicemodel_destroy_ioreq_server(dm->dmh, SIM_DOMID, dm->id), 0);
    dm->created = false;
    assert_true(sim_job_done_within(j, SIM_WAIT_MS / 5));
    assert_int_equal(sim_job_join(j), 0);
    assert_int_equal(j->val, 0xffffffff);
    assert_int_equal(sim_failures(e->hv), 0);
}

static void ballooned_out_ram(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_new(e);
    xen_pfn_t gfns[2] = {GFN, GFN + 1};
    int err[2] = {1, 1};
    uint64_t *old, *fresh, val;
    xenforeignmemory_handle *fm;

    assert_non_null(dm);
    fm = dm->fmem;
    memset(sim_ram(e->hv, GFN << 12), 0x5a, 4096);
    old = xenforeignmemory_map(fm, SIM_DOMID, PROT_READ | PROT_WRITE, 1, gfns, NULL);
    assert_non_null(old);
    assert_int_equal(old[7], 0x5a5a5a5a5a5a5a5aULL);
    assert_int_equal(hv_balloon_out(e->hv, GFN, 1), 0);
    /*
     * The frame went back to Xen, but the mapping holds a reference: as on
     * a real Xen, it stays allocated, content and all, until unmapped.
     */
    for (unsigned int i = 0; i < 512; i++)
        assert_int_equal(old[i], 0x5a5a5a5a5a5a5a5aULL);
    /* The gfn is no RAM now: a new mapping fails, per page when asked. */
    assert_null(xenforeignmemory_map(fm, SIM_DOMID, PROT_READ, 1, gfns, NULL));
    fresh = xenforeignmemory_map(fm, SIM_DOMID, PROT_READ, 2, gfns, err);
    assert_non_null(fresh);
    assert_int_not_equal(err[0], 0);
    assert_int_equal(err[1], 0);
    assert_int_equal(xenforeignmemory_unmap(fm, fresh, 2), 0);
    /* The guest reads nothing there either. */
    assert_int_equal(cpu_mem(&e->hv->vcpu[0], GFN << 12, 8, IOREQ_READ, &val), 0);
    assert_int_equal(val, ~0ULL);
    /* Populated again: a new frame, zeroed; the old mapping still is the old frame. */
    assert_int_equal(hv_balloon_in(e->hv, GFN, 1), 0);
    fresh = xenforeignmemory_map(fm, SIM_DOMID, PROT_READ, 1, gfns, NULL);
    assert_non_null(fresh);
    for (unsigned int i = 0; i < 512; i++)
        assert_int_equal(fresh[i], 0);
    assert_int_equal(old[0], 0x5a5a5a5a5a5a5a5aULL);
    val = 0x1234;
    assert_int_equal(cpu_mem(&e->hv->vcpu[0], GFN << 12, 8, IOREQ_WRITE, &val), 0);
    assert_int_equal(fresh[0], 0x1234);
    assert_int_equal(old[0], 0x5a5a5a5a5a5a5a5aULL);
    assert_int_equal(xenforeignmemory_unmap(fm, fresh, 1), 0);
    assert_int_equal(xenforeignmemory_unmap(fm, old, 1), 0);
    assert_int_equal(hv_foreign_pages_held(e->hv), 0);
}

/* A frame two mappings hold is freed at the second unmap, not the first. */
static void ballooned_frame_freed_at_last_unmap(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_new(e);
    xen_pfn_t gfn = GFN;
    int64_t frame = hv_gfn_to_frame(e->hv, GFN);
    const uint64_t *pool_page;
    uint64_t *a, *b;

    assert_non_null(dm);
    assert_true(frame >= 0);
    pool_page = hv_frame_ptr(e->hv, (uint64_t)frame);
    memset(sim_ram(e->hv, GFN << 12), 0x33, 4096);
    a = xenforeignmemory_map(dm->fmem, SIM_DOMID, PROT_READ, 1, &gfn, NULL);
    b = xenforeignmemory_map(dm->fmem, SIM_DOMID, PROT_READ, 1, &gfn, NULL);
    assert_non_null(a);
    assert_non_null(b);
    assert_int_equal(hv_balloon_out(e->hv, GFN, 1), 0);
    assert_int_equal(xenforeignmemory_unmap(dm->fmem, a, 1), 0);
    assert_int_equal(b[0], 0x3333333333333333ULL);
    assert_int_equal(pool_page[0], 0x3333333333333333ULL);
    assert_int_equal(xenforeignmemory_unmap(dm->fmem, b, 1), 0);
    for (unsigned int i = 0; i < 512; i++)
        assert_int_equal(pool_page[i], HV_POISON_WORD);
    /* A frame nobody maps is freed at once. */
    frame = hv_gfn_to_frame(e->hv, GFN + 1);
    assert_true(frame >= 0);
    assert_int_equal(hv_balloon_out(e->hv, GFN + 1, 1), 0);
    assert_int_equal(*(const uint64_t *)hv_frame_ptr(e->hv, (uint64_t)frame), HV_POISON_WORD);
}

static void restricted_handles_get_eperm_unrestricted_esrch(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_new(e), *free_dm;
    xen_pfn_t gfn = GFN;
    unsigned int n;
    ioservid_t id;
    void *addr = NULL, *p;

    assert_non_null(dm);
    assert_int_equal(xentoolcore_restrict_all(SIM_DOMID), 0);
    /* Another domain, through restricted handles: EPERM (EACCES for a bind). */
    assert_int_equal(xendevicemodel_nr_vcpus(dm->dmh, SIM_OTHER_DOMID, &n), -1);
    assert_int_equal(errno, EPERM);
    assert_int_equal(xendevicemodel_create_ioreq_server(dm->dmh, SIM_OTHER_DOMID, 0, &id), -1);
    assert_int_equal(errno, EPERM);
    assert_int_equal(xendevicemodel_set_ioreq_server_state(dm->dmh, SIM_OTHER_DOMID, 0, 1), -1);
    assert_int_equal(errno, EPERM);
    assert_null(xenforeignmemory_map(dm->fmem, SIM_OTHER_DOMID, PROT_READ, 1, &gfn, NULL));
    assert_int_equal(errno, EPERM);
    assert_null(xenforeignmemory_map_resource(
        dm->fmem, SIM_OTHER_DOMID, XENMEM_resource_ioreq_server, 0, 1, 1, &addr, PROT_READ, 0));
    assert_int_equal(errno, EPERM);
    assert_int_equal(xenevtchn_bind_interdomain(dm->xce, SIM_OTHER_DOMID, 5), -1);
    assert_int_equal(errno, EACCES);
    /* A restricted handle stays with its domain. */
    assert_int_equal(xendevicemodel_restrict(dm->dmh, SIM_OTHER_DOMID), -1);
    assert_int_equal(errno, EINVAL);
    /* Its own domain works. */
    assert_int_equal(xendevicemodel_nr_vcpus(dm->dmh, SIM_DOMID, &n), 0);
    assert_int_equal(sim_dm_setup(dm, HVM_IOREQSRV_BUFIOREQ_OFF), 0);
    p = xenforeignmemory_map(dm->fmem, SIM_DOMID, PROT_READ, 1, &gfn, NULL);
    assert_non_null(p);
    assert_int_equal(xenforeignmemory_unmap(dm->fmem, p, 1), 0);
    /* Handles opened afterwards are not restricted: the other domain does not exist. */
    free_dm = sim_dm_new(e);
    assert_non_null(free_dm);
    assert_int_equal(xendevicemodel_nr_vcpus(free_dm->dmh, SIM_OTHER_DOMID, &n), -1);
    assert_int_equal(errno, ESRCH);
    assert_int_equal(xendevicemodel_create_ioreq_server(free_dm->dmh, SIM_OTHER_DOMID, 0, &id), -1);
    assert_int_equal(errno, ESRCH);
    assert_null(xenforeignmemory_map(free_dm->fmem, SIM_OTHER_DOMID, PROT_READ, 1, &gfn, NULL));
    assert_int_equal(errno, ESRCH);
    assert_int_equal(xenevtchn_bind_interdomain(free_dm->xce, SIM_OTHER_DOMID, 5), -1);
    assert_int_equal(errno, ESRCH);
}

/*
 * The child: a device model that sets up a server for B and maps guest RAM,
 * says so on `ready`, then waits on `hold` until it is killed. Library calls
 * only, no test framework.
 */
static void child_device_model(int ready, int hold)
{
    xendevicemodel_handle *dmh = xendevicemodel_open(NULL, 0);
    xenforeignmemory_handle *fm = xenforeignmemory_open(NULL, 0);
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    xenforeignmemory_resource_handle *res;
    xen_pfn_t gfn = GFN;
    shared_iopage_t *page = NULL;
    int32_t msg = -1;
    ioservid_t id;
    char c;

    if (dmh && fm && xce &&
        xendevicemodel_create_ioreq_server(dmh, SIM_DOMID, HVM_IOREQSRV_BUFIOREQ_OFF, &id) == 0 &&
        (res = xenforeignmemory_map_resource(fm, SIM_DOMID, XENMEM_resource_ioreq_server, id,
                                             XENMEM_resource_ioreq_server_frame_ioreq(0), 1,
                                             (void **)&page, PROT_READ | PROT_WRITE, 0)) &&
        xendevicemodel_set_ioreq_server_state(dmh, SIM_DOMID, id, 1) == 0 &&
        xenevtchn_bind_interdomain(xce, SIM_DOMID, page->vcpu_ioreq[0].vp_eport) > 0 &&
        xenevtchn_bind_interdomain(xce, SIM_DOMID, page->vcpu_ioreq[1].vp_eport) > 0 &&
        xendevicemodel_map_io_range_to_ioreq_server(dmh, SIM_DOMID, id, 1, B, B + 0xfff) == 0 &&
        xenforeignmemory_map(fm, SIM_DOMID, PROT_READ, 1, &gfn, NULL))
        msg = id;
    if (write(ready, &msg, sizeof(msg)) != sizeof(msg))
        _exit(1);
    while (read(hold, &c, 1) < 0 && errno == EINTR)
        ;
    _exit(0);
}

static void killed_device_model_process(void **state)
{
    struct sim_env *e = *state;
    int ready[2], hold[2], status;
    struct hv_leaks before, after;
    struct sim_dm *dm;
    int32_t id = -1;
    uint64_t val;
    pid_t pid;

    assert_int_equal(pipe(ready), 0);
    assert_int_equal(pipe(hold), 0);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(ready[0]);
        close(hold[1]);
        child_device_model(ready[1], hold[0]);
    }
    close(ready[1]);
    close(hold[0]);
    assert_int_equal(read(ready[0], &id, sizeof(id)), sizeof(id));
    assert_true(id >= 0);
    before = hv_leaks_of(e->hv, pid);
    assert_int_equal(before.servers, 1);
    assert_int_equal(before.ports + before.mappings, 0);
    assert_int_equal(kill(pid, SIGKILL), 0);
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status));
    close(ready[0]);
    close(hold[1]);
    /* The RPC thread has seen the handles close once it served two calls of ours. */
    dm = sim_dm_new(e);
    assert_non_null(dm);
    sim_rpc_barrier(dm->dmh);
    /* What only the closing released: its two ports, the ioreq page and the RAM page. */
    after = hv_leaks_of(e->hv, pid);
    assert_int_equal(after.ports, 2);
    assert_int_equal(after.mappings, 2);
    assert_int_equal(hv_foreign_pages_held(e->hv), 0);
    /* Its server stays, as on real Xen, enabled and claiming B... */
    assert_int_equal(after.servers, 1);
    assert_true(e->hv->server[id].used);
    assert_true(e->hv->server[id].enabled);
    /* ...so the guest's access goes to it and is never answered. */
    assert_int_equal(cpu_mem(&e->hv->vcpu[0], B, 4, IOREQ_READ, &val), -ESRCH);
    assert_int_equal(sim_failures(e->hv), 1);
    assert_true(sim_failed_with(e->hv, "vCPU 0: no answer after"));
}

static void injected_failures_hit_exactly_those_calls(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_new(e);
    uint64_t calls0;
    xen_pfn_t gfn = GFN;
    unsigned int n;
    ioservid_t id;
    void *p;

    assert_non_null(dm);
    calls0 = e->hv->op_calls[SIM_OP_NR_VCPUS];
    hv_inject_failure(e->hv, SIM_OP_NR_VCPUS, 2, 3, EIO);
    for (unsigned int i = 0; i < 6; i++) {
        int rc = xendevicemodel_nr_vcpus(dm->dmh, SIM_DOMID, &n);

        if (i >= 2 && i < 5) {
            assert_int_equal(rc, -1);
            assert_int_equal(errno, EIO);
        } else {
            assert_int_equal(rc, 0);
            assert_int_equal(n, 2);
        }
    }
    assert_int_equal(e->hv->op_calls[SIM_OP_NR_VCPUS] - calls0, 6);
    /* Other calls are not touched. */
    hv_inject_failure(e->hv, SIM_OP_CREATE_SERVER, 0, 1, ENOMEM);
    p = xenforeignmemory_map(dm->fmem, SIM_DOMID, PROT_READ, 1, &gfn, NULL);
    assert_non_null(p);
    assert_int_equal(xenforeignmemory_unmap(dm->fmem, p, 1), 0);
    assert_int_equal(xendevicemodel_create_ioreq_server(dm->dmh, SIM_DOMID, 0, &id), -1);
    assert_int_equal(errno, ENOMEM);
    assert_false(e->hv->server[0].used);
    assert_int_equal(xendevicemodel_create_ioreq_server(dm->dmh, SIM_DOMID, 0, &id), 0);
    dm->created = true;
    dm->id = id;
    /* Mapping guest RAM and binding ports, one failure each. */
    hv_inject_failure(e->hv, SIM_OP_MAP_GFNS, 0, 1, EAGAIN);
    assert_null(xenforeignmemory_map(dm->fmem, SIM_DOMID, PROT_READ, 1, &gfn, NULL));
    assert_int_equal(errno, EAGAIN);
    assert_int_equal(hv_foreign_pages_held(e->hv), 0);
    hv_inject_failure(e->hv, SIM_OP_MAP_RESOURCE, 0, 1, EINTR);
    assert_int_equal(sim_dm_map(dm), -EINTR);
    assert_int_equal(sim_dm_map(dm), 0);
    assert_int_equal(sim_dm_set_state(dm, 1), 0);
    hv_inject_failure(e->hv, SIM_OP_BIND_INTERDOMAIN, 1, 1, ENOSPC);
    assert_true(xenevtchn_bind_interdomain(dm->xce, SIM_DOMID, dm->iopage->vcpu_ioreq[0].vp_eport) >
                0);
    assert_int_equal(
        xenevtchn_bind_interdomain(dm->xce, SIM_DOMID, dm->iopage->vcpu_ioreq[1].vp_eport), -1);
    assert_int_equal(errno, ENOSPC);
    assert_true(xenevtchn_bind_interdomain(dm->xce, SIM_DOMID, dm->iopage->vcpu_ioreq[1].vp_eport) >
                0);
    assert_int_equal(sim_failures(e->hv), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(death_makes_server_ops_enoent_then_esrch, sim_setup,
                                        sim_teardown),
        cmocka_unit_test_setup_teardown(a_domain_without_mappings_dies_at_once, sim_setup,
                                        sim_teardown),
        cmocka_unit_test_setup_teardown(death_silences_event_channels, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(death_releases_a_blocked_vcpu, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(destroying_the_server_completes_a_waiting_vcpu, sim_setup,
                                        sim_teardown),
        cmocka_unit_test_setup_teardown(ballooned_frame_freed_at_last_unmap, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(ballooned_out_ram, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(restricted_handles_get_eperm_unrestricted_esrch, sim_setup,
                                        sim_teardown),
        cmocka_unit_test_setup_teardown(killed_device_model_process, sim_setup_short_timeout,
                                        sim_teardown),
        cmocka_unit_test_setup_teardown(injected_failures_hit_exactly_those_calls, sim_setup,
                                        sim_teardown),
    };
    return cmocka_run_group_tests_name("sim-domain", tests, NULL, NULL);
}
