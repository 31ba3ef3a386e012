/* SPDX-License-Identifier: MIT */
/*
 * What a vCPU does when the guest executes an instruction touching memory
 * or an I/O port. RAM is accessed directly; anything else is emulated the
 * way Xen's x86 emulator does it (xen/arch/x86/hvm/emulate.c): one ioreq per
 * access, and for string instructions one ioreq per run of repetitions that
 * stays within a page on both sides (data_is_ptr when the other side is RAM).
 */
#include <errno.h>
#include <string.h>

#include "hv.h"

void hv_vcpu_init(struct hv *hv, unsigned int id)
{
    struct hv_vcpu *v = &hv->vcpu[id];

    v->hv = hv;
    v->id = id;
    atomic_init(&v->wake, 0);
    v->stuck = false;
}

static uint64_t size_mask(unsigned int size)
{
    return size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

/* Host pointer to guest RAM at gpa, or NULL if gpa is not RAM right now. */
static uint8_t *ram_ptr(struct hv *hv, uint64_t gpa)
{
    int64_t frame;

    if (gpa >> HV_PADDR_BITS)
        return NULL;
    frame = hv_gfn_to_frame(hv, gpa >> HV_PAGE_SHIFT);
    if (frame < 0)
        return NULL;
    return (uint8_t *)hv_frame_ptr(hv, (uint64_t)frame) + (gpa & (HV_PAGE_SIZE - 1));
}

static int io_result(struct hv *hv, enum hv_send_result r, ioreq_t *p, uint64_t *val)
{
    (void)hv;
    switch (r) {
    case HV_IO_HANDLED:
        if (p->dir == IOREQ_READ && !p->data_is_ptr)
            *val = p->data & size_mask(p->size);
        return 0;
    case HV_IO_UNCLAIMED:
        /* No device: reads float high, writes go nowhere. */
        if (p->dir == IOREQ_READ && !p->data_is_ptr)
            *val = size_mask(p->size);
        return 0;
    case HV_IO_DEAD:
        break;
    }
    return -ESRCH;
}

int cpu_pio(struct hv_vcpu *v, uint16_t port, unsigned int size, int dir, uint32_t *val)
{
    struct hv *hv = v->hv;
    ioreq_t p = {.addr = port, .size = size, .count = 1, .dir = (uint8_t)dir,
                 .type = IOREQ_TYPE_PIO};
    uint64_t data = *val;
    int rc;

    if (size != 1 && size != 2 && size != 4)
        return -EINVAL;
    /* hvm_access_cf8(): latch whole-dword writes, then fall through to the emulators. */
    if (port == 0xcf8 && size == 4 && dir == IOREQ_WRITE) {
        pthread_mutex_lock(&hv->lock);
        hv->pci_cf8 = *val;
        pthread_mutex_unlock(&hv->lock);
    }
    if (dir == IOREQ_WRITE)
        p.data = *val;
    rc = io_result(hv, hv_ioreq_emulate(v, &p), &p, &data);
    if (dir == IOREQ_READ)
        *val = (uint32_t)data;
    return rc;
}

int cpu_pci_config(struct hv_vcpu *v, unsigned int bus, unsigned int dev, unsigned int fn,
                   unsigned int reg, unsigned int size, int dir, uint32_t *val)
{
    uint32_t cf8 = 0x80000000u | (bus & 0xff) << 16 | (dev & 0x1f) << 11 | (fn & 7) << 8 |
                   (reg & 0xfc);
    int rc;

    if (reg >= 256 || (reg % size) != 0)
        return -EINVAL;
    rc = cpu_pio(v, 0xcf8, 4, IOREQ_WRITE, &cf8);
    if (rc)
        return rc;
    return cpu_pio(v, (uint16_t)(0xcfc + (reg & 3)), size, dir, val);
}

int cpu_mem(struct hv_vcpu *v, uint64_t gpa, unsigned int size, int dir, uint64_t *val)
{
    struct hv *hv = v->hv;
    uint8_t *ram;
    ioreq_t p = {.addr = gpa, .size = size, .count = 1, .dir = (uint8_t)dir,
                 .type = IOREQ_TYPE_COPY};

    if ((size != 1 && size != 2 && size != 4 && size != 8) || gpa % size)
        return -EINVAL;
    ram = ram_ptr(hv, gpa);
    if (ram) {
        if (dir == IOREQ_READ) {
            uint64_t x = 0;
            memcpy(&x, ram, size);
            *val = x;
        } else {
            memcpy(ram, val, size);
        }
        return 0;
    }
    if (dir == IOREQ_WRITE)
        p.data = *val & size_mask(size);
    return io_result(hv, hv_ioreq_emulate(v, &p), &p, val);
}

/*
 * Repetitions from addr, element size `size`, that stay in addr's page:
 * upwards to the page end, or downwards (df) to the page start.
 */
static uint64_t reps_in_page(uint64_t addr, unsigned int size, bool df)
{
    uint64_t off = addr & (HV_PAGE_SIZE - 1);

    return df ? off / size + 1 : (HV_PAGE_SIZE - off) / size;
}

/* The lowest address a run of n elements starting at addr covers. */
static uint64_t run_low(uint64_t addr, unsigned int size, uint64_t n, bool df)
{
    return df ? addr - (n - 1) * size : addr;
}

int cpu_rep_movs(struct hv_vcpu *v, uint64_t dst, uint64_t src, unsigned int size, uint64_t reps,
                 bool df)
{
    struct hv *hv = v->hv;

    if ((size != 1 && size != 2 && size != 4 && size != 8) || dst % size || src % size)
        return -EINVAL;
    while (reps) {
        uint64_t n = reps;
        uint8_t *s_ram, *d_ram;
        int rc = 0;

        n = MIN_U64(n, reps_in_page(src, size, df));
        n = MIN_U64(n, reps_in_page(dst, size, df));
        s_ram = ram_ptr(hv, run_low(src, size, n, df));
        d_ram = ram_ptr(hv, run_low(dst, size, n, df));
        if (s_ram && d_ram) {
            memmove(d_ram, s_ram, n * size);
        } else if (!s_ram && !d_ram) {
            /* MMIO to MMIO: element by element through a bounce value. */
            for (uint64_t i = 0; i < n && rc == 0; i++) {
                uint64_t x = 0, off = i * size;
                rc = cpu_mem(v, df ? src - off : src + off, size, IOREQ_READ, &x);
                if (rc == 0)
                    rc = cpu_mem(v, df ? dst - off : dst + off, size, IOREQ_WRITE, &x);
            }
        } else {
            /* One side is RAM: the device model copies through a data pointer. */
            ioreq_t p = {
                .addr = d_ram ? src : dst,
                .data = d_ram ? dst : src,
                .count = (uint32_t)n,
                .size = size,
                .dir = d_ram ? IOREQ_READ : IOREQ_WRITE,
                .df = df,
                .data_is_ptr = 1,
                .type = IOREQ_TYPE_COPY,
            };
            uint64_t unused = 0;

            rc = io_result(hv, hv_ioreq_emulate(v, &p), &p, &unused);
        }
        if (rc)
            return rc;
        src = df ? src - n * size : src + n * size;
        dst = df ? dst - n * size : dst + n * size;
        reps -= n;
    }
    return 0;
}

int cpu_rep_stos(struct hv_vcpu *v, uint64_t dst, uint64_t value, unsigned int size,
                 uint64_t reps, bool df)
{
    struct hv *hv = v->hv;

    if ((size != 1 && size != 2 && size != 4 && size != 8) || dst % size)
        return -EINVAL;
    value &= size_mask(size);
    while (reps) {
        uint64_t n = MIN_U64(reps, reps_in_page(dst, size, df));
        uint8_t *d_ram = ram_ptr(hv, run_low(dst, size, n, df));
        int rc = 0;

        if (d_ram) {
            for (uint64_t i = 0; i < n; i++)
                memcpy(d_ram + i * size, &value, size);
        } else {
            ioreq_t p = {
                .addr = dst,
                .data = value,
                .count = (uint32_t)n,
                .size = size,
                .dir = IOREQ_WRITE,
                .df = df,
                .type = IOREQ_TYPE_COPY,
            };
            uint64_t unused = 0;

            rc = io_result(hv, hv_ioreq_emulate(v, &p), &p, &unused);
        }
        if (rc)
            return rc;
        dst = df ? dst - n * size : dst + n * size;
        reps -= n;
    }
    return 0;
}
