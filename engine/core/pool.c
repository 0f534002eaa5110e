/* pool.c: workers spin briefly on an atomic job generation, then sleep on a
 * condition variable; the caller publishes a job by bumping the generation,
 * runs share 0 itself, then waits for every worker to count itself done,
 * spinning briefly and then sleeping too.
 *
 * Spinning keeps the per-job cost to well under a microsecond while jobs
 * come back to back (the matmuls of a forward pass); the time bound on it
 * (SPIN_NS) keeps a busy or oversubscribed machine from losing its cores to
 * threads that wait for a thread the scheduler has not run. */
#include "core/pool.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <time.h>

#include "core/clock.h"

#define SPIN_NS 50000 /* spin at most this long before sleeping */

struct pool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake;  /* workers: a new job or stop */
    pthread_cond_t done;  /* caller: the last worker finished */
    atomic_ulong generation;
    atomic_int n_done;
    atomic_int n_sleeping;
    atomic_int caller_sleeping;
    atomic_int stop;
    pool_fn fn;
    void *arg;
};

struct worker_arg {
    struct pool *p;
    int ith;
};

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

static unsigned long wait_job(struct pool *p, unsigned long seen)
{
    int64_t t0 = clock_now_ns();
    for (unsigned i = 0;; i++) {
        unsigned long g = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (g != seen || atomic_load(&p->stop))
            return g;
        cpu_relax();
        if ((i & 63) == 63 && clock_now_ns() - t0 > SPIN_NS)
            break;
    }
    pthread_mutex_lock(&p->mu);
    atomic_fetch_add(&p->n_sleeping, 1);
    while (atomic_load(&p->generation) == seen && !atomic_load(&p->stop))
        pthread_cond_wait(&p->wake, &p->mu);
    atomic_fetch_sub(&p->n_sleeping, 1);
    pthread_mutex_unlock(&p->mu);
    return atomic_load(&p->generation);
}

static void *worker(void *v)
{
    struct worker_arg *wa = v;
    struct pool *p = wa->p;
    int ith = wa->ith;
    free(wa);
    unsigned long seen = 0;
    for (;;) {
        seen = wait_job(p, seen);
        if (atomic_load(&p->stop))
            return NULL;
        p->fn(p->arg, ith, p->n_threads);
        if (atomic_fetch_add(&p->n_done, 1) + 1 == p->n_threads - 1 && atomic_load(&p->caller_sleeping)) {
            pthread_mutex_lock(&p->mu);
            pthread_cond_signal(&p->done);
            pthread_mutex_unlock(&p->mu);
        }
    }
}

enum status pool_create(struct pool **out, int n_threads, struct err *e)
{
    if (n_threads < 1 || n_threads > 256)
        return err_set(e, "pool: thread count %d is not in 1..256", n_threads);
    struct pool *p = calloc(1, sizeof *p);
    if (!p)
        return err_set(e, "pool: out of memory");
    p->n_threads = n_threads;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    pthread_cond_init(&p->done, NULL);
    atomic_init(&p->generation, 0);
    atomic_init(&p->n_done, 0);
    atomic_init(&p->n_sleeping, 0);
    atomic_init(&p->caller_sleeping, 0);
    atomic_init(&p->stop, 0);
    p->threads = calloc((size_t)n_threads, sizeof *p->threads);
    if (!p->threads) {
        pool_free(p);
        return err_set(e, "pool: out of memory");
    }
    for (int i = 1; i < n_threads; i++) {
        struct worker_arg *wa = malloc(sizeof *wa);
        if (wa) {
            wa->p = p;
            wa->ith = i;
        }
        if (!wa || pthread_create(&p->threads[i], NULL, worker, wa)) {
            free(wa);
            p->n_threads = i; /* join only the ones that started */
            pool_free(p);
            return err_set(e, "pool: cannot start thread %d", i);
        }
    }
    *out = p;
    return STATUS_OK;
}

void pool_free(struct pool *p)
{
    if (!p)
        return;
    atomic_store(&p->stop, 1);
    pthread_mutex_lock(&p->mu);
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    for (int i = 1; i < p->n_threads; i++)
        pthread_join(p->threads[i], NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    pthread_cond_destroy(&p->done);
    free(p->threads);
    free(p);
}

int pool_size(const struct pool *p)
{
    return p->n_threads;
}

void pool_run(struct pool *p, pool_fn fn, void *arg)
{
    if (p->n_threads == 1) {
        fn(arg, 0, 1);
        return;
    }
    p->fn = fn;
    p->arg = arg;
    atomic_store_explicit(&p->n_done, 0, memory_order_relaxed);
    atomic_fetch_add(&p->generation, 1); /* seq_cst: publishes fn/arg, ordered before the sleeper check */
    if (atomic_load(&p->n_sleeping) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }

    fn(arg, 0, p->n_threads);

    int need = p->n_threads - 1;
    int64_t t0 = clock_now_ns();
    for (unsigned i = 0; atomic_load_explicit(&p->n_done, memory_order_acquire) < need; i++) {
        cpu_relax();
        if ((i & 63) == 63 && clock_now_ns() - t0 > SPIN_NS) {
            pthread_mutex_lock(&p->mu);
            atomic_store(&p->caller_sleeping, 1); /* seq_cst: a finishing worker sees it, or we see its count */
            while (atomic_load(&p->n_done) < need)
                pthread_cond_wait(&p->done, &p->mu);
            atomic_store(&p->caller_sleeping, 0);
            pthread_mutex_unlock(&p->mu);
            break;
        }
    }
}
