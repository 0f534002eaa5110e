/* context.h: the run state of one sequence.
 *
 * A context owns the activations (n_batch rows of each), the F16 KV cache of
 * n_ctx positions, and the thread pool; all of it is allocated by context_new,
 * nothing in the forward pass (forward.h). */
#ifndef CONTEXT_H
#define CONTEXT_H

#include <stdint.h>

#include "core/err.h"
#include "model/model.h"
#include "core/pool.h"

#define CONTEXT_MAX_BATCH 64

struct context {
    const struct model *m;
    struct pool *pool;
    int32_t n_ctx;
    int n_batch; /* tokens per forward chunk (activation rows), at most CONTEXT_MAX_BATCH */
    size_t nb8, nbk; /* blocks per quantized activation row: Q8_0, Q8_K */
    size_t nxh;      /* floats per F16 activation row (the widest row) */
    /* activations */
    float *x;      /* [n_embd] residual stream */
    float *xb;     /* [n_embd] normed input */
    float *xb2;    /* [n_embd] FFN output */
    float *q;      /* [n_head * head_dim] */
    float *k;      /* [n_head_kv * head_dim] */
    float *v;      /* [n_head_kv * head_dim] */
    float *ao;     /* [n_head * head_dim] attention output */
    float *hb;     /* [n_ff] gate */
    float *hb2;    /* [n_ff] up */
    float *logits; /* [n_vocab] */
    float *rlog;   /* [n_expert] router logits, then probabilities */
    float *moe;    /* [n_embd] weighted sum of the chosen experts' outputs */
    float *eo;     /* [n_embd] one expert's output, for the tokens routed to it */
    float *ein;    /* [n_embd] the inputs of the tokens routed to one expert */
    float *eslot;  /* [n_expert_used][n_embd] each token's chosen experts' outputs */
    int32_t *route; /* [n_expert_used] each token's chosen experts, in order */
    float *rw;      /* [n_expert_used] their renormalized weights */
    struct block_q8_0 *qa; /* activations quantized to Q8_0 for Q4_0/Q8_0 matmuls (largest row) */
    float *qd;             /* per Q8_0 activation block: its scale as a float */
    int32_t *qs8;          /* per Q8_0 activation block: -8 x the sum of its quants */
    struct block_q8_0 *qa_bm; /* qa, qd, qs8 block-major for the VNNI kernels (gemm.h) */
    float *qd_bm;
    int32_t *qs8_bm;
    struct block_q8_k *qk; /* activations quantized to Q8_K for Q4_K/Q6_K matmuls (largest row) */
    struct gemm_q8k_one *qk1; /* one token's qk row expanded for the one-token VNNI Q4_K kernel (gemm.h) */
    float *xh;             /* activations rounded to F16, held as floats, for F16 matmuls (largest row) */
    float *rope_cs; /* [rope_dim] per token: cos, sin of each rotated pair at its position (every layer and head) */
    uint16_t *qh;  /* [n_head * head_dim] query rounded to F16 (the F16 attention; the tiled one reads q) */
    uint16_t *vacc; /* [n_head * head_dim] F16 running sums of the F16 attention */
    uint16_t *kc;  /* [n_layer][n_ctx][n_head_kv * head_dim] F16 keys */
    uint16_t *vc;  /* [n_layer][n_ctx][n_head_kv * head_dim] F16 values */
    uint64_t kv_bytes;
    uint64_t scratch_bytes;
};

/* Creates the run state for up to n_ctx positions with n_threads threads. */
enum status context_new(struct context *c, const struct model *m, int32_t n_ctx, int n_threads, struct err *e);
void context_free(struct context *c);

/* Bytes context_new would allocate for the KV cache and the scratch. */
void context_sizes(const struct model_config *cfg, int32_t n_ctx, uint64_t *kv_bytes, uint64_t *scratch_bytes);

#endif
