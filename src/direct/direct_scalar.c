/*
 * direct_scalar.c - the portable row kernel of the direct algorithm (contract in
 * direct.h). Plain C, no intrinsics: the kernel of every machine without an x86 ISA
 * level, and the twin the vector kernels are tested against.
 *
 * The output row itself holds the running sums: it is set to the initial value, then
 * each term adds its taps in order, one tap at a time over the range of q where that
 * tap reads inside the input. Each element therefore sees exactly the contract's
 * sequence (init, then terms, then taps), there is no bounds test in the inner loop,
 * and the inner loop is a plain a[i] += b[i] * w that compilers vectorise.
 *
 * SPDX-License-Identifier: MIT
 */
#include "direct.h"

static int64_t ceil_div_any(int64_t a, int64_t b) /* b > 0, a any sign */
{
    int64_t q = a / b;
    return q + (a % b > 0);
}

void tconv__direct_rows_f32_scalar(const tconv_direct_cols *c, int64_t ox_begin, int64_t ox_end,
                                   const tconv_direct_rowjob *rows, int64_t nrows)
{
    const int64_t sw = c->sw, len = ox_end - ox_begin;
    for (int64_t r = 0; r < nrows; r++) {
        const tconv_direct_rowjob *job = &rows[r];
        float *out = job->out;
        if (!job->accumulate)
            for (int64_t i = 0; i < len; i++)
                out[i] = job->init;
        for (int32_t g = 0; g < c->ngroups; g++) {
            const int64_t p = c->g_phase[g];
            /* q with ox = p + sw*q in [ox_begin, ox_end); element q at o[sw*q] */
            const int64_t qa = ceil_div_any(ox_begin - p, sw), qz = ceil_div_any(ox_end - p, sw);
            if (qa >= qz)
                continue;
            float *o = out + (p + sw * qa - ox_begin);
            for (int64_t t = 0; t < job->nterms; t++) {
                const float *x = job->terms[t].x, *w = job->terms[t].w;
                for (int32_t i = c->g_begin[g]; i < c->g_begin[g + 1]; i++) {
                    const int64_t lo = qa > c->qlo[i] ? qa : c->qlo[i];
                    const int64_t hi = qz < c->qhi[i] ? qz : c->qhi[i];
                    const float wi = w[i];
                    const int64_t off = c->off[i];
                    if (sw == 1)
                        for (int64_t q = lo; q < hi; q++)
                            o[q - qa] += x[q + off] * wi;
                    else
                        for (int64_t q = lo; q < hi; q++)
                            o[(q - qa) * sw] += x[q + off] * wi;
                }
            }
        }
    }
}

/* Channels-last depthwise rows (direct.h): columns in order, the phase and q of each
 * stepped (no division), the phase's taps found by walking the groups (ascending). */
void tconv__direct_clrow_f32_scalar(const tconv_direct_clrow *r)
{
    const tconv_direct_cols *c = r->c;
    int64_t p = 0, q = 0;
    int32_t g = 0;
    for (int64_t ox = 0; ox < r->wout; ox++) {
        while (g < c->ngroups && c->g_phase[g] < p)
            g++;
        const bool taps = g < c->ngroups && c->g_phase[g] == p;
        for (int64_t b = 0; b < r->nb; b++) {
            float *y = r->y + ox * r->yw + 16 * b;
            const int32_t nc = b == r->nb - 1 ? r->nc : 16;
            for (int32_t l = 0; l < nc; l++) {
                float acc = r->init[16 * b + l];
                for (int64_t k = 0; taps && k < r->nky; k++)
                    for (int32_t i = c->g_begin[g]; i < c->g_begin[g + 1]; i++)
                        if (q >= c->qlo[i] && q < c->qhi[i])
                            acc += r->xrow[k][(q + c->off[i]) * r->xw + 16 * b + l] *
                                   r->wrow[k][b * r->wblock + 16 * i + l];
                y[l] = acc;
            }
        }
        if (++p == c->sw) {
            p = 0;
            q++;
            g = 0;
        }
    }
}
