/*
 * api.c - the front door: defaults, tensor helpers, and the forward call
 * (validate -> choose algorithm and ISA -> get workspace -> pack -> run -> report).
 * Plans (plan.c) share tconv__execute with the one-shot call.
 *
 * SPDX-License-Identifier: MIT
 */
#include <string.h>

#include "algo.h"
#include "internal.h"

tconv_params tconv_params_default(void)
{
    tconv_params p = TCONV_PARAMS_INIT;
    return p;
}

tconv_exec tconv_exec_default(void)
{
    tconv_exec e = TCONV_EXEC_INIT;
    return e;
}

/* `order` lists the dims from slowest to fastest in memory. */
static tconv_tensor make_tensor(void *data, int rank, const int64_t *shape, const int *order)
{
    tconv_tensor t;
    memset(&t, 0, sizeof t);
    t.data = data;
    t.dtype = TCONV_DTYPE_F32;
    t.rank = rank;
    uint64_t step = 1; /* unsigned: absurd shapes wrap harmlessly, validation rejects them */
    for (int i = rank - 1; i >= 0; i--) {
        int d = order[i];
        t.shape[d] = shape[d];
        t.stride[d] = (int64_t)step;
        step *= shape[d] > 0 ? (uint64_t)shape[d] : 1u;
    }
    return t;
}

tconv_tensor tconv_tensor_nchw(void *data, int64_t n, int64_t c, int64_t h, int64_t w)
{
    const int64_t shape[4] = {n, c, h, w};
    const int order[4] = {0, 1, 2, 3};
    return make_tensor(data, 4, shape, order);
}

tconv_tensor tconv_tensor_nhwc(void *data, int64_t n, int64_t c, int64_t h, int64_t w)
{
    const int64_t shape[4] = {n, c, h, w};
    const int order[4] = {0, 2, 3, 1};
    return make_tensor(data, 4, shape, order);
}

tconv_tensor tconv_tensor_chw(void *data, int64_t c, int64_t h, int64_t w)
{
    const int64_t shape[3] = {c, h, w};
    const int order[3] = {0, 1, 2};
    return make_tensor(data, 3, shape, order);
}

tconv_tensor tconv_tensor_1d(void *data, int64_t n)
{
    const int64_t shape[1] = {n};
    const int order[1] = {0};
    return make_tensor(data, 1, shape, order);
}

const char *tconv_algorithm_name(int algorithm)
{
    static const char *const names[TCONV_ALGO_COUNT] = {"auto", "reference", "gemm_col2im",
                                                        "phase_gemm", "direct"};
    return algorithm >= 0 && algorithm < TCONV_ALGO_COUNT ? names[algorithm] : "?";
}

const char *tconv_isa_name(int isa)
{
    static const char *const names[] = {"auto", "scalar", "avx2", "avx512"};
    return isa >= 0 && isa <= TCONV_ISA_AVX512 ? names[isa] : "?";
}

tconv_status tconv__check_exec(const tconv_exec *e)
{
    for (size_t i = 0; i < sizeof e->reserved / sizeof e->reserved[0]; i++)
        if (e->reserved[i] != 0)
            return tconv__fail(TCONV_ERR_INVALID_ARGUMENT,
                               "exec.reserved[%zu]=%lld must be zero (initialise exec with "
                               "tconv_exec_default())",
                               i, (long long)e->reserved[i]);
    if (e->algorithm < 0 || e->algorithm >= TCONV_ALGO_COUNT)
        return tconv__fail(TCONV_ERR_INVALID_ARGUMENT, "exec.algorithm=%d is not a tconv_algorithm",
                           (int)e->algorithm);
    if (e->isa < 0 || e->isa > TCONV_ISA_AVX512)
        return tconv__fail(TCONV_ERR_INVALID_ARGUMENT, "exec.isa=%d is not a tconv_isa",
                           (int)e->isa);
    if (e->num_threads < 0)
        return tconv__fail(TCONV_ERR_INVALID_ARGUMENT, "exec.num_threads=%d must be >= 0",
                           (int)e->num_threads);
    if (e->flags & ~TCONV_FLAG_NO_ALLOC)
        return tconv__fail(TCONV_ERR_INVALID_ARGUMENT, "exec.flags=0x%x has unknown bits",
                           (unsigned)e->flags);
    if (e->workspace_size > 0 && !e->workspace)
        return tconv__fail(TCONV_ERR_NULL_POINTER,
                           "exec.workspace is NULL but exec.workspace_size=%zu",
                           e->workspace_size);
    if (e->allocator && (!e->allocator->alloc || !e->allocator->free))
        return tconv__fail(TCONV_ERR_NULL_POINTER,
                           "exec.allocator must provide both alloc and free");
    return TCONV_OK;
}

/* Sum of aligned sizes, SIZE_MAX on overflow. */
static size_t add_sizes(size_t a, size_t b)
{
    a = tconv__align_up(a);
    b = tconv__align_up(b);
    return a > SIZE_MAX - b ? SIZE_MAX : a + b;
}

size_t tconv__workspace_used(const tconv_shape *s, const tconv_problem *pb,
                             const tconv_algo_choice *c, bool packed)
{
    if (s->n == 0) /* empty batch: nothing runs */
        return 0;
    const tconv_algo_impl *impl = tconv__algo_impl(c->algorithm);
    size_t ws = impl->workspace_bytes ? impl->workspace_bytes(s, pb, c->isa, c->threads) : 0;
    if (!packed && impl->packed_bytes)
        ws = add_sizes(impl->packed_bytes(s, c->isa), ws);
    return ws;
}

/* Room to align any pointer the caller passes, so that any buffer of this size works. */
size_t tconv__workspace_asked(size_t used)
{
    if (used == 0)
        return 0;
    return used > SIZE_MAX - (TCONV_ALIGN - 1) ? SIZE_MAX : used + (TCONV_ALIGN - 1);
}

tconv_status tconv__execute(const tconv_problem *pb, const tconv_algo_choice *c,
                            const tconv_exec *exec, const void *packed, size_t ws_bytes,
                            tconv_report *report)
{
    const tconv_algo_impl *impl = tconv__algo_impl(c->algorithm);
    const size_t pack_bytes = !packed && impl->packed_bytes ? impl->packed_bytes(&pb->s, c->isa) : 0;
    if (ws_bytes == SIZE_MAX)
        return tconv__fail(TCONV_ERR_SIZE_OVERFLOW, "workspace size of %s overflows size_t",
                           tconv_algorithm_name(c->algorithm));

    /* Scratch memory: the caller's (aligned up inside it) if large enough, else ours
     * (unless forbidden). */
    void *ws = NULL, *owned = NULL;
    if (ws_bytes > 0) {
        const uintptr_t base = (uintptr_t)exec->workspace;
        const size_t skip = (size_t)((TCONV_ALIGN - base % TCONV_ALIGN) % TCONV_ALIGN);
        if (exec->workspace && exec->workspace_size >= skip &&
            exec->workspace_size - skip >= ws_bytes) {
            ws = (char *)exec->workspace + skip;
        } else if (exec->flags & TCONV_FLAG_NO_ALLOC) {
            return tconv__fail(TCONV_ERR_WORKSPACE_TOO_SMALL,
                               "%s needs %zu bytes of workspace (tconv_workspace_size), got %zu "
                               "bytes, and TCONV_FLAG_NO_ALLOC forbids allocating",
                               tconv_algorithm_name(c->algorithm), ws_bytes + TCONV_ALIGN - 1,
                               exec->workspace_size);
        } else {
            owned = ws = tconv__alloc(exec->allocator, ws_bytes);
            if (!ws)
                return tconv__fail(TCONV_ERR_OUT_OF_MEMORY,
                                   "could not allocate %zu bytes of workspace for %s", ws_bytes,
                                   tconv_algorithm_name(c->algorithm));
        }
    }
    if (pb->s.n > 0) { /* an empty batch has no output element: nothing runs */
        tconv_run_args a = {pb, c->isa, c->threads, exec, packed, ws};
        if (pack_bytes > 0) { /* one-shot: pack weights at the start of the workspace */
            impl->pack(pb, c->isa, ws);
            a.packed = ws;
            a.workspace = (char *)ws + tconv__align_up(pack_bytes);
        }
        impl->run(&a);
    }
    tconv__free(exec->allocator, owned);
    if (report) {
        memset(report, 0, sizeof *report);
        report->algorithm = c->algorithm;
        report->isa = c->isa;
        report->num_threads = c->threads;
        report->workspace_bytes = ws_bytes == 0 ? 0 : ws_bytes + TCONV_ALIGN - 1;
        report->reason = c->reason;
    }
    return TCONV_OK;
}

/* The decisions of a one-shot call, shared by the forward call and the workspace query. */
static tconv_status prepare(const tconv_params *params, const tconv_tensor *input,
                            const tconv_tensor *weight, const tconv_tensor *bias,
                            const tconv_tensor *output, const tconv_exec *exec, bool need_data,
                            tconv_problem *pb, tconv_exec *e, tconv_algo_choice *c)
{
    *e = exec ? *exec : tconv_exec_default();
    tconv_status st = tconv__check_exec(e);
    if (st != TCONV_OK)
        return st;
    st = tconv__build_problem(params, input, weight, bias, output,
                              need_data ? TCONV_CHECK_ALL : TCONV_CHECK_SHAPES, pb);
    if (st != TCONV_OK)
        return st;
    return tconv__choose(&pb->s, e, c);
}

tconv_status tconv_workspace_size(const tconv_params *params, const tconv_tensor *input,
                                  const tconv_tensor *weight, const tconv_tensor *bias,
                                  const tconv_tensor *output, const tconv_exec *exec,
                                  size_t *bytes)
{
    tconv__clear_error();
    if (!bytes)
        return tconv__fail(TCONV_ERR_NULL_POINTER, "bytes must not be NULL");
    tconv_problem pb;
    tconv_exec e;
    tconv_algo_choice c;
    tconv_status st = prepare(params, input, weight, bias, output, exec, false, &pb, &e, &c);
    if (st != TCONV_OK)
        return st;
    size_t ws = tconv__workspace_asked(tconv__workspace_used(&pb.s, &pb, &c, false));
    if (ws == SIZE_MAX)
        return tconv__fail(TCONV_ERR_SIZE_OVERFLOW, "workspace size overflows size_t");
    *bytes = ws;
    return TCONV_OK;
}

tconv_status tconv_convtranspose2d_ex(const tconv_params *params, const tconv_tensor *input,
                                      const tconv_tensor *weight, const tconv_tensor *bias,
                                      const tconv_tensor *output, const tconv_exec *exec,
                                      tconv_report *report)
{
    tconv__clear_error();
    tconv_problem pb;
    tconv_exec e;
    tconv_algo_choice c;
    tconv_status st = prepare(params, input, weight, bias, output, exec, true, &pb, &e, &c);
    if (st != TCONV_OK)
        return st;
    return tconv__execute(&pb, &c, &e, NULL, tconv__workspace_used(&pb.s, &pb, &c, false),
                          report);
}

tconv_status tconv_convtranspose2d(const tconv_params *params, const tconv_tensor *input,
                                   const tconv_tensor *weight, const tconv_tensor *bias,
                                   const tconv_tensor *output)
{
    return tconv_convtranspose2d_ex(params, input, weight, bias, output, NULL, NULL);
}
