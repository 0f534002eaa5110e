/* tokenizer.c: the tokenizers' front door: loading, encoding and decoding.
 *
 * Data flow: tokenizer_load copies the GGUF vocab (texts, scores, types) into
 * owned arrays, the string table (vocab.c) with its hash text -> id, and
 * (BPE) the merges (bpe.c). tokenizer_encode cuts the text at user-defined
 * tokens and hands each raw fragment to SPM (spm.c) or BPE (bpe.c);
 * tokenizer_piece turns an id back into bytes.
 *
 * Sections: loading, encoding (fragments), decoding. */
#include "tokenizer/tokenizer.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "tokenizer/heap.h"


/* ---- loading --------------------------------------------------------- */

static int hex_digit(char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

/* A special token id: the key's value if present (then it must be a valid
 * id), else the default if the vocab is large enough, else -1. */
static enum status read_special_id(const struct gguf_file *f, const char *key, int32_t def,
                                   int32_t n_vocab, int32_t *out, struct err *e)
{
    struct err sub;
    uint32_t v;
    if (!gguf_has(f, key)) {
        *out = def < n_vocab ? def : -1;
        return STATUS_OK;
    }
    if (gguf_get_u32(f, key, &v, &sub) != STATUS_OK)
        return err_set(e, "tokenizer_load: %s", sub.msg);
    if (v >= (uint32_t)n_vocab)
        return err_set(e, "tokenizer_load: %s = %u is out of range (n_vocab %d)", key, v,
                       (int)n_vocab);
    *out = (int32_t)v;
    return STATUS_OK;
}

static enum status read_flag(const struct gguf_file *f, const char *key, int def, int *out,
                             struct err *e)
{
    struct err sub;
    *out = def;
    if (gguf_has(f, key) && gguf_get_bool(f, key, out, &sub) != STATUS_OK)
        return err_set(e, "tokenizer_load: %s", sub.msg);
    *out = *out != 0;
    return STATUS_OK;
}

static enum status read_array(const struct gguf_file *f, const char *key, uint32_t elem_type,
                              uint64_t n_want, const struct gguf_kv **out, struct err *e)
{
    struct err sub;
    if (gguf_get_arr(f, key, elem_type, out, &sub) != STATUS_OK)
        return err_set(e, "tokenizer_load: %s", sub.msg);
    if (n_want && (*out)->n != n_want)
        return err_set(e, "tokenizer_load: %s has %llu entries, tokenizer.ggml.tokens has %llu",
                       key, (unsigned long long)(*out)->n, (unsigned long long)n_want);
    return STATUS_OK;
}

struct user_tok {
    uint32_t len;
    int32_t id;
};

static int user_tok_cmp(const void *pa, const void *pb)
{
    const struct user_tok *a = pa, *b = pb;
    if (a->len != b->len)
        return a->len > b->len ? -1 : 1; /* longest first */
    return (a->id > b->id) - (a->id < b->id);
}

/* Everything after the arrays are copied: hash table, byte map, user list. */
static enum status build_indexes(struct tokenizer *t, struct err *e)
{
    uint32_t size = 16;
    while (size < 2u * (uint32_t)t->n_vocab)
        size *= 2;
    if (tokenizer_hash_build(t, size, e) != STATUS_OK)
        return STATUS_ERR;

    int32_t n_user = 0;
    for (int32_t id = 0; id < t->n_vocab; id++) {
        size_t len;
        const char *s = tokenizer_text(t, id, &len);
        if (t->type[id] == TOKENIZER_TYPE_USER_DEFINED && len > 0)
            n_user++;
        /* BPE never decodes byte tokens (llama.cpp gives them no piece) */
        if (t->type[id] == TOKENIZER_TYPE_BYTE && t->kind == TOKENIZER_KIND_SPM) {
            int hi = len == 6 ? hex_digit(s[3]) : -1, lo = len == 6 ? hex_digit(s[4]) : -1;
            if (len != 6 || memcmp(s, "<0x", 3) != 0 || s[5] != '>' || hi < 0 || lo < 0)
                return err_set(e, "tokenizer_load: byte token %d is '%.*s', not <0xXX>", (int)id,
                               (int)(len < 32 ? len : 32), s);
            t->byte_val[id] = (uint8_t)(hi * 16 + lo);
        }
    }

    /* the fallback token of a byte: "<0xXX>" (upper-case hex), else the
     * byte as a one-character token, as llama.cpp's byte_to_token */
    for (int b = 0; b < 256; b++) {
        static const char hex[] = "0123456789ABCDEF";
        char name[6] = {'<', '0', 'x', hex[b >> 4], hex[b & 15], '>'};
        char one = (char)b;
        t->byte_id[b] = tokenizer_lookup(t, name, sizeof name);
        if (t->byte_id[b] < 0)
            t->byte_id[b] = tokenizer_lookup(t, &one, 1);
    }

    if (n_user > 0) {
        struct user_tok *u = malloc((size_t)n_user * sizeof *u);
        t->user_ids = malloc((size_t)n_user * sizeof *t->user_ids);
        if (!u || !t->user_ids) {
            free(u);
            return err_set(e, "tokenizer_load: out of memory for %d user-defined tokens",
                           (int)n_user);
        }
        int32_t k = 0;
        for (int32_t id = 0; id < t->n_vocab; id++) {
            uint32_t len = t->text_off[id + 1] - t->text_off[id];
            if (t->type[id] == TOKENIZER_TYPE_USER_DEFINED && len > 0)
                u[k++] = (struct user_tok){len, id};
        }
        qsort(u, (size_t)n_user, sizeof *u, user_tok_cmp);
        for (k = 0; k < n_user; k++)
            t->user_ids[k] = u[k].id;
        t->n_user = n_user;
        free(u);
    }
    return STATUS_OK;
}

enum status tokenizer_load(struct tokenizer *tok, const struct gguf_file *f, struct err *e)
{
    struct tokenizer t;
    struct err sub;
    struct gguf_str model;
    const struct gguf_kv *toks, *scores = NULL, *types = NULL;

    memset(&t, 0, sizeof t);
    memset(tok, 0, sizeof *tok);

    if (!gguf_has(f, "tokenizer.ggml.model"))
        return err_set(e, "tokenizer_load: no tokenizer in this GGUF "
                          "(key tokenizer.ggml.model missing)");
    if (gguf_get_str(f, "tokenizer.ggml.model", &model, &sub) != STATUS_OK)
        return err_set(e, "tokenizer_load: %s", sub.msg);
    if (gguf_str_eq(model, "llama"))
        t.kind = TOKENIZER_KIND_SPM;
    else if (gguf_str_eq(model, "gpt2"))
        t.kind = TOKENIZER_KIND_BPE;
    else
        return err_set(e, "tokenizer_load: unsupported tokenizer.ggml.model '%.*s' "
                          "(supported: 'llama', SentencePiece; 'gpt2', byte-level BPE)",
                       (int)(model.len < 64 ? model.len : 64), model.ptr);
    int bpe = t.kind == TOKENIZER_KIND_BPE;

    if (!gguf_has(f, "tokenizer.ggml.tokens"))
        return err_set(e, "tokenizer_load: key tokenizer.ggml.tokens missing (no vocabulary)");
    if (read_array(f, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, 0, &toks, e) != STATUS_OK)
        return STATUS_ERR;
    if (toks->n == 0 || toks->n > INT32_MAX / 2)
        return err_set(e, "tokenizer_load: tokenizer.ggml.tokens has %llu entries (want 1..%d)",
                       (unsigned long long)toks->n, INT32_MAX / 2);
    if (gguf_has(f, "tokenizer.ggml.scores") &&
        read_array(f, "tokenizer.ggml.scores", GGUF_TYPE_FLOAT32, toks->n, &scores, e) != STATUS_OK)
        return STATUS_ERR;
    if (gguf_has(f, "tokenizer.ggml.token_type") &&
        read_array(f, "tokenizer.ggml.token_type", GGUF_TYPE_INT32, toks->n, &types, e) != STATUS_OK)
        return STATUS_ERR;
    t.n_vocab = (int32_t)toks->n;

    uint64_t total = 0;
    for (int32_t i = 0; i < t.n_vocab; i++) {
        total += toks->strs[i].len; /* each len is bounded by the file size */
        if (total > UINT32_MAX - 1)
            return err_set(e, "tokenizer_load: token texts exceed 4 GiB in total");
    }
    size_t n = (size_t)toks->n;
    t.text = malloc((size_t)total + 1);
    t.text_off = malloc((n + 1) * sizeof *t.text_off);
    t.score = malloc(n * sizeof *t.score);
    t.type = malloc(n);
    t.byte_val = calloc(n, 1);
    if (!t.text || !t.text_off || !t.score || !t.type || !t.byte_val) {
        err_set(e, "tokenizer_load: out of memory for %d tokens", (int)t.n_vocab);
        goto fail;
    }

    uint32_t off = 0;
    for (int32_t i = 0; i < t.n_vocab; i++) {
        t.text_off[i] = off;
        if (toks->strs[i].len)
            memcpy(t.text + off, toks->strs[i].ptr, (size_t)toks->strs[i].len);
        off += (uint32_t)toks->strs[i].len;

        t.score[i] = 0.0f;
        if (scores)
            memcpy(&t.score[i], scores->data + 4 * (size_t)i, 4);
        if (isnan(t.score[i])) {
            err_set(e, "tokenizer_load: tokenizer.ggml.scores[%d] is NaN", (int)i);
            goto fail;
        }
        int32_t ty = TOKENIZER_TYPE_NORMAL;
        if (types)
            memcpy(&ty, types->data + 4 * (size_t)i, 4);
        if (ty < TOKENIZER_TYPE_UNDEFINED || ty > TOKENIZER_TYPE_BYTE) {
            err_set(e, "tokenizer_load: tokenizer.ggml.token_type[%d] = %d is not a known type",
                    (int)i, (int)ty);
            goto fail;
        }
        t.type[i] = (uint8_t)ty;
    }
    t.text_off[t.n_vocab] = off;
    t.n_text = t.n_vocab;
    t.text_cap = (uint32_t)total + 1;
    t.off_cap = t.n_vocab + 1;

    /* llama.cpp's defaults: SPM bos 1, eos 2, unk 0, add_bos; BPE (gpt2)
     * bos = eos = 11, no unk, no add_bos, no space prefix */
    if (read_special_id(f, "tokenizer.ggml.bos_token_id", bpe ? 11 : 1, t.n_vocab, &t.bos_id, e) ||
        read_special_id(f, "tokenizer.ggml.eos_token_id", bpe ? 11 : 2, t.n_vocab, &t.eos_id, e) ||
        read_special_id(f, "tokenizer.ggml.unknown_token_id", bpe ? -1 : 0, t.n_vocab, &t.unk_id,
                        e) ||
        read_flag(f, "tokenizer.ggml.add_bos_token", !bpe, &t.add_bos, e) ||
        read_flag(f, "tokenizer.ggml.add_space_prefix", !bpe, &t.add_space_prefix, e))
        goto fail;

    if (build_indexes(&t, e) != STATUS_OK)
        goto fail;
    if (bpe && tokenizer_bpe_load(&t, f, e) != STATUS_OK)
        goto fail;
    *tok = t;
    return STATUS_OK;

fail:
    tokenizer_free(&t);
    return STATUS_ERR;
}

void tokenizer_free(struct tokenizer *tok)
{
    if (!tok)
        return;
    free(tok->text);
    free(tok->text_off);
    free(tok->score);
    free(tok->type);
    free(tok->byte_val);
    free(tok->hash_ids);
    free(tok->hash_val);
    free(tok->user_ids);
    free(tok->merge_key);
    free(tok->merge_rank);
    free(tok->merge_out);
    memset(tok, 0, sizeof *tok);
}

/* ---- encoding -------------------------------------------------------- */

/* A piece of the input: raw text [off, off+len), or a whole token. */
struct fragment {
    int32_t id; /* -1: raw text */
    size_t off, len;
};

/* Position of the first needle in hay[0, n), or n. */
static size_t find_bytes(const char *hay, size_t n, const char *needle, size_t m)
{
    if (m == 0 || m > n)
        return n;
    for (size_t i = 0; i + m <= n; i++) {
        const char *p = memchr(hay + i, needle[0], n - m + 1 - i);
        if (!p)
            return n;
        i = (size_t)(p - hay);
        if (memcmp(p, needle, m) == 0)
            return i;
    }
    return n;
}

/* Cuts every raw fragment at each occurrence of user-defined token id. */
static enum status split_at_token(const struct tokenizer *tok, const char *text, int32_t id,
                                  struct fragment **frags, size_t *n_frags, struct err *e)
{
    size_t m;
    const char *needle = tokenizer_text(tok, id, &m);
    struct fragment *next = NULL;
    size_t n_next = 0, cap_next = 0;
    for (size_t k = 0; k < *n_frags; k++) {
        struct fragment fr = (*frags)[k];
        while (fr.id < 0) {
            size_t at = find_bytes(text + fr.off, fr.len, needle, m);
            if (at == fr.len)
                break;
            if (tok_grow((void **)&next, &cap_next, n_next + 2, sizeof *next, e))
                goto fail;
            if (at > 0)
                next[n_next++] = (struct fragment){-1, fr.off, at};
            next[n_next++] = (struct fragment){id, 0, 0};
            fr.off += at + m;
            fr.len -= at + m;
        }
        if (fr.id < 0 && fr.len == 0)
            continue;
        if (tok_grow((void **)&next, &cap_next, n_next + 1, sizeof *next, e))
            goto fail;
        next[n_next++] = fr;
    }
    free(*frags);
    *frags = next;
    *n_frags = n_next;
    return STATUS_OK;

fail:
    free(next);
    return STATUS_ERR;
}

enum status tokenizer_encode(const struct tokenizer *tok, const char *text, size_t len,
                             int add_bos, int32_t **out, size_t *n_out, struct err *e)
{
    struct tokenizer_ids ids = {0};
    struct fragment *frags = NULL;
    size_t n_frags = 0;
    enum status st = STATUS_ERR;

    *out = NULL;
    *n_out = 0;
    if (!text && len > 0)
        return err_set(e, "tokenizer_encode: NULL text of %zu bytes", len);
    /* escaped length (3 bytes per space, plus a prefix) must fit int32 */
    if (len > (size_t)(INT32_MAX - TOKENIZER_SPACE_ESC_LEN) / TOKENIZER_SPACE_ESC_LEN)
        return err_set(e, "tokenizer_encode: text of %zu bytes is too long (max %d)", len,
                       (INT32_MAX - TOKENIZER_SPACE_ESC_LEN) / TOKENIZER_SPACE_ESC_LEN);

    if (add_bos && tok->add_bos) {
        if (tok->bos_id < 0)
            return err_set(e, "tokenizer_encode: BOS wanted but the vocab has no BOS token");
        if (tokenizer_ids_push(&ids, tok->bos_id, e))
            goto done;
    }
    if (len == 0) {
        st = STATUS_OK; /* no text, no fragments: not even the space prefix */
        goto done;
    }

    int bpe = tok->kind == TOKENIZER_KIND_BPE;
    frags = malloc(sizeof *frags);
    if (!frags) {
        err_set(e, "tokenizer_encode: out of memory for a text of %zu bytes", len);
        goto done;
    }
    frags[0] = (struct fragment){-1, 0, len};
    n_frags = 1;
    /* llama.cpp's special-token partition with parse_special = false: only
     * user-defined tokens are cut out, the longest first */
    for (int32_t u = 0; u < tok->n_user; u++)
        if (split_at_token(tok, text, tok->user_ids[u], &frags, &n_frags, e))
            goto done;

    int prev_token = 1; /* the first raw fragment gets the space prefix */
    for (size_t k = 0; k < n_frags; k++) {
        if (frags[k].id >= 0) {
            if (tokenizer_ids_push(&ids, frags[k].id, e))
                goto done;
            prev_token = 1;
            continue;
        }
        if (bpe) {
            if (tokenizer_bpe_encode(tok, text + frags[k].off, frags[k].len, &ids, e))
                goto done;
            continue;
        }
        if (tokenizer_spm_encode(tok, text + frags[k].off, frags[k].len, tok->add_space_prefix && prev_token, &ids,
                                 e))
            goto done;
        prev_token = 0;
    }
    st = STATUS_OK;

done:
    free(frags);
    if (st != STATUS_OK) {
        free(ids.p);
        return STATUS_ERR;
    }
    *out = ids.p;
    *n_out = ids.n;
    return STATUS_OK;
}

/* ---- decoding -------------------------------------------------------- */

static size_t piece(const struct tokenizer *tok, int32_t id, int special, char *buf, size_t cap)
{
    if (!tok || id < 0 || id >= tok->n_vocab)
        return 0;
    size_t len;
    const char *s = tokenizer_text(tok, id, &len);
    switch (tok->type[id]) {
    case TOKENIZER_TYPE_CONTROL:
    case TOKENIZER_TYPE_UNKNOWN:
        if (!special)
            return 0;
        /* fall through */
    case TOKENIZER_TYPE_USER_DEFINED:
        if (len <= cap && len > 0)
            memcpy(buf, s, len);
        return len;
    case TOKENIZER_TYPE_NORMAL: {
        if (tok->kind == TOKENIZER_KIND_BPE)
            return tokenizer_bpe_piece(s, len, buf, cap);
        size_t n = 0;
        for (size_t i = 0; i < len; i++) {
            if (len - i >= TOKENIZER_SPACE_ESC_LEN && memcmp(s + i, TOKENIZER_SPACE_ESC, TOKENIZER_SPACE_ESC_LEN) == 0) {
                if (n < cap)
                    buf[n] = ' ';
                i += TOKENIZER_SPACE_ESC_LEN - 1;
            } else if (n < cap) {
                buf[n] = s[i];
            }
            n++;
        }
        return n;
    }
    case TOKENIZER_TYPE_BYTE:
        if (tok->kind == TOKENIZER_KIND_BPE)
            return 0; /* as llama.cpp: BPE gives byte tokens no piece */
        if (cap >= 1)
            buf[0] = (char)tok->byte_val[id];
        return 1;
    default: /* undefined and unused tokens have no text, as in llama.cpp */
        return 0;
    }
}

size_t tokenizer_piece(const struct tokenizer *tok, int32_t id, char *buf, size_t cap)
{
    return piece(tok, id, 0, buf, cap);
}

size_t tokenizer_piece_special(const struct tokenizer *tok, int32_t id, char *buf, size_t cap)
{
    return piece(tok, id, 1, buf, cap);
}
