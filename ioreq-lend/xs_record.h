/* SPDX-License-Identifier: MIT */
/*
 * The daemon's record in xenstore, where Xen's tools look for device models:
 *
 *   /local/domain/0/device-model/DOMID/ioreq-lend/SSSS-BB-DD-F/
 *       (the function's address with '-' for ':' and '.', which xenstored
 *       refuses in paths)
 *       pid    the daemon's pid
 *       state  "running" (QEMU's device-model/DOMID/state says the same of QEMU)
 *       mode   "lend" or "emulate"
 *       stats  the --stats file, if any (what ioreq-lend-top reads)
 *
 * Why there: dom0's device-model/DOMID directory is where libxl and QEMU
 * keep a device model's state for the domain (QEMU writes its "state"
 * there); a subdirectory of our own per PCI function leaves QEMU's keys alone
 * and lets several daemons serve one domain. varstored writes only its pid,
 * to /local/domain/DOMID/varstored-pid, a path the guest can read: ours
 * stays in dom0's tree, which the guest cannot.
 *
 * Who writes it: a small process of its own (the record keeper, forked before
 * the Xen handles are opened, so it holds none of them). The daemon restricts
 * its handles and may drop root; libxenstore cannot be restricted (xentoolcore
 * makes a handle unusable instead), and a dom0 xenstore connection left open
 * in a process that parses guest input could rewrite any domain's
 * configuration. The keeper reads the record's content from a socket, writes
 * it, and removes it when the socket closes: at the daemon's clean exit, after
 * its domain died, after SIGTERM, and after a kill -9 too. It removes only a
 * record whose pid is still its daemon's, so a successor that took over the
 * slot keeps its own; and device-model/DOMID/ioreq-lend and device-model/DOMID
 * once empty (device-model/ itself, libxl's, stays).
 *
 * Xenstore missing or unreachable (no xenstored, a test without a
 * simulator): one warning, and the daemon serves on without a record.
 */
#ifndef IOREQ_LEND_XS_RECORD_H
#define IOREQ_LEND_XS_RECORD_H

#include <stdint.h>
#include <sys/types.h>

struct xs_record {
    pid_t keeper; /* -1: none */
    int fd;       /* the socket to it: closing it removes the record */
};

#define XS_RECORD_INIT {.keeper = -1, .fd = -1}

/* Fork the record keeper for DOMID's function bdf ("SSSS:BB:DD.F"). 0 or -errno. */
int xs_record_start(struct xs_record *r, uint32_t domid, const char *bdf);
/*
 * Have it write the record (stats_path may be NULL), and wait until it is
 * written. Failures are logged (by the keeper), never fatal.
 */
void xs_record_publish(struct xs_record *r, const char *mode, const char *stats_path);
/* Remove the record (if written) and wait for the keeper to exit. Safe to repeat. */
void xs_record_stop(struct xs_record *r);

#endif
