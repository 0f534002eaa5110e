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

/* One Q8_K activation super-block laid out for the VNNI Q4_K kernel's
 * one-token form, which then reads a repacked group's quants as stored, with
 * no shuffle: for chunk c (quants 64c .. 64c + 63) and word pair k, q[c][k][0]
 * repeats word 2k of the low 32 quants in its first 8 words and word 2k + 1
 * in its last 8 (a repacked load puts rows 0-7 of word 2k beside rows 0-7 of
 * word 2k + 1), q[c][k][1] the same of the high 32; mins[i] holds the int16
 * sums bsums[4i] + bsums[4i + 1] (low half) and bsums[4i + 2] + bsums[4i + 3]
 * (high half) that the mins multiply; d is the block's scale. */
struct gemm_q8k_one {
    _Alignas(64) uint32_t q[4][4][2][16];
    /* the VNNI Q6_K kernel's prepared form (q6z_prepare, kernels/x86):
     * the 256 quants as four 64-byte vectors transposed by 32-bit words
     * within 128-bit lanes, then -32 x the bsum of each lane's sub-block */
    _Alignas(64) uint32_t q6[5][16];
    int32_t mins[4];
    float d;
};

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
/* One token through GEMM_STREAMS repacked groups w[s] (anywhere in memory)
 * at once, their quants read side by side (as many streams): the bits of
 * gemm_q4_0_8rows_vnni with n_tok 1 on each; out[s]: 8 floats each. */
#define GEMM_STREAMS 4
void gemm_q4_0_one_streams_vnni(const void *const w[GEMM_STREAMS], const struct block_q8_0 *a, const float *ad,
                                const int32_t *neg8, int64_t n, float *const out[GEMM_STREAMS]);
/* Two consecutive repacked Q4_0 groups (16 rows, the second group nb = n / 32
 * blocks after the first), with AVX-512 registers: the bits of two calls of
 * the 8-row form; out[t * out_stride + r], r < 16. */
void gemm_q4_0_16rows_vnni(const void *w, const struct block_q8_0 *a, const float *ad, const int32_t *neg8,
                           int n_tok, int64_t n, float *out, size_t out_stride);
void gemm_q8_0_8rows_vnni(const void *w, const struct block_q8_0 *a, const float *ad, const int32_t *neg8, int n_tok,
                          int64_t n, float *out, size_t out_stride);
/* Expands nb super-blocks of one activation row (x: nb entries). */
void gemm_q8_k_expand_one_vnni(const struct block_q8_k *a, int64_t nb, struct gemm_q8k_one *x);
/* one: with n_tok == 1, a's row expanded by gemm_q8_k_expand_one_vnni, or
 * NULL (then the kernel expands it piece by piece itself: the same bits). */
void gemm_q4_k_8rows_vnni(const void *w, const struct block_q8_k *a, size_t a_stride, int n_tok, int64_t n,
                          float *out, size_t out_stride, const struct gemm_q8k_one *one);
/* Two consecutive repacked Q4_K groups (16 rows, the second group n / 256
 * super-blocks after the first), as gemm_q4_0_16rows_vnni: the bits of two
 * calls of the 8-row form. */
/* One token through GEMM_STREAMS repacked groups w[s] at once, read side by
 * side: the bits of gemm_q4_k_8rows_vnni on each; out[s]: 8 floats each.
 * one: the token's row expanded by gemm_q8_k_expand_one_vnni (not NULL). */
void gemm_q4_k_one_streams_vnni(const void *const w[GEMM_STREAMS], int64_t n, const struct gemm_q8k_one *one,
                                float *const out[GEMM_STREAMS]);
void gemm_q4_k_16rows_vnni(const void *w, const struct block_q8_k *a, size_t a_stride, int n_tok, int64_t n,
                           float *out, size_t out_stride);
void gemm_q4_0_plain8_vnni(const void *w, size_t rb, const struct block_q8_0 *a, size_t a_stride, int n_tok,
                           int64_t n, float *out, size_t out_stride);
/* one: as gemm_q4_k_8rows_vnni's (NULL: the kernel prepares each
 * activation super-block itself, once per call) */
void gemm_q6_k_plain8_vnni(const void *w, size_t rb, const struct block_q8_k *a, size_t a_stride, int n_tok,
                           int64_t n, float *out, size_t out_stride, const struct gemm_q8k_one *one);
/* 16 consecutive plain Q6_K rows, with AVX-512 registers: the bits of two
 * calls of the 8-row form; out[t * out_stride + r], r < 16. */
void gemm_q6_k_plain16_vnni(const void *w, size_t rb, const struct block_q8_k *a, size_t a_stride, int n_tok,
                            int64_t n, float *out, size_t out_stride, const struct gemm_q8k_one *one);
/* One token through GEMM_STREAMS groups of 8 plain Q6_K rows at w[s] (each
 * group 8 rows of n / QK_K super-blocks, contiguous), its Q8_K row expanded
 * in one: out[s][r] gets the bits of gemm_q6_k_plain8_vnni on each group. */
void gemm_q6_k_one_streams_vnni(const void *const w[GEMM_STREAMS], int64_t n, const struct gemm_q8k_one *one,
                                float *const out[GEMM_STREAMS]);

#endif
