/* Worker pool (see pool.h).
 *
 * State is one 64-bit word: the run's generation in the high 32 bits and the next task to
 * claim in the low 32. A worker claims a task with a compare-and-swap that names the
 * generation it read the run's parameters for, so a worker that wakes late can never run a
 * task of a newer run with an older run's function: the caller rewrites the parameters only
 * between runs, and every claim made after that fails on the generation. */
#include "engine/pool.h"
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>
#define cpu_relax() _mm_pause()
#else
#define cpu_relax() ((void)0)
#endif

#define SPIN_NS 50000   /* bounded spin before sleeping */

static struct {
    int n_threads;                   /* wanted, caller included */
    int n_workers;                   /* started */
    pthread_t th[POOL_MAX_THREADS];
    pthread_mutex_t mu;
    pthread_cond_t cv_work, cv_done;
    _Atomic uint64_t state;          /* gen << 32 | next task */
    _Atomic(PoolFn) fn;
    _Atomic(void *) ctx;
    _Atomic int n_tasks;
    _Atomic int done;                /* tasks finished in this run */
    _Atomic int sleepers;            /* workers waiting on cv_work */
    _Atomic int caller_waiting;
    _Atomic int quit;
} P = {.n_threads = 0, .mu = PTHREAD_MUTEX_INITIALIZER, .cv_work = PTHREAD_COND_INITIALIZER,
       .cv_done = PTHREAD_COND_INITIALIZER};

static _Thread_local int t_in_task;

static struct { float *p; size_t cap; } g_scratch[POOL_MAX_THREADS][POOL_SCRATCH_SLOTS];

float *pool_scratch(int thread, int slot, size_t floats) {
    if (thread < 0 || thread >= POOL_MAX_THREADS || slot < 0 || slot >= POOL_SCRATCH_SLOTS) return NULL;
    if (floats > g_scratch[thread][slot].cap) {
        size_t cap = (floats + 15) & ~(size_t)15;
        float *p = aligned_alloc(64, cap * sizeof(float));
        if (!p) return NULL;
        free(g_scratch[thread][slot].p);
        g_scratch[thread][slot].p = p;
        g_scratch[thread][slot].cap = cap;
    }
    return g_scratch[thread][slot].p;
}

static uint64_t now_ns(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* One turn of a bounded spin (spins and t0 start at 0): true once SPIN_NS have passed since the
 * first clock reading (read every 64 turns), when the waiter should sleep instead. */
static inline bool spin_expired(unsigned *spins, uint64_t *t0) {
    cpu_relax();
    if (++*spins % 64) return false;
    const uint64_t t = now_ns();
    if (!*t0) { *t0 = t; return false; }
    return t - *t0 > SPIN_NS;
}

int pool_default_threads(void) {
    const char *env = getenv("LLMSCOPE_THREADS");
    if (env && *env) {
        char *end;
        long v = strtol(env, &end, 10);
        if (*end == 0 && v > 0) return v > POOL_MAX_THREADS ? POOL_MAX_THREADS : (int)v;
    }
    int n = 1;
#ifdef __linux__
    cpu_set_t set;
    if (sched_getaffinity(0, sizeof set, &set) == 0) n = CPU_COUNT(&set);
#endif
    if (n < 1) n = 1;
    return n > POOL_MAX_THREADS ? POOL_MAX_THREADS : n;
}

int pool_threads(void) {
    if (P.n_threads <= 0) P.n_threads = pool_default_threads();
    return P.n_threads;
}

/* Claims and runs tasks of generation gen until none is left. The parameters are read only
 * after the state shows gen with a claimable index (the caller writes them while the state
 * reads gen | BUSY), and every claim re-checks gen, so they are always the run's own. */
#define BUSY 0xFFFFFFFFu
static void run_tasks(uint32_t gen, int thread) {
    uint64_t v = atomic_load(&P.state);
    while ((uint32_t)(v >> 32) == gen && (uint32_t)v == BUSY) { cpu_relax(); v = atomic_load(&P.state); }
    if ((uint32_t)(v >> 32) != gen) return;
    PoolFn fn = atomic_load_explicit(&P.fn, memory_order_relaxed);
    void *ctx = atomic_load_explicit(&P.ctx, memory_order_relaxed);
    int n = atomic_load_explicit(&P.n_tasks, memory_order_relaxed);
    for (;;) {
        if ((uint32_t)(v >> 32) != gen) return;
        uint32_t task = (uint32_t)v;
        if (task == BUSY || (int)task >= n) return;
        if (!atomic_compare_exchange_weak(&P.state, &v, v + 1)) continue;
        t_in_task = 1;
        fn(ctx, (int)task, thread);
        t_in_task = 0;
        if (atomic_fetch_add(&P.done, 1) + 1 == n && atomic_load(&P.caller_waiting)) {
            pthread_mutex_lock(&P.mu);
            pthread_cond_signal(&P.cv_done);
            pthread_mutex_unlock(&P.mu);
        }
        v = atomic_load(&P.state);
    }
}

static void *worker_main(void *arg) {
    int thread = (int)(intptr_t)arg;
    uint32_t seen = (uint32_t)(atomic_load(&P.state) >> 32);
    for (;;) {
        uint64_t t0 = 0;
        unsigned spins = 0;
        uint32_t gen;
        while ((gen = (uint32_t)(atomic_load(&P.state) >> 32)) == seen && !atomic_load(&P.quit)) {
            if (spin_expired(&spins, &t0)) {
                pthread_mutex_lock(&P.mu);
                atomic_fetch_add(&P.sleepers, 1);
                while ((uint32_t)(atomic_load(&P.state) >> 32) == seen && !atomic_load(&P.quit))
                    pthread_cond_wait(&P.cv_work, &P.mu);
                atomic_fetch_sub(&P.sleepers, 1);
                pthread_mutex_unlock(&P.mu);
            }
        }
        if (atomic_load(&P.quit)) return NULL;
        seen = gen;
        run_tasks(gen, thread);
    }
}

void pool_shutdown(void) {
    pthread_mutex_lock(&P.mu);
    atomic_store(&P.quit, 1);
    pthread_cond_broadcast(&P.cv_work);
    pthread_mutex_unlock(&P.mu);
    for (int i = 0; i < P.n_workers; i++) pthread_join(P.th[i], NULL);
    P.n_workers = 0;
    atomic_store(&P.quit, 0);
    for (int t = 0; t < POOL_MAX_THREADS; t++)
        for (int k = 0; k < POOL_SCRATCH_SLOTS; k++) {
            free(g_scratch[t][k].p);
            g_scratch[t][k].p = NULL;
            g_scratch[t][k].cap = 0;
        }
}

void pool_set_threads(int n) {
    if (n < 1) n = pool_default_threads();
    if (n > POOL_MAX_THREADS) n = POOL_MAX_THREADS;
    if (n == P.n_threads) return;
    pool_shutdown();
    P.n_threads = n;
}

static void start_workers(void) {
    int want = pool_threads() - 1;
    while (P.n_workers < want) {
        if (pthread_create(&P.th[P.n_workers], NULL, worker_main, (void *)(intptr_t)(P.n_workers + 1)) != 0) break;
        P.n_workers++;
    }
}

void pool_run(PoolFn fn, void *ctx, int n_tasks) {
    if (n_tasks <= 0) return;
    if (n_tasks == 1 || t_in_task || pool_threads() == 1) {
        int was = t_in_task;
        t_in_task = 1;
        for (int i = 0; i < n_tasks; i++) fn(ctx, i, 0);
        t_in_task = was;
        return;
    }
    if (P.n_workers < P.n_threads - 1) start_workers();
    /* publish the run: the new generation marked busy (no claim can succeed, late workers of
     * the last run see a new generation), then the parameters, then next = 0 */
    uint32_t gen = (uint32_t)(atomic_load(&P.state) >> 32) + 1;
    atomic_store(&P.state, (uint64_t)gen << 32 | BUSY);
    atomic_store_explicit(&P.fn, fn, memory_order_relaxed);
    atomic_store_explicit(&P.ctx, ctx, memory_order_relaxed);
    atomic_store_explicit(&P.n_tasks, n_tasks, memory_order_relaxed);
    atomic_store(&P.done, 0);
    atomic_store(&P.state, (uint64_t)gen << 32);
    if (atomic_load(&P.sleepers) > 0) {
        pthread_mutex_lock(&P.mu);
        pthread_cond_broadcast(&P.cv_work);
        pthread_mutex_unlock(&P.mu);
    }
    run_tasks(gen, 0);
    /* wait for tasks still running on workers: a short spin, then sleep */
    uint64_t t0 = 0;
    unsigned spins = 0;
    while (atomic_load(&P.done) < n_tasks) {
        if (spin_expired(&spins, &t0)) {
            pthread_mutex_lock(&P.mu);
            atomic_store(&P.caller_waiting, 1);
            while (atomic_load(&P.done) < n_tasks) pthread_cond_wait(&P.cv_done, &P.mu);
            atomic_store(&P.caller_waiting, 0);
            pthread_mutex_unlock(&P.mu);
        }
    }
}
