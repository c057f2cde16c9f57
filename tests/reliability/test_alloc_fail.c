/*
 * test_alloc_fail.c - tconv under memory exhaustion and thread-creation failure.
 *
 * A counting allocator (tconv_exec.allocator) refuses the k-th request. For every path
 * that allocates - the one-shot call of every algorithm (on 1 and 3 threads), plan
 * creation, plan runs with the run's allocator, plan runs using the workspace the plan
 * keeps (allocated through the plan's allocator; afterwards runs must allocate
 * nothing) - and for k = 0, 1, 2, ... until the call no longer needs a
 * refused request, the call must return TCONV_ERR_OUT_OF_MEMORY with a message, leave
 * the output (and its guard zone) untouched, free everything it got, and set *plan to
 * NULL. The first k that succeeds must give the right result. Calls with a caller
 * workspace, TCONV_FLAG_NO_ALLOC, and the workspace queries must not allocate at all.
 * The allocator also checks its contract: alignment a power of two <= 4096, size >= 1,
 * frees only of live blocks.
 *
 * Thread start-up: the pool's test hook makes pthread_create "fail"; the documented
 * behaviour is that the job then runs on the threads that exist (the caller's alone if
 * none) and still succeeds, bit-identical to one thread.
 *
 * The number of injected failures is printed as "allocation-failure points: N"
 * (scripts/ci_reliability.sh reports it).
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "thread/pool.h"

/* ------------------------------------------------------------------ allocator */
#define MAX_LIVE 64

typedef struct counting_alloc {
    pthread_mutex_t mu;
    int64_t fail_at; /* 0-based request index to refuse, -1 none */
    int64_t requests, refused, live;
    void *blocks[MAX_LIVE];
    bool contract_broken;
} counting_alloc;

static void *ca_alloc(void *ctx, size_t size, size_t alignment)
{
    counting_alloc *a = ctx;
    pthread_mutex_lock(&a->mu);
    void *p = NULL;
    const int64_t idx = a->requests++;
    if (alignment == 0 || (alignment & (alignment - 1)) || alignment > 4096 || size == 0) {
        a->contract_broken = true;
    } else if (idx == a->fail_at) {
        a->refused++;
    } else {
        p = aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
        if (p) {
            memset(p, 0xFF, size); /* NaN bytes: a read before write poisons results */
            int slot = 0;
            while (slot < MAX_LIVE && a->blocks[slot])
                slot++;
            if (slot == MAX_LIVE) {
                a->contract_broken = true; /* more live blocks than any path needs */
            } else {
                a->blocks[slot] = p;
                a->live++;
            }
        }
    }
    pthread_mutex_unlock(&a->mu);
    return p;
}

static void ca_free(void *ctx, void *p)
{
    counting_alloc *a = ctx;
    if (!p)
        return;
    pthread_mutex_lock(&a->mu);
    int slot = 0;
    while (slot < MAX_LIVE && a->blocks[slot] != p)
        slot++;
    if (slot == MAX_LIVE) {
        a->contract_broken = true; /* unknown pointer or double free */
    } else {
        a->blocks[slot] = NULL;
        a->live--;
        free(p);
    }
    pthread_mutex_unlock(&a->mu);
}

static void ca_init(counting_alloc *a, tconv_allocator *hooks)
{
    memset(a, 0, sizeof *a);
    pthread_mutex_init(&a->mu, NULL);
    a->fail_at = -1;
    hooks->alloc = ca_alloc;
    hooks->free = ca_free;
    hooks->ctx = a;
}

static void ca_arm(counting_alloc *a, int64_t fail_at)
{
    a->fail_at = fail_at;
    a->requests = 0;
    a->refused = 0;
}

static void ca_destroy(counting_alloc *a)
{
    pthread_mutex_destroy(&a->mu);
}

static long failure_points; /* injected refusals that a call had to handle */

/* ------------------------------------------------------------------ problems */
typedef struct problem {
    const char *name;
    tconv_params p;
    int64_t xs[4], ws[4], ys[4];
    tu_tensor x, w, b, y, ref;
} problem;

#define GUARD 16

static void problem_init(problem *pr, const char *name, int64_t n, int64_t cin, int64_t hw,
                         int64_t cout, int64_t groups, int64_t k, int64_t stride, int64_t pad)
{
    memset(pr, 0, sizeof *pr);
    pr->name = name;
    pr->p = tconv_params_default();
    pr->p.stride[0] = pr->p.stride[1] = stride;
    pr->p.padding[0] = pr->p.padding[1] = pad;
    pr->p.groups = groups;
    const int64_t out = (hw - 1) * stride - 2 * pad + (k - 1) + 1;
    const int64_t xs[4] = {n, cin, hw, hw}, ws[4] = {cin, cout / groups, k, k},
                  ys[4] = {n, cout, out, out};
    memcpy(pr->xs, xs, sizeof xs);
    memcpy(pr->ws, ws, sizeof ws);
    memcpy(pr->ys, ys, sizeof ys);
    tu_rng r = tu_rng_seed((uint64_t)(n * 1000 + cin * 10 + k));
    pr->x = tu_tensor_new(4, xs, TU_CHANNELS_LAST, &r, 0);
    pr->w = tu_tensor_new(4, ws, TU_CONTIGUOUS, &r, 0);
    pr->b = tu_tensor_new(1, &cout, TU_CONTIGUOUS, &r, 0);
    /* the output lives inside a bigger buffer: GUARD floats on each side stay fixed */
    const int64_t count = n * cout * out * out;
    pr->y.buf = malloc((size_t)(count + 2 * GUARD) * sizeof(float));
    pr->y.buf_len = (size_t)(count + 2 * GUARD);
    pr->y.t = tconv_tensor_nchw(pr->y.buf + GUARD, n, cout, out, out);
    pr->ref = tu_tensor_new(4, ys, TU_CONTIGUOUS, NULL, 0);
    tconv_exec e = tconv_exec_default();
    e.algorithm = TCONV_ALGO_REFERENCE;
    assert_int_equal(tconv_convtranspose2d_ex(&pr->p, &pr->x.t, &pr->w.t, &pr->b.t, &pr->ref.t,
                                              &e, NULL),
                     TCONV_OK);
}

static void problem_free(problem *pr)
{
    tu_tensor_free(&pr->x);
    tu_tensor_free(&pr->w);
    tu_tensor_free(&pr->b);
    tu_tensor_free(&pr->y);
    tu_tensor_free(&pr->ref);
}

/* Fills the whole output buffer (view and guards) with a pattern. */
static void poison_output(problem *pr)
{
    memset(pr->y.buf, 0x55, pr->y.buf_len * sizeof(float));
}

static void assert_output_untouched(const problem *pr, const char *what)
{
    const unsigned char *bytes = (const unsigned char *)pr->y.buf;
    for (size_t i = 0; i < pr->y.buf_len * sizeof(float); i++)
        if (bytes[i] != 0x55)
            fail_msg("%s on %s: output byte %zu written by a failing call", what, pr->name, i);
}

static void assert_guards_untouched(const problem *pr, const char *what)
{
    const unsigned char *bytes = (const unsigned char *)pr->y.buf;
    const size_t g = GUARD * sizeof(float), total = pr->y.buf_len * sizeof(float);
    for (size_t i = 0; i < g; i++)
        if (bytes[i] != 0x55 || bytes[total - 1 - i] != 0x55)
            fail_msg("%s on %s: guard zone around the output written", what, pr->name);
}

static void assert_correct(const problem *pr, const char *what)
{
    char msg[512];
    if (!tu_check_close(&pr->p, &pr->x.t, &pr->w.t, &pr->b.t, &pr->y.t, &pr->ref.t, 1.0, msg,
                        sizeof msg))
        fail_msg("%s on %s: wrong result after recovering from allocation failures: %s", what,
                 pr->name, msg);
    assert_guards_untouched(pr, what);
}

static void assert_oom(tconv_status st, const char *what, const problem *pr, int64_t k)
{
    if (st != TCONV_ERR_OUT_OF_MEMORY)
        fail_msg("%s on %s with request #%lld refused: status %s (%s)", what, pr->name,
                 (long long)k, tconv_status_string(st), tconv_last_error_message());
    if (tconv_last_error_message()[0] == '\0')
        fail_msg("%s on %s: OUT_OF_MEMORY without a message", what, pr->name);
}

static void assert_balanced(counting_alloc *a, const char *what, const problem *pr)
{
    if (a->contract_broken)
        fail_msg("%s on %s: allocator contract broken (alignment/size/unknown free)", what,
                 pr->name);
    if (a->live != 0)
        fail_msg("%s on %s: %lld block(s) leaked", what, pr->name, (long long)a->live);
}

#define MAX_K 64 /* no path needs more allocations than this */

static const int algos[] = {TCONV_ALGO_AUTO, TCONV_ALGO_REFERENCE, TCONV_ALGO_GEMM_COL2IM,
                            TCONV_ALGO_PHASE_GEMM, TCONV_ALGO_DIRECT};
#define NALGOS (sizeof algos / sizeof algos[0])

static problem problems[3];

static int setup(void **state)
{
    (void)state;
    problem_init(&problems[0], "k4s2 dense", 2, 8, 5, 6, 1, 4, 2, 1);   /* phase territory */
    problem_init(&problems[1], "1x1 -> 4x4", 3, 12, 1, 10, 1, 4, 1, 0); /* col2im territory */
    problem_init(&problems[2], "depthwise", 1, 6, 6, 6, 6, 3, 2, 1);    /* direct territory */
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof problems / sizeof problems[0]; i++)
        problem_free(&problems[i]);
    return 0;
}

/* ------------------------------------------------------------------ tests */
/* One-shot calls of every algorithm, with tconv allocating the workspace. */
static void test_oneshot_every_k(void **state)
{
    (void)state;
    counting_alloc ca;
    tconv_allocator hooks;
    ca_init(&ca, &hooks);
    for (size_t pi = 0; pi < 3; pi++) {
        problem *pr = &problems[pi];
        for (size_t ai = 0; ai < NALGOS; ai++)
            for (int threads = 1; threads <= 3; threads += 2) {
                char what[96];
                snprintf(what, sizeof what, "one-shot %s/%dT", tconv_algorithm_name(algos[ai]),
                         threads);
                tconv_exec e = tconv_exec_default();
                e.algorithm = algos[ai];
                e.num_threads = threads;
                e.allocator = &hooks;
                int64_t k = 0;
                for (;; k++) {
                    if (k == MAX_K)
                        fail_msg("%s on %s: still failing after %d refusals", what, pr->name,
                                 MAX_K);
                    poison_output(pr);
                    ca_arm(&ca, k);
                    tconv_status st =
                        tconv_convtranspose2d_ex(&pr->p, &pr->x.t, &pr->w.t, &pr->b.t,
                                                 &pr->y.t, &e, NULL);
                    assert_balanced(&ca, what, pr);
                    if (ca.refused == 0) { /* k is past the last request: must succeed */
                        if (st != TCONV_OK)
                            fail_msg("%s on %s: %s with no refusal", what, pr->name,
                                     tconv_status_string(st));
                        assert_correct(pr, what);
                        break;
                    }
                    failure_points++;
                    assert_oom(st, what, pr, k);
                    assert_output_untouched(pr, what);
                }
                /* workspace-free algorithms never ask; the others ask exactly once */
                if (algos[ai] == TCONV_ALGO_REFERENCE)
                    assert_int_equal(k, 0);
            }
    }
    ca_destroy(&ca);
}

/* With a caller workspace of tconv_workspace_size() bytes, or TCONV_FLAG_NO_ALLOC, and
 * in the workspace queries, nothing is allocated even if every request would fail. */
static void test_no_allocation_paths(void **state)
{
    (void)state;
    counting_alloc ca;
    tconv_allocator hooks;
    ca_init(&ca, &hooks);
    for (size_t pi = 0; pi < 3; pi++) {
        problem *pr = &problems[pi];
        for (size_t ai = 0; ai < NALGOS; ai++) {
            tconv_exec e = tconv_exec_default();
            e.algorithm = algos[ai];
            e.num_threads = 2;
            e.allocator = &hooks;
            size_t need = 0;
            ca_arm(&ca, 0);
            assert_int_equal(tconv_workspace_size(&pr->p, &pr->x.t, &pr->w.t, &pr->b.t,
                                                  &pr->y.t, &e, &need),
                             TCONV_OK);
            assert_int_equal(ca.requests, 0);
            /* an odd address on purpose: any alignment must do with `need` bytes */
            unsigned char *mem = malloc(need + 64);
            e.workspace = mem + 4;
            e.workspace_size = need;
            e.flags = TCONV_FLAG_NO_ALLOC;
            poison_output(pr);
            ca_arm(&ca, 0);
            tconv_status st = tconv_convtranspose2d_ex(&pr->p, &pr->x.t, &pr->w.t, &pr->b.t,
                                                       &pr->y.t, &e, NULL);
            if (st != TCONV_OK)
                fail_msg("%s with a caller workspace of %zu bytes: %s (%s)",
                         tconv_algorithm_name(algos[ai]), need, tconv_status_string(st),
                         tconv_last_error_message());
            assert_int_equal(ca.requests, 0);
            assert_correct(pr, "caller workspace");
            /* no workspace and NO_ALLOC: refused cleanly when some is needed */
            e.workspace = NULL;
            e.workspace_size = 0;
            poison_output(pr);
            ca_arm(&ca, 0);
            st = tconv_convtranspose2d_ex(&pr->p, &pr->x.t, &pr->w.t, &pr->b.t, &pr->y.t, &e,
                                          NULL);
            assert_int_equal(ca.requests, 0);
            if (need > 0) {
                assert_int_equal(st, TCONV_ERR_WORKSPACE_TOO_SMALL);
                assert_output_untouched(pr, "NO_ALLOC without workspace");
            } else {
                assert_int_equal(st, TCONV_OK);
            }
            free(mem);
        }
    }
    ca_destroy(&ca);
}

/* Plan creation refusing each of its requests in turn, then runs of the finished plan
 * refusing theirs; plan queries never allocate. */
static void test_plan_every_k(void **state)
{
    (void)state;
    counting_alloc pa, ra; /* the plan's allocator, the runs' allocator */
    tconv_allocator phooks, rhooks;
    ca_init(&pa, &phooks);
    ca_init(&ra, &rhooks);
    for (size_t pi = 0; pi < 3; pi++) {
        problem *pr = &problems[pi];
        for (size_t ai = 0; ai < NALGOS; ai++) {
            char what[96];
            snprintf(what, sizeof what, "plan %s", tconv_algorithm_name(algos[ai]));
            tconv_exec ce = tconv_exec_default();
            ce.algorithm = algos[ai];
            ce.allocator = &phooks;
            tconv_plan *plan = NULL;
            int64_t k = 0;
            for (;; k++) {
                if (k == MAX_K)
                    fail_msg("%s on %s: creation still failing after %d refusals", what,
                             pr->name, MAX_K);
                ca_arm(&pa, k);
                plan = (tconv_plan *)&plan; /* a non-NULL value the call must clear */
                tconv_status st = tconv_plan_create(&plan, &pr->p, &pr->x.t, &pr->w.t,
                                                    &pr->b.t, &ce);
                if (pa.refused == 0) {
                    if (st != TCONV_OK)
                        fail_msg("%s on %s: creation %s with no refusal", what, pr->name,
                                 tconv_status_string(st));
                    break;
                }
                failure_points++;
                assert_oom(st, "tconv_plan_create", pr, k);
                if (plan != NULL)
                    fail_msg("%s on %s: *plan not NULL after OUT_OF_MEMORY", what, pr->name);
                assert_balanced(&pa, "tconv_plan_create", pr);
            }
            assert_true(k >= 2); /* at least the plan struct and the weight copy */

            /* runs, with the run's own allocator */
            for (int threads = 1; threads <= 3; threads += 2) {
                tconv_exec re = tconv_exec_default();
                re.num_threads = threads;
                re.allocator = &rhooks;
                size_t need = 0;
                ca_arm(&ra, 0);
                ca_arm(&pa, 0);
                assert_int_equal(tconv_plan_workspace_size(plan, &re, &need), TCONV_OK);
                tconv_report info;
                assert_int_equal(tconv_plan_info(plan, &info), TCONV_OK);
                assert_int_equal(ra.requests + pa.requests, 0);
                for (int64_t j = 0;; j++) {
                    if (j == MAX_K)
                        fail_msg("%s on %s: runs still failing", what, pr->name);
                    poison_output(pr);
                    ca_arm(&ra, j);
                    ca_arm(&pa, 0); /* a run must not use the plan's allocator */
                    tconv_status st = tconv_plan_run(plan, &pr->x.t, &pr->y.t, &re, NULL);
                    assert_int_equal(pa.requests, 0);
                    assert_balanced(&ra, "tconv_plan_run", pr);
                    if (ra.refused == 0) {
                        if (st != TCONV_OK)
                            fail_msg("%s on %s: run %s with no refusal", what, pr->name,
                                     tconv_status_string(st));
                        assert_correct(pr, what);
                        if (need == 0)
                            assert_int_equal(j, 0);
                        break;
                    }
                    failure_points++;
                    assert_oom(st, "tconv_plan_run", pr, j);
                    assert_output_untouched(pr, "tconv_plan_run");
                }
                /* with a caller workspace of the advertised size: no request at all */
                unsigned char *mem = malloc(need + 1);
                re.workspace = need ? mem + 1 : NULL; /* any alignment must do */
                re.workspace_size = need;
                re.flags = TCONV_FLAG_NO_ALLOC;
                poison_output(pr);
                ca_arm(&ra, 0);
                const tconv_status st = tconv_plan_run(plan, &pr->x.t, &pr->y.t, &re, NULL);
                if (st != TCONV_OK)
                    fail_msg("%s on %s: run with a caller workspace of %zu bytes: %s (%s)", what,
                             pr->name, need, tconv_status_string(st), tconv_last_error_message());
                assert_int_equal(ra.requests, 0);
                assert_correct(pr, "plan run with caller workspace");
                free(mem);
            }
            /* runs with no allocator, workspace or NO_ALLOC use a buffer the plan keeps,
             * allocated through the plan's allocator by the first run that needs it */
            tconv_exec ke = tconv_exec_default();
            ke.num_threads = 2;
            size_t kneed = 0;
            assert_int_equal(tconv_plan_workspace_size(plan, &ke, &kneed), TCONV_OK);
            for (int64_t j = 0;; j++) {
                if (j == MAX_K)
                    fail_msg("%s on %s: kept-workspace runs still failing", what, pr->name);
                poison_output(pr);
                ca_arm(&pa, j);
                const int64_t live_before = pa.live;
                tconv_status st = tconv_plan_run(plan, &pr->x.t, &pr->y.t, &ke, NULL);
                if (pa.refused == 0) {
                    if (st != TCONV_OK)
                        fail_msg("%s on %s: kept-workspace run %s with no refusal", what,
                                 pr->name, tconv_status_string(st));
                    assert_correct(pr, "kept-workspace run");
                    break;
                }
                failure_points++;
                assert_oom(st, "tconv_plan_run (kept workspace)", pr, j);
                assert_output_untouched(pr, "tconv_plan_run (kept workspace)");
                if (pa.live != live_before)
                    fail_msg("%s on %s: a failed kept-workspace run changed the plan's "
                             "blocks from %lld to %lld",
                             what, pr->name, (long long)live_before, (long long)pa.live);
            }
            /* steady state: no request at all */
            poison_output(pr);
            ca_arm(&pa, 0);
            assert_int_equal(tconv_plan_run(plan, &pr->x.t, &pr->y.t, &ke, NULL), TCONV_OK);
            assert_int_equal(pa.requests, 0);
            assert_correct(pr, "steady-state kept-workspace run");
            (void)kneed;

            ca_arm(&pa, 0);
            tconv_plan_destroy(plan);
            assert_int_equal(pa.requests, 0);
            assert_balanced(&pa, "tconv_plan_destroy", pr);
        }
    }
    ca_destroy(&pa);
    ca_destroy(&ra);
}

/* The pool cannot start workers: jobs run on the threads that exist and succeed.
 * Runs first in this process, before any other test has started the pool. */
static void test_pool_spawn_failure(void **state)
{
    (void)state;
    problem *pr = &problems[0];
    tconv_exec e = tconv_exec_default();
    e.algorithm = TCONV_ALGO_PHASE_GEMM;
    e.num_threads = 1;
    poison_output(pr);
    assert_int_equal(tconv_convtranspose2d_ex(&pr->p, &pr->x.t, &pr->w.t, &pr->b.t, &pr->y.t,
                                              &e, NULL),
                     TCONV_OK);
    const size_t bytes = pr->y.buf_len * sizeof(float);
    float *one = malloc(bytes);
    memcpy(one, pr->y.buf, bytes);

    /* {spawns refused, threads asked}: none start; then one of two; then room to grow
     * from the workers that exist but the growth is refused */
    static const int plan_of_failures[][2] = {{1000, 4}, {1000, 3}, {1, 3}, {0, 3}, {5, 6}};
    for (size_t i = 0; i < sizeof plan_of_failures / sizeof plan_of_failures[0]; i++)
        for (size_t ai = 0; ai < NALGOS; ai++) {
            tconv__pool_test_fail_spawns(plan_of_failures[i][0]);
            e.algorithm = algos[ai];
            e.num_threads = plan_of_failures[i][1];
            poison_output(pr);
            tconv_status st = tconv_convtranspose2d_ex(&pr->p, &pr->x.t, &pr->w.t, &pr->b.t,
                                                       &pr->y.t, &e, NULL);
            if (st != TCONV_OK)
                fail_msg("%s with %d of its worker starts refused: %s (%s)",
                         tconv_algorithm_name(algos[ai]), plan_of_failures[i][0],
                         tconv_status_string(st), tconv_last_error_message());
            if (algos[ai] == TCONV_ALGO_PHASE_GEMM && memcmp(pr->y.buf, one, bytes) != 0)
                fail_msg("phase_gemm with refused worker starts differs from 1 thread");
            assert_correct(pr, "refused worker starts");
        }
    tconv__pool_test_fail_spawns(0);
    free(one);
}

static void test_report(void **state)
{
    (void)state;
    print_message("allocation-failure points: %ld\n", failure_points);
    assert_true(failure_points > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pool_spawn_failure), /* first: the pool must not exist yet */
        cmocka_unit_test(test_oneshot_every_k),
        cmocka_unit_test(test_no_allocation_paths),
        cmocka_unit_test(test_plan_every_k),
        cmocka_unit_test(test_report),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
