/* SPDX-License-Identifier: MIT */
/*
 * fuzz_config: bar.c against a small shadow model of the PCI function.
 *
 * The shadow is written from the PCI Local Bus Specification 3.0 and bar.h's
 * contract, not from bar.c: a 256-byte header built field by field, the
 * writable bits of each byte (COMMAND's implemented bits, cache line size,
 * interrupt line, the address bits of the 64-bit BAR at and above its size),
 * and the window rule (decoding iff COMMAND.MEMORY is set and the BAR holds an
 * address: neither 0 nor the all-ones sizing value).
 *
 * Input: a parameter block (BAR size from 4K to 1T, IDs, mode, or raw
 * parameters pci_func_init() must refuse), then config reads and writes at
 * any offset, of any size 0..8 (1, 2, 4 valid), with the window callback told
 * to fail (negative errno or a positive value) by a bit of each write.
 * After every access: config bytes equal the shadow, bar.h's window equals the
 * derived one, the callback ran exactly when the window changed, with the old
 * window still recorded and the header already new, and a failed callback
 * left bytes and window exactly as before the write.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bar.h"
#include "fuzz_input.h"
#include "fuzz_check.h"

#define MAX_OPS 256

static struct model {
    struct pci_func *f;
    uint8_t cfg[256];
    uint8_t wmask[256];
    uint64_t bar_size;
    /* The callback's script and record. */
    bool fail_next;
    int fail_rc;
    unsigned int calls;
    struct bar_window cb_old, cb_new;
    uint8_t cfg_at_call[256];
    struct bar_window window_at_call;
    void *opaque_seen;
} S;

static int window_cb(void *opaque, const struct bar_window *o, const struct bar_window *n)
{
    S.calls++;
    S.cb_old = *o;
    S.cb_new = *n;
    S.opaque_seen = opaque;
    memcpy(S.cfg_at_call, S.f->cfg, 256);
    S.window_at_call = S.f->window;
    return S.fail_next ? S.fail_rc : 0;
}

static void put(uint8_t *b, unsigned int off, uint64_t v, unsigned int len)
{
    for (unsigned int i = 0; i < len; i++)
        b[off + i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get(const uint8_t *b, unsigned int off, unsigned int len)
{
    uint64_t v = 0;

    for (unsigned int i = len; i > 0; i--)
        v = v << 8 | b[off + i - 1];
    return v;
}

/* The power-on header, from the spec and bar.h. */
static void model_init(const struct pci_func_params *p)
{
    uint64_t addr_bits = ~(p->bar_size - 1) & ~0xfULL;

    memset(S.cfg, 0, sizeof(S.cfg));
    memset(S.wmask, 0, sizeof(S.wmask));
    S.bar_size = p->bar_size;
    put(S.cfg, 0x00, p->ids.vendor_id, 2);
    put(S.cfg, 0x02, p->ids.device_id, 2);
    put(S.cfg, 0x06, 0x0010, 2); /* status: capability list */
    put(S.cfg, 0x08, p->ids.revision, 1);
    put(S.cfg, 0x09, p->ids.class_code, 3);
    put(S.cfg, 0x0e, 0x00, 1); /* type 0, single function */
    put(S.cfg, 0x10, 0xc, 4);  /* memory, 64-bit, prefetchable, address 0 */
    put(S.cfg, 0x2c, p->ids.subsystem_vendor_id, 2);
    put(S.cfg, 0x2e, p->ids.subsystem_id, 2);
    put(S.cfg, 0x34, 0x40, 1);
    /* The vendor capability describing the window. */
    put(S.cfg, 0x40, 0x09, 1);
    put(S.cfg, 0x41, 0x00, 1);
    put(S.cfg, 0x42, 24, 1);
    put(S.cfg, 0x43, 1, 1);
    put(S.cfg, 0x44, 0, 1);
    put(S.cfg, 0x45, p->mode, 1);
    put(S.cfg, 0x46, p->cap_flags, 2);
    put(S.cfg, 0x48, p->bar_size, 8);
    put(S.cfg, 0x50, p->resident_size, 8);
    /* Writable: memory, bus master, parity, SERR#, INTx disable; cache line; interrupt line. */
    put(S.wmask, 0x04, 0x0002 | 0x0004 | 0x0040 | 0x0100 | 0x0400, 2);
    put(S.wmask, 0x0c, 0xff, 1);
    put(S.wmask, 0x3c, 0xff, 1);
    put(S.wmask, 0x10, addr_bits, 8);
}

static struct bar_window model_window(const uint8_t *cfg)
{
    struct bar_window w = {.enabled = false, .base = 0, .size = S.bar_size};
    uint64_t addr = get(cfg, 0x10, 8) & ~0xfULL;

    if ((get(cfg, 0x04, 2) & 0x2) && addr != 0 && addr != ~(S.bar_size - 1)) {
        w.enabled = true;
        w.base = addr;
    }
    return w;
}

static bool window_eq(const struct bar_window *a, const struct bar_window *b)
{
    return a->enabled == b->enabled && a->base == b->base && a->size == b->size;
}

static bool access_valid(uint32_t reg, uint32_t size)
{
    return (size == 1 || size == 2 || size == 4) && reg % size == 0 && reg < 256 &&
           reg + size <= 256;
}

static void check_state(const char *after)
{
    struct bar_window w = model_window(S.cfg);

    for (unsigned int i = 0; i < 256; i++) {
        if (S.f->cfg[i] != S.cfg[i])
            fuzz_fail("after %s: config byte 0x%02x is 0x%02x, the model says 0x%02x", after, i,
                      S.f->cfg[i], S.cfg[i]);
    }
    if (!window_eq(&w, &S.f->window))
        fuzz_fail("after %s: window %s 0x%llx, the model says %s 0x%llx", after,
                  S.f->window.enabled ? "on" : "off", (unsigned long long)S.f->window.base,
                  w.enabled ? "on" : "off", (unsigned long long)w.base);
    if (w.enabled && (w.base % S.bar_size || w.base + (S.bar_size - 1) < w.base))
        fuzz_fail("a decoding window at 0x%llx is misaligned or wraps", (unsigned long long)w.base);
    if (pci_func_bar_address(S.f) != (get(S.cfg, 0x10, 8) & ~0xfULL))
        fuzz_fail("pci_func_bar_address() disagrees with BAR 0/1");
    if (memcmp(S.f->wmask, S.wmask, 256) || S.f->bar_size != S.bar_size ||
        S.f->window_change != window_cb || S.f->opaque != &S)
        fuzz_fail("after %s: the function's private state changed", after);
}

static void do_read(uint32_t reg, uint32_t size)
{
    uint32_t val = 0x12345678;
    int rc = pci_func_config_read(S.f, reg, size, &val);

    if (access_valid(reg, size)) {
        if (rc != 0 || val != (uint32_t)get(S.cfg, reg, size))
            fuzz_fail("read of %u at 0x%x: rc %d value 0x%x, the model says 0x%llx", size, reg, rc,
                      val, (unsigned long long)get(S.cfg, reg, size));
    } else {
        uint32_t ones = size == 1 ? 0xff : size == 2 ? 0xffff : 0xffffffff;

        if (rc != -EINVAL || val != ones)
            fuzz_fail("invalid read of %u at 0x%x: rc %d value 0x%x (want -EINVAL, 0x%x)", size,
                      reg, rc, val, ones);
    }
}

static void do_write(uint32_t reg, uint32_t size, uint32_t val, bool fail, int fail_rc)
{
    uint8_t next[256];
    struct bar_window old_w = model_window(S.cfg), new_w;
    bool changes;
    int rc;

    S.fail_next = fail;
    S.fail_rc = fail_rc;
    S.calls = 0;
    rc = pci_func_config_write(S.f, reg, size, val);
    if (!access_valid(reg, size)) {
        if (rc != -EINVAL || S.calls)
            fuzz_fail("invalid write of %u at 0x%x: rc %d, %u callback(s)", size, reg, rc, S.calls);
        check_state("an invalid write");
        return;
    }
    memcpy(next, S.cfg, 256);
    for (uint32_t i = 0; i < size; i++) {
        uint8_t m = S.wmask[reg + i], b = (uint8_t)(val >> (8 * i));

        next[reg + i] = (uint8_t)((next[reg + i] & ~m) | (b & m));
    }
    new_w = model_window(next);
    changes = !window_eq(&old_w, &new_w);
    if (S.calls != (changes ? 1u : 0u))
        fuzz_fail("write 0x%x of %u at 0x%x: %u callback(s), the window %s", val, size, reg,
                  S.calls, changes ? "changes" : "does not change");
    if (changes) {
        if (!window_eq(&S.cb_old, &old_w) || !window_eq(&S.cb_new, &new_w))
            fuzz_fail("callback told old %s 0x%llx new %s 0x%llx, the model says old %s "
                      "0x%llx new %s 0x%llx",
                      S.cb_old.enabled ? "on" : "off", (unsigned long long)S.cb_old.base,
                      S.cb_new.enabled ? "on" : "off", (unsigned long long)S.cb_new.base,
                      old_w.enabled ? "on" : "off", (unsigned long long)old_w.base,
                      new_w.enabled ? "on" : "off", (unsigned long long)new_w.base);
        /* bar.h: the callback sees the new header while the window still says what is claimed. */
        if (memcmp(S.cfg_at_call, next, 256) || !window_eq(&S.window_at_call, &old_w) ||
            S.opaque_seen != &S)
            fuzz_fail("the callback ran with the header or window in the wrong state");
    }
    if (changes && fail) {
        int want = fail_rc < 0 ? fail_rc : -EIO;

        if (rc != want)
            fuzz_fail("a refused window change returned %d, not %d", rc, want);
        check_state("a refused write");
        return;
    }
    if (rc != 0)
        fuzz_fail("write 0x%x of %u at 0x%x returned %d", val, size, reg, rc);
    memcpy(S.cfg, next, 256);
    check_state("a write");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    static const uint32_t sizes[] = {1, 2, 4};
    struct fuzz_input in = {data, len};
    struct pci_func_params p;
    uint8_t flags = fi_u8(&in);
    bool valid;
    int rc;

    memset(&S, 0, sizeof(S));
    memset(&p, 0, sizeof(p));
    if (flags & 0x80) {
        /* Raw parameters: pci_func_init() takes exactly the documented ones. */
        uint8_t shift = fi_u8(&in);

        p.bar_size = (shift & 0x40) ? fi_u64(&in) : 1ULL << (shift % 64);
        p.ids.class_code = fi_u32(&in);
        p.resident_size = fi_u64(&in);
        p.mode = (enum lend_cap_mode)fi_u8(&in);
        p.cap_flags = fi_u16(&in);
    } else {
        p.bar_size = 1ULL << (12 + fi_u8(&in) % 29);
        p.ids.class_code = fi_u32(&in) & 0xffffff;
        p.resident_size = p.bar_size >> (fi_u8(&in) % 8);
        p.mode = (enum lend_cap_mode)(flags & 1);
        p.cap_flags = (flags >> 1) & 1;
    }
    p.ids.vendor_id = fi_u16(&in);
    p.ids.device_id = fi_u16(&in);
    p.ids.subsystem_vendor_id = fi_u16(&in);
    p.ids.subsystem_id = fi_u16(&in);
    p.ids.revision = fi_u8(&in);
    valid = p.bar_size >= 4096 && p.bar_size <= (1ULL << 40) && !(p.bar_size & (p.bar_size - 1)) &&
            p.ids.class_code <= 0xffffff && p.resident_size <= p.bar_size &&
            (p.mode == LEND_CAP_MODE_EMULATE || p.mode == LEND_CAP_MODE_LEND) &&
            !(p.cap_flags & ~LEND_CAP_F_LOST_ZERO);

    S.f = malloc(sizeof(*S.f));
    if (!S.f)
        abort();
    rc = pci_func_init(S.f, &p, (flags & 0x40) ? NULL : window_cb, &S);
    if (flags & 0x40) {
        if (rc != -EINVAL)
            fuzz_fail("pci_func_init without a callback returned %d", rc);
        free(S.f);
        return 0;
    }
    if (rc != (valid ? 0 : -EINVAL))
        fuzz_fail("pci_func_init(bar_size 0x%llx class 0x%x resident 0x%llx mode %d flags "
                  "0x%x) returned %d",
                  (unsigned long long)p.bar_size, p.ids.class_code,
                  (unsigned long long)p.resident_size, (int)p.mode, p.cap_flags, rc);
    if (rc) {
        free(S.f);
        return 0;
    }
    model_init(&p);
    check_state("pci_func_init");

    for (unsigned int i = 0; i < MAX_OPS && !fi_empty(&in); i++) {
        uint8_t op = fi_u8(&in);
        uint32_t reg = (op & 0x20) ? fi_u16(&in) : fi_u8(&in);
        uint32_t size = (op & 0x18) == 0x18 ? fi_u8(&in) % 9 : sizes[(op >> 3) & 3];

        if (op & 1) {
            uint32_t val = fi_u32(&in);
            int fail_rc = (op & 4) ? (int)(fi_u8(&in) % 3) + 1 : -(int)(fi_u8(&in) % 133 + 1);

            do_write(reg, size, val, op & 2, fail_rc);
        } else {
            do_read(reg, size);
        }
    }
    free(S.f);
    return 0;
}
