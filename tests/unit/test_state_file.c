/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for state_file.c: the record round-trips, a torn or corrupt
 * copy is never taken, the newer of two whole copies wins, the lock keeps a
 * second daemon out (naming the holder), and a clean release leaves nothing.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "state_file.h"

#define COPY 1024 /* state_file.c's STATE_COPY_SIZE: the second copy's offset */

static char dir[64];
static char err[256];

static int setup(void **state)
{
    (void)state;
    snprintf(dir, sizeof(dir), "/tmp/ioreq-lend-state-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int teardown(void **state)
{
    char cmd[128];

    (void)state;
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
    return system(cmd) == 0 ? 0 : -1;
}

static struct dm_state sample(void)
{
    struct dm_state st = {.have_server = true, .server = 3, .have_config = true,
                          .changing = true,
                          .from = {.enabled = true, .base = 0xf0000000, .size = 0x10000},
                          .to = {.enabled = false, .base = 0, .size = 0x10000}};

    for (unsigned int i = 0; i < PCI_CFG_SPACE_SIZE; i++)
        st.config[i] = (uint8_t)(i * 7);
    return st;
}

static void assert_state_equal(const struct dm_state *a, const struct dm_state *b)
{
    assert_int_equal(a->have_server, b->have_server);
    assert_int_equal(a->server, b->server);
    assert_int_equal(a->have_config, b->have_config);
    assert_memory_equal(a->config, b->config, PCI_CFG_SPACE_SIZE);
    assert_int_equal(a->changing, b->changing);
    assert_memory_equal(&a->from, &b->from, sizeof(a->from));
    assert_memory_equal(&a->to, &b->to, sizeof(a->to));
}

static void record_round_trip(void **state)
{
    struct dm_state st = sample(), back;
    char buf[COPY];
    uint64_t seq;
    int pid, n;

    (void)state;
    n = state_record_format(buf, sizeof(buf), &st, 42);
    assert_true(n > 0 && n < COPY);
    assert_int_equal(state_record_parse(buf, (size_t)n, &back, &seq, &pid), 0);
    assert_state_equal(&st, &back);
    assert_int_equal(seq, 42);
    assert_int_equal(pid, getpid());
    /* Nothing recorded but the pid: a daemon that has not got a server yet. */
    st = (struct dm_state){0};
    n = state_record_format(buf, sizeof(buf), &st, 1);
    assert_int_equal(state_record_parse(buf, (size_t)n, &back, &seq, &pid), 0);
    assert_false(back.have_server || back.have_config || back.changing);
}

/* Every byte changed, and every cut short, makes the record invalid: a torn write is never taken. */
static void record_corruption_refused(void **state)
{
    struct dm_state st = sample(), back;
    char buf[COPY], bad[COPY];
    uint64_t seq;
    int pid, n;

    (void)state;
    n = state_record_format(buf, sizeof(buf), &st, 7);
    for (int i = 0; i < n - 1; i++) { /* the last byte is the final newline */
        memcpy(bad, buf, (size_t)n);
        bad[i] ^= 0x01;
        assert_int_not_equal(state_record_parse(bad, (size_t)n, &back, &seq, &pid), 0);
    }
    for (int len = 0; len < n - 1; len++)
        assert_int_not_equal(state_record_parse(buf, (size_t)len, &back, &seq, &pid), 0);
    /* Blank lines after the record (the rest of its copy) are fine. */
    memset(bad, '\n', sizeof(bad));
    memcpy(bad, buf, (size_t)n);
    assert_int_equal(state_record_parse(bad, sizeof(bad), &back, &seq, &pid), 0);
}

static void path_of(char *path, size_t len)
{
    snprintf(path, len, "%s/dom5-0000:00:1f.0.lock", dir);
}

static int lock_slot(struct state_file *sf, struct dm_state *pred)
{
    *sf = (struct state_file)STATE_FILE_INIT;
    return state_file_lock(sf, dir, 5, 0, 0, 0x1f, 0, pred, err, sizeof(err));
}

static void write_then_take_over(void **state)
{
    struct state_file sf;
    struct dm_state st = sample(), pred;

    (void)state;
    assert_int_equal(lock_slot(&sf, &pred), 0);
    assert_false(pred.have_server || pred.have_config);
    st.server = 1;
    assert_int_equal(state_file_write(&sf, &st), 0);
    st.server = 2;
    assert_int_equal(state_file_write(&sf, &st), 0);
    /* A crash: the fd closes, the file stays. The successor reads the newer record. */
    close(sf.fd);
    assert_int_equal(lock_slot(&sf, &pred), 0);
    assert_state_equal(&st, &pred);
    state_file_release(&sf);
}

/* A kill in the middle of a write spoils that copy only: the other one is taken. */
static void torn_copy_falls_back(void **state)
{
    struct state_file sf;
    struct dm_state st = sample(), pred;
    char path[128];
    int fd;

    (void)state;
    assert_int_equal(lock_slot(&sf, &pred), 0);
    st.server = 1;
    assert_int_equal(state_file_write(&sf, &st), 0); /* seq 1: second copy */
    st.server = 2;
    assert_int_equal(state_file_write(&sf, &st), 0); /* seq 2: first copy */
    close(sf.fd);
    path_of(path, sizeof(path));
    fd = open(path, O_WRONLY);
    assert_true(fd >= 0);
    /* The newer copy torn half-way: its second half is the older bytes' blank lines. */
    assert_int_equal(pwrite(fd, "\n\n\n\n", 4, 300), 4);
    close(fd);
    assert_int_equal(lock_slot(&sf, &pred), 0);
    assert_int_equal(pred.server, 1);
    /* And the successor's own writes continue from the older sequence, onto the torn copy. */
    st.server = 9;
    assert_int_equal(state_file_write(&sf, &st), 0);
    close(sf.fd);
    assert_int_equal(lock_slot(&sf, &pred), 0);
    assert_int_equal(pred.server, 9);
    state_file_release(&sf);
}

static void second_daemon_refused(void **state)
{
    struct state_file a, b;
    struct dm_state pred, st = sample();
    char want[64];

    (void)state;
    assert_int_equal(lock_slot(&a, &pred), 0);
    assert_int_equal(state_file_write(&a, &st), 0);
    assert_int_equal(lock_slot(&b, &pred), -EBUSY);
    snprintf(want, sizeof(want), "already claimed (pid %d)", (int)getpid());
    assert_non_null(strstr(err, want));
    assert_int_equal(b.fd, -1);
    state_file_release(&a);
}

static void release_leaves_nothing(void **state)
{
    struct state_file sf;
    struct dm_state pred, st = sample();
    char path[128];

    (void)state;
    assert_int_equal(lock_slot(&sf, &pred), 0);
    assert_int_equal(state_file_write(&sf, &st), 0);
    state_file_release(&sf);
    path_of(path, sizeof(path));
    assert_int_equal(access(path, F_OK), -1);
    assert_int_equal(sf.fd, -1);
    state_file_release(&sf); /* idempotent */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(record_round_trip),
        cmocka_unit_test(record_corruption_refused),
        cmocka_unit_test_setup_teardown(write_then_take_over, setup, teardown),
        cmocka_unit_test_setup_teardown(torn_copy_falls_back, setup, teardown),
        cmocka_unit_test_setup_teardown(second_daemon_refused, setup, teardown),
        cmocka_unit_test_setup_teardown(release_leaves_nothing, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
