/* SPDX-License-Identifier: MIT */
/*
 * Reading a fuzz input as a stream of little-endian fields. Past the end every
 * read returns zeros, so any input is a complete (if short) program.
 */
#ifndef IOREQ_LEND_FUZZ_INPUT_H
#define IOREQ_LEND_FUZZ_INPUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct fuzz_input {
    const uint8_t *p;
    size_t n;
};

static inline bool fi_empty(const struct fuzz_input *in)
{
    return in->n == 0;
}

static inline void fi_bytes(struct fuzz_input *in, void *out, size_t len)
{
    size_t k = len < in->n ? len : in->n;

    memcpy(out, in->p, k);
    memset((uint8_t *)out + k, 0, len - k);
    in->p += k;
    in->n -= k;
}

static inline uint8_t fi_u8(struct fuzz_input *in)
{
    uint8_t v;

    fi_bytes(in, &v, 1);
    return v;
}

static inline uint16_t fi_u16(struct fuzz_input *in)
{
    uint8_t b[2];

    fi_bytes(in, b, 2);
    return (uint16_t)(b[0] | b[1] << 8);
}

static inline uint32_t fi_u32(struct fuzz_input *in)
{
    uint8_t b[4];

    fi_bytes(in, b, 4);
    return (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
}

static inline uint64_t fi_u64(struct fuzz_input *in)
{
    uint64_t lo = fi_u32(in);

    return lo | (uint64_t)fi_u32(in) << 32;
}

/* Split off the next len bytes as their own stream (shorter if the input is). */
static inline struct fuzz_input fi_split(struct fuzz_input *in, size_t len)
{
    struct fuzz_input sub = {in->p, len < in->n ? len : in->n};

    in->p += sub.n;
    in->n -= sub.n;
    return sub;
}

#endif
