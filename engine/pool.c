/* pool.c: workers spin briefly on an atomic job generation, then sleep on a
 * condition variable; the caller publishes a job by bumping the generation,
 * runs share 0 itself, and spins until every worker has counted itself done.
 * Spinning keeps the per-job cost to well under a microsecond for the many
 * small matmuls of a forward pass; sleeping keeps idle pools off the CPU. */
#include "pool.h"

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <stdlib.h>

#define SPIN_BEFORE_SLEEP 200000

struct pool {
    int n_threads;
    pthread_t *threads;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    atomic_ulong generation;
    atomic_int n_done;
    atomic_int n_sleeping;
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
    for (int i = 0; i < SPIN_BEFORE_SLEEP; i++) {
        unsigned long g = atomic_load_explicit(&p->generation, memory_order_acquire);
        if (g != seen || atomic_load(&p->stop))
            return g;
        cpu_relax();
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
        atomic_fetch_add_explicit(&p->n_done, 1, memory_order_release);
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
    atomic_init(&p->generation, 0);
    atomic_init(&p->n_done, 0);
    atomic_init(&p->n_sleeping, 0);
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

static void wake_sleepers(struct pool *p)
{
    if (atomic_load(&p->n_sleeping) > 0) {
        pthread_mutex_lock(&p->mu);
        pthread_cond_broadcast(&p->wake);
        pthread_mutex_unlock(&p->mu);
    }
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
    wake_sleepers(p);

    fn(arg, 0, p->n_threads);

    for (unsigned spins = 0; atomic_load_explicit(&p->n_done, memory_order_acquire) < p->n_threads - 1; spins++) {
        cpu_relax();
        if ((spins & 0xfff) == 0xfff)
            sched_yield();
    }
}
