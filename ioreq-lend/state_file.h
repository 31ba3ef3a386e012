/* SPDX-License-Identifier: MIT */
/*
 * The per-slot state file, STATE_DIR/domN-SSSS:BB:DD.F.lock: the lock that
 * makes one daemon the owner of a PCI slot of a domain, and the record a
 * successor needs to take over after a crash (kill -9): the ioreq server
 * (Xen keeps it), the config space the guest programmed, and a window change
 * that was under way, during which Xen may hold either window's claims.
 *
 * Crash consistency: the record is written before every change of what Xen
 * holds (write-ahead), and never torn. Two copies alternate in the file,
 * each with a sequence number and a checksum: a kill in the middle of a
 * write spoils only the copy being written, and a reader takes the valid
 * copy with the higher sequence. The file is written through the fd opened
 * at start, so it works after --runas dropped the rights to the directory.
 */
#ifndef IOREQ_LEND_STATE_FILE_H
#define IOREQ_LEND_STATE_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "bar.h"

/* What a daemon records, and what its successor reads back. */
struct dm_state {
    bool have_server;
    uint16_t server;
    bool have_config;
    uint8_t config[PCI_CFG_SPACE_SIZE];
    /*
     * A window change was started and not finished (config still holds the
     * old header): Xen may hold the claims of `from`, of `to`, or both.
     */
    bool changing;
    struct bar_window from, to;
};

struct state_file {
    int fd;             /* -1: not locked */
    uint64_t seq;       /* of the last record written */
    char path[4096];
};

#define STATE_FILE_INIT {.fd = -1}

/*
 * Create dir if needed, open and lock the slot's file, and read what a
 * crashed predecessor left into *pred (zeroed if nothing valid). Returns 0,
 * or -EBUSY if another daemon holds the slot (err names its pid), or
 * another -errno; err gets one line.
 */
int state_file_lock(struct state_file *sf, const char *dir, uint32_t domid, uint16_t seg,
                    uint8_t bus, uint8_t dev, uint8_t fn, struct dm_state *pred, char *err,
                    size_t errlen);
/* Record st (and our pid). 0 or -errno; a failure is the caller's to log. */
int state_file_write(struct state_file *sf, const struct dm_state *st);
/* A clean exit: remove the file (or empty it if we may not) and unlock. */
void state_file_release(struct state_file *sf);

/*
 * Format st as one record with sequence seq (exposed for tests and fuzzing,
 * which write a predecessor's file). Returns its length, or -ENOSPC.
 */
int state_record_format(char *buf, size_t size, const struct dm_state *st, uint64_t seq);

/*
 * Parse one record (exposed for tests and fuzzing). Returns 0 and fills *st,
 * *seq and *pid if the record is complete and its checksum matches, else
 * -EINVAL.
 */
int state_record_parse(const char *buf, size_t len, struct dm_state *st, uint64_t *seq, int *pid);

#endif
