/*
 * ukernel_avx512.c - the AVX-512F single-precision GEMM micro-kernel, f32_gemm_8x48_avx512,
 * and its kernel-table entry. Compiled with -mavx512f -mavx2 -mfma only (no VL/BW/DQ).
 *
 * SPDX-License-Identifier: MIT
 */
#include <immintrin.h>
#include <stdalign.h>
#include <string.h>

#include "gemm.h"

/* 8 rows x 3 zmm: 24 accumulators (two FMA ports x 4 cycles latency need >= 8 independent
 * chains), 3 B vectors and a broadcast register: 28 of the 32 zmm. Per k it issues 24
 * FMAs (12 cycles) against 3 vector loads and 8 broadcasts, fewer loads per FMA than
 * 12x32 (2 + 12). MR = 8 rather than 12 because M is a channel count here, nearly always
 * a multiple of 8 (a 12-row tile wastes 11% of the work at M = 64, 3% at M = 128 or 256),
 * while N is a spatial tile whose width the caller can pick as a multiple of 48. */
enum { MR = 8, NV = 3, NR = NV * 16 };

/* kc = 1024 and the driver's 1 MiB A block (gemm.c) were measured on Sapphire Rapids
 * (48 KiB L1d, 2 MiB L2): everything streams from L2 (the kernel keeps ~97% of peak doing
 * so, given the prefetches below), and a long kc means C, whose loads the first FMAs wait
 * for, is revisited only every 1024 * 12 cycles. kc 384..2048 were within noise of each
 * other on the L2-resident shapes; shorter blocks lost on the large-N shapes. */
const tconv_gemm_kernel tconv__gemm_f32_8x48_avx512 = {
    MR, NR, 1024, TCONV_ISA_AVX512, tconv__ukernel_avx512, "f32_gemm_8x48_avx512",
};

/* Software prefetch 32 k steps (~400 cycles) ahead. The hardware prefetchers fill L2 well
 * but bring lines into L1 only one step ahead; with the first A panel of each B slice,
 * B comes from L3 or DRAM and this distance covers that latency (measured +10..60% on
 * the large-N shapes). Prefetching past the end of a panel is harmless: no faults. */
enum { PREFETCH_B = 32 * NR, PREFETCH_A = 32 * MR };

/* Edge tiles with n <= 16 or n <= 32 columns compute only the one or two vectors that
 * hold them (a 1024-wide N has a 16-column tail panel: 3% of the work at N = 1024, far
 * more for the narrow tiles of small images). Each element gets the same chain of FMAs
 * as in the full kernel, so the values are the same bits. They work on the kernel's
 * 64-byte aligned tile (row stride NR). */
static void edge_1v(int64_t k, const float *a, const float *b, float *t, int load)
{
    __m512 c0_0, c1_0, c2_0, c3_0, c4_0, c5_0, c6_0, c7_0;
    if (load) {
        c0_0 = _mm512_load_ps(t + 0 * NR + 0);
        c1_0 = _mm512_load_ps(t + 1 * NR + 0);
        c2_0 = _mm512_load_ps(t + 2 * NR + 0);
        c3_0 = _mm512_load_ps(t + 3 * NR + 0);
        c4_0 = _mm512_load_ps(t + 4 * NR + 0);
        c5_0 = _mm512_load_ps(t + 5 * NR + 0);
        c6_0 = _mm512_load_ps(t + 6 * NR + 0);
        c7_0 = _mm512_load_ps(t + 7 * NR + 0);
    } else {
        c0_0 = _mm512_setzero_ps();
        c1_0 = _mm512_setzero_ps();
        c2_0 = _mm512_setzero_ps();
        c3_0 = _mm512_setzero_ps();
        c4_0 = _mm512_setzero_ps();
        c5_0 = _mm512_setzero_ps();
        c6_0 = _mm512_setzero_ps();
        c7_0 = _mm512_setzero_ps();
    }
    for (int64_t p = 0; p < k; p++) {
        _mm_prefetch((const char *)(b + PREFETCH_B), _MM_HINT_T0);
        _mm_prefetch((const char *)(a + PREFETCH_A), _MM_HINT_T0);
        const __m512 b0 = _mm512_loadu_ps(b + 0);
        __m512 ar;
        ar = _mm512_set1_ps(a[0]);
        c0_0 = _mm512_fmadd_ps(ar, b0, c0_0);
        ar = _mm512_set1_ps(a[1]);
        c1_0 = _mm512_fmadd_ps(ar, b0, c1_0);
        ar = _mm512_set1_ps(a[2]);
        c2_0 = _mm512_fmadd_ps(ar, b0, c2_0);
        ar = _mm512_set1_ps(a[3]);
        c3_0 = _mm512_fmadd_ps(ar, b0, c3_0);
        ar = _mm512_set1_ps(a[4]);
        c4_0 = _mm512_fmadd_ps(ar, b0, c4_0);
        ar = _mm512_set1_ps(a[5]);
        c5_0 = _mm512_fmadd_ps(ar, b0, c5_0);
        ar = _mm512_set1_ps(a[6]);
        c6_0 = _mm512_fmadd_ps(ar, b0, c6_0);
        ar = _mm512_set1_ps(a[7]);
        c7_0 = _mm512_fmadd_ps(ar, b0, c7_0);
        a += MR;
        b += NR;
    }
    _mm512_store_ps(t + 0 * NR + 0, c0_0);
    _mm512_store_ps(t + 1 * NR + 0, c1_0);
    _mm512_store_ps(t + 2 * NR + 0, c2_0);
    _mm512_store_ps(t + 3 * NR + 0, c3_0);
    _mm512_store_ps(t + 4 * NR + 0, c4_0);
    _mm512_store_ps(t + 5 * NR + 0, c5_0);
    _mm512_store_ps(t + 6 * NR + 0, c6_0);
    _mm512_store_ps(t + 7 * NR + 0, c7_0);
}

static void edge_2v(int64_t k, const float *a, const float *b, float *t, int load)
{
    __m512 c0_0, c0_1, c1_0, c1_1, c2_0, c2_1, c3_0, c3_1, c4_0, c4_1, c5_0, c5_1, c6_0, c6_1, c7_0,
        c7_1;
    if (load) {
        c0_0 = _mm512_load_ps(t + 0 * NR + 0);
        c0_1 = _mm512_load_ps(t + 0 * NR + 16);
        c1_0 = _mm512_load_ps(t + 1 * NR + 0);
        c1_1 = _mm512_load_ps(t + 1 * NR + 16);
        c2_0 = _mm512_load_ps(t + 2 * NR + 0);
        c2_1 = _mm512_load_ps(t + 2 * NR + 16);
        c3_0 = _mm512_load_ps(t + 3 * NR + 0);
        c3_1 = _mm512_load_ps(t + 3 * NR + 16);
        c4_0 = _mm512_load_ps(t + 4 * NR + 0);
        c4_1 = _mm512_load_ps(t + 4 * NR + 16);
        c5_0 = _mm512_load_ps(t + 5 * NR + 0);
        c5_1 = _mm512_load_ps(t + 5 * NR + 16);
        c6_0 = _mm512_load_ps(t + 6 * NR + 0);
        c6_1 = _mm512_load_ps(t + 6 * NR + 16);
        c7_0 = _mm512_load_ps(t + 7 * NR + 0);
        c7_1 = _mm512_load_ps(t + 7 * NR + 16);
    } else {
        c0_0 = _mm512_setzero_ps();
        c0_1 = _mm512_setzero_ps();
        c1_0 = _mm512_setzero_ps();
        c1_1 = _mm512_setzero_ps();
        c2_0 = _mm512_setzero_ps();
        c2_1 = _mm512_setzero_ps();
        c3_0 = _mm512_setzero_ps();
        c3_1 = _mm512_setzero_ps();
        c4_0 = _mm512_setzero_ps();
        c4_1 = _mm512_setzero_ps();
        c5_0 = _mm512_setzero_ps();
        c5_1 = _mm512_setzero_ps();
        c6_0 = _mm512_setzero_ps();
        c6_1 = _mm512_setzero_ps();
        c7_0 = _mm512_setzero_ps();
        c7_1 = _mm512_setzero_ps();
    }
    for (int64_t p = 0; p < k; p++) {
        _mm_prefetch((const char *)(b + PREFETCH_B), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + PREFETCH_B + 16), _MM_HINT_T0);
        _mm_prefetch((const char *)(a + PREFETCH_A), _MM_HINT_T0);
        const __m512 b0 = _mm512_loadu_ps(b + 0);
        const __m512 b1 = _mm512_loadu_ps(b + 16);
        __m512 ar;
        ar = _mm512_set1_ps(a[0]);
        c0_0 = _mm512_fmadd_ps(ar, b0, c0_0);
        c0_1 = _mm512_fmadd_ps(ar, b1, c0_1);
        ar = _mm512_set1_ps(a[1]);
        c1_0 = _mm512_fmadd_ps(ar, b0, c1_0);
        c1_1 = _mm512_fmadd_ps(ar, b1, c1_1);
        ar = _mm512_set1_ps(a[2]);
        c2_0 = _mm512_fmadd_ps(ar, b0, c2_0);
        c2_1 = _mm512_fmadd_ps(ar, b1, c2_1);
        ar = _mm512_set1_ps(a[3]);
        c3_0 = _mm512_fmadd_ps(ar, b0, c3_0);
        c3_1 = _mm512_fmadd_ps(ar, b1, c3_1);
        ar = _mm512_set1_ps(a[4]);
        c4_0 = _mm512_fmadd_ps(ar, b0, c4_0);
        c4_1 = _mm512_fmadd_ps(ar, b1, c4_1);
        ar = _mm512_set1_ps(a[5]);
        c5_0 = _mm512_fmadd_ps(ar, b0, c5_0);
        c5_1 = _mm512_fmadd_ps(ar, b1, c5_1);
        ar = _mm512_set1_ps(a[6]);
        c6_0 = _mm512_fmadd_ps(ar, b0, c6_0);
        c6_1 = _mm512_fmadd_ps(ar, b1, c6_1);
        ar = _mm512_set1_ps(a[7]);
        c7_0 = _mm512_fmadd_ps(ar, b0, c7_0);
        c7_1 = _mm512_fmadd_ps(ar, b1, c7_1);
        a += MR;
        b += NR;
    }
    _mm512_store_ps(t + 0 * NR + 0, c0_0);
    _mm512_store_ps(t + 0 * NR + 16, c0_1);
    _mm512_store_ps(t + 1 * NR + 0, c1_0);
    _mm512_store_ps(t + 1 * NR + 16, c1_1);
    _mm512_store_ps(t + 2 * NR + 0, c2_0);
    _mm512_store_ps(t + 2 * NR + 16, c2_1);
    _mm512_store_ps(t + 3 * NR + 0, c3_0);
    _mm512_store_ps(t + 3 * NR + 16, c3_1);
    _mm512_store_ps(t + 4 * NR + 0, c4_0);
    _mm512_store_ps(t + 4 * NR + 16, c4_1);
    _mm512_store_ps(t + 5 * NR + 0, c5_0);
    _mm512_store_ps(t + 5 * NR + 16, c5_1);
    _mm512_store_ps(t + 6 * NR + 0, c6_0);
    _mm512_store_ps(t + 6 * NR + 16, c6_1);
    _mm512_store_ps(t + 7 * NR + 0, c7_0);
    _mm512_store_ps(t + 7 * NR + 16, c7_1);
}

void tconv__ukernel_avx512(int64_t k, const float *a, const float *b, float *c, int64_t rs_c,
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
    if (n <= 32) {
        if (n <= 16)
            edge_1v(k, a, b, tile, load);
        else
            edge_2v(k, a, b, tile, load);
        for (int64_t r = 0; r < m; r++)
            for (int64_t j = 0; j < n; j++)
                c[r * rs_c + j * cs_c] = tile[r * NR + j];
        return;
    }

    /* The accumulator starts at C or at the bias (never adds them at the end), so the
     * sum is one chain C, +p0, +p1, ...: the driver's K blocks (store, reload,
     * continue) cannot change it. */
    __m512 c0_0, c0_1, c0_2, c1_0, c1_1, c1_2, c2_0, c2_1, c2_2, c3_0, c3_1, c3_2, c4_0, c4_1, c4_2,
        c5_0, c5_1, c5_2, c6_0, c6_1, c6_2, c7_0, c7_1, c7_2;
    if (load) {
        c0_0 = _mm512_loadu_ps(cc + 0 * ldc + 0);
        c0_1 = _mm512_loadu_ps(cc + 0 * ldc + 16);
        c0_2 = _mm512_loadu_ps(cc + 0 * ldc + 32);
        c1_0 = _mm512_loadu_ps(cc + 1 * ldc + 0);
        c1_1 = _mm512_loadu_ps(cc + 1 * ldc + 16);
        c1_2 = _mm512_loadu_ps(cc + 1 * ldc + 32);
        c2_0 = _mm512_loadu_ps(cc + 2 * ldc + 0);
        c2_1 = _mm512_loadu_ps(cc + 2 * ldc + 16);
        c2_2 = _mm512_loadu_ps(cc + 2 * ldc + 32);
        c3_0 = _mm512_loadu_ps(cc + 3 * ldc + 0);
        c3_1 = _mm512_loadu_ps(cc + 3 * ldc + 16);
        c3_2 = _mm512_loadu_ps(cc + 3 * ldc + 32);
        c4_0 = _mm512_loadu_ps(cc + 4 * ldc + 0);
        c4_1 = _mm512_loadu_ps(cc + 4 * ldc + 16);
        c4_2 = _mm512_loadu_ps(cc + 4 * ldc + 32);
        c5_0 = _mm512_loadu_ps(cc + 5 * ldc + 0);
        c5_1 = _mm512_loadu_ps(cc + 5 * ldc + 16);
        c5_2 = _mm512_loadu_ps(cc + 5 * ldc + 32);
        c6_0 = _mm512_loadu_ps(cc + 6 * ldc + 0);
        c6_1 = _mm512_loadu_ps(cc + 6 * ldc + 16);
        c6_2 = _mm512_loadu_ps(cc + 6 * ldc + 32);
        c7_0 = _mm512_loadu_ps(cc + 7 * ldc + 0);
        c7_1 = _mm512_loadu_ps(cc + 7 * ldc + 16);
        c7_2 = _mm512_loadu_ps(cc + 7 * ldc + 32);
    } else {
        /* Without `load`, a bias implies a direct tile: all MR entries exist. */
        c0_0 = bias ? _mm512_set1_ps(bias[0]) : _mm512_setzero_ps();
        c0_1 = c0_0;
        c0_2 = c0_0;
        c1_0 = bias ? _mm512_set1_ps(bias[1]) : _mm512_setzero_ps();
        c1_1 = c1_0;
        c1_2 = c1_0;
        c2_0 = bias ? _mm512_set1_ps(bias[2]) : _mm512_setzero_ps();
        c2_1 = c2_0;
        c2_2 = c2_0;
        c3_0 = bias ? _mm512_set1_ps(bias[3]) : _mm512_setzero_ps();
        c3_1 = c3_0;
        c3_2 = c3_0;
        c4_0 = bias ? _mm512_set1_ps(bias[4]) : _mm512_setzero_ps();
        c4_1 = c4_0;
        c4_2 = c4_0;
        c5_0 = bias ? _mm512_set1_ps(bias[5]) : _mm512_setzero_ps();
        c5_1 = c5_0;
        c5_2 = c5_0;
        c6_0 = bias ? _mm512_set1_ps(bias[6]) : _mm512_setzero_ps();
        c6_1 = c6_0;
        c6_2 = c6_0;
        c7_0 = bias ? _mm512_set1_ps(bias[7]) : _mm512_setzero_ps();
        c7_1 = c7_0;
        c7_2 = c7_0;
    }

    for (int64_t p = 0; p < k; p++) {
        _mm_prefetch((const char *)(b + PREFETCH_B), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + PREFETCH_B + 16), _MM_HINT_T0);
        _mm_prefetch((const char *)(b + PREFETCH_B + 32), _MM_HINT_T0);
        _mm_prefetch((const char *)(a + PREFETCH_A), _MM_HINT_T0);
        const __m512 b0 = _mm512_loadu_ps(b + 0);
        const __m512 b1 = _mm512_loadu_ps(b + 16);
        const __m512 b2 = _mm512_loadu_ps(b + 32);
        __m512 ar;
        ar = _mm512_set1_ps(a[0]);
        c0_0 = _mm512_fmadd_ps(ar, b0, c0_0);
        c0_1 = _mm512_fmadd_ps(ar, b1, c0_1);
        c0_2 = _mm512_fmadd_ps(ar, b2, c0_2);
        ar = _mm512_set1_ps(a[1]);
        c1_0 = _mm512_fmadd_ps(ar, b0, c1_0);
        c1_1 = _mm512_fmadd_ps(ar, b1, c1_1);
        c1_2 = _mm512_fmadd_ps(ar, b2, c1_2);
        ar = _mm512_set1_ps(a[2]);
        c2_0 = _mm512_fmadd_ps(ar, b0, c2_0);
        c2_1 = _mm512_fmadd_ps(ar, b1, c2_1);
        c2_2 = _mm512_fmadd_ps(ar, b2, c2_2);
        ar = _mm512_set1_ps(a[3]);
        c3_0 = _mm512_fmadd_ps(ar, b0, c3_0);
        c3_1 = _mm512_fmadd_ps(ar, b1, c3_1);
        c3_2 = _mm512_fmadd_ps(ar, b2, c3_2);
        ar = _mm512_set1_ps(a[4]);
        c4_0 = _mm512_fmadd_ps(ar, b0, c4_0);
        c4_1 = _mm512_fmadd_ps(ar, b1, c4_1);
        c4_2 = _mm512_fmadd_ps(ar, b2, c4_2);
        ar = _mm512_set1_ps(a[5]);
        c5_0 = _mm512_fmadd_ps(ar, b0, c5_0);
        c5_1 = _mm512_fmadd_ps(ar, b1, c5_1);
        c5_2 = _mm512_fmadd_ps(ar, b2, c5_2);
        ar = _mm512_set1_ps(a[6]);
        c6_0 = _mm512_fmadd_ps(ar, b0, c6_0);
        c6_1 = _mm512_fmadd_ps(ar, b1, c6_1);
        c6_2 = _mm512_fmadd_ps(ar, b2, c6_2);
        ar = _mm512_set1_ps(a[7]);
        c7_0 = _mm512_fmadd_ps(ar, b0, c7_0);
        c7_1 = _mm512_fmadd_ps(ar, b1, c7_1);
        c7_2 = _mm512_fmadd_ps(ar, b2, c7_2);
        a += MR;
        b += NR;
    }

    _mm512_storeu_ps(cc + 0 * ldc + 0, c0_0);
    _mm512_storeu_ps(cc + 0 * ldc + 16, c0_1);
    _mm512_storeu_ps(cc + 0 * ldc + 32, c0_2);
    _mm512_storeu_ps(cc + 1 * ldc + 0, c1_0);
    _mm512_storeu_ps(cc + 1 * ldc + 16, c1_1);
    _mm512_storeu_ps(cc + 1 * ldc + 32, c1_2);
    _mm512_storeu_ps(cc + 2 * ldc + 0, c2_0);
    _mm512_storeu_ps(cc + 2 * ldc + 16, c2_1);
    _mm512_storeu_ps(cc + 2 * ldc + 32, c2_2);
    _mm512_storeu_ps(cc + 3 * ldc + 0, c3_0);
    _mm512_storeu_ps(cc + 3 * ldc + 16, c3_1);
    _mm512_storeu_ps(cc + 3 * ldc + 32, c3_2);
    _mm512_storeu_ps(cc + 4 * ldc + 0, c4_0);
    _mm512_storeu_ps(cc + 4 * ldc + 16, c4_1);
    _mm512_storeu_ps(cc + 4 * ldc + 32, c4_2);
    _mm512_storeu_ps(cc + 5 * ldc + 0, c5_0);
    _mm512_storeu_ps(cc + 5 * ldc + 16, c5_1);
    _mm512_storeu_ps(cc + 5 * ldc + 32, c5_2);
    _mm512_storeu_ps(cc + 6 * ldc + 0, c6_0);
    _mm512_storeu_ps(cc + 6 * ldc + 16, c6_1);
    _mm512_storeu_ps(cc + 6 * ldc + 32, c6_2);
    _mm512_storeu_ps(cc + 7 * ldc + 0, c7_0);
    _mm512_storeu_ps(cc + 7 * ldc + 16, c7_1);
    _mm512_storeu_ps(cc + 7 * ldc + 32, c7_2);
    if (!direct)
        for (int64_t r = 0; r < m; r++)
            for (int64_t j = 0; j < n; j++)
                c[r * rs_c + j * cs_c] = tile[r * NR + j];
}
