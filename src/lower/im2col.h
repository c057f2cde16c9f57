/*
 * im2col.h - the per-ISA panel packer of the phase path: one NR-column panel of a
 * packed B tile (format in ../gemm/gemm.h: element (k, c) at panel[k*nr + c]) gathered
 * from contiguous input rows. Filling a whole panel k by k writes one sequential stream
 * (nr floats per k); the ISA versions do each run with masked vector loads and stores.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TCONV_IM2COL_H
#define TCONV_IM2COL_H

#include "../internal.h"

/* A run of panel columns with the same (n, qy). */
typedef struct tconv_im2col_seg {
    int64_t x_off;  /* input offset of (n, the group's first channel, row 0, column 0) */
    int64_t qy, qx0, len;
    int64_t col;    /* first panel column of the run */
} tconv_im2col_seg;

/* Row k of the panel reads channel offset c_off, rows shifted by dy, columns by dx. */
typedef struct tconv_im2col_tap {
    int64_t c_off, dy, dx;
} tconv_im2col_tap;

/* For every k in [0, K), run s and t in [0, s.len):
 *   panel[k*nr + s.col + t] = x[s.x_off + tap.c_off + iy*xs2 + ix]
 *       with iy = s.qy + tap.dy, ix = s.qx0 + tap.dx + t,
 * 0 where iy is outside [0, h) or ix outside [0, w); columns [ncols, nr) are zero.
 * Input columns are contiguous (element stride 1). Reads no input element outside
 * those bounds. nr <= 64. */
typedef void (*tconv_im2col_panel_fn)(float *panel, int64_t nr, int64_t ncols,
                                      const tconv_im2col_tap *taps, int64_t K,
                                      const tconv_im2col_seg *segs, int64_t nsegs,
                                      const float *x, int64_t xs2, int64_t h, int64_t w);

void tconv__im2col_panel_scalar(float *panel, int64_t nr, int64_t ncols,
                                const tconv_im2col_tap *taps, int64_t K,
                                const tconv_im2col_seg *segs, int64_t nsegs, const float *x,
                                int64_t xs2, int64_t h, int64_t w);
void tconv__im2col_panel_avx2(float *panel, int64_t nr, int64_t ncols,
                              const tconv_im2col_tap *taps, int64_t K,
                              const tconv_im2col_seg *segs, int64_t nsegs, const float *x,
                              int64_t xs2, int64_t h, int64_t w);
void tconv__im2col_panel_avx512(float *panel, int64_t nr, int64_t ncols,
                                const tconv_im2col_tap *taps, int64_t K,
                                const tconv_im2col_seg *segs, int64_t nsegs, const float *x,
                                int64_t xs2, int64_t h, int64_t w);


/* The other end of the phase path: one run of a C tile to the output. For co in [0, m)
 * and t in [0, len):  y[co*ys_co + t*step] = c[co*ldc + t]. (step is the output's
 * element distance between neighbouring columns of a phase: stride * column stride.)
 * The store functions may read (never use) up to 15 floats past the end of each run of
 * c: callers keep that much readable memory after their C tiles. */
typedef void (*tconv_phase_store_fn)(float *y, int64_t ys_co, int64_t step, const float *c,
                                     int64_t ldc, int64_t m, int64_t len);
void tconv__phase_store_scalar(float *y, int64_t ys_co, int64_t step, const float *c,
                               int64_t ldc, int64_t m, int64_t len);
void tconv__phase_store_avx512(float *y, int64_t ys_co, int64_t step, const float *c,
                               int64_t ldc, int64_t m, int64_t len);

/* Both column phases of a stride-2 output row at once (tiles c0: even columns, c1:
 * odd): for co in [0, m) and t in [0, len):
 *   y[co*ys_co + 2t] = c0[co*ldc + t],  y[co*ys_co + 2t + 1] = c1[co*ldc + t]
 * (output columns contiguous). Whole cache lines instead of every other element. */
typedef void (*tconv_pair_store_fn)(float *y, int64_t ys_co, const float *c0, const float *c1,
                                    int64_t ldc, int64_t m, int64_t len);
void tconv__pair_store_scalar(float *y, int64_t ys_co, const float *c0, const float *c1,
                              int64_t ldc, int64_t m, int64_t len);
void tconv__pair_store_avx512(float *y, int64_t ys_co, const float *c0, const float *c1,
                              int64_t ldc, int64_t m, int64_t len);

/* The direct feed's copy of the input (phase.h, copy_geom): grid points [f, f_end) of
 * one plane into dst. The grid has rows of pitch wp: row pr is `gap` zeros then the
 * wp - gap inputs of input row pr - top, or all zeros when that row is outside [0, h).
 * So, with (pr, pc) = divmod(f + i, wp):
 *   dst[i] = x[(pr - top)*xs2 + (pc - gap)*xs3]  if 0 <= pr - top < h and pc >= gap,
 *            0                                   otherwise.
 * Reads no input element outside the plane. */
typedef void (*tconv_grid_copy_fn)(float *dst, const float *x, int64_t xs2, int64_t xs3,
                                   int64_t h, int64_t top, int64_t gap, int64_t wp, int64_t f,
                                   int64_t f_end);
void tconv__grid_copy_scalar(float *dst, const float *x, int64_t xs2, int64_t xs3, int64_t h,
                             int64_t top, int64_t gap, int64_t wp, int64_t f, int64_t f_end);
void tconv__grid_copy_avx512(float *dst, const float *x, int64_t xs2, int64_t xs3, int64_t h,
                             int64_t top, int64_t gap, int64_t wp, int64_t f, int64_t f_end);

/* The helpers of an ISA level: for each, the best version at or below it in this
 * build. */
typedef struct tconv_lower_kernels {
    tconv_im2col_panel_fn panel;
    tconv_phase_store_fn store;
    tconv_pair_store_fn pair_store;
    tconv_grid_copy_fn grid_copy;
} tconv_lower_kernels;
const tconv_lower_kernels *tconv__lower_kernels(tconv_isa isa);

/* The valid part [*lo, *hi) of a run (empty if the row is outside the input). */
static inline void tconv__im2col_valid(int64_t iy, int64_t ix0, int64_t len, int64_t h,
                                       int64_t w, int64_t *lo, int64_t *hi)
{
    *lo = *hi = 0;
    if (iy >= 0 && iy < h && ix0 < w && ix0 + len > 0) {
        *lo = ix0 < 0 ? -ix0 : 0;
        *hi = w - ix0 < len ? w - ix0 : len;
    }
}

#endif /* TCONV_IM2COL_H */
