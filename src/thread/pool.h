/*
 * pool.h - tconv's persistent thread pool and the parallel-for every algorithm uses.
 *
 * One process-wide pool, created lazily at the first call that asks for more than one
 * thread, grown (never shrunk) when a call asks for more threads than it has. Workers
 * watch for the next job for 0.1 ms after each one, then sleep on a condition
 * variable; no thread is created per call.
 * A caller that finds the pool busy with another caller's job does not wait for it:
 * it runs its own job on its own thread alone (correct, just not parallel), so
 * concurrent callers never deadlock and never see each other's tasks.
 * Results never depend on the number of threads: tasks are fixed by the problem, and
 * each task writes its own outputs.
 *
 * SPDX-License-Identifier: MIT
 */
#ifndef TCONV_POOL_H
#define TCONV_POOL_H

#include "../internal.h"

/* Runs fn(ctx, i) for i in [0, n) on up to `threads` threads (the caller's included).
 * If exec->parallel_for is set, hands the whole loop to it instead.
 * All n tasks have run when it returns. If the pool cannot start a worker (the OS
 * refuses a thread, memory runs out), the remaining tasks run on the calling thread:
 * the call still succeeds. Returns TCONV_OK (the status is kept for future use). */
tconv_status tconv__parallel_for(const tconv_exec *exec, int threads, tconv_task_fn fn,
                                 void *ctx, int64_t n);

/* Units of work with per-thread scratch: fn(ctx, unit, slot) for every unit in
 * [0, units), where slot is one of `threads` disjoint slices of `workspace`, each
 * slot_bytes long, used by one thread at a time. One task per slot takes units from a
 * shared counter, so the split adapts to busy cores; results must not depend on it
 * (each unit writes its own outputs). */
typedef void (*tconv_unit_fn)(void *ctx, int64_t unit, void *slot);
void tconv__run_units(const tconv_exec *exec, int threads, int64_t units, tconv_unit_fn fn,
                      void *ctx, void *workspace, size_t slot_bytes);

/* Default thread count for num_threads == 0: $TCONV_NUM_THREADS if set to a positive
 * integer, else the number of online CPUs (at least 1). Read once. */
int tconv__default_threads(void);

/* A call's thread count: `requested` if > 0, else the default. */
int tconv__resolve_threads(int requested);

/* Sharing a job costs about 0.5 us while the workers still watch for work after their
 * last job, 3-4 us once they sleep (the caller wakes them and runs the tasks without
 * waiting for them to wake), so a problem too small to share runs on fewer threads: at
 * most one per min_flops_per_thread of work (results do not depend on the count). Pure. */
int tconv__threads_for_work(int threads, double flops, double min_flops_per_thread);

/* That minimum: $TCONV_MIN_FLOPS_PER_THREAD if set to a number >= 0 (0: no cap; the
 * test suites set it, so that small problems still run on every thread count they
 * ask for), else TCONV_MIN_FLOPS_PER_THREAD_DEFAULT. Read once. Measured on the
 * development machine (plan runs, one process alternating 1 and 2 threads; "cold":
 * 2 ms between calls, so that the worker sleeps): fcn_up (3.6 MFLOP) at 2 threads
 * 1.5x faster than on one back to back, 0.94-1.04x cold; small_b1 (0.3 MFLOP) 1.15x
 * back to back but 3x slower cold; dw_k4s2 (8.4 MFLOP) 1.6x either way. At 1.5 MFLOP
 * per thread a cold call about breaks even and a warm one gains. (Measured when a call
 * still waited for sleeping workers to wake, 10-40 us; cold calls now cost less.) */
#define TCONV_MIN_FLOPS_PER_THREAD_DEFAULT 1.5e6
double tconv__min_flops_per_thread(void);

/* Test hook (tests/reliability): the next `n` attempts to start a worker fail as if
 * pthread_create had refused, so tests can check that jobs still complete on the
 * threads that exist. 0 restores normal behaviour. Not exported. */
void tconv__pool_test_fail_spawns(int n);

#endif /* TCONV_POOL_H */
