#!/usr/bin/env python3
"""Write the seed corpora under tests/fuzz/corpus/<target>/.

The seeds are meaningful programs in each harness's input format (documented
in the harness and below): firmware sizing and placing the BAR, every request
type and size, rep and data-pointer copies, buffered writes, lending events,
BAR moves, injected failures; PCI sizing sequences; valid command lines and
backing and lend specs. Run it after changing an input format:

    tests/fuzz/make_seeds.py        (rewrites the seed files it owns: seed-*)

Regression inputs for bugs found by fuzzing are kept next to them as regress-*
and are never touched by this script.
"""
import os
import struct
import sys

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "corpus")


def write(target, name, data):
    d = os.path.join(ROOT, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, "seed-" + name), "wb") as f:
        f.write(data)


def u8(v):
    return struct.pack("<B", v & 0xFF)


def u16(v):
    return struct.pack("<H", v & 0xFFFF)


def u32(v):
    return struct.pack("<I", v & 0xFFFFFFFF)


def i32(v):
    return struct.pack("<i", v)


def u64(v):
    return struct.pack("<Q", v & 0xFFFFFFFFFFFFFFFF)


# ---------------------------------------------------------------- fuzz_dispatch
# Header: h0 mode/flags, h1 vCPUs/server/ports, h2 fault-around/window,
# h3 fault-stream length, h4 set-up failure call, h5 its errno / broken Xen;
# then the fault stream, then actions (op % 9 = kind, op >> 5 = delivery).
RAW, CONFIG, MMIO, ACCESS, OTHER, BUFFERED, EVENTS, SPURIOUS, DIE = range(9)
LOW = 0xE0000          # below 1M: buffered entries (20-bit addresses) reach it
HIGH = 0xF0000000
ABOVE4G = 0x100000000
EMULATE, LEND, AUTO, AUTO_NOLEND = range(4)


def op(kind, how=0):
    for o in range(32 * how, 32 * how + 32):
        if o % 9 == kind:
            return u8(o)
    raise ValueError


def header(mode=EMULATE, vcpus=1, fault_around=3, window=0, faults=b"", setup_fail=None,
           on_lost_fault=False, broken=None, server=0, ports=0, hv_only=False, pred=None):
    h0 = mode | (4 if hv_only else 0) | (8 if on_lost_fault else 0) | (0x40 if pred else 0)
    h4 = h5 = 0
    if setup_fail is not None:
        h0 |= 0x10
        h4, h5 = setup_fail
    if broken is not None:
        h0 |= 0x20
        h5 = broken
    h1 = (vcpus - 1) | server << 2 | ports << 5
    h2 = fault_around | window << 2
    return bytes([h0, h1, h2, len(faults), h4, h5]) + (pred or b"") + faults


# A crashed predecessor (header bit 6): flags, BAR base (64K units, then bits
# 32-39), its slots (state selector: 0 none, 1 READY, 2 INPROCESS, 3 answered),
# its buffered ring, junk for its lock file.
PRED_MISMATCH, PRED_DECODING, PRED_SERVER_GONE, PRED_GARBAGE = 1, 2, 4, 8
PRED_NO_PCIDEV, PRED_DISABLED = 0x10, 0x40


def predecessor(flags=PRED_DECODING, base=LOW, slots=(), ring=(), junk=b""):
    out = u8(flags) + u16(base >> 16) + u8(base >> 32)
    if flags & PRED_MISMATCH:
        out += u8(0)
    for state, req in slots:
        out += u8(state) + req
    out += u8(len(ring))
    for e in ring:
        out += e
    if flags & PRED_GARBAGE:
        out += junk.ljust(64, b"\0")[:64]
    return out


def cfg(reg, size, val=0, read=False, v=0, flags=0):
    return op(CONFIG) + u8(v) + u8(flags | (0x80 if read else 0)) + u16(reg) + u8(size) + u32(val)


def firmware(base, v=0):
    """hvmloader: size BAR 0/1, read back, place it, enable memory decoding."""
    return (cfg(0x10, 4, 0xFFFFFFFF, v=v) + cfg(0x10, 4, read=True, v=v) +
            cfg(0x14, 4, 0xFFFFFFFF, v=v) + cfg(0x14, 4, read=True, v=v) +
            cfg(0x10, 4, base & 0xFFFFFFFF, v=v) + cfg(0x14, 4, base >> 32, v=v) +
            cfg(0x04, 2, 0x0006, v=v) + cfg(0x04, 2, read=True, v=v))


def mmio(off, size_idx, write=True, count=1, data=0, df=False, ptr=False, v=0, how=0):
    flags = (0 if write else 1) | (2 if df else 0) | (4 if ptr else 0) | size_idx << 3
    return op(MMIO, how) + u8(v) + u8(flags) + u16(count) + i32(off) + u64(data)


def access(off, write=False, v=0):
    return op(ACCESS) + u8(v) + u8(0 if write else 1) + i32(off)


def other(type_idx, data=0, v=0, read=False):
    return op(OTHER) + u8(v) + u8(type_idx | (8 if read else 0)) + u16(0x80) + u64(data)


def buffered(entries, raw_ptrs=None, bufport=True):
    """entries: (size_idx, write, offset, data)."""
    flags = (1 if raw_ptrs else 0) | (2 if bufport else 0)
    out = op(BUFFERED) + u8(flags) + u8(len(entries))
    for size_idx, write, off, data in entries:
        out += u8(size_idx | (0 if write else 4)) + u16(off) + u32(data)
    if raw_ptrs:
        out += u32(raw_ptrs[0]) + u32(raw_ptrs[1])
    return out


def events(evs, apply=True):
    """evs: (reason 1..4, first_page, count) on slot 0."""
    out = op(EVENTS, 1 if apply else 0) + u8(len(evs) - 1)
    for reason, first, count in evs:
        out += u8(reason - 1) + u8(first) + u8(count)
    return out


def raw_slot(req, v=0, how=0):
    return op(RAW, how) + u8(v) + req


def ioreq(addr, data, count, size, state, ptr, dir_, df, type_):
    bits = state | ptr << 4 | dir_ << 5 | df << 6
    return struct.pack("<QQIIIHBB", addr, data, count, size, 0, 0, bits, type_)


def spurious(raw):
    return op(SPURIOUS) + u16(raw)


def die():
    return op(DIE, 7)


SBDF = 0x1F << 3


def dispatch_seeds():
    s = {}
    every_size = b"".join(mmio(0x100 * (i + 1), i, True, data=0x1122334455667788 + i) +
                          mmio(0x100 * (i + 1), i, False) for i in range(4))
    s["emulate-firmware-every-size"] = header() + firmware(LOW) + every_size
    s["emulate-high-bar"] = header() + firmware(HIGH) + every_size
    s["emulate-above-4g"] = header() + firmware(ABOVE4G) + mmio(0xFFF8, 3, True, data=7) + \
        mmio(0xFFF8, 3, False) + mmio(0xFFFC, 3, False)
    s["emulate-rep"] = header() + firmware(LOW) + \
        mmio(0x1000, 2, True, count=16, data=0xA5A5A5A5) + \
        mmio(0x103C, 2, True, count=16, data=0x5A5A5A5A, df=True) + \
        mmio(0x1000, 2, False, count=16) + mmio(0x103C, 2, False, count=16, df=True) + \
        mmio(0x2000, 0, True, count=4096, data=0x77) + mmio(0x2000, 3, False, count=513)
    s["emulate-data-pointers"] = header() + firmware(LOW) + \
        mmio(0x0, 2, True, count=64, data=0x3000, ptr=True) + \
        mmio(0x100, 3, False, count=32, data=0x4000, ptr=True) + \
        mmio(0x200, 2, True, count=8, data=0x5FF8, ptr=True) + \
        mmio(0x300, 1, False, count=16, data=0x7FFE0, df=True, ptr=True) + \
        mmio(0x400, 2, True, count=4, data=0x47FF0, ptr=True) + \
        mmio(0x400, 0, True, count=1, data=0x48000, ptr=True)
    # Each copy straddles two guest pages: 72 pages, more than the 64-entry map cache.
    s["emulate-guest-ram-cache"] = header() + firmware(LOW) + b"".join(
        mmio(0x10 * i, 3, bool(i & 1), count=1, data=0x2000 * i + 0xFFC, ptr=True)
        for i in range(36)) + other(0) + mmio(0, 3, False, data=0x1000, ptr=True)
    s["emulate-buffered"] = header() + firmware(LOW) + \
        buffered([(0, True, 0x10, 0x11), (1, True, 0x20, 0x2222), (2, True, 0x30, 0x33333333),
                  (3, True, 0x40, 0x44444444), (3, True, 0x44, 0x55555555),
                  (2, False, 0x50, 0), (0, True, 0xFFFF, 0x99)]) + \
        mmio(0x10, 3, False) + mmio(0x40, 3, False)
    # A buffered write while the BAR is placed but not decoding is refused.
    s["emulate-buffered-before-decoding"] = header() + \
        cfg(0x10, 4, LOW) + op(BUFFERED) + u8(0) + u8(1) + u8(0) + u16(0xC2) + u32(0x14) + \
        cfg(0x04, 2, 0x0006) + mmio(0xC2, 0, False)
    s["emulate-buffered-corrupt"] = header() + firmware(LOW) + \
        buffered([(2, True, 0x10, 1)], raw_ptrs=(5, 600)) + \
        buffered([(3, True, 0x10, 1)], raw_ptrs=(0xFFFFFFFF, 0)) + \
        buffered([(3, True, 0x10, 1)], raw_ptrs=(10, 11)) + \
        buffered([(2, True, 0x10, 1)], raw_ptrs=(0, 511))
    s["emulate-bar-moves"] = header() + firmware(LOW) + mmio(0x80, 2, True, data=0xCAFE) + \
        cfg(0x10, 4, 0xD0000) + mmio(0x80, 2, False) + cfg(0x04, 2, 0) + \
        mmio(0x80, 2, False) + cfg(0x14, 4, 1) + cfg(0x04, 2, 6) + cfg(0x10, 1, 0xFF) + \
        cfg(0x13, 1, 0xF0) + cfg(0x10, 4, 0xFFFFFFFF) + cfg(0x14, 4, 0xFFFFFFFF) + \
        cfg(0x10, 4, 0) + cfg(0x14, 4, 0) + cfg(0x10, 4, HIGH)
    s["emulate-config-rules"] = header() + firmware(LOW) + \
        cfg(0x00, 4, read=True) + cfg(0x0C, 4, 0xFFFFFFFF) + cfg(0x0E, 1, read=True) + \
        cfg(0x40, 4, 0xFFFFFFFF) + cfg(0x3C, 1, 0x0B) + cfg(0x3D, 1, 5) + cfg(0x11, 2, 0) + \
        cfg(0x13, 4, 1) + cfg(0xFE, 4, read=True) + cfg(0x100, 4, read=True) + \
        cfg(0x10, 3, read=True) + cfg(0x10, 4, read=True, flags=1) + \
        cfg(0x10, 4, read=True, flags=2) + cfg(0x10, 4, read=True, flags=4) + \
        cfg(0x10, 4, read=True, flags=8)
    s["emulate-other-types"] = header() + firmware(LOW) + \
        mmio(0x0, 2, True, data=0x1000, ptr=True) + other(0) + other(1, 5) + \
        other(2, 1, read=True) + other(3, read=True) + other(4) + other(5) + \
        access(0x100) + spurious(0) + spurious(1) + spurious(2 | 4)
    s["emulate-refusals"] = header() + firmware(LOW) + mmio(-4, 2, False) + \
        mmio(0xFFFE, 2, False) + mmio(0x10000, 0, False) + \
        op(MMIO) + u8(0) + u8(0x80 | (3 << 3) | 1) + u16(1) + i32(0) + u64(0) + \
        mmio(0x0, 2, False, count=0) + mmio(0x0, 2, False, count=1025) + \
        mmio(0x8, 3, False, count=2, df=True) + mmio(0x0, 0, True, data=0, ptr=True, count=2,
                                                     df=True)
    s["emulate-4-vcpus"] = header(vcpus=4, server=3, ports=5) + firmware(LOW, v=2) + \
        mmio(0x10, 2, True, data=1, v=1) + mmio(0x10, 2, False, v=3) + \
        mmio(0x10, 2, False, v=2, how=6) + spurious(2 | (2 << 2)) + mmio(0x10, 2, False, v=0,
                                                                          how=7)
    s["emulate-torn-slot"] = header(faults=bytes([0x00, 0x00, 0xC3, 30, 0xFF, 8, 0x40, 24, 1,
                                                  31, 2]) * 4) + firmware(LOW) + every_size
    s["emulate-claim-failures"] = header(faults=bytes([0, 0, 0xC0, 0, 0, 0xC4, 0, 0, 0xC2] * 8)) + \
        firmware(LOW) + cfg(0x10, 4, 0xD0000) + cfg(0x04, 2, 0) + cfg(0x04, 2, 6) + \
        cfg(0x10, 4, 0xC0000)
    s["emulate-raw-requests"] = header() + firmware(LOW) + \
        raw_slot(ioreq(LOW + 0x10, 0xAB, 1, 1, 1, 0, 0, 0, 1)) + \
        raw_slot(ioreq(LOW + 0x10, 0, 1, 1, 1, 0, 1, 0, 1)) + \
        raw_slot(ioreq((0xF8 << 32) | 0x10, 0, 1, 4, 1, 0, 1, 0, 2)) + \
        raw_slot(ioreq(0, 0, 1, 4, 1, 0, 0, 0, 8)) + \
        raw_slot(ioreq(LOW, 0x2000, 16, 8, 1, 1, 1, 1, 1))
    s["emulate-domain-dies"] = header() + firmware(LOW) + mmio(0x10, 2, True, data=3) + die() + \
        mmio(0x10, 2, False) + cfg(0x04, 2, 0)
    # Lending.
    lend_work = access(0x0) + access(0x5123, write=True) + access(0xFFFF) + \
        events([(1, 0, 2), (2, 4, 1), (1, 8, 8)]) + access(0x4000) + access(0x0) + \
        events([(4, 0, 0)]) + access(0x8000) + access(-1) + access(0x10000) + \
        mmio(0x0, 2, False) + mmio(0x0, 2, True, data=1) + other(0)
    s["lend-basic"] = header(mode=LEND, fault_around=2, window=8) + firmware(LOW) + lend_work
    s["lend-full-window"] = header(mode=LEND, fault_around=3) + firmware(HIGH) + lend_work
    s["lend-small-window"] = header(mode=LEND, fault_around=0, window=2) + firmware(LOW) + \
        b"".join(access(0x1000 * i) for i in range(16))
    s["lend-on-lost-fault"] = header(mode=LEND, fault_around=1, window=4, on_lost_fault=True) + \
        firmware(LOW) + access(0x0) + events([(2, 0, 2)]) + access(0x0) + access(0x1000) + \
        access(0x2000)
    s["lend-bar-moves"] = header(mode=LEND, fault_around=2, window=8) + firmware(LOW) + \
        access(0x0) + access(0x4000) + cfg(0x10, 4, 0xD0000) + access(0x0) + cfg(0x04, 2, 0) + \
        access(0x0) + cfg(0x04, 2, 6) + access(0x8000) + cfg(0x14, 4, 2)
    s["lend-map-failures"] = header(mode=LEND, fault_around=2, window=8,
                                    faults=bytes([0, 0, 0xC0, 2, 0, 0xC1, 1, 0, 0xC0, 0] * 6)) + \
        firmware(LOW) + b"".join(access(0x1000 * i) for i in range(0, 16, 3))
    # One access whose map keeps racing invalidations: 17 EAGAINs, then the guest retries.
    # (42 bytes: what the firmware's config cycles take from the fault stream.)
    storm = bytes([0] * 4) + bytes([0xC0, 0] * 17) + bytes([0] * 8)
    s["lend-map-eagain-storm"] = header(mode=LEND, fault_around=1, window=8,
                                        faults=bytes([0] * 42) + storm) + \
        firmware(LOW) + access(0x3000) + access(0x3000)
    # A kernel reporting more pages done than asked (0xF3: 3 more).
    s["lend-map-over-reports"] = header(mode=LEND, fault_around=1, window=8,
                                        faults=bytes([0] * 46) + bytes([0xC0, 0xF3]) + bytes(8)) + \
        firmware(LOW) + access(0x3000)
    s["lend-events-raw"] = header(mode=LEND, fault_around=2) + firmware(LOW) + access(0) + \
        op(EVENTS, 1) + u8(3) + u8(0x80 | 0x40 | 0x20 | 0x10) + u32(7) + u8(3) + u64(1 << 63) + \
        u64(5) + u8(0x20 | 0x10) + u64(2) + u64(0xFFFFFFFFFFFFFFFF) + u8(2) + u8(3) + u8(0) + \
        u8(3) + u8(0) + u8(16) + access(0)
    s["lend-events-overflow"] = header(mode=LEND, fault_around=0, window=4) + firmware(LOW) + \
        b"".join(access(0x1000 * i) for i in range(4)) + \
        b"".join(events([(1, 8 + i % 8, 1)] * 8, apply=False) for i in range(9)) + \
        b"".join(access(0x1000 * i) for i in range(4, 8))
    s["lend-domain-dies"] = header(mode=LEND, fault_around=2, window=8) + firmware(LOW) + \
        access(0) + die() + access(0x1000) + cfg(0x04, 2, 0)
    s["auto-lends"] = header(mode=AUTO, fault_around=1, window=6) + firmware(LOW) + lend_work
    s["auto-no-kernel"] = header(mode=AUTO_NOLEND) + firmware(LOW) + every_size
    s["auto-no-hypervisor"] = header(mode=AUTO_NOLEND, hv_only=True) + firmware(LOW) + every_size
    for call in range(1, 22):
        s["setup-fails-at-%02d" % call] = header(mode=LEND if call % 2 else EMULATE, vcpus=2,
                                                  setup_fail=(call - 1, call)) + firmware(LOW)
    # Taking over from a crashed predecessor.
    inflight = [(1, ioreq(LOW + 0x10, 0, 1, 4, 0, 0, 1, 0, 1)),
                (2, ioreq((SBDF << 32) | 0x10, 0, 1, 4, 0, 0, 1, 0, 2)),
                (3, ioreq(LOW, 0x1234, 1, 4, 0, 0, 1, 0, 1)),
                (0, ioreq(0, 0, 0, 0, 0, 0, 0, 0, 0))]
    ring = [bytes([1, 0x00 | (2 << 2)]) + u16(0x10) + u32(0xAABBCCDD)[:4],
            bytes([7, 0]) + u16(0) + u32(1)]
    s["takeover-emulate"] = header(vcpus=4, pred=predecessor(slots=inflight, ring=ring)) + \
        mmio(0x10, 2, False) + cfg(0x04, 2, 0)
    # In flight when it died: rep movs from the BAR into guest RAM, and the other way.
    s["takeover-inflight-rep-movs"] = header(vcpus=2, fault_around=1, pred=predecessor(slots=[
        (1, ioreq(LOW + 0x10, 0x0, 256, 4, 0, 1, 1, 0, 1)),
        (2, ioreq(LOW + 0x2000, 0x3000, 64, 8, 0, 1, 0, 0, 1))])) + other(0) + \
        mmio(0x2000, 3, False, count=64, data=0x8000, ptr=True)
    s["takeover-inflight-bad-pointer"] = header(vcpus=2, pred=predecessor(slots=[
        (1, ioreq(LOW + 0x10, 0x0, 256, 4, 0, 1, 1, 0, 1)),
        (2, ioreq(LOW + 0x2000, 0x300000, 64, 8, 0, 1, 0, 0, 1))]))
    s["takeover-lend"] = header(mode=LEND, vcpus=2, fault_around=2, window=8,
                                pred=predecessor(slots=inflight[:2])) + access(0) + \
        cfg(0x10, 4, 0xD0000)
    s["takeover-not-decoding"] = header(vcpus=1, pred=predecessor(flags=0, slots=inflight[:1])) + \
        firmware(HIGH)
    s["takeover-other-device"] = header(vcpus=2, pred=predecessor(
        flags=PRED_DECODING | PRED_MISMATCH, slots=inflight[:2])) + firmware(LOW)
    s["takeover-server-gone"] = header(vcpus=2, pred=predecessor(
        flags=PRED_DECODING | PRED_SERVER_GONE, slots=inflight[:2])) + firmware(LOW)
    s["takeover-garbage-lock"] = header(vcpus=1, pred=predecessor(
        flags=PRED_DECODING | PRED_GARBAGE, slots=inflight[:1], junk=b"server 3\nconfig 00zz"))
    s["takeover-disabled-unclaimed"] = header(vcpus=1, pred=predecessor(
        flags=PRED_DECODING | PRED_DISABLED | PRED_NO_PCIDEV, slots=inflight[2:3])) + \
        mmio(0x10, 2, False)
    s["takeover-setup-fails"] = header(mode=LEND, vcpus=2, setup_fail=(6, 0),
                                       pred=predecessor(slots=inflight[:2]))
    s["broken-xen-no-vcpus"] = header(broken=0x00)
    s["broken-xen-too-many-vcpus"] = header(broken=0x40)
    s["broken-xen-no-event-channel"] = header(vcpus=3, broken=0x81)
    return s


# ---------------------------------------------------------------- fuzz_config
# flags (bit 7 raw params, bit 6 no callback, bit 0 mode, bit 1 lost-zero),
# BAR size exponent - 12, class u32, resident shift, IDs; then accesses:
# op (bit 0 write, bit 1 callback fails, bit 2 positive rc, bits 3-4 size
# 1/2/4/raw, bit 5 16-bit offset), offset, [raw size], [value u32, rc byte].
def cfg_params(exp, flags=0, class_code=0x058000, resident_shift=0):
    return u8(flags) + u8(exp - 12) + u32(class_code) + u8(resident_shift) + \
        u16(0x5853) + u16(0x1E4D) + u16(0x5853) + u16(0x1E4D) + u8(1)


def cw(reg, size, val, fail=False, positive=False, rc=5):
    idx = {1: 0, 2: 1, 4: 2}.get(size, 3)
    o = 1 | (2 if fail else 0) | (4 if positive else 0) | idx << 3 | (0x20 if reg > 0xFF else 0)
    out = u8(o) + (u16(reg) if reg > 0xFF else u8(reg))
    if idx == 3:
        out += u8(size)
    return out + u32(val) + u8(rc)


def cr(reg, size):
    idx = {1: 0, 2: 1, 4: 2}.get(size, 3)
    o = idx << 3 | (0x20 if reg > 0xFF else 0)
    out = u8(o) + (u16(reg) if reg > 0xFF else u8(reg))
    if idx == 3:
        out += u8(size)
    return out


def sizing(base):
    return (cw(0x10, 4, 0xFFFFFFFF) + cr(0x10, 4) + cw(0x14, 4, 0xFFFFFFFF) + cr(0x14, 4) +
            cw(0x10, 4, base & 0xFFFFFFFF) + cw(0x14, 4, base >> 32) + cw(0x04, 2, 0x0006) +
            cr(0x04, 2) + cr(0x10, 4) + cr(0x14, 4))


def config_seeds():
    s = {}
    for exp, base in ((12, 0xFEBF0000), (16, 0xE0000), (28, 0xC0000000), (32, 0x100000000),
                      (34, 0x400000000), (40, 0x10000000000)):
        s["sizing-%d" % exp] = cfg_params(exp) + sizing(base)
    s["move-while-decoding"] = cfg_params(16) + sizing(0xE0000) + cw(0x10, 4, 0xD0000) + \
        cw(0x10, 4, 0xC0000, fail=True) + cw(0x14, 4, 1, fail=True, positive=True, rc=1) + \
        cw(0x14, 4, 1) + cw(0x04, 2, 0, fail=True) + cw(0x04, 2, 0) + cw(0x10, 4, 0xFFFFFFFF) + \
        cw(0x14, 4, 0xFFFFFFFF) + cw(0x04, 2, 6)
    s["byte-writes"] = cfg_params(20) + cw(0x04, 1, 0x06) + b"".join(
        cw(0x10 + i, 1, 0xFF) for i in range(8)) + b"".join(cr(0x10 + i, 1) for i in range(8)) + \
        cw(0x12, 2, 0x1234) + cw(0x16, 2, 0x8000) + cw(0x05, 1, 0xFF)
    s["read-only"] = cfg_params(24, flags=3) + cw(0x00, 4, 0xFFFFFFFF) + cw(0x08, 4, 0) + \
        cw(0x0C, 4, 0xFFFFFFFF) + cw(0x2C, 4, 0) + cw(0x34, 1, 0) + cw(0x3C, 4, 0xFFFFFFFF) + \
        b"".join(cw(0x40 + 4 * i, 4, 0xFFFFFFFF) for i in range(6)) + cw(0x06, 2, 0xFFFF)
    s["invalid-accesses"] = cfg_params(16) + cr(0x01, 2) + cr(0x02, 4) + cr(0xFE, 4) + \
        cr(0x100, 1) + cr(0xFFFF, 4) + cr(0x10, 3) + cr(0x10, 8) + cr(0x10, 0) + \
        cw(0x11, 4, 0) + cw(0x10, 8, 0) + cw(0x100, 4, 0) + cw(0x04, 0, 6)
    s["raw-params"] = u8(0x80) + u8(0x40) + u64(3 << 20) + u32(0x1000000) + u64(0) + u8(2) + \
        u16(2) + u16(0) * 4 + u8(0)
    s["raw-params-ok"] = u8(0x80) + u8(16) + u32(0x058000) + u64(0x8000) + u8(1) + u16(1) + \
        u16(1) * 4 + u8(0) + sizing(0xE0000)
    s["no-callback"] = u8(0x40) + u8(4) + u32(0) + u8(0)
    return s


# ---------------------------------------------------------------- fuzz_options
def argv(*args, errlen=0):
    return bytes([errlen]) + b"\0".join(a.encode() for a in args)


def options_seeds():
    s = {}
    s["typical"] = argv("--domid", "5", "--bdf", "00:1f.0", "--bar-size", "256M", "--backing",
                        "memfd:256M")
    s["everything"] = argv("--domid", "32751", "--bdf", "0001:02:1f.7", "--bar-size", "8G",
                           "--backing", "pci:0000:03:00.0/bar2", "--mode", "lend", "--vendor",
                           "0x1234", "--device", "abcd", "--subsys", "1af4:1100", "--class",
                           "0x030000", "--log-level", "debug", "--syslog", "--ready-fd", "3",
                           "--pidfile", "/run/x.pid", "--stats", "/run/x.json", "--runas",
                           "nobody", "--pci-sysfs-path", "/tmp/sys", "--state-dir", "/run/s",
                           "--fault-around", "2M", "--window", "64M", "--on-lost", "fault",
                           "--domain-poll-ms", "60000")
    s["equals-forms"] = argv("--domid=7", "--bar-size=0x1000", "--window=4KiB", "--mode=auto",
                             "--backing=file:/srv/vram.img")
    s["abbreviations"] = argv("--domi", "1", "--bar", "64K", "--fault", "4K", "--win", "8K")
    s["memfd-size"] = argv("--domid", "1", "--backing", "memfd:1G", "--window", "512M")
    s["help"] = argv("--help")
    s["version"] = argv("-V")
    s["short-errlen"] = argv("--domid", "1", "--bar-size", "12K", errlen=7)
    for name, a in {"unknown": ["--domid", "1", "--nope"],
                    "ambiguous": ["--d", "1"],
                    "missing-value": ["--domid"],
                    "flag-value": ["--syslog=1", "--domid", "1"],
                    "stray": ["--domid", "1", "extra"],
                    "dashdash": ["--domid", "1", "--", "--bdf", "0:0.0"],
                    "bad-bdf": ["--domid", "1", "--bdf", "00:20.0"],
                    "bad-window": ["--domid", "1", "--bar-size", "4K", "--window", "8K"],
                    "memfd-small": ["--domid", "1", "--bar-size", "8K", "--backing", "memfd:4K"],
                    "control-chars": ["--domid", "1\n2\x1b[31m"]}.items():
        s[name] = argv(*a)
    return s


# ---------------------------------------------------------------- fuzz_backing_spec
def backing_seeds():
    specs = ["memfd:256M", "memfd:4096", "memfd:0x1000", "memfd:4KiB", "memfd:1T", "memfd:4kB",
             "file:/srv/vram.img", "file:/dev/dri/by-path/x", "pci:0000:03:00.0/bar2",
             "pci:03:00.0/bar0", "pci:ffff:ff:1f.7/bar5", "fd:3", "fd:0x10", "fd:2147483647",
             "memfd:0", "memfd:4097", "memfd:12Q", "memfd:", "file:", "pci:00:20.0/bar0",
             "pci:0000:03:00.0/bar6", "pci:0000:03:00.0", "fd:2", "fd:-1", "nope:1", "", "memfd",
             "file:" + "a" * 4095, "file:" + "a" * 4096, "fd:2147483648", "memfd:17179869184T"]
    return {"%02d" % i: s.encode() for i, s in enumerate(specs)}


# ---------------------------------------------------------------- fuzz_lend_spec
def lend_seeds():
    specs = ["bdf=00:1f.0,size=8G,backing=pci:0000:03:00.0/bar2,mode=auto",
             "size=256M,backing=file:/srv/a,,b.img",
             "size=64K,syslog=on,stats=off,pidfile=/run/x.pid,log-level=debug",
             "state-dir=/tmp/s,size=1G,window=64M,fault-around=2M,on-lost=fault,mode=lend",
             "vendor=1234,device=abcd,subsys=1af4:1100,class=030000,size=4K",
             "backing=memfd:128M,runas=nobody,domain-poll-ms=500,pci-sysfs-path=/tmp/sys",
             "size=4K,syslog=no,stats=/run/s.json,pidfile=off",
             "domid=5", "ready-fd=3", "fault_around=4K", "size=12K", "size=4K,size=8K", "size=",
             "=4K", ",size=4K", "size=4K,", "size=4K,,", "size", "size=4K,window=8K",
             "backing=file:/a,,,,b,,,size=4K", "syslog=maybe"]
    out = {}
    for i, sp in enumerate(specs):
        out["%02d" % i] = bytes([2, 5]) + sp.encode()
    out["env-no-state-dir"] = bytes([0, 9]) + specs[0].encode()
    out["env-long-state-dir"] = bytes([3, 0]) + b"size=4K"
    out["env-bad-domid"] = bytes([0x80, 0x80]) + b"size=4K"
    return out


def control_seeds():
    """fuzz_control: steps of u8 kind (fd kind | 4 access | 8 framed request), then a request
    (48 bytes when framed: magic, version and op replaced/kept) or an access (u32 offset, u8 size
    log2, u8 write, u64 value)."""
    def req(op, off=0, length=0, fd_off=0, flags=0, index=0, fdkind=1):
        body = struct.pack("<IHHIIQQQQ", 0x4C54434C, 1, op, flags, index, off, fd_off, length, 0)
        return bytes([8 | fdkind]) + body

    def acc(off, size_log2, write=0, value=0):
        return bytes([4]) + u32(off) + u8(size_log2) + u8(write) + struct.pack("<Q", value)

    K = 1024
    out = {}
    out["map-read"] = (req(1, 64 * K, 64 * K, 8 * K) + acc(64 * K, 3) + acc(64 * K - 4, 3) +
                       acc(0, 2))
    out["map-ro-write"] = (req(1, 0, 4 * K, 0, 1, fdkind=2) + acc(0, 3, 1, 0x1122334455667788) +
                           acc(0, 3))
    out["map-unmap"] = (req(1, 0, 64 * K) + req(1, 128 * K, 64 * K, 64 * K) + req(2, 0, 256 * K, fdkind=0) +
                        acc(128 * K, 3))
    out["overlap"] = req(1, 0, 64 * K) + req(1, 32 * K, 64 * K) + req(2, 32 * K, 32 * K, fdkind=0)
    out["list-stats"] = (req(1, 0, 4 * K) + req(1, 8 * K, 4 * K) + req(3, fdkind=0) +
                         req(3, index=1, fdkind=0) + req(4, fdkind=0))
    out["cap"] = b"".join(req(1, i * 8 * K, 4 * K) for i in range(9))
    out["garbage"] = bytes([1, 48]) + bytes(range(48)) + bytes([0, 7]) + b"LCTL\x01\x00\x01"
    out["pipe"] = req(1, 0, 4 * K, fdkind=3) + req(3, fdkind=3)
    return out


def main():
    sets = {"fuzz_dispatch": dispatch_seeds(), "fuzz_config": config_seeds(),
            "fuzz_options": options_seeds(), "fuzz_backing_spec": backing_seeds(),
            "fuzz_lend_spec": lend_seeds(), "fuzz_control": control_seeds()}
    only = set(sys.argv[1:])
    for target, seeds in sets.items():
        if only and target not in only:
            continue
        d = os.path.join(ROOT, target)
        if os.path.isdir(d):
            for f in os.listdir(d):
                if f.startswith("seed-"):
                    os.unlink(os.path.join(d, f))
        for name, data in seeds.items():
            write(target, name, data)
        print("%-18s %3d seeds" % (target, len(seeds)))


if __name__ == "__main__":
    main()
