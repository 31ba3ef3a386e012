/* SPDX-License-Identifier: MIT */
/*
 * ioreq-lend-qemu: an xl device_model_override that starts ioreq-lend for
 * the domain, then becomes QEMU.
 *
 *   device_model_override = "/usr/local/libexec/ioreq-lend/ioreq-lend-qemu"
 *   device_model_args = [ "-ioreq-lend", "bdf=00:1f.0,size=8G,backing=...,mode=auto" ]
 *
 * libxl runs us with QEMU's whole command line, the device_model_args among
 * it, and fds of its own open (the QMP socket). We take our arguments out,
 * read the domain from -xen-domid, start one daemon per -ioreq-lend spec and
 * wait until each serves its device -- the domain is still paused, and
 * hvmloader must find the devices when it runs -- then exec QEMU in our
 * place (libxl talks to this pid) with the remaining arguments, in order,
 * and every inherited fd untouched. If anything fails we exit non-zero with
 * one line saying why, leaving nothing running, and xl create fails.
 *
 * Our messages go to stderr: under xl, the domain's device-model log
 * (/var/log/xen/qemu-dm-NAME.log). The daemons' go next to it, to
 * /var/log/xen/ioreq-lend-NAME.log, NAME from -name (launcher_common.h).
 */
#include <errno.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "launcher_common.h"
#include "lend_spawn.h"
#include "lend_spec.h"
#include "util.h"

#ifndef IOREQ_LEND_VERSION
#define IOREQ_LEND_VERSION "unknown"
#endif

/* What libxl itself runs on Debian 12 (package qemu-system-xen). */
#define DEFAULT_QEMU "/usr/libexec/xen-qemu-system-i386"
#define ENV_QEMU     "IOREQ_LEND_QEMU"

static const char prog[] = "ioreq-lend-qemu";

struct launch {
    const char *spec_text[LEND_SPAWN_MAX];
    size_t nspecs;
    const char *qemu, *daemon, *domid_text;
    const char *name; /* -name: the domain's, as libxl passes it */
    const char *log;  /* -ioreq-lend-log: the daemons' log file, or "off" */
    unsigned int timeout_ms;
    bool incoming;
    char **qargv; /* QEMU's argv: ours less the launcher's arguments */
    int qargc;
};

static void usage(FILE *out)
{
    fprintf(out,
            "Usage: %s QEMU-ARGUMENTS... [-ioreq-lend SPEC]... [-ioreq-lend-qemu PATH]\n"
            "           [-ioreq-lend-daemon PATH] [-ioreq-lend-timeout SECONDS]\n"
            "           [-ioreq-lend-log FILE|off]\n"
            "\n"
            "An xl device_model_override: starts one ioreq-lend per -ioreq-lend SPEC for\n"
            "the domain given by -xen-domid, waits until each is ready, then executes QEMU\n"
            "with the other arguments and the inherited file descriptors.\n"
            "\n"
            "  -ioreq-lend SPEC          a lent BAR, e.g. bdf=00:1f.0,size=8G,backing=memfd:8G\n"
            "                            (keys: see ioreq-lend(8), LEND SPECS); repeatable\n"
            "  -ioreq-lend-qemu PATH     the real QEMU (default $%s, else %s)\n"
            "  -ioreq-lend-daemon PATH   the daemon (default $%s, else ioreq-lend next\n"
            "                            to this program)\n"
            "  -ioreq-lend-timeout SECS  how long the daemons may take to be ready (default "
            "%u)\n"
            "  -ioreq-lend-log FILE|off  the daemons' stdout and stderr, appended to (default\n"
            "                            $%s/ioreq-lend-NAME.log, NAME from -name, rotated\n"
            "                            at each start as xl's qemu-dm logs; off: ours)\n"
            "\n"
            "Environment: %s, %s, %s (the daemons' default --state-dir),\n"
            "%s (default %s; off: no log file).\n"
            "Exit status (when QEMU was not executed): 1 a daemon or QEMU did not start,\n"
            "2 bad arguments or lend specs (nothing was started).\n",
            prog, ENV_QEMU, DEFAULT_QEMU, LAUNCHER_ENV_DAEMON, LEND_SPAWN_DEFAULT_TIMEOUT_MS / 1000,
            LAUNCHER_ENV_LOG_DIR, ENV_QEMU, LAUNCHER_ENV_DAEMON, LAUNCHER_ENV_STATE_DIR,
            LAUNCHER_ENV_LOG_DIR, LAUNCHER_LOG_DIR);
}

static int __attribute__((format(printf, 1, 2))) bad_input(const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    launcher_vsay(prog, fmt, ap);
    va_end(ap);
    return LAUNCHER_EXIT_BAD_INPUT;
}

/* QEMU accepts -opt and --opt alike; so do we. */
static const char *option_name(const char *arg)
{
    return arg[0] == '-' && arg[1] == '-' ? arg + 1 : arg;
}

/* Split argv into our arguments and QEMU's. Returns 0 or an exit status. */
static int split_args(int argc, char **argv, struct launch *l)
{
    l->qargv = calloc((size_t)argc + 1, sizeof(*l->qargv));
    if (!l->qargv)
        return bad_input("out of memory");
    l->qargc = 1; /* [0] is QEMU's path, filled in later */
    for (int i = 1; i < argc; i++) {
        const char *name = option_name(argv[i]);

        if (strncmp(name, "-ioreq-lend", 11) == 0) {
            const char *v = i + 1 < argc ? argv[i + 1] : NULL;

            if (strcmp(name, "-ioreq-lend") != 0 && strcmp(name, "-ioreq-lend-qemu") != 0 &&
                strcmp(name, "-ioreq-lend-daemon") != 0 &&
                strcmp(name, "-ioreq-lend-timeout") != 0 && strcmp(name, "-ioreq-lend-log") != 0)
                return bad_input("unknown option '%.64s' (see %s --help)", argv[i], prog);
            if (!v)
                return bad_input("'%s' needs a value", argv[i]);
            i++;
            if (strcmp(name, "-ioreq-lend") == 0) {
                if (l->nspecs == LEND_SPAWN_MAX)
                    return bad_input("more than %d -ioreq-lend specs (a domain has at most %d "
                                     "ioreq servers)",
                                     LEND_SPAWN_MAX, LEND_SPAWN_MAX);
                l->spec_text[l->nspecs++] = v;
            } else if (strcmp(name, "-ioreq-lend-qemu") == 0) {
                l->qemu = v;
            } else if (strcmp(name, "-ioreq-lend-daemon") == 0) {
                l->daemon = v;
            } else if (strcmp(name, "-ioreq-lend-log") == 0) {
                l->log = v;
            } else if (launcher_parse_timeout(v, &l->timeout_ms)) {
                return bad_input("-ioreq-lend-timeout: '%.32s' is not a number of seconds from 1 "
                                 "to 3600",
                                 v);
            }
            continue;
        }
        if (strcmp(name, "-xen-domid") == 0 && i + 1 < argc)
            l->domid_text = argv[i + 1];
        else if (strcmp(name, "-name") == 0 && i + 1 < argc)
            l->name = argv[i + 1];
        else if (strcmp(name, "-incoming") == 0)
            l->incoming = true;
        l->qargv[l->qargc++] = argv[i];
    }
    l->qargv[l->qargc] = NULL;
    return 0;
}

static int parse_specs(const struct launch *l, struct lend_spec *specs)
{
    struct lend_spec_env env = {.state_dir = getenv(LAUNCHER_ENV_STATE_DIR)};
    char err[512];
    uint64_t domid;

    if (!l->domid_text)
        return bad_input("no -xen-domid among the arguments: run me as an xl "
                         "device_model_override, or give -xen-domid N");
    if (parse_u64(l->domid_text, OPT_MAX_DOMID, &domid) || domid == 0)
        return bad_input("-xen-domid: '%.32s' is not a domain id between 1 and %u", l->domid_text,
                         OPT_MAX_DOMID);
    if (l->incoming)
        return bad_input("-incoming: restoring or migrating a domain with a lent BAR is not "
                         "supported (its device state is not saved)");
    env.domid = (uint32_t)domid;
    if (lend_specs_parse(l->spec_text, l->nspecs, &env, specs, err, sizeof(err)))
        return bad_input("%s", err);
    return 0;
}

static int run(int argc, char **argv)
{
    struct launch l = {0};
    struct lend_spec specs[LEND_SPAWN_MAX];
    struct lend_group g = {.prog = prog, .log_fd = -1};
    char daemon[PATH_MAX], err[768], log_path[PATH_MAX];
    const char *env_qemu = getenv(ENV_QEMU);
    int rc;

    rc = split_args(argc, argv, &l);
    if (rc)
        goto out;
    l.qemu = l.qemu ? l.qemu : (env_qemu && *env_qemu ? env_qemu : DEFAULT_QEMU);
    l.qargv[0] = (char *)(uintptr_t)l.qemu;
    if (l.nspecs == 0) {
        /* Nothing to lend: be QEMU. */
        execv(l.qemu, l.qargv);
        fprintf(stderr, "%s: cannot execute QEMU %s: %s\n", prog, l.qemu, strerror(errno));
        rc = LAUNCHER_EXIT_FAILED;
        goto out;
    }
    rc = parse_specs(&l, specs);
    if (rc)
        goto out;
    rc = LAUNCHER_EXIT_FAILED;
    if (access(l.qemu, X_OK) < 0) {
        fprintf(stderr, "%s: cannot execute QEMU %s: %s (give -ioreq-lend-qemu PATH)\n", prog,
                l.qemu, strerror(errno));
        goto out_specs;
    }
    if (launcher_daemon_path(l.daemon, daemon, sizeof(daemon), err, sizeof(err))) {
        fprintf(stderr, "%s: %s\n", prog, err);
        goto out_specs;
    }
    g.daemon_path = daemon;
    g.timeout_ms = l.timeout_ms;
    g.log_fd = launcher_open_domain_log(prog, l.log, l.name, log_path, sizeof(log_path));
    g.log_path = log_path;
    fprintf(stderr, "%s: domain %s: starting %zu ioreq-lend%s%s\n", prog, l.domid_text, l.nspecs,
            g.log_fd >= 0 ? ", logging to " : "", g.log_fd >= 0 ? log_path : "");
    rc = lend_spawn_start(&g, specs, l.nspecs, err, sizeof(err));
    /* The daemons have it as their stdout and stderr; QEMU gets nothing of ours. */
    if (g.log_fd >= 0)
        close(g.log_fd);
    g.log_fd = -1;
    if (rc) {
        fprintf(stderr, "%s: %s; nothing is left running\n", prog, err);
        rc = LAUNCHER_EXIT_FAILED;
        goto out_specs;
    }
    lend_spawn_detach(&g);
    for (size_t i = 0; i < l.nspecs; i++)
        lend_spec_free(&specs[i]);
    fprintf(stderr, "%s: executing %s\n", prog, l.qemu);
    execv(l.qemu, l.qargv);
    fprintf(stderr, "%s: cannot execute QEMU %s: %s; stopping the daemons\n", prog, l.qemu,
            strerror(errno));
    lend_spawn_stop(&g);
    rc = LAUNCHER_EXIT_FAILED;
    goto out;
out_specs:
    for (size_t i = 0; i < l.nspecs; i++)
        lend_spec_free(&specs[i]);
out:
    free(l.qargv);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc == 2 && (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0)) {
        usage(stdout);
        return 0;
    }
    if (argc == 2 && strcmp(argv[1], "--version") == 0) {
        printf("%s %s\n", prog, IOREQ_LEND_VERSION);
        return 0;
    }
    return run(argc, argv);
}
