/* repack.c: the 8-row interleaved layout of repack.h, and its scalar kernels.
 *
 * Sections: geometry, the permutation (both directions share one walker that
 * maps each 4-byte chunk of a plain block to its interleaved place), the
 * scalar dot8 kernels, and the dispatchers. The scalar kernels mirror
 * quant_dot_*_ref statement by statement, one lane per row. */
#include "repack.h"

#include <string.h>

/* ---- geometry ----------------------------------------------------------- */

int repack_supported(uint32_t type, int64_t n_rows, int64_t n_cols)
{
    if (type != GGML_TYPE_Q4_0 && type != GGML_TYPE_Q8_0)
        return 0;
    return n_rows > 0 && n_rows % REPACK_ROWS == 0 && n_cols > 0 && n_cols % 32 == 0;
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

void repack_matrix(uint32_t type, const void *src, void *dst, int64_t n_rows, int64_t n_cols)
{
    permute(type, src, dst, n_rows, n_cols, 1);
}

void repack_unpack_matrix(uint32_t type, const void *src, void *dst, int64_t n_rows, int64_t n_cols)
{
    permute(type, src, dst, n_rows, n_cols, 0);
}

/* ---- scalar dot8 kernels ------------------------------------------------ */

void repack_dot8_q4_0_q8_0_ref(const struct block_q4_0x8 *w, const struct block_q8_0 *a, int64_t n,
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

/* ---- dispatch ----------------------------------------------------------- */

void repack_dot8_q4_0_q8_0(const struct block_q4_0x8 *w, const struct block_q8_0 *a, int64_t n,
                           float out[REPACK_ROWS])
{
    if (quant_use_fast())
        repack_dot8_q4_0_q8_0_avx2(w, a, n, out);
    else
        repack_dot8_q4_0_q8_0_ref(w, a, n, out);
}

void repack_dot8_q8_0_q8_0(const struct block_q8_0x8 *w, const struct block_q8_0 *a, int64_t n,
                           float out[REPACK_ROWS])
{
    if (quant_use_fast())
        repack_dot8_q8_0_q8_0_avx2(w, a, n, out);
    else
        repack_dot8_q8_0_q8_0_ref(w, a, n, out);
}
