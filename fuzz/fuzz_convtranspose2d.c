/*
 * fuzz_convtranspose2d.c - libFuzzer target for the whole public API.
 *
 * An input decodes into one problem: small dimensions and parameters (always valid
 * as decoded), a layout per tensor, and up to six "mutations" that overwrite any field
 * with a hostile value (huge, zero, negative, near INT64_MAX, INT64_MIN), set reserved
 * fields, break dtype or rank, make data pointers NULL or misaligned, make the output
 * alias an input or itself, or break the execution options. See make_corpus.py for
 * the byte layout.
 *
 * The problem then goes through every entry point: tconv_output_shape,
 * tconv_output_padding_for_size, tconv_workspace_size, tconv_convtranspose2d_ex for
 * every algorithm x every ISA level <= tconv_isa_detected() x 1..3 threads, and a plan
 * (create, info, workspace query, run, destroy). For every call:
 *   - the status equals the one the documented rules give (fuzz_common.c's model);
 *   - on failure, no byte of any tensor's buffer changed (the output view, the gaps of
 *     a strided output and 16 guard floats around it included) and the thread's error
 *     message is non-empty;
 *   - on success, inputs are unchanged, only the output view changed, it equals the
 *     reference algorithm within tu_check_close's rigorous bound (factor 1), results are
 *     bit-identical across thread counts, and the report is consistent;
 *   - every allocation went through the caller's allocator with a valid alignment, and
 *     all of them were freed; with a caller workspace or TCONV_FLAG_NO_ALLOC none were made;
 *   - a refused allocation gives OUT_OF_MEMORY and nothing else.
 * A problem that is valid but too big to back with memory or to compute quickly is
 * only given to the shape-level calls (output shape, workspace size, plan creation
 * with an allocator that refuses large requests); only problems the model says are
 * invalid reach the data-touching calls with unbacked pointers.
 *
 * SPDX-License-Identifier: MIT
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "testutil.h"

#define CAP_FLOATS (1 << 16)       /* largest tensor extent backed with real memory */
#define GUARD 16                   /* floats of guard zone on each side of the output */
#define MAX_WORK ((double)(1 << 17)) /* multiply-adds a single call may cost */
#define MAX_OUT ((double)(1 << 15))  /* output elements */
#define ALLOC_CAP ((size_t)64 << 20) /* requests above this are refused (OUT_OF_MEMORY) */
#define MAX_MUTATIONS 6
#define MUTATION_BYTES 10

enum { TX, TW, TB, TY, TCOUNT };

enum { DM_NORMAL, DM_NULL, DM_MISALIGN, DM_DUMMY };
enum { WS_NONE, WS_EXACT, WS_SHORT, WS_MISALIGNED };
enum { AM_COUNTING, AM_COUNTING2, AM_LIBC, AM_FAIL_K };

typedef struct tens {
    tconv_tensor t;
    int layout;
    uint8_t lparam;
    int8_t lstr[4];
    int data_mode;
    int misalign;
    float *buf;   /* own allocation (floats), NULL if none */
    size_t len;
    float *dummy; /* 16 floats for unbacked views */
    bool backed;  /* every element of the view lies in memory we own */
    fz_extent ext;
} tens;

typedef struct mutation {
    uint8_t target, kind;
    uint64_t raw;
} mutation;

typedef struct fz_case {
    tconv_params p;
    tens T[TCOUNT];
    bool has_bias, unbatched, hook, noalloc, specials, null_exec, null_report;
    bool null_ptr[4]; /* params, input, weight, output */
    int alias_target; /* -1 none, else TX/TW/TB */
    uint64_t alias_off;
    int ws_mode, alloc_mode, plan_algo, plan_extra, threads_seed;
    int64_t fail_k;
    tconv_exec exec;  /* base options (algorithm, isa, threads set per call) */
    bool mut_algo, mut_isa, mut_threads, mut_ws;
    tconv_allocator broken_alloc;
    int64_t ofs_in[2], ofs_k[2], ofs_out[2];
    mutation mut[MAX_MUTATIONS];
    int nmut;
    uint64_t seed;
} fz_case;

/* Buffers whose bytes are compared before and after each call. */
typedef struct arena {
    unsigned char *base;
    size_t bytes;
    unsigned char *snap;
    bool *may_change; /* per float: an output element (allowed to change on success) */
} arena;

static fz_alloc g_alloc;      /* the calls' allocator */
static fz_alloc g_plan_alloc; /* the plan's allocator */
static bool g_init, g_verbose;
static tconv_isa g_top;

/* Counters the replay driver prints. */
static struct {
    long inputs, calls, ok_compared, rejected, skipped_huge, plans, plan_runs;
    long status[16];
} stats;

void fz_print_stats(FILE *f);
void fz_print_stats(FILE *f)
{
    fprintf(f, "inputs %ld, calls %ld, successful runs compared with the reference %ld, "
               "rejected %ld, valid-but-huge skipped %ld, plans %ld, plan runs %ld\n",
            stats.inputs, stats.calls, stats.ok_compared, stats.rejected, stats.skipped_huge,
            stats.plans, stats.plan_runs);
    fprintf(f, "statuses:");
    for (int i = 0; i < 16; i++)
        if (stats.status[i])
            fprintf(f, " %d:%ld", i, stats.status[i]);
    fprintf(f, "\n");
}

/* ------------------------------------------------------------------ decoding */
static void decode(fz_reader *r, fz_case *cs)
{
    memset(cs, 0, sizeof *cs);
    const uint8_t fa = fz_u8(r), fb = fz_u8(r);
    cs->has_bias = fa & 1;
    cs->unbatched = (fa >> 1) & 1;
    cs->alloc_mode = (fa >> 2) & 3;
    cs->hook = (fa >> 4) & 1;
    cs->noalloc = (fa >> 5) & 1;
    cs->ws_mode = (fa >> 6) & 3;
    cs->fail_k = fb & 7;
    cs->threads_seed = (fb >> 3) & 3;
    cs->plan_extra = (int)((fb >> 5) & 3) - 1; /* planned N = N + {-1, 0, 1, 2} */
    cs->specials = (fb >> 7) & 1;

    const int64_t n = fz_pick(r, 0, 2), cin_g = fz_pick(r, 1, 5), groups = fz_pick(r, 1, 3),
                  cout_g = fz_pick(r, 1, 5), h = fz_pick(r, 1, 6), w = fz_pick(r, 1, 6),
                  kh = fz_pick(r, 1, 4), kw = fz_pick(r, 1, 4);
    tconv_params *p = &cs->p;
    *p = tconv_params_default();
    p->stride[0] = fz_pick(r, 1, 4);
    p->stride[1] = fz_pick(r, 1, 4);
    p->dilation[0] = fz_pick(r, 1, 3);
    p->dilation[1] = fz_pick(r, 1, 3);
    p->padding[0] = fz_pick(r, 0, p->dilation[0] * (kh - 1) + 1);
    p->padding[1] = fz_pick(r, 0, p->dilation[1] * (kw - 1) + 1);
    for (int d = 0; d < 2; d++) {
        int64_t m = p->stride[d] > p->dilation[d] ? p->stride[d] : p->dilation[d];
        p->output_padding[d] = fz_pick(r, 0, m - 1);
    }
    p->groups = groups;
    cs->plan_algo = (int)fz_pick(r, 0, TCONV_ALGO_COUNT - 1);
    cs->seed = 0x9E3779B97F4A7C15ull;
    for (size_t i = 0; i < r->n; i++)
        cs->seed = (cs->seed ^ r->p[i]) * 0x100000001B3ull;

    const int64_t cin = cin_g * groups;
    tconv_tensor *x = &cs->T[TX].t, *wt = &cs->T[TW].t, *b = &cs->T[TB].t;
    *x = cs->unbatched ? tconv_tensor_chw(NULL, cin, h, w) : tconv_tensor_nchw(NULL, n, cin, h, w);
    *wt = tconv_tensor_nchw(NULL, cin, cout_g, kh, kw);
    *b = tconv_tensor_1d(NULL, cout_g * groups);
    for (int t = 0; t < TCOUNT; t++) {
        tens *tn = &cs->T[t];
        uint8_t lb = fz_u8(r);
        tn->layout = lb & 7;
        tn->lparam = lb >> 3;
        for (int d = 0; d < 4; d++)
            tn->lstr[d] = (int8_t)((int)(fz_u8(r) % 13) - 6);
    }
    cs->ofs_in[0] = h;
    cs->ofs_in[1] = w;
    cs->ofs_k[0] = kh;
    cs->ofs_k[1] = kw;
    cs->alias_target = -1;
    cs->nmut = (int)(fz_u8(r) % (MAX_MUTATIONS + 1));
    for (int i = 0; i < cs->nmut; i++) {
        cs->mut[i].target = fz_u8(r);
        cs->mut[i].kind = fz_u8(r);
        cs->mut[i].raw = fz_u64(r);
    }
}

/* Mutation targets (target byte % MT_COUNT). */
enum {
    MT_STRIDE0, MT_STRIDE1, MT_PAD0, MT_PAD1, MT_OUTPAD0, MT_OUTPAD1, MT_DIL0, MT_DIL1,
    MT_GROUPS, MT_PRESERVED,
    MT_XSHAPE, MT_WSHAPE = MT_XSHAPE + 4, MT_BSHAPE = MT_WSHAPE + 4, MT_YSHAPE,
    MT_XSTRIDE = MT_YSHAPE + 4, MT_WSTRIDE = MT_XSTRIDE + 4, MT_BSTRIDE = MT_WSTRIDE + 4,
    MT_YSTRIDE, MT_DTYPE = MT_YSTRIDE + 4, MT_RANK, MT_TRESERVED, MT_DATA, MT_ALIAS,
    MT_ALGO, MT_ISA, MT_THREADS, MT_FLAGS, MT_ERESERVED, MT_WSNULL, MT_ALLOCATOR,
    MT_NULLPTR, MT_OFS, MT_BIAS_TOGGLE,
    MT_COUNT
};
/* make_corpus.py writes these numbers: keep them in step. */
_Static_assert(MT_XSHAPE == 10 && MT_YSHAPE == 19 && MT_XSTRIDE == 23 && MT_YSTRIDE == 32 &&
                   MT_DTYPE == 36 && MT_ALGO == 41 && MT_NULLPTR == 48 && MT_COUNT == 51,
               "mutation target numbers changed: update fuzz/make_corpus.py");

/* Phase 0: params, tensor shapes (not the output's), dtypes, ranks, reserved fields,
 * options and pointers. Phase 1: the output's shape. Phase 2: strides, data pointers,
 * aliasing (they need the final shapes). */
static void apply_mutations(fz_case *cs, int phase)
{
    for (int i = 0; i < cs->nmut; i++) {
        const mutation *m = &cs->mut[i];
        const int t = m->target % MT_COUNT;
        const int64_t v = fz_hostile(m->kind, m->raw);
        const int sel = (int)((m->raw >> 32) % 4); /* which tensor / index for some targets */
        if (phase == 0) {
            if (t <= MT_DIL1) {
                int64_t *f[8] = {&cs->p.stride[0], &cs->p.stride[1], &cs->p.padding[0],
                                 &cs->p.padding[1], &cs->p.output_padding[0],
                                 &cs->p.output_padding[1], &cs->p.dilation[0],
                                 &cs->p.dilation[1]};
                *f[t] = v;
            } else if (t == MT_GROUPS) {
                cs->p.groups = v;
            } else if (t == MT_PRESERVED) {
                cs->p.reserved[(m->raw >> 40) % 7] = v;
            } else if (t >= MT_XSHAPE && t < MT_YSHAPE) {
                const int k = t - MT_XSHAPE;
                if (k < 4)
                    cs->T[TX].t.shape[k] = v;
                else if (k < 8)
                    cs->T[TW].t.shape[k - 4] = v;
                else
                    cs->T[TB].t.shape[0] = v;
            } else if (t == MT_DTYPE) {
                cs->T[sel].t.dtype = (int32_t)v;
            } else if (t == MT_RANK) {
                cs->T[sel].t.rank = (int32_t)v;
            } else if (t == MT_TRESERVED) {
                cs->T[sel].t.reserved[(m->raw >> 40) & 1] = v;
            } else if (t == MT_ALGO) {
                cs->exec.algorithm = (int32_t)v;
                cs->mut_algo = true;
            } else if (t == MT_ISA) {
                cs->exec.isa = (int32_t)v;
                cs->mut_isa = true;
            } else if (t == MT_THREADS) {
                cs->exec.num_threads = (int32_t)v;
                cs->mut_threads = true;
            } else if (t == MT_FLAGS) {
                cs->exec.flags = (uint32_t)v;
            } else if (t == MT_ERESERVED) {
                cs->exec.reserved[(m->raw >> 40) % 6] = v;
            } else if (t == MT_WSNULL) {
                cs->mut_ws = true;
                cs->exec.workspace = NULL;
                cs->exec.workspace_size = (size_t)v;
            } else if (t == MT_ALLOCATOR) {
                cs->broken_alloc.alloc = (m->raw & 1) ? NULL : g_alloc.hooks.alloc;
                cs->broken_alloc.free = (m->raw & 1) ? g_alloc.hooks.free : NULL;
                cs->broken_alloc.ctx = &g_alloc;
                cs->alloc_mode = -1;
            } else if (t == MT_NULLPTR) {
                const int which = (int)(m->raw % 6);
                if (which < 4)
                    cs->null_ptr[which] = true;
                else if (which == 4)
                    cs->null_exec = true;
                else
                    cs->null_report = true;
            } else if (t == MT_OFS) {
                int64_t *f[6] = {&cs->ofs_in[0], &cs->ofs_in[1], &cs->ofs_k[0],
                                 &cs->ofs_k[1], &cs->ofs_out[0], &cs->ofs_out[1]};
                *f[(m->raw >> 40) % 6] = v;
            } else if (t == MT_BIAS_TOGGLE) {
                cs->has_bias = !cs->has_bias;
            }
        } else if (phase == 1) {
            if (t >= MT_YSHAPE && t < MT_YSHAPE + 4)
                cs->T[TY].t.shape[t - MT_YSHAPE] = v;
        } else {
            if (t >= MT_XSTRIDE && t < MT_YSTRIDE + 4) {
                const int k = t - MT_XSTRIDE;
                if (k < 4)
                    cs->T[TX].t.stride[k] = v;
                else if (k < 8)
                    cs->T[TW].t.stride[k - 4] = v;
                else if (k == 8)
                    cs->T[TB].t.stride[0] = v;
                else
                    cs->T[TY].t.stride[k - 9] = v;
            } else if (t == MT_DATA) {
                cs->T[sel].data_mode = 1 + (int)(m->raw % 3);
                cs->T[sel].misalign = 1 + (int)((m->raw >> 8) % 3);
            } else if (t == MT_ALIAS) {
                cs->alias_target = (int)(m->raw % 3);
                cs->alias_off = m->raw >> 8;
            }
        }
    }
}

/* Strides of a layout for the tensor's current shape; unsigned arithmetic so that
 * absurd shapes give absurd (not undefined) strides, which validation must reject. */
static void layout_strides(tens *tn)
{
    tconv_tensor *t = &tn->t;
    const int r = t->rank < 0 ? 0 : t->rank > 4 ? 4 : t->rank;
    if (r == 0)
        return;
    int order[4] = {0, 1, 2, 3};
    const int pad = tn->layout == 2 ? 1 + tn->lparam % 3 : 0;
    if (tn->layout == 1 && r >= 3) { /* channels last */
        const int c = r - 3;
        for (int i = c; i < r - 1; i++)
            order[i] = i + 1;
        order[r - 1] = c;
    } else if (tn->layout == 7) { /* dim 0 fastest */
        for (int i = 0; i < r; i++)
            order[i] = r - 1 - i;
    }
    uint64_t step = 1;
    for (int i = r - 1; i >= 0; i--) {
        const int d = order[i];
        t->stride[d] = (int64_t)step;
        const uint64_t extent = (uint64_t)t->shape[d] + (uint64_t)pad;
        step *= t->shape[d] > 0 ? extent : 1u;
    }
    switch (tn->layout) {
    case 3: t->stride[r - 1] = -t->stride[r - 1]; break;
    case 4:
        for (int d = 0; d < r; d++)
            t->stride[d] = (int64_t)(0u - (uint64_t)t->stride[d]);
        break;
    case 5: t->stride[tn->lparam % r] = 0; break;
    case 6:
        for (int d = 0; d < r; d++)
            t->stride[d] = tn->lstr[d];
        break;
    default: break;
    }
}

static size_t extent_floats(const fz_extent *e)
{
    return (size_t)(e->hi - e->lo + 1);
}

static void fill_values(float *buf, size_t len, tu_rng *rng, bool specials)
{
    for (size_t i = 0; i < len; i++)
        buf[i] = tu_uniform(rng);
    if (specials && len > 0) {
        const float sp[4] = {NAN, INFINITY, -INFINITY, 3e38f};
        for (int k = 0; k < 3; k++)
            buf[tu_next(rng) % len] = sp[tu_next(rng) % 4];
    }
}

/* Allocates what each view needs (exactly its extent, so ASan sees any access outside
 * it) and points the views into it. */
static void build_tensors(fz_case *cs)
{
    tu_rng rng = tu_rng_seed(cs->seed);
    for (int t = 0; t < TCOUNT; t++) {
        tens *tn = &cs->T[t];
        tn->dummy = malloc(16 * sizeof(float));
        for (int i = 0; i < 16; i++)
            tn->dummy[i] = 0.5f;
        /* permissive rank range: backing only needs a well-defined extent */
        const bool ok = fz_model_tensor(&tn->t, 1, 4, &tn->ext) == TCONV_OK;
        /* an empty view needs no memory: it counts as backed */
        tn->backed = ok && (tn->ext.empty || extent_floats(&tn->ext) <= CAP_FLOATS);
    }
    tens *y = &cs->T[TY];
    const bool alias = cs->alias_target >= 0 && y->backed && !y->ext.empty &&
                       cs->T[cs->alias_target].backed && !cs->T[cs->alias_target].ext.empty;
    for (int t = 0; t < TCOUNT; t++) {
        tens *tn = &cs->T[t];
        if (!tn->backed || tn->ext.empty) {
            tn->t.data = tn->dummy;
            continue;
        }
        if (t == TY && alias)
            continue; /* lives inside the target's buffer, placed below */
        const size_t ext = extent_floats(&tn->ext);
        const size_t extra = t == TY ? 2 * GUARD : (alias && t == cs->alias_target)
                                                        ? extent_floats(&y->ext) + 17
                                                        : 0;
        tn->len = ext + extra;
        tn->buf = malloc(tn->len * sizeof(float));
        if (t == TY) {
            memset(tn->buf, 0xA5, tn->len * sizeof(float));
            tn->t.data = tn->buf + GUARD - tn->ext.lo;
        } else {
            fill_values(tn->buf, tn->len, &rng, cs->specials);
            tn->t.data = tn->buf - tn->ext.lo;
        }
    }
    if (alias) {
        tens *tg = &cs->T[cs->alias_target];
        const size_t o = (size_t)(cs->alias_off % (extent_floats(&tg->ext) + 17));
        y->t.data = tg->buf + o - y->ext.lo;
    }
    for (int t = 0; t < TCOUNT; t++) {
        tens *tn = &cs->T[t];
        switch (tn->data_mode) {
        case DM_NULL: tn->t.data = NULL; break;
        case DM_MISALIGN: tn->t.data = (char *)tn->t.data + tn->misalign; break;
        case DM_DUMMY: tn->t.data = tn->dummy; break;
        default: break;
        }
    }
}

static void free_case(fz_case *cs)
{
    for (int t = 0; t < TCOUNT; t++) {
        free(cs->T[t].buf);
        free(cs->T[t].dummy);
    }
}

/* Whether a view's elements can be read or written safely (in our memory, aligned). */
static bool usable(const tens *tn)
{
    return tn->backed && tn->data_mode == DM_NORMAL;
}

/* ------------------------------------------------------------------ arenas */
/* Element count in floating point: shapes may be anything. */
static double numel_d(const tconv_tensor *t)
{
    double n = 1;
    for (int d = 0; d < t->rank && d < TCONV_MAX_RANK; d++)
        n *= (double)t->shape[d];
    return n;
}

typedef struct arenas {
    arena a[TCOUNT];
    int count;
} arenas;

/* All four buffers, the bias's too when the call has none: tconv must not touch it. */
static void arenas_init(arenas *as, const fz_case *cs)
{
    memset(as, 0, sizeof *as);
    for (int t = 0; t < TCOUNT; t++) {
        const tens *tn = &cs->T[t];
        arena *a = &as->a[as->count++];
        a->base = tn->buf ? (unsigned char *)tn->buf : (unsigned char *)tn->dummy;
        a->bytes = (tn->buf ? tn->len : 16) * sizeof(float);
        a->snap = malloc(a->bytes);
        a->may_change = calloc(a->bytes / sizeof(float), sizeof(bool));
    }
    /* mark the output view's elements in whichever buffer holds them (a view with more
     * elements than its extent overlaps itself: it must fail, nothing to mark) */
    const tens *y = &cs->T[TY];
    if (!usable(y) || y->ext.empty || numel_d(&y->t) > (double)extent_floats(&y->ext))
        return;
    const tconv_tensor *t = &y->t;
    int64_t idx[TCONV_MAX_RANK] = {0, 0, 0, 0};
    do {
        const unsigned char *e = (const unsigned char *)tu_at(t, idx);
        for (int i = 0; i < as->count; i++) {
            arena *a = &as->a[i];
            if (e >= a->base && e < a->base + a->bytes)
                a->may_change[(size_t)(e - a->base) / sizeof(float)] = true;
        }
    } while (tu_next_index(t->rank, t->shape, idx));
}

static void arenas_snapshot(arenas *as)
{
    for (int i = 0; i < as->count; i++)
        memcpy(as->a[i].snap, as->a[i].base, as->a[i].bytes);
}

/* Every byte unchanged, except output elements when `ok`. */
static void arenas_check(const arenas *as, bool ok, const char *what)
{
    for (int i = 0; i < as->count; i++) {
        const arena *a = &as->a[i];
        for (size_t f = 0; f < a->bytes / sizeof(float); f++) {
            if (ok && a->may_change[f])
                continue;
            if (memcmp(a->base + f * 4, a->snap + f * 4, 4) != 0)
                fz_fail("%s: memory outside the output view changed (buffer %d, float %zu of "
                        "%zu)%s",
                        what, i, f, a->bytes / 4, ok ? "" : " although the call failed");
        }
    }
}

static void arenas_free(arenas *as)
{
    for (int i = 0; i < as->count; i++) {
        free(as->a[i].snap);
        free(as->a[i].may_change);
    }
}

/* ------------------------------------------------------------------ checks */
static void count_status(tconv_status st)
{
    stats.calls++;
    stats.status[(unsigned)st < 16 ? (unsigned)st : 15]++;
    if (st != TCONV_OK)
        stats.rejected++;
}

static void check_message(tconv_status st, const char *what)
{
    const char *msg = tconv_last_error_message();
    if (!msg)
        fz_fail("%s: tconv_last_error_message() returned NULL", what);
    if (st != TCONV_OK && msg[0] == '\0')
        fz_fail("%s: failed with %s but left no message", what, tconv_status_string(st));
    if (st == TCONV_OK && msg[0] != '\0')
        fz_fail("%s: succeeded but left the message \"%s\"", what, msg);
}

static void check_status(tconv_status got, tconv_status want, const char *what)
{
    if (got != want)
        fz_fail("%s: status %d (%s) but the documented rules give %d (%s); message: %s", what,
                (int)got, tconv_status_string(got), (int)want, tconv_status_string(want),
                tconv_last_error_message());
}

static void check_alloc_balance(const fz_alloc *a, const char *what)
{
    if (a->misuse)
        fz_fail("%s: allocator contract broken: %s", what, a->misuse_what);
    if (a->live != 0)
        fz_fail("%s: %lld allocation(s) (%zu bytes) not freed", what, (long long)a->live,
                a->live_bytes);
}

/* Work of the problem in multiply-adds, both as scatter and as gather. */
static bool small_enough(const fz_geom *g)
{
    const double scatter = (double)g->n * (double)g->cin * (double)g->h * (double)g->w *
                           (double)g->cout_g * (double)g->kh * (double)g->kw;
    const double out = (double)g->n * (double)g->cout * (double)g->hout * (double)g->wout;
    const double gather = out * (double)g->cin_g * (double)g->kh * (double)g->kw;
    return scatter <= MAX_WORK && gather <= MAX_WORK && out <= MAX_OUT;
}

/* Output view values in index order (for bit comparisons across thread counts). */
static float *gather_view(const tconv_tensor *t)
{
    const int64_t count = tu_numel(t);
    float *v = malloc((size_t)(count > 0 ? count : 1) * sizeof(float));
    if (count == 0)
        return v;
    int64_t idx[TCONV_MAX_RANK] = {0, 0, 0, 0}, i = 0;
    do {
        v[i++] = *tu_at(t, idx);
    } while (tu_next_index(t->rank, t->shape, idx));
    return v;
}

static void parallel_reverse(void *ctx, tconv_task_fn fn, void *task_ctx, int64_t n)
{
    int64_t *calls = ctx;
    (*calls)++;
    for (int64_t i = n - 1; i >= 0; i--)
        fn(task_ctx, i);
}
static int64_t hook_calls;

/* ------------------------------------------------------------------ the case */
typedef struct run_state {
    fz_case *cs;
    const tconv_tensor *x, *w, *b, *y; /* NULL where a NULL-pointer mutation applies */
    bool runnable;                     /* every view usable and the work small */
    tconv_tensor ref;                  /* the reference result, if computed */
    bool have_ref;
    arenas as;
    fz_geom g;
    float *first;                      /* 1-thread result of the current (algo, isa) */
} run_state;

static const tconv_allocator *case_allocator(const fz_case *cs)
{
    switch (cs->alloc_mode) {
    case -1: return &cs->broken_alloc;
    case AM_LIBC: return NULL;
    default: return &g_alloc.hooks;
    }
}

/* A caller workspace qualifies if it is non-NULL and, after aligning its pointer up to
 * 64 bytes inside it, at least need - 63 bytes remain (API.md, "Workspace"). */
static bool workspace_qualifies(const tconv_exec *e, size_t need)
{
    if (!e->workspace)
        return false;
    const size_t skip = (size_t)((64 - (uintptr_t)e->workspace % 64) % 64);
    return e->workspace_size >= skip && e->workspace_size - skip >= (need > 63 ? need - 63 : 0);
}

/* The status of the execution step (X) for a call that passed validation. */
static tconv_status model_x(const tconv_exec *e, size_t need, const fz_alloc *a, bool counted)
{
    if (need == 0 || workspace_qualifies(e, need))
        return TCONV_OK;
    if (e->flags & TCONV_FLAG_NO_ALLOC)
        return TCONV_ERR_WORKSPACE_TOO_SMALL;
    if (counted && a->refused > 0)
        return TCONV_ERR_OUT_OF_MEMORY;
    return TCONV_OK;
}

/* Sets up the caller workspace of a call per the decoded mode; returns what to free. */
static void *setup_workspace(const fz_case *cs, tconv_exec *e, size_t need)
{
    if (cs->mut_ws || cs->ws_mode == WS_NONE || need == SIZE_MAX || need > ALLOC_CAP)
        return NULL;
    const size_t bytes = (need + 64 + 63) / 64 * 64;
    unsigned char *mem = aligned_alloc(64, bytes);
    memset(mem, 0xFF, bytes); /* NaNs: reading scratch before writing it shows */
    e->workspace = mem;
    e->workspace_size = need;
    if (cs->ws_mode == WS_SHORT)
        e->workspace_size = need / 2;
    if (cs->ws_mode == WS_MISALIGNED)
        e->workspace = mem + 16;
    return mem;
}

static void check_report(const tconv_report *rep, const tconv_exec *e, size_t need,
                         const char *what)
{
    const int want_algo = e ? e->algorithm : TCONV_ALGO_AUTO;
    if (want_algo != TCONV_ALGO_AUTO && rep->algorithm != want_algo)
        fz_fail("%s: report.algorithm=%d, asked for %d", what, (int)rep->algorithm, want_algo);
    if (rep->algorithm <= TCONV_ALGO_AUTO || rep->algorithm >= TCONV_ALGO_COUNT)
        fz_fail("%s: report.algorithm=%d is not an algorithm", what, (int)rep->algorithm);
    const int want_isa = rep->algorithm == TCONV_ALGO_REFERENCE ? TCONV_ISA_SCALAR
                         : (!e || e->isa == TCONV_ISA_AUTO) ? (int)g_top
                                                            : e->isa;
    if (rep->isa != want_isa)
        fz_fail("%s: report.isa=%d, expected %d", what, (int)rep->isa, want_isa);
    /* API.md: exec.num_threads or the default, fewer for small problems (at most one
     * per 4 MFLOP); always 1 for the reference */
    if (rep->algorithm == TCONV_ALGO_REFERENCE ? rep->num_threads != 1
                                               : (rep->num_threads < 1 ||
                                                  (e && e->num_threads > 0 &&
                                                   rep->num_threads > e->num_threads)))
        fz_fail("%s: report.num_threads=%d for num_threads=%d", what, (int)rep->num_threads,
                e ? (int)e->num_threads : 0);
    if (!rep->reason)
        fz_fail("%s: report.reason is NULL", what);
    if (need != SIZE_MAX && rep->workspace_bytes != need)
        fz_fail("%s: report.workspace_bytes=%zu but tconv_workspace_size said %zu", what,
                rep->workspace_bytes, need);
}

/* The view t as it was before the last call: the same offsets into the snapshot of
 * the buffer that holds it. A plan run may legitimately overwrite the caller's weight
 * (the plan has its own copy), so results are judged against the inputs as they were. */
static tconv_tensor before_call(const run_state *s, const tconv_tensor *t)
{
    tconv_tensor v = *t;
    const unsigned char *d = t->data;
    for (int i = 0; i < s->as.count; i++) {
        const arena *a = &s->as.a[i];
        if (d >= a->base && d < a->base + a->bytes) {
            v.data = a->snap + (d - a->base);
            break;
        }
    }
    return v;
}

/* Compares a successful output with the reference (and, for threads > 1, bit for bit
 * with the 1-thread run of the same algorithm and ISA). */
static void check_result(run_state *s, const tconv_tensor *y, int threads, const char *what)
{
    if (!s->have_ref)
        return;
    stats.ok_compared++;
    if (!s->cs->specials) {
        char msg[512];
        const tconv_tensor x0 = before_call(s, s->x), w0 = before_call(s, s->w),
                           b0 = before_call(s, s->b);
        const tconv_tensor *b = s->cs->has_bias ? &b0 : NULL;
        if (!tu_check_close(&s->cs->p, &x0, &w0, b, y, &s->ref, 1.0, msg, sizeof msg))
            fz_fail("%s: differs from the reference beyond the rigorous bound: %s", what, msg);
    }
    float *v = gather_view(y);
    const size_t bytes = (size_t)tu_numel(y) * sizeof(float);
    if (threads == 1 || !s->first) {
        free(s->first);
        s->first = v;
        return;
    }
    if (memcmp(v, s->first, bytes) != 0)
        fz_fail("%s: %d threads not bit-identical to 1 thread", what, threads);
    free(v);
}

/* One tconv_workspace_size + tconv_convtranspose2d_ex with these options. */
static void one_shot(run_state *s, tconv_exec e, int threads)
{
    fz_case *cs = s->cs;
    char what[160];
    snprintf(what, sizeof what, "one-shot %s/%s/%dT", tconv_algorithm_name(e.algorithm),
             tconv_isa_name(e.isa), (int)e.num_threads);
    const tconv_exec *ep = cs->null_exec ? NULL : &e;
    const tconv_tensor *b = cs->has_bias ? s->b : NULL;
    const tconv_params *pp = cs->null_ptr[0] ? NULL : &cs->p;

    /* the workspace query: no memory rules, output optional */
    fz_call wc = {FZ_WORKSPACE, pp, s->x, s->w, b, s->y, ep, NULL};
    fz_geom g;
    const tconv_status wexp = fz_model(&wc, g_top, &g);
    size_t need = SIZE_MAX;
    fz_alloc_arm(&g_alloc, -1);
    const tconv_status wst = tconv_workspace_size(pp, s->x, s->w, b, s->y, ep, &need);
    count_status(wst);
    check_message(wst, "tconv_workspace_size");
    if (!(wst == wexp || (wexp == TCONV_OK && wst == TCONV_ERR_SIZE_OVERFLOW && !s->runnable)))
        check_status(wst, wexp, "tconv_workspace_size");
    if (g_alloc.requests != 0)
        fz_fail("tconv_workspace_size allocated");
    if (wst != TCONV_OK)
        need = SIZE_MAX;

    /* the call */
    void *ws_mem = setup_workspace(cs, &e, need);
    fz_call c = {FZ_ONESHOT, pp, s->x, s->w, b, cs->null_ptr[3] ? NULL : s->y, ep, NULL};
    tconv_status exp = fz_model(&c, g_top, &g);
    if (exp == TCONV_OK && !s->runnable) {
        stats.skipped_huge++;
        free(ws_mem);
        return;
    }
    const bool counted = ep && e.allocator == &g_alloc.hooks;
    fz_alloc_arm(&g_alloc, cs->alloc_mode == AM_FAIL_K ? cs->fail_k : -1);
    arenas_snapshot(&s->as);
    tconv_report rep;
    memset(&rep, 0x5A, sizeof rep);
    const tconv_report rep_before = rep;
    hook_calls = 0;
    const tconv_status st = tconv_convtranspose2d_ex(pp, s->x, s->w, b, c.output, ep,
                                                     cs->null_report ? NULL : &rep);
    count_status(st);
    check_message(st, what);
    if (exp == TCONV_OK && wst == TCONV_OK)
        exp = ep ? model_x(&e, need, &g_alloc, counted) : TCONV_OK;
    if (exp == TCONV_OK && !counted && need > ALLOC_CAP && need != SIZE_MAX &&
        st == TCONV_ERR_OUT_OF_MEMORY)
        exp = st; /* the C library may refuse a huge workspace too */
    check_status(st, exp, what);
    arenas_check(&s->as, st == TCONV_OK, what);
    if (counted) {
        check_alloc_balance(&g_alloc, what);
        if (g_alloc.refused > 0 && st == TCONV_OK)
            fz_fail("%s: an allocation was refused but the call returned TCONV_OK", what);
        const bool caller_ws = need != SIZE_MAX && workspace_qualifies(&e, need);
        if ((caller_ws || need == 0 || (e.flags & TCONV_FLAG_NO_ALLOC)) && g_alloc.requests)
            fz_fail("%s: allocated %lld time(s) with workspace %zu/%zu bytes, flags %u", what,
                    (long long)g_alloc.requests, e.workspace_size, need, (unsigned)e.flags);
    }
    if (st == TCONV_OK) {
        if (!cs->null_report)
            check_report(&rep, ep, need, what);
        if (ep && e.parallel_for && e.algorithm == TCONV_ALGO_REFERENCE && hook_calls)
            fz_fail("%s: the reference called the parallel-for hook", what);
        check_result(s, c.output, threads, what);
    } else if (!cs->null_report && memcmp(&rep, &rep_before, sizeof rep) != 0) {
        fz_fail("%s: report written by a failing call", what);
    }
    free(ws_mem);
}

/* The reference result into a fresh contiguous output, checked against the exact one. */
static void compute_reference(run_state *s)
{
    fz_case *cs = s->cs;
    const tconv_tensor *b = cs->has_bias ? s->b : NULL;
    int64_t shape[4] = {s->g.n, s->g.cout, s->g.hout, s->g.wout};
    const int rank = s->x->rank;
    tconv_tensor ref;
    memset(&ref, 0, sizeof ref);
    ref.dtype = TCONV_DTYPE_F32;
    ref.rank = rank;
    /* N may be 0 with a huge Hout x Wout: strides then wrap, harmlessly (empty view) */
    uint64_t step = 1;
    for (int d = rank - 1; d >= 0; d--) {
        ref.shape[d] = shape[d + 4 - rank];
        ref.stride[d] = (int64_t)step;
        step *= (uint64_t)ref.shape[d];
    }
    const double count = (double)s->g.n * (double)s->g.cout * (double)s->g.hout * (double)s->g.wout;
    ref.data = malloc((count > 0 ? (size_t)count : 1) * sizeof(float));
    tconv_exec e = tconv_exec_default();
    e.algorithm = TCONV_ALGO_REFERENCE;
    e.num_threads = 1;
    fz_call c = {FZ_ONESHOT, &cs->p, s->x, s->w, b, &ref, &e, NULL};
    fz_geom g;
    if (fz_model(&c, g_top, &g) != TCONV_OK) {
        free(ref.data);
        return;
    }
    const tconv_status st = tconv_convtranspose2d_ex(&cs->p, s->x, s->w, b, &ref, &e, NULL);
    count_status(st);
    check_status(st, TCONV_OK, "reference");
    char msg[512];
    if (!cs->specials && !tu_check_exact(&cs->p, s->x, s->w, b, &ref, 1.0, msg, sizeof msg))
        fz_fail("reference differs from the exact result beyond the rigorous bound: %s", msg);
    s->ref = ref;
    s->have_ref = true;
}

static void plan_path(run_state *s)
{
    fz_case *cs = s->cs;
    const tconv_tensor *b = cs->has_bias ? s->b : NULL;
    tconv_exec pe = cs->exec;
    if (!cs->mut_algo)
        pe.algorithm = cs->plan_algo;
    if (!cs->mut_isa)
        pe.isa = cs->threads_seed == 0 ? TCONV_ISA_AUTO
                                       : (int32_t)(1 + cs->threads_seed % (int)g_top);
    pe.workspace = NULL;
    pe.workspace_size = 0;
    if (cs->mut_ws)
        pe.workspace_size = cs->exec.workspace_size;
    /* Creation allocates the weight copy and packed weights: through the capped
     * allocator, so that a huge broadcast weight fails instead of paging. */
    if (cs->alloc_mode != -1)
        pe.allocator = &g_plan_alloc.hooks;
    const tconv_exec *ep = cs->null_exec ? NULL : &pe;
    tconv_tensor pin;
    const tconv_tensor *pinp = NULL;
    if (s->x) {
        pin = *s->x;
        if (pin.rank == 4)
            pin.shape[0] = (int64_t)((uint64_t)pin.shape[0] + (uint64_t)(int64_t)cs->plan_extra);
        if (cs->seed & 1)
            pin.data = NULL; /* shapes only */
        pinp = &pin;
    }
    const tconv_params *pp = cs->null_ptr[0] ? NULL : &cs->p;
    fz_call c = {FZ_PLAN_CREATE, pp, pinp, s->w, b, NULL, ep, NULL};
    fz_geom g;
    tconv_status exp = fz_model(&c, g_top, &g);
    /* Creation reads the weight and bias over their whole views: only call it with
     * views we back, unless the rules make it fail first. */
    const bool readable = usable(&cs->T[TW]) && (!b || usable(&cs->T[TB]));
    if (exp == TCONV_OK && !readable)
        return;
    /* With exec NULL the plan allocates from the C library, which may grant a huge
     * broadcast weight's copy (overcommit) and page for minutes: not that one. */
    const double weight_bytes =
        (double)g.cin * (double)g.cout_g * (double)g.kh * (double)g.kw * 4.0;
    if (exp == TCONV_OK && !ep && weight_bytes > (double)ALLOC_CAP)
        return;
    fz_alloc_arm(&g_plan_alloc, cs->alloc_mode == AM_FAIL_K ? cs->fail_k : -1);
    arenas_snapshot(&s->as);
    tconv_plan *plan = (tconv_plan *)&plan; /* must be overwritten */
    const tconv_status st = tconv_plan_create(&plan, pp, pinp, s->w, b, ep);
    count_status(st);
    check_message(st, "tconv_plan_create");
    stats.plans++;
    if (exp == TCONV_OK && g_plan_alloc.refused > 0)
        exp = TCONV_ERR_OUT_OF_MEMORY;
    if (exp == TCONV_OK && st == TCONV_ERR_OUT_OF_MEMORY && !ep && !s->runnable)
        exp = st; /* the C library may refuse a huge (valid) layer too */
    check_status(st, exp, "tconv_plan_create");
    arenas_check(&s->as, false, "tconv_plan_create");
    if (st != TCONV_OK) {
        if (plan != NULL)
            fz_fail("tconv_plan_create failed with %d but *plan is not NULL", (int)st);
        if (ep && pe.allocator == &g_plan_alloc.hooks)
            check_alloc_balance(&g_plan_alloc, "failed tconv_plan_create");
        return;
    }
    if (ep && pe.allocator == &g_plan_alloc.hooks &&
        (double)g_plan_alloc.live_bytes < weight_bytes)
        fz_fail("plan holds %zu bytes, less than its weight copy needs", g_plan_alloc.live_bytes);

    tconv_report info;
    if (tconv_plan_info(plan, &info) != TCONV_OK)
        fz_fail("tconv_plan_info failed");
    const int want_algo = ep ? pe.algorithm : TCONV_ALGO_AUTO;
    if ((want_algo != TCONV_ALGO_AUTO && info.algorithm != want_algo) ||
        info.algorithm <= TCONV_ALGO_AUTO || info.algorithm >= TCONV_ALGO_COUNT)
        fz_fail("plan algorithm %d, asked for %d", (int)info.algorithm, want_algo);
    if (info.num_threads != 0 || !info.reason ||
        (info.algorithm == TCONV_ALGO_REFERENCE && info.workspace_bytes != 0))
        fz_fail("tconv_plan_info: num_threads %d (API.md: 0), reason %p, %zu packed bytes",
                (int)info.num_threads, (const void *)info.reason, info.workspace_bytes);
    if (!fz_model_supports(info.algorithm, &cs->p))
        fz_fail("plan chose algorithm %d that does not handle the shape", (int)info.algorithm);

    fz_plan_model pm;
    memset(&pm, 0, sizeof pm);
    pm.params = cs->p;
    memcpy(pm.wshape, s->w->shape, sizeof pm.wshape);
    pm.has_bias = b != NULL;
    pm.rank = pin.rank;
    pm.n = pin.rank == 4 ? pin.shape[0] : 1;
    pm.h = g.h;
    pm.w = g.w;
    pm.algorithm = info.algorithm;
    pm.isa = info.isa;

    /* a run with the call's options */
    tconv_exec re = cs->exec;
    if (!cs->mut_algo)
        re.algorithm = (cs->seed >> 8) & 1 ? info.algorithm : TCONV_ALGO_AUTO;
    if (!cs->mut_isa)
        re.isa = (cs->seed >> 9) & 1 ? info.isa : TCONV_ISA_AUTO;
    if (!cs->mut_threads)
        re.num_threads = 1 + cs->threads_seed % 3;
    const tconv_exec *rep_exec = cs->null_exec ? NULL : &re;
    size_t need = SIZE_MAX;
    const tconv_status qst = tconv_plan_workspace_size(plan, rep_exec, &need);
    count_status(qst);
    check_message(qst, "tconv_plan_workspace_size");
    {
        /* documented checks: E, then algorithm and isa AUTO or the plan's, then X1 */
        tconv_status qexp = fz_model_exec(rep_exec);
        if (qexp == TCONV_OK && rep_exec &&
            ((re.algorithm != TCONV_ALGO_AUTO && re.algorithm != pm.algorithm) ||
             (re.isa != TCONV_ISA_AUTO && re.isa != pm.isa)))
            qexp = TCONV_ERR_INVALID_ARGUMENT;
        if (!(qst == qexp || (qexp == TCONV_OK && qst == TCONV_ERR_SIZE_OVERFLOW && !s->runnable)))
            check_status(qst, qexp, "tconv_plan_workspace_size");
    }
    if (qst != TCONV_OK)
        need = SIZE_MAX;
    void *ws_mem = setup_workspace(cs, &re, need);
    fz_call rc = {FZ_PLAN_RUN, NULL, s->x, NULL, NULL, cs->null_ptr[3] ? NULL : s->y, rep_exec,
                  &pm};
    exp = fz_model(&rc, g_top, &g);
    if (exp == TCONV_OK && !s->runnable) {
        stats.skipped_huge++;
    } else {
        const bool counted = rep_exec && re.allocator == &g_alloc.hooks;
        fz_alloc_arm(&g_alloc, cs->alloc_mode == AM_FAIL_K ? cs->fail_k : -1);
        /* a run without allocator, workspace and NO_ALLOC uses a buffer the plan keeps,
         * allocated through the plan's allocator (which may refuse it) */
        const int64_t plan_refused = g_plan_alloc.refused;
        arenas_snapshot(&s->as);
        tconv_report rep;
        const tconv_status rst = tconv_plan_run(plan, s->x, rc.output, rep_exec, &rep);
        count_status(rst);
        check_message(rst, "tconv_plan_run");
        stats.plan_runs++;
        if (exp == TCONV_OK && qst == TCONV_OK)
            exp = rep_exec ? model_x(&re, need, &g_alloc, counted) : TCONV_OK;
        if (exp == TCONV_OK && g_plan_alloc.refused > plan_refused)
            exp = TCONV_ERR_OUT_OF_MEMORY;
        /* the query covers every run of the plan; a run may need less (fewer images,
         * or views its path reads in place where others copy), and then fits in a
         * workspace of its own need (the report's) */
        if (exp == TCONV_ERR_WORKSPACE_TOO_SMALL && rst == TCONV_OK &&
            (rep.workspace_bytes == 0 || workspace_qualifies(&re, rep.workspace_bytes)))
            exp = rst;
        if (rst == TCONV_OK && qst == TCONV_OK && rep_exec && rep.workspace_bytes > need)
            fz_fail("tconv_plan_run needed %zu bytes of workspace, the plan's query said %zu",
                    rep.workspace_bytes, need);
        if (exp == TCONV_OK && !counted && need > ALLOC_CAP && need != SIZE_MAX &&
            rst == TCONV_ERR_OUT_OF_MEMORY)
            exp = rst; /* the C library may refuse a huge workspace too */
        check_status(rst, exp, "tconv_plan_run");
        arenas_check(&s->as, rst == TCONV_OK, "tconv_plan_run");
        if (counted) {
            check_alloc_balance(&g_alloc, "tconv_plan_run");
            if ((need == 0 || (need != SIZE_MAX && workspace_qualifies(&re, need)) ||
                 (re.flags & TCONV_FLAG_NO_ALLOC)) && g_alloc.requests)
                fz_fail("tconv_plan_run allocated with workspace %zu/%zu bytes, flags %u",
                        re.workspace_size, need, (unsigned)re.flags);
        }
        if (rst == TCONV_OK) {
            if (rep.algorithm != pm.algorithm || rep.isa != pm.isa)
                fz_fail("plan run reports algorithm %d isa %d, plan has %d %d",
                        (int)rep.algorithm, (int)rep.isa, (int)pm.algorithm, (int)pm.isa);
            free(s->first);
            s->first = NULL;
            check_result(s, rc.output, 1, "tconv_plan_run");
        }
    }
    free(ws_mem);
    tconv_plan_destroy(plan);
    if (ep && pe.allocator == &g_plan_alloc.hooks)
        check_alloc_balance(&g_plan_alloc, "tconv_plan_destroy");
}

/* tconv_output_padding_for_size against its documented rules. */
static void output_padding_for_size(const fz_case *cs, const fz_geom *g, bool shapes_ok)
{
    int64_t out[2] = {cs->ofs_out[0], cs->ofs_out[1]};
    if (shapes_ok) { /* by default ask for the size the problem has, plus a nudge */
        out[0] = (int64_t)((uint64_t)out[0] + (uint64_t)g->hout);
        out[1] = (int64_t)((uint64_t)out[1] + (uint64_t)g->wout);
    }
    int64_t op[2] = {-77, -77};
    tconv_params p = cs->p;
    const tconv_status st = tconv_output_padding_for_size(&p, cs->ofs_in, cs->ofs_k, out, op);
    count_status(st);
    check_message(st, "tconv_output_padding_for_size");
    /* the documented rules */
    tconv_status exp = TCONV_OK;
    tconv_params q = p;
    q.output_padding[0] = q.output_padding[1] = 0;
    bool bad_params = false;
    for (int i = 0; i < 7; i++)
        bad_params |= q.reserved[i] != 0;
    for (int d = 0; d < 2; d++)
        bad_params |= q.stride[d] < 1 || q.dilation[d] < 1 || q.padding[d] < 0;
    bad_params |= q.groups < 1;
    int64_t res[2] = {0, 0};
    if (bad_params)
        exp = TCONV_ERR_INVALID_ARGUMENT;
    for (int d = 0; d < 2 && exp == TCONV_OK; d++) {
        int64_t lo;
        if (cs->ofs_in[d] < 1 || cs->ofs_k[d] < 1) {
            exp = TCONV_ERR_INVALID_ARGUMENT;
        } else if (!fz_out_dim(cs->ofs_in[d], cs->ofs_k[d], q.stride[d], q.padding[d],
                               q.dilation[d], 0, &lo) ||
                   lo > INT64_MAX - (q.stride[d] - 1)) {
            exp = TCONV_ERR_SIZE_OVERFLOW;
        } else {
            const int64_t hi = lo + (q.stride[d] - 1);
            if (out[d] < 1 || out[d] < lo || out[d] > hi)
                exp = TCONV_ERR_INVALID_ARGUMENT;
            else
                res[d] = out[d] - lo;
        }
    }
    check_status(st, exp, "tconv_output_padding_for_size");
    if (st != TCONV_OK) {
        if (op[0] != -77 || op[1] != -77)
            fz_fail("tconv_output_padding_for_size wrote output_padding on failure");
        return;
    }
    if (op[0] != res[0] || op[1] != res[1])
        fz_fail("tconv_output_padding_for_size gave (%lld, %lld), expected (%lld, %lld)",
                (long long)op[0], (long long)op[1], (long long)res[0], (long long)res[1]);
}

static void pure_functions(uint64_t raw)
{
    const int v = (int)(int32_t)raw;
    if (!tconv_status_string((tconv_status)v) || !tconv_algorithm_name(v) || !tconv_isa_name(v))
        fz_fail("a name function returned NULL for %d", v);
    const tconv_isa top = tconv_isa_detected();
    if (top < TCONV_ISA_SCALAR || top > TCONV_ISA_AVX512)
        fz_fail("tconv_isa_detected() = %d", (int)top);
}

static void describe(const fz_case *cs, char *buf, size_t len)
{
    const tconv_tensor *x = &cs->T[TX].t, *w = &cs->T[TW].t, *y = &cs->T[TY].t;
    int o = snprintf(buf, len,
                     "x rank %d (%lld,%lld,%lld,%lld) str (%lld,%lld,%lld,%lld); w (%lld,%lld,"
                     "%lld,%lld); y (%lld,%lld,%lld,%lld) str (%lld,%lld,%lld,%lld); stride "
                     "(%lld,%lld) pad (%lld,%lld) outpad (%lld,%lld) dil (%lld,%lld) groups "
                     "%lld bias %d; layouts %d%d%d%d; alias %d; nmut %d",
                     (int)x->rank, (long long)x->shape[0], (long long)x->shape[1],
                     (long long)x->shape[2], (long long)x->shape[3], (long long)x->stride[0],
                     (long long)x->stride[1], (long long)x->stride[2], (long long)x->stride[3],
                     (long long)w->shape[0], (long long)w->shape[1], (long long)w->shape[2],
                     (long long)w->shape[3], (long long)y->shape[0], (long long)y->shape[1],
                     (long long)y->shape[2], (long long)y->shape[3], (long long)y->stride[0],
                     (long long)y->stride[1], (long long)y->stride[2], (long long)y->stride[3],
                     (long long)cs->p.stride[0], (long long)cs->p.stride[1],
                     (long long)cs->p.padding[0], (long long)cs->p.padding[1],
                     (long long)cs->p.output_padding[0], (long long)cs->p.output_padding[1],
                     (long long)cs->p.dilation[0], (long long)cs->p.dilation[1],
                     (long long)cs->p.groups, (int)cs->has_bias, cs->T[0].layout,
                     cs->T[1].layout, cs->T[2].layout, cs->T[3].layout, cs->alias_target,
                     cs->nmut);
    for (int i = 0; i < cs->nmut && o > 0 && (size_t)o < len; i++)
        o += snprintf(buf + o, len - (size_t)o, " [t%d=%lld]", cs->mut[i].target % MT_COUNT,
                      (long long)fz_hostile(cs->mut[i].kind, cs->mut[i].raw));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!g_init) {
        fz_alloc_init(&g_alloc, ALLOC_CAP);
        fz_alloc_init(&g_plan_alloc, ALLOC_CAP);
        g_top = tconv_isa_detected();
        g_verbose = getenv("TCONV_FUZZ_VERBOSE") != NULL;
        g_init = true;
    }
    stats.inputs++;
    fz_reader r = {data, size, 0};
    fz_case *cs = calloc(1, sizeof *cs);
    decode(&r, cs);
    cs->exec = tconv_exec_default();
    apply_mutations(cs, 0);

    /* the output shape the (possibly mutated) problem asks for */
    tconv_tensor *x = &cs->T[TX].t, *y = &cs->T[TY].t;
    *y = *x;
    y->data = NULL;
    {
        const int off = x->rank == 3 ? 1 : 0;
        int64_t hout = 1, wout = 1;
        if (x->rank == 3 || x->rank == 4) {
            if (!fz_out_dim(x->shape[2 - off], cs->T[TW].t.shape[2], cs->p.stride[0],
                            cs->p.padding[0], cs->p.dilation[0], cs->p.output_padding[0], &hout))
                hout = 1;
            if (!fz_out_dim(x->shape[3 - off], cs->T[TW].t.shape[3], cs->p.stride[1],
                            cs->p.padding[1], cs->p.dilation[1], cs->p.output_padding[1], &wout))
                wout = 1;
            const int64_t full[4] = {x->shape[0],
                                     (int64_t)((uint64_t)cs->T[TW].t.shape[1] *
                                               (uint64_t)cs->p.groups),
                                     hout, wout};
            for (int d = 0; d < 4 - off; d++)
                y->shape[d] = full[d + off];
        }
        y->rank = x->rank;
        y->dtype = TCONV_DTYPE_F32;
        y->reserved[0] = y->reserved[1] = 0;
    }
    apply_mutations(cs, 1);
    for (int t = 0; t < TCOUNT; t++)
        layout_strides(&cs->T[t]);
    apply_mutations(cs, 2);
    /* the base options */
    tconv_exec *e = &cs->exec;
    e->allocator = case_allocator(cs);
    if (cs->noalloc)
        e->flags |= TCONV_FLAG_NO_ALLOC;
    if (cs->hook) {
        e->parallel_for = parallel_reverse;
        e->parallel_ctx = &hook_calls;
    }
    build_tensors(cs);

    char desc[1024];
    describe(cs, desc, sizeof desc);
    fz_set_context(desc);
    if (g_verbose) /* sanitizers abort before fz_fail could print the case */
        fprintf(stderr, "case: %s\n", desc);
    pure_functions(cs->seed);

    run_state s;
    memset(&s, 0, sizeof s);
    s.cs = cs;
    s.x = cs->null_ptr[1] ? NULL : &cs->T[TX].t;
    s.w = cs->null_ptr[2] ? NULL : &cs->T[TW].t;
    s.b = &cs->T[TB].t;
    s.y = &cs->T[TY].t;
    arenas_init(&s.as, cs);

    /* tconv_output_shape */
    {
        fz_call c = {FZ_OUTPUT_SHAPE, cs->null_ptr[0] ? NULL : &cs->p, s.x, s.w, NULL, NULL,
                     NULL, NULL};
        const tconv_status exp = fz_model(&c, g_top, &s.g);
        int64_t shape[4] = {-9, -9, -9, -9};
        const tconv_status st = tconv_output_shape(c.params, s.x, s.w, shape);
        count_status(st);
        check_message(st, "tconv_output_shape");
        check_status(st, exp, "tconv_output_shape");
        if (st == TCONV_OK) {
            const int64_t full[4] = {s.g.n, s.g.cout, s.g.hout, s.g.wout};
            const int off = s.x->rank == 4 ? 0 : 1;
            for (int d = 0; d < 4; d++)
                if (d < s.x->rank ? shape[d] != full[d + off] : shape[d] != -9)
                    fz_fail("tconv_output_shape: shape[%d]=%lld", d, (long long)shape[d]);
        }
        output_padding_for_size(cs, &s.g, exp == TCONV_OK);
        const bool views_ok = usable(&cs->T[TX]) && usable(&cs->T[TW]) &&
                              (!cs->has_bias || usable(&cs->T[TB])) && usable(&cs->T[TY]);
        s.runnable = exp == TCONV_OK && views_ok && small_enough(&s.g);
    }
    if (s.runnable && s.x && s.w)
        compute_reference(&s);

    /* every algorithm x ISA level x 1..3 threads (or the mutated options once) */
    if (cs->mut_algo || cs->mut_isa || cs->mut_threads) {
        tconv_exec one = *e;
        if (!cs->mut_threads)
            one.num_threads = 1 + cs->threads_seed % 3;
        one_shot(&s, one, one.num_threads);
    } else {
        for (int a = 0; a < TCONV_ALGO_COUNT; a++)
            for (int isa = a == 0 ? 0 : 1; isa <= (a == 0 ? 0 : (int)g_top); isa++) {
                free(s.first);
                s.first = NULL;
                for (int t = 1; t <= 3; t++) {
                    tconv_exec one = *e;
                    one.algorithm = a;
                    one.isa = isa;
                    one.num_threads = t;
                    one_shot(&s, one, t);
                }
            }
    }
    plan_path(&s);

    free(s.first);
    free(s.ref.data);
    arenas_free(&s.as);
    free_case(cs);
    free(cs);
    if (g_alloc.live || g_plan_alloc.live || g_alloc.misuse || g_plan_alloc.misuse) {
        check_alloc_balance(&g_alloc, "end of input");
        check_alloc_balance(&g_plan_alloc, "end of input (plan allocator)");
    }
    return 0;
}
