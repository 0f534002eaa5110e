/* kernels.h: the kernel table, the one dispatch point of the kernels.
 *
 * One row per (element type, weight layout), as ggml's type_traits_cpu[]:
 * the row's dequantizer (to_float, reference only; quant_dequantize_row
 * calls it), what the activations of a matmul are converted to, and per
 * SIMD level the
 * functions that convert a float row to the type (weights, and activations:
 * the two round differently, as in ggml), dot one row with one
 * activation row, and multiply 8 rows by a batch of activation rows. A
 * weight binds its row at load (model.h: struct weight); the forward pass
 * reads the level once per matmul (kernels_level) and calls through the row.
 *
 * Levels: KERN_REF, the scalar reference forms of kernels/ref (any CPU);
 * KERN_AVX2 and KERN_VNNI, the forms of kernels/x86. The level is picked
 * once from the CPU (core/cpu.h) and can be capped for tests and benchmarks
 * (kernels_cap_level). Every level gives the same bits. A slot a level does
 * not fill is filled from the level below when the table is first used, so
 * every row has every level.
 *
 * Also here: the element-wise operations that have a fast form but no type
 * (SwiGLU, one head of attention), per level, in struct kern_ops. */
#ifndef KERNELS_H
#define KERNELS_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/quant.h"
#include "kernels/quant_k.h"

enum kern_level { KERN_REF = 0, KERN_AVX2 = 1, KERN_VNNI = 2 };
#define KERN_N_LEVELS 3
#define KERN_BEST KERN_VNNI

enum kern_layout { KERN_PLAIN = 0, KERN_REPACKED = 1 }; /* repacked: repack.h */
#define KERN_N_LAYOUTS 2

/* The activation rows of one matmul, n_tok of them, in each form a kernel
 * may read (the caller fills the forms its weights' rows ask for). Strides
 * are in elements (f32) or blocks. */
struct gemm_q8k_one; /* gemm.h */

struct kern_act {
    int n_tok;
    const float *f32;
    size_t f32_stride;
    const float *f16; /* F16 rows, held widened to floats (quant_f16_round_row) */
    size_t f16_stride;
    const struct block_q8_0 *q8; /* token-major Q8_0 rows */
    size_t q8_stride;
    const struct block_q8_0 *q8_bm; /* the same, block-major with their scales and -8 x sums (gemm.h) */
    const float *q8_bm_d;
    const int32_t *q8_bm_neg8;
    const struct block_q8_k *q8k; /* token-major Q8_K rows */
    size_t q8k_stride;
    /* with one token: its Q8_K row expanded (gemm_q8_k_expand_one) when a
     * weight's kern_fns.q8k_one asks for it, else NULL */
    const struct gemm_q8k_one *q8k_one;
};

/* Activation row t of a in the form act_type (a row's act_type). */
static inline const void *kern_act_row(const struct kern_act *a, uint32_t act_type, int t)
{
    if (act_type == GGML_TYPE_Q8_0)
        return a->q8 + (size_t)t * a->q8_stride;
    if (act_type == GGML_TYPE_Q8_K)
        return a->q8k + (size_t)t * a->q8k_stride;
    if (act_type == GGML_TYPE_F16)
        return a->f16 + (size_t)t * a->f16_stride;
    return a->f32 + (size_t)t * a->f32_stride;
}

/* A row of n floats to the type (n a multiple of its block size). */
typedef void (*kern_from_float_fn)(const float *x, void *y, int64_t n);
/* One weight row w (plain layout) with one activation row a of the row's
 * act_type, n elements. */
typedef float (*kern_dot_fn)(const void *w, const void *a, int64_t n);
/* 8 weight rows times a->n_tok activation rows: w is the first of 8 plain
 * rows rb bytes apart, or one repacked group; out[t * out_stride + r] gets
 * the bits of dot(row r, activation t). */
typedef void (*kern_rows8_fn)(const void *w, size_t rb, const struct kern_act *a, int64_t n, float *out,
                              size_t out_stride);

/* The groups one token streams side by side in a thread (kern_fns.one_streams). */
#define KERN_STREAMS 4

/* One token through KERN_STREAMS groups w[s] (as rows8's w, anywhere in
 * memory) at once: the bits of rows8 on each, out[s] as rows8's out. */
typedef void (*kern_streams_fn)(const void *const w[KERN_STREAMS], const struct kern_act *a, int64_t n,
                                float *const out[KERN_STREAMS]);

/* A plain row-major matrix at src into a repacked row's layout at dst
 * (repack.h: repack_matrix's bytes; no overlap). */
typedef void (*kern_repack_fn)(const void *src, void *dst, int64_t n_rows, int64_t n_cols);

/* nb Q8_K super-blocks of one row into x, a kernel's own layout of them */
typedef void (*kern_expand_fn)(const struct block_q8_k *a, int64_t nb, struct gemm_q8k_one *x);

struct kern_fns {
    /* weights: ggml's reference rounding, the bytes llama-quantize writes
     * (what quantize and gen store) */
    kern_from_float_fn from_float;
    /* activations, in a row that is some row's act_type: a matmul's input
     * as ggml's x86 CPU backend converts it (quant.h: Q8_0 ties to even,
     * F16 rounded and kept as floats); NULL elsewhere */
    kern_from_float_fn from_float_act;
    kern_dot_fn dot;
    kern_rows8_fn rows8;
    /* 16 rows in one pass (w as rows8: two repacked groups side by side, or
     * 16 plain rows rb bytes apart; out as rows8): the bits of two rows8
     * calls. NULL: rows8 only. Never taken from the level below: it reads
     * this level's activation layout. */
    kern_rows8_fn rows16;
    int block_major; /* rows8 reads a->q8_bm (with more than one token) */
    /* with one token rows8 reads a->q8k_one, the Q8_K row expanded by this
     * (without it: the same bits, slower); NULL: it reads a->q8k */
    kern_expand_fn expand_one;
    /* one token, KERN_STREAMS groups side by side (as many streams a thread:
     * on a host where a miss's latency bounds one stream they read faster);
     * NULL: rows8 group by group. Never taken from the level below. */
    kern_streams_fn one_streams;
    /* KERN_REPACKED rows: the load's permutation from the plain layout */
    kern_repack_fn repack;
};

/* A row of n elements of the type (plain layout) to floats. */
typedef void (*kern_to_float_fn)(const void *x, float *y, int64_t n);

struct kern_row {
    uint32_t type;
    enum kern_layout layout;
    kern_to_float_fn to_float; /* plain rows only; the reference form at every level */
    uint32_t act_type;  /* GGML_TYPE_F32, _F16, _Q8_0 or _Q8_K (kern_act_row); 0 = F32 without a dot: no matmul */
    int rows8_min_tok;  /* rows8 runs for batches of at least this many tokens; 0: never */
    struct kern_fns fn[KERN_N_LEVELS];
};

/* The row of (type, layout); NULL for a pair the engine cannot compute. */
const struct kern_row *kernels_row(uint32_t type, enum kern_layout layout);
/* The functions of (type, layout) at the current level; NULL as above. */
const struct kern_fns *kernels_fns(uint32_t type, enum kern_layout layout);

/* The best level this CPU runs (detected once). */
enum kern_level kernels_cpu_level(void);
/* The level dispatch uses now: the CPU's, lowered to the cap. */
enum kern_level kernels_level(void);
/* Caps the level (KERN_REF forces the reference forms, KERN_AVX2 keeps
 * VNNI off; KERN_BEST lifts the cap), for tests and benchmarks. Calls
 * already running keep the level they read. */
void kernels_cap_level(enum kern_level max);

typedef void (*kern_swiglu_fn)(float *g, const float *u, int64_t n);
typedef void (*kern_attention_fn)(const uint16_t *q, const uint16_t *k, const uint16_t *v, size_t stride, int n_kv,
                                  int hd, float scale, uint16_t *acc, float *out);
typedef void (*kern_attention_f32_fn)(const float *q, const uint16_t *k, const uint16_t *v, size_t stride, int n_kv,
                                      int hd, float scale, float *out);

struct kern_ops {
    kern_swiglu_fn swiglu;               /* vec.h */
    kern_attention_fn attention;         /* attention.h: the F16 form */
    kern_attention_f32_fn attention_f32; /* attention.h: the tiled F32 form */
};

/* The element-wise operations at the current level. */
const struct kern_ops *kernels_ops(void);

#endif
