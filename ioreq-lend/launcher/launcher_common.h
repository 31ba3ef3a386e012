/* SPDX-License-Identifier: MIT */
/* What ioreq-lend-qemu and ioreq-lend-xl-create share besides lend_spec and lend_spawn. */
#ifndef IOREQ_LEND_LAUNCHER_COMMON_H
#define IOREQ_LEND_LAUNCHER_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* Exit statuses of the launchers. */
#define LAUNCHER_EXIT_FAILED    1 /* a daemon (or QEMU, or xl) did not start */
#define LAUNCHER_EXIT_BAD_INPUT 2 /* bad arguments or lend specs: nothing was started */

/* Environment: where the daemon is, and the default --state-dir. */
#define LAUNCHER_ENV_DAEMON    "IOREQ_LEND_DAEMON"
#define LAUNCHER_ENV_STATE_DIR "IOREQ_LEND_STATE_DIR"

/*
 * The daemon's path: `given` if not NULL, else $IOREQ_LEND_DAEMON, else
 * "ioreq-lend" next to our own executable (both are installed in the same
 * libexec directory, and sit side by side in build/). Returns 0 or -errno
 * with one line in err.
 */
int launcher_daemon_path(const char *given, char *buf, size_t len, char *err, size_t errlen);

/* Parse a timeout in seconds (1..3600) into milliseconds. 0 or -EINVAL. */
int launcher_parse_timeout(const char *s, unsigned int *ms);

/*
 * "PROG: MESSAGE" as one line on stderr, control characters shown as '?': a
 * message may quote a spec or an argument, and must stay one line in the
 * device-model log.
 */
void launcher_vsay(const char *prog, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));

#endif
