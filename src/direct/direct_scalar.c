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
