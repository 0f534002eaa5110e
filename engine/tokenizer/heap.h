/* heap.h: the growable arrays and the binary heap both tokenizers merge
 * with: tokenizer.c queues SPM bigrams (highest score first),
 * bpe.c BPE pairs (lowest rank first). Internal to the tokenizers.
 *
 * The heap holds entries of one size in the order of the caller's before();
 * both callers break equal keys by position, so the order entries come out
 * in is fully determined. Push and pop are static inline and take the entry
 * size and order as arguments: at each call site they are constants, and
 * the compiler turns the copies and comparisons into plain code. */
#ifndef TOK_HEAP_H
#define TOK_HEAP_H

#include <stddef.h>
#include <string.h>

#include "core/err.h"

/* Makes the array *p of *cap elements of elem bytes hold at least need
 * elements, doubling the capacity (64 when empty) until it does. On failure
 * *p and *cap are unchanged and e says "tokenizer_encode: out of memory". */
enum status tok_grow(void **p, size_t *cap, size_t need, size_t elem, struct err *e);

/* A binary heap; zero it to start, free p when done. */
struct tok_heap {
    void *p; /* [cap] entries, the first n in use */
    size_t n, cap;
};

/* True when entry a must come out before entry b. */
typedef int (*tok_before_fn)(const void *a, const void *b);

/* Adds a copy of the elem-byte entry at x (not a pointer into the heap). */
static inline enum status tok_heap_push(struct tok_heap *h, const void *x, size_t elem,
                                        tok_before_fn before, struct err *e)
{
    if (h->n == h->cap && tok_grow(&h->p, &h->cap, h->n + 1, elem, e))
        return STATUS_ERR;
    char *a = h->p;
    size_t i = h->n++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!before(x, a + parent * elem))
            break;
        memcpy(a + i * elem, a + parent * elem, elem);
        i = parent;
    }
    memcpy(a + i * elem, x, elem);
    return STATUS_OK;
}

/* Moves the first entry into *top; h->n must be > 0. */
static inline void tok_heap_pop(struct tok_heap *h, void *top, size_t elem, tok_before_fn before)
{
    char *a = h->p;
    memcpy(top, a, elem);
    size_t n = --h->n, i = 0;
    /* the last entry stays at index n: the sift writes only below n */
    const char *last = a + n * elem;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= n)
            break;
        if (c + 1 < n && before(a + (c + 1) * elem, a + c * elem))
            c++;
        if (!before(a + c * elem, last))
            break;
        memcpy(a + i * elem, a + c * elem, elem);
        i = c;
    }
    if (n > 0)
        memcpy(a + i * elem, last, elem);
}

#endif
