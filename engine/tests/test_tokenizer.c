/* test_tokenizer.c: the SPM tokenizer against llama.cpp's own test vectors
 * and hand-built vocabularies.
 *
 * Data files come from $RB_TEST_DATA (set by scripts/run-tests.sh), else
 * build/data (testdata.h); a missing file fails the test. Cases:
 *   - the 46 vectors of ggml-vocab-llama-spm.gguf.inp/.out (llama.cpp's
 *     test-tokenizer-0 encodes them without BOS), and with BOS;
 *   - decode(encode(x)) == " " + x for the same inputs and for random
 *     valid UTF-8 (fixed seed);
 *   - stories260K: "Once upon a time" worked out by hand, pieces, and the
 *     whole TinyStories sample (round trip, timed);
 *   - hand-built GGUFs: missing/bad keys with their expected messages,
 *     merge tie-breaking, user-defined tokens, a missing byte fallback. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "testdata.h"

#include "format/gguf.h"
#include "tokenizer/tokenizer.h"
#include "rng.h"

/* ---- data files ------------------------------------------------------- */

/* Loads the tokenizer of a GGUF data file, then drops the mapping, so every
 * test also checks that the tokenizer keeps no pointer into the file. */
static void load_tok(const char *name, struct tokenizer *tok)
{
    struct testdata_gguf m;
    struct err e = {{0}};
    testdata_map_gguf(name, &m);
    if (tokenizer_load(tok, &m.f, &e) != STATUS_OK)
        fail_msg("%s: %s", name, e.msg);
    testdata_unmap_gguf(&m);
}

/* ---- helpers ----------------------------------------------------------- */

static void encode_ok(const struct tokenizer *tok, const char *s, size_t n, int bos,
                      int32_t **ids, size_t *n_ids)
{
    struct err e = {{0}};
    if (tokenizer_encode(tok, s, n, bos, ids, n_ids, &e) != STATUS_OK)
        fail_msg("encode: %s", e.msg);
}

/* Concatenated pieces of ids; malloc'd, *n_out bytes. */
static char *decode_all(const struct tokenizer *tok, const int32_t *ids, size_t n, size_t *n_out)
{
    size_t cap = 64, len = 0;
    char *s = malloc(cap);
    assert_non_null(s);
    for (size_t i = 0; i < n; i++) {
        size_t k = tokenizer_piece(tok, ids[i], s + len, cap - len);
        if (k > cap - len) {
            while (k > cap - len)
                cap *= 2;
            s = realloc(s, cap);
            assert_non_null(s);
            assert_int_equal(tokenizer_piece(tok, ids[i], s + len, cap - len), k);
        }
        len += k;
    }
    *n_out = len;
    return s;
}

static void print_ids(const char *what, const int32_t *ids, size_t n)
{
    fprintf(stderr, "%s:", what);
    for (size_t i = 0; i < n; i++)
        fprintf(stderr, " %d", (int)ids[i]);
    fprintf(stderr, "\n");
}

/* ---- llama.cpp test vectors -------------------------------------------- */

#define N_VECTORS 46
#define SEP "\n__ggml_vocab_test__\n"

struct vectors {
    struct testdata_blob inp, out;
    const char *text[N_VECTORS];
    size_t len[N_VECTORS];
    int32_t *ids[N_VECTORS];
    size_t n_ids[N_VECTORS];
};

/* .inp: every case is followed by "\n" "__ggml_vocab_test__" "\n" (so the
 * newline before a separator line is not part of the text, and a case may
 * be empty or be only newlines). .out: one line of ids per case. */
static void read_vectors(struct vectors *v)
{
    v->inp = testdata_read("ggml-vocab-llama-spm.gguf.inp");
    v->out = testdata_read("ggml-vocab-llama-spm.gguf.out");

    const char *p = v->inp.p, *end = p + v->inp.n;
    size_t sep_len = strlen(SEP);
    int n = 0;
    while (p < end) {
        const char *q = p;
        while (q + sep_len <= end && memcmp(q, SEP, sep_len) != 0)
            q++;
        assert_true(q + sep_len <= end); /* the file ends with a separator */
        assert_true(n < N_VECTORS);
        v->text[n] = p;
        v->len[n] = (size_t)(q - p);
        n++;
        p = q + sep_len;
    }
    assert_int_equal(n, N_VECTORS);

    char *line = v->out.p;
    for (int i = 0; i < N_VECTORS; i++) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = 0;
        size_t cap = strlen(line) / 2 + 1;
        v->ids[i] = malloc(cap * sizeof *v->ids[i]);
        assert_non_null(v->ids[i]);
        v->n_ids[i] = 0;
        char *s = line, *next;
        for (;;) {
            long id = strtol(s, &next, 10);
            if (next == s)
                break;
            v->ids[i][v->n_ids[i]++] = (int32_t)id;
            s = next;
        }
        line = nl + 1;
    }
    assert_int_equal(*line, 0); /* exactly 46 lines */
}

static void free_vectors(struct vectors *v)
{
    for (int i = 0; i < N_VECTORS; i++)
        free(v->ids[i]);
    free(v->inp.p);
    free(v->out.p);
}

static void test_llama_spm_vectors(void **state)
{
    (void)state;
    struct vectors v;
    struct tokenizer tok;
    read_vectors(&v);
    load_tok("ggml-vocab-llama-spm.gguf", &tok);
    assert_int_equal(tok.n_vocab, 32000);
    assert_int_equal(tok.bos_id, 1);
    assert_int_equal(tok.eos_id, 2);
    assert_int_equal(tok.unk_id, 0);
    assert_true(tok.add_bos);

    int n_bad = 0;
    for (int i = 0; i < N_VECTORS; i++) {
        int32_t *ids;
        size_t n;
        encode_ok(&tok, v.text[i], v.len[i], 0, &ids, &n);
        if (n != v.n_ids[i] || (n && memcmp(ids, v.ids[i], n * sizeof *ids) != 0)) {
            fprintf(stderr, "case %d '%.*s'\n", i, (int)v.len[i], v.text[i]);
            print_ids("  expected", v.ids[i], v.n_ids[i]);
            print_ids("  got     ", ids, n);
            n_bad++;
        }
        free(ids);

        /* with BOS: the same ids behind a 1 */
        encode_ok(&tok, v.text[i], v.len[i], 1, &ids, &n);
        assert_int_equal(n, v.n_ids[i] + 1);
        assert_int_equal(ids[0], 1);
        if (v.n_ids[i])
            assert_memory_equal(ids + 1, v.ids[i], v.n_ids[i] * sizeof *ids);
        free(ids);
    }
    tokenizer_free(&tok);
    free_vectors(&v);
    assert_int_equal(n_bad, 0);
}

static void test_llama_spm_round_trip(void **state)
{
    (void)state;
    struct vectors v;
    struct tokenizer tok;
    read_vectors(&v);
    load_tok("ggml-vocab-llama-spm.gguf", &tok);
    for (int i = 0; i < N_VECTORS; i++) {
        int32_t *ids;
        size_t n, n_dec;
        encode_ok(&tok, v.text[i], v.len[i], 1, &ids, &n);
        char *dec = decode_all(&tok, ids, n, &n_dec);
        if (v.len[i] == 0) {
            assert_int_equal(n_dec, 0); /* no text, no space prefix */
        } else {
            /* the space prefix comes back as a leading space */
            assert_int_equal(n_dec, v.len[i] + 1);
            assert_int_equal(dec[0], ' ');
            assert_memory_equal(dec + 1, v.text[i], v.len[i]);
        }
        free(dec);
        free(ids);
    }
    tokenizer_free(&tok);
    free_vectors(&v);
}


/* Appends code point c as UTF-8; returns the bytes written. */
static size_t put_utf8(char *d, uint32_t c)
{
    if (c < 0x80) {
        d[0] = (char)c;
        return 1;
    }
    if (c < 0x800) {
        d[0] = (char)(0xC0 | (c >> 6));
        d[1] = (char)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        d[0] = (char)(0xE0 | (c >> 12));
        d[1] = (char)(0x80 | ((c >> 6) & 0x3F));
        d[2] = (char)(0x80 | (c & 0x3F));
        return 3;
    }
    d[0] = (char)(0xF0 | (c >> 18));
    d[1] = (char)(0x80 | ((c >> 12) & 0x3F));
    d[2] = (char)(0x80 | ((c >> 6) & 0x3F));
    d[3] = (char)(0x80 | (c & 0x3F));
    return 4;
}

/* Random valid UTF-8 (ASCII-heavy, with spaces, controls, Latin, CJK and
 * emoji; never U+2581, which decodes to a space) comes back byte for byte:
 * pieces of merged tokens and of byte fallbacks concatenate to the input. */
static void test_llama_spm_random_round_trip(void **state)
{
    (void)state;
    static const uint32_t lo[] = {0x20, 0x00, 0xA0, 0x400, 0x4E00, 0x1F300};
    static const uint32_t span[] = {0x5F, 0x20, 0x160, 0x100, 0x5000, 0x300};
    static const uint8_t pick[16] = {0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4, 5};
    struct tokenizer tok;
    char text[64 * 4];
    load_tok("ggml-vocab-llama-spm.gguf", &tok);
    rng_state = 0x9E3779B97F4A7C15ULL;
    for (int iter = 0; iter < 300; iter++) {
        size_t len = 0, n_cp = rng_next_u32() % 64;
        for (size_t k = 0; k < n_cp; k++) {
            uint32_t range = pick[rng_next_u32() % 16];
            uint32_t c = lo[range] + rng_next_u32() % span[range];
            if (c == 0x2581)
                c = ' ';
            len += put_utf8(text + len, c);
        }
        int32_t *ids;
        size_t n, n_dec;
        encode_ok(&tok, text, len, 0, &ids, &n);
        char *dec = decode_all(&tok, ids, n, &n_dec);
        if (len == 0) {
            assert_int_equal(n_dec, 0);
        } else {
            assert_int_equal(n_dec, len + 1);
            assert_memory_equal(dec + 1, text, len);
        }
        free(dec);
        free(ids);
    }
    tokenizer_free(&tok);
}

/* llama-2-tiny-random carries the same LLaMA-2 vocab without add_bos_token
 * (so the SPM default, true, applies). */
static void test_llama2_tiny_random(void **state)
{
    (void)state;
    struct tokenizer tok;
    int32_t *ids;
    size_t n;
    load_tok("llama-2-tiny-random.gguf", &tok);
    assert_int_equal(tok.n_vocab, 32000);
    assert_true(tok.add_bos);
    encode_ok(&tok, "Hello world", 11, 1, &ids, &n);
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 1);
    assert_int_equal(ids[1], 15043);
    assert_int_equal(ids[2], 3186);
    free(ids);
    tokenizer_free(&tok);
}

/* ---- stories260K -------------------------------------------------------- */

/* Worked by hand from the 512-token vocab (ids: score):
 *   text "▁Once▁upon▁a▁time" (space prefix, spaces escaped), split into
 *   characters. Pairs present at the start: ▁t 259 (-0), ▁a 261 (-2),
 *   im 288 (-29), on 289 (-30), ▁u 318 (-59), ▁O 319 (-60), ce 331 (-72).
 *   Merging best first: ▁t, ▁a, im (queues ime 369: -110), on, ▁u (queues
 *   ▁up 350: -91), ▁O (queues ▁On 321: -62), ▁On, ce (queues ▁Once 403:
 *   -144), ▁up (queues ▁upon 407: -148), ime (queues ▁time 378: -119),
 *   ▁time, ▁Once, ▁upon; no pair of the rest (▁Once▁upon, ▁upon▁a, ▁a▁time)
 *   is in the vocab. So: BOS 1, ▁Once 403, ▁upon 407, ▁a 261, ▁time 378. */
static void test_stories_once_upon(void **state)
{
    (void)state;
    static const int32_t want[] = {1, 403, 407, 261, 378};
    struct tokenizer tok;
    int32_t *ids;
    size_t n;
    char buf[16];

    load_tok("stories260K.gguf", &tok);
    assert_int_equal(tok.n_vocab, 512);
    assert_int_equal(tok.bos_id, 1);
    assert_int_equal(tok.eos_id, 2);
    assert_int_equal(tok.unk_id, 0);
    assert_true(tok.add_bos); /* no key: the SPM default */

    encode_ok(&tok, "Once upon a time", 16, 1, &ids, &n);
    assert_int_equal(n, 5);
    assert_memory_equal(ids, want, sizeof want);
    free(ids);
    encode_ok(&tok, "Once upon a time", 16, 0, &ids, &n);
    assert_int_equal(n, 4);
    assert_memory_equal(ids, want + 1, sizeof want - sizeof want[0]);
    free(ids);
    encode_ok(&tok, "", 0, 1, &ids, &n);
    assert_int_equal(n, 1);
    assert_int_equal(ids[0], 1);
    free(ids);
    encode_ok(&tok, "", 0, 0, &ids, &n);
    assert_int_equal(n, 0);
    free(ids);

    /* pieces: ▁ -> space, bytes, control tokens only when asked */
    assert_int_equal(tokenizer_piece(&tok, 403, buf, sizeof buf), 5);
    assert_memory_equal(buf, " Once", 5);
    assert_int_equal(tokenizer_piece(&tok, 3 + '\n', buf, sizeof buf), 1); /* <0x0A> */
    assert_int_equal(buf[0], '\n');
    assert_int_equal(tokenizer_piece(&tok, 3 + 0xE2, buf, sizeof buf), 1);
    assert_int_equal((uint8_t)buf[0], 0xE2);
    assert_int_equal(tokenizer_piece(&tok, 1, buf, sizeof buf), 0);
    assert_int_equal(tokenizer_piece(&tok, 0, buf, sizeof buf), 0);
    assert_int_equal(tokenizer_piece_special(&tok, 1, buf, sizeof buf), 3);
    assert_memory_equal(buf, "<s>", 3);
    assert_int_equal(tokenizer_piece_special(&tok, 0, buf, sizeof buf), 5);
    assert_memory_equal(buf, "<unk>", 5);
    assert_int_equal(tokenizer_piece(&tok, -1, buf, sizeof buf), 0);
    assert_int_equal(tokenizer_piece(&tok, 512, buf, sizeof buf), 0);
    /* too small a buffer: the length is still returned */
    assert_int_equal(tokenizer_piece(&tok, 403, buf, 2), 5);

    /* characters outside the vocab fall back to their UTF-8 bytes */
    encode_ok(&tok, "\xC3\xBC", 2, 0, &ids, &n); /* ü: not in the vocab */
    assert_int_equal(n, 3);
    assert_int_equal(ids[0], 410); /* ▁ */
    assert_int_equal(ids[1], 3 + 0xC3);
    assert_int_equal(ids[2], 3 + 0xBC);
    free(ids);
    encode_ok(&tok, "\xC3\xA9", 2, 0, &ids, &n); /* é: token 485 */
    assert_int_equal(n, 2);
    assert_int_equal(ids[0], 410);
    assert_int_equal(ids[1], 485);
    free(ids);

    tokenizer_free(&tok);
    tokenizer_free(&tok); /* idempotent */
    tokenizer_free(NULL);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* The perplexity text: one encode of the whole file, as llama-perplexity
 * does, decoded back byte for byte. The time is printed, not asserted
 * (sanitizer builds are several times slower). */
static void test_stories_tinystories_file(void **state)
{
    (void)state;
    struct tokenizer tok;
    struct testdata_blob text = testdata_read("tinystories_val_sample.txt");
    int32_t *ids;
    size_t n, n_dec;

    load_tok("stories260K.gguf", &tok);
    double t0 = now_s();
    encode_ok(&tok, text.p, text.n, 1, &ids, &n);
    double t1 = now_s();
    fprintf(stderr, "tinystories_val_sample.txt: %zu bytes -> %zu tokens in %.3f s\n", text.n, n,
            t1 - t0);
    assert_true(n > 1 && ids[0] == 1);
    char *dec = decode_all(&tok, ids, n, &n_dec);
    assert_int_equal(n_dec, text.n + 1);
    assert_int_equal(dec[0], ' ');
    assert_memory_equal(dec + 1, text.p, text.n);
    free(dec);
    free(ids);
    free(text.p);
    tokenizer_free(&tok);
}

/* ---- hand-built GGUFs --------------------------------------------------- */

struct gb {
    uint8_t *p;
    size_t n, cap;
    uint64_t n_kv;
};

static void gb_put(struct gb *b, const void *src, size_t n)
{
    if (b->n + n > b->cap) {
        b->cap = (b->n + n) * 2 + 64;
        b->p = realloc(b->p, b->cap);
        assert_non_null(b->p);
    }
    memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void gb_u32(struct gb *b, uint32_t v) { gb_put(b, &v, 4); }
static void gb_u64(struct gb *b, uint64_t v) { gb_put(b, &v, 8); }

static void gb_str(struct gb *b, const char *s)
{
    gb_u64(b, strlen(s));
    gb_put(b, s, strlen(s));
}

static void gb_begin(struct gb *b)
{
    memset(b, 0, sizeof *b);
    gb_u32(b, GGUF_MAGIC);
    gb_u32(b, 3);
    gb_u64(b, 0); /* n_tensors */
    gb_u64(b, 0); /* n_kv, patched by gb_parse */
}

static void gb_kv_str(struct gb *b, const char *key, const char *val)
{
    gb_str(b, key);
    gb_u32(b, GGUF_TYPE_STRING);
    gb_str(b, val);
    b->n_kv++;
}

static void gb_kv_u32(struct gb *b, const char *key, uint32_t v)
{
    gb_str(b, key);
    gb_u32(b, GGUF_TYPE_UINT32);
    gb_u32(b, v);
    b->n_kv++;
}

static void gb_kv_bool(struct gb *b, const char *key, int v)
{
    uint8_t u = (uint8_t)(v != 0);
    gb_str(b, key);
    gb_u32(b, GGUF_TYPE_BOOL);
    gb_put(b, &u, 1);
    b->n_kv++;
}

static void gb_kv_strs(struct gb *b, const char *key, const char *const *v, size_t n)
{
    gb_str(b, key);
    gb_u32(b, GGUF_TYPE_ARRAY);
    gb_u32(b, GGUF_TYPE_STRING);
    gb_u64(b, n);
    for (size_t i = 0; i < n; i++)
        gb_str(b, v[i]);
    b->n_kv++;
}

/* An array of 4-byte elements (FLOAT32 or INT32). */
static void gb_kv_arr4(struct gb *b, const char *key, uint32_t type, const void *v, size_t n)
{
    gb_str(b, key);
    gb_u32(b, GGUF_TYPE_ARRAY);
    gb_u32(b, type);
    gb_u64(b, n);
    gb_put(b, v, 4 * n);
    b->n_kv++;
}

static void gb_parse(struct gb *b, struct gguf_file *f)
{
    struct err e = {{0}};
    memcpy(b->p + 16, &b->n_kv, 8);
    if (gguf_parse(f, b->p, b->n, &e) != STATUS_OK)
        fail_msg("hand-built gguf: %s", e.msg);
}

/* Loading must fail with a message containing `want`, leaving tok empty. */
static void expect_load_error(struct gb *b, const char *want)
{
    struct gguf_file f;
    struct tokenizer tok;
    struct err e = {{0}};
    gb_parse(b, &f);
    assert_int_equal(tokenizer_load(&tok, &f, &e), STATUS_ERR);
    if (!strstr(e.msg, want))
        fail_msg("error '%s' does not mention '%s'", e.msg, want);
    assert_null(tok.text);
    assert_null(tok.hash_ids);
    tokenizer_free(&tok);
    gguf_free(&f);
    free(b->p);
}

static const char *const three[] = {"<unk>", "<s>", "</s>"};

static void test_load_errors(void **state)
{
    (void)state;
    struct gb b;
    static const float two_scores[] = {0.0f, 0.0f};
    static const int32_t bad_type[] = {2, 3, 9};
    static const int32_t byte_type[] = {2, 3, 6};
    static const char *const bad_byte[] = {"<unk>", "<s>", "<0xZZ>"};
    static const int32_t int_tokens[] = {1, 2, 3};

    /* a model GGUF without any tokenizer keys */
    gb_begin(&b);
    gb_kv_str(&b, "general.architecture", "llama");
    gb_kv_u32(&b, "llama.block_count", 1);
    expect_load_error(&b, "tokenizer.ggml.model missing");

    gb_begin(&b);
    gb_kv_str(&b, "tokenizer.ggml.model", "bert");
    gb_kv_strs(&b, "tokenizer.ggml.tokens", three, 3);
    expect_load_error(&b, "unsupported tokenizer.ggml.model 'bert'");

    /* "gpt2" is byte-level BPE (test_tokenizer_bpe.c): it needs merges */
    gb_begin(&b);
    gb_kv_str(&b, "tokenizer.ggml.model", "gpt2");
    gb_kv_strs(&b, "tokenizer.ggml.tokens", three, 3);
    expect_load_error(&b, "tokenizer.ggml.merges missing");

    gb_begin(&b);
    gb_kv_str(&b, "tokenizer.ggml.model", "llama");
    expect_load_error(&b, "tokenizer.ggml.tokens missing");

    gb_begin(&b);
    gb_kv_str(&b, "tokenizer.ggml.model", "llama");
    gb_kv_arr4(&b, "tokenizer.ggml.tokens", GGUF_TYPE_INT32, int_tokens, 3);
    expect_load_error(&b, "tokenizer.ggml.tokens");

    gb_begin(&b);
    gb_kv_str(&b, "tokenizer.ggml.model", "llama");
    gb_kv_strs(&b, "tokenizer.ggml.tokens", three, 0);
    expect_load_error(&b, "tokenizer.ggml.tokens has 0 entries");

    gb_begin(&b);
    gb_kv_str(&b, "tokenizer.ggml.model", "llama");
    gb_kv_strs(&b, "tokenizer.ggml.tokens", three, 3);
    gb_kv_arr4(&b, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, two_scores, 2);
    expect_load_error(&b, "tokenizer.ggml.scores has 2 entries, tokenizer.ggml.tokens has 3");

    gb_begin(&b);
    gb_kv_str(&b, "tokenizer.ggml.model", "llama");
    gb_kv_strs(&b, "tokenizer.ggml.tokens", three, 3);
    gb_kv_arr4(&b, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, bad_type, 3);
    expect_load_error(&b, "token_type[2] = 9");

    gb_begin(&b);
    gb_kv_str(&b, "tokenizer.ggml.model", "llama");
    gb_kv_strs(&b, "tokenizer.ggml.tokens", bad_byte, 3);
    gb_kv_arr4(&b, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, byte_type, 3);
    expect_load_error(&b, "byte token 2 is '<0xZZ>'");

    gb_begin(&b);
    gb_kv_str(&b, "tokenizer.ggml.model", "llama");
    gb_kv_strs(&b, "tokenizer.ggml.tokens", three, 3);
    gb_kv_u32(&b, "tokenizer.ggml.bos_token_id", 7);
    expect_load_error(&b, "tokenizer.ggml.bos_token_id = 7 is out of range (n_vocab 3)");

    gb_begin(&b);
    gb_kv_str(&b, "tokenizer.ggml.model", "llama");
    gb_kv_strs(&b, "tokenizer.ggml.tokens", three, 3);
    gb_kv_u32(&b, "tokenizer.ggml.add_bos_token", 1); /* not a bool */
    expect_load_error(&b, "tokenizer.ggml.add_bos_token");
}

/* The real GPT-2 vocab now loads as BPE, with BPE's defaults (its own
 * tests are in test_tokenizer_bpe.c). */
static void test_load_gpt2_dispatch(void **state)
{
    (void)state;
    struct testdata_gguf m;
    struct tokenizer tok;
    struct err e = {{0}};
    testdata_map_gguf("ggml-vocab-gpt-2.gguf", &m);
    if (tokenizer_load(&tok, &m.f, &e) != STATUS_OK)
        fail_msg("gpt-2 vocab: %s", e.msg);
    testdata_unmap_gguf(&m);
    assert_int_equal(tok.kind, TOKENIZER_KIND_BPE);
    assert_false(tok.add_bos);
    assert_int_equal(tok.unk_id, -1);
    tokenizer_free(&tok);
}

/* A small vocab with its own flags, loaded from a hand-built GGUF. */
static void load_small(struct tokenizer *tok, const char *const *toks, const float *scores,
                       const int32_t *types, size_t n, int add_space_prefix)
{
    struct gb b;
    struct gguf_file f;
    struct err e = {{0}};
    gb_begin(&b);
    gb_kv_str(&b, "tokenizer.ggml.model", "llama");
    gb_kv_strs(&b, "tokenizer.ggml.tokens", toks, n);
    gb_kv_arr4(&b, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, scores, n);
    gb_kv_arr4(&b, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, types, n);
    gb_kv_bool(&b, "tokenizer.ggml.add_space_prefix", add_space_prefix);
    gb_kv_bool(&b, "tokenizer.ggml.add_bos_token", 0);
    gb_parse(&b, &f);
    if (tokenizer_load(tok, &f, &e) != STATUS_OK)
        fail_msg("small vocab: %s", e.msg);
    gguf_free(&f);
    free(b.p);
}

static void expect_ids(const struct tokenizer *tok, const char *s, const int32_t *want, size_t n_want)
{
    int32_t *ids;
    size_t n;
    encode_ok(tok, s, strlen(s), 1, &ids, &n);
    if (n != n_want || memcmp(ids, want, n * sizeof *ids) != 0) {
        print_ids("expected", want, n_want);
        print_ids("got     ", ids, n);
        fail_msg("encoding '%s'", s);
    }
    free(ids);
}

/* Equal scores merge the leftmost pair first: "aaa" -> aa a, not a aa. */
static void test_merge_ties(void **state)
{
    (void)state;
    static const char *const toks[] = {"<unk>", "<s>", "</s>", "a", "aa", "b", "ab", "bb", "abb"};
    static const float scores[] = {0, 0, 0, -1, -2, -1, -3, -2, -4};
    static const int32_t types[] = {2, 3, 3, 1, 1, 1, 1, 1, 1};
    struct tokenizer tok;
    load_small(&tok, toks, scores, types, 9, 0);
    assert_false(tok.add_bos);
    expect_ids(&tok, "aaa", (const int32_t[]){4, 3}, 2);
    expect_ids(&tok, "aaaa", (const int32_t[]){4, 4}, 2);
    /* "abb": bb (-2) beats ab (-3); then a+bb = abb (-4) */
    expect_ids(&tok, "abb", (const int32_t[]){8}, 1);
    /* "aab": aa (-2) beats ab (-3) whatever the position */
    expect_ids(&tok, "aab", (const int32_t[]){4, 5}, 2);
    tokenizer_free(&tok);
}

/* User-defined tokens are cut out of the text; the raw text after one gets
 * the space prefix again (llama.cpp's is_prev_special). A byte with neither
 * a vocab entry nor a <0xXX> token is an error. */
static void test_user_defined_and_missing_byte(void **state)
{
    (void)state;
    static const char *const toks[] = {"<unk>", "<s>", "</s>", "\xE2\x96\x81", "a", "b",
                                       "\xE2\x96\x81" "a", "<ud>", "<u"};
    static const float scores[] = {0, 0, 0, -1, -2, -3, -0.5f, 0, 0};
    static const int32_t types[] = {2, 3, 3, 1, 1, 1, 1, 4, 4};
    struct tokenizer tok;
    int32_t *ids;
    size_t n;
    struct err e = {{0}};
    char buf[8];

    load_small(&tok, toks, scores, types, 9, 1);
    expect_ids(&tok, "a<ud>b", (const int32_t[]){6, 7, 3, 5}, 4);
    expect_ids(&tok, "<ud><ud>", (const int32_t[]){7, 7}, 2);
    expect_ids(&tok, "<u<ud>", (const int32_t[]){8, 7}, 2);
    expect_ids(&tok, "a a", (const int32_t[]){6, 6}, 2);
    assert_int_equal(tokenizer_piece(&tok, 7, buf, sizeof buf), 4); /* user-defined: as is */
    assert_memory_equal(buf, "<ud>", 4);

    assert_int_equal(tokenizer_encode(&tok, "ac", 2, 0, &ids, &n, &e), STATUS_ERR);
    assert_non_null(strstr(e.msg, "byte 0x63"));
    assert_null(ids);
    assert_int_equal(n, 0);
    tokenizer_free(&tok);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_llama_spm_vectors),
        cmocka_unit_test(test_llama_spm_round_trip),
        cmocka_unit_test(test_llama_spm_random_round_trip),
        cmocka_unit_test(test_llama2_tiny_random),
        cmocka_unit_test(test_stories_once_upon),
        cmocka_unit_test(test_stories_tinystories_file),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_load_gpt2_dispatch),
        cmocka_unit_test(test_merge_ties),
        cmocka_unit_test(test_user_defined_and_missing_byte),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
