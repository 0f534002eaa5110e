/* quant.c: scalar reference forms of the element-type kernels declared in quant.h.
 *
 * Sections: type geometry, dequantizers, quantizers (ggml's reference
 * rounding), dot products. The fp16 conversions are in fp16.c; which form
 * of a kernel runs is the kernel table's choice (kernels.c). Every float
 * operation in the dot products is its own statement so
 * that no compiler contracts a multiply and an add into an fma (clang does so
 * within one expression by default); the fast kernels reproduce these bits.
 * Builds must not contract across statements either (gcc does with gnu11 and
 * an fma-capable -march; -std=c11 turns that off). */
#include "kernels/quant.h"

#include <math.h>
#include <string.h>

#include "kernels/quant_k.h"

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

static void dequantize_q8_0(const struct block_q8_0 *x, float *y, int64_t n)
{
    for (int64_t b = 0; b < n / QK8_0; b++) {
        float d = quant_fp16_to_fp32(x[b].d);
        for (int j = 0; j < QK8_0; j++)
            y[b * QK8_0 + j] = d * (float)x[b].qs[j];
    }
}

static void dequantize_q4_0(const struct block_q4_0 *x, float *y, int64_t n)
{
    for (int64_t b = 0; b < n / QK4_0; b++) {
        float d = quant_fp16_to_fp32(x[b].d);
        for (int j = 0; j < QK4_0 / 2; j++) {
            y[b * QK4_0 + j] = d * (float)((x[b].qs[j] & 0x0f) - 8);
            y[b * QK4_0 + j + QK4_0 / 2] = d * (float)((x[b].qs[j] >> 4) - 8);
        }
    }
}

/* Unsupported types leave dst untouched; callers check quant_type_supported. */
void quant_dequantize_row(uint32_t type, const void *src, float *dst, int64_t n)
{
    switch (type) {
    case GGML_TYPE_F32:
        memcpy(dst, src, (size_t)n * sizeof(float));
        break;
    case GGML_TYPE_F16: {
        const uint16_t *h = src;
        for (int64_t i = 0; i < n; i++)
            dst[i] = quant_fp16_to_fp32(h[i]);
        break;
    }
    case GGML_TYPE_Q8_0:
        dequantize_q8_0(src, dst, n);
        break;
    case GGML_TYPE_Q4_0:
        dequantize_q4_0(src, dst, n);
        break;
    case GGML_TYPE_Q4_K:
        quant_q4_k_dequantize_row(src, dst, n);
        break;
    case GGML_TYPE_Q6_K:
        quant_q6_k_dequantize_row(src, dst, n);
        break;
    case GGML_TYPE_Q8_K:
        quant_q8_k_dequantize_row(src, dst, n);
        break;
    default:
        break;
    }
}

/* ---- quantizers ------------------------------------------------------- */

void quant_q8_0_quantize_row_ref(const float *x, void *yv, int64_t n)
{
    struct block_q8_0 *y = yv;
    for (int64_t b = 0; b < n / QK8_0; b++) {
        const float *xb = x + b * QK8_0;
        float amax = 0.0f;
        for (int j = 0; j < QK8_0; j++)
            amax = fmaxf(amax, fabsf(xb[j]));
        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = quant_fp32_to_fp16(d);
        for (int j = 0; j < QK8_0; j++) {
            float v = xb[j] * id;
            y[b].qs[j] = (int8_t)roundf(v);
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
