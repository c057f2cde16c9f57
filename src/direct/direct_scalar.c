/*
 * direct_scalar.c - the portable row kernel of the direct algorithm (contract in
 * direct.h). Plain C, no intrinsics: it is the kernel of every machine without an
 * x86 ISA level, and the twin the vector kernels are tested against.
 *
 * One element at a time, in the order the contract fixes (terms, then taps), with a
 * bounds test per tap: simple enough to be obviously right.
 *
 * SPDX-License-Identifier: MIT
 */
#include "direct.h"

/* Group of taps of phase p, or -1 when p has none (groups are sorted by phase). */
static int32_t find_group(const tconv_direct_cols *c, int64_t p)
{
    int32_t lo = 0, hi = c->ngroups;
    while (lo < hi) {
        int32_t mid = lo + (hi - lo) / 2;
        if (c->g_phase[mid] < p)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < c->ngroups && c->g_phase[lo] == p ? lo : -1;
}

void tconv__direct_rows_f32_scalar(const tconv_direct_cols *c, int64_t ox_begin, int64_t ox_end,
                                   const tconv_direct_rowjob *rows, int64_t nrows)
{
    for (int64_t r = 0; r < nrows; r++) {
        const tconv_direct_rowjob *job = &rows[r];
        int64_t p = ox_begin % c->sw, q = ox_begin / c->sw;
        int32_t g = find_group(c, p);
        for (int64_t ox = ox_begin; ox < ox_end; ox++) {
            float acc = job->accumulate ? job->out[ox - ox_begin] : job->init;
            if (g >= 0) {
                const int32_t b = c->g_begin[g], e = c->g_begin[g + 1];
                for (int64_t t = 0; t < job->nterms; t++) {
                    const float *x = job->terms[t].x, *w = job->terms[t].w;
                    for (int32_t i = b; i < e; i++)
                        if (q >= c->qlo[i] && q < c->qhi[i])
                            acc += x[q + c->off[i]] * w[i];
                }
            }
            job->out[ox - ox_begin] = acc;
            /* next column: phase p + 1, wrapping to phase 0 of the next q */
            if (++p == c->sw) {
                p = 0;
                q++;
            }
            if (c->sw > 1)
                g = find_group(c, p);
        }
    }
}
