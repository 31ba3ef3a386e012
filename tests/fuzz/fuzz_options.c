/* SPDX-License-Identifier: MIT */
/*
 * fuzz_options: options_parse() on an argv built from the input (arguments
 * separated by NUL bytes; argv[0] is "ioreq-lend"), called repeatedly in one
 * process as its header promises.
 *
 * Properties:
 *  - it returns OPTIONS_RUN, OPTIONS_EXIT or -EINVAL, nothing else;
 *  - an error is one non-empty line (no control character), within errlen;
 *  - parsing is repeatable: the same argv parsed again, after another parse
 *    in between, gives the same result (getopt state is reset);
 *  - an accepted command line holds values within the documented ranges
 *    (options.h, --help), strings that point into argv, a --backing that
 *    backing_parse() accepts;
 *  - every number is read as --help says: "decimal or 0x hex, with an optional
 *    K, M, G or T suffix" -- an independent strict parser of the last value
 *    given to each numeric option must agree with what was stored.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backing.h"
#include "fuzz_check.h"
#include "bar.h"
#include "options.h"
#include "strict_number.h"

#define MAX_ARGS 48

/* The long options and whether they take a value, as --help documents them (every one
 * of options.c's longopts: a missing one makes its prefixes look unknown here). */
static const struct {
    const char *name;
    bool value;
} documented[] = {
    {"domid", true},          {"bdf", true},          {"bar-size", true}, {"backing", true},
    {"mode", true},           {"vendor", true},       {"device", true},   {"subsys", true},
    {"class", true},          {"log-level", true},    {"syslog", false},  {"ready-fd", true},
    {"pidfile", true},        {"stats", true},        {"runas", true},    {"pci-sysfs-path", true},
    {"state-dir", true},      {"fault-around", true}, {"window", true},   {"on-lost", true},
    {"domain-poll-ms", true}, {"help", false},        {"version", false}, {"control", true},
    {"max-regions", true},    {"readahead", true},    {"eviction", true}, {"domain-type", true},
    {"host-bridge", false},   {"bar-base", true},     {"no-xenstore", false},
};
#define NDOC (sizeof(documented) / sizeof(documented[0]))

/* getopt_long's matching: the exact name, else a prefix of exactly one name. -1: none/ambiguous. */
static int match_long(const char *arg, size_t len)
{
    int found = -1;

    for (size_t i = 0; i < NDOC; i++) {
        if (strlen(documented[i].name) == len && strncmp(documented[i].name, arg, len) == 0)
            return (int)i;
    }
    for (size_t i = 0; i < NDOC; i++) {
        if (len && strncmp(documented[i].name, arg, len) == 0) {
            if (found >= 0)
                return -1;
            found = (int)i;
        }
    }
    return found;
}

/* The last value given to each option, by the rules of getopt_long with "+:hV". */
static void last_values(int argc, char **argv, const char *last[NDOC])
{
    for (size_t i = 0; i < NDOC; i++)
        last[i] = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        size_t len;
        int k;

        if (strcmp(a, "--") == 0 || a[0] != '-' || a[1] == '\0')
            return;
        if (a[1] != '-')
            continue; /* short options take no value */
        len = strcspn(a + 2, "=");
        k = match_long(a + 2, len);
        if (k < 0)
            return;
        if (a[2 + len] == '=') {
            last[k] = a + 3 + len;
        } else if (documented[k].value) {
            if (i + 1 >= argc)
                return;
            last[k] = argv[++i];
        }
    }
}

static bool points_into(const char *s, int argc, char **argv)
{
    for (int i = 0; i < argc; i++) {
        if (s >= argv[i] && s <= argv[i] + strlen(argv[i]))
            return true;
    }
    return false;
}

static void check_number(const char *opt, const char *text, uint64_t stored, bool size)
{
    uint64_t v;

    if (!text)
        return;
    if ((size ? strict_size(text, &v) : strict_u64(text, &v)) != 0)
        fuzz_fail("--%s '%s' was accepted, but it is not %s", opt, text,
                  size ? "a SIZE (decimal or 0x hex, K/M/G/T)" : "a number (decimal or 0x hex)");
    if (v != stored)
        fuzz_fail("--%s '%s' stored %llu, not %llu", opt, text, (unsigned long long)stored,
                  (unsigned long long)v);
}

static void check_accepted(const struct dm_options *o, int argc, char **argv)
{
    const char *last[NDOC];
    struct backing_spec spec;
    char why[256];
    uint64_t bar;

    if (o->domid < 1 || o->domid > OPT_MAX_DOMID)
        fuzz_fail("domid %u accepted", o->domid);
    if (o->pci_dev > 0x1f || o->pci_fn > 7)
        fuzz_fail("bdf %04x:%02x:%02x.%x accepted", o->pci_seg, o->pci_bus, o->pci_dev, o->pci_fn);
    if (o->bar_size && (o->bar_size & (o->bar_size - 1) || o->bar_size < PCI_BAR_SIZE_MIN ||
                        o->bar_size > PCI_BAR_SIZE_MAX))
        fuzz_fail("BAR size %llu accepted", (unsigned long long)o->bar_size);
    if (o->fault_around &&
        (o->fault_around & (o->fault_around - 1) || o->fault_around < OPT_MIN_FAULT_AROUND ||
         o->fault_around > OPT_MAX_FAULT_AROUND))
        fuzz_fail("fault-around %llu accepted", (unsigned long long)o->fault_around);
    bar = o->bar_size ? o->bar_size : (o->backing ? 0 : OPT_DEFAULT_BAR_SIZE);
    if (o->window && (o->window % 4096 || (bar && o->window > bar)))
        fuzz_fail("window %llu accepted with a BAR of %llu", (unsigned long long)o->window,
                  (unsigned long long)bar);
    if (o->class_code > 0xffffff || o->vendor_id == 0xffff)
        fuzz_fail("class 0x%x / vendor 0x%x accepted", o->class_code, o->vendor_id);
    if (o->ready_fd != -1 && o->ready_fd < 3)
        fuzz_fail("ready-fd %d accepted", o->ready_fd);
    if (o->domain_poll_ms < 10 || o->domain_poll_ms > 60000)
        fuzz_fail("domain-poll-ms %u accepted", o->domain_poll_ms);
    if ((unsigned int)o->mode > MODE_LEND || (unsigned int)o->on_lost > ON_LOST_FAULT ||
        (unsigned int)o->log_level > LOG_LVL_DEBUG)
        fuzz_fail("an enum out of range: mode %d on_lost %d log_level %d", (int)o->mode,
                  (int)o->on_lost, (int)o->log_level);
    if (!o->state_dir || !*o->state_dir)
        fuzz_fail("no state directory");
    {
        const char *strs[] = {
            o->backing,
            o->pidfile,
            o->stats_path,
            o->runas,
            o->pci_sysfs_path,
            strcmp(o->state_dir, OPT_DEFAULT_STATE_DIR) == 0 ? NULL : o->state_dir};

        for (size_t i = 0; i < sizeof(strs) / sizeof(strs[0]); i++) {
            if (strs[i] && (!*strs[i] || !points_into(strs[i], argc, argv)))
                fuzz_fail("a string option is empty or does not point into argv");
        }
    }
    if (o->backing && backing_parse(o->backing, &spec, why, sizeof(why)))
        fuzz_fail("--backing '%s' accepted, but backing_parse() refuses it: %s", o->backing, why);
    /* --backing none: emulation only, a BAR size, the only user of --control/--max-regions. */
    if (o->max_regions < 1 || o->max_regions > 65536)
        fuzz_fail("max-regions %u accepted", o->max_regions);
    if (o->control_path && (!*o->control_path || !points_into(o->control_path, argc, argv)))
        fuzz_fail("--control is empty or does not point into argv");
    if (o->backing && strcmp(o->backing, "none") == 0) {
        if (o->mode == MODE_LEND || !o->bar_size || o->window)
            fuzz_fail("--backing none accepted with mode lend, no BAR size or a window");
    } else if (o->control_path || o->max_regions != 4096) {
        fuzz_fail("--control or --max-regions accepted without --backing none");
    }

    last_values(argc, argv, last);
    check_number("domid", last[0], o->domid, false);
    if (last[2])
        check_number("bar-size", last[2], o->bar_size, true);
    check_number("ready-fd", last[11], (uint64_t)o->ready_fd, false);
    check_number("fault-around", last[17], o->fault_around, true);
    check_number("window", last[18], o->window, true);
    check_number("domain-poll-ms", last[20], o->domain_poll_ms, false);
}

static int parse(int argc, char **argv, struct dm_options *o, char *err, size_t errlen)
{
    int rc = options_parse(argc, argv, o, err, errlen);

    if (rc != OPTIONS_RUN && rc != OPTIONS_EXIT && rc != -EINVAL)
        fuzz_fail("options_parse returned %d", rc);
    if (rc == -EINVAL) {
        if (memchr(err, '\0', errlen) == NULL)
            fuzz_fail("the error message is not terminated within errlen");
        if (errlen > 1 && !err[0])
            fuzz_fail("an error without a message");
        if (!fuzz_one_line(err))
            fuzz_fail("the error message has a control character: %s", err);
    }
    return rc;
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* --help and --version print to stdout. */
    if (!freopen("/dev/null", "w", stdout))
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    static char *valid[] = {"ioreq-lend", "--domid", "3", "--bar-size", "1M", NULL};
    char *buf, *argv[MAX_ARGS + 2], *err;
    struct dm_options a, b, c;
    size_t errlen;
    int argc = 0, ra, rb;

    if (len == 0)
        return 0;
    /* First byte: the error buffer's size (1 to 256, or the usual 512). */
    errlen = data[0] == 0 ? 512 : data[0];
    data++;
    len--;
    buf = malloc(len + 1);
    err = malloc(errlen);
    if (!buf || !err)
        abort();
    memcpy(buf, data, len);
    buf[len] = '\0';
    argv[argc++] = "ioreq-lend";
    for (char *p = buf; argc < MAX_ARGS && p <= buf + len; p += strlen(p) + 1)
        argv[argc++] = p;
    argv[argc] = NULL;

    memset(&a, 0, sizeof(a));
    memset(&b, 0, sizeof(b));
    ra = parse(argc, argv, &a, err, errlen);
    if (ra == OPTIONS_RUN)
        check_accepted(&a, argc, argv);
    /* Another parse in between, then the same argv again: the same answer. */
    if (options_parse(5, valid, &c, err, errlen) != OPTIONS_RUN || c.domid != 3 ||
        c.bar_size != (1 << 20))
        fuzz_fail("a valid command line is refused after parsing another");
    rb = parse(argc, argv, &b, err, errlen);
    if (ra != rb || (ra == OPTIONS_RUN && memcmp(&a, &b, sizeof(a))))
        fuzz_fail("parsing the same argv twice gave %d then %d", ra, rb);
    free(err);
    free(buf);
    return 0;
}
