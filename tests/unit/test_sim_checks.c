/* SPDX-License-Identifier: MIT */
/*
 * The device model checked as Xen checks it (xen/common/ioreq.c ioreq_send()
 * and wait_for_io()): a state going backwards or unknown crashes the domain,
 * a slot not back at NONE or with a changed vp_eport refuses the next
 * request; the simulator also records what Xen cannot see but a device model
 * must not do (changing request fields) and what would hang a real vCPU
 * (no answer, or an answer without a notification).
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "sim_dm.h"

#define B SIM_MMIO_BASE

/* A serving device model claiming B, misbehaving as `mode` says. */
static struct sim_dm *device(struct sim_env *e, enum sim_dm_mode mode)
{
    struct sim_dm *dm = sim_dm_serving(e, HVM_IOREQSRV_BUFIOREQ_OFF);

    assert_non_null(dm);
    dm->mode = mode;
    dm->read_value = 0x1234;
    dm->mmio_base = 0; /* every read of B answers read_value */
    assert_int_equal(sim_dm_claim_mmio(dm, B, B + 0xfff), 0);
    return dm;
}

static int read_at(struct sim_env *e, unsigned int vcpu, uint64_t *val)
{
    *val = 0;
    return cpu_mem(&e->hv->vcpu[vcpu], B + 0x1000 - 8, 4, IOREQ_READ, val);
}

static void state_going_backwards_crashes_the_domain(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = device(e, SIM_DM_BACKWARDS);
    uint64_t val;

    assert_int_equal(read_at(e, 0, &val), -ESRCH);
    /* The device model saw the vCPU wait in INPROCESS before it went back to READY. */
    assert_int_equal(dm->error, 0);
    assert_int_equal(sim_failures(e->hv), 1);
    assert_true(sim_failed_with(e->hv, "weird HVM ioreq state transition 2 -> 1"));
    assert_true(atomic_load(&e->hv->crashed));
    /* A crashed domain runs no more: the other vCPU does not get far either. */
    assert_int_equal(read_at(e, 1, &val), -ESRCH);
    assert_int_equal(sim_dm_nr_log(dm), 1);
}

static void unknown_state_crashes_the_domain(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = device(e, SIM_DM_UNKNOWN_STATE);
    uint64_t val;

    assert_int_equal(read_at(e, 0, &val), -ESRCH);
    assert_int_equal(sim_failures(e->hv), 1);
    assert_true(sim_failed_with(e->hv, "weird HVM iorequest state 7"));
    assert_true(atomic_load(&e->hv->crashed));
    assert_int_equal(sim_dm_nr_log(dm), 1);
}

static void back_to_none_completes_with_all_ones(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = device(e, SIM_DM_NONE);
    uint64_t val;

    /* Xen takes NONE as the emulator having gone away: all ones, no crash. */
    assert_int_equal(read_at(e, 0, &val), 0);
    assert_int_equal(val, 0xffffffff);
    assert_int_equal(sim_failures(e->hv), 0);
    assert_false(atomic_load(&e->hv->crashed));
    /* The slot is usable for the next request. */
    dm->mode = SIM_DM_ANSWER;
    assert_int_equal(read_at(e, 0, &val), 0);
    assert_int_equal(val, 0x1234);
    assert_int_equal(sim_failures(e->hv), 0);
}

static void state_left_behind_refuses_the_next_request(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = device(e, SIM_DM_ANSWER);
    ioreq_t *slot;
    uint64_t val;

    assert_int_equal(read_at(e, 0, &val), 0);
    assert_int_equal(val, 0x1234);
    slot = &dm->iopage->vcpu_ioreq[0];
    assert_int_equal(sim_slot_state(slot), STATE_IOREQ_NONE);
    /* The device model writes its slot after the answer was taken. */
    sim_slot_set_state(slot, STATE_IOREQ_INPROCESS);
    assert_int_equal(read_at(e, 0, &val), 0);
    assert_int_equal(val, 0xffffffff);
    assert_int_equal(sim_failures(e->hv), 1);
    assert_true(sim_failed_with(e->hv, "bad IO state 2"));
    /* An answer given twice leaves IORESP_READY behind: the same. */
    sim_slot_set_state(slot, STATE_IORESP_READY);
    assert_int_equal(read_at(e, 0, &val), 0);
    assert_int_equal(sim_failures(e->hv), 2);
    assert_true(sim_failed_with(e->hv, "bad IO state 3"));
    assert_int_equal(sim_dm_nr_log(dm), 1);
    /* Another vCPU's slot is not affected. */
    assert_int_equal(read_at(e, 1, &val), 0);
    assert_int_equal(val, 0x1234);
}

static void vp_eport_changed(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = device(e, SIM_DM_CHANGE_EPORT);
    uint64_t val;

    /* In the answer: the data is taken, the change recorded. */
    assert_int_equal(read_at(e, 0, &val), 0);
    assert_int_equal(val, 0x1234);
    assert_int_equal(sim_failures(e->hv), 1);
    assert_true(sim_failed_with(e->hv, "changed request fields other than data"));
    /* Left changed: Xen refuses to send the next request. */
    dm->mode = SIM_DM_ANSWER;
    assert_int_equal(read_at(e, 0, &val), 0);
    assert_int_equal(val, 0xffffffff);
    assert_int_equal(sim_failures(e->hv), 2);
    assert_true(sim_failed_with(e->hv, "bad event channel"));
    assert_int_equal(sim_dm_nr_log(dm), 1);
}

static void request_fields_changed(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = device(e, SIM_DM_CHANGE_FIELDS);
    uint64_t val;

    assert_int_equal(read_at(e, 0, &val), 0);
    assert_int_equal(val, 0x1234);
    assert_int_equal(sim_failures(e->hv), 1);
    assert_true(
        sim_failed_with(e->hv, "vCPU 0: device model changed request fields other than data"));
    /* Writing back only data is fine. */
    dm->mode = SIM_DM_ANSWER;
    assert_int_equal(read_at(e, 1, &val), 0);
    assert_int_equal(sim_failures(e->hv), 1);
}

static void never_answering_is_reported_at_the_timeout(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = device(e, SIM_DM_NEVER);
    uint64_t val, t0 = sim_now_ms();

    assert_int_equal(read_at(e, 0, &val), -ESRCH);
    assert_true(sim_now_ms() - t0 >= SIM_SHORT_MS);
    assert_int_equal(sim_failures(e->hv), 1);
    assert_true(sim_failed_with(e->hv, "vCPU 0: no answer after 200 ms (state 2)"));
    /* The vCPU is given up: its next access does not wait again. */
    t0 = sim_now_ms();
    assert_int_equal(read_at(e, 0, &val), -ESRCH);
    assert_true(sim_now_ms() - t0 < SIM_SHORT_MS);
    assert_int_equal(sim_dm_nr_log(dm), 1);
}

/*
 * A device model answering the instant the request is posted, before the
 * vCPU could possibly sleep, and never notifying: run on the vCPU's thread
 * through the simulator's after_post hook.
 */
static void answer_at_once_silently(struct hv_vcpu *v, ioreq_t *slot, void *arg)
{
    bool *answered = arg;

    (void)v;
    slot->data = 0x1234;
    __atomic_thread_fence(__ATOMIC_SEQ_CST);
    sim_slot_set_state(slot, STATE_IORESP_READY);
    *answered = true;
}

static void answering_without_notifying_is_reported_at_the_timeout(void **state)
{
    struct sim_env *e = *state;
    struct sim_dm *dm = sim_dm_ready(e, HVM_IOREQSRV_BUFIOREQ_OFF);
    bool answered = false;
    uint64_t val;

    assert_non_null(dm);
    assert_int_equal(sim_dm_claim_mmio(dm, B, B + 0xfff), 0);
    e->hv->after_post = answer_at_once_silently;
    e->hv->after_post_arg = &answered;
    /* A vCPU sleeps from before its request is READY until a notification wakes it. */
    assert_int_equal(read_at(e, 0, &val), -ESRCH);
    assert_true(answered);
    assert_int_equal(sim_failures(e->hv), 1);
    assert_true(sim_failed_with(e->hv, "vCPU 0: answered but the port was never notified"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(state_going_backwards_crashes_the_domain, sim_setup,
                                        sim_teardown),
        cmocka_unit_test_setup_teardown(unknown_state_crashes_the_domain, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(back_to_none_completes_with_all_ones, sim_setup,
                                        sim_teardown),
        cmocka_unit_test_setup_teardown(state_left_behind_refuses_the_next_request, sim_setup,
                                        sim_teardown),
        cmocka_unit_test_setup_teardown(vp_eport_changed, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(request_fields_changed, sim_setup, sim_teardown),
        cmocka_unit_test_setup_teardown(never_answering_is_reported_at_the_timeout,
                                        sim_setup_short_timeout, sim_teardown),
        cmocka_unit_test_setup_teardown(answering_without_notifying_is_reported_at_the_timeout,
                                        sim_setup_short_timeout, sim_teardown),
    };
    return cmocka_run_group_tests_name("sim-checks", tests, NULL, NULL);
}
