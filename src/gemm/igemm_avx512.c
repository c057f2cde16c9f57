/*
 * igemm_avx512.c - the AVX-512F indirect GEMM micro-kernels (contract in gemm.h):
 *   f32_igemm_8x3v_avx512: 8 rows of packed A times up to 3 vectors of 16 lanes,
 *   f32_igemm_4x6v_avx512: 4 rows times up to 6 vectors (A with at most 4 rows:
 *                          few output channels per group, e.g. an RGB output layer),
 * B loaded straight from the input or from a copy of it, with a lane mask
 * per tap and vector when the caller gives masks (on the FMAs; on the loads too in the
 * channels where lanes may be unreadable). The phase path uses them instead of
 * packing an im2col panel per phase and tile. Both keep 24 accumulators, so per k they
 * issue 24 FMAs (12 cycles on two FMA units) against 11 or 10 loads. The masked loads
 * and FMAs are written in inline assembly with the masks as "Yk" operands: with the
 * intrinsics, GCC 12 rebuilt the mask registers from general registers inside the
 * channel loop (kmovw, on an FMA port), which cost 20% (masked loads) and 24% (masked
 * FMAs); this way they are set once per tap. As the second phase of a stride-2 column
 * pair (gemm.h: pair_c0), a kernel writes the output itself, its values interleaved
 * with the first phase's from registers, instead of a C block that a pass of stores
 * would interleave (grp4, srgan, unet_up2: 1.02-1.06x on medians at 1 thread, in process).
 *
 * One body serves both kernels: rows and vectors are guarded by the compile-time
 * constants mr and nv, and each call below instantiates it for one shape;
 * the accumulators are named variables (an array indexed in loops would live in
 * memory) and the ones a shape does not use are dead code.
 *
 * SPDX-License-Identifier: MIT
 */
#include <immintrin.h>

#include "gemm.h"
#include "interleave_avx512.h"

/* A is streamed once per column tile from L2; prefetch it ~256 floats ahead, as the
 * GEMM kernel does. B is not prefetched: the phase path calls the kernel once per row
 * panel on the same B, from its own copy of the grid (in L2) or from a small input read
 * in place. A prefetch of the caller's next column tile for every channel and vector
 * (the kernel did that before) took 4 of the loop's 46 instructions, on a core that
 * issues 4 per cycle against 24 FMAs in 12 (which of that or their L2 requests cost
 * is not measured); without them (Cascade Lake, in process,
 * alternated): unet_up1 1.18x, unet_up2 1.18x, srgan 1.15x, grp4 1.20x, fcn_up 1.17x,
 * dcgan4 1.08x, dcgan5 1.09x at 1 thread, dcgan2, dcgan3, s1_k3, small_b1 1.00-1.05x;
 * 1.01-1.25x at 2. */
enum { PREFETCH_A = 256 };

/* The 16 floats at p whose lanes are set in k (the others 0, and never read: a masked
 * load does not fault on them, so p may lie partly outside the input). */
static inline __attribute__((always_inline)) __m512 masked_load(const float *p, __mmask16 k)
{
    __m512 r;
    __asm__("vmovups %1, %0%{%2%}%{z%}" : "=v"(r) : "m"(*(const float(*)[16])p), "Yk"(k));
    return r;
}

/* c + a*b in the lanes set in k, c elsewhere: one uop like an unmasked FMA. In assembly
 * for the reason masked_load is. */
static inline __attribute__((always_inline)) __m512 masked_fma(__m512 a, __m512 b, __m512 c,
                                                               __mmask16 k)
{
    __asm__("vfmadd231ps %2, %1, %0%{%3%}" : "+v"(c) : "v"(a), "v"(b), "Yk"(k));
    return c;
}

/* B vector v of the current tap and channel: with masks, a masked load only in the
 * channels the caller has not said every lane is readable in (a masked load takes an
 * uop on an FMA port beside the load's: with every load masked the kernel ran 12%
 * slower than unmasked, measured alone); the masks then apply to the FMAs. */
#define LOAD_B(v) (masked && !whole ? masked_load(p##v, k##v) : _mm512_loadu_ps(p##v))
#define FMA(r, v) (masked ? masked_fma(a_, b##v, c##r##_##v, k##v) : \
                            _mm512_fmadd_ps(a_, b##v, c##r##_##v))

/* Row r, vector v of the C block, acc, to the output as the second phase of a column
 * pair: interleaved with the first phase's values (b->pair_c0), 32 contiguous
 * outputs. */
static inline __attribute__((always_inline)) void pair_out(const tconv_igemm_b *b, int64_t r,
                                                           int v, __m512 acc)
{
    __m512 lo, hi;
    tconv__interleave_avx512(_mm512_loadu_ps(b->pair_c0 + r * b->pair_ldc + 16 * v), acc, &lo,
                             &hi);
    float *y = b->pair_y[v] + r * b->pair_ys;
    _mm512_storeu_ps(y, lo);
    _mm512_storeu_ps(y + 16, hi);
}

#define STORE_C(r, v)                                                                      \
    do {                                                                                   \
        if (pair)                                                                          \
            pair_out(b, r, v, c##r##_##v);                                                 \
        else                                                                               \
            _mm512_storeu_ps(c + r * ldc + 16 * v, c##r##_##v);                            \
    } while (0)

static inline __attribute__((always_inline)) void
igemm(const int mr, const int nv, const int masked, const int pair, int64_t channels,
      const float *a, int64_t a_tap, const tconv_igemm_b *b, float *c, int64_t ldc, int64_t m,
      const float *bias, int accumulate)
{
    __m512 c0_0, c0_1, c0_2, c0_3, c0_4, c0_5, c1_0, c1_1, c1_2, c1_3, c1_4, c1_5, c2_0, c2_1, c2_2,
        c2_3, c2_4, c2_5, c3_0, c3_1, c3_2, c3_3, c3_4, c3_5, c4_0, c4_1, c4_2, c4_3, c4_4, c4_5,
        c5_0, c5_1, c5_2, c5_3, c5_4, c5_5, c6_0, c6_1, c6_2, c6_3, c6_4, c6_5, c7_0, c7_1, c7_2,
        c7_3, c7_4, c7_5;
    c0_0 = _mm512_setzero_ps();
    c0_1 = _mm512_setzero_ps();
    c0_2 = _mm512_setzero_ps();
    c0_3 = _mm512_setzero_ps();
    c0_4 = _mm512_setzero_ps();
    c0_5 = _mm512_setzero_ps();
    c1_0 = _mm512_setzero_ps();
    c1_1 = _mm512_setzero_ps();
    c1_2 = _mm512_setzero_ps();
    c1_3 = _mm512_setzero_ps();
    c1_4 = _mm512_setzero_ps();
    c1_5 = _mm512_setzero_ps();
    c2_0 = _mm512_setzero_ps();
    c2_1 = _mm512_setzero_ps();
    c2_2 = _mm512_setzero_ps();
    c2_3 = _mm512_setzero_ps();
    c2_4 = _mm512_setzero_ps();
    c2_5 = _mm512_setzero_ps();
    c3_0 = _mm512_setzero_ps();
    c3_1 = _mm512_setzero_ps();
    c3_2 = _mm512_setzero_ps();
    c3_3 = _mm512_setzero_ps();
    c3_4 = _mm512_setzero_ps();
    c3_5 = _mm512_setzero_ps();
    c4_0 = _mm512_setzero_ps();
    c4_1 = _mm512_setzero_ps();
    c4_2 = _mm512_setzero_ps();
    c4_3 = _mm512_setzero_ps();
    c4_4 = _mm512_setzero_ps();
    c4_5 = _mm512_setzero_ps();
    c5_0 = _mm512_setzero_ps();
    c5_1 = _mm512_setzero_ps();
    c5_2 = _mm512_setzero_ps();
    c5_3 = _mm512_setzero_ps();
    c5_4 = _mm512_setzero_ps();
    c5_5 = _mm512_setzero_ps();
    c6_0 = _mm512_setzero_ps();
    c6_1 = _mm512_setzero_ps();
    c6_2 = _mm512_setzero_ps();
    c6_3 = _mm512_setzero_ps();
    c6_4 = _mm512_setzero_ps();
    c6_5 = _mm512_setzero_ps();
    c7_0 = _mm512_setzero_ps();
    c7_1 = _mm512_setzero_ps();
    c7_2 = _mm512_setzero_ps();
    c7_3 = _mm512_setzero_ps();
    c7_4 = _mm512_setzero_ps();
    c7_5 = _mm512_setzero_ps();
    if (0 < mr) {
        const __m512 i_ =
            !accumulate && bias && 0 < m ? _mm512_set1_ps(bias[0]) : _mm512_setzero_ps();
        const int ld_ = accumulate && 0 < m;
        c0_0 = nv > 0 && ld_ ? _mm512_loadu_ps(c + 0 * ldc + 0) : i_;
        c0_1 = nv > 1 && ld_ ? _mm512_loadu_ps(c + 0 * ldc + 16) : i_;
        c0_2 = nv > 2 && ld_ ? _mm512_loadu_ps(c + 0 * ldc + 32) : i_;
        c0_3 = nv > 3 && ld_ ? _mm512_loadu_ps(c + 0 * ldc + 48) : i_;
        c0_4 = nv > 4 && ld_ ? _mm512_loadu_ps(c + 0 * ldc + 64) : i_;
        c0_5 = nv > 5 && ld_ ? _mm512_loadu_ps(c + 0 * ldc + 80) : i_;
    }
    if (1 < mr) {
        const __m512 i_ =
            !accumulate && bias && 1 < m ? _mm512_set1_ps(bias[1]) : _mm512_setzero_ps();
        const int ld_ = accumulate && 1 < m;
        c1_0 = nv > 0 && ld_ ? _mm512_loadu_ps(c + 1 * ldc + 0) : i_;
        c1_1 = nv > 1 && ld_ ? _mm512_loadu_ps(c + 1 * ldc + 16) : i_;
        c1_2 = nv > 2 && ld_ ? _mm512_loadu_ps(c + 1 * ldc + 32) : i_;
        c1_3 = nv > 3 && ld_ ? _mm512_loadu_ps(c + 1 * ldc + 48) : i_;
        c1_4 = nv > 4 && ld_ ? _mm512_loadu_ps(c + 1 * ldc + 64) : i_;
        c1_5 = nv > 5 && ld_ ? _mm512_loadu_ps(c + 1 * ldc + 80) : i_;
    }
    if (2 < mr) {
        const __m512 i_ =
            !accumulate && bias && 2 < m ? _mm512_set1_ps(bias[2]) : _mm512_setzero_ps();
        const int ld_ = accumulate && 2 < m;
        c2_0 = nv > 0 && ld_ ? _mm512_loadu_ps(c + 2 * ldc + 0) : i_;
        c2_1 = nv > 1 && ld_ ? _mm512_loadu_ps(c + 2 * ldc + 16) : i_;
        c2_2 = nv > 2 && ld_ ? _mm512_loadu_ps(c + 2 * ldc + 32) : i_;
        c2_3 = nv > 3 && ld_ ? _mm512_loadu_ps(c + 2 * ldc + 48) : i_;
        c2_4 = nv > 4 && ld_ ? _mm512_loadu_ps(c + 2 * ldc + 64) : i_;
        c2_5 = nv > 5 && ld_ ? _mm512_loadu_ps(c + 2 * ldc + 80) : i_;
    }
    if (3 < mr) {
        const __m512 i_ =
            !accumulate && bias && 3 < m ? _mm512_set1_ps(bias[3]) : _mm512_setzero_ps();
        const int ld_ = accumulate && 3 < m;
        c3_0 = nv > 0 && ld_ ? _mm512_loadu_ps(c + 3 * ldc + 0) : i_;
        c3_1 = nv > 1 && ld_ ? _mm512_loadu_ps(c + 3 * ldc + 16) : i_;
        c3_2 = nv > 2 && ld_ ? _mm512_loadu_ps(c + 3 * ldc + 32) : i_;
        c3_3 = nv > 3 && ld_ ? _mm512_loadu_ps(c + 3 * ldc + 48) : i_;
        c3_4 = nv > 4 && ld_ ? _mm512_loadu_ps(c + 3 * ldc + 64) : i_;
        c3_5 = nv > 5 && ld_ ? _mm512_loadu_ps(c + 3 * ldc + 80) : i_;
    }
    if (4 < mr) {
        const __m512 i_ =
            !accumulate && bias && 4 < m ? _mm512_set1_ps(bias[4]) : _mm512_setzero_ps();
        const int ld_ = accumulate && 4 < m;
        c4_0 = nv > 0 && ld_ ? _mm512_loadu_ps(c + 4 * ldc + 0) : i_;
        c4_1 = nv > 1 && ld_ ? _mm512_loadu_ps(c + 4 * ldc + 16) : i_;
        c4_2 = nv > 2 && ld_ ? _mm512_loadu_ps(c + 4 * ldc + 32) : i_;
        c4_3 = nv > 3 && ld_ ? _mm512_loadu_ps(c + 4 * ldc + 48) : i_;
        c4_4 = nv > 4 && ld_ ? _mm512_loadu_ps(c + 4 * ldc + 64) : i_;
        c4_5 = nv > 5 && ld_ ? _mm512_loadu_ps(c + 4 * ldc + 80) : i_;
    }
    if (5 < mr) {
        const __m512 i_ =
            !accumulate && bias && 5 < m ? _mm512_set1_ps(bias[5]) : _mm512_setzero_ps();
        const int ld_ = accumulate && 5 < m;
        c5_0 = nv > 0 && ld_ ? _mm512_loadu_ps(c + 5 * ldc + 0) : i_;
        c5_1 = nv > 1 && ld_ ? _mm512_loadu_ps(c + 5 * ldc + 16) : i_;
        c5_2 = nv > 2 && ld_ ? _mm512_loadu_ps(c + 5 * ldc + 32) : i_;
        c5_3 = nv > 3 && ld_ ? _mm512_loadu_ps(c + 5 * ldc + 48) : i_;
        c5_4 = nv > 4 && ld_ ? _mm512_loadu_ps(c + 5 * ldc + 64) : i_;
        c5_5 = nv > 5 && ld_ ? _mm512_loadu_ps(c + 5 * ldc + 80) : i_;
    }
    if (6 < mr) {
        const __m512 i_ =
            !accumulate && bias && 6 < m ? _mm512_set1_ps(bias[6]) : _mm512_setzero_ps();
        const int ld_ = accumulate && 6 < m;
        c6_0 = nv > 0 && ld_ ? _mm512_loadu_ps(c + 6 * ldc + 0) : i_;
        c6_1 = nv > 1 && ld_ ? _mm512_loadu_ps(c + 6 * ldc + 16) : i_;
        c6_2 = nv > 2 && ld_ ? _mm512_loadu_ps(c + 6 * ldc + 32) : i_;
        c6_3 = nv > 3 && ld_ ? _mm512_loadu_ps(c + 6 * ldc + 48) : i_;
        c6_4 = nv > 4 && ld_ ? _mm512_loadu_ps(c + 6 * ldc + 64) : i_;
        c6_5 = nv > 5 && ld_ ? _mm512_loadu_ps(c + 6 * ldc + 80) : i_;
    }
    if (7 < mr) {
        const __m512 i_ =
            !accumulate && bias && 7 < m ? _mm512_set1_ps(bias[7]) : _mm512_setzero_ps();
        const int ld_ = accumulate && 7 < m;
        c7_0 = nv > 0 && ld_ ? _mm512_loadu_ps(c + 7 * ldc + 0) : i_;
        c7_1 = nv > 1 && ld_ ? _mm512_loadu_ps(c + 7 * ldc + 16) : i_;
        c7_2 = nv > 2 && ld_ ? _mm512_loadu_ps(c + 7 * ldc + 32) : i_;
        c7_3 = nv > 3 && ld_ ? _mm512_loadu_ps(c + 7 * ldc + 48) : i_;
        c7_4 = nv > 4 && ld_ ? _mm512_loadu_ps(c + 7 * ldc + 64) : i_;
        c7_5 = nv > 5 && ld_ ? _mm512_loadu_ps(c + 7 * ldc + 80) : i_;
    }
    __m512 b0 = _mm512_setzero_ps(), b1 = b0, b2 = b0, b3 = b0, b4 = b0, b5 = b0;
    /* B's pointers step by cs after each channel, the last included: by 0 when there is
     * one channel, whose stride may be any int64 (a view's unused stride; stepped by it, a
     * pointer could wrap around the address space, which is undefined) */
    const int64_t cs = channels > 1 ? b->cs : 0;
    for (int64_t t = 0; t < b->ntaps; t++) {
        const uintptr_t o = (uintptr_t)(b->off[t] * (int64_t)sizeof(float));
        const float *p0 = (const float *)(b->base[0] + o), *p1 = (const float *)(b->base[1] + o),
                    *p2 = (const float *)(b->base[2] + o), *p3 = (const float *)(b->base[3] + o),
                    *p4 = (const float *)(b->base[4] + o), *p5 = (const float *)(b->base[5] + o);
        const float *at = a + t * a_tap;
        const __mmask16 k0 = masked ? b->mask[0][t] : 0,
                        k1 = masked && nv > 1 ? b->mask[1][t] : 0,
                        k2 = masked && nv > 2 ? b->mask[2][t] : 0,
                        k3 = masked && nv > 3 ? b->mask[3][t] : 0,
                        k4 = masked && nv > 4 ? b->mask[4][t] : 0,
                        k5 = masked && nv > 5 ? b->mask[5][t] : 0;
        for (int64_t ch = 0; ch < channels; ch++) {
            const bool whole = ch >= b->whole_lo && ch < b->whole_hi;
            _mm_prefetch((const char *)(at + PREFETCH_A), _MM_HINT_T0);
            b0 = LOAD_B(0);
            if (nv > 1)
                b1 = LOAD_B(1);
            if (nv > 2)
                b2 = LOAD_B(2);
            if (nv > 3)
                b3 = LOAD_B(3);
            if (nv > 4)
                b4 = LOAD_B(4);
            if (nv > 5)
                b5 = LOAD_B(5);
            if (0 < mr) {
                const __m512 a_ = _mm512_set1_ps(at[0]);
                if (nv > 0)
                    c0_0 = FMA(0, 0);
                if (nv > 1)
                    c0_1 = FMA(0, 1);
                if (nv > 2)
                    c0_2 = FMA(0, 2);
                if (nv > 3)
                    c0_3 = FMA(0, 3);
                if (nv > 4)
                    c0_4 = FMA(0, 4);
                if (nv > 5)
                    c0_5 = FMA(0, 5);
            }
            if (1 < mr) {
                const __m512 a_ = _mm512_set1_ps(at[1]);
                if (nv > 0)
                    c1_0 = FMA(1, 0);
                if (nv > 1)
                    c1_1 = FMA(1, 1);
                if (nv > 2)
                    c1_2 = FMA(1, 2);
                if (nv > 3)
                    c1_3 = FMA(1, 3);
                if (nv > 4)
                    c1_4 = FMA(1, 4);
                if (nv > 5)
                    c1_5 = FMA(1, 5);
            }
            if (2 < mr) {
                const __m512 a_ = _mm512_set1_ps(at[2]);
                if (nv > 0)
                    c2_0 = FMA(2, 0);
                if (nv > 1)
                    c2_1 = FMA(2, 1);
                if (nv > 2)
                    c2_2 = FMA(2, 2);
                if (nv > 3)
                    c2_3 = FMA(2, 3);
                if (nv > 4)
                    c2_4 = FMA(2, 4);
                if (nv > 5)
                    c2_5 = FMA(2, 5);
            }
            if (3 < mr) {
                const __m512 a_ = _mm512_set1_ps(at[3]);
                if (nv > 0)
                    c3_0 = FMA(3, 0);
                if (nv > 1)
                    c3_1 = FMA(3, 1);
                if (nv > 2)
                    c3_2 = FMA(3, 2);
                if (nv > 3)
                    c3_3 = FMA(3, 3);
                if (nv > 4)
                    c3_4 = FMA(3, 4);
                if (nv > 5)
                    c3_5 = FMA(3, 5);
            }
            if (4 < mr) {
                const __m512 a_ = _mm512_set1_ps(at[4]);
                if (nv > 0)
                    c4_0 = FMA(4, 0);
                if (nv > 1)
                    c4_1 = FMA(4, 1);
                if (nv > 2)
                    c4_2 = FMA(4, 2);
                if (nv > 3)
                    c4_3 = FMA(4, 3);
                if (nv > 4)
                    c4_4 = FMA(4, 4);
                if (nv > 5)
                    c4_5 = FMA(4, 5);
            }
            if (5 < mr) {
                const __m512 a_ = _mm512_set1_ps(at[5]);
                if (nv > 0)
                    c5_0 = FMA(5, 0);
                if (nv > 1)
                    c5_1 = FMA(5, 1);
                if (nv > 2)
                    c5_2 = FMA(5, 2);
                if (nv > 3)
                    c5_3 = FMA(5, 3);
                if (nv > 4)
                    c5_4 = FMA(5, 4);
                if (nv > 5)
                    c5_5 = FMA(5, 5);
            }
            if (6 < mr) {
                const __m512 a_ = _mm512_set1_ps(at[6]);
                if (nv > 0)
                    c6_0 = FMA(6, 0);
                if (nv > 1)
                    c6_1 = FMA(6, 1);
                if (nv > 2)
                    c6_2 = FMA(6, 2);
                if (nv > 3)
                    c6_3 = FMA(6, 3);
                if (nv > 4)
                    c6_4 = FMA(6, 4);
                if (nv > 5)
                    c6_5 = FMA(6, 5);
            }
            if (7 < mr) {
                const __m512 a_ = _mm512_set1_ps(at[7]);
                if (nv > 0)
                    c7_0 = FMA(7, 0);
                if (nv > 1)
                    c7_1 = FMA(7, 1);
                if (nv > 2)
                    c7_2 = FMA(7, 2);
                if (nv > 3)
                    c7_3 = FMA(7, 3);
                if (nv > 4)
                    c7_4 = FMA(7, 4);
                if (nv > 5)
                    c7_5 = FMA(7, 5);
            }
            at += mr;
            p0 += cs;
            p1 += cs;
            p2 += cs;
            p3 += cs;
            p4 += cs;
            p5 += cs;
        }
    }
    if (0 < mr && 0 < m) {
        if (nv > 0)
            STORE_C(0, 0);
        if (nv > 1)
            STORE_C(0, 1);
        if (nv > 2)
            STORE_C(0, 2);
        if (nv > 3)
            STORE_C(0, 3);
        if (nv > 4)
            STORE_C(0, 4);
        if (nv > 5)
            STORE_C(0, 5);
    }
    if (1 < mr && 1 < m) {
        if (nv > 0)
            STORE_C(1, 0);
        if (nv > 1)
            STORE_C(1, 1);
        if (nv > 2)
            STORE_C(1, 2);
        if (nv > 3)
            STORE_C(1, 3);
        if (nv > 4)
            STORE_C(1, 4);
        if (nv > 5)
            STORE_C(1, 5);
    }
    if (2 < mr && 2 < m) {
        if (nv > 0)
            STORE_C(2, 0);
        if (nv > 1)
            STORE_C(2, 1);
        if (nv > 2)
            STORE_C(2, 2);
        if (nv > 3)
            STORE_C(2, 3);
        if (nv > 4)
            STORE_C(2, 4);
        if (nv > 5)
            STORE_C(2, 5);
    }
    if (3 < mr && 3 < m) {
        if (nv > 0)
            STORE_C(3, 0);
        if (nv > 1)
            STORE_C(3, 1);
        if (nv > 2)
            STORE_C(3, 2);
        if (nv > 3)
            STORE_C(3, 3);
        if (nv > 4)
            STORE_C(3, 4);
        if (nv > 5)
            STORE_C(3, 5);
    }
    if (4 < mr && 4 < m) {
        if (nv > 0)
            STORE_C(4, 0);
        if (nv > 1)
            STORE_C(4, 1);
        if (nv > 2)
            STORE_C(4, 2);
        if (nv > 3)
            STORE_C(4, 3);
        if (nv > 4)
            STORE_C(4, 4);
        if (nv > 5)
            STORE_C(4, 5);
    }
    if (5 < mr && 5 < m) {
        if (nv > 0)
            STORE_C(5, 0);
        if (nv > 1)
            STORE_C(5, 1);
        if (nv > 2)
            STORE_C(5, 2);
        if (nv > 3)
            STORE_C(5, 3);
        if (nv > 4)
            STORE_C(5, 4);
        if (nv > 5)
            STORE_C(5, 5);
    }
    if (6 < mr && 6 < m) {
        if (nv > 0)
            STORE_C(6, 0);
        if (nv > 1)
            STORE_C(6, 1);
        if (nv > 2)
            STORE_C(6, 2);
        if (nv > 3)
            STORE_C(6, 3);
        if (nv > 4)
            STORE_C(6, 4);
        if (nv > 5)
            STORE_C(6, 5);
    }
    if (7 < mr && 7 < m) {
        if (nv > 0)
            STORE_C(7, 0);
        if (nv > 1)
            STORE_C(7, 1);
        if (nv > 2)
            STORE_C(7, 2);
        if (nv > 3)
            STORE_C(7, 3);
        if (nv > 4)
            STORE_C(7, 4);
        if (nv > 5)
            STORE_C(7, 5);
    }
}

/* Each shape four times: with lane masks and without, as a pair's second phase or not. */
static inline __attribute__((always_inline)) void
igemm_8x3v(const int masked, const int pair, int64_t channels, const float *a, int64_t a_tap,
           const tconv_igemm_b *b, int nv, float *c, int64_t ldc, int64_t m, const float *bias,
           int accumulate)
{
    if (nv >= 3)
        igemm(8, 3, masked, pair, channels, a, a_tap, b, c, ldc, m, bias, accumulate);
    else if (nv == 2)
        igemm(8, 2, masked, pair, channels, a, a_tap, b, c, ldc, m, bias, accumulate);
    else
        igemm(8, 1, masked, pair, channels, a, a_tap, b, c, ldc, m, bias, accumulate);
}

static inline __attribute__((always_inline)) void
igemm_4x6v(const int masked, const int pair, int64_t channels, const float *a, int64_t a_tap,
           const tconv_igemm_b *b, int nv, float *c, int64_t ldc, int64_t m, const float *bias,
           int accumulate)
{
    switch (nv) {
    case 1: igemm(4, 1, masked, pair, channels, a, a_tap, b, c, ldc, m, bias, accumulate); break;
    case 2: igemm(4, 2, masked, pair, channels, a, a_tap, b, c, ldc, m, bias, accumulate); break;
    case 3: igemm(4, 3, masked, pair, channels, a, a_tap, b, c, ldc, m, bias, accumulate); break;
    case 4: igemm(4, 4, masked, pair, channels, a, a_tap, b, c, ldc, m, bias, accumulate); break;
    case 5: igemm(4, 5, masked, pair, channels, a, a_tap, b, c, ldc, m, bias, accumulate); break;
    default: igemm(4, 6, masked, pair, channels, a, a_tap, b, c, ldc, m, bias, accumulate); break;
    }
}

static void kernel_8x3v(int64_t channels, const float *a, int64_t a_tap, const tconv_igemm_b *b,
                        int nv, float *c, int64_t ldc, int64_t m, const float *bias,
                        int accumulate)
{
    TCONV_IGEMM_VARIANTS(igemm_8x3v);
}

static void kernel_4x6v(int64_t channels, const float *a, int64_t a_tap, const tconv_igemm_b *b,
                        int nv, float *c, int64_t ldc, int64_t m, const float *bias,
                        int accumulate)
{
    TCONV_IGEMM_VARIANTS(igemm_4x6v);
}

/* The kernel table entries (gemm.h): rows, vectors, ISA, body, name, mask_adds_zero. */
const tconv_igemm_kernel tconv__igemm_f32_8x3v_avx512 = {
    8, 3, TCONV_ISA_AVX512, kernel_8x3v, "f32_igemm_8x3v_avx512", false,
};
const tconv_igemm_kernel tconv__igemm_f32_4x6v_avx512 = {
    4, 6, TCONV_ISA_AVX512, kernel_4x6v, "f32_igemm_4x6v_avx512", false,
};
