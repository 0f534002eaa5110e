/* forward.h: the llama forward pass over a context (context.h).
 *
 * forward() consumes one token at position pos and returns the logits
 * (n_vocab floats, owned by the context, overwritten by the next call);
 * forward_batch() consumes several. Nothing is allocated here. */
#ifndef FORWARD_H
#define FORWARD_H

#include <stdint.h>

#include "model/context.h"

/* Runs token `tok` at position `pos` (< n_ctx); returns the logits. */
const float *forward(struct context *c, int32_t tok, int32_t pos);

/* Runs n tokens at positions pos0..pos0+n-1 (pos0 + n <= n_ctx) as batches of
 * up to n_batch. all_logits: n must be <= n_batch; returns n rows of n_vocab
 * logits. Otherwise returns the logits of the last position. The bytes are
 * the same as running the tokens one at a time with forward(). */
const float *forward_batch(struct context *c, const int32_t *toks, int n, int32_t pos0, int all_logits);

#endif
