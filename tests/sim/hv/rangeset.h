/* SPDX-License-Identifier: MIT */
/*
 * Xen's rangeset semantics (xen/common/rangeset.c), as ioreq servers use
 * them: inclusive ranges, adjacent and overlapping ranges merge, a limit on
 * the number of (merged) ranges, removal may split a range.
 */
#ifndef XENSIM_RANGESET_H
#define XENSIM_RANGESET_H

#include <stdbool.h>
#include <stdint.h>

/* MAX_NR_IO_RANGES in xen/common/ioreq.c */
#define RANGESET_MAX 256

struct rangeset {
    unsigned int nr;
    struct {
        uint64_t s, e; /* inclusive */
    } r[RANGESET_MAX];
};

void rangeset_init(struct rangeset *rs);
bool rangeset_overlaps(const struct rangeset *rs, uint64_t s, uint64_t e);
/* True if [s, e] lies inside one range (adjacent claims have merged). */
bool rangeset_contains(const struct rangeset *rs, uint64_t s, uint64_t e);
/* Add [s, e]; merges with neighbours. -ENOMEM past RANGESET_MAX ranges. */
int rangeset_add(struct rangeset *rs, uint64_t s, uint64_t e);
/* Remove [s, e], which the caller checked is contained. -ENOMEM if a split would exceed the limit. */
int rangeset_remove(struct rangeset *rs, uint64_t s, uint64_t e);

#endif
