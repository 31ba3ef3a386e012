/* SPDX-License-Identifier: MIT */
/*
 * Preloaded into libvirtd by the libvirt case, under QEMU's TCG only.
 *
 * libvirt 9.0's libxl driver names the host CPU from Xen's physinfo (hw_cap)
 * when it starts, and refuses to load when no model of its CPU map fits
 * ("x86Decode: Cannot find suitable CPU model for given data", then
 * "cannot create capabilities for libxenlight"): the harness's emulated EPYC
 * lacks features every such model requires. An all-zero first word is how
 * libvirt skips that step (ARM's physinfo has one: libxlCapsInitCPU()); the
 * guests here name no CPU model, so nothing else depends on it.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <libxl.h>

int libxl_get_physinfo(libxl_ctx *ctx, libxl_physinfo *physinfo)
{
    static int (*real)(libxl_ctx *, libxl_physinfo *);
    int rc;

    if (!real)
        real = (int (*)(libxl_ctx *, libxl_physinfo *))dlsym(RTLD_NEXT, "libxl_get_physinfo");
    if (!real)
        return ERROR_FAIL;
    rc = real(ctx, physinfo);
    if (rc == 0)
        physinfo->hw_cap[0] = 0;
    return rc;
}
