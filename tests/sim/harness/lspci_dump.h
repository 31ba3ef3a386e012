/* SPDX-License-Identifier: MIT */
/*
 * Config space as `lspci -xxx` prints it, so `lspci -F FILE` can decode it:
 * an independent decoder for what the emulated function shows a guest.
 */
#ifndef XENSIM_LSPCI_DUMP_H
#define XENSIM_LSPCI_DUMP_H

#include <stdint.h>
#include <stdio.h>

/*
 * Write one function's 256-byte config space to `out` in lspci's dump format:
 * the slot line ("bb:dd.f", or "ssss:bb:dd.f" when seg is non-zero, then the
 * numeric class and IDs as `lspci -n` shows them), 16 lines "xx: b0 .. b15"
 * and a blank line. Several calls append several functions to one file.
 * Returns 0, -EINVAL if dev > 31, fn > 7 or a pointer is NULL, or -EIO if
 * the stream reports an error.
 */
int lspci_dump_write(FILE *out, uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn,
                     const uint8_t cfg[256]);

#endif
