/* test_repack.c: the 8-row interleaved layout and the fast kernels.
 *
 * Layout: geometry, a hand-built matrix whose bytes name their origin (pins
 * the arrangement documented in repack.h), and random matrices that must
 * survive repack + unpack and hold the same multiset of bytes.
 * Kernels: every lane of the dot8 kernels against quant_dot_*_ref on the plain
 * row, and every AVX2 form against its _ref, compared bit for bit over many
 * random rows (quantized and raw-byte weights, zero scales, several n).
 * Q4_K (Q8_K activations) gets the same: geometry, a pinned layout, round
 * trips, lanes against quant_dot_q4_k_q8_k_ref, AVX2 against ref. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/quant.h"
#include "kernels/quant_k.h"
#include "kernels/repack.h"
#include "table.h"
#include "rng.h"

/* ---- helpers ----------------------------------------------------------- */

static void fill_bytes(void *p, size_t n)
{
    uint8_t *b = p;
    for (size_t i = 0; i < n; i++)
        b[i] = (uint8_t)rng_next();
}

/* Floats in blocks of 32 at random scales 2^-8..2^8; one block in 16 is all
 * zero, so quantized rows get zero scales. */
static void fill_floats(float *x, int64_t n)
{
    for (int64_t b = 0; b < n; b += 32) {
        int zero = rng_next() % 16 == 0;
        float scale = ldexpf(1.0f, (int)(rng_next() % 17) - 8);
        for (int64_t j = b; j < b + 32 && j < n; j++)
            x[j] = zero ? 0.0f : rng_unit() * scale;
    }
}

/* A random finite half (any sign, exponent field 0..30), zero one time in 8. */
static uint16_t rand_scale(void)
{
    if (rng_next() % 8 == 0)
        return rng_next() % 2 ? 0x8000 : 0;
    uint16_t h = (uint16_t)rng_next();
    if (((h >> 10) & 0x1f) == 0x1f)
        h &= (uint16_t) ~0x4000; /* exponent 31 -> 15 */
    return h;
}

static int byte_cmp(const void *a, const void *b)
{
    return (int)*(const uint8_t *)a - (int)*(const uint8_t *)b;
}

static void assert_same_float(float got, float want, const char *what, int64_t n, int r)
{
    if (memcmp(&got, &want, sizeof got) != 0) {
        print_error("%s n %lld row %d: %a != ref %a\n", what, (long long)n, r, (double)got, (double)want);
        fail();
    }
}

static const int64_t ns[] = {32, 64, 96, 288, 1024, 4096, 11008};
#define N_NS (sizeof ns / sizeof ns[0])

/* ---- layout ------------------------------------------------------------ */

static void test_geometry(void **state)
{
    (void)state;
    assert_true(repack_supported(GGML_TYPE_Q4_0, 8, 32));
    assert_true(repack_supported(GGML_TYPE_Q8_0, 4096, 11008));
    assert_false(repack_supported(GGML_TYPE_Q4_0, 12, 32));   /* rows not a multiple of 8 */
    assert_false(repack_supported(GGML_TYPE_Q4_0, 8, 48));    /* cols not whole blocks */
    assert_false(repack_supported(GGML_TYPE_Q4_0, 0, 32));
    assert_false(repack_supported(GGML_TYPE_Q8_0, -8, 32));
    assert_false(repack_supported(GGML_TYPE_Q8_0, 8, 0));
    assert_false(repack_supported(GGML_TYPE_F16, 8, 32));
    assert_false(repack_supported(GGML_TYPE_F32, 8, 32));
    assert_true(repack_supported(GGML_TYPE_Q4_K, 8, 256));
    assert_true(repack_supported(GGML_TYPE_Q4_K, 4096, 14336));
    assert_false(repack_supported(GGML_TYPE_Q4_K, 8, 128));  /* cols not whole super-blocks */
    assert_false(repack_supported(GGML_TYPE_Q4_K, 12, 256)); /* rows not a multiple of 8 */
    assert_false(repack_supported(GGML_TYPE_Q4_K, 0, 256));
    assert_false(repack_supported(GGML_TYPE_Q6_K, 8, 256));
    assert_false(repack_supported(GGML_TYPE_Q8_K, 8, 256));
    assert_int_equal(repack_bytes(GGML_TYPE_Q4_K, 16, 4096), 16 * quant_row_bytes(GGML_TYPE_Q4_K, 4096));
    assert_int_equal(repack_bytes(GGML_TYPE_Q4_K, 16, 4000), 0);

    assert_int_equal(repack_bytes(GGML_TYPE_Q4_0, 16, 4096), 16 * quant_row_bytes(GGML_TYPE_Q4_0, 4096));
    assert_int_equal(repack_bytes(GGML_TYPE_Q8_0, 16, 4096), 16 * quant_row_bytes(GGML_TYPE_Q8_0, 4096));
    assert_int_equal(repack_bytes(GGML_TYPE_Q4_0, 12, 4096), 0);
    assert_int_equal(repack_bytes(GGML_TYPE_F32, 16, 4096), 0);
}

/* Each byte of a hand-built 16 x 64 Q8_0 matrix names its row and column;
 * the interleaved copy must hold it where repack.h says. */
static void test_layout_pinned_q8_0(void **state)
{
    (void)state;
    enum { ROWS = 16, COLS = 64, NB = COLS / 32 };
    struct block_q8_0 plain[ROWS][NB];
    for (int r = 0; r < ROWS; r++) {
        for (int b = 0; b < NB; b++) {
            plain[r][b].d = (uint16_t)(0x1000 + r * 16 + b);
            for (int j = 0; j < 32; j++)
                plain[r][b].qs[j] = (int8_t)(uint8_t)(r * 8 + b * 4 + j % 4 + 64 * (j / 4 % 2));
        }
    }
    struct block_q8_0x8 ilv[ROWS / 8][NB];
    memset(ilv, 0xee, sizeof ilv);
    repack_matrix(GGML_TYPE_Q8_0, plain, ilv, ROWS, COLS);
    for (int g = 0; g < ROWS / 8; g++) {
        for (int b = 0; b < NB; b++) {
            for (int r = 0; r < 8; r++) {
                assert_int_equal(ilv[g][b].d[r], 0x1000 + (8 * g + r) * 16 + b);
                for (int k = 0; k < 8; k++)
                    for (int i = 0; i < 4; i++)
                        assert_int_equal(ilv[g][b].qs[32 * k + 4 * r + i], plain[8 * g + r][b].qs[4 * k + i]);
            }
        }
    }
}

static void test_layout_pinned_q4_0(void **state)
{
    (void)state;
    enum { ROWS = 8, COLS = 96, NB = COLS / 32 };
    struct block_q4_0 plain[ROWS][NB];
    for (int r = 0; r < ROWS; r++) {
        for (int b = 0; b < NB; b++) {
            plain[r][b].d = (uint16_t)(0x3c00 + r * 16 + b);
            for (int j = 0; j < 16; j++)
                plain[r][b].qs[j] = (uint8_t)(r << 4 | j); /* high nibble: row, low: byte */
        }
    }
    struct block_q4_0x8 ilv[NB];
    memset(ilv, 0xee, sizeof ilv);
    repack_matrix(GGML_TYPE_Q4_0, plain, ilv, ROWS, COLS);
    for (int b = 0; b < NB; b++) {
        for (int r = 0; r < 8; r++) {
            assert_int_equal(ilv[b].d[r], 0x3c00 + r * 16 + b);
            for (int k = 0; k < 4; k++)
                for (int i = 0; i < 4; i++)
                    assert_int_equal(ilv[b].qs[32 * k + 4 * r + i], r << 4 | (4 * k + i));
        }
    }
    /* Group offsets equal the plain ones: 8 rows of 3 blocks of 18 bytes. */
    assert_int_equal(sizeof ilv, 8 * quant_row_bytes(GGML_TYPE_Q4_0, COLS));
}

/* Random bytes through repack and back; the interleaved image is a
 * permutation (same multiset of bytes, sentinel overwritten everywhere). */
static void check_round_trip(uint32_t type, int64_t rows, int64_t cols)
{
    size_t bytes = repack_bytes(type, rows, cols);
    assert_int_equal(bytes, (size_t)rows * quant_row_bytes(type, cols));
    uint8_t *src = malloc(bytes), *ilv = malloc(bytes), *back = malloc(bytes);
    uint8_t *s1 = malloc(bytes), *s2 = malloc(bytes);
    assert_true(src && ilv && back && s1 && s2);
    fill_bytes(src, bytes);
    for (int sentinel = 0; sentinel < 2; sentinel++) {
        memset(ilv, sentinel ? 0xff : 0x00, bytes);
        memset(back, sentinel ? 0xff : 0x00, bytes);
        repack_matrix(type, src, ilv, rows, cols);
        repack_unpack_matrix(type, ilv, back, rows, cols);
        assert_memory_equal(back, src, bytes);
        memcpy(s1, src, bytes);
        memcpy(s2, ilv, bytes);
        qsort(s1, bytes, 1, byte_cmp);
        qsort(s2, bytes, 1, byte_cmp);
        assert_memory_equal(s1, s2, bytes);
    }
    free(src);
    free(ilv);
    free(back);
    free(s1);
    free(s2);
}

static void test_permutation_round_trip(void **state)
{
    (void)state;
    static const uint32_t types[] = {GGML_TYPE_Q4_0, GGML_TYPE_Q8_0};
    static const int64_t shapes[][2] = {{8, 32}, {8, 4096}, {24, 96}, {64, 1024}};
    static const int64_t shapes_k[][2] = {{8, 256}, {8, 4096}, {24, 768}, {64, 1024}};
    rng_state = 11;
    for (size_t t = 0; t < 2; t++)
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            check_round_trip(types[t], shapes[s][0], shapes[s][1]);
    for (size_t s = 0; s < sizeof shapes_k / sizeof shapes_k[0]; s++)
        check_round_trip(GGML_TYPE_Q4_K, shapes_k[s][0], shapes_k[s][1]);
}

/* Each field of a hand-built 16 x 512 Q4_K matrix names its row and
 * super-block; the interleaved copy must hold it where repack.h says. */
static void test_layout_pinned_q4_k(void **state)
{
    (void)state;
    enum { ROWS = 16, COLS = 512, NB = COLS / QK_K };
    static struct block_q4_k plain[ROWS][NB];
    for (int r = 0; r < ROWS; r++) {
        for (int b = 0; b < NB; b++) {
            plain[r][b].d = (uint16_t)(0x1000 + r * 16 + b);
            plain[r][b].dmin = (uint16_t)(0x2000 + r * 16 + b);
            for (int i = 0; i < 12; i++)
                plain[r][b].scales[i] = (uint8_t)(r * 16 + i);
            for (int j = 0; j < 128; j++)
                plain[r][b].qs[j] = (uint8_t)(j * 2 + b); /* byte and block; the row is checked by position */
        }
    }
    static struct block_q4_kx8 ilv[ROWS / 8][NB];
    memset(ilv, 0xee, sizeof ilv);
    repack_matrix(GGML_TYPE_Q4_K, plain, ilv, ROWS, COLS);
    for (int g = 0; g < ROWS / 8; g++) {
        for (int b = 0; b < NB; b++) {
            for (int r = 0; r < 8; r++) {
                assert_int_equal(ilv[g][b].d[r], 0x1000 + (8 * g + r) * 16 + b);
                assert_int_equal(ilv[g][b].dmin[r], 0x2000 + (8 * g + r) * 16 + b);
                for (int i = 0; i < 12; i++)
                    assert_int_equal(ilv[g][b].scales[8 * i + r], (8 * g + r) * 16 + i);
                for (int k = 0; k < 32; k++)
                    for (int i = 0; i < 4; i++)
                        assert_int_equal(ilv[g][b].qs[32 * k + 4 * r + i], (uint8_t)((4 * k + i) * 2 + b));
            }
        }
    }
    /* Group offsets equal the plain ones: 8 rows of 2 super-blocks of 144 bytes. */
    assert_int_equal(sizeof ilv[0], 8 * quant_row_bytes(GGML_TYPE_Q4_K, COLS));
    /* and the row is told by the position: distinct rows, distinct bytes */
    for (int r = 0; r < 8; r++)
        plain[r][0].qs[5] = (uint8_t)(0xa0 + r);
    repack_matrix(GGML_TYPE_Q4_K, plain, ilv, ROWS, COLS);
    for (int r = 0; r < 8; r++)
        assert_int_equal(ilv[0][0].qs[32 * 1 + 4 * r + 1], 0xa0 + r);
}

/* ---- kernels ----------------------------------------------------------- */

/* 8 weight rows (quantized floats, or raw bytes with random finite scales),
 * repacked; one activation row from the quantizer. */
struct dot_case {
    int64_t n;
    struct block_q4_0 *w4;
    struct block_q8_0 *w8;
    struct block_q4_0x8 *r4;
    struct block_q8_0x8 *r8;
    struct block_q8_0 *a;
};

static void case_alloc(struct dot_case *c, int64_t n)
{
    int64_t nb = n / 32;
    c->n = n;
    c->w4 = malloc((size_t)(8 * nb) * sizeof *c->w4);
    c->w8 = malloc((size_t)(8 * nb) * sizeof *c->w8);
    c->r4 = malloc((size_t)nb * sizeof *c->r4);
    c->r8 = malloc((size_t)nb * sizeof *c->r8);
    c->a = malloc((size_t)nb * sizeof *c->a);
    assert_true(c->w4 && c->w8 && c->r4 && c->r8 && c->a);
}

static void case_free(struct dot_case *c)
{
    free(c->w4);
    free(c->w8);
    free(c->r4);
    free(c->r8);
    free(c->a);
}

static void case_fill(struct dot_case *c, int raw)
{
    int64_t n = c->n, nb = n / 32;
    float *x = malloc((size_t)n * sizeof *x);
    assert_non_null(x);
    for (int r = 0; r < 8; r++) {
        if (raw) {
            fill_bytes(c->w4 + r * nb, (size_t)nb * sizeof *c->w4);
            fill_bytes(c->w8 + r * nb, (size_t)nb * sizeof *c->w8);
            for (int64_t b = 0; b < nb; b++) {
                c->w4[r * nb + b].d = rand_scale();
                c->w8[r * nb + b].d = rand_scale();
            }
        } else {
            fill_floats(x, n);
            quant_q4_0_quantize_row(x, c->w4 + r * nb, n);
            quant_q8_0_quantize_row_ref(x, c->w8 + r * nb, n);
        }
    }
    fill_floats(x, n);
    quant_q8_0_quantize_row_ref(x, c->a, n);
    repack_matrix(GGML_TYPE_Q4_0, c->w4, c->r4, 8, n);
    repack_matrix(GGML_TYPE_Q8_0, c->w8, c->r8, 8, n);
    free(x);
}

static void test_dot8_ref_matches_rows(void **state)
{
    (void)state;
    rng_state = 12;
    for (size_t t = 0; t < N_NS; t++) {
        struct dot_case c;
        case_alloc(&c, ns[t]);
        int64_t nb = c.n / 32;
        for (int rep = 0; rep < 20; rep++) {
            case_fill(&c, rep % 2);
            float o4[8], o8[8];
            repack_dot8_q4_0_q8_0_ref(c.r4, c.a, c.n, o4);
            repack_dot8_q8_0_q8_0_ref(c.r8, c.a, c.n, o8);
            for (int r = 0; r < 8; r++) {
                assert_same_float(o4[r], quant_dot_q4_0_q8_0_ref(c.w4 + r * nb, c.a, c.n), "q4_0 dot8_ref", c.n, r);
                assert_same_float(o8[r], quant_dot_q8_0_q8_0_ref(c.w8 + r * nb, c.a, c.n), "q8_0 dot8_ref", c.n, r);
            }
        }
        case_free(&c);
    }
}

static void test_fast_matches_ref(void **state)
{
    (void)state;
    if (!(kernels_cpu_level() >= KERN_AVX2))
        skip();
    rng_state = 13;
    for (size_t t = 0; t < N_NS; t++) {
        struct dot_case c;
        case_alloc(&c, ns[t]);
        int64_t nb = c.n / 32;
        for (int rep = 0; rep < 50; rep++) {
            case_fill(&c, rep % 2);
            float f4[8], f8[8];
            repack_dot8_q4_0_q8_0_avx2(c.r4, c.a, c.n, f4);
            repack_dot8_q8_0_q8_0_avx2(c.r8, c.a, c.n, f8);
            for (int r = 0; r < 8; r++) {
                float ref4 = quant_dot_q4_0_q8_0_ref(c.w4 + r * nb, c.a, c.n);
                float ref8 = quant_dot_q8_0_q8_0_ref(c.w8 + r * nb, c.a, c.n);
                assert_same_float(quant_dot_q4_0_q8_0_avx2(c.w4 + r * nb, c.a, c.n), ref4, "q4_0 avx2", c.n, r);
                assert_same_float(quant_dot_q8_0_q8_0_avx2(c.w8 + r * nb, c.a, c.n), ref8, "q8_0 avx2", c.n, r);
                assert_same_float(f4[r], ref4, "q4_0 dot8 avx2", c.n, r);
                assert_same_float(f8[r], ref8, "q8_0 dot8 avx2", c.n, r);
            }
        }
        case_free(&c);
    }
}

/* Q4_0 kernels are exact for any activation byte, -128 included. */
static void test_fast_q4_0_any_activation(void **state)
{
    (void)state;
    if (!(kernels_cpu_level() >= KERN_AVX2))
        skip();
    rng_state = 14;
    struct dot_case c;
    case_alloc(&c, 1024);
    for (int rep = 0; rep < 50; rep++) {
        case_fill(&c, 1);
        fill_bytes(c.a, 32 * sizeof *c.a);
        for (int b = 0; b < 32; b++) {
            c.a[b].d = rand_scale();
            if (rep % 2)
                memset(c.a[b].qs, 0x80, 32); /* all -128 against all-15 or raw nibbles */
        }
        if (rep % 4 == 1) { /* all nibbles 15: the largest maddubs operands */
            for (int b = 0; b < 8 * 32; b++)
                memset(c.w4[b].qs, 0xff, sizeof c.w4[b].qs);
            repack_matrix(GGML_TYPE_Q4_0, c.w4, c.r4, 8, c.n);
        }
        float f4[8];
        repack_dot8_q4_0_q8_0_avx2(c.r4, c.a, c.n, f4);
        for (int r = 0; r < 8; r++) {
            float ref = quant_dot_q4_0_q8_0_ref(c.w4 + r * 32, c.a, c.n);
            assert_same_float(quant_dot_q4_0_q8_0_avx2(c.w4 + r * 32, c.a, c.n), ref, "q4_0 avx2", c.n, r);
            assert_same_float(f4[r], ref, "q4_0 dot8 avx2", c.n, r);
        }
    }
    case_free(&c);
}

static void check_quantize(const float *x, int64_t n)
{
    int64_t nb = n / 32;
    struct block_q8_0 *q1 = malloc((size_t)nb * sizeof *q1), *q2 = malloc((size_t)nb * sizeof *q2);
    assert_true(q1 && q2);
    memset(q1, 0x11, (size_t)nb * sizeof *q1);
    memset(q2, 0x22, (size_t)nb * sizeof *q2);
    quant_q8_0_quantize_row_ref(x, q1, n);
    quant_q8_0_quantize_row_avx2(x, q2, n);
    for (int64_t b = 0; b < nb; b++) {
        if (memcmp(&q1[b], &q2[b], sizeof q1[b]) != 0) {
            print_error("quantize n %lld block %lld differs\n", (long long)n, (long long)b);
            fail();
        }
        for (int j = 0; j < 32; j++)
            assert_true(q1[b].qs[j] != -128); /* the activation precondition */
    }
    free(q1);
    free(q2);
}

static void test_fast_quantize_matches_ref(void **state)
{
    (void)state;
    if (!(kernels_cpu_level() >= KERN_AVX2))
        skip();
    rng_state = 15;
    for (size_t t = 0; t < N_NS; t++) {
        int64_t n = ns[t];
        float *x = malloc((size_t)n * sizeof *x);
        assert_non_null(x);
        for (int rep = 0; rep < 50; rep++) {
            fill_floats(x, n);
            check_quantize(x, n);
        }
        free(x);
    }

    /* Ties: amax 127 makes id 1, so k + 0.5 lands exactly halfway; roundf
     * takes them away from zero, which plain RNE rounding would not. */
    float x[32 * 6];
    for (int j = 0; j < 32; j++)
        x[j] = (j == 0) ? 127.0f : (float)(j - 16) + 0.5f;
    /* amax 63.5: id = 2, so multiples of 0.25 give x*id = k + 0.5 */
    for (int j = 0; j < 32; j++)
        x[32 + j] = (j == 0) ? -63.5f : (float)(j - 16) * 0.25f;
    /* all zeros, and negative zeros */
    for (int j = 0; j < 32; j++) {
        x[64 + j] = 0.0f;
        x[96 + j] = -0.0f;
    }
    /* tiny (fp16(d) underflows to 0) and huge (fp16(d) overflows to inf) */
    for (int j = 0; j < 32; j++) {
        x[128 + j] = (float)(j - 16) * 1e-30f;
        x[160 + j] = (float)(j - 15) * 1e30f;
    }
    check_quantize(x, 32 * 6);
    struct block_q8_0 q[6];
    quant_q8_0_quantize_row_avx2(x, q, 32 * 6);
    assert_int_equal(q[0].qs[1], -15); /* -14.5 -> -15 */
    assert_int_equal(q[0].qs[17], 2);  /* 1.5 -> 2 */
    assert_int_equal(q[0].qs[18], 3);  /* 2.5 -> 3 */
    assert_int_equal(q[3].d, 0);
}

/* ---- Q4_K kernels ------------------------------------------------------ */

struct k_case {
    int64_t n;
    struct block_q4_k *w;   /* 8 plain rows */
    struct block_q4_kx8 *r; /* the same, repacked */
    struct block_q8_k *a;
};

static void k_case_alloc(struct k_case *c, int64_t n)
{
    int64_t nb = n / QK_K;
    c->n = n;
    c->w = malloc((size_t)(8 * nb) * sizeof *c->w);
    c->r = malloc((size_t)nb * sizeof *c->r);
    c->a = malloc((size_t)nb * sizeof *c->a);
    assert_true(c->w && c->r && c->a);
}

static void k_case_free(struct k_case *c)
{
    free(c->w);
    free(c->r);
    free(c->a);
}

static void set_bsums(struct block_q8_k *a)
{
    for (int g = 0; g < 16; g++) {
        int s = 0;
        for (int i = 0; i < 16; i++)
            s += a->qs[16 * g + i];
        a->bsums[g] = (int16_t)s;
    }
}

/* Weights quantized from floats or raw bytes (random finite halves, zero
 * scales now and then, all-0x00 / all-0xff scale and quant bytes); the
 * activation quantized, or raw int8 (-128 included) with consistent bsums. */
static void k_case_fill(struct k_case *c, int raw_w, int raw_a)
{
    int64_t n = c->n, nb = n / QK_K;
    float *x = malloc((size_t)n * sizeof *x);
    assert_non_null(x);
    for (int r = 0; r < 8; r++) {
        struct block_q4_k *w = c->w + r * nb;
        if (raw_w) {
            fill_bytes(w, (size_t)nb * sizeof *w);
            for (int64_t b = 0; b < nb; b++) {
                w[b].d = rand_scale();
                w[b].dmin = rand_scale();
                if (rng_next() % 8 == 0)
                    memset(w[b].scales, rng_next() % 2 ? 0 : 0xff, sizeof w[b].scales);
                if (rng_next() % 8 == 0)
                    memset(w[b].qs, rng_next() % 2 ? 0 : 0xff, sizeof w[b].qs);
            }
        } else {
            fill_floats(x, n);
            quant_q4_k_quantize_row(x, w, n);
        }
    }
    if (raw_a) {
        for (int64_t b = 0; b < nb; b++) {
            fill_bytes(c->a[b].qs, sizeof c->a[b].qs);
            if (rng_next() % 4 == 0)
                memset(c->a[b].qs, rng_next() % 2 ? 0x80 : 0x7f, sizeof c->a[b].qs);
            c->a[b].d = ldexpf(rng_unit(), -(int)(rng_next() % 8));
            set_bsums(&c->a[b]);
        }
    } else {
        fill_floats(x, n);
        quant_q8_k_quantize_row_ref(x, c->a, n);
    }
    repack_matrix(GGML_TYPE_Q4_K, c->w, c->r, 8, n);
    free(x);
}

static const int64_t ns_k[] = {256, 512, 768, 2048, 4096, 11008, 14336};
#define N_NS_K (sizeof ns_k / sizeof ns_k[0])

static void test_dot8_q4_k(void **state)
{
    (void)state;
    rng_state = 17;
    int fast = (kernels_cpu_level() >= KERN_AVX2);
    for (size_t t = 0; t < N_NS_K; t++) {
        struct k_case c;
        k_case_alloc(&c, ns_k[t]);
        int64_t nb = c.n / QK_K;
        for (int rep = 0; rep < 24; rep++) {
            k_case_fill(&c, rep % 2, rep / 2 % 2);
            float o_ref[8], o_fast[8];
            repack_dot8_q4_k_q8_k_ref(c.r, c.a, c.n, o_ref);
            if (fast)
                repack_dot8_q4_k_q8_k_avx2(c.r, c.a, c.n, o_fast);
            for (int r = 0; r < 8; r++) {
                float ref = quant_dot_q4_k_q8_k_ref(c.w + r * nb, c.a, c.n);
                assert_same_float(o_ref[r], ref, "q4_k dot8_ref", c.n, r);
                if (fast) {
                    assert_same_float(o_fast[r], ref, "q4_k dot8 avx2", c.n, r);
                    assert_same_float(quant_dot_q4_k_q8_k_avx2(c.w + r * nb, c.a, c.n), ref, "q4_k avx2", c.n, r);
                }
            }
        }
        k_case_free(&c);
    }

    /* dispatch: either way, the ref bits */
    struct k_case c;
    k_case_alloc(&c, 4096);
    k_case_fill(&c, 0, 0);
    float o[2][8];
    for (int force = 0; force < 2; force++) {
        kernels_cap_level(force ? KERN_REF : KERN_BEST);
        table_rows8(GGML_TYPE_Q4_K, KERN_REPACKED, c.r, 0, c.a, 0, 1, c.n, o[force], 0);
    }
    kernels_cap_level(KERN_BEST);
    assert_memory_equal(o[0], o[1], sizeof o[0]);
    for (int r = 0; r < 8; r++)
        assert_same_float(o[0][r], quant_dot_q4_k_q8_k_ref(c.w + r * 16, c.a, c.n), "q4_k dot8", c.n, r);
    k_case_free(&c);
}

/* Every level's repack (the load's permutation, kernels.h) writes the bytes
 * of repack_matrix, all of them (two sentinels), over random bytes. */
static void test_repack_levels(void **state)
{
    (void)state;
    static const struct {
        uint32_t type;
        int64_t rows, cols;
    } cases[] = {
        {GGML_TYPE_Q4_0, 8, 32},   {GGML_TYPE_Q4_0, 24, 96},  {GGML_TYPE_Q4_0, 64, 2048},
        {GGML_TYPE_Q8_0, 8, 32},   {GGML_TYPE_Q8_0, 16, 160}, {GGML_TYPE_Q8_0, 40, 1024},
        {GGML_TYPE_Q4_K, 8, 256},  {GGML_TYPE_Q4_K, 24, 768}, {GGML_TYPE_Q4_K, 64, 2048},
    };
    rng_state = 21;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t bytes = repack_bytes(cases[i].type, cases[i].rows, cases[i].cols);
        uint8_t *src = malloc(bytes), *want = malloc(bytes), *got = malloc(bytes);
        assert_true(bytes && src && want && got);
        fill_bytes(src, bytes);
        repack_matrix(cases[i].type, src, want, cases[i].rows, cases[i].cols);
        const struct kern_row *k = kernels_row(cases[i].type, KERN_REPACKED);
        for (int l = KERN_REF; l <= (int)kernels_cpu_level(); l++) {
            assert_non_null(k->fn[l].repack);
            for (int sentinel = 0; sentinel < 2; sentinel++) {
                memset(got, sentinel ? 0xff : 0x00, bytes);
                k->fn[l].repack(src, got, cases[i].rows, cases[i].cols);
                if (memcmp(got, want, bytes))
                    fail_msg("repack of type %u, %" PRId64 " x %" PRId64 ", level %d: not repack_matrix's bytes",
                             cases[i].type, cases[i].rows, cases[i].cols, l);
            }
        }
        free(src);
        free(want);
        free(got);
    }
}

static void test_dispatch(void **state)
{
    (void)state;
    kernels_cap_level(KERN_REF);
    assert_false((kernels_level() >= KERN_AVX2));
    kernels_cap_level(KERN_BEST);
    assert_int_equal((kernels_level() >= KERN_AVX2), (kernels_cpu_level() >= KERN_AVX2));

    /* Dispatchers give the ref bits whichever way they go. */
    rng_state = 16;
    struct dot_case c;
    case_alloc(&c, 4096);
    case_fill(&c, 0);
    float x[4096];
    fill_floats(x, 4096);
    struct block_q8_0 qf[128], qr[128];
    float o[2][2][8], p[2][2];
    for (int force = 0; force < 2; force++) {
        kernels_cap_level(force ? KERN_REF : KERN_BEST);
        table_rows8(GGML_TYPE_Q4_0, KERN_REPACKED, c.r4, 0, c.a, 0, 1, c.n, o[force][0], 0);
        table_rows8(GGML_TYPE_Q8_0, KERN_REPACKED, c.r8, 0, c.a, 0, 1, c.n, o[force][1], 0);
        p[force][0] = table_dot(GGML_TYPE_Q4_0, c.w4, c.a, c.n);
        p[force][1] = table_dot(GGML_TYPE_Q8_0, c.w8, c.a, c.n);
        table_from_float(GGML_TYPE_Q8_0, x, force ? qr : qf, 4096);
    }
    kernels_cap_level(KERN_BEST);
    assert_memory_equal(o[0], o[1], sizeof o[0]);
    assert_memory_equal(p[0], p[1], sizeof p[0]);
    assert_memory_equal(qf, qr, sizeof qf);
    case_free(&c);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_geometry),
        cmocka_unit_test(test_layout_pinned_q8_0),
        cmocka_unit_test(test_layout_pinned_q4_0),
        cmocka_unit_test(test_layout_pinned_q4_k),
        cmocka_unit_test(test_permutation_round_trip),
        cmocka_unit_test(test_dot8_ref_matches_rows),
        cmocka_unit_test(test_fast_matches_ref),
        cmocka_unit_test(test_fast_q4_0_any_activation),
        cmocka_unit_test(test_fast_quantize_matches_ref),
        cmocka_unit_test(test_dot8_q4_k),
        cmocka_unit_test(test_repack_levels),
        cmocka_unit_test(test_dispatch),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
