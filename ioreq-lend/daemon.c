/* SPDX-License-Identifier: MIT */
/*
 * Owns one lent BAR for one domain (daemon.h): the order of set-up and
 * teardown, the choice of mode, the window's MEMORY claims and their
 * crash-consistent record (with state_file.c), taking over a crashed
 * predecessor, the dispatch of each request by type, and the event loop.
 * The server, the function, the backing, the lend slot and the keeper are
 * their own files'.
 */
#include "daemon.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "control_client.h"
#include "emulate.h"
#include "log.h"
#include "util.h"

/* Record what the daemon holds: a successor reads it after a crash. */
static void state_save(struct daemon *d)
{
    int rc = state_file_write(&d->state, &d->st);

    if (rc)
        log_guest(LOG_LVL_WARN, "cannot update %s: %s", d->state.path, strerror(-rc));
}

/*
 * One daemon per PCI slot of a domain: Xen would let a second ioreq server
 * claim the same function and silently shadow the first, so the slot is
 * claimed with its state file's lock first. What a crashed predecessor
 * recorded there stays until this daemon has taken over: a successor of
 * ours, killed before that, must still find it.
 */
static int slot_lock(struct daemon *d, char *err, size_t errlen)
{
    const struct dm_options *o = &d->opt;
    int rc = state_file_lock(&d->state, o->state_dir, o->domid, o->pci_seg, o->pci_bus,
                             o->pci_dev, o->pci_fn, &d->pred, err, errlen);

    if (rc)
        return rc;
    d->st = d->pred;
    d->stage = DAEMON_LOCKED;
    return 0;
}

/*
 * Backing none: the regions table and the control socket, before any Xen
 * resource, so a bad --control leaves nothing half-created. The socket is
 * the slot's (its default name is the state file's stem), and we hold the
 * slot's lock: a socket already there is a dead predecessor's. Regions do
 * not survive a restart: their fds died with the predecessor.
 */
static int control_setup(struct daemon *d, char *err, size_t errlen)
{
    const struct dm_options *o = &d->opt;
    char path[sizeof(d->ctl.path)];
    int rc;

    if (!o->backing || strcmp(o->backing, "none") != 0)
        return 0;
    if (o->control_path) {
        snprintf(path, sizeof(path), "%.*s", (int)sizeof(path) - 1, o->control_path);
        if (strlen(o->control_path) >= sizeof(path))
            return err_fmt(err, errlen, -ENAMETOOLONG,
                           "--control: longer than a socket path may be (%zu bytes)",
                           sizeof(path) - 1);
    } else if (ctl_default_path(path, sizeof(path), o->state_dir, o->domid, o->pci_seg, o->pci_bus,
                                o->pci_dev, o->pci_fn)) {
        return err_fmt(err, errlen, -ENAMETOOLONG,
                       "--state-dir is too long for the control socket: give --control");
    }
    rc = regions_init(&d->regions, o->bar_size, o->max_regions, &d->cnt);
    if (rc)
        return err_fmt(err, errlen, rc, "cannot allocate %u regions", o->max_regions);
    d->have_regions = true;
    rc = control_listen(&d->ctl, path, o->runas, &d->regions, &d->cnt, err, errlen);
    if (rc)
        return rc;
    d->stage = DAEMON_CONTROL;
    return 0;
}

static int backing_setup(struct daemon *d, char *err, size_t errlen)
{
    struct dm_options *o = &d->opt;
    struct backing_spec spec;
    char spec_default[64], sz[32];
    const char *text = o->backing;
    int rc;

    if (!text) {
        snprintf(spec_default, sizeof(spec_default), "memfd:%llu",
                 (unsigned long long)(o->bar_size ? o->bar_size : OPT_DEFAULT_BAR_SIZE));
        text = spec_default;
    }
    rc = backing_parse(text, &spec, err, errlen);
    if (rc)
        return rc;
    if (spec.kind == BACKING_MEMFD) {
        /* The daemon owns this memory: a keeper holds it, so a restart finds the guest's data. */
        char slot[48];
        struct keeper_params kp = {
            .state_dir = o->state_dir, .slot_name = slot, .domid = o->domid,
            .size = spec.memfd_size, .poll_ms = o->domain_poll_ms, .runas = o->runas,
        };

        snprintf(slot, sizeof(slot), "dom%u-%04x:%02x:%02x.%x", o->domid, o->pci_seg, o->pci_bus,
                 o->pci_dev, o->pci_fn);
        rc = keeper_attach(&d->keeper, &kp, err, errlen);
        if (rc < 0)
            return rc;
        spec.kind = BACKING_FD;
        spec.fd = rc;
    }
    rc = backing_open(&spec, o->bar_size, o->pci_sysfs_path, &d->backing, err, errlen);
    if (rc)
        return rc;
    if (d->keeper.conn >= 0)
        snprintf(d->backing.desc, sizeof(d->backing.desc), "memfd %s (kept by pid %d)",
                 format_size(spec.memfd_size, sz, sizeof(sz)), (int)d->keeper.pid);
    d->stage = DAEMON_BACKED;
    /* No --bar-size: the BAR is the backing, which must then be a valid BAR size. */
    if (!o->bar_size) {
        if (!pci_bar_size_valid(d->backing.size))
            return err_fmt(err, errlen, -EINVAL,
                        "%s is %s, not a BAR size (a power of two from 4K to 1T): give --bar-size",
                        d->backing.desc, format_size(d->backing.size, sz, sizeof(sz)));
        o->bar_size = d->backing.size;
    }
    if (o->window > o->bar_size)
        return err_fmt(err, errlen, -EINVAL, "--window is larger than the %s BAR",
                    format_size(o->bar_size, sz, sizeof(sz)));
    return 0;
}

/*
 * Lending needs the kernel (privcmd lend ioctls), the hypervisor
 * (access-only ranges) and a backing the kernel can lend. Probe all three:
 * open the lend handle, claim and release an access-only range over gfn 0 --
 * guest RAM, which no access ever sends to an ioreq server, so the probe
 * cannot steal anything -- and register the backing as a slot, then delete
 * it (nothing is mapped into the guest by registering).
 * Returns 0 if lending works, else -errno with the reason in why.
 */
static int lend_probe(struct daemon *d, char *why, size_t whylen)
{
    d->lend = xenlend_open((domid_t)d->opt.domid);
    if (!d->lend) {
        if (errno == ENOTTY)
            return err_fmt(why, whylen, -ENOTTY, "the kernel's privcmd has no lending ioctls");
        if (errno == EOPNOTSUPP)
            return err_fmt(why, whylen, -EOPNOTSUPP,
                           "the kernel lends, the hypervisor has no XENMEM_lend_map");
        if (errno == EPROTONOSUPPORT)
            return err_fmt(why, whylen, -EPROTONOSUPPORT,
                           "the kernel's lending ioctls are older than revision %d",
                           PRIVCMD_LEND_VERSION);
        return err_fmt(why, whylen, -errno, "cannot open a lending handle: %s", strerror(errno));
    }
    if (xenlend_claim_access_range(d->lend, d->srv.id, 0, XC_PAGE_SIZE - 1) < 0) {
        int rc = -errno;
        xenlend_close(d->lend);
        d->lend = NULL;
        if (rc == -EINVAL)
            return err_fmt(why, whylen, rc, "the hypervisor has no access-only ioreqs");
        return err_fmt(why, whylen, rc, "probing access-only ioreqs failed: %s", strerror(-rc));
    }
    xenlend_release_access_range(d->lend, d->srv.id, 0, XC_PAGE_SIZE - 1);
    /* And the backing must be memory the kernel can lend: register it once, then delete. */
    if (xenlend_set_slot(d->lend, 0, 0, d->backing.base, d->backing.size / XC_PAGE_SIZE, 0) < 0) {
        int rc = -errno;
        xenlend_close(d->lend);
        d->lend = NULL;
        return err_fmt(why, whylen, rc, "%s cannot be lent: %s", d->backing.desc, strerror(-rc));
    }
    xenlend_set_slot(d->lend, 0, 0, NULL, 0, 0);
    return 0;
}

/* Default fault-around: see bench/README.md (cold scan) for the measurement behind it. */
#define DEFAULT_FAULT_AROUND (64ULL << 10)

static int mode_setup(struct daemon *d, char *err, size_t errlen)
{
    struct dm_options *o = &d->opt;
    char why[160];
    int rc;

    d->mode = MODE_EMULATE;
    if (d->backing.kind == BACKING_NONE) {
        /* options.c refused --mode lend: lending regions needs lend_abi.h revision 3. */
        if (o->mode == MODE_AUTO)
            log_info("backing none: emulating the BAR (lending regions is the next stage)");
    } else if (o->mode != MODE_EMULATE) {
        rc = lend_probe(d, why, sizeof(why));
        if (rc && o->mode == MODE_LEND)
            return err_fmt(err, errlen, rc, "--mode lend: lending is unavailable: %s", why);
        if (rc)
            log_warn("lending unavailable (%s): emulating the BAR instead", why);
        else
            d->mode = MODE_LEND;
    }
    if (d->mode == MODE_LEND) {
        uint64_t min = remap_min_window(d->srv.nr_vcpus);
        char a[32], b[32];

        if (o->window && o->window < min)
            return err_fmt(err, errlen, -EINVAL,
                        "--window %s is too small for %u vCPUs: at least %s",
                        format_size(o->window, a, sizeof(a)), d->srv.nr_vcpus,
                        format_size(min, b, sizeof(b)));
        struct remap_params p = {
            .lend = d->lend,
            .server = d->srv.id,
            .backing = &d->backing,
            .bar_size = o->bar_size,
            .fault_around = o->fault_around ? o->fault_around : DEFAULT_FAULT_AROUND,
            .window = o->window ? o->window : o->bar_size,
            .on_lost = o->on_lost,
            .readahead = !o->readahead_off,
            .eviction = o->eviction,
            .nr_vcpus = d->srv.nr_vcpus,
            .cnt = &d->cnt,
        };
        rc = remap_create(&d->remap, &p);
        if (rc)
            return err_fmt(err, errlen, rc, "cannot set up lending: %s", strerror(-rc));
    }
    d->stage = DAEMON_MODE;
    return 0;
}

static int claim_memory(struct daemon *d, const struct bar_window *w)
{
    return w->enabled ? ioreq_srv_claim_mmio(&d->srv, w->base, w->base + w->size - 1) : 0;
}

static int release_memory(struct daemon *d, const struct bar_window *w)
{
    return w->enabled ? ioreq_srv_release_mmio(&d->srv, w->base, w->base + w->size - 1) : 0;
}

/*
 * Make Xen's claims follow the BAR window, transactionally (bar.h): on
 * failure the old window is still claimed. Both modes claim the window as a
 * MEMORY range: emulation serves every access there, lending only those Xen
 * has to emulate (lend_abi.h); lending adds the access-only range and the
 * lend slot (remap.c) in between. Giving the old MEMORY range back cannot
 * fail the change: a range left claimed (the domain dying) only draws COPY
 * requests outside the window, which are refused as Xen's null handler
 * would answer them.
 */
static int claims_change(struct daemon *d, const struct bar_window *old_win,
                         const struct bar_window *new_win)
{
    int rc = claim_memory(d, new_win);

    if (rc)
        return rc;
    if (d->mode == MODE_LEND) {
        rc = remap_window_change(d->remap, old_win, new_win);
        if (rc) {
            release_memory(d, new_win);
            return rc;
        }
    }
    rc = release_memory(d, old_win);
    if (rc)
        log_guest(LOG_LVL_WARN, "releasing the range at 0x%llx: %s",
                  (unsigned long long)old_win->base, strerror(-rc));
    return 0;
}

/* bar.c's window callback. */
static int window_change(void *opaque, const struct bar_window *old_win,
                         const struct bar_window *new_win)
{
    struct daemon *d = opaque;
    int rc;

    /*
     * Write-ahead: from here until the config write is recorded, Xen may hold
     * either window's claims, and a successor must know both to repair them.
     */
    d->st.changing = true;
    d->st.from = *old_win;
    d->st.to = *new_win;
    state_save(d);
    rc = claims_change(d, old_win, new_win);
    if (rc) {
        d->cnt.window_change_failures++;
        log_guest(LOG_LVL_WARN, "guest moved the BAR to 0x%llx (decoding %s): refused: %s",
                  (unsigned long long)new_win->base, new_win->enabled ? "on" : "off",
                  strerror(-rc));
        return rc;
    }
    d->cnt.window_changes++;
    if (new_win->enabled)
        log_guest(LOG_LVL_INFO, "BAR 0 decodes at 0x%llx-0x%llx",
                  (unsigned long long)new_win->base,
                  (unsigned long long)(new_win->base + new_win->size - 1));
    else
        log_guest(LOG_LVL_INFO, "BAR 0 no longer decodes");
    return 0;
}

/* The config space as the guest now sees it, and nothing under way. */
static void state_save_config(struct daemon *d)
{
    d->st.have_config = true;
    memcpy(d->st.config, d->pci.cfg, sizeof(d->st.config));
    d->st.changing = false;
    state_save(d);
}

static int pci_setup(struct daemon *d, char *err, size_t errlen)
{
    const struct dm_options *o = &d->opt;
    struct pci_func_params p = {
        .ids = {.vendor_id = o->vendor_id, .device_id = o->device_id,
                .subsystem_vendor_id = o->subsys_vendor_id, .subsystem_id = o->subsys_id,
                .class_code = o->class_code},
        .bar_size = o->bar_size,
        .mode = d->mode == MODE_LEND ? LEND_CAP_MODE_LEND : LEND_CAP_MODE_EMULATE,
        .cap_flags = o->on_lost == ON_LOST_ZERO ? LEND_CAP_F_LOST_ZERO : 0,
        .resident_size = d->mode == MODE_LEND && o->window ? o->window : o->bar_size,
    };

    if (pci_func_init(&d->pci, &p, window_change, d))
        return err_fmt(err, errlen, -EINVAL, "invalid PCI function parameters");
    return 0;
}

static void refuse(struct daemon *d, ioreq_t *req, uint64_t *reason)
{
    ioreq_refuse(req, reason, &d->cnt);
    log_guest(LOG_LVL_WARN,
              "refused request type %u addr 0x%llx size %u count %u dir %u df %u ptr %u",
              req->type, (unsigned long long)req->addr, req->size, req->count, req->dir, req->df,
              req->data_is_ptr);
}

/* A config cycle; true if served (counted), false if refused. */
static bool handle_config(struct daemon *d, ioreq_t *req)
{
    uint32_t reg = (uint32_t)req->addr, val = 0, sbdf = (uint32_t)(req->addr >> 32);
    bool bridge = d->opt.host_bridge && sbdf == XEN_DMOP_PCI_SBDF(0, 0, 0, 0);
    int rc;

    if (sbdf != d->srv.sbdf && !bridge) {
        refuse(d, req, &d->cnt.reject_sbdf);
        return false;
    }
    if (req->count != 1 || req->data_is_ptr || req->df ||
        (req->size != 1 && req->size != 2 && req->size != 4)) {
        refuse(d, req, &d->cnt.reject_size);
        return false;
    }
    if (bridge) {
        /* Read-only: nothing to record, no claim to move. */
        d->cnt.ioreqs_bridge_config++;
        rc = conf1_bridge_config(&d->conf1, reg, req->size, req->dir, &val);
        if (req->dir == IOREQ_READ)
            req->data = val;
        if (rc)
            d->cnt.config_errors++;
        return true;
    }
    d->cnt.ioreqs_pci_config++;
    if (req->dir == IOREQ_READ) {
        rc = pci_func_config_read(&d->pci, reg, req->size, &val);
        req->data = val;
    } else {
        rc = pci_func_config_write(&d->pci, reg, req->size,
                                   (uint32_t)(req->data & size_mask(req->size)));
        /* Before the answer: a successor must find what the guest programmed (or kept). */
        if (rc != -EINVAL)
            state_save_config(d);
    }
    if (rc == -EINVAL)
        d->cnt.config_errors++;
    return true;
}

enum lat_kind daemon_handle_request(void *opaque, unsigned int vcpu, ioreq_t *req)
{
    struct daemon *d = opaque;
    int rc;

    (void)vcpu;
    /* Each kind's histogram counts what its counter counts: served requests only. */
    switch (req->type) {
    case IOREQ_TYPE_PCI_CONFIG:
        return handle_config(d, req) ? LAT_CONFIG : LAT_NONE;
    case IOREQ_TYPE_PIO:
        /* Only the host bridge's server claims ports (0xCF8-0xCFF). */
        if (d->opt.host_bridge)
            return conf1_port_request(&d->conf1, req, &d->cnt) ? LAT_CONFIG : LAT_NONE;
        refuse(d, req, &d->cnt.reject_type);
        return LAT_NONE;
    case IOREQ_TYPE_COPY:
        /*
         * In lend mode the guest's own accesses never come here; those Xen
         * has to emulate (a rep movs between another device and the BAR)
         * do, and are served from the backing like emulation's (lend_abi.h).
         */
        if (d->mode == MODE_LEND)
            d->cnt.ioreqs_copy_lent++;
        rc = emulate_copy(&d->backing, d->have_regions ? &d->regions : NULL, &d->pci.window,
                          &d->ram, &d->cnt, req);
        return rc == 0 ? LAT_COPY : LAT_NONE;
    case IOREQ_TYPE_INVALIDATE:
        d->cnt.ioreqs_invalidate++;
        guest_ram_drop_all(&d->ram);
        return LAT_NONE;
    case IOREQ_TYPE_ACCESS:
        if (d->mode == MODE_LEND) {
            d->cnt.ioreqs_access++;
            req->data = remap_handle_access(d->remap, req);
            return LAT_ACCESS;
        }
        refuse(d, req, &d->cnt.reject_type);
        req->data = IOREQ_ACCESS_FAIL;
        return LAT_NONE;
    case IOREQ_TYPE_TIMEOFFSET:
        d->cnt.ioreqs_timeoffset++;
        return LAT_NONE;
    default:
        refuse(d, req, &d->cnt.reject_type);
        return LAT_NONE;
    }
}

void daemon_handle_buffered(void *opaque, ioreq_t *req)
{
    struct daemon *d = opaque;

    if (req->type == IOREQ_TYPE_TIMEOFFSET) {
        d->cnt.ioreqs_timeoffset++;
    } else if (req->type == IOREQ_TYPE_COPY && req->dir == IOREQ_WRITE) {
        if (d->mode == MODE_LEND)
            d->cnt.ioreqs_copy_lent++; /* as for a synchronous one: an emulated access */
        emulate_copy(&d->backing, d->have_regions ? &d->regions : NULL, &d->pci.window, &d->ram,
                     &d->cnt, req);
    } else {
        d->cnt.reject_type++;
        d->cnt.ioreqs_rejected++;
    }
}

/*
 * Repair Xen's claims after a predecessor died: the window its recorded
 * config decodes claimed, and any other window that a change it left
 * unfinished may have claimed released. Every step is idempotent (a claim
 * already there, a release of nothing), so a successor killed here is
 * repaired by the next one from the same record.
 */
static int claims_repair(struct daemon *d, const struct bar_window *target)
{
    struct bar_window stale[2];
    unsigned int n = 0;
    int rc;

    if (d->pred.changing) {
        const struct bar_window *w[2] = {&d->pred.from, &d->pred.to};

        for (unsigned int i = 0; i < 2; i++)
            if (w[i]->enabled && !(target->enabled && w[i]->base == target->base) &&
                w[i]->size == d->pci.bar_size)
                stale[n++] = *w[i];
    }
    d->cnt.takeover_stale_claims += n;
    for (unsigned int i = 0; i < n; i++) {
        rc = release_memory(d, &stale[i]);
        if (rc && rc != -ENOENT)
            log_warn("releasing the range at 0x%llx a change left: %s",
                     (unsigned long long)stale[i].base, strerror(-rc));
    }
    rc = claim_memory(d, target);
    if (rc == -EEXIST)
        rc = 0; /* claimed by our server all along */
    if (rc == 0 && d->mode == MODE_LEND)
        rc = remap_take_over(d->remap, target, stale, n);
    /* The caller stops decoding: then nothing may stay claimed. */
    if (rc) {
        release_memory(d, target);
        if (d->mode == MODE_LEND)
            remap_release_access(d->remap, target);
    }
    return rc;
}

/*
 * The adopted server still claims what the predecessor's function decoded.
 * Restore that function's config space so the guest sees no change, repair
 * the claims, and lend again what it lent. If the device differs (other
 * IDs, size or mode), the claims belong to something else: discard the
 * server and start afresh.
 */
static int take_over(struct daemon *d, char *err, size_t errlen)
{
    int rc = -EINVAL;

    if (d->pred.have_config)
        rc = pci_func_restore(&d->pci, d->pred.config);
    if (rc == 0) {
        d->cnt.takeover_adopted++;
        rc = claims_repair(d, &d->pci.window);
        if (rc) {
            /* Nothing decodes now, and the config space says so; enabling it claims anew. */
            log_warn("taking over the window at 0x%llx failed: %s: it no longer decodes",
                     (unsigned long long)d->pci.window.base, strerror(-rc));
            pci_func_stop_decoding(&d->pci);
        }
        log_info("took over the function: BAR 0 %s at 0x%llx",
                 d->pci.window.enabled ? "decoding" : "not decoding",
                 (unsigned long long)d->pci.window.base);
        return 0;
    }
    log_warn("the previous daemon's device is not this one: starting afresh");
    rc = ioreq_srv_renew(&d->srv, err, errlen);
    d->st = (struct dm_state){.have_server = rc == 0, .server = d->srv.id};
    state_save(d);
    /* pci_func_restore() may have run: back to power-on, nothing decodes on the new server. */
    if (rc == 0)
        rc = pci_setup(d, err, errlen);
    return rc;
}

/*
 * --host-bridge: one daemon per domain answers 0xCF8 and 00:00.0 (conf1.h).
 * 00:00.0's slot lock makes a second one fail, whatever the launcher did;
 * the claims go with the server (an adopted one still holds them).
 */
static int host_bridge_lock(struct daemon *d, char *err, size_t errlen)
{
    const struct dm_options *o = &d->opt;
    struct dm_state unused;

    if (!o->host_bridge)
        return 0;
    return state_file_lock(&d->bridge_lock, o->state_dir, o->domid, 0, 0, 0, 0, &unused, err,
                           errlen);
}

static int host_bridge_claim(struct daemon *d, char *err, size_t errlen)
{
    int rc;

    if (!d->opt.host_bridge)
        return 0;
    conf1_init(&d->conf1);
    rc = ioreq_srv_claim_pcidev(&d->srv, 0, 0, 0, 0);
    if (rc)
        return err_fmt(err, errlen, rc, "cannot claim the host bridge 00:00.0: %s", strerror(-rc));
    rc = ioreq_srv_claim_ports(&d->srv, CONF1_PORT_FIRST, CONF1_PORT_LAST);
    if (rc)
        return err_fmt(err, errlen, rc, "cannot claim ports 0x%x-0x%x: %s", CONF1_PORT_FIRST,
                       CONF1_PORT_LAST, strerror(-rc));
    return 0;
}

/* Is gfn guest RAM? A page Xen lets us map is (an MMIO hole is not). */
static bool gfn_is_ram(struct daemon *d, uint64_t addr)
{
    xen_pfn_t pfn = (xen_pfn_t)(addr / XC_PAGE_SIZE);
    int err = 0;
    void *va = xenforeignmemory_map(d->srv.fmem, d->opt.domid, PROT_READ, 1, &pfn, &err);

    if (!va)
        return false;
    xenforeignmemory_unmap(d->srv.fmem, va, 1);
    return err == 0;
}

/*
 * PVH: no firmware places BARs, so the daemon does what hvmloader does for
 * an HVM guest, through its own config space (the claims follow): BAR 0 at
 * --bar-base, or at OPT_PVH_BAR_BASE if it fits below OPT_PVH_HOLE_END,
 * then memory decoding on. It must not cover PVH's fixed region below
 * 4 GiB (ACPI tables, IOAPIC, LAPIC, Xen's special pages) nor guest RAM:
 * RAM is [0, low) and [4 GiB, high), so mapping the BAR's first page, and
 * 4 GiB's if the BAR crosses it, finds any overlap.
 */
static int pvh_place_bar(struct daemon *d, char *err, size_t errlen)
{
    uint64_t size = d->pci.bar_size, base = d->opt.bar_base, end;
    char sz[32];
    int rc;

    if (!base) {
        base = (OPT_PVH_BAR_BASE + size - 1) & ~(size - 1);
        if (base + size > OPT_PVH_HOLE_END)
            return err_fmt(err, errlen, -EINVAL,
                           "a %s BAR does not fit the PVH hole 0x%llx-0x%llx: give --bar-base "
                           "(above the guest's RAM)",
                           format_size(size, sz, sizeof(sz)), OPT_PVH_BAR_BASE,
                           OPT_PVH_HOLE_END - 1);
    }
    end = base + size;
    if (base < 0x100000000ULL && end > OPT_PVH_HOLE_END)
        return err_fmt(err, errlen, -EINVAL,
                       "BAR 0 at 0x%llx-0x%llx would cover PVH's fixed region 0x%llx-0xffffffff "
                       "(ACPI, IOAPIC, LAPIC, Xen's pages)",
                       (unsigned long long)base, (unsigned long long)(end - 1), OPT_PVH_HOLE_END);
    if (gfn_is_ram(d, base) ||
        (base < 0x100000000ULL && end > 0x100000000ULL && gfn_is_ram(d, 0x100000000ULL)))
        return err_fmt(err, errlen, -EINVAL,
                       "BAR 0 at 0x%llx-0x%llx would cover guest RAM: give --bar-base above it",
                       (unsigned long long)base, (unsigned long long)(end - 1));
    rc = pci_func_config_write(&d->pci, PCI_CFG_BAR0, 4, (uint32_t)base | PCI_BAR_FLAGS);
    if (rc == 0)
        rc = pci_func_config_write(&d->pci, PCI_CFG_BAR1, 4, (uint32_t)(base >> 32));
    if (rc == 0)
        rc = pci_func_config_write(&d->pci, PCI_CFG_COMMAND, 2, PCI_COMMAND_MEMORY);
    if (rc)
        return err_fmt(err, errlen, rc, "cannot place BAR 0 at 0x%llx: %s",
                       (unsigned long long)base, strerror(-rc));
    return 0;
}

/*
 * The xenstore record's keeper (xs_record.h), forked before any Xen handle
 * is open so that it holds none; --no-xenstore: none.
 */
static int record_keeper_start(struct daemon *d, char *err, size_t errlen)
{
    const struct dm_options *o = &d->opt;
    char bdf[16];
    int rc;

    if (o->no_xenstore)
        return 0;
    /* xenstored allows neither ':' nor '.' in a path: SSSS-BB-DD-F. */
    snprintf(bdf, sizeof(bdf), "%04x-%02x-%02x-%x", o->pci_seg, o->pci_bus, o->pci_dev,
             o->pci_fn);
    rc = xs_record_start(&d->xs, o->domid, bdf);
    if (rc)
        return err_fmt(err, errlen, rc, "cannot start the xenstore record's keeper: %s",
                       strerror(-rc));
    return 0;
}

static const struct ioreq_srv_ops daemon_srv_ops = {
    .handle = daemon_handle_request,
    .handle_buffered = daemon_handle_buffered,
};

int daemon_setup(struct daemon *d, const struct dm_options *opt, char *err, size_t errlen)
{
    int rc;

    memset(d, 0, sizeof(*d));
    d->opt = *opt;
    d->state = (struct state_file)STATE_FILE_INIT;
    d->keeper = (struct keeper)KEEPER_INIT;
    d->backing = (struct backing)BACKING_INIT;
    control_init(&d->ctl);
    d->bridge_lock = (struct state_file)STATE_FILE_INIT;
    d->xs = (struct xs_record)XS_RECORD_INIT;
    rc = slot_lock(d, err, errlen);
    if (rc == 0)
        rc = host_bridge_lock(d, err, errlen);
    if (rc == 0)
        rc = record_keeper_start(d, err, errlen);
    if (rc == 0)
        rc = control_setup(d, err, errlen);
    if (rc == 0)
        rc = backing_setup(d, err, errlen);
    if (rc == 0)
        rc = ioreq_srv_open(&d->srv, opt->domid, &d->cnt, &d->lat, err, errlen);
    if (rc == 0)
        rc = ioreq_srv_restrict(&d->srv, err, errlen);
    if (rc == 0)
        rc = ioreq_srv_create(&d->srv, d->pred.have_server ? &d->pred.server : NULL, err,
                              errlen);
    if (rc)
        return rc;
    if (d->srv.adopted)
        log_warn("a previous ioreq-lend died without cleaning up: taking over its ioreq server %u",
                 d->srv.id);
    else
        d->st = (struct dm_state){0}; /* the predecessor's claims went with its server */
    d->st.have_server = true;
    d->st.server = d->srv.id;
    state_save(d);
    guest_ram_init(&d->ram, d->srv.fmem, opt->domid, &d->cnt);
    rc = mode_setup(d, err, errlen);
    if (rc == 0)
        rc = pci_setup(d, err, errlen);
    if (rc == 0 && d->srv.adopted)
        rc = take_over(d, err, errlen);
    /* A function at power-on (not one a predecessor's guest programmed): PVH has no firmware. */
    if (rc == 0 && opt->domain_type == DOMAIN_PVH && d->cnt.takeover_adopted == 0)
        rc = pvh_place_bar(d, err, errlen);
    if (rc == 0)
        rc = ioreq_srv_start(&d->srv, opt->pci_seg, opt->pci_bus, opt->pci_dev, opt->pci_fn,
                             &daemon_srv_ops, d, err, errlen);
    if (rc == 0)
        rc = host_bridge_claim(d, err, errlen);
    if (rc)
        return rc;
    state_save_config(d);
    /* Requests the predecessor left unanswered: their vCPUs are waiting. */
    if (d->srv.adopted)
        ioreq_srv_serve_pending(&d->srv);
    xs_record_publish(&d->xs, lend_mode_name(d->mode), d->opt.stats_path);
    return 0;
}

void daemon_teardown(struct daemon *d)
{
    bool served = d->srv.stage >= SRV_PCI_CLAIMED;

    /* A BAR still decoding: give its range back before the server goes (unless the
     * domain died: its servers and ranges went with it, and a refusal would be noise). */
    if (served && d->pci.window.enabled && !d->domain_gone) {
        struct bar_window off = d->pci.window;
        off.enabled = false;
        window_change(d, &d->pci.window, &off);
        d->pci.window = off;
    }
    if (d->remap)
        remap_destroy(d->remap);
    d->remap = NULL;
    if (d->srv.stage >= SRV_PAGES_MAPPED)
        guest_ram_drop_all(&d->ram);
    ioreq_srv_close(&d->srv);
    if (d->lend)
        xenlend_close(d->lend);
    d->lend = NULL;
    /* The guest can reach no region now: their fds close. */
    control_close(&d->ctl);
    if (d->have_regions)
        regions_destroy(&d->regions);
    d->have_regions = false;
    backing_close(&d->backing);
    /*
     * Served and leaving cleanly: nothing to take over, so the guest's memory
     * goes too. A failed set-up keeps a predecessor's memory for the next try.
     */
    if (served)
        keeper_release(&d->keeper);
    else
        keeper_detach(&d->keeper);
    /* The record goes while the slot is still ours: a successor writes its own after. */
    xs_record_stop(&d->xs);
    state_file_release(&d->bridge_lock);
    state_file_release(&d->state);
    d->stage = DAEMON_NONE;
}

/* ---- The event loop ---- */

static void write_stats(struct daemon *d)
{
    int rc;

    if (!d->opt.stats_path)
        return;
    rc = counters_write_file(&d->cnt, lend_mode_name(d->mode), &d->lat, d->opt.stats_path);
    if (rc)
        log_guest(LOG_LVL_WARN, "cannot write %s: %s", d->opt.stats_path, strerror(-rc));
}

void daemon_on_evtchn(struct daemon *d)
{
    /* Events first: an ACCESS must see the table as the kernel left it. */
    if (d->remap)
        remap_apply_events(d->remap);
    ioreq_srv_handle_event(&d->srv);
}

void daemon_on_lend_event(struct daemon *d)
{
    if (d->remap)
        remap_apply_events(d->remap);
}

static void on_evtchn(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    daemon_on_evtchn(w->data);
}

static void on_lend_event(struct ev_loop *loop, ev_io *w, int revents)
{
    (void)loop;
    (void)revents;
    daemon_on_lend_event(w->data);
}

static void on_stop_signal(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct daemon *d = w->data;

    (void)revents;
    log_info("signal %d: releasing everything and exiting", w->signum);
    d->exit_status = 0;
    ev_break(loop, EVBREAK_ALL);
}

static void on_usr1(struct ev_loop *loop, ev_signal *w, int revents)
{
    struct daemon *d = w->data;

    (void)loop;
    (void)revents;
    counters_log(&d->cnt);
    ioreq_srv_log_slots(&d->srv);
    write_stats(d);
}

static void on_hup(struct ev_loop *loop, ev_signal *w, int revents)
{
    (void)loop;
    (void)w;
    (void)revents;
    /* Nothing to reload; a HUP from a closing terminal must not kill a guest's device. */
}

static void on_domain_check(struct ev_loop *loop, ev_timer *w, int revents)
{
    struct daemon *d = w->data;
    int rc = ioreq_srv_check_alive(&d->srv);

    (void)revents;
    if (rc == -ENOENT || rc == -ESRCH) {
        /* A dying domain sends no event: notice it ourselves, or it stays a zombie. */
        log_info("domain %u is gone: releasing everything and exiting", d->opt.domid);
        d->domain_gone = true;
        d->exit_status = 0;
        ev_break(loop, EVBREAK_ALL);
    } else if (rc) {
        log_guest(LOG_LVL_WARN, "checking domain %u failed: %s", d->opt.domid, strerror(-rc));
    }
}

static void on_stats_timer(struct ev_loop *loop, ev_timer *w, int revents)
{
    (void)loop;
    (void)revents;
    write_stats(w->data);
}

static void signal_watch(struct daemon *d, ev_signal *w, int sig,
                         void (*cb)(struct ev_loop *, ev_signal *, int))
{
    ev_signal_init(w, cb, sig);
    w->data = d;
    ev_signal_start(d->loop, w);
}

int daemon_run(struct daemon *d)
{
    double poll_s = (double)d->opt.domain_poll_ms / 1000.0;

    /* main() blocked the signals before set-up; libev reads them from a signalfd. */
    d->loop = ev_default_loop(EVFLAG_AUTO | EVFLAG_SIGNALFD | EVFLAG_NOSIGMASK);
    if (!d->loop) {
        log_err("cannot create the event loop");
        return 1;
    }
    ev_io_init(&d->evtchn_watch, on_evtchn, ioreq_srv_fd(&d->srv), EV_READ);
    d->evtchn_watch.data = d;
    ev_io_start(d->loop, &d->evtchn_watch);
    if (d->remap) {
        ev_io_init(&d->lend_watch, on_lend_event, remap_fd(d->remap), EV_READ);
        d->lend_watch.data = d;
        ev_io_start(d->loop, &d->lend_watch);
    }
    control_start(&d->ctl, d->loop);
    signal_watch(d, &d->sigterm_watch, SIGTERM, on_stop_signal);
    signal_watch(d, &d->sigint_watch, SIGINT, on_stop_signal);
    signal_watch(d, &d->sigusr1_watch, SIGUSR1, on_usr1);
    signal_watch(d, &d->sighup_watch, SIGHUP, on_hup);
    ev_timer_init(&d->domain_watch, on_domain_check, poll_s, poll_s);
    d->domain_watch.data = d;
    ev_timer_start(d->loop, &d->domain_watch);
    if (d->opt.stats_path) {
        ev_timer_init(&d->stats_watch, on_stats_timer, 1.0, 1.0);
        d->stats_watch.data = d;
        ev_timer_start(d->loop, &d->stats_watch);
        write_stats(d);
    }
    d->exit_status = 1;
    ev_run(d->loop, 0);
    write_stats(d);
    control_stop(&d->ctl);
    ev_loop_destroy(d->loop);
    d->loop = NULL;
    return d->exit_status;
}
