/*
 * geometry.c - stride-phase taps and the phase path's efficiency (see lower.h).
 *
 * SPDX-License-Identifier: MIT
 */
#include "lower.h"

static int64_t gcd(int64_t a, int64_t b)
{
    while (b) {
        int64_t t = a % b;
        a = b;
        b = t;
    }
    return a;
}

void tconv__phase_taps(int64_t phase, int64_t stride, int64_t pad, int64_t dil, int64_t k,
                       tconv_taps *t)
{
    /* (phase + pad - ky*dil) % stride == 0 repeats with period stride/gcd in ky, so the
     * first solution, if any, is below min(k, stride). */
    const int64_t g = gcd(stride, dil), lim = k < stride ? k : stride;
    t->count = 0;
    t->first = t->d0 = 0;
    t->step = stride / g;
    t->dstep = -(dil / g);
    for (int64_t ky = 0; ky < lim; ky++) {
        int64_t r = phase + pad - ky * dil;
        if (r % stride == 0) {
            t->first = ky;
            t->d0 = r / stride;
            t->count = (k - 1 - ky) / t->step + 1;
            return;
        }
    }
}

/* Along one dimension: real (input, tap) pairs landing in the output, and the pairs
 * the phase GEMMs multiply (every tap of the phase for every output of the phase). */
static void dim_work(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dil, int64_t out,
                     double *useful, double *total)
{
    *useful = 0;
    for (int64_t ky = 0; ky < k; ky++) {
        /* 0 <= iy*stride - pad + ky*dil < out  <=>  iy in [lo, hi] */
        int64_t a = pad - ky * dil, b = out - 1 + pad - ky * dil;
        int64_t lo = a <= 0 ? 0 : (a + stride - 1) / stride;
        int64_t hi = b < 0 ? -1 : b / stride;
        if (hi > in - 1)
            hi = in - 1;
        if (hi >= lo)
            *useful += (double)(hi - lo + 1);
    }
    *total = 0;
    for (int64_t p = 0; p < stride && p < out; p++) {
        tconv_taps t;
        tconv__phase_taps(p, stride, pad, dil, k, &t);
        *total += (double)tconv__phase_len(p, stride, out) * (double)t.count;
    }
}

double tconv__phase_efficiency(const tconv_shape *s)
{
    double uy, ty, ux, tx;
    dim_work(s->h, s->kh, s->sh, s->ph, s->dh, s->hout, &uy, &ty);
    dim_work(s->w, s->kw, s->sw, s->pw, s->dw, s->wout, &ux, &tx);
    return ty * tx > 0 ? (uy * ux) / (ty * tx) : 1.0;
}
