/* SPDX-License-Identifier: MIT */
/* libxentoolcore on the simulated hypervisor: restrict every open handle. */
#include <xentoolcore.h>

#include "conn.h"

int xentoolcore_restrict_all(domid_t domid)
{
    return sim_errno_return(sim_conn_restrict_all(domid));
}
