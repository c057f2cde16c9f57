/*
 * phase.c - the stride-phase GEMM path (TCONV_ALGO_PHASE_GEMM): geometry, weight
 * packing, the packed feed and the unit loop; the direct feed is in phase_direct.c,
 * what both share in phase.h.
 *
 * For each group g and stride phase (py, px) (see lower.h), the outputs of the phase are
 *   C[co, (n, qy, qx)] = bias[co] + sum_k A[co, k] * B[k, (n, qy, qx)],
 *   k = (ty, tx, ci) (tap-major: an igemm call walks the channels of one tap),
 *   A[co, k] = w[ci, co, ky(ty), kx(tx)],
 *   B[k, (n, qy, qx)] = x[n, ci, qy + dy(ty), qx + dx(tx)]   (0 outside the input)
 * one GEMM with M = Cout/groups, K = Cin/groups * taps, N = batch * phase pixels.
 * A is packed once (by a plan, or into the workspace of a one-shot call). B reaches
 * the GEMM in one of two ways, chosen per phase by pure functions of the shape and
 * ISA: the direct feed reads it from the input in place (small images) or from a copy
 * of the part of the input a unit reads, made by the unit in its own scratch
 * (phase_direct.c);
 * the packed feed packs the im2col of one column tile at a time, panel by panel
 * inside the GEMM loop, runs the GEMM into a per-thread C tile and copies that to its
 * strided place in the output. A unit of work is (group, column tile) over all phases,
 * so the output lines one phase writes partly are still in cache when the next phase
 * fills them in. Every output element is written once, by one unit, with a summation
 * order fixed by the kernels: results do not depend on the number of threads, and
 * extra memory is a slot of scratch per thread, bounded by the tiles.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stddef.h>
#include <string.h>

#include "../thread/pool.h"
#include "phase.h"

/* The phases and tiles (the kernels and A's layout: full_geometry). */
static void geometry(const tconv_shape *s, const tconv_gemm_kernel *gk, plan_geom *g)
{
    memset(g, 0, offsetof(plan_geom, ph)); /* 64 phases are 10 KB: only nph are set */
    g->gk = gk;
    for (int64_t py = 0; py < s->sh; py++)
        for (int64_t px = 0; px < s->sw; px++) {
            phase *p = &g->ph[g->nph++];
            memset(p, 0, sizeof *p);
            p->py = py;
            p->px = px;
            tconv__phase_taps(py, s->sh, s->ph, s->dh, s->kh, &p->ty);
            tconv__phase_taps(px, s->sw, s->pw, s->dw, s->kw, &p->tx);
            p->hq = tconv__phase_len(py, s->sh, s->hout);
            p->wq = tconv__phase_len(px, s->sw, s->wout);
            p->k = s->cin_g * p->ty.count * p->tx.count;
            p->cols = s->n * p->hq * p->wq;
            if (p->k > g->kmax)
                g->kmax = p->k;
        }
    const int64_t nr = gk->nr;
    int64_t nc = (int64_t)(UNIT_OUT_BYTES / sizeof(float)) / (s->cout_g * g->nph);
    nc = nc / nr * nr;
    if (nc < nr)
        nc = nr;
    if (nc > MAX_NC)
        nc = MAX_NC;
    /* no wider than the widest phase needs: small layers get small workspaces */
    int64_t widest = 0;
    for (int i = 0; i < g->nph; i++)
        widest = g->ph[i].cols > widest ? g->ph[i].cols : widest;
    /* and narrow enough for MIN_UNITS units (tiles x groups) when the layer has them */
    const int64_t want = (MIN_UNITS + s->groups - 1) / s->groups;
    const int64_t share = ((widest + want - 1) / want + nr - 1) / nr * nr;
    if (share < nc)
        nc = share > nr ? share : nr;
    widest = (widest + nr - 1) / nr * nr;
    g->nc = nc < widest ? nc : widest > 0 ? widest : nr;
    g->ldc = nc;
    for (int i = 0; i < g->nph; i++) {
        phase *p = &g->ph[i];
        p->tiles = (p->cols + nc - 1) / nc;
    }
    /* one K block of one panel (the GEMM splits K into equal blocks of at most kc) */
    g->b_floats = (size_t)(g->kmax < gk->kc ? g->kmax : gk->kc) * (size_t)nr;
    g->c_floats = (size_t)s->cout_g * (size_t)g->ldc;
    g->pairs = s->sw == 2;
}

static bool phase_supports(const tconv_shape *s, const char **why)
{
    if (s->sh > TCONV_MAX_PHASES || s->sw > TCONV_MAX_PHASES ||
        s->sh * s->sw > TCONV_MAX_PHASES) { /* each factor first: the product may overflow */
        *why = "stride[0]*stride[1] must be <= 64";
        return false;
    }
    return true;
}

static const plan_geom *full_geometry(const tconv_shape *s, tconv_isa isa);

/* Vector positions of phase p in the lane-mask table (those of an image on a flat grid,
 * read in place or copied: the same pitch). */
static int64_t mask_vectors(const plan_geom *g, const phase *p)
{
    return g->cflat && p->direct ? tconv__phase_vectors_per_image(p, &g->cg) : 0;
}

static size_t packed_bytes(const tconv_shape *s, tconv_isa isa)
{
    return full_geometry(s, isa)->packed;
}

/* A of (group gi, phase p): rows co, columns k = (ci, ty, tx), in the kernel's panels;
 * then the bias and, for a grid in place, the lane masks of every vector position of
 * every direct phase (they depend on the shape alone: made here once for a plan's
 * runs, where a tile would make them for each of its vectors). */
static void pack(const tconv_problem *pb, tconv_isa isa, void *dst)
{
    const tconv_shape *s = &pb->s;
    const plan_geom *g = full_geometry(s, isa);
    float *out = dst;
    const int64_t mr = g->mr;
    /* Panel by panel of MR output channels, input channel by input channel: the
     * panel's MR weight rows w[ci, r0 .. r0 + MR, :, :] are read from memory once and
     * their taps sent to the columns (ty, tx, ci) of their phases, MR adjacent values
     * per tap, through a table of the (phase, tap) pairs, PACK_TAPS at a time (kernels
     * larger than that take several passes): each pair's source offset, where its
     * column run starts in panel 0 and how far the next panel's starts (the phase's K).
     * (Phase by phase, each weight line came back from memory once per tap: dcgan2's
     * 8.4 MB took 13 ms, 19% of a one-shot call. Row by row, one value per tap and row
     * through the table, s1_k3's plan creation took 1.5x as long.) */
    enum { PACK_TAPS = 64 };
    int64_t src[PACK_TAPS], col[PACK_TAPS], kp[PACK_TAPS], at[PACK_TAPS];
    int64_t ntot = 0;
    for (int i = 0; i < g->nph; i++)
        ntot += g->ph[i].ty.count * g->ph[i].tx.count;
    for (int64_t j0 = 0; j0 < ntot; j0 += PACK_TAPS) {
        const int64_t nj = ntot - j0 < PACK_TAPS ? ntot - j0 : PACK_TAPS;
        for (int i = 0, j = 0; i < g->nph; i++) {
            const phase *p = &g->ph[i];
            for (int64_t ty = 0, t = 0; ty < p->ty.count; ty++)
                for (int64_t tx = 0; tx < p->tx.count; tx++, t++, j++)
                    if (j >= j0 && j < j0 + nj) {
                        const int64_t ky = p->ty.first + ty * p->ty.step;
                        const int64_t kx = p->tx.first + tx * p->tx.step;
                        src[j - j0] = ky * pb->ws[2] + kx * pb->ws[3];
                        col[j - j0] = (int64_t)p->a_off + t * s->cin_g * mr;
                        kp[j - j0] = p->k;
                    }
        }
        for (int64_t gi = 0; gi < s->groups; gi++) {
            float *a = out + (size_t)gi * g->a_group;
            for (int64_t r0 = 0; r0 < s->cout_g; r0 += mr) {
                for (int64_t j = 0; j < nj; j++) /* each pair's run in this panel */
                    at[j] = col[j] + r0 * kp[j];
                const int64_t rows = s->cout_g - r0 < mr ? s->cout_g - r0 : mr;
                for (int64_t ci = 0; ci < s->cin_g; ci++) {
                    /* the panel's rows of w[ci, r0 + r, :, :]: each pair's MR values
                     * are adjacent in the panel (its rows read from lines in L1) */
                    const float *w =
                        pb->wt + (gi * s->cin_g + ci) * pb->ws[0] + r0 * pb->ws[1];
                    float *d = a + ci * mr;
                    for (int64_t j = 0; j < nj; j++) {
                        const float *wj = w + src[j];
                        float *dj = d + at[j];
                        for (int64_t r = 0; r < rows; r++)
                            dj[r] = wj[r * pb->ws[1]];
                        for (int64_t r = rows; r < mr; r++)
                            dj[r] = 0.0f;
                    }
                }
            }
        }
    }
    float *bias = out + g->bias_off;
    for (int64_t co = 0; co < s->cout; co++)
        bias[co] = s->has_bias ? pb->b[co * pb->bs] : 0.0f;
    uint16_t *masks = (uint16_t *)((char *)dst + g->masks_off);
    for (int i = 0; i < g->nph; i++) {
        const phase *p = &g->ph[i];
        const int64_t vecs = mask_vectors(g, p);
        for (int64_t u = 0; u < vecs; u++)
            tconv__phase_lane_masks(s, p, u * VW,
                                    masks + p->mask_off + (size_t)(u * p->ty.count * p->tx.count));
    }
}

/* Most runs a tile of nc columns can have (every column its own run, plus splits at
 * panel boundaries). */
static int64_t max_segs(int64_t nc, int64_t nr)
{
    return nc + nc / nr + 1;
}

/* Runs of output row one vector of the direct feed stores: the grid rows 16
 * consecutive points at pitch wp can touch. */
static int64_t runs_per_vector(int64_t wp)
{
    const int64_t rows = (wp + VW - 2) / wp + 1;
    return rows < VW ? rows : VW;
}

/* Per-thread scratch of a call, each part as large as that call uses (call NULL: as
 * large as any call on the shape uses, whatever its views' strides: a plan's query).
 * The direct feed's copy of its tile's part of the grid comes first, if the call
 * copies; direct_only: every phase is fed directly, so no B panel, no panel starts,
 * and only the C blocks of direct_tile (direct_c, one per phase of a column pair, plus
 * the store functions' slack) instead of a C tile; its runs and tap offsets are as
 * many as its vectors and phases have. */
static slot_layout layout(const plan_geom *g, const tconv_problem *call)
{
    const int64_t nr = g->gk->nr;
    const bool direct_only = g->direct_only;
    /* the direct feed reads the input in place or a copy (no call: either) */
    const bool direct = g->copy_bytes > 0;
    const bool copies = direct && !(call && tconv__phase_use_inplace(call, g));
    const int64_t pair = g->pairs ? 2 : 1;
    int64_t runs = 0, offs = 0; /* the direct tile's runs and tap offsets */
    if (direct) {
        runs = g->ik->nv * runs_per_vector(g->cg.wp); /* in place: the same pitch */
        for (int i = 0; i < g->nph; i++) {
            const int64_t taps = g->ph[i].ty.count * g->ph[i].tx.count;
            offs = pair * taps > offs ? pair * taps : offs;
        }
    }
    const size_t c_floats = direct_only ? (size_t)pair * g->direct_c + 16 : g->c_floats;
    const int64_t segs = direct_only || runs > max_segs(g->nc, nr) ? runs : max_segs(g->nc, nr);
    const size_t taps = direct_only ? 0 : (size_t)g->kmax * sizeof(tconv_im2col_tap);
    slot_layout l;
    l.copy = 0;
    l.b = l.copy + (copies ? g->copy_bytes : 0);
    l.c = l.b + (direct_only ? 0 : tconv__align_up(g->b_floats * sizeof(float)));
    l.c2 = l.c + tconv__align_up(c_floats * sizeof(float));
    l.segs = l.c2 + (g->pairs && !direct_only ? tconv__align_up(c_floats * sizeof(float)) : 0);
    l.starts = l.segs + tconv__align_up((size_t)segs * sizeof(seg));
    l.taps = l.starts + (direct_only ? 0 : tconv__align_up((size_t)(g->nc / nr + 2) *
                                                            sizeof(int64_t)));
    l.total = l.taps + tconv__align_up(taps > (size_t)offs * sizeof(int64_t)
                                           ? taps
                                           : (size_t)offs * sizeof(int64_t));
    return l;
}

/* geometry() plus the kernels: the direct feed's igemm kernel (the 4-row one for A of
 * at most 4 rows, but only if every phase is fed directly: A is packed for one MR),
 * and where each phase's packed A lies. A pure function of the shape and the ISA. */
static void compute_geometry(const tconv_shape *s, tconv_isa isa, plan_geom *g)
{
    const tconv_gemm_kernel *gk = tconv__gemm_kernel(isa);
    geometry(s, gk, g);
    g->ik = tconv__igemm_kernel(isa, s->cout_g);
    g->copy_bytes = tconv__phase_direct_geometry(s, g);
    g->direct_only = g->copy_bytes > 0;
    for (int i = 0; i < g->nph; i++)
        if (g->ph[i].k > 0 && g->ph[i].cols > 0 && !g->ph[i].direct)
            g->direct_only = false;
    if (g->ik && g->ik->mr != gk->mr && !g->direct_only) {
        g->ik = tconv__igemm_kernel(isa, gk->mr);
        g->copy_bytes = tconv__phase_direct_geometry(s, g); /* the same phases: same lanes */
    }
    g->mr = g->ik && g->direct_only ? g->ik->mr : gk->mr;
    if (g->ik && g->ik->mr != g->mr) { /* a build whose igemm does not match the GEMM */
        g->ik = NULL;
        g->copy_bytes = tconv__phase_direct_geometry(s, g);
        g->direct_only = false;
    }
    /* the direct feed's C blocks (a pass's rows, whole row panels) live in the C
     * tile's place too, one per phase of a column pair; the store functions read up to
     * 15 floats past a run */
    g->direct_c = 0;
    if (g->copy_bytes > 0) {
        const int64_t mr = g->ik->mr, rows = (s->cout_g + mr - 1) / mr * mr;
        const int64_t pass = tconv__phase_pass_rows(mr);
        g->direct_c = (size_t)(rows < pass ? rows : pass) * (size_t)(g->ik->nv * VW);
    }
    if (g->c_floats < 2 * g->direct_c)
        g->c_floats = 2 * g->direct_c;
    g->c_floats += 16;
    for (int i = 0; i < g->nph; i++) {
        phase *p = &g->ph[i];
        p->a_off = g->a_group;
        g->a_group += (size_t)((s->cout_g + g->mr - 1) / g->mr * g->mr) * (size_t)p->k;
    }
    g->bias_off = tconv__align_up(g->a_group * (size_t)s->groups * sizeof(float)) / sizeof(float);
    g->masks_off = (g->bias_off + (size_t)s->cout) * sizeof(float);
    size_t masks = 0;
    for (int i = 0; i < g->nph; i++) {
        phase *p = &g->ph[i];
        p->mask_off = masks;
        masks += (size_t)(mask_vectors(g, p) * p->ty.count * p->tx.count);
    }
    g->packed = g->masks_off + masks * sizeof(uint16_t);
}

static bool same_shape(const tconv_shape *a, const tconv_shape *b)
{
    return a->n == b->n && a->cin == b->cin && a->h == b->h && a->w == b->w &&
           a->cout == b->cout && a->kh == b->kh && a->kw == b->kw && a->hout == b->hout &&
           a->wout == b->wout && a->groups == b->groups && a->cin_g == b->cin_g &&
           a->cout_g == b->cout_g && a->sh == b->sh && a->sw == b->sw && a->ph == b->ph &&
           a->pw == b->pw && a->oph == b->oph && a->opw == b->opw && a->dh == b->dh &&
           a->dw == b->dw && a->has_bias == b->has_bias;
}

/* The geometry is asked for up to four times per call (workspace size, twice, one-shot
 * packing, the run), and costs ~0.2 us each: on a 4 us layer (small_b1) that was 15%
 * of the call. Being a pure function of (shape, ISA), each thread keeps its last, and
 * returns it (valid until the thread's next call on another shape: a run, which may
 * yield to a caller's parallel-for between its tasks, works on its own copy). */
static _Thread_local struct {
    bool valid;
    tconv_isa isa;
    tconv_shape s;
    plan_geom g;
} memo;

static const plan_geom *full_geometry(const tconv_shape *s, tconv_isa isa)
{
    if (!memo.valid || memo.isa != isa || !same_shape(&memo.s, s)) {
        compute_geometry(s, isa, &memo.g);
        memo.s = *s;
        memo.isa = isa;
        memo.valid = true;
    }
    return &memo.g;
}

/* The geometry for the pure queries below (NULL: the path does not take the shape). */
static const plan_geom *query_geometry(const tconv_shape *s, tconv_isa isa)
{
    const char *why;
    return phase_supports(s, &why) ? full_geometry(s, isa) : NULL;
}

bool tconv__phase_direct_only(const tconv_shape *s, tconv_isa isa)
{
    const plan_geom *g = query_geometry(s, isa);
    return g && g->direct_only;
}

void tconv__phase_direct_tiles(const tconv_shape *s, tconv_isa isa, int64_t *imgs,
                               int64_t *tiles_per_img, int64_t *per_tile)
{
    const plan_geom *g = query_geometry(s, isa);
    *imgs = *tiles_per_img = *per_tile = 0;
    if (g && g->copy_bytes > 0) {
        *imgs = g->cg.imgs;
        *tiles_per_img = g->cg.tiles_per_img;
        *per_tile = g->cg.per_tile;
    }
}

bool tconv__phase_direct_inplace(const tconv_shape *s, tconv_isa isa)
{
    const plan_geom *g = query_geometry(s, isa);
    return g && g->copy_bytes > 0 && g->inplace;
}

bool tconv__phase_copies_flat(const tconv_shape *s, tconv_isa isa)
{
    const plan_geom *g = query_geometry(s, isa);
    return g && g->copy_bytes > 0 && g->cflat;
}

bool tconv__phase_call_inplace(const tconv_problem *pb, tconv_isa isa)
{
    const plan_geom *g = query_geometry(&pb->s, isa);
    return g && g->copy_bytes > 0 && tconv__phase_use_inplace(pb, g);
}

/* Rows of A (output channels of a group) per work unit: all of them, unless the input
 * is read in place, every phase is fed directly (so no copy or packing is redone per
 * row block) and the group's packed A exceeds A_BLOCK_BYTES: then blocks of at most
 * that many bytes, a multiple of MR rows. */
static int64_t block_rows(const plan_geom *g, const tconv_shape *s, bool inplace)
{
    const size_t a_bytes = g->a_group * sizeof(float);
    if (!inplace || !g->direct_only || a_bytes <= A_BLOCK_BYTES)
        return s->cout_g;
    const size_t row_bytes = a_bytes / (size_t)((s->cout_g + g->mr - 1) / g->mr * g->mr);
    const int64_t rows = (int64_t)(A_BLOCK_BYTES / row_bytes) / g->mr * g->mr;
    return rows < g->mr ? g->mr : rows < s->cout_g ? rows : s->cout_g;
}

int64_t tconv__phase_block_rows(const tconv_problem *pb, tconv_isa isa)
{
    const plan_geom *g = query_geometry(&pb->s, isa);
    if (!g)
        return 0;
    return block_rows(g, &pb->s, tconv__phase_use_inplace(pb, g)); /* direct_only in it */
}

static size_t workspace_bytes(const tconv_shape *s, const tconv_problem *call, tconv_isa isa,
                              int threads)
{
    const size_t one = layout(full_geometry(s, isa), call).total;
    if (one > SIZE_MAX / (size_t)threads)
        return SIZE_MAX;
    return one * (size_t)threads;
}

/* Walks the columns [j0, j0+nc) of a phase as runs of constant (n, qy). */
typedef struct seg_iter {
    int64_t j, end, n, qy, qx, hq, wq;
} seg_iter;

static void seg_start(seg_iter *it, const phase *p, int64_t j0, int64_t nc)
{
    it->j = j0;
    it->end = j0 + nc;
    it->hq = p->hq;
    it->wq = p->wq;
    const int64_t per_img = p->hq * p->wq, r = j0 % per_img;
    it->n = j0 / per_img;
    it->qy = r / p->wq;
    it->qx = r % p->wq;
}

/* Length of the current run (0 when done). */
static int64_t seg_len(const seg_iter *it)
{
    int64_t l = it->wq - it->qx, left = it->end - it->j;
    return it->j < it->end ? (l < left ? l : left) : 0;
}

static void seg_advance(seg_iter *it, int64_t l)
{
    it->j += l;
    it->qx += l;
    if (it->qx == it->wq) {
        it->qx = 0;
        if (++it->qy == it->hq) {
            it->qy = 0;
            it->n++;
        }
    }
}

/* Cuts the tile's columns into runs of constant (n, qy) that stay inside one panel;
 * starts[j] is the first run of panel j (starts[npanels] = count). */
static int64_t build_segs(const tconv_problem *pb, const phase *p, int64_t gi, int64_t j0,
                          int64_t nc, int64_t nr, seg *out, int64_t *starts)
{
    int64_t count = 0, panel = -1;
    seg_iter it;
    seg_start(&it, p, j0, nc);
    for (int64_t len; (len = seg_len(&it)) > 0;) {
        for (int64_t done = 0; done < len;) {
            const int64_t c = it.j - j0 + done, col = c % nr;
            const int64_t l = len - done < nr - col ? len - done : nr - col;
            while (panel < c / nr)
                starts[++panel] = count;
            seg *sg = &out[count++];
            sg->x_off = it.n * pb->xs[0] + gi * pb->s.cin_g * pb->xs[1];
            sg->qy = it.qy;
            sg->qx0 = it.qx + done;
            sg->len = l;
            sg->col = col;
            done += l;
        }
        seg_advance(&it, len);
    }
    starts[++panel] = count;
    return count;
}

/* The taps of a phase in B's row order k = (ty, tx, ci). */
static void build_taps(const tconv_problem *pb, const phase *p, tconv_im2col_tap *taps)
{
    int64_t kk = 0;
    for (int64_t ty = 0; ty < p->ty.count; ty++)
        for (int64_t tx = 0; tx < p->tx.count; tx++)
            for (int64_t ci = 0; ci < pb->s.cin_g; ci++, kk++) {
                taps[kk].c_off = ci * pb->xs[1];
                taps[kk].dy = p->ty.d0 + ty * p->ty.dstep;
                taps[kk].dx = p->tx.d0 + tx * p->tx.dstep;
            }
}

/* A panel from input rows whose columns are not contiguous (any xs[3]). */
static void pack_panel_strided(const tconv_problem *pb, float *panel, int64_t nr, int64_t ncols,
                               const tconv_im2col_tap *taps, int64_t K, const seg *segs,
                               int64_t nsegs)
{
    const tconv_shape *s = &pb->s;
    for (int64_t k = 0; k < K; k++) {
        float *row = panel + k * nr;
        for (int64_t si = 0; si < nsegs; si++) {
            const seg *sg = &segs[si];
            const int64_t iy = sg->qy + taps[k].dy, ix0 = sg->qx0 + taps[k].dx;
            for (int64_t t = 0; t < sg->len; t++) {
                const int64_t ix = ix0 + t;
                row[sg->col + t] =
                    iy >= 0 && iy < s->h && ix >= 0 && ix < s->w
                        ? pb->x[sg->x_off + taps[k].c_off + iy * pb->xs[2] + ix * pb->xs[3]]
                        : 0.0f;
            }
        }
        for (int64_t c = ncols; c < nr; c++)
            row[c] = 0.0f;
    }
}

/* Copies a C tile (rows co, columns of the tile) to the output; c == NULL writes the
 * bias alone (phases without taps). */
static void store_c(const tconv_problem *pb, const phase *p, int64_t gi, int64_t j0, int64_t nc,
                    const float *c, int64_t ldc, const float *bias, tconv_phase_store_fn store,
                    const float *c1, tconv_pair_store_fn pair_store)
{
    const tconv_shape *s = &pb->s;
    const int64_t step = tconv__phase_column_step(pb, p);
    seg_iter it;
    seg_start(&it, p, j0, nc);
    for (int64_t len; (len = seg_len(&it)) > 0;) {
        const int64_t cj = it.j - j0;
        float *yrow = pb->y + it.n * pb->ys[0] + gi * s->cout_g * pb->ys[1] +
                      (p->py + s->sh * it.qy) * pb->ys[2] + (p->px + s->sw * it.qx) * pb->ys[3];
        if (c1) {
            pair_store(yrow, pb->ys[1], c + cj, c1 + cj, ldc, s->cout_g, len);
        } else if (c) {
            store(yrow, pb->ys[1], step, c + cj, ldc, s->cout_g, len);
        } else {
            for (int64_t co = 0; co < s->cout_g; co++)
                for (int64_t t = 0; t < len; t++)
                    yrow[co * pb->ys[1] + t * step] = bias[co];
        }
        seg_advance(&it, len);
    }
}

/* Tile t of phase p of group gi into the C tile cbuf; stored unless `keep` (then the
 * caller stores it with its column partner). */
static void do_phase_tile(run_ctx *r, int64_t gi, const phase *p, int64_t t, char *slot,
                          float *cbuf, bool keep)
{
    const tconv_problem *pb = r->a->pb;
    const plan_geom *g = &r->g;
    const int64_t j0 = t * g->nc, nc = p->cols - j0 < g->nc ? p->cols - j0 : g->nc;
    const float *packed = r->a->packed;
    const float *bias = packed + g->bias_off + gi * pb->s.cout_g;
    if (p->k == 0) {
        store_c(pb, p, gi, j0, nc, NULL, 0, bias, r->lk->store, NULL, NULL);
        return;
    }
    float *bbuf = (float *)(slot + r->l.b);
    seg *segs = (seg *)(slot + r->l.segs);
    int64_t *starts = (int64_t *)(slot + r->l.starts);
    tconv_im2col_tap *taps = (tconv_im2col_tap *)(slot + r->l.taps);
    const tconv_gemm_kernel *gk = g->gk;
    const int64_t nr = gk->nr, mr = gk->mr, m = pb->s.cout_g, K = p->k;
    const float *ap = packed + (size_t)gi * g->a_group + p->a_off;
    build_segs(pb, p, gi, j0, nc, nr, segs, starts);
    build_taps(pb, p, taps);
    /* The GEMM loop with the im2col inside it: each K block of each B panel is packed
     * right before all of A's row panels use it, so it never leaves L1. The K blocks
     * are the driver's (equal, at most kc), the kernel keeps one accumulation chain. */
    const int64_t k_blocks = (K + gk->kc - 1) / gk->kc, kcb = (K + k_blocks - 1) / k_blocks;
    for (int64_t j = 0; j * nr < nc; j++) {
        const int64_t ncols = nc - j * nr < nr ? nc - j * nr : nr;
        const seg *ps = segs + starts[j];
        const int64_t ns = starts[j + 1] - starts[j];
        for (int64_t p0 = 0; p0 < K; p0 += kcb) {
            const int64_t kb = K - p0 < kcb ? K - p0 : kcb;
            if (pb->xs[3] == 1)
                r->lk->panel(bbuf, nr, ncols, taps + p0, kb, ps, ns, pb->x, pb->xs[2], pb->s.h,
                             pb->s.w);
            else
                pack_panel_strided(pb, bbuf, nr, ncols, taps + p0, kb, ps, ns);
            for (int64_t i0 = 0; i0 < m; i0 += mr)
                gk->fn(kb, ap + i0 * K + p0 * mr, bbuf, cbuf + i0 * g->ldc + j * nr, g->ldc, 1,
                       m - i0 < mr ? m - i0 : mr, ncols, p0 == 0 ? bias + i0 : NULL, p0 > 0);
        }
    }
    if (!keep)
        store_c(pb, p, gi, j0, nc, cbuf, g->ldc, NULL, r->lk->store, NULL, NULL);
}

/* Can phases i and i + 1 (columns px = 0 and 1 of a stride-2 row phase) be computed
 * and stored as a pair? Same feed, same columns (equal hq and wq, hence equal tiles),
 * both with taps, output columns contiguous. */
static bool pairable(const run_ctx *r, int i)
{
    if (!r->g.pairs || i + 1 >= r->g.nph || r->a->pb->ys[3] != 1)
        return false;
    const phase *p = &r->g.ph[i], *q = p + 1;
    return p->px == 0 && r->feed[i].direct == r->feed[i + 1].direct && q->hq == p->hq &&
           q->wq == p->wq && p->k > 0 && q->k > 0;
}

static void do_unit(run_ctx *r, int64_t u, char *slot)
{
    /* unit u: group gi, row block rb (rows [m0, m1) of A), tile t */
    const int64_t gi = u / r->units_per_group, rb = u % r->units_per_group / r->tiles,
                  t = u % r->tiles, m = r->a->pb->s.cout_g;
    const int64_t m0 = rb * r->block_rows, m1 = m - m0 < r->block_rows ? m : m0 + r->block_rows;
    if (r->g.copy_bytes > 0 && !r->inplace && t < r->g.cg.tiles) /* some phase is direct */
        tconv__phase_copy_tile(r, gi, t, slot);
    for (int i = 0; i < r->g.nph; i++) {
        /* row blocks split only direct phases; the others (bias only) go with the first */
        if (t >= r->feed[i].tiles || (rb > 0 && !r->feed[i].direct))
            continue;
        const bool pair = pairable(r, i);
        if (r->feed[i].direct) {
            tconv__phase_direct_tile(r, gi, i, pair ? i + 1 : -1, t, m0, m1, slot);
        } else if (pair) {
            /* both column phases, then one pass of whole-line stores */
            const phase *p = &r->g.ph[i];
            float *c0 = (float *)(slot + r->l.c), *c1 = (float *)(slot + r->l.c2);
            do_phase_tile(r, gi, p, t, slot, c0, true);
            do_phase_tile(r, gi, p + 1, t, slot, c1, true);
            const int64_t j0 = t * r->g.nc, nc = p->cols - j0 < r->g.nc ? p->cols - j0 : r->g.nc;
            store_c(r->a->pb, p, gi, j0, nc, c0, r->g.ldc, NULL, r->lk->store, c1,
                    r->lk->pair_store);
        } else {
            do_phase_tile(r, gi, &r->g.ph[i], t, slot, (float *)(slot + r->l.c), false);
        }
        if (pair)
            i++;
    }
}

static void unit_fn(void *ctx, int64_t u, void *slot)
{
    do_unit(ctx, u, slot);
}

/* One pass of units (group, row block, tile) over every phase: tile t of a directly fed
 * phase is the grid's tile t (tconv__phase_tile_span), of a packed one its t-th nc
 * columns; row blocks (block_rows) split A's rows, and only directly fed phases. */
static void run(const tconv_run_args *a)
{
    run_ctx r;
    r.a = a;
    r.lk = tconv__lower_kernels(a->isa);
    const tconv_problem *pb = a->pb;
    const tconv_shape *s = &pb->s;
    const plan_geom *g = full_geometry(s, a->isa);
    memcpy(&r.g, g, offsetof(plan_geom, ph) + (size_t)g->nph * sizeof(phase));
    r.l = layout(&r.g, pb);
    r.inplace = tconv__phase_use_inplace(pb, &r.g);
    const copy_geom *grid = r.inplace ? &r.g.ig : &r.g.cg;
    r.tiles = 0;
    for (int i = 0; i < r.g.nph; i++) {
        const phase *p = &r.g.ph[i];
        phase_feed *f = &r.feed[i];
        f->direct = r.g.copy_bytes > 0 && p->direct;
        f->vecs = f->direct ? tconv__phase_vectors_per_image(p, grid) : 0;
        f->tiles = f->direct ? grid->tiles : p->tiles;
        r.tiles = f->tiles > r.tiles ? f->tiles : r.tiles;
    }
    r.block_rows = block_rows(&r.g, s, r.inplace);
    r.units_per_group = (s->cout_g + r.block_rows - 1) / r.block_rows * r.tiles;
    tconv__run_units(a->exec, a->threads, r.units_per_group * s->groups, unit_fn, &r,
                     a->workspace, r.l.total);
}

const tconv_algo_impl tconv__algo_phase_gemm = {
    .id = TCONV_ALGO_PHASE_GEMM,
    .supports = phase_supports,
    .packed_bytes = packed_bytes,
    .pack = pack,
    .workspace_bytes = workspace_bytes,
    .run = run,
};
