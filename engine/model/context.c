/* context.c: the run state of one sequence (context.h): its sizes, what
 * context_new allocates and touches, and context_free.
 *
 * Every buffer holds n_batch rows (one per token of a forward chunk); the
 * converted activation rows are sized for the widest row any matmul reads
 * (nb8 Q8_0 blocks, nbk Q8_K blocks, nxh F16-rounded floats). context_sizes predicts the bytes, so
 * the memory check and the memory report agree with what is allocated. */
#include "model/context.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/memlimit.h"
#include "kernels/gemm.h"
#include "kernels/quant.h"
#include "kernels/quant_k.h"

static int64_t max_i64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

struct sizes {
    size_t qd, kvd, widest, nb8, nbk, batch;
};

static struct sizes sizes_of(const struct model_config *cfg, int32_t n_ctx)
{
    struct sizes s;
    s.qd = (size_t)cfg->n_head * (size_t)cfg->head_dim;
    s.kvd = (size_t)cfg->n_head_kv * (size_t)cfg->head_dim;
    s.widest = (size_t)max_i64(max_i64(cfg->n_embd, cfg->n_ff), (int64_t)s.qd);
    s.nb8 = s.widest / QK8_0 + 1;
    s.nbk = s.widest / QK_K + 1;
    s.batch = n_ctx < CONTEXT_MAX_BATCH ? (size_t)n_ctx : CONTEXT_MAX_BATCH;
    return s;
}

void context_sizes(const struct model_config *cfg, int32_t n_ctx, uint64_t *kv_bytes, uint64_t *scratch_bytes)
{
    struct sizes s = sizes_of(cfg, n_ctx);
    *kv_bytes = 2 * (uint64_t)cfg->n_layer * (uint64_t)n_ctx * s.kvd * sizeof(uint16_t);
    /* the logits of one position are counted: more are touched only when a
     * caller asks for every position's logits (perplexity) */
    uint64_t per_tok = sizeof(float) * (3 * (uint64_t)cfg->n_embd + 3 * s.qd + 2 * s.kvd + 2 * (uint64_t)cfg->n_ff) +
                       2 * s.nb8 * (sizeof(struct block_q8_0) + sizeof(float) + sizeof(int32_t)) +
                       s.nbk * sizeof(struct block_q8_k) + s.widest * sizeof(float) +
                       2 * s.qd * sizeof(uint16_t) + (uint64_t)cfg->rope_dim * sizeof(float);
    /* one token's expanded Q8_K row (gemm.h), not per batch row */
    uint64_t one_tok = s.nbk * sizeof(struct gemm_q8k_one);
    uint64_t moe_tok = cfg->n_expert ? sizeof(float) * ((uint64_t)cfg->n_expert + 1 + 2 * (uint64_t)cfg->n_embd +
                                                         (uint64_t)cfg->n_expert_used * (uint64_t)cfg->n_embd) +
                                           (sizeof(int32_t) + sizeof(float)) * (uint64_t)cfg->n_expert_used
                                     : 0;
    *scratch_bytes = (per_tok + moe_tok) * s.batch + one_tok +
                     sizeof(float) * ((uint64_t)cfg->n_vocab + (uint64_t)cfg->n_embd);
}

/* Writes a zero into every page, so the pages are resident from now on (a
 * plain memset after calloc may be optimized away). */
static void touch(void *p, size_t n)
{
    volatile unsigned char *b = p;
    for (size_t i = 0; i < n; i += 4096)
        b[i] = 0;
}

enum status context_new(struct context *c, const struct model *m, int32_t n_ctx, int n_threads, struct err *e)
{
    const struct model_config *cfg = &m->cfg;
    memset(c, 0, sizeof *c);
    if (n_ctx < 1)
        return err_set(e, "context: n_ctx %d must be positive", n_ctx);
    c->m = m;
    c->n_ctx = n_ctx;
    struct sizes s = sizes_of(cfg, n_ctx);
    size_t B = s.batch, ne = (size_t)cfg->n_embd, nff = (size_t)cfg->n_ff;
    uint64_t kv_bytes, scratch_bytes;
    context_sizes(cfg, n_ctx, &kv_bytes, &scratch_bytes);
    char what[96];
    snprintf(what, sizeof what, "the KV cache for -c %d", n_ctx);
    if (m->opts.memory_check && memlimit_check(kv_bytes + scratch_bytes, what, e))
        return STATUS_ERR;
    c->n_batch = (int)B;
    c->nb8 = s.nb8;
    c->nbk = s.nbk;
    c->nxh = s.widest;
    c->x = calloc(B * ne, sizeof(float));
    c->xb = calloc(B * ne, sizeof(float));
    c->xb2 = calloc(B * ne, sizeof(float));
    c->q = calloc(B * s.qd, sizeof(float));
    c->k = calloc(B * s.kvd, sizeof(float));
    c->v = calloc(B * s.kvd, sizeof(float));
    c->ao = calloc(B * s.qd, sizeof(float));
    c->hb = calloc(B * nff, sizeof(float));
    c->hb2 = calloc(B * nff, sizeof(float));
    c->logits = calloc(B * (size_t)cfg->n_vocab, sizeof(float));
    size_t nx = (size_t)cfg->n_expert, ku = (size_t)(cfg->n_expert_used > 0 ? cfg->n_expert_used : 1);
    c->rlog = calloc(B * (nx + 1), sizeof(float));
    c->moe = calloc(ne, sizeof(float));
    c->eo = calloc(B * ne, sizeof(float));
    c->ein = calloc(nx ? B * ne : 1, sizeof(float));
    c->eslot = calloc(nx ? B * ku * ne : 1, sizeof(float));
    c->route = calloc(B * ku, sizeof(int32_t));
    c->rw = calloc(B * ku, sizeof(float));
    c->qa = calloc(B * s.nb8, sizeof(struct block_q8_0));
    c->qk = calloc(B * s.nbk, sizeof(struct block_q8_k));
    c->qk1 = aligned_alloc(_Alignof(struct gemm_q8k_one), s.nbk * sizeof(struct gemm_q8k_one));
    c->xh = calloc(B * s.widest, sizeof(float));
    c->qd = calloc(B * s.nb8, sizeof(float));
    c->qs8 = calloc(B * s.nb8, sizeof(int32_t));
    c->qa_bm = calloc(B * s.nb8, sizeof(struct block_q8_0));
    c->qd_bm = calloc(B * s.nb8, sizeof(float));
    c->qs8_bm = calloc(B * s.nb8, sizeof(int32_t));
    c->rope_cs = calloc(B * (size_t)(cfg->rope_dim > 0 ? cfg->rope_dim : 1), sizeof(float));
    c->qh = calloc(B * s.qd, sizeof(uint16_t));
    c->vacc = calloc(B * s.qd, sizeof(uint16_t));
    size_t kv_elems = (size_t)cfg->n_layer * (size_t)n_ctx * s.kvd;
    c->kc = calloc(kv_elems, sizeof(uint16_t));
    c->vc = calloc(kv_elems, sizeof(uint16_t));
    context_sizes(cfg, n_ctx, &c->kv_bytes, &c->scratch_bytes);
    if (c->kc && c->vc) { /* make the KV cache resident now, as llama.cpp clears its buffer */
        touch(c->kc, kv_elems * sizeof(uint16_t));
        touch(c->vc, kv_elems * sizeof(uint16_t));
    }
    if (!c->x || !c->xb || !c->xb2 || !c->q || !c->k || !c->v || !c->ao || !c->hb || !c->hb2 || !c->logits ||
        !c->rlog || !c->moe || !c->eo || !c->ein || !c->eslot || !c->route || !c->rw || !c->qa || !c->qk || !c->qk1 || !c->xh || !c->qd || !c->qs8 || !c->qa_bm || !c->qd_bm || !c->qs8_bm || !c->rope_cs || !c->qh || !c->vacc || !c->kc || !c->vc) {
        context_free(c);
        return err_set(e, "context: out of memory for n_ctx %d (KV cache %llu bytes)", n_ctx,
                       (unsigned long long)(2 * kv_elems * sizeof(uint16_t)));
    }
    if (pool_create(&c->pool, n_threads, e)) {
        context_free(c);
        return STATUS_ERR;
    }
    return STATUS_OK;
}

void context_free(struct context *c)
{
    if (!c)
        return;
    pool_free(c->pool);
    void *ps[] = {c->x,      c->xb,  c->xb2, c->q,  c->k,  c->v,  c->ao,   c->hb, c->hb2, c->logits,
                  c->rlog,   c->moe, c->eo,  c->ein, c->eslot, c->route, c->rw, c->qa, c->qk, c->qk1, c->xh, c->qd, c->qs8, c->qa_bm, c->qd_bm, c->qs8_bm, c->rope_cs, c->qh,
                  c->vacc,   c->kc,  c->vc};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
        free(ps[i]);
    memset(c, 0, sizeof *c);
}
