/* speed.c: `minillm bench`: times pp and tg over repetitions, checks the logits are the same
 * in every repetition, and prints the table; after tg, the bytes a token reads
 * and how near generation runs to the memory bandwidth measured on the spot. */
#include "run/speed.h"

#include <math.h>
#include <stdint.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"
#include "core/pool.h"
#include "run/complete.h"

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
    double t0 = clock_now_s();
    const float *logits = forward_batch(c, toks, n, 0, 0, 0);
    double t = clock_now_s() - t0;
    *hash = fnv(1469598103934665603ull, logits, sizeof(float) * (size_t)m->cfg.n_vocab);
    return t;
}

/* One generated token at position pos: the logits of *tok, then *tok becomes
 * their greedy choice, folded into the hash *h. */
static void tg_step(struct context *c, int32_t *tok, int pos, uint64_t *h)
{
    const struct model *m = c->m;
    const float *logits = forward(c, *tok, pos);
    int32_t best = complete_greedy(logits, m->cfg.n_vocab);
    *h = fnv(*h, &best, sizeof best);
    *tok = best;
}

static int32_t tg_first(const struct context *c)
{
    return c->m->tok.bos_id >= 0 ? c->m->tok.bos_id : 0;
}

static double run_tg(struct context *c, int n, uint64_t *hash)
{
    int32_t tok = tg_first(c);
    uint64_t h = 1469598103934665603ull;
    double t0 = clock_now_s();
    for (int i = 0; i < n; i++)
        tg_step(c, &tok, i, &h);
    double t = clock_now_s() - t0;
    *hash = h;
    return t;
}

static enum status one_test(struct context *c, const char *name, int n, int reps, int is_pp, const char *model_name,
                            FILE *out, double *mean_out, uint64_t *hash_out, struct err *e)
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
    *mean_out = mean;
    *hash_out = h0;
    return STATUS_OK;
}

/* ---- the memory ceiling of generation ---------------------------------------
 * A generated token reads every weight it multiplies by once (for a mixture of
 * experts, the used share of the experts on average). Streaming those bytes
 * with the same threads, with nothing computed, gives the rate; rate / bytes
 * per token is the ceiling tg is measured against (measure_ceiling: each pass
 * beside a token). For a mixture of experts only the dense weights are
 * streamed (which experts a token uses is not known here), and at most
 * MAX_REGIONS tensors: the rate is still the machine's, the bytes per token
 * count everything. */

struct region {
    const unsigned char *p;
    uint64_t n;
};

#define MAX_REGIONS 4096

/* The ways a pass reads (see STREAM_PREFETCH). */
enum pass_kind {
    PASS_T0,   /* one stream a thread, prefetching into all cache levels */
    PASS_NTA,  /* one stream a thread, prefetching non-temporally */
    PASS_T0_8, /* eight streams a thread, each prefetching into all levels */
    N_PASS
};

static const char *const pass_name[N_PASS] = {"one stream, all levels", "one stream, non-temporal",
                                              "eight streams, all levels"};

struct stream_job {
    const struct region *r;
    int n_regions;
    uint64_t total;
    enum pass_kind kind; /* how this pass reads */
    uint64_t sink[64];   /* one per thread, so the reads are not optimized away */
};

static void add_region(struct region *r, int *n, const struct weight *w, double share, uint64_t *bytes)
{
    if (!w->data || w->n_bytes == 0)
        return;
    *bytes += (uint64_t)((double)w->n_bytes * share);
    if (*n < MAX_REGIONS && share >= 1.0)
        r[(*n)++] = (struct region){w->data, w->n_bytes};
}

/* The weights one generated token reads; returns their byte count. */
static uint64_t token_regions(const struct model *m, struct region *r, int *n)
{
    const struct model_config *cfg = &m->cfg;
    uint64_t bytes = 0;
    *n = 0;
    for (int l = 0; l < cfg->n_layer; l++) {
        const struct layer *L = &m->layers[l];
        const struct weight *ws[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down, &L->router};
        for (size_t k = 0; k < sizeof ws / sizeof ws[0]; k++)
            add_region(r, n, ws[k], 1.0, &bytes);
        for (int x = 0; x < cfg->n_expert; x++) {
            double share = (double)cfg->n_expert_used / (double)cfg->n_expert;
            add_region(r, n, &L->exp_gate[x], share, &bytes);
            add_region(r, n, &L->exp_up[x], share, &bytes);
            add_region(r, n, &L->exp_down[x], share, &bytes);
        }
    }
    add_region(r, n, &m->output, 1.0, &bytes);
    return bytes;
}

/* Each thread reads its share of every region, 64 bytes per step, with a
 * software prefetch ahead, as the one-token kernels read (kernels/x86/simd.h):
 * without one the pass would read slower than the kernels do and be no
 * ceiling. Which way streams fastest depends on the host: on a quiet one (2
 * threads, the 1B Q4_0 file's 763 MB, 32 passes of each interleaved, twice)
 * none 52.8 / 50.0 GB/s, non-temporal 16 KiB ahead 56.6 / 57.1, 32 KiB 54.4 /
 * 52.8; on a host whose bandwidth other tenants held to 7-15 GB/s, the
 * non-temporal pass ran at half the rate of the all-levels (T0) one, and one
 * stream a thread at 0.7x eight (12.1 against 16.7 GB/s, 800 MB, 10
 * interleaved rounds: there the latency of a miss, not the bus, bounds one
 * stream, and the kernels, whose matrices split into many runs, outran it).
 * So every token is followed by one pass of each kind (the order rotating)
 * and the ceiling is the fastest kind's mean. */
#define STREAM_PREFETCH 16384
#define STREAMS 8 /* of PASS_T0_8, each prefetching STREAM_PREFETCH / STREAMS ahead */

static inline __attribute__((always_inline)) uint64_t read_line(const unsigned char *p)
{
    uint64_t v[8];
    memcpy(v, p, sizeof v);
    return v[0] ^ v[1] ^ v[2] ^ v[3] ^ v[4] ^ v[5] ^ v[6] ^ v[7];
}

/* Lines [a, e) of p as one stream, prefetching with hint locality (0:
 * non-temporal, 3: all levels). */
static inline __attribute__((always_inline)) uint64_t read_one(const unsigned char *p, uint64_t a, uint64_t e,
                                                               const int locality)
{
    uint64_t x = 0;
    for (uint64_t i = a; i < e; i++) {
        if (locality) /* constant in each inlined copy: no branch left */
            __builtin_prefetch(p + 64 * i + STREAM_PREFETCH, 0, 3);
        else
            __builtin_prefetch(p + 64 * i + STREAM_PREFETCH, 0, 0);
        x ^= read_line(p + 64 * i);
    }
    return x;
}

/* Lines [a, e) of p as STREAMS equal runs read side by side (the remainder
 * after them as one stream). */
static uint64_t read_many(const unsigned char *p, uint64_t a, uint64_t e)
{
    uint64_t n = (e - a) / STREAMS, x = 0;
    for (uint64_t i = 0; i < n; i++)
        for (int s = 0; s < STREAMS; s++) {
            const unsigned char *q = p + 64 * (a + (uint64_t)s * n + i);
            __builtin_prefetch(q + STREAM_PREFETCH / STREAMS, 0, 3);
            x ^= read_line(q);
        }
    return x ^ read_one(p, a + STREAMS * n, e, 3);
}

static void stream_worker(void *arg, int ith, int nth)
{
    struct stream_job *j = arg;
    uint64_t x = 0;
    for (int k = 0; k < j->n_regions; k++) {
        uint64_t lines = j->r[k].n / 64;
        uint64_t a = lines * (uint64_t)ith / (uint64_t)nth, e = lines * (uint64_t)(ith + 1) / (uint64_t)nth;
        const unsigned char *p = j->r[k].p;
        switch (j->kind) {
        case PASS_T0: x ^= read_one(p, a, e, 3); break;
        case PASS_NTA: x ^= read_one(p, a, e, 0); break;
        default: x ^= read_many(p, a, e); break;
        }
    }
    j->sink[ith & 63] = x;
}

/* The ceiling, measured alongside generation: n tokens, each followed at once
 * by one pass streaming the bytes a token reads, so that both see the same
 * moment of a shared machine's bandwidth (it moved by 2x within a second
 * here) and are compared by the same statistic, mean against mean. A best
 * pass against mean tokens would set every token against the machine's
 * luckiest 20 ms. The tokens are tg's own, and must give its hash. */
struct ceiling {
    double token_s;        /* mean seconds per token */
    double kind_s[N_PASS]; /* mean seconds per pass of each kind */
    enum pass_kind kind;   /* the fastest kind: the ceiling */
    double best_rate;       /* the fastest single pass, bytes/s */
    uint64_t hash;          /* of the tokens, as run_tg's */
    uint64_t total;         /* bytes a pass streams */
    uint64_t per_token;     /* bytes a token reads (more than a pass for a mixture of experts) */
};

static void measure_ceiling(struct context *c, int n, struct ceiling *out)
{
    static struct region r[MAX_REGIONS];
    struct stream_job j = {.r = r};
    uint64_t per_token = token_regions(c->m, r, &j.n_regions);
    for (int k = 0; k < j.n_regions; k++)
        j.total += r[k].n;
    pool_run(c->pool, stream_worker, &j); /* warm: pages resident, caches as after a token */
    int32_t tok = tg_first(c);
    uint64_t h = 1469598103934665603ull;
    double tok_s = 0, pass_s[N_PASS] = {0}, best = 0;
    for (int i = 0; i < n; i++) {
        double t0 = clock_now_s();
        tg_step(c, &tok, i, &h);
        tok_s += clock_now_s() - t0;
        for (int k = 0; k < N_PASS; k++) {
            j.kind = (enum pass_kind)((i + k) % N_PASS); /* rotate which kind follows the token */
            double t1 = clock_now_s();
            pool_run(c->pool, stream_worker, &j);
            double t2 = clock_now_s();
            pass_s[j.kind] += t2 - t1;
            if (t2 > t1 && (double)j.total / (t2 - t1) > best)
                best = (double)j.total / (t2 - t1);
        }
    }
    enum pass_kind fast = PASS_T0;
    for (int k = 1; k < N_PASS; k++)
        if (pass_s[k] < pass_s[fast])
            fast = (enum pass_kind)k;
    *out = (struct ceiling){tok_s / n, {0}, fast, best, h, j.total, per_token};
    for (int k = 0; k < N_PASS; k++)
        out->kind_s[k] = pass_s[k] / n;
}

enum status speed_run(struct context *c, const struct speed_opts *o, const char *model_name, FILE *out,
                      struct err *e)
{
    char name[32];
    double rate = 0;
    uint64_t pp_hash, tg_hash;
    fprintf(out, "| model | threads | test | t/s | output hash (same every rep) |\n|---|---:|---|---:|---|\n");
    if (o->n_prompt > 0) {
        snprintf(name, sizeof name, "pp%d", o->n_prompt);
        if (one_test(c, name, o->n_prompt, o->reps, 1, model_name, out, &rate, &pp_hash, e))
            return STATUS_ERR;
    }
    if (o->n_gen > 0) {
        snprintf(name, sizeof name, "tg%d", o->n_gen);
        if (one_test(c, name, o->n_gen, o->reps, 0, model_name, out, &rate, &tg_hash, e))
            return STATUS_ERR;
        struct ceiling cl;
        measure_ceiling(c, o->n_gen, &cl);
        if (cl.hash != tg_hash)
            return err_set(e, "bench: the tokens timed beside the streaming passes gave hash %016llx, tg %016llx",
                           (unsigned long long)cl.hash, (unsigned long long)tg_hash);
        uint64_t per_token = cl.per_token;
        double used = rate * (double)per_token;
        double stream_rate = (double)cl.total / cl.kind_s[cl.kind]; /* bytes/s */
        double frac = ((double)per_token / cl.token_s) / stream_rate;
        fprintf(out, "\ngeneration reads %.1f MB of weights per token (%llu bytes): %.1f GB/s at %.2f t/s.\n"
                "Ceiling: %d tokens (hash %016llx, as tg), each followed by three passes streaming the same bytes with "
                "%d thread%s, nothing computed (%.1f MB a pass): one stream a thread prefetching into all cache "
                "levels, one prefetching non-temporally, and eight streams a thread: a token %.2f ms, a pass of the "
                "fastest kind (%s) %.2f ms on average "
                "(%.1f GB/s; fastest pass %.1f GB/s), so generation runs at %.1f %% of this machine's memory bandwidth "
                "right now (ceiling %.1f t/s)\n",
                (double)per_token / 1e6, (unsigned long long)per_token, used / 1e9, rate, o->n_gen,
                (unsigned long long)cl.hash, pool_size(c->pool), pool_size(c->pool) > 1 ? "s" : "",
                (double)cl.total / 1e6, 1e3 * cl.token_s, pass_name[cl.kind], 1e3 * cl.kind_s[cl.kind],
                stream_rate / 1e9,
                cl.best_rate / 1e9, 100.0 * frac, stream_rate / (double)per_token);
        fprintf(out, "Passes by kind, mean rate:");
        for (int k = 0; k < N_PASS; k++)
            fprintf(out, "%s %s %.1f GB/s", k ? ";" : "", pass_name[k], (double)cl.total / cl.kind_s[k] / 1e9);
        fprintf(out, ".\n");
    }
    return STATUS_OK;
}
