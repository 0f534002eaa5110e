/* pool.h: a persistent pthread pool that runs one job on every thread.
 *
 * pool_run(p, fn, arg) calls fn(arg, ith, nth) for ith = 0..nth-1, the calling
 * thread taking ith = 0, and returns when all have finished. Jobs split their
 * work by ith so that every output element is computed by exactly one thread
 * in a fixed way: results do not depend on timing. */
#ifndef POOL_H
#define POOL_H

#include "core/err.h"

struct pool;

typedef void (*pool_fn)(void *arg, int ith, int nth);

/* Starts n_threads - 1 workers (n_threads >= 1). */
enum status pool_create(struct pool **out, int n_threads, struct err *e);
/* Stops and joins the workers; NULL is fine. */
void pool_free(struct pool *p);
int pool_size(const struct pool *p);
void pool_run(struct pool *p, pool_fn fn, void *arg);

#endif
