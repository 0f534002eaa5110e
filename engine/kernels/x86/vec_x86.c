/* vec_x86.c: the AVX2 forms of vec.h's F32/F16 row dots and SwiGLU, the
 * bits of their scalar forms (kernels/ref/vec.c): 8 lanes summed in order,
 * then reduced as ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7)); the tail one by one. */
#include "kernels/vec.h"

#include <math.h>

#include "kernels/quant.h"
#include "kernels/x86/simd.h"

AVX2 static inline float reduce8(__m256 l)
{
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(l), _mm256_extractf128_ps(l, 1)); /* l0+l4 .. l3+l7 */
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));                                         /* (0+4)+(2+6), (1+5)+(3+7) */
    return _mm_cvtss_f32(h) + _mm_cvtss_f32(_mm_shuffle_ps(h, h, 1));
}

AVX2 float vec_dot_f32_avx2(const void *wv, const void *xv, int64_t n)
{
    const float *w = wv, *x = xv;
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

AVX2 float vec_dot_f16_avx2(const void *wv, const void *xv, int64_t n)
{
    const uint16_t *w = wv;
    const float *x = xv;
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
