/* repack_x86.c: AVX2 forms of the plain-to-interleaved permutation of
 * repack.h, byte-identical to repack_matrix.
 *
 * Every interleaved layout is made of the same move: 16 bytes from each of a
 * group's 8 rows (4 dwords each) become 4 chunks of 32 bytes, chunk k holding
 * dword k of rows 0..7 in order. That is a transpose of an 8 x 4 matrix of
 * dwords: rows r and r + 4 share a 256-bit register, and two rounds of
 * unpacks per 128-bit lane put the chunks in place. Q4_K's d, dmin and
 * scale bytes are the first 16 bytes of each row's super-block; a 16-bit and
 * an 8-bit transpose of them give d[8], dmin[8] and the byte-major scales.
 *
 * The reference walker moves 4 bytes at a time through index arithmetic and
 * made a load's repack compute-bound (2.1 GB/s on one thread against 4.4 for
 * this form, a 72 MB Q4_0 matrix, three rounds, the same bytes; perf put the
 * walker at a third of a 3B model's `complete -n 1`). */
#include "kernels/repack.h"

#include <immintrin.h>
#include <stddef.h>
#include <string.h>

#include "kernels/x86/simd.h"

/* 16 bytes at a in the low lane, 16 at b in the high one. */
AVX2 static inline __m256i pair(const uint8_t *a, const uint8_t *b)
{
    return _mm256_inserti128_si256(_mm256_castsi128_si256(_mm_loadu_si128((const __m128i *)a)),
                                   _mm_loadu_si128((const __m128i *)b), 1);
}

/* 16 bytes at row[r] + off for r = 0..7 to 4 chunks of 32 bytes at out. */
AVX2 static inline void chunks4(const uint8_t *const row[REPACK_ROWS], size_t off, uint8_t *out)
{
    __m256i y0 = pair(row[0] + off, row[4] + off), y1 = pair(row[1] + off, row[5] + off);
    __m256i y2 = pair(row[2] + off, row[6] + off), y3 = pair(row[3] + off, row[7] + off);
    /* per lane: t0 = r0k0 r1k0 r0k1 r1k1, t1 = r0k2 r1k2 r0k3 r1k3 (rows 2, 3 in t2, t3) */
    __m256i t0 = _mm256_unpacklo_epi32(y0, y1), t1 = _mm256_unpackhi_epi32(y0, y1);
    __m256i t2 = _mm256_unpacklo_epi32(y2, y3), t3 = _mm256_unpackhi_epi32(y2, y3);
    _mm256_storeu_si256((__m256i *)out, _mm256_unpacklo_epi64(t0, t2));
    _mm256_storeu_si256((__m256i *)(out + 32), _mm256_unpackhi_epi64(t0, t2));
    _mm256_storeu_si256((__m256i *)(out + 64), _mm256_unpacklo_epi64(t1, t3));
    _mm256_storeu_si256((__m256i *)(out + 96), _mm256_unpackhi_epi64(t1, t3));
}

/* The 8 rows' 16-bit words at row[r] + off, in row order, at out. */
static inline void words8(const uint8_t *const row[REPACK_ROWS], size_t off, uint8_t *out)
{
    for (int r = 0; r < REPACK_ROWS; r++)
        memcpy(out + 2 * r, row[r] + off, 2);
}

/* Q4_0 (18-byte blocks) and Q8_0 (34): d, then 16 or 32 quant bytes. */
AVX2 static void repack_q_0(const uint8_t *src, uint8_t *dst, int64_t n_rows, int64_t n_cols, size_t qs_bytes)
{
    size_t blk = 2 + qs_bytes, ilv = REPACK_ROWS * blk;
    int64_t nb = n_cols / 32;
    size_t rb = (size_t)nb * blk;
    for (int64_t g = 0; g < n_rows / REPACK_ROWS; g++) {
        const uint8_t *row[REPACK_ROWS];
        for (int r = 0; r < REPACK_ROWS; r++)
            row[r] = src + ((size_t)g * REPACK_ROWS + (size_t)r) * rb;
        uint8_t *o = dst + (size_t)g * REPACK_ROWS * rb;
        for (int64_t b = 0; b < nb; b++, o += ilv) {
            size_t p = (size_t)b * blk;
            words8(row, p, o);
            for (size_t q = 0; q < qs_bytes; q += 16)
                chunks4(row, p + 2 + q, o + 2 * REPACK_ROWS + 8 * q);
        }
    }
}

AVX2 void repack_q4_0_avx2(const void *src, void *dst, int64_t n_rows, int64_t n_cols)
{
    repack_q_0(src, dst, n_rows, n_cols, QK4_0 / 2);
}

AVX2 void repack_q8_0_avx2(const void *src, void *dst, int64_t n_rows, int64_t n_cols)
{
    repack_q_0(src, dst, n_rows, n_cols, QK8_0);
}

/* The head of 8 Q4_K super-blocks (u16 d, u16 dmin, 12 scale bytes each, a[r]
 * from row r) into d[8], dmin[8] and scales[96] of the interleaved block. */
AVX2 static inline void q4_k_head(const __m128i a[REPACK_ROWS], struct block_q4_kx8 *o)
{
    /* 16-bit: words 0 (d) and 1 (dmin) of the 8 rows */
    __m128i e0 = _mm_unpacklo_epi16(a[0], a[1]), e1 = _mm_unpacklo_epi16(a[2], a[3]);
    __m128i e2 = _mm_unpacklo_epi16(a[4], a[5]), e3 = _mm_unpacklo_epi16(a[6], a[7]);
    __m128i f0 = _mm_unpacklo_epi32(e0, e1), f1 = _mm_unpacklo_epi32(e2, e3);
    _mm_storeu_si128((__m128i *)o->d, _mm_unpacklo_epi64(f0, f1));
    _mm_storeu_si128((__m128i *)o->dmin, _mm_unpackhi_epi64(f0, f1));
    /* 8-bit: byte j of row r to t[8j + r]; scale byte i is byte 4 + i */
    __m128i b[8], c[8];
    for (int r = 0; r < 4; r++) {
        b[2 * r] = _mm_unpacklo_epi8(a[2 * r], a[2 * r + 1]);     /* bytes 0..7 of rows 2r, 2r+1 */
        b[2 * r + 1] = _mm_unpackhi_epi8(a[2 * r], a[2 * r + 1]); /* bytes 8..15 */
    }
    for (int h = 0; h < 2; h++) { /* rows 0..3, then 4..7 */
        const __m128i *u = b + 4 * h;
        c[4 * h + 0] = _mm_unpacklo_epi16(u[0], u[2]); /* bytes 0..3 of the 4 rows */
        c[4 * h + 1] = _mm_unpackhi_epi16(u[0], u[2]); /* bytes 4..7 */
        c[4 * h + 2] = _mm_unpacklo_epi16(u[1], u[3]); /* bytes 8..11 */
        c[4 * h + 3] = _mm_unpackhi_epi16(u[1], u[3]); /* bytes 12..15 */
    }
    for (int q = 1; q < 4; q++) { /* byte pairs (4, 5) .. (14, 15): t[32..127] */
        _mm_storeu_si128((__m128i *)(o->scales + 32 * (q - 1)), _mm_unpacklo_epi32(c[q], c[4 + q]));
        _mm_storeu_si128((__m128i *)(o->scales + 32 * (q - 1) + 16), _mm_unpackhi_epi32(c[q], c[4 + q]));
    }
}

AVX2 void repack_q4_k_avx2(const void *srcv, void *dstv, int64_t n_rows, int64_t n_cols)
{
    const uint8_t *src = srcv;
    struct block_q4_kx8 *dst = dstv;
    int64_t nb = n_cols / QK_K;
    size_t rb = (size_t)nb * sizeof(struct block_q4_k);
    for (int64_t g = 0; g < n_rows / REPACK_ROWS; g++) {
        const uint8_t *row[REPACK_ROWS];
        for (int r = 0; r < REPACK_ROWS; r++)
            row[r] = src + ((size_t)g * REPACK_ROWS + (size_t)r) * rb;
        for (int64_t b = 0; b < nb; b++) {
            struct block_q4_kx8 *o = dst + (size_t)g * (size_t)nb + (size_t)b;
            size_t p = (size_t)b * sizeof(struct block_q4_k);
            __m128i a[REPACK_ROWS];
            for (int r = 0; r < REPACK_ROWS; r++)
                a[r] = _mm_loadu_si128((const __m128i *)(row[r] + p));
            q4_k_head(a, o);
            for (size_t q = 0; q < QK_K / 2; q += 16)
                chunks4(row, p + offsetof(struct block_q4_k, qs) + q, o->qs + 8 * q);
        }
    }
}
