/* SPDX-License-Identifier: MIT */
/*
 * For the unit tests that check a path leaks no file descriptor: how many this
 * process has open now. Include after <cmocka.h>.
 */
#ifndef TESTS_UNIT_OPEN_FDS_H
#define TESTS_UNIT_OPEN_FDS_H

#include <dirent.h>

static inline int count_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    struct dirent *e;
    int n = 0;

    assert_non_null(d);
    while ((e = readdir(d)))
        n += e->d_name[0] != '.';
    closedir(d);
    return n;
}

#endif
