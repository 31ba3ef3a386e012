// SPDX-License-Identifier: GPL-2.0-only
/*
 * Lending the caller's memory to the guest of a domain-restricted privcmd
 * fd (ioreq-lend's lend_abi.h, revision 2, Part 2).
 *
 * A slot is a range of the caller's address space watched by an MMU
 * interval notifier. LEND_MAP resolves its pages with hmm_range_fault()
 * (faulting them in, writable for a writable slot, without taking a page
 * reference) and installs them in the guest's p2m with XENMEM_lend_map,
 * following HMM's protocol: sample the notifier sequence, fault, then under
 * the slot lock install only if the sequence has not moved. The invalidate
 * callback takes the same lock, queues an event and removes the entries with
 * XENMEM_lend_unmap (which flushes the guest's TLBs) before it returns, so
 * Linux never frees, moves or reuses a page the guest can still reach.
 *
 * Locks, outermost first:
 *   lend->lock    serialises the lend ioctls of one fd (slots[], pfns[]);
 *                 held across faults, allocations and notifier insert/remove.
 *   mmap_lock     taken by the fault path and by the notifier insert.
 *   slot->lock    the mapped bitmap and `dead`, against the invalidate
 *                 callback. Reclaim can invalidate, so nothing under it
 *                 allocates, faults, takes mmap_lock or waits for an
 *                 invalidation: it covers bitmap updates and hypercalls only.
 *   lend->ev_lock the event ring (a spinlock, taken under slot->lock).
 */

#define pr_fmt(fmt) "xen:" KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/hmm.h>
#include <linux/mm.h>
#include <linux/mmu_notifier.h>
#include <linux/moduleparam.h>
#include <linux/mutex.h>
#include <linux/sched/signal.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/uaccess.h>
#include <linux/wait.h>

#include <asm/xen/hypercall.h>

#include <xen/page.h>
#include <xen/interface/memory.h>

#include "privcmd.h"

/*
 * The hypervisor's half (lend_abi.h Part 1; upstream it would be in
 * include/xen/interface/memory.h). Bounded calls: no continuation.
 */
#define XENMEM_lend_map		29
#define XENMEM_lend_unmap	30
#define XENMEM_lend_age		31
struct xen_lend_map {
	domid_t domid;			/* the borrower */
	uint16_t flags;			/* XENLEND_F_READONLY (map only) */
	uint32_t nr;			/* 1 .. XENLEND_MAX_BATCH */
	uint64_t first_gfn;
	/* map: nr frames; age: (nr + 63) / 64 words of accessed bits, out */
	GUEST_HANDLE(xen_pfn_t) frames;
};
#define XENLEND_F_READONLY	(1u << 0)
#define XENLEND_MAX_BATCH	512

static_assert(sizeof(struct xen_lend_map) == 24);
/* LEND_MAP turns hmm pfns into frames in place. */
static_assert(sizeof(xen_pfn_t) == sizeof(unsigned long));

/* hmm_range_fault() rounds lost to invalidations before LEND_MAP says EAGAIN. */
#define LEND_MAP_TRIES		8
/* The mapped bitmap is 32 MiB at most: ioreq-lend's largest BAR, 1 TiB. */
#define LEND_SLOT_MAX_PAGES	(1UL << 28)
/* x86's 52-bit guest-physical addresses. */
#define LEND_GFN_LIMIT		(1ULL << 40)

struct privcmd_lend;

struct lend_slot {
	struct mmu_interval_notifier notifier;	/* [uaddr, uaddr + pages) */
	struct privcmd_lend *lend;
	struct mutex lock;
	unsigned long uaddr;
	unsigned long pages;
	u64 first_gfn;
	u32 id;
	u32 flags;
	bool dead;		/* the mapping went away: set the slot again */
	unsigned long *mapped;	/* pages installed in the guest */
};

struct privcmd_lend {
	struct mutex lock;
	domid_t domid;
	struct lend_slot *slots[LEND_MAX_SLOTS];
	/* LEND_MAP's hmm pfns, turned into frames in place. */
	unsigned long pfns[XENLEND_MAX_BATCH];
	/* LEND_AGE's bitmap, filled by the hypervisor 512 bits at a time. */
	u64 young[LEND_AGE_MAX_PAGES / 64];

	spinlock_t ev_lock;
	wait_queue_head_t ev_wait;
	unsigned int ev_head;
	unsigned int ev_len;
	bool ev_overflow;
	struct privcmd_lend_event ev[LEND_EVENT_QUEUE];
};

#ifndef PRIVCMD_LEND_FAKE_XEN
static long xen_lend(unsigned int op, domid_t domid, u64 gfn, unsigned long nr,
		     u16 flags, xen_pfn_t *frames)
{
	struct xen_lend_map arg = {
		.domid = domid,
		.flags = flags,
		.nr = nr,
		.first_gfn = gfn,
	};

	set_xen_guest_handle(arg.frames, frames);
	return HYPERVISOR_memory_op(op, &arg);
}
#else
/*
 * Test builds only (build.sh's fake-xen/xen-privcmd.ko): the hypercalls
 * answer as a lending Xen would, without Xen, so that the fault protocol, the
 * notifier and the event queue can be tested in a dom0 whose hypervisor
 * cannot lend. Nothing reaches a guest: never serve one with this build.
 * fake_lent counts the entries a real Xen would hold (its 'q' key's "lent
 * entries"); a frame must be one of ours (Xen's owner check, EPERM).
 */
static atomic_long_t fake_lent;

static int fake_lent_get(char *buf, const struct kernel_param *kp)
{
	return sysfs_emit(buf, "%ld\n", atomic_long_read(&fake_lent));
}

static const struct kernel_param_ops fake_lent_ops = { .get = fake_lent_get };
module_param_cb(fake_lent, &fake_lent_ops, NULL, 0444);
MODULE_PARM_DESC(fake_lent, "Entries the fake hypervisor holds (test builds)");

static long xen_lend(unsigned int op, domid_t domid, u64 gfn, unsigned long nr,
		     u16 flags, xen_pfn_t *frames)
{
	unsigned long i;

	if (!nr || nr > XENLEND_MAX_BATCH)
		return -EINVAL;
	if (op == XENMEM_lend_age) {
		/* No guest touches what this build lends: nothing is young. */
		memset(frames, 0, DIV_ROUND_UP(nr, 64) * sizeof(u64));
		return 0;
	}
	if (op == XENMEM_lend_unmap) {
		atomic_long_sub(nr, &fake_lent);
		return 0;
	}
	for (i = 0; i < nr; i++)
		if (!pfn_valid(gfn_to_pfn(frames[i])))
			return -EPERM;
	atomic_long_add(nr, &fake_lent);
	return 0;
}
#endif

/* An fd's lending state, created by its first use. */
static struct privcmd_lend *lend_get(struct privcmd_data *data)
{
	/* Pairs with the cmpxchg() below: seen means initialised. */
	struct privcmd_lend *l = smp_load_acquire(&data->lend), *old;

	if (l)
		return l;
	l = kvzalloc(sizeof(*l), GFP_KERNEL_ACCOUNT);
	if (!l)
		return NULL;
	mutex_init(&l->lock);
	l->domid = data->domid;	/* fixed once restricted */
	spin_lock_init(&l->ev_lock);
	init_waitqueue_head(&l->ev_wait);
	/* A full barrier: whoever sees the pointer sees it initialised. */
	old = cmpxchg(&data->lend, NULL, l);
	if (old) {
		kvfree(l);
		return old;
	}
	return l;
}

/* ------------------------------------------------------------ events */

static bool lend_has_events(struct privcmd_lend *l)
{
	bool ret;

	spin_lock(&l->ev_lock);
	ret = l->ev_len || l->ev_overflow;
	spin_unlock(&l->ev_lock);
	return ret;
}

/*
 * Queue an event, merged with the last record when it is of the same slot and
 * reason and touches it. A full ring turns into one OVERFLOW. Never sleeps or
 * allocates: called from the invalidate callback.
 */
static void lend_queue_event(struct privcmd_lend *l, u32 slot, u32 reason,
			     u64 first, u64 count)
{
	struct privcmd_lend_event *t;

	spin_lock(&l->ev_lock);
	if (l->ev_overflow)
		goto out;
	if (l->ev_len) {
		t = &l->ev[(l->ev_head + l->ev_len - 1) % LEND_EVENT_QUEUE];
		if (t->slot == slot && t->reason == reason &&
		    first <= t->first_page + t->count &&
		    t->first_page <= first + count) {
			u64 end = max(t->first_page + t->count, first + count);

			t->first_page = min(t->first_page, first);
			t->count = end - t->first_page;
			goto out;
		}
	}
	if (l->ev_len == LEND_EVENT_QUEUE) {
		l->ev_overflow = true;
		goto out;
	}
	t = &l->ev[(l->ev_head + l->ev_len) % LEND_EVENT_QUEUE];
	*t = (struct privcmd_lend_event){
		.slot = slot,
		.reason = reason,
		.first_page = first,
		.count = count,
	};
	l->ev_len++;
out:
	spin_unlock(&l->ev_lock);
	wake_up_interruptible_poll(&l->ev_wait, EPOLLIN | EPOLLRDNORM);
}

/* Take the next record; an overflow empties the ring into one OVERFLOW. */
static bool lend_pop_event(struct privcmd_lend *l, struct privcmd_lend_event *ev)
{
	lockdep_assert_held(&l->ev_lock);
	if (l->ev_overflow) {
		*ev = (struct privcmd_lend_event){ .reason = LEND_EV_OVERFLOW };
		l->ev_overflow = false;
		l->ev_len = 0;
		return true;
	}
	if (!l->ev_len)
		return false;
	*ev = l->ev[l->ev_head];
	l->ev_head = (l->ev_head + 1) % LEND_EVENT_QUEUE;
	l->ev_len--;
	return true;
}

/* The event queue of a restricted fd; an unrestricted one has none (EINVAL). */
ssize_t privcmd_lend_read(struct file *file, char __user *buf, size_t count,
			  loff_t *ppos)
{
	struct privcmd_data *data = file->private_data;
	struct privcmd_lend_event ev;
	struct privcmd_lend *l;
	size_t n = 0;
	int ret;

	if (data->domid == DOMID_INVALID || count < sizeof(ev))
		return -EINVAL;
	l = lend_get(data);
	if (!l)
		return -ENOMEM;
	for (;;) {
		while (n + sizeof(ev) <= count) {
			spin_lock(&l->ev_lock);
			if (!lend_pop_event(l, &ev)) {
				spin_unlock(&l->ev_lock);
				break;
			}
			spin_unlock(&l->ev_lock);
			if (copy_to_user(buf + n, &ev, sizeof(ev))) {
				/* That record is lost: the reader must learn it. */
				spin_lock(&l->ev_lock);
				l->ev_overflow = true;
				spin_unlock(&l->ev_lock);
				return n ? n : -EFAULT;
			}
			n += sizeof(ev);
		}
		if (n)
			return n;
		if (file->f_flags & O_NONBLOCK)
			return -EAGAIN;
		/* Another reader may take what woke us: then wait again. */
		ret = wait_event_interruptible(l->ev_wait, lend_has_events(l));
		if (ret)
			return ret;
	}
}

__poll_t privcmd_lend_poll(struct file *file, poll_table *wait)
{
	struct privcmd_data *data = file->private_data;
	struct privcmd_lend *l;

	if (data->domid == DOMID_INVALID)
		return 0;
	l = lend_get(data);
	if (!l)
		return EPOLLERR;
	poll_wait(file, &l->ev_wait, wait);
	return lend_has_events(l) ? EPOLLIN | EPOLLRDNORM : 0;
}

/* ------------------------------------------------------------ revoking */

/*
 * Remove the guest's entries for the mapped pages among [first, first + n),
 * at most XENLEND_MAX_BATCH per hypercall. With a reason, queue an event for
 * each run of mapped pages BEFORE the hypercall that removes it: an access
 * the removal causes can then only reach the device model after the event.
 * ESRCH means the borrower is dying and its entries go with it: success.
 * Pages Xen failed to unmap stay marked, so that a later revoke retries.
 */
static int slot_revoke(struct lend_slot *s, unsigned long first,
		       unsigned long n, u32 reason)
{
	unsigned long end = first + n, start, stop, p, nr;
	int ret = 0;
	long rc;

	lockdep_assert_held(&s->lock);
	for (p = first; ; p = stop) {
		start = find_next_bit(s->mapped, end, p);
		if (start >= end)
			break;
		stop = find_next_zero_bit(s->mapped, end, start);
		if (reason)
			lend_queue_event(s->lend, s->id, reason, start,
					 stop - start);
		for (p = start; p < stop; p += nr) {
			nr = min(stop - p, (unsigned long)XENLEND_MAX_BATCH);
			rc = xen_lend(XENMEM_lend_unmap, s->lend->domid,
				      s->first_gfn + p, nr, 0, NULL);
			if (rc && rc != -ESRCH) {
				pr_err_ratelimited("dom%u: lend_unmap of gfn %#llx+%lu: %ld\n",
						   s->lend->domid,
						   s->first_gfn + p, nr, rc);
				ret = ret ?: rc;
				continue;
			}
			bitmap_clear(s->mapped, p, nr);
		}
	}
	return ret;
}

static bool lend_invalidate(struct mmu_interval_notifier *mni,
			    const struct mmu_notifier_range *range,
			    unsigned long cur_seq)
{
	struct lend_slot *s = container_of(mni, struct lend_slot, notifier);
	unsigned long end = s->uaddr + (s->pages << PAGE_SHIFT);
	unsigned long first, last;
	u32 reason = LEND_EV_MIGRATED;

	/* The OOM reaper cannot wait: it comes back with a blocking call. */
	if (mmu_notifier_range_blockable(range))
		mutex_lock(&s->lock);
	else if (!mutex_trylock(&s->lock))
		return false;

	mmu_interval_set_seq(mni, cur_seq);
	if (range->event == MMU_NOTIFY_UNMAP ||
	    range->event == MMU_NOTIFY_RELEASE) {
		s->dead = true;
		reason = LEND_EV_UNMAPPED;
	}
	/*
	 * Every other event (clear, protection, soft-dirty, migration,
	 * exclusive access) revokes too: whatever it changes, the guest must
	 * not keep a frame Linux no longer maps there.
	 */
	first = (max(range->start, s->uaddr) - s->uaddr) >> PAGE_SHIFT;
	last = (PAGE_ALIGN(min(range->end, end)) - s->uaddr) >> PAGE_SHIFT;
	if (last > first)
		slot_revoke(s, first, last - first, reason);
	mutex_unlock(&s->lock);
	return true;
}

static const struct mmu_interval_notifier_ops lend_mni_ops = {
	.invalidate = lend_invalidate,
};

/* ------------------------------------------------------------ mapping */

/* Install the resolved pages of [first, first + n) that are not mapped yet. */
static int slot_install(struct lend_slot *s, unsigned long first,
			unsigned long n, unsigned long *done)
{
	struct privcmd_lend *l = s->lend;
	xen_pfn_t *frames = (xen_pfn_t *)l->pfns;
	bool ro = s->flags & LEND_SLOT_F_READONLY;
	unsigned long i = 0, j;
	long rc;

	lockdep_assert_held(&s->lock);
	while (i < n) {
		if (test_bit(first + i, s->mapped)) {
			i++;
			continue;
		}
		for (j = i; j < n && !test_bit(first + j, s->mapped); j++) {
			unsigned long hp = l->pfns[j];

			/* hmm_range_fault() promised these on success. */
			if (WARN_ON_ONCE(!(hp & HMM_PFN_VALID) ||
					 (!ro && !(hp & HMM_PFN_WRITE)))) {
				*done = i;
				return -EFAULT;
			}
			frames[j] = xen_page_to_gfn(hmm_pfn_to_page(hp));
		}
		rc = xen_lend(XENMEM_lend_map, l->domid, s->first_gfn + first + i,
			      j - i, ro ? XENLEND_F_READONLY : 0, frames + i);
		if (rc) {
			*done = i;
			return rc == -ENOSYS ? -EOPNOTSUPP : rc;
		}
		bitmap_set(s->mapped, first + i, j - i);
		i = j;
	}
	*done = n;
	return 0;
}

/*
 * A page hmm_range_fault() could not make present: its content is lost
 * (ENODATA) if a mapping we could lend still covers it (a hardware-poisoned
 * page, a SIGBUS beyond the end of a file), else there is nothing to lend
 * there (EFAULT: no mapping, VM_IO/VM_PFNMAP, or not writable for a writable
 * slot).
 */
static int slot_classify_fault(struct lend_slot *s, unsigned long addr)
{
	struct mm_struct *mm = s->notifier.mm;
	struct vm_area_struct *vma;
	int ret = -EFAULT;

	mmap_read_lock(mm);
	vma = vma_lookup(mm, addr);
	if (vma && !(vma->vm_flags & (VM_IO | VM_PFNMAP)) &&
	    (vma->vm_flags & VM_READ) &&
	    ((s->flags & LEND_SLOT_F_READONLY) || (vma->vm_flags & VM_WRITE)))
		ret = -ENODATA;
	mmap_read_unlock(mm);
	return ret;
}

#define LEND_SPLIT 1	/* slot_map_chunk(): a page failed, go page by page */

/*
 * HMM's fault protocol over pages [first, first + n), n <= XENLEND_MAX_BATCH
 * (as lib/test_hmm.c's dmirror_range_fault() does it, with bounded retries).
 */
static int slot_map_chunk(struct lend_slot *s, unsigned long first,
			  unsigned long n, unsigned long *done)
{
	struct mm_struct *mm = s->notifier.mm;
	struct hmm_range range = {
		.notifier = &s->notifier,
		.start = s->uaddr + (first << PAGE_SHIFT),
		.end = s->uaddr + ((first + n) << PAGE_SHIFT),
		.hmm_pfns = s->lend->pfns,
		.default_flags = HMM_PFN_REQ_FAULT |
			((s->flags & LEND_SLOT_F_READONLY) ? 0 : HMM_PFN_REQ_WRITE),
	};
	int tries, ret;

	*done = 0;
	for (tries = 0; tries < LEND_MAP_TRIES; tries++) {
		range.notifier_seq = mmu_interval_read_begin(&s->notifier);
		mmap_read_lock(mm);
		ret = hmm_range_fault(&range);
		mmap_read_unlock(mm);
		if (ret == -EBUSY)
			continue;
		if (ret == -EFAULT || ret == -EPERM)
			return n > 1 ? LEND_SPLIT :
				       slot_classify_fault(s, range.start);
		if (ret)
			return ret;

		mutex_lock(&s->lock);
		if (mmu_interval_read_retry(&s->notifier, range.notifier_seq)) {
			mutex_unlock(&s->lock);
			continue;
		}
		ret = s->dead ? -EFAULT : slot_install(s, first, n, done);
		mutex_unlock(&s->lock);
		return ret;
	}
	return -EAGAIN;
}

static int slot_map(struct lend_slot *s, unsigned long first,
		    unsigned long count, unsigned long *done)
{
	unsigned long step = XENLEND_MAX_BATCH, split_end = 0, got;
	int ret = 0;

	*done = 0;
	while (*done < count) {
		if (READ_ONCE(s->dead))
			return -EFAULT;
		if (fatal_signal_pending(current))
			return -EINTR;
		if (*done >= split_end)
			step = XENLEND_MAX_BATCH;
		ret = slot_map_chunk(s, first + *done,
				     min(count - *done, step), &got);
		*done += got;
		if (ret == LEND_SPLIT) {
			/* Find the page that failed: the ones before it map. */
			split_end = *done + step;
			step = 1;
			continue;
		}
		if (ret)
			return ret;
		cond_resched();
	}
	return 0;
}

/* ------------------------------------------------------------ slots */

static void slot_destroy(struct lend_slot *s)
{
	mutex_lock(&s->lock);
	s->dead = true;
	if (slot_revoke(s, 0, s->pages, 0))
		pr_err("dom%u: slot %u: lent entries left behind\n",
		       s->lend->domid, s->id);
	mutex_unlock(&s->lock);
	/* Only now: until here the notifier guards the pages still lent. */
	mmu_interval_notifier_remove(&s->notifier);
	kvfree(s->mapped);
	kfree(s);
}

/* Is [start, end) of the caller's address space mapped without holes? */
static int lend_range_mapped(struct mm_struct *mm, unsigned long start,
			     unsigned long end)
{
	struct vm_area_struct *vma;
	unsigned long addr;
	int ret = 0;

	mmap_read_lock(mm);
	for (addr = start; addr < end; addr = vma->vm_end) {
		vma = find_vma(mm, addr);
		if (!vma || vma->vm_start > addr) {
			ret = -EFAULT;
			break;
		}
	}
	mmap_read_unlock(mm);
	return ret;
}

static int lend_set_slot(struct privcmd_lend *l, const struct privcmd_lend_slot *a)
{
	struct lend_slot *s, *old;
	unsigned long len;
	unsigned int i;
	int ret;

	if (a->slot >= LEND_MAX_SLOTS)
		return -EINVAL;
	old = l->slots[a->slot];
	if (old && old->notifier.mm != current->mm)
		return -EIO;
	if (!a->pages) {
		if (!old)
			return -EINVAL;
		l->slots[a->slot] = NULL;
		slot_destroy(old);
		return 0;
	}
	if ((a->flags & ~LEND_SLOT_F_READONLY) || (a->uaddr & ~PAGE_MASK) ||
	    a->pages > LEND_SLOT_MAX_PAGES || a->first_gfn >= LEND_GFN_LIMIT ||
	    a->pages > LEND_GFN_LIMIT - a->first_gfn)
		return -EINVAL;
	len = a->pages << PAGE_SHIFT;
	if (a->uaddr + len < a->uaddr || a->uaddr + len > TASK_SIZE)
		return -EINVAL;
	if (old) {
		if (old->first_gfn != a->first_gfn)
			return -EINVAL;
		/* A dead slot is set again from scratch. */
		if (!READ_ONCE(old->dead))
			return old->uaddr == a->uaddr && old->pages == a->pages &&
			       old->flags == a->flags ? 0 : -EEXIST;
		l->slots[a->slot] = NULL;
		slot_destroy(old);
	}
	for (i = 0; i < LEND_MAX_SLOTS; i++) {
		struct lend_slot *o = l->slots[i];

		if (o && a->first_gfn < o->first_gfn + o->pages &&
		    o->first_gfn < a->first_gfn + a->pages)
			return -EINVAL;
	}
	ret = lend_range_mapped(current->mm, a->uaddr, a->uaddr + len);
	if (ret)
		return ret;

	s = kzalloc(sizeof(*s), GFP_KERNEL_ACCOUNT);
	if (!s)
		return -ENOMEM;
	s->mapped = kvcalloc(BITS_TO_LONGS(a->pages), sizeof(long),
			     GFP_KERNEL_ACCOUNT);
	if (!s->mapped) {
		kfree(s);
		return -ENOMEM;
	}
	mutex_init(&s->lock);
	s->lend = l;
	s->uaddr = a->uaddr;
	s->pages = a->pages;
	s->first_gfn = a->first_gfn;
	s->id = a->slot;
	s->flags = a->flags;
	/* May take mmap_lock for the mm's first notifier: no lock of ours but l->lock. */
	ret = mmu_interval_notifier_insert(&s->notifier, current->mm, s->uaddr,
					   len, &lend_mni_ops);
	if (ret) {
		kvfree(s->mapped);
		kfree(s);
		return ret;
	}
	l->slots[a->slot] = s;
	return 0;
}

/* The slot of a MAP or UNMAP, with the range checked. */
static struct lend_slot *lend_range_slot(struct privcmd_lend *l,
					 const struct privcmd_lend_range *r,
					 long *err)
{
	struct lend_slot *s = r->slot < LEND_MAX_SLOTS ? l->slots[r->slot] : NULL;

	*err = -EIO;
	if (s && s->notifier.mm != current->mm)
		return NULL;
	*err = -EINVAL;
	if (!s || r->flags || r->first_page > s->pages ||
	    r->count > s->pages - r->first_page)
		return NULL;
	return s;
}

/* ------------------------------------------------------------ the fd */

/*
 * EOPNOTSUPP on a hypervisor without XENMEM_lend_* (ENOSYS); the revision
 * with aging where it has XENMEM_lend_age too.
 */
static long lend_version(struct privcmd_data *data)
{
	domid_t domid = data->domid == DOMID_INVALID ? DOMID_SELF : data->domid;

	/* nr 0 is refused by a hypervisor that has the op, unknown ops ENOSYS. */
	if (xen_lend(XENMEM_lend_unmap, domid, 0, 0, 0, NULL) == -ENOSYS)
		return -EOPNOTSUPP;
	if (xen_lend(XENMEM_lend_age, domid, 0, 0, 0, NULL) == -ENOSYS)
		return PRIVCMD_LEND_VERSION;
	return PRIVCMD_LEND_VERSION_AGE;
}

/*
 * Test and clear the accessed bits of a slot's pages in the guest's p2m, at
 * most LEND_AGE_MAX_PAGES: the hypervisor answers for lent entries of our
 * frames only, so pages not mapped read 0. No fault, no notifier sequence,
 * nothing mapped or unmapped: it never fails with EAGAIN.
 */
static long lend_age(struct privcmd_lend *l, struct privcmd_lend_age *a)
{
	struct lend_slot *s = a->slot < LEND_MAX_SLOTS ? l->slots[a->slot] : NULL;
	u64 done;
	long ret;

	if (s && s->notifier.mm != current->mm)
		return -EIO;
	if (!s || a->flags || !a->count || a->first_page > s->pages ||
	    a->count > s->pages - a->first_page)
		return -EINVAL;
	for (done = 0; done < a->count; done += XENLEND_MAX_BATCH) {
		unsigned long nr = min_t(u64, a->count - done, XENLEND_MAX_BATCH);

		ret = xen_lend(XENMEM_lend_age, l->domid,
			       s->first_gfn + a->first_page + done, nr, 0,
			       (xen_pfn_t *)&l->young[done / 64]);
		if (ret == -ENOSYS)
			return -EOPNOTSUPP;
		if (ret)
			return ret;
	}
	if (copy_to_user(u64_to_user_ptr(a->bitmap), l->young,
			 DIV_ROUND_UP(a->count, 64) * sizeof(u64)))
		return -EFAULT;
	a->young = bitmap_weight((unsigned long *)l->young, a->count);
	return 0;
}

long privcmd_lend_ioctl(struct file *file, unsigned int cmd,
			void __user *udata)
{
	struct privcmd_data *data = file->private_data;
	struct privcmd_lend_slot slot;
	struct privcmd_lend_range r;
	struct privcmd_lend_age age;
	struct privcmd_lend *l;
	struct lend_slot *s;
	unsigned long done = 0;
	long ret;

	if (cmd == IOCTL_PRIVCMD_LEND_VERSION)
		return lend_version(data);
	/* A slot needs a restricted fd: the fd is the capability. */
	if (data->domid == DOMID_INVALID)
		return -EPERM;
	l = lend_get(data);
	if (!l)
		return -ENOMEM;

	switch (cmd) {
	case IOCTL_PRIVCMD_LEND_SET_SLOT:
		if (copy_from_user(&slot, udata, sizeof(slot)))
			return -EFAULT;
		mutex_lock(&l->lock);
		ret = lend_set_slot(l, &slot);
		mutex_unlock(&l->lock);
		return ret;

	case IOCTL_PRIVCMD_LEND_MAP:
	case IOCTL_PRIVCMD_LEND_UNMAP:
		if (copy_from_user(&r, udata, sizeof(r)))
			return -EFAULT;
		mutex_lock(&l->lock);
		s = lend_range_slot(l, &r, &ret);
		if (!s) {
			mutex_unlock(&l->lock);
			return ret;
		}
		if (cmd == IOCTL_PRIVCMD_LEND_MAP) {
			ret = slot_map(s, r.first_page, r.count, &done);
		} else {
			mutex_lock(&s->lock);
			ret = slot_revoke(s, r.first_page, r.count, 0);
			mutex_unlock(&s->lock);
			done = ret ? 0 : r.count;
		}
		mutex_unlock(&l->lock);
		r.done = done;
		if (copy_to_user(&((struct privcmd_lend_range __user *)udata)->done,
				 &r.done, sizeof(r.done)))
			return -EFAULT;
		return ret;

	case IOCTL_PRIVCMD_LEND_AGE:
		if (copy_from_user(&age, udata, sizeof(age)))
			return -EFAULT;
		/* Bounded work per call; the bitmap buffer is that big. */
		if (age.count > LEND_AGE_MAX_PAGES)
			return -E2BIG;
		mutex_lock(&l->lock);
		ret = lend_age(l, &age);
		mutex_unlock(&l->lock);
		if (!ret && copy_to_user(&((struct privcmd_lend_age __user *)udata)->young,
					 &age.young, sizeof(age.young)))
			return -EFAULT;
		return ret;
	}
	return -ENOTTY;
}

/* Close: revoke everything, each slot before its notifier goes. */
void privcmd_lend_release(struct privcmd_data *data)
{
	struct privcmd_lend *l = data->lend;
	unsigned int i;

	if (!l)
		return;
	for (i = 0; i < LEND_MAX_SLOTS; i++)
		if (l->slots[i])
			slot_destroy(l->slots[i]);
	kvfree(l);
}
