/*
 * select.c - which algorithm runs a problem: the table of implementations, the pure
 * choice by shape, and the resolution of a call's AUTO options.
 *
 * SPDX-License-Identifier: MIT
 */
#include "algo.h"
#include "thread/pool.h"

#include "direct/direct.h"
#include "lower/lower.h"

extern const tconv_algo_impl tconv__algo_reference;

/* The direct kernel as an algorithm: no packing, no workspace, its own tasks. */
static bool direct_supports(const tconv_shape *s, const char **why)
{
    (void)s;
    (void)why;
    return true;
}

typedef struct direct_ctx {
    const tconv_run_args *a;
} direct_ctx;

static void direct_task(void *ctx, int64_t t)
{
    const direct_ctx *d = ctx;
    tconv__direct_task(d->a->pb, d->a->isa, t);
}

static void direct_run(const tconv_run_args *a)
{
    direct_ctx d = {a};
    tconv__parallel_for(a->exec, a->threads, direct_task, &d, tconv__direct_tasks(a->pb));
}

static const tconv_algo_impl algo_direct = {
    .id = TCONV_ALGO_DIRECT,
    .supports = direct_supports,
    .run = direct_run,
};

const tconv_algo_impl *tconv__algo_impl(tconv_algorithm algo)
{
    switch (algo) {
    case TCONV_ALGO_REFERENCE: return &tconv__algo_reference;
    case TCONV_ALGO_GEMM_COL2IM: return &tconv__algo_gemm_col2im;
    case TCONV_ALGO_PHASE_GEMM: return &tconv__algo_phase_gemm;
    case TCONV_ALGO_DIRECT: return &algo_direct;
    default: return NULL;
    }
}

/* Thresholds of the choice. A packed GEMM with M = Cout/groups rows wastes most of its
 * 8-row register tile when M is tiny; the direct kernel vectorises along the width
 * instead and does not care (DIRECT_MAX_COUT_G, measured on dcgan5: direct about 2x
 * faster than the packed phase path). The phase path's direct feed has a 4-row igemm
 * kernel (AVX-512), which beats the direct kernel once each output sums over enough
 * input channels (PHASE_MIN_CIN_G, measured with 3-4 output channels, k4 s2, 32x32
 * inputs: 8 channels 0.86x, 16: 1.19x, 32: 1.68x, dcgan5's 64: 1.31x; depthwise
 * 0.25x); so does AVX2's 3-row one (dcgan5 at AVX2, one process each, best of two:
 * 2.4-2.7x faster than direct; its 6-row kernel, half idle, was 1.77x).
 * PHASE_MIN_EFFICIENCY is a judgement (below it the phase GEMMs multiply more border
 * zeros than real terms), not yet tuned. */
#define DIRECT_MAX_COUT_G 4
#define PHASE_MIN_CIN_G 16
#define PHASE_MIN_EFFICIENCY 0.5
/* The efficiency estimate walks the kernel; beyond this size (never a real layer) the
 * choice is col2im without looking. */
#define PHASE_MAX_KERNEL 4096

tconv_algorithm tconv__select_algorithm(const tconv_shape *s, tconv_isa isa, const char **reason)
{
    const char *why;
    if (s->cout_g <= DIRECT_MAX_COUT_G && s->cin_g >= PHASE_MIN_CIN_G &&
        s->kh <= PHASE_MAX_KERNEL && s->kw <= PHASE_MAX_KERNEL &&
        tconv__algo_phase_gemm.supports(s, &why) && tconv__phase_direct_only(s, isa) &&
        tconv__phase_efficiency(s) >= PHASE_MIN_EFFICIENCY) {
        *reason = "few output channels per group, many input channels: stride phases fed "
                  "straight from a copy of the input to a few-row igemm kernel";
        return TCONV_ALGO_PHASE_GEMM;
    }
    if (s->cout_g <= DIRECT_MAX_COUT_G) {
        *reason = "few output channels per group (depthwise-like): direct kernel, a GEMM "
                  "would leave its register tile mostly empty";
        return TCONV_ALGO_DIRECT;
    }
    if (s->kh <= PHASE_MAX_KERNEL && s->kw <= PHASE_MAX_KERNEL &&
        tconv__algo_phase_gemm.supports(s, &why) &&
        tconv__phase_efficiency(s) >= PHASE_MIN_EFFICIENCY) {
        *reason = "stride phases: one GEMM per phase written straight to the output";
        return TCONV_ALGO_PHASE_GEMM;
    }
    *reason = "input small next to the kernel (phase GEMMs would mostly multiply border "
              "zeros), too many phases or a huge kernel: GEMM + col2im";
    return TCONV_ALGO_GEMM_COL2IM;
}

int tconv__threads_for_shape(const tconv_shape *s, int requested)
{
    const double flops = 2.0 * (double)s->n * (double)s->cin * (double)s->h * (double)s->w *
                         (double)s->cout_g * (double)s->kh * (double)s->kw;
    return tconv__threads_for_work(tconv__resolve_threads(requested), flops,
                                   tconv__min_flops_per_thread());
}

tconv_status tconv__choose(const tconv_shape *s, const tconv_exec *exec, tconv_algo_choice *c)
{
    const tconv_isa best = tconv_isa_detected();
    if (exec->isa != TCONV_ISA_AUTO && exec->isa > (int)best)
        return tconv__fail(TCONV_ERR_UNSUPPORTED,
                           "exec.isa=%s is not available: this CPU and build support up to %s",
                           tconv_isa_name(exec->isa), tconv_isa_name(best));
    c->isa = exec->isa == TCONV_ISA_AUTO ? best : (tconv_isa)exec->isa;
    if (exec->algorithm == TCONV_ALGO_AUTO) {
        c->algorithm = tconv__select_algorithm(s, c->isa, &c->reason);
    } else {
        c->algorithm = (tconv_algorithm)exec->algorithm;
        const tconv_algo_impl *impl = tconv__algo_impl(c->algorithm);
        const char *why = "not implemented in this build";
        if (!impl || !impl->supports(s, &why))
            return tconv__fail(TCONV_ERR_UNSUPPORTED, "algorithm %s cannot run this problem: %s",
                               tconv_algorithm_name(c->algorithm), why);
        c->reason = "requested by the caller";
    }
    c->threads = tconv__threads_for_shape(s, exec->num_threads);
    if (c->algorithm == TCONV_ALGO_REFERENCE) { /* plain C, one thread, whatever the CPU */
        c->isa = TCONV_ISA_SCALAR;
        c->threads = 1;
    }
    return TCONV_OK;
}
