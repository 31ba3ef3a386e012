/* SPDX-License-Identifier: MIT */
/*
 * Lend specs (see lend_spec.h): a spec's keys become ioreq-lend options, and
 * the daemon's own parser then checks them, so the launcher refuses exactly
 * what the daemon would -- before anything starts.
 */
#include "lend_spec.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util.h"

enum key_kind {
    KEY_VALUE,       /* --option VALUE */
    KEY_BOOL,        /* on: --option; off: nothing */
    KEY_PATH_OR_OFF, /* --option PATH; off: nothing (and no default) */
};

struct key {
    const char *name;
    const char *option;
    enum key_kind kind;
};

/* Order: as ioreq-lend --help lists the options. */
static const struct key keys[] = {
    {"bdf", "bdf", KEY_VALUE},
    {"size", "bar-size", KEY_VALUE},
    {"vendor", "vendor", KEY_VALUE},
    {"device", "device", KEY_VALUE},
    {"subsys", "subsys", KEY_VALUE},
    {"class", "class", KEY_VALUE},
    {"backing", "backing", KEY_VALUE},
    {"mode", "mode", KEY_VALUE},
    {"window", "window", KEY_VALUE},
    {"fault-around", "fault-around", KEY_VALUE},
    {"on-lost", "on-lost", KEY_VALUE},
    {"readahead", "readahead", KEY_VALUE},
    {"pci-sysfs-path", "pci-sysfs-path", KEY_VALUE},
    {"log-level", "log-level", KEY_VALUE},
    {"syslog", "syslog", KEY_BOOL},
    {"pidfile", "pidfile", KEY_PATH_OR_OFF},
    {"state-dir", "state-dir", KEY_VALUE},
    {"stats", "stats", KEY_PATH_OR_OFF},
    {"runas", "runas", KEY_VALUE},
    {"domain-poll-ms", "domain-poll-ms", KEY_VALUE},
};

/* Options the launcher sets itself. */
static const char *const reserved[] = {"domid", "ready-fd", "domain-type", "host-bridge",
                                       "bar-base"};

/* Longest key or option name we echo back in a message. */
#define KEY_ECHO_MAX 40

const char *lend_spec_key(size_t i, const char **option)
{
    if (i >= ARRAY_SIZE(keys))
        return NULL;
    if (option)
        *option = keys[i].option;
    return keys[i].name;
}

static const struct key *find_key(const char *name, size_t len)
{
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
        if (strlen(keys[i].name) == len && memcmp(keys[i].name, name, len) == 0)
            return &keys[i];
    }
    return NULL;
}

static const struct key *find_option(const char *name, size_t len)
{
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++) {
        if (strlen(keys[i].option) == len && memcmp(keys[i].option, name, len) == 0)
            return &keys[i];
    }
    return NULL;
}

/* An unknown key: say which key was probably meant, if one was. */
static int unknown_key(const char *name, size_t len, char *err, size_t errlen)
{
    char alt[KEY_ECHO_MAX + 1];
    const struct key *k;
    int shown = (int)MIN(len, (size_t)KEY_ECHO_MAX);

    for (size_t i = 0; i < ARRAY_SIZE(reserved); i++) {
        if (strlen(reserved[i]) == len && memcmp(reserved[i], name, len) == 0)
            return err_fmt(err, errlen, -EINVAL,
                           "key '%s' is not allowed: the launcher sets --%s itself", reserved[i],
                           reserved[i]);
    }
    k = find_option(name, len);
    if (!k && len <= KEY_ECHO_MAX) {
        /* fault_around for fault-around */
        for (size_t i = 0; i < len; i++)
            alt[i] = name[i] == '_' ? '-' : name[i];
        alt[len] = '\0';
        k = find_key(alt, len);
    }
    if (k)
        return err_fmt(err, errlen, -EINVAL, "unknown key '%.*s' (did you mean %s?)", shown, name,
                       k->name);
    return err_fmt(err, errlen, -EINVAL, "unknown key '%.*s' (see ioreq-lend(8), LEND SPECS)",
                   shown, name);
}

static int parse_bool(const char *v, bool *out)
{
    static const char *const yes[] = {"on", "yes", "true", "1"};
    static const char *const no[] = {"off", "no", "false", "0"};

    for (size_t i = 0; i < ARRAY_SIZE(yes); i++) {
        if (strcmp(v, yes[i]) == 0) {
            *out = true;
            return 0;
        }
        if (strcmp(v, no[i]) == 0) {
            *out = false;
            return 0;
        }
    }
    return -EINVAL;
}

static int push(struct lend_spec *s, char *arg)
{
    if (s->argc >= LEND_SPEC_MAX_ARGS)
        return -E2BIG;
    s->argv[s->argc++] = arg;
    s->argv[s->argc] = NULL;
    return 0;
}

static int push_option(struct lend_spec *s, char *option, char *value)
{
    int rc = push(s, option);

    if (rc == 0 && value)
        rc = push(s, value);
    return rc;
}

/* "--name", written into the pool at the end of the text buffer. */
static char *dashed(char **pool, const char *name)
{
    char *p = *pool;
    size_t n = strlen(name);

    p[0] = '-';
    p[1] = '-';
    memcpy(p + 2, name, n + 1);
    *pool += n + 3;
    return p;
}

/*
 * The daemon's message names its options ("--bar-size: '3G' is not a power
 * of two ..."); the user wrote keys. Replace each "--option" we map by its key.
 */
static void options_to_keys(const char *in, char *out, size_t outlen)
{
    size_t used = 0;

    if (!outlen)
        return;
    while (*in && used + 1 < outlen) {
        if (in[0] == '-' && in[1] == '-' && in[2] >= 'a' && in[2] <= 'z') {
            size_t n = strspn(in + 2, "abcdefghijklmnopqrstuvwxyz-");
            const struct key *k = find_option(in + 2, n);

            if (k) {
                int w = snprintf(out + used, outlen - used, "%s", k->name);
                used += w > 0 ? MIN((size_t)w, outlen - used - 1) : 0;
                in += 2 + n;
                continue;
            }
        }
        out[used++] = *in++;
    }
    out[used] = '\0';
}

/* One line, whatever bytes the spec held. */
static void one_line(char *s)
{
    for (; s && *s; s++) {
        if ((unsigned char)*s < 0x20 || *s == 0x7f)
            *s = '?';
    }
}

/*
 * Copy one value from *p up to the next single comma (",," is a comma),
 * unescaped, to *q. Leaves *p on the separator or the terminating NUL.
 */
static char *take_value(const char **p, char **q)
{
    char *start = *q;
    const char *s = *p;

    while (*s) {
        if (s[0] == ',') {
            if (s[1] != ',')
                break;
            s++; /* ",," is one comma */
        }
        *(*q)++ = *s++;
    }
    *(*q)++ = '\0';
    *p = s;
    return start;
}

static int default_path(char *buf, size_t len, const struct dm_options *o, const char *suffix)
{
    int n = snprintf(buf, len, "%s/dom%u-%04x:%02x:%02x.%x.%s", o->state_dir, o->domid, o->pci_seg,
                     o->pci_bus, o->pci_dev, o->pci_fn, suffix);

    return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

static int parse_items(const char *spec, struct lend_spec *s, bool seen[], char **pool, char *err,
                       size_t errlen)
{
    const char *p = spec;
    char *q = s->text;
    int rc;

    while (*p) {
        size_t klen = strcspn(p, "=,");
        const char *kname = p;
        const struct key *k;
        char *value;
        bool on;

        if (klen == 0)
            return err_fmt(err, errlen, -EINVAL,
                           *p == '=' ? "a value without a key (want key=value)"
                                     : "an empty item (two commas or a leading comma)");
        if (p[klen] != '=')
            return err_fmt(err, errlen, -EINVAL, "key '%.*s' has no value (want %.*s=VALUE)",
                           (int)MIN(klen, (size_t)KEY_ECHO_MAX), kname,
                           (int)MIN(klen, (size_t)KEY_ECHO_MAX), kname);
        k = find_key(kname, klen);
        if (!k)
            return unknown_key(kname, klen, err, errlen);
        if (seen[k - keys])
            return err_fmt(err, errlen, -EINVAL, "key '%s' is given twice", k->name);
        seen[k - keys] = true;
        p += klen + 1;
        value = take_value(&p, &q);
        if (*value == '\0')
            return err_fmt(err, errlen, -EINVAL, "key '%s' has an empty value", k->name);
        if (*p == ',') {
            p++;
            if (*p == '\0')
                return err_fmt(err, errlen, -EINVAL, "the spec ends with a comma after key '%s'",
                               k->name);
        }
        switch (k->kind) {
        case KEY_BOOL:
            if (parse_bool(value, &on))
                return err_fmt(err, errlen, -EINVAL, "%s: '%.*s' is not on or off", k->name,
                               KEY_ECHO_MAX, value);
            rc = on ? push_option(s, dashed(pool, k->option), NULL) : 0;
            break;
        case KEY_PATH_OR_OFF:
            rc = strcmp(value, "off") == 0 ? 0 : push_option(s, dashed(pool, k->option), value);
            break;
        default:
            rc = push_option(s, dashed(pool, k->option), value);
            break;
        }
        if (rc)
            return err_fmt(err, errlen, -EINVAL, "too many keys");
    }
    return 0;
}

int lend_spec_parse(const char *spec, const struct lend_spec_env *env, struct lend_spec *out,
                    char *err, size_t errlen)
{
    bool seen[ARRAY_SIZE(keys)] = {false};
    char msg[512];
    size_t len, pool_len = 0;
    char *pool;
    int rc;

    memset(out, 0, sizeof(*out));
    if (!spec || !env)
        return err_fmt(err, errlen, -EINVAL, "no lend spec");
    len = strnlen(spec, LEND_SPEC_MAX_LEN + 1);
    if (len == 0)
        return err_fmt(err, errlen, -EINVAL, "empty lend spec (want key=value,...)");
    if (len > LEND_SPEC_MAX_LEN)
        return err_fmt(err, errlen, -EINVAL, "lend spec longer than %u bytes", LEND_SPEC_MAX_LEN);
    if (env->domid == 0 || env->domid > OPT_MAX_DOMID)
        return err_fmt(err, errlen, -EINVAL, "domain id %u is not between 1 and %u", env->domid,
                       OPT_MAX_DOMID);

    /* Values (never longer than the spec) then the "--option" names. */
    for (size_t i = 0; i < ARRAY_SIZE(keys); i++)
        pool_len += strlen(keys[i].option) + 3;
    out->text = malloc(len + 1 + pool_len);
    if (!out->text)
        return err_fmt(err, errlen, -EINVAL, "out of memory");
    pool = out->text + len + 1;

    snprintf(out->domid_arg, sizeof(out->domid_arg), "%u", env->domid);
    push(out, "ioreq-lend");
    push(out, "--domid");
    push(out, out->domid_arg);
    /* First, so that the spec's own state-dir, later on the line, wins. */
    if (env->state_dir && *env->state_dir) {
        push(out, "--state-dir");
        push(out, (char *)(uintptr_t)env->state_dir);
    }
    if (env->domain_type == DOMAIN_PVH) {
        push(out, "--domain-type");
        push(out, "pvh");
        if (env->host_bridge)
            push(out, "--host-bridge");
    }

    rc = parse_items(spec, out, seen, &pool, err, errlen);
    if (rc == 0) {
        rc = options_parse(out->argc, out->argv, &out->opt, msg, sizeof(msg));
        if (rc == OPTIONS_EXIT) /* --help or --version: no key maps to them */
            rc = err_fmt(err, errlen, -EINVAL, "the spec asks for help");
        else if (rc < 0)
            options_to_keys(msg, err, errlen);
    }
    if (rc == 0) {
        const struct dm_options *o = &out->opt;

        snprintf(out->bdf, sizeof(out->bdf), "%04x:%02x:%02x.%x", o->pci_seg, o->pci_bus,
                 o->pci_dev, o->pci_fn);
        if (!seen[find_key("stats", 5) - keys]) {
            rc = default_path(out->stats_arg, sizeof(out->stats_arg), o, "json");
            if (rc == 0)
                rc = push(out, "--stats") ? -E2BIG : push(out, out->stats_arg);
            out->opt.stats_path = out->stats_arg;
        }
        if (rc == 0 && !seen[find_key("pidfile", 7) - keys]) {
            rc = default_path(out->pidfile_arg, sizeof(out->pidfile_arg), o, "pid");
            if (rc == 0)
                rc = push(out, "--pidfile") ? -E2BIG : push(out, out->pidfile_arg);
            out->opt.pidfile = out->pidfile_arg;
        }
        if (rc)
            rc = err_fmt(err, errlen, -EINVAL, "state-dir: '%.64s...' is too long", o->state_dir);
    }
    if (rc) {
        one_line(err);
        lend_spec_free(out);
        return -EINVAL;
    }
    return 0;
}

void lend_spec_free(struct lend_spec *s)
{
    if (!s)
        return;
    free(s->text);
    memset(s, 0, sizeof(*s));
}

/* PVH: BAR 0 of spec s at the next free size-aligned address from *next. */
static int pvh_place(struct lend_spec *s, uint64_t *next, char *err, size_t errlen)
{
    uint64_t size = s->opt.bar_size, base;
    char msg[512];
    int rc;

    if (!size)
        return err_fmt(err, errlen, -EINVAL,
                       "a PVH guest's BAR is placed by the launcher: give its size");
    base = (*next + size - 1) & ~(size - 1);
    if (base < *next || base > OPT_MAX_BAR_END - size)
        return err_fmt(err, errlen, -EINVAL, "no room for the BAR below 2^52");
    *next = base + size;
    snprintf(s->bar_base_arg, sizeof(s->bar_base_arg), "0x%llx", (unsigned long long)base);
    if (push(s, "--bar-base") || push(s, s->bar_base_arg))
        return err_fmt(err, errlen, -EINVAL, "too many keys");
    rc = options_parse(s->argc, s->argv, &s->opt, msg, sizeof(msg));
    if (rc)
        return err_fmt(err, errlen, -EINVAL, "%s", msg);
    return 0;
}

int lend_specs_parse(const char *const texts[], size_t n, const struct lend_spec_env *env,
                     struct lend_spec *out, char *err, size_t errlen)
{
    char why[512];
    int rc = 0;
    size_t parsed = 0;
    uint64_t next = env ? env->pvh_ram_end : 0;

    for (; parsed < n && rc == 0; parsed++) {
        struct lend_spec_env e = env ? *env : (struct lend_spec_env){0};

        e.host_bridge = e.domain_type == DOMAIN_PVH && parsed == 0;
        rc = lend_spec_parse(texts[parsed], env ? &e : NULL, &out[parsed], why, sizeof(why));
        if (rc == 0 && e.domain_type == DOMAIN_PVH) {
            rc = pvh_place(&out[parsed], &next, why, sizeof(why));
            if (rc)
                lend_spec_free(&out[parsed]);
        }
        if (rc) {
            rc = err_fmt(err, errlen, -EINVAL, "lend spec %zu '%.200s': %s", parsed + 1,
                         texts[parsed], why);
            break;
        }
    }
    for (size_t i = 0; rc == 0 && i < n; i++)
        for (size_t j = i + 1; rc == 0 && j < n; j++)
            if (strcmp(out[i].bdf, out[j].bdf) == 0)
                rc = err_fmt(err, errlen, -EINVAL, "lend specs %zu and %zu both use bdf %s", i + 1,
                             j + 1, out[i].bdf);
    if (rc)
        for (size_t i = 0; i < parsed; i++)
            lend_spec_free(&out[i]);
    return rc;
}
