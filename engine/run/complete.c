/* complete.c: tokenize the prompt (BOS as the vocab says), run it through the
 * model one position at a time, then generate greedily. */
#include "run/complete.h"

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/clock.h"

/* FNV-1a over the bytes of n floats, continuing from h. */
static uint64_t fnv1a(uint64_t h, const float *v, size_t n)
{
    const unsigned char *b = (const unsigned char *)v;
    for (size_t i = 0; i < n * sizeof *v; i++)
        h = (h ^ b[i]) * 0x100000001b3ull;
    return h;
}

struct digest {
    uint64_t h;
    int n;
};

static void digest_add(struct digest *d, const struct complete_opts *co, const float *logits, int32_t n_vocab)
{
    if (!co || !co->logits_digest)
        return;
    if (co->test_ulp && d->n == 0 && n_vocab > 0) {
        float first = nextafterf(logits[0], INFINITY);
        d->h = fnv1a(d->h, &first, 1);
        d->h = fnv1a(d->h, logits + 1, (size_t)n_vocab - 1);
    } else {
        d->h = fnv1a(d->h, logits, (size_t)n_vocab);
    }
    d->n++;
}

/* The slowdown knob: spin for pct % of the time since t_step. */
static void spin_after(double t_step, double pct)
{
    if (pct <= 0)
        return;
    double until = clock_now_s() + (clock_now_s() - t_step) * pct / 100;
    while (clock_now_s() < until)
        ;
}

/* Two passes the compiler widens, where one pass with the index carried is a
 * chain of dependent compares (~1 ms a token at 128k logits here): the
 * largest value in 8 lanes (`a > m ? a : m`: NaN never replaces a number, as
 * in the one-pass form; x86's maxps is this very select), then the first
 * index holding it. -0 and +0 compare equal in both forms, so the first of
 * them wins in both. A NaN at index 0 is the one-pass form's answer 0. */
int32_t complete_greedy(const float *logits, int32_t n)
{
    if (n < 16 || logits[0] != logits[0])
        goto scalar;
    float m8[8];
    for (int k = 0; k < 8; k++)
        m8[k] = logits[0];
    int32_t v = 0;
    for (; v + 8 <= n; v += 8)
        for (int k = 0; k < 8; k++)
            m8[k] = logits[v + k] > m8[k] ? logits[v + k] : m8[k];
    float mx = m8[0];
    for (int k = 1; k < 8; k++)
        mx = m8[k] > mx ? m8[k] : mx;
    for (; v < n; v++)
        mx = logits[v] > mx ? logits[v] : mx;
    for (int32_t i = 0; i < n; i++)
        if (logits[i] == mx)
            return i;
scalar:;
    int32_t best = 0;
    for (int32_t i = 1; i < n; i++)
        if (logits[i] > logits[best])
            best = i;
    return best;
}

enum status complete_run(struct context *c, const char *prompt, int n_predict, const struct complete_opts *co,
                         FILE *out, struct complete_stats *st, struct memreport *mr, struct err *e)
{
    const struct model *m = c->m;
    struct digest dg = { 0xcbf29ce484222325ull, 0 };
    int32_t *toks = NULL;
    size_t n_toks = 0;
    memset(st, 0, sizeof *st);
    if (tokenizer_encode(&m->tok, prompt, strlen(prompt), 1, &toks, &n_toks, e))
        return STATUS_ERR;
    if (n_toks == 0) {
        free(toks);
        return err_set(e, "complete: the prompt encodes to no tokens");
    }
    if ((int64_t)n_toks + n_predict > c->n_ctx) {
        free(toks);
        return err_set(e, "complete: prompt (%zu tokens) + -n %d exceeds the context -c %d", n_toks, n_predict,
                       c->n_ctx);
    }
    fputs(prompt, out);
    fflush(out);
    st->n_prompt = n_toks;

    double t0 = clock_now_s();
    const float *logits = forward_batch(c, toks, (int)n_toks, 0, 0, 0);
    free(toks);
    if (mr)
        memreport_phase(mr, "first_token");
    double t1 = clock_now_s();
    int32_t pos = (int32_t)n_toks;
    digest_add(&dg, co, logits, m->cfg.n_vocab);
    for (; st->n_gen < n_predict; st->n_gen++) {
        int32_t best = complete_greedy(logits, m->cfg.n_vocab);
        if (best == m->tok.eos_id)
            break;
        char piece[256];
        size_t len = tokenizer_piece(&m->tok, best, piece, sizeof piece);
        if (len <= sizeof piece)
            fwrite(piece, 1, len, out);
        fflush(out);
        if (st->n_gen + 1 < n_predict) {
            double t_step = clock_now_s();
            logits = forward(c, best, pos++);
            digest_add(&dg, co, logits, m->cfg.n_vocab);
            spin_after(t_step, co ? co->test_slowdown_pct : 0);
        }
    }
    fputc('\n', out);
    if (co && co->logits_digest)
        fprintf(out, "logits fnv1a64 %016" PRIx64 " over %d vectors of %d\n", dg.h, dg.n, (int)m->cfg.n_vocab);
    fflush(out);
    st->prompt_s = t1 - t0;
    st->gen_s = clock_now_s() - t1;
    return STATUS_OK;
}
