/* repack.c: the 8-row interleaved layout of repack.h, and its scalar kernels.
 *
 * Sections: geometry, the permutation (both directions share one walker that
 * maps each 4-byte chunk of a plain block to its interleaved place), the
 * scalar dot8 kernels (their AVX2 forms: kernels/x86). Q4_K has its own walker (its
 * super-block has d, dmin, 12 scale bytes and qs). The scalar kernels mirror
 * quant_dot_*_ref statement by statement, one lane per row. */
#include "kernels/repack.h"

#include <stddef.h>
#include <string.h>

/* ---- geometry ----------------------------------------------------------- */

int repack_supported(uint32_t type, int64_t n_rows, int64_t n_cols)
{
    int64_t blck;
    if (type == GGML_TYPE_Q4_0 || type == GGML_TYPE_Q8_0)
        blck = 32;
    else if (type == GGML_TYPE_Q4_K)
        blck = QK_K;
    else
        return 0;
    return n_rows > 0 && n_rows % REPACK_ROWS == 0 && n_cols > 0 && n_cols % blck == 0;
}

size_t repack_bytes(uint32_t type, int64_t n_rows, int64_t n_cols)
{
    if (!repack_supported(type, n_rows, n_cols))
        return 0;
    return (size_t)n_rows * quant_row_bytes(type, n_cols);
}

/* ---- the permutation ---------------------------------------------------- */

/* Walks every interleaved block of the matrix, copying between the plain
 * block (row r, block b) and its interleaved slot, in the direction asked. */
static void permute(uint32_t type, const uint8_t *src, uint8_t *dst, int64_t n_rows, int64_t n_cols,
                    int to_interleaved)
{
    size_t qs_bytes = type == GGML_TYPE_Q4_0 ? QK4_0 / 2 : QK8_0; /* per row-block */
    size_t blk_bytes = sizeof(uint16_t) + qs_bytes;
    size_t ilv_bytes = REPACK_ROWS * blk_bytes;
    int64_t nb = n_cols / 32;
    size_t row_bytes = (size_t)nb * blk_bytes;

    for (int64_t g = 0; g < n_rows / REPACK_ROWS; g++) {
        for (int64_t b = 0; b < nb; b++) {
            size_t ilv_off = ((size_t)g * (size_t)nb + (size_t)b) * ilv_bytes;
            for (int r = 0; r < REPACK_ROWS; r++) {
                size_t plain_off = ((size_t)g * REPACK_ROWS + (size_t)r) * row_bytes + (size_t)b * blk_bytes;
                /* scale: d[r] of the interleaved block */
                size_t d_off = ilv_off + (size_t)r * sizeof(uint16_t);
                /* quants: 4-byte chunk k of row r goes to qs[32k + 4r] */
                size_t qs_base = ilv_off + REPACK_ROWS * sizeof(uint16_t);
                if (to_interleaved)
                    memcpy(dst + d_off, src + plain_off, sizeof(uint16_t));
                else
                    memcpy(dst + plain_off, src + d_off, sizeof(uint16_t));
                for (size_t k = 0; k < qs_bytes / 4; k++) {
                    size_t p = plain_off + sizeof(uint16_t) + 4 * k;
                    size_t q = qs_base + 32 * k + 4 * (size_t)r;
                    if (to_interleaved)
                        memcpy(dst + q, src + p, 4);
                    else
                        memcpy(dst + p, src + q, 4);
                }
            }
        }
    }
}

/* Copies n bytes (a constant at every call, so the copy is inlined) between
 * the plain offset p and the interleaved offset i, in the direction asked. */
static inline void move(const uint8_t *src, uint8_t *dst, size_t p, size_t i, size_t n, int to_interleaved)
{
    if (to_interleaved)
        memcpy(dst + i, src + p, n);
    else
        memcpy(dst + p, src + i, n);
}

/* Q4_K: per (row r, super-block b), d and dmin go to d[r] and dmin[r], scale
 * byte i to scales[8i + r], and 4-byte chunk k of qs to qs[32k + 4r]. */
static void permute_q4_k(const uint8_t *src, uint8_t *dst, int64_t n_rows, int64_t n_cols, int to_interleaved)
{
    int64_t nb = n_cols / QK_K;
    for (int64_t g = 0; g < n_rows / REPACK_ROWS; g++) {
        for (int64_t b = 0; b < nb; b++) {
            size_t ilv = ((size_t)g * (size_t)nb + (size_t)b) * sizeof(struct block_q4_kx8);
            for (size_t r = 0; r < REPACK_ROWS; r++) {
                size_t pl = (((size_t)g * REPACK_ROWS + r) * (size_t)nb + (size_t)b) * sizeof(struct block_q4_k);
                move(src, dst, pl + offsetof(struct block_q4_k, d), ilv + offsetof(struct block_q4_kx8, d) + 2 * r, 2,
                     to_interleaved);
                move(src, dst, pl + offsetof(struct block_q4_k, dmin), ilv + offsetof(struct block_q4_kx8, dmin) + 2 * r,
                     2, to_interleaved);
                for (size_t i = 0; i < 12; i++)
                    move(src, dst, pl + offsetof(struct block_q4_k, scales) + i,
                         ilv + offsetof(struct block_q4_kx8, scales) + REPACK_ROWS * i + r, 1, to_interleaved);
                for (size_t k = 0; k < QK_K / 2 / 4; k++)
                    move(src, dst, pl + offsetof(struct block_q4_k, qs) + 4 * k,
                         ilv + offsetof(struct block_q4_kx8, qs) + 32 * k + 4 * r, 4, to_interleaved);
            }
        }
    }
}

void repack_matrix(uint32_t type, const void *src, void *dst, int64_t n_rows, int64_t n_cols)
{
    if (type == GGML_TYPE_Q4_K)
        permute_q4_k(src, dst, n_rows, n_cols, 1);
    else
        permute(type, src, dst, n_rows, n_cols, 1);
}

void repack_unpack_matrix(uint32_t type, const void *src, void *dst, int64_t n_rows, int64_t n_cols)
{
    if (type == GGML_TYPE_Q4_K)
        permute_q4_k(src, dst, n_rows, n_cols, 0);
    else
        permute(type, src, dst, n_rows, n_cols, 0);
}

/* ---- scalar dot8 kernels ------------------------------------------------ *
 * PLACED pins where the two heaviest of them (and their loops) start, 64-byte
 * aligned: with unchanged instructions (callgrind), their time moved by up
 * to 12 % from one build to the next as code elsewhere grew or shrank
 * (scripts/microbench-ab.py); pinned, builds compare. Same code, same bits. */
#if defined(__clang__) /* no optimize attribute: the function start alone */
#define PLACED __attribute__((aligned(64)))
#else
#define PLACED __attribute__((aligned(64), optimize("align-loops=32")))
#endif

PLACED void repack_dot8_q4_0_q8_0_ref(const struct block_q4_0x8 *w, const struct block_q8_0 *a, int64_t n,
                               float out[REPACK_ROWS])
{
    float acc[REPACK_ROWS] = {0};
    for (int64_t b = 0; b < n / QK4_0; b++) {
        float da = quant_fp16_to_fp32(a[b].d);
        for (int r = 0; r < REPACK_ROWS; r++) {
            int32_t isum = 0;
            for (int k = 0; k < 4; k++) {
                for (int i = 0; i < 4; i++) {
                    uint8_t q = w[b].qs[32 * k + 4 * r + i];
                    isum += ((int32_t)(q & 0x0f) - 8) * (int32_t)a[b].qs[4 * k + i];
                    isum += ((int32_t)(q >> 4) - 8) * (int32_t)a[b].qs[16 + 4 * k + i];
                }
            }
            float scale = quant_fp16_to_fp32(w[b].d[r]) * da;
            float term = scale * (float)isum;
            acc[r] += term;
        }
    }
    memcpy(out, acc, sizeof acc);
}

void repack_dot8_q8_0_q8_0_ref(const struct block_q8_0x8 *w, const struct block_q8_0 *a, int64_t n,
                               float out[REPACK_ROWS])
{
    float acc[REPACK_ROWS] = {0};
    for (int64_t b = 0; b < n / QK8_0; b++) {
        float da = quant_fp16_to_fp32(a[b].d);
        for (int r = 0; r < REPACK_ROWS; r++) {
            int32_t isum = 0;
            for (int k = 0; k < 8; k++)
                for (int i = 0; i < 4; i++)
                    isum += (int32_t)w[b].qs[32 * k + 4 * r + i] * (int32_t)a[b].qs[4 * k + i];
            float scale = quant_fp16_to_fp32(w[b].d[r]) * da;
            float term = scale * (float)isum;
            acc[r] += term;
        }
    }
    memcpy(out, acc, sizeof acc);
}

/* Row r of an interleaved Q4_K super-block mirrors quant_dot_q4_k_q8_k_ref:
 * the same integer sums (exact) and the same float statements. */
PLACED void repack_dot8_q4_k_q8_k_ref(const struct block_q4_kx8 *w, const struct block_q8_k *a, int64_t n,
                               float out[REPACK_ROWS])
{
    float acc[REPACK_ROWS] = {0};
    for (int64_t b = 0; b < n / QK_K; b++) {
        for (int r = 0; r < REPACK_ROWS; r++) {
            uint8_t raw[12], sc[8], m[8];
            for (int i = 0; i < 12; i++)
                raw[i] = w[b].scales[REPACK_ROWS * i + r];
            quant_q4_k_scale_min(raw, sc, m);
            int32_t isum = 0, msum = 0;
            for (int j = 0; j < 8; j++) {
                int shift = 4 * (j % 2);
                int32_t s = 0;
                /* plain byte 32 (j / 2) + 4 g + i of the row sits at
                 * 32 (8 (j / 2) + g) + 4 r + i: runs of 4 bytes */
                const uint8_t *qs = w[b].qs + 256 * (j / 2) + 4 * r;
                const int8_t *as = a[b].qs + 32 * j;
                for (int g = 0; g < 8; g++)
                    for (int i = 0; i < 4; i++)
                        s += ((qs[32 * g + i] >> shift) & 15) * (int32_t)as[4 * g + i];
                isum += (int32_t)sc[j] * s;
                msum += (int32_t)m[j] * ((int32_t)a[b].bsums[2 * j] + (int32_t)a[b].bsums[2 * j + 1]);
            }
            float d = quant_fp16_to_fp32(w[b].d[r]) * a[b].d;
            float dm = quant_fp16_to_fp32(w[b].dmin[r]) * a[b].d;
            float t = d * (float)isum;
            float tm = dm * (float)msum;
            float term = t - tm;
            acc[r] += term;
        }
    }
    memcpy(out, acc, sizeof acc);
}
