/* SPDX-License-Identifier: MIT */
/* Unit tests for options.c: every option's accepted and rejected forms, defaults, cross-checks. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "options.h"

static char err[512];

static int parse_v(struct dm_options *o, char **argv)
{
    int argc = 0;

    while (argv[argc])
        argc++;
    memset(err, 0, sizeof(err));
    return options_parse(argc, argv, o, err, sizeof(err));
}

/* PARSE(&o, "--domid", "5"): argv[0] is the program, the list ends with NULL. */
#define PARSE(o, ...) parse_v((o), (char *[]){"ioreq-lend", __VA_ARGS__, NULL})

/* An error: -EINVAL and a non-empty one-line message containing `needle`. */
static void expect_error(int rc, const char *needle)
{
    assert_int_equal(rc, -EINVAL);
    assert_true(err[0] != '\0');
    assert_null(strchr(err, '\n'));
    if (!strstr(err, needle))
        fail_msg("message '%s' does not contain '%s'", err, needle);
}

static void expect_ok(int rc)
{
    if (rc != OPTIONS_RUN)
        fail_msg("rc %d, message '%s'", rc, err);
}

/* PVH: --domain-type, --host-bridge and --bar-base, and the rules between them. */
static void pvh_options(void **state)
{
    struct dm_options o;
    (void)state;

    expect_ok(PARSE(&o, "--domid", "1"));
    assert_int_equal(o.domain_type, DOMAIN_HVM);
    assert_false(o.host_bridge);
    assert_true(o.bar_base == 0);
    expect_ok(PARSE(&o, "--domid", "1", "--domain-type", "pvh", "--host-bridge", "--bar-base",
                    "0x110000000"));
    assert_int_equal(o.domain_type, DOMAIN_PVH);
    assert_true(o.host_bridge);
    assert_true(o.bar_base == 0x110000000ULL);
    expect_error(PARSE(&o, "--domid", "1", "--domain-type", "pv"),
                 "--domain-type: 'pv' is not hvm or pvh");
    /* HVM: QEMU owns 0xCF8 and hvmloader places BARs. */
    expect_error(PARSE(&o, "--domid", "1", "--host-bridge"),
                 "--host-bridge needs --domain-type pvh");
    expect_error(PARSE(&o, "--domid", "1", "--bar-base", "0x100000000"),
                 "--bar-base needs --domain-type pvh");
    expect_error(
        PARSE(&o, "--domid", "1", "--domain-type", "pvh", "--host-bridge", "--bdf", "00:00.0"),
        "--bdf 00:00.0 is the host bridge's");
    /* Aligned to the BAR (256M by default), page-aligned, below 2^52. */
    expect_error(PARSE(&o, "--domid", "1", "--domain-type", "pvh", "--bar-base", "0x108000000"),
                 "is not aligned to the 256M BAR");
    expect_error(PARSE(&o, "--domid", "1", "--domain-type", "pvh", "--bar-base", "0x1001"),
                 "--bar-base: '0x1001' is not a page-aligned");
    expect_error(PARSE(&o, "--domid", "1", "--domain-type", "pvh", "--bar-base", "0"),
                 "--bar-base: '0'");
    expect_error(
        PARSE(&o, "--domid", "1", "--domain-type", "pvh", "--bar-base", "0x10000000000000"),
        "--bar-base");
    expect_error(
        PARSE(&o, "--domid", "1", "--domain-type", "pvh", "--bar-base", "0xff000000000000"),
        "--bar-base");
    expect_ok(PARSE(&o, "--domid", "1", "--domain-type", "pvh", "--bar-size", "4K", "--bar-base",
                    "0xffffffffff000"));
    expect_error(PARSE(&o, "--domid", "1", "--domain-type", "pvh", "--bar-size", "8K", "--bar-base",
                       "0xffffffffff000"),
                 "not aligned");
}

static void defaults(void **state)
{
    struct dm_options o;
    (void)state;

    expect_ok(PARSE(&o, "--domid", "5"));
    assert_int_equal(o.domid, 5);
    assert_int_equal(o.pci_seg, 0);
    assert_int_equal(o.pci_bus, 0);
    assert_int_equal(o.pci_dev, 0x1f);
    assert_int_equal(o.pci_fn, 0);
    assert_int_equal(o.bar_size, 0);
    assert_null(o.backing);
    assert_int_equal(o.mode, MODE_AUTO);
    assert_int_equal(o.vendor_id, OPT_DEFAULT_VENDOR);
    assert_int_equal(o.device_id, OPT_DEFAULT_DEVICE);
    assert_int_equal(o.subsys_vendor_id, OPT_DEFAULT_VENDOR);
    assert_int_equal(o.subsys_id, OPT_DEFAULT_DEVICE);
    assert_int_equal(o.class_code, OPT_DEFAULT_CLASS);
    assert_int_equal(o.log_level, LOG_LVL_INFO);
    assert_false(o.log_syslog);
    assert_int_equal(o.ready_fd, -1);
    assert_null(o.pidfile);
    assert_null(o.stats_path);
    assert_null(o.runas);
    assert_null(o.pci_sysfs_path);
    assert_int_equal(o.fault_around, 0);
    assert_int_equal(o.window, 0);
    assert_int_equal(o.on_lost, ON_LOST_ZERO);
    assert_int_equal(o.domain_poll_ms, 1000);
}

static void domid(void **state)
{
    struct dm_options o;
    (void)state;

    expect_ok(PARSE(&o, "--domid", "1"));
    assert_int_equal(o.domid, 1);
    expect_ok(PARSE(&o, "--domid", "32751"));
    assert_int_equal(o.domid, 32751);
    expect_ok(PARSE(&o, "--domid", "0x10"));
    assert_int_equal(o.domid, 16);
    expect_ok(PARSE(&o, "--domid=7"));
    assert_int_equal(o.domid, 7);

    expect_error(PARSE(&o, "--domid", "0"), "--domid: '0'");
    expect_error(PARSE(&o, "--domid", "32752"), "--domid: '32752'");
    expect_error(PARSE(&o, "--domid", "-1"), "--domid");
    expect_error(PARSE(&o, "--domid", ""), "--domid");
    expect_error(PARSE(&o, "--domid", "abc"), "--domid");
    expect_error(PARSE(&o, "--domid", "5x"), "--domid");
    expect_error(PARSE(&o, "--domid", "4294967301"), "--domid");
    expect_error(PARSE(&o, "--mode", "lend"), "--domid is required");
    expect_error(PARSE(&o, "--domid"), "option '--domid' needs a value");
}

static void bdf(void **state)
{
    static const struct {
        const char *s;
        unsigned int seg, bus, dev, fn;
    } good[] = {
        {"0000:00:1f.0", 0, 0, 0x1f, 0}, {"00:03.1", 0, 0, 3, 1},
        {"1:2:3.4", 1, 2, 3, 4},         {"ffff:ff:1f.7", 0xffff, 0xff, 0x1f, 7},
        {"0A:0b.2", 0, 0x0a, 0x0b, 2},
    };
    static const char *const bad[] = {
        "00:20.0",        "00:1f.8", "0000:00:1f", "00000:00:1f.0", "000:100:00.0", "g0:00.0",
        "00:1f.0x",       "",        "-1:00.0",    " 0:00.0",       "0x00:1f.0",    "00:1f.00",
        "0000:00:01:0.0", "00.1f.0", "00:1f.",     ":00.0",
    };
    struct dm_options o;
    (void)state;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        expect_ok(PARSE(&o, "--domid", "1", "--bdf", (char *)good[i].s));
        assert_int_equal(o.pci_seg, good[i].seg);
        assert_int_equal(o.pci_bus, good[i].bus);
        assert_int_equal(o.pci_dev, good[i].dev);
        assert_int_equal(o.pci_fn, good[i].fn);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_error(PARSE(&o, "--domid", "1", "--bdf", (char *)bad[i]), "--bdf: '");
}

static void bar_size(void **state)
{
    static const struct {
        const char *s;
        uint64_t v;
    } good[] = {{"4K", 4096}, {"1T", 1ULL << 40}, {"256M", 256ULL << 20}, {"0x1000", 4096}};
    static const char *const bad[] = {"3M", "2K", "2T", "0", "abc", "4K5", "", "-4K", "12K"};
    struct dm_options o;
    (void)state;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        expect_ok(PARSE(&o, "--domid", "1", "--bar-size", (char *)good[i].s));
        assert_true(o.bar_size == good[i].v);
    }
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_error(PARSE(&o, "--domid", "1", "--bar-size", (char *)bad[i]), "--bar-size: '");
    expect_error(PARSE(&o, "--domid", "1", "--bar-size", "3M"),
                 "--bar-size: '3M' is not a power of two between 4K and 1T");
}

static void backing_option(void **state)
{
    static const char *const good[] = {"memfd:256M", "file:/dev/shm/vram", "pci:0000:03:00.0/bar2",
                                       "pci:03:00.0/bar0", "fd:5"};
    struct dm_options o;
    (void)state;

    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
        char *spec = (char *)good[i];
        expect_ok(PARSE(&o, "--domid", "1", "--backing", spec));
        /* The string itself is kept, not a copy. */
        assert_ptr_equal(o.backing, spec);
    }
    expect_error(PARSE(&o, "--domid", "1", "--backing", "memfd:12Q"),
                 "--backing: backing 'memfd:12Q': bad size '12Q'");
    expect_error(PARSE(&o, "--domid", "1", "--backing", "fd:2"), "--backing: ");
    expect_error(PARSE(&o, "--domid", "1", "--backing", "pci:03:00.0/bar6"), "--backing: ");
    expect_error(PARSE(&o, "--domid", "1", "--backing", "disk:/x"), "--backing: ");
    expect_error(PARSE(&o, "--domid", "1", "--backing", ""), "--backing: ");
}

static void mode(void **state)
{
    struct dm_options o;
    (void)state;

    expect_ok(PARSE(&o, "--domid", "1", "--mode", "emulate"));
    assert_int_equal(o.mode, MODE_EMULATE);
    expect_ok(PARSE(&o, "--domid", "1", "--mode", "lend"));
    assert_int_equal(o.mode, MODE_LEND);
    expect_ok(PARSE(&o, "--domid", "1", "--mode", "lend", "--mode", "auto"));
    assert_int_equal(o.mode, MODE_AUTO);
    expect_error(PARSE(&o, "--domid", "1", "--mode", "lent"), "--mode: 'lent'");
    expect_error(PARSE(&o, "--domid", "1", "--mode", "LEND"), "--mode: 'LEND'");
    expect_error(PARSE(&o, "--domid", "1", "--mode", ""), "--mode: ''");

    assert_string_equal(lend_mode_name(MODE_AUTO), "auto");
    assert_string_equal(lend_mode_name(MODE_EMULATE), "emulate");
    assert_string_equal(lend_mode_name(MODE_LEND), "lend");
    assert_non_null(lend_mode_name((enum lend_mode)42));
}

static void ids(void **state)
{
    struct dm_options o;
    (void)state;

    expect_ok(PARSE(&o, "--domid", "1", "--vendor", "0x1af4", "--device", "0x1100", "--class",
                    "0x050000"));
    assert_int_equal(o.vendor_id, 0x1af4);
    assert_int_equal(o.device_id, 0x1100);
    assert_int_equal(o.class_code, 0x050000);
    /* The subsystem follows the ids when not given, whatever the order. */
    assert_int_equal(o.subsys_vendor_id, 0x1af4);
    assert_int_equal(o.subsys_id, 0x1100);

    /* Hex without 0x too: "1234" is 0x1234, not decimal. */
    expect_ok(
        PARSE(&o, "--domid", "1", "--vendor", "1234", "--device", "ffff", "--class", "ffffff"));
    assert_int_equal(o.vendor_id, 0x1234);
    assert_int_equal(o.device_id, 0xffff);
    assert_int_equal(o.class_code, 0xffffff);
    expect_ok(PARSE(&o, "--domid", "1", "--vendor", "0X0000", "--class", "0"));
    assert_int_equal(o.vendor_id, 0);
    assert_int_equal(o.class_code, 0);

    static const char *const bad16[] = {"0x10000", "", "0x", "xyz", "-1", "0x12g", " 12", "12345"};
    for (size_t i = 0; i < sizeof(bad16) / sizeof(bad16[0]); i++) {
        expect_error(PARSE(&o, "--domid", "1", "--vendor", (char *)bad16[i]), "--vendor: '");
        expect_error(PARSE(&o, "--domid", "1", "--device", (char *)bad16[i]), "--device: '");
    }
    expect_error(PARSE(&o, "--domid", "1", "--vendor", "0xffff"), "--vendor: '0xffff'");
    expect_error(PARSE(&o, "--domid", "1", "--class", "0x1000000"), "--class: '0x1000000'");
    expect_error(PARSE(&o, "--domid", "1", "--class", "0x"), "--class: '0x'");
    expect_error(PARSE(&o, "--domid", "1", "--class", "mem"), "--class: 'mem'");
}

static void subsys(void **state)
{
    static const char *const bad[] = {"1af4",        "1af4:",          ":1100", "1af4:11000",
                                      "1af4:1100:1", "0x1af4:0x1100x", "",      "0x10000:1"};
    struct dm_options o;
    (void)state;

    expect_ok(PARSE(&o, "--domid", "1", "--subsys", "1af4:1100"));
    assert_int_equal(o.subsys_vendor_id, 0x1af4);
    assert_int_equal(o.subsys_id, 0x1100);
    assert_int_equal(o.vendor_id, OPT_DEFAULT_VENDOR);
    /* Given explicitly, it does not follow a later --vendor. */
    expect_ok(PARSE(&o, "--domid", "1", "--subsys", "0x1af4:0x0001", "--vendor", "0x8086"));
    assert_int_equal(o.subsys_vendor_id, 0x1af4);
    assert_int_equal(o.subsys_id, 1);
    assert_int_equal(o.vendor_id, 0x8086);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_error(PARSE(&o, "--domid", "1", "--subsys", (char *)bad[i]), "--subsys: '");
}

static void log_options(void **state)
{
    static const char *const names[] = {"error", "warn", "info", "debug"};
    struct dm_options o;
    (void)state;

    for (unsigned int i = 0; i < 4; i++) {
        expect_ok(PARSE(&o, "--domid", "1", "--log-level", (char *)names[i]));
        assert_int_equal(o.log_level, i);
    }
    expect_error(PARSE(&o, "--domid", "1", "--log-level", "verbose"), "--log-level: 'verbose'");
    expect_ok(PARSE(&o, "--domid", "1", "--syslog"));
    assert_true(o.log_syslog);
    assert_false(o.no_xenstore);
    expect_ok(PARSE(&o, "--domid", "1", "--no-xenstore"));
    assert_true(o.no_xenstore);
    expect_error(PARSE(&o, "--domid", "1", "--no-xenstore=1"),
                 "option '--no-xenstore' takes no value");
    expect_error(PARSE(&o, "--domid", "1", "--syslog=1"), "option '--syslog' takes no value");
}

static void ready_fd(void **state)
{
    static const char *const bad[] = {"0", "1", "2", "-1", "x", "", "2147483648", "3x"};
    struct dm_options o;
    (void)state;

    expect_ok(PARSE(&o, "--domid", "1", "--ready-fd", "3"));
    assert_int_equal(o.ready_fd, 3);
    expect_ok(PARSE(&o, "--domid", "1", "--ready-fd", "100"));
    assert_int_equal(o.ready_fd, 100);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_error(PARSE(&o, "--domid", "1", "--ready-fd", (char *)bad[i]), "--ready-fd: '");
    expect_error(PARSE(&o, "--domid", "1", "--ready-fd", "1"), "3 or more");
}

static void paths(void **state)
{
    struct dm_options o;
    (void)state;

    expect_ok(PARSE(&o, "--domid", "1", "--pidfile", "/run/x.pid", "--stats", "/run/x.json",
                    "--runas", "nobody", "--pci-sysfs-path", "/tmp/sys"));
    assert_string_equal(o.pidfile, "/run/x.pid");
    assert_string_equal(o.stats_path, "/run/x.json");
    assert_string_equal(o.runas, "nobody");
    assert_string_equal(o.pci_sysfs_path, "/tmp/sys");
    expect_error(PARSE(&o, "--domid", "1", "--pidfile", ""), "--pidfile: empty");
    expect_error(PARSE(&o, "--domid", "1", "--stats", ""), "--stats: empty");
    expect_error(PARSE(&o, "--domid", "1", "--runas", ""), "--runas: empty");
    expect_error(PARSE(&o, "--domid", "1", "--pci-sysfs-path", ""), "--pci-sysfs-path: empty");
    expect_error(PARSE(&o, "--domid", "1", "--pidfile"), "option '--pidfile' needs a value");
}

static void fault_around(void **state)
{
    static const char *const bad[] = {"3K", "4M", "12K", "0", "2K", "", "1G"};
    struct dm_options o;
    (void)state;

    expect_ok(PARSE(&o, "--domid", "1", "--fault-around", "4K"));
    assert_true(o.fault_around == 4096);
    expect_ok(PARSE(&o, "--domid", "1", "--fault-around", "2M"));
    assert_true(o.fault_around == 2ULL << 20);
    expect_ok(PARSE(&o, "--domid", "1", "--fault-around", "64K"));
    assert_true(o.fault_around == 64ULL << 10);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_error(PARSE(&o, "--domid", "1", "--fault-around", (char *)bad[i]),
                     "--fault-around: '");
}

static void window(void **state)
{
    static const char *const bad[] = {"0", "4097", "2K", "", "1M1", "6K"};
    struct dm_options o;
    (void)state;

    expect_ok(PARSE(&o, "--domid", "1", "--window", "4K"));
    assert_true(o.window == 4096);
    expect_ok(PARSE(&o, "--domid", "1", "--window", "12K"));
    assert_true(o.window == 12288);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_error(PARSE(&o, "--domid", "1", "--window", (char *)bad[i]), "--window: '");

    /* Against the BAR size once it is known: given, from a memfd, or the default. */
    expect_ok(PARSE(&o, "--domid", "1", "--bar-size", "1M", "--window", "1M"));
    expect_error(PARSE(&o, "--domid", "1", "--bar-size", "1M", "--window", "2M"),
                 "--window 2M is larger than the 1M BAR");
    expect_error(PARSE(&o, "--domid", "1", "--window", "2M", "--backing", "memfd:1M"),
                 "--window 2M");
    expect_ok(PARSE(&o, "--domid", "1", "--window", "256M"));
    expect_error(PARSE(&o, "--domid", "1", "--window", "512M"), "--window 512M");
    /* Unknown until the daemon opens the file. */
    expect_ok(PARSE(&o, "--domid", "1", "--window", "512M", "--backing", "file:/x"));
    assert_true(o.window == 512ULL << 20);
    assert_int_equal(o.bar_size, 0);
}

static void on_lost(void **state)
{
    struct dm_options o;
    (void)state;

    expect_ok(PARSE(&o, "--domid", "1", "--on-lost", "fault"));
    assert_int_equal(o.on_lost, ON_LOST_FAULT);
    expect_ok(PARSE(&o, "--domid", "1", "--on-lost", "fault", "--on-lost", "zero"));
    assert_int_equal(o.on_lost, ON_LOST_ZERO);
    expect_error(PARSE(&o, "--domid", "1", "--on-lost", "ignore"), "--on-lost: 'ignore'");
}

static void readahead(void **state)
{
    struct dm_options o;
    (void)state;

    expect_ok(PARSE(&o, "--domid", "1"));
    assert_false(o.readahead_off);
    expect_ok(PARSE(&o, "--domid", "1", "--readahead", "off"));
    assert_true(o.readahead_off);
    expect_ok(PARSE(&o, "--domid", "1", "--readahead", "off", "--readahead", "on"));
    assert_false(o.readahead_off);
    expect_error(PARSE(&o, "--domid", "1", "--readahead", "yes"), "--readahead: 'yes'");
    expect_error(PARSE(&o, "--domid", "1", "--readahead", ""), "--readahead: ''");
}

static void domain_poll_ms(void **state)
{
    static const char *const bad[] = {"9", "60001", "0", "-10", "1s", ""};
    struct dm_options o;
    (void)state;

    expect_ok(PARSE(&o, "--domid", "1", "--domain-poll-ms", "10"));
    assert_int_equal(o.domain_poll_ms, 10);
    expect_ok(PARSE(&o, "--domid", "1", "--domain-poll-ms", "60000"));
    assert_int_equal(o.domain_poll_ms, 60000);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_error(PARSE(&o, "--domid", "1", "--domain-poll-ms", (char *)bad[i]),
                     "--domain-poll-ms: '");
}

static void cross_checks(void **state)
{
    struct dm_options o;
    (void)state;

    expect_error(PARSE(&o, "--domid", "1", "--backing", "memfd:1M", "--bar-size", "2M"),
                 "memfd:1M is smaller than --bar-size 2M");
    /* A bigger memfd is fine and need not be a power of two when --bar-size is given. */
    expect_ok(PARSE(&o, "--domid", "1", "--backing", "memfd:2M", "--bar-size", "1M"));
    assert_true(o.bar_size == 1ULL << 20);
    expect_ok(PARSE(&o, "--domid", "1", "--backing", "memfd:12K", "--bar-size", "8K"));
    assert_true(o.bar_size == 8192);
    /* Without --bar-size the memfd gives the BAR size, which must then be valid. */
    expect_ok(PARSE(&o, "--domid", "1", "--backing", "memfd:64M"));
    assert_true(o.bar_size == 64ULL << 20);
    expect_error(PARSE(&o, "--domid", "1", "--backing", "memfd:12K"), "memfd:12K");
    expect_error(PARSE(&o, "--domid", "1", "--backing", "memfd:2T"), "memfd:2T");
    /* Other backings leave the size to the daemon. */
    expect_ok(PARSE(&o, "--domid", "1", "--backing", "file:/dev/shm/x"));
    assert_int_equal(o.bar_size, 0);
    expect_ok(PARSE(&o, "--domid", "1", "--backing", "fd:9"));
    assert_int_equal(o.bar_size, 0);
    /* The last --backing counts: a memfd replaced by a file no longer sizes the BAR. */
    expect_ok(PARSE(&o, "--domid", "1", "--backing", "memfd:12K", "--backing", "file:/x"));
    assert_int_equal(o.bar_size, 0);
    assert_string_equal(o.backing, "file:/x");
}

/* --backing none: an empty window, its control socket and region cap; emulation only. */
static void backing_none(void **state)
{
    struct dm_options o;
    (void)state;

    expect_ok(PARSE(&o, "--domid", "1", "--backing", "none"));
    assert_string_equal(o.backing, "none");
    assert_true(o.bar_size == OPT_DEFAULT_BAR_SIZE);
    assert_null(o.control_path);
    assert_int_equal(o.max_regions, 4096);
    expect_ok(PARSE(&o, "--control", "/c.ctl", "--max-regions", "65536", "--backing", "none",
                    "--bar-size", "1M", "--mode", "emulate", "--domid", "7"));
    assert_int_equal(o.domid, 7);
    assert_string_equal(o.control_path, "/c.ctl");
    assert_int_equal(o.max_regions, 65536);
    assert_true(o.bar_size == 1ULL << 20);
    expect_error(PARSE(&o, "--domid", "1", "--backing", "none", "--mode", "lend"),
                 "--backing none is emulation only for now");
    expect_error(PARSE(&o, "--domid", "1", "--control", "/c"), "--control needs --backing none");
    expect_error(PARSE(&o, "--domid", "1", "--max-regions", "9"),
                 "--max-regions needs --backing none");
    expect_error(PARSE(&o, "--domid", "1", "--backing", "none", "--max-regions", "0"),
                 "--max-regions: '0'");
    expect_error(PARSE(&o, "--domid", "1", "--backing", "none", "--max-regions", "65537"),
                 "--max-regions: '65537'");
    expect_error(PARSE(&o, "--domid", "1", "--backing", "none", "--control", ""),
                 "--control: empty value");
    expect_error(PARSE(&o, "--domid", "1", "--backing", "none", "--window", "64K"),
                 "--window is for lend mode");
    expect_error(PARSE(&o, "--domid", "1", "--backing", "nonE"), "nonE");
}

static void last_wins(void **state)
{
    struct dm_options o;
    (void)state;

    expect_ok(PARSE(&o, "--domid", "3", "--domid", "4", "--bdf", "01:02.3", "--bdf", "00:05.0",
                    "--bar-size", "1M", "--bar-size", "4K", "--pidfile", "/a", "--pidfile", "/b"));
    assert_int_equal(o.domid, 4);
    assert_int_equal(o.pci_bus, 0);
    assert_int_equal(o.pci_dev, 5);
    assert_int_equal(o.pci_fn, 0);
    assert_true(o.bar_size == 4096);
    assert_string_equal(o.pidfile, "/b");
}

/* Run options_parse with stdout sent to a temporary file; returns what was printed. */
static char *parse_capturing_stdout(struct dm_options *o, char **argv, int *rc)
{
    char path[] = "/tmp/test_options.XXXXXX";
    int fd = mkstemp(path);
    int saved = dup(STDOUT_FILENO);
    static char out[16384];
    ssize_t n;

    assert_true(fd >= 0);
    assert_true(saved >= 0);
    unlink(path);
    fflush(stdout);
    assert_true(dup2(fd, STDOUT_FILENO) >= 0);
    *rc = parse_v(o, argv);
    fflush(stdout);
    assert_true(dup2(saved, STDOUT_FILENO) >= 0);
    close(saved);
    n = pread(fd, out, sizeof(out) - 1, 0);
    close(fd);
    assert_true(n >= 0);
    out[n] = '\0';
    return out;
}

static void help_and_version(void **state)
{
    static const char *const documented[] = {
        "--domid N",      "--bdf",
        "--bar-size",     "--backing",
        "--mode",         "--vendor",
        "--device",       "--subsys",
        "--class",        "--log-level",
        "--syslog",       "--ready-fd",
        "--pidfile",      "--stats",
        "--runas",        "--pci-sysfs-path",
        "--fault-around", "--window",
        "--on-lost",      "--domain-poll-ms",
        "--readahead",    "on|off",
        "--no-xenstore",
        "--help",         "--version",
        "memfd:SIZE",     "file:PATH",
        "fd:N",           "pci:[SSSS:]BB:DD.F/barN",
        "Exit status",    "0000:00:1f.0",
        "0x5853",         "0x1e4d",
        "0x058000",       "default 1000",
        "default auto",   "default zero",
        "default info",   "  2  ",
    };
    struct dm_options o;
    char *out;
    int rc;
    (void)state;

    /* --help needs no --domid and wins over anything after it. */
    out = parse_capturing_stdout(&o, (char *[]){"ioreq-lend", "--help", "--bogus", NULL}, &rc);
    assert_int_equal(rc, OPTIONS_EXIT);
    assert_non_null(strstr(out, "Usage: ioreq-lend"));
    for (size_t i = 0; i < sizeof(documented) / sizeof(documented[0]); i++) {
        if (!strstr(out, documented[i]))
            fail_msg("--help does not mention '%s'", documented[i]);
    }
    /* Fits a terminal. */
    for (char *line = out, *nl; (nl = strchr(line, '\n')); line = nl + 1)
        assert_true(nl - line <= 80);
    out = parse_capturing_stdout(&o, (char *[]){"ioreq-lend", "-h", NULL}, &rc);
    assert_int_equal(rc, OPTIONS_EXIT);
    assert_non_null(strstr(out, "Usage: ioreq-lend"));

    out = parse_capturing_stdout(&o, (char *[]){"ioreq-lend", "--version", NULL}, &rc);
    assert_int_equal(rc, OPTIONS_EXIT);
    assert_string_equal(out, "ioreq-lend " IOREQ_LEND_VERSION "\n");
    out = parse_capturing_stdout(&o, (char *[]){"ioreq-lend", "--domid", "1", "-V", NULL}, &rc);
    assert_int_equal(rc, OPTIONS_EXIT);
    assert_string_equal(out, "ioreq-lend " IOREQ_LEND_VERSION "\n");

    /* An error before --help is still an error, and nothing is printed. */
    out = parse_capturing_stdout(&o, (char *[]){"ioreq-lend", "--bogus", "--help", NULL}, &rc);
    expect_error(rc, "unknown option '--bogus'");
    assert_string_equal(out, "");
}

/*
 * `char c = getopt_long(...)` truncates option values above 0xff: one of
 * them would read as -1 and stop parsing, others would alias 'h' or 'V'. Each
 * option, then --domid: with a truncated value --domid is never reached.
 */
static void every_option_then_domid(void **state)
{
    static const struct {
        const char *opt, *val;
    } all[] = {
        {"--domid", "9"},           {"--bdf", "00:02.0"},        {"--bar-size", "1M"},
        {"--backing", "fd:7"},      {"--mode", "lend"},          {"--vendor", "0x8086"},
        {"--device", "0x1234"},     {"--subsys", "1:2"},         {"--class", "0x030000"},
        {"--log-level", "debug"},   {"--syslog", NULL},          {"--ready-fd", "4"},
        {"--pidfile", "/p"},        {"--stats", "/s"},           {"--runas", "u"},
        {"--pci-sysfs-path", "/d"}, {"--fault-around", "64K"},   {"--window", "64K"},
        {"--on-lost", "fault"},     {"--domain-poll-ms", "500"},  {"--readahead", "off"},
    };
    struct dm_options o;
    (void)state;

    for (size_t i = 0; i < sizeof(all) / sizeof(all[0]); i++) {
        char *argv[6] = {"ioreq-lend", (char *)all[i].opt};
        int n = 2;

        if (all[i].val)
            argv[n++] = (char *)all[i].val;
        argv[n++] = "--domid";
        argv[n++] = "7";
        if (parse_v(&o, argv) != OPTIONS_RUN || o.domid != 7)
            fail_msg("%s then --domid 7: rc/domid wrong, '%s'", all[i].opt, err);
    }
    /* All at once, checking that each one landed. */
    expect_ok(PARSE(&o, "--bdf", "00:02.0", "--bar-size", "1M", "--backing", "fd:7", "--mode",
                    "lend", "--vendor", "0x8086", "--device", "0x1234", "--subsys", "1:2",
                    "--class", "0x030000", "--log-level", "debug", "--syslog", "--ready-fd", "4",
                    "--pidfile", "/p", "--stats", "/s", "--runas", "u", "--pci-sysfs-path", "/d",
                    "--fault-around", "64K", "--window", "64K", "--on-lost", "fault",
                    "--domain-poll-ms", "500", "--domid", "7"));
    assert_int_equal(o.domid, 7);
    assert_int_equal(o.pci_dev, 2);
    assert_true(o.bar_size == 1ULL << 20);
    assert_string_equal(o.backing, "fd:7");
    assert_int_equal(o.mode, MODE_LEND);
    assert_int_equal(o.vendor_id, 0x8086);
    assert_int_equal(o.device_id, 0x1234);
    assert_int_equal(o.subsys_vendor_id, 1);
    assert_int_equal(o.subsys_id, 2);
    assert_int_equal(o.class_code, 0x030000);
    assert_int_equal(o.log_level, LOG_LVL_DEBUG);
    assert_true(o.log_syslog);
    assert_int_equal(o.ready_fd, 4);
    assert_string_equal(o.pidfile, "/p");
    assert_string_equal(o.stats_path, "/s");
    assert_string_equal(o.runas, "u");
    assert_string_equal(o.pci_sysfs_path, "/d");
    assert_true(o.fault_around == 64ULL << 10);
    assert_true(o.window == 64ULL << 10);
    assert_int_equal(o.on_lost, ON_LOST_FAULT);
    assert_int_equal(o.domain_poll_ms, 500);
}

static void repeated_parsing(void **state)
{
    struct dm_options a, b;
    int rc;
    (void)state;

    expect_ok(PARSE(&a, "--domid", "3", "--mode", "lend", "--syslog"));
    expect_ok(PARSE(&b, "--domid", "4"));
    /* Fresh defaults each time: nothing carried over from the previous call. */
    assert_int_equal(a.domid, 3);
    assert_int_equal(b.domid, 4);
    assert_int_equal(b.mode, MODE_AUTO);
    assert_false(b.log_syslog);

    /* An error half-way through argv, then a clean parse. */
    expect_error(PARSE(&a, "--domid", "3", "--mode", "x", "--domid", "5"), "--mode");
    expect_ok(PARSE(&a, "--domid", "6"));
    assert_int_equal(a.domid, 6);

    /*
     * getopt stops inside the cluster "-Vh" at V. Unless optind = 0 resets its
     * scan, the next call resumes at the stale 'h' and prints help.
     */
    parse_capturing_stdout(&a, (char *[]){"ioreq-lend", "-Vh", NULL}, &rc);
    assert_int_equal(rc, OPTIONS_EXIT);
    expect_ok(PARSE(&a, "--domid", "8"));
    assert_int_equal(a.domid, 8);

    for (int i = 0; i < 100; i++) {
        expect_ok(PARSE(&a, "--domid", "9", "--bar-size", "8K"));
        expect_error(PARSE(&a, "--domid", "9", "--bar-size", "3K"), "--bar-size");
    }
}

static void unknown_and_stray(void **state)
{
    struct dm_options o;
    (void)state;

    expect_error(PARSE(&o, "--domid", "1", "--foo"), "unknown option '--foo'");
    expect_error(PARSE(&o, "--domid", "1", "--foo=bar"), "unknown option '--foo'");
    assert_null(strstr(err, "bar"));
    expect_error(PARSE(&o, "--domid", "1", "-x"), "unknown option '-x'");
    expect_error(PARSE(&o, "--domid", "1", "-"), "unexpected argument '-'");
    expect_error(PARSE(&o, "--domid", "1", "stray"), "unexpected argument 'stray'");
    expect_error(PARSE(&o, "--domid", "1", "--", "--mode"), "unexpected argument '--mode'");
    expect_error(PARSE(&o, "--dom", "1"), "ambiguous option '--dom'");
    assert_non_null(strstr(err, "--domid"));
    assert_non_null(strstr(err, "--domain-poll-ms"));
    expect_error(PARSE(&o, "--domid", "1", "--help=x"), "option '--help' takes no value");
    /* A unique prefix is the option (getopt_long's usual behaviour). */
    expect_ok(PARSE(&o, "--domid", "1", "--bar-s", "8K"));
    assert_true(o.bar_size == 8192);
    expect_error(PARSE(&o, "--domid", "1", "--bar", "8K"), "ambiguous option '--bar'");

    /* A stray argument first: argv is left in order (no permutation). */
    char *argv[] = {"ioreq-lend", "stray", "--domid", "1", NULL};
    expect_error(parse_v(&o, argv), "unexpected argument 'stray'");
    assert_string_equal(argv[1], "stray");
    assert_string_equal(argv[2], "--domid");

    /* Whatever a value holds, the message stays one line. */
    expect_error(PARSE(&o, "--domid", "1", "--mode", "a\nb"), "--mode: 'a?b'");
    expect_error(PARSE(&o, "--domid", "1", "--backing", "file\n:x"), "--backing");
    expect_error(PARSE(&o, "--domid", "1", "--x\ny"), "unknown option");
    expect_error(PARSE(&o, "--domid", "1", "st\r\nray"), "unexpected argument");

    /* argc 0 (an exec with an empty argv) is not a crash. */
    char *none[] = {NULL};
    expect_error(parse_v(&o, none), "--domid is required");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(defaults),
        cmocka_unit_test(pvh_options),
        cmocka_unit_test(domid),
        cmocka_unit_test(bdf),
        cmocka_unit_test(bar_size),
        cmocka_unit_test(backing_option),
        cmocka_unit_test(mode),
        cmocka_unit_test(ids),
        cmocka_unit_test(subsys),
        cmocka_unit_test(log_options),
        cmocka_unit_test(ready_fd),
        cmocka_unit_test(paths),
        cmocka_unit_test(fault_around),
        cmocka_unit_test(window),
        cmocka_unit_test(on_lost),
        cmocka_unit_test(readahead),
        cmocka_unit_test(domain_poll_ms),
        cmocka_unit_test(cross_checks),
        cmocka_unit_test(backing_none),
        cmocka_unit_test(last_wins),
        cmocka_unit_test(help_and_version),
        cmocka_unit_test(every_option_then_domid),
        cmocka_unit_test(repeated_parsing),
        cmocka_unit_test(unknown_and_stray),
    };
    return cmocka_run_group_tests_name("options", tests, NULL, NULL);
}
