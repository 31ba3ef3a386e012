/* SPDX-License-Identifier: MIT */
/*
 * fuzz_control: the control socket's requests (control.c's control_handle())
 * and the guest's accesses (regions.c) against a shadow model, on a 1 MiB
 * window with at most 8 regions.
 *
 * Input: a program of steps, each
 *   u8 kind:  bits 0-1 the fd passed (0 none, 1 a sealed memfd of 1 MiB,
 *             2 a read-only fd on it, 3 a pipe); bit 2: a guest access
 *             follows instead of a request; bit 3: a request of the right
 *             size with the right magic and version (so the fuzzer reaches
 *             the ops): its 48 bytes follow, the first 8 replaced
 *   request:  u8 len, then len bytes of message (up to 64: shorter, exact
 *             and longer than a request); with bit 3, 48 bytes
 *   access:   u32 BAR offset (mod 1 MiB), u8 size (1/2/4/8), u8 write, u64 value
 *
 * Properties:
 *  - every reply is framed (magic, version), has a status that is 0 or a
 *    positive errno, and a one-line message;
 *  - a map succeeds exactly when the shadow says it may (page aligned, 4K to
 *    1 TiB, inside the window, no overlap, fewer than 8 regions, a usable fd
 *    holding the range: the memfd read-write, or read-only with the flag),
 *    and then the shadow gains that region; an unmap succeeds exactly when
 *    the range is valid, holds regions and straddles none, and removes
 *    exactly those; anything refused changes nothing;
 *  - the table stays sorted, non-overlapping, inside the window, and its
 *    counters (regions, bytes) equal the shadow's;
 *  - a guest read returns the memfd's bytes where regions are and zeros in
 *    holes; a write lands in read-write regions only;
 *  - the process holds one fd per region; none is left after
 *    regions_destroy().
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "control.h"
#include "control_client.h"
#include "fuzz_check.h"
#include "fuzz_input.h"
#include "regions.h"

#define WIN  (1ULL << 20)
#define MAXR 8
#define BUF  (1ULL << 20)

static int memfd = -1, rofd = -1, pipefd = -1;
static uint8_t *buf; /* the memfd, as the harness sees it */

struct shadow_region {
    uint64_t off, len, fd_off;
    bool ro;
};

static struct shadow_region shadow[MAXR];
static unsigned int nshadow;

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    char path[64];
    int p[2];

    (void)argc;
    (void)argv;
    memfd = memfd_create("fuzz-region", MFD_CLOEXEC | MFD_ALLOW_SEALING);
    if (memfd < 0 || ftruncate(memfd, (off_t)BUF) < 0 ||
        fcntl(memfd, F_ADD_SEALS, F_SEAL_SHRINK | F_SEAL_GROW) < 0)
        abort();
    buf = mmap(NULL, BUF, PROT_READ | PROT_WRITE, MAP_SHARED, memfd, 0);
    if (buf == MAP_FAILED)
        abort();
    snprintf(path, sizeof(path), "/proc/self/fd/%d", memfd);
    rofd = open(path, O_RDONLY | O_CLOEXEC);
    if (rofd < 0 || pipe2(p, O_CLOEXEC) < 0)
        abort();
    close(p[1]);
    pipefd = p[0];
    return 0;
}

static int count_fds(void)
{
    int n = 0;

    /* The harness holds a handful; regions add at most MAXR. */
    for (int fd = 0; fd < 64; fd++)
        n += fcntl(fd, F_GETFD) >= 0;
    return n;
}

static bool aligned(uint64_t v)
{
    return (v & 4095) == 0;
}

/* What a map must answer, by the shadow; 0 if it may map. */
static bool map_allowed(const struct ctl_request *r, int fdkind)
{
    if (r->flags & ~CTL_MAP_READONLY || r->index)
        return false;
    if (!aligned(r->bar_offset) || !aligned(r->length) || !aligned(r->fd_offset) ||
        r->length == 0 || r->length > CTL_MAX_REGION_LEN || r->bar_offset >= WIN ||
        r->length > WIN - r->bar_offset)
        return false;
    for (unsigned int i = 0; i < nshadow; i++)
        if (shadow[i].off < r->bar_offset + r->length &&
            r->bar_offset < shadow[i].off + shadow[i].len)
            return false;
    if (nshadow >= MAXR)
        return false;
    if (fdkind != 1 && !(fdkind == 2 && (r->flags & CTL_MAP_READONLY)))
        return false;
    return r->fd_offset <= BUF && r->length <= BUF - r->fd_offset;
}

static void shadow_insert(const struct ctl_request *r)
{
    unsigned int i = 0;

    while (i < nshadow && shadow[i].off < r->bar_offset)
        i++;
    memmove(&shadow[i + 1], &shadow[i], (nshadow - i) * sizeof(shadow[0]));
    shadow[i] = (struct shadow_region){r->bar_offset, r->length, r->fd_offset,
                                       (r->flags & CTL_MAP_READONLY) != 0};
    nshadow++;
}

/* An unmap's answer by the shadow: the number of regions removed, or -1 if refused. */
static int unmap_allowed(const struct ctl_request *r)
{
    uint64_t off = r->bar_offset, len = r->length;
    int n = 0;

    if (r->flags || r->index || r->fd_offset || !aligned(off) || !aligned(len) || len == 0 ||
        len > CTL_MAX_REGION_LEN || off >= WIN || len > WIN - off)
        return -1;
    for (unsigned int i = 0; i < nshadow; i++) {
        const struct shadow_region *s = &shadow[i];

        if (s->off + s->len <= off || s->off >= off + len)
            continue;
        if (s->off < off || s->off + s->len > off + len)
            return -1;
        n++;
    }
    return n ? n : -1;
}

static void shadow_remove(uint64_t off, uint64_t len)
{
    unsigned int j = 0;

    for (unsigned int i = 0; i < nshadow; i++)
        if (!(shadow[i].off >= off && shadow[i].off + shadow[i].len <= off + len))
            shadow[j++] = shadow[i];
    nshadow = j;
}

static void check_table(const struct regions *rs, const struct counters *cnt)
{
    uint64_t bytes = 0;

    if (rs->n != nshadow)
        fuzz_fail("%u regions, the shadow has %u", rs->n, nshadow);
    for (unsigned int i = 0; i < rs->n; i++) {
        const struct region *r = &rs->r[i];

        if (r->off != shadow[i].off || r->len != shadow[i].len || r->fd_off != shadow[i].fd_off ||
            r->ro != shadow[i].ro)
            fuzz_fail("region %u is 0x%llx+0x%llx, the shadow's 0x%llx+0x%llx", i,
                      (unsigned long long)r->off, (unsigned long long)r->len,
                      (unsigned long long)shadow[i].off, (unsigned long long)shadow[i].len);
        if (i && rs->r[i - 1].off + rs->r[i - 1].len > r->off)
            fuzz_fail("regions %u and %u overlap or are out of order", i - 1, i);
        bytes += r->len;
    }
    if (rs->mapped_bytes != bytes || cnt->ctl_regions != rs->n || cnt->ctl_mapped_bytes != bytes)
        fuzz_fail("mapped bytes %llu / counters %llu %llu, the regions hold %llu",
                  (unsigned long long)rs->mapped_bytes, (unsigned long long)cnt->ctl_regions,
                  (unsigned long long)cnt->ctl_mapped_bytes, (unsigned long long)bytes);
}

/* The byte the guest must read at BAR offset x, by the shadow. */
static uint8_t expected_byte(uint64_t x)
{
    for (unsigned int i = 0; i < nshadow; i++)
        if (x >= shadow[i].off && x < shadow[i].off + shadow[i].len)
            return buf[shadow[i].fd_off + (x - shadow[i].off)];
    return 0;
}

static const struct shadow_region *region_of(uint64_t x)
{
    for (unsigned int i = 0; i < nshadow; i++)
        if (x >= shadow[i].off && x < shadow[i].off + shadow[i].len)
            return &shadow[i];
    return NULL;
}

static void guest_access(struct regions *rs, struct fuzz_input *in)
{
    uint64_t off = fi_u32(in) % WIN, val = 0, want = 0;
    unsigned int size = 1u << (fi_u8(in) & 3);
    bool write = fi_u8(in) & 1;
    uint64_t v = fi_u64(in);

    if (off + size > WIN)
        off = WIN - size;
    if (write) {
        uint8_t before[8];

        for (unsigned int i = 0; i < size; i++)
            before[i] = expected_byte(off + i);
        regions_write(rs, off, size, v);
        for (unsigned int i = 0; i < size; i++) {
            const struct shadow_region *s = region_of(off + i);
            uint8_t now = expected_byte(off + i),
                    want_b = s && !s->ro ? (uint8_t)(v >> (8 * i)) : before[i];

            if (now != want_b)
                fuzz_fail("a write of 0x%llx at 0x%llx left byte %u 0x%02x, want 0x%02x",
                          (unsigned long long)v, (unsigned long long)off, i, now, want_b);
        }
        return;
    }
    val = regions_read(rs, off, size);
    for (unsigned int i = 0; i < size; i++)
        want |= (uint64_t)expected_byte(off + i) << (8 * i);
    if (val != want)
        fuzz_fail("a read of %u at 0x%llx gave 0x%llx, want 0x%llx", size, (unsigned long long)off,
                  (unsigned long long)val, (unsigned long long)want);
}

static void request(struct regions *rs, struct counters *cnt, struct fuzz_input *in, int kind)
{
    unsigned char msg[64];
    size_t len = kind & 8 ? sizeof(struct ctl_request) : fi_u8(in) % (sizeof(msg) + 1);
    struct ctl_request r;
    struct ctl_reply rep;
    int fdkind = kind & 3, fd = -1, allowed = -2;
    unsigned int before = nshadow;

    memset(msg, 0, sizeof(msg));
    fi_bytes(in, msg, len);
    if (kind & 8) {
        struct ctl_request fix;

        ctl_request_init(&fix, CTL_OP_MAP);
        memcpy(msg, &fix, 6); /* magic and version; the op is the input's */
    }
    memset(&r, 0, sizeof(r));
    memcpy(&r, msg, len < sizeof(r) ? len : sizeof(r));
    if (fdkind == 1)
        fd = dup(memfd);
    else if (fdkind == 2)
        fd = dup(rofd);
    else if (fdkind == 3)
        fd = dup(pipefd);
    control_handle(rs, cnt, msg, len, fd, &rep);
    if (rep.magic != CTL_PROTO_MAGIC || rep.version != CTL_PROTO_VERSION || rep.status < 0 ||
        rep.status > 4095 || !memchr(rep.msg, '\0', sizeof(rep.msg)) || !fuzz_one_line(rep.msg) ||
        !rep.msg[0])
        fuzz_fail("a badly framed reply: status %d, msg '%.*s'", rep.status, (int)sizeof(rep.msg),
                  rep.msg);
    /* What the shadow says, for well-formed requests. */
    bool framed = len == sizeof(r) && r.magic == CTL_PROTO_MAGIC &&
                  r.version == CTL_PROTO_VERSION && r.reserved == 0;
    if (framed && r.op == CTL_OP_MAP) {
        allowed = map_allowed(&r, fdkind) ? 0 : -1;
        if ((allowed == 0) != (rep.status == 0))
            fuzz_fail("map 0x%llx+0x%llx fd_off 0x%llx flags 0x%x fd kind %d: status %d (%s), "
                      "the shadow says %s",
                      (unsigned long long)r.bar_offset, (unsigned long long)r.length,
                      (unsigned long long)r.fd_offset, r.flags, fdkind, rep.status, rep.msg,
                      allowed == 0 ? "yes" : "no");
        if (allowed == 0)
            shadow_insert(&r);
    } else if (framed && r.op == CTL_OP_UNMAP && fd < 0) {
        int n = unmap_allowed(&r);

        if ((n > 0) != (rep.status == 0) || (n > 0 && rep.count != (uint32_t)n))
            fuzz_fail("unmap 0x%llx+0x%llx: status %d count %u (%s), the shadow says %d",
                      (unsigned long long)r.bar_offset, (unsigned long long)r.length, rep.status,
                      rep.count, rep.msg, n);
        if (n > 0)
            shadow_remove(r.bar_offset, r.length);
    } else if (rep.status == 0 &&
               !(framed && (r.op == CTL_OP_LIST || r.op == CTL_OP_STATS) && fd < 0)) {
        fuzz_fail("request op %u len %zu fd kind %d accepted: %s", r.op, len, fdkind, rep.msg);
    }
    if (rep.status && nshadow != before)
        fuzz_fail("a refused request changed the shadow");
    check_table(rs, cnt);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    struct fuzz_input in = {.p = data, .n = len};
    struct regions rs;
    struct counters cnt;
    int fds = count_fds();

    memset(&cnt, 0, sizeof(cnt));
    nshadow = 0;
    /* The memfd's content: a pattern, rewritten per input (guest writes change it). */
    for (uint64_t i = 0; i < BUF; i += 4096)
        buf[i] = (uint8_t)(i >> 12);
    if (regions_init(&rs, WIN, MAXR, &cnt))
        abort();
    for (unsigned int steps = 0; steps < 256 && !fi_empty(&in); steps++) {
        int kind = fi_u8(&in);

        if (kind & 4)
            guest_access(&rs, &in);
        else
            request(&rs, &cnt, &in, kind);
        if (count_fds() != fds + (int)rs.n)
            fuzz_fail("%d fds open with %u regions (%d before)", count_fds(), rs.n, fds);
    }
    regions_destroy(&rs);
    if (count_fds() != fds)
        fuzz_fail("%d fds left after regions_destroy(), %d before", count_fds(), fds);
    return 0;
}
