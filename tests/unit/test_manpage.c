/* SPDX-License-Identifier: MIT */
/*
 * docs/ioreq-lend.8 against the code, so the man page cannot drift: every
 * option ioreq-lend --help lists, every lend spec key, every counter of
 * counters.h with its description, every handled signal, the launchers'
 * options and environment, and the version. Run from the source tree's root
 * (as tests/run-tests.sh does).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "counters.h"
#include "launcher/lend_spec.h"
#include "options.h"

#define MANPAGE "docs/ioreq-lend.8"

static char *page;

static int load(void **state)
{
    FILE *f = fopen(MANPAGE, "r");
    long n;

    (void)state;
    if (!f) {
        fprintf(stderr, "cannot open %s: run from the source tree's root\n", MANPAGE);
        return -1;
    }
    fseek(f, 0, SEEK_END);
    n = ftell(f);
    rewind(f);
    page = calloc(1, (size_t)n + 1);
    if (!page || fread(page, 1, (size_t)n, f) != (size_t)n) {
        fclose(f);
        return -1;
    }
    fclose(f);
    return 0;
}

static int unload(void **state)
{
    (void)state;
    free(page);
    return 0;
}

/* text as roff writes it: every '-' as "\-". */
static void roff(const char *text, char *out, size_t len)
{
    size_t used = 0;

    for (; *text && used + 3 < len; text++) {
        if (*text == '-')
            out[used++] = '\\';
        out[used++] = *text;
    }
    out[used] = '\0';
}

static void must_mention(const char *what, const char *text)
{
    if (!strstr(page, text))
        fail_msg("%s: the man page does not contain \"%s\"", what, text);
}

/* text, not followed by more of a name (so "--stat" is not found in "--stats"). */
static bool mentions_word(const char *text)
{
    size_t len = strlen(text);

    for (const char *p = page; (p = strstr(p, text)) != NULL; p++) {
        char next = p[len];

        if (!(next >= 'a' && next <= 'z') && next != '\\' && next != '_')
            return true;
    }
    return false;
}

static void every_option_of_help(void **state)
{
    char *help = NULL, *p, name[64], want[160];
    size_t len = 0;
    FILE *out = open_memstream(&help, &len);
    unsigned int n = 0;

    (void)state;
    assert_non_null(out);
    options_usage(out);
    fclose(out);
    /* Every "--name" at the start of a help line is an option. */
    for (p = help; (p = strstr(p, "\n  ")) != NULL; p++) {
        const char *o = p + 3;

        if (strncmp(o, "-h, ", 4) == 0 || strncmp(o, "-V, ", 4) == 0)
            o += 4;
        if (strncmp(o, "--", 2) != 0)
            continue;
        snprintf(name, sizeof(name), "%.*s", (int)strcspn(o, " \n"), o);
        roff(name, want, sizeof(want));
        if (!mentions_word(want))
            fail_msg("%s: not in the man page", name);
        n++;
    }
    free(help);
    assert_true(n >= 20);
}

static void every_spec_key(void **state)
{
    const char *key, *option;
    char want[128], text[96];

    (void)state;
    for (size_t i = 0; (key = lend_spec_key(i, &option)) != NULL; i++) {
        snprintf(text, sizeof(text), "%s=", key);
        roff(text, want, sizeof(want));
        if (!strstr(page, want))
            fail_msg("spec key %s is not in LEND SPECS", key);
        /* ...next to the option it sets. */
        snprintf(text, sizeof(text), "--%s", option);
        roff(text, want, sizeof(want));
        must_mention(key, want);
    }
}

static void every_counter_with_its_description(void **state)
{
    static const struct {
        const char *name, *help;
    } counters[] = {
#define X(field, name, help) {name, help},
        DM_COUNTERS(X)
#undef X
    };
    char want[256];

    (void)state;
    for (size_t i = 0; i < sizeof(counters) / sizeof(counters[0]); i++) {
        snprintf(want, sizeof(want), ".B %s\n%s\n", counters[i].name, counters[i].help);
        if (!strstr(page, want))
            fail_msg("counter %s (\"%s\") is not in COUNTERS as .B NAME then its description",
                     counters[i].name, counters[i].help);
    }
}

static void signals_exit_statuses_and_sections(void **state)
{
    static const char *const sections[] = {
        ".SH NAME",        ".SH SYNOPSIS", ".SH OPTIONS",     ".SH LEND SPECS", ".SH SIGNALS",
        ".SH EXIT STATUS", ".SH COUNTERS", ".SH ENVIRONMENT", ".SH FILES",      ".SH SEE ALSO",
    };
    static const char *const signals[] = {"SIGTERM", "SIGINT", "SIGUSR1", "SIGHUP"};

    (void)state;
    for (size_t i = 0; i < sizeof(sections) / sizeof(sections[0]); i++)
        must_mention("section", sections[i]);
    for (size_t i = 0; i < sizeof(signals) / sizeof(signals[0]); i++)
        must_mention("signal", signals[i]);
    must_mention("exit status 0", ".TP\n.B 0\n");
    must_mention("exit status 1", ".TP\n.B 1\n");
    must_mention("exit status 2", ".TP\n.B 2\n");
}

static void launchers_and_environment(void **state)
{
    static const char *const text[] = {
        "\\-ioreq\\-lend \" SPEC\"",
        "\\-ioreq\\-lend\\-qemu \" PATH\"",
        "\\-ioreq\\-lend\\-daemon \" PATH\"",
        "\\-ioreq\\-lend\\-timeout \" SECONDS\"",
        "\\-\\-paused",
        "\\-\\-xl \" PATH\"",
        ".B IOREQ_LEND_QEMU",
        ".B IOREQ_LEND_DAEMON",
        ".B IOREQ_LEND_STATE_DIR",
        ".B IOREQ_LEND_XL",
        ".B IOREQ_LEND_LOG_DIR",
        "\\-ioreq\\-lend\\-log \" FILE\"",
        "\\-\\-log \" FILE\"",
        ".SH LOGS",
        "/var/log/xen/ioreq\\-lend\\-\\fINAME\\fP.log",
        "/usr/libexec/xen\\-qemu\\-system\\-i386",
        "ioreq-lend@",
        "\\-incoming",
    };

    (void)state;
    for (size_t i = 0; i < sizeof(text) / sizeof(text[0]); i++)
        must_mention("launchers", text[i]);
}

static void version(void **state)
{
    (void)state;
    must_mention("version", "\"ioreq-lend " IOREQ_LEND_VERSION "\"");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(every_option_of_help),
        cmocka_unit_test(every_spec_key),
        cmocka_unit_test(every_counter_with_its_description),
        cmocka_unit_test(signals_exit_statuses_and_sections),
        cmocka_unit_test(launchers_and_environment),
        cmocka_unit_test(version),
    };

    return cmocka_run_group_tests_name("manpage", tests, load, unload);
}
