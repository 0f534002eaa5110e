/* test_gguf.c: the GGUF reader against real files, handcrafted malformed files
 * and every truncation of valid files.
 *
 * Sections: data files (RB_TEST_DATA; a missing file fails the test), a tiny
 * byte builder, the table of malformed cases with the error each must give,
 * truncation at every byte (each prefix copied into an exactly-sized heap
 * block so ASan sees any read past it), the real files' known layout, and
 * the writer (gguf_write.h): round trips through the reader and its errors. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "testdata.h"
#include "format/gguf.h"
#include "format/gguf_write.h"

/* ---- data files ------------------------------------------------------------ */

/* A data file in an exactly-sized heap block (testdata.h; a missing file
 * fails the test, never skips it). */
static uint8_t *load_data(const char *name, size_t *size)
{
    struct testdata_blob b = testdata_read(name);
    assert_true(b.n > 0);
    *size = b.n;
    return (uint8_t *)b.p;
}

/* ---- byte builder ---------------------------------------------------------- */

struct bb {
    uint8_t *p;
    size_t n, cap;
};

static void bb_bytes(struct bb *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void bb_le(struct bb *b, uint64_t v, int n_bytes)
{
    uint8_t tmp[8];
    for (int i = 0; i < n_bytes; i++)
        tmp[i] = (uint8_t)(v >> (8 * i));
    bb_bytes(b, tmp, (size_t)n_bytes);
}

static void bb_u32(struct bb *b, uint32_t v) { bb_le(b, v, 4); }
static void bb_u64(struct bb *b, uint64_t v) { bb_le(b, v, 8); }

static void bb_str(struct bb *b, const char *s)
{
    bb_u64(b, strlen(s));
    bb_bytes(b, s, strlen(s));
}

static void bb_f32(struct bb *b, float f)
{
    uint32_t u;
    memcpy(&u, &f, 4);
    bb_u32(b, u);
}

static void bb_zeros(struct bb *b, size_t n)
{
    for (size_t i = 0; i < n; i++)
        bb_le(b, 0, 1);
}

/* Parses a copy of buf[0..n) held in a block of exactly n bytes. */
static enum status parse_exact(struct gguf_file *f, const uint8_t *buf, size_t n, struct err *e)
{
    uint8_t *copy = malloc(n ? n : 1);
    assert_non_null(copy);
    if (n)
        memcpy(copy, buf, n);
    e->msg[0] = '\0';
    enum status st = gguf_parse(f, copy, n, e);
    if (st == STATUS_OK)
        gguf_free(f);
    free(copy);
    return st;
}

/* ---- handcrafted files ----------------------------------------------------- */

/* Each case changes one thing in an otherwise valid small file. The first
 * few are valid variants; the rest must fail with the given substring. */
enum mcase {
    C_VALID,
    C_VALID_V2,
    C_VALID_ALIGN_64,
    C_VALID_NO_TENSORS,
    C_BAD_MAGIC,
    C_VERSION_1,
    C_VERSION_4,
    C_N_KV_HUGE,
    C_N_TENSORS_HUGE,
    C_KEY_PAST_EOF,
    C_STR_PAST_EOF,
    C_EMPTY_KEY,
    C_UNKNOWN_KV_TYPE,
    C_UNKNOWN_ARR_TYPE,
    C_NESTED_ARRAY,
    C_ARR_COUNT_HUGE,
    C_STRARR_COUNT_HUGE,
    C_EMPTY_TENSOR_NAME,
    C_NDIMS_0,
    C_NDIMS_5,
    C_DIM_0,
    C_DIM_OVERFLOW,
    C_UNKNOWN_GGML_TYPE,
    C_ROW_NOT_MULTIPLE,
    C_OFFSET_UNALIGNED,
    C_TENSOR_PAST_EOF,
    C_DUP_KEY,
    C_DUP_TENSOR,
    C_ALIGN_NOT_POW2,
    C_ALIGN_ZERO,
    C_ALIGN_WRONG_TYPE,
    C_DATA_BEYOND_FILE,
    C_COUNT,
};

static const struct {
    const char *name;
    const char *expect; /* NULL: must parse */
} mcases[C_COUNT] = {
    [C_VALID] = {"valid", NULL},
    [C_VALID_V2] = {"valid version 2", NULL},
    [C_VALID_ALIGN_64] = {"valid alignment 64", NULL},
    [C_VALID_NO_TENSORS] = {"valid without tensors or data", NULL},
    [C_BAD_MAGIC] = {"bad magic", "bad magic"},
    [C_VERSION_1] = {"version 1", "unsupported version 1"},
    [C_VERSION_4] = {"version 4", "unsupported version 4"},
    [C_N_KV_HUGE] = {"n_kv huge", "n_kv 1099511627776 is larger"},
    [C_N_TENSORS_HUGE] = {"n_tensors huge", "n_tensors 9223372036854775807 is larger"},
    [C_KEY_PAST_EOF] = {"key length past EOF", "key length 1099511627776"},
    [C_STR_PAST_EOF] = {"string value past EOF", "string value length 4294967296"},
    [C_EMPTY_KEY] = {"empty key", "has an empty key"},
    [C_UNKNOWN_KV_TYPE] = {"unknown KV type", "'test.u32': invalid value type 13"},
    [C_UNKNOWN_ARR_TYPE] = {"unknown array element type", "invalid array element type 99"},
    [C_NESTED_ARRAY] = {"array of arrays", "invalid array element type 9"},
    [C_ARR_COUNT_HUGE] = {"array count huge", "array of 2305843009213693952 f32 runs past the end"},
    [C_STRARR_COUNT_HUGE] = {"string array count huge", "string array count 1152921504606846976"},
    [C_EMPTY_TENSOR_NAME] = {"empty tensor name", "tensor name length 0"},
    [C_NDIMS_0] = {"n_dims 0", "'w': n_dims 0 is not in 1..4"},
    [C_NDIMS_5] = {"n_dims 5", "'w': n_dims 5 is not in 1..4"},
    [C_DIM_0] = {"dimension 0", "'w': dimension 1 = 0 is zero"},
    [C_DIM_OVERFLOW] = {"dimensions overflow", "'w': dimension 1 = 4294967296 is zero or overflows"},
    [C_UNKNOWN_GGML_TYPE] = {"unknown ggml type", "'w': unknown ggml type 4"},
    [C_ROW_NOT_MULTIPLE] = {"row not a multiple of the block", "'q': row length 48 is not a multiple of the q8_0 block (32)"},
    [C_OFFSET_UNALIGNED] = {"offset unaligned", "'q': offset 260 is not a multiple of the alignment 32"},
    [C_TENSOR_PAST_EOF] = {"tensor past EOF", "'q': bytes [1048576, +68) lie beyond the data section"},
    [C_DUP_KEY] = {"duplicate key", "duplicate key 'general.name'"},
    [C_DUP_TENSOR] = {"duplicate tensor", "duplicate tensor 'w'"},
    [C_ALIGN_NOT_POW2] = {"alignment not a power of two", "general.alignment 24 is not a power of two"},
    [C_ALIGN_ZERO] = {"alignment zero", "general.alignment 0 is not a power of two"},
    [C_ALIGN_WRONG_TYPE] = {"alignment of the wrong type", "general.alignment has type u64, expected u32"},
    [C_DATA_BEYOND_FILE] = {"data section beyond the file", "data section offset"},
};

/* The base file: a KV of every scalar type, strings, a string array and an
 * f32 array; tensors w (f32 [32,2]) and q (q8_0 [64,1]). The file ends at the
 * last tensor byte, so every shorter prefix is invalid. */
static void build_case(enum mcase c, struct bb *b, uint64_t *align)
{
    static const char *const scalar_keys[] = {"test.u8", "test.i8", "test.u16", "test.i16", "test.i32",
                                              "test.f32", "test.bool", "test.u64", "test.i64", "test.f64"};
    static const uint32_t scalar_types[] = {GGUF_TYPE_UINT8, GGUF_TYPE_INT8, GGUF_TYPE_UINT16,
                                            GGUF_TYPE_INT16, GGUF_TYPE_INT32, GGUF_TYPE_FLOAT32,
                                            GGUF_TYPE_BOOL, GGUF_TYPE_UINT64, GGUF_TYPE_INT64,
                                            GGUF_TYPE_FLOAT64};
    static const int scalar_bytes[] = {1, 1, 2, 2, 4, 4, 1, 8, 8, 8};
    const int n_scalar = (int)(sizeof scalar_keys / sizeof scalar_keys[0]);

    int extra_kv = (c == C_DUP_KEY) + (c == C_VALID_ALIGN_64 || c == C_ALIGN_NOT_POW2 || c == C_ALIGN_ZERO ||
                                       c == C_ALIGN_WRONG_TYPE);
    uint64_t n_kv = 6 + (uint64_t)n_scalar + (uint64_t)extra_kv;
    uint64_t n_tensors = c == C_VALID_NO_TENSORS ? 0 : 2 + (c == C_DUP_TENSOR);
    *align = c == C_VALID_ALIGN_64 ? 64 : 32;

    memset(b, 0, sizeof *b);
    bb_u32(b, c == C_BAD_MAGIC ? 0x46554746u : GGUF_MAGIC);
    bb_u32(b, c == C_VERSION_1 ? 1 : c == C_VERSION_4 ? 4 : c == C_VALID_V2 ? 2 : 3);
    bb_u64(b, c == C_N_TENSORS_HUGE ? (uint64_t)INT64_MAX : n_tensors);
    bb_u64(b, c == C_N_KV_HUGE ? (uint64_t)1 << 40 : n_kv);

    /* KVs */
    if (c == C_KEY_PAST_EOF) {
        bb_u64(b, (uint64_t)1 << 40);
        bb_bytes(b, "general.architecture", 20);
    } else {
        bb_str(b, "general.architecture");
    }
    bb_u32(b, GGUF_TYPE_STRING);
    if (c == C_STR_PAST_EOF) {
        bb_u64(b, (uint64_t)1 << 32);
        bb_bytes(b, "llama", 5);
    } else {
        bb_str(b, "llama");
    }

    bb_str(b, c == C_EMPTY_KEY ? "" : "general.name");
    bb_u32(b, GGUF_TYPE_STRING);
    bb_str(b, "tiny test");

    bb_str(b, "test.u32");
    bb_u32(b, c == C_UNKNOWN_KV_TYPE ? GGUF_TYPE_COUNT : GGUF_TYPE_UINT32);
    bb_u32(b, 7);

    bb_str(b, "tokenizer.ggml.tokens");
    bb_u32(b, GGUF_TYPE_ARRAY);
    bb_u32(b, GGUF_TYPE_STRING);
    bb_u64(b, c == C_STRARR_COUNT_HUGE ? (uint64_t)1 << 60 : 3);
    bb_str(b, "a");
    bb_str(b, "");
    bb_str(b, "<0x0A>");

    bb_str(b, "tokenizer.ggml.scores");
    bb_u32(b, GGUF_TYPE_ARRAY);
    bb_u32(b, c == C_UNKNOWN_ARR_TYPE ? 99 : c == C_NESTED_ARRAY ? GGUF_TYPE_ARRAY : GGUF_TYPE_FLOAT32);
    bb_u64(b, c == C_ARR_COUNT_HUGE ? (uint64_t)1 << 61 : 3);
    bb_f32(b, 0.0f);
    bb_f32(b, -1.5f);
    bb_f32(b, -2.5f);

    bb_str(b, "test.empty_arr");
    bb_u32(b, GGUF_TYPE_ARRAY);
    bb_u32(b, GGUF_TYPE_INT32);
    bb_u64(b, 0);

    for (int i = 0; i < n_scalar; i++) {
        bb_str(b, scalar_keys[i]);
        bb_u32(b, scalar_types[i]);
        bb_le(b, (uint64_t)(i + 1), scalar_bytes[i]);
    }
    if (c == C_DUP_KEY) {
        bb_str(b, "general.name");
        bb_u32(b, GGUF_TYPE_STRING);
        bb_str(b, "again");
    }
    if (c == C_VALID_ALIGN_64 || c == C_ALIGN_NOT_POW2 || c == C_ALIGN_ZERO) {
        bb_str(b, "general.alignment");
        bb_u32(b, GGUF_TYPE_UINT32);
        bb_u32(b, c == C_VALID_ALIGN_64 ? 64 : c == C_ALIGN_ZERO ? 0 : 24);
    }
    if (c == C_ALIGN_WRONG_TYPE) {
        bb_str(b, "general.alignment");
        bb_u32(b, GGUF_TYPE_UINT64);
        bb_u64(b, 32);
    }
    if (n_tensors == 0)
        return; /* a vocab-only style file: ends right after the KVs */

    /* tensor w: f32 [32,2], 256 bytes at 0 */
    bb_str(b, c == C_EMPTY_TENSOR_NAME ? "" : "w");
    if (c == C_NDIMS_0) {
        bb_u32(b, 0);
    } else if (c == C_NDIMS_5) {
        bb_u32(b, 5);
        for (int d = 0; d < 5; d++)
            bb_u64(b, 1);
    } else if (c == C_DIM_OVERFLOW) {
        bb_u32(b, 2);
        bb_u64(b, (uint64_t)1 << 32);
        bb_u64(b, (uint64_t)1 << 32);
    } else {
        bb_u32(b, 2);
        bb_u64(b, 32);
        bb_u64(b, c == C_DIM_0 ? 0 : 2);
    }
    bb_u32(b, c == C_UNKNOWN_GGML_TYPE ? 4 : GGML_TYPE_F32);
    bb_u64(b, 0);

    /* tensor q: q8_0 [64,1], 68 bytes after w */
    uint64_t q_off = 256;
    if (c == C_OFFSET_UNALIGNED)
        q_off = 260;
    if (c == C_TENSOR_PAST_EOF)
        q_off = (uint64_t)1 << 20;
    bb_str(b, "q");
    bb_u32(b, 2);
    bb_u64(b, c == C_ROW_NOT_MULTIPLE ? 48 : 64);
    bb_u64(b, 1);
    bb_u32(b, GGML_TYPE_Q8_0);
    bb_u64(b, q_off);

    if (c == C_DUP_TENSOR) {
        bb_str(b, "w");
        bb_u32(b, 1);
        bb_u64(b, 32);
        bb_u32(b, GGML_TYPE_F32);
        bb_u64(b, 352);
    }
    if (c == C_DATA_BEYOND_FILE) {
        assert_true(b->n % *align != 0); /* else the data section would start at the end */
        return;
    }
    bb_zeros(b, (size_t)((*align - b->n % *align) % *align));
    for (int i = 0; i < 64; i++)
        bb_f32(b, (float)i * 0.25f);
    for (int blk = 0; blk < 2; blk++) {
        bb_le(b, 0x3c00, 2); /* fp16 1.0 */
        for (int j = 0; j < 32; j++)
            bb_le(b, (uint64_t)(j - 16) & 0xff, 1);
    }
}

static void test_handcrafted_cases(void **state)
{
    (void)state;
    for (int c = 0; c < C_COUNT; c++) {
        struct bb b;
        uint64_t align;
        struct gguf_file f;
        struct err e;
        build_case((enum mcase)c, &b, &align);
        uint8_t *copy = malloc(b.n);
        assert_non_null(copy);
        memcpy(copy, b.p, b.n);
        e.msg[0] = '\0';
        enum status st = gguf_parse(&f, copy, b.n, &e);
        if (!mcases[c].expect) {
            if (st != STATUS_OK)
                fail_msg("case '%s' should parse, got: %s", mcases[c].name, e.msg);
            assert_int_equal(f.alignment, align);
            assert_int_equal(f.n_kv, c == C_VALID_ALIGN_64 ? 17 : 16);
            assert_int_equal(f.version, c == C_VALID_V2 ? 2 : 3);
            const struct gguf_kv *toks;
            assert_int_equal(gguf_get_arr(&f, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &toks, &e), STATUS_OK);
            assert_int_equal(toks->n, 3);
            assert_true(gguf_str_eq(toks->strs[2], "<0x0A>"));
            assert_int_equal(toks->strs[1].len, 0);
            uint64_t u64 = 0;
            assert_int_equal(gguf_get_u64(&f, "test.u64", &u64, &e), STATUS_OK);
            assert_int_equal(u64, 8);
            int bv = 0;
            assert_int_equal(gguf_get_bool(&f, "test.bool", &bv, &e), STATUS_OK);
            assert_int_equal(bv, 1);
            if (c == C_VALID_NO_TENSORS) {
                assert_int_equal(f.n_tensors, 0);
                assert_int_equal(f.header_bytes, b.n);
            } else {
                assert_int_equal(f.n_tensors, 2);
                assert_int_equal(f.data_offset % align, 0);
                assert_int_equal(f.data_offset + 256 + 68, b.n);
                const struct gguf_tensor *q = &f.tensors[gguf_find_tensor(&f, "q")];
                assert_int_equal(q->n_bytes, 68);
                assert_int_equal(gguf_tensor_data(&f, q)[0], 0x00);
                assert_int_equal(gguf_tensor_data(&f, q)[1], 0x3c);
            }
            gguf_free(&f);
        } else {
            if (st != STATUS_ERR)
                fail_msg("case '%s' parsed but should fail with '%s'", mcases[c].name, mcases[c].expect);
            if (!strstr(e.msg, mcases[c].expect))
                fail_msg("case '%s': message '%s' lacks '%s'", mcases[c].name, e.msg, mcases[c].expect);
            assert_null(f.kv);
            assert_null(f.tensors);
        }
        free(copy);
        free(b.p);
    }
}

/* ---- truncation ------------------------------------------------------------ */

/* Every prefix shorter than `min_len` must fail with a message; the prefixes
 * from min_len up to the full size must parse. `stride` > 1 samples the short
 * prefixes (for large headers), always including the last 256 before upto. */
static void check_truncations(const uint8_t *buf, size_t size, size_t min_len, size_t upto, size_t stride)
{
    struct gguf_file f;
    struct err e;
    if (upto > min_len)
        upto = min_len;
    for (size_t n = 0; n < upto; n += (n + 256 >= upto ? 1 : stride)) {
        if (parse_exact(&f, buf, n, &e) != STATUS_ERR)
            fail_msg("prefix of %zu bytes (of %zu) parsed", n, size);
        if (e.msg[0] == '\0')
            fail_msg("prefix of %zu bytes failed without a message", n);
    }
    for (size_t n = min_len; n <= size; n++)
        if (parse_exact(&f, buf, n, &e) != STATUS_OK)
            fail_msg("prefix of %zu bytes (of %zu) should parse: %s", n, size, e.msg);
}

static void test_truncate_handcrafted(void **state)
{
    (void)state;
    struct bb b;
    uint64_t align;
    build_case(C_VALID, &b, &align);
    check_truncations(b.p, b.n, b.n, b.n, 1);
    free(b.p);
    build_case(C_VALID_NO_TENSORS, &b, &align);
    check_truncations(b.p, b.n, b.n, b.n, 1);
    free(b.p);
}

/* stories260K: every prefix through the header and into the data fails. */
static void test_truncate_stories(void **state)
{
    (void)state;
    size_t size;
    uint8_t *buf = load_data("stories260K.gguf", &size);
    check_truncations(buf, size, size, 14176 + 4096, 1);
    /* a header read from a prefix succeeds exactly from the header's end */
    struct gguf_file f;
    struct err e;
    for (size_t n = 0; n <= 14176; n++) {
        uint8_t *copy = malloc(n ? n : 1);
        assert_non_null(copy);
        memcpy(copy, buf, n);
        enum status st = gguf_parse_header(&f, copy, n, size, &e);
        if (n < 14152)
            assert_int_equal(st, STATUS_ERR);
        else if (st != STATUS_OK)
            fail_msg("header prefix %zu: %s", n, e.msg);
        else
            gguf_free(&f);
        free(copy);
    }
    free(buf);
}

/* The large-vocab files: sampled prefixes (a parse reads 32000 strings). */
static void test_truncate_vocab_files(void **state)
{
    (void)state;
    size_t size;
    uint8_t *buf = load_data("ggml-vocab-llama-spm.gguf", &size);
    check_truncations(buf, size, size, size, 7919);
    free(buf);
    buf = load_data("llama-2-tiny-random.gguf", &size);
    check_truncations(buf, size, size, 724416 + 1024, 7919);
    free(buf);
}

/* ---- real files ------------------------------------------------------------ */

static const struct gguf_tensor *tensor(const struct gguf_file *f, const char *name)
{
    int64_t i = gguf_find_tensor(f, name);
    if (i < 0)
        fail_msg("tensor '%s' not found", name);
    return &f->tensors[i];
}

/* Every tensor lies inside the file, aligned, without overlapping the next. */
static void check_layout(const struct gguf_file *f)
{
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const struct gguf_tensor *t = &f->tensors[i];
        assert_int_equal(t->offset % f->alignment, 0);
        assert_true(f->data_offset + t->offset + t->n_bytes <= f->size);
        for (uint64_t j = 0; j < i; j++) {
            const struct gguf_tensor *u = &f->tensors[j];
            assert_true(u->offset >= t->offset + t->n_bytes || t->offset >= u->offset + u->n_bytes);
        }
    }
}

static void test_stories260k(void **state)
{
    (void)state;
    size_t size;
    uint8_t *buf = load_data("stories260K.gguf", &size);
    struct gguf_file f;
    struct err e;
    if (gguf_parse(&f, buf, size, &e))
        fail_msg("%s", e.msg);
    assert_int_equal(size, 1185376);
    assert_int_equal(f.version, 3);
    assert_int_equal(f.n_kv, 19);
    assert_int_equal(f.n_tensors, 48);
    assert_int_equal(f.alignment, 32);
    assert_int_equal(f.header_bytes, 14152);
    assert_int_equal(f.data_offset, 14176);
    for (uint64_t i = 0; i < f.n_tensors; i++)
        assert_int_equal(f.tensors[i].type, GGML_TYPE_F32);
    check_layout(&f);

    const struct gguf_tensor *t = tensor(&f, "token_embd.weight");
    assert_int_equal(t->n_dims, 2);
    assert_int_equal(t->ne[0], 64);
    assert_int_equal(t->ne[1], 512);
    assert_int_equal(t->offset, 0);
    assert_int_equal(t->n_bytes, 64 * 512 * 4);
    t = tensor(&f, "output_norm.weight");
    assert_int_equal(t->n_dims, 1);
    assert_int_equal(t->offset, 131072);
    t = tensor(&f, "blk.4.ffn_down.weight");
    assert_int_equal(t->ne[0], 172);
    assert_int_equal(t->ne[1], 64);
    t = tensor(&f, "blk.4.ffn_norm.weight");
    assert_int_equal(t->offset, 1170944);
    assert_int_equal(f.data_offset + t->offset + t->n_bytes, size); /* last tensor ends the file */

    struct gguf_str s;
    assert_int_equal(gguf_get_str(&f, "general.architecture", &s, &e), STATUS_OK);
    assert_true(gguf_str_eq(s, "llama"));
    uint32_t u = 0;
    assert_int_equal(gguf_get_u32(&f, "llama.feed_forward_length", &u, &e), STATUS_OK);
    assert_int_equal(u, 172);
    assert_int_equal(gguf_get_u32(&f, "tokenizer.ggml.padding_token_id", &u, &e), STATUS_OK);
    assert_int_equal(u, 4294967295u);
    float eps = 0;
    assert_int_equal(gguf_get_f32(&f, "llama.attention.layer_norm_rms_epsilon", &eps, &e), STATUS_OK);
    assert_true(eps == 1e-5f);
    const struct gguf_kv *kv;
    assert_int_equal(gguf_get_arr(&f, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &kv, &e), STATUS_OK);
    assert_int_equal(kv->n, 512);
    assert_true(gguf_str_eq(kv->strs[0], "<unk>"));
    assert_true(gguf_str_eq(kv->strs[3], "<0x00>"));
    assert_int_equal(gguf_get_arr(&f, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, &kv, &e), STATUS_OK);
    assert_int_equal(kv->n, 512);
    /* wrong-type and missing lookups fail with a message */
    assert_int_equal(gguf_get_arr(&f, "tokenizer.ggml.scores", GGUF_TYPE_INT32, &kv, &e), STATUS_ERR);
    assert_non_null(strstr(e.msg, "expected an array of i32"));
    assert_int_equal(gguf_get_u32(&f, "llama.rope.freq_base", &u, &e), STATUS_ERR);
    assert_string_equal(e.msg, "key 'llama.rope.freq_base' not found");
    assert_int_equal(gguf_get_str(&f, "llama.block_count", &s, &e), STATUS_ERR);
    assert_false(gguf_has(&f, "general.file_type"));
    gguf_free(&f);
    gguf_free(&f); /* twice is fine */
    gguf_free(NULL);
    free(buf);
}

static void test_llama2_tiny_f16(void **state)
{
    (void)state;
    size_t size;
    uint8_t *buf = load_data("llama-2-tiny-random.gguf", &size);
    struct gguf_file f;
    struct err e;
    if (gguf_parse(&f, buf, size, &e))
        fail_msg("%s", e.msg);
    assert_int_equal(f.n_kv, 18);
    assert_int_equal(f.n_tensors, 12);
    assert_int_equal(f.data_offset, 724416);
    int n_f16 = 0, n_f32 = 0;
    for (uint64_t i = 0; i < f.n_tensors; i++) {
        n_f16 += f.tensors[i].type == GGML_TYPE_F16;
        n_f32 += f.tensors[i].type == GGML_TYPE_F32;
    }
    assert_int_equal(n_f16, 9);
    assert_int_equal(n_f32, 3);
    check_layout(&f);
    const struct gguf_tensor *t = tensor(&f, "token_embd.weight");
    assert_int_equal(t->type, GGML_TYPE_F16);
    assert_int_equal(t->ne[0], 8);
    assert_int_equal(t->ne[1], 32000);
    assert_int_equal(t->n_bytes, 8 * 32000 * 2);
    assert_int_equal(tensor(&f, "output_norm.weight")->type, GGML_TYPE_F32);
    uint32_t ft = 0;
    assert_int_equal(gguf_get_u32(&f, "general.file_type", &ft, &e), STATUS_OK);
    assert_int_equal(ft, 1);
    gguf_free(&f);
    free(buf);
}

static void test_vocab_only(void **state)
{
    (void)state;
    size_t size;
    uint8_t *buf = load_data("ggml-vocab-llama-spm.gguf", &size);
    struct gguf_file f;
    struct err e;
    if (gguf_parse(&f, buf, size, &e))
        fail_msg("%s", e.msg);
    assert_int_equal(f.n_kv, 22);
    assert_int_equal(f.n_tensors, 0);
    assert_int_equal(f.header_bytes, size); /* no padding, no data section */
    assert_int_equal(size, 723869);
    int add_bos = 0;
    assert_int_equal(gguf_get_bool(&f, "tokenizer.ggml.add_bos_token", &add_bos, &e), STATUS_OK);
    assert_int_equal(add_bos, 1);
    const struct gguf_kv *kv;
    assert_int_equal(gguf_get_arr(&f, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &kv, &e), STATUS_OK);
    assert_int_equal(kv->n, 32000);
    gguf_free(&f);
    free(buf);
}

static void test_q4_k_m(void **state)
{
    (void)state;
    size_t size;
    uint8_t *buf = load_data("tiny-random-Q4_K_M.gguf", &size);
    struct gguf_file f;
    struct err e;
    if (gguf_parse(&f, buf, size, &e))
        fail_msg("%s", e.msg);
    assert_int_equal(size, 18573888);
    assert_int_equal(f.n_kv, 22);
    assert_int_equal(f.n_tensors, 75);
    assert_int_equal(f.data_offset, 13376);
    int n[GGML_TYPE_COUNT] = {0};
    for (uint64_t i = 0; i < f.n_tensors; i++)
        n[f.tensors[i].type]++;
    assert_int_equal(n[GGML_TYPE_F32], 17);
    assert_int_equal(n[GGML_TYPE_Q4_K], 49);
    assert_int_equal(n[GGML_TYPE_Q6_K], 9);
    check_layout(&f);
    const struct gguf_tensor *t = tensor(&f, "output.weight");
    assert_int_equal(t->type, GGML_TYPE_Q6_K);
    assert_int_equal(t->ne[0], 512);
    assert_int_equal(t->ne[1], 384);
    assert_int_equal(t->n_bytes, 512 / 256 * 210 * 384);
    uint32_t ft = 0;
    assert_int_equal(gguf_get_u32(&f, "general.file_type", &ft, &e), STATUS_OK);
    assert_int_equal(ft, 15);
    gguf_free(&f);
    free(buf);
}

/* ---- writer ---------------------------------------------------------------- */

struct tmpdir {
    char dir[512];
};

static void tmpdir_make(struct tmpdir *t)
{
    const char *base = getenv("TMPDIR");
    snprintf(t->dir, sizeof t->dir, "%s/test_gguf.XXXXXX", base && *base ? base : "/tmp");
    assert_non_null(mkdtemp(t->dir));
}

static void tmpdir_path(const struct tmpdir *t, const char *name, char *out, size_t n)
{
    snprintf(out, n, "%s/%s", t->dir, name);
}

static int file_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

/* How many files are named PATH + suffix + anything. */
static int count_prefixed(const char *path, const char *suffix)
{
    char pat[800];
    snprintf(pat, sizeof pat, "%s%s*", path, suffix);
    glob_t g;
    int n = glob(pat, 0, NULL, &g) == 0 ? (int)g.gl_pathc : 0;
    if (n)
        globfree(&g);
    return n;
}

static uint8_t *read_path(const char *path, size_t *size)
{
    FILE *fp = fopen(path, "rb");
    if (!fp)
        fail_msg("cannot open %s", path);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long n = ftell(fp);
    assert_true(n >= 0);
    assert_int_equal(fseek(fp, 0, SEEK_SET), 0);
    uint8_t *buf = malloc(n ? (size_t)n : 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, fp), (size_t)n);
    fclose(fp);
    *size = (size_t)n;
    return buf;
}

/* Fails with the call and its message; the call writes into `e` in scope. */
#define OK(call)                                                                                                   \
    do {                                                                                                           \
        if ((call) != STATUS_OK)                                                                                   \
            fail_msg("%s: %s", #call, e.msg);                                                                     \
    } while (0)

/* The round-trip tensors: mixed types, sizes that need padding, 1 to 4 dims. */
static const struct {
    const char *name;
    uint32_t n_dims;
    uint64_t ne[4];
    uint32_t type;
    uint64_t n_bytes;
} rt_tensors[] = {
    {"a", 1, {5, 1, 1, 1}, GGML_TYPE_F32, 20},
    {"blk.0.b", 2, {3, 2, 1, 1}, GGML_TYPE_F16, 12},
    {"c", 2, {64, 3, 1, 1}, GGML_TYPE_Q8_0, 6 * 34},
    {"d", 4, {32, 1, 1, 2}, GGML_TYPE_Q4_0, 2 * 18},
};
#define N_RT (sizeof rt_tensors / sizeof rt_tensors[0])

static uint8_t rt_byte(size_t tensor, uint64_t i)
{
    return (uint8_t)(tensor * 31 + i * 7 + 1);
}

/* Writes the round-trip file; alignment 0 leaves general.alignment out. */
static void write_rt_file(const char *path, uint32_t alignment)
{
    struct gguf_writer w;
    struct err e;
    OK(gguf_writer_open(&w, path, &e));
    OK(gguf_writer_add_str(&w, "general.architecture", "llama", &e));
    if (alignment)
        OK(gguf_writer_add_u32(&w, "general.alignment", alignment, &e));
    uint8_t u8 = 200;
    int8_t i8 = -5;
    uint16_t u16 = 60000;
    int16_t i16 = -300;
    double f64 = 0.1;
    int64_t i64 = -((int64_t)1 << 40);
    OK(gguf_writer_add_scalar(&w, "t.u8", GGUF_TYPE_UINT8, &u8, &e));
    OK(gguf_writer_add_scalar(&w, "t.i8", GGUF_TYPE_INT8, &i8, &e));
    OK(gguf_writer_add_scalar(&w, "t.u16", GGUF_TYPE_UINT16, &u16, &e));
    OK(gguf_writer_add_scalar(&w, "t.i16", GGUF_TYPE_INT16, &i16, &e));
    OK(gguf_writer_add_u32(&w, "t.u32", 4000000000u, &e));
    OK(gguf_writer_add_i32(&w, "t.i32", -7, &e));
    OK(gguf_writer_add_f32(&w, "t.f32", 1.5f, &e));
    OK(gguf_writer_add_bool(&w, "t.bool", 5, &e));
    OK(gguf_writer_add_u64(&w, "t.u64", (uint64_t)1 << 40, &e));
    OK(gguf_writer_add_scalar(&w, "t.i64", GGUF_TYPE_INT64, &i64, &e));
    OK(gguf_writer_add_scalar(&w, "t.f64", GGUF_TYPE_FLOAT64, &f64, &e));
    struct gguf_str toks[4] = {{5, "<unk>"}, {0, ""}, {3, "a\0b"}, {4, "\xe2\x96\x81x"}};
    OK(gguf_writer_add_str_arr(&w, "tokenizer.ggml.tokens", toks, 4, &e));
    float scores[4] = {0.0f, -1.0f, -2.5f, 3e38f};
    OK(gguf_writer_add_arr(&w, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores, 4, &e));
    int32_t types[4] = {2, 1, 6, -1};
    OK(gguf_writer_add_arr(&w, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, 4, &e));
    OK(gguf_writer_add_arr(&w, "t.empty", GGUF_TYPE_UINT8, NULL, 0, &e));
    for (size_t i = 0; i < N_RT; i++)
        OK(gguf_writer_add_tensor(&w, rt_tensors[i].name, rt_tensors[i].n_dims, rt_tensors[i].ne,
                                  rt_tensors[i].type, &e));
    OK(gguf_writer_write_header(&w, &e));
    /* stream the data in 7-byte chunks, crossing tensor boundaries */
    size_t total = 0;
    for (size_t i = 0; i < N_RT; i++)
        total += rt_tensors[i].n_bytes;
    uint8_t *data = malloc(total);
    assert_non_null(data);
    size_t k = 0;
    for (size_t i = 0; i < N_RT; i++)
        for (uint64_t j = 0; j < rt_tensors[i].n_bytes; j++)
            data[k++] = rt_byte(i, j);
    for (size_t off = 0; off < total; off += 7)
        OK(gguf_writer_write(&w, data + off, total - off < 7 ? total - off : 7, &e));
    free(data);
    OK(gguf_writer_finish(&w, &e));
    gguf_writer_free(&w);
}

static void check_rt_file(const uint8_t *buf, size_t size, uint32_t alignment)
{
    struct gguf_file f;
    struct err e;
    if (gguf_parse(&f, buf, size, &e))
        fail_msg("round trip file: %s", e.msg);
    uint64_t align = alignment ? alignment : 32;
    assert_int_equal(f.version, 3);
    assert_int_equal(f.alignment, align);
    assert_int_equal(f.n_kv, alignment ? 17 : 16);
    assert_int_equal(f.n_tensors, N_RT);
    struct gguf_str s;
    OK(gguf_get_str(&f, "general.architecture", &s, &e));
    assert_true(gguf_str_eq(s, "llama"));
    uint64_t u = 0;
    uint32_t u32 = 0;
    OK(gguf_get_u64(&f, "t.u8", &u, &e));
    assert_int_equal(u, 200);
    OK(gguf_get_u64(&f, "t.u16", &u, &e));
    assert_int_equal(u, 60000);
    OK(gguf_get_u32(&f, "t.u32", &u32, &e));
    assert_int_equal(u32, 4000000000u);
    OK(gguf_get_u64(&f, "t.u64", &u, &e));
    assert_int_equal(u, (uint64_t)1 << 40);
    assert_int_equal(gguf_get_u64(&f, "t.i8", &u, &e), STATUS_ERR); /* negative */
    const struct gguf_kv *kv = &f.kv[gguf_find_key(&f, "t.i8")];
    assert_int_equal(kv->type, GGUF_TYPE_INT8);
    assert_int_equal((int8_t)kv->data[0], -5);
    kv = &f.kv[gguf_find_key(&f, "t.i16")];
    assert_int_equal(kv->type, GGUF_TYPE_INT16);
    assert_int_equal((int16_t)(uint16_t)(kv->data[0] | kv->data[1] << 8), -300);
    kv = &f.kv[gguf_find_key(&f, "t.i32")];
    assert_int_equal(kv->type, GGUF_TYPE_INT32);
    kv = &f.kv[gguf_find_key(&f, "t.i64")];
    assert_int_equal(kv->type, GGUF_TYPE_INT64);
    int64_t i64;
    memcpy(&i64, kv->data, 8);
    assert_true(i64 == -((int64_t)1 << 40));
    float fv = 0;
    OK(gguf_get_f32(&f, "t.f32", &fv, &e));
    assert_true(fv == 1.5f);
    OK(gguf_get_f32(&f, "t.f64", &fv, &e));
    assert_true(fv == 0.1f);
    kv = &f.kv[gguf_find_key(&f, "t.f64")];
    double dv;
    memcpy(&dv, kv->data, 8);
    assert_true(dv == 0.1);
    int bv = 0;
    OK(gguf_get_bool(&f, "t.bool", &bv, &e));
    assert_int_equal(bv, 1);
    assert_int_equal(f.kv[gguf_find_key(&f, "t.bool")].data[0], 1);
    OK(gguf_get_arr(&f, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &kv, &e));
    assert_int_equal(kv->n, 4);
    assert_true(gguf_str_eq(kv->strs[0], "<unk>"));
    assert_int_equal(kv->strs[1].len, 0);
    assert_int_equal(kv->strs[2].len, 3);
    assert_memory_equal(kv->strs[2].ptr, "a\0b", 3);
    assert_true(gguf_str_eq(kv->strs[3], "\xe2\x96\x81x"));
    OK(gguf_get_arr(&f, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, &kv, &e));
    float sc[4];
    memcpy(sc, kv->data, sizeof sc);
    assert_true(sc[1] == -1.0f && sc[2] == -2.5f && sc[3] == 3e38f);
    OK(gguf_get_arr(&f, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, &kv, &e));
    int32_t ty[4];
    memcpy(ty, kv->data, sizeof ty);
    assert_int_equal(ty[2], 6);
    assert_int_equal(ty[3], -1);
    OK(gguf_get_arr(&f, "t.empty", GGUF_TYPE_UINT8, &kv, &e));
    assert_int_equal(kv->n, 0);

    assert_int_equal(f.data_offset % align, 0);
    uint64_t expect_off = 0, end = 0;
    for (size_t i = 0; i < N_RT; i++) {
        const struct gguf_tensor *t = &f.tensors[i];
        assert_true(gguf_str_eq(t->name, rt_tensors[i].name));
        assert_int_equal(t->n_dims, rt_tensors[i].n_dims);
        for (int d = 0; d < 4; d++)
            assert_int_equal(t->ne[d], rt_tensors[i].ne[d]);
        assert_int_equal(t->type, rt_tensors[i].type);
        assert_int_equal(t->n_bytes, rt_tensors[i].n_bytes);
        assert_int_equal(t->offset, expect_off);
        const uint8_t *p = gguf_tensor_data(&f, t);
        for (uint64_t j = 0; j < t->n_bytes; j++)
            if (p[j] != rt_byte(i, j))
                fail_msg("tensor %s byte %llu differs", rt_tensors[i].name, (unsigned long long)j);
        for (uint64_t j = t->n_bytes; j < (t->n_bytes + align - 1) / align * align; j++)
            assert_int_equal(p[j], 0); /* padding is zeros */
        end = t->offset + t->n_bytes;
        expect_off = (end + align - 1) / align * align;
    }
    /* every tensor, the last included, is padded to the alignment */
    assert_int_equal(size, f.data_offset + expect_off);
    gguf_free(&f);
    /* truncations: everything short of the last tensor's end fails */
    check_truncations(buf, size, (size_t)(f.data_offset + end), size, 1);
}

static void test_writer_round_trip(void **state)
{
    (void)state;
    struct tmpdir td;
    tmpdir_make(&td);
    char path[600], copy_path[600], tmp[700];
    tmpdir_path(&td, "rt.gguf", path, sizeof path);
    tmpdir_path(&td, "copy.gguf", copy_path, sizeof copy_path);
    static const uint32_t aligns[] = {0, 64, 4096};
    for (size_t a = 0; a < 3; a++) {
        write_rt_file(path, aligns[a]);
        snprintf(tmp, sizeof tmp, "%s.tmp", path); /* no temporary left: the old name nor a fresh one */
        assert_false(file_exists(tmp));
        assert_int_equal(count_prefixed(path, ".tmp"), 0);
        size_t size;
        uint8_t *buf = read_path(path, &size);
        check_rt_file(buf, size, aligns[a]);

        /* copying every KV and the data through a second writer reproduces the file */
        struct gguf_file f;
        struct gguf_writer w;
        struct err e;
        OK(gguf_parse(&f, buf, size, &e));
        OK(gguf_writer_open(&w, copy_path, &e));
        for (uint64_t i = 0; i < f.n_kv; i++)
            OK(gguf_writer_add_kv(&w, &f.kv[i], &e));
        for (uint64_t i = 0; i < f.n_tensors; i++) {
            const struct gguf_tensor *t = &f.tensors[i];
            char name[256];
            snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
            OK(gguf_writer_add_tensor(&w, name, t->n_dims, t->ne, t->type, &e));
        }
        OK(gguf_writer_write_header(&w, &e));
        for (uint64_t i = 0; i < f.n_tensors; i++)
            OK(gguf_writer_write(&w, gguf_tensor_data(&f, &f.tensors[i]), f.tensors[i].n_bytes, &e));
        OK(gguf_writer_finish(&w, &e));
        gguf_writer_free(&w);
        gguf_writer_free(&w); /* twice is fine */
        gguf_free(&f);
        size_t size2;
        uint8_t *buf2 = read_path(copy_path, &size2);
        assert_int_equal(size2, size);
        assert_memory_equal(buf, buf2, size);
        free(buf2);
        free(buf);
        unlink(copy_path);
        unlink(path);
    }
    rmdir(td.dir);
}

/* A vocab-only style file: no tensors, no header call, ends after the KVs. */
static void test_writer_no_tensors(void **state)
{
    (void)state;
    struct tmpdir td;
    tmpdir_make(&td);
    char path[600];
    tmpdir_path(&td, "vocab.gguf", path, sizeof path);
    struct gguf_writer w;
    struct err e;
    OK(gguf_writer_open(&w, path, &e));
    OK(gguf_writer_add_str(&w, "tokenizer.ggml.model", "llama", &e));
    OK(gguf_writer_finish(&w, &e));
    gguf_writer_free(&w);
    size_t size;
    uint8_t *buf = read_path(path, &size);
    assert_int_equal(size, 24 + 8 + 20 + 4 + 8 + 5);
    struct gguf_file f;
    OK(gguf_parse(&f, buf, size, &e));
    assert_int_equal(f.n_tensors, 0);
    assert_int_equal(f.header_bytes, size);
    gguf_free(&f);
    check_truncations(buf, size, size, size, 1);
    free(buf);
    unlink(path);
    rmdir(td.dir);
}

/* A misuse or a bad value fails with the message; the temp file is removed
 * and nothing appears at the path. */
enum wcase {
    W_DUP_KEY,
    W_DUP_TENSOR,
    W_ALIGN_NOT_POW2,
    W_ALIGN_TYPE,
    W_ROW_NOT_MULTIPLE,
    W_NDIMS_0,
    W_DIM_0,
    W_UNKNOWN_TYPE,
    W_EMPTY_KEY,
    W_KV_AFTER_HEADER,
    W_DATA_BEFORE_HEADER,
    W_TOO_MUCH_DATA,
    W_MISSING_DATA,
    W_NOT_SCALAR,
    W_COUNT,
};

static const char *const wcase_expect[W_COUNT] = {
    [W_DUP_KEY] = "duplicate key 'k'",
    [W_DUP_TENSOR] = "duplicate tensor 'x'",
    [W_ALIGN_NOT_POW2] = "general.alignment 48 is not a power of two",
    [W_ALIGN_TYPE] = "general.alignment must be u32, not u64",
    [W_ROW_NOT_MULTIPLE] = "tensor 'y': row length 40 is not a multiple of the q4_0 block (32)",
    [W_NDIMS_0] = "tensor 'y': n_dims 0 is not in 1..4",
    [W_DIM_0] = "tensor 'y': dimension 1 = 0 is zero",
    [W_UNKNOWN_TYPE] = "tensor 'y': unknown ggml type 5",
    [W_EMPTY_KEY] = "empty key",
    [W_KV_AFTER_HEADER] = "KV 'late' added after the header was written",
    [W_DATA_BEFORE_HEADER] = "tensor data written before the header",
    [W_TOO_MUCH_DATA] = "1 bytes of data beyond the last tensor",
    [W_MISSING_DATA] = "tensor 'x' has 16 of 128 bytes written",
    [W_NOT_SCALAR] = "string is not a scalar type",
};

static enum status run_wcase(enum wcase c, struct gguf_writer *w, struct err *e)
{
    static uint8_t zeros[256];
    uint64_t ne_x[1] = {32}, ne_y[2] = {c == W_ROW_NOT_MULTIPLE ? 40 : 32, c == W_DIM_0 ? 0 : 2};
    uint64_t big = 64;
    if (gguf_writer_add_u32(w, "k", 1, e))
        return STATUS_ERR;
    if (c == W_DUP_KEY && gguf_writer_add_str(w, "k", "again", e))
        return STATUS_ERR;
    if (c == W_EMPTY_KEY && gguf_writer_add_u32(w, "", 1, e))
        return STATUS_ERR;
    if (c == W_NOT_SCALAR && gguf_writer_add_scalar(w, "s", GGUF_TYPE_STRING, "x", e))
        return STATUS_ERR;
    if (c == W_ALIGN_NOT_POW2 && gguf_writer_add_u32(w, "general.alignment", 48, e))
        return STATUS_ERR;
    if (c == W_ALIGN_TYPE && gguf_writer_add_u64(w, "general.alignment", big, e))
        return STATUS_ERR;
    if (gguf_writer_add_tensor(w, "x", 1, ne_x, GGML_TYPE_F32, e))
        return STATUS_ERR;
    if (c == W_DUP_TENSOR && gguf_writer_add_tensor(w, "x", 1, ne_x, GGML_TYPE_F32, e))
        return STATUS_ERR;
    if ((c == W_ROW_NOT_MULTIPLE || c == W_DIM_0) && gguf_writer_add_tensor(w, "y", 2, ne_y, GGML_TYPE_Q4_0, e))
        return STATUS_ERR;
    if (c == W_NDIMS_0 && gguf_writer_add_tensor(w, "y", 0, ne_y, GGML_TYPE_F32, e))
        return STATUS_ERR;
    if (c == W_UNKNOWN_TYPE && gguf_writer_add_tensor(w, "y", 2, ne_y, 5, e))
        return STATUS_ERR;
    if (c == W_DATA_BEFORE_HEADER && gguf_writer_write(w, zeros, 4, e))
        return STATUS_ERR;
    if (gguf_writer_write_header(w, e))
        return STATUS_ERR;
    if (c == W_KV_AFTER_HEADER && gguf_writer_add_u32(w, "late", 1, e))
        return STATUS_ERR;
    if (gguf_writer_write(w, zeros, c == W_MISSING_DATA ? 16 : c == W_TOO_MUCH_DATA ? 129 : 128, e))
        return STATUS_ERR;
    return gguf_writer_finish(w, e);
}

static void test_writer_errors(void **state)
{
    (void)state;
    struct tmpdir td;
    tmpdir_make(&td);
    char path[600], tmp[700];
    tmpdir_path(&td, "bad.gguf", path, sizeof path);
    snprintf(tmp, sizeof tmp, "%s.tmp", path);
    for (int c = 0; c < W_COUNT; c++) {
        struct gguf_writer w;
        struct err e;
        OK(gguf_writer_open(&w, path, &e));
        e.msg[0] = '\0';
        if (run_wcase((enum wcase)c, &w, &e) != STATUS_ERR)
            fail_msg("writer case %d succeeded, expected '%s'", c, wcase_expect[c]);
        if (!strstr(e.msg, wcase_expect[c]))
            fail_msg("writer case %d: message '%s' lacks '%s'", c, e.msg, wcase_expect[c]);
        /* a failed writer refuses everything but free */
        assert_int_equal(gguf_writer_finish(&w, &e), STATUS_ERR);
        snprintf(tmp, sizeof tmp, "%s", w.tmp_path); /* PATH.tmpXXXXXX, a fresh name */
        assert_int_equal(strncmp(tmp, path, strlen(path)), 0);
        assert_true(file_exists(tmp));
        gguf_writer_free(&w);
        assert_false(file_exists(tmp));
        assert_false(file_exists(path));
    }

    /* a directory that does not exist: the message names the file and errno */
    char missing[700];
    snprintf(missing, sizeof missing, "%s/no/such/dir/m.gguf", td.dir);
    struct gguf_writer w;
    struct err e;
    assert_int_equal(gguf_writer_open(&w, missing, &e), STATUS_ERR);
    assert_non_null(strstr(e.msg, "/no/such/dir/m.gguf"));
    assert_non_null(strstr(e.msg, "No such file or directory"));
    gguf_writer_free(&w);

    /* a write error (file size limit): reported with the path, temp removed */
    struct rlimit old, lim;
    assert_int_equal(getrlimit(RLIMIT_FSIZE, &old), 0);
    lim = old;
    lim.rlim_cur = 65536;
    void (*old_handler)(int) = signal(SIGXFSZ, SIG_IGN);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &lim), 0);
    OK(gguf_writer_open(&w, path, &e));
    snprintf(tmp, sizeof tmp, "%s", w.tmp_path);
    uint64_t ne[2] = {1024, 256};
    OK(gguf_writer_add_tensor(&w, "big", 2, ne, GGML_TYPE_F32, &e));
    OK(gguf_writer_write_header(&w, &e));
    static uint8_t chunk[1 << 16];
    enum status st = STATUS_OK;
    for (int i = 0; i < 16 && st == STATUS_OK; i++)
        st = gguf_writer_write(&w, chunk, sizeof chunk, &e);
    assert_int_equal(setrlimit(RLIMIT_FSIZE, &old), 0);
    signal(SIGXFSZ, old_handler);
    assert_int_equal(st, STATUS_ERR);
    assert_non_null(strstr(e.msg, tmp));
    assert_non_null(strstr(e.msg, "File too large"));
    gguf_writer_free(&w);
    assert_false(file_exists(tmp));
    assert_false(file_exists(path));
    assert_int_equal(rmdir(td.dir), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_handcrafted_cases),
        cmocka_unit_test(test_truncate_handcrafted),
        cmocka_unit_test(test_stories260k),
        cmocka_unit_test(test_llama2_tiny_f16),
        cmocka_unit_test(test_vocab_only),
        cmocka_unit_test(test_q4_k_m),
        cmocka_unit_test(test_truncate_stories),
        cmocka_unit_test(test_truncate_vocab_files),
        cmocka_unit_test(test_writer_round_trip),
        cmocka_unit_test(test_writer_no_tensors),
        cmocka_unit_test(test_writer_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
