/*
 * api.c - the front door: defaults, tensor helpers, and the forward call
 * (validate -> choose algorithm and ISA -> get workspace -> run -> report).
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdlib.h>
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

static tconv_tensor make_tensor(void *data, int rank, const int64_t *shape, const int64_t *order)
{
    /* order lists dims from slowest to fastest in memory */
    tconv_tensor t;
    memset(&t, 0, sizeof t);
    t.data = data;
    t.dtype = TCONV_DTYPE_F32;
    t.rank = rank;
    int64_t step = 1;
    for (int i = rank - 1; i >= 0; i--) {
        int d = (int)order[i];
        t.shape[d] = shape[d];
        t.stride[d] = step;
        step *= shape[d] > 0 ? shape[d] : 1; /* wraps only for shapes validation rejects */
    }
    return t;
}

tconv_tensor tconv_tensor_nchw(void *data, int64_t n, int64_t c, int64_t h, int64_t w)
{
    const int64_t shape[4] = {n, c, h, w}, order[4] = {0, 1, 2, 3};
    return make_tensor(data, 4, shape, order);
}

tconv_tensor tconv_tensor_nhwc(void *data, int64_t n, int64_t c, int64_t h, int64_t w)
{
    const int64_t shape[4] = {n, c, h, w}, order[4] = {0, 2, 3, 1};
    return make_tensor(data, 4, shape, order);
}

tconv_tensor tconv_tensor_chw(void *data, int64_t c, int64_t h, int64_t w)
{
    const int64_t shape[3] = {c, h, w}, order[3] = {0, 1, 2};
    return make_tensor(data, 3, shape, order);
}

tconv_tensor tconv_tensor_1d(void *data, int64_t n)
{
    const int64_t shape[1] = {n}, order[1] = {0};
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

/* Checks the execution options that do not depend on the problem. */
static tconv_status check_exec(const tconv_exec *e)
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

/* Everything a call decides before running: validated problem, algorithm, ISA,
 * threads and workspace size. Shared by the forward call and the workspace query. */
typedef struct call {
    tconv_problem pb;
    tconv_exec exec;
    tconv_algo_choice choice;
    size_t ws_bytes;
} call;

static tconv_status prepare(const tconv_params *params, const tconv_tensor *input,
                            const tconv_tensor *weight, const tconv_tensor *bias,
                            const tconv_tensor *output, const tconv_exec *exec, bool need_data,
                            call *c)
{
    c->exec = exec ? *exec : tconv_exec_default();
    tconv_status st = check_exec(&c->exec);
    if (st != TCONV_OK)
        return st;
    st = tconv__build_problem(params, input, weight, bias, output, need_data, &c->pb);
    if (st != TCONV_OK)
        return st;
    st = tconv__choose(&c->pb.s, &c->exec, &c->choice);
    if (st != TCONV_OK)
        return st;
    c->ws_bytes = tconv__algo_workspace(&c->pb.s, &c->choice);
    return TCONV_OK;
}

tconv_status tconv_workspace_size(const tconv_params *params, const tconv_tensor *input,
                                  const tconv_tensor *weight, const tconv_tensor *bias,
                                  const tconv_tensor *output, const tconv_exec *exec,
                                  size_t *bytes)
{
    tconv__clear_error();
    if (!bytes)
        return tconv__fail(TCONV_ERR_NULL_POINTER, "bytes must not be NULL");
    call c;
    tconv_status st = prepare(params, input, weight, bias, output, exec, false, &c);
    if (st != TCONV_OK)
        return st;
    *bytes = c.ws_bytes;
    return TCONV_OK;
}

tconv_status tconv_convtranspose2d_ex(const tconv_params *params, const tconv_tensor *input,
                                      const tconv_tensor *weight, const tconv_tensor *bias,
                                      const tconv_tensor *output, const tconv_exec *exec,
                                      tconv_report *report)
{
    tconv__clear_error();
    call c;
    tconv_status st = prepare(params, input, weight, bias, output, exec, true, &c);
    if (st != TCONV_OK)
        return st;

    /* Scratch memory: the caller's if large enough, else ours (unless forbidden). */
    void *ws = NULL, *owned = NULL;
    if (c.ws_bytes > 0) {
        if (c.exec.workspace && c.exec.workspace_size >= c.ws_bytes) {
            ws = c.exec.workspace;
        } else if (c.exec.flags & TCONV_FLAG_NO_ALLOC) {
            return tconv__fail(TCONV_ERR_WORKSPACE_TOO_SMALL,
                               "%s needs %zu bytes of workspace, exec.workspace_size=%zu and "
                               "TCONV_FLAG_NO_ALLOC forbids allocating",
                               tconv_algorithm_name(c.choice.algorithm), c.ws_bytes,
                               c.exec.workspace_size);
        } else {
            owned = ws = tconv__alloc(c.exec.allocator, c.ws_bytes);
            if (!ws)
                return tconv__fail(TCONV_ERR_OUT_OF_MEMORY,
                                   "could not allocate %zu bytes of workspace for %s", c.ws_bytes,
                                   tconv_algorithm_name(c.choice.algorithm));
        }
    }
    st = tconv__algo_run(&c.pb, &c.choice, &c.exec, ws);
    tconv__free(c.exec.allocator, owned);
    if (st != TCONV_OK)
        return st;
    if (report) {
        memset(report, 0, sizeof *report);
        report->algorithm = c.choice.algorithm;
        report->isa = c.choice.isa;
        report->num_threads = c.choice.threads;
        report->workspace_bytes = c.ws_bytes;
        report->reason = c.choice.reason;
    }
    return TCONV_OK;
}

tconv_status tconv_convtranspose2d(const tconv_params *params, const tconv_tensor *input,
                                   const tconv_tensor *weight, const tconv_tensor *bias,
                                   const tconv_tensor *output)
{
    return tconv_convtranspose2d_ex(params, input, weight, bias, output, NULL, NULL);
}
