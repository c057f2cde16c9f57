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

/* Number of tasks for this problem (>= 1 when the output is non-empty, 0 when N == 0):
 * a function of the shape, and of whether the call is channels-last depthwise
 * (tconv__direct_channels_last), whose tasks cover 16 channels each. */
int64_t tconv__direct_tasks(const tconv_problem *pb);

/* Does this call take the channels-last depthwise kernel (below)? Depthwise (one input
 * and one output channel per group, more than one group), input and output channels
 * adjacent in memory, kw <= TCONV_DIRECT_MAX_TAPS and kh*kw <= TCONV_DIRECT_CL_TAPS. */
bool tconv__direct_channels_last(const tconv_problem *pb);

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
 * out[0, ox_end - ox_begin) and nothing else (it may keep running sums there during the
 * call), and reads only input columns [0, w). */

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
/* direct_avx2.c, direct_avx512.c: x86-64 only; call them only when the CPU has the ISA
 * (tconv_isa_detected()). */
void tconv__direct_rows_f32_avx2(const tconv_direct_cols *c, int64_t ox_begin, int64_t ox_end,
                                 const tconv_direct_rowjob *rows, int64_t nrows);
void tconv__direct_rows_f32_avx512(const tconv_direct_cols *c, int64_t ox_begin,
                                   int64_t ox_end, const tconv_direct_rowjob *rows,
                                   int64_t nrows);
#endif

/* ------------------------------------------------------------ stride-2 plane kernels
 * The most common upsampling layer (stride 2 both ways, kernel 2x2 or 4x4, no dilation)
 * has a regular structure that the row kernels cannot exploit: with ty = oy + ph = 2m + a
 * and tx = ox + pw = 2n + b (a, b in {0, 1}), output (ty, tx) is
 *   init + sum over ci, i < K, j < K of w[ci, co, a + 2i, b + 2j] * x[ci, m - i, n - j]
 * (K = kh/2, taps outside the input skipped), summed in that order (= ci, ky, kx
 * ascending). So the four outputs of a 2x2 quad read the same K*K inputs per channel:
 * one vector load of x[ci, m - i, n - j .. n - j + 15] feeds four accumulators. These
 * kernels compute whole output rows of one plane (n, co) from such loads. */
typedef struct tconv_direct_s2plane {
    const tconv_direct_cols *c; /* sw == 2: K taps per phase, offsets descending by 1 */
    const float *x;     /* channel ci0 of image n: (cig, iy, ix) at x[cig*xc + iy*xh + ix] */
    int64_t xc, xh;     /* channel and row strides of x (unit stride along W) */
    int64_t h;          /* input height (the width is c->w) */
    const float *wt;    /* weights of this co: (cig, ky, tap i) at wt[(cig*kh + ky)*kh + i],
                         * taps in the order of c (kh = kw = 2K) */
    int64_t cin_g;      /* 1 <= cin_g, cin_g*kh*kh <= TCONV_DIRECT_S2_MAXW */
    int32_t k2;         /* K = kh / 2: 1 or 2 */
    float init;         /* bias or 0 */
    float *y;           /* output plane: (oy, ox) at y[oy*yh + ox] (unit stride along W) */
    int64_t yh, wout;
    int64_t ph;         /* padding along H */
    int64_t oy0, oy1;   /* the output rows to compute, 0 <= oy0 < oy1 <= hout */
} tconv_direct_s2plane;

#define TCONV_DIRECT_S2_MAXW 1024 /* weights a plane kernel takes (copied to its stack) */

/* Whether the plane kernels take this shape with column geometry c (strides aside). */
bool tconv__direct_s2plane_ok(const tconv_shape *s, const tconv_direct_cols *c);

typedef void (*tconv_direct_s2plane_fn)(const tconv_direct_s2plane *p);
#if TCONV_HAVE_X86_KERNELS
void tconv__direct_s2plane_f32_avx2(const tconv_direct_s2plane *p);
void tconv__direct_s2plane_f32_avx512(const tconv_direct_s2plane *p);
#endif

/* ------------------------------------------------------ channels-last depthwise rows
 * With channels last, a depthwise layer's channels are adjacent in memory at every
 * point and each has its own 1-channel kernel: vectorised across 16 channels, one
 * output point of a block of channels is
 *   acc = init[lane]; for each valid ky (ascending), for each tap of ox's phase in tap
 *   order that reads inside the input: acc += x[iy, ix, lane] * w[lane, ky, kx]
 * (the same order as the row kernels: ky, then kx ascending, one FMA or one rounding
 * per product and one per add). A call computes one output row of nb blocks of 16
 * channels, all blocks of a point in turn (their lines adjacent in memory). */
#define TCONV_DIRECT_CL_TAPS 64 /* kh*kw limit: the task's weights are on its stack */

typedef struct tconv_direct_clrow {
    const tconv_direct_cols *c; /* column geometry of the layer */
    const float *const *xrow;   /* nky input rows: channel l of block b, column ix at
                                 * xrow[k][ix*xw + 16*b + l] */
    const float *const *wrow;   /* nky weight rows: tap i (order of c) of block b, lane l at
                                 * wrow[k][b*wblock + 16*i + l] */
    int64_t nky;                /* rows that reach this output row (0: init only) */
    int64_t xw;                 /* input column stride */
    int64_t nb, wblock;         /* blocks (>= 1); floats between their weights */
    const float *init;          /* 16*nb lanes: bias or 0 */
    float *y;                   /* channel l of block b, output column ox at
                                 * y[ox*yw + 16*b + l] */
    int64_t yw, wout;
    int32_t nc;                 /* channels in the last block, 1..16: its lanes [nc, 16)
                                 * are neither read nor written */
} tconv_direct_clrow;

typedef void (*tconv_direct_clrow_fn)(const tconv_direct_clrow *r);
void tconv__direct_clrow_f32_scalar(const tconv_direct_clrow *r);
#if TCONV_HAVE_X86_KERNELS
void tconv__direct_clrow_f32_avx2(const tconv_direct_clrow *r);
void tconv__direct_clrow_f32_avx512(const tconv_direct_clrow *r);
#endif

/* The kernels of an ISA level (AUTO = tconv_isa_detected()); a level without its own
 * takes the next lower one's. */
typedef struct tconv_direct_kernels {
    tconv_direct_rows_fn rows;
    tconv_direct_s2plane_fn s2plane; /* NULL: none at this level (scalar) */
    tconv_direct_clrow_fn clrow;
} tconv_direct_kernels;

const tconv_direct_kernels *tconv__direct_kernels(tconv_isa isa);

/* Fills the column geometry of shape s. Returns false if kw > TCONV_DIRECT_MAX_TAPS. */
bool tconv__direct_cols_init(const tconv_shape *s, tconv_direct_cols *c);

#endif /* TCONV_DIRECT_H */
