/*
 * igemm_avx512.c - the AVX-512F indirect GEMM micro-kernel f32_igemm_8x3v_avx512
 * (contract in gemm.h): 8 rows of packed A times up to three 16-lane vectors of B
 * loaded straight from a zero-padded copy of the input. The phase path uses it instead
 * of packing an im2col panel per phase and tile: the input is copied once per call,
 * where im2col copied it once per tap. No lane masks: GCC 12 rebuilds mask registers
 * from general registers inside the loop (kmovw, on an FMA port), which cost 20%.
 *
 * SPDX-License-Identifier: MIT
 */
#include <immintrin.h>

#include "gemm.h"

enum { MR = 8, NVMAX = 3 };

const tconv_igemm_kernel tconv__igemm_f32_8x3v_avx512 = {
    MR, TCONV_ISA_AVX512, tconv__igemm_avx512, "f32_igemm_8x3v_avx512",
};

/* A is streamed once per column tile from L2; prefetch it ~32 k steps ahead, as the
 * GEMM kernel does. B rows are reread by every row panel of A, so they come from L1. */
enum { PREFETCH_A = 32 * MR };

/* nv is a constant at each call site below; the accumulators are named variables (an
 * array indexed in loops ends up in memory) so that all 8 x nv live in registers:
 * 24 + 3 B vectors + 1 broadcast of the 32 zmm for nv = 3. Lanes of vectors past nv
 * are never computed. */
#define INIT(r)                                                                           \
    do {                                                                                  \
        const __m512 init_ = !accumulate && bias && (r) < m ? _mm512_set1_ps(bias[r])   \
                                                            : _mm512_setzero_ps();        \
        const int ld_ = accumulate && (r) < m;                                            \
        c##r##_0 = ld_ ? _mm512_loadu_ps(c + (r) * ldc) : init_;                          \
        c##r##_1 = nv > 1 && ld_ ? _mm512_loadu_ps(c + (r) * ldc + 16) : init_;           \
        c##r##_2 = nv > 2 && ld_ ? _mm512_loadu_ps(c + (r) * ldc + 32) : init_;           \
    } while (0)
#define ROW(r)                                                                            \
    do {                                                                                  \
        const __m512 ar_ = _mm512_set1_ps(at[r]);                                                \
        c##r##_0 = _mm512_fmadd_ps(ar_, b0, c##r##_0);                                    \
        if (nv > 1)                                                                       \
            c##r##_1 = _mm512_fmadd_ps(ar_, b1, c##r##_1);                                \
        if (nv > 2)                                                                       \
            c##r##_2 = _mm512_fmadd_ps(ar_, b2, c##r##_2);                                \
    } while (0)
#define STORE(r)                                                                          \
    do {                                                                                  \
        if ((r) < m) {                                                                    \
            _mm512_storeu_ps(c + (r) * ldc, c##r##_0);                                    \
            if (nv > 1)                                                                   \
                _mm512_storeu_ps(c + (r) * ldc + 16, c##r##_1);                           \
            if (nv > 2)                                                                   \
                _mm512_storeu_ps(c + (r) * ldc + 32, c##r##_2);                           \
        }                                                                                 \
    } while (0)

static inline __attribute__((always_inline)) void
igemm(const int nv, int64_t channels, const float *a, int64_t a_tap, const tconv_igemm_b *b,
      float *c, int64_t ldc, int64_t m, const float *bias, int accumulate)
{
    __m512 c0_0, c0_1, c0_2, c1_0, c1_1, c1_2, c2_0, c2_1, c2_2, c3_0, c3_1, c3_2, c4_0, c4_1, c4_2, c5_0, c5_1, c5_2, c6_0, c6_1, c6_2, c7_0, c7_1, c7_2;
    INIT(0);
    INIT(1);
    INIT(2);
    INIT(3);
    INIT(4);
    INIT(5);
    INIT(6);
    INIT(7);
    __m512 b0, b1 = _mm512_setzero_ps(), b2 = _mm512_setzero_ps();
    for (int64_t t = 0; t < b->ntaps; t++) {
        const uintptr_t o = (uintptr_t)(b->off[t] * (int64_t)sizeof(float));
        const float *p0 = (const float *)(b->base[0] + o), *p1 = (const float *)(b->base[1] + o),
                    *p2 = (const float *)(b->base[2] + o);
        const float *at = a + t * a_tap;
        const int64_t pf = b->pf;
        for (int64_t ch = 0; ch < channels; ch++) {
            _mm_prefetch((const char *)(at + PREFETCH_A), _MM_HINT_T0);
            _mm_prefetch((const char *)(p0 + pf), _MM_HINT_T1);
            _mm_prefetch((const char *)(p1 + pf), _MM_HINT_T1);
            _mm_prefetch((const char *)(p2 + pf), _MM_HINT_T1);
            b0 = _mm512_loadu_ps(p0);
            if (nv > 1)
                b1 = _mm512_loadu_ps(p1);
            if (nv > 2)
                b2 = _mm512_loadu_ps(p2);
            ROW(0);
            ROW(1);
            ROW(2);
            ROW(3);
            ROW(4);
            ROW(5);
            ROW(6);
            ROW(7);
            at += MR;
            p0 += b->cs;
            p1 += b->cs;
            p2 += b->cs;
        }
    }
    STORE(0);
    STORE(1);
    STORE(2);
    STORE(3);
    STORE(4);
    STORE(5);
    STORE(6);
    STORE(7);
}

void tconv__igemm_avx512(int64_t channels, const float *a, int64_t a_tap, const tconv_igemm_b *b,
                         int nv, float *c, int64_t ldc, int64_t m, const float *bias,
                         int accumulate)
{
    if (nv >= 3)
        igemm(3, channels, a, a_tap, b, c, ldc, m, bias, accumulate);
    else if (nv == 2)
        igemm(2, channels, a, a_tap, b, c, ldc, m, bias, accumulate);
    else
        igemm(1, channels, a, a_tap, b, c, ldc, m, bias, accumulate);
}
