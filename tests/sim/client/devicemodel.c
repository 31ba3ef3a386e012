/* SPDX-License-Identifier: MIT */
/*
 * libxendevicemodel on the simulated hypervisor: every call is one dm_op,
 * carried as one request on the handle's connection. Prototypes come from the
 * installed <xendevicemodel.h>, so the daemon compiles against the same API.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <xendevicemodel.h>

#include "conn.h"

struct xendevicemodel_handle {
    struct sim_conn conn;
};

xendevicemodel_handle *xendevicemodel_open(struct xentoollog_logger *logger, unsigned int open_flags)
{
    struct xendevicemodel_handle *h = calloc(1, sizeof(*h));
    struct sim_reply reply;
    int rc;

    (void)logger;
    (void)open_flags;
    if (!h)
        return NULL;
    rc = sim_conn_open(&h->conn, SIM_HANDLE_DEVICEMODEL, &reply, NULL);
    if (rc) {
        free(h);
        errno = -rc;
        return NULL;
    }
    sim_conn_register(&h->conn);
    return h;
}

int xendevicemodel_close(xendevicemodel_handle *dmod)
{
    if (!dmod)
        return 0;
    sim_conn_unregister(&dmod->conn);
    sim_conn_close(&dmod->conn);
    free(dmod);
    return 0;
}

static int dm_call(xendevicemodel_handle *dmod, struct sim_req *req, struct sim_reply *reply)
{
    struct sim_reply scratch;

    return sim_errno_return(sim_conn_call(&dmod->conn, req, reply ? reply : &scratch, -1, NULL));
}

int xendevicemodel_create_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                       int handle_bufioreq, ioservid_t *id)
{
    struct sim_req req = {.op = SIM_OP_CREATE_SERVER, .domid = domid};
    struct sim_reply reply;
    int rc;

    /* The dm_op field is a uint8_t: the real library truncates the int it is given. */
    req.u.create.handle_bufioreq = (uint8_t)handle_bufioreq;
    rc = dm_call(dmod, &req, &reply);
    if (rc == 0)
        *id = reply.u.create.id;
    return rc;
}

int xendevicemodel_get_ioreq_server_info(xendevicemodel_handle *dmod, domid_t domid,
                                         ioservid_t id, xen_pfn_t *ioreq_gfn,
                                         xen_pfn_t *bufioreq_gfn, evtchn_port_t *bufioreq_port)
{
    struct sim_req req = {.op = SIM_OP_GET_SERVER_INFO, .domid = domid};
    struct sim_reply reply;
    int rc;

    req.u.info.id = id;
    /* As the real library: XEN_DMOP_no_gfns unless a gfn is asked for. */
    req.u.info.want_gfns = ioreq_gfn || bufioreq_gfn;
    rc = dm_call(dmod, &req, &reply);
    if (rc)
        return rc;
    if (ioreq_gfn)
        *ioreq_gfn = reply.u.info.ioreq_gfn;
    if (bufioreq_gfn)
        *bufioreq_gfn = reply.u.info.bufioreq_gfn;
    if (bufioreq_port)
        *bufioreq_port = reply.u.info.bufioreq_port;
    return 0;
}

static int io_range_call(xendevicemodel_handle *dmod, enum sim_op op, domid_t domid, ioservid_t id,
                         uint32_t type, uint64_t start, uint64_t end)
{
    struct sim_req req = {.op = op, .domid = domid};

    req.u.range.id = id;
    req.u.range.type = type;
    req.u.range.start = start;
    req.u.range.end = end;
    return dm_call(dmod, &req, NULL);
}

int xendevicemodel_map_io_range_to_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                                ioservid_t id, int is_mmio, uint64_t start,
                                                uint64_t end)
{
    /* The real library maps is_mmio to one of two range types, nothing else. */
    return io_range_call(dmod, SIM_OP_MAP_IO_RANGE, domid, id,
                         is_mmio ? XEN_DMOP_IO_RANGE_MEMORY : XEN_DMOP_IO_RANGE_PORT, start, end);
}

int xendevicemodel_unmap_io_range_from_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                                    ioservid_t id, int is_mmio, uint64_t start,
                                                    uint64_t end)
{
    return io_range_call(dmod, SIM_OP_UNMAP_IO_RANGE, domid, id,
                         is_mmio ? XEN_DMOP_IO_RANGE_MEMORY : XEN_DMOP_IO_RANGE_PORT, start, end);
}

static int pcidev_call(xendevicemodel_handle *dmod, enum sim_op op, domid_t domid, ioservid_t id,
                       uint16_t segment, uint8_t bus, uint8_t device, uint8_t function)
{
    struct sim_req req = {.op = op, .domid = domid};

    /* The real library rejects out-of-range device/function numbers itself. */
    if (device > 0x1f || function > 0x7) {
        errno = EINVAL;
        return -1;
    }
    req.u.pcidev.id = id;
    req.u.pcidev.sbdf = XEN_DMOP_PCI_SBDF(segment, bus, device, function);
    return dm_call(dmod, &req, NULL);
}

int xendevicemodel_map_pcidev_to_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                              ioservid_t id, uint16_t segment, uint8_t bus,
                                              uint8_t device, uint8_t function)
{
    return pcidev_call(dmod, SIM_OP_MAP_PCIDEV, domid, id, segment, bus, device, function);
}

int xendevicemodel_unmap_pcidev_from_ioreq_server(xendevicemodel_handle *dmod, domid_t domid,
                                                  ioservid_t id, uint16_t segment, uint8_t bus,
                                                  uint8_t device, uint8_t function)
{
    return pcidev_call(dmod, SIM_OP_UNMAP_PCIDEV, domid, id, segment, bus, device, function);
}

int xendevicemodel_set_ioreq_server_state(xendevicemodel_handle *dmod, domid_t domid,
                                          ioservid_t id, int enabled)
{
    struct sim_req req = {.op = SIM_OP_SET_SERVER_STATE, .domid = domid};

    req.u.state.id = id;
    req.u.state.enabled = !!enabled;
    return dm_call(dmod, &req, NULL);
}

int xendevicemodel_destroy_ioreq_server(xendevicemodel_handle *dmod, domid_t domid, ioservid_t id)
{
    struct sim_req req = {.op = SIM_OP_DESTROY_SERVER, .domid = domid};

    req.u.server.id = id;
    return dm_call(dmod, &req, NULL);
}

int xendevicemodel_nr_vcpus(xendevicemodel_handle *dmod, domid_t domid, unsigned int *vcpus)
{
    struct sim_req req = {.op = SIM_OP_NR_VCPUS, .domid = domid};
    struct sim_reply reply;
    int rc = dm_call(dmod, &req, &reply);

    if (rc == 0)
        *vcpus = reply.u.vcpus.nr;
    return rc;
}

int xendevicemodel_inject_event(xendevicemodel_handle *dmod, domid_t domid, int vcpu,
                                uint8_t vector, uint8_t type, uint32_t error_code,
                                uint8_t insn_len, uint64_t extra)
{
    struct sim_req req = {.op = SIM_OP_INJECT_EVENT, .domid = domid};

    req.u.inject.vcpu = (uint32_t)vcpu;
    req.u.inject.vector = vector;
    req.u.inject.type = type;
    req.u.inject.error_code = error_code;
    req.u.inject.insn_len = insn_len;
    req.u.inject.extra = extra;
    return dm_call(dmod, &req, NULL);
}

int xendevicemodel_restrict(xendevicemodel_handle *dmod, domid_t domid)
{
    struct sim_req req = {.op = SIM_OP_RESTRICT, .domid = domid};

    return dm_call(dmod, &req, NULL);
}
