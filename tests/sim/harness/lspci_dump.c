/* SPDX-License-Identifier: MIT */
/*
 * lspci's dump format (pciutils lib/dump.c reads it back): a slot line that
 * must start "bb:dd.f " or "ssss:bb:dd.f ", then lines "xx:" followed by
 * " %02x" per byte, 16 bytes a line, and a blank line ending the function.
 */
#include <errno.h>

#include "lspci_dump.h"

#define CFG_SIZE  256
#define LINE_SIZE 16

int lspci_dump_write(FILE *out, uint16_t seg, uint8_t bus, uint8_t dev, uint8_t fn,
                     const uint8_t cfg[256])
{
    if (!out || !cfg || dev > 31 || fn > 7)
        return -EINVAL;

    /* Like lspci, the domain only when it is not 0. */
    if (seg != 0)
        fprintf(out, "%04x:", seg);
    /* The rest of the line is what `lspci -n` prints; the parser ignores it. */
    fprintf(out, "%02x:%02x.%u %02x%02x: %02x%02x:%02x%02x", bus, dev, fn, cfg[0x0b], cfg[0x0a],
            cfg[0x01], cfg[0x00], cfg[0x03], cfg[0x02]);
    if (cfg[0x08] != 0)
        fprintf(out, " (rev %02x)", cfg[0x08]);
    fputc('\n', out);

    for (unsigned int i = 0; i < CFG_SIZE; i++) {
        if (i % LINE_SIZE == 0)
            fprintf(out, "%02x:", i);
        fprintf(out, " %02x", cfg[i]);
        if (i % LINE_SIZE == LINE_SIZE - 1)
            fputc('\n', out);
    }
    fputc('\n', out);
    return ferror(out) ? -EIO : 0;
}
