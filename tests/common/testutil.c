/*
 * testutil.c - see testutil.h.
 *
 * SPDX-License-Identifier: MIT
 */
#include "testutil.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

tu_rng tu_rng_seed(uint64_t seed)
{
    tu_rng r = {seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull};
    if (r.s == 0)
        r.s = 1;
    return r;
}

uint64_t tu_next(tu_rng *r)
{
    r->s ^= r->s >> 12;
    r->s ^= r->s << 25;
    r->s ^= r->s >> 27;
    return r->s * 0x2545F4914F6CDD1Dull;
}

int64_t tu_range(tu_rng *r, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(tu_next(r) % (uint64_t)(hi - lo + 1));
}

float tu_uniform(tu_rng *r)
{
    return (float)((double)(tu_next(r) >> 40) / (double)(1ull << 24) * 2.0 - 1.0);
}

tu_tensor tu_tensor_new(int rank, const int64_t *shape, tu_layout layout, tu_rng *rng, float fill)
{
    tu_tensor r;
    memset(&r, 0, sizeof r);
    int64_t alloc_shape[TCONV_MAX_RANK], order[TCONV_MAX_RANK];
    for (int d = 0; d < rank; d++) {
        alloc_shape[d] = shape[d] + (layout == TU_CROPPED ? 3 : 0);
        order[d] = d;
    }
    if (layout == TU_CHANNELS_LAST && rank >= 3) { /* channel dim (rank-3) goes last */
        int c = rank - 3;
        for (int i = c; i < rank - 1; i++)
            order[i] = i + 1;
        order[rank - 1] = c;
    }
    int64_t step = 1, stride[TCONV_MAX_RANK];
    for (int i = rank - 1; i >= 0; i--) {
        int64_t d = order[i];
        stride[d] = step;
        step *= alloc_shape[d] > 0 ? alloc_shape[d] : 1;
    }
    r.buf_len = (size_t)step;
    r.buf = malloc(r.buf_len * sizeof(float) + 64);
    for (size_t i = 0; i < r.buf_len; i++)
        r.buf[i] = rng ? tu_uniform(rng) : fill;
    int64_t offset = 0;
    for (int d = 0; d < rank; d++) {
        r.t.shape[d] = shape[d];
        r.t.stride[d] = stride[d];
        if (layout == TU_CROPPED)
            offset += stride[d] * 1; /* start one element in along every dim */
    }
    if (layout == TU_REVERSED && rank >= 1 && shape[rank - 1] > 0) {
        offset += stride[rank - 1] * (shape[rank - 1] - 1);
        r.t.stride[rank - 1] = -stride[rank - 1];
    }
    r.t.data = r.buf + offset;
    r.t.dtype = TCONV_DTYPE_F32;
    r.t.rank = rank;
    return r;
}

void tu_tensor_free(tu_tensor *t)
{
    free(t->buf);
    t->buf = NULL;
}

float *tu_at(const tconv_tensor *t, const int64_t *idx)
{
    int64_t off = 0;
    for (int d = 0; d < t->rank; d++)
        off += idx[d] * t->stride[d];
    return (float *)t->data + off;
}

int64_t tu_numel(const tconv_tensor *t)
{
    int64_t n = 1;
    for (int d = 0; d < t->rank; d++)
        n *= t->shape[d];
    return n;
}

void tu_copy_values(const tconv_tensor *dst, const tconv_tensor *src)
{
    if (tu_numel(src) == 0)
        return;
    int64_t idx[TCONV_MAX_RANK] = {0, 0, 0, 0};
    do
        *tu_at(dst, idx) = *tu_at(src, idx);
    while (tu_next_index(src->rank, src->shape, idx));
}

tu_problem tu_case_problem(const int64_t c[12])
{
    tu_problem pr;
    memset(&pr, 0, sizeof pr);
    pr.p = tconv_params_default();
    for (int d = 0; d < 2; d++) {
        pr.p.stride[d] = c[6];
        pr.p.padding[d] = c[7];
        pr.p.output_padding[d] = c[8];
        pr.p.dilation[d] = c[10];
    }
    pr.p.groups = c[9];
    pr.rank = 4;
    const int64_t ho = (c[2] - 1) * c[6] - 2 * c[7] + c[10] * (c[5] - 1) + c[8] + 1;
    const int64_t wo = (c[3] - 1) * c[6] - 2 * c[7] + c[10] * (c[5] - 1) + c[8] + 1;
    const int64_t xs[4] = {c[0], c[1], c[2], c[3]}, ws[4] = {c[1], c[4] / c[9], c[5], c[5]},
                  ys[4] = {c[0], c[4], ho, wo};
    memcpy(pr.xshape, xs, sizeof xs);
    memcpy(pr.wshape, ws, sizeof ws);
    memcpy(pr.yshape, ys, sizeof ys);
    pr.bias = true;
    return pr;
}

/* element of a 4-D-folded view: unbatched tensors have no n index */
static double get4(const tconv_tensor *t, int64_t n, int64_t c, int64_t y, int64_t x)
{
    int64_t idx4[4] = {n, c, y, x};
    return *tu_at(t, t->rank == 4 ? idx4 : idx4 + 1);
}

/* The output's N (1 unbatched), Cout, Hout, Wout, from the definition. */
static void output_dims(const tconv_params *p, const tconv_tensor *x, const tconv_tensor *w,
                        int64_t dims[4])
{
    const int off = x->rank == 4 ? 0 : 1;
    dims[0] = off ? 1 : x->shape[0];
    dims[1] = w->shape[1] * p->groups;
    dims[2] = (x->shape[2 - off] - 1) * p->stride[0] - 2 * p->padding[0] +
              p->dilation[0] * (w->shape[2] - 1) + p->output_padding[0] + 1;
    dims[3] = (x->shape[3 - off] - 1) * p->stride[1] - 2 * p->padding[1] +
              p->dilation[1] * (w->shape[3] - 1) + p->output_padding[1] + 1;
}

double *tu_exact(const tconv_params *p, const tconv_tensor *x, const tconv_tensor *w,
                 const tconv_tensor *b, double **s_out)
{
    const int off = x->rank == 4 ? 0 : 1;
    int64_t N = off ? 1 : x->shape[0], Cin = x->shape[1 - off], H = x->shape[2 - off],
            W = x->shape[3 - off];
    int64_t G = p->groups, cin_g = Cin / G, cout_g = w->shape[1], kh = w->shape[2],
            kw = w->shape[3];
    int64_t dims[4];
    output_dims(p, x, w, dims);
    const int64_t Cout = dims[1], Ho = dims[2], Wo = dims[3];
    size_t total = (size_t)(N * Cout * Ho * Wo);
    double *y = calloc(total + 1, sizeof(double));
    double *s = calloc(total + 1, sizeof(double));
    for (int64_t n = 0; n < N; n++)
        for (int64_t co = 0; co < Cout; co++) {
            int64_t g = co / cout_g, cog = co % cout_g;
            for (int64_t oy = 0; oy < Ho; oy++)
                for (int64_t ox = 0; ox < Wo; ox++) {
                    double acc = 0, mag = 0;
                    if (b) {
                        int64_t i = co;
                        acc = *tu_at(b, &i);
                        mag = fabs(acc);
                    }
                    for (int64_t cig = 0; cig < cin_g; cig++) {
                        int64_t ci = g * cin_g + cig;
                        for (int64_t ky = 0; ky < kh; ky++) {
                            int64_t ty = oy + p->padding[0] - ky * p->dilation[0];
                            if (ty < 0 || ty % p->stride[0] != 0 || ty / p->stride[0] >= H)
                                continue;
                            for (int64_t kx = 0; kx < kw; kx++) {
                                int64_t tx = ox + p->padding[1] - kx * p->dilation[1];
                                if (tx < 0 || tx % p->stride[1] != 0 || tx / p->stride[1] >= W)
                                    continue;
                                int64_t wi[4] = {ci, cog, ky, kx};
                                double prod = get4(x, n, ci, ty / p->stride[0], tx / p->stride[1]) *
                                              (double)*tu_at(w, wi);
                                acc += prod;
                                mag += fabs(prod);
                            }
                        }
                    }
                    size_t o = (size_t)(((n * Cout + co) * Ho + oy) * Wo + ox);
                    y[o] = acc;
                    s[o] = mag;
                }
        }
    if (s_out)
        *s_out = s;
    else
        free(s);
    return y;
}

/* Has t (rank 4, or 3 for one image) the output shape dims? If not, says so in msg. The
 * checks index their exact results by dims: another shape would read past them. */
static bool shape_is(const int64_t dims[4], const tconv_tensor *t, const char *what, char *msg,
                     size_t msglen)
{
    const int o = t->rank == 4 ? 0 : 1;
    if ((t->rank == 3 || t->rank == 4) && (o ? 1 : t->shape[0]) == dims[0] &&
        t->shape[1 - o] == dims[1] && t->shape[2 - o] == dims[2] && t->shape[3 - o] == dims[3])
        return true;
    if (msg && msglen)
        snprintf(msg, msglen, "%s has not the problem's output shape (%lld, %lld, %lld, %lld)",
                 what, (long long)dims[0], (long long)dims[1], (long long)dims[2],
                 (long long)dims[3]);
    return false;
}

tu_bound tu_bound_new(const tconv_params *p, const tconv_tensor *x, const tconv_tensor *w,
                      const tconv_tensor *b)
{
    tu_bound bd;
    bd.s = NULL;
    bd.exact = tu_exact(p, x, w, b, &bd.s);
    const int off = x->rank == 4 ? 0 : 1;
    bd.k = (x->shape[1 - off] / p->groups) * w->shape[2] * w->shape[3];
    output_dims(p, x, w, bd.dims);
    return bd;
}

void tu_bound_free(tu_bound *bd)
{
    free(bd->exact);
    free(bd->s);
    bd->exact = bd->s = NULL;
}

bool tu_check_close_bound(const tu_bound *bd, const tconv_tensor *got, const tconv_tensor *want,
                          double factor, char *msg, size_t msglen)
{
    const double *exact = bd->exact, *s = bd->s;
    /* the bound's dims, not got's: the loops stay inside its arrays whatever got is */
    const int64_t N = bd->dims[0], C = bd->dims[1], Ho = bd->dims[2], Wo = bd->dims[3];
    double u = ldexp(1.0, -24), nu = (double)(bd->k + 1) * u, gamma = nu / (1.0 - nu);
    double worst = 0;
    bool ok = true;
    if (msg && msglen)
        msg[0] = '\0';
    if (!shape_is(bd->dims, got, "got", msg, msglen) ||
        !shape_is(bd->dims, want, "want", msg, msglen))
        return false;
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t y = 0; y < Ho; y++)
                for (int64_t xx = 0; xx < Wo; xx++) {
                    size_t o = (size_t)(((n * C + c) * Ho + y) * Wo + xx);
                    double a = get4(got, n, c, y, xx), e = get4(want, n, c, y, xx);
                    double tol = factor * 2.0 * gamma * s[o] + FLT_MIN;
                    double err = fabs(a - e);
                    if (!(err <= tol)) { /* also catches NaN */
                        double ratio = tol > 0 ? err / tol : INFINITY;
                        if (ok || ratio > worst) {
                            worst = ratio;
                            if (msg)
                                snprintf(msg, msglen,
                                         "at (n=%lld, c=%lld, y=%lld, x=%lld): got %.9g want "
                                         "%.9g (exact %.9g), |diff| %.3g > tol %.3g",
                                         (long long)n, (long long)c, (long long)y, (long long)xx,
                                         a, e, exact[o], err, tol);
                        }
                        ok = false;
                    }
                }
    return ok;
}

bool tu_check_close(const tconv_params *p, const tconv_tensor *x, const tconv_tensor *w,
                    const tconv_tensor *b, const tconv_tensor *got, const tconv_tensor *want,
                    double factor, char *msg, size_t msglen)
{
    tu_bound bd = tu_bound_new(p, x, w, b);
    const bool ok = tu_check_close_bound(&bd, got, want, factor, msg, msglen);
    tu_bound_free(&bd);
    return ok;
}

bool tu_next_index(int rank, const int64_t *shape, int64_t *idx)
{
    for (int d = rank - 1; d >= 0; d--) {
        if (++idx[d] < shape[d])
            return true;
        idx[d] = 0;
    }
    return false;
}

bool tu_check_exact(const tconv_params *p, const tconv_tensor *x, const tconv_tensor *w,
                    const tconv_tensor *b, const tconv_tensor *got, double factor, char *msg,
                    size_t msglen)
{
    double *s = NULL;
    double *exact = tu_exact(p, x, w, b, &s);
    const int off = got->rank == 4 ? 0 : 1;
    int64_t N = off ? 1 : got->shape[0], C = got->shape[1 - off], Ho = got->shape[2 - off],
            Wo = got->shape[3 - off];
    int64_t K = (x->shape[1 - off] / p->groups) * w->shape[2] * w->shape[3];
    double u = ldexp(1.0, -24), nu = (double)(K + 1) * u, gamma = nu / (1.0 - nu);
    double worst = 0;
    bool ok = true;
    if (msg && msglen)
        msg[0] = '\0';
    int64_t dims[4];
    output_dims(p, x, w, dims);
    if (!shape_is(dims, got, "got", msg, msglen)) {
        free(exact);
        free(s);
        return false;
    }
    for (int64_t n = 0; n < N; n++)
        for (int64_t c = 0; c < C; c++)
            for (int64_t y = 0; y < Ho; y++)
                for (int64_t xx = 0; xx < Wo; xx++) {
                    size_t o = (size_t)(((n * C + c) * Ho + y) * Wo + xx);
                    double a = get4(got, n, c, y, xx);
                    double tol = factor * gamma * s[o] + FLT_MIN;
                    double err = fabs(a - exact[o]);
                    if (!(err <= tol)) { /* also catches NaN */
                        double ratio = err / tol;
                        if (ok || ratio > worst) {
                            worst = ratio;
                            if (msg)
                                snprintf(msg, msglen,
                                         "at (n=%lld, c=%lld, y=%lld, x=%lld): got %.9g, exact "
                                         "%.17g, |diff| %.3g > tol %.3g (K=%lld)",
                                         (long long)n, (long long)c, (long long)y, (long long)xx,
                                         a, exact[o], err, tol, (long long)K);
                        }
                        ok = false;
                    }
                }
    free(exact);
    free(s);
    return ok;
}

bool tu_same_bits(const tconv_tensor *a, const tconv_tensor *b, char *msg, size_t msglen)
{
    if (msg && msglen)
        msg[0] = '\0';
    if (a->rank != b->rank) {
        if (msg)
            snprintf(msg, msglen, "rank %d vs %d", (int)a->rank, (int)b->rank);
        return false;
    }
    for (int d = 0; d < a->rank; d++)
        if (a->shape[d] != b->shape[d]) {
            if (msg)
                snprintf(msg, msglen, "shape[%d] %lld vs %lld", d, (long long)a->shape[d],
                         (long long)b->shape[d]);
            return false;
        }
    if (tu_numel(a) == 0)
        return true;
    int64_t idx[TCONV_MAX_RANK] = {0, 0, 0, 0};
    do {
        uint32_t ba, bb;
        memcpy(&ba, tu_at(a, idx), sizeof ba);
        memcpy(&bb, tu_at(b, idx), sizeof bb);
        if (ba != bb) {
            if (msg)
                snprintf(msg, msglen, "at (%lld, %lld, %lld, %lld)[:rank %d]: %.9g (0x%08x) vs "
                         "%.9g (0x%08x)",
                         (long long)idx[0], (long long)idx[1], (long long)idx[2],
                         (long long)idx[3], (int)a->rank, (double)*tu_at(a, idx), (unsigned)ba,
                         (double)*tu_at(b, idx), (unsigned)bb);
            return false;
        }
    } while (tu_next_index(a->rank, a->shape, idx));
    return true;
}
