/* SPDX-License-Identifier: MIT */
/*
 * Metrics by dotted name (what `expect` lines and the JSON report use), the
 * JSON object, the human summary, and the live progress line.
 */
#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "../hv/lend.h"
#include "harness.h"
#include "util.h"

#define LOAD(x) ((double)atomic_load_explicit(&(x), memory_order_relaxed))

static double leaks_sum(struct harness *h, int which)
{
    double n = 0;

    if (!h->hv)
        return 0;
    for (unsigned int i = 0; i < h->nr_exited; i++) {
        struct hv_leaks l = hv_leaks_of(h->hv, h->exited_pids[i]);
        n += (double)(which == 0 ? l.servers : which == 1 ? l.ports
                                            : which == 2 ? l.mappings : l.lent_pages);
    }
    return n;
}

/* The real uid of a running process, from /proc. */
static double dm_uid(pid_t pid)
{
    char path[64], line[256];
    double uid = -1;
    FILE *f;

    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    f = fopen(path, "r");
    while (f && fgets(line, sizeof(line), f))
        if (strncmp(line, "Uid:", 4) == 0)
            uid = strtod(line + 4, NULL);
    if (f)
        fclose(f);
    return uid;
}

static double latency_us(struct hv_hist *hist, double pct)
{
    return (double)hv_hist_percentile(hist, pct) / 1000.0;
}

/*
 * The metric table: one row per metric, in JSON order. The prefix names
 * whose count it is:
 *   vm.      the simulated guest's workloads (the harness's vCPUs)
 *   hv.      the simulated hypervisor: requests it sent, what no server
 *            claimed, protocol failures, round trips, what a daemon left
 *   kern.    the simulated dom0 kernel's lending (privcmd)
 *   proc.    the daemon's process as the harness sees it
 *   mm.      the host's memory manager (host storms)
 *   daemon.  the daemon's own counters, from its stats file (`dm stats`)
 *   ctl.     the daemon's control socket as the harness, a client of it, sees it
 *            (STATS asked live; -1 when no daemon answers; ctl.c)
 * and time_us.L, bytes.L, digest.N belong to labelled workloads. The second
 * column is the name the metric had before these prefixes: `expect` still
 * accepts it (scenario files written elsewhere), nothing in this tree uses
 * it any more.
 *
 * X(id, name, old name, value): the value is an expression over h, hv, st
 * (the hypervisor's stats, NULL before a domain exists) and g.
 */
#define HVSTAT(x) (st ? LOAD(st->x) : 0)
#define METRICS(X)                                                                                 \
    X(ELAPSED, "elapsed_s", NULL, h_now() - h->t_start)                                            \
    X(VM_ACCESSES, "vm.accesses", "guest.accesses", LOAD(g->accesses))                             \
    X(VM_BYTES_READ, "vm.bytes_read", "guest.bytes_read", LOAD(g->bytes_read))                     \
    X(VM_BYTES_WRITTEN, "vm.bytes_written", "guest.bytes_written", LOAD(g->bytes_written))         \
    X(VM_BYTES_TOTAL, "vm.bytes_total", "guest.bytes_total",                                       \
      LOAD(g->bytes_read) + LOAD(g->bytes_written))                                                \
    X(VM_INTEGRITY, "vm.integrity_errors", "guest.integrity_errors", LOAD(g->integrity_errors))    \
    X(VM_STALE, "vm.stale_accesses", "guest.stale_accesses", LOAD(g->stale_accesses))              \
    X(VM_FAULTS, "vm.faults_injected", "guest.faults_injected", LOAD(g->faults_injected))          \
    X(VM_ABORTED, "vm.workloads_aborted", "guest.workloads_aborted", LOAD(g->workloads_aborted))   \
    X(VM_PCI_CONF1, "vm.pci_conf1", NULL, LOAD(g->pci_conf1))                                      \
    X(VM_PCI_BRIDGE, "vm.pci_host_bridge", NULL, LOAD(g->pci_host_bridge))                         \
    X(VM_PCI_FUNCS, "vm.pci_functions", NULL, LOAD(g->pci_functions))                              \
    X(HV_COPY, "hv.ioreq_copy", "ioreqs.copy", HVSTAT(ioreq_copy))                                 \
    X(HV_PCI, "hv.ioreq_pci_config", "ioreqs.pci_config", HVSTAT(ioreq_pci_config))                \
    X(HV_PIO, "hv.ioreq_pio", "ioreqs.pio", HVSTAT(ioreq_pio))                                     \
    X(HV_BUFFERED, "hv.ioreq_buffered", "ioreqs.buffered", HVSTAT(ioreq_buffered))                 \
    X(HV_INVALIDATE, "hv.ioreq_invalidate", "ioreqs.invalidate", HVSTAT(ioreq_invalidate))         \
    X(HV_ACCESS, "hv.ioreq_access", "ioreqs.access", HVSTAT(ioreq_access))                         \
    X(HV_TIMEOFFSET, "hv.ioreq_timeoffset", "ioreqs.timeoffset", HVSTAT(ioreq_timeoffset))         \
    X(HV_OTHER, "hv.ioreq_other", "ioreqs.other", HVSTAT(ioreq_other))                             \
    X(HV_EMULATED, "hv.emulated_bytes", "dm.emulated_bytes", HVSTAT(emulated_bytes))               \
    X(HV_COPY_P50, "hv.copy_p50_us", "latency_us.copy_p50",                                        \
      st ? latency_us(&st->lat_copy, 50) : 0)                                                      \
    X(HV_COPY_P99, "hv.copy_p99_us", "latency_us.copy_p99",                                        \
      st ? latency_us(&st->lat_copy, 99) : 0)                                                      \
    X(HV_ACCESS_P50, "hv.access_p50_us", "latency_us.access_p50",                                  \
      st ? latency_us(&st->lat_access, 50) : 0)                                                    \
    X(HV_ACCESS_P99, "hv.access_p99_us", "latency_us.access_p99",                                  \
      st ? latency_us(&st->lat_access, 99) : 0)                                                    \
    X(HV_UNCLAIMED_READS, "hv.unclaimed_reads", "xen.unclaimed_reads", HVSTAT(unclaimed_reads))    \
    X(HV_UNCLAIMED_WRITES, "hv.unclaimed_writes", "xen.unclaimed_writes",                          \
      HVSTAT(unclaimed_writes))                                                                    \
    X(HV_FAILURES, "hv.failures", "xen.failures", hv ? hv->nr_failures : 0)                        \
    X(HV_DOMAIN_STATE, "hv.domain_state", "xen.domain_state", hv ? hv->state : 0)                  \
    X(HV_EVENTS_TO, "hv.events_to_dom0", "xen.events_to_dom0", HVSTAT(events_to_dom0))             \
    X(HV_EVENTS_FROM, "hv.events_from_dom0", "xen.events_from_dom0",                               \
      hv ? LOAD(hv->evt->events_from_dom0) : 0)                                                    \
    X(HV_LENT, "hv.lent_pages_installed", "xen.lent_pages_installed",                              \
      hv ? (double)lend_pages_installed(hv) : 0)                                                   \
    X(HV_GUEST_CRASHES, "hv.guest_crashes", "xen.guest_crashes", HVSTAT(guest_crashes))            \
    X(HV_LEAKED_SERVERS, "hv.leaked_servers", "leaks.ioreq_servers", leaks_sum(h, 0))              \
    X(HV_LEAKED_PORTS, "hv.leaked_ports", "leaks.bound_ports", leaks_sum(h, 1))                    \
    X(HV_LEAKED_MAPPINGS, "hv.leaked_mappings", "leaks.foreign_mappings", leaks_sum(h, 2))         \
    X(HV_LEAKED_LENT, "hv.leaked_lent_pages", "leaks.lent_pages", leaks_sum(h, 3))                 \
    X(KERN_MAPPED, "kern.pages_mapped", "remap.pages_mapped", HVSTAT(lend_pages_mapped))           \
    X(KERN_INVALIDATED, "kern.pages_invalidated", "remap.pages_invalidated",                       \
      HVSTAT(lend_pages_invalidated))                                                              \
    X(KERN_EVICTED, "kern.pages_evicted", "remap.pages_evicted", HVSTAT(lend_pages_evicted))       \
    X(KERN_STALE, "kern.stale_installs_rejected", "remap.stale_installs_rejected",                 \
      HVSTAT(lend_stale_installs_rejected))                                                        \
    X(KERN_RETRIES, "kern.retries", "remap.retries", HVSTAT(lend_retries))                         \
    X(KERN_PEAK, "kern.peak_installed", NULL, HVSTAT(lend_peak_installed))                         \
    X(KERN_PTES_RESTORED, "kern.ptes_restored", NULL, HVSTAT(lend_ptes_restored))                  \
    X(KERN_AGE_CALLS, "kern.age_calls", NULL, HVSTAT(lend_age_calls))                              \
    X(KERN_PAGES_YOUNG, "kern.pages_young", NULL, HVSTAT(lend_pages_young))                        \
    X(PROC_EXIT, "proc.exit_status", "dm.exit_status", h->last_exit_status)                        \
    X(PROC_PEAK_RSS, "proc.peak_rss_kb", "dm.peak_rss_kb", (double)h->peak_rss_kb)                 \
    X(PROC_HWM, "proc.hwm_kb", "dm.hwm_kb", (double)h->dm_hwm_kb)                                  \
    X(PROC_RUNNING, "proc.running", "dm.running", h->dm.running)                                   \
    X(PROC_UID, "proc.uid", "dm.uid", h->dm.running ? dm_uid(h->dm.pid) : -1)                      \
    X(PROC_UNRESTRICTED, "proc.unrestricted_handles", "dm.unrestricted_handles",                   \
      h->dm.running &&hv ? hv_unrestricted_handles(hv, h->dm.pid) : 0)                             \
    X(PROC_KEEPER, "proc.keeper_handles", "dm.keeper_handles", hv ? hv_other_handles(hv) : 0)      \
    X(PROC_REGION_FDS, "proc.region_fds", NULL, ctl_region_fds(h))                                 \
    X(CTL_REGIONS, "ctl.regions", NULL, ctl_metric(h, 0))                                          \
    X(CTL_CLIENTS, "ctl.clients", NULL, ctl_metric(h, 1))                                          \
    X(CTL_CLIENTS_REFUSED, "ctl.clients_refused", NULL, ctl_metric(h, 2))                          \
    X(CTL_REFUSED, "ctl.refused", NULL, ctl_metric(h, 3))                                          \
    X(CTL_MAPPED_BYTES, "ctl.mapped_bytes", NULL, ctl_metric(h, 4))                                \
    X(MM_STORM_INV, "mm.storm_invalidations", "host.storm_invalidations",                          \
      LOAD(h->storm_invalidations))                                                                \
    X(MM_STORM_S, "mm.storm_seconds", "host.storm_seconds", LOAD(h->storm_us) / 1e6)

enum metric_id {
#define X(id, name, old, value) M_##id,
    METRICS(X)
#undef X
        M_COUNT,
};

static const struct {
    const char *name, *old;
} metric_names[M_COUNT] = {
#define X(id, name, old, value) [M_##id] = {name, old},
    METRICS(X)
#undef X
};

static double metric_value(struct harness *h, enum metric_id id)
{
    struct hv *hv = h->hv;
    struct hv_stats *st = hv ? &hv->stats : NULL;
    struct guest_stats *g = &h->gs;

    (void)st;
    (void)g;
    switch (id) {
#define X(id, name, old, value)                                                                   \
    case M_##id:                                                                                   \
        return (double)(value);
        METRICS(X)
#undef X
    case M_COUNT:
        break;
    }
    return 0;
}

/* A labelled workload's wall time (time_us.L; formerly time.L_us) or bytes moved (bytes.L). */
static bool timing_metric(struct harness *h, const char *name, double *out)
{
    bool is_time = name[0] == 't', found = false;
    const char *label;
    size_t llen;

    if (strncmp(name, "time_us.", 8) == 0) {
        label = name + 8;
        llen = strlen(label);
    } else if (strncmp(name, "time.", 5) == 0) {
        label = name + 5;
        llen = strlen(label);
        if (llen < 3 || strcmp(label + llen - 3, "_us") != 0)
            return false;
        llen -= 3;
    } else if (strncmp(name, "bytes.", 6) == 0) {
        label = name + 6;
        llen = strlen(label);
    } else {
        return false;
    }
    pthread_mutex_lock(&h->digest_lock);
    for (unsigned int i = 0; i < ARRAY_SIZE(h->timing); i++)
        if (h->timing[i].set && strlen(h->timing[i].label) == llen &&
            strncmp(h->timing[i].label, label, llen) == 0) {
            *out = (double)(is_time ? h->timing[i].us : h->timing[i].bytes);
            found = true;
        }
    pthread_mutex_unlock(&h->digest_lock);
    return found;
}

/* A named digest of guest-visible data (digest.N). */
static bool digest_metric(struct harness *h, const char *name, double *out)
{
    bool found = false;

    pthread_mutex_lock(&h->digest_lock);
    for (unsigned int i = 0; i < ARRAY_SIZE(h->digest); i++)
        if (h->digest[i].set && strcmp(h->digest[i].name, name + 7) == 0) {
            *out = (double)h->digest[i].value;
            found = true;
        }
    pthread_mutex_unlock(&h->digest_lock);
    return found;
}

bool metric_get(struct harness *h, const char *name, double *out)
{
    /* The daemon's own counters, as its stats file last said (formerly dmstat.). */
    if (strncmp(name, "daemon.", 7) == 0)
        return dm_stat(h, name + 7, out);
    if (strncmp(name, "dmstat.", 7) == 0)
        return dm_stat(h, name + 7, out);
    if (strncmp(name, "time_us.", 8) == 0 || strncmp(name, "time.", 5) == 0 ||
        strncmp(name, "bytes.", 6) == 0)
        return timing_metric(h, name, out);
    if (strncmp(name, "digest.", 7) == 0)
        return digest_metric(h, name, out);
    for (unsigned int i = 0; i < M_COUNT; i++) {
        if (strcmp(name, metric_names[i].name) == 0 ||
            (metric_names[i].old && strcmp(name, metric_names[i].old) == 0)) {
            *out = metric_value(h, (enum metric_id)i);
            return true;
        }
    }
    return false;
}

static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (; *s; s++) {
        if (*s == '"' || *s == '\\')
            fprintf(out, "\\%c", *s);
        else if ((unsigned char)*s < 0x20)
            fprintf(out, "\\u%04x", *s);
        else
            fputc(*s, out);
    }
    fputc('"', out);
}

static void json_number(FILE *out, double v)
{
    if (v == floor(v) && fabs(v) < 1e15)
        fprintf(out, "%.0f", v);
    else
        fprintf(out, "%.3f", v);
}

static bool report_ok(struct harness *h)
{
    return h->nr_failures == 0 && (!h->hv || h->hv->nr_failures == 0);
}

/* A histogram bucket's value in ns: its lower edge, as hv_hist_percentile() (hv.c) reads it. */
static uint64_t hist_bucket_ns(unsigned int b)
{
    return b / 8 < 3 ? b : (8ULL + b % 8) << (b / 8 - 3);
}

/* The non-empty buckets of a latency histogram, as [lower_edge_ns, count] pairs. */
static void json_hist(FILE *out, const struct hv_hist *hist)
{
    fputc('[', out);
    for (unsigned int b = 0, n = 0; b < HV_HIST_BUCKETS; b++) {
        uint64_t c = atomic_load_explicit(&hist->n[b], memory_order_relaxed);
        if (c)
            fprintf(out, "%s[%llu,%llu]", n++ ? "," : "", (unsigned long long)hist_bucket_ns(b),
                    (unsigned long long)c);
    }
    fputc(']', out);
}

void report_json(struct harness *h, FILE *out)
{
    char group[32] = "";

    fprintf(out, "{\"ok\":%s,\"failures\":[", report_ok(h) ? "true" : "false");
    for (unsigned int i = 0; i < h->nr_failures; i++) {
        fputs(i ? "," : "", out);
        json_string(out, h->failure[i]);
    }
    for (unsigned int i = 0; h->hv && i < h->hv->nr_failures; i++) {
        char buf[600];
        snprintf(buf, sizeof(buf), "xen: %s", h->hv->failure[i]);
        fputs(i || h->nr_failures ? "," : "", out);
        json_string(out, buf);
    }
    fputs("]", out);
    /* Dotted names become nested objects; the table is grouped by prefix. */
    for (unsigned int i = 0; i < M_COUNT; i++) {
        const char *name = metric_names[i].name, *dot = strchr(name, '.');
        double v = metric_value(h, (enum metric_id)i);

        if (!dot) {
            if (*group)
                fputs("}", out);
            group[0] = '\0';
            fprintf(out, ",\"%s\":", name);
        } else {
            size_t glen = (size_t)(dot - name);
            if (strlen(group) != glen || strncmp(group, name, glen) != 0) {
                if (*group)
                    fputs("}", out);
                snprintf(group, sizeof(group), "%.*s", (int)glen, name);
                fprintf(out, ",\"%s\":{", group);
            } else {
                fputs(",", out);
            }
            fprintf(out, "\"%s\":", dot + 1);
        }
        json_number(out, v);
    }
    if (*group)
        fputs("}", out);
    /* Labelled workloads and digests, when a scenario made any. */
    fputs(",\"time_us\":{", out);
    for (unsigned int i = 0, n = 0; i < sizeof(h->timing) / sizeof(h->timing[0]); i++)
        if (h->timing[i].set)
            fprintf(out, "%s\"%s\":%llu", n++ ? "," : "", h->timing[i].label,
                    (unsigned long long)h->timing[i].us);
    fputs("},\"bytes\":{", out);
    for (unsigned int i = 0, n = 0; i < sizeof(h->timing) / sizeof(h->timing[0]); i++)
        if (h->timing[i].set)
            fprintf(out, "%s\"%s\":%llu", n++ ? "," : "", h->timing[i].label,
                    (unsigned long long)h->timing[i].bytes);
    /* Digests as hex strings: a double would round a 64-bit hash. */
    fputs("},\"digest\":{", out);
    for (unsigned int i = 0, n = 0; i < sizeof(h->digest) / sizeof(h->digest[0]); i++)
        if (h->digest[i].set)
            fprintf(out, "%s\"%s\":\"0x%016llx\"", n++ ? "," : "", h->digest[i].name,
                    (unsigned long long)h->digest[i].value);
    fputs("}", out);
    /* The daemon's own counters as its stats file last said (`dm stats`), verbatim: daemon.* */
    if (h->dm_stats_json && h->dm_stats_json[0] == '{') {
        size_t n = strlen(h->dm_stats_json);

        while (n && isspace((unsigned char)h->dm_stats_json[n - 1]))
            n--;
        fprintf(out, ",\"daemon\":%.*s", (int)n, h->dm_stats_json);
    }
    /* The ioreq round-trip histograms behind latency_us.*_p50/p99. */
    if (h->hv) {
        fputs(",\"latency_hist_ns\":{\"copy\":", out);
        json_hist(out, &h->hv->stats.lat_copy);
        fputs(",\"access\":", out);
        json_hist(out, &h->hv->stats.lat_access);
        fputs("}", out);
    }
    fputs("}\n", out);
}

static double metric(struct harness *h, const char *name)
{
    double v = 0;
    metric_get(h, name, &v);
    return v;
}

void report_summary(struct harness *h, FILE *out)
{
    fprintf(out, "\n== %s: %s in %.2f s ==\n", h->scenario_path,
            report_ok(h) ? "PASS" : "FAIL", metric(h, "elapsed_s"));
    fprintf(out, "vm        %.0f accesses, %.2f MiB written, %.2f MiB read, "
                 "%.0f integrity errors, %.0f stale, %.0f faults\n",
            metric(h, "vm.accesses"), metric(h, "vm.bytes_written") / (1 << 20),
            metric(h, "vm.bytes_read") / (1 << 20), metric(h, "vm.integrity_errors"),
            metric(h, "vm.stale_accesses"), metric(h, "vm.faults_injected"));
    fprintf(out, "hv        copy %.0f, pci_config %.0f, pio %.0f, buffered %.0f, "
                 "invalidate %.0f, access %.0f\n",
            metric(h, "hv.ioreq_copy"), metric(h, "hv.ioreq_pci_config"), metric(h, "hv.ioreq_pio"),
            metric(h, "hv.ioreq_buffered"), metric(h, "hv.ioreq_invalidate"),
            metric(h, "hv.ioreq_access"));
    fprintf(out, "hv        round trips: copy p50 %.1f us, p99 %.1f us; access p50 %.1f us, p99 %.1f us\n",
            metric(h, "hv.copy_p50_us"), metric(h, "hv.copy_p99_us"),
            metric(h, "hv.access_p50_us"), metric(h, "hv.access_p99_us"));
    fprintf(out, "proc      exit status %.0f, peak RSS %.0f KiB; hv: %.2f MiB emulated\n",
            metric(h, "proc.exit_status"), metric(h, "proc.peak_rss_kb"),
            metric(h, "hv.emulated_bytes") / (1 << 20));
    fprintf(out, "kern      %.0f mapped, %.0f invalidated, %.0f evicted, %.0f stale installs "
                 "rejected, %.0f retries\n",
            metric(h, "kern.pages_mapped"), metric(h, "kern.pages_invalidated"),
            metric(h, "kern.pages_evicted"), metric(h, "kern.stale_installs_rejected"),
            metric(h, "kern.retries"));
    fprintf(out, "hv leaks  servers %.0f, ports %.0f, mappings %.0f, lent pages %.0f\n",
            metric(h, "hv.leaked_servers"), metric(h, "hv.leaked_ports"),
            metric(h, "hv.leaked_mappings"), metric(h, "hv.leaked_lent_pages"));
    fprintf(out, "expects   %u checked, %u failed\n", h->nr_expects, h->nr_expects_failed);
    for (unsigned int i = 0; i < h->nr_failures; i++)
        fprintf(out, "FAILED: %s\n", h->failure[i]);
    for (unsigned int i = 0; h->hv && i < h->hv->nr_failures; i++)
        fprintf(out, "FAILED (xen): %s\n", h->hv->failure[i]);
}

static void *progress_main(void *arg)
{
    struct harness *h = arg;
    bool tty = isatty(STDERR_FILENO);
    unsigned int tick = 0;

    while (!atomic_load(&h->progress_stop)) {
        struct timespec ts = {.tv_sec = 0, .tv_nsec = 250000000};
        nanosleep(&ts, NULL); /* a display refresh period, not synchronisation */
        if (!tty && ++tick % 8)
            continue;
        fprintf(stderr, "%s[%6.1fs] guest %7.1f MiB w %7.1f MiB r | ioreqs copy %-8.0f cfg %-5.0f "
                        "access %-7.0f | errors %.0f%s",
                tty ? "\r" : "", metric(h, "elapsed_s"),
                metric(h, "vm.bytes_written") / (1 << 20),
                metric(h, "vm.bytes_read") / (1 << 20), metric(h, "hv.ioreq_copy"),
                metric(h, "hv.ioreq_pci_config"), metric(h, "hv.ioreq_access"),
                metric(h, "vm.integrity_errors") + metric(h, "hv.failures") + h->nr_failures,
                tty ? "  " : "\n");
    }
    if (tty)
        fputc('\n', stderr);
    return NULL;
}

void progress_start(struct harness *h)
{
    atomic_store(&h->progress_stop, false);
    if (pthread_create(&h->progress_thread, NULL, progress_main, h))
        h->progress = false;
}

void progress_stop(struct harness *h)
{
    atomic_store(&h->progress_stop, true);
    pthread_join(h->progress_thread, NULL);
}
