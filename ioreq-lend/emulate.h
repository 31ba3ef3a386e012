/* SPDX-License-Identifier: MIT */
/*
 * Emulation mode: MMIO (COPY) requests inside the decoded BAR window served
 * from the backing memory. The request is a private copy the caller made;
 * everything in it is checked here before use.
 */
#ifndef IOREQ_LEND_EMULATE_H
#define IOREQ_LEND_EMULATE_H

#include <stdint.h>
#include <xen/xen.h>
#include <xen/hvm/ioreq.h>

#include "backing.h"
#include "bar.h"
#include "counters.h"
#include "guest_ram.h"
#include "regions.h"

/*
 * Serve one COPY request on window w backed by b -- or, when rs is not NULL
 * (`--backing none`), by the regions mapped in it, holes reading zeros and
 * dropping writes (regions.h): all sizes, count > 1 (rep
 * stos and rep lods forms, df both ways), data pointers into guest RAM.
 * Reads return their value in req->data. Returns 0, or a negative errno if
 * the request was refused (counted; req->data is then all ones for reads).
 * Work is bounded: at most one page of data per request, as Xen sends.
 */
int emulate_copy(const struct backing *b, struct regions *rs, const struct bar_window *w,
                 struct guest_ram *ram, struct counters *cnt, ioreq_t *req);

#endif
