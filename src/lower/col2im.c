/*
 * col2im.c - the GEMM + col2im path (TCONV_ALGO_GEMM_COL2IM).
 *
 * Per group, the columns  col[(co, ky, kx), (n, iy, ix)] = sum_ci w[ci, co, ky, kx] *
 * x[n, ci, iy, ix]  are one GEMM (M = Cout/groups * kH * kW, K = Cin/groups,
 * N = pixels), and the output is the bias plus the scatter-add of every column entry
 * to (oy, ox) = (iy*sh - ph + ky*dh, ix*sw - pw + kx*dw). No multiply touches a zero,
 * which makes this the path for small inputs with large kernels (1x1 -> 4x4 and the
 * like), where the phase path would mostly multiply border zeros.
 *
 * A 1x1 input whose taps land on the output one for one (no padding, dilation or output
 * padding: the kH x kW output of each image is its taps; dcgan1's projection of a latent
 * vector) needs no col2im: the columns are the output itself, transposed. There the
 * GEMM runs the other way round, out[n, (co, ky, kx)] = sum_ci x[n, ci] *
 * w[ci, co, ky, kx] (M = images, K = Cin/groups, N = Cout/groups * kH * kW), with the
 * weights packed as B and the input as A, straight into an output whose channels and
 * taps lie at one stride (NCHW), else into a tile copied to it. "one1x1" below.
 *
 * Work is cut into units (group, block of whole images, block of output channels):
 * a unit owns all the output elements of its images and channels, so it can start them
 * at the bias and scatter-add into them with no other unit touching them. Within a
 * unit the images' pixels are processed in column tiles (pack B, GEMM into a C tile,
 * scatter). Tiles, blocks and the order of additions depend only on the shape, so
 * results do not depend on the number of threads.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "../gemm/gemm.h"
#include "../thread/pool.h"
#include "lower.h"

typedef struct geom {
    int64_t cb;        /* output channels per block */
    int64_t nblocks;   /* channel blocks per group */
    int64_t nb;        /* images per image block */
    int64_t nimg_blocks;
    int64_t nc;        /* column tile */
    int64_t hw;        /* pixels per image */
    size_t a_block;    /* packed A floats per (group, channel block) */
    size_t bias_off;   /* floats */
    size_t b_floats, c_floats;
    /* one1x1: the output is the GEMM's C; of the fields above it uses nc (columns per
     * unit), a_block (the packed input's floats per group), bias_off and c_floats (a
     * unit's C tile when the output is not flat) */
    bool one1x1;
    int64_t cols;     /* C's columns per group: Cout/groups * kH * kW */
    int64_t rb, nrb;  /* images per row block (a multiple of MR), row blocks */
    int64_t ncb;      /* column blocks of nc columns (a multiple of NR) per group */
    size_t b_group;   /* packed weight (B) floats per group */
} geom;

#define C_TILE_BYTES (1024 * 1024)
#define B_TILE_BYTES (512 * 1024)
#define MAX_NC 1024
#define TARGET_M 512 /* rows of a channel block's GEMM */

/* Is every output element of an image exactly one tap of its single input pixel? */
static bool taps_tile_output(const tconv_shape *s)
{
    return s->h == 1 && s->w == 1 && s->ph == 0 && s->pw == 0 && s->dh == 1 && s->dw == 1 &&
           s->oph == 0 && s->opw == 0;
}

/* one1x1: blocks of at most ONE_ROWS images and about cols/ONE_UNITS columns (whole NR
 * panels, at most ONE_COLS), so that two or more threads end together and a unit's C
 * block stays in L2. */
#define ONE_ROWS  256
#define ONE_COLS  1536
#define ONE_UNITS 32

static void geometry_1x1(const tconv_shape *s, const tconv_gemm_kernel *gk, geom *g)
{
    const int64_t mr = gk->mr, nr = gk->nr;
    g->one1x1 = true;
    g->cols = s->cout_g * s->kh * s->kw;
    g->rb = s->n < ONE_ROWS ? (s->n + mr - 1) / mr * mr : ONE_ROWS / mr * mr;
    g->nrb = s->n > 0 ? (s->n + g->rb - 1) / g->rb : 0;
    const int64_t blocks = s->groups * (g->nrb > 0 ? g->nrb : 1); /* of rows */
    const int64_t want = (ONE_UNITS + blocks - 1) / blocks;        /* column blocks */
    int64_t nc = (g->cols + want - 1) / want;
    nc = (nc + nr - 1) / nr * nr;
    g->nc = nc > ONE_COLS / nr * nr ? ONE_COLS / nr * nr : nc;
    g->ncb = (g->cols + g->nc - 1) / g->nc;
    g->b_group = tconv__gemm_packed_b_floats(gk, s->cin_g, g->cols);
    g->bias_off = tconv__align_up(g->b_group * (size_t)s->groups * sizeof(float)) / sizeof(float);
    g->a_block = tconv__gemm_packed_a_floats(gk, s->n, s->cin_g); /* the input, per group */
    g->c_floats = (size_t)g->rb * (size_t)g->nc;
}

static void geometry(const tconv_shape *s, const tconv_gemm_kernel *gk, geom *g)
{
    memset(g, 0, sizeof *g);
    if (taps_tile_output(s)) {
        geometry_1x1(s, gk, g);
        return;
    }
    const int64_t khw = s->kh * s->kw;
    g->cb = TARGET_M / khw;
    if (g->cb < 1)
        g->cb = 1;
    if (g->cb > s->cout_g)
        g->cb = s->cout_g;
    g->nblocks = (s->cout_g + g->cb - 1) / g->cb;
    const int64_t m = g->cb * khw, nr = gk->nr;
    int64_t nc = (int64_t)(C_TILE_BYTES / sizeof(float)) / m;
    int64_t nc_b = (int64_t)(B_TILE_BYTES / sizeof(float)) / s->cin_g;
    if (nc_b < nc)
        nc = nc_b;
    nc = nc / nr * nr;
    g->nc = nc < nr ? nr : nc > MAX_NC ? MAX_NC : nc;
    /* no wider than all the pixels: small layers get small workspaces */
    const int64_t all = (s->n * s->h * s->w + nr - 1) / nr * nr;
    if (all > 0 && all < g->nc)
        g->nc = all;
    g->hw = s->h * s->w;
    g->nb = g->hw >= g->nc ? 1 : g->nc / g->hw;
    if (g->nb > 1)
        g->nc = g->nb * g->hw; /* tiles of whole images (see scatter) */
    g->nimg_blocks = s->n > 0 ? (s->n + g->nb - 1) / g->nb : 0;
    g->a_block = tconv__gemm_packed_a_floats(gk, m, s->cin_g);
    size_t a_all = g->a_block * (size_t)g->nblocks * (size_t)s->groups;
    g->bias_off = tconv__align_up(a_all * sizeof(float)) / sizeof(float);
    g->b_floats = tconv__gemm_packed_b_floats(gk, s->cin_g, g->nc);
    g->c_floats = (size_t)m * (size_t)g->nc;
}

static bool col2im_supports(const tconv_shape *s, const char **why)
{
    (void)s;
    (void)why;
    return true;
}

static size_t packed_bytes(const tconv_shape *s, tconv_isa isa)
{
    geom g;
    geometry(s, tconv__gemm_kernel(isa), &g);
    return (g.bias_off + (size_t)s->cout) * sizeof(float);
}

/* The tap after (co, ky, kx) of a group: the order of the weight's and the output's
 * (channel, row, column) dimensions, which both GEMM orientations use as their rows or
 * columns. */
static inline void next_tap(const tconv_shape *s, int64_t *co, int64_t *ky, int64_t *kx)
{
    if (++*kx == s->kw) {
        *kx = 0;
        if (++*ky == s->kh) {
            *ky = 0;
            ++*co;
        }
    }
}

/* Taps [0, count) from channel co0 on of input channel ci of group gi (its weight row,
 * read in the weight's own order, the indices stepped, not divided), as one row or
 * column of packed panels `width` taps wide that hold all Cin/groups channels: tap i
 * at d[(i / width) * width * cin_g + i % width], d being ci's place in the first panel;
 * zeros to the end of the last panel. Both orientations pack this way: A's panels of
 * MR rows, B's of NR columns (gemm.h). For every ci a block's taps are one run of memory
 * in a contiguous weight, and each panel takes the next `width` floats of it. (Panel by
 * panel, each element was three 64-bit divisions and a line of its own from a row 32 KB
 * away: dcgan1's 3.3 MB took 25 ms, 85% of a one-shot call.) */
static void pack_taps(const tconv_problem *pb, int64_t gi, int64_t ci, int64_t co0,
                      int64_t count, int64_t width, float *d)
{
    const tconv_shape *s = &pb->s;
    const float *w = pb->wt + (gi * s->cin_g + ci) * pb->ws[0] + co0 * pb->ws[1];
    const int64_t padded = (count + width - 1) / width * width;
    int64_t co = 0, ky = 0, kx = 0, e = 0;
    for (int64_t i = 0; i < padded; i++) {
        d[e] = i < count ? w[co * pb->ws[1] + ky * pb->ws[2] + kx * pb->ws[3]] : 0.0f;
        if (++e == width) { /* the next panel: width * cin_g floats on */
            e = 0;
            d += width * s->cin_g;
        }
        next_tap(s, &co, &ky, &kx);
    }
}

/* Per group, A (rows (co, ky, kx) of each channel block, columns ci) in panels of MR
 * rows; or, one1x1, B (rows ci, columns (co, ky, kx) of the group) in panels of NR
 * columns. Then the bias. */
static void pack(const tconv_problem *pb, tconv_isa isa, void *dst)
{
    const tconv_shape *s = &pb->s;
    const tconv_gemm_kernel *gk = tconv__gemm_kernel(isa);
    geom g;
    geometry(s, gk, &g);
    float *out = dst;
    const int64_t mr = gk->mr, nr = gk->nr, khw = s->kh * s->kw;
    for (int64_t gi = 0; gi < s->groups; gi++)
        for (int64_t ci = 0; ci < s->cin_g; ci++) {
            if (g.one1x1) {
                pack_taps(pb, gi, ci, 0, g.cols, nr, out + (size_t)gi * g.b_group + ci * nr);
                continue;
            }
            for (int64_t b = 0; b < g.nblocks; b++) {
                const int64_t co0 = b * g.cb;
                const int64_t cb = s->cout_g - co0 < g.cb ? s->cout_g - co0 : g.cb;
                pack_taps(pb, gi, ci, co0, cb * khw, mr,
                          out + (size_t)(gi * g.nblocks + b) * g.a_block + ci * mr);
            }
        }
    float *bias = out + g.bias_off;
    for (int64_t co = 0; co < s->cout; co++)
        bias[co] = s->has_bias ? pb->b[co * pb->bs] : 0.0f;
}

static size_t slot_bytes(const geom *g)
{
    return tconv__align_up(g->b_floats * sizeof(float)) + tconv__align_up(g->c_floats * sizeof(float));
}

/* one1x1: does the call's output hold a group's (co, ky, kx) at one stride, so that the
 * GEMM writes it directly? (Without a call, as for a plan's query: assume not.) */
static bool flat_output(const tconv_problem *call)
{
    if (!call)
        return false;
    const tconv_shape *s = &call->s;
    return call->ys[2] == s->kw * call->ys[3] && call->ys[1] == s->kh * call->ys[2];
}

/* one1x1: the packed input (all groups) before the slots; the slots hold a C tile only
 * when the output is not flat. */
static size_t packed_x_bytes(const tconv_shape *s, const geom *g)
{
    return tconv__align_up(g->a_block * (size_t)s->groups * sizeof(float));
}

static size_t slot_bytes_1x1(const geom *g, bool flat)
{
    return flat ? 64 /* unused: one line each */ : tconv__align_up(g->c_floats * sizeof(float));
}

static size_t workspace_bytes(const tconv_shape *s, const tconv_problem *call, tconv_isa isa,
                              int threads)
{
    geom g;
    geometry(s, tconv__gemm_kernel(isa), &g);
    const size_t one = g.one1x1 ? slot_bytes_1x1(&g, flat_output(call)) : slot_bytes(&g);
    const size_t head = g.one1x1 ? packed_x_bytes(s, &g) : 0;
    if (one > (SIZE_MAX - head) / (size_t)threads)
        return SIZE_MAX;
    return head + one * (size_t)threads;
}

/* B tile: rows ci of group gi, columns = pixels [j0, j0+nc) counted from image n0. */
static void pack_b(const tconv_problem *pb, const geom *g, int64_t gi, int64_t n0, int64_t j0,
                   int64_t nc, int64_t nr, float *dst)
{
    const tconv_shape *s = &pb->s;
    const int64_t K = s->cin_g;
    for (int64_t c = 0; c < nc; c++) {
        const int64_t j = j0 + c, n = n0 + j / g->hw, iy = j % g->hw / s->w, ix = j % s->w;
        const float *src = pb->x + n * pb->xs[0] + gi * K * pb->xs[1] + iy * pb->xs[2] +
                           ix * pb->xs[3];
        float *d = dst + (c / nr) * nr * K + c % nr;
        for (int64_t ci = 0; ci < K; ci++)
            d[ci * nr] = src[ci * pb->xs[1]];
    }
    if (nc % nr) {
        float *last = dst + (nc / nr) * nr * K;
        for (int64_t ci = 0; ci < K; ci++)
            for (int64_t col = nc % nr; col < nr; col++)
                last[ci * nr + col] = 0.0f;
    }
}

/* First i >= 0 with i*stride + off >= 0, and first i with i*stride + off >= limit: the
 * inputs along one dimension whose tap lands inside the output, for one kernel tap. */
static void valid_range(int64_t in, int64_t stride, int64_t off, int64_t limit, int64_t *lo,
                        int64_t *hi)
{
    /* ceilings of non-negative quotients, written so that huge strides cannot overflow */
    *lo = off >= 0 ? 0 : (-off) / stride + ((-off) % stride != 0);
    int64_t span;
    if (__builtin_sub_overflow(limit, off, &span))
        *hi = in; /* limit - off beyond int64: every input row lands below the limit */
    else
        *hi = span <= 0 ? 0 : span / stride + (span % stride != 0);
    if (*hi > in)
        *hi = in;
    if (*lo > *hi)
        *lo = *hi;
}

/* Row `row` of a C tile: output channel c of the block and kernel tap (ky, kx), whose
 * inputs [iylo, iyhi) x [ixlo, ixhi) land on outputs (iy*sh + oy0, ix*sw + ox0). */
typedef struct tile_row {
    int64_t c, oy0, ox0, iylo, iyhi, ixlo, ixhi;
} tile_row;

static tile_row tile_row_at(const tconv_shape *s, int64_t row)
{
    const int64_t khw = s->kh * s->kw, ky = row % khw / s->kw, kx = row % s->kw;
    tile_row t;
    t.c = row / khw;
    t.oy0 = ky * s->dh - s->ph;
    t.ox0 = kx * s->dw - s->pw;
    valid_range(s->h, s->sh, t.oy0, s->hout, &t.iylo, &t.iyhi);
    valid_range(s->w, s->sw, t.ox0, s->wout, &t.ixlo, &t.ixhi);
    return t;
}

/* Sets output channels [co0, co0 + cb) of group gi of images [n_from, n_to) to the bias. */
static void start_at_bias(const tconv_problem *pb, int64_t gi, int64_t co0, int64_t cb,
                          int64_t n_from, int64_t n_to, const float *bias)
{
    const tconv_shape *s = &pb->s;
    for (int64_t n = n_from; n < n_to; n++)
        for (int64_t c = 0; c < cb; c++) {
            float *y = pb->y + n * pb->ys[0] + (gi * s->cout_g + co0 + c) * pb->ys[1];
            for (int64_t oy = 0; oy < s->hout; oy++)
                for (int64_t ox = 0; ox < s->wout; ox++)
                    y[oy * pb->ys[2] + ox * pb->ys[3]] = bias[c];
        }
}

/* col2im of one C tile: row (c, ky, kx) adds into output channel co0 + c at
 * (iy*sh + ky*dh - ph, ix*sw + kx*dw - pw). The valid input rows and columns of each
 * tap are computed once, so the inner loops carry no bounds checks. */
static void scatter(const tconv_problem *pb, const geom *g, int64_t gi, int64_t co0, int64_t cb,
                    int64_t n0, int64_t j0, int64_t nc, int64_t m, const float *cbuf,
                    const float *bias)
{
    const tconv_shape *s = &pb->s;
    const int64_t hw = g->hw, ys0 = pb->ys[0], ys2 = pb->ys[2],
                  ys3 = pb->ys[3];
    /* A tile of whole images whose (row, pixel) pairs are few (small images: 1x1 ->
     * 4x4 and the like): list the pairs that land in the output once, then per image
     * start its outputs at the bias and add the pairs, in row order. Consecutive rows
     * are neighbouring outputs of one image, which stay in L1, rather than one output
     * per image at a stride that may map every image onto the same cache set. */
    enum { MAX_PAIRS = 2048 };
    if (bias && j0 % hw == 0 && nc % hw == 0 && m * hw <= MAX_PAIRS) {
        struct {
            int64_t dst, src;
        } pairs[MAX_PAIRS];
        int64_t np = 0;
        for (int64_t row = 0; row < m; row++) {
            const tile_row tr = tile_row_at(s, row);
            for (int64_t iy = tr.iylo; iy < tr.iyhi; iy++)
                for (int64_t ix = tr.ixlo; ix < tr.ixhi; ix++) {
                    pairs[np].dst = (co0 + tr.c) * pb->ys[1] + (iy * s->sh + tr.oy0) * ys2 +
                                    (ix * s->sw + tr.ox0) * ys3;
                    pairs[np].src = row * nc + iy * s->w + ix;
                    np++;
                }
        }
        const int64_t first = n0 + j0 / hw, count = nc / hw;
        for (int64_t k = 0; k < count; k++) {
            start_at_bias(pb, gi, co0, cb, first + k, first + k + 1, bias);
            float *yk = pb->y + (first + k) * ys0 + gi * s->cout_g * pb->ys[1];
            const float *sk = cbuf + k * hw;
            for (int64_t i = 0; i < np; i++)
                yk[pairs[i].dst] += sk[pairs[i].src];
        }
        return;
    }
    if (bias) /* the caller asked for the bias start */
        start_at_bias(pb, gi, co0, cb, n0 + j0 / hw, n0 + (j0 + nc + hw - 1) / hw, bias);
    /* Otherwise row by row, the tile's runs of one input row each. */
    for (int64_t row = 0; row < m; row++) {
        const tile_row tr = tile_row_at(s, row);
        const int64_t oy0 = tr.oy0, ox0 = tr.ox0, iylo = tr.iylo, iyhi = tr.iyhi;
        const int64_t ixlo = tr.ixlo, ixhi = tr.ixhi;
        float *yc = pb->y + (gi * s->cout_g + co0 + tr.c) * pb->ys[1];
        const float *src = cbuf + row * nc;
        for (int64_t j = j0; j < j0 + nc;) {
            const int64_t n = n0 + j / hw, iy = j % hw / s->w, ix = j % s->w;
            const int64_t len = s->w - ix < j0 + nc - j ? s->w - ix : j0 + nc - j;
            if (iy >= iylo && iy < iyhi) {
                const int64_t a = ix > ixlo ? ix : ixlo, b = ix + len < ixhi ? ix + len : ixhi;
                float *yp = yc + n * ys0 + (iy * s->sh + oy0) * ys2 + ox0 * ys3;
                const float *sp = src + (j - j0) - ix;
                for (int64_t t = a; t < b; t++)
                    yp[t * s->sw * ys3] += sp[t];
            }
            j += len;
        }
    }
}

typedef struct run_ctx {
    const tconv_run_args *a;
    const tconv_gemm_kernel *gk;
    geom g;
    bool flat; /* one1x1: the GEMM writes the output directly */
} run_ctx;

static void do_unit(run_ctx *r, int64_t u, float *bbuf, float *cbuf)
{
    const tconv_problem *pb = r->a->pb;
    const tconv_shape *s = &pb->s;
    const geom *g = &r->g;
    const int64_t b = u % g->nblocks, ib = u / g->nblocks % g->nimg_blocks,
                  gi = u / g->nblocks / g->nimg_blocks;
    const int64_t co0 = b * g->cb, cb = s->cout_g - co0 < g->cb ? s->cout_g - co0 : g->cb;
    const int64_t n0 = ib * g->nb, nimg = s->n - n0 < g->nb ? s->n - n0 : g->nb;
    const int64_t khw = s->kh * s->kw, m = cb * khw, cols = nimg * g->hw;
    const float *packed = r->a->packed;
    const float *bias = packed + g->bias_off + gi * s->cout_g + co0;
    const float *ap = packed + (size_t)(gi * g->nblocks + b) * g->a_block;

    /* The unit's outputs start at the bias, set by its first tile (a unit is one image
     * tiled, or whole images in one tile), before anything is added. */
    for (int64_t j0 = 0; j0 < cols; j0 += g->nc) {
        const int64_t nc = cols - j0 < g->nc ? cols - j0 : g->nc;
        pack_b(pb, g, gi, n0, j0, nc, r->gk->nr, bbuf);
        tconv__gemm_compute(r->gk, m, nc, s->cin_g, ap, bbuf, cbuf, nc, 1, NULL, 0);
        scatter(pb, g, gi, co0, cb, n0, j0, nc, m, cbuf, j0 == 0 ? bias : NULL);
    }
}

static void unit_fn(void *ctx, int64_t u, void *slot)
{
    run_ctx *r = ctx;
    do_unit(r, u, (float *)slot,
            (float *)((char *)slot + tconv__align_up(r->g.b_floats * sizeof(float))));
}

/* one1x1 unit: (group, row block, column block). C starts at the bias of each column's
 * channel and the GEMM adds to it (each element one chain, as the kernels' contract
 * says: the bits do not depend on the blocks or threads). */
static void unit_1x1(void *ctx, int64_t u, void *slot)
{
    const run_ctx *r = ctx;
    const tconv_problem *pb = r->a->pb;
    const tconv_shape *s = &pb->s;
    const geom *g = &r->g;
    const int64_t cb = u % g->ncb, rbi = u / g->ncb % g->nrb, gi = u / g->ncb / g->nrb;
    const int64_t n0 = rbi * g->rb, rows = s->n - n0 < g->rb ? s->n - n0 : g->rb;
    const int64_t j0 = cb * g->nc, nc = g->cols - j0 < g->nc ? g->cols - j0 : g->nc;
    const int64_t khw = s->kh * s->kw;
    const float *packed = r->a->packed;
    const float *bias = packed + g->bias_off + gi * s->cout_g;
    const float *ap = (const float *)r->a->workspace + (size_t)gi * g->a_block +
                      (size_t)n0 * (size_t)s->cin_g; /* row block n0: n0/MR panels on */
    const float *bp = packed + (size_t)gi * g->b_group + (size_t)j0 * (size_t)s->cin_g;
    float *c;
    int64_t rs, cs;
    if (r->flat) {
        c = pb->y + n0 * pb->ys[0] + (gi * s->cout_g * khw + j0) * pb->ys[3];
        rs = pb->ys[0];
        cs = pb->ys[3];
    } else {
        c = slot;
        rs = nc;
        cs = 1;
    }
    /* the unit's first column: channel co0, tap t0 = (ky0, kx0) */
    const int64_t co0 = j0 / khw, t0 = j0 % khw, ky0 = t0 / s->kw, kx0 = t0 % s->kw;
    for (int64_t i = 0; i < rows; i++) /* channel by channel: runs of khw columns */
        for (int64_t j = 0, co = co0, t = t0; j < nc; co++, t = 0) {
            const int64_t run = khw - t < nc - j ? khw - t : nc - j;
            float *p = c + i * rs + j * cs;
            const float b = bias[co];
            if (cs == 1) /* a plain fill the compiler vectorises */
                for (int64_t e = 0; e < run; e++)
                    p[e] = b;
            else
                for (int64_t e = 0; e < run; e++)
                    p[e * cs] = b;
            j += run;
        }
    tconv__gemm_compute(r->gk, rows, nc, s->cin_g, ap, bp, c, rs, cs, NULL, 1);
    if (r->flat)
        return;
    for (int64_t i = 0; i < rows; i++) {
        float *y = pb->y + (n0 + i) * pb->ys[0] + gi * s->cout_g * pb->ys[1];
        int64_t co = co0, ky = ky0, kx = kx0;
        for (int64_t j = 0; j < nc; j++) {
            y[co * pb->ys[1] + ky * pb->ys[2] + kx * pb->ys[3]] = c[i * nc + j];
            next_tap(s, &co, &ky, &kx);
        }
    }
}

static void run(const tconv_run_args *a)
{
    run_ctx r;
    r.a = a;
    r.gk = tconv__gemm_kernel(a->isa);
    const tconv_shape *s = &a->pb->s;
    geometry(s, r.gk, &r.g);
    if (r.g.one1x1) {
        /* the input as A, once per group: (n, ci) at n*xs[0] + ci*xs[1] */
        r.flat = flat_output(a->pb);
        for (int64_t gi = 0; gi < s->groups; gi++)
            tconv__gemm_pack_a(r.gk, s->n, s->cin_g, a->pb->x + gi * s->cin_g * a->pb->xs[1],
                               a->pb->xs[0], a->pb->xs[1],
                               (float *)a->workspace + (size_t)gi * r.g.a_block);
        tconv__run_units(a->exec, a->threads, s->groups * r.g.nrb * r.g.ncb, unit_1x1, &r,
                         (char *)a->workspace + packed_x_bytes(s, &r.g),
                         slot_bytes_1x1(&r.g, r.flat));
        return;
    }
    tconv__run_units(a->exec, a->threads, a->pb->s.groups * r.g.nimg_blocks * r.g.nblocks,
                     unit_fn, &r, a->workspace, slot_bytes(&r.g));
}

const tconv_algo_impl tconv__algo_gemm_col2im = {
    .id = TCONV_ALGO_GEMM_COL2IM,
    .supports = col2im_supports,
    .packed_bytes = packed_bytes,
    .pack = pack,
    .workspace_bytes = workspace_bytes,
    .run = run,
};
