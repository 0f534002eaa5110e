/* bench.c: times pp and tg over repetitions, checks the logits are the same
 * in every repetition, and prints the table. */
#include "bench.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

/* One repetition: returns seconds, and the hash of the last logits. */
static double run_pp(struct context *c, int n, uint64_t *hash)
{
    const struct model *m = c->m;
    int32_t toks[1 << 16];
    for (int i = 0; i < n && i < (1 << 16); i++)
        toks[i] = i == 0 && m->tok.bos_id >= 0 ? m->tok.bos_id : (int32_t)((i * 7919u + 13u) % (unsigned)m->cfg.n_vocab);
    double t0 = now_s();
    const float *logits = forward_batch(c, toks, n, 0, 0);
    double t = now_s() - t0;
    *hash = fnv(1469598103934665603ull, logits, sizeof(float) * (size_t)m->cfg.n_vocab);
    return t;
}

static double run_tg(struct context *c, int n, uint64_t *hash)
{
    const struct model *m = c->m;
    int32_t tok = m->tok.bos_id >= 0 ? m->tok.bos_id : 0;
    uint64_t h = 1469598103934665603ull;
    double t0 = now_s();
    for (int i = 0; i < n; i++) {
        const float *logits = forward(c, tok, i);
        int32_t best = 0;
        for (int32_t v = 1; v < m->cfg.n_vocab; v++)
            if (logits[v] > logits[best])
                best = v;
        h = fnv(h, &best, sizeof best);
        tok = best;
    }
    double t = now_s() - t0;
    *hash = h;
    return t;
}

static enum status one_test(struct context *c, const char *name, int n, int reps, int is_pp, const char *model_name,
                            FILE *out, struct err *e)
{
    double rate[64];
    uint64_t h0 = 0, h;
    if (reps > 64)
        reps = 64;
    (is_pp ? run_pp : run_tg)(c, n, &h0); /* warm-up, and the reference hash */
    for (int r = 0; r < reps; r++) {
        double t = (is_pp ? run_pp : run_tg)(c, n, &h);
        if (h != h0)
            return err_set(e, "bench: %s repetition %d produced different logits (hash %016llx, expected %016llx)", name,
                           r + 1, (unsigned long long)h, (unsigned long long)h0);
        rate[r] = n / t;
    }
    double mean = 0, var = 0;
    for (int r = 0; r < reps; r++)
        mean += rate[r];
    mean /= reps;
    for (int r = 0; r < reps; r++)
        var += (rate[r] - mean) * (rate[r] - mean);
    double sd = reps > 1 ? sqrt(var / (reps - 1)) : 0.0;
    fprintf(out, "| %s | %d | %s | %.2f ± %.2f | %016llx |\n", model_name, pool_size(c->pool), name, mean, sd,
            (unsigned long long)h0);
    fflush(out);
    return STATUS_OK;
}

enum status bench_run(struct context *c, const struct bench_opts *o, const char *model_name, FILE *out,
                      struct err *e)
{
    char name[32];
    fprintf(out, "| model | threads | test | t/s | output hash (same every rep) |\n|---|---:|---|---:|---|\n");
    if (o->n_prompt > 0) {
        snprintf(name, sizeof name, "pp%d", o->n_prompt);
        if (one_test(c, name, o->n_prompt, o->reps, 1, model_name, out, e))
            return STATUS_ERR;
    }
    if (o->n_gen > 0) {
        snprintf(name, sizeof name, "tg%d", o->n_gen);
        if (one_test(c, name, o->n_gen, o->reps, 0, model_name, out, e))
            return STATUS_ERR;
    }
    return STATUS_OK;
}
