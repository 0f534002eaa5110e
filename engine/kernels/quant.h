/* quant.h: tensor element types, their block layouts, and the kernels that
 * convert and multiply them.
 *
 * Block layouts are ggml's (facts of the GGUF format):
 *   Q8_0: 32 elements = fp16 d, int8 qs[32]              -> x = d * q
 *   Q4_0: 32 elements = fp16 d, uint8 qs[16]             -> x = d * (nibble - 8);
 *         element j (j < 16) is the low nibble of qs[j], element j + 16 the high one.
 *
 * Matrix-vector products follow ggml: for Q4_0 and Q8_0 weights the activation row
 * is first quantized to Q8_0 (quant_q8_0_quantize_act), then each weight row is
 * dotted with it block by block: sum over blocks of (d_w * d_a) * (integer dot).
 * Every kernel has a scalar `_ref` form; fast forms must return the same bits.
 *
 * The accumulation order of a dot product is part of its contract (repacked
 * layouts and fast kernels reproduce it exactly): blocks are visited in order,
 * each block's integer dot is exact, and the float sum is
 *   acc = 0; for each block b: acc += (float)(fp16(d_w[b]) * fp16(d_a[b])) * (float)isum[b];
 * The engine dots F32 and F16 weight rows with an F32 activation row in the
 * 8-lane order of vec.h; quant_dot_f32_ref and quant_dot_f16_ref below keep
 * the plain index order. Which form runs at which SIMD level is the kernel
 * table's business (kernels.h). */
#ifndef QUANT_H
#define QUANT_H

#include <stddef.h>
#include <stdint.h>

#include "format/gguf.h"
#include "kernels/fp16.h"

#define QK8_0 32
#define QK4_0 32

struct block_q8_0 {
    uint16_t d; /* fp16 scale */
    int8_t qs[QK8_0];
};

struct block_q4_0 {
    uint16_t d; /* fp16 scale */
    uint8_t qs[QK4_0 / 2];
};

_Static_assert(sizeof(struct block_q8_0) == 34, "block_q8_0 is 34 bytes");
_Static_assert(sizeof(struct block_q4_0) == 18, "block_q4_0 is 18 bytes");

/* IEEE half <-> float, exact and round-to-nearest-even as the F16C hardware
 * does: quant_fp16_to_fp32, quant_fp32_to_fp16 (fp16.h). */

/* Bytes of a row of n elements of `type` (n must be a multiple of the block size);
 * 0 for an unsupported type. Q8_K (activations only) has a size too. */
size_t quant_row_bytes(uint32_t type, int64_t n);
/* Whether this engine can compute with tensors of `type`. */
int quant_type_supported(uint32_t type);

/* Dequantizes n elements (a multiple of the block size) of a row to float,
 * any type the engine computes with and Q8_K; an unsupported type leaves
 * dst untouched. Through the kernel table's to_float (kernels.c). */
void quant_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n);
/* The scalar dequantizers behind it (F32 is a copy). */
void quant_f16_dequantize_row(const void *x, float *y, int64_t n);
void quant_q8_0_dequantize_row(const void *x, float *y, int64_t n);
void quant_q4_0_dequantize_row(const void *x, float *y, int64_t n);

/* Weight quantizers: n a multiple of 32; y is a row of the type's blocks.
 * Rounding as ggml's reference quantizers (what llama-quantize writes):
 * Q8_0 d = amax / 127, q = roundf(x * (1 / d)), ties away from zero. The
 * kernel table (kernels.h) holds them as each type's from_float. */
void quant_q8_0_quantize_row_ref(const float *x, void *y, int64_t n);
void quant_q4_0_quantize_row(const float *x, void *y, int64_t n);
/* Any n; round to nearest even, as quant_fp32_to_fp16 (the F16C form gives
 * the same bits, NaNs included). */
void quant_f16_quantize_row_ref(const float *x, void *y, int64_t n);

/* Activation converters: a matmul's float input row to the form its weights
 * are dotted with, as ggml's x86 CPU backend converts it (the kernel table's
 * from_float_act). Q8_0, n a multiple of 32 (quantize_row_q8_0's AVX path,
 * and the 4-row form of the repack path): d = amax / 127 stored as fp16 as
 * above, but q = round-half-to-even(x * (127 / amax)): another multiplier
 * and another tie rule than the weights'. Ties are common: after a Q4_0 or
 * Q8_0 embedding and RMSNorm a block holds multiples of one step. Inputs
 * must be finite; quants lie in [-127, 127]. */
void quant_q8_0_quantize_act_ref(const float *x, void *y, int64_t n);
/* F16, any n: each x rounded to F16 (nearest even) and stored widened back
 * to F32 (exact), so y is n floats, each an F16 value: ggml multiplies an F16
 * weight with its input converted to F16, and vec.h's F16 dots read floats. */
void quant_f16_round_row_ref(const float *x, void *y, int64_t n);

/* Dot products of one weight row with one activation row, n elements, in
 * plain index order with a float accumulator (F32, F16: reference only;
 * the engine's F32 / F16 dots are vec.h's) or block by block (Q8_0, Q4_0:
 * w and a are rows of their blocks, a of Q8_0). */
float quant_dot_f32_ref(const float *w, const float *x, int64_t n);
float quant_dot_f16_ref(const uint16_t *w, const float *x, int64_t n);
float quant_dot_q8_0_q8_0_ref(const void *w, const void *a, int64_t n);
float quant_dot_q4_0_q8_0_ref(const void *w, const void *a, int64_t n);

/* ---- fast forms (kernels/x86/quant_x86.c) -----------------------------------
 * The same bits as the _ref forms; only at a SIMD level the CPU has
 * (kernels.h), which the kernel table sees to. Fast kernels never use fma.
 * Preconditions: quantizer inputs are finite; Q8_0 activation quants lie in
 * [-127, 127] (the Q8_0 quantizers never write -128); weights may hold any
 * bytes. */
float quant_dot_q8_0_q8_0_avx2(const void *w, const void *a, int64_t n);
float quant_dot_q4_0_q8_0_avx2(const void *w, const void *a, int64_t n);
void quant_q8_0_quantize_row_avx2(const float *x, void *y, int64_t n);
void quant_f16_quantize_row_f16c(const float *x, void *y, int64_t n);
void quant_q8_0_quantize_act_avx2(const float *x, void *y, int64_t n);
void quant_f16_round_row_f16c(const float *x, void *y, int64_t n);

#endif
