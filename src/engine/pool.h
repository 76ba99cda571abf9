/* Worker pool for the engine's kernels: the one place the thread count lives.
 *
 * pool_run(fn, ctx, n) runs fn(ctx, task, thread) for task = 0..n-1 on the calling thread
 * and the pool's workers, and returns when all have finished. Tasks are claimed one at a time
 * from a shared counter, so a worker that the OS has descheduled (another process needs the
 * core) holds up at most the one task it is running; the others, the caller included, take
 * the rest. Idle workers spin for a short bounded time (about 50 microseconds, so the next
 * kernel of a decode step finds them awake), then sleep on a condition variable: a pool
 * never burns a core another process could use.
 *
 * The default thread count is the number of cores this process may run on
 * (sched_getaffinity), overridden by $LLMSCOPE_THREADS; pool_set_threads overrides both.
 * Calls from inside a task run serially on the calling thread. Not for concurrent use by
 * two application threads at once (the engine is driven from one thread). */
#ifndef LLMSCOPE_POOL_H
#define LLMSCOPE_POOL_H
#include <stddef.h>

#define POOL_MAX_THREADS 256

typedef void (*PoolFn)(void *ctx, int task, int thread);

/* n < 1 means the default (see above); clamped to [1, POOL_MAX_THREADS]. */
void pool_set_threads(int n);
int pool_threads(void);
/* Cores this process may run on (sched_getaffinity; 1 if unknown), then $LLMSCOPE_THREADS. */
int pool_default_threads(void);
void pool_run(PoolFn fn, void *ctx, int n_tasks);
/* A 64-byte aligned scratch buffer of at least `floats` floats owned by pool thread `thread`
 * (0 = the calling thread), one per slot (0..POOL_SCRATCH_SLOTS-1); grown on demand, kept
 * until pool_shutdown. NULL when out of memory. */
#define POOL_SCRATCH_SLOTS 4
float *pool_scratch(int thread, int slot, size_t floats);
/* Stops and joins the workers (they are restarted by the next pool_run). */
void pool_shutdown(void);

#endif
