/* SPDX-License-Identifier: MIT */
/*
 * Logging with levels. Messages go to stderr (which the launchers make the
 * domain's log, /var/log/xen/ioreq-lend-NAME.log) or to syslog.
 *
 * Anything a guest can trigger must be logged through log_ratelimited(), so
 * a hostile guest cannot flood dom0's logs.
 */
#ifndef IOREQ_LEND_LOG_H
#define IOREQ_LEND_LOG_H

#include <stdbool.h>
#include <stdint.h>

enum log_level {
    LOG_LVL_ERROR = 0,
    LOG_LVL_WARN,
    LOG_LVL_INFO,
    LOG_LVL_DEBUG,
};

/* Parse "error", "warn", "info", "debug". Returns 0 or -EINVAL. */
int log_level_parse(const char *s, enum log_level *out);
void log_set_level(enum log_level level);
enum log_level log_get_level(void);
/* Prefix every line with this tag, e.g. "ioreq-lend[dom5]". */
void log_set_tag(const char *tag);
/* Send messages to syslog (daemon facility) instead of stderr. */
void log_use_syslog(bool on);

void log_msg(enum log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/*
 * A token bucket per call site: at most `burst` messages, refilled at one per
 * second. Suppressed messages are counted and reported with the next one.
 */
struct log_ratelimit {
    uint64_t last_ns;
    unsigned int tokens;
    unsigned int suppressed;
};
#define LOG_RATELIMIT_BURST 10

void log_ratelimited(struct log_ratelimit *rl, enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

#define log_err(...)   log_msg(LOG_LVL_ERROR, __VA_ARGS__)
#define log_warn(...)  log_msg(LOG_LVL_WARN, __VA_ARGS__)
#define log_info(...)  log_msg(LOG_LVL_INFO, __VA_ARGS__)
#define log_debug(...)                                                                             \
    do {                                                                                           \
        if (log_get_level() >= LOG_LVL_DEBUG)                                                      \
            log_msg(LOG_LVL_DEBUG, __VA_ARGS__);                                                   \
    } while (0)

/* Rate-limited at the call site: one static bucket per use. */
#define log_guest(level, ...)                                                                      \
    do {                                                                                           \
        static struct log_ratelimit rl_;                                                           \
        log_ratelimited(&rl_, level, __VA_ARGS__);                                                 \
    } while (0)

#endif
