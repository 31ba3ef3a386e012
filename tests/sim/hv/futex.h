/* SPDX-License-Identifier: MIT */
/*
 * Futex wait/wake on a 32-bit word: a vCPU blocks on its wake counter like
 * a Xen vCPU blocks on its ioreq event channel. Both are plain system calls,
 * safe to use from a signal handler (a vCPU touching a revoked lent page
 * sends its ACCESS request from its SIGBUS handler). Not the private
 * variants: a device model process wakes a vCPU through the shared page.
 */
#ifndef XENSIM_FUTEX_H
#define XENSIM_FUTEX_H

#include <errno.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Wait while *word == expected, at most timeout_ms. Returns 0, or -ETIMEDOUT / -EAGAIN / -EINTR. */
static inline int futex_wait_ms(atomic_uint *word, unsigned int expected, unsigned int timeout_ms)
{
    struct timespec ts = {.tv_sec = timeout_ms / 1000,
                          .tv_nsec = (long)(timeout_ms % 1000) * 1000000L};
    long rc = syscall(SYS_futex, (uint32_t *)word, FUTEX_WAIT, expected, &ts, NULL, 0);

    return rc == 0 ? 0 : -errno;
}

static inline void futex_wake_all(atomic_uint *word)
{
    syscall(SYS_futex, (uint32_t *)word, FUTEX_WAKE, INT32_MAX, NULL, NULL, 0);
}

#endif
