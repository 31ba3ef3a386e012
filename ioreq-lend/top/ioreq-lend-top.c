/* SPDX-License-Identifier: MIT */
/*
 * ioreq-lend-top: every daemon on the host, one line each, from the stats
 * files the daemons rewrite every second (STATE_DIR/domN-SSSS:BB:DD.F.json,
 * the launchers' default --stats). Refreshed like xentop, or once, as JSON,
 * or in Prometheus' text exposition format (node_exporter's textfile
 * collector).
 *
 * A file is read once, at most STATS_MAX bytes, and parsed strictly: an
 * object of groups, each an object of unsigned integers, plus "mode" (a word)
 * and "latency_ns" (histograms, latency.h). Anything else (a
 * half-written or truncated file, garbage, a FIFO, a directory) is shown as
 * "broken: why" on its line, never a crash. Whether the daemon still runs is
 * read from /proc/locks (the flock on its STATE_DIR/....lock), without
 * taking that lock: a probe must never make a starting daemon fail.
 *
 * Exit status: 0; 2 a bad command line or an unreadable state directory.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <time.h>
#include <unistd.h>

#include "latency.h"
#include "options.h"

#define EXIT_BAD     2
#define STATS_MAX    65536 /* a stats file is about 2 KiB */
#define MAX_DAEMONS  256
#define MAX_COUNTERS 128
#define NAME_MAX_LEN 64

struct counter {
    char name[NAME_MAX_LEN]; /* "group.name" */
    uint64_t value;
};

struct daemon_view {
    char file[NAME_MAX_LEN]; /* domN-SSSS:BB:DD.F.json */
    unsigned int domid;
    char bdf[16];
    const char *status; /* running, exited */
    char error[128];    /* non-empty: the file is broken */
    struct counter c[MAX_COUNTERS];
    int n;
    char mode[16];                 /* "lend", "emulate"; empty: the file does not say */
    bool have_lat[LAT_KINDS];      /* the file has this kind's histogram */
    struct lat_hist lat[LAT_KINDS];
};

static void usage(FILE *out)
{
    fputs("Usage: ioreq-lend-top [--state-dir DIR] [--once] [--json | --prometheus]\n"
          "                      [--interval SECONDS]\n"
          "\n"
          "Every ioreq-lend daemon on this host, one line each, from the stats files in\n"
          "the state directory (DIR/domN-SSSS:BB:DD.F.json). Refreshed every interval\n"
          "until interrupted, with request rates; --once prints the totals once.\n"
          "\n"
          "Options:\n"
          "  --state-dir DIR       the daemons' --state-dir (default " OPT_DEFAULT_STATE_DIR ")\n"
          "  --once                print once and exit\n"
          "  --json                once, as a JSON array: one object per daemon\n"
          "  --prometheus          once, in Prometheus' text format (for node_exporter's\n"
          "                        textfile collector): ioreq_lend_GROUP_NAME{domid,bdf},\n"
          "                        ioreq_lend_mode, ioreq_lend_request_duration_seconds\n"
          "  --interval SECONDS    refresh period (default 2, 1 to 3600)\n"
          "  -h, --help            print this help and exit\n"
          "\n"
          "FAULT-P50 and FAULT-P99: the service time of the requests the guest's BAR\n"
          "accesses wait on (access-only faults when lending, COPY when emulating).\n"
          "STATUS is running (the daemon holds its slot's lock), exited (a stats file\n"
          "left by a daemon that is gone), or broken: why (a file that is not a\n"
          "complete stats file).\n"
          "\n"
          "Exit status: 0; 2 a bad command line or an unreadable state directory.\n",
          out);
}

/* ---- The stats file: {"group":{"name":N,...},...}, strictly ---- */

struct parser {
    const char *p, *end, *start;
    char *err;
    size_t errlen;
};

static bool fail(struct parser *ps, const char *what)
{
    snprintf(ps->err, ps->errlen, "%s at byte %td", what, ps->p - ps->start);
    return false;
}

static void skip_ws(struct parser *ps)
{
    while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\n' || *ps->p == '\t' || *ps->p == '\r'))
        ps->p++;
}

static bool expect(struct parser *ps, char ch)
{
    skip_ws(ps);
    if (ps->p >= ps->end)
        return fail(ps, "truncated");
    if (*ps->p != ch) {
        char what[32];
        snprintf(what, sizeof(what), "expected '%c'", ch);
        return fail(ps, what);
    }
    ps->p++;
    return true;
}

/* A key: letters, digits and '_' only (the daemon's names), at most len-1. */
static bool parse_key(struct parser *ps, char *out, size_t len)
{
    size_t n = 0;

    if (!expect(ps, '"'))
        return false;
    while (ps->p < ps->end && *ps->p != '"') {
        char ch = *ps->p;
        if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
              ch == '_'))
            return fail(ps, "bad character in a name");
        if (n + 1 >= len)
            return fail(ps, "name too long");
        out[n++] = ch;
        ps->p++;
    }
    if (ps->p >= ps->end)
        return fail(ps, "truncated");
    if (n == 0)
        return fail(ps, "empty name");
    out[n] = '\0';
    ps->p++;
    return true;
}

static bool parse_u64(struct parser *ps, uint64_t *v)
{
    const char *s;

    skip_ws(ps);
    s = ps->p;
    *v = 0;
    while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
        unsigned int d = (unsigned int)(*ps->p - '0');
        if (*v > (UINT64_MAX - d) / 10)
            return fail(ps, "number too large");
        *v = *v * 10 + d;
        ps->p++;
    }
    if (ps->p == s)
        return fail(ps, ps->p >= ps->end ? "truncated" : "expected a number");
    if (ps->p - s > 1 && *s == '0')
        return fail(ps, "leading zero");
    return true;
}

/* After an object's member: ',' (*more: another follows) or its closing '}'. */
static bool member_end(struct parser *ps, bool *more)
{
    skip_ws(ps);
    *more = ps->p < ps->end && *ps->p == ',';
    if (*more) {
        ps->p++;
        return true;
    }
    return expect(ps, '}');
}

/* A short word value: lowercase letters only (the daemon's mode names). */
static bool parse_word(struct parser *ps, char *out, size_t len)
{
    size_t n = 0;

    if (!expect(ps, '"'))
        return false;
    while (ps->p < ps->end && *ps->p != '"') {
        if (*ps->p < 'a' || *ps->p > 'z')
            return fail(ps, "bad character in a word");
        if (n + 1 >= len)
            return fail(ps, "word too long");
        out[n++] = *ps->p++;
    }
    if (ps->p >= ps->end)
        return fail(ps, "truncated");
    if (n == 0)
        return fail(ps, "empty word");
    out[n] = '\0';
    ps->p++;
    return true;
}

/* [N,...] of exactly LAT_BUCKETS unsigned integers. */
static bool parse_buckets(struct parser *ps, uint64_t *b)
{
    if (!expect(ps, '['))
        return false;
    for (unsigned int i = 0; i < LAT_BUCKETS; i++) {
        if (!parse_u64(ps, &b[i]) || !expect(ps, i + 1 < LAT_BUCKETS ? ',' : ']'))
            return false;
    }
    return true;
}

/* {"count":N,"sum":N,"buckets":[...]}: each once, the buckets adding up to count. */
static bool parse_histogram(struct parser *ps, struct lat_hist *h)
{
    bool have_count = false, have_sum = false, have_buckets = false, more;
    uint64_t total = 0;
    char key[16];

    if (!expect(ps, '{'))
        return false;
    do {
        if (!parse_key(ps, key, sizeof(key)) || !expect(ps, ':'))
            return false;
        if (strcmp(key, "count") == 0 && !have_count) {
            have_count = parse_u64(ps, &h->count);
            if (!have_count)
                return false;
        } else if (strcmp(key, "sum") == 0 && !have_sum) {
            have_sum = parse_u64(ps, &h->sum_ns);
            if (!have_sum)
                return false;
        } else if (strcmp(key, "buckets") == 0 && !have_buckets) {
            have_buckets = parse_buckets(ps, h->bucket);
            if (!have_buckets)
                return false;
        } else {
            return fail(ps, "unknown or repeated histogram member");
        }
        if (!member_end(ps, &more))
            return false;
    } while (more);
    if (!have_count || !have_sum || !have_buckets)
        return fail(ps, "histogram without count, sum or buckets");
    for (unsigned int i = 0; i < LAT_BUCKETS; i++) {
        if (total > UINT64_MAX - h->bucket[i])
            return fail(ps, "histogram buckets overflow");
        total += h->bucket[i];
    }
    if (total != h->count)
        return fail(ps, "histogram buckets do not add up to its count");
    return true;
}

/* "latency_ns":{"KIND":histogram,...}; kinds this view does not know are checked and skipped. */
static bool parse_latency(struct parser *ps, struct daemon_view *d)
{
    char kind[NAME_MAX_LEN / 2];
    bool more;

    if (!expect(ps, '{'))
        return false;
    skip_ws(ps);
    if (ps->p < ps->end && *ps->p == '}') {
        ps->p++;
        return true;
    }
    do {
        struct lat_hist h = {0};
        unsigned int k;

        if (!parse_key(ps, kind, sizeof(kind)) || !expect(ps, ':') || !parse_histogram(ps, &h))
            return false;
        for (k = 0; k < LAT_KINDS && strcmp(lat_kind_name(k), kind) != 0; k++)
            ;
        if (k < LAT_KINDS) {
            if (d->have_lat[k])
                return fail(ps, "repeated histogram");
            d->lat[k] = h;
            d->have_lat[k] = true;
        }
        if (!member_end(ps, &more))
            return false;
    } while (more);
    return true;
}

/* A counter group's members, after its '{': unsigned integers, "group.name" in d. */
static bool parse_group(struct parser *ps, const char *group, struct daemon_view *d)
{
    char name[NAME_MAX_LEN / 2];
    bool more;

    do {
        uint64_t v;
        if (!parse_key(ps, name, sizeof(name)) || !expect(ps, ':') || !parse_u64(ps, &v))
            return false;
        if (d->n >= MAX_COUNTERS)
            return fail(ps, "too many counters");
        snprintf(d->c[d->n].name, sizeof(d->c[d->n].name), "%s.%s", group, name);
        d->c[d->n++].value = v;
        if (!member_end(ps, &more))
            return false;
    } while (more);
    return true;
}

static bool parse_stats(const char *buf, size_t len, struct daemon_view *d)
{
    struct parser ps = {
        .p = buf, .end = buf + len, .start = buf, .err = d->error, .errlen = sizeof(d->error)};
    char group[NAME_MAX_LEN / 2];
    bool more;

    d->n = 0;
    if (!expect(&ps, '{'))
        return false;
    skip_ws(&ps);
    if (ps.p < ps.end && *ps.p == '}')
        return fail(&ps, "no counters");
    for (;;) {
        if (!parse_key(&ps, group, sizeof(group)) || !expect(&ps, ':'))
            return false;
        /* Two members are not counter groups: the mode and the latency histograms. */
        if (strcmp(group, "mode") == 0) {
            if (d->mode[0])
                return fail(&ps, "repeated mode");
            if (!parse_word(&ps, d->mode, sizeof(d->mode)))
                return false;
        } else if (strcmp(group, "latency_ns") == 0) {
            if (!parse_latency(&ps, d))
                return false;
        } else {
            if (!expect(&ps, '{') || !parse_group(&ps, group, d))
                return false;
        }
        if (!member_end(&ps, &more))
            return false;
        if (!more)
            break;
    }
    skip_ws(&ps);
    if (ps.p != ps.end)
        return fail(&ps, "data after the object");
    if (d->n == 0)
        return fail(&ps, "no counters");
    return true;
}

static uint64_t get(const struct daemon_view *d, const char *name)
{
    for (int i = 0; i < d->n; i++)
        if (strcmp(d->c[i].name, name) == 0)
            return d->c[i].value;
    return 0;
}

/* ---- One directory scan ---- */

/* Does a process hold an flock on path? From /proc/locks, taking no lock. */
static bool lock_held(const char *path)
{
    struct stat st;
    char line[256];
    bool held = false;
    FILE *f;

    if (stat(path, &st) < 0)
        return false;
    f = fopen("/proc/locks", "re");
    if (!f)
        return false;
    while (!held && fgets(line, sizeof(line), f)) {
        unsigned int maj, min;
        unsigned long long ino;
        char kind[16];
        const char *p = strchr(line, ':');
        /* "1: FLOCK  ADVISORY  WRITE 1234 08:01:5678 0 EOF" ("-> " for waiters) */
        if (!p || sscanf(p + 1, " %15s %*s %*s %*d %x:%x:%llu", kind, &maj, &min, &ino) != 4)
            continue;
        held = strcmp(kind, "FLOCK") == 0 && maj == major(st.st_dev) && min == minor(st.st_dev) &&
               ino == (unsigned long long)st.st_ino;
    }
    fclose(f);
    return held;
}

/* domN-SSSS:BB:DD.F.json exactly: the name the launchers give --stats. */
static bool stats_name(const char *name, unsigned int *domid, char *bdf, size_t bdflen)
{
    unsigned int seg, bus, dev, fn;
    char again[NAME_MAX_LEN];

    if (strlen(name) >= NAME_MAX_LEN ||
        sscanf(name, "dom%u-%4x:%2x:%2x.%1x.json", domid, &seg, &bus, &dev, &fn) != 5)
        return false;
    snprintf(again, sizeof(again), "dom%u-%04x:%02x:%02x.%x.json", *domid, seg, bus, dev, fn);
    if (strcmp(again, name) != 0 || dev > 0x1f || fn > 7)
        return false;
    snprintf(bdf, bdflen, "%04x:%02x:%02x.%x", seg, bus, dev, fn);
    return true;
}

static void read_one(int dirfd, const char *dir, struct daemon_view *d)
{
    static char buf[STATS_MAX + 1];
    char lock[4096];
    struct stat st;
    size_t len = 0;
    int fd;

    snprintf(lock, sizeof(lock), "%s/%.*s.lock", dir, (int)(strlen(d->file) - 5), d->file);
    d->status = lock_held(lock) ? "running" : "exited";
    /* O_NONBLOCK: a FIFO of that name must not hang the view. */
    fd = openat(dirfd, d->file, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf(d->error, sizeof(d->error), "%s", strerror(errno));
        return;
    }
    if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
        snprintf(d->error, sizeof(d->error), "not a regular file");
        close(fd);
        return;
    }
    while (len < sizeof(buf)) {
        ssize_t r = read(fd, buf + len, sizeof(buf) - len);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            snprintf(d->error, sizeof(d->error), "%s", strerror(errno));
            close(fd);
            return;
        }
        if (r == 0)
            break;
        len += (size_t)r;
    }
    close(fd);
    if (len > STATS_MAX) {
        snprintf(d->error, sizeof(d->error), "larger than %d bytes", STATS_MAX);
        return;
    }
    if (len == 0) {
        snprintf(d->error, sizeof(d->error), "empty");
        return;
    }
    parse_stats(buf, len, d);
}

static int cmp_view(const void *a, const void *b)
{
    const struct daemon_view *x = a, *y = b;
    if (x->domid != y->domid)
        return x->domid < y->domid ? -1 : 1;
    return strcmp(x->bdf, y->bdf);
}

/* Fill v[] from dir; the count, or -errno. Files beyond MAX_DAEMONS are left out. */
static int scan(const char *dir, struct daemon_view *v)
{
    DIR *dp = opendir(dir);
    struct dirent *e;
    int n = 0;

    if (!dp)
        return -errno;
    while (n < MAX_DAEMONS && (e = readdir(dp))) {
        struct daemon_view *d = &v[n];
        memset(d, 0, sizeof(*d));
        if (!stats_name(e->d_name, &d->domid, d->bdf, sizeof(d->bdf)))
            continue;
        snprintf(d->file, sizeof(d->file), "%s", e->d_name);
        read_one(dirfd(dp), dir, d);
        n++;
    }
    closedir(dp);
    qsort(v, (size_t)n, sizeof(*v), cmp_view);
    return n;
}

/* ---- Output ---- */

/* Requests of every kind the daemon serves. */
static uint64_t requests(const struct daemon_view *d)
{
    return get(d, "ioreqs.copy") + get(d, "ioreqs.pci_config") + get(d, "ioreqs.pio") +
           get(d, "ioreqs.access") + get(d, "ioreqs.invalidate");
}

static uint64_t errors(const struct daemon_view *d)
{
    return get(d, "ioreqs.rejected") + get(d, "pci.config_errors") +
           get(d, "pci.window_change_failures") + get(d, "remap.map_failures") +
           get(d, "remap.faults") + get(d, "ctl.refused") + get(d, "ctl.bus_errors");
}

static const struct daemon_view *find_prev(const struct daemon_view *prev, int nprev,
                                           const struct daemon_view *d)
{
    for (int i = 0; i < nprev; i++)
        if (!prev[i].error[0] && strcmp(prev[i].file, d->file) == 0)
            return &prev[i];
    return NULL;
}

/* A rate per second from two samples, or the total when there is no earlier one. */
static double rate(const struct daemon_view *d, const struct daemon_view *p, double dt,
                   uint64_t (*f)(const struct daemon_view *))
{
    if (!p || dt <= 0)
        return (double)f(d);
    uint64_t now = f(d), then = f(p);
    return now >= then ? (double)(now - then) / dt : 0; /* a restarted daemon counts from 0 */
}

static uint64_t f_copy(const struct daemon_view *d)
{
    return get(d, "ioreqs.copy");
}
static uint64_t f_access(const struct daemon_view *d)
{
    return get(d, "ioreqs.access");
}
static uint64_t f_config(const struct daemon_view *d)
{
    return get(d, "ioreqs.pci_config") + get(d, "ioreqs.pio");
}

/*
 * The histogram of the requests a guest's BAR access stalls on: access-only
 * faults in lend mode, COPY requests in emulation (where every access is
 * one). NULL if the file has none.
 */
static const struct lat_hist *fault_latency(const struct daemon_view *d, const char **kind)
{
    enum lat_kind k = strcmp(d->mode, "emulate") == 0 ? LAT_COPY : LAT_ACCESS;

    if (!d->mode[0] && d->have_lat[LAT_COPY] && !d->lat[LAT_ACCESS].count)
        k = LAT_COPY; /* no mode said: whichever kind the BAR's accesses made */
    *kind = lat_kind_name(k);
    return d->have_lat[k] ? &d->lat[k] : NULL;
}

/* A duration for the table: "850ns", "12.3us", "4.1ms", "1.20s"; "-" for none. */
static void format_ns(char *out, size_t len, const struct lat_hist *h, double q)
{
    double ns;

    if (!h || h->count == 0) {
        snprintf(out, len, "-");
        return;
    }
    ns = (double)lat_hist_quantile(h, q);
    if (ns < 1e3)
        snprintf(out, len, "%.0fns", ns);
    else if (ns < 1e6)
        snprintf(out, len, "%.1fus", ns / 1e3);
    else if (ns < 1e9)
        snprintf(out, len, "%.1fms", ns / 1e6);
    else
        snprintf(out, len, "%.2fs", ns / 1e9);
}

static void print_table(const struct daemon_view *v, int n, const struct daemon_view *prev,
                        int nprev, double dt)
{
    bool rates = prev && dt > 0;

    printf("%-6s %-12s %-8s %-7s %10s %10s %10s %10s %9s %9s %9s %7s %9s %9s\n", "DOMAIN", "BDF",
           "STATUS", "MODE", rates ? "REQ/s" : "REQS", rates ? "COPY/s" : "COPY",
           rates ? "ACCESS/s" : "ACCESS", rates ? "CONFIG/s" : "CONFIG", "MAPPED", "EVICTED",
           "INVAL", "ERRORS", "FAULT-P50", "FAULT-P99");
    for (int i = 0; i < n; i++) {
        const struct daemon_view *d = &v[i];
        const struct daemon_view *p = rates ? find_prev(prev, nprev, d) : NULL;
        const struct lat_hist *h;
        const char *kind;
        char p50[16], p99[16];

        if (d->error[0]) {
            printf("%-6u %-12s %-8s broken: %s\n", d->domid, d->bdf, d->status, d->error);
            continue;
        }
        h = fault_latency(d, &kind);
        format_ns(p50, sizeof(p50), h, 0.5);
        format_ns(p99, sizeof(p99), h, 0.99);
        printf("%-6u %-12s %-8s %-7s %10.0f %10.0f %10.0f %10.0f %9" PRIu64 " %9" PRIu64
               " %9" PRIu64 " %7" PRIu64 " %9s %9s\n",
               d->domid, d->bdf, d->status, d->mode[0] ? d->mode : "-", rate(d, p, dt, requests),
               rate(d, p, dt, f_copy), rate(d, p, dt, f_access), rate(d, p, dt, f_config),
               get(d, "remap.pages_mapped"), get(d, "remap.pages_evicted"),
               get(d, "remap.pages_invalidated"), errors(d), p50, p99);
    }
    if (n == 0)
        printf("(no daemon: no domN-SSSS:BB:DD.F.json here)\n");
}

static void print_json(const struct daemon_view *v, int n)
{
    putchar('[');
    for (int i = 0; i < n; i++) {
        const struct daemon_view *d = &v[i];
        const struct lat_hist *fh;
        const char *fkind;
        bool any = false;

        printf("%s{\"domid\":%u,\"bdf\":\"%s\",\"status\":\"%s\"", i ? "," : "", d->domid, d->bdf,
               d->status);
        if (d->error[0]) {
            /* The message is ours (no control characters): escape quotes only. */
            printf(",\"error\":\"");
            for (const char *s = d->error; *s; s++) {
                if (*s == '"' || *s == '\\')
                    putchar('\\');
                putchar(*s);
            }
            printf("\"}");
            continue;
        }
        if (d->mode[0])
            printf(",\"mode\":\"%s\"", d->mode);
        printf(",\"counters\":{");
        for (int k = 0; k < d->n; k++)
            printf("%s\"%s\":%" PRIu64, k ? "," : "", d->c[k].name, d->c[k].value);
        printf("}");
        /* What the file has of the histograms, with the quantiles the line shows. */
        for (unsigned int k = 0; k < LAT_KINDS; k++) {
            const struct lat_hist *h = &d->lat[k];
            if (!d->have_lat[k])
                continue;
            printf("%s\"%s\":{\"count\":%" PRIu64 ",\"sum\":%" PRIu64 ",\"p50\":%" PRIu64
                   ",\"p99\":%" PRIu64 ",\"buckets\":[",
                   any ? "," : ",\"latency_ns\":{", lat_kind_name(k), h->count, h->sum_ns,
                   lat_hist_quantile(h, 0.5), lat_hist_quantile(h, 0.99));
            for (unsigned int b = 0; b < LAT_BUCKETS; b++)
                printf("%s%" PRIu64, b ? "," : "", h->bucket[b]);
            printf("]}");
            any = true;
        }
        if (any)
            printf("}");
        fh = fault_latency(d, &fkind);
        if (fh)
            printf(",\"fault_latency\":{\"kind\":\"%s\",\"p50_ns\":%" PRIu64 ",\"p99_ns\":%" PRIu64
                   "}",
                   fkind, lat_hist_quantile(fh, 0.5), lat_hist_quantile(fh, 0.99));
        printf("}");
    }
    printf("]\n");
}

static void metric_name(const char *counter, char *out, size_t len)
{
    size_t n = (size_t)snprintf(out, len, "ioreq_lend_%s", counter);
    for (size_t i = 0; i < n && i < len; i++)
        if (out[i] == '.')
            out[i] = '_';
}

/*
 * The latency histograms as one Prometheus histogram,
 * ioreq_lend_request_duration_seconds{domid,bdf,kind}: cumulative
 * _bucket{le} (the log2 bounds in seconds, then +Inf), _sum, _count; and the
 * mode as an info-style gauge.
 */
static void print_prometheus_latency(const struct daemon_view *v, int n)
{
    printf("# HELP ioreq_lend_mode 1 for the mode the daemon serves in (lend or emulate)\n"
           "# TYPE ioreq_lend_mode gauge\n");
    for (int i = 0; i < n; i++)
        if (!v[i].error[0] && v[i].mode[0])
            printf("ioreq_lend_mode{domid=\"%u\",bdf=\"%s\",mode=\"%s\"} 1\n", v[i].domid,
                   v[i].bdf, v[i].mode);
    printf("# HELP ioreq_lend_request_duration_seconds time from picking a request up to "
           "notifying its answer\n"
           "# TYPE ioreq_lend_request_duration_seconds histogram\n");
    for (int i = 0; i < n; i++) {
        for (unsigned int k = 0; k < LAT_KINDS; k++) {
            const struct lat_hist *h = &v[i].lat[k];
            char labels[96];
            uint64_t cum = 0;

            if (v[i].error[0] || !v[i].have_lat[k])
                continue;
            snprintf(labels, sizeof(labels), "domid=\"%u\",bdf=\"%s\",kind=\"%s\"", v[i].domid,
                     v[i].bdf, lat_kind_name(k));
            for (unsigned int b = 0; b < LAT_BUCKETS - 1; b++) {
                cum += h->bucket[b];
                printf("ioreq_lend_request_duration_seconds_bucket{%s,le=\"%.10g\"} %" PRIu64 "\n",
                       labels, (double)lat_bucket_upper_ns(b) / 1e9, cum);
            }
            printf("ioreq_lend_request_duration_seconds_bucket{%s,le=\"+Inf\"} %" PRIu64 "\n",
                   labels, h->count);
            printf("ioreq_lend_request_duration_seconds_sum{%s} %.9f\n", labels,
                   (double)h->sum_ns / 1e9);
            printf("ioreq_lend_request_duration_seconds_count{%s} %" PRIu64 "\n", labels, h->count);
        }
    }
}

static void print_prometheus(const struct daemon_view *v, int n)
{
    /* Every sample of a metric together, under one TYPE line. */
    printf("# HELP ioreq_lend_up 1 if the daemon holds its slot, 0 if it is gone\n"
           "# TYPE ioreq_lend_up gauge\n");
    for (int i = 0; i < n; i++)
        printf("ioreq_lend_up{domid=\"%u\",bdf=\"%s\"} %d\n", v[i].domid, v[i].bdf,
               strcmp(v[i].status, "running") == 0);
    printf("# HELP ioreq_lend_stats_valid 1 if the stats file parsed, 0 if it is broken\n"
           "# TYPE ioreq_lend_stats_valid gauge\n");
    for (int i = 0; i < n; i++)
        printf("ioreq_lend_stats_valid{domid=\"%u\",bdf=\"%s\"} %d\n", v[i].domid, v[i].bdf,
               !v[i].error[0]);
    for (int i = 0; i < n; i++) {
        for (int k = 0; k < v[i].n; k++) {
            const char *name = v[i].c[k].name;
            char metric[NAME_MAX_LEN + 16];
            bool seen = false;
            /* Printed with the first daemon that has it. */
            for (int j = 0; j < i && !seen; j++)
                for (int m = 0; m < v[j].n && !seen; m++)
                    seen = strcmp(v[j].c[m].name, name) == 0;
            if (seen)
                continue;
            metric_name(name, metric, sizeof(metric));
            printf("# TYPE %s untyped\n", metric);
            for (int j = i; j < n; j++)
                for (int m = 0; m < v[j].n; m++)
                    if (strcmp(v[j].c[m].name, name) == 0)
                        printf("%s{domid=\"%u\",bdf=\"%s\"} %" PRIu64 "\n", metric, v[j].domid,
                               v[j].bdf, v[j].c[m].value);
        }
    }
    print_prometheus_latency(v, n);
}

static volatile sig_atomic_t stop;
static void on_signal(int sig)
{
    (void)sig;
    stop = 1;
}

int main(int argc, char **argv)
{
    enum { OPT_STATE_DIR = 256, OPT_ONCE, OPT_JSON, OPT_PROMETHEUS, OPT_INTERVAL };
    static const struct option longopts[] = {
        {"state-dir", required_argument, NULL, OPT_STATE_DIR},
        {"once", no_argument, NULL, OPT_ONCE},
        {"json", no_argument, NULL, OPT_JSON},
        {"prometheus", no_argument, NULL, OPT_PROMETHEUS},
        {"interval", required_argument, NULL, OPT_INTERVAL},
        {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static struct daemon_view views[2][MAX_DAEMONS];
    const char *dir = OPT_DEFAULT_STATE_DIR;
    bool once = false, json = false, prom = false;
    long interval = 2;
    int opt, cur = 0, nprev = -1;
    struct timespec tprev = {0};

    opterr = 0;
    while ((opt = getopt_long(argc, argv, ":h", longopts, NULL)) != -1) {
        switch (opt) {
        case OPT_STATE_DIR:
            dir = optarg;
            break;
        case OPT_ONCE:
            once = true;
            break;
        case OPT_JSON:
            json = true;
            break;
        case OPT_PROMETHEUS:
            prom = true;
            break;
        case OPT_INTERVAL: {
            char *end;
            errno = 0;
            interval = strtol(optarg, &end, 10);
            if (errno || end == optarg || *end || interval < 1 || interval > 3600) {
                fprintf(stderr, "ioreq-lend-top: --interval: '%s' is not 1 to 3600 seconds\n",
                        optarg);
                return EXIT_BAD;
            }
            break;
        }
        case 'h':
            usage(stdout);
            return 0;
        case ':':
            fprintf(stderr, "ioreq-lend-top: option '%s' needs a value\n", argv[optind - 1]);
            return EXIT_BAD;
        default:
            fprintf(stderr, "ioreq-lend-top: unknown option '%s' (see --help)\n", argv[optind - 1]);
            return EXIT_BAD;
        }
    }
    if (optind < argc) {
        fprintf(stderr, "ioreq-lend-top: unexpected argument '%s' (see --help)\n", argv[optind]);
        return EXIT_BAD;
    }
    if (json && prom) {
        fprintf(stderr, "ioreq-lend-top: --json and --prometheus: choose one\n");
        return EXIT_BAD;
    }
    signal(SIGINT, on_signal);
    signal(SIGTERM, on_signal);
    for (;;) {
        struct timespec now;
        int n = scan(dir, views[cur]);
        double dt;

        if (n < 0) {
            fprintf(stderr, "ioreq-lend-top: cannot read %s: %s\n", dir, strerror(-n));
            return EXIT_BAD;
        }
        if (json || prom) {
            json ? print_json(views[cur], n) : print_prometheus(views[cur], n);
            return fflush(stdout) == 0 ? 0 : EXIT_BAD;
        }
        clock_gettime(CLOCK_MONOTONIC, &now);
        dt = nprev < 0 ? 0
                       : (double)(now.tv_sec - tprev.tv_sec) + (now.tv_nsec - tprev.tv_nsec) / 1e9;
        if (!once)
            fputs("\033[H\033[2J", stdout);
        print_table(views[cur], n, nprev < 0 ? NULL : views[!cur], nprev, dt);
        fflush(stdout);
        if (once || stop)
            return 0;
        nprev = n;
        tprev = now;
        cur = !cur;
        for (long s = 0; s < interval * 10 && !stop; s++)
            nanosleep(&(struct timespec){.tv_nsec = 100000000}, NULL);
        if (stop)
            return 0;
    }
}
