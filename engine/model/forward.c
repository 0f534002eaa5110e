/* forward.c: the llama forward pass over a batch of tokens, split over the pool.
 *
 * Per layer, for the n tokens of a batch at positions pos0..pos0+n-1:
 * RMSNorm -> Q, K, V matmuls -> RoPE (normal mode, adjacent pairs) -> K and V
 * stored as F16 in the cache -> causal attention per token and head (GQA) ->
 * output matmul + residual -> RMSNorm -> SwiGLU FFN (or mixture of experts) +
 * residual. Then the final norm and the output matmul give the logits.
 *
 * Numerics follow ggml's x86 CPU path where it matters for agreement with
 * llama.cpp: RMSNorm sums squares in double; matmuls convert the activation
 * first as ggml does (the kernel table's from_float_act: Q8_0 with ties to
 * even, Q8_K, or F16-rounded for F16 weights); attention is ggml's F16 flash
 * attention (query rounded to F16) or, for a llama.cpp micro-batch of 64
 * tokens or more, its tiled F32 one (attention.h; the rule: tiled_attention).
 *
 * Determinism: every (token, output row) is computed by one thread with the
 * same per-row arithmetic whatever the thread count or the weight layout;
 * the attention form depends on the micro-batch size and the head size only,
 * so a batch gives the same bytes as tokens one at a time while its
 * micro-batch stays below 64 tokens.
 * Sections: parallel for, matmul, elementwise ops, attention, FFN, forward.
 * The run state (struct context) is context.c's. */
#include "model/forward.h"

#include <math.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/quant_k.h"
#include "kernels/repack.h"

/* ---- parallel for ------------------------------------------------------------ */

/* fn(c, arg, i0, i1) over [0, n) split in contiguous ranges over the pool,
 * or on the caller alone when the whole is below PAR_MIN units of work.
 * Every item is computed the same way by whichever thread takes it. */
typedef void (*range_fn)(struct context *c, const void *arg, int64_t i0, int64_t i1);

struct par_job {
    struct context *c;
    const void *arg;
    range_fn fn;
    int64_t n;
};

#define PAR_MIN 16384

static void par_worker(void *arg, int ith, int nth)
{
    const struct par_job *j = arg;
    j->fn(j->c, j->arg, j->n * ith / nth, j->n * (ith + 1) / nth);
}

static void par_for(struct context *c, int64_t n, int64_t unit_cost, range_fn fn, const void *arg)
{
    struct par_job j = {c, arg, fn, n};
    if (n < 2 || n * unit_cost < PAR_MIN || pool_size(c->pool) < 2)
        fn(c, arg, 0, n);
    else
        pool_run(c->pool, par_worker, &j);
}

/* ---- matmul ---------------------------------------------------------------- */

/* Jobs below this many multiply-adds run on the calling thread alone. */
#define SMALL_JOB (1 << 18)

/* Up to three weights applied to the same n_tok input rows in one job. */
struct mm_job {
    int n;
    const struct weight *w[3];
    float *out[3];         /* n_tok rows of w->n_out floats each */
    enum kern_level level; /* read once: every row of the job runs this level's forms */
    struct kern_act act;   /* the input rows, in the forms the weights read */
    atomic_llong next[3];  /* per weight: the first unit (8 rows or 1) not yet taken */
};

/* Rows [r0, r1) of weight w (multiples of 8 when it goes 8 rows at a time):
 * through its row's 8-row kernel when the batch is big enough for it, else
 * one row at a time, every token (the row stays in cache). The same bits
 * either way (kernels.h). */
static void mm_rows(const struct mm_job *j, const struct weight *w, float *out, int64_t r0, int64_t r1)
{
    const struct kern_row *k = w->kern;
    const struct kern_fns *f = &k->fn[j->level];
    const uint8_t *data = w->data;
    size_t rb = quant_row_bytes(w->type, w->n_in);
    int n_tok = j->act.n_tok;
    if (k->rows8_min_tok && n_tok >= k->rows8_min_tok && w->n_out % REPACK_ROWS == 0) {
        int64_t g = r0 / REPACK_ROWS;
        if (f->rows16 && n_tok > 1) /* pairs of groups, then the odd one; one token streams
                                        * faster group by group (measured: tg32 33 against 45 t/s) */
            for (; g + 2 <= r1 / REPACK_ROWS; g += 2)
                f->rows16(data + (size_t)g * REPACK_ROWS * rb, rb, &j->act, w->n_in, out + g * REPACK_ROWS,
                          (size_t)w->n_out);
        if (f->one_streams && n_tok == 1) { /* group g + i beside g + q + i, g + 2q + i, ...: streams a thread */
            int64_t q = (r1 / REPACK_ROWS - g) / KERN_STREAMS;
            for (int64_t i = 0; i < q; i++) {
                const void *wv[KERN_STREAMS];
                float *o[KERN_STREAMS];
                for (int s = 0; s < KERN_STREAMS; s++) {
                    wv[s] = data + (size_t)(g + s * q + i) * REPACK_ROWS * rb;
                    o[s] = out + (g + s * q + i) * REPACK_ROWS;
                }
                f->one_streams(wv, &j->act, w->n_in, o);
            }
            g += KERN_STREAMS * q;
        }
        for (; g < r1 / REPACK_ROWS; g++)
            f->rows8(data + (size_t)g * REPACK_ROWS * rb, rb, &j->act, w->n_in, out + g * REPACK_ROWS,
                     (size_t)w->n_out);
        return;
    }
    const void *a[CONTEXT_MAX_BATCH];
    for (int t = 0; t < n_tok; t++)
        a[t] = kern_act_row(&j->act, k->act_type, t);
    for (int64_t r = r0; r < r1; r++)
        for (int t = 0; t < n_tok; t++)
            out[(size_t)t * (size_t)w->n_out + (size_t)r] = f->dot(data + (size_t)r * rb, a[t], w->n_in);
}

/* The next chunk of units [*u0, *u0 + return) of a weight with `units`
 * units, or 0 when none is left: guided self-scheduling, each claim a share
 * of what remains, so the first claims are long contiguous runs the hardware
 * prefetchers stream at full rate, and the last ones short enough that a
 * thread the machine slows down does less of the work rather than hold the
 * others at the barrier. Measured on the 1B-shaped Q4_0 (tg, 2 threads,
 * idle): ~16 equal chunks per thread 46-50 t/s, two static halves 55-56
 * t/s but the worst under a competing load, guided the best under load.
 *
 * A batch takes 1 / (2 nth) of what remains, an even number (pairs of
 * groups for rows16). One token takes 1 / (nth + 1), a multiple of `mult`
 * (KERN_STREAMS: whole sets of streams, no group read alone): each claim
 * starts its streams cold, and the small matrices (the 1B shape's K and V,
 * 64 groups) went through many short claims, their last groups one stream
 * each. Wall time of each matmul against a plain read of as many cold bytes
 * right after it (tg32, 2 threads, 3 rounds each, same hashes), 1 / (2 nth)
 * -> this: 1B Q4_0 QKV 0.81-0.86 -> 0.95-0.96x the read's rate, wo 0.93-0.95
 * -> 0.99-1.03, gate and up 1.01-1.02 -> 1.08-1.09, down 0.99-1.01 ->
 * 1.06-1.08; 1B Q4_K_M QKV 0.55-0.67 -> 0.69-0.75, the others within noise. */
static int64_t claim(atomic_llong *next, int64_t units, int nth, int64_t mult, int64_t *u0)
{
    int64_t min = units >= mult ? mult : units > 1 ? 2 : 1, c;
    long long at = atomic_load_explicit(next, memory_order_relaxed); /* the atomic's own type */
    do {
        if (at >= units)
            return 0;
        if (mult > 2) {
            c = (units - at) / ((int64_t)nth + 1);
            c = c < min ? min : (c + mult - 1) / mult * mult;
        } else {
            c = (units - at) / (2 * (int64_t)nth);
            c = c < min ? min : c + (c & 1);
        }
    } while (!atomic_compare_exchange_weak_explicit(next, &at, at + c, memory_order_relaxed, memory_order_relaxed));
    *u0 = at;
    return at + c < units ? c : units - at;
}

/* Threads claim chunks of rows per weight (claim). Which thread computes a
 * row changes nothing in its bits. */
static void mm_worker(void *arg, int ith, int nth)
{
    struct mm_job *j = arg;
    (void)ith;
    for (int k = 0; k < j->n; k++) {
        const struct weight *w = j->w[k];
        int64_t step = w->n_out % REPACK_ROWS == 0 ? REPACK_ROWS : 1;
        int64_t units = w->n_out / step, u0, n;
        int64_t mult = step == REPACK_ROWS && j->act.n_tok == 1 && w->kern->fn[j->level].one_streams ? KERN_STREAMS : 2;
        while ((n = claim(&j->next[k], units, nth, mult, &u0)) > 0) {
            int64_t u1 = u0 + n;
            mm_rows(j, w, j->out[k], u0 * step, u1 * step);
        }
    }
}

/* The activation rows converted to the forms the weights read, by the
 * level's from_float_act: Q8_0 (with its prepared scales and offsets, and
 * their block-major copies when a kernel reads those), Q8_K, F16. */
struct prep_arg {
    const float *x;
    size_t x_stride;
    int64_t n_in;
    size_t nb8, nbk, nxh;
    kern_from_float_fn to_q8, to_q8k, to_f16; /* NULL: not needed */
    int n_tok, block_major;
    kern_expand_fn expand_one; /* one token: also c->qk1 (NULL: not needed) */
};

static void prep_rows(struct context *c, const void *arg, int64_t t0, int64_t t1)
{
    const struct prep_arg *p = arg;
    for (int64_t t = t0; t < t1; t++) {
        const float *xt = p->x + (size_t)t * p->x_stride;
        if (p->to_q8) {
            size_t o = (size_t)t * p->nb8;
            p->to_q8(xt, c->qa + o, p->n_in);
            gemm_q8_0_prepare(c->qa + o, p->n_in / QK8_0, c->qd + o, c->qs8 + o);
            if (p->block_major)
                gemm_q8_0_to_block_major(c->qa + o, c->qd + o, c->qs8 + o, (int)t, p->n_tok, p->n_in / QK8_0, c->qa_bm,
                                         c->qd_bm, c->qs8_bm);
        }
        if (p->to_q8k)
            p->to_q8k(xt, c->qk + (size_t)t * p->nbk, p->n_in);
        if (p->to_q8k && p->expand_one)
            p->expand_one(c->qk + (size_t)t * p->nbk, p->n_in / QK_K, c->qk1);
        if (p->to_f16)
            p->to_f16(xt, c->xh + (size_t)t * p->nxh, p->n_in);
    }
}

/* The level's activation converter to `type` when `needed`, else NULL. */
static kern_from_float_fn act_converter(int needed, uint32_t type, enum kern_level level)
{
    return needed ? kernels_row(type, KERN_PLAIN)->fn[level].from_float_act : NULL;
}

/* out[k] = ws[k] x for n_tok rows of x (stride x_stride). */
static void matmul(struct context *c, int n, const struct weight *const *ws, float *const *outs, const float *x,
                   size_t x_stride, int n_tok)
{
    enum kern_level level = kernels_level();
    struct mm_job j = {.n = n, .level = level};
    for (int k = 0; k < 3; k++)
        atomic_init(&j.next[k], 0);
    int q8 = 0, q8k = 0, f16 = 0, bm = 0;
    kern_expand_fn one = NULL;
    int64_t work = 0;
    for (int k = 0; k < n; k++) {
        j.w[k] = ws[k];
        j.out[k] = outs[k];
        q8 |= ws[k]->kern->act_type == GGML_TYPE_Q8_0;
        q8k |= ws[k]->kern->act_type == GGML_TYPE_Q8_K;
        f16 |= ws[k]->kern->act_type == GGML_TYPE_F16;
        bm |= ws[k]->kern->fn[level].block_major;
        if (ws[k]->kern->fn[level].expand_one)
            one = ws[k]->kern->fn[level].expand_one;
        work += ws[k]->n_in * ws[k]->n_out * n_tok;
    }
    /* block-major activations: with one token the two layouts coincide and
     * no copy is made */
    int block_major = bm && n_tok > 1;
    kern_expand_fn expand_one = q8k && n_tok == 1 ? one : NULL;
    j.act = (struct kern_act){
        .n_tok = n_tok, .f32 = x, .f32_stride = x_stride, .f16 = c->xh, .f16_stride = c->nxh,
        .q8 = c->qa, .q8_stride = c->nb8,
        .q8_bm = block_major ? c->qa_bm : c->qa, .q8_bm_d = block_major ? c->qd_bm : c->qd,
        .q8_bm_neg8 = block_major ? c->qs8_bm : c->qs8, .q8k = c->qk, .q8k_stride = c->nbk,
        .q8k_one = expand_one ? c->qk1 : NULL,
    };
    struct prep_arg pa = {x, x_stride, ws[0]->n_in, c->nb8, c->nbk, c->nxh,
                          act_converter(q8, GGML_TYPE_Q8_0, level), act_converter(q8k, GGML_TYPE_Q8_K, level),
                          act_converter(f16, GGML_TYPE_F16, level), n_tok, block_major, expand_one};
    if (q8 || q8k || f16)
        par_for(c, n_tok, ws[0]->n_in, prep_rows, &pa);
    if (work < SMALL_JOB) /* not worth waking a thread: same rows, same code, same bits */
        mm_worker(&j, 0, 1);
    else
        pool_run(c->pool, mm_worker, &j);
}

static void matmul1(struct context *c, const struct weight *w, float *out, const float *x, size_t x_stride,
                    int n_tok)
{
    matmul(c, 1, &w, &out, x, x_stride, n_tok);
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

/* RoPE, normal mode: pairs (2i, 2i+1) rotated by pos * base^(-2i/rope_dim).
 * The angles depend on the position alone, so their cosines and sines are
 * computed once per token (rope_angles, the same calls in the same order as
 * per head) and applied to every head of every layer (rope). */
static void rope_angles(float *cs, int rope_dim, int pos, float base)
{
    float theta_scale = powf(base, -2.0f / (float)rope_dim);
    float theta = (float)pos;
    for (int i = 0; i < rope_dim; i += 2) {
        cs[i] = cosf(theta);
        cs[i + 1] = sinf(theta);
        theta *= theta_scale;
    }
}

static void rope(float *v, int n_heads, int head_dim, int rope_dim, const float *cs)
{
    for (int h = 0; h < n_heads; h++) {
        float *x = v + (size_t)h * (size_t)head_dim;
        for (int i = 0; i < rope_dim; i += 2) {
            float x0 = x[i], x1 = x[i + 1];
            x[i] = x0 * cs[i] - x1 * cs[i + 1];
            x[i + 1] = x0 * cs[i + 1] + x1 * cs[i];
        }
    }
}

/* hb = silu(hb) * hb2 over elements [i0, i1) of the batch */
static void swiglu_range(struct context *c, const void *arg, int64_t i0, int64_t i1)
{
    const struct kern_ops *ops = arg;
    ops->swiglu(c->hb + i0, c->hb2 + i0, i1 - i0);
}

/* ---- attention ------------------------------------------------------------- */

/* llama.cpp's CPU flash attention takes its tiled F32 path for a micro-batch
 * of at least TILED_MIN_ROWS query rows (ggml's GGML_FA_TILE_Q; the key
 * tile, ATTENTION_TILE, is another constant of the same value) whose head
 * size is a multiple of ggml's F32 SIMD width, and its F16 path otherwise.
 * That width is the llama.cpp build's (16 floats with AVX-512, 8 with AVX2);
 * here it is fixed at 16, the AVX-512 build's, so that the bytes never
 * depend on the machine or the SIMD level: 8-wide heads (stories260K) stay
 * on the F16 path, as in llama.cpp on an AVX-512 machine. */
#define TILED_MIN_ROWS 64
#define TILED_WIDTH 16

static int tiled_attention(int64_t ubatch, int head_dim)
{
    return ubatch >= TILED_MIN_ROWS && head_dim % TILED_WIDTH == 0;
}

/* Tokens of one forward chunk belong to one llama.cpp batch of batch_n
 * tokens starting at position batch_pos0, which llama.cpp evaluates in
 * micro-batches of FORWARD_UBATCH: the size of the micro-batch that holds
 * position pos. */
static int64_t ubatch_of(int64_t pos, int64_t batch_pos0, int64_t batch_n)
{
    int64_t u0 = (pos - batch_pos0) / FORWARD_UBATCH * FORWARD_UBATCH;
    return batch_n - u0 < FORWARD_UBATCH ? batch_n - u0 : FORWARD_UBATCH;
}

/* Attention of fewer multiply-adds than this (per K and per V) runs on the
 * caller alone. Each (token, head) runs on one thread whichever, so the bits
 * do not depend on it. Measured (1B Q4_0, tg32, 2 threads): at SMALL_JOB
 * generation attended on one thread until position 128, 0.24 ms a token. */
#define ATT_SMALL_JOB (1 << 14)

struct att_job {
    struct context *c;
    const struct kern_ops *ops;
    int layer;
    int pos0;
    int n_tok;
    unsigned char tiled[CONTEXT_MAX_BATCH]; /* per token: the tiled F32 form */
};

/* Units (token, head) are split over the threads. */
static void att_worker(void *arg, int ith, int nth)
{
    const struct att_job *j = arg;
    struct context *c = j->c;
    const struct model_config *cfg = &c->m->cfg;
    int hd = cfg->head_dim, kvd = cfg->n_head_kv * hd, group = cfg->n_head / cfg->n_head_kv, qd = cfg->n_head * hd;
    float scale = 1.0f / sqrtf((float)hd);
    size_t layer_off = (size_t)j->layer * (size_t)c->n_ctx * (size_t)kvd;
    int n_units = j->n_tok * cfg->n_head;
    int u0 = n_units * ith / nth, u1 = n_units * (ith + 1) / nth;
    for (int u = u0; u < u1; u++) {
        int t = u / cfg->n_head, h = u % cfg->n_head;
        size_t kv_off = layer_off + (size_t)(h / group) * (size_t)hd;
        size_t q_off = (size_t)t * (size_t)qd + (size_t)h * (size_t)hd;
        if (j->tiled[t])
            j->ops->attention_f32(c->q + q_off, c->kc + kv_off, c->vc + kv_off, (size_t)kvd, j->pos0 + t + 1, hd,
                                  scale, c->ao + q_off);
        else
            j->ops->attention(c->qh + q_off, c->kc + kv_off, c->vc + kv_off, (size_t)kvd, j->pos0 + t + 1, hd,
                              scale, c->vacc + q_off, c->ao + q_off);
    }
}

/* ---- feed-forward ---------------------------------------------------------- */

/* Dense SwiGLU FFN of n_tok rows of xb into out (rows of n_embd). */
static void ffn_dense(struct context *c, const struct layer *L, float *out, int n_tok)
{
    const struct model_config *cfg = &c->m->cfg;
    const struct weight *gu[2] = {&L->w_gate, &L->w_up};
    float *gu_out[2] = {c->hb, c->hb2};
    matmul(c, 2, gu, gu_out, c->xb, (size_t)cfg->n_embd, n_tok);
    par_for(c, (int64_t)n_tok * cfg->n_ff, 8, swiglu_range, kernels_ops()); /* rows are n_ff apart: one range */
    matmul1(c, &L->w_down, out, c->hb, (size_t)cfg->n_ff, n_tok);
}

/* Routing of one token as llama.cpp routes llama-architecture MoE models:
 * softmax over the router logits, the top-k experts (ties: lower index),
 * their probabilities renormalized to sum to 1. */
static void route_token(float *rlog, int ne, int k, int32_t *chosen, float *w)
{
    float mx = rlog[0];
    for (int x = 1; x < ne; x++)
        mx = rlog[x] > mx ? rlog[x] : mx;
    double sum = 0.0;
    for (int x = 0; x < ne; x++) {
        rlog[x] = expf(rlog[x] - mx);
        sum += (double)rlog[x];
    }
    for (int x = 0; x < ne; x++)
        rlog[x] = (float)((double)rlog[x] / sum);
    float wsel[64], wsum = 0.0f;
    for (int j = 0; j < k; j++) {
        int best = -1;
        for (int x = 0; x < ne; x++) {
            int taken = 0;
            for (int q = 0; q < j; q++)
                taken |= chosen[q] == x;
            if (!taken && (best < 0 || rlog[x] > rlog[best]))
                best = x;
        }
        chosen[j] = best;
        wsel[j] = rlog[best];
        wsum += wsel[j];
    }
    for (int j = 0; j < k; j++)
        w[j] = wsel[j] / wsum;
}

/* Mixture of experts over n_tok rows of xb into out: the router for the whole
 * batch, then each expert once for all the tokens routed to it (rows
 * gathered, so its weights are read once per batch), then per token the
 * chosen experts' outputs summed in the order they were chosen. Every
 * (token, expert) output has the bits it would have alone, and the sums run
 * in the same order, so a batch gives the bytes of token by token. */
static void ffn_moe(struct context *c, const struct layer *L, float *out, int n_tok)
{
    const struct model_config *cfg = &c->m->cfg;
    int ne = cfg->n_expert, k = cfg->n_expert_used < 64 ? cfg->n_expert_used : 64;
    size_t n_embd = (size_t)cfg->n_embd;
    matmul1(c, &L->router, c->rlog, c->xb, n_embd, n_tok);
    for (int t = 0; t < n_tok; t++)
        route_token(c->rlog + (size_t)t * (size_t)ne, ne, k, c->route + (size_t)t * (size_t)k,
                    c->rw + (size_t)t * (size_t)k);
    int32_t rows[CONTEXT_MAX_BATCH * 64]; /* (token, slot) pairs routed to the expert at hand */
    for (int x = 0; x < ne; x++) {
        int cnt = 0;
        for (int t = 0; t < n_tok; t++)
            for (int j = 0; j < k; j++)
                if (c->route[t * k + j] == x) {
                    memcpy(c->ein + (size_t)cnt * n_embd, c->xb + (size_t)t * n_embd, n_embd * sizeof(float));
                    rows[cnt++] = t * k + j;
                }
        if (!cnt)
            continue;
        const struct weight *gu[2] = {&L->exp_gate[x], &L->exp_up[x]};
        float *gu_out[2] = {c->hb, c->hb2};
        matmul(c, 2, gu, gu_out, c->ein, n_embd, cnt);
        par_for(c, (int64_t)cnt * cfg->n_ff, 8, swiglu_range, kernels_ops());
        matmul1(c, &L->exp_down[x], c->eo, c->hb, (size_t)cfg->n_ff, cnt);
        for (int i = 0; i < cnt; i++)
            memcpy(c->eslot + (size_t)rows[i] * n_embd, c->eo + (size_t)i * n_embd, n_embd * sizeof(float));
    }
    for (int t = 0; t < n_tok; t++) {
        for (size_t i = 0; i < n_embd; i++)
            c->moe[i] = 0.0f;
        for (int j = 0; j < k; j++) {
            const float *eo = c->eslot + (size_t)(t * k + j) * n_embd;
            float w = c->rw[t * k + j];
            for (size_t i = 0; i < n_embd; i++)
                c->moe[i] += eo[i] * w;
        }
        memcpy(out + (size_t)t * n_embd, c->moe, n_embd * sizeof(float));
    }
}

/* ---- per-token steps of a batch (par_for ranges over tokens) ---------------- */

struct norm_arg {
    float *out;
    const float *in;
    const float *w;
};

static void norm_rows(struct context *c, const void *arg, int64_t t0, int64_t t1)
{
    const struct norm_arg *a = arg;
    const struct model_config *cfg = &c->m->cfg;
    size_t ne = (size_t)cfg->n_embd;
    for (int64_t t = t0; t < t1; t++)
        rmsnorm(a->out + (size_t)t * ne, a->in + (size_t)t * ne, a->w, cfg->n_embd, cfg->norm_eps);
}

struct rope_arg {
    int layer;
    int32_t pos0;
};

/* RoPE on q and k, then k and v into the F16 cache and q to F16. */
static void rope_store(struct context *c, const void *arg, int64_t t0, int64_t t1)
{
    const struct rope_arg *a = arg;
    const struct model_config *cfg = &c->m->cfg;
    int hd = cfg->head_dim, qd = cfg->n_head * hd, kvd = cfg->n_head_kv * hd;
    kern_from_float_fn to_f16 = kernels_fns(GGML_TYPE_F16, KERN_PLAIN)->from_float;
    for (int64_t t = t0; t < t1; t++) {
        float *q = c->q + (size_t)t * (size_t)qd, *k = c->k + (size_t)t * (size_t)kvd;
        int pos = a->pos0 + (int)t;
        const float *cs = c->rope_cs + (size_t)t * (size_t)cfg->rope_dim;
        rope(q, cfg->n_head, hd, cfg->rope_dim, cs);
        rope(k, cfg->n_head_kv, hd, cfg->rope_dim, cs);
        size_t off = ((size_t)a->layer * (size_t)c->n_ctx + (size_t)pos) * (size_t)kvd;
        to_f16(k, c->kc + off, kvd);
        to_f16(c->v + (size_t)t * (size_t)kvd, c->vc + off, kvd);
        to_f16(q, c->qh + (size_t)t * (size_t)qd, qd);
    }
}

/* ---- forward --------------------------------------------------------------- */

enum logits_mode { LOGITS_NONE, LOGITS_LAST, LOGITS_ALL };

/* n tokens (at most n_batch) at pos0.., part of the llama.cpp batch of
 * batch_n tokens from position batch_pos0 (ubatch_of). */
static void forward_chunk(struct context *c, const int32_t *toks, int n, int32_t pos0, enum logits_mode lm,
                          int32_t batch_pos0, int32_t batch_n)
{
    const struct model *m = c->m;
    const struct model_config *cfg = &m->cfg;
    int n_embd = cfg->n_embd, hd = cfg->head_dim;
    int qd = cfg->n_head * hd, kvd = cfg->n_head_kv * hd;
    size_t ne = (size_t)n_embd;

    size_t eb = quant_row_bytes(m->tok_embd.type, n_embd);
    for (int t = 0; t < n; t++)
        quant_dequantize_row(m->tok_embd.type, (const uint8_t *)m->tok_embd.data + (size_t)toks[t] * eb,
                             c->x + (size_t)t * ne, n_embd);

    for (int t = 0; t < n; t++)
        rope_angles(c->rope_cs + (size_t)t * (size_t)cfg->rope_dim, cfg->rope_dim, pos0 + t, cfg->rope_base);

    for (int l = 0; l < cfg->n_layer; l++) {
        const struct layer *L = &m->layers[l];
        struct norm_arg na = {c->xb, c->x, L->attn_norm};
        par_for(c, n, n_embd, norm_rows, &na);
        const struct weight *qkv[3] = {&L->wq, &L->wk, &L->wv};
        float *qkv_out[3] = {c->q, c->k, c->v};
        matmul(c, 3, qkv, qkv_out, c->xb, ne, n);
        struct rope_arg ra = {l, pos0};
        par_for(c, n, 8 * (qd + kvd), rope_store, &ra);
        struct att_job aj = {c, kernels_ops(), l, pos0, n, {0}};
        for (int t = 0; t < n; t++)
            aj.tiled[t] = (unsigned char)tiled_attention(ubatch_of(pos0 + t, batch_pos0, batch_n), hd);
        if ((int64_t)n * cfg->n_head * (pos0 + n) * hd < ATT_SMALL_JOB)
            att_worker(&aj, 0, 1);
        else
            pool_run(c->pool, att_worker, &aj);
        matmul1(c, &L->wo, c->xb, c->ao, (size_t)qd, n);
        for (size_t i = 0; i < (size_t)n * ne; i++)
            c->x[i] += c->xb[i];

        struct norm_arg fa = {c->xb, c->x, L->ffn_norm};
        par_for(c, n, n_embd, norm_rows, &fa);
        if (cfg->n_expert)
            ffn_moe(c, L, c->xb2, n);
        else
            ffn_dense(c, L, c->xb2, n);
        for (size_t i = 0; i < (size_t)n * ne; i++)
            c->x[i] += c->xb2[i];
    }
    if (lm == LOGITS_NONE)
        return;
    int first = lm == LOGITS_ALL ? 0 : n - 1;
    for (int t = first; t < n; t++)
        rmsnorm(c->xb + (size_t)(t - first) * ne, c->x + (size_t)t * ne, m->output_norm, n_embd, cfg->norm_eps);
    matmul1(c, &m->output, c->logits, c->xb, ne, n - first);
}

const float *forward_batch(struct context *c, const int32_t *toks, int n, int32_t pos0, int all_logits,
                           int32_t batch)
{
    if (batch < 0 || (batch > 0 && pos0 + n > batch))
        return NULL;
    int32_t batch_pos0 = batch ? 0 : pos0, batch_n = batch ? batch : n;
    if (all_logits) {
        if (n < 1 || n > c->n_batch)
            return NULL;
        forward_chunk(c, toks, n, pos0, LOGITS_ALL, batch_pos0, batch_n);
        return c->logits;
    }
    for (int done = 0; done < n;) { /* in chunks of the batch capacity; logits of the last position only */
        int k = n - done < c->n_batch ? n - done : c->n_batch;
        forward_chunk(c, toks + done, k, pos0 + done, done + k == n ? LOGITS_LAST : LOGITS_NONE, batch_pos0,
                      batch_n);
        done += k;
    }
    return n > 0 ? c->logits : NULL;
}

const float *forward(struct context *c, int32_t tok, int32_t pos)
{
    return forward_batch(c, &tok, 1, pos, 1, 0);
}
