/* quant_k.h: ggml's K-quants Q4_K and Q6_K (weights) and Q8_K (activations):
 * block layouts, (de)quantizers and dot products.
 *
 * Block layouts are ggml's (facts of the GGUF format); a super-block holds
 * QK_K = 256 elements.
 *
 *   Q4_K (144 bytes): fp16 d, fp16 dmin, u8 scales[12], u8 qs[128].
 *     8 sub-blocks of 32 elements, each with a 6-bit scale sc[j] and a 6-bit
 *     min m[j] packed into scales[12] (quant_q4_k_scale_min):
 *       j < 4:  sc = scales[j] & 63,  m = scales[j + 4] & 63
 *       j >= 4: sc = (scales[j + 4] & 15) | (scales[j - 4] >> 6) << 4
 *               m  = (scales[j + 4] >> 4) | (scales[j] >> 6) << 4
 *     Element 64c + l (l < 32) is the low nibble of qs[32c + l] (sub-block
 *     2c), element 64c + 32 + l its high nibble (sub-block 2c + 1):
 *       x = (d * sc) * q - (dmin * m),  q in 0..15
 *   Q6_K (210 bytes): u8 ql[128], u8 qh[64], int8 scales[16], fp16 d.
 *     16 sub-blocks of 16 elements with signed 8-bit scales. In half h (0, 1),
 *     with ql' = ql + 64h, qh' = qh + 32h, and l < 32, the 6-bit q of element
 *     128h + 32k + l has its low 4 bits in
 *       k = 0: ql'[l] & 15    k = 1: ql'[l + 32] & 15
 *       k = 2: ql'[l] >> 4    k = 3: ql'[l + 32] >> 4
 *     and its high 2 bits in (qh'[l] >> 2k) & 3;  x = (d * scales[i / 16]) * (q - 32)
 *   Q8_K (292 bytes): float d, int8 qs[256], int16 bsums[16] (bsums[g] is the
 *     sum of qs[16g .. 16g + 15]);  x = d * q
 *
 * Dot products follow ggml: the activation row is quantized to Q8_K, then
 * each weight row is dotted with it super-block by super-block. Integer sums
 * are exact (int32); the float operations and their order are part of the
 * contract, which repacked layouts and fast kernels reproduce bit for bit:
 *
 *   Q4_K: acc = 0; for each super-block b, in order:
 *           isum = sum_j sc[j] * sum_l q[32j + l] * a.qs[32j + l]
 *           msum = sum_j m[j] * (a.bsums[2j] + a.bsums[2j + 1])
 *           d  = fp16(w.d) * a.d;   dm = fp16(w.dmin) * a.d
 *           t  = d * (float)isum;   tm = dm * (float)msum
 *           acc += t - tm           (the difference rounded, then added)
 *   Q6_K: acc = 0; for each super-block b, in order:
 *           isum = sum_i scales[i / 16] * (q[i] - 32) * a.qs[i]
 *           d = fp16(w.d) * a.d;   acc += d * (float)isum
 *
 * Every operation is its own rounding: no fma anywhere. The Q4_K dots and
 * the fast Q6_K dot read the activation's bsums (as ggml does), so
 * activations must come from quant_q8_k_quantize_row (or otherwise have
 * consistent bsums). */
#ifndef QUANT_K_H
#define QUANT_K_H

#include <stddef.h>
#include <stdint.h>

#define QK_K 256

struct block_q4_k {
    uint16_t d;          /* fp16 scale of the sub-block scales */
    uint16_t dmin;       /* fp16 scale of the sub-block mins */
    uint8_t scales[12];  /* 8 x (6-bit scale, 6-bit min), packed */
    uint8_t qs[QK_K / 2];
};

struct block_q6_k {
    uint8_t ql[QK_K / 2]; /* low 4 bits of each q */
    uint8_t qh[QK_K / 4]; /* high 2 bits of each q */
    int8_t scales[QK_K / 16];
    uint16_t d; /* fp16 super-block scale */
};

struct block_q8_k {
    float d;
    int8_t qs[QK_K];
    int16_t bsums[QK_K / 16];
};

_Static_assert(sizeof(struct block_q4_k) == 144, "block_q4_k is 144 bytes");
_Static_assert(sizeof(struct block_q6_k) == 210, "block_q6_k is 210 bytes");
_Static_assert(sizeof(struct block_q8_k) == 292, "block_q8_k is 292 bytes");

/* Unpacks the 8 six-bit scales and mins of a Q4_K super-block. */
void quant_q4_k_scale_min(const uint8_t scales[12], uint8_t sc[8], uint8_t m[8]);

/* Dequantizers: n elements (a multiple of QK_K) to float. */
void quant_q4_k_dequantize_row(const void *x, float *y, int64_t n);
void quant_q6_k_dequantize_row(const void *x, float *y, int64_t n);
void quant_q8_k_dequantize_row(const void *x, float *y, int64_t n);

/* Weight quantizers, n a multiple of QK_K: ggml's reference algorithms
 * (quantize_row_q4_K_ref: a weighted min/scale search per 32-element
 * sub-block, then 6-bit scales and mins; quantize_row_q6_K_ref: an
 * rmse-weighted scale search per 16-element sub-block, then 8-bit scales),
 * with the same float operations in the same order. y: a row of blocks. */
void quant_q4_k_quantize_row(const float *x, void *y, int64_t n);
void quant_q6_k_quantize_row(const float *x, void *y, int64_t n);

/* Activation quantizer (ggml's quantize_row_q8_K_ref): per super-block, the
 * first element of largest magnitude x_max sets iscale = -127 / x_max; q =
 * min(127, round-half-even(iscale * x)), d = 1 / iscale, bsums from q. An
 * all-zero block gets d = 0 and zero qs and bsums (ggml leaves bsums unset).
 * Scalar form and AVX2 form (the same bytes). Inputs must be finite. */
void quant_q8_k_quantize_row_ref(const float *x, void *y, int64_t n);

/* Dot products of one weight row (blocks of its type) with one Q8_K
 * activation row, n elements, in the order documented above. Weight and
 * activation bytes may be anything (any int8, -128 included). */
float quant_dot_q4_k_q8_k_ref(const void *w, const void *a, int64_t n);
float quant_dot_q6_k_q8_k_ref(const void *w, const void *a, int64_t n);

/* The AVX2 forms (kernels/x86/quant_k_x86.c): the same bits, only at a SIMD
 * level the CPU has (kernels.h). */
float quant_dot_q4_k_q8_k_avx2(const void *w, const void *a, int64_t n);
float quant_dot_q6_k_q8_k_avx2(const void *w, const void *a, int64_t n);
void quant_q8_k_quantize_row_avx2(const float *x, void *y, int64_t n);

#endif
