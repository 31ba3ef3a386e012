/* SPDX-License-Identifier: MIT */
/*
 * xensim: run one scenario against the simulated Xen 4.17.
 *
 *   xensim [--json] [--progress] [--verbose] [--dm PATH] [--dm-wrapper CMD] SCENARIO
 *
 * Exits 0 only if every expectation held and no integrity, protocol or leak
 * error occurred. With --json the last line of stdout is one JSON object.
 */
#include <errno.h>
#include <ftw.h>
#include <getopt.h>
#include <libgen.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "harness.h"

double h_now(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void h_fail(struct harness *h, const char *fmt, ...)
{
    char buf[1024];
    va_list ap;

    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&h->fail_lock);
    if (h->nr_failures < sizeof(h->failure) / sizeof(h->failure[0]))
        h->failure[h->nr_failures++] = strdup(buf);
    pthread_mutex_unlock(&h->fail_lock);
    if (!h->json || h->verbose)
        fprintf(stderr, "xensim: %s\n", buf);
}

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)type;
    (void)ftw;
    return remove(path) < 0 ? -1 : 0;
}

static void usage(FILE *out)
{
    fprintf(out,
            "usage: xensim [--json] [--progress] [--verbose] [--dm PATH] [--dm-wrapper CMD] "
            "SCENARIO\n"
            "Run one scenario against the simulated Xen 4.17 (see tests/scenarios/README.md).\n"
            "  --json          end stdout with one JSON object of metrics\n"
            "  --progress      a live progress line on stderr\n"
            "  --verbose       echo directives, daemon start-up and failures as they happen\n"
            "  --dm PATH       the device model (default: ioreq-lend-sim beside xensim)\n"
            "  --dm-wrapper C  run the device model under C (e.g. \"valgrind -q\")\n"
            "Exit status: 0 all expectations held; 1 a failure; 2 bad usage.\n");
}

int main(int argc, char **argv)
{
    static const struct option longopts[] = {
        {"json", no_argument, NULL, 'j'},     {"progress", no_argument, NULL, 'p'},
        {"verbose", no_argument, NULL, 'v'},  {"dm", required_argument, NULL, 'd'},
        {"dm-wrapper", required_argument, NULL, 'w'}, {"help", no_argument, NULL, 'h'},
        {NULL, 0, NULL, 0},
    };
    static struct harness h; /* large; one per process */
    char self[PATH_MAX], dm_default[PATH_MAX + 32];
    int c, rc;

    while ((c = getopt_long(argc, argv, "jpvd:w:h", longopts, NULL)) != -1) {
        switch (c) {
        case 'j': h.json = true; break;
        case 'p': h.progress = true; break;
        case 'v': h.verbose = true; break;
        case 'd': h.dm_path = optarg; break;
        case 'w': h.dm_wrapper = optarg; break;
        case 'h': usage(stdout); return 0;
        default: usage(stderr); return 2;
        }
    }
    if (optind != argc - 1) {
        usage(stderr);
        return 2;
    }
    if (!h.dm_path) {
        ssize_t n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n < 0)
            return 2;
        self[n] = '\0';
        snprintf(dm_default, sizeof(dm_default), "%s/ioreq-lend-sim", dirname(self));
        h.dm_path = dm_default;
    }
    /* Directive output interleaves with the daemon's and the progress line: by lines. */
    setvbuf(stdout, NULL, _IOLBF, 0);
    /* A dead device model must not kill the harness through its pipes. */
    signal(SIGPIPE, SIG_IGN);
    pthread_mutex_init(&h.fail_lock, NULL);
    pthread_mutex_init(&h.digest_lock, NULL);
    /* On tmpfs when there is one: files there can be lent (shared memory). */
    snprintf(h.tmpdir, sizeof(h.tmpdir), "%s/xensim-XXXXXX",
             access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(h.tmpdir)) {
        perror("xensim: mkdtemp");
        return 1;
    }
    snprintf(h.dm_log, sizeof(h.dm_log), "%s/dm.log", h.tmpdir);
    snprintf(h.dm_stats, sizeof(h.dm_stats), "%s/dm-stats.json", h.tmpdir);
    snprintf(h.dm_state, sizeof(h.dm_state), "%s/state", h.tmpdir);
    h.t_start = h_now();
    if (h.progress)
        progress_start(&h);
    rc = scenario_run(&h, argv[optind]);
    if (h.progress)
        progress_stop(&h);
    guest_stop(&h);
    bool ok = h.nr_failures == 0 && (!h.hv || h.hv->nr_failures == 0) && rc == 0;
    if (!ok && !h.verbose) {
        fprintf(stderr, "xensim: device model log:\n");
        dm_print_log(&h, stderr);
    }
    if (h.json)
        report_json(&h, stdout);
    else
        report_summary(&h, stdout);
    if (h.hv) {
        hv_destroy(h.hv);
        free(h.hv);
    }
    /* The directory holds only what the harness and its daemons made. */
    nftw(h.tmpdir, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    free(h.dm_stats_json);
    return ok ? 0 : 1;
}
