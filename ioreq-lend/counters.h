/* SPDX-License-Identifier: MIT */
/*
 * The daemon's counters: one list drives the struct, the JSON stats file,
 * the SIGUSR1 dump and the man page's table. The daemon is single-threaded,
 * so they are plain integers.
 */
#ifndef IOREQ_LEND_COUNTERS_H
#define IOREQ_LEND_COUNTERS_H

#include <stdint.h>
#include <stdio.h>

#include "latency.h"

/* X(field, "dotted.name", "what it counts") */
#define DM_COUNTERS(X)                                                                             \
    X(ioreqs_copy, "ioreqs.copy", "MMIO (COPY) requests served")                                   \
    X(ioreqs_copy_read, "ioreqs.copy_read", "of those, reads")                                     \
    X(ioreqs_copy_ptr, "ioreqs.copy_ptr", "of those, with data in guest RAM (rep movs)")           \
    X(ioreqs_pci_config, "ioreqs.pci_config", "config-space requests served")                      \
    X(ioreqs_pio, "ioreqs.pio", "conf1 port requests served (0xCF8-0xCFF, --host-bridge)")         \
    X(ioreqs_bridge_config, "ioreqs.bridge_config", "host bridge config cycles (--host-bridge)")   \
    X(ioreqs_invalidate, "ioreqs.invalidate", "map-cache invalidations")                           \
    X(ioreqs_buffered, "ioreqs.buffered", "buffered-ring entries consumed")                        \
    X(ioreqs_timeoffset, "ioreqs.timeoffset", "time-offset notices (ignored)")                     \
    X(ioreqs_access, "ioreqs.access", "access-only requests (lend mode)")                          \
    X(ioreqs_copy_lent, "ioreqs.copy_lent", "of the COPY requests, lend mode's: accesses Xen emulated") \
    X(ioreqs_rejected, "ioreqs.rejected", "requests refused: answered, nothing done")              \
    X(events_spurious, "events.spurious", "wake-ups with no request ready")                         \
    X(emulated_bytes, "dm.emulated_bytes", "guest data bytes read or written for the guest")       \
    X(reject_type, "reject.type", "refused: unknown or unexpected request type")                   \
    X(reject_size, "reject.size", "refused: access size not 1, 2, 4 or 8")                         \
    X(reject_count, "reject.count", "refused: repeat count zero or over one page")                 \
    X(reject_range, "reject.range", "refused: access outside the decoded BAR window")              \
    X(reject_sbdf, "reject.sbdf", "refused: config cycle for another function")                    \
    X(reject_port, "reject.port", "refused: conf1 port access of a bad size, string or span")      \
    X(reject_guest_buffer, "reject.guest_buffer", "data pointer to guest memory not mappable")     \
    X(reject_ring, "reject.ring", "corrupt buffered-ring pointers")                                 \
    X(config_errors, "pci.config_errors", "misaligned or out-of-range config accesses")            \
    X(window_changes, "pci.window_changes", "BAR window claims moved")                             \
    X(window_change_failures, "pci.window_change_failures", "BAR moves refused and rolled back")   \
    X(takeover_adopted, "takeover.adopted", "crashed predecessors whose server and device were taken over") \
    X(takeover_stale_claims, "takeover.stale_claims", "window claims a predecessor's unfinished change left, repaired") \
    X(guest_ram_maps, "guest_ram.maps", "guest pages mapped for data pointers")                    \
    X(guest_ram_hits, "guest_ram.hits", "data-pointer pages found in the map cache")               \
    X(guest_ram_drops, "guest_ram.drops", "map-cache entries dropped (invalidate, eviction)")       \
    X(remap_accesses, "remap.accesses", "access-only requests handled")                            \
    X(remap_pages_mapped, "remap.pages_mapped", "pages installed into the guest")                  \
    X(remap_pages_invalidated, "remap.pages_invalidated", "pages the host took back")               \
    X(remap_pages_evicted, "remap.pages_evicted", "pages evicted to keep the resident window")      \
    X(remap_retries, "remap.retries", "map calls retried after EAGAIN (racing invalidation)")       \
    X(remap_lost, "remap.lost", "pages found lost when mapped (ENODATA)")                           \
    X(remap_outside_window, "remap.outside_window", "access-only requests the BAR no longer decodes: retried") \
    X(remap_faults, "remap.faults", "accesses answered with a fault for the guest")                \
    X(remap_map_failures, "remap.map_failures", "map calls that failed for good")                  \
    X(remap_stale_events, "remap.stale_events", "events for pages no longer resident")             \
    X(remap_sweeps_deferred, "remap.sweeps_deferred", "victim searches that hit their bound: continued at the next request") \
    X(remap_resident_pages, "remap.resident_pages", "pages the daemon believes mapped into the guest now") \
    X(remap_aged_pages, "remap.aged_pages", "pages whose accessed bits eviction tested and cleared") \
    X(remap_young_pages, "remap.young_pages", "of those, pages the guest had used since the last pass") \
    X(remap_readahead_hits, "remap.readahead_hits", "faults that continued a sequential stream: it mapped more") \
    X(remap_readahead_pages, "remap.readahead_pages", "pages mapped ahead of a stream, beyond the fault-around") \
    X(remap_pages_dropped, "remap.pages_dropped", "pages unmapped after an event overflow (which the host took is unknown)") \
    X(ctl_regions, "ctl.regions", "regions mapped now (--backing none)")                           \
    X(ctl_mapped_bytes, "ctl.mapped_bytes", "BAR bytes mapped by regions now")                     \
    X(ctl_maps, "ctl.maps", "control requests that mapped a region")                               \
    X(ctl_unmaps, "ctl.unmaps", "regions unmapped, their fds closed")                              \
    X(ctl_refused, "ctl.refused", "control requests answered with an error")                       \
    X(ctl_clients, "ctl.clients", "control clients connected now")                                \
    X(ctl_clients_refused, "ctl.clients_refused", "control connections closed at once: too many")   \
    X(ctl_hole_reads, "ctl.hole_reads", "guest reads of a hole: zeros")                            \
    X(ctl_hole_writes, "ctl.hole_writes", "guest writes to a hole: dropped")                       \
    X(ctl_ro_writes, "ctl.ro_writes", "guest writes to a read-only region: dropped")               \
    X(ctl_bus_errors, "ctl.bus_errors", "accesses that met a truncated fd (SIGBUS): served as a hole")

struct counters {
#define X(field, name, help) uint64_t field;
    DM_COUNTERS(X)
#undef X
};

/*
 * Write the counters as one JSON object with nested groups (no newline),
 * then, when given, "mode":"lend" or "emulate" and the latency histograms
 * ("latency_ns", latency.h): members after the counter groups, so a reader
 * of the groups alone is not disturbed.
 */
void counters_write_json(const struct counters *c, const char *mode, const struct latency *lat,
                         FILE *out);
/* The same to PATH atomically (a temporary file renamed over it); 0 or -errno. */
int counters_write_file(const struct counters *c, const char *mode, const struct latency *lat,
                        const char *path);
/* Log every non-zero counter at info level. */
void counters_log(const struct counters *c);

#endif
