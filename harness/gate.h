/* gate.h: the identity gate. No speed or memory figure counts unless the
 * run's output equals its group reference's byte for byte.
 *
 * What is compared depends on the workload: complete compares the whole
 * stdout; perplexity compares the perplexity lines only (every "[k]x.xxxx"
 * value and the "Final estimate" line), so log noise around them is free. */
#ifndef RB_GATE_H
#define RB_GATE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "spec.h"

/* The bytes to compare, in a new buffer (*text, *len) the caller frees.
 * Perplexity output without any perplexity value is an error. */
enum status gate_identity_text(enum sweep_wl kind, const char *out, size_t n, char **text, size_t *len,
                               struct err *e);

struct gate_diff {
    int64_t offset;      /* first differing byte; the shorter length if one is a prefix */
    char ref_ctx[128];   /* bytes around it, escaped, the differing one in >>..<< */
    char new_ctx[128];
};

/* 1 when equal; else 0 and d (may be NULL) says where and shows both sides. */
int gate_compare(const char *ref, size_t n_ref, const char *got, size_t n_got, struct gate_diff *d);

/* The final perplexity ("Final estimate: PPL = X"), or -1 when absent. */
double gate_ppl_final(const char *text);

#endif
