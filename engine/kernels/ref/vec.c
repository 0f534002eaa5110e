/* vec.c: the F32/F16 row dots and SwiGLU of vec.h, scalar forms (the AVX2
 * forms: kernels/x86/vec_x86.c). */
#include "kernels/vec.h"

#include <math.h>
#include <stdint.h>
#include <string.h>

#include "kernels/quant.h"

static float lanes_sum(const float l[8])
{
    return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
}

float vec_dot_f32_ref(const void *wv, const void *xv, int64_t n)
{
    const float *w = wv, *x = xv;
    float l[8] = {0};
    int64_t nb = n - n % 8;
    for (int64_t i = 0; i < nb; i++) {
        float p = w[i] * x[i];
        l[i % 8] = l[i % 8] + p;
    }
    float s = lanes_sum(l);
    for (int64_t i = nb; i < n; i++) {
        float p = w[i] * x[i];
        s = s + p;
    }
    return s;
}

float vec_dot_f16_ref(const void *wv, const void *xv, int64_t n)
{
    const uint16_t *w = wv;
    const float *x = xv;
    float l[8] = {0};
    int64_t nb = n - n % 8;
    for (int64_t i = 0; i < nb; i++) {
        float p = quant_fp16_to_fp32(w[i]) * x[i];
        l[i % 8] = l[i % 8] + p;
    }
    float s = lanes_sum(l);
    for (int64_t i = nb; i < n; i++) {
        float p = quant_fp16_to_fp32(w[i]) * x[i];
        s = s + p;
    }
    return s;
}

/* 2^k for an integral k in [-126, 127], exactly. */
static float pow2i(float k)
{
    uint32_t bits = (uint32_t)((int32_t)k + 127) << 23;
    float p;
    memcpy(&p, &bits, sizeof p);
    return p;
}

float vec_expf_ref(float x)
{
    float z = fmaf(x, 0x1.715476p+0f, 0x1.8p23f); /* x / ln2 + the shift: rounds to an integer */
    float n = z - 0x1.8p23f;
    float b = fmaf(-n, 0x1.7f7d1cp-20f, fmaf(-n, 0x1.62e4p-1f, x)); /* x - n ln2, ln2 in two parts */
    float u = b * b;
    float j = fmaf(fmaf(fmaf(0x1.0e4020p-7f, b, 0x1.573e2ep-5f), u, fmaf(0x1.555e66p-3f, b, 0x1.fffdb6p-2f)), u,
                   fmaf(0x1.ffffecp-1f, b, 1.0f));
    if (n != n) /* x NaN: j is NaN, and so is every product of it */
        return j;
    if (fabsf(n) > 192.0f)
        return n <= 0.0f ? 0.0f : INFINITY;
    /* j 2^n rounded once, as vscalefps: 2^n in two exact steps where it is
     * not a normal float (n > 127 overflows anyway; n < -126: j 2^(n + 96) is
     * exact, then 2^-96 rounds) */
    float n1 = n > 127.0f ? 127.0f : n < -126.0f ? n + 96.0f : n;
    return (j * pow2i(n1)) * pow2i(n - n1);
}

void vec_swiglu_ref(float *g, const float *u, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        g[i] = g[i] / (1.0f + vec_expf_ref(0.0f - g[i])) * u[i];
}
