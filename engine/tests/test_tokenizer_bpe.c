/* test_tokenizer_bpe.c: the byte-level BPE ("gpt2") tokenizer against
 * llama.cpp's own test vectors and hand-built vocabularies.
 *
 * Data files come from $RB_TEST_DATA (set by scripts/run-tests.sh), else
 * build/data (testdata.h); a missing file fails the test. Cases:
 *   - every vector of ggml-vocab-gpt-2.gguf.inp/.out, exactly (no BOS: the
 *     vocab has no add_bos_token, and BPE's default is false);
 *   - decode(encode(x)) == x for the same inputs, random valid UTF-8 (fixed
 *     seed) and two whole text files (timed); invalid UTF-8 comes back with
 *     U+FFFD, as in llama.cpp;
 *   - the pre-tokenizer split, "gpt-2" and "default": encoding a text must
 *     equal encoding its expected words one by one;
 *   - hand-built GGUFs: merge ranks and ties, merges through strings that
 *     are not tokens, a missing byte, and load errors (missing or malformed
 *     merges, unknown pre) with their expected messages. */
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

#define GPT2_VOCAB "ggml-vocab-gpt-2.gguf"
#define GPT2_N_VOCAB 50257
#define GPT2_EOT 50256 /* <|endoftext|>, bos and eos */

/* ---- data files ------------------------------------------------------- */

/* Loads the GPT-2 vocab and unmaps the file, so every use also checks that
 * the tokenizer keeps no pointer into it. */
static void load_gpt2(struct tokenizer *tok)
{
    struct testdata_gguf m;
    struct err e = {{0}};
    testdata_map_gguf(GPT2_VOCAB, &m);
    if (tokenizer_load(tok, &m.f, &e) != STATUS_OK)
        fail_msg("%s: %s", GPT2_VOCAB, e.msg);
    testdata_unmap_gguf(&m);
}

/* ---- helpers ------------------------------------------------------------ */

struct ids {
    int32_t *p;
    size_t n;
};

static struct ids encode(const struct tokenizer *tok, const char *s, size_t n, int bos)
{
    struct ids r;
    struct err e = {{0}};
    if (tokenizer_encode(tok, s, n, bos, &r.p, &r.n, &e) != STATUS_OK)
        fail_msg("encode: %s", e.msg);
    return r;
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

static int ids_equal(struct ids a, const int32_t *want, size_t n_want)
{
    return a.n == n_want && (n_want == 0 || memcmp(a.p, want, n_want * sizeof *want) == 0);
}

static void expect_round_trip(const struct tokenizer *tok, const char *s, size_t n)
{
    size_t n_dec;
    struct ids ids = encode(tok, s, n, 1);
    char *dec = decode_all(tok, ids.p, ids.n, &n_dec);
    if (n_dec != n || memcmp(dec, s, n) != 0)
        fail_msg("round trip of '%.*s' gave '%.*s'", (int)n, s, (int)n_dec, dec);
    free(dec);
    free(ids.p);
}

/* ---- llama.cpp test vectors -------------------------------------------- */

#define MAX_VECTORS 64
#define SEP "\n__ggml_vocab_test__\n"

struct vectors {
    struct testdata_blob inp, out;
    int n;
    const char *text[MAX_VECTORS];
    size_t len[MAX_VECTORS];
    int32_t *ids[MAX_VECTORS];
    size_t n_ids[MAX_VECTORS];
};

/* .inp: every case is followed by "\n" "__ggml_vocab_test__" "\n"; .out:
 * one line of space-separated ids per case. */
static void read_vectors(struct vectors *v, const char *inp, const char *out)
{
    v->inp = testdata_read(inp);
    v->out = testdata_read(out);
    const char *p = v->inp.p, *end = p + v->inp.n;
    size_t sep_len = strlen(SEP);
    v->n = 0;
    while (p < end) {
        const char *q = p;
        while (q + sep_len <= end && memcmp(q, SEP, sep_len) != 0)
            q++;
        assert_true(q + sep_len <= end); /* the file ends with a separator */
        assert_true(v->n < MAX_VECTORS);
        v->text[v->n] = p;
        v->len[v->n] = (size_t)(q - p);
        v->n++;
        p = q + sep_len;
    }
    char *line = v->out.p;
    for (int i = 0; i < v->n; i++) {
        char *nl = strchr(line, '\n');
        assert_non_null(nl);
        *nl = 0;
        v->ids[i] = malloc((strlen(line) / 2 + 1) * sizeof *v->ids[i]);
        assert_non_null(v->ids[i]);
        v->n_ids[i] = 0;
        for (char *s = line, *next;; s = next) {
            long id = strtol(s, &next, 10);
            if (next == s)
                break;
            v->ids[i][v->n_ids[i]++] = (int32_t)id;
        }
        line = nl + 1;
    }
    assert_int_equal(*line, 0); /* one line per case, no more */
}

static void free_vectors(struct vectors *v)
{
    for (int i = 0; i < v->n; i++)
        free(v->ids[i]);
    free(v->inp.p);
    free(v->out.p);
}

static void test_gpt2_vectors(void **state)
{
    (void)state;
    struct vectors v;
    struct tokenizer tok;
    read_vectors(&v, GPT2_VOCAB ".inp", GPT2_VOCAB ".out");
    assert_int_equal(v.n, 46);
    load_gpt2(&tok);
    assert_int_equal(tok.n_vocab, GPT2_N_VOCAB);
    assert_int_equal(tok.bos_id, GPT2_EOT);
    assert_int_equal(tok.eos_id, GPT2_EOT);
    assert_int_equal(tok.unk_id, -1);
    assert_false(tok.add_bos);

    int n_bad = 0;
    for (int i = 0; i < v.n; i++) {
        for (int bos = 0; bos <= 1; bos++) { /* add_bos is false: BOS never comes */
            struct ids ids = encode(&tok, v.text[i], v.len[i], bos);
            if (!ids_equal(ids, v.ids[i], v.n_ids[i])) {
                fprintf(stderr, "case %d '%.*s' (bos %d)\n", i, (int)v.len[i], v.text[i], bos);
                print_ids("  expected", v.ids[i], v.n_ids[i]);
                print_ids("  got     ", ids.p, ids.n);
                n_bad++;
            }
            free(ids.p);
        }
        expect_round_trip(&tok, v.text[i], v.len[i]);
    }
    tokenizer_free(&tok);
    free_vectors(&v);
    assert_int_equal(n_bad, 0);
}

/* ---- round trips -------------------------------------------------------- */


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

/* Random valid UTF-8: ASCII-heavy, with runs of mixed white space,
 * apostrophes, digits, controls, Latin-1, combining marks, Cyrillic, CJK,
 * emoji and supplementary letters; surrogates are never drawn. */
static void test_gpt2_random_round_trip(void **state)
{
    (void)state;
    static const uint32_t lo[] = {0x20, 0x00, 0x80, 0x300, 0x400, 0x4E00, 0x1F300, 0x2000,
                                  0x20000, '\''};
    static const uint32_t span[] = {0x5F, 0x20, 0x180, 0x70, 0x100, 0x5000, 0x300, 0x70,
                                    0x100, 1};
    static const uint8_t pick[16] = {0, 0, 0, 0, 0, 0, 0, 1, 1, 2, 3, 4, 5, 6, 7, 9};
    static const char ws[] = " \t\n\r\v\f";
    struct tokenizer tok;
    char text[96 * 4];
    load_gpt2(&tok);
    rng_state = 0x9E3779B97F4A7C15ULL;
    for (int iter = 0; iter < 2000; iter++) {
        size_t len = 0, n_cp = rng_next_u32() % 96;
        for (size_t k = 0; k < n_cp; k++) {
            uint32_t r = rng_next_u32() % 20;
            if (r < 3) {
                text[len++] = ws[rng_next_u32() % 6];
                continue;
            }
            uint32_t range = r == 3 ? 8 : pick[rng_next_u32() % 16];
            len += put_utf8(text + len, lo[range] + rng_next_u32() % span[range]);
        }
        expect_round_trip(&tok, text, len);
    }
    tokenizer_free(&tok);
}

/* Invalid UTF-8 is decoded as llama.cpp does: each byte that starts no
 * valid sequence becomes U+FFFD, so the text does not come back. */
static void test_gpt2_invalid_utf8(void **state)
{
    (void)state;
    static const struct {
        const char *in, *back;
    } cases[] = {
        {"\xFF", "\xEF\xBF\xBD"},
        {"a\x80z", "a\xEF\xBF\xBDz"},
        {"\xE2\x82", "\xEF\xBF\xBD\xEF\xBF\xBD"},     /* truncated: one U+FFFD per byte */
        {"\xC3(", "\xEF\xBF\xBD("},                   /* bad continuation */
        {"\xF8\x88\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"},
        {"\xF4\x90\x80\x80", "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD"}, /* > U+10FFFF */
        {"\xC1\xA1", "a"},                            /* overlong: decoded, not refused */
    };
    struct tokenizer tok;
    load_gpt2(&tok);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t n_dec;
        struct ids ids = encode(&tok, cases[i].in, strlen(cases[i].in), 0);
        char *dec = decode_all(&tok, ids.p, ids.n, &n_dec);
        if (n_dec != strlen(cases[i].back) || memcmp(dec, cases[i].back, n_dec) != 0)
            fail_msg("case %zu decoded to '%.*s'", i, (int)n_dec, dec);
        free(dec);
        free(ids.p);
    }
    tokenizer_free(&tok);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One encode of a whole file, timed, then decoded back byte for byte. The
 * time is printed, not asserted (sanitizer builds are much slower). */
static void encode_file(const struct tokenizer *tok, const char *name)
{
    struct testdata_blob text = testdata_read(name);
    size_t n_dec;
    double t0 = now_s();
    struct ids ids = encode(tok, text.p, text.n, 0);
    double t1 = now_s();
    fprintf(stderr, "%s: %zu bytes -> %zu tokens in %.3f s (%.1f MB/s)\n", name, text.n, ids.n,
            t1 - t0, (double)text.n / 1e6 / (t1 - t0));
    assert_true(ids.n > text.n / 8);
    char *dec = decode_all(tok, ids.p, ids.n, &n_dec);
    assert_int_equal(n_dec, text.n);
    for (size_t i = 0; i < n_dec; i++)
        if (dec[i] != text.p[i])
            fail_msg("%s: decoded text differs first at byte %zu", name, i);
    free(dec);
    free(ids.p);
    free(text.p);
}

static void test_gpt2_files(void **state)
{
    (void)state;
    struct tokenizer tok;
    load_gpt2(&tok);
    encode_file(&tok, "tinystories_val_sample.txt");
    encode_file(&tok, "wiki.test.raw");
    tokenizer_free(&tok);
}

/* ---- pieces -------------------------------------------------------------- */

/* Ids 0..255 are GPT-2's 256 alphabet characters, each one byte; the text
 * "<|endoftext|>" is not parsed as the control token; control tokens have
 * a piece only when asked. */
static void test_gpt2_pieces(void **state)
{
    (void)state;
    struct tokenizer tok;
    char buf[32];
    int seen[256] = {0};
    load_gpt2(&tok);
    for (int32_t id = 0; id < 256; id++) {
        assert_int_equal(tokenizer_piece(&tok, id, buf, sizeof buf), 1);
        seen[(uint8_t)buf[0]]++;
    }
    for (int b = 0; b < 256; b++)
        assert_int_equal(seen[b], 1);

    struct ids ids = encode(&tok, " the", 4, 0); /* one token: "Ġthe" */
    assert_int_equal(ids.n, 1);
    assert_int_equal(tokenizer_piece(&tok, ids.p[0], buf, sizeof buf), 4);
    assert_memory_equal(buf, " the", 4);
    assert_int_equal(tokenizer_piece(&tok, ids.p[0], buf, 2), 4); /* too small: length only */
    free(ids.p);

    assert_int_equal(tokenizer_piece(&tok, GPT2_EOT, buf, sizeof buf), 0);
    assert_int_equal(tokenizer_piece_special(&tok, GPT2_EOT, buf, sizeof buf), 13);
    assert_memory_equal(buf, "<|endoftext|>", 13);
    assert_int_equal(tokenizer_piece(&tok, -1, buf, sizeof buf), 0);
    assert_int_equal(tokenizer_piece(&tok, GPT2_N_VOCAB, buf, sizeof buf), 0);

    ids = encode(&tok, "<|endoftext|>", 13, 1);
    assert_true(ids.n > 1);
    for (size_t i = 0; i < ids.n; i++)
        assert_int_not_equal(ids.p[i], GPT2_EOT);
    free(ids.p);
    expect_round_trip(&tok, "<|endoftext|>", 13);

    ids = encode(&tok, "", 0, 1);
    assert_int_equal(ids.n, 0);
    free(ids.p);
    tokenizer_free(&tok);
}

/* ---- hand-built GGUFs ---------------------------------------------------- */

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
    if (n)
        memcpy(b->p + b->n, src, n);
    b->n += n;
}

static void gb_u32(struct gb *b, uint32_t v) { gb_put(b, &v, 4); }
static void gb_u64(struct gb *b, uint64_t v) { gb_put(b, &v, 8); }

static void gb_strn(struct gb *b, const char *s, size_t n)
{
    gb_u64(b, n);
    gb_put(b, s, n);
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
    gb_strn(b, key, strlen(key));
    gb_u32(b, GGUF_TYPE_STRING);
    gb_strn(b, val, strlen(val));
    b->n_kv++;
}

static void gb_kv_u32(struct gb *b, const char *key, uint32_t v)
{
    gb_strn(b, key, strlen(key));
    gb_u32(b, GGUF_TYPE_UINT32);
    gb_u32(b, v);
    b->n_kv++;
}

static void gb_kv_bool(struct gb *b, const char *key, int v)
{
    uint8_t u = (uint8_t)(v != 0);
    gb_strn(b, key, strlen(key));
    gb_u32(b, GGUF_TYPE_BOOL);
    gb_put(b, &u, 1);
    b->n_kv++;
}

static void gb_kv_strs(struct gb *b, const char *key, const char *const *v, size_t n)
{
    gb_strn(b, key, strlen(key));
    gb_u32(b, GGUF_TYPE_ARRAY);
    gb_u32(b, GGUF_TYPE_STRING);
    gb_u64(b, n);
    for (size_t i = 0; i < n; i++)
        gb_strn(b, v[i], strlen(v[i]));
    b->n_kv++;
}

/* A string array copied from a parsed GGUF's kv. */
static void gb_kv_copy(struct gb *b, const struct gguf_kv *kv)
{
    gb_strn(b, kv->key.ptr, (size_t)kv->key.len);
    gb_u32(b, GGUF_TYPE_ARRAY);
    gb_u32(b, GGUF_TYPE_STRING);
    gb_u64(b, kv->n);
    for (uint64_t i = 0; i < kv->n; i++)
        gb_strn(b, kv->strs[i].ptr, (size_t)kv->strs[i].len);
    b->n_kv++;
}

static void gb_kv_i32s(struct gb *b, const char *key, const int32_t *v, size_t n)
{
    gb_strn(b, key, strlen(key));
    gb_u32(b, GGUF_TYPE_ARRAY);
    gb_u32(b, GGUF_TYPE_INT32);
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

/* GPT-2's alphabet character for byte b, written here from the rule (not
 * from the tokenizer): printable Latin-1 is itself, the other bytes in
 * order are U+0100 onwards. */
static size_t alphabet(uint8_t b, char *out)
{
    uint32_t n = 0;
    int printable = (b >= 0x21 && b <= 0x7E) || (b >= 0xA1 && b != 0xAD);
    if (!printable)
        for (int c = 0; c < b; c++)
            n += !((c >= 0x21 && c <= 0x7E) || (c >= 0xA1 && c != 0xAD));
    return put_utf8(out, printable ? b : 0x100 + n);
}

/* A vocab of the 256 alphabet characters (id = byte) plus extra tokens,
 * with its merges; pre NULL leaves the key out. Returns the GGUF builder
 * ready for gb_parse (the caller may add keys first). */
static void small_gguf(struct gb *b, const char *const *extra, size_t n_extra,
                       const char *const *merges, size_t n_merges, const char *pre)
{
    static char chars[256][4];
    const char *toks[256 + 16];
    assert_true(n_extra <= 16);
    for (int i = 0; i < 256; i++) {
        size_t k = alphabet((uint8_t)i, chars[i]);
        chars[i][k] = 0;
        toks[i] = chars[i];
    }
    /* byte 0 is U+0100, so no alphabet string is empty */
    for (size_t i = 0; i < n_extra; i++)
        toks[256 + i] = extra[i];
    gb_begin(b);
    gb_kv_str(b, "tokenizer.ggml.model", "gpt2");
    if (pre)
        gb_kv_str(b, "tokenizer.ggml.pre", pre);
    gb_kv_strs(b, "tokenizer.ggml.tokens", toks, 256 + n_extra);
    if (merges)
        gb_kv_strs(b, "tokenizer.ggml.merges", merges, n_merges);
}

static void load_from(struct gb *b, struct tokenizer *tok)
{
    struct gguf_file f;
    struct err e = {{0}};
    gb_parse(b, &f);
    if (tokenizer_load(tok, &f, &e) != STATUS_OK)
        fail_msg("hand-built vocab: %s", e.msg);
    gguf_free(&f);
    free(b->p);
}

static void expect_ids(const struct tokenizer *tok, const char *s, const int32_t *want, size_t n_want)
{
    struct ids ids = encode(tok, s, strlen(s), 1);
    if (!ids_equal(ids, want, n_want)) {
        print_ids("expected", want, n_want);
        print_ids("got     ", ids.p, ids.n);
        fail_msg("encoding '%s'", s);
    }
    free(ids.p);
    expect_round_trip(tok, s, strlen(s));
}

/* Lowest rank first, wherever it is; equal ranks leftmost first; merges
 * through "xy", which is no token, still reach "xyz"; a symbol left as a
 * non-token ("xy") falls back to its bytes. */
static void test_merge_order(void **state)
{
    (void)state;
    static const char *const extra[] = {"aa", "ab", "bc", "abc", "xyz"};
    enum { AA = 256, AB, BC, ABC, XYZ };
    static const char *const merges[] = {"b c", "a b", "a bc", "a a", "x y", "xy z"};
    struct gb b;
    struct tokenizer tok;
    small_gguf(&b, extra, 5, merges, 6, "gpt-2");
    load_from(&b, &tok);
    assert_int_equal(tok.n_vocab, 261);
    assert_false(tok.add_bos);
    assert_int_equal(tok.bos_id, 11); /* llama.cpp's BPE default */
    assert_int_equal(tok.unk_id, -1);

    expect_ids(&tok, "abc", (const int32_t[]){ABC}, 1); /* bc (0) before ab (1) */
    expect_ids(&tok, "aaa", (const int32_t[]){AA, 'a'}, 2);
    expect_ids(&tok, "aaaa", (const int32_t[]){AA, AA}, 2);
    expect_ids(&tok, "abab", (const int32_t[]){AB, AB}, 2);
    expect_ids(&tok, "xyz", (const int32_t[]){XYZ}, 1);
    expect_ids(&tok, "xy", (const int32_t[]){'x', 'y'}, 2);
    expect_ids(&tok, "ab c", (const int32_t[]){AB, ' ', 'c'}, 3);
    expect_ids(&tok, "", NULL, 0);
    tokenizer_free(&tok);

    /* add_bos_token from the file, with its bos id */
    small_gguf(&b, extra, 5, merges, 6, "gpt-2");
    gb_kv_u32(&b, "tokenizer.ggml.bos_token_id", AA);
    gb_kv_bool(&b, "tokenizer.ggml.add_bos_token", 1);
    load_from(&b, &tok);
    struct ids ids = encode(&tok, "abc", 3, 1);
    assert_true(ids_equal(ids, (const int32_t[]){AA, ABC}, 2));
    free(ids.p);
    ids = encode(&tok, "abc", 3, 0);
    assert_true(ids_equal(ids, (const int32_t[]){ABC}, 1));
    free(ids.p);
    tokenizer_free(&tok);
}

/* A byte whose alphabet character is not in the vocab, and that has no
 * one-byte tokens, cannot be encoded; control tokens decode only when
 * asked; user-defined tokens are cut out of the text. */
static void test_missing_byte(void **state)
{
    (void)state;
    static const char *const merges[] = {"a b"};
    static char chars[256][4];
    const char *toks[258];
    int32_t types[258];
    struct gb b;
    struct tokenizer tok;
    struct err e = {{0}};
    int32_t *ids;
    size_t n;
    char buf[16];

    for (int i = 0; i < 256; i++) {
        size_t k = alphabet((uint8_t)i, chars[i]);
        chars[i][k] = 0;
        toks[i] = chars[i];
        types[i] = TOKENIZER_TYPE_NORMAL;
    }
    toks['q'] = "qq";
    toks[' '] = "sp";
    toks[256] = "<|end|>";
    types[256] = TOKENIZER_TYPE_CONTROL;
    toks[257] = "<ud>";
    types[257] = TOKENIZER_TYPE_USER_DEFINED;
    gb_begin(&b);
    gb_kv_str(&b, "tokenizer.ggml.model", "gpt2");
    gb_kv_strs(&b, "tokenizer.ggml.tokens", toks, 258);
    gb_kv_i32s(&b, "tokenizer.ggml.token_type", types, 258);
    gb_kv_strs(&b, "tokenizer.ggml.merges", merges, 1);
    load_from(&b, &tok);

    assert_int_equal(tokenizer_encode(&tok, "aqa", 3, 0, &ids, &n, &e), STATUS_ERR);
    assert_non_null(strstr(e.msg, "byte 0x71"));
    assert_null(ids);
    assert_int_equal(n, 0);
    /* 'Ġ' is two bytes, C4 A0, neither of them a token */
    assert_int_equal(tokenizer_encode(&tok, "a b", 3, 0, &ids, &n, &e), STATUS_ERR);
    assert_non_null(strstr(e.msg, "byte 0x20"));
    expect_round_trip(&tok, "ab\xC3\xA9", 4);

    assert_int_equal(tokenizer_piece(&tok, 256, buf, sizeof buf), 0);
    assert_int_equal(tokenizer_piece_special(&tok, 256, buf, sizeof buf), 7);
    assert_memory_equal(buf, "<|end|>", 7);

    /* "ab" is only a merge result, not a token: its bytes come out */
    expect_ids(&tok, "ab<ud>ab<|end|>", (const int32_t[]){'a', 'b', 257, 'a', 'b', '<', '|',
                                                          'e', 'n', 'd', '|', '>'}, 12);
    tokenizer_free(&tok);
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
    assert_null(tok.merge_key);
    tokenizer_free(&tok);
    gguf_free(&f);
    free(b->p);
}

static void test_load_errors(void **state)
{
    (void)state;
    static const char *const ok[] = {"a b"};
    struct gb b;

    small_gguf(&b, NULL, 0, NULL, 0, "gpt-2");
    expect_load_error(&b, "tokenizer.ggml.merges missing");

    small_gguf(&b, NULL, 0, NULL, 0, "gpt-2");
    gb_kv_i32s(&b, "tokenizer.ggml.merges", (const int32_t[]){1, 2}, 2);
    expect_load_error(&b, "tokenizer.ggml.merges");

    small_gguf(&b, NULL, 0, (const char *const[]){"a b", "ab"}, 2, "gpt-2");
    expect_load_error(&b, "tokenizer.ggml.merges[1] = 'ab' is not 'left right'");

    small_gguf(&b, NULL, 0, (const char *const[]){"a "}, 1, "gpt-2");
    expect_load_error(&b, "tokenizer.ggml.merges[0] = 'a ' is not 'left right'");

    small_gguf(&b, NULL, 0, (const char *const[]){" ab"}, 1, "gpt-2");
    expect_load_error(&b, "tokenizer.ggml.merges[0] = ' ab' is not 'left right'");

    small_gguf(&b, NULL, 0, (const char *const[]){""}, 1, "gpt-2");
    expect_load_error(&b, "tokenizer.ggml.merges[0] = '' is not 'left right'");

    small_gguf(&b, NULL, 0, ok, 1, "llama3");
    expect_load_error(&b, "unsupported tokenizer.ggml.pre 'llama3'");

    small_gguf(&b, NULL, 0, ok, 1, NULL);
    gb_kv_u32(&b, "tokenizer.ggml.pre", 2);
    expect_load_error(&b, "tokenizer.ggml.pre");

    small_gguf(&b, NULL, 0, ok, 1, "gpt-2");
    gb_kv_u32(&b, "tokenizer.ggml.eos_token_id", 300);
    expect_load_error(&b, "tokenizer.ggml.eos_token_id = 300 is out of range (n_vocab 256)");

    gb_begin(&b);
    gb_kv_str(&b, "tokenizer.ggml.model", "bert");
    gb_kv_strs(&b, "tokenizer.ggml.tokens", ok, 1);
    expect_load_error(&b, "unsupported tokenizer.ggml.model 'bert'");

    /* " a b": the split is at the first space after the first byte */
    struct tokenizer tok;
    small_gguf(&b, (const char *const[]){" ab"}, 1, (const char *const[]){" a b"}, 1, NULL);
    load_from(&b, &tok);
    assert_int_equal(tok.n_merges, 1);
    tokenizer_free(&tok);
}

/* ---- pre-tokenizer ------------------------------------------------------- */

/* The GPT-2 vocab with its merges, under another (or no) pre key. */
static void load_gpt2_with_pre(struct tokenizer *tok, const char *pre)
{
    struct testdata_gguf m;
    struct gb b;
    struct gguf_file f;
    struct err e = {{0}};
    testdata_map_gguf(GPT2_VOCAB, &m);
    gb_begin(&b);
    gb_kv_str(&b, "tokenizer.ggml.model", "gpt2");
    if (pre)
        gb_kv_str(&b, "tokenizer.ggml.pre", pre);
    gb_kv_copy(&b, &m.f.kv[gguf_find_key(&m.f, "tokenizer.ggml.tokens")]);
    gb_kv_copy(&b, &m.f.kv[gguf_find_key(&m.f, "tokenizer.ggml.merges")]);
    testdata_unmap_gguf(&m);
    gb_parse(&b, &f);
    if (tokenizer_load(tok, &f, &e) != STATUS_OK)
        fail_msg("gpt-2 vocab with pre '%s': %s", pre ? pre : "(none)", e.msg);
    gguf_free(&f);
    free(b.p);
}

#define MAX_WORDS 16

struct split_case {
    const char *text;
    const char *words[MAX_WORDS]; /* NULL-terminated; they concatenate to text */
};

/* BPE never merges across words, so encoding the text must give the
 * encodings of its expected words, one after the other. */
static void expect_splits(const struct tokenizer *tok, const struct split_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        struct ids whole = encode(tok, cases[i].text, strlen(cases[i].text), 0);
        int32_t want[64];
        size_t n_want = 0, joined = 0;
        for (int w = 0; w < MAX_WORDS && cases[i].words[w]; w++) {
            const char *s = cases[i].words[w];
            struct ids part = encode(tok, s, strlen(s), 0);
            assert_true(n_want + part.n <= 64);
            memcpy(want + n_want, part.p, part.n * sizeof *want);
            n_want += part.n;
            joined += strlen(s);
            free(part.p);
        }
        assert_int_equal(joined, strlen(cases[i].text));
        if (!ids_equal(whole, want, n_want)) {
            print_ids("expected", want, n_want);
            print_ids("got     ", whole.p, whole.n);
            fail_msg("split of '%s'", cases[i].text);
        }
        free(whole.p);
    }
}

static void test_pre_gpt2(void **state)
{
    (void)state;
    static const struct split_case cases[] = {
        {"I'm don't we'll they've you're he'd it's",
         {"I", "'m", " don", "'t", " we", "'ll", " they", "'ve", " you", "'re", " he", "'d", " it",
          "'s", 0}},
        {"I'M 'Tis", {"I", "'", "M", " '", "Tis", 0}},
        {"  hello", {" ", " hello", 0}},
        {"hello  ", {"hello", "  ", 0}},
        {"a \n b", {"a", " \n", " b", 0}},
        {"x\t\ty", {"x", "\t", "\t", "y", 0}},
        {"3.14 1000000", {"3", ".", "14", " 1000000", 0}},
        {" !!?x", {" !!?", "x", 0}},
        {"na\xC3\xAFve caf\xC3\xA9", {"na\xC3\xAFve", " caf\xC3\xA9", 0}},
        {"x\xC2\xB2y", {"x", "\xC2\xB2", "y", 0}},                /* ² is No */
        {"e\xCC\x81t", {"e", "\xCC\x81", "t", 0}},                /* a combining mark */
        /* NBSP; ' ' + U+3000 is a white-space run, so it keeps its last one */
        {"\xC2\xA0x \xE3\x80\x80y", {"\xC2\xA0", "x", " ", "\xE3\x80\x80", "y", 0}},
        {"\xE4\xBD\xA0\xE5\xA5\xBD world", {"\xE4\xBD\xA0\xE5\xA5\xBD", " world", 0}},
        {"$5 (hi)", {"$", "5", " (", "hi", ")", 0}},
        {"'", {"'", 0}},
        {"ok'", {"ok", "'", 0}},
    };
    struct tokenizer tok;
    load_gpt2(&tok);
    expect_splits(&tok, cases, sizeof cases / sizeof cases[0]);
    tokenizer_free(&tok);
}

/* "default": runs of [\p{P}$+<=>^`|] split off first, \p{N}+ runs and
 * groups of three ASCII digits after the GPT-2 split. A missing pre key
 * means "default" too. */
static void test_pre_default(void **state)
{
    (void)state;
    static const struct split_case cases[] = {
        {"12345", {"123", "45", 0}},
        {"1234567", {"123", "456", "7", 0}},
        {"x 12345678", {"x", " ", "123", "456", "78", 0}},
        {" 1234", {" ", "123", "4", 0}},
        {"$5 (hi)", {"$", "5", " ", "(", "hi", ")", 0}},
        {"a+=b ~~", {"a", "+=", "b", " ~~", 0}},
        {"x\xC2\xB2\xC2\xB3", {"x", "\xC2\xB2\xC2\xB3", 0}},
        {"\xD9\xA1\xD9\xA2\xD9\xA3\xD9\xA4", {"\xD9\xA1\xD9\xA2\xD9\xA3\xD9\xA4", 0}}, /* not [0-9] */
        {"I'm 2024!", {"I", "'", "m", " ", "202", "4", "!", 0}},
    };
    struct tokenizer def, none, gpt2;
    load_gpt2_with_pre(&def, "default");
    load_gpt2_with_pre(&none, NULL);
    load_gpt2(&gpt2);
    expect_splits(&def, cases, sizeof cases / sizeof cases[0]);
    expect_splits(&none, cases, sizeof cases / sizeof cases[0]);

    /* and these differ from the "gpt-2" split of the same text */
    static const char *const differ[] = {" 1234", "$5 (hi)", "I'm 2024!", "1234567", "x 12345678"};
    for (size_t i = 0; i < sizeof differ / sizeof differ[0]; i++) {
        size_t n = strlen(differ[i]);
        struct ids a = encode(&def, differ[i], n, 0), b = encode(&gpt2, differ[i], n, 0);
        if (ids_equal(a, b.p, b.n))
            fail_msg("'%s' encodes the same under default and gpt-2", differ[i]);
        free(a.p);
        free(b.p);
        expect_round_trip(&def, differ[i], n);
    }
    tokenizer_free(&def);
    tokenizer_free(&none);
    tokenizer_free(&gpt2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gpt2_vectors),
        cmocka_unit_test(test_gpt2_random_round_trip),
        cmocka_unit_test(test_gpt2_invalid_utf8),
        cmocka_unit_test(test_gpt2_files),
        cmocka_unit_test(test_gpt2_pieces),
        cmocka_unit_test(test_merge_order),
        cmocka_unit_test(test_missing_byte),
        cmocka_unit_test(test_load_errors),
        cmocka_unit_test(test_pre_gpt2),
        cmocka_unit_test(test_pre_default),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
