/*
 * gemm.c - the portable half of tconv's packed SGEMM: the kernel table, packing into
 * the panel formats of gemm.h, and the cache-blocked driver around the micro-kernels.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "gemm.h"

const tconv_gemm_kernel *tconv__gemm_kernel(tconv_isa isa)
{
    if (isa == TCONV_ISA_AUTO)
        isa = tconv_isa_detected();
    /* Portable first, then each ISA level this build has overrides it in rising order. */
    const tconv_gemm_kernel *k = &tconv__gemm_f32_4x8_scalar;
#if TCONV_HAVE_X86_KERNELS
    if (isa >= TCONV_ISA_AVX2)
        k = &tconv__gemm_f32_6x16_avx2;
    if (isa >= TCONV_ISA_AVX512)
        k = &tconv__gemm_f32_8x48_avx512;
#endif
    return k;
}

const tconv_igemm_kernel *tconv__igemm_kernel(tconv_isa isa, int64_t m)
{
    if (isa == TCONV_ISA_AUTO)
        isa = tconv_isa_detected();
#if TCONV_HAVE_X86_KERNELS
    if (isa >= TCONV_ISA_AVX512)
        return m <= 4 ? &tconv__igemm_f32_4x6v_avx512 : &tconv__igemm_f32_8x3v_avx512;
    if (isa >= TCONV_ISA_AVX2)
        return m <= 3 ? &tconv__igemm_f32_3x2v_avx2 : &tconv__igemm_f32_6x1v_avx2;
#else
    (void)m;
#endif
    return NULL;
}

static size_t packed_floats(int64_t len, int64_t width, int64_t kdim)
{
    const int64_t panels = (len + width - 1) / width;
    return (size_t)panels * (size_t)width * (size_t)kdim;
}

size_t tconv__gemm_packed_a_floats(const tconv_gemm_kernel *k, int64_t m, int64_t kdim)
{
    return packed_floats(m, k->mr, kdim);
}

size_t tconv__gemm_packed_b_floats(const tconv_gemm_kernel *k, int64_t kdim, int64_t n)
{
    return packed_floats(n, k->nr, kdim);
}

/* Panels packed together from a row-major source (see pack_panels). Measured on a
 * 1024 x 4096 .. 512 x 16384 B: 8 to 16 panels beat 1 (one panel at a time reads a
 * 192-byte run from each of kdim pages) by 0..15% and all panels at once (hundreds of
 * write streams) by up to 2x; for small cache-resident B all are within 20%. */
enum { PACK_GROUP = 16 };

/* Packing A and packing B are the same operation seen from the panel's side: `len`
 * lines of `kdim` elements, element (line i, depth p) at x[i*s_line + p*s_depth], cut into
 * panels of `width` lines stored depth-major (panel[p*width + r]), the last panel padded
 * with zero lines so that the micro-kernel never needs to know where the matrix ends. */
static void pack_panels(int64_t width, int64_t len, int64_t kdim, const float *x, int64_t s_line,
                        int64_t s_depth, float *dst)
{
    const int64_t panels = (len + width - 1) / width, tail = len - (panels - 1) * width;
    if (s_line == 1) {
        /* Row-major B (an im2col matrix) or column-major A: a depth step of a panel is
         * one contiguous run. Depth outside a group of panels: each step reads one run
         * of PACK_GROUP * width floats and appends to PACK_GROUP sequential streams. */
        for (int64_t i0 = 0; i0 < panels; i0 += PACK_GROUP) {
            const int64_t i1 = i0 + PACK_GROUP < panels ? i0 + PACK_GROUP : panels;
            const int64_t full_end = i1 < panels ? i1 : panels - 1; /* the last may be short */
            for (int64_t p = 0; p < kdim; p++) {
                const float *src = x + p * s_depth;
                float *d = dst + p * width;
                for (int64_t i = i0; i < full_end; i++)
                    memcpy(d + i * width * kdim, src + i * width, (size_t)width * sizeof(float));
                if (full_end < i1) {
                    float *dl = d + full_end * width * kdim;
                    memcpy(dl, src + full_end * width, (size_t)tail * sizeof(float));
                    memset(dl + tail, 0, (size_t)(width - tail) * sizeof(float));
                }
            }
        }
        return;
    }
    for (int64_t i = 0; i < panels; i++) {
        const int64_t w = i == panels - 1 ? tail : width;
        const float *src = x + i * width * s_line;
        float *panel = dst + i * width * kdim;
        for (int64_t p = 0; p < kdim; p++) {
            float *d = panel + p * width;
            const float *sp = src + p * s_depth;
            for (int64_t r = 0; r < w; r++)
                d[r] = sp[r * s_line];
            for (int64_t r = w; r < width; r++)
                d[r] = 0.0f;
        }
    }
}

void tconv__gemm_pack_a(const tconv_gemm_kernel *k, int64_t m, int64_t kdim, const float *a,
                        int64_t rs_a, int64_t cs_a, float *dst)
{
    pack_panels(k->mr, m, kdim, a, rs_a, cs_a, dst);
}

void tconv__gemm_pack_b(const tconv_gemm_kernel *k, int64_t kdim, int64_t n, const float *b,
                        int64_t rs_b, int64_t cs_b, float *dst)
{
    pack_panels(k->nr, n, kdim, b, cs_b, rs_b, dst);
}

/* The A block (up to mc rows x kc) that stays in L2 while every B slice of its K block
 * passes over it: half of Sapphire Rapids' 2 MiB L2, the rest left to the B slice in use
 * (kc x NR), the C tiles and the prefetchers' lines. */
enum { A_BLOCK_BYTES = 1 << 20 };

/* Brings the C tile of the next kernel call into L1 while this one computes: when the
 * next call accumulates, its first FMAs wait for those C values, which are usually in L3
 * by then (C is revisited once per K block); when it overwrites, its stores would wait
 * for the lines (read for ownership) just the same. Only for row-major C, the case
 * worth tuning. */
static void prefetch_c_tile(const float *c, int64_t rs_c, int64_t rows, int64_t cols)
{
#if defined(__GNUC__) || defined(__clang__)
    for (int64_t r = 0; r < rows; r++)
        for (int64_t j = 0; j < cols; j += 64 / (int64_t)sizeof(float))
            __builtin_prefetch(c + r * rs_c + j, 0, 3);
#else
    (void)c;
    (void)rs_c;
    (void)rows;
    (void)cols;
#endif
}

void tconv__gemm_compute(const tconv_gemm_kernel *k, int64_t m, int64_t n, int64_t kdim,
                         const float *ap, const float *bp, float *c, int64_t rs_c, int64_t cs_c,
                         const float *bias, int accumulate)
{
    const int64_t mr = k->mr, nr = k->nr;
    if (m <= 0 || n <= 0)
        return;
    if (kdim <= 0) {
        /* No products: C keeps its value or becomes the bias (or zero). */
        if (!accumulate)
            for (int64_t i = 0; i < m; i++)
                for (int64_t j = 0; j < n; j++)
                    c[i * rs_c + j * cs_c] = bias ? bias[i] : 0.0f;
        return;
    }
    const int64_t m_panels = (m + mr - 1) / mr, n_panels = (n + nr - 1) / nr;

    /* Equal K blocks no longer than kc (K = 1100 is 2 x 560, not 1024 + 76), rounded up
     * to 16 floats so that every slice starts 64-byte aligned whatever MR and NR are.
     * The result does not depend on the blocking: the kernels continue one chain
     * through C. */
    const int64_t k_blocks = (kdim + k->kc - 1) / k->kc;
    int64_t kcb = (kdim + k_blocks - 1) / k_blocks;
    kcb = (kcb + 15) / 16 * 16;
    int64_t mc_panels = A_BLOCK_BYTES / ((int64_t)sizeof(float) * kcb * mr);
    if (mc_panels < 1)
        mc_panels = 1;

    for (int64_t p0 = 0; p0 < kdim; p0 += kcb) {
        const int64_t kb = kdim - p0 < kcb ? kdim - p0 : kcb;
        const int acc = p0 == 0 ? accumulate : 1;
        for (int64_t i0 = 0; i0 < m_panels; i0 += mc_panels) {
            const int64_t i1 = i0 + mc_panels < m_panels ? i0 + mc_panels : m_panels;
            /* Each B slice (kc x NR) meets every A panel of the block in turn. A is
             * the operand with fewer bytes per FMA (MR floats per k, against NR), so it
             * is the one that streams: the A block is reread from L2 once per B slice,
             * and each B slice is fetched from wherever the caller left it (L2, L3,
             * DRAM) once per A block. The other order (A panel outside, B slices
             * streaming) moves NR/MR times more bytes per FMA (6x for 8x48); alone on
             * a core it measured within +-3% of this one, but it leans harder on the
             * L2 and L3 bandwidth that a second busy core shares. */
            for (int64_t j = 0; j < n_panels; j++) {
                const float *b_sl = bp + j * nr * kdim + p0 * nr;
                const int64_t nn = n - j * nr < nr ? n - j * nr : nr;
                for (int64_t i = i0; i < i1; i++) {
                    const int64_t mm = m - i * mr < mr ? m - i * mr : mr;
                    if (cs_c == 1) {
                        /* The next tile down, or the top of the next column. */
                        const int64_t ni = i + 1 < i1 ? i + 1 : i0, nj = i + 1 < i1 ? j : j + 1;
                        if (nj < n_panels)
                            prefetch_c_tile(c + ni * mr * rs_c + nj * nr, rs_c,
                                            m - ni * mr < mr ? m - ni * mr : mr,
                                            n - nj * nr < nr ? n - nj * nr : nr);
                    }
                    k->fn(kb, ap + i * mr * kdim + p0 * mr, b_sl, c + i * mr * rs_c + j * nr * cs_c,
                          rs_c, cs_c, mm, nn, acc || !bias ? NULL : bias + i * mr, acc);
                }
            }
        }
    }
}
