/* SPDX-License-Identifier: MIT */
/* A bitmap with summary levels (bitmap.h). */
#include "bitmap.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define WORD_BITS 64
#define NONE      UINT64_MAX

static uint64_t words_of(uint64_t bits)
{
    return (bits + WORD_BITS - 1) / WORD_BITS;
}

/* Bits [lo, hi) of one word, 0 <= lo < hi <= 64. */
static uint64_t mask_of(unsigned int lo, unsigned int hi)
{
    uint64_t m = hi == WORD_BITS ? ~0ULL : (1ULL << hi) - 1;

    return m & ~((1ULL << lo) - 1);
}

int bitmap_init(struct bitmap *b, uint64_t nbits)
{
    memset(b, 0, sizeof(*b));
    if (nbits == 0)
        return -EINVAL;
    b->nbits = nbits;
    for (uint64_t bits = nbits;; bits = words_of(bits)) {
        if (b->levels == BITMAP_MAX_LEVELS) {
            bitmap_free(b);
            return -EINVAL;
        }
        b->lv_bits[b->levels] = bits;
        b->lv[b->levels] = calloc(words_of(bits), sizeof(uint64_t));
        if (!b->lv[b->levels]) {
            bitmap_free(b);
            return -ENOMEM;
        }
        b->levels++;
        if (words_of(bits) == 1)
            return 0;
    }
}

void bitmap_free(struct bitmap *b)
{
    for (unsigned int k = 0; k < BITMAP_MAX_LEVELS; k++)
        free(b->lv[k]);
    memset(b, 0, sizeof(*b));
}

bool bitmap_test(const struct bitmap *b, uint64_t i)
{
    return i < b->nbits && (b->lv[0][i / WORD_BITS] >> (i % WORD_BITS) & 1);
}

/* Word w of level k went from zero to non-zero or back: tell the levels above. */
static void summary_update(struct bitmap *b, unsigned int k, uint64_t w, bool nonzero)
{
    for (k++; k < b->levels; k++) {
        uint64_t *word = &b->lv[k][w / WORD_BITS], bit = 1ULL << (w % WORD_BITS);
        bool was_zero = *word == 0;

        if (nonzero)
            *word |= bit;
        else
            *word &= ~bit;
        /* Only a word that changed between zero and non-zero concerns the level above. */
        if (was_zero == (*word == 0))
            return;
        w /= WORD_BITS;
    }
}

/* Apply `mask` to word w of level 0: set or clear. Returns the bits that changed. */
static unsigned int word_apply(struct bitmap *b, uint64_t w, uint64_t mask, bool set)
{
    uint64_t old = b->lv[0][w], new = set ? old | mask : old & ~mask;

    if (old == new)
        return 0;
    b->lv[0][w] = new;
    if ((old == 0) != (new == 0))
        summary_update(b, 0, w, new != 0);
    return (unsigned int)__builtin_popcountll(old ^ new);
}

/* [first, first + n) clipped to the map: its end (first < nbits). */
static uint64_t range_end(const struct bitmap *b, uint64_t first, uint64_t n)
{
    return n > b->nbits - first ? b->nbits : first + n;
}

/* Where a range ending at `end` stops inside word w: a bit index, WORD_BITS for all of it. */
static unsigned int word_end(uint64_t w, uint64_t end)
{
    return end - w * WORD_BITS >= WORD_BITS ? WORD_BITS : (unsigned int)(end - w * WORD_BITS);
}

uint64_t bitmap_set_range(struct bitmap *b, uint64_t first, uint64_t n)
{
    uint64_t end, changed = 0;

    if (first >= b->nbits)
        return 0;
    end = range_end(b, first, n);
    for (uint64_t i = first; i < end;) {
        uint64_t w = i / WORD_BITS;
        unsigned int lo = i % WORD_BITS, hi = word_end(w, end);

        changed += word_apply(b, w, mask_of(lo, hi), true);
        i = w * WORD_BITS + hi;
    }
    b->set += changed;
    return changed;
}

uint64_t bitmap_clear_range(struct bitmap *b, uint64_t first, uint64_t n)
{
    uint64_t end, changed = 0;

    if (first >= b->nbits)
        return 0;
    end = range_end(b, first, n);
    /* Jump from set bit to set bit: the work follows what is set, not the range. */
    for (uint64_t i = bitmap_next_set(b, first); i < end; i = bitmap_next_set(b, i)) {
        uint64_t w = i / WORD_BITS;
        unsigned int lo = i % WORD_BITS, hi = word_end(w, end);

        changed += word_apply(b, w, mask_of(lo, hi), false);
        i = w * WORD_BITS + hi;
        if (i >= b->nbits)
            break;
    }
    b->set -= changed;
    return changed;
}

void bitmap_clear_all(struct bitmap *b)
{
    bitmap_clear_range(b, 0, b->nbits);
}

uint64_t bitmap_count_range(const struct bitmap *b, uint64_t first, uint64_t n)
{
    uint64_t end, count = 0;

    if (first >= b->nbits)
        return 0;
    end = range_end(b, first, n);
    for (uint64_t i = first; i < end;) {
        uint64_t w = i / WORD_BITS;
        unsigned int lo = i % WORD_BITS, hi = word_end(w, end);

        count += (uint64_t)__builtin_popcountll(b->lv[0][w] & mask_of(lo, hi));
        i = w * WORD_BITS + hi;
    }
    return count;
}

/* The first set bit of level k at or after `from`, or NONE. */
static uint64_t next_set_level(const struct bitmap *b, unsigned int k, uint64_t from)
{
    uint64_t w, bits;

    if (from >= b->lv_bits[k])
        return NONE;
    w = from / WORD_BITS;
    bits = b->lv[k][w] & ~((1ULL << (from % WORD_BITS)) - 1);
    if (!bits) {
        /* The top level is one word: nothing further. */
        if (k + 1 == b->levels)
            return NONE;
        w = next_set_level(b, k + 1, w + 1);
        if (w == NONE)
            return NONE;
        bits = b->lv[k][w];
    }
    return w * WORD_BITS + (uint64_t)__builtin_ctzll(bits);
}

uint64_t bitmap_next_set(const struct bitmap *b, uint64_t from)
{
    uint64_t i = next_set_level(b, 0, from);

    return i == NONE || i >= b->nbits ? b->nbits : i;
}

uint64_t bitmap_next_clear(const struct bitmap *b, uint64_t from, uint64_t limit)
{
    if (limit > b->nbits)
        limit = b->nbits;
    for (uint64_t i = from; i < limit;) {
        uint64_t w = i / WORD_BITS, bits = ~b->lv[0][w] & ~((1ULL << (i % WORD_BITS)) - 1);

        if (bits) {
            i = w * WORD_BITS + (uint64_t)__builtin_ctzll(bits);
            return i < limit ? i : limit;
        }
        i = (w + 1) * WORD_BITS;
    }
    return limit;
}
