/* mb_kernels.c: microbenchmarks of the engine's kernels.
 *
 *   dequantize/TYPE   quant_dequantize_row over a 64 x 4096 matrix
 *   dot/W_A/ref|fast  one-row dot products (quant.h, quant_k.h), ref vs AVX2
 *   dot8/W_A/ref|fast the 8-row kernels of the repacked layout (repack.h)
 *   repack/TYPE       the load's permutation (the table's repack, fastest level):
 *                     throughput (bytes_per_second)
 *   gemm/W/T          the batch kernels (gemm.h, quant_k.h): 64 rows x T tokens,
 *                     the fastest form this CPU runs, against the one-row ref
 *
 * Inputs are fixed-seed pseudo-random floats quantized by the engine's own
 * quantizers. After timing, each benchmark checks what it computed:
 * dequantize against the block layout as the format describes it (written
 * here from the layout, not from the engine's code); fast dots against the
 * ref bits; the 8-row kernels against the one-row ref on the plain rows;
 * repack by unpacking back to the source bytes. */
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm.h"
#include "kernels/kernels.h"
#include "format/gguf.h"
#include "mb.h"
#include "kernels/quant.h"
#include "kernels/quant_k.h"
#include "kernels/repack.h"

#define ROWS 64   /* rows per iteration of the dot and dequantize benchmarks */
#define COLS 4096 /* a multiple of every block size, QK_K included */
#define REPACK_ROWS_N 2048

/* ---- inputs ---------------------------------------------------------------- */

/* Uniform floats in [-1, 1) from a fixed seed (xorshift64*). */
static void fill_floats(float *x, int64_t n, uint64_t seed)
{
    uint64_t z = seed * 0x9E3779B97F4A7C15ull + 1;
    for (int64_t i = 0; i < n; i++) {
        z ^= z >> 12;
        z ^= z << 25;
        z ^= z >> 27;
        uint64_t r = z * 0x2545F4914F6CDD1Dull;
        x[i] = (float)((double)(r >> 40) / (double)(1u << 23) - 1.0);
    }
}

/* A rows x cols matrix of `type`, quantized from seeded floats; NULL on
 * allocation failure or a type without a quantizer here. */
static void *quantized(uint32_t type, int64_t rows, int64_t cols, uint64_t seed)
{
    size_t row_bytes = quant_row_bytes(type, cols);
    unsigned char *m = malloc(row_bytes * (size_t)rows);
    float *x = malloc((size_t)cols * sizeof *x);
    if (!m || !x || !row_bytes)
        goto fail;
    for (int64_t r = 0; r < rows; r++) {
        void *y = m + (size_t)r * row_bytes;
        fill_floats(x, cols, seed + (uint64_t)r);
        const struct kern_fns *f = kernels_fns(type, KERN_PLAIN);
        if (!f || !f->from_float)
            goto fail;
        f->from_float(x, y, cols);
    }
    free(x);
    return m;
fail:
    free(m);
    free(x);
    return NULL;
}

/* ---- dequantize ------------------------------------------------------------ */

/* Element i of a row, as the block layouts of quant.h and quant_k.h describe it. */
static float layout_value(uint32_t type, const void *row, int64_t i)
{
    switch (type) {
    case GGML_TYPE_F16:
        return quant_fp16_to_fp32(((const uint16_t *)row)[i]);
    case GGML_TYPE_Q8_0: {
        const struct block_q8_0 *b = (const struct block_q8_0 *)row + i / QK8_0;
        return quant_fp16_to_fp32(b->d) * (float)b->qs[i % QK8_0];
    }
    case GGML_TYPE_Q4_0: {
        const struct block_q4_0 *b = (const struct block_q4_0 *)row + i / QK4_0;
        int j = (int)(i % QK4_0);
        int q = j < 16 ? b->qs[j] & 15 : b->qs[j - 16] >> 4;
        return quant_fp16_to_fp32(b->d) * (float)(q - 8);
    }
    case GGML_TYPE_Q4_K: {
        const struct block_q4_k *b = (const struct block_q4_k *)row + i / QK_K;
        int e = (int)(i % QK_K), c = e / 64, l = e % 64;
        int sub = 2 * c + (l >= 32);
        int q = l < 32 ? b->qs[32 * c + l] & 15 : b->qs[32 * c + l - 32] >> 4;
        uint8_t sc = sub < 4 ? b->scales[sub] & 63
                             : (uint8_t)((b->scales[sub + 4] & 15) | (b->scales[sub - 4] >> 6) << 4);
        uint8_t m = sub < 4 ? b->scales[sub + 4] & 63
                            : (uint8_t)((b->scales[sub + 4] >> 4) | (b->scales[sub] >> 6) << 4);
        float d = quant_fp16_to_fp32(b->d), dmin = quant_fp16_to_fp32(b->dmin);
        return (d * (float)sc) * (float)q - (dmin * (float)m);
    }
    case GGML_TYPE_Q6_K: {
        const struct block_q6_k *b = (const struct block_q6_k *)row + i / QK_K;
        int e = (int)(i % QK_K), h = e / 128, k = (e % 128) / 32, l = e % 32;
        const uint8_t *ql = b->ql + 64 * h, *qh = b->qh + 32 * h;
        int lo = k == 0 ? ql[l] & 15 : k == 1 ? ql[l + 32] & 15 : k == 2 ? ql[l] >> 4 : ql[l + 32] >> 4;
        int q = lo | ((qh[l] >> (2 * k)) & 3) << 4;
        return (quant_fp16_to_fp32(b->d) * (float)b->scales[e / 16]) * (float)(q - 32);
    }
    default:
        return 0.0f;
    }
}

static void bench_dequantize(struct mb_state *s, uint32_t type)
{
    size_t row_bytes = quant_row_bytes(type, COLS);
    unsigned char *w = quantized(type, ROWS, COLS, 1);
    float *y = malloc((size_t)ROWS * COLS * sizeof *y);
    if (!w || !y) {
        mb_fail(s, "out of memory");
        goto done;
    }
    while (mb_run(s)) {
        for (int r = 0; r < ROWS; r++)
            quant_dequantize_row(type, w + (size_t)r * row_bytes, y + (size_t)r * COLS, COLS);
        mb_keep(y);
    }
    mb_bytes(s, (int64_t)(ROWS * row_bytes));
    mb_items(s, (int64_t)ROWS * COLS);
    for (int r = 0; r < ROWS; r++) {
        for (int64_t i = 0; i < COLS; i++) {
            float want = layout_value(type, w + (size_t)r * row_bytes, i), got = y[(size_t)r * COLS + i];
            if (memcmp(&want, &got, sizeof want) != 0) {
                mb_fail(s, "%s row %d element %lld: dequantized %.9g, layout says %.9g",
                        gguf_ggml_type_name(type), r, (long long)i, got, want);
                goto done;
            }
        }
    }
done:
    free(w);
    free(y);
}

#define DEQUANTIZE(T) \
    static void bm_dequantize_##T(struct mb_state *s) { bench_dequantize(s, GGML_TYPE_##T); }
DEQUANTIZE(F16)
DEQUANTIZE(Q8_0)
DEQUANTIZE(Q4_0)
DEQUANTIZE(Q4_K)
DEQUANTIZE(Q6_K)

/* ---- one-row dots ---------------------------------------------------------- */

typedef float (*dot_fn)(const void *w, const void *a, int64_t n);

/* Adapters from the typed kernels to one pointer type. */
static float q4_0_ref(const void *w, const void *a, int64_t n) { return quant_dot_q4_0_q8_0_ref(w, a, n); }
static float q4_0_fast(const void *w, const void *a, int64_t n) { return quant_dot_q4_0_q8_0_avx2(w, a, n); }
static float q8_0_ref(const void *w, const void *a, int64_t n) { return quant_dot_q8_0_q8_0_ref(w, a, n); }
static float q8_0_fast(const void *w, const void *a, int64_t n) { return quant_dot_q8_0_q8_0_avx2(w, a, n); }
static float q4_k_ref(const void *w, const void *a, int64_t n) { return quant_dot_q4_k_q8_k_ref(w, a, n); }
static float q4_k_fast(const void *w, const void *a, int64_t n) { return quant_dot_q4_k_q8_k_avx2(w, a, n); }
static float q6_k_ref(const void *w, const void *a, int64_t n) { return quant_dot_q6_k_q8_k_ref(w, a, n); }
static float q6_k_fast(const void *w, const void *a, int64_t n) { return quant_dot_q6_k_q8_k_avx2(w, a, n); }

static void dots(dot_fn f, const unsigned char *w, size_t row_bytes, const void *a, float *out)
{
    for (int r = 0; r < ROWS; r++)
        out[r] = f(w + (size_t)r * row_bytes, a, COLS);
}

/* Times `timed` (ref or fast) over ROWS rows, then checks its bits against ref. */
static void bench_dot(struct mb_state *s, uint32_t wtype, uint32_t atype, dot_fn ref, dot_fn fast, int use_fast)
{
    if (use_fast && !(kernels_cpu_level() >= KERN_AVX2)) {
        mb_skip(s, "this CPU lacks AVX2/F16C");
        return;
    }
    dot_fn timed = use_fast ? fast : ref;
    size_t row_bytes = quant_row_bytes(wtype, COLS);
    unsigned char *w = quantized(wtype, ROWS, COLS, 2);
    void *a = quantized(atype, 1, COLS, 3);
    float got[ROWS], want[ROWS];
    if (!w || !a) {
        mb_fail(s, "out of memory");
        goto done;
    }
    while (mb_run(s)) {
        dots(timed, w, row_bytes, a, got);
        mb_keep(got);
    }
    mb_bytes(s, (int64_t)(ROWS * row_bytes));
    dots(ref, w, row_bytes, a, want);
    for (int r = 0; r < ROWS; r++) {
        if (memcmp(&got[r], &want[r], sizeof got[r]) != 0) {
            mb_fail(s, "%s row %d: %.9g, ref %.9g", gguf_ggml_type_name(wtype), r, got[r], want[r]);
            break;
        }
    }
done:
    free(w);
    free(a);
}

#define DOT(W, A, lower)                                                                                 \
    static void bm_dot_##W##_ref(struct mb_state *s)                                                     \
    {                                                                                                    \
        bench_dot(s, GGML_TYPE_##W, GGML_TYPE_##A, lower##_ref, lower##_fast, 0);                       \
    }                                                                                                    \
    static void bm_dot_##W##_fast(struct mb_state *s)                                                    \
    {                                                                                                    \
        bench_dot(s, GGML_TYPE_##W, GGML_TYPE_##A, lower##_ref, lower##_fast, 1);                       \
    }
DOT(Q4_0, Q8_0, q4_0)
DOT(Q8_0, Q8_0, q8_0)
DOT(Q4_K, Q8_K, q4_k)
DOT(Q6_K, Q8_K, q6_k)

/* ---- 8-row dots over the repacked layout ----------------------------------- */

typedef void (*dot8_fn)(const void *w, const void *a, int64_t n, float out[REPACK_ROWS]);

static void d8_q4_0_ref(const void *w, const void *a, int64_t n, float o[REPACK_ROWS]) { repack_dot8_q4_0_q8_0_ref(w, a, n, o); }
static void d8_q4_0_fast(const void *w, const void *a, int64_t n, float o[REPACK_ROWS]) { repack_dot8_q4_0_q8_0_avx2(w, a, n, o); }
static void d8_q8_0_ref(const void *w, const void *a, int64_t n, float o[REPACK_ROWS]) { repack_dot8_q8_0_q8_0_ref(w, a, n, o); }
static void d8_q8_0_fast(const void *w, const void *a, int64_t n, float o[REPACK_ROWS]) { repack_dot8_q8_0_q8_0_avx2(w, a, n, o); }
static void d8_q4_k_ref(const void *w, const void *a, int64_t n, float o[REPACK_ROWS]) { repack_dot8_q4_k_q8_k_ref(w, a, n, o); }
static void d8_q4_k_fast(const void *w, const void *a, int64_t n, float o[REPACK_ROWS]) { repack_dot8_q4_k_q8_k_avx2(w, a, n, o); }

static void dots8(dot8_fn f, const unsigned char *w, size_t row_bytes, const void *a, float *out)
{
    for (int g = 0; g < ROWS / REPACK_ROWS; g++)
        f(w + (size_t)g * REPACK_ROWS * row_bytes, a, COLS, out + g * REPACK_ROWS);
}

/* Times an 8-row kernel over ROWS repacked rows; every out[r] must equal the
 * one-row ref on plain row r (the contract of repack.h). */
static void bench_dot8(struct mb_state *s, uint32_t wtype, uint32_t atype, dot8_fn f, dot_fn row_ref,
                       int is_fast)
{
    if (is_fast && !(kernels_cpu_level() >= KERN_AVX2)) {
        mb_skip(s, "this CPU lacks AVX2/F16C");
        return;
    }
    size_t row_bytes = quant_row_bytes(wtype, COLS), bytes = row_bytes * ROWS;
    unsigned char *w = quantized(wtype, ROWS, COLS, 4);
    unsigned char *packed = malloc(bytes);
    void *a = quantized(atype, 1, COLS, 5);
    float got[ROWS], want[ROWS];
    if (!w || !packed || !a) {
        mb_fail(s, "out of memory");
        goto done;
    }
    repack_matrix(wtype, w, packed, ROWS, COLS);
    while (mb_run(s)) {
        dots8(f, packed, row_bytes, a, got);
        mb_keep(got);
    }
    mb_bytes(s, (int64_t)bytes);
    dots(row_ref, w, row_bytes, a, want);
    for (int r = 0; r < ROWS; r++) {
        if (memcmp(&got[r], &want[r], sizeof got[r]) != 0) {
            mb_fail(s, "%s row %d: %.9g, one-row ref %.9g", gguf_ggml_type_name(wtype), r, got[r], want[r]);
            break;
        }
    }
done:
    free(w);
    free(packed);
    free(a);
}

#define DOT8(W, A, lower)                                                                                \
    static void bm_dot8_##W##_ref(struct mb_state *s)                                                    \
    {                                                                                                    \
        bench_dot8(s, GGML_TYPE_##W, GGML_TYPE_##A, d8_##lower##_ref, lower##_ref, 0);                  \
    }                                                                                                    \
    static void bm_dot8_##W##_fast(struct mb_state *s)                                                   \
    {                                                                                                    \
        bench_dot8(s, GGML_TYPE_##W, GGML_TYPE_##A, d8_##lower##_fast, lower##_ref, 1);                 \
    }
DOT8(Q4_0, Q8_0, q4_0)
DOT8(Q8_0, Q8_0, q8_0)
DOT8(Q4_K, Q8_K, q4_k)

/* ---- batch kernels: 64 rows x T tokens ------------------------------------- */

/* Times the kernel the engine runs for a batch of T tokens (the VNNI tiles on
 * the repacked layout, the AVX2 8-row dots without VNNI; Q6_K: 8 plain rows;
 * with one token, on the expanded activation row the engine's matmul makes
 * once, when the kernel reads one),
 * items = weight bytes x T; then every (row, token) against the one-row ref. */
static void bench_gemm(struct mb_state *s, uint32_t wtype)
{
    int T = (int)mb_arg(s, 0);
    int k_type = wtype == GGML_TYPE_Q4_K || wtype == GGML_TYPE_Q6_K;
    uint32_t atype = k_type ? GGML_TYPE_Q8_K : GGML_TYPE_Q8_0;
    size_t row_bytes = quant_row_bytes(wtype, COLS), bytes = row_bytes * ROWS, ab = quant_row_bytes(atype, COLS);
    int64_t nb = COLS / (k_type ? QK_K : QK8_0);
    int vnni = kernels_level() >= KERN_VNNI;
    unsigned char *w = quantized(wtype, ROWS, COLS, 7), *packed = malloc(bytes);
    unsigned char *a = quantized(atype, T, COLS, 8);
    struct block_q8_0 *bm = malloc(sizeof *bm * (size_t)(nb * T));
    float *ad = malloc(sizeof *ad * (size_t)(nb * T)), *bad = malloc(sizeof *bad * (size_t)(nb * T));
    int32_t *n8 = malloc(sizeof *n8 * (size_t)(nb * T)), *bn8 = malloc(sizeof *bn8 * (size_t)(nb * T));
    float *got = malloc(sizeof *got * (size_t)(ROWS * T));
    struct gemm_q8k_one *one = NULL;
    if (!w || !packed || !a || !bm || !ad || !bad || !n8 || !bn8 || !got) {
        mb_fail(s, "out of memory");
        goto done;
    }
    if (wtype != GGML_TYPE_Q6_K)
        repack_matrix(wtype, w, packed, ROWS, COLS);
    if (!k_type)
        for (int t = 0; t < T; t++) {
            const struct block_q8_0 *at = (const void *)(a + (size_t)t * ab);
            gemm_q8_0_prepare(at, nb, ad + t * nb, n8 + t * nb);
            gemm_q8_0_to_block_major(at, ad + t * nb, n8 + t * nb, t, T, nb, bm, bad, bn8);
        }
    /* the kernel the engine's table runs for this batch at this CPU's level */
    const struct kern_row *k = kernels_row(wtype, wtype == GGML_TYPE_Q6_K ? KERN_PLAIN : KERN_REPACKED);
    const struct kern_fns *f = &k->fn[kernels_level()];
    struct kern_act act = {.n_tok = T, .q8 = (const void *)a, .q8_stride = (size_t)nb,
                           .q8_bm = T > 1 && f->block_major ? bm : (const void *)a,
                           .q8_bm_d = T > 1 && f->block_major ? bad : ad,
                           .q8_bm_neg8 = T > 1 && f->block_major ? bn8 : n8,
                           .q8k = (const void *)a, .q8k_stride = (size_t)nb};
    if (T == 1 && f->expand_one) { /* as the engine's matmul: once per input row, before the rows */
        one = aligned_alloc(_Alignof(struct gemm_q8k_one), sizeof *one * (size_t)nb);
        if (!one) {
            mb_fail(s, "out of memory");
            goto done;
        }
        f->expand_one((const void *)a, nb, one);
        act.q8k_one = one;
    }
    while (mb_run(s)) {
        for (int g = 0; g < ROWS / REPACK_ROWS; g++) {
            const unsigned char *gw = (wtype == GGML_TYPE_Q6_K ? w : packed) + (size_t)g * REPACK_ROWS * row_bytes;
            f->rows8(gw, row_bytes, &act, COLS, got + g * REPACK_ROWS, ROWS);
        }
        mb_keep(got);
    }
    mb_bytes(s, (int64_t)bytes * T);
    for (int t = 0; t < T; t++)
        for (int r = 0; r < ROWS; r++) {
            const void *row = w + (size_t)r * row_bytes, *at = a + (size_t)t * ab;
            float want = wtype == GGML_TYPE_Q4_0   ? quant_dot_q4_0_q8_0_ref(row, at, COLS)
                         : wtype == GGML_TYPE_Q8_0 ? quant_dot_q8_0_q8_0_ref(row, at, COLS)
                         : wtype == GGML_TYPE_Q4_K ? quant_dot_q4_k_q8_k_ref(row, at, COLS)
                                                   : quant_dot_q6_k_q8_k_ref(row, at, COLS);
            float g = got[(size_t)t * ROWS + (size_t)r];
            if (memcmp(&g, &want, sizeof g) != 0) {
                mb_fail(s, "%s row %d token %d: %.9g, one-row ref %.9g", gguf_ggml_type_name(wtype), r, t, g, want);
                goto done;
            }
        }
    mb_label(s, wtype == GGML_TYPE_Q6_K ? "plain 8 rows" : vnni ? "VNNI tiles" : "8-row dots");
done:
    free(w), free(packed), free(a), free(bm), free(ad), free(bad), free(n8), free(bn8), free(got), free(one);
}

#define GEMM(T) \
    static void bm_gemm_##T(struct mb_state *s) { bench_gemm(s, GGML_TYPE_##T); }
GEMM(Q4_0)
GEMM(Q8_0)
GEMM(Q4_K)
GEMM(Q6_K)

/* ---- repack throughput ----------------------------------------------------- */

static void bench_repack(struct mb_state *s, uint32_t type)
{
    size_t bytes = repack_bytes(type, REPACK_ROWS_N, COLS);
    unsigned char *src = quantized(type, REPACK_ROWS_N, COLS, 6);
    unsigned char *dst = malloc(bytes), *back = malloc(bytes);
    if (!src || !dst || !back || !bytes) {
        mb_fail(s, "out of memory");
        goto done;
    }
    memset(dst, 0, bytes); /* fault the pages in before timing */
    kern_repack_fn fn = kernels_fns(type, KERN_REPACKED)->repack; /* what a load runs */
    while (mb_run(s)) {
        fn(src, dst, REPACK_ROWS_N, COLS);
        mb_keep(dst);
    }
    mb_bytes(s, (int64_t)bytes);
    repack_unpack_matrix(type, dst, back, REPACK_ROWS_N, COLS);
    for (size_t i = 0; i < bytes; i++) {
        if (back[i] != src[i]) {
            mb_fail(s, "%s: unpacking the repacked matrix differs at byte %zu", gguf_ggml_type_name(type), i);
            break;
        }
    }
done:
    free(src);
    free(dst);
    free(back);
}

#define REPACK(T) \
    static void bm_repack_##T(struct mb_state *s) { bench_repack(s, GGML_TYPE_##T); }
REPACK(Q4_0)
REPACK(Q8_0)
REPACK(Q4_K)

const struct mb_bench mb_kernel_benches[] = {
    {"dequantize/f16", bm_dequantize_F16, 0, {0}},
    {"dequantize/q8_0", bm_dequantize_Q8_0, 0, {0}},
    {"dequantize/q4_0", bm_dequantize_Q4_0, 0, {0}},
    {"dequantize/q4_k", bm_dequantize_Q4_K, 0, {0}},
    {"dequantize/q6_k", bm_dequantize_Q6_K, 0, {0}},
    {"dot/q4_0_q8_0/ref", bm_dot_Q4_0_ref, 0, {0}},
    {"dot/q4_0_q8_0/fast", bm_dot_Q4_0_fast, 0, {0}},
    {"dot/q8_0_q8_0/ref", bm_dot_Q8_0_ref, 0, {0}},
    {"dot/q8_0_q8_0/fast", bm_dot_Q8_0_fast, 0, {0}},
    {"dot/q4_k_q8_k/ref", bm_dot_Q4_K_ref, 0, {0}},
    {"dot/q4_k_q8_k/fast", bm_dot_Q4_K_fast, 0, {0}},
    {"dot/q6_k_q8_k/ref", bm_dot_Q6_K_ref, 0, {0}},
    {"dot/q6_k_q8_k/fast", bm_dot_Q6_K_fast, 0, {0}},
    {"dot8/q4_0_q8_0/ref", bm_dot8_Q4_0_ref, 0, {0}},
    {"dot8/q4_0_q8_0/fast", bm_dot8_Q4_0_fast, 0, {0}},
    {"dot8/q8_0_q8_0/ref", bm_dot8_Q8_0_ref, 0, {0}},
    {"dot8/q8_0_q8_0/fast", bm_dot8_Q8_0_fast, 0, {0}},
    {"dot8/q4_k_q8_k/ref", bm_dot8_Q4_K_ref, 0, {0}},
    {"dot8/q4_k_q8_k/fast", bm_dot8_Q4_K_fast, 0, {0}},
    {"gemm/q4_0", bm_gemm_Q4_0, 1, {1}},
    {"gemm/q4_0", bm_gemm_Q4_0, 1, {16}},
    {"gemm/q8_0", bm_gemm_Q8_0, 1, {1}},
    {"gemm/q8_0", bm_gemm_Q8_0, 1, {16}},
    {"gemm/q4_k", bm_gemm_Q4_K, 1, {1}},
    {"gemm/q4_k", bm_gemm_Q4_K, 1, {16}},
    {"gemm/q6_k", bm_gemm_Q6_K, 1, {1}},
    {"gemm/q6_k", bm_gemm_Q6_K, 1, {16}},
    {"repack/q4_0", bm_repack_Q4_0, 0, {0}},
    {"repack/q8_0", bm_repack_Q8_0, 0, {0}},
    {"repack/q4_k", bm_repack_Q4_K, 0, {0}},
    {NULL, NULL, 0, {0}},
};
