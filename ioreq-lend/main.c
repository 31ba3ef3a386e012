/* SPDX-License-Identifier: MIT */
/*
 * ioreq-lend: give a Xen guest a PCI device whose memory BAR is a window
 * onto host memory, as an alternate ioreq server for one domain.
 *
 * Exit status: 0 when asked to stop or when the domain went away; 1 when
 * serving failed; 2 for bad input of any kind (command line, or a set-up the
 * host refuses), with one line saying why and nothing left behind.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "daemon.h"
#include "log.h"
#include "options.h"
#include "util.h"

#define EXIT_BAD_INPUT 2

static int write_pidfile(const char *path)
{
    char buf[32];
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    int n = snprintf(buf, sizeof(buf), "%d\n", (int)getpid());

    if (fd < 0)
        return -errno;
    if (write(fd, buf, (size_t)n) != n) {
        close(fd);
        unlink(path);
        return -EIO;
    }
    return close(fd) ? -errno : 0;
}

/* One line for the launcher: the server is enabled and the function claimed. */
static void announce_ready(const struct daemon *d)
{
    const struct dm_options *o = &d->opt;
    char line[160];
    int n;

    if (o->ready_fd < 0)
        return;
    n = snprintf(line, sizeof(line), "ready domid=%u server=%u bdf=%04x:%02x:%02x.%x mode=%s\n",
                 o->domid, d->srv.id, o->pci_seg, o->pci_bus, o->pci_dev, o->pci_fn,
                 lend_mode_name(d->mode));
    if (write(o->ready_fd, line, (size_t)n) != n)
        log_warn("cannot write to --ready-fd %d: %s", o->ready_fd, strerror(errno));
    close(o->ready_fd);
}

int main(int argc, char **argv)
{
    static struct daemon d; /* large; one per process */
    struct dm_options opt;
    char err[512], tag[48], size[32];
    sigset_t sigs;
    int rc, status;

    rc = options_parse(argc, argv, &opt, err, sizeof(err));
    if (rc == OPTIONS_EXIT)
        return 0;
    if (rc < 0) {
        fprintf(stderr, "ioreq-lend: %s (see --help)\n", err);
        return EXIT_BAD_INPUT;
    }
    if (opt.ready_fd >= 0 && fcntl(opt.ready_fd, F_GETFD) < 0) {
        fprintf(stderr, "ioreq-lend: --ready-fd %d is not an open file descriptor\n",
                opt.ready_fd);
        return EXIT_BAD_INPUT;
    }
    /*
     * Block the signals we handle until the event loop reads them from a
     * signalfd: a SIGTERM during set-up then waits, and teardown still runs.
     */
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGTERM);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGUSR1);
    sigaddset(&sigs, SIGHUP);
    sigprocmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    /*
     * The launchers give every daemon of a domain one log file: on stderr
     * each line names its function too. A syslog ident stays a word; syslog
     * adds the pid.
     */
    if (opt.log_syslog)
        snprintf(tag, sizeof(tag), "ioreq-lend[dom%u]", opt.domid);
    else
        snprintf(tag, sizeof(tag), "ioreq-lend[dom%u %04x:%02x:%02x.%x]", opt.domid, opt.pci_seg,
                 opt.pci_bus, opt.pci_dev, opt.pci_fn);
    log_set_tag(tag);
    log_set_level(opt.log_level);
    log_use_syslog(opt.log_syslog);

    rc = daemon_setup(&d, &opt, err, sizeof(err));
    if (rc) {
        log_err("%s", err);
        daemon_teardown(&d);
        return EXIT_BAD_INPUT;
    }
    if (opt.pidfile && (rc = write_pidfile(opt.pidfile))) {
        log_err("cannot write pidfile %s: %s", opt.pidfile, strerror(-rc));
        daemon_teardown(&d);
        return EXIT_BAD_INPUT;
    }
    if (opt.runas && (rc = drop_privileges(opt.runas, err, sizeof(err)))) {
        log_err("%s", err);
        daemon_teardown(&d);
        return EXIT_BAD_INPUT;
    }
    log_info("serving domain %u: PCI %04x:%02x:%02x.%x, BAR %s backed by %s, %s mode, "
             "ioreq server %u, %u vCPUs",
             opt.domid, opt.pci_seg, opt.pci_bus, opt.pci_dev, opt.pci_fn,
             format_size(d.opt.bar_size, size, sizeof(size)), d.backing.desc,
             lend_mode_name(d.mode), d.srv.id, d.srv.nr_vcpus);
    announce_ready(&d);

    status = daemon_run(&d);
    daemon_teardown(&d);
    if (opt.pidfile)
        unlink(opt.pidfile);
    log_info("exiting with status %d", status);
    return status;
}
