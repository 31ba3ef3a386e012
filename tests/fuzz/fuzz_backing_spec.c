/* SPDX-License-Identifier: MIT */
/*
 * fuzz_backing_spec: backing_parse() (and the grammars under it,
 * backing_parse_bdf(), parse_size(), parse_u64()) on any string.
 *
 * Properties:
 *  - never crashes; returns 0 or -EINVAL;
 *  - a refusal has a one-line, non-empty message, also when truncated to a
 *    small errlen, and leaves the spec zeroed (fd -1);
 *  - an accepted spec means what the text says, checked with the reference
 *    grammars of strict_number.h: memfd:SIZE (size > 0, a multiple of 4K),
 *    file:PATH (PATH verbatim, shorter than BACKING_PATH_MAX),
 *    pci:[SSSS:]BB:DD.F/barN (N 0..5), fd:N (3..INT_MAX);
 *  - it round-trips: the spec written back canonically parses to the same;
 *  - backing_parse_bdf(), parse_size() and parse_u64() agree with the
 *    reference grammars on the whole input.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "backing.h"
#include "fuzz_check.h"
#include "strict_number.h"
#include "util.h"

static void check_refusal(int rc, const struct backing_spec *s, const char *err, size_t errlen,
                          const char *text)
{
    struct backing_spec zero;

    if (rc != -EINVAL)
        fuzz_fail("backing_parse('%s') returned %d", text, rc);
    if (memchr(err, '\0', errlen) == NULL)
        fuzz_fail("the message is not terminated within errlen");
    if (errlen > 1 && !err[0])
        fuzz_fail("refused '%s' without a message", text);
    if (!fuzz_one_line(err))
        fuzz_fail("the message has a control character: %s", err);
    memset(&zero, 0, sizeof(zero));
    zero.fd = -1;
    if (memcmp(s, &zero, sizeof(zero)))
        fuzz_fail("a refused spec is not left zeroed");
}

static void roundtrip(const struct backing_spec *s)
{
    static char text[BACKING_PATH_MAX + 64];
    struct backing_spec again;
    char err[256];

    switch (s->kind) {
    case BACKING_MEMFD:
        snprintf(text, sizeof(text), "memfd:%llu", (unsigned long long)s->memfd_size);
        break;
    case BACKING_FILE:
        snprintf(text, sizeof(text), "file:%s", s->path);
        break;
    case BACKING_PCI:
        snprintf(text, sizeof(text), "pci:%04x:%02x:%02x.%x/bar%u", s->pci_seg, s->pci_bus,
                 s->pci_dev, s->pci_fn, s->pci_bar);
        break;
    case BACKING_FD:
        snprintf(text, sizeof(text), "fd:%d", s->fd);
        break;
    case BACKING_NONE:
        snprintf(text, sizeof(text), "none");
        break;
    default:
        fuzz_fail("accepted spec of kind %d", (int)s->kind);
    }
    if (backing_parse(text, &again, err, sizeof(err)))
        fuzz_fail("the canonical form '%s' is refused: %s", text, err);
    if (memcmp(&again, s, sizeof(again)))
        fuzz_fail("'%s' does not parse back to the same spec", text);
}

static void check_accepted(const char *text, const struct backing_spec *s)
{
    const char *val = strchr(text, ':');
    uint64_t v;
    uint16_t seg;
    uint8_t bus, dev, fn;
    char bdf[64];
    const char *slash;

    if (s->kind == BACKING_NONE) {
        if (strcmp(text, "none"))
            fuzz_fail("'%s' accepted as none", text);
        roundtrip(s);
        return;
    }
    if (!val)
        fuzz_fail("'%s' accepted without a kind", text);
    val++;
    switch (s->kind) {
    case BACKING_MEMFD:
        if (strncmp(text, "memfd:", 6) || strict_size(val, &v) || v != s->memfd_size || v == 0 ||
            v % 4096)
            fuzz_fail("'%s' accepted as a memfd of %llu bytes", text,
                      (unsigned long long)s->memfd_size);
        break;
    case BACKING_FILE:
        if (strncmp(text, "file:", 5) || !*val || strcmp(val, s->path) ||
            strlen(s->path) >= BACKING_PATH_MAX)
            fuzz_fail("'%s' accepted as file '%s'", text, s->path);
        break;
    case BACKING_PCI:
        slash = strchr(val, '/');
        if (strncmp(text, "pci:", 4) || !slash || (size_t)(slash - val) >= sizeof(bdf))
            fuzz_fail("'%s' accepted as a PCI BAR", text);
        memcpy(bdf, val, (size_t)(slash - val));
        bdf[slash - val] = '\0';
        if (strict_bdf(bdf, &seg, &bus, &dev, &fn) || seg != s->pci_seg || bus != s->pci_bus ||
            dev != s->pci_dev || fn != s->pci_fn || s->pci_bar > 5 || strlen(slash) != 5 ||
            strncmp(slash, "/bar", 4) || slash[4] - '0' != s->pci_bar)
            fuzz_fail("'%s' accepted as pci %04x:%02x:%02x.%x bar %u", text, s->pci_seg, s->pci_bus,
                      s->pci_dev, s->pci_fn, s->pci_bar);
        break;
    case BACKING_FD:
        if (strncmp(text, "fd:", 3) || strict_u64(val, &v) || v != (uint64_t)s->fd || v < 3 ||
            v > INT_MAX)
            fuzz_fail("'%s' accepted as fd %d", text, s->fd);
        break;
    default:
        fuzz_fail("'%s' accepted as kind %d", text, (int)s->kind);
    }
    roundtrip(s);
}

/* The grammars under the spec, on the whole input. */
static void check_grammars(const char *text)
{
    uint16_t seg = 0xaaaa, mseg;
    uint8_t bus = 0xaa, dev = 0xaa, fn = 0xaa, mbus, mdev, mfn;
    uint64_t v = 0, m;
    int rc, want;

    rc = backing_parse_bdf(text, &seg, &bus, &dev, &fn);
    want = strict_bdf(text, &mseg, &mbus, &mdev, &mfn);
    if ((rc == 0) != (want == 0))
        fuzz_fail("backing_parse_bdf('%s') %s it, the BDF grammar %s it", text,
                  rc ? "refuses" : "accepts", want ? "refuses" : "accepts");
    if (rc == 0 && (seg != mseg || bus != mbus || dev != mdev || fn != mfn))
        fuzz_fail("backing_parse_bdf('%s') read %04x:%02x:%02x.%x", text, seg, bus, dev, fn);
    if (rc && (seg != 0xaaaa || bus != 0xaa || dev != 0xaa || fn != 0xaa))
        fuzz_fail("backing_parse_bdf('%s') refused it but wrote its outputs", text);

    rc = parse_size(text, &v);
    want = strict_size(text, &m);
    if ((rc == 0) != (want == 0) || (rc == 0 && v != m))
        fuzz_fail("parse_size('%s'): %d (%llu); the SIZE grammar: %s (%llu)", text, rc,
                  (unsigned long long)v, want ? "refused" : "accepted", (unsigned long long)m);
    if (rc != 0 && rc != -EINVAL && rc != -ERANGE)
        fuzz_fail("parse_size returned %d", rc);

    rc = parse_u64(text, UINT64_MAX, &v);
    want = strict_u64(text, &m);
    if ((rc == 0) != (want == 0) || (rc == 0 && v != m))
        fuzz_fail("parse_u64('%s'): %d (%llu); the NUMBER grammar: %s (%llu)", text, rc,
                  (unsigned long long)v, want ? "refused" : "accepted", (unsigned long long)m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    static struct backing_spec spec, spec2;
    char *text = malloc(len + 1), err[512], *small;
    size_t smalllen = 1 + len % 48;
    int rc, rc2;

    if (!text)
        abort();
    memcpy(text, data, len);
    text[len] = '\0';
    rc = backing_parse(text, &spec, err, sizeof(err));
    if (rc)
        check_refusal(rc, &spec, err, sizeof(err), text);
    else
        check_accepted(text, &spec);
    /* A small error buffer: truncated, still one terminated line. */
    small = malloc(smalllen);
    if (!small)
        abort();
    rc2 = backing_parse(text, &spec2, small, smalllen);
    if (rc2 != rc || memcmp(&spec, &spec2, sizeof(spec)))
        fuzz_fail("the same spec parsed twice gave %d then %d", rc, rc2);
    if (rc2)
        check_refusal(rc2, &spec2, small, smalllen, text);
    check_grammars(text);
    free(small);
    free(text);
    return 0;
}
