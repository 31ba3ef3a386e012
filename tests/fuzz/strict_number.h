/* SPDX-License-Identifier: MIT */
/*
 * Reference parsers for the grammars the daemon documents, written from the
 * documentation and not from util.c, for differential checks:
 *
 *   NUMBER  decimal digits, or 0x / 0X and hex digits; nothing before or after
 *           (no sign, no blank), and no more than 2^64 - 1
 *   SIZE    a NUMBER, then optionally K, M, G or T (either case: powers of
 *           1024), then optionally 'i', then optionally 'B' ("4K", "4KB", "4KiB")
 *   BDF     [SSSS:]BB:DD.F in hex digits: segment 1-4 digits, bus 1-2, device
 *           1-2 and <= 0x1f, function 1 digit and <= 7
 */
#ifndef IOREQ_LEND_FUZZ_STRICT_NUMBER_H
#define IOREQ_LEND_FUZZ_STRICT_NUMBER_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

static inline int strict_digit(char c, unsigned int base)
{
    int d = c >= '0' && c <= '9'   ? c - '0'
            : c >= 'a' && c <= 'f' ? c - 'a' + 10
            : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                   : 99;

    return d < (int)base ? d : -1;
}

/* Reads a NUMBER at *s; returns 0 and advances *s, or -1. */
static inline int strict_number_at(const char **s, uint64_t *out)
{
    const char *p = *s;
    unsigned int base = 10;
    unsigned __int128 v = 0;
    int n = 0, d;

    if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
        base = 16;
        p += 2;
    }
    for (; (d = strict_digit(*p, base)) >= 0; p++, n++) {
        v = v * base + (unsigned int)d;
        if (v > UINT64_MAX)
            return -1;
    }
    if (n == 0)
        return -1;
    *s = p;
    *out = (uint64_t)v;
    return 0;
}

static inline int __attribute__((unused)) strict_u64(const char *s, uint64_t *out)
{
    return strict_number_at(&s, out) == 0 && *s == '\0' ? 0 : -1;
}

static inline int __attribute__((unused)) strict_size(const char *s, uint64_t *out)
{
    static const char units[] = "kmgt";
    const char *u;
    unsigned int shift = 0;
    uint64_t v;

    if (strict_number_at(&s, &v))
        return -1;
    if (*s && (u = strchr(units, *s | 0x20)) != NULL && (*s | 0x20) >= 'a') {
        shift = 10 * (unsigned int)(u - units + 1);
        s++;
        if (*s == 'i')
            s++;
        if (*s == 'B')
            s++;
    }
    if (*s != '\0')
        return -1;
    if (shift && v > (UINT64_MAX >> shift))
        return -1;
    *out = v << shift;
    return 0;
}

/* n hex digits exactly at p (min..max), value out; returns the count or -1. */
static inline int strict_hex_run(const char *p, int min, int max, unsigned int *out)
{
    int n = 0, d;
    unsigned int v = 0;

    while ((d = strict_digit(p[n], 16)) >= 0) {
        if (n == max)
            return -1;
        v = v * 16 + (unsigned int)d;
        n++;
    }
    if (n < min)
        return -1;
    *out = v;
    return n;
}

static inline int __attribute__((unused))
strict_bdf(const char *s, uint16_t *seg, uint8_t *bus, uint8_t *dev, uint8_t *fn)
{
    unsigned int f[4];
    int n, parts = 0;
    const char *p = s;

    /* Count the colons to know the form. */
    for (const char *q = s; *q; q++)
        parts += *q == ':';
    if (parts != 1 && parts != 2)
        return -1;
    if (parts == 2) {
        if ((n = strict_hex_run(p, 1, 4, &f[0])) < 0 || p[n] != ':')
            return -1;
        p += n + 1;
    } else {
        f[0] = 0;
    }
    if ((n = strict_hex_run(p, 1, 2, &f[1])) < 0 || p[n] != ':')
        return -1;
    p += n + 1;
    if ((n = strict_hex_run(p, 1, 2, &f[2])) < 0 || p[n] != '.' || f[2] > 0x1f)
        return -1;
    p += n + 1;
    if ((n = strict_hex_run(p, 1, 1, &f[3])) < 0 || p[n] != '\0' || f[3] > 7)
        return -1;
    *seg = (uint16_t)f[0];
    *bus = (uint8_t)f[1];
    *dev = (uint8_t)f[2];
    *fn = (uint8_t)f[3];
    return 0;
}

#endif
