/* SPDX-License-Identifier: MIT */
/*
 * Unit tests of the control protocol (control.c's control_handle(), the
 * regions of regions.c, and the socket's set-up): every field checked, every
 * refusal changing nothing and leaking no fd, the guest's view of holes,
 * regions and read-only regions, a truncated file, and LIST's pages. A fresh
 * regions table per test.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "open_fds.h"
#include "control.h"
#include "control_client.h"
#include "regions.h"

#define KB   1024ULL
#define BAR  (1024 * KB)
#define MAXR 40

struct fixture {
    struct regions rs;
    struct counters cnt;
};

static int setup(void **state)
{
    struct fixture *f = calloc(1, sizeof(*f));

    if (!f || regions_init(&f->rs, BAR, MAXR, &f->cnt))
        return -1;
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    struct fixture *f = *state;

    regions_destroy(&f->rs);
    free(f);
    return 0;
}

/* A sealable memfd of size bytes, byte i = (i * 7 + tag) & 0xff. */
static int buffer(uint64_t size, uint8_t tag)
{
    int fd = memfd_create("test-region", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    uint8_t *p;

    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    p = mmap(NULL, size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    assert_true(p != MAP_FAILED);
    for (uint64_t i = 0; i < size; i++)
        p[i] = (uint8_t)(i * 7 + tag);
    munmap(p, size);
    return fd;
}

static struct ctl_request request(enum ctl_op op, uint64_t off, uint64_t len)
{
    struct ctl_request r;

    ctl_request_init(&r, op);
    r.bar_offset = off;
    r.length = len;
    return r;
}

/* One request; returns the status, and checks the reply's frame and one-line message. */
static int handle(struct fixture *f, const void *req, size_t len, int fd, struct ctl_reply *rep)
{
    control_handle(&f->rs, &f->cnt, req, len, fd, rep);
    assert_int_equal(rep->magic, CTL_PROTO_MAGIC);
    assert_int_equal(rep->version, CTL_PROTO_VERSION);
    assert_non_null(memchr(rep->msg, '\0', sizeof(rep->msg)));
    assert_null(strchr(rep->msg, '\n'));
    assert_true(rep->msg[0] != '\0');
    return rep->status;
}

static int map(struct fixture *f, uint64_t off, uint64_t len, uint64_t fd_off, uint32_t flags,
               int fd)
{
    struct ctl_request r = request(CTL_OP_MAP, off, len);
    struct ctl_reply rep;

    r.fd_offset = fd_off;
    r.flags = flags;
    return handle(f, &r, sizeof(r), fd, &rep);
}

static int unmap(struct fixture *f, uint64_t off, uint64_t len, uint32_t *count)
{
    struct ctl_request r = request(CTL_OP_UNMAP, off, len);
    struct ctl_reply rep;
    int st = handle(f, &r, sizeof(r), -1, &rep);

    if (count)
        *count = rep.count;
    return st;
}

/* A refusal: the status, no region added, the fd closed all the same. */
static void map_refused(struct fixture *f, uint64_t off, uint64_t len, uint64_t fd_off,
                        uint32_t flags, int fd, int want)
{
    unsigned int n = f->rs.n;
    uint64_t refused = f->cnt.ctl_refused;
    int fds = count_fds();

    assert_int_equal(map(f, off, len, fd_off, flags, fd), want);
    assert_int_equal(f->rs.n, n);
    assert_int_equal(f->cnt.ctl_refused, refused + 1);
    if (fd >= 0)
        assert_int_equal(count_fds(), fds - 1);
}

static void map_and_read(void **state)
{
    struct fixture *f = *state;
    int fds = count_fds();

    assert_int_equal(map(f, 64 * KB, 64 * KB, 8 * KB, 0, buffer(128 * KB, 3)), 0);
    assert_int_equal(f->rs.n, 1);
    assert_int_equal(count_fds(), fds + 1); /* the daemon's now */
    assert_int_equal(f->cnt.ctl_regions, 1);
    assert_true(f->cnt.ctl_mapped_bytes == 64 * KB);
    /* BAR offset 64K + i is fd offset 8K + i. */
    for (uint64_t i = 0; i < 64 * KB; i += 4093)
        assert_int_equal(regions_read(&f->rs, 64 * KB + i, 1), (uint8_t)((8 * KB + i) * 7 + 3));
    /* Holes read zeros and drop writes. */
    assert_int_equal(regions_read(&f->rs, 0, 8), 0);
    regions_write(&f->rs, 0, 8, ~0ULL);
    assert_int_equal(regions_read(&f->rs, 0, 8), 0);
    assert_int_equal(f->cnt.ctl_hole_writes, 1);
    /* Writes land, in every size. */
    regions_write(&f->rs, 64 * KB, 8, 0x1122334455667788ULL);
    regions_write(&f->rs, 64 * KB + 8, 2, 0xabcd);
    assert_true(regions_read(&f->rs, 64 * KB, 8) == 0x1122334455667788ULL);
    assert_int_equal(regions_read(&f->rs, 64 * KB + 8, 2), 0xabcd);
    /* Across the region's edges: each byte from its own side. */
    uint64_t edge = regions_read(&f->rs, 64 * KB - 4, 8);
    assert_true(edge == 0x5566778800000000ULL);
    regions_write(&f->rs, 128 * KB - 2, 4, 0xa1b2c3d4);
    assert_int_equal(regions_read(&f->rs, 128 * KB - 2, 2), 0xc3d4);
    assert_int_equal(regions_read(&f->rs, 128 * KB, 2), 0);
}

static void read_only(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(map(f, 0, 4 * KB, 0, CTL_MAP_READONLY, buffer(4 * KB, 1)), 0);
    uint64_t before = regions_read(&f->rs, 0, 8);
    regions_write(&f->rs, 0, 8, ~before);
    assert_true(regions_read(&f->rs, 0, 8) == before);
    assert_int_equal(f->cnt.ctl_ro_writes, 1);
}

static void every_field_checked(void **state)
{
    struct fixture *f = *state;

    assert_int_equal(map(f, 0, 64 * KB, 0, 0, buffer(64 * KB, 0)), 0);
    map_refused(f, 0, 64 * KB, 0, 0, buffer(64 * KB, 0), EEXIST);
    map_refused(f, 60 * KB, 8 * KB, 0, 0, buffer(64 * KB, 0), EEXIST);
    map_refused(f, BAR, 4 * KB, 0, 0, buffer(4 * KB, 0), ERANGE);
    map_refused(f, BAR - 4 * KB, 8 * KB, 0, 0, buffer(8 * KB, 0), ERANGE);
    map_refused(f, ~0ULL & ~0xfffULL, 8 * KB, 0, 0, buffer(8 * KB, 0), ERANGE);
    map_refused(f, 128 * KB, 0, 0, 0, buffer(4 * KB, 0), EINVAL);
    map_refused(f, 128 * KB, 2ULL << 40, 0, 0, -1, EINVAL);
    map_refused(f, 130 * KB, 4 * KB, 0, 0, buffer(8 * KB, 0), EINVAL);
    map_refused(f, 128 * KB, 5 * KB, 0, 0, buffer(8 * KB, 0), EINVAL);
    map_refused(f, 128 * KB, 4 * KB, 1, 0, buffer(8 * KB, 0), EINVAL);
    map_refused(f, 128 * KB, 4 * KB, ~0ULL & ~0xfffULL, 0, buffer(8 * KB, 0), EINVAL);
    map_refused(f, 128 * KB, 4 * KB, 0, 0x2, buffer(8 * KB, 0), EINVAL);
    map_refused(f, 128 * KB, 4 * KB, 0, 0, -1, EBADF);
    /* Too short for the range, and for its fd offset. */
    map_refused(f, 128 * KB, 64 * KB, 0, 0, buffer(60 * KB, 0), EINVAL);
    map_refused(f, 128 * KB, 64 * KB, 8 * KB, 0, buffer(64 * KB, 0), EINVAL);
    /* A pipe cannot be mapped; a directory neither. */
    int p[2];
    assert_int_equal(pipe2(p, O_CLOEXEC), 0);
    close(p[1]);
    map_refused(f, 128 * KB, 4 * KB, 0, 0, p[0], EINVAL);
    map_refused(f, 128 * KB, 4 * KB, 0, 0, open("/", O_RDONLY | O_CLOEXEC), EINVAL);
    assert_int_equal(f->rs.n, 1);
}

static void seals(void **state)
{
    struct fixture *f = *state;
    char path[64];
    int fd = buffer(64 * KB, 0), ro;

    /* A sealable memfd gets F_SEAL_SHRINK. */
    assert_int_equal(map(f, 0, 64 * KB, 0, 0, dup(fd)), 0);
    assert_true(fcntl(fd, F_GET_SEALS) & F_SEAL_SHRINK);
    assert_int_equal(ftruncate(fd, 4 * KB), -1);
    close(fd);
    /* One that cannot be sealed is refused... */
    fd = buffer(64 * KB, 0);
    assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SEAL), 0);
    map_refused(f, 64 * KB, 64 * KB, 0, 0, fd, EINVAL);
    fd = memfd_create("unsealable", MFD_CLOEXEC);
    assert_int_equal(ftruncate(fd, 64 * KB), 0);
    map_refused(f, 64 * KB, 64 * KB, 0, 0, fd, EINVAL);
    /* ...and read-write needs an fd open for writing; read-only does not. */
    fd = buffer(64 * KB, 0);
    assert_int_equal(fcntl(fd, F_ADD_SEALS, F_SEAL_SHRINK), 0);
    snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
    ro = open(path, O_RDONLY | O_CLOEXEC);
    assert_true(ro >= 0);
    map_refused(f, 64 * KB, 64 * KB, 0, 0, dup(ro), EACCES);
    assert_int_equal(map(f, 64 * KB, 64 * KB, 0, CTL_MAP_READONLY, ro), 0);
    close(fd);
}

static void bad_messages(void **state)
{
    struct fixture *f = *state;
    struct ctl_request r = request(CTL_OP_STATS, 0, 0);
    struct ctl_reply rep;
    unsigned char big[sizeof(r) + 1] = {0};
    int fds = count_fds();

    assert_int_equal(handle(f, &r, sizeof(r), -1, &rep), 0);
    assert_int_equal(handle(f, &r, 7, -1, &rep), EBADMSG);
    assert_int_equal(handle(f, &r, sizeof(r) - 1, -1, &rep), EPROTO);
    memcpy(big, &r, sizeof(r));
    assert_int_equal(handle(f, big, sizeof(big), -1, &rep), EPROTO);
    r.magic = 0;
    assert_int_equal(handle(f, &r, sizeof(r), -1, &rep), EBADMSG);
    r = request(CTL_OP_STATS, 0, 0);
    r.version = 2;
    assert_int_equal(handle(f, &r, sizeof(r), -1, &rep), EPROTO);
    assert_non_null(strstr(rep.msg, "speaks 1"));
    r = request(CTL_OP_STATS, 0, 0);
    r.reserved = 1;
    assert_int_equal(handle(f, &r, sizeof(r), -1, &rep), EINVAL);
    r = request(CTL_OP_STATS, 4096, 0);
    assert_int_equal(handle(f, &r, sizeof(r), -1, &rep), EINVAL);
    r = request(99, 0, 0);
    assert_int_equal(handle(f, &r, sizeof(r), -1, &rep), EOPNOTSUPP);
    assert_int_equal(rep.op, 99);
    /* An fd on anything but a map is refused, and closed. */
    r = request(CTL_OP_LIST, 0, 0);
    assert_int_equal(handle(f, &r, sizeof(r), buffer(4 * KB, 0), &rep), EINVAL);
    r = request(CTL_OP_UNMAP, 0, 4 * KB);
    r.flags = 1;
    assert_int_equal(handle(f, &r, sizeof(r), -1, &rep), EINVAL);
    r = request(CTL_OP_LIST, 0, 4 * KB);
    assert_int_equal(handle(f, &r, sizeof(r), -1, &rep), EINVAL);
    assert_int_equal(count_fds(), fds);
    assert_int_equal(f->cnt.ctl_refused, 11);
}

static void unmap_ranges(void **state)
{
    struct fixture *f = *state;
    uint32_t n;
    int fds = count_fds();

    for (unsigned int i = 0; i < 4; i++)
        assert_int_equal(map(f, i * 64 * KB, 32 * KB, 0, 0, buffer(32 * KB, (uint8_t)i)), 0);
    assert_int_equal(count_fds(), fds + 4);
    assert_int_equal(unmap(f, 1 * KB, 4 * KB, NULL), EINVAL);
    assert_int_equal(unmap(f, BAR, 4 * KB, NULL), ERANGE);
    assert_int_equal(unmap(f, 32 * KB, 32 * KB, NULL), ENOENT);
    /* A region straddling the range's edge: nothing goes. */
    assert_int_equal(unmap(f, 0, 80 * KB, NULL), EBUSY);
    assert_int_equal(unmap(f, 16 * KB, 64 * KB, NULL), EBUSY);
    assert_int_equal(f->rs.n, 4);
    assert_int_equal(unmap(f, 64 * KB, 128 * KB, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(count_fds(), fds + 2); /* closed before the answer */
    assert_int_equal(regions_read(&f->rs, 64 * KB, 8), 0);
    assert_int_equal(regions_read(&f->rs, 128 * KB, 8), 0);
    assert_true(regions_read(&f->rs, 192 * KB, 1) == 3);
    assert_int_equal(unmap(f, 0, BAR, &n), 0);
    assert_int_equal(n, 2);
    assert_int_equal(count_fds(), fds);
    assert_int_equal(f->cnt.ctl_regions, 0);
    assert_int_equal(f->cnt.ctl_mapped_bytes, 0);
    assert_int_equal(f->cnt.ctl_unmaps, 4);
}

static void cap_and_list(void **state)
{
    struct fixture *f = *state;
    struct ctl_request r;
    struct ctl_reply rep;
    int fd = buffer(4 * KB, 0);

    /* Mapped out of order: LIST reports them in BAR order. */
    for (unsigned int i = 0; i < MAXR; i++) {
        unsigned int slot = (i * 7) % MAXR;

        assert_int_equal(map(f, slot * 8 * KB, 4 * KB, 0, slot & 1 ? CTL_MAP_READONLY : 0, dup(fd)),
                         0);
    }
    map_refused(f, MAXR * 8 * KB, 4 * KB, 0, 0, dup(fd), ENOSPC);
    close(fd);
    r = request(CTL_OP_LIST, 0, 0);
    assert_int_equal(handle(f, &r, sizeof(r), -1, &rep), 0);
    assert_int_equal(rep.count, CTL_LIST_MAX);
    assert_int_equal(rep.total, MAXR);
    for (unsigned int i = 0; i < rep.count; i++) {
        assert_true(rep.u.regions[i].bar_offset == i * 8 * KB);
        assert_true(rep.u.regions[i].length == 4 * KB);
        assert_int_equal(rep.u.regions[i].flags, i & 1 ? CTL_MAP_READONLY : 0);
    }
    r.index = CTL_LIST_MAX;
    assert_int_equal(handle(f, &r, sizeof(r), -1, &rep), 0);
    assert_int_equal(rep.count, MAXR - CTL_LIST_MAX);
    assert_true(rep.u.regions[0].bar_offset == CTL_LIST_MAX * 8 * KB);
    r.index = 1000;
    assert_int_equal(handle(f, &r, sizeof(r), -1, &rep), 0);
    assert_int_equal(rep.count, 0);
    r = request(CTL_OP_STATS, 0, 0);
    assert_int_equal(handle(f, &r, sizeof(r), -1, &rep), 0);
    assert_int_equal(rep.u.stats.regions, MAXR);
    assert_int_equal(rep.u.stats.max_regions, MAXR);
    assert_int_equal(rep.u.stats.bar_size, BAR);
    assert_int_equal(rep.u.stats.maps, MAXR);
    assert_int_equal(rep.u.stats.requests_refused, 1);
}

static void truncated_file(void **state)
{
    struct fixture *f = *state;
    char path[] = "/tmp/test-control-XXXXXX";
    int fd = mkstemp(path);

    /* cmocka catches SIGBUS itself while a test runs: ours again. */
    regions_catch_sigbus();
    assert_true(fd >= 0);
    unlink(path);
    assert_int_equal(ftruncate(fd, 64 * KB), 0);
    assert_int_equal(map(f, 0, 64 * KB, 0, 0, dup(fd)), 0);
    regions_write(&f->rs, 60 * KB, 8, 42);
    assert_int_equal(regions_read(&f->rs, 60 * KB, 8), 42);
    /* The owner shrinks it under the region: the access is a hole, the process goes on. */
    assert_int_equal(ftruncate(fd, 4 * KB), 0);
    assert_int_equal(regions_read(&f->rs, 60 * KB, 8), 0);
    regions_write(&f->rs, 60 * KB, 8, 42);
    assert_int_equal(f->cnt.ctl_bus_errors, 2);
    assert_int_equal(regions_read(&f->rs, 0, 8), 0);
    assert_int_equal(f->cnt.ctl_bus_errors, 2);
    close(fd);
}

static void socket_setup(void **state)
{
    struct fixture *f = *state;
    struct control c;
    struct ctl_request r = request(CTL_OP_STATS, 0, 0);
    struct ctl_reply rep;
    char dir[] = "/tmp/test-control-XXXXXX", path[128], err[256];
    struct stat st;
    int s;

    assert_non_null(mkdtemp(dir));
    snprintf(path, sizeof(path), "%s/c.ctl", dir);
    assert_int_equal(control_listen(&c, path, NULL, &f->rs, &f->cnt, err, sizeof(err)), 0);
    assert_int_equal(stat(path, &st), 0);
    assert_true(S_ISSOCK(st.st_mode));
    assert_int_equal(st.st_mode & 0777, 0600);
    /* A client connects (the loop is not running: the request waits). */
    s = ctl_connect(path);
    assert_true(s >= 0);
    close(s);
    control_close(&c);
    assert_int_equal(stat(path, &st), -1);
    control_close(&c);
    /* A stale socket there is replaced (the caller holds the slot's lock). */
    assert_int_equal(control_listen(&c, path, NULL, &f->rs, &f->cnt, err, sizeof(err)), 0);
    control_close(&c);
    /* --runas: the socket is the unprivileged user's (only root can give it away). */
    struct passwd *pw = getpwnam("nobody");
    if (geteuid() == 0 && pw) {
        assert_int_equal(control_listen(&c, path, "nobody", &f->rs, &f->cnt, err, sizeof(err)), 0);
        assert_int_equal(stat(path, &st), 0);
        assert_int_equal(st.st_uid, pw->pw_uid);
        assert_int_equal(st.st_mode & 0777, 0600);
        control_close(&c);
    }
    assert_int_equal(
        control_listen(&c, "/nonexistent/dir/c.ctl", NULL, &f->rs, &f->cnt, err, sizeof(err)),
        -ENOENT);
    assert_non_null(strstr(err, "cannot bind"));
    control_close(&c);
    memset(path, 'a', sizeof(path) - 1);
    path[sizeof(path) - 1] = '\0';
    assert_int_equal(control_listen(&c, path, NULL, &f->rs, &f->cnt, err, sizeof(err)),
                     -ENAMETOOLONG);
    assert_int_equal(
        control_listen(&c, "/tmp/x.ctl", "no-such-user-here", &f->rs, &f->cnt, err, sizeof(err)),
        -ENOENT);
    assert_int_equal(ctl_connect("/nonexistent/c.ctl"), -ENOENT);
    (void)r;
    (void)rep;
    rmdir(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(map_and_read, setup, teardown),
        cmocka_unit_test_setup_teardown(read_only, setup, teardown),
        cmocka_unit_test_setup_teardown(every_field_checked, setup, teardown),
        cmocka_unit_test_setup_teardown(seals, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_messages, setup, teardown),
        cmocka_unit_test_setup_teardown(unmap_ranges, setup, teardown),
        cmocka_unit_test_setup_teardown(cap_and_list, setup, teardown),
        cmocka_unit_test_setup_teardown(truncated_file, setup, teardown),
        cmocka_unit_test_setup_teardown(socket_setup, setup, teardown),
    };

    return cmocka_run_group_tests(tests, NULL, NULL);
}
