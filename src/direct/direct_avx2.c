/*
 * direct_avx2.c - AVX2 + FMA row kernel of the direct algorithm (contract in direct.h).
 *
 * Same structure as the AVX-512 kernel: blocks of 16 consecutive q (two ymm per
 * phase); sw == 1 stores them directly, sw == 2 interleaves the two phases with
 * unpack + lane permutes, sw >= 3 writes each phase with stride sw through a buffer.
 *
 * AVX2 has no merge-masked FMA: at the edges, out-of-range lanes are not loaded
 * (vmaskmovps) and the FMA result is blended away on them, so an out-of-range tap is
 * skipped rather than multiplied by zero, as in the reference.
 *
 * SPDX-License-Identifier: MIT
 */
#include <immintrin.h>

#include "direct.h"

#define ALWAYS_INLINE inline __attribute__((always_inline))

enum { QB = 16 }; /* q per block */

/* Lanes [lo, hi) of a 16-lane block, clamped. */
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

/* Lane i of the result is all-ones if bit i of `bits` is set. */
static ALWAYS_INLINE __m256i mask8(uint32_t bits)
{
    const __m256i sel = _mm256_setr_epi32(1, 2, 4, 8, 16, 32, 64, 128);
    return _mm256_cmpeq_epi32(_mm256_and_si256(_mm256_set1_epi32((int)bits), sel), sel);
}

static ALWAYS_INLINE void tap_masked(__m256 *a0, __m256 *a1, const float *x, int64_t off,
                                     __m256 wv, uint32_t m)
{
    if (m == 0)
        return;
    const float *p = x + off;
    const __m256i m0 = mask8(m), m1 = mask8(m >> 8);
    const __m256 t0 = _mm256_fmadd_ps(_mm256_maskload_ps(p, m0), wv, *a0);
    const __m256 t1 = _mm256_fmadd_ps(_mm256_maskload_ps(p + 8, m1), wv, *a1);
    *a0 = _mm256_blendv_ps(*a0, t0, _mm256_castsi256_ps(m0));
    *a1 = _mm256_blendv_ps(*a1, t1, _mm256_castsi256_ps(m1));
}

static ALWAYS_INLINE void tap_full(__m256 *a0, __m256 *a1, const float *x, int64_t off, __m256 wv)
{
    const float *p = x + off;
    *a0 = _mm256_fmadd_ps(_mm256_loadu_ps(p), wv, *a0);
    *a1 = _mm256_fmadd_ps(_mm256_loadu_ps(p + 8), wv, *a1);
}

static ALWAYS_INLINE void phase_terms(const tconv_direct_cols *c, const tconv_direct_rowjob *job,
                                      int64_t q0, int32_t b, int32_t e, const uint32_t *tm,
                                      __m256 *a0, __m256 *a1)
{
    for (int64_t t = 0; t < job->nterms; t++) {
        const float *x = job->terms[t].x + q0, *w = job->terms[t].w;
        for (int32_t i = b; i < e; i++) {
            const __m256 wv = _mm256_set1_ps(w[i]);
            if (tm)
                tap_masked(a0, a1, x, c->off[i], wv, tm[i]);
            else
                tap_full(a0, a1, x, c->off[i], wv);
        }
    }
}

static void block_masks(const tconv_direct_cols *c, int64_t q0, uint32_t *tm)
{
    for (int32_t i = 0; i < c->ntaps; i++)
        tm[i] = lanes16(c->qlo[i] - q0, c->qhi[i] - q0);
}

static void interior(const tconv_direct_cols *c, int64_t *lo, int64_t *hi)
{
    for (int32_t i = 0; i < c->ntaps; i++) {
        if (c->qlo[i] > *lo)
            *lo = c->qlo[i];
        if (c->qhi[i] < *hi)
            *hi = c->qhi[i];
    }
}

/* Masks of the edge blocks, kept for the whole call (see direct_avx512.c). */
enum { EDGE_CACHE = 4 };

typedef struct edge_masks {
    int64_t nb;
    int64_t full_lo, full_hi;
    uint32_t tm[2 * EDGE_CACHE][TCONV_DIRECT_MAX_TAPS];
} edge_masks;

static void edges_init(const tconv_direct_cols *c, int64_t qb, int64_t nb, int64_t q_out_end,
                       edge_masks *em)
{
    int64_t lo = qb, hi = q_out_end;
    interior(c, &lo, &hi);
    em->nb = nb;
    em->full_lo = ceil_div_any(lo - qb, QB);
    em->full_hi = hi - qb >= QB ? (hi - qb) / QB : 0;
    if (em->full_lo > nb)
        em->full_lo = nb;
    if (em->full_hi < em->full_lo)
        em->full_hi = em->full_lo;
    for (int64_t k = 0; k < EDGE_CACHE; k++) {
        if (k < em->full_lo)
            block_masks(c, qb + k * QB, em->tm[k]);
        const int64_t kr = em->full_hi + k;
        if (kr < nb)
            block_masks(c, qb + kr * QB, em->tm[EDGE_CACHE + k]);
    }
}

static const uint32_t *edge_get(const tconv_direct_cols *c, const edge_masks *em, int64_t qb,
                                int64_t k, uint32_t *scratch)
{
    if (k >= em->full_lo && k < em->full_hi)
        return NULL;
    if (k < em->full_lo && k < EDGE_CACHE)
        return em->tm[k];
    if (k >= em->full_hi && k - em->full_hi < EDGE_CACHE)
        return em->tm[EDGE_CACHE + (k - em->full_hi)];
    block_masks(c, qb + k * QB, scratch);
    return scratch;
}

/* ---------------------------------------------------------------- sw == 1 */
static void rows_s1(const tconv_direct_cols *c, int64_t ox_begin, int64_t ox_end,
                    const tconv_direct_rowjob *rows, int64_t nrows)
{
    const int64_t nb = ceil_div_any(ox_end - ox_begin, QB);
    edge_masks em;
    edges_init(c, ox_begin, nb, ox_end, &em);
    uint32_t scratch[TCONV_DIRECT_MAX_TAPS];
    const int32_t ntaps = c->ntaps;
    for (int64_t r = 0; r < nrows; r++) {
        const tconv_direct_rowjob *job = &rows[r];
        const __m256 init = _mm256_set1_ps(job->init);
        for (int64_t k = 0; k < nb; k++) {
            const int64_t q0 = ox_begin + k * QB;
            float *o = job->out + k * QB;
            const uint32_t *tm = edge_get(c, &em, ox_begin, k, scratch);
            __m256 a0 = init, a1 = init;
            if (!tm) {
                if (job->accumulate) {
                    a0 = _mm256_loadu_ps(o);
                    a1 = _mm256_loadu_ps(o + 8);
                }
                phase_terms(c, job, q0, 0, ntaps, NULL, &a0, &a1);
                _mm256_storeu_ps(o, a0);
                _mm256_storeu_ps(o + 8, a1);
            } else {
                const uint32_t om = lanes16(0, ox_end - q0);
                const __m256i m0 = mask8(om), m1 = mask8(om >> 8);
                if (job->accumulate) {
                    a0 = _mm256_maskload_ps(o, m0);
                    a1 = _mm256_maskload_ps(o + 8, m1);
                }
                phase_terms(c, job, q0, 0, ntaps, tm, &a0, &a1);
                _mm256_maskstore_ps(o, m0, a0);
                _mm256_maskstore_ps(o + 8, m1, a1);
            }
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

static ALWAYS_INLINE void block_s2(const tconv_direct_cols *c, const tconv_direct_rowjob *job,
                                   int64_t q0, float *o, const uint32_t *tm, uint32_t om)
{
    __m256 e0, e1, d0, d1;
    __m256i m0 = _mm256_setzero_si256(), m1 = m0, m2 = m0, m3 = m0;
    if (tm) {
        m0 = mask8(om);
        m1 = mask8(om >> 8);
        m2 = mask8(om >> 16);
        m3 = mask8(om >> 24);
    }
    if (job->accumulate) {
        __m256 v0, v1, v2, v3;
        if (tm) {
            v0 = _mm256_maskload_ps(o, m0);
            v1 = _mm256_maskload_ps(o + 8, m1);
            v2 = _mm256_maskload_ps(o + 16, m2);
            v3 = _mm256_maskload_ps(o + 24, m3);
        } else {
            v0 = _mm256_loadu_ps(o);
            v1 = _mm256_loadu_ps(o + 8);
            v2 = _mm256_loadu_ps(o + 16);
            v3 = _mm256_loadu_ps(o + 24);
        }
        deinterleave(v0, v1, &e0, &d0);
        deinterleave(v2, v3, &e1, &d1);
    } else {
        e0 = e1 = d0 = d1 = _mm256_set1_ps(job->init);
    }
    const int32_t b0 = c->p_begin[0], b1 = c->p_begin[1], b2 = c->p_begin[2];
    for (int64_t t = 0; t < job->nterms; t++) {
        const float *x = job->terms[t].x + q0, *w = job->terms[t].w;
        for (int32_t i = b0; i < b1; i++) {
            const __m256 wv = _mm256_set1_ps(w[i]);
            if (tm)
                tap_masked(&e0, &e1, x, c->off[i], wv, tm[i]);
            else
                tap_full(&e0, &e1, x, c->off[i], wv);
        }
        for (int32_t i = b1; i < b2; i++) {
            const __m256 wv = _mm256_set1_ps(w[i]);
            if (tm)
                tap_masked(&d0, &d1, x, c->off[i], wv, tm[i]);
            else
                tap_full(&d0, &d1, x, c->off[i], wv);
        }
    }
    __m256 y0, y1, y2, y3;
    interleave(e0, d0, &y0, &y1);
    interleave(e1, d1, &y2, &y3);
    if (tm) {
        _mm256_maskstore_ps(o, m0, y0);
        _mm256_maskstore_ps(o + 8, m1, y1);
        _mm256_maskstore_ps(o + 16, m2, y2);
        _mm256_maskstore_ps(o + 24, m3, y3);
    } else {
        _mm256_storeu_ps(o, y0);
        _mm256_storeu_ps(o + 8, y1);
        _mm256_storeu_ps(o + 16, y2);
        _mm256_storeu_ps(o + 24, y3);
    }
}

static void rows_s2(const tconv_direct_cols *c, int64_t ox_begin, int64_t ox_end,
                    const tconv_direct_rowjob *rows, int64_t nrows)
{
    const int64_t qb = ox_begin / 2, q_out_end = ox_end / 2;
    const int64_t nb = ceil_div_any(ox_end - ox_begin, 2 * QB);
    edge_masks em;
    edges_init(c, qb, nb, q_out_end, &em);
    uint32_t scratch[TCONV_DIRECT_MAX_TAPS];
    for (int64_t r = 0; r < nrows; r++) {
        const tconv_direct_rowjob *job = &rows[r];
        for (int64_t k = 0; k < nb; k++) {
            const int64_t q0 = qb + k * QB;
            float *o = job->out + 2 * k * QB;
            const uint32_t *tm = edge_get(c, &em, qb, k, scratch);
            if (!tm) {
                block_s2(c, job, q0, o, NULL, ~0u);
            } else {
                const int64_t left = ox_end - 2 * q0;
                const uint32_t om = left >= 32 ? ~0u : (1u << left) - 1u;
                block_s2(c, job, q0, o, tm, om);
            }
        }
    }
}

/* ---------------------------------------------------------------- sw >= 3 */
static void rows_sn(const tconv_direct_cols *c, int64_t ox_begin, int64_t ox_end,
                    const tconv_direct_rowjob *rows, int64_t nrows)
{
    const int64_t sw = c->sw;
    uint32_t tm[TCONV_DIRECT_MAX_TAPS];
    float buf[QB];
    for (int64_t r = 0; r < nrows; r++) {
        const tconv_direct_rowjob *job = &rows[r];
        if (!job->accumulate && c->ngroups < sw) {
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
            const int64_t qa = ceil_div_any(ox_begin - p, sw), qz = ceil_div_any(ox_end - p, sw);
            for (int64_t q0 = qa; q0 < qz; q0 += QB) {
                const int64_t nq = qz - q0 < QB ? qz - q0 : QB;
                float *o = job->out + (p + sw * q0 - ox_begin);
                __m256 a0, a1;
                if (job->accumulate) {
                    for (int64_t j = 0; j < QB; j++)
                        buf[j] = j < nq ? o[j * sw] : 0.0f;
                    a0 = _mm256_loadu_ps(buf);
                    a1 = _mm256_loadu_ps(buf + 8);
                } else {
                    a0 = a1 = _mm256_set1_ps(job->init);
                }
                for (int32_t i = b; i < e; i++)
                    tm[i] = lanes16(c->qlo[i] - q0, c->qhi[i] - q0);
                phase_terms(c, job, q0, b, e, tm, &a0, &a1);
                _mm256_storeu_ps(buf, a0);
                _mm256_storeu_ps(buf + 8, a1);
                for (int64_t j = 0; j < nq; j++)
                    o[j * sw] = buf[j];
            }
        }
    }
}

void tconv__direct_rows_f32_avx2(const tconv_direct_cols *c, int64_t ox_begin, int64_t ox_end,
                                 const tconv_direct_rowjob *rows, int64_t nrows)
{
    if (c->sw == 1)
        rows_s1(c, ox_begin, ox_end, rows, nrows);
    else if (c->sw == 2)
        rows_s2(c, ox_begin, ox_end, rows, nrows);
    else
        rows_sn(c, ox_begin, ox_end, rows, nrows);
}
