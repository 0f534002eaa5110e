/* repack.h: an 8-row interleaved layout for Q4_0, Q8_0 and Q4_K weight
 * matrices, and the kernels that dot 8 rows at once with one Q8_0 (for Q4_K:
 * Q8_K) activation row.
 *
 * A matrix of n_rows x n_cols (n_rows a multiple of 8, n_cols of 32) is stored
 * as n_rows / 8 groups; group g holds rows 8g..8g+7 as nb = n_cols / 32
 * interleaved blocks, one per block index b, in order. Group g starts at byte
 * g * 8 * quant_row_bytes(type, n_cols), so the repacked matrix has exactly
 * the plain size and the same group offsets. One interleaved block:
 *
 *   block_q4_0x8 (144 bytes): u16 d[8]   the 8 rows' fp16 scales, row r at d[r]
 *                             u8 qs[128] 4 chunks of 32 bytes; chunk k holds
 *                                        bytes 4k..4k+3 of each row's qs, row r
 *                                        at qs[32k + 4r + i] = row_r.qs[4k + i]
 *   block_q8_0x8 (272 bytes): u16 d[8], then int8 qs[256] in 8 such chunks
 *
 * Nibble packing inside a byte is unchanged (low = element j, high = j + 16).
 * With 4 bytes per row in each 32-byte chunk, one AVX2 multiply-add against a
 * broadcast of 4 activation bytes yields the 8 rows' partial dots in the 8
 * 32-bit lanes, and the 8 scales convert to one float vector.
 *
 * Q4_K (n_cols a multiple of 256) groups 8 rows the same way, one
 * interleaved super-block per block index:
 *
 *   block_q4_kx8 (1152 bytes): u16 d[8], u16 dmin[8]   row r at [r]
 *                              u8 scales[96]  byte i of row r's packed scales
 *                                             at scales[8i + r] (byte-major)
 *                              u8 qs[1024]    32 chunks of 32 bytes, row r at
 *                                             qs[32k + 4r + i] = row_r.qs[4k + i]
 *
 * Byte-major scales let one load of 8 bytes feed the 6-bit unpacking of all
 * 8 rows; the qs chunks work as for Q4_0.
 *
 * Every out[r] of a dot8 kernel is bit-identical to quant_dot_*_ref on row r
 * in the plain layout: lane r visits the blocks in order and accumulates
 * acc += (d_w * d_a) * (float)isum exactly as quant.h documents (for Q4_K:
 * acc += t - tm as quant_k.h documents). */
#ifndef REPACK_H
#define REPACK_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/quant.h"
#include "kernels/quant_k.h"

#define REPACK_ROWS 8

struct block_q4_0x8 {
    uint16_t d[REPACK_ROWS];
    uint8_t qs[REPACK_ROWS * QK4_0 / 2];
};

struct block_q8_0x8 {
    uint16_t d[REPACK_ROWS];
    int8_t qs[REPACK_ROWS * QK8_0];
};

struct block_q4_kx8 {
    uint16_t d[REPACK_ROWS];
    uint16_t dmin[REPACK_ROWS];
    uint8_t scales[REPACK_ROWS * 12];
    uint8_t qs[REPACK_ROWS * QK_K / 2];
};

_Static_assert(sizeof(struct block_q4_kx8) == REPACK_ROWS * sizeof(struct block_q4_k),
               "block_q4_kx8 is 8 block_q4_k");
_Static_assert(sizeof(struct block_q4_0x8) == REPACK_ROWS * sizeof(struct block_q4_0),
               "block_q4_0x8 is 8 block_q4_0");
_Static_assert(sizeof(struct block_q8_0x8) == REPACK_ROWS * sizeof(struct block_q8_0),
               "block_q8_0x8 is 8 block_q8_0");

/* Whether a matrix of this type and shape can be repacked: Q4_0 or Q8_0 with
 * n_cols a positive multiple of 32, or Q4_K with n_cols a positive multiple
 * of 256; n_rows a positive multiple of 8. */
int repack_supported(uint32_t type, int64_t n_rows, int64_t n_cols);

/* Bytes of the repacked matrix (equal to the plain size), or 0 when
 * !repack_supported. */
size_t repack_bytes(uint32_t type, int64_t n_rows, int64_t n_cols);

/* Rewrites a plain row-major matrix at src into the interleaved layout at dst
 * (repack_bytes of them; no overlap). Requires repack_supported. */
void repack_matrix(uint32_t type, const void *src, void *dst, int64_t n_rows, int64_t n_cols);

/* The same bytes per type, AVX2 (kernels/x86; kernels.h hands them out as a
 * repacked row's kern_fns.repack). */
void repack_q4_0_avx2(const void *src, void *dst, int64_t n_rows, int64_t n_cols);
void repack_q8_0_avx2(const void *src, void *dst, int64_t n_rows, int64_t n_cols);
void repack_q4_k_avx2(const void *src, void *dst, int64_t n_rows, int64_t n_cols);

/* The inverse permutation: interleaved at src back to plain rows at dst. */
void repack_unpack_matrix(uint32_t type, const void *src, void *dst, int64_t n_rows, int64_t n_cols);

/* Dots the 8 rows of one group (w points at its first interleaved block) with
 * the activation row a of n elements (n_cols), writing row r's result to
 * out[r]. Scalar _ref form, and AVX2 form (kernels/x86; only at a SIMD level
 * the CPU has, kernels.h): the same bits, and the fast forms have the
 * preconditions of quant.h's fast kernels. The Q4_K forms take a Q8_K row
 * (quant_k.h: its bsums are read) and accept any weight and activation
 * bytes. gemm.h runs them over a batch of tokens. */
void repack_dot8_q4_0_q8_0_ref(const struct block_q4_0x8 *w, const struct block_q8_0 *a, int64_t n,
                               float out[REPACK_ROWS]);
void repack_dot8_q4_0_q8_0_avx2(const struct block_q4_0x8 *w, const struct block_q8_0 *a, int64_t n,
                                float out[REPACK_ROWS]);
void repack_dot8_q8_0_q8_0_ref(const struct block_q8_0x8 *w, const struct block_q8_0 *a, int64_t n,
                               float out[REPACK_ROWS]);
void repack_dot8_q8_0_q8_0_avx2(const struct block_q8_0x8 *w, const struct block_q8_0 *a, int64_t n,
                                float out[REPACK_ROWS]);
void repack_dot8_q4_k_q8_k_ref(const struct block_q4_kx8 *w, const struct block_q8_k *a, int64_t n,
                               float out[REPACK_ROWS]);
void repack_dot8_q4_k_q8_k_avx2(const struct block_q4_kx8 *w, const struct block_q8_k *a, int64_t n,
                                float out[REPACK_ROWS]);

#endif
