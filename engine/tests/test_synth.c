/* test_synth.c: synthetic models from synth_model, re-read with gguf_parse.
 *
 * The tiny shapes in every target, in a fresh temp directory: the keys
 * llama.cpp needs with the shape's values, the SPM vocabulary, tensor names,
 * shapes and the types quantize.h's rules give (restated here: the output
 * matrix in Q6_K, the q4_k_m layers, the Q8_0 fallback of 64-wide rows;
 * tiny-256 is wide enough for real Q4_K/Q6_K), weights of the intended scale
 * with norms of 1.0, the quantized models equal to quantize_row of the f32
 * model's rows and, byte for byte, to `quantize` of the f32 model; determinism (same seed:
 * same bytes; another seed: other weights). For the MoE shapes: the expert
 * keys, 3-D expert tensors whose experts differ, and routers that are not
 * degenerate (top-k choices spread over the experts, weights neither
 * uniform nor one-hot). */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testdata.h"
#include "convert/synth.h"
#include "format/gguf.h"
#include "kernels/quant.h"
#include "convert/quantize.h"

/* ---- files ----------------------------------------------------------------- */

struct tmpdir {
    char dir[512];
};

static void tmpdir_make(struct tmpdir *t)
{
    const char *base = getenv("TMPDIR");
    snprintf(t->dir, sizeof t->dir, "%s/test_synth.XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(t->dir));
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

struct model {
    uint8_t *buf;
    size_t size;
    struct gguf_file f;
};

/* Generates shape/type/seed into dir/name and parses it. */
static void gen_read(struct model *m, const struct tmpdir *td, const char *name, const char *shape, uint32_t type,
                     uint64_t seed)
{
    char path[700], tmp[800];
    snprintf(path, sizeof path, "%s/%s", td->dir, name);
    struct err e;
    if (synth_model(shape, type, seed, path, NULL, &e))
        fail_msg("gen %s %s: %s", shape, gguf_ggml_type_name(type), e.msg);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    assert_false(file_exists(tmp));
    struct testdata_blob b = testdata_read_path(path);
    assert_true(b.n > 0);
    m->size = b.n;
    m->buf = (void *)b.p;
    unlink(path);
    if (gguf_parse(&m->f, m->buf, m->size, &e))
        fail_msg("parse %s: %s", name, e.msg);
}

static void model_free(struct model *m)
{
    gguf_free(&m->f);
    free(m->buf);
}

/* ---- checks ---------------------------------------------------------------- */

static uint32_t get_u32(const struct gguf_file *f, const char *key)
{
    struct err e;
    uint32_t v = 0;
    if (gguf_get_u32(f, key, &v, &e))
        fail_msg("%s", e.msg);
    return v;
}

static float get_f32(const struct gguf_file *f, const char *key)
{
    struct err e;
    float v = 0;
    if (gguf_get_f32(f, key, &v, &e))
        fail_msg("%s", e.msg);
    return v;
}

static int cmp_str(const void *a, const void *b)
{
    const struct gguf_str *x = a, *y = b;
    size_t n = x->len < y->len ? (size_t)x->len : (size_t)y->len;
    int c = memcmp(x->ptr, y->ptr, n);
    return c ? c : (x->len > y->len) - (x->len < y->len);
}

static void check_keys(const struct gguf_file *f, const struct synth_shape *s, uint32_t target)
{
    struct err e;
    struct gguf_str str;
    assert_int_equal(gguf_get_str(f, "general.architecture", &str, &e), STATUS_OK);
    assert_true(gguf_str_eq(str, "llama"));
    assert_int_equal(gguf_get_str(f, "general.name", &str, &e), STATUS_OK);
    assert_int_equal(gguf_get_str(f, "tokenizer.ggml.model", &str, &e), STATUS_OK);
    assert_true(gguf_str_eq(str, "llama"));
    assert_int_equal(get_u32(f, "general.file_type"), quantize_file_type(target));
    assert_int_equal(get_u32(f, "llama.context_length"), s->n_ctx);
    assert_int_equal(get_u32(f, "llama.embedding_length"), s->n_embd);
    assert_int_equal(get_u32(f, "llama.block_count"), s->n_layer);
    assert_int_equal(get_u32(f, "llama.feed_forward_length"), s->n_ff);
    if (s->n_expert) {
        assert_int_equal(get_u32(f, "llama.expert_count"), s->n_expert);
        assert_int_equal(get_u32(f, "llama.expert_used_count"), s->n_expert_used);
    } else {
        assert_false(gguf_has(f, "llama.expert_count"));
        assert_false(gguf_has(f, "llama.expert_used_count"));
    }
    assert_int_equal(get_u32(f, "llama.attention.head_count"), s->n_head);
    assert_int_equal(get_u32(f, "llama.attention.head_count_kv"), s->n_head_kv);
    assert_int_equal(get_u32(f, "llama.rope.dimension_count"), s->n_rot);
    assert_int_equal(get_u32(f, "llama.vocab_size"), s->n_vocab);
    assert_true(get_f32(f, "llama.rope.freq_base") == s->rope_base);
    assert_true(get_f32(f, "llama.attention.layer_norm_rms_epsilon") == s->rms_eps);
    assert_int_equal(get_u32(f, "tokenizer.ggml.unknown_token_id"), 0);
    assert_int_equal(get_u32(f, "tokenizer.ggml.bos_token_id"), 1);
    assert_int_equal(get_u32(f, "tokenizer.ggml.eos_token_id"), 2);
    int b = 0;
    assert_int_equal(gguf_get_bool(f, "tokenizer.ggml.add_bos_token", &b, &e), STATUS_OK);
    assert_int_equal(b, 1);

    const struct gguf_kv *tok, *score, *ttype;
    assert_int_equal(gguf_get_arr(f, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &tok, &e), STATUS_OK);
    assert_int_equal(gguf_get_arr(f, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, &score, &e), STATUS_OK);
    assert_int_equal(gguf_get_arr(f, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, &ttype, &e), STATUS_OK);
    assert_int_equal(tok->n, s->n_vocab);
    assert_int_equal(score->n, s->n_vocab);
    assert_int_equal(ttype->n, s->n_vocab);
    assert_true(gguf_str_eq(tok->strs[0], "<unk>"));
    assert_true(gguf_str_eq(tok->strs[1], "<s>"));
    assert_true(gguf_str_eq(tok->strs[2], "</s>"));
    assert_true(gguf_str_eq(tok->strs[3], "<0x00>"));
    assert_true(gguf_str_eq(tok->strs[3 + 0x0a], "<0x0A>"));
    assert_true(gguf_str_eq(tok->strs[258], "<0xFF>"));
    assert_true(gguf_str_eq(tok->strs[259], "!"));
    assert_true(gguf_str_eq(tok->strs[259 + 94], "\xe2\x96\x81"));
    assert_true(gguf_str_eq(tok->strs[259 + 95], "\xe2\x96\x81tok0"));
    float prev = 1.0f;
    for (uint32_t i = 0; i < s->n_vocab; i++) {
        int32_t ty;
        float sc;
        memcpy(&ty, ttype->data + 4 * i, 4);
        memcpy(&sc, score->data + 4 * i, 4);
        int32_t want = i == 0 ? 2 : i < 3 ? 3 : i < 259 ? 6 : 1;
        assert_int_equal(ty, want);
        if (ty == 1) { /* normal tokens: strictly decreasing scores */
            assert_true(sc < prev);
            prev = sc;
        } else {
            assert_true(sc == 0.0f);
        }
    }
    /* every token string is distinct */
    struct gguf_str *sorted = malloc(s->n_vocab * sizeof *sorted);
    assert_non_null(sorted);
    memcpy(sorted, tok->strs, s->n_vocab * sizeof *sorted);
    qsort(sorted, s->n_vocab, sizeof *sorted, cmp_str);
    for (uint32_t i = 1; i < s->n_vocab; i++)
        assert_int_not_equal(cmp_str(&sorted[i - 1], &sorted[i]), 0);
    free(sorted);
}

static const struct gguf_tensor *tensor(const struct gguf_file *f, const char *name)
{
    int64_t i = gguf_find_tensor(f, name);
    if (i < 0)
        fail_msg("tensor %s missing", name);
    return &f->tensors[i];
}

/* ne1 == 0: a vector; ne2 == 0: at most 2-D. */
static void expect_tensor3(const struct gguf_file *f, const char *name, uint64_t ne0, uint64_t ne1, uint64_t ne2,
                           uint32_t type)
{
    const struct gguf_tensor *t = tensor(f, name);
    assert_int_equal(t->n_dims, ne2 ? 3 : ne1 ? 2 : 1);
    assert_int_equal(t->ne[0], ne0);
    assert_int_equal(t->ne[1], ne1 ? ne1 : 1);
    assert_int_equal(t->ne[2], ne2 ? ne2 : 1);
    if (t->type != type)
        fail_msg("%s is %s, expected %s", name, gguf_ggml_type_name(t->type), gguf_ggml_type_name(type));
}

static void expect_tensor(const struct gguf_file *f, const char *name, uint64_t ne0, uint64_t ne1, uint32_t type)
{
    expect_tensor3(f, name, ne0, ne1, 0, type);
}

/* The type quantize.h's rules give a generated matrix, restated here (dense
 * llama models): the output matrix (token_embd when tied) Q6_K under 4-bit
 * targets; under q4_k_m, attn_v and ffn_down of use_more_bits layers Q6_K;
 * a K-quant whose row does not divide 256 falls back to Q8_0 (all rows here
 * divide 32). */
static uint32_t want_type(const char *name, uint64_t ne0, uint32_t target, const struct synth_shape *s)
{
    uint32_t want = target == QUANTIZE_Q4_K_M ? GGML_TYPE_Q4_K : target;
    int layer = -1, n = (int)s->n_layer;
    sscanf(name, "blk.%d.", &layer);
    if (!strcmp(name, "output.weight") || (s->tied && !strcmp(name, "token_embd.weight"))) {
        if (want == GGML_TYPE_Q4_0 || want == GGML_TYPE_Q4_K)
            want = GGML_TYPE_Q6_K;
    } else if (target == QUANTIZE_Q4_K_M && (strstr(name, "attn_v.") || strstr(name, "ffn_down")) &&
               (layer < n / 8 || layer >= 7 * n / 8 || (layer - n / 8) % 3 == 2)) {
        want = GGML_TYPE_Q6_K;
    }
    if ((want == GGML_TYPE_Q4_K || want == GGML_TYPE_Q6_K) && ne0 % 256)
        want = GGML_TYPE_Q8_0;
    return want;
}

static void check_tensors(const struct gguf_file *f, const struct synth_shape *s, uint32_t target)
{
    uint64_t hd = s->n_embd / s->n_head, q = s->n_head * hd, kv = s->n_head_kv * hd, x = s->n_expert;
    assert_int_equal(f->n_tensors, 2 + !s->tied + (x ? 10 : 9) * s->n_layer);
    expect_tensor(f, "token_embd.weight", s->n_embd, s->n_vocab, want_type("token_embd.weight", s->n_embd, target, s));
    expect_tensor(f, "output_norm.weight", s->n_embd, 0, GGML_TYPE_F32);
    if (s->tied)
        assert_int_equal(gguf_find_tensor(f, "output.weight"), -1);
    else
        expect_tensor(f, "output.weight", s->n_embd, s->n_vocab, want_type("output.weight", s->n_embd, target, s));
    for (uint32_t l = 0; l < s->n_layer; l++) {
        char n[64];
        /* F32 marks the tensors that stay F32; the rest follow want_type */
#define T(suffix, a, b, c, ty)                                                                                     \
    (snprintf(n, sizeof n, "blk.%u.%s.weight", l, suffix),                                                         \
     expect_tensor3(f, n, a, b, c, (ty) == GGML_TYPE_F32 ? GGML_TYPE_F32 : want_type(n, a, target, s)))
        T("attn_norm", s->n_embd, 0, 0, GGML_TYPE_F32);
        T("attn_q", s->n_embd, q, 0, target);
        T("attn_k", s->n_embd, kv, 0, target);
        T("attn_v", s->n_embd, kv, 0, target);
        T("attn_output", q, s->n_embd, 0, target);
        T("ffn_norm", s->n_embd, 0, 0, GGML_TYPE_F32);
        if (x) {
            T("ffn_gate_inp", s->n_embd, x, 0, GGML_TYPE_F32);
            T("ffn_gate_exps", s->n_embd, s->n_ff, x, target);
            T("ffn_up_exps", s->n_embd, s->n_ff, x, target);
            T("ffn_down_exps", s->n_ff, s->n_embd, x, target);
            snprintf(n, sizeof n, "blk.%u.ffn_gate.weight", l);
            assert_int_equal(gguf_find_tensor(f, n), -1);
        } else {
            T("ffn_gate", s->n_embd, s->n_ff, 0, target);
            T("ffn_up", s->n_embd, s->n_ff, 0, target);
            T("ffn_down", s->n_ff, s->n_embd, 0, target);
            snprintf(n, sizeof n, "blk.%u.ffn_gate_inp.weight", l);
            assert_int_equal(gguf_find_tensor(f, n), -1);
        }
#undef T
    }
}

/* Norms are 1.0; matrices are uniform in +-sqrt(3/fan_in): bounded, mean
 * about 0, standard deviation about 1/sqrt(fan_in). */
static void check_values(const struct gguf_file *f)
{
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const struct gguf_tensor *t = &f->tensors[i];
        int64_t row = (int64_t)t->ne[0];
        uint64_t n_rows = t->n_elems / t->ne[0];
        size_t rb = quant_row_bytes(t->type, row);
        float *x = malloc((size_t)row * sizeof *x);
        assert_non_null(x);
        char tn[128];
        snprintf(tn, sizeof tn, "%.*s", (int)t->name.len, t->name.ptr);
        int router = strstr(tn, "ffn_gate_inp.weight") != NULL;
        double gain = router ? GEN_ROUTER_GAIN : 1.0;
        double sum = 0, sum2 = 0, amp = gain * sqrt(3.0 / (double)row);
        /* a K-quant's least-squares scales may place the extreme levels up to
         * a step (2 amp / 15 for Q4_K, 2 amp / 63 for Q6_K) beyond the range */
        double slack = t->type == GGML_TYPE_Q4_K ? 1 + 2.0 / 15 : t->type == GGML_TYPE_Q6_K ? 1 + 2.0 / 63 : 1.01;
        for (uint64_t r = 0; r < n_rows; r++) {
            quant_dequantize_row(t->type, gguf_tensor_data(f, t) + r * rb, x, row);
            for (int64_t j = 0; j < row; j++) {
                if (t->n_dims == 1) {
                    assert_true(x[j] == 1.0f);
                    continue;
                }
                assert_true(isfinite(x[j]));
                if (fabs(x[j]) > amp * slack)
                    fail_msg("%.*s: %g beyond the range +-%g (x %g for %s)", (int)t->name.len, t->name.ptr, x[j],
                             amp, slack, gguf_ggml_type_name(t->type));
                sum += x[j];
                sum2 += (double)x[j] * x[j];
            }
        }
        free(x);
        if (t->n_dims == 1)
            continue;
        double n = (double)t->n_elems, mean = sum / n, sd = sqrt(sum2 / n - mean * mean);
        double want = gain / sqrt((double)row);
        if (fabs(mean) > 5 * want / sqrt(n) || fabs(sd - want) > 0.1 * want) /* 5 sigma; about 10 sigma */
            fail_msg("%.*s: mean %g sd %g, expected about 0 and %g", (int)t->name.len, t->name.ptr, mean, sd, want);
    }
}

/* q has the same weights as the f32 model, each row quantize_row'd. */
static void check_same_weights(const struct gguf_file *f32, const struct gguf_file *q)
{
    assert_int_equal(f32->n_tensors, q->n_tensors);
    for (uint64_t i = 0; i < f32->n_tensors; i++) {
        const struct gguf_tensor *a = &f32->tensors[i], *b = &q->tensors[i];
        int64_t row = (int64_t)a->ne[0];
        size_t rb = quant_row_bytes(b->type, row);
        uint8_t *ref = malloc(rb);
        assert_non_null(ref);
        for (uint64_t r = 0; r < a->n_elems / a->ne[0]; r++) {
            quantize_row(b->type, (const float *)(gguf_tensor_data(f32, a) + r * row * 4), ref, row);
            if (memcmp(ref, gguf_tensor_data(q, b) + r * rb, rb))
                fail_msg("%.*s row %llu: %s differs from the f32 model's row", (int)a->name.len, a->name.ptr,
                         (unsigned long long)r, gguf_ggml_type_name(b->type));
        }
        free(ref);
    }
}

/* ---- tests ----------------------------------------------------------------- */

static void test_tiny_every_type(void **state)
{
    (void)state;
    static const uint32_t types[] = {GGML_TYPE_F32,  GGML_TYPE_F16,  GGML_TYPE_Q8_0, GGML_TYPE_Q4_0,
                                     GGML_TYPE_Q4_K, GGML_TYPE_Q6_K, QUANTIZE_Q4_K_M};
    static const char *const shapes[] = {"tiny", "tiny-untied", "tiny-256", "tiny-moe"};
    struct tmpdir td;
    tmpdir_make(&td);
    for (size_t si = 0; si < sizeof shapes / sizeof shapes[0]; si++) {
        const struct synth_shape *s = synth_shape_find(shapes[si]);
        assert_non_null(s);
        struct model f32;
        gen_read(&f32, &td, "f32.gguf", shapes[si], GGML_TYPE_F32, 7);
        for (size_t ti = 0; ti < sizeof types / sizeof types[0]; ti++) {
            struct model m;
            gen_read(&m, &td, "m.gguf", shapes[si], types[ti], 7);
            check_keys(&m.f, s, types[ti]);
            check_tensors(&m.f, s, types[ti]);
            check_values(&m.f);
            check_same_weights(&f32.f, &m.f);
            model_free(&m);
        }
        model_free(&f32);
    }
    assert_int_equal(rmdir(td.dir), 0);
}

static void test_determinism(void **state)
{
    (void)state;
    struct tmpdir td;
    tmpdir_make(&td);
    struct model a, b, c;
    gen_read(&a, &td, "a.gguf", "tiny", GGML_TYPE_Q4_0, 1234);
    gen_read(&b, &td, "b.gguf", "tiny", GGML_TYPE_Q4_0, 1234);
    gen_read(&c, &td, "c.gguf", "tiny", GGML_TYPE_Q4_0, 1235);
    assert_int_equal(a.size, b.size);
    assert_memory_equal(a.buf, b.buf, a.size);
    /* another seed: same layout, every matrix different */
    assert_int_equal(a.size, c.size);
    assert_int_equal(a.f.data_offset, c.f.data_offset);
    for (uint64_t i = 0; i < a.f.n_tensors; i++) {
        const struct gguf_tensor *t = &a.f.tensors[i];
        int same = !memcmp(gguf_tensor_data(&a.f, t), gguf_tensor_data(&c.f, &c.f.tensors[i]), t->n_bytes);
        assert_int_equal(same, t->n_dims == 1);
    }
    /* matrices differ from one another too (the tensor index is in the key) */
    const struct gguf_tensor *k = tensor(&a.f, "blk.0.attn_k.weight"), *v = tensor(&a.f, "blk.0.attn_v.weight");
    assert_memory_not_equal(gguf_tensor_data(&a.f, k), gguf_tensor_data(&a.f, v), k->n_bytes);
    model_free(&c);
    model_free(&b);
    model_free(&a);
    assert_int_equal(rmdir(td.dir), 0);
}

/* tiny-moe: the same seed gives the same bytes, another seed other weights
 * in every matrix (router included), and the experts of one tensor differ
 * from one another. */
static void test_moe_determinism(void **state)
{
    (void)state;
    struct tmpdir td;
    tmpdir_make(&td);
    struct model a, b, c;
    gen_read(&a, &td, "a.gguf", "tiny-moe", QUANTIZE_Q4_K_M, 99);
    gen_read(&b, &td, "b.gguf", "tiny-moe", QUANTIZE_Q4_K_M, 99);
    gen_read(&c, &td, "c.gguf", "tiny-moe", QUANTIZE_Q4_K_M, 100);
    assert_int_equal(a.size, b.size);
    assert_memory_equal(a.buf, b.buf, a.size);
    assert_int_equal(a.size, c.size);
    for (uint64_t i = 0; i < a.f.n_tensors; i++) {
        const struct gguf_tensor *t = &a.f.tensors[i];
        int same = !memcmp(gguf_tensor_data(&a.f, t), gguf_tensor_data(&c.f, &c.f.tensors[i]), t->n_bytes);
        assert_int_equal(same, t->n_dims == 1);
    }
    static const char *const exps[] = {"blk.0.ffn_gate_exps.weight", "blk.0.ffn_up_exps.weight",
                                       "blk.1.ffn_down_exps.weight"};
    for (size_t k = 0; k < 3; k++) {
        const struct gguf_tensor *t = tensor(&a.f, exps[k]);
        size_t slice = t->n_bytes / t->ne[2];
        for (uint64_t x = 1; x < t->ne[2]; x++)
            assert_memory_not_equal(gguf_tensor_data(&a.f, t), gguf_tensor_data(&a.f, t) + x * slice, slice);
    }
    model_free(&c);
    model_free(&b);
    model_free(&a);
    assert_int_equal(rmdir(td.dir), 0);
}

/* The routers are not degenerate: on the RMS-normalised token embeddings
 * (the kind of input the router sees) the logits have a standard deviation
 * of about GEN_ROUTER_GAIN, every expert comes first for some tokens, most
 * pairs of experts are chosen, and after the softmax over the top k
 * (renormalised, as llama.cpp does for llama MoE) the first expert gets a
 * clear share, not all of it. */
static void test_moe_routing(void **state)
{
    (void)state;
    struct tmpdir td;
    tmpdir_make(&td);
    struct model m;
    gen_read(&m, &td, "f32.gguf", "tiny-moe", GGML_TYPE_F32, 5);
    const struct synth_shape *s = synth_shape_find("tiny-moe");
    const uint32_t n_embd = s->n_embd, n_x = s->n_expert;
    assert_int_equal(n_x, 4);
    assert_int_equal(s->n_expert_used, 2);
    const float *embd = (const float *)gguf_tensor_data(&m.f, tensor(&m.f, "token_embd.weight"));
    for (int l = 0; l < 2; l++) {
        char name[64];
        snprintf(name, sizeof name, "blk.%d.ffn_gate_inp.weight", l);
        const float *router = (const float *)gguf_tensor_data(&m.f, tensor(&m.f, name));
        int first[4] = {0}, pair[4][4] = {{0}};
        double top_share = 0, sum = 0, sum2 = 0;
        for (uint32_t tok = 0; tok < s->n_vocab; tok++) {
            const float *x = embd + (size_t)tok * n_embd;
            double ms = 0;
            for (uint32_t j = 0; j < n_embd; j++)
                ms += (double)x[j] * x[j];
            double scale = 1.0 / sqrt(ms / n_embd + 1e-5);
            double logit[4];
            for (uint32_t e = 0; e < n_x; e++) {
                double d = 0;
                for (uint32_t j = 0; j < n_embd; j++)
                    d += (double)router[e * n_embd + j] * x[j] * scale;
                logit[e] = d;
                sum += d;
                sum2 += d * d;
            }
            int i0 = 0, i1 = -1;
            for (int e = 1; e < 4; e++)
                if (logit[e] > logit[i0])
                    i0 = e;
            for (int e = 0; e < 4; e++)
                if (e != i0 && (i1 < 0 || logit[e] > logit[i1]))
                    i1 = e;
            first[i0]++;
            pair[i0 < i1 ? i0 : i1][i0 < i1 ? i1 : i0]++;
            top_share += 1.0 / (1.0 + exp(logit[i1] - logit[i0])); /* softmax over the top 2 */
        }
        double n = (double)s->n_vocab * n_x, sd = sqrt(sum2 / n - (sum / n) * (sum / n));
        top_share /= s->n_vocab;
        int n_pairs = 0;
        for (int i = 0; i < 4; i++)
            for (int j = i + 1; j < 4; j++)
                n_pairs += pair[i][j] > 0;
        printf("# tiny-moe layer %d: router logit sd %.2f, first-expert counts %d %d %d %d, %d of 6 pairs, "
               "mean top-1 weight %.3f\n", l, sd, first[0], first[1], first[2], first[3], n_pairs, top_share);
        assert_true(sd > 0.7 * GEN_ROUTER_GAIN && sd < 1.3 * GEN_ROUTER_GAIN);
        for (int e = 0; e < 4; e++)
            assert_true(first[e] >= (int)s->n_vocab / 16);
        assert_true(n_pairs >= 5);
        assert_true(top_share > 0.6 && top_share < 0.95);
    }
    model_free(&m);
    assert_int_equal(rmdir(td.dir), 0);
}

/* gen with a target writes the very bytes `quantize` makes from gen's f32
 * model: the same rules, the same quantize_row, 3-D experts included. */
static void test_same_as_quantize(void **state)
{
    (void)state;
    static const struct {
        const char *shape, *target;
    } cases[] = {
        {"tiny-moe", "q4_k_m"}, {"tiny-moe", "q4_0"}, {"tiny-moe", "q8_0"}, {"tiny-256", "q4_k_m"},
        {"tiny-256", "q4_k"},   {"tiny-256", "q6_k"}, {"tiny", "q4_0"},     {"tiny-untied", "f16"},
    };
    struct tmpdir td;
    tmpdir_make(&td);
    char f32[700], q[700], qtmp[700];
    snprintf(f32, sizeof f32, "%s/f32.gguf", td.dir);
    snprintf(q, sizeof q, "%s/q.gguf", td.dir);
    snprintf(qtmp, sizeof qtmp, "%s/q.gguf.tmp", td.dir);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct err e;
        uint32_t target;
        assert_int_equal(quantize_type_from_name(cases[i].target, &target, &e), STATUS_OK);
        if (synth_model(cases[i].shape, GGML_TYPE_F32, 3, f32, NULL, &e))
            fail_msg("%s", e.msg);
        char *text = NULL;
        size_t len = 0;
        FILE *log = open_memstream(&text, &len);
        assert_non_null(log);
        if (quantize_file(f32, q, cases[i].target, log, &e))
            fail_msg("%s", e.msg);
        fclose(log);
        if (!strcmp(cases[i].shape, "tiny-moe") && target == QUANTIZE_Q4_K_M) {
            assert_non_null(strstr(text, "blk.0.ffn_gate_inp.weight [64,4] f32 -> f32 (expert router, kept"));
            assert_non_null(strstr(text, "blk.1.ffn_down_exps.weight [128,64,4] f32 -> q8_0 (q4_k_m: layer 1 of 2 "
                                         "gets q6_k; row 128 not a multiple of 256 for q6_k, q8_0 instead)\n"));
            assert_non_null(strstr(text, "blk.0.ffn_up_exps.weight [64,128,4] f32 -> q8_0 (row 64 not a multiple"));
        }
        free(text);
        struct model a, b;
        gen_read(&a, &td, "direct.gguf", cases[i].shape, target, 3);
        FILE *fp = fopen(q, "rb");
        assert_non_null(fp);
        b.buf = malloc(a.size + 1);
        assert_non_null(b.buf);
        b.size = fread(b.buf, 1, a.size + 1, fp);
        fclose(fp);
        if (b.size != a.size || memcmp(a.buf, b.buf, a.size))
            fail_msg("%s %s: gen and quantize of gen's f32 differ (%zu vs %zu bytes)", cases[i].shape,
                     cases[i].target, a.size, b.size);
        free(b.buf);
        model_free(&a);
        unlink(q);
        unlink(f32);
        assert_false(file_exists(qtmp));
    }
    assert_int_equal(rmdir(td.dir), 0);
}

static void test_shapes_and_errors(void **state)
{
    (void)state;
    const struct synth_shape *s = synth_shape_find("llama-3.2-3b");
    assert_non_null(s);
    assert_int_equal(s->n_embd, 3072);
    assert_int_equal(s->n_layer, 28);
    assert_int_equal(s->n_head, 24);
    assert_int_equal(s->n_head_kv, 8);
    assert_int_equal(s->n_ff, 8192);
    assert_int_equal(s->n_vocab, 128256);
    assert_int_equal(s->n_rot, 128);
    assert_true(s->tied);
    s = synth_shape_find("llama-3.2-1b");
    assert_non_null(s);
    assert_int_equal(s->n_embd, 2048);
    assert_int_equal(s->n_layer, 16);
    assert_int_equal(s->n_head, 32);
    assert_int_equal(s->n_rot, 64);
    assert_int_equal(s->n_ctx, 131072);
    assert_true(s->rope_base == 500000.0f);
    assert_null(synth_shape_find("llama-3.2-2b"));
    size_t n = 0;
    while (synth_shape_name(n))
        assert_non_null(synth_shape_find(synth_shape_name(n++)));
    assert_int_equal(n, 8);
    s = synth_shape_find("olmoe-1b-7b");
    assert_non_null(s);
    assert_int_equal(s->n_embd, 2048);
    assert_int_equal(s->n_layer, 16);
    assert_int_equal(s->n_head, 16);
    assert_int_equal(s->n_head_kv, 16);
    assert_int_equal(s->n_ff, 1024);
    assert_int_equal(s->n_expert, 64);
    assert_int_equal(s->n_expert_used, 8);
    assert_int_equal(s->n_vocab, 50304);
    assert_int_equal(s->n_ctx, 4096);
    assert_int_equal(s->n_rot, 128);
    assert_true(s->rope_base == 10000.0f);
    assert_true(s->rms_eps == 1e-5f);
    assert_false(s->tied);
    s = synth_shape_find("tiny-moe");
    assert_non_null(s);
    assert_int_equal(s->n_embd, 64);
    assert_int_equal(s->n_layer, 2);
    assert_int_equal(s->n_head, 4);
    assert_int_equal(s->n_head_kv, 2);
    assert_int_equal(s->n_ff, 128);
    assert_int_equal(s->n_expert, 4);
    assert_int_equal(s->n_expert_used, 2);
    assert_int_equal(s->n_vocab, 512);
    assert_int_equal(synth_shape_find("llama-3.2-3b")->n_expert, 0);

    struct tmpdir td;
    tmpdir_make(&td);
    char path[700], tmp[800];
    snprintf(path, sizeof path, "%s/x.gguf", td.dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    struct err e;
    assert_int_equal(synth_model("huge", GGML_TYPE_F32, 1, path, NULL, &e), STATUS_ERR);
    assert_non_null(strstr(e.msg, "unknown shape 'huge'"));
    assert_non_null(strstr(e.msg, "llama-3.2-1b"));
    assert_int_equal(synth_model("tiny", GGML_TYPE_Q5_0, 1, path, NULL, &e), STATUS_ERR);
    assert_non_null(strstr(e.msg, "q5_0"));
    assert_non_null(strstr(e.msg, "q4_k_m"));
    char bad[800];
    snprintf(bad, sizeof bad, "%s/no/dir/x.gguf", td.dir);
    assert_int_equal(synth_model("tiny", GGML_TYPE_F32, 1, bad, NULL, &e), STATUS_ERR);
    assert_non_null(strstr(e.msg, "No such file or directory"));
    assert_false(file_exists(path));
    assert_false(file_exists(tmp));

    /* progress goes to the log */
    char *text = NULL;
    size_t len = 0;
    FILE *log = open_memstream(&text, &len);
    assert_non_null(log);
    assert_int_equal(synth_model("tiny", GGML_TYPE_Q8_0, 1, path, log, &e), STATUS_OK);
    fclose(log);
    assert_non_null(strstr(text, "gen: wrote"));
    assert_null(strstr(text, "instead")); /* q8_0 fits 64-wide rows: no fallback */
    free(text);
    unlink(path);

    /* a type the rows cannot take is named, one line per tensor that falls
     * back: tiny's 64-wide rows cannot take q4_k's 256-blocks */
    log = open_memstream(&text, &len);
    assert_non_null(log);
    assert_int_equal(synth_model("tiny", QUANTIZE_Q4_K_M, 1, path, log, &e), STATUS_OK);
    fclose(log);
    assert_non_null(strstr(text, "gen: blk.0.attn_q.weight: row 64 not a multiple of 256 for q4_k, q8_0 instead"));
    int n_lines = 0;
    for (const char *p = text; (p = strstr(p, " instead\n")); p++)
        n_lines++;
    printf("# tiny q4_k_m: %d fallback lines\n", n_lines);
    assert_true(n_lines >= 14); /* 7 matrices per layer, 2 layers, and the embedding */
    free(text);
    unlink(path);
    assert_int_equal(rmdir(td.dir), 0);
}

/* tiny-moe-256 takes the K-quants whole: every matrix of a q4_k_m file is
 * q4_k or q6_k (the router stays f32), experts included, and none falls back. */
static void test_kquant_moe_shape(void **state)
{
    (void)state;
    struct tmpdir td;
    tmpdir_make(&td);
    struct model m;
    gen_read(&m, &td, "kmoe.gguf", "tiny-moe-256", QUANTIZE_Q4_K_M, 1);
    int n_k = 0, n_exps = 0;
    for (uint64_t i = 0; i < m.f.n_tensors; i++) {
        const struct gguf_tensor *t = &m.f.tensors[i];
        char name[96];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        if (t->n_dims == 1 || strstr(name, "ffn_gate_inp")) {
            assert_int_equal(t->type, GGML_TYPE_F32);
            continue;
        }
        if (t->type != GGML_TYPE_Q4_K && t->type != GGML_TYPE_Q6_K)
            fail_msg("%s is %s, not a K-quant", name, gguf_ggml_type_name(t->type));
        n_k++;
        n_exps += strstr(name, "_exps") != NULL;
    }
    assert_int_equal(n_exps, 6); /* gate, up, down x 2 layers, 4 experts each */
    assert_int_equal(n_k, 2 + 2 * 4 + 6); /* token_embd and output (untied), q k v o per layer, the experts */
    model_free(&m);
    assert_int_equal(rmdir(td.dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiny_every_type),
        cmocka_unit_test(test_determinism),
        cmocka_unit_test(test_moe_determinism),
        cmocka_unit_test(test_moe_routing),
        cmocka_unit_test(test_same_as_quantize),
        cmocka_unit_test(test_shapes_and_errors),
        cmocka_unit_test(test_kquant_moe_shape),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
