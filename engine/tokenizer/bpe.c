/* bpe.c: byte-level BPE ("gpt2"), as llama.cpp's BPE tokenizer
 * with the "gpt-2" and "default" pre-tokenizers.
 *
 * Data flow: tokenizer_bpe_load interns each merge's two parts and their
 * concatenation in the tokenizer's string table, so a merge is keyed by
 * (left id, right id). tokenizer_bpe_encode decodes a fragment to code
 * points, splits it into words (the pre-tokenizer), and merges each word's
 * bytes, one GPT-2 alphabet character per byte, through a min-heap of
 * candidate pairs keyed (rank, position). tokenizer_bpe_piece maps the
 * alphabet back to bytes.
 *
 * Sections: byte alphabet and UTF-8, loading, pre-tokenizer, merging,
 * decoding. */
#include "tokenizer/tokenizer.h"

#include <stdlib.h>
#include <string.h>

#include "tokenizer/heap.h"
#include "tokenizer/unicode_tables.h"

/* ---- byte alphabet and UTF-8 ------------------------------------------ */

/* GPT-2's byte -> character map: the printable Latin-1 bytes (0x21-0x7E,
 * 0xA1-0xAC, 0xAE-0xFF) stand for themselves; the other 68 (0x00-0x20,
 * 0x7F-0xA0, 0xAD), in byte order, for U+0100..U+0143. */
static uint32_t byte_to_cpt(uint8_t b)
{
    if (b <= 0x20)
        return 0x100u + b;
    if (b >= 0x7F && b <= 0xA0)
        return 0x100u + 33 + (b - 0x7Fu);
    if (b == 0xAD)
        return 0x100u + 67;
    return b;
}

/* The inverse: the byte a character stands for, or -1. */
static int cpt_to_byte(uint32_t c)
{
    if (c < 0x100)
        return (c > 0x20 && c < 0x7F) || (c > 0xA0 && c != 0xAD) ? (int)c : -1;
    if (c < 0x100 + 33)
        return (int)(c - 0x100);
    if (c < 0x100 + 67)
        return (int)(0x7F + (c - 0x100 - 33));
    if (c == 0x100 + 67)
        return 0xAD;
    return -1;
}

/* Writes c (at most U+10FFFF) as UTF-8; returns the byte count. */
static size_t put_utf8(uint8_t *d, uint32_t c)
{
    if (c < 0x80) {
        d[0] = (uint8_t)c;
        return 1;
    }
    if (c < 0x800) {
        d[0] = (uint8_t)(0xC0 | c >> 6);
        d[1] = (uint8_t)(0x80 | (c & 0x3F));
        return 2;
    }
    if (c < 0x10000) {
        d[0] = (uint8_t)(0xE0 | c >> 12);
        d[1] = (uint8_t)(0x80 | (c >> 6 & 0x3F));
        d[2] = (uint8_t)(0x80 | (c & 0x3F));
        return 3;
    }
    d[0] = (uint8_t)(0xF0 | c >> 18);
    d[1] = (uint8_t)(0x80 | (c >> 12 & 0x3F));
    d[2] = (uint8_t)(0x80 | (c >> 6 & 0x3F));
    d[3] = (uint8_t)(0x80 | (c & 0x3F));
    return 4;
}

#define REPLACEMENT_CHAR 0xFFFDu

/* Decodes the character at s[*i] (of n bytes) and advances *i, with
 * llama.cpp's rules: lead and continuation bits are checked, overlong forms
 * and surrogates are not; a byte that starts no valid sequence is U+FFFD
 * and is skipped alone. Values above U+10FFFF, which llama.cpp cannot
 * re-encode (it throws), are invalid here too. */
static uint32_t next_cpt(const uint8_t *s, size_t n, size_t *i)
{
    size_t k = *i, len;
    uint32_t c = s[k];
    if (c < 0x80) {
        *i = k + 1;
        return c;
    }
    if (c < 0xC0 || c >= 0xF8)
        goto bad;
    len = c < 0xE0 ? 2 : c < 0xF0 ? 3 : 4;
    if (len > n - k)
        goto bad;
    c &= 0x7Fu >> len;
    for (size_t j = 1; j < len; j++) {
        if ((s[k + j] & 0xC0) != 0x80)
            goto bad;
        c = c << 6 | (s[k + j] & 0x3Fu);
    }
    if (c > 0x10FFFF)
        goto bad;
    *i = k + len;
    return c;
bad:
    *i = k + 1;
    return REPLACEMENT_CHAR;
}

/* ---- loading ------------------------------------------------------------ */

#define PAIR_EMPTY UINT64_MAX

static uint64_t pair_key(int32_t left, int32_t right)
{
    return (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
}

/* Slot of the merge (left, right), or the empty slot where it would go. */
static uint32_t pair_slot(const struct tokenizer *t, uint64_t key)
{
    uint32_t i = (uint32_t)((key * 0x9E3779B97F4A7C15ull) >> 32) & t->merge_mask;
    while (t->merge_key[i] != PAIR_EMPTY && t->merge_key[i] != key)
        i = (i + 1) & t->merge_mask;
    return i;
}

static enum status read_pre(struct tokenizer *t, const struct gguf_file *f, struct err *e)
{
    struct err sub;
    struct gguf_str pre;
    t->pre = TOKENIZER_PRE_DEFAULT; /* llama.cpp: no key means "default" */
    if (!gguf_has(f, "tokenizer.ggml.pre"))
        return STATUS_OK;
    if (gguf_get_str(f, "tokenizer.ggml.pre", &pre, &sub) != STATUS_OK)
        return err_set(e, "tokenizer_load: %s", sub.msg);
    if (gguf_str_eq(pre, "gpt-2"))
        t->pre = TOKENIZER_PRE_GPT2;
    else if (!gguf_str_eq(pre, "default"))
        return err_set(e, "tokenizer_load: unsupported tokenizer.ggml.pre '%.*s' "
                          "(supported: 'gpt-2', 'default')",
                       (int)(pre.len < 64 ? pre.len : 64), pre.ptr);
    return STATUS_OK;
}

enum status tokenizer_bpe_load(struct tokenizer *t, const struct gguf_file *f, struct err *e)
{
    struct err sub;
    const struct gguf_kv *merges;
    char *cat = NULL;

    if (read_pre(t, f, e) != STATUS_OK)
        return STATUS_ERR;
    if (!gguf_has(f, "tokenizer.ggml.merges"))
        return err_set(e, "tokenizer_load: key tokenizer.ggml.merges missing "
                          "(a gpt2 vocab needs its BPE merges)");
    if (gguf_get_arr(f, "tokenizer.ggml.merges", GGUF_TYPE_STRING, &merges, &sub) != STATUS_OK)
        return err_set(e, "tokenizer_load: %s", sub.msg);
    if (merges->n > INT32_MAX / 8)
        return err_set(e, "tokenizer_load: tokenizer.ggml.merges has %llu entries (max %d)",
                       (unsigned long long)merges->n, INT32_MAX / 8);
    int32_t n = (int32_t)merges->n;

    uint32_t size = 16;
    while (size < 2u * (uint32_t)n)
        size *= 2;
    t->merge_key = malloc(size * sizeof *t->merge_key);
    t->merge_rank = malloc(size * sizeof *t->merge_rank);
    t->merge_out = malloc(size * sizeof *t->merge_out);
    if (!t->merge_key || !t->merge_rank || !t->merge_out)
        return err_set(e, "tokenizer_load: out of memory for %d merges", (int)n);
    t->merge_mask = size - 1;
    for (uint32_t i = 0; i < size; i++)
        t->merge_key[i] = PAIR_EMPTY;

    uint64_t max_len = 0;
    for (int32_t i = 0; i < n; i++)
        if (merges->strs[i].len > max_len)
            max_len = merges->strs[i].len;
    if (max_len > UINT32_MAX / 4)
        return err_set(e, "tokenizer_load: a merge of %llu bytes is too long",
                       (unsigned long long)max_len);
    cat = malloc((size_t)max_len + 1);
    if (!cat)
        return err_set(e, "tokenizer_load: out of memory for a %llu-byte merge",
                       (unsigned long long)max_len);

    for (int32_t i = 0; i < n; i++) {
        const char *s = merges->strs[i].ptr;
        size_t len = (size_t)merges->strs[i].len, sp = 1;
        /* "left right": split at the first space after the first byte (as
         * llama.cpp), both sides non-empty */
        while (sp < len && s[sp] != ' ')
            sp++;
        if (sp + 1 >= len) {
            err_set(e, "tokenizer_load: tokenizer.ggml.merges[%d] = '%.*s' is not 'left right'",
                    (int)i, (int)(len < 64 ? len : 64), s);
            goto fail;
        }
        int32_t left, right, out;
        memcpy(cat, s, sp);
        memcpy(cat + sp, s + sp + 1, len - sp - 1);
        if (tokenizer_intern(t, s, sp, &left, e) ||
            tokenizer_intern(t, s + sp + 1, len - sp - 1, &right, e) ||
            tokenizer_intern(t, cat, len - 1, &out, e))
            goto fail;
        uint64_t key = pair_key(left, right);
        uint32_t slot = pair_slot(t, key);
        if (t->merge_key[slot] == PAIR_EMPTY) { /* a repeated pair keeps its first rank */
            t->merge_key[slot] = key;
            t->merge_rank[slot] = i;
            t->merge_out[slot] = out;
        }
    }
    t->n_merges = n;
    free(cat);

    for (int b = 0; b < 256; b++) {
        uint8_t u[4];
        size_t k = put_utf8(u, byte_to_cpt((uint8_t)b));
        t->byte_sym[b] = tokenizer_lookup(t, (const char *)u, k);
    }
    return STATUS_OK;

fail:
    free(cat);
    return STATUS_ERR;
}

/* ---- pre-tokenizer ------------------------------------------------------ */

/* A symbol of the word being merged: it starts at the word's byte of the
 * same index and spans n bytes; n == 0 once merged into its left
 * neighbour. id is a token, a pseudo id, or -1 (no merge can use it). */
struct bpe_sym {
    int32_t id, prev, next;
    uint32_t n;
};

/* A candidate merge of adjacent symbols left and right, made stale when
 * either has changed since (their ids tell). */
struct bpe_pair {
    int32_t rank, left, right, left_id, right_id, out;
};

struct bpe_run {
    const struct tokenizer *tok;
    uint32_t *cpt;   /* [n_cpt] the fragment's code points */
    uint8_t *cls;    /* [n_cpt] their unicode_flags */
    uint32_t *off;   /* [n_cpt + 1] their offsets in norm */
    uint8_t *norm;   /* the code points re-encoded (invalid bytes -> U+FFFD) */
    struct bpe_sym *sym;
    size_t cap_sym;
    struct tok_heap heap; /* of struct bpe_pair */
    struct tokenizer_ids *out;
    struct err *e;
};

static enum status bpe_word(struct bpe_run *r, size_t a, size_t b);

static int is_ascii_digit(uint32_t c)
{
    return c >= '0' && c <= '9';
}

/* "default" after the GPT-2 split: \p{N}+ runs, then [0-9][0-9][0-9]
 * (leftmost, non-overlapping); the text between matches is a word too. */
static enum status default_word(struct bpe_run *r, size_t a, size_t b)
{
    for (size_t i = a; i < b;) {
        int num = (r->cls[i] & UNICODE_NUMBER) != 0;
        size_t j = i;
        while (j < b && ((r->cls[j] & UNICODE_NUMBER) != 0) == num)
            j++;
        size_t start = i;
        for (size_t k = i; k + 3 <= j;) {
            if (is_ascii_digit(r->cpt[k]) && is_ascii_digit(r->cpt[k + 1]) &&
                is_ascii_digit(r->cpt[k + 2])) {
                if ((k > start && bpe_word(r, start, k)) || bpe_word(r, k, k + 3))
                    return STATUS_ERR;
                k += 3;
                start = k;
            } else {
                k++;
            }
        }
        if (start < j && bpe_word(r, start, j))
            return STATUS_ERR;
        i = j;
    }
    return STATUS_OK;
}

static enum status emit_word(struct bpe_run *r, size_t a, size_t b)
{
    return r->tok->pre == TOKENIZER_PRE_DEFAULT ? default_word(r, a, b) : bpe_word(r, a, b);
}

/* The GPT-2 split of code points [a, b), as the regex
 *   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
 * matches it, nothing looked at outside [a, b). */
static enum status gpt2_split(struct bpe_run *r, size_t a, size_t b)
{
    const unsigned LNS = UNICODE_LETTER | UNICODE_NUMBER | UNICODE_SPACE;
    const uint32_t *c = r->cpt;
    const uint8_t *cls = r->cls;
    for (size_t i = a; i < b;) {
        size_t j = i;
        if (c[i] == '\'' && i + 1 < b) {
            uint32_t c1 = c[i + 1], c2 = i + 2 < b ? c[i + 2] : 0;
            if (c1 == 's' || c1 == 't' || c1 == 'm' || c1 == 'd')
                j = i + 2;
            else if ((c1 == 'r' && c2 == 'e') || (c1 == 'v' && c2 == 'e') || (c1 == 'l' && c2 == 'l'))
                j = i + 3;
        }
        if (j == i) {
            /* an optional ' ' before a run of letters, numbers or others */
            size_t k = c[i] == ' ' && i + 1 < b ? i + 1 : i;
            unsigned f = cls[k];
            if (f & UNICODE_LETTER) {
                for (j = k + 1; j < b && (cls[j] & UNICODE_LETTER); j++) {
                }
            } else if (f & UNICODE_NUMBER) {
                for (j = k + 1; j < b && (cls[j] & UNICODE_NUMBER); j++) {
                }
            } else if (!(f & LNS)) {
                for (j = k + 1; j < b && !(cls[j] & LNS); j++) {
                }
            } else {
                /* white space (from i): the whole run when it ends the
                 * text or is one character, else all but its last
                 * character, which goes with what follows */
                size_t w = i;
                while (w < b && (cls[w] & UNICODE_SPACE))
                    w++;
                j = w - i > 1 && w < b ? w - 1 : w;
            }
        }
        if (emit_word(r, i, j))
            return STATUS_ERR;
        i = j;
    }
    return STATUS_OK;
}

/* "default" before the GPT-2 split: runs of [\p{P}$+<=>^`|] and the runs
 * between them are split separately. */
static int default_punct(uint32_t c, unsigned cls)
{
    if (cls & UNICODE_PUNCT)
        return 1;
    switch (c) {
    case '$': case '+': case '<': case '=': case '>': case '^': case '`': case '|':
        return 1;
    default:
        return 0;
    }
}

static enum status pre_tokenize(struct bpe_run *r, size_t n_cpt)
{
    if (r->tok->pre == TOKENIZER_PRE_GPT2)
        return gpt2_split(r, 0, n_cpt);
    for (size_t i = 0; i < n_cpt;) {
        int p = default_punct(r->cpt[i], r->cls[i]);
        size_t j = i + 1;
        while (j < n_cpt && default_punct(r->cpt[j], r->cls[j]) == p)
            j++;
        if (gpt2_split(r, i, j))
            return STATUS_ERR;
        i = j;
    }
    return STATUS_OK;
}

/* ---- merging ------------------------------------------------------------ */

/* Heap order: lower rank first; on equal ranks the leftmost pair. */
static int pair_before(const void *px, const void *py)
{
    const struct bpe_pair *x = px, *y = py;
    return x->rank < y->rank || (x->rank == y->rank && x->left < y->left);
}

/* Queues the merge of symbols left and right if the merges have one. */
static enum status queue_pair(struct bpe_run *r, int32_t left, int32_t right)
{
    if (left < 0 || right < 0)
        return STATUS_OK;
    const struct tokenizer *t = r->tok;
    int32_t lid = r->sym[left].id, rid = r->sym[right].id;
    if (lid < 0 || rid < 0)
        return STATUS_OK;
    uint32_t slot = pair_slot(t, pair_key(lid, rid));
    if (t->merge_key[slot] == PAIR_EMPTY)
        return STATUS_OK;
    struct bpe_pair p = {t->merge_rank[slot], left, right, lid, rid, t->merge_out[slot]};
    return tok_heap_push(&r->heap, &p, sizeof p, pair_before, r->e);
}

/* A symbol that is no token: each byte of its alphabet text as a
 * one-byte token (llama.cpp skips the bytes that have none; that would
 * lose text, so here it is an error). */
static enum status fallback(struct bpe_run *r, const uint8_t *w, uint32_t n)
{
    for (uint32_t i = 0; i < n; i++) {
        uint8_t u[4];
        size_t k = put_utf8(u, byte_to_cpt(w[i]));
        for (size_t j = 0; j < k; j++) {
            int32_t id = tokenizer_lookup(r->tok, (const char *)&u[j], 1);
            if (id < 0 || id >= r->tok->n_vocab)
                return err_set(r->e, "tokenizer_encode: byte 0x%02X (as '%.*s') is not in the "
                                     "vocab and has no one-byte tokens", w[i], (int)k, u);
            if (tokenizer_ids_push(r->out, id, r->e))
                return STATUS_ERR;
        }
    }
    return STATUS_OK;
}

/* Merges the bytes of code points [a, b) and appends their tokens. */
static enum status bpe_word(struct bpe_run *r, size_t a, size_t b)
{
    const struct tokenizer *t = r->tok;
    const uint8_t *w = r->norm + r->off[a];
    int32_t n = (int32_t)(r->off[b] - r->off[a]);
    if (n == 0)
        return STATUS_OK;
    if (tok_grow((void **)&r->sym, &r->cap_sym, (size_t)n, sizeof *r->sym, r->e))
        return STATUS_ERR;
    for (int32_t i = 0; i < n; i++)
        r->sym[i] = (struct bpe_sym){t->byte_sym[w[i]], i - 1, i + 1 < n ? i + 1 : -1, 1};

    r->heap.n = 0;
    for (int32_t i = 1; i < n; i++)
        if (queue_pair(r, i - 1, i))
            return STATUS_ERR;
    while (r->heap.n > 0) {
        struct bpe_pair p;
        tok_heap_pop(&r->heap, &p, sizeof p, pair_before);
        struct bpe_sym *l = &r->sym[p.left], *rt = &r->sym[p.right];
        if (l->n == 0 || rt->n == 0 || l->next != p.right || l->id != p.left_id ||
            rt->id != p.right_id)
            continue; /* stale: a side has merged since */
        l->id = p.out;
        l->n += rt->n;
        rt->n = 0;
        l->next = rt->next;
        if (rt->next >= 0)
            r->sym[rt->next].prev = p.left;
        if (queue_pair(r, l->prev, p.left) || queue_pair(r, p.left, l->next))
            return STATUS_ERR;
    }

    for (int32_t i = 0; i != -1; i = r->sym[i].next) {
        int32_t id = r->sym[i].id;
        if (id >= 0 && id < t->n_vocab) {
            if (tokenizer_ids_push(r->out, id, r->e))
                return STATUS_ERR;
        } else if (fallback(r, w + i, r->sym[i].n)) {
            return STATUS_ERR;
        }
    }
    return STATUS_OK;
}

enum status tokenizer_bpe_encode(const struct tokenizer *tok, const char *text, size_t len,
                                 struct tokenizer_ids *out, struct err *e)
{
    struct bpe_run r = {.tok = tok, .out = out, .e = e};
    enum status st = STATUS_ERR;
    const uint8_t *s = (const uint8_t *)text;

    r.cpt = malloc((len + 1) * sizeof *r.cpt);
    r.cls = malloc(len + 1);
    r.off = malloc((len + 1) * sizeof *r.off);
    r.norm = malloc(3 * len + 1); /* U+FFFD is 3 bytes for 1 */
    if (!r.cpt || !r.cls || !r.off || !r.norm) {
        err_set(e, "tokenizer_encode: out of memory for a text of %zu bytes", len);
        goto done;
    }
    size_t n_cpt = 0;
    uint32_t o = 0;
    for (size_t i = 0; i < len;) {
        uint32_t c = next_cpt(s, len, &i);
        r.cpt[n_cpt] = c;
        r.cls[n_cpt] = (uint8_t)unicode_flags(c);
        r.off[n_cpt++] = o;
        o += (uint32_t)put_utf8(r.norm + o, c);
    }
    r.off[n_cpt] = o;
    st = pre_tokenize(&r, n_cpt);

done:
    free(r.cpt);
    free(r.cls);
    free(r.off);
    free(r.norm);
    free(r.sym);
    free(r.heap.p);
    return st;
}

/* ---- decoding ----------------------------------------------------------- */

size_t tokenizer_bpe_piece(const char *s, size_t len, char *buf, size_t cap)
{
    const uint8_t *u = (const uint8_t *)s;
    size_t n = 0;
    for (size_t i = 0; i < len;) {
        size_t k = i;
        int b = cpt_to_byte(next_cpt(u, len, &k));
        if (b >= 0) {
            if (n < cap)
                buf[n] = (char)b;
            n++;
        } else {
            /* not an alphabet character: kept as it is (llama.cpp writes
             * a marker instead) */
            for (size_t j = i; j < k; j++, n++)
                if (n < cap)
                    buf[n] = s[j];
        }
        i = k;
    }
    return n;
}
