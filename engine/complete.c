/* complete.c: tokenize the prompt (BOS as the vocab says), run it through the
 * model one position at a time, then generate greedily. */
#include "complete.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

enum status complete_run(struct context *c, const char *prompt, int n_predict, FILE *out, struct complete_stats *st,
                         struct memreport *mr, struct err *e)
{
    const struct model *m = c->m;
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

    double t0 = now_s();
    const float *logits = forward_batch(c, toks, (int)n_toks, 0, 0);
    free(toks);
    if (mr)
        memreport_phase(mr, "first_token");
    double t1 = now_s();
    int32_t pos = (int32_t)n_toks;
    for (; st->n_gen < n_predict; st->n_gen++) {
        int32_t best = 0;
        for (int32_t v = 1; v < m->cfg.n_vocab; v++)
            if (logits[v] > logits[best])
                best = v;
        if (best == m->tok.eos_id)
            break;
        char piece[256];
        size_t len = tokenizer_piece(&m->tok, best, piece, sizeof piece);
        if (len <= sizeof piece)
            fwrite(piece, 1, len, out);
        fflush(out);
        if (st->n_gen + 1 < n_predict)
            logits = forward(c, best, pos++);
    }
    fputc('\n', out);
    fflush(out);
    st->prompt_s = t1 - t0;
    st->gen_s = now_s() - t1;
    return STATUS_OK;
}
