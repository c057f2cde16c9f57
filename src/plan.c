/*
 * plan.c - plans: a layer's params, a private copy of its weight and bias, the packed
 * weights of the chosen algorithm, and the choice itself, made once and run many
 * times. A run validates its tensors like a one-shot call and then goes through the
 * same tconv__execute, handing it the packed weights.
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdatomic.h>
#include <string.h>

#include "algo.h"
#include "internal.h"
#include "thread/pool.h"

struct tconv_plan {
    int32_t rank;       /* input rank the plan runs */
    tconv_algo_choice choice;
    tconv_allocator allocator;
    bool has_allocator;
    float *weight;      /* (cin, cout_g, kh, kw) contiguous copy */
    float *bias;        /* (cout) copy or NULL */
    tconv_problem pb;   /* the problem on weight and bias at the planned (largest) N, no
                         * input or output: every run starts from it */
    void *packed;       /* algorithm's packed weights or NULL */
    size_t packed_bytes;
    /* One workspace kept between runs that bring none of their own, so that steady
     * state allocates nothing (no malloc, no page faults). A run takes it with an
     * atomic exchange; a concurrent run finding it taken allocates its own. The buffer
     * starts with its usable size (CACHE_HEADER bytes), then the workspace. */
    _Atomic(char *) ws_cache;
};

#define CACHE_HEADER 64

static const tconv_allocator *plan_alloc(const tconv_plan *p)
{
    return p->has_allocator ? &p->allocator : NULL;
}

void tconv_plan_destroy(tconv_plan *plan)
{
    if (!plan)
        return;
    const tconv_allocator *a = plan_alloc(plan);
    tconv_allocator copy;
    if (a) { /* the struct we free lives inside the plan */
        copy = *a;
        a = &copy;
    }
    tconv__free(a, atomic_load(&plan->ws_cache));
    tconv__free(a, plan->packed);
    tconv__free(a, plan->bias);
    tconv__free(a, plan->weight);
    tconv__free(a, plan);
}

/* Copies a validated view into contiguous memory (shape order): run by run, each run
 * the trailing dimensions whose elements are adjacent (a contiguous weight is one run,
 * one memcpy; with runs of one kernel row, 3 floats, the memcpy calls and index
 * arithmetic took half of creating small_b1's plan, perf's samples), element by
 * element when the last dimension is strided. */
static void copy_dense(float *dst, const float *src, int rank, const int64_t *shape,
                       const int64_t *stride)
{
    int64_t idx[TCONV_MAX_RANK] = {0, 0, 0, 0}, total = 1;
    for (int d = 0; d < rank; d++)
        total *= shape[d];
    const int64_t step = rank > 0 ? stride[rank - 1] : 0;
    int outer = rank > 0 ? rank - 1 : 0; /* dimensions [0, outer) are stepped */
    int64_t run = rank > 0 ? shape[rank - 1] : 1;
    while (step == 1 && outer > 0 && (stride[outer - 1] == run || shape[outer - 1] == 1))
        run *= shape[--outer];
    for (int64_t i = 0; i < total; i += run) {
        int64_t off = 0;
        for (int d = 0; d < outer; d++)
            off += idx[d] * stride[d];
        if (step == 1) {
            memcpy(dst + i, src + off, (size_t)run * sizeof(float));
        } else {
            for (int64_t j = 0; j < run; j++)
                dst[i + j] = src[off + j * step];
        }
        for (int d = outer - 1; d >= 0 && ++idx[d] == shape[d]; d--)
            idx[d] = 0;
    }
}

tconv_status tconv_plan_create(tconv_plan **plan, const tconv_params *params,
                               const tconv_tensor *input, const tconv_tensor *weight,
                               const tconv_tensor *bias, const tconv_exec *exec)
{
    tconv__clear_error();
    if (!plan)
        return tconv__fail(TCONV_ERR_NULL_POINTER, "plan must not be NULL");
    *plan = NULL;
    tconv_exec e = exec ? *exec : tconv_exec_default();
    tconv_status st = tconv__check_exec(&e);
    if (st != TCONV_OK)
        return st;
    /* Shapes of input (data unused) plus the weight and bias data. */
    tconv_problem pb;
    if ((st = tconv__build_problem(params, input, weight, bias, NULL, TCONV_CHECK_WEIGHTS, &pb)) !=
        TCONV_OK)
        return st;
    tconv_algo_choice c;
    if ((st = tconv__choose(&pb.s, &e, &c)) != TCONV_OK)
        return st;
    const tconv_algo_impl *impl = tconv__algo_impl(c.algorithm);
    const tconv_allocator *a = e.allocator;

    tconv_plan *p = tconv__alloc(a, sizeof *p);
    if (!p)
        return tconv__fail(TCONV_ERR_OUT_OF_MEMORY, "could not allocate the plan");
    memset(p, 0, sizeof *p);
    atomic_init(&p->ws_cache, NULL);
    p->rank = input->rank;
    p->choice = c;
    if (a) {
        p->allocator = *a;
        p->has_allocator = true;
    }
    const size_t wcount = (size_t)(pb.s.cin * pb.s.cout_g * pb.s.kh * pb.s.kw);
    p->weight = tconv__alloc(a, wcount * sizeof(float));
    p->bias = bias ? tconv__alloc(a, (size_t)pb.s.cout * sizeof(float)) : NULL;
    p->packed_bytes = impl->packed_bytes ? impl->packed_bytes(&pb.s, c.isa) : 0;
    p->packed = p->packed_bytes ? tconv__alloc(a, p->packed_bytes) : NULL;
    if (!p->weight || (bias && !p->bias) || (p->packed_bytes && !p->packed)) {
        size_t want = wcount * sizeof(float) + p->packed_bytes;
        tconv_plan_destroy(p);
        return tconv__fail(TCONV_ERR_OUT_OF_MEMORY,
                           "could not allocate %zu bytes of plan weights", want);
    }
    copy_dense(p->weight, (const float *)weight->data, 4, weight->shape, weight->stride);
    if (bias)
        copy_dense(p->bias, (const float *)bias->data, 1, bias->shape, bias->stride);
    /* the problem on the private copies that every run starts from, and the packing
     * from it */
    tconv_tensor wv = tconv_tensor_nchw(p->weight, pb.s.cin, pb.s.cout_g, pb.s.kh, pb.s.kw);
    tconv_tensor bv = tconv_tensor_1d(p->bias, pb.s.cout);
    st = tconv__build_problem(params, input, &wv, bias ? &bv : NULL, NULL, TCONV_CHECK_SHAPES,
                              &p->pb);
    if (st != TCONV_OK) { /* cannot happen: the same shapes passed above */
        tconv_plan_destroy(p);
        return st;
    }
    p->pb.x = NULL;
    if (p->packed)
        impl->pack(&p->pb, c.isa, p->packed);
    *plan = p;
    return TCONV_OK;
}

/* exec of a run: valid, and not asking for another algorithm or ISA than planned. */
static tconv_status check_run_exec(const tconv_plan *p, const tconv_exec *e)
{
    tconv_status st = tconv__check_exec(e);
    if (st != TCONV_OK)
        return st;
    if (e->algorithm != TCONV_ALGO_AUTO && e->algorithm != (int)p->choice.algorithm)
        return tconv__fail(TCONV_ERR_INVALID_ARGUMENT,
                           "exec.algorithm=%s differs from the plan's %s (use AUTO)",
                           tconv_algorithm_name(e->algorithm),
                           tconv_algorithm_name(p->choice.algorithm));
    if (e->isa != TCONV_ISA_AUTO && e->isa != (int)p->choice.isa)
        return tconv__fail(TCONV_ERR_INVALID_ARGUMENT,
                           "exec.isa=%s differs from the plan's %s (use AUTO)",
                           tconv_isa_name(e->isa), tconv_isa_name(p->choice.isa));
    return TCONV_OK;
}

/* The plan's choice with the threads of a run on shape s (the run's, or the plan's
 * largest for a workspace query: fewer images never need more threads). */
static tconv_algo_choice run_choice(const tconv_plan *p, const tconv_exec *e,
                                    const tconv_shape *s)
{
    tconv_algo_choice c = p->choice;
    /* the reference is single-threaded whatever the run asks for */
    c.threads = c.algorithm == TCONV_ALGO_REFERENCE ? 1
                                                    : tconv__threads_for_shape(s, e->num_threads);
    return c;
}

tconv_status tconv_plan_run(const tconv_plan *plan, const tconv_tensor *input,
                            const tconv_tensor *output, const tconv_exec *exec,
                            tconv_report *report)
{
    tconv__clear_error();
    if (!plan)
        return tconv__fail(TCONV_ERR_NULL_POINTER, "plan must not be NULL");
    tconv_exec e = exec ? *exec : tconv_exec_default();
    tconv_status st = check_run_exec(plan, &e);
    if (st != TCONV_OK)
        return st;
    tconv_problem pb;
    st = tconv__build_run_problem(&plan->pb, plan->rank, input, output, &pb);
    if (st != TCONV_OK)
        return st;
    tconv_algo_choice c = run_choice(plan, &e, &pb.s);
    const size_t used = tconv__workspace_used(&pb.s, &pb, &c, true),
                 need = tconv__workspace_asked(used);
    if (e.workspace || e.allocator || (e.flags & TCONV_FLAG_NO_ALLOC) || need == 0 ||
        need > SIZE_MAX - CACHE_HEADER)
        return tconv__execute(&pb, &c, &e, plan->packed, used, report);

    /* The plan's cached workspace (plan memory, from the plan's allocator). */
    tconv_plan *mut = (tconv_plan *)plan; /* only the atomic cache slot is touched */
    const tconv_allocator *a = plan_alloc(plan);
    char *buf = atomic_exchange(&mut->ws_cache, NULL);
    if (buf && *(size_t *)buf < need) {
        tconv__free(a, buf);
        buf = NULL;
    }
    if (!buf) {
        buf = tconv__alloc(a, CACHE_HEADER + need);
        if (!buf)
            return tconv__fail(TCONV_ERR_OUT_OF_MEMORY,
                               "could not allocate %zu bytes of workspace for the plan", need);
        *(size_t *)buf = need;
    }
    e.workspace = buf + CACHE_HEADER;
    e.workspace_size = *(size_t *)buf;
    st = tconv__execute(&pb, &c, &e, plan->packed, used, report);
    char *empty = NULL;
    if (!atomic_compare_exchange_strong(&mut->ws_cache, &empty, buf))
        tconv__free(a, buf); /* another run put its buffer back first */
    return st;
}

tconv_status tconv_plan_workspace_size(const tconv_plan *plan, const tconv_exec *exec,
                                       size_t *bytes)
{
    tconv__clear_error();
    if (!plan || !bytes)
        return tconv__fail(TCONV_ERR_NULL_POINTER, "%s must not be NULL",
                           !plan ? "plan" : "bytes");
    tconv_exec e = exec ? *exec : tconv_exec_default();
    tconv_status st = check_run_exec(plan, &e);
    if (st != TCONV_OK)
        return st;
    tconv_algo_choice c = run_choice(plan, &e, &plan->pb.s);
    size_t ws = tconv__workspace_asked(tconv__workspace_used(&plan->pb.s, NULL, &c, true));
    if (ws == SIZE_MAX)
        return tconv__fail(TCONV_ERR_SIZE_OVERFLOW, "workspace size overflows size_t");
    *bytes = ws;
    return TCONV_OK;
}

tconv_status tconv_plan_info(const tconv_plan *plan, tconv_report *report)
{
    tconv__clear_error();
    if (!plan || !report)
        return tconv__fail(TCONV_ERR_NULL_POINTER, "%s must not be NULL",
                           !plan ? "plan" : "report");
    memset(report, 0, sizeof *report);
    report->algorithm = plan->choice.algorithm;
    report->isa = plan->choice.isa;
    report->num_threads = 0; /* decided by each run */
    report->workspace_bytes = plan->packed_bytes;
    report->reason = plan->choice.reason;
    return TCONV_OK;
}
