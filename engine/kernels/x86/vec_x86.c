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

/* 2^k for integral k in [-126, 127], 8 lanes, exactly. */
AVX2 static inline __m256 pow2i8(__m256 k)
{
    return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k), _mm256_set1_epi32(127)), 23));
}

/* vec_expf_ref on 8 lanes, operation for operation. */
AVX2_FMA static inline __m256 expf8(__m256 x)
{
    const __m256 shift = _mm256_set1_ps(0x1.8p23f);
    __m256 z = _mm256_fmadd_ps(x, _mm256_set1_ps(0x1.715476p+0f), shift);
    __m256 n = _mm256_sub_ps(z, shift);
    __m256 b = _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.7f7d1cp-20f),
                                _mm256_fnmadd_ps(n, _mm256_set1_ps(0x1.62e4p-1f), x));
    __m256 u = _mm256_mul_ps(b, b);
    __m256 j = _mm256_fmadd_ps(
        _mm256_fmadd_ps(_mm256_fmadd_ps(_mm256_set1_ps(0x1.0e4020p-7f), b, _mm256_set1_ps(0x1.573e2ep-5f)), u,
                        _mm256_fmadd_ps(_mm256_set1_ps(0x1.555e66p-3f), b, _mm256_set1_ps(0x1.fffdb6p-2f))),
        u, _mm256_fmadd_ps(_mm256_set1_ps(0x1.ffffecp-1f), b, _mm256_set1_ps(1.0f)));
    __m256 hi = _mm256_cmp_ps(n, _mm256_set1_ps(127.0f), _CMP_GT_OQ);
    __m256 lo = _mm256_cmp_ps(n, _mm256_set1_ps(-126.0f), _CMP_LT_OQ);
    __m256 n1 = _mm256_blendv_ps(_mm256_blendv_ps(n, _mm256_add_ps(n, _mm256_set1_ps(96.0f)), lo),
                                 _mm256_set1_ps(127.0f), hi);
    __m256 r = _mm256_mul_ps(_mm256_mul_ps(j, pow2i8(n1)), pow2i8(_mm256_sub_ps(n, n1)));
    __m256 far = _mm256_cmp_ps(_mm256_andnot_ps(_mm256_set1_ps(-0.0f), n), _mm256_set1_ps(192.0f), _CMP_GT_OQ);
    if (!_mm256_movemask_ps(far))
        return r;
    __m256 alt = _mm256_andnot_ps(_mm256_cmp_ps(n, _mm256_setzero_ps(), _CMP_LE_OQ), _mm256_set1_ps(INFINITY));
    return _mm256_blendv_ps(r, alt, far);
}

AVX2_FMA void vec_swiglu_avx2(float *g, const float *u, int64_t n)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    int64_t nb = n - n % 8;
    for (int64_t i = 0; i < nb; i += 8) {
        __m256 gv = _mm256_loadu_ps(g + i);
        __m256 e = expf8(_mm256_sub_ps(_mm256_setzero_ps(), gv));
        __m256 d = _mm256_div_ps(gv, _mm256_add_ps(one, e));
        _mm256_storeu_ps(g + i, _mm256_mul_ps(d, _mm256_loadu_ps(u + i)));
    }
    vec_swiglu_ref(g + nb, u + nb, n - nb);
}
