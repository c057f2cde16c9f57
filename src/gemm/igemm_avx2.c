/*
 * igemm_avx2.c - the AVX2+FMA indirect GEMM micro-kernel (contract in gemm.h):
 *   f32_igemm_6x1v_avx2: 6 rows of packed A (the AVX2 GEMM's MR, so that both feeds of
 *                        the phase path share one packing) times one vector of 16
 *                        lanes, held as two ymm halves.
 * 12 accumulators, the vector's two halves and a broadcast: 15 of the 16 ymm registers;
 * per k, 12 FMAs (6 cycles on two FMA units) against 2 vector loads and 6 broadcasts.
 *
 * AVX2 has no mask registers. A lane a mask clears is zeroed in B instead (an AND with
 * the tap's lane mask, on any vector ALU port, beside the FMA ports on Intel cores;
 * made once per tap), so it adds a*(+0): the same bits as adding nothing for finite
 * weights, except that a chain still at -0 becomes +0 (gemm.h: mask_adds_zero). In the
 * channels where the caller has not said every lane is readable, B is loaded with
 * vmaskmovps, which reads only the lanes set and zeroes the others. As a column pair's
 * second phase it interleaves its values with the first phase's and stores both, like
 * the AVX-512 kernels.
 *
 * SPDX-License-Identifier: MIT
 */
#include <immintrin.h>

#include "gemm.h"

const tconv_igemm_kernel tconv__igemm_f32_6x1v_avx2 = {
    6, 1, TCONV_ISA_AVX2, tconv__igemm_6x1v_avx2, "f32_igemm_6x1v_avx2", true,
};

/* A streams from L2 once per call, as in the AVX-512 kernel: prefetch it 32 k steps ahead. */
enum { MR = 6, PREFETCH_A = 32 * MR };

/* Lanes 0-7 of bits as a vector lane mask: all ones where the bit is set. */
static inline __m256 lane_mask(unsigned bits)
{
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    const __m256i set = _mm256_and_si256(_mm256_set1_epi32((int)bits), bit);
    return _mm256_castsi256_ps(_mm256_cmpeq_epi32(set, bit));
}

/* Row r of the column pair's output: the first phase's 16 values (pair_c0) in the even
 * places, lo and hi (this phase's lanes 0-7 and 8-15) in the odd ones: 32 floats. */
static inline __attribute__((always_inline)) void pair_out(const tconv_igemm_b *b, int64_t r,
                                                           __m256 lo, __m256 hi)
{
    const float *c0 = b->pair_c0 + r * b->pair_ldc;
    float *y = b->pair_y[0] + r * b->pair_ys;
    const __m256 e0 = _mm256_loadu_ps(c0), e1 = _mm256_loadu_ps(c0 + 8);
    const __m256 l0 = _mm256_unpacklo_ps(e0, lo), h0 = _mm256_unpackhi_ps(e0, lo);
    const __m256 l1 = _mm256_unpacklo_ps(e1, hi), h1 = _mm256_unpackhi_ps(e1, hi);
    _mm256_storeu_ps(y, _mm256_permute2f128_ps(l0, h0, 0x20));
    _mm256_storeu_ps(y + 8, _mm256_permute2f128_ps(l0, h0, 0x31));
    _mm256_storeu_ps(y + 16, _mm256_permute2f128_ps(l1, h1, 0x20));
    _mm256_storeu_ps(y + 24, _mm256_permute2f128_ps(l1, h1, 0x31));
}

/* Row r's chain start: C (accumulate), bias[r] or 0; rows past m start at 0 and are
 * never stored. */
#define INIT(r)                                                                            \
    do {                                                                                   \
        if (accumulate && r < m) {                                                         \
            c##r##l = _mm256_loadu_ps(c + r * ldc);                                        \
            c##r##h = _mm256_loadu_ps(c + r * ldc + 8);                                    \
        } else {                                                                           \
            c##r##l = !accumulate && bias && r < m ? _mm256_set1_ps(bias[r])               \
                                                  : _mm256_setzero_ps();                   \
            c##r##h = c##r##l;                                                             \
        }                                                                                  \
    } while (0)

#define FMA_ROW(r)                                                                         \
    do {                                                                                   \
        const __m256 a_ = _mm256_broadcast_ss(at + r);                                     \
        c##r##l = _mm256_fmadd_ps(a_, bl, c##r##l);                                        \
        c##r##h = _mm256_fmadd_ps(a_, bh, c##r##h);                                        \
    } while (0)

/* Channels [from, to) of the current tap: B's two halves by the statements given, then
 * the 12 FMAs. The loop runs on A's pointer (no counter: the loop is near the core's
 * issue width, 24-26 uops per 12 FMAs in their 6 cycles; 1.00-1.05x alone in L1). */
#define CHANNELS(from, to, ...)                                                            \
    for (const float *end_ = at + ((to) - (from)) * MR; at != end_;) {                     \
        __m256 bl, bh;                                                                     \
        _mm_prefetch((const char *)(at + PREFETCH_A), _MM_HINT_T0);                        \
        __VA_ARGS__;                                                                       \
        FMA_ROW(0);                                                                        \
        FMA_ROW(1);                                                                        \
        FMA_ROW(2);                                                                        \
        FMA_ROW(3);                                                                        \
        FMA_ROW(4);                                                                        \
        FMA_ROW(5);                                                                        \
        at += MR;                                                                          \
        p += cs;                                                                           \
    }

#define STORE(r)                                                                           \
    do {                                                                                   \
        if (r < m) {                                                                       \
            if (pair) {                                                                    \
                pair_out(b, r, c##r##l, c##r##h);                                          \
            } else {                                                                       \
                _mm256_storeu_ps(c + r * ldc, c##r##l);                                    \
                _mm256_storeu_ps(c + r * ldc + 8, c##r##h);                                \
            }                                                                              \
        }                                                                                  \
    } while (0)

static inline __attribute__((always_inline)) void
igemm(const int masked, const int pair, int64_t channels, const float *a, int64_t a_tap,
      const tconv_igemm_b *b, float *c, int64_t ldc, int64_t m, const float *bias,
      int accumulate)
{
    __m256 c0l, c0h, c1l, c1h, c2l, c2h, c3l, c3h, c4l, c4h, c5l, c5h;
    INIT(0);
    INIT(1);
    INIT(2);
    INIT(3);
    INIT(4);
    INIT(5);
    /* by 0 with one channel, whose stride may be any int64 (see igemm_avx512.c) */
    const int64_t cs = channels > 1 ? b->cs : 0;
    for (int64_t t = 0; t < b->ntaps; t++) {
        const float *p = (const float *)(b->base[0] +
                                         (uintptr_t)(b->off[t] * (int64_t)sizeof(float)));
        const float *at = a + t * a_tap;
        if (!masked) {
            CHANNELS(0, channels, bl = _mm256_loadu_ps(p); bh = _mm256_loadu_ps(p + 8));
            continue;
        }
        const unsigned bits = b->mask[0][t];
        const __m256 kl = lane_mask(bits), kh = lane_mask(bits >> 8);
        const __m256i ml = _mm256_castps_si256(kl), mh = _mm256_castps_si256(kh);
        /* the channels where only the lanes set may be read, those where all may, the
         * rest: three loops, no test per channel */
        const int64_t lo = b->whole_lo < 0 ? 0 : b->whole_lo < channels ? b->whole_lo : channels;
        const int64_t hi = b->whole_hi < lo ? lo : b->whole_hi < channels ? b->whole_hi : channels;
        CHANNELS(0, lo, bl = _mm256_maskload_ps(p, ml); bh = _mm256_maskload_ps(p + 8, mh));
        CHANNELS(lo, hi, bl = _mm256_and_ps(_mm256_loadu_ps(p), kl);
                 bh = _mm256_and_ps(_mm256_loadu_ps(p + 8), kh));
        CHANNELS(hi, channels, bl = _mm256_maskload_ps(p, ml); bh = _mm256_maskload_ps(p + 8, mh));
    }
    STORE(0);
    STORE(1);
    STORE(2);
    STORE(3);
    STORE(4);
    STORE(5);
}

void tconv__igemm_6x1v_avx2(int64_t channels, const float *a, int64_t a_tap,
                            const tconv_igemm_b *b, int nv, float *c, int64_t ldc, int64_t m,
                            const float *bias, int accumulate)
{
    (void)nv; /* one vector: the kernel's nv */
    if (b->mask[0] && b->pair_c0)
        igemm(1, 1, channels, a, a_tap, b, c, ldc, m, bias, accumulate);
    else if (b->mask[0])
        igemm(1, 0, channels, a, a_tap, b, c, ldc, m, bias, accumulate);
    else if (b->pair_c0)
        igemm(0, 1, channels, a, a_tap, b, c, ldc, m, bias, accumulate);
    else
        igemm(0, 0, channels, a, a_tap, b, c, ldc, m, bias, accumulate);
}
