/* gemm_x86.c: the fast forms of gemm.h's 8 rows x n_tok products,
 * bit-identical to the _ref dots: repacked groups token by token through the
 * AVX2 8-row dots; repacked groups up to 16 tokens per step with AVX-512
 * VNNI (256-bit vpdpbusd), and two Q4_0 or Q4_K groups at once in 512-bit
 * registers; 8 plain Q4_0 / Q8_0 rows (AVX2 and VNNI).
 *
 * The integer block dots are exact (u8 x s8 products summed in 32-bit lanes);
 * the float part repeats the ref statements per lane: scale = d_w * d_a,
 * term = scale * (float)isum, acc += term, blocks in order, never fused.
 * Q4_0: isum = sum(nibble * a) - 8 * sum(a); Q8_0: sum(|w| * (a * sign(w))). */
#include "kernels/gemm.h"

#include <stddef.h>
#include <string.h>

#include "kernels/repack.h"
#include "kernels/x86/simd.h"

/* ---- repacked groups, AVX2: token by token through the 8-row dots -------- */

static void scatter(const float r8[REPACK_ROWS], float *out)
{
    for (int r = 0; r < REPACK_ROWS; r++)
        out[r] = r8[r];
}

void gemm_q4_0_8rows_avx2(const void *w, const struct block_q8_0 *a, size_t a_stride, int n_tok, int64_t n,
                          float *out, size_t out_stride)
{
    float r8[REPACK_ROWS];
    for (int t = 0; t < n_tok; t++) {
        repack_dot8_q4_0_q8_0_avx2(w, a + (size_t)t * a_stride, n, r8);
        scatter(r8, out + (size_t)t * out_stride);
    }
}

void gemm_q8_0_8rows_avx2(const void *w, const struct block_q8_0 *a, size_t a_stride, int n_tok, int64_t n,
                          float *out, size_t out_stride)
{
    float r8[REPACK_ROWS];
    for (int t = 0; t < n_tok; t++) {
        repack_dot8_q8_0_q8_0_avx2(w, a + (size_t)t * a_stride, n, r8);
        scatter(r8, out + (size_t)t * out_stride);
    }
}

void gemm_q4_k_8rows_avx2(const void *w, const struct block_q8_k *a, size_t a_stride, int n_tok, int64_t n,
                          float *out, size_t out_stride)
{
    float r8[REPACK_ROWS];
    for (int t = 0; t < n_tok; t++) {
        repack_dot8_q4_k_q8_k_avx2(w, a + (size_t)t * a_stride, n, r8);
        scatter(r8, out + (size_t)t * out_stride);
    }
}

/* ---- repacked groups, VNNI: tiles of tokens -------------------------------- */

#define TILE 4

/* acc + the dot of the 4 unsigned bytes of each lane of w with the 4 signed
 * bytes at p, broadcast from memory inside the multiply-add (EVEX {1to8}):
 * one instruction and no broadcast register. GCC does not fold
 * _mm256_set1_epi32 of a load into vpdpbusd, hence the asm. */
VNNI static inline __m256i dp_bc(__m256i acc, __m256i w, const int8_t *p)
{
    __asm__("vpdpbusd %2%{1to8%}, %1, %0" : "+v"(acc) : "v"(w), "m"(*(const int32_t(*)[1])(const void *)p));
    return acc;
}

/* Block b of Q4_0 x Q8_0 for one token: the 8 rows' exact integer dots less
 * 8 x the sum of the activation's quants (neg8, the chains' start), the 8
 * multiply-adds in two independent chains (integer sums: any order). */
VNNI static inline __m256i q4_block_isum(const __m256i lo[4], const __m256i hi[4], const int8_t *q, const int32_t *neg8)
{
    __m256i d0 = _mm256_set1_epi32(*neg8), d1 = _mm256_setzero_si256();
    d0 = dp_bc(d0, lo[0], q + 0);
    d1 = dp_bc(d1, hi[0], q + 16);
    d0 = dp_bc(d0, lo[1], q + 4);
    d1 = dp_bc(d1, hi[1], q + 20);
    d0 = dp_bc(d0, lo[2], q + 8);
    d1 = dp_bc(d1, hi[2], q + 24);
    d0 = dp_bc(d0, lo[3], q + 12);
    d1 = dp_bc(d1, hi[3], q + 28);
    return _mm256_add_epi32(d0, d1);
}

/* acc += (d_w * d_a) * (float)isum, lane-wise: the ref's float statements. */
VNNI static inline __m256 block_acc(__m256 acc, __m256 dw, float da, __m256i isum)
{
    __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(da));
    return _mm256_add_ps(acc, _mm256_mul_ps(scale, _mm256_cvtepi32_ps(isum)));
}

VNNI static inline __attribute__((always_inline)) void q4_decode(const struct block_q4_0x8 *wb, __m256i lo[4],
                                                                 __m256i hi[4])
{
    const __m256i low4 = _mm256_set1_epi8(0x0f);
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) {
        __m256i v = _mm256_loadu_si256((const __m256i *)(const void *)(wb->qs + 32 * k));
        lo[k] = _mm256_and_si256(v, low4);
        hi[k] = _mm256_and_si256(_mm256_srli_epi16(v, 4), low4);
    }
}

/* T tokens from t0 (T a constant 1..16 at each call site: the loops unroll and
 * the accumulators stay in registers); the decoded block serves all T. The
 * activations are block-major (gemm.h): the T tokens' blocks b sit side by
 * side, one pointer per block and constant offsets per token. */
VNNI static inline __attribute__((always_inline)) void q4_tile(const struct block_q4_0x8 *w, int64_t nb,
                                                               const struct block_q8_0 *a, const float *ad,
                                                               const int32_t *neg8, size_t n_all, int t0,
                                                               const int T, float *out, size_t out_stride)
{
    __m256 c[16];
#pragma GCC unroll 16
    for (int t = 0; t < T; t++)
        c[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m256i lo[4], hi[4];
        if (T < 4) /* a few tokens: a stream (simd.h) */
            stream_prefetch(&w[b], (int)sizeof w[b]);
        q4_decode(&w[b], lo, hi);
        __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)w[b].d));
        size_t o = (size_t)b * n_all + (size_t)t0;
        const struct block_q8_0 *ab = a + o;
        const float *adb = ad + o;
        const int32_t *nb8 = neg8 + o;
#pragma GCC unroll 16
        for (int t = 0; t < T; t++)
            c[t] = block_acc(c[t], dw, adb[t], q4_block_isum(lo, hi, ab[t].qs, &nb8[t]));
    }
#pragma GCC unroll 16
    for (int t = 0; t < T; t++)
        _mm256_storeu_ps(out + (size_t)(t0 + t) * out_stride, c[t]);
}

VNNI void gemm_q4_0_8rows_vnni(const void *wv, const struct block_q8_0 *a, const float *ad, const int32_t *neg8,
                               int n_tok, int64_t n, float *out, size_t out_stride)
{
    const struct block_q4_0x8 *w = wv;
    int64_t nb = n / QK4_0;
    size_t n_all = (size_t)n_tok;
    int t0 = 0;
    for (; t0 + 16 <= n_tok; t0 += 16)
        q4_tile(w, nb, a, ad, neg8, n_all, t0, 16, out, out_stride);
    for (; t0 + 8 <= n_tok; t0 += 8)
        q4_tile(w, nb, a, ad, neg8, n_all, t0, 8, out, out_stride);
    for (; t0 + 4 <= n_tok; t0 += 4)
        q4_tile(w, nb, a, ad, neg8, n_all, t0, 4, out, out_stride);
    /* the last 1..3 tokens in one tile: one more pass over the weights, not one per token */
    if (n_tok - t0 == 3)
        q4_tile(w, nb, a, ad, neg8, n_all, t0, 3, out, out_stride);
    else if (n_tok - t0 == 2)
        q4_tile(w, nb, a, ad, neg8, n_all, t0, 2, out, out_stride);
    else if (t0 < n_tok)
        q4_tile(w, nb, a, ad, neg8, n_all, t0, 1, out, out_stride);
}

/* One token through GEMM_STREAMS repacked groups at once, their loads
 * alternating (as many streams a thread, each prefetched STREAM_AHEAD /
 * GEMM_STREAMS ahead: see q4k_one_runs): for each group q4_tile's statements
 * with T = 1, so its bits. */
VNNI void gemm_q4_0_one_streams_vnni(const void *const wv[GEMM_STREAMS], const struct block_q8_0 *a, const float *ad,
                                     const int32_t *neg8, int64_t n, float *const out[GEMM_STREAMS])
{
    enum { S = GEMM_STREAMS };
    const struct block_q4_0x8 *w[S];
    __m256 c[S];
    for (int g = 0; g < S; g++) {
        w[g] = wv[g];
        c[g] = _mm256_setzero_ps();
    }
    int64_t nb = n / QK4_0;
    for (int64_t b = 0; b < nb; b++) {
#pragma GCC unroll 4
        for (int g = 0; g < S; g++) {
            __m256i lo[4], hi[4];
            stream_prefetch_at(&w[g][b], (int)sizeof w[g][b], STREAM_AHEAD / S);
            q4_decode(&w[g][b], lo, hi);
            __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)w[g][b].d));
            c[g] = block_acc(c[g], dw, ad[b], q4_block_isum(lo, hi, a[b].qs, &neg8[b]));
        }
    }
    for (int g = 0; g < S; g++)
        _mm256_storeu_ps(out[g], c[g]);
}

/* ---- two repacked groups at once, AVX-512 ----------------------------------
 * The same statements on 16 lanes: lanes 0-7 are the rows of group g, lanes
 * 8-15 those of group g + 1 (the next nb blocks in memory), so each lane
 * still computes one row's ref sum in the ref's order and the bits do not
 * change; one instruction does the work of two. The 16 results of a token
 * are 16 consecutive outputs. */

/* acc + w . (the 4 signed bytes at p, in all 16 lanes) */
VNNI static inline __m512i dp_bc16(__m512i acc, __m512i w, const int8_t *p)
{
    __asm__("vpdpbusd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(w), "m"(*(const int32_t(*)[1])(const void *)p));
    return acc;
}

VNNI static inline __m512i join256(const void *p0, const void *p1)
{
    return _mm512_inserti64x4(_mm512_castsi256_si512(_mm256_loadu_si256((const __m256i *)p0)),
                              _mm256_loadu_si256((const __m256i *)p1), 1);
}

VNNI static inline __attribute__((always_inline)) void q4_tile16(const struct block_q4_0x8 *w0,
                                                                 const struct block_q4_0x8 *w1, int64_t nb,
                                                                 const struct block_q8_0 *a, const float *ad,
                                                                 const int32_t *neg8, size_t n_all, int t0,
                                                                 const int T, float *out, size_t out_stride)
{
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    __m512 c[16];
#pragma GCC unroll 16
    for (int t = 0; t < T; t++)
        c[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m512i lo[4], hi[4];
#pragma GCC unroll 4
        for (int k = 0; k < 4; k++) {
            __m512i v = join256(w0[b].qs + 32 * k, w1[b].qs + 32 * k);
            lo[k] = _mm512_and_si512(v, low4);
            hi[k] = _mm512_and_si512(_mm512_srli_epi32(v, 4), low4); /* 32-bit shift: the mask keeps each byte's own high nibble */
        }
        __m256i d16 = _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)w0[b].d)),
                                              _mm_loadu_si128((const __m128i *)(const void *)w1[b].d), 1);
        __m512 dw = _mm512_cvtph_ps(d16);
        size_t o = (size_t)b * n_all + (size_t)t0;
        const struct block_q8_0 *ab = a + o;
        const float *adb = ad + o;
        const int32_t *nb8 = neg8 + o;
#pragma GCC unroll 16
        for (int t = 0; t < T; t++) {
            const int8_t *q = ab[t].qs;
            /* one chain: the T tokens' chains are independent, which is
             * parallelism enough (integer sums: any order) */
            __m512i d = _mm512_set1_epi32(nb8[t]);
            d = dp_bc16(d, lo[0], q + 0);
            d = dp_bc16(d, hi[0], q + 16);
            d = dp_bc16(d, lo[1], q + 4);
            d = dp_bc16(d, hi[1], q + 20);
            d = dp_bc16(d, lo[2], q + 8);
            d = dp_bc16(d, hi[2], q + 24);
            d = dp_bc16(d, lo[3], q + 12);
            d = dp_bc16(d, hi[3], q + 28);
            __m512 scale = _mm512_mul_ps(dw, _mm512_set1_ps(adb[t]));
            c[t] = _mm512_add_ps(c[t], _mm512_mul_ps(scale, _mm512_cvtepi32_ps(d)));
        }
    }
#pragma GCC unroll 16
    for (int t = 0; t < T; t++)
        _mm512_storeu_ps(out + (size_t)(t0 + t) * out_stride, c[t]);
}

VNNI void gemm_q4_0_16rows_vnni(const void *wv, const struct block_q8_0 *a, const float *ad, const int32_t *neg8,
                                int n_tok, int64_t n, float *out, size_t out_stride)
{
    int64_t nb = n / QK4_0;
    const struct block_q4_0x8 *w0 = wv, *w1 = w0 + nb;
    size_t n_all = (size_t)n_tok;
    int t0 = 0;
    for (; t0 + 16 <= n_tok; t0 += 16)
        q4_tile16(w0, w1, nb, a, ad, neg8, n_all, t0, 16, out, out_stride);
    for (; t0 + 8 <= n_tok; t0 += 8)
        q4_tile16(w0, w1, nb, a, ad, neg8, n_all, t0, 8, out, out_stride);
    for (; t0 + 4 <= n_tok; t0 += 4)
        q4_tile16(w0, w1, nb, a, ad, neg8, n_all, t0, 4, out, out_stride);
    /* the last 1..3 tokens in one tile: one more pass over the weights, not one per token */
    if (n_tok - t0 == 3)
        q4_tile16(w0, w1, nb, a, ad, neg8, n_all, t0, 3, out, out_stride);
    else if (n_tok - t0 == 2)
        q4_tile16(w0, w1, nb, a, ad, neg8, n_all, t0, 2, out, out_stride);
    else if (t0 < n_tok)
        q4_tile16(w0, w1, nb, a, ad, neg8, n_all, t0, 1, out, out_stride);
}

/* Q8_0: the weights are signed, so each byte is read as w + 128 (xor 0x80,
 * unsigned 0..255) and the chain starts at -128 x sum(a) = 16 x neg8:
 * sum((w + 128) a) - 128 sum(a) = sum(w a), exactly (|sum| < 2^21). */
VNNI static inline __attribute__((always_inline)) void q8_tile(const struct block_q8_0x8 *w, int64_t nb,
                                                               const struct block_q8_0 *a, const float *ad,
                                                               const int32_t *neg8, size_t n_all, int t0,
                                                               const int T, float *out, size_t out_stride)
{
    const __m256i flip = _mm256_set1_epi8((char)0x80);
    __m256 c[16];
#pragma GCC unroll 16
    for (int t = 0; t < T; t++)
        c[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        __m256i wu[8];
#pragma GCC unroll 8
        for (int k = 0; k < 8; k++)
            wu[k] = _mm256_xor_si256(_mm256_loadu_si256((const __m256i *)(const void *)(w[b].qs + 32 * k)), flip);
        __m256 dw = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)w[b].d));
        size_t o = (size_t)b * n_all + (size_t)t0;
        const struct block_q8_0 *ab = a + o;
        const float *adb = ad + o;
        const int32_t *nb8 = neg8 + o;
#pragma GCC unroll 16
        for (int t = 0; t < T; t++) {
            const int8_t *q = ab[t].qs;
            __m256i d0 = _mm256_slli_epi32(_mm256_set1_epi32(nb8[t]), 4), d1 = _mm256_setzero_si256();
#pragma GCC unroll 4
            for (int k = 0; k < 8; k += 2) {
                d0 = dp_bc(d0, wu[k], q + 4 * k);
                d1 = dp_bc(d1, wu[k + 1], q + 4 * k + 4);
            }
            c[t] = block_acc(c[t], dw, adb[t], _mm256_add_epi32(d0, d1));
        }
    }
#pragma GCC unroll 16
    for (int t = 0; t < T; t++)
        _mm256_storeu_ps(out + (size_t)(t0 + t) * out_stride, c[t]);
}

VNNI void gemm_q8_0_8rows_vnni(const void *wv, const struct block_q8_0 *a, const float *ad, const int32_t *neg8,
                               int n_tok, int64_t n, float *out, size_t out_stride)
{
    const struct block_q8_0x8 *w = wv;
    int64_t nb = n / QK8_0;
    size_t n_all = (size_t)n_tok;
    int t0 = 0;
    for (; t0 + 16 <= n_tok; t0 += 16)
        q8_tile(w, nb, a, ad, neg8, n_all, t0, 16, out, out_stride);
    for (; t0 + 8 <= n_tok; t0 += 8)
        q8_tile(w, nb, a, ad, neg8, n_all, t0, 8, out, out_stride);
    for (; t0 + 4 <= n_tok; t0 += 4)
        q8_tile(w, nb, a, ad, neg8, n_all, t0, 4, out, out_stride);
    /* the last 1..3 tokens in one tile: one more pass over the weights, not one per token */
    if (n_tok - t0 == 3)
        q8_tile(w, nb, a, ad, neg8, n_all, t0, 3, out, out_stride);
    else if (n_tok - t0 == 2)
        q8_tile(w, nb, a, ad, neg8, n_all, t0, 2, out, out_stride);
    else if (t0 < n_tok)
        q8_tile(w, nb, a, ad, neg8, n_all, t0, 1, out, out_stride);
}

/* ---- Q4_K ---------------------------------------------------------------------
 * Per super-block the 8 rows' 6-bit scales and mins are unpacked once
 * (int32 lanes, lane r = row r) and each sub-block's nibbles are decoded once
 * for all T tokens. Sub-block j's exact dot s (|s| < 2^16) goes through
 * vpdpbusd; isum += s * sc[j] (vpmulld); the mins term sum_j m[j] * (bsum
 * pair j) goes through vpdpwssd with the mins of sub-blocks 2i, 2i + 1 as the
 * int16 halves of each lane against the two bsum pairs (each within int16).
 * The float part is the ref's per lane: d = fp16(d) * a.d, dm = fp16(dmin) *
 * a.d, t = d * isum, tm = dm * msum, acc += t - tm. */

struct q4k_scales {
    __m256i sc[8]; /* sub-block scales, int32 per row */
    __m256i mp[4]; /* mins of sub-blocks 2i (low int16) and 2i + 1 (high int16) */
};

VNNI static inline void q4k_unpack(const struct block_q4_kx8 *wb, struct q4k_scales *s)
{
    const __m256i m63 = _mm256_set1_epi32(63), m15 = _mm256_set1_epi32(15);
    __m256i B[12], m[8];
    for (int i = 0; i < 12; i++)
        B[i] = _mm256_cvtepu8_epi32(_mm_loadl_epi64((const __m128i *)(const void *)(wb->scales + 8 * i)));
    for (int j = 0; j < 8; j++) {
        if (j < 4) {
            s->sc[j] = _mm256_and_si256(B[j], m63);
            m[j] = _mm256_and_si256(B[j + 4], m63);
        } else {
            s->sc[j] = _mm256_or_si256(_mm256_and_si256(B[j + 4], m15), _mm256_slli_epi32(_mm256_srli_epi32(B[j - 4], 6), 4));
            m[j] = _mm256_or_si256(_mm256_srli_epi32(B[j + 4], 4), _mm256_slli_epi32(_mm256_srli_epi32(B[j], 6), 4));
        }
    }
    for (int i = 0; i < 4; i++)
        s->mp[i] = _mm256_or_si256(m[2 * i], _mm256_slli_epi32(m[2 * i + 1], 16));
}

VNNI static inline __attribute__((always_inline)) void q4k_tile(const struct block_q4_kx8 *w, int64_t nb,
                                                                const struct block_q8_k *a, size_t a_stride, int t0,
                                                                const int T, float *out, size_t out_stride)
{
    const __m256i low4 = _mm256_set1_epi8(0x0f);
    __m256 acc[8];
#pragma GCC unroll 8
    for (int t = 0; t < T; t++)
        acc[t] = _mm256_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        const struct block_q4_kx8 *wb = &w[b];
        struct q4k_scales s;
        q4k_unpack(wb, &s);
        __m256i isum[8];
#pragma GCC unroll 8
        for (int t = 0; t < T; t++)
            isum[t] = _mm256_setzero_si256();
        for (int j = 0; j < 8; j++) {
            /* sub-block j: nibble half j % 2 of chunks 8 (j / 2) .. + 7 */
            const uint8_t *qs = wb->qs + 32 * 8 * (j / 2);
            __m256i nib[8];
            if (j % 2) {
#pragma GCC unroll 8
                for (int k = 0; k < 8; k++)
                    nib[k] = _mm256_and_si256(
                        _mm256_srli_epi16(_mm256_loadu_si256((const __m256i *)(const void *)(qs + 32 * k)), 4), low4);
            } else {
#pragma GCC unroll 8
                for (int k = 0; k < 8; k++)
                    nib[k] = _mm256_and_si256(_mm256_loadu_si256((const __m256i *)(const void *)(qs + 32 * k)), low4);
            }
#pragma GCC unroll 8
            for (int t = 0; t < T; t++) {
                const int8_t *q = a[(size_t)(t0 + t) * a_stride + (size_t)b].qs + 32 * j;
                __m256i d0 = _mm256_setzero_si256(), d1 = _mm256_setzero_si256();
#pragma GCC unroll 4
                for (int k = 0; k < 8; k += 2) {
                    d0 = dp_bc(d0, nib[k], q + 4 * k);
                    d1 = dp_bc(d1, nib[k + 1], q + 4 * k + 4);
                }
                isum[t] = _mm256_add_epi32(isum[t], _mm256_mullo_epi32(_mm256_add_epi32(d0, d1), s.sc[j]));
            }
        }
        __m256 wd = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)wb->d));
        __m256 wm = _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)wb->dmin));
#pragma GCC unroll 8
        for (int t = 0; t < T; t++) {
            const struct block_q8_k *ab = &a[(size_t)(t0 + t) * a_stride + (size_t)b];
            __m256i msum = _mm256_setzero_si256();
            for (int i = 0; i < 4; i++) {
                uint32_t lo = (uint16_t)(int16_t)(ab->bsums[4 * i] + ab->bsums[4 * i + 1]);
                uint32_t hi = (uint16_t)(int16_t)(ab->bsums[4 * i + 2] + ab->bsums[4 * i + 3]);
                msum = _mm256_dpwssd_epi32(msum, s.mp[i], _mm256_set1_epi32((int32_t)(lo | hi << 16)));
            }
            __m256 da = _mm256_set1_ps(ab->d);
            __m256 d = _mm256_mul_ps(wd, da), dm = _mm256_mul_ps(wm, da);
            __m256 tt = _mm256_mul_ps(d, _mm256_cvtepi32_ps(isum[t]));
            __m256 tm = _mm256_mul_ps(dm, _mm256_cvtepi32_ps(msum));
            acc[t] = _mm256_add_ps(acc[t], _mm256_sub_ps(tt, tm));
        }
    }
#pragma GCC unroll 8
    for (int t = 0; t < T; t++)
        _mm256_storeu_ps(out + (size_t)(t0 + t) * out_stride, acc[t]);
}

/* ---- Q4_K, two repacked groups at once, AVX-512 -----------------------------
 * q4k_tile's statements on 16 lanes, lanes 0-7 the rows of group g and 8-15
 * those of group g + 1 (nb super-blocks further in memory), as for Q4_0
 * above: each lane still runs one row's ref arithmetic, so the bits are the
 * 8-row kernel's. Tiles of up to 16 tokens (the 8-row kernel's 8: its
 * 256-bit registers leave no room for more), so each decoded sub-block serves
 * twice the tokens. Only 32-bit lane operations (shifts, masks, vpmulld) and
 * the VNNI dots: nothing here needs AVX-512 BW. */

struct q4k_scales16 {
    __m512i sc[8]; /* sub-block scales, int32 per row */
    __m512i mp[4]; /* mins of sub-blocks 2i (low int16) and 2i + 1 (high int16) */
};

/* Byte i of the 16 rows' packed scales (8 of each group), widened. */
VNNI static inline __m512i q4k_scale_bytes16(const struct block_q4_kx8 *w0, const struct block_q4_kx8 *w1, int i)
{
    __m128i v = _mm_unpacklo_epi64(_mm_loadl_epi64((const __m128i *)(const void *)(w0->scales + 8 * i)),
                                   _mm_loadl_epi64((const __m128i *)(const void *)(w1->scales + 8 * i)));
    return _mm512_cvtepu8_epi32(v);
}

/* Sub-block j's scales (j < 8) of the 16 rows, as q4k_unpack16 gives them. */
VNNI static inline __m512i q4k_scale16(const struct block_q4_kx8 *w0, const struct block_q4_kx8 *w1, int j)
{
    const __m512i m63 = _mm512_set1_epi32(63), m15 = _mm512_set1_epi32(15);
    if (j < 4)
        return _mm512_and_si512(q4k_scale_bytes16(w0, w1, j), m63);
    return _mm512_or_si512(_mm512_and_si512(q4k_scale_bytes16(w0, w1, j + 4), m15),
                           _mm512_slli_epi32(_mm512_srli_epi32(q4k_scale_bytes16(w0, w1, j - 4), 6), 4));
}

/* Sub-block j's mins, likewise. */
VNNI static inline __m512i q4k_min16(const struct block_q4_kx8 *w0, const struct block_q4_kx8 *w1, int j)
{
    const __m512i m63 = _mm512_set1_epi32(63);
    if (j < 4)
        return _mm512_and_si512(q4k_scale_bytes16(w0, w1, j + 4), m63);
    return _mm512_or_si512(_mm512_srli_epi32(q4k_scale_bytes16(w0, w1, j + 4), 4),
                           _mm512_slli_epi32(_mm512_srli_epi32(q4k_scale_bytes16(w0, w1, j), 6), 4));
}

/* Mins of sub-blocks 2i (low int16) and 2i + 1 (high int16). */
VNNI static inline __m512i q4k_min_pair16(const struct block_q4_kx8 *w0, const struct block_q4_kx8 *w1, int i)
{
    return _mm512_or_si512(q4k_min16(w0, w1, 2 * i), _mm512_slli_epi32(q4k_min16(w0, w1, 2 * i + 1), 16));
}

VNNI static inline void q4k_unpack16(const struct block_q4_kx8 *w0, const struct block_q4_kx8 *w1,
                                     struct q4k_scales16 *s)
{
#pragma GCC unroll 8
    for (int j = 0; j < 8; j++)
        s->sc[j] = q4k_scale16(w0, w1, j);
#pragma GCC unroll 4
    for (int i = 0; i < 4; i++)
        s->mp[i] = q4k_min_pair16(w0, w1, i);
}

/* The two groups' 8 fp16 scales (d or dmin, at byte offset off of each
 * super-block) as 16 floats. */
VNNI static inline __m512 q4k_halves16(const struct block_q4_kx8 *w0, const struct block_q4_kx8 *w1, size_t off)
{
    __m256i h = _mm256_inserti128_si256(
        _mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)(const void *)((const uint8_t *)w0 + off))),
        _mm_loadu_si128((const __m128i *)(const void *)((const uint8_t *)w1 + off)), 1);
    return _mm512_cvtph_ps(h);
}

/* The activation's 8 bsum pairs (bsums[2j] + bsums[2j + 1], within +-4096:
 * exact in int16), pairs 2i and 2i + 1 as the low and high halves of
 * out[i]: the words q4k_tile builds one by one, with two instructions. */
VNNI static inline void q4k_bsum_pairs(const struct block_q8_k *ab, int32_t out[4])
{
    __m256i s = _mm256_madd_epi16(load256(ab->bsums), _mm256_set1_epi16(1));
    _mm_storeu_si128((__m128i *)(void *)out, _mm_packs_epi32(_mm256_castsi256_si128(s), _mm256_extracti128_si256(s, 1)));
}

/* acc + w . (the int16 pair at p, in all 16 lanes), as dp_bc16 */
VNNI static inline __m512i dpw_bc16(__m512i acc, __m512i w, const int32_t *p)
{
    __asm__("vpdpwssd %2%{1to16%}, %1, %0" : "+v"(acc) : "v"(w), "m"(*(const int32_t(*)[1])(const void *)p));
    return acc;
}

VNNI static inline __attribute__((always_inline)) void q4k_tile16(const struct block_q4_kx8 *w0,
                                                                  const struct block_q4_kx8 *w1, int64_t nb,
                                                                  const struct block_q8_k *a, size_t a_stride, int t0,
                                                                  const int T, float *out, size_t out_stride)
{
    const __m512i low4 = _mm512_set1_epi8(0x0f);
    __m512 acc[16];
#pragma GCC unroll 16
    for (int t = 0; t < T; t++)
        acc[t] = _mm512_setzero_ps();
    for (int64_t b = 0; b < nb; b++) {
        struct q4k_scales16 s;
        q4k_unpack16(&w0[b], &w1[b], &s);
        __m512i isum[16];
#pragma GCC unroll 16
        for (int t = 0; t < T; t++)
            isum[t] = _mm512_setzero_si512();
        for (int j = 0; j < 8; j++) {
            /* sub-block j: nibble half j % 2 of chunks 8 (j / 2) .. + 7 of each group */
            const uint8_t *qs0 = w0[b].qs + 32 * 8 * (j / 2), *qs1 = w1[b].qs + 32 * 8 * (j / 2);
            __m512i nib[8];
            if (j % 2) {
#pragma GCC unroll 8
                for (int k = 0; k < 8; k++) /* 32-bit shift: the mask keeps each byte's own high nibble */
                    nib[k] = _mm512_and_si512(_mm512_srli_epi32(join256(qs0 + 32 * k, qs1 + 32 * k), 4), low4);
            } else {
#pragma GCC unroll 8
                for (int k = 0; k < 8; k++)
                    nib[k] = _mm512_and_si512(join256(qs0 + 32 * k, qs1 + 32 * k), low4);
            }
#pragma GCC unroll 16
            for (int t = 0; t < T; t++) {
                const int8_t *q = a[(size_t)(t0 + t) * a_stride + (size_t)b].qs + 32 * j;
                __m512i d0 = _mm512_setzero_si512(), d1 = _mm512_setzero_si512();
#pragma GCC unroll 4
                for (int k = 0; k < 8; k += 2) {
                    d0 = dp_bc16(d0, nib[k], q + 4 * k);
                    d1 = dp_bc16(d1, nib[k + 1], q + 4 * k + 4);
                }
                isum[t] = _mm512_add_epi32(isum[t], _mm512_mullo_epi32(_mm512_add_epi32(d0, d1), s.sc[j]));
            }
        }
        __m512 wd = q4k_halves16(&w0[b], &w1[b], offsetof(struct block_q4_kx8, d));
        __m512 wm = q4k_halves16(&w0[b], &w1[b], offsetof(struct block_q4_kx8, dmin));
#pragma GCC unroll 16
        for (int t = 0; t < T; t++) {
            const struct block_q8_k *ab = &a[(size_t)(t0 + t) * a_stride + (size_t)b];
            __m512i msum = _mm512_setzero_si512();
            int32_t pairs[4];
            q4k_bsum_pairs(ab, pairs);
            for (int i = 0; i < 4; i++)
                msum = dpw_bc16(msum, s.mp[i], &pairs[i]);
            __m512 da = _mm512_set1_ps(ab->d);
            __m512 d = _mm512_mul_ps(wd, da), dm = _mm512_mul_ps(wm, da);
            __m512 tt = _mm512_mul_ps(d, _mm512_cvtepi32_ps(isum[t]));
            __m512 tm = _mm512_mul_ps(dm, _mm512_cvtepi32_ps(msum));
            acc[t] = _mm512_add_ps(acc[t], _mm512_sub_ps(tt, tm));
        }
    }
#pragma GCC unroll 16
    for (int t = 0; t < T; t++)
        _mm512_storeu_ps(out + (size_t)(t0 + t) * out_stride, acc[t]);
}

/* The scales (*sc) and mins (*mn) of sub-blocks 2c and 2c + 1 of a
 * group's 8 rows, as bytes: row r's of sub-block 2c at byte r, of 2c + 1 at
 * byte 8 + r. The byte-major packed scales (repack.h) hold byte i of row r
 * at 8i + r, so the two sub-blocks' bytes i sit side by side and 16 bytes
 * decode at once: q4k_unpack's values. Widened (one vpmovzxbd) and spread
 * to both halves of the row lanes (two vpermd), they replace the scales and
 * mins made per sub-block on 32-bit lanes: 699 vector instructions a
 * super-block of 4 streams against 795 (GCC 12 -O2). 1B Q4_K_M tg32, rate of
 * each Q4_K job against the Q6_K output matrix of the same run (8 pairs of
 * runs, both orders; the 4 runs of one order printed tg hash
 * 937b22a6aa71be72, and both builds give it): gate/up 0.889 ->
 * 0.915 on average (higher in all 8 pairs), QKV 0.809 -> 0.841, wo 0.822
 * -> 0.860, down 0.876 -> 0.899; the Q6_K ffn_down, which did not change,
 * 0.929 -> 0.930. */
VNNI static inline __attribute__((always_inline)) void q4k_pair_bytes(const struct block_q4_kx8 *wb, int c,
                                                                      __m128i *sc, __m128i *mn)
{
    const __m128i m63 = _mm_set1_epi8(63), m15 = _mm_set1_epi8(15), bits45 = _mm_set1_epi8(0x30);
    if (c < 2) { /* sub-blocks 0-3: bytes j and j + 4, low 6 bits */
        *sc = _mm_and_si128(_mm_loadu_si128((const __m128i *)(const void *)(wb->scales + 16 * c)), m63);
        *mn = _mm_and_si128(_mm_loadu_si128((const __m128i *)(const void *)(wb->scales + 32 + 16 * c)), m63);
        return;
    }
    /* sub-blocks 4-7: the low 4 bits from byte j + 4, the high 2 from the
     * top bits of byte j - 4 (scales) or j (mins); (a & c) | b: 0xec. A
     * 16-bit shift moves bits across bytes only where the masks drop them. */
    __m128i lo = _mm_loadu_si128((const __m128i *)(const void *)(wb->scales + 16 * (c - 2)));
    __m128i mid = _mm_loadu_si128((const __m128i *)(const void *)(wb->scales + 32 + 16 * (c - 2)));
    __m128i hi = _mm_loadu_si128((const __m128i *)(const void *)(wb->scales + 64 + 16 * (c - 2)));
    *sc = _mm_ternarylogic_epi32(hi, _mm_and_si128(_mm_srli_epi16(lo, 2), bits45), m15, 0xec);
    *mn = _mm_ternarylogic_epi32(_mm_srli_epi16(hi, 4), _mm_and_si128(_mm_srli_epi16(mid, 2), bits45), m15, 0xec);
}

/* One token through S repacked groups at once (S a constant: 1, or
 * GEMM_STREAMS), on 512-bit registers, reading each group's quants as
 * stored: a 64-byte load holds rows 0-7 of word 2k of a chunk and rows 0-7
 * of word 2k + 1, which the
 * expanded activation (gemm_q8k_one) matches without a shuffle. The low
 * nibbles serve sub-block 2c and the high ones 2c + 1, each through its own
 * vpdpbusd chain; the high nibbles are taken in place (v & 0xf0, 16 times
 * their value: no shift per load), the chain's sum (within +-16 * 30720)
 * shifted back exactly once per chunk. A chain's sum of 16 products of a
 * nibble and an int8 is within +-30720, an int16, so vpdpwssd multiplies it
 * by its sub-block scale (0-63, the lane's high int16 zero) and adds it to
 * isum exactly: one instruction where vpmulld and an add took three. Lanes r
 * and 8 + r take row r's scale, and their sum is row r's isum: q4k_tile's
 * integers, so its bits. The scales and mins of each pair of sub-blocks are
 * made where they are used (q4k_pair_bytes), not unpacked up front: nothing
 * spills. llvm-mca (icelake-server) put a super-block at 67 cycles, against
 * 88 for the form with a shift per load, vpmulld and the scales unpacked up
 * front (before q4k_pair_bytes).
 *
 * With S > 1 the groups' loads alternate: S streams a thread, each
 * prefetched STREAM_AHEAD / S ahead, so the lines in flight take no more of
 * L1 than one stream's (with the full distance each, a pair pushed the
 * activation row out of L1 and ran 0.84-0.9x from cache). On a host where
 * the latency of a miss bounds one stream (one stream 12.8, eight 18.7 GB/s),
 * pairs of far groups streamed a throwaway 151 MB Q4_K matrix 1.22-1.26x
 * faster than single groups, and 0.95-1.02x from cache (2 threads,
 * interleaved rounds, the same bits); the engine now runs S = GEMM_STREAMS
 * (4). Each line is prefetched where the line that far behind it is read:
 * the super-block's two lines of scales at its start, each line of quants
 * beside the load of the one STREAM_AHEAD / S before it. All 18 at the
 * start (a burst that holds the fill buffers while the arithmetic waits)
 * streamed the 1B Q4_K_M's gate/up job at 0.74-0.85x the rate of the Q6_K
 * output matrix of the same run, spread 0.82-0.90x (tg32, 5 pairs of runs
 * interleaved, each pair in the same order; a build switching the two
 * forms, its hashes not printed, the same bits by construction); twice
 * or three times the distance, spread or not, 0.78-0.84x. acc[g] continues
 * over nb super-blocks. */
VNNI static inline __attribute__((always_inline)) void q4k_one_runs(const struct block_q4_kx8 *const *w, const int S,
                                                                    int64_t nb, const struct gemm_q8k_one *x,
                                                                    __m256 *acc)
{
    const __m512i low4 = _mm512_set1_epi8(0x0f), high4 = _mm512_set1_epi8((char)0xf0);
    const __m512i first8 = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 0, 1, 2, 3, 4, 5, 6, 7);
    const __m512i last8 = _mm512_setr_epi32(8, 9, 10, 11, 12, 13, 14, 15, 8, 9, 10, 11, 12, 13, 14, 15);
    for (int64_t b = 0; b < nb; b++) {
        const struct gemm_q8k_one *xb = &x[b];
        __m512i isum[GEMM_STREAMS];
        __m256i msum[GEMM_STREAMS];
#pragma GCC unroll 4
        for (int g = 0; g < S; g++) { /* one token: streams (simd.h) */
            stream_prefetch_at(&w[g][b], (int)offsetof(struct block_q4_kx8, qs), STREAM_AHEAD / S);
            isum[g] = _mm512_setzero_si512();
            msum[g] = _mm256_setzero_si256();
        }
#pragma GCC unroll 4
        for (int c = 0; c < 4; c++) {
            __m512i dlo[GEMM_STREAMS], dhi[GEMM_STREAMS];
#pragma GCC unroll 4
            for (int g = 0; g < S; g++)
                dlo[g] = dhi[g] = _mm512_setzero_si512();
#pragma GCC unroll 4
            for (int k = 0; k < 4; k++) {
                __m512i x0 = _mm512_load_si512(xb->q[c][k][0]), x1 = _mm512_load_si512(xb->q[c][k][1]);
#pragma GCC unroll 4
                for (int g = 0; g < S; g++) {
                    stream_prefetch_at(w[g][b].qs + 32 * 8 * c + 64 * k, 64, STREAM_AHEAD / S);
                    __m512i v = _mm512_loadu_si512((const void *)(w[g][b].qs + 32 * 8 * c + 64 * k));
                    dlo[g] = _mm512_dpbusd_epi32(dlo[g], _mm512_and_si512(v, low4), x0);
                    dhi[g] = _mm512_dpbusd_epi32(dhi[g], _mm512_and_si512(v, high4), x1);
                }
            }
#pragma GCC unroll 4
            for (int g = 0; g < S; g++) {
                __m128i scb, mnb;
                q4k_pair_bytes(&w[g][b], c, &scb, &mnb);
                __m512i sc = _mm512_cvtepu8_epi32(scb); /* lanes 0-7 sub-block 2c, 8-15 2c + 1 */
                isum[g] = _mm512_dpwssd_epi32(_mm512_dpwssd_epi32(isum[g], dlo[g], _mm512_permutexvar_epi32(first8, sc)),
                                              _mm512_srai_epi32(dhi[g], 4), _mm512_permutexvar_epi32(last8, sc));
                /* row r's mins of 2c and 2c + 1 as the int16 halves of lane r */
                __m256i mp = _mm256_cvtepu8_epi16(_mm_unpacklo_epi8(mnb, _mm_srli_si128(mnb, 8)));
                msum[g] = _mm256_dpwssd_epi32(msum[g], mp, _mm256_set1_epi32(xb->mins[c]));
            }
        }
        __m256 da = _mm256_set1_ps(xb->d);
#pragma GCC unroll 4
        for (int g = 0; g < S; g++) {
            const struct block_q4_kx8 *wb = &w[g][b];
            __m256i is8 = _mm256_add_epi32(_mm512_castsi512_si256(isum[g]), _mm512_extracti64x4_epi64(isum[g], 1));
            __m256 d = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)wb->d)), da);
            __m256 dm = _mm256_mul_ps(_mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)wb->dmin)), da);
            __m256 tt = _mm256_mul_ps(d, _mm256_cvtepi32_ps(is8));
            __m256 tm = _mm256_mul_ps(dm, _mm256_cvtepi32_ps(msum[g]));
            acc[g] = _mm256_add_ps(acc[g], _mm256_sub_ps(tt, tm));
        }
    }
}

VNNI static __m256 q4k_one_run(const struct block_q4_kx8 *w, int64_t nb, const struct gemm_q8k_one *x, __m256 acc)
{
    q4k_one_runs(&w, 1, nb, x, &acc);
    return acc;
}

VNNI void gemm_q4_k_one_streams_vnni(const void *const wv[GEMM_STREAMS], int64_t n, const struct gemm_q8k_one *one,
                                     float *const out[GEMM_STREAMS])
{
    const struct block_q4_kx8 *w[GEMM_STREAMS];
    __m256 acc[GEMM_STREAMS];
    for (int g = 0; g < GEMM_STREAMS; g++) {
        w[g] = wv[g];
        acc[g] = _mm256_setzero_ps();
    }
    q4k_one_runs(w, GEMM_STREAMS, n / QK_K, one, acc);
    for (int g = 0; g < GEMM_STREAMS; g++)
        _mm256_storeu_ps(out[g], acc[g]);
}

/* Super-blocks a token without an expanded row expands at a time (on the
 * stack: 8 x 2112 bytes). */
#define Q4K_ONE_CHUNK 8

VNNI static void q4k_one(const struct block_q4_kx8 *w, int64_t nb, const struct block_q8_k *a,
                         const struct gemm_q8k_one *one, float *out)
{
    __m256 acc = _mm256_setzero_ps();
    if (one) {
        acc = q4k_one_run(w, nb, one, acc);
    } else {
        struct gemm_q8k_one x[Q4K_ONE_CHUNK];
        for (int64_t b0 = 0; b0 < nb; b0 += Q4K_ONE_CHUNK) {
            int64_t cb = nb - b0 < Q4K_ONE_CHUNK ? nb - b0 : Q4K_ONE_CHUNK;
            gemm_q8_k_expand_one_vnni(a + b0, cb, x);
            acc = q4k_one_run(w + b0, cb, x, acc);
        }
    }
    _mm256_storeu_ps(out, acc);
}

VNNI void gemm_q4_k_8rows_vnni(const void *wv, const struct block_q8_k *a, size_t a_stride, int n_tok, int64_t n,
                               float *out, size_t out_stride, const struct gemm_q8k_one *one)
{
    const struct block_q4_kx8 *w = wv;
    int64_t nb = n / QK_K;
    int t0 = 0;
    for (; t0 + 8 <= n_tok; t0 += 8)
        q4k_tile(w, nb, a, a_stride, t0, 8, out, out_stride);
    for (; t0 + 4 <= n_tok; t0 += 4)
        q4k_tile(w, nb, a, a_stride, t0, 4, out, out_stride);
    /* the last 2 or 3 tokens in one tile (one more pass over the weights, not
     * one per token); one token (generation) streams the group at memory
     * speed through q4k_one */
    if (n_tok - t0 == 3)
        q4k_tile(w, nb, a, a_stride, t0, 3, out, out_stride);
    else if (n_tok - t0 == 2)
        q4k_tile(w, nb, a, a_stride, t0, 2, out, out_stride);
    else if (t0 < n_tok)
        q4k_one(w, nb, a + (size_t)t0 * a_stride, n_tok == 1 ? one : NULL, out + (size_t)t0 * out_stride);
}

VNNI void gemm_q4_k_16rows_vnni(const void *wv, const struct block_q8_k *a, size_t a_stride, int n_tok, int64_t n,
                                float *out, size_t out_stride)
{
    int64_t nb = n / QK_K;
    const struct block_q4_kx8 *w0 = wv, *w1 = w0 + nb;
    int t0 = 0;
    for (; t0 + 16 <= n_tok; t0 += 16)
        q4k_tile16(w0, w1, nb, a, a_stride, t0, 16, out, out_stride);
    for (; t0 + 8 <= n_tok; t0 += 8)
        q4k_tile16(w0, w1, nb, a, a_stride, t0, 8, out, out_stride);
    for (; t0 + 4 <= n_tok; t0 += 4)
        q4k_tile16(w0, w1, nb, a, a_stride, t0, 4, out, out_stride);
    /* the last 1..3 tokens in one tile: one more pass over the weights, not one per token */
    if (n_tok - t0 == 3)
        q4k_tile16(w0, w1, nb, a, a_stride, t0, 3, out, out_stride);
    else if (n_tok - t0 == 2)
        q4k_tile16(w0, w1, nb, a, a_stride, t0, 2, out, out_stride);
    else if (t0 < n_tok)
        q4k_tile16(w0, w1, nb, a, a_stride, t0, 1, out, out_stride);
}

/* ---- 8 plain rows ------------------------------------------------------------
 * The rows are not interleaved: each row's block gives a vector of 8 partial
 * int32 sums, and a tree of horizontal adds turns the 8 rows' vectors into one
 * vector whose lane r is row r's exact block sum; the float part then runs
 * lane-wise as in the repacked kernels. */

/* lane r of the result = sum of the 8 lanes of v[r] */
AVX2 static inline __m256i reduce8x8(const __m256i v[8])
{
    __m256i h01 = _mm256_hadd_epi32(v[0], v[1]), h23 = _mm256_hadd_epi32(v[2], v[3]);
    __m256i h45 = _mm256_hadd_epi32(v[4], v[5]), h67 = _mm256_hadd_epi32(v[6], v[7]);
    __m256i h03 = _mm256_hadd_epi32(h01, h23), h47 = _mm256_hadd_epi32(h45, h67);
    return _mm256_add_epi32(_mm256_permute2x128_si256(h03, h47, 0x20), _mm256_permute2x128_si256(h03, h47, 0x31));
}

AVX2 static inline __m256 scales8(const uint8_t *rows, size_t rb, size_t b, size_t bb)
{
    uint16_t d[8];
    for (int r = 0; r < 8; r++)
        memcpy(&d[r], rows + (size_t)r * rb + b * bb, sizeof d[r]);
    return _mm256_cvtph_ps(_mm_loadu_si128((const __m128i *)(const void *)d));
}

/* Block b of the 8 rows, decoded once for every token: w[r] the unsigned
 * bytes the multiply-add takes (Q4_0: the nibbles, elements 0..15 then
 * 16..31; Q8_0: |w|), s[r] the signed Q8_0 weights for their signs. */
struct plain8_blk {
    __m256i w[8], s[8];
};

AVX2 static inline void plain8_decode_q4_0(const uint8_t *rows, size_t rb, int64_t b, struct plain8_blk *k)
{
    const __m128i low4 = _mm_set1_epi8(0x0f);
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++) {
        const struct block_q4_0 *blk = (const struct block_q4_0 *)(const void *)(rows + (size_t)r * rb) + b;
        __m128i q = _mm_loadu_si128((const __m128i *)(const void *)blk->qs);
        __m128i lo = _mm_and_si128(q, low4), hi = _mm_and_si128(_mm_srli_epi16(q, 4), low4);
        k->w[r] = _mm256_set_m128i(hi, lo);
    }
}

AVX2 static inline void plain8_decode_q8_0(const uint8_t *rows, size_t rb, int64_t b, struct plain8_blk *k)
{
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++) {
        const struct block_q8_0 *blk = (const struct block_q8_0 *)(const void *)(rows + (size_t)r * rb) + b;
        k->s[r] = _mm256_loadu_si256((const __m256i *)(const void *)blk->qs);
        k->w[r] = _mm256_sign_epi8(k->s[r], k->s[r]); /* |w|, -128 read as 128 */
    }
}

/* The sum of the 8 lanes of v, in every lane. */
AVX2 static inline __m256i splat_hsum(__m256i v)
{
    __m128i s4 = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0x4e));
    s4 = _mm_add_epi32(s4, _mm_shuffle_epi32(s4, 0xb1));
    return _mm256_broadcastd_epi32(s4);
}

/* The 8 rows' exact block dots with the activation bytes av, lane r = row r. */
AVX2 static inline __m256i plain8_isum_q4_0_avx2(const struct plain8_blk *k, __m256i av)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i v[8];
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++)
        v[r] = _mm256_madd_epi16(_mm256_maddubs_epi16(k->w[r], av), ones);
    __m256i s8 = _mm256_madd_epi16(_mm256_maddubs_epi16(_mm256_set1_epi8(8), av), ones);
    return _mm256_sub_epi32(reduce8x8(v), splat_hsum(s8));
}

AVX2 static inline __m256i plain8_isum_q8_0_avx2(const struct plain8_blk *k, __m256i av)
{
    const __m256i ones = _mm256_set1_epi16(1);
    __m256i v[8];
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++)
        v[r] = _mm256_madd_epi16(_mm256_maddubs_epi16(k->w[r], _mm256_sign_epi8(av, k->s[r])), ones);
    return reduce8x8(v);
}

/* As plain8_isum_q4_0_avx2, the block dots by vpdpbusd. */
VNNI static inline __m256i plain8_isum_q4_0_vnni(const struct plain8_blk *k, __m256i av)
{
    __m256i v[8];
#pragma GCC unroll 8
    for (int r = 0; r < 8; r++)
        v[r] = _mm256_dpbusd_epi32(_mm256_setzero_si256(), k->w[r], av);
    __m256i s = _mm256_dpbusd_epi32(_mm256_setzero_si256(), _mm256_set1_epi8(1), av);
    return _mm256_sub_epi32(reduce8x8(v), _mm256_slli_epi32(splat_hsum(s), 3));
}

/* One walker for the three forms: TILE tokens per pass, each block of the 8
 * rows decoded once (DECODE), its dots per token (ISUM), the ref's float
 * statements lane-wise. */
#define PLAIN8_KERNEL(NAME, ATTR, BLOCK, DECODE, ISUM)                                                                \
    ATTR void NAME(const void *wv, size_t rb, const struct block_q8_0 *a, size_t a_stride, int n_tok, int64_t n,     \
                   float *out, size_t out_stride)                                                                     \
    {                                                                                                                 \
        const uint8_t *rows = wv;                                                                                     \
        int64_t nb = n / 32;                                                                                          \
        for (int t0 = 0; t0 < n_tok; t0 += TILE) {                                                                    \
            int nt = n_tok - t0 < TILE ? n_tok - t0 : TILE;                                                           \
            __m256 acc[TILE];                                                                                         \
            for (int t = 0; t < TILE; t++)                                                                            \
                acc[t] = _mm256_setzero_ps();                                                                         \
            for (int64_t b = 0; b < nb; b++) {                                                                        \
                struct plain8_blk k;                                                                                  \
                DECODE(rows, rb, b, &k);                                                                              \
                __m256 dw = scales8(rows, rb, (size_t)b, sizeof(BLOCK));                                              \
                for (int t = 0; t < nt; t++) {                                                                        \
                    const struct block_q8_0 *ab = &a[(size_t)(t0 + t) * a_stride + (size_t)b];                       \
                    __m256i isum = ISUM(&k, _mm256_loadu_si256((const __m256i *)(const void *)ab->qs));               \
                    __m256 scale = _mm256_mul_ps(dw, _mm256_set1_ps(_cvtsh_ss(ab->d)));                               \
                    __m256 term = _mm256_mul_ps(scale, _mm256_cvtepi32_ps(isum));                                     \
                    acc[t] = _mm256_add_ps(acc[t], term);                                                             \
                }                                                                                                     \
            }                                                                                                         \
            for (int t = 0; t < nt; t++)                                                                              \
                _mm256_storeu_ps(out + (size_t)(t0 + t) * out_stride, acc[t]);                                        \
        }                                                                                                             \
    }

PLAIN8_KERNEL(gemm_q4_0_plain8_avx2, AVX2, struct block_q4_0, plain8_decode_q4_0, plain8_isum_q4_0_avx2)
PLAIN8_KERNEL(gemm_q8_0_plain8_avx2, AVX2, struct block_q8_0, plain8_decode_q8_0, plain8_isum_q8_0_avx2)
PLAIN8_KERNEL(gemm_q4_0_plain8_vnni, VNNI, struct block_q4_0, plain8_decode_q4_0, plain8_isum_q4_0_vnni)
