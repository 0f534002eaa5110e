/* perplexity.h: llama.cpp's perplexity method over a text file.
 *
 * The whole file is tokenized (with BOS when the vocab adds it) and cut into
 * non-overlapping chunks of n_ctx tokens; each chunk's first token is replaced
 * by BOS; only the second half of each chunk is scored: positions n_ctx/2 ..
 * n_ctx-2 predict the next token. Prints "[k]ppl," per chunk on one line and
 * "Final estimate: PPL = X +/- Y" as llama-perplexity does. */
#ifndef PERPLEXITY_H
#define PERPLEXITY_H

#include <stdio.h>

#include "core/err.h"
#include "model/forward.h"
#include "model/memreport.h"

/* n_chunks <= 0: as many as the text holds. mr may be NULL (first_token phase). */
enum status perplexity_run(struct context *c, const char *path, int n_chunks, FILE *out, FILE *log,
                           struct memreport *mr, struct err *e);

#endif
