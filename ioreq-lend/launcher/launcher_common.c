/* SPDX-License-Identifier: MIT */
/* What both launchers share besides lend_spec.c and lend_spawn.c (launcher_common.h). */
#include "launcher_common.h"

#include <errno.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
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
