/* SPDX-License-Identifier: MIT */
/*
 * fuzz_lend_spec: lend_spec_parse() (ioreq-lend/launcher/lend_spec.h) on any
 * string, for any domain id and default state directory, in a loop.
 *
 * lend_spec.h promises that "a spec the launcher accepts is a spec the daemon
 * accepts" and that it refuses exactly what the daemon would. The harness
 * checks that differentially: it splits the spec itself (key=value items,
 * ",," for a comma, the documented keys), builds the daemon's argv from the
 * items, and asks the daemon's own options_parse(). Then:
 *  - lend_spec_parse() accepts iff the model does, and its argv is the model's
 *    argv exactly (option, value, order; --stats/--pidfile defaults appended);
 *  - its parsed options equal a fresh options_parse() of its own argv;
 *  - --domid is env->domid, argv is NULL-terminated, argc <= LEND_SPEC_MAX_ARGS;
 *  - a refusal is one non-empty line (also truncated to a small errlen),
 *    and the struct needs no freeing; lend_spec_free() is safe twice.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_check.h"
#include "launcher/lend_spec.h"
#include "options.h"

#define MAX_ITEMS 80

/* The keys whose value is on/off, and those whose value may be "off": lend_spec.h's doc. */
static bool is_bool_key(const char *k)
{
    return strcmp(k, "syslog") == 0;
}

static bool is_path_or_off_key(const char *k)
{
    return strcmp(k, "stats") == 0 || strcmp(k, "pidfile") == 0;
}

static int bool_value(const char *v)
{
    static const char *const yes[] = {"on", "yes", "true", "1"};
    static const char *const no[] = {"off", "no", "false", "0"};

    for (size_t i = 0; i < 4; i++) {
        if (strcmp(v, yes[i]) == 0)
            return 1;
        if (strcmp(v, no[i]) == 0)
            return 0;
    }
    return -1;
}

static const char *option_of(const char *key)
{
    const char *name, *opt;

    for (size_t i = 0; (name = lend_spec_key(i, &opt)) != NULL; i++) {
        if (strcmp(name, key) == 0)
            return opt;
    }
    return NULL;
}

struct model {
    char *argv[LEND_SPEC_MAX_ARGS + 8];
    int argc;
    char opts[MAX_ITEMS][64];
    char *pool; /* unescaped values */
    char stats[LEND_SPEC_PATH_MAX + 64], pidfile[LEND_SPEC_PATH_MAX + 64], domid[16];
};

/* Returns 0 (argv built and accepted by the daemon) or -1 (the spec must be refused). */
static int model_parse(const char *spec, const struct lend_spec_env *env, struct model *m)
{
    bool seen_stats = false, seen_pidfile = false;
    char seen[MAX_ITEMS][64];
    unsigned int nseen = 0, nopts = 0;
    struct dm_options o;
    char err[512];
    const char *p = spec;
    char *q;
    size_t len = strlen(spec);
    int rc;

    m->argc = 0;
    if (len == 0 || len > LEND_SPEC_MAX_LEN || env->domid == 0 || env->domid > OPT_MAX_DOMID)
        return -1;
    m->pool = malloc(len + 1);
    if (!m->pool)
        abort();
    q = m->pool;
    snprintf(m->domid, sizeof(m->domid), "%u", env->domid);
    m->argv[m->argc++] = "ioreq-lend";
    m->argv[m->argc++] = "--domid";
    m->argv[m->argc++] = m->domid;
    if (env->state_dir && *env->state_dir) {
        m->argv[m->argc++] = "--state-dir";
        m->argv[m->argc++] = (char *)(uintptr_t)env->state_dir;
    }
    while (*p) {
        const char *eq = p + strcspn(p, "=,");
        char key[64], *value;
        const char *opt;
        size_t klen = (size_t)(eq - p);

        if (klen == 0 || *eq != '=' || klen >= sizeof(key))
            return -1;
        memcpy(key, p, klen);
        key[klen] = '\0';
        opt = option_of(key);
        if (!opt)
            return -1;
        for (unsigned int i = 0; i < nseen; i++) {
            if (strcmp(seen[i], key) == 0)
                return -1;
        }
        snprintf(seen[nseen++], sizeof(seen[0]), "%s", key);
        p = eq + 1;
        value = q;
        while (*p && !(p[0] == ',' && p[1] != ',')) {
            if (p[0] == ',')
                p++; /* ",," */
            *q++ = *p++;
        }
        *q++ = '\0';
        if (!*value)
            return -1;
        if (*p == ',' && *++p == '\0')
            return -1;
        seen_stats |= strcmp(key, "stats") == 0;
        seen_pidfile |= strcmp(key, "pidfile") == 0;
        if (is_bool_key(key)) {
            int b = bool_value(value);

            if (b < 0)
                return -1;
            if (!b)
                continue;
            value = NULL;
        } else if (is_path_or_off_key(key) && strcmp(value, "off") == 0) {
            continue;
        }
        if (m->argc + (value ? 2 : 1) > LEND_SPEC_MAX_ARGS)
            return -1;
        snprintf(m->opts[nopts], sizeof(m->opts[0]), "--%s", opt);
        m->argv[m->argc++] = m->opts[nopts++];
        if (value)
            m->argv[m->argc++] = value;
    }
    m->argv[m->argc] = NULL;
    rc = options_parse(m->argc, m->argv, &o, err, sizeof(err));
    if (rc != OPTIONS_RUN)
        return -1;
    if (!seen_stats) {
        if ((size_t)snprintf(m->stats, sizeof(m->stats), "%s/dom%u-%04x:%02x:%02x.%x.json",
                             o.state_dir, o.domid, o.pci_seg, o.pci_bus, o.pci_dev,
                             o.pci_fn) >= LEND_SPEC_PATH_MAX ||
            m->argc + 2 > LEND_SPEC_MAX_ARGS)
            return -1;
        m->argv[m->argc++] = "--stats";
        m->argv[m->argc++] = m->stats;
    }
    if (!seen_pidfile) {
        if ((size_t)snprintf(m->pidfile, sizeof(m->pidfile), "%s/dom%u-%04x:%02x:%02x.%x.pid",
                             o.state_dir, o.domid, o.pci_seg, o.pci_bus, o.pci_dev,
                             o.pci_fn) >= LEND_SPEC_PATH_MAX ||
            m->argc + 2 > LEND_SPEC_MAX_ARGS)
            return -1;
        m->argv[m->argc++] = "--pidfile";
        m->argv[m->argc++] = m->pidfile;
    }
    m->argv[m->argc] = NULL;
    return 0;
}

static bool str_eq(const char *a, const char *b)
{
    return a == b || (a && b && strcmp(a, b) == 0);
}

static void check_same_options(const struct dm_options *a, const struct dm_options *b)
{
    if (a->domid != b->domid || a->pci_seg != b->pci_seg || a->pci_bus != b->pci_bus ||
        a->pci_dev != b->pci_dev || a->pci_fn != b->pci_fn || a->bar_size != b->bar_size ||
        a->mode != b->mode || a->vendor_id != b->vendor_id || a->device_id != b->device_id ||
        a->subsys_vendor_id != b->subsys_vendor_id || a->subsys_id != b->subsys_id ||
        a->class_code != b->class_code || a->log_level != b->log_level ||
        a->log_syslog != b->log_syslog || a->ready_fd != b->ready_fd ||
        a->fault_around != b->fault_around || a->window != b->window || a->on_lost != b->on_lost ||
        a->domain_poll_ms != b->domain_poll_ms || !str_eq(a->backing, b->backing) ||
        !str_eq(a->pidfile, b->pidfile) || !str_eq(a->stats_path, b->stats_path) ||
        !str_eq(a->runas, b->runas) || !str_eq(a->pci_sysfs_path, b->pci_sysfs_path) ||
        !str_eq(a->state_dir, b->state_dir))
        fuzz_fail("the spec's parsed options differ from the daemon's parse of its argv");
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len);

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (!freopen("/dev/null", "w", stdout))
        abort();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t len)
{
    static char long_dir[LEND_SPEC_PATH_MAX];
    static struct lend_spec out;
    static struct model m;
    struct lend_spec_env env;
    char err[512], small[24], *spec;
    uint8_t h0, h1;
    int rc, want;

    h0 = len > 0 ? data[0] : 2;
    h1 = len > 1 ? data[1] : 0;
    data += len < 2 ? len : 2;
    len -= len < 2 ? len : 2;
    /* The domain (sometimes out of range) and the default state directory. */
    env.domid = (h0 & 0x80) ? (uint32_t)h1 << 8 | h0 : (uint32_t)(h1 % 200) + 1;
    switch (h0 & 3) {
    case 0:
        env.state_dir = NULL;
        break;
    case 1:
        env.state_dir = "";
        break;
    case 2:
        env.state_dir = "/run/ioreq-lend";
        break;
    default:
        memset(long_dir, 'd', sizeof(long_dir) - 1);
        long_dir[0] = '/';
        long_dir[sizeof(long_dir) - 1 - (h1 % 64)] = '\0';
        env.state_dir = long_dir;
        break;
    }
    spec = malloc(len + 1);
    if (!spec)
        abort();
    memcpy(spec, data, len);
    spec[len] = '\0';

    memset(&m, 0, sizeof(m));
    want = model_parse(spec, &env, &m);
    rc = lend_spec_parse(spec, &env, &out, err, sizeof(err));
    if (rc != 0 && rc != -EINVAL)
        fuzz_fail("lend_spec_parse returned %d", rc);
    if ((rc == 0) != (want == 0))
        fuzz_fail("lend_spec_parse %s the spec, the daemon's parser %s it (%s)",
                  rc ? "refuses" : "accepts", want ? "refuses" : "accepts", rc ? err : "");
    if (rc) {
        struct lend_spec zero;

        if (!err[0] || !fuzz_one_line(err))
            fuzz_fail("a refusal's message is empty or not one line: %s", err);
        memset(&zero, 0, sizeof(zero));
        if (memcmp(&out, &zero, sizeof(zero)))
            fuzz_fail("a refused spec left something in *out");
    } else {
        struct dm_options again;
        char why[512], bdf[16];

        if (out.argc != m.argc || out.argc > LEND_SPEC_MAX_ARGS || out.argv[out.argc] != NULL)
            fuzz_fail("argc %d, the model has %d", out.argc, m.argc);
        for (int i = 0; i < out.argc; i++) {
            if (!out.argv[i] || strcmp(out.argv[i], m.argv[i]))
                fuzz_fail("argv[%d] is '%s', the model has '%s'", i,
                          out.argv[i] ? out.argv[i] : "(null)", m.argv[i]);
        }
        if (out.opt.domid != env.domid)
            fuzz_fail("domid %u for domain %u", out.opt.domid, env.domid);
        if (options_parse(out.argc, out.argv, &again, why, sizeof(why)) != OPTIONS_RUN)
            fuzz_fail("the daemon refuses the spec's argv: %s", why);
        check_same_options(&out.opt, &again);
        snprintf(bdf, sizeof(bdf), "%04x:%02x:%02x.%x", again.pci_seg, again.pci_bus, again.pci_dev,
                 again.pci_fn);
        if (strcmp(bdf, out.bdf))
            fuzz_fail("bdf '%s', the options say %s", out.bdf, bdf);
        lend_spec_free(&out);
    }
    lend_spec_free(&out);
    /* Truncated messages: same answer, still one terminated line. */
    rc = lend_spec_parse(spec, &env, &out, small, 1 + len % sizeof(small));
    if ((rc == 0) != (want == 0))
        fuzz_fail("a small error buffer changed the answer");
    if (rc && (!memchr(small, '\0', 1 + len % sizeof(small)) || !fuzz_one_line(small)))
        fuzz_fail("a truncated message is not one terminated line");
    lend_spec_free(&out);
    free(m.pool);
    free(spec);
    return 0;
}
