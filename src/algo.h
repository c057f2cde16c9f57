/*
 * algo.h - the algorithm interface and the two choices a call makes:
 * which algorithm (by problem shape, select.c) and which ISA (by CPU, cpu.c).
 *
 * Every algorithm is a tconv_algo_impl: whether it supports a shape, how many bytes of
 * pre-packed weights it wants and how to pack them (done once by a plan, or into the
 * workspace by a one-shot call), how much per-call workspace it needs, and how to run.
 * A one-shot call and a plan run go through the same functions (api.c, plan.c).
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

/* Everything an algorithm's run needs. */
typedef struct tconv_run_args {
    const tconv_problem *pb;
    tconv_isa isa;
    int threads;
    const tconv_exec *exec; /* for parallel_for */
    const void *packed;     /* the algorithm's packed weights (NULL if it wants none) */
    void *workspace;        /* workspace_bytes() bytes, 64-byte aligned */
} tconv_run_args;

typedef struct tconv_algo_impl {
    tconv_algorithm id;
    /* Can it run this shape? If not, *why names the rule. */
    bool (*supports)(const tconv_shape *s, const char **why);
    /* Bytes of packed weights (0: runs on the caller's weight view directly). */
    size_t (*packed_bytes)(const tconv_shape *s, tconv_isa isa);
    /* Packs pb's weight (and bias if it wants) into dst of packed_bytes() bytes. */
    void (*pack)(const tconv_problem *pb, tconv_isa isa, void *dst);
    /* Per-call scratch bytes for `threads` threads on shape s: for the call `call`
     * (its views' strides may decide what it copies), or, call NULL, the most any
     * call on s needs (a plan's query, which knows no views). */
    size_t (*workspace_bytes)(const tconv_shape *s, const tconv_problem *call, tconv_isa isa,
                              int threads);
    void (*run)(const tconv_run_args *a);
} tconv_algo_impl;

/* The implementation of an algorithm (never AUTO), or NULL if this build lacks it. */
const tconv_algo_impl *tconv__algo_impl(tconv_algorithm algo);

/* Pure: the algorithm tconv runs for this shape when asked for AUTO, with the reason.
 * Depends on nothing but its arguments (tests call it directly). */
tconv_algorithm tconv__select_algorithm(const tconv_shape *s, tconv_isa isa, const char **reason);

/* Threads a call on shape s uses when the caller asks for `requested` (0 = the
 * default): fewer for small problems (tconv__threads_for_work). */
int tconv__threads_for_shape(const tconv_shape *s, int requested);

/* Resolves exec's AUTO choices (algorithm, ISA, threads) and checks explicit ones
 * against the shape and the CPU. */
tconv_status tconv__choose(const tconv_shape *s, const tconv_exec *exec, tconv_algo_choice *c);

/* ------------------------------------------------------------ ISA (cpu.c) */
typedef struct tconv_cpu_features {
    bool avx2_fma; /* AVX2 + FMA + OS saves ymm */
    bool avx512f;  /* AVX-512F + OS saves zmm */
} tconv_cpu_features;
/* Pure: the best ISA a CPU with these features supports in this build, capped by a
 * TCONV_ISA-style request string (NULL or unknown = no cap). */
tconv_isa tconv__isa_for(tconv_cpu_features f, const char *request);
/* The features of this CPU (cpuid + xgetbv on x86-64; none elsewhere). */
tconv_cpu_features tconv__cpu_features(void);

/* ------------------------------------------------------------ memory (memory.c) */
#define TCONV_ALIGN 64
/* Rounds up to a multiple of TCONV_ALIGN; returns SIZE_MAX on overflow. */
size_t tconv__align_up(size_t bytes);
/* Aligned (TCONV_ALIGN) allocation through the caller's allocator or the C library. */
void *tconv__alloc(const tconv_allocator *a, size_t bytes);
void tconv__free(const tconv_allocator *a, void *p);

/* ------------------------------------------------------------ execution (api.c) */
/* Workspace bytes tconv__execute uses for the call pb (NULL: the most any call on
 * shape s uses), TCONV_ALIGN-aligned; SIZE_MAX on overflow. `packed`: the weights come
 * packed (a plan), else they are packed into the workspace too. */
size_t tconv__workspace_used(const tconv_shape *s, const tconv_problem *pb,
                             const tconv_algo_choice *c, bool packed);
/* What callers are told to provide for `used` bytes: room to align any pointer too
 * (0 stays 0; SIZE_MAX on overflow). */
size_t tconv__workspace_asked(size_t used);
/* Runs a validated problem with its choice: ws_bytes (tconv__workspace_used of pb)
 * of workspace from exec (or allocated), then the algorithm. `packed` is the plan's
 * packed weights, or NULL to pack them into the workspace first (one-shot call).
 * Nothing is written to the output on failure. */
tconv_status tconv__execute(const tconv_problem *pb, const tconv_algo_choice *c,
                            const tconv_exec *exec, const void *packed, size_t ws_bytes,
                            tconv_report *report);
/* Checks exec's problem-independent fields. */
tconv_status tconv__check_exec(const tconv_exec *e);

#endif /* TCONV_ALGO_H */
