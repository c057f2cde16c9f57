/*
 * test_concurrency.c - many application threads calling tconv at once.
 *
 * Eight threads run a deterministic mix of: one plan shared by all, plans of their own
 * (created, run, destroyed), one-shot calls with thread counts 0..4, one-shot calls
 * through caller parallel_for hooks (one that really runs tasks on extra threads, one
 * that runs them backwards on the caller), calls made from inside hook threads while
 * another call is in flight, and invalid calls whose thread-local error message must
 * name that thread's own values. Every result must be bit-identical to the
 * single-threaded result of the same algorithm, computed before the threads start.
 * The pool is shared, so this also exercises "busy pool: run alone" under contention.
 * test_pool_jobs drives the pool itself (tconv__parallel_for): every task of every job
 * runs exactly once and has run when the call returns, whether the workers are
 * watching for work (back to back), asleep (a pause longer than their watch), or late
 * (the caller may finish without them), with several callers at once and calls from
 * inside tasks.
 *
 * Built with -Db_sanitize=thread (scripts/ci_reliability.sh) this is the data-race
 * check; TCONV_TEST_ITERS scales the work (default 200 iterations per thread).
 *
 * SPDX-License-Identifier: MIT
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <cmocka.h>

#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "thread/pool.h"

#define NTHREADS 8
#define NPROB 3

static const int algos[] = {TCONV_ALGO_REFERENCE, TCONV_ALGO_GEMM_COL2IM, TCONV_ALGO_PHASE_GEMM,
                            TCONV_ALGO_DIRECT};
#define NALGOS (int)(sizeof algos / sizeof algos[0])

typedef struct problem {
    tconv_params p;
    int64_t ys[4];
    tu_tensor x, w, b;
    float *want[NALGOS]; /* single-threaded results, contiguous NCHW */
    size_t count;        /* output elements */
    tconv_plan *shared[NALGOS];
} problem;

static problem probs[NPROB];

static void problem_init(problem *pr, int64_t n, int64_t cin, int64_t hw, int64_t cout,
                         int64_t groups, int64_t k, int64_t stride, int64_t pad, uint64_t seed)
{
    memset(pr, 0, sizeof *pr);
    pr->p = tconv_params_default();
    pr->p.stride[0] = pr->p.stride[1] = stride;
    pr->p.padding[0] = pr->p.padding[1] = pad;
    pr->p.groups = groups;
    const int64_t out = (hw - 1) * stride - 2 * pad + k;
    const int64_t xs[4] = {n, cin, hw, hw}, ws[4] = {cin, cout / groups, k, k},
                  ys[4] = {n, cout, out, out};
    memcpy(pr->ys, ys, sizeof ys);
    tu_rng r = tu_rng_seed(seed);
    pr->x = tu_tensor_new(4, xs, TU_CONTIGUOUS, &r, 0);
    pr->w = tu_tensor_new(4, ws, TU_CONTIGUOUS, &r, 0);
    pr->b = tu_tensor_new(1, &cout, TU_CONTIGUOUS, &r, 0);
    pr->count = (size_t)(n * cout * out * out);
}

/* ------------------------------------------------------------------ hooks */
typedef struct hook_job {
    tconv_task_fn fn;
    void *ctx;
    int64_t n;
    atomic_llong next;
    bool nested; /* each helper also makes a complete tconv call of its own */
} hook_job;

static atomic_int nested_failures, nested_calls;

static bool run_and_compare(const problem *pr, int ai, const tconv_exec *e);

static void *hook_helper(void *arg)
{
    hook_job *j = arg;
    if (j->nested) {
        tconv_exec e = tconv_exec_default();
        e.algorithm = TCONV_ALGO_PHASE_GEMM;
        e.num_threads = 2;
        atomic_fetch_add(&nested_calls, 1);
        if (!run_and_compare(&probs[0], 2, &e))
            atomic_fetch_add(&nested_failures, 1);
    }
    for (;;) {
        const int64_t i = atomic_fetch_add(&j->next, 1);
        if (i >= j->n)
            return NULL;
        j->fn(j->ctx, i);
    }
}

/* The caller's thread plus two of ours, tasks from a shared counter. pool_ctx points
 * to a bool: whether the helpers make nested calls. */
static void threaded_parallel_for(void *pool_ctx, tconv_task_fn fn, void *task_ctx, int64_t n)
{
    hook_job j;
    j.fn = fn;
    j.ctx = task_ctx;
    j.n = n;
    atomic_init(&j.next, 0);
    j.nested = pool_ctx && *(const bool *)pool_ctx;
    pthread_t th[2];
    int started = 0;
    for (int i = 0; i < 2; i++)
        if (pthread_create(&th[i], NULL, hook_helper, &j) == 0)
            started++;
    for (;;) {
        const int64_t i = atomic_fetch_add(&j.next, 1);
        if (i >= n)
            break;
        fn(task_ctx, i);
    }
    for (int i = 0; i < started; i++)
        pthread_join(th[i], NULL);
}

static void reverse_parallel_for(void *pool_ctx, tconv_task_fn fn, void *task_ctx, int64_t n)
{
    (void)pool_ctx;
    for (int64_t i = n - 1; i >= 0; i--)
        fn(task_ctx, i);
}

/* ------------------------------------------------------------------ one call */
/* Runs algorithm ai of pr with these options (one-shot) into a fresh output and
 * compares it bit for bit with the single-threaded result. */
static bool run_and_compare(const problem *pr, int ai, const tconv_exec *e)
{
    tu_tensor y = tu_tensor_new(4, pr->ys, TU_CONTIGUOUS, NULL, -3.0f);
    tconv_exec ex = *e;
    ex.algorithm = algos[ai];
    const tconv_status st = tconv_convtranspose2d_ex(&pr->p, &pr->x.t, &pr->w.t, &pr->b.t,
                                                     &y.t, &ex, NULL);
    const bool ok = st == TCONV_OK &&
                    memcmp(y.buf, pr->want[ai], pr->count * sizeof(float)) == 0;
    tu_tensor_free(&y);
    return ok;
}

static bool run_plan_and_compare(const problem *pr, int ai, const tconv_plan *plan,
                                 int threads)
{
    tu_tensor y = tu_tensor_new(4, pr->ys, TU_CONTIGUOUS, NULL, -3.0f);
    tconv_exec e = tconv_exec_default();
    e.num_threads = threads;
    const tconv_status st = tconv_plan_run(plan, &pr->x.t, &y.t, &e, NULL);
    const bool ok = st == TCONV_OK &&
                    memcmp(y.buf, pr->want[ai], pr->count * sizeof(float)) == 0;
    tu_tensor_free(&y);
    return ok;
}

/* ------------------------------------------------------------------ threads */
typedef struct worker {
    int id, iters;
    int failures;
    char first_failure[200];
    long calls;
} worker;

static void record(worker *w, bool ok, const char *what, int pi, int ai)
{
    w->calls++;
    if (ok)
        return;
    if (w->failures++ == 0)
        snprintf(w->first_failure, sizeof w->first_failure,
                 "thread %d: %s, problem %d, algorithm %s", w->id, what, pi,
                 tconv_algorithm_name(algos[ai]));
}

static void *worker_main(void *arg)
{
    worker *w = arg;
    static const bool nested = true;
    for (int it = 0; it < w->iters; it++) {
        const int pi = (w->id + it) % NPROB, ai = (w->id * 3 + it) % NALGOS;
        const problem *pr = &probs[pi];
        const int threads = 1 + (w->id + it) % 4;
        tconv_exec e = tconv_exec_default();
        e.num_threads = threads;
        switch ((w->id + it * 5) % 8) {
        case 0:
            record(w, run_plan_and_compare(pr, ai, pr->shared[ai], threads), "shared plan",
                   pi, ai);
            break;
        case 1: {
            tconv_plan *plan = NULL;
            tconv_exec ce = tconv_exec_default();
            ce.algorithm = algos[ai];
            bool ok = tconv_plan_create(&plan, &pr->p, &pr->x.t, &pr->w.t, &pr->b.t, &ce) ==
                      TCONV_OK;
            ok = ok && run_plan_and_compare(pr, ai, plan, threads);
            tconv_plan_destroy(plan);
            record(w, ok, "own plan", pi, ai);
            break;
        }
        case 2:
            record(w, run_and_compare(pr, ai, &e), "one-shot", pi, ai);
            break;
        case 3:
            e.num_threads = 0; /* the default count, shared pool */
            record(w, run_and_compare(pr, ai, &e), "one-shot, default threads", pi, ai);
            break;
        case 4:
            e.parallel_for = threaded_parallel_for;
            e.parallel_ctx = NULL;
            record(w, run_and_compare(pr, ai, &e), "threaded parallel_for hook", pi, ai);
            break;
        case 5:
            e.parallel_for = reverse_parallel_for;
            record(w, run_and_compare(pr, ai, &e), "reverse parallel_for hook", pi, ai);
            break;
        case 6:
            /* calls from the hook's threads while this call is in flight */
            e.parallel_for = threaded_parallel_for;
            e.parallel_ctx = (void *)&nested;
            record(w, run_and_compare(pr, ai, &e), "nested calls from hook threads", pi, ai);
            break;
        default: {
            /* an invalid call: this thread's message names this thread's value */
            tconv_params bad = pr->p;
            bad.stride[1] = -(int64_t)(1000 + w->id);
            tu_tensor y = tu_tensor_new(4, pr->ys, TU_CONTIGUOUS, NULL, 0);
            const tconv_status st = tconv_convtranspose2d_ex(&bad, &pr->x.t, &pr->w.t,
                                                             &pr->b.t, &y.t, &e, NULL);
            char want[64];
            snprintf(want, sizeof want, "stride[1]=%lld", (long long)bad.stride[1]);
            record(w,
                   st == TCONV_ERR_INVALID_ARGUMENT &&
                       strstr(tconv_last_error_message(), want) != NULL,
                   "thread-local error message", pi, ai);
            tu_tensor_free(&y);
            /* and a success right after clears it, on this thread only */
            record(w, run_and_compare(pr, ai, &e) && tconv_last_error_message()[0] == '\0',
                   "message cleared by success", pi, ai);
            break;
        }
        }
    }
    return NULL;
}

static int env_int(const char *name, int dflt)
{
    const char *v = getenv(name);
    return v && *v ? atoi(v) : dflt;
}

static int setup(void **state)
{
    (void)state;
    problem_init(&probs[0], 2, 16, 7, 12, 1, 4, 2, 1, 1); /* phase territory */
    problem_init(&probs[1], 1, 8, 9, 8, 8, 3, 2, 1, 2);   /* depthwise */
    problem_init(&probs[2], 4, 32, 1, 16, 1, 4, 1, 0, 3); /* 1x1 -> 4x4, col2im */
    for (int pi = 0; pi < NPROB; pi++) {
        problem *pr = &probs[pi];
        for (int ai = 0; ai < NALGOS; ai++) {
            tu_tensor y = tu_tensor_new(4, pr->ys, TU_CONTIGUOUS, NULL, 0);
            tconv_exec e = tconv_exec_default();
            e.algorithm = algos[ai];
            e.num_threads = 1;
            if (tconv_convtranspose2d_ex(&pr->p, &pr->x.t, &pr->w.t, &pr->b.t, &y.t, &e, NULL) !=
                TCONV_OK)
                return -1;
            pr->want[ai] = y.buf; /* contiguous: the buffer is the view */
            e.num_threads = 0;
            if (tconv_plan_create(&pr->shared[ai], &pr->p, &pr->x.t, &pr->w.t, &pr->b.t, &e) !=
                TCONV_OK)
                return -1;
        }
    }
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    for (int pi = 0; pi < NPROB; pi++) {
        problem *pr = &probs[pi];
        for (int ai = 0; ai < NALGOS; ai++) {
            free(pr->want[ai]);
            tconv_plan_destroy(pr->shared[ai]);
        }
        tu_tensor_free(&pr->x);
        tu_tensor_free(&pr->w);
        tu_tensor_free(&pr->b);
    }
    return 0;
}

/* The single-threaded results agree with the reference: what everything else is
 * compared with is itself right. */
static void test_baselines(void **state)
{
    (void)state;
    for (int pi = 0; pi < NPROB; pi++) {
        problem *pr = &probs[pi];
        tconv_tensor ref = tconv_tensor_nchw(pr->want[0], pr->ys[0], pr->ys[1], pr->ys[2],
                                             pr->ys[3]);
        for (int ai = 1; ai < NALGOS; ai++) {
            tconv_tensor got = tconv_tensor_nchw(pr->want[ai], pr->ys[0], pr->ys[1], pr->ys[2],
                                                 pr->ys[3]);
            char msg[512];
            if (!tu_check_close(&pr->p, &pr->x.t, &pr->w.t, &pr->b.t, &got, &ref, 1.0, msg,
                                sizeof msg))
                fail_msg("problem %d, %s vs reference: %s", pi, tconv_algorithm_name(algos[ai]),
                         msg);
        }
    }
}

static void test_many_threads(void **state)
{
    (void)state;
    const int iters = env_int("TCONV_TEST_ITERS", 200);
    pthread_t th[NTHREADS];
    worker ws[NTHREADS];
    for (int i = 0; i < NTHREADS; i++) {
        memset(&ws[i], 0, sizeof ws[i]);
        ws[i].id = i;
        ws[i].iters = iters;
        assert_int_equal(pthread_create(&th[i], NULL, worker_main, &ws[i]), 0);
    }
    long calls = 0;
    int failures = 0;
    for (int i = 0; i < NTHREADS; i++) {
        pthread_join(th[i], NULL);
        calls += ws[i].calls;
        failures += ws[i].failures;
        if (ws[i].failures)
            print_error("%s (%d failure(s) on this thread)\n", ws[i].first_failure,
                        ws[i].failures);
    }
    print_message("%d threads, %ld concurrent checks, %d nested calls, %d failures\n",
                  NTHREADS, calls, atomic_load(&nested_calls), failures);
    assert_int_equal(failures, 0);
    assert_int_equal(atomic_load(&nested_failures), 0);
}

/* --- the pool's protocol ---------------------------------------------------------- */

#define POOL_MAX_TASKS 64

typedef struct pool_job {
    atomic_int runs[POOL_MAX_TASKS];
    int depth; /* 1: each task also runs a job of its own (the pool is busy: alone) */
    atomic_int nested_bad;
} pool_job;

static void pool_task(void *ctx, int64_t i)
{
    pool_job *j = ctx;
    atomic_fetch_add(&j->runs[i], 1);
    if (j->depth > 0 && i % 7 == 0) {
        pool_job inner;
        memset(&inner, 0, sizeof inner);
        tconv__parallel_for(NULL, 2, pool_task, &inner, 5);
        for (int k = 0; k < 5; k++)
            if (atomic_load(&inner.runs[k]) != 1)
                atomic_fetch_add(&j->nested_bad, 1);
    }
}

typedef struct pool_caller {
    int id, iters, bad;
} pool_caller;

/* Runs `iters` jobs with varied sizes and thread counts; every 16th is preceded by a
 * pause of 0.3 ms (longer than the workers' 0.1 ms watch, so they have gone to sleep). */
static void *pool_caller_main(void *arg)
{
    pool_caller *c = arg;
    uint64_t seed = 0x9e3779b97f4a7c15ULL * (uint64_t)(c->id + 1);
    for (int it = 0; it < c->iters; it++) {
        seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
        const int n = 1 + (int)((seed >> 33) % POOL_MAX_TASKS);
        const int threads = 1 + (int)((seed >> 45) % 4);
        if (it % 16 == 15) {
            struct timespec pause = {0, 300000};
            nanosleep(&pause, NULL);
        }
        pool_job j;
        memset(&j, 0, sizeof j);
        j.depth = it % 5 == 0;
        tconv__parallel_for(NULL, threads, pool_task, &j, n);
        for (int i = 0; i < POOL_MAX_TASKS; i++)
            if (atomic_load(&j.runs[i]) != (i < n)) {
                c->bad++;
                break;
            }
        c->bad += atomic_load(&j.nested_bad);
    }
    return NULL;
}

static void test_pool_jobs(void **state)
{
    (void)state;
    const int iters = env_int("TCONV_TEST_ITERS", 200) * 5;
    /* one caller alone (the pool never busy), then four at once */
    for (int callers = 1; callers <= 4; callers += 3) {
        pthread_t th[4];
        pool_caller cs[4];
        for (int i = 0; i < callers; i++) {
            cs[i] = (pool_caller){.id = i, .iters = iters, .bad = 0};
            assert_int_equal(pthread_create(&th[i], NULL, pool_caller_main, &cs[i]), 0);
        }
        int bad = 0;
        for (int i = 0; i < callers; i++) {
            pthread_join(th[i], NULL);
            bad += cs[i].bad;
        }
        print_message("%d caller(s) x %d jobs: %d wrong\n", callers, iters, bad);
        assert_int_equal(bad, 0);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_baselines),
        cmocka_unit_test(test_many_threads),
        cmocka_unit_test(test_pool_jobs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
