/*
 * interleave_avx512.h - the stride-2 column pair's interleave, shared by the igemm's
 * pair output (igemm_avx512.c) and the phase path's pair stores (im2col_avx512.c):
 * 16 values of each of two phases become 32 contiguous outputs, the first phase's in
 * the even places. Include only from files built for AVX-512F.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TCONV_INTERLEAVE_AVX512_H
#define TCONV_INTERLEAVE_AVX512_H

#include <immintrin.h>

/* Outputs 0-15 (*lo) and 16-31 (*hi) of a (even places) and b (odd): two two-source
 * permutes. */
static inline __attribute__((always_inline)) void tconv__interleave_avx512(__m512 a, __m512 b,
                                                                           __m512 *lo, __m512 *hi)
{
    const __m512i il = _mm512_set_epi32(23, 7, 22, 6, 21, 5, 20, 4, 19, 3, 18, 2, 17, 1, 16, 0);
    const __m512i ih =
        _mm512_set_epi32(31, 15, 30, 14, 29, 13, 28, 12, 27, 11, 26, 10, 25, 9, 24, 8);
    *lo = _mm512_permutex2var_ps(a, il, b);
    *hi = _mm512_permutex2var_ps(a, ih, b);
}

#endif /* TCONV_INTERLEAVE_AVX512_H */
