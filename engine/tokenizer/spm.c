/* spm.c: the SentencePiece ("llama") encoder, as llama.cpp's SPM tokenizer:
 * a raw fragment is escaped (' ' -> U+2581, with a leading one when asked),
 * cut into UTF-8 characters, and merged pairwise through a max-heap of
 * candidate bigrams keyed (score desc, left position asc); each final symbol
 * maps to its id, or to byte tokens. The front door (tokenizer.c) calls it
 * per raw fragment; the string table is vocab.c's. */
#include "tokenizer/tokenizer.h"

#include <stdlib.h>
#include <string.h>

#include "tokenizer/heap.h"

/* A symbol of the fragment being merged: esc[off, off+n), linked to its
 * live neighbours; n == 0 once merged into its left neighbour. */
struct symbol {
    int32_t prev, next;
    uint32_t off, n;
};

/* A candidate merge of symbols left and right into a token of this score.
 * size (the merged length) detects entries made stale by other merges. */
struct bigram {
    float score;
    int32_t left, right;
    uint32_t size;
};

struct encoder {
    const struct tokenizer *tok;
    char *esc;          /* escaped fragment */
    struct symbol *sym;
    struct tok_heap heap; /* of struct bigram */
    struct tokenizer_ids *ids;
    struct err *e;
};

static enum status push_id(struct encoder *en, int32_t id)
{
    return tokenizer_ids_push(en->ids, id, en->e);
}

/* Heap order: higher score first; on equal scores the leftmost pair. */
static int bigram_before(const void *pa, const void *pb)
{
    const struct bigram *a = pa, *b = pb;
    return a->score > b->score || (a->score == b->score && a->left < b->left);
}

/* Queues the merge of symbols left and right if their text is a token. */
static enum status try_bigram(struct encoder *en, int32_t left, int32_t right)
{
    if (left < 0 || right < 0)
        return STATUS_OK;
    const struct symbol *l = &en->sym[left], *r = &en->sym[right];
    uint32_t size = l->n + r->n;
    int32_t id = tokenizer_lookup(en->tok, en->esc + l->off, size);
    if (id < 0)
        return STATUS_OK;
    struct bigram b = {en->tok->score[id], left, right, size};
    return tok_heap_push(&en->heap, &b, sizeof b, bigram_before, en->e);
}

/* Bytes of a UTF-8 sequence from its lead byte (1 for stray bytes). */
static uint32_t utf8_len(uint8_t c)
{
    static const uint8_t len_by_high_nibble[16] = {1, 1, 1, 1, 1, 1, 1, 1,
                                                   1, 1, 1, 1, 2, 2, 3, 4};
    return len_by_high_nibble[c >> 4];
}

/* Merges the escaped fragment esc[0, n) and appends its tokens. */
static enum status encode_escaped(struct encoder *en, uint32_t n)
{
    const struct tokenizer *tok = en->tok;
    int32_t n_sym = 0;
    for (uint32_t off = 0; off < n;) {
        uint32_t len = utf8_len((uint8_t)en->esc[off]);
        if (len > n - off)
            len = n - off;
        struct symbol *s = &en->sym[n_sym];
        s->prev = n_sym - 1;
        s->next = off + len == n ? -1 : n_sym + 1;
        s->off = off;
        s->n = len;
        off += len;
        n_sym++;
    }
    if (n_sym == 0)
        return STATUS_OK;

    en->heap.n = 0;
    for (int32_t i = 1; i < n_sym; i++)
        if (try_bigram(en, i - 1, i))
            return STATUS_ERR;

    while (en->heap.n > 0) {
        struct bigram b;
        tok_heap_pop(&en->heap, &b, sizeof b, bigram_before);
        struct symbol *l = &en->sym[b.left], *r = &en->sym[b.right];
        if (l->n == 0 || r->n == 0 || l->n + r->n != b.size)
            continue; /* one side changed since this pair was queued */
        l->n += r->n;
        r->n = 0;
        l->next = r->next;
        if (r->next >= 0)
            en->sym[r->next].prev = b.left;
        if (try_bigram(en, l->prev, b.left) || try_bigram(en, b.left, l->next))
            return STATUS_ERR;
    }

    for (int32_t i = 0; i != -1; i = en->sym[i].next) {
        const struct symbol *s = &en->sym[i];
        int32_t id = tokenizer_lookup(tok, en->esc + s->off, s->n);
        if (id >= 0) {
            if (push_id(en, id))
                return STATUS_ERR;
            continue;
        }
        for (uint32_t j = 0; j < s->n; j++) {
            uint8_t c = (uint8_t)en->esc[s->off + j];
            if (tok->byte_id[c] < 0)
                return err_set(en->e, "tokenizer_encode: byte 0x%02X is not in the vocab "
                                      "and has no <0x%02X> token", c, c);
            if (push_id(en, tok->byte_id[c]))
                return STATUS_ERR;
        }
    }
    return STATUS_OK;
}

/* Escapes text[0, len) into en->esc (with a leading U+2581 if asked). */
static uint32_t escape(struct encoder *en, const char *text, size_t len, int prefix)
{
    char *d = en->esc;
    if (prefix) {
        memcpy(d, TOKENIZER_SPACE_ESC, TOKENIZER_SPACE_ESC_LEN);
        d += TOKENIZER_SPACE_ESC_LEN;
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == ' ') {
            memcpy(d, TOKENIZER_SPACE_ESC, TOKENIZER_SPACE_ESC_LEN);
            d += TOKENIZER_SPACE_ESC_LEN;
        } else {
            *d++ = text[i];
        }
    }
    return (uint32_t)(d - en->esc);
}

enum status tokenizer_spm_encode(const struct tokenizer *tok, const char *text, size_t len, int space_prefix,
                                 struct tokenizer_ids *out, struct err *e)
{
    /* one symbol per escaped byte at most: a stray lead byte before a space
     * splits its U+2581 into several symbols */
    size_t cap = TOKENIZER_SPACE_ESC_LEN * len + TOKENIZER_SPACE_ESC_LEN;
    struct encoder en = {.tok = tok, .ids = out, .e = e};
    en.esc = malloc(cap);
    en.sym = malloc(cap * sizeof *en.sym);
    enum status st;
    if (!en.esc || !en.sym)
        st = err_set(e, "tokenizer_encode: out of memory for a text of %zu bytes", len);
    else
        st = encode_escaped(&en, escape(&en, text, len, space_prefix));
    free(en.esc);
    free(en.sym);
    free(en.heap.p);
    return st;
}
