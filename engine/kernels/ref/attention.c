/* attention.c: the two forms of attention_head (see attention.h for the
 * arithmetic both must follow) and the dispatch between them. */
#include "kernels/attention.h"

#include <math.h>

#include "kernels/quant.h"

static float lanes_sum(const float l[8])
{
    return ((l[0] + l[4]) + (l[2] + l[6])) + ((l[1] + l[5]) + (l[3] + l[7]));
}

void attention_head_ref(const uint16_t *q, const uint16_t *k, const uint16_t *v, size_t stride, int n_kv, int hd,
                        float scale, uint16_t *acc, float *out)
{
    float mx = -INFINITY, sum = 0.0f;
    for (int d = 0; d < hd; d++)
        acc[d] = 0;
    for (int t = 0; t < n_kv; t++) {
        const uint16_t *kt = k + (size_t)t * stride, *vt = v + (size_t)t * stride;
        float l[8] = {0};
        for (int d = 0; d < hd; d++) {
            float p = quant_fp16_to_fp32(q[d]) * quant_fp16_to_fp32(kt[d]);
            l[d % 8] = l[d % 8] + p;
        }
        float s = lanes_sum(l) * scale;
        float ms = 1.0f, vs = 1.0f;
        if (s > mx) {
            float old = mx;
            mx = s;
            ms = expf(old - mx);
            for (int d = 0; d < hd; d++)
                acc[d] = quant_fp32_to_fp16(quant_fp16_to_fp32(acc[d]) * ms);
        } else {
            vs = expf(s - mx);
        }
        for (int d = 0; d < hd; d++) {
            float p = quant_fp16_to_fp32(vt[d]) * vs;
            acc[d] = quant_fp32_to_fp16(quant_fp16_to_fp32(acc[d]) + p);
        }
        sum = sum * ms + vs;
    }
    float inv = 1.0f / sum;
    for (int d = 0; d < hd; d++)
        out[d] = quant_fp16_to_fp32(acc[d]) * inv;
}

#if defined(__x86_64__) || defined(__i386__)
#include <immintrin.h>

#define F16C __attribute__((target("avx2,f16c")))

F16C static inline __m256 load_h(const uint16_t *p)
{
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)p));
}

F16C static inline void store_h(uint16_t *p, __m256 x)
{
    _mm_storeu_si128((__m128i *)p, _mm256_cvtps_ph(x, _MM_FROUND_TO_NEAREST_INT));
}

F16C void attention_head_f16c(const uint16_t *q, const uint16_t *k, const uint16_t *v, size_t stride, int n_kv,
                              int hd, float scale, uint16_t *acc, float *out)
{
    float mx = -INFINITY, sum = 0.0f;
    for (int d = 0; d < hd; d += 8)
        _mm_storeu_si128((__m128i *)(acc + d), _mm_setzero_si128());
    for (int t = 0; t < n_kv; t++) {
        const uint16_t *kt = k + (size_t)t * stride, *vt = v + (size_t)t * stride;
        __m256 l = _mm256_setzero_ps();
        for (int d = 0; d < hd; d += 8)
            l = _mm256_add_ps(l, _mm256_mul_ps(load_h(q + d), load_h(kt + d)));
        __m128 h = _mm_add_ps(_mm256_castps256_ps128(l), _mm256_extractf128_ps(l, 1)); /* l0+l4 .. l3+l7 */
        h = _mm_add_ps(h, _mm_movehl_ps(h, h));                                         /* (0+4)+(2+6), (1+5)+(3+7) */
        float s = (_mm_cvtss_f32(h) + _mm_cvtss_f32(_mm_shuffle_ps(h, h, 1))) * scale;
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
#else
void attention_head_f16c(const uint16_t *q, const uint16_t *k, const uint16_t *v, size_t stride, int n_kv, int hd,
                         float scale, uint16_t *acc, float *out)
{
    attention_head_ref(q, k, v, stride, n_kv, hd, scale, acc, out);
}
#endif

void attention_head(const uint16_t *q, const uint16_t *k, const uint16_t *v, size_t stride, int n_kv, int hd,
                    float scale, uint16_t *acc, float *out)
{
    if (hd % 8 == 0 && quant_use_fast())
        attention_head_f16c(q, k, v, stride, n_kv, hd, scale, acc, out);
    else
        attention_head_ref(q, k, v, stride, n_kv, hd, scale, acc, out);
}
