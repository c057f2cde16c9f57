/*
 * direct_dispatch.h - the part of the direct kernel's ISA files that is the same in
 * each: the choice among the instances of their templates by tap counts, the
 * channels-last row loop, and the entry points. Included at the end of
 * direct_<isa>.c, after its templates (rows_s1_t, rows_s2_t, rows_sn, s2plane_t) and
 * its 16-channel vector helpers (cl_vec, cl_mask, cl_lanes, cl_load, cl_fma, cl_fma_full,
 * cl_store),
 * with TCONV_DIRECT_ISA(name) defined to append the file's ISA suffix.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TCONV_DIRECT_ISA
#error "define TCONV_DIRECT_ISA before including direct_dispatch.h"
#endif

/* Row kernels with the common tap counts compiled for their count. */
static void rows_s1(const tconv_direct_cols *c, int64_t ox_begin, int64_t ox_end,
                    const tconv_direct_rowjob *rows, int64_t nrows)
{
    switch (c->ntaps) {
    case 1: rows_s1_t(c, ox_begin, ox_end, rows, nrows, 1); break;
    case 2: rows_s1_t(c, ox_begin, ox_end, rows, nrows, 2); break;
    case 3: rows_s1_t(c, ox_begin, ox_end, rows, nrows, 3); break;
    case 4: rows_s1_t(c, ox_begin, ox_end, rows, nrows, 4); break;
    case 5: rows_s1_t(c, ox_begin, ox_end, rows, nrows, 5); break;
    default: rows_s1_t(c, ox_begin, ox_end, rows, nrows, -1); break;
    }
}

static void rows_s2(const tconv_direct_cols *c, int64_t ox_begin, int64_t ox_end,
                    const tconv_direct_rowjob *rows, int64_t nrows)
{
    const int32_t n0 = c->p_begin[1], n1 = c->p_begin[2] - c->p_begin[1];
    if (n0 == 1 && n1 == 1)
        rows_s2_t(c, ox_begin, ox_end, rows, nrows, 1, 1);
    else if (n0 == 1 && n1 == 2)
        rows_s2_t(c, ox_begin, ox_end, rows, nrows, 1, 2);
    else if (n0 == 2 && n1 == 1)
        rows_s2_t(c, ox_begin, ox_end, rows, nrows, 2, 1);
    else if (n0 == 2 && n1 == 2)
        rows_s2_t(c, ox_begin, ox_end, rows, nrows, 2, 2);
    else if (n0 == 3 && n1 == 3)
        rows_s2_t(c, ox_begin, ox_end, rows, nrows, 3, 3);
    else
        rows_s2_t(c, ox_begin, ox_end, rows, nrows, -1, -1);
}

static void s2plane_k2_d1_one(const tconv_direct_s2plane *p) { s2plane_t(p, 2, 1, 1); }
static void s2plane_k2_d0_one(const tconv_direct_s2plane *p) { s2plane_t(p, 2, 0, 1); }
static void s2plane_k2_d1(const tconv_direct_s2plane *p) { s2plane_t(p, 2, 1, 0); }
static void s2plane_k2_d0(const tconv_direct_s2plane *p) { s2plane_t(p, 2, 0, 0); }
static void s2plane_k1_d1_one(const tconv_direct_s2plane *p) { s2plane_t(p, 1, 1, 1); }
static void s2plane_k1_d0_one(const tconv_direct_s2plane *p) { s2plane_t(p, 1, 0, 1); }
static void s2plane_k1_d1(const tconv_direct_s2plane *p) { s2plane_t(p, 1, 1, 0); }
static void s2plane_k1_d0(const tconv_direct_s2plane *p) { s2plane_t(p, 1, 0, 0); }

void TCONV_DIRECT_ISA(tconv__direct_s2plane_f32)(const tconv_direct_s2plane *p)
{
    const bool d = p->c->off[p->k2] != p->c->off[0], one = p->cin_g == 1;
    if (p->k2 == 2) {
        if (one)
            d ? s2plane_k2_d1_one(p) : s2plane_k2_d0_one(p);
        else
            d ? s2plane_k2_d1(p) : s2plane_k2_d0(p);
    } else {
        if (one)
            d ? s2plane_k1_d1_one(p) : s2plane_k1_d0_one(p);
        else
            d ? s2plane_k1_d1(p) : s2plane_k1_d0(p);
    }
}

void TCONV_DIRECT_ISA(tconv__direct_rows_f32)(const tconv_direct_cols *c, int64_t ox_begin,
                                              int64_t ox_end, const tconv_direct_rowjob *rows,
                                              int64_t nrows)
{
    if (c->sw == 1)
        rows_s1(c, ox_begin, ox_end, rows, nrows);
    else if (c->sw == 2)
        rows_s2(c, ox_begin, ox_end, rows, nrows);
    else
        rows_sn(c, ox_begin, ox_end, rows, nrows);
}

/* Channels-last depthwise rows (direct.h), phase by phase: the columns of phase p are
 * ox = p + sw*q. Where every tap of the phase reads inside the input, four columns
 * at a time (four independent FMA chains: one chain per column would wait on the
 * FMA's latency), each block of the four in turn (a column's lines are adjacent);
 * elsewhere one column at a time, each tap checked. Phases without taps get init.
 * Same sequence per element as tconv__direct_clrow_f32_scalar. */
static inline cl_vec cl_point(const tconv_direct_clrow *r, int32_t g, int64_t q, int64_t b,
                              cl_vec acc, cl_mask m)
{
    const tconv_direct_cols *c = r->c;
    for (int64_t k = 0; k < r->nky; k++)
        for (int32_t i = c->g_begin[g]; i < c->g_begin[g + 1]; i++)
            if (q >= c->qlo[i] && q < c->qhi[i])
                acc = cl_fma(acc, r->xrow[k] + (q + c->off[i]) * r->xw + 16 * b,
                             r->wrow[k] + b * r->wblock + 16 * i, m);
    return acc;
}

/* Columns q .. q + 3 of phase group g, block b (all taps valid). full: all 16 lanes
 * are channels, loads without masks (dw_k4s2 NHWC 1.02x, faster in 5 of 5
 * alternating runs). */
static inline __attribute__((always_inline)) void cl_four(const tconv_direct_clrow *r, int32_t g,
                                                          int64_t q, int64_t b, float *y,
                                                          cl_mask m, const int full)
{
    const tconv_direct_cols *c = r->c;
    const int64_t xw = r->xw, step = c->sw * r->yw;
    const cl_vec init = cl_load(r->init + 16 * b, m);
    cl_vec a0 = init, a1 = init, a2 = init, a3 = init;
    for (int64_t k = 0; k < r->nky; k++)
        for (int32_t i = c->g_begin[g]; i < c->g_begin[g + 1]; i++) {
            const float *x = r->xrow[k] + (q + c->off[i]) * xw + 16 * b,
                        *w = r->wrow[k] + b * r->wblock + 16 * i;
            a0 = full ? cl_fma_full(a0, x, w) : cl_fma(a0, x, w, m);
            a1 = full ? cl_fma_full(a1, x + xw, w) : cl_fma(a1, x + xw, w, m);
            a2 = full ? cl_fma_full(a2, x + 2 * xw, w) : cl_fma(a2, x + 2 * xw, w, m);
            a3 = full ? cl_fma_full(a3, x + 3 * xw, w) : cl_fma(a3, x + 3 * xw, w, m);
        }
    float *yq = y + q * step + 16 * b;
    cl_store(yq, a0, m);
    cl_store(yq + step, a1, m);
    cl_store(yq + 2 * step, a2, m);
    cl_store(yq + 3 * step, a3, m);
}

void TCONV_DIRECT_ISA(tconv__direct_clrow_f32)(const tconv_direct_clrow *r)
{
    const tconv_direct_cols *c = r->c;
    const cl_mask all = cl_lanes(16), last = cl_lanes(r->nc);
    const int64_t sw = c->sw, yw = r->yw, nb = r->nb;
    int32_t g = 0;
    for (int64_t p = 0; p < sw && p < r->wout; p++) {
        /* outputs p, p + sw, ... below wout (p < wout here; no "+ sw - 1": sw may be huge) */
        const int64_t nq = (r->wout - p - 1) / sw + 1;
        float *y = r->y + p * yw;
        while (g < c->ngroups && c->g_phase[g] < p)
            g++;
        const bool taps = g < c->ngroups && c->g_phase[g] == p && r->nky > 0;
        /* [qa, qb): every tap valid */
        int64_t qa = 0, qb = taps ? nq : 0;
        for (int32_t i = taps ? c->g_begin[g] : 0; taps && i < c->g_begin[g + 1]; i++) {
            qa = c->qlo[i] > qa ? c->qlo[i] : qa;
            qb = c->qhi[i] < qb ? c->qhi[i] : qb;
        }
        for (int64_t q = 0; q < nq;) {
            if (q >= qa && q + 4 <= qb) {
                for (int64_t b = 0; b < nb; b++)
                    if (b < nb - 1 || r->nc == 16)
                        cl_four(r, g, q, b, y, all, 1);
                    else
                        cl_four(r, g, q, b, y, last, 0);
                q += 4;
                continue;
            }
            for (int64_t b = 0; b < nb; b++) {
                const cl_mask m = b < nb - 1 ? all : last;
                const cl_vec init = cl_load(r->init + 16 * b, m);
                cl_store(y + q * sw * yw + 16 * b, taps ? cl_point(r, g, q, b, init, m) : init, m);
            }
            q++;
        }
    }
}
