/* vec.c: the F32/F16 row dots and SwiGLU of vec.h, scalar forms (the AVX2
 * forms: kernels/x86/vec_x86.c). */
#include "kernels/vec.h"

#include <math.h>

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

void vec_swiglu_ref(float *g, const float *u, int64_t n)
{
    for (int64_t i = 0; i < n; i++)
        g[i] = g[i] / (1.0f + expf(-g[i])) * u[i];
}
