/*
 * bench_gemm.c - GFLOP/s of tconv's packed SGEMM (tconv__gemm_compute) per ISA level on
 * the shapes the transposed-convolution paths produce, single-threaded.
 *
 * usage: bench_gemm [peak_gflops [runs]]
 *   peak_gflops  one core's AVX-512 FMA peak (e.g. from /work/shared/peers/peak.c);
 *                when given, each line also shows the fraction of the ISA's own peak
 *                (AVX-512: peak, AVX2: peak/2, scalar: not shown).
 *   runs         timed runs per case (default 7); the median is reported, so the
 *                noise of a shared machine shows up as spread, not as a biased mean.
 * $TCONV_ISA=scalar|avx2 caps the levels measured.
 *
 * Columns: compute = packed A x packed B only (A is packed once per weight tensor);
 * +packB = also packing B from a row-major K x N source, as a convolution does per tile.
 *
 * SPDX-License-Identifier: MIT
 */
#define _POSIX_C_SOURCE 200809L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "gemm/gemm.h"

typedef struct shape {
    int64_t m, n, k;
} shape;

static const shape shapes[] = {
    {256, 1024, 2048}, {128, 4096, 1024}, {64, 16384, 512}, /* the large ones */
    {256, 256, 2304},  {128, 512, 1152},  {64, 256, 576},   /* per-tile, 3x3 kernels */
    {96, 384, 864},    {32, 128, 288},    {3, 4096, 576},   /* odd sizes, RGB output */
    {16, 64, 64},
};

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static int cmp_double(const void *x, const void *y)
{
    const double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

static float *alloc_floats(size_t n)
{
    const size_t bytes = (n * sizeof(float) + 63) / 64 * 64;
    float *p = aligned_alloc(64, bytes ? bytes : 64);
    if (!p) {
        fprintf(stderr, "bench_gemm: out of memory (%zu bytes)\n", bytes);
        exit(1);
    }
    return p;
}

/* Median seconds per call of compute (with_pack = 0) or pack B + compute. */
static double time_case(const tconv_gemm_kernel *kern, const shape *s, const float *ap,
                        const float *b, float *bp, float *c, int with_pack, int runs)
{
    const double flops = 2.0 * (double)s->m * (double)s->n * (double)s->k;
    /* Enough calls per run (>= ~20 ms at 150 GFLOP/s) that timer and scheduler
     * granularity do not matter. */
    int reps = (int)(3e9 / flops);
    if (reps < 1)
        reps = 1;
    double t[64];
    if (runs > 64)
        runs = 64;
    for (int r = -1; r < runs; r++) { /* r = -1 warms caches and page tables */
        const double t0 = now();
        for (int i = 0; i < reps; i++) {
            if (with_pack)
                tconv__gemm_pack_b(kern, s->k, s->n, b, s->n, 1, bp);
            tconv__gemm_compute(kern, s->m, s->n, s->k, ap, bp, c, s->n, 1, NULL, 0);
        }
        if (r >= 0)
            t[r] = (now() - t0) / reps;
    }
    qsort(t, (size_t)runs, sizeof t[0], cmp_double);
    return t[runs / 2];
}

int main(int argc, char **argv)
{
    const double peak = argc > 1 ? atof(argv[1]) : 0.0;
    const int runs = argc > 2 && atoi(argv[2]) > 0 ? atoi(argv[2]) : 7;
    const tconv_isa best = tconv_isa_detected();

    printf("# tconv packed SGEMM, 1 thread, median of %d runs; C = A*B, row-major C\n", runs);
    if (peak > 0)
        printf("# peak given: %.1f GFLOP/s AVX-512, %.1f AVX2\n", peak, peak / 2);
    printf("%-24s %6s %6s %6s %10s %7s %10s %7s\n", "kernel", "M", "N", "K", "compute",
           "%peak", "+packB", "%peak");

    for (int isa = TCONV_ISA_SCALAR; isa <= (int)best; isa++) {
        const tconv_gemm_kernel *kern = tconv__gemm_kernel((tconv_isa)isa);
        if (kern->isa != (tconv_isa)isa)
            continue; /* this build falls back to a lower level: already measured */
        const double isa_peak = isa == TCONV_ISA_AVX512 ? peak
                                : isa == TCONV_ISA_AVX2  ? peak / 2
                                                         : 0.0;
        for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
            const shape *s = &shapes[i];
            /* The scalar kernel would take minutes on the large shapes. */
            if (isa == TCONV_ISA_SCALAR && (double)s->m * (double)s->n * (double)s->k > 1e8)
                continue;
            float *a = alloc_floats((size_t)(s->m * s->k));
            float *b = alloc_floats((size_t)(s->k * s->n));
            float *ap = alloc_floats(tconv__gemm_packed_a_floats(kern, s->m, s->k));
            float *bp = alloc_floats(tconv__gemm_packed_b_floats(kern, s->k, s->n));
            float *c = alloc_floats((size_t)(s->m * s->n));
            for (int64_t j = 0; j < s->m * s->k; j++)
                a[j] = (float)((j * 7 % 13) - 6) / 8.0f;
            for (int64_t j = 0; j < s->k * s->n; j++)
                b[j] = (float)((j * 5 % 11) - 5) / 8.0f;
            tconv__gemm_pack_a(kern, s->m, s->k, a, s->k, 1, ap);
            tconv__gemm_pack_b(kern, s->k, s->n, b, s->n, 1, bp);

            const double flops = 2.0 * (double)s->m * (double)s->n * (double)s->k;
            const double g0 = flops / time_case(kern, s, ap, b, bp, c, 0, runs) * 1e-9;
            const double g1 = flops / time_case(kern, s, ap, b, bp, c, 1, runs) * 1e-9;
            printf("%-24s %6lld %6lld %6lld %10.1f", kern->name, (long long)s->m,
                   (long long)s->n, (long long)s->k, g0);
            if (isa_peak > 0)
                printf(" %6.1f%%", 100 * g0 / isa_peak);
            else
                printf(" %7s", "-");
            printf(" %10.1f", g1);
            if (isa_peak > 0)
                printf(" %6.1f%%", 100 * g1 / isa_peak);
            else
                printf(" %7s", "-");
            printf("\n");
            fflush(stdout);
            free(a);
            free(b);
            free(ap);
            free(bp);
            free(c);
        }
    }
    return 0;
}
