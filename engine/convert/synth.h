/* synth.h: synthetic llama models with deterministic pseudo-random weights.
 *
 * synth_model writes a standard GGUF llama file that llama.cpp loads as is:
 * the llama.* hyperparameter keys, an SPM ("llama") vocabulary, and tensors
 * token_embd, output_norm, output (unless tied), blk.N.{attn_norm, attn_q,
 * attn_k, attn_v, attn_output, ffn_norm, ffn_gate, ffn_up, ffn_down}, in ggml
 * order [in, out]. A mixture-of-experts shape (llama-style, as llama.cpp
 * runs Mixtral) has the keys llama.expert_count and llama.expert_used_count,
 * llama.feed_forward_length is the size of one expert's FFN, and in place of
 * ffn_gate/up/down each layer has the router ffn_gate_inp [n_embd, n_expert]
 * (F32) and the 3-D ffn_gate_exps and ffn_up_exps [n_embd, n_ff, n_expert]
 * and ffn_down_exps [n_ff, n_embd, n_expert] (quantized like the matrices;
 * under q4_k_m ffn_down_exps follows the ffn_down rule). The vocabulary is <unk>, <s>, </s>, the 256 byte tokens
 * <0x00>..<0xFF>, the printable ASCII characters, "▁", then unique fillers
 * "▁tokN" up to the vocabulary size.
 *
 * Weights: every row of every matrix comes from a counter-based generator
 * keyed by (seed, tensor index, row), uniform in +-sqrt(3/fan_in) so that
 * each weight has standard deviation 1/sqrt(fan_in) (fan_in = ne[0]) and
 * activations stay finite; norms are 1.0. Router rows are GEN_ROUTER_GAIN
 * times wider: on the RMS-normalised input their logits then have a
 * standard deviation of about 2, so each token's top-k experts differ and
 * the first gets a clear share of the weight without taking all of it. The float values do not depend on
 * the output type, so a q4_0 model is the quantization of the f32 one with
 * the same seed, and nothing depends on the thread count.
 *
 * Types: each tensor gets the type quantize_choose_type (quantize.h) gives
 * it for the target, as `minillm quantize` would from the f32 model, so the
 * files match llama-quantize's: under q4_0, q4_k and q4_k_m the output
 * matrix (token_embd when tied) is Q6_K; q4_k_m raises attn_v and ffn_down
 * of the use_more_bits layers to Q6_K; rows that do not divide a K-quant's
 * 256 fall back to Q8_0 (so the 64-wide tiny shapes hold no K-quant);
 * norms are F32. Rows are generated, quantized and written in blocks, the
 * worker threads (one per CPU, at most 8) computing while the previous block
 * is written, so memory stays at a few tens of MiB for any shape. */
#ifndef SYNTH_H
#define SYNTH_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"

struct synth_shape {
    const char *name;
    uint32_t n_embd;
    uint32_t n_layer;
    uint32_t n_head;
    uint32_t n_head_kv;
    uint32_t n_ff;
    uint32_t n_vocab;
    uint32_t n_ctx;
    uint32_t n_rot; /* rope dimensions (the head size) */
    float rope_base;
    float rms_eps;
    int tied; /* no output.weight: the output uses token_embd */
    uint32_t n_expert;      /* 0: a dense FFN */
    uint32_t n_expert_used; /* experts per token */
};

#define GEN_ROUTER_GAIN 2.0f

/* The shape called `name`, or NULL. Names: llama-3.2-1b, llama-3.2-3b,
 * olmoe-1b-7b (OLMoE-1B-7B's dimensions as a llama MoE: 64 experts, 8 used,
 * untied), tiny, tiny-untied, tiny-256 (untied, 256-wide rows, so K-quants
 * apply), tiny-moe (4 experts, 2 used, untied). */
const struct synth_shape *synth_shape_find(const char *name);
/* The i-th shape's name, NULL past the last (for usage messages). */
const char *synth_shape_name(size_t i);

/* Writes the model of `shape` with weights for `target` (a quantize.h
 * target: GGML_TYPE_F32, F16, Q8_0, Q4_0, Q4_K, Q6_K or QUANTIZE_Q4_K_M, as
 * quantize_type_from_name returns) generated from `seed` to `out` (through
 * out.tmp, renamed when complete). Progress lines and a final line with the
 * count of tensors of each type go to `log` (may be NULL). */
enum status synth_model(const char *shape, uint32_t target, uint64_t seed, const char *out, FILE *log, struct err *e);

#endif
