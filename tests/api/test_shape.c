/*
 * test_shape.c - the output shape of the layer: a sweep of every small legal (and
 * illegal) combination against the size derived from first principles, unbatched
 * rank 3, tconv_output_padding_for_size (PyTorch's output_size=), and the examples of
 * PyTorch's ConvTranspose2d documentation.
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

/* One spatial dimension from the definition rather than the closed formula: input
 * position i and kernel tap t scatter to i*s + t*d; the uncropped output ends at the
 * largest such position, output_padding appends rows after it, and padding crops
 * `pad` from each side. */
static int64_t size_by_scatter(int64_t in, int64_t k, int64_t s, int64_t pad, int64_t d,
                               int64_t op)
{
    int64_t last = 0;
    for (int64_t i = 0; i < in; i++)
        for (int64_t t = 0; t < k; t++)
            if (i * s + t * d > last)
                last = i * s + t * d;
    return last + 1 + op - 2 * pad;
}

/* PyTorch's rule, written as PyTorch states it. */
static bool outpad_legal(int64_t op, int64_t s, int64_t d)
{
    return op >= 0 && (op < s || op < d);
}

static bool contains(const char *hay, const char *needle)
{
    return strstr(hay, needle) != NULL;
}

/* Shape-only tensors (data NULL): every shape query must accept them. */
static tconv_tensor shape_only(int rank, const int64_t *shape)
{
    tconv_tensor t;
    if (rank == 4)
        t = tconv_tensor_nchw(NULL, shape[0], shape[1], shape[2], shape[3]);
    else
        t = tconv_tensor_chw(NULL, shape[0], shape[1], shape[2]);
    return t;
}

typedef struct dim_case {
    int64_t in, k, s, pad, d, op;
} dim_case;

/* Runs one dimension's case on dimension `dim` (the other dimension a fixed legal
 * one) through tconv_output_shape and, when legal, tconv_workspace_size with an output
 * of exactly the predicted shape and one that is a row too large. */
static void check_dim_case(int dim, dim_case c, int *n_legal, int *n_illegal)
{
    const int other = 1 - dim;
    tconv_params p = tconv_params_default();
    p.stride[dim] = c.s;
    p.padding[dim] = c.pad;
    p.dilation[dim] = c.d;
    p.output_padding[dim] = c.op;
    /* the other dimension: H or W 3, k 2, stride 2, pad 1, dil 1, outpad 1 -> 5 */
    p.stride[other] = 2;
    p.padding[other] = 1;
    p.output_padding[other] = 1;
    int64_t in_sp[2], k_sp[2];
    in_sp[dim] = c.in;
    k_sp[dim] = c.k;
    in_sp[other] = 3;
    k_sp[other] = 2;
    const int64_t other_out = 5;

    const int64_t xs[4] = {2, 3, in_sp[0], in_sp[1]};
    const int64_t wsh[4] = {3, 5, k_sp[0], k_sp[1]};
    tconv_tensor x = shape_only(4, xs), w = shape_only(4, wsh);
    int64_t got[4] = {-7, -7, -7, -7};
    tconv_status st = tconv_output_shape(&p, &x, &w, got);

    char where[160];
    snprintf(where, sizeof where, "dim %d: in=%lld k=%lld stride=%lld pad=%lld dil=%lld outpad=%lld",
             dim, (long long)c.in, (long long)c.k, (long long)c.s, (long long)c.pad,
             (long long)c.d, (long long)c.op);

    if (!outpad_legal(c.op, c.s, c.d)) {
        char want[64];
        snprintf(want, sizeof want, "output_padding[%d]=%lld", dim, (long long)c.op);
        if (st != TCONV_ERR_INVALID_ARGUMENT || !contains(tconv_last_error_message(), want))
            fail_msg("%s: illegal output_padding gave %d \"%s\"", where, (int)st,
                     tconv_last_error_message());
        (*n_illegal)++;
        return;
    }
    const int64_t want_sz = size_by_scatter(c.in, c.k, c.s, c.pad, c.d, c.op);
    if (want_sz < 1) {
        if (st != TCONV_ERR_INVALID_ARGUMENT ||
            !contains(tconv_last_error_message(), dim == 0 ? "output height" : "output width") ||
            !contains(tconv_last_error_message(), "must be >= 1"))
            fail_msg("%s: output size %lld < 1 gave %d \"%s\"", where, (long long)want_sz,
                     (int)st, tconv_last_error_message());
        (*n_illegal)++;
        return;
    }
    if (st != TCONV_OK)
        fail_msg("%s: status %d \"%s\"", where, (int)st, tconv_last_error_message());
    int64_t want[4] = {2, 5, 0, 0};
    want[2 + dim] = want_sz;
    want[2 + other] = other_out;
    for (int i = 0; i < 4; i++)
        if (got[i] != want[i])
            fail_msg("%s: out_shape[%d]=%lld, want %lld", where, i, (long long)got[i],
                     (long long)want[i]);

    /* The forward path must agree: an output of the predicted shape is accepted, one a
     * row larger in this dimension is a SHAPE_MISMATCH naming the expected size. */
    size_t bytes = 1;
    tconv_tensor y = shape_only(4, want);
    if (tconv_workspace_size(&p, &x, &w, NULL, &y, NULL, &bytes) != TCONV_OK)
        fail_msg("%s: workspace_size rejects the predicted output: %s", where,
                 tconv_last_error_message());
    int64_t bigger[4] = {want[0], want[1], want[2], want[3]};
    bigger[2 + dim]++;
    y = shape_only(4, bigger);
    char msg[64];
    snprintf(msg, sizeof msg, "must be %s=%lld", dim == 0 ? "Hout" : "Wout", (long long)want_sz);
    if (tconv_workspace_size(&p, &x, &w, NULL, &y, NULL, &bytes) != TCONV_ERR_SHAPE_MISMATCH ||
        !contains(tconv_last_error_message(), msg))
        fail_msg("%s: an output one larger was not a SHAPE_MISMATCH \"%s\": \"%s\"", where, msg,
                 tconv_last_error_message());
    (*n_legal)++;
}

/* Every combination of small sizes, in each dimension. */
static void test_sweep(void **state)
{
    (void)state;
    int legal = 0, illegal = 0;
    for (int dim = 0; dim < 2; dim++)
        for (int64_t in = 1; in <= 4; in++)
            for (int64_t k = 1; k <= 4; k++)
                for (int64_t s = 1; s <= 4; s++)
                    for (int64_t pad = 0; pad <= 4; pad++)
                        for (int64_t d = 1; d <= 3; d++)
                            for (int64_t op = 0; op <= 3; op++) {
                                dim_case c = {in, k, s, pad, d, op};
                                check_dim_case(dim, c, &legal, &illegal);
                            }
    print_message("%d legal and %d illegal dimension cases\n", legal, illegal);
    /* the sweep must reach both outcomes in quantity */
    assert_true(legal > 2000);
    assert_true(illegal > 1000);
}

/* Channels and groups: Cout = weight.shape[1] * groups, whatever Cin is. */
static void test_channels_and_groups(void **state)
{
    (void)state;
    for (int64_t groups = 1; groups <= 4; groups++)
        for (int64_t cin_g = 1; cin_g <= 3; cin_g++)
            for (int64_t cout_g = 1; cout_g <= 3; cout_g++)
                for (int64_t n = 0; n <= 2; n++) {
                    tconv_params p = tconv_params_default();
                    p.groups = groups;
                    tconv_tensor x = tconv_tensor_nchw(NULL, n, cin_g * groups, 2, 3);
                    tconv_tensor w = tconv_tensor_nchw(NULL, cin_g * groups, cout_g, 2, 2);
                    int64_t got[4] = {-1, -1, -1, -1};
                    assert_int_equal(tconv_output_shape(&p, &x, &w, got), TCONV_OK);
                    assert_int_equal(got[0], n);
                    assert_int_equal(got[1], cout_g * groups);
                    assert_int_equal(got[2], 3);
                    assert_int_equal(got[3], 4);
                }
}

/* Unbatched: rank 3 in, rank 3 out, and exactly three entries written. */
static void test_unbatched_rank3(void **state)
{
    (void)state;
    tconv_params p = tconv_params_default();
    p.stride[0] = 3;
    p.stride[1] = 2;
    p.padding[1] = 1;
    p.dilation[0] = 2;
    p.output_padding[0] = 2;
    p.groups = 2;
    tconv_tensor x = tconv_tensor_chw(NULL, 4, 5, 6);
    tconv_tensor w = tconv_tensor_nchw(NULL, 4, 3, 2, 3);
    int64_t got[4] = {-9, -9, -9, -9};
    assert_int_equal(tconv_output_shape(&p, &x, &w, got), TCONV_OK);
    /* Hout = 4*3 + 2*1 + 2 + 1 = 17, Wout = 5*2 - 2 + 2 + 1 = 11 */
    assert_int_equal(got[0], 6);
    assert_int_equal(got[1], 17);
    assert_int_equal(got[2], 11);
    assert_int_equal(got[3], -9); /* untouched */

    /* The same layer batched with N = 1 gives the same shape after N. */
    tconv_tensor x4 = tconv_tensor_nchw(NULL, 1, 4, 5, 6);
    int64_t got4[4];
    assert_int_equal(tconv_output_shape(&p, &x4, &w, got4), TCONV_OK);
    assert_int_equal(got4[0], 1);
    assert_memory_equal(got4 + 1, got, 3 * sizeof(int64_t));

    /* A rank-4 output for a rank-3 input is refused. */
    size_t bytes;
    tconv_tensor y4 = tconv_tensor_nchw(NULL, 1, 6, 17, 11);
    assert_int_equal(tconv_workspace_size(&p, &x, &w, NULL, &y4, NULL, &bytes),
                     TCONV_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(tconv_last_error_message(), "output.rank=4 must be 3"));
    tconv_tensor y3 = tconv_tensor_chw(NULL, 6, 17, 11);
    assert_int_equal(tconv_workspace_size(&p, &x, &w, NULL, &y3, NULL, &bytes), TCONV_OK);
}

/* Unbatched forward equals the batched forward with N = 1, bit for bit. */
static void test_unbatched_forward(void **state)
{
    (void)state;
    tu_rng r = tu_rng_seed(11);
    tconv_params p = tconv_params_default();
    p.stride[0] = 2;
    p.padding[1] = 1;
    p.groups = 2;
    const int64_t xs3[3] = {4, 3, 5}, xs4[4] = {1, 4, 3, 5}, wsh[4] = {4, 2, 3, 3};
    const int64_t ys3[3] = {4, 7, 5}, ys4[4] = {1, 4, 7, 5}, bsh[1] = {4};
    tu_tensor x3 = tu_tensor_new(3, xs3, TU_CONTIGUOUS, &r, 0);
    tu_tensor x4 = tu_tensor_new(4, xs4, TU_CONTIGUOUS, NULL, 0);
    memcpy(x4.buf, x3.buf, x3.buf_len * sizeof(float));
    tu_tensor w = tu_tensor_new(4, wsh, TU_CONTIGUOUS, &r, 0);
    tu_tensor b = tu_tensor_new(1, bsh, TU_CONTIGUOUS, &r, 0);
    tu_tensor y3 = tu_tensor_new(3, ys3, TU_CONTIGUOUS, NULL, 0);
    tu_tensor y4 = tu_tensor_new(4, ys4, TU_CONTIGUOUS, NULL, 0);
    assert_int_equal(tconv_convtranspose2d(&p, &x3.t, &w.t, &b.t, &y3.t), TCONV_OK);
    assert_int_equal(tconv_convtranspose2d(&p, &x4.t, &w.t, &b.t, &y4.t), TCONV_OK);
    assert_int_equal(y3.buf_len, y4.buf_len);
    assert_memory_equal(y3.buf, y4.buf, y3.buf_len * sizeof(float));
    char msg[256];
    if (!tu_check_exact(&p, &x3.t, &w.t, &b.t, &y3.t, 1.0, msg, sizeof msg))
        fail_msg("unbatched: %s", msg);
    tu_tensor_free(&x3);
    tu_tensor_free(&x4);
    tu_tensor_free(&w);
    tu_tensor_free(&b);
    tu_tensor_free(&y3);
    tu_tensor_free(&y4);
}

/* output_size -> output_padding: every size in [min, min + stride - 1] maps to
 * size - min; min - 1 and min + stride are refused with the valid range named. */
static void test_output_padding_for_size(void **state)
{
    (void)state;
    int ok_count = 0, refused = 0;
    for (int dim = 0; dim < 2; dim++)
        for (int64_t in = 1; in <= 4; in++)
            for (int64_t k = 1; k <= 4; k++)
                for (int64_t s = 1; s <= 4; s++)
                    for (int64_t pad = 0; pad <= 3; pad++)
                        for (int64_t d = 1; d <= 3; d++) {
                            const int other = 1 - dim;
                            tconv_params p = tconv_params_default();
                            p.stride[dim] = s;
                            p.padding[dim] = pad;
                            p.dilation[dim] = d;
                            /* ignored by the call: garbage must not matter */
                            p.output_padding[0] = 99;
                            p.output_padding[1] = -5;
                            int64_t in_sz[2], k_sz[2], out_sz[2], op[2];
                            in_sz[dim] = in;
                            k_sz[dim] = k;
                            in_sz[other] = 4; /* other dim: stride 1 -> exactly 6 */
                            k_sz[other] = 3;
                            out_sz[other] = 6;
                            const int64_t lo = size_by_scatter(in, k, s, pad, d, 0);
                            const int64_t hi = lo + s - 1;
                            for (int64_t sz = lo - 1; sz <= hi + 1; sz++) {
                                out_sz[dim] = sz;
                                op[0] = op[1] = -42;
                                tconv_status st =
                                    tconv_output_padding_for_size(&p, in_sz, k_sz, out_sz, op);
                                if (sz >= lo && sz <= hi && sz >= 1) {
                                    if (st != TCONV_OK)
                                        fail_msg("dim %d in %lld k %lld s %lld pad %lld d %lld: "
                                                 "size %lld refused: %s",
                                                 dim, (long long)in, (long long)k, (long long)s,
                                                 (long long)pad, (long long)d, (long long)sz,
                                                 tconv_last_error_message());
                                    assert_int_equal(op[dim], sz - lo);
                                    assert_int_equal(op[other], 0);
                                    assert_true(outpad_legal(op[dim], s, d));
                                    ok_count++;
                                } else {
                                    assert_int_equal(st, TCONV_ERR_INVALID_ARGUMENT);
                                    assert_int_equal(op[0], -42); /* nothing written */
                                    assert_int_equal(op[1], -42);
                                    char want[96];
                                    snprintf(want, sizeof want, "output_size[%d]=%lld", dim,
                                             (long long)sz);
                                    const char *m = tconv_last_error_message();
                                    if (!contains(m, want))
                                        fail_msg("message \"%s\" lacks \"%s\"", m, want);
                                    /* the message gives the valid range, which starts
                                     * at 1 at the least, or says there is none */
                                    if (hi >= 1)
                                        snprintf(want, sizeof want, "from %lld to %lld",
                                                 (long long)(lo < 1 ? 1 : lo), (long long)hi);
                                    else
                                        snprintf(want, sizeof want, "no size is valid");
                                    if (!contains(m, want))
                                        fail_msg("message \"%s\" lacks \"%s\"", m, want);
                                    refused++;
                                }
                            }
                        }
    print_message("%d sizes accepted, %d refused\n", ok_count, refused);
    assert_true(ok_count > 1000);
    assert_true(refused > 1000);
}

/* The output_padding found is the one that makes the forward call produce that size. */
static void test_output_padding_roundtrip(void **state)
{
    (void)state;
    tconv_params p = tconv_params_default();
    p.stride[0] = 3;
    p.stride[1] = 4;
    p.padding[0] = 1;
    p.dilation[1] = 2;
    const int64_t in_sz[2] = {5, 4}, k_sz[2] = {3, 2};
    for (int64_t a = 0; a < 3; a++)
        for (int64_t b = 0; b < 4; b++) {
            /* min sizes: (5-1)*3 - 2 + 2 + 1 = 13, (4-1)*4 + 2 + 1 = 15 */
            int64_t out_sz[2] = {13 + a, 15 + b}, op[2];
            assert_int_equal(tconv_output_padding_for_size(&p, in_sz, k_sz, out_sz, op), TCONV_OK);
            tconv_params q = p;
            q.output_padding[0] = op[0];
            q.output_padding[1] = op[1];
            tconv_tensor x = tconv_tensor_nchw(NULL, 1, 2, in_sz[0], in_sz[1]);
            tconv_tensor w = tconv_tensor_nchw(NULL, 2, 1, k_sz[0], k_sz[1]);
            int64_t shape[4];
            assert_int_equal(tconv_output_shape(&q, &x, &w, shape), TCONV_OK);
            assert_int_equal(shape[2], out_sz[0]);
            assert_int_equal(shape[3], out_sz[1]);
        }
}

/* Its own argument checks. */
static void test_output_padding_for_size_errors(void **state)
{
    (void)state;
    tconv_params p = tconv_params_default();
    int64_t in_sz[2] = {3, 3}, k_sz[2] = {2, 2}, out_sz[2] = {4, 4}, op[2];
    assert_int_equal(tconv_output_padding_for_size(NULL, in_sz, k_sz, out_sz, op),
                     TCONV_ERR_NULL_POINTER);
    assert_int_equal(tconv_output_padding_for_size(&p, NULL, k_sz, out_sz, op),
                     TCONV_ERR_NULL_POINTER);
    assert_int_equal(tconv_output_padding_for_size(&p, in_sz, NULL, out_sz, op),
                     TCONV_ERR_NULL_POINTER);
    assert_int_equal(tconv_output_padding_for_size(&p, in_sz, k_sz, NULL, op),
                     TCONV_ERR_NULL_POINTER);
    assert_int_equal(tconv_output_padding_for_size(&p, in_sz, k_sz, out_sz, NULL),
                     TCONV_ERR_NULL_POINTER);
    assert_non_null(strstr(tconv_last_error_message(), "must not be NULL"));

    in_sz[1] = 0;
    assert_int_equal(tconv_output_padding_for_size(&p, in_sz, k_sz, out_sz, op),
                     TCONV_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(tconv_last_error_message(), "in_size[1]=0 must be >= 1"));
    in_sz[1] = 3;
    k_sz[0] = -2;
    assert_int_equal(tconv_output_padding_for_size(&p, in_sz, k_sz, out_sz, op),
                     TCONV_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(tconv_last_error_message(), "kernel_size[0]=-2 must be >= 1"));
    k_sz[0] = 2;
    p.stride[1] = 0;
    assert_int_equal(tconv_output_padding_for_size(&p, in_sz, k_sz, out_sz, op),
                     TCONV_ERR_INVALID_ARGUMENT);
    assert_non_null(strstr(tconv_last_error_message(), "stride[1]=0 must be >= 1"));
    p.stride[1] = 1;
    assert_int_equal(tconv_output_padding_for_size(&p, in_sz, k_sz, out_sz, op), TCONV_OK);
    assert_string_equal(tconv_last_error_message(), "");
    assert_int_equal(op[0], 0);
    assert_int_equal(op[1], 0);

    /* Sizes past int64: (2-1)*INT64_MAX + 1 does not fit. */
    p.stride[0] = INT64_MAX;
    in_sz[0] = 2;
    k_sz[0] = 1;
    out_sz[0] = INT64_MAX;
    assert_int_equal(tconv_output_padding_for_size(&p, in_sz, k_sz, out_sz, op),
                     TCONV_ERR_SIZE_OVERFLOW);
    /* min = INT64_MAX fits, but min + stride - 1 does not */
    p.stride[0] = 2;
    p.dilation[0] = INT64_MAX;
    in_sz[0] = 1;
    k_sz[0] = 2;
    assert_int_equal(tconv_output_padding_for_size(&p, in_sz, k_sz, out_sz, op),
                     TCONV_ERR_SIZE_OVERFLOW);
}

/* The examples of torch.nn.ConvTranspose2d's documentation. */
static void test_pytorch_doc_examples(void **state)
{
    (void)state;
    int64_t shape[4];

    /* m = nn.ConvTranspose2d(16, 33, 3, stride=2); input 20x16x50x100 -> 20x33x101x201 */
    tconv_params p = tconv_params_default();
    p.stride[0] = p.stride[1] = 2;
    tconv_tensor x = tconv_tensor_nchw(NULL, 20, 16, 50, 100);
    tconv_tensor w = tconv_tensor_nchw(NULL, 16, 33, 3, 3);
    assert_int_equal(tconv_output_shape(&p, &x, &w, shape), TCONV_OK);
    assert_int_equal(shape[0], 20);
    assert_int_equal(shape[1], 33);
    assert_int_equal(shape[2], 101);
    assert_int_equal(shape[3], 201);

    /* nn.ConvTranspose2d(16, 33, (3, 5), stride=(2, 1), padding=(4, 2)) -> 20x33x93x100 */
    p = tconv_params_default();
    p.stride[0] = 2;
    p.padding[0] = 4;
    p.padding[1] = 2;
    w = tconv_tensor_nchw(NULL, 16, 33, 3, 5);
    assert_int_equal(tconv_output_shape(&p, &x, &w, shape), TCONV_OK);
    assert_int_equal(shape[0], 20);
    assert_int_equal(shape[1], 33);
    assert_int_equal(shape[2], 93);
    assert_int_equal(shape[3], 100);

    /* downsample = nn.Conv2d(16, 16, 3, stride=2, padding=1): 1x16x12x12 -> 1x16x6x6,
     * by the convolution's formula floor((H + 2p - d(k-1) - 1) / s) + 1. */
    const int64_t conv_out = (12 + 2 * 1 - 1 * (3 - 1) - 1) / 2 + 1;
    assert_int_equal(conv_out, 6);

    /* upsample = nn.ConvTranspose2d(16, 16, 3, stride=2, padding=1);
     * upsample(h, output_size=input.size()) -> 1x16x12x12 */
    p = tconv_params_default();
    p.stride[0] = p.stride[1] = 2;
    p.padding[0] = p.padding[1] = 1;
    const int64_t in_sz[2] = {conv_out, conv_out}, k_sz[2] = {3, 3}, out_sz[2] = {12, 12};
    int64_t op[2];
    assert_int_equal(tconv_output_padding_for_size(&p, in_sz, k_sz, out_sz, op), TCONV_OK);
    assert_int_equal(op[0], 1);
    assert_int_equal(op[1], 1);
    p.output_padding[0] = op[0];
    p.output_padding[1] = op[1];

    tu_rng r = tu_rng_seed(2024);
    const int64_t hs[4] = {1, 16, conv_out, conv_out}, wsh[4] = {16, 16, 3, 3};
    const int64_t ys[4] = {1, 16, 12, 12}, bsh[1] = {16};
    tu_tensor h = tu_tensor_new(4, hs, TU_CONTIGUOUS, &r, 0);
    tu_tensor wt = tu_tensor_new(4, wsh, TU_CONTIGUOUS, &r, 0);
    tu_tensor b = tu_tensor_new(1, bsh, TU_CONTIGUOUS, &r, 0);
    tu_tensor y = tu_tensor_new(4, ys, TU_CONTIGUOUS, NULL, NAN);
    assert_int_equal(tconv_output_shape(&p, &h.t, &wt.t, shape), TCONV_OK);
    assert_memory_equal(shape, ys, sizeof ys);
    if (tconv_convtranspose2d(&p, &h.t, &wt.t, &b.t, &y.t) != TCONV_OK)
        fail_msg("forward: %s", tconv_last_error_message());
    char msg[256];
    if (!tu_check_exact(&p, &h.t, &wt.t, &b.t, &y.t, 1.0, msg, sizeof msg))
        fail_msg("upsample: %s", msg);
    tu_tensor_free(&h);
    tu_tensor_free(&wt);
    tu_tensor_free(&b);
    tu_tensor_free(&y);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_sweep),
        cmocka_unit_test(test_channels_and_groups),
        cmocka_unit_test(test_unbatched_rank3),
        cmocka_unit_test(test_unbatched_forward),
        cmocka_unit_test(test_output_padding_for_size),
        cmocka_unit_test(test_output_padding_roundtrip),
        cmocka_unit_test(test_output_padding_for_size_errors),
        cmocka_unit_test(test_pytorch_doc_examples),
    };
    return cmocka_run_group_tests_name("shape", tests, NULL, NULL);
}
