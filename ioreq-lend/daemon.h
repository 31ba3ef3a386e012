/* SPDX-License-Identifier: MIT */
/*
 * The daemon: one lent BAR for one domain, assembled from the parts that own
 * each resource -- state_file.c the slot's lock and record, keeper.c a
 * memfd's keeper, backing.c the memory, access_ioreq.c the ioreq server,
 * bar.c the PCI function, emulate.c and guest_ram.c emulation, remap.c and
 * xenlend.c lending. daemon.c owns their order, the mode, the window's
 * claims and the take-over of a crashed predecessor. One struct, passed
 * explicitly: tests can run several.
 */
#ifndef IOREQ_LEND_DAEMON_H
#define IOREQ_LEND_DAEMON_H

#include <ev.h>
#include <stdbool.h>

#include "access_ioreq.h"
#include "backing.h"
#include "bar.h"
#include "control.h"
#include "conf1.h"
#include "counters.h"
#include "guest_ram.h"
#include "keeper.h"
#include "options.h"
#include "regions.h"
#include "remap.h"
#include "state_file.h"
#include "xenlend.h"
#include "xs_record.h"

/*
 * What daemon.c itself sets up, in order. The ioreq server's progress is
 * srv.stage (access_ioreq.h owns that lifecycle), the lend slot's remap's.
 */
enum daemon_stage {
    DAEMON_NONE = 0,
    DAEMON_LOCKED,  /* the PCI slot of the domain is ours: its state file is locked */
    DAEMON_CONTROL, /* backing none: the regions table and the control socket */
    DAEMON_BACKED,  /* backing memory open and mapped (a memfd's keeper attached) */
    DAEMON_MODE,    /* lending decided (handle and remap set up) or emulation chosen */
};

struct daemon {
    struct dm_options opt;
    enum daemon_stage stage;
    enum lend_mode mode; /* resolved: MODE_EMULATE or MODE_LEND */
    struct backing backing;
    struct pci_func pci;
    struct conf1 conf1;            /* --host-bridge: the CF8 latch and 00:00.0 */
    struct state_file bridge_lock; /* --host-bridge: 00:00.0's slot lock, one owner per domain */
    struct ioreq_srv srv;
    struct guest_ram ram;
    xenlend_handle *lend;
    struct remap *remap;
    struct counters cnt;
    struct latency lat; /* service times of the requests counted in cnt, by kind */
    struct state_file state;
    struct keeper keeper; /* memfd backings: the process that keeps the guest's data */
    struct xs_record xs;  /* the record in xenstore, and the process that keeps it */
    /* Backing none: the regions a backend maps through the control socket. */
    bool have_regions;
    struct regions regions;
    struct control ctl;
    /* What the state file says; written before every change of Xen's claims. */
    struct dm_state st;
    /* What a crashed predecessor left in it, for taking over. */
    struct dm_state pred;
    bool pidfile_written;
    int exit_status;
    bool domain_gone;  /* Xen says the domain is dead: its servers went with it */

    struct ev_loop *loop;
    ev_io evtchn_watch, lend_watch;
    ev_signal sigterm_watch, sigint_watch, sigusr1_watch, sighup_watch;
    ev_timer domain_watch, stats_watch;
};

/*
 * Everything up to serving: lock, backing, handles, restriction, server,
 * mode, PCI function, ports. Returns 0, or a negative errno with one line in
 * err; the caller then calls daemon_teardown() and exits 2.
 */
int daemon_setup(struct daemon *d, const struct dm_options *opt, char *err, size_t errlen);
/* Run the event loop until a signal or the domain's death. Returns the exit status. */
int daemon_run(struct daemon *d);
/* Undo whatever daemon_setup() reached. */
void daemon_teardown(struct daemon *d);

/*
 * What the event loop does when the event-channel fd is readable (lending
 * events first, then the vCPU's request) and when the lending fd is: exposed
 * so that the fuzz driver runs the daemon's own loop bodies.
 */
void daemon_on_evtchn(struct daemon *d);
void daemon_on_lend_event(struct daemon *d);

/* The request handlers, exposed for unit tests and fuzzing. */
enum lat_kind daemon_handle_request(void *opaque, unsigned int vcpu, ioreq_t *req);
void daemon_handle_buffered(void *opaque, ioreq_t *req);

#endif
