/* SPDX-License-Identifier: MIT */
/*
 * The simulated guest: one thread per vCPU running workloads against BAR 0
 * of a device. Every access goes through cpu.c as the guest's instructions
 * would (RAM directly, MMIO through ioreqs), and what is read is checked
 * against the pattern (a function of seed and BAR offset) or a shadow copy.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"
#include "pattern.h"
#include "trace.h"

#define SCRATCH_MAX (1ULL << 20)

static void count_error(struct harness *h, struct vcpu_thread *t, uint64_t off, uint64_t got,
                        uint64_t want, unsigned int size)
{
    uint64_t poison = HV_POISON_WORD;
    uint64_t n = atomic_fetch_add(&h->gs.integrity_errors, 1);

    /* A value straight from a freed, poisoned page: somebody used a stale mapping. */
    if (memcmp(&got, &poison, size) == 0)
        atomic_fetch_add(&h->gs.stale_accesses, 1);
    if (n < 5)
        h_fail(h, "vCPU %u: BAR offset 0x%llx read 0x%llx, expected 0x%llx (size %u)", t->id,
               (unsigned long long)off, (unsigned long long)got, (unsigned long long)want, size);
}

/* A guest access failed because the domain died or the vCPU was abandoned. */
static int aborted(struct harness *h, struct vcpu_thread *t, int rc)
{
    atomic_fetch_add(&h->gs.workloads_aborted, 1);
    if (h->verbose)
        fprintf(stderr, "xensim: vCPU %u: workload stopped (%s)\n", t->id, strerror(-rc));
    return rc;
}

/* A fault Xen injected into the guest (lending: lost content, refused access). */
static void count_fault(struct harness *h)
{
    atomic_fetch_add(&h->gs.faults_injected, 1);
}

/*
 * One guest access to the BAR. Returns 0, FAULTED if the guest took a fault
 * instead (the value is then meaningless), or a negative errno to stop.
 */
#define FAULTED 1
static int bar_access(struct vcpu_thread *t, uint64_t off, unsigned int size, int dir,
                      uint64_t *val)
{
    struct harness *h = t->h;
    int rc = cpu_mem(&h->hv->vcpu[t->id], t->job.bar_base + off, size, dir, val);

    if (rc == -EFAULT) {
        count_fault(h);
        return FAULTED;
    }
    if (rc == 0) {
        atomic_fetch_add_explicit(&h->gs.accesses, 1, memory_order_relaxed);
        atomic_fetch_add_explicit(dir == IOREQ_READ ? &h->gs.bytes_read : &h->gs.bytes_written,
                                  size, memory_order_relaxed);
    }
    return rc;
}

static int wl_pattern(struct vcpu_thread *t, bool verify)
{
    struct workload *w = &t->job;

    for (uint64_t off = w->off; off < w->off + w->len; off += w->size) {
        uint64_t want = pattern_value(w->seed, off, w->size), got = want;
        int rc = bar_access(t, off, w->size, verify ? IOREQ_READ : IOREQ_WRITE, &got);

        if (rc < 0)
            return aborted(t->h, t, rc);
        if (verify && rc == 0 && got != want && !(w->allow_zero && got == 0))
            count_error(t->h, t, off, got, want, w->size);
    }
    return 0;
}

static int wl_verify_value(struct vcpu_thread *t)
{
    struct workload *w = &t->job;
    uint64_t want = w->value & (w->size == 8 ? ~0ULL : (1ULL << (w->size * 8)) - 1);

    for (uint64_t off = w->off; off < w->off + w->len; off += w->size) {
        uint64_t got = 0;
        int rc = bar_access(t, off, w->size, IOREQ_READ, &got);

        if (rc < 0)
            return aborted(t->h, t, rc);
        if (rc == 0 && got != want)
            count_error(t->h, t, off, got, want, w->size);
    }
    return 0;
}

static uint64_t fnv1a_bytes(uint64_t hash, const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        hash ^= p[i];
        hash *= 0x100000001b3ULL;
    }
    return hash;
}

static uint8_t *scratch(struct vcpu_thread *t, uint64_t i);

/*
 * FNV-1a over what the guest reads: the same workload must read the same in
 * every mode. via=movs reads as the real-Xen guest program does (one rep movsq
 * per page into RAM), so both make the same requests and hash the same bytes.
 */
static int wl_digest(struct vcpu_thread *t)
{
    struct harness *h = t->h;
    struct workload *w = &t->job;
    uint64_t hash = 0xcbf29ce484222325ULL;

    for (uint64_t off = w->off; off < w->off + w->len;) {
        uint8_t bytes[8];
        uint64_t n = 8, v = 0;
        int rc;

        if (w->digest_movs) {
            n = MIN_U64(w->off + w->len - off, HV_PAGE_SIZE - (off & (HV_PAGE_SIZE - 1)));
            rc = cpu_rep_movs(&h->hv->vcpu[t->id], t->scratch_gpa, w->bar_base + off, 8, n / 8,
                              false);
        } else {
            rc = bar_access(t, off, 8, IOREQ_READ, &v);
        }
        if (rc < 0) /* a fault included: a digest of partial data means nothing */
            return aborted(h, t, rc);
        if (w->digest_movs) {
            uint8_t *p = scratch(t, 0);

            if (!p) /* the scratch page was ballooned out */
                return aborted(h, t, -EFAULT);
            atomic_fetch_add(&h->gs.accesses, n / 8);
            atomic_fetch_add(&h->gs.bytes_read, n);
            hash = fnv1a_bytes(hash, p, n);
        } else {
            for (unsigned int b = 0; b < 8; b++)
                bytes[b] = (uint8_t)(v >> (8 * b));
            hash = fnv1a_bytes(hash, bytes, 8);
        }
        off += n;
    }
    pthread_mutex_lock(&h->digest_lock);
    for (unsigned int i = 0; i < sizeof(h->digest) / sizeof(h->digest[0]); i++) {
        if (!h->digest[i].set || strcmp(h->digest[i].name, w->digest_name) == 0) {
            snprintf(h->digest[i].name, sizeof(h->digest[i].name), "%s", w->digest_name);
            h->digest[i].value = hash;
            h->digest[i].set = true;
            break;
        }
    }
    pthread_mutex_unlock(&h->digest_lock);
    return 0;
}

static int wl_plain(struct vcpu_thread *t, int dir)
{
    struct workload *w = &t->job;

    for (uint64_t off = w->off; off < w->off + w->len; off += w->stride) {
        uint64_t v = w->value;
        int rc = bar_access(t, off, w->size, dir, &v);

        if (rc < 0)
            return aborted(t->h, t, rc);
    }
    return 0;
}

/* Guest RAM at gpa, as the harness (not the guest) sees it. */
static uint8_t *scratch(struct vcpu_thread *t, uint64_t i)
{
    struct hv *hv = t->h->hv;
    uint64_t gpa = t->scratch_gpa + i;
    int64_t frame = hv_gfn_to_frame(hv, gpa >> HV_PAGE_SHIFT);

    if (frame < 0)
        return NULL;
    return (uint8_t *)hv_frame_ptr(hv, (uint64_t)frame) + (gpa & (HV_PAGE_SIZE - 1));
}

/* rep movs between the BAR and this vCPU's scratch RAM, chunk by chunk. */
static int wl_memcpy(struct vcpu_thread *t, bool into_bar)
{
    struct harness *h = t->h;
    struct workload *w = &t->job;
    struct hv_vcpu *v = &h->hv->vcpu[t->id];

    for (uint64_t done = 0; done < w->len;) {
        uint64_t chunk = MIN_U64(w->len - done, t->scratch_len);
        uint64_t bar = w->bar_base + w->off + done, reps = chunk / w->size;
        uint64_t ram = t->scratch_gpa;
        int rc;

        if (into_bar && !w->nocheck) {
            for (uint64_t i = 0; i < chunk; i++) {
                uint8_t *p = scratch(t, i);
                if (p)
                    *p = pattern_byte(w->seed, w->off + done + i);
            }
        }
        /* With df set, the instruction starts at the last element and walks down. */
        uint64_t last = (reps - 1) * w->size;
        rc = into_bar ? cpu_rep_movs(v, w->df ? bar + last : bar, w->df ? ram + last : ram,
                                     w->size, reps, w->df)
                      : cpu_rep_movs(v, w->df ? ram + last : ram, w->df ? bar + last : bar,
                                     w->size, reps, w->df);
        if (rc == -EFAULT) {
            /* The copy stopped at a fault: this chunk is not checked. */
            count_fault(h);
            done += chunk;
            continue;
        }
        if (rc)
            return aborted(h, t, rc);
        atomic_fetch_add(&h->gs.accesses, reps);
        atomic_fetch_add(into_bar ? &h->gs.bytes_written : &h->gs.bytes_read, chunk);
        if (!into_bar && !w->nocheck) {
            for (uint64_t i = 0; i < chunk; i += w->size) {
                uint64_t got = 0, want = pattern_value(w->seed, w->off + done + i, w->size);
                uint8_t *p = scratch(t, i);

                if (p)
                    memcpy(&got, p, w->size);
                if (got != want)
                    count_error(h, t, w->off + done + i, got, want, w->size);
            }
        }
        done += chunk;
    }
    return 0;
}

/*
 * One rep movs between the BAR and another guest-physical address: when that
 * is another device's MMIO, Xen emulates it element by element and the
 * BAR's side reaches its device model as COPY requests, lent or not.
 */
static int wl_movs_mmio(struct vcpu_thread *t)
{
    struct harness *h = t->h;
    struct workload *w = &t->job;
    uint64_t bar = w->bar_base + w->off, reps = w->len / w->size;
    int rc = cpu_rep_movs(&h->hv->vcpu[t->id], w->into_bar ? bar : w->addr,
                          w->into_bar ? w->addr : bar, w->size, reps, false);

    if (rc == -EFAULT) {
        count_fault(h);
        return 0;
    }
    if (rc)
        return aborted(h, t, rc);
    atomic_fetch_add(&h->gs.accesses, reps);
    atomic_fetch_add(w->into_bar ? &h->gs.bytes_written : &h->gs.bytes_read, w->len);
    return 0;
}

static int wl_fill(struct vcpu_thread *t)
{
    struct harness *h = t->h;
    struct workload *w = &t->job;
    uint64_t reps = w->len / w->size, last = (reps - 1) * w->size;
    uint64_t start = w->bar_base + w->off + (w->df ? last : 0);
    int rc = cpu_rep_stos(&h->hv->vcpu[t->id], start, w->value, w->size, reps, w->df);

    if (rc == -EFAULT) {
        count_fault(h);
        return 0;
    }
    if (rc)
        return aborted(h, t, rc);
    atomic_fetch_add(&h->gs.accesses, reps);
    atomic_fetch_add(&h->gs.bytes_written, w->len);
    return 0;
}

/* Random accesses of random sizes, checked against a shadow copy of the range. */
static int wl_random_rw(struct vcpu_thread *t)
{
    struct harness *h = t->h;
    struct workload *w = &t->job;
    uint8_t *shadow = malloc(w->len);
    uint64_t rng = w->seed ? w->seed : 1;
    int rc = 0;

    if (!shadow)
        return -ENOMEM;
    /* Learn the current content first. */
    for (uint64_t off = 0; off < w->len && rc >= 0; off += 8) {
        uint64_t v = 0;
        rc = bar_access(t, w->off + off, 8, IOREQ_READ, &v);
        memcpy(shadow + off, &v, 8);
    }
    for (uint64_t i = 0; i < w->count && rc >= 0; i++) {
        uint64_t r = pattern_splitmix64(rng++);
        unsigned int size = 1u << (r & 3);
        uint64_t off = ((r >> 8) % (w->len / size)) * size;
        uint64_t v = pattern_splitmix64(r), want = 0;

        if (r & 4) {
            v &= size == 8 ? ~0ULL : (1ULL << (size * 8)) - 1;
            rc = bar_access(t, w->off + off, size, IOREQ_WRITE, &v);
            if (rc == 0)
                memcpy(shadow + off, &v, size);
        } else {
            rc = bar_access(t, w->off + off, size, IOREQ_READ, &v);
            memcpy(&want, shadow + off, size);
            if (rc == 0 && v != want)
                count_error(h, t, w->off + off, v, want, size);
        }
    }
    free(shadow);
    return rc < 0 ? aborted(h, t, rc) : 0;
}

static int wl_raw_ioreq(struct vcpu_thread *t)
{
    struct harness *h = t->h;
    struct workload *w = &t->job;
    struct hv *hv = h->hv;
    ioreq_t p = w->raw;
    int id = w->raw_server;
    enum hv_send_result r;

    if (id < 0) {
        pthread_mutex_lock(&hv->lock);
        for (int i = HV_MAX_SERVERS - 1; i >= 0 && id < 0; i--)
            if (hv->server[i].used && hv->server[i].enabled)
                id = i;
        pthread_mutex_unlock(&hv->lock);
        if (id < 0) {
            h_fail(h, "vCPU %u: raw ioreq: no enabled ioreq server", t->id);
            return -ENOENT;
        }
    }
    r = hv_ioreq_send_to(&hv->vcpu[t->id], (uint16_t)id, &p);
    if (r == HV_IO_DEAD)
        return aborted(h, t, -ESRCH);
    if (r == HV_IO_UNCLAIMED)
        h_fail(h, "vCPU %u: raw ioreq to server %d could not be sent", t->id, id);
    else if (w->raw_check && p.data != w->raw_expect)
        h_fail(h, "vCPU %u: raw ioreq answered 0x%llx, expected 0x%llx", t->id,
               (unsigned long long)p.data, (unsigned long long)w->raw_expect);
    return 0;
}

/* Read one word of every page, in the order of a trace: what window pressure looks like. */
static int wl_trace(struct vcpu_thread *t)
{
    struct workload *w = &t->job;
    struct trace tr;

    if (trace_init(&tr, w->trace_kind ? TRACE_ZIPF : TRACE_LOOP, w->len / HV_PAGE_SIZE,
                   w->trace_s, w->seed))
        return -ENOMEM;
    for (uint64_t i = 0; i < w->count; i++) {
        uint64_t v = 0;
        int rc = bar_access(t, w->off + trace_next(&tr, i) * HV_PAGE_SIZE, 8, IOREQ_READ, &v);

        if (rc < 0) {
            trace_fini(&tr);
            return aborted(t->h, t, rc);
        }
    }
    trace_fini(&tr);
    return 0;
}

void h_record_timing(struct harness *h, const char *label, uint64_t us, uint64_t bytes)
{
    pthread_mutex_lock(&h->digest_lock);
    for (unsigned int i = 0; i < sizeof(h->timing) / sizeof(h->timing[0]); i++) {
        if (!h->timing[i].set || strcmp(h->timing[i].label, label) == 0) {
            snprintf(h->timing[i].label, sizeof(h->timing[i].label), "%s", label);
            h->timing[i].us = us;
            h->timing[i].bytes = bytes;
            h->timing[i].set = true;
            break;
        }
    }
    pthread_mutex_unlock(&h->digest_lock);
}

static void run_job(struct vcpu_thread *t)
{
    struct workload *w = &t->job;
    struct harness *h = t->h;
    double t0 = h_now();
    uint64_t bytes0 = atomic_load(&h->gs.bytes_read) + atomic_load(&h->gs.bytes_written);

    switch (w->op) {
    case WL_WRITE_PATTERN: wl_pattern(t, false); break;
    case WL_VERIFY_PATTERN: wl_pattern(t, true); break;
    case WL_READ: wl_plain(t, IOREQ_READ); break;
    case WL_WRITE: wl_plain(t, IOREQ_WRITE); break;
    case WL_TOUCH: wl_plain(t, IOREQ_READ); break;
    case WL_MEMCPY_IN: wl_memcpy(t, true); break;
    case WL_MEMCPY_OUT: wl_memcpy(t, false); break;
    case WL_FILL: wl_fill(t); break;
    case WL_MOVS_MMIO: wl_movs_mmio(t); break;
    case WL_RANDOM_RW: wl_random_rw(t); break;
    case WL_RAW_IOREQ: wl_raw_ioreq(t); break;
    case WL_VERIFY_VALUE: wl_verify_value(t); break;
    case WL_DIGEST: wl_digest(t); break;
    case WL_TRACE: wl_trace(t); break;
    case WL_FIRMWARE: w->fn_rc = w->fn(&t->h->hv->vcpu[t->id], w->fn_arg); break;
    case WL_NONE: break;
    }
    /* Bytes are counted globally: a labelled workload should run alone to own them. */
    if (w->label[0])
        h_record_timing(h, w->label, (uint64_t)((h_now() - t0) * 1e6),
                        atomic_load(&h->gs.bytes_read) + atomic_load(&h->gs.bytes_written) -
                            bytes0);
}

static void *vcpu_main(void *arg)
{
    struct vcpu_thread *t = arg;

    pthread_mutex_lock(&t->lock);
    for (;;) {
        while (!t->busy && !t->quit)
            pthread_cond_wait(&t->cond, &t->lock);
        if (t->quit)
            break;
        pthread_mutex_unlock(&t->lock);
        run_job(t);
        pthread_mutex_lock(&t->lock);
        t->busy = false;
        pthread_cond_broadcast(&t->cond);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

int guest_start(struct harness *h)
{
    struct hv *hv = h->hv;
    uint64_t per_vcpu = MIN_U64(SCRATCH_MAX, (hv->low_pages * HV_PAGE_SIZE / 2) / hv->cfg.vcpus);

    per_vcpu &= ~(HV_PAGE_SIZE - 1);
    if (per_vcpu < HV_PAGE_SIZE)
        return -EINVAL;
    for (unsigned int i = 0; i < hv->cfg.vcpus; i++) {
        struct vcpu_thread *t = &h->vcpu[i];

        *t = (struct vcpu_thread){.h = h, .id = i};
        /* Scratch buffers in the upper half of low RAM, clear of the guest's firmware area. */
        t->scratch_gpa = hv->low_pages * HV_PAGE_SIZE / 2 + i * per_vcpu;
        t->scratch_len = per_vcpu;
        pthread_mutex_init(&t->lock, NULL);
        pthread_cond_init(&t->cond, NULL);
        if (pthread_create(&t->thread, NULL, vcpu_main, t))
            return -EAGAIN;
    }
    return 0;
}

void guest_stop(struct harness *h)
{
    if (!h->hv)
        return;
    for (unsigned int i = 0; i < h->hv->cfg.vcpus; i++) {
        struct vcpu_thread *t = &h->vcpu[i];

        pthread_mutex_lock(&t->lock);
        t->quit = true;
        pthread_cond_broadcast(&t->cond);
        pthread_mutex_unlock(&t->lock);
        pthread_join(t->thread, NULL);
    }
}

static void wait_idle(struct vcpu_thread *t)
{
    pthread_mutex_lock(&t->lock);
    while (t->busy)
        pthread_cond_wait(&t->cond, &t->lock);
    pthread_mutex_unlock(&t->lock);
}

int guest_submit(struct harness *h, unsigned int vcpu, const struct workload *w)
{
    struct vcpu_thread *t;

    if (!h->hv || vcpu >= h->hv->cfg.vcpus)
        return -EINVAL;
    t = &h->vcpu[vcpu];
    wait_idle(t);
    pthread_mutex_lock(&t->lock);
    t->job = *w;
    t->busy = true;
    pthread_cond_broadcast(&t->cond);
    pthread_mutex_unlock(&t->lock);
    return 0;
}

void guest_wait_all(struct harness *h)
{
    if (!h->hv)
        return;
    for (unsigned int i = 0; i < h->hv->cfg.vcpus; i++)
        wait_idle(&h->vcpu[i]);
}

int guest_call(struct harness *h, int (*fn)(struct hv_vcpu *v, void *arg), void *arg)
{
    struct workload w = {.op = WL_FIRMWARE, .fn = fn, .fn_arg = arg};

    if (guest_submit(h, 0, &w))
        return -EINVAL;
    wait_idle(&h->vcpu[0]);
    return h->vcpu[0].job.fn_rc;
}
