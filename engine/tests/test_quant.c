/* test_quant.c: the scalar reference kernels of quant.c against independent
 * computations.
 *
 * fp16: every half decoded from its fields in double; floats encoded against a
 * double-precision RNE rounding and (when the CPU has it) against F16C.
 * Quantizers: pinned bytes for hand-built inputs, and per-element round-trip
 * bounds derived from the scale. Activation converters (ggml's x86 Q8_0
 * rounding, ties to even; F16 rounding): pinned ties, and every SIMD level
 * against the ref. Dots: against a double sum of the dequantized
 * products, with the tolerance of the float evaluation order (gamma_k * sum|t|),
 * and a case whose result depends on the documented accumulation order. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <cpuid.h>
#include <float.h>
#include <immintrin.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/quant.h"
#include "kernels/vec.h"
#include "table.h"
#include "rng.h"

/* ---- helpers ----------------------------------------------------------- */

/* Fills x with n values, each 32-block at its own random scale 2^-6..2^6,
 * so blocks differ in magnitude as real activations and weights do. */
static void fill_blocks(float *x, int64_t n)
{
    for (int64_t b = 0; b < n; b += 32) {
        float scale = ldexpf(1.0f, (int)(rng_next() % 13) - 6);
        for (int64_t j = b; j < b + 32 && j < n; j++)
            x[j] = rng_unit() * scale;
    }
}

static uint32_t bits_of(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

static float float_of(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

/* gamma_k = k u / (1 - k u) for float's unit roundoff u = 2^-24. */
static double gamma_f32(double k)
{
    double ku = k * ldexp(1.0, -24);
    return ku / (1.0 - ku);
}

/* ---- fp16 -------------------------------------------------------------- */

/* The value of a half, decoded from its fields in double (finite halves). */
static double half_value(uint16_t h)
{
    int exp = (h >> 10) & 0x1f;
    int mant = h & 0x3ff;
    double v = exp == 0 ? ldexp(mant, -24) : ldexp(1024 + mant, exp - 25);
    return (h & 0x8000) ? -v : v;
}

static void test_fp16_to_fp32_all_halves(void **state)
{
    (void)state;
    for (uint32_t i = 0; i < 65536; i++) {
        uint16_t h = (uint16_t)i;
        float f = quant_fp16_to_fp32(h);
        int exp = (h >> 10) & 0x1f;
        int mant = h & 0x3ff;
        assert_int_equal(!!signbit(f), !!(h & 0x8000));
        if (exp == 0x1f && mant == 0) {
            assert_true(isinf(f));
        } else if (exp == 0x1f) {
            assert_true(isnan(f));
            /* quieted, payload kept in the top of the float mantissa */
            assert_int_equal((bits_of(f) >> 13) & 0x3ff, mant | 0x200);
        } else {
            assert_true((double)f == half_value(h));
        }
        /* and back: exact for every half, a NaN comes back quieted */
        uint16_t back = quant_fp32_to_fp16(f);
        if (exp == 0x1f && mant != 0)
            assert_int_equal(back, h | 0x0200);
        else
            assert_int_equal(back, h);
    }
}

/* The row dequantizer (branch-free, widened by the compiler) gives the scalar
 * conversion's bits for every half, NaNs included, at every start offset mod 16
 * so that the vector body and its scalar tail both meet every value. */
static void test_f16_row_matches_scalar(void **state)
{
    (void)state;
    enum { N = 65536 + 16 };
    uint16_t *h = malloc(N * sizeof *h);
    float *y = malloc(N * sizeof *y);
    assert_non_null(h);
    assert_non_null(y);
    for (int off = 0; off < 16; off += 5) {
        for (uint32_t i = 0; i < N; i++)
            h[i] = (uint16_t)(i - (uint32_t)off);
        quant_f16_dequantize_row(h + off, y + off, N - off);
        for (uint32_t i = (uint32_t)off; i < N; i++) {
            uint32_t want = bits_of(quant_fp16_to_fp32(h[i]));
            if (bits_of(y[i]) != want)
                fail_msg("half 0x%04x at %u: row gives 0x%08x, scalar 0x%08x", h[i], i,
                         bits_of(y[i]), want);
        }
    }
    free(h);
    free(y);
}

/* The nearest half to a float (ties to even), computed in double: the float is
 * divided by the half ulp of its binade (exact, a power of two), rounded with
 * nearbyint (the default RNE mode), and scaled back. */
static double ref_round_to_half(float f)
{
    double a = fabs((double)f);
    if (a >= 65520.0) /* at and beyond the tie with 2^16: infinity */
        return copysign(INFINITY, (double)f);
    int e;
    frexp(a, &e); /* a = m 2^e, m in [0.5, 1): the binade is 2^(e-1) */
    int ulp_exp = e - 1 - 10;
    if (ulp_exp < -24)
        ulp_exp = -24; /* subnormal halves have a fixed ulp 2^-24 */
    double q = nearbyint(ldexp(a, -ulp_exp));
    return copysign(ldexp(q, ulp_exp), (double)f);
}

static void check_fp32_to_fp16(float f)
{
    uint16_t h = quant_fp32_to_fp16(f);
    if (isnan(f)) {
        assert_int_equal(h & 0x7e00, 0x7e00);
        return;
    }
    double want = ref_round_to_half(f);
    double got = (double)quant_fp16_to_fp32(h);
    if (got != want || !!signbit(got) != !!signbit(f)) {
        print_error("float %a (0x%08x): half 0x%04x = %a, want %a\n", (double)f,
                    (unsigned)bits_of(f), (unsigned)h, got, want);
        fail();
    }
}

static void test_fp32_to_fp16_vs_double(void **state)
{
    (void)state;
    static const float edges[] = {
        0.0f, -0.0f, 1.0f, -1.0f, 65504.0f, 65519.99f, 65520.0f, 65536.0f, 1e30f, FLT_MAX,
        0x1p-24f, 0x1p-25f, 0x1.000002p-25f, 0x3p-26f, 0x5p-26f, 0x1p-14f, 0x1.ffcp-15f,
        0x1.ffep-15f, 0x1.fffp-15f, 1.0f + 0x1p-11f, 1.0f + 0x3p-11f, 1.0f + 0x1p-11f + 0x1p-23f,
        0x1p-26f, FLT_MIN, 0x1p-149f, INFINITY, -INFINITY, NAN,
    };
    for (size_t i = 0; i < sizeof edges / sizeof edges[0]; i++) {
        check_fp32_to_fp16(edges[i]);
        check_fp32_to_fp16(-edges[i]);
    }
    /* Ties in the subnormal range (ulp 2^-24) go to even: 1.5 ulp -> 2, 2.5 ulp -> 2. */
    assert_int_equal(quant_fp32_to_fp16(0x3p-25f), 0x0002);
    assert_int_equal(quant_fp32_to_fp16(0x5p-25f), 0x0002);
    assert_int_equal(quant_fp32_to_fp16(65520.0f), 0x7c00);
    assert_int_equal(quant_fp32_to_fp16(65519.0f), 0x7bff);
    assert_int_equal(quant_fp32_to_fp16(0x1.ffep-15f), 0x0400); /* carry into the normals */

    /* A stride through every float bit pattern (prime stride: all exponents,
     * varied low mantissa bits), then random floats in the half range. */
    for (uint64_t u = 0; u < (1ull << 32); u += 65521)
        check_fp32_to_fp16(float_of((uint32_t)u));
    rng_state = 0x9e3779b97f4a7c15ULL;
    for (int i = 0; i < 1000000; i++) {
        uint32_t u = (uint32_t)rng_next();
        /* exponents 2^-30..2^17 cover subnormal halves through overflow */
        u = (u & 0x807fffffu) | ((uint32_t)(97 + rng_next() % 48) << 23);
        check_fp32_to_fp16(float_of(u));
    }
}

__attribute__((target("f16c"))) static uint16_t f16c_encode(float f)
{
    return (uint16_t)_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT);
}

__attribute__((target("f16c"))) static float f16c_decode(uint16_t h)
{
    return _cvtsh_ss(h);
}

static void test_fp16_vs_f16c(void **state)
{
    (void)state;
    unsigned eax, ebx, ecx, edx;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx) || !(ecx & bit_F16C))
        skip();
    for (uint32_t i = 0; i < 65536; i++)
        assert_int_equal(bits_of(quant_fp16_to_fp32((uint16_t)i)),
                         bits_of(f16c_decode((uint16_t)i)));
    for (uint64_t u = 0; u < (1ull << 32); u += 61) {
        float f = float_of((uint32_t)u);
        uint16_t got = quant_fp32_to_fp16(f), want = f16c_encode(f);
        if (got != want) {
            print_error("float 0x%08x: got 0x%04x, f16c 0x%04x\n", (unsigned)u, (unsigned)got,
                        (unsigned)want);
            fail();
        }
    }
    /* the row form: 8 at a time plus a tail, over the same stride of floats */
    enum { ROW = 1003 };
    float x[ROW];
    uint16_t fast[ROW], ref[ROW];
    for (uint64_t u = 0; u < (1ull << 32); u += 4093ull * ROW) {
        for (int i = 0; i < ROW; i++)
            x[i] = float_of((uint32_t)(u + 4093ull * (uint64_t)i));
        quant_f16_quantize_row_f16c(x, fast, ROW);
        quant_f16_quantize_row_ref(x, ref, ROW);
        assert_memory_equal(fast, ref, sizeof fast);
    }
}

/* ---- geometry ---------------------------------------------------------- */

static void test_row_bytes(void **state)
{
    (void)state;
    assert_true(quant_type_supported(GGML_TYPE_F32));
    assert_true(quant_type_supported(GGML_TYPE_F16));
    assert_true(quant_type_supported(GGML_TYPE_Q8_0));
    assert_true(quant_type_supported(GGML_TYPE_Q4_0));
    assert_true(quant_type_supported(GGML_TYPE_Q4_K));
    assert_true(quant_type_supported(GGML_TYPE_Q6_K));
    assert_false(quant_type_supported(GGML_TYPE_Q5_K));
    assert_false(quant_type_supported(GGML_TYPE_BF16));
    assert_false(quant_type_supported(12345));

    assert_int_equal(quant_row_bytes(GGML_TYPE_F32, 4096), 16384);
    assert_int_equal(quant_row_bytes(GGML_TYPE_F16, 4096), 8192);
    assert_int_equal(quant_row_bytes(GGML_TYPE_Q8_0, 4096), 128 * 34);
    assert_int_equal(quant_row_bytes(GGML_TYPE_Q4_0, 4096), 128 * 18);
    assert_int_equal(quant_row_bytes(GGML_TYPE_Q4_0, 0), 0);
    assert_int_equal(quant_row_bytes(GGML_TYPE_Q4_K, 256), 144);
    assert_int_equal(quant_row_bytes(GGML_TYPE_Q6_K, 512), 420);
    assert_int_equal(quant_row_bytes(GGML_TYPE_Q5_K, 256), 0);
    assert_int_equal(quant_row_bytes(GGML_TYPE_Q8_0, 33), 0); /* not whole blocks */
    assert_int_equal(quant_row_bytes(GGML_TYPE_F32, -1), 0);
}

/* ---- quantizers: pinned bytes ------------------------------------------ */

static void test_q4_0_layout_pinned(void **state)
{
    (void)state;
    /* Hand-built block: d = 1.0, element j (low nibble of qs[j]) = j - 8,
     * element j + 16 (high nibble) = 7 - j. */
    struct block_q4_0 blk;
    blk.d = 0x3c00;
    for (int j = 0; j < 16; j++)
        blk.qs[j] = (uint8_t)(j | (15 - j) << 4);
    float y[32];
    quant_dequantize_row(GGML_TYPE_Q4_0, &blk, y, 32);
    for (int j = 0; j < 16; j++) {
        assert_true(y[j] == (float)(j - 8));
        assert_true(y[j + 16] == (float)(7 - j));
    }

    /* The quantizer produces exactly that block from those values: the largest
     * magnitude is -8 (sign kept), so d = -8 / -8 = 1. */
    struct block_q4_0 q;
    quant_q4_0_quantize_row(y, &q, 32);
    assert_int_equal(q.d, 0x3c00);
    assert_memory_equal(q.qs, blk.qs, 16);

    /* Largest magnitude positive: d is negative and that element gets nibble 0;
     * x * id = 8 (the opposite extreme) is clamped to 15. */
    float x[32] = {0};
    x[3] = 4.0f;   /* max: d = -0.5, id = -2 -> -8 + 8.5 -> 0 */
    x[20] = -4.0f; /* 8 + 8.5 = 16.5 -> 16 -> clamped 15 */
    x[5] = 1.0f;   /* -2 + 8.5 = 6.5 -> 6 */
    x[6] = -0.75f; /* 1.5 + 8.5 = 10 -> 10 */
    x[7] = -0.5f;  /* 1 + 8.5 = 9.5 -> 9 (truncation of +0.5 rounds half up) */
    quant_q4_0_quantize_row(x, &q, 32);
    assert_int_equal(q.d, 0xb800); /* -0.5 */
    assert_int_equal(q.qs[3] & 0x0f, 0);
    assert_int_equal(q.qs[4] >> 4, 15);
    assert_int_equal(q.qs[5] & 0x0f, 6);
    assert_int_equal(q.qs[6] & 0x0f, 10);
    assert_int_equal(q.qs[7] & 0x0f, 9);
    assert_int_equal(q.qs[0], 0x88); /* zeros are nibble 8 */
}

static void test_q8_0_pinned(void **state)
{
    (void)state;
    /* amax = 127 gives d = 1, id = 1: q = roundf(x), ties away from zero. */
    float x[32] = {0};
    x[0] = -127.0f;
    x[1] = 0.5f;
    x[2] = -0.5f;
    x[3] = 2.5f;
    x[4] = -2.5f;
    x[5] = 1.49f;
    x[6] = 100.51f;
    struct block_q8_0 q;
    table_from_float(GGML_TYPE_Q8_0, x, &q, 32);
    assert_int_equal(q.d, 0x3c00);
    static const int8_t want[7] = {-127, 1, -1, 3, -3, 1, 101};
    assert_memory_equal(q.qs, want, 7);
    for (int j = 7; j < 32; j++)
        assert_int_equal(q.qs[j], 0);
}

static void test_zero_blocks(void **state)
{
    (void)state;
    float x[64] = {0};
    struct block_q8_0 q8[2];
    struct block_q4_0 q4[2];
    memset(q8, 0x55, sizeof q8);
    memset(q4, 0x55, sizeof q4);
    table_from_float(GGML_TYPE_Q8_0, x, q8, 64);
    quant_q4_0_quantize_row(x, q4, 64);
    for (int b = 0; b < 2; b++) {
        assert_int_equal(q8[b].d, 0);
        assert_int_equal(q4[b].d, 0x8000); /* d = 0 / -8 = -0, as ggml stores it */
        for (int j = 0; j < 32; j++)
            assert_int_equal(q8[b].qs[j], 0);
        for (int j = 0; j < 16; j++)
            assert_int_equal(q4[b].qs[j], 0x88);
    }
}

/* ---- the activation converters (from_float_act) ------------------------- */

/* Q8_0 of the table's from_float_act at the current level. */
static void act_q8_0(const float *x, struct block_q8_0 *y, int64_t n)
{
    kernels_fns(GGML_TYPE_Q8_0, KERN_PLAIN)->from_float_act(x, y, n);
}

/* ggml's x86 activation rounding, at every SIMD level: the multiplier is
 * 127 / amax and ties go to the even neighbour; the weight quantizer keeps
 * 1 / d and ties away from zero. */
static void test_q8_0_act_ties_to_even(void **state)
{
    (void)state;
    float x[32 * 3] = {0};
    /* block 0: amax 127, so the multiplier is exactly 1 */
    static const float ties[] = {127.0f, -14.5f, 1.5f, 2.5f, -2.5f, 0.5f, -0.5f, 126.5f, 3.49f, -100.5f};
    static const int8_t even[] = {127, -14, 2, 2, -2, 0, 0, 126, 3, -100};
    static const int8_t away[] = {127, -15, 2, 3, -3, 1, -1, 127, 3, -101};
    memcpy(x, ties, sizeof ties);
    /* block 1: multiples of one step s with amax 8 s, as a Q4_0 embedding row
     * leaves them after RMSNorm. For this s, 4 s * (127 / 8 s) is exactly
     * 63.5 (to even: 64), while 4 s * (1 / (8 s / 127)) is 63.4999962 (63). */
    const float step = 0.0100109996f;
    x[32] = 8.0f * step;
    x[33] = 4.0f * step;
    x[34] = -4.0f * step;
    assert_true(4.0f * step * (127.0f / (8.0f * step)) == 63.5f);
    /* block 2: zeros, with a negative one */
    x[70] = -0.0f;
    for (int l = KERN_REF; l <= (int)kernels_cpu_level(); l++) {
        kernels_cap_level((enum kern_level)l);
        struct block_q8_0 q[3];
        memset(q, 0x55, sizeof q);
        act_q8_0(x, q, 96);
        assert_memory_equal(q[0].qs, even, sizeof even);
        assert_int_equal(q[0].d, 0x3c00); /* d = 127 / 127 = 1 */
        assert_int_equal(q[1].qs[0], 127);
        assert_int_equal(q[1].qs[1], 64);
        assert_int_equal(q[1].qs[2], -64);
        assert_int_equal(q[1].d, quant_fp32_to_fp16(8.0f * step / 127.0f));
        assert_int_equal(q[2].d, 0);
        for (int j = 0; j < 32; j++)
            assert_int_equal(q[2].qs[j], 0);
        /* the weight quantizer, unchanged: what quantize and gen write */
        memset(q, 0x55, sizeof q);
        table_from_float(GGML_TYPE_Q8_0, x, q, 96);
        assert_memory_equal(q[0].qs, away, sizeof away);
        assert_int_equal(q[1].qs[1], 63);
        assert_int_equal(q[1].qs[2], -63);
    }
    kernels_cap_level(KERN_BEST);
}

/* Every level's activation converters give the ref's bytes: random blocks
 * and blocks of multiples of one step (full of ties), and F16 rounding of
 * any float pattern. */
static void test_act_every_level_equals_ref(void **state)
{
    (void)state;
    enum { N = 32 * 64, NH = 1003 };
    float *x = malloc(N * sizeof *x);
    struct block_q8_0 *ref = malloc(N / 32 * sizeof *ref), *got = malloc(N / 32 * sizeof *got);
    assert_true(x && ref && got);
    rng_state = 31;
    int n_ties = 0;
    for (int rep = 0; rep < 40; rep++) {
        fill_blocks(x, N);
        if (rep % 2) /* k * step, k in -8..8: x * (127 / amax) lands on halves */
            for (int b = 0; b < N / 32; b++) {
                float step = ldexpf(1.0f + rng_unit() * 0.5f, (int)(rng_next() % 9) - 8);
                for (int j = 0; j < 32; j++)
                    x[b * 32 + j] = (float)((int)(rng_next() % 17) - 8) * step;
            }
        quant_q8_0_quantize_act_ref(x, ref, N);
        for (int b = 0; b < N / 32; b++) {
            float amax = 0.0f;
            for (int j = 0; j < 32; j++)
                amax = fmaxf(amax, fabsf(x[b * 32 + j]));
            for (int j = 0; j < 32 && amax > 0.0f; j++) {
                float v = x[b * 32 + j] * (127.0f / amax);
                n_ties += fabsf(v - truncf(v)) == 0.5f;
                assert_true(ref[b].qs[j] == (int8_t)nearbyintf(v)); /* the default mode: to even */
            }
        }
        for (int l = KERN_REF; l <= (int)kernels_cpu_level(); l++) {
            kernels_cap_level((enum kern_level)l);
            memset(got, 0x55, N / 32 * sizeof *got);
            act_q8_0(x, got, N);
            if (memcmp(ref, got, N / 32 * sizeof *got))
                fail_msg("Q8_0 activations, rep %d: level %d differs from the ref", rep, l);
        }
        kernels_cap_level(KERN_BEST);
    }
    assert_true(n_ties > 1000);
    float h[NH], hr[NH], hg[NH];
    uint32_t z = 99;
    for (int i = 0; i < NH; i++) {
        z = z * 1664525u + 1013904223u;
        h[i] = i % 3 ? float_of(z) : rng_unit() * 70000.0f;
    }
    quant_f16_round_row_ref(h, hr, NH);
    for (int i = 0; i < NH; i++) {
        float want = quant_fp16_to_fp32(quant_fp32_to_fp16(h[i]));
        assert_memory_equal(&hr[i], &want, sizeof want);
    }
    for (int l = KERN_REF; l <= (int)kernels_cpu_level(); l++) {
        kernels_cap_level((enum kern_level)l);
        memset(hg, 0x55, sizeof hg);
        kernels_fns(GGML_TYPE_F16, KERN_PLAIN)->from_float_act(h, hg, NH);
        assert_memory_equal(hg, hr, sizeof hr);
    }
    kernels_cap_level(KERN_BEST);
    free(x), free(ref), free(got);
}

/* ---- quantizers: round-trip bounds ------------------------------------- */

/* Q8_0: |x - d'q| <= |x - d q| + |q| |d - d'| <= d/2 (+ the rounding of x*id)
 * + 127 d 2^-11 (d' = fp16(d) is within 2^-11 relative of d). */
static void test_q8_0_roundtrip(void **state)
{
    (void)state;
    enum { N = 32 * 512 };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    struct block_q8_0 *q = malloc(N / 32 * sizeof *q);
    assert_non_null(x);
    assert_non_null(y);
    assert_non_null(q);
    rng_state = 1;
    fill_blocks(x, N);
    table_from_float(GGML_TYPE_Q8_0, x, q, N);
    quant_dequantize_row(GGML_TYPE_Q8_0, q, y, N);
    for (int b = 0; b < N / 32; b++) {
        double amax = 0;
        for (int j = 0; j < 32; j++)
            amax = fmax(amax, fabs(x[b * 32 + j]));
        double d = amax / 127.0;
        double bound = d * (0.5 + 127.0 * ldexp(1.0, -11)) * (1.0 + 1e-6);
        int saw_extreme = 0;
        for (int j = 0; j < 32; j++) {
            double err = fabs((double)x[b * 32 + j] - (double)y[b * 32 + j]);
            assert_true(err <= bound);
            saw_extreme |= abs(q[b].qs[j]) == 127;
            assert_true(q[b].qs[j] != -128);
        }
        assert_true(saw_extreme); /* the largest element uses the full range */
    }
    free(x);
    free(y);
    free(q);
}

/* Q4_0: with d = max / -8, x * id lies in [-8, 8]; below 7.5 the nibble is
 * round-half-up of x * id + 8, so |x - d q| <= |d| / 2; above, it is clamped
 * to 7 and the error is at most |d|. The fp16 rounding of d adds 8 |d| 2^-11. */
static void test_q4_0_roundtrip(void **state)
{
    (void)state;
    enum { N = 32 * 512 };
    float *x = malloc(N * sizeof *x), *y = malloc(N * sizeof *y);
    struct block_q4_0 *q = malloc(N / 32 * sizeof *q);
    assert_non_null(x);
    assert_non_null(y);
    assert_non_null(q);
    rng_state = 2;
    fill_blocks(x, N);
    quant_q4_0_quantize_row(x, q, N);
    quant_dequantize_row(GGML_TYPE_Q4_0, q, y, N);
    for (int b = 0; b < N / 32; b++) {
        double amax = 0, max = 0;
        for (int j = 0; j < 32; j++) {
            if (fabs(x[b * 32 + j]) > amax) {
                amax = fabs(x[b * 32 + j]);
                max = x[b * 32 + j];
            }
        }
        double d = max / -8.0;
        double slack = 8.0 * ldexp(1.0, -11);
        for (int j = 0; j < 32; j++) {
            double v = (double)x[b * 32 + j] / d;
            double err = fabs((double)x[b * 32 + j] - (double)y[b * 32 + j]);
            double bound = fabs(d) * ((v < 7.49 ? 0.5 : 1.0) + slack) * (1.0 + 1e-6);
            assert_true(err <= bound);
            if ((double)x[b * 32 + j] == max)
                assert_true(y[b * 32 + j] == quant_fp16_to_fp32(q[b].d) * -8.0f);
        }
    }
    free(x);
    free(y);
    free(q);
}

static void test_f16_roundtrip(void **state)
{
    (void)state;
    enum { N = 4096 };
    float x[N], y[N];
    uint16_t h[N];
    rng_state = 3;
    fill_blocks(x, N);
    table_from_float(GGML_TYPE_F16, x, h, N);
    quant_dequantize_row(GGML_TYPE_F16, h, y, N);
    for (int i = 0; i < N; i++) {
        /* normal halves: relative error at most 2^-11 */
        assert_true(fabs((double)x[i] - (double)y[i]) <= ldexp(fabs((double)x[i]), -11));
        assert_int_equal(h[i], quant_fp32_to_fp16(x[i]));
    }
    float z[N];
    quant_dequantize_row(GGML_TYPE_F32, x, z, N);
    assert_memory_equal(z, x, sizeof x);
}

/* ---- dot products ------------------------------------------------------ */

/* Checks a float dot against the double sum of the products of the
 * dequantized values. The float result is a sum of k rounded terms, each
 * within a couple of roundings of its exact value, so it is within
 * gamma_(k+2) * sum|w_i a_i| of the exact sum; the double sum itself is
 * within n 2^-53 of that. */
static void check_dot(float got, const float *w, const float *a, int64_t n, int64_t k)
{
    double exact = 0, mag = 0;
    for (int64_t i = 0; i < n; i++) {
        exact += (double)w[i] * (double)a[i];
        mag += fabs((double)w[i] * (double)a[i]);
    }
    double tol = (gamma_f32((double)k + 2) + (double)n * ldexp(1.0, -52)) * mag;
    if (!(fabs((double)got - exact) <= tol)) {
        print_error("n %lld: got %.9g, exact %.17g, tol %.3g\n", (long long)n, (double)got,
                    exact, tol);
        fail();
    }
}

static void test_dot_quantized(void **state)
{
    (void)state;
    static const int64_t ns[] = {32, 64, 96, 256, 1024, 4096, 11008};
    rng_state = 4;
    for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
        int64_t n = ns[t], nb = n / 32;
        float *w = malloc((size_t)n * sizeof *w), *x = malloc((size_t)n * sizeof *x);
        float *wd = malloc((size_t)n * sizeof *wd), *xd = malloc((size_t)n * sizeof *xd);
        struct block_q8_0 *w8 = malloc((size_t)nb * sizeof *w8);
        struct block_q4_0 *w4 = malloc((size_t)nb * sizeof *w4);
        struct block_q8_0 *a8 = malloc((size_t)nb * sizeof *a8);
        assert_true(w && x && wd && xd && w8 && w4 && a8);
        for (int rep = 0; rep < 20; rep++) {
            fill_blocks(w, n);
            fill_blocks(x, n);
            table_from_float(GGML_TYPE_Q8_0, x, a8, n);
            quant_dequantize_row(GGML_TYPE_Q8_0, a8, xd, n);

            table_from_float(GGML_TYPE_Q8_0, w, w8, n);
            quant_dequantize_row(GGML_TYPE_Q8_0, w8, wd, n);
            check_dot(quant_dot_q8_0_q8_0_ref(w8, a8, n), wd, xd, n, nb);

            quant_q4_0_quantize_row(w, w4, n);
            quant_dequantize_row(GGML_TYPE_Q4_0, w4, wd, n);
            check_dot(quant_dot_q4_0_q8_0_ref(w4, a8, n), wd, xd, n, nb);
        }
        free(w);
        free(x);
        free(wd);
        free(xd);
        free(w8);
        free(w4);
        free(a8);
    }
}

static void test_dot_float(void **state)
{
    (void)state;
    static const int64_t ns[] = {1, 7, 32, 1000, 4096};
    rng_state = 5;
    for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++) {
        int64_t n = ns[t];
        float *w = malloc((size_t)n * sizeof *w), *x = malloc((size_t)n * sizeof *x);
        float *wd = malloc((size_t)n * sizeof *wd);
        uint16_t *wh = malloc((size_t)n * sizeof *wh);
        assert_true(w && x && wd && wh);
        for (int rep = 0; rep < 20; rep++) {
            fill_blocks(w, n);
            fill_blocks(x, n);
            check_dot(quant_dot_f32_ref(w, x, n), w, x, n, n);
            table_from_float(GGML_TYPE_F16, w, wh, n);
            quant_dequantize_row(GGML_TYPE_F16, wh, wd, n);
            check_dot(quant_dot_f16_ref(wh, x, n), wd, x, n, n);
        }
        free(w);
        free(x);
        free(wd);
        free(wh);
    }
}

/* Terms 2^24, 1, -2^24 summed in order give 0 (2^24 + 1 rounds back to 2^24);
 * any other order gives 1. This pins the documented accumulation order. */
static void test_dot_order(void **state)
{
    (void)state;
    struct block_q8_0 w[3], a[3];
    memset(w, 0, sizeof w);
    memset(a, 0, sizeof a);
    for (int b = 0; b < 3; b++)
        a[b].d = 0x3c00; /* 1.0 */
    w[0].d = quant_fp32_to_fp16(1024.0f); /* 1024 * (4 * 64 * 64) = 2^24 */
    w[2].d = quant_fp32_to_fp16(-1024.0f);
    for (int j = 0; j < 4; j++) {
        w[0].qs[j] = w[2].qs[j] = 64;
        a[0].qs[j] = a[2].qs[j] = 64;
    }
    w[1].d = 0x3c00;
    w[1].qs[7] = 1;
    a[1].qs[7] = 1;
    assert_true(quant_dot_q8_0_q8_0_ref(w, a, 96) == 0.0f);

    /* Q4_0: nibble 0 is -8; 16 of them against -64 give isum 2^13, and
     * d = 2048 makes the term 2^24. */
    struct block_q4_0 w4[3];
    memset(w4, 0x88, sizeof w4); /* nibble 8 is zero */
    w4[0].d = quant_fp32_to_fp16(2048.0f);
    w4[1].d = 0x3c00;
    w4[2].d = quant_fp32_to_fp16(-2048.0f);
    memset(a, 0, sizeof a);
    for (int j = 0; j < 16; j++) {
        w4[0].qs[j] = w4[2].qs[j] = 0x80; /* low nibble: elements 0..15 */
        a[0].qs[j] = a[2].qs[j] = -64;
    }
    w4[1].qs[7] = 0x98; /* high nibble of qs[7]: element 23 is +1 */
    a[1].qs[23] = 1;
    for (int b = 0; b < 3; b++)
        a[b].d = 0x3c00;
    assert_true(quant_dot_q4_0_q8_0_ref(w4, a, 96) == 0.0f);

    float fw[3] = {0x1p24f, 1.0f, -0x1p24f}, fx[3] = {1.0f, 1.0f, 1.0f};
    assert_true(quant_dot_f32_ref(fw, fx, 3) == 0.0f);
    uint16_t hw[3] = {0x3c00, 0x3c00, 0x3c00}; /* 1.0 */
    float hx[3] = {0x1p24f, 1.0f, -0x1p24f};
    assert_true(quant_dot_f16_ref(hw, hx, 3) == 0.0f);
}

/* The block term is rounded before it is added: acc + round(scale * isum),
 * never fma(scale, isum, acc). Block 0 leaves acc = 0.5 + 2^-11; block 1 has
 * scale = (1 + 2^-10)^2 (21 bits) and isum = 113 * 113 (14 bits), so the
 * product rounds, and for these values the fused sum rounds the other way.
 * The expected value is built in double, where products and sums here are
 * exact, and rounded to float by conversions, which no compiler contracts. */
static void test_dot_no_fma(void **state)
{
    (void)state;
    struct block_q8_0 w[2], a[2];
    memset(w, 0, sizeof w);
    memset(a, 0, sizeof a);
    w[0].d = 0x3801; /* 0.5 + 2^-11 */
    a[0].d = 0x3c00; /* 1 */
    w[0].qs[0] = a[0].qs[0] = 1;
    w[1].d = a[1].d = 0x3c01; /* 1 + 2^-10 */
    w[1].qs[5] = a[1].qs[5] = 113;

    double acc0 = 0.5 + ldexp(1.0, -11);
    float scale = (float)((1.0 + ldexp(1.0, -10)) * (1.0 + ldexp(1.0, -10)));
    float term = (float)((double)scale * 12769.0);
    float want = (float)(acc0 + (double)term);
    float fused = (float)((double)scale * 12769.0 + acc0);
    assert_true(want != fused); /* the case discriminates */
    assert_true(quant_dot_q8_0_q8_0_ref(w, a, 64) == want);
    if ((kernels_cpu_level() >= KERN_AVX2))
        assert_true(quant_dot_q8_0_q8_0_avx2(w, a, 64) == want);
}

/* The AVX2 SwiGLU and the ref give the same bits on g, u (n <= 2048). */
static void swiglu_forms_agree(const float *g, const float *u, int n)
{
    float fast[2048], ref[2048];
    assert_true(n <= 2048);
    memcpy(fast, g, sizeof(float) * (size_t)n);
    memcpy(ref, g, sizeof(float) * (size_t)n);
    vec_swiglu_avx2(fast, u, n);
    vec_swiglu_ref(ref, u, n);
    for (int i = 0; i < n; i++)
        if (memcmp(&fast[i], &ref[i], sizeof fast[i]))
            fail_msg("swiglu element %d, g %.9g (0x%08x): got 0x%08x, ref 0x%08x", i, (double)g[i],
                     (unsigned)bits_of(g[i]), (unsigned)bits_of(fast[i]), (unsigned)bits_of(ref[i]));
}

/* SwiGLU: the AVX2 form (8 at a time, plus a tail) gives the ref's bits on
 * float patterns from all over the range: zeros, subnormals, values whose
 * expf overflows or underflows, infinities and NaNs included. */
static void test_swiglu_fast_equals_ref(void **state)
{
    (void)state;
    if (!(kernels_cpu_level() >= KERN_AVX2))
        skip();
    enum { N = 1003 };
    float g[N], u[N];
    uint32_t z = 12345;
    for (int rep = 0; rep < 200; rep++) {
        for (int i = 0; i < N; i++) {
            z = z * 1664525u + 1013904223u;
            uint32_t w = z;
            z = z * 1664525u + 1013904223u;
            /* half the time any bit pattern, else a value in [-30, 30) */
            g[i] = rep % 2 ? float_of(w) : (float)((double)(w >> 8) / 16777216.0 * 60.0 - 30.0);
            u[i] = (float)((double)(z >> 8) / 16777216.0 * 4.0 - 2.0);
        }
        swiglu_forms_agree(g, u, N);
    }
}

/* vec_expf_ref: within 2.5 ulp of e^x (ulp of e^x's binade; 2.22 the worst
 * seen over all floats in range) over the normal range, +inf above, monotone down into the subnormals and 0;
 * and the SwiGLU forms agree where 2^n is not a normal float (|x| > 87). */
static void test_expf_ggml(void **state)
{
    (void)state;
    double worst = 0;
    for (float x = -87.0f; x <= 88.5f; x += 0.000731f) {
        double want = exp((double)x), got = vec_expf_ref(x);
        double ulp = ldexp(1.0, ilogb(want) - 23);
        double err = fabs(got - want) / ulp;
        if (err > worst)
            worst = err;
    }
    print_message("# vec_expf_ref: worst error %.3f ulp over [-87, 88.5]\n", worst);
    assert_true(worst <= 2.5);
    assert_true(isinf(vec_expf_ref(89.0f)) && vec_expf_ref(89.0f) > 0);
    assert_true(isinf(vec_expf_ref(300.0f)) && vec_expf_ref(-300.0f) == 0.0f);
    float prev = vec_expf_ref(-87.0f);
    for (float x = -87.0f; x > -110.0f; x -= 0.01f) { /* subnormal results, rounded once */
        float e = vec_expf_ref(x);
        assert_true(e >= 0.0f && e <= prev);
        double want = exp((double)x);
        assert_true(fabs((double)e - want) <= ldexp(3.0, -149)); /* the normal bound, in subnormal steps */
        prev = e;
    }
    assert_true(vec_expf_ref(0.0f) == 1.0f);
    if (!(kernels_cpu_level() >= KERN_AVX2))
        return;
    enum { N = 2048 };
    float g[N], u[N];
    for (int rep = 0; rep < 40; rep++) {
        for (int i = 0; i < N; i++) {
            g[i] = -205.0f + 410.0f * (float)(rep * N + i) / (float)(40 * N);
            u[i] = 1.0f;
        }
        swiglu_forms_agree(g, u, N);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fp16_to_fp32_all_halves),
        cmocka_unit_test(test_f16_row_matches_scalar),
        cmocka_unit_test(test_fp32_to_fp16_vs_double),
        cmocka_unit_test(test_fp16_vs_f16c),
        cmocka_unit_test(test_row_bytes),
        cmocka_unit_test(test_q4_0_layout_pinned),
        cmocka_unit_test(test_q8_0_pinned),
        cmocka_unit_test(test_zero_blocks),
        cmocka_unit_test(test_q8_0_act_ties_to_even),
        cmocka_unit_test(test_act_every_level_equals_ref),
        cmocka_unit_test(test_q8_0_roundtrip),
        cmocka_unit_test(test_q4_0_roundtrip),
        cmocka_unit_test(test_f16_roundtrip),
        cmocka_unit_test(test_dot_quantized),
        cmocka_unit_test(test_dot_float),
        cmocka_unit_test(test_dot_order),
        cmocka_unit_test(test_dot_no_fma),
        cmocka_unit_test(test_swiglu_fast_equals_ref),
        cmocka_unit_test(test_expf_ggml),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
