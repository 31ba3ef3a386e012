/* SPDX-License-Identifier: MIT */
/* Owns emulation mode's COPY requests (emulate.h): every check, then the bytes moved. */
#include "emulate.h"

#include "access_ioreq.h"

#include <errno.h>
#include <string.h>

#include "util.h"

/* The backing may be device memory (a host PCI BAR): one access of exactly `size`. */
static uint64_t backing_load(const uint8_t *p, unsigned int size)
{
    uint64_t v = 0;

    if (((uintptr_t)p & (size - 1)) == 0) {
        switch (size) {
        case 1: return *(const volatile uint8_t *)p;
        case 2: return *(const volatile uint16_t *)p;
        case 4: return *(const volatile uint32_t *)p;
        case 8: return *(const volatile uint64_t *)p;
        }
    }
    memcpy(&v, p, size); /* unaligned: x86 allows it, C wants bytes */
    return v;
}

static void backing_store(uint8_t *p, unsigned int size, uint64_t v)
{
    if (((uintptr_t)p & (size - 1)) == 0) {
        switch (size) {
        case 1: *(volatile uint8_t *)p = (uint8_t)v; return;
        case 2: *(volatile uint16_t *)p = (uint16_t)v; return;
        case 4: *(volatile uint32_t *)p = (uint32_t)v; return;
        case 8: *(volatile uint64_t *)p = v; return;
        }
    }
    memcpy(p, &v, size);
}

/*
 * First and last byte of `count` elements of `size` from addr, walking down
 * when df is set (ioreq_mmio_first_byte/last_byte in Xen). -ERANGE if the
 * span wraps around the address space.
 */
static int rep_span(uint64_t addr, unsigned int size, uint32_t count, bool df, uint64_t *first,
                    uint64_t *last)
{
    uint64_t span = (uint64_t)size * count;

    if (df) {
        if (span - size > addr || addr > UINT64_MAX - (size - 1))
            return -ERANGE;
        *first = addr - (span - size);
        *last = addr + size - 1;
    } else {
        if (span - 1 > UINT64_MAX - addr)
            return -ERANGE;
        *first = addr;
        *last = addr + span - 1;
    }
    return 0;
}

static int refuse(ioreq_t *req, uint64_t *counter, struct counters *cnt, int err)
{
    ioreq_refuse(req, counter, cnt);
    return err;
}

int emulate_copy(const struct backing *b, struct regions *rs, const struct bar_window *w,
                 struct guest_ram *ram, struct counters *cnt, ioreq_t *req)
{
    unsigned int size = req->size;
    bool df = req->df, ptr = req->data_is_ptr;
    uint64_t first, last, gfirst, glast, value = 0;

    if (size != 1 && size != 2 && size != 4 && size != 8)
        return refuse(req, &cnt->reject_size, cnt, -EINVAL);
    /* Xen never sends more than a page per request; bound our work the same way. */
    if (req->count == 0 || (uint64_t)req->count * size > XC_PAGE_SIZE)
        return refuse(req, &cnt->reject_count, cnt, -EINVAL);
    if (!w->enabled || rep_span(req->addr, size, req->count, df, &first, &last) ||
        first < w->base || last > w->base + (w->size - 1) || last - w->base >= b->size)
        return refuse(req, &cnt->reject_range, cnt, -ERANGE);
    if (ptr && rep_span(req->data, size, req->count, df, &gfirst, &glast))
        return refuse(req, &cnt->reject_guest_buffer, cnt, -ERANGE);

    for (uint32_t i = 0; i < req->count; i++) {
        uint64_t step = (uint64_t)i * size;
        /* The offset first: base + guest address would overflow the pointer for a high BAR. */
        uint64_t off = (df ? req->addr - step : req->addr + step) - w->base;
        uint8_t *bar = rs ? NULL : (uint8_t *)b->base + off;
        uint64_t gpa = df ? req->data - step : req->data + step;

        if (req->dir == IOREQ_WRITE) {
            value = ptr ? 0 : req->data & size_mask(size);
            if (ptr && guest_ram_copy(ram, gpa, &value, size, IOREQ_READ))
                return refuse(req, &cnt->reject_guest_buffer, cnt, -EFAULT);
            if (rs)
                regions_write(rs, off, size, value);
            else
                backing_store(bar, size, value);
        } else {
            value = rs ? regions_read(rs, off, size) : backing_load(bar, size);
            if (ptr && guest_ram_copy(ram, gpa, &value, size, IOREQ_WRITE))
                return refuse(req, &cnt->reject_guest_buffer, cnt, -EFAULT);
        }
        cnt->emulated_bytes += size;
    }
    /* A read without a pointer returns the last element read (rep lods). */
    if (req->dir == IOREQ_READ && !ptr)
        req->data = value;
    cnt->ioreqs_copy++;
    cnt->ioreqs_copy_read += req->dir == IOREQ_READ;
    cnt->ioreqs_copy_ptr += ptr;
    return 0;
}
