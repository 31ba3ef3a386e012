/* SPDX-License-Identifier: MIT */
/*
 * Small helpers shared by the daemon and the simulator.
 *
 * Error convention everywhere: functions return 0 (or a non-negative count)
 * on success and a negative errno on failure.
 */
#ifndef IOREQ_LEND_UTIL_H
#define IOREQ_LEND_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

#define container_of(ptr, type, member) ((type *)((char *)(ptr) - offsetof(type, member)))

#define XC_PAGE_SHIFT 12
#define XC_PAGE_SIZE  (1ULL << XC_PAGE_SHIFT)
#define XC_PAGE_MASK  (~(XC_PAGE_SIZE - 1))

#define KiB (1ULL << 10)
#define MiB (1ULL << 20)
#define GiB (1ULL << 30)
#define TiB (1ULL << 40)

#define MIN(a, b) ((a) < (b) ? (a) : (b))
#define MAX(a, b) ((a) > (b) ? (a) : (b))

static inline bool is_power_of_2(uint64_t v)
{
    return v != 0 && (v & (v - 1)) == 0;
}

/* The bits an access of `size` bytes (1, 2, 4 or 8) carries. */
static inline uint64_t size_mask(unsigned int size)
{
    return size >= 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
}

/* Saturating arithmetic for guest-supplied sizes and counts. */
static inline uint64_t sat_add_u64(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_add_overflow(a, b, &r) ? UINT64_MAX : r;
}

static inline uint64_t sat_mul_u64(uint64_t a, uint64_t b)
{
    uint64_t r;
    return __builtin_mul_overflow(a, b, &r) ? UINT64_MAX : r;
}

/* True if [off, off + len) lies inside [0, limit); len 0 is never inside. */
static inline bool range_inside(uint64_t off, uint64_t len, uint64_t limit)
{
    return len != 0 && off < limit && len <= limit - off;
}

/*
 * Parse an unsigned number with an optional K/M/G/T suffix (binary units).
 * Accepts decimal and 0x-prefixed hex. Returns 0 or -EINVAL / -ERANGE.
 */
int parse_size(const char *s, uint64_t *out);

/* The value of hex digit c, or -1 if c is none (no locale, no sign, no blank). */
int hex_digit(char c);

/* Parse a plain unsigned number (decimal or 0x hex) no larger than max. */
int parse_u64(const char *s, uint64_t max, uint64_t *out);

/*
 * The one-line error message of a failed call: format into err (if given),
 * replace control characters (a path or spec may carry a newline) and return
 * rc, so a caller writes `return err_fmt(err, errlen, -EINVAL, "...", ...)`.
 */
int err_fmt(char *err, size_t errlen, int rc, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/*
 * --runas: once every Xen handle is open and restricted to the domain, the
 * daemon (and its memfd keeper) needs no privilege at all; give it up for
 * good, as QEMU's -runas does. 0, or -errno with one line in err.
 */
int drop_privileges(const char *user, char *err, size_t errlen);

/*
 * One message on a SOCK_SEQPACKET socket, passing fd along (SCM_RIGHTS) if
 * it is >= 0; EINTR is retried, SIGPIPE never raised. Returns the bytes
 * sent, or -errno. Used by everything that passes fds over sockets: the
 * memfd keeper and the simulator's transport.
 */
ssize_t msg_send_fd(int sock, const void *buf, size_t len, int fd);
/*
 * Receive one message (recvmsg flags: MSG_DONTWAIT or 0). *fd gets a passed
 * fd (close-on-exec) or -1; any further fds are closed. Returns the bytes
 * received (0 at EOF), or -errno.
 */
ssize_t msg_recv_fd(int sock, void *buf, size_t len, int *fd, int flags);

/* Format a byte count as "256M", "8G", "4096" for messages. */
const char *format_size(uint64_t v, char *buf, size_t len);

#endif
