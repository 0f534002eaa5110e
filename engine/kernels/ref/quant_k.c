/* quant_k.c: scalar forms of the K-quant kernels declared in quant_k.h.
 *
 * Sections: scale unpacking, dequantizers, ggml's search helpers
 * (nearest_int, make_qkx2_quants, make_qx_quants), the Q4_K / Q6_K / Q8_K
 * quantizers, dot products. The quantizers repeat ggml's reference
 * algorithms operation for operation, so that a row quantized here has the
 * bytes llama-quantize would write; as in quant.c, every multiply that feeds
 * an add is its own statement, so no compiler can fuse them into an fma
 * (ggml's reference quantizers are built without FMA either). */
#include "kernels/quant_k.h"

#include <math.h>
#include <string.h>

#include "kernels/quant.h"

/* ---- scale unpacking ------------------------------------------------------ */

void quant_q4_k_scale_min(const uint8_t scales[12], uint8_t sc[8], uint8_t m[8])
{
    for (int j = 0; j < 4; j++) {
        sc[j] = scales[j] & 63;
        m[j] = scales[j + 4] & 63;
    }
    for (int j = 4; j < 8; j++) {
        sc[j] = (uint8_t)((scales[j + 4] & 15) | (scales[j - 4] >> 6) << 4);
        m[j] = (uint8_t)((scales[j + 4] >> 4) | (scales[j] >> 6) << 4);
    }
}

/* ---- dequantizers --------------------------------------------------------- */

void quant_q4_k_dequantize_row(const void *xv, float *y, int64_t n)
{
    const struct block_q4_k *x = xv;
    for (int64_t b = 0; b < n / QK_K; b++) {
        float d = quant_fp16_to_fp32(x[b].d);
        float dmin = quant_fp16_to_fp32(x[b].dmin);
        uint8_t sc[8], m[8];
        quant_q4_k_scale_min(x[b].scales, sc, m);
        float *yb = y + b * QK_K;
        /* sub-blocks 2c (low nibbles of qs[32c ..]) and 2c + 1 (high ones) */
        for (int c = 0; c < 4; c++) {
            const uint8_t *q = x[b].qs + 32 * c;
            float d0 = d * (float)sc[2 * c], m0 = dmin * (float)m[2 * c];
            float d1 = d * (float)sc[2 * c + 1], m1 = dmin * (float)m[2 * c + 1];
            for (int l = 0; l < 32; l++) {
                float p = d0 * (float)(q[l] & 15);
                yb[64 * c + l] = p - m0;
            }
            for (int l = 0; l < 32; l++) {
                float p = d1 * (float)(q[l] >> 4);
                yb[64 * c + 32 + l] = p - m1;
            }
        }
    }
}

/* The 6-bit q of element i (0..255) of a Q6_K super-block, 0..63. */
static int q6_k_get(const struct block_q6_k *x, int i)
{
    int h = i / 128, k = (i % 128) / 32, l = i % 32;
    const uint8_t *ql = x->ql + 64 * h + 32 * (k % 2);
    int lo = k < 2 ? ql[l] & 15 : ql[l] >> 4;
    int hi = (x->qh[32 * h + l] >> (2 * k)) & 3;
    return lo | hi << 4;
}

void quant_q6_k_dequantize_row(const void *xv, float *y, int64_t n)
{
    const struct block_q6_k *x = xv;
    for (int64_t b = 0; b < n / QK_K; b++) {
        float d = quant_fp16_to_fp32(x[b].d);
        for (int i = 0; i < QK_K; i++) {
            float ds = d * (float)x[b].scales[i / 16];
            y[b * QK_K + i] = ds * (float)(q6_k_get(&x[b], i) - 32);
        }
    }
}

void quant_q8_k_dequantize_row(const void *xv, float *y, int64_t n)
{
    const struct block_q8_k *x = xv;
    for (int64_t b = 0; b < n / QK_K; b++)
        for (int i = 0; i < QK_K; i++)
            y[b * QK_K + i] = x[b].d * (float)x[b].qs[i];
}

/* ---- ggml's search helpers ------------------------------------------------ */

/* Round half to even by adding 1.5 * 2^23, which leaves the integer in the low
 * mantissa bits (exact for |f| < 2^22; beyond that the result is ggml's
 * garbage too, which its callers clamp). */
static int nearest_int(float f)
{
    float v = f + 12582912.0f;
    int32_t i;
    memcpy(&i, &v, sizeof i);
    return (i & 0x007fffff) - 0x00400000;
}

static int clamp_int(int v, int lo, int hi)
{
    return v < lo ? lo : v > hi ? hi : v;
}

/* ggml's make_qkx2_quants in the form Q4_K uses (squared error, nstep > 0):
 * x ~ scale * L - the_min with L in 0..nmax; tries
 * nstep + 1 inverse scales (rmin + rdelta * is + nmax) / (max - min), fitting
 * scale and min by weighted least squares for each, and keeps the one of
 * least weighted squared error. Returns the scale, writes -min. */
static float make_qkx2_quants(int n, int nmax, const float *x, const float *weights, uint8_t *L,
                              float *the_min, uint8_t *Laux, float rmin, float rdelta, int nstep)
{
    float min = x[0], max = x[0];
    float sum_w = weights[0];
    float sum_x = sum_w * x[0];
    for (int i = 1; i < n; i++) {
        if (x[i] < min)
            min = x[i];
        if (x[i] > max)
            max = x[i];
        float w = weights[i];
        sum_w += w;
        float wx = w * x[i];
        sum_x += wx;
    }
    if (min > 0)
        min = 0;
    if (max == min) {
        memset(L, 0, (size_t)n);
        *the_min = -min;
        return 0.0f;
    }
    float iscale = (float)nmax / (max - min);
    float scale = 1 / iscale;
    float best_error = 0;
    for (int i = 0; i < n; i++) {
        int l = nearest_int(iscale * (x[i] - min));
        L[i] = (uint8_t)clamp_int(l, 0, nmax);
        float sl = scale * (float)L[i];
        float diff = sl + min - x[i];
        float d2 = diff * diff;
        float wd = weights[i] * d2;
        best_error += wd;
    }
    for (int is = 0; is <= nstep; is++) {
        float step = rdelta * (float)is;
        float num = rmin + step + (float)nmax;
        iscale = num / (max - min);
        float sum_l = 0, sum_l2 = 0, sum_xl = 0;
        for (int i = 0; i < n; i++) {
            int l = clamp_int(nearest_int(iscale * (x[i] - min)), 0, nmax);
            Laux[i] = (uint8_t)l;
            float w = weights[i];
            float wl = w * (float)l;
            sum_l += wl;
            float wll = wl * (float)l;
            sum_l2 += wll;
            float wlx = wl * x[i];
            sum_xl += wlx;
        }
        float p1 = sum_w * sum_l2, p2 = sum_l * sum_l;
        float D = p1 - p2;
        if (D > 0) {
            float s1 = sum_w * sum_xl, s2 = sum_x * sum_l;
            float this_scale = (s1 - s2) / D;
            float m1 = sum_l2 * sum_x, m2 = sum_l * sum_xl;
            float this_min = (m1 - m2) / D;
            if (this_min > 0) {
                this_min = 0;
                this_scale = sum_xl / sum_l2;
            }
            float cur_error = 0;
            for (int i = 0; i < n; i++) {
                float sl = this_scale * (float)Laux[i];
                float diff = sl + this_min - x[i];
                float d2 = diff * diff;
                float wd = weights[i] * d2;
                cur_error += wd;
            }
            if (cur_error < best_error) {
                memcpy(L, Laux, (size_t)n);
                best_error = cur_error;
                scale = this_scale;
                min = this_min;
            }
        }
    }
    *the_min = -min;
    return scale;
}

#define GROUP_MAX_EPS 1e-15f

/* The weighted sums of make_qx_quants_rmse1 for one inverse scale: with
 * weights x^2, sum w x l and sum w l^2 over the levels l that iscale gives,
 * each product its own statement, in order; the levels are stored (as
 * l + nmax) when L is not NULL. */
static void qx_sums(int n, int nmax, const float *x, float iscale, int8_t *L, float *sumlx_out, float *suml2_out)
{
    float sumlx = 0, suml2 = 0;
    for (int i = 0; i < n; i++) {
        int l = clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1);
        if (L)
            L[i] = (int8_t)(l + nmax);
        float w = x[i] * x[i];
        float wx = w * x[i];
        float wxl = wx * (float)l;
        sumlx += wxl;
        float wl = w * (float)l;
        float wll = wl * (float)l;
        suml2 += wll;
    }
    *sumlx_out = sumlx;
    *suml2_out = suml2;
}

/* ggml's make_qx_quants with rmse_type 1 and no importance weights (the form
 * Q6_K uses): symmetric L in -nmax..nmax-1 stored as L + nmax, weights x^2,
 * 19 inverse scales -(nmax + 0.1 is) / max tried, the least-squares scale of
 * the best kept. */
static float make_qx_quants_rmse1(int n, int nmax, const float *x, int8_t *L)
{
    float max = 0, amax = 0;
    for (int i = 0; i < n; i++) {
        float ax = fabsf(x[i]);
        if (ax > amax) {
            amax = ax;
            max = x[i];
        }
    }
    if (amax < GROUP_MAX_EPS) {
        memset(L, 0, (size_t)n);
        return 0.0f;
    }
    float iscale = (float)-nmax / max;
    float sumlx, suml2;
    qx_sums(n, nmax, x, iscale, L, &sumlx, &suml2);
    float scale = suml2 != 0 ? sumlx / suml2 : 0.0f;
    float best = scale * sumlx;
    for (int is = -9; is <= 9; is++) {
        if (is == 0)
            continue;
        float step = 0.1f * (float)is;
        float num = (float)nmax + step;
        iscale = -num / max;
        qx_sums(n, nmax, x, iscale, NULL, &sumlx, &suml2);
        if (suml2 > 0 && sumlx * sumlx > best * suml2) {
            for (int i = 0; i < n; i++) {
                int l = clamp_int(nearest_int(iscale * x[i]), -nmax, nmax - 1);
                L[i] = (int8_t)(l + nmax);
            }
            scale = sumlx / suml2;
            best = scale * sumlx;
        }
    }
    return scale;
}

/* ---- quantizers ----------------------------------------------------------- */

void quant_q4_k_quantize_row(const float *x, void *yv, int64_t n)
{
    struct block_q4_k *y = yv;
    uint8_t L[QK_K], Laux[32];
    float weights[32], mins[8], scales[8];
    for (int64_t b = 0; b < n / QK_K; b++) {
        const float *xb = x + b * QK_K;
        float max_scale = 0, max_min = 0;
        for (int j = 0; j < 8; j++) {
            const float *xj = xb + 32 * j;
            float sum_x2 = 0;
            for (int l = 0; l < 32; l++) {
                float sq = xj[l] * xj[l];
                sum_x2 += sq;
            }
            float av_x = sqrtf(sum_x2 / 32);
            for (int l = 0; l < 32; l++)
                weights[l] = av_x + fabsf(xj[l]);
            scales[j] = make_qkx2_quants(32, 15, xj, weights, L + 32 * j, &mins[j], Laux, -1.0f, 0.1f, 20);
            if (scales[j] > max_scale)
                max_scale = scales[j];
            if (mins[j] > max_min)
                max_min = mins[j];
        }
        float inv_scale = max_scale > 0 ? 63.0f / max_scale : 0.0f;
        float inv_min = max_min > 0 ? 63.0f / max_min : 0.0f;
        for (int j = 0; j < 8; j++) {
            /* ggml stores nearest_int into a uint8_t before clamping */
            uint8_t ls = (uint8_t)nearest_int(inv_scale * scales[j]);
            uint8_t lm = (uint8_t)nearest_int(inv_min * mins[j]);
            if (ls > 63)
                ls = 63;
            if (lm > 63)
                lm = 63;
            if (j < 4) {
                y[b].scales[j] = ls;
                y[b].scales[j + 4] = lm;
            } else {
                y[b].scales[j + 4] = (uint8_t)((ls & 15) | (lm & 15) << 4);
                y[b].scales[j - 4] |= (uint8_t)((ls >> 4) << 6);
                y[b].scales[j] |= (uint8_t)((lm >> 4) << 6);
            }
        }
        y[b].d = quant_fp32_to_fp16(max_scale / 63.0f);
        y[b].dmin = quant_fp32_to_fp16(max_min / 63.0f);

        /* requantize every element against the stored (rounded) scales */
        uint8_t sc[8], m[8];
        quant_q4_k_scale_min(y[b].scales, sc, m);
        for (int j = 0; j < 8; j++) {
            float d = quant_fp16_to_fp32(y[b].d) * (float)sc[j];
            if (d == 0)
                continue; /* keeps the search's L, as ggml does */
            float dm = quant_fp16_to_fp32(y[b].dmin) * (float)m[j];
            for (int l = 0; l < 32; l++) {
                int q = nearest_int((xb[32 * j + l] + dm) / d);
                L[32 * j + l] = (uint8_t)clamp_int(q, 0, 15);
            }
        }
        for (int c = 0; c < 4; c++)
            for (int l = 0; l < 32; l++)
                y[b].qs[32 * c + l] = (uint8_t)(L[64 * c + l] | L[64 * c + 32 + l] << 4);
    }
}

void quant_q6_k_quantize_row(const float *x, void *yv, int64_t n)
{
    struct block_q6_k *y = yv;
    int8_t L[QK_K];
    float scales[16];
    for (int64_t b = 0; b < n / QK_K; b++) {
        const float *xb = x + b * QK_K;
        float max_scale = 0, max_abs_scale = 0;
        for (int i = 0; i < 16; i++) {
            scales[i] = make_qx_quants_rmse1(16, 32, xb + 16 * i, L + 16 * i);
            if (fabsf(scales[i]) > max_abs_scale) {
                max_abs_scale = fabsf(scales[i]);
                max_scale = scales[i];
            }
        }
        if (max_abs_scale < GROUP_MAX_EPS) {
            memset(&y[b], 0, sizeof y[b]);
            continue;
        }
        float iscale = -128.0f / max_scale;
        y[b].d = quant_fp32_to_fp16(1 / iscale);
        for (int i = 0; i < 16; i++) {
            int s = nearest_int(iscale * scales[i]);
            y[b].scales[i] = (int8_t)(s < 127 ? s : 127);
        }
        for (int i = 0; i < 16; i++) {
            float d = quant_fp16_to_fp32(y[b].d) * (float)y[b].scales[i];
            if (d == 0)
                continue;
            for (int l = 0; l < 16; l++) {
                int q = nearest_int(xb[16 * i + l] / d);
                L[16 * i + l] = (int8_t)(clamp_int(q, -32, 31) + 32);
            }
        }
        for (int h = 0; h < 2; h++) {
            const int8_t *Lh = L + 128 * h;
            uint8_t *ql = y[b].ql + 64 * h, *qh = y[b].qh + 32 * h;
            for (int l = 0; l < 32; l++) {
                ql[l] = (uint8_t)((Lh[l] & 15) | (Lh[l + 64] & 15) << 4);
                ql[l + 32] = (uint8_t)((Lh[l + 32] & 15) | (Lh[l + 96] & 15) << 4);
                qh[l] = (uint8_t)((Lh[l] >> 4) | (Lh[l + 32] >> 4) << 2 | (Lh[l + 64] >> 4) << 4 |
                                  (Lh[l + 96] >> 4) << 6);
            }
        }
    }
}

void quant_q8_k_quantize_row_ref(const float *x, void *yv, int64_t n)
{
    struct block_q8_k *y = yv;
    for (int64_t b = 0; b < n / QK_K; b++) {
        const float *xb = x + b * QK_K;
        float max = 0, amax = 0;
        for (int i = 0; i < QK_K; i++) {
            if (fabsf(xb[i]) > amax) {
                amax = fabsf(xb[i]);
                max = xb[i];
            }
        }
        if (amax == 0) {
            memset(&y[b], 0, sizeof y[b]);
            continue;
        }
        float iscale = -127.0f / max;
        for (int i = 0; i < QK_K; i++) {
            int v = nearest_int(iscale * xb[i]);
            y[b].qs[i] = (int8_t)(v < 127 ? v : 127);
        }
        for (int g = 0; g < QK_K / 16; g++) {
            int sum = 0;
            for (int i = 0; i < 16; i++)
                sum += y[b].qs[16 * g + i];
            y[b].bsums[g] = (int16_t)sum;
        }
        y[b].d = 1 / iscale;
    }
}

/* ---- dot products --------------------------------------------------------- */

float quant_dot_q4_k_q8_k_ref(const void *wv, const void *av, int64_t n)
{
    const struct block_q4_k *w = wv;
    const struct block_q8_k *a = av;
    float acc = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        uint8_t sc[8], m[8];
        quant_q4_k_scale_min(w[b].scales, sc, m);
        int32_t isum = 0, msum = 0;
        for (int j = 0; j < 8; j++) {
            const uint8_t *q = w[b].qs + 32 * (j / 2);
            int shift = 4 * (j % 2);
            int32_t s = 0;
            for (int l = 0; l < 32; l++)
                s += ((q[l] >> shift) & 15) * (int32_t)a[b].qs[32 * j + l];
            isum += (int32_t)sc[j] * s;
            msum += (int32_t)m[j] * ((int32_t)a[b].bsums[2 * j] + (int32_t)a[b].bsums[2 * j + 1]);
        }
        float d = quant_fp16_to_fp32(w[b].d) * a[b].d;
        float dm = quant_fp16_to_fp32(w[b].dmin) * a[b].d;
        float t = d * (float)isum;
        float tm = dm * (float)msum;
        float term = t - tm;
        acc += term;
    }
    return acc;
}

float quant_dot_q6_k_q8_k_ref(const void *wv, const void *av, int64_t n)
{
    const struct block_q6_k *w = wv;
    const struct block_q8_k *a = av;
    float acc = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        int32_t isum = 0;
        for (int g = 0; g < 16; g++) {
            int32_t s = 0;
            for (int i = 16 * g; i < 16 * g + 16; i++)
                s += (q6_k_get(&w[b], i) - 32) * (int32_t)a[b].qs[i];
            isum += (int32_t)w[b].scales[g] * s;
        }
        float d = quant_fp16_to_fp32(w[b].d) * a[b].d;
        float term = d * (float)isum;
        acc += term;
    }
    return acc;
}
