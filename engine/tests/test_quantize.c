/* test_quantize.c: quantize_file on real models, re-read with gguf_parse, and
 * the per-tensor rules of quantize_choose_type.
 *
 * For stories260K (F32) to every target, llama-2-tiny (F16 input) to q8_0,
 * and llama.cpp's tiny-random-Q4_K_M (K-quant input) through f32 and back:
 * KVs are all carried over with general.file_type set; each tensor has the
 * type the rules of quantize.h give (restated independently here); every
 * converted tensor holds exactly the bytes quantize_row makes from the
 * original, within the quantization error bound; kept tensors are
 * byte-identical; the log names each tensor's fate. The Q4_K_M rule is
 * checked tensor by tensor against the types llama-quantize chose for the
 * reference file, and the rules one by one on hand-made names and shapes
 * (8-, 16- and 28-layer models, 3-D MoE experts, 8 experts, fallbacks).
 * Outputs go to a fresh temp directory, never next to the data. */
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
#include "format/gguf.h"
#include "kernels/quant.h"
#include "convert/quantize.h"

/* ---- files ----------------------------------------------------------------- */

static void data_path(const char *name, char *out, size_t n)
{
    testdata_path(out, n, name);
}

static uint8_t *read_path(const char *path, size_t *size)
{
    struct testdata_blob b = testdata_read_path(path);
    assert_true(b.n > 0);
    *size = b.n;
    return (uint8_t *)b.p;
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

struct tmpdir {
    char dir[512];
};

static void tmpdir_make(struct tmpdir *t)
{
    const char *base = getenv("TMPDIR");
    snprintf(t->dir, sizeof t->dir, "%s/test_quantize.XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(t->dir));
}

/* A parsed file with the buffer it points into. */
struct model {
    uint8_t *buf;
    size_t size;
    struct gguf_file f;
};

static void model_read(struct model *m, const char *path)
{
    struct err e;
    m->buf = read_path(path, &m->size);
    if (gguf_parse(&m->f, m->buf, m->size, &e))
        fail_msg("%s: %s", path, e.msg);
}

static void model_free(struct model *m)
{
    gguf_free(&m->f);
    free(m->buf);
}

/* Runs quantize_file and returns its log as a heap string. */
static char *run_quantize(const char *in, const char *out, const char *type)
{
    char *log_text = NULL;
    size_t log_len = 0;
    FILE *log = open_memstream(&log_text, &log_len);
    assert_non_null(log);
    struct err e;
    enum status st = quantize_file(in, out, type, log, &e);
    fclose(log);
    if (st != STATUS_OK)
        fail_msg("quantize %s -> %s (%s): %s", in, out, type, e.msg);
    char tmp[700];
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    assert_false(file_exists(tmp));
    return log_text;
}

static void expect_log(const char *log, const char *line)
{
    if (!strstr(log, line))
        fail_msg("log lacks '%s'; log:\n%s", line, log);
}

/* ---- checks ---------------------------------------------------------------- */

static int is_weight_matrix(const struct gguf_tensor *t)
{
    return t->n_dims >= 2 && t->name.len > 7 && !memcmp(t->name.ptr + t->name.len - 7, ".weight", 7);
}

/* Every input KV is in the output, same type and value, except the two keys
 * quantize sets; those two are present with llama.cpp's numbers. */
static void check_kvs(const struct gguf_file *in, const struct gguf_file *out, uint32_t file_type)
{
    struct err e;
    uint64_t extra = !gguf_has(in, "general.file_type") + !gguf_has(in, "general.quantization_version");
    assert_int_equal(out->n_kv, in->n_kv + extra);
    for (uint64_t i = 0; i < in->n_kv; i++) {
        const struct gguf_kv *a = &in->kv[i];
        if (gguf_str_eq(a->key, "general.file_type") || gguf_str_eq(a->key, "general.quantization_version"))
            continue;
        char key[256];
        snprintf(key, sizeof key, "%.*s", (int)a->key.len, a->key.ptr);
        int64_t j = gguf_find_key(out, key);
        if (j < 0)
            fail_msg("key %s missing from the output", key);
        const struct gguf_kv *b = &out->kv[j];
        assert_int_equal(a->type, b->type);
        assert_int_equal(a->arr_type, b->arr_type);
        assert_int_equal(a->n, b->n);
        if (a->arr_type == GGUF_TYPE_STRING) {
            for (uint64_t k = 0; k < a->n; k++) {
                assert_int_equal(a->strs[k].len, b->strs[k].len);
                assert_memory_equal(a->strs[k].ptr, b->strs[k].ptr, a->strs[k].len);
            }
        } else {
            static const uint8_t sizes[GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
            assert_memory_equal(a->data, b->data, a->n * sizes[a->arr_type]);
        }
    }
    uint32_t v = 99;
    assert_int_equal(gguf_get_u32(out, "general.file_type", &v, &e), STATUS_OK);
    assert_int_equal(v, file_type);
    assert_int_equal(gguf_get_u32(out, "general.quantization_version", &v, &e), STATUS_OK);
    assert_int_equal(v, 2);
}

/* Output tensor b against input tensor a: bit-exact against quantize_row of
 * the dequantized input, and within the error bound of `b->type`. */
static void check_values(const struct gguf_file *in, const struct gguf_tensor *a, const struct gguf_file *out,
                         const struct gguf_tensor *b)
{
    int64_t row = (int64_t)a->ne[0];
    uint64_t n_rows = a->n_elems / a->ne[0];
    size_t in_row = quant_row_bytes(a->type, row), out_row = quant_row_bytes(b->type, row);
    float *x = malloc((size_t)row * sizeof *x), *y = malloc((size_t)row * sizeof *y);
    uint8_t *ref = malloc(out_row);
    assert_true(x && y && ref);
    const uint8_t *pa = gguf_tensor_data(in, a), *pb = gguf_tensor_data(out, b);
    double err2 = 0, sum2 = 0;
    for (uint64_t r = 0; r < n_rows; r++) {
        quant_dequantize_row(a->type, pa + r * in_row, x, row);
        quantize_row(b->type, x, ref, row);
        if (memcmp(ref, pb + r * out_row, out_row))
            fail_msg("tensor %.*s row %llu differs from quantize_row", (int)a->name.len, a->name.ptr,
                     (unsigned long long)r);
        quant_dequantize_row(b->type, pb + r * out_row, y, row);
        for (int64_t j0 = 0; j0 < row; j0 += 32) {
            int64_t j1 = j0 + 32 < row ? j0 + 32 : row;
            float amax = 0;
            for (int64_t j = j0; j < j1; j++)
                amax = fmaxf(amax, fabsf(x[j]));
            for (int64_t j = j0; j < j1; j++) {
                double bound;
                switch (b->type) {
                case GGML_TYPE_Q8_0: bound = amax / 127.0 * (0.5 + 127.0 / 2048) + 1e-6 * amax; break;
                case GGML_TYPE_Q4_0: bound = amax / 8.0 * (1.0 + 8.0 / 2048) + 1e-6 * amax; break;
                case GGML_TYPE_F16: bound = fabs(x[j]) / 2048 + 0x1p-25; break;
                /* K-quants fit scales (and Q4_K a min) by least squares over
                 * sub-blocks, so an element may sit a few steps off: loose */
                case GGML_TYPE_Q6_K: bound = amax / 16.0 + 1e-6 * amax; break;
                case GGML_TYPE_Q4_K: bound = amax / 3.0 + 1e-6 * amax; break;
                case GGML_TYPE_F32: bound = 0; break;
                default: bound = 0; break;
                }
                double d = fabs((double)x[j] - y[j]);
                if (d > bound)
                    fail_msg("tensor %.*s [%lld,%llu]: %g -> %g, error %g > bound %g", (int)a->name.len,
                             a->name.ptr, (long long)j, (unsigned long long)r, x[j], y[j], d, bound);
                err2 += d * d;
                sum2 += (double)x[j] * x[j];
            }
        }
    }
    /* and on the whole, the error is the size expected of the type */
    double rel = sqrt(err2 / (sum2 > 0 ? sum2 : 1));
    double limit = b->type == GGML_TYPE_Q4_0 || b->type == GGML_TYPE_Q4_K ? 0.15
                   : b->type == GGML_TYPE_Q6_K                          ? 0.04
                   : b->type == GGML_TYPE_Q8_0                          ? 0.01
                                                                        : 0.001;
    if (rel > limit)
        fail_msg("tensor %.*s: relative RMS error %g > %g", (int)a->name.len, a->name.ptr, rel, limit);
    free(ref);
    free(y);
    free(x);
}

/* The rules of quantize.h restated for llama models (dense, no 8-expert
 * rule), to check quantize_file without asking quantize_choose_type. */
static uint32_t expected_type(const struct gguf_file *in, const struct gguf_tensor *a, uint32_t target)
{
    char name[256];
    snprintf(name, sizeof name, "%.*s", (int)a->name.len, a->name.ptr);
    if (!is_weight_matrix(a) || strstr(name, "_norm.weight"))
        return a->type;
    uint32_t base = target == QUANTIZE_Q4_K_M ? GGML_TYPE_Q4_K : target, want = base;
    if (base == GGML_TYPE_F32 || base == GGML_TYPE_F16)
        return base;
    int tied = gguf_find_tensor(in, "output.weight") < 0;
    int n_layer = 0, layer = -1;
    for (uint64_t i = 0; i < in->n_tensors; i++) {
        char n[256];
        int l;
        snprintf(n, sizeof n, "%.*s", (int)in->tensors[i].name.len, in->tensors[i].name.ptr);
        if (sscanf(n, "blk.%d.", &l) == 1 && l + 1 > n_layer)
            n_layer = l + 1;
    }
    sscanf(name, "blk.%d.", &layer);
    if (!strcmp(name, "output.weight") || (tied && !strcmp(name, "token_embd.weight"))) {
        if (base == GGML_TYPE_Q4_0 || base == GGML_TYPE_Q4_K)
            want = GGML_TYPE_Q6_K;
    } else if (target == QUANTIZE_Q4_K_M && (strstr(name, "attn_v.weight") || strstr(name, "ffn_down"))) {
        int n8 = n_layer / 8;
        if (layer < n8 || layer >= 7 * n_layer / 8 || (layer - n8) % 3 == 2)
            want = GGML_TYPE_Q6_K;
    }
    int k_quant = want == GGML_TYPE_Q4_K || want == GGML_TYPE_Q6_K;
    if (a->ne[0] % (k_quant ? 256 : 32))
        want = k_quant && a->ne[0] % 32 == 0 ? GGML_TYPE_Q8_0 : GGML_TYPE_F16;
    return want;
}

/* Checks out against in for target `type` with the rules of quantize.h. */
static void check_model(const struct gguf_file *in, const struct gguf_file *out, uint32_t type)
{
    check_kvs(in, out, quantize_file_type(type));
    assert_int_equal(out->n_tensors, in->n_tensors);
    for (uint64_t i = 0; i < in->n_tensors; i++) {
        const struct gguf_tensor *a = &in->tensors[i], *b = &out->tensors[i];
        assert_int_equal(a->name.len, b->name.len);
        assert_memory_equal(a->name.ptr, b->name.ptr, a->name.len);
        assert_int_equal(a->n_dims, b->n_dims);
        for (int d = 0; d < GGUF_MAX_DIMS; d++)
            assert_int_equal(a->ne[d], b->ne[d]);
        uint32_t want = expected_type(in, a, type);
        if (b->type != want)
            fail_msg("tensor %.*s is %s, expected %s", (int)a->name.len, a->name.ptr,
                     gguf_ggml_type_name(b->type), gguf_ggml_type_name(want));
        if (b->type == a->type)
            assert_memory_equal(gguf_tensor_data(in, a), gguf_tensor_data(out, b), a->n_bytes);
        else
            check_values(in, a, out, b);
    }
}

/* ---- tests ----------------------------------------------------------------- */

/* stories260K: n_embd 64 (so no K-quant fits a row of 64: those fall back
 * to q8_0), ffn_down rows of 172 (f16 under every quantized target). */
static void quantize_stories(uint32_t type, const char *name, const char *summary)
{
    struct tmpdir td;
    tmpdir_make(&td);
    char in[600], out[700];
    data_path("stories260K.gguf", in, sizeof in);
    snprintf(out, sizeof out, "%s/stories260K-%s.gguf", td.dir, name);
    char *log = run_quantize(in, out, name);
    struct model a, b;
    model_read(&a, in);
    model_read(&b, out);
    check_model(&a.f, &b.f, type);
    int k_quant = type == GGML_TYPE_Q4_K || type == GGML_TYPE_Q6_K || type == QUANTIZE_Q4_K_M;
    const char *k_name = type == GGML_TYPE_Q6_K ? "q6_k" : "q4_k";
    char line[300];
    if (k_quant)
        snprintf(line, sizeof line,
                 "token_embd.weight [64,512] f32 -> q8_0 (row 64 not a multiple of 256 for %s, q8_0 instead)\n",
                 k_name);
    else
        snprintf(line, sizeof line, "token_embd.weight [64,512] f32 -> %s\n", name);
    expect_log(log, line);
    if (type == GGML_TYPE_Q4_0 || type == GGML_TYPE_Q4_K || type == QUANTIZE_Q4_K_M)
        snprintf(line, sizeof line, "output.weight [64,512] f32 -> q8_0 (output matrix: q6_k as llama.cpp gives it; "
                                    "row 64 not a multiple of 256 for q6_k, q8_0 instead)\n");
    else if (type == GGML_TYPE_Q6_K)
        snprintf(line, sizeof line,
                 "output.weight [64,512] f32 -> q8_0 (row 64 not a multiple of 256 for q6_k, q8_0 instead)\n");
    else
        snprintf(line, sizeof line, "output.weight [64,512] f32 -> %s\n", name);
    expect_log(log, line);
    if (!k_quant) {
        snprintf(line, sizeof line, "blk.4.attn_q.weight [64,64] f32 -> %s\n", name);
        expect_log(log, line);
    }
    expect_log(log, "blk.0.attn_norm.weight [64] f32 -> f32 (1-D, kept)\n");
    if (type == GGML_TYPE_F16)
        expect_log(log, "blk.0.ffn_down.weight [172,64] f32 -> f16\n");
    else if (type == QUANTIZE_Q4_K_M) { /* 5 layers: 2 and 4 get q6_k, which does not fit either */
        expect_log(log, "blk.2.ffn_down.weight [172,64] f32 -> f16 (q4_k_m: layer 2 of 5 gets q6_k; "
                        "row 172 not a multiple of 256 for q6_k, f16 instead)\n");
        expect_log(log, "blk.0.ffn_down.weight [172,64] f32 -> f16 (row 172 not a multiple of 256 for q4_k, "
                        "f16 instead)\n");
        expect_log(log, "blk.4.attn_v.weight [64,32] f32 -> q8_0 (q4_k_m: layer 4 of 5 gets q6_k; "
                        "row 64 not a multiple of 256 for q6_k, q8_0 instead)\n");
    }
    else if (k_quant)
        expect_log(log, "blk.1.ffn_down.weight [172,64] f32 -> f16 (row 172 not a multiple of 256 for ");
    else
        expect_log(log, "blk.0.ffn_down.weight [172,64] f32 -> f16 (row 172 not a multiple of 32 for ");
    expect_log(log, summary);
    /* quantizing the result again to the same type changes nothing */
    if (type != GGML_TYPE_F16) {
        char again[800];
        snprintf(again, sizeof again, "%s/again.gguf", td.dir);
        free(run_quantize(out, again, name));
        size_t n;
        uint8_t *buf = read_path(again, &n);
        assert_int_equal(n, b.size);
        assert_memory_equal(buf, b.buf, n);
        free(buf);
        unlink(again);
    }
    model_free(&b);
    model_free(&a);
    free(log);
    unlink(out);
    assert_int_equal(rmdir(td.dir), 0);
}

static void test_stories_q8_0(void **state)
{
    (void)state;
    quantize_stories(GGML_TYPE_Q8_0, "q8_0",
                     "quantize: 48 tensors (11 f32, 5 f16, 32 q8_0): 32 q8_0, 0 raised, 5 fallback, 11 kept;");
}

static void test_stories_q4_0(void **state)
{
    (void)state;
    quantize_stories(GGML_TYPE_Q4_0, "q4_0",
                     "quantize: 48 tensors (11 f32, 5 f16, 31 q4_0, 1 q8_0): 31 q4_0, 0 raised, 6 fallback, 11 kept;");
}

static void test_stories_f16(void **state)
{
    (void)state;
    quantize_stories(GGML_TYPE_F16, "f16",
                     "quantize: 48 tensors (11 f32, 37 f16): 37 f16, 0 raised, 0 fallback, 11 kept;");
}

static void test_stories_k_quants(void **state)
{
    (void)state;
    static const char *const names[] = {"q4_k", "q6_k", "q4_k_m"};
    for (size_t i = 0; i < 3; i++) {
        char summary[200];
        snprintf(summary, sizeof summary,
                 "quantize: 48 tensors (11 f32, 5 f16, 32 q8_0): 0 %s, 0 raised, 37 fallback, 11 kept;", names[i]);
        uint32_t t;
        assert_int_equal(quantize_type_from_name(names[i], &t, NULL), STATUS_OK);
        quantize_stories(t, names[i], summary);
    }
}

/* F16 input: rows of 8 fall back to F16 (copied); ffn_down [32,8] becomes q8_0. */
static void test_f16_input(void **state)
{
    (void)state;
    struct tmpdir td;
    tmpdir_make(&td);
    char in[600], out[700];
    data_path("llama-2-tiny-random.gguf", in, sizeof in);
    snprintf(out, sizeof out, "%s/tiny-q8_0.gguf", td.dir);
    char *log = run_quantize(in, out, "q8_0");
    struct model a, b;
    model_read(&a, in);
    model_read(&b, out);
    check_model(&a.f, &b.f, GGML_TYPE_Q8_0);
    expect_log(log, "blk.0.ffn_down.weight [32,8] f16 -> q8_0\n");
    expect_log(log, "token_embd.weight [8,32000] f16 -> f16 (row 8 not a multiple of 32 for q8_0, f16 instead; "
                    "already f16, copied)\n");
    assert_int_equal(b.f.tensors[gguf_find_tensor(&b.f, "blk.0.ffn_down.weight")].type, GGML_TYPE_Q8_0);
    model_free(&b);
    model_free(&a);
    free(log);
    unlink(out);
    assert_int_equal(rmdir(td.dir), 0);
}

/* ---- the rules, one by one ------------------------------------------------- */

static struct quantize_choice choose(const char *name, uint32_t n_dims, uint64_t ne0, uint64_t ne1, uint64_t ne2,
                                     uint32_t src, uint32_t target, uint32_t n_layer, uint32_t n_expert,
                                     int has_output)
{
    const uint64_t ne[4] = {ne0, ne1, ne2, 1};
    const struct quantize_model m = {n_layer, n_expert, has_output};
    struct quantize_choice c;
    memset(&c, 0xab, sizeof c);
    quantize_choose_type(name, n_dims, ne, src, target, &m, &c);
    assert_true(memchr(c.why, 0, sizeof c.why) != NULL);
    return c;
}

static void expect_choice(struct quantize_choice c, uint32_t type, enum quantize_kind kind, const char *why)
{
    if (c.type != type || c.kind != kind)
        fail_msg("got %s kind %d (%s), expected %s kind %d", gguf_ggml_type_name(c.type), (int)c.kind, c.why,
                 gguf_ggml_type_name(type), (int)kind);
    if (why && !strstr(c.why, why))
        fail_msg("reason '%s' lacks '%s'", c.why, why);
}

/* use_more_bits layers listed by hand (llama.cpp's formula worked out). */
static int in_list(int l, const int *list, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (list[i] == l)
            return 1;
    return 0;
}

static void test_rules(void **state)
{
    (void)state;
    const uint32_t F32 = GGML_TYPE_F32, F16 = GGML_TYPE_F16, Q8 = GGML_TYPE_Q8_0, Q4 = GGML_TYPE_Q4_0;
    const uint32_t Q4K = GGML_TYPE_Q4_K, Q6K = GGML_TYPE_Q6_K, M = QUANTIZE_Q4_K_M;

    /* rule 1: kept whatever the target */
    expect_choice(choose("blk.0.attn_norm.weight", 1, 2048, 1, 1, F32, M, 16, 0, 1), F32, QUANTIZE_KEPT, "1-D");
    expect_choice(choose("blk.0.ffn_gate_inp.weight", 2, 2048, 64, 1, F32, M, 16, 64, 1), F32, QUANTIZE_KEPT,
                  "router");
    expect_choice(choose("blk.0.ffn_gate_inp.weight", 2, 2048, 64, 1, F32, F16, 16, 64, 1), F32, QUANTIZE_KEPT,
                  "router");
    expect_choice(choose("blk.0.x_norm.weight", 2, 256, 4, 1, F32, Q4, 1, 0, 1), F32, QUANTIZE_KEPT, "norm");
    expect_choice(choose("blk.0.attn_q.bias", 2, 256, 4, 1, F32, Q4, 1, 0, 1), F32, QUANTIZE_KEPT, "not a weight");
    expect_choice(choose("blk.0.attn_q.weight", 2, 256, 4, 1, GGML_TYPE_Q5_0, Q4, 1, 0, 1), GGML_TYPE_Q5_0,
                  QUANTIZE_KEPT, "q5_0 cannot be dequantized");

    /* rule 2: f32/f16 targets take every matrix, whatever its row */
    expect_choice(choose("output.weight", 2, 2048, 50304, 1, F32, F16, 16, 0, 1), F16, QUANTIZE_TARGET, NULL);
    expect_choice(choose("blk.0.ffn_down.weight", 2, 172, 64, 1, F32, F16, 5, 0, 1), F16, QUANTIZE_TARGET, NULL);
    expect_choice(choose("blk.0.ffn_down.weight", 2, 172, 64, 1, F16, F32, 5, 0, 1), F32, QUANTIZE_TARGET, NULL);
    expect_choice(choose("blk.0.attn_v.weight", 2, 4096, 1024, 1, F32, F16, 32, 8, 1), F16, QUANTIZE_TARGET, NULL);

    /* rule 3: the output matrix */
    static const uint32_t four_bit[] = {GGML_TYPE_Q4_0, GGML_TYPE_Q4_K, QUANTIZE_Q4_K_M};
    for (size_t i = 0; i < 3; i++) {
        expect_choice(choose("output.weight", 2, 2048, 50304, 1, F32, four_bit[i], 16, 0, 1), Q6K, QUANTIZE_RAISED,
                      "output matrix");
        expect_choice(choose("token_embd.weight", 2, 3072, 128256, 1, F32, four_bit[i], 28, 0, 0), Q6K,
                      QUANTIZE_RAISED, "output matrix");
        uint32_t base = four_bit[i] == M ? Q4K : four_bit[i];
        expect_choice(choose("token_embd.weight", 2, 2048, 50304, 1, F32, four_bit[i], 16, 0, 1), base,
                      QUANTIZE_TARGET, NULL);
    }
    expect_choice(choose("output.weight", 2, 2048, 50304, 1, F32, Q8, 16, 0, 1), Q8, QUANTIZE_TARGET, NULL);
    expect_choice(choose("token_embd.weight", 2, 2048, 50304, 1, F32, Q8, 16, 0, 0), Q8, QUANTIZE_TARGET, NULL);
    expect_choice(choose("output.weight", 2, 2048, 50304, 1, F32, Q6K, 16, 0, 1), Q6K, QUANTIZE_TARGET, NULL);
    expect_choice(choose("token_embd.weight", 2, 64, 512, 1, F32, Q4, 2, 0, 0), Q8, QUANTIZE_FALLBACK,
                  "output matrix: q6_k as llama.cpp gives it; row 64 not a multiple of 256 for q6_k, q8_0 instead");

    /* rule 4: q4_k_m on 28 dense layers (llama-3.2-3b) */
    static const int more28[] = {0, 1, 2, 5, 8, 11, 14, 17, 20, 23, 24, 25, 26, 27};
    for (int l = 0; l < 28; l++) {
        char n[64];
        int more = in_list(l, more28, sizeof more28 / sizeof more28[0]);
        snprintf(n, sizeof n, "blk.%d.attn_v.weight", l);
        expect_choice(choose(n, 2, 3072, 1024, 1, F32, M, 28, 0, 0), more ? Q6K : Q4K,
                      more ? QUANTIZE_RAISED : QUANTIZE_TARGET, more ? "q4_k_m: layer" : NULL);
        snprintf(n, sizeof n, "blk.%d.ffn_down.weight", l);
        expect_choice(choose(n, 2, 8192, 3072, 1, F32, M, 28, 0, 0), more ? Q6K : Q4K,
                      more ? QUANTIZE_RAISED : QUANTIZE_TARGET, NULL);
        /* q4_k (not the mix) leaves them alone */
        expect_choice(choose(n, 2, 8192, 3072, 1, F32, Q4K, 28, 0, 0), Q4K, QUANTIZE_TARGET, NULL);
        static const char *const others[] = {"attn_q", "attn_k", "attn_output", "ffn_gate", "ffn_up"};
        for (size_t k = 0; k < 5; k++) {
            snprintf(n, sizeof n, "blk.%d.%s.weight", l, others[k]);
            expect_choice(choose(n, 2, 3072, 3072, 1, F32, M, 28, 0, 0), Q4K, QUANTIZE_TARGET, NULL);
        }
    }
    /* ... and on a 16-layer MoE (olmoe-1b-7b): 3-D experts, layer from the name */
    static const int more16[] = {0, 1, 4, 7, 10, 13, 14, 15};
    for (int l = 0; l < 16; l++) {
        char n[64];
        int more = in_list(l, more16, sizeof more16 / sizeof more16[0]);
        snprintf(n, sizeof n, "blk.%d.ffn_down_exps.weight", l);
        expect_choice(choose(n, 3, 1024, 2048, 64, F32, M, 16, 64, 1), more ? Q6K : Q4K,
                      more ? QUANTIZE_RAISED : QUANTIZE_TARGET, NULL);
        snprintf(n, sizeof n, "blk.%d.attn_v.weight", l);
        expect_choice(choose(n, 2, 2048, 2048, 1, F32, M, 16, 64, 1), more ? Q6K : Q4K,
                      more ? QUANTIZE_RAISED : QUANTIZE_TARGET, NULL);
        snprintf(n, sizeof n, "blk.%d.ffn_gate_exps.weight", l);
        expect_choice(choose(n, 3, 2048, 1024, 64, F32, M, 16, 64, 1), Q4K, QUANTIZE_TARGET, NULL);
        snprintf(n, sizeof n, "blk.%d.ffn_up_exps.weight", l);
        expect_choice(choose(n, 3, 2048, 1024, 64, F32, Q4, 16, 64, 1), Q4, QUANTIZE_TARGET, NULL);
    }

    /* rule 5: exactly 8 experts (Mixtral) lift attn_k and attn_v to q8_0 */
    for (size_t i = 0; i < 3; i++) {
        expect_choice(choose("blk.3.attn_k.weight", 2, 4096, 1024, 1, F32, four_bit[i], 32, 8, 1), Q8,
                      QUANTIZE_RAISED, "8 experts");
        expect_choice(choose("blk.0.attn_v.weight", 2, 4096, 1024, 1, F32, four_bit[i], 32, 8, 1), Q8,
                      QUANTIZE_RAISED, "8 experts");
        expect_choice(choose("blk.0.attn_q.weight", 2, 4096, 4096, 1, F32, four_bit[i], 32, 8, 1),
                      four_bit[i] == M ? Q4K : four_bit[i], QUANTIZE_TARGET, NULL);
    }
    expect_choice(choose("blk.0.attn_v.weight", 2, 4096, 1024, 1, F32, Q8, 32, 8, 1), Q8, QUANTIZE_TARGET, NULL);
    expect_choice(choose("blk.0.attn_v.weight", 2, 4096, 1024, 1, F32, Q6K, 32, 8, 1), Q8, QUANTIZE_RAISED,
                  "8 experts");
    expect_choice(choose("blk.0.attn_v.weight", 2, 4096, 1024, 1, F32, M, 32, 4, 1), Q6K, QUANTIZE_RAISED, NULL);

    /* rule 6: fallbacks */
    expect_choice(choose("blk.0.attn_q.weight", 2, 96, 96, 1, F32, Q4K, 1, 0, 1), Q8, QUANTIZE_FALLBACK,
                  "row 96 not a multiple of 256 for q4_k, q8_0 instead");
    expect_choice(choose("blk.0.attn_q.weight", 2, 100, 96, 1, F32, Q6K, 1, 0, 1), F16, QUANTIZE_FALLBACK,
                  "row 100 not a multiple of 256 for q6_k, f16 instead");
    expect_choice(choose("blk.0.attn_q.weight", 2, 100, 96, 1, F32, Q4, 1, 0, 1), F16, QUANTIZE_FALLBACK,
                  "row 100 not a multiple of 32 for q4_0, f16 instead");
    expect_choice(choose("blk.1.ffn_down_exps.weight", 3, 128, 64, 4, F32, M, 2, 4, 1), Q8, QUANTIZE_FALLBACK,
                  "q4_k_m: layer 1 of 2 gets q6_k; row 128 not a multiple of 256 for q6_k, q8_0 instead");

    /* a tensor already in its type is copied */
    expect_choice(choose("blk.1.attn_q.weight", 2, 512, 512, 1, Q4K, M, 8, 0, 1), Q4K, QUANTIZE_TARGET,
                  "already q4_k, copied");
    expect_choice(choose("blk.0.ffn_down.weight", 2, 2048, 512, 1, Q6K, M, 8, 0, 1), Q6K, QUANTIZE_RAISED,
                  "q4_k_m: layer 0 of 8 gets q6_k; already q6_k, copied");
}

/* ---- llama.cpp's own Q4_K_M file ------------------------------------------- */

/* tiny-random-Q4_K_M.gguf was made by llama-quantize from an F32 model: the
 * rules applied to its shapes give exactly the types it holds; quantizing it
 * to q4_k_m copies every tensor; taking it to f32 and back to q4_k_m gives
 * the same types again, each tensor the quantize_row of the f32 one. */
static void test_reference_q4_k_m(void **state)
{
    (void)state;
    char in[600];
    data_path("tiny-random-Q4_K_M.gguf", in, sizeof in);
    struct model ref;
    model_read(&ref, in);
    struct err e;
    uint32_t n_layer = 0, file_type = 0;
    assert_int_equal(gguf_get_u32(&ref.f, "llama.block_count", &n_layer, &e), STATUS_OK);
    assert_int_equal(n_layer, 8);
    assert_int_equal(gguf_get_u32(&ref.f, "general.file_type", &file_type, &e), STATUS_OK);
    assert_int_equal(file_type, quantize_file_type(QUANTIZE_Q4_K_M));
    const struct quantize_model qm = {n_layer, 0, gguf_find_tensor(&ref.f, "output.weight") >= 0};
    uint64_t count[GGML_TYPE_COUNT] = {0};
    for (uint64_t i = 0; i < ref.f.n_tensors; i++) {
        const struct gguf_tensor *t = &ref.f.tensors[i];
        char name[256];
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        struct quantize_choice c;
        quantize_choose_type(name, t->n_dims, t->ne, GGML_TYPE_F32, QUANTIZE_Q4_K_M, &qm, &c);
        if (c.type != t->type)
            fail_msg("%s: the rules give %s (%s), llama-quantize chose %s", name, gguf_ggml_type_name(c.type), c.why,
                     gguf_ggml_type_name(t->type));
        count[t->type]++;
    }
    assert_int_equal(ref.f.n_tensors, 75);
    assert_int_equal(count[GGML_TYPE_F32], 17);
    assert_int_equal(count[GGML_TYPE_Q4_K], 49);
    assert_int_equal(count[GGML_TYPE_Q6_K], 9);

    struct tmpdir td;
    tmpdir_make(&td);
    char same[700], f32[700], back[700];
    snprintf(same, sizeof same, "%s/same.gguf", td.dir);
    snprintf(f32, sizeof f32, "%s/f32.gguf", td.dir);
    snprintf(back, sizeof back, "%s/back.gguf", td.dir);

    char *log = run_quantize(in, same, "q4_k_m");
    expect_log(log, "quantize: 75 tensors (17 f32, 49 q4_k, 9 q6_k): 49 q4_k_m, 9 raised, 0 fallback, 17 kept;");
    expect_log(log, "blk.3.ffn_down.weight [2048,512] q6_k -> q6_k (q4_k_m: layer 3 of 8 gets q6_k; already q6_k, "
                    "copied)\n");
    free(log);
    struct model m;
    model_read(&m, same);
    check_model(&ref.f, &m.f, QUANTIZE_Q4_K_M); /* every tensor byte-identical */
    model_free(&m);

    free(run_quantize(in, f32, "f32"));
    struct model mf;
    model_read(&mf, f32);
    check_model(&ref.f, &mf.f, GGML_TYPE_F32);
    log = run_quantize(f32, back, "q4_k_m");
    expect_log(log, "blk.0.attn_v.weight [512,128] f32 -> q6_k (q4_k_m: layer 0 of 8 gets q6_k)\n");
    expect_log(log, "blk.1.attn_v.weight [512,128] f32 -> q4_k\n");
    expect_log(log, "output.weight [512,384] f32 -> q6_k (output matrix: q6_k as llama.cpp gives it)\n");
    expect_log(log, "token_embd.weight [512,384] f32 -> q4_k\n");
    free(log);
    struct model mb;
    model_read(&mb, back);
    check_model(&mf.f, &mb.f, QUANTIZE_Q4_K_M);
    for (uint64_t i = 0; i < ref.f.n_tensors; i++)
        assert_int_equal(mb.f.tensors[i].type, ref.f.tensors[i].type);
    model_free(&mb);
    model_free(&mf);
    model_free(&ref);
    unlink(same);
    unlink(f32);
    unlink(back);
    assert_int_equal(rmdir(td.dir), 0);
}

static void test_errors(void **state)
{
    (void)state;
    struct tmpdir td;
    tmpdir_make(&td);
    char in[600], out[700], junk[700], tmp[800];
    data_path("stories260K.gguf", in, sizeof in);
    snprintf(out, sizeof out, "%s/out.gguf", td.dir);
    snprintf(tmp, sizeof tmp, "%s.tmp", out);
    struct err e;

    assert_int_equal(quantize_file(in, out, "q5_0", NULL, &e), STATUS_ERR);
    assert_non_null(strstr(e.msg, "unknown type 'q5_0'"));

    snprintf(junk, sizeof junk, "%s/missing.gguf", td.dir);
    assert_int_equal(quantize_file(junk, out, "q8_0", NULL, &e), STATUS_ERR);
    assert_non_null(strstr(e.msg, junk));
    assert_non_null(strstr(e.msg, "No such file or directory"));

    snprintf(junk, sizeof junk, "%s/junk.gguf", td.dir);
    FILE *fp = fopen(junk, "wb");
    assert_non_null(fp);
    fputs("this is not a model file, only some text of sufficient length", fp);
    fclose(fp);
    assert_int_equal(quantize_file(junk, out, "q8_0", NULL, &e), STATUS_ERR);
    assert_non_null(strstr(e.msg, junk));
    assert_non_null(strstr(e.msg, "bad magic"));
    unlink(junk);

    char bad_out[800];
    snprintf(bad_out, sizeof bad_out, "%s/no/dir/out.gguf", td.dir);
    assert_int_equal(quantize_file(in, bad_out, "q8_0", NULL, &e), STATUS_ERR);
    assert_non_null(strstr(e.msg, "cannot create"));
    assert_false(file_exists(out));
    assert_false(file_exists(tmp));
    assert_int_equal(rmdir(td.dir), 0);

    uint32_t t = 0;
    assert_int_equal(quantize_type_from_name("q4_0", &t, &e), STATUS_OK);
    assert_int_equal(t, GGML_TYPE_Q4_0);
    assert_int_equal(quantize_file_type(GGML_TYPE_Q8_0), 7);
    assert_int_equal(quantize_file_type(GGML_TYPE_Q4_0), 2);
    assert_int_equal(quantize_file_type(GGML_TYPE_F16), 1);
    assert_int_equal(quantize_file_type(GGML_TYPE_F32), 0);
    static const struct {
        const char *name;
        uint32_t target, file_type;
    } names[] = {{"q4_k", GGML_TYPE_Q4_K, 14}, {"q6_k", GGML_TYPE_Q6_K, 18}, {"q4_k_m", QUANTIZE_Q4_K_M, 15}};
    for (size_t i = 0; i < 3; i++) {
        assert_int_equal(quantize_type_from_name(names[i].name, &t, &e), STATUS_OK);
        assert_int_equal(t, names[i].target);
        assert_int_equal(quantize_file_type(t), names[i].file_type);
        assert_string_equal(quantize_target_name(t), names[i].name);
    }
    assert_int_equal(quantize_type_from_name("q4_k_s", &t, &e), STATUS_ERR);
    assert_non_null(strstr(e.msg, "q4_k_m"));
}

/* Nothing lost: a stale OUT.tmp that is the input (or a symlink to it) is
 * never opened, OUT == IN and a non-regular OUT are refused, and the input's
 * bytes are the same afterwards. */
static void test_input_never_destroyed(void **state)
{
    (void)state;
    struct tmpdir td;
    tmpdir_make(&td);
    char src[600], in[700], out[700], stale[800], link_out[700], link_tmp[800];
    data_path("stories260K.gguf", src, sizeof src);
    size_t n_src;
    uint8_t *orig = read_path(src, &n_src);
    /* the input named OUT.tmp, as an interrupted run would leave it */
    snprintf(in, sizeof in, "%s/a.gguf.tmp", td.dir);
    snprintf(out, sizeof out, "%s/a.gguf", td.dir);
    FILE *fp = fopen(in, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(orig, 1, n_src, fp), n_src);
    assert_int_equal(fclose(fp), 0);
    struct err e;
    assert_int_equal(quantize_file(in, out, "q8_0", NULL, &e), STATUS_OK);
    size_t n_after;
    uint8_t *after = read_path(in, &n_after);
    assert_int_equal(n_after, n_src);
    assert_memory_equal(after, orig, n_src);
    free(after);
    /* a stale OUT.tmp symlink to the input */
    snprintf(link_out, sizeof link_out, "%s/o.gguf", td.dir);
    snprintf(link_tmp, sizeof link_tmp, "%s.tmp", link_out);
    assert_int_equal(symlink(in, link_tmp), 0);
    assert_int_equal(quantize_file(in, link_out, "q4_0", NULL, &e), STATUS_OK);
    after = read_path(in, &n_after);
    assert_int_equal(n_after, n_src);
    assert_memory_equal(after, orig, n_src);
    free(after);
    /* OUT is IN: refused, IN unchanged */
    assert_int_equal(quantize_file(in, in, "q8_0", NULL, &e), STATUS_ERR);
    assert_non_null(strstr(e.msg, "is the input file"));
    after = read_path(in, &n_after);
    assert_memory_equal(after, orig, n_src);
    free(after);
    /* OUT is a directory (not a regular file): refused */
    snprintf(stale, sizeof stale, "%s/d.gguf", td.dir);
    assert_int_equal(mkdir(stale, 0755), 0);
    assert_int_equal(quantize_file(in, stale, "q8_0", NULL, &e), STATUS_ERR);
    assert_non_null(strstr(e.msg, "not a regular file"));
    char cmd[700];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", td.dir);
    assert_int_equal(system(cmd), 0);
    free(orig);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_input_never_destroyed),
        cmocka_unit_test(test_stories_q8_0),
        cmocka_unit_test(test_stories_q4_0),
        cmocka_unit_test(test_stories_f16),
        cmocka_unit_test(test_stories_k_quants),
        cmocka_unit_test(test_f16_input),
        cmocka_unit_test(test_rules),
        cmocka_unit_test(test_reference_q4_k_m),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
