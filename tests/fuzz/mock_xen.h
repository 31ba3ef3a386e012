/* SPDX-License-Identifier: MIT */
/*
 * A fast, in-process mock of the Xen libraries' API (libxendevicemodel,
 * libxenevtchn, libxenforeignmemory, xentoolcore) and of libxenlend, for the
 * fuzz targets. One simulated domain with one possible ioreq server; every
 * call is checked against the API's rules, so a daemon that misuses it
 * (touches another domain, unmaps what it never mapped, notifies an unbound
 * port, maps lent pages outside its claimed access range) aborts the run.
 *
 * Failure injection: during set-up the Nth fallible call can be made to fail;
 * while serving, every fallible call consumes one byte of a fault stream the
 * fuzz input supplies (values >= MOCK_FAULT_THRESHOLD fail, the low bits pick
 * the errno). Teardown never sees injected failures (it is munmap, unbind and
 * close underneath) but does see a dead domain.
 *
 * Pages handed to the daemon (the ioreq server's two pages, guest RAM) are heap
 * allocations: ASan reports any access past them, and pages not currently
 * mapped are poisoned, so a use after unmap is reported too.
 */
#ifndef IOREQ_LEND_FUZZ_MOCK_XEN_H
#define IOREQ_LEND_FUZZ_MOCK_XEN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <xen/xen.h>
#include <xen/event_channel.h>
#include <xen/hvm/dm_op.h>
#include <xen/hvm/ioreq.h>

#include "lend_abi.h"

#define MOCK_MAX_VCPUS       128
#define MOCK_GUEST_RAM_PAGES 72 /* more than guest_ram.c's 64-entry cache */
#define MOCK_MAX_RANGES      16
#define MOCK_LEND_MAX_PAGES  256
#define MOCK_LEND_QUEUE      64 /* events; a fuller queue overflows, as the ABI says */
#define MOCK_FAULT_THRESHOLD 0xc0
/* Remote (guest-side) event channel ports the mock's Xen allocates. */
#define MOCK_REMOTE_BUF_PORT     9
#define MOCK_REMOTE_VCPU_PORT(v) (16u + (v))

struct mock_config {
    domid_t domid;
    unsigned int nr_vcpus; /* what nr_vcpus reports (0 or > 128 to test the check) */
    ioservid_t server_id;
    evtchn_port_t port_base;      /* local ports are allocated above this */
    bool lend_kernel;             /* xenlend_open works (else ENOTTY) */
    bool lend_hv;                 /* access-only ranges accepted (else EINVAL) */
    int zero_vp_eport;            /* >= 0: that vCPU gets no event channel (Xen bug) */
    unsigned int setup_fail_call; /* 0: none; N: the Nth fallible set-up call fails */
    int setup_fail_errno;
};

struct mock_range {
    uint64_t start, end; /* inclusive */
};

enum mock_phase { MOCK_SETUP, MOCK_SERVING, MOCK_TEARDOWN };

/* Start a run: forget everything (the previous run must have been checked clean). */
void mock_reset(const struct mock_config *cfg);
/* Free the run's pages once the harness is done with them. */
void mock_finish(void);
void mock_set_phase(enum mock_phase phase);
/* The serving-phase fault stream (not copied: must outlive the run). */
void mock_set_faults(const uint8_t *bytes, size_t len);
/* One byte of the fault stream, or -1 once it is used up (the harness's tears use it too). */
int mock_fault_byte(void);

/*
 * What a crashed predecessor left in Xen: its ioreq server (id
 * cfg->server_id) with its two pages as they were, its claims. Call after
 * mock_reset(), before daemon_setup().
 */
struct mock_predecessor {
    bool enabled;
    bool pcidev;
    uint32_t sbdf;
    bool mmio, access; /* the decoded window's claim, of either type */
    struct mock_range range;
    uint8_t pages[2 * 4096]; /* buffered ring, ioreq page */
};
void mock_preexisting_server(const struct mock_predecessor *p);

/* The harness moved the backing (into guard pages): a slot follows its pages. */
void mock_lend_backing_moved(const void *from, const void *to);

/* ---- The guest side, driven by the harness ---- */
shared_iopage_t *mock_iopage(void);    /* NULL unless mapped */
buffered_iopage_t *mock_bufpage(void); /* NULL unless mapped */
/* The local port bound to a remote one, 0 if none. */
evtchn_port_t mock_local_port(evtchn_port_t remote);
/* The remote port behind a local one, 0 if not bound. */
evtchn_port_t mock_remote_port(evtchn_port_t local);
/* Make xenevtchn_pending() return this port next (any value, bound or not). */
void mock_queue_event(evtchn_port_t local);
void mock_clear_events(void);
/* Notifications sent since the last call (local ports), and how many. */
unsigned int mock_take_notifies(evtchn_port_t *ports, unsigned int max);
/* What the last xenevtchn_pending() returned (-1: failed or not called); resets. */
int mock_take_pending(void);
/* The daemon's backing fd and its offset: a lost page maps again once it is a hole there. */
void mock_lend_set_backing(int fd, uint64_t offset);
/* Did set-up meet its injected failure (cfg.setup_fail_call reached)? */
bool mock_setup_fault_hit(void);
/* Failures injected while serving since the last call; resets. */
unsigned int mock_take_faults(void);
/* The domain is destroyed: every hypercall on it fails with ESRCH from now on. */
void mock_domain_die(void);
bool mock_domain_dead(void);

/*
 * The kernel invalidated pages of a lend slot and queued this record for the
 * daemon. The mock applies it to its own truth first (pages leave the guest).
 */
void mock_lend_event(const struct privcmd_lend_event *ev);

/* ---- What the mock's Xen holds, for the harness's invariants ---- */
bool mock_server_exists(void);
ioservid_t mock_server_id(void);
bool mock_server_enabled(void);
/* Claimed ranges of the server (memory type / access-only type). */
unsigned int mock_mmio_ranges(struct mock_range *out, unsigned int max);
unsigned int mock_access_ranges(struct mock_range *out, unsigned int max);
/* A range whose release failed: it may stay claimed with the daemon unaware. */
bool mock_range_maybe_stale(bool access, const struct mock_range *r);
/* The lend slot (slot 0): live?, where, which memory. */
bool mock_lend_slot(uint64_t *first_gfn, uint64_t *pages, const void **uaddr);
/* Pages of the slot mapped into the guest, not counting pages the daemon was told to forget. */
uint64_t mock_lend_known_mapped(void);
uint64_t mock_lend_mapped(void);
bool mock_lend_page_mapped(uint64_t page);
bool mock_lend_page_lost(uint64_t page);
/* Is BAR page `page` a hole in the daemon's backing (punched by the daemon)? */
bool mock_lend_page_hole(uint64_t page);
/* Guest RAM mappings alive right now. */
unsigned int mock_guest_maps_live(void);
/* Did a guest RAM map fail (not RAM, or injected) since the last call? */
bool mock_take_guest_map_failed(void);
/* Copy guest RAM out / in, bypassing the poisoning (gpa must be RAM). */
void mock_guest_read(uint64_t gpa, void *buf, size_t len);
/* Pages of guest RAM the daemon mapped since the last call (bitmap of MOCK_GUEST_RAM_PAGES). */
void mock_take_guest_touched(uint8_t touched[MOCK_GUEST_RAM_PAGES]);
bool mock_guest_page_exists(uint64_t gfn);
/* What guest RAM holds before anyone writes it. */
uint8_t mock_guest_initial(uint64_t gfn, unsigned int off);

/*
 * After daemon_teardown(): nothing may be left -- no handle open, no server,
 * no bound port, no mapping, no lend slot. Aborts naming what is left.
 */
void mock_assert_clean(void);

/* A property was violated: print and abort (libFuzzer reports it as a crash). */
void mock_violation(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2)));

#endif
