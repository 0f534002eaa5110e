/* vocab.c: the string table both tokenizers share: token texts and BPE
 * pseudo ids in one growable buffer, an open-addressing hash table text ->
 * id (FNV-1a, linear probing, at most half full), and the id lists the
 * encoders append to. The SentencePiece side (tokenizer.c) and the BPE side
 * (bpe.c) call into it; it calls neither. */
#include "tokenizer/tokenizer.h"

#include <stdlib.h>
#include <string.h>

#include "tokenizer/heap.h"

/* ---- lookup ---------------------------------------------------------- */

static uint32_t hash_bytes(const char *s, size_t n)
{
    uint32_t h = 2166136261u; /* FNV-1a */
    for (size_t i = 0; i < n; i++) {
        h ^= (uint8_t)s[i];
        h *= 16777619u;
    }
    return h;
}

static const char *tok_text(const struct tokenizer *tok, int32_t id, size_t *len)
{
    *len = tok->text_off[id + 1] - tok->text_off[id];
    return tok->text + tok->text_off[id];
}

/* Slot holding s (its id is >= 0) or the empty slot where it would go. */
static uint32_t hash_slot(const struct tokenizer *tok, const char *s, size_t n, uint32_t h)
{
    uint32_t i = h & tok->hash_mask;
    for (;;) {
        int32_t id = tok->hash_ids[i];
        if (id < 0)
            return i;
        if (tok->hash_val[i] == h) {
            size_t len;
            const char *t = tok_text(tok, id, &len);
            if (len == n && memcmp(t, s, n) == 0)
                return i;
        }
        i = (i + 1) & tok->hash_mask;
    }
}

int32_t tokenizer_lookup(const struct tokenizer *tok, const char *s, size_t n)
{
    if (n > tok->max_token_len)
        return -1;
    return tok->hash_ids[hash_slot(tok, s, n, hash_bytes(s, n))];
}

const char *tokenizer_text(const struct tokenizer *tok, int32_t id, size_t *len)
{
    return tok_text(tok, id, len);
}

/* (Re)builds the hash table with `size` slots (a power of two) from the
 * n_text strings; a duplicate text maps to its last id, as llama.cpp's map
 * does. */
enum status tokenizer_hash_build(struct tokenizer *t, uint32_t size, struct err *e)
{
    free(t->hash_ids);
    free(t->hash_val);
    t->hash_ids = malloc(size * sizeof *t->hash_ids);
    t->hash_val = malloc(size * sizeof *t->hash_val);
    if (!t->hash_ids || !t->hash_val)
        return err_set(e, "tokenizer_load: out of memory for a %u-slot hash table", size);
    t->hash_mask = size - 1;
    for (uint32_t i = 0; i < size; i++)
        t->hash_ids[i] = -1;
    for (int32_t id = 0; id < t->n_text; id++) {
        size_t len;
        const char *s = tok_text(t, id, &len);
        uint32_t h = hash_bytes(s, len);
        uint32_t slot = hash_slot(t, s, len, h);
        t->hash_ids[slot] = id;
        t->hash_val[slot] = h;
        if (len > t->max_token_len)
            t->max_token_len = (uint32_t)len;
    }
    return STATUS_OK;
}

enum status tokenizer_intern(struct tokenizer *t, const char *s, size_t n, int32_t *id,
                             struct err *e)
{
    *id = tokenizer_lookup(t, s, n);
    if (*id >= 0)
        return STATUS_OK;
    uint32_t used = t->text_off[t->n_text];
    if (t->n_text >= INT32_MAX / 4 || used > UINT32_MAX / 2 || n > UINT32_MAX / 2 - used)
        return err_set(e, "tokenizer_load: string table full (%d strings, %u bytes)",
                       (int)t->n_text, used);
    if (used + n > t->text_cap) {
        uint32_t cap = t->text_cap < 64 ? 64 : t->text_cap;
        while (cap < used + n)
            cap = cap > UINT32_MAX / 2 ? UINT32_MAX : 2 * cap;
        char *p = realloc(t->text, cap);
        if (!p)
            return err_set(e, "tokenizer_load: out of memory for %u bytes of strings", cap);
        t->text = p;
        t->text_cap = cap;
    }
    if (t->n_text + 2 > t->off_cap) {
        int32_t cap = 2 * t->off_cap;
        uint32_t *p = realloc(t->text_off, (size_t)cap * sizeof *p);
        if (!p)
            return err_set(e, "tokenizer_load: out of memory for %d strings", (int)cap);
        t->text_off = p;
        t->off_cap = cap;
    }
    if (n)
        memcpy(t->text + used, s, n);
    *id = t->n_text++;
    t->text_off[t->n_text] = used + (uint32_t)n;
    /* keep the table at most half full */
    if (2u * (uint32_t)t->n_text > t->hash_mask + 1)
        return tokenizer_hash_build(t, 2 * (t->hash_mask + 1), e);
    uint32_t h = hash_bytes(s, n);
    uint32_t slot = hash_slot(t, s, n, h);
    t->hash_ids[slot] = *id;
    t->hash_val[slot] = h;
    if (n > t->max_token_len)
        t->max_token_len = (uint32_t)n;
    return STATUS_OK;
}

enum status tokenizer_ids_push(struct tokenizer_ids *v, int32_t id, struct err *e)
{
    if (v->n == v->cap && tok_grow((void **)&v->p, &v->cap, v->n + 1, sizeof *v->p, e))
        return STATUS_ERR;
    v->p[v->n++] = id;
    return STATUS_OK;
}
