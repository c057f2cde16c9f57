/*
 * test_gemm.c - the packed SGEMM (src/gemm): packing, every micro-kernel this machine
 * has (scalar, avx2, avx512 up to tconv_isa_detected(); $TCONV_ISA lowers it) and the
 * blocked driver, against a double-precision product and against the scalar kernel.
 *
 * Tolerance. Every kernel computes C[i][j] as one chain c0, +a[i][0]*b[0][j], ...,
 * +a[i][K-1]*b[K-1][j] in float, where c0 is C (accumulate), the bias or 0, with an FMA
 * or a rounded product and a rounded sum per term. The standard bound for such a chain
 * (Higham, Accuracy and Stability, 3.1) is
 *     |computed - exact| <= gamma(K+1) * S,   gamma(n) = n*u/(1-n*u), u = 2^-24,
 *     S = |c0| + sum_p |a[i][p]*b[p][j]|,
 * whatever the order and whether or not products are fused (an FMA only removes
 * roundings). A kernel is checked against the exact value (a double sum of the exact
 * double products; its own error, ~K*2^-53*S, is far below the bound) with this bound,
 * and against the scalar kernel with twice it, since both may err in opposite
 * directions. FLT_MIN is added for underflow in products of tiny values. The bound is
 * rigorous, so any failure is a bug, not bad luck.
 * Cases with small-integer data have exact sums in any order: there every kernel must
 * equal the exact value bit for bit, which pins down indexing errors the tolerance of
 * the uniform cases could hide.
 *
 * Also checked: packed formats element by element (and that packing writes exactly
 * packed_*_floats floats); every m x n corner of every kernel; C with row-major,
 * cs_c = 2, transposed, and negative strides; that nothing outside the m x n corner
 * or the C view is written (sentinels); that results are bit-identical when M or N is
 * split at panel boundaries (as threads do) or K is blocked differently.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algo.h"
#include "gemm/gemm.h"
#include "testutil.h"

/* A quiet NaN with a payload no computation here produces (the data hold no NaN, and
 * arithmetic makes the default NaN): a written element cannot equal it. */
#define SENTINEL_BITS 0x7fe5c3e1u

static float sentinel(void)
{
    float f;
    const uint32_t bits = SENTINEL_BITS;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static int is_sentinel(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    return bits == SENTINEL_BITS;
}

static int same_bits(float x, float y)
{
    return memcmp(&x, &y, sizeof x) == 0;
}

static double gamma_n(int64_t n)
{
    const double u = ldexp(1.0, -24);
    return (double)n * u / (1.0 - (double)n * u);
}

/* ------------------------------------------------------------------ ISA levels */

/* The levels to test: every one from scalar up to what this machine and build run
 * (capped by $TCONV_ISA). */
static int isa_levels(tconv_isa *out)
{
    const tconv_isa best = tconv_isa_detected();
    int n = 0;
    for (int isa = TCONV_ISA_SCALAR; isa <= (int)best; isa++)
        out[n++] = (tconv_isa)isa;
    return n;
}

/* ------------------------------------------------------------------ matrices */

/* An r x c matrix view (any strides) into a buffer with sentinel margins. */
typedef struct mat {
    float *buf;
    size_t len;
    float *p;
    int64_t rs, cs, rows, cols;
} mat;

enum { MARGIN = 37 };

typedef enum layout {
    L_ROW = 0,      /* row-major with a gap after each row */
    L_COL2 = 1,     /* every other column: cs = 2 */
    L_TRANS = 2,    /* column-major: rs = 1 */
    L_NEG_ROW = 3,  /* rows stored bottom-up: rs < 0 */
    L_NEG_COL = 4,  /* columns stored right to left: cs < 0 */
    L_NEG_BOTH = 5, /* column-major and both reversed */
    L_DENSE = 6,    /* plain row-major, no gaps */
    L_COUNT = 7
} layout;

static const char *const layout_names[L_COUNT] = {"row+gap", "cs=2",   "transposed", "rs<0",
                                                  "cs<0",    "both<0", "dense"};

static mat mat_new(int64_t rows, int64_t cols, layout l)
{
    mat m;
    memset(&m, 0, sizeof m);
    m.rows = rows;
    m.cols = cols;
    switch (l) {
    case L_ROW:
        m.rs = cols + 3;
        m.cs = 1;
        break;
    case L_COL2:
        m.rs = 2 * cols + 5;
        m.cs = 2;
        break;
    case L_TRANS:
        m.rs = 1;
        m.cs = rows + 2;
        break;
    case L_NEG_ROW:
        m.rs = -(cols + 1);
        m.cs = 1;
        break;
    case L_NEG_COL:
        m.rs = cols + 2;
        m.cs = -1;
        break;
    case L_NEG_BOTH:
        m.rs = -1;
        m.cs = -(rows + 3);
        break;
    default:
        m.rs = cols;
        m.cs = 1;
        break;
    }
    const int64_t lo = (m.rs < 0 ? (rows - 1) * m.rs : 0) + (m.cs < 0 ? (cols - 1) * m.cs : 0);
    const int64_t hi = (m.rs > 0 ? (rows - 1) * m.rs : 0) + (m.cs > 0 ? (cols - 1) * m.cs : 0);
    m.len = (size_t)(hi - lo + 1 + 2 * MARGIN);
    m.buf = malloc(m.len * sizeof(float));
    assert_non_null(m.buf);
    for (size_t i = 0; i < m.len; i++)
        m.buf[i] = sentinel();
    m.p = m.buf + MARGIN - lo;
    return m;
}

static float *mat_at(const mat *m, int64_t i, int64_t j)
{
    return m->p + i * m->rs + j * m->cs;
}

/* Counts elements of the buffer outside the view that are no longer sentinels. */
static int64_t mat_outside_written(const mat *m)
{
    char *inside = calloc(m->len, 1);
    assert_non_null(inside);
    for (int64_t i = 0; i < m->rows; i++)
        for (int64_t j = 0; j < m->cols; j++)
            inside[mat_at(m, i, j) - m->buf] = 1;
    int64_t bad = 0;
    for (size_t i = 0; i < m->len; i++)
        if (!inside[i] && !is_sentinel(m->buf[i]))
            bad++;
    free(inside);
    return bad;
}

typedef enum values {
    V_UNIFORM = 0,  /* uniform in [-1, 1): tolerance check */
    V_INTEGERS = 1, /* integers in [-4, 4]: exact in any order, bitwise check */
} values;

static float draw(tu_rng *rng, values v)
{
    return v == V_INTEGERS ? (float)tu_range(rng, -4, 4) : tu_uniform(rng);
}

static void mat_fill(mat *m, tu_rng *rng, values v)
{
    for (int64_t i = 0; i < m->rows; i++)
        for (int64_t j = 0; j < m->cols; j++)
            *mat_at(m, i, j) = draw(rng, v);
}

static void mat_free(mat *m)
{
    free(m->buf);
    m->buf = NULL;
}

/* 64-byte aligned floats, followed by `tail` sentinels to catch overruns. */
static float *alloc_packed(size_t n, size_t tail)
{
    const size_t bytes = ((n + tail) * sizeof(float) + 63) / 64 * 64;
    float *p = aligned_alloc(64, bytes ? bytes : 64);
    assert_non_null(p);
    for (size_t i = 0; i < n + tail; i++)
        p[i] = sentinel();
    return p;
}

/* ------------------------------------------------------------------ the reference */

/* exact[i*n + j] and mag[i*n + j] (S of the tolerance) of c0 + A*B in double, where c0
 * is c_init (accumulate), the bias or zero. */
static void exact_product(const mat *a, const mat *b, const mat *c_init, const float *bias,
                          int accumulate, double *exact, double *mag)
{
    const int64_t m = a->rows, n = b->cols, k = a->cols;
    for (int64_t i = 0; i < m; i++)
        for (int64_t j = 0; j < n; j++) {
            double s = accumulate ? (double)*mat_at(c_init, i, j) : bias ? (double)bias[i] : 0.0;
            double g = fabs(s);
            for (int64_t p = 0; p < k; p++) {
                const double t = (double)*mat_at(a, i, p) * (double)*mat_at(b, p, j);
                s += t;
                g += fabs(t);
            }
            exact[i * n + j] = s;
            mag[i * n + j] = g;
        }
}

/* ------------------------------------------------------------------ kernel table */

static void test_kernel_table(void **state)
{
    (void)state;
    /* The pure choice without a cap is what the machine has; $TCONV_ISA only lowers it. */
    assert_true(tconv__isa_for(tconv__cpu_features(), NULL) >= tconv_isa_detected());
    const tconv_gemm_kernel *s = tconv__gemm_kernel(TCONV_ISA_SCALAR);
    assert_int_equal(s->isa, TCONV_ISA_SCALAR);
    assert_ptr_equal(s->fn, tconv__ukernel_scalar);
    assert_ptr_equal(tconv__gemm_kernel(TCONV_ISA_AUTO), tconv__gemm_kernel(tconv_isa_detected()));
    for (int isa = TCONV_ISA_SCALAR; isa <= TCONV_ISA_AVX512; isa++) {
        const tconv_gemm_kernel *k = tconv__gemm_kernel((tconv_isa)isa);
        assert_non_null(k);
        assert_non_null(k->fn);
        /* A level absent from the build falls back to a lower one, never a higher. */
        assert_true((int)k->isa <= isa);
        assert_true(k->mr >= 1 && k->nr >= 1 && k->kc >= 16);
        /* The name carries dtype, op, tile and ISA. */
        char want[64];
        snprintf(want, sizeof want, "f32_gemm_%dx%d_%s", k->mr, k->nr, tconv_isa_name(k->isa));
        assert_string_equal(k->name, want);
        print_message("level %-6s -> %s (kc %d)\n", tconv_isa_name(isa), k->name, k->kc);
    }
}

/* ------------------------------------------------------------------ packing */

static void check_pack(const tconv_gemm_kernel *k, int is_a, int64_t len, int64_t kdim, layout l,
                       tu_rng *rng)
{
    /* A is len x kdim; B is kdim x len. */
    mat x = is_a ? mat_new(len, kdim, l) : mat_new(kdim, len, l);
    mat_fill(&x, rng, V_UNIFORM);
    const int64_t w = is_a ? k->mr : k->nr;
    const size_t floats = is_a ? tconv__gemm_packed_a_floats(k, len, kdim)
                               : tconv__gemm_packed_b_floats(k, kdim, len);
    assert_int_equal(floats, (size_t)((len + w - 1) / w * w * kdim));
    float *dst = alloc_packed(floats, 16);
    if (is_a)
        tconv__gemm_pack_a(k, len, kdim, x.p, x.rs, x.cs, dst);
    else
        tconv__gemm_pack_b(k, kdim, len, x.p, x.rs, x.cs, dst);
    int64_t bad = 0;
    for (int64_t i = 0; i < (len + w - 1) / w * w; i++)
        for (int64_t p = 0; p < kdim; p++) {
            const float got = dst[(i / w) * w * kdim + p * w + i % w];
            const float want = i >= len ? 0.0f : is_a ? *mat_at(&x, i, p) : *mat_at(&x, p, i);
            if (!same_bits(got, want) && bad++ < 3)
                print_error("%s pack %s len=%lld K=%lld %s: line %lld depth %lld: got %g want %g\n",
                            k->name, is_a ? "A" : "B", (long long)len, (long long)kdim,
                            layout_names[l], (long long)i, (long long)p, got, want);
        }
    for (size_t i = floats; i < floats + 16; i++)
        if (!is_sentinel(dst[i]) && bad++ < 3)
            print_error("%s pack %s wrote past its %zu floats\n", k->name, is_a ? "A" : "B",
                        floats);
    assert_int_equal(bad, 0);
    free(dst);
    mat_free(&x);
}

static void test_pack(void **state)
{
    (void)state;
    tconv_isa levels[4];
    const int nl = isa_levels(levels);
    tu_rng rng = tu_rng_seed(11);
    for (int li = 0; li < nl; li++) {
        const tconv_gemm_kernel *k = tconv__gemm_kernel(levels[li]);
        const int64_t lens[] = {1,     k->mr - 1, k->mr,         k->mr + 1, k->nr - 1,
                                k->nr, k->nr + 1, 3 * k->nr + 5, 50};
        const int64_t depths[] = {1, 2, 5, 64, 131};
        for (size_t a = 0; a < sizeof lens / sizeof lens[0]; a++)
            for (size_t d = 0; d < sizeof depths / sizeof depths[0]; d++)
                for (int l = 0; l < L_COUNT; l++) {
                    if (lens[a] < 1)
                        continue;
                    check_pack(k, 1, lens[a], depths[d], (layout)l, &rng);
                    check_pack(k, 0, lens[a], depths[d], (layout)l, &rng);
                }
    }
}

/* ------------------------------------------------------------------ one product */

typedef struct gcase {
    int64_t m, n, k;
    layout la, lb, lc;
    int accumulate, bias;
    values v;
} gcase;

static void describe(const tconv_gemm_kernel *k, const gcase *g, char *buf, size_t len)
{
    snprintf(buf, len, "%s M=%lld N=%lld K=%lld A:%s B:%s C:%s accumulate=%d bias=%d %s", k->name,
             (long long)g->m, (long long)g->n, (long long)g->k, layout_names[g->la],
             layout_names[g->lb], layout_names[g->lc], g->accumulate, g->bias,
             g->v == V_INTEGERS ? "integers" : "uniform");
}

/* Packs A and B of g for kernel k and runs tconv__gemm_compute into c. */
static void run_compute(const tconv_gemm_kernel *k, const gcase *g, const mat *a, const mat *b,
                        mat *c, const float *bias)
{
    float *ap = alloc_packed(tconv__gemm_packed_a_floats(k, g->m, g->k), 0);
    float *bp = alloc_packed(tconv__gemm_packed_b_floats(k, g->k, g->n), 0);
    tconv__gemm_pack_a(k, g->m, g->k, a->p, a->rs, a->cs, ap);
    tconv__gemm_pack_b(k, g->k, g->n, b->p, b->rs, b->cs, bp);
    tconv__gemm_compute(k, g->m, g->n, g->k, ap, bp, c->p, c->rs, c->cs, g->bias ? bias : NULL,
                        g->accumulate);
    free(ap);
    free(bp);
}

/* Runs g on kernel k and on the scalar kernel and checks both against the exact value.
 * Returns the number of bad elements (0 = pass). */
static int64_t check_case(const tconv_gemm_kernel *k, const gcase *g, uint64_t seed)
{
    char what[256];
    describe(k, g, what, sizeof what);
    tu_rng rng = tu_rng_seed(seed);
    mat a = mat_new(g->m, g->k, g->la), b = mat_new(g->k, g->n, g->lb);
    mat c = mat_new(g->m, g->n, g->lc), cs = mat_new(g->m, g->n, L_DENSE);
    mat_fill(&a, &rng, g->v);
    mat_fill(&b, &rng, g->v);
    mat_fill(&c, &rng, g->v);
    float *bias = malloc((size_t)g->m * sizeof(float));
    assert_non_null(bias);
    for (int64_t i = 0; i < g->m; i++)
        bias[i] = draw(&rng, g->v);
    for (int64_t i = 0; i < g->m; i++)
        for (int64_t j = 0; j < g->n; j++)
            *mat_at(&cs, i, j) = *mat_at(&c, i, j);
    const size_t mn = (size_t)(g->m * g->n);
    double *exact = malloc((mn + 1) * sizeof(double)), *mag = malloc((mn + 1) * sizeof(double));
    assert_true(exact && mag);
    exact_product(&a, &b, &c, g->bias ? bias : NULL, g->accumulate, exact, mag);

    run_compute(k, g, &a, &b, &c, bias);
    run_compute(tconv__gemm_kernel(TCONV_ISA_SCALAR), g, &a, &b, &cs, bias);

    int64_t bad = 0;
    const double gam = gamma_n(g->k + 1);
    for (int64_t i = 0; i < g->m; i++)
        for (int64_t j = 0; j < g->n; j++) {
            const double got = *mat_at(&c, i, j), ref = *mat_at(&cs, i, j);
            const double want = exact[i * g->n + j], s = mag[i * g->n + j];
            int ok;
            if (g->v == V_INTEGERS)
                ok = got == want && ref == want;
            else
                ok = fabs(got - want) <= gam * s + FLT_MIN &&
                     fabs(got - ref) <= 2 * gam * s + FLT_MIN;
            if (!ok && bad++ < 3)
                print_error("%s: C[%lld][%lld] = %.9g, scalar %.9g, exact %.9g, bound %.3g\n", what,
                            (long long)i, (long long)j, got, ref, want, gam * s);
        }
    const int64_t outside = mat_outside_written(&c);
    if (outside)
        print_error("%s: %lld elements outside C written\n", what, (long long)outside);
    bad += outside;
    free(exact);
    free(mag);
    free(bias);
    mat_free(&a);
    mat_free(&b);
    mat_free(&c);
    mat_free(&cs);
    return bad;
}

/* Sizes around the kernel's tile and K block, all combinations, with layouts, modes and
 * value kinds rotating through the list so that each appears with many sizes. */
static void test_compute_edges(void **state)
{
    (void)state;
    tconv_isa levels[4];
    const int nl = isa_levels(levels);
    int64_t failed = 0, cases = 0;
    for (int li = 0; li < nl; li++) {
        const tconv_gemm_kernel *k = tconv__gemm_kernel(levels[li]);
        const int64_t mr = k->mr, nr = k->nr, kc = k->kc;
        const int64_t ms[] = {1, mr - 1, mr, mr + 1, 2 * mr + 3};
        const int64_t ns[] = {1, nr - 1, nr, nr + 1, 3 * nr - 1};
        const int64_t ks[] = {1, 2, 7, kc - 1, kc, kc + 1, 2 * kc + 5};
        uint64_t i = 0;
        for (size_t a = 0; a < sizeof ms / sizeof ms[0]; a++)
            for (size_t b = 0; b < sizeof ns / sizeof ns[0]; b++)
                for (size_t c = 0; c < sizeof ks / sizeof ks[0]; c++, i++) {
                    if (ms[a] < 1 || ns[b] < 1)
                        continue;
                    gcase g = {ms[a],
                               ns[b],
                               ks[c],
                               (layout)(i % L_COUNT),
                               (layout)((i / 2) % L_COUNT),
                               (layout)((i / 3) % L_COUNT),
                               (int)(i % 3 == 2),
                               (int)(i % 3 == 1),
                               (values)(i / 5 % 2)};
                    failed += check_case(k, &g, 1000 + i) != 0;
                    cases++;
                }
    }
    print_message("%lld edge cases\n", (long long)cases);
    assert_int_equal(failed, 0);
}

static void test_compute_random(void **state)
{
    (void)state;
    tconv_isa levels[4];
    const int nl = isa_levels(levels);
    tu_rng rng = tu_rng_seed(2024);
    int64_t failed = 0;
    for (int li = 0; li < nl; li++) {
        const tconv_gemm_kernel *k = tconv__gemm_kernel(levels[li]);
        for (int t = 0; t < 60; t++) {
            gcase g = {tu_range(&rng, 1, 80),
                       tu_range(&rng, 1, 200),
                       tu_range(&rng, 1, 1200),
                       (layout)tu_range(&rng, 0, L_COUNT - 1),
                       (layout)tu_range(&rng, 0, L_COUNT - 1),
                       (layout)tu_range(&rng, 0, L_COUNT - 1),
                       (int)tu_range(&rng, 0, 1),
                       (int)tu_range(&rng, 0, 1),
                       (values)tu_range(&rng, 0, 1)};
            failed += check_case(k, &g, tu_next(&rng)) != 0;
        }
        /* Large K: many K blocks, long chains, the bound at its loosest. */
        const gcase big[] = {
            {5, 70, 5000, L_ROW, L_DENSE, L_DENSE, 0, 1, V_UNIFORM},
            {k->mr + 2, k->nr + 3, 3 * k->kc + 1, L_TRANS, L_TRANS, L_NEG_ROW, 1, 0, V_UNIFORM},
            {2 * k->mr, 2 * k->nr, 4000, L_DENSE, L_DENSE, L_ROW, 1, 0, V_INTEGERS},
        };
        for (size_t i = 0; i < sizeof big / sizeof big[0]; i++)
            failed += check_case(k, &big[i], 77 + i) != 0;
    }
    assert_int_equal(failed, 0);
}

/* K = 0 has no products: C keeps its value (accumulate) or becomes the bias or zero. */
static void test_compute_empty(void **state)
{
    (void)state;
    tconv_isa levels[4];
    const int nl = isa_levels(levels);
    for (int li = 0; li < nl; li++) {
        const tconv_gemm_kernel *k = tconv__gemm_kernel(levels[li]);
        float c[6], bias[2] = {3.0f, -2.0f}, dummy = 0.0f;
        for (int mode = 0; mode < 3; mode++) {
            for (int i = 0; i < 6; i++)
                c[i] = 7.0f;
            tconv__gemm_compute(k, 2, 3, 0, &dummy, &dummy, c, 3, 1, mode == 1 ? bias : NULL,
                                mode == 2);
            for (int i = 0; i < 6; i++)
                assert_true(c[i] == (mode == 0 ? 0.0f : mode == 1 ? bias[i / 3] : 7.0f));
        }
        /* M or N zero: nothing is touched. */
        c[0] = 7.0f;
        tconv__gemm_compute(k, 0, 3, 4, &dummy, &dummy, c, 3, 1, NULL, 0);
        tconv__gemm_compute(k, 2, 0, 4, &dummy, &dummy, c, 3, 1, NULL, 0);
        assert_true(c[0] == 7.0f);
    }
}

/* ------------------------------------------------------------------ micro-kernel */

/* The kernel contract directly: for every m x n corner of one tile, accumulate 0/1,
 * bias or not, several C layouts: the corner equals the full tile's values bit for bit
 * (the result does not depend on m, n), agrees with the exact value, and nothing else
 * of C is written. */
static void test_ukernel_corners(void **state)
{
    (void)state;
    tconv_isa levels[4];
    const int nl = isa_levels(levels);
    tu_rng rng = tu_rng_seed(99);
    int64_t bad = 0;
    for (int li = 0; li < nl; li++) {
        const tconv_gemm_kernel *k = tconv__gemm_kernel(levels[li]);
        const int64_t mr = k->mr, nr = k->nr;
        const int64_t kdims[] = {1, 3, 37};
        for (size_t kd = 0; kd < sizeof kdims / sizeof kdims[0]; kd++) {
            const int64_t kdim = kdims[kd];
            mat a = mat_new(mr, kdim, L_DENSE), b = mat_new(kdim, nr, L_DENSE);
            mat c0 = mat_new(mr, nr, L_DENSE);
            mat_fill(&a, &rng, V_UNIFORM);
            mat_fill(&b, &rng, V_UNIFORM);
            mat_fill(&c0, &rng, V_UNIFORM);
            float *ap = alloc_packed(tconv__gemm_packed_a_floats(k, mr, kdim), 0);
            float *bp = alloc_packed(tconv__gemm_packed_b_floats(k, kdim, nr), 0);
            tconv__gemm_pack_a(k, mr, kdim, a.p, a.rs, a.cs, ap);
            tconv__gemm_pack_b(k, kdim, nr, b.p, b.rs, b.cs, bp);
            float *bias = malloc((size_t)mr * sizeof(float));
            assert_non_null(bias);
            for (int64_t r = 0; r < mr; r++)
                bias[r] = tu_uniform(&rng);
            double *exact = malloc((size_t)(mr * nr) * sizeof(double));
            double *mag = malloc((size_t)(mr * nr) * sizeof(double));
            assert_true(exact && mag);
            const double gam = gamma_n(kdim + 1);

            for (int mode = 0; mode < 3; mode++) { /* overwrite, overwrite+bias, accumulate */
                const int accumulate = mode == 2;
                const float *bias_m = mode == 1 ? bias : NULL;
                exact_product(&a, &b, &c0, bias_m, accumulate, exact, mag);
                /* The full tile, row-major, is what every corner must reproduce. */
                mat full = mat_new(mr, nr, L_DENSE);
                for (int64_t r = 0; r < mr; r++)
                    for (int64_t j = 0; j < nr; j++)
                        *mat_at(&full, r, j) = *mat_at(&c0, r, j);
                k->fn(kdim, ap, bp, full.p, full.rs, full.cs, mr, nr, bias_m, accumulate);
                for (int64_t m = 1; m <= mr; m++)
                    for (int64_t n = 1; n <= nr; n++) {
                        const layout lc = (layout)((m * 7 + n + mode) % (L_COUNT - 1));
                        mat c = mat_new(m, n, lc);
                        for (int64_t r = 0; r < m; r++)
                            for (int64_t j = 0; j < n; j++)
                                *mat_at(&c, r, j) = *mat_at(&c0, r, j);
                        k->fn(kdim, ap, bp, c.p, c.rs, c.cs, m, n, bias_m, accumulate);
                        for (int64_t r = 0; r < m; r++)
                            for (int64_t j = 0; j < n; j++) {
                                const float got = *mat_at(&c, r, j);
                                const double want = exact[r * nr + j];
                                if ((!same_bits(got, *mat_at(&full, r, j)) ||
                                     !(fabs(got - want) <= gam * mag[r * nr + j] + FLT_MIN)) &&
                                    bad++ < 5)
                                    print_error("%s k=%lld mode=%d corner %lldx%lld C:%s: "
                                                "[%lld][%lld] = %.9g, full tile %.9g, exact "
                                                "%.9g\n",
                                                k->name, (long long)kdim, mode, (long long)m,
                                                (long long)n, layout_names[lc], (long long)r,
                                                (long long)j, got, *mat_at(&full, r, j), want);
                            }
                        const int64_t outside = mat_outside_written(&c);
                        if (outside && bad++ < 5)
                            print_error("%s corner %lldx%lld C:%s: %lld elements outside "
                                        "written\n",
                                        k->name, (long long)m, (long long)n, layout_names[lc],
                                        (long long)outside);
                        mat_free(&c);
                    }
                mat_free(&full);
            }
            free(exact);
            free(mag);
            free(bias);
            free(ap);
            free(bp);
            mat_free(&a);
            mat_free(&b);
            mat_free(&c0);
        }
    }
    assert_int_equal(bad, 0);
}

/* ------------------------------------------------------------------ determinism */

/* The contract callers rely on for threads: C computed in pieces (M split at multiples
 * of MR, N at multiples of NR, each piece its own call) is bit-identical to C computed
 * at once; and so is C with a different K blocking (the chain continues through C). */
static void test_split_invariance(void **state)
{
    (void)state;
    tconv_isa levels[4];
    const int nl = isa_levels(levels);
    tu_rng rng = tu_rng_seed(5);
    for (int li = 0; li < nl; li++) {
        const tconv_gemm_kernel *k = tconv__gemm_kernel(levels[li]);
        const int64_t mr = k->mr, nr = k->nr;
        const int64_t m = 3 * mr + 5, n = 4 * nr + 7, kdim = 5 * k->kc / 2 + 3;
        mat a = mat_new(m, kdim, L_DENSE), b = mat_new(kdim, n, L_DENSE);
        mat_fill(&a, &rng, V_UNIFORM);
        mat_fill(&b, &rng, V_UNIFORM);
        float *ap = alloc_packed(tconv__gemm_packed_a_floats(k, m, kdim), 0);
        float *bp = alloc_packed(tconv__gemm_packed_b_floats(k, kdim, n), 0);
        tconv__gemm_pack_a(k, m, kdim, a.p, a.rs, a.cs, ap);
        tconv__gemm_pack_b(k, kdim, n, b.p, b.rs, b.cs, bp);
        float *bias = malloc((size_t)m * sizeof(float));
        float *init = malloc((size_t)(m * n) * sizeof(float));
        float *whole = malloc((size_t)(m * n) * sizeof(float));
        float *parts = malloc((size_t)(m * n) * sizeof(float));
        assert_true(bias && init && whole && parts);
        for (int64_t i = 0; i < m; i++)
            bias[i] = tu_uniform(&rng);
        for (int64_t i = 0; i < m * n; i++)
            init[i] = tu_uniform(&rng);

        for (int mode = 0; mode < 3; mode++) {
            const int accumulate = mode == 2;
            const float *bias_m = mode == 1 ? bias : NULL;
            memcpy(whole, init, (size_t)(m * n) * sizeof(float));
            tconv__gemm_compute(k, m, n, kdim, ap, bp, whole, n, 1, bias_m, accumulate);

            /* 2 x 3 pieces at panel boundaries. */
            memcpy(parts, init, (size_t)(m * n) * sizeof(float));
            const int64_t mcut[] = {0, 2 * mr, m}, ncut[] = {0, nr, 3 * nr, n};
            for (int pi = 0; pi < 2; pi++)
                for (int pj = 0; pj < 3; pj++) {
                    const int64_t i0 = mcut[pi], j0 = ncut[pj];
                    tconv__gemm_compute(k, mcut[pi + 1] - i0, ncut[pj + 1] - j0, kdim,
                                        ap + i0 * kdim, bp + j0 * kdim, parts + i0 * n + j0, n, 1,
                                        bias_m ? bias_m + i0 : NULL, accumulate);
                }
            assert_memory_equal(whole, parts, (size_t)(m * n) * sizeof(float));

            /* Other K blockings, also ones that are not multiples of 16. */
            const int kcs[] = {16, 100, 257, 100000};
            for (size_t q = 0; q < sizeof kcs / sizeof kcs[0]; q++) {
                tconv_gemm_kernel other = *k;
                other.kc = kcs[q];
                memcpy(parts, init, (size_t)(m * n) * sizeof(float));
                tconv__gemm_compute(&other, m, n, kdim, ap, bp, parts, n, 1, bias_m, accumulate);
                assert_memory_equal(whole, parts, (size_t)(m * n) * sizeof(float));
            }
        }
        free(bias);
        free(init);
        free(whole);
        free(parts);
        free(ap);
        free(bp);
        mat_free(&a);
        mat_free(&b);
    }
}

/* The igemm kernels against the contract of gemm.h, bit for bit: each element is the
 * chain start (C, bias or 0), then fmaf over taps in order and channels in order (a
 * masked lane: no term, or a*(+0) where the kernel says mask_adds_zero). B
 * comes from a buffer through per-vector bases, a channel stride and per-tap offsets
 * (some negative), as the phase path sets them up; C sits in a sentinel-filled buffer
 * whose row stride exceeds the tile, so writes outside rows [0, m) x columns
 * [0, 16*nv) show. */
static void test_igemm(void **state)
{
    (void)state;
    tconv_isa levels[4];
    const int nl = isa_levels(levels);
    tu_rng rng = tu_rng_seed(4242);
    int64_t kernels = 0;
    for (int kk = 0; kk < 3 * nl; kk++) {
        /* each level's kernels for A of 8, 4 and 3 rows (each kernel once) */
        static const int64_t rows[3] = {8, 4, 3};
        const tconv_isa isa = levels[kk / 3];
        const tconv_igemm_kernel *ik = tconv__igemm_kernel(isa, rows[kk % 3]);
        bool seen = false;
        for (int j = kk / 3 * 3; j < kk; j++)
            seen = seen || tconv__igemm_kernel(isa, rows[j % 3]) == ik;
        if (!ik || seen)
            continue;
        kernels++;
        assert_true(ik->nv >= 1 && ik->nv <= TCONV_IGEMM_MAX_NV);
        assert_true(ik->mr <= 8);
        if (kk % 3 == 0) /* the kernel for many rows: the GEMM's MR (one packing) */
            assert_int_equal(ik->mr, tconv__gemm_kernel(isa)->mr);
        const int64_t mr = ik->mr;
        for (int iter = 0; iter < 300; iter++) {
            /* two cases in ten one channel (one without masks, one with), whose stride
             * the kernel must not use: in every other such pair one (2^61 + 5 floats,
             * beyond 2^63 bytes) with which a pointer stepped by it wraps, which UBSan
             * reports (a view's unused stride may be anything) */
            const int64_t ch = iter % 10 < 2 ? 1 : tu_range(&rng, 1, 40);
            const int64_t ntaps = tu_range(&rng, 1, 9);
            const int64_t cs = tu_range(&rng, 48, 200), m = tu_range(&rng, 1, mr);
            const int nv = (int)tu_range(&rng, 1, ik->nv), mode = (int)tu_range(&rng, 0, 2);
            const int64_t ldc = 16 * nv + tu_range(&rng, 0, 9);
            /* B buffer: taps reach [-20, 20) around each vector, vectors up to 64 apart */
            const int64_t blen = 64 + TCONV_IGEMM_MAX_NV * 64 + ch * cs + 64;
            float *bbuf = malloc((size_t)blen * sizeof(float));
            float *a = malloc((size_t)(ntaps * ch * mr) * sizeof(float));
            float *c = malloc((size_t)(mr * ldc) * sizeof(float));
            float *init = malloc((size_t)(mr * ldc) * sizeof(float));
            float bias[16];
            int64_t off[9];
            assert_non_null(bbuf);
            assert_non_null(a);
            assert_non_null(c);
            assert_non_null(init);
            for (int64_t i = 0; i < blen; i++)
                bbuf[i] = tu_uniform(&rng);
            for (int64_t i = 0; i < ntaps * ch * mr; i++)
                a[i] = tu_uniform(&rng);
            for (int64_t i = 0; i < mr; i++)
                bias[i] = tu_uniform(&rng);
            for (int64_t t = 0; t < ntaps; t++)
                off[t] = tu_range(&rng, -20, 19);
            tconv_igemm_b b = {0};
            int64_t vstart[TCONV_IGEMM_MAX_NV];
            for (int v = 0; v < TCONV_IGEMM_MAX_NV; v++) {
                vstart[v] = 64 + v * 64 - tu_range(&rng, 0, 40);
                b.base[v] = (uintptr_t)bbuf + (uintptr_t)(vstart[v] * (int64_t)sizeof(float));
            }
            b.cs = ch == 1 && iter % 20 < 2 ? ((int64_t)1 << 61) + 5 : cs;
            b.ntaps = ntaps;
            b.off = off;
            /* every other case with lane masks (random, none, all), each vector's own
             * array: mask[v][t] at mask[v * 9 + t] */
            uint16_t mask[TCONV_IGEMM_MAX_NV * 9];
            const int masked = iter % 2;
            for (int64_t i = 0; i < TCONV_IGEMM_MAX_NV * 9; i++) {
                const int64_t kind = tu_range(&rng, 0, 5);
                mask[i] = kind == 0 ? 0 : kind == 1 ? 0xffff : (uint16_t)tu_range(&rng, 0, 65535);
            }
            for (int v = 0; v < TCONV_IGEMM_MAX_NV; v++)
                b.mask[v] = masked ? mask + v * 9 : NULL;
            /* channels in which every lane may be read (then the FMAs are masked), and
             * NaN in every float that only lanes a mask clears read: it must not reach
             * C (an unmasked FMA would spread it) */
            b.whole_lo = tu_range(&rng, 0, ch);
            b.whole_hi = tu_range(&rng, b.whole_lo, ch);
            if (masked) {
                char *on = calloc((size_t)blen, 1), *off_only = calloc((size_t)blen, 1);
                assert_non_null(on);
                assert_non_null(off_only);
                for (int v = 0; v < nv; v++)
                    for (int64_t t = 0; t < ntaps; t++)
                        for (int64_t k = 0; k < ch; k++)
                            for (int l = 0; l < 16; l++) {
                                const int64_t i = vstart[v] + k * cs + off[t] + l;
                                if (mask[v * 9 + t] >> l & 1)
                                    on[i] = 1;
                                else
                                    off_only[i] = 1;
                            }
                for (int64_t i = 0; i < blen; i++)
                    if (off_only[i] && !on[i])
                        bbuf[i] = NAN;
                free(on);
                free(off_only);
            }
            for (int64_t i = 0; i < mr * ldc; i++)
                init[i] = c[i] = sentinel();
            /* some chains start at -0, where adding a*(+0) and adding nothing differ
             * (a lane every tap's mask clears keeps -0 or may become +0): the model
             * holds each kernel to what its mask_adds_zero says */
            for (int64_t r = 0; r < m; r++)
                for (int64_t j = 0; j < 16 * nv; j++)
                    init[r * ldc + j] = c[r * ldc + j] =
                        (r + j) % 3 == 0 ? -0.0f : tu_uniform(&rng);
            const int accumulate = mode == 2;
            const float *bp = mode == 1 ? bias : NULL;
            /* every third case as the second phase of a column pair: C untouched, each
             * vector's rows interleaved with the first phase's (c0) into the output,
             * vectors apart and rows a stride apart, sentinels around them */
            const int pair = iter % 3 == 2;
            const int64_t ys = 16 * 2 * TCONV_IGEMM_MAX_NV + 40 + tu_range(&rng, 0, 7);
            float *c0 = malloc((size_t)(mr * ldc) * sizeof(float));
            float *y = malloc((size_t)(mr * ys) * sizeof(float));
            assert_non_null(c0);
            assert_non_null(y);
            for (int64_t i = 0; i < mr * ldc; i++)
                c0[i] = tu_uniform(&rng);
            for (int64_t i = 0; i < mr * ys; i++)
                y[i] = sentinel();
            if (pair) {
                b.pair_c0 = c0;
                b.pair_ldc = ldc;
                for (int v = 0; v < nv; v++)
                    b.pair_y[v] = y + 40 * v; /* 32 floats and 8 sentinels */
                b.pair_ys = ys;
            }
            ik->fn(ch, a, ch * mr, &b, nv, c, ldc, m, bp, accumulate);
            for (int64_t r = 0; r < mr; r++)
                for (int64_t j = 0; j < ldc; j++) {
                    const float got = c[r * ldc + j];
                    if (pair || r >= m || j >= 16 * nv) {
                        if (!same_bits(got, init[r * ldc + j]))
                            fail_msg("%s wrote outside the tile at (%lld, %lld)%s", ik->name,
                                     (long long)r, (long long)j, pair ? " (pair)" : "");
                        if (!pair)
                            continue;
                    }
                    if (r >= m || j >= 16 * nv)
                        continue;
                    float want = accumulate ? init[r * ldc + j] : bp ? bias[r] : 0.0f;
                    const int v = (int)(j / 16), l = (int)(j % 16);
                    for (int64_t t = 0; t < ntaps; t++) {
                        /* a lane a mask clears adds nothing (not even a*0), or a*(+0)
                         * for a kernel that says so (AVX2: B's lane zeroed) */
                        if (masked && !(mask[v * 9 + t] >> l & 1)) {
                            for (int64_t k = 0; ik->mask_adds_zero && k < ch; k++)
                                want = fmaf(a[t * ch * mr + k * mr + r], 0.0f, want);
                            continue;
                        }
                        for (int64_t k = 0; k < ch; k++)
                            want = fmaf(a[t * ch * mr + k * mr + r],
                                        bbuf[vstart[v] + k * cs + off[t] + l], want);
                    }
                    /* a pair: the first phase's value, then this one's */
                    const float *yo = y + r * ys + 40 * v + 2 * l;
                    if (pair && (!same_bits(yo[0], c0[r * ldc + j]) || !same_bits(yo[1], want)))
                        fail_msg("%s pair: (%lld, %lld) = %a %a, want %a %a", ik->name,
                                 (long long)r, (long long)j, (double)yo[0], (double)yo[1],
                                 (double)c0[r * ldc + j], (double)want);
                    if (!pair && !same_bits(got, want))
                        fail_msg("%s: (%lld, %lld) = %a, want %a (ch %lld taps %lld nv %d "
                                 "m %lld mode %d)",
                                 ik->name, (long long)r, (long long)j, (double)got,
                                 (double)want, (long long)ch, (long long)ntaps, nv,
                                 (long long)m, mode);
                }
            /* the output outside the pair's rows and vectors untouched */
            for (int64_t r = 0; r < mr; r++)
                for (int64_t i = 0; i < ys; i++) {
                    const bool in = pair && r < m && i % 40 < 32 && i / 40 < nv;
                    if (!in && !is_sentinel(y[r * ys + i]))
                        fail_msg("%s pair wrote outside the output rows at (%lld, %lld)",
                                 ik->name, (long long)r, (long long)i);
                }
            free(c0);
            free(y);
            free(bbuf);
            free(a);
            free(c);
            free(init);
        }
    }
    print_message("igemm kernels tested: %lld\n", (long long)kernels);
    assert_null(tconv__igemm_kernel(TCONV_ISA_SCALAR, 8));
    assert_null(tconv__igemm_kernel(TCONV_ISA_SCALAR, 4));
}

int main(void)
{
    tconv_isa levels[4];
    const int nl = isa_levels(levels);
    printf("# ISA levels tested:");
    for (int i = 0; i < nl; i++)
        printf(" %s", tconv_isa_name(levels[i]));
    printf(" (TCONV_ISA=%s)\n", getenv("TCONV_ISA") ? getenv("TCONV_ISA") : "");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kernel_table),     cmocka_unit_test(test_pack),
        cmocka_unit_test(test_ukernel_corners),  cmocka_unit_test(test_compute_empty),
        cmocka_unit_test(test_compute_edges),    cmocka_unit_test(test_compute_random),
        cmocka_unit_test(test_split_invariance), cmocka_unit_test(test_igemm),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
