/*
 * internal.h - types and helpers shared by the library's translation units.
 * Nothing here is exported (the library is built with -fvisibility=hidden); tests
 * link the static library and may include this header to call internals directly.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TCONV_INTERNAL_H
#define TCONV_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tconv.h"

#if defined(__GNUC__) || defined(__clang__)
#  define TCONV_PRINTF(f, a) __attribute__((format(printf, f, a)))
#else
#  define TCONV_PRINTF(f, a)
#endif

/* ---------------------------------------------------------------- errors (error.c) */
/* Clears the calling thread's message; every public entry point calls it first. */
void tconv__clear_error(void);
/* Records a message for the calling thread and returns `status` (for `return tconv__fail(...)`). */
tconv_status tconv__fail(tconv_status status, const char *fmt, ...) TCONV_PRINTF(2, 3);

/* ---------------------------------------------------------- checked arithmetic */
/* Each returns false on int64 overflow (and leaves *r unspecified). Inline: validation
 * calls them dozens of times per call. */
static inline bool tconv__add(int64_t a, int64_t b, int64_t *r)
{
    return !__builtin_add_overflow(a, b, r);
}

static inline bool tconv__mul(int64_t a, int64_t b, int64_t *r)
{
    return !__builtin_mul_overflow(a, b, r);
}

/* The size of one spatial dimension:
 * (in-1)*stride - 2*pad + dil*(k-1) + outpad + 1. Returns false on overflow. */
bool tconv__out_dim(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dil,
                    int64_t outpad, int64_t *out);

/* ---------------------------------------------------------------- the problem */
/* Geometry of one call, validated, with the unbatched case folded into N = 1.
 * All four tensors are described as 4-D element strides (bias: 1-D). */
typedef struct tconv_shape {
    int64_t n, cin, h, w;          /* input */
    int64_t cout, kh, kw;          /* weight is (cin, cout/groups, kh, kw) */
    int64_t hout, wout;            /* output */
    int64_t groups, cin_g, cout_g; /* channels per group */
    int64_t sh, sw, ph, pw, oph, opw, dh, dw;
    bool has_bias;
} tconv_shape;

typedef struct tconv_problem {
    tconv_shape s;
    const float *x;  int64_t xs[4]; /* input  (n, ci, y, x); n stride 0 when unbatched */
    const float *wt; int64_t ws[4]; /* weight (ci, co_in_group, ky, kx) */
    const float *b;  int64_t bs;    /* bias (co) or NULL */
    float *y;        int64_t ys[4]; /* output (n, co, oy, ox) */
} tconv_problem;

/* Validation (validate.c), at one of three depths (0 and 1 so that false/true read as
 * "shapes only" / "everything"): */
typedef enum tconv_check {
    TCONV_CHECK_SHAPES = 0,  /* shapes and strides; data may be NULL, output optional */
    TCONV_CHECK_ALL = 1,     /* a forward call: output required, all memory checked */
    TCONV_CHECK_WEIGHTS = 2  /* plan creation: weight and bias memory; no output */
} tconv_check;
tconv_status tconv__check_params(const tconv_params *p);
tconv_status tconv__build_problem(const tconv_params *params, const tconv_tensor *input,
                                  const tconv_tensor *weight, const tconv_tensor *bias,
                                  const tconv_tensor *output, tconv_check check,
                                  tconv_problem *pb);
/* A plan's run: first the input's fit to the plan (its rank and shape against `rank`
 * and the plan's problem, SHAPE_MISMATCH), then the input and output checked as by
 * tconv__build_problem with TCONV_CHECK_ALL, the weight, bias and shape taken from the
 * plan's problem `planned` (built at creation on the plan's private copies, which no
 * caller's tensor can overlap), the batch that of the input (at most the plan's). */
tconv_status tconv__build_run_problem(const tconv_problem *planned, int rank,
                                      const tconv_tensor *input, const tconv_tensor *output,
                                      tconv_problem *pb);

/* ------------------------------------------------------------ kernels */
/* The reference: plain scatter-add, the executable specification (ref/ref.c). */
void tconv__ref_convtranspose2d(const tconv_problem *pb);

#endif /* TCONV_INTERNAL_H */
