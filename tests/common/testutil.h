/*
 * testutil.h - helpers shared by the test suites: deterministic random data, tensors
 * in several layouts, and the comparison with a rigorous per-element tolerance.
 *
 * Tolerance. Every algorithm computes each output element as bias + a sum of K
 * products in float (K = Cin/groups * kH * kW at most), in some order, with or without
 * FMA. The standard bound for any such evaluation is
 *     |computed - exact| <= gamma(K+1) * S,   gamma(n) = n*u/(1-n*u), u = 2^-24,
 * where S = |bias| + sum |x*w| over the same terms. Two algorithms therefore differ by
 * at most 2*gamma(K+1)*S. tu_check_close() computes S per element (the reference kernel
 * run on |x|, |w|, |b|, in double) and accepts |got - want| <= factor*2*gamma(K+1)*S
 * (+ FLT_MIN for the all-zero case). factor = 1 is the rigorous bound; it is rarely
 * tight (errors grow like sqrt(K) in practice), so a failure is a real bug.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TCONV_TESTUTIL_H
#define TCONV_TESTUTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "tconv.h"

/* xorshift64*: same sequence on every machine. */
typedef struct tu_rng {
    uint64_t s;
} tu_rng;
tu_rng tu_rng_seed(uint64_t seed);
uint64_t tu_next(tu_rng *r);
/* integer in [lo, hi] */
int64_t tu_range(tu_rng *r, int64_t lo, int64_t hi);
/* float uniform in [-1, 1) */
float tu_uniform(tu_rng *r);

typedef enum tu_layout {
    TU_CONTIGUOUS = 0,   /* row-major in dim order (NCHW for rank 4) */
    TU_CHANNELS_LAST = 1, /* rank 4: N,H,W,C in memory; rank 3: H,W,C */
    TU_CROPPED = 2,      /* a sub-view of a larger contiguous buffer (every dim padded) */
    TU_REVERSED = 3      /* innermost dim stored backwards (negative stride) */
} tu_layout;
#define TU_LAYOUT_COUNT 4

/* A tensor plus the buffer it views. `buf` is what to free. */
typedef struct tu_tensor {
    tconv_tensor t;
    float *buf;
    size_t buf_len; /* floats */
} tu_tensor;

/* Allocates a view of `shape` in `layout`; fills every buffer element (also the gaps
 * of cropped views) with `fill` if rng is NULL, else with tu_uniform values. */
tu_tensor tu_tensor_new(int rank, const int64_t *shape, tu_layout layout, tu_rng *rng,
                        float fill);
void tu_tensor_free(tu_tensor *t);
/* Pointer to element idx (rank entries). */
float *tu_at(const tconv_tensor *t, const int64_t *idx);
/* Number of elements of the view. */
int64_t tu_numel(const tconv_tensor *t);

/* Copies src's values into dst (same shape, any strides). */
void tu_copy_values(const tconv_tensor *dst, const tconv_tensor *src);

/* A problem's params and the shapes of its tensors (bias: has one, of Cout). */
typedef struct tu_problem {
    tconv_params p;
    int64_t xshape[4], wshape[4], yshape[4];
    int rank;
    bool bias;
} tu_problem;

/* A rank-4 problem with bias from a row {N, Cin, H, W, Cout, k, stride, pad, outpad,
 * groups, dil, unused}: square kernel, the same parameters along both axes. */
tu_problem tu_case_problem(const int64_t c[12]);

/* Compares two outputs of the same problem element by element with the bound above.
 * Returns true if all agree; otherwise false and a description of the worst element
 * in msg. x, w, b (b may be NULL) are the problem's inputs. */
bool tu_check_close(const tconv_params *p, const tconv_tensor *x, const tconv_tensor *w,
                    const tconv_tensor *b, const tconv_tensor *got, const tconv_tensor *want,
                    double factor, char *msg, size_t msglen);

/* tu_check_close in two steps, for checking many outputs of one problem: the exact
 * result and S of every element computed once (tu_bound_new: the costly part, a gather
 * over every term), then any number of comparisons against it (tu_check_close_bound:
 * got and want as in tu_check_close, of the problem the bound was made for). */
typedef struct tu_bound {
    double *exact, *s; /* tu_exact's result and S */
    int64_t k;         /* terms per element, K */
    int64_t dims[4];   /* the output's N, Cout, Hout, Wout (N = 1 unbatched): a got or want
                        * of another shape fails the check (it would read past exact) */
} tu_bound;
tu_bound tu_bound_new(const tconv_params *p, const tconv_tensor *x, const tconv_tensor *w,
                      const tconv_tensor *b);
bool tu_check_close_bound(const tu_bound *bd, const tconv_tensor *got, const tconv_tensor *want,
                          double factor, char *msg, size_t msglen);
void tu_bound_free(tu_bound *bd);

/* The exact (double) result of the problem at every output element, contiguous
 * (N, Cout, Hout, Wout) with N = 1 for unbatched; plus S (sum of magnitudes) if s_out
 * is not NULL. Caller frees both with free(). Written straight from the definition,
 * as a gather, independently of the library's reference kernel. */
double *tu_exact(const tconv_params *p, const tconv_tensor *x, const tconv_tensor *w,
                 const tconv_tensor *b, double **s_out);

/* Advances idx (rank entries) to the next index of `shape` in row-major order. Returns
 * false once every index has been visited (idx is then all zeros again); start from all
 * zeros and call it after visiting each index. An empty shape has no indices: callers
 * check tu_numel() first. */
bool tu_next_index(int rank, const int64_t *shape, int64_t *idx);

/* Compares `got` with tu_exact() element by element and accepts
 *     |got - exact| <= factor * gamma(K+1) * S + FLT_MIN,
 * the rigorous bound for ONE float evaluation in any order, with or without FMA (half of
 * tu_check_close's tolerance, which bounds the difference of two evaluations). factor = 1
 * is rigorous. Same return and msg convention as tu_check_close(). */
bool tu_check_exact(const tconv_params *p, const tconv_tensor *x, const tconv_tensor *w,
                    const tconv_tensor *b, const tconv_tensor *got, double factor, char *msg,
                    size_t msglen);

/* True if a and b (same rank and shape, any strides) hold bit-identical floats at every
 * index; otherwise false and the first differing index in msg. */
bool tu_same_bits(const tconv_tensor *a, const tconv_tensor *b, char *msg, size_t msglen);

#endif /* TCONV_TESTUTIL_H */
