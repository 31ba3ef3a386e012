/* SPDX-License-Identifier: MIT */
/*
 * Owns the conf1 address latch and the host bridge's config space
 * (conf1.h): the answers a PVH guest's kernel needs to decide that conf1
 * works (Linux's pci_check_type1 and pci_sanity_check).
 */
#include "conf1.h"

#include <errno.h>
#include <string.h>

#include "util.h"

_Static_assert(CONF1_PORT_LAST - CONF1_PORT_FIRST + 1 == 8, "conf1 is eight ports");

static void put16(uint8_t *cfg, unsigned int off, uint16_t v)
{
    cfg[off] = (uint8_t)v;
    cfg[off + 1] = (uint8_t)(v >> 8);
}

void conf1_init(struct conf1 *c)
{
    memset(c, 0, sizeof(*c));
    put16(c->bridge_cfg, PCI_CFG_VENDOR_ID, HOST_BRIDGE_VENDOR);
    put16(c->bridge_cfg, PCI_CFG_DEVICE_ID, HOST_BRIDGE_DEVICE);
    c->bridge_cfg[PCI_CFG_REVISION] = HOST_BRIDGE_REV;
    c->bridge_cfg[PCI_CFG_CLASS_PROG] = (uint8_t)HOST_BRIDGE_CLASS;
    c->bridge_cfg[PCI_CFG_CLASS_PROG + 1] = (uint8_t)(HOST_BRIDGE_CLASS >> 8);
    c->bridge_cfg[PCI_CFG_CLASS_PROG + 2] = (uint8_t)(HOST_BRIDGE_CLASS >> 16);
    /* Header type 0, single function; COMMAND, STATUS, BARs, capabilities: all zero. */
}

static void refuse_port(ioreq_t *req, struct counters *cnt)
{
    cnt->reject_port++;
    cnt->ioreqs_rejected++;
    if (req->dir == IOREQ_READ && !req->data_is_ptr)
        req->data = ~0ULL;
}

bool conf1_port_request(struct conf1 *c, ioreq_t *req, struct counters *cnt)
{
    uint64_t port = req->addr;
    uint32_t size = req->size;

    /* One access of 1, 2 or 4 bytes (no rep ins/outs), inside one of the two registers. */
    if (req->count != 1 || req->data_is_ptr || (size != 1 && size != 2 && size != 4) ||
        port < CONF1_PORT_FIRST || port > CONF1_PORT_LAST ||
        (port < CONF1_DATA_PORT && port + size > CONF1_DATA_PORT) ||
        port + size > CONF1_PORT_LAST + 1) {
        refuse_port(req, cnt);
        return false;
    }
    cnt->ioreqs_pio++;
    if (port >= CONF1_DATA_PORT) {
        /*
         * Xen sends a data-port access here only while its latch does not
         * enable a config cycle: no function is addressed, as on a bus
         * where conf1 is disabled. Reads float high, writes go nowhere.
         */
        if (req->dir == IOREQ_READ)
            req->data = size_mask(size);
        return true;
    }
    if (req->dir == IOREQ_WRITE) {
        /* Exactly the writes Xen's hvm_access_cf8 latches: 4 bytes at 0xCF8. */
        if (port == CONF1_ADDR_PORT && size == 4)
            c->latch = (uint32_t)req->data;
        return true;
    }
    req->data = (c->latch >> (8 * (port - CONF1_ADDR_PORT))) & size_mask(size);
    return true;
}

int conf1_bridge_config(struct conf1 *c, uint32_t reg, uint32_t size, int dir, uint32_t *val)
{
    if ((size != 1 && size != 2 && size != 4) || reg >= PCI_CFG_SPACE_SIZE || reg % size) {
        if (dir == IOREQ_READ)
            *val = 0xffffffffu;
        return -EINVAL;
    }
    if (dir == IOREQ_READ) {
        uint32_t v = 0;

        for (uint32_t i = 0; i < size; i++)
            v |= (uint32_t)c->bridge_cfg[reg + i] << (8 * i);
        *val = v;
    }
    return 0;
}
