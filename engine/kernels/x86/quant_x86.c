/* quant_x86.c: AVX2 forms of the Q4_0 / Q8_0 / F16 kernels, bit-identical
 * to their _ref forms.
 *
 * The build has no -march, so each function carries its own target attribute
 * (simd.h) and the kernel table runs it only at a level the CPU has.
 * The target enables no FMA, so the compiler cannot contract the float
 * multiply-add of the block accumulation. Integer block dots are exact:
 *   Q4_0: maddubs(nibble 0..15, a) never saturates; 8 * sum(a) is subtracted.
 *   Q8_0: maddubs(|w|, a * sign(w)) is exact while a != -128 (quant.h).
 * The float part then repeats the ref statements: scale = d_w * d_a,
 * term = scale * (float)isum, acc += term, blocks in order.
 * Sections: helpers, row dots, quantizers, the 8-row kernels of repack.h. */
#include "kernels/quant.h"
#include "kernels/repack.h"

#include <immintrin.h>
#include <string.h>

#include "kernels/x86/simd.h"

/* ---- helpers ------------------------------------------------------------ */

/* (AVX2, hsum_i32 and bcast4 come from simd.h.) */

/* The 8 lanes all set to the sum of the 8 lanes. */
AVX2 static inline __m256i splat_sum_i32(__m256i v)
{
    v = _mm256_add_epi32(v, _mm256_shuffle_epi32(v, 0x4e));
    v = _mm256_add_epi32(v, _mm256_shuffle_epi32(v, 0xb1));
    return _mm256_add_epi32(v, _mm256_permute2x128_si256(v, v, 1));
}

/* ---- row dots ----------------------------------------------------------- */

AVX2 float quant_dot_q8_0_q8_0_avx2(const void *wv, const void *av, int64_t n)
{
    const struct block_q8_0 *w = wv, *a = av;
    const __m256i ones = _mm256_set1_epi16(1);
    float acc = 0.0f;
    for (int64_t b = 0; b < n / QK8_0; b++) {
        __m256i wq = _mm256_loadu_si256((const __m256i *)(const void *)w[b].qs);
        __m256i aq = _mm256_loadu_si256((const __m256i *)(const void *)a[b].qs);
        __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(wq, wq), _mm256_sign_epi8(aq, wq));
        int32_t isum = hsum_i32(_mm256_madd_epi16(p, ones));
        float scale = _cvtsh_ss(w[b].d) * _cvtsh_ss(a[b].d);
        float term = scale * (float)isum;
        acc += term;
    }
    return acc;
}

AVX2 float quant_dot_q4_0_q8_0_avx2(const void *wv, const void *av, int64_t n)
{
    const struct block_q4_0 *w = wv;
    const struct block_q8_0 *a = av;
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    const __m256i eight = _mm256_set1_epi8(8);
    float acc = 0.0f;
    for (int64_t b = 0; b < n / QK4_0; b++) {
        __m128i q = _mm_loadu_si128((const __m128i *)(const void *)w[b].qs);
        /* bytes 0..15: elements 0..15 (low nibbles); 16..31: the high nibbles */
        __m256i nib = _mm256_and_si256(_mm256_set_m128i(_mm_srli_epi16(q, 4), q), low4);
        __m256i aq = _mm256_loadu_si256((const __m256i *)(const void *)a[b].qs);
        /* pairwise (n0 - 8) a0 + (n1 - 8) a1, within +-2048 */
        __m256i p = _mm256_sub_epi16(_mm256_maddubs_epi16(nib, aq), _mm256_maddubs_epi16(eight, aq));
        int32_t isum = hsum_i32(_mm256_madd_epi16(p, ones));
        float scale = _cvtsh_ss(w[b].d) * _cvtsh_ss(a[b].d);
        float term = scale * (float)isum;
        acc += term;
    }
    return acc;
}

/* ---- quantizer ---------------------------------------------------------- */

/* vcvtps2ph with imm 0 rounds to nearest even, as the scalar conversion. */
AVX2 void quant_f16_quantize_row_f16c(const float *x, void *yv, int64_t n)
{
    uint16_t *y = yv;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm_storeu_si128((__m128i *)(void *)(y + i), _mm256_cvtps_ph(_mm256_loadu_ps(x + i), 0));
    for (; i < n; i++)
        y[i] = quant_fp32_to_fp16(x[i]);
}

/* A Q8_0 block's 32 floats into v, and their largest magnitude. */
AVX2 static inline float q8_block_load(const float *x, __m256 v[4])
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int i = 0; i < 4; i++)
        v[i] = _mm256_loadu_ps(x + 8 * i);
    __m256 m = _mm256_max_ps(_mm256_max_ps(_mm256_andnot_ps(sign, v[0]), _mm256_andnot_ps(sign, v[1])),
                             _mm256_max_ps(_mm256_andnot_ps(sign, v[2]), _mm256_andnot_ps(sign, v[3])));
    __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
    m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
    m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
    return _mm_cvtss_f32(m4);
}

/* 32 int32 quants (in int8 range) to a block's 32 bytes, in order. */
AVX2 static inline void q8_block_store(const __m256i q[4], int8_t *qs)
{
    /* the packs work per 128-bit lane; the permute restores element order */
    __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
    p = _mm256_permutevar8x32_epi32(p, _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7));
    _mm256_storeu_si256((__m256i *)(void *)qs, p);
}

AVX2 void quant_q8_0_quantize_row_avx2(const float *x, void *yv, int64_t n)
{
    struct block_q8_0 *y = yv;
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256 half = _mm256_set1_ps(0.5f);
    const __m256 one = _mm256_set1_ps(1.0f);
    for (int64_t b = 0; b < n / QK8_0; b++) {
        __m256 v[4];
        float amax = q8_block_load(x + b * QK8_0, v);

        float d = amax / 127.0f;
        float id = d != 0.0f ? 1.0f / d : 0.0f;
        y[b].d = (uint16_t)_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);

        /* roundf, half away from zero: truncate, then step one away from zero
         * when the (exact) fraction is at least 0.5. */
        __m256 vid = _mm256_set1_ps(id);
        __m256i q[4];
        for (int i = 0; i < 4; i++) {
            __m256 s = _mm256_mul_ps(v[i], vid);
            __m256 t = _mm256_round_ps(s, _MM_FROUND_TO_ZERO | _MM_FROUND_NO_EXC);
            __m256 frac = _mm256_andnot_ps(sign, _mm256_sub_ps(s, t));
            __m256 away = _mm256_or_ps(_mm256_and_ps(s, sign), one);
            __m256 step = _mm256_and_ps(_mm256_cmp_ps(frac, half, _CMP_GE_OQ), away);
            q[i] = _mm256_cvttps_epi32(_mm256_add_ps(t, step));
        }
        q8_block_store(q, y[b].qs);
    }
}

/* The activation form (quant.h): multiplier 127 / amax, round half to even
 * (vroundps with an explicit nearest-even immediate, as ggml's
 * _MM_ROUND_NEAREST), then an exact conversion of the integral values. */
AVX2 void quant_q8_0_quantize_act_avx2(const float *x, void *yv, int64_t n)
{
    struct block_q8_0 *y = yv;
    for (int64_t b = 0; b < n / QK8_0; b++) {
        __m256 v[4];
        float amax = q8_block_load(x + b * QK8_0, v);

        float d = amax / 127.0f;
        float id = amax != 0.0f ? 127.0f / amax : 0.0f;
        y[b].d = (uint16_t)_cvtss_sh(d, _MM_FROUND_TO_NEAREST_INT);
        __m256 vid = _mm256_set1_ps(id);
        __m256i q[4];
        for (int i = 0; i < 4; i++)
            q[i] = _mm256_cvttps_epi32(
                _mm256_round_ps(_mm256_mul_ps(v[i], vid), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC));
        q8_block_store(q, y[b].qs);
    }
}

/* Rounded to F16 and back, 8 at a time: the same two exact-or-nearest-even
 * conversions as the scalar form. */
AVX2 void quant_f16_round_row_f16c(const float *x, void *yv, int64_t n)
{
    float *y = yv;
    int64_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(y + i, _mm256_cvtph_ps(_mm256_cvtps_ph(_mm256_loadu_ps(x + i), 0)));
    for (; i < n; i++)
        y[i] = quant_fp16_to_fp32(quant_fp32_to_fp16(x[i]));
}

/* ---- 8-row kernels ------------------------------------------------------ */

/* Lane r holds row r throughout: a 32-byte chunk has 4 bytes of each row, the
 * activation's matching 4 bytes are broadcast, and maddubs + madd leave row
 * r's partial dot in 32-bit lane r. */

AVX2 void repack_dot8_q4_0_q8_0_avx2(const struct block_q4_0x8 *w, const struct block_q8_0 *a, int64_t n,
                                     float out[REPACK_ROWS])
{
    const __m256i ones = _mm256_set1_epi16(1);
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    const __m256i eight = _mm256_set1_epi8(8);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK4_0; b++) {
        const struct block_q4_0x8 *wb = &w[b];
        const struct block_q8_0 *ab = &a[b];
        /* int16 lanes collect 8 pair sums of nibble * a, each within 3840 */
        __m256i s16 = _mm256_setzero_si256();
        for (int k = 0; k < 4; k++) {
            __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(wb->qs + 32 * k));
            __m256i lo = _mm256_and_si256(v, low4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
            s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(lo, bcast4(ab->qs + 4 * k)));
            s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(hi, bcast4(ab->qs + 16 + 4 * k)));
        }
        __m256i dot = _mm256_madd_epi16(s16, ones);
        /* minus 8 * sum(a), the same for every row */
        __m256i aq = _mm256_loadu_si256((const __m256i *)(const void *)ab->qs);
        __m256i sa8 = splat_sum_i32(_mm256_madd_epi16(_mm256_maddubs_epi16(eight, aq), ones));
        __m256i isum = _mm256_sub_epi32(dot, sa8);

        __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)wb->d));
        __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(_cvtsh_ss(ab->d)));
        __m256 term = _mm256_mul_ps(scale, _mm256_cvtepi32_ps(isum));
        acc = _mm256_add_ps(acc, term);
    }
    _mm256_storeu_ps(out, acc);
}

AVX2 void repack_dot8_q8_0_q8_0_avx2(const struct block_q8_0x8 *w, const struct block_q8_0 *a, int64_t n,
                                     float out[REPACK_ROWS])
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK8_0; b++) {
        const struct block_q8_0x8 *wb = &w[b];
        const struct block_q8_0 *ab = &a[b];
        __m256i isum = _mm256_setzero_si256();
        for (int k = 0; k < 8; k++) {
            __m256i wv = _mm256_loadu_si256((const __m256i *)(const void *)(wb->qs + 32 * k));
            __m256i av = bcast4(ab->qs + 4 * k);
            __m256i p = _mm256_maddubs_epi16(_mm256_sign_epi8(wv, wv), _mm256_sign_epi8(av, wv));
            isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, ones));
        }
        __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)wb->d));
        __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(_cvtsh_ss(ab->d)));
        __m256 term = _mm256_mul_ps(scale, _mm256_cvtepi32_ps(isum));
        acc = _mm256_add_ps(acc, term);
    }
    _mm256_storeu_ps(out, acc);
}
