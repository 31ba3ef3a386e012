/* SPDX-License-Identifier: MIT */
/*
 * A bitmap with summary levels, so that the work of every operation follows
 * the bits that are set, not the size of the map: remap.c keeps one bit per
 * page of a BAR that may be 64 GiB (16M pages) while a window of a few MiB is
 * resident. Level 0 is the bits; a bit of level k+1 says "word w of level k
 * is not zero"; the top level is one word. Finding the next set bit is then
 * a few word reads per level (ctz), as in Linux's find_next_bit over a
 * radix of words; ranges are changed a word at a time (popcount).
 *
 * Memory: 1/64 more than the bits (1/4096 for the level above that...).
 */
#ifndef IOREQ_LEND_BITMAP_H
#define IOREQ_LEND_BITMAP_H

#include <stdbool.h>
#include <stdint.h>

#define BITMAP_MAX_LEVELS 8

struct bitmap {
    uint64_t nbits;
    uint64_t set; /* bits set */
    unsigned int levels;
    uint64_t *lv[BITMAP_MAX_LEVELS];
    uint64_t lv_bits[BITMAP_MAX_LEVELS];
};

/* 0 or -ENOMEM (-EINVAL for 0 bits). Every bit clear. */
int bitmap_init(struct bitmap *b, uint64_t nbits);
void bitmap_free(struct bitmap *b);
bool bitmap_test(const struct bitmap *b, uint64_t i);
/* Set or clear [first, first + n) (clipped to the map): how many bits changed. */
uint64_t bitmap_set_range(struct bitmap *b, uint64_t first, uint64_t n);
uint64_t bitmap_clear_range(struct bitmap *b, uint64_t first, uint64_t n);
/* Clear every bit: work proportional to the words that have a bit set. */
void bitmap_clear_all(struct bitmap *b);
/* Bits set in [first, first + n) (clipped): n / 64 word reads. */
uint64_t bitmap_count_range(const struct bitmap *b, uint64_t first, uint64_t n);
/* The first set bit at or after `from`, or nbits: a few words per level. */
uint64_t bitmap_next_set(const struct bitmap *b, uint64_t from);
/* The first clear bit at or after `from`, or `limit` (<= nbits): (limit - from) / 64 words. */
uint64_t bitmap_next_clear(const struct bitmap *b, uint64_t from, uint64_t limit);

#endif
