/*
 * direct.h - the direct (gather) kernel for depthwise and few-channels-per-group
 * transposed convolutions: every output element is computed once, as
 *   y[n, co, oy, ox] = bias[co] + sum over ci in co's group, ky, kx with
 *                      iy = (oy + ph - ky*dh) / sh and ix = (ox + pw - kx*dw) / sw
 *                      exact and inside the input, of x[n, ci, iy, ix] * w[ci, co%cout_g, ky, kx]
 * (no scatter, no workspace), vectorised along the output width.
 *
 * Work is split into independent tasks; each task writes a disjoint set of output
 * elements, each exactly once, so any number of threads gives bit-identical results.
 * The summation order for one output element is fixed: ci ascending, then ky, then kx
 * ascending, starting from the bias (or 0).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TCONV_DIRECT_H
#define TCONV_DIRECT_H

#include "../internal.h"

/* Number of tasks for this shape (>= 1 when the output is non-empty, 0 when N == 0). */
int64_t tconv__direct_tasks(const tconv_shape *s);

/* Runs task t in [0, tconv__direct_tasks()) with the micro-kernels of `isa`
 * (falls back to the best lower level present in this build). Any strides. */
void tconv__direct_task(const tconv_problem *pb, tconv_isa isa, int64_t t);

/* ------------------------------------------------------------------ row kernels
 * The part that is vectorised: a batch of output rows that share one column geometry.
 *
 * Along W, output column ox = p + sw*q (phase p in [0, sw)) receives the taps kx with
 * (p + pw - kx*dw) divisible by sw, reading input column ix = q + off, off =
 * (p + pw - kx*dw) / sw: for a fixed phase this is a 1-D correlation with contiguous
 * input and output stride sw. A tap contributes only where 0 <= ix < w.
 *
 * A row is a list of terms, one per (ci, ky) that reaches it, in summation order
 * (ci ascending, then ky); each term is an input row that is contiguous along W and
 * the kw weights of that (ci, ky) stored in tap order (the order of
 * tconv_direct_cols.kx). For every output element the kernel computes
 *   acc = accumulate ? out[ox - ox_begin] : init
 *   for each term, for each valid tap of ox's phase in tap order: acc += x[ix] * w[tap]
 * (one rounding per product and one per add, or one FMA) and stores acc. It touches
 * out[0, ox_end - ox_begin) and nothing else, and reads only input columns [0, w). */

/* kw limit of the row kernels; larger kernels take the (slow) per-element path. */
#define TCONV_DIRECT_MAX_TAPS 32

typedef struct tconv_direct_cols {
    int64_t sw;    /* stride along W = number of phases */
    int64_t w;     /* input width */
    int32_t ntaps; /* = kw */
    /* Taps sorted by phase, then kx: tap i is kernel column kx[i] of phase phase[i]
     * and reads ix = q + off[i]. qlo/qhi bound the q for which it is valid: [-off, w-off). */
    int32_t kx[TCONV_DIRECT_MAX_TAPS];
    int64_t phase[TCONV_DIRECT_MAX_TAPS];
    int64_t off[TCONV_DIRECT_MAX_TAPS];
    int64_t qlo[TCONV_DIRECT_MAX_TAPS], qhi[TCONV_DIRECT_MAX_TAPS];
    /* Phases that have taps, ascending: group g is phase g_phase[g], taps
     * [g_begin[g], g_begin[g + 1]). */
    int32_t ngroups;
    int64_t g_phase[TCONV_DIRECT_MAX_TAPS];
    int32_t g_begin[TCONV_DIRECT_MAX_TAPS + 1];
    /* For sw <= 2: taps [p_begin[p], p_begin[p + 1]) are those of phase p (p = 0, 1). */
    int32_t p_begin[3];
} tconv_direct_cols;

typedef struct tconv_direct_term {
    const float *x; /* input row, column ix at x[ix], ix in [0, w) */
    const float *w; /* ntaps weights in tap order */
} tconv_direct_term;

typedef struct tconv_direct_rowjob {
    float *out;                     /* column ox at out[ox - ox_begin] (contiguous) */
    const tconv_direct_term *terms; /* in summation order */
    int64_t nterms;                 /* >= 0 */
    float init;                     /* starting value when !accumulate (bias or 0) */
    int32_t accumulate;             /* nonzero: start from the value already in out */
} tconv_direct_rowjob;

/* Computes output columns [ox_begin, ox_end) of every row job. Requires
 * 0 <= ox_begin < ox_end and, when sw <= 2, ox_begin divisible by sw. */
typedef void (*tconv_direct_rows_fn)(const tconv_direct_cols *c, int64_t ox_begin,
                                     int64_t ox_end, const tconv_direct_rowjob *rows,
                                     int64_t nrows);

/* Portable C (direct_scalar.c), always built. */
void tconv__direct_rows_f32_scalar(const tconv_direct_cols *c, int64_t ox_begin, int64_t ox_end,
                                   const tconv_direct_rowjob *rows, int64_t nrows);
#if TCONV_HAVE_X86_KERNELS
/* x86-64 only; call them only when the CPU has the ISA (tconv_isa_detected()). */
void tconv__direct_rows_f32_avx2(const tconv_direct_cols *c, int64_t ox_begin, int64_t ox_end,
                                 const tconv_direct_rowjob *rows, int64_t nrows);
void tconv__direct_rows_f32_avx512(const tconv_direct_cols *c, int64_t ox_begin,
                                   int64_t ox_end, const tconv_direct_rowjob *rows,
                                   int64_t nrows);
#endif

/* The row kernel tconv__direct_task uses for `isa` (AUTO = tconv_isa_detected()). */
tconv_direct_rows_fn tconv__direct_rows_kernel(tconv_isa isa);

/* Fills the column geometry of shape s. Returns false if kw > TCONV_DIRECT_MAX_TAPS. */
bool tconv__direct_cols_init(const tconv_shape *s, tconv_direct_cols *c);

#endif /* TCONV_DIRECT_H */
