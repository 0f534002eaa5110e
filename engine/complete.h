/* complete.h: greedy completion of a prompt.
 *
 * Prints the prompt as given, then the piece of each generated token, to out
 * (flushed per token); stops after n_predict tokens or at EOS (not printed),
 * and ends with a newline. Deterministic: argmax with the lowest id on ties. */
#ifndef COMPLETE_H
#define COMPLETE_H

#include <stdio.h>

#include "err.h"
#include "forward.h"
#include "memreport.h"

struct complete_stats {
    size_t n_prompt;
    int n_gen;
    double prompt_s, gen_s;
};

/* mr may be NULL; it receives the first_token phase after the prompt. */
enum status complete_run(struct context *c, const char *prompt, int n_predict, FILE *out, struct complete_stats *st,
                         struct memreport *mr, struct err *e);

#endif
