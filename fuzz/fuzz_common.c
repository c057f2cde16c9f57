/*
 * fuzz_common.c - see fuzz_common.h.
 *
 * The model below follows docs/API.md rule by rule (groups E, A, B, C, D, M, S and the
 * per-function check lists). Integer rules are evaluated in exact 128-bit arithmetic:
 * "fits in int64_t" in the documentation means the mathematical value fits, so a
 * library that reports an overflow of some intermediate step, or misses one, disagrees
 * with the model.
 *
 * SPDX-License-Identifier: MIT
 */
#include "fuzz_common.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__extension__ typedef __int128 i128;

#define I64_MAX ((i128)INT64_MAX)
#define I64_MIN ((i128)INT64_MIN)

static bool fits(i128 v)
{
    return v >= I64_MIN && v <= I64_MAX;
}

/* ------------------------------------------------------------------ failure */
static char context[1024];

void fz_set_context(const char *text)
{
    snprintf(context, sizeof context, "%s", text ? text : "");
}

void fz_fail(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "\n*** tconv fuzz check failed: ");
    vfprintf(stderr, fmt, ap);
    va_end(ap);
    fprintf(stderr, "\n*** case: %s\n", context);
    fflush(stderr);
    abort();
}

/* ------------------------------------------------------------------ reader */
uint8_t fz_u8(fz_reader *r)
{
    return r->pos < r->n ? r->p[r->pos++] : 0;
}

uint64_t fz_u64(fz_reader *r)
{
    uint64_t v = 0;
    for (int i = 0; i < 8; i++)
        v |= (uint64_t)fz_u8(r) << (8 * i);
    return v;
}

int64_t fz_pick(fz_reader *r, int64_t lo, int64_t hi)
{
    return lo + (int64_t)(fz_u8(r) % (uint64_t)(hi - lo + 1));
}

/* Boundaries where checked arithmetic usually breaks: 32-bit limits, the square root
 * of INT64_MAX (products of two), quarters and halves (times 4 bytes, times 2 for
 * padding), the extremes. */
static const int64_t hostile_table[] = {
    0, 1, -1, 2, 3, 4, 7, 63, 64, 65, 255, 256, 4096, 1 << 16, 1 << 20,
    INT32_MAX, (int64_t)INT32_MAX + 1, (int64_t)UINT32_MAX, (int64_t)UINT32_MAX + 1,
    (int64_t)1 << 33, 3037000499LL, 3037000500LL, (int64_t)1 << 40, (int64_t)1 << 48,
    (int64_t)1 << 61, (int64_t)1 << 62, ((int64_t)1 << 62) + 1, INT64_MAX / 4,
    INT64_MAX / 4 + 1, INT64_MAX / 2, INT64_MAX / 2 + 1, INT64_MAX - 1, INT64_MAX,
    INT64_MIN, INT64_MIN + 1, -((int64_t)1 << 32), -((int64_t)1 << 62), -2, -64,
    INT32_MIN, (int64_t)INT32_MIN - 1,
};
#define HOSTILE_COUNT (sizeof hostile_table / sizeof hostile_table[0])

int64_t fz_hostile(uint8_t kind, uint64_t raw)
{
    switch (kind % 4) {
    case 0: return (int64_t)(raw % 36) - 4; /* small, sometimes negative */
    case 1: return hostile_table[raw % HOSTILE_COUNT];
    case 2: {
        /* a boundary value nudged by -2..+2, wrapping like the unsigned math it tests */
        uint64_t v = (uint64_t)hostile_table[raw % HOSTILE_COUNT];
        return (int64_t)(v + (uint64_t)((int64_t)((raw >> 8) % 5) - 2));
    }
    default: return (int64_t)raw;
    }
}

/* ------------------------------------------------------------------ allocator */
#define FZ_MAX_LIVE 256

typedef struct live_block {
    void *p;
    size_t size;
} live_block;

/* One table for all fz_alloc instances: the fuzz targets use one or two at a time. */
static pthread_mutex_t alloc_mu = PTHREAD_MUTEX_INITIALIZER;
static struct {
    fz_alloc *owner;
    live_block b;
} live_table[FZ_MAX_LIVE];

static void misuse(fz_alloc *a, const char *what)
{
    if (!a->misuse)
        snprintf(a->misuse_what, sizeof a->misuse_what, "%s", what);
    a->misuse = true;
}

static void *fz_alloc_fn(void *ctx, size_t size, size_t alignment)
{
    fz_alloc *a = ctx;
    pthread_mutex_lock(&alloc_mu);
    const int64_t idx = a->requests++;
    void *p = NULL;
    if (alignment == 0 || (alignment & (alignment - 1)) != 0 || alignment > 4096)
        misuse(a, "alloc called with an alignment that is not a power of two <= 4096");
    else if (size == 0)
        misuse(a, "alloc called with size 0 (the contract says size >= 1)");
    else if (idx == a->fail_at || size > a->cap)
        a->refused++;
    else {
        int slot = -1;
        for (int i = 0; i < FZ_MAX_LIVE; i++)
            if (!live_table[i].owner) {
                slot = i;
                break;
            }
        size_t rounded = (size + alignment - 1) / alignment * alignment;
        if (slot >= 0 && (p = aligned_alloc(alignment, rounded)) != NULL) {
            /* 0xFF bytes are NaNs: scratch read before it is written poisons results */
            memset(p, 0xFF, rounded);
            live_table[slot].owner = a;
            live_table[slot].b.p = p;
            live_table[slot].b.size = size;
            a->granted++;
            a->live++;
            a->live_bytes += size;
            if (a->live_bytes > a->peak_bytes)
                a->peak_bytes = a->live_bytes;
        } else {
            a->refused++;
        }
    }
    pthread_mutex_unlock(&alloc_mu);
    return p;
}

static void fz_free_fn(void *ctx, void *p)
{
    fz_alloc *a = ctx;
    if (!p)
        return;
    pthread_mutex_lock(&alloc_mu);
    int slot = -1;
    for (int i = 0; i < FZ_MAX_LIVE; i++)
        if (live_table[i].owner == a && live_table[i].b.p == p) {
            slot = i;
            break;
        }
    if (slot < 0) {
        misuse(a, "free of a pointer this allocator did not return (or freed twice)");
    } else {
        memset(p, 0xFF, live_table[slot].b.size); /* use after free reads NaNs */
        a->live_bytes -= live_table[slot].b.size;
        live_table[slot].owner = NULL;
        a->live--;
        a->frees++;
        free(p);
    }
    pthread_mutex_unlock(&alloc_mu);
}

void fz_alloc_init(fz_alloc *a, size_t cap)
{
    memset(a, 0, sizeof *a);
    a->hooks.alloc = fz_alloc_fn;
    a->hooks.free = fz_free_fn;
    a->hooks.ctx = a;
    a->cap = cap;
    a->fail_at = -1;
}

void fz_alloc_arm(fz_alloc *a, int64_t fail_at)
{
    pthread_mutex_lock(&alloc_mu);
    a->requests = 0;
    a->refused = 0;
    a->fail_at = fail_at;
    pthread_mutex_unlock(&alloc_mu);
}

void fz_alloc_release_all(fz_alloc *a)
{
    pthread_mutex_lock(&alloc_mu);
    for (int i = 0; i < FZ_MAX_LIVE; i++)
        if (live_table[i].owner == a) {
            free(live_table[i].b.p);
            live_table[i].owner = NULL;
        }
    a->live = 0;
    a->live_bytes = 0;
    pthread_mutex_unlock(&alloc_mu);
}

/* ------------------------------------------------------------------ model */
bool fz_out_dim(int64_t in, int64_t k, int64_t stride, int64_t pad, int64_t dil, int64_t outpad,
                int64_t *out)
{
    /* SEMANTICS.md: every intermediate value of the formula, left to right, is checked */
    const i128 a = ((i128)in - 1) * stride, b = (i128)2 * pad, c = (i128)dil * ((i128)k - 1);
    if (!fits(a) || !fits(b) || !fits(a - b) || !fits(c) || !fits(a - b + c) ||
        !fits(a - b + c + outpad) || !fits(a - b + c + outpad + 1))
        return false;
    *out = (int64_t)(a - b + c + outpad + 1);
    return true;
}

tconv_status fz_model_tensor(const tconv_tensor *t, int min_rank, int max_rank, fz_extent *e)
{
    e->lo = e->hi = 0;
    e->empty = false;
    if (t->dtype != TCONV_DTYPE_F32) /* C1 */
        return TCONV_ERR_INVALID_ARGUMENT;
    if (t->rank < min_rank || t->rank > max_rank) /* C2 */
        return TCONV_ERR_INVALID_ARGUMENT;
    if (t->reserved[0] != 0 || t->reserved[1] != 0) /* C3 */
        return TCONV_ERR_INVALID_ARGUMENT;
    for (int d = 0; d < t->rank; d++) { /* C4 */
        if (t->shape[d] < 0)
            return TCONV_ERR_INVALID_ARGUMENT;
        if (t->shape[d] == 0)
            e->empty = true;
    }
    if (e->empty)
        return TCONV_OK;
    /* C5: per-dimension last offset, byte extent, element count */
    i128 lo = 0, hi = 0, count = 1;
    for (int d = 0; d < t->rank; d++) {
        if (t->stride[d] == INT64_MIN)
            return TCONV_ERR_SIZE_OVERFLOW;
        i128 span = ((i128)t->shape[d] - 1) * t->stride[d];
        if (!fits(span))
            return TCONV_ERR_SIZE_OVERFLOW;
        if (span < 0)
            lo += span;
        else
            hi += span;
        count *= t->shape[d];
        if (!fits(lo) || !fits(hi) || !fits(count)) /* partial sums only grow */
            return TCONV_ERR_SIZE_OVERFLOW;
    }
    if (!fits(lo * 4) || !fits((hi + 1) * 4))
        return TCONV_ERR_SIZE_OVERFLOW;
    e->lo = (int64_t)lo;
    e->hi = (int64_t)hi;
    return TCONV_OK;
}

/* M1..M3 for one tensor; its byte hull [*blo, *bhi) (empty range when empty). */
static tconv_status model_memory(const tconv_tensor *t, const fz_extent *e, uintptr_t *blo,
                                 uintptr_t *bhi)
{
    *blo = *bhi = 0;
    if (e->empty)
        return TCONV_OK;
    if (!t->data)
        return TCONV_ERR_NULL_POINTER;
    const uintptr_t base = (uintptr_t)t->data;
    if (base % 4 != 0)
        return TCONV_ERR_INVALID_ARGUMENT;
    const i128 down = -(i128)e->lo * 4, up = ((i128)e->hi + 1) * 4;
    if (down > (i128)base)
        return TCONV_ERR_SIZE_OVERFLOW;
    if ((i128)base + up > (i128)UINTPTR_MAX)
        return TCONV_ERR_SIZE_OVERFLOW;
    *blo = base - (uintptr_t)down;
    *bhi = base + (uintptr_t)up;
    return TCONV_OK;
}

/* M4, the documented conservative rule (SEMANTICS.md): dims with more than one element,
 * sorted by |stride|, each |stride| above the reach of the smaller ones. */
static bool model_nested(const tconv_tensor *t)
{
    i128 st[TCONV_MAX_RANK], sh[TCONV_MAX_RANK];
    int m = 0;
    for (int d = 0; d < t->rank; d++)
        if (t->shape[d] > 1) {
            st[m] = t->stride[d] < 0 ? -(i128)t->stride[d] : (i128)t->stride[d];
            sh[m] = t->shape[d];
            m++;
        }
    for (int i = 0; i < m; i++) /* selection sort: at most four entries */
        for (int j = i + 1; j < m; j++)
            if (st[j] < st[i]) {
                i128 a = st[i], b = sh[i];
                st[i] = st[j];
                sh[i] = sh[j];
                st[j] = a;
                sh[j] = b;
            }
    i128 reach = 0;
    for (int i = 0; i < m; i++) {
        if (st[i] <= reach)
            return false;
        reach += st[i] * (sh[i] - 1);
    }
    return true;
}

static bool hulls_overlap(uintptr_t alo, uintptr_t ahi, uintptr_t blo, uintptr_t bhi)
{
    return alo != ahi && blo != bhi && alo < bhi && blo < ahi;
}

tconv_status fz_model_exec(const tconv_exec *e)
{
    if (!e)
        return TCONV_OK;
    for (int i = 0; i < 6; i++) /* E1 */
        if (e->reserved[i] != 0)
            return TCONV_ERR_INVALID_ARGUMENT;
    if (e->algorithm < 0 || e->algorithm >= TCONV_ALGO_COUNT) /* E2 */
        return TCONV_ERR_INVALID_ARGUMENT;
    if (e->isa < TCONV_ISA_AUTO || e->isa > TCONV_ISA_AVX512) /* E3 */
        return TCONV_ERR_INVALID_ARGUMENT;
    if (e->num_threads < 0) /* E4 */
        return TCONV_ERR_INVALID_ARGUMENT;
    if (e->flags & ~TCONV_FLAG_NO_ALLOC) /* E5 */
        return TCONV_ERR_INVALID_ARGUMENT;
    if (e->workspace_size > 0 && !e->workspace) /* E6 */
        return TCONV_ERR_NULL_POINTER;
    if (e->allocator && (!e->allocator->alloc || !e->allocator->free)) /* E7 */
        return TCONV_ERR_NULL_POINTER;
    return TCONV_OK;
}

static tconv_status model_params(const tconv_params *p, bool check_outpad)
{
    for (int i = 0; i < 7; i++) /* B1 */
        if (p->reserved[i] != 0)
            return TCONV_ERR_INVALID_ARGUMENT;
    for (int d = 0; d < 2; d++) /* B2 */
        if (p->stride[d] < 1 || p->dilation[d] < 1 || p->padding[d] < 0 ||
            (check_outpad && (p->output_padding[d] < 0 ||
                              (p->output_padding[d] >= p->stride[d] &&
                               p->output_padding[d] >= p->dilation[d]))))
            return TCONV_ERR_INVALID_ARGUMENT;
    if (p->groups < 1) /* B3 */
        return TCONV_ERR_INVALID_ARGUMENT;
    return TCONV_OK;
}

bool fz_model_supports(int algorithm, const tconv_params *p)
{
    /* phase_gemm splits the output into stride[0]*stride[1] phases and takes at most
     * 64 (lower.h, TCONV_MAX_PHASES); the others take every valid shape today. */
    if (algorithm == TCONV_ALGO_PHASE_GEMM)
        return (i128)p->stride[0] * p->stride[1] <= 64;
    return true;
}

tconv_status fz_model(const fz_call *c, tconv_isa isa_top, fz_geom *g)
{
    memset(g, 0, sizeof *g);
    const bool run = c->kind == FZ_PLAN_RUN;
    const bool touches_data = c->kind == FZ_ONESHOT || run;
    const bool with_bias = c->kind != FZ_OUTPUT_SHAPE;
    const bool with_output = c->kind == FZ_ONESHOT || c->kind == FZ_WORKSPACE || run;
    tconv_status st;

    /* E, then for runs the plan's algorithm and ISA */
    if (c->kind != FZ_OUTPUT_SHAPE && (st = fz_model_exec(c->exec)) != TCONV_OK)
        return st;
    if (run && c->exec) {
        if (c->exec->algorithm != TCONV_ALGO_AUTO && c->exec->algorithm != c->plan->algorithm)
            return TCONV_ERR_INVALID_ARGUMENT;
        if (c->exec->isa != TCONV_ISA_AUTO && c->exec->isa != c->plan->isa)
            return TCONV_ERR_INVALID_ARGUMENT;
    }

    /* A: for a run, params and weight are the plan's own */
    tconv_tensor plan_w, plan_b;
    const tconv_params *params = run ? &c->plan->params : c->params;
    const tconv_tensor *weight = c->weight, *bias = with_bias ? c->bias : NULL;
    if (run) {
        plan_w = tconv_tensor_nchw(NULL, c->plan->wshape[0], c->plan->wshape[1],
                                   c->plan->wshape[2], c->plan->wshape[3]);
        plan_b = tconv_tensor_1d(NULL, c->plan->wshape[1] * c->plan->params.groups);
        weight = &plan_w;
        bias = c->plan->has_bias ? &plan_b : NULL;
    }
    const tconv_tensor *x = c->input, *y = with_output ? c->output : NULL;
    if (run) {
        /* input != NULL, then its fit to the plan, before anything else about it */
        if (!x)
            return TCONV_ERR_NULL_POINTER;
        if (x->rank != c->plan->rank && (x->rank == 3 || x->rank == 4))
            return TCONV_ERR_SHAPE_MISMATCH;
        if (x->rank == c->plan->rank) {
            const int o = x->rank == 4 ? 0 : 1;
            const int64_t xn = o ? 1 : x->shape[0];
            if (x->shape[1 - o] != c->plan->wshape[0] || x->shape[2 - o] != c->plan->h ||
                x->shape[3 - o] != c->plan->w || xn > c->plan->n)
                return TCONV_ERR_SHAPE_MISMATCH;
        }
    }
    if (!params || !x || !weight || (touches_data && !c->output))
        return TCONV_ERR_NULL_POINTER;

    /* B */
    if ((st = model_params(params, true)) != TCONV_OK)
        return st;

    /* C: input, weight, bias, output */
    fz_extent ex, ew, eb = {0, 0, true}, ey = {0, 0, true};
    if ((st = fz_model_tensor(x, 3, 4, &ex)) != TCONV_OK)
        return st;
    if ((st = fz_model_tensor(weight, 4, 4, &ew)) != TCONV_OK)
        return st;
    if (bias && (st = fz_model_tensor(bias, 1, 1, &eb)) != TCONV_OK)
        return st;
    if (y && (st = fz_model_tensor(y, x->rank, x->rank, &ey)) != TCONV_OK)
        return st;

    /* D */
    const int off = x->rank == 4 ? 0 : 1;
    const int64_t n = off ? 1 : x->shape[0], cin = x->shape[1 - off], h = x->shape[2 - off],
                  w = x->shape[3 - off];
    if (cin < 1 || h < 1 || w < 1) /* D1 */
        return TCONV_ERR_INVALID_ARGUMENT;
    if (weight->shape[2] < 1 || weight->shape[3] < 1) /* D2 */
        return TCONV_ERR_INVALID_ARGUMENT;
    if (weight->shape[1] < 1) /* D3 */
        return TCONV_ERR_INVALID_ARGUMENT;
    if (cin % params->groups != 0) /* D4 */
        return TCONV_ERR_INVALID_ARGUMENT;
    if (weight->shape[0] != cin) /* D5 */
        return TCONV_ERR_SHAPE_MISMATCH;
    const i128 cout = (i128)weight->shape[1] * params->groups;
    if (!fits(cout)) /* D6 */
        return TCONV_ERR_SIZE_OVERFLOW;
    int64_t hout, wout;
    if (!fz_out_dim(h, weight->shape[2], params->stride[0], params->padding[0],
                    params->dilation[0], params->output_padding[0], &hout) ||
        !fz_out_dim(w, weight->shape[3], params->stride[1], params->padding[1],
                    params->dilation[1], params->output_padding[1], &wout)) /* D7 */
        return TCONV_ERR_SIZE_OVERFLOW;
    if (hout < 1 || wout < 1) /* D8 */
        return TCONV_ERR_INVALID_ARGUMENT;
    /* D9a: per-image sizes, checked even when N = 0 (an empty batch is validated like a
     * batch of one); staged so that no i128 product can wrap */
    const i128 img_in = (i128)cin * h, img_out = cout * hout;
    if (!fits(img_in) || !fits(img_in * w) || !fits(img_in * w * 4) || !fits(img_out) ||
        !fits(img_out * wout) || !fits(img_out * wout * 4))
        return TCONV_ERR_SIZE_OVERFLOW;
    if (!fits((i128)n * cout * hout * wout * 4)) /* D9: each factor < 2^63, no i128 wrap */
        return TCONV_ERR_SIZE_OVERFLOW;
    g->n = n;
    g->cin = cin;
    g->h = h;
    g->w = w;
    g->cout = (int64_t)cout;
    g->cout_g = weight->shape[1];
    g->cin_g = cin / params->groups;
    g->kh = weight->shape[2];
    g->kw = weight->shape[3];
    g->hout = hout;
    g->wout = wout;
    if (c->kind == FZ_OUTPUT_SHAPE)
        return TCONV_OK;
    if (bias && bias->shape[0] != g->cout) /* D10 */
        return TCONV_ERR_SHAPE_MISMATCH;
    if (y) { /* D11 */
        const int64_t want[4] = {n, g->cout, hout, wout};
        for (int d = off; d < 4; d++)
            if (y->shape[d - off] != want[d])
                return TCONV_ERR_SHAPE_MISMATCH;
    }

    if (c->kind == FZ_PLAN_CREATE) { /* M1..M3 for the weight, then the bias */
        uintptr_t lo, hi;
        if ((st = model_memory(weight, &ew, &lo, &hi)) != TCONV_OK)
            return st;
        if (bias && (st = model_memory(bias, &eb, &lo, &hi)) != TCONV_OK)
            return st;
    }

    /* M: input, weight, bias, output; then the output alone; then the hulls. A plan's
     * weight and bias are its own memory: valid, and never overlapping the caller's. */
    if (touches_data) {
        uintptr_t xl, xh, wl = 0, wh = 0, bl = 0, bh = 0, yl, yh;
        if ((st = model_memory(x, &ex, &xl, &xh)) != TCONV_OK)
            return st;
        if (!run && (st = model_memory(weight, &ew, &wl, &wh)) != TCONV_OK)
            return st;
        if (!run && bias && (st = model_memory(bias, &eb, &bl, &bh)) != TCONV_OK)
            return st;
        if ((st = model_memory(y, &ey, &yl, &yh)) != TCONV_OK)
            return st;
        if (!ey.empty && !model_nested(y)) /* M4 */
            return TCONV_ERR_ALIASING;
        if (hulls_overlap(yl, yh, xl, xh) || hulls_overlap(yl, yh, wl, wh) ||
            hulls_overlap(yl, yh, bl, bh)) /* M5 */
            return TCONV_ERR_ALIASING;
    }

    if (run)
        return TCONV_OK;

    /* S */
    const tconv_exec dflt = tconv_exec_default();
    const tconv_exec *e = c->exec ? c->exec : &dflt;
    if (e->isa != TCONV_ISA_AUTO && e->isa > (int)isa_top) /* S1 */
        return TCONV_ERR_UNSUPPORTED;
    if (e->algorithm != TCONV_ALGO_AUTO && !fz_model_supports(e->algorithm, params)) /* S2 */
        return TCONV_ERR_UNSUPPORTED;
    return TCONV_OK;
}
