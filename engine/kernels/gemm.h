/* gemm.h: one group of 8 repacked weight rows times n_tok activation rows.
 *
 * out[t * out_stride + r] = dot(row r of the group, activation row t), for
 * r < 8 and t < n_tok, each bit-identical to the per-row _ref dot (quant.h,
 * quant_k.h): the weights of the group are read once for all the tokens, so a
 * batch turns the memory-bound matrix-vector product into a compute-bound one.
 * Token-major activations: rows a_stride blocks apart. The VNNI Q4_0 / Q8_0
 * kernels take block-major ones instead (gemm_q8_0_to_block_major) with, per
 * activation block, ad (its scale as a float) and neg8 (-8 x the sum of its
 * quants: the nibble offset, where the integer dot starts) from
 * gemm_q8_0_prepare. */
#ifndef GEMM_H
#define GEMM_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/quant.h"
#include "kernels/quant_k.h"

/* Fills ad and neg8 for nb blocks of one activation row. */
void gemm_q8_0_prepare(const struct block_q8_0 *a, int64_t nb, float *ad, int32_t *neg8);
/* Copies the nb blocks of token t (a, ad, neg8: that token's row) to the
 * block-major layout of the VNNI kernels, block b of token t at b * n_tok + t
 * in bm, bm_ad and bm_neg8; one token per call, so tokens can go to threads. */
void gemm_q8_0_to_block_major(const struct block_q8_0 *a, const float *ad, const int32_t *neg8, int t, int n_tok,
                              int64_t nb, struct block_q8_0 *bm, float *bm_ad, int32_t *bm_neg8);

/* ---- reference forms (kernels/ref/gemm.c) -----------------------------------
 * A repacked Q4_0 / Q8_0 / Q4_K group, token by token through the 8-row dot
 * kernels of repack.h, the group's weights staying in cache between tokens. */
void gemm_q4_0_8rows_ref(const void *w, const struct block_q8_0 *a, size_t a_stride, int n_tok, int64_t n,
                         float *out, size_t out_stride);
void gemm_q8_0_8rows_ref(const void *w, const struct block_q8_0 *a, size_t a_stride, int n_tok, int64_t n,
                         float *out, size_t out_stride);
void gemm_q4_k_8rows_ref(const void *w, const struct block_q8_k *a, size_t a_stride, int n_tok, int64_t n,
                         float *out, size_t out_stride);
/* 8 consecutive rows of a plain (not repacked) Q4_0 / Q8_0 / Q6_K matrix,
 * rows rb bytes apart, times n_tok activation rows; same contract as above
 * (Q6_K: Q8_K activations with consistent bsums, n a multiple of QK_K). */
void gemm_q4_0_plain8_ref(const void *w, size_t rb, const struct block_q8_0 *a, size_t a_stride, int n_tok,
                          int64_t n, float *out, size_t out_stride);
void gemm_q8_0_plain8_ref(const void *w, size_t rb, const struct block_q8_0 *a, size_t a_stride, int n_tok,
                          int64_t n, float *out, size_t out_stride);
void gemm_q6_k_plain8_ref(const void *w, size_t rb, const struct block_q8_k *a, size_t a_stride, int n_tok,
                          int64_t n, float *out, size_t out_stride);

/* ---- AVX2 forms (kernels/x86): only at a SIMD level the CPU has (kernels.h).
 * The Q6_K form decodes each weight super-block once per tile of up to 16
 * tokens. */
void gemm_q4_0_8rows_avx2(const void *w, const struct block_q8_0 *a, size_t a_stride, int n_tok, int64_t n,
                          float *out, size_t out_stride);
void gemm_q8_0_8rows_avx2(const void *w, const struct block_q8_0 *a, size_t a_stride, int n_tok, int64_t n,
                          float *out, size_t out_stride);
void gemm_q4_k_8rows_avx2(const void *w, const struct block_q8_k *a, size_t a_stride, int n_tok, int64_t n,
                          float *out, size_t out_stride);
void gemm_q4_0_plain8_avx2(const void *w, size_t rb, const struct block_q8_0 *a, size_t a_stride, int n_tok,
                           int64_t n, float *out, size_t out_stride);
void gemm_q8_0_plain8_avx2(const void *w, size_t rb, const struct block_q8_0 *a, size_t a_stride, int n_tok,
                           int64_t n, float *out, size_t out_stride);
void gemm_q6_k_plain8_avx2(const void *w, size_t rb, const struct block_q8_k *a, size_t a_stride, int n_tok,
                           int64_t n, float *out, size_t out_stride);

/* ---- AVX-512 VNNI forms (kernels/x86): only at KERN_VNNI. The repacked
 * Q4_0 and Q8_0 forms take block-major activations (gemm_q8_0_to_block_major;
 * with one token both layouts are the same). */
void gemm_q4_0_8rows_vnni(const void *w, const struct block_q8_0 *a, const float *ad, const int32_t *neg8, int n_tok,
                          int64_t n, float *out, size_t out_stride);
/* Two consecutive repacked Q4_0 groups (16 rows, the second group nb = n / 32
 * blocks after the first), with AVX-512 registers: the bits of two calls of
 * the 8-row form; out[t * out_stride + r], r < 16. */
void gemm_q4_0_16rows_vnni(const void *w, const struct block_q8_0 *a, const float *ad, const int32_t *neg8,
                           int n_tok, int64_t n, float *out, size_t out_stride);
void gemm_q8_0_8rows_vnni(const void *w, const struct block_q8_0 *a, const float *ad, const int32_t *neg8, int n_tok,
                          int64_t n, float *out, size_t out_stride);
void gemm_q4_k_8rows_vnni(const void *w, const struct block_q8_k *a, size_t a_stride, int n_tok, int64_t n,
                          float *out, size_t out_stride);
/* Two consecutive repacked Q4_K groups (16 rows, the second group n / 256
 * super-blocks after the first), as gemm_q4_0_16rows_vnni: the bits of two
 * calls of the 8-row form. */
void gemm_q4_k_16rows_vnni(const void *w, const struct block_q8_k *a, size_t a_stride, int n_tok, int64_t n,
                           float *out, size_t out_stride);
void gemm_q4_0_plain8_vnni(const void *w, size_t rb, const struct block_q8_0 *a, size_t a_stride, int n_tok,
                           int64_t n, float *out, size_t out_stride);
void gemm_q6_k_plain8_vnni(const void *w, size_t rb, const struct block_q8_k *a, size_t a_stride, int n_tok,
                           int64_t n, float *out, size_t out_stride);
/* 16 consecutive plain Q6_K rows, with AVX-512 registers: the bits of two
 * calls of the 8-row form; out[t * out_stride + r], r < 16. */
void gemm_q6_k_plain16_vnni(const void *w, size_t rb, const struct block_q8_k *a, size_t a_stride, int n_tok,
                            int64_t n, float *out, size_t out_stride);

#endif
