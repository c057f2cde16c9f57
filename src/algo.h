/*
 * algo.h - the algorithm table and the two choices a call makes:
 * which algorithm (by problem shape, select.c) and which ISA (by CPU, cpu.c).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TCONV_ALGO_H
#define TCONV_ALGO_H

#include "internal.h"

/* What a call decided to run. */
typedef struct tconv_algo_choice {
    tconv_algorithm algorithm; /* never AUTO */
    tconv_isa isa;             /* never AUTO */
    int threads;               /* >= 1 */
    const char *reason;        /* static text */
} tconv_algo_choice;

/* Pure: the algorithm tconv runs for this shape when asked for AUTO, with the reason.
 * Depends on nothing but its arguments (tests call it directly). */
tconv_algorithm tconv__select_algorithm(const tconv_shape *s, tconv_isa isa, const char **reason);

/* Whether `algo` can run this shape; if not, *why says which rule it needs. */
bool tconv__algo_supports(tconv_algorithm algo, const tconv_shape *s, const char **why);

/* Resolves exec's AUTO choices and checks explicit ones against the shape and the CPU. */
tconv_status tconv__choose(const tconv_shape *s, const tconv_exec *exec, tconv_algo_choice *c);

/* Workspace bytes the chosen algorithm needs (0 if none). */
size_t tconv__algo_workspace(const tconv_shape *s, const tconv_algo_choice *c);

/* Runs the chosen algorithm; the workspace has tconv__algo_workspace() bytes. */
tconv_status tconv__algo_run(const tconv_problem *pb, const tconv_algo_choice *c,
                             const tconv_exec *exec, void *workspace);

/* ------------------------------------------------------------ ISA (cpu.c) */
/* Pure: the best ISA a CPU with these features supports, capped by a TCONV_ISA-style
 * request string (NULL or "" = no cap; unknown strings are ignored). */
typedef struct tconv_cpu_features {
    bool avx2_fma; /* AVX2 + FMA + OS saves ymm */
    bool avx512f;  /* AVX-512F + OS saves zmm */
} tconv_cpu_features;
tconv_isa tconv__isa_for(tconv_cpu_features f, const char *request);
/* The features of this CPU (cpuid + xgetbv on x86-64; none elsewhere). */
tconv_cpu_features tconv__cpu_features(void);

/* ------------------------------------------------------------ memory (memory.c) */
/* Aligned (64-byte) allocation through the caller's allocator or malloc. */
void *tconv__alloc(const tconv_allocator *a, size_t bytes);
void tconv__free(const tconv_allocator *a, void *p);

#endif /* TCONV_ALGO_H */
