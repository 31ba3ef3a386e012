/* SPDX-License-Identifier: MIT */
/*
 * What a vCPU does when the guest executes an instruction touching memory
 * or an I/O port. RAM is accessed directly; anything else is emulated the
 * way Xen's x86 emulator does it (xen/arch/x86/hvm/emulate.c): one ioreq per
 * access, and for string instructions one ioreq per run of repetitions that
 * stays within a page on both sides (data_is_ptr when the other side is RAM).
 *
 * Lent pages (lend.c) are memory too: loads and stores go straight to the
 * page through the guest view, and may fault; the fault handler sends the
 * access-only request and either returns (the access re-executes) or jumps
 * back here through v->jmp.
 */
#include <errno.h>
#include <string.h>

#include "hv.h"
#include "lend.h"
#include "util.h"

void hv_vcpu_init(struct hv *hv, unsigned int id)
{
    struct hv_vcpu *v = &hv->vcpu[id];

    v->hv = hv;
    v->id = id;
    v->wake = &hv->evt->vcpu_wake[id];
    atomic_init(v->wake, 0);
    v->stuck = false;
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

/*
 * An access no server claimed reads all ones, element by element, and a
 * data pointer gets them written to guest RAM (hvm_process_io_intercept()
 * with Xen's null_handler). Writes are dropped.
 */
static void unclaimed_read(struct hv *hv, const ioreq_t *p, uint64_t *val)
{
    if (!p->data_is_ptr) {
        *val = size_mask(p->size);
        return;
    }
    for (uint32_t i = 0; i < p->count; i++) {
        uint64_t step = (uint64_t)i * p->size, ones = ~0ULL;
        uint64_t gpa = p->df ? p->data - step : p->data + step;
        uint8_t *ram = ram_ptr(hv, gpa);

        /* Not RAM (any more): dropped, as real hardware would. */
        if (ram && (gpa & (HV_PAGE_SIZE - 1)) + p->size <= HV_PAGE_SIZE)
            memcpy(ram, &ones, p->size);
    }
}

static int io_result(struct hv *hv, enum hv_send_result r, ioreq_t *p, uint64_t *val)
{
    switch (r) {
    case HV_IO_HANDLED:
        if (p->dir == IOREQ_READ && !p->data_is_ptr)
            *val = p->data & size_mask(p->size);
        return 0;
    case HV_IO_UNCLAIMED:
        if (p->dir == IOREQ_READ)
            unclaimed_read(hv, p, val);
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

/* Arm the vCPU's fault handler for one guest access of `size` in direction `dir`. */
static void lent_arm(struct hv_vcpu *v, unsigned int size, int dir)
{
    lend_vcpu_enter(v);
    v->access_size = size;
    v->access_dir = dir;
}

/* The access completed natively: no livelock in progress. */
static void lent_done(struct hv_vcpu *v)
{
    v->in_guest_access = false;
    v->retry_streak = 0;
}

/*
 * One load or store through a lent page, as the instruction would do it.
 * Returns 0, or the LEND_JMP_* the fault handler came back with.
 */
static int lent_load_store(struct hv_vcpu *v, uint8_t *p, unsigned int size, int dir,
                           uint64_t *val)
{
    int jr;

    lent_arm(v, size, dir);
    jr = sigsetjmp(v->jmp, 0);
    if (jr) {
        v->in_guest_access = false;
        return jr;
    }
    v->in_guest_access = true;
    if (dir == IOREQ_READ) {
        switch (size) {
        case 1: *val = *(volatile uint8_t *)p; break;
        case 2: *val = *(volatile uint16_t *)p; break;
        case 4: *val = *(volatile uint32_t *)p; break;
        default: *val = *(volatile uint64_t *)p; break;
        }
    } else {
        switch (size) {
        case 1: *(volatile uint8_t *)p = (uint8_t)*val; break;
        case 2: *(volatile uint16_t *)p = (uint16_t)*val; break;
        case 4: *(volatile uint32_t *)p = (uint32_t)*val; break;
        default: *(volatile uint64_t *)p = *val; break;
        }
    }
    lent_done(v);
    return 0;
}

/* A block copy where one side or both are lent pages (a run of rep movs or stos). */
static int lent_copy(struct hv_vcpu *v, uint8_t *dst, const uint8_t *src, uint64_t len,
                     unsigned int size, int dir)
{
    int jr;

    lent_arm(v, size, dir);
    jr = sigsetjmp(v->jmp, 0);
    if (jr) {
        v->in_guest_access = false;
        return jr;
    }
    v->in_guest_access = true;
    memmove(dst, src, len);
    lent_done(v);
    return 0;
}

static int lent_jmp_errno(int jr)
{
    return jr == LEND_JMP_FAULT ? -EFAULT : -ESRCH;
}

/*
 * The lending half of a memory access: returns 0 when done through a lent
 * page, 1 when gpa must be emulated as MMIO, or a negative errno (-EFAULT:
 * the guest took a fault; -ESRCH: the domain died).
 */
static int lent_mem(struct hv_vcpu *v, uint64_t gpa, unsigned int size, int dir, uint64_t *val)
{
    struct hv *hv = v->hv;

    if (!hv->lend)
        return 1;
    for (;;) {
        uint8_t *lent = lend_guest_ptr(hv, gpa);

        if (lent) {
            int jr = lent_load_store(v, lent, size, dir, val);
            if (jr == 0)
                return 0;
            if (jr == LEND_JMP_UNCLAIMED)
                return 1;
            if (jr != LEND_JMP_RELOOKUP)
                return lent_jmp_errno(jr);
            continue;
        }
        /* An access-only gfn with no p2m entry at all: Xen asks the device model too. */
        switch (lend_access(v, gpa, size, dir)) {
        case LEND_ACCESS_RETRY:
            continue;
        case LEND_ACCESS_FAULT:
            return -EFAULT;
        case LEND_ACCESS_DEAD:
            return -ESRCH;
        case LEND_ACCESS_UNCLAIMED:
            return 1;
        }
    }
}

int cpu_mem(struct hv_vcpu *v, uint64_t gpa, unsigned int size, int dir, uint64_t *val)
{
    struct hv *hv = v->hv;
    uint8_t *ram;
    ioreq_t p = {.addr = gpa, .size = size, .count = 1, .dir = (uint8_t)dir,
                 .type = IOREQ_TYPE_COPY};
    int rc;

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
    rc = lent_mem(v, gpa, size, dir, val);
    if (rc <= 0)
        return rc;
    if (dir == IOREQ_WRITE)
        p.data = *val & size_mask(size);
    return io_result(hv, hv_ioreq_emulate(v, &p), &p, val);
}

/*
 * One element of an instruction Xen's emulator carries out: RAM through
 * hvm_copy, anything else through an ioreq to the server claiming the gpa
 * as MEMORY -- lent pages included, mapped or not: they are not RAM to Xen
 * (p2m_lent_*), which never touches them itself (lend_abi.h).
 */
static int emulated_mem(struct hv_vcpu *v, uint64_t gpa, unsigned int size, int dir,
                        uint64_t *val)
{
    struct hv *hv = v->hv;
    uint8_t *ram = ram_ptr(hv, gpa);
    ioreq_t p = {.addr = gpa, .size = size, .count = 1, .dir = (uint8_t)dir,
                 .type = IOREQ_TYPE_COPY};

    if (ram) {
        if (dir == IOREQ_READ) {
            *val = 0;
            memcpy(val, ram, size);
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
 * upwards to the page end, or downwards (df) to the page start. This is the
 * cut hvmemul_do_io() makes on the MMIO side ("truncate rep MMIO at any GFN
 * boundary").
 */
static uint64_t reps_in_page(uint64_t addr, unsigned int size, bool df)
{
    uint64_t off = addr & (HV_PAGE_SIZE - 1);

    return df ? off / size + 1 : (HV_PAGE_SIZE - off) / size;
}

/*
 * The cut hvmemul_do_io_addr() makes on the RAM side of a string
 * instruction. Downwards it counts ((off + size - 1) & ~PAGE_MASK) / size,
 * one element short of the page start (the element at offset 0 then goes
 * alone, as a "page-straddling" single rep), and this is what a device model
 * sees on real Xen.
 */
static uint64_t ram_reps_in_page(uint64_t addr, unsigned int size, bool df)
{
    uint64_t off = addr & (HV_PAGE_SIZE - 1);
    uint64_t n = df ? ((off + size - 1) & (HV_PAGE_SIZE - 1)) / size : (HV_PAGE_SIZE - off) / size;

    return n ? n : 1;
}

/* The lowest address a run of n elements starting at addr covers. */
static uint64_t run_low(uint64_t addr, unsigned int size, uint64_t n, bool df)
{
    return df ? addr - (n - 1) * size : addr;
}

/* Xen's emulator clips every string instruction run at 4096 repetitions. */
#define MAX_REPS 4096

int cpu_rep_movs(struct hv_vcpu *v, uint64_t dst, uint64_t src, unsigned int size, uint64_t reps,
                 bool df)
{
    struct hv *hv = v->hv;

    if ((size != 1 && size != 2 && size != 4 && size != 8) || dst % size || src % size)
        return -EINVAL;
    while (reps) {
        uint64_t n = MIN_U64(reps, MAX_REPS);
        /* Like hvmemul_rep_movs(): each side's p2m type is its first element's. */
        uint8_t *s_ram = ram_ptr(hv, src), *d_ram = ram_ptr(hv, dst);
        uint8_t *s_lent = s_ram ? NULL : lend_guest_ptr(hv, src);
        uint8_t *d_lent = d_ram ? NULL : lend_guest_ptr(hv, dst);
        int rc = 0;

        if ((s_lent || d_lent) && (s_ram || s_lent) && (d_ram || d_lent)) {
            /* Memory on both sides, lent on one at least: the CPU copies, and may fault. */
            n = MIN_U64(n, reps_in_page(src, size, df));
            n = MIN_U64(n, reps_in_page(dst, size, df));
            uint64_t back = df ? (n - 1) * size : 0;
            int jr = lent_copy(v, (d_lent ? d_lent : d_ram) - back,
                               (s_lent ? s_lent : s_ram) - back, n * size, size,
                               d_lent ? IOREQ_WRITE : IOREQ_READ);
            if (jr == LEND_JMP_RELOOKUP)
                continue; /* the same run again, looked up afresh */
            if (jr == LEND_JMP_UNCLAIMED) {
                /* Not claimed after all: this element the MMIO way, then go on. */
                uint64_t x = 0;
                n = 1;
                rc = cpu_mem(v, src, size, IOREQ_READ, &x);
                if (rc == 0)
                    rc = cpu_mem(v, dst, size, IOREQ_WRITE, &x);
            } else if (jr) {
                return lent_jmp_errno(jr);
            }
        } else if (s_ram && d_ram) {
            /*
             * RAM to RAM: element by element, in the instruction's order, so
             * overlapping copies come out as the CPU makes them.
             */
            n = MIN_U64(n, reps_in_page(src, size, df));
            n = MIN_U64(n, reps_in_page(dst, size, df));
            for (uint64_t i = 0; i < n; i++) {
                uint64_t off = i * size;
                memmove(ram_ptr(hv, df ? dst - off : dst + off),
                        ram_ptr(hv, df ? src - off : src + off), size);
            }
        } else if (!s_ram && !d_ram) {
            /*
             * MMIO to MMIO (another device's and a lent page among them):
             * Xen gives up the rep and emulates one element at a time.
             */
            n = 1;
            uint64_t x = 0;
            rc = emulated_mem(v, src, size, IOREQ_READ, &x);
            if (rc == 0)
                rc = emulated_mem(v, dst, size, IOREQ_WRITE, &x);
        } else if (reps == 1) {
            /*
             * One element left (or asked for): x86_emulate() does not call
             * rep_movs() for nr_reps == 1 but reads and writes the element,
             * so the device model sees a plain access, not a data pointer.
             * Found by the real-Xen fidelity check: the last element of a
             * DF=1 copy.
             */
            uint64_t x = 0;
            n = 1;
            rc = cpu_mem(v, src, size, IOREQ_READ, &x);
            if (rc == 0)
                rc = cpu_mem(v, dst, size, IOREQ_WRITE, &x);
        } else {
            /* One side is RAM: the device model copies through a data pointer. */
            uint64_t mmio = d_ram ? src : dst, ram = d_ram ? dst : src;

            n = MIN_U64(n, ram_reps_in_page(ram, size, df));
            n = MIN_U64(n, reps_in_page(mmio, size, df));
            ioreq_t p = {
                .addr = mmio,
                .data = ram,
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
        uint8_t *d_lent = d_ram ? NULL : lend_guest_ptr(hv, run_low(dst, size, n, df));
        int rc = 0;

        if (d_ram) {
            for (uint64_t i = 0; i < n; i++)
                memcpy(d_ram + i * size, &value, size);
        } else if (d_lent) {
            /* The CPU stores through the lent page: the run as one block, faults and all. */
            uint8_t block[HV_PAGE_SIZE];
            for (uint64_t i = 0; i < n; i++)
                memcpy(block + i * size, &value, size);
            int jr = lent_copy(v, d_lent, block, n * size, size, IOREQ_WRITE);
            if (jr == LEND_JMP_RELOOKUP)
                continue;
            if (jr == LEND_JMP_UNCLAIMED) {
                n = 1;
                rc = cpu_mem(v, dst, size, IOREQ_WRITE, &value);
            } else if (jr) {
                return lent_jmp_errno(jr);
            }
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
