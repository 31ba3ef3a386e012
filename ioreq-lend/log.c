/* SPDX-License-Identifier: MIT */
/* Owns the log (log.h): levels, stderr or syslog, and the rate limit on guest-triggered lines. */
#include "log.h"
#include "util.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <syslog.h>
#include <time.h>

/* Process-wide by nature: stderr and syslog are process-wide too. */
static enum log_level current_level = LOG_LVL_INFO;
static char log_tag[64] = "ioreq-lend";
static bool to_syslog;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int log_level_parse(const char *s, enum log_level *out)
{
    for (unsigned int i = 0; i < sizeof(level_names) / sizeof(level_names[0]); i++) {
        if (strcmp(s, level_names[i]) == 0) {
            *out = (enum log_level)i;
            return 0;
        }
    }
    return -EINVAL;
}

void log_set_level(enum log_level level)
{
    current_level = level;
}

enum log_level log_get_level(void)
{
    return current_level;
}

void log_set_tag(const char *tag)
{
    snprintf(log_tag, sizeof(log_tag), "%s", tag);
}

void log_use_syslog(bool on)
{
    if (on && !to_syslog)
        openlog(log_tag, LOG_PID, LOG_DAEMON);
    else if (!on && to_syslog)
        closelog();
    to_syslog = on;
}

static void log_vmsg(enum log_level level, const char *fmt, va_list ap)
{
    static const int syslog_prio[] = {LOG_ERR, LOG_WARNING, LOG_INFO, LOG_DEBUG};
    char line[1024];

    if (level > current_level)
        return;
    vsnprintf(line, sizeof(line), fmt, ap);
    if (to_syslog) {
        syslog(syslog_prio[level], "%s", line);
        return;
    }
    /* One fprintf per line so lines from several processes do not interleave. */
    fprintf(stderr, "%s: %s: %s\n", log_tag, level_names[level], line);
}

void log_msg(enum log_level level, const char *fmt, ...)
{
    va_list ap;

    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
}

static uint64_t monotonic_ns(void)
{
    struct timespec ts;

    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void log_ratelimited(struct log_ratelimit *rl, enum log_level level, const char *fmt, ...)
{
    va_list ap;
    uint64_t now;

    if (level > current_level)
        return;
    now = monotonic_ns();
    if (rl->last_ns == 0) {
        rl->tokens = LOG_RATELIMIT_BURST;
        rl->last_ns = now;
    } else if (now - rl->last_ns >= 1000000000ULL) {
        uint64_t refill = (now - rl->last_ns) / 1000000000ULL;
        rl->tokens = (unsigned int)MIN((uint64_t)LOG_RATELIMIT_BURST, rl->tokens + refill);
        rl->last_ns += refill * 1000000000ULL;
    }
    if (rl->tokens == 0) {
        rl->suppressed++;
        return;
    }
    rl->tokens--;
    if (rl->suppressed) {
        log_msg(level, "(%u similar messages suppressed)", rl->suppressed);
        rl->suppressed = 0;
    }
    va_start(ap, fmt);
    log_vmsg(level, fmt, ap);
    va_end(ap);
}
