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
 * Work is cut into units (group, block of whole images, block of output channels):
 * a unit owns all the output elements of its images and channels, so it can start them
 * at the bias and scatter-add into them with no other unit touching them. Within a
 * unit the images' pixels are processed in column tiles (pack B, GEMM into a C tile,
 * scatter). Tiles, blocks and the order of additions depend only on the shape, so
 * results do not depend on the number of threads.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdatomic.h>
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
} geom;

#define C_TILE_BYTES (1024 * 1024)
#define B_TILE_BYTES (512 * 1024)
#define MAX_NC 1024
#define TARGET_M 512 /* rows of a channel block's GEMM */

static void geometry(const tconv_shape *s, const tconv_gemm_kernel *gk, geom *g)
{
    memset(g, 0, sizeof *g);
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

/* A of (group gi, channel block b): rows (co, ky, kx) of the block, columns ci. */
static void pack(const tconv_problem *pb, tconv_isa isa, void *dst)
{
    const tconv_shape *s = &pb->s;
    const tconv_gemm_kernel *gk = tconv__gemm_kernel(isa);
    geom g;
    geometry(s, gk, &g);
    float *out = dst;
    const int64_t mr = gk->mr, khw = s->kh * s->kw;
    for (int64_t gi = 0; gi < s->groups; gi++)
        for (int64_t b = 0; b < g.nblocks; b++) {
            float *a = out + (size_t)(gi * g.nblocks + b) * g.a_block;
            const int64_t co0 = b * g.cb;
            const int64_t cb = s->cout_g - co0 < g.cb ? s->cout_g - co0 : g.cb;
            const int64_t m = cb * khw;
            for (int64_t r0 = 0; r0 < m; r0 += mr)
                for (int64_t ci = 0; ci < s->cin_g; ci++) {
                    float *d = a + r0 * s->cin_g + ci * mr;
                    for (int64_t r = 0; r < mr; r++) {
                        const int64_t row = r0 + r;
                        if (row >= m) {
                            d[r] = 0.0f;
                            continue;
                        }
                        const int64_t co = co0 + row / khw, ky = row % khw / s->kw,
                                      kx = row % s->kw;
                        d[r] = pb->wt[(gi * s->cin_g + ci) * pb->ws[0] + co * pb->ws[1] +
                                      ky * pb->ws[2] + kx * pb->ws[3]];
                    }
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

static size_t workspace_bytes(const tconv_shape *s, tconv_isa isa, int threads)
{
    geom g;
    geometry(s, tconv__gemm_kernel(isa), &g);
    size_t one = slot_bytes(&g);
    return one > SIZE_MAX / (size_t)threads ? SIZE_MAX : one * (size_t)threads;
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

typedef struct run_ctx {
    const tconv_run_args *a;
    const tconv_gemm_kernel *gk;
    geom g;
    size_t slot;
    atomic_llong next;
    int64_t units;
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

    /* the unit's outputs start at the bias */
    for (int64_t n = n0; n < n0 + nimg; n++)
        for (int64_t c = 0; c < cb; c++) {
            float *y = pb->y + n * pb->ys[0] + (gi * s->cout_g + co0 + c) * pb->ys[1];
            for (int64_t oy = 0; oy < s->hout; oy++)
                for (int64_t ox = 0; ox < s->wout; ox++)
                    y[oy * pb->ys[2] + ox * pb->ys[3]] = bias[c];
        }
    for (int64_t j0 = 0; j0 < cols; j0 += g->nc) {
        const int64_t nc = cols - j0 < g->nc ? cols - j0 : g->nc;
        pack_b(pb, g, gi, n0, j0, nc, r->gk->nr, bbuf);
        tconv__gemm_compute(r->gk, m, nc, s->cin_g, ap, bbuf, cbuf, nc, 1, NULL, 0);
        /* col2im: row (c, ky, kx) of the C tile scatters to output channel co0 + c */
        for (int64_t row = 0; row < m; row++) {
            const int64_t c = row / khw, ky = row % khw / s->kw, kx = row % s->kw;
            const float *src = cbuf + row * nc;
            for (int64_t cj = 0; cj < nc; cj++) {
                const int64_t j = j0 + cj, n = n0 + j / g->hw, iy = j % g->hw / s->w,
                              ix = j % s->w;
                const int64_t oy = iy * s->sh - s->ph + ky * s->dh;
                const int64_t ox = ix * s->sw - s->pw + kx * s->dw;
                if (oy < 0 || oy >= s->hout || ox < 0 || ox >= s->wout)
                    continue;
                pb->y[n * pb->ys[0] + (gi * s->cout_g + co0 + c) * pb->ys[1] + oy * pb->ys[2] +
                      ox * pb->ys[3]] += src[cj];
            }
        }
    }
}

static void stripe(void *ctx, int64_t i)
{
    run_ctx *r = ctx;
    char *slot = (char *)r->a->workspace + (size_t)i * r->slot;
    float *bbuf = (float *)slot;
    float *cbuf = (float *)(slot + tconv__align_up(r->g.b_floats * sizeof(float)));
    for (;;) {
        int64_t u = (int64_t)atomic_fetch_add_explicit(&r->next, 1, memory_order_relaxed);
        if (u >= r->units)
            return;
        do_unit(r, u, bbuf, cbuf);
    }
}

static void run(const tconv_run_args *a)
{
    run_ctx r;
    r.a = a;
    r.gk = tconv__gemm_kernel(a->isa);
    geometry(&a->pb->s, r.gk, &r.g);
    r.slot = slot_bytes(&r.g);
    r.units = a->pb->s.groups * r.g.nimg_blocks * r.g.nblocks;
    atomic_init(&r.next, 0);
    tconv__parallel_for(a->exec, a->threads, stripe, &r, a->threads);
}

const tconv_algo_impl tconv__algo_gemm_col2im = {
    .id = TCONV_ALGO_GEMM_COL2IM,
    .supports = col2im_supports,
    .packed_bytes = packed_bytes,
    .pack = pack,
    .workspace_bytes = workspace_bytes,
    .run = run,
};
