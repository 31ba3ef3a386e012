/* SPDX-License-Identifier: MIT */
/*
 * Lend specs: how an xl configuration describes one lent BAR.
 *
 *   bdf=00:1f.0,size=8G,backing=pci:0000:03:00.0/bar2,mode=auto
 *
 * Comma-separated key=value items; every key is one ioreq-lend option
 * (lend_spec_key() lists them). A comma inside a value is written twice, as
 * QEMU does: backing=file:/srv/a,,b.img is the file "/srv/a,b.img".
 *
 * Parsing is pure: no I/O, no state kept between calls, no exit(), any bytes
 * accepted as input (a fuzz target can call it in a loop). The result is the
 * daemon's command line, already checked by the daemon's own parser
 * (options_parse(), which resets getopt's globals on each call: one parse at
 * a time per process), so a spec the launcher accepts is one the daemon
 * accepts.
 */
#ifndef IOREQ_LEND_LEND_SPEC_H
#define IOREQ_LEND_LEND_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "options.h"

/* Room for every key's option and value, and what the launcher adds. */
#define LEND_SPEC_MAX_ARGS 64
/* Longest spec accepted, in bytes (a backing path can be long). */
#define LEND_SPEC_MAX_LEN  8192
#define LEND_SPEC_PATH_MAX 4096

/* What the spec's text does not say. */
struct lend_spec_env {
    uint32_t domid;        /* 1..OPT_MAX_DOMID: the domain being served */
    const char *state_dir; /* default --state-dir; NULL: the daemon's own default */
    /*
     * DOMAIN_PVH (the xl config's type = "pvh"): every daemon gets
     * --domain-type pvh, the first one --host-bridge, and each BAR a
     * --bar-base above pvh_ram_end (lend_specs_parse()).
     */
    enum domain_type domain_type;
    uint64_t pvh_ram_end; /* the guest's RAM ends below this (4 GiB + maxmem) */
    bool host_bridge;     /* lend_spec_parse() alone: this spec's daemon owns 0xCF8 */
};

struct lend_spec {
    /*
     * The daemon's argv: argv[0] is "ioreq-lend", then option/value pairs,
     * then NULL. The strings live in this struct (values in `text`).
     */
    int argc;
    char *argv[LEND_SPEC_MAX_ARGS + 1];
    /* The daemon's parse of argv: what it will do (pointers into this struct). */
    struct dm_options opt;
    /* "0000:00:1f.0", for messages. */
    char bdf[16];

    /* Storage. */
    char *text; /* malloc'd: unescaped values, NUL-separated */
    char domid_arg[16];
    char bar_base_arg[24];
    char stats_arg[LEND_SPEC_PATH_MAX];
    char pidfile_arg[LEND_SPEC_PATH_MAX];
};

/*
 * Parse one spec for domain env->domid. Returns 0 with *out filled (release
 * it with lend_spec_free()), or -EINVAL with one line in err naming the bad
 * key: an unknown key, a key given twice, an empty value, a value the daemon
 * would refuse (its own message, with its option names replaced by the spec's
 * keys). *out needs no freeing after a failure.
 *
 * Unless the spec says otherwise (stats=off, pidfile=off, or a path), the
 * daemon is given --stats STATE_DIR/domD-SSSS:BB:DD.F.json and --pidfile
 * STATE_DIR/domD-SSSS:BB:DD.F.pid, STATE_DIR being the spec's state-dir, else
 * env->state_dir, else the daemon's default.
 */
int lend_spec_parse(const char *spec, const struct lend_spec_env *env, struct lend_spec *out,
                    char *err, size_t errlen);

/*
 * Parse the n specs of one domain (a launcher's whole list): each as
 * lend_spec_parse() does, and no two for the same bdf. Returns 0, or -EINVAL
 * with one line in err naming the spec (numbered from 1); nothing then needs
 * freeing. For a PVH domain, the first spec's daemon is the host bridge (the
 * one owner of port 0xCF8: Xen routes a port to one server), and the BARs
 * are placed one after the other, each aligned to its size, from
 * env->pvh_ram_end up (every PVH spec then needs a size).
 */
int lend_specs_parse(const char *const texts[], size_t n, const struct lend_spec_env *env,
                     struct lend_spec *out, char *err, size_t errlen);

/* Release what lend_spec_parse() allocated; safe on a zeroed struct and twice. */
void lend_spec_free(struct lend_spec *s);

/*
 * The keys, for documentation and tests: the i-th key's name and the daemon
 * option it sets (without "--"). NULL past the last key.
 */
const char *lend_spec_key(size_t i, const char **option);

#endif
