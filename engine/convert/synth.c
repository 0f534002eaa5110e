/* synth.c: synthetic llama models (what and why in synth.h).
 *
 * Data flow: the shape gives a list of tensors; the KVs and vocabulary go to
 * the writer's header; then each matrix is produced in blocks of rows. For a
 * block, worker threads each fill a share of the rows (generate floats, then
 * quantize_row into the block's buffer) while the main thread writes the
 * previous block, so generating and writing overlap.
 * Sections: shapes, the generator, the vocabulary, tensor list, blocks and
 * threads, the file. */
#include "convert/synth.h"

#include <inttypes.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "convert/quantize.h"
#include "core/clock.h"
#include "format/gguf.h"
#include "format/gguf_write.h"
#include "kernels/quant.h"

#define BLOCK_BYTES ((size_t)8 << 20) /* output bytes per block of rows */
#define MAX_THREADS 8

/* ---- shapes ---------------------------------------------------------------- */

static const struct synth_shape shapes[] = {
    /* name           embd  layer head kv  ff    vocab   ctx     rot  rope_base  eps   tied expert used */
    {"llama-3.2-1b", 2048, 16, 32, 8, 8192, 128256, 131072, 64, 500000.0f, 1e-5f, 1, 0, 0},
    {"llama-3.2-3b", 3072, 28, 24, 8, 8192, 128256, 131072, 128, 500000.0f, 1e-5f, 1, 0, 0},
    {"olmoe-1b-7b", 2048, 16, 16, 16, 1024, 50304, 4096, 128, 10000.0f, 1e-5f, 0, 64, 8},
    {"tiny", 64, 2, 4, 2, 128, 512, 512, 16, 10000.0f, 1e-5f, 1, 0, 0},
    {"tiny-untied", 64, 2, 4, 2, 128, 512, 512, 16, 10000.0f, 1e-5f, 0, 0, 0},
    {"tiny-256", 256, 2, 4, 2, 512, 512, 512, 64, 10000.0f, 1e-5f, 0, 0, 0},
    {"tiny-moe", 64, 2, 4, 2, 128, 512, 512, 16, 10000.0f, 1e-5f, 0, 4, 2},
    /* rows of 256 and 512: every tensor can take the K-quants' 256-blocks */
    {"tiny-moe-256", 256, 2, 4, 2, 512, 512, 512, 64, 10000.0f, 1e-5f, 0, 4, 2},
};
#define N_SHAPES (sizeof shapes / sizeof shapes[0])

const struct synth_shape *synth_shape_find(const char *name)
{
    for (size_t i = 0; i < N_SHAPES; i++)
        if (!strcmp(shapes[i].name, name))
            return &shapes[i];
    return NULL;
}

const char *synth_shape_name(size_t i)
{
    return i < N_SHAPES ? shapes[i].name : NULL;
}

/* ---- the generator --------------------------------------------------------- */

/* splitmix64's output function: a bijective mix of a 64-bit counter. */
static uint64_t mix64(uint64_t z)
{
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9u;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebu;
    return z ^ (z >> 31);
}

#define GOLDEN 0x9e3779b97f4a7c15u

/* Row `row` of tensor `tensor`: n floats uniform in [-amp, amp). Each 64-bit
 * draw is the mix of a counter, so rows are independent of one another and
 * the loop has no carried state beyond the counter. */
static void synth_row(uint64_t seed, uint32_t tensor, uint64_t row, float amp, float *x, int64_t n)
{
    uint64_t key = mix64(seed ^ mix64(((uint64_t)tensor << 40) ^ row ^ 0x5851f42d4c957f2du));
    float scale = amp / 2147483648.0f;
    int64_t i = 0;
    for (; i + 1 < n; i += 2) {
        uint64_t z = mix64(key + (uint64_t)(i / 2 + 1) * GOLDEN);
        x[i] = (float)(int32_t)(uint32_t)z * scale;
        x[i + 1] = (float)(int32_t)(uint32_t)(z >> 32) * scale;
    }
    if (i < n)
        x[i] = (float)(int32_t)(uint32_t)mix64(key + (uint64_t)(i / 2 + 1) * GOLDEN) * scale;
}

/* ---- the vocabulary -------------------------------------------------------- */

struct vocab {
    struct gguf_str *tokens;
    float *scores;
    int32_t *types;
    char *text; /* backing store of the token strings */
};

enum { TOKEN_NORMAL = 1, TOKEN_UNKNOWN = 2, TOKEN_CONTROL = 3, TOKEN_BYTE = 6 };

static void vocab_free(struct vocab *v)
{
    free(v->tokens);
    free(v->scores);
    free(v->types);
    free(v->text);
}

static enum status vocab_build(struct vocab *v, uint32_t n, struct err *e)
{
    memset(v, 0, sizeof *v);
    if (n < 3 + 256 + 95)
        return err_set(e, "gen: vocabulary of %" PRIu32 " is too small", n);
    v->tokens = malloc(n * sizeof *v->tokens);
    v->scores = malloc(n * sizeof *v->scores);
    v->types = malloc(n * sizeof *v->types);
    v->text = malloc((size_t)n * 16); /* the longest token, "▁tok" + 10 digits, is 16 bytes */
    if (!v->tokens || !v->scores || !v->types || !v->text) {
        vocab_free(v);
        return err_set(e, "gen: out of memory for a vocabulary of %" PRIu32, n);
    }
    char *p = v->text;
    uint32_t i = 0;
    float score = 0.0f;
#define ADD(str, len, type)                                                                                        \
    do {                                                                                                           \
        memcpy(p, str, len);                                                                                       \
        v->tokens[i] = (struct gguf_str){len, p};                                                                  \
        v->types[i] = type;                                                                                        \
        v->scores[i] = type == TOKEN_NORMAL ? score-- : 0.0f;                                                      \
        p += len;                                                                                                  \
        i++;                                                                                                       \
    } while (0)
    ADD("<unk>", 5, TOKEN_UNKNOWN);
    ADD("<s>", 3, TOKEN_CONTROL);
    ADD("</s>", 4, TOKEN_CONTROL);
    for (int b = 0; b < 256; b++) {
        char s[8];
        snprintf(s, sizeof s, "<0x%02X>", b);
        ADD(s, 6, TOKEN_BYTE);
    }
    for (char c = '!'; c <= '~'; c++)
        ADD(&c, 1, TOKEN_NORMAL);
    ADD("\xe2\x96\x81", 3, TOKEN_NORMAL); /* "▁", SentencePiece's space */
    for (uint32_t k = 0; i < n; k++) {
        char s[24];
        int len = snprintf(s, sizeof s, "\xe2\x96\x81tok%" PRIu32, k);
        ADD(s, (size_t)len, TOKEN_NORMAL);
    }
#undef ADD
    return STATUS_OK;
}

/* ---- tensor list ----------------------------------------------------------- */

struct synth_tensor {
    char name[64];
    uint32_t n_dims;
    uint64_t ne[3];
    uint32_t type;
    float amp; /* weights are uniform in [-amp, amp) */
    char fallback[160]; /* why the type is not the target's, when its rows cannot take it ("" otherwise) */
};

/* Appends a tensor whose type the rules of quantize.h choose for `target`
 * (the floats are generated as F32, so F32 is the source type). */
static void add_tensor(struct synth_tensor *t, uint32_t *n, const char *name, uint32_t n_dims, const uint64_t *ne,
                       uint32_t target, const struct quantize_model *qm)
{
    struct synth_tensor *x = &t[(*n)++];
    struct quantize_choice c;
    snprintf(x->name, sizeof x->name, "%s", name);
    x->n_dims = n_dims;
    for (uint32_t d = 0; d < 3; d++)
        x->ne[d] = d < n_dims ? ne[d] : 1;
    x->amp = sqrtf(3.0f / (float)ne[0]);
    if (strstr(name, "ffn_gate_inp"))
        x->amp *= GEN_ROUTER_GAIN;
    quantize_choose_type(name, n_dims, x->ne, GGML_TYPE_F32, target, qm, &c);
    x->type = c.type;
    snprintf(x->fallback, sizeof x->fallback, "%s", c.kind == QUANTIZE_FALLBACK ? c.why : "");
}

/* Fills the shape's tensors in file order; returns their count (at most
 * 3 + 10 * n_layer). Matrices are [in, out] ([in, out, expert] for the
 * experts), norms are F32 vectors. */
static uint32_t tensor_list(const struct synth_shape *s, uint32_t target, struct synth_tensor *t)
{
    uint32_t n = 0, hd = s->n_embd / s->n_head;
    uint64_t q = (uint64_t)s->n_head * hd, kv = (uint64_t)s->n_head_kv * hd;
    const struct quantize_model qm = {s->n_layer, s->n_expert, !s->tied};
    const uint64_t embd[2] = {s->n_embd, s->n_vocab};
    add_tensor(t, &n, "token_embd.weight", 2, embd, target, &qm);
    add_tensor(t, &n, "output_norm.weight", 1, embd, target, &qm);
    if (!s->tied)
        add_tensor(t, &n, "output.weight", 2, embd, target, &qm);
    static const struct {
        const char *suffix;
        int moe; /* 0: every model, 1: dense only, 2: MoE only */
        int n_dims;
        char dim[3]; /* e: n_embd, q: heads * head size, k: kv heads * head size, f: n_ff, x: n_expert */
    } blk[] = {
        {"attn_norm", 0, 1, "e"},      {"attn_q", 0, 2, "eq"},         {"attn_k", 0, 2, "ek"},
        {"attn_v", 0, 2, "ek"},        {"attn_output", 0, 2, "qe"},    {"ffn_norm", 0, 1, "e"},
        {"ffn_gate", 1, 2, "ef"},      {"ffn_up", 1, 2, "ef"},         {"ffn_down", 1, 2, "fe"},
        {"ffn_gate_inp", 2, 2, "ex"},  {"ffn_gate_exps", 2, 3, "efx"}, {"ffn_up_exps", 2, 3, "efx"},
        {"ffn_down_exps", 2, 3, "fex"},
    };
    for (uint32_t l = 0; l < s->n_layer; l++)
        for (size_t i = 0; i < sizeof blk / sizeof blk[0]; i++) {
            if (blk[i].moe && (blk[i].moe == 2) != (s->n_expert > 0))
                continue;
            uint64_t dim[3];
            for (int d = 0; d < blk[i].n_dims; d++) {
                char c = blk[i].dim[d];
                dim[d] = c == 'e' ? s->n_embd : c == 'q' ? q : c == 'k' ? kv : c == 'f' ? s->n_ff : s->n_expert;
            }
            char name[64];
            snprintf(name, sizeof name, "blk.%" PRIu32 ".%s.weight", l, blk[i].suffix);
            add_tensor(t, &n, name, (uint32_t)blk[i].n_dims, dim, target, &qm);
        }
    return n;
}

/* ---- blocks and threads ---------------------------------------------------- */

struct job {
    uint64_t seed;
    uint32_t tensor;
    const struct synth_tensor *t;
    uint64_t row0, n_rows; /* this job's rows */
    uint8_t *dst;          /* where row0 goes */
    size_t row_bytes;
    float amp;
    float *scratch; /* one row of floats */
};

static void *job_run(void *arg)
{
    const struct job *j = arg;
    int64_t n = (int64_t)j->t->ne[0];
    for (uint64_t r = 0; r < j->n_rows; r++) {
        synth_row(j->seed, j->tensor, j->row0 + r, j->amp, j->scratch, n);
        quantize_row(j->t->type, j->scratch, j->dst + r * j->row_bytes, n);
    }
    return NULL;
}

struct pool {
    int n_threads;
    pthread_t tid[MAX_THREADS];
    int started[MAX_THREADS];
    struct job jobs[MAX_THREADS];
    float *scratch[MAX_THREADS];
};

/* Starts the workers on rows [row0, row0 + n_rows) of tensor t into dst. A
 * worker that cannot be started runs inline, which is only slower. */
static void pool_start(struct pool *p, uint64_t seed, uint32_t tensor, const struct synth_tensor *t, uint64_t row0,
                       uint64_t n_rows, uint8_t *dst, size_t row_bytes)
{
    float amp = t->amp;
    uint64_t per = (n_rows + (uint64_t)p->n_threads - 1) / (uint64_t)p->n_threads;
    for (int i = 0; i < p->n_threads; i++) {
        uint64_t a = (uint64_t)i * per < n_rows ? (uint64_t)i * per : n_rows;
        uint64_t b = a + per < n_rows ? a + per : n_rows;
        p->jobs[i] = (struct job){seed, tensor, t, row0 + a, b - a, dst + a * row_bytes, row_bytes, amp, p->scratch[i]};
        p->started[i] = b > a && pthread_create(&p->tid[i], NULL, job_run, &p->jobs[i]) == 0;
        if (!p->started[i])
            job_run(&p->jobs[i]);
    }
}

static void pool_join(struct pool *p)
{
    for (int i = 0; i < p->n_threads; i++)
        if (p->started[i]) {
            pthread_join(p->tid[i], NULL);
            p->started[i] = 0;
        }
}

/* ---- the file -------------------------------------------------------------- */

static enum status add_kvs(struct gguf_writer *w, const struct synth_shape *s, uint32_t target, uint64_t seed,
                           const struct vocab *v, struct err *e)
{
    char name[96], desc[256];
    snprintf(name, sizeof name, "synthetic-%s", s->name);
    snprintf(desc, sizeof desc, "%s-shaped llama with random weights (seed %" PRIu64 "), written by minillm gen",
             s->name, seed);
    if (gguf_writer_add_str(w, "general.architecture", "llama", e) || gguf_writer_add_str(w, "general.name", name, e) ||
        gguf_writer_add_str(w, "general.description", desc, e) ||
        gguf_writer_add_u32(w, "general.file_type", quantize_file_type(target), e) ||
        gguf_writer_add_u32(w, "general.quantization_version", 2, e) ||
        gguf_writer_add_u32(w, "general.alignment", GGUF_DEFAULT_ALIGNMENT, e) ||
        gguf_writer_add_u32(w, "llama.context_length", s->n_ctx, e) ||
        gguf_writer_add_u32(w, "llama.embedding_length", s->n_embd, e) ||
        gguf_writer_add_u32(w, "llama.block_count", s->n_layer, e) ||
        gguf_writer_add_u32(w, "llama.feed_forward_length", s->n_ff, e))
        return STATUS_ERR;
    if (s->n_expert && (gguf_writer_add_u32(w, "llama.expert_count", s->n_expert, e) ||
                        gguf_writer_add_u32(w, "llama.expert_used_count", s->n_expert_used, e)))
        return STATUS_ERR;
    if (gguf_writer_add_u32(w, "llama.attention.head_count", s->n_head, e) ||
        gguf_writer_add_u32(w, "llama.attention.head_count_kv", s->n_head_kv, e) ||
        gguf_writer_add_u32(w, "llama.rope.dimension_count", s->n_rot, e) ||
        gguf_writer_add_f32(w, "llama.rope.freq_base", s->rope_base, e) ||
        gguf_writer_add_f32(w, "llama.attention.layer_norm_rms_epsilon", s->rms_eps, e) ||
        gguf_writer_add_u32(w, "llama.vocab_size", s->n_vocab, e) ||
        gguf_writer_add_str(w, "tokenizer.ggml.model", "llama", e) ||
        gguf_writer_add_str_arr(w, "tokenizer.ggml.tokens", v->tokens, s->n_vocab, e) ||
        gguf_writer_add_arr(w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, v->scores, s->n_vocab, e) ||
        gguf_writer_add_arr(w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, v->types, s->n_vocab, e) ||
        gguf_writer_add_u32(w, "tokenizer.ggml.bos_token_id", 1, e) ||
        gguf_writer_add_u32(w, "tokenizer.ggml.eos_token_id", 2, e) ||
        gguf_writer_add_u32(w, "tokenizer.ggml.unknown_token_id", 0, e) ||
        gguf_writer_add_bool(w, "tokenizer.ggml.add_bos_token", 1, e) ||
        gguf_writer_add_bool(w, "tokenizer.ggml.add_eos_token", 0, e))
        return STATUS_ERR;
    return STATUS_OK;
}

/* Everything one synth_model call holds, released by synth_release. */
struct synth {
    const struct synth_shape *s;
    uint32_t target;
    uint64_t seed;
    FILE *log;
    double t0;
    struct synth_tensor *ts;
    uint32_t n_tensors;
    struct gguf_writer w;
    struct vocab v;
    struct pool pool;
    uint8_t *buf[2]; /* blocks of rows: one filled by the workers, one being written */
    size_t buf_bytes;
};

/* The shape and the target of a request, checked. */
static enum status synth_check(const char *shape_name, uint32_t target, const struct synth_shape **s, struct err *e)
{
    *s = synth_shape_find(shape_name);
    if (!*s) {
        char names[256];
        size_t k = 0;
        for (size_t i = 0; i < N_SHAPES && k < sizeof names; i++)
            k += (size_t)snprintf(names + k, sizeof names - k, "%s%s", i ? ", " : "", shapes[i].name);
        return err_set(e, "gen: unknown shape '%s' (known: %s)", shape_name, names);
    }
    static const uint32_t targets[] = {GGML_TYPE_F32,  GGML_TYPE_F16,  GGML_TYPE_Q8_0, GGML_TYPE_Q4_0,
                                       GGML_TYPE_Q4_K, GGML_TYPE_Q6_K, QUANTIZE_Q4_K_M};
    size_t ti = 0;
    while (ti < sizeof targets / sizeof targets[0] && targets[ti] != target)
        ti++;
    if (ti == sizeof targets / sizeof targets[0])
        return err_set(e, "gen: type %s is not one of f32, f16, q8_0, q4_0, q4_k, q6_k, q4_k_m",
                       quantize_target_name(target));
    return STATUS_OK;
}

/* The tensor list, the worker count, the two row blocks and each worker's
 * row of floats. */
static enum status synth_alloc(struct synth *g, struct err *e)
{
    uint32_t n_tensors_max = 3 + 10 * g->s->n_layer;
    if (!(g->ts = calloc(n_tensors_max, sizeof *g->ts)))
        return err_set(e, "gen: out of memory");
    g->n_tensors = tensor_list(g->s, g->target, g->ts);
    /* a type the shape's rows cannot take is never stored in silence: one
     * line per tensor that falls back (as llama-quantize warns) */
    for (uint32_t i = 0; g->log && i < g->n_tensors; i++)
        if (g->ts[i].fallback[0])
            fprintf(g->log, "gen: %s: %s\n", g->ts[i].name, g->ts[i].fallback);

    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    g->pool.n_threads = ncpu < 1 ? 1 : ncpu > MAX_THREADS ? MAX_THREADS : (int)ncpu;
    size_t max_row_bytes = 0;
    uint64_t max_row = 0;
    for (uint32_t i = 0; i < g->n_tensors; i++) {
        size_t rb = quant_row_bytes(g->ts[i].type, (int64_t)g->ts[i].ne[0]);
        max_row_bytes = rb > max_row_bytes ? rb : max_row_bytes;
        max_row = g->ts[i].ne[0] > max_row ? g->ts[i].ne[0] : max_row;
    }
    g->buf_bytes = max_row_bytes > BLOCK_BYTES ? max_row_bytes : BLOCK_BYTES;
    g->buf[0] = malloc(g->buf_bytes);
    g->buf[1] = malloc(g->buf_bytes);
    if (!g->buf[0] || !g->buf[1])
        return err_set(e, "gen: out of memory for row blocks");
    for (int i = 0; i < g->pool.n_threads; i++)
        if (!(g->pool.scratch[i] = malloc(max_row * sizeof(float))))
            return err_set(e, "gen: out of memory");
    return STATUS_OK;
}

/* The header: KVs, vocabulary and the tensor table. */
static enum status synth_header(struct synth *g, const char *out, struct err *e)
{
    if (vocab_build(&g->v, g->s->n_vocab, e) || gguf_writer_open(&g->w, out, e) ||
        add_kvs(&g->w, g->s, g->target, g->seed, &g->v, e))
        return STATUS_ERR;
    for (uint32_t i = 0; i < g->n_tensors; i++)
        if (gguf_writer_add_tensor(&g->w, g->ts[i].name, g->ts[i].n_dims, g->ts[i].ne, g->ts[i].type, e))
            return STATUS_ERR;
    return gguf_writer_write_header(&g->w, e);
}

/* Progress every 10 % of the bytes. */
static void synth_progress(const struct synth *g, uint64_t done, uint64_t total, int *next_pct)
{
    if (!g->log || !total || done * 100 / total < (uint64_t)*next_pct)
        return;
    fprintf(g->log, "gen: %3d%% (%.0f of %.0f MiB, %.1f s)\n", (int)(done * 100 / total), (double)done / (1 << 20),
            (double)total / (1 << 20), clock_now_s() - g->t0);
    while (*next_pct <= (int)(done * 100 / total))
        *next_pct += 10;
}

/* The tensors' bytes, in order: a norm is ones; a matrix goes in blocks of
 * rows, the block computed last written while the workers fill the next. */
static enum status synth_tensors(struct synth *g, struct err *e)
{
    uint64_t total = 0, done = 0;
    for (uint32_t i = 0; i < g->n_tensors; i++)
        total += g->w.tensors[i].n_bytes;
    int next_pct = 10, cur = 0;
    size_t pending = 0; /* bytes of buf[cur ^ 1] waiting to be written */
    for (uint32_t i = 0; i < g->n_tensors; i++) {
        const struct synth_tensor *t = &g->ts[i];
        size_t row_bytes = quant_row_bytes(t->type, (int64_t)t->ne[0]);
        if (t->n_dims == 1) { /* a norm: ones */
            pool_join(&g->pool);
            if (pending && gguf_writer_write(&g->w, g->buf[cur ^ 1], pending, e))
                return STATUS_ERR;
            pending = 0;
            float *ones = (float *)g->buf[cur];
            for (uint64_t k = 0; k < t->ne[0]; k++)
                ones[k] = 1.0f;
            if (gguf_writer_write(&g->w, ones, row_bytes, e))
                return STATUS_ERR;
            done += row_bytes;
            continue;
        }
        uint64_t rows_per_block = g->buf_bytes / row_bytes, n_rows = t->ne[1] * t->ne[2];
        for (uint64_t r = 0; r < n_rows; r += rows_per_block) {
            uint64_t k = n_rows - r < rows_per_block ? n_rows - r : rows_per_block;
            pool_start(&g->pool, g->seed, i, t, r, k, g->buf[cur], row_bytes);
            enum status ws = pending ? gguf_writer_write(&g->w, g->buf[cur ^ 1], pending, e) : STATUS_OK;
            pool_join(&g->pool);
            if (ws)
                return STATUS_ERR;
            pending = (size_t)k * row_bytes;
            cur ^= 1;
            done += pending;
            synth_progress(g, done, total, &next_pct);
        }
    }
    return pending ? gguf_writer_write(&g->w, g->buf[cur ^ 1], pending, e) : STATUS_OK;
}

/* One line: the file, its tensors by type, bytes, time, threads. */
static void synth_summary(const struct synth *g, const char *out, uint64_t file_bytes)
{
    uint32_t n_type[GGML_TYPE_COUNT] = {0};
    for (uint32_t i = 0; i < g->n_tensors; i++)
        n_type[g->ts[i].type < GGML_TYPE_COUNT ? g->ts[i].type : 0]++;
    fprintf(g->log, "gen: wrote %s: %s %s, %" PRIu32 " tensors (", out, g->s->name, quantize_target_name(g->target),
            g->n_tensors);
    const char *sep = "";
    for (uint32_t ty = 0; ty < GGML_TYPE_COUNT; ty++)
        if (n_type[ty]) {
            fprintf(g->log, "%s%" PRIu32 " %s", sep, n_type[ty], gguf_ggml_type_name(ty));
            sep = ", ";
        }
    fprintf(g->log, "), %" PRIu64 " bytes in %.1f s (%d threads)\n", file_bytes, clock_now_s() - g->t0, g->pool.n_threads);
}

static void synth_release(struct synth *g)
{
    pool_join(&g->pool);
    gguf_writer_free(&g->w);
    for (int i = 0; i < MAX_THREADS; i++)
        free(g->pool.scratch[i]);
    free(g->buf[0]);
    free(g->buf[1]);
    vocab_free(&g->v);
    free(g->ts);
}

enum status synth_model(const char *shape_name, uint32_t target, uint64_t seed, const char *out, FILE *log,
                        struct err *e)
{
    struct synth g = {.target = target, .seed = seed, .log = log};
    g.w.fd = -1;
    if (synth_check(shape_name, target, &g.s, e))
        return STATUS_ERR;
    g.t0 = clock_now_s();
    enum status st = STATUS_ERR;
    if (synth_alloc(&g, e) || synth_header(&g, out, e) || synth_tensors(&g, e))
        goto out;
    uint64_t file_bytes = g.w.file_bytes;
    if (gguf_writer_finish(&g.w, e))
        goto out;
    if (log)
        synth_summary(&g, out, file_bytes);
    st = STATUS_OK;
out:
    synth_release(&g);
    return st;
}
