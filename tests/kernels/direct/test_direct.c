/*
 * test_direct.c - the direct kernel (src/direct) against the reference kernel, at every
 * ISA level this machine has (scalar, avx2, avx512 up to tconv_isa_detected()).
 *
 * Each case builds a problem from tensors in some layout (contiguous, channels-last,
 * cropped, reversed), runs all tasks of tconv__direct_tasks() and checks:
 *   - every element against the reference with tu_check_close (factor 1, rigorous), or
 *     bit for bit when the data are small integers (exact sums, any order), which also
 *     carries -0.0 biases and inf weights: a tap outside the input must be skipped,
 *     not multiplied by zero;
 *   - that buffer elements outside the output view (gaps of cropped views) are never
 *     written;
 *   - that running the tasks in a shuffled order gives bit-identical results.
 * Shapes: the dw_k4s2 benchmark layer, fcn_up-like and grouped layers, output widths
 * around the vector and block widths, the stride-2 plane kernels (every padding parity,
 * row bands), wide rows (staging buffers, chunked columns),
 * kernels wider than the row kernels take, N = 0, and hundreds of random shapes
 * covering stride, padding (also larger than the kernel), output padding, dilation,
 * groups, unbatched inputs and non-square everything.
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

#include "direct/direct.h"
#include "testutil.h"

typedef enum values_kind {
    VALUES_UNIFORM = 0,  /* tu_uniform data, tolerance check */
    VALUES_INTEGERS = 1, /* small integers + specials, bitwise check */
} values_kind;

typedef struct tcase {
    int64_t n, cin, h, w, cout_g, kh, kw, groups;
    int64_t stride[2], pad[2], opad[2], dil[2];
    bool unbatched, bias;
    tu_layout lx, lw, lb, ly;
    values_kind values;
} tcase;

static const char *const layout_names[TU_LAYOUT_COUNT] = {"contig", "chlast", "cropped",
                                                          "reversed"};

static void describe(const tcase *c, char *buf, size_t len)
{
    snprintf(buf, len,
             "N=%lld%s Cin=%lld H=%lld W=%lld Cout/g=%lld k=%lldx%lld groups=%lld stride=%lld,%lld "
             "pad=%lld,%lld opad=%lld,%lld dil=%lld,%lld bias=%d layouts x=%s w=%s b=%s y=%s "
             "values=%s",
             (long long)c->n, c->unbatched ? "(unbatched)" : "", (long long)c->cin,
             (long long)c->h, (long long)c->w, (long long)c->cout_g, (long long)c->kh,
             (long long)c->kw, (long long)c->groups, (long long)c->stride[0],
             (long long)c->stride[1], (long long)c->pad[0], (long long)c->pad[1],
             (long long)c->opad[0], (long long)c->opad[1], (long long)c->dil[0],
             (long long)c->dil[1], (int)c->bias, layout_names[c->lx], layout_names[c->lw],
             layout_names[c->lb], layout_names[c->ly], c->values ? "integers" : "uniform");
}

static int64_t out_dim(int64_t in, int64_t k, int64_t s, int64_t p, int64_t d, int64_t op)
{
    return (in - 1) * s - 2 * p + d * (k - 1) + op + 1;
}

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

/* Sentinel for output buffers: a NaN pattern no computation produces. */
static const uint32_t SENTINEL_BITS = 0x7fa5a5a5u;

static void fill_sentinel(tu_tensor *t)
{
    for (size_t i = 0; i < t->buf_len; i++)
        memcpy(&t->buf[i], &SENTINEL_BITS, sizeof(float));
}

/* Small integers (exact sums in any order), with some -0.0 and a few +inf weights. */
static void make_integers(tu_tensor *t, tu_rng *rng, int inf_weights)
{
    for (size_t i = 0; i < t->buf_len; i++) {
        int64_t v = tu_range(rng, -3, 3);
        t->buf[i] = v == 0 && tu_range(rng, 0, 1) ? -0.0f : (float)v;
    }
    for (int i = 0; i < inf_weights && t->buf_len > 0; i++)
        t->buf[tu_range(rng, 0, (int64_t)t->buf_len - 1)] = INFINITY;
}

/* Calls fn(offset in elements from data) for every element of the view. */
static void for_each_offset(const tconv_tensor *t, void (*fn)(void *, int64_t), void *ctx)
{
    if (tu_numel(t) == 0)
        return;
    int64_t idx[TCONV_MAX_RANK] = {0, 0, 0, 0};
    for (;;) {
        int64_t off = 0;
        for (int d = 0; d < t->rank; d++)
            off += idx[d] * t->stride[d];
        fn(ctx, off);
        int d = t->rank - 1;
        while (d >= 0 && ++idx[d] == t->shape[d])
            idx[d--] = 0;
        if (d < 0)
            return;
    }
}

typedef struct mark_ctx {
    unsigned char *in_view;
    int64_t base; /* index of data within buf */
} mark_ctx;

static void mark(void *ctx, int64_t off)
{
    mark_ctx *m = ctx;
    m->in_view[m->base + off] = 1;
}

typedef struct collect_ctx {
    const float *data;
    uint32_t *out;
    size_t i;
} collect_ctx;

static void collect(void *ctx, int64_t off)
{
    collect_ctx *c = ctx;
    c->out[c->i++] = bits_of(c->data[off]);
}

static void run_tasks(const tconv_problem *pb, tconv_isa isa, const int64_t *order, int64_t ntasks)
{
    for (int64_t i = 0; i < ntasks; i++)
        tconv__direct_task(pb, isa, order ? order[i] : i);
}

/* Bitwise equality, NaN == NaN (payloads of inf - inf may differ by order). */
static bool same_value(float a, float b)
{
    return (isnan(a) && isnan(b)) || bits_of(a) == bits_of(b);
}

static void run_case(const tcase *c, uint64_t seed)
{
    char desc[512], msg[512];
    describe(c, desc, sizeof desc);
    tu_rng rng = tu_rng_seed(seed);

    tconv_params p = tconv_params_default();
    for (int d = 0; d < 2; d++) {
        p.stride[d] = c->stride[d];
        p.padding[d] = c->pad[d];
        p.output_padding[d] = c->opad[d];
        p.dilation[d] = c->dil[d];
    }
    p.groups = c->groups;
    const int64_t cout = c->cout_g * c->groups;
    const int64_t ho = out_dim(c->h, c->kh, c->stride[0], c->pad[0], c->dil[0], c->opad[0]);
    const int64_t wo = out_dim(c->w, c->kw, c->stride[1], c->pad[1], c->dil[1], c->opad[1]);
    if (ho < 1 || wo < 1)
        fail_msg("bad generated case (empty output): %s", desc);

    const int rank = c->unbatched ? 3 : 4;
    const int64_t xs4[4] = {c->n, c->cin, c->h, c->w}, ys4[4] = {c->n, cout, ho, wo};
    const int64_t *xshape = c->unbatched ? xs4 + 1 : xs4, *yshape = c->unbatched ? ys4 + 1 : ys4;
    const int64_t wshape[4] = {c->cin, c->cout_g, c->kh, c->kw}, bshape[1] = {cout};

    tu_tensor x = tu_tensor_new(rank, xshape, c->lx, &rng, 0.0f);
    tu_tensor w = tu_tensor_new(4, wshape, c->lw, &rng, 0.0f);
    tu_tensor b = tu_tensor_new(1, bshape, c->lb, &rng, 0.0f);
    if (c->values == VALUES_INTEGERS) {
        make_integers(&x, &rng, 0);
        make_integers(&w, &rng, (int)tu_range(&rng, 0, 2));
        make_integers(&b, &rng, 0);
    }
    tu_tensor want = tu_tensor_new(rank, yshape, TU_CONTIGUOUS, NULL, 0.0f);
    tu_tensor got = tu_tensor_new(rank, yshape, c->ly, NULL, 0.0f);
    const tconv_tensor *bt = c->bias ? &b.t : NULL;

    tconv_problem pref, pb;
    tconv_status st = tconv__build_problem(&p, &x.t, &w.t, bt, &want.t, true, &pref);
    if (st != TCONV_OK)
        fail_msg("build_problem(ref) failed (%s): %s", tconv_last_error_message(), desc);
    tconv__ref_convtranspose2d(&pref);
    st = tconv__build_problem(&p, &x.t, &w.t, bt, &got.t, true, &pb);
    if (st != TCONV_OK)
        fail_msg("build_problem failed (%s): %s", tconv_last_error_message(), desc);

    const int64_t ntasks = tconv__direct_tasks(&pb);
    const int64_t numel = tu_numel(&got.t);
    if (c->n > 0 && ntasks < 1)
        fail_msg("no tasks for a non-empty output: %s", desc);
    if (c->n == 0 && ntasks != 0)
        fail_msg("N=0 must give 0 tasks, got %lld: %s", (long long)ntasks, desc);

    unsigned char *in_view = calloc(got.buf_len, 1);
    mark_ctx mc = {in_view, (int64_t)((float *)got.t.data - got.buf)};
    for_each_offset(&got.t, mark, &mc);
    uint32_t *first = malloc(((size_t)numel + 1) * sizeof *first);
    uint32_t *second = malloc(((size_t)numel + 1) * sizeof *second);
    int64_t *order = malloc(((size_t)ntasks + 1) * sizeof *order);
    float *wantv = malloc(((size_t)numel + 1) * sizeof *wantv);
    {
        collect_ctx cc = {(const float *)want.t.data, (uint32_t *)wantv, 0};
        for_each_offset(&want.t, collect, &cc);
    }

    /* the rigorous bound of every ISA's check, computed once */
    tu_bound bound = {NULL, NULL, 0, {0, 0, 0, 0}};
    if (c->values == VALUES_UNIFORM)
        bound = tu_bound_new(&p, &x.t, &w.t, bt);
    for (int isa = TCONV_ISA_SCALAR; isa <= (int)tconv_isa_detected(); isa++) {
        const char *iname = tconv_isa_name(isa);
        fill_sentinel(&got);
        run_tasks(&pb, (tconv_isa)isa, NULL, ntasks);

        if (c->values == VALUES_UNIFORM) {
            if (!tu_check_close_bound(&bound, &got.t, &want.t, 1.0, msg, sizeof msg))
                fail_msg("isa %s: %s\n  case: %s", iname, msg, desc);
        }
        collect_ctx cc = {(const float *)got.t.data, first, 0};
        for_each_offset(&got.t, collect, &cc);
        if (c->values == VALUES_INTEGERS)
            for (int64_t i = 0; i < numel; i++) {
                float a, e;
                memcpy(&a, &first[i], sizeof a);
                memcpy(&e, &wantv[i], sizeof e);
                if (!same_value(a, e))
                    fail_msg("isa %s: element %lld (row-major) is %.9g (0x%08x), reference "
                             "%.9g (0x%08x)\n  case: %s",
                             iname, (long long)i, (double)a, (unsigned)bits_of(a), (double)e,
                             (unsigned)bits_of(e), desc);
            }
        for (size_t i = 0; i < got.buf_len; i++)
            if (!in_view[i] && bits_of(got.buf[i]) != SENTINEL_BITS)
                fail_msg("isa %s: buffer element %zu outside the output view was written\n"
                         "  case: %s",
                         iname, i, desc);

        /* the same tasks in a shuffled order: bit-identical */
        for (int64_t i = 0; i < ntasks; i++)
            order[i] = i;
        for (int64_t i = ntasks - 1; i > 0; i--) {
            int64_t j = tu_range(&rng, 0, i), tmp = order[i];
            order[i] = order[j];
            order[j] = tmp;
        }
        fill_sentinel(&got);
        run_tasks(&pb, (tconv_isa)isa, order, ntasks);
        collect_ctx c2 = {(const float *)got.t.data, second, 0};
        for_each_offset(&got.t, collect, &c2);
        for (int64_t i = 0; i < numel; i++)
            if (first[i] != second[i])
                fail_msg("isa %s: shuffled task order changed element %lld (0x%08x vs "
                         "0x%08x)\n  case: %s",
                         iname, (long long)i, (unsigned)first[i], (unsigned)second[i], desc);
    }

    free(in_view);
    free(first);
    free(second);
    free(order);
    free(wantv);
    tu_bound_free(&bound);
    tu_tensor_free(&x);
    tu_tensor_free(&w);
    tu_tensor_free(&b);
    tu_tensor_free(&want);
    tu_tensor_free(&got);
}

static tcase base_case(void)
{
    tcase c;
    memset(&c, 0, sizeof c);
    c.n = 1;
    c.cin = 1;
    c.h = c.w = 1;
    c.cout_g = 1;
    c.kh = c.kw = 1;
    c.groups = 1;
    for (int d = 0; d < 2; d++) {
        c.stride[d] = 1;
        c.dil[d] = 1;
    }
    c.bias = true;
    return c;
}

static void random_layouts(tcase *c, tu_rng *rng)
{
    c->lx = (tu_layout)tu_range(rng, 0, TU_LAYOUT_COUNT - 1);
    c->lw = (tu_layout)tu_range(rng, 0, TU_LAYOUT_COUNT - 1);
    c->lb = (tu_layout)tu_range(rng, 0, TU_LAYOUT_COUNT - 1);
    c->ly = (tu_layout)tu_range(rng, 0, TU_LAYOUT_COUNT - 1);
}

/* ------------------------------------------------------------------ fixed shapes */
static void test_dw_k4s2(void **state)
{
    (void)state;
    /* the benchmark layer: N=1, 64 channels depthwise, 64x64 -> 128x128, k4 s2 p1 */
    for (int l = 0; l < TU_LAYOUT_COUNT; l++) {
        tcase c = base_case();
        c.cin = 64;
        c.groups = 64;
        c.h = c.w = 64;
        c.kh = c.kw = 4;
        c.stride[0] = c.stride[1] = 2;
        c.pad[0] = c.pad[1] = 1;
        c.lx = c.ly = (tu_layout)l;
        c.lw = c.lb = TU_CONTIGUOUS;
        run_case(&c, 100 + (uint64_t)l);
    }
    /* the same with integer data: bit-exact, -0.0 and inf weights */
    tcase c = base_case();
    c.cin = 64;
    c.groups = 64;
    c.h = c.w = 64;
    c.kh = c.kw = 4;
    c.stride[0] = c.stride[1] = 2;
    c.pad[0] = c.pad[1] = 1;
    c.values = VALUES_INTEGERS;
    run_case(&c, 7);
}

static void test_fixed_layers(void **state)
{
    (void)state;
    /* fcn_up: groups=1, 21 -> 21 channels, 16x16, k4 s2 p1 */
    tcase c = base_case();
    c.cin = 21;
    c.cout_g = 21;
    c.h = c.w = 16;
    c.kh = c.kw = 4;
    c.stride[0] = c.stride[1] = 2;
    c.pad[0] = c.pad[1] = 1;
    for (int l = 0; l < TU_LAYOUT_COUNT; l++) {
        c.lx = c.lw = c.lb = c.ly = (tu_layout)l;
        run_case(&c, 200 + (uint64_t)l);
    }
    /* groups=4 x 32 channels (grp4-like, smaller N and image) */
    c = base_case();
    c.n = 2;
    c.cin = 128;
    c.cout_g = 32;
    c.groups = 4;
    c.h = c.w = 9;
    c.kh = c.kw = 3;
    c.stride[0] = c.stride[1] = 2;
    c.pad[0] = c.pad[1] = 1;
    c.opad[0] = c.opad[1] = 1;
    for (int l = 0; l < TU_LAYOUT_COUNT; l++) {
        c.lx = c.lw = c.lb = c.ly = (tu_layout)l;
        run_case(&c, 300 + (uint64_t)l);
    }
    /* depthwise k3 s1 p1 and a channel multiplier of 2 */
    c = base_case();
    c.n = 2;
    c.cin = 8;
    c.groups = 8;
    c.cout_g = 2;
    c.h = 11;
    c.w = 37;
    c.kh = c.kw = 3;
    c.pad[0] = c.pad[1] = 1;
    run_case(&c, 400);
}

/* Output widths around the vector (8, 16) and block (16, 32, 64) widths, for stride 1,
 * 2 and 3, with the edges on both sides. */
static void test_edge_widths(void **state)
{
    (void)state;
    static const int64_t targets[] = {1,  2,  3,  7,  8,  9,  15, 16,  17,  31,  32,  33, 47,
                                      48, 49, 63, 64, 65, 95, 96, 97, 127, 128, 129, 130};
    tu_rng rng = tu_rng_seed(42);
    uint64_t seed = 1000;
    for (size_t i = 0; i < sizeof targets / sizeof targets[0]; i++) {
        const int64_t wo = targets[i];
        for (int cfg = 0; cfg < 6; cfg++) {
            tcase c = base_case();
            c.cin = 3;
            c.groups = 3;
            c.h = 3;
            c.kh = 3;
            c.pad[0] = 1;
            c.bias = cfg % 2 == 0;
            switch (cfg) {
            case 0: /* s1 k3 p1: wo = W */
                c.kw = 3;
                c.pad[1] = 1;
                c.w = wo;
                break;
            case 1: /* s1 k5 p0: wo = W + 4 */
                if (wo < 5)
                    continue;
                c.kw = 5;
                c.w = wo - 4;
                break;
            case 2: /* s2 k4 p1: wo = 2W (+1 with output padding) */
                c.stride[1] = 2;
                c.kw = 4;
                c.pad[1] = 1;
                c.opad[1] = wo % 2;
                c.w = wo / 2;
                if (c.w < 1)
                    continue;
                break;
            case 3: /* s2 k3 p1: wo = 2W - 1 (+1) */
                c.stride[1] = 2;
                c.kw = 3;
                c.pad[1] = 1;
                c.opad[1] = 1 - wo % 2;
                c.w = (wo + 1) / 2;
                break;
            case 4: /* s2 k1 p0: odd phase has no taps, wo = 2W - 1 (+1) */
                c.stride[1] = 2;
                c.kw = 1;
                c.opad[1] = 1 - wo % 2;
                c.w = (wo + 1) / 2;
                break;
            default: /* s3 k3 p0: wo = 3W (+0..2) */
                c.stride[1] = 3;
                c.kw = 3;
                c.w = wo / 3;
                c.opad[1] = wo % 3;
                if (c.w < 1)
                    continue;
                break;
            }
            random_layouts(&c, &rng);
            run_case(&c, seed++);
            /* integer data at the same shape: edges must skip taps exactly */
            c.values = VALUES_INTEGERS;
            run_case(&c, seed++);
        }
    }
}

/* Channels-last depthwise (tconv__direct_channels_last: 16 channels a vector): channel
 * counts around the block width (a partial last block, several blocks, more than one
 * task's worth of blocks), every parameter at random, integer data (bit for bit) and
 * uniform data; the kernel sizes at the limit of the path and beyond it (the general
 * path), and the layouts around it that must not take it. */
static void test_channels_last_dw(void **state)
{
    (void)state;
    static const int64_t channels[] = {2, 3, 15, 16, 17, 33, 64, 70};
    tu_rng rng = tu_rng_seed(61);
    uint64_t seed = 600;
    for (int it = 0; it < 48; it++) {
        tcase c = base_case();
        c.cin = c.groups = channels[it % 8];
        c.n = tu_range(&rng, 1, 2);
        c.unbatched = c.n == 1 && tu_range(&rng, 0, 3) == 0;
        c.h = tu_range(&rng, 1, 9);
        c.w = tu_range(&rng, 1, 23);
        for (int d = 0; d < 2; d++) {
            c.stride[d] = tu_range(&rng, 1, 3);
            c.dil[d] = tu_range(&rng, 1, 2);
            c.pad[d] = tu_range(&rng, 0, 3);
            const int64_t lim = c.stride[d] > c.dil[d] ? c.stride[d] : c.dil[d];
            c.opad[d] = tu_range(&rng, 0, lim - 1);
        }
        c.kh = tu_range(&rng, 1, 5);
        c.kw = tu_range(&rng, 1, 5);
        if (out_dim(c.h, c.kh, c.stride[0], c.pad[0], c.dil[0], c.opad[0]) < 1 ||
            out_dim(c.w, c.kw, c.stride[1], c.pad[1], c.dil[1], c.opad[1]) < 1)
            continue;
        c.bias = it % 3 != 0;
        c.lx = c.ly = TU_CHANNELS_LAST;
        c.lw = (tu_layout)tu_range(&rng, 0, TU_LAYOUT_COUNT - 1);
        c.lb = (tu_layout)tu_range(&rng, 0, TU_LAYOUT_COUNT - 1);
        c.values = it % 2 ? VALUES_INTEGERS : VALUES_UNIFORM;
        run_case(&c, seed++);
    }
    /* 300 channels of a 4x4 kernel: two runs of blocks (a task packs at most 256) */
    tcase c = base_case();
    c.cin = c.groups = 300;
    c.h = 5;
    c.w = 6;
    c.kh = c.kw = 4;
    c.stride[0] = c.stride[1] = 2;
    c.pad[0] = c.pad[1] = 1;
    c.lx = c.ly = TU_CHANNELS_LAST;
    c.values = VALUES_INTEGERS;
    run_case(&c, seed++);
    /* 8x8 = 64 taps (the limit), then 9x8 (beyond: the general path) */
    c.cin = c.groups = 20;
    c.kh = c.kw = 8;
    run_case(&c, seed++);
    c.kh = 9;
    run_case(&c, seed++);
    /* only one side channels last: not this path */
    c.kh = 3;
    c.ly = TU_CONTIGUOUS;
    run_case(&c, seed++);
    c.ly = TU_CHANNELS_LAST;
    c.lx = TU_CROPPED;
    run_case(&c, seed++);
}

/* Which calls take the channels-last depthwise path. */
static void test_channels_last_choice(void **state)
{
    (void)state;
    tconv_problem pb;
    memset(&pb, 0, sizeof pb);
    pb.s = (tconv_shape){.n = 1, .cin = 32, .h = 8, .w = 8, .cout = 32, .kh = 4, .kw = 4,
                         .hout = 16, .wout = 16, .groups = 32, .cin_g = 1, .cout_g = 1,
                         .sh = 2, .sw = 2, .ph = 1, .pw = 1, .dh = 1, .dw = 1};
    const int64_t cl[4] = {8 * 8 * 32, 1, 8 * 32, 32}, ycl[4] = {16 * 16 * 32, 1, 16 * 32, 32};
    memcpy(pb.xs, cl, sizeof cl);
    memcpy(pb.ys, ycl, sizeof ycl);
    assert_true(tconv__direct_channels_last(&pb));
    /* 2 blocks, one run; one band: a band of 16 rows of 16 columns (1024 multiply-adds
     * per channel) is below 256 per packed weight (16 per channel) */
    assert_int_equal(tconv__direct_tasks(&pb), 1);
    /* dw_k4s2 (64 channels, 64x64 -> 128x128): 4 blocks, one run, bands of 8 rows
     * (2 rows for MIN_TASKS, then at least 256 * 16 / (128 * 4) rows): 16 tasks; two
     * images, 16 bands each */
    tconv_problem dw = pb;
    dw.s.cin = dw.s.cout = dw.s.groups = 64;
    dw.s.h = dw.s.w = 64;
    dw.s.hout = dw.s.wout = 128;
    const int64_t dx[4] = {64 * 64 * 64, 1, 64 * 64, 64}, dy[4] = {128 * 128 * 64, 1, 128 * 64, 64};
    memcpy(dw.xs, dx, sizeof dx);
    memcpy(dw.ys, dy, sizeof dy);
    assert_true(tconv__direct_channels_last(&dw));
    assert_int_equal(tconv__direct_tasks(&dw), 16);
    dw.s.n = 2;
    assert_int_equal(tconv__direct_tasks(&dw), 32);
    pb.ys[1] = 256; /* NCHW output */
    assert_false(tconv__direct_channels_last(&pb));
    pb.ys[1] = 1;
    pb.s.cout_g = 2; /* a channel multiplier */
    pb.s.cout = 64;
    assert_false(tconv__direct_channels_last(&pb));
    pb.s.cout_g = 1;
    pb.s.cout = 32;
    pb.s.kh = 9; /* 9 x 4 = 36 taps: still */
    assert_true(tconv__direct_channels_last(&pb));
    pb.s.kw = 8; /* 72 */
    assert_false(tconv__direct_channels_last(&pb));
}

/* Rows wider than the staging chunk (strided output), input rows wider than the
 * staging buffer (strided input -> per-element path), kernels wider than the row
 * kernels take, rows with more terms than one kernel call. */
static void test_wide(void **state)
{
    (void)state;
    tcase c = base_case();
    c.cin = 2;
    c.groups = 2;
    c.h = 2;
    c.w = 1500;
    c.kh = 2;
    c.kw = 3;
    c.stride[1] = 2;
    c.pad[1] = 1;
    c.opad[1] = 1;
    c.ly = TU_CHANNELS_LAST; /* wo = 3001: three column chunks */
    run_case(&c, 500);
    c.ly = TU_REVERSED;
    c.lx = TU_CHANNELS_LAST;
    run_case(&c, 501);
    c.w = 2100; /* strided input wider than the staging buffer */
    c.stride[1] = 1;
    c.opad[1] = 0;
    run_case(&c, 502);
    c.w = 700; /* stride 3: chunks start at columns that are not multiples of 3 */
    c.stride[1] = 3;
    c.opad[1] = 2;
    c.ly = TU_CROPPED;
    c.lx = TU_CONTIGUOUS;
    run_case(&c, 503);
    c.ly = TU_CHANNELS_LAST;
    run_case(&c, 504);

    /* huge strides: H beyond the per-residue table, W with mostly tapless phases */
    c = base_case();
    c.cin = 2;
    c.groups = 2;
    c.h = 3;
    c.w = 4;
    c.kh = 3;
    c.kw = 4;
    c.stride[0] = 70;
    c.stride[1] = 40;
    c.dil[0] = 3;
    c.pad[0] = 2;
    c.pad[1] = 1;
    c.opad[0] = 5;
    run_case(&c, 505);
    c.values = VALUES_INTEGERS;
    c.ly = TU_CHANNELS_LAST;
    run_case(&c, 506);

    /* stride INT64_MAX over a single input row and column (valid: (in-1)*stride = 0) */
    c = base_case();
    c.cin = 2;
    c.cout_g = 3;
    c.h = c.w = 1;
    c.kh = 3;
    c.kw = 2;
    c.stride[0] = c.stride[1] = INT64_MAX;
    c.opad[0] = 1;
    c.opad[1] = 1;
    c.dil[0] = 2;
    run_case(&c, 507);
    c.values = VALUES_INTEGERS;
    c.ly = TU_REVERSED;
    run_case(&c, 508);

    /* kw = 33, 40: beyond TCONV_DIRECT_MAX_TAPS */
    c = base_case();
    c.cin = 2;
    c.cout_g = 2;
    c.h = 3;
    c.w = 20;
    c.kh = 2;
    c.kw = 33;
    c.pad[1] = 3;
    run_case(&c, 510);
    c.kw = 40;
    c.stride[1] = 2;
    c.lx = TU_REVERSED;
    run_case(&c, 511);
    c.kw = 32; /* exactly the limit */
    c.lx = TU_CONTIGUOUS;
    run_case(&c, 512);

    /* many terms per row: cin_g * kh > 256, with contiguous and staged rows */
    c = base_case();
    c.cin = 150;
    c.cout_g = 2;
    c.h = 3;
    c.w = 21;
    c.kh = 3;
    c.kw = 2;
    for (int l = 0; l < TU_LAYOUT_COUNT; l++) {
        c.lx = c.ly = (tu_layout)l;
        run_case(&c, 520 + (uint64_t)l);
    }
    /* weights of a group larger than the packing buffer (cin_g*kh*kw > 2048) */
    c.cin = 120;
    c.kh = 5;
    c.kw = 4;
    c.stride[0] = 2;
    c.w = 9;
    c.lx = TU_CHANNELS_LAST;
    c.ly = TU_CONTIGUOUS;
    run_case(&c, 530);
    c.lx = TU_CONTIGUOUS;
    c.values = VALUES_INTEGERS;
    run_case(&c, 531);
}

/* The stride-2 plane kernels (k 2x2 and 4x4, no dilation, unit W strides): every
 * padding parity, output padding, 1..3 channels per group, tiny and odd sizes, planes
 * cut into row bands (one plane: bands of a few rows, whose row pairs straddle them),
 * and the same shapes with a strided output, which go through the row kernels and
 * their paired-row path instead. */
static void test_stride2_planes(void **state)
{
    (void)state;
    tu_rng rng = tu_rng_seed(77);
    uint64_t seed = 700;
    static const int64_t sizes[][2] = {{1, 1}, {1, 2}, {2, 1}, {3, 5}, {7, 9}, {8, 16}, {5, 33}, {16, 17}};
    for (int64_t k = 2; k <= 4; k += 2)
        for (int64_t pad = 0; pad <= 3; pad++)
            for (size_t sz = 0; sz < sizeof sizes / sizeof sizes[0]; sz++) {
                tcase c = base_case();
                c.kh = c.kw = k;
                c.stride[0] = c.stride[1] = 2;
                c.pad[0] = pad;
                c.pad[1] = (pad + sz) % 4; /* both parities in both directions */
                c.opad[0] = (int64_t)(sz % 2);
                c.opad[1] = (int64_t)((sz / 2) % 2);
                c.h = sizes[sz][0];
                c.w = sizes[sz][1];
                const int64_t ho = out_dim(c.h, k, 2, c.pad[0], 1, c.opad[0]);
                const int64_t wo = out_dim(c.w, k, 2, c.pad[1], 1, c.opad[1]);
                if (ho < 1 || wo < 1)
                    continue;
                const int64_t cin_g = 1 + (int64_t)(sz % 3);
                c.groups = 1 + (int64_t)(sz % 2) * 2;
                c.cin = cin_g * c.groups;
                c.cout_g = 1 + (int64_t)(pad % 2);
                c.n = 1 + (int64_t)(sz % 2);
                c.bias = sz % 4 != 3;
                c.lx = sz % 2 ? TU_CROPPED : TU_CONTIGUOUS;
                c.ly = pad % 2 ? TU_CROPPED : TU_CONTIGUOUS;
                c.lw = (tu_layout)tu_range(&rng, 0, TU_LAYOUT_COUNT - 1);
                c.lb = (tu_layout)tu_range(&rng, 0, TU_LAYOUT_COUNT - 1);
                run_case(&c, seed++);
                c.values = VALUES_INTEGERS;
                run_case(&c, seed++);
                c.values = VALUES_UNIFORM;
                c.ly = TU_CHANNELS_LAST; /* row kernels, paired rows */
                run_case(&c, seed++);
            }
    /* one big plane cut into bands, and wide rows (several interior blocks) */
    tcase c = base_case();
    c.h = 45;
    c.w = 70;
    c.kh = c.kw = 4;
    c.stride[0] = c.stride[1] = 2;
    c.pad[0] = 1;
    c.pad[1] = 2;
    run_case(&c, seed++);
    c.values = VALUES_INTEGERS;
    run_case(&c, seed++);
    c.ly = TU_REVERSED;
    run_case(&c, seed++);
}

static void test_no_tasks(void **state)
{
    (void)state;
    tcase c = base_case();
    c.n = 0;
    c.cin = 4;
    c.groups = 4;
    c.h = c.w = 5;
    c.kh = c.kw = 3;
    c.stride[0] = c.stride[1] = 2;
    run_case(&c, 600);
}

/* ------------------------------------------------------------------ random shapes */
static tcase random_case(tu_rng *r)
{
    for (;;) {
        tcase c = base_case();
        const int64_t kind = tu_range(r, 0, 9);
        if (kind <= 3) { /* depthwise, sometimes with a channel multiplier */
            c.groups = tu_range(r, 1, 12);
            c.cin = c.groups;
            c.cout_g = tu_range(r, 0, 3) ? 1 : tu_range(r, 2, 3);
        } else if (kind <= 6) { /* a few channels per group */
            c.groups = tu_range(r, 2, 5);
            c.cin = c.groups * tu_range(r, 1, 4);
            c.cout_g = tu_range(r, 1, 4);
        } else if (kind == 7) { /* groups = 1 */
            c.cin = tu_range(r, 1, 8);
            c.cout_g = tu_range(r, 1, 8);
        } else if (kind == 8) {
            c.groups = tu_range(r, 1, 3);
            c.cin = c.groups * tu_range(r, 5, 12);
            c.cout_g = tu_range(r, 1, 3);
        } else { /* many input channels per group: rows with many terms */
            c.cin = tu_range(r, 40, 140);
            c.cout_g = tu_range(r, 1, 2);
        }
        for (int d = 0; d < 2; d++) {
            int64_t *k = d ? &c.kw : &c.kh;
            *k = tu_range(r, 0, 5) ? tu_range(r, 1, 5) : tu_range(r, 6, 9);
            c.stride[d] = tu_range(r, 0, 4) ? tu_range(r, 1, 3) : tu_range(r, 4, 7);
            c.dil[d] = tu_range(r, 0, 3) ? 1 : tu_range(r, 2, 3);
            const int64_t span = c.dil[d] * (*k - 1);
            c.pad[d] = tu_range(r, 0, 5) ? tu_range(r, 0, span / 2 + 1) : tu_range(r, 0, span + 4);
            const int64_t opmax = (c.stride[d] > c.dil[d] ? c.stride[d] : c.dil[d]) - 1;
            c.opad[d] = tu_range(r, 0, 2) ? 0 : tu_range(r, 0, opmax);
        }
        c.h = tu_range(r, 1, 12);
        c.w = tu_range(r, 0, 2) ? tu_range(r, 1, 24) : tu_range(r, 25, 80);
        c.n = tu_range(r, 1, 2);
        c.unbatched = tu_range(r, 0, 5) == 0;
        if (c.unbatched)
            c.n = 1;
        c.bias = tu_range(r, 0, 3) != 0;
        random_layouts(&c, r);
        c.values = tu_range(r, 0, 3) == 0 ? VALUES_INTEGERS : VALUES_UNIFORM;
        const int64_t ho = out_dim(c.h, c.kh, c.stride[0], c.pad[0], c.dil[0], c.opad[0]);
        const int64_t wo = out_dim(c.w, c.kw, c.stride[1], c.pad[1], c.dil[1], c.opad[1]);
        if (ho < 1 || wo < 1)
            continue;
        /* keep the reference and the exact check cheap */
        const double work = (double)c.n * (double)(c.cout_g * c.groups) * (double)ho *
                            (double)wo * (double)(c.cin / c.groups) * (double)(c.kh * c.kw);
        if (work > 3e6)
            continue;
        return c;
    }
}

static void test_random(void **state)
{
    (void)state;
    tu_rng r = tu_rng_seed(20240601);
    for (int i = 0; i < 500; i++) {
        tcase c = random_case(&r);
        run_case(&c, 10000 + (uint64_t)i);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dw_k4s2),     cmocka_unit_test(test_fixed_layers),
        cmocka_unit_test(test_edge_widths), cmocka_unit_test(test_wide),
        cmocka_unit_test(test_channels_last_dw),
        cmocka_unit_test(test_channels_last_choice),
        cmocka_unit_test(test_stride2_planes), cmocka_unit_test(test_no_tasks),
        cmocka_unit_test(test_random),
    };
    printf("direct kernel: ISA levels scalar..%s\n", tconv_isa_name(tconv_isa_detected()));
    return cmocka_run_group_tests(tests, NULL, NULL);
}
