/* SPDX-License-Identifier: MIT */
/*
 * The scenario harness: a simulated guest (vCPU threads running workloads
 * against the simulated Xen), the device model as a child process, and the
 * metrics and expectations a scenario asserts.
 */
#ifndef XENSIM_HARNESS_H
#define XENSIM_HARNESS_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "../hv/hv.h"

#define H_MAX_ARGS 64
#define H_MAX_DEVICES 8

enum workload_op {
    WL_NONE = 0,
    WL_WRITE_PATTERN,
    WL_VERIFY_PATTERN,
    WL_READ,
    WL_WRITE,
    WL_MEMCPY_IN,
    WL_MEMCPY_OUT,
    WL_FILL,
    WL_RANDOM_RW,
    WL_TOUCH,
    WL_RAW_IOREQ,
    WL_VERIFY_VALUE, /* every access reads `value` */
    WL_TRACE,        /* one read per page, pages in the order of a trace (trace.h) */
    WL_DIGEST,       /* a hash of what the guest reads, kept under a name */
    WL_FIRMWARE, /* a call on the harness's behalf (enumeration, config cycles) */
    WL_MOVS_MMIO, /* rep movs between the BAR and another guest-physical address */
};

struct workload {
    enum workload_op op;
    uint64_t off, len;   /* relative to BAR 0 of the target device */
    uint64_t seed, value, count, stride;
    unsigned int size;   /* access size: 1, 2, 4, 8 */
    bool df;
    bool nocheck;        /* memcpy-in/out check=off: no pattern fill or check, the copy alone */
    bool allow_zero;     /* verify-pattern allow-zero=1: zeros are accepted too */
    uint64_t bar_base;   /* resolved when the workload starts */
    /* raw ioreq */
    ioreq_t raw;
    int raw_server; /* -1: the highest existing server */
    bool raw_check;
    uint64_t raw_expect;
    char digest_name[16];
    bool digest_movs;    /* digest via=movs: read with rep movsq into RAM, a page at a time */
    uint64_t addr;       /* movs-mmio: the other side's guest-physical address */
    bool into_bar;       /* movs-mmio: dir=in (addr -> BAR) or out (BAR -> addr) */
    char label[24];          /* time this workload: metrics time.LABEL_us, bytes.LABEL */
    unsigned int trace_kind, trace_s; /* trace workload: loop or zipf, exponent/100 */
    /* firmware job */
    int (*fn)(struct hv_vcpu *v, void *arg);
    void *fn_arg;
    int fn_rc;
};

struct vcpu_thread {
    struct harness *h;
    unsigned int id;
    pthread_t thread;
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool busy, quit;
    struct workload job;
    uint64_t scratch_gpa, scratch_len; /* guest RAM this vCPU uses as memcpy buffer */
};

/* Counters of what the guest did and saw. */
struct guest_stats {
    atomic_uint_fast64_t accesses, bytes_read, bytes_written, integrity_errors, stale_accesses,
        faults_injected, workloads_aborted;
    /* linux-probe: conf1 usable, a host bridge found, functions found on bus 0 */
    atomic_uint_fast64_t pci_conf1, pci_host_bridge, pci_functions;
};

struct device {
    bool used;
    unsigned int bus, dev, fn;
    uint64_t bar_base, bar_size; /* as placed by enumeration or bar-move */
};

struct dm_proc {
    pid_t pid;
    bool running;
    bool killed; /* by the harness: its leftovers are the OS's and Xen's, not leaks */
    int exit_status; /* exit code, or -signal */
    long peak_rss_kb;
    char *argv[H_MAX_ARGS];
    int argc;
};

/* Firmware work handed to vCPU 0 without waiting (its arguments live here). */
struct cfg_cycle {
    struct device *d;
    unsigned int reg, size;
    int dir;
    uint32_t val;
};
struct fw_bar_move {
    struct device *d;
    uint64_t addr;
    bool decode_off;
};

struct harness {
    struct hv *hv;
    bool have_domain;
    char tmpdir[64];
    char dm_log[96];
    char dm_stats[96];   /* the daemon's --stats file */
    char dm_state[96];   /* the daemon's --state-dir */
    char *dm_stats_json; /* last read of dm_stats, for dmstat.* metrics */
    const char *dm_path;
    const char *dm_wrapper; /* e.g. "valgrind --error-exitcode=99" */
    bool verbose, progress, json;
    double t_start;

    struct vcpu_thread vcpu[HV_MAX_VCPUS];
    struct guest_stats gs;
    struct device dev[H_MAX_DEVICES];
    int cur_dev;

    struct dm_proc dm;
    struct dm_proc dm2; /* `dm2`: a second daemon for the same domain (another function) */
    struct {
        struct cfg_cycle cfg;
        struct fw_bar_move move;
    } fw_async;
    /* Saved arguments of the last `dm` line, for `dm restart`. */
    char *last_args[H_MAX_ARGS];
    int last_argc;
    /* Every daemon that ran: pids whose leftovers count as leaks. */
    pid_t exited_pids[32];
    unsigned int nr_exited;
    long peak_rss_kb;
    long dm_hwm_kb; /* the daemon's VmHWM as the harness last stopped it (dm.hwm_kb) */
    int last_exit_status;

    pthread_mutex_t fail_lock;
    char *failure[128];
    unsigned int nr_failures;
    unsigned int nr_expects, nr_expects_failed;
    unsigned int lineno;
    const char *scenario_path;

    pthread_t progress_thread;
    atomic_bool progress_stop;

    /* Named digests of guest-visible data (the digest workload), for expect digest.NAME. */
    struct {
        char name[16];
        uint64_t value;
        bool set;
    } digest[16];
    pthread_mutex_t digest_lock;

    /* Labelled workloads: wall time and BAR bytes moved (metrics time.L_us, bytes.L). */
    struct {
        char label[24];
        uint64_t us, bytes;
        bool set;
    } timing[32];

    /* ctl.c: the harness's buffers mapped through the control socket, and idle connections. */
    struct {
        uint64_t off, len, size;
        void *map;
    } ctl_buf[64];
    int ctl_held[32];
    unsigned int nr_ctl_held;

    /* host storm */
    pthread_t storm_thread;
    bool storm_running;
    atomic_uint_fast64_t storm_invalidations;
    atomic_bool storm_stop;            /* host storm-stop: end the storm early */
    atomic_uint_fast64_t storm_us;     /* how long the last storm ran (host.storm_seconds) */
};

void h_fail(struct harness *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
double h_now(void);

/* workload.c */
int guest_start(struct harness *h);
/* Metrics time_us.LABEL and bytes.LABEL (a label seen again is overwritten). */
void h_record_timing(struct harness *h, const char *label, uint64_t us, uint64_t bytes);
void guest_stop(struct harness *h);
/* Queue a workload on a vCPU (waits for it to be idle first). */
int guest_submit(struct harness *h, unsigned int vcpu, const struct workload *w);
/* Wait until every vCPU is idle. */
void guest_wait_all(struct harness *h);
/* Run fn on vCPU 0 and wait for it: firmware and config cycles. */
int guest_call(struct harness *h, int (*fn)(struct hv_vcpu *v, void *arg), void *arg);

/* firmware.c: what hvmloader and a guest kernel's PCI code do. */
int fw_enumerate(struct harness *h, unsigned int bus, unsigned int dev, unsigned int fn);
int fw_config(struct harness *h, struct device *d, unsigned int reg, unsigned int size, int dir,
              uint32_t *val);
/* async: vCPU 0 does it while the scenario goes on (`wait guest` waits for it). */
int fw_bar_move(struct harness *h, struct device *d, uint64_t addr, bool decode_off, bool async);
int fw_config_async(struct harness *h, struct device *d, unsigned int reg, unsigned int size,
                    uint32_t val);
int fw_config_dump(struct harness *h, struct device *d, const char *path);
int fw_config_fuzz(struct harness *h, struct device *d, uint64_t count, uint64_t seed);
/*
 * What Linux 6.1 does on a guest without ACPI (arch/x86/pci): pci_check_type1
 * (0x01 to 0xCFB, 0x80000000 to 0xCF8 read back), pci_sanity_check (a host
 * bridge, a VGA, or an Intel or Compaq function on bus 0), then the legacy
 * scan of bus 0: every slot's vendor, multi-function slots' functions, each
 * BAR sized with decoding off and kept where it was placed. Sets the
 * vm.pci_* metrics; found functions become devices (the first with a
 * memory BAR the current one).
 */
int fw_linux_probe(struct harness *h);
/* One port access on vCPU 0, as a guest's in/out instruction. */
int fw_port(struct harness *h, unsigned int port, unsigned int size, int dir, uint32_t *val);
struct device *h_device(struct harness *h, unsigned int bus, unsigned int dev, unsigned int fn,
                        bool create);

/* dmproc.c: the device model as a child process. */
/* runas: NULL, or a user to run the daemon as (through setpriv; the harness runs as root). */
int dm_start(struct harness *h, struct dm_proc *dm, char *const args[], int nargs,
             bool wait_ready, unsigned int ready_timeout_ms, const char *runas);
/* Have the running daemon rewrite its stats file (SIGUSR1) and read it. */
int dm_refresh_stats(struct harness *h, unsigned int timeout_ms);
/* Read the stats file as the daemon last wrote it (it writes it on exit too). */
int dm_read_stats(struct harness *h);
/* A daemon counter from the last read, by its dotted name ("ioreqs.rejected"). */
bool dm_stat(struct harness *h, const char *name, double *out);
int dm_signal(struct dm_proc *dm, int sig);
/* A "Field:  N kB" line of a running process's /proc/PID/status (VmHWM:), or -1. */
long dm_status_kb(pid_t pid, const char *field);
/* Wait for the daemon to exit; returns 0 if it did within timeout_ms. */
int dm_wait_exit(struct harness *h, struct dm_proc *dm, unsigned int timeout_ms);
void dm_print_log(struct harness *h, FILE *out);

/* host.c: the host's memory manager (lending mode). */
int host_directive(struct harness *h, const char *what, uint64_t off, uint64_t len, uint64_t seed,
                   uint64_t rate, uint64_t duration_ms, uint64_t every, uint64_t count);
void host_storm_join(struct harness *h);

/* ctl.c: the `ctl` directives (the harness as a backend on the control socket). */
int ctl_directive(struct harness *h, int ntok, char **tok);
void ctl_release_all(struct harness *h);
void ctl_forget_buffers(struct harness *h);
/* The daemon's control STATS asked live: 0 regions, 1 clients, 2 clients_refused,
 * 3 requests_refused, 4 mapped_bytes; -1 if it does not answer. */
double ctl_metric(struct harness *h, int which);
/* The daemon's open fds on harness buffers (/proc/PID/fd), -1 if not running. */
double ctl_region_fds(struct harness *h);

/* report.c */
/* Look up a metric by its dotted name. Returns false if unknown. */
bool metric_get(struct harness *h, const char *name, double *out);
void report_json(struct harness *h, FILE *out);
void report_summary(struct harness *h, FILE *out);
void progress_start(struct harness *h);
void progress_stop(struct harness *h);

/* scenario.c */
int scenario_run(struct harness *h, const char *path);

#endif
