/* quant_k_x86.c: AVX2 forms of the K-quant kernels, bit-identical to their
 * _ref forms (quant_k.c, repack.c).
 *
 * As in quant_x86.c each function carries its own target attribute (no FMA
 * enabled, so nothing can be contracted) and runs only after
 * quant_fast_available(). Integer parts are exact:
 *   Q4_K: maddubs(nibble 0..15, a) pair sums lie within +-3840; madd with the
 *         sub-block scale (<= 63) gives exact int32 partial sums.
 *   Q6_K: maddubs(q 0..63, a) pair sums lie within +-16128 (exact); the -32
 *         offset is taken off once per super-block through the bsums.
 * Any int8 activation works, -128 included. The float part repeats the ref
 * statements in the same order (quant_k.h).
 * Sections: helpers, row dots, Q8_K quantizer, the 8-row Q4_K kernel. */
#include "quant.h"
#include "quant_k.h"
#include "repack.h"

#if defined(__x86_64__) || defined(__i386__)

#include <float.h>
#include <immintrin.h>
#include <math.h>
#include <string.h>

#define AVX2 __attribute__((target("avx2,f16c")))

/* ---- helpers -------------------------------------------------------------- */

AVX2 static inline int32_t hsum_i32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

AVX2 static inline __m256i load256(const void *p)
{
    return _mm256_loadu_si256((const __m256i *)p);
}

/* Four bytes at p repeated in every 32-bit lane. */
AVX2 static inline __m256i bcast4(const int8_t *p)
{
    int32_t u;
    memcpy(&u, p, sizeof u);
    return _mm256_set1_epi32(u);
}

/* ---- row dots ------------------------------------------------------------- */

AVX2 float quant_dot_q4_k_q8_k_avx2(const struct block_q4_k *w, const struct block_q8_k *a, int64_t n)
{
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    float acc = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        uint8_t sc[8], m[8];
        quant_q4_k_scale_min(w[b].scales, sc, m);
        __m256i isum = _mm256_setzero_si256();
        for (int c = 0; c < 4; c++) {
            __m256i q = load256(w[b].qs + 32 * c);
            __m256i lo = _mm256_and_si256(q, low4);
            __m256i hi = _mm256_and_si256(_mm256_srli_epi16(q, 4), low4);
            __m256i p0 = _mm256_maddubs_epi16(lo, load256(a[b].qs + 64 * c));
            __m256i p1 = _mm256_maddubs_epi16(hi, load256(a[b].qs + 64 * c + 32));
            p0 = _mm256_madd_epi16(p0, _mm256_set1_epi16((int16_t)sc[2 * c]));
            p1 = _mm256_madd_epi16(p1, _mm256_set1_epi16((int16_t)sc[2 * c + 1]));
            isum = _mm256_add_epi32(isum, _mm256_add_epi32(p0, p1));
        }
        int32_t msum = 0;
        for (int j = 0; j < 8; j++)
            msum += (int32_t)m[j] * ((int32_t)a[b].bsums[2 * j] + (int32_t)a[b].bsums[2 * j + 1]);
        float d = _cvtsh_ss(w[b].d) * a[b].d;
        float dm = _cvtsh_ss(w[b].dmin) * a[b].d;
        float t = d * (float)hsum_i32(isum);
        float tm = dm * (float)msum;
        float term = t - tm;
        acc += term;
    }
    return acc;
}

/* Q6_K: sum((q - 32) a) per sub-block is sum(q a) - 32 bsum, so the -32 goes
 * once per super-block through the activation's bsums (one madd against
 * the 16 scales) instead of a second maddubs per 32 quants. The scales of
 * one half (8 sub-blocks) sit as int16 in both 128-bit lanes; a pshufb per
 * 32 quants picks sub-block g for the low lane and g + 1 for the high one. */
AVX2 float quant_dot_q6_k_q8_k_avx2(const struct block_q6_k *w, const struct block_q8_k *a, int64_t n)
{
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    const __m256i three = _mm256_set1_epi8(3);
    /* int16 word 2k of a 128-bit lane in the low lane, word 2k + 1 in the high */
    __m256i pick[4];
    for (int k = 0; k < 4; k++) {
        int lo = 4 * k, hi = 4 * k + 2;
        pick[k] = _mm256_setr_epi8(lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1, lo, lo + 1,
                                   lo, lo + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1, hi, hi + 1, hi,
                                   hi + 1, hi, hi + 1, hi, hi + 1);
    }
    float acc = 0.0f;
    for (int64_t b = 0; b < n / QK_K; b++) {
        __m128i sc8 = _mm_loadu_si128((const __m128i *)(const void *)w[b].scales);
        __m256i sc16 = _mm256_cvtepi8_epi16(sc8);
        /* -32 x sum over sub-blocks of scale x bsum */
        __m256i isum = _mm256_madd_epi16(sc16, load256(a[b].bsums));
        isum = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_slli_epi32(isum, 5));
        for (int h = 0; h < 2; h++) {
            __m256i half = _mm256_broadcastsi128_si256(h ? _mm256_extracti128_si256(sc16, 1) : _mm256_castsi256_si128(sc16));
            __m256i q0 = load256(w[b].ql + 64 * h);
            __m256i q1 = load256(w[b].ql + 64 * h + 32);
            __m256i qh = load256(w[b].qh + 32 * h);
            __m256i e[4];
            e[0] = _mm256_and_si256(q0, low4);
            e[1] = _mm256_and_si256(q1, low4);
            e[2] = _mm256_and_si256(_mm256_srli_epi16(q0, 4), low4);
            e[3] = _mm256_and_si256(_mm256_srli_epi16(q1, 4), low4);
            for (int k = 0; k < 4; k++) {
                /* high bits (qh >> 2k) & 3 moved to bit 4; they stay inside the byte */
                __m256i hb = _mm256_and_si256(_mm256_srli_epi16(qh, 2 * k), three);
                __m256i q6 = _mm256_or_si256(e[k], _mm256_slli_epi16(hb, 4));
                __m256i p = _mm256_maddubs_epi16(q6, load256(a[b].qs + 128 * h + 32 * k));
                /* int16 lanes 0..7 hold sub-block 8h + 2k, lanes 8..15 the next */
                isum = _mm256_add_epi32(isum, _mm256_madd_epi16(p, _mm256_shuffle_epi8(half, pick[k])));
            }
        }
        float d = _cvtsh_ss(w[b].d) * a[b].d;
        float term = d * (float)hsum_i32(isum);
        acc += term;
    }
    return acc;
}

/* ---- Q8_K quantizer ------------------------------------------------------- */

AVX2 void quant_q8_k_quantize_row_avx2(const float *x, struct block_q8_k *y, int64_t n)
{
    const __m256 sign = _mm256_set1_ps(-0.0f);
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    const __m256i max127 = _mm256_set1_epi32(127);
    for (int64_t b = 0; b < n / QK_K; b++) {
        const float *xb = x + b * QK_K;
        __m256 m = _mm256_setzero_ps();
        for (int i = 0; i < QK_K / 8; i++)
            m = _mm256_max_ps(m, _mm256_andnot_ps(sign, _mm256_loadu_ps(xb + 8 * i)));
        __m128 m4 = _mm_max_ps(_mm256_castps256_ps128(m), _mm256_extractf128_ps(m, 1));
        m4 = _mm_max_ps(m4, _mm_movehl_ps(m4, m4));
        m4 = _mm_max_ss(m4, _mm_movehdup_ps(m4));
        float amax = _mm_cvtss_f32(m4);
        if (amax == 0) {
            memset(&y[b], 0, sizeof y[b]);
            continue;
        }
        /* the first element of that magnitude, sign kept, as the ref's scan */
        __m256 va = _mm256_set1_ps(amax);
        float max = 0;
        for (int i = 0; i < QK_K / 8; i++) {
            __m256 v = _mm256_loadu_ps(xb + 8 * i);
            int mask = _mm256_movemask_ps(_mm256_cmp_ps(_mm256_andnot_ps(sign, v), va, _CMP_EQ_OQ));
            if (mask) {
                max = xb[8 * i + __builtin_ctz((unsigned)mask)];
                break;
            }
        }
        float iscale = -127.0f / max;
        if (!(fabsf(iscale) <= FLT_MAX)) { /* amax below 127 / FLT_MAX: the ref's own rounding */
            quant_q8_k_quantize_row_ref(xb, &y[b], QK_K);
            continue;
        }
        __m256 vs = _mm256_set1_ps(iscale);
        for (int c = 0; c < QK_K / 32; c++) {
            __m256i q[4];
            for (int i = 0; i < 4; i++) {
                __m256 s = _mm256_mul_ps(_mm256_loadu_ps(xb + 32 * c + 8 * i), vs);
                /* |s| <= 127 (+ rounding): round half to even is exact here */
                __m256 r = _mm256_round_ps(s, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
                q[i] = _mm256_min_epi32(_mm256_cvttps_epi32(r), max127);
            }
            for (int g = 0; g < 2; g++)
                y[b].bsums[2 * c + g] = (int16_t)hsum_i32(_mm256_add_epi32(q[2 * g], q[2 * g + 1]));
            __m256i p = _mm256_packs_epi16(_mm256_packs_epi32(q[0], q[1]), _mm256_packs_epi32(q[2], q[3]));
            p = _mm256_permutevar8x32_epi32(p, order);
            _mm256_storeu_si256((__m256i *)(void *)(y[b].qs + 32 * c), p);
        }
        y[b].d = 1 / iscale;
    }
}

/* ---- the 8-row Q4_K kernel ------------------------------------------------ */

/* Lane r holds row r throughout. The 12 scale bytes are stored byte-major
 * (byte i of row r at scales[8i + r]), so 8 bytes widened to 32-bit lanes
 * give byte i of every row, and the 6-bit unpacking runs on all rows at once.
 * A 32-byte chunk of qs has 4 bytes of each row; with the matching 4
 * activation bytes broadcast, maddubs leaves row r's pair sums in lane r.
 * Eight chunks make a sub-block: their int16 sums stay within +-30720. */
AVX2 void repack_dot8_q4_k_q8_k_avx2(const struct block_q4_kx8 *w, const struct block_q8_k *a, int64_t n,
                                     float out[REPACK_ROWS])
{
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    const __m256i m63 = _mm256_set1_epi32(63), m15 = _mm256_set1_epi32(15);
    __m256 acc = _mm256_setzero_ps();
    for (int64_t b = 0; b < n / QK_K; b++) {
        const struct block_q4_kx8 *wb = &w[b];
        const struct block_q8_k *ab = &a[b];
        __m256i B[12];
        for (int i = 0; i < 12; i++)
            B[i] = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(wb->scales + 8 * i)));
        __m256i isum = _mm256_setzero_si256(), msum = _mm256_setzero_si256();
        for (int j = 0; j < 8; j++) {
            __m256i sc, m;
            if (j < 4) {
                sc = _mm256_and_si256(B[j], m63);
                m = _mm256_and_si256(B[j + 4], m63);
            } else {
                sc = _mm256_or_si256(_mm256_and_si256(B[j + 4], m15),
                                     _mm256_slli_epi32(_mm256_srli_epi32(B[j - 4], 6), 4));
                m = _mm256_or_si256(_mm256_srli_epi32(B[j + 4], 4), _mm256_slli_epi32(_mm256_srli_epi32(B[j], 6), 4));
            }
            /* the value in both int16 halves of each lane, for madd */
            sc = _mm256_or_si256(sc, _mm256_slli_epi32(sc, 16));
            m = _mm256_or_si256(m, _mm256_slli_epi32(m, 16));

            /* sub-block j: nibble half j % 2 of chunks 8 (j / 2) .. + 7 */
            int c = j / 2, shift = 4 * (j % 2);
            __m256i s16 = _mm256_setzero_si256();
            for (int kk = 0; kk < 8; kk++) {
                __m256i v = load256(wb->qs + 32 * (8 * c + kk));
                __m256i nib = _mm256_and_si256(_mm256_srli_epi16(v, shift), low4);
                s16 = _mm256_add_epi16(s16, _mm256_maddubs_epi16(nib, bcast4(ab->qs + 32 * j + 4 * kk)));
            }
            isum = _mm256_add_epi32(isum, _mm256_madd_epi16(s16, sc));
            uint32_t pair = (uint32_t)(uint16_t)ab->bsums[2 * j] | (uint32_t)(uint16_t)ab->bsums[2 * j + 1] << 16;
            msum = _mm256_add_epi32(msum, _mm256_madd_epi16(_mm256_set1_epi32((int32_t)pair), m));
        }
        __m256 da = _mm256_set1_ps(ab->d);
        __m256 d = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)wb->d)), da);
        __m256 dm = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)wb->dmin)), da);
        __m256 t = _mm256_mul_ps(d, _mm256_cvtepi32_ps(isum));
        __m256 tm = _mm256_mul_ps(dm, _mm256_cvtepi32_ps(msum));
        acc = _mm256_add_ps(acc, _mm256_sub_ps(t, tm));
    }
    _mm256_storeu_ps(out, acc);
}

#else /* not x86: no fast kernels; the dispatchers never call these */

float quant_dot_q4_k_q8_k_avx2(const struct block_q4_k *w, const struct block_q8_k *a, int64_t n)
{
    return quant_dot_q4_k_q8_k_ref(w, a, n);
}

float quant_dot_q6_k_q8_k_avx2(const struct block_q6_k *w, const struct block_q8_k *a, int64_t n)
{
    return quant_dot_q6_k_q8_k_ref(w, a, n);
}

void quant_q8_k_quantize_row_avx2(const float *x, struct block_q8_k *y, int64_t n)
{
    quant_q8_k_quantize_row_ref(x, y, n);
}

void repack_dot8_q4_k_q8_k_avx2(const struct block_q4_kx8 *w, const struct block_q8_k *a, int64_t n,
                                float out[REPACK_ROWS])
{
    repack_dot8_q4_k_q8_k_ref(w, a, n, out);
}

#endif
