/*
 * direct_avx2.c - AVX2 + FMA row and plane kernels of the direct algorithm (contract in
 * direct.h). The structure is that of direct_avx512.c with 8-lane vectors:
 *
 * The unit of work is a block of 8 consecutive q (one ymm per phase). With sw == 1 a
 * block is 8 output columns. With sw == 2 both phases are computed for the same q and
 * interleaved into two contiguous output vectors (unpack + lane permute). With sw >= 3
 * each phase is computed on its own and written with stride sw through a buffer.
 * Blocks inside the row run unmasked, two at a time; blocks at the edges load only the
 * lanes whose input column exists (vmaskmovps) and blend the FMA result away on the
 * others: AVX2 has no merge-masked FMA, and an out-of-range tap must be skipped, not
 * multiplied by zero, so that -0.0 and inf/NaN weights behave as in the reference.
 * Two output rows that read the same input rows (stride 2, even kernel height) share
 * their loads. The common tap counts are instantiated with the count known at compile
 * time.
 *
 * SPDX-License-Identifier: MIT
 */
#include <immintrin.h>
#include <stdbool.h>

#include "direct.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

enum { QB = 8 }; /* q per block */

/* Lanes [lo, hi) of a block, clamped, as bits. */
static uint32_t lanes8(int64_t lo, int64_t hi)
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

/* Lane i of the result is all-ones if bit i of `bits` is set. */
static ALWAYS_INLINE __m256i mask8(uint32_t bits)
{
    const __m256i sel = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)bits), sel), sel);
}

/* acc += x[p + lane] * w on the lanes of m; the other lanes are neither loaded nor changed. */
static ALWAYS_INLINE __m256 tap_masked(__m256 acc, __m256 xv, __m256 wv, __m256i m)
{
    return _mm256_blendv_ps(acc, _mm256_fmadd_ps(xv, wv, acc), _mm256_castsi256_ps(m));
}

/* Per-tap lane masks (bits) of the block at q0: lanes whose input column is in [0, w). */
static void block_masks(const tconv_direct_cols *c, int64_t q0, uint32_t *tm)
{
    for (int32_t i = 0; i < c->ntaps; i++)
        tm[i] = lanes8(c->qlo[i] - q0, c->qhi[i] - q0);
}

/* Blocks start at q = qb + k*QB, k < nb. Blocks [full_lo, full_hi) have every tap valid
 * on every lane and end before q_out_end. The masks of up to EDGE_CACHE blocks on each
 * side are computed once per call, further ones when needed. */
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
    em->full_lo = ceil_div_any(lo - qb, QB);
    em->full_hi = hi - qb >= QB ? (hi - qb) / QB : 0;
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
/* One row, one block of 8*U columns at q0 written at o. tm == NULL: every tap valid on
 * every lane (any U); otherwise U == 1, tm holds the per-tap lane bits and om the lanes
 * to store. NT: tap count known at compile time, or -1 (nt from the caller). */
static ALWAYS_INLINE void s1_block(const tconv_direct_rowjob *job, int64_t q0, float *o,
                                   const int64_t *off, int32_t nt, const int U,
                                   const uint32_t *tm, uint32_t om)
{
    __m256 a[2];
    __m256i mo = _mm256_setzero_si256();
    if (tm)
        mo = mask8(om);
    for (int u = 0; u < U; u++) {
        if (job->accumulate)
            a[u] = tm ? _mm256_maskload_ps(o, mo) : _mm256_loadu_ps(o + 8 * u);
        else
            a[u] = _mm256_set1_ps(job->init);
    }
    __m256i mk[TCONV_DIRECT_MAX_TAPS];
    if (tm)
        for (int32_t i = 0; i < nt; i++)
            mk[i] = mask8(tm[i]);
    for (int64_t t = 0; t < job->nterms; t++) {
        const float *x = job->terms[t].x + q0, *w = job->terms[t].w;
        for (int32_t i = 0; i < nt; i++) {
            const __m256 wv = _mm256_set1_ps(w[i]);
            for (int u = 0; u < U; u++) {
                const float *p = x + off[i] + 8 * u;
                if (tm)
                    a[u] = tap_masked(a[u], _mm256_maskload_ps(p, mk[i]), wv, mk[i]);
                else
                    a[u] = _mm256_fmadd_ps(_mm256_loadu_ps(p), wv, a[u]);
            }
        }
    }
    for (int u = 0; u < U; u++) {
        if (tm)
            _mm256_maskstore_ps(o, mo, a[u]);
        else
            _mm256_storeu_ps(o + 8 * u, a[u]);
    }
}

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
        const tconv_direct_rowjob jr = rows[r]; /* local copy: output stores cannot alias it */
        int64_t k = 0;
        for (; k < em.full_lo; k++) {
            const int64_t q0 = ox_begin + k * QB;
            s1_block(&jr, q0, jr.out + k * QB, off, nt, 1, edge_get(c, &em, ox_begin, k, scratch),
                     lanes8(0, ox_end - q0));
        }
        for (; k + 2 <= em.full_hi; k += 2)
            s1_block(&jr, ox_begin + k * QB, jr.out + k * QB, off, nt, 2, NULL, 0);
        for (; k < em.full_hi; k++)
            s1_block(&jr, ox_begin + k * QB, jr.out + k * QB, off, nt, 1, NULL, 0);
        for (; k < nb; k++) {
            const int64_t q0 = ox_begin + k * QB;
            s1_block(&jr, q0, jr.out + k * QB, off, nt, 1, edge_get(c, &em, ox_begin, k, scratch),
                     lanes8(0, ox_end - q0));
        }
    }
}

/* ---------------------------------------------------------------- sw == 2 */
/* [e0..e7], [d0..d7] -> [e0 d0 .. e3 d3], [e4 d4 .. e7 d7] */
static ALWAYS_INLINE void interleave(__m256 e, __m256 d, __m256 *lo, __m256 *hi)
{
    const __m256 u = _mm256_unpacklo_ps(e, d), v = _mm256_unpackhi_ps(e, d);
    *lo = _mm256_permute2f128_ps(u, v, 0x20);
    *hi = _mm256_permute2f128_ps(u, v, 0x31);
}

/* The inverse of interleave(). */
static ALWAYS_INLINE void deinterleave(__m256 lo, __m256 hi, __m256 *e, __m256 *d)
{
    const __m256 ev = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(2, 0, 2, 0)); /* e0 e1 e4 e5 | e2 e3 e6 e7 */
    const __m256 od = _mm256_shuffle_ps(lo, hi, _MM_SHUFFLE(3, 1, 3, 1));
    *e = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(ev), _MM_SHUFFLE(3, 1, 2, 0)));
    *d = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(od), _MM_SHUFFLE(3, 1, 2, 0)));
}

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

/* R rows (1, or 2 that share their inputs) of one block of 8*U q at q0, written at column
 * offset `oc` of each row. tm == NULL: every tap valid on every lane (any U); otherwise
 * U == 1, tm holds the per-tap lane bits and `left` output columns remain. */
static ALWAYS_INLINE void s2_block(const tconv_direct_rowjob *rows, const int R, int64_t q0,
                                   int64_t oc, const int64_t *off, int32_t n0, int32_t n1,
                                   const int U, const uint32_t *tm, int64_t left)
{
    __m256 e[2][2], d[2][2]; /* [row][vector]: phase 0 and phase 1 at 8 q each */
    __m256i om0 = _mm256_setzero_si256(), om1 = om0;
    if (tm) {
        const uint32_t m = left >= 16 ? 0xffffu : (1u << left) - 1u;
        om0 = mask8(m);
        om1 = mask8(m >> 8);
    }
    for (int r = 0; r < R; r++)
        for (int u = 0; u < U; u++) {
            if (rows[r].accumulate) {
                const float *o = rows[r].out + oc + 16 * u;
                const __m256 v0 = tm ? _mm256_maskload_ps(o, om0) : _mm256_loadu_ps(o);
                const __m256 v1 = tm ? _mm256_maskload_ps(o + 8, om1) : _mm256_loadu_ps(o + 8);
                deinterleave(v0, v1, &e[r][u], &d[r][u]);
            } else {
                e[r][u] = d[r][u] = _mm256_set1_ps(rows[r].init);
            }
        }
    __m256i mk[TCONV_DIRECT_MAX_TAPS];
    if (tm)
        for (int32_t i = 0; i < n0 + n1; i++)
            mk[i] = mask8(tm[i]);
    for (int64_t t = 0; t < rows[0].nterms; t++) {
        const float *x = rows[0].terms[t].x + q0;
        const float *w[2];
        for (int r = 0; r < R; r++)
            w[r] = rows[r].terms[t].w;
        for (int32_t i = 0; i < n0 + n1; i++)
            for (int u = 0; u < U; u++) {
                const float *p = x + off[i] + 8 * u;
                const __m256 xv = tm ? _mm256_maskload_ps(p, mk[i]) : _mm256_loadu_ps(p);
                for (int r = 0; r < R; r++) {
                    __m256 *acc = i < n0 ? &e[r][u] : &d[r][u];
                    const __m256 wv = _mm256_set1_ps(w[r][i]);
                    *acc = tm ? tap_masked(*acc, xv, wv, mk[i]) : _mm256_fmadd_ps(xv, wv, *acc);
                }
            }
    }
    for (int r = 0; r < R; r++)
        for (int u = 0; u < U; u++) {
            float *o = rows[r].out + oc + 16 * u;
            __m256 y0, y1;
            interleave(e[r][u], d[r][u], &y0, &y1);
            if (tm) {
                _mm256_maskstore_ps(o, om0, y0);
                _mm256_maskstore_ps(o + 8, om1, y1);
            } else {
                _mm256_storeu_ps(o, y0);
                _mm256_storeu_ps(o + 8, y1);
            }
        }
}

static ALWAYS_INLINE void s2_rows(const tconv_direct_cols *c, const edge_masks *em, int64_t qb,
                                  int64_t nb, int64_t ox_end, const tconv_direct_rowjob *rows,
                                  const int R, const int64_t *off, int32_t n0, int32_t n1,
                                  uint32_t *scratch)
{
    int64_t k = 0;
    for (; k < em->full_lo; k++) {
        const int64_t q0 = qb + k * QB;
        s2_block(rows, R, q0, 2 * k * QB, off, n0, n1, 1, edge_get(c, em, qb, k, scratch),
                 ox_end - 2 * q0);
    }
    for (; k + 2 <= em->full_hi; k += 2)
        s2_block(rows, R, qb + k * QB, 2 * k * QB, off, n0, n1, 2, NULL, 0);
    for (; k < em->full_hi; k++)
        s2_block(rows, R, qb + k * QB, 2 * k * QB, off, n0, n1, 1, NULL, 0);
    for (; k < nb; k++) {
        const int64_t q0 = qb + k * QB;
        s2_block(rows, R, q0, 2 * k * QB, off, n0, n1, 1, edge_get(c, em, qb, k, scratch),
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
    for (int64_t r = 0; r < nrows;) {
        tconv_direct_rowjob jr[2]; /* local copies: output stores cannot alias them */
        jr[0] = rows[r];
        if (r + 1 < nrows && same_inputs(&rows[r], &rows[r + 1])) {
            jr[1] = rows[r + 1];
            s2_rows(c, &em, qb, nb, ox_end, jr, 2, off, n0, n1, scratch);
            r += 2;
        } else {
            s2_rows(c, &em, qb, nb, ox_end, jr, 1, off, n0, n1, scratch);
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
    __m256i mk[TCONV_DIRECT_MAX_TAPS];
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
                __m256 a;
                if (job->accumulate) {
                    for (int64_t j = 0; j < QB; j++)
                        buf[j] = j < nq ? o[j * sw] : 0.0f;
                    a = _mm256_loadu_ps(buf);
                } else {
                    a = _mm256_set1_ps(job->init);
                }
                for (int32_t i = b; i < e; i++)
                    mk[i] = mask8(lanes8(c->qlo[i] - q0, c->qhi[i] - q0));
                for (int64_t t = 0; t < job->nterms; t++) {
                    const float *x = job->terms[t].x + q0, *w = job->terms[t].w;
                    for (int32_t i = b; i < e; i++)
                        a = tap_masked(a, _mm256_maskload_ps(x + c->off[i], mk[i]),
                                       _mm256_set1_ps(w[i]), mk[i]);
                }
                _mm256_storeu_ps(buf, a);
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

/* One block of a row pair: 8 q at q0. md == NULL: every load inside the input and every
 * store inside the row; otherwise md holds the lanes of each of the K + D loads and
 * om0/om1 the lanes to store. */
static ALWAYS_INLINE void s2plane_block(const float *wl, const float *const *xr, int64_t xc,
                                        int64_t cin_g, float *const *yr, int64_t q0, __m256 init,
                                        const int K, const int D, const __m256i *md,
                                        __m256i om0, __m256i om1)
{
    const int64_t kh = 2 * K;
    __m256 acc[2][2] = {{init, init}, {init, init}}; /* [row a][phase b] */
    for (int64_t ci = 0; ci < cin_g; ci++)
        for (int i = 0; i < K; i++) {
            if (!xr[i])
                continue;
            const float *xp = xr[i] + ci * xc + q0;
            __m256 v[3];
            for (int d = 0; d < K + D; d++)
                v[d] = md ? _mm256_maskload_ps(xp - d, md[d]) : _mm256_loadu_ps(xp - d);
            for (int a = 0; a < 2; a++) {
                const float *wr = wl + (ci * kh + a + 2 * i) * kh;
                for (int j = 0; j < K; j++) {
                    const __m256 w0 = _mm256_set1_ps(wr[j]), w1 = _mm256_set1_ps(wr[K + j]);
                    if (md) {
                        acc[a][0] = tap_masked(acc[a][0], v[D + j], w0, md[D + j]);
                        acc[a][1] = tap_masked(acc[a][1], v[j], w1, md[j]);
                    } else {
                        acc[a][0] = _mm256_fmadd_ps(v[D + j], w0, acc[a][0]);
                        acc[a][1] = _mm256_fmadd_ps(v[j], w1, acc[a][1]);
                    }
                }
            }
        }
    for (int a = 0; a < 2; a++) {
        if (!yr[a])
            continue;
        float *o = yr[a] + 2 * q0;
        __m256 y0, y1;
        interleave(acc[a][0], acc[a][1], &y0, &y1);
        if (md) {
            _mm256_maskstore_ps(o, om0, y0);
            _mm256_maskstore_ps(o + 8, om1, y1);
        } else {
            _mm256_storeu_ps(o, y0);
            _mm256_storeu_ps(o + 8, y1);
        }
    }
}

/* See direct_avx512.c: K taps per phase, D = 1 for odd pw, ONE: cin_g == 1. */
static ALWAYS_INLINE void s2plane_t(const tconv_direct_s2plane *p, const int K, const int D,
                                    const int ONE)
{
    const tconv_direct_cols *c = p->c;
    const int NL = K + D;
    const int64_t kh = 2 * K, w = c->w, cin_g = ONE ? 1 : p->cin_g;
    float wl[TCONV_DIRECT_S2_MAXW]; /* local: output stores cannot alias it */
    for (int64_t i = 0; i < cin_g * kh * kh; i++)
        wl[i] = p->wt[i];
    const int64_t base = c->off[K];
    const int64_t qend = (p->wout + 1) / 2, nb = ceil_div_any(qend, QB);
    int64_t qlo = NL - 1 - base, qhi = w - base;
    if (qhi > p->wout / 2)
        qhi = p->wout / 2;
    int64_t k_lo = qlo <= 0 ? 0 : ceil_div_any(qlo, QB), k_hi = qhi >= QB ? qhi / QB : 0;
    if (k_lo > nb)
        k_lo = nb;
    if (k_hi < k_lo)
        k_hi = k_lo;
    const __m256 init = _mm256_set1_ps(p->init);
    const __m256i none = _mm256_setzero_si256();

    const int64_t m_lo = floor_div2(p->oy0 + p->ph), m_hi = floor_div2(p->oy1 - 1 + p->ph);
    for (int64_t m = m_lo; m <= m_hi; m++) {
        const int64_t oy = 2 * m - p->ph;
        float *yr[2];
        yr[0] = oy >= p->oy0 ? p->y + oy * p->yh : NULL;
        yr[1] = oy + 1 < p->oy1 ? p->y + (oy + 1) * p->yh : NULL;
        const float *xr[2] = {NULL, NULL};
        for (int i = 0; i < K; i++)
            if (m - i >= 0 && m - i < p->h)
                xr[i] = p->x + (m - i) * p->xh + base;
        for (int64_t k = 0; k < nb; k++) {
            if (k == k_lo) {
                for (; k < k_hi; k++)
                    s2plane_block(wl, xr, p->xc, cin_g, yr, k * QB, init, K, D, NULL, none, none);
                if (k >= nb)
                    break;
            }
            const int64_t q0 = k * QB, left = p->wout - 2 * q0;
            __m256i md[3];
            for (int d = 0; d < NL; d++)
                md[d] = mask8(lanes8(d - base - q0, w - base + d - q0));
            const uint32_t om = left >= 16 ? 0xffffu : (1u << left) - 1u;
            s2plane_block(wl, xr, p->xc, cin_g, yr, q0, init, K, D, md, mask8(om), mask8(om >> 8));
        }
    }
}

/* The dispatchers (rows_s1, rows_s2, s2plane and the entry points), shared with the
 * other ISA files. */
#define TCONV_DIRECT_ISA(name) name##_avx2
/* Channels-last rows (direct_dispatch.h's clrow loop): 16 channels in two vectors of
 * 8, the lanes past nc masked off in every load and store of x, init and y. */
typedef struct cl_vec {
    __m256 lo, hi;
} cl_vec;
typedef struct cl_mask {
    __m256i lo, hi;
} cl_mask;

static inline cl_mask cl_lanes(int32_t nc)
{
    const __m256i idx = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    cl_mask m;
    m.lo = _mm256_cmpgt_epi32(_mm256_set1_epi32(nc), idx);
    m.hi = _mm256_cmpgt_epi32(_mm256_set1_epi32(nc - 8), idx);
    return m;
}

static inline cl_vec cl_load(const float *p, cl_mask m)
{
    cl_vec v;
    v.lo = _mm256_maskload_ps(p, m.lo);
    v.hi = _mm256_maskload_ps(p + 8, m.hi);
    return v;
}

static inline cl_vec cl_fma(cl_vec acc, const float *x, const float *w, cl_mask m)
{
    acc.lo = _mm256_fmadd_ps(_mm256_maskload_ps(x, m.lo), _mm256_loadu_ps(w), acc.lo);
    acc.hi = _mm256_fmadd_ps(_mm256_maskload_ps(x + 8, m.hi), _mm256_loadu_ps(w + 8), acc.hi);
    return acc;
}

static inline cl_vec cl_fma_full(cl_vec acc, const float *x, const float *w)
{
    acc.lo = _mm256_fmadd_ps(_mm256_loadu_ps(x), _mm256_loadu_ps(w), acc.lo);
    acc.hi = _mm256_fmadd_ps(_mm256_loadu_ps(x + 8), _mm256_loadu_ps(w + 8), acc.hi);
    return acc;
}

static inline void cl_store(float *p, cl_vec v, cl_mask m)
{
    _mm256_maskstore_ps(p, m.lo, v.lo);
    _mm256_maskstore_ps(p + 8, m.hi, v.hi);
}

#include "direct_dispatch.h"
