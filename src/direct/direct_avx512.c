/*
 * direct_avx512.c - AVX-512F row and plane kernels of the direct algorithm (contract in
 * direct.h). Compiled with -mavx512f -mavx2 -mfma; uses AVX-512F instructions only.
 *
 * Row kernels. The unit of work is a block of 16 consecutive q (one zmm per phase).
 * With sw == 1 a block is 16 output columns. With sw == 2 both phases are computed for
 * the same q (their inputs are the same contiguous columns, shifted by the tap offsets)
 * and interleaved into two contiguous output vectors with vpermt2ps. With sw >= 3 each
 * phase is computed on its own and written with stride sw through a small buffer.
 * Blocks inside the row run unmasked, two at a time. Blocks at the edges use
 * zero-masking loads and merge-masked FMAs: an out-of-range tap is skipped, not
 * multiplied by zero, so -0.0 and inf/NaN weights behave as in the reference. Their
 * masks depend only on the block's position and are computed once per call. Two
 * output rows that read the same input rows (stride 2, even kernel height) share
 * their loads. The common tap counts are instantiated with the count known at compile
 * time, so the tap loops unroll and the offsets stay in registers.
 *
 * Plane kernel (stride 2, kernel 2x2 or 4x4): see direct.h. One row pair and 16 q at a
 * time: K + D loads per input row feed the four accumulators of the 2x2 output
 * phases, which are interleaved into two rows of 32 columns.
 *
 * SPDX-License-Identifier: MIT
 */
#include <immintrin.h>
#include <stdbool.h>

#include "direct.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

enum { QB = 16 }; /* q per block */

/* Lanes [lo, hi) of a block, clamped. */
static uint32_t lanes16(int64_t lo, int64_t hi)
{
    if (lo < 0)
        lo = 0;
    if (hi > QB)
        hi = QB;
    if (hi <= lo)
        return 0;
    return ((1u << hi) - 1u) & ~((1u << lo) - 1u);
}

static int64_t ceil_div_any(int64_t a, int64_t b) /* b > 0, a any sign */
{
    int64_t q = a / b;
    return q + (a % b > 0);
}

/* acc += x[p + lane] * w on the lanes of m; the other lanes are neither loaded nor changed. */
static ALWAYS_INLINE __m512 tap(__m512 acc, const float *p, float w, __mmask16 m)
{
    return _mm512_mask3_fmadd_ps(_mm512_maskz_loadu_ps(m, p), _mm512_set1_ps(w), acc, m);
}

/* Per-tap masks of the block at q0: lanes whose input column is inside [0, w). */
static void block_masks(const tconv_direct_cols *c, int64_t q0, uint32_t *tm)
{
    for (int32_t i = 0; i < c->ntaps; i++)
        tm[i] = lanes16(c->qlo[i] - q0, c->qhi[i] - q0);
}

/* Blocks start at q = qb + k*QB, k < nb. Blocks [full_lo, full_hi) have every tap valid
 * on every lane and end before q_out_end; they need no masks. The masks of up to
 * EDGE_CACHE blocks on each side are computed once per call; further ones (very wide
 * padding or dilation) are recomputed when needed. */
enum { EDGE_CACHE = 4 };

typedef struct edge_masks {
    int64_t full_lo, full_hi;
    uint32_t tm[2 * EDGE_CACHE][TCONV_DIRECT_MAX_TAPS];
} edge_masks;

static void edges_init(const tconv_direct_cols *c, int64_t qb, int64_t nb, int64_t q_out_end,
                       edge_masks *em)
{
    int64_t lo = qb, hi = q_out_end;
    for (int32_t i = 0; i < c->ntaps; i++) {
        if (c->qlo[i] > lo)
            lo = c->qlo[i];
        if (c->qhi[i] < hi)
            hi = c->qhi[i];
    }
    em->full_lo = ceil_div_any(lo - qb, QB); /* first block starting at or after lo */
    em->full_hi = hi - qb >= QB ? (hi - qb) / QB : 0; /* blocks ending at or before hi */
    if (em->full_lo > nb)
        em->full_lo = nb;
    if (em->full_hi < em->full_lo)
        em->full_hi = em->full_lo;
    for (int64_t k = 0; k < EDGE_CACHE; k++) {
        if (k < em->full_lo)
            block_masks(c, qb + k * QB, em->tm[k]);
        if (em->full_hi + k < nb)
            block_masks(c, qb + (em->full_hi + k) * QB, em->tm[EDGE_CACHE + k]);
    }
}

/* Masks of an edge block k (outside [full_lo, full_hi)). */
static const uint32_t *edge_get(const tconv_direct_cols *c, const edge_masks *em, int64_t qb,
                                int64_t k, uint32_t *scratch)
{
    if (k < em->full_lo && k < EDGE_CACHE)
        return em->tm[k];
    if (k >= em->full_hi && k - em->full_hi < EDGE_CACHE)
        return em->tm[EDGE_CACHE + (k - em->full_hi)];
    block_masks(c, qb + k * QB, scratch);
    return scratch;
}

/* ---------------------------------------------------------------- sw == 1 */
/* One row of 16*U output columns at q0 (U = 1 or 2) with every tap valid on every lane. */
static ALWAYS_INLINE void s1_full(const tconv_direct_rowjob *job, int64_t q0, float *o,
                                  const int64_t *off, int32_t nt, const int U)
{
    __m512 a0, a1 = _mm512_setzero_ps();
    if (job->accumulate) {
        a0 = _mm512_loadu_ps(o);
        if (U == 2)
            a1 = _mm512_loadu_ps(o + 16);
    } else {
        a0 = a1 = _mm512_set1_ps(job->init);
    }
    for (int64_t t = 0; t < job->nterms; t++) {
        const float *x = job->terms[t].x + q0, *w = job->terms[t].w;
        for (int32_t i = 0; i < nt; i++) {
            const __m512 wv = _mm512_set1_ps(w[i]);
            a0 = _mm512_fmadd_ps(_mm512_loadu_ps(x + off[i]), wv, a0);
            if (U == 2)
                a1 = _mm512_fmadd_ps(_mm512_loadu_ps(x + off[i] + 16), wv, a1);
        }
    }
    _mm512_storeu_ps(o, a0);
    if (U == 2)
        _mm512_storeu_ps(o + 16, a1);
}

/* One row of a block at an edge: per-tap masks tm, output lanes om. */
static ALWAYS_INLINE void s1_masked(const tconv_direct_rowjob *job, int64_t q0, float *o,
                                    const int64_t *off, int32_t nt, const uint32_t *tm,
                                    __mmask16 om)
{
    __m512 a = job->accumulate ? _mm512_maskz_loadu_ps(om, o) : _mm512_set1_ps(job->init);
    for (int64_t t = 0; t < job->nterms; t++) {
        const float *x = job->terms[t].x + q0, *w = job->terms[t].w;
        for (int32_t i = 0; i < nt; i++)
            a = tap(a, x + off[i], w[i], (__mmask16)tm[i]);
    }
    _mm512_mask_storeu_ps(o, om, a);
}

/* NT: tap count known at compile time, or -1 to read it from c. */
static ALWAYS_INLINE void rows_s1_t(const tconv_direct_cols *c, int64_t ox_begin, int64_t ox_end,
                                    const tconv_direct_rowjob *rows, int64_t nrows, const int NT)
{
    const int32_t nt = NT >= 0 ? NT : c->ntaps;
    int64_t off[TCONV_DIRECT_MAX_TAPS];
    for (int32_t i = 0; i < nt; i++)
        off[i] = c->off[i];
    const int64_t nb = ceil_div_any(ox_end - ox_begin, QB);
    edge_masks em;
    edges_init(c, ox_begin, nb, ox_end, &em);
    uint32_t scratch[TCONV_DIRECT_MAX_TAPS];
    for (int64_t r = 0; r < nrows; r++) {
        const tconv_direct_rowjob jr = rows[r]; /* local copy, see rows_s2_t */
        const tconv_direct_rowjob *job = &jr;
        int64_t k = 0;
        for (; k < em.full_lo; k++) {
            const int64_t q0 = ox_begin + k * QB;
            s1_masked(job, q0, job->out + k * QB, off, nt, edge_get(c, &em, ox_begin, k, scratch),
                      (__mmask16)lanes16(0, ox_end - q0));
        }
        for (; k + 2 <= em.full_hi; k += 2)
            s1_full(job, ox_begin + k * QB, job->out + k * QB, off, nt, 2);
        for (; k < em.full_hi; k++)
            s1_full(job, ox_begin + k * QB, job->out + k * QB, off, nt, 1);
        for (; k < nb; k++) {
            const int64_t q0 = ox_begin + k * QB;
            s1_masked(job, q0, job->out + k * QB, off, nt, edge_get(c, &em, ox_begin, k, scratch),
                      (__mmask16)lanes16(0, ox_end - q0));
        }
    }
}

/* ---------------------------------------------------------------- sw == 2 */
/* Output element 2j+p of a 32-wide pair comes from lane j of phase p. */
static const int32_t interleave_lo[16] = {0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23};
static const int32_t interleave_hi[16] = {8,  24, 9,  25, 10, 26, 11, 27,
                                          12, 28, 13, 29, 14, 30, 15, 31};
static const int32_t gather_even[16] = {0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30};
static const int32_t gather_odd[16] = {1, 3, 5, 7, 9, 11, 13, 15, 17, 19, 21, 23, 25, 27, 29, 31};

typedef struct perm_idx {
    __m512i lo, hi, even, odd;
} perm_idx;

/* Rows r and r+1 can share their input loads when their terms read the same input rows
 * (with stride 2 and an even kernel height, output rows 2m and 2m+1 do). */
static bool same_inputs(const tconv_direct_rowjob *a, const tconv_direct_rowjob *b)
{
    if (a->nterms != b->nterms || a->accumulate != b->accumulate)
        return false;
    for (int64_t t = 0; t < a->nterms; t++)
        if (a->terms[t].x != b->terms[t].x)
            return false;
    return true;
}

/* R rows (1, or 2 that share their inputs) of one block of 16*U q at q0, written at
 * column offset `oc` of each row. tm == NULL: every tap valid on every lane (any U);
 * otherwise U == 1, tm holds the per-tap masks and `left` output columns remain. */
static ALWAYS_INLINE void s2_block(const tconv_direct_rowjob *rows, const int R, int64_t q0,
                                   int64_t oc, const int64_t *off, int32_t n0, int32_t n1,
                                   const perm_idx *pi, const int U, const uint32_t *tm,
                                   int64_t left)
{
    __m512 e[2][2], d[2][2]; /* [row][vector]: phase 0 and phase 1 at 16 q each */
    __mmask16 om[2] = {(__mmask16)0xffff, (__mmask16)0xffff};
    if (tm) {
        const uint32_t m = left >= 32 ? ~0u : (1u << left) - 1u;
        om[0] = (__mmask16)m;
        om[1] = (__mmask16)(m >> 16);
    }
    for (int r = 0; r < R; r++) {
        const tconv_direct_rowjob *job = &rows[r];
        for (int u = 0; u < U; u++) {
            if (job->accumulate) {
                const float *o = job->out + oc + 32 * u;
                const __m512 v0 = tm ? _mm512_maskz_loadu_ps(om[0], o) : _mm512_loadu_ps(o);
                const __m512 v1 = tm ? _mm512_maskz_loadu_ps(om[1], o + 16) : _mm512_loadu_ps(o + 16);
                e[r][u] = _mm512_permutex2var_ps(v0, pi->even, v1);
                d[r][u] = _mm512_permutex2var_ps(v0, pi->odd, v1);
            } else {
                e[r][u] = d[r][u] = _mm512_set1_ps(job->init);
            }
        }
    }
    for (int64_t t = 0; t < rows[0].nterms; t++) {
        const float *x = rows[0].terms[t].x + q0;
        const float *w[2];
        for (int r = 0; r < R; r++)
            w[r] = rows[r].terms[t].w;
        for (int32_t i = 0; i < n0 + n1; i++) {
            for (int u = 0; u < U; u++) {
                const float *p = x + off[i] + 16 * u;
                const __mmask16 m = tm ? (__mmask16)tm[i] : (__mmask16)0xffff;
                const __m512 xv = tm ? _mm512_maskz_loadu_ps(m, p) : _mm512_loadu_ps(p);
                for (int r = 0; r < R; r++) {
                    __m512 *acc = i < n0 ? &e[r][u] : &d[r][u];
                    const __m512 wv = _mm512_set1_ps(w[r][i]);
                    *acc = tm ? _mm512_mask3_fmadd_ps(xv, wv, *acc, m) : _mm512_fmadd_ps(xv, wv, *acc);
                }
            }
        }
    }
    for (int r = 0; r < R; r++)
        for (int u = 0; u < U; u++) {
            float *o = rows[r].out + oc + 32 * u;
            const __m512 y0 = _mm512_permutex2var_ps(e[r][u], pi->lo, d[r][u]);
            const __m512 y1 = _mm512_permutex2var_ps(e[r][u], pi->hi, d[r][u]);
            if (tm) {
                _mm512_mask_storeu_ps(o, om[0], y0);
                _mm512_mask_storeu_ps(o + 16, om[1], y1);
            } else {
                _mm512_storeu_ps(o, y0);
                _mm512_storeu_ps(o + 16, y1);
            }
        }
}

/* All blocks of R rows (see s2_block). */
static ALWAYS_INLINE void s2_rows(const tconv_direct_cols *c, const edge_masks *em, int64_t qb,
                                  int64_t nb, int64_t ox_end, const tconv_direct_rowjob *rows,
                                  const int R, const int64_t *off, int32_t n0, int32_t n1,
                                  const perm_idx *pi, uint32_t *scratch)
{
    int64_t k = 0;
    for (; k < em->full_lo; k++) {
        const int64_t q0 = qb + k * QB;
        s2_block(rows, R, q0, 2 * k * QB, off, n0, n1, pi, 1, edge_get(c, em, qb, k, scratch),
                 ox_end - 2 * q0);
    }
    for (; k + 2 <= em->full_hi; k += 2)
        s2_block(rows, R, qb + k * QB, 2 * k * QB, off, n0, n1, pi, 2, NULL, 0);
    for (; k < em->full_hi; k++)
        s2_block(rows, R, qb + k * QB, 2 * k * QB, off, n0, n1, pi, 1, NULL, 0);
    for (; k < nb; k++) {
        const int64_t q0 = qb + k * QB;
        s2_block(rows, R, q0, 2 * k * QB, off, n0, n1, pi, 1, edge_get(c, em, qb, k, scratch),
                 ox_end - 2 * q0);
    }
}

/* N0, N1: taps of phase 0 and 1 known at compile time, or -1 (read from c). */
static ALWAYS_INLINE void rows_s2_t(const tconv_direct_cols *c, int64_t ox_begin, int64_t ox_end,
                                    const tconv_direct_rowjob *rows, int64_t nrows, const int N0,
                                    const int N1)
{
    const int32_t n0 = N0 >= 0 ? N0 : c->p_begin[1];
    const int32_t n1 = N1 >= 0 ? N1 : c->p_begin[2] - c->p_begin[1];
    int64_t off[TCONV_DIRECT_MAX_TAPS];
    for (int32_t i = 0; i < n0 + n1; i++)
        off[i] = c->off[i];
    const int64_t qb = ox_begin / 2, q_out_end = ox_end / 2; /* q < q_out_end: both phases stored */
    const int64_t nb = ceil_div_any(ox_end - ox_begin, 2 * QB);
    edge_masks em;
    edges_init(c, qb, nb, q_out_end, &em);
    uint32_t scratch[TCONV_DIRECT_MAX_TAPS];
    perm_idx pi;
    pi.lo = _mm512_loadu_si512(interleave_lo);
    pi.hi = _mm512_loadu_si512(interleave_hi);
    pi.even = _mm512_loadu_si512(gather_even);
    pi.odd = _mm512_loadu_si512(gather_odd);
    for (int64_t r = 0; r < nrows;) {
        /* local copies: output stores cannot alias them, so their fields stay in registers */
        tconv_direct_rowjob jr[2];
        jr[0] = rows[r];
        if (r + 1 < nrows && same_inputs(&rows[r], &rows[r + 1])) {
            jr[1] = rows[r + 1];
            s2_rows(c, &em, qb, nb, ox_end, jr, 2, off, n0, n1, &pi, scratch);
            r += 2;
        } else {
            s2_rows(c, &em, qb, nb, ox_end, jr, 1, off, n0, n1, &pi, scratch);
            r += 1;
        }
    }
}

/* ---------------------------------------------------------------- sw >= 3 */
static void rows_sn(const tconv_direct_cols *c, int64_t ox_begin, int64_t ox_end,
                    const tconv_direct_rowjob *rows, int64_t nrows)
{
    const int64_t sw = c->sw;
    float buf[QB];
    __mmask16 mk[TCONV_DIRECT_MAX_TAPS];
    for (int64_t r = 0; r < nrows; r++) {
        const tconv_direct_rowjob *job = &rows[r];
        if (!job->accumulate && c->ngroups < sw) {
            /* phases without taps hold the initial value; walk the columns once */
            int64_t p = ox_begin % sw;
            int32_t g = 0;
            while (g < c->ngroups && c->g_phase[g] < p)
                g++;
            for (int64_t ox = ox_begin; ox < ox_end; ox++) {
                if (g < c->ngroups && c->g_phase[g] == p)
                    g++;
                else
                    job->out[ox - ox_begin] = job->init;
                if (++p == sw) {
                    p = 0;
                    g = 0;
                }
            }
        }
        for (int32_t g = 0; g < c->ngroups; g++) {
            const int64_t p = c->g_phase[g];
            const int32_t b = c->g_begin[g], e = c->g_begin[g + 1];
            /* q with ox = p + sw*q in [ox_begin, ox_end) */
            const int64_t qa = ceil_div_any(ox_begin - p, sw), qz = ceil_div_any(ox_end - p, sw);
            for (int64_t q0 = qa; q0 < qz; q0 += QB) {
                const int64_t nq = qz - q0 < QB ? qz - q0 : QB;
                float *o = job->out + (p + sw * q0 - ox_begin);
                __m512 a;
                if (job->accumulate) {
                    for (int64_t j = 0; j < nq; j++)
                        buf[j] = o[j * sw];
                    a = _mm512_maskz_loadu_ps((__mmask16)lanes16(0, nq), buf);
                } else {
                    a = _mm512_set1_ps(job->init);
                }
                for (int32_t i = b; i < e; i++)
                    mk[i] = (__mmask16)lanes16(c->qlo[i] - q0, c->qhi[i] - q0);
                for (int64_t t = 0; t < job->nterms; t++) {
                    const float *x = job->terms[t].x + q0, *w = job->terms[t].w;
                    for (int32_t i = b; i < e; i++)
                        a = tap(a, x + c->off[i], w[i], mk[i]);
                }
                _mm512_storeu_ps(buf, a);
                for (int64_t j = 0; j < nq; j++)
                    o[j * sw] = buf[j];
            }
        }
    }
}

/* ---------------------------------------------------------------- stride-2 planes */
static int64_t floor_div2(int64_t a)
{
    return a >= 0 ? a / 2 : -((1 - a) / 2);
}

/* One block of a row pair: 16*U q at q0 (U = 1 or 2). md == NULL: every load inside
 * the input and every store inside the row; otherwise U == 1, md holds the lanes of
 * each of the K + D loads and om0/om1 the lanes to store. */
static ALWAYS_INLINE void s2plane_block(const float *wl, const float *const *xr, int64_t xc,
                                        int64_t cin_g, float *const *yr, int64_t q0, __m512 init,
                                        __m512i ilo, __m512i ihi, const int K, const int D,
                                        const int U, const __mmask16 *md, __mmask16 om0,
                                        __mmask16 om1)
{
    const int64_t kh = 2 * K;
    __m512 acc[2][2][2]; /* [row a][phase b][vector u] */
    for (int a = 0; a < 2; a++)
        for (int b = 0; b < 2; b++)
            for (int u = 0; u < U; u++)
                acc[a][b][u] = init;
    for (int64_t ci = 0; ci < cin_g; ci++)
        for (int i = 0; i < K; i++) {
            if (!xr[i])
                continue;
            const float *xp = xr[i] + ci * xc + q0;
            __m512 v[3][2];
            for (int d = 0; d < K + D; d++)
                for (int u = 0; u < U; u++)
                    v[d][u] = md ? _mm512_maskz_loadu_ps(md[d], xp - d)
                                 : _mm512_loadu_ps(xp - d + 16 * u);
            for (int a = 0; a < 2; a++) {
                const float *wr = wl + (ci * kh + a + 2 * i) * kh;
                for (int j = 0; j < K; j++) {
                    const __m512 w0 = _mm512_set1_ps(wr[j]), w1 = _mm512_set1_ps(wr[K + j]);
                    for (int u = 0; u < U; u++) {
                        if (md) {
                            acc[a][0][u] = _mm512_mask3_fmadd_ps(v[D + j][u], w0, acc[a][0][u], md[D + j]);
                            acc[a][1][u] = _mm512_mask3_fmadd_ps(v[j][u], w1, acc[a][1][u], md[j]);
                        } else {
                            acc[a][0][u] = _mm512_fmadd_ps(v[D + j][u], w0, acc[a][0][u]);
                            acc[a][1][u] = _mm512_fmadd_ps(v[j][u], w1, acc[a][1][u]);
                        }
                    }
                }
            }
        }
    for (int a = 0; a < 2; a++) {
        if (!yr[a])
            continue;
        for (int u = 0; u < U; u++) {
            float *o = yr[a] + 2 * q0 + 32 * u;
            const __m512 y0 = _mm512_permutex2var_ps(acc[a][0][u], ilo, acc[a][1][u]);
            const __m512 y1 = _mm512_permutex2var_ps(acc[a][0][u], ihi, acc[a][1][u]);
            if (md) {
                _mm512_mask_storeu_ps(o, om0, y0);
                _mm512_mask_storeu_ps(o + 16, om1, y1);
            } else {
                _mm512_storeu_ps(o, y0);
                _mm512_storeu_ps(o + 16, y1);
            }
        }
    }
}

/* K taps per phase; D = 1 when phase 1's offsets are one above phase 0's (odd pw), so
 * an input row is read at K + D offsets base - d; ONE: cin_g == 1 (weights stay in
 * registers). See direct.h for the structure. */
static ALWAYS_INLINE void s2plane_t(const tconv_direct_s2plane *p, const int K, const int D,
                                    const int ONE)
{
    const tconv_direct_cols *c = p->c;
    const int NL = K + D;
    const int64_t kh = 2 * K, w = c->w, cin_g = ONE ? 1 : p->cin_g;
    /* a local copy: output stores cannot alias it, so broadcasts can stay in registers */
    float wl[TCONV_DIRECT_S2_MAXW];
    for (int64_t i = 0; i < cin_g * kh * kh; i++)
        wl[i] = p->wt[i];
    const int64_t base = c->off[K]; /* phase 1's first tap: the largest offset */
    const int64_t qend = (p->wout + 1) / 2, nb = ceil_div_any(qend, QB);
    /* blocks [k_lo, k_hi) read only columns inside [0, w) and store only inside the row */
    int64_t qlo = NL - 1 - base, qhi = w - base;
    if (qhi > p->wout / 2)
        qhi = p->wout / 2;
    int64_t k_lo = qlo <= 0 ? 0 : ceil_div_any(qlo, QB), k_hi = qhi >= QB ? qhi / QB : 0;
    if (k_lo > nb)
        k_lo = nb;
    if (k_hi < k_lo)
        k_hi = k_lo;
    const __m512i ilo = _mm512_loadu_si512(interleave_lo), ihi = _mm512_loadu_si512(interleave_hi);
    const __m512 init = _mm512_set1_ps(p->init);

    const int64_t m_lo = floor_div2(p->oy0 + p->ph), m_hi = floor_div2(p->oy1 - 1 + p->ph);
    for (int64_t m = m_lo; m <= m_hi; m++) {
        const int64_t oy = 2 * m - p->ph; /* rows oy (a = 0) and oy + 1 (a = 1), NULL outside */
        float *yr[2];
        yr[0] = oy >= p->oy0 ? p->y + oy * p->yh : NULL;
        yr[1] = oy + 1 < p->oy1 ? p->y + (oy + 1) * p->yh : NULL;
        const float *xr[2] = {NULL, NULL}; /* input rows m - i, NULL outside */
        for (int i = 0; i < K; i++)
            if (m - i >= 0 && m - i < p->h)
                xr[i] = p->x + (m - i) * p->xh + base;
        for (int64_t k = 0; k < nb; k++) {
            if (k == k_lo) { /* the blocks inside, two at a time */
                for (; k + 2 <= k_hi; k += 2)
                    s2plane_block(wl, xr, p->xc, cin_g, yr, k * QB, init, ilo, ihi, K, D, 2,
                                  NULL, 0, 0);
                if (k < k_hi)
                    s2plane_block(wl, xr, p->xc, cin_g, yr, k * QB, init, ilo, ihi, K, D, 1,
                                  NULL, 0, 0);
                k = k_hi;
                if (k >= nb)
                    break;
            }
            const int64_t q0 = k * QB, left = p->wout - 2 * q0;
            __mmask16 md[3];
            for (int d = 0; d < NL; d++)
                md[d] = (__mmask16)lanes16(d - base - q0, w - base + d - q0);
            const uint32_t om = left >= 32 ? ~0u : (1u << left) - 1u;
            s2plane_block(wl, xr, p->xc, cin_g, yr, q0, init, ilo, ihi, K, D, 1, md,
                          (__mmask16)om, (__mmask16)(om >> 16));
        }
    }
}

/* The dispatchers (rows_s1, rows_s2, s2plane and the entry points), shared with the
 * other ISA files. */
#define TCONV_DIRECT_ISA(name) name##_avx512
/* Channels-last rows (direct_dispatch.h's clrow loop): 16 channels in one vector, the
 * lanes past nc masked off in every load and store of x, init and y. */
typedef __m512 cl_vec;
typedef __mmask16 cl_mask;

static inline cl_mask cl_lanes(int32_t nc)
{
    return (cl_mask)((1u << nc) - 1u);
}

static inline cl_vec cl_load(const float *p, cl_mask m)
{
    return _mm512_maskz_loadu_ps(m, p);
}

static inline cl_vec cl_fma(cl_vec acc, const float *x, const float *w, cl_mask m)
{
    return _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, x), _mm512_loadu_ps(w), acc);
}

static inline cl_vec cl_fma_full(cl_vec acc, const float *x, const float *w)
{
    return _mm512_fmadd_ps(_mm512_loadu_ps(x), _mm512_loadu_ps(w), acc);
}

static inline void cl_store(float *p, cl_vec v, cl_mask m)
{
    _mm512_mask_storeu_ps(p, m, v);
}

#include "direct_dispatch.h"
