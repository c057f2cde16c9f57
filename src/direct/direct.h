/*
 * direct.h - the direct (gather) kernel for depthwise and few-channels-per-group
 * transposed convolutions: every output element is computed once, as
 *   y[n, co, oy, ox] = bias[co] + sum over ci in co's group, ky, kx with
 *                      iy = (oy + ph - ky*dh) / sh and ix = (ox + pw - kx*dw) / sw
 *                      exact and inside the input, of x[n, ci, iy, ix] * w[ci, co%cout_g, ky, kx]
 * (no scatter, no workspace), vectorised along the output width.
 *
 * Work is split into independent tasks; each task writes a disjoint set of output
 * elements, each exactly once, so any number of threads gives bit-identical results.
 * The summation order for one output element is fixed: ci ascending, then ky, then kx
 * ascending, starting from the bias (or 0).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TCONV_DIRECT_H
#define TCONV_DIRECT_H

#include "../internal.h"

/* Number of tasks for this shape (>= 1 when the output is non-empty, 0 when N == 0). */
int64_t tconv__direct_tasks(const tconv_shape *s);

/* Runs task t in [0, tconv__direct_tasks()) with the micro-kernels of `isa`
 * (falls back to the best lower level present in this build). Any strides. */
void tconv__direct_task(const tconv_problem *pb, tconv_isa isa, int64_t t);

/* Per-ISA row kernels live in direct_scalar.c and ../x86/direct_avx2.c,
 * ../x86/direct_avx512.c; their signatures are private to those files and direct.c. */

#endif /* TCONV_DIRECT_H */
