/*
 * test_algos.c - every algorithm x every ISA level this machine has x thread counts
 * 1, 2, 3 agrees with the reference kernel, on randomized shapes covering every
 * parameter, in every layout, through one-shot calls and plans; results are
 * bit-identical across thread counts; the choice functions are pure and sensible.
 *
 * Tolerance: tu_check_close with factor 1, i.e. |alg - ref| <= 2*gamma(K+1)*S per
 * element (testutil.h derives it), checked on each algorithm and ISA's 1-thread
 * result; its 2- and 3-thread results and its plan's runs must give the same bits.
 * Set TCONV_TEST_SEED to replay another sequence and TCONV_TEST_CASES to change the
 * number of random problems.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "algo.h"
#include "gemm/gemm.h"
#include "lower/lower.h"
#include "thread/pool.h"
#include "testutil.h"

static const tconv_algorithm algos[] = {TCONV_ALGO_GEMM_COL2IM, TCONV_ALGO_PHASE_GEMM,
                                        TCONV_ALGO_DIRECT, TCONV_ALGO_AUTO};
#define NALGOS (sizeof algos / sizeof algos[0])

typedef tu_problem problem;

static uint64_t env_u64(const char *name, uint64_t dflt)
{
    const char *v = getenv(name);
    return v && *v ? strtoull(v, NULL, 10) : dflt;
}

/* A random legal problem; small enough that the reference is quick. */
static problem random_problem(tu_rng *r)
{
    problem pr;
    memset(&pr, 0, sizeof pr);
    pr.p = tconv_params_default();
    for (;;) {
        for (int d = 0; d < 2; d++) {
            pr.p.stride[d] = tu_range(r, 1, 4);
            pr.p.dilation[d] = tu_range(r, 1, 3);
            int64_t op_max = (pr.p.stride[d] > pr.p.dilation[d] ? pr.p.stride[d] : pr.p.dilation[d]) - 1;
            pr.p.output_padding[d] = tu_range(r, 0, op_max);
        }
        int64_t kh = tu_range(r, 1, 5), kw = tu_range(r, 1, 5);
        pr.p.padding[0] = tu_range(r, 0, pr.p.dilation[0] * (kh - 1) + 2);
        pr.p.padding[1] = tu_range(r, 0, pr.p.dilation[1] * (kw - 1) + 2);
        int kind = (int)tu_range(r, 0, 3);
        int64_t g = kind == 0 ? 1 : kind == 1 ? tu_range(r, 2, 4) : kind == 2 ? tu_range(r, 2, 16) : 1;
        int64_t cin_g = kind == 2 ? 1 : tu_range(r, 1, 24), cout_g = kind == 2 ? tu_range(r, 1, 2)
                                                                               : tu_range(r, 1, 40);
        pr.p.groups = g;
        int64_t n = tu_range(r, 0, 3), h = tu_range(r, 1, 9), w = tu_range(r, 1, 9);
        pr.rank = tu_range(r, 0, 5) == 0 ? 3 : 4;
        if (pr.rank == 3)
            n = 1;
        int64_t ho = (h - 1) * pr.p.stride[0] - 2 * pr.p.padding[0] + pr.p.dilation[0] * (kh - 1) +
                     pr.p.output_padding[0] + 1;
        int64_t wo = (w - 1) * pr.p.stride[1] - 2 * pr.p.padding[1] + pr.p.dilation[1] * (kw - 1) +
                     pr.p.output_padding[1] + 1;
        if (ho < 1 || wo < 1)
            continue;
        int64_t xs[4] = {n, cin_g * g, h, w}, ws[4] = {cin_g * g, cout_g, kh, kw},
                ys[4] = {n, cout_g * g, ho, wo};
        int off = pr.rank == 4 ? 0 : 1;
        for (int d = 0; d < pr.rank; d++) {
            pr.xshape[d] = xs[d + off];
            pr.yshape[d] = ys[d + off];
        }
        memcpy(pr.wshape, ws, sizeof ws);
        pr.bias = tu_range(r, 0, 1);
        return pr;
    }
}

static void describe(const problem *pr, char *buf, size_t len)
{
    const tconv_params *p = &pr->p;
    snprintf(buf, len,
             "x(%lld,%lld,%lld,%lld rank %d) w(%lld,%lld,%lld,%lld) stride(%lld,%lld) "
             "pad(%lld,%lld) outpad(%lld,%lld) dil(%lld,%lld) groups %lld bias %d",
             (long long)pr->xshape[0], (long long)pr->xshape[1], (long long)pr->xshape[2],
             (long long)pr->xshape[3], pr->rank, (long long)pr->wshape[0],
             (long long)pr->wshape[1], (long long)pr->wshape[2], (long long)pr->wshape[3],
             (long long)p->stride[0], (long long)p->stride[1], (long long)p->padding[0],
             (long long)p->padding[1], (long long)p->output_padding[0],
             (long long)p->output_padding[1], (long long)p->dilation[0],
             (long long)p->dilation[1], (long long)p->groups, (int)pr->bias);
}

/* Runs one problem through every algorithm, ISA, thread count and the plan path: the
 * 1-thread result against the reference, the others bit for bit against it. The
 * weight's layout cycles through the four from one call to the next (the packers and
 * the plan's private copy read any view). */
static void check_problem(const problem *pr, tu_rng *r, tu_layout xl, tu_layout yl)
{
    static unsigned calls;
    const tu_layout wl = (tu_layout)(calls++ % 4);
    char what[512], msg[512];
    describe(pr, what, sizeof what);
    const size_t used = strlen(what);
    snprintf(what + used, sizeof what - used, " layouts x %d w %d y %d", (int)xl, (int)wl,
             (int)yl);
    tu_tensor x = tu_tensor_new(pr->rank, pr->xshape, xl, r, 0);
    tu_tensor w = tu_tensor_new(4, pr->wshape, wl, r, 0);
    int64_t cout = pr->wshape[1] * pr->p.groups;
    tu_tensor b = tu_tensor_new(1, &cout, TU_CONTIGUOUS, r, 0);
    tu_tensor ref = tu_tensor_new(pr->rank, pr->yshape, TU_CONTIGUOUS, NULL, 0);
    const tconv_tensor *bp = pr->bias ? &b.t : NULL;

    tconv_exec e = tconv_exec_default();
    e.algorithm = TCONV_ALGO_REFERENCE;
    tconv_status st = tconv_convtranspose2d_ex(&pr->p, &x.t, &w.t, bp, &ref.t, &e, NULL);
    if (st != TCONV_OK)
        fail_msg("reference failed on %s: %s", what, tconv_last_error_message());

    /* the bound of the 1-thread checks below, computed once for all of them */
    tu_bound bound = tu_bound_new(&pr->p, &x.t, &w.t, bp);
    const tconv_isa top = tconv_isa_detected();
    for (size_t ai = 0; ai < NALGOS; ai++)
        for (int isa = TCONV_ISA_SCALAR; isa <= (int)top; isa++) {
            tu_tensor first = tu_tensor_new(pr->rank, pr->yshape, yl, NULL, 0);
            for (int threads = 1; threads <= 3; threads++) {
                tu_tensor y = tu_tensor_new(pr->rank, pr->yshape, yl, NULL, -7.0f);
                e = tconv_exec_default();
                e.algorithm = algos[ai];
                e.isa = isa;
                e.num_threads = threads;
                tconv_report rep;
                st = tconv_convtranspose2d_ex(&pr->p, &x.t, &w.t, bp, &y.t, &e, &rep);
                if (st != TCONV_OK)
                    fail_msg("%s/%s/%dT failed on %s: %s", tconv_algorithm_name(algos[ai]),
                             tconv_isa_name(isa), threads, what, tconv_last_error_message());
                /* 1 thread: the reference's value within the rigorous bound; more
                 * threads: bit-identical to it (so the same bound holds) */
                if (threads == 1) {
                    if (!tu_check_close_bound(&bound, &y.t, &ref.t, 1.0, msg, sizeof msg))
                        fail_msg("%s/%s/1T differs from the reference on %s: %s",
                                 tconv_algorithm_name(rep.algorithm), tconv_isa_name(isa), what,
                                 msg);
                    memcpy(first.buf, y.buf, y.buf_len * sizeof(float));
                } else if (memcmp(first.buf, y.buf, y.buf_len * sizeof(float)) != 0) {
                    fail_msg("%s/%s: %d threads not bit-identical to 1 thread on %s",
                             tconv_algorithm_name(rep.algorithm), tconv_isa_name(isa), threads,
                             what);
                }
                /* cropped views: the gaps of the buffer keep their fill */
                if (yl == TU_CROPPED) {
                    int64_t inside = tu_numel(&y.t), untouched = 0;
                    for (size_t i = 0; i < y.buf_len; i++)
                        untouched += y.buf[i] == -7.0f;
                    assert_true(untouched >= (int64_t)y.buf_len - inside);
                }
                tu_tensor_free(&y);
            }
            /* the plan path with the same choice, twice (packed weights reused): the
             * same machinery as the one-shot call, so the same bits */
            tconv_plan *plan = NULL;
            e = tconv_exec_default();
            e.algorithm = algos[ai];
            e.isa = isa;
            st = tconv_plan_create(&plan, &pr->p, &x.t, &w.t, bp, &e);
            if (st != TCONV_OK)
                fail_msg("plan %s/%s failed on %s: %s", tconv_algorithm_name(algos[ai]),
                         tconv_isa_name(isa), what, tconv_last_error_message());
            for (int rep = 0; rep < 2; rep++) {
                /* the second run on the first N-1 images: fewer than planned */
                const bool fewer = rep == 1 && pr->rank == 4 && pr->xshape[0] > 1;
                tu_tensor y = tu_tensor_new(pr->rank, pr->yshape, yl, NULL, -7.0f);
                tconv_tensor xv = x.t, yv = y.t, fv = first.t;
                xv.shape[0] -= fewer;
                yv.shape[0] -= fewer;
                fv.shape[0] -= fewer;
                tconv_exec re = tconv_exec_default();
                re.num_threads = 2;
                st = tconv_plan_run(plan, &xv, &yv, &re, NULL);
                if (st != TCONV_OK)
                    fail_msg("plan run failed on %s: %s", what, tconv_last_error_message());
                if (!tu_same_bits(&yv, &fv, msg, sizeof msg))
                    fail_msg("plan %s/%s differs from the one-shot call on %s%s: %s",
                             tconv_algorithm_name(algos[ai]), tconv_isa_name(isa), what,
                             fewer ? " (one image fewer)" : "", msg);
                if (fewer) { /* the last image is not the run's: untouched */
                    int64_t untouched = 0;
                    for (size_t i = 0; i < y.buf_len; i++)
                        untouched += y.buf[i] == -7.0f;
                    assert_true(untouched >= tu_numel(&y.t) / pr->yshape[0]);
                }
                tu_tensor_free(&y);
            }
            tconv_plan_destroy(plan);
            tu_tensor_free(&first);
        }
    tu_bound_free(&bound);
    tu_tensor_free(&x);
    tu_tensor_free(&w);
    tu_tensor_free(&b);
    tu_tensor_free(&ref);
}

static void test_random_problems(void **state)
{
    (void)state;
    uint64_t seed = env_u64("TCONV_TEST_SEED", 20261126);
    uint64_t cases = env_u64("TCONV_TEST_CASES", 150);
    print_message("seed %llu, %llu cases\n", (unsigned long long)seed, (unsigned long long)cases);
    tu_rng r = tu_rng_seed(seed);
    for (uint64_t i = 0; i < cases; i++) {
        problem pr = random_problem(&r);
        tu_layout xl = (tu_layout)tu_range(&r, 0, TU_LAYOUT_COUNT - 1);
        tu_layout yl = (tu_layout)tu_range(&r, 0, TU_LAYOUT_COUNT - 1);
        check_problem(&pr, &r, xl, yl);
    }
}

/* Shapes whose GEMMs cross the micro-kernel tile edges (M, N, K around MR, NR, kc)
 * and the column tiles, plus the layer shapes of the benchmark scaled down. */
static void test_edge_shapes(void **state)
{
    (void)state;
    static const int64_t cases[][12] = {
        /* N Cin H W Cout k stride pad outpad groups dil  */
        {1, 1, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0},
        {2, 13, 5, 7, 11, 3, 1, 1, 0, 1, 1, 0},
        {1, 33, 9, 9, 31, 4, 2, 1, 0, 1, 1, 0},
        {3, 64, 4, 4, 33, 4, 2, 1, 0, 1, 1, 0},
        {1, 300, 3, 3, 13, 2, 2, 0, 0, 1, 1, 0},   /* K above typical kc */
        {1, 17, 40, 35, 5, 3, 2, 1, 1, 1, 1, 0},  /* many column tiles */
        {4, 100, 1, 1, 24, 4, 1, 0, 0, 1, 1, 0},  /* dcgan1-like: col2im territory */
        {300, 6, 1, 1, 9, 3, 2, 0, 0, 3, 1, 0},   /* 1x1 input, groups: col2im's GEMM of
                                                   * images x taps, two row blocks */
        {2, 5, 1, 1, 4, 3, 1, 1, 0, 1, 1, 0},     /* 1x1 input with padding: not that */
        {1, 21, 16, 16, 21, 4, 2, 1, 0, 1, 1, 0}, /* fcn_up */
        {1, 16, 12, 12, 16, 4, 2, 1, 0, 16, 1, 0}, /* depthwise k4s2 */
        {2, 32, 7, 9, 32, 3, 2, 1, 1, 4, 1, 0},   /* grp4-like */
        {1, 8, 6, 6, 12, 3, 3, 4, 2, 2, 2, 0},    /* big padding, dilation */
        {1, 6, 5, 5, 7, 2, 4, 0, 3, 1, 1, 0},     /* kernel smaller than stride */
        {5, 16, 10, 10, 16, 3, 1, 1, 0, 1, 1, 0}, /* s1_k3-like */
        {2, 8, 20, 33, 24, 4, 2, 1, 0, 1, 1, 0},  /* rows wider than a vector, odd width */
        {2, 16, 6, 7, 3, 4, 2, 1, 0, 1, 1, 0},    /* dcgan5-like: AUTO takes the 4-row igemm */
        {1, 2, 3, 2, 9000, 2, 2, 0, 0, 1, 1, 0},  /* so many output channels that the
                                                   * packed feed's column tile is one
                                                   * panel at every ISA */
        {1, 2, 2, 3, 3, 23, 1, 0, 0, 1, 1, 0},    /* 529 taps: col2im's blocks of output
                                                   * channels hold one, below its target */
        {1, 1, 1, 2, 2, 33, 1, 0, 0, 1, 1, 0},    /* 33 columns of taps: wider than the
                                                   * direct row kernels take (their
                                                   * per-element fallback) */
    };
    tu_rng r = tu_rng_seed(7);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const problem pr = tu_case_problem(cases[i]);
        check_problem(&pr, &r, TU_CONTIGUOUS, TU_CONTIGUOUS);
        check_problem(&pr, &r, TU_CHANNELS_LAST, TU_CHANNELS_LAST);
    }
}

/* Rows the direct kernels cut in unusual ways, in every layout (reversed rows are staged
 * by the NCHW kernels, written back a chunk of columns at a time). */
static void test_direct_row_edges(void **state)
{
    (void)state;
    static const int64_t cases[][12] = {
        /* N Cin H W Cout k stride pad outpad groups dil  */
        {1, 2, 3, 40, 2, 3, 1, 0, 0, 2, 40, 0}, /* dilation 40: a row's edge blocks (some
                                                 * tap outside the input) more than the
                                                 * kernels keep masks for */
        {1, 2, 2, 400, 2, 1, 3, 0, 0, 2, 1, 0}, /* k1s3, 1198 columns: the second staged
                                                 * chunk starts in a phase without taps */
    };
    tu_rng r = tu_rng_seed(8);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const problem pr = tu_case_problem(cases[i]);
        check_problem(&pr, &r, TU_CONTIGUOUS, TU_CONTIGUOUS);
        check_problem(&pr, &r, TU_CHANNELS_LAST, TU_CHANNELS_LAST);
        check_problem(&pr, &r, TU_CONTIGUOUS, TU_REVERSED);
    }
}

/* gemm_col2im's 1x1 case writes an output whose channels and taps lie at one stride
 * directly, that stride not 1 too (every other float here): the same bits as into a
 * dense output, the floats between untouched. */
static void test_col2im_1x1_strided_output(void **state)
{
    (void)state;
    static const int64_t c[12] = {3, 4, 1, 1, 5, 3, 2, 0, 0, 1, 1, 0};
    const tu_problem pr = tu_case_problem(c);
    tu_rng r = tu_rng_seed(9);
    tu_tensor x = tu_tensor_new(4, pr.xshape, TU_CONTIGUOUS, &r, 0);
    tu_tensor w = tu_tensor_new(4, pr.wshape, TU_CONTIGUOUS, &r, 0);
    const int64_t bshape[1] = {pr.yshape[1]};
    tu_tensor b = tu_tensor_new(1, bshape, TU_CONTIGUOUS, &r, 0);
    tu_tensor dense = tu_tensor_new(4, pr.yshape, TU_CONTIGUOUS, NULL, 0);
    const int64_t *ys = pr.yshape, len = 2 * ys[0] * ys[1] * ys[2] * ys[3];
    float *buf = malloc((size_t)len * sizeof(float));
    assert_non_null(buf);
    for (int64_t i = 0; i < len; i++)
        buf[i] = -7.0f;
    tconv_tensor every_other = tconv_tensor_nchw(buf, ys[0], ys[1], ys[2], ys[3]);
    for (int d = 0; d < 4; d++)
        every_other.stride[d] *= 2;
    for (int isa = TCONV_ISA_SCALAR; isa <= (int)tconv_isa_detected(); isa++) {
        tconv_exec e = tconv_exec_default();
        e.algorithm = TCONV_ALGO_GEMM_COL2IM;
        e.isa = isa;
        tconv_report rep;
        assert_int_equal(tconv_convtranspose2d_ex(&pr.p, &x.t, &w.t, &b.t, &dense.t, &e, &rep),
                         TCONV_OK);
        assert_int_equal(
            tconv_convtranspose2d_ex(&pr.p, &x.t, &w.t, &b.t, &every_other, &e, &rep), TCONV_OK);
        char msg[256];
        if (!tu_same_bits(&every_other, &dense.t, msg, sizeof msg))
            fail_msg("%s: %s", tconv_isa_name(isa), msg);
        for (int64_t i = 1; i < len; i += 2)
            assert_true(buf[i] == -7.0f);
    }
    /* and the result is the layer's (the dense one, as the last ISA wrote it): within
     * the rigorous bound of the exact result */
    char msg[256];
    if (!tu_check_exact(&pr.p, &x.t, &w.t, &b.t, &dense.t, 1.0, msg, sizeof msg))
        fail_msg("against the exact result: %s", msg);
    free(buf);
    tu_tensor_free(&x);
    tu_tensor_free(&w);
    tu_tensor_free(&b);
    tu_tensor_free(&dense);
}

/* The direct feed cuts its work into tiles three ways (test_direct_tiles checks
 * which way each of these shapes takes and which read in place); with contiguous input
 * rows the first three, the sixth and seventh read it in place (lane masks at the
 * borders), in the other layouts each tile copies the part of the input it reads, halo
 * rows included: flat (the input's pitch, the same lane masks) but for the phase wider
 * than the input (zero-padded rows); the eighth copies flat with contiguous rows too
 * (45 KiB a group's image: not read in place). The last two have more output channels
 * than one pass of the direct tile computes (64 rows, AVX2 60): two passes, the second
 * shorter, read in place or copied. */
static void test_direct_tile_shapes(void **state)
{
    (void)state;
    static const int64_t cases[][12] = {
        /* N Cin H W Cout k stride pad outpad groups dil  */
        {67, 4, 4, 4, 8, 2, 2, 0, 0, 1, 1, 0},   /* several images per tile, a short last */
        {1, 16, 13, 37, 16, 3, 2, 1, 1, 1, 1, 0}, /* runs of one image's vectors, halo rows */
        {1, 16, 13, 19, 16, 3, 1, 2, 0, 1, 2, 0}, /* the same, stride 1, dilation 2 */
        {1, 512, 1, 100, 8, 3, 1, 1, 0, 1, 1, 0}, /* no vector group fits the budget: packed */
        {3, 8, 9, 11, 16, 5, 1, 0, 0, 1, 1, 0},   /* phase wider than the input: copies */
        {2, 8, 10, 20, 16, 3, 1, 3, 0, 1, 2, 0},  /* in place, taps reach 3 beyond the input */
        {2, 3, 7, 5, 16, 4, 3, 3, 1, 1, 2, 0},    /* in place, stride 3, some lanes spare */
        {2, 45, 16, 16, 16, 3, 2, 1, 1, 1, 1, 0}, /* copied flat, taps above and below */
        {1, 16, 8, 16, 72, 4, 2, 1, 0, 1, 1, 0},  /* passes of 64 + 8 rows, column pairs */
        {2, 16, 9, 20, 68, 3, 1, 1, 0, 1, 1, 0},  /* 64 + 4 rows, a half panel; igemm to y */
    };
    tu_rng r = tu_rng_seed(11);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const problem pr = tu_case_problem(cases[i]);
        check_problem(&pr, &r, TU_CONTIGUOUS, TU_CONTIGUOUS);
        check_problem(&pr, &r, TU_CHANNELS_LAST, TU_CROPPED);
    }
}

/* The direct feed reads B in place or from a copy, depending only on the input's
 * strides; both multiply the same values in the same order (the copy is flat: the
 * same lanes, the same masks), so an input with contiguous rows and the same values
 * in a cropped view (rows not contiguous: copies) give bit-identical outputs, at 1
 * and 2 threads, for each ISA level with an igemm kernel (AVX2, AVX-512). Shapes that
 * read in place, with AVX-512's 8-row and 4-row kernels (AVX2's 6-row and 3-row ones),
 * each also within the reference's bound; the last one's packed weights are split
 * into row blocks when read in place (not when copied), which changes no sum. */
static void inplace_matches_copy(tconv_isa isa)
{
    static const int64_t cases[][12] = {
        /* N Cin H W Cout k stride pad outpad groups dil  */
        {1, 16, 8, 8, 16, 3, 1, 1, 0, 1, 1, 0},   /* small_b1 */
        {1, 21, 16, 16, 21, 4, 2, 1, 0, 1, 1, 0}, /* fcn_up */
        {67, 4, 4, 4, 8, 2, 2, 0, 0, 1, 1, 0},    /* several images per tile */
        {2, 8, 10, 20, 16, 3, 1, 3, 0, 1, 2, 0},  /* taps 3 beyond the input */
        {2, 3, 7, 5, 16, 4, 3, 3, 1, 1, 2, 0},    /* stride 3, spare lanes */
        {2, 16, 6, 7, 3, 4, 2, 1, 0, 1, 1, 0},    /* the 4-row kernel */
        {2, 32, 9, 9, 32, 3, 2, 1, 1, 4, 1, 0},   /* groups */
        {1, 512, 4, 4, 72, 4, 2, 1, 0, 1, 1, 0},  /* A 2.4 MB: row blocks of 32 (MR 6: 30); last */
    };
    tu_rng r = tu_rng_seed(17);
    char msg[512];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const problem pr = tu_case_problem(cases[i]);
        tu_tensor x = tu_tensor_new(4, pr.xshape, TU_CONTIGUOUS, &r, 0);
        tu_tensor xc = tu_tensor_new(4, pr.xshape, TU_CROPPED, NULL, 0);
        tu_tensor w = tu_tensor_new(4, pr.wshape, TU_CONTIGUOUS, &r, 0);
        const int64_t cout = pr.wshape[1] * pr.p.groups;
        tu_tensor b = tu_tensor_new(1, &cout, TU_CONTIGUOUS, &r, 0);
        tu_copy_values(&xc.t, &x.t);
        tconv_problem pb, pbc;
        tu_tensor y0 = tu_tensor_new(4, pr.yshape, TU_CONTIGUOUS, NULL, 0);
        assert_int_equal(
            tconv__build_problem(&pr.p, &x.t, &w.t, &b.t, &y0.t, TCONV_CHECK_ALL, &pb), TCONV_OK);
        assert_int_equal(
            tconv__build_problem(&pr.p, &xc.t, &w.t, &b.t, &y0.t, TCONV_CHECK_ALL, &pbc), TCONV_OK);
        assert_true(tconv__phase_direct_inplace(&pb.s, isa));
        /* the two calls really take the two sources */
        assert_true(tconv__phase_call_inplace(&pb, isa));
        assert_false(tconv__phase_call_inplace(&pbc, isa));
        /* row blocks only in place, and only for the large weights */
        const int64_t rows = tconv__phase_block_rows(&pb, isa);
        assert_int_equal(tconv__phase_block_rows(&pbc, isa), pb.s.cout_g);
        const bool blocks = i + 1 == sizeof cases / sizeof cases[0];
        const int64_t mr = tconv__igemm_kernel(isa, pb.s.cout_g)->mr;
        assert_int_equal(rows, blocks ? 32 / mr * mr : pb.s.cout_g);
        tconv_exec re = tconv_exec_default();
        re.algorithm = TCONV_ALGO_REFERENCE;
        assert_int_equal(tconv_convtranspose2d_ex(&pr.p, &x.t, &w.t, &b.t, &y0.t, &re, NULL),
                         TCONV_OK);
        tu_tensor one = tu_tensor_new(4, pr.yshape, TU_CONTIGUOUS, NULL, 0);
        for (int threads = 1; threads <= 2; threads++) {
            tu_tensor y1 = tu_tensor_new(4, pr.yshape, TU_CONTIGUOUS, NULL, 0);
            tu_tensor y2 = tu_tensor_new(4, pr.yshape, TU_CONTIGUOUS, NULL, 0);
            tconv_exec e = tconv_exec_default();
            e.algorithm = TCONV_ALGO_PHASE_GEMM;
            e.isa = isa;
            e.num_threads = threads;
            assert_int_equal(tconv_convtranspose2d_ex(&pr.p, &x.t, &w.t, &b.t, &y1.t, &e, NULL),
                             TCONV_OK);
            assert_int_equal(tconv_convtranspose2d_ex(&pr.p, &xc.t, &w.t, &b.t, &y2.t, &e, NULL),
                             TCONV_OK);
            if (!tu_same_bits(&y1.t, &y2.t, msg, sizeof msg))
                fail_msg("%s case %zu, %d threads: in place and copied differ: %s",
                         tconv_isa_name(isa), i, threads, msg);
            /* 1 thread: both within the reference's bound; 2: the same bits */
            if (threads == 1 &&
                (!tu_check_close(&pr.p, &x.t, &w.t, &b.t, &y1.t, &y0.t, 1.0, msg, sizeof msg) ||
                 !tu_check_close(&pr.p, &xc.t, &w.t, &b.t, &y2.t, &y0.t, 1.0, msg, sizeof msg)))
                fail_msg("%s case %zu: %s", tconv_isa_name(isa), i, msg);
            if (threads == 1)
                memcpy(one.buf, y1.buf, one.buf_len * sizeof(float));
            else if (!tu_same_bits(&y1.t, &one.t, msg, sizeof msg))
                fail_msg("%s case %zu: 2 threads differ from 1: %s", tconv_isa_name(isa), i,
                         msg);
            tu_tensor_free(&y1);
            tu_tensor_free(&y2);
        }
        tu_tensor_free(&one);
        tu_tensor_free(&y0);
        tu_tensor_free(&x);
        tu_tensor_free(&xc);
        tu_tensor_free(&w);
        tu_tensor_free(&b);
    }
}

static void test_inplace_matches_copy(void **state)
{
    (void)state;
    int levels = 0;
    for (int isa = TCONV_ISA_AVX2; isa <= (int)tconv_isa_detected(); isa++)
        if (tconv__igemm_kernel((tconv_isa)isa, 8)) {
            inplace_matches_copy((tconv_isa)isa);
            levels++;
        }
    print_message("igemm levels: %d\n", levels);
    if (levels == 0)
        skip();
}

/* Which way the shapes of test_direct_tile_shapes cut their direct tiles (AVX-512
 * builds: the only igemm), so that they keep testing what they say. */
static void test_direct_tiles(void **state)
{
    (void)state;
    if (!tconv__igemm_kernel(TCONV_ISA_AVX512, 8))
        skip();
    int64_t imgs, per_img, per_tile;
    tconv_shape s = {.n = 67, .cin = 4, .h = 4, .w = 4, .cout = 8, .kh = 2, .kw = 2,
                     .hout = 8, .wout = 8, .groups = 1, .cin_g = 4, .cout_g = 8,
                     .sh = 2, .sw = 2, .dh = 1, .dw = 1};
    tconv__phase_direct_tiles(&s, TCONV_ISA_AVX512, &imgs, &per_img, &per_tile);
    assert_true(imgs > 1 && per_img == 1);
    assert_true(tconv__phase_direct_inplace(&s, TCONV_ISA_AVX512));
    s = (tconv_shape){.n = 1, .cin = 16, .h = 13, .w = 37, .cout = 16, .kh = 3, .kw = 3,
                      .hout = 26, .wout = 74, .groups = 1, .cin_g = 16, .cout_g = 16,
                      .sh = 2, .sw = 2, .ph = 1, .pw = 1, .dh = 1, .dw = 1};
    tconv__phase_direct_tiles(&s, TCONV_ISA_AVX512, &imgs, &per_img, &per_tile);
    assert_true(imgs == 1 && per_img > 1);
    assert_true(tconv__phase_direct_inplace(&s, TCONV_ISA_AVX512));
    s = (tconv_shape){.n = 1, .cin = 16, .h = 13, .w = 19, .cout = 16, .kh = 3, .kw = 3,
                      .hout = 13, .wout = 19, .groups = 1, .cin_g = 16, .cout_g = 16,
                      .sh = 1, .sw = 1, .ph = 2, .pw = 2, .dh = 2, .dw = 2};
    tconv__phase_direct_tiles(&s, TCONV_ISA_AVX512, &imgs, &per_img, &per_tile);
    assert_true(imgs == 1 && per_img > 1);
    assert_true(tconv__phase_direct_inplace(&s, TCONV_ISA_AVX512));
    /* a phase wider than the input (k5, no padding): copies */
    s = (tconv_shape){.n = 3, .cin = 8, .h = 9, .w = 11, .cout = 16, .kh = 5, .kw = 5,
                      .hout = 13, .wout = 15, .groups = 1, .cin_g = 8, .cout_g = 16,
                      .sh = 1, .sw = 1, .dh = 1, .dw = 1};
    tconv__phase_direct_tiles(&s, TCONV_ISA_AVX512, &imgs, &per_img, &per_tile);
    assert_true(imgs >= 1);
    assert_false(tconv__phase_direct_inplace(&s, TCONV_ISA_AVX512));
    assert_false(tconv__phase_copies_flat(&s, TCONV_ISA_AVX512)); /* zero-padded */
    /* the two rows of test_direct_tile_shapes before its last: in place */
    s = (tconv_shape){.n = 2, .cin = 8, .h = 10, .w = 20, .cout = 16, .kh = 3, .kw = 3,
                      .hout = 8, .wout = 18, .groups = 1, .cin_g = 8, .cout_g = 16,
                      .sh = 1, .sw = 1, .ph = 3, .pw = 3, .dh = 2, .dw = 2};
    assert_true(tconv__phase_direct_inplace(&s, TCONV_ISA_AVX512));
    s = (tconv_shape){.n = 2, .cin = 3, .h = 7, .w = 5, .cout = 16, .kh = 4, .kw = 4,
                      .hout = 20, .wout = 14, .groups = 1, .cin_g = 3, .cout_g = 16,
                      .sh = 3, .sw = 3, .ph = 3, .pw = 3, .oph = 1, .opw = 1,
                      .dh = 2, .dw = 2};
    assert_true(tconv__phase_direct_inplace(&s, TCONV_ISA_AVX512));
    s = (tconv_shape){.n = 2, .cin = 45, .h = 16, .w = 16, .cout = 16, .kh = 3, .kw = 3,
                      .hout = 32, .wout = 32, .groups = 1, .cin_g = 45, .cout_g = 16,
                      .sh = 2, .sw = 2, .ph = 1, .pw = 1, .oph = 1, .opw = 1,
                      .dh = 1, .dw = 1};
    assert_false(tconv__phase_direct_inplace(&s, TCONV_ISA_AVX512));
    assert_true(tconv__phase_copies_flat(&s, TCONV_ISA_AVX512));
    /* dcgan3-like images (8x8, 129 channels: 33 KiB a group's image, more than the
     * 32 KiB that are read in place): each tile copies its part of the input, flat, and
     * every phase is fed directly whatever the layout (the copy's lanes are those of
     * the input in place). One AUTO call each way against the reference (the matrix
     * of check_problem would cost a minute here, and more under valgrind). */
    s = (tconv_shape){.n = 1, .cin = 129, .h = 8, .w = 8, .cout = 33, .kh = 4, .kw = 4,
                      .hout = 16, .wout = 16, .groups = 1, .cin_g = 129, .cout_g = 33,
                      .sh = 2, .sw = 2, .ph = 1, .pw = 1, .dh = 1, .dw = 1};
    assert_false(tconv__phase_direct_inplace(&s, TCONV_ISA_AVX512));
    assert_true(tconv__phase_copies_flat(&s, TCONV_ISA_AVX512));
    assert_true(tconv__phase_direct_only(&s, TCONV_ISA_AVX512));
    if (tconv_isa_detected() >= TCONV_ISA_AVX512) {
        static const int64_t c[12] = {1, 129, 8, 8, 33, 4, 2, 1, 0, 1, 1, 0};
        const problem pr = tu_case_problem(c);
        tu_rng r = tu_rng_seed(23);
        tu_tensor x = tu_tensor_new(4, pr.xshape, TU_CONTIGUOUS, &r, 0);
        tu_tensor w = tu_tensor_new(4, pr.wshape, TU_CONTIGUOUS, &r, 0);
        const int64_t cout = 33;
        tu_tensor b = tu_tensor_new(1, &cout, TU_CONTIGUOUS, &r, 0);
        tu_tensor ref = tu_tensor_new(4, pr.yshape, TU_CONTIGUOUS, NULL, 0);
        tconv_exec e = tconv_exec_default();
        e.algorithm = TCONV_ALGO_REFERENCE;
        assert_int_equal(tconv_convtranspose2d_ex(&pr.p, &x.t, &w.t, &b.t, &ref.t, &e, NULL),
                         TCONV_OK);
        char msg[512];
        for (int layout = 0; layout < 2; layout++) { /* rows whole; channels last */
            const tu_layout l = layout ? TU_CHANNELS_LAST : TU_CONTIGUOUS;
            tu_tensor xl = tu_tensor_new(4, pr.xshape, l, NULL, 0);
            tu_copy_values(&xl.t, &x.t);
            for (int threads = 1; threads <= 2; threads++) {
                tu_tensor y = tu_tensor_new(4, pr.yshape, l, NULL, -7.0f);
                e = tconv_exec_default();
                e.num_threads = threads;
                tconv_report rep;
                assert_int_equal(
                    tconv_convtranspose2d_ex(&pr.p, &xl.t, &w.t, &b.t, &y.t, &e, &rep), TCONV_OK);
                assert_int_equal(rep.algorithm, TCONV_ALGO_PHASE_GEMM);
                if (!tu_check_close(&pr.p, &xl.t, &w.t, &b.t, &y.t, &ref.t, 1.0, msg, sizeof msg))
                    fail_msg("dcgan3-like, layout %d, %d threads: %s", layout, threads, msg);
                tu_tensor_free(&y);
            }
            tu_tensor_free(&xl);
        }
        tu_tensor_free(&x);
        tu_tensor_free(&w);
        tu_tensor_free(&b);
        tu_tensor_free(&ref);
    }
    /* 100 vectors per image, 32 units: 6 vectors per tile (two igemm columns), 17 tiles;
     * with 2048 channels the copy's budget holds 3 (64 floats per channel): 34 tiles.
     * (Too big to run here; the cut only changes the run length, which the shapes
     * above exercise.) */
    s = (tconv_shape){.n = 1, .cin = 64, .h = 8, .w = 200, .cout = 8, .kh = 2, .kw = 2,
                      .hout = 16, .wout = 400, .groups = 1, .cin_g = 64, .cout_g = 8,
                      .sh = 2, .sw = 2, .dh = 1, .dw = 1};
    tconv__phase_direct_tiles(&s, TCONV_ISA_AVX512, &imgs, &per_img, &per_tile);
    assert_true(imgs == 1 && per_img == 17 && per_tile == 6);
    assert_false(tconv__phase_direct_inplace(&s, TCONV_ISA_AVX512)); /* 400 KB of input */
    assert_true(tconv__phase_copies_flat(&s, TCONV_ISA_AVX512));
    s.cin = s.cin_g = 2048;
    tconv__phase_direct_tiles(&s, TCONV_ISA_AVX512, &imgs, &per_img, &per_tile);
    assert_true(imgs == 1 && per_img == 34 && per_tile == 3);
    /* small_b1: 4 vectors (8x8 points), 32 units wanted: runs of one igemm column,
     * 3 + 1 (2 + 2 ran 1.08-1.11x slower at 1 thread: docs/PERFORMANCE.md, Tiny layers) */
    s = (tconv_shape){.n = 1, .cin = 16, .h = 8, .w = 8, .cout = 16, .kh = 3, .kw = 3,
                      .hout = 8, .wout = 8, .groups = 1, .cin_g = 16, .cout_g = 16,
                      .sh = 1, .sw = 1, .ph = 1, .pw = 1, .dh = 1, .dw = 1};
    tconv__phase_direct_tiles(&s, TCONV_ISA_AVX512, &imgs, &per_img, &per_tile);
    assert_true(imgs == 1 && per_img == 2 && per_tile == 3);
    assert_true(tconv__phase_direct_inplace(&s, TCONV_ISA_AVX512));
    s = (tconv_shape){.n = 1, .cin = 512, .h = 1, .w = 100, .cout = 8, .kh = 3, .kw = 3,
                      .hout = 1, .wout = 100, .groups = 1, .cin_g = 512, .cout_g = 8,
                      .sh = 1, .sw = 1, .ph = 1, .pw = 1, .dh = 1, .dw = 1};
    tconv__phase_direct_tiles(&s, TCONV_ISA_AVX512, &imgs, &per_img, &per_tile);
    assert_true(imgs == 0 && per_img == 0);
    s.cin = s.cin_g = 64;
    tconv__phase_direct_tiles(&s, TCONV_ISA_AVX512, &imgs, &per_img, &per_tile);
    assert_true(imgs == 1);
}

/* The algorithm choice is a pure function of the shape and picks the intended path
 * for the benchmark's layer types. */
static void test_select(void **state)
{
    (void)state;
    tconv_shape s;
    memset(&s, 0, sizeof s);
    const char *why = NULL;
    /* dcgan3-like: phases */
    s = (tconv_shape){.n = 64, .cin = 256, .h = 8, .w = 8, .cout = 128, .kh = 4, .kw = 4,
                      .hout = 16, .wout = 16, .groups = 1, .cin_g = 256, .cout_g = 128,
                      .sh = 2, .sw = 2, .ph = 1, .pw = 1, .dh = 1, .dw = 1};
    assert_int_equal(tconv__select_algorithm(&s, TCONV_ISA_AVX512, &why), TCONV_ALGO_PHASE_GEMM);
    assert_non_null(why);
    assert_int_equal(tconv__select_algorithm(&s, TCONV_ISA_AVX512, &why), TCONV_ALGO_PHASE_GEMM);
    /* dcgan1-like: 1x1 input, 4x4 kernel -> col2im */
    s = (tconv_shape){.n = 64, .cin = 100, .h = 1, .w = 1, .cout = 512, .kh = 4, .kw = 4,
                      .hout = 4, .wout = 4, .groups = 1, .cin_g = 100, .cout_g = 512,
                      .sh = 1, .sw = 1, .dh = 1, .dw = 1};
    assert_int_equal(tconv__select_algorithm(&s, TCONV_ISA_AVX512, &why), TCONV_ALGO_GEMM_COL2IM);
    /* depthwise -> direct */
    s = (tconv_shape){.n = 1, .cin = 64, .h = 64, .w = 64, .cout = 64, .kh = 4, .kw = 4,
                      .hout = 128, .wout = 128, .groups = 64, .cin_g = 1, .cout_g = 1,
                      .sh = 2, .sw = 2, .ph = 1, .pw = 1, .dh = 1, .dw = 1};
    assert_int_equal(tconv__select_algorithm(&s, TCONV_ISA_AVX512, &why), TCONV_ALGO_DIRECT);
    /* 3 output channels (dcgan5): the phase path's few-row igemm where there is one (x86:
     * AVX-512's 4-row, AVX2's 3-row), else direct; with few input channels, direct */
    s = (tconv_shape){.n = 64, .cin = 64, .h = 32, .w = 32, .cout = 3, .kh = 4, .kw = 4,
                      .hout = 64, .wout = 64, .groups = 1, .cin_g = 64, .cout_g = 3,
                      .sh = 2, .sw = 2, .ph = 1, .pw = 1, .dh = 1, .dw = 1};
    const bool igemm = tconv__igemm_kernel(TCONV_ISA_AVX512, 3) != NULL; /* x86-64 builds */
    assert_int_equal(tconv__select_algorithm(&s, TCONV_ISA_AVX512, &why),
                     igemm ? TCONV_ALGO_PHASE_GEMM : TCONV_ALGO_DIRECT);
    assert_true(tconv__phase_direct_only(&s, TCONV_ISA_AVX512) == igemm);
    assert_int_equal(tconv__select_algorithm(&s, TCONV_ISA_AVX2, &why),
                     igemm ? TCONV_ALGO_PHASE_GEMM : TCONV_ALGO_DIRECT);
    assert_true(tconv__phase_direct_only(&s, TCONV_ISA_AVX2) == igemm);
    assert_int_equal(tconv__select_algorithm(&s, TCONV_ISA_SCALAR, &why), TCONV_ALGO_DIRECT);
    assert_false(tconv__phase_direct_only(&s, TCONV_ISA_SCALAR));
    /* the scaled-down dcgan5 of test_edge_shapes, so that it runs the 4-row kernel */
    s = (tconv_shape){.n = 2, .cin = 16, .h = 6, .w = 7, .cout = 3, .kh = 4, .kw = 4,
                      .hout = 12, .wout = 14, .groups = 1, .cin_g = 16, .cout_g = 3,
                      .sh = 2, .sw = 2, .ph = 1, .pw = 1, .dh = 1, .dw = 1};
    assert_int_equal(tconv__select_algorithm(&s, TCONV_ISA_AVX512, &why),
                     igemm ? TCONV_ALGO_PHASE_GEMM : TCONV_ALGO_DIRECT);
    s.cin = s.cin_g = 8;
    assert_int_equal(tconv__select_algorithm(&s, TCONV_ISA_AVX512, &why), TCONV_ALGO_DIRECT);
    /* too many phases for the phase path */
    s = (tconv_shape){.n = 1, .cin = 16, .h = 4, .w = 4, .cout = 16, .kh = 9, .kw = 9,
                      .hout = 36, .wout = 36, .groups = 1, .cin_g = 16, .cout_g = 16,
                      .sh = 9, .sw = 9, .dh = 1, .dw = 1};
    assert_int_equal(tconv__select_algorithm(&s, TCONV_ISA_AVX512, &why), TCONV_ALGO_GEMM_COL2IM);
    assert_false(tconv__algo_impl(TCONV_ALGO_PHASE_GEMM)->supports(&s, &why));
}

/* Phase taps: every kernel index belongs to exactly one phase, and reads the right row. */
static void test_phase_taps(void **state)
{
    (void)state;
    for (int64_t stride = 1; stride <= 5; stride++)
        for (int64_t dil = 1; dil <= 4; dil++)
            for (int64_t pad = 0; pad <= 6; pad++)
                for (int64_t k = 1; k <= 7; k++) {
                    int owner[7] = {0};
                    for (int64_t p = 0; p < stride; p++) {
                        tconv_taps t;
                        tconv__phase_taps(p, stride, pad, dil, k, &t);
                        for (int64_t i = 0; i < t.count; i++) {
                            int64_t ky = t.first + i * t.step;
                            assert_true(ky >= 0 && ky < k);
                            owner[ky]++;
                            /* output q*stride + p reads input q + d */
                            int64_t d = t.d0 + i * t.dstep;
                            assert_int_equal((p + pad - ky * dil), d * stride);
                        }
                    }
                    for (int64_t ky = 0; ky < k; ky++)
                        assert_int_equal(owner[ky], 1);
                }
}

/* Plans: workspace query, caller workspace with NO_ALLOC, input that does not fit. */
static void test_plan_rules(void **state)
{
    (void)state;
    tu_rng r = tu_rng_seed(3);
    tconv_params p = tconv_params_default();
    p.stride[0] = p.stride[1] = 2;
    p.padding[0] = p.padding[1] = 1;
    int64_t xs[4] = {2, 8, 5, 5}, ws[4] = {8, 6, 4, 4}, ys[4] = {2, 6, 10, 10}, bs = 6;
    tu_tensor x = tu_tensor_new(4, xs, TU_CONTIGUOUS, &r, 0);
    tu_tensor w = tu_tensor_new(4, ws, TU_CONTIGUOUS, &r, 0);
    tu_tensor b = tu_tensor_new(1, &bs, TU_CONTIGUOUS, &r, 0);
    tu_tensor ref = tu_tensor_new(4, ys, TU_CONTIGUOUS, NULL, 0);
    tu_tensor y = tu_tensor_new(4, ys, TU_CONTIGUOUS, NULL, 0);
    tconv_exec e = tconv_exec_default();
    e.algorithm = TCONV_ALGO_REFERENCE;
    assert_int_equal(tconv_convtranspose2d_ex(&p, &x.t, &w.t, &b.t, &ref.t, &e, NULL), TCONV_OK);

    tconv_plan *plan = NULL;
    e = tconv_exec_default();
    e.algorithm = TCONV_ALGO_PHASE_GEMM;
    assert_int_equal(tconv_plan_create(&plan, &p, &x.t, &w.t, &b.t, &e), TCONV_OK);
    /* the plan owns copies: clobbering the caller's weight changes nothing */
    tu_tensor wkeep = tu_tensor_new(4, ws, TU_CONTIGUOUS, NULL, 0);
    memcpy(wkeep.buf, w.buf, w.buf_len * sizeof(float));
    for (size_t i = 0; i < w.buf_len; i++)
        w.buf[i] = 1e30f;
    tconv_exec re = tconv_exec_default();
    re.num_threads = 2;
    size_t need = 0;
    assert_int_equal(tconv_plan_workspace_size(plan, &re, &need), TCONV_OK);
    assert_true(need > 0);
    void *ws_mem = aligned_alloc(64, (need + 63) / 64 * 64);
    re.workspace = ws_mem;
    re.workspace_size = need;
    re.flags = TCONV_FLAG_NO_ALLOC;
    tconv_report rep;
    assert_int_equal(tconv_plan_run(plan, &x.t, &y.t, &re, &rep), TCONV_OK);
    char msg[256];
    if (!tu_check_close(&p, &x.t, &wkeep.t, &b.t, &y.t, &ref.t, 1.0, msg, sizeof msg))
        fail_msg("plan run with caller workspace: %s", msg);
    /* the query covers runs on any views of the shape: with AVX-512 (the direct feed)
     * this NCHW run reads its input in place and needs less; a channels-last run
     * copies it, and fits in `need` too */
    assert_true(rep.workspace_bytes > 0 && rep.workspace_bytes <= need);
    tu_tensor xl = tu_tensor_new(4, xs, TU_CHANNELS_LAST, NULL, 0);
    tu_tensor yl = tu_tensor_new(4, ys, TU_CHANNELS_LAST, NULL, 0);
    tu_copy_values(&xl.t, &x.t);
    tconv_report rep_l;
    assert_int_equal(tconv_plan_run(plan, &xl.t, &yl.t, &re, &rep_l), TCONV_OK);
    assert_true(rep_l.workspace_bytes <= need);
    if (rep.isa == TCONV_ISA_AVX512)
        assert_true(rep.workspace_bytes < rep_l.workspace_bytes);
    if (!tu_check_close(&p, &xl.t, &wkeep.t, &b.t, &yl.t, &ref.t, 1.0, msg, sizeof msg))
        fail_msg("channels-last plan run with caller workspace: %s", msg);
    tu_tensor_free(&xl);
    tu_tensor_free(&yl);
    tu_tensor_free(&wkeep);
    /* too small a workspace for the run with NO_ALLOC: refused, output untouched */
    memset(y.buf, 0x55, y.buf_len * sizeof(float));
    re.workspace_size = rep.workspace_bytes - 64; /* aligned: workspace_bytes - 63 are used */
    assert_int_equal(tconv_plan_run(plan, &x.t, &y.t, &re, NULL), TCONV_ERR_WORKSPACE_TOO_SMALL);
    for (size_t i = 0; i < y.buf_len; i++) {
        uint32_t u;
        memcpy(&u, &y.buf[i], 4);
        assert_int_equal(u, 0x55555555u);
    }
    /* a bigger batch than planned: refused */
    int64_t xs_big[4] = {3, 8, 5, 5}, ys_big[4] = {3, 6, 10, 10};
    tu_tensor xb = tu_tensor_new(4, xs_big, TU_CONTIGUOUS, &r, 0);
    tu_tensor yb = tu_tensor_new(4, ys_big, TU_CONTIGUOUS, NULL, 0);
    assert_int_equal(tconv_plan_run(plan, &xb.t, &yb.t, NULL, NULL), TCONV_ERR_SHAPE_MISMATCH);
    /* another algorithm than planned: refused */
    tconv_exec other = tconv_exec_default();
    other.algorithm = TCONV_ALGO_REFERENCE;
    assert_int_equal(tconv_plan_run(plan, &x.t, &y.t, &other, NULL), TCONV_ERR_INVALID_ARGUMENT);
    tconv_report info;
    assert_int_equal(tconv_plan_info(plan, &info), TCONV_OK);
    assert_int_equal(info.algorithm, TCONV_ALGO_PHASE_GEMM);
    assert_true(info.workspace_bytes > 0);
    tconv_plan_destroy(plan);
    free(ws_mem);
    tu_tensor_free(&x);
    tu_tensor_free(&w);
    tu_tensor_free(&b);
    tu_tensor_free(&ref);
    tu_tensor_free(&y);
    tu_tensor_free(&xb);
    tu_tensor_free(&yb);
}

/* A caller-supplied parallel-for that runs tasks in reverse order on the calling
 * thread: results must equal the pool's bit for bit. */
static int64_t hook_calls;
static void reverse_parallel_for(void *pool_ctx, tconv_task_fn fn, void *task_ctx, int64_t n)
{
    (void)pool_ctx;
    hook_calls++;
    for (int64_t i = n - 1; i >= 0; i--)
        fn(task_ctx, i);
}

typedef struct shared_run {
    const tconv_plan *plan;
    const tconv_tensor *x;
    tu_tensor y;
    int threads;
    tconv_status st;
} shared_run;

static void *run_plan_thread(void *arg)
{
    shared_run *r = arg;
    tconv_exec e = tconv_exec_default();
    e.num_threads = r->threads;
    for (int i = 0; i < 5 && r->st == TCONV_OK; i++)
        r->st = tconv_plan_run(r->plan, r->x, &r->y.t, &e, NULL);
    return NULL;
}

/* The parallel-for hook, and one plan run from several application threads at once
 * (each with its own output and thread count) giving the single-threaded result. */
static void test_threads_and_hooks(void **state)
{
    (void)state;
    tu_rng r = tu_rng_seed(11);
    tconv_params p = tconv_params_default();
    p.stride[0] = p.stride[1] = 2;
    p.padding[0] = p.padding[1] = 1;
    int64_t xs[4] = {3, 24, 9, 9}, ws[4] = {24, 20, 4, 4}, ys[4] = {3, 20, 18, 18}, bs = 20;
    tu_tensor x = tu_tensor_new(4, xs, TU_CONTIGUOUS, &r, 0);
    tu_tensor w = tu_tensor_new(4, ws, TU_CONTIGUOUS, &r, 0);
    tu_tensor b = tu_tensor_new(1, &bs, TU_CONTIGUOUS, &r, 0);
    for (size_t ai = 0; ai + 1 < NALGOS; ai++) {
        tconv_exec e = tconv_exec_default();
        e.algorithm = algos[ai];
        e.num_threads = 1;
        tu_tensor want = tu_tensor_new(4, ys, TU_CONTIGUOUS, NULL, 0);
        assert_int_equal(tconv_convtranspose2d_ex(&p, &x.t, &w.t, &b.t, &want.t, &e, NULL), TCONV_OK);

        tu_tensor got = tu_tensor_new(4, ys, TU_CONTIGUOUS, NULL, 0);
        e.num_threads = 3;
        e.parallel_for = reverse_parallel_for;
        hook_calls = 0;
        assert_int_equal(tconv_convtranspose2d_ex(&p, &x.t, &w.t, &b.t, &got.t, &e, NULL), TCONV_OK);
        assert_true(hook_calls > 0);
        assert_memory_equal(got.buf, want.buf, want.buf_len * sizeof(float));
        tu_tensor_free(&got);

        tconv_plan *plan = NULL;
        e = tconv_exec_default();
        e.algorithm = algos[ai];
        assert_int_equal(tconv_plan_create(&plan, &p, &x.t, &w.t, &b.t, &e), TCONV_OK);
        enum { T = 4 };
        pthread_t th[T];
        shared_run runs[T];
        for (int i = 0; i < T; i++) {
            runs[i] = (shared_run){plan, &x.t, tu_tensor_new(4, ys, TU_CONTIGUOUS, NULL, 0), 1 + i % 3,
                                   TCONV_OK};
            assert_int_equal(pthread_create(&th[i], NULL, run_plan_thread, &runs[i]), 0);
        }
        for (int i = 0; i < T; i++) {
            pthread_join(th[i], NULL);
            assert_int_equal(runs[i].st, TCONV_OK);
            assert_memory_equal(runs[i].y.buf, want.buf, want.buf_len * sizeof(float));
            tu_tensor_free(&runs[i].y);
        }
        tconv_plan_destroy(plan);
        tu_tensor_free(&want);
    }
    tu_tensor_free(&x);
    tu_tensor_free(&w);
    tu_tensor_free(&b);
}

/* Small problems run on fewer threads than asked (one per min_flops of work); the
 * test suites turn the cap off ($TCONV_MIN_FLOPS_PER_THREAD=0) to test thread counts on
 * small shapes, so the rule itself is tested here as the pure function it is. */
static void test_threads_for_work(void **state)
{
    (void)state;
    assert_int_equal(tconv__threads_for_work(2, 0.3e6, 1.5e6), 1);   /* small_b1 */
    assert_int_equal(tconv__threads_for_work(2, 3.6e6, 1.5e6), 2);   /* fcn_up */
    assert_int_equal(tconv__threads_for_work(4, 3.6e6, 1.5e6), 2);
    assert_int_equal(tconv__threads_for_work(2, 8.4e6, 1.5e6), 2);   /* dw_k4s2 */
    assert_int_equal(tconv__threads_for_work(8, 13e6, 4e6), 3);
    assert_int_equal(tconv__threads_for_work(3, 1e12, 1.5e6), 3);
    assert_int_equal(tconv__threads_for_work(3, 0.0, 1.5e6), 1);      /* N = 0 */
    assert_int_equal(tconv__threads_for_work(3, 0.3e6, 0.0), 3);      /* cap off */
    assert_int_equal(tconv__threads_for_work(1, 1e12, 1.5e6), 1);
    /* One-shot calls and plan runs apply the rule (small_b1's shape, 0.3 MFLOP, asking
     * for 2 threads). The suite runs with the cap off; meson also runs this test alone
     * with the default cap (test 'algos_thread_cap'), where both must report 1. */
    const int want = tconv__threads_for_work(2, 2.0 * 16 * 8 * 8 * 16 * 9,
                                             tconv__min_flops_per_thread());
    if (tconv__min_flops_per_thread() > 0.0)
        assert_int_equal(want, 1);
    tu_rng r = tu_rng_seed(3);
    tconv_params p = tconv_params_default();
    p.padding[0] = p.padding[1] = 1;
    int64_t xs[4] = {1, 16, 8, 8}, ws[4] = {16, 16, 3, 3}, ys[4] = {1, 16, 8, 8};
    tu_tensor x = tu_tensor_new(4, xs, TU_CONTIGUOUS, &r, 0);
    tu_tensor w = tu_tensor_new(4, ws, TU_CONTIGUOUS, &r, 0);
    tu_tensor y = tu_tensor_new(4, ys, TU_CONTIGUOUS, NULL, 0);
    tconv_exec e = tconv_exec_default();
    e.num_threads = 2;
    tconv_report rep;
    assert_int_equal(tconv_convtranspose2d_ex(&p, &x.t, &w.t, NULL, &y.t, &e, &rep), TCONV_OK);
    assert_int_equal(rep.num_threads, want);
    tconv_plan *plan = NULL;
    assert_int_equal(tconv_plan_create(&plan, &p, &x.t, &w.t, NULL, &e), TCONV_OK);
    assert_int_equal(tconv_plan_run(plan, &x.t, &y.t, &e, &rep), TCONV_OK);
    assert_int_equal(rep.num_threads, want);
    tconv_plan_destroy(plan);
    tu_tensor_free(&x);
    tu_tensor_free(&w);
    tu_tensor_free(&y);
}

/* A counting allocator over aligned_alloc. */
typedef struct counter {
    int64_t allocs, frees;
} counter;
static void *count_alloc(void *ctx, size_t size, size_t align)
{
    ((counter *)ctx)->allocs++;
    return aligned_alloc(align, (size + align - 1) / align * align);
}
static void count_free(void *ctx, void *p)
{
    if (p)
        ((counter *)ctx)->frees++;
    free(p);
}

/* A plan keeps its run workspace: the first run allocates it (through the plan's
 * allocator), later runs allocate nothing, destroy frees everything. */
static void test_plan_keeps_workspace(void **state)
{
    (void)state;
    tu_rng r = tu_rng_seed(5);
    tconv_params p = tconv_params_default();
    p.stride[0] = p.stride[1] = 2;
    int64_t xs[4] = {2, 12, 6, 6}, ws[4] = {12, 10, 3, 3}, ys[4] = {2, 10, 13, 13};
    tu_tensor x = tu_tensor_new(4, xs, TU_CONTIGUOUS, &r, 0);
    tu_tensor w = tu_tensor_new(4, ws, TU_CONTIGUOUS, &r, 0);
    tu_tensor y = tu_tensor_new(4, ys, TU_CONTIGUOUS, NULL, 0);
    tu_tensor ref = tu_tensor_new(4, ys, TU_CONTIGUOUS, NULL, 0);
    tconv_exec e = tconv_exec_default();
    e.algorithm = TCONV_ALGO_REFERENCE;
    assert_int_equal(tconv_convtranspose2d_ex(&p, &x.t, &w.t, NULL, &ref.t, &e, NULL), TCONV_OK);
    counter c = {0, 0};
    tconv_allocator al = {count_alloc, count_free, &c};
    e = tconv_exec_default();
    e.algorithm = TCONV_ALGO_PHASE_GEMM;
    e.allocator = &al;
    tconv_plan *plan = NULL;
    assert_int_equal(tconv_plan_create(&plan, &p, &x.t, &w.t, NULL, &e), TCONV_OK);
    const int64_t after_create = c.allocs;
    char msg[256];
    for (int i = 0; i < 4; i++) {
        tconv_exec re = tconv_exec_default();
        re.num_threads = 1;
        assert_int_equal(tconv_plan_run(plan, &x.t, &y.t, &re, NULL), TCONV_OK);
        assert_int_equal(c.allocs, after_create + 1); /* the first run's, kept */
        if (!tu_check_close(&p, &x.t, &w.t, NULL, &y.t, &ref.t, 1.0, msg, sizeof msg))
            fail_msg("plan run %d: %s", i, msg);
    }
    tconv_plan_destroy(plan);
    assert_int_equal(c.allocs, c.frees);
    tu_tensor_free(&x);
    tu_tensor_free(&w);
    tu_tensor_free(&y);
    tu_tensor_free(&ref);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_phase_taps),
        cmocka_unit_test(test_select),
        cmocka_unit_test(test_plan_rules),
        cmocka_unit_test(test_threads_and_hooks),
        cmocka_unit_test(test_plan_keeps_workspace),
        cmocka_unit_test(test_edge_shapes),
        cmocka_unit_test(test_direct_row_edges),
        cmocka_unit_test(test_col2im_1x1_strided_output),
        cmocka_unit_test(test_direct_tile_shapes),
        cmocka_unit_test(test_direct_tiles),
        cmocka_unit_test(test_inplace_matches_copy),
        cmocka_unit_test(test_threads_for_work),
        cmocka_unit_test(test_random_problems),
    };
    /* $TCONV_TEST_FILTER: run only the tests whose names match (meson's algos_thread_cap) */
    if (getenv("TCONV_TEST_FILTER"))
        cmocka_set_test_filter(getenv("TCONV_TEST_FILTER"));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
