/* SPDX-License-Identifier: MIT */
/* Small helpers every part of the daemon and the simulator shares (util.h). */
#include "util.h"

#include <ctype.h>
#include <errno.h>
#include <grp.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

static int parse_number(const char *s, char **end, uint64_t *out)
{
    /*
     * A digit first: strtoull() would also skip any leading white space (tab,
     * newline...) and take a sign, so "\t-4096" would read as 2^64 - 4096.
     */
    if (!s || !isdigit((unsigned char)*s))
        return -EINVAL;
    /* Decimal, or hex with 0x; never octal: "010" is ten, as a user means it. */
    int base = (s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) ? 16 : 10;
    if (base == 16 && !isxdigit((unsigned char)s[2]))
        return -EINVAL;
    errno = 0;
    unsigned long long v = strtoull(s, end, base);
    if (errno == ERANGE)
        return -ERANGE;
    if (*end == s)
        return -EINVAL;
    *out = v;
    return 0;
}

int parse_u64(const char *s, uint64_t max, uint64_t *out)
{
    char *end;
    uint64_t v;
    int rc = parse_number(s, &end, &v);

    if (rc)
        return rc;
    if (*end != '\0')
        return -EINVAL;
    if (v > max)
        return -ERANGE;
    *out = v;
    return 0;
}

int parse_size(const char *s, uint64_t *out)
{
    char *end;
    uint64_t v;
    unsigned int shift = 0;
    int rc = parse_number(s, &end, &v);

    if (rc)
        return rc;
    switch (*end) {
    case '\0':
        break;
    case 'k': case 'K': shift = 10; break;
    case 'm': case 'M': shift = 20; break;
    case 'g': case 'G': shift = 30; break;
    case 't': case 'T': shift = 40; break;
    default:
        return -EINVAL;
    }
    if (shift) {
        end++;
        /* Accept "4K", "4KB", "4KiB". */
        if (*end == 'i')
            end++;
        if (*end == 'B')
            end++;
    }
    if (*end != '\0')
        return -EINVAL;
    if (shift && v > (UINT64_MAX >> shift))
        return -ERANGE;
    *out = v << shift;
    return 0;
}

int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

int err_fmt(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    va_list ap;

    if (!err || errlen == 0)
        return rc;
    va_start(ap, fmt);
    vsnprintf(err, errlen, fmt, ap);
    va_end(ap);
    for (char *p = err; *p; p++)
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    return rc;
}

const char *format_size(uint64_t v, char *buf, size_t len)
{
    static const char units[] = "KMGT";
    unsigned int i = 0;

    while (i < 4 && v >= 1024 && (v & 1023) == 0) {
        v >>= 10;
        i++;
    }
    if (i)
        snprintf(buf, len, "%llu%c", (unsigned long long)v, units[i - 1]);
    else
        snprintf(buf, len, "%llu", (unsigned long long)v);
    return buf;
}

int drop_privileges(const char *user, char *err, size_t errlen)
{
    struct passwd *pw = getpwnam(user);

    if (!pw)
        return err_fmt(err, errlen, -ENOENT, "--runas: no user '%s'", user);
    if (setgroups(0, NULL) < 0 || setgid(pw->pw_gid) < 0 || setuid(pw->pw_uid) < 0)
        return err_fmt(err, errlen, -EPERM, "cannot drop privileges to %s: %s", user,
                       strerror(errno));
    if (pw->pw_uid != 0 && setuid(0) == 0)
        return err_fmt(err, errlen, -EPERM, "dropping privileges to %s did not stick", user);
    return 0;
}

ssize_t msg_send_fd(int sock, const void *buf, size_t len, int fd)
{
    struct iovec iov = {.iov_base = (void *)buf, .iov_len = len};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1};
    ssize_t n;

    if (fd >= 0) {
        memset(&ctl, 0, sizeof(ctl));
        msg.msg_control = ctl.buf;
        msg.msg_controllen = sizeof(ctl.buf);
        struct cmsghdr *cm = CMSG_FIRSTHDR(&msg);
        cm->cmsg_level = SOL_SOCKET;
        cm->cmsg_type = SCM_RIGHTS;
        cm->cmsg_len = CMSG_LEN(sizeof(int));
        memcpy(CMSG_DATA(cm), &fd, sizeof(int));
    }
    do {
        n = sendmsg(sock, &msg, MSG_NOSIGNAL);
    } while (n < 0 && errno == EINTR);
    return n < 0 ? -errno : n;
}

ssize_t msg_recv_fd(int sock, void *buf, size_t len, int *fd, int flags)
{
    struct iovec iov = {.iov_base = buf, .iov_len = len};
    union {
        char buf[CMSG_SPACE(sizeof(int))];
        struct cmsghdr align;
    } ctl;
    struct msghdr msg = {.msg_iov = &iov, .msg_iovlen = 1, .msg_control = ctl.buf,
                         .msg_controllen = sizeof(ctl.buf)};
    ssize_t n;

    *fd = -1;
    do {
        n = recvmsg(sock, &msg, MSG_CMSG_CLOEXEC | flags);
    } while (n < 0 && errno == EINTR);
    if (n < 0)
        return -errno;
    for (struct cmsghdr *cm = CMSG_FIRSTHDR(&msg); cm; cm = CMSG_NXTHDR(&msg, cm)) {
        /* One SCM_RIGHTS message may carry several fds (two fit our buffer's padding). */
        size_t nfds = (cm->cmsg_len - CMSG_LEN(0)) / sizeof(int);

        if (cm->cmsg_level != SOL_SOCKET || cm->cmsg_type != SCM_RIGHTS)
            continue;
        for (size_t i = 0; i < nfds; i++) {
            int got;

            memcpy(&got, CMSG_DATA(cm) + i * sizeof(int), sizeof(int));
            if (*fd < 0)
                *fd = got;
            else
                close(got);
        }
    }
    return n;
}
