/* heap.c: the growable arrays of the tokenizers (heap.h); the heap
 * itself is static inline in the header. */
#include "tokenizer/heap.h"

#include <stdlib.h>

enum status tok_grow(void **p, size_t *cap, size_t need, size_t elem, struct err *e)
{
    if (need <= *cap)
        return STATUS_OK;
    size_t c = *cap ? *cap : 64;
    while (c < need)
        c *= 2;
    void *q = realloc(*p, c * elem);
    if (!q)
        return err_set(e, "tokenizer_encode: out of memory (%zu entries)", c);
    *p = q;
    *cap = c;
    return STATUS_OK;
}
