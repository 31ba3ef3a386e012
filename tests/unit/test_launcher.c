/* SPDX-License-Identifier: MIT */
/*
 * The xl route end to end, against an in-process simulated Xen:
 *
 * - every .cfg in xl-cfg-examples/ parses with libxlutil (xl's own parser), and
 *   its lend specs parse;
 * - each HVM example's device_model_args, placed in a command line as libxl
 *   builds it, goes through build/ioreq-lend-qemu with build/tests/fake-qemu
 *   as QEMU: when the fake QEMU starts, every daemon's ioreq server is enabled
 *   and claims its PCI function; QEMU's argv is the original less the
 *   launcher's arguments, in order; its fds are exactly those the test passed
 *   (7, 8 and a "QMP" socket at 9), none close-on-exec;
 * - the PVH example goes through build/ioreq-lend-xl-create with
 *   build/tests/fake-xl: create -p, domid, daemons ready, then unpause;
 * - the daemons' stdout and stderr: one log per domain, named after it, in
 *   $IOREQ_LEND_LOG_DIR (here a directory of the fixture), rotated at each
 *   start as libxl rotates its qemu-dm logs; a log that cannot be opened is
 *   one warning, and the domain starts anyway;
 * - bad specs, a daemon that fails or hangs, a missing domain: the launcher
 *   exits non-zero with one line saying why, QEMU never starts, and nothing
 *   is left: no process, no ioreq server, no open handle.
 *
 * The test process is a child subreaper, so a daemon left behind by a
 * launcher would become its child: "nothing left running" is checked with
 * waitpid(-1), and the detached daemons of a good run are stopped here.
 * Synchronisation is by pipes and the simulator's condition variables only.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <poll.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include <libxlutil.h>

#include "launcher/lend_spec.h"
#include "sim/hv/hv.h"

#ifndef IOREQ_LEND_TEST_PREFIX
#define IOREQ_LEND_TEST_PREFIX "/usr/local"
#endif

#define DOMID      7
#define EXAMPLES   "xl-cfg-examples"
#define MAX_ARGS   96
#define MAX_SPECS  8
#define NOTIFY_FD  7
#define ACK_FD     8
#define QMP_FD     9
#define TIMEOUT_MS 60000

#define KB (1ULL << 10)
#define MB (1ULL << 20)
#define GB (1ULL << 30)

/* ---- An xl config, read with libxlutil ---- */

struct example {
    char path[PATH_MAX];
    char type[16];
    char override[PATH_MAX];
    int nargs; /* device_model_args */
    char *args[MAX_ARGS];
    int nspecs; /* the -ioreq-lend values, or the ioreq_lend entries */
    char *specs[MAX_SPECS];
};

static void example_free(struct example *ex)
{
    for (int i = 0; i < ex->nargs; i++)
        free(ex->args[i]);
    for (int i = 0; i < ex->nspecs; i++)
        free(ex->specs[i]);
    memset(ex, 0, sizeof(*ex));
}

static void example_load(const char *name, struct example *ex)
{
    XLU_Config *cfg;
    XLU_ConfigList *list;
    const char *s;
    int n;

    memset(ex, 0, sizeof(*ex));
    snprintf(ex->path, sizeof(ex->path), "%s/%s", EXAMPLES, name);
    cfg = xlu_cfg_init(stderr, ex->path);
    assert_non_null(cfg);
    if (xlu_cfg_readfile(cfg, ex->path) != 0)
        fail_msg("%s does not parse with libxlutil", ex->path);
    assert_int_equal(xlu_cfg_get_string(cfg, "type", &s, 0), 0);
    snprintf(ex->type, sizeof(ex->type), "%s", s);
    assert_int_equal(xlu_cfg_get_string(cfg, "name", &s, 0), 0);
    if (xlu_cfg_get_string(cfg, "device_model_override", &s, 1) == 0)
        snprintf(ex->override, sizeof(ex->override), "%s", s);
    if (xlu_cfg_get_list(cfg, "device_model_args", &list, &n, 1) == 0) {
        assert_true(n <= MAX_ARGS);
        for (int i = 0; i < n; i++) {
            assert_non_null(xlu_cfg_get_listitem(list, i));
            ex->args[ex->nargs++] = strdup(xlu_cfg_get_listitem(list, i));
        }
        for (int i = 0; i < n; i++) {
            if (strcmp(ex->args[i], "-ioreq-lend") == 0) {
                assert_true(i + 1 < n);
                assert_true(ex->nspecs < MAX_SPECS);
                ex->specs[ex->nspecs++] = strdup(ex->args[++i]);
            }
        }
    }
    if (xlu_cfg_get_list(cfg, "ioreq_lend", &list, &n, 1) == 0) {
        assert_int_equal(ex->nspecs, 0); /* one route per guest */
        assert_true(n <= MAX_SPECS);
        for (int i = 0; i < n; i++)
            ex->specs[ex->nspecs++] = strdup(xlu_cfg_get_listitem(list, i));
    }
    xlu_cfg_destroy(cfg);
}

static void spec_for(const char *text, struct lend_spec *s)
{
    struct lend_spec_env env = {.domid = DOMID, .state_dir = "/run/ioreq-lend"};
    char err[512];

    if (lend_spec_parse(text, &env, s, err, sizeof(err)))
        fail_msg("spec '%s': %s", text, err);
}

static uint32_t spec_sbdf(const struct lend_spec *s)
{
    return XEN_DMOP_PCI_SBDF(s->opt.pci_seg, s->opt.pci_bus, s->opt.pci_dev, s->opt.pci_fn);
}

/* ---- The fixture: a directory on tmpfs, a fake sysfs, a simulated domain ---- */

struct fx {
    char dir[64];
    char build[PATH_MAX];
    char state[PATH_MAX];
    char logs[PATH_MAX]; /* $IOREQ_LEND_LOG_DIR */
    struct hv *hv;
};

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");

    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static void sized_file(const char *path, uint64_t size)
{
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);

    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (off_t)size), 0);
    close(fd);
}

/*
 * The host GPU of the examples, 0000:03:00.0, as Linux's sysfs shows it to
 * libpci: BAR 0 16M of registers, BAR 2 a 64-bit prefetchable 8G VRAM
 * aperture whose resource2 (a sparse tmpfs file) the backing maps.
 */
static void fake_gpu(struct fx *f)
{
    static const struct {
        unsigned long long start, size, flags;
    } bars[6] = {
        {0xfb000000ULL, 16 * MB, 0x40200}, /* mem, 32-bit */
        {0, 0, 0},
        {0x4000000000ULL, 8 * GB, 0x14220cULL}, /* mem64, prefetchable */
        {0, 0, 0},
        {0, 0, 0},
        {0, 0, 0},
    };
    char dir[PATH_MAX], path[PATH_MAX + 32], resource[1024];
    uint8_t config[256] = {0x02, 0x10, 0x80, 0x74}; /* vendor 0x1002, device 0x7480 */
    size_t used = 0;

    snprintf(dir, sizeof(dir), "%s/sys/devices/0000:03:00.0", f->dir);
    snprintf(path, sizeof(path), "%s/sys", f->dir);
    assert_int_equal(mkdir(path, 0755), 0);
    snprintf(path, sizeof(path), "%s/sys/devices", f->dir);
    assert_int_equal(mkdir(path, 0755), 0);
    assert_int_equal(mkdir(dir, 0755), 0);
    config[0x0a] = 0x00; /* class 0x0300: VGA */
    config[0x0b] = 0x03;
    for (int i = 0; i < 6; i++) {
        uint32_t reg = (uint32_t)(bars[i].start | (bars[i].flags & 0xf));
        memcpy(&config[0x10 + 4 * i], &reg, sizeof(reg));
    }
    snprintf(path, sizeof(path), "%s/config", dir);
    FILE *c = fopen(path, "w");
    assert_non_null(c);
    assert_int_equal(fwrite(config, 1, sizeof(config), c), sizeof(config));
    assert_int_equal(fclose(c), 0);
    snprintf(path, sizeof(path), "%s/vendor", dir);
    write_text(path, "0x1002\n");
    snprintf(path, sizeof(path), "%s/device", dir);
    write_text(path, "0x7480\n");
    snprintf(path, sizeof(path), "%s/class", dir);
    write_text(path, "0x030000\n");
    snprintf(path, sizeof(path), "%s/irq", dir);
    write_text(path, "0\n");
    for (int i = 0; i < 7; i++) {
        unsigned long long s = 0, e = 0, fl = 0;

        if (i < 6 && bars[i].size) {
            s = bars[i].start;
            e = bars[i].start + bars[i].size - 1;
            fl = bars[i].flags;
        }
        used += (size_t)snprintf(resource + used, sizeof(resource) - used,
                                 "0x%016llx 0x%016llx 0x%016llx\n", s, e, fl);
    }
    snprintf(path, sizeof(path), "%s/resource", dir);
    write_text(path, resource);
    snprintf(path, sizeof(path), "%s/resource0", dir);
    sized_file(path, 16 * MB);
    snprintf(path, sizeof(path), "%s/resource2", dir);
    sized_file(path, 8 * GB);
}

/*
 * The daemon the launchers run: the simulator build, pointed at the fake
 * sysfs, checking the domain every 50 ms (the spec's own options come after
 * these, and win).
 */
static void daemon_wrapper(struct fx *f)
{
    char path[PATH_MAX + 16], text[3 * PATH_MAX];

    snprintf(path, sizeof(path), "%s/ioreq-lend", f->dir);
    snprintf(text, sizeof(text),
             "#!/bin/sh\nexec '%s/ioreq-lend-sim' --pci-sysfs-path '%s/sys' "
             "--domain-poll-ms 50 \"$@\"\n",
             f->build, f->dir);
    write_text(path, text);
    assert_int_equal(chmod(path, 0755), 0);
    setenv("IOREQ_LEND_DAEMON", path, 1);
}

static int setup(void **state)
{
    struct fx *f = calloc(1, sizeof(*f));
    char self[PATH_MAX], path[PATH_MAX + 32];
    ssize_t n;

    assert_non_null(f);
    /* build/tests/test_launcher: the build directory is two levels up. */
    n = readlink("/proc/self/exe", self, sizeof(self) - 1);
    assert_true(n > 0);
    self[n] = '\0';
    snprintf(f->build, sizeof(f->build), "%s", dirname(dirname(self)));
    /* tmpfs: the simulated kernel lends only shared-memory pages. */
    snprintf(f->dir, sizeof(f->dir), "/dev/shm/ioreq-lend-launcher-XXXXXX");
    assert_non_null(mkdtemp(f->dir));
    snprintf(f->state, sizeof(f->state), "%s/state", f->dir);
    fake_gpu(f);
    daemon_wrapper(f);
    setenv("IOREQ_LEND_STATE_DIR", f->state, 1);
    /* Never the real /var/log/xen. */
    snprintf(f->logs, sizeof(f->logs), "%s/log", f->dir);
    assert_int_equal(mkdir(f->logs, 0755), 0);
    setenv("IOREQ_LEND_LOG_DIR", f->logs, 1);
    snprintf(path, sizeof(path), "%s/tests/fake-qemu", f->build);
    setenv("IOREQ_LEND_QEMU", path, 1);
    snprintf(path, sizeof(path), "%s/tests/fake-xl", f->build);
    setenv("IOREQ_LEND_XL", path, 1);
    setenv("FAKE_QEMU_DIR", f->dir, 1);
    snprintf(path, sizeof(path), "%s/xl.log", f->dir);
    setenv("FAKE_XL_LOG", path, 1);
    setenv("FAKE_XL_DOMID", "7", 1);
    setenv("FAKE_QEMU_NOTIFY_FD", "7", 1);
    setenv("FAKE_QEMU_ACK_FD", "8", 1);
    setenv("FAKE_XL_NOTIFY_FD", "7", 1);
    setenv("FAKE_XL_ACK_FD", "8", 1);
    unsetenv("FAKE_XL_CREATE_EXIT");
    *state = f;
    return 0;
}

static int remove_entry(const char *dir)
{
    char cmd[128];

    /* Our own temporary tree; nothing outside it. */
    snprintf(cmd, sizeof(cmd), "rm -rf -- '%s'", dir);
    return system(cmd);
}

static void hv_stop(struct fx *f)
{
    if (!f->hv)
        return;
    hv_destroy(f->hv);
    free(f->hv);
    f->hv = NULL;
}

/* SIGKILL every child of ours; returns how many there were. */
static int kill_children_once(void)
{
    DIR *d = opendir("/proc");
    struct dirent *e;
    int n = 0;

    while (d && (e = readdir(d)) != NULL) {
        char path[300], buf[512], *p;
        FILE *f;
        int ppid = 0;

        if (e->d_name[0] < '0' || e->d_name[0] > '9')
            continue;
        snprintf(path, sizeof(path), "/proc/%s/stat", e->d_name);
        f = fopen(path, "r");
        if (!f)
            continue;
        p = fgets(buf, sizeof(buf), f) ? strrchr(buf, ')') : NULL;
        fclose(f);
        if (p && sscanf(p, ") %*c %d", &ppid) == 1 && ppid == getpid()) {
            pid_t pid = (pid_t)atoi(e->d_name);
            int st;

            kill(pid, SIGKILL);
            waitpid(pid, &st, 0);
            n++;
        }
    }
    if (d)
        closedir(d);
    return n;
}

/*
 * After a failed test: kill whatever it left (a passing test leaves nothing).
 * Killing a launcher orphans its children to us, hence the rounds.
 */
static void kill_children(void)
{
    int st;

    for (int round = 0; round < 16 && kill_children_once() > 0; round++)
        ;
    while (waitpid(-1, &st, WNOHANG) > 0)
        ;
}

static int teardown(void **state)
{
    struct fx *f = *state;

    kill_children();
    hv_stop(f);
    remove_entry(f->dir);
    free(f);
    return 0;
}

static void hv_start(struct fx *f, bool lend)
{
    struct hv_domain_config cfg = {.domid = DOMID,
                                   .vcpus = 2,
                                   .ram = 16 * MB,
                                   .balloon_reserve = 1 * MB,
                                   .lend_kernel = lend,
                                   .lend_xen = lend,
                                   .ioreq_timeout_ms = 5000};
    char path[96];

    int rc;

    f->hv = calloc(1, sizeof(*f->hv));
    assert_non_null(f->hv);
    rc = hv_create(f->hv, &cfg, f->dir);
    if (rc == -ENOSYS && lend) {
        /* The simulated kernel lends through userfaultfd, which valgrind does not know. */
        free(f->hv);
        f->hv = NULL;
        skip();
    }
    assert_int_equal(rc, 0);
    snprintf(path, sizeof(path), "%s/xensim.sock", f->dir);
    setenv(XENSIM_SOCKET_ENV, path, 1);
}

/* ---- Running a launcher ---- */

struct run {
    int status;      /* wait status */
    char out[16384]; /* stdout and stderr */
    bool started;    /* the fake QEMU (or xl unpause) ran */
    /* The simulated Xen when it started: */
    unsigned int nr_enabled;
    uint32_t sbdf[HV_MAX_SERVERS]; /* the function it claims, other than 00:00.0 */
    bool bridge[HV_MAX_SERVERS];   /* it claims 00:00.0 and the conf1 ports 0xcf8-0xcff */
    bool ports[HV_MAX_SERVERS];    /* it claims any port */
    bool enabled[HV_MAX_SERVERS];
    pid_t creator[HV_MAX_SERVERS];
    ino_t ino[3]; /* of what the test passed as fds 7, 8, 9 */
};

static void snapshot(struct fx *f, struct run *r)
{
    struct hv *hv = f->hv;

    pthread_mutex_lock(&hv->lock);
    for (unsigned int id = 0; id < HV_MAX_SERVERS; id++) {
        const struct hv_server *s = &hv->server[id];

        r->enabled[id] = s->used && s->enabled;
        r->creator[id] = s->used ? s->creator_pid : 0;
        r->sbdf[id] = UINT32_MAX;
        r->bridge[id] = r->ports[id] = false;
        if (!s->used)
            continue;
        /* A PVH host bridge's server also claims 00:00.0 (sbdf 0, sorted first). */
        const struct rangeset *pci = &s->range[XEN_DMOP_IO_RANGE_PCI];
        unsigned int own = pci->nr == 2 && pci->r[0].s == 0 && pci->r[0].e == 0;
        if (pci->nr == 1 + own && pci->r[own].s == pci->r[own].e)
            r->sbdf[id] = (uint32_t)pci->r[own].s;
        r->ports[id] = s->range[XEN_DMOP_IO_RANGE_PORT].nr > 0;
        r->bridge[id] = own && rangeset_contains(&s->range[XEN_DMOP_IO_RANGE_PORT], 0xcf8, 0xcff);
        r->nr_enabled += r->enabled[id];
    }
    pthread_mutex_unlock(&hv->lock);
}

/* Was sbdf claimed by an enabled server when QEMU started? Returns its creator. */
static pid_t claimed_by(const struct run *r, uint32_t sbdf)
{
    for (unsigned int id = 0; id < HV_MAX_SERVERS; id++) {
        if (r->enabled[id] && r->sbdf[id] == sbdf)
            return r->creator[id];
    }
    return 0;
}

static ino_t fd_ino(int fd)
{
    struct stat st;

    assert_int_equal(fstat(fd, &st), 0);
    return st.st_ino;
}

/* Put `from` at `to` in a child about to exec (async-signal-safe). */
static void child_fd(int from, int to)
{
    if (from != to) {
        dup2(from, to);
    } else {
        int fl = fcntl(to, F_GETFD);
        fcntl(to, F_SETFD, fl & ~FD_CLOEXEC);
    }
}

/*
 * Run argv (a launcher) with stdin /dev/null, stdout and stderr to a file,
 * and three more fds as libxl would leave them: 7 and 8, the fake QEMU's
 * notify and acknowledge pipes, and 9, a socket standing for QMP. When the
 * fake QEMU (or fake xl's unpause) says it started, look at the simulated Xen,
 * then let it finish.
 */
static void run(struct fx *f, char *const argv[], struct run *r)
{
    int notify[2], ack[2], qmp[2], out, nul, hi[5];
    char path[PATH_MAX + 16], c[16];
    struct pollfd p;
    pid_t pid;
    ssize_t n;

    memset(r, 0, sizeof(*r));
    assert_int_equal(pipe2(notify, O_CLOEXEC), 0);
    assert_int_equal(pipe2(ack, O_CLOEXEC), 0);
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, qmp), 0);
    snprintf(path, sizeof(path), "%s/launcher.out", f->dir);
    out = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    nul = open("/dev/null", O_RDONLY | O_CLOEXEC);
    assert_true(out >= 0 && nul >= 0);
    r->ino[0] = fd_ino(notify[1]);
    r->ino[1] = fd_ino(ack[0]);
    r->ino[2] = fd_ino(qmp[1]);
    /* Out of the way of 0-9 first, so that no dup2 below clobbers a source. */
    hi[0] = fcntl(notify[1], F_DUPFD_CLOEXEC, 100);
    hi[1] = fcntl(ack[0], F_DUPFD_CLOEXEC, 100);
    hi[2] = fcntl(qmp[1], F_DUPFD_CLOEXEC, 100);
    hi[3] = fcntl(out, F_DUPFD_CLOEXEC, 100);
    hi[4] = fcntl(nul, F_DUPFD_CLOEXEC, 100);
    pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        child_fd(hi[4], 0);
        child_fd(hi[3], 1);
        child_fd(hi[3], 2);
        child_fd(hi[0], NOTIFY_FD);
        child_fd(hi[1], ACK_FD);
        child_fd(hi[2], QMP_FD);
        for (int fd = 3; fd < NOTIFY_FD; fd++)
            close(fd);
        close_range(QMP_FD + 1, ~0U, 0);
        execv(argv[0], argv);
        _exit(126);
    }
    for (int i = 0; i < 5; i++)
        close(hi[i]);
    close(notify[1]);
    close(ack[0]);
    close(qmp[1]);
    close(nul);
    /* "started", or EOF: the launcher exited without running QEMU. */
    p = (struct pollfd){.fd = notify[0], .events = POLLIN};
    assert_int_equal(poll(&p, 1, TIMEOUT_MS), 1);
    n = read(notify[0], c, sizeof(c));
    if (n > 0) {
        r->started = true;
        snapshot(f, r);
        assert_int_equal(write(ack[1], "k", 1), 1);
    }
    /* One acknowledgement only: anything that waits for a second one gets EOF. */
    close(ack[1]);
    assert_int_equal(waitpid(pid, &r->status, 0), pid);
    n = pread(out, r->out, sizeof(r->out) - 1, 0);
    r->out[n > 0 ? n : 0] = '\0';
    close(out);
    close(notify[0]);
    close(qmp[0]);
}

static int lines(const char *s)
{
    int n = 0;

    for (; *s; s++)
        n += *s == '\n';
    return n;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;

    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p++)
        n++;
    return n;
}

/* libxl's command line for a qemu-xen HVM guest, device_model_args where libxl puts them. */
static int libxl_argv(struct fx *f, const struct example *ex, const char *const *extra, char **argv)
{
    /* Option and value pairs, one per line. */
    /* clang-format off */
    static const char *const head[] = {
        "-xen-domid", "7",
        "-no-shutdown",
        "-chardev", "socket,id=libxl-cmd,fd=9,server=on,wait=off",
        "-mon", "chardev=libxl-cmd,mode=control",
        "-chardev", "socket,id=libxenstat-cmd,path=/var/run/xen/qmp-libxenstat-7,server=on,wait=off",
        "-mon", "chardev=libxenstat-cmd,mode=control",
        "-nodefaults",
        "-no-user-config",
        "-name", "guest",
        "-vnc", "127.0.0.1:0,to=99",
        "-display", "none",
        "-device", "cirrus-vga,vgamem_mb=8",
        "-boot", "order=cda",
        "-device", "rtl8139,id=nic0,netdev=net0,mac=00:16:3e:00:00:01",
        "-netdev", "type=tap,id=net0,ifname=vif7.0-emu,script=no,downscript=no",
    };
    static const char *const tail[] = {
        "-machine", "xenfv,suppress-vmdesc=on",
        "-m", "4088",
        "-drive", "file=/dev/vg0/guest,if=ide,index=0,media=disk,format=raw,cache=writeback",
    };
    /* clang-format on */
    static char launcher[PATH_MAX + 32];
    int n = 0;

    snprintf(launcher, sizeof(launcher), "%s/ioreq-lend-qemu", f->build);
    argv[n++] = launcher;
    for (size_t i = 0; i < sizeof(head) / sizeof(head[0]); i++)
        argv[n++] = (char *)(uintptr_t)head[i];
    for (int i = 0; ex && i < ex->nargs; i++)
        argv[n++] = ex->args[i];
    for (int i = 0; extra && extra[i]; i++)
        argv[n++] = (char *)(uintptr_t)extra[i];
    for (size_t i = 0; i < sizeof(tail) / sizeof(tail[0]); i++)
        argv[n++] = (char *)(uintptr_t)tail[i];
    argv[n] = NULL;
    return n;
}

static char *read_all(const char *path, size_t *len)
{
    FILE *f = fopen(path, "r");
    char *buf;
    long n;

    if (!f)
        return NULL;
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    buf = calloc(1, (size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    if (len)
        *len = (size_t)n;
    return buf;
}

/* The domain log of domain `name` in the fixture's log directory (malloc'd), or NULL. */
static char *read_domain_log(struct fx *f, const char *name)
{
    char path[PATH_MAX + 64];

    snprintf(path, sizeof(path), "%s/ioreq-lend-%s.log", f->logs, name);
    return read_all(path, NULL);
}

/* `what`, a daemon's line for spec s, as it appears in a log: "ioreq-lend[dom7 BDF]: what". */
static bool has_daemon_line(const char *log, const struct lend_spec *s, const char *what)
{
    char want[256];

    snprintf(want, sizeof(want), "ioreq-lend[dom%u %s]: %s", DOMID, s->bdf, what);
    return log && strstr(log, want) != NULL;
}

/*
 * A good start's domain log: created 0644 (libxl's mode for qemu-dm logs),
 * one stamped "starting" line per daemon, and each daemon's own info line,
 * prefixed with its function; none of that on the launcher's stderr, which
 * names the log instead.
 */
static void check_domain_log(struct fx *f, const char *name, const char *prog,
                             const struct lend_spec *specs, int n, const struct run *r)
{
    char path[PATH_MAX + 64], want[PATH_MAX + 96], *log;
    struct stat st;

    snprintf(path, sizeof(path), "%s/ioreq-lend-%s.log", f->logs, name);
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    snprintf(want, sizeof(want), ", logging to %s\n", path);
    if (!strstr(r->out, want))
        fail_msg("no \"%s\" in:\n%s", want, r->out);
    log = read_domain_log(f, name);
    assert_non_null(log);
    snprintf(want, sizeof(want), "%s: 20", prog); /* "PROG: 2026-12-08 00:01:09 UTC: starting" */
    assert_int_equal(count(log, want), n);
    assert_int_equal(count(log, " UTC: starting "), n);
    for (int i = 0; i < n; i++) {
        if (!has_daemon_line(log, &specs[i], "info: serving domain 7: PCI "))
            fail_msg("no info line of %s in %s:\n%s", specs[i].bdf, path, log);
    }
    assert_null(strstr(r->out, "serving domain"));
    assert_null(strstr(r->out, "warning"));
    free(log);
}

/* After stop_daemons(): each daemon's last line went to the domain log too. */
static void check_exit_lines(struct fx *f, const char *name, const struct lend_spec *specs, int n)
{
    char *log = read_domain_log(f, name);

    for (int i = 0; i < n; i++) {
        if (!has_daemon_line(log, &specs[i], "info: exiting with status 0"))
            fail_msg("no exit line of %s in the log:\n%s", specs[i].bdf, log ? log : "(none)");
    }
    free(log);
}

/* The argv the fake QEMU received is the launcher's less every -ioreq-lend* pair. */
static void check_qemu_argv(struct fx *f, char *const argv[], int argc)
{
    char path[PATH_MAX + 16], *rec, *p;
    size_t len;
    int i = 1;

    snprintf(path, sizeof(path), "%s/argv", f->dir);
    rec = read_all(path, &len);
    assert_non_null(rec);
    p = rec;
    snprintf(path, sizeof(path), "%s/tests/fake-qemu", f->build);
    assert_string_equal(p, path); /* argv[0]: QEMU's path */
    p += strlen(p) + 1;
    for (; i < argc; i++) {
        if (strncmp(argv[i], "-ioreq-lend", 11) == 0) {
            i++;
            continue;
        }
        assert_true(p < rec + len);
        assert_string_equal(p, argv[i]);
        p += strlen(p) + 1;
    }
    assert_true(p == rec + len); /* nothing more */
    free(rec);
}

/* The fake QEMU's fds: exactly 0, 1, 2 and the three the test passed, as passed. */
static void check_qemu_fds(struct fx *f, const struct run *r)
{
    char path[PATH_MAX + 16], *rec, *line, *save = NULL;
    int seen = 0;

    snprintf(path, sizeof(path), "%s/fds", f->dir);
    rec = read_all(path, NULL);
    assert_non_null(rec);
    for (line = strtok_r(rec, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        unsigned long long ino;
        char kind[16];
        int fd, cloexec;

        assert_int_equal(sscanf(line, "%d %llu %15s %d", &fd, &ino, kind, &cloexec), 4);
        assert_int_equal(cloexec, 0);
        switch (fd) {
        case 0:
        case 1:
        case 2:
            break;
        case NOTIFY_FD:
        case ACK_FD:
            assert_string_equal(kind, "fifo");
            assert_int_equal(ino, r->ino[fd - NOTIFY_FD]);
            break;
        case QMP_FD:
            assert_string_equal(kind, "sock");
            assert_int_equal(ino, r->ino[2]);
            break;
        default:
            fail_msg("QEMU inherited fd %d (%s), which the launcher should not have left open", fd,
                     line);
        }
        seen |= 1 << fd;
    }
    assert_int_equal(seen, 0x7 | 1 << NOTIFY_FD | 1 << ACK_FD | 1 << QMP_FD);
    free(rec);
}

/* Wait until no process has a handle open on the simulated Xen. */
static void wait_no_handles(struct fx *f)
{
    struct hv *hv = f->hv;
    struct timespec deadline;
    int rc = 0;

    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += TIMEOUT_MS / 1000;
    pthread_mutex_lock(&hv->lock);
    for (;;) {
        bool open = false;
        for (int i = 0; i < HV_MAX_CONNS; i++)
            open |= hv->conn[i].used;
        if (!open || rc == ETIMEDOUT)
            break;
        rc = pthread_cond_timedwait(&hv->conn_closed, &hv->lock, &deadline);
    }
    pthread_mutex_unlock(&hv->lock);
    assert_int_not_equal(rc, ETIMEDOUT);
}

/* Nothing left: no child process, no server, no handle, no protocol error. */
/* The launcher exited 1 (a daemon did not start) and QEMU or the guest never ran. */
static void expect_start_failed(const struct run *r)
{
    if (!WIFEXITED(r->status) || WEXITSTATUS(r->status) != 1)
        fail_msg("status 0x%x:\n%s", r->status, r->out);
    assert_false(r->started);
}

/*
 * No process left. A daemon's memfd keeper (an orphan, so ours) exits as
 * its daemon releases it, a moment after that daemon: reap it, waiting for
 * SIGCHLD, but a child still running after 10 s is a leftover.
 */
static void reap_orphans(void)
{
    const struct timespec bound = {.tv_sec = 10};
    sigset_t chld, old;
    int st;

    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_BLOCK, &chld, &old);
    for (;;) {
        pid_t pid = waitpid(-1, &st, WNOHANG);

        if (pid > 0)
            continue;
        if (pid < 0) {
            assert_int_equal(errno, ECHILD);
            break;
        }
        if (sigtimedwait(&chld, NULL, &bound) < 0)
            fail_msg("a child process is still running after 10 s");
    }
    sigprocmask(SIG_SETMASK, &old, NULL);
}

static void check_nothing_left(struct fx *f)
{
    reap_orphans();
    wait_no_handles(f);
    for (unsigned int id = 0; id < HV_MAX_SERVERS; id++)
        assert_false(f->hv->server[id].used);
    assert_int_equal(f->hv->nr_failures, 0);
}

static pid_t read_pidfile(struct fx *f, const struct lend_spec *s)
{
    char path[PATH_MAX + 64], *text;
    pid_t pid;

    snprintf(path, sizeof(path), "%s/dom%u-%s.pid", f->state, DOMID, s->bdf);
    text = read_all(path, NULL);
    if (!text)
        fail_msg("no pidfile %s", path);
    pid = (pid_t)atoi(text);
    free(text);
    return pid;
}

/*
 * The detached daemons of a good run (now our children): stop them (or, with
 * domain_dies, destroy the domain and let them notice), check they exit 0
 * and wrote their counters, and that nothing is left.
 */
static void stop_daemons(struct fx *f, struct lend_spec *specs, int n, bool domain_dies)
{
    pid_t pid[MAX_SPECS];
    char path[PATH_MAX + 64], *json;
    int st;

    for (int i = 0; i < n; i++) {
        pid[i] = read_pidfile(f, &specs[i]);
        if (!domain_dies)
            assert_int_equal(kill(pid[i], SIGTERM), 0);
    }
    if (domain_dies)
        hv_domain_destroy(f->hv);
    for (int i = 0; i < n; i++) {
        assert_int_equal(waitpid(pid[i], &st, 0), pid[i]);
        assert_true(WIFEXITED(st));
        assert_int_equal(WEXITSTATUS(st), 0);
        /* Written at exit at the latest: the counters, as JSON. */
        snprintf(path, sizeof(path), "%s/dom%u-%s.json", f->state, DOMID, specs[i].bdf);
        json = read_all(path, NULL);
        if (specs[i].opt.stats_path) {
            assert_non_null(json);
            assert_non_null(strstr(json, "\"pci_config\":"));
            assert_non_null(strstr(json, "\"remap\":{"));
        } else {
            assert_null(json);
        }
        free(json);
    }
    check_nothing_left(f);
}

/* One HVM example through ioreq-lend-qemu. */
static void hvm_example(struct fx *f, const char *name, bool lend, const char *want_mode,
                        const char *const *extra, bool domain_dies)
{
    struct example ex;
    struct lend_spec specs[MAX_SPECS];
    char *argv[MAX_ARGS + 64], want[64];
    struct run r;
    pid_t creators[MAX_SPECS];
    int argc;

    hv_start(f, lend);
    example_load(name, &ex);
    assert_string_equal(ex.type, "hvm");
    argc = libxl_argv(f, &ex, extra, argv);
    for (int i = 0; i < ex.nspecs; i++)
        spec_for(ex.specs[i], &specs[i]);

    run(f, argv, &r);
    if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0)
        fail_msg("%s: launcher status 0x%x:\n%s", name, r.status, r.out);
    assert_true(r.started);
    /* When QEMU started, each device was served: server enabled, function claimed. */
    assert_int_equal(r.nr_enabled, ex.nspecs);
    for (int i = 0; i < ex.nspecs; i++) {
        creators[i] = claimed_by(&r, spec_sbdf(&specs[i]));
        if (!creators[i])
            fail_msg("%s: %s was not claimed when QEMU started:\n%s", name, specs[i].bdf, r.out);
        for (int j = 0; j < i; j++)
            assert_int_not_equal(creators[i], creators[j]); /* one daemon each */
    }
    snprintf(want, sizeof(want), "mode=%s", want_mode);
    assert_int_equal(count(r.out, "ioreq-lend-qemu: ready domid=7 "), ex.nspecs);
    assert_int_equal(count(r.out, want), ex.nspecs);
    /* ...and only then was QEMU executed. */
    {
        const char *exec = strstr(r.out, "ioreq-lend-qemu: executing "), *last = NULL;

        for (const char *p = r.out; (p = strstr(p, "ready domid=")) != NULL; p++)
            last = p;
        assert_non_null(exec);
        assert_true(last && exec > last);
    }
    check_qemu_argv(f, argv, argc);
    check_qemu_fds(f, &r);
    /* libxl passes -name guest: every daemon of the domain logs to ioreq-lend-guest.log. */
    check_domain_log(f, "guest", "ioreq-lend-qemu", specs, ex.nspecs, &r);
    stop_daemons(f, specs, ex.nspecs, domain_dies);
    check_exit_lines(f, "guest", specs, ex.nspecs);
    for (int i = 0; i < ex.nspecs; i++)
        lend_spec_free(&specs[i]);
    example_free(&ex);
}

/* ---- The tests ---- */

static void examples_parse_with_the_xl_parser(void **state)
{
    static const char *const want[] = {"hvm-vram-8g-lend.cfg", "hvm-vram-8g-auto.cfg",
                                       "hvm-two-windows.cfg", "pvh-lend.cfg"};
    DIR *d = opendir(EXAMPLES);
    struct dirent *e;
    unsigned int nfound = 0, nwant = 0, n_lend = 0, n_auto = 0, n_multi = 0, n_pvh = 0;

    (void)state;
    assert_non_null(d);
    while ((e = readdir(d)) != NULL) {
        size_t len = strlen(e->d_name);
        struct example ex;
        struct lend_spec specs[MAX_SPECS];

        if (len < 5 || strcmp(e->d_name + len - 4, ".cfg") != 0)
            continue;
        nfound++;
        for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
            nwant += strcmp(e->d_name, want[i]) == 0;
        example_load(e->d_name, &ex);
        assert_true(ex.nspecs >= 1);
        if (strcmp(ex.type, "hvm") == 0) {
            /* The launcher where make install puts it; the specs in -ioreq-lend pairs. */
            assert_string_equal(ex.override,
                                IOREQ_LEND_TEST_PREFIX "/libexec/ioreq-lend/ioreq-lend-qemu");
            assert_int_equal(ex.nargs, 2 * ex.nspecs);
        } else {
            assert_string_equal(ex.type, "pvh");
            assert_string_equal(ex.override, "");
            assert_int_equal(ex.nargs, 0);
            n_pvh++;
        }
        for (int i = 0; i < ex.nspecs; i++) {
            spec_for(ex.specs[i], &specs[i]);
            n_lend += specs[i].opt.mode == MODE_LEND;
            n_auto += specs[i].opt.mode == MODE_AUTO;
            for (int j = 0; j < i; j++)
                assert_string_not_equal(specs[i].bdf, specs[j].bdf);
        }
        n_multi += ex.nspecs > 1;
        for (int i = 0; i < ex.nspecs; i++)
            lend_spec_free(&specs[i]);
        example_free(&ex);
    }
    closedir(d);
    assert_int_equal(nwant, sizeof(want) / sizeof(want[0]));
    assert_true(nfound >= nwant);
    assert_true(n_lend >= 1 && n_auto >= 1 && n_multi >= 1 && n_pvh >= 1);
}

static void hvm_vram_lend(void **state)
{
    hvm_example(*state, "hvm-vram-8g-lend.cfg", true, "lend", NULL, false);
}

static void hvm_vram_auto_emulates_on_stock_xen(void **state)
{
    /* And when the domain dies, the daemon notices and exits 0 on its own. */
    hvm_example(*state, "hvm-vram-8g-auto.cfg", false, "emulate", NULL, true);
}

static void hvm_vram_auto_lends_where_it_can(void **state)
{
    hvm_example(*state, "hvm-vram-8g-auto.cfg", true, "lend", NULL, false);
}

static void hvm_two_windows(void **state)
{
    struct fx *f = *state;
    char qemu[PATH_MAX + 32];
    const char *extra[] = {"-ioreq-lend-qemu", qemu, "-ioreq-lend-timeout", "20", NULL};

    /* QEMU's path as an argument this time: it goes, like the specs. */
    snprintf(qemu, sizeof(qemu), "%s/tests/fake-qemu", f->build);
    unsetenv("IOREQ_LEND_QEMU");
    hvm_example(f, "hvm-two-windows.cfg", false, "emulate", extra, false);
}

static void pvh_example_through_xl_create(void **state)
{
    struct fx *f = *state;
    struct example ex;
    struct lend_spec spec;
    char prog[PATH_MAX + 32], cfg[PATH_MAX], path[PATH_MAX + 16], want[2 * PATH_MAX], *log;
    char *argv[] = {prog, cfg, "memory=1024", NULL};
    struct run r;
    pid_t creator;

    example_load("pvh-lend.cfg", &ex);
    assert_int_equal(ex.nspecs, 1);
    spec_for(ex.specs[0], &spec);
    hv_start(f, false);
    snprintf(prog, sizeof(prog), "%s/ioreq-lend-xl-create", f->build);
    snprintf(cfg, sizeof(cfg), "%s", ex.path);
    run(f, argv, &r);
    if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0)
        fail_msg("xl-create status 0x%x:\n%s", r.status, r.out);
    /* Unpaused only once the device was served. */
    assert_true(r.started);
    creator = claimed_by(&r, spec_sbdf(&spec));
    assert_true(creator > 0);
    snprintf(path, sizeof(path), "%s/xl.log", f->dir);
    log = read_all(path, NULL);
    assert_non_null(log);
    snprintf(want, sizeof(want), "create -p %s memory=1024\ndomid pvh-guest\nunpause 7\n", cfg);
    assert_string_equal(log, want);
    free(log);
    assert_non_null(strstr(r.out, "ioreq-lend-xl-create: ready domid=7 "));
    /* Its kernel boots with pci=noacpi: no warning. */
    assert_null(strstr(r.out, "warning"));
    /* The daemon logs after the launcher left, under the config's name. */
    check_domain_log(f, "pvh-guest", "ioreq-lend-xl-create", &spec, 1, &r);
    stop_daemons(f, &spec, 1, false);
    check_exit_lines(f, "pvh-guest", &spec, 1);
    lend_spec_free(&spec);
    example_free(&ex);
}

/*
 * libvirt's route for PVH guests (virsh start --paused, then its started hook
 * runs ioreq-lend-xl-create --attach): nothing is created or unpaused, the
 * daemons serve the paused domain. A domain that runs already is refused
 * before any daemon starts: its guest could have used the BAR unserved.
 */
static void xl_create_attach_serves_a_paused_domain(void **state)
{
    struct fx *f = *state;
    struct lend_spec spec;
    char prog[PATH_MAX + 32], cfg[PATH_MAX + 16], path[PATH_MAX + 16], *log;
    char *argv[] = {prog, "--attach", cfg, NULL};
    struct run r;

    hv_start(f, false);
    snprintf(cfg, sizeof(cfg), "%s/attach.cfg", f->dir);
    write_text(cfg, "name = \"pvh-guest\"\ntype = \"pvh\"\nkernel = \"/k\"\nmemory = 512\n"
                    "ioreq_lend = [ \"bdf=00:1f.0,size=1M,backing=memfd:1M\" ]\n");
    spec_for("bdf=00:1f.0,size=1M,backing=memfd:1M", &spec);
    snprintf(prog, sizeof(prog), "%s/ioreq-lend-xl-create", f->build);
    snprintf(path, sizeof(path), "%s/xl.log", f->dir);

    setenv("FAKE_XL_STATE", "r-----", 1);
    run(f, argv, &r);
    assert_true(WIFEXITED(r.status));
    assert_int_equal(WEXITSTATUS(r.status), 1);
    assert_non_null(strstr(r.out, "is not paused (state r-----)"));
    snapshot(f, &r);
    assert_int_equal(r.nr_enabled, 0);
    log = read_all(path, NULL);
    assert_non_null(log);
    assert_string_equal(log, "domid pvh-guest\nlist 7\n");
    free(log);
    unlink(path);

    setenv("FAKE_XL_STATE", "--p---", 1);
    run(f, argv, &r);
    unsetenv("FAKE_XL_STATE");
    if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0)
        fail_msg("xl-create --attach status 0x%x:\n%s", r.status, r.out);
    assert_false(r.started);
    assert_non_null(strstr(r.out, "is paused with its devices: virsh resume pvh-guest"));
    snapshot(f, &r);
    assert_true(claimed_by(&r, spec_sbdf(&spec)) > 0);
    log = read_all(path, NULL);
    assert_non_null(log);
    assert_string_equal(log, "domid pvh-guest\nlist 7\n");
    free(log);
    stop_daemons(f, &spec, 1, false);
    lend_spec_free(&spec);
}

/*
 * A PVH guest with two lent BARs: both daemons serve their functions, and
 * exactly one -- the first spec's -- owns the conf1 ports and the host bridge
 * 00:00.0 (Xen routes a port to one server). Each BAR decodes where the
 * launcher placed it, above 4 GiB + memory, when the domain is unpaused.
 */
static void pvh_two_windows_one_host_bridge(void **state)
{
    struct fx *f = *state;
    struct lend_spec spec[2];
    char prog[PATH_MAX + 32], cfg[PATH_MAX + 16];
    char *argv[] = {prog, cfg, NULL};
    struct run r;
    pid_t first, second;
    unsigned int bridges = 0, with_ports = 0;

    hv_start(f, false);
    snprintf(cfg, sizeof(cfg), "%s/pvh2.cfg", f->dir);
    write_text(cfg, "name = \"pvh-guest\"\ntype = \"pvh\"\nkernel = \"/k\"\nmemory = 512\n"
                    "ioreq_lend = [ \"bdf=00:1f.0,size=1M,backing=memfd:1M\",\n"
                    "               \"bdf=00:1e.0,size=2M,backing=memfd:2M\" ]\n");
    spec_for("bdf=00:1f.0,size=1M,backing=memfd:1M", &spec[0]);
    spec_for("bdf=00:1e.0,size=2M,backing=memfd:2M", &spec[1]);
    snprintf(prog, sizeof(prog), "%s/ioreq-lend-xl-create", f->build);
    run(f, argv, &r);
    if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0)
        fail_msg("xl-create status 0x%x:\n%s", r.status, r.out);
    assert_true(r.started);
    /* No pci=noacpi on the kernel's command line: a warning that Linux will not see them. */
    assert_non_null(strstr(r.out, "warning"));
    first = claimed_by(&r, spec_sbdf(&spec[0]));
    second = claimed_by(&r, spec_sbdf(&spec[1]));
    assert_true(first > 0 && second > 0 && first != second);
    for (unsigned int id = 0; id < HV_MAX_SERVERS; id++) {
        if (!r.enabled[id])
            continue;
        bridges += r.bridge[id];
        with_ports += r.ports[id];
        if (r.bridge[id])
            assert_int_equal(r.creator[id], first);
    }
    assert_int_equal(bridges, 1);
    assert_int_equal(with_ports, 1);
    /* Placed one after the other above 4 GiB + 512 MiB, each aligned to its size. */
    pthread_mutex_lock(&f->hv->lock);
    unsigned int placed = 0;
    for (unsigned int id = 0; id < HV_MAX_SERVERS; id++) {
        const struct rangeset *mem = &f->hv->server[id].range[XEN_DMOP_IO_RANGE_MEMORY];

        if (f->hv->server[id].used && rangeset_contains(mem, 0x120000000ULL, 0x1200fffffULL))
            placed |= 1;
        if (f->hv->server[id].used && rangeset_contains(mem, 0x120200000ULL, 0x1203fffffULL))
            placed |= 2;
    }
    pthread_mutex_unlock(&f->hv->lock);
    assert_int_equal(placed, 3);
    stop_daemons(f, spec, 2, false);
    lend_spec_free(&spec[0]);
    lend_spec_free(&spec[1]);
}

/* A bad spec: exit 2, one line naming the key, nothing started at all. */
static void bad_specs_start_nothing(void **state)
{
    static const struct {
        const char *spec, *key;
    } cases[] = {
        {"bdf=00:1f.0,sise=8G", "'sise'"},                        /* unknown key */
        {"bdf=00:1f.0,size=8G,size=4G", "'size' is given twice"}, /* duplicate */
        {"bdf=00:1f.0,backing=,size=8G", "'backing' has an empty value"},
        {"bdf=00:1f.0,size=3G", "size: '3G'"}, /* bad value */
        {"bdf=00:1f.0,mode=fast", "mode: 'fast'"},
        {"bdf=00:1f.0,window=9G,size=8G", "window 9G"},
        {"bdf=00:1f.0,fault_around=2M", "did you mean fault-around?"},
        {"bdf=00:1f.0,domid=3", "'domid' is not allowed"},
        {"bdf=00:1f.0,", "ends with a comma"},
        {"bdf", "'bdf' has no value"},
    };
    struct fx *f = *state;

    hv_start(f, false);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *extra[] = {"-ioreq-lend", "bdf=00:1e.0,backing=memfd:1M", "-ioreq-lend",
                               cases[i].spec, NULL};
        char *argv[MAX_ARGS + 64];
        struct run r;

        libxl_argv(f, NULL, extra, argv);
        run(f, argv, &r);
        if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 2 || lines(r.out) != 1 ||
            !strstr(r.out, cases[i].key) || !strstr(r.out, "lend spec 2"))
            fail_msg("spec '%s': status 0x%x, want 2 and one line with \"%s\":\n%s", cases[i].spec,
                     r.status, cases[i].key, r.out);
        assert_false(r.started);
        check_nothing_left(f);
        /* Not one call reached the simulated Xen: nothing started. */
        for (size_t op = 0; op < sizeof(f->hv->op_calls) / sizeof(f->hv->op_calls[0]); op++)
            assert_int_equal(f->hv->op_calls[op], 0);
    }
}

static void bad_launcher_arguments(void **state)
{
    static const struct {
        const char *extra[5], *msg;
    } cases[] = {
        {{"-ioreq-lend", "bdf=00:1f.0", "-incoming", "fd:0"}, "-incoming: restoring"},
        {{"-ioreq-lend-qmeu", "/x"}, "unknown option '-ioreq-lend-qmeu'"},
        {{"-ioreq-lend-timeout", "0"}, "-ioreq-lend-timeout: '0'"},
        {{"-ioreq-lend"}, "'-ioreq-lend' needs a value"},
    };
    struct fx *f = *state;

    hv_start(f, false);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char *argv[MAX_ARGS + 64];
        struct run r;
        int argc;

        /* The last case's option must come last, with no value after it. */
        if (i == 3) {
            argc = libxl_argv(f, NULL, NULL, argv);
            argv[argc++] = (char *)(uintptr_t)cases[i].extra[0];
            argv[argc] = NULL;
        } else {
            libxl_argv(f, NULL, cases[i].extra, argv);
        }
        run(f, argv, &r);
        if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 2 || lines(r.out) != 1 ||
            !strstr(r.out, cases[i].msg))
            fail_msg("case %zu: status 0x%x:\n%s", i, r.status, r.out);
        check_nothing_left(f);
    }
    /* No -xen-domid: not run by xl. */
    {
        char prog[PATH_MAX + 32];
        char *argv[] = {prog, "-ioreq-lend", "bdf=00:1f.0", "-name", "x", NULL};
        struct run r;

        snprintf(prog, sizeof(prog), "%s/ioreq-lend-qemu", f->build);
        run(f, argv, &r);
        assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 2);
        assert_int_equal(lines(r.out), 1);
        assert_non_null(strstr(r.out, "no -xen-domid"));
        check_nothing_left(f);
    }
}

/*
 * The second daemon fails (its file backing is too small): the launcher says
 * why and exits 1, and the first daemon, which was ready, is stopped.
 */
static void failing_daemon_stops_the_others(void **state)
{
    struct fx *f = *state;
    char small[PATH_MAX + 16], spec2[PATH_MAX + 64], want[2 * PATH_MAX], *log;
    struct lend_spec spec;
    const char *extra[] = {"-ioreq-lend", "bdf=00:1f.0,size=64M,backing=memfd:64M", "-ioreq-lend",
                           spec2, NULL};
    char *argv[MAX_ARGS + 64];
    struct run r;

    hv_start(f, false);
    snprintf(small, sizeof(small), "%s/small.img", f->dir);
    sized_file(small, 4 * KB);
    snprintf(spec2, sizeof(spec2), "bdf=00:1e.0,size=8G,backing=file:%s", small);
    spec_for("bdf=00:1e.0", &spec);
    libxl_argv(f, NULL, extra, argv);
    run(f, argv, &r);
    expect_start_failed(&r);
    /* The daemon's own line in the domain log, then ours: which one, its status, where its
     * reason is, and that nothing is left. */
    log = read_domain_log(f, "guest");
    assert_true(has_daemon_line(log, &spec, "error: "));
    free(log);
    snprintf(want, sizeof(want),
             "the ioreq-lend for 0000:00:1e.0 (lend spec 2) exited with status 2 before it was "
             "ready: its reason is in %s/ioreq-lend-guest.log",
             f->logs);
    if (!strstr(r.out, want))
        fail_msg("no \"%s\" in:\n%s", want, r.out);
    assert_non_null(strstr(r.out, "nothing is left running"));
    check_nothing_left(f);
    lend_spec_free(&spec);
}

static void missing_domain_fails(void **state)
{
    struct fx *f = *state;
    const char *extra[] = {"-ioreq-lend", "bdf=00:1f.0,size=1M", NULL};
    char *argv[MAX_ARGS + 64];
    struct run r;

    hv_start(f, false);
    libxl_argv(f, NULL, extra, argv);
    argv[2] = "8"; /* -xen-domid 8: no such domain */
    run(f, argv, &r);
    expect_start_failed(&r);
    assert_non_null(strstr(r.out, "exited with status 2 before it was ready"));
    check_nothing_left(f);
}

/* A daemon that never says ready: the launcher gives up after its timeout and stops it. */
static void hung_daemon_times_out(void **state)
{
    struct fx *f = *state;
    const char *extra[] = {"-ioreq-lend", "bdf=00:1f.0", "-ioreq-lend-timeout", "1", NULL};
    char *argv[MAX_ARGS + 64], path[PATH_MAX + 16];
    struct run r;

    hv_start(f, false);
    snprintf(path, sizeof(path), "%s/hang", f->dir);
    write_text(path, "#!/bin/sh\nexec tail -f /dev/null\n");
    assert_int_equal(chmod(path, 0755), 0);
    setenv("IOREQ_LEND_DAEMON", path, 1);
    libxl_argv(f, NULL, extra, argv);
    run(f, argv, &r);
    expect_start_failed(&r);
    assert_non_null(strstr(r.out, "was not ready within 1000 ms"));
    check_nothing_left(f);
}

/* A daemon that writes something else than its ready line is stopped, not trusted. */
static void garbled_ready_line_is_a_failure(void **state)
{
    struct fx *f = *state;
    const char *extra[] = {"-ioreq-lend", "bdf=00:1f.0", NULL};
    char *argv[MAX_ARGS + 64], path[PATH_MAX + 16];
    struct run r;

    hv_start(f, false);
    snprintf(path, sizeof(path), "%s/garble", f->dir);
    write_text(path, "#!/bin/sh\n"
                     "while [ $# -gt 0 ]; do [ \"$1\" = --ready-fd ] && fd=$2; shift; done\n"
                     "eval \"echo hello >&$fd\"\n"
                     "exec tail -f /dev/null\n");
    assert_int_equal(chmod(path, 0755), 0);
    setenv("IOREQ_LEND_DAEMON", path, 1);
    libxl_argv(f, NULL, extra, argv);
    run(f, argv, &r);
    expect_start_failed(&r);
    assert_non_null(strstr(r.out, "did not write its ready line, and was stopped"));
    check_nothing_left(f);

    /* And a daemon that is not there at all. */
    setenv("IOREQ_LEND_DAEMON", "/nonexistent/ioreq-lend", 1);
    run(f, argv, &r);
    assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 1);
    assert_non_null(strstr(r.out, "cannot run the daemon /nonexistent/ioreq-lend"));
    assert_false(r.started);
    check_nothing_left(f);
}

/* No lend spec: the launcher is just QEMU. */
static void without_specs_it_is_qemu(void **state)
{
    struct fx *f = *state;
    char *argv[MAX_ARGS + 64];
    struct run r;
    int argc;

    hv_start(f, false);
    argc = libxl_argv(f, NULL, NULL, argv);
    run(f, argv, &r);
    assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 0);
    assert_true(r.started);
    assert_int_equal(r.nr_enabled, 0);
    assert_string_equal(r.out, "");
    check_qemu_argv(f, argv, argc);
    check_qemu_fds(f, &r);
    check_nothing_left(f);
}

static void xl_create_destroys_the_domain_when_a_daemon_fails(void **state)
{
    struct fx *f = *state;
    char prog[PATH_MAX + 32], cfg[PATH_MAX + 16], path[PATH_MAX + 16], want[2 * PATH_MAX], *log;
    char *argv[] = {prog, cfg, NULL};
    struct run r;

    hv_start(f, false);
    snprintf(cfg, sizeof(cfg), "%s/bad.cfg", f->dir);
    write_text(cfg, "name = \"pvh-bad\"\ntype = \"pvh\"\nkernel = \"/k\"\nmemory = 512\n"
                    "ioreq_lend = [ \"bdf=00:1f.0,size=1G,backing=file:/nonexistent/x\" ]\n");
    snprintf(prog, sizeof(prog), "%s/ioreq-lend-xl-create", f->build);
    run(f, argv, &r);
    expect_start_failed(&r);
    assert_non_null(strstr(r.out, "destroying domain 7"));
    snprintf(path, sizeof(path), "%s/xl.log", f->dir);
    log = read_all(path, NULL);
    assert_non_null(log);
    snprintf(want, sizeof(want), "create -p %s\ndomid pvh-bad\ndestroy 7\n", cfg);
    assert_string_equal(log, want);
    free(log);
    check_nothing_left(f);

    /* A bad spec: xl is never run. */
    write_text(cfg, "name = \"pvh-bad\"\ntype = \"pvh\"\n"
                    "ioreq_lend = [ \"bdf=00:1f.0,sizes=1G\" ]\n");
    snprintf(path, sizeof(path), "%s/xl.log", f->dir);
    unlink(path);
    run(f, argv, &r);
    assert_true(WIFEXITED(r.status) && WEXITSTATUS(r.status) == 2);
    assert_int_equal(lines(r.out), 1);
    assert_non_null(strstr(r.out, "unknown key 'sizes'"));
    assert_int_equal(access(path, F_OK), -1);
    check_nothing_left(f);
}

/*
 * A domain's log is rotated at each start, as libxl rotates qemu-dm-NAME.log:
 * .log.10 goes, .log.N becomes .log.N+1, .log becomes .log.1.
 */
static void domain_log_rotates_as_libxl_does(void **state)
{
    struct fx *f = *state;
    const char *extra[] = {"-ioreq-lend", "bdf=00:1f.0,size=1M,backing=memfd:1M", NULL};
    char *argv[MAX_ARGS + 64], path[PATH_MAX + 64], want[32], *text;
    struct lend_spec spec;
    struct run r;

    hv_start(f, false);
    spec_for(extra[1], &spec);
    for (int gen = 0; gen <= 10; gen++) {
        snprintf(path, sizeof(path), "%s/ioreq-lend-guest.log%s%.0d", f->logs, gen ? "." : "", gen);
        snprintf(want, sizeof(want), "generation %d\n", gen);
        write_text(path, want);
    }
    libxl_argv(f, NULL, extra, argv);
    run(f, argv, &r);
    if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0 || !r.started)
        fail_msg("status 0x%x:\n%s", r.status, r.out);
    for (int gen = 1; gen <= 10; gen++) {
        snprintf(path, sizeof(path), "%s/ioreq-lend-guest.log.%d", f->logs, gen);
        snprintf(want, sizeof(want), "generation %d\n", gen - 1);
        text = read_all(path, NULL);
        assert_non_null(text);
        assert_string_equal(text, want);
        free(text);
    }
    snprintf(path, sizeof(path), "%s/ioreq-lend-guest.log.11", f->logs);
    assert_int_equal(access(path, F_OK), -1);
    /* The new file holds this start only. */
    check_domain_log(f, "guest", "ioreq-lend-qemu", &spec, 1, &r);
    text = read_domain_log(f, "guest");
    assert_null(strstr(text, "generation"));
    free(text);
    stop_daemons(f, &spec, 1, false);
    lend_spec_free(&spec);
}

/*
 * A log directory that is not there: one warning line, the daemon logs to
 * the launcher's stderr as before, and the domain starts. -ioreq-lend-log
 * names another file, or turns the file off.
 */
static void unusable_log_warns_once_and_starts(void **state)
{
    struct fx *f = *state;
    char missing[PATH_MAX + 16], mine[PATH_MAX + 16], want[2 * PATH_MAX], *text;
    const char *extra[] = {"-ioreq-lend", "bdf=00:1f.0,size=1M,backing=memfd:1M", NULL, NULL, NULL};
    char *argv[MAX_ARGS + 64];
    struct lend_spec spec;
    struct run r;

    hv_start(f, false);
    spec_for(extra[1], &spec);
    snprintf(missing, sizeof(missing), "%s/missing", f->dir);
    setenv("IOREQ_LEND_LOG_DIR", missing, 1);
    libxl_argv(f, NULL, extra, argv);
    run(f, argv, &r);
    if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0 || !r.started)
        fail_msg("status 0x%x:\n%s", r.status, r.out);
    assert_int_equal(count(r.out, "warning"), 1);
    snprintf(want, sizeof(want),
             "ioreq-lend-qemu: warning: cannot open the daemons' log %s/ioreq-lend-guest.log: No "
             "such file or directory: they log here instead\n",
             missing);
    if (!strstr(r.out, want))
        fail_msg("no \"%s\" in:\n%s", want, r.out);
    assert_true(has_daemon_line(r.out, &spec, "info: serving domain 7: PCI "));
    assert_null(strstr(r.out, "logging to"));
    stop_daemons(f, &spec, 1, false);

    /* -ioreq-lend-log off: the daemon's stderr is ours, without a word. */
    setenv("IOREQ_LEND_LOG_DIR", f->logs, 1);
    extra[2] = "-ioreq-lend-log";
    extra[3] = "off";
    libxl_argv(f, NULL, extra, argv);
    run(f, argv, &r);
    if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0 || !r.started)
        fail_msg("status 0x%x:\n%s", r.status, r.out);
    assert_null(strstr(r.out, "warning"));
    assert_true(has_daemon_line(r.out, &spec, "info: serving domain 7: PCI "));
    text = read_domain_log(f, "guest");
    assert_null(text);
    stop_daemons(f, &spec, 1, false);

    /* -ioreq-lend-log FILE: that file, whatever the domain's name. */
    snprintf(mine, sizeof(mine), "%s/mine.log", f->dir);
    extra[3] = mine;
    libxl_argv(f, NULL, extra, argv);
    run(f, argv, &r);
    if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0 || !r.started)
        fail_msg("status 0x%x:\n%s", r.status, r.out);
    snprintf(want, sizeof(want), ", logging to %s\n", mine);
    assert_non_null(strstr(r.out, want));
    assert_null(strstr(r.out, "serving domain"));
    text = read_all(mine, NULL);
    assert_true(has_daemon_line(text, &spec, "info: serving domain 7: PCI "));
    free(text);
    stop_daemons(f, &spec, 1, false);
    lend_spec_free(&spec);
}

/* ioreq-lend-xl-create: a directory that is not there is one warning too; the guest runs. */
static void xl_create_starts_without_its_log(void **state)
{
    struct fx *f = *state;
    char prog[PATH_MAX + 32], cfg[PATH_MAX + 16], missing[PATH_MAX + 16];
    char *argv[] = {prog, cfg, NULL};
    struct lend_spec spec;
    struct run r;

    hv_start(f, false);
    snprintf(cfg, sizeof(cfg), "%s/pvh.cfg", f->dir);
    write_text(cfg, "name = \"pvh-guest\"\ntype = \"pvh\"\nkernel = \"/k\"\nmemory = 512\n"
                    "extra = \"pci=noacpi\"\n"
                    "ioreq_lend = [ \"bdf=00:1f.0,size=1M,backing=memfd:1M\" ]\n");
    spec_for("bdf=00:1f.0,size=1M,backing=memfd:1M", &spec);
    snprintf(missing, sizeof(missing), "%s/missing", f->dir);
    setenv("IOREQ_LEND_LOG_DIR", missing, 1);
    snprintf(prog, sizeof(prog), "%s/ioreq-lend-xl-create", f->build);
    run(f, argv, &r);
    if (!WIFEXITED(r.status) || WEXITSTATUS(r.status) != 0 || !r.started)
        fail_msg("xl-create status 0x%x:\n%s", r.status, r.out);
    assert_int_equal(count(r.out, "warning"), 1);
    assert_non_null(strstr(r.out, "ioreq-lend-xl-create: warning: cannot open the daemons' log "));
    assert_true(has_daemon_line(r.out, &spec, "info: serving domain 7: PCI "));
    stop_daemons(f, &spec, 1, false);
    lend_spec_free(&spec);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(examples_parse_with_the_xl_parser),
        cmocka_unit_test_setup_teardown(hvm_vram_lend, setup, teardown),
        cmocka_unit_test_setup_teardown(hvm_vram_auto_emulates_on_stock_xen, setup, teardown),
        cmocka_unit_test_setup_teardown(hvm_vram_auto_lends_where_it_can, setup, teardown),
        cmocka_unit_test_setup_teardown(hvm_two_windows, setup, teardown),
        cmocka_unit_test_setup_teardown(pvh_example_through_xl_create, setup, teardown),
        cmocka_unit_test_setup_teardown(pvh_two_windows_one_host_bridge, setup, teardown),
        cmocka_unit_test_setup_teardown(xl_create_attach_serves_a_paused_domain, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_specs_start_nothing, setup, teardown),
        cmocka_unit_test_setup_teardown(bad_launcher_arguments, setup, teardown),
        cmocka_unit_test_setup_teardown(failing_daemon_stops_the_others, setup, teardown),
        cmocka_unit_test_setup_teardown(missing_domain_fails, setup, teardown),
        cmocka_unit_test_setup_teardown(hung_daemon_times_out, setup, teardown),
        cmocka_unit_test_setup_teardown(garbled_ready_line_is_a_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(without_specs_it_is_qemu, setup, teardown),
        cmocka_unit_test_setup_teardown(xl_create_destroys_the_domain_when_a_daemon_fails, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(domain_log_rotates_as_libxl_does, setup, teardown),
        cmocka_unit_test_setup_teardown(unusable_log_warns_once_and_starts, setup, teardown),
        cmocka_unit_test_setup_teardown(xl_create_starts_without_its_log, setup, teardown),
    };

    /* Orphans of the launchers become ours: what they leave behind, we can see. */
    if (prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
        perror("PR_SET_CHILD_SUBREAPER");
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    /* The domain logs' mode is checked: libxl's 0644 under the usual umask. */
    umask(022);
    return cmocka_run_group_tests_name("launcher", tests, NULL, NULL);
}
