/* kernels.c: the kernel table of kernels.h and the SIMD level.
 *
 * The table is written with designated initialisers, one entry per (type,
 * layout), each level's forms side by side; the x86 forms are named only
 * when the build targets x86 (the one place that asks, besides
 * kernels.mk, which compiles kernels/x86 only there). On first use, every
 * slot a level leaves empty takes the form of the level below, so a lookup
 * is one index and never a test.
 *
 * Sections: batch adapters (struct kern_act -> each kernel's arguments),
 * the table, the level (and quant_dequantize_row, through to_float). */
#include "kernels/kernels.h"

#include <pthread.h>
#include <string.h>

#include "core/cpu.h"
#include "kernels/attention.h"
#include "kernels/gemm.h"
#include "kernels/repack.h"
#include "kernels/vec.h"

#if defined(__x86_64__) || defined(__i386__)
#define KERNELS_X86 1
#define X86(...) __VA_ARGS__
#else
#define KERNELS_X86 0
#define X86(...)
#endif

/* ---- batch adapters --------------------------------------------------------
 * The 8-row kernels take the activation form they read; these hand it over
 * from struct kern_act, one per kernel signature. */

#define ROWS8_PLAIN(name, kernel, act)                                                                            \
    static void name(const void *w, size_t rb, const struct kern_act *a, int64_t n, float *out, size_t out_stride) \
    {                                                                                                             \
        kernel(w, rb, a->act, a->act##_stride, a->n_tok, n, out, out_stride);                                     \
    }

/* plain Q8_K rows, and the one-token row expanded (a->q8k_one) */
#define ROWS8_PLAIN_ONE(name, kernel)                                                                             \
    static void name(const void *w, size_t rb, const struct kern_act *a, int64_t n, float *out, size_t out_stride) \
    {                                                                                                             \
        kernel(w, rb, a->q8k, a->q8k_stride, a->n_tok, n, out, out_stride, a->q8k_one);                           \
    }

#define ROWS8_GROUP(name, kernel, act)                                                                            \
    static void name(const void *w, size_t rb, const struct kern_act *a, int64_t n, float *out, size_t out_stride) \
    {                                                                                                             \
        (void)rb;                                                                                                 \
        kernel(w, a->act, a->act##_stride, a->n_tok, n, out, out_stride);                                         \
    }

#define ROWS8_BLOCK_MAJOR(name, kernel)                                                                           \
    static void name(const void *w, size_t rb, const struct kern_act *a, int64_t n, float *out, size_t out_stride) \
    {                                                                                                             \
        (void)rb;                                                                                                 \
        kernel(w, a->q8_bm, a->q8_bm_d, a->q8_bm_neg8, a->n_tok, n, out, out_stride);                             \
    }

ROWS8_PLAIN(q4_0_plain8_ref, gemm_q4_0_plain8_ref, q8)
ROWS8_PLAIN(q8_0_plain8_ref, gemm_q8_0_plain8_ref, q8)
ROWS8_PLAIN(q6_k_plain8_ref, gemm_q6_k_plain8_ref, q8k)
ROWS8_GROUP(q4_0_group_ref, gemm_q4_0_8rows_ref, q8)
ROWS8_GROUP(q8_0_group_ref, gemm_q8_0_8rows_ref, q8)
ROWS8_GROUP(q4_k_group_ref, gemm_q4_k_8rows_ref, q8k)
#if KERNELS_X86
ROWS8_PLAIN(q4_0_plain8_avx2, gemm_q4_0_plain8_avx2, q8)
ROWS8_PLAIN(q8_0_plain8_avx2, gemm_q8_0_plain8_avx2, q8)
ROWS8_PLAIN(q6_k_plain8_avx2, gemm_q6_k_plain8_avx2, q8k)
ROWS8_PLAIN(q4_0_plain8_vnni, gemm_q4_0_plain8_vnni, q8)
ROWS8_PLAIN_ONE(q6_k_plain8_vnni, gemm_q6_k_plain8_vnni)
ROWS8_PLAIN_ONE(q6_k_plain16_vnni, gemm_q6_k_plain16_vnni)
ROWS8_GROUP(q4_0_group_avx2, gemm_q4_0_8rows_avx2, q8)
ROWS8_GROUP(q8_0_group_avx2, gemm_q8_0_8rows_avx2, q8)
ROWS8_GROUP(q4_k_group_avx2, gemm_q4_k_8rows_avx2, q8k)
static void q4_k_group_vnni(const void *w, size_t rb, const struct kern_act *a, int64_t n, float *out, size_t out_stride)
{
    (void)rb;
    gemm_q4_k_8rows_vnni(w, a->q8k, a->q8k_stride, a->n_tok, n, out, out_stride, a->q8k_one);
}
ROWS8_GROUP(q4_k_group16_vnni, gemm_q4_k_16rows_vnni, q8k)
static void q4_k_streams_vnni(const void *const w[KERN_STREAMS], const struct kern_act *a, int64_t n,
                              float *const out[KERN_STREAMS])
{
    if (!a->q8k_one) { /* no expanded row: group by group, each kernel expanding it */
        for (int s = 0; s < KERN_STREAMS; s++)
            q4_k_group_vnni(w[s], 0, a, n, out[s], 8);
        return;
    }
    gemm_q4_k_one_streams_vnni(w, n, a->q8k_one, out);
}
static void q6_k_streams_vnni(const void *const w[KERN_STREAMS], const struct kern_act *a, int64_t n,
                              float *const out[KERN_STREAMS])
{
    if (!a->q8k_one) { /* no expanded row: group by group */
        size_t rb = (size_t)(n / QK_K) * sizeof(struct block_q6_k);
        for (int s = 0; s < KERN_STREAMS; s++)
            q6_k_plain8_vnni(w[s], rb, a, n, out[s], 8);
        return;
    }
    gemm_q6_k_one_streams_vnni(w, n, a->q8k_one, out);
}
ROWS8_BLOCK_MAJOR(q4_0_group_vnni, gemm_q4_0_8rows_vnni)
ROWS8_BLOCK_MAJOR(q8_0_group_vnni, gemm_q8_0_8rows_vnni)
ROWS8_BLOCK_MAJOR(q4_0_group16_vnni, gemm_q4_0_16rows_vnni)
static void q4_0_streams_vnni(const void *const w[KERN_STREAMS], const struct kern_act *a, int64_t n,
                              float *const out[KERN_STREAMS])
{
    gemm_q4_0_one_streams_vnni(w, a->q8_bm, a->q8_bm_d, a->q8_bm_neg8, n, out);
}
#endif

/* the reference permutation of each repacked type */
#define REPACK_REF(name, type)                                                 \
    static void name(const void *src, void *dst, int64_t n_rows, int64_t n_cols) \
    {                                                                          \
        repack_matrix(type, src, dst, n_rows, n_cols);                         \
    }
REPACK_REF(repack_q8_0_ref, GGML_TYPE_Q8_0)
REPACK_REF(repack_q4_0_ref, GGML_TYPE_Q4_0)
REPACK_REF(repack_q4_k_ref, GGML_TYPE_Q4_K)

_Static_assert(KERN_STREAMS == GEMM_STREAMS, "the table hands the kernels' stream count through");

/* ---- the table -------------------------------------------------------------- */

static void f32_to_float(const void *x, float *y, int64_t n)
{
    memcpy(y, x, (size_t)n * sizeof(float));
}

#define N_TYPES (GGML_TYPE_Q8_K + 1)

/* Types the engine computes with, and Q8_K (activations only). The rows
 * that are some row's act_type (F16, Q8_0, Q8_K) have a from_float_act.
 * Plain Q4_0
 * and Q8_0 take the 8-row kernels from 2 tokens on (one token streams the
 * rows faster one at a time), plain Q6_K always; a repacked group has only
 * the 8-row form. */
static struct kern_row table[N_TYPES][KERN_N_LAYOUTS] = {
    [GGML_TYPE_F32][KERN_PLAIN] = {
        .to_float = f32_to_float,
        .act_type = GGML_TYPE_F32,
        .fn = {
            [KERN_REF] = {.dot = vec_dot_f32_ref},
            X86([KERN_AVX2] = {.dot = vec_dot_f32_avx2},)
        },
    },
    [GGML_TYPE_F16][KERN_PLAIN] = {
        .to_float = quant_f16_dequantize_row,
        .act_type = GGML_TYPE_F16,
        .fn = {
            [KERN_REF] = {.from_float = quant_f16_quantize_row_ref, .from_float_act = quant_f16_round_row_ref,
                          .dot = vec_dot_f16_ref},
            X86([KERN_AVX2] = {.from_float = quant_f16_quantize_row_f16c, .from_float_act = quant_f16_round_row_f16c,
                               .dot = vec_dot_f16_avx2},)
        },
    },
    [GGML_TYPE_Q8_0][KERN_PLAIN] = {
        .to_float = quant_q8_0_dequantize_row,
        .act_type = GGML_TYPE_Q8_0,
        .rows8_min_tok = 2,
        .fn = {
            [KERN_REF] = {.from_float = quant_q8_0_quantize_row_ref, .from_float_act = quant_q8_0_quantize_act_ref,
                          .dot = quant_dot_q8_0_q8_0_ref, .rows8 = q8_0_plain8_ref},
            X86([KERN_AVX2] = {.from_float = quant_q8_0_quantize_row_avx2,
                               .from_float_act = quant_q8_0_quantize_act_avx2, .dot = quant_dot_q8_0_q8_0_avx2,
                               .rows8 = q8_0_plain8_avx2},)
        },
    },
    [GGML_TYPE_Q4_0][KERN_PLAIN] = {
        .to_float = quant_q4_0_dequantize_row,
        .act_type = GGML_TYPE_Q8_0,
        .rows8_min_tok = 2,
        .fn = {
            [KERN_REF] = {.from_float = quant_q4_0_quantize_row, .dot = quant_dot_q4_0_q8_0_ref,
                          .rows8 = q4_0_plain8_ref},
            X86([KERN_AVX2] = {.dot = quant_dot_q4_0_q8_0_avx2, .rows8 = q4_0_plain8_avx2},
                [KERN_VNNI] = {.rows8 = q4_0_plain8_vnni},)
        },
    },
    [GGML_TYPE_Q4_K][KERN_PLAIN] = {
        .to_float = quant_q4_k_dequantize_row,
        .act_type = GGML_TYPE_Q8_K,
        .fn = {
            [KERN_REF] = {.from_float = quant_q4_k_quantize_row, .dot = quant_dot_q4_k_q8_k_ref},
            X86([KERN_AVX2] = {.dot = quant_dot_q4_k_q8_k_avx2},)
        },
    },
    [GGML_TYPE_Q6_K][KERN_PLAIN] = {
        .to_float = quant_q6_k_dequantize_row,
        .act_type = GGML_TYPE_Q8_K,
        .rows8_min_tok = 1,
        .fn = {
            [KERN_REF] = {.from_float = quant_q6_k_quantize_row, .dot = quant_dot_q6_k_q8_k_ref,
                          .rows8 = q6_k_plain8_ref},
            X86([KERN_AVX2] = {.dot = quant_dot_q6_k_q8_k_avx2, .rows8 = q6_k_plain8_avx2},
                [KERN_VNNI] = {.rows8 = q6_k_plain8_vnni, .rows16 = q6_k_plain16_vnni,
                              .expand_one = gemm_q8_k_expand_one_vnni, .one_streams = q6_k_streams_vnni},)
        },
    },
    [GGML_TYPE_Q8_K][KERN_PLAIN] = {
        .to_float = quant_q8_k_dequantize_row,
        .fn = {
            [KERN_REF] = {.from_float = quant_q8_k_quantize_row_ref, .from_float_act = quant_q8_k_quantize_row_ref},
            X86([KERN_AVX2] = {.from_float = quant_q8_k_quantize_row_avx2,
                               .from_float_act = quant_q8_k_quantize_row_avx2},)
        },
    },
    [GGML_TYPE_Q8_0][KERN_REPACKED] = {
        .act_type = GGML_TYPE_Q8_0,
        .rows8_min_tok = 1,
        .fn = {
            [KERN_REF] = {.rows8 = q8_0_group_ref, .repack = repack_q8_0_ref},
            X86([KERN_AVX2] = {.rows8 = q8_0_group_avx2, .repack = repack_q8_0_avx2},
                [KERN_VNNI] = {.rows8 = q8_0_group_vnni, .block_major = 1},)
        },
    },
    [GGML_TYPE_Q4_0][KERN_REPACKED] = {
        .act_type = GGML_TYPE_Q8_0,
        .rows8_min_tok = 1,
        .fn = {
            [KERN_REF] = {.rows8 = q4_0_group_ref, .repack = repack_q4_0_ref},
            X86([KERN_AVX2] = {.rows8 = q4_0_group_avx2, .repack = repack_q4_0_avx2},
                [KERN_VNNI] = {.rows8 = q4_0_group_vnni, .rows16 = q4_0_group16_vnni, .block_major = 1,
                              .one_streams = q4_0_streams_vnni},)
        },
    },
    [GGML_TYPE_Q4_K][KERN_REPACKED] = {
        .act_type = GGML_TYPE_Q8_K,
        .rows8_min_tok = 1,
        .fn = {
            [KERN_REF] = {.rows8 = q4_k_group_ref, .repack = repack_q4_k_ref},
            X86([KERN_AVX2] = {.rows8 = q4_k_group_avx2, .repack = repack_q4_k_avx2},
                [KERN_VNNI] = {.rows8 = q4_k_group_vnni, .rows16 = q4_k_group16_vnni, .one_streams = q4_k_streams_vnni,
                              .expand_one = gemm_q8_k_expand_one_vnni},)
        },
    },
};

static struct kern_ops ops[KERN_N_LEVELS] = {
    [KERN_REF] = {.swiglu = vec_swiglu_ref, .attention = attention_head_ref, .attention_f32 = attention_head_f32_ref},
    X86([KERN_AVX2] = {.swiglu = vec_swiglu_avx2, .attention = attention_head_f16c,
                       .attention_f32 = attention_head_f32_f16c},)
};

/* A row is in use when its reference level has anything. */
static int row_used(const struct kern_row *r)
{
    const struct kern_fns *f = &r->fn[KERN_REF];
    return f->from_float || f->dot || f->rows8;
}

#define FILL(slot, below) ((slot) = (slot) ? (slot) : (below))

static void fill_levels(void)
{
    for (uint32_t t = 0; t < N_TYPES; t++)
        for (int l = 0; l < KERN_N_LAYOUTS; l++) {
            struct kern_row *r = &table[t][l];
            r->type = t;
            r->layout = (enum kern_layout)l;
            for (int v = 1; v < KERN_N_LEVELS; v++) {
                struct kern_fns *f = &r->fn[v];
                const struct kern_fns *b = &r->fn[v - 1];
                if (!f->rows8) { /* a level's rows8 brings its own activation layout */
                    f->block_major = b->block_major;
                    f->expand_one = b->expand_one;
                }
                FILL(f->from_float, b->from_float);
                FILL(f->from_float_act, b->from_float_act);
                FILL(f->dot, b->dot);
                FILL(f->rows8, b->rows8);
                FILL(f->repack, b->repack);
            }
        }
    for (int v = 1; v < KERN_N_LEVELS; v++) {
        FILL(ops[v].swiglu, ops[v - 1].swiglu);
        FILL(ops[v].attention, ops[v - 1].attention);
        FILL(ops[v].attention_f32, ops[v - 1].attention_f32);
    }
}

/* ---- the level ---------------------------------------------------------------- */

static pthread_once_t once = PTHREAD_ONCE_INIT;
static enum kern_level cpu_level;
static int cap = KERN_BEST; /* kernels_cap_level; relaxed atomics */

static void init(void)
{
    fill_levels();
    cpu_level = !KERNELS_X86 || !cpu_has_avx2_f16c() ? KERN_REF
                : cpu_has_avx512_vnni()                ? KERN_VNNI
                                                       : KERN_AVX2;
}

enum kern_level kernels_cpu_level(void)
{
    pthread_once(&once, init);
    return cpu_level;
}

enum kern_level kernels_level(void)
{
    enum kern_level best = kernels_cpu_level();
    int c = __atomic_load_n(&cap, __ATOMIC_RELAXED);
    return (int)best < c ? best : (enum kern_level)c;
}

void kernels_cap_level(enum kern_level max)
{
    __atomic_store_n(&cap, (int)max, __ATOMIC_RELAXED);
}

const struct kern_row *kernels_row(uint32_t type, enum kern_layout layout)
{
    pthread_once(&once, init);
    if (type >= N_TYPES || (int)layout < 0 || layout >= KERN_N_LAYOUTS || !row_used(&table[type][layout]))
        return NULL;
    return &table[type][layout];
}

const struct kern_fns *kernels_fns(uint32_t type, enum kern_layout layout)
{
    const struct kern_row *r = kernels_row(type, layout);
    return r ? &r->fn[kernels_level()] : NULL;
}

/* quant.h's dequantizer: the row's to_float; unsupported types leave dst
 * untouched, as callers check quant_type_supported first. */
void quant_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n)
{
    const struct kern_row *r = kernels_row(type, KERN_PLAIN);
    if (r && r->to_float)
        r->to_float(src, dst, n);
}

const struct kern_ops *kernels_ops(void)
{
    return &ops[kernels_level()];
}
