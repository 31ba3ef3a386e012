/* SPDX-License-Identifier: MIT */
/*
 * What the guest's firmware and kernel do with a PCI function, through real
 * config cycles on vCPU 0 (CF8/CFC, so they reach the device model as
 * PCI_CONFIG ioreqs): hvmloader's sizing and placement of BARs
 * (tools/firmware/hvmloader/pci.c: the low MMIO hole below 0xFC000000, and
 * 64-bit BARs above the top of RAM when the hole is too small), config reads
 * and writes, BAR relocation, and a dump of config space.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "harness.h"
#include "lspci_dump.h"
#include "pattern.h"

static int cfg_cycle_on_vcpu(struct hv_vcpu *v, void *arg)
{
    struct cfg_cycle *c = arg;

    return cpu_pci_config(v, c->d->bus, c->d->dev, c->d->fn, c->reg, c->size, c->dir, &c->val);
}

int fw_config(struct harness *h, struct device *d, unsigned int reg, unsigned int size, int dir,
              uint32_t *val)
{
    struct cfg_cycle c = {.d = d, .reg = reg, .size = size, .dir = dir, .val = *val};
    int rc = guest_call(h, cfg_cycle_on_vcpu, &c);

    *val = c.val;
    return rc;
}

static int cfg_read(struct harness *h, struct device *d, unsigned int reg, unsigned int size,
                    uint32_t *val)
{
    *val = 0;
    return fw_config(h, d, reg, size, IOREQ_READ, val);
}

static int cfg_write(struct harness *h, struct device *d, unsigned int reg, unsigned int size,
                     uint32_t val)
{
    return fw_config(h, d, reg, size, IOREQ_WRITE, &val);
}

struct device *h_device(struct harness *h, unsigned int bus, unsigned int dev, unsigned int fn,
                        bool create)
{
    struct device *free_slot = NULL;

    for (unsigned int i = 0; i < H_MAX_DEVICES; i++) {
        struct device *d = &h->dev[i];
        if (d->used && d->bus == bus && d->dev == dev && d->fn == fn)
            return d;
        if (!d->used && !free_slot)
            free_slot = d;
    }
    if (!create || !free_slot)
        return NULL;
    *free_slot = (struct device){.used = true, .bus = bus, .dev = dev, .fn = fn};
    return free_slot;
}

/* Size BAR 0 (and its upper half if 64-bit): write all ones, read back, restore. */
static int size_bar0(struct harness *h, struct device *d, uint64_t *size, bool *is64,
                     bool *is_mem)
{
    uint32_t lo, hi = 0, orig_lo, orig_hi = 0;
    uint64_t mask;

    if (cfg_read(h, d, 0x10, 4, &orig_lo) || cfg_write(h, d, 0x10, 4, 0xffffffff) ||
        cfg_read(h, d, 0x10, 4, &lo) || cfg_write(h, d, 0x10, 4, orig_lo))
        return -EIO;
    *is_mem = !(lo & 1);
    *is64 = *is_mem && (lo & 6) == 4;
    if (*is64) {
        if (cfg_read(h, d, 0x14, 4, &orig_hi) || cfg_write(h, d, 0x14, 4, 0xffffffff) ||
            cfg_read(h, d, 0x14, 4, &hi) || cfg_write(h, d, 0x14, 4, orig_hi))
            return -EIO;
    }
    mask = ((uint64_t)hi << 32) | (lo & (*is_mem ? ~0xfu : ~0x3u));
    if (!*is64)
        mask |= 0xffffffff00000000ULL;
    *size = mask ? ~mask + 1 : 0;
    return 0;
}

int fw_enumerate(struct harness *h, unsigned int bus, unsigned int dev, unsigned int fn)
{
    struct hv *hv = h->hv;
    struct device *d = h_device(h, bus, dev, fn, true);
    uint32_t id, class, cmd;
    uint64_t size, base;
    bool is64, is_mem;

    if (!d)
        return -ENOSPC;
    if (cfg_read(h, d, 0x00, 4, &id))
        return -EIO;
    if ((id & 0xffff) == 0xffff) {
        h_fail(h, "enumerate %02x:%02x.%x: no device (vendor reads 0xffff)", bus, dev, fn);
        return -ENODEV;
    }
    cfg_read(h, d, 0x08, 4, &class);
    /* As Linux's __pci_read_base(): never size a BAR while it decodes. */
    cfg_read(h, d, 0x04, 2, &cmd);
    if ((cmd & 0x2) && cfg_write(h, d, 0x04, 2, cmd & ~0x2u))
        return -EIO;
    if (size_bar0(h, d, &size, &is64, &is_mem))
        return -EIO;
    if (!is_mem || size == 0 || (size & (size - 1))) {
        h_fail(h, "enumerate %02x:%02x.%x: BAR 0 is not a usable memory BAR (size 0x%llx)", bus,
               dev, fn, (unsigned long long)size);
        return -EINVAL;
    }
    /*
     * hvmloader: grow the low hole downwards by doubling its distance from
     * 4 GiB ((pci_mem_start << 1) in 32 bits) while it stays above low RAM,
     * place the BAR there if it fits, else above RAM if it is 64-bit.
     */
    uint64_t hole = hv->mmio_hole_start, low_ram_end = hv->low_pages * HV_PAGE_SIZE;
    while (size > HV_LOW_MMIO_END - hole) {
        uint64_t next = (hole << 1) & 0xffffffffULL;
        if (next == 0 || next < low_ram_end)
            break;
        hole = next;
    }
    base = (hole + size - 1) & ~(size - 1);
    if (base + size > HV_LOW_MMIO_END) {
        if (!is64) {
            h_fail(h, "enumerate: 32-bit BAR of 0x%llx bytes does not fit the MMIO hole",
                   (unsigned long long)size);
            return -ENOSPC;
        }
        base = hv_ram_end(hv);
        if (base < 0x100000000ULL)
            base = 0x100000000ULL;
        base = (base + size - 1) & ~(size - 1);
    }
    if (cfg_write(h, d, 0x10, 4, (uint32_t)base | 0) ||
        (is64 && cfg_write(h, d, 0x14, 4, (uint32_t)(base >> 32))))
        return -EIO;
    if (cfg_write(h, d, 0x04, 2, cmd | 0x2))
        return -EIO;
    d->bar_base = base;
    d->bar_size = size;
    h->cur_dev = (int)(d - h->dev);
    if (!h->json || h->verbose)
        printf("enumerate %02x:%02x.%x: %04x:%04x class %06x, BAR 0 %s%s %llu KiB at 0x%llx\n",
               bus, dev, fn, id & 0xffff, id >> 16, class >> 8, is64 ? "64-bit" : "32-bit",
               is_mem ? " memory" : "", (unsigned long long)(size >> 10),
               (unsigned long long)base);
    return 0;
}

/* Config cycles issued on the vCPU's own thread (a firmware job). */
static int vcpu_cfg(struct hv_vcpu *v, struct device *d, unsigned int reg, unsigned int size,
                    int dir, uint32_t *val)
{
    return cpu_pci_config(v, d->bus, d->dev, d->fn, reg, size, dir, val);
}

static int bar_move_on_vcpu(struct hv_vcpu *v, void *arg)
{
    struct fw_bar_move *m = arg;
    struct device *d = m->d;
    uint32_t cmd = 0, off, lo = (uint32_t)m->addr, hi = (uint32_t)(m->addr >> 32);

    if (vcpu_cfg(v, d, 0x04, 2, IOREQ_READ, &cmd))
        return -EIO;
    off = cmd & ~0x2u;
    if (m->decode_off && vcpu_cfg(v, d, 0x04, 2, IOREQ_WRITE, &off))
        return -EIO;
    /* Low dword then high dword, as a kernel writes a 64-bit BAR. */
    if (vcpu_cfg(v, d, 0x10, 4, IOREQ_WRITE, &lo) || vcpu_cfg(v, d, 0x14, 4, IOREQ_WRITE, &hi))
        return -EIO;
    if (m->decode_off && vcpu_cfg(v, d, 0x04, 2, IOREQ_WRITE, &cmd))
        return -EIO;
    __atomic_store_n(&d->bar_base, m->addr, __ATOMIC_RELAXED); /* the host storm reads it */
    return 0;
}

int fw_bar_move(struct harness *h, struct device *d, uint64_t addr, bool decode_off, bool async)
{
    struct workload w = {.op = WL_FIRMWARE, .fn = bar_move_on_vcpu, .fn_arg = &h->fw_async.move};
    struct fw_bar_move m = {.d = d, .addr = addr, .decode_off = decode_off};

    if (d->bar_size == 0 || (addr & (d->bar_size - 1)))
        return -EINVAL;
    if (!async)
        return guest_call(h, bar_move_on_vcpu, &m);
    /* vCPU 0 moves it while the scenario goes on (a daemon may die under it). */
    h->fw_async.move = m;
    return guest_submit(h, 0, &w);
}

int fw_config_async(struct harness *h, struct device *d, unsigned int reg, unsigned int size,
                    uint32_t val)
{
    struct workload w = {.op = WL_FIRMWARE, .fn = cfg_cycle_on_vcpu, .fn_arg = &h->fw_async.cfg};

    h->fw_async.cfg = (struct cfg_cycle){.d = d, .reg = reg, .size = size, .dir = IOREQ_WRITE,
                                         .val = val};
    return guest_submit(h, 0, &w);
}

int fw_config_dump(struct harness *h, struct device *d, const char *path)
{
    uint8_t cfg[256];
    FILE *f;
    int rc;

    for (unsigned int reg = 0; reg < sizeof(cfg); reg += 4) {
        uint32_t v;
        if (cfg_read(h, d, reg, 4, &v))
            return -EIO;
        memcpy(&cfg[reg], &v, 4);
    }
    f = fopen(path, "w");
    if (!f)
        return -errno;
    rc = lspci_dump_write(f, 0, (uint8_t)d->bus, (uint8_t)d->dev, (uint8_t)d->fn, cfg);
    if (fclose(f) && rc == 0)
        rc = -EIO;
    return rc;
}

/*
 * A hostile guest's config cycles: `count` random writes (any register, size
 * 1, 2 or 4, any value: BARs land over RAM, across 4 GiB, past the address
 * width, decoding flips) each followed by a read of the same register.
 */
int fw_config_fuzz(struct harness *h, struct device *d, uint64_t count, uint64_t seed)
{
    for (uint64_t i = 0; i < count; i++) {
        uint64_t r = pattern_splitmix64(seed + i);
        unsigned int size = 1u << (r % 3);
        unsigned int reg = (unsigned int)((r >> 8) % 256) & ~(size - 1);
        uint32_t val = (uint32_t)(r >> 32);

        /* Favour the registers with side effects: COMMAND and the BAR. */
        if ((r >> 16) % 4 == 0)
            reg = (r >> 20) % 2 ? 0x04 : 0x10 + 4 * (unsigned int)((r >> 21) % 2);
        if (reg % size)
            reg &= ~(size - 1);
        if (fw_config(h, d, reg, size, IOREQ_WRITE, &val) || cfg_read(h, d, reg, size, &val))
            return -EIO;
    }
    return 0;
}

/* ---- Linux 6.1 on a guest without ACPI: arch/x86/pci/direct.c, legacy.c ---- */

#define LINUX_MAX_FUNCS 16

struct linux_probe {
    bool conf1, host_bridge;
    unsigned int nfound;
    struct {
        unsigned int dev, fn;
        uint64_t bar_base, bar_size;
    } found[LINUX_MAX_FUNCS];
};

/* pci_conf1_read(): the address to 0xCF8, then 1, 2 or 4 bytes at 0xCFC + (reg & 3). */
static uint32_t conf1_read(struct hv_vcpu *v, unsigned int devfn, unsigned int reg,
                           unsigned int size)
{
    uint32_t a = 0x80000000u | devfn << 8 | (reg & 0xfc), val = 0;

    if (cpu_pio(v, 0xcf8, 4, IOREQ_WRITE, &a) ||
        cpu_pio(v, (uint16_t)(0xcfc + (reg & 3)), size, IOREQ_READ, &val))
        return 0xffffffffu;
    return val;
}

static void conf1_write(struct hv_vcpu *v, unsigned int devfn, unsigned int reg, unsigned int size,
                        uint32_t val)
{
    uint32_t a = 0x80000000u | devfn << 8 | (reg & 0xfc);

    if (cpu_pio(v, 0xcf8, 4, IOREQ_WRITE, &a) == 0)
        cpu_pio(v, (uint16_t)(0xcfc + (reg & 3)), size, IOREQ_WRITE, &val);
}

/* pci_sanity_check(): no DMI on PVH, so Linux looks for a host bridge, a VGA, Intel or Compaq. */
static bool sanity_check(struct hv_vcpu *v)
{
    for (unsigned int devfn = 0; devfn < 0x100; devfn++) {
        uint32_t x = conf1_read(v, devfn, 0x0a, 2);

        if (x == 0x0600 || x == 0x0300)
            return true;
        x = conf1_read(v, devfn, 0x00, 2);
        if (x == 0x8086 || x == 0x0e11)
            return true;
    }
    return false;
}

/* pci_read_bases() for a type-0 header: six BARs and the ROM sized with decoding off. */
static void read_bases(struct hv_vcpu *v, unsigned int devfn, uint64_t *bar0, uint64_t *size0)
{
    uint32_t cmd = conf1_read(v, devfn, 0x04, 2);

    *bar0 = *size0 = 0;
    if (cmd & 0x3)
        conf1_write(v, devfn, 0x04, 2, cmd & ~0x3u);
    for (unsigned int i = 0; i < 6; i++) {
        unsigned int reg = 0x10 + 4 * i;
        uint32_t orig = conf1_read(v, devfn, reg, 4), lo, hi = 0, orig_hi = 0;
        bool is64 = !(orig & 1) && (orig & 6) == 4;
        uint64_t mask;

        conf1_write(v, devfn, reg, 4, 0xffffffffu);
        lo = conf1_read(v, devfn, reg, 4);
        conf1_write(v, devfn, reg, 4, orig);
        if (is64 && i < 5) {
            orig_hi = conf1_read(v, devfn, reg + 4, 4);
            conf1_write(v, devfn, reg + 4, 4, 0xffffffffu);
            hi = conf1_read(v, devfn, reg + 4, 4);
            conf1_write(v, devfn, reg + 4, 4, orig_hi);
        }
        mask = (uint64_t)hi << 32 | (lo & ((orig & 1) ? ~0x3u : ~0xfu));
        if (!is64)
            mask |= 0xffffffff00000000ULL;
        if (i == 0 && !(orig & 1) && (lo & ~0xfu)) {
            *bar0 = ((uint64_t)orig_hi << 32 | orig) & ~0xfULL;
            *size0 = ~mask + 1;
        }
        if (is64)
            i++;
    }
    {
        uint32_t rom = conf1_read(v, devfn, 0x30, 4);

        conf1_write(v, devfn, 0x30, 4, 0xfffff800u);
        conf1_read(v, devfn, 0x30, 4);
        conf1_write(v, devfn, 0x30, 4, rom);
    }
    if (cmd & 0x3)
        conf1_write(v, devfn, 0x04, 2, cmd);
}

static int linux_probe_on_vcpu(struct hv_vcpu *v, void *arg)
{
    struct linux_probe *p = arg;
    uint32_t one = 0x01, saved = 0, enable = 0x80000000u, rb = 0;

    /* pci_check_type1() */
    if (cpu_pio(v, 0xcfb, 1, IOREQ_WRITE, &one) || cpu_pio(v, 0xcf8, 4, IOREQ_READ, &saved) ||
        cpu_pio(v, 0xcf8, 4, IOREQ_WRITE, &enable) || cpu_pio(v, 0xcf8, 4, IOREQ_READ, &rb))
        return -EIO;
    p->conf1 = rb == 0x80000000u;
    p->host_bridge = p->conf1 && sanity_check(v);
    if (cpu_pio(v, 0xcf8, 4, IOREQ_WRITE, &saved))
        return -EIO;
    if (!p->host_bridge)
        return 0; /* "PCI: Fatal: No config space access function found" */
    /* pci_legacy_init() -> pcibios_scan_root(0): pci_scan_slot() for each device. */
    for (unsigned int dev = 0; dev < 32; dev++) {
        for (unsigned int fn = 0; fn < 8; fn++) {
            unsigned int devfn = dev << 3 | fn;
            uint32_t id = conf1_read(v, devfn, 0x00, 4);

            if (id == 0xffffffffu || id == 0 || id == 0xffff0000u || id == 0x0000ffffu) {
                if (fn == 0)
                    break;
                continue;
            }
            uint32_t hdr = conf1_read(v, devfn, 0x0e, 1);
            conf1_read(v, devfn, 0x08, 4); /* class and revision */
            if (p->nfound < LINUX_MAX_FUNCS) {
                p->found[p->nfound].dev = dev;
                p->found[p->nfound].fn = fn;
                if ((hdr & 0x7f) == 0)
                    read_bases(v, devfn, &p->found[p->nfound].bar_base,
                               &p->found[p->nfound].bar_size);
                p->nfound++;
            }
            if (fn == 0 && !(hdr & 0x80))
                break;
        }
    }
    return 0;
}

int fw_linux_probe(struct harness *h)
{
    struct linux_probe p = {0};
    int rc = guest_call(h, linux_probe_on_vcpu, &p), first = -1;

    if (rc)
        return rc;
    atomic_store(&h->gs.pci_conf1, p.conf1);
    atomic_store(&h->gs.pci_host_bridge, p.host_bridge);
    atomic_store(&h->gs.pci_functions, p.nfound);
    for (unsigned int i = 0; i < p.nfound; i++) {
        struct device *d = h_device(h, 0, p.found[i].dev, p.found[i].fn, true);

        if (!d)
            return -ENOSPC;
        /* pcibios_resource_survey(): Linux keeps what was placed. */
        d->bar_base = p.found[i].bar_base;
        d->bar_size = p.found[i].bar_size;
        if (first < 0 && d->bar_size)
            first = (int)(d - h->dev);
        if (!h->json || h->verbose)
            printf("linux-probe 00:%02x.%x: BAR 0 %llu KiB at 0x%llx\n", p.found[i].dev,
                   p.found[i].fn, (unsigned long long)(d->bar_size >> 10),
                   (unsigned long long)d->bar_base);
    }
    if (first >= 0)
        h->cur_dev = first;
    if (!h->json || h->verbose)
        printf("linux-probe: conf1 %s, host bridge %s, %u functions on bus 0\n",
               p.conf1 ? "works" : "reads back wrong", p.host_bridge ? "found" : "missing",
               p.nfound);
    return 0;
}

struct port_access {
    unsigned int port, size;
    int dir;
    uint32_t val;
};

static int port_on_vcpu(struct hv_vcpu *v, void *arg)
{
    struct port_access *a = arg;

    return cpu_pio(v, (uint16_t)a->port, a->size, a->dir, &a->val);
}

int fw_port(struct harness *h, unsigned int port, unsigned int size, int dir, uint32_t *val)
{
    struct port_access a = {.port = port, .size = size, .dir = dir, .val = *val};
    int rc = guest_call(h, port_on_vcpu, &a);

    *val = a.val;
    return rc;
}
