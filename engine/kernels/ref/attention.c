/* attention.c: the scalar forms of attention_head and attention_head_f32,
 * and the tile softmax every form of the latter shares (attention.h gives
 * the arithmetic; the F16C forms: kernels/x86/attention_x86.c). */
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

float attention_tile_softmax(float *s, int n, float *m, float *sum)
{
    float tmax = -INFINITY, c = 1.0f;
    for (int i = 0; i < n; i++)
        tmax = s[i] > tmax ? s[i] : tmax;
    if (tmax > *m) {
        c = expf(*m - tmax);
        *sum = *sum * c;
        *m = tmax;
    }
    double ts = 0.0;
    for (int i = 0; i < n; i++) {
        s[i] = expf(s[i] - *m);
        ts += (double)s[i];
    }
    *sum = (float)((double)*sum + ts); /* as ggml's float S += its double tile sum */
    return c;
}

void attention_head_f32_ref(const float *q, const uint16_t *k, const uint16_t *v, size_t stride, int n_kv, int hd,
                            float scale, float *out)
{
    float mx = -INFINITY, sum = 0.0f, s[ATTENTION_TILE];
    for (int d = 0; d < hd; d++)
        out[d] = 0.0f;
    for (int t0 = 0; t0 < n_kv; t0 += ATTENTION_TILE) {
        int nt = n_kv - t0 < ATTENTION_TILE ? n_kv - t0 : ATTENTION_TILE;
        for (int i = 0; i < nt; i++) {
            const uint16_t *kt = k + (size_t)(t0 + i) * stride;
            float l[8] = {0};
            for (int d = 0; d < hd; d++) {
                float p = q[d] * quant_fp16_to_fp32(kt[d]);
                l[d % 8] = l[d % 8] + p;
            }
            s[i] = lanes_sum(l) * scale;
        }
        float c = attention_tile_softmax(s, nt, &mx, &sum);
        if (c != 1.0f)
            for (int d = 0; d < hd; d++)
                out[d] = out[d] * c;
        for (int i = 0; i < nt; i++) {
            const uint16_t *vt = v + (size_t)(t0 + i) * stride;
            for (int d = 0; d < hd; d++) {
                float p = s[i] * quant_fp16_to_fp32(vt[d]);
                out[d] = out[d] + p;
            }
        }
    }
    float inv = 1.0f / sum;
    for (int d = 0; d < hd; d++)
        out[d] = out[d] * inv;
}
