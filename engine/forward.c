/* forward.c: the llama forward pass for one token, split over the thread pool.
 *
 * Per layer: RMSNorm -> Q, K, V matmuls -> RoPE (normal mode, adjacent pairs)
 * -> K and V stored as F16 in the cache -> attention per head (GQA) -> output
 * matmul + residual -> RMSNorm -> SwiGLU FFN + residual. Then the final norm
 * and the output matmul give the logits.
 *
 * Numerics follow ggml's CPU path where it matters for agreement with
 * llama.cpp: RMSNorm sums squares in double; quantized matmuls quantize the
 * activation to Q8_0 first; the query is rounded to F16 before it meets the
 * F16 keys, as ggml converts the activation to the F16 dot type.
 *
 * Determinism: every output row, and every head, is computed by exactly one
 * thread with the same code whatever the thread count, so the bytes of the
 * output never depend on -t. */
#include "forward.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "attention.h"
#include "quant.h"
#include "quant_k.h"
#include "repack.h"
#include "vec.h"

/* ---- run state ------------------------------------------------------------- */

static int64_t max_i64(int64_t a, int64_t b)
{
    return a > b ? a : b;
}

void context_sizes(const struct model_config *cfg, int32_t n_ctx, uint64_t *kv_bytes, uint64_t *scratch_bytes)
{
    uint64_t qd = (uint64_t)cfg->n_head * (uint64_t)cfg->head_dim;
    uint64_t kvd = (uint64_t)cfg->n_head_kv * (uint64_t)cfg->head_dim;
    uint64_t widest = (uint64_t)max_i64(max_i64(cfg->n_embd, cfg->n_ff), (int64_t)qd);
    *kv_bytes = 2 * (uint64_t)cfg->n_layer * (uint64_t)n_ctx * kvd * sizeof(uint16_t);
    *scratch_bytes = sizeof(float) * (2 * (uint64_t)cfg->n_embd + 2 * qd + 2 * kvd +
                                      2 * (uint64_t)cfg->n_ff + 2 * (uint64_t)cfg->n_embd +
                                      (uint64_t)cfg->n_expert + 1 +
                                      (uint64_t)cfg->n_vocab) +
                     (widest / QK8_0 + 1) * sizeof(struct block_q8_0) + (widest / QK_K + 1) * sizeof(struct block_q8_k) +
                     2 * qd * sizeof(uint16_t);
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
    size_t qd = (size_t)cfg->n_head * (size_t)cfg->head_dim;
    size_t kvd = (size_t)cfg->n_head_kv * (size_t)cfg->head_dim;
    size_t widest = (size_t)max_i64(max_i64(cfg->n_embd, cfg->n_ff), (int64_t)qd);
    c->x = calloc((size_t)cfg->n_embd, sizeof(float));
    c->xb = calloc((size_t)cfg->n_embd, sizeof(float));
    c->q = calloc(qd, sizeof(float));
    c->k = calloc(kvd, sizeof(float));
    c->v = calloc(kvd, sizeof(float));
    c->ao = calloc(qd, sizeof(float));
    c->hb = calloc((size_t)cfg->n_ff, sizeof(float));
    c->hb2 = calloc((size_t)cfg->n_ff, sizeof(float));
    c->logits = calloc((size_t)cfg->n_vocab, sizeof(float));
    c->rlog = calloc((size_t)cfg->n_expert + 1, sizeof(float));
    c->moe = calloc((size_t)cfg->n_embd, sizeof(float));
    c->eo = calloc((size_t)cfg->n_embd, sizeof(float));
    c->qa = calloc(widest / QK8_0 + 1, sizeof(struct block_q8_0));
    c->qk = calloc(widest / QK_K + 1, sizeof(struct block_q8_k));
    c->qh = calloc(qd, sizeof(uint16_t));
    c->vacc = calloc(qd, sizeof(uint16_t));
    size_t kv_elems = (size_t)cfg->n_layer * (size_t)n_ctx * kvd;
    c->kc = calloc(kv_elems, sizeof(uint16_t));
    c->vc = calloc(kv_elems, sizeof(uint16_t));
    context_sizes(cfg, n_ctx, &c->kv_bytes, &c->scratch_bytes);
    if (c->kc && c->vc) { /* make the KV cache resident now, as llama.cpp clears its buffer */
        touch(c->kc, kv_elems * sizeof(uint16_t));
        touch(c->vc, kv_elems * sizeof(uint16_t));
    }
    if (!c->x || !c->xb || !c->q || !c->k || !c->v || !c->ao || !c->hb || !c->hb2 || !c->logits || !c->rlog || !c->moe || !c->eo ||
        !c->qa || !c->qk || !c->qh || !c->vacc || !c->kc || !c->vc) {
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
    void *ps[] = {c->x, c->xb, c->q, c->k, c->v, c->ao, c->hb, c->hb2, c->logits, c->rlog, c->moe, c->eo, c->qa, c->qk, c->qh, c->vacc, c->kc, c->vc};
    for (size_t i = 0; i < sizeof ps / sizeof ps[0]; i++)
        free(ps[i]);
    memset(c, 0, sizeof *c);
}

/* ---- matmul ---------------------------------------------------------------- */

/* Jobs below this many multiply-adds run on the calling thread alone. */
#define SMALL_JOB (1 << 16)

/* Up to three weights applied to the same input in one parallel job. */
struct mm_job {
    int n;
    const struct weight *w[3];
    float *out[3];
    const float *x;  /* f32 activation */
    const void *xq;  /* the same, quantized to Q8_0 when a weight needs it */
    const void *xk;  /* the same, quantized to Q8_K when a weight needs it */
};

static int needs_q8(uint32_t type)
{
    return type == GGML_TYPE_Q4_0 || type == GGML_TYPE_Q8_0;
}

static int needs_q8k(uint32_t type)
{
    return type == GGML_TYPE_Q4_K || type == GGML_TYPE_Q6_K;
}

static float dot_row(const struct weight *w, int64_t r, const float *x, const void *xq, const void *xk)
{
    size_t rb = quant_row_bytes(w->type, w->n_in);
    const uint8_t *row = (const uint8_t *)w->data + (size_t)r * rb;
    switch (w->type) {
    case GGML_TYPE_F32: return vec_dot_f32((const float *)row, x, w->n_in);
    case GGML_TYPE_F16: return vec_dot_f16((const uint16_t *)row, x, w->n_in);
    case GGML_TYPE_Q8_0: return quant_dot_q8_0_q8_0((const struct block_q8_0 *)row, xq, w->n_in);
    case GGML_TYPE_Q4_0: return quant_dot_q4_0_q8_0((const struct block_q4_0 *)row, xq, w->n_in);
    case GGML_TYPE_Q4_K: return quant_dot_q4_k_q8_k((const struct block_q4_k *)row, xk, w->n_in);
    case GGML_TYPE_Q6_K: return quant_dot_q6_k_q8_k((const struct block_q6_k *)row, xk, w->n_in);
    default: return 0.0f; /* unreachable: types are checked at load */
    }
}

/* Rows [r0, r1) of a repacked weight (r0, r1 multiples of 8): one group of
 * 8 rows at a time, each lane bit-identical to dot_row on the plain layout. */
static void dot_rows_repacked(const struct weight *w, int64_t r0, int64_t r1, const void *xq, const void *xk,
                              float *out)
{
    size_t group_bytes = REPACK_ROWS * quant_row_bytes(w->type, w->n_in);
    for (int64_t r = r0; r < r1; r += REPACK_ROWS) {
        const void *g = (const uint8_t *)w->data + (size_t)(r / REPACK_ROWS) * group_bytes;
        if (w->type == GGML_TYPE_Q4_0)
            repack_dot8_q4_0_q8_0(g, xq, w->n_in, out + r);
        else if (w->type == GGML_TYPE_Q8_0)
            repack_dot8_q8_0_q8_0(g, xq, w->n_in, out + r);
        else
            repack_dot8_q4_k_q8_k(g, xk, w->n_in, out + r);
    }
}

static void mm_worker(void *arg, int ith, int nth)
{
    const struct mm_job *j = arg;
    for (int k = 0; k < j->n; k++) {
        const struct weight *w = j->w[k];
        if (w->repacked) {
            int64_t n_groups = w->n_out / REPACK_ROWS;
            int64_t g0 = n_groups * ith / nth, g1 = n_groups * (ith + 1) / nth;
            dot_rows_repacked(w, g0 * REPACK_ROWS, g1 * REPACK_ROWS, j->xq, j->xk, j->out[k]);
            continue;
        }
        int64_t r0 = w->n_out * ith / nth, r1 = w->n_out * (ith + 1) / nth;
        for (int64_t r = r0; r < r1; r++)
            j->out[k][r] = dot_row(w, r, j->x, j->xq, j->xk);
    }
}

static void matmul(struct context *c, int n, const struct weight *const *ws, float *const *outs, const float *x)
{
    struct mm_job j = {.n = n, .x = x, .xq = c->qa, .xk = c->qk};
    int q8 = 0, q8k = 0;
    for (int k = 0; k < n; k++) {
        j.w[k] = ws[k];
        j.out[k] = outs[k];
        q8 |= needs_q8(ws[k]->type);
        q8k |= needs_q8k(ws[k]->type);
    }
    if (q8)
        quant_q8_0_quantize_row(x, c->qa, ws[0]->n_in);
    if (q8k)
        quant_q8_k_quantize_row(x, c->qk, ws[0]->n_in);
    int64_t work = 0;
    for (int k = 0; k < n; k++)
        work += ws[k]->n_in * ws[k]->n_out;
    if (work < SMALL_JOB) /* not worth waking a thread: same rows, same code, same bits */
        mm_worker(&j, 0, 1);
    else
        pool_run(c->pool, mm_worker, &j);
}

static void matmul1(struct context *c, const struct weight *w, float *out, const float *x)
{
    matmul(c, 1, &w, &out, x);
}

/* ---- elementwise ops ------------------------------------------------------- */

static void rmsnorm(float *out, const float *x, const float *w, int n, float eps)
{
    double sum = 0.0;
    for (int i = 0; i < n; i++)
        sum += (double)(x[i] * x[i]);
    float mean = (float)(sum / n);
    float scale = 1.0f / sqrtf(mean + eps);
    for (int i = 0; i < n; i++)
        out[i] = (x[i] * scale) * w[i];
}

/* RoPE, normal mode: pairs (2i, 2i+1) rotated by pos * base^(-2i/rope_dim). */
static void rope(float *v, int n_heads, int head_dim, int rope_dim, int pos, float base)
{
    float theta_scale = powf(base, -2.0f / (float)rope_dim);
    for (int h = 0; h < n_heads; h++) {
        float *x = v + (size_t)h * (size_t)head_dim;
        float theta = (float)pos;
        for (int i = 0; i < rope_dim; i += 2) {
            float cs = cosf(theta), sn = sinf(theta);
            float x0 = x[i], x1 = x[i + 1];
            x[i] = x0 * cs - x1 * sn;
            x[i + 1] = x0 * sn + x1 * cs;
            theta *= theta_scale;
        }
    }
}

/* ---- attention ------------------------------------------------------------- */

struct att_job {
    struct context *c;
    int layer;
    int pos;
};

static void att_worker(void *arg, int ith, int nth)
{
    const struct att_job *j = arg;
    struct context *c = j->c;
    const struct model_config *cfg = &c->m->cfg;
    int hd = cfg->head_dim, kvd = cfg->n_head_kv * hd, group = cfg->n_head / cfg->n_head_kv;
    float scale = 1.0f / sqrtf((float)hd);
    size_t layer_off = (size_t)j->layer * (size_t)c->n_ctx * (size_t)kvd;
    int h0 = cfg->n_head * ith / nth, h1 = cfg->n_head * (ith + 1) / nth;
    for (int h = h0; h < h1; h++) {
        size_t kv_off = layer_off + (size_t)(h / group) * (size_t)hd;
        attention_head(c->qh + (size_t)h * (size_t)hd, c->kc + kv_off, c->vc + kv_off, (size_t)kvd, j->pos + 1, hd,
                       scale, c->vacc + (size_t)h * (size_t)hd, c->ao + (size_t)h * (size_t)hd);
    }
}

/* ---- feed-forward -------------------------------------------------------- */

static void swiglu(float *g, const float *u, int n)
{
    for (int i = 0; i < n; i++)
        g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}

/* Dense SwiGLU FFN of xb into out. */
static void ffn_dense(struct context *c, const struct layer *L, float *out)
{
    const struct weight *gu[2] = {&L->w_gate, &L->w_up};
    float *gu_out[2] = {c->hb, c->hb2};
    matmul(c, 2, gu, gu_out, c->xb);
    swiglu(c->hb, c->hb2, c->m->cfg.n_ff);
    matmul1(c, &L->w_down, out, c->hb);
}

/* Mixture of experts, as llama.cpp routes llama-architecture MoE models:
 * softmax over the router logits, the top-k experts (ties: lower index),
 * their probabilities renormalized to sum to 1, and the experts' outputs
 * summed in the order they were chosen. */
static void ffn_moe(struct context *c, const struct layer *L, float *out)
{
    const struct model_config *cfg = &c->m->cfg;
    int ne = cfg->n_expert, k = cfg->n_expert_used, n_embd = cfg->n_embd;
    matmul1(c, &L->router, c->rlog, c->xb);
    float mx = c->rlog[0];
    for (int x = 1; x < ne; x++)
        mx = c->rlog[x] > mx ? c->rlog[x] : mx;
    double sum = 0.0;
    for (int x = 0; x < ne; x++) {
        c->rlog[x] = expf(c->rlog[x] - mx);
        sum += (double)c->rlog[x];
    }
    for (int x = 0; x < ne; x++)
        c->rlog[x] = (float)((double)c->rlog[x] / sum);
    int chosen[64];
    float wsel[64], wsum = 0.0f;
    for (int j = 0; j < k && j < 64; j++) {
        int best = -1;
        for (int x = 0; x < ne; x++) {
            int taken = 0;
            for (int q = 0; q < j; q++)
                taken |= chosen[q] == x;
            if (!taken && (best < 0 || c->rlog[x] > c->rlog[best]))
                best = x;
        }
        chosen[j] = best;
        wsel[j] = c->rlog[best];
        wsum += wsel[j];
    }
    for (int i = 0; i < n_embd; i++)
        c->moe[i] = 0.0f;
    for (int j = 0; j < k && j < 64; j++) {
        int x = chosen[j];
        const struct weight *gu[2] = {&L->exp_gate[x], &L->exp_up[x]};
        float *gu_out[2] = {c->hb, c->hb2};
        matmul(c, 2, gu, gu_out, c->xb);
        swiglu(c->hb, c->hb2, cfg->n_ff);
        matmul1(c, &L->exp_down[x], c->eo, c->hb);
        float w = wsel[j] / wsum;
        for (int i = 0; i < n_embd; i++)
            c->moe[i] += c->eo[i] * w;
    }
    for (int i = 0; i < n_embd; i++)
        out[i] = c->moe[i];
}

/* ---- forward --------------------------------------------------------------- */

const float *forward(struct context *c, int32_t tok, int32_t pos)
{
    const struct model *m = c->m;
    const struct model_config *cfg = &m->cfg;
    int n_embd = cfg->n_embd, hd = cfg->head_dim;
    int qd = cfg->n_head * hd, kvd = cfg->n_head_kv * hd;

    size_t eb = quant_row_bytes(m->tok_embd.type, n_embd);
    quant_dequantize_row(m->tok_embd.type, (const uint8_t *)m->tok_embd.data + (size_t)tok * eb, c->x, n_embd);

    for (int l = 0; l < cfg->n_layer; l++) {
        const struct layer *L = &m->layers[l];
        rmsnorm(c->xb, c->x, L->attn_norm, n_embd, cfg->norm_eps);
        const struct weight *qkv[3] = {&L->wq, &L->wk, &L->wv};
        float *qkv_out[3] = {c->q, c->k, c->v};
        matmul(c, 3, qkv, qkv_out, c->xb);
        rope(c->q, cfg->n_head, hd, cfg->rope_dim, pos, cfg->rope_base);
        rope(c->k, cfg->n_head_kv, hd, cfg->rope_dim, pos, cfg->rope_base);
        size_t off = ((size_t)l * (size_t)c->n_ctx + (size_t)pos) * (size_t)kvd;
        quant_f16_quantize_row(c->k, c->kc + off, kvd);
        quant_f16_quantize_row(c->v, c->vc + off, kvd);
        quant_f16_quantize_row(c->q, c->qh, qd);
        struct att_job aj = {c, l, pos};
        if ((int64_t)cfg->n_head * (pos + 1) * hd < SMALL_JOB)
            att_worker(&aj, 0, 1);
        else
            pool_run(c->pool, att_worker, &aj);
        matmul1(c, &L->wo, c->xb, c->ao);
        for (int i = 0; i < n_embd; i++)
            c->x[i] += c->xb[i];

        rmsnorm(c->xb, c->x, L->ffn_norm, n_embd, cfg->norm_eps);
        if (cfg->n_expert)
            ffn_moe(c, L, c->xb);
        else
            ffn_dense(c, L, c->xb);
        for (int i = 0; i < n_embd; i++)
            c->x[i] += c->xb[i];
    }
    rmsnorm(c->xb, c->x, m->output_norm, n_embd, cfg->norm_eps);
    matmul1(c, &m->output, c->logits, c->xb);
    return c->logits;
}
