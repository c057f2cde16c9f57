/*
 * test_views.c - tensors are views: every layout of every operand (contiguous,
 * channels-last, cropped, reversed) gives the reference's contiguous result bit for
 * bit; the tconv_tensor_* helpers; empty batches; broadcast (stride 0) inputs; and
 * outputs that are sub-views of a larger buffer, whose other elements must survive.
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

static const char *const layout_name[TU_LAYOUT_COUNT] = {"contiguous", "channels-last",
                                                         "cropped", "reversed"};

/* A value no computation here produces, to spot writes outside a view. */
#define SENTINEL (-12345.5f)

static tconv_status run_reference(const tconv_params *p, const tconv_tensor *x,
                                  const tconv_tensor *w, const tconv_tensor *b,
                                  const tconv_tensor *y)
{
    tconv_exec e = tconv_exec_default();
    e.algorithm = TCONV_ALGO_REFERENCE;
    return tconv_convtranspose2d_ex(p, x, w, b, y, &e, NULL);
}

/* Every buffer element outside the view must still hold SENTINEL. */
static void check_outside_untouched(const tu_tensor *t, const char *what)
{
    char *in_view = calloc(t->buf_len, 1);
    if (tu_numel(&t->t) > 0) {
        int64_t idx[TCONV_MAX_RANK] = {0, 0, 0, 0};
        do
            in_view[tu_at(&t->t, idx) - t->buf] = 1;
        while (tu_next_index(t->t.rank, t->t.shape, idx));
    }
    for (size_t i = 0; i < t->buf_len; i++)
        if (!in_view[i] && t->buf[i] != SENTINEL) {
            free(in_view);
            fail_msg("%s: buffer element %zu outside the view was overwritten with %.9g", what,
                     i, (double)t->buf[i]);
        }
    free(in_view);
}

typedef struct views_problem {
    tconv_params p;
    int rank;
    int64_t xs[4], ws[4], ys[4], bs[1];
} views_problem;

/* Groups, non-square everything, output_padding and padding on both axes, bias. */
static views_problem problem_batched(void)
{
    views_problem v;
    memset(&v, 0, sizeof v);
    v.p = tconv_params_default();
    v.p.stride[0] = 2;
    v.p.stride[1] = 3;
    v.p.padding[0] = 1;
    v.p.padding[1] = 2;
    v.p.output_padding[0] = 1;
    v.p.output_padding[1] = 1;
    v.p.dilation[0] = 1;
    v.p.dilation[1] = 2;
    v.p.groups = 2;
    v.rank = 4;
    /* Hout = 4*2 - 2 + 2 + 1 + 1 = 10, Wout = 3*3 - 4 + 2*2 + 1 + 1 = 11 */
    const int64_t xs[4] = {2, 4, 5, 4}, ws[4] = {4, 3, 3, 3}, ys[4] = {2, 6, 10, 11};
    memcpy(v.xs, xs, sizeof xs);
    memcpy(v.ws, ws, sizeof ws);
    memcpy(v.ys, ys, sizeof ys);
    v.bs[0] = 6;
    return v;
}

static views_problem problem_unbatched(void)
{
    views_problem v = problem_batched();
    v.rank = 3;
    /* drop N: (C, H, W) */
    memmove(v.xs, v.xs + 1, 3 * sizeof(int64_t));
    memmove(v.ys, v.ys + 1, 3 * sizeof(int64_t));
    v.xs[3] = v.ys[3] = 0;
    return v;
}

/* All 4^4 layout combinations against the all-contiguous result. */
static void all_layouts(const views_problem *v)
{
    tu_rng r = tu_rng_seed(99);
    tu_tensor x0 = tu_tensor_new(v->rank, v->xs, TU_CONTIGUOUS, &r, 0);
    tu_tensor w0 = tu_tensor_new(4, v->ws, TU_CONTIGUOUS, &r, 0);
    tu_tensor b0 = tu_tensor_new(1, v->bs, TU_CONTIGUOUS, &r, 0);
    tu_tensor y0 = tu_tensor_new(v->rank, v->ys, TU_CONTIGUOUS, NULL, NAN);
    assert_int_equal(run_reference(&v->p, &x0.t, &w0.t, &b0.t, &y0.t), TCONV_OK);
    char msg[256];
    if (!tu_check_exact(&v->p, &x0.t, &w0.t, &b0.t, &y0.t, 1.0, msg, sizeof msg))
        fail_msg("contiguous: %s", msg);

    int combos = 0;
    for (int lx = 0; lx < TU_LAYOUT_COUNT; lx++)
        for (int lw = 0; lw < TU_LAYOUT_COUNT; lw++)
            for (int lb = 0; lb < TU_LAYOUT_COUNT; lb++)
                for (int ly = 0; ly < TU_LAYOUT_COUNT; ly++) {
                    tu_tensor x = tu_tensor_new(v->rank, v->xs, (tu_layout)lx, NULL, 0);
                    tu_tensor w = tu_tensor_new(4, v->ws, (tu_layout)lw, NULL, 0);
                    tu_tensor b = tu_tensor_new(1, v->bs, (tu_layout)lb, NULL, 0);
                    tu_tensor y = tu_tensor_new(v->rank, v->ys, (tu_layout)ly, NULL, SENTINEL);
                    tu_copy_values(&x.t, &x0.t);
                    tu_copy_values(&w.t, &w0.t);
                    tu_copy_values(&b.t, &b0.t);
                    char what[160];
                    snprintf(what, sizeof what, "rank %d: x %s, w %s, b %s, y %s", v->rank,
                             layout_name[lx], layout_name[lw], layout_name[lb], layout_name[ly]);
                    tconv_status st = run_reference(&v->p, &x.t, &w.t, &b.t, &y.t);
                    if (st != TCONV_OK)
                        fail_msg("%s: status %d: %s", what, (int)st, tconv_last_error_message());
                    if (!tu_same_bits(&y.t, &y0.t, msg, sizeof msg))
                        fail_msg("%s: differs from contiguous: %s", what, msg);
                    check_outside_untouched(&y, what);
                    /* the automatic choice accepts the layout too, within the bound */
                    st = tconv_convtranspose2d(&v->p, &x.t, &w.t, &b.t, &y.t);
                    if (st != TCONV_OK)
                        fail_msg("%s: auto: status %d: %s", what, (int)st,
                                 tconv_last_error_message());
                    if (!tu_check_exact(&v->p, &x.t, &w.t, &b.t, &y.t, 1.0, msg, sizeof msg))
                        fail_msg("%s: auto: %s", what, msg);
                    check_outside_untouched(&y, what);
                    tu_tensor_free(&x);
                    tu_tensor_free(&w);
                    tu_tensor_free(&b);
                    tu_tensor_free(&y);
                    combos++;
                }
    assert_int_equal(combos, 256);
    tu_tensor_free(&x0);
    tu_tensor_free(&w0);
    tu_tensor_free(&b0);
    tu_tensor_free(&y0);
}

static void test_layouts_batched(void **state)
{
    (void)state;
    views_problem v = problem_batched();
    all_layouts(&v);
}

static void test_layouts_unbatched(void **state)
{
    (void)state;
    views_problem v = problem_unbatched();
    all_layouts(&v);
}

/* Hand-made views the helper layouts do not produce: every dim reversed, dims
 * permuted (W slowest), and every other column (gaps inside the view). */
static void test_exotic_strides(void **state)
{
    (void)state;
    views_problem v = problem_batched();
    tu_rng r = tu_rng_seed(3);
    tu_tensor x0 = tu_tensor_new(4, v.xs, TU_CONTIGUOUS, &r, 0);
    tu_tensor w0 = tu_tensor_new(4, v.ws, TU_CONTIGUOUS, &r, 0);
    tu_tensor b0 = tu_tensor_new(1, v.bs, TU_CONTIGUOUS, &r, 0);
    tu_tensor y0 = tu_tensor_new(4, v.ys, TU_CONTIGUOUS, NULL, NAN);
    assert_int_equal(run_reference(&v.p, &x0.t, &w0.t, &b0.t, &y0.t), TCONV_OK);
    char msg[256];

    /* input with every stride negated, data at the last element */
    tu_tensor xr = tu_tensor_new(4, v.xs, TU_CONTIGUOUS, NULL, 0);
    int64_t last = 0;
    for (int d = 0; d < 4; d++) {
        last += (v.xs[d] - 1) * xr.t.stride[d];
        xr.t.stride[d] = -xr.t.stride[d];
    }
    xr.t.data = xr.buf + last;
    tu_copy_values(&xr.t, &x0.t);

    /* weight with dims stored in the order (kw, ky, cout_g, cin) */
    tu_tensor wp = tu_tensor_new(4, v.ws, TU_CONTIGUOUS, NULL, 0);
    wp.t.stride[3] = v.ws[2] * v.ws[1] * v.ws[0];
    wp.t.stride[2] = v.ws[1] * v.ws[0];
    wp.t.stride[1] = v.ws[0];
    wp.t.stride[0] = 1;
    tu_copy_values(&wp.t, &w0.t);

    /* bias every third element, output every other column of a wider buffer */
    const int64_t bwide[1] = {3 * v.bs[0]};
    tu_tensor bw = tu_tensor_new(1, bwide, TU_CONTIGUOUS, NULL, 0);
    bw.t.shape[0] = v.bs[0];
    bw.t.stride[0] = 3;
    tu_copy_values(&bw.t, &b0.t);
    const int64_t ywide[4] = {v.ys[0], v.ys[1], v.ys[2], 2 * v.ys[3]};
    tu_tensor yg = tu_tensor_new(4, ywide, TU_CONTIGUOUS, NULL, SENTINEL);
    yg.t.shape[3] = v.ys[3];
    yg.t.stride[3] = 2;

    assert_int_equal(run_reference(&v.p, &xr.t, &wp.t, &bw.t, &yg.t), TCONV_OK);
    if (!tu_same_bits(&yg.t, &y0.t, msg, sizeof msg))
        fail_msg("exotic strides: %s", msg);
    check_outside_untouched(&yg, "every other column");

    tu_tensor_free(&x0);
    tu_tensor_free(&w0);
    tu_tensor_free(&b0);
    tu_tensor_free(&y0);
    tu_tensor_free(&xr);
    tu_tensor_free(&wp);
    tu_tensor_free(&bw);
    tu_tensor_free(&yg);
}

/* The helpers compute dense strides for their layout and nothing else. */
static void test_tensor_helpers(void **state)
{
    (void)state;
    float buf[1];
    tconv_tensor t = tconv_tensor_nchw(buf, 2, 3, 5, 7);
    assert_ptr_equal(t.data, buf);
    assert_int_equal(t.dtype, TCONV_DTYPE_F32);
    assert_int_equal(t.rank, 4);
    const int64_t s4[4] = {2, 3, 5, 7};
    assert_memory_equal(t.shape, s4, sizeof s4);
    const int64_t nchw[4] = {105, 35, 7, 1};
    assert_memory_equal(t.stride, nchw, sizeof nchw);
    assert_int_equal(t.reserved[0], 0);
    assert_int_equal(t.reserved[1], 0);

    t = tconv_tensor_nhwc(buf, 2, 3, 5, 7);
    assert_int_equal(t.rank, 4);
    assert_memory_equal(t.shape, s4, sizeof s4); /* shape stays N, C, H, W */
    const int64_t nhwc[4] = {105, 1, 21, 3};      /* memory order N, H, W, C */
    assert_memory_equal(t.stride, nhwc, sizeof nhwc);
    assert_int_equal(t.dtype, TCONV_DTYPE_F32);
    assert_int_equal(t.reserved[0], 0);
    assert_int_equal(t.reserved[1], 0);

    t = tconv_tensor_chw(buf, 3, 5, 7);
    assert_int_equal(t.rank, 3);
    const int64_t s3[3] = {3, 5, 7}, chw[3] = {35, 7, 1};
    assert_memory_equal(t.shape, s3, sizeof s3);
    assert_memory_equal(t.stride, chw, sizeof chw);
    assert_int_equal(t.dtype, TCONV_DTYPE_F32);
    assert_int_equal(t.reserved[0], 0);
    assert_int_equal(t.reserved[1], 0);

    t = tconv_tensor_1d(NULL, 9);
    assert_null(t.data);
    assert_int_equal(t.rank, 1);
    assert_int_equal(t.shape[0], 9);
    assert_int_equal(t.stride[0], 1);
    assert_int_equal(t.dtype, TCONV_DTYPE_F32);
    assert_int_equal(t.reserved[0], 0);
    assert_int_equal(t.reserved[1], 0);

    /* An empty batch keeps its shape and still gets usable strides. */
    t = tconv_tensor_nchw(NULL, 0, 3, 5, 7);
    assert_int_equal(t.shape[0], 0);
    assert_memory_equal(t.stride + 1, nchw + 1, 3 * sizeof(int64_t));
}

/* A channels-last output made by the helper holds the NHWC memory image. */
static void test_nhwc_helper_memory(void **state)
{
    (void)state;
    /* 1x1 kernel, weight 1, stride 1: the output equals the input, so the NHWC output
     * buffer must be the input's channels-last transpose. */
    float x[2 * 3 * 4], w[2 * 2] = {1, 0, 0, 1}, y[2 * 3 * 4];
    for (int i = 0; i < 24; i++)
        x[i] = (float)i;
    tconv_params p = tconv_params_default();
    tconv_tensor xt = tconv_tensor_nchw(x, 1, 2, 3, 4);
    tconv_tensor wt = tconv_tensor_nchw(w, 2, 2, 1, 1);
    tconv_tensor yt = tconv_tensor_nhwc(y, 1, 2, 3, 4);
    assert_int_equal(tconv_convtranspose2d(&p, &xt, &wt, NULL, &yt), TCONV_OK);
    for (int h = 0; h < 3; h++)
        for (int ww = 0; ww < 4; ww++)
            for (int c = 0; c < 2; c++)
                assert_true(y[(h * 4 + ww) * 2 + c] == x[(c * 3 + h) * 4 + ww]);
}

/* N = 0: nothing to compute; NULL data is fine and a real buffer is not touched. */
static void test_empty_batch(void **state)
{
    (void)state;
    views_problem v = problem_batched();
    tu_rng r = tu_rng_seed(8);
    tu_tensor w = tu_tensor_new(4, v.ws, TU_CONTIGUOUS, &r, 0);
    tu_tensor b = tu_tensor_new(1, v.bs, TU_CONTIGUOUS, &r, 0);
    v.xs[0] = v.ys[0] = 0;

    tconv_tensor x = tconv_tensor_nchw(NULL, 0, v.xs[1], v.xs[2], v.xs[3]);
    tconv_tensor y = tconv_tensor_nchw(NULL, 0, v.ys[1], v.ys[2], v.ys[3]);
    tconv_report rep;
    assert_int_equal(tconv_convtranspose2d(&v.p, &x, &w.t, &b.t, &y), TCONV_OK);
    assert_string_equal(tconv_last_error_message(), "");
    assert_int_equal(tconv_convtranspose2d_ex(&v.p, &x, &w.t, NULL, &y, NULL, &rep), TCONV_OK);
    assert_int_equal(run_reference(&v.p, &x, &w.t, &b.t, &y), TCONV_OK);

    /* a real (one-image) buffer behind an empty view stays as it was */
    const int64_t one[4] = {1, v.ys[1], v.ys[2], v.ys[3]};
    tu_tensor ybuf = tu_tensor_new(4, one, TU_CONTIGUOUS, NULL, SENTINEL);
    y.data = ybuf.buf;
    assert_int_equal(tconv_convtranspose2d(&v.p, &x, &w.t, &b.t, &y), TCONV_OK);
    assert_int_equal(run_reference(&v.p, &x, &w.t, &b.t, &y), TCONV_OK);
    for (size_t i = 0; i < ybuf.buf_len; i++)
        if (ybuf.buf[i] != SENTINEL)
            fail_msg("empty batch wrote element %zu", i);

    /* the output shape of an empty batch is still computed */
    int64_t shape[4];
    assert_int_equal(tconv_output_shape(&v.p, &x, &w.t, shape), TCONV_OK);
    assert_int_equal(shape[0], 0);
    assert_memory_equal(shape + 1, v.ys + 1, 3 * sizeof(int64_t));

    /* a plan for N = 0 runs too */
    tconv_plan *plan = NULL;
    assert_int_equal(tconv_plan_create(&plan, &v.p, &x, &w.t, &b.t, NULL), TCONV_OK);
    assert_int_equal(tconv_plan_run(plan, &x, &y, NULL, NULL), TCONV_OK);
    tconv_plan_destroy(plan);
    for (size_t i = 0; i < ybuf.buf_len; i++)
        if (ybuf.buf[i] != SENTINEL)
            fail_msg("empty batch (plan) wrote element %zu", i);
    tu_tensor_free(&ybuf);
    tu_tensor_free(&w);
    tu_tensor_free(&b);
}

/* Stride 0 repeats one element along a dimension: the result equals that of the
 * materialised copy, bit for bit, for the input, the weight and the bias. */
static void test_broadcast(void **state)
{
    (void)state;
    views_problem v = problem_batched();
    tu_rng r = tu_rng_seed(21);
    char msg[256];
    /* which dims of the input get stride 0, as a bit mask over (N, C, H, W) */
    for (unsigned mask = 1; mask < 16; mask++) {
        tu_tensor small = tu_tensor_new(4, v.xs, TU_CONTIGUOUS, &r, 0);
        tconv_tensor xb = small.t;
        for (int d = 0; d < 4; d++)
            if (mask & (1u << d))
                xb.stride[d] = 0;
        tu_tensor xfull = tu_tensor_new(4, v.xs, TU_CONTIGUOUS, NULL, 0);
        tu_copy_values(&xfull.t, &xb);
        tu_tensor w = tu_tensor_new(4, v.ws, TU_CONTIGUOUS, &r, 0);
        tu_tensor b = tu_tensor_new(1, v.bs, TU_CONTIGUOUS, &r, 0);
        tu_tensor y1 = tu_tensor_new(4, v.ys, TU_CONTIGUOUS, NULL, NAN);
        tu_tensor y2 = tu_tensor_new(4, v.ys, TU_CONTIGUOUS, NULL, NAN);
        assert_int_equal(run_reference(&v.p, &xb, &w.t, &b.t, &y1.t), TCONV_OK);
        assert_int_equal(run_reference(&v.p, &xfull.t, &w.t, &b.t, &y2.t), TCONV_OK);
        if (!tu_same_bits(&y1.t, &y2.t, msg, sizeof msg))
            fail_msg("input broadcast mask 0x%x: %s", mask, msg);
        /* the automatic choice must handle stride 0 too */
        assert_int_equal(tconv_convtranspose2d(&v.p, &xb, &w.t, &b.t, &y1.t), TCONV_OK);
        if (!tu_check_exact(&v.p, &xfull.t, &w.t, &b.t, &y1.t, 1.0, msg, sizeof msg))
            fail_msg("input broadcast mask 0x%x (auto): %s", mask, msg);
        tu_tensor_free(&small);
        tu_tensor_free(&xfull);
        tu_tensor_free(&w);
        tu_tensor_free(&b);
        tu_tensor_free(&y1);
        tu_tensor_free(&y2);
    }

    /* weight broadcast over (cin, cout_g) and a scalar bias */
    tu_tensor x = tu_tensor_new(4, v.xs, TU_CONTIGUOUS, &r, 0);
    tu_tensor wsmall = tu_tensor_new(4, v.ws, TU_CONTIGUOUS, &r, 0);
    tconv_tensor wb = wsmall.t;
    wb.stride[0] = wb.stride[1] = 0;
    tu_tensor wfull = tu_tensor_new(4, v.ws, TU_CONTIGUOUS, NULL, 0);
    tu_copy_values(&wfull.t, &wb);
    float bval = 0.75f;
    tconv_tensor bb = tconv_tensor_1d(&bval, v.bs[0]);
    bb.stride[0] = 0;
    tu_tensor bfull = tu_tensor_new(1, v.bs, TU_CONTIGUOUS, NULL, 0.75f);
    tu_tensor y1 = tu_tensor_new(4, v.ys, TU_CONTIGUOUS, NULL, NAN);
    tu_tensor y2 = tu_tensor_new(4, v.ys, TU_CONTIGUOUS, NULL, NAN);
    assert_int_equal(run_reference(&v.p, &x.t, &wb, &bb, &y1.t), TCONV_OK);
    assert_int_equal(run_reference(&v.p, &x.t, &wfull.t, &bfull.t, &y2.t), TCONV_OK);
    if (!tu_same_bits(&y1.t, &y2.t, msg, sizeof msg))
        fail_msg("weight/bias broadcast: %s", msg);
    assert_int_equal(tconv_convtranspose2d(&v.p, &x.t, &wb, &bb, &y1.t), TCONV_OK);
    if (!tu_check_exact(&v.p, &x.t, &wfull.t, &bfull.t, &y1.t, 1.0, msg, sizeof msg))
        fail_msg("weight/bias broadcast (auto): %s", msg);
    tu_tensor_free(&x);
    tu_tensor_free(&wsmall);
    tu_tensor_free(&wfull);
    tu_tensor_free(&bfull);
    tu_tensor_free(&y1);
    tu_tensor_free(&y2);
}

/* A cropped output: the window of a larger image is written, the frame is not; two
 * calls writing adjacent windows of one buffer compose into the full result. */
static void test_cropped_output_tiles(void **state)
{
    (void)state;
    views_problem v = problem_batched();
    tu_rng r = tu_rng_seed(31);
    tu_tensor x = tu_tensor_new(4, v.xs, TU_CONTIGUOUS, &r, 0);
    tu_tensor w = tu_tensor_new(4, v.ws, TU_CONTIGUOUS, &r, 0);
    tu_tensor b = tu_tensor_new(1, v.bs, TU_CONTIGUOUS, &r, 0);
    tu_tensor y0 = tu_tensor_new(4, v.ys, TU_CONTIGUOUS, NULL, NAN);
    assert_int_equal(run_reference(&v.p, &x.t, &w.t, &b.t, &y0.t), TCONV_OK);

    /* one buffer of two results side by side along W, with a 1-column frame round each */
    const int64_t big[4] = {v.ys[0], v.ys[1], v.ys[2] + 2, 2 * v.ys[3] + 3};
    tu_tensor buf = tu_tensor_new(4, big, TU_CONTIGUOUS, NULL, SENTINEL);
    tconv_tensor left = buf.t, right = buf.t;
    left.shape[2] = right.shape[2] = v.ys[2];
    left.shape[3] = right.shape[3] = v.ys[3];
    left.data = tu_at(&buf.t, (const int64_t[4]){0, 0, 1, 1});
    right.data = tu_at(&buf.t, (const int64_t[4]){0, 0, 1, v.ys[3] + 2});
    assert_int_equal(run_reference(&v.p, &x.t, &w.t, &b.t, &left), TCONV_OK);
    assert_int_equal(tconv_convtranspose2d(&v.p, &x.t, &w.t, &b.t, &right), TCONV_OK);
    char msg[256];
    if (!tu_same_bits(&left, &y0.t, msg, sizeof msg))
        fail_msg("left window: %s", msg);
    if (!tu_check_exact(&v.p, &x.t, &w.t, &b.t, &right, 1.0, msg, sizeof msg))
        fail_msg("right window: %s", msg);
    /* the frame: row 0, the last row, columns 0, Wout+1, 2*Wout+2 */
    int64_t idx[4] = {0, 0, 0, 0};
    do {
        const bool frame = idx[2] == 0 || idx[2] == big[2] - 1 || idx[3] == 0 ||
                           idx[3] == v.ys[3] + 1 || idx[3] == big[3] - 1;
        if (frame && *tu_at(&buf.t, idx) != SENTINEL)
            fail_msg("frame element (%lld, %lld, %lld, %lld) overwritten", (long long)idx[0],
                     (long long)idx[1], (long long)idx[2], (long long)idx[3]);
        if (!frame && *tu_at(&buf.t, idx) == SENTINEL)
            fail_msg("window element (%lld, %lld, %lld, %lld) not written", (long long)idx[0],
                     (long long)idx[1], (long long)idx[2], (long long)idx[3]);
    } while (tu_next_index(4, big, idx));
    tu_tensor_free(&x);
    tu_tensor_free(&w);
    tu_tensor_free(&b);
    tu_tensor_free(&y0);
    tu_tensor_free(&buf);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layouts_batched),
        cmocka_unit_test(test_layouts_unbatched),
        cmocka_unit_test(test_exotic_strides),
        cmocka_unit_test(test_tensor_helpers),
        cmocka_unit_test(test_nhwc_helper_memory),
        cmocka_unit_test(test_empty_batch),
        cmocka_unit_test(test_broadcast),
        cmocka_unit_test(test_cropped_output_tiles),
    };
    return cmocka_run_group_tests_name("views", tests, NULL, NULL);
}
