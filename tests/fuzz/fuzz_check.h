/* SPDX-License-Identifier: MIT */
/*
 * A violated property: print it and abort(), which libFuzzer reports as a
 * crash with the input that caused it.
 */
#ifndef IOREQ_LEND_FUZZ_CHECK_H
#define IOREQ_LEND_FUZZ_CHECK_H

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

static void fuzz_fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2), unused));

static void fuzz_fail(const char *fmt, ...)
{
    va_list ap;

    fputs("\n*** PROPERTY VIOLATED: ", stderr);
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fputs("\n", stderr);
    abort();
}

/* One line: no control character (a message goes to a terminal or a log line). */
static int __attribute__((unused)) fuzz_one_line(const char *s)
{
    for (; *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            return 0;
    }
    return 1;
}

#endif
