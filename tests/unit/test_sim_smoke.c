/* SPDX-License-Identifier: MIT */
/* Smoke test: a scripted device model thread answers one MMIO read from a vCPU. */
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>
#include <cmocka.h>

#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>

#include "sim/hv/hv.h"

struct dm {
    pthread_t thread;
    sem_t ready;
    int answered;
};

static void *dm_main(void *arg)
{
    struct dm *d = arg;
    xendevicemodel_handle *dmh = xendevicemodel_open(NULL, 0);
    xenforeignmemory_handle *fm = xenforeignmemory_open(NULL, 0);
    xenevtchn_handle *xce = xenevtchn_open(NULL, 0);
    ioservid_t id;
    void *addr = NULL;
    shared_iopage_t *sp;

    if (!dmh || !fm || !xce)
        return NULL; /* the test then times out waiting on ready */
    if (xendevicemodel_create_ioreq_server(dmh, 1, HVM_IOREQSRV_BUFIOREQ_OFF, &id))
        return NULL;
    xenforeignmemory_resource_handle *res = xenforeignmemory_map_resource(
        fm, 1, XENMEM_resource_ioreq_server, id, XENMEM_resource_ioreq_server_frame_ioreq(0), 1,
        &addr, PROT_READ | PROT_WRITE, 0);
    if (!res)
        return NULL;
    sp = addr;
    xendevicemodel_map_io_range_to_ioreq_server(dmh, 1, id, 1, 0xe0000000, 0xe0000fff);
    xendevicemodel_set_ioreq_server_state(dmh, 1, id, 1);
    int lport = xenevtchn_bind_interdomain(xce, 1, sp->vcpu_ioreq[0].vp_eport);
    if (lport < 0)
        return NULL;
    sem_post(&d->ready);
    while (d->answered < 1) {
        int p = xenevtchn_pending(xce);
        xenevtchn_unmask(xce, p);
        ioreq_t *req = &sp->vcpu_ioreq[0];
        if (req->state != STATE_IOREQ_READY)
            continue;
        __atomic_thread_fence(__ATOMIC_ACQUIRE);
        req->state = STATE_IOREQ_INPROCESS;
        req->data = 0xcafef00d;
        __atomic_thread_fence(__ATOMIC_RELEASE);
        req->state = STATE_IORESP_READY;
        xenevtchn_notify(xce, lport);
        d->answered++;
    }
    xenevtchn_unbind(xce, lport);
    xendevicemodel_destroy_ioreq_server(dmh, 1, id);
    xenforeignmemory_unmap_resource(fm, res);
    xenevtchn_close(xce);
    xenforeignmemory_close(fm);
    xendevicemodel_close(dmh);
    return NULL;
}

static void mmio_read_is_answered(void **state)
{
    struct hv *hv = calloc(1, sizeof(*hv));
    struct hv_domain_config cfg = {.domid = 1, .vcpus = 1, .ram = 16 << 20,
                                   .balloon_reserve = 1 << 20, .ioreq_timeout_ms = 5000};
    char dir[] = "/tmp/xensim-test-XXXXXX";
    struct dm d = {0};
    uint64_t val = 0;
    char path[128];

    (void)state;
    assert_non_null(mkdtemp(dir));
    assert_int_equal(hv_create(hv, &cfg, dir), 0);
    snprintf(path, sizeof(path), "%s/xensim.sock", dir);
    setenv(XENSIM_SOCKET_ENV, path, 1);
    sem_init(&d.ready, 0, 0);
    pthread_create(&d.thread, NULL, dm_main, &d);
    sem_wait(&d.ready);
    assert_int_equal(cpu_mem(&hv->vcpu[0], 0xe0000010, 4, IOREQ_READ, &val), 0);
    assert_int_equal(val, 0xcafef00d);
    /* Outside the claimed range: unclaimed, all ones. */
    assert_int_equal(cpu_mem(&hv->vcpu[0], 0xe0001000, 4, IOREQ_READ, &val), 0);
    assert_int_equal(val, 0xffffffff);
    pthread_join(d.thread, NULL);
    assert_int_equal(hv->nr_failures, 0);
    hv_destroy(hv);
    free(hv);
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {cmocka_unit_test(mmio_read_is_answered)};
    return cmocka_run_group_tests_name("sim-smoke", tests, NULL, NULL);
}
