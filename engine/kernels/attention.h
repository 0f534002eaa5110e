/* attention.h: one head of causal attention over an F16 KV cache, computed as
 * ggml's CPU flash attention does it, in a scalar _ref and an F16C/AVX2 form
 * that return the same bits.
 *
 * For t = 0..n_kv-1: s = (q . k_t) * scale, where q is the query already
 * rounded to F16 and the dot sums lane j = d mod 8 in order, then the lanes
 * as ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7)); an online softmax keeps the maximum
 * M and the sum S, and the output accumulates in F16 as ggml does:
 *   s > M:  acc = f16(acc * exp(M_old - M)), acc = f16(acc + v_t)   (weight 1)
 *   else:   acc = f16(acc + v_t * exp(s - M))
 * out = f32(acc) / S. Multiplies and adds are separate (never fused). */
#ifndef ATTENTION_H
#define ATTENTION_H

#include <stddef.h>
#include <stdint.h>

/* q: [hd] F16 query; k, v: n_kv rows of `stride` F16 elements (the head's
 * hd values at the start of each row); acc: [hd] F16 scratch; out: [hd]. */
void attention_head_ref(const uint16_t *q, const uint16_t *k, const uint16_t *v, size_t stride, int n_kv, int hd,
                        float scale, uint16_t *acc, float *out);
/* The F16C/AVX2 form (kernels/x86/attention_x86.c), only at a SIMD level
 * the CPU has (kernels.h); hd % 8 != 0 falls back to attention_head_ref. */
void attention_head_f16c(const uint16_t *q, const uint16_t *k, const uint16_t *v, size_t stride, int n_kv, int hd,
                         float scale, uint16_t *acc, float *out);

#endif
