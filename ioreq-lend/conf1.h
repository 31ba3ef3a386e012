/* SPDX-License-Identifier: MIT */
/*
 * What a PVH guest lacks for its kernel to find a PCI function: an answer on
 * the conf1 address port (0xCF8) and a host bridge at 00:00.0. QEMU gives
 * both to an HVM guest; a PVH guest has no QEMU, so one daemon per PVH
 * domain (--host-bridge) claims the port range 0xCF8-0xCFF and function
 * 00:00.0 on its own ioreq server and answers them here.
 *
 * How Xen 4.17 routes these accesses (xen/arch/x86/hvm/ioreq.c):
 *  - a 4-byte write to 0xCF8 is latched by Xen itself (hvm_access_cf8), and
 *    every access to 0xCF8-0xCFB then goes on to the ioreq server claiming
 *    the port: we latch the same writes, so a read returns what Xen holds;
 *  - an access to 0xCFC-0xCFF while Xen's latch has bit 31 set becomes a
 *    PCI_CONFIG request for the server claiming the addressed function, or
 *    reads all ones if none does: Xen does that routing, not us;
 *  - with bit 31 clear, 0xCFC-0xCFF are plain ports: they come to us, and
 *    read all ones (no config cycle is addressed), writes dropped.
 * Xen routes a port range to one ioreq server (the first that claims it), so
 * exactly one daemon per domain may claim it: the launcher passes
 * --host-bridge to its first spec only, and a lock file makes a second one
 * fail (conf1_* below keep no state besides the latch).
 */
#ifndef IOREQ_LEND_CONF1_H
#define IOREQ_LEND_CONF1_H

#include <stdbool.h>
#include <stdint.h>

#include <xen/hvm/ioreq.h>

#include "bar.h"
#include "counters.h"

#define CONF1_ADDR_PORT  0xcf8
#define CONF1_DATA_PORT  0xcfc
#define CONF1_PORT_FIRST 0xcf8
#define CONF1_PORT_LAST  0xcff
#define CONF1_ENABLE     0x80000000u

/* The host bridge: what QEMU's i440FX shows an HVM guest, so Linux and lspci know it. */
#define HOST_BRIDGE_VENDOR 0x8086
#define HOST_BRIDGE_DEVICE 0x1237
#define HOST_BRIDGE_REV    0x02
#define HOST_BRIDGE_CLASS  0x060000 /* bridge, host, no programming interface */

struct conf1 {
    uint32_t latch;                         /* what Xen latched: the last 4-byte write to 0xCF8 */
    uint8_t bridge_cfg[PCI_CFG_SPACE_SIZE]; /* the host bridge's config space: read-only */
};

/* Power-on: latch 0, the host bridge's header (IDs, class, no BARs, no capabilities). */
void conf1_init(struct conf1 *c);

/*
 * A port request (IOREQ_TYPE_PIO) to 0xCF8-0xCFF, a private copy: answers
 * through req->data. Anything else a guest can send (a string access, a
 * size other than 1, 2 or 4, an access crossing 0xCFC or leaving the range)
 * is refused: reads all ones, writes dropped, counted. Returns true if it
 * was served (counted in ioreqs.pio), false if refused.
 */
bool conf1_port_request(struct conf1 *c, ioreq_t *req, struct counters *cnt);

/*
 * A config cycle for 00:00.0 (reg and size already checked by the caller's
 * rules: naturally aligned, 1, 2 or 4 bytes). Reads return the header,
 * writes are dropped: nothing in a host bridge's header is ours to change.
 * Returns 0, or -EINVAL (all ones) for an access outside the rules.
 */
int conf1_bridge_config(struct conf1 *c, uint32_t reg, uint32_t size, int dir, uint32_t *val);

#endif
