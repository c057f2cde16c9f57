/*
 * phase.h - what the two halves of the stride-phase path share (private to src/lower):
 * phase.c (geometry, weight packing, the packed im2col feed, the unit loop) and
 * phase_direct.c (the direct feed: the padded input copy and the igemm tiles).
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TCONV_PHASE_H
#define TCONV_PHASE_H

#include "../gemm/gemm.h"
#include "im2col.h"
#include "lower.h"

/* One phase of the layer. */
typedef struct phase {
    int64_t py, px;
    tconv_taps ty, tx;
    int64_t hq, wq; /* outputs of the phase */
    int64_t k;      /* GEMM depth: cin_g * ty.count * tx.count (0: bias only) */
    int64_t cols;   /* n * hq * wq */
    int64_t tiles;  /* ceil(cols / nc) */
    size_t a_off;   /* floats from the start of the group's packed A */
    size_t mask_off; /* direct in place: its first vector's lane masks in the mask table */
    bool direct;    /* fed directly (igemm), else by packed im2col panels */
} phase;

/* The direct (igemm) feed reads B from a grid of the input: planes (n, c) of rows of
 * pitch wp, in which every tap of every phase is a constant offset. A phase's columns
 * are the grid's points: lane (qy, qx) of a plane, qx in [0, wp), those with qx >= wq
 * computed and discarded; 16 consecutive lanes make a vector. The grid is either
 * - flat, when no phase is wider than the input: the input's own rows (wp = W,
 *   top = gap = 0); the lanes whose tap falls outside the input are masked off per
 *   tap and vector (the mask table after the packed weights). Read in place (the
 *   input itself: its rows contiguous, a group's image small, INPLACE_BYTES) or from
 *   a copy of each plane's points as they lie in the input, zeros around them
 *   (cflat); both read the same lanes with the same masks; or
 * - zero-padded, a copy: each row a gap of zeros then the W inputs, `top` zero rows
 *   above and zeros below, so that taps outside the input read zeros with no mask.
 * No pass copies the whole input: each work unit (group, tile) first copies the part
 * of the grid its vectors read, for its group's channels, into its own slot, and reads
 * it from there (written to L2 and read back from it, never a trip to memory; no
 * pass of its own, no barrier between copy and arithmetic). A tile is either a run of
 * vectors of one image or whole images; its copy of plane (n, c) holds the flat
 * grid points [f_lo, f_hi) of the plane (see tconv__phase_copy_tile), and the planes
 * sit a number of cache lines apart that is not a multiple of 4, so that rows of
 * successive channels spread over the L1 sets. */
typedef struct copy_geom {
    int64_t top, gap;       /* zero rows above each plane; zero columns before each row */
    int64_t hp, wp;         /* padded rows and pitch */
    int64_t off_lo, off_hi; /* least and greatest tap offset of any phase (floats; flat:
                             * negative for taps above or left of a point) */
    int64_t vecs;           /* vectors per image, largest phase */
    int64_t per_tile;       /* vectors of each image a tile covers (vecs when imgs > 1) */
    int64_t tiles_per_img;  /* tiles of one image (1 when imgs > 1) */
    int64_t imgs;           /* images per tile */
    int64_t tiles;          /* tiles per group */
    int64_t cs;             /* plane stride of a tile's copy (floats) */
    int64_t whole_lo, whole_hi; /* the input channels [lo, hi) in which every lane a
                                 * vector group reads is readable (igemm's whole_lo,
                                 * whole_hi): in place (channels adjacent), those whose
                                 * reach stays in the image's channels; a flat copy,
                                 * all; zero-padded, none (no masks, never asked) */
} copy_geom;

/* The whole decomposition, a pure function of the shape and the ISA (full_geometry). */
typedef struct plan_geom {
    int nph;
    size_t a_group;  /* packed A floats per group */
    size_t bias_off; /* floats: packed bias comes after all groups' A */
    size_t masks_off; /* bytes: the lane-mask table comes after the bias (cflat) ... */
    size_t packed;    /* ... and ends the packed weights (bytes) */
    int64_t kmax;
    int64_t nc;                   /* column tile, multiple of NR */
    int64_t ldc;                  /* row stride of the C tile */
    size_t b_floats, c_floats;    /* per-slot workspace: a B panel block, the C tile */
    size_t direct_c;              /* floats of the direct feed's C blocks, per phase */
    const tconv_gemm_kernel *gk;  /* the packed feed's GEMM kernel */
    const tconv_igemm_kernel *ik; /* the direct feed's kernel, NULL: none */
    bool pairs;                   /* stride 2 across: column phases may be stored in pairs */
    copy_geom cg;                 /* the direct feed's copied grid and tiles ... */
    size_t copy_bytes;            /* ... and its copy per slot (0: no phase is fed directly) */
    bool cflat;                   /* cg is flat (pitch W, no zeros, lane masks) */
    copy_geom ig;                 /* the grid in place, valid if inplace */
    bool inplace;                 /* calls with contiguous input rows use ig */
    bool direct_only;             /* every phase with work is fed directly */
    int64_t mr;                   /* rows per panel of packed A: gk's, or ik's if only it runs */
    phase ph[TCONV_MAX_PHASES];   /* [0, nph) set: last, so that only those are written */
} plan_geom;

/* Column tile: the output a unit writes (all phases: Cout/groups x nc x phases floats)
 * stays in L2 (2 MiB per core on the machines we tune for) until every phase has
 * written its part of each cache line. */
#define UNIT_OUT_BYTES (1024 * 1024)
#define MAX_NC         1024
/* Work units both feeds aim for (tiles x groups), so that two or more threads end
 * together. */
#define MIN_UNITS 32
/* The direct feed computes up to DIRECT_ROWS rows of C (output channels) per pass over
 * a vector group, each channel block of B serving every row panel of the pass before
 * the next block (so that it is read from memory once per pass, not once per panel),
 * while the panels' C blocks wait in the slot. Rows of C per pass times 16*NV:
 * direct_c of plan_geom. A pass is the most whole row panels of the kernel's MR that
 * fit (64 rows for MR 8 and 4, 60 and 63 for the AVX2 kernels' 6 and 3):
 * tconv__phase_pass_rows. */
#define DIRECT_ROWS 64

static inline int64_t tconv__phase_pass_rows(int64_t mr)
{
    return DIRECT_ROWS / mr * mr;
}

/* The largest copy a unit makes (bytes, per thread): tiles of many channels or wide
 * rows are cut shorter to stay within it (the copy must stay in L2 beside the A panels
 * it is multiplied with); if even one vector group does not fit, the packed feed runs. */
#define COPY_SLOT_BYTES (512 * 1024)
/* A unit's copy reads each plane's rows of its tile; where those are at most
 * COPY_PREFETCH_MAX lines, the next planes' lines are prefetched, COPY_PREFETCH_LINES
 * ahead (a tile of a few rows of one image: each plane's run is too short, in a page of
 * its own, for the hardware prefetchers to start on; whole small planes one after
 * another are a stream they follow, and prefetching those only cost instructions). */
#define COPY_PREFETCH_LINES 16
#define COPY_PREFETCH_MAX   32

/* A group's packed A (all phases) above this many bytes does not stay in L2 beside a
 * unit's input and output: when the input is read in place and every phase is fed
 * directly, work units become (group, row block, tile), row blocks of at most this
 * many bytes, consecutive units sharing a row block, so that each thread keeps its
 * block in L2 over many tiles instead of reading all of A from L3 for every tile
 * (the input is read once per row block instead). dcgan2 (8.4 MB of A, 2 MB of
 * input; 32-row blocks): 1.05-1.07x at 1 thread and 1.01-1.03x at 2 in crowded
 * minutes (processes alternated), 1.00-1.04x at 1 and 1.03-1.07x (minima; medians
 * equal) at 2 in quiet ones; 16- and 64-row blocks within 1-3% of 32, either side
 * (noise); dcgan3 (2.1 MB of A, 64-row blocks) measured 0.99-1.01x when it was read in
 * place (it copies now). Layers that copy their input would redo the copy per row
 * block, so they keep whole A (with blocks, processes alternated, 1 and 2 threads:
 * unet_up1 0.97-0.98x, dcgan3 0.98-0.99x). */
#define A_BLOCK_BYTES (1024 * 1024)

/* Directly fed phases (igemm): K steps per call, in whole channels, counted on the
 * phase of a column pair with more taps (both phases share the channel blocks); the C
 * block is reloaded once per block (measured on dcgan4, unet_up2, s1_k3 with an earlier,
 * lane-masked version of the kernel: 64 lost 5-15%, 256 and 512 were within noise;
 * not remeasured since); and the least fraction of vector lanes that must hold
 * real columns (rows much narrower than a vector waste lanes; the packed feed wastes
 * none). */
#define KBLOCK_DIRECT 256
#define MIN_LANE_USE  0.9
/* ...unless A has few rows: packing costs in proportion to 1/M (each packed element
 * serves M multiply-adds), so at M <= 32 it costs more than a quarter of spare lanes
 * (measured: small_b1, M = 16, 80% lanes: direct 1.2-1.5x faster; dcgan3, M = 128,
 * 80% lanes: direct 0.9x). */
#define SMALL_M              32
#define MIN_LANE_USE_SMALL_M 0.75
/* The flat grid is the input in place when one image's channels of a group (what the
 * tiles of a group read, rows contiguous) fit in L1 beside A and C: then the copy buys
 * nothing and costs its writes (small_b1 1.19x, fcn_up 1.12x at 1 thread). Larger
 * inputs read in place ran 0.74-0.88x of the flat copy (s1_k3 0.74, unet_up2 0.81,
 * dcgan4 0.85, grp4 0.88: one A/B at 1 thread; dcgan3 0.93, 1.03 and 1.22 in three at
 * 1 thread, the 1.22 crowded, 0.94-0.99 at 2: unresolved, it copies). The worst
 * have channel strides that are multiples of 4 KiB, which would put every channel's
 * vectors in the same L1 sets (the copy's plane stride avoids that); this machine has
 * no cache counters to confirm it. */
#define INPLACE_BYTES (32 * 1024)
/* Taps reaching further than this outside the input take the packed path (the copy
 * would be mostly zeros). */
#define LIMIT 64
/* Grids whose points or tap offsets exceed this many floats take the packed path: every
 * figure derived from a grid (offsets, reach, vectors, copy strides, a tile's vectors
 * over its images) then fits int64 with room to spare. Only views with absurd widths
 * or dilations (e.g. taps 2^60 rows away, which read nothing) come near it. */
#define GRID_MAX ((int64_t)1 << 58)

typedef tconv_im2col_seg seg;

/* Per-thread scratch: input copy | B tile | C tile | runs | first run of each panel | taps. */
typedef struct slot_layout {
    size_t copy, b, c, c2, segs, starts, taps, total; /* c2: a packed column pair's second
                                                       * tile */
} slot_layout;

/* How the B columns of a phase are fed to the GEMM. */
typedef struct phase_feed {
    bool direct;  /* igemm from the unit's copy of the grid (else: packed im2col panels) */
    int64_t vecs; /* direct: vectors per image */
    int64_t tiles; /* tiles of the unit loop */
} phase_feed;

typedef struct run_ctx {
    const tconv_run_args *a;
    const tconv_lower_kernels *lk; /* panel packer, stores, grid copy */
    plan_geom g;
    slot_layout l;
    phase_feed feed[TCONV_MAX_PHASES];
    bool inplace; /* the direct feed reads the input in place (grid g.ig), else copies (g.cg) */
    int64_t tiles;      /* tiles per group: the most any phase has */
    int64_t block_rows; /* rows of A (output channels) per unit: a multiple of MR, or all */
    int64_t units_per_group; /* row blocks x tiles */
} run_ctx;

/* The part of the grid a direct tile covers: images [n0, n0 + nimg), vectors
 * [vlo, vhi) of each (a phase with fewer vectors stops at its own count). */
typedef struct tile_span {
    int64_t n0, nimg, vlo, vhi;
} tile_span;

/* The columns of a directly fed phase are vectors of VW lanes: 16 consecutive points of
 * one image's plane in the copy's grid (pitch wp; see copy_geom). */
enum { VW = 16 };

/* The output distance between neighbouring columns of phase p: stride * column
 * stride. 0 for a phase one column wide, whose step is never taken: there the column
 * stride may be anything (a dimension of size 1), and the product overflow. */
static inline int64_t tconv__phase_column_step(const tconv_problem *pb, const phase *p)
{
    return p->wq > 1 ? pb->s.sw * pb->ys[3] : 0;
}

/* ------------------------------------------------------------ phase_direct.c */

/* Vectors per image of a directly fed phase on grid c. */
int64_t tconv__phase_vectors_per_image(const phase *p, const copy_geom *c);
/* The direct feed of g (phases, ik set): which phases it takes (ph[i].direct), its
 * grids and tiles (cg; ig and inplace); returns the bytes of a unit's copy, 0 when no
 * phase is fed directly. A pure function of the shape: a call whose input rows are not
 * contiguous copies (cg) where others read in place (ig), with the same phases. */
size_t tconv__phase_direct_geometry(const tconv_shape *s, plan_geom *g);
/* The lane masks of the in-place vector starting at point f0 of an image for phase p:
 * mask[t] for tap t (ty-major), bit l set when lane l's tap lies inside the input. */
void tconv__phase_lane_masks(const tconv_shape *s, const phase *p, int64_t f0, uint16_t *mask);
/* Does this call read its input in place (g->inplace and contiguous rows)? */
bool tconv__phase_use_inplace(const tconv_problem *pb, const plan_geom *g);
/* The images and vectors of direct tile t. */
tile_span tconv__phase_tile_span(const copy_geom *c, int64_t n, int64_t t);
/* The part of the grid that tile t of group gi reads, into the slot's copy. */
void tconv__phase_copy_tile(const run_ctx *r, int64_t gi, int64_t t, char *slot);
/* Rows [m0, m1) of A (m0 a multiple of MR) times tile t of directly fed phase q0 (and
 * q1 >= 0, stored as a column pair), from the slot's copy or the input in place. */
void tconv__phase_direct_tile(run_ctx *r, int64_t gi, int q0, int q1, int64_t t, int64_t m0,
                              int64_t m1, char *slot);

#endif /* TCONV_PHASE_H */
