/* SPDX-License-Identifier: MIT */
/* What both launchers share besides lend_spec.c and lend_spawn.c (launcher_common.h). */
#include "launcher_common.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

int launcher_daemon_path(const char *given, char *buf, size_t len, char *err, size_t errlen)
{
    char self[PATH_MAX];
    const char *env = getenv(LAUNCHER_ENV_DAEMON);
    ssize_t n;

    if (!given && env && *env)
        given = env;
    if (given) {
        if (snprintf(buf, len, "%s", given) >= (int)len) {
            snprintf(err, errlen, "the daemon's path is too long");
            return -ENAMETOOLONG;
        }
    } else {
        n = readlink("/proc/self/exe", self, sizeof(self) - 1);
        if (n < 0) {
            snprintf(err, errlen, "cannot find our own executable: %s", strerror(errno));
            return -errno;
        }
        self[n] = '\0';
        if (snprintf(buf, len, "%s/ioreq-lend", dirname(self)) >= (int)len) {
            snprintf(err, errlen, "the daemon's path is too long");
            return -ENAMETOOLONG;
        }
    }
    if (access(buf, X_OK) < 0) {
        int rc = -errno;
        snprintf(err, errlen, "cannot run the daemon %s: %s (set %s)", buf, strerror(errno),
                 LAUNCHER_ENV_DAEMON);
        return rc;
    }
    return 0;
}

int launcher_parse_timeout(const char *s, unsigned int *ms)
{
    uint64_t v;

    if (parse_u64(s, 3600, &v) || v == 0)
        return -EINVAL;
    *ms = (unsigned int)v * 1000;
    return 0;
}

/* libxl names its logs after the domain too; a name that would leave the directory cannot. */
static bool usable_in_file_name(const char *name)
{
    if (!name || !*name)
        return false;
    for (const char *p = name; *p; p++) {
        if (*p == '/' || (unsigned char)*p < 0x20 || *p == 0x7f)
            return false;
    }
    return true;
}

/* Which file: 1 with its name in path, 0 for "off", or -errno with err. */
static int domain_log_path(const char *given, const char *domname, char *path, size_t len,
                           char *err, size_t errlen)
{
    const char *dir = getenv(LAUNCHER_ENV_LOG_DIR);
    int n;

    if (given) {
        if (strcmp(given, LAUNCHER_LOG_OFF) == 0)
            return 0;
        n = snprintf(path, len, "%s", given);
    } else {
        dir = dir && *dir ? dir : LAUNCHER_LOG_DIR;
        if (strcmp(dir, LAUNCHER_LOG_OFF) == 0)
            return 0;
        if (!usable_in_file_name(domname))
            return err_fmt(err, errlen, -EINVAL, "the domain's name '%.64s' cannot name a file",
                           domname ? domname : "");
        n = snprintf(path, len, "%s/ioreq-lend-%s.log", dir, domname);
    }
    if (n < 0 || (size_t)n >= len)
        return err_fmt(err, errlen, -ENAMETOOLONG, "the log's path is too long");
    return 1;
}

/*
 * As libxl_create_logfile() rotates /var/log/xen/qemu-dm-NAME.log: path.10
 * goes, path.N becomes path.N+1, path becomes path.1; a missing generation is
 * no error. Only a regular file: a fifo or a device given as the log is
 * written to, never renamed.
 */
static int rotate_log(const char *path, char *err, size_t errlen)
{
    char from[PATH_MAX + 8], to[PATH_MAX + 8];
    struct stat st;

    if (lstat(path, &st) < 0)
        return errno == ENOENT
                   ? 0
                   : err_fmt(err, errlen, -errno, "cannot rotate %s: %s", path, strerror(errno));
    if (!S_ISREG(st.st_mode))
        return 0;
    snprintf(to, sizeof(to), "%s.%d", path, LAUNCHER_LOG_GENERATIONS);
    if (unlink(to) < 0 && errno != ENOENT)
        return err_fmt(err, errlen, -errno, "cannot rotate %s: removing %s: %s", path, to,
                       strerror(errno));
    for (int i = LAUNCHER_LOG_GENERATIONS - 1; i >= 0; i--) {
        if (i)
            snprintf(from, sizeof(from), "%s.%d", path, i);
        else
            snprintf(from, sizeof(from), "%s", path);
        snprintf(to, sizeof(to), "%s.%d", path, i + 1);
        if (rename(from, to) < 0 && errno != ENOENT)
            return err_fmt(err, errlen, -errno, "cannot rotate %s: renaming %s: %s", path, from,
                           strerror(errno));
    }
    return 0;
}

/* A warning about the daemons' log, one line, then the log is off. */
static int __attribute__((format(printf, 2, 3))) log_warning(const char *prog, const char *fmt, ...)
{
    va_list ap;
    char line[768];

    va_start(ap, fmt);
    vsnprintf(line, sizeof(line), fmt, ap);
    va_end(ap);
    launcher_say(prog, "warning: %s", line);
    return -1;
}

int launcher_open_domain_log(const char *prog, const char *given, const char *domname, char *path,
                             size_t len)
{
    char err[PATH_MAX + 128], rot[PATH_MAX + 128] = "";
    int fd, rc;

    rc = domain_log_path(given, domname, path, len, err, sizeof(err));
    if (rc <= 0) {
        path[0] = '\0';
        return rc == 0 ? -1 : log_warning(prog, "%s: the daemons log here instead", err);
    }
    /* A log that cannot be rotated is still appended to: the warning says so. */
    rotate_log(path, rot, sizeof(rot));
    fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, LAUNCHER_LOG_MODE);
    if (fd < 0) {
        rc = errno;
        snprintf(err, sizeof(err), "%s", path);
        path[0] = '\0';
        return log_warning(prog, "cannot open the daemons' log %s: %s: they log here instead", err,
                           strerror(rc));
    }
    /* Our own stdio may have been closed; the daemons' 1 and 2 are dup2()ed from this fd. */
    if (fd < 3) {
        int hi = fcntl(fd, F_DUPFD_CLOEXEC, 3);

        close(fd);
        if (hi < 0) {
            path[0] = '\0';
            return log_warning(prog, "cannot keep the daemons' log open: %s: they log here instead",
                               strerror(errno));
        }
        fd = hi;
    }
    if (rot[0])
        launcher_say(prog, "warning: %s: appending to it", rot);
    return fd;
}

void launcher_vsay(const char *prog, const char *fmt, va_list ap)
{
    char line[1024];

    vsnprintf(line, sizeof(line), fmt, ap);
    for (char *p = line; *p; p++) {
        if ((unsigned char)*p < 0x20 || *p == 0x7f)
            *p = '?';
    }
    fprintf(stderr, "%s: %s\n", prog, line);
}

void launcher_say(const char *prog, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    launcher_vsay(prog, fmt, ap);
    va_end(ap);
}
