/* SPDX-License-Identifier: MIT */
/*
 * The ioreq server: set-up and teardown in the order Xen 4.17 needs
 * (shared/reference/xen-ioreq-protocol.md), as named stages with one
 * teardown that works from any of them, and the request loop: take the
 * vCPU's request out of the shared page once, hand a private copy to the
 * device, write back only `data`, with real fences around the state byte.
 */
#ifndef IOREQ_LEND_ACCESS_IOREQ_H
#define IOREQ_LEND_ACCESS_IOREQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xendevicemodel.h>
#include <xenevtchn.h>
#include <xenforeignmemory.h>
#include <xen/hvm/ioreq.h>

#include "counters.h"

/* Set-up stages, in order; teardown undoes them in reverse from any stage. */
enum ioreq_srv_stage {
    SRV_CLOSED = 0,
    SRV_HANDLES_OPEN,  /* devicemodel, foreignmemory, evtchn handles */
    SRV_RESTRICTED,    /* every Xen handle of the process limited to the domain */
    SRV_CREATED,       /* ioreq server exists */
    SRV_PAGES_MAPPED,  /* buffered ring and ioreq page mapped (resource scheme) */
    SRV_ENABLED,       /* vp_eport written by Xen */
    SRV_PORTS_BOUND,   /* one event channel per vCPU plus the buffered one */
    SRV_PCI_CLAIMED,   /* config cycles of our function routed to us */
};

/* What the server hands to the device model proper. */
struct ioreq_srv_ops {
    /*
     * A synchronous request (a private copy): answer through req->data.
     * Returns the latency histogram its service time goes to, or LAT_NONE.
     */
    enum lat_kind (*handle)(void *opaque, unsigned int vcpu, ioreq_t *req);
    /* An entry of the buffered ring (writes and notices only, no answer). */
    void (*handle_buffered)(void *opaque, ioreq_t *req);
};

#define IOREQ_SRV_MAX_VCPUS 128 /* 32-byte slots in one page */

struct ioreq_srv {
    uint32_t domid;
    enum ioreq_srv_stage stage;
    xendevicemodel_handle *dmod;
    xenforeignmemory_handle *fmem;
    xenevtchn_handle *xce;
    ioservid_t id;
    unsigned int nr_vcpus;
    xenforeignmemory_resource_handle *res;
    buffered_iopage_t *bufpage;
    shared_iopage_t *iopage;
    evtchn_port_t vcpu_port[IOREQ_SRV_MAX_VCPUS]; /* local ports; 0 = unbound */
    evtchn_port_t buf_port;                       /* local; 0 = unbound */
    uint32_t sbdf;                                /* claimed PCI function */
    bool adopted;                                 /* a dead predecessor's server, taken over */
    const struct ioreq_srv_ops *ops;
    void *opaque;
    struct counters *cnt;
    struct latency *lat; /* each answered request's service time, by kind */
};

/*
 * Why a Xen device node could not be opened (errno), or a restriction
 * failed, in words an operator can act on; returns -errno. Shared with the
 * memfd keeper, which opens its own handle.
 */
int ioreq_open_failure(char *err, size_t errlen, const char *what);
int ioreq_restrict_failure(char *err, size_t errlen, uint32_t domid);
/* The logger to open Xen handles with: the libraries' messages go to our log at debug level. */
struct xentoollog_logger *ioreq_xen_logger(void);

/* SRV_HANDLES_OPEN. err gets one line naming what failed and why. */
int ioreq_srv_open(struct ioreq_srv *s, uint32_t domid, struct counters *cnt, struct latency *lat,
                   char *err, size_t errlen);
/* SRV_RESTRICTED: xentoolcore_restrict_all() -- every handle the process has open. */
int ioreq_srv_restrict(struct ioreq_srv *s, char *err, size_t errlen);
/*
 * SRV_CREATED then SRV_PAGES_MAPPED: count vCPUs, then take over the server
 * a crashed predecessor left (`predecessor`, from its state file; Xen keeps
 * a server until it is destroyed, and any process of the emulating domain
 * may map its pages and rebind its ports) or, if there is none, it is gone
 * or unusable (then it is destroyed), create a new one. s->adopted says
 * which. err gets one line on failure.
 */
int ioreq_srv_create(struct ioreq_srv *s, const ioservid_t *predecessor, char *err,
                     size_t errlen);
/*
 * Discard the server (an adopted one that served another device: its claims
 * are not ours) through the staged teardown, and create a new one: back to
 * SRV_PAGES_MAPPED, adopted false.
 */
int ioreq_srv_renew(struct ioreq_srv *s, char *err, size_t errlen);
/*
 * After ioreq_srv_start() on an adopted server: answer what the predecessor
 * left in the slots (READY, or INPROCESS when it died working on it), and
 * notify those it answered without notifying. Drains the buffered ring.
 */
void ioreq_srv_serve_pending(struct ioreq_srv *s);

/* Log every vCPU slot that is not idle (SIGUSR1: where is a stuck vCPU?). */
void ioreq_srv_log_slots(const struct ioreq_srv *s);
/* SRV_ENABLED, SRV_PORTS_BOUND, SRV_PCI_CLAIMED: enable, bind, claim the function. */
int ioreq_srv_start(struct ioreq_srv *s, uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn,
                    const struct ioreq_srv_ops *ops, void *opaque, char *err, size_t errlen);
/* Undo every stage reached, in reverse. Safe at any stage, and on a dead domain. */
void ioreq_srv_close(struct ioreq_srv *s);

/*
 * --host-bridge: claim the conf1 ports (inclusive end) and one more PCI
 * function on the server. An adopted server keeps its claims: EEXIST is
 * success there. 0 or -errno; they go with the server.
 */
int ioreq_srv_claim_ports(struct ioreq_srv *s, uint64_t start, uint64_t end);
int ioreq_srv_claim_pcidev(struct ioreq_srv *s, uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn);

/* Claim or release an MMIO range (inclusive end) on the server. 0 or -errno. */
int ioreq_srv_claim_mmio(struct ioreq_srv *s, uint64_t start, uint64_t end);
int ioreq_srv_release_mmio(struct ioreq_srv *s, uint64_t start, uint64_t end);

/*
 * Refuse a request a device cannot serve: count it under its reason and in
 * ioreqs.rejected, and make a read float high, as a bus nobody answers
 * does. It is still answered (every synchronous request must be).
 */
void ioreq_refuse(ioreq_t *req, uint64_t *reason, struct counters *cnt);

/* The event channel fd to watch. */
int ioreq_srv_fd(const struct ioreq_srv *s);
/* The fd is readable: take one event, drain the buffered ring, serve the vCPU's slot. */
void ioreq_srv_handle_event(struct ioreq_srv *s);
/*
 * Is the domain still there? A cheap server dm_op: 0 if alive, -ENOENT or
 * -ESRCH once the domain is dying or gone, another -errno otherwise.
 */
int ioreq_srv_check_alive(struct ioreq_srv *s);

#endif
