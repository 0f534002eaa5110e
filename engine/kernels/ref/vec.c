/* vec.c: the F32/F16 row dots and SwiGLU of vec.h in their scalar and AVX2
 * forms. */
#include "kernels/vec.h"

#include <math.h>

#include "kernels/quant.h"

static float lanes_sum(const float l[8])
{
    return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
}

float vec_dot_f32_ref(const float *w, const float *x, int64_t n)
{
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

float vec_dot_f16_ref(const uint16_t *w, const float *x, int64_t n)
{
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

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define AVX2 __attribute__((target("avx2,f16c")))

AVX2 static inline float reduce8(__m256 l)
{
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(l), _mm256_extractf128_ps(l, 1)); /* l0+l4 .. l3+l7 */
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));                                         /* (0+4)+(2+6), (1+5)+(3+7) */
    return _mm_cvtss_f32(h) + _mm_cvtss_f32(_mm_shuffle_ps(h, h, 1));
}

AVX2 float vec_dot_f32_avx2(const float *w, const float *x, int64_t n)
{
    __m256 l = _mm256_setzero_ps();
    int64_t nb = n - n % 8;
    for (int64_t i = 0; i < nb; i += 8)
        l = _mm256_add_ps(l, _mm256_mul_ps(_mm256_loadu_ps(w + i), _mm256_loadu_ps(x + i)));
    float s = reduce8(l);
    for (int64_t i = nb; i < n; i++) {
        float p = w[i] * x[i];
        s = s + p;
    }
    return s;
}

AVX2 float vec_dot_f16_avx2(const uint16_t *w, const float *x, int64_t n)
{
    __m256 l = _mm256_setzero_ps();
    int64_t nb = n - n % 8;
    for (int64_t i = 0; i < nb; i += 8) {
        __m256 wf = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(w + i)));
        l = _mm256_add_ps(l, _mm256_mul_ps(wf, _mm256_loadu_ps(x + i)));
    }
    float s = reduce8(l);
    for (int64_t i = nb; i < n; i++) {
        float p = quant_fp16_to_fp32(w[i]) * x[i];
        s = s + p;
    }
    return s;
}
AVX2 void vec_swiglu_avx2(float *g, const float *u, int64_t n)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    int64_t nb = n - n % 8;
    for (int64_t i = 0; i < nb; i += 8) {
        float e[8];
        for (int k = 0; k < 8; k++)
            e[k] = expf(-g[i + k]);
        __m256 gv = _mm256_loadu_ps(g + i);
        __m256 d = _mm256_div_ps(gv, _mm256_add_ps(one, _mm256_loadu_ps(e)));
        _mm256_storeu_ps(g + i, _mm256_mul_ps(d, _mm256_loadu_ps(u + i)));
    }
    vec_swiglu_ref(g + nb, u + nb, n - nb);
}
#else
void vec_swiglu_avx2(float *g, const float *u, int64_t n)
{
    vec_swiglu_ref(g, u, n);
}
float vec_dot_f32_avx2(const float *w, const float *x, int64_t n)
{
    return vec_dot_f32_ref(w, x, n);
}
float vec_dot_f16_avx2(const uint16_t *w, const float *x, int64_t n)
{
    return vec_dot_f16_ref(w, x, n);
}
#endif

float vec_dot_f32(const float *w, const float *x, int64_t n)
{
    return quant_use_fast() ? vec_dot_f32_avx2(w, x, n) : vec_dot_f32_ref(w, x, n);
}

float vec_dot_f16(const uint16_t *w, const float *x, int64_t n)
{
    return quant_use_fast() ? vec_dot_f16_avx2(w, x, n) : vec_dot_f16_ref(w, x, n);
}

void vec_swiglu(float *g, const float *u, int64_t n)
{
    if (quant_use_fast())
        vec_swiglu_avx2(g, u, n);
    else
        vec_swiglu_ref(g, u, n);
}
