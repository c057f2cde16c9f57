/*
 * phase.c - the stride-phase GEMM path (TCONV_ALGO_PHASE_GEMM).
 *
 * For each group g and stride phase (py, px) (see lower.h), the outputs of the phase are
 *   C[co, (n, qy, qx)] = bias[co] + sum_k A[co, k] * B[k, (n, qy, qx)],
 *   k = (ci, ty, tx),  A[co, k] = w[ci, co, ky(ty), kx(tx)],
 *   B[k, (n, qy, qx)] = x[n, ci, qy + dy(ty), qx + dx(tx)]   (0 outside the input)
 * one GEMM with M = Cout/groups, K = Cin/groups * taps, N = batch * phase pixels.
 * A is packed once (by a plan, or into the workspace of a one-shot call). The columns
 * are cut into tiles of nc; a unit of work is (group, tile): for every phase, pack the
 * B tile (im2col of just that tile), run the GEMM into a per-thread C tile, copy the C
 * tile to its strided place in the output. Doing all phases of a tile in one unit means
 * the output lines one phase writes partly are still in cache when the next phase
 * fills them in (phases interleave in memory). Every output element is written once,
 * by one unit, with a summation order fixed by the GEMM kernel: results do not depend
 * on the number of threads, and extra memory is bounded by the tile size.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "../gemm/gemm.h"
#include "../thread/pool.h"
#include "im2col.h"
#include "lower.h"

/* One phase of the layer. */
typedef struct phase {
    int64_t py, px;
    tconv_taps ty, tx;
    int64_t hq, wq;   /* outputs of the phase */
    int64_t k;        /* GEMM depth: cin_g * ty.count * tx.count (0: bias only) */
    int64_t cols;     /* n * hq * wq */
    int64_t tiles;    /* ceil(cols / nc) */
    size_t a_off;     /* floats from the start of the group's packed A */
} phase;

/* The whole decomposition, a pure function of the shape and the kernel. */
typedef struct plan_geom {
    phase ph[TCONV_MAX_PHASES];
    int nph;
    size_t a_group;   /* packed A floats per group */
    size_t bias_off;  /* floats: packed bias comes after all groups' A */
    int64_t kmax;
    int64_t nc;       /* column tile, multiple of NR */
    int64_t ldc;      /* row stride of the C tile */
    int64_t units_per_group; /* tiles of the widest phase */
    size_t b_floats, c_floats; /* per-slot workspace: a B panel block, the C tile */
} plan_geom;

/* Column tile: the output a unit writes (all phases: Cout/groups x nc x phases floats)
 * stays in L2 (2 MiB per core on the machines we tune for) until every phase has
 * written its part of each cache line. */
#define UNIT_OUT_BYTES (1024 * 1024)
#define MAX_NC 1024

static void geometry(const tconv_shape *s, const tconv_gemm_kernel *gk, plan_geom *g)
{
    memset(g, 0, sizeof *g);
    for (int64_t py = 0; py < s->sh; py++)
        for (int64_t px = 0; px < s->sw; px++) {
            phase *p = &g->ph[g->nph++];
            p->py = py;
            p->px = px;
            tconv__phase_taps(py, s->sh, s->ph, s->dh, s->kh, &p->ty);
            tconv__phase_taps(px, s->sw, s->pw, s->dw, s->kw, &p->tx);
            p->hq = tconv__phase_len(py, s->sh, s->hout);
            p->wq = tconv__phase_len(px, s->sw, s->wout);
            p->k = s->cin_g * p->ty.count * p->tx.count;
            p->cols = s->n * p->hq * p->wq;
            p->a_off = g->a_group;
            g->a_group += tconv__gemm_packed_a_floats(gk, s->cout_g, p->k);
            if (p->k > g->kmax)
                g->kmax = p->k;
        }
    g->bias_off = tconv__align_up(g->a_group * (size_t)s->groups * sizeof(float)) / sizeof(float);
    const int64_t nr = gk->nr;
    int64_t nc = (int64_t)(UNIT_OUT_BYTES / sizeof(float)) / (s->cout_g * g->nph);
    nc = nc / nr * nr;
    if (nc < nr)
        nc = nr;
    if (nc > MAX_NC)
        nc = MAX_NC;
    /* no wider than the widest phase needs: small layers get small workspaces */
    int64_t widest = 0;
    for (int i = 0; i < g->nph; i++)
        widest = g->ph[i].cols > widest ? g->ph[i].cols : widest;
    widest = (widest + nr - 1) / nr * nr;
    g->nc = nc < widest ? nc : widest > 0 ? widest : nr;
    g->ldc = nc;
    for (int i = 0; i < g->nph; i++) {
        phase *p = &g->ph[i];
        p->tiles = (p->cols + nc - 1) / nc;
        if (p->tiles > g->units_per_group)
            g->units_per_group = p->tiles;
    }
    /* one K block of one panel (the GEMM splits K into equal blocks of at most kc) */
    g->b_floats = (size_t)(g->kmax < gk->kc ? g->kmax : gk->kc) * (size_t)nr;
    g->c_floats = (size_t)s->cout_g * (size_t)g->ldc;
}

static bool phase_supports(const tconv_shape *s, const char **why)
{
    if (s->sh > TCONV_MAX_PHASES || s->sw > TCONV_MAX_PHASES ||
        s->sh * s->sw > TCONV_MAX_PHASES) { /* each factor first: the product may overflow */
        *why = "stride[0]*stride[1] must be <= 64";
        return false;
    }
    return true;
}

static size_t packed_bytes(const tconv_shape *s, tconv_isa isa)
{
    plan_geom g;
    geometry(s, tconv__gemm_kernel(isa), &g);
    return (g.bias_off + (size_t)s->cout) * sizeof(float);
}

/* A of (group gi, phase p): rows co, columns k = (ci, ty, tx), in the kernel's panels. */
static void pack(const tconv_problem *pb, tconv_isa isa, void *dst)
{
    const tconv_shape *s = &pb->s;
    const tconv_gemm_kernel *gk = tconv__gemm_kernel(isa);
    plan_geom g;
    geometry(s, gk, &g);
    float *out = dst;
    const int64_t mr = gk->mr;
    for (int64_t gi = 0; gi < s->groups; gi++)
        for (int i = 0; i < g.nph; i++) {
            const phase *p = &g.ph[i];
            float *a = out + (size_t)gi * g.a_group + p->a_off;
            for (int64_t r0 = 0; r0 < s->cout_g; r0 += mr)
                for (int64_t ci = 0, kk = 0; ci < s->cin_g; ci++)
                    for (int64_t ty = 0; ty < p->ty.count; ty++)
                        for (int64_t tx = 0; tx < p->tx.count; tx++, kk++) {
                            const int64_t ky = p->ty.first + ty * p->ty.step;
                            const int64_t kx = p->tx.first + tx * p->tx.step;
                            const float *w = pb->wt + (gi * s->cin_g + ci) * pb->ws[0] +
                                             ky * pb->ws[2] + kx * pb->ws[3];
                            float *d = a + r0 * p->k + kk * mr;
                            for (int64_t r = 0; r < mr; r++)
                                d[r] = r0 + r < s->cout_g ? w[(r0 + r) * pb->ws[1]] : 0.0f;
                        }
        }
    float *bias = out + g.bias_off;
    for (int64_t co = 0; co < s->cout; co++)
        bias[co] = s->has_bias ? pb->b[co * pb->bs] : 0.0f;
}

typedef tconv_im2col_seg seg;

/* Most runs a tile of nc columns can have (every column its own run, plus splits at
 * panel boundaries). */
static int64_t max_segs(int64_t nc, int64_t nr)
{
    return nc + nc / nr + 1;
}

/* Per-thread scratch: B tile | C tile | runs | first run of each panel | taps. */
typedef struct slot_layout {
    size_t b, c, segs, starts, taps, total;
} slot_layout;

static slot_layout layout(const plan_geom *g, int64_t nr)
{
    slot_layout l;
    l.b = 0;
    l.c = l.b + tconv__align_up(g->b_floats * sizeof(float));
    l.segs = l.c + tconv__align_up(g->c_floats * sizeof(float));
    l.starts = l.segs + tconv__align_up((size_t)max_segs(g->nc, nr) * sizeof(seg));
    l.taps = l.starts + tconv__align_up((size_t)(g->nc / nr + 2) * sizeof(int64_t));
    l.total = l.taps + tconv__align_up((size_t)g->kmax * sizeof(tconv_im2col_tap));
    return l;
}

static size_t workspace_bytes(const tconv_shape *s, tconv_isa isa, int threads)
{
    plan_geom g;
    const tconv_gemm_kernel *gk = tconv__gemm_kernel(isa);
    geometry(s, gk, &g);
    size_t one = layout(&g, gk->nr).total;
    return one > SIZE_MAX / (size_t)threads ? SIZE_MAX : one * (size_t)threads;
}

/* Walks the columns [j0, j0+nc) of a phase as runs of constant (n, qy). */
typedef struct seg_iter {
    int64_t j, end, n, qy, qx, hq, wq;
} seg_iter;

static void seg_start(seg_iter *it, const phase *p, int64_t j0, int64_t nc)
{
    it->j = j0;
    it->end = j0 + nc;
    it->hq = p->hq;
    it->wq = p->wq;
    const int64_t per_img = p->hq * p->wq, r = j0 % per_img;
    it->n = j0 / per_img;
    it->qy = r / p->wq;
    it->qx = r % p->wq;
}

/* Length of the current run (0 when done). */
static int64_t seg_len(const seg_iter *it)
{
    int64_t l = it->wq - it->qx, left = it->end - it->j;
    return it->j < it->end ? (l < left ? l : left) : 0;
}

static void seg_advance(seg_iter *it, int64_t l)
{
    it->j += l;
    it->qx += l;
    if (it->qx == it->wq) {
        it->qx = 0;
        if (++it->qy == it->hq) {
            it->qy = 0;
            it->n++;
        }
    }
}

/* Cuts the tile's columns into runs of constant (n, qy) that stay inside one panel;
 * starts[j] is the first run of panel j (starts[npanels] = count). */
static int64_t build_segs(const tconv_problem *pb, const phase *p, int64_t gi, int64_t j0,
                          int64_t nc, int64_t nr, seg *out, int64_t *starts)
{
    int64_t count = 0, panel = -1;
    seg_iter it;
    seg_start(&it, p, j0, nc);
    for (int64_t len; (len = seg_len(&it)) > 0;) {
        for (int64_t done = 0; done < len;) {
            const int64_t c = it.j - j0 + done, col = c % nr;
            const int64_t l = len - done < nr - col ? len - done : nr - col;
            while (panel < c / nr)
                starts[++panel] = count;
            seg *sg = &out[count++];
            sg->x_off = it.n * pb->xs[0] + gi * pb->s.cin_g * pb->xs[1];
            sg->qy = it.qy;
            sg->qx0 = it.qx + done;
            sg->len = l;
            sg->col = col;
            done += l;
        }
        seg_advance(&it, len);
    }
    starts[++panel] = count;
    return count;
}

/* The taps of a phase in B's row order k = (ci, ty, tx). */
static void build_taps(const tconv_problem *pb, const phase *p, tconv_im2col_tap *taps)
{
    int64_t kk = 0;
    for (int64_t ci = 0; ci < pb->s.cin_g; ci++)
        for (int64_t ty = 0; ty < p->ty.count; ty++)
            for (int64_t tx = 0; tx < p->tx.count; tx++, kk++) {
                taps[kk].c_off = ci * pb->xs[1];
                taps[kk].dy = p->ty.d0 + ty * p->ty.dstep;
                taps[kk].dx = p->tx.d0 + tx * p->tx.dstep;
            }
}

/* A panel from input rows whose columns are not contiguous (any xs[3]). */
static void pack_panel_strided(const tconv_problem *pb, float *panel, int64_t nr, int64_t ncols,
                               const tconv_im2col_tap *taps, int64_t K, const seg *segs,
                               int64_t nsegs)
{
    const tconv_shape *s = &pb->s;
    for (int64_t k = 0; k < K; k++) {
        float *row = panel + k * nr;
        for (int64_t si = 0; si < nsegs; si++) {
            const seg *sg = &segs[si];
            const int64_t iy = sg->qy + taps[k].dy, ix0 = sg->qx0 + taps[k].dx;
            for (int64_t t = 0; t < sg->len; t++) {
                const int64_t ix = ix0 + t;
                row[sg->col + t] = iy >= 0 && iy < s->h && ix >= 0 && ix < s->w
                                       ? pb->x[sg->x_off + taps[k].c_off + iy * pb->xs[2] +
                                               ix * pb->xs[3]]
                                       : 0.0f;
            }
        }
        for (int64_t c = ncols; c < nr; c++)
            row[c] = 0.0f;
    }
}

/* Copies a C tile (rows co, columns of the tile) to the output; c == NULL writes the
 * bias alone (phases without taps). */
static void store_c(const tconv_problem *pb, const phase *p, int64_t gi, int64_t j0, int64_t nc,
                    const float *c, int64_t ldc, const float *bias, tconv_phase_store_fn store)
{
    const tconv_shape *s = &pb->s;
    const int64_t step = s->sw * pb->ys[3];
    seg_iter it;
    seg_start(&it, p, j0, nc);
    for (int64_t len; (len = seg_len(&it)) > 0;) {
        const int64_t cj = it.j - j0;
        float *yrow = pb->y + it.n * pb->ys[0] + gi * s->cout_g * pb->ys[1] +
                      (p->py + s->sh * it.qy) * pb->ys[2] + (p->px + s->sw * it.qx) * pb->ys[3];
        if (c) {
            store(yrow, pb->ys[1], step, c + cj, ldc, s->cout_g, len);
        } else {
            for (int64_t co = 0; co < s->cout_g; co++)
                for (int64_t t = 0; t < len; t++)
                    yrow[co * pb->ys[1] + t * step] = bias[co];
        }
        seg_advance(&it, len);
    }
}

typedef struct run_ctx {
    const tconv_run_args *a;
    const tconv_gemm_kernel *gk;
    tconv_im2col_panel_fn panel_fn;
    tconv_phase_store_fn store;
    plan_geom g;
    slot_layout l;
} run_ctx;

/* Tile t of phase p of group gi. */
static void do_phase_tile(run_ctx *r, int64_t gi, const phase *p, int64_t t, char *slot)
{
    const tconv_problem *pb = r->a->pb;
    const plan_geom *g = &r->g;
    const int64_t j0 = t * g->nc, nc = p->cols - j0 < g->nc ? p->cols - j0 : g->nc;
    const float *packed = r->a->packed;
    const float *bias = packed + g->bias_off + gi * pb->s.cout_g;
    if (p->k == 0) {
        store_c(pb, p, gi, j0, nc, NULL, 0, bias, r->store);
        return;
    }
    float *bbuf = (float *)(slot + r->l.b), *cbuf = (float *)(slot + r->l.c);
    seg *segs = (seg *)(slot + r->l.segs);
    int64_t *starts = (int64_t *)(slot + r->l.starts);
    tconv_im2col_tap *taps = (tconv_im2col_tap *)(slot + r->l.taps);
    const tconv_gemm_kernel *gk = r->gk;
    const int64_t nr = gk->nr, mr = gk->mr, m = pb->s.cout_g, K = p->k;
    const float *ap = packed + (size_t)gi * g->a_group + p->a_off;
    build_segs(pb, p, gi, j0, nc, nr, segs, starts);
    build_taps(pb, p, taps);
    /* The GEMM loop with the im2col inside it: each K block of each B panel is packed
     * right before all of A's row panels use it, so it never leaves L1. The K blocks
     * are the driver's (equal, at most kc), the kernel keeps one accumulation chain. */
    const int64_t k_blocks = (K + gk->kc - 1) / gk->kc, kcb = (K + k_blocks - 1) / k_blocks;
    for (int64_t j = 0; j * nr < nc; j++) {
        const int64_t ncols = nc - j * nr < nr ? nc - j * nr : nr;
        const seg *ps = segs + starts[j];
        const int64_t ns = starts[j + 1] - starts[j];
        for (int64_t p0 = 0; p0 < K; p0 += kcb) {
            const int64_t kb = K - p0 < kcb ? K - p0 : kcb;
            if (pb->xs[3] == 1)
                r->panel_fn(bbuf, nr, ncols, taps + p0, kb, ps, ns, pb->x, pb->xs[2], pb->s.h,
                            pb->s.w);
            else
                pack_panel_strided(pb, bbuf, nr, ncols, taps + p0, kb, ps, ns);
            for (int64_t i0 = 0; i0 < m; i0 += mr)
                gk->fn(kb, ap + i0 * K + p0 * mr, bbuf, cbuf + i0 * g->ldc + j * nr, g->ldc, 1,
                       m - i0 < mr ? m - i0 : mr, ncols, p0 == 0 ? bias + i0 : NULL, p0 > 0);
        }
    }
    store_c(pb, p, gi, j0, nc, cbuf, g->ldc, NULL, r->store);
}

static void do_unit(run_ctx *r, int64_t u, char *slot)
{
    const int64_t gi = u / r->g.units_per_group, t = u % r->g.units_per_group;
    for (int i = 0; i < r->g.nph; i++)
        if (t < r->g.ph[i].tiles)
            do_phase_tile(r, gi, &r->g.ph[i], t, slot);
}

static void unit_fn(void *ctx, int64_t u, void *slot)
{
    do_unit(ctx, u, slot);
}

static void run(const tconv_run_args *a)
{
    run_ctx r;
    r.a = a;
    r.gk = tconv__gemm_kernel(a->isa);
    r.panel_fn = tconv__im2col_panel(a->isa);
    r.store = tconv__phase_store(a->isa);
    geometry(&a->pb->s, r.gk, &r.g);
    r.l = layout(&r.g, r.gk->nr);
    tconv__run_units(a->exec, a->threads, r.g.units_per_group * a->pb->s.groups, unit_fn, &r,
                     a->workspace, r.l.total);
}

const tconv_algo_impl tconv__algo_phase_gemm = {
    .id = TCONV_ALGO_PHASE_GEMM,
    .supports = phase_supports,
    .packed_bytes = packed_bytes,
    .pack = pack,
    .workspace_bytes = workspace_bytes,
    .run = run,
};
