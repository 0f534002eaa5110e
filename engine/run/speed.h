/* speed.h: prompt-processing and generation speed (`minillm bench`), in the
 * spirit of llama-bench.
 *
 * pp: n_prompt fixed pseudo-random tokens from position 0; tg: n_gen tokens
 * generated one at a time after a one-token prompt. Each test runs `reps`
 * times after one warm-up; mean and standard deviation of tokens/s are
 * printed as a Markdown table. The logits of every repetition are hashed and
 * must be identical, so no speed figure stands without its identity check.
 * After tg a line gives the weight bytes one token reads, the GB/s that makes
 * at the measured rate, and the rate of streaming the same bytes with the
 * same threads and no arithmetic: generation's memory ceiling right now. */
#ifndef SPEED_H
#define SPEED_H

#include <stdio.h>

#include "core/err.h"
#include "model/forward.h"

struct speed_opts {
    int n_prompt; /* 0: skip pp */
    int n_gen;    /* 0: skip tg */
    int reps;
};

enum status speed_run(struct context *c, const struct speed_opts *o, const char *model_name, FILE *out,
                      struct err *e);

#endif
