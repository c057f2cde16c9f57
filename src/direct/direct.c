/*
 * direct.c - tasks and row batching of the direct algorithm (contract in direct.h).
 *
 * A task is one (n, co) output plane, or a band of its rows when there are too few
 * planes to keep threads busy or a plane is heavy. Tasks never share an output
 * element, and the split depends on the shape only, so results do not depend on the
 * number of threads or the order tasks run in.
 *
 * Stride-2 layers with a 2x2 or 4x4 kernel and W-contiguous tensors go to a plane
 * kernel (direct.h) that walks the task's rows itself. Everything else is gathered
 * into row batches: for each row, the (ci, ky) that reach it become "terms" (an input
 * row plus kw weights in tap order), and an ISA row kernel computes whole rows at
 * once, vectorised along W. The kernels want inputs and outputs contiguous along W;
 * other layouts go through small stack buffers: strided input rows are copied in,
 * strided output rows are computed into a buffer and copied out. Only kernels wider
 * than TCONV_DIRECT_MAX_TAPS, or strided input rows too wide for the buffer, fall back
 * to the plain per-element gather at the end.
 *
 * Per-row bookkeeping avoids integer division: the (ky, iy) of a row come from a
 * table per residue of (oy + ph) mod sh, the tap phases from a stepped division.
 *
 * No heap memory: every buffer is a bounded array on the stack (under 40 KiB in all),
 * so the kernel needs no workspace and runs on small thread stacks.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "direct.h"

enum {
    TERMS_MAX = 256,   /* terms per kernel call */
    ROWS_MAX = 64,     /* rows per kernel call */
    WBUF_FLOATS = 2048, /* weights of the task's group in tap order, or of one batch */
    XSTAGE_FLOATS = 2048, /* copies of strided input rows */
    YSTAGE_FLOATS = 2048, /* strided output rows before they are copied out */
    YCHUNK = 1024,     /* columns per kernel call when the output is staged (even) */
    MIN_TASKS = 64,    /* enough tasks to balance a few threads */
};
/* Multiply-adds per task above which a plane is cut into row bands. */
#define TASK_WORK 262144.0

static int64_t min64(int64_t a, int64_t b)
{
    return a < b ? a : b;
}

static int64_t ceil_div(int64_t a, int64_t b)
{
    return a / b + (a % b != 0);
}

/* Multiply-adds per output element, on average over the stride phases (at least 1). */
static double macs_per_output(const tconv_shape *s)
{
    const double taps =
        (double)s->cin_g * (double)s->kh * (double)s->kw / ((double)s->sh * (double)s->sw);
    return taps < 1.0 ? 1.0 : taps;
}

/* Output rows per task: the whole plane unless that leaves too few tasks or too much
 * work in one. Pure function of the shape. */
static int64_t rows_per_task(const tconv_shape *s)
{
    double rows = TASK_WORK / ((double)s->wout * macs_per_output(s));
    int64_t rpt = rows >= (double)s->hout ? s->hout : rows < 1.0 ? 1 : (int64_t)rows;
    int64_t planes = s->n * s->cout;
    if (planes < MIN_TASKS) {
        /* cut planes into at least MIN_TASKS / planes bands (as many as there are rows) */
        int64_t bands = min64(s->hout, ceil_div(MIN_TASKS, planes));
        rpt = min64(rpt, ceil_div(s->hout, bands));
    }
    /* even bands keep the row pairs of stride-2 layers together */
    if (rpt > 1 && rpt < s->hout && rpt % 2 != 0)
        rpt++;
    return rpt;
}

bool tconv__direct_channels_last(const tconv_problem *pb)
{
    const tconv_shape *s = &pb->s;
    return s->cin_g == 1 && s->cout_g == 1 && s->groups > 1 && pb->xs[1] == 1 &&
           pb->ys[1] == 1 && s->kw <= TCONV_DIRECT_MAX_TAPS && s->kh <= TCONV_DIRECT_CL_TAPS &&
           s->kh * s->kw <= TCONV_DIRECT_CL_TAPS;
}

/* Channels-last depthwise tasks: (image, band of rows, run of blocks of 16 channels),
 * runs innermost (neighbouring tasks write neighbouring memory); bands enough for
 * MIN_TASKS unless that makes them too short for their weight packing
 * (cl_rows_per_task). A task's blocks are as many as its packed weights allow (CL_WFLOATS on
 * its stack): each output row is written whole, its points' channels together, rather
 * than a 64-byte slice of every point per task (dw_k4s2 NHWC against one block per
 * task: 1.07x by the medians, 1.16x by the minima of 5 alternating runs). */
enum { CL_WFLOATS = 4096 };

static int64_t cl_blocks(const tconv_shape *s)
{
    return ceil_div(s->cout, 16);
}

static int64_t cl_blocks_per_task(const tconv_shape *s)
{
    return min64(cl_blocks(s), CL_WFLOATS / (s->kh * s->kw * 16));
}

static int64_t cl_runs(const tconv_shape *s)
{
    return ceil_div(cl_blocks(s), cl_blocks_per_task(s));
}

/* Rows per task: bands enough for MIN_TASKS, but at least CL_MACS_PER_WEIGHT
 * multiply-adds per channel for each weight a task packs (kh*kw per channel): each
 * task packs its blocks' weights first, and dw_k4s2's 64 bands of two rows spent a
 * fifth of the time doing so. */
#define CL_MACS_PER_WEIGHT 256.0

static int64_t cl_rows_per_task(const tconv_shape *s)
{
    const int64_t bands = min64(s->hout, ceil_div(MIN_TASKS, s->n * cl_runs(s)));
    const int64_t rows = ceil_div(s->hout, bands);
    const double least = CL_MACS_PER_WEIGHT * (double)s->kh * (double)s->kw /
                         ((double)s->wout * macs_per_output(s)); /* rows */
    if ((double)rows >= least)
        return rows;
    /* as many equal bands as have that many rows (one when none has) */
    const double most = (double)s->hout / least;
    return ceil_div(s->hout, most < 1.0 ? 1 : (int64_t)most);
}

int64_t tconv__direct_tasks(const tconv_problem *pb)
{
    const tconv_shape *s = &pb->s;
    if (s->n == 0 || s->cout == 0 || s->hout == 0 || s->wout == 0)
        return 0;
    if (tconv__direct_channels_last(pb))
        return s->n * ceil_div(s->hout, cl_rows_per_task(s)) * cl_runs(s);
    return s->n * s->cout * ceil_div(s->hout, rows_per_task(s));
}

const tconv_direct_kernels *tconv__direct_kernels(tconv_isa isa)
{
    static const tconv_direct_kernels scalar = {tconv__direct_rows_f32_scalar, NULL,
                                                tconv__direct_clrow_f32_scalar};
    if (isa == TCONV_ISA_AUTO)
        isa = tconv_isa_detected();
#if TCONV_HAVE_X86_KERNELS
    static const tconv_direct_kernels avx2 = {tconv__direct_rows_f32_avx2,
                                              tconv__direct_s2plane_f32_avx2,
                                              tconv__direct_clrow_f32_avx2};
    static const tconv_direct_kernels avx512 = {tconv__direct_rows_f32_avx512,
                                                tconv__direct_s2plane_f32_avx512,
                                                tconv__direct_clrow_f32_avx512};
    if (isa >= TCONV_ISA_AVX512)
        return &avx512;
    if (isa >= TCONV_ISA_AVX2)
        return &avx2;
#endif
    return &scalar;
}

bool tconv__direct_s2plane_ok(const tconv_shape *s, const tconv_direct_cols *c)
{
    if (s->sh != 2 || s->sw != 2 || s->dh != 1 || s->dw != 1 || s->kh != s->kw ||
        (s->kh != 2 && s->kh != 4) || s->cin_g * s->kh * s->kw > TCONV_DIRECT_S2_MAXW)
        return false;
    const int32_t k2 = (int32_t)(s->kh / 2);
    if (c->p_begin[1] != k2 || c->p_begin[2] != 2 * k2)
        return false;
    for (int32_t j = 1; j < k2; j++) /* each phase reads consecutive columns */
        if (c->off[j] != c->off[0] - j || c->off[k2 + j] != c->off[k2] - j)
            return false;
    const int64_t d = c->off[k2] - c->off[0];
    return d == 0 || d == 1;
}

bool tconv__direct_cols_init(const tconv_shape *s, tconv_direct_cols *c)
{
    if (s->kw > TCONV_DIRECT_MAX_TAPS)
        return false;
    c->sw = s->sw;
    c->w = s->w;
    c->ntaps = (int32_t)s->kw;
    /* Tap kx lands on phase p = (kx*dw - pw) mod sw, with ix = q - floor((kx*dw - pw) / sw).
     * (fl, p) = floor division of a = kx*dw - pw by sw, stepped with kx (a grows by dw).
     * kx*dw - pw cannot overflow: kx*dw <= dw*(kw-1), which the output size computed. */
    int64_t fl = -s->pw / s->sw, p = -s->pw % s->sw;
    if (p < 0) {
        p += s->sw;
        fl -= 1;
    }
    const int64_t dq = s->dw / s->sw, dr = s->dw % s->sw;
    int32_t n = 0;
    for (int32_t kx = 0; kx < c->ntaps; kx++) {
        int32_t i = n++;
        for (; i > 0 && c->phase[i - 1] > p; i--) { /* stable insertion by phase */
            c->kx[i] = c->kx[i - 1];
            c->phase[i] = c->phase[i - 1];
            c->off[i] = c->off[i - 1];
        }
        c->kx[i] = kx;
        c->phase[i] = p;
        c->off[i] = -fl;
        fl += dq;
        if (p >= s->sw - dr) { /* p + dr >= sw, without overflow for huge sw */
            p -= s->sw - dr;
            fl += 1;
        } else {
            p += dr;
        }
    }
    c->ngroups = 0;
    for (int32_t i = 0; i < n; i++) {
        c->qlo[i] = -c->off[i];
        c->qhi[i] = s->w - c->off[i];
        if (i == 0 || c->phase[i] != c->phase[i - 1]) {
            c->g_phase[c->ngroups] = c->phase[i];
            c->g_begin[c->ngroups++] = i;
        }
    }
    c->g_begin[c->ngroups] = n;
    int32_t n0 = 0;
    while (n0 < n && c->phase[n0] == 0)
        n0++;
    c->p_begin[0] = 0;
    c->p_begin[1] = n0;
    c->p_begin[2] = n;
    return true;
}

/* The H direction. Output row oy receives kernel rows ky with (oy + ph - ky*dh)
 * divisible by sh, reading input row iy = (oy + ph - ky*dh) / sh. Those ky are
 * ky0, ky0 + P, ky0 + 2P, ... (P = sh / gcd(sh, dh)) with iy stepping down by
 * DI = dh / gcd(sh, dh), so a row's terms are an arithmetic run, found without a
 * division per ky: per residue of (oy + ph) mod sh the first ky and the offset of its
 * iy are tabulated (for sh <= HTAB), and the quotient and residue advance with oy. */
enum { HTAB = 64 };

typedef struct hplan {
    int64_t P, DI;
    bool table;
    int64_t ky0[HTAB];  /* first ky of residue r, or -1 if no ky reaches it */
    int64_t base[HTAB]; /* iy of ky0 = (oy + ph) / sh + base[r] */
    int64_t njk[HTAB];  /* ky below kh in the run */
} hplan;

/* The kernel rows that reach one output row: ky = ky1 + j*P, iy = iy1 - j*DI, j < nky. */
typedef struct rowinfo {
    int64_t oy, ky1, iy1, nky;
} rowinfo;

/* Walks output rows upwards; qy, r = (oy + ph) / sh, (oy + ph) mod sh. */
typedef struct hcursor {
    int64_t oy, qy, r;
} hcursor;

static int64_t gcd64(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

static void hplan_init(const tconv_shape *s, hplan *h)
{
    const int64_t g = gcd64(s->sh, s->dh);
    h->P = s->sh / g;
    h->DI = s->dh / g;
    h->table = s->sh <= HTAB;
    if (!h->table)
        return;
    for (int64_t r = 0; r < s->sh; r++)
        h->ky0[r] = -1;
    /* ky*dh mod sh for ky in [0, P) hits each multiple of g below sh exactly once */
    const int64_t dhm = s->dh % s->sh;
    int64_t r = 0;
    for (int64_t ky = 0; ky < h->P && ky < s->kh; ky++) { /* ky >= kh: nothing reaches r */
        h->ky0[r] = ky;
        h->base[r] = (r - ky * s->dh) / s->sh; /* exact */
        h->njk[r] = (s->kh - 1 - ky) / h->P + 1; /* ky < kh; no overflow for huge P */
        r += dhm;
        if (r >= s->sh)
            r -= s->sh;
    }
}

static hcursor hcursor_at(const tconv_shape *s, int64_t oy)
{
    hcursor hc = {oy, (oy + s->ph) / s->sh, (oy + s->ph) % s->sh};
    return hc;
}

static void hcursor_next(const tconv_shape *s, hcursor *hc)
{
    hc->oy++;
    if (++hc->r == s->sh) {
        hc->r = 0;
        hc->qy++;
    }
}

static rowinfo row_info(const tconv_shape *s, const hplan *h, const hcursor *hc)
{
    rowinfo ri = {hc->oy, 0, 0, 0};
    int64_t ky0 = -1, iy0 = 0, njk = 0;
    if (h->table) {
        ky0 = h->ky0[hc->r];
        if (ky0 >= 0) {
            iy0 = hc->qy + h->base[hc->r];
            njk = h->njk[hc->r];
        }
    } else {
        const int64_t ty = hc->oy + s->ph;
        for (int64_t ky = 0; ky < h->P && ky < s->kh; ky++)
            if ((ty - ky * s->dh) % s->sh == 0) {
                ky0 = ky;
                iy0 = (ty - ky * s->dh) / s->sh;
                njk = (s->kh - 1 - ky) / h->P + 1;
                break;
            }
    }
    if (ky0 < 0 || iy0 < 0)
        return ri;
    /* clip j so that 0 <= iy0 - j*DI < h */
    int64_t jlo = 0, jhi = njk;
    if (h->DI == 1) {
        if (iy0 + 1 < jhi)
            jhi = iy0 + 1;
        if (iy0 >= s->h)
            jlo = iy0 - s->h + 1;
    } else {
        if (iy0 / h->DI + 1 < jhi)
            jhi = iy0 / h->DI + 1;
        if (iy0 >= s->h)
            jlo = (iy0 - s->h) / h->DI + 1;
    }
    if (jhi <= jlo)
        return ri;
    ri.ky1 = ky0 + jlo * h->P;
    ri.iy1 = iy0 - jlo * h->DI;
    ri.nky = jhi - jlo;
    return ri;
}

/* Everything a task needs, on its stack. */
typedef struct task {
    const tconv_problem *pb;
    const tconv_shape *s;
    tconv_direct_rows_fn rows_fn;
    int64_t ci0, cog; /* first input channel of the group, output channel in the group */
    float init;
    const float *xn; /* input image n */
    float *yc;       /* output plane (n, co) */
    bool xcontig, ycontig, wpacked;
    int64_t cap_terms; /* terms per kernel call */
    hplan hp;
    tconv_direct_cols cols;
    tconv_direct_term terms[TERMS_MAX];
    tconv_direct_rowjob jobs[ROWS_MAX];
    float wbuf[WBUF_FLOATS];
    float xstage[XSTAGE_FLOATS];
    float ystage[YSTAGE_FLOATS];
} task;

/* The weights of (ci0 + cig, cog, ky) in tap order, to dst. */
static void pack_weights(const task *tk, int64_t cig, int64_t ky, float *dst)
{
    const tconv_problem *pb = tk->pb;
    const float *w = pb->wt + (tk->ci0 + cig) * pb->ws[0] + tk->cog * pb->ws[1] + ky * pb->ws[2];
    for (int32_t i = 0; i < tk->cols.ntaps; i++)
        dst[i] = w[tk->cols.kx[i] * pb->ws[3]];
}

/* Writes terms [k0, k1) of a row (term k = (cig, j), k = cig*nky + j, in summation
 * order) to tk->terms[slot0 ...]; slot numbers also index the staging buffers. */
static void fill_terms(task *tk, const rowinfo *ri, int64_t k0, int64_t k1, int64_t slot0)
{
    const tconv_problem *pb = tk->pb;
    const tconv_shape *s = tk->s;
    const int64_t nky = ri->nky;
    if (tk->xcontig && tk->wpacked && k0 == 0) { /* the common case, kept lean */
        /* j*P < kh and j*DI <= iy1 for the j of the row: no product below overflows */
        tconv_direct_term *t = &tk->terms[slot0];
        for (int64_t cig = 0; cig * nky < k1; cig++) {
            const float *x = tk->xn + (tk->ci0 + cig) * pb->xs[1];
            const float *w = tk->wbuf + cig * s->kh * s->kw;
            for (int64_t j = 0; j < nky; j++, t++) {
                t->x = x + (ri->iy1 - j * tk->hp.DI) * pb->xs[2];
                t->w = w + (ri->ky1 + j * tk->hp.P) * s->kw;
            }
        }
        return;
    }
    int64_t cig = 0, j = 0;
    if (k0 > 0) {
        cig = k0 / nky;
        j = k0 % nky;
    }
    for (int64_t k = k0; k < k1; k++) {
        const int64_t ky = ri->ky1 + j * tk->hp.P, iy = ri->iy1 - j * tk->hp.DI;
        const int64_t slot = slot0 + (k - k0);
        tconv_direct_term *t = &tk->terms[slot];
        const float *xr = tk->xn + (tk->ci0 + cig) * pb->xs[1] + iy * pb->xs[2];
        if (tk->xcontig) {
            t->x = xr;
        } else {
            float *st = tk->xstage + slot * s->w;
            for (int64_t ix = 0; ix < s->w; ix++)
                st[ix] = xr[ix * pb->xs[3]];
            t->x = st;
        }
        if (tk->wpacked) {
            t->w = tk->wbuf + (cig * s->kh + ky) * s->kw;
        } else {
            pack_weights(tk, cig, ky, tk->wbuf + slot * s->kw);
            t->w = tk->wbuf + slot * s->kw;
        }
        if (++j == nky) {
            j = 0;
            cig++;
        }
    }
}

/* Runs jobs[0, nrows) for output rows oy, oy+1, ... over all columns. */
static void run_rows(task *tk, int64_t oy, int64_t nrows)
{
    const tconv_problem *pb = tk->pb;
    const int64_t wout = tk->s->wout;
    if (tk->ycontig) {
        for (int64_t r = 0; r < nrows; r++)
            tk->jobs[r].out = tk->yc + (oy + r) * pb->ys[2];
        tk->rows_fn(&tk->cols, 0, wout, tk->jobs, nrows);
        return;
    }
    const int64_t clen = min64(wout, YCHUNK);
    for (int64_t a = 0; a < wout; a += clen) {
        const int64_t b = min64(wout, a + clen);
        for (int64_t r = 0; r < nrows; r++)
            tk->jobs[r].out = tk->ystage + r * clen;
        tk->rows_fn(&tk->cols, a, b, tk->jobs, nrows);
        for (int64_t r = 0; r < nrows; r++) {
            float *yr = tk->yc + (oy + r) * pb->ys[2];
            const float *st = tk->ystage + r * clen;
            for (int64_t ox = a; ox < b; ox++)
                yr[ox * pb->ys[3]] = st[ox - a];
        }
    }
}

/* A row with more terms than one call takes: term batches accumulate into the output
 * (or its staging buffer), which keeps the per-element summation order. */
static void run_big_row(task *tk, const rowinfo *ri)
{
    const tconv_problem *pb = tk->pb;
    const int64_t oy = ri->oy, wout = tk->s->wout, nk = tk->s->cin_g * ri->nky;
    const int64_t clen = tk->ycontig ? wout : min64(wout, YCHUNK);
    float *yr = tk->yc + oy * pb->ys[2];
    for (int64_t a = 0; a < wout; a += clen) {
        const int64_t b = min64(wout, a + clen);
        for (int64_t k0 = 0; k0 < nk; k0 += tk->cap_terms) {
            const int64_t k1 = min64(nk, k0 + tk->cap_terms);
            fill_terms(tk, ri, k0, k1, 0);
            tconv_direct_rowjob *job = &tk->jobs[0];
            job->out = tk->ycontig ? yr + a : tk->ystage;
            job->terms = tk->terms;
            job->nterms = k1 - k0;
            job->init = tk->init;
            job->accumulate = k0 > 0;
            tk->rows_fn(&tk->cols, a, b, job, 1);
        }
        if (!tk->ycontig)
            for (int64_t ox = a; ox < b; ox++)
                yr[ox * pb->ys[3]] = tk->ystage[ox - a];
    }
}

/* Input row iy of ky for output row oy, or -1 when ky does not reach oy. */
static int64_t input_row(const tconv_shape *s, int64_t oy, int64_t ky)
{
    int64_t ty = oy + s->ph - ky * s->dh;
    if (ty < 0 || ty % s->sh != 0 || ty / s->sh >= s->h)
        return -1;
    return ty / s->sh;
}

/* Per-element gather with any strides, for what the row kernels do not take. */
static void general_rows(const tconv_problem *pb, int64_t n, int64_t co, int64_t oy0, int64_t oy1)
{
    const tconv_shape *s = &pb->s;
    const int64_t g = co / s->cout_g, cog = co % s->cout_g;
    const float init = s->has_bias ? pb->b[co * pb->bs] : 0.0f;
    for (int64_t oy = oy0; oy < oy1; oy++)
        for (int64_t ox = 0; ox < s->wout; ox++) {
            float acc = init;
            for (int64_t cig = 0; cig < s->cin_g; cig++) {
                const int64_t ci = g * s->cin_g + cig;
                for (int64_t ky = 0; ky < s->kh; ky++) {
                    const int64_t iy = input_row(s, oy, ky);
                    if (iy < 0)
                        continue;
                    for (int64_t kx = 0; kx < s->kw; kx++) {
                        const int64_t tx = ox + s->pw - kx * s->dw;
                        if (tx < 0)
                            break; /* tx only decreases with kx */
                        if (tx % s->sw != 0 || tx / s->sw >= s->w)
                            continue;
                        acc += pb->x[n * pb->xs[0] + ci * pb->xs[1] + iy * pb->xs[2] +
                                     (tx / s->sw) * pb->xs[3]] *
                               pb->wt[ci * pb->ws[0] + cog * pb->ws[1] + ky * pb->ws[2] +
                                      kx * pb->ws[3]];
                    }
                }
            }
            pb->y[n * pb->ys[0] + co * pb->ys[1] + oy * pb->ys[2] + ox * pb->ys[3]] = acc;
        }
}

/* Task t of a channels-last depthwise call: its blocks' weights packed tap by tap on
 * the stack, then row by row, block by block, the input rows that reach each row. */
static void cl_task(const tconv_problem *pb, tconv_isa isa, int64_t t)
{
    const tconv_shape *s = &pb->s;
    const int64_t runs = cl_runs(s), bpt = cl_blocks_per_task(s), rpt = cl_rows_per_task(s);
    const int64_t bands = ceil_div(s->hout, rpt), run = t % runs, band = t / runs % bands;
    const int64_t n = t / runs / bands, b0 = run * bpt, nb = min64(bpt, cl_blocks(s) - b0);
    const int64_t oy0 = band * rpt, oy1 = min64(s->hout, oy0 + rpt), taps = s->kh * s->kw;
    tconv_direct_cols cols;
    tconv__direct_cols_init(s, &cols);
    /* block b: tap (ky, i) of lane l at wt[((b*kh + ky)*kw + i)*16 + l], bias at init;
     * channel by channel, each reading its own weights (lanes past the last channel
     * 0). (Lane by lane for each tap, with the tap's column looked up per value, it
     * took a fifth of dw_k4s2's time with channels last: 64 tasks of two rows each
     * pack their 1024 weights.) */
    float wt[CL_WFLOATS], init[CL_WFLOATS / 16];
    /* tap ky*kw + i (cols.ntaps == kw): its weight's offset in a channel */
    int64_t src[TCONV_DIRECT_CL_TAPS];
    for (int64_t ky = 0; ky < s->kh; ky++)
        for (int32_t i = 0; i < cols.ntaps; i++)
            src[ky * s->kw + i] = ky * pb->ws[2] + cols.kx[i] * pb->ws[3];
    for (int64_t b = 0; b < nb; b++) {
        const int64_t c0 = (b0 + b) * 16, nc = min64(16, s->cout - c0);
        float *wb = wt + b * taps * 16;
        if (nc < 16)
            memset(wb, 0, (size_t)(taps * 16) * sizeof(float));
        for (int64_t l = 0; l < nc; l++) {
            const float *wc = pb->wt + (c0 + l) * pb->ws[0];
            for (int64_t i = 0; i < taps; i++)
                wb[i * 16 + l] = wc[src[i]];
        }
        for (int64_t l = 0; l < 16; l++)
            init[b * 16 + l] = l < nc && s->has_bias ? pb->b[(c0 + l) * pb->bs] : 0.0f;
    }
    const float *xrow[TCONV_DIRECT_CL_TAPS], *wrow[TCONV_DIRECT_CL_TAPS];
    tconv_direct_clrow r;
    r.c = &cols;
    r.xrow = xrow;
    r.wrow = wrow;
    r.xw = pb->xs[3];
    r.yw = pb->ys[3];
    r.wout = s->wout;
    r.nb = nb;
    r.wblock = taps * 16;
    r.init = init;
    r.nc = (int32_t)min64(16, s->cout - (b0 + nb - 1) * 16);
    const tconv_direct_clrow_fn fn = tconv__direct_kernels(isa)->clrow;
    const float *xn = pb->x + n * pb->xs[0] + b0 * 16;
    for (int64_t oy = oy0; oy < oy1; oy++) {
        r.nky = 0;
        for (int64_t ky = 0; ky < s->kh; ky++) {
            const int64_t iy = input_row(s, oy, ky);
            if (iy >= 0) {
                xrow[r.nky] = xn + iy * pb->xs[2];
                wrow[r.nky++] = wt + ky * s->kw * 16;
            }
        }
        r.y = pb->y + n * pb->ys[0] + b0 * 16 + oy * pb->ys[2];
        fn(&r);
    }
}

void tconv__direct_task(const tconv_problem *pb, tconv_isa isa, int64_t t)
{
    const tconv_shape *s = &pb->s;
    if (tconv__direct_channels_last(pb)) {
        cl_task(pb, isa, t);
        return;
    }
    const int64_t rpt = rows_per_task(s), bands = ceil_div(s->hout, rpt);
    const int64_t plane = t / bands, oy0 = (t % bands) * rpt, oy1 = min64(s->hout, oy0 + rpt);
    const int64_t n = plane / s->cout, co = plane % s->cout;

    const bool xcontig = s->w == 1 || pb->xs[3] == 1;
    if (s->kw > TCONV_DIRECT_MAX_TAPS || (!xcontig && s->w > XSTAGE_FLOATS)) {
        general_rows(pb, n, co, oy0, oy1);
        return;
    }

    task tk;
    tk.pb = pb;
    tk.s = s;
    const tconv_direct_kernels *kern = tconv__direct_kernels(isa);
    tk.rows_fn = kern->rows;
    tk.ci0 = (co / s->cout_g) * s->cin_g;
    tk.cog = co % s->cout_g;
    tk.init = s->has_bias ? pb->b[co * pb->bs] : 0.0f;
    tk.xn = pb->x + n * pb->xs[0];
    tk.yc = pb->y + n * pb->ys[0] + co * pb->ys[1];
    tk.xcontig = xcontig;
    tk.ycontig = s->wout == 1 || pb->ys[3] == 1;
    tconv__direct_cols_init(s, &tk.cols);

    /* cin_g*kh*kw is at most the weight tensor's element count, so it does not overflow */
    tk.wpacked = s->cin_g * s->kh * s->kw <= WBUF_FLOATS;
    if (tk.wpacked)
        for (int64_t cig = 0; cig < s->cin_g; cig++)
            for (int64_t ky = 0; ky < s->kh; ky++)
                pack_weights(&tk, cig, ky, tk.wbuf + (cig * s->kh + ky) * s->kw);

    const tconv_direct_s2plane_fn plane_fn = kern->s2plane;
    if (plane_fn && tk.xcontig && tk.ycontig && tconv__direct_s2plane_ok(s, &tk.cols)) {
        tconv_direct_s2plane sp;
        sp.c = &tk.cols;
        sp.x = tk.xn + tk.ci0 * pb->xs[1];
        sp.xc = pb->xs[1];
        sp.xh = pb->xs[2];
        sp.h = s->h;
        sp.wt = tk.wbuf; /* wpacked: cin_g*kh*kw <= TCONV_DIRECT_S2_MAXW < WBUF_FLOATS */
        sp.cin_g = s->cin_g;
        sp.k2 = (int32_t)(s->kh / 2);
        sp.init = tk.init;
        sp.y = tk.yc;
        sp.yh = pb->ys[2];
        sp.wout = s->wout;
        sp.ph = s->ph;
        sp.oy0 = oy0;
        sp.oy1 = oy1;
        plane_fn(&sp);
        return;
    }
    tk.cap_terms = TERMS_MAX;
    if (!tk.xcontig)
        tk.cap_terms = min64(tk.cap_terms, XSTAGE_FLOATS / s->w);
    if (!tk.wpacked)
        tk.cap_terms = min64(tk.cap_terms, WBUF_FLOATS / s->kw);
    const int64_t cap_rows = tk.ycontig ? ROWS_MAX
                                        : min64(ROWS_MAX, YSTAGE_FLOATS / min64(s->wout, YCHUNK));

    hplan_init(s, &tk.hp);
    hcursor hc = hcursor_at(s, oy0);
    while (hc.oy < oy1) {
        const int64_t oy_first = hc.oy;
        int64_t nrows = 0, nt = 0;
        while (hc.oy < oy1 && nrows < cap_rows) {
            const rowinfo ri = row_info(s, &tk.hp, &hc);
            const int64_t k = s->cin_g * ri.nky;
            if (nt + k > tk.cap_terms) {
                if (nrows == 0) { /* too many terms for one call: on its own */
                    run_big_row(&tk, &ri);
                    hcursor_next(s, &hc);
                }
                break;
            }
            if (k > 0)
                fill_terms(&tk, &ri, 0, k, nt);
            tconv_direct_rowjob *job = &tk.jobs[nrows];
            job->terms = tk.terms + nt;
            job->nterms = k;
            job->init = tk.init;
            job->accumulate = 0;
            nrows++;
            nt += k;
            hcursor_next(s, &hc);
        }
        if (nrows > 0)
            run_rows(&tk, oy_first, nrows);
    }
}
