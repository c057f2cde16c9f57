/*
 * bench_gemm.c - GFLOP/s of tconv's packed SGEMM (tconv__gemm_compute) per ISA level on
 * the shapes the transposed-convolution paths produce, single-threaded.
 *
 * usage: bench_gemm [peak_gflops [runs]]
 *   peak_gflops  one core's AVX-512 FMA peak (e.g. from /work/shared/peers/peak.c);
 *                when given, each line also shows the fraction of the ISA's own peak
 *                (AVX-512: peak, AVX2: peak/2, scalar: not shown).
 *   runs         timed runs per case (default 11); the median is reported.
 * $TCONV_ISA=scalar|avx2 caps the levels measured.
 *
 * Time is the thread's CPU time (CLOCK_THREAD_CPUTIME_ID): on a shared machine the
 * periods when the scheduler runs someone else on our core are not counted, so the
 * numbers stay comparable with a peak measured the same way. What CPU time cannot
 * remove (other tenants' cache and memory traffic, hypervisor steal) shows up as spread
 * between runs; the median is robust to it, and the fraction of peak is only
 * meaningful against a peak measured at about the same time.
 *
 * Columns: compute = packed A x packed B only (A is packed once per weight tensor);
 * %L1 = compute relative to the kernel alone on L1-resident data, timed next to each
 * run (what the blocking and the memory system cost, nearly immune to neighbours);
 * +packB = also packing B from a row-major K x N source, as a convolution does per tile;
 * L1 = that kernel-alone rate.
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
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
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

/* The micro-kernel alone on one L1-resident slice (k = 128): the ceiling the blocked
 * product can reach. Timed between the runs of every case, so that each run has a
 * reference measured under the same neighbours. Returns GFLOP/s of one short run. */
static double l1_reference(const tconv_gemm_kernel *kern, const float *a, const float *b, float *c)
{
    enum { KREF = 128 };
    const double flops = 2.0 * kern->mr * kern->nr * KREF;
    const int reps = (int)(2e8 / flops); /* ~1.5 ms */
    const double t0 = now();
    for (int i = 0; i < reps; i++)
        kern->fn(KREF, a, b, c, kern->nr, 1, kern->mr, kern->nr, NULL, 1);
    return flops * reps / (now() - t0) * 1e-9;
}

typedef struct result {
    double gflops; /* median over runs */
    double of_l1;  /* median over runs of (this run / the L1 reference next to it) */
    double l1;     /* median of the L1 reference */
} result;

/* compute (with_pack = 0) or pack B + compute, `runs` runs. */
static result time_case(const tconv_gemm_kernel *kern, const shape *s, const float *ap,
                        const float *b, float *bp, float *c, int with_pack, int runs,
                        const float *ref_a, const float *ref_b, float *ref_c)
{
    const double flops = 2.0 * (double)s->m * (double)s->n * (double)s->k;
    /* ~10 ms per run at 150 GFLOP/s: long enough for the timer, short enough that most
     * runs fit between two bursts of another tenant's work. */
    int reps = (int)(1.5e9 / flops);
    if (reps < 1)
        reps = 1;
    double g[64], ratio[64], ref[64];
    if (runs > 64)
        runs = 64;
    for (int r = -1; r < runs; r++) { /* r = -1 warms caches and page tables */
        const double l1 = l1_reference(kern, ref_a, ref_b, ref_c);
        const double t0 = now();
        for (int i = 0; i < reps; i++) {
            if (with_pack)
                tconv__gemm_pack_b(kern, s->k, s->n, b, s->n, 1, bp);
            tconv__gemm_compute(kern, s->m, s->n, s->k, ap, bp, c, s->n, 1, NULL, 0);
        }
        if (r >= 0) {
            g[r] = flops * reps / (now() - t0) * 1e-9;
            ratio[r] = g[r] / l1;
            ref[r] = l1;
        }
    }
    qsort(g, (size_t)runs, sizeof g[0], cmp_double);
    qsort(ratio, (size_t)runs, sizeof ratio[0], cmp_double);
    qsort(ref, (size_t)runs, sizeof ref[0], cmp_double);
    result res = {g[runs / 2], ratio[runs / 2], ref[runs / 2]};
    return res;
}

static void print_pct(double x, double of)
{
    if (of > 0)
        printf(" %6.1f%%", 100 * x / of);
    else
        printf(" %7s", "-");
}

int main(int argc, char **argv)
{
    const double peak = argc > 1 ? atof(argv[1]) : 0.0;
    const int runs = argc > 2 && atoi(argv[2]) > 0 ? atoi(argv[2]) : 11;
    const tconv_isa best = tconv_isa_detected();

    printf("# tconv packed SGEMM, 1 thread, median of %d runs; C = A*B, row-major C\n", runs);
    if (peak > 0)
        printf("# peak given: %.1f GFLOP/s AVX-512, %.1f AVX2\n", peak, peak / 2);
    printf("# L1 = the kernel alone on L1-resident data, timed next to each run; %%L1 is the\n"
           "# median of the per-run ratios (the blocking's efficiency, robust to noise)\n");
    printf("%-24s %6s %6s %6s %9s %7s %7s %9s %7s %7s\n", "kernel", "M", "N", "K", "compute",
           "%peak", "%L1", "+packB", "%peak", "L1");

    for (int isa = TCONV_ISA_SCALAR; isa <= (int)best; isa++) {
        const tconv_gemm_kernel *kern = tconv__gemm_kernel((tconv_isa)isa);
        if (kern->isa != (tconv_isa)isa)
            continue; /* this build falls back to a lower level: already measured */
        const double isa_peak = isa == TCONV_ISA_AVX512 ? peak
                                : isa == TCONV_ISA_AVX2 ? peak / 2
                                                        : 0.0;
        float *ref_a = alloc_floats((size_t)kern->mr * 128);
        float *ref_b = alloc_floats((size_t)kern->nr * 128);
        float *ref_c = alloc_floats((size_t)kern->mr * (size_t)kern->nr);
        for (int j = 0; j < kern->mr * 128; j++)
            ref_a[j] = 1.0f / 1024;
        for (int j = 0; j < kern->nr * 128; j++)
            ref_b[j] = 1.0f / 1024;
        for (int j = 0; j < kern->mr * kern->nr; j++)
            ref_c[j] = 0.0f;
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

            const result r0 = time_case(kern, s, ap, b, bp, c, 0, runs, ref_a, ref_b, ref_c);
            const result r1 = time_case(kern, s, ap, b, bp, c, 1, runs, ref_a, ref_b, ref_c);
            printf("%-24s %6lld %6lld %6lld %9.1f", kern->name, (long long)s->m, (long long)s->n,
                   (long long)s->k, r0.gflops);
            print_pct(r0.gflops, isa_peak);
            printf(" %6.1f%%", 100 * r0.of_l1);
            printf(" %9.1f", r1.gflops);
            print_pct(r1.gflops, isa_peak);
            printf(" %7.1f\n", r0.l1);
            fflush(stdout);
            free(a);
            free(b);
            free(ap);
            free(bp);
            free(c);
        }
        free(ref_a);
        free(ref_b);
        free(ref_c);
    }
    return 0;
}
