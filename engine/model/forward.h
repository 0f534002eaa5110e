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

/* llama.cpp's default n_ubatch: it evaluates a batch in micro-batches of
 * this many tokens. */
#define FORWARD_UBATCH 512

/* Runs n tokens at positions pos0..pos0+n-1 (pos0 + n <= n_ctx) as chunks of
 * up to n_batch. all_logits: n must be <= n_batch; returns n rows of n_vocab
 * logits. Otherwise returns the logits of the last position.
 *
 * The attention is llama.cpp's for the micro-batch each token would be
 * evaluated in there: its tiled F32 form for a micro-batch of 64 tokens or
 * more (when the head size allows it; forward.c), else its F16 form.
 * batch: the tokens are part of one llama.cpp batch of `batch` tokens at
 * positions 0..batch-1 (pos0 + n <= batch) that the caller feeds in several
 * calls (perplexity: a chunk); 0: this call's n tokens are the batch. So the
 * bytes are those of the tokens one at a time with forward() as long as the
 * micro-batch holds fewer than 64 tokens. NULL on bad arguments. */
const float *forward_batch(struct context *c, const int32_t *toks, int n, int32_t pos0, int all_logits,
                           int32_t batch);

#endif
