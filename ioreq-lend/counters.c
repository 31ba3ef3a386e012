/* SPDX-License-Identifier: MIT */
/* Owns the counters' outputs (counters.h): the JSON stats file, written atomically, and the log dump. */
#include "counters.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

static const struct {
    const char *name;
    size_t offset;
} counter_table[] = {
#define X(field, name, help) {name, offsetof(struct counters, field)},
    DM_COUNTERS(X)
#undef X
};

static uint64_t counter_value(const struct counters *c, size_t i)
{
    uint64_t v;

    memcpy(&v, (const char *)c + counter_table[i].offset, sizeof(v));
    return v;
}

void counters_write_json(const struct counters *c, const char *mode, const struct latency *lat,
                         FILE *out)
{
    char group[32] = "";

    /* The list is grouped by prefix, so each group is one nested object. */
    fputc('{', out);
    for (size_t i = 0; i < ARRAY_SIZE(counter_table); i++) {
        const char *name = counter_table[i].name, *dot = strchr(name, '.');
        size_t glen = (size_t)(dot - name);

        if (strlen(group) != glen || strncmp(group, name, glen) != 0) {
            fprintf(out, "%s\"%.*s\":{", *group ? "}," : "", (int)glen, name);
            snprintf(group, sizeof(group), "%.*s", (int)glen, name);
        } else {
            fputc(',', out);
        }
        fprintf(out, "\"%s\":%llu", dot + 1, (unsigned long long)counter_value(c, i));
    }
    fputc('}', out);
    if (mode)
        fprintf(out, ",\"mode\":\"%s\"", mode);
    if (lat) {
        fputc(',', out);
        latency_write_json(lat, out);
    }
    fputc('}', out);
}

int counters_write_file(const struct counters *c, const char *mode, const struct latency *lat,
                        const char *path)
{
    char tmp[4096 + 8];
    FILE *f;

    if (snprintf(tmp, sizeof(tmp), "%s.tmp", path) >= (int)sizeof(tmp))
        return -ENAMETOOLONG;
    f = fopen(tmp, "w");
    if (!f)
        return -errno;
    counters_write_json(c, mode, lat, f);
    fputc('\n', f);
    if (fclose(f) != 0) {
        unlink(tmp);
        return -EIO;
    }
    /* Readers see the old file or the new one, never half of one. */
    if (rename(tmp, path) < 0) {
        int rc = -errno;
        unlink(tmp);
        return rc;
    }
    return 0;
}

void counters_log(const struct counters *c)
{
    for (size_t i = 0; i < ARRAY_SIZE(counter_table); i++) {
        uint64_t v = counter_value(c, i);
        if (v)
            log_info("counter %s = %llu", counter_table[i].name, (unsigned long long)v);
    }
}
