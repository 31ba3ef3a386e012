/* SPDX-License-Identifier: MIT */
/*
 * Unit tests for backing.c: spec parsing, and opening each kind. pci: runs
 * against a fake sysfs tree built in a temporary directory (see
 * fake_pci_device()); every failing open is checked for leaked fds and maps.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <malloc.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "open_fds.h"
#include "backing.h"

#define KB 1024ULL
#define MB (1024ULL * 1024)

/* The temporary directory: fake sysfs under sys/, plain files under files/. */
static char tmpdir[64];
static char sysfs[128];
static char err[512];

/* ---- helpers ---- */

static int count_maps(void)
{
    FILE *f = fopen("/proc/self/maps", "r");
    int n = 0, c;

    assert_non_null(f);
    while ((c = fgetc(f)) != EOF)
        n += c == '\n';
    fclose(f);
    return n;
}

static void assert_backing_init(const struct backing *b)
{
    assert_int_equal(b->fd, -1);
    assert_null(b->base);
    assert_int_equal(b->size, 0);
    assert_int_equal(b->fd_offset, 0);
    assert_int_equal(b->kind, 0);
    assert_int_equal(b->desc[0], '\0');
}

/*
 * True if addr lies in a mapping of this process. Reads /proc/self/maps with
 * plain syscalls into a static buffer: an allocation here could itself be
 * placed in the hole a munmap just left.
 */
static bool is_mapped(const void *addr)
{
    static char maps[1 << 20];
    unsigned long long lo, hi, a = (unsigned long long)(uintptr_t)addr;
    size_t used = 0;
    ssize_t n;
    int fd = open("/proc/self/maps", O_RDONLY);

    assert_true(fd >= 0);
    while ((n = read(fd, maps + used, sizeof(maps) - 1 - used)) > 0)
        used += (size_t)n;
    close(fd);
    maps[used] = '\0';
    for (const char *line = maps; line; line = strchr(line, '\n')) {
        if (*line == '\n')
            line++;
        if (sscanf(line, "%llx-%llx", &lo, &hi) == 2 && a >= lo && a < hi)
            return true;
    }
    return false;
}

/*
 * Close a backing that opened, and check that its mapping is gone. (Counting
 * lines of /proc/self/maps around a success is not stable under ASan, whose
 * allocator maps new regions as libpci allocates.)
 */
static void close_checked(struct backing *b)
{
    void *base = b->base;
    uint64_t size = b->size;

    assert_non_null(base);
    assert_true(is_mapped(base));
    assert_true(is_mapped((uint8_t *)base + size - 1));
    backing_close(b);
    assert_backing_init(b);
    assert_false(is_mapped(base));
    assert_false(is_mapped((uint8_t *)base + size - 1));
}

static void assert_one_line(const char *needle)
{
    assert_true(err[0] != '\0');
    assert_null(strchr(err, '\n'));
    if (!strstr(err, needle))
        fail_msg("message '%s' does not contain '%s'", err, needle);
}

static void parse_ok(const char *spec, struct backing_spec *s)
{
    if (backing_parse(spec, s, err, sizeof(err)) != 0)
        fail_msg("backing_parse('%s'): %s", spec, err);
}

static int open_spec(const char *spec, uint64_t size, struct backing *b)
{
    struct backing_spec s;

    parse_ok(spec, &s);
    memset(err, 0, sizeof(err));
    return backing_open(&s, size, sysfs, b, err, sizeof(err));
}

/*
 * Open a spec that must fail with `want_rc` (0: any negative errno) and a
 * message containing `needle`, leaving *b == BACKING_INIT and no fd, map or
 * heap block behind (libpci's included). The last of several rounds is
 * measured: the first ones fill lazy allocations and glibc's tcache, whose
 * freed chunks mallinfo2() still counts as in use (7 per size), while a leak
 * leaks on every round. Under valgrind mallinfo2() does not see the heap;
 * valgrind's own leak check covers it there.
 */
#define OPEN_FAILS_ROUNDS 9

static void expect_open_fails(const char *spec, uint64_t size, int want_rc, const char *needle)
{
    struct backing b;
    int fds, maps, rc;
    size_t heap;

    for (int round = 0; round < OPEN_FAILS_ROUNDS; round++) {
        fds = count_fds();
        maps = count_maps();
        heap = mallinfo2().uordblks;
        memset(&b, 0xa5, sizeof(b));
        rc = open_spec(spec, size, &b);
        if (rc >= 0)
            fail_msg("%s (size %llu) opened, want an error", spec, (unsigned long long)size);
        if (want_rc && rc != want_rc)
            fail_msg("%s: rc %d, want %d (%s)", spec, rc, want_rc, err);
        assert_one_line(needle);
        assert_backing_init(&b);
        if (round == OPEN_FAILS_ROUNDS - 1) {
            assert_int_equal(mallinfo2().uordblks, heap);
            assert_int_equal(count_fds(), fds);
            assert_int_equal(count_maps(), maps);
        }
        /* Closing a failed open is allowed and does nothing. */
        backing_close(&b);
        assert_backing_init(&b);
    }
}

static void write_file(const char *path, const void *data, size_t len)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

    assert_true(fd >= 0);
    assert_int_equal(write(fd, data, len), (ssize_t)len);
    close(fd);
}

static void write_text(const char *path, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;
    int n;

    va_start(ap, fmt);
    n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    assert_true(n > 0 && (size_t)n < sizeof(buf));
    write_file(path, buf, (size_t)n);
}

static void sized_file(const char *path, uint64_t size)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);

    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    close(fd);
}

/* ---- the fake sysfs tree ---- */

/* Kernel resource flags, as /sys/bus/pci/devices/X/resource shows them. */
#define IORESOURCE_IO        0x00000100ULL
#define IORESOURCE_MEM       0x00000200ULL
#define IORESOURCE_PREFETCH  0x00002000ULL
#define IORESOURCE_SIZEALIGN 0x00040000ULL
#define IORESOURCE_MEM_64    0x00100000ULL
/* The low bits libpci keeps (PCI_ADDR_FLAG_MASK): what the BAR register holds. */
#define BAR_IO       0x1ULL
#define BAR_MEM_64   0x4ULL
#define BAR_PREFETCH 0x8ULL

#define FLAGS_MEM (IORESOURCE_SIZEALIGN | IORESOURCE_MEM)
#define FLAGS_MEM64                                                                                \
    (IORESOURCE_SIZEALIGN | IORESOURCE_MEM_64 | IORESOURCE_PREFETCH | IORESOURCE_MEM |             \
     BAR_PREFETCH | BAR_MEM_64)
#define FLAGS_IO (IORESOURCE_SIZEALIGN | IORESOURCE_IO | BAR_IO)

struct fake_bar {
    uint64_t start, size, flags; /* size 0: not implemented */
    int64_t file_size;           /* resourceN's size; -1: no resourceN file */
};

/*
 * A device as Linux's sysfs shows it, enough for libpci's linux-sysfs method
 * (pciutils lib/sysfs.c): pci_scan_bus() lists devices/ and parses the names
 * "SSSS:BB:DD.F"; pci_fill_info(PCI_FILL_IDENT) reads the text files vendor
 * and device (mandatory: libpci's error callback otherwise); BASES, SIZES and
 * IO_FLAGS come from resource, one line "start end flags" in 0x%016llx per
 * BAR, then the ROM. config and class are not read for these fields but are
 * there as on a real system. resourceN is what the backing maps.
 */
static void fake_pci_device(const char *slot, const struct fake_bar bars[6], bool with_resource)
{
    char dir[256], path[320], resource[1024];
    uint8_t config[256];
    size_t used = 0;

    snprintf(path, sizeof(path), "%s/devices", sysfs);
    mkdir(path, 0755);
    snprintf(dir, sizeof(dir), "%s/devices/%s", sysfs, slot);
    assert_int_equal(mkdir(dir, 0755), 0);

    memset(config, 0, sizeof(config));
    config[0x00] = 0x34; /* vendor 0x1234 */
    config[0x01] = 0x12;
    config[0x02] = 0x78; /* device 0x5678 */
    config[0x03] = 0x56;
    config[0x0b] = 0x05; /* class 0x0580: memory controller, other */
    config[0x0a] = 0x80;
    config[0x0e] = 0x00; /* header type 0 */
    for (int i = 0; i < 6; i++) {
        uint32_t reg = (uint32_t)(bars[i].start | (bars[i].flags & 0xf));
        memcpy(&config[0x10 + 4 * i], &reg, sizeof(reg));
    }
    snprintf(path, sizeof(path), "%s/config", dir);
    write_file(path, config, sizeof(config));
    snprintf(path, sizeof(path), "%s/vendor", dir);
    write_text(path, "0x1234\n");
    snprintf(path, sizeof(path), "%s/device", dir);
    write_text(path, "0x5678\n");
    snprintf(path, sizeof(path), "%s/class", dir);
    write_text(path, "0x058000\n");
    snprintf(path, sizeof(path), "%s/irq", dir);
    write_text(path, "0\n");

    for (int i = 0; i < 7; i++) {
        unsigned long long start = 0, end = 0, flags = 0;
        if (i < 6 && bars[i].size) {
            start = bars[i].start;
            end = bars[i].start + bars[i].size - 1;
            flags = bars[i].flags;
        }
        used += (size_t)snprintf(resource + used, sizeof(resource) - used,
                                 "0x%016llx 0x%016llx 0x%016llx\n", start, end, flags);
    }
    if (with_resource) {
        snprintf(path, sizeof(path), "%s/resource", dir);
        write_file(path, resource, used);
    }
    for (int i = 0; i < 6; i++) {
        if (bars[i].file_size < 0)
            continue;
        snprintf(path, sizeof(path), "%s/resource%d", dir, i);
        sized_file(path, (uint64_t)bars[i].file_size);
    }
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)flag;
    (void)ftw;
    return remove(path);
}

static int setup_tree(void **state)
{
    /* 0000:03:00.0 has every kind of BAR. */
    static const struct fake_bar dev3[6] = {
        {0xfe000000, 1 * MB, FLAGS_MEM, 1 * MB},     /* BAR0: 1M memory */
        {0xe000, 32, FLAGS_IO, 32},                  /* BAR1: I/O ports */
        {0x4000000000, 2 * MB, FLAGS_MEM64, 2 * MB}, /* BAR2: 64-bit prefetchable */
        {0, 0, 0, -1},                               /* BAR3: its upper half */
        {0xfe100000, 64 * KB, FLAGS_MEM, -1},        /* BAR4: no resource4 file */
        {0xfe200000, 8 * KB, FLAGS_MEM, 4 * KB},     /* BAR5: resource5 shorter than it */
    };
    /* 0000:03:00.1: a BAR smaller than a page. */
    static const struct fake_bar dev3_1[6] = {
        {0xfe300000, 16, FLAGS_MEM, 16},
        {0, 0, 0, -1},
        {0, 0, 0, -1},
        {0, 0, 0, -1},
        {0, 0, 0, -1},
        {0, 0, 0, -1},
    };
    /* 0001:00:02.0: segment 1. */
    static const struct fake_bar seg1[6] = {
        {0xfd000000, 4 * KB, FLAGS_MEM, 4 * KB},
        {0, 0, 0, -1},
        {0, 0, 0, -1},
        {0, 0, 0, -1},
        {0, 0, 0, -1},
        {0, 0, 0, -1},
    };
    char path[160];
    (void)state;

    snprintf(tmpdir, sizeof(tmpdir), "/tmp/test_backing.XXXXXX");
    assert_non_null(mkdtemp(tmpdir));
    snprintf(sysfs, sizeof(sysfs), "%s/sys", tmpdir);
    assert_int_equal(mkdir(sysfs, 0755), 0);
    snprintf(path, sizeof(path), "%s/files", tmpdir);
    assert_int_equal(mkdir(path, 0755), 0);

    fake_pci_device("0000:03:00.0", dev3, true);
    fake_pci_device("0000:03:00.1", dev3_1, true);
    fake_pci_device("0001:00:02.0", seg1, true);
    /* 0000:05:00.0 has no resource file: libpci's error callback fires. */
    fake_pci_device("0000:05:00.0", dev3, false);
    return 0;
}

static int teardown_tree(void **state)
{
    (void)state;
    return nftw(tmpdir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- parsing ---- */

static void parse_accepts(void **state)
{
    struct backing_spec s;
    (void)state;

    parse_ok("memfd:4K", &s);
    assert_int_equal(s.kind, BACKING_MEMFD);
    assert_int_equal(s.memfd_size, 4096);
    parse_ok("memfd:256M", &s);
    assert_true(s.memfd_size == 256 * MB);
    parse_ok("memfd:0x3000", &s);
    assert_int_equal(s.memfd_size, 0x3000);

    parse_ok("file:/dev/shm/vram", &s);
    assert_int_equal(s.kind, BACKING_FILE);
    assert_string_equal(s.path, "/dev/shm/vram");
    parse_ok("file:relative:with:colons", &s);
    assert_string_equal(s.path, "relative:with:colons");

    parse_ok("pci:0000:03:00.0/bar2", &s);
    assert_int_equal(s.kind, BACKING_PCI);
    assert_int_equal(s.pci_seg, 0);
    assert_int_equal(s.pci_bus, 3);
    assert_int_equal(s.pci_dev, 0);
    assert_int_equal(s.pci_fn, 0);
    assert_int_equal(s.pci_bar, 2);
    parse_ok("pci:ffff:ff:1f.7/bar5", &s);
    assert_int_equal(s.pci_seg, 0xffff);
    assert_int_equal(s.pci_bus, 0xff);
    assert_int_equal(s.pci_dev, 0x1f);
    assert_int_equal(s.pci_fn, 7);
    assert_int_equal(s.pci_bar, 5);
    /* The short form: segment 0. */
    parse_ok("pci:0a:1B.3/bar0", &s);
    assert_int_equal(s.pci_seg, 0);
    assert_int_equal(s.pci_bus, 0x0a);
    assert_int_equal(s.pci_dev, 0x1b);
    assert_int_equal(s.pci_fn, 3);
    assert_int_equal(s.pci_bar, 0);

    parse_ok("fd:3", &s);
    assert_int_equal(s.kind, BACKING_FD);
    assert_int_equal(s.fd, 3);
    parse_ok("fd:1000", &s);
    assert_int_equal(s.fd, 1000);
}

static void parse_rejects(void **state)
{
    static const struct {
        const char *spec, *needle;
    } bad[] = {
        {"", "empty backing"},
        {"memfd", "'memfd'"},
        {"memfd:", "bad size ''"},
        {"memfd:0", "must not be 0"},
        {"memfd:12Q", "backing 'memfd:12Q': bad size '12Q'"},
        {"memfd:5000", "not a multiple of 4K"},
        {"memfd:-4K", "bad size"},
        {"memfd:4K ", "bad size"},
        {"memfd:99999999999T", "bad size"},
        {"MEMFD:4K", "unknown kind 'MEMFD'"},
        {"file:", "empty path"},
        {"pci:03:00.0", "expected pci:"},
        {"pci:03:00.0/bar6", "bad BAR 'bar6'"},
        {"pci:03:00.0/bar", "bad BAR"},
        {"pci:03:00.0/bar01", "bad BAR"},
        {"pci:03:00.0/BAR0", "bad BAR"},
        {"pci:03:00.0/bar0/", "bad BAR"},
        {"pci:03:20.0/bar0", "bad PCI address '03:20.0'"},
        {"pci:03:00.8/bar0", "bad PCI address"},
        {"pci:00000:03:00.0/bar0", "bad PCI address"},
        {"pci:0000:003:00.0/bar0", "bad PCI address"},
        {"pci:0x3:00.0/bar0", "bad PCI address"},
        {"pci: 3:00.0/bar0", "bad PCI address"},
        {"pci:03:00/bar0", "bad PCI address"},
        {"pci:/bar0", "bad PCI address"},
        {"pci:0000:0000:0000:03:00.0/bar0", "bad PCI address"},
        {"fd:0", "want 3 or more"},
        {"fd:2", "want 3 or more"},
        {"fd:-1", "bad fd number"},
        {"fd:x", "bad fd number"},
        {"fd:", "bad fd number"},
        {"fd:3x", "bad fd number"},
        {"fd:2147483648", "bad fd number"},
        {"disk:/x", "unknown kind 'disk'"},
        {"file\n:x", "unknown kind"},
    };
    struct backing_spec s;
    (void)state;

    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        memset(err, 0, sizeof(err));
        if (backing_parse(bad[i].spec, &s, err, sizeof(err)) != -EINVAL)
            fail_msg("'%s' accepted", bad[i].spec);
        assert_one_line(bad[i].needle);
    }

    /* A path must leave room for its NUL in BACKING_PATH_MAX. */
    char *spec = malloc(5 + BACKING_PATH_MAX + 1);
    assert_non_null(spec);
    memcpy(spec, "file:", 5);
    memset(spec + 5, 'a', BACKING_PATH_MAX - 1);
    spec[5 + BACKING_PATH_MAX - 1] = '\0';
    parse_ok(spec, &s);
    assert_int_equal(strlen(s.path), BACKING_PATH_MAX - 1);
    spec[5 + BACKING_PATH_MAX - 1] = 'a';
    spec[5 + BACKING_PATH_MAX] = '\0';
    assert_int_equal(backing_parse(spec, &s, err, sizeof(err)), -EINVAL);
    assert_one_line("path longer than");
    free(spec);
}

static void parse_bdf_shared(void **state)
{
    uint16_t seg = 9;
    uint8_t bus = 9, dev = 9, fn = 9;
    (void)state;

    assert_int_equal(backing_parse_bdf("0001:02:03.4", &seg, &bus, &dev, &fn), 0);
    assert_int_equal(seg, 1);
    assert_int_equal(bus, 2);
    assert_int_equal(dev, 3);
    assert_int_equal(fn, 4);
    assert_int_equal(backing_parse_bdf("05:06.7", &seg, &bus, &dev, &fn), 0);
    assert_int_equal(seg, 0);
    assert_int_equal(bus, 5);
    /* Failures leave the outputs alone. */
    assert_int_equal(backing_parse_bdf("05:06.7 ", &seg, &bus, &dev, &fn), -EINVAL);
    assert_int_equal(backing_parse_bdf("ffffffff1:06.7", &seg, &bus, &dev, &fn), -EINVAL);
    assert_int_equal(backing_parse_bdf(NULL, &seg, &bus, &dev, &fn), -EINVAL);
    assert_int_equal(bus, 5);
    assert_int_equal(dev, 6);
    assert_int_equal(fn, 7);
}

/* ---- opening ---- */

static void open_memfd(void **state)
{
    struct backing b = BACKING_INIT;
    int fds = count_fds();
    uint8_t buf[16];
    (void)state;

    /* Natural size: SIZE. */
    assert_int_equal(open_spec("memfd:64K", 0, &b), 0);
    assert_int_equal(b.kind, BACKING_MEMFD);
    assert_true(b.fd >= 0);
    assert_int_equal(b.size, 64 * KB);
    assert_int_equal(b.fd_offset, 0);
    assert_non_null(b.base);
    assert_string_equal(b.desc, "memfd 64K");
    assert_true(fcntl(b.fd, F_GETFD) & FD_CLOEXEC);
    /* Shared: a write through the mapping is in the memfd. */
    memcpy((uint8_t *)b.base + 60 * KB, "through the map", 16);
    assert_int_equal(pread(b.fd, buf, 16, 60 * KB), 16);
    assert_memory_equal(buf, "through the map", 16);
    close_checked(&b);
    assert_backing_init(&b);
    backing_close(&b); /* idempotent */
    assert_int_equal(count_fds(), fds);

    /* A BAR smaller than the memfd maps the BAR's size. */
    assert_int_equal(open_spec("memfd:64K", 8 * KB, &b), 0);
    assert_int_equal(b.size, 8 * KB);
    assert_string_equal(b.desc, "memfd 8K");
    close_checked(&b);

    expect_open_fails("memfd:4K", 8 * KB, -EINVAL, "backing memfd:4K holds 4K, the BAR needs 8K");
    expect_open_fails("memfd:64K", 5000, -EINVAL, "not a multiple of 4K");
    assert_int_equal(count_fds(), fds);
}

static void open_file(void **state)
{
    char path[200], spec[220], want[300];
    struct backing b = BACKING_INIT;
    int fds = count_fds();
    uint8_t buf[8];
    int fd;
    (void)state;

    snprintf(path, sizeof(path), "%s/files/vram", tmpdir);
    sized_file(path, 64 * KB);
    fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    assert_int_equal(pwrite(fd, "before", 6, 4096), 6);

    snprintf(spec, sizeof(spec), "file:%s", path);
    assert_int_equal(open_spec(spec, 0, &b), 0);
    assert_int_equal(b.kind, BACKING_FILE);
    assert_int_equal(b.size, 64 * KB);
    snprintf(want, sizeof(want), "file %s (64K)", path);
    assert_string_equal(b.desc, want);
    assert_true(fcntl(b.fd, F_GETFD) & FD_CLOEXEC);
    /* The file's own bytes, at offset 0, shared both ways. */
    assert_memory_equal((uint8_t *)b.base + 4096, "before", 6);
    memcpy((uint8_t *)b.base + 8192, "after", 6);
    assert_int_equal(pread(fd, buf, 6, 8192), 6);
    assert_memory_equal(buf, "after", 6);
    close_checked(&b);
    close(fd);

    assert_int_equal(open_spec(spec, 16 * KB, &b), 0);
    assert_int_equal(b.size, 16 * KB);
    close_checked(&b);

    snprintf(want, sizeof(want), "backing file:%s holds 64K, the BAR needs 1M", path);
    expect_open_fails(spec, 1 * MB, -EINVAL, want);

    snprintf(path, sizeof(path), "%s/files/empty", tmpdir);
    sized_file(path, 0);
    snprintf(spec, sizeof(spec), "file:%s", path);
    expect_open_fails(spec, 0, -EINVAL, "is empty");
    expect_open_fails(spec, 4 * KB, -EINVAL, "is empty");

    snprintf(path, sizeof(path), "%s/files/odd", tmpdir);
    sized_file(path, 5000);
    snprintf(spec, sizeof(spec), "file:%s", path);
    expect_open_fails(spec, 0, -EINVAL, "its size 5000 is not a multiple of 4K");
    /* A BAR within it is fine. */
    assert_int_equal(open_spec(spec, 4 * KB, &b), 0);
    close_checked(&b);

    snprintf(spec, sizeof(spec), "file:%s/files/missing", tmpdir);
    expect_open_fails(spec, 0, -ENOENT, "cannot open");
    snprintf(spec, sizeof(spec), "file:%s/files", tmpdir);
    expect_open_fails(spec, 0, -EISDIR, "cannot open");
    expect_open_fails("file:/dev/null", 0, -EINVAL, "not a regular file or block device");

    assert_int_equal(count_fds(), fds);
}

static bool fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) >= 0 || errno != EBADF;
}

static void open_fd(void **state)
{
    struct backing b = BACKING_INIT;
    char spec[32], want[32];
    int fds = count_fds();
    int fd, sv[2];
    uint8_t buf[4];
    (void)state;

    /* A memfd passed by number: its natural size, and it becomes ours. */
    fd = memfd_create("test", 0);
    assert_true(fd >= 3);
    assert_int_equal(ftruncate(fd, 128 * KB), 0);
    snprintf(spec, sizeof(spec), "fd:%d", fd);
    assert_int_equal(open_spec(spec, 0, &b), 0);
    assert_int_equal(b.kind, BACKING_FD);
    assert_int_equal(b.fd, fd);
    assert_int_equal(b.size, 128 * KB);
    snprintf(want, sizeof(want), "fd %d (128K)", fd);
    assert_string_equal(b.desc, want);
    /* Not passed on to anything the daemon might start. */
    assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
    memcpy((uint8_t *)b.base + 128 * KB - 4, "end", 4);
    assert_int_equal(pread(fd, buf, 4, 128 * KB - 4), 4);
    assert_memory_equal(buf, "end", 4);
    close_checked(&b);
    assert_false(fd_is_open(fd));
    assert_int_equal(count_fds(), fds);

    /* Failures close N as well: ownership passed with the call. */
    fd = memfd_create("test", 0);
    assert_int_equal(ftruncate(fd, 4 * KB), 0);
    snprintf(spec, sizeof(spec), "fd:%d", fd);
    assert_true(open_spec(spec, 8 * KB, &b) < 0);
    assert_one_line("holds 4K, the BAR needs 8K");
    assert_backing_init(&b);
    assert_false(fd_is_open(fd));

    fd = memfd_create("test", 0); /* empty */
    snprintf(spec, sizeof(spec), "fd:%d", fd);
    assert_true(open_spec(spec, 0, &b) < 0);
    assert_one_line("is empty");
    assert_false(fd_is_open(fd));

    fd = memfd_create("test", 0);
    assert_int_equal(ftruncate(fd, 5000), 0);
    snprintf(spec, sizeof(spec), "fd:%d", fd);
    assert_true(open_spec(spec, 0, &b) < 0);
    assert_one_line("its size 5000 is not a multiple of 4K");
    assert_false(fd_is_open(fd));

    fd = open("/proc/self/exe", O_RDONLY);
    assert_true(fd >= 3);
    snprintf(spec, sizeof(spec), "fd:%d", fd);
    assert_int_equal(open_spec(spec, 0, &b), -EACCES);
    assert_one_line("not open read-write");
    assert_false(fd_is_open(fd));

    /* Neither fstat nor lseek can size a socket. */
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, sv), 0);
    snprintf(spec, sizeof(spec), "fd:%d", sv[0]);
    assert_int_equal(open_spec(spec, 0, &b), -ESPIPE);
    assert_one_line("cannot find its size");
    assert_false(fd_is_open(sv[0]));
    close(sv[1]);

    /* A number that is not open. */
    assert_false(fd_is_open(999));
    assert_int_equal(open_spec("fd:999", 0, &b), -EBADF);
    assert_one_line("fd:999");
    assert_backing_init(&b);

    assert_int_equal(count_fds(), fds);
}

static void open_pci(void **state)
{
    struct backing b = BACKING_INIT;
    char path[320];
    int fds = count_fds();
    uint8_t buf[8];
    int fd;
    (void)state;

    /* BAR2, 64-bit prefetchable, natural size. */
    assert_int_equal(open_spec("pci:0000:03:00.0/bar2", 0, &b), 0);
    assert_int_equal(b.kind, BACKING_PCI);
    assert_int_equal(b.size, 2 * MB);
    assert_string_equal(b.desc, "pci 0000:03:00.0 BAR2 (2M)");
    /* The mapping is resource2. */
    memcpy((uint8_t *)b.base + 1 * MB, "bar two", 8);
    snprintf(path, sizeof(path), "%s/devices/0000:03:00.0/resource2", sysfs);
    fd = open(path, O_RDONLY);
    assert_true(fd >= 0);
    assert_int_equal(pread(fd, buf, 8, 1 * MB), 8);
    assert_memory_equal(buf, "bar two", 8);
    close(fd);
    close_checked(&b);

    /* The short form, and a BAR larger than needed. */
    assert_int_equal(open_spec("pci:03:00.0/bar0", 4 * KB, &b), 0);
    assert_int_equal(b.size, 4 * KB);
    assert_string_equal(b.desc, "pci 0000:03:00.0 BAR0 (4K)");
    close_checked(&b);

    /* Segment 1. */
    assert_int_equal(open_spec("pci:0001:00:02.0/bar0", 0, &b), 0);
    assert_string_equal(b.desc, "pci 0001:00:02.0 BAR0 (4K)");
    close_checked(&b);
    assert_int_equal(count_fds(), fds);

    expect_open_fails("pci:0000:04:00.0/bar0", 0, -ENODEV, "no PCI device 0000:04:00.0");
    expect_open_fails("pci:0001:03:00.0/bar0", 0, -ENODEV, "no PCI device 0001:03:00.0");
    expect_open_fails("pci:0000:03:00.2/bar0", 0, -ENODEV, "no PCI device 0000:03:00.2");
    expect_open_fails("pci:0000:03:00.0/bar1", 0, -EINVAL, "BAR1 is an I/O BAR");
    expect_open_fails("pci:0000:03:00.0/bar0", 2 * MB, -EINVAL,
                      "backing pci:0000:03:00.0/bar0 holds 1M, the BAR needs 2M");
    expect_open_fails("pci:0000:03:00.0/bar3", 0, -ENODEV, "BAR3 is not implemented");
    expect_open_fails("pci:0000:03:00.0/bar4", 0, -ENOENT, "resource4");
    expect_open_fails("pci:0000:03:00.0/bar5", 0, -EINVAL, "resource5 holds 4K");
    expect_open_fails("pci:0000:03:00.1/bar0", 0, -EINVAL, "its size 16 is not a multiple");
    /* No resource file: libpci's fatal error, which must not exit. */
    expect_open_fails("pci:0000:05:00.0/bar0", 0, -EIO, "libpci: Cannot open");

    assert_int_equal(count_fds(), fds);
}

static void open_pci_bad_sysfs(void **state)
{
    struct backing_spec s;
    struct backing b;
    char missing[200];
    int fds = count_fds();
    (void)state;

    /* libpci cannot list devices/: its error callback, not an exit. */
    snprintf(missing, sizeof(missing), "%s/nonexistent", tmpdir);
    parse_ok("pci:0000:03:00.0/bar0", &s);
    for (int i = 0; i < 2; i++) {
        memset(&b, 0x5a, sizeof(b));
        assert_int_equal(backing_open(&s, 0, missing, &b, err, sizeof(err)), -EIO);
        assert_one_line("libpci: Cannot open");
        assert_backing_init(&b);
    }
    assert_int_equal(count_fds(), fds);
    /* And libpci still works afterwards. */
    assert_int_equal(backing_open(&s, 0, sysfs, &b, err, sizeof(err)), 0);
    close_checked(&b);
}

/* none: nothing opened or mapped, a window of the BAR's size. */
static void open_none(void **state)
{
    struct backing_spec s;
    struct backing b = BACKING_INIT;
    int fds = count_fds(), maps = count_maps();
    (void)state;

    parse_ok("none", &s);
    assert_int_equal(s.kind, BACKING_NONE);
    assert_int_equal(backing_parse("none:", &s, err, sizeof(err)), -EINVAL);
    assert_int_equal(backing_parse("NONE", &s, err, sizeof(err)), -EINVAL);
    assert_int_equal(open_spec("none", 1 * MB, &b), 0);
    assert_int_equal(b.kind, BACKING_NONE);
    assert_null(b.base);
    assert_int_equal(b.fd, -1);
    assert_true(b.size == 1 * MB);
    assert_non_null(strstr(b.desc, "none"));
    assert_int_equal(count_fds(), fds);
    assert_int_equal(count_maps(), maps);
    backing_close(&b);
    assert_backing_init(&b);
    expect_open_fails("none", 0, -EINVAL, "needs a BAR size");
}

static void close_is_idempotent(void **state)
{
    struct backing b = BACKING_INIT;
    (void)state;

    backing_close(&b);
    backing_close(&b);
    assert_backing_init(&b);
    assert_int_equal(open_spec("memfd:4K", 0, &b), 0);
    backing_close(&b);
    assert_backing_init(&b);
    backing_close(&b);
    assert_backing_init(&b);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(parse_accepts),    cmocka_unit_test(parse_rejects),
        cmocka_unit_test(parse_bdf_shared), cmocka_unit_test(open_memfd),
        cmocka_unit_test(open_file),        cmocka_unit_test(open_fd),
        cmocka_unit_test(open_pci),         cmocka_unit_test(open_pci_bad_sysfs),
        cmocka_unit_test(open_none),        cmocka_unit_test(close_is_idempotent),
    };
    return cmocka_run_group_tests_name("backing", tests, setup_tree, teardown_tree);
}
