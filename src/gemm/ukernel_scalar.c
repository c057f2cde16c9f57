/*
 * ukernel_scalar.c - the portable single-precision GEMM micro-kernel, f32_gemm_4x8_scalar:
 * plain C, the twin every ISA kernel is tested against, and the kernel of machines
 * without one.
 *
 * SPDX-License-Identifier: MIT
 */
#include "gemm.h"

/* 4 x 8 accumulators are 8 SSE or NEON registers when the compiler vectorises the row
 * loop, and still few enough to stay in registers when it does not. */
enum { MR = 4, NR = 8 };

/* kc = 256: the A slice (4 KiB) and one B slice (8 KiB) sit comfortably in any L1d of
 * 32 KiB or more; this kernel is not fast enough for finer tuning to matter. */
const tconv_gemm_kernel tconv__gemm_f32_4x8_scalar = {
    MR, NR, 256, TCONV_ISA_SCALAR, tconv__ukernel_scalar, "f32_gemm_4x8_scalar",
};

void tconv__ukernel_scalar(int64_t k, const float *a, const float *b, float *c, int64_t rs_c,
                           int64_t cs_c, int64_t m, int64_t n, const float *bias, int accumulate)
{
    float acc[MR][NR];
    for (int r = 0; r < MR; r++)
        for (int j = 0; j < NR; j++)
            acc[r][j] = 0.0f;
    /* Starting from C or the bias (not adding them at the end) makes the sum one chain,
     * so blocking K in the driver cannot change the result. */
    for (int64_t r = 0; r < m; r++)
        for (int64_t j = 0; j < n; j++)
            acc[r][j] = accumulate ? c[r * rs_c + j * cs_c] : bias ? bias[r] : 0.0f;

    for (int64_t p = 0; p < k; p++) {
        for (int r = 0; r < MR; r++) {
            for (int j = 0; j < NR; j++) {
                /* Two statements: in ISO C mode (-std=c11) GCC does not contract at all
                 * and clang only within one expression, so the product and the sum are
                 * rounded separately on every machine, FMA hardware or not. */
                const float prod = a[r] * b[j];
                acc[r][j] += prod;
            }
        }
        a += MR;
        b += NR;
    }

    for (int64_t r = 0; r < m; r++)
        for (int64_t j = 0; j < n; j++)
            c[r * rs_c + j * cs_c] = acc[r][j];
}
