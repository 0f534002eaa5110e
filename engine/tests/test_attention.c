/* test_attention.c: one head of attention (kernels/attention.h), both forms,
 * at every SIMD level this CPU has, against reference forms.
 *
 * The tiled F32 form: the table's form at each level (kernels_cap_level)
 * gives the bits of attention_head_f32_ref, and the ref gives the bits of
 * the arithmetic of attention.h written out again here (scores first, then
 * tile after tile), for head sizes on and off the 8-lane path and KV lengths
 * around the 64-position tile; both stay within float rounding of softmax
 * attention in double. The F16 form: every level gives the ref's bits. Fixed
 * seeds; KV rows are strided as in the cache (several heads per row). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/attention.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "rng.h"

#define MAX_KV 300
#define MAX_HD 128
#define STRIDE (2 * MAX_HD + 8) /* F16 elements per cache row; the head starts at HEAD_OFF */
#define HEAD_OFF 8

static const int hds[] = {8, 12, 16, 24, 64, 128};
static const int n_kvs[] = {1, 7, 63, 64, 65, 128, 130, 300};
#define N_HDS (sizeof hds / sizeof hds[0])
#define N_KVS (sizeof n_kvs / sizeof n_kvs[0])

struct head_data {
    uint16_t k[MAX_KV * STRIDE], v[MAX_KV * STRIDE];
    float q[MAX_HD];
    uint16_t qh[MAX_HD];
};

/* Keys and values as F16; the query spread by `sharp`, so that the softmax
 * is peaked and its maximum rises in later tiles too. Every other call, the
 * keys grow with the position (the maximum rises tile after tile). */
static void fill(struct head_data *h, int hd, float sharp, int rising)
{
    for (int t = 0; t < MAX_KV; t++)
        for (int i = 0; i < STRIDE; i++) {
            float grow = rising ? 1.0f + (float)t / 64.0f : 1.0f;
            h->k[t * STRIDE + i] = quant_fp32_to_fp16(2.0f * rng_unit() * grow);
            h->v[t * STRIDE + i] = quant_fp32_to_fp16(rng_unit());
        }
    for (int d = 0; d < hd; d++) {
        h->q[d] = sharp * (rising ? fabsf(rng_unit()) : rng_unit());
        h->qh[d] = quant_fp32_to_fp16(h->q[d]);
    }
}

static float k_at(const struct head_data *h, int t, int d)
{
    return quant_fp16_to_fp32(h->k[t * STRIDE + HEAD_OFF + d]);
}

static float v_at(const struct head_data *h, int t, int d)
{
    return quant_fp16_to_fp32(h->v[t * STRIDE + HEAD_OFF + d]);
}

/* attention.h's tiled arithmetic, written out again: every score first,
 * then tile after tile. */
static void tiled_by_spec(const struct head_data *h, int n_kv, int hd, float scale, float *out)
{
    static float s[MAX_KV];
    for (int t = 0; t < n_kv; t++) {
        float l[8] = {0};
        for (int d = 0; d < hd; d++) {
            float p = h->q[d] * k_at(h, t, d);
            l[d % 8] = l[d % 8] + p;
        }
        float a = l[0] + l[4], b = l[2] + l[6], c = l[1] + l[5], e = l[3] + l[7];
        float ab = a + b, ce = c + e;
        float dot = ab + ce;
        s[t] = dot * scale;
    }
    float acc[MAX_HD] = {0}, M = -INFINITY, S = 0.0f;
    for (int t0 = 0; t0 < n_kv; t0 += 64) {
        int t1 = t0 + 64 < n_kv ? t0 + 64 : n_kv;
        float m = -INFINITY;
        for (int t = t0; t < t1; t++)
            m = fmaxf(m, s[t]);
        if (m > M) {
            float c = expf(M - m);
            for (int d = 0; d < hd; d++)
                acc[d] = acc[d] * c;
            S = S * c;
            M = m;
        }
        double tile_sum = 0.0;
        float p[64];
        for (int t = t0; t < t1; t++) {
            p[t - t0] = expf(s[t] - M);
            tile_sum += (double)p[t - t0];
        }
        S = (float)((double)S + tile_sum);
        for (int t = t0; t < t1; t++)
            for (int d = 0; d < hd; d++) {
                float pv = p[t - t0] * v_at(h, t, d);
                acc[d] = acc[d] + pv;
            }
    }
    float inv = 1.0f / S;
    for (int d = 0; d < hd; d++)
        out[d] = acc[d] * inv;
}

/* Softmax attention in double, from the same F16 keys and values. */
static void softmax_double(const struct head_data *h, int n_kv, int hd, float scale, double *out)
{
    static double w[MAX_KV];
    double mx = -INFINITY, sum = 0.0;
    for (int t = 0; t < n_kv; t++) {
        double dot = 0.0;
        for (int d = 0; d < hd; d++)
            dot += (double)h->q[d] * (double)k_at(h, t, d);
        w[t] = dot * (double)scale;
        mx = w[t] > mx ? w[t] : mx;
    }
    for (int t = 0; t < n_kv; t++)
        sum += (w[t] = exp(w[t] - mx));
    for (int d = 0; d < hd; d++) {
        double o = 0.0;
        for (int t = 0; t < n_kv; t++)
            o += w[t] * (double)v_at(h, t, d);
        out[d] = o / sum;
    }
}

static const char *level_name(enum kern_level l)
{
    return l == KERN_REF ? "ref" : l == KERN_AVX2 ? "avx2" : "vnni";
}

static void test_tiled_every_level_equals_ref(void **state)
{
    (void)state;
    static struct head_data h;
    rng_state = 41;
    int n_checked = 0;
    for (int rep = 0; rep < 4; rep++)
        for (size_t ih = 0; ih < N_HDS; ih++) {
            int hd = hds[ih];
            fill(&h, hd, rep < 2 ? 1.0f : 6.0f, rep % 2);
            float scale = 1.0f / sqrtf((float)hd);
            for (size_t ik = 0; ik < N_KVS; ik++) {
                int n_kv = n_kvs[ik];
                float ref[MAX_HD], spec[MAX_HD], got[MAX_HD];
                double exact[MAX_HD];
                attention_head_f32_ref(h.q, h.k + HEAD_OFF, h.v + HEAD_OFF, STRIDE, n_kv, hd, scale, ref);
                tiled_by_spec(&h, n_kv, hd, scale, spec);
                if (memcmp(ref, spec, (size_t)hd * sizeof(float)))
                    fail_msg("hd %d n_kv %d rep %d: the ref is not the arithmetic of attention.h", hd, n_kv, rep);
                softmax_double(&h, n_kv, hd, scale, exact);
                for (int d = 0; d < hd; d++)
                    if (fabs((double)ref[d] - exact[d]) > 1e-5)
                        fail_msg("hd %d n_kv %d: out[%d] %.9g, softmax in double %.9g", hd, n_kv, d, (double)ref[d],
                                 exact[d]);
                for (int l = KERN_REF; l <= (int)kernels_cpu_level(); l++) {
                    kernels_cap_level((enum kern_level)l);
                    memset(got, 0x55, sizeof got);
                    kernels_ops()->attention_f32(h.q, h.k + HEAD_OFF, h.v + HEAD_OFF, STRIDE, n_kv, hd, scale, got);
                    if (memcmp(ref, got, (size_t)hd * sizeof(float)))
                        fail_msg("hd %d n_kv %d rep %d: level %s differs from the ref", hd, n_kv, rep,
                                 level_name((enum kern_level)l));
                    n_checked++;
                }
                kernels_cap_level(KERN_BEST);
            }
        }
    print_message("# %d (head size, KV length, level) cases, SIMD levels up to %s\n", n_checked,
                  level_name(kernels_cpu_level()));
}

/* The tiles are part of the arithmetic: past 64 positions the tiled form is
 * not the F16 one (nor a one-tile softmax), and both stay close. */
static void test_tiled_is_not_f16(void **state)
{
    (void)state;
    static struct head_data h;
    rng_state = 42;
    fill(&h, 64, 6.0f, 1);
    float tiled[64], f16[64];
    uint16_t acc[64];
    float scale = 1.0f / 8.0f;
    attention_head_f32_ref(h.q, h.k + HEAD_OFF, h.v + HEAD_OFF, STRIDE, 130, 64, scale, tiled);
    attention_head_ref(h.qh, h.k + HEAD_OFF, h.v + HEAD_OFF, STRIDE, 130, 64, scale, acc, f16);
    assert_memory_not_equal(tiled, f16, sizeof tiled);
    for (int d = 0; d < 64; d++)
        assert_true(fabsf(tiled[d] - f16[d]) < 1e-2f);
}

static void test_f16_every_level_equals_ref(void **state)
{
    (void)state;
    static struct head_data h;
    rng_state = 43;
    for (int rep = 0; rep < 2; rep++)
        for (size_t ih = 0; ih < N_HDS; ih++) {
            int hd = hds[ih];
            fill(&h, hd, rep ? 6.0f : 1.0f, rep);
            float scale = 1.0f / sqrtf((float)hd);
            for (size_t ik = 0; ik < N_KVS; ik++) {
                int n_kv = n_kvs[ik];
                float ref[MAX_HD], got[MAX_HD];
                uint16_t acc[MAX_HD];
                attention_head_ref(h.qh, h.k + HEAD_OFF, h.v + HEAD_OFF, STRIDE, n_kv, hd, scale, acc, ref);
                for (int l = KERN_REF; l <= (int)kernels_cpu_level(); l++) {
                    kernels_cap_level((enum kern_level)l);
                    memset(got, 0x55, sizeof got);
                    kernels_ops()->attention(h.qh, h.k + HEAD_OFF, h.v + HEAD_OFF, STRIDE, n_kv, hd, scale, acc, got);
                    if (memcmp(ref, got, (size_t)hd * sizeof(float)))
                        fail_msg("F16 form, hd %d n_kv %d: level %s differs from the ref", hd, n_kv,
                                 level_name((enum kern_level)l));
                }
                kernels_cap_level(KERN_BEST);
            }
        }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tiled_every_level_equals_ref),
        cmocka_unit_test(test_tiled_is_not_f16),
        cmocka_unit_test(test_f16_every_level_equals_ref),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
