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

/* Environment: where the daemon is, the default --state-dir, the domain logs' directory. */
#define LAUNCHER_ENV_DAEMON    "IOREQ_LEND_DAEMON"
#define LAUNCHER_ENV_STATE_DIR "IOREQ_LEND_STATE_DIR"
#define LAUNCHER_ENV_LOG_DIR   "IOREQ_LEND_LOG_DIR"

/*
 * The daemons' log: LOG_DIR/ioreq-lend-NAME.log, one file per domain, where
 * libxl keeps QEMU's qemu-dm-NAME.log (XEN_LOG_DIR, /var/log/xen on Debian).
 * Created 0644 and rotated at each start as libxl does its own: .log.10 is
 * removed, .log.N becomes .log.N+1, .log becomes .log.1.
 */
#define LAUNCHER_LOG_DIR         "/var/log/xen"
#define LAUNCHER_LOG_MODE        0644
#define LAUNCHER_LOG_GENERATIONS 10
/* A launcher option's or $IOREQ_LEND_LOG_DIR's value: no file, the daemons inherit our stderr. */
#define LAUNCHER_LOG_OFF "off"

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
 * Open the log every daemon of domain `domname` writes to (their stdout and
 * stderr, in append mode). The file is `given` (a launcher option) if not
 * NULL, else $IOREQ_LEND_LOG_DIR (default /var/log/xen) / ioreq-lend-NAME.log;
 * "off" for either means none. A regular file already there is rotated first.
 *
 * Returns a close-on-exec fd, 3 or above, with the file's name in path; or
 * -1 with path empty: "off", or it failed, said in one warning line on
 * stderr -- a log never stops a domain from starting.
 */
int launcher_open_domain_log(const char *prog, const char *given, const char *domname, char *path,
                             size_t len);

/*
 * "PROG: MESSAGE" as one line on stderr, control characters shown as '?': a
 * message may quote a spec or an argument, and must stay one line in the
 * device-model log.
 */
void launcher_vsay(const char *prog, const char *fmt, va_list ap) __attribute__((format(printf, 2, 0)));
void launcher_say(const char *prog, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
