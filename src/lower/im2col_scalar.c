/*
 * im2col_scalar.c - portable panel packer, stores and grid copy of the phase path
 * (contracts in im2col.h), and the table of them by ISA.
 *
 * SPDX-License-Identifier: MIT
 */
#include "im2col.h"

void tconv__im2col_panel_scalar(float *panel, int64_t nr, int64_t ncols,
                                const tconv_im2col_tap *taps, int64_t K,
                                const tconv_im2col_seg *segs, int64_t nsegs, const float *x,
                                int64_t xs2, int64_t h, int64_t w)
{
    for (int64_t k = 0; k < K; k++) {
        float *row = panel + k * nr;
        const tconv_im2col_tap tp = taps[k];
        for (int64_t si = 0; si < nsegs; si++) {
            const tconv_im2col_seg *s = &segs[si];
            float *d = row + s->col;
            const int64_t iy = s->qy + tp.dy, ix0 = s->qx0 + tp.dx;
            int64_t lo, hi, t = 0;
            tconv__im2col_valid(iy, ix0, s->len, h, w, &lo, &hi);
            for (; t < lo; t++)
                d[t] = 0.0f;
            if (hi > lo) {
                const float *src = x + s->x_off + tp.c_off + iy * xs2 + (ix0 + lo);
                for (; t < hi; t++)
                    d[t] = src[t - lo];
            }
            for (; t < s->len; t++)
                d[t] = 0.0f;
        }
        for (int64_t c = ncols; c < nr; c++)
            row[c] = 0.0f;
    }
}

void tconv__phase_store_scalar(float *y, int64_t ys_co, int64_t step, const float *c,
                               int64_t ldc, int64_t m, int64_t len)
{
    if (ys_co == 1) { /* channels last: a point's channels are contiguous */
        for (int64_t t = 0; t < len; t++)
            for (int64_t co = 0; co < m; co++)
                y[t * step + co] = c[co * ldc + t];
        return;
    }
    for (int64_t co = 0; co < m; co++) {
        float *yd = y + co * ys_co;
        const float *src = c + co * ldc;
        for (int64_t t = 0; t < len; t++)
            yd[t * step] = src[t];
    }
}

void tconv__pair_store_scalar(float *y, int64_t ys_co, const float *c0, const float *c1,
                              int64_t ldc, int64_t m, int64_t len)
{
    for (int64_t co = 0; co < m; co++)
        for (int64_t t = 0; t < len; t++) {
            y[co * ys_co + 2 * t] = c0[co * ldc + t];
            y[co * ys_co + 2 * t + 1] = c1[co * ldc + t];
        }
}

void tconv__grid_copy_scalar(float *dst, const float *x, int64_t xs2, int64_t xs3, int64_t h,
                             int64_t top, int64_t gap, int64_t wp, int64_t f, int64_t f_end)
{
    int64_t pr = f / wp, pc = f % wp;
    for (int64_t n; f < f_end; f += n, dst += n, pr++, pc = 0) {
        n = wp - pc < f_end - f ? wp - pc : f_end - f;
        const int64_t iy = pr - top;
        for (int64_t i = 0; i < n; i++)
            dst[i] = iy >= 0 && iy < h && pc + i >= gap ? x[iy * xs2 + (pc + i - gap) * xs3]
                                                        : 0.0f;
    }
}

const tconv_lower_kernels *tconv__lower_kernels(tconv_isa isa)
{
    static const tconv_lower_kernels scalar = {tconv__im2col_panel_scalar,
                                               tconv__phase_store_scalar,
                                               tconv__pair_store_scalar, tconv__grid_copy_scalar};
#if TCONV_HAVE_X86_KERNELS
    static const tconv_lower_kernels avx2 = {tconv__im2col_panel_avx2, tconv__phase_store_scalar,
                                             tconv__pair_store_scalar, tconv__grid_copy_scalar};
    static const tconv_lower_kernels avx512 = {
        tconv__im2col_panel_avx512, tconv__phase_store_avx512, tconv__pair_store_avx512,
        tconv__grid_copy_avx512};
    if (isa >= TCONV_ISA_AVX512)
        return &avx512;
    if (isa >= TCONV_ISA_AVX2)
        return &avx2;
#else
    (void)isa;
#endif
    return &scalar;
}
