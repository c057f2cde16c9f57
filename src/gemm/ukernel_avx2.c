/*
 * ukernel_avx2.c - the AVX2+FMA single-precision GEMM micro-kernel, f32_gemm_6x16_avx2,
 * and its kernel-table entry. Compiled with -mavx2 -mfma.
 *
 * SPDX-License-Identifier: MIT
 */
#include <immintrin.h>
#include <stdalign.h>
#include <string.h>

#include "gemm.h"

/* 6 rows x 2 ymm = 12 accumulators + 2 for the B row + 1 broadcast = 15 of the 16 ymm
 * registers. 12 independent FMA chains cover the FMA latency (4 cycles) on two ports. */
enum { MR = 6, NV = 2, NR = NV * 8 };

/* kc = 1024, as for AVX-512 (see ukernel_avx512.c): operands stream from L2, and a long
 * K block means fewer passes over C. Measured on Sapphire Rapids against kc = 512: +3%
 * at K = 1024 (one pass over C instead of two), within 1% at K = 2048; 256 was 2% slower. */
const tconv_gemm_kernel tconv__gemm_f32_6x16_avx2 = {
    MR, NR, 1024, TCONV_ISA_AVX2, tconv__ukernel_avx2, "f32_gemm_6x16_avx2",
};

/* Software prefetch 32 k steps ahead: the hardware prefetchers bring lines from L2 into
 * L1 only one step ahead, too late for the first A panel of a B slice fresh from L3. */
enum { PREFETCH_B = 32 * NR, PREFETCH_A = 32 * MR };

void tconv__ukernel_avx2(int64_t k, const float *a, const float *b, float *c, int64_t rs_c,
                         int64_t cs_c, int64_t m, int64_t n, const float *bias, int accumulate)
{
    /* Whole tiles of a row-major C are read and written in place. Anything else (edge
     * tiles, other strides) goes through this tile, so that the code below only ever
     * sees whole rows of whole vectors; only the m x n corner is copied from or to C. */
    const int direct = cs_c == 1 && m == MR && n == NR;
    alignas(64) float tile[MR * NR];
    float *cc = direct ? c : tile;
    const int64_t ldc = direct ? rs_c : NR;
    int load = accumulate;
    if (!direct && (accumulate || bias)) {
        memset(tile, 0, sizeof tile);
        for (int64_t r = 0; r < m; r++)
            for (int64_t j = 0; j < n; j++)
                tile[r * NR + j] = accumulate ? c[r * rs_c + j * cs_c] : bias[r];
        load = 1;
    }

    /* The accumulator starts at C or at the bias (never adds them at the end), so the
     * sum is one chain C, +p0, +p1, ...: the driver's K blocks (store, reload,
     * continue) cannot change it. */
    __m256 c0_0, c0_1, c1_0, c1_1, c2_0, c2_1, c3_0, c3_1, c4_0, c4_1, c5_0, c5_1;
    if (load) {
        c0_0 = _mm256_loadu_ps(cc + 0 * ldc);
        c0_1 = _mm256_loadu_ps(cc + 0 * ldc + 8);
        c1_0 = _mm256_loadu_ps(cc + 1 * ldc);
        c1_1 = _mm256_loadu_ps(cc + 1 * ldc + 8);
        c2_0 = _mm256_loadu_ps(cc + 2 * ldc);
        c2_1 = _mm256_loadu_ps(cc + 2 * ldc + 8);
        c3_0 = _mm256_loadu_ps(cc + 3 * ldc);
        c3_1 = _mm256_loadu_ps(cc + 3 * ldc + 8);
        c4_0 = _mm256_loadu_ps(cc + 4 * ldc);
        c4_1 = _mm256_loadu_ps(cc + 4 * ldc + 8);
        c5_0 = _mm256_loadu_ps(cc + 5 * ldc);
        c5_1 = _mm256_loadu_ps(cc + 5 * ldc + 8);
    } else {
        /* Without `load`, a bias implies a direct tile: all MR entries exist. */
        c0_0 = bias ? _mm256_set1_ps(bias[0]) : _mm256_setzero_ps();
        c0_1 = c0_0;
        c1_0 = bias ? _mm256_set1_ps(bias[1]) : _mm256_setzero_ps();
        c1_1 = c1_0;
        c2_0 = bias ? _mm256_set1_ps(bias[2]) : _mm256_setzero_ps();
        c2_1 = c2_0;
        c3_0 = bias ? _mm256_set1_ps(bias[3]) : _mm256_setzero_ps();
        c3_1 = c3_0;
        c4_0 = bias ? _mm256_set1_ps(bias[4]) : _mm256_setzero_ps();
        c4_1 = c4_0;
        c5_0 = bias ? _mm256_set1_ps(bias[5]) : _mm256_setzero_ps();
        c5_1 = c5_0;
    }

    for (int64_t p = 0; p < k; p++) {
        _mm_prefetch((const char *)(b + PREFETCH_B), _MM_HINT_T0);
        _mm_prefetch((const char *)(a + PREFETCH_A), _MM_HINT_T0);
        const __m256 b0 = _mm256_loadu_ps(b), b1 = _mm256_loadu_ps(b + 8);
        __m256 ar;
        ar = _mm256_broadcast_ss(a + 0);
        c0_0 = _mm256_fmadd_ps(ar, b0, c0_0);
        c0_1 = _mm256_fmadd_ps(ar, b1, c0_1);
        ar = _mm256_broadcast_ss(a + 1);
        c1_0 = _mm256_fmadd_ps(ar, b0, c1_0);
        c1_1 = _mm256_fmadd_ps(ar, b1, c1_1);
        ar = _mm256_broadcast_ss(a + 2);
        c2_0 = _mm256_fmadd_ps(ar, b0, c2_0);
        c2_1 = _mm256_fmadd_ps(ar, b1, c2_1);
        ar = _mm256_broadcast_ss(a + 3);
        c3_0 = _mm256_fmadd_ps(ar, b0, c3_0);
        c3_1 = _mm256_fmadd_ps(ar, b1, c3_1);
        ar = _mm256_broadcast_ss(a + 4);
        c4_0 = _mm256_fmadd_ps(ar, b0, c4_0);
        c4_1 = _mm256_fmadd_ps(ar, b1, c4_1);
        ar = _mm256_broadcast_ss(a + 5);
        c5_0 = _mm256_fmadd_ps(ar, b0, c5_0);
        c5_1 = _mm256_fmadd_ps(ar, b1, c5_1);
        a += MR;
        b += NR;
    }

    _mm256_storeu_ps(cc + 0 * ldc, c0_0);
    _mm256_storeu_ps(cc + 0 * ldc + 8, c0_1);
    _mm256_storeu_ps(cc + 1 * ldc, c1_0);
    _mm256_storeu_ps(cc + 1 * ldc + 8, c1_1);
    _mm256_storeu_ps(cc + 2 * ldc, c2_0);
    _mm256_storeu_ps(cc + 2 * ldc + 8, c2_1);
    _mm256_storeu_ps(cc + 3 * ldc, c3_0);
    _mm256_storeu_ps(cc + 3 * ldc + 8, c3_1);
    _mm256_storeu_ps(cc + 4 * ldc, c4_0);
    _mm256_storeu_ps(cc + 4 * ldc + 8, c4_1);
    _mm256_storeu_ps(cc + 5 * ldc, c5_0);
    _mm256_storeu_ps(cc + 5 * ldc + 8, c5_1);
    if (!direct)
        for (int64_t r = 0; r < m; r++)
            for (int64_t j = 0; j < n; j++)
                c[r * rs_c + j * cs_c] = tile[r * NR + j];
}
