/* attention.h: one head of causal attention over an F16 KV cache, computed as
 * ggml's CPU flash attention does it, in a scalar _ref and an F16C/AVX2 form
 * that return the same bits. ggml has two arithmetics, and llama.cpp picks
 * one per micro-batch (the rule is forward.c's): the F16 one first below,
 * and the tiled F32 one further down.
 *
 * F16 form. For t = 0..n_kv-1: s = (q . k_t) * scale, where q is the query
 * already rounded to F16 and the dot sums lane j = d mod 8 in order, then the
 * lanes as ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7)); an online softmax keeps the
 * maximum M and the sum S, and the output accumulates in F16 as ggml does:
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

/* Tiled F32 form (ggml's flash attention for a micro-batch of 64 query rows
 * or more). The query stays F32, keys and values are widened exactly from
 * the F16 cache, the accumulator is F32. Positions go in tiles of
 * ATTENTION_TILE (0..63, 64..127, ...), and per tile:
 *   s_t = (q . k_t) * scale, the dot in the 8 lanes and order of the F16 form;
 *   m = the largest s_t of the tile; if m > M: c = exp(M - m), acc = acc * c,
 *     S = S * c, M = m (M starts at -inf, S and acc at 0);
 *   p_t = exp(s_t - M); S = f32((double)S + the p_t of the tile summed in
 *     double, t in order);
 *   acc = acc + p_t * v_t, t in order.
 * out = acc * (1 / S). Multiplies and adds are separate (never fused). */
#define ATTENTION_TILE 64

/* The softmax step of one tile, shared by every form of the tiled one: s
 * holds the tile's n scores and gets their weights p_t; *m (M) and *sum (S)
 * are updated. Returns c, the factor the accumulator must be multiplied by
 * before this tile's values are added (1: the maximum did not rise). */
float attention_tile_softmax(float *s, int n, float *m, float *sum);

/* q: [hd] F32 query; k, v and stride as above; out: [hd], also the
 * accumulator. */
void attention_head_f32_ref(const float *q, const uint16_t *k, const uint16_t *v, size_t stride, int n_kv, int hd,
                            float scale, float *out);
/* The F16C/AVX2 form (kernels/x86/attention_x86.c), only at a SIMD level the
 * CPU has; hd % 8 != 0 falls back to attention_head_f32_ref. */
void attention_head_f32_f16c(const float *q, const uint16_t *k, const uint16_t *v, size_t stride, int n_kv, int hd,
                             float scale, float *out);

#endif
