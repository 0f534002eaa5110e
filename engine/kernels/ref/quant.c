/* quant.c: scalar reference forms of the element-type kernels declared in quant.h.
 *
 * Sections: fp16 <-> fp32 conversion (integer bit manipulation, exact, RNE),
 * type geometry, dequantizers, quantizers (ggml's reference rounding), dot
 * products. Which form of a kernel runs, and quant_dequantize_row's choice
 * of dequantizer, are the kernel table's (kernels.c). Every float
 * operation in the dot products is its own statement so
 * that no compiler contracts a multiply and an add into an fma (clang does so
 * within one expression by default); the fast kernels reproduce these bits.
 * Builds must not contract across statements either (gcc does with gnu11 and
 * an fma-capable -march; -std=c11 turns that off). */
#include "kernels/quant.h"

#include <math.h>
#include <string.h>

#include "kernels/quant_k.h" /* the K-quant block sizes (quant_row_bytes) */


/* ---- fp16 <-> fp32 ---------------------------------------------------- */

static float f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static uint32_t f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

float quant_fp16_to_fp32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;

    if (exp == 0x1f) /* inf; a NaN is quieted, payload kept, as F16C does */
        return f32_from_bits(sign | 0x7f800000u | (mant << 13) | (mant ? 0x400000u : 0));
    if (exp == 0) {
        if (mant == 0)
            return f32_from_bits(sign);
        /* Subnormal half, mant * 2^-24: shift the leading one up to bit 10,
         * lowering the exponent; every half subnormal is a normal float. */
        int32_t e = 1;
        while (!(mant & 0x400u)) {
            mant <<= 1;
            e--;
        }
        return f32_from_bits(sign | (uint32_t)(e + 127 - 15) << 23 | (mant & 0x3ffu) << 13);
    }
    return f32_from_bits(sign | ((exp + 127 - 15) << 23) | (mant << 13));
}

/* Rounds `value >> shift` to nearest, ties to even (1 <= shift <= 24). */
static uint32_t shift_rne(uint32_t value, uint32_t shift)
{
    uint32_t q = value >> shift;
    uint32_t rem = value & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1)))
        q++;
    return q;
}

uint16_t quant_fp32_to_fp16(float f)
{
    uint32_t x = f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    x &= 0x7fffffffu;

    if (x > 0x7f800000u) /* NaN: quieted, payload truncated, as F16C does */
        return (uint16_t)(sign | 0x7e00u | ((x >> 13) & 0x3ffu));
    /* 65520 = 0x477ff000 is halfway between the largest half (65504) and 2^16;
     * the tie goes to the even neighbour, which is infinity. */
    if (x >= 0x477ff000u)
        return (uint16_t)(sign | 0x7c00u);
    if (x < 0x38800000u) { /* below 2^-14: a half subnormal or zero */
        if (x <= 0x33000000u) /* at most 2^-25: rounds to zero (the tie too) */
            return sign;
        uint32_t e = x >> 23; /* 102..112 */
        uint32_t m = (x & 0x7fffffu) | 0x800000u;
        /* value = m * 2^(e - 150); in units of 2^-24 that is m >> (126 - e).
         * A carry out to 0x400 is the smallest normal half, as wanted. */
        return (uint16_t)(sign | shift_rne(m, 126 - e));
    }
    /* Normal: rebias the exponent, round the 23-bit mantissa to 10 bits. A carry
     * propagates into the exponent, which is the correct next binade. */
    uint32_t h = ((x >> 23) - 127 + 15) << 10 | ((x & 0x7fffffu) >> 13);
    uint32_t rem = x & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1)))
        h++;
    return (uint16_t)(sign | h);
}

/* ---- type geometry ---------------------------------------------------- */

int quant_type_supported(uint32_t type)
{
    switch (type) {
    case GGML_TYPE_F32:
    case GGML_TYPE_F16:
    case GGML_TYPE_Q8_0:
    case GGML_TYPE_Q4_0:
    case GGML_TYPE_Q4_K:
    case GGML_TYPE_Q6_K:
        return 1;
    default:
        return 0;
    }
}

size_t quant_row_bytes(uint32_t type, int64_t n)
{
    if (n < 0)
        return 0;
    switch (type) {
    case GGML_TYPE_F32:
        return (size_t)n * sizeof(float);
    case GGML_TYPE_F16:
        return (size_t)n * sizeof(uint16_t);
    case GGML_TYPE_Q8_0:
        return n % QK8_0 ? 0 : (size_t)(n / QK8_0) * sizeof(struct block_q8_0);
    case GGML_TYPE_Q4_0:
        return n % QK4_0 ? 0 : (size_t)(n / QK4_0) * sizeof(struct block_q4_0);
    case GGML_TYPE_Q4_K:
        return n % QK_K ? 0 : (size_t)(n / QK_K) * sizeof(struct block_q4_k);
    case GGML_TYPE_Q6_K:
        return n % QK_K ? 0 : (size_t)(n / QK_K) * sizeof(struct block_q6_k);
    case GGML_TYPE_Q8_K:
        return n % QK_K ? 0 : (size_t)(n / QK_K) * sizeof(struct block_q8_k);
    default:
        return 0;
    }
}

/* ---- dequantizers ----------------------------------------------------- */

/* The same bits as quant_fp16_to_fp32, without branches so that the compiler
 * widens the row loop: a normal half only moves its exponent and mantissa
 * (rebias by 127 - 15); a subnormal one is its mantissa times 2^-24, which
 * int -> float conversion and one power-of-two multiply give exactly; inf and
 * NaN keep the all-ones exponent (a NaN quieted). Masks select one of the three.
 */
static inline float fp16_to_fp32_select(uint16_t h)
{
    uint32_t em = h & 0x7fffu;
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t normal = (em << 13) + ((uint32_t)(127 - 15) << 23);
    uint32_t quiet = (uint32_t)((em & 0x3ffu) != 0) << 22;
    uint32_t special = (em << 13) | 0x7f800000u | quiet;
    uint32_t sub = f32_bits((float)(int32_t)em * 0x1p-24f);
    uint32_t is_special = 0u - (uint32_t)(em >= 0x7c00u); /* all ones or zero */
    uint32_t is_sub = 0u - (uint32_t)(em < 0x400u);
    uint32_t bits = (special & is_special) | (sub & is_sub) | (normal & ~(is_special | is_sub));
    return f32_from_bits(bits | sign);
}

/* In runs of 16 (a trip count the compiler's cheap vectorizer takes at -O2),
 * then the tail. */
void quant_f16_dequantize_row(const void *restrict xv, float *restrict y, int64_t n)
{
    const uint16_t *restrict h = xv;
    int64_t i = 0;
    for (; i + 16 <= n; i += 16)
        for (int j = 0; j < 16; j++)
            y[i + j] = fp16_to_fp32_select(h[i + j]);
    for (; i < n; i++)
        y[i] = fp16_to_fp32_select(h[i]);
}

void quant_q8_0_dequantize_row(const void *restrict xv, float *restrict y, int64_t n)
{
    const struct block_q8_0 *restrict x = xv;
    for (int64_t b = 0; b < n / QK8_0; b++) {
        float d = quant_fp16_to_fp32(x[b].d);
        for (int j = 0; j < QK8_0; j++)
            y[b * QK8_0 + j] = d * (float)x[b].qs[j];
    }
}

void quant_q4_0_dequantize_row(const void *restrict xv, float *restrict y, int64_t n)
{
    const struct block_q4_0 *restrict x = xv;
    for (int64_t b = 0; b < n / QK4_0; b++) {
        float d = quant_fp16_to_fp32(x[b].d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            y[b * QK4_0 + j] = d * (float)((x[b].qs[j] & 0x0f) - 8);
            y[b * QK4_0 + j + QK4_0 / 2] = d * (float)((x[b].qs[j] >> 4) - 8);
        }
    }
}

/* ---- quantizers ------------------------------------------------------- */

/* The largest magnitude of a Q8_0 block's 32 floats. */
static float block_amax(const float *xb)
{
    float amax = 0.0f;
    for (int j = 0; j < QK8_0; j++)
        amax = fmaxf(amax, fabsf(xb[j]));
    return amax;
}

void quant_q8_0_quantize_row_ref(const float *x, void *yv, int64_t n)
{
    struct block_q8_0 *y = yv;
    for (int64_t b = 0; b < n / QK8_0; b++) {
        const float *xb = x + b * QK8_0;
        float amax = block_amax(xb);
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = quant_fp32_to_fp16(d);
        for (int j = 0; j < QK8_0; j++) {
            float v = xb[j] * id;
            y[b].qs[j] = (int8_t)roundf(v);
        }
    }
}

/* Round half to even, whatever the current rounding mode: roundf (ties away
 * from zero), then a tie that landed on an odd integer steps back. |v| is
 * below 2^23 here, so r - v is exact. */
static float round_half_even(float v)
{
    float r = roundf(v);
    if (fabsf(r - v) == 0.5f && fmodf(r, 2.0f) != 0.0f)
        r = r - copysignf(1.0f, v);
    return r;
}

void quant_q8_0_quantize_act_ref(const float *x, void *yv, int64_t n)
{
    struct block_q8_0 *y = yv;
    for (int64_t b = 0; b < n / QK8_0; b++) {
        const float *xb = x + b * QK8_0;
        float amax = block_amax(xb);
        float d = amax / 127.0f;
        float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        y[b].d = quant_fp32_to_fp16(d);
        for (int j = 0; j < QK8_0; j++) {
            float v = xb[j] * id;
            y[b].qs[j] = (int8_t)round_half_even(v);
        }
    }
}

void quant_q4_0_quantize_row(const float *x, void *yv, int64_t n)
{
    struct block_q4_0 *y = yv;
    for (int64_t b = 0; b < n / QK4_0; b++) {
        const float *xb = x + b * QK4_0;
        /* The element of largest magnitude, sign kept: it maps to nibble 0. */
        float amax = 0.0f, max = 0.0f;
        for (int j = 0; j < QK4_0; j++) {
            if (amax < fabsf(xb[j])) {
                amax = fabsf(xb[j]);
                max = xb[j];
            }
        }
        float d = max / -8.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = quant_fp32_to_fp16(d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            float v0 = xb[j] * id;
            float v1 = xb[j + QK4_0 / 2] * id;
            int q0 = (int8_t)(v0 + 8.5f);
            int q1 = (int8_t)(v1 + 8.5f);
            if (q0 > 15)
                q0 = 15;
            if (q1 > 15)
                q1 = 15;
            y[b].qs[j] = (uint8_t)(q0 | (q1 << 4));
        }
    }
}

void quant_f16_quantize_row_ref(const float *x, void *yv, int64_t n)
{
    uint16_t *y = yv;
    for (int64_t i = 0; i < n; i++)
        y[i] = quant_fp32_to_fp16(x[i]);
}

void quant_f16_round_row_ref(const float *x, void *yv, int64_t n)
{
    float *y = yv;
    for (int64_t i = 0; i < n; i++)
        y[i] = quant_fp16_to_fp32(quant_fp32_to_fp16(x[i]));
}

/* ---- dot products ----------------------------------------------------- */

float quant_dot_f32_ref(const float *w, const float *x, int64_t n)
{
    float acc = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        float p = w[i] * x[i];
        acc += p;
    }
    return acc;
}

float quant_dot_f16_ref(const uint16_t *w, const float *x, int64_t n)
{
    float acc = 0.0f;
    for (int64_t i = 0; i < n; i++) {
        float p = quant_fp16_to_fp32(w[i]) * x[i];
        acc += p;
    }
    return acc;
}

float quant_dot_q8_0_q8_0_ref(const void *wv, const void *av, int64_t n)
{
    const struct block_q8_0 *w = wv, *a = av;
    float acc = 0.0f;
    for (int64_t b = 0; b < n / QK8_0; b++) {
        int32_t isum = 0;
        for (int j = 0; j < QK8_0; j++)
            isum += (int32_t)w[b].qs[j] * (int32_t)a[b].qs[j];
        float scale = quant_fp16_to_fp32(w[b].d) * quant_fp16_to_fp32(a[b].d);
        float term = scale * (float)isum;
        acc += term;
    }
    return acc;
}

float quant_dot_q4_0_q8_0_ref(const void *wv, const void *av, int64_t n)
{
    const struct block_q4_0 *w = wv;
    const struct block_q8_0 *a = av;
    float acc = 0.0f;
    for (int64_t b = 0; b < n / QK4_0; b++) {
        int32_t isum = 0;
        for (int j = 0; j < QK4_0 / 2; j++) {
            isum += ((int32_t)(w[b].qs[j] & 0x0f) - 8) * (int32_t)a[b].qs[j];
            isum += ((int32_t)(w[b].qs[j] >> 4) - 8) * (int32_t)a[b].qs[j + QK4_0 / 2];
        }
        float scale = quant_fp16_to_fp32(w[b].d) * quant_fp16_to_fp32(a[b].d);
        float term = scale * (float)isum;
        acc += term;
    }
    return acc;
}
