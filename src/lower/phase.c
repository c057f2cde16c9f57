/*
 * phase.c - the stride-phase GEMM path (TCONV_ALGO_PHASE_GEMM).
 *
 * For each group g and stride phase (py, px) (see lower.h), the outputs of the phase are
 *   C[co, (n, qy, qx)] = bias[co] + sum_k A[co, k] * B[k, (n, qy, qx)],
 *   k = (ty, tx, ci) (tap-major, so that an igemm keeps one tap's masks across channels),  A[co, k] = w[ci, co, ky(ty), kx(tx)],
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
    const tconv_gemm_kernel *gk;  /* the packed feed's GEMM kernel */
    const tconv_igemm_kernel *ik; /* the direct feed's kernel, NULL: none */
    int64_t mr;       /* rows per panel of packed A: gk's, or ik's if only it runs */
} plan_geom;

/* Column tile: the output a unit writes (all phases: Cout/groups x nc x phases floats)
 * stays in L2 (2 MiB per core on the machines we tune for) until every phase has
 * written its part of each cache line. */
#define UNIT_OUT_BYTES (1024 * 1024)
#define MAX_NC 1024
/* Work units both feeds aim for (tiles x groups), so that two or more threads end
 * together. */
#define MIN_UNITS 32
/* Floats of one C block of the direct feed: MR x 16*NV of either igemm kernel. */
#define DIRECT_C_BLOCK (8 * 48)

/* Directly fed phases (igemm): K steps per channel block, so that the B rows of a block
 * (3 vectors each) stay in L1 while every row panel of A passes over them; and the
 * least fraction of vector lanes that must hold real columns (rows much narrower than
 * a vector waste lanes; the packed path wastes none). */
#define KBLOCK_DIRECT 256
#define MIN_LANE_USE 0.9
/* ...unless A has few rows: packing costs in proportion to 1/M (each packed element
 * serves M multiply-adds), so at M <= 32 it costs more than a quarter of spare lanes
 * (measured: small_b1, M = 16, 80% lanes: direct 1.2-1.5x faster; dcgan3, M = 128,
 * 80% lanes: direct 0.9x). */
#define SMALL_M 32
#define MIN_LANE_USE_SMALL_M 0.75
#define MAX_COPY 0.85
/* Copies this small (floats) are allowed whatever the output size (tiny layers: the
 * packed path's own panel and tile are larger). */
#define SMALL_COPY 32768
/* Taps reaching further than this outside the input take the packed path (the copy
 * would be mostly zeros). */
#define LIMIT 64

/* The phases and tiles (the kernels and A's layout: full_geometry). */
static void geometry(const tconv_shape *s, const tconv_gemm_kernel *gk, plan_geom *g)
{
    memset(g, 0, sizeof *g);
    g->gk = gk;
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
            if (p->k > g->kmax)
                g->kmax = p->k;
        }
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
    /* and narrow enough for MIN_UNITS units (tiles x groups) when the layer has them */
    const int64_t want = (MIN_UNITS + s->groups - 1) / s->groups;
    const int64_t share = ((widest + want - 1) / want + nr - 1) / nr * nr;
    if (share < nc)
        nc = share > nr ? share : nr;
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
    /* the direct feed's two MR x 48 C blocks live there too */
    if (g->c_floats < (size_t)(2 * DIRECT_C_BLOCK))
        g->c_floats = (size_t)(2 * DIRECT_C_BLOCK);
    g->c_floats += 16; /* the store functions read up to 15 floats past a run */
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

static void full_geometry(const tconv_shape *s, tconv_isa isa, plan_geom *g);

static size_t packed_bytes(const tconv_shape *s, tconv_isa isa)
{
    plan_geom g;
    full_geometry(s, isa, &g);
    return (g.bias_off + (size_t)s->cout) * sizeof(float);
}

/* A of (group gi, phase p): rows co, columns k = (ci, ty, tx), in the kernel's panels. */
static void pack(const tconv_problem *pb, tconv_isa isa, void *dst)
{
    const tconv_shape *s = &pb->s;
    plan_geom g;
    full_geometry(s, isa, &g);
    float *out = dst;
    const int64_t mr = g.mr;
    for (int64_t gi = 0; gi < s->groups; gi++)
        for (int i = 0; i < g.nph; i++) {
            const phase *p = &g.ph[i];
            float *a = out + (size_t)gi * g.a_group + p->a_off;
            for (int64_t r0 = 0; r0 < s->cout_g; r0 += mr)
                for (int64_t ty = 0, kk = 0; ty < p->ty.count; ty++)
                    for (int64_t tx = 0; tx < p->tx.count; tx++)
                        for (int64_t ci = 0; ci < s->cin_g; ci++, kk++) {
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

/* direct_only: every phase is fed directly, so no B panel and only the two MR x 48 C
 * blocks of direct_tile (plus the store functions' slack) instead of a C tile. */
static slot_layout layout(const plan_geom *g, int64_t nr, bool direct_only)
{
    slot_layout l;
    const size_t c_floats = direct_only ? (size_t)(2 * DIRECT_C_BLOCK + 16) : g->c_floats;
    l.b = 0;
    l.c = l.b + (direct_only ? 0 : tconv__align_up(g->b_floats * sizeof(float)));
    l.segs = l.c + tconv__align_up(c_floats * sizeof(float));
    const int64_t segs = max_segs(g->nc, nr) > 16 * TCONV_IGEMM_MAX_NV ? max_segs(g->nc, nr)
                                                                     : 16 * TCONV_IGEMM_MAX_NV;
    l.starts = l.segs + tconv__align_up((size_t)segs * sizeof(seg));
    l.taps = l.starts + tconv__align_up((size_t)(g->nc / nr + 2) * sizeof(int64_t));
    l.total = l.taps + tconv__align_up((size_t)g->kmax * sizeof(tconv_im2col_tap));
    return l;
}

/* The direct (igemm) feed reads B from a zero-padded copy of the input, made once per
 * call: planes (n, c) of hp x wp floats, each row a gap of zeros then the W inputs, with
 * `top` zero rows above and enough below, so that every tap of every phase reads zeros
 * outside the input without a bounds check or a lane mask. A phase's columns are then
 * the copy's grid: lane (qy, qx) of a plane, qx in [0, wp), the columns qx >= wq being
 * computed and discarded. Planes sit a number of cache lines apart that is not a
 * multiple of 4: rows of successive channels spread over at least 32 of the 64 L1 sets
 * (at a 4 KiB plane stride they would all fall into one). The copy costs one pass over
 * the input where im2col copied it once per tap; it is used only when it is at most
 * MAX_COPY of the output (transposed convolutions usually grow their input), so that
 * with the per-thread tiles the extra memory stays below the output's size. */
typedef struct copy_geom {
    int64_t top, gap; /* zero rows above each plane; zero columns before each row */
    int64_t hp, wp;   /* padded rows and pitch */
    int64_t cs;       /* plane stride (floats) */
    int64_t tail;     /* slack after the last plane for its spare lanes (floats) */
    int64_t chunk;    /* images copied at a time (set by copy_bytes) */
} copy_geom;

static bool copy_geometry(const tconv_shape *s, const plan_geom *g, copy_geom *c)
{
    memset(c, 0, sizeof *c);
    int64_t dy0 = 0, dy1 = 0, dx0 = 0, dx1 = 0, hq = 0, wq = 0;
    for (int i = 0; i < g->nph; i++) {
        const phase *p = &g->ph[i];
        if (p->k == 0 || p->cols == 0)
            continue;
        const int64_t ylast = p->ty.d0 + (p->ty.count - 1) * p->ty.dstep,
                      xlast = p->tx.d0 + (p->tx.count - 1) * p->tx.dstep;
        const int64_t ylo = ylast < p->ty.d0 ? ylast : p->ty.d0,
                      yhi = ylast < p->ty.d0 ? p->ty.d0 : ylast;
        const int64_t xlo = xlast < p->tx.d0 ? xlast : p->tx.d0,
                      xhi = xlast < p->tx.d0 ? p->tx.d0 : xlast;
        /* rows [ylo, hq - 1 + yhi] and columns [xlo, wq - 1 + xhi] are read */
        dy0 = ylo < dy0 ? ylo : dy0;
        dx0 = xlo < dx0 ? xlo : dx0;
        dy1 = p->hq - 1 + yhi > dy1 ? p->hq - 1 + yhi : dy1;
        dx1 = p->wq - 1 + xhi > dx1 ? p->wq - 1 + xhi : dx1;
        hq = p->hq > hq ? p->hq : hq;
        wq = p->wq > wq ? p->wq : wq;
    }
    if (hq == 0 || dy0 < -LIMIT || dx0 < -LIMIT || dy1 > s->h + LIMIT || dx1 > s->w + LIMIT)
        return false;
    c->top = -dy0;
    const int64_t bottom = dy1 - (s->h - 1) > 0 ? dy1 - (s->h - 1) : 0,
                  right = dx1 - (s->w - 1) > 0 ? dx1 - (s->w - 1) : 0;
    /* a row's gap serves as its left border and the previous row's right border; and
     * the grid must be as wide as the phases */
    c->gap = -dx0 > right ? -dx0 : right;
    if (s->w + c->gap < wq)
        c->gap = wq - s->w;
    c->hp = c->top + s->h + bottom;
    c->wp = s->w + c->gap;
    if (c->hp < hq)
        c->hp = hq;
    const int64_t lines = (c->hp * c->wp + 15) / 16;
    c->cs = (lines % 4 == 0 ? lines + 1 : lines) * 16;
    /* spare lanes of a plane's last vector read up to 16 grid columns past hq rows, and
     * a tap up to (dy1 - hq + 1 + top) rows and (dx1 - wq + 1 + gap) columns further */
    c->tail = (c->top + dy1 + 3) * c->wp + c->gap + dx1 + 32;
    return (double)s->cin * (double)c->cs < 1e15;
}

/* Vectors per image of a directly fed phase: 16 lanes over hq rows of the grid. */
static int64_t vectors_per_image(const phase *p, const copy_geom *c)
{
    return (p->hq * c->wp + 15) / 16;
}

/* Is a phase fed directly? Not when its vectors would be mostly spare lanes (rows much
 * narrower than the gap, tiny planes): the packed feed wastes none. */
static bool phase_direct(const tconv_shape *s, const phase *p, const copy_geom *c)
{
    if (p->k == 0 || p->cols == 0)
        return false;
    const double lanes = (double)vectors_per_image(p, c) * 16.0 * (double)s->n;
    const double need = s->cout_g <= SMALL_M ? MIN_LANE_USE_SMALL_M : MIN_LANE_USE;
    return (double)p->cols >= need * lanes;
}

/* Does every phase with work take the direct feed (given a copy)? */
static bool all_direct(const tconv_shape *s, const plan_geom *g, const copy_geom *c)
{
    for (int i = 0; i < g->nph; i++)
        if (g->ph[i].k > 0 && g->ph[i].cols > 0 && !phase_direct(s, &g->ph[i], c))
            return false;
    return true;
}

/* Bytes of the copy for this shape and ISA, 0 when no phase is fed directly; sets
 * c->chunk, the images copied (and computed) at a time: all of them if the copy of
 * the batch fits in MAX_COPY of the output, else as many as fit. */
static size_t copy_bytes(const tconv_shape *s, const plan_geom *g, copy_geom *c)
{
    if (!g->ik || !copy_geometry(s, g, c))
        return 0;
    bool any = false;
    for (int i = 0; i < g->nph; i++)
        any = any || phase_direct(s, &g->ph[i], c);
    if (!any || s->n == 0)
        return 0;
    const double out = (double)s->n * (double)s->cout * (double)s->hout * (double)s->wout,
                 img = (double)s->cin * (double)c->cs;
    const double budget = out * MAX_COPY > SMALL_COPY ? out * MAX_COPY : SMALL_COPY;
    const double fit = (budget - (double)c->tail) / img;
    if (fit < 1.0)
        return 0;
    c->chunk = fit >= (double)s->n ? s->n : (int64_t)fit;
    return tconv__align_up(((size_t)c->chunk * (size_t)(s->cin * c->cs) + (size_t)c->tail) *
                           sizeof(float));
}

/* geometry() plus the kernels: the direct feed's igemm kernel (the 4-row one for A of
 * at most 4 rows, but only if every phase is fed directly: A is packed for one MR),
 * and where each phase's packed A lies. A pure function of the shape and the ISA. */
static void full_geometry(const tconv_shape *s, tconv_isa isa, plan_geom *g)
{
    const tconv_gemm_kernel *gk = tconv__gemm_kernel(isa);
    geometry(s, gk, g);
    g->mr = gk->mr;
    g->ik = tconv__igemm_kernel(isa, s->cout_g);
    if (g->ik && g->ik->mr != gk->mr) {
        copy_geom c;
        if (!(copy_bytes(s, g, &c) > 0 && all_direct(s, g, &c)))
            g->ik = tconv__igemm_kernel(isa, gk->mr);
        else
            g->mr = g->ik->mr;
    }
    if (g->ik && g->ik->mr != g->mr)
        g->ik = NULL;
    for (int i = 0; i < g->nph; i++) {
        phase *p = &g->ph[i];
        p->a_off = g->a_group;
        g->a_group += (size_t)((s->cout_g + g->mr - 1) / g->mr * g->mr) * (size_t)p->k;
    }
    g->bias_off = tconv__align_up(g->a_group * (size_t)s->groups * sizeof(float)) / sizeof(float);
}

bool tconv__phase_direct_only(const tconv_shape *s, tconv_isa isa)
{
    plan_geom g;
    copy_geom c;
    const char *why;
    if (!phase_supports(s, &why))
        return false;
    full_geometry(s, isa, &g);
    return g.ik && copy_bytes(s, &g, &c) > 0 && all_direct(s, &g, &c);
}

static size_t workspace_bytes(const tconv_shape *s, tconv_isa isa, int threads)
{
    plan_geom g;
    full_geometry(s, isa, &g);
    copy_geom c;
    const size_t copy = copy_bytes(s, &g, &c);
    const size_t one = layout(&g, g.gk->nr, copy > 0 && all_direct(s, &g, &c)).total;
    if (one > (SIZE_MAX - copy) / (size_t)threads)
        return SIZE_MAX;
    return copy + one * (size_t)threads;
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

/* The taps of a phase in B's row order k = (ty, tx, ci). */
static void build_taps(const tconv_problem *pb, const phase *p, tconv_im2col_tap *taps)
{
    int64_t kk = 0;
    for (int64_t ty = 0; ty < p->ty.count; ty++)
        for (int64_t tx = 0; tx < p->tx.count; tx++)
            for (int64_t ci = 0; ci < pb->s.cin_g; ci++, kk++) {
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

/* How the B columns of a phase are fed to the GEMM. */
typedef struct phase_feed {
    bool direct;     /* igemm from the input's copy (else: packed im2col panels) */
    int64_t per_img; /* vectors per image */
    int64_t per_tile; /* vectors per tile */
    int64_t tiles;   /* column tiles of the unit loop */
} phase_feed;

typedef struct run_ctx {
    const tconv_run_args *a;
    const tconv_gemm_kernel *gk;
    tconv_im2col_panel_fn panel_fn;
    tconv_phase_store_fn store;
    tconv_pair_store_fn pair_store;
    plan_geom g;
    slot_layout l;
    phase_feed feed[TCONV_MAX_PHASES];
    int64_t units_per_group; /* of the current pass */
    copy_geom cg;    /* the copy the direct feed reads */
    float *xc;
    int64_t n0, nimg; /* the images in the copy (this pass) */
    int pass;         /* PASS_* : which phases this pass of units runs */
} run_ctx;

enum { PASS_ALL, PASS_DIRECT, PASS_PACKED };

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

/* The columns of a directly fed phase are vectors of VW lanes: 16 consecutive points of
 * one image's plane in the copy's grid (pitch wp; see copy_geom). */
enum { VW = 16 };

/* Tile t of a directly fed phase, or of two (q1 >= 0: the phase one column to the
 * right, same grid, stored interleaved with q0 through pair_store). Vectors
 * [t*nc/VW, ...) in groups of three; for each group and each row panel of A, the
 * igemm fills an MR x 48 C block per phase (in L1, continued over channel blocks) and
 * the block goes to the output at once: the C values never leave L1. */
static void direct_tile(run_ctx *r, int64_t gi, int q0, int q1, int64_t t, char *slot)
{
    const tconv_problem *pb = r->a->pb;
    const tconv_shape *s = &pb->s;
    const plan_geom *g = &r->g;
    const copy_geom *cg = &r->cg;
    const int nq = q1 >= 0 ? 2 : 1, qs[2] = {q0, q1};
    const phase *p = &g->ph[q0];
    const int64_t per_img = r->feed[q0].per_img, per_tile = r->feed[q0].per_tile;
    const int64_t total = r->nimg * per_img, u0 = t * per_tile;
    const int64_t nvec = total - u0 < per_tile ? total - u0 : per_tile;
    const float *packed = r->a->packed;
    const float *bias = packed + g->bias_off + gi * s->cout_g;
    const tconv_igemm_kernel *ik = g->ik;
    const int64_t m = s->cout_g, mr = ik->mr, ldc = ik->nv * VW;
    float *cblk[2] = {(float *)(slot + r->l.c), (float *)(slot + r->l.c) + mr * ldc};
    const float *ap[2];
    int64_t *off[2], ntaps[2], chb[2];
    off[0] = (int64_t *)(slot + r->l.taps);
    for (int q = 0; q < nq; q++) {
        const phase *pq = &g->ph[qs[q]];
        ntaps[q] = pq->ty.count * pq->tx.count;
        if (q == 1)
            off[1] = off[0] + ntaps[0];
        for (int64_t ty = 0, t2 = 0; ty < pq->ty.count; ty++)
            for (int64_t tx = 0; tx < pq->tx.count; tx++, t2++)
                off[q][t2] = (pq->ty.d0 + ty * pq->ty.dstep + cg->top) * cg->wp + pq->tx.d0 +
                             tx * pq->tx.dstep + cg->gap;
        ap[q] = packed + (size_t)gi * g->a_group + pq->a_off;
        /* channel blocks bound the C block's reloads; B is reread from L1/L2 */
        chb[q] = KBLOCK_DIRECT / ntaps[q] > 0 ? KBLOCK_DIRECT / ntaps[q] : 1;
    }
    const int64_t step = s->sw * pb->ys[3];
    seg *runs = (seg *)(slot + r->l.segs); /* x_off: output offset, col: C column */
    for (int64_t v0 = 0; v0 < nvec; v0 += ik->nv) {
        const int nv = nvec - v0 < ik->nv ? (int)(nvec - v0) : ik->nv;
        uintptr_t base[TCONV_IGEMM_MAX_NV];
        int64_t nruns = 0;
            for (int v = 0; v < TCONV_IGEMM_MAX_NV; v++) {
            const int64_t u = u0 + v0 + (v < nv ? v : 0), n = r->n0 + u / per_img;
            const int64_t e = (u / per_img * s->cin + gi * s->cin_g) * cg->cs + u % per_img * VW;
            base[v] = (uintptr_t)r->xc + (uintptr_t)(e * (int64_t)sizeof(float));
            if (v >= nv)
                continue;
            /* the vector's lanes with qy < hq and qx < wq, as runs along output rows */
            const int64_t f0 = u % per_img * VW;
            int64_t qy = f0 / cg->wp, qx = f0 % cg->wp;
            for (int64_t l = 0; l < VW;) {
                const int64_t lanes = VW - l < cg->wp - qx ? VW - l : cg->wp - qx;
                if (qy < p->hq && qx < p->wq) {
                    seg *rn = &runs[nruns++];
                    rn->x_off = n * pb->ys[0] + gi * m * pb->ys[1] +
                                (p->py + s->sh * qy) * pb->ys[2] + (p->px + s->sw * qx) * pb->ys[3];
                    rn->col = v * VW + l;
                    rn->len = p->wq - qx < lanes ? p->wq - qx : lanes;
                }
                l += lanes;
                qx = 0;
                qy++;
            }
        }
        for (int64_t i0 = 0; i0 < m; i0 += mr) {
            const int64_t mi = m - i0 < mr ? m - i0 : mr;
            for (int q = 0; q < nq; q++)
                for (int64_t c0 = 0; c0 < s->cin_g; c0 += chb[q]) {
                    const int64_t cn = s->cin_g - c0 < chb[q] ? s->cin_g - c0 : chb[q];
                    tconv_igemm_b b;
                    for (int v = 0; v < TCONV_IGEMM_MAX_NV; v++)
                        b.base[v] = base[v] + (uintptr_t)(c0 * cg->cs * (int64_t)sizeof(float));
                    b.cs = cg->cs;
                    b.ntaps = ntaps[q];
                    b.off = off[q];
                    b.pf = ik->nv * VW; /* the B of the next igemm column */
                    ik->fn(cn, ap[q] + i0 * g->ph[qs[q]].k + c0 * mr, s->cin_g * mr, &b, nv,
                              cblk[q], ldc, mi, c0 == 0 ? bias + i0 : NULL, c0 > 0);
                }
            for (int64_t k = 0; k < nruns; k++) {
                float *yrow = pb->y + runs[k].x_off + i0 * pb->ys[1];
                const int64_t j = runs[k].col;
                if (nq == 2)
                    r->pair_store(yrow, pb->ys[1], cblk[0] + j, cblk[1] + j, ldc, mi, runs[k].len);
                else
                    r->store(yrow, pb->ys[1], step, cblk[0] + j, ldc, mi, runs[k].len);
            }
            if (nruns > 0) {
                /* The output lines the next column tile will write (when it continues
                 * this row): asked for now, so that their reads-for-ownership overlap
                 * the next tile's arithmetic instead of stalling its stores. A hint:
                 * the addresses are computed as integers and never dereferenced. */
                const seg *last = &runs[nruns - 1];
                const uintptr_t y0 = (uintptr_t)pb->y +
                    (uintptr_t)((last->x_off + i0 * pb->ys[1] + last->len * step) *
                                (int64_t)sizeof(float));
                for (int64_t co = 0; co < mi; co++)
                    for (int64_t b2 = 0; b2 < ik->nv * VW * step; b2 += 16)
                        __builtin_prefetch((const void *)(y0 + (uintptr_t)((co * pb->ys[1] + b2) *
                                                                           (int64_t)sizeof(float))),
                                           1, 3);
            }
        }
    }
}

/* Can phases i and i + 1 (columns px = 0 and 1 of a stride-2 row phase) be stored as a
 * pair? Both fed directly over the same grid, output columns contiguous. */
static bool pairable(const run_ctx *r, int i)
{
    const phase *p = &r->g.ph[i];
    return r->a->pb->s.sw == 2 && p->px == 0 && i + 1 < r->g.nph && r->a->pb->ys[3] == 1 &&
           r->feed[i].direct && r->feed[i + 1].direct && r->g.ph[i + 1].hq == p->hq &&
           r->g.ph[i + 1].wq == p->wq;
}

static void do_unit(run_ctx *r, int64_t u, char *slot)
{
    const int64_t gi = u / r->units_per_group, t = u % r->units_per_group;
    for (int i = 0; i < r->g.nph; i++) {
        if (t >= r->feed[i].tiles || (r->pass == PASS_DIRECT && !r->feed[i].direct) ||
            (r->pass == PASS_PACKED && r->feed[i].direct))
            continue;
        if (r->feed[i].direct && pairable(r, i)) {
            direct_tile(r, gi, i, i + 1, t, slot);
            i++;
        } else if (r->feed[i].direct) {
            direct_tile(r, gi, i, -1, t, slot);
        } else
            do_phase_tile(r, gi, &r->g.ph[i], t, slot);
    }
}

/* Feeds a phase directly when the copy exists and phase_direct() agrees; direct tiles
 * cover the `nimg` images of one copy. */
static void choose_feeds(const tconv_problem *pb, const plan_geom *g, const copy_geom *cg,
                         bool copy, int64_t nimg, phase_feed *feed)
{
    for (int i = 0; i < g->nph; i++) {
        const phase *p = &g->ph[i];
        phase_feed *f = &feed[i];
        memset(f, 0, sizeof *f);
        f->tiles = p->tiles;
        f->direct = copy && phase_direct(&pb->s, p, cg);
        if (f->direct) {
            /* Tiles of the direct feed only group vectors (each vector's sums are the
             * same whatever the tile), so they can be small: enough units for the
             * threads to share evenly, at most the packed feed's width. */
            f->per_img = vectors_per_image(p, cg);
            const int64_t total = nimg * f->per_img, nv = g->ik->nv;
            const int64_t groups = pb->s.groups, want = (MIN_UNITS + groups - 1) / groups;
            int64_t per_tile = (total + want - 1) / want;
            per_tile = (per_tile + nv - 1) / nv * nv;
            f->per_tile = per_tile < g->nc / VW ? per_tile : g->nc / VW;
            f->tiles = (total + f->per_tile - 1) / f->per_tile;
        }
    }
}

/* Tiles of the widest phase this pass runs. */
static int64_t pass_units(const run_ctx *r)
{
    int64_t u = 0;
    for (int i = 0; i < r->g.nph; i++) {
        const phase_feed *f = &r->feed[i];
        if ((r->pass == PASS_DIRECT && !f->direct) || (r->pass == PASS_PACKED && f->direct))
            continue;
        u = f->tiles > u ? f->tiles : u;
    }
    return u;
}

/* Plane (n, c) of the input into the copy: each row its gap of zeros and its inputs,
 * zero rows above and below, zeros to the plane stride (spare lanes read them). */
static void copy_task(void *ctx, int64_t i)
{
    const run_ctx *r = ctx;
    const tconv_problem *pb = r->a->pb;
    const copy_geom *cg = &r->cg;
    const int64_t n = r->n0 + i / pb->s.cin, c = i % pb->s.cin, w = pb->s.w;
    const float *src = pb->x + n * pb->xs[0] + c * pb->xs[1];
    float *dst = r->xc + i * cg->cs;
    const int64_t data0 = cg->top * cg->wp, data1 = (cg->top + pb->s.h) * cg->wp;
    memset(dst, 0, (size_t)data0 * sizeof(float));
    for (int64_t y = 0; y < pb->s.h; y++) {
        const float *sr = src + y * pb->xs[2];
        float *dr = dst + data0 + y * cg->wp;
        memset(dr, 0, (size_t)cg->gap * sizeof(float));
        dr += cg->gap;
        if (pb->xs[3] == 1)
            memcpy(dr, sr, (size_t)w * sizeof(float));
        else
            for (int64_t x = 0; x < w; x++)
                dr[x] = sr[x * pb->xs[3]];
    }
    memset(dst + data1, 0, (size_t)(cg->cs - data1) * sizeof(float));
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
    r.pair_store = tconv__pair_store(a->isa);
    const tconv_problem *pb = a->pb;
    const tconv_shape *s = &pb->s;
    full_geometry(s, a->isa, &r.g);

    /* Directly fed phases read a padded copy of the input, made here, of all images at
     * once or (when that would be too big) of chunks of images, each followed by its
     * own pass over the direct phases; packed phases then take one pass of their own. */
    const size_t copy = copy_bytes(s, &r.g, &r.cg);
    r.l = layout(&r.g, r.gk->nr, copy > 0 && all_direct(s, &r.g, &r.cg));
    char *slots = (char *)a->workspace + copy;
    r.xc = copy > 0 ? a->workspace : NULL;
    const int64_t chunk = copy > 0 ? r.cg.chunk : s->n;
    bool packed_left = false;
    for (int64_t n0 = 0; n0 < s->n || (s->n == 0 && n0 == 0); n0 += chunk) {
        r.n0 = n0;
        r.nimg = s->n - n0 < chunk ? s->n - n0 : chunk;
        choose_feeds(pb, &r.g, &r.cg, copy > 0, r.nimg, r.feed);
        bool direct = false;
        for (int i = 0; i < r.g.nph; i++) {
            direct = direct || r.feed[i].direct;
            packed_left = packed_left || !r.feed[i].direct;
        }
        if (direct) {
            const size_t planes = (size_t)(r.nimg * s->cin) * (size_t)r.cg.cs;
            memset(r.xc + planes, 0, (size_t)r.cg.tail * sizeof(float));
            tconv__parallel_for(a->exec, a->threads, copy_task, &r, r.nimg * s->cin);
        }
        /* one pass for everything when the copy holds the whole batch */
        r.pass = chunk >= s->n ? PASS_ALL : PASS_DIRECT;
        if (r.pass == PASS_ALL)
            packed_left = false;
        if (r.pass == PASS_ALL || direct) {
            r.units_per_group = pass_units(&r);
            tconv__run_units(a->exec, a->threads, r.units_per_group * s->groups, unit_fn, &r,
                             slots, r.l.total);
        }
        if (s->n == 0)
            break;
    }
    if (packed_left) {
        r.pass = PASS_PACKED;
        r.units_per_group = pass_units(&r);
        tconv__run_units(a->exec, a->threads, r.units_per_group * s->groups, unit_fn, &r,
                         slots, r.l.total);
    }
}

const tconv_algo_impl tconv__algo_phase_gemm = {
    .id = TCONV_ALGO_PHASE_GEMM,
    .supports = phase_supports,
    .packed_bytes = packed_bytes,
    .pack = pack,
    .workspace_bytes = workspace_bytes,
    .run = run,
};
