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

/* The metric table: JSON order, and the names `expect` accepts. */
static const char *const metric_names[] = {
    "elapsed_s",
    "guest.accesses", "guest.bytes_read", "guest.bytes_written", "guest.bytes_total",
    "guest.integrity_errors", "guest.stale_accesses", "guest.faults_injected",
    "guest.workloads_aborted",
    "ioreqs.copy", "ioreqs.pci_config", "ioreqs.pio", "ioreqs.buffered", "ioreqs.invalidate",
    "ioreqs.access", "ioreqs.timeoffset", "ioreqs.other",
    "dm.emulated_bytes", "dm.exit_status", "dm.peak_rss_kb", "dm.running", "dm.uid",
    "dm.unrestricted_handles", "dm.hwm_kb", "dm.keeper_handles",
    "latency_us.copy_p50", "latency_us.copy_p99", "latency_us.access_p50",
    "latency_us.access_p99",
    "leaks.ioreq_servers", "leaks.bound_ports", "leaks.foreign_mappings", "leaks.lent_pages",
    "remap.pages_mapped", "remap.pages_invalidated", "remap.pages_evicted",
    "remap.stale_installs_rejected", "remap.retries",
    "xen.unclaimed_reads", "xen.unclaimed_writes", "xen.failures", "xen.domain_state",
    "xen.events_to_dom0", "xen.events_from_dom0", "xen.lent_pages_installed",
    "xen.guest_crashes",
    "host.storm_invalidations", "host.storm_seconds",
};

bool metric_get(struct harness *h, const char *name, double *out)
{
    struct hv *hv = h->hv;
    struct hv_stats *st = hv ? &hv->stats : NULL;
    struct guest_stats *g = &h->gs;
    double v = 0;

#define IS(n) (strcmp(name, n) == 0)
    /* The daemon's own counters, as its stats file last said. */
    if (strncmp(name, "dmstat.", 7) == 0) {
        if (!dm_stat(h, name + 7, &v))
            return false;
        *out = v;
        return true;
    }
    /* A labelled workload's wall time (time.L_us) or bytes moved (bytes.L). */
    if (strncmp(name, "time.", 5) == 0 || strncmp(name, "bytes.", 6) == 0) {
        bool is_time = name[0] == 't', found = false;
        const char *label = name + (is_time ? 5 : 6);
        size_t llen = strlen(label);

        if (is_time && (llen < 3 || strcmp(label + llen - 3, "_us") != 0))
            return false;
        if (is_time)
            llen -= 3;
        pthread_mutex_lock(&h->digest_lock);
        for (unsigned int i = 0; i < sizeof(h->timing) / sizeof(h->timing[0]); i++)
            if (h->timing[i].set && strlen(h->timing[i].label) == llen &&
                strncmp(h->timing[i].label, label, llen) == 0) {
                v = (double)(is_time ? h->timing[i].us : h->timing[i].bytes);
                found = true;
            }
        pthread_mutex_unlock(&h->digest_lock);
        if (!found)
            return false;
        *out = v;
        return true;
    }
    /* A named digest of guest-visible data. */
    if (strncmp(name, "digest.", 7) == 0) {
        bool found = false;
        pthread_mutex_lock(&h->digest_lock);
        for (unsigned int i = 0; i < sizeof(h->digest) / sizeof(h->digest[0]); i++)
            if (h->digest[i].set && strcmp(h->digest[i].name, name + 7) == 0) {
                v = (double)h->digest[i].value;
                found = true;
            }
        pthread_mutex_unlock(&h->digest_lock);
        if (!found)
            return false;
        *out = v;
        return true;
    }
    if (IS("elapsed_s"))
        v = h_now() - h->t_start;
    else if (IS("guest.accesses"))
        v = LOAD(g->accesses);
    else if (IS("guest.bytes_read"))
        v = LOAD(g->bytes_read);
    else if (IS("guest.bytes_written"))
        v = LOAD(g->bytes_written);
    else if (IS("guest.bytes_total"))
        v = LOAD(g->bytes_read) + LOAD(g->bytes_written);
    else if (IS("guest.integrity_errors"))
        v = LOAD(g->integrity_errors);
    else if (IS("guest.stale_accesses"))
        v = LOAD(g->stale_accesses);
    else if (IS("guest.faults_injected"))
        v = LOAD(g->faults_injected);
    else if (IS("guest.workloads_aborted"))
        v = LOAD(g->workloads_aborted);
    else if (IS("dm.exit_status"))
        v = h->last_exit_status;
    else if (IS("dm.peak_rss_kb"))
        v = (double)h->peak_rss_kb;
    else if (IS("dm.hwm_kb"))
        v = (double)h->dm_hwm_kb;
    else if (IS("dm.running"))
        v = h->dm.running;
    else if (IS("dm.uid"))
        v = h->dm.running ? dm_uid(h->dm.pid) : -1;
    else if (IS("dm.unrestricted_handles"))
        v = h->dm.running && hv ? hv_unrestricted_handles(hv, h->dm.pid) : 0;
    else if (IS("dm.keeper_handles"))
        v = hv ? hv_other_handles(hv) : 0;
    else if (IS("leaks.ioreq_servers"))
        v = leaks_sum(h, 0);
    else if (IS("leaks.bound_ports"))
        v = leaks_sum(h, 1);
    else if (IS("leaks.foreign_mappings"))
        v = leaks_sum(h, 2);
    else if (IS("leaks.lent_pages"))
        v = leaks_sum(h, 3);
    else if (IS("xen.failures"))
        v = hv ? hv->nr_failures : 0;
    else if (IS("host.storm_invalidations"))
        v = LOAD(h->storm_invalidations);
    else if (IS("host.storm_seconds"))
        v = LOAD(h->storm_us) / 1e6;
    else if (IS("xen.guest_crashes"))
        v = st ? LOAD(st->guest_crashes) : 0;
    else if (IS("xen.lent_pages_installed"))
        v = hv ? (double)lend_pages_installed(hv) : 0;
    else if (!st) {
        /* Every other metric is the hypervisor's, zero until a domain exists. */
        bool known = false;
        for (unsigned int i = 0; i < ARRAY_SIZE(metric_names); i++)
            known |= IS(metric_names[i]);
        if (!known)
            return false;
    } else if (IS("ioreqs.copy"))
        v = LOAD(st->ioreq_copy);
    else if (IS("ioreqs.pci_config"))
        v = LOAD(st->ioreq_pci_config);
    else if (IS("ioreqs.pio"))
        v = LOAD(st->ioreq_pio);
    else if (IS("ioreqs.buffered"))
        v = LOAD(st->ioreq_buffered);
    else if (IS("ioreqs.invalidate"))
        v = LOAD(st->ioreq_invalidate);
    else if (IS("ioreqs.access"))
        v = LOAD(st->ioreq_access);
    else if (IS("ioreqs.timeoffset"))
        v = LOAD(st->ioreq_timeoffset);
    else if (IS("ioreqs.other"))
        v = LOAD(st->ioreq_other);
    else if (IS("dm.emulated_bytes"))
        v = LOAD(st->emulated_bytes);
    else if (IS("latency_us.copy_p50"))
        v = latency_us(&st->lat_copy, 50);
    else if (IS("latency_us.copy_p99"))
        v = latency_us(&st->lat_copy, 99);
    else if (IS("latency_us.access_p50"))
        v = latency_us(&st->lat_access, 50);
    else if (IS("latency_us.access_p99"))
        v = latency_us(&st->lat_access, 99);
    else if (IS("remap.pages_mapped"))
        v = LOAD(st->lend_pages_mapped);
    else if (IS("remap.pages_invalidated"))
        v = LOAD(st->lend_pages_invalidated);
    else if (IS("remap.pages_evicted"))
        v = LOAD(st->lend_pages_evicted);
    else if (IS("remap.stale_installs_rejected"))
        v = LOAD(st->lend_stale_installs_rejected);
    else if (IS("remap.retries"))
        v = LOAD(st->lend_retries);
    else if (IS("xen.unclaimed_reads"))
        v = LOAD(st->unclaimed_reads);
    else if (IS("xen.unclaimed_writes"))
        v = LOAD(st->unclaimed_writes);
    else if (IS("xen.domain_state"))
        v = hv->state;
    else if (IS("xen.events_to_dom0"))
        v = LOAD(st->events_to_dom0);
    else if (IS("xen.events_from_dom0"))
        v = LOAD(hv->evt->events_from_dom0);
    else
        return false;
#undef IS
    *out = v;
    return true;
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
    for (unsigned int i = 0; i < ARRAY_SIZE(metric_names); i++) {
        const char *name = metric_names[i], *dot = strchr(name, '.');
        double v = 0;

        metric_get(h, name, &v);
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
    /* The daemon's own counters as its stats file last said (`dm stats`), verbatim. */
    if (h->dm_stats_json && h->dm_stats_json[0] == '{') {
        size_t n = strlen(h->dm_stats_json);

        while (n && isspace((unsigned char)h->dm_stats_json[n - 1]))
            n--;
        fprintf(out, ",\"dmstat\":%.*s", (int)n, h->dm_stats_json);
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
    fprintf(out, "guest     %.0f accesses, %.2f MiB written, %.2f MiB read, "
                 "%.0f integrity errors, %.0f stale, %.0f faults\n",
            metric(h, "guest.accesses"), metric(h, "guest.bytes_written") / (1 << 20),
            metric(h, "guest.bytes_read") / (1 << 20), metric(h, "guest.integrity_errors"),
            metric(h, "guest.stale_accesses"), metric(h, "guest.faults_injected"));
    fprintf(out, "ioreqs    copy %.0f, pci_config %.0f, pio %.0f, buffered %.0f, "
                 "invalidate %.0f, access %.0f\n",
            metric(h, "ioreqs.copy"), metric(h, "ioreqs.pci_config"), metric(h, "ioreqs.pio"),
            metric(h, "ioreqs.buffered"), metric(h, "ioreqs.invalidate"),
            metric(h, "ioreqs.access"));
    fprintf(out, "latency   copy p50 %.1f us, p99 %.1f us; access p50 %.1f us, p99 %.1f us\n",
            metric(h, "latency_us.copy_p50"), metric(h, "latency_us.copy_p99"),
            metric(h, "latency_us.access_p50"), metric(h, "latency_us.access_p99"));
    fprintf(out, "dm        %.2f MiB emulated, exit status %.0f, peak RSS %.0f KiB\n",
            metric(h, "dm.emulated_bytes") / (1 << 20), metric(h, "dm.exit_status"),
            metric(h, "dm.peak_rss_kb"));
    fprintf(out, "remap     %.0f mapped, %.0f invalidated, %.0f evicted, %.0f stale installs "
                 "rejected, %.0f retries\n",
            metric(h, "remap.pages_mapped"), metric(h, "remap.pages_invalidated"),
            metric(h, "remap.pages_evicted"), metric(h, "remap.stale_installs_rejected"),
            metric(h, "remap.retries"));
    fprintf(out, "leaks     servers %.0f, ports %.0f, mappings %.0f, lent pages %.0f\n",
            metric(h, "leaks.ioreq_servers"), metric(h, "leaks.bound_ports"),
            metric(h, "leaks.foreign_mappings"), metric(h, "leaks.lent_pages"));
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
                metric(h, "guest.bytes_written") / (1 << 20),
                metric(h, "guest.bytes_read") / (1 << 20), metric(h, "ioreqs.copy"),
                metric(h, "ioreqs.pci_config"), metric(h, "ioreqs.access"),
                metric(h, "guest.integrity_errors") + metric(h, "xen.failures") + h->nr_failures,
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
