/*
 * gemm.h - tconv's packed single-precision GEMM: C (+)= A * B (+ bias per row).
 *
 * The algorithm (packing formats, cache blocking) lives in gemm.c; micro-kernels live
 * in one file per ISA (ukernel_scalar.c, ukernel_avx2.c, ukernel_avx512.c, each with its
 * kernel-table entry: tile, kc, name) and are picked by ISA through tconv__gemm_kernel().
 * Every ISA kernel is tested against the scalar one and against a double-precision
 * product (tests/kernels/gemm/test_gemm.c); bench/bench_gemm.c measures them.
 *
 * Packed formats (floats, 64-byte aligned buffers recommended):
 *   packed A: ceil(M/MR) panels; panel i holds rows [i*MR, i*MR+MR) for all K:
 *             element (r, p) of the panel at panel[p*MR + r]; rows past M are zero.
 *             Panel i starts at ap + i*MR*K.
 *   packed B: ceil(N/NR) panels; panel j holds columns [j*NR, j*NR+NR) for all K:
 *             element (p, c) at panel[p*NR + c]; columns past N are zero.
 *             Panel j starts at bp + j*NR*K.
 * Because panels hold all of K, a K block [p0, p0+kc) of a panel is just an offset
 * (p0*MR or p0*NR): packing never has to be redone per K block.
 *
 * Micro-kernel contract (tconv_ukernel_fn): computes the MR x NR product of one A
 * panel slice (k x MR, at `a`) and one B panel slice (k x NR, at `b`), k >= 1, and
 * writes its top-left m x n corner (1 <= m <= MR, 1 <= n <= NR) to C, where element
 * (r, c) lives at c[r*rs_c + c*cs_c] (any strides, any sign, cs_c == 1 is the fast case):
 *   accumulate != 0:  C += A*B                     (bias not read)
 *   accumulate == 0:  C  = A*B + (bias ? bias[r] : 0)   (C not read)
 * Elements outside the m x n corner are neither read nor written, nor are bias[r] for
 * r >= m. Each C element is one chain: its accumulator starts at C (accumulate), at
 * bias[r] or at 0, and the k products are added to it in increasing p order (FMA or
 * rounded product + rounded sum, per ISA). Hence a kernel's result does not depend on
 * m, n or the position of the tile, and continuing a chain through C (a second call
 * with accumulate != 0 on the next K slice) gives the same bits as one call over both.
 *
 * Threads: tconv__gemm_compute called on pieces of M cut at multiples of MR, or of N
 * cut at multiples of NR, writes exactly the bits one call writes (each element is
 * the same chain whatever the split and whatever the K blocking).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TCONV_GEMM_H
#define TCONV_GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "../internal.h"

typedef void (*tconv_ukernel_fn)(int64_t k, const float *a, const float *b, float *c,
                                 int64_t rs_c, int64_t cs_c, int64_t m, int64_t n,
                                 const float *bias, int accumulate);

typedef struct tconv_gemm_kernel {
    int mr, nr;          /* register tile */
    int kc;              /* K block used by tconv__gemm_compute: equal blocks of at most kc
                          * (a multiple of 16), chosen for this kernel and the caches */
    tconv_isa isa;
    tconv_ukernel_fn fn;
    const char *name;    /* dtype, op, tile, ISA: "f32_gemm_8x48_avx512" */
} tconv_gemm_kernel;

/* The kernel of an ISA level (SCALAR always exists; an x86 level absent from this
 * build falls back to the best lower one; AUTO means tconv_isa_detected()). Never NULL.
 * Callers must check the CPU supports the level (tconv_isa_detected()) first. */
const tconv_gemm_kernel *tconv__gemm_kernel(tconv_isa isa);

/* Floats needed to pack an M x K A or a K x N B for this kernel. */
size_t tconv__gemm_packed_a_floats(const tconv_gemm_kernel *k, int64_t m, int64_t kdim);
size_t tconv__gemm_packed_b_floats(const tconv_gemm_kernel *k, int64_t kdim, int64_t n);

/* Packs A (M x K), element (i, p) at a[i*rs_a + p*cs_a], into dst. */
void tconv__gemm_pack_a(const tconv_gemm_kernel *k, int64_t m, int64_t kdim, const float *a,
                        int64_t rs_a, int64_t cs_a, float *dst);
/* Packs B (K x N), element (p, j) at b[p*rs_b + j*cs_b], into dst. */
void tconv__gemm_pack_b(const tconv_gemm_kernel *k, int64_t kdim, int64_t n, const float *b,
                        int64_t rs_b, int64_t cs_b, float *dst);

/* C (M x N) (+)= packed A * packed B, blocked over K by k->kc, as the micro-kernel
 * contract says (accumulate, bias). Single-threaded; callers split M or N for threads
 * (see above). `ap` and `bp` point at the first panel to use; panels are K floats deep.
 * K = 0 sets C to the bias (or 0), or leaves it (accumulate); M or N = 0 does nothing. */
void tconv__gemm_compute(const tconv_gemm_kernel *k, int64_t m, int64_t n, int64_t kdim,
                         const float *ap, const float *bp, float *c, int64_t rs_c,
                         int64_t cs_c, const float *bias, int accumulate);

/* The kernel-table entries, one per micro-kernel file; each states its tile and kc next
 * to the code that depends on them. Use tconv__gemm_kernel() rather than these. */
extern const tconv_gemm_kernel tconv__gemm_f32_4x8_scalar;
extern const tconv_gemm_kernel tconv__gemm_f32_6x16_avx2;
extern const tconv_gemm_kernel tconv__gemm_f32_8x48_avx512;

/* The micro-kernels (one per ISA file). */
void tconv__ukernel_scalar(int64_t k, const float *a, const float *b, float *c, int64_t rs_c,
                           int64_t cs_c, int64_t m, int64_t n, const float *bias,
                           int accumulate);
void tconv__ukernel_avx2(int64_t k, const float *a, const float *b, float *c, int64_t rs_c,
                         int64_t cs_c, int64_t m, int64_t n, const float *bias, int accumulate);
void tconv__ukernel_avx512(int64_t k, const float *a, const float *b, float *c, int64_t rs_c,
                           int64_t cs_c, int64_t m, int64_t n, const float *bias,
                           int accumulate);

/*
 * Indirect GEMM (igemm): packed A (MR rows per panel, MR of the igemm kernel), but B is
 * never packed. A column tile is nv <= NV vectors of 16 lanes, and row (t, ch) of B
 * (tap t, channel ch) is read from the input or a copy of it:
 *   B[(t, ch), 16v + l] = mask[v][t] has bit l ? base[v][ch*cs + off[t] + l] : 0
 * (base[v] an element address kept as an integer, as base + off may point before it;
 * a lane whose bit is clear may lie outside the input, and is read only in the channels
 * the caller marks readable (whole_lo, whole_hi), never used; no masks: every lane is
 * read).
 * A's column for (t, ch) is at a + t*a_tap + ch*MR (MR floats per column). The kernel
 * visits taps in order and, in each, channels [0, channels) in order: each element is
 * one chain in that order, starting at C (accumulate), at bias[r] or at 0, as for
 * tconv_ukernel_fn. It writes rows [0, m) x columns [0, 16*nv) of C at c[r*ldc + j].
 */
#define TCONV_IGEMM_MAX_NV 6

typedef struct tconv_igemm_b {
    uintptr_t base[TCONV_IGEMM_MAX_NV]; /* [0, nv) used */
    int64_t cs;         /* element distance between channels (unused for one channel) */
    int64_t ntaps;
    const int64_t *off; /* ntaps element offsets */
    /* Lane masks: mask[v] the ntaps masks of vector v ([0, nv) used), or mask[0] NULL:
     * none. Per vector, so that a table of every vector position's masks made once
     * (the phase path's, with its packed weights) serves every call. */
    const uint16_t *mask[TCONV_IGEMM_MAX_NV];
    /* With masks: in channels [whole_lo, whole_hi) every lane of every vector is
     * readable memory (the kernel may load all 16 and mask the multiply-adds); in the
     * others only the lanes a mask sets are. */
    int64_t whole_lo, whole_hi;
    /* Column pairs: with pair_c0 set, C is not written; instead row r of vector v goes
     * to the output, interleaved with the first phase's row r of vector v (at
     * pair_c0 + r*pair_ldc + 16v): 32 contiguous floats at pair_y[v] + r*pair_ys, the
     * first phase's value first. */
    const float *pair_c0;
    int64_t pair_ldc;
    float *pair_y[TCONV_IGEMM_MAX_NV];
    int64_t pair_ys;
} tconv_igemm_b;

typedef void (*tconv_igemm_fn)(int64_t channels, const float *a, int64_t a_tap,
                               const tconv_igemm_b *b, int nv, float *c, int64_t ldc, int64_t m,
                               const float *bias, int accumulate);

typedef struct tconv_igemm_kernel {
    int mr;              /* rows of A per call (its packing panel) */
    int nv;              /* vectors of 16 columns per call, at most */
    tconv_isa isa;
    tconv_igemm_fn fn;
    const char *name;
    /* A lane a mask clears adds a*(+0) to its chain, as the B of the contract above says,
     * rather than nothing (AVX2: no mask registers; B's lane is zeroed). The two differ
     * only for non-finite weights and for a chain at -0, which may become +0. */
    bool mask_adds_zero;
} tconv_igemm_kernel;

/* The igemm kernel of an ISA level for an A of m rows (AVX-512: the 4-row kernel when
 * m <= 4, where 8 rows would be mostly padding; AVX2: the 3-row kernel when m <= 3),
 * or NULL when that level has none (scalar: then the phase path packs B). */
const tconv_igemm_kernel *tconv__igemm_kernel(tconv_isa isa, int64_t m);
extern const tconv_igemm_kernel tconv__igemm_f32_6x1v_avx2;
extern const tconv_igemm_kernel tconv__igemm_f32_3x2v_avx2;
extern const tconv_igemm_kernel tconv__igemm_f32_8x3v_avx512;
extern const tconv_igemm_kernel tconv__igemm_f32_4x6v_avx512;

/* The body of an igemm kernel (in its ISA file; the kernel is known only through its
 * table entry above): one of four compile-time variants of its shape, shape(masked,
 * pair, channels, a, a_tap, b, nv, c, ldc, m, bias, accumulate), for the call's lane
 * masks (or none) and column pair output (or C), so that neither costs a test inside
 * the loops. */
#define TCONV_IGEMM_VARIANTS(shape)                                                        \
    do {                                                                                   \
        if (b->mask[0] && b->pair_c0)                                                      \
            shape(1, 1, channels, a, a_tap, b, nv, c, ldc, m, bias, accumulate);           \
        else if (b->mask[0])                                                               \
            shape(1, 0, channels, a, a_tap, b, nv, c, ldc, m, bias, accumulate);           \
        else if (b->pair_c0)                                                               \
            shape(0, 1, channels, a, a_tap, b, nv, c, ldc, m, bias, accumulate);           \
        else                                                                               \
            shape(0, 0, channels, a, a_tap, b, nv, c, ldc, m, bias, accumulate);           \
    } while (0)

#endif /* TCONV_GEMM_H */
