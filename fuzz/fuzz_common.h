/*
 * fuzz_common.h - helpers shared by tconv's fuzz targets and their replay driver:
 * a byte reader that never runs out, a table of hostile integers, an allocator that
 * checks its contract and can fail on demand, and an independent model of the
 * validation rules of docs/API.md ("Validation rules, in the order they are checked").
 *
 * The model exists so that a fuzz target knows the exact status every call must
 * return, not just "some error": a library that accepts an invalid problem, rejects a
 * valid one, or names the wrong rule is caught even when nothing crashes. It is
 * written from the documentation, not from src/validate.c.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TCONV_FUZZ_COMMON_H
#define TCONV_FUZZ_COMMON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tconv.h"

/* libFuzzer's entry point; the replay driver calls the same function. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Prints the message (and the input being processed, if fz_set_input was called) and
 * aborts, which libFuzzer reports as a crash and the replay test as a failure. */
void fz_fail(const char *fmt, ...)
#if defined(__GNUC__) || defined(__clang__)
    __attribute__((format(printf, 1, 2), noreturn))
#endif
    ;
/* A short text describing the current case, printed by fz_fail. */
void fz_set_context(const char *text);

/* ------------------------------------------------------------------ reader */
/* Reads past the end give zeros, so every input decodes to some case. */
typedef struct fz_reader {
    const uint8_t *p;
    size_t n, pos;
} fz_reader;

uint8_t fz_u8(fz_reader *r);
uint64_t fz_u64(fz_reader *r);
/* lo + (next byte) % (hi - lo + 1); hi - lo < 256. */
int64_t fz_pick(fz_reader *r, int64_t lo, int64_t hi);

/* A value for a mutated field: small ints, boundary values near 2^31, 2^32, sqrt and
 * halves of INT64_MAX, INT64_MAX, INT64_MIN, or raw bits, chosen by `kind`. */
int64_t fz_hostile(uint8_t kind, uint64_t raw);

/* ------------------------------------------------------------------ allocator */
/* Checks that tconv honours the allocator contract (alignment argument, size >= 1,
 * frees only what it got, frees everything), fills fresh blocks with NaN bytes so that
 * reading uninitialised scratch shows up as a wrong result, refuses requests above a
 * cap (so a huge but valid problem fails with OUT_OF_MEMORY instead of paging), and
 * can fail the k-th request. Thread-safe. */
typedef struct fz_alloc {
    tconv_allocator hooks; /* pass &hooks as exec.allocator */
    size_t cap;            /* largest request granted */
    int64_t fail_at;       /* 0-based index of the request to refuse, -1 = none */
    /* counters (read under no lock only when no call is running) */
    int64_t requests, granted, refused, frees, live;
    size_t live_bytes, peak_bytes;
    bool misuse;           /* a broken contract: bad alignment/size or unknown free */
    char misuse_what[160];
} fz_alloc;

void fz_alloc_init(fz_alloc *a, size_t cap);
/* Resets the request counter used by fail_at (the live counters are kept). */
void fz_alloc_arm(fz_alloc *a, int64_t fail_at);
/* Frees whatever is still live (after reporting a leak) so the process can go on. */
void fz_alloc_release_all(fz_alloc *a);

/* ------------------------------------------------------------------ model */
/* What the model derives from a problem whose shapes pass. */
typedef struct fz_geom {
    int64_t n, cin, h, w, cout, cout_g, cin_g, kh, kw, hout, wout;
} fz_geom;

typedef enum fz_kind {
    FZ_ONESHOT,      /* tconv_convtranspose2d_ex */
    FZ_WORKSPACE,    /* tconv_workspace_size */
    FZ_OUTPUT_SHAPE, /* tconv_output_shape */
    FZ_PLAN_CREATE,  /* tconv_plan_create */
    FZ_PLAN_RUN      /* tconv_plan_run */
} fz_kind;

/* What a plan was made from, for the rules of tconv_plan_run. */
typedef struct fz_plan_model {
    tconv_params params;
    int64_t wshape[4]; /* the plan's contiguous weight copy */
    bool has_bias;
    int32_t rank;
    int64_t n, h, w;   /* planned input */
    int32_t algorithm, isa; /* what tconv_plan_info reported */
} fz_plan_model;

typedef struct fz_call {
    fz_kind kind;
    const tconv_params *params;
    const tconv_tensor *input, *weight, *bias, *output;
    const tconv_exec *exec;
    const fz_plan_model *plan; /* FZ_PLAN_RUN */
} fz_call;

/* The status the documented rules give for this call, through the selection rules
 * (S) but before execution (X: workspace, allocation). The per-function first checks
 * on out-pointers (plan, bytes, out_shape) are the caller's. `g` is filled when the
 * shape rules (D) pass. `isa_top` is tconv_isa_detected(). */
tconv_status fz_model(const fz_call *c, tconv_isa isa_top, fz_geom *g);

/* Group E alone (NULL = the defaults, which pass). */
tconv_status fz_model_exec(const tconv_exec *e);

/* Rule S2 as the algorithms document it today: whether an explicitly requested
 * algorithm handles the shape. */
bool fz_model_supports(int algorithm, const tconv_params *p);

/* C1..C5 for one tensor alone; fills the element extent [lo, hi] and emptiness. */
typedef struct fz_extent {
    int64_t lo, hi;
    bool empty;
} fz_extent;
tconv_status fz_model_tensor(const tconv_tensor *t, int min_rank, int max_rank, fz_extent *e);

/* The output-size formula with every step checked; false on int64 overflow. */
bool fz_out_dim(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dil, int64_t outpad,
                int64_t *out);

#endif /* TCONV_FUZZ_COMMON_H */
