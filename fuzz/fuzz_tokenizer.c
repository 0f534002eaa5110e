/* fuzz_tokenizer.c: arbitrary bytes through both tokenizers, arbitrary ids back.
 *
 * The vocabs are llama.cpp's test vocabs (ggml-vocab-llama-spm.gguf, SPM, and
 * ggml-vocab-gpt-2.gguf, byte-level BPE), read once from $RB_TEST_DATA. Each
 * input is encoded with both, with or without BOS; every id must be in range,
 * and decoding valid UTF-8 must give the text back (SPM with its leading
 * space, unless the text holds U+2581, which decodes to a space). Invalid
 * UTF-8 is lossy by design, as in llama.cpp: BPE makes it U+FFFD, and SPM
 * may swallow a space (already U+2581) into a malformed sequence that then
 * falls back to bytes. The same bytes read as
 * little-endian int32 ids are decoded, which must never read out of bounds
 * and must report the same length whatever the buffer size. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "format/gguf.h"
#include "tokenizer/tokenizer.h"

static struct tokenizer spm, bpe;

static void load_vocab(struct tokenizer *tok, const char *name)
{
    const char *dir = getenv("RB_TEST_DATA");
    if (!dir || !*dir) {
        fprintf(stderr, "fuzz_tokenizer: set RB_TEST_DATA to the test data folder (make data)\n");
        exit(1);
    }
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen(path, "rb");
    if (!fp) {
        fprintf(stderr, "fuzz_tokenizer: cannot open %s\n", path);
        exit(1);
    }
    fseek(fp, 0, SEEK_END);
    long n = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    uint8_t *buf = n > 0 ? malloc((size_t)n) : NULL;
    if (!buf || fread(buf, 1, (size_t)n, fp) != (size_t)n) {
        fprintf(stderr, "fuzz_tokenizer: cannot read %s\n", path);
        exit(1);
    }
    fclose(fp);
    struct gguf_file f;
    struct err e = {{0}};
    if (gguf_parse(&f, buf, (size_t)n, &e) || tokenizer_load(tok, &f, &e)) {
        fprintf(stderr, "fuzz_tokenizer: %s: %s\n", path, e.msg);
        exit(1);
    }
    gguf_free(&f);
    free(buf); /* the tokenizer keeps no pointer into the file */
}

void fuzz_tokenizer_init(void)
{
    load_vocab(&spm, "ggml-vocab-llama-spm.gguf");
    load_vocab(&bpe, "ggml-vocab-gpt-2.gguf");
}

/* Strict UTF-8: no overlong forms, no surrogates, nothing above U+10FFFF. */
static int utf8_valid(const uint8_t *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        uint8_t c = s[i];
        size_t len;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xC2 && c <= 0xDF) {
            len = 2, cp = c & 0x1F;
        } else if (c >= 0xE0 && c <= 0xEF) {
            len = 3, cp = c & 0x0F;
        } else if (c >= 0xF0 && c <= 0xF4) {
            len = 4, cp = c & 0x07;
        } else {
            return 0;
        }
        if (len > n - i)
            return 0;
        for (size_t k = 1; k < len; k++) {
            if ((s[i + k] & 0xC0) != 0x80)
                return 0;
            cp = cp << 6 | (s[i + k] & 0x3F);
        }
        if ((len == 3 && cp < 0x800) || (len == 4 && (cp < 0x10000 || cp > 0x10FFFF)) ||
            (cp >= 0xD800 && cp <= 0xDFFF))
            return 0;
        i += len;
    }
    return 1;
}

/* Appends the pieces of ids to a fresh buffer; *n_out its length. */
static char *decode(const struct tokenizer *tok, const int32_t *ids, size_t n, size_t *n_out)
{
    size_t cap = 64, len = 0;
    char *out = malloc(cap);
    FUZZ_CHECK(out);
    for (size_t i = 0; i < n; i++) {
        char piece[256];
        size_t k = tokenizer_piece(tok, ids[i], piece, sizeof piece);
        FUZZ_CHECK(k <= sizeof piece); /* no vocab token is longer */
        if (len + k > cap) {
            cap = (len + k) * 2;
            out = realloc(out, cap);
            FUZZ_CHECK(out);
        }
        memcpy(out + len, piece, k);
        len += k;
    }
    *n_out = len;
    return out;
}

static void encode_check(const struct tokenizer *tok, const uint8_t *data, size_t size, int add_bos)
{
    int32_t *ids = NULL;
    size_t n = 0;
    struct err e = {{0}};
    if (tokenizer_encode(tok, (const char *)data, size, add_bos, &ids, &n, &e)) {
        /* both vocabs have every byte, so nothing may be refused */
        fprintf(stderr, "fuzz_tokenizer: encode failed: %s\n", e.msg);
        abort();
    }
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(ids[i] >= 0 && ids[i] < tok->n_vocab);
    size_t first = add_bos && tok->add_bos && n > 0 && ids[0] == tok->bos_id ? 1 : 0;
    if (add_bos && tok->add_bos)
        FUZZ_CHECK(first == 1);
    size_t len;
    char *text = decode(tok, n ? ids + first : NULL, n - first, &len);
    if (!utf8_valid(data, size)) {
        /* lossy by design */
    } else if (tok->kind == TOKENIZER_KIND_SPM) {
        static const char lower_one_eighth_block[] = "\xE2\x96\x81";
        int has_block = 0;
        for (size_t i = 0; i + 3 <= size && !has_block; i++)
            has_block = !memcmp(data + i, lower_one_eighth_block, 3);
        size_t pre = size > 0 && tok->add_space_prefix ? 1 : 0;
        if (!has_block) {
            FUZZ_CHECK(len == size + pre);
            FUZZ_CHECK(!pre || text[0] == ' ');
            FUZZ_CHECK(size == 0 || !memcmp(text + pre, data, size));
        }
    } else {
        FUZZ_CHECK(len == size && (size == 0 || !memcmp(text, data, size)));
    }
    free(text);
    free(ids);
}

static void decode_check(const struct tokenizer *tok, const uint8_t *data, size_t size)
{
    for (size_t i = 0; i + 4 <= size; i += 4) {
        int32_t id = (int32_t)((uint32_t)data[i] | (uint32_t)data[i + 1] << 8 | (uint32_t)data[i + 2] << 16 |
                               (uint32_t)data[i + 3] << 24);
        if (i / 4 % 2)
            id = (int32_t)((uint32_t)id % (uint32_t)(tok->n_vocab + 2)) - 1; /* mostly in range */
        char big[512], small[4];
        size_t a = tokenizer_piece(tok, id, big, sizeof big);
        size_t b = tokenizer_piece(tok, id, small, sizeof small);
        FUZZ_CHECK(a == b && a <= sizeof big);
        a = tokenizer_piece_special(tok, id, big, sizeof big);
        b = tokenizer_piece_special(tok, id, small, sizeof small);
        FUZZ_CHECK(a == b && a <= sizeof big);
        if (id < 0 || id >= tok->n_vocab)
            FUZZ_CHECK(tokenizer_piece(tok, id, big, sizeof big) == 0);
    }
}

int fuzz_tokenizer_one(const uint8_t *data, size_t size)
{
    int add_bos = (int)(size & 1);
    encode_check(&spm, data, size, add_bos);
    encode_check(&bpe, data, size, !add_bos);
    decode_check(&spm, data, size);
    decode_check(&bpe, data, size);
    return 0;
}

FUZZ_ENTRY(tokenizer)
