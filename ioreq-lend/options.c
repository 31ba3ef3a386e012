/* SPDX-License-Identifier: MIT */
/*
 * The command line. Every value is checked here, with a one-line message
 * naming the option, so the daemon never starts on a half-understood
 * configuration.
 */
#include "options.h"

#include "bar.h"
#include "backing.h"
#include "regions.h"
#include "util.h"

#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <string.h>

#ifndef IOREQ_LEND_VERSION
#define IOREQ_LEND_VERSION "unknown"
#endif

#define OPT_DEFAULT_DOMAIN_POLL_MS 1000
#define OPT_MIN_DOMAIN_POLL_MS     10
#define OPT_MAX_DOMAIN_POLL_MS     60000
/* fds 0, 1 and 2 are stdio: a readiness line there would be mistaken for output. */
#define OPT_MIN_READY_FD 3

/*
 * Long-only options have values above any char. The first one's low byte is
 * 0xff: a `char c = getopt_long(...)` would see -1 (signed char: parsing stops
 * early) or 255 (unsigned char); and the others would alias short options.
 * test_options parses every option followed by --domid to catch that.
 */
enum {
    OPT_DOMID = 0x1ff,
    OPT_BDF,
    OPT_BAR_SIZE,
    OPT_BACKING,
    OPT_MODE,
    OPT_VENDOR,
    OPT_DEVICE,
    OPT_SUBSYS,
    OPT_CLASS,
    OPT_LOG_LEVEL,
    OPT_SYSLOG,
    OPT_READY_FD,
    OPT_PIDFILE,
    OPT_STATS,
    OPT_RUNAS,
    OPT_PCI_SYSFS_PATH,
    OPT_STATE_DIR,
    OPT_FAULT_AROUND,
    OPT_WINDOW,
    OPT_ON_LOST,
    OPT_READAHEAD,
    OPT_EVICTION,
    OPT_DOMAIN_POLL_MS,
    OPT_CONTROL,
    OPT_MAX_REGIONS,
    OPT_DOMAIN_TYPE,
    OPT_HOST_BRIDGE,
    OPT_BAR_BASE,
    OPT_NO_XENSTORE,
};

static const struct option long_options[] = {
    {"domid", required_argument, NULL, OPT_DOMID},
    {"bdf", required_argument, NULL, OPT_BDF},
    {"bar-size", required_argument, NULL, OPT_BAR_SIZE},
    {"backing", required_argument, NULL, OPT_BACKING},
    {"mode", required_argument, NULL, OPT_MODE},
    {"vendor", required_argument, NULL, OPT_VENDOR},
    {"device", required_argument, NULL, OPT_DEVICE},
    {"subsys", required_argument, NULL, OPT_SUBSYS},
    {"class", required_argument, NULL, OPT_CLASS},
    {"log-level", required_argument, NULL, OPT_LOG_LEVEL},
    {"syslog", no_argument, NULL, OPT_SYSLOG},
    {"ready-fd", required_argument, NULL, OPT_READY_FD},
    {"pidfile", required_argument, NULL, OPT_PIDFILE},
    {"stats", required_argument, NULL, OPT_STATS},
    {"runas", required_argument, NULL, OPT_RUNAS},
    {"pci-sysfs-path", required_argument, NULL, OPT_PCI_SYSFS_PATH},
    {"state-dir", required_argument, NULL, OPT_STATE_DIR},
    {"fault-around", required_argument, NULL, OPT_FAULT_AROUND},
    {"window", required_argument, NULL, OPT_WINDOW},
    {"on-lost", required_argument, NULL, OPT_ON_LOST},
    {"readahead", required_argument, NULL, OPT_READAHEAD},
    {"eviction", required_argument, NULL, OPT_EVICTION},
    {"domain-poll-ms", required_argument, NULL, OPT_DOMAIN_POLL_MS},
    {"control", required_argument, NULL, OPT_CONTROL},
    {"max-regions", required_argument, NULL, OPT_MAX_REGIONS},
    {"domain-type", required_argument, NULL, OPT_DOMAIN_TYPE},
    {"host-bridge", no_argument, NULL, OPT_HOST_BRIDGE},
    {"bar-base", required_argument, NULL, OPT_BAR_BASE},
    {"no-xenstore", no_argument, NULL, OPT_NO_XENSTORE},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, 'V'},
    {NULL, 0, NULL, 0},
};

/*
 * '+': stop at the first non-option instead of permuting argv, which the
 * const in our prototype promises not to touch (and POSIXLY_CORRECT cannot
 * change the behaviour). ':': report a missing value as ':', not '?'.
 */
static const char short_options[] = "+:hV";

static const char *const mode_names[] = {
    [MODE_AUTO] = "auto",
    [MODE_EMULATE] = "emulate",
    [MODE_LEND] = "lend",
};

const char *lend_mode_name(enum lend_mode m)
{
    if ((unsigned int)m < ARRAY_SIZE(mode_names) && mode_names[m])
        return mode_names[m];
    return "unknown";
}

static const char *option_name(int val)
{
    for (const struct option *lo = long_options; lo->name; lo++) {
        if (lo->val == val)
            return lo->name;
    }
    return "?";
}

/*
 * IDs are hex whether or not they carry 0x: "--vendor 1234" is 0x1234, as
 * lspci prints it, never decimal 1234. 1 to maxdigits digits, nothing else.
 */
static int parse_hex(const char *s, unsigned int maxdigits, uint32_t *out)
{
    uint32_t v = 0;
    unsigned int n = 0;
    int d;

    if (s[0] == '0' && (s[1] == 'x' || s[1] == 'X'))
        s += 2;
    for (; (d = hex_digit(*s)) >= 0; s++) {
        if (++n > maxdigits)
            return -EINVAL;
        v = v * 16 + (uint32_t)d;
    }
    if (n == 0 || *s != '\0')
        return -EINVAL;
    *out = v;
    return 0;
}

/* A SIZE that must be a power of two within [min, max]. */
static int parse_pow2(const char *s, uint64_t min, uint64_t max, uint64_t *out)
{
    uint64_t v;

    if (parse_size(s, &v) || !is_power_of_2(v) || v < min || v > max)
        return -EINVAL;
    *out = v;
    return 0;
}

static int parse_string(const char *opt, const char *s, const char **out, char *err, size_t errlen)
{
    if (*s == '\0')
        return err_fmt(err, errlen, -EINVAL, "--%s: empty value", opt);
    *out = s;
    return 0;
}

/* The message for getopt's '?': an unknown or ambiguous option, or a value given to a flag. */
static int bad_option(int argc, char *const argv[], char *err, size_t errlen)
{
    char candidates[256] = "";
    const char *arg, *name;
    size_t len, used = 0;
    unsigned int matches = 0;

    /* optopt is the flag's value when "--syslog=1" gave a value to a flag. */
    if (optopt != 0) {
        for (const struct option *lo = long_options; lo->name; lo++) {
            if (lo->val == optopt)
                return err_fmt(err, errlen, -EINVAL, "option '--%s' takes no value", lo->name);
        }
        return err_fmt(err, errlen, -EINVAL, "unknown option '-%c'", optopt);
    }
    /* An unknown or ambiguous long option: getopt has stepped past it. */
    if (optind < 1 || optind > argc || !argv[optind - 1])
        return err_fmt(err, errlen, -EINVAL, "unknown option");
    arg = argv[optind - 1];
    name = strncmp(arg, "--", 2) == 0 ? arg + 2 : arg;
    len = strcspn(name, "=");
    for (const struct option *lo = long_options; lo->name; lo++) {
        if (len == 0 || strncmp(lo->name, name, len) != 0)
            continue;
        matches++;
        if (used < sizeof(candidates)) {
            int n = snprintf(candidates + used, sizeof(candidates) - used, "%s--%s",
                             used ? ", " : "", lo->name);
            used += n > 0 ? (size_t)n : 0;
        }
    }
    if (matches > 1)
        return err_fmt(err, errlen, -EINVAL, "ambiguous option '--%.*s' (%s)", (int)len, name,
                       candidates);
    return err_fmt(err, errlen, -EINVAL, "unknown option '--%.*s'", (int)len, name);
}

static void options_defaults(struct dm_options *o)
{
    memset(o, 0, sizeof(*o));
    o->pci_seg = 0;
    o->pci_bus = OPT_DEFAULT_BDF_BUS;
    o->pci_dev = OPT_DEFAULT_BDF_DEV;
    o->pci_fn = OPT_DEFAULT_BDF_FN;
    o->mode = MODE_AUTO;
    o->vendor_id = OPT_DEFAULT_VENDOR;
    o->device_id = OPT_DEFAULT_DEVICE;
    o->subsys_vendor_id = OPT_DEFAULT_VENDOR;
    o->subsys_id = OPT_DEFAULT_DEVICE;
    o->class_code = OPT_DEFAULT_CLASS;
    o->log_level = LOG_LVL_INFO;
    o->ready_fd = -1;
    o->on_lost = ON_LOST_ZERO;
    o->domain_poll_ms = OPT_DEFAULT_DOMAIN_POLL_MS;
    o->state_dir = OPT_DEFAULT_STATE_DIR;
    o->max_regions = REGIONS_DEFAULT_MAX;
}

/* What one --backing tells the cross-checks: the memfd size, or 0 for other kinds. */
static int parse_backing(const char *s, uint64_t *memfd_size, char *err, size_t errlen)
{
    struct backing_spec spec;
    char why[256];

    if (backing_parse(s, &spec, why, sizeof(why)))
        return err_fmt(err, errlen, -EINVAL, "--backing: %s", why);
    *memfd_size = spec.kind == BACKING_MEMFD ? spec.memfd_size : 0;
    return 0;
}

static int parse_one(int c, const char *arg, struct dm_options *o, bool *subsys_given,
                     bool *max_regions_given, uint64_t *memfd_size, char *err, size_t errlen)
{
    uint64_t v;
    uint32_t x, y;
    const char *colon;

    switch (c) {
    case OPT_DOMID:
        if (parse_u64(arg, OPT_MAX_DOMID, &v) || v == 0)
            return err_fmt(err, errlen, -EINVAL,
                           "--domid: '%s' is not a domain id between 1 and %u", arg, OPT_MAX_DOMID);
        o->domid = (uint32_t)v;
        return 0;
    case OPT_BDF:
        if (backing_parse_bdf(arg, &o->pci_seg, &o->pci_bus, &o->pci_dev, &o->pci_fn))
            return err_fmt(err, errlen, -EINVAL,
                           "--bdf: '%s' is not [SSSS:]BB:DD.F (hex, device <= 1f, function <= 7)",
                           arg);
        return 0;
    case OPT_BAR_SIZE:
        if (parse_pow2(arg, PCI_BAR_SIZE_MIN, PCI_BAR_SIZE_MAX, &o->bar_size))
            return err_fmt(err, errlen, -EINVAL,
                           "--bar-size: '%s' is not a power of two between 4K and 1T", arg);
        return 0;
    case OPT_BACKING:
        if (parse_backing(arg, memfd_size, err, errlen))
            return -EINVAL;
        o->backing = arg;
        return 0;
    case OPT_MODE:
        for (unsigned int i = 0; i < ARRAY_SIZE(mode_names); i++) {
            if (strcmp(arg, mode_names[i]) == 0) {
                o->mode = (enum lend_mode)i;
                return 0;
            }
        }
        return err_fmt(err, errlen, -EINVAL, "--mode: '%s' is not emulate, lend or auto", arg);
    case OPT_VENDOR:
        if (parse_hex(arg, 4, &x) || x == 0xffff)
            return err_fmt(err, errlen, -EINVAL,
                           "--vendor: '%s' is not a vendor id (hex, 0x0000 to 0xfffe: 0xffff "
                           "reads as no device)",
                           arg);
        o->vendor_id = (uint16_t)x;
        return 0;
    case OPT_DEVICE:
        if (parse_hex(arg, 4, &x))
            return err_fmt(err, errlen, -EINVAL,
                           "--device: '%s' is not a device id (hex, up to 0xffff)", arg);
        o->device_id = (uint16_t)x;
        return 0;
    case OPT_SUBSYS: {
        char vend[8];

        colon = strchr(arg, ':');
        if (!colon || (size_t)(colon - arg) >= sizeof(vend))
            return err_fmt(err, errlen, -EINVAL, "--subsys: '%s' is not VVVV:DDDD (hex)", arg);
        memcpy(vend, arg, (size_t)(colon - arg));
        vend[colon - arg] = '\0';
        if (parse_hex(vend, 4, &x) || parse_hex(colon + 1, 4, &y))
            return err_fmt(err, errlen, -EINVAL, "--subsys: '%s' is not VVVV:DDDD (hex)", arg);
        o->subsys_vendor_id = (uint16_t)x;
        o->subsys_id = (uint16_t)y;
        *subsys_given = true;
        return 0;
    }
    case OPT_CLASS:
        if (parse_hex(arg, 6, &x))
            return err_fmt(err, errlen, -EINVAL,
                           "--class: '%s' is not a class code (hex, up to 0xffffff)", arg);
        o->class_code = x;
        return 0;
    case OPT_LOG_LEVEL:
        if (log_level_parse(arg, &o->log_level))
            return err_fmt(err, errlen, -EINVAL,
                           "--log-level: '%s' is not error, warn, info or debug", arg);
        return 0;
    case OPT_SYSLOG:
        o->log_syslog = true;
        return 0;
    case OPT_NO_XENSTORE:
        o->no_xenstore = true;
        return 0;
    case OPT_READY_FD:
        if (parse_u64(arg, INT_MAX, &v) || v < OPT_MIN_READY_FD)
            return err_fmt(
                err, errlen, -EINVAL,
                "--ready-fd: '%s' is not an fd number of 3 or more (0, 1 and 2 are stdio)", arg);
        o->ready_fd = (int)v;
        return 0;
    case OPT_PIDFILE:
        return parse_string("pidfile", arg, &o->pidfile, err, errlen);
    case OPT_STATS:
        return parse_string("stats", arg, &o->stats_path, err, errlen);
    case OPT_RUNAS:
        return parse_string("runas", arg, &o->runas, err, errlen);
    case OPT_PCI_SYSFS_PATH:
        return parse_string("pci-sysfs-path", arg, &o->pci_sysfs_path, err, errlen);
    case OPT_STATE_DIR:
        return parse_string("state-dir", arg, &o->state_dir, err, errlen);
    case OPT_FAULT_AROUND:
        if (parse_pow2(arg, OPT_MIN_FAULT_AROUND, OPT_MAX_FAULT_AROUND, &o->fault_around))
            return err_fmt(err, errlen, -EINVAL,
                           "--fault-around: '%s' is not a power of two between 4K and 2M", arg);
        return 0;
    case OPT_WINDOW:
        if (parse_size(arg, &v) || v == 0 || v % XC_PAGE_SIZE)
            return err_fmt(err, errlen, -EINVAL,
                           "--window: '%s' is not a multiple of 4K (4K or more)", arg);
        o->window = v;
        return 0;
    case OPT_ON_LOST:
        if (strcmp(arg, "zero") == 0)
            o->on_lost = ON_LOST_ZERO;
        else if (strcmp(arg, "fault") == 0)
            o->on_lost = ON_LOST_FAULT;
        else
            return err_fmt(err, errlen, -EINVAL, "--on-lost: '%s' is not zero or fault", arg);
        return 0;
    case OPT_READAHEAD:
        if (strcmp(arg, "on") == 0)
            o->readahead_off = false;
        else if (strcmp(arg, "off") == 0)
            o->readahead_off = true;
        else
            return err_fmt(err, errlen, -EINVAL, "--readahead: '%s' is not on or off", arg);
        return 0;
    case OPT_EVICTION:
        if (evict_policy_parse(arg, &o->eviction))
            return err_fmt(err, errlen, -EINVAL, "--eviction: '%s' is not clock or tinylfu", arg);
        return 0;
    case OPT_DOMAIN_POLL_MS:
        if (parse_u64(arg, OPT_MAX_DOMAIN_POLL_MS, &v) || v < OPT_MIN_DOMAIN_POLL_MS)
            return err_fmt(err, errlen, -EINVAL, "--domain-poll-ms: '%s' is not between %u and %u",
                           arg, OPT_MIN_DOMAIN_POLL_MS, OPT_MAX_DOMAIN_POLL_MS);
        o->domain_poll_ms = (unsigned int)v;
        return 0;
    case OPT_CONTROL:
        return parse_string("control", arg, &o->control_path, err, errlen);
    case OPT_MAX_REGIONS:
        if (parse_u64(arg, REGIONS_MAX_MAX, &v) || v == 0)
            return err_fmt(err, errlen, -EINVAL, "--max-regions: '%s' is not between 1 and %u", arg,
                           REGIONS_MAX_MAX);
        o->max_regions = (unsigned int)v;
        *max_regions_given = true;
        return 0;
    case OPT_DOMAIN_TYPE:
        if (strcmp(arg, "hvm") == 0)
            o->domain_type = DOMAIN_HVM;
        else if (strcmp(arg, "pvh") == 0)
            o->domain_type = DOMAIN_PVH;
        else
            return err_fmt(err, errlen, -EINVAL, "--domain-type: '%s' is not hvm or pvh", arg);
        return 0;
    case OPT_HOST_BRIDGE:
        o->host_bridge = true;
        return 0;
    case OPT_BAR_BASE:
        if (parse_u64(arg, OPT_MAX_BAR_END - 1, &v) || v == 0 || v % XC_PAGE_SIZE)
            return err_fmt(err, errlen, -EINVAL,
                           "--bar-base: '%s' is not a page-aligned guest-physical address", arg);
        o->bar_base = v;
        return 0;
    default:
        /* An entry in long_options without a case here. */
        return err_fmt(err, errlen, -EINVAL, "option '--%s' is not handled", option_name(c));
    }
}

/* Rules between options, once all are known (repeated options: the last one counts). */
static int cross_check(struct dm_options *o, uint64_t memfd_size, bool max_regions_given, char *err,
                       size_t errlen)
{
    bool none = o->backing && strcmp(o->backing, "none") == 0;
    char a[32], b[32];
    uint64_t bar;

    if (o->domid == 0)
        return err_fmt(err, errlen, -EINVAL, "--domid is required");
    if (none && o->mode == MODE_LEND)
        return err_fmt(err, errlen, -EINVAL,
                       "--backing none is emulation only for now (lending its regions needs "
                       "lend_abi.h revision 3): use --mode emulate or auto");
    if (!none && (o->control_path || max_regions_given))
        return err_fmt(err, errlen, -EINVAL, "--%s needs --backing none",
                       o->control_path ? "control" : "max-regions");
    if (none && o->window)
        return err_fmt(err, errlen, -EINVAL, "--window is for lend mode, not --backing none");
    /* An empty window has no size of its own. */
    if (none && !o->bar_size)
        o->bar_size = OPT_DEFAULT_BAR_SIZE;
    if (memfd_size && o->bar_size && memfd_size < o->bar_size)
        return err_fmt(err, errlen, -EINVAL, "--backing memfd:%s is smaller than --bar-size %s",
                       format_size(memfd_size, a, sizeof(a)),
                       format_size(o->bar_size, b, sizeof(b)));
    if (memfd_size && !o->bar_size) {
        /* Without --bar-size the memfd's size is the BAR's, so it must be one. */
        if (!pci_bar_size_valid(memfd_size))
            return err_fmt(
                err, errlen, -EINVAL,
                "--backing memfd:%s: the BAR takes its size, which is not a power of two "
                "between 4K and 1T (give --bar-size)",
                format_size(memfd_size, a, sizeof(a)));
        o->bar_size = memfd_size;
    }
    /* The BAR size is known unless another backing will tell it when opened. */
    bar = o->bar_size ? o->bar_size : (o->backing ? 0 : OPT_DEFAULT_BAR_SIZE);
    if (o->window && bar && o->window > bar)
        return err_fmt(err, errlen, -EINVAL, "--window %s is larger than the %s BAR",
                       format_size(o->window, a, sizeof(a)), format_size(bar, b, sizeof(b)));
    if (o->domain_type != DOMAIN_PVH && (o->host_bridge || o->bar_base))
        return err_fmt(err, errlen, -EINVAL,
                       "--%s needs --domain-type pvh (on an HVM guest QEMU owns port 0xCF8 "
                       "and hvmloader places BARs)",
                       o->host_bridge ? "host-bridge" : "bar-base");
    if (o->host_bridge && o->pci_bus == 0 && o->pci_dev == 0 && o->pci_fn == 0)
        return err_fmt(err, errlen, -EINVAL, "--host-bridge: --bdf 00:00.0 is the host bridge's");
    if (o->bar_base && bar && (o->bar_base % bar || o->bar_base > OPT_MAX_BAR_END - bar))
        return err_fmt(err, errlen, -EINVAL,
                       "--bar-base 0x%llx is not aligned to the %s BAR, or the BAR would end "
                       "beyond 52 bits",
                       (unsigned long long)o->bar_base, format_size(bar, a, sizeof(a)));
    return 0;
}

static int parse_argv(int argc, char *const argv[], struct dm_options *o, char *err, size_t errlen)
{
    bool subsys_given = false, max_regions_given = false;
    uint64_t memfd_size = 0;
    int c, rc;

    options_defaults(o);
    /* glibc: 0 (not 1) also resets the state of a previous, unfinished scan. */
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, short_options, long_options, NULL)) != -1) {
        switch (c) {
        case 'h':
            options_usage(stdout);
            fflush(stdout);
            return OPTIONS_EXIT;
        case 'V':
            printf("ioreq-lend %s\n", IOREQ_LEND_VERSION);
            fflush(stdout);
            return OPTIONS_EXIT;
        case ':':
            return err_fmt(err, errlen, -EINVAL, "option '--%s' needs a value",
                           option_name(optopt));
        case '?':
            return bad_option(argc, argv, err, errlen);
        default:
            rc = parse_one(c, optarg, o, &subsys_given, &max_regions_given, &memfd_size, err,
                           errlen);
            if (rc)
                return rc;
            break;
        }
    }
    if (optind < argc)
        return err_fmt(err, errlen, -EINVAL, "unexpected argument '%s'", argv[optind]);
    if (!subsys_given) {
        o->subsys_vendor_id = o->vendor_id;
        o->subsys_id = o->device_id;
    }
    return cross_check(o, memfd_size, max_regions_given, err, errlen);
}

int options_parse(int argc, char *const argv[], struct dm_options *o, char *err, size_t errlen)
{
    int rc = parse_argv(argc, argv, o, err, errlen);

    /* One line, whatever the user typed into a value. */
    if (rc < 0 && err && errlen) {
        for (char *p = err; *p; p++) {
            if ((unsigned char)*p < 0x20 || *p == 0x7f)
                *p = '?';
        }
    }
    return rc;
}

void options_usage(FILE *out)
{
    fputs("Usage: ioreq-lend --domid N [OPTION]...\n"
          "\n"
          "Give Xen domain N a PCI device whose memory BAR is backed by host memory. The\n"
          "BAR is emulated (every access trapped and served from the backing) or lent\n"
          "(the backing pages mapped into the guest, so accesses run at memory speed).\n"
          "\n"
          "Device:\n"
          "  --domid N             the domain to serve, 1 to 32751 (required)\n"
          "  --bdf [SSSS:]BB:DD.F  the device's address in the guest, hex (default\n"
          "                        0000:00:1f.0)\n"
          "  --bar-size SIZE       BAR size, a power of two from 4K to 1T (default: the\n"
          "                        backing's size, else 256M)\n"
          "  --vendor 0xVVVV       vendor id, hex (default 0x5853, XenSource)\n"
          "  --device 0xDDDD       device id, hex (default 0x1e4d)\n"
          "  --subsys VVVV:DDDD    subsystem vendor and id, hex (default: the vendor and\n"
          "                        device ids)\n"
          "  --class 0xCCCCCC      class code, hex (default 0x058000, other memory\n"
          "                        controller)\n"
          "\n"
          "PVH guests (no QEMU, no firmware):\n"
          "  --domain-type TYPE    hvm or pvh (default hvm). pvh: the daemon places BAR 0\n"
          "                        and turns memory decoding on before the guest runs, as\n"
          "                        hvmloader does for an HVM guest\n"
          "  --bar-base ADDR       pvh: where BAR 0 goes, aligned to its size (default\n"
          "                        0xf0000000 if the BAR ends by 0xfc000000: right for\n"
          "                        guests with less than 3840 MiB; else required)\n"
          "  --host-bridge         pvh: also answer the conf1 address port 0xcf8 and a\n"
          "                        host bridge at 00:00.0, which a guest's kernel needs to\n"
          "                        use conf1. Exactly one daemon per guest: Xen routes a\n"
          "                        port to one ioreq server\n"
          "\n"
          "Memory:\n"
          "  --backing SPEC        the host memory behind the BAR (default: a memfd of the\n"
          "                        BAR size), one of:\n"
          "                          memfd:SIZE               anonymous shared memory\n"
          "                          file:PATH                a file or block device; it\n"
          "                                                   must hold the whole BAR\n"
          "                          pci:[SSSS:]BB:DD.F/barN  a host PCI device's memory\n"
          "                                                   BAR, N from 0 to 5\n"
          "                          fd:N                     an inherited fd (a dma-buf, a\n"
          "                                                   memfd), N 3 or more\n"
          "                          none                     an empty window that a\n"
          "                                                   backend fills at run time\n"
          "                                                   through the control socket\n"
          "  --mode MODE           emulate, lend or auto (default auto: lend if Xen and the\n"
          "                        kernel can, else emulate, with one warning)\n"
          "  --window SIZE         lend mode: bytes kept mapped into the guest at once, a\n"
          "                        multiple of 4K, no more than the BAR (default: the BAR)\n"
          "  --fault-around SIZE   lend mode: bytes mapped around a faulting page, a power\n"
          "                        of two from 4K to 2M (default: the daemon's choice)\n"
          "  --on-lost POLICY      when backing memory is lost: zero (map a zero-filled\n"
          "                        page, the guest goes on) or fault (the guest takes a\n"
          "                        fault) (default zero)\n"
          "  --control PATH        backing none: the control socket (default\n"
          "                        STATE_DIR/domN-SSSS:BB:DD.F.ctl, mode 0600)\n"
          "  --max-regions N       backing none: regions mapped at once, 1 to 65536\n"
          "                        (default 4096)\n"
          "  --readahead on|off    lend mode: a fault that continues a sequential stream\n"
          "                        maps more, doubling up to 2M (within the window);\n"
          "                        random access maps the fault-around (default on)\n"
          "  --eviction clock|tinylfu  lend mode: how a full window picks pages to unmap:\n"
          "                        tinylfu keeps the most used (accessed bits, a\n"
          "                        frequency filter), clock gives a second chance\n"
          "                        (default tinylfu; clock where the kernel cannot age)\n"
          "  --pci-sysfs-path DIR  where libpci finds PCI devices for pci: backings\n"
          "                        (default /sys/bus/pci; tests use a fake tree)\n"
          "\n"
          "Daemon:\n"
          "  --log-level LEVEL     error, warn, info or debug (default info)\n"
          "  --syslog              log to syslog (daemon facility), not stderr\n"
          "  --ready-fd N          tell the parent on fd N (3 or more: 0, 1 and 2 are\n"
          "                        stdio) once the device is being served\n"
          "  --pidfile PATH        write the daemon's process id to PATH\n"
          "  --state-dir DIR       where the lock claiming a domain's PCI slot lives\n"
          "                        (default " OPT_DEFAULT_STATE_DIR ")\n"
          "  --stats PATH          rewrite PATH periodically with counters, as JSON\n"
          "  --runas USER          drop privileges to USER once set up\n"
          "  --no-xenstore         do not record the daemon in xenstore (by default\n"
          "                        /local/domain/0/device-model/DOMID/ioreq-lend/BDF/)\n"
          "  --domain-poll-ms N    how often to check that the domain is alive, 10 to\n"
          "                        60000 ms (default 1000)\n"
          "  -h, --help            print this help and exit\n"
          "  -V, --version         print the version and exit\n"
          "\n"
          "SIZE is bytes, decimal or 0x hex, with an optional K, M, G or T suffix (powers\n"
          "of 1024): 4096, 64K, 256M, 0x10000000. The last of a repeated option counts.\n"
          "\n"
          "Exit status:\n"
          "  0  the domain went away or the daemon was asked to stop; --help, --version\n"
          "  1  a failure while serving the device\n"
          "  2  bad input, with one line saying which: a bad command line, or a set-up\n"
          "     the host refuses (no Xen, no permission, no such domain, the PCI slot\n"
          "     already claimed, a backing too small); nothing is left behind\n",
          out);
}
