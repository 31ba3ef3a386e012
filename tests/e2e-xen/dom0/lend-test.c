// SPDX-License-Identifier: GPL-2.0
/*
 * lend-test: dom0's checks of the privcmd lending ioctls (upstream/linux/),
 * built static on the host and run by cases/lend-ioctl.sh. No guest needed:
 * everything checked here happens before the kernel's first XENMEM_lend_map,
 * or is the hypercall's answer for a domain that does not exist.
 *
 *   lend-test ioctl lend|stock   the ioctls' error paths, the event queue,
 *                       release (lend); or that Debian's privcmd answers
 *                       ENOTTY (stock)
 *   lend-test events    with the fake-xen build of the module (its hypercalls
 *                       succeed without Xen and count what Xen would hold):
 *                       real MM events (reclaim, soft offline, hole punch,
 *                       mprotect, hwpoison, munmap) produce the right events
 *                       and revoke exactly the pages mapped; merging,
 *                       overflow, delete, close and kill -9 revoke everything
 *
 * And the tools a lending case uses on a running daemon (PID, FD: the
 * daemon's memfd as /proc/PID/fd/FD; OFF, LEN in bytes):
 *
 *   lend-test pageout PID OFF LEN      process_madvise(MADV_PAGEOUT) on the
 *                                      daemon's mapping of its memfd
 *   lend-test soft-offline PID FD OFF LEN   MADV_SOFT_OFFLINE on our own
 *                                      mapping of the memfd (pages migrate)
 *   lend-test punch PID FD OFF LEN     fallocate(PUNCH_HOLE) on the memfd
 *   lend-test hwpoison PID FD OFF LEN  MADV_HWPOISON on our own mapping of the
 *                                      memfd: the content is lost
 *   lend-test fill PID FD OFF LEN VALUE   every 8-byte word of the memfd there
 *                                      set to VALUE through our own mapping
 *                                      (the fresh pattern a stale p2m entry
 *                                      would hide from the guest)
 *   lend-test pfns PID OFF LEN         the daemon's PFNs there (pagemap)
 *   lend-test probe                    "lending" or "stock": Xen's answer to
 *                                      XENMEM_lend_unmap (ENOSYS: stock)
 *
 * Output (ioctl): one line per check, "ok NAME DETAIL" or "FAIL NAME DETAIL",
 * "skip NAME REASON" where a prerequisite is missing; exit 1 if any failed.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <unistd.h>

#include <xen/xen.h>
#include <xen/sys/privcmd.h>

#include "privcmd-lend-uapi.h"

#define PAGE 4096UL
#ifndef MADV_SOFT_OFFLINE
#define MADV_SOFT_OFFLINE 101 /* asm-generic/mman-common.h; glibc lacks it */
#endif
#define XENMEM_lend_unmap 30
#define XENMEM_lend_age 31
#define NO_DOMID 0x7fe0 /* below DOMID_FIRST_RESERVED, never created here */

/* The hypervisor's struct (lend_abi.h Part 1), for the direct probe. */
struct xen_lend_map {
	uint16_t domid;
	uint16_t flags;
	uint32_t nr;
	uint64_t first_gfn;
	uint64_t frames;
};

static int failures;

static void report(bool ok, const char *name, const char *fmt, ...)
{
	va_list ap;

	printf("%s %s ", ok ? "ok" : "FAIL", name);
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	putchar('\n');
	fflush(stdout);
	failures += !ok;
}

static const char *en(int e)
{
	static char buf[8][24];
	static unsigned int n;
	const char *s = e ? strerrorname_np(e) : "0";

	if (s)
		return s;
	snprintf(buf[n % 8], sizeof(buf[0]), "errno %d", e);
	return buf[n++ % 8];
}

/* The errno of an ioctl, 0 on success. */
static int xioctl(int fd, unsigned long req, void *arg)
{
	return ioctl(fd, req, arg) < 0 ? errno : 0;
}

static void expect(const char *name, int got, int want)
{
	report(got == want, name, "got %s, want %s", en(got), en(want));
}

static int set_slot(int fd, uint32_t slot, uint32_t flags, uint64_t gfn,
		    const void *uaddr, uint64_t pages)
{
	struct privcmd_lend_slot s = {
		.slot = slot, .flags = flags, .first_gfn = gfn,
		.uaddr = (uintptr_t)uaddr, .pages = pages,
	};

	return xioctl(fd, IOCTL_PRIVCMD_LEND_SET_SLOT, &s);
}

static int lend_range(int fd, unsigned long req, uint32_t slot, uint32_t flags,
		      uint64_t first, uint64_t count, uint64_t *done)
{
	struct privcmd_lend_range r = {
		.slot = slot, .flags = flags, .first_page = first,
		.count = count, .done = UINT64_MAX,
	};
	int e = xioctl(fd, req, &r);

	if (done)
		*done = r.done;
	return e;
}

/* LEND_AGE of pages [first, first + count) into bits; young set on success. */
static int lend_age(int fd, uint32_t slot, uint32_t flags, uint64_t first, uint64_t count,
		    uint64_t *bits, uint64_t *young)
{
	struct privcmd_lend_age a = {
		.slot = slot, .flags = flags, .first_page = first, .count = count,
		.bitmap = (uintptr_t)bits, .young = UINT64_MAX,
	};
	int e = xioctl(fd, IOCTL_PRIVCMD_LEND_AGE, &a);

	if (young)
		*young = a.young;
	return e;
}

static int open_privcmd(int flags)
{
	int fd = open("/dev/xen/privcmd", O_RDWR | O_CLOEXEC | flags);

	if (fd < 0) {
		report(false, "open_privcmd", "/dev/xen/privcmd: %s", strerror(errno));
		exit(1);
	}
	return fd;
}

static int open_restricted(domid_t domid)
{
	int fd = open_privcmd(O_NONBLOCK);

	if (xioctl(fd, IOCTL_PRIVCMD_RESTRICT, &domid)) {
		report(false, "restrict", "IOCTL_PRIVCMD_RESTRICT: %s", strerror(errno));
		exit(1);
	}
	return fd;
}

static int hypercall(int fd, uint64_t op, uint64_t a0, void *a1)
{
	privcmd_hypercall_t h = { .op = op, .arg = { a0, (uintptr_t)a1 } };

	return xioctl(fd, IOCTL_PRIVCMD_HYPERCALL, &h);
}

/* n pages of a fresh memfd, mapped shared with prot; its fd in *mfd. */
static void *memfd_pages(size_t n, int prot, int *mfd)
{
	int fd = memfd_create("lend-test", MFD_CLOEXEC);
	void *p;

	if (fd < 0 || ftruncate(fd, n * PAGE) < 0) {
		perror("memfd");
		exit(1);
	}
	p = mmap(NULL, n * PAGE, prot, MAP_SHARED, fd, 0);
	if (p == MAP_FAILED) {
		perror("mmap");
		exit(1);
	}
	if (mfd)
		*mfd = fd;
	else
		close(fd);
	return p;
}

static void on_alarm(int sig)
{
	(void)sig;
}

static int nonblocking(int fd, bool on)
{
	int fl = fcntl(fd, F_GETFL);

	return fcntl(fd, F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
}

/* Every record a non-blocking read returns now, or -errno. */
static int drain(int fd, struct privcmd_lend_event *ev, int max)
{
	ssize_t got = read(fd, ev, max * sizeof(*ev));

	if (got < 0)
		return -errno;
	return (int)(got / (ssize_t)sizeof(*ev));
}

static int cmd_ioctl(bool stock)
{
	struct privcmd_lend_event ev[4];
	struct xen_lend_map probe = { .domid = NO_DOMID };
	struct sigaction sa = { .sa_handler = on_alarm };
	struct itimerval it = { .it_value = { .tv_usec = 200000 } };
	int fd, rfd, mfd, want_version, e, status;
	uint64_t done;
	char *mem, *hole;
	pid_t pid;
	long v;

	/*
	 * What the hypervisor says, asked directly (root's unrestricted fd):
	 * stock Xen answers an unknown memory_op with ENOSYS.
	 */
	fd = open_privcmd(0);
	e = hypercall(fd, __HYPERVISOR_memory_op, XENMEM_lend_unmap, &probe);
	want_version = e == ENOSYS ? -EOPNOTSUPP : PRIVCMD_LEND_VERSION;
	printf("info xen XENMEM_lend_unmap(nr 0) answers %s: %s\n", en(e),
	       e == ENOSYS ? "stock Xen" : "a Xen with lending");
	/* Revision 3: a Xen with lend_age refuses nr 0 with EINVAL too. */
	if (want_version > 0 &&
	    hypercall(fd, __HYPERVISOR_memory_op, XENMEM_lend_age, &probe) != ENOSYS)
		want_version = PRIVCMD_LEND_VERSION_AGE;

	v = ioctl(fd, IOCTL_PRIVCMD_LEND_VERSION);
	e = v < 0 ? errno : 0;
	if (stock) {
		/* Debian's own privcmd: every lend ioctl is unknown. */
		expect("version_stock_module", e, ENOTTY);
		expect("set_slot_stock_module", set_slot(fd, 0, 0, 0, NULL, 0), ENOTTY);
		expect("map_stock_module", lend_range(fd, IOCTL_PRIVCMD_LEND_MAP, 0, 0, 0, 1, NULL), ENOTTY);
		return failures ? 1 : 0;
	}
	report(v < 0 ? -e == want_version : v == want_version, "version",
	       "LEND_VERSION: %s%ld, want %s%d", v < 0 ? en(e) : "", v < 0 ? 0 : v,
	       want_version < 0 ? en(-want_version) : "", want_version < 0 ? 0 : want_version);

	/* An unrestricted fd has no slots: the fd is the capability. */
	expect("unrestricted_set_slot", set_slot(fd, 0, 0, 0x100000, NULL, 1), EPERM);
	expect("unrestricted_map", lend_range(fd, IOCTL_PRIVCMD_LEND_MAP, 0, 0, 0, 1, NULL), EPERM);
	expect("unrestricted_unmap", lend_range(fd, IOCTL_PRIVCMD_LEND_UNMAP, 0, 0, 0, 1, NULL), EPERM);
	expect("unrestricted_read", read(fd, ev, sizeof(ev)) < 0 ? errno : 0, EINVAL);
	close(fd);

	/* A restricted fd cannot reach memory_op (lend_map/unmap) at all. */
	fd = open_restricted(NO_DOMID);
	expect("restricted_hypercall", hypercall(fd, __HYPERVISOR_memory_op,
						 XENMEM_lend_unmap, &probe), EPERM);
	v = ioctl(fd, IOCTL_PRIVCMD_LEND_VERSION);
	report(v < 0 ? -errno == want_version : v == want_version, "restricted_version",
	       "LEND_VERSION: %s%ld", v < 0 ? en(errno) : "", v < 0 ? 0 : v);

	/* The event queue, empty. */
	expect("read_small_buffer", read(fd, ev, sizeof(ev[0]) - 1) < 0 ? errno : 0, EINVAL);
	e = drain(fd, ev, 4);
	expect("read_empty_nonblocking", e < 0 ? -e : 0, EAGAIN);
	{
		struct pollfd p = { .fd = fd, .events = POLLIN };

		e = poll(&p, 1, 0);
		report(e == 0, "poll_empty", "poll: %d, revents %#x", e, p.revents);
	}
	sigaction(SIGALRM, &sa, NULL); /* no SA_RESTART: read must return EINTR */
	nonblocking(fd, false);
	setitimer(ITIMER_REAL, &it, NULL);
	e = read(fd, ev, sizeof(ev)) < 0 ? errno : 0;
	nonblocking(fd, true);
	expect("read_blocks_until_signal", e, EINTR);

	/* SET_SLOT: arguments. */
	mem = memfd_pages(64, PROT_READ | PROT_WRITE, &mfd);
	expect("slot_index", set_slot(fd, LEND_MAX_SLOTS, 0, 0x100000, mem, 64), EINVAL);
	expect("slot_flags", set_slot(fd, 0, 2, 0x100000, mem, 64), EINVAL);
	expect("slot_unaligned", set_slot(fd, 0, 0, 0x100000, mem + 1, 64), EINVAL);
	expect("slot_too_big", set_slot(fd, 0, 0, 0x100000, mem, 1ULL << 29), EINVAL);
	expect("slot_gfn_range", set_slot(fd, 0, 0, (1ULL << 40) - 8, mem, 64), EINVAL);
	expect("slot_beyond_mapping", set_slot(fd, 0, 0, 0x100000, mem, 65), EFAULT);
	hole = mmap(NULL, 4 * PAGE, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	munmap(hole, 4 * PAGE);
	expect("slot_unmapped", set_slot(fd, 0, 0, 0x100000, hole, 4), EFAULT);
	expect("delete_absent", set_slot(fd, 5, 0, 0, NULL, 0), EINVAL);

	expect("slot_create", set_slot(fd, 0, 0, 0x100000, mem, 64), 0);
	expect("slot_same_again", set_slot(fd, 0, 0, 0x100000, mem, 64), 0);
	expect("slot_other_size", set_slot(fd, 0, 0, 0x100000, mem, 32), EEXIST);
	expect("slot_other_flags", set_slot(fd, 0, LEND_SLOT_F_READONLY, 0x100000, mem, 64), EEXIST);
	expect("slot_move_gfn", set_slot(fd, 0, 0, 0x200000, mem, 64), EINVAL);
	expect("slot_overlap", set_slot(fd, 1, 0, 0x100000 + 63, mem, 64), EINVAL);
	expect("slot_second", set_slot(fd, 1, 0, 0x100000 + 64, mem, 64), 0);

	/* MAP/UNMAP: arguments. */
	expect("map_flags", lend_range(fd, IOCTL_PRIVCMD_LEND_MAP, 0, 1, 0, 1, NULL), EINVAL);
	expect("map_beyond", lend_range(fd, IOCTL_PRIVCMD_LEND_MAP, 0, 0, 64, 1, NULL), EINVAL);
	expect("map_too_many", lend_range(fd, IOCTL_PRIVCMD_LEND_MAP, 0, 0, 1, 64, NULL), EINVAL);
	expect("map_absent_slot", lend_range(fd, IOCTL_PRIVCMD_LEND_MAP, 7, 0, 0, 1, NULL), EINVAL);
	e = lend_range(fd, IOCTL_PRIVCMD_LEND_MAP, 0, 0, 3, 0, &done);
	report(e == 0 && done == 0, "map_nothing", "count 0: %s, done %" PRIu64, en(e), done);
	expect("unmap_flags", lend_range(fd, IOCTL_PRIVCMD_LEND_UNMAP, 0, 1, 0, 1, NULL), EINVAL);
	expect("unmap_unmapped", lend_range(fd, IOCTL_PRIVCMD_LEND_UNMAP, 0, 0, 0, 64, NULL), 0);

	/*
	 * The pages resolve; the hypercall refuses: stock Xen has no lend_map
	 * (EOPNOTSUPP), a lending Xen has no domain NO_DOMID (ESRCH).
	 */
	e = lend_range(fd, IOCTL_PRIVCMD_LEND_MAP, 0, 0, 0, 64, &done);
	report(e == (want_version < 0 ? EOPNOTSUPP : ESRCH) && done == 0, "map_refused_by_xen",
	       "%s, done %" PRIu64, en(e), done);

	/*
	 * LEND_AGE (revision 3): arguments, then the hypercall: no lend_age in
	 * Xen (EOPNOTSUPP), or no domain NO_DOMID (ESRCH).
	 */
	{
		static uint64_t bits[LEND_AGE_MAX_PAGES / 64];
		uint64_t young;

		expect("age_flags", lend_age(fd, 0, 1, 0, 1, bits, NULL), EINVAL);
		expect("age_nothing", lend_age(fd, 0, 0, 0, 0, bits, NULL), EINVAL);
		expect("age_beyond", lend_age(fd, 0, 0, 64, 1, bits, NULL), EINVAL);
		expect("age_absent_slot", lend_age(fd, 7, 0, 0, 1, bits, NULL), EINVAL);
		expect("age_too_many", lend_age(fd, 0, 0, 0, LEND_AGE_MAX_PAGES + 1, bits, NULL), E2BIG);
		e = lend_age(fd, 0, 0, 0, 64, bits, &young);
		report(e == (want_version == PRIVCMD_LEND_VERSION_AGE ? ESRCH : EOPNOTSUPP),
		       "age_refused_by_xen", "%s (LEND_VERSION %d)", en(e), want_version);
	}

	/* Another process (mm) than the one that set the slot: EIO. */
	pid = fork();
	if (pid == 0) {
		int r = 0;

		r |= (lend_range(fd, IOCTL_PRIVCMD_LEND_MAP, 0, 0, 0, 1, NULL) != EIO) << 0;
		r |= (lend_range(fd, IOCTL_PRIVCMD_LEND_UNMAP, 0, 0, 0, 1, NULL) != EIO) << 1;
		r |= (set_slot(fd, 0, 0, 0x100000, mem, 64) != EIO) << 2;
		r |= (set_slot(fd, 0, 0, 0, NULL, 0) != EIO) << 3;
		r |= (lend_age(fd, 0, 0, 0, 1, (uint64_t[1]){0}, NULL) != EIO) << 4;
		_exit(r);
	}
	waitpid(pid, &status, 0);
	report(WIFEXITED(status) && WEXITSTATUS(status) == 0, "other_mm_eio",
	       "child map/unmap/set/delete/age not EIO: mask %#x", WEXITSTATUS(status));

	/* Pages that cannot be faulted in while the mapping covers them: ENODATA. */
	if (ftruncate(mfd, 48 * PAGE) == 0) {
		e = lend_range(fd, IOCTL_PRIVCMD_LEND_MAP, 1, 0, 48, 16, &done);
		report(e == ENODATA && done == 0, "map_truncated_enodata",
		       "pages beyond EOF: %s, done %" PRIu64, en(e), done);
		/* The first 48 resolve, then the hypercall decides (as above). */
		e = lend_range(fd, IOCTL_PRIVCMD_LEND_MAP, 1, 0, 40, 16, &done);
		report(e == (want_version < 0 ? EOPNOTSUPP : ESRCH) && done == 0,
		       "map_before_truncated", "pages 40..55 (48.. beyond EOF): %s, done %" PRIu64,
		       en(e), done);
		if (ftruncate(mfd, 64 * PAGE) < 0)
			perror("ftruncate");
	}
	{
		int pfd;
		char *p = memfd_pages(4, PROT_READ | PROT_WRITE, &pfd);

		p[PAGE] = 1;
		if (madvise(p + PAGE, PAGE, MADV_HWPOISON) == 0) {
			expect("slot_poisoned", set_slot(fd, 2, 0, 0x300000, p, 4), 0);
			e = lend_range(fd, IOCTL_PRIVCMD_LEND_MAP, 2, 0, 1, 2, &done);
			report(e == ENODATA && done == 0, "map_hwpoison_enodata",
			       "a poisoned page: %s, done %" PRIu64, en(e), done);
			expect("slot_poisoned_delete", set_slot(fd, 2, 0, 0, NULL, 0), 0);
		} else {
			printf("skip map_hwpoison_enodata MADV_HWPOISON: %s\n", strerror(errno));
		}
	}

	/* Mappings that cannot be lent: EFAULT. */
	{
		char *ro = mmap(NULL, 4 * PAGE, PROT_READ, MAP_SHARED, mfd, 0);
		char *io = mmap(NULL, 4 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);

		expect("slot_readonly_mapping", set_slot(fd, 3, 0, 0x400000, ro, 4), 0);
		e = lend_range(fd, IOCTL_PRIVCMD_LEND_MAP, 3, 0, 0, 4, &done);
		report(e == EFAULT && done == 0, "map_writable_slot_on_readonly_mapping",
		       "%s, done %" PRIu64, en(e), done);
		expect("slot_readonly_delete", set_slot(fd, 3, 0, 0, NULL, 0), 0);
		expect("slot_readonly_lend", set_slot(fd, 3, LEND_SLOT_F_READONLY, 0x400000, ro, 4), 0);
		e = lend_range(fd, IOCTL_PRIVCMD_LEND_MAP, 3, 0, 0, 4, &done);
		report(e == (want_version < 0 ? EOPNOTSUPP : ESRCH) && done == 0,
		       "map_readonly_slot_resolves", "%s, done %" PRIu64, en(e), done);
		if (io != MAP_FAILED) {
			/* privcmd's own mmap is VM_IO | VM_PFNMAP. */
			expect("slot_pfnmap", set_slot(fd, 4, 0, 0x500000, io, 4), 0);
			e = lend_range(fd, IOCTL_PRIVCMD_LEND_MAP, 4, 0, 0, 4, &done);
			report(e == EFAULT && done == 0, "map_pfnmap_efault", "%s, done %" PRIu64,
			       en(e), done);
			expect("slot_pfnmap_delete", set_slot(fd, 4, 0, 0, NULL, 0), 0);
			munmap(io, 4 * PAGE); /* it holds the file: release needs it gone */
		} else {
			report(false, "map_pfnmap_efault", "mmap of privcmd: %s", strerror(errno));
		}
		munmap(ro, 4 * PAGE);
	}

	/* The mapping behind a slot goes away: the slot is dead until set again. */
	munmap(mem, 64 * PAGE);
	e = lend_range(fd, IOCTL_PRIVCMD_LEND_MAP, 0, 0, 0, 1, &done);
	report(e == EFAULT && done == 0, "map_after_munmap_efault", "%s, done %" PRIu64, en(e), done);
	/* Nothing was ever mapped, so none of this produced an event. */
	e = drain(fd, ev, 4);
	report(e == -EAGAIN, "no_events_without_mapped_pages", "read: %s",
	       e < 0 ? en(-e) : "records");
	mem = mmap(mem, 64 * PAGE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, mfd, 0);
	expect("dead_slot_set_again", set_slot(fd, 0, 0, 0x100000, mem, 64), 0);
	e = lend_range(fd, IOCTL_PRIVCMD_LEND_MAP, 0, 0, 0, 8, &done);
	report(e == (want_version < 0 ? EOPNOTSUPP : ESRCH) && done == 0, "map_after_set_again",
	       "%s, done %" PRIu64, en(e), done);

	/* Close with slots set: release removes them; the device still works. */
	close(fd);
	rfd = open_restricted(NO_DOMID);
	expect("reopen_slot", set_slot(rfd, 0, 0, 0x100000, mem, 64), 0);
	close(rfd);
	return failures ? 1 : 0;
}

/* ------------------------------------------------------------------ events (fake Xen) */

/* The entries the fake hypervisor holds (fake-xen build's parameter), -1 if none. */
static long fake_lent(void)
{
	FILE *f = fopen("/sys/module/xen_privcmd/parameters/fake_lent", "r");
	long n = -1;

	if (f) {
		if (fscanf(f, "%ld", &n) != 1)
			n = -1;
		fclose(f);
	}
	return n;
}

/* Read every pending record into ev (at most max); the count, or -errno. */
static int events(int fd, struct privcmd_lend_event *ev, int max)
{
	int n = 0, got;

	while (n < max && (got = drain(fd, ev + n, max - n)) > 0)
		n += got;
	return n ? n : got;
}

static char evbuf[512];

static const char *evstr(const struct privcmd_lend_event *ev, int n)
{
	size_t o = 0;

	evbuf[0] = 0;
	if (n < 0)
		snprintf(evbuf, sizeof(evbuf), "read: %s", en(-n));
	for (int i = 0; i < n && o < sizeof(evbuf) - 64; i++)
		o += snprintf(evbuf + o, sizeof(evbuf) - o, "%s{slot %u reason %u [%llu,+%llu)}",
			      i ? " " : "", ev[i].slot, ev[i].reason,
			      (unsigned long long)ev[i].first_page, (unsigned long long)ev[i].count);
	return n == 0 ? "none" : evbuf;
}

/* One record of slot 0 with this reason and range, and nothing else. */
static void expect_one(const char *name, int fd, uint32_t reason, uint64_t first, uint64_t count)
{
	struct privcmd_lend_event ev[8];
	int n = events(fd, ev, 8);

	report(n == 1 && ev[0].slot == 0 && ev[0].reason == reason && ev[0].first_page == first &&
	       ev[0].count == count, name, "%s; want {slot 0 reason %u [%" PRIu64 ",+%" PRIu64 ")}",
	       evstr(ev, n), reason, first, count);
}

/*
 * The events after an operation that must revoke [first, first + count):
 * records of slot 0 that cover that range, add up to exactly the entries the
 * fake Xen lost (each revoked page reported once), and have the given reason
 * (UNMAPPED records must also lie inside the range). Splitting a VMA inside a
 * 2 MiB range (mprotect or munmap of part of it) makes Linux 6.1 invalidate
 * the whole 2 MiB first (__split_huge_pmd(), THP or not), so neighbours may be
 * reported too, as MIGRATED.
 */
static void expect_cover(const char *name, int fd, uint32_t reason, uint64_t first,
			 uint64_t count, long lent_before)
{
	static struct privcmd_lend_event ev[64];
	static unsigned char seen[1 << 16];
	uint64_t sum = 0, covered = 0;
	bool ok, reason_ok = true;
	int n = events(fd, ev, 64);

	memset(seen, 0, sizeof(seen));
	for (int i = 0; i < n; i++) {
		sum += ev[i].count;
		if (ev[i].slot != 0 || ev[i].first_page + ev[i].count > sizeof(seen))
			reason_ok = false;
		else
			memset(seen + ev[i].first_page, 1, ev[i].count);
		if (ev[i].reason == LEND_EV_UNMAPPED)
			reason_ok &= ev[i].first_page >= first &&
				     ev[i].first_page + ev[i].count <= first + count;
		reason_ok &= ev[i].reason == reason || ev[i].reason == LEND_EV_MIGRATED;
	}
	for (uint64_t i = first; i < first + count && i < sizeof(seen); i++)
		covered += seen[i];
	ok = n > 0 && reason_ok && covered == count && (long)sum == lent_before - fake_lent();
	if (reason != LEND_EV_MIGRATED) {
		bool any = false;

		for (int i = 0; i < n; i++)
			any |= ev[i].reason == reason;
		ok &= any;
	}
	report(ok, name, "%s; %llu of [%llu,+%llu) covered, %llu reported, fake Xen lost %ld",
	       evstr(ev, n), (unsigned long long)covered, (unsigned long long)first,
	       (unsigned long long)count, (unsigned long long)sum, lent_before - fake_lent());
}

static void expect_lent(const char *name, long want)
{
	long got = fake_lent();

	report(got == want, name, "fake Xen holds %ld entries, want %ld", got, want);
}

static void expect_map(const char *name, int fd, uint64_t first, uint64_t count, int want,
		       uint64_t want_done)
{
	uint64_t done;
	int e = lend_range(fd, IOCTL_PRIVCMD_LEND_MAP, 0, 0, first, count, &done);

	report(e == want && done == want_done, name, "map [%" PRIu64 ",+%" PRIu64 "): %s, done %" PRIu64
	       " (want %s, %" PRIu64 ")", first, count, en(e), done, en(want), want_done);
}

static int punch(int mfd, uint64_t page, uint64_t n)
{
	return fallocate(mfd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, page * PAGE, n * PAGE) ? errno : 0;
}

static uint64_t own_pfn(const void *p)
{
	static int fd = -1;
	uint64_t e = 0;

	if (fd < 0)
		fd = open("/proc/self/pagemap", O_RDONLY | O_CLOEXEC);
	if (pread(fd, &e, sizeof(e), (uintptr_t)p / PAGE * sizeof(e)) != sizeof(e))
		return 0;
	return e & (((uint64_t)1 << 55) - 1);
}

/*
 * The notifier, the fault protocol and the event queue with real MM events,
 * on the fake-xen build (its hypercalls succeed without Xen and count the
 * entries a real Xen would hold): what a lending Xen would see, minus Xen.
 */
static int cmd_events(void)
{
	enum { N = 4096 };
	struct privcmd_lend_event ev[64];
	long base = fake_lent();
	int fd, mfd, n, e, moved, pipefd[2];
	uint64_t pfn[64], sum;
	char *mem, c;
	pid_t pid;

	if (base < 0) {
		report(false, "fake_xen_module", "no /sys/module/xen_privcmd/parameters/fake_lent: "
		       "not the fake-xen build");
		return 1;
	}
	fd = open_restricted(NO_DOMID);
	mem = memfd_pages(N, PROT_READ | PROT_WRITE, &mfd);
	expect("slot_create", set_slot(fd, 0, 0, 0x100000, mem, N), 0);
	expect_map("map_all", fd, 0, N, 0, N);
	expect_lent("map_all_lent", base + N);
	expect_map("map_again_counts_done", fd, 0, N, 0, N);
	expect_lent("map_again_lent", base + N);
	n = events(fd, ev, 64);
	report(n == -EAGAIN, "no_events_before_invalidation", "%s", evstr(ev, n));

	/* Reclaim (no swap): shmem pages are unmapped, then kept dirty. */
	if (madvise(mem, 64 * PAGE, MADV_PAGEOUT)) {
		report(false, "pageout", "madvise(MADV_PAGEOUT): %s", strerror(errno));
	} else {
		n = events(fd, ev, 64);
		sum = 0;
		for (int i = 0; i < n; i++)
			sum += ev[i].reason == LEND_EV_MIGRATED && ev[i].slot == 0 &&
			       ev[i].first_page + ev[i].count <= 64 ? ev[i].count : 1000000;
		report(n > 0 && sum > 0 && (long)sum == base + N - fake_lent(), "pageout_migrated",
		       "%s; fake Xen lost %ld entries", evstr(ev, n), base + N - fake_lent());
		expect_map("pageout_map_again", fd, 0, 64, 0, 64);
		expect_lent("pageout_map_again_lent", base + N);
	}

	/* The device model's own UNMAP is silent, and unmapped pages give no event. */
	e = lend_range(fd, IOCTL_PRIVCMD_LEND_UNMAP, 0, 0, 0, 64, NULL);
	expect("unmap", e, 0);
	expect_lent("unmap_lent", base + N - 64);
	punch(mfd, 0, 64);
	n = events(fd, ev, 64);
	report(n == -EAGAIN, "no_event_for_unmapped_pages", "unmap, then punch: %s", evstr(ev, n));
	expect_map("unmap_map_again", fd, 0, 64, 0, 64);

	/* Migration: soft offline moves the pages to new frames. */
	for (int i = 0; i < 64; i++)
		pfn[i] = own_pfn(mem + (64 + i) * PAGE);
	if (madvise(mem + 64 * PAGE, 64 * PAGE, MADV_SOFT_OFFLINE)) {
		report(false, "soft_offline", "madvise(MADV_SOFT_OFFLINE): %s", strerror(errno));
	} else {
		expect_one("soft_offline_migrated", fd, LEND_EV_MIGRATED, 64, 64);
		expect_lent("soft_offline_lent", base + N - 64);
		moved = 0;
		for (int i = 0; i < 64; i++) {
			(void)*(volatile char *)(mem + (64 + i) * PAGE); /* fault it back in */
			moved += own_pfn(mem + (64 + i) * PAGE) != pfn[i];
		}
		report(moved == 64, "soft_offline_new_frames", "%d of 64 pages at a new PFN", moved);
		expect_map("soft_offline_map_again", fd, 64, 64, 0, 64);
	}

	/* A hole punched: zeros at the next map. */
	expect("punch", punch(mfd, 128, 64), 0);
	expect_one("punch_migrated", fd, LEND_EV_MIGRATED, 128, 64);
	expect_map("punch_map_again", fd, 128, 64, 0, 64);

	/* A protection change revokes too; a writable slot cannot map read-only memory. */
	mprotect(mem + 192 * PAGE, 64 * PAGE, PROT_READ);
	expect_cover("mprotect_migrated", fd, LEND_EV_MIGRATED, 192, 64, base + N);
	expect_map("mprotect_map_efault", fd, 192, 64, EFAULT, 0);
	mprotect(mem + 192 * PAGE, 64 * PAGE, PROT_READ | PROT_WRITE);
	events(fd, ev, 64); /* the split's neighbours again, if they were mapped */
	expect_map("mprotect_back_map", fd, 0, N, 0, N);
	expect_lent("all_mapped_again", base + N);

	/* Merging: adjacent records of a slot and reason become one. */
	punch(mfd, 300, 1);
	punch(mfd, 302, 1);
	punch(mfd, 304, 1);
	punch(mfd, 310, 1);
	punch(mfd, 311, 1);
	punch(mfd, 312, 1);
	n = events(fd, ev, 64);
	report(n == 4 && ev[0].first_page == 300 && ev[0].count == 1 && ev[1].first_page == 302 &&
	       ev[2].first_page == 304 && ev[3].first_page == 310 && ev[3].count == 3, "merge_adjacent",
	       "%s", evstr(ev, n));
	expect_map("merge_map_again", fd, 0, N, 0, N);

	/* Overflow: 2048 separate records for a ring of 1024. */
	for (int i = 0; i < N; i += 2)
		punch(mfd, i, 1);
	{
		struct pollfd p = { .fd = fd, .events = POLLIN };

		e = poll(&p, 1, 0);
		report(e == 1 && (p.revents & POLLIN), "poll_pending", "poll: %d, revents %#x", e, p.revents);
	}
	expect_lent("overflow_revoked_all", base + N - N / 2);
	n = events(fd, ev, 64);
	report(n == 1 && ev[0].reason == LEND_EV_OVERFLOW && ev[0].slot == 0 && ev[0].first_page == 0 &&
	       ev[0].count == 0, "overflow_one_record", "%s", evstr(ev, n));
	expect_map("overflow_map_again", fd, 0, N, 0, N);

	/* The hardware poisons a lent page: it leaves the guest, and cannot come back. */
	if (madvise(mem + 400 * PAGE, PAGE, MADV_HWPOISON) == 0) {
		expect_one("hwpoison_migrated", fd, LEND_EV_MIGRATED, 400, 1);
		expect_map("hwpoison_map_enodata", fd, 399, 2, ENODATA, 1);
	} else {
		printf("skip hwpoison_migrated MADV_HWPOISON: %s\n", strerror(errno));
	}
	/* The mapping goes away: UNMAPPED, and the slot is dead. */
	{
		long before = fake_lent();

		munmap(mem + 1024 * PAGE, 1024 * PAGE);
		expect_cover("munmap_unmapped", fd, LEND_EV_UNMAPPED, 1024, 1024, before);
	}
	expect_map("dead_slot_map_efault", fd, 0, 1, EFAULT, 0);
	/* Deleting revokes the rest, silently. */
	expect("slot_delete", set_slot(fd, 0, 0, 0, NULL, 0), 0);
	expect_lent("slot_delete_lent", base);
	n = events(fd, ev, 64);
	report(n == -EAGAIN, "slot_delete_silent", "%s", evstr(ev, n));

	/* Close revokes everything. */
	munmap(mem, N * PAGE);
	mem = memfd_pages(256, PROT_READ | PROT_WRITE, NULL);
	expect("close_slot", set_slot(fd, 0, 0, 0x100000, mem, 256), 0);
	expect_map("close_map", fd, 0, 256, 0, 256);
	close(fd);
	expect_lent("close_revokes", base);

	/* kill -9 of a process with lent pages: exit revokes everything. */
	if (pipe(pipefd) < 0) {
		perror("pipe");
		return 1;
	}
	pid = fork();
	if (pid == 0) {
		int cfd = open_restricted(NO_DOMID);
		char *cm = memfd_pages(512, PROT_READ | PROT_WRITE, NULL);
		uint64_t done = 0;

		set_slot(cfd, 0, 0, 0x100000, cm, 512);
		lend_range(cfd, IOCTL_PRIVCMD_LEND_MAP, 0, 0, 0, 512, &done);
		c = done == 512 ? 'y' : 'n';
		if (write(pipefd[1], &c, 1) != 1)
			_exit(1);
		pause();
		_exit(0);
	}
	close(pipefd[1]);
	c = 0;
	e = read(pipefd[0], &c, 1) == 1 && c == 'y';
	report(e, "kill_child_mapped", "the child mapped 512 pages: %c", c ? c : '-');
	expect_lent("kill_child_lent", base + 512);
	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	expect_lent("kill_revokes", base);

	munmap(mem, 256 * PAGE);
	return failures ? 1 : 0;
}

/* The start of the daemon's mapping of its memfd ("/memfd:ioreq-lend"). */
static unsigned long daemon_base(const char *pid)
{
	char path[64], line[512];
	unsigned long lo = 0, hi;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%s/maps", pid);
	f = fopen(path, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, "/memfd:ioreq-lend") && sscanf(line, "%lx-%lx", &lo, &hi) == 2)
			break;
		else
			lo = 0;
	fclose(f);
	return lo;
}

static int open_daemon_fd(const char *pid, const char *fdn)
{
	char path[64];
	int fd;

	snprintf(path, sizeof(path), "/proc/%s/fd/%s", pid, fdn);
	fd = open(path, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		fprintf(stderr, "%s: %s\n", path, strerror(errno));
	return fd;
}

int main(int argc, char **argv)
{
	unsigned long off, len, base;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc == 2 && !strcmp(argv[1], "events"))
		return cmd_events();
	if (argc == 2 && !strcmp(argv[1], "probe")) {
		/* Does Xen have XENMEM_lend_*? Asked directly (stock Xen: ENOSYS). */
		struct xen_lend_map probe = { .domid = NO_DOMID };
		int fd = open_privcmd(0);
		int e = hypercall(fd, __HYPERVISOR_memory_op, XENMEM_lend_unmap, &probe);

		printf("%s\n", e == ENOSYS ? "stock" : "lending");
		return 0;
	}
	if (argc == 3 && !strcmp(argv[1], "ioctl") &&
	    (!strcmp(argv[2], "lend") || !strcmp(argv[2], "stock")))
		return cmd_ioctl(!strcmp(argv[2], "stock"));
	if (argc == 5 && !strcmp(argv[1], "pageout")) {
		int pidfd = syscall(SYS_pidfd_open, atoi(argv[2]), 0);
		struct iovec iov;
		long n;

		off = strtoul(argv[3], NULL, 0);
		len = strtoul(argv[4], NULL, 0);
		base = daemon_base(argv[2]);
		if (pidfd < 0 || !base) {
			fprintf(stderr, "pageout: pidfd %d, base %#lx\n", pidfd, base);
			return 1;
		}
		iov = (struct iovec){ .iov_base = (void *)(base + off), .iov_len = len };
		n = syscall(SYS_process_madvise, pidfd, &iov, 1, MADV_PAGEOUT, 0);
		printf("pageout %#lx+%#lx: %ld%s%s\n", base + off, len, n,
		       n < 0 ? " " : "", n < 0 ? strerror(errno) : "");
		return n == (long)len ? 0 : 1;
	}
	if (argc == 6 && (!strcmp(argv[1], "soft-offline") || !strcmp(argv[1], "punch") ||
			  !strcmp(argv[1], "hwpoison"))) {
		int fd = open_daemon_fd(argv[2], argv[3]);
		int rc;

		off = strtoul(argv[4], NULL, 0);
		len = strtoul(argv[5], NULL, 0);
		if (fd < 0)
			return 1;
		if (argv[1][0] == 'p') {
			rc = fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, off, len);
		} else {
			char *p = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, off);

			/*
			 * Soft offline migrates mapped pages, hwpoison takes them
			 * away as lost: ours must be present either way.
			 */
			for (unsigned long i = 0; p != MAP_FAILED && i < len; i += PAGE)
				(void)*(volatile char *)(p + i);
			rc = p == MAP_FAILED ? -1 :
			     madvise(p, len, argv[1][0] == 'h' ? MADV_HWPOISON : MADV_SOFT_OFFLINE);
		}
		printf("%s %#lx+%#lx: %s\n", argv[1], off, len, rc ? strerror(errno) : "ok");
		return rc ? 1 : 0;
	}
	if (argc == 7 && !strcmp(argv[1], "fill")) {
		int fd = open_daemon_fd(argv[2], argv[3]);
		uint64_t value = strtoull(argv[6], NULL, 0);
		volatile uint64_t *p;

		off = strtoul(argv[4], NULL, 0);
		len = strtoul(argv[5], NULL, 0);
		if (fd < 0)
			return 1;
		p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, off);
		if (p == MAP_FAILED) {
			printf("fill %#lx+%#lx: %s\n", off, len, strerror(errno));
			return 1;
		}
		for (unsigned long i = 0; i < len / 8; i++)
			p[i] = value;
		munmap((void *)p, len);
		printf("fill %#lx+%#lx: %#" PRIx64 "\n", off, len, value);
		return 0;
	}
	if (argc == 5 && !strcmp(argv[1], "pfns")) {
		char path[64];
		uint64_t e;
		int fd;

		off = strtoul(argv[3], NULL, 0);
		len = strtoul(argv[4], NULL, 0);
		base = daemon_base(argv[2]);
		snprintf(path, sizeof(path), "/proc/%s/pagemap", argv[2]);
		fd = open(path, O_RDONLY);
		if (fd < 0 || !base)
			return 1;
		for (unsigned long a = base + off; a < base + off + len; a += PAGE) {
			if (pread(fd, &e, sizeof(e), a / PAGE * sizeof(e)) != sizeof(e))
				return 1;
			/* bit 63 present, 62 swapped; PFN in bits 0-54 */
			printf("%#lx %s %#" PRIx64 "\n", a - base, e >> 63 ? "present" :
			       (e >> 62 & 1) ? "swapped" : "none", e & (((uint64_t)1 << 55) - 1));
		}
		return 0;
	}
	fprintf(stderr, "usage: lend-test ioctl lend|stock | events | pageout PID OFF LEN | soft-offline PID FD OFF LEN |\n"
			"       punch PID FD OFF LEN | hwpoison PID FD OFF LEN | fill PID FD OFF LEN VALUE |\n"
			"       pfns PID OFF LEN | probe\n");
	return 2;
}
