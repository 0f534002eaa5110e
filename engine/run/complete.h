/* complete.h: greedy completion of a prompt.
 *
 * Prints the prompt as given, then the piece of each generated token, to out
 * (flushed per token); stops after n_predict tokens or at EOS (not printed),
 * and ends with a newline. Deterministic: argmax with the lowest id on ties. */
#ifndef COMPLETE_H
#define COMPLETE_H

#include <stdio.h>

#include "core/err.h"
#include "model/forward.h"
#include "model/memreport.h"

/* The greedy choice: the lowest index of the largest of the n logits (n >= 1),
 * as `logits[v] > logits[best]` over v = 1.. picks it (NaN never wins). */
int32_t complete_greedy(const float *logits, int32_t n);

struct complete_stats {
    size_t n_prompt;
    int n_gen;
    double prompt_s, gen_s;
};

/* Options beyond the prompt; NULL means all off.
 * logits_digest: after the text, print "logits fnv1a64 HEX over N vectors of
 *   V": a digest of the raw bits of every logit vector the run computed (the
 *   prompt's last position, then one per generated token), so the identity
 *   gate sees a change of one ulp in any logit, not only in the chosen tokens.
 *   It is one byte-wise pass over each logit vector inside the generation loop,
 *   so the reported generation time includes it (both sides of an A/B alike).
 * The two test knobs exist to measure the nightly gate (docs/BENCH.md) and
 * change nothing when 0:
 *   test_slowdown_pct: after each generation step, spin for that percentage
 *     of the step's time (a deliberate slowdown; output unchanged);
 *   test_ulp: the digest sees logit 0 of the first vector one ulp higher (a
 *     deliberate one-ulp output change). */
struct complete_opts {
    int logits_digest;
    double test_slowdown_pct;
    int test_ulp;
};

/* mr may be NULL; it receives the first_token phase after the prompt. */
enum status complete_run(struct context *c, const char *prompt, int n_predict, const struct complete_opts *co,
                         FILE *out, struct complete_stats *st, struct memreport *mr, struct err *e);

#endif
