/* SPDX-License-Identifier: MIT */
/*
 * The end-to-end data pattern, shared by the real-Xen guest test program and
 * anything that must reproduce its data (the simulator's harness).
 *
 * The data is the simulator's (tests/sim/harness/pattern.h, included here, not
 * copied): the word at BAR offset OFF is pattern_word(SEED, OFF / 8). One
 * function on both sides is what lets the fidelity check compare what the guest
 * reads on real Xen with what the simulated guest reads.
 *
 * Seeds of the guest program's phases (SEED is --seed, default 0x1e4d5853):
 *     threads         SEED              BAR [0, N): vCPU 0 writes the first half,
 *                                       vCPU 1 the second (8-byte stores for the
 *                                       first --plain-bytes of each, rep movsq after)
 *     rep-movs        SEED + 1          BAR [N, N + R): rep movsq from RAM, then back
 *     rep-movs DF=1   (SEED + 1) ^ 0xdf  then the first 64 KiB of that region again,
 *                                       copied backwards (std; rep movsq)
 *     sizes           SEED + 2          the page at N + R: 1-, 2-, 4- and 8-byte stores
 *     loop            SEED + 16 + pass  BAR [0, N), pass = 0, 1, ... (the destroy case)
 * N is --threads-bytes (default 4 MiB), R is --rep-bytes (default 1 MiB).
 */
#ifndef E2E_PATTERN_H
#define E2E_PATTERN_H

#include "../../sim/harness/pattern.h"

#define E2E_PATTERN_DEFAULT_SEED 0x1e4d5853ULL

/* The word at byte offset OFF (a multiple of 8). */
static inline uint64_t e2e_pattern_word(uint64_t seed, uint64_t off)
{
    return pattern_word(seed, off / 8);
}

static inline uint8_t e2e_pattern_byte(uint64_t seed, uint64_t off)
{
    return pattern_byte(seed, off);
}

#endif
