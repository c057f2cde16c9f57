/*
 * pool.h - tconv's persistent thread pool and the parallel-for every algorithm uses.
 *
 * One process-wide pool, created lazily at the first call that asks for more than one
 * thread, grown (never shrunk) when a call asks for more threads than it has. Workers
 * sleep on a condition variable between jobs; no thread is created per call.
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

/* Default thread count for num_threads == 0: $TCONV_NUM_THREADS if set to a positive
 * integer, else the number of online CPUs (at least 1). Read once. */
int tconv__default_threads(void);

/* A call's thread count: `requested` if > 0, else the default. */
int tconv__resolve_threads(int requested);

#endif /* TCONV_POOL_H */
