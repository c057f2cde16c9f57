/*
 * phase_direct.c - the stride-phase path's direct feed (see ../../docs/ARCHITECTURE.md):
 * tiles of igemm calls that read their B vectors from a grid in which every tap of
 * every phase is a constant offset, and store their C blocks straight to the output
 * (stride-2 column phases in pairs, as whole lines). The grid is flat (the input's own
 * rows, taps outside the input lanes masked off) when no phase is wider than the
 * input: the input itself when its rows are contiguous and a group's image is small,
 * else a copy of the part of the input a unit reads; or a zero-padded copy of that
 * part (no masks) when a phase is wider than the input.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "phase.h"

/* Grid c's least and greatest tap offsets, from the taps' reach in rows [ylo, yhi] and
 * columns [xlo, xhi] of its points; false (no grid) when the grid or an offset exceeds
 * GRID_MAX floats, or computing them would overflow: taps of a huge dilation on a tiny
 * input, rows far wider than their phases. */
static bool grid_offsets(copy_geom *c, int64_t ylo, int64_t yhi, int64_t xlo, int64_t xhi)
{
    int64_t area, lo, hi;
    if (!tconv__mul(c->hp, c->wp, &area) || area > GRID_MAX || !tconv__mul(ylo, c->wp, &lo) ||
        !tconv__mul(yhi, c->wp, &hi) || __builtin_add_overflow(lo, xlo, &lo) ||
        __builtin_add_overflow(hi, xhi, &hi) || lo < -GRID_MAX || hi > GRID_MAX)
        return false;
    c->off_lo = lo;
    c->off_hi = hi;
    return true;
}

/* The grid of shape s: a zero-padded copy (false when taps reach too far for one), or
 * in place, the input's own rows of pitch W with no zeros around them (false when a
 * phase is wider than the input: its rows would not lie in the input's rows; whether
 * in place is worth it is the caller's choice). */
static bool grid_geometry(const tconv_shape *s, const plan_geom *g, bool inplace, copy_geom *c)
{
    memset(c, 0, sizeof *c);
    /* taps reach rows [ylo, yhi] and columns [xlo, xhi] around a phase's point; the
     * phases read rows [dy0, dy1] and columns [dx0, dx1] of the input */
    int64_t dy0 = 0, dy1 = 0, dx0 = 0, dx1 = 0, hq = 0, wq = 0;
    int64_t ylo = INT64_MAX, yhi = INT64_MIN, xlo = INT64_MAX, xhi = INT64_MIN;
    for (int i = 0; i < g->nph; i++) {
        const phase *p = &g->ph[i];
        if (p->k == 0 || p->cols == 0)
            continue;
        const int64_t ylast = p->ty.d0 + (p->ty.count - 1) * p->ty.dstep,
                      xlast = p->tx.d0 + (p->tx.count - 1) * p->tx.dstep;
        const int64_t pylo = ylast < p->ty.d0 ? ylast : p->ty.d0,
                      pyhi = ylast < p->ty.d0 ? p->ty.d0 : ylast;
        const int64_t pxlo = xlast < p->tx.d0 ? xlast : p->tx.d0,
                      pxhi = xlast < p->tx.d0 ? p->tx.d0 : xlast;
        ylo = pylo < ylo ? pylo : ylo;
        yhi = pyhi > yhi ? pyhi : yhi;
        xlo = pxlo < xlo ? pxlo : xlo;
        xhi = pxhi > xhi ? pxhi : xhi;
        dy0 = pylo < dy0 ? pylo : dy0;
        dx0 = pxlo < dx0 ? pxlo : dx0;
        dy1 = p->hq - 1 + pyhi > dy1 ? p->hq - 1 + pyhi : dy1;
        dx1 = p->wq - 1 + pxhi > dx1 ? p->wq - 1 + pxhi : dx1;
        hq = p->hq > hq ? p->hq : hq;
        wq = p->wq > wq ? p->wq : wq;
    }
    if (hq == 0)
        return false;
    if (inplace) {
        if (wq > s->w)
            return false;
        c->hp = hq;
        c->wp = s->w;
        return grid_offsets(c, ylo, yhi, xlo, xhi);
    }
    if (dy0 < -LIMIT || dx0 < -LIMIT || dy1 > s->h + LIMIT || dx1 > s->w + LIMIT)
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
    return grid_offsets(c, ylo + c->top, yhi + c->top, xlo + c->gap, xhi + c->gap);
}

/* Vectors per image of a directly fed phase: 16 lanes over hq rows of the grid. */
int64_t tconv__phase_vectors_per_image(const phase *p, const copy_geom *c)
{
    return (p->hq * c->wp + 15) / 16;
}

/* Would a phase be fed directly on grid c? Not when its vectors would be mostly
 * spare lanes (rows much narrower than the grid's pitch, tiny planes): the packed feed
 * wastes none. */
static bool direct_on(const tconv_shape *s, const phase *p, const copy_geom *c)
{
    if (p->k == 0 || p->cols == 0)
        return false;
    const double lanes = (double)tconv__phase_vectors_per_image(p, c) * 16.0 * (double)s->n;
    const double need = s->cout_g <= SMALL_M ? MIN_LANE_USE_SMALL_M : MIN_LANE_USE;
    return (double)p->cols >= need * lanes;
}

/* Floats a tile's copy of one plane spans beyond its vectors' 16 lanes each: the
 * taps' reach, from the 16-float boundary below off_lo (tconv__phase_copy_tile). */
static int64_t copy_reach(const copy_geom *c)
{
    return c->off_hi - (c->off_lo & ~(int64_t)15);
}

/* Plane stride of a copy of `vecs` vectors: whole cache lines, not a multiple of 4. */
static int64_t copy_stride(const copy_geom *c, int64_t vecs)
{
    const int64_t lines = (16 * vecs + copy_reach(c) + 15) / 16;
    return (lines % 4 == 0 ? lines + 1 : lines) * 16;
}

/* The direct tiles of grid c over the phases marked direct: as many vectors as make
 * MIN_UNITS units (tiles x groups), a whole number of igemm columns, at most
 * UNIT_OUT_BYTES of output and, for a copy, what fits COPY_SLOT_BYTES of it; whole
 * images when one image has fewer vectors than that (several per tile if they fit),
 * else equal runs of one image's vectors. False when not even one igemm column's
 * copy fits (never in place). */
static bool tiling(const tconv_shape *s, const plan_geom *g, copy_geom *c, bool copy)
{
    for (int i = 0; i < g->nph; i++)
        if (g->ph[i].direct) {
            const int64_t v = tconv__phase_vectors_per_image(&g->ph[i], c);
            c->vecs = v > c->vecs ? v : c->vecs;
        }
    if (c->vecs > GRID_MAX / s->n) /* a batch of grids wider than the outputs */
        return false;
    const int64_t nv = g->ik->nv, want = (MIN_UNITS + s->groups - 1) / s->groups;
    const int64_t slot = (int64_t)(COPY_SLOT_BYTES / sizeof(float)) / s->cin_g;
    int64_t pt = (s->n * c->vecs + want - 1) / want;
    pt = (pt + nv - 1) / nv * nv;
    /* the output a tile writes (every phase) stays within UNIT_OUT_BYTES */
    const int64_t widest =
        (int64_t)(UNIT_OUT_BYTES / sizeof(float)) / (s->cout_g * g->nph) / VW / nv * nv;
    pt = pt < widest ? pt : widest > nv ? widest : nv;
    if (copy) {
        const int64_t fit = (slot - copy_reach(c) - 15) / 16 / nv * nv; /* in the budget */
        if (fit < nv)
            return false;
        pt = pt < fit ? pt : fit;
    }
    if (pt >= c->vecs) {
        c->per_tile = c->vecs;
        c->tiles_per_img = 1;
        c->cs = copy ? copy_stride(c, c->vecs) : 0;
        const int64_t by_work = pt / c->vecs, by_copy = copy ? slot / c->cs : by_work;
        c->imgs = by_work < by_copy ? by_work : by_copy;
        if (c->imgs < 1)
            c->imgs = 1;
        c->tiles = (s->n + c->imgs - 1) / c->imgs;
    } else {
        /* equal runs, each a whole number of igemm columns (small_b1: 3 + 1 vectors;
         * 2 + 2, two 2-vector calls, ran 1.08-1.11x slower at 1 thread) */
        c->tiles_per_img = (c->vecs + pt - 1) / pt;
        c->per_tile = ((c->vecs + c->tiles_per_img - 1) / c->tiles_per_img + nv - 1) / nv * nv;
        c->tiles_per_img = (c->vecs + c->per_tile - 1) / c->per_tile;
        c->imgs = 1;
        c->cs = copy ? copy_stride(c, c->per_tile) : 0;
        c->tiles = s->n * c->tiles_per_img;
    }
    return true;
}

size_t tconv__phase_direct_geometry(const tconv_shape *s, plan_geom *g)
{
    for (int i = 0; i < g->nph; i++)
        g->ph[i].direct = false;
    g->inplace = g->cflat = false;
    memset(&g->cg, 0, sizeof g->cg);
    memset(&g->ig, 0, sizeof g->ig);
    if (!g->ik || s->n == 0)
        return 0;
    /* The flat grid when there is one (no phase wider than the input): its lanes are
     * the phases' own points, no gap between rows to compute and discard, and vectors
     * start where output rows do when W is a multiple of 16 (whole-line stores). */
    copy_geom flat;
    g->cflat = grid_geometry(s, g, true, &flat);
    if (g->cflat)
        g->cg = flat;
    else if (!grid_geometry(s, g, false, &g->cg))
        return 0;
    bool any = false;
    for (int i = 0; i < g->nph; i++) {
        g->ph[i].direct = direct_on(s, &g->ph[i], &g->cg);
        any = any || g->ph[i].direct;
    }
    if (!any || !tiling(s, g, &g->cg, true)) {
        for (int i = 0; i < g->nph; i++)
            g->ph[i].direct = false;
        g->cflat = false;
        return 0;
    }
    /* A flat copy holds every point its vectors read ([f0, f1) of each plane): every
     * lane is readable. In place when one image's channels of a group fit
     * INPLACE_BYTES (same lanes as the flat copy, tiles without the copy's budget). */
    if (g->cflat) {
        g->cg.whole_lo = 0;
        g->cg.whole_hi = s->cin;
    }
    if (g->cflat && s->cin_g <= (int64_t)(INPLACE_BYTES / sizeof(float)) / s->h / s->w) {
        g->ig = flat;
        g->inplace = tiling(s, g, &g->ig, false);
        /* Vectors read points [off_lo, 16*vecs + off_hi) of a plane; the image's planes
         * lie one after another (HW floats apart) when channels are adjacent. */
        const int64_t hw = s->h * s->w, lo = g->ig.off_lo, hi = VW * g->ig.vecs + g->ig.off_hi;
        g->ig.whole_lo = lo >= 0 ? 0 : (-lo + hw - 1) / hw;
        g->ig.whole_hi = s->cin - (hi > hw ? (hi - hw + hw - 1) / hw : 0);
    }
    /* a unit's copy */
    return tconv__align_up((size_t)(g->cg.imgs * s->cin_g) * (size_t)g->cg.cs * sizeof(float));
}

bool tconv__phase_use_inplace(const tconv_problem *pb, const plan_geom *g)
{
    return g->inplace && pb->xs[3] == 1 && pb->xs[2] == pb->s.w &&
           (pb->s.cin_g == 1 || pb->xs[1] == pb->s.h * pb->s.w);
}

tile_span tconv__phase_tile_span(const copy_geom *c, int64_t n, int64_t t)
{
    tile_span sp;
    sp.n0 = t / c->tiles_per_img * c->imgs;
    sp.nimg = n - sp.n0 < c->imgs ? n - sp.n0 : c->imgs;
    sp.vlo = t % c->tiles_per_img * c->per_tile;
    sp.vhi = c->vecs - sp.vlo < c->per_tile ? c->vecs : sp.vlo + c->per_tile;
    return sp;
}

/* First grid point of a tile's copy of each plane: on a 16-float boundary, so that
 * vectors keep their alignment. */
static int64_t copy_first(const copy_geom *c, const tile_span *sp)
{
    return 16 * sp->vlo + (c->off_lo & ~(int64_t)15);
}

/* The copy of tconv__phase_copy_tile for channels last (unit channel stride, more than
 * one channel): point by point, all channels of a point read together (contiguous)
 * and written one per plane, where the grid copy would read each channel's row with
 * its points C floats apart. */
static void copy_tile_channels_last(const tconv_problem *pb, const copy_geom *c, int64_t gi,
                                    const tile_span *sp, int64_t f0, int64_t f1, float *dst)
{
    const int64_t cin_g = pb->s.cin_g, cs = c->cs;
    for (int64_t b = 0; b < sp->nimg; b++) {
        const float *xn = pb->x + (sp->n0 + b) * pb->xs[0] + gi * cin_g;
        float *d = dst + b * cin_g * cs;
        int64_t pr = f0 / c->wp, pc = f0 % c->wp;
        for (int64_t f = f0; f < f1; f++, d++) {
            const int64_t iy = pr - c->top;
            if (iy >= 0 && iy < pb->s.h && pc >= c->gap) {
                const float *xp = xn + iy * pb->xs[2] + (pc - c->gap) * pb->xs[3];
                for (int64_t ci = 0; ci < cin_g; ci++)
                    d[ci * cs] = xp[ci];
            } else {
                for (int64_t ci = 0; ci < cin_g; ci++)
                    d[ci * cs] = 0.0f;
            }
            if (++pc == c->wp) {
                pc = 0;
                pr++;
            }
        }
    }
}

/* Elements from x to plane j of a tile of group gi: image n0 + j / cin_g, the group's
 * channel j % cin_g. */
static int64_t plane_offset(const tconv_problem *pb, int64_t gi, const tile_span *sp, int64_t j)
{
    const int64_t cin_g = pb->s.cin_g;
    return (sp->n0 + j / cin_g) * pb->xs[0] + (gi * cin_g + j % cin_g) * pb->xs[1];
}

/* Points [lo, hi) of a flat grid's copy from an input whose rows are not contiguous
 * (d: the tile's copy of image b, which starts at point f0; point f of channel c at
 * d[c*cs + f - f0]): row by row; with channels last (unit channel stride) all channels
 * of a point are read together and written one per plane. */
static void copy_flat_strided(const tconv_problem *pb, const float *xn, int64_t cs, int64_t f0,
                              int64_t lo, int64_t hi, float *d)
{
    const int64_t w = pb->s.w, cin_g = pb->s.cin_g;
    const bool last = pb->xs[1] == 1 && cin_g > 1;
    for (int64_t iy = lo / w; iy * w < hi; iy++) {
        const int64_t x0 = lo > iy * w ? lo - iy * w : 0, x1 = hi < (iy + 1) * w ? hi - iy * w : w;
        const float *xr = xn + iy * pb->xs[2];
        const int64_t o = iy * w - f0; /* point (iy, 0) in d */
        if (last) {
            for (int64_t ix = x0; ix < x1; ix++)
                for (int64_t ci = 0; ci < cin_g; ci++)
                    d[ci * cs + o + ix] = xr[ix * pb->xs[3] + ci];
        } else {
            for (int64_t ci = 0; ci < cin_g; ci++)
                for (int64_t ix = x0; ix < x1; ix++)
                    d[ci * cs + o + ix] = xr[ci * pb->xs[1] + ix * pb->xs[3]];
        }
    }
}

/* The zeros of a flat copy's plane d (grid points [f0, f1), the input's [lo, hi)). */
static void zero_margins(float *d, int64_t f0, int64_t lo, int64_t hi, int64_t f1)
{
    memset(d, 0, (size_t)(lo - f0) * sizeof(float));
    memset(d + (hi - f0), 0, (size_t)(f1 - hi) * sizeof(float));
}

void tconv__phase_copy_tile(const run_ctx *r, int64_t gi, int64_t t, char *slot)
{
    const tconv_problem *pb = r->a->pb;
    const copy_geom *c = &r->g.cg;
    const tile_span sp = tconv__phase_tile_span(c, pb->s.n, t);
    const int64_t f0 = copy_first(c, &sp), f1 = 16 * sp.vhi + c->off_hi;
    float *dst = (float *)(slot + r->l.copy);
    /* A flat grid's planes hold the input's points [lo, hi) where they lie in the
     * input plane, zeros around them (points outside the plane: lanes the tile masks;
     * zeros so that no lane reads what was never written). */
    const int64_t hw = pb->s.h * pb->s.w, l0 = f0 > 0 ? f0 : 0, h0 = f1 < hw ? f1 : hw;
    const int64_t lo = l0 < f1 ? l0 : f1, hi = h0 > lo ? h0 : lo; /* f0 <= lo <= hi <= f1 */
    const bool flat = r->g.cflat,
               rows = pb->xs[3] == 1 && (pb->xs[2] == pb->s.w || pb->s.h == 1);
    if (flat && !rows) {
        for (int64_t b = 0; b < sp.nimg; b++) {
            float *d = dst + b * pb->s.cin_g * c->cs;
            for (int64_t ci = 0; ci < pb->s.cin_g; ci++)
                zero_margins(d + ci * c->cs, f0, lo, hi, f1);
            copy_flat_strided(pb, pb->x + (sp.n0 + b) * pb->xs[0] + gi * pb->s.cin_g * pb->xs[1],
                              c->cs, f0, lo, hi, d);
        }
        return;
    }
    if (!flat && pb->xs[1] == 1 && pb->s.cin_g > 1 && pb->xs[3] != 1) {
        copy_tile_channels_last(pb, c, gi, &sp, f0, f1, dst);
        return;
    }
    /* Each plane's copy reads input rows [r0, r1): `span` bytes from `first`. Runs of a
     * few lines in pages far apart (a tile of one image's rows) are too short for the
     * hardware prefetchers: the planes `ahead` of the one being copied are asked for. */
    int64_t first, span;
    if (flat) {
        first = lo * (int64_t)sizeof(float);
        span = (hi - lo) * (int64_t)sizeof(float);
    } else {
        const int64_t g0 = f0 / c->wp - c->top, g1 = (f1 - 1) / c->wp - c->top + 1; /* rows */
        const int64_t r0 = g0 > 0 ? g0 : 0, r1 = g1 < pb->s.h ? g1 : pb->s.h;
        /* only rows of the input: with H = 1 the row stride may be anything */
        first = r1 > r0 ? r0 * pb->xs[2] * (int64_t)sizeof(float) : 0;
        span = r1 > r0 ? ((r1 - 1 - r0) * pb->xs[2] + pb->s.w) * (int64_t)sizeof(float) : 0;
    }
    const int64_t lines = span / 64 + 1;
    const int64_t ahead = pb->xs[3] == 1 && span > 0 && lines <= COPY_PREFETCH_MAX
                              ? (COPY_PREFETCH_LINES + lines - 1) / lines
                              : 0;
    const int64_t planes = sp.nimg * pb->s.cin_g;
    for (int64_t j = -ahead; j < planes; j++) {
        if (ahead > 0 && j + ahead < planes) {
            const uintptr_t p =
                (uintptr_t)pb->x +
                (uintptr_t)(plane_offset(pb, gi, &sp, j + ahead) * (int64_t)sizeof(float) + first);
            for (uintptr_t o = p & ~(uintptr_t)63; o < p + (uintptr_t)span; o += 64)
                __builtin_prefetch((const void *)o, 0, 3);
        }
        if (j < 0)
            continue;
        float *d = dst + j * c->cs;
        const float *x = pb->x + plane_offset(pb, gi, &sp, j);
        if (flat) {
            zero_margins(d, f0, lo, hi, f1);
            memcpy(d + (lo - f0), x + lo, (size_t)(hi - lo) * sizeof(float));
        } else {
            r->lk->grid_copy(d, x, pb->xs[2], pb->xs[3], pb->s.h, c->top, c->gap, c->wp, f0,
                             f1);
        }
    }
}

/* The lanes of in-place vector f0 (its first point, pitch W) that phase p's taps read:
 * mask[t] for tap t = (ty, tx) (ty-major), lanes (qy, qx) with qy < hq, qx < wq whose
 * input point (qy + dy, qx + dx) lies in the input. That is a row condition and a
 * column condition: the mask is rows(ty) & cols(tx), each found per run of the
 * vector's lanes along a grid row. cols(tx) is kept in the slots of row ty = 0 until
 * those are written, last. */
void tconv__phase_lane_masks(const tconv_shape *s, const phase *p, int64_t f0, uint16_t *mask)
{
    const int64_t w = s->w, q0y = f0 / w, q0x = f0 % w, ntx = p->tx.count;
    for (int64_t tx = 0; tx < ntx; tx++) {
        const int64_t dx = p->tx.d0 + tx * p->tx.dstep;
        uint32_t bits = 0;
        for (int64_t l = 0, qx = q0x; l < VW; qx = 0) {
            const int64_t lanes = VW - l < w - qx ? VW - l : w - qx;
            /* columns [lo, hi) of this run read inside the input */
            int64_t lo = -dx > qx ? -dx : qx, hi = qx + lanes;
            hi = hi < w - dx ? hi : w - dx;
            hi = hi < p->wq ? hi : p->wq;
            if (lo < hi)
                bits |= (((uint32_t)1 << (hi - qx)) - ((uint32_t)1 << (lo - qx))) << l;
            l += lanes;
        }
        mask[tx] = (uint16_t)bits;
    }
    for (int64_t ty = p->ty.count - 1; ty >= 0; ty--) {
        const int64_t dy = p->ty.d0 + ty * p->ty.dstep;
        uint32_t rows = 0;
        for (int64_t l = 0, qx = q0x, qy = q0y; l < VW; qx = 0, qy++) {
            const int64_t lanes = VW - l < w - qx ? VW - l : w - qx;
            if (qy < p->hq && qy + dy >= 0 && qy + dy < s->h)
                rows |= (((uint32_t)1 << lanes) - 1) << l;
            l += lanes;
        }
        for (int64_t tx = 0; tx < ntx; tx++)
            mask[ty * ntx + tx] = (uint16_t)(rows & mask[tx]);
    }
}

/* Tile t of a directly fed phase, or of two (q1 >= 0: the phase one column to the
 * right, same grid, stored interleaved with q0: by q1's igemm when each vector is one
 * whole output run, else through pair_store), reading B from
 * the input in place or from the slot's copy. The tile's vectors in groups of ik->nv;
 * for each group and each row panel of A, the igemm fills an MR x 48 C block per
 * phase (in L1, continued over channel blocks) and the block goes to the output at
 * once: the C values never leave L1. */
void tconv__phase_direct_tile(run_ctx *r, int64_t gi, int q0, int q1, int64_t t, int64_t m0,
                              int64_t m1, char *slot)
{
    const tconv_problem *pb = r->a->pb;
    const tconv_shape *s = &pb->s;
    const plan_geom *g = &r->g;
    const copy_geom *cg = r->inplace ? &r->g.ig : &r->g.cg;
    const int nq = q1 >= 0 ? 2 : 1, qs[2] = {q0, q1};
    const phase *p = &g->ph[q0];
    const tile_span sp = tconv__phase_tile_span(cg, s->n, t);
    const int64_t vhi = r->feed[q0].vecs < sp.vhi ? r->feed[q0].vecs : sp.vhi;
    const int64_t len = vhi - sp.vlo, nvec = len > 0 ? sp.nimg * len : 0;
    /* Grid point f of plane (b, c) (image b of the tile, channel c of the group) is at
     * xc + 4*(b*img + c*cs + f): in place the input's own planes (b counted from image
     * 0); else the copy's, starting at copy_first (an integer). */
    const bool inplace = r->inplace, flat = inplace || g->cflat;
    const int64_t cs = inplace ? pb->xs[1] : cg->cs, img = inplace ? pb->xs[0] : s->cin_g * cs;
    const uintptr_t xc =
        inplace ? (uintptr_t)pb->x + (uintptr_t)(gi * s->cin_g * cs * (int64_t)sizeof(float))
                : (uintptr_t)(slot + r->l.copy) -
                      (uintptr_t)(copy_first(cg, &sp) * (int64_t)sizeof(float));
    const int64_t b0 = inplace ? sp.n0 : 0;
    /* the channels in which the igemm may read whole vectors (then masks its FMAs): the
     * grid's; in place only when the image's channels are adjacent, as it assumes */
    const bool known = !inplace || pb->xs[1] == s->h * s->w;
    const int64_t whole_lo = known ? cg->whole_lo : 0, whole_hi = known ? cg->whole_hi : 0;
    const float *packed = r->a->packed;
    const uint16_t *mtab = (const uint16_t *)((const char *)packed + g->masks_off);
    const float *bias = packed + g->bias_off + gi * s->cout_g;
    const tconv_igemm_kernel *ik = g->ik;
    const int64_t m = s->cout_g, mr = ik->mr, ldc = ik->nv * VW;
    const int64_t pass_rows = tconv__phase_pass_rows(mr); /* whole row panels */
    float *cblk[2] = {(float *)(slot + r->l.c), (float *)(slot + r->l.c) + g->direct_c};
    const float *ap[2];
    int64_t *off[2], ntaps[2];
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
    }
    /* channel blocks bound the C blocks' reloads; one size for both phases of a pair
     * (the one with more taps sets it), which then share each block's B */
    const int64_t most = nq == 2 && ntaps[1] > ntaps[0] ? ntaps[1] : ntaps[0];
    const int64_t chb = KBLOCK_DIRECT / most > 0 ? KBLOCK_DIRECT / most : 1;
    const int64_t step = tconv__phase_column_step(pb, p);
    seg *runs = (seg *)(slot + r->l.segs); /* x_off: output offset, col: C column */
    const bool direct_out = flat && nq == 1 && s->sh == 1 && s->sw == 1 && p->wq == s->w &&
                            pb->ys[3] == 1 && pb->ys[2] == s->w;
    /* the group's first vector: vector vlo + u0 of image b0 + ib of the tile */
    int64_t ib = 0, u0 = 0;
    for (int64_t v0 = 0; v0 < nvec; v0 += ik->nv) {
        const int nv = nvec - v0 < ik->nv ? (int)(nvec - v0) : ik->nv;
        uintptr_t base[TCONV_IGEMM_MAX_NV];
        const uint16_t *vmask[2][TCONV_IGEMM_MAX_NV] = {{NULL}, {NULL}};
        int64_t nruns = 0;
        /* Stride 1 read in place, output rows W floats apart: the lanes are the output
         * points one for one, so when the group's vectors are consecutive in one image
         * and inside its plane the igemm writes into the output itself (no C block, no
         * stores; the same values). */
        float *yblk = NULL;
        if (direct_out && u0 + nv <= len && (sp.vlo + u0 + nv) * VW <= p->hq * s->w)
            yblk = pb->y + (sp.n0 + ib) * pb->ys[0] + gi * m * pb->ys[1] + (sp.vlo + u0) * VW;
        for (int64_t v = 0, b = ib, u = u0; v < TCONV_IGEMM_MAX_NV; v++) {
            const int64_t f0 = (sp.vlo + u) * VW;
            base[v] = xc + (uintptr_t)(((b0 + b) * img + f0) * (int64_t)sizeof(float));
            if (v >= nv)
                continue; /* the kernel never reads it: any address */
            if (flat)
                for (int q = 0; q < nq; q++)
                    vmask[q][v] = mtab + g->ph[qs[q]].mask_off + (sp.vlo + u) * ntaps[q];
            if (!yblk) {
                /* the vector's lanes with qy < hq and qx < wq, as runs along output rows */
                int64_t qy = f0 / cg->wp, qx = f0 % cg->wp;
                for (int64_t l = 0; l < VW;) {
                    const int64_t lanes = VW - l < cg->wp - qx ? VW - l : cg->wp - qx;
                    if (qy < p->hq && qx < p->wq) {
                        seg *rn = &runs[nruns++];
                        rn->x_off = (sp.n0 + b) * pb->ys[0] + gi * m * pb->ys[1] +
                                    (p->py + s->sh * qy) * pb->ys[2] +
                                    (p->px + s->sw * qx) * pb->ys[3];
                        rn->col = v * VW + l;
                        rn->len = p->wq - qx < lanes ? p->wq - qx : lanes;
                    }
                    l += lanes;
                    qx = 0;
                    qy++;
                }
            }
            if (v + 1 < nv && ++u == len) {
                u = 0;
                b++;
            }
        }
        for (u0 += nv; u0 >= len; u0 -= len) /* len > 0: there are vectors */
            ib++;
        /* A column pair whose vectors are each one whole run (rows a multiple of 16
         * wide): the second phase's igemm interleaves its values with the first's and
         * stores them to the output itself (no C block of its own, no pass of stores). */
        bool pair_out = nq == 2 && nruns == nv;
        for (int64_t k = 0; pair_out && k < nruns; k++)
            pair_out = runs[k].len == VW && runs[k].col == k * VW;
        /* Passes of up to DIRECT_ROWS rows, in each the channel blocks outside the row
         * panels, so that a block's B (both phases of a pair read the same lines) is
         * reread by every panel while it is still in L1; panel by panel, it came back
         * from L2 for each (Cascade Lake, 32 KiB L1: dcgan2 1.06-1.08x, dcgan3, s1_k3
         * 1.02-1.05x this way). The panels' C blocks wait in the slot; the stores follow
         * the pass. */
        for (int64_t p0 = m0; p0 < m1; p0 += pass_rows) {
            const int64_t p1 = m1 - p0 < pass_rows ? m1 : p0 + pass_rows;
            for (int64_t c0 = 0; c0 < s->cin_g; c0 += chb) {
                const int64_t cn = s->cin_g - c0 < chb ? s->cin_g - c0 : chb;
                const int64_t gc = gi * s->cin_g + c0; /* input channel of ch 0 */
                tconv_igemm_b b[2];
                for (int q = 0; q < nq; q++) {
                    for (int v = 0; v < TCONV_IGEMM_MAX_NV; v++) {
                        b[q].base[v] = base[v] + (uintptr_t)(c0 * cs * (int64_t)sizeof(float));
                        b[q].mask[v] = vmask[q][v];
                    }
                    b[q].cs = cs;
                    b[q].whole_lo = whole_lo - gc < 0     ? 0
                                    : whole_lo - gc < cn ? whole_lo - gc
                                                         : cn;
                    b[q].whole_hi = whole_hi - gc < b[q].whole_lo ? b[q].whole_lo
                                    : whole_hi - gc < cn         ? whole_hi - gc
                                                                 : cn;
                    b[q].ntaps = ntaps[q];
                    b[q].off = off[q];
                    b[q].pair_c0 = NULL;
                }
                const bool pair_now = pair_out && c0 + cn == s->cin_g;
                for (int64_t i0 = p0; i0 < p1; i0 += mr) {
                    const int64_t mi = p1 - i0 < mr ? p1 - i0 : mr;
                    for (int q = 0; q < nq; q++) {
                        if (pair_now && q == 1) {
                            b[1].pair_c0 = cblk[0] + (i0 - p0) * ldc;
                            b[1].pair_ldc = ldc;
                            for (int64_t k = 0; k < nruns; k++)
                                b[1].pair_y[k] = pb->y + runs[k].x_off + i0 * pb->ys[1];
                            b[1].pair_ys = pb->ys[1];
                        }
                        float *cq = yblk ? yblk + i0 * pb->ys[1] : cblk[q] + (i0 - p0) * ldc;
                        ik->fn(cn, ap[q] + i0 * g->ph[qs[q]].k + c0 * mr, s->cin_g * mr, &b[q],
                               nv, cq, yblk ? pb->ys[1] : ldc, mi, c0 == 0 ? bias + i0 : NULL,
                               c0 > 0);
                    }
                }
            }
            for (int64_t i0 = p0; i0 < p1; i0 += mr) {
                const int64_t mi = p1 - i0 < mr ? p1 - i0 : mr;
                const float *cb0 = cblk[0] + (i0 - p0) * ldc, *cb1 = cblk[1] + (i0 - p0) * ldc;
                for (int64_t k = 0; !pair_out && k < nruns; k++) { /* pair_out: stored */
                    float *yrow = pb->y + runs[k].x_off + i0 * pb->ys[1];
                    const int64_t j = runs[k].col;
                    if (nq == 2)
                        r->lk->pair_store(yrow, pb->ys[1], cb0 + j, cb1 + j, ldc, mi, runs[k].len);
                    else
                        r->lk->store(yrow, pb->ys[1], step, cb0 + j, ldc, mi, runs[k].len);
                }
                if (nruns > 0 && v0 + ik->nv < nvec && pb->ys[3] == 1) {
                    /* The output lines the next igemm column of this tile will write (when
                     * it continues this row): asked for now, so that their reads-for-
                     * ownership overlap its arithmetic instead of stalling its stores. Not
                     * past the tile: the next tile's lines belong to another thread, which
                     * this would take them from (fcn_up at 2 threads: 1.04-1.15x). Only
                     * for rows of contiguous outputs: with channels last each line holds
                     * one point, and the loop would ask for thousands (grp4: 72% of the
                     * time). A hint: the addresses are computed as integers and never
                     * dereferenced. */
                    const seg *last = &runs[nruns - 1];
                    const int64_t e0 = last->x_off + i0 * pb->ys[1] + last->len * step;
                    const uintptr_t y0 =
                        (uintptr_t)pb->y + (uintptr_t)(e0 * (int64_t)sizeof(float));
                    for (int64_t co = 0; co < mi; co++)
                        for (int64_t b2 = 0; b2 < ik->nv * VW * step; b2 += 16) {
                            const int64_t e = co * pb->ys[1] + b2;
                            __builtin_prefetch(
                                (const void *)(y0 + (uintptr_t)(e * (int64_t)sizeof(float))), 1,
                                3);
                        }
                }
            }
        }
    }
}
