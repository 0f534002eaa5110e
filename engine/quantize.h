/* quantize.h: rewrite a GGUF model with its matrix weights in another type.
 *
 * Which tensors change (the rule llama.cpp's llama-quantize follows, minus its
 * per-tensor type mixes):
 *   - 2-D+ tensors whose name ends in ".weight" become the target type,
 *     token_embd.weight included, except the output matrix (output.weight, or
 *     token_embd.weight when the output is tied to it): llama.cpp gives it Q6_K
 *     under 4-bit targets; here a q4_0 target gives it q8_0 instead.
 *   - If the target is block-quantized (q8_0, q4_0) and a tensor's row length
 *     ne[0] is not a multiple of the block (32), that tensor becomes F16 instead
 *     (llama.cpp refuses such files; stories260K's ffn_down has rows of 172).
 *   - Everything else (norms and other 1-D tensors) is copied unchanged, as is
 *     a tensor already in the type chosen for it, and one whose type this
 *     engine cannot dequantize (K-quants).
 * Every KV is copied; general.file_type is set as llama.cpp numbers it
 * (0 F32, 1 F16, 7 Q8_0, 2 Q4_0) and general.quantization_version to 2.
 * Tensors are converted row block by row block, so memory stays bounded. */
#ifndef QUANTIZE_H
#define QUANTIZE_H

#include <stdint.h>
#include <stdio.h>

#include "err.h"

/* Target names accepted by quantize_file: "f32", "f16", "q8_0", "q4_0". */
enum status quantize_type_from_name(const char *name, uint32_t *type, struct err *e);

/* llama.cpp's general.file_type for a model whose weights are mostly `type`. */
uint32_t quantize_file_type(uint32_t type);

/* Converts n floats to one row of `type` (F32, F16, Q8_0, Q4_0); n must be a
 * multiple of the type's block. dst holds quant_row_bytes(type, n) bytes. */
void quantize_row(uint32_t type, const float *src, void *dst, int64_t n);

/* Reads the GGUF model `in`, writes `out` (through out.tmp, renamed when
 * complete) with the weights in `type` as described above, and logs one line
 * per tensor to `log` (may be NULL) saying what it became and why. */
enum status quantize_file(const char *in, const char *out, const char *type, FILE *log, struct err *e);

#endif
