// SPDX-License-Identifier: GPL-2.0
/*
 * Prints the layout and numbers of the lending uapi: build.sh compiles it
 * once with privcmd-lend-uapi.h and once with ioreq-lend's lend_abi.h (-DABI)
 * and requires the same output. The version number is left out: the daemon's
 * header may trail the kernel's (it accepts any version LEND_VERSION returns).
 */
#include <stddef.h>
#include <stdio.h>
#ifdef ABI
#include "lend_abi.h"
#else
#include "privcmd-lend-uapi.h"
#endif

#define F(s, m) printf("%s.%s %zu %zu\n", #s, #m, offsetof(struct s, m), \
		       sizeof(((struct s *)0)->m))

int main(void)
{
	printf("sizes %zu %zu %zu %zu\n", sizeof(struct privcmd_lend_slot),
	       sizeof(struct privcmd_lend_range),
	       sizeof(struct privcmd_lend_event),
	       sizeof(struct privcmd_lend_age));
	F(privcmd_lend_slot, slot);
	F(privcmd_lend_slot, flags);
	F(privcmd_lend_slot, first_gfn);
	F(privcmd_lend_slot, uaddr);
	F(privcmd_lend_slot, pages);
	F(privcmd_lend_range, slot);
	F(privcmd_lend_range, flags);
	F(privcmd_lend_range, first_page);
	F(privcmd_lend_range, count);
	F(privcmd_lend_range, done);
	F(privcmd_lend_event, slot);
	F(privcmd_lend_event, reason);
	F(privcmd_lend_event, first_page);
	F(privcmd_lend_event, count);
	F(privcmd_lend_age, slot);
	F(privcmd_lend_age, flags);
	F(privcmd_lend_age, first_page);
	F(privcmd_lend_age, count);
	F(privcmd_lend_age, bitmap);
	F(privcmd_lend_age, young);
	printf("ioctls %#lx %#lx %#lx %#lx\n",
	       (unsigned long)IOCTL_PRIVCMD_LEND_VERSION,
	       (unsigned long)IOCTL_PRIVCMD_LEND_SET_SLOT,
	       (unsigned long)IOCTL_PRIVCMD_LEND_MAP,
	       (unsigned long)IOCTL_PRIVCMD_LEND_UNMAP);
	printf("age %#lx %d %d\n", (unsigned long)IOCTL_PRIVCMD_LEND_AGE,
	       PRIVCMD_LEND_VERSION_AGE, LEND_AGE_MAX_PAGES);
	printf("limits %d %d flags %#x\n", LEND_MAX_SLOTS, LEND_EVENT_QUEUE,
	       (unsigned int)LEND_SLOT_F_READONLY);
	printf("reasons %d %d %d\n", LEND_EV_MIGRATED, LEND_EV_UNMAPPED,
	       LEND_EV_OVERFLOW);
	return 0;
}
