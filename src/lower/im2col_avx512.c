/*
 * im2col_avx512.c - AVX-512F panel packer of the phase path (contract in im2col.h).
 *
 * Runs are copied 16 lanes at a time with masked loads (lanes outside the input are
 * zero and touch no memory) and masked stores. The common panel is uniform: all its
 * runs start at the same column and have the same length (whole phase rows, or
 * aligned pieces of rows); then the column masks depend only on the tap, and each run
 * costs a row check, a load and a store.
 *
 * SPDX-License-Identifier: MIT
 */
#include <immintrin.h>
#include <stdbool.h>

#include "../gemm/interleave_avx512.h"
#include "im2col.h"

static __mmask16 lanes(int64_t from, int64_t to) /* bits [from, to) of 0..16 */
{
    from = from < 0 ? 0 : from > 16 ? 16 : from;
    to = to < 0 ? 0 : to > 16 ? 16 : to;
    return to > from ? (__mmask16)(((1u << to) - 1u) & ~((1u << from) - 1u)) : 0;
}

/* Integer address arithmetic: masked-off lanes may lie outside the input. */
static const float *at(const float *base, int64_t off)
{
    return (const float *)((uintptr_t)base + (uintptr_t)(off * (int64_t)sizeof(float)));
}

/* Bits [from, to) of a 64-lane mask (0 <= from, to <= 64). */
static uint64_t bits64(int64_t from, int64_t to)
{
    if (to <= from)
        return 0;
    const uint64_t upto = to >= 64 ? ~(uint64_t)0 : ((uint64_t)1 << to) - 1;
    return upto & ~(((uint64_t)1 << from) - 1);
}

/* Runs of any start and length <= 64: per run and tap, one 64-bit lane mask of the
 * valid columns, cut into 16-lane pieces. */
static void panel_general(float *panel, int64_t nr, int64_t ncols, const tconv_im2col_tap *taps,
                          int64_t K, const tconv_im2col_seg *segs, int64_t nsegs,
                          const float *x, int64_t xs2, int64_t h, int64_t w)
{
    for (int64_t k = 0; k < K; k++) {
        float *row = panel + k * nr;
        const tconv_im2col_tap tp = taps[k];
        for (int64_t si = 0; si < nsegs; si++) {
            const tconv_im2col_seg *s = &segs[si];
            const int64_t iy = s->qy + tp.dy, ix0 = s->qx0 + tp.dx, len = s->len;
            int64_t lo, hi;
            tconv__im2col_valid(iy, ix0, len, h, w, &lo, &hi);
            const uint64_t ld = bits64(lo, hi), st = bits64(0, len);
            const float *src = at(x, s->x_off + tp.c_off + (hi > lo ? iy * xs2 : 0) + ix0);
            float *d = row + s->col;
            for (int64_t t0 = 0; t0 < len; t0 += 16) {
                const __m512 v =
                    _mm512_maskz_loadu_ps((__mmask16)(ld >> t0), at(src, t0));
                _mm512_mask_storeu_ps(d + t0, (__mmask16)(st >> t0), v);
            }
        }
        for (int64_t c0 = ncols; c0 < nr; c0 += 16)
            _mm512_mask_storeu_ps(row + c0, lanes(0, nr - c0), _mm512_setzero_ps());
    }
}

/* All runs share qx0 and len <= 32 (two vectors). */
static void panel_uniform(float *panel, int64_t nr, int64_t ncols, const tconv_im2col_tap *taps,
                          int64_t K, const tconv_im2col_seg *segs, int64_t nsegs,
                          const float *x, int64_t xs2, int64_t h, int64_t w)
{
    const int64_t qx0 = segs[0].qx0, len = segs[0].len;
    const __mmask16 st0 = lanes(0, len), st1 = lanes(0, len - 16);
    for (int64_t k = 0; k < K; k++) {
        float *row = panel + k * nr;
        const tconv_im2col_tap tp = taps[k];
        const int64_t ix0 = qx0 + tp.dx;
        const int64_t lo = ix0 < 0 ? -ix0 : 0, hi = w - ix0 < len ? w - ix0 : len;
        const __mmask16 ld0 = lanes(lo, hi), ld1 = lanes(lo - 16, hi - 16);
        /* Row qy + dy of a run may lie outside the input (then nothing is loaded), and
         * its offset beyond int64 when the row stride is huge (H = 1: any stride is
         * valid): the offsets are computed as unsigned integers, which wrap, and are
         * exact for the rows inside the input. */
        const uintptr_t xk =
            (uintptr_t)x +
            ((uintptr_t)tp.c_off + (uintptr_t)tp.dy * (uintptr_t)xs2 + (uintptr_t)ix0) *
                (uintptr_t)sizeof(float);
        for (int64_t si = 0; si < nsegs; si++) {
            const tconv_im2col_seg *s = &segs[si];
            const bool ok = (uint64_t)(s->qy + tp.dy) < (uint64_t)h;
            const float *src =
                (const float *)(xk + ((uintptr_t)s->x_off + (uintptr_t)s->qy * (uintptr_t)xs2) *
                                         (uintptr_t)sizeof(float));
            const __m512 v0 = _mm512_maskz_loadu_ps(ok ? ld0 : 0, src);
            _mm512_mask_storeu_ps(row + s->col, st0, v0);
            if (len > 16) {
                const __m512 v1 = _mm512_maskz_loadu_ps(ok ? ld1 : 0, at(src, 16));
                _mm512_mask_storeu_ps(row + s->col + 16, st1, v1);
            }
        }
        for (int64_t c0 = ncols; c0 < nr; c0 += 16)
            _mm512_mask_storeu_ps(row + c0, lanes(0, nr - c0), _mm512_setzero_ps());
    }
}

void tconv__im2col_panel_avx512(float *panel, int64_t nr, int64_t ncols,
                                const tconv_im2col_tap *taps, int64_t K,
                                const tconv_im2col_seg *segs, int64_t nsegs, const float *x,
                                int64_t xs2, int64_t h, int64_t w)
{
    bool uniform = nsegs > 0 && segs[0].len <= 32, short_runs = true;
    for (int64_t si = 0; si < nsegs; si++) {
        uniform = uniform && segs[si].qx0 == segs[0].qx0 && segs[si].len == segs[0].len;
        short_runs = short_runs && segs[si].len <= 64;
    }
    if (uniform)
        panel_uniform(panel, nr, ncols, taps, K, segs, nsegs, x, xs2, h, w);
    else if (short_runs)
        panel_general(panel, nr, ncols, taps, K, segs, nsegs, x, xs2, h, w);
    else
        tconv__im2col_panel_scalar(panel, nr, ncols, taps, K, segs, nsegs, x, xs2, h, w);
}

/* Channels last: points [0, n) (n <= 16) of up to 8 C rows (channels; mm of them),
 * transposed in registers: 8 whole-row loads, unpacks and shuffles within 128-bit
 * lanes give each point's channels 0-3 and 4-7 in one lane of two vectors, a
 * two-source permute puts two points' 8 channels in a vector, and each point is one
 * masked store. */
static void store_points(float *y, int64_t step, const float *c, int64_t ldc, int64_t mm,
                         int64_t n)
{
    __m512 r[8];
    for (int i = 0; i < 8; i++)
        r[i] = i < mm ? _mm512_loadu_ps(c + i * ldc) : _mm512_setzero_ps();
    /* lane k of t[2i]: rows 2i, 2i+1 of points 4k, 4k+1; of t[2i+1]: of 4k+2, 4k+3 */
    __m512 t[8];
    for (int i = 0; i < 4; i++) {
        t[2 * i] = _mm512_unpacklo_ps(r[2 * i], r[2 * i + 1]);
        t[2 * i + 1] = _mm512_unpackhi_ps(r[2 * i], r[2 * i + 1]);
    }
    /* lane k of u[j]: rows 0-3 of point 4k + j; of v[j]: rows 4-7 */
    const __m512 u[4] = {_mm512_shuffle_ps(t[0], t[2], 0x44), _mm512_shuffle_ps(t[0], t[2], 0xee),
                         _mm512_shuffle_ps(t[1], t[3], 0x44), _mm512_shuffle_ps(t[1], t[3], 0xee)};
    const __m512 v[4] = {_mm512_shuffle_ps(t[4], t[6], 0x44), _mm512_shuffle_ps(t[4], t[6], 0xee),
                         _mm512_shuffle_ps(t[5], t[7], 0x44), _mm512_shuffle_ps(t[5], t[7], 0xee)};
    /* [u lane 0, v lane 0, u lane 1, v lane 1] and the same of lanes 2 and 3 */
    const __m512i lo = _mm512_set_epi32(23, 22, 21, 20, 7, 6, 5, 4, 19, 18, 17, 16, 3, 2, 1, 0);
    const __m512i hi =
        _mm512_set_epi32(31, 30, 29, 28, 15, 14, 13, 12, 27, 26, 25, 24, 11, 10, 9, 8);
    const __mmask16 k = lanes(0, mm);
    for (int j = 0; j < 4; j++) {
        const __m512 a = _mm512_permutex2var_ps(u[j], lo, v[j]); /* points j, 4 + j */
        const __m512 b = _mm512_permutex2var_ps(u[j], hi, v[j]); /* points 8 + j, 12 + j */
        const __m512 pts[4] = {a, _mm512_shuffle_f32x4(a, a, 0xee), b,
                               _mm512_shuffle_f32x4(b, b, 0xee)};
        for (int q = 0; q < 4; q++)
            if (4 * q + j < n)
                _mm512_mask_storeu_ps(y + (4 * q + j) * step, k, pts[q]);
    }
}

/* Contiguous (step 1) and every-other-column (step 2: the output of a stride-2 phase in
 * NCHW) runs go 16 output floats at a time; step 2 spreads 8 C values over the even
 * lanes with a permute and writes only those lanes. Loads are whole vectors (a masked
 * load cannot take its data from the store buffer): up to 15 floats past the end of a
 * C run are read (see im2col.h). */
void tconv__phase_store_avx512(float *y, int64_t ys_co, int64_t step, const float *c,
                               int64_t ldc, int64_t m, int64_t len)
{
    if (ys_co == 1 && m > 1) {
        /* channels last: 16 points and 8 channels at a time (store_points). A gather
         * per point took 58% of grp4's time: its loads wait for the C block's stores
         * to leave the store buffer, which a gather cannot read from. */
        for (int64_t r0 = 0; r0 < m; r0 += 8)
            for (int64_t t0 = 0; t0 < len; t0 += 16)
                store_points(y + t0 * step + r0, step, c + r0 * ldc + t0, ldc,
                             m - r0 < 8 ? m - r0 : 8, len - t0 < 16 ? len - t0 : 16);
        return;
    }
    if (step != 1 && step != 2) {
        tconv__phase_store_scalar(y, ys_co, step, c, ldc, m, len);
        return;
    }
    /* lane 2i <- element i */
    const __m512i spread = _mm512_set_epi32(7, 7, 6, 6, 5, 5, 4, 4, 3, 3, 2, 2, 1, 1, 0, 0);
    for (int64_t co = 0; co < m; co++) {
        float *yd = y + co * ys_co;
        const float *src = c + co * ldc;
        if (step == 1) {
            for (int64_t t0 = 0; t0 < len; t0 += 16)
                _mm512_mask_storeu_ps(yd + t0, lanes(0, len - t0), _mm512_loadu_ps(src + t0));
        } else {
            for (int64_t t0 = 0; t0 < len; t0 += 8) {
                const int64_t n = len - t0 < 8 ? len - t0 : 8;
                const __mmask16 even = (__mmask16)(0x5555u & ((1u << (2 * n)) - 1u));
                const __m512 v = _mm512_permutexvar_ps(
                    spread, _mm512_castps256_ps512(_mm256_loadu_ps(src + t0)));
                _mm512_mask_storeu_ps(yd + 2 * t0, even, v);
            }
        }
    }
}

/* 16 values of each phase become 32 contiguous outputs (tconv__interleave_avx512)
 * and two stores, masked at the end of the run.
 * Reads up to 15 floats past the end of each C run (see im2col.h). */
void tconv__pair_store_avx512(float *y, int64_t ys_co, const float *c0, const float *c1,
                              int64_t ldc, int64_t m, int64_t len)
{
    for (int64_t co = 0; co < m; co++) {
        float *yd = y + co * ys_co;
        const float *s0 = c0 + co * ldc, *s1 = c1 + co * ldc;
        for (int64_t t0 = 0; t0 < len; t0 += 16) {
            const int64_t n = len - t0;
            /* whole-vector loads: a masked load cannot take its data from the store
             * buffer, and the C block was written just before */
            __m512 lo, hi;
            tconv__interleave_avx512(_mm512_loadu_ps(s0 + t0), _mm512_loadu_ps(s1 + t0), &lo,
                                     &hi);
            _mm512_mask_storeu_ps(yd + 2 * t0, lanes(0, 2 * n), lo);
            if (n > 8)
                _mm512_mask_storeu_ps(yd + 2 * t0 + 16, lanes(0, 2 * n - 16), hi);
        }
    }
}

/* Points [pc, pc + n) of one grid row (row[c]: grid column c; `in`: the row holds
 * inputs), 16 at a time: a masked load of the inputs (the gap's lanes, and rows
 * outside the input, load nothing) and a masked store. */
static void grid_row(float *dst, const float *row, bool in, int64_t pc, int64_t n, int64_t gap)
{
    for (int64_t i = 0; i < n; i += 16) {
        const __mmask16 st = lanes(0, n - i);
        const __mmask16 ld = in ? st & lanes(gap - (pc + i), 16) : 0;
        _mm512_mask_storeu_ps(dst + i, st, _mm512_maskz_loadu_ps(ld, at(row, pc + i)));
    }
}

/* A partial first row, whole rows, a partial last row. Whole rows of at most 16 points
 * (most of the layers' grids) take one load and one store with masks computed once. */
void tconv__grid_copy_avx512(float *dst, const float *x, int64_t xs2, int64_t xs3, int64_t h,
                             int64_t top, int64_t gap, int64_t wp, int64_t f, int64_t f_end)
{
    if (xs3 != 1) {
        tconv__grid_copy_scalar(dst, x, xs2, xs3, h, top, gap, wp, f, f_end);
        return;
    }
    int64_t pr = f / wp;
    const int64_t pc = f % wp;
    if (pc != 0 && f < f_end) {
        const int64_t n = wp - pc < f_end - f ? wp - pc : f_end - f, iy = pr - top;
        const bool in = iy >= 0 && iy < h;
        grid_row(dst, at(x, (in ? iy * xs2 : 0) - gap), in, pc, n, gap);
        f += n;
        dst += n;
        pr++;
    }
    const __mmask16 st = lanes(0, wp), ld = st & lanes(gap, 16);
    for (; f + wp <= f_end; f += wp, dst += wp, pr++) {
        const int64_t iy = pr - top;
        const bool in = iy >= 0 && iy < h;
        const float *row = at(x, (in ? iy * xs2 : 0) - gap);
        if (wp <= 16)
            _mm512_mask_storeu_ps(dst, st, _mm512_maskz_loadu_ps(in ? ld : 0, row));
        else
            grid_row(dst, row, in, 0, wp, gap);
    }
    if (f < f_end) {
        const int64_t iy = pr - top;
        const bool in = iy >= 0 && iy < h;
        grid_row(dst, at(x, (in ? iy * xs2 : 0) - gap), in, 0, f_end - f, gap);
    }
}
