/*
 * im2col_avx2.c - AVX2 panel packer of the phase path (contract in im2col.h): runs are
 * copied 8 lanes at a time with masked loads (lanes outside the input are zero and
 * touch no memory) and masked stores.
 *
 * SPDX-License-Identifier: MIT
 */
#include <immintrin.h>

#include "im2col.h"

static __m256i lanes(int64_t from, int64_t to) /* lanes [from, to) of 0..8 set */
{
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    from = from < 0 ? 0 : from > 8 ? 8 : from;
    to = to < 0 ? 0 : to > 8 ? 8 : to;
    const __m256i ge = _mm256_cmpgt_epi32(idx, _mm256_set1_epi32((int)from - 1));
    const __m256i lt = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)to), idx);
    return _mm256_and_si256(ge, lt);
}

void tconv__im2col_panel_avx2(float *panel, int64_t nr, int64_t ncols,
                              const tconv_im2col_tap *taps, int64_t K,
                              const tconv_im2col_seg *segs, int64_t nsegs, const float *x,
                              int64_t xs2, int64_t h, int64_t w)
{
    for (int64_t k = 0; k < K; k++) {
        float *row = panel + k * nr;
        const tconv_im2col_tap tp = taps[k];
        for (int64_t si = 0; si < nsegs; si++) {
            const tconv_im2col_seg *s = &segs[si];
            const int64_t iy = s->qy + tp.dy, ix0 = s->qx0 + tp.dx;
            int64_t lo, hi;
            tconv__im2col_valid(iy, ix0, s->len, h, w, &lo, &hi);
            const uintptr_t src = (uintptr_t)(x + s->x_off + tp.c_off + (hi > lo ? iy * xs2 : 0)) +
                                  (uintptr_t)(ix0 * 4);
            for (int64_t t0 = 0; t0 < s->len; t0 += 8) {
                const __m256i st = lanes(0, s->len - t0), ld = lanes(lo - t0, hi - t0);
                const __m256 v = _mm256_maskload_ps((const float *)(src + (uintptr_t)(t0 * 4)), ld);
                _mm256_maskstore_ps(row + s->col + t0, st, v);
            }
        }
        for (int64_t c0 = ncols; c0 < nr; c0 += 8)
            _mm256_maskstore_ps(row + c0, lanes(0, nr - c0), _mm256_setzero_ps());
    }
}
