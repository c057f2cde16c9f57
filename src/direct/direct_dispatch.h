/*
 * direct_dispatch.h - the part of the direct kernel's ISA files that is the same in
 * each: the choice among the instances of their templates by tap counts, and the
 * entry points. Included at the end of direct_<isa>.c, after its templates
 * (rows_s1_t, rows_s2_t, rows_sn, s2plane_t), with TCONV_DIRECT_ISA(name) defined to
 * append the file's ISA suffix.
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
