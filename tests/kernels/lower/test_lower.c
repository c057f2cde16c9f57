/*
 * test_lower.c - the phase path's per-ISA helpers (tconv__lower_kernels; contracts in
 * src/lower/im2col.h) at every ISA level this machine has, element by element against
 * the formulas of their contracts, on random geometries:
 *   - the direct feed's grid copy: every point of a range of a plane's grid, from
 *     contiguous and strided inputs, with sentinels before and after the range (nothing
 *     written outside it) and the input surrounded by NaN that a read outside the
 *     plane would carry into the copy;
 *   - the C-tile stores (one run; a pair of column phases): each output element
 *     written once from its C element, the elements between untouched.
 *
 * SPDX-License-Identifier: MIT
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lower/im2col.h"
#include "testutil.h"

static const float SENTINEL = -12345.0f;

static void test_grid_copy(void **state)
{
    (void)state;
    tu_rng r = tu_rng_seed(31);
    for (int isa = TCONV_ISA_SCALAR; isa <= (int)tconv_isa_detected(); isa++) {
        const tconv_grid_copy_fn fn = tconv__lower_kernels((tconv_isa)isa)->grid_copy;
        for (int it = 0; it < 2000; it++) {
            const int64_t h = tu_range(&r, 1, 9), w = tu_range(&r, 1, 40);
            const int64_t gap = tu_range(&r, 0, 5), top = tu_range(&r, 0, 4);
            const int64_t wp = w + gap, xs3 = tu_range(&r, 0, 3) == 0 ? 3 : 1;
            const int64_t xs2 = w * xs3 + tu_range(&r, 0, 7);
            /* the plane, with NaN around and between its elements */
            const int64_t pad = 64, len = h * xs2 + 2 * pad;
            float *buf = malloc((size_t)len * sizeof(float));
            for (int64_t i = 0; i < len; i++)
                buf[i] = NAN;
            const float *x = buf + pad;
            for (int64_t iy = 0; iy < h; iy++)
                for (int64_t ix = 0; ix < w; ix++)
                    buf[pad + iy * xs2 + ix * xs3] = tu_uniform(&r);
            /* a range of grid points, from any point, into any number of rows below */
            const int64_t f = tu_range(&r, 0, (top + h + 2) * wp);
            const int64_t f_end = f + tu_range(&r, 0, (top + h + 3) * wp);
            const int64_t n = f_end - f;
            float *dst = malloc((size_t)(n + 32) * sizeof(float));
            for (int64_t i = 0; i < n + 32; i++)
                dst[i] = SENTINEL;
            fn(dst + 16, x, xs2, xs3, h, top, gap, wp, f, f_end);
            for (int64_t i = 0; i < 16; i++) {
                assert_true(dst[i] == SENTINEL);
                assert_true(dst[16 + n + i] == SENTINEL);
            }
            for (int64_t i = 0; i < n; i++) {
                const int64_t pr = (f + i) / wp, pc = (f + i) % wp, iy = pr - top;
                const float want =
                    iy >= 0 && iy < h && pc >= gap ? x[iy * xs2 + (pc - gap) * xs3] : 0.0f;
                if (!(dst[16 + i] == want))
                    fail_msg("%s: grid copy h=%lld w=%lld gap=%lld top=%lld xs2=%lld xs3=%lld "
                             "[%lld, %lld): point %lld is %g, want %g",
                             tconv_isa_name((tconv_isa)isa), (long long)h, (long long)w,
                             (long long)gap, (long long)top, (long long)xs2, (long long)xs3,
                             (long long)f, (long long)f_end, (long long)(f + i),
                             (double)dst[16 + i], (double)want);
            }
            free(dst);
            free(buf);
        }
    }
}

static void test_stores(void **state)
{
    (void)state;
    tu_rng r = tu_rng_seed(37);
    for (int isa = TCONV_ISA_SCALAR; isa <= (int)tconv_isa_detected(); isa++) {
        const tconv_phase_store_fn store = tconv__lower_kernels((tconv_isa)isa)->store;
        const tconv_pair_store_fn pair = tconv__lower_kernels((tconv_isa)isa)->pair_store;
        for (int it = 0; it < 1000; it++) {
            /* every other case channels last: a point's channels adjacent (ys_co = 1),
             * points at least m apart (m beyond 16 too) */
            const bool cl = it % 2 == 1;
            const int64_t m = tu_range(&r, 1, cl ? 20 : 9), len = tu_range(&r, 0, 70);
            const int64_t ldc = len + tu_range(&r, 0, 20);
            const int64_t step = cl ? m + tu_range(&r, 0, 3) : tu_range(&r, 1, 4);
            const int64_t ys_co = cl ? 1 : 2 * len * step + tu_range(&r, 1, 9);
            /* C tiles: m rows of ldc, and the 15 readable floats the contract asks */
            const int64_t clen = m * ldc + 16;
            float *c0 = malloc((size_t)clen * sizeof(float));
            float *c1 = malloc((size_t)clen * sizeof(float));
            for (int64_t i = 0; i < clen; i++) {
                c0[i] = tu_uniform(&r);
                c1[i] = tu_uniform(&r);
            }
            const int64_t ylen = m * ys_co + 2 * len * step + 32;
            float *y = malloc((size_t)ylen * sizeof(float));
            for (int pass = 0; pass < (cl ? 1 : 2); pass++) {
                for (int64_t i = 0; i < ylen; i++)
                    y[i] = SENTINEL;
                if (pass == 0)
                    store(y + 16, ys_co, step, c0, ldc, m, len);
                else
                    pair(y + 16, ys_co, c0, c1, ldc, m, len);
                /* expected: each written element once, the rest untouched */
                for (int64_t i = 0; i < ylen; i++) {
                    float want = SENTINEL;
                    const int64_t e = i - 16;
                    if (e >= 0 && cl) {
                        const int64_t t = e / step, co = e % step;
                        if (co < m && t < len)
                            want = c0[co * ldc + t];
                    } else if (e >= 0) {
                        const int64_t co = e / ys_co, col = e % ys_co;
                        if (co < m && pass == 0 && col % step == 0 && col / step < len)
                            want = c0[co * ldc + col / step];
                        if (co < m && pass == 1 && col < 2 * len)
                            want = (col % 2 ? c1 : c0)[co * ldc + col / 2];
                    }
                    if (!(y[i] == want))
                        fail_msg("%s: %s m=%lld len=%lld ldc=%lld step=%lld ys_co=%lld: "
                                 "element %lld is %g, want %g",
                                 tconv_isa_name((tconv_isa)isa), pass ? "pair store" : "store",
                                 (long long)m, (long long)len, (long long)ldc, (long long)step,
                                 (long long)ys_co, (long long)(i - 16), (double)y[i],
                                 (double)want);
                }
            }
            free(y);
            free(c0);
            free(c1);
        }
    }
}

int main(void)
{
    printf("phase path helpers: ISA levels scalar..%s\n", tconv_isa_name(tconv_isa_detected()));
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_grid_copy),
        cmocka_unit_test(test_stores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
