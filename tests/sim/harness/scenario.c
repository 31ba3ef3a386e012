/* SPDX-License-Identifier: MIT */
/*
 * The scenario language: one directive per line, `#` comments, key=value
 * arguments, sizes with K/M/G/T, numbers in decimal or 0x hex.
 *
 *   domain vcpus=N ram=SIZE [mmio_hole=SIZE] [lend=on|rev2|off|kernel] [domid=N]
 *          [ioreq_timeout=MS] [balloon=SIZE] [type=hvm|pvh]
 *          (pvh: libxl's PVH memory layout, no hvmloader: linux-probe, not enumerate)
 *   domain destroy | invalidate | balloon-out addr=A len=L | populate addr=A len=L
 *          (populate over an installed lent page crashes the domain, as Xen does:
 *          metric xen.guest_crashes)
 *          (balloon-out and populate take vcpu=N instead: that vCPU's memcpy buffer)
 *          | timeoffset value=V
 *   dm ARGS...                 start the daemon; the harness adds --domid, --ready-fd,
 *                              --state-dir and --stats (per run)
 *   dm stop | kill | restart | signal USR1|TERM|INT|HUP|STOP|CONT | wait-exit [timeout=MS]
 *   dm wait-keeper-exit [timeout=MS]   the daemon's memfd keeper has exited (metric
 *                              dm.keeper_handles counts its open Xen handles)
 *   dm kill-at OP [n=N] [when=before|after]   the daemon dies (SIGKILL) inside its Nth call
 *                              of OP from now (the names of `fail`, and notify): before Xen
 *                              acts, or after Xen acted but before the call returns
 *   dm stats                   the daemon rewrites its stats file; dmstat.* metrics read it
 *   dm2 ARGS... | dm2 stop     a second daemon for the domain (another function; give it
 *                              its own --stats); stopped, exit 0 required, at the end
 *   dm-fails exit=N [match="text"] [user=nobody] ARGS...
 *                              the daemon must refuse and leave nothing behind
 *   enumerate bdf=BB:DD.F
 *   linux-probe                Linux 6.1's conf1 check, host-bridge check and scan of bus 0
 *                              (metrics vm.pci_conf1, vm.pci_host_bridge, vm.pci_functions)
 *   port-read port=N size=1|2|4 [expect=V] / port-write port=N size=.. value=V
 *   config-read bdf=.. off=N size=1|2|4 expect=V
 *   config-write bdf=.. off=N size=1|2|4 value=V [async=1] [label=L]
 *                              async=1: vCPU 0 writes while the scenario goes on (`wait guest`)
 *                              label=L (not async): time the write, metric time_us.L
 *   config-dump bdf=.. file=PATH [lspci="text|text..."]   lspci -F must decode it with those
 *   config-fuzz bdf=.. count=N seed=S   random config writes (and reads) of every size
 *   mem-read addr=A size=N [expect=V]   one guest access at a physical address (vCPU 0)
 *   mem-write addr=A size=N value=V
 *   host-file path=P size=S    create a sparse file (for file: backings)
 *   bar-move bdf=.. bar=0 addr=A [decode=keep|off] [async=1] [over-ram=1] [label=L]
 *                              label=L (not async): time the move, metric time_us.L
 *   vcpu N OP key=value...    asynchronous guest workload on BAR 0 (see workload.c);
 *                              label=L times it: metrics time.L_us and bytes.L;
 *                              memcpy-in/out check=off: the copy alone, no pattern work
 *   host evict|lose|drop-ptes off=.. len=.. | host write off=.. len=.. seed=S
 *   host storm rate=R duration=MS|count=N [off=.. len=..] | host storm-stop | host race every=N
 *   host race-age every=N      (an invalidation of a page an aging call just reported used)
 *                              the host's memory manager (lending mode; see host.c)
 *   wait                       every vCPU workload and host storm has finished
 *   wait guest                 every vCPU workload has finished (a storm may go on)
 *   expect METRIC OP VALUE    OP: == != < <= > >=; VALUE: a number or another metric
 *   fail OP [skip=N] [count=N] errno=NAME|N   inject failures into the daemon's calls
 *   dm-log match="text" [count=N]   lines of the daemon's log containing text (default 1)
 *   xenstore PATH present [value=V|value=dm-pid] | xenstore PATH absent [timeout=MS]
 *                              the simulated xenstored's tree (the daemon's record); an
 *                              absence may be waited for, up to MS
 *   ctl map|unmap|raw|disconnect|hold|release ...   the harness as a backend on the daemon's
 *                              control socket (--backing none; see ctl.c)
 *   echo TEXT...
 *
 * $TMP in any word is the run's private temporary directory.
 */
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "util.h"

#define MAX_TOKENS 96

struct line {
    int ntok;
    char *tok[MAX_TOKENS];
};

static int tokenize(char *s, struct line *l)
{
    l->ntok = 0;
    while (*s) {
        while (*s == ' ' || *s == '\t')
            s++;
        if (*s == '\0' || *s == '#' || *s == '\n')
            break;
        if (l->ntok == MAX_TOKENS)
            return -E2BIG;
        l->tok[l->ntok++] = s;
        /* key="quoted value": the quotes go, the spaces stay. */
        char *out = s;
        bool quoted = false;
        while (*s && (quoted || (*s != ' ' && *s != '\t' && *s != '\n'))) {
            if (*s == '"')
                quoted = !quoted;
            else
                *out++ = *s;
            s++;
        }
        if (*s)
            s++;
        *out = '\0';
    }
    return 0;
}

/* key=value lookup among the tokens from `from` on. */
static const char *kv(const struct line *l, int from, const char *key)
{
    size_t n = strlen(key);

    for (int i = from; i < l->ntok; i++)
        if (strncmp(l->tok[i], key, n) == 0 && l->tok[i][n] == '=')
            return l->tok[i] + n + 1;
    return NULL;
}

static int kv_num(struct harness *h, const struct line *l, int from, const char *key, uint64_t def,
                  uint64_t *out)
{
    const char *v = kv(l, from, key);

    if (!v) {
        *out = def;
        return 0;
    }
    if (parse_size(v, out)) {
        h_fail(h, "line %u: bad number %s=%s", h->lineno, key, v);
        return -EINVAL;
    }
    return 0;
}

static int parse_bdf(struct harness *h, const char *s, unsigned int *bus, unsigned int *dev,
                     unsigned int *fn)
{
    if (!s || sscanf(s, "%x:%x.%x", bus, dev, fn) != 3 || *bus > 0xff || *dev > 0x1f || *fn > 7) {
        h_fail(h, "line %u: bad or missing bdf=BB:DD.F", h->lineno);
        return -EINVAL;
    }
    return 0;
}

static struct device *line_device(struct harness *h, const struct line *l, bool create)
{
    unsigned int bus, dev, fn;
    const char *b = kv(l, 1, "bdf");
    struct device *d;

    if (!b) {
        if (h->dev[h->cur_dev].used)
            return &h->dev[h->cur_dev];
        h_fail(h, "line %u: no device enumerated yet (give bdf=)", h->lineno);
        return NULL;
    }
    if (parse_bdf(h, b, &bus, &dev, &fn))
        return NULL;
    d = h_device(h, bus, dev, fn, create);
    if (!d)
        h_fail(h, "line %u: device %s unknown (enumerate it first)", h->lineno, b);
    return d;
}

static int need_domain(struct harness *h)
{
    if (h->have_domain)
        return 0;
    h_fail(h, "line %u: no domain (a `domain vcpus=.. ram=..` line comes first)", h->lineno);
    return -EINVAL;
}

static int do_domain_create(struct harness *h, const struct line *l)
{
    struct hv_domain_config cfg = {0};
    uint64_t v;
    const char *lend = kv(l, 1, "lend"), *type = kv(l, 1, "type");
    char path[128];
    int rc;

    if (type && strcmp(type, "hvm") && strcmp(type, "pvh")) {
        h_fail(h, "line %u: type=hvm|pvh", h->lineno);
        return -EINVAL;
    }
    cfg.pvh = type && strcmp(type, "pvh") == 0;
    if (h->have_domain) {
        h_fail(h, "line %u: only one domain per scenario", h->lineno);
        return -EINVAL;
    }
    if (kv_num(h, l, 1, "vcpus", 1, &v))
        return -EINVAL;
    cfg.vcpus = (unsigned int)v;
    if (kv_num(h, l, 1, "ram", 256ULL << 20, &cfg.ram) ||
        kv_num(h, l, 1, "mmio_hole", 0, &cfg.mmio_hole) ||
        kv_num(h, l, 1, "balloon", 16ULL << 20, &cfg.balloon_reserve) ||
        kv_num(h, l, 1, "domid", 1, &v))
        return -EINVAL;
    cfg.domid = (uint32_t)v;
    if (kv_num(h, l, 1, "ioreq_timeout", 10000, &v))
        return -EINVAL;
    cfg.ioreq_timeout_ms = (unsigned int)v;
    /*
     * lend=on: kernel and hypervisor lend, revision 3 (with aging); rev2: the
     * same without aging (IOCTL_PRIVCMD_LEND_AGE is ENOTTY, no accessed bits
     * kept); kernel: only the kernel; off: neither.
     */
    if (lend && strcmp(lend, "on") && strcmp(lend, "off") && strcmp(lend, "kernel") &&
        strcmp(lend, "rev2")) {
        h_fail(h, "line %u: lend=on|rev2|off|kernel", h->lineno);
        return -EINVAL;
    }
    cfg.lend_kernel = !lend || strcmp(lend, "off") != 0;
    cfg.lend_xen = !lend || strcmp(lend, "on") == 0 || strcmp(lend, "rev2") == 0;
    cfg.lend_age = !lend || strcmp(lend, "on") == 0;
    h->hv = calloc(1, sizeof(*h->hv));
    if (!h->hv)
        return -ENOMEM;
    rc = hv_create(h->hv, &cfg, h->tmpdir);
    if (rc) {
        h_fail(h, "line %u: cannot create the domain: %s", h->lineno, strerror(-rc));
        free(h->hv);
        h->hv = NULL;
        return rc;
    }
    snprintf(path, sizeof(path), "%s", h->hv->sock_path);
    setenv(XENSIM_SOCKET_ENV, path, 1);
    h->have_domain = true;
    return guest_start(h);
}

struct domain_op {
    int kind;
    uint64_t addr, len, value;
    unsigned int failed;
};

static int domain_op_on_vcpu(struct hv_vcpu *v, void *arg)
{
    struct domain_op *op = arg;
    ioreq_t p = {.size = 4, .count = 1, .dir = IOREQ_WRITE};

    if (op->kind == 0) {
        /* Xen sends INVALIDATE after guest RAM left the p2m (decrease_reservation). */
        if (op->len)
            hv_balloon_out(v->hv, op->addr >> HV_PAGE_SHIFT, op->len >> HV_PAGE_SHIFT);
        p.type = IOREQ_TYPE_INVALIDATE;
        p.data = ~0ULL;
        op->failed = hv_ioreq_broadcast(v, &p);
    } else {
        p.type = IOREQ_TYPE_TIMEOFFSET;
        p.size = 8;
        p.addr = 0;
        p.data = op->value;
        op->failed = hv_ioreq_broadcast_buffered(v->hv, &p);
        atomic_fetch_add(&v->hv->stats.ioreq_timeoffset, 1);
    }
    return 0;
}

static int do_domain(struct harness *h, const struct line *l)
{
    const char *what = l->ntok > 1 ? l->tok[1] : "";
    struct domain_op op = {0};

    if (strchr(what, '=') || l->ntok == 1)
        return do_domain_create(h, l);
    if (need_domain(h))
        return -EINVAL;
    if (strcmp(what, "destroy") == 0) {
        hv_domain_destroy(h->hv);
        return 0;
    }
    if (kv_num(h, l, 2, "addr", 0, &op.addr) || kv_num(h, l, 2, "len", 0, &op.len) ||
        kv_num(h, l, 2, "value", 0, &op.value))
        return -EINVAL;
    if (kv(l, 2, "vcpu")) {
        /* The RAM a vCPU's memcpy workloads use as their buffer. */
        uint64_t v;
        if (kv_num(h, l, 2, "vcpu", 0, &v) || v >= h->hv->cfg.vcpus)
            return -EINVAL;
        op.addr = h->vcpu[v].scratch_gpa;
        op.len = h->vcpu[v].scratch_len;
    }
    if ((op.addr | op.len) & (HV_PAGE_SIZE - 1)) {
        h_fail(h, "line %u: addr and len must be page aligned", h->lineno);
        return -EINVAL;
    }
    if (strcmp(what, "populate") == 0) {
        int rc = hv_balloon_in(h->hv, op.addr >> HV_PAGE_SHIFT, op.len >> HV_PAGE_SHIFT);

        /* Over a lent page Xen crashes the domain (xen.guest_crashes): the guest's doing. */
        return rc == -EPERM ? 0 : rc;
    }
    if (strcmp(what, "invalidate") == 0 || strcmp(what, "balloon-out") == 0)
        op.kind = 0;
    else if (strcmp(what, "timeoffset") == 0)
        op.kind = 1;
    else {
        h_fail(h, "line %u: unknown domain action '%s'", h->lineno, what);
        return -EINVAL;
    }
    guest_call(h, domain_op_on_vcpu, &op);
    if (op.failed)
        h_fail(h, "line %u: %u ioreq server(s) did not take the broadcast", h->lineno, op.failed);
    return 0;
}

/* The device model's library calls by the names `fail` and `dm kill-at` use; -1 if unknown. */
static int sim_op_by_name(const char *name)
{
    static const struct {
        const char *name;
        enum sim_op op;
    } ops[] = {
        {"create_server", SIM_OP_CREATE_SERVER}, {"get_server_info", SIM_OP_GET_SERVER_INFO},
        {"map_io_range", SIM_OP_MAP_IO_RANGE},   {"unmap_io_range", SIM_OP_UNMAP_IO_RANGE},
        {"map_pcidev", SIM_OP_MAP_PCIDEV},       {"unmap_pcidev", SIM_OP_UNMAP_PCIDEV},
        {"set_server_state", SIM_OP_SET_SERVER_STATE},
        {"destroy_server", SIM_OP_DESTROY_SERVER}, {"nr_vcpus", SIM_OP_NR_VCPUS},
        {"map_resource", SIM_OP_MAP_RESOURCE},   {"map_gfns", SIM_OP_MAP_GFNS},
        {"bind_interdomain", SIM_OP_BIND_INTERDOMAIN}, {"unbind", SIM_OP_UNBIND},
        {"restrict", SIM_OP_RESTRICT},           {"lend_set_slot", SIM_OP_LEND_SET_SLOT},
        {"lend_map", SIM_OP_LEND_MAP},           {"lend_unmap", SIM_OP_LEND_UNMAP},
        {"lend_claim_access", SIM_OP_LEND_CLAIM_ACCESS},
        {"lend_release_access", SIM_OP_LEND_RELEASE_ACCESS},
        {"lend_age", SIM_OP_LEND_AGE},
        {"notify", SIM_OP_NOTIFY},
    };

    for (unsigned int i = 0; i < ARRAY_SIZE(ops); i++)
        if (strcmp(name, ops[i].name) == 0)
            return (int)ops[i].op;
    return -1;
}

static int dm_start_line(struct harness *h, char **args, int nargs)
{
    int rc;

    for (int i = 0; i < h->last_argc; i++)
        free(h->last_args[i]);
    h->last_argc = 0;
    for (int i = 0; i < nargs && i < H_MAX_ARGS; i++)
        h->last_args[h->last_argc++] = strdup(args[i]);
    rc = dm_start(h, &h->dm, h->last_args, h->last_argc, true, 30000, NULL);
    if (rc) {
        dm_wait_exit(h, &h->dm, 5000);
        h_fail(h, "line %u: device model did not become ready (%s; exit status %d)", h->lineno,
               strerror(-rc), h->dm.exit_status);
        dm_print_log(h, stderr);
    }
    return rc;
}

static int dm_stop(struct harness *h, int sig, bool expect_zero)
{
    int rc;

    if (!h->dm.running)
        return 0;
    /*
     * The daemon's own peak RSS, read before it goes. ru_maxrss (dm.peak_rss_kb) also
     * counts the harness's pages the child shared before exec (posix_spawn's vfork).
     */
    h->dm_hwm_kb = dm_status_kb(h->dm.pid, "VmHWM:");
    dm_signal(&h->dm, sig);
    rc = dm_wait_exit(h, &h->dm, 20000);
    if (rc == -ETIMEDOUT) {
        h_fail(h, "line %u: device model ignored signal %d for 20 s", h->lineno, sig);
        dm_signal(&h->dm, SIGKILL);
        h->dm.killed = false; /* its leftovers still count */
        dm_wait_exit(h, &h->dm, 5000);
        return rc;
    }
    dm_read_stats(h); /* it writes its counters once more on the way out */
    if (expect_zero && h->dm.exit_status != 0) {
        h_fail(h, "line %u: device model exited with status %d", h->lineno, h->dm.exit_status);
        dm_print_log(h, stderr);
    }
    return 0;
}

static int do_dm(struct harness *h, struct line *l)
{
    const char *what = l->ntok > 1 ? l->tok[1] : "";
    uint64_t timeout;

    if (need_domain(h))
        return -EINVAL;
    if (strcmp(what, "stop") == 0)
        return dm_stop(h, SIGTERM, true);
    if (strcmp(what, "kill") == 0)
        return dm_stop(h, SIGKILL, false);
    if (strcmp(what, "restart") == 0) {
        dm_stop(h, SIGKILL, false);
        return dm_start(h, &h->dm, h->last_args, h->last_argc, true, 30000, NULL) ? -EIO : 0;
    }
    if (strcmp(what, "signal") == 0) {
        const char *name = l->ntok > 2 ? l->tok[2] : "";
        int sig = strcmp(name, "USR1") == 0 ? SIGUSR1 : strcmp(name, "TERM") == 0 ? SIGTERM
                : strcmp(name, "INT") == 0 ? SIGINT : strcmp(name, "HUP") == 0 ? SIGHUP
                : strcmp(name, "STOP") == 0 ? SIGSTOP : strcmp(name, "CONT") == 0 ? SIGCONT : 0;
        if (!sig) {
            h_fail(h, "line %u: unknown signal '%s'", h->lineno, name);
            return -EINVAL;
        }
        return dm_signal(&h->dm, sig);
    }
    if (strcmp(what, "wait-exit") == 0) {
        if (kv_num(h, l, 2, "timeout", 10000, &timeout))
            return -EINVAL;
        if (dm_wait_exit(h, &h->dm, (unsigned int)timeout)) {
            h_fail(h, "line %u: device model still running after %llu ms", h->lineno,
                   (unsigned long long)timeout);
            return -ETIMEDOUT;
        }
        dm_read_stats(h);
        return 0;
    }
    if (strcmp(what, "wait-keeper-exit") == 0) {
        if (kv_num(h, l, 2, "timeout", 10000, &timeout))
            return -EINVAL;
        if (hv_wait_other_handles_released(h->hv, (unsigned int)timeout)) {
            h_fail(h, "line %u: the memfd keeper still runs after %llu ms", h->lineno,
                   (unsigned long long)timeout);
            return -ETIMEDOUT;
        }
        return 0;
    }
    if (strcmp(what, "kill-at") == 0) {
        const char *when = kv(l, 3, "when");
        int op = l->ntok > 2 ? sim_op_by_name(l->tok[2]) : -1;
        uint64_t nth;

        if (op < 0 || kv_num(h, l, 3, "n", 1, &nth) || nth == 0 || nth > UINT32_MAX ||
            (when && strcmp(when, "before") && strcmp(when, "after")) ||
            (op == SIM_OP_NOTIFY && when && strcmp(when, "before"))) {
            h_fail(h, "line %u: usage: dm kill-at OP [n=N] [when=before|after]", h->lineno);
            return -EINVAL;
        }
        hv_arm_kill(h->hv, (enum sim_op)op, (uint32_t)nth, when && strcmp(when, "after") == 0);
        return 0;
    }
    if (strcmp(what, "stats") == 0) {
        if (dm_refresh_stats(h, 5000)) {
            h_fail(h, "line %u: the device model did not write its stats file", h->lineno);
            return -EIO;
        }
        return 0;
    }
    return dm_start_line(h, l->tok + 1, l->ntok - 1);
}

/*
 * dm2 ARGS... | dm2 stop: a second daemon for the same domain (another PCI
 * function, one lent BAR each, as a launcher starts them). Its log goes with
 * the first's; give it its own --stats. Stopped (and required to exit 0) at
 * the end of the scenario.
 */
static int do_dm2(struct harness *h, struct line *l)
{
    int rc;

    if (need_domain(h))
        return -EINVAL;
    if (l->ntok > 1 && strcmp(l->tok[1], "stop") == 0) {
        if (!h->dm2.running)
            return 0;
        dm_signal(&h->dm2, SIGTERM);
        rc = dm_wait_exit(h, &h->dm2, 20000);
        if (rc || h->dm2.exit_status != 0) {
            h_fail(h, "line %u: the second device model exited with status %d (%s)", h->lineno,
                   h->dm2.exit_status, rc ? strerror(-rc) : "exited");
            if (rc) {
                dm_signal(&h->dm2, SIGKILL);
                dm_wait_exit(h, &h->dm2, 5000);
            }
            return -EIO;
        }
        return 0;
    }
    rc = dm_start(h, &h->dm2, l->tok + 1, l->ntok - 1, true, 30000, NULL);
    if (rc) {
        dm_wait_exit(h, &h->dm2, 5000);
        h_fail(h, "line %u: the second device model did not become ready (%s)", h->lineno,
               strerror(-rc));
        dm_print_log(h, stderr);
    }
    return rc;
}

/* The daemon must refuse (exit code, message) and leave no server, port or mapping. */
static int do_dm_fails(struct harness *h, struct line *l)
{
    struct dm_proc refused = {0};
    uint64_t want;
    const char *match = kv(l, 1, "match");
    int first = 1;

    if (need_domain(h) || kv_num(h, l, 1, "exit", 2, &want))
        return -EINVAL;
    while (first < l->ntok && (strncmp(l->tok[first], "exit=", 5) == 0 ||
                               strncmp(l->tok[first], "match=", 6) == 0 ||
                               strncmp(l->tok[first], "user=", 5) == 0))
        first++;
    /* A fresh log, so the match is against this run's output only. */
    if (truncate(h->dm_log, 0) != 0 && errno != ENOENT) {
        h_fail(h, "line %u: cannot empty %s: %s", h->lineno, h->dm_log, strerror(errno));
        return -EIO;
    }
    /* Its own process slot: a daemon may be running beside it. */
    if (dm_start(h, &refused, l->tok + first, l->ntok - first, false, 0, kv(l, 1, "user"))) {
        h_fail(h, "line %u: cannot start the device model", h->lineno);
        return -EIO;
    }
    if (dm_wait_exit(h, &refused, 20000)) {
        h_fail(h, "line %u: device model did not exit", h->lineno);
        dm_signal(&refused, SIGKILL);
        dm_wait_exit(h, &refused, 5000);
        return -ETIMEDOUT;
    }
    if (refused.exit_status != (int)want)
        h_fail(h, "line %u: device model exited with %d, expected %llu", h->lineno,
               refused.exit_status, (unsigned long long)want);
    if (match) {
        FILE *f = fopen(h->dm_log, "r");
        char buf[4096] = "";
        size_t n = f ? fread(buf, 1, sizeof(buf) - 1, f) : 0;

        if (f)
            fclose(f);
        buf[n] = '\0';
        if (!strstr(buf, match))
            h_fail(h, "line %u: device model output lacks \"%s\": %s", h->lineno, match, buf);
        /* One clear line: the refusal, and nothing else. */
        if (strchr(buf, '\n') && strchr(buf, '\n')[1] != '\0')
            h_fail(h, "line %u: device model said more than one line: %s", h->lineno, buf);
    }
    /* Nothing half-created: no server, no port, no mapping left behind. */
    struct hv_leaks left = hv_leaks_of(h->hv, refused.pid);
    if (left.servers || left.ports || left.mappings || left.lent_pages)
        h_fail(h, "line %u: the refused daemon left %llu servers, %llu ports, %llu mapped pages",
               h->lineno, (unsigned long long)left.servers, (unsigned long long)left.ports,
               (unsigned long long)left.mappings);
    return 0;
}

static int do_vcpu(struct harness *h, struct line *l)
{
    static const struct {
        const char *name;
        enum workload_op op;
    } ops[] = {
        {"write-pattern", WL_WRITE_PATTERN}, {"verify-pattern", WL_VERIFY_PATTERN},
        {"read", WL_READ},                   {"write", WL_WRITE},
        {"memcpy-in", WL_MEMCPY_IN},         {"memcpy-out", WL_MEMCPY_OUT},
        {"fill", WL_FILL},                   {"random-rw", WL_RANDOM_RW},
        {"movs-mmio", WL_MOVS_MMIO},
        {"touch", WL_TOUCH},                 {"ioreq", WL_RAW_IOREQ},
        {"verify-value", WL_VERIFY_VALUE},   {"digest", WL_DIGEST},
        {"trace", WL_TRACE},
    };
    struct workload w = {.raw_server = -1};
    struct device *d;
    uint64_t vcpu, size, v;

    if (need_domain(h))
        return -EINVAL;
    if (l->ntok < 3 || parse_u64(l->tok[1], h->hv->cfg.vcpus - 1, &vcpu)) {
        h_fail(h, "line %u: usage: vcpu N OP key=value...", h->lineno);
        return -EINVAL;
    }
    for (unsigned int i = 0; i < ARRAY_SIZE(ops); i++)
        if (strcmp(l->tok[2], ops[i].name) == 0)
            w.op = ops[i].op;
    if (w.op == WL_NONE) {
        h_fail(h, "line %u: unknown workload '%s'", h->lineno, l->tok[2]);
        return -EINVAL;
    }
    if (w.op == WL_RAW_IOREQ) {
        /* A request as a hostile or buggy Xen could send it, straight to a server. */
        const char *type = kv(l, 3, "type"), *dir = kv(l, 3, "dir");
        uint64_t addr, sz, count, df, ptr, data, server, expect;

        if (kv_num(h, l, 3, "addr", 0, &addr) || kv_num(h, l, 3, "size", 4, &sz) ||
            kv_num(h, l, 3, "count", 1, &count) || kv_num(h, l, 3, "df", 0, &df) ||
            kv_num(h, l, 3, "ptr", 0, &ptr) || kv_num(h, l, 3, "data", 0, &data) ||
            kv_num(h, l, 3, "server", UINT64_MAX, &server) ||
            kv_num(h, l, 3, "expect", 0, &expect))
            return -EINVAL;
        w.raw.type = !type || strcmp(type, "copy") == 0 ? IOREQ_TYPE_COPY
                   : strcmp(type, "pio") == 0          ? IOREQ_TYPE_PIO
                   : strcmp(type, "pci") == 0          ? IOREQ_TYPE_PCI_CONFIG
                   : strcmp(type, "invalidate") == 0   ? IOREQ_TYPE_INVALIDATE
                   : strcmp(type, "access") == 0       ? HV_IOREQ_TYPE_ACCESS
                                                       : (uint8_t)strtoul(type, NULL, 0);
        w.raw.addr = addr;
        w.raw.size = (uint32_t)sz;
        w.raw.count = (uint32_t)count;
        w.raw.df = df & 1;
        w.raw.data_is_ptr = ptr & 1;
        w.raw.data = data;
        w.raw.dir = dir && strcmp(dir, "write") == 0 ? IOREQ_WRITE : IOREQ_READ;
        w.raw_server = server == UINT64_MAX ? -1 : (int)server;
        w.raw_check = kv(l, 3, "expect") != NULL;
        w.raw_expect = expect;
        return guest_submit(h, (unsigned int)vcpu, &w);
    }
    d = line_device(h, l, false);
    if (!d)
        return -EINVAL;
    if (kv_num(h, l, 3, "size", 8, &size) || kv_num(h, l, 3, "off", 0, &w.off) ||
        kv_num(h, l, 3, "len", d->bar_size - w.off, &w.len) ||
        kv_num(h, l, 3, "seed", 1, &w.seed) || kv_num(h, l, 3, "value", 0, &w.value) ||
        kv_num(h, l, 3, "count", 1000, &w.count) ||
        kv_num(h, l, 3, "stride", w.op == WL_TOUCH ? 4096 : size, &w.stride) ||
        kv_num(h, l, 3, "df", 0, &v))
        return -EINVAL;
    w.df = v != 0;
    w.size = (unsigned int)size;
    if (w.op == WL_MOVS_MMIO) {
        const char *dir = kv(l, 3, "dir");

        if (kv_num(h, l, 3, "addr", 0, &w.addr) || !kv(l, 3, "addr") || !dir ||
            (strcmp(dir, "in") && strcmp(dir, "out"))) {
            h_fail(h, "line %u: movs-mmio addr=A dir=in|out off= len= [size=]", h->lineno);
            return -EINVAL;
        }
        w.into_bar = strcmp(dir, "in") == 0;
    }
    /* check=off: memcpy-in/out move bytes without pattern fill or check (timing the copy). */
    if (kv(l, 3, "check")) {
        const char *c = kv(l, 3, "check");
        if (strcmp(c, "on") && strcmp(c, "off")) {
            h_fail(h, "line %u: check=on|off", h->lineno);
            return -EINVAL;
        }
        w.nocheck = strcmp(c, "off") == 0;
    }
    /* allow-zero=1: verify-pattern accepts zeros too (a guest streaming across an unmap). */
    if (kv(l, 3, "allow-zero"))
        w.allow_zero = strcmp(kv(l, 3, "allow-zero"), "0") != 0;
    if (kv(l, 3, "label")) {
        if (strlen(kv(l, 3, "label")) >= sizeof(w.label)) {
            h_fail(h, "line %u: label too long", h->lineno);
            return -EINVAL;
        }
        snprintf(w.label, sizeof(w.label), "%s", kv(l, 3, "label"));
    }
    if (w.op == WL_TRACE) {
        const char *kind = kv(l, 3, "kind");
        uint64_t s100;
        if (kv_num(h, l, 3, "s", 100, &s100) || (kind && strcmp(kind, "loop") &&
                                                 strcmp(kind, "zipf"))) {
            h_fail(h, "line %u: trace kind=loop|zipf [s=HUNDREDTHS] count=N", h->lineno);
            return -EINVAL;
        }
        w.trace_kind = kind && strcmp(kind, "zipf") == 0;
        w.trace_s = (unsigned int)s100;
    }
    if (w.op == WL_DIGEST) {
        const char *name = kv(l, 3, "name");
        if (!name || strlen(name) >= sizeof(w.digest_name) || size != 8) {
            h_fail(h, "line %u: digest needs name=NAME (up to 15 characters), size 8", h->lineno);
            return -EINVAL;
        }
        snprintf(w.digest_name, sizeof(w.digest_name), "%s", name);
        const char *via = kv(l, 3, "via");
        if (via && strcmp(via, "load") && strcmp(via, "movs")) {
            h_fail(h, "line %u: digest via=load|movs", h->lineno);
            return -EINVAL;
        }
        w.digest_movs = via && strcmp(via, "movs") == 0;
    }
    w.bar_base = d->bar_base;
    if ((size != 1 && size != 2 && size != 4 && size != 8) || w.off % size || w.len % size ||
        w.len == 0 || w.stride == 0 || w.stride % size || !range_inside(w.off, w.len, d->bar_size)) {
        h_fail(h, "line %u: off/len/size/stride must be aligned and inside BAR 0", h->lineno);
        return -EINVAL;
    }
    return guest_submit(h, (unsigned int)vcpu, &w);
}

static int do_config(struct harness *h, struct line *l, int dir)
{
    struct device *d = line_device(h, l, true);
    uint64_t off, size, value, expect;
    uint32_t val;

    if (!d || need_domain(h) || kv_num(h, l, 1, "off", 0, &off) ||
        kv_num(h, l, 1, "size", 4, &size) || kv_num(h, l, 1, "value", 0, &value) ||
        kv_num(h, l, 1, "expect", 0, &expect))
        return -EINVAL;
    val = (uint32_t)value;
    if (dir == IOREQ_WRITE && kv(l, 1, "async"))
        return fw_config_async(h, d, (unsigned int)off, (unsigned int)size, val);
    double t0 = h_now();
    if (fw_config(h, d, (unsigned int)off, (unsigned int)size, dir, &val)) {
        h_fail(h, "line %u: config cycle failed", h->lineno);
        return -EIO;
    }
    if (kv(l, 1, "label"))
        h_record_timing(h, kv(l, 1, "label"), (uint64_t)((h_now() - t0) * 1e6), 0);
    if (dir == IOREQ_READ && kv(l, 1, "expect")) {
        h->nr_expects++;
        if (val != (uint32_t)expect) {
            h->nr_expects_failed++;
            h_fail(h, "line %u: config 0x%llx reads 0x%x, expected 0x%llx", h->lineno,
                   (unsigned long long)off, val, (unsigned long long)expect);
        }
    }
    return 0;
}

/* port-read port=N size=1|2|4 [expect=V] / port-write port=N size=.. value=V */
static int do_port(struct harness *h, struct line *l, int dir)
{
    uint64_t port, size, value, expect;
    uint32_t val;

    if (need_domain(h) || kv_num(h, l, 1, "port", 0xcf8, &port) ||
        kv_num(h, l, 1, "size", 4, &size) || kv_num(h, l, 1, "value", 0, &value) ||
        kv_num(h, l, 1, "expect", 0, &expect))
        return -EINVAL;
    if (port > 0xffff || (size != 1 && size != 2 && size != 4)) {
        h_fail(h, "line %u: port=0..0xffff size=1|2|4", h->lineno);
        return -EINVAL;
    }
    val = (uint32_t)value;
    if (fw_port(h, (unsigned int)port, (unsigned int)size, dir, &val)) {
        h_fail(h, "line %u: port access failed", h->lineno);
        return -EIO;
    }
    if (dir == IOREQ_READ && kv(l, 1, "expect")) {
        h->nr_expects++;
        if (val != (uint32_t)expect) {
            h->nr_expects_failed++;
            h_fail(h, "line %u: port 0x%llx reads 0x%x, expected 0x%llx", h->lineno,
                   (unsigned long long)port, val, (unsigned long long)expect);
        }
    }
    return 0;
}

/* METRIC or METRIC+METRIC (the right operand of expect: a sum of two counters). */
static bool metric_sum_get(struct harness *h, const char *expr, double *v)
{
    char left[128];
    const char *plus = strchr(expr, '+');
    double a, b;

    if (!plus)
        return metric_get(h, expr, v);
    if ((size_t)(plus - expr) >= sizeof(left))
        return false;
    memcpy(left, expr, (size_t)(plus - expr));
    left[plus - expr] = 0;
    if (!metric_get(h, left, &a) || !metric_get(h, plus + 1, &b))
        return false;
    *v = a + b;
    return true;
}

static int do_expect(struct harness *h, struct line *l)
{
    double a, b;
    uint64_t n;
    const char *op;
    bool ok;

    if (l->ntok != 4) {
        h_fail(h, "line %u: usage: expect METRIC OP VALUE", h->lineno);
        return -EINVAL;
    }
    op = l->tok[2];
    if (!metric_get(h, l->tok[1], &a)) {
        h_fail(h, "line %u: unknown metric '%s'", h->lineno, l->tok[1]);
        return -EINVAL;
    }
    if (!metric_sum_get(h, l->tok[3], &b)) {
        char *end;
        if (parse_size(l->tok[3], &n) == 0) {
            b = (double)n;
        } else {
            b = strtod(l->tok[3], &end);
            if (*end) {
                h_fail(h, "line %u: bad value '%s'", h->lineno, l->tok[3]);
                return -EINVAL;
            }
        }
    }
    if (strcmp(op, "==") == 0) ok = a == b;
    else if (strcmp(op, "!=") == 0) ok = a != b;
    else if (strcmp(op, "<") == 0) ok = a < b;
    else if (strcmp(op, "<=") == 0) ok = a <= b;
    else if (strcmp(op, ">") == 0) ok = a > b;
    else if (strcmp(op, ">=") == 0) ok = a >= b;
    else {
        h_fail(h, "line %u: bad operator '%s'", h->lineno, op);
        return -EINVAL;
    }
    h->nr_expects++;
    if (!ok) {
        h->nr_expects_failed++;
        h_fail(h, "line %u: expect %s %s %s: got %g vs %g", h->lineno, l->tok[1], op, l->tok[3],
               a, b);
    }
    return 0;
}

static int do_fail(struct harness *h, struct line *l)
{
    static const struct {
        const char *name;
        int err;
    } errs[] = {{"ENOMEM", ENOMEM}, {"EAGAIN", EAGAIN}, {"ENOENT", ENOENT}, {"EPERM", EPERM},
                {"EINVAL", EINVAL}, {"ESRCH", ESRCH},   {"EIO", EIO},       {"ENOSPC", ENOSPC},
                {"EEXIST", EEXIST}, {"EACCES", EACCES}, {"ENOTTY", ENOTTY},
                {"EOPNOTSUPP", EOPNOTSUPP}};
    uint64_t skip, count, e = 0;
    const char *en = kv(l, 2, "errno");
    int op = -1;

    if (need_domain(h))
        return -EINVAL;
    if (l->ntok > 1)
        op = sim_op_by_name(l->tok[1]);
    for (unsigned int i = 0; en && i < ARRAY_SIZE(errs); i++)
        if (strcmp(en, errs[i].name) == 0)
            e = (uint64_t)errs[i].err;
    if (en && e == 0)
        parse_u64(en, 4095, &e);
    if (op < 0 || e == 0 || kv_num(h, l, 2, "skip", 0, &skip) ||
        kv_num(h, l, 2, "count", 1, &count)) {
        h_fail(h, "line %u: usage: fail OP [skip=N] [count=N] errno=NAME", h->lineno);
        return -EINVAL;
    }
    hv_inject_failure(h->hv, (enum sim_op)op, (uint32_t)skip, (uint32_t)count, (int)e);
    return 0;
}

/* Replace every $TMP with the run's temporary directory, in place. */
static int expand_tmp(struct harness *h, char *buf, size_t size)
{
    char out[4096], *o = out;
    const char *p = buf;
    size_t tlen = strlen(h->tmpdir);

    while (*p) {
        if (strncmp(p, "$TMP", 4) == 0) {
            if ((size_t)(o - out) + tlen >= sizeof(out))
                return -E2BIG;
            memcpy(o, h->tmpdir, tlen);
            o += tlen;
            p += 4;
        } else {
            if ((size_t)(o - out) + 1 >= sizeof(out))
                return -E2BIG;
            *o++ = *p++;
        }
    }
    *o = '\0';
    if ((size_t)(o - out) >= size)
        return -E2BIG;
    memcpy(buf, out, (size_t)(o - out) + 1);
    return 0;
}

struct mem_op {
    uint64_t addr, val;
    unsigned int size;
    int dir;
};

static int mem_op_on_vcpu(struct hv_vcpu *v, void *arg)
{
    struct mem_op *m = arg;

    return cpu_mem(v, m->addr, m->size, m->dir, &m->val);
}

/* One guest access at an absolute physical address, on vCPU 0. */
static int do_mem(struct harness *h, struct line *l, int dir)
{
    struct mem_op m = {.dir = dir};
    uint64_t size, expect;

    if (need_domain(h) || kv_num(h, l, 1, "addr", 0, &m.addr) ||
        kv_num(h, l, 1, "size", 4, &size) || kv_num(h, l, 1, "value", 0, &m.val) ||
        kv_num(h, l, 1, "expect", 0, &expect))
        return -EINVAL;
    m.size = (unsigned int)size;
    if (guest_call(h, mem_op_on_vcpu, &m)) {
        h_fail(h, "line %u: guest access to 0x%llx failed", h->lineno,
               (unsigned long long)m.addr);
        return -EIO;
    }
    if (dir == IOREQ_READ && kv(l, 1, "expect")) {
        h->nr_expects++;
        if (m.val != expect) {
            h->nr_expects_failed++;
            h_fail(h, "line %u: 0x%llx reads 0x%llx, expected 0x%llx", h->lineno,
                   (unsigned long long)m.addr, (unsigned long long)m.val,
                   (unsigned long long)expect);
        }
    }
    return 0;
}

static int do_host_file(struct harness *h, struct line *l)
{
    const char *path = kv(l, 1, "path");
    uint64_t size;
    int fd;

    if (!path || kv_num(h, l, 1, "size", 0, &size) || size == 0) {
        h_fail(h, "line %u: usage: host-file path=P size=S", h->lineno);
        return -EINVAL;
    }
    fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0 || ftruncate(fd, (off_t)size) < 0) {
        h_fail(h, "line %u: cannot create %s: %s", h->lineno, path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -EIO;
    }
    close(fd);
    return 0;
}

/* lspci -F must decode the dump and print each of the |-separated texts. */
static int lspci_check(struct harness *h, const char *file, const char *expect)
{
    char cmd[512], out[16384], want[1024];
    size_t n;
    FILE *p;

    snprintf(cmd, sizeof(cmd), "lspci -F '%s' -vv -nn 2>&1", file);
    p = popen(cmd, "r");
    if (!p) {
        h_fail(h, "line %u: cannot run lspci", h->lineno);
        return -EIO;
    }
    n = fread(out, 1, sizeof(out) - 1, p);
    out[n] = '\0';
    if (pclose(p) != 0) {
        h_fail(h, "line %u: lspci -F failed: %s", h->lineno, out);
        return -EIO;
    }
    snprintf(want, sizeof(want), "%s", expect);
    for (char *save = NULL, *t = strtok_r(want, "|", &save); t; t = strtok_r(NULL, "|", &save)) {
        h->nr_expects++;
        if (!strstr(out, t)) {
            h->nr_expects_failed++;
            h_fail(h, "line %u: lspci does not say \"%s\":\n%s", h->lineno, t, out);
        }
    }
    return 0;
}

/* How many lines of the daemon's log so far contain `match`. */
static int do_dm_log(struct harness *h, struct line *l)
{
    const char *match = kv(l, 1, "match");
    uint64_t want, n = 0;
    char line[1024];
    FILE *f;

    if (!match || kv_num(h, l, 1, "count", 1, &want))
        return -EINVAL;
    f = fopen(h->dm_log, "r");
    while (f && fgets(line, sizeof(line), f))
        n += strstr(line, match) != NULL;
    if (f)
        fclose(f);
    h->nr_expects++;
    if (n != want) {
        h->nr_expects_failed++;
        h_fail(h, "line %u: the daemon logged \"%s\" %llu times, expected %llu", h->lineno,
               match, (unsigned long long)n, (unsigned long long)want);
    }
    return 0;
}

/*
 * xenstore PATH present [value=V|value=dm-pid] | absent [timeout=MS]: the
 * simulated xenstored's tree. An absence may be waited for (a killed daemon's
 * record keeper removes the record after it died): each handle released
 * wakes the wait, and the keeper releases its own once it is done.
 */
static int do_xenstore(struct harness *h, struct line *l)
{
    const char *path = l->ntok > 2 ? l->tok[1] : NULL, *what = l->ntok > 2 ? l->tok[2] : NULL;
    const char *want = kv(l, 3, "value");
    char got[SIM_XS_VALUE_MAX + 1], pid[16];
    uint64_t timeout_ms;
    bool ok;

    if (!path || need_domain(h) || kv_num(h, l, 3, "timeout", 0, &timeout_ms))
        return -EINVAL;
    h->nr_expects++;
    if (strcmp(what, "present") == 0) {
        ok = hv_xs_read(h->hv, path, got, sizeof(got)) == 0;
        if (ok && want && strcmp(want, "dm-pid") == 0) {
            snprintf(pid, sizeof(pid), "%d", (int)h->dm.pid);
            want = pid;
        }
        if (ok && want && strcmp(got, want) != 0) {
            h->nr_expects_failed++;
            h_fail(h, "line %u: xenstore %s is \"%s\", expected \"%s\"", h->lineno, path, got,
                   want);
        } else if (!ok) {
            h->nr_expects_failed++;
            h_fail(h, "line %u: xenstore %s is missing", h->lineno, path);
        }
        return 0;
    }
    if (strcmp(what, "absent") != 0)
        return -EINVAL;
    ok = hv_xs_wait_absent(h->hv, path, (unsigned int)timeout_ms) == 0;
    if (!ok) {
        h->nr_expects_failed++;
        h_fail(h, "line %u: xenstore %s is still there (%u nodes)", h->lineno, path,
               hv_xs_count(h->hv, path));
    }
    return 0;
}

static int do_host(struct harness *h, struct line *l)
{
    struct device *dev = &h->dev[h->cur_dev];
    const char *what = l->ntok > 1 ? l->tok[1] : "";
    uint64_t off, len, seed, rate, duration, every, count;
    int rc;

    /* count=N: the storm ends after N invalidations (then duration only bounds it). */
    if (need_domain(h) || kv_num(h, l, 2, "off", 0, &off) ||
        kv_num(h, l, 2, "len", dev->bar_size > off ? dev->bar_size - off : 0, &len) ||
        kv_num(h, l, 2, "seed", 1, &seed) || kv_num(h, l, 2, "rate", 1000, &rate) ||
        kv_num(h, l, 2, "count", 0, &count) ||
        kv_num(h, l, 2, "duration", count ? 60000 : 1000, &duration) ||
        kv_num(h, l, 2, "every", 0, &every))
        return -EINVAL;
    rc = host_directive(h, what, off, len, seed, rate, duration, every, count);
    if (rc)
        h_fail(h, "line %u: host %s: %s", h->lineno, what, strerror(-rc));
    return rc;
}

static int run_line(struct harness *h, struct line *l)
{
    const char *d = l->tok[0];
    struct device *dev;
    uint64_t v;

    if (strcmp(d, "domain") == 0)
        return do_domain(h, l);
    if (strcmp(d, "dm") == 0)
        return do_dm(h, l);
    if (strcmp(d, "dm2") == 0)
        return do_dm2(h, l);
    if (strcmp(d, "dm-fails") == 0)
        return do_dm_fails(h, l);
    if (strcmp(d, "vcpu") == 0)
        return do_vcpu(h, l);
    if (strcmp(d, "wait") == 0) {
        guest_wait_all(h);
        if (l->ntok < 2 || strcmp(l->tok[1], "guest") != 0)
            host_storm_join(h);
        return 0;
    }
    if (strcmp(d, "host") == 0)
        return do_host(h, l);
    if (strcmp(d, "dm-log") == 0)
        return do_dm_log(h, l);
    if (strcmp(d, "xenstore") == 0)
        return do_xenstore(h, l);
    if (strcmp(d, "ctl") == 0)
        return need_domain(h) ? -EINVAL : ctl_directive(h, l->ntok, l->tok);
    if (strcmp(d, "expect") == 0)
        return do_expect(h, l);
    if (strcmp(d, "fail") == 0)
        return do_fail(h, l);
    if (strcmp(d, "echo") == 0) {
        char text[1024] = "";
        for (int i = 1; i < l->ntok; i++) {
            strncat(text, l->tok[i], sizeof(text) - strlen(text) - 2);
            if (i + 1 < l->ntok)
                strcat(text, " ");
        }
        /* Above a live progress line, on the same terminal; else plain stdout. */
        if (h->progress && isatty(STDERR_FILENO))
            fprintf(stderr, "\r\033[K%s\n", text);
        else
            printf("%s\n", text);
        return 0;
    }
    if (strcmp(d, "enumerate") == 0) {
        unsigned int bus, devn, fn;
        if (need_domain(h) || parse_bdf(h, kv(l, 1, "bdf"), &bus, &devn, &fn))
            return -EINVAL;
        if (h->hv->cfg.pvh) {
            h_fail(h,
                   "line %u: enumerate is hvmloader's, and a PVH guest has none "
                   "(linux-probe)",
                   h->lineno);
            return -EINVAL;
        }
        return fw_enumerate(h, bus, devn, fn);
    }
    if (strcmp(d, "linux-probe") == 0) {
        if (need_domain(h))
            return -EINVAL;
        if (fw_linux_probe(h)) {
            h_fail(h, "line %u: linux-probe: a port access failed", h->lineno);
            return -EIO;
        }
        return 0;
    }
    if (strcmp(d, "port-read") == 0)
        return do_port(h, l, IOREQ_READ);
    if (strcmp(d, "port-write") == 0)
        return do_port(h, l, IOREQ_WRITE);
    if (strcmp(d, "config-read") == 0)
        return do_config(h, l, IOREQ_READ);
    if (strcmp(d, "config-write") == 0)
        return do_config(h, l, IOREQ_WRITE);
    if (strcmp(d, "config-dump") == 0) {
        const char *file = kv(l, 1, "file"), *lspci = kv(l, 1, "lspci");
        dev = line_device(h, l, true);
        if (!dev || !file || need_domain(h))
            return -EINVAL;
        if (fw_config_dump(h, dev, file)) {
            h_fail(h, "line %u: cannot dump config space to %s", h->lineno, file);
            return -EIO;
        }
        return lspci ? lspci_check(h, file, lspci) : 0;
    }
    if (strcmp(d, "config-fuzz") == 0) {
        uint64_t count, seed;
        dev = line_device(h, l, true);
        if (!dev || need_domain(h) || kv_num(h, l, 1, "count", 1000, &count) ||
            kv_num(h, l, 1, "seed", 1, &seed))
            return -EINVAL;
        if (fw_config_fuzz(h, dev, count, seed)) {
            h_fail(h, "line %u: a config cycle failed", h->lineno);
            return -EIO;
        }
        return 0;
    }
    if (strcmp(d, "mem-read") == 0)
        return do_mem(h, l, IOREQ_READ);
    if (strcmp(d, "mem-write") == 0)
        return do_mem(h, l, IOREQ_WRITE);
    if (strcmp(d, "host-file") == 0)
        return do_host_file(h, l);
    if (strcmp(d, "bar-move") == 0) {
        const char *decode = kv(l, 1, "decode");
        dev = line_device(h, l, false);
        if (!dev || kv_num(h, l, 1, "addr", 0, &v))
            return -EINVAL;
        /* In the low MMIO hole, or above 4 GiB clear of RAM, within 46 bits. */
        uint64_t end = v + dev->bar_size;
        bool in_hole = v >= h->hv->mmio_hole_start && end <= HV_LOW_MMIO_END;
        bool high = v >= 0x100000000ULL && v >= hv_ram_end(h->hv) && end <= (1ULL << HV_PADDR_BITS);
        /* over-ram=1: a hostile or careless guest may place it over its own RAM. */
        if (!in_hole && !high && !kv(l, 1, "over-ram")) {
            h_fail(h, "line %u: bar-move target 0x%llx is outside the MMIO space", h->lineno,
                   (unsigned long long)v);
            return -EINVAL;
        }
        double t0 = h_now();
        if (fw_bar_move(h, dev, v, decode && strcmp(decode, "off") == 0, kv(l, 1, "async"))) {
            h_fail(h, "line %u: bar-move failed", h->lineno);
            return -EIO;
        }
        if (kv(l, 1, "label") && !kv(l, 1, "async"))
            h_record_timing(h, kv(l, 1, "label"), (uint64_t)((h_now() - t0) * 1e6), 0);
        return 0;
    }
    h_fail(h, "line %u: unknown directive '%s'", h->lineno, d);
    return -EINVAL;
}

static void scenario_finish(struct harness *h)
{
    guest_wait_all(h);
    host_storm_join(h);
    ctl_release_all(h);
    ctl_forget_buffers(h);
    if (h->dm2.running) {
        struct line stop = {.ntok = 2, .tok = {"dm2", "stop"}};
        do_dm2(h, &stop);
    }
    if (h->dm.running)
        dm_stop(h, SIGTERM, true);
    if (!h->hv)
        return;
    /* A daemon that left cleanly released its memfd keeper, and waited for it. */
    if (h->last_exit_status == 0 && hv_wait_other_handles_released(h->hv, 5000))
        h_fail(h, "a memfd keeper outlived its daemon's clean exit");
    if (h->hv->state == DOM_DYING)
        h_fail(h, "zombie domain: %llu pages still mapped by the device model",
               (unsigned long long)hv_foreign_pages_held(h->hv));
    static const char *const leak_metrics[] = {"hv.leaked_servers", "hv.leaked_ports",
                                               "hv.leaked_mappings", "hv.leaked_lent_pages"};
    for (unsigned int i = 0; i < ARRAY_SIZE(leak_metrics); i++) {
        double v = 0;
        metric_get(h, leak_metrics[i], &v);
        if (v > 0)
            h_fail(h, "%s = %g: the device model left them to be released by others",
                   leak_metrics[i], v);
    }
}

int scenario_run(struct harness *h, const char *path)
{
    FILE *f = fopen(path, "r");
    char buf[4096];
    int rc = 0;

    if (!f) {
        h_fail(h, "cannot open scenario %s: %s", path, strerror(errno));
        return -errno;
    }
    h->scenario_path = path;
    while (rc == 0 && fgets(buf, sizeof(buf), f)) {
        struct line l;

        h->lineno++;
        if (expand_tmp(h, buf, sizeof(buf))) {
            h_fail(h, "line %u: too long once $TMP is expanded", h->lineno);
            rc = -E2BIG;
            break;
        }
        if (tokenize(buf, &l)) {
            h_fail(h, "line %u: too many words", h->lineno);
            rc = -E2BIG;
            break;
        }
        if (l.ntok == 0)
            continue;
        if (h->verbose)
            fprintf(stderr, "xensim: line %u: %s\n", h->lineno, l.tok[0]);
        rc = run_line(h, &l);
    }
    fclose(f);
    scenario_finish(h);
    return rc;
}
