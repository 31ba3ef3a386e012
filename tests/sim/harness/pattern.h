/* SPDX-License-Identifier: MIT */
/*
 * Test data as a pure function of a seed and a BAR offset, so any sub-range
 * written with a seed verifies with that seed, whatever access sizes wrote
 * it. The real-Xen guest program uses this same header, which is what lets
 * the fidelity check compare guest-visible data between Xen and the
 * simulator.
 *
 *   byte(seed, off) = little-endian byte (off % 8) of
 *                     splitmix64(seed ^ ((off / 8) * 0x9e3779b97f4a7c15))
 */
#ifndef XENSIM_PATTERN_H
#define XENSIM_PATTERN_H

#include <stdint.h>

static inline uint64_t pattern_splitmix64(uint64_t x)
{
    x += 0x9e3779b97f4a7c15ULL;
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* The 8-byte word at offset word_index * 8. */
static inline uint64_t pattern_word(uint64_t seed, uint64_t word_index)
{
    return pattern_splitmix64(seed ^ (word_index * 0x9e3779b97f4a7c15ULL));
}

/* `size` bytes (1, 2, 4 or 8) at a naturally aligned offset, little-endian. */
static inline uint64_t pattern_value(uint64_t seed, uint64_t off, unsigned int size)
{
    uint64_t w = pattern_word(seed, off / 8);
    unsigned int shift = (unsigned int)(off % 8) * 8;

    if (size >= 8)
        return w;
    return (w >> shift) & ((1ULL << (size * 8)) - 1);
}

static inline uint8_t pattern_byte(uint64_t seed, uint64_t off)
{
    return (uint8_t)pattern_value(seed, off, 1);
}

#endif
