/*
 * lower.h - lowering transposed convolution onto the packed GEMM (src/gemm):
 * stride-phase geometry shared by the phase path (phase.c), the col2im path
 * (col2im.c) and the algorithm choice (select.c).
 *
 * Stride phases. Output row oy = py + sh*qy belongs to phase py in [0, sh). A kernel row
 * ky contributes to it only if (py + ph - ky*dh) is a multiple of sh, and then reads
 * input row iy = qy + (py + ph - ky*dh)/sh. The valid ky of a phase form an arithmetic
 * progression (step sh/gcd(sh, dh)), and every ky belongs to exactly one phase, so the
 * phases split the kernel without multiplying by the zeros a dilated input would hold.
 * Each phase is a plain correlation: out_phase = W_phase (x) x, one GEMM.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TCONV_LOWER_H
#define TCONV_LOWER_H

#include "../algo.h"

/* The taps of one phase along one dimension. */
typedef struct tconv_taps {
    int64_t count; /* number of kernel positions in this phase (0: none) */
    int64_t first; /* first kernel index k */
    int64_t step;  /* k step between taps */
    int64_t d0;    /* input offset of the first tap: i = q + d0 + t*dstep */
    int64_t dstep;
} tconv_taps;

void tconv__phase_taps(int64_t phase, int64_t stride, int64_t pad, int64_t dil, int64_t k,
                       tconv_taps *t);

/* Number of outputs of phase `phase` in a dimension of `out` outputs. */
static inline int64_t tconv__phase_len(int64_t phase, int64_t stride, int64_t out)
{
    return phase < out ? (out - phase + stride - 1) / stride : 0;
}

/* Fraction of the phase GEMMs' multiply-adds that touch a real input (the rest multiply
 * the zeros of out-of-range taps at the borders). 1.0 for interior-dominated layers;
 * tiny inputs with big kernels (e.g. 1x1 -> 4x4) score low. */
double tconv__phase_efficiency(const tconv_shape *s);

/* Largest number of phases the phase path accepts (sh*sw); beyond it most phases are
 * empty and col2im is the better lowering anyway. */
#define TCONV_MAX_PHASES 64

/* Does the phase path feed every phase of this shape straight from a copy of the input
 * (igemm, no im2col) at this ISA? Pure; the algorithm choice asks it. */
bool tconv__phase_direct_only(const tconv_shape *s, tconv_isa isa);

/* The direct feed's tiles for this shape at this ISA (tests check that each way of
 * cutting them is exercised): images per tile, tiles per image and vectors per tile
 * (an image's when whole images); all 0 when no phase is fed directly. Pure. */
void tconv__phase_direct_tiles(const tconv_shape *s, tconv_isa isa, int64_t *imgs,
                               int64_t *tiles_per_img, int64_t *per_tile);

/* Does the direct feed read the input in place for this shape at this ISA (when the
 * call's input rows are contiguous), rather than from copies? Pure. */
bool tconv__phase_direct_inplace(const tconv_shape *s, tconv_isa isa);
/* Are the direct feed's copies flat (the input's own pitch, lane masks at the borders)
 * rather than zero-padded (a phase wider than the input)? Pure. */
bool tconv__phase_copies_flat(const tconv_shape *s, tconv_isa isa);
/* Does this call (its strides too) read its input in place? */
bool tconv__phase_call_inplace(const tconv_problem *pb, tconv_isa isa);
/* Output channels of a group per work unit of this call (Cout/groups unless its packed
 * weights are split into row blocks that each stay in L2; 0 if the path does not take
 * the shape). */
int64_t tconv__phase_block_rows(const tconv_problem *pb, tconv_isa isa);

extern const tconv_algo_impl tconv__algo_phase_gemm;
extern const tconv_algo_impl tconv__algo_gemm_col2im;

#endif /* TCONV_LOWER_H */
