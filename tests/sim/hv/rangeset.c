/* SPDX-License-Identifier: MIT */
#include "rangeset.h"

#include <errno.h>
#include <string.h>

void rangeset_init(struct rangeset *rs)
{
    rs->nr = 0;
}

bool rangeset_overlaps(const struct rangeset *rs, uint64_t s, uint64_t e)
{
    for (unsigned int i = 0; i < rs->nr; i++)
        if (rs->r[i].s <= e && s <= rs->r[i].e)
            return true;
    return false;
}

bool rangeset_contains(const struct rangeset *rs, uint64_t s, uint64_t e)
{
    for (unsigned int i = 0; i < rs->nr; i++)
        if (rs->r[i].s <= s && e <= rs->r[i].e)
            return true;
    return false;
}

/* Ranges are kept sorted and disjoint, with no two adjacent. */
int rangeset_add(struct rangeset *rs, uint64_t s, uint64_t e)
{
    const uint64_t e0 = e;
    unsigned int i, j;

    /* First range that ends at or after s - 1 (i.e. touches or follows [s, e]). */
    for (i = 0; i < rs->nr; i++)
        if (rs->r[i].e == UINT64_MAX || rs->r[i].e + 1 >= s)
            break;
    /* Ranges i..j-1 touch or overlap [s, e]: merge them. */
    for (j = i; j < rs->nr; j++) {
        if (e != UINT64_MAX && rs->r[j].s > e + 1)
            break;
        if (rs->r[j].s < s)
            s = rs->r[j].s;
        if (rs->r[j].e > e)
            e = rs->r[j].e;
    }
    /*
     * Xen's rangeset_add_range() allocates a new range whenever no range
     * overlaps [s, e] or ends right before it, and only then merges it with
     * a range starting right after it: at the limit, that merge is -ENOMEM.
     */
    if (rs->nr == RANGESET_MAX &&
        (j == i || (j == i + 1 && e0 != UINT64_MAX && rs->r[i].s == e0 + 1)))
        return -ENOMEM;
    if (j == i) {
        memmove(&rs->r[i + 1], &rs->r[i], (rs->nr - i) * sizeof(rs->r[0]));
        rs->nr++;
    } else if (j > i + 1) {
        memmove(&rs->r[i + 1], &rs->r[j], (rs->nr - j) * sizeof(rs->r[0]));
        rs->nr -= j - i - 1;
    }
    rs->r[i].s = s;
    rs->r[i].e = e;
    return 0;
}

int rangeset_remove(struct rangeset *rs, uint64_t s, uint64_t e)
{
    for (unsigned int i = 0; i < rs->nr; i++) {
        uint64_t rs_s = rs->r[i].s, rs_e = rs->r[i].e;

        if (!(rs_s <= s && e <= rs_e))
            continue;
        if (rs_s == s && rs_e == e) {
            memmove(&rs->r[i], &rs->r[i + 1], (rs->nr - i - 1) * sizeof(rs->r[0]));
            rs->nr--;
        } else if (rs_s == s) {
            rs->r[i].s = e + 1;
        } else if (rs_e == e) {
            rs->r[i].e = s - 1;
        } else {
            if (rs->nr == RANGESET_MAX)
                return -ENOMEM;
            memmove(&rs->r[i + 1], &rs->r[i], (rs->nr - i) * sizeof(rs->r[0]));
            rs->nr++;
            rs->r[i].e = s - 1;
            rs->r[i + 1].s = e + 1;
        }
        return 0;
    }
    return -ENOENT;
}
