/* test_quantize.c: quantize_file on real models, re-read with gguf_parse.
 *
 * For stories260K (F32) to q8_0, q4_0 and f16 and for llama-2-tiny (F16
 * input) to q8_0: KVs are all carried over with general.file_type set; each
 * tensor has the type the rules give; every converted tensor holds exactly
 * the bytes quantize_row makes from the original, and its values lie within
 * the quantization error bound of the originals; kept tensors are
 * byte-identical; the log names each tensor's fate. Outputs go to a fresh
 * temp directory, never next to the data. */
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

#include "gguf.h"
#include "quant.h"
#include "quantize.h"

/* ---- files ----------------------------------------------------------------- */

static void data_path(const char *name, char *out, size_t n)
{
    const char *dir = getenv("RB_TEST_DATA");
    if (!dir || !*dir)
        fail_msg("RB_TEST_DATA is not set: run through scripts/run-tests.sh or set it to the test data folder");
    snprintf(out, n, "%s/%s", dir, name);
    struct stat st;
    if (stat(out, &st))
        fail_msg("test data file %s is missing", out);
}

static uint8_t *read_path(const char *path, size_t *size)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        fail_msg("cannot open %s", path);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long n = ftell(fp);
    assert_true(n > 0);
    assert_int_equal(fseek(fp, 0, SEEK_SET), 0);
    uint8_t *buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *size = (size_t)n;
    return buf;
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
    double limit = b->type == GGML_TYPE_Q4_0 ? 0.15 : b->type == GGML_TYPE_Q8_0 ? 0.01 : 0.001;
    if (rel > limit)
        fail_msg("tensor %.*s: relative RMS error %g > %g", (int)a->name.len, a->name.ptr, rel, limit);
    free(ref);
    free(y);
    free(x);
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
        uint32_t want = a->type;
        if (is_weight_matrix(a))
            want = (type == GGML_TYPE_Q8_0 || type == GGML_TYPE_Q4_0) && a->ne[0] % 32 ? GGML_TYPE_F16 : type;
        /* the output matrix stays above 4 bits (stories260K has its own output.weight) */
        if (type == GGML_TYPE_Q4_0 && a->name.len == 13 && !memcmp(a->name.ptr, "output.weight", 13))
            want = GGML_TYPE_Q8_0;
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

static void quantize_stories(uint32_t type, const char *name)
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
    char line[200];
    snprintf(line, sizeof line, "token_embd.weight [64,512] f32 -> %s\n", name);
    expect_log(log, line);
    if (type == GGML_TYPE_Q4_0)
        snprintf(line, sizeof line, "output.weight [64,512] f32 -> q8_0 (output matrix kept at q8_0");
    else
        snprintf(line, sizeof line, "output.weight [64,512] f32 -> %s\n", name);
    expect_log(log, line);
    snprintf(line, sizeof line, "blk.4.attn_q.weight [64,64] f32 -> %s\n", name);
    expect_log(log, line);
    expect_log(log, "blk.0.attn_norm.weight [64] f32 -> f32 (1-D, kept)\n");
    if (type == GGML_TYPE_F16) {
        expect_log(log, "blk.0.ffn_down.weight [172,64] f32 -> f16\n");
        expect_log(log, "quantize: 48 tensors: 37 f16, 0 f16 fallback, 11 kept;");
    } else {
        expect_log(log, "blk.0.ffn_down.weight [172,64] f32 -> f16 (row 172 not a multiple of 32)\n");
        snprintf(line, sizeof line, "quantize: 48 tensors: 32 %s, 5 f16 fallback, 11 kept;", name);
        expect_log(log, line);
    }
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
    quantize_stories(GGML_TYPE_Q8_0, "q8_0");
}

static void test_stories_q4_0(void **state)
{
    (void)state;
    quantize_stories(GGML_TYPE_Q4_0, "q4_0");
}

static void test_stories_f16(void **state)
{
    (void)state;
    quantize_stories(GGML_TYPE_F16, "f16");
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
    expect_log(log, "token_embd.weight [8,32000] f16 -> f16 (row 8 not a multiple of 32)\n");
    assert_int_equal(b.f.tensors[gguf_find_tensor(&b.f, "blk.0.ffn_down.weight")].type, GGML_TYPE_Q8_0);
    model_free(&b);
    model_free(&a);
    free(log);
    unlink(out);
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
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_stories_q8_0),
        cmocka_unit_test(test_stories_q4_0),
        cmocka_unit_test(test_stories_f16),
        cmocka_unit_test(test_f16_input),
        cmocka_unit_test(test_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
