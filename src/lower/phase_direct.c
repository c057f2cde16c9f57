/*
 * phase_direct.c - the stride-phase path's direct feed (see ../../docs/ARCHITECTURE.md):
 * a zero-padded copy of the input in which every tap of every phase is a constant
 * offset, and tiles of igemm calls that read their B vectors from it and store their C
 * blocks straight to the output (stride-2 column phases in pairs, as whole lines).
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "phase.h"

bool tconv__phase_copy_geometry(const tconv_shape *s, const plan_geom *g, copy_geom *c)
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
int64_t tconv__phase_vectors_per_image(const phase *p, const copy_geom *c)
{
    return (p->hq * c->wp + 15) / 16;
}

/* Is a phase fed directly? Not when its vectors would be mostly spare lanes (rows much
 * narrower than the gap, tiny planes): the packed feed wastes none. */
bool tconv__phase_is_direct(const tconv_shape *s, const phase *p, const copy_geom *c)
{
    if (p->k == 0 || p->cols == 0)
        return false;
    const double lanes = (double)tconv__phase_vectors_per_image(p, c) * 16.0 * (double)s->n;
    const double need = s->cout_g <= SMALL_M ? MIN_LANE_USE_SMALL_M : MIN_LANE_USE;
    return (double)p->cols >= need * lanes;
}

/* Does every phase with work take the direct feed (given a copy)? */
bool tconv__phase_all_direct(const tconv_shape *s, const plan_geom *g, const copy_geom *c)
{
    for (int i = 0; i < g->nph; i++)
        if (g->ph[i].k > 0 && g->ph[i].cols > 0 && !tconv__phase_is_direct(s, &g->ph[i], c))
            return false;
    return true;
}

/* Bytes of the copy for this shape and ISA, 0 when no phase is fed directly; sets
 * c->chunk, the images copied (and computed) at a time: all of them if the copy of
 * the batch fits in MAX_COPY of the output, else as many as fit. */
size_t tconv__phase_copy_bytes(const tconv_shape *s, const plan_geom *g, copy_geom *c)
{
    if (!g->ik || !tconv__phase_copy_geometry(s, g, c))
        return 0;
    bool any = false;
    for (int i = 0; i < g->nph; i++)
        any = any || tconv__phase_is_direct(s, &g->ph[i], c);
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

/* Tile t of a directly fed phase, or of two (q1 >= 0: the phase one column to the
 * right, same grid, stored interleaved with q0 through pair_store). Vectors
 * [t*nc/VW, ...) in groups of three; for each group and each row panel of A, the
 * igemm fills an MR x 48 C block per phase (in L1, continued over channel blocks) and
 * the block goes to the output at once: the C values never leave L1. */
void tconv__phase_direct_tile(run_ctx *r, int64_t gi, int q0, int q1, int64_t t, char *slot)
{
    const tconv_problem *pb = r->a->pb;
    const tconv_shape *s = &pb->s;
    const plan_geom *g = &r->g;
    const copy_geom *cg = &r->g.cg;
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

/* Plane (n, c) of the input into the copy: each row its gap of zeros and its inputs,
 * zero rows above and below, zeros to the plane stride (spare lanes read them). */
void tconv__phase_copy_task(void *ctx, int64_t i)
{
    const run_ctx *r = ctx;
    const tconv_problem *pb = r->a->pb;
    const copy_geom *cg = &r->g.cg;
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
