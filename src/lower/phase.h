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
} phase;

/* The direct (igemm) feed reads B from a zero-padded copy of the input, made once per
 * call: planes (n, c) of hp x wp floats, each row a gap of zeros then the W inputs, with
 * `top` zero rows above and enough below, so that every tap of every phase reads zeros
 * outside the input without a bounds check or a lane mask. A phase's columns are then
 * the copy's grid: lane (qy, qx) of a plane, qx in [0, wp), the columns qx >= wq being
 * computed and discarded. Planes sit a number of cache lines apart that is not a
 * multiple of 4: rows of successive channels spread over at least 32 of the 64 L1 sets
 * (at a 4 KiB plane stride they would all fall into one). The copy costs one pass over
 * the input where im2col copied it once per tap; it is used only when it is at most
 * MAX_COPY of the output (transposed convolutions usually grow their input), so that
 * with the per-thread tiles the extra memory stays below the output's size. */
typedef struct copy_geom {
    int64_t top, gap; /* zero rows above each plane; zero columns before each row */
    int64_t hp, wp;   /* padded rows and pitch */
    int64_t cs;       /* plane stride (floats) */
    int64_t tail;     /* slack after the last plane for its spare lanes (floats) */
    int64_t chunk;    /* images copied at a time (set by tconv__phase_copy_bytes) */
} copy_geom;

/* The whole decomposition, a pure function of the shape and the ISA (full_geometry). */
typedef struct plan_geom {
    phase ph[TCONV_MAX_PHASES];
    int nph;
    size_t a_group;  /* packed A floats per group */
    size_t bias_off; /* floats: packed bias comes after all groups' A */
    int64_t kmax;
    int64_t nc;                   /* column tile, multiple of NR */
    int64_t ldc;                  /* row stride of the C tile */
    size_t b_floats, c_floats;    /* per-slot workspace: a B panel block, the C tile */
    const tconv_gemm_kernel *gk;  /* the packed feed's GEMM kernel */
    const tconv_igemm_kernel *ik; /* the direct feed's kernel, NULL: none */
    bool pairs;                   /* stride 2 across: column phases may be stored in pairs */
    copy_geom cg;                 /* the direct feed's input copy ... */
    size_t copy_bytes;            /* ... its bytes (0: no phase is fed directly) */
    bool direct_only;             /* every phase with work is fed directly */
    int64_t mr;                   /* rows per panel of packed A: gk's, or ik's if only it runs */
} plan_geom;

/* Column tile: the output a unit writes (all phases: Cout/groups x nc x phases floats)
 * stays in L2 (2 MiB per core on the machines we tune for) until every phase has
 * written its part of each cache line. */
#define UNIT_OUT_BYTES (1024 * 1024)
#define MAX_NC         1024
/* Work units both feeds aim for (tiles x groups), so that two or more threads end
 * together. */
#define MIN_UNITS 32
/* Floats of one C block of the direct feed: MR x 16*NV of either igemm kernel. */
#define DIRECT_C_BLOCK (8 * 48)

/* Directly fed phases (igemm): K steps per call, in whole channels; the C block is
 * reloaded once per block (measured on dcgan4, unet_up2, s1_k3 with an earlier,
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
#define MAX_COPY             0.85
/* Copies this small (floats) are allowed whatever the output size (tiny layers: the
 * packed path's own panel and tile are larger). */
#define SMALL_COPY 32768
/* Taps reaching further than this outside the input take the packed path (the copy
 * would be mostly zeros). */
#define LIMIT 64

typedef tconv_im2col_seg seg;

/* Per-thread scratch: B tile | C tile | runs | first run of each panel | taps. */
typedef struct slot_layout {
    size_t b, c, c2, segs, starts, taps, total; /* c2: a packed column pair's second tile */
} slot_layout;

/* How the B columns of a phase are fed to the GEMM. */
typedef struct phase_feed {
    bool direct;      /* igemm from the input's copy (else: packed im2col panels) */
    int64_t per_img;  /* vectors per image */
    int64_t per_tile; /* vectors per tile */
    int64_t tiles;    /* column tiles of the unit loop */
} phase_feed;

typedef struct run_ctx {
    const tconv_run_args *a;
    tconv_im2col_panel_fn panel_fn;
    tconv_phase_store_fn store;
    tconv_pair_store_fn pair_store;
    plan_geom g;
    slot_layout l;
    phase_feed feed[TCONV_MAX_PHASES];
    int64_t units_per_group; /* of the current pass */
    float *xc;               /* the input's copy (geometry in g.cg) */
    int64_t n0, nimg;        /* the images in the copy (this pass) */
    int pass;                /* PASS_* : which phases this pass of units runs */
} run_ctx;

enum { PASS_ALL, PASS_DIRECT, PASS_PACKED };

/* The columns of a directly fed phase are vectors of VW lanes: 16 consecutive points of
 * one image's plane in the copy's grid (pitch wp; see copy_geom). */
enum { VW = 16 };

/* ------------------------------------------------------------ phase_direct.c */

/* The copy's grid for this shape (false: taps reach too far for a copy). */
bool tconv__phase_copy_geometry(const tconv_shape *s, const plan_geom *g, copy_geom *c);
/* Vectors per image of a directly fed phase. */
int64_t tconv__phase_vectors_per_image(const phase *p, const copy_geom *c);
/* Is phase p fed directly (given a copy)? */
bool tconv__phase_is_direct(const tconv_shape *s, const phase *p, const copy_geom *c);
/* Does every phase with work take the direct feed (given a copy)? */
bool tconv__phase_all_direct(const tconv_shape *s, const plan_geom *g, const copy_geom *c);
/* Bytes of the copy, 0 when no phase is fed directly; sets c (and c->chunk). */
size_t tconv__phase_copy_bytes(const tconv_shape *s, const plan_geom *g, copy_geom *c);
/* A parallel-for task: plane i of the current chunk into the copy. */
void tconv__phase_copy_task(void *ctx, int64_t i);
/* Tile t of directly fed phase q0 (and q1 >= 0, stored as a column pair). */
void tconv__phase_direct_tile(run_ctx *r, int64_t gi, int q0, int q1, int64_t t, char *slot);

#endif /* TCONV_PHASE_H */
