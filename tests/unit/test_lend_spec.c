/* SPDX-License-Identifier: MIT */
/*
 * Lend specs (ioreq-lend/launcher/lend_spec.c): every key becomes its daemon
 * option, the daemon's parser has the last word on values, defaults for the
 * stats and pid files, and one line naming the key for every kind of bad
 * input. A seeded random run checks that no input crashes it or yields more
 * than one line.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "launcher/lend_spec.h"

static const struct lend_spec_env env7 = {.domid = 7, .state_dir = NULL};

/* The argv after "ioreq-lend --domid N", joined by spaces. */
static void joined(const struct lend_spec *s, char *buf, size_t len)
{
    size_t used = 0;

    buf[0] = '\0';
    for (int i = 1; i < s->argc && used < len; i++)
        used += (size_t)snprintf(buf + used, len - used, "%s%s", i > 1 ? " " : "", s->argv[i]);
}

static void parse_ok(const char *spec, const struct lend_spec_env *env, struct lend_spec *s)
{
    char err[512] = "";

    if (lend_spec_parse(spec, env, s, err, sizeof(err)) != 0)
        fail_msg("'%s' refused: %s", spec, err);
}

static void parse_fails(const char *spec, const char *want)
{
    struct lend_spec s;
    char err[512] = "";

    if (lend_spec_parse(spec, &env7, &s, err, sizeof(err)) != -EINVAL)
        fail_msg("'%s' accepted", spec);
    if (!strstr(err, want))
        fail_msg("'%s': message \"%s\" does not say \"%s\"", spec, err, want);
    assert_null(strchr(err, '\n'));
    /* Nothing to free after a failure, and freeing anyway is harmless. */
    assert_null(s.text);
    lend_spec_free(&s);
}

static void minimal_spec(void **state)
{
    struct lend_spec s;
    char argv[1024];

    (void)state;
    parse_ok("bdf=00:1e.0", &env7, &s);
    assert_string_equal(s.argv[0], "ioreq-lend");
    assert_null(s.argv[s.argc]);
    joined(&s, argv, sizeof(argv));
    assert_string_equal(argv, "--domid 7 --bdf 00:1e.0 "
                              "--stats /run/ioreq-lend/dom7-0000:00:1e.0.json "
                              "--pidfile /run/ioreq-lend/dom7-0000:00:1e.0.pid");
    assert_string_equal(s.bdf, "0000:00:1e.0");
    assert_int_equal(s.opt.domid, 7);
    assert_int_equal(s.opt.pci_dev, 0x1e);
    assert_string_equal(s.opt.stats_path, "/run/ioreq-lend/dom7-0000:00:1e.0.json");
    assert_string_equal(s.opt.pidfile, "/run/ioreq-lend/dom7-0000:00:1e.0.pid");
    lend_spec_free(&s);
    lend_spec_free(&s); /* twice: harmless */
}

/*
 * A PVH guest's list: every daemon is told the type, the first one is the host
 * bridge (and only it), and the BARs go one after the other above RAM, each
 * aligned to its size.
 */
static void pvh_specs(void **state)
{
    const char *texts[] = {"bdf=00:1f.0,size=256M", "bdf=00:1e.0,size=1M", "bdf=00:1d.0,size=512M"};
    struct lend_spec_env env = {
        .domid = 7, .domain_type = DOMAIN_PVH, .pvh_ram_end = (4ULL << 30) + (1ULL << 30)};
    struct lend_spec s[3];
    char err[512] = "", argv[1024];

    (void)state;
    if (lend_specs_parse(texts, 3, &env, s, err, sizeof(err)))
        fail_msg("refused: %s", err);
    for (int i = 0; i < 3; i++) {
        assert_int_equal(s[i].opt.domain_type, DOMAIN_PVH);
        assert_int_equal(s[i].opt.host_bridge, i == 0);
    }
    assert_true(s[0].opt.bar_base == 0x140000000ULL);
    assert_true(s[1].opt.bar_base == 0x150000000ULL);
    assert_true(s[2].opt.bar_base == 0x160000000ULL);
    joined(&s[0], argv, sizeof(argv));
    assert_non_null(strstr(argv, "--domain-type pvh --host-bridge --bdf 00:1f.0"));
    assert_non_null(strstr(argv, "--bar-base 0x140000000"));
    joined(&s[1], argv, sizeof(argv));
    assert_null(strstr(argv, "--host-bridge"));
    for (int i = 0; i < 3; i++)
        lend_spec_free(&s[i]);

    /* The launcher places the BARs: a size is needed, and the keys it sets are its own. */
    const char *nosize[] = {"bdf=00:1f.0,size=1M", "bdf=00:1e.0,backing=file:/x"};
    assert_int_equal(lend_specs_parse(nosize, 2, &env, s, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "lend spec 2"));
    assert_non_null(strstr(err, "give its size"));
    const char *own[] = {"bdf=00:1f.0,size=1M,host-bridge=on"};
    assert_int_equal(lend_specs_parse(own, 1, &env, s, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "the launcher sets --host-bridge itself"));
    const char *base[] = {"bdf=00:1f.0,size=1M,bar-base=0x100000000"};
    assert_int_equal(lend_specs_parse(base, 1, &env, s, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "the launcher sets --bar-base itself"));
}

/* One valid value per key; the key table must have an entry here. */
static const struct {
    const char *key, *value;
} samples[] = {
    {"bdf", "0001:02:03.4"},   {"size", "512M"},
    {"vendor", "0x1af4"},      {"device", "1110"},
    {"subsys", "1af4:1100"},   {"class", "0x050000"},
    {"backing", "memfd:1G"},   {"mode", "emulate"},
    {"window", "64M"},         {"fault-around", "2M"},
    {"on-lost", "fault"},      {"pci-sysfs-path", "/tmp/sys"},
    {"log-level", "debug"},    {"syslog", "on"},
    {"pidfile", "/run/x.pid"}, {"state-dir", "/var/run/lend"},
    {"stats", "/run/x.json"},  {"runas", "nobody"},
    {"domain-poll-ms", "250"}, {"readahead", "off"},
};

static void every_key_sets_its_option(void **state)
{
    const char *key, *option;

    (void)state;
    for (size_t i = 0; (key = lend_spec_key(i, &option)) != NULL; i++) {
        const char *value = NULL;
        char spec[128], want[256], argv[1024];
        struct lend_spec s;

        for (size_t j = 0; j < sizeof(samples) / sizeof(samples[0]); j++) {
            if (strcmp(samples[j].key, key) == 0)
                value = samples[j].value;
        }
        if (!value)
            fail_msg("key '%s' has no sample value in this test", key);
        snprintf(spec, sizeof(spec), "%s=%s", key, value);
        parse_ok(spec, &env7, &s);
        joined(&s, argv, sizeof(argv));
        if (strcmp(key, "syslog") == 0)
            snprintf(want, sizeof(want), " --%s", option);
        else
            snprintf(want, sizeof(want), " --%s %s", option, value);
        if (!strstr(argv, want))
            fail_msg("'%s' gave '%s', without '%s'", spec, argv, want);
        lend_spec_free(&s);
    }
    assert_int_equal(lend_spec_key(sizeof(samples) / sizeof(samples[0]), NULL), NULL);
}

static void values_reach_the_daemon_options(void **state)
{
    struct lend_spec s;

    (void)state;
    parse_ok("bdf=00:1f.0,size=8G,backing=pci:0000:03:00.0/bar2,mode=lend,window=2G,"
             "fault-around=2M,on-lost=fault,vendor=1234,class=0x030000,log-level=warn,"
             "syslog=yes",
             &env7, &s);
    assert_int_equal(s.opt.bar_size, 8ULL << 30);
    assert_string_equal(s.opt.backing, "pci:0000:03:00.0/bar2");
    assert_int_equal(s.opt.mode, MODE_LEND);
    assert_int_equal(s.opt.window, 2ULL << 30);
    assert_int_equal(s.opt.fault_around, 2ULL << 20);
    assert_int_equal(s.opt.on_lost, ON_LOST_FAULT);
    assert_int_equal(s.opt.vendor_id, 0x1234);
    assert_int_equal(s.opt.subsys_vendor_id, 0x1234);
    assert_int_equal(s.opt.class_code, 0x030000);
    assert_int_equal(s.opt.log_level, LOG_LVL_WARN);
    assert_true(s.opt.log_syslog);
    lend_spec_free(&s);

    parse_ok("syslog=off", &env7, &s);
    assert_false(s.opt.log_syslog);
    lend_spec_free(&s);
}

static void doubled_commas_are_commas(void **state)
{
    struct lend_spec s;

    (void)state;
    parse_ok("backing=file:/srv/a,,b,,,,c.img,size=4K", &env7, &s);
    assert_string_equal(s.opt.backing, "file:/srv/a,b,,c.img");
    assert_int_equal(s.opt.bar_size, 4096);
    lend_spec_free(&s);
    /* A value ending in a comma, then the next key. */
    parse_ok("backing=file:/x,,,mode=emulate", &env7, &s);
    assert_string_equal(s.opt.backing, "file:/x,");
    assert_int_equal(s.opt.mode, MODE_EMULATE);
    lend_spec_free(&s);
    /* '=' inside a value is the value's. */
    parse_ok("backing=file:/a=b", &env7, &s);
    assert_string_equal(s.opt.backing, "file:/a=b");
    lend_spec_free(&s);
}

static void state_dir_stats_and_pidfile(void **state)
{
    const struct lend_spec_env env = {.domid = 12, .state_dir = "/tmp/st"};
    struct lend_spec s;

    (void)state;
    /* The environment's state dir, and the default files in it. */
    parse_ok("bdf=00:1f.0", &env, &s);
    assert_string_equal(s.opt.state_dir, "/tmp/st");
    assert_string_equal(s.opt.stats_path, "/tmp/st/dom12-0000:00:1f.0.json");
    assert_string_equal(s.opt.pidfile, "/tmp/st/dom12-0000:00:1f.0.pid");
    lend_spec_free(&s);
    /* The spec's own state dir wins, and moves the default files with it. */
    parse_ok("bdf=00:1f.0,state-dir=/srv/lend", &env, &s);
    assert_string_equal(s.opt.state_dir, "/srv/lend");
    assert_string_equal(s.opt.stats_path, "/srv/lend/dom12-0000:00:1f.0.json");
    lend_spec_free(&s);
    /* off: no file, no option. */
    parse_ok("stats=off,pidfile=off", &env, &s);
    assert_null(s.opt.stats_path);
    assert_null(s.opt.pidfile);
    for (int i = 0; i < s.argc; i++) {
        assert_string_not_equal(s.argv[i], "--stats");
        assert_string_not_equal(s.argv[i], "--pidfile");
    }
    lend_spec_free(&s);
    /* Given paths are used as they are. */
    parse_ok("stats=/a.json,pidfile=/a.pid", &env, &s);
    assert_string_equal(s.opt.stats_path, "/a.json");
    assert_string_equal(s.opt.pidfile, "/a.pid");
    lend_spec_free(&s);
}

static void syntax_errors_name_the_key(void **state)
{
    (void)state;
    parse_fails("", "empty lend spec");
    parse_fails("bdf=00:1f.0,sise=8G", "unknown key 'sise'");
    parse_fails("bdf=00:1f.0,bar-size=8G", "unknown key 'bar-size' (did you mean size?)");
    parse_fails("fault_around=64K", "unknown key 'fault_around' (did you mean fault-around?)");
    parse_fails("domid=3", "key 'domid' is not allowed");
    parse_fails("ready-fd=3", "key 'ready-fd' is not allowed");
    parse_fails("help=1", "unknown key 'help'");
    parse_fails("size=8G,size=8G", "key 'size' is given twice");
    parse_fails("bdf=00:1f.0,mode=", "key 'mode' has an empty value");
    parse_fails("mode=,bdf=00:1f.0", "key 'mode' has an empty value");
    parse_fails("bdf", "key 'bdf' has no value");
    parse_fails("bdf=00:1f.0,size", "key 'size' has no value");
    parse_fails("=8G", "a value without a key");
    parse_fails(",bdf=00:1f.0", "an empty item");
    parse_fails("bdf=00:1f.0,,", "bdf: '00:1f.0,'"); /* ",," is a comma in the value */
    parse_fails("bdf=00:1f.0,", "ends with a comma after key 'bdf'");
    parse_fails(" bdf=00:1f.0", "unknown key ' bdf'");
    parse_fails("syslog=maybe", "syslog: 'maybe' is not on or off");
}

static void bad_values_in_the_daemons_words(void **state)
{
    (void)state;
    /* The daemon's message, with its option names turned into the spec's keys. */
    parse_fails("size=3G", "size: '3G' is not a power of two between 4K and 1T");
    parse_fails("bdf=00:20.0", "bdf: '00:20.0' is not [SSSS:]BB:DD.F");
    parse_fails("mode=fast", "mode: 'fast' is not emulate, lend or auto");
    parse_fails("backing=memfd:1G,size=8G", "backing memfd:1G is smaller than size 8G");
    parse_fails("window=9G,size=8G", "window 9G is larger than the 8G BAR");
    parse_fails("fault-around=3M", "fault-around: '3M' is not a power of two");
    parse_fails("backing=nope:1", "backing: backing 'nope:1'");
    parse_fails("vendor=ffff", "vendor: 'ffff'");
    parse_fails("domain-poll-ms=5", "domain-poll-ms: '5'");
    parse_fails("on-lost=maybe", "on-lost: 'maybe'");
}

static void limits(void **state)
{
    char *big = malloc(LEND_SPEC_MAX_LEN + 2);
    struct lend_spec s;
    char err[256];
    const struct lend_spec_env env0 = {.domid = 0}, env_big = {.domid = OPT_MAX_DOMID + 1};

    (void)state;
    assert_non_null(big);
    memset(big, 'a', LEND_SPEC_MAX_LEN + 1);
    big[LEND_SPEC_MAX_LEN + 1] = '\0';
    parse_fails(big, "longer than");
    free(big);
    assert_int_equal(lend_spec_parse("bdf=00:1f.0", &env0, &s, err, sizeof(err)), -EINVAL);
    assert_non_null(strstr(err, "domain id 0"));
    assert_int_equal(lend_spec_parse("bdf=00:1f.0", &env_big, &s, err, sizeof(err)), -EINVAL);
    assert_int_equal(lend_spec_parse(NULL, &env7, &s, err, sizeof(err)), -EINVAL);
    /* No room for a message is fine too. */
    assert_int_equal(lend_spec_parse("x=1", &env7, &s, NULL, 0), -EINVAL);
    /* A state dir too long for the default file names. */
    {
        char *dir = malloc(LEND_SPEC_PATH_MAX + 16), spec[LEND_SPEC_PATH_MAX + 64];

        assert_non_null(dir);
        memset(dir, 'd', LEND_SPEC_PATH_MAX);
        dir[0] = '/';
        dir[LEND_SPEC_PATH_MAX - 10] = '\0';
        snprintf(spec, sizeof(spec), "state-dir=%s", dir);
        parse_fails(spec, "state-dir: ");
        free(dir);
    }
}

static void control_bytes_stay_on_one_line(void **state)
{
    (void)state;
    parse_fails("mode=a\nb", "mode: 'a?b'");
    parse_fails("bd\nf=1", "unknown key 'bd?f'");
}

/*
 * Random specs built from the characters that matter, and random bytes: the
 * parser must accept or refuse each with one line, and an accepted one must
 * hold together (argv NULL-terminated, domid first).
 */
static void random_input(void **state)
{
    static const char *const pieces[] = {
        "bdf=",     "size=",
        "backing=", "mode=",
        "window=",  "stats=",
        "syslog=",  "state-dir=",
        "00:1f.0",  "8G",
        "4K",       "memfd:8G",
        "file:/x",  "lend",
        "auto",     "off",
        "on",       ",",
        ",,",       "=",
        "x",        "",
        "\xff",     "\n",
        "2M",       "fault-around=",
        "pidfile=",
    };
    unsigned int seed = 12345;

    (void)state;
    for (int round = 0; round < 20000; round++) {
        char spec[256] = "", err[512];
        size_t used = 0;
        struct lend_spec s;
        int n = 1 + (int)(rand_r(&seed) % 8), rc;

        for (int i = 0; i < n && used < sizeof(spec) - 32; i++) {
            if (rand_r(&seed) % 16 == 0) {
                spec[used++] = (char)(1 + rand_r(&seed) % 255);
                spec[used] = '\0';
            } else {
                used +=
                    (size_t)snprintf(spec + used, sizeof(spec) - used, "%s",
                                     pieces[rand_r(&seed) % (sizeof(pieces) / sizeof(pieces[0]))]);
            }
        }
        err[0] = '\0';
        rc = lend_spec_parse(spec, &env7, &s, err, sizeof(err));
        if (rc == 0) {
            assert_true(s.argc >= 3 && s.argc <= LEND_SPEC_MAX_ARGS);
            assert_null(s.argv[s.argc]);
            assert_string_equal(s.argv[1], "--domid");
            lend_spec_free(&s);
        } else {
            assert_int_equal(rc, -EINVAL);
            assert_true(err[0] != '\0');
            for (const char *p = err; *p; p++)
                assert_true((unsigned char)*p >= 0x20 && *p != 0x7f);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(minimal_spec),
        cmocka_unit_test(pvh_specs),
        cmocka_unit_test(every_key_sets_its_option),
        cmocka_unit_test(values_reach_the_daemon_options),
        cmocka_unit_test(doubled_commas_are_commas),
        cmocka_unit_test(state_dir_stats_and_pidfile),
        cmocka_unit_test(syntax_errors_name_the_key),
        cmocka_unit_test(bad_values_in_the_daemons_words),
        cmocka_unit_test(limits),
        cmocka_unit_test(control_bytes_stay_on_one_line),
        cmocka_unit_test(random_input),
    };

    return cmocka_run_group_tests_name("lend_spec", tests, NULL, NULL);
}
