/* SPDX-License-Identifier: MIT */
/* The per-slot lock and state record (state_file.h). */
#include "state_file.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "log.h"
#include "util.h"

/* Two copies of at most this many bytes each: the record is about 700. */
#define STATE_COPY_SIZE 1024
#define STATE_MAGIC     "ioreq-lend state 1\n"

_Static_assert(STATE_COPY_SIZE >= 2 * PCI_CFG_SPACE_SIZE + 256, "a record fits its copy");

/* FNV-1a: enough to tell a torn copy from a whole one. */
static uint64_t record_hash(const char *buf, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;

    for (size_t i = 0; i < len; i++)
        h = (h ^ (uint8_t)buf[i]) * 0x100000001b3ULL;
    return h;
}

int state_record_format(char *buf, size_t size, const struct dm_state *st, uint64_t seq)
{
    size_t n = 0;

#define ADD(...) n += (size_t)snprintf(buf + n, size - MIN(n, size), __VA_ARGS__)
    ADD(STATE_MAGIC "seq %" PRIu64 "\npid %d\n", seq, (int)getpid());
    if (st->have_server)
        ADD("server %u\n", st->server);
    if (st->have_config) {
        ADD("config ");
        for (unsigned int i = 0; i < PCI_CFG_SPACE_SIZE; i++)
            ADD("%02x", st->config[i]);
        ADD("\n");
    }
    if (st->changing)
        ADD("change %d 0x%" PRIx64 " 0x%" PRIx64 " %d 0x%" PRIx64 " 0x%" PRIx64 "\n",
            st->from.enabled, st->from.base, st->from.size, st->to.enabled, st->to.base,
            st->to.size);
    ADD("crc %016" PRIx64 "\n", record_hash(buf, MIN(n, size)));
#undef ADD
    return n < size ? (int)n : -ENOSPC;
}

static bool parse_window(const char *s, struct bar_window *w, const char **end)
{
    int enabled, used = 0;
    uint64_t base, size;

    if (sscanf(s, " %d 0x%" SCNx64 " 0x%" SCNx64 "%n", &enabled, &base, &size, &used) != 3 ||
        (enabled != 0 && enabled != 1))
        return false;
    *w = (struct bar_window){.enabled = enabled, .base = base, .size = size};
    *end = s + used;
    return true;
}

static bool parse_config(const char *hex, uint8_t *config)
{
    for (unsigned int i = 0; i < PCI_CFG_SPACE_SIZE; i++) {
        unsigned int b;

        if (sscanf(hex + 2 * i, "%2x", &b) != 1)
            return false;
        config[i] = (uint8_t)b;
    }
    return hex[2 * PCI_CFG_SPACE_SIZE] == '\0';
}

int state_record_parse(const char *buf, size_t len, struct dm_state *st, uint64_t *seq, int *pid)
{
    char copy[STATE_COPY_SIZE + 1], *line, *save = NULL;
    const char *crc_line;
    uint64_t crc;
    bool have_seq = false, have_pid = false;

    memset(st, 0, sizeof(*st));
    len = MIN(len, (size_t)STATE_COPY_SIZE);
    memcpy(copy, buf, len);
    copy[len] = '\0';
    if (strncmp(copy, STATE_MAGIC, strlen(STATE_MAGIC)) != 0)
        return -EINVAL;
    /* The checksum covers everything before its own line. */
    crc_line = strstr(copy, "\ncrc ");
    if (!crc_line || sscanf(crc_line + 5, "%16" SCNx64, &crc) != 1 ||
        crc != record_hash(copy, (size_t)(crc_line - copy) + 1))
        return -EINVAL;
    copy[crc_line - copy + 1] = '\0';
    for (line = strtok_r(copy + strlen(STATE_MAGIC), "\n", &save); line;
         line = strtok_r(NULL, "\n", &save)) {
        unsigned int server;
        const char *end;

        if (sscanf(line, "seq %" SCNu64, seq) == 1) {
            have_seq = true;
        } else if (sscanf(line, "pid %d", pid) == 1) {
            have_pid = true;
        } else if (sscanf(line, "server %u", &server) == 1 && server < 0xffff) {
            st->have_server = true;
            st->server = (uint16_t)server;
        } else if (strncmp(line, "config ", 7) == 0) {
            st->have_config = parse_config(line + 7, st->config);
            if (!st->have_config)
                return -EINVAL;
        } else if (strncmp(line, "change", 6) == 0) {
            if (!parse_window(line + 6, &st->from, &end) || strncmp(end, " ", 1) != 0 ||
                !parse_window(end, &st->to, &end) || *end != '\0')
                return -EINVAL;
            st->changing = true;
        } else {
            return -EINVAL;
        }
    }
    return have_seq && have_pid ? 0 : -EINVAL;
}

/* The newest whole copy in the file: 0, or -EINVAL if there is none. */
static int state_read(int fd, struct dm_state *st, uint64_t *seq, int *pid)
{
    char buf[2 * STATE_COPY_SIZE];
    ssize_t n = pread(fd, buf, sizeof(buf), 0);
    int found = -EINVAL;

    for (unsigned int c = 0; n > 0 && c < 2; c++) {
        struct dm_state cur;
        uint64_t cur_seq = 0;
        int cur_pid = 0;

        if ((size_t)n <= c * STATE_COPY_SIZE ||
            state_record_parse(buf + c * STATE_COPY_SIZE,
                               MIN((size_t)n - c * STATE_COPY_SIZE, (size_t)STATE_COPY_SIZE),
                               &cur, &cur_seq, &cur_pid))
            continue;
        if (found == 0 && cur_seq <= *seq)
            continue;
        *st = cur;
        *seq = cur_seq;
        *pid = cur_pid;
        found = 0;
    }
    return found;
}

int state_file_lock(struct state_file *sf, const char *dir, uint32_t domid, uint16_t seg,
                    uint8_t bus, uint8_t dev, uint8_t fn, struct dm_state *pred, char *err,
                    size_t errlen)
{
    uint64_t seq = 0;
    int fd, pid = 0;

    memset(pred, 0, sizeof(*pred));
    if (mkdir(dir, 0755) < 0 && errno != EEXIST)
        return err_fmt(err, errlen, -errno, "cannot create state directory %s: %s", dir,
                       strerror(errno));
    if (snprintf(sf->path, sizeof(sf->path), "%s/dom%u-%04x:%02x:%02x.%x.lock", dir, domid, seg,
                 bus, dev, fn) >= (int)sizeof(sf->path))
        return err_fmt(err, errlen, -ENAMETOOLONG, "--state-dir is too long");
    fd = open(sf->path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (fd < 0)
        return err_fmt(err, errlen, -errno, "cannot open %s: %s", sf->path, strerror(errno));
    if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
        int rc = -errno;
        struct dm_state holder;
        bool named = state_read(fd, &holder, &seq, &pid) == 0;

        close(fd);
        sf->path[0] = '\0';
        if (rc == -EWOULDBLOCK && named)
            return err_fmt(err, errlen, -EBUSY,
                           "PCI slot %04x:%02x:%02x.%x of domain %u is already claimed (pid %d)",
                           seg, bus, dev, fn, domid, pid);
        if (rc == -EWOULDBLOCK)
            return err_fmt(err, errlen, -EBUSY,
                           "PCI slot %04x:%02x:%02x.%x of domain %u is already claimed (by "
                           "another ioreq-lend)",
                           seg, bus, dev, fn, domid);
        return err_fmt(err, errlen, rc, "cannot lock %s: %s", sf->path, strerror(-rc));
    }
    sf->fd = fd;
    /* A clean exit removes the file: a record in it is a crashed daemon's. */
    if (state_read(fd, pred, &seq, &pid) < 0)
        memset(pred, 0, sizeof(*pred));
    sf->seq = seq;
    return 0;
}

int state_file_write(struct state_file *sf, const struct dm_state *st)
{
    char buf[STATE_COPY_SIZE];
    uint64_t seq = sf->seq + 1;
    int n;

    if (sf->fd < 0)
        return -EBADF;
    memset(buf, '\n', sizeof(buf));
    n = state_record_format(buf, sizeof(buf), st, seq);
    if (n < 0)
        return n;
    buf[n] = '\n'; /* snprintf's terminator: the rest of the copy is blank lines */
    /* The other copy stays whole while this one is written. */
    if (pwrite(sf->fd, buf, sizeof(buf), (off_t)(seq % 2) * STATE_COPY_SIZE) != sizeof(buf))
        return errno ? -errno : -EIO;
    sf->seq = seq;
    return 0;
}

void state_file_release(struct state_file *sf)
{
    if (sf->fd < 0)
        return;
    /*
     * Unlink while holding the lock: a waiter then locks a file that is gone
     * and retries. If unlinking is not allowed (privileges dropped), an empty
     * file says the same: nothing to take over.
     */
    if (unlink(sf->path) < 0 && ftruncate(sf->fd, 0) < 0)
        log_warn("cannot clear %s: %s", sf->path, strerror(errno));
    close(sf->fd);
    sf->fd = -1;
}
