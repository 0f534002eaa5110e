/* attention_x86.c: the F16C/AVX2 forms of attention_head and
 * attention_head_f32 (attention.h), the bits of the scalar forms
 * (kernels/ref/attention.c): the q . k lanes reduced in the documented order;
 * in the F16 form the accumulator rounded to F16 after every multiply and
 * every add, in the tiled one the ref's own tile softmax. A head size that
 * is not a multiple of 8 goes to the ref. */
#include "kernels/attention.h"

#include <math.h>

#include "kernels/x86/simd.h"

AVX2 static inline __m256 load_h(const uint16_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

AVX2 static inline void store_h(uint16_t *p, __m256 x)
{
    _mm_storeu_si128((__m128i *)p, _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT));
}

/* The 8 lanes of a q . k_t dot summed in the documented order (attention.h). */
AVX2 static inline float lanes_reduce(__m256 l)
{
    __m128 h = _mm_add_ps(_mm256_castps256_ps128(l), _mm256_extractf128_ps(l, 1)); /* l0+l4 .. l3+l7 */
    h = _mm_add_ps(h, _mm_movehl_ps(h, h));                                         /* (0+4)+(2+6), (1+5)+(3+7) */
    return _mm_cvtss_f32(h) + _mm_cvtss_f32(_mm_shuffle_ps(h, h, 1));
}

AVX2 void attention_head_f16c(const uint16_t *q, const uint16_t *k, const uint16_t *v, size_t stride, int n_kv,
                              int hd, float scale, uint16_t *acc, float *out)
{
    if (hd % 8 != 0) {
        attention_head_ref(q, k, v, stride, n_kv, hd, scale, acc, out);
        return;
    }
    float mx = -INFINITY, sum = 0.0f;
    for (int d = 0; d < hd; d += 8)
        _mm_storeu_si128((__m128i *)(acc + d), _mm_setzero_si128());
    for (int t = 0; t < n_kv; t++) {
        const uint16_t *kt = k + (size_t)t * stride, *vt = v + (size_t)t * stride;
        __m256 l = _mm256_setzero_ps();
        for (int d = 0; d < hd; d += 8)
            l = _mm256_add_ps(l, _mm256_mul_ps(load_h(q + d), load_h(kt + d)));
        float s = lanes_reduce(l) * scale;
        float ms = 1.0f, vs = 1.0f;
        if (s > mx) {
            float old = mx;
            mx = s;
            ms = expf(old - mx);
            __m256 m8 = _mm256_set1_ps(ms);
            for (int d = 0; d < hd; d += 8)
                store_h(acc + d, _mm256_mul_ps(load_h(acc + d), m8));
        } else {
            vs = expf(s - mx);
        }
        __m256 v8 = _mm256_set1_ps(vs);
        for (int d = 0; d < hd; d += 8)
            store_h(acc + d, _mm256_add_ps(load_h(acc + d), _mm256_mul_ps(load_h(vt + d), v8)));
        sum = sum * ms + vs;
    }
    __m256 inv = _mm256_set1_ps(1.0f / sum);
    for (int d = 0; d < hd; d += 8)
        _mm256_storeu_ps(out + d, _mm256_mul_ps(load_h(acc + d), inv));
}

AVX2 void attention_head_f32_f16c(const float *q, const uint16_t *k, const uint16_t *v, size_t stride, int n_kv,
                                  int hd, float scale, float *out)
{
    if (hd % 8 != 0) {
        attention_head_f32_ref(q, k, v, stride, n_kv, hd, scale, out);
        return;
    }
    float mx = -INFINITY, sum = 0.0f, s[ATTENTION_TILE];
    for (int d = 0; d < hd; d += 8)
        _mm256_storeu_ps(out + d, _mm256_setzero_ps());
    for (int t0 = 0; t0 < n_kv; t0 += ATTENTION_TILE) {
        int nt = n_kv - t0 < ATTENTION_TILE ? n_kv - t0 : ATTENTION_TILE;
        for (int i = 0; i < nt; i++) {
            const uint16_t *kt = k + (size_t)(t0 + i) * stride;
            __m256 l = _mm256_setzero_ps();
            for (int d = 0; d < hd; d += 8)
                l = _mm256_add_ps(l, _mm256_mul_ps(_mm256_loadu_ps(q + d), load_h(kt + d)));
            s[i] = lanes_reduce(l) * scale;
        }
        float c = attention_tile_softmax(s, nt, &mx, &sum);
        if (c != 1.0f) {
            __m256 c8 = _mm256_set1_ps(c);
            for (int d = 0; d < hd; d += 8)
                _mm256_storeu_ps(out + d, _mm256_mul_ps(_mm256_loadu_ps(out + d), c8));
        }
        for (int i = 0; i < nt; i++) {
            const uint16_t *vt = v + (size_t)(t0 + i) * stride;
            __m256 p8 = _mm256_set1_ps(s[i]);
            for (int d = 0; d < hd; d += 8)
                _mm256_storeu_ps(out + d, _mm256_add_ps(_mm256_loadu_ps(out + d), _mm256_mul_ps(load_h(vt + d), p8)));
        }
    }
    __m256 inv = _mm256_set1_ps(1.0f / sum);
    for (int d = 0; d < hd; d += 8)
        _mm256_storeu_ps(out + d, _mm256_mul_ps(_mm256_loadu_ps(out + d), inv));
}
