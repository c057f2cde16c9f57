/*
 * test_reference.c - results of the forward call: tiny cases worked by hand (exact,
 * small integers), then randomized problems over every parameter compared with
 * tu_exact(), an independent double-precision gather, within the rigorous bound of
 * testutil.h; through tconv_convtranspose2d, tconv_convtranspose2d_ex with the
 * reference algorithm (and its report), and a plan.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tconv.h"
#include "testutil.h"

/* ------------------------------------------------------------ hand-worked cases */

/* The input and kernel most cases share. Powers of ten in the kernel make every output
 * element spell out which taps reached it: digit d of the result is the input value
 * that met kernel weight 10^d. */
static const float X22[4] = {1, 2,
                             3, 4};
static const float W22[4] = {1, 10,
                             100, 1000};

/* Runs one problem through the one-shot call (automatic choice) and the explicit
 * reference, and requires exactly `want` (contiguous NCHW) from both: with small
 * integers every evaluation order is exact, so any correct algorithm matches bit for bit. */
static void run_exact(const char *name, const tconv_params *p, const tconv_tensor *x,
                      const tconv_tensor *w, const tconv_tensor *b, int rank,
                      const int64_t *yshape, const float *want)
{
    int64_t count = 1;
    for (int d = 0; d < rank; d++)
        count *= yshape[d];
    float *y = malloc((size_t)count * sizeof(float) + 1);
    tconv_tensor yt = rank == 4 ? tconv_tensor_nchw(y, yshape[0], yshape[1], yshape[2], yshape[3])
                                : tconv_tensor_chw(y, yshape[0], yshape[1], yshape[2]);
    for (int pass = 0; pass < 2; pass++) {
        for (int64_t i = 0; i < count; i++)
            y[i] = NAN;
        tconv_status st;
        if (pass == 0) {
            st = tconv_convtranspose2d(p, x, w, b, &yt);
        } else {
            tconv_exec e = tconv_exec_default();
            e.algorithm = TCONV_ALGO_REFERENCE;
            st = tconv_convtranspose2d_ex(p, x, w, b, &yt, &e, NULL);
        }
        if (st != TCONV_OK)
            fail_msg("%s (%s): status %d: %s", name, pass ? "reference" : "auto", (int)st,
                     tconv_last_error_message());
        for (int64_t i = 0; i < count; i++)
            if (!(y[i] == want[i]))
                fail_msg("%s (%s): element %lld is %.9g, want %.9g", name,
                         pass ? "reference" : "auto", (long long)i, (double)y[i],
                         (double)want[i]);
    }
    free(y);
}

/* stride 1: out[oy][ox] = sum over iy+ky = oy, ix+kx = ox of x[iy][ix] * w[ky][kx].
 *   out[0][0] = 1*1                               = 1
 *   out[0][1] = 1*10 + 2*1                        = 12
 *   out[0][2] = 2*10                              = 20
 *   out[1][0] = 1*100 + 3*1                       = 103
 *   out[1][1] = 1*1000 + 2*100 + 3*10 + 4*1       = 1234
 *   out[1][2] = 2*1000 + 4*10                     = 2040
 *   out[2][0] = 3*100                             = 300
 *   out[2][1] = 3*1000 + 4*100                    = 3400
 *   out[2][2] = 4*1000                            = 4000
 * Hout = (2-1)*1 + 1*(2-1) + 1 = 3. */
static const float A33[9] = {1, 12, 20,
                             103, 1234, 2040,
                             300, 3400, 4000};

static void test_hand_stride1(void **state)
{
    (void)state;
    tconv_params p = tconv_params_default();
    tconv_tensor x = tconv_tensor_nchw((void *)X22, 1, 1, 2, 2);
    tconv_tensor w = tconv_tensor_nchw((void *)W22, 1, 1, 2, 2);
    const int64_t ys[4] = {1, 1, 3, 3};
    run_exact("stride 1", &p, &x, &w, NULL, 4, ys, A33);
}

/* stride 2: out[2*iy + ky][2*ix + kx] = x[iy][ix] * w[ky][kx]; no two taps meet.
 *   row 0 (iy 0, ky 0): 1*1, 1*10, 2*1, 2*10          = 1 10 2 20
 *   row 1 (iy 0, ky 1): 1*100, 1*1000, 2*100, 2*1000  = 100 1000 200 2000
 *   row 2 (iy 1, ky 0): 3*1, 3*10, 4*1, 4*10          = 3 30 4 40
 *   row 3 (iy 1, ky 1): 3*100, 3*1000, 4*100, 4*1000  = 300 3000 400 4000
 * Hout = (2-1)*2 + 1 + 1 = 4. */
static const float B44[16] = {1, 10, 2, 20,
                              100, 1000, 200, 2000,
                              3, 30, 4, 40,
                              300, 3000, 400, 4000};

static void test_hand_stride2(void **state)
{
    (void)state;
    tconv_params p = tconv_params_default();
    p.stride[0] = p.stride[1] = 2;
    tconv_tensor x = tconv_tensor_nchw((void *)X22, 1, 1, 2, 2);
    tconv_tensor w = tconv_tensor_nchw((void *)W22, 1, 1, 2, 2);
    const int64_t ys[4] = {1, 1, 4, 4};
    run_exact("stride 2", &p, &x, &w, NULL, 4, ys, B44);
}

/* padding trims that many rows/columns from each side of the uncropped output:
 *   stride 1, padding 1: the centre of the 3x3 above                   = 1234
 *   stride 2, padding 1: rows/cols 1..2 of the 4x4 above               = 1000 200 / 30 4
 *   stride 1, padding (1, 0): row 1 of the 3x3, all columns            = 103 1234 2040 */
static void test_hand_padding(void **state)
{
    (void)state;
    tconv_tensor x = tconv_tensor_nchw((void *)X22, 1, 1, 2, 2);
    tconv_tensor w = tconv_tensor_nchw((void *)W22, 1, 1, 2, 2);
    tconv_params p = tconv_params_default();
    p.padding[0] = p.padding[1] = 1;
    const float c11[1] = {1234};
    const int64_t ys1[4] = {1, 1, 1, 1};
    run_exact("stride 1 padding 1", &p, &x, &w, NULL, 4, ys1, c11);

    p.stride[0] = p.stride[1] = 2;
    const float c22[4] = {1000, 200,
                          30, 4};
    const int64_t ys2[4] = {1, 1, 2, 2};
    run_exact("stride 2 padding 1", &p, &x, &w, NULL, 4, ys2, c22);

    p = tconv_params_default();
    p.padding[0] = 1;
    const float c13[3] = {103, 1234, 2040};
    const int64_t ys3[4] = {1, 1, 1, 3};
    run_exact("padding (1, 0)", &p, &x, &w, NULL, 4, ys3, c13);
}

/* dilation 2: tap ky lands 2*ky rows down: out[iy + 2*ky][ix + 2*kx].
 *   row 0 (iy 0, ky 0): cols ix + 2kx = 0,1,2,3 <- 1*1, 2*1, 1*10, 2*10          = 1 2 10 20
 *   row 1 (iy 1, ky 0): 3*1, 4*1, 3*10, 4*10                                    = 3 4 30 40
 *   row 2 (iy 0, ky 1): 1*100, 2*100, 1*1000, 2*1000                            = 100 200 1000 2000
 *   row 3 (iy 1, ky 1): 3*100, 4*100, 3*1000, 4*1000                            = 300 400 3000 4000
 * Hout = (2-1)*1 + 2*(2-1) + 1 = 4. */
static void test_hand_dilation(void **state)
{
    (void)state;
    tconv_params p = tconv_params_default();
    p.dilation[0] = p.dilation[1] = 2;
    tconv_tensor x = tconv_tensor_nchw((void *)X22, 1, 1, 2, 2);
    tconv_tensor w = tconv_tensor_nchw((void *)W22, 1, 1, 2, 2);
    const float want[16] = {1, 2, 10, 20,
                            3, 4, 30, 40,
                            100, 200, 1000, 2000,
                            300, 400, 3000, 4000};
    const int64_t ys[4] = {1, 1, 4, 4};
    run_exact("dilation 2", &p, &x, &w, NULL, 4, ys, want);
}

/* output_padding adds rows/columns at the bottom/right only, which no tap reaches:
 *   stride 2, output_padding 1: the 4x4 of stride 2 plus a zero row and column (5x5);
 *   stride 2, padding 1, output_padding 1: Hout = 2 - 2 + 1 + 1 + 1 = 3, i.e. rows and
 *   columns 1..3 of the 4x4 (the padding trims the top/left one, output_padding gives
 *   back the bottom/right one):  1000 200 2000 / 30 4 40 / 3000 400 4000. */
static void test_hand_output_padding(void **state)
{
    (void)state;
    tconv_tensor x = tconv_tensor_nchw((void *)X22, 1, 1, 2, 2);
    tconv_tensor w = tconv_tensor_nchw((void *)W22, 1, 1, 2, 2);
    tconv_params p = tconv_params_default();
    p.stride[0] = p.stride[1] = 2;
    p.output_padding[0] = p.output_padding[1] = 1;
    const float e55[25] = {1, 10, 2, 20, 0,
                           100, 1000, 200, 2000, 0,
                           3, 30, 4, 40, 0,
                           300, 3000, 400, 4000, 0,
                           0, 0, 0, 0, 0};
    const int64_t ys5[4] = {1, 1, 5, 5};
    run_exact("output_padding 1", &p, &x, &w, NULL, 4, ys5, e55);

    p.padding[0] = p.padding[1] = 1;
    const float e33[9] = {1000, 200, 2000,
                          30, 4, 40,
                          3000, 400, 4000};
    const int64_t ys3[4] = {1, 1, 3, 3};
    run_exact("padding 1 output_padding 1", &p, &x, &w, NULL, 4, ys3, e33);
}

/* Groups: input channels x0 = 1 2 / 3 4, x1 = 5 6 / 7 8, 1x1 kernel with
 * w[ci][cog] = 1, 10 (ci 0) and 100, 1000 (ci 1), i.e. weight shape (2, 2, 1, 1).
 *   groups 2: channel ci feeds only outputs 2*ci .. 2*ci+1 (Cout = 2*2 = 4):
 *     co0 = 1*x0 = 1 2 / 3 4            co1 = 10*x0   = 10 20 / 30 40
 *     co2 = 100*x1 = 500 600 / 700 800  co3 = 1000*x1 = 5000 6000 / 7000 8000
 *   groups 1: both channels feed both outputs (Cout = 2):
 *     co0 = 1*x0 + 100*x1  = 501 602 / 703 804
 *     co1 = 10*x0 + 1000*x1 = 5010 6020 / 7030 8040 */
static void test_hand_groups(void **state)
{
    (void)state;
    const float xv[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const float wv[4] = {1, 10, 100, 1000};
    tconv_tensor x = tconv_tensor_nchw((void *)xv, 1, 2, 2, 2);
    tconv_tensor w = tconv_tensor_nchw((void *)wv, 2, 2, 1, 1);
    tconv_params p = tconv_params_default();
    p.groups = 2;
    const float g2[16] = {1, 2, 3, 4,
                          10, 20, 30, 40,
                          500, 600, 700, 800,
                          5000, 6000, 7000, 8000};
    const int64_t ys4[4] = {1, 4, 2, 2};
    run_exact("groups 2", &p, &x, &w, NULL, 4, ys4, g2);

    p.groups = 1;
    const float g1[8] = {501, 602, 703, 804,
                         5010, 6020, 7030, 8040};
    const int64_t ys2[4] = {1, 2, 2, 2};
    run_exact("groups 1", &p, &x, &w, NULL, 4, ys2, g1);
}

/* Depthwise (groups = Cin = 2, one output per channel), 2x2 kernel, stride 2:
 *   channel 0: x0 = 1 2 / 3 4 with W22 -> the stride-2 4x4 above;
 *   channel 1: x1 = 5 6 / 7 8 with the identity-like kernel 1 0 / 0 1: each input
 *   pixel v becomes the 2x2 block v 0 / 0 v:
 *     5 0 6 0 / 0 5 0 6 / 7 0 8 0 / 0 7 0 8 */
static void test_hand_depthwise(void **state)
{
    (void)state;
    const float xv[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    const float wv[8] = {1, 10, 100, 1000, 1, 0, 0, 1};
    tconv_tensor x = tconv_tensor_nchw((void *)xv, 1, 2, 2, 2);
    tconv_tensor w = tconv_tensor_nchw((void *)wv, 2, 1, 2, 2);
    tconv_params p = tconv_params_default();
    p.groups = 2;
    p.stride[0] = p.stride[1] = 2;
    float want[32];
    memcpy(want, B44, sizeof B44);
    const float ch1[16] = {5, 0, 6, 0,
                           0, 5, 0, 6,
                           7, 0, 8, 0,
                           0, 7, 0, 8};
    memcpy(want + 16, ch1, sizeof ch1);
    const int64_t ys[4] = {1, 2, 4, 4};
    run_exact("depthwise", &p, &x, &w, NULL, 4, ys, want);
}

/* Bias and batch: image 0 is X22, image 1 is -X22; output channel 0 uses W22, channel 1
 * uses 2*W22; bias (0.5, -0.25). With A = the stride-1 3x3 above:
 *   y[0][0] = A + 0.5    y[0][1] = 2A - 0.25    y[1][0] = -A + 0.5    y[1][1] = -2A - 0.25
 * (every value a multiple of 1/4 below 2^13: exact in float). */
static void test_hand_bias_batch(void **state)
{
    (void)state;
    const float xv[8] = {1, 2, 3, 4, -1, -2, -3, -4};
    const float wv[8] = {1, 10, 100, 1000, 2, 20, 200, 2000};
    const float bv[2] = {0.5f, -0.25f};
    tconv_tensor x = tconv_tensor_nchw((void *)xv, 2, 1, 2, 2);
    tconv_tensor w = tconv_tensor_nchw((void *)wv, 1, 2, 2, 2);
    tconv_tensor b = tconv_tensor_1d((void *)bv, 2);
    tconv_params p = tconv_params_default();
    float want[36];
    for (int i = 0; i < 9; i++) {
        want[i] = A33[i] + 0.5f;
        want[9 + i] = 2 * A33[i] - 0.25f;
        want[18 + i] = -A33[i] + 0.5f;
        want[27 + i] = -2 * A33[i] - 0.25f;
    }
    const int64_t ys[4] = {2, 2, 3, 3};
    run_exact("bias and batch", &p, &x, &w, &b, 4, ys, want);

    /* bias alone: a zero input leaves exactly the bias everywhere */
    const float zeros[8] = {0};
    tconv_tensor xz = tconv_tensor_nchw((void *)zeros, 2, 1, 2, 2);
    float wantb[36];
    for (int i = 0; i < 36; i++)
        wantb[i] = (i / 9) % 2 == 0 ? 0.5f : -0.25f;
    run_exact("bias only", &p, &xz, &w, &b, 4, ys, wantb);
}

/* Non-square kernel and stride: x = 1 2 (1x2), kernel 1x3 = 1 10 100, stride (1, 2):
 * ox = 2*ix + kx; ix 0 -> 0,1,2 gets 1,10,100; ix 1 -> 2,3,4 gets 2,20,200; they meet
 * at ox 2: 100 + 2. Wout = (2-1)*2 + (3-1) + 1 = 5:  1 10 102 20 200.
 * With dilation (1, 2) too: ox = 2*ix + 2*kx, so ix 1 lands exactly on ix 0's taps
 * 1 and 2: 1 _ 10+2 _ 100+20 _ 200 over Wout = 2 + 4 + 1 = 7 (gaps are 0). */
static void test_hand_nonsquare(void **state)
{
    (void)state;
    const float xv[2] = {1, 2};
    const float wv[3] = {1, 10, 100};
    tconv_tensor x = tconv_tensor_nchw((void *)xv, 1, 1, 1, 2);
    tconv_tensor w = tconv_tensor_nchw((void *)wv, 1, 1, 1, 3);
    tconv_params p = tconv_params_default();
    p.stride[1] = 2;
    const float want[5] = {1, 10, 102, 20, 200};
    const int64_t ys[4] = {1, 1, 1, 5};
    run_exact("non-square stride", &p, &x, &w, NULL, 4, ys, want);

    p.dilation[1] = 2;
    const float want2[7] = {1, 0, 12, 0, 120, 0, 200};
    const int64_t ys2[4] = {1, 1, 1, 7};
    run_exact("non-square stride and dilation", &p, &x, &w, NULL, 4, ys2, want2);
}

/* Unbatched rank 3 gives the stride-1 3x3 too. */
static void test_hand_unbatched(void **state)
{
    (void)state;
    tconv_params p = tconv_params_default();
    tconv_tensor x = tconv_tensor_chw((void *)X22, 1, 2, 2);
    tconv_tensor w = tconv_tensor_nchw((void *)W22, 1, 1, 2, 2);
    const int64_t ys[3] = {1, 3, 3};
    run_exact("unbatched", &p, &x, &w, NULL, 3, ys, A33);
}

/* ------------------------------------------------------------ randomized problems */

typedef struct problem {
    tconv_params p;
    int rank;
    int64_t n, cin, h, w, cout_g, kh, kw;
    bool bias;
} problem;

static int64_t max64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

/* Every parameter over its interesting range; padding up to the largest value that
 * still leaves an output (often beyond dilation*(k-1)). */
static problem random_problem(tu_rng *r)
{
    problem q;
    memset(&q, 0, sizeof q);
    q.p = tconv_params_default();
    int64_t in[2], k[2];
    for (int d = 0; d < 2; d++) {
        q.p.stride[d] = tu_range(r, 1, 4);
        q.p.dilation[d] = tu_range(r, 1, 3);
        k[d] = tu_range(r, 1, 5);
        in[d] = tu_range(r, 1, 6);
        q.p.output_padding[d] = tu_range(r, 0, max64(q.p.stride[d], q.p.dilation[d]) - 1);
        const int64_t full = (in[d] - 1) * q.p.stride[d] + q.p.dilation[d] * (k[d] - 1) +
                             q.p.output_padding[d] + 1;
        const int64_t pad_max = (full - 1) / 2;
        /* a third of the time the largest legal padding, to reach the edge */
        q.p.padding[d] = tu_range(r, 0, 2) == 0 ? pad_max : tu_range(r, 0, pad_max);
    }
    q.h = in[0];
    q.w = in[1];
    q.kh = k[0];
    q.kw = k[1];
    switch (tu_range(r, 0, 3)) {
    case 0: /* depthwise, with a channel multiplier sometimes */
        q.p.groups = tu_range(r, 1, 6);
        q.cin = q.p.groups;
        q.cout_g = tu_range(r, 1, 2);
        break;
    case 1: /* many channels per group, so the automatic choice leaves direct kernels */
        q.p.groups = tu_range(r, 1, 2);
        q.cin = q.p.groups * tu_range(r, 5, 9);
        q.cout_g = tu_range(r, 1, 9);
        break;
    default:
        q.p.groups = tu_range(r, 1, 3);
        q.cin = q.p.groups * tu_range(r, 1, 4);
        q.cout_g = tu_range(r, 1, 4);
        break;
    }
    q.rank = tu_range(r, 0, 4) == 0 ? 3 : 4;
    q.n = q.rank == 3 ? 1 : tu_range(r, 0, 3);
    q.bias = tu_range(r, 0, 1) == 1;
    return q;
}

static void describe(const problem *q, char *buf, size_t len)
{
    snprintf(buf, len,
             "rank %d N=%lld Cin=%lld H=%lld W=%lld Cout/g=%lld k=%lldx%lld stride=(%lld,%lld) "
             "pad=(%lld,%lld) outpad=(%lld,%lld) dil=(%lld,%lld) groups=%lld bias=%d",
             q->rank, (long long)q->n, (long long)q->cin, (long long)q->h, (long long)q->w,
             (long long)q->cout_g, (long long)q->kh, (long long)q->kw,
             (long long)q->p.stride[0], (long long)q->p.stride[1], (long long)q->p.padding[0],
             (long long)q->p.padding[1], (long long)q->p.output_padding[0],
             (long long)q->p.output_padding[1], (long long)q->p.dilation[0],
             (long long)q->p.dilation[1], (long long)q->p.groups, (int)q->bias);
}

typedef struct instance {
    tu_tensor x, w, b, y;
} instance;

static instance make_instance(const problem *q, tu_rng *r, tu_layout lx, tu_layout lw,
                              tu_layout ly)
{
    instance in;
    memset(&in, 0, sizeof in);
    const int64_t cout = q->cout_g * q->p.groups;
    const int64_t hout = (q->h - 1) * q->p.stride[0] - 2 * q->p.padding[0] +
                         q->p.dilation[0] * (q->kh - 1) + q->p.output_padding[0] + 1;
    const int64_t wout = (q->w - 1) * q->p.stride[1] - 2 * q->p.padding[1] +
                         q->p.dilation[1] * (q->kw - 1) + q->p.output_padding[1] + 1;
    const int64_t xs4[4] = {q->n, q->cin, q->h, q->w}, ys4[4] = {q->n, cout, hout, wout};
    const int64_t wsh[4] = {q->cin, q->cout_g, q->kh, q->kw}, bsh[1] = {cout};
    const int off = q->rank == 4 ? 0 : 1;
    in.x = tu_tensor_new(q->rank, xs4 + off, lx, r, 0);
    in.w = tu_tensor_new(4, wsh, lw, r, 0);
    if (q->bias)
        in.b = tu_tensor_new(1, bsh, TU_CONTIGUOUS, r, 0);
    in.y = tu_tensor_new(q->rank, ys4 + off, ly, NULL, NAN);
    return in;
}

static void free_instance(instance *in)
{
    tu_tensor_free(&in->x);
    tu_tensor_free(&in->w);
    tu_tensor_free(&in->b);
    tu_tensor_free(&in->y);
}

static void fill_nan(tu_tensor *t)
{
    for (size_t i = 0; i < t->buf_len; i++)
        t->buf[i] = NAN;
}

/* Checks what the header promises of a report after a successful call. */
static void check_report(const tconv_report *rep, int want_algo, size_t want_ws, const char *ctx)
{
    if (want_algo != TCONV_ALGO_AUTO && rep->algorithm != want_algo)
        fail_msg("%s: report.algorithm=%d, want %d", ctx, (int)rep->algorithm, want_algo);
    if (rep->algorithm <= TCONV_ALGO_AUTO || rep->algorithm >= TCONV_ALGO_COUNT)
        fail_msg("%s: report.algorithm=%d is not a concrete algorithm", ctx, (int)rep->algorithm);
    if (rep->isa <= TCONV_ISA_AUTO || rep->isa > (int)tconv_isa_detected())
        fail_msg("%s: report.isa=%d outside [scalar, detected %d]", ctx, (int)rep->isa,
                 (int)tconv_isa_detected());
    if (rep->algorithm == TCONV_ALGO_REFERENCE && rep->isa != TCONV_ISA_SCALAR)
        fail_msg("%s: the reference reports isa %d, want scalar", ctx, (int)rep->isa);
    if (rep->num_threads < 1)
        fail_msg("%s: report.num_threads=%d", ctx, (int)rep->num_threads);
    if (rep->workspace_bytes != want_ws)
        fail_msg("%s: report.workspace_bytes=%zu but tconv_workspace_size said %zu", ctx,
                 rep->workspace_bytes, want_ws);
    if (!rep->reason || !rep->reason[0])
        fail_msg("%s: report.reason is NULL or empty", ctx);
    if (rep->reserved0 != 0 || rep->reserved[0] || rep->reserved[1] || rep->reserved[2] ||
        rep->reserved[3])
        fail_msg("%s: report reserved fields not zeroed", ctx);
}

#define N_RANDOM 2000

static void test_random_vs_exact(void **state)
{
    (void)state;
    tu_rng r = tu_rng_seed(20240611);
    char what[400], msg[400];
    int seen_depthwise = 0, seen_unbatched = 0, seen_empty = 0, seen_big_pad = 0,
        seen_outpad_by_dil = 0;
    int auto_algos[TCONV_ALGO_COUNT] = {0, 0, 0, 0, 0};
    for (int it = 0; it < N_RANDOM; it++) {
        problem q = random_problem(&r);
        describe(&q, what, sizeof what);
        instance in = make_instance(&q, &r, (tu_layout)tu_range(&r, 0, TU_LAYOUT_COUNT - 1),
                                    (tu_layout)tu_range(&r, 0, TU_LAYOUT_COUNT - 1),
                                    (tu_layout)tu_range(&r, 0, TU_LAYOUT_COUNT - 1));
        const tconv_tensor *b = q.bias ? &in.b.t : NULL;
        seen_depthwise += q.p.groups == q.cin && q.cin > 1;
        seen_unbatched += q.rank == 3;
        seen_empty += q.n == 0;
        for (int d = 0; d < 2; d++) {
            seen_big_pad += q.p.padding[d] > q.p.dilation[d] * ((d ? q.kw : q.kh) - 1);
            seen_outpad_by_dil += q.p.output_padding[d] >= q.p.stride[d];
        }

        /* automatic choice */
        tconv_report arep;
        tconv_status st = tconv_convtranspose2d(&q.p, &in.x.t, &in.w.t, b, &in.y.t);
        if (st != TCONV_OK)
            fail_msg("#%d %s: auto: status %d: %s", it, what, (int)st, tconv_last_error_message());
        if (!tu_check_exact(&q.p, &in.x.t, &in.w.t, b, &in.y.t, 1.0, msg, sizeof msg))
            fail_msg("#%d %s: auto: %s", it, what, msg);
        fill_nan(&in.y);
        assert_int_equal(
            tconv_convtranspose2d_ex(&q.p, &in.x.t, &in.w.t, b, &in.y.t, NULL, &arep), TCONV_OK);
        if (arep.algorithm <= TCONV_ALGO_AUTO || arep.algorithm >= TCONV_ALGO_COUNT)
            fail_msg("#%d %s: auto reports algorithm %d", it, what, (int)arep.algorithm);
        auto_algos[arep.algorithm]++;
        if (!tu_check_exact(&q.p, &in.x.t, &in.w.t, b, &in.y.t, 1.0, msg, sizeof msg))
            fail_msg("#%d %s: auto (_ex, %s): %s", it, what, tconv_algorithm_name(arep.algorithm),
                     msg);

        /* explicit reference, with a report */
        tconv_exec e = tconv_exec_default();
        e.algorithm = TCONV_ALGO_REFERENCE;
        size_t ws = 12345;
        assert_int_equal(tconv_workspace_size(&q.p, &in.x.t, &in.w.t, b, &in.y.t, &e, &ws),
                         TCONV_OK);
        tconv_report rep;
        memset(&rep, 0xA5, sizeof rep);
        fill_nan(&in.y);
        st = tconv_convtranspose2d_ex(&q.p, &in.x.t, &in.w.t, b, &in.y.t, &e, &rep);
        if (st != TCONV_OK)
            fail_msg("#%d %s: reference: status %d: %s", it, what, (int)st,
                     tconv_last_error_message());
        if (!tu_check_exact(&q.p, &in.x.t, &in.w.t, b, &in.y.t, 1.0, msg, sizeof msg))
            fail_msg("#%d %s: reference: %s", it, what, msg);
        check_report(&rep, TCONV_ALGO_REFERENCE, ws, what);

        /* a plan of the reference gives the same bits as the one-shot reference */
        tconv_plan *plan = NULL;
        st = tconv_plan_create(&plan, &q.p, &in.x.t, &in.w.t, b, &e);
        if (st != TCONV_OK)
            fail_msg("#%d %s: plan_create: %s", it, what, tconv_last_error_message());
        tu_tensor y2 = tu_tensor_new(in.y.t.rank, in.y.t.shape, TU_CONTIGUOUS, NULL, NAN);
        st = tconv_plan_run(plan, &in.x.t, &y2.t, NULL, NULL);
        if (st != TCONV_OK)
            fail_msg("#%d %s: plan_run: %s", it, what, tconv_last_error_message());
        if (!tu_same_bits(&y2.t, &in.y.t, msg, sizeof msg))
            fail_msg("#%d %s: plan differs from the one-shot reference: %s", it, what, msg);
        tconv_plan_destroy(plan);
        tu_tensor_free(&y2);
        free_instance(&in);
    }
    /* the generator must have reached the corners it claims to cover */
    assert_true(seen_depthwise > 20);
    assert_true(seen_unbatched > 20);
    assert_true(seen_empty > 20);
    assert_true(seen_big_pad > 20);
    assert_true(seen_outpad_by_dil > 20);
    /* which algorithms the automatic choice exercised (informational: it is the
     * library's choice, and tests/algos covers each algorithm explicitly) */
    print_message("auto chose:");
    for (int a = 1; a < TCONV_ALGO_COUNT; a++)
        print_message(" %s %d", tconv_algorithm_name(a), auto_algos[a]);
    print_message("\n");
}

/* The report of the automatic choice and of the explicit reference. */
static void test_report(void **state)
{
    (void)state;
    tu_rng r = tu_rng_seed(5);
    problem q = random_problem(&r);
    q.n = 2;
    q.rank = 4;
    instance in = make_instance(&q, &r, TU_CONTIGUOUS, TU_CONTIGUOUS, TU_CONTIGUOUS);
    const tconv_tensor *b = q.bias ? &in.b.t : NULL;
    tconv_report rep;
    size_t ws;

    memset(&rep, 0xA5, sizeof rep);
    assert_int_equal(tconv_workspace_size(&q.p, &in.x.t, &in.w.t, b, &in.y.t, NULL, &ws),
                     TCONV_OK);
    assert_int_equal(tconv_convtranspose2d_ex(&q.p, &in.x.t, &in.w.t, b, &in.y.t, NULL, &rep),
                     TCONV_OK);
    check_report(&rep, TCONV_ALGO_AUTO, ws, "auto");

    /* the report is optional */
    assert_int_equal(tconv_convtranspose2d_ex(&q.p, &in.x.t, &in.w.t, b, &in.y.t, NULL, NULL),
                     TCONV_OK);

    /* an explicit scalar ISA with the automatic algorithm is honoured */
    tconv_exec e = tconv_exec_default();
    e.isa = TCONV_ISA_SCALAR;
    memset(&rep, 0xA5, sizeof rep);
    assert_int_equal(tconv_workspace_size(&q.p, &in.x.t, &in.w.t, b, &in.y.t, &e, &ws), TCONV_OK);
    assert_int_equal(tconv_convtranspose2d_ex(&q.p, &in.x.t, &in.w.t, b, &in.y.t, &e, &rep),
                     TCONV_OK);
    check_report(&rep, TCONV_ALGO_AUTO, ws, "isa scalar");
    assert_int_equal(rep.isa, TCONV_ISA_SCALAR);
    free_instance(&in);
}

/* The reference is single-threaded (ref.c), so its report must say one thread, the
 * header's "threads used", whatever exec.num_threads allows. */
static void test_report_reference_threads(void **state)
{
    (void)state;
    tu_rng r = tu_rng_seed(6);
    problem q = random_problem(&r);
    instance in = make_instance(&q, &r, TU_CONTIGUOUS, TU_CONTIGUOUS, TU_CONTIGUOUS);
    const tconv_tensor *b = q.bias ? &in.b.t : NULL;
    const int32_t requests[3] = {0, 1, 3};
    int32_t reported[3];
    tconv_status st[3];
    for (int i = 0; i < 3; i++) {
        tconv_exec e = tconv_exec_default();
        e.algorithm = TCONV_ALGO_REFERENCE;
        e.num_threads = requests[i];
        tconv_report rep;
        memset(&rep, 0, sizeof rep);
        st[i] = tconv_convtranspose2d_ex(&q.p, &in.x.t, &in.w.t, b, &in.y.t, &e, &rep);
        reported[i] = rep.num_threads;
    }
    free_instance(&in); /* before any failure, so a failing run reports no leak */
    for (int i = 0; i < 3; i++) {
        assert_int_equal(st[i], TCONV_OK);
        if (reported[i] != 1)
            fail_msg("reference with exec.num_threads=%d reports num_threads=%d; it runs on one "
                     "thread",
                     (int)requests[i], (int)reported[i]);
    }
}

/* The result never depends on the thread count asked for (header: tasks are fixed by
 * the problem), for the automatic choice. */
static void test_threads_do_not_change_bits(void **state)
{
    (void)state;
    tu_rng r = tu_rng_seed(77);
    char msg[256], what[400];
    for (int it = 0; it < 20; it++) {
        problem q = random_problem(&r);
        describe(&q, what, sizeof what);
        instance in = make_instance(&q, &r, TU_CONTIGUOUS, TU_CONTIGUOUS, TU_CONTIGUOUS);
        const tconv_tensor *b = q.bias ? &in.b.t : NULL;
        tconv_exec e = tconv_exec_default();
        e.num_threads = 1;
        assert_int_equal(tconv_convtranspose2d_ex(&q.p, &in.x.t, &in.w.t, b, &in.y.t, &e, NULL),
                         TCONV_OK);
        tu_tensor y2 = tu_tensor_new(in.y.t.rank, in.y.t.shape, TU_CONTIGUOUS, NULL, NAN);
        e.num_threads = 3;
        assert_int_equal(tconv_convtranspose2d_ex(&q.p, &in.x.t, &in.w.t, b, &y2.t, &e, NULL),
                         TCONV_OK);
        if (!tu_same_bits(&in.y.t, &y2.t, msg, sizeof msg))
            fail_msg("%s: 1 vs 3 threads: %s", what, msg);
        tu_tensor_free(&y2);
        free_instance(&in);
    }
}

/* The test utility's split check refuses an output of another shape than the one its
 * bound was made for, whichever of got and want it is (each case with the other one
 * right, and with values that agree where both have them: only the shape check can
 * refuse it), and accepts the right one, batched of one image or unbatched. */
static void test_bound_checks_shape(void **state)
{
    (void)state;
    tu_rng r = tu_rng_seed(5);
    tconv_params p = tconv_params_default();
    p.stride[0] = p.stride[1] = 2;
    const int64_t xs[4] = {1, 2, 3, 3}, ws[4] = {2, 2, 3, 3}, ys[4] = {1, 2, 7, 7},
                  big[4] = {1, 2, 8, 7}, more[4] = {1, 3, 7, 7};
    tu_tensor x = tu_tensor_new(4, xs, TU_CONTIGUOUS, &r, 0), w = tu_tensor_new(4, ws,
                                                                                TU_CONTIGUOUS, &r, 0);
    tu_tensor y = tu_tensor_new(4, ys, TU_CONTIGUOUS, NULL, 0);
    tu_tensor yb = tu_tensor_new(4, big, TU_CONTIGUOUS, NULL, 0);
    tu_tensor yc = tu_tensor_new(4, more, TU_CONTIGUOUS, NULL, 0);
    assert_int_equal(tconv_convtranspose2d(&p, &x.t, &w.t, NULL, &y.t), TCONV_OK);
    tu_bound bd = tu_bound_new(&p, &x.t, &w.t, NULL);
    const tconv_tensor y3 = tconv_tensor_chw(y.t.data, 2, 7, 7); /* the same, unbatched */
    char msg[256];
    const bool same = tu_check_close_bound(&bd, &y.t, &y.t, 1.0, msg, sizeof msg);
    tconv_tensor top = yb.t; /* yb's first 7 rows hold y: by values alone, y and yb agree */
    top.shape[2] = 7;
    tu_copy_values(&top, &y.t);
    const bool got_big = tu_check_close_bound(&bd, &yb.t, &y.t, 1.0, msg, sizeof msg);
    const bool want_big = tu_check_close_bound(&bd, &y.t, &yb.t, 1.0, msg, sizeof msg);
    const bool channels = tu_check_close_bound(&bd, &y.t, &yc.t, 1.0, msg, sizeof msg);
    const bool unbatched = tu_check_close_bound(&bd, &y3, &y.t, 1.0, msg, sizeof msg);
    tu_bound_free(&bd);
    tu_tensor_free(&x);
    tu_tensor_free(&w);
    tu_tensor_free(&y);
    tu_tensor_free(&yb);
    tu_tensor_free(&yc);
    assert_true(same);
    assert_false(got_big);
    assert_false(want_big);
    assert_false(channels);
    assert_true(unbatched); /* (2, 7, 7) unbatched is the output of one image */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_stride1),
        cmocka_unit_test(test_hand_stride2),
        cmocka_unit_test(test_hand_padding),
        cmocka_unit_test(test_hand_dilation),
        cmocka_unit_test(test_hand_output_padding),
        cmocka_unit_test(test_hand_groups),
        cmocka_unit_test(test_hand_depthwise),
        cmocka_unit_test(test_hand_bias_batch),
        cmocka_unit_test(test_hand_nonsquare),
        cmocka_unit_test(test_hand_unbatched),
        cmocka_unit_test(test_random_vs_exact),
        cmocka_unit_test(test_report),
        cmocka_unit_test(test_report_reference_threads),
        cmocka_unit_test(test_threads_do_not_change_bits),
        cmocka_unit_test(test_bound_checks_shape),
    };
    return cmocka_run_group_tests_name("reference", tests, NULL, NULL);
}
