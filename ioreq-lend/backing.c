/* SPDX-License-Identifier: MIT */
/*
 * The host memory behind the BAR: parse a spec, open it, map it shared.
 *
 * backing_open() has one exit for failures: whatever was opened or mapped so
 * far sits in *b, and backing_close() undoes exactly that, so each kind only
 * has to store a resource in *b as soon as it holds it.
 */
#include "backing.h"
#include "log.h"
#include "util.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <pci/pci.h>

/* Longest "SSSS:BB:DD.F" plus room to notice a longer one. */
#define BDF_TEXT_MAX 16
/* A spec rebuilt for messages: the kind, a path and a little more. */
#define SPEC_NAME_MAX (BACKING_PATH_MAX + 32)

static const struct backing backing_init = BACKING_INIT;

/*
 * Read hex digits at *p (no sign, no 0x, no blanks: strtoul would take all
 * three). Returns the number of digits, or -EINVAL past 8 digits.
 */
static int hex_field(const char **p, unsigned int *out)
{
    const char *s = *p;
    unsigned int v = 0;
    int n = 0, d;

    while ((d = hex_digit(s[n])) >= 0) {
        if (n == 8)
            return -EINVAL;
        v = v * 16 + (unsigned int)d;
        n++;
    }
    *p = s + n;
    *out = v;
    return n;
}

int backing_parse_bdf(const char *s, uint16_t *seg, uint8_t *bus, uint8_t *dev, uint8_t *fn)
{
    unsigned int a, b, c, f, sg, bu, dv;
    const char *p = s;
    int na, nb, nc;

    if (!s)
        return -EINVAL;
    na = hex_field(&p, &a);
    if (na < 1 || *p != ':')
        return -EINVAL;
    p++;
    nb = hex_field(&p, &b);
    if (nb < 1)
        return -EINVAL;
    if (*p == ':') {
        /* SSSS:BB:DD.F */
        p++;
        nc = hex_field(&p, &c);
        if (na > 4 || nb > 2 || nc < 1 || nc > 2)
            return -EINVAL;
        sg = a;
        bu = b;
        dv = c;
    } else {
        /* BB:DD.F, segment 0 */
        if (na > 2 || nb > 2)
            return -EINVAL;
        sg = 0;
        bu = a;
        dv = b;
    }
    if (*p != '.')
        return -EINVAL;
    p++;
    if (hex_field(&p, &f) != 1 || *p != '\0' || dv > 0x1f || f > 7)
        return -EINVAL;
    *seg = (uint16_t)sg;
    *bus = (uint8_t)bu;
    *dev = (uint8_t)dv;
    *fn = (uint8_t)f;
    return 0;
}

static int parse_memfd(const char *spec, const char *val, struct backing_spec *s, char *err,
                       size_t errlen)
{
    char buf[32];
    uint64_t v;

    if (parse_size(val, &v))
        return err_fmt(err, errlen, -EINVAL, "backing '%s': bad size '%s'", spec, val);
    if (v == 0)
        return err_fmt(err, errlen, -EINVAL, "backing '%s': the size must not be 0", spec);
    if (v % XC_PAGE_SIZE)
        return err_fmt(err, errlen, -EINVAL, "backing '%s': size %s is not a multiple of 4K", spec,
                       format_size(v, buf, sizeof(buf)));
    s->memfd_size = v;
    return 0;
}

static int parse_file(const char *spec, const char *val, struct backing_spec *s, char *err,
                      size_t errlen)
{
    size_t len = strlen(val);

    if (len == 0)
        return err_fmt(err, errlen, -EINVAL, "backing '%s': empty path", spec);
    if (len >= BACKING_PATH_MAX) {
        /* Do not echo a path this long: it would only fill err. */
        return err_fmt(err, errlen, -EINVAL, "backing 'file:...': path longer than %d bytes",
                       BACKING_PATH_MAX - 1);
    }
    memcpy(s->path, val, len + 1);
    return 0;
}

static int parse_pci(const char *spec, const char *val, struct backing_spec *s, char *err,
                     size_t errlen)
{
    const char *slash = strchr(val, '/');
    char bdf[BDF_TEXT_MAX];
    size_t len;

    if (!slash)
        return err_fmt(err, errlen, -EINVAL, "backing '%s': expected pci:[SSSS:]BB:DD.F/barN",
                       spec);
    len = (size_t)(slash - val);
    if (len >= sizeof(bdf))
        return err_fmt(err, errlen, -EINVAL,
                       "backing '%s': bad PCI address (want [SSSS:]BB:DD.F, hex)", spec);
    memcpy(bdf, val, len);
    bdf[len] = '\0';
    if (backing_parse_bdf(bdf, &s->pci_seg, &s->pci_bus, &s->pci_dev, &s->pci_fn))
        return err_fmt(err, errlen, -EINVAL,
                       "backing '%s': bad PCI address '%s' (want [SSSS:]BB:DD.F, hex, "
                       "device <= 1f, function <= 7)",
                       spec, bdf);
    if (strncmp(slash + 1, "bar", 3) != 0 || slash[4] < '0' || slash[4] > '5' || slash[5] != '\0')
        return err_fmt(err, errlen, -EINVAL, "backing '%s': bad BAR '%s' (want bar0 to bar5)", spec,
                       slash + 1);
    s->pci_bar = (uint8_t)(slash[4] - '0');
    return 0;
}

static int parse_fd(const char *spec, const char *val, struct backing_spec *s, char *err,
                    size_t errlen)
{
    uint64_t v;

    if (parse_u64(val, INT_MAX, &v))
        return err_fmt(err, errlen, -EINVAL, "backing '%s': bad fd number '%s'", spec, val);
    if (v < 3)
        return err_fmt(err, errlen, -EINVAL,
                       "backing '%s': fd %d is stdin, stdout or stderr (want 3 or more)", spec,
                       (int)v);
    s->fd = (int)v;
    return 0;
}

static int parse_spec(const char *spec, struct backing_spec *out, char *err, size_t errlen)
{
    static const struct {
        const char *name;
        enum backing_kind kind;
        int (*parse)(const char *, const char *, struct backing_spec *, char *, size_t);
    } kinds[] = {
        {"memfd", BACKING_MEMFD, parse_memfd},
        {"file", BACKING_FILE, parse_file},
        {"pci", BACKING_PCI, parse_pci},
        {"fd", BACKING_FD, parse_fd},
    };
    const char *colon;
    size_t klen;
    int rc;

    /* Filled in place (it holds a whole path) and left zeroed on failure. */
    memset(out, 0, sizeof(*out));
    out->fd = -1;
    if (!spec || !*spec)
        return err_fmt(err, errlen, -EINVAL,
                       "empty backing (want memfd:SIZE, file:PATH, pci:SSSS:BB:DD.F/barN, "
                       "fd:N or none)");
    if (strcmp(spec, "none") == 0) {
        out->kind = BACKING_NONE;
        return 0;
    }
    colon = strchr(spec, ':');
    if (!colon)
        return err_fmt(err, errlen, -EINVAL,
                       "backing '%s': want memfd:SIZE, file:PATH, pci:SSSS:BB:DD.F/barN, fd:N "
                       "or none",
                       spec);
    klen = (size_t)(colon - spec);
    for (size_t i = 0; i < ARRAY_SIZE(kinds); i++) {
        if (strlen(kinds[i].name) != klen || strncmp(spec, kinds[i].name, klen) != 0)
            continue;
        out->kind = kinds[i].kind;
        rc = kinds[i].parse(spec, colon + 1, out, err, errlen);
        if (rc) {
            memset(out, 0, sizeof(*out));
            out->fd = -1;
        }
        return rc;
    }
    return err_fmt(err, errlen, -EINVAL,
                   "backing '%s': unknown kind '%.*s' (want memfd, file, pci or fd)", spec,
                   (int)klen, spec);
}

int backing_parse(const char *spec, struct backing_spec *out, char *err, size_t errlen)
{
    return parse_spec(spec, out, err, errlen);
}

/* The spec as a user would write it, for messages: "file:/dev/shm/vram". */
static const char *spec_name(const struct backing_spec *s, char *buf, size_t len)
{
    char sz[32];

    switch (s->kind) {
    case BACKING_MEMFD:
        snprintf(buf, len, "memfd:%s", format_size(s->memfd_size, sz, sizeof(sz)));
        break;
    case BACKING_FILE:
        snprintf(buf, len, "file:%s", s->path);
        break;
    case BACKING_PCI:
        snprintf(buf, len, "pci:%04x:%02x:%02x.%x/bar%u", s->pci_seg, s->pci_bus, s->pci_dev,
                 s->pci_fn, s->pci_bar);
        break;
    case BACKING_FD:
        snprintf(buf, len, "fd:%d", s->fd);
        break;
    case BACKING_NONE:
        snprintf(buf, len, "none");
        break;
    default:
        snprintf(buf, len, "kind %d", (int)s->kind);
        break;
    }
    return buf;
}

static int open_memfd(const struct backing_spec *s, const char *name, struct backing *b,
                      uint64_t *natural, char *err, size_t errlen)
{
    int rc;

    b->fd = memfd_create("ioreq-lend", MFD_CLOEXEC);
    if (b->fd < 0)
        return err_fmt(err, errlen, -errno, "backing %s: memfd_create: %s", name, strerror(errno));
    if (s->memfd_size > (uint64_t)INT64_MAX || ftruncate(b->fd, (off_t)s->memfd_size) < 0) {
        rc = s->memfd_size > (uint64_t)INT64_MAX ? -EFBIG : -errno;
        return err_fmt(err, errlen, rc, "backing %s: cannot size the memfd: %s", name,
                       strerror(-rc));
    }
    *natural = s->memfd_size;
    return 0;
}

/* Size of what fd refers to: fstat for regular files, else its end (block devices, dma-bufs). */
static int fd_size(int fd, const struct stat *st, uint64_t *out)
{
    off_t end;

    if (S_ISREG(st->st_mode) && st->st_size > 0) {
        *out = (uint64_t)st->st_size;
        return 0;
    }
    end = lseek(fd, 0, SEEK_END);
    if (end < 0)
        return -errno;
    /* Put the offset back: the fd may be shared with whoever passed it. */
    (void)lseek(fd, 0, SEEK_SET);
    *out = (uint64_t)end;
    return 0;
}

static int open_file(const struct backing_spec *s, const char *name, struct backing *b,
                     uint64_t *natural, char *err, size_t errlen)
{
    struct stat st;
    int rc;

    b->fd = open(s->path, O_RDWR | O_CLOEXEC | O_NOCTTY);
    if (b->fd < 0)
        return err_fmt(err, errlen, -errno, "backing %s: cannot open: %s", name, strerror(errno));
    if (fstat(b->fd, &st) < 0)
        return err_fmt(err, errlen, -errno, "backing %s: fstat: %s", name, strerror(errno));
    if (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode))
        return err_fmt(err, errlen, -EINVAL, "backing %s: not a regular file or block device",
                       name);
    rc = fd_size(b->fd, &st, natural);
    if (rc)
        return err_fmt(err, errlen, rc, "backing %s: cannot find its size: %s", name,
                       strerror(-rc));
    return 0;
}

static int open_fd(const struct backing_spec *s, const char *name, struct backing *b,
                   uint64_t *natural, char *err, size_t errlen)
{
    struct stat st;
    int flags, rc;

    /* The fd is ours from here on, so the failure path closes it too. */
    b->fd = s->fd;
    flags = fcntl(b->fd, F_GETFL);
    if (flags < 0)
        return err_fmt(err, errlen, -errno, "backing %s: %s", name, strerror(errno));
    if ((flags & O_ACCMODE) != O_RDWR)
        return err_fmt(err, errlen, -EACCES, "backing %s: not open read-write", name);
    /* Inherited for us, not for whatever we might start later. */
    if (fcntl(b->fd, F_SETFD, FD_CLOEXEC) < 0 || fstat(b->fd, &st) < 0)
        return err_fmt(err, errlen, -errno, "backing %s: %s", name, strerror(errno));
    rc = fd_size(b->fd, &st, natural);
    if (rc)
        return err_fmt(err, errlen, rc, "backing %s: cannot find its size: %s", name,
                       strerror(-rc));
    return 0;
}

/*
 * libpci reports fatal errors through a callback that must not return; its
 * default one exits the process. Ours jumps back into pci_probe(), which then
 * frees everything through pci_cleanup(). Per thread, like the jump target.
 */
static _Thread_local jmp_buf *pci_jump;
static _Thread_local char pci_errmsg[256];

static void __attribute__((noreturn, format(printf, 1, 2))) pci_lib_error(char *msg, ...)
{
    va_list ap;

    va_start(ap, msg);
    vsnprintf(pci_errmsg, sizeof(pci_errmsg), msg, ap);
    va_end(ap);
    if (!pci_jump) {
        /* Only reachable if libpci fails outside pci_probe(): a bug here. */
        log_err("libpci: %s", pci_errmsg);
        abort();
    }
    longjmp(*pci_jump, 1);
}

static void __attribute__((format(printf, 1, 2))) pci_lib_warning(char *msg, ...)
{
    char line[256];
    va_list ap;

    va_start(ap, msg);
    vsnprintf(line, sizeof(line), msg, ap);
    va_end(ap);
    log_warn("libpci: %s", line);
}

#ifdef PCI_FILL_IO_FLAGS
#define PCI_PROBE_FILL (PCI_FILL_IDENT | PCI_FILL_BASES | PCI_FILL_SIZES | PCI_FILL_IO_FLAGS)
#else
#define PCI_PROBE_FILL (PCI_FILL_IDENT | PCI_FILL_BASES | PCI_FILL_SIZES)
#endif

/* True if the BAR decodes I/O space rather than memory. */
static bool pci_bar_is_io(const struct pci_dev *d, int known, unsigned int bar)
{
#if defined(PCI_FILL_IO_FLAGS) && defined(PCI_IORESOURCE_IO)
    if (known & PCI_FILL_IO_FLAGS)
        return (d->flags[bar] & PCI_IORESOURCE_IO) != 0;
#else
    (void)known;
#endif
    return (d->base_addr[bar] & PCI_BASE_ADDRESS_SPACE_IO) != 0;
}

/* The part of pci_probe() that libpci may leave through pci_lib_error(). */
static int pci_find_bar(struct pci_access *acc, const struct backing_spec *s, const char *name,
                        uint64_t *bar_size, char *res_path, size_t res_len, char *err,
                        size_t errlen)
{
    const char *sysfs = pci_get_param(acc, "sysfs.path");
    struct pci_dev *d;
    unsigned int bar = s->pci_bar;
    int known;

    acc->method = PCI_ACCESS_SYS_BUS_PCI;
    pci_init(acc);
    pci_scan_bus(acc);
    for (d = acc->devices; d; d = d->next) {
        if (d->domain == s->pci_seg && d->bus == s->pci_bus && d->dev == s->pci_dev &&
            d->func == s->pci_fn)
            break;
    }
    if (!d)
        return err_fmt(err, errlen, -ENODEV,
                       "backing %s: no PCI device %04x:%02x:%02x.%x in %s/devices", name,
                       s->pci_seg, s->pci_bus, s->pci_dev, s->pci_fn, sysfs);
    known = pci_fill_info(d, PCI_PROBE_FILL);
    if ((known & (PCI_FILL_BASES | PCI_FILL_SIZES)) != (PCI_FILL_BASES | PCI_FILL_SIZES))
        return err_fmt(err, errlen, -EIO, "backing %s: libpci cannot read the BARs", name);
    if (d->size[bar] == 0)
        return err_fmt(
            err, errlen, -ENODEV,
            "backing %s: BAR%u is not implemented (or is the upper half of a 64-bit BAR)", name,
            bar);
    if (pci_bar_is_io(d, known, bar))
        return err_fmt(err, errlen, -EINVAL, "backing %s: BAR%u is an I/O BAR, not memory", name,
                       bar);
    *bar_size = d->size[bar];
    if ((size_t)snprintf(res_path, res_len, "%s/devices/%04x:%02x:%02x.%x/resource%u", sysfs,
                         s->pci_seg, s->pci_bus, s->pci_dev, s->pci_fn, bar) >= res_len)
        return err_fmt(err, errlen, -ENAMETOOLONG, "backing %s: sysfs path too long", name);
    return 0;
}

/*
 * Find the device with libpci and check its BAR: implemented, memory, and
 * its size. libpci is set up and torn down here, on every path.
 */
static int pci_probe(const struct backing_spec *s, const char *sysfs_path, const char *name,
                     uint64_t *bar_size, char *res_path, size_t res_len, char *err, size_t errlen)
{
    struct pci_access *acc = pci_alloc();
    jmp_buf jump;
    int rc;

    if (!acc)
        return err_fmt(err, errlen, -ENOMEM, "backing %s: out of memory", name);
    acc->error = pci_lib_error;
    acc->warning = pci_lib_warning;
    if (setjmp(jump) == 0) {
        pci_jump = &jump;
        if (sysfs_path && pci_set_param(acc, "sysfs.path", (char *)sysfs_path) != 0) {
            rc = err_fmt(err, errlen, -ENOTSUP, "backing %s: libpci has no sysfs.path parameter",
                         name);
        } else {
            rc = pci_find_bar(acc, s, name, bar_size, res_path, res_len, err, errlen);
        }
    } else {
        rc = err_fmt(err, errlen, -EIO, "backing %s: libpci: %s", name, pci_errmsg);
    }
    pci_jump = NULL;
    pci_cleanup(acc);
    return rc;
}

static int open_pci(const struct backing_spec *s, const char *sysfs_path, const char *name,
                    struct backing *b, uint64_t *natural, char *err, size_t errlen)
{
    char path[BACKING_PATH_MAX + 64];
    char have[32], need[32];
    struct stat st;
    uint64_t bar_size;
    int rc;

    rc = pci_probe(s, sysfs_path, name, &bar_size, path, sizeof(path), err, errlen);
    if (rc)
        return rc;
    b->fd = open(path, O_RDWR | O_CLOEXEC);
    if (b->fd < 0)
        return err_fmt(err, errlen, -errno, "backing %s: cannot open %s: %s", name, path,
                       strerror(errno));
    if (fstat(b->fd, &st) < 0)
        return err_fmt(err, errlen, -errno, "backing %s: fstat %s: %s", name, path,
                       strerror(errno));
    /* sysfs sizes resourceN as the BAR; less would SIGBUS on access. */
    if (S_ISREG(st.st_mode) && (uint64_t)st.st_size < bar_size)
        return err_fmt(err, errlen, -EINVAL, "backing %s: %s holds %s, less than the BAR's %s",
                       name, path, format_size((uint64_t)st.st_size, have, sizeof(have)),
                       format_size(bar_size, need, sizeof(need)));
    *natural = bar_size;
    return 0;
}

static void describe(const struct backing_spec *s, struct backing *b)
{
    char sz[32];

    format_size(b->size, sz, sizeof(sz));
    switch (s->kind) {
    case BACKING_MEMFD:
        snprintf(b->desc, sizeof(b->desc), "memfd %s", sz);
        break;
    case BACKING_FILE:
        /* A long path is cut: desc is for log lines. */
        snprintf(b->desc, sizeof(b->desc), "file %.120s (%s)", s->path, sz);
        break;
    case BACKING_PCI:
        snprintf(b->desc, sizeof(b->desc), "pci %04x:%02x:%02x.%x BAR%u (%s)", s->pci_seg,
                 s->pci_bus, s->pci_dev, s->pci_fn, s->pci_bar, sz);
        break;
    case BACKING_FD:
        snprintf(b->desc, sizeof(b->desc), "fd %d (%s)", s->fd, sz);
        break;
    case BACKING_NONE:
        snprintf(b->desc, sizeof(b->desc), "none (regions mapped through the control socket)");
        break;
    }
}

static int open_spec(const struct backing_spec *s, uint64_t size, const char *sysfs_path,
                     struct backing *b, char *err, size_t errlen)
{
    char name[SPEC_NAME_MAX];
    char have[32], need[32];
    uint64_t natural = 0;
    int rc;

    spec_name(s, name, sizeof(name));
    if (size % XC_PAGE_SIZE)
        return err_fmt(err, errlen, -EINVAL, "backing %s: the BAR size %s is not a multiple of 4K",
                       name, format_size(size, need, sizeof(need)));
    b->kind = s->kind;
    if (s->kind == BACKING_NONE) {
        /* Nothing to open: the window is as large as the BAR, and empty. */
        if (size == 0)
            return err_fmt(err, errlen, -EINVAL, "backing none needs a BAR size");
        b->size = size;
        describe(s, b);
        return 0;
    }
    switch (s->kind) {
    case BACKING_MEMFD:
        rc = open_memfd(s, name, b, &natural, err, errlen);
        break;
    case BACKING_FILE:
        rc = open_file(s, name, b, &natural, err, errlen);
        break;
    case BACKING_PCI:
        rc = open_pci(s, sysfs_path, name, b, &natural, err, errlen);
        break;
    case BACKING_FD:
        rc = open_fd(s, name, b, &natural, err, errlen);
        break;
    default:
        return err_fmt(err, errlen, -EINVAL, "backing: unknown kind %d", (int)s->kind);
    }
    if (rc)
        return rc;

    if (natural == 0)
        return err_fmt(err, errlen, -EINVAL, "backing %s is empty", name);
    if (size == 0) {
        if (natural % XC_PAGE_SIZE)
            return err_fmt(err, errlen, -EINVAL, "backing %s: its size %s is not a multiple of 4K",
                           name, format_size(natural, have, sizeof(have)));
        size = natural;
    } else if (natural < size)
        return err_fmt(err, errlen, -EINVAL, "backing %s holds %s, the BAR needs %s", name,
                       format_size(natural, have, sizeof(have)),
                       format_size(size, need, sizeof(need)));

    b->base = mmap(NULL, (size_t)size, PROT_READ | PROT_WRITE, MAP_SHARED, b->fd, 0);
    if (b->base == MAP_FAILED) {
        rc = -errno;
        b->base = NULL;
        return err_fmt(err, errlen, rc, "backing %s: cannot map %s: %s", name,
                       format_size(size, need, sizeof(need)), strerror(-rc));
    }
    b->size = size;
    b->fd_offset = 0;
    describe(s, b);
    return 0;
}

int backing_open(const struct backing_spec *spec, uint64_t size, const char *pci_sysfs_path,
                 struct backing *b, char *err, size_t errlen)
{
    int rc;

    *b = backing_init;
    rc = open_spec(spec, size, pci_sysfs_path, b, err, errlen);
    if (rc)
        backing_close(b);
    return rc;
}

void backing_close(struct backing *b)
{
    if (b->base)
        munmap(b->base, (size_t)b->size);
    if (b->fd >= 0)
        close(b->fd);
    *b = backing_init;
}
