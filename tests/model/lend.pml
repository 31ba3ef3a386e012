/*
 * SPDX-License-Identifier: MIT
 *
 * The memory-lending invalidate / map / access protocol of ioreq-lend as a
 * Promela model. README.md beside this file says what each part stands for,
 * what is abstracted and how check.sh runs it.
 *
 *   invalidator  the host's memory manager, one MMU-notifier invalidation
 *                at a time: tests/sim/hv/lend.c slot_invalidate()
 *   kmap/kunmap  the kernel's IOCTL_PRIVCMD_LEND_MAP / _UNMAP:
 *                tests/sim/hv/lend.c slot_map(), lend_dispatch()
 *   daemon       ioreq-lend/remap.c remap_handle_access(), map_pages(),
 *                evict_for(), remap_apply_events(); daemon.c on_evtchn()
 *   vcpu         a guest vCPU touching lent pages, with Xen's EPT-violation
 *                path: tests/sim/hv/lend.c guest_fault(), lend_access()
 *   monitor      the safety invariant, checked in every reachable state
 *
 * Contents and sequence numbers are abstracted exactly and finitely (so an
 * endless invalidation storm is a finite model too):
 *  - A guest PTE is NONE, OK (maps the place the page's content is) or
 *    STALE (maps a place the host has moved the content away from: freed or
 *    poisoned memory). An invalidation's content move turns every OK PTE of
 *    its range that survived STALE. nstale counts STALE PTEs.
 *  - rfresh[p]: what the map in flight resolved for page p is still where
 *    the content is (set by the resolve, cleared by a move). Installing a
 *    resolve that is not fresh installs a STALE PTE.
 *  - seq_moved is "seq != the snapshot" of the map in flight: the snapshot
 *    clears it, every invalidation end sets it. There is one mapper (the
 *    daemon thread), so this is exact for a 64-bit seq that never wraps.
 *  - Every critical section under the notifier lock (mmu_lock) or the page
 *    lock (content_lock) is one atomic step: none of them blocks inside, so
 *    this is the linearisation of the C code's locking.
 *  - The daemon's own bookkeeping (bitmaps, CLOCK) is thread-local: it runs
 *    in atomic blocks between its calls into the kernel.
 *
 * Configuration (check.sh sets these; defaults in brackets):
 *   NP [4] pages, G [2] fault-around group, W [2] resident window (pages)
 *   NVCPU [1] vCPUs (1, 2), NINV [1] invalidators (1, 2)
 *   INV_BUDGET [2] invalidations in all; STORM: no bound (never stops)
 *   NACC [2] accesses per vCPU; MAXR [1] EAGAIN retries (remap.c: 16)
 *   QE [2] event queue capacity in records (lend.c: LEND_EVENT_QUEUE)
 *   TOUCH [1] pages one access (one instruction) touches: 1; 2 (STRADDLE:
 *              the last page of a group and the first of the next); 3 (a
 *              movs whose source straddles and whose destination is the
 *              next page), always starting at the last page of a group
 *   NOLOSE     the host only migrates pages, never loses content
 *   INJECT     lend_set_race(): an invalidation between resolve and install
 *   NO_IDLE_DRAIN  the daemon reads events only before an ACCESS
 *   NO_CHECK_WINDOW  do not check the window (monitor, below)
 *   STRICT_WINDOW    the window with no exception for zaps still to come
 *   EVENT_AFTER_ZAP  the event is queued after the zap, before the move (the
 *              order lend.c had before; lend_abi.h now promises "before")
 *   READAHEAD  a fault may map a chunk of two groups, its own and the next
 *              (remap.c readahead_chunk(): whether a fault continues a
 *              stream is the daemon's own bookkeeping, so any fault may),
 *              evicting for the whole chunk and keeping all of it; no room:
 *              its group alone
 *   SWEEP_MAX  one request's CLOCK sweep visits at most this many groups
 *              with resident pages, then answers "retry" (evict_for())
 *   AGING      lend_abi.h revision 3: every request first asks the kernel
 *              to test and clear the accessed bit of one page (any page,
 *              mapped or not: the bit is chosen by the guest's accesses,
 *              which the model does not track, so "used" is any mapped
 *              page), reads the events, then believes the use only of a
 *              page still resident (remap.c age_range(), evict.c
 *              evict_age()): a referenced bit, nothing else. The kernel's
 *              test-and-clear is one step under mmu_lock that changes no PTE.
 * The window: remap_create() shrinks groups until W >= 2 * G * NVCPU and
 * refuses W < 2 * NVCPU pages. Smaller windows (W < 2 * G * NVCPU) are
 * allowed here on purpose: the safety runs use them (safety does not depend
 * on the window's size) and the small-window runs show why the minimum exists.
 * Deliberately broken variants:
 *   BUG_NOCHECK        (a) the kernel installs without the seq/in-progress check
 *   BUG_ZAP_LATE       (b) the invalidation zaps after moving the content
 *   BUG_BATCH          (c) a batched map checks the lease of its first page only
 *   BUG_SNAP_LATE      (f) the kernel snapshots seq after resolving
 *   BUG_SEQ_ONLY       (g) the install checks seq but not the in-progress range
 *   BUG_INPROG_ONLY    (h) the install checks the in-progress range but not seq
 *   BUG_EVENT_AFTER_END (i) the kernel queues the event after the end (seq++)
 *   BUG_RETRY_FOREVER  (d) the daemon retries EAGAIN without bound
 *   BUG_RETRY_LOST     (e) the daemon answers "retry" for a lost page
 *   BUG_EVENT_ORDER    (1a) map_pages() marks the pages resident right after
 *                      the map and reads events only before an ACCESS (remap.c
 *                      before 9241382)
 *   BUG_OVERFLOW_FORGET (1b) on OVERFLOW the daemon forgets the table without
 *                      unmapping (remap.c before 316cb61)
 *   BUG_RA_NOROOM      (ra) with READAHEAD: the daemon makes room for its
 *                      group only, and maps the whole chunk
 *   BUG_SWEEP_IGNORE   (sw) with SWEEP_MAX: a sweep stopped by its bound
 *                      maps anyway
 *   BUG_AGE_RMW        (ag) with AGING: the kernel clears the accessed bit
 *                      by reading the entry and writing it back later,
 *                      without holding mmu_lock across: an invalidation in
 *                      between zapped it, and the write-back maps the page
 *                      again where its content no longer is (why the ABI
 *                      says the hypervisor's lend_age is an atomic
 *                      test-and-clear under the p2m lock that never maps)
 */

#ifndef NP
#define NP 4
#endif
#ifndef G
#define G 2
#endif
#define NG (NP / G)
#ifndef W
#define W 2
#endif
#ifndef NVCPU
#define NVCPU 1
#endif
#ifndef NINV
#define NINV 1
#endif
#ifndef INV_BUDGET
#define INV_BUDGET 2
#endif
#ifndef NACC
#define NACC 2
#endif
#ifndef MAXR
#define MAXR 1
#endif
#ifndef QE
#define QE 2
#endif
#ifdef STRADDLE
#define TOUCH 2
#endif
#ifndef TOUCH
#define TOUCH 1
#endif

/* PTE states */
#define NONE  0
#define OK    1
#define STALE 2
/* answers to an ACCESS (lend_abi.h IOREQ_ACCESS_RETRY / _FAIL) */
#define RETRY 0
#define FAIL  1
/* results of the map ioctl and of map_pages() */
#define R_OK      0
#define R_EAGAIN  1
#define R_ENODATA 2
/* the event queue's overflow record (LEND_EV_OVERFLOW) */
#define OVF 255

/* ---- the kernel's and Xen's state (one lend slot) ---- */
byte pte[NP];        /* the guest's p2m entry of each page */
bool lost[NP];       /* the content is gone (lend.c struct lost_page): map gives ENODATA */
bool rfresh[NP];     /* see above */
bool seq_moved;      /* see above */
byte inprog;         /* in_progress */
byte inv_lo, inv_hi; /* the pending range: union of the invalidations in progress */
byte installed;      /* PTEs present (lend_pages_installed()) */
byte nstale;         /* STALE PTEs present: the invariant is nstale == 0 */
byte budget = INV_BUDGET;
chan ev = [QE] of { byte, byte }; /* invalidation events: first, last page */
bool ev_overflowed;
byte prezap;         /* invalidations between their event and their zap */
#ifdef BUG_AGE_RMW
byte age_pg = 255;   /* the page whose entry the broken aging read, 255: none */
byte age_saved;      /* the entry it read */
bool age_fresh;      /* no move of age_pg since it read the entry */
#endif

/* ---- the ioreq channel: Xen sends ACCESS on the vCPU's slot ---- */
chan req = [NVCPU] of { byte, byte }; /* vcpu, page */
chan ans[NVCPU] = [1] of { byte };

/* ---- for the properties ---- */
bool vdone[NVCPU];   /* all the vCPU's accesses completed or faulted */
bool pending[NVCPU]; /* an ACCESS sent and not answered yet */
bool inv_busy[2];    /* invalidator i is between its start and its end */

/* ========================== the host: invalidation ========================== */

/* zap_locked(): remove the guest PTEs of [lo, hi]. j belongs to the caller. */
inline zap(lo, hi)
{
    j = lo;
    do
    :: j <= hi ->
        if
        :: pte[j] != NONE ->
            if
            :: pte[j] == STALE -> nstale--
            :: else
            fi;
            pte[j] = NONE;
            installed--
        :: else
        fi;
        j++
    :: else -> break
    od;
    j = 0
}

/* invalidate_range_start (mmu_lock): in_progress++, widen the range, zap. */
inline inv_start(lo, hi)
{
    if
    :: inprog == 0 -> inv_lo = lo; inv_hi = hi
    :: else ->
        printf("@ inv: %d in progress: widen the range\n", inprog);
        if
        :: lo < inv_lo -> inv_lo = lo
        :: else
        fi;
        if
        :: hi > inv_hi -> inv_hi = hi
        :: else
        fi
    fi;
    inprog++;
#ifndef BUG_ZAP_LATE
    zap(lo, hi);
#if !defined(EVENT_AFTER_ZAP) && !defined(BUG_EVENT_AFTER_END)
    prezap--;
#endif
#endif
    printf("@ inv start [%d,%d] in_progress=%d\n", lo, hi, inprog)
}

/* send_event(): a bounded queue, one OVERFLOW record past it, as lend.c.
 * lend.c calls it first thing in slot_invalidate(), before the start (and so
 * before the zap); lend_abi.h promises that order. */
inline inv_event(lo, hi)
{
    if
    :: ev_overflowed && len(ev) <= QE / 2 -> ev_overflowed = false
    :: else
    fi;
    if
    :: !ev_overflowed ->
        if
        :: len(ev) + 2 > QE -> ev!OVF, 0; ev_overflowed = true; printf("@ inv: queue full: OVERFLOW queued\n")
        :: else -> ev!lo, hi; printf("@ inv event [%d,%d] queued\n", lo, hi)
        fi
    :: else -> printf("@ inv event [%d,%d] dropped (overflowed)\n", lo, hi)
    fi
}

/* content_change() (content_lock): the content moves or is lost and the old
 * place is poisoned: a PTE still pointing there is now stale. */
inline inv_move(lo, hi, lose)
{
    j = lo;
    do
    :: j <= hi ->
        if
        :: pte[j] == OK -> pte[j] = STALE; nstale++
        :: else
        fi;
        rfresh[j] = false;
#ifdef BUG_AGE_RMW
        if
        :: j == age_pg -> age_fresh = false
        :: else
        fi;
#endif
        if
        :: lose -> lost[j] = true
        :: else
        fi;
        j++
    :: else -> break
    od;
    j = 0;
    if
    :: lose -> printf("@ inv move [%d,%d]: content lost, old place poisoned\n", lo, hi)
    :: else -> printf("@ inv move [%d,%d]: content migrated, old place poisoned\n", lo, hi)
    fi
}

/* invalidate_range_end (mmu_lock): seq++, in_progress--. */
inline inv_end(lo, hi)
{
    seq_moved = true;
    inprog--;
    printf("@ inv end [%d,%d] seq++\n", lo, hi)
}

/* Any range of one page or of two adjacent pages (also across groups). */
inline pick_range(lo, hi)
{
    select(lo : 0 .. NP - 1);
    if
    :: hi = lo
    :: lo + 1 < NP -> hi = lo + 1
    fi
}

proctype invalidator(byte id)
{
    byte lo, hi, j;
    bool lose;

    do
    :: atomic {
#ifndef STORM
           budget > 0 -> budget--;
#endif
           pick_range(lo, hi);
           if
           :: lose = false
#ifndef NOLOSE
           :: lose = true
#endif
           fi;
           inv_busy[id] = true;
#if !defined(EVENT_AFTER_ZAP) && !defined(BUG_EVENT_AFTER_END)
           inv_event(lo, hi); /* send_event(), before the start */
           prezap++
#else
           skip
#endif
       };
       atomic { inv_start(lo, hi) };
#ifdef EVENT_AFTER_ZAP
       atomic { inv_event(lo, hi) };
#endif
       atomic { inv_move(lo, hi, lose) };
#ifdef BUG_ZAP_LATE
       atomic { zap(lo, hi); prezap--; printf("@ inv zap (late) [%d,%d]\n", lo, hi) };
#endif
#ifdef BUG_EVENT_AFTER_END
       atomic { inv_end(lo, hi) };
       atomic { inv_event(lo, hi); inv_busy[id] = false; lo = 0; hi = 0; lose = false }
#else
       atomic { inv_end(lo, hi); inv_busy[id] = false; lo = 0; hi = 0; lose = false }
#endif
#ifndef STORM
    :: atomic { budget == 0 -> break }
#endif
    od
}

/* ================ the kernel: IOCTL_PRIVCMD_LEND_MAP and _UNMAP ================ */

/* The check and the install of page k, under mmu_lock. */
inline install(k)
{
    printf("@ map: install page %d (%d installed before)\n", k, installed);
    assert(rfresh[k]); /* install: the resolved content is current */
    if
    :: rfresh[k] -> pte[k] = OK
    :: else -> pte[k] = STALE; nstale++
    fi;
    installed++
}

/*
 * slot_map(kfirst, kcount): for each page, lock, snapshot seq (a page
 * already mapped counts as done), unlock; resolve (content_lock); lock,
 * install only if seq has not moved and no invalidation in progress covers
 * the page, else stop with EAGAIN. Sets rc and done. The caller owns k,
 * mapped, j, ilo, ihi.
 */
inline kmap(kfirst, kcount)
{
    done = 0;
    rc = R_OK;
    k = kfirst;
#ifndef BUG_BATCH
    do
    :: k < kfirst + kcount ->
#ifndef BUG_SNAP_LATE
        atomic { seq_moved = false; mapped = (pte[k] != NONE); printf("@ map: snapshot seq (page %d)\n", k) };
#else
        atomic { mapped = (pte[k] != NONE) };
#endif
        if
        :: mapped -> done++; k++
        :: else ->
            atomic {
                if
                :: lost[k] -> rc = R_ENODATA; printf("@ map: page %d lost: ENODATA\n", k)
                :: else -> rfresh[k] = true; printf("@ map: resolve page %d\n", k)
                fi
            };
            if
            :: rc == R_ENODATA -> break
            :: else
            fi;
#ifdef BUG_SNAP_LATE
            atomic { seq_moved = false; printf("@ map: snapshot seq (page %d), after the resolve\n", k) };
#endif
#ifdef INJECT
            /* lend_set_race(): slot_invalidate(k, 1, EVICT) on the mapping thread */
            if
            :: atomic { budget > 0 -> budget--; ilo = k; ihi = k; inv_event(ilo, ihi); prezap++ };
               atomic { inv_start(ilo, ihi) };
               atomic { inv_move(ilo, ihi, false) };
#ifdef BUG_ZAP_LATE
               atomic { zap(ilo, ihi); prezap-- };
#endif
               atomic { inv_end(ilo, ihi); ilo = 0; ihi = 0 }
            :: skip
            fi;
#endif
            atomic {
                if
#if defined(BUG_NOCHECK)
                /* (a): no check at all */
#elif defined(BUG_SEQ_ONLY)
                :: seq_moved -> /* (g): the in-progress check forgotten */
                    rc = R_EAGAIN; printf("@ map: page %d raced an invalidation: EAGAIN\n", k)
#elif defined(BUG_INPROG_ONLY)
                :: inprog > 0 && inv_lo <= k && k <= inv_hi -> /* (h): the seq check forgotten */
                    rc = R_EAGAIN; printf("@ map: page %d raced an invalidation: EAGAIN\n", k)
#else
                :: seq_moved || (inprog > 0 && inv_lo <= k && k <= inv_hi) ->
                    rc = R_EAGAIN; printf("@ map: page %d raced an invalidation: EAGAIN\n", k)
#endif
                :: else -> install(k); done++
                fi;
                rfresh[k] = false
            };
            if
            :: rc == R_EAGAIN -> break
            :: else -> k++
            fi
        fi
    :: else -> break
    od;
#else
    /* (c) a batched remap: one snapshot, resolve every page, check the lease
     * of the first page only, install the whole batch. */
    atomic { seq_moved = false; printf("@ map: snapshot seq (batch from page %d)\n", k) };
    do
    :: k < kfirst + kcount ->
        atomic {
            if
            :: pte[k] != NONE -> skip
            :: lost[k] -> rc = R_ENODATA
            :: else -> rfresh[k] = true; printf("@ map: resolve page %d\n", k)
            fi
        };
        if
        :: rc == R_ENODATA -> break
        :: else -> k++
        fi
    :: else -> break
    od;
    atomic {
        if
        :: rc == R_OK && (seq_moved || (inprog > 0 && inv_lo <= kfirst && kfirst <= inv_hi)) ->
            rc = R_EAGAIN; printf("@ map: page %d raced an invalidation: EAGAIN\n", kfirst)
        :: else
        fi;
        k = kfirst;
        do
        :: rc == R_OK && k < kfirst + kcount ->
            if
            :: pte[k] != NONE -> skip
            :: else -> install(k)
            fi;
            done++;
            k++
        :: else -> break
        od;
        k = kfirst;
        do
        :: k < kfirst + kcount -> rfresh[k] = false; k++
        :: else -> break
        od
    };
#endif
    k = 0;
    mapped = false
}

/* IOCTL_PRIVCMD_LEND_UNMAP: zap under mmu_lock. */
inline kunmap(lo, hi)
{
    zap(lo, hi);
    printf("@ daemon: evict [%d,%d] (%d installed)\n", lo, hi, installed)
}

/*
 * IOCTL_PRIVCMD_LEND_AGE of one page, into ay (the page if it reads used,
 * else 255). Correct: one step under mmu_lock; the bit is the entry's, so an
 * unmapped page reads 0, and nothing is mapped or unmapped. The caller owns
 * ap and ay.
 */
inline kage()
{
#ifndef BUG_AGE_RMW
    atomic {
        select(ap : 0 .. NP - 1);
        if
        :: pte[ap] != NONE -> ay = ap; printf("@ age: page %d used\n", ap)
        :: pte[ap] != NONE -> ay = 255; printf("@ age: page %d not used\n", ap)
        :: pte[ap] == NONE -> ay = 255; printf("@ age: page %d not mapped: 0\n", ap)
        fi;
        ap = 0
    }
#else
    /* (ag) read the entry ... */
    atomic {
        select(ap : 0 .. NP - 1);
        age_pg = ap;
        age_saved = pte[ap];
        age_fresh = true;
        if
        :: age_saved != NONE -> ay = ap
        :: else -> ay = 255
        fi;
        printf("@ age (rmw): read the entry of page %d\n", ap)
    };
    /* ... and write it back, accessed bit clear, whatever happened meanwhile */
    atomic {
        if
        :: age_saved != NONE && pte[ap] == NONE ->
            printf("@ age (rmw): page %d was zapped meanwhile: the write-back maps it again\n", ap);
            installed++;
            if
            :: age_fresh -> pte[ap] = OK
            :: else -> pte[ap] = STALE; nstale++
            fi
        :: else
        fi;
        age_pg = 255;
        age_saved = NONE;
        age_fresh = false;
        ap = 0
    }
#endif
}

/* ============================= the daemon: remap.c ============================= */

/* mark_range(): the resident bits of [lo, hi], and the count. */
inline mark_range(lo, hi, val)
{
    m = lo;
    do
    :: m <= hi ->
        if
        :: res[m] != val ->
            res[m] = val;
            if
            :: val -> resident++
            :: else -> resident--
            fi
        :: else
        fi;
        m++
    :: else -> break
    od;
    m = 0
}

inline forget_all()
{
    m = 0;
    do
    :: m < NP -> res[m] = false; m++
    :: else -> break
    od;
    m = 0;
    do
    :: m < NG -> refd[m] = false; m++
    :: else -> break
    od;
    m = 0;
    resident = 0
}

/* remap_apply_events(): drain the queue. An OVERFLOW sets ovfl (remap.c:
 * r->overflows++), which map_pages() looks at. */
inline apply_events()
{
    atomic {
        do
        :: ev?ea, eb ->
            if
            :: ea == OVF ->
#ifndef BUG_OVERFLOW_FORGET
                /* xenlend_unmap() over the whole slot: "nothing mapped" is true */
                zap(0, NP - 1);
                forget_all();
                printf("@ daemon: event OVERFLOW: unmap everything, forget all (kernel: %d installed)\n", installed);
#else
                /* (1b) forget the table, unmap nothing */
                forget_all();
                printf("@ daemon: event OVERFLOW: forget all, unmap nothing (kernel: %d installed)\n", installed);
#endif
                ovfl = true
            :: else ->
                mark_range(ea, eb, false);
                printf("@ daemon: event [%d,%d] gone (believes %d resident, kernel %d)\n", ea, eb, resident, installed)
            fi;
            ea = 0;
            eb = 0
        :: empty(ev) -> break
        od
    }
}

/* resident_in(group) into cnt. */
inline resident_in(grp)
{
    cnt = 0;
    m = grp * G;
    do
    :: m < grp * G + G -> cnt = cnt + res[m]; m++
    :: else -> break
    od;
    m = 0
}

/* evict_for(need, keep_lo, keep_hi): CLOCK over groups, two sweeps at most.
 * remap.c also stops after SWEEP_MAX_GROUPS visits of groups with resident
 * pages (1024, more than 2 * NG here); -DSWEEP_MAX=N models a bound that
 * bites: the request is answered "retry" without mapping and the next one
 * continues from the hand. */
inline evict_for(need, klo, khi)
{
    steps = 0;
    do
    :: steps < 2 * NG ->
        if
        :: resident + need <= W -> break
        :: else
        fi;
#ifdef SWEEP_MAX
        if
        :: visits >= SWEEP_MAX ->
            printf("@ daemon: sweep bound reached: retry, the hand stays at %d\n", hand);
            break
        :: else
        fi;
#endif
        h = hand;
        hand = (hand + 1) % NG;
        if
        :: h >= klo && h <= khi -> skip
        :: else ->
            resident_in(h);
#ifdef SWEEP_MAX
            if
            :: cnt > 0 -> visits++
            :: else
            fi;
#endif
            if
            :: cnt == 0 -> skip
            :: cnt > 0 && refd[h] -> refd[h] = false
            :: cnt > 0 && !refd[h] ->
                kunmap(h * G, h * G + G - 1);
                mark_range(h * G, h * G + G - 1, false)
            fi
        fi;
        steps++
    :: else -> break
    od;
    steps = 0;
    visits = 0;
    h = 0;
    cnt = 0
}

/* map_pages(first, n, faulting): the result in `result`. */
inline map_pages(mfirst, mn, faulting)
{
    retries = 0;
    result = R_OK;
    do
    :: mn > 0 ->
        kmap(mfirst, mn);
        atomic {
#ifndef BUG_EVENT_ORDER
            /* the events queued before these installs are applied before the
             * installs are marked; none if an OVERFLOW unmapped everything */
            apply_events();
#endif
            if
            :: done > 0 && !ovfl -> mark_range(mfirst, mfirst + done - 1, true)
            :: done > 0 && ovfl -> printf("@ daemon: OVERFLOW during the map: mark nothing\n")
            :: else
            fi;
            ovfl = false;
            mfirst = mfirst + done;
            mn = mn - done;
            if
            :: rc == R_OK -> break
            :: rc == R_EAGAIN ->
#ifndef BUG_RETRY_FOREVER
                retries++;
                if
                :: retries > MAXR ->
                    result = R_EAGAIN;
                    printf("@ daemon: EAGAIN %d times: give up, the guest faults again\n", retries);
                    break
                :: else
                fi
#else
                skip
#endif
            :: rc == R_ENODATA ->
                if
                :: mfirst == faulting -> result = R_ENODATA; break
                :: else ->
                    /* a lost neighbour: left for its own fault */
                    printf("@ daemon: lost neighbour %d skipped\n", mfirst);
                    mfirst++;
                    mn--
                fi
            fi
        }
    :: else -> break
    od;
    retries = 0;
    rc = 0;
    done = 0
}

active proctype daemon()
{
    bool res[NP];  /* resident bits */
    bool refd[NG]; /* referenced bits (CLOCK) */
    byte hand, resident;
    byte v, p, grp, first, n, missing, answer, ramiss, grp2;
    byte k, j, m, cnt, h, steps, visits, rc, done, retries, result, ea, eb, ilo, ihi;
    bool mapped, ovfl, evfail;
#ifdef AGING
    byte ap, ay;
#endif

end_idle:
    do
    :: atomic {
        req?v, p ->
        printf("@ daemon: ACCESS from vcpu %d, page %d\n", v, p);
#ifdef AGING
       };
       /* evict_for(): age before choosing (here every request: a superset) */
       kage();
       atomic {
#endif
        apply_events(); /* daemon.c on_evtchn(): events first */
        ovfl = false;
#ifdef AGING
        /* a use counts only for a page still resident after the events: it never maps */
        if
        :: ay != 255 && res[ay] -> refd[ay / G] = true; printf("@ daemon: aged page %d: used\n", ay)
        :: ay != 255 && !res[ay] -> printf("@ daemon: aged page %d used but gone: ignored\n", ay)
        :: else
        fi;
        ay = 0;
#endif
        /* remap_handle_access() */
        grp = p / G;
        first = grp * G;
        resident_in(grp);
        missing = G - cnt;
        if
        :: missing == 0 ->
            /* mapped as far as we know: the request says otherwise, and it wins */
            printf("@ daemon: group %d believed mapped: page %d is not\n", grp, p);
            mark_range(p, p, false);
            missing = 1
        :: else
        fi;
        n = G;
#ifdef READAHEAD
        if
        :: skip
        :: first + 2 * G <= NP ->
            n = 2 * G;
            printf("@ daemon: readahead: groups %d and %d\n", grp, grp + 1)
        fi;
        if
        :: n > G ->
            grp2 = grp + 1; /* an inline's argument is text: resident_in(grp + 1) would not do */
            resident_in(grp2);
#ifndef BUG_RA_NOROOM
            ramiss = missing + G - cnt;
#else
            ramiss = missing;
#endif
            evict_for(ramiss, grp, grp2);
            if
            :: resident + ramiss > W ->
                n = G;
                printf("@ daemon: no room for the readahead: the group alone\n")
            :: else -> missing = ramiss
            fi;
            ramiss = 0;
            grp2 = 0
        :: else
        fi;
        if
        :: n == G -> evict_for(missing, grp, grp)
        :: else
        fi;
#else
        evict_for(missing, grp, grp);
#endif
        /* eviction failed: mapping would overfill the window; answer retry
         * without mapping (unreachable here: an unmap cannot fail) */
        evfail = (resident + missing > W);
#ifdef BUG_SWEEP_IGNORE
        evfail = false;
#endif
        skip
       };
       if
       :: evfail -> printf("@ daemon: eviction failed: retry without mapping\n")
       :: else -> map_pages(first, n, p)
       fi;
       atomic {
           if
           :: !evfail -> refd[grp] = true
           :: else
           fi;
           if
           :: result == R_OK || result == R_EAGAIN -> answer = RETRY
#ifdef BUG_RETRY_LOST
           :: result == R_ENODATA -> answer = RETRY
#else
           :: else -> answer = FAIL
#endif
           fi;
           if
           :: answer == RETRY -> printf("@ daemon: answer vcpu %d retry (believes %d resident, kernel %d)\n", v, resident, installed)
           :: else -> printf("@ daemon: answer vcpu %d fail (believes %d resident, kernel %d)\n", v, resident, installed)
           fi;
           ans[v]!answer;
           pending[v] = false;
           v = 0; p = 0; grp = 0; first = 0; n = 0; missing = 0; answer = 0; result = 0; cnt = 0; evfail = false
       }
#ifndef NO_IDLE_DRAIN
    /* daemon.c on_lend_event(). libev serves the ioreq event channel in the
     * same loop iteration, and on_evtchn() drains events itself: a stream of
     * events never starves a waiting ACCESS, hence empty(req). */
    :: empty(req) && nempty(ev) -> apply_events(); ovfl = false
#endif
    od
}

/* ============================== the guest: vCPUs ============================== */

/* An access is one instruction touching pages p .. p + TOUCH - 1: it is
 * atomic (a TLB shootdown cannot split an instruction) and it faults, before
 * reading anything, on the first page that is not mapped. Reading through a
 * STALE PTE is the use-after-free the protocol must rule out. */
#define PRESENT(x) (pte[x] != NONE)
#if TOUCH == 1
#define ALL_PRESENT (PRESENT(p))
#define ALL_OK (pte[p] == OK)
#elif TOUCH == 2
#define ALL_PRESENT (PRESENT(p) && PRESENT(p + 1))
#define ALL_OK (pte[p] == OK && pte[p + 1] == OK)
#elif TOUCH == 3
#define ALL_PRESENT (PRESENT(p) && PRESENT(p + 1) && PRESENT(p + 2))
#define ALL_OK (pte[p] == OK && pte[p + 1] == OK && pte[p + 2] == OK)
#endif

proctype vcpu(byte id)
{
    byte p, q, a, nacc;

    do
    :: nacc < NACC ->
        atomic {
#if TOUCH == 1
            select(p : 0 .. NP - 1)
#else
            /* from the last page of a group into the next group(s) */
            select(p : 0 .. (NP - TOUCH + 1) / G - 1);
            p = p * G + G - 1
#endif
        };
        do
        :: atomic {
               ALL_PRESENT ->
               assert(ALL_OK); /* read: the PTEs map the current content */
               printf("@ vcpu %d: access to page %d done\n", id, p);
               break
           }
        :: atomic {
               !ALL_PRESENT ->
               q = p;
               do
               :: PRESENT(q) -> q++
               :: else -> break
               od;
               pending[id] = true;
               req!id, q;
               printf("@ vcpu %d: page %d not mapped: ACCESS\n", id, q);
               q = 0
           };
           ans[id]?a;
           if
           :: a == FAIL -> printf("@ vcpu %d: fault injected (page %d)\n", id, p); break
           :: else
           fi
        od;
        nacc++;
        p = 0;
        a = 0
    :: else -> break
    od;
    vdone[id] = true
}

/*
 * The window: the kernel holds no more than W pages (remap.h). With the event
 * queued before the zap (lend_abi.h), the daemon can read it and map other
 * pages while the pages it names are still mapped: the kernel then holds more
 * than W until that zap, so the invariant allows that gap (prezap > 0).
 * STRICT_WINDOW: the kernel never holds more than W, in any state.
 */
#ifdef STRICT_WINDOW
#define WINDOW_OK (installed <= W)
#else
#define WINDOW_OK (installed <= W || prezap > 0)
#endif

/* The invariants, evaluated in every reachable state. */
active proctype monitor()
{
end_watch:
    if
    :: atomic { nstale > 0 -> assert(nstale == 0) } /* no stale PTE installed */
#ifndef NO_CHECK_WINDOW
    :: atomic { !WINDOW_OK -> assert(WINDOW_OK) }   /* the window */
#endif
    fi
}

init
{
    atomic {
        run vcpu(0);
#if NVCPU > 1
        run vcpu(1);
#endif
        run invalidator(0)
#if NINV > 1
        ; run invalidator(1)
#endif
    }
}

/* ---- temporal properties: check.sh runs pan -a -f -N <name> ---- */
#if NVCPU > 1
#define ALL_DONE (vdone[0] && vdone[1])
#define ANSWERED ((pending[0] -> <> !pending[0]) && (pending[1] -> <> !pending[1]))
#else
#define ALL_DONE (vdone[0])
#define ANSWERED (pending[0] -> <> !pending[0])
#endif
#if NINV > 1
#define INV_ENDS ((inv_busy[0] -> <> !inv_busy[0]) && (inv_busy[1] -> <> !inv_busy[1]))
#else
#define INV_ENDS (inv_busy[0] -> <> !inv_busy[0])
#endif

/* every access of every vCPU eventually completes or faults */
ltl progress { <> ALL_DONE }
/* the daemon answers every ACCESS */
ltl responsive { [] ANSWERED }
/* every invalidation ends, whatever the guest and the daemon do */
ltl inv_ends { [] INV_ENDS }
