/*
 * ref.c - the reference transposed convolution: the executable specification.
 *
 * Plain scatter-add, deliberately unoptimised. Each input pixel x[n, ci, iy, ix] is
 * multiplied by the kernel slice w[ci, co, :, :] and added into the output at
 *   oy = iy*stride_h - pad_h + ky*dil_h,   ox = ix*stride_w - pad_w + kx*dil_w
 * for every output channel co of ci's group, dropping positions outside the output.
 * The output starts as the bias (or zero). Accumulation is in float, in loop order
 * (n, g, ci, iy, ix, co, ky, kx). Every fast path is tested against this function.
 *
 * SPDX-License-Identifier: MIT
 */
#include "../algo.h"

void tconv__ref_convtranspose2d(const tconv_problem *pb)
{
    const tconv_shape *s = &pb->s;

    for (int64_t n = 0; n < s->n; n++)
        for (int64_t co = 0; co < s->cout; co++) {
            float init = s->has_bias ? pb->b[co * pb->bs] : 0.0f;
            for (int64_t oy = 0; oy < s->hout; oy++)
                for (int64_t ox = 0; ox < s->wout; ox++)
                    pb->y[n * pb->ys[0] + co * pb->ys[1] + oy * pb->ys[2] + ox * pb->ys[3]] = init;
        }

    for (int64_t n = 0; n < s->n; n++)
        for (int64_t g = 0; g < s->groups; g++)
            for (int64_t cig = 0; cig < s->cin_g; cig++) {
                int64_t ci = g * s->cin_g + cig;
                for (int64_t iy = 0; iy < s->h; iy++)
                    for (int64_t ix = 0; ix < s->w; ix++) {
                        float xv = pb->x[n * pb->xs[0] + ci * pb->xs[1] + iy * pb->xs[2] +
                                         ix * pb->xs[3]];
                        for (int64_t cog = 0; cog < s->cout_g; cog++) {
                            int64_t co = g * s->cout_g + cog;
                            for (int64_t ky = 0; ky < s->kh; ky++) {
                                int64_t oy = iy * s->sh - s->ph + ky * s->dh;
                                if (oy < 0 || oy >= s->hout)
                                    continue;
                                for (int64_t kx = 0; kx < s->kw; kx++) {
                                    int64_t ox = ix * s->sw - s->pw + kx * s->dw;
                                    if (ox < 0 || ox >= s->wout)
                                        continue;
                                    float wv = pb->wt[ci * pb->ws[0] + cog * pb->ws[1] +
                                                      ky * pb->ws[2] + kx * pb->ws[3]];
                                    pb->y[n * pb->ys[0] + co * pb->ys[1] + oy * pb->ys[2] +
                                          ox * pb->ys[3]] += xv * wv;
                                }
                            }
                        }
                    }
            }
}

/* The reference as an algorithm: no packing, no workspace, single-threaded. */
static bool ref_supports(const tconv_shape *s, const char **why)
{
    (void)s;
    (void)why;
    return true;
}

static void ref_run(const tconv_run_args *a)
{
    tconv__ref_convtranspose2d(a->pb);
}

const tconv_algo_impl tconv__algo_reference = {
    .id = TCONV_ALGO_REFERENCE,
    .supports = ref_supports,
    .packed_bytes = NULL,
    .pack = NULL,
    .workspace_bytes = NULL,
    .run = ref_run,
};
