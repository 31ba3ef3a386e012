/* SPDX-License-Identifier: MIT */
/*
 * ioreq-lend-xl-create: `xl create` for a guest whose lent BARs are not
 * started by a QEMU (PVH guests have none), read from its own xl config:
 *
 *   ioreq_lend = [ "bdf=00:1f.0,size=1G,backing=memfd:1G,mode=auto" ]
 *
 * It runs `xl create -p CONFIG [KEY=VALUE...]` (the domain is created
 * paused), `xl domid NAME`, starts one ioreq-lend per spec and waits until
 * each serves its device, then `xl unpause`s the domain. If anything fails it
 * destroys the domain, says why in one line and exits non-zero: a guest never
 * runs without its devices. The specs are checked before xl runs.
 *
 * xl ignores keys it does not know, so ioreq_lend sits in the guest's config
 * next to everything else (the config is parsed here with libxlutil, xl's own
 * parser). The systemd unit ioreq-lend@.service runs this program.
 *
 * The daemons log to /var/log/xen/ioreq-lend-NAME.log, where xl users find
 * the device-model logs of other guests (launcher_common.h), not to our
 * stderr: we leave, they stay, and a terminal would take their lines along.
 */
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <libxlutil.h>

#include "launcher_common.h"
#include "lend_spawn.h"
#include "lend_spec.h"
#include "util.h"

#ifndef IOREQ_LEND_VERSION
#define IOREQ_LEND_VERSION "unknown"
#endif

#define ENV_XL     "IOREQ_LEND_XL"
#define DEFAULT_XL "xl"
#define SPEC_KEY   "ioreq_lend"
#define MAX_EXTRA  64

static const char prog[] = "ioreq-lend-xl-create";

struct create {
    const char *config;
    const char *extra[MAX_EXTRA]; /* KEY=VALUE for xl create */
    size_t nextra;
    const char *xl, *daemon;
    const char *log; /* --log: the daemons' log file, or "off" */
    unsigned int timeout_ms;
    bool paused;
    bool attach; /* the domain exists, paused (libvirt): serve it, leave it paused */

    XLU_Config *cfg;
    const char *name;
    enum domain_type type; /* type = "pvh": the daemons serve a PVH guest */
    uint64_t ram_end;      /* PVH: 4 GiB + maxmem (or memory): BARs go above */
    bool no_memory;        /* PVH without a valid memory = */
    bool no_pci_scan;      /* PVH: a Linux kernel would not scan bus 0 (read_type()) */
    const char *spec_text[LEND_SPAWN_MAX];
    size_t nspecs;
    struct lend_spec specs[LEND_SPAWN_MAX];
    uint32_t domid;
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: %s [OPTION]... CONFIG [KEY=VALUE]...\n"
            "\n"
            "Create the Xen guest of CONFIG with the lent BARs its `%s = [ SPEC, ... ]'\n"
            "list describes: xl create -p, one ioreq-lend per SPEC (each ready before going\n"
            "on), xl unpause. On any failure the domain is destroyed. KEY=VALUE pairs are\n"
            "passed to xl create (and read here too, as xl reads them).\n"
            "\n"
            "  -p, --paused           leave the domain paused, as xl create -p does\n"
            "  --attach               do not create: CONFIG's domain exists and is paused\n"
            "                         (virsh start --paused, from libvirt's started hook):\n"
            "                         start its daemons and leave it paused; on failure stop\n"
            "                         them and exit 1 (the hook's caller destroys it)\n"
            "  --timeout SECONDS      how long the daemons may take to be ready (default %u)\n"
            "  --daemon PATH          the ioreq-lend binary (default $%s, else ioreq-lend\n"
            "                         next to this program)\n"
            "  --xl PATH              the xl command (default $%s, else %s from PATH)\n"
            "  --log FILE|off         the daemons' stdout and stderr, appended to (default\n"
            "                         $%s/ioreq-lend-NAME.log, NAME the config's name,\n"
            "                         rotated at each start as xl's logs; off: ours)\n"
            "  -h, --help             print this help and exit\n"
            "  -V, --version          print the version and exit\n"
            "\n"
            "SPEC: see ioreq-lend(8), LEND SPECS. %s sets the daemons' default --state-dir,\n"
            "%s their log's directory (default %s; off: no log file).\n"
            "Exit status: 0 the guest runs (or waits, with -p) with its devices; 1 xl or a\n"
            "daemon failed (the domain was destroyed); 2 bad arguments, config or specs\n"
            "(nothing was created).\n",
            prog, SPEC_KEY, LEND_SPAWN_DEFAULT_TIMEOUT_MS / 1000, LAUNCHER_ENV_DAEMON, ENV_XL,
            DEFAULT_XL, LAUNCHER_ENV_LOG_DIR, LAUNCHER_ENV_STATE_DIR, LAUNCHER_ENV_LOG_DIR,
            LAUNCHER_LOG_DIR);
}

static int __attribute__((format(printf, 2, 3))) say(int status, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    launcher_vsay(prog, fmt, ap);
    va_end(ap);
    return status;
}

/* Run xl with args (NULL-terminated, without "xl"). Returns its exit status, or 127/128+sig. */
static int run_xl(const struct create *c, const char *const *args, char *out, size_t outlen)
{
    const char *argv[MAX_EXTRA + 8];
    int pfd[2] = {-1, -1}, st;
    size_t n = 0, used = 0;
    pid_t pid;

    argv[n++] = c->xl;
    for (size_t i = 0; args[i] && n < ARRAY_SIZE(argv) - 1; i++)
        argv[n++] = args[i];
    argv[n] = NULL;
    if (out && pipe2(pfd, O_CLOEXEC) < 0)
        return say(127, "pipe: %s", strerror(errno));
    fflush(NULL);
    pid = fork();
    if (pid == 0) {
        if (out)
            dup2(pfd[1], 1);
        execvp(c->xl, (char *const *)(uintptr_t)argv);
        dprintf(2, "%s: cannot run %s: %s\n", prog, c->xl, strerror(errno));
        _exit(127);
    }
    if (out)
        close(pfd[1]);
    if (pid < 0) {
        if (out)
            close(pfd[0]);
        return say(127, "fork: %s", strerror(errno));
    }
    if (out) {
        ssize_t r;

        while (used + 1 < outlen &&
               ((r = read(pfd[0], out + used, outlen - 1 - used)) > 0 || (r < 0 && errno == EINTR)))
            used += r > 0 ? (size_t)r : 0;
        out[used] = '\0';
        close(pfd[0]);
    }
    while (waitpid(pid, &st, 0) < 0) {
        if (errno != EINTR)
            return 127;
    }
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + (WIFSIGNALED(st) ? WTERMSIG(st) : 0);
}

static int destroy_domain(const struct create *c)
{
    char id[16];
    const char *args[] = {"destroy", id, NULL};

    snprintf(id, sizeof(id), "%u", c->domid);
    return run_xl(c, args, NULL, 0);
}

static int parse_args(int argc, char **argv, struct create *c)
{
    /* clang-format off */
    static const struct option longopts[] = {
        {"paused", no_argument, NULL, 'p'},
        {"attach", no_argument, NULL, 'a'},
        {"timeout", required_argument, NULL, 't'},
        {"daemon", required_argument, NULL, 'd'},
        {"xl", required_argument, NULL, 'x'},
        {"log", required_argument, NULL, 'l'},
        {"help", no_argument, NULL, 'h'},
        {"version", no_argument, NULL, 'V'},
        {NULL, 0, NULL, 0},
    };
    /* clang-format on */
    int o;

    opterr = 0;
    while ((o = getopt_long(argc, argv, "+:phV", longopts, NULL)) != -1) {
        switch (o) {
        case 'p':
            c->paused = true;
            break;
        case 'a':
            c->attach = true;
            break;
        case 't':
            if (launcher_parse_timeout(optarg, &c->timeout_ms))
                return say(LAUNCHER_EXIT_BAD_INPUT,
                           "--timeout: '%.32s' is not a number of seconds from 1 to 3600", optarg);
            break;
        case 'd':
            c->daemon = optarg;
            break;
        case 'x':
            c->xl = optarg;
            break;
        case 'l':
            c->log = optarg;
            break;
        case 'h':
            usage(stdout);
            return -1;
        case 'V':
            printf("%s %s\n", prog, IOREQ_LEND_VERSION);
            return -1;
        case ':':
            return say(LAUNCHER_EXIT_BAD_INPUT, "option '%s' needs a value", argv[optind - 1]);
        default:
            return say(LAUNCHER_EXIT_BAD_INPUT,
                       "unknown option '%.64s' (xl create's -c, -V... are not supported: run "
                       "xl console after)",
                       argv[optind - 1]);
        }
    }
    if (optind >= argc)
        return say(LAUNCHER_EXIT_BAD_INPUT, "no CONFIG given (see --help)");
    c->config = argv[optind++];
    for (; optind < argc; optind++) {
        if (!strchr(argv[optind], '='))
            return say(LAUNCHER_EXIT_BAD_INPUT, "'%.64s' is not KEY=VALUE", argv[optind]);
        if (c->nextra == MAX_EXTRA)
            return say(LAUNCHER_EXIT_BAD_INPUT, "more than %d KEY=VALUE arguments", MAX_EXTRA);
        c->extra[c->nextra++] = argv[optind];
    }
    return 0;
}

/*
 * Whether the PVH DSDT of the libxl this process (and so the xl it runs)
 * loads describes a PCI root: upstream/xen's patch 8 adds one. libxl exports
 * the table as dsdt_pvh; AML encodes EisaId("PNP0A03") as the DWordConst
 * 0C 41 D0 0A 03.
 */
static bool pvh_dsdt_has_pci_root(void)
{
    static const unsigned char pnp0a03[] = {0x0c, 0x41, 0xd0, 0x0a, 0x03};
    const unsigned char *aml = dlsym(RTLD_DEFAULT, "dsdt_pvh");
    const unsigned int *len = dlsym(RTLD_DEFAULT, "dsdt_pvh_len");

    return aml && len && memmem(aml, *len, pnp0a03, sizeof(pnp0a03)) != NULL;
}

/*
 * The guest's type and memory, as xl reads them. PVH: the daemons place the
 * BARs above 4 GiB + maxmem, which no RAM reaches (libxl puts RAM below
 * 0xFC000000 and the rest from 4 GiB up). With ACPI, Linux 6.1 scans bus 0
 * of a PVH guest only if the DSDT has a PCI root, which libxl 4.17's has not
 * (acpi = 0 is ignored for PVH; tests/e2e-xen/README.md): warn unless libxl
 * carries upstream/xen's patch 8 or the kernel's command line says pci=noacpi
 * or acpi=off.
 */
static void read_type(struct create *c)
{
    const char *type = NULL, *cmdline = NULL;
    long mem = 0, maxmem = 0;

    if (xlu_cfg_get_string(c->cfg, "type", &type, 0) || strcmp(type, "pvh") != 0)
        return;
    c->type = DOMAIN_PVH;
    if (xlu_cfg_get_string(c->cfg, "cmdline", &cmdline, 0))
        xlu_cfg_get_string(c->cfg, "extra", &cmdline, 0);
    c->no_pci_scan = !pvh_dsdt_has_pci_root() &&
                     (!cmdline || (!strstr(cmdline, "pci=noacpi") && !strstr(cmdline, "acpi=off")));
    if (xlu_cfg_get_long(c->cfg, "memory", &mem, 0) || mem <= 0 || mem > (1L << 30)) {
        /* Said once the specs were checked: a bad spec is the first thing to fix. */
        c->no_memory = true;
        return;
    }
    if (!xlu_cfg_get_long(c->cfg, "maxmem", &maxmem, 0) && maxmem > mem && maxmem <= (1L << 30))
        mem = maxmem;
    c->ram_end = (4ULL << 30) + ((uint64_t)mem << 20);
}

/* Read CONFIG (and the KEY=VALUE overrides, as xl does), its name and specs. */
static int read_config(struct create *c)
{
    XLU_ConfigList *list;
    int n, rc;

    /* libxlutil would say "unable to open configuration file: Success". */
    if (access(c->config, R_OK) < 0)
        return say(LAUNCHER_EXIT_BAD_INPUT, "cannot read %s: %s", c->config, strerror(errno));
    c->cfg = xlu_cfg_init(stderr, c->config);
    if (!c->cfg)
        return say(LAUNCHER_EXIT_BAD_INPUT, "out of memory");
    rc = xlu_cfg_readfile(c->cfg, c->config);
    if (rc)
        return say(LAUNCHER_EXIT_BAD_INPUT, "cannot read %s: %s", c->config, strerror(rc));
    for (size_t i = 0; i < c->nextra; i++) {
        rc = xlu_cfg_readdata(c->cfg, c->extra[i], (int)strlen(c->extra[i]));
        if (rc)
            return say(LAUNCHER_EXIT_BAD_INPUT, "cannot parse '%.64s': %s", c->extra[i],
                       strerror(rc));
    }
    if (xlu_cfg_get_string(c->cfg, "name", &c->name, 0))
        return say(LAUNCHER_EXIT_BAD_INPUT, "%s: no name = \"...\"", c->config);
    read_type(c);
    if (xlu_cfg_get_list(c->cfg, SPEC_KEY, &list, &n, 0) || n <= 0)
        return say(LAUNCHER_EXIT_BAD_INPUT,
                   "%s: no %s = [ \"SPEC\", ... ] list: nothing to lend (use xl create)", c->config,
                   SPEC_KEY);
    if (n > LEND_SPAWN_MAX)
        return say(LAUNCHER_EXIT_BAD_INPUT, "%s: %d lend specs, at most %d", c->config, n,
                   LEND_SPAWN_MAX);
    for (int i = 0; i < n; i++) {
        c->spec_text[i] = xlu_cfg_get_listitem(list, i);
        if (!c->spec_text[i])
            return say(LAUNCHER_EXIT_BAD_INPUT, "%s: %s[%d] is not a string", c->config, SPEC_KEY,
                       i);
    }
    c->nspecs = (size_t)n;
    return 0;
}

/* Parse every spec for domid (1 for a check before the domain exists). */
static int parse_specs(struct create *c, uint32_t domid)
{
    struct lend_spec_env env = {.domid = domid,
                                .state_dir = getenv(LAUNCHER_ENV_STATE_DIR),
                                .domain_type = c->type,
                                .pvh_ram_end = c->ram_end};
    char err[512];

    for (size_t i = 0; i < c->nspecs; i++)
        lend_spec_free(&c->specs[i]);
    if (lend_specs_parse(c->spec_text, c->nspecs, &env, c->specs, err, sizeof(err)))
        return say(LAUNCHER_EXIT_BAD_INPUT, "%s: %s", c->config, err);
    return 0;
}

/* The id of the domain named in CONFIG, from xl domid; 0 if there is none. */
static uint32_t lookup_domid(const struct create *c, int *rc)
{
    const char *args[] = {"domid", c->name, NULL};
    char out[64];
    uint64_t v;

    *rc = run_xl(c, args, out, sizeof(out));
    out[strcspn(out, "\n")] = '\0';
    return *rc || parse_u64(out, OPT_MAX_DOMID, &v) ? 0 : (uint32_t)v;
}

static int create_paused(struct create *c)
{
    const char *args[MAX_EXTRA + 4];
    size_t n = 0;
    int rc;

    args[n++] = "create";
    args[n++] = "-p";
    args[n++] = c->config;
    for (size_t i = 0; i < c->nextra; i++)
        args[n++] = c->extra[i];
    args[n] = NULL;
    rc = run_xl(c, args, NULL, 0);
    if (rc)
        return say(LAUNCHER_EXIT_FAILED, "xl create -p %s failed (exit status %d)", c->config, rc);
    c->domid = lookup_domid(c, &rc);
    if (!c->domid)
        return say(LAUNCHER_EXIT_FAILED,
                   "xl domid %s failed (exit status %d): the domain was created but its id is "
                   "unknown: destroy it with xl destroy %s",
                   c->name, rc, c->name);
    return 0;
}

/*
 * --attach: the domain must exist and be paused, or its guest could run
 * before its devices are served. xl list's state column: "--p---" when paused.
 */
static int find_paused_domain(struct create *c)
{
    char id[16], out[512], state[16] = "";
    const char *args[] = {"list", id, NULL};
    const char *line;
    int rc;

    c->domid = lookup_domid(c, &rc);
    if (!c->domid)
        return say(LAUNCHER_EXIT_FAILED, "--attach: no domain %s (xl domid: exit status %d)",
                   c->name, rc);
    snprintf(id, sizeof(id), "%u", c->domid);
    rc = run_xl(c, args, out, sizeof(out));
    line = strchr(out, '\n');
    if (rc || !line || sscanf(line + 1, "%*s %*s %*s %*s %15s", state) != 1)
        return say(LAUNCHER_EXIT_FAILED, "--attach: xl list %u failed (exit status %d)",
                   c->domid, rc);
    if (strlen(state) < 3 || state[2] != 'p')
        return say(LAUNCHER_EXIT_FAILED,
                   "--attach: domain %s (%u) is not paused (state %s): its devices must be "
                   "served before it runs (virsh start --paused)",
                   c->name, c->domid, state);
    return 0;
}

static int run(struct create *c)
{
    struct lend_group g = {.prog = prog, .log_fd = -1};
    char daemon[PATH_MAX], err[768], id[16], log_path[PATH_MAX];
    const char *unpause_args[] = {"unpause", id, NULL};
    int rc;

    rc = read_config(c);
    if (rc == 0)
        rc = parse_specs(c, 1);
    if (rc == 0 && c->no_memory)
        rc = say(LAUNCHER_EXIT_BAD_INPUT,
                 "%s: type = \"pvh\" needs memory = MiB (the BARs go above the guest's RAM)",
                 c->config);
    if (rc)
        return rc;
    if (c->no_pci_scan)
        fprintf(stderr,
                "%s: warning: %s: this libxl gives PVH guests no PCI root, so Linux scans PCI "
                "only with pci=noacpi (or acpi=off) on its command line: without it, it will "
                "not see the devices (see ioreq-lend(8), PVH GUESTS)\n",
                prog, c->config);
    if (launcher_daemon_path(c->daemon, daemon, sizeof(daemon), err, sizeof(err)))
        return say(LAUNCHER_EXIT_FAILED, "%s", err);
    rc = c->attach ? find_paused_domain(c) : create_paused(c);
    if (rc)
        return rc;
    snprintf(id, sizeof(id), "%u", c->domid);
    rc = parse_specs(c, c->domid);
    if (rc) { /* cannot happen: the same specs parsed for domain 1 */
        if (!c->attach)
            destroy_domain(c);
        return rc;
    }
    g.daemon_path = daemon;
    g.timeout_ms = c->timeout_ms;
    g.log_fd = launcher_open_domain_log(prog, c->log, c->name, log_path, sizeof(log_path));
    g.log_path = log_path;
    fprintf(stderr, "%s: domain %s (%u): starting %zu ioreq-lend%s%s\n", prog, c->name, c->domid,
            c->nspecs, g.log_fd >= 0 ? ", logging to " : "", g.log_fd >= 0 ? log_path : "");
    rc = lend_spawn_start(&g, c->specs, c->nspecs, err, sizeof(err));
    /* The daemons have it as their stdout and stderr; xl needs none of it. */
    if (g.log_fd >= 0)
        close(g.log_fd);
    g.log_fd = -1;
    if (rc) {
        if (c->attach)
            return say(LAUNCHER_EXIT_FAILED, "%s", err);
        say(0, "%s; destroying domain %u", err, c->domid);
        destroy_domain(c);
        return LAUNCHER_EXIT_FAILED;
    }
    lend_spawn_detach(&g);
    if (c->attach) {
        fprintf(stderr, "%s: domain %s (%u) is paused with its devices: virsh resume %s\n",
                prog, c->name, c->domid, c->name);
        return 0;
    }
    if (c->paused) {
        fprintf(stderr, "%s: domain %s (%u) is paused with its devices: xl unpause %u\n", prog,
                c->name, c->domid, c->domid);
        return 0;
    }
    rc = run_xl(c, unpause_args, NULL, 0);
    if (rc) {
        say(0, "xl unpause %u failed (exit status %d); destroying the domain", c->domid, rc);
        destroy_domain(c);
        lend_spawn_stop(&g);
        return LAUNCHER_EXIT_FAILED;
    }
    fprintf(stderr, "%s: domain %s (%u) is running\n", prog, c->name, c->domid);
    return 0;
}

int main(int argc, char **argv)
{
    static struct create c;
    const char *env_xl = getenv(ENV_XL);
    int rc;

    c.xl = env_xl && *env_xl ? env_xl : DEFAULT_XL;
    rc = parse_args(argc, argv, &c);
    if (rc)
        return rc < 0 ? 0 : rc;
    rc = run(&c);
    for (size_t i = 0; i < c.nspecs; i++)
        lend_spec_free(&c.specs[i]);
    if (c.cfg)
        xlu_cfg_destroy(c.cfg);
    return rc;
}
