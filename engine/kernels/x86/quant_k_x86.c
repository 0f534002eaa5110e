/* quant_k_x86.c: AVX2 forms of the K-quant kernels, bit-identical to their
 * _ref forms (quant_k.c, repack.c).
 *
 * As in quant_x86.c each function carries its own target attribute (simd.h;
 * no FMA enabled, so nothing can be contracted) and the kernel table runs it
 * only at a level the CPU has. Integer parts are exact:
 *   Q4_K: maddubs(nibble 0..15, a) pair sums lie within +-3840; madd with the
 *         sub-block scale (<= 63) gives exact int32 partial sums.
 *   Q6_K: maddubs(q 0..63, a) pair sums lie within +-16128 (exact); the -32
 *         offset is taken off once per super-block through the bsums.
 * Any int8 activation works, -128 included. The float part repeats the ref
 * statements in the same order (quant_k.h).
 * Sections: row dots, Q8_K quantizer, the 8-row Q4_K kernel, 8 plain Q6_K
 * rows x n_tok tokens (AVX2 form, and an AVX-512 VNNI form for 8 or 16
 * rows); the helpers are in simd.h. */
#include "kernels/gemm.h"
#include "kernels/quant.h"
#include "kernels/quant_k.h"
#include "kernels/repack.h"

#include <float.h>
#include <immintrin.h>
#include <math.h>
#include <string.h>

#include "kernels/x86/simd.h" /* AVX2, VNNI, hsum_i32, load256, bcast4 */

/* ---- row dots ------------------------------------------------------------- */

AVX2 float quant_dot_q4_k_q8_k_avx2(const void *wv, const void *av, int64_t n)
{
    const struct block_q4_k *w = wv;
    const struct block_q8_k *a = av;
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
AVX2 float quant_dot_q6_k_q8_k_avx2(const void *wv, const void *av, int64_t n)
{
    const struct block_q6_k *w = wv;
    const struct block_q8_k *a = av;
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

AVX2 void quant_q8_k_quantize_row_avx2(const float *x, void *yv, int64_t n)
{
    struct block_q8_k *y = yv;
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

/* ---- 8 plain Q6_K rows x n_tok tokens ------------------------------------
 * Layout: the 4 decoded 32-byte chunks of a half (chunk k = quants 32k..32k+31,
 * sub-blocks 2k and 2k + 1 in the low and high 128-bit lanes) get a 4 x 4
 * transpose of 32-bit words inside each 128-bit lane, and the activation's
 * chunks get the same. Afterwards every one of the 4 vectors of a half has,
 * in 32-bit lane (L, i) (128-bit lane L, word i), 4 quants of sub-block
 * 2i + L: the same sub-block in the same lane of all 4 vectors. So the
 * products of a whole sub-block can pile up in one lane before its scale is
 * applied: two maddubs results added as int16 (each within +-16128, so the
 * sum stays within +-32256) and one madd against the scales per pair. (The
 * VNNI form, at the end, does the same on 512-bit registers with vpdpbusd.)
 *
 * The -32 offset goes through the bsums, as in the row dot: one madd of the
 * bsums against 32 x the scales per row and token.
 * All integer sums are exact (a whole super-block's lies within +-2^29).
 *
 * Two orders, both decoding each weight super-block once per pass:
 *   up to Q6P_ROW_TOK tokens: the rows are read one after the other, as the
 *     row dot reads them, in the natural layout below (no transpose: a token
 *     or two leave no work to spread a transpose over); the activation
 *     blocks are prepared once per chunk and each row's int32 lanes kept
 *     until the 8 rows are done, then summed by the tile's tree of adds; a
 *     software prefetch runs ahead in the row. (Reading 8 rows side by side
 *     makes 8 memory streams, which on the machine measured ran at about
 *     half the bandwidth of one.)
 *   more tokens: per tile of up to Q6P_TILE tokens, the 8 rows' super-block
 *     b is decoded into a buffer and used for every token of the tile; the 8
 *     rows' int32 vectors go through a tree of horizontal adds so that lane r
 *     holds row r's sum. A software prefetch runs ahead on the 8 rows.
 * Either way the float part runs lane-wise (lane r = row r), repeating the
 * ref's statements per super-block in order. */

#define Q6P_ROW_TOK 4   /* up to this many tokens: the row order */
#define Q6P_CHUNK 64    /* activation super-blocks of the row order per pass, all tokens */
#define Q6P_ROW_AHEAD 8 /* super-blocks prefetched ahead in the row order */
#define Q6P_TILE 16     /* tokens per pass over the weights in the tile order */
#define Q6P_AHEAD 4     /* super-blocks prefetched ahead in the tile order */

/* Word j of 128-bit lane L of v[i] becomes word i of lane L of v[j]. */
AVX2 static inline void transpose_words(__m256i v[4])
{
    __m256i t0 = _mm256_unpacklo_epi32(v[0], v[1]), t1 = _mm256_unpackhi_epi32(v[0], v[1]);
    __m256i t2 = _mm256_unpacklo_epi32(v[2], v[3]), t3 = _mm256_unpackhi_epi32(v[2], v[3]);
    v[0] = _mm256_unpacklo_epi64(t0, t2);
    v[1] = _mm256_unpackhi_epi64(t0, t2);
    v[2] = _mm256_unpacklo_epi64(t1, t3);
    v[3] = _mm256_unpackhi_epi64(t1, t3);
}

/* Lane (L, i) takes sub-block 2i + L of 8 values given in sub-block order. */
AVX2 static inline __m256i subblock_order(__m256i v)
{
    return _mm256_permutevar8x32_epi32(v, _mm256_setr_epi32(0, 2, 4, 6, 1, 3, 5, 7));
}

/* The 6-bit quants of half h of a Q6_K block, 0..63, in the natural order:
 * q[j] holds positions 128h + 32j .. + 31. */
AVX2 static inline void q6_unpack_half(const struct block_q6_k *blk, int h, __m256i q[4])
{
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    const __m256i bits45 = _mm256_set1_epi8(0x30);
    __m256i l0 = load256(blk->ql + 64 * h), l1 = load256(blk->ql + 64 * h + 32);
    __m256i hi = load256(blk->qh + 32 * h);
    /* high bit pair k, (qh >> 2k) & 3, moved to bits 4..5 of its own byte:
     * 16-bit shifts by < 8 bring only masked-off bits across bytes */
    q[0] = _mm256_or_si256(_mm256_and_si256(l0, low4), _mm256_and_si256(_mm256_slli_epi16(hi, 4), bits45));
    q[1] = _mm256_or_si256(_mm256_and_si256(l1, low4), _mm256_and_si256(_mm256_slli_epi16(hi, 2), bits45));
    q[2] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l0, 4), low4), _mm256_and_si256(hi, bits45));
    q[3] = _mm256_or_si256(_mm256_and_si256(_mm256_srli_epi16(l1, 4), low4),
                           _mm256_and_si256(_mm256_srli_epi16(hi, 2), bits45));
}

/* The same, transposed as above. */
AVX2 static inline void q6_decode_half(const struct block_q6_k *blk, int h, __m256i q[4])
{
    q6_unpack_half(blk, h, q);
    transpose_words(q);
}

/* The activation quants of half h, transposed as the weights. */
AVX2 static inline void q8_k_half(const struct block_q8_k *blk, int h, __m256i q[4])
{
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++)
        q[k] = load256(blk->qs + 128 * h + 32 * k);
    transpose_words(q);
}

/* Lane r of the result is the sum of the 8 lanes of v[r]. */
AVX2 static inline __m256i sum_lanes8(const __m256i v[8])
{
    __m256i a = _mm256_hadd_epi32(_mm256_hadd_epi32(v[0], v[1]), _mm256_hadd_epi32(v[2], v[3]));
    __m256i b = _mm256_hadd_epi32(_mm256_hadd_epi32(v[4], v[5]), _mm256_hadd_epi32(v[6], v[7]));
    /* a: rows 0..3 from the low 128-bit halves, then from the high halves */
    return _mm256_add_epi32(_mm256_permute2x128_si256(a, b, 0x20), _mm256_permute2x128_si256(a, b, 0x31));
}

/* The fp16 super-block scales of the 8 rows, as floats in lanes 0..7. */
AVX2 static inline __m256 q6_row_scales(const uint8_t *rows, size_t rb, int64_t b)
{
    uint16_t d[8];
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++)
        memcpy(&d[r], rows + (size_t)r * rb + (size_t)b * sizeof(struct block_q6_k) + offsetof(struct block_q6_k, d),
               sizeof d[r]);
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)d));
}

/* acc += (dw * da) * (float)isum, lane-wise, each operation rounded. */
AVX2 static inline __m256 q6_acc(__m256 acc, __m256 dw, float da, __m256i isum)
{
    __m256 d = _mm256_mul_ps(dw, _mm256_set1_ps(da));
    __m256 term = _mm256_mul_ps(d, _mm256_cvtepi32_ps(isum));
    return _mm256_add_ps(acc, term);
}

/* Prefetches the super-block `ahead` blocks after blk in its row. The
 * address is formed as an integer: past the row's end it is the next row's
 * bytes or beyond the matrix, harmless either way (a prefetch never faults).
 * Lines 64 bytes apart in every 210-byte block leave no line out. */
AVX2 static inline void q6p_prefetch(const struct block_q6_k *blk, int ahead)
{
    uintptr_t p = (uintptr_t)(const void *)blk + (uintptr_t)ahead * sizeof *blk;
    __builtin_prefetch((const void *)p, 0, 3);
    __builtin_prefetch((const void *)(p + 64), 0, 3);
    __builtin_prefetch((const void *)(p + 128), 0, 3);
    __builtin_prefetch((const void *)(p + 192), 0, 3);
}

/* -- the row order's natural layout --
 *
 * The row order does not transpose: vector k (k = 4h + j) of a super-block's
 * decoded quants holds positions 128h + 32j .. + 31, sub-block 2k in its low
 * 128-bit lane and 2k + 1 in its high lane, so one maddubs against the
 * activation bytes at the same positions, then a madd (AVX2) or vpdpwssd
 * (VNNI) against the int16 scale of each lane's sub-block, gives int32 lanes
 * that add up to the super-block's sum. The scales are kept in the
 * even / odd order (low lane: sub-blocks 0, 2, .., 14; high: 1, 3, .., 15)
 * so that a pshufb picks word k of each lane for vector k; the activation's
 * bsums are negated into the same order once per block, and one madd against
 * 32 x the scales starts the sum at -32 x sum(scale x bsum). */

/* One decoded weight super-block of one row, natural order. */
struct q6n_row {
    __m256i q[8];  /* 6-bit quants 0..63, 32 positions each */
    __m256i sc[8]; /* int16 scale of each lane's sub-block, 16 times per lane */
    __m256i sc32;  /* 32 x the 16 scales as int16, even / odd order */
};

/* One activation super-block for the natural order. */
struct q6n_act {
    const int8_t *qs;
    __m256i nbs; /* -bsums as int16, even / odd order */
};

AVX2 static inline __attribute__((always_inline)) void q6n_decode(const struct block_q6_k *blk, struct q6n_row *x)
{
    q6_unpack_half(blk, 0, &x->q[0]);
    q6_unpack_half(blk, 1, &x->q[4]);
    __m128i s8 = _mm_loadu_si128((const __m128i *)(const void *)blk->scales);
    __m256i se = _mm256_cvtepi8_epi16(
        _mm_shuffle_epi8(s8, _mm_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15)));
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++)
        x->sc[k] = _mm256_shuffle_epi8(se, _mm256_set1_epi16((int16_t)(0x0100 * (2 * k + 1) + 2 * k)));
    x->sc32 = _mm256_slli_epi16(se, 5);
}

AVX2 static inline __attribute__((always_inline)) void q6n_prepare(const struct block_q8_k *ab, struct q6n_act *y)
{
    /* per 128-bit lane words 0, 2, 4, 6, 1, 3, 5, 7; then qwords 0, 2, 1, 3 */
    __m256i bs = _mm256_shuffle_epi8(load256(ab->bsums), _mm256_setr_epi8(0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7, 10, 11,
                                                                           14, 15, 0, 1, 4, 5, 8, 9, 12, 13, 2, 3, 6, 7,
                                                                           10, 11, 14, 15));
    bs = _mm256_permute4x64_epi64(bs, 0xd8);
    y->qs = ab->qs;
    y->nbs = _mm256_sub_epi16(_mm256_setzero_si256(), bs);
}

/* -- AVX2 form -- */

/* One decoded weight super-block of one row. */
struct q6p_row_avx2 {
    __m256i q[2][4]; /* [half][transposed chunk] */
    __m256i sc[2];   /* int16 pairs: the scale of lane (L, i)'s sub-block, twice */
    __m256i sc32;    /* 32 x the 16 scales as int16, in sub-block order */
};

/* One activation super-block, prepared. */
struct q6p_act_avx2 {
    __m256i q[2][4]; /* transposed as the weights */
    __m256i bs;      /* the 16 bsums */
};

AVX2 static inline __attribute__((always_inline)) void q6p_decode_avx2(const struct block_q6_k *blk,
                                                                       struct q6p_row_avx2 *x)
{
    __m128i s8 = _mm_loadu_si128((const __m128i *)(const void *)blk->scales);
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
        q6_decode_half(blk, h, x->q[h]);
        __m256i s = subblock_order(_mm256_cvtepi8_epi32(h ? _mm_srli_si128(s8, 8) : s8));
        x->sc[h] = _mm256_or_si256(_mm256_and_si256(s, _mm256_set1_epi32(0xffff)), _mm256_slli_epi32(s, 16));
    }
    x->sc32 = _mm256_slli_epi16(_mm256_cvtepi8_epi16(s8), 5);
}

AVX2 static inline __attribute__((always_inline)) void q6p_prepare_avx2(const struct block_q8_k *ab,
                                                                        struct q6p_act_avx2 *y)
{
    q8_k_half(ab, 0, y->q[0]);
    q8_k_half(ab, 1, y->q[1]);
    y->bs = load256(ab->bsums);
}

/* 8 int32 lanes summing to the row's isum for this super-block. */
AVX2 static inline __attribute__((always_inline)) __m256i q6p_dot_avx2(const struct q6p_row_avx2 *x,
                                                                       const struct q6p_act_avx2 *y)
{
    __m256i s = _mm256_sub_epi32(_mm256_setzero_si256(), _mm256_madd_epi16(y->bs, x->sc32));
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
        __m256i p01 = _mm256_add_epi16(_mm256_maddubs_epi16(x->q[h][0], y->q[h][0]),
                                       _mm256_maddubs_epi16(x->q[h][1], y->q[h][1]));
        __m256i p23 = _mm256_add_epi16(_mm256_maddubs_epi16(x->q[h][2], y->q[h][2]),
                                       _mm256_maddubs_epi16(x->q[h][3], y->q[h][3]));
        s = _mm256_add_epi32(s, _mm256_madd_epi16(p01, x->sc[h]));
        s = _mm256_add_epi32(s, _mm256_madd_epi16(p23, x->sc[h]));
    }
    return s;
}

/* 8 int32 lanes summing to the row's isum, natural order. */
AVX2 static inline __attribute__((always_inline)) __m256i q6n_dot_avx2(const struct q6n_row *x, const struct q6n_act *y)
{
    __m256i s = _mm256_madd_epi16(x->sc32, y->nbs);
#pragma GCC unroll 8
    for (int k = 0; k < 8; k++)
        s = _mm256_add_epi32(s, _mm256_madd_epi16(_mm256_maddubs_epi16(x->q[k], load256(y->qs + 32 * k)), x->sc[k]));
    return s;
}

/* The two access orders and the entry point, for a form S (avx2, vnni) with
 * target attribute ATTR: its struct q6p_row_S / q6p_act_S and its
 * q6p_decode_S, q6p_prepare_S and q6p_dot_S. One body, so both forms walk
 * the weights and run the float part the same way. */
#define Q6P_WALKERS(S, ATTR)                                                                                          \
    /* Tokens t0 .. t0 + nt - 1, nt <= Q6P_TILE. */                                                                   \
    ATTR static void q6p_tile_##S(const uint8_t *rows, size_t rb, int64_t nb, const struct block_q8_k *a,            \
                                  size_t a_stride, int t0, int nt, float *out, size_t out_stride)                    \
    {                                                                                                                 \
        struct q6p_row_##S x[8];                                                                                      \
        __m256 acc[Q6P_TILE];                                                                                         \
        for (int t = 0; t < nt; t++)                                                                                  \
            acc[t] = _mm256_setzero_ps();                                                                             \
        for (int64_t b = 0; b < nb; b++) {                                                                            \
            _Pragma("GCC unroll 8") for (int r = 0; r < 8; r++) {                                                     \
                const struct block_q6_k *blk = (const struct block_q6_k *)(const void *)(rows + (size_t)r * rb) + b;  \
                q6p_prefetch(blk, Q6P_AHEAD);                                                                         \
                q6p_decode_##S(blk, &x[r]);                                                                           \
            }                                                                                                         \
            __m256 dw = q6_row_scales(rows, rb, b);                                                                   \
            for (int t = 0; t < nt; t++) {                                                                            \
                const struct block_q8_k *ab = &a[(size_t)(t0 + t) * a_stride + (size_t)b];                           \
                struct q6p_act_##S y;                                                                                 \
                q6p_prepare_##S(ab, &y);                                                                              \
                __m256i v[8];                                                                                         \
                _Pragma("GCC unroll 8") for (int r = 0; r < 8; r++)                                                   \
                    v[r] = q6p_dot_##S(&x[r], &y);                                                                    \
                acc[t] = q6_acc(acc[t], dw, ab->d, sum_lanes8(v));                                                    \
            }                                                                                                         \
        }                                                                                                             \
        for (int t = 0; t < nt; t++)                                                                                  \
            _mm256_storeu_ps(out + (size_t)(t0 + t) * out_stride, acc[t]);                                            \
    }                                                                                                                 \
                                                                                                                      \
    /* Up to Q6P_ROW_TOK tokens, row after row, natural order. */                                                   \
    ATTR static void q6p_rows_##S(const uint8_t *rows, size_t rb, int64_t nb, const struct block_q8_k *a,            \
                                  size_t a_stride, int nt, float *out, size_t out_stride)                            \
    {                                                                                                                 \
        struct q6n_act y[Q6P_CHUNK]; /* token t, super-block b0 + b at t * ch + b */                                  \
        __m256i isv[Q6P_CHUNK][8];   /* the same order, [row]: int32 lanes of the row's sum */                        \
        __m256 acc[Q6P_ROW_TOK];                                                                                      \
        int ch = Q6P_CHUNK / nt;                                                                                      \
        for (int t = 0; t < nt; t++)                                                                                  \
            acc[t] = _mm256_setzero_ps();                                                                             \
        for (int64_t b0 = 0; b0 < nb; b0 += ch) {                                                                     \
            int cb = nb - b0 < ch ? (int)(nb - b0) : ch;                                                              \
            for (int t = 0; t < nt; t++)                                                                              \
                for (int b = 0; b < cb; b++)                                                                          \
                    q6n_prepare(&a[(size_t)t * a_stride + (size_t)(b0 + b)], &y[t * ch + b]);                         \
            for (int r = 0; r < 8; r++) {                                                                             \
                const struct block_q6_k *row = (const struct block_q6_k *)(const void *)(rows + (size_t)r * rb) + b0; \
                for (int b = 0; b < cb; b++) {                                                                        \
                    struct q6n_row x;                                                                                 \
                    q6p_prefetch(&row[b], Q6P_ROW_AHEAD);                                                             \
                    q6n_decode(&row[b], &x);                                                                          \
                    for (int t = 0; t < nt; t++)                                                                      \
                        isv[t * ch + b][r] = q6n_dot_##S(&x, &y[t * ch + b]);                                         \
                }                                                                                                     \
            }                                                                                                         \
            for (int b = 0; b < cb; b++) {                                                                            \
                __m256 dw = q6_row_scales(rows, rb, b0 + b);                                                          \
                for (int t = 0; t < nt; t++)                                                                          \
                    acc[t] = q6_acc(acc[t], dw, a[(size_t)t * a_stride + (size_t)(b0 + b)].d,                         \
                                    sum_lanes8(isv[t * ch + b]));                                                     \
            }                                                                                                         \
        }                                                                                                             \
        for (int t = 0; t < nt; t++)                                                                                  \
            _mm256_storeu_ps(out + (size_t)t * out_stride, acc[t]);                                                   \
    }                                                                                                                 \
                                                                                                                      \
    ATTR void gemm_q6_k_plain8_##S(const void *w, size_t rb, const struct block_q8_k *a, size_t a_stride,            \
                                   int n_tok, int64_t n, float *out, size_t out_stride)                              \
    {                                                                                                                 \
        if (n_tok <= 0)                                                                                               \
            return;                                                                                                   \
        if (n_tok <= Q6P_ROW_TOK) {                                                                                   \
            q6p_rows_##S(w, rb, n / QK_K, a, a_stride, n_tok, out, out_stride);                                       \
            return;                                                                                                   \
        }                                                                                                             \
        for (int t0 = 0; t0 < n_tok; t0 += Q6P_TILE) {                                                                \
            int nt = n_tok - t0 < Q6P_TILE ? n_tok - t0 : Q6P_TILE;                                                   \
            q6p_tile_##S(w, rb, n / QK_K, a, a_stride, t0, nt, out, out_stride);                                      \
        }                                                                                                             \
    }

Q6P_WALKERS(avx2, AVX2)

/* -- VNNI form: AVX-512 registers, 8 or 16 rows --
 *
 * A super-block's 256 quants fill 4 zmm, v[m] holding positions 64m .. + 63,
 * so 128-bit lane L of v[m] is sub-block 4m + L. The 4 x 4 transpose of
 * 32-bit words inside each 128-bit lane (the AVX2 tiles' transpose, on zmm)
 * puts in lane 4L + i of all 4 vectors quants of sub-block 4i + L; the
 * activation gets the same transpose, so one chain of 4 vpdpbusd started at
 * -32 x that sub-block's bsum leaves each lane its sub-block's exact sum,
 * one vpmulld applies the scales, and the 16 lanes add up to the row's isum
 * of the super-block. A tree of adds then turns the rows' vectors into one
 * whose lane r holds row r's isum, and the float part runs lane-wise.
 *
 * Decoding: the low nibbles of ql[64h .. + 63] are positions 128h .. + 63,
 * the high ones 128h + 64 .. + 127, so two zmm per half; their high bit
 * pairs come from qh[32h .. + 31], repeated in both 256-bit halves and
 * shifted by a count per 64-bit lane (a shift inside a 64-bit lane carries
 * only masked-off bits across bytes). Only 32- and 64-bit lane operations
 * and the VNNI dot: nothing needs AVX-512 BW.
 *
 * The two access orders are the AVX2 form's (the row order for up to
 * Q6P_ROW_TOK tokens, tiles of Q6Z_TILE tokens beyond), for R = 8 rows (the
 * rows8 slot) or R = 16 (rows16), both on this transposed layout: on 512-bit
 * registers the transpose costs about what the natural layout's per-vector
 * scales would, and it leaves one vpmulld per row and super-block. The row
 * order keeps Q6Z_ROW_VECS row vectors per pass (16 KiB), so a pass covers
 * Q6Z_ROW_VECS / (R x n_tok) super-blocks. */

#define Q6Z_ROW_VECS 256 /* row order: (super-block, token, row) vectors kept per pass */
/* The row order prefetches as every one-token kernel does (stream_prefetch,
 * simd.h). */
/* Tokens per pass over the weights in the tile order: a whole batch of the
 * forward pass (32) decodes each super-block once; measured against 16:
 * about 10 % faster on 32 tokens. */
#define Q6Z_TILE 32

/* Lane 4L + i takes sub-block 4i + L of 16 values given in sub-block order. */
VNNI static inline __m512i q6z_lane_order(__m512i v)
{
    return _mm512_permutexvar_epi32(_mm512_setr_epi32(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15), v);
}

/* Word j of 128-bit lane L of v[i] becomes word i of lane L of v[j]. */
VNNI static inline void q6z_transpose(__m512i v[4])
{
    __m512i t0 = _mm512_unpacklo_epi32(v[0], v[1]), t1 = _mm512_unpackhi_epi32(v[0], v[1]);
    __m512i t2 = _mm512_unpacklo_epi32(v[2], v[3]), t3 = _mm512_unpackhi_epi32(v[2], v[3]);
    v[0] = _mm512_unpacklo_epi64(t0, t2);
    v[1] = _mm512_unpackhi_epi64(t0, t2);
    v[2] = _mm512_unpacklo_epi64(t1, t3);
    v[3] = _mm512_unpackhi_epi64(t1, t3);
}

/* One decoded weight super-block of one row. */
struct q6z_row {
    __m512i q[4]; /* quants 0..63, transposed */
    __m512i sc;   /* int32: the scale of each lane's sub-block */
};

/* One activation super-block, prepared. */
struct q6z_act {
    __m512i q[4];  /* transposed as the weights */
    __m512i start; /* -32 x the bsum of each lane's sub-block */
};

VNNI static inline __attribute__((always_inline)) void q6z_decode(const struct block_q6_k *blk, struct q6z_row *x)
{
    const __m512i low4 = _mm512_set1_epi8(0x0f), bits45 = _mm512_set1_epi8(0x30);
    /* bit pair k of qh to bits 4..5: k = 0, 1 (positions 0..63 of the half)
     * shift left by 4, 2; k = 2, 3 (64..127) right by 0, 2 */
    const __m512i up = _mm512_setr_epi64(4, 4, 4, 4, 2, 2, 2, 2), down = _mm512_setr_epi64(0, 0, 0, 0, 2, 2, 2, 2);
#pragma GCC unroll 2
    for (int h = 0; h < 2; h++) {
        __m512i l = _mm512_loadu_si512((const void *)(blk->ql + 64 * h));
        __m512i hb = _mm512_broadcast_i64x4(load256(blk->qh + 32 * h));
        /* (a & c) | b: 0xec */
        x->q[2 * h] = _mm512_ternarylogic_epi32(l, _mm512_and_si512(_mm512_sllv_epi64(hb, up), bits45), low4, 0xec);
        x->q[2 * h + 1] = _mm512_ternarylogic_epi32(_mm512_srli_epi64(l, 4),
                                                    _mm512_and_si512(_mm512_srlv_epi64(hb, down), bits45), low4, 0xec);
    }
    q6z_transpose(x->q);
    x->sc = q6z_lane_order(_mm512_cvtepi8_epi32(_mm_loadu_si128((const __m128i *)(const void *)blk->scales)));
}

VNNI static inline __attribute__((always_inline)) void q6z_prepare(const struct block_q8_k *ab, struct q6z_act *y)
{
#pragma GCC unroll 4
    for (int m = 0; m < 4; m++)
        y->q[m] = _mm512_loadu_si512((const void *)(ab->qs + 64 * m));
    q6z_transpose(y->q);
    __m512i bs = q6z_lane_order(_mm512_cvtepi16_epi32(load256(ab->bsums)));
    y->start = _mm512_sub_epi32(_mm512_setzero_si512(), _mm512_slli_epi32(bs, 5));
}

VNNI void gemm_q8_k_expand_one_vnni(const struct block_q8_k *a, int64_t nb, struct gemm_q8k_one *x)
{
    const __m512i halves = _mm512_setr_epi32(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1);
    for (int64_t b = 0; b < nb; b++) {
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++)
#pragma GCC unroll 2
            for (int h = 0; h < 2; h++)
#pragma GCC unroll 4
                for (int k = 0; k < 4; k++) {
                    const int8_t *q = a[b].qs + 64 * c + 32 * h + 8 * k;
                    __m128i w = _mm_loadl_epi64((const __m128i *)(const void *)q);
                    _mm512_store_si512(x[b].q[c][k][h], _mm512_permutexvar_epi32(halves, _mm512_castsi128_si512(w)));
                }
        struct q6z_act y;
        q6z_prepare(&a[b], &y);
#pragma GCC unroll 4
        for (int m = 0; m < 4; m++)
            _mm512_store_si512(x[b].q6[m], y.q[m]);
        _mm512_store_si512(x[b].q6[4], y.start);
        for (int i = 0; i < 4; i++) { /* int16 pair sums, as q4k_tile's */
            uint32_t lo = (uint16_t)(int16_t)(a[b].bsums[4 * i] + a[b].bsums[4 * i + 1]);
            uint32_t hi = (uint16_t)(int16_t)(a[b].bsums[4 * i + 2] + a[b].bsums[4 * i + 3]);
            x[b].mins[i] = (int32_t)(lo | hi << 16);
        }
        x[b].d = a[b].d;
    }
}

/* 16 int32 lanes summing to the row's isum of the super-block. */
VNNI static inline __attribute__((always_inline)) __m512i q6z_dot(const struct q6z_row *x, const struct q6z_act *y)
{
    __m512i s = y->start;
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++)
        s = _mm512_dpbusd_epi32(s, x->q[j], y->q[j]);
    return _mm512_mullo_epi32(s, x->sc);
}

/* The first two levels of the tree: 128-bit lane c of the result holds the
 * 4 rows v[0..3], each the sum of the 4 words of its own lane c. */
VNNI static inline __attribute__((always_inline)) __m512i q6z_sum4(const __m512i v[4])
{
    __m512i u0 = _mm512_add_epi32(_mm512_unpacklo_epi32(v[0], v[1]), _mm512_unpackhi_epi32(v[0], v[1]));
    __m512i u1 = _mm512_add_epi32(_mm512_unpacklo_epi32(v[2], v[3]), _mm512_unpackhi_epi32(v[2], v[3]));
    return _mm512_add_epi32(_mm512_unpacklo_epi64(u0, u1), _mm512_unpackhi_epi64(u0, u1));
}

/* 128-bit lanes (a0 + a1, a2 + a3, b0 + b1, b2 + b3) of a and b */
VNNI static inline __m512i q6z_fold(__m512i a, __m512i b)
{
    return _mm512_add_epi32(_mm512_shuffle_i32x4(a, b, _MM_SHUFFLE(2, 0, 2, 0)),
                            _mm512_shuffle_i32x4(a, b, _MM_SHUFFLE(3, 1, 3, 1)));
}

/* Lane r of the result (r < R, R = 8 or 16) is the sum of the 16 lanes of
 * v[r]; with R = 8 the upper 8 lanes repeat the lower. */
VNNI static inline __attribute__((always_inline)) __m512i q6z_sum_rows(const __m512i *v, const int R)
{
    if (R == 8) {
        __m512i p = q6z_fold(q6z_sum4(v), q6z_sum4(v + 4));
        return q6z_fold(p, p);
    }
    __m512i p0 = q6z_fold(q6z_sum4(v), q6z_sum4(v + 4));
    __m512i p1 = q6z_fold(q6z_sum4(v + 8), q6z_sum4(v + 12));
    return q6z_fold(p0, p1);
}

/* The fp16 super-block scales of R rows as floats (lanes r < R). */
VNNI static inline __attribute__((always_inline)) __m512 q6z_scales(const uint16_t *d, const int R)
{
    __m256i h = R == 16 ? load256(d) : _mm256_zextsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)d));
    return _mm512_cvtph_ps(h);
}

/* acc += (dw * da) * (float)isum, lane-wise, each operation rounded. */
VNNI static inline __m512 q6z_acc(__m512 acc, __m512 dw, float da, __m512i isum)
{
    __m512 d = _mm512_mul_ps(dw, _mm512_set1_ps(da));
    __m512 term = _mm512_mul_ps(d, _mm512_cvtepi32_ps(isum));
    return _mm512_add_ps(acc, term);
}

VNNI static inline __attribute__((always_inline)) void q6z_store(float *out, __m512 acc, const int R)
{
    if (R == 16)
        _mm512_storeu_ps(out, acc);
    else
        _mm256_storeu_ps(out, _mm512_castps512_ps256(acc));
}

/* Tokens t0 .. t0 + nt - 1 (nt <= Q6Z_TILE), the R rows side by side. */
VNNI static inline __attribute__((always_inline)) void q6z_tile(const uint8_t *rows, size_t rb, int64_t nb,
                                                                const struct block_q8_k *a, size_t a_stride, int t0,
                                                                int nt, float *out, size_t out_stride, const int R)
{
    struct q6z_row x[16];
    uint16_t d[16];
    __m512 acc[Q6Z_TILE];
    for (int t = 0; t < nt; t++)
        acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
#pragma GCC unroll 16
        for (int r = 0; r < R; r++) {
            const struct block_q6_k *blk = (const struct block_q6_k *)(const void *)(rows + (size_t)r * rb) + b;
            q6p_prefetch(blk, Q6P_AHEAD);
            q6z_decode(blk, &x[r]);
            d[r] = blk->d;
        }
        __m512 dw = q6z_scales(d, R);
        for (int t = 0; t < nt; t++) {
            const struct block_q8_k *ab = &a[(size_t)(t0 + t) * a_stride + (size_t)b];
            struct q6z_act y;
            q6z_prepare(ab, &y);
            __m512i v[16];
#pragma GCC unroll 16
            for (int r = 0; r < R; r++)
                v[r] = q6z_dot(&x[r], &y);
            acc[t] = q6z_acc(acc[t], dw, ab->d, q6z_sum_rows(v, R));
        }
    }
    for (int t = 0; t < nt; t++)
        q6z_store(out + (size_t)(t0 + t) * out_stride, acc[t], R);
}

/* Up to Q6P_ROW_TOK tokens, the R rows one after the other: per pass, ch
 * super-blocks of every row, each row's vectors kept until all R are done. */
VNNI static inline __attribute__((always_inline)) void q6z_rows(const uint8_t *rows, size_t rb, int64_t nb,
                                                                const struct block_q8_k *a, size_t a_stride, int nt,
                                                                float *out, size_t out_stride, const int R,
                                                                const struct gemm_q8k_one *one)
{
    enum { PAIRS = Q6Z_ROW_VECS / 8 };
    struct q6z_act y[PAIRS];             /* token t, super-block b0 + b at t * ch + b ... */
    const struct q6z_act *yp[PAIRS];     /* ... or where one holds it prepared */
    __m512i isv[Q6Z_ROW_VECS];           /* the same order, times R, plus the row */
    uint16_t d[PAIRS][16];               /* [b][row] */
    __m512 acc[Q6P_ROW_TOK];
    int ch = Q6Z_ROW_VECS / R / nt;
    for (int t = 0; t < nt; t++)
        acc[t] = _mm512_setzero_ps();
    for (int64_t b0 = 0; b0 < nb; b0 += ch) {
        int cb = nb - b0 < ch ? (int)(nb - b0) : ch;
        for (int t = 0; t < nt; t++)
            for (int b = 0; b < cb; b++) {
                if (one) { /* one token, prepared once for every row */
                    yp[b] = (const struct q6z_act *)(const void *)one[b0 + b].q6;
                    continue;
                }
                q6z_prepare(&a[(size_t)t * a_stride + (size_t)(b0 + b)], &y[t * ch + b]);
                yp[t * ch + b] = &y[t * ch + b];
            }
        for (int r = 0; r < R; r++) {
            const struct block_q6_k *row = (const struct block_q6_k *)(const void *)(rows + (size_t)r * rb) + b0;
            for (int b = 0; b < cb; b++) {
                struct q6z_row x;
                stream_prefetch(&row[b], (int)sizeof row[b]); /* a few tokens: a stream (simd.h) */
                q6z_decode(&row[b], &x);
                d[b][r] = row[b].d;
                for (int t = 0; t < nt; t++)
                    isv[(t * ch + b) * R + r] = q6z_dot(&x, yp[t * ch + b]);
            }
        }
        for (int b = 0; b < cb; b++) {
            __m512 dw = q6z_scales(d[b], R);
            for (int t = 0; t < nt; t++)
                acc[t] = q6z_acc(acc[t], dw, a[(size_t)t * a_stride + (size_t)(b0 + b)].d,
                                 q6z_sum_rows(&isv[(t * ch + b) * R], R));
        }
    }
    for (int t = 0; t < nt; t++)
        q6z_store(out + (size_t)t * out_stride, acc[t], R);
}

VNNI static inline __attribute__((always_inline)) void q6z_gemm(const void *w, size_t rb, const struct block_q8_k *a,
                                                                size_t a_stride, int n_tok, int64_t n, float *out,
                                                                size_t out_stride, const int R,
                                                                const struct gemm_q8k_one *one)
{
    if (n_tok <= 0)
        return;
    if (n_tok <= Q6P_ROW_TOK) {
        q6z_rows(w, rb, n / QK_K, a, a_stride, n_tok, out, out_stride, R, n_tok == 1 ? one : NULL);
        return;
    }
    for (int t0 = 0; t0 < n_tok; t0 += Q6Z_TILE) {
        int nt = n_tok - t0 < Q6Z_TILE ? n_tok - t0 : Q6Z_TILE;
        q6z_tile(w, rb, n / QK_K, a, a_stride, t0, nt, out, out_stride, R);
    }
}

/* One token through GEMM_STREAMS groups of 8 plain rows at once, their
 * super-blocks alternating, so a thread keeps that many streams in flight.
 * Each group is read whole rows at a time, row after row, so each stream runs
 * through its group's bytes in memory order, and each super-block prefetches
 * Q6S_AHEAD bytes further on (past the group's end: the group that follows
 * in memory, the stream's next group in forward.c's order).
 *
 * q6z_rows instead reads a group in passes of a few super-blocks (row 0's
 * run, row 1's, ...), keeping every row's 16-lane vector until the pass is
 * done. With rows longer than a pass (the 1B shape's ffn_down, 32
 * super-blocks) that made 8 short runs far apart per stream, and the kernel
 * streamed at 0.70-0.82x the rate of a plain 8-stream read of the same
 * buffer (throwaway 2-thread probe, n 8192, 3 interleaved runs); whole rows:
 * 0.88-0.94x. In the engine (1B Q4_K_M, tg32, 3 runs each of a build
 * switching the two forms, its hashes not printed; in whole-run A/Bs of the
 * same switch the tg hash 937b22a6aa71be72 every run) the Q6_K ffn_down streamed at 0.92-0.95x the rate of
 * the Q4_K gate/up job of the same run before, 1.06-1.08x after; and the
 * output matrix (rows of 8 super-blocks, the same read order either way)
 * at 1.08-1.10x, 1.15-1.17x after, the lighter sums below being the only
 * difference there.
 *
 * Each row's vector of a super-block (q6z_dot) is folded to 4 lanes at once
 * and kept, [b][r]; after a chunk of Q6S_CHUNK super-blocks, super-block by
 * super-block, a row's 4 lanes add up to its isum and the float part runs as
 * q6z_rows runs it. The isum is the same integer in any order of adds, so
 * the bits are q6z_rows'. */
#define Q6S_CHUNK 64                                       /* super-blocks a chunk: 32 KiB of partial sums */
#define Q6S_AHEAD (2 * 8 * (int)sizeof(struct block_q6_k)) /* prefetch distance a stream, bytes */

VNNI static inline __m128i q6s_fold4(__m512i v)
{
    __m256i h = _mm256_add_epi32(_mm512_castsi512_si256(v), _mm512_extracti64x4_epi64(v, 1));
    return _mm_add_epi32(_mm256_castsi256_si128(h), _mm256_extracti128_si256(h, 1));
}

/* Lane r (r < 8; lanes 8-15 repeat them) of the result is the sum of the 4
 * words of p[r]. */
VNNI static inline __m512i q6s_sum8(const __m128i p[8])
{
    __m512i z0 = _mm512_loadu_si512((const void *)&p[0]), z1 = _mm512_loadu_si512((const void *)&p[4]);
    z0 = _mm512_add_epi32(z0, _mm512_shuffle_epi32(z0, _MM_PERM_BADC));
    z1 = _mm512_add_epi32(z1, _mm512_shuffle_epi32(z1, _MM_PERM_BADC));
    z0 = _mm512_add_epi32(z0, _mm512_shuffle_epi32(z0, _MM_PERM_CDAB));
    z1 = _mm512_add_epi32(z1, _mm512_shuffle_epi32(z1, _MM_PERM_CDAB));
    const __m512i firsts = _mm512_setr_epi32(0, 4, 8, 12, 16, 20, 24, 28, 0, 4, 8, 12, 16, 20, 24, 28);
    return _mm512_permutex2var_epi32(z0, firsts, z1);
}

VNNI void gemm_q6_k_one_streams_vnni(const void *const w[GEMM_STREAMS], int64_t n, const struct gemm_q8k_one *one,
                                     float *const out[GEMM_STREAMS])
{
    enum { S = GEMM_STREAMS };
    int64_t nb = n / QK_K;
    size_t rb = (size_t)nb * sizeof(struct block_q6_k);
    __m128i part[S][Q6S_CHUNK][8];
    uint16_t d[S][Q6S_CHUNK][8];
    __m512 acc[S];
    for (int s = 0; s < S; s++)
        acc[s] = _mm512_setzero_ps();
    for (int64_t b0 = 0; b0 < nb; b0 += Q6S_CHUNK) {
        int cb = nb - b0 < Q6S_CHUNK ? (int)(nb - b0) : Q6S_CHUNK;
        for (int r = 0; r < 8; r++) {
            const struct block_q6_k *row[S];
            for (int s = 0; s < S; s++)
                row[s] = (const struct block_q6_k *)(const void *)((const uint8_t *)w[s] + (size_t)r * rb) + b0;
            for (int b = 0; b < cb; b++) {
                const struct q6z_act *y = (const struct q6z_act *)(const void *)one[b0 + b].q6;
#pragma GCC unroll 4
                for (int s = 0; s < S; s++) {
                    struct q6z_row x;
                    stream_prefetch_at(&row[s][b], (int)sizeof row[s][b], Q6S_AHEAD);
                    q6z_decode(&row[s][b], &x);
                    d[s][b][r] = row[s][b].d;
                    part[s][b][r] = q6s_fold4(q6z_dot(&x, y));
                }
            }
        }
        for (int b = 0; b < cb; b++)
            for (int s = 0; s < S; s++)
                acc[s] = q6z_acc(acc[s], q6z_scales(d[s][b], 8), one[b0 + b].d, q6s_sum8(part[s][b]));
    }
    for (int s = 0; s < S; s++)
        q6z_store(out[s], acc[s], 8);
}

VNNI void gemm_q6_k_plain8_vnni(const void *w, size_t rb, const struct block_q8_k *a, size_t a_stride, int n_tok,
                                int64_t n, float *out, size_t out_stride,
                                const struct gemm_q8k_one *one)
{
    q6z_gemm(w, rb, a, a_stride, n_tok, n, out, out_stride, 8, one);
}

VNNI void gemm_q6_k_plain16_vnni(const void *w, size_t rb, const struct block_q8_k *a, size_t a_stride, int n_tok,
                                 int64_t n, float *out, size_t out_stride,
                                 const struct gemm_q8k_one *one)
{
    q6z_gemm(w, rb, a, a_stride, n_tok, n, out, out_stride, 16, one);
}
