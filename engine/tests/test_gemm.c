/* test_gemm.c: the 8-row (and 16-row) x n_tok kernels give, bit for bit, the per-row _ref
 * dot of every (row, token), on random weights and activations, for batch
 * sizes that do and do not fill a tile: Q4_0 / Q8_0 (plain and repacked),
 * repacked Q4_K groups, plain Q6_K rows. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "kernels/gemm.h"
#include "kernels/quant.h"
#include "kernels/quant_k.h"
#include "kernels/repack.h"
#include "rng.h"
#include "table.h"

/* Which kind activation row t of a batch is, shifted by kind_shift so that
 * one token can be each kind: the Q8_0 checks (check) make row t all zero
 * when (t + kind_shift) % 3 == 0; the K-quant ones fill row t as row t +
 * kind_shift of fill_q8_k (all zero, raw bytes, or quantized floats). */
static int kind_shift;

/* Set i of a one-token matmul over groups gb bytes apart at base, q sets in
 * all: groups i, q + i, 2q + i, ... (GEMM_STREAMS of them), as the engine's
 * matmul takes them (forward.c), and where their 8 outputs go. */
static void stream_set(const uint8_t *base, size_t gb, float *out, int64_t q, int64_t i, const void *w[GEMM_STREAMS],
                       float *o[GEMM_STREAMS])
{
    for (int s = 0; s < GEMM_STREAMS; s++) {
        w[s] = base + (size_t)(s * q + i) * gb;
        o[s] = out + (s * q + i) * 8;
    }
}

static void check(uint32_t type, int64_t rows, int64_t cols, int n_tok, int vnni)
{
    size_t rb = quant_row_bytes(type, cols);
    float *x = malloc(sizeof(float) * (size_t)(rows > n_tok ? rows : n_tok) * (size_t)cols);
    uint8_t *plain = malloc(rb * (size_t)rows), *packed = malloc(rb * (size_t)rows);
    size_t nb = (size_t)cols / QK8_0;
    struct block_q8_0 *a = malloc(sizeof *a * nb * (size_t)n_tok);
    float *ad = malloc(sizeof *ad * nb * (size_t)n_tok);
    int32_t *neg8 = malloc(sizeof *neg8 * nb * (size_t)n_tok);
    float *out = malloc(sizeof(float) * (size_t)n_tok * (size_t)rows);
    assert_true(x && plain && packed && a && out);
    for (int64_t i = 0; i < rows * cols; i++)
        x[i] = rng_unit();
    for (int64_t r = 0; r < rows; r++) {
        if (type == GGML_TYPE_Q4_0)
            quant_q4_0_quantize_row(x + r * cols, (struct block_q4_0 *)(plain + (size_t)r * rb), cols);
        else
            table_from_float(GGML_TYPE_Q8_0, x + r * cols, (struct block_q8_0 *)(plain + (size_t)r * rb), cols);
    }
    if (type == GGML_TYPE_Q8_0) { /* the extreme weights a file may hold: -128 and 127 */
        struct block_q8_0 *r0 = (struct block_q8_0 *)(void *)plain, *r1 = (struct block_q8_0 *)(void *)(plain + rb);
        for (int i = 0; i < QK8_0; i += 3)
            r0[0].qs[i] = -128, r1[cols / QK8_0 - 1].qs[i] = 127;
    }
    repack_matrix(type, plain, packed, rows, cols);
    for (int t = 0; t < n_tok; t++) {
        for (int64_t i = 0; i < cols; i++)
            x[i] = rng_unit() * ((t + kind_shift) % 3 == 0 ? 0.0f : 1.0f); /* some all-zero activation rows */
        table_from_float(GGML_TYPE_Q8_0, x, a + (size_t)t * nb, cols);
        gemm_q8_0_prepare(a + (size_t)t * nb, (int64_t)nb, ad + (size_t)t * nb, neg8 + (size_t)t * nb);
    }
    /* the VNNI kernels' block-major copy */
    struct block_q8_0 *bm = malloc(sizeof *bm * nb * (size_t)n_tok);
    float *bm_ad = malloc(sizeof *bm_ad * nb * (size_t)n_tok);
    int32_t *bm_neg8 = malloc(sizeof *bm_neg8 * nb * (size_t)n_tok);
    assert_true(bm && bm_ad && bm_neg8);
    for (int t = 0; t < n_tok; t++)
        gemm_q8_0_to_block_major(a + (size_t)t * nb, ad + (size_t)t * nb, neg8 + (size_t)t * nb, t, n_tok,
                                 (int64_t)nb, bm, bm_ad, bm_neg8);
    size_t gb = 8 * rb;
    int64_t g0 = 0;
    if (vnni == 5) { /* one token: groups i, q + i, 2q + i, ... side by side, as the engine's matmul does */
        assert_true(type == GGML_TYPE_Q4_0 && n_tok == 1);
        int64_t q = rows / 8 / GEMM_STREAMS;
        for (int64_t i = 0; i < q; i++) {
            const void *w[GEMM_STREAMS];
            float *o[GEMM_STREAMS];
            stream_set(packed, gb, out, q, i, w, o);
            gemm_q4_0_one_streams_vnni(w, bm, bm_ad, bm_neg8, cols, o);
        }
        g0 = GEMM_STREAMS * q;
    }
    for (int64_t g = g0; g < rows / 8; g++) {
        const void *gw = packed + (size_t)g * gb, *pw = plain + (size_t)g * gb;
        float *o = out + g * 8;
        if (vnni == 3)
            gemm_q4_0_plain8_vnni(pw, rb, a, nb, n_tok, cols, o, (size_t)rows);
        else if (vnni == 2 && type == GGML_TYPE_Q4_0)
            gemm_q4_0_plain8_avx2(pw, rb, a, nb, n_tok, cols, o, (size_t)rows);
        else if (vnni == 2)
            gemm_q8_0_plain8_avx2(pw, rb, a, nb, n_tok, cols, o, (size_t)rows);
        else if (type == GGML_TYPE_Q4_0 && vnni == 4 && g + 1 < rows / 8)
            gemm_q4_0_16rows_vnni(gw, bm, bm_ad, bm_neg8, n_tok, cols, o, (size_t)rows), g++;
        else if (type == GGML_TYPE_Q4_0 && vnni)
            gemm_q4_0_8rows_vnni(gw, bm, bm_ad, bm_neg8, n_tok, cols, o, (size_t)rows);
        else if (type == GGML_TYPE_Q4_0)
            gemm_q4_0_8rows_ref(gw, a, nb, n_tok, cols, o, (size_t)rows);
        else if (vnni)
            gemm_q8_0_8rows_vnni(gw, bm, bm_ad, bm_neg8, n_tok, cols, o, (size_t)rows);
        else
            gemm_q8_0_8rows_ref(gw, a, nb, n_tok, cols, o, (size_t)rows);
    }
    for (int t = 0; t < n_tok; t++)
        for (int64_t r = 0; r < rows; r++) {
            const void *row = plain + (size_t)r * rb;
            float ref = type == GGML_TYPE_Q4_0 ? quant_dot_q4_0_q8_0_ref(row, a + (size_t)t * nb, cols)
                                               : quant_dot_q8_0_q8_0_ref(row, a + (size_t)t * nb, cols);
            float got = out[(size_t)t * (size_t)rows + (size_t)r];
            if (memcmp(&ref, &got, sizeof ref))
                fail_msg("%s %s: row %lld token %d: %.9g, ref %.9g", gguf_ggml_type_name(type),
                         vnni == 5   ? "streams-vnni"
                         : vnni == 4 ? "16rows-vnni"
                         : vnni == 3 ? "plain8-vnni"
                         : vnni == 2 ? "plain8"
                         : vnni      ? "vnni"
                                     : "dot8",
                         (long long)r, t, got, ref);
        }
    free(x), free(plain), free(packed), free(a), free(ad), free(neg8), free(out), free(bm), free(bm_ad), free(bm_neg8);
}

static void test_gemm_equals_ref(void **state)
{
    (void)state;
    static const int toks[] = {1, 2, 3, 4, 5, 7, 9, 18, 29, 32}; /* 29 = tiles of 16, 8, 4 and 1; 7 = 4 and 3; 18 = 16 and 2 */
    static const uint32_t types[] = {GGML_TYPE_Q4_0, GGML_TYPE_Q8_0};
    for (size_t ti = 0; ti < 2; ti++)
        for (size_t k = 0; k < sizeof toks / sizeof toks[0]; k++) {
            check(types[ti], 16, 256, toks[k], 0);
            check(types[ti], 24, 2048, toks[k], 0);
            if ((kernels_cpu_level() >= KERN_AVX2)) {
                check(types[ti], 16, 256, toks[k], 2);
                check(types[ti], 24, 2048, toks[k], 2);
            }
            if ((kernels_cpu_level() >= KERN_VNNI)) {
                check(types[ti], 16, 256, toks[k], 1);
                check(types[ti], 24, 2048, toks[k], 1);
                if (types[ti] == GGML_TYPE_Q4_0) {
                    check(types[ti], 16, 256, toks[k], 3);
                    check(types[ti], 24, 2048, toks[k], 3);
                    check(types[ti], 16, 256, toks[k], 4); /* one pair */
                    check(types[ti], 40, 2048, toks[k], 4); /* two pairs and an odd group */
                    for (kind_shift = 0; toks[k] == 1 && kind_shift < 2; kind_shift++) { /* zero row, then not */
                        check(types[ti], 32, 256, 1, 5);  /* one set of GEMM_STREAMS one-token groups */
                        check(types[ti], 72, 2048, 1, 5); /* two sets, far apart, and an odd group */
                        check(types[ti], 40, 2048, 1, 1); /* the same groups one by one */
                    }
                    kind_shift = 0;
                }
            }
        }
    if (!(kernels_cpu_level() >= KERN_VNNI))
        print_message("# no AVX-512 VNNI on this CPU: the VNNI kernels were not exercised\n");
}

/* Raw Q8_K activations: any int8 (-128 included; now and then a block all
 * -128 or all 127), consistent bsums, a moderate d. */
static void raw_q8_k(struct block_q8_k *a, int64_t nb)
{
    for (int64_t b = 0; b < nb; b++) {
        for (int i = 0; i < QK_K; i++)
            a[b].qs[i] = (int8_t)(uint8_t)(rng_next() >> 56);
        if (rng_next() % 8 == 0)
            memset(a[b].qs, rng_next() % 2 ? 0x80 : 0x7f, sizeof a[b].qs);
        a[b].d = rng_unit() / (float)(1 << (rng_next() % 8));
        for (int g = 0; g < QK_K / 16; g++) {
            int sum = 0;
            for (int i = 0; i < 16; i++)
                sum += a[b].qs[16 * g + i];
            a[b].bsums[g] = (int16_t)sum;
        }
    }
}


static void fill_q8_k(struct block_q8_k *a, float *x, int64_t cols, int t)
{
    if (t % 4 == 3) {
        raw_q8_k(a, cols / QK_K);
        return;
    }
    for (int64_t i = 0; i < cols; i++)
        x[i] = rng_unit() * (t % 4 == 0 ? 0.0f : 100.0f);
    table_from_float(GGML_TYPE_Q8_K, x, a, cols);
}

/* Q4_K: repacked groups through the VNNI tile kernels (vnni 1: 8 rows, a
 * single token expanded by the kernel itself, in chunks; 2: pairs of groups
 * through the 16-row form, the odd group through the 8-row one; 3: 8 rows,
 * one token through the row expanded beforehand, as the engine's matmul
 * does; 4: one token, groups i, q + i, 2q + i, ... (GEMM_STREAMS of them)
 * through the streams form, the rest through the 8-row one, as the engine's
 * matmul does) and the 8-row
 * dot path, against quant_dot_q4_k_q8_k_ref on the plain
 * rows, bit for bit. Half the weight super-blocks are raw bytes (any scales,
 * mins, nibbles). */
static void check_q4_k(int64_t rows, int64_t cols, int n_tok, int vnni)
{
    size_t rb = quant_row_bytes(GGML_TYPE_Q4_K, cols), nb = (size_t)cols / QK_K;
    float *x = malloc(sizeof(float) * (size_t)cols);
    uint8_t *plain = malloc(rb * (size_t)rows), *packed = malloc(rb * (size_t)rows);
    struct block_q8_k *a = malloc(sizeof *a * nb * (size_t)n_tok);
    float *out = malloc(sizeof(float) * (size_t)n_tok * (size_t)rows);
    assert_true(x && plain && packed && a && out);
    for (int64_t r = 0; r < rows; r++) {
        struct block_q4_k *row = (struct block_q4_k *)(void *)(plain + (size_t)r * rb);
        for (int64_t i = 0; i < cols; i++)
            x[i] = rng_unit();
        quant_q4_k_quantize_row(x, row, cols);
        for (size_t b = r % 2; b < nb; b += 2) { /* raw super-blocks: every byte random, finite halves */
            uint8_t *p = (uint8_t *)&row[b];
            for (size_t i = 0; i < sizeof row[b]; i++)
                p[i] = (uint8_t)(rng_unit() * 127.0f + 128.0f);
            row[b].d = quant_fp32_to_fp16(rng_unit());
            row[b].dmin = quant_fp32_to_fp16(rng_unit() * 0.5f);
        }
    }
    repack_matrix(GGML_TYPE_Q4_K, plain, packed, rows, cols);
    for (int t = 0; t < n_tok; t++)
        fill_q8_k(a + (size_t)t * nb, x, cols, t + kind_shift);
    struct gemm_q8k_one *one = NULL;
    if (vnni >= 3) {
        assert_int_equal(n_tok, 1);
        one = aligned_alloc(_Alignof(struct gemm_q8k_one), sizeof *one * nb);
        assert_non_null(one);
        gemm_q8_k_expand_one_vnni(a, (int64_t)nb, one);
    }
    size_t gb = 8 * rb;
    int64_t g0 = 0;
    if (vnni == 4) { /* one token: groups i, q + i, 2q + i, ... side by side */
        int64_t q = rows / 8 / GEMM_STREAMS;
        for (int64_t i = 0; i < q; i++) {
            const void *w[GEMM_STREAMS];
            float *o[GEMM_STREAMS];
            stream_set(packed, gb, out, q, i, w, o);
            gemm_q4_k_one_streams_vnni(w, cols, one, o);
        }
        g0 = GEMM_STREAMS * q;
    }
    for (int64_t g = g0; g < rows / 8; g++) {
        const uint8_t *gw = packed + (size_t)g * gb;
        float *o = out + g * 8;
        if (vnni == 2 && g + 1 < rows / 8)
            gemm_q4_k_16rows_vnni(gw, a, nb, n_tok, cols, o, (size_t)rows), g++;
        else if (vnni)
            gemm_q4_k_8rows_vnni(gw, a, nb, n_tok, cols, o, (size_t)rows, one);
        else
            gemm_q4_k_8rows_ref(gw, a, nb, n_tok, cols, o, (size_t)rows);
    }
    for (int t = 0; t < n_tok; t++)
        for (int64_t r = 0; r < rows; r++) {
            float ref = quant_dot_q4_k_q8_k_ref((const void *)(plain + (size_t)r * rb), a + (size_t)t * nb, cols);
            float got = out[(size_t)t * (size_t)rows + (size_t)r];
            if (memcmp(&ref, &got, sizeof ref))
                fail_msg("q4_k %s: cols %lld row %lld token %d: %.9g, ref %.9g",
                         vnni == 4   ? "vnni-streams"
                         : vnni == 3 ? "vnni-expanded"
                         : vnni == 2 ? "16rows-vnni"
                         : vnni      ? "vnni"
                                     : "dot8",
                         (long long)cols, (long long)r, t, got, ref);
        }
    free(x), free(plain), free(packed), free(a), free(out), free(one);
}

static void test_gemm_q4_k_equals_ref(void **state)
{
    (void)state;
    /* 13 = tiles of 8, 4 and 1; 29 = tiles of 16 (the 16-row form), 8, 4 and 1 */
    static const int toks[] = {1, 2, 3, 4, 5, 7, 9, 13, 18, 29, 32};
    for (size_t k = 0; k < sizeof toks / sizeof toks[0]; k++) {
        check_q4_k(16, 256, toks[k], 0);
        check_q4_k(24, 2048, toks[k], 0);
        if ((kernels_cpu_level() >= KERN_VNNI)) {
            check_q4_k(16, 256, toks[k], 1);
            check_q4_k(24, 2048, toks[k], 1);
            check_q4_k(16, 256, toks[k], 2);  /* one pair */
            check_q4_k(24, 768, toks[k], 2);  /* a pair and an odd group; 3 super-blocks */
            check_q4_k(40, 2048, toks[k], 2); /* two pairs and an odd group */
        }
    }
    /* one token of each kind; 10 super-blocks: two chunks of the kernel's own expansion */
    for (kind_shift = 0; kind_shift < 4 && kernels_cpu_level() >= KERN_VNNI; kind_shift++) {
        check_q4_k(24, 2560, 1, 1);
        check_q4_k(16, 256, 1, 3);
        check_q4_k(24, 2560, 1, 3);
        check_q4_k(32, 256, 1, 4);  /* one set of GEMM_STREAMS groups */
        check_q4_k(72, 2560, 1, 4); /* two sets, far apart, and an odd group */
    }
    kind_shift = 0;
}

/* Plain Q6_K rows: form 0 the ref 8-row kernel, 1 the VNNI 8-row form, 2
 * the VNNI 16-row form on pairs of groups and the 8-row one on the odd
 * group, 3 and 4 forms 1 and 2 with one token's row expanded beforehand
 * (gemm_q8_k_expand_one_vnni, as the engine's matmul does), 5 the one-token
 * form on groups i, q + i, 2q + i, ... (GEMM_STREAMS of them; the rest
 * through form 3); every
 * (row, token) against quant_dot_q6_k_q8_k_ref, bit for bit,
 * and nothing written past the rows (a sentinel column). Rows alternate
 * between weights quantized from floats and raw bytes (any scales, -128
 * included, every quant 63 now and then, any finite d). */
static void check_q6_k(int64_t rows, int64_t cols, int n_tok, int form)
{
    size_t rb = quant_row_bytes(GGML_TYPE_Q6_K, cols), nb = (size_t)cols / QK_K, os = (size_t)rows + 1;
    const float sentinel = -12345.0f;
    float *x = malloc(sizeof(float) * (size_t)cols);
    uint8_t *w = malloc(rb * (size_t)rows);
    struct block_q8_k *a = malloc(sizeof *a * nb * (size_t)n_tok);
    float *out = malloc(sizeof(float) * (size_t)n_tok * os);
    assert_true(x && w && a && out);
    for (int64_t r = 0; r < rows; r++) {
        struct block_q6_k *row = (struct block_q6_k *)(void *)(w + (size_t)r * rb);
        if (r % 2) {
            for (int64_t i = 0; i < cols; i++)
                x[i] = rng_unit();
            quant_q6_k_quantize_row(x, row, cols);
            continue;
        }
        for (size_t b = 0; b < nb; b++) {
            uint8_t *p = (uint8_t *)&row[b];
            for (size_t i = 0; i < sizeof row[b]; i++)
                p[i] = (uint8_t)(rng_next() >> 56);
            if (rng_next() % 8 == 0)
                memset(row[b].scales, rng_next() % 2 ? 0 : 0x80, sizeof row[b].scales);
            if (rng_next() % 8 == 0) {
                memset(row[b].ql, 0xff, sizeof row[b].ql);
                memset(row[b].qh, 0xff, sizeof row[b].qh);
            }
            row[b].d = quant_fp32_to_fp16(rng_unit() / (float)(1 << (rng_next() % 8)));
        }
    }
    for (int t = 0; t < n_tok; t++)
        fill_q8_k(a + (size_t)t * nb, x, cols, t + kind_shift);
    for (size_t i = 0; i < (size_t)n_tok * os; i++)
        out[i] = sentinel;
    struct gemm_q8k_one *one = NULL;
    if (form >= 3) {
        assert_int_equal(n_tok, 1);
        one = aligned_alloc(_Alignof(struct gemm_q8k_one), sizeof *one * nb);
        assert_non_null(one);
        gemm_q8_k_expand_one_vnni(a, (int64_t)nb, one);
    }
    int64_t g0 = 0;
    if (form == 5) { /* one token: groups i, q + i, 2q + i, ... side by side, as the engine's matmul does */
        int64_t q = rows / 8 / GEMM_STREAMS;
        for (int64_t i = 0; i < q; i++) {
            const void *gw[GEMM_STREAMS];
            float *o[GEMM_STREAMS];
            stream_set(w, 8 * rb, out, q, i, gw, o);
            gemm_q6_k_one_streams_vnni(gw, cols, one, o);
        }
        g0 = GEMM_STREAMS * q;
    }
    for (int64_t g = g0; g < rows / 8; g++) {
        const uint8_t *gw = w + (size_t)g * 8 * rb;
        float *o = out + g * 8;
        if ((form == 2 || form == 4) && g + 1 < rows / 8)
            gemm_q6_k_plain16_vnni(gw, rb, a, nb, n_tok, cols, o, os, one), g++;
        else if (form)
            gemm_q6_k_plain8_vnni(gw, rb, a, nb, n_tok, cols, o, os, one);
        else
            gemm_q6_k_plain8_ref(gw, rb, a, nb, n_tok, cols, o, os);
    }
    static const char *names[] = {"plain8-ref", "plain8-vnni", "plain16-vnni", "plain8-vnni-expanded",
                                  "plain16-vnni-expanded", "streams-vnni"};
    for (int t = 0; t < n_tok; t++) {
        for (int64_t r = 0; r < rows; r++) {
            float ref = quant_dot_q6_k_q8_k_ref((const void *)(w + (size_t)r * rb), a + (size_t)t * nb, cols);
            float got = out[(size_t)t * os + (size_t)r];
            if (memcmp(&ref, &got, sizeof ref))
                fail_msg("q6_k %s: rows %lld cols %lld row %lld token %d of %d: %.9g, ref %.9g", names[form],
                         (long long)rows, (long long)cols, (long long)r, t, n_tok, got, ref);
        }
        if (out[(size_t)t * os + (size_t)rows] != sentinel)
            fail_msg("q6_k %s: token %d: written past the last row", names[form], t);
    }
    free(x), free(w), free(a), free(out), free(one);
}

static void test_gemm_q6_k_equals_ref(void **state)
{
    (void)state;
    /* 1..4 tokens: the row order (its passes: 256 / (8 or 16) / n_tok
     * super-blocks, so 8448 = 33 super-blocks crosses them with a short
     * last one); more: tiles of 32 (33 and 40 leave a short second one) */
    static const int toks[] = {1, 2, 3, 4, 5, 17, 32, 33, 40};
    static const int64_t cols[] = {256, 2048, 8448};
    for (size_t k = 0; k < sizeof toks / sizeof toks[0]; k++)
        for (size_t c = 0; c < sizeof cols / sizeof cols[0]; c++) {
            check_q6_k(16, cols[c], toks[k], 0);
            if ((kernels_cpu_level() >= KERN_VNNI)) {
                check_q6_k(16, cols[c], toks[k], 1);
                check_q6_k(24, cols[c], toks[k], 1);
                check_q6_k(16, cols[c], toks[k], 2); /* one pair */
                check_q6_k(40, cols[c], toks[k], 2); /* two pairs and an odd group */
                for (kind_shift = 0; toks[k] == 1 && kind_shift < 4; kind_shift++) { /* one token of each kind */
                    check_q6_k(24, cols[c], 1, 1);
                    check_q6_k(24, cols[c], 1, 3);
                    check_q6_k(40, cols[c], 1, 4);
                    check_q6_k(32, cols[c], 1, 5); /* one set of GEMM_STREAMS groups */
                    check_q6_k(72, cols[c], 1, 5); /* two sets and an odd group */
                }
                kind_shift = 0;
            }
        }
    /* one token through the streams form past its chunk of 64 super-blocks
     * of partial sums: 65 and 130 super-blocks a row */
    if (kernels_cpu_level() >= KERN_VNNI)
        for (kind_shift = 0; kind_shift < 4; kind_shift++) {
            check_q6_k(32, 65 * 256, 1, 5);
            check_q6_k(40, 130 * 256, 1, 5);
        }
    kind_shift = 0;
}

int main(void)
{
    rng_state = 0x9e3779b97f4a7c15ull;
    const struct CMUnitTest tests[] = {cmocka_unit_test(test_gemm_equals_ref), cmocka_unit_test(test_gemm_q4_k_equals_ref),
                                       cmocka_unit_test(test_gemm_q6_k_equals_ref)};
    return cmocka_run_group_tests(tests, NULL, NULL);
}
