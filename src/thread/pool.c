/*
 * pool.c - the process-wide persistent thread pool behind tconv__parallel_for.
 *
 * Workers are created lazily, grown on demand, and between jobs watch for the next one
 * for a short while (SPIN_NS) before they sleep on a condition variable: back-to-back
 * calls (a network's layers) then start without a wake-up through the kernel, which
 * costs 10-20 us on a virtual machine. One job runs at a time; tasks are handed out by
 * an atomic counter, so the split of tasks among threads varies, but each task writes
 * its own outputs and results never depend on it. A caller that finds the pool busy
 * runs its job alone rather than waiting (no deadlock when an application calls tconv
 * from many threads, or from inside a task). At process exit (shared-library
 * destructor) the workers are stopped and joined, so leak checkers see no lost thread.
 *
 * A job is one atomic word (P.job: generation, workers in it, places left). A worker
 * joins by taking a place with a compare-and-swap and leaves with a subtraction; the
 * caller, once it has run out of tasks, closes the places and waits only for the
 * workers that joined. So a worker that is slow to wake never holds the caller up
 * (a sleeping thread woken through the kernel costs more than a small job), and a
 * worker takes the mutex only to sleep or to wake a caller that stopped spinning; the
 * caller takes it to own the pool (P.busy), which no watching worker contends for.
 *
 * SPDX-License-Identifier: MIT
 */
#define _POSIX_C_SOURCE 200809L /* sysconf, clock_gettime */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "pool.h"

#define MAX_WORKERS 255
/* How long a worker watches for the next job, and the caller for the workers' end,
 * before sleeping (nanoseconds). */
#define SPIN_NS 100000

/* P.job: bits 24-63 the job's generation, 12-23 the workers in it, 0-11 the places
 * still open to workers (MAX_WORKERS < 4096). */
#define JOB_GEN(w)    ((w) >> 24)
#define JOB_IN(w)     (((w) >> 12) & 0xfff)
#define JOB_OPEN_MASK ((uint64_t)0xfff)
#define JOB_OPEN(w)   ((w)&JOB_OPEN_MASK)
#define JOB_ONE_IN    ((uint64_t)1 << 12)
#define JOB_NONE      UINT64_MAX /* a generation no job has (JOB_GEN < 2^40) */

static struct {
    pthread_mutex_t mu;
    pthread_cond_t wake; /* a new job or shutdown, for sleeping workers */
    pthread_cond_t done; /* the last worker left a closed job, for a sleeping caller */
    pthread_t threads[MAX_WORKERS];
    int nthreads;
    bool busy;                  /* a caller owns the pool (under mu) */
    int sleepers;               /* workers waiting on wake (under mu) */
    atomic_bool caller_waiting; /* the caller waits on done */
    atomic_bool shutdown;
    _Atomic uint64_t job;
    /* the current job, written by its caller before it publishes P.job (release) and
     * read by workers only after they joined (acquire) */
    tconv_task_fn fn;
    void *ctx;
    int64_t n;
    atomic_llong next;
} P = {.mu = PTHREAD_MUTEX_INITIALIZER,
       .wake = PTHREAD_COND_INITIALIZER,
       .done = PTHREAD_COND_INITIALIZER};

static void run_tasks(tconv_task_fn fn, void *ctx, int64_t n)
{
    for (;;) {
        int64_t i = (int64_t)atomic_fetch_add_explicit(&P.next, 1, memory_order_relaxed);
        if (i >= n)
            return;
        fn(ctx, i);
    }
}

static void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__)
    __asm__ __volatile__("yield");
#endif
}

static int64_t now_ns(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000000000 + t.tv_nsec;
}

/* Spins for at most SPIN_NS until done(arg) holds; returns whether it does. */
static bool spin_until(bool (*done)(const void *), const void *arg)
{
    const int64_t t0 = now_ns();
    for (int i = 1;; i++) {
        if (done(arg))
            return true;
        cpu_relax();
        if (i % 64 == 0 && now_ns() - t0 > SPIN_NS)
            return false;
    }
}

static bool new_job(const void *seen)
{
    return JOB_GEN(atomic_load_explicit(&P.job, memory_order_relaxed)) !=
               *(const uint64_t *)seen ||
           atomic_load_explicit(&P.shutdown, memory_order_relaxed);
}

static bool job_empty(const void *unused)
{
    (void)unused;
    return JOB_IN(atomic_load_explicit(&P.job, memory_order_acquire)) == 0;
}

/* Takes a place in job generation gen if one is open; false if the job is closed or
 * already another. */
static bool join(uint64_t gen)
{
    uint64_t w = atomic_load_explicit(&P.job, memory_order_relaxed);
    while (JOB_GEN(w) == gen && JOB_OPEN(w) > 0)
        if (atomic_compare_exchange_weak_explicit(&P.job, &w, w - 1 + JOB_ONE_IN,
                                                  memory_order_acquire,
                                                  memory_order_relaxed))
            return true;
    return false;
}

static void *worker_main(void *arg)
{
    (void)arg;
    /* none seen yet: a new worker looks at once for a job with places open (the one
     * whose caller created it, usually) */
    uint64_t seen = JOB_NONE;
    for (;;) {
        if (!spin_until(new_job, &seen)) {
            pthread_mutex_lock(&P.mu);
            while (!new_job(&seen)) {
                P.sleepers++;
                pthread_cond_wait(&P.wake, &P.mu);
                P.sleepers--;
            }
            pthread_mutex_unlock(&P.mu);
        }
        if (atomic_load(&P.shutdown))
            break;
        seen = JOB_GEN(atomic_load_explicit(&P.job, memory_order_relaxed));
        if (!join(seen))
            continue; /* the caller has finished without us */
        run_tasks(P.fn, P.ctx, P.n);
        /* Leave. A caller asleep on done is woken by the last one out; seq_cst on both
         * sides (here the subtraction and the flag's load, there the flag's store and
         * the job's load) so that one of the two sees the other. */
        const uint64_t before = atomic_fetch_sub(&P.job, JOB_ONE_IN);
        if (JOB_IN(before) == 1 && atomic_load(&P.caller_waiting)) {
            pthread_mutex_lock(&P.mu);
            pthread_cond_signal(&P.done);
            pthread_mutex_unlock(&P.mu);
        }
    }
    return NULL;
}

static atomic_int fail_spawns; /* tconv__pool_test_fail_spawns */

void tconv__pool_test_fail_spawns(int n)
{
    atomic_store(&fail_spawns, n > 0 ? n : 0);
}

/* Consumes one injected failure, if any is pending. */
static bool spawn_refused(void)
{
    int left = atomic_load(&fail_spawns);
    while (left > 0 && !atomic_compare_exchange_weak(&fail_spawns, &left, left - 1))
        ;
    return left > 0;
}

/* With P.mu held: make at least `count` workers exist; returns how many do. */
static int grow(int count)
{
    if (count > MAX_WORKERS)
        count = MAX_WORKERS;
    while (P.nthreads < count) {
        if (spawn_refused() ||
            pthread_create(&P.threads[P.nthreads], NULL, worker_main, NULL) != 0)
            break; /* run with the workers we have */
        P.nthreads++;
    }
    return P.nthreads < count ? P.nthreads : count;
}

tconv_status tconv__parallel_for(const tconv_exec *exec, int threads, tconv_task_fn fn, void *ctx,
                                 int64_t n)
{
    if (n <= 0)
        return TCONV_OK;
    if (exec && exec->parallel_for) {
        exec->parallel_for(exec->parallel_ctx, fn, ctx, n);
        return TCONV_OK;
    }
    int helpers = 0;
    if (threads > 1 && n > 1) {
        pthread_mutex_lock(&P.mu);
        if (!P.busy && !atomic_load(&P.shutdown)) {
            helpers = grow(threads - 1);
            if (helpers > 0) {
                P.busy = true;
                P.fn = fn;
                P.ctx = ctx;
                P.n = n;
                atomic_store_explicit(&P.next, 0, memory_order_relaxed);
                /* no worker is in a job here: the last caller waited for them */
                const uint64_t gen = JOB_GEN(atomic_load(&P.job)) + 1;
                atomic_store_explicit(&P.job, gen << 24 | (uint64_t)helpers,
                                      memory_order_release);
                if (P.sleepers > 0)
                    pthread_cond_broadcast(&P.wake);
            }
        }
        pthread_mutex_unlock(&P.mu);
    }
    if (helpers == 0) { /* serial: one thread asked for, pool busy, or no worker */
        for (int64_t i = 0; i < n; i++)
            fn(ctx, i);
        return TCONV_OK;
    }
    run_tasks(fn, ctx, n);
    /* close the places nobody took, then wait for the workers that joined */
    uint64_t w = atomic_load(&P.job);
    while (!atomic_compare_exchange_weak(&P.job, &w, w & ~JOB_OPEN_MASK))
        ;
    if (!spin_until(job_empty, NULL)) {
        pthread_mutex_lock(&P.mu);
        atomic_store(&P.caller_waiting, true);
        while (JOB_IN(atomic_load(&P.job)) > 0)
            pthread_cond_wait(&P.done, &P.mu);
        atomic_store(&P.caller_waiting, false);
        pthread_mutex_unlock(&P.mu);
    }
    pthread_mutex_lock(&P.mu);
    P.busy = false;
    pthread_mutex_unlock(&P.mu);
    return TCONV_OK;
}

typedef struct units_job {
    tconv_unit_fn fn;
    void *ctx;
    char *workspace;
    size_t slot_bytes;
    int64_t units;
    atomic_llong next;
} units_job;

static void units_stripe(void *ctx, int64_t i)
{
    units_job *j = ctx;
    void *slot = j->workspace + (size_t)i * j->slot_bytes;
    for (;;) {
        int64_t u = (int64_t)atomic_fetch_add_explicit(&j->next, 1, memory_order_relaxed);
        if (u >= j->units)
            return;
        j->fn(j->ctx, u, slot);
    }
}

void tconv__run_units(const tconv_exec *exec, int threads, int64_t units, tconv_unit_fn fn,
                      void *ctx, void *workspace, size_t slot_bytes)
{
    units_job j = {fn, ctx, workspace, slot_bytes, units, 0};
    atomic_init(&j.next, 0);
    tconv__parallel_for(exec, threads, units_stripe, &j, threads);
}

int tconv__default_threads(void)
{
    static atomic_int cached = 0;
    int v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (v > 0)
        return v;
    const char *env = getenv("TCONV_NUM_THREADS");
    char *end = NULL;
    long t = env ? strtol(env, &end, 10) : 0;
    if (!env || end == env || *end != '\0' || t < 1) {
        long cpus = sysconf(_SC_NPROCESSORS_ONLN);
        t = cpus > 0 ? cpus : 1;
    }
    v = t > MAX_WORKERS + 1 ? MAX_WORKERS + 1 : (int)t;
    atomic_store_explicit(&cached, v, memory_order_relaxed);
    return v;
}

int tconv__resolve_threads(int requested)
{
    return requested > 0 ? requested : tconv__default_threads();
}

double tconv__min_flops_per_thread(void)
{
    static _Atomic double cached = -1.0;
    double v = atomic_load_explicit(&cached, memory_order_relaxed);
    if (v >= 0.0)
        return v;
    const char *env = getenv("TCONV_MIN_FLOPS_PER_THREAD");
    char *end = NULL;
    v = env ? strtod(env, &end) : 0.0;
    if (!env || end == env || *end != '\0' || !(v >= 0.0) || v > 1e18)
        v = TCONV_MIN_FLOPS_PER_THREAD_DEFAULT;
    atomic_store_explicit(&cached, v, memory_order_relaxed);
    return v;
}

int tconv__threads_for_work(int threads, double flops, double min_flops_per_thread)
{
    if (threads <= 1 || min_flops_per_thread <= 0.0)
        return threads < 1 ? 1 : threads;
    const double most = flops / min_flops_per_thread;
    return most >= (double)threads ? threads : most < 1.0 ? 1 : (int)most;
}

#if defined(__GNUC__) || defined(__clang__)
/* Stop and join the workers when the library is unloaded or the process exits. */
__attribute__((destructor)) static void pool_shutdown(void)
{
    pthread_mutex_lock(&P.mu);
    if (P.busy) { /* exit() from inside a job: leave the threads alone */
        pthread_mutex_unlock(&P.mu);
        return;
    }
    atomic_store(&P.shutdown, true);
    pthread_cond_broadcast(&P.wake);
    int n = P.nthreads;
    pthread_mutex_unlock(&P.mu);
    for (int i = 0; i < n; i++)
        pthread_join(P.threads[i], NULL);
    pthread_mutex_lock(&P.mu);
    P.nthreads = 0;
    pthread_mutex_unlock(&P.mu);
}
#endif
