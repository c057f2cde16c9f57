/*
 * igemm_avx2.c - the AVX2+FMA indirect GEMM micro-kernels (contract in gemm.h):
 *   f32_igemm_6x1v_avx2: 6 rows of packed A (the AVX2 GEMM's MR, so that both feeds of
 *                        the phase path share one packing) times one vector of 16
 *                        lanes, held as two ymm halves: 12 accumulators, the vector's
 *                        halves and a broadcast, 15 of the 16 ymm registers; per k, 12
 *                        FMAs (6 cycles on two FMA units) against 2 vector loads and 6
 *                        broadcasts;
 *   f32_igemm_3x2v_avx2: 3 rows times up to 2 vectors, for A of at most 3 rows (an RGB
 *                        output layer, which the 6-row kernel would run half idle): 12
 *                        accumulators, the 3 rows' broadcasts and one B half at a time
 *                        (16 registers); per k, 12 FMAs against 4 loads and 3
 *                        broadcasts. Used only where every phase is fed directly (A
 *                        is then packed for its MR, phase.c).
 *
 * AVX2 has no mask registers. A lane a mask clears is zeroed in B instead (an AND with
 * the tap's lane mask, on any vector ALU port, beside the FMA ports on Intel cores;
 * made once per tap), so it adds a*(+0): the same bits as adding nothing for finite
 * weights, except that a chain still at -0 may become +0 (gemm.h: mask_adds_zero). In
 * the channels where the caller has not said every lane is readable, B is loaded with
 * vmaskmovps, which reads only the lanes set and zeroes the others; a tap whose mask
 * sets every lane takes the plain loop. As a column pair's second phase a kernel
 * interleaves its values with the first phase's and stores both, like the AVX-512
 * kernels.
 *
 * SPDX-License-Identifier: MIT
 */
#include <immintrin.h>

#include "gemm.h"

/* A streams from L2 once per call, as in the AVX-512 kernel: prefetch it ~200 floats
 * ahead (32 k steps of the 6-row kernel). */
enum { PREFETCH_A = 32 * 6 };

/* Lanes 0-7 of bits as a vector lane mask: all ones where the bit is set. */
static inline __m256 lane_mask(unsigned bits)
{
    const __m256i bit = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    const __m256i set = _mm256_and_si256(_mm256_set1_epi32((int)bits), bit);
    return _mm256_castsi256_ps(_mm256_cmpeq_epi32(set, bit));
}

/* B's 8 lanes at p: mode 0 all read, 1 all read and those k clears zeroed, 2 only
 * those k sets read (the others 0). */
enum { LOAD_ALL = 0, LOAD_AND = 1, LOAD_MASKED = 2 };
static inline __attribute__((always_inline)) __m256 load_b(const int mode, const float *p,
                                                           __m256 k)
{
    if (mode == LOAD_ALL)
        return _mm256_loadu_ps(p);
    if (mode == LOAD_AND)
        return _mm256_and_ps(_mm256_loadu_ps(p), k);
    return _mm256_maskload_ps(p, _mm256_castps_si256(k));
}

/* The channels [*lo, *hi) of [0, channels) in which every lane may be read (b's
 * whole_lo, whole_hi, clipped): loaded with LOAD_AND, the others with LOAD_MASKED. */
static inline void whole_range(const tconv_igemm_b *b, int64_t channels, int64_t *lo,
                               int64_t *hi)
{
    *lo = b->whole_lo < 0 ? 0 : b->whole_lo < channels ? b->whole_lo : channels;
    *hi = b->whole_hi < *lo ? *lo : b->whole_hi < channels ? b->whole_hi : channels;
}

/* The channels of the current tap through CHANNELS(from, to, mode), as the body of the
 * tap loop: plain loads when every lane is set (`every_lane`: the AND costs about a
 * tenth of the kernel; taps in the interior, one-tap layers), then on to the next tap;
 * else the channels where only the lanes set may be read, those where all may, the
 * rest: three loops, no test per channel. */
#define TAP(CHANNELS, every_lane)                                                          \
    if (every_lane) {                                                                      \
        CHANNELS(0, channels, LOAD_ALL);                                                   \
        continue;                                                                          \
    }                                                                                      \
    int64_t lo_, hi_;                                                                      \
    whole_range(b, channels, &lo_, &hi_);                                                  \
    CHANNELS(0, lo_, LOAD_MASKED);                                                         \
    CHANNELS(lo_, hi_, LOAD_AND);                                                          \
    CHANNELS(hi_, channels, LOAD_MASKED)

/* Row r, vector v of the column pair's output: the first phase's 16 values (pair_c0)
 * in the even places, lo and hi (this phase's lanes 0-7 and 8-15) in the odd ones: 32
 * floats. */
static inline __attribute__((always_inline)) void pair_out(const tconv_igemm_b *b, int64_t r,
                                                           int v, __m256 lo, __m256 hi)
{
    const float *c0 = b->pair_c0 + r * b->pair_ldc + 16 * v;
    float *y = b->pair_y[v] + r * b->pair_ys;
    const __m256 e0 = _mm256_loadu_ps(c0), e1 = _mm256_loadu_ps(c0 + 8);
    const __m256 l0 = _mm256_unpacklo_ps(e0, lo), h0 = _mm256_unpackhi_ps(e0, lo);
    const __m256 l1 = _mm256_unpacklo_ps(e1, hi), h1 = _mm256_unpackhi_ps(e1, hi);
    _mm256_storeu_ps(y, _mm256_permute2f128_ps(l0, h0, 0x20));
    _mm256_storeu_ps(y + 8, _mm256_permute2f128_ps(l0, h0, 0x31));
    _mm256_storeu_ps(y + 16, _mm256_permute2f128_ps(l1, h1, 0x20));
    _mm256_storeu_ps(y + 24, _mm256_permute2f128_ps(l1, h1, 0x31));
}

/* Accumulators d<r><v><l|h>: row r, vector v, lanes 0-7 (l) or 8-15 (h). The chain
 * start of row r, vector v: C (accumulate), bias[r] or 0; rows past m and vectors past
 * nv start at 0 and are never stored. */
#define INIT(r, v)                                                                         \
    do {                                                                                   \
        if (v < nv && accumulate && r < m) {                                               \
            d##r##v##l = _mm256_loadu_ps(c + r * ldc + 16 * v);                            \
            d##r##v##h = _mm256_loadu_ps(c + r * ldc + 16 * v + 8);                        \
        } else {                                                                           \
            d##r##v##l = v < nv && !accumulate && bias && r < m ? _mm256_set1_ps(bias[r])  \
                                                               : _mm256_setzero_ps();      \
            d##r##v##h = d##r##v##l;                                                       \
        }                                                                                  \
    } while (0)

#define STORE(r, v)                                                                        \
    do {                                                                                   \
        if (v < nv && r < m) {                                                             \
            if (pair) {                                                                    \
                pair_out(b, r, v, d##r##v##l, d##r##v##h);                                 \
            } else {                                                                       \
                _mm256_storeu_ps(c + r * ldc + 16 * v, d##r##v##l);                        \
                _mm256_storeu_ps(c + r * ldc + 16 * v + 8, d##r##v##h);                    \
            }                                                                              \
        }                                                                                  \
    } while (0)

/* ------------------------------------------------------------ 6 rows x 1 vector */

#define FMA_ROW(r)                                                                         \
    do {                                                                                   \
        const __m256 a_ = _mm256_broadcast_ss(at + r);                                     \
        d##r##0l = _mm256_fmadd_ps(a_, bl, d##r##0l);                                      \
        d##r##0h = _mm256_fmadd_ps(a_, bh, d##r##0h);                                      \
    } while (0)

/* Channels [from, to) of the current tap: B's two halves, then the 12 FMAs. The loop
 * runs on A's pointer, with no counter: it is near the core's issue width (24-26 uops
 * per 12 FMAs, whose 6 cycles issue 24). */
#define CHANNELS6(from, to, mode)                                                          \
    for (const float *end_ = at + ((to) - (from)) * 6; at != end_;) {                      \
        _mm_prefetch((const char *)(at + PREFETCH_A), _MM_HINT_T0);                        \
        const __m256 bl = load_b(mode, p, kl), bh = load_b(mode, p + 8, kh);               \
        FMA_ROW(0);                                                                        \
        FMA_ROW(1);                                                                        \
        FMA_ROW(2);                                                                        \
        FMA_ROW(3);                                                                        \
        FMA_ROW(4);                                                                        \
        FMA_ROW(5);                                                                        \
        at += 6;                                                                           \
        p += cs;                                                                           \
    }

static inline __attribute__((always_inline)) void
igemm6(const int masked, const int pair, int64_t channels, const float *a, int64_t a_tap,
       const tconv_igemm_b *b, float *c, int64_t ldc, int64_t m, const float *bias,
       int accumulate)
{
    const int nv = 1;
    __m256 d00l, d00h, d10l, d10h, d20l, d20h, d30l, d30h, d40l, d40h, d50l, d50h;
    INIT(0, 0);
    INIT(1, 0);
    INIT(2, 0);
    INIT(3, 0);
    INIT(4, 0);
    INIT(5, 0);
    /* by 0 with one channel, whose stride may be any int64 (see igemm_avx512.c) */
    const int64_t cs = channels > 1 ? b->cs : 0;
    for (int64_t t = 0; t < b->ntaps; t++) {
        const float *p = (const float *)(b->base[0] +
                                         (uintptr_t)(b->off[t] * (int64_t)sizeof(float)));
        const float *at = a + t * a_tap;
        const unsigned bits = masked ? b->mask[0][t] : 0xffff;
        const __m256 kl = lane_mask(bits), kh = lane_mask(bits >> 8);
        TAP(CHANNELS6, bits == 0xffff);
    }
    STORE(0, 0);
    STORE(1, 0);
    STORE(2, 0);
    STORE(3, 0);
    STORE(4, 0);
    STORE(5, 0);
}

/* One vector always (the kernel's nv). */
static inline __attribute__((always_inline)) void
igemm_6x1v(const int masked, const int pair, int64_t channels, const float *a, int64_t a_tap,
          const tconv_igemm_b *b, int nv, float *c, int64_t ldc, int64_t m, const float *bias,
          int accumulate)
{
    (void)nv;
    igemm6(masked, pair, channels, a, a_tap, b, c, ldc, m, bias, accumulate);
}

static void kernel_6x1v(int64_t channels, const float *a, int64_t a_tap, const tconv_igemm_b *b,
                        int nv, float *c, int64_t ldc, int64_t m, const float *bias,
                        int accumulate)
{
    TCONV_IGEMM_VARIANTS(igemm_6x1v);
}

/* ------------------------------------------------------------ 3 rows x 2 vectors */

/* Half s (l: lanes 0-7, h: 8-15, at offset o) of vector v: one B load, three FMAs. */
#define HALF3(v, s, o, mode)                                                               \
    do {                                                                                   \
        const __m256 b_ = load_b(mode, p##v + o, k##v##s);                                 \
        d0##v##s = _mm256_fmadd_ps(a0, b_, d0##v##s);                                      \
        d1##v##s = _mm256_fmadd_ps(a1, b_, d1##v##s);                                      \
        d2##v##s = _mm256_fmadd_ps(a2, b_, d2##v##s);                                      \
    } while (0)

#define CHANNELS3(from, to, mode)                                                          \
    for (const float *end_ = at + ((to) - (from)) * 3; at != end_;) {                      \
        _mm_prefetch((const char *)(at + PREFETCH_A), _MM_HINT_T0);                        \
        const __m256 a0 = _mm256_broadcast_ss(at), a1 = _mm256_broadcast_ss(at + 1),       \
                     a2 = _mm256_broadcast_ss(at + 2);                                     \
        HALF3(0, l, 0, mode);                                                              \
        HALF3(0, h, 8, mode);                                                              \
        if (nv > 1) {                                                                      \
            HALF3(1, l, 0, mode);                                                          \
            HALF3(1, h, 8, mode);                                                          \
        }                                                                                  \
        at += 3;                                                                           \
        p0 += cs;                                                                          \
        p1 += cs;                                                                          \
    }

static inline __attribute__((always_inline)) void
igemm3(const int nv, const int masked, const int pair, int64_t channels, const float *a,
       int64_t a_tap, const tconv_igemm_b *b, float *c, int64_t ldc, int64_t m,
       const float *bias, int accumulate)
{
    __m256 d00l, d00h, d01l, d01h, d10l, d10h, d11l, d11h, d20l, d20h, d21l, d21h;
    INIT(0, 0);
    INIT(0, 1);
    INIT(1, 0);
    INIT(1, 1);
    INIT(2, 0);
    INIT(2, 1);
    const int64_t cs = channels > 1 ? b->cs : 0;
    for (int64_t t = 0; t < b->ntaps; t++) {
        const uintptr_t o = (uintptr_t)(b->off[t] * (int64_t)sizeof(float));
        /* vector 1's pointer is stepped but never read when nv is 1 */
        const float *p0 = (const float *)(b->base[0] + o),
                    *p1 = (const float *)(b->base[nv > 1 ? 1 : 0] + o);
        const float *at = a + t * a_tap;
        const unsigned bits0 = masked ? b->mask[0][t] : 0xffff,
                       bits1 = masked && nv > 1 ? b->mask[1][t] : 0xffff;
        const __m256 k0l = lane_mask(bits0), k0h = lane_mask(bits0 >> 8),
                     k1l = lane_mask(bits1), k1h = lane_mask(bits1 >> 8);
        TAP(CHANNELS3, bits0 == 0xffff && bits1 == 0xffff);
    }
    STORE(0, 0);
    STORE(0, 1);
    STORE(1, 0);
    STORE(1, 1);
    STORE(2, 0);
    STORE(2, 1);
}

static inline __attribute__((always_inline)) void
igemm_3x2v(const int masked, const int pair, int64_t channels, const float *a, int64_t a_tap,
          const tconv_igemm_b *b, int nv, float *c, int64_t ldc, int64_t m, const float *bias,
          int accumulate)
{
    if (nv >= 2)
        igemm3(2, masked, pair, channels, a, a_tap, b, c, ldc, m, bias, accumulate);
    else
        igemm3(1, masked, pair, channels, a, a_tap, b, c, ldc, m, bias, accumulate);
}

static void kernel_3x2v(int64_t channels, const float *a, int64_t a_tap, const tconv_igemm_b *b,
                        int nv, float *c, int64_t ldc, int64_t m, const float *bias,
                        int accumulate)
{
    TCONV_IGEMM_VARIANTS(igemm_3x2v);
}

/* The kernel table entries (gemm.h): rows, vectors, ISA, body, name, mask_adds_zero. */
const tconv_igemm_kernel tconv__igemm_f32_6x1v_avx2 = {
    6, 1, TCONV_ISA_AVX2, kernel_6x1v, "f32_igemm_6x1v_avx2", true,
};
const tconv_igemm_kernel tconv__igemm_f32_3x2v_avx2 = {
    3, 2, TCONV_ISA_AVX2, kernel_3x2v, "f32_igemm_3x2v_avx2", true,
};
