/* quantize.h: rewrite a GGUF model with its matrix weights in another type,
 * and the per-tensor type rules that synth.h shares.
 *
 * Targets: f32, f16, q8_0, q4_0, q4_k, q6_k (one ggml type each) and q4_k_m
 * (llama.cpp's Q4_K_M mix: Q4_K with some tensors in Q6_K). The rules are
 * llama.cpp's (llama_tensor_get_type in llama-quant.cpp) for llama models,
 * applied in this order:
 *   1. Kept as it is: tensors of fewer than 2 dimensions, names not ending in
 *      "weight", "_norm.weight" and the MoE router "ffn_gate_inp.weight"
 *      (llama.cpp never quantizes those), and tensors of a type this engine
 *      cannot dequantize.
 *   2. f32 and f16 targets: every other tensor becomes the target; no rule
 *      below applies (llama.cpp applies them only to quantized targets).
 *   3. The output matrix (output.weight, or token_embd.weight when there is
 *      no output.weight, i.e. the output is tied to the embedding) becomes
 *      Q6_K under q4_0, q4_k and q4_k_m; under q8_0 and q6_k it keeps the
 *      target. An untied token_embd.weight keeps the target.
 *   4. q4_k_m only: blk.N.attn_v.weight and every tensor whose name contains
 *      "ffn_down" (ffn_down, and ffn_down_exps of a MoE) become Q6_K when
 *      use_more_bits(N, n_layer) holds, with
 *        use_more_bits(i, n) = i < n/8 || i >= 7n/8 || (i - n/8) % 3 == 2
 *      (integer division): the first and last eighth of the layers and every
 *      third layer between. For 8 layers that is layers 0, 3, 6, 7; for 16,
 *      0, 1, 4, 7, 10, 13, 14, 15; for 28, 0, 1, 2, 5, 8, 11, 14, 17, 20, 23,
 *      24, 25, 26, 27. llama.cpp counts attn_v (and dense ffn_down) tensors in
 *      its layer-sorted order, which is the layer number N for these models;
 *      for MoE ffn_down it parses N from the name, as here. Everything else
 *      (token_embd when untied, attn_q/k/output, ffn_gate/up and their
 *      _exps) stays Q4_K.
 *   5. Any quantized target, models with exactly 8 experts (Mixtral): attn_k
 *      and attn_v become Q8_0, as llama.cpp does. (llama.cpp's other MoE and
 *      size tweaks need Q5_K, which this engine lacks; they are not applied.)
 *   6. Fallback, when the row length ne[0] does not divide the chosen type's
 *      block (32 for q8_0/q4_0, 256 for K-quants): a K-quant falls back to
 *      Q8_0 if the row divides 32 (llama.cpp picks Q5_0 for Q4_K, Q8_0 for
 *      Q6_K), anything else to F16 (llama.cpp refuses those; stories260K's
 *      ffn_down has rows of 172). The reason is logged.
 * A tensor already in the type chosen for it is copied byte for byte.
 * Every KV is copied; general.file_type is set as llama.cpp numbers it and
 * general.quantization_version to 2. Tensors are converted row block by row
 * block (3-D expert tensors as ne[1] * ne[2] rows), so memory stays bounded. */
#ifndef QUANTIZE_H
#define QUANTIZE_H

#include <stdint.h>
#include <stdio.h>

#include "core/err.h"

/* A target that is a mix rather than one ggml type; numbered past ggml's
 * types (llama.cpp's LLAMA_FTYPE_MOSTLY_Q4_K_M is 15). Other targets are the
 * GGML_TYPE_* value itself. */
#define QUANTIZE_Q4_K_M 1015u

/* Target names: "f32", "f16", "q8_0", "q4_0", "q4_k", "q6_k", "q4_k_m". */
enum status quantize_type_from_name(const char *name, uint32_t *target, struct err *e);
/* The name of a target ("q4_k_m" or the ggml type's name). */
const char *quantize_target_name(uint32_t target);

/* llama.cpp's general.file_type for a target: 0 F32, 1 F16, 2 Q4_0, 7 Q8_0,
 * 14 for q4_k (llama.cpp's Q4_K_S, the nearest), 15 Q4_K_M, 18 Q6_K. */
uint32_t quantize_file_type(uint32_t target);

/* Converts n floats to one row of `type` (F32, F16, Q8_0, Q4_0, Q4_K, Q6_K);
 * n must be a multiple of the type's block. dst holds quant_row_bytes(type, n)
 * bytes. */
void quantize_row(uint32_t type, const float *src, void *dst, int64_t n);

/* What the rules need to know of the whole model. */
struct quantize_model {
    uint32_t n_layer;  /* blocks blk.0 .. blk.(n_layer - 1) */
    uint32_t n_expert; /* 0 for a dense model */
    int has_output;    /* output.weight exists (else token_embd is the output matrix) */
};

enum quantize_kind {
    QUANTIZE_KEPT,     /* rule 1: copied as it is */
    QUANTIZE_TARGET,   /* the target's type (Q4_K for q4_k_m) */
    QUANTIZE_RAISED,   /* rules 3-5 gave it another type */
    QUANTIZE_FALLBACK, /* rule 6 */
};

struct quantize_choice {
    uint32_t type;
    enum quantize_kind kind;
    char why[160]; /* the reason, "" when the type is simply the target */
};

/* The type tensor `name` (n_dims dimensions ne[], ggml order, now of type
 * src_type) gets under `target` in model m, by the rules above. Pure: the
 * answer depends on nothing else, so quantize and gen agree. */
void quantize_choose_type(const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t src_type, uint32_t target,
                          const struct quantize_model *m, struct quantize_choice *c);

/* Reads the GGUF model `in`, writes `out` (through out.tmp, renamed when
 * complete) with the weights in `target` as described above, and logs one
 * line per tensor to `log` (may be NULL) saying what it became and why.
 * n_layer is the largest blk.N plus one; n_expert is ARCH.expert_count. */
enum status quantize_file(const char *in, const char *out, const char *target, FILE *log, struct err *e);

#endif
