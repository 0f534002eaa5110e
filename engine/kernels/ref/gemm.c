/* gemm.c: the reference forms of gemm.h's 8-row x n_tok products, and the
 * activation preparation the VNNI kernels read.
 *
 * Repacked groups go token by token through the 8-row dot kernels
 * (repack.h), the group's weights staying in cache between tokens; plain
 * rows go through the one-row dots. The fast forms are in kernels/x86; the
 * kernel table (kernels.c) picks among them. */
#include "kernels/gemm.h"

#include "kernels/repack.h"

static void scatter(const float r8[REPACK_ROWS], float *out)
{
    for (int r = 0; r < REPACK_ROWS; r++)
        out[r] = r8[r];
}

void gemm_q8_0_prepare(const struct block_q8_0 *a, int64_t nb, float *ad, int32_t *neg8)
{
    for (int64_t b = 0; b < nb; b++) {
        int32_t s = 0;
        for (int i = 0; i < QK8_0; i++)
            s += a[b].qs[i];
        ad[b] = quant_fp16_to_fp32(a[b].d);
        neg8[b] = -8 * s;
    }
}

void gemm_q8_0_to_block_major(const struct block_q8_0 *a, const float *ad, const int32_t *neg8, int t, int n_tok,
                              int64_t nb, struct block_q8_0 *bm, float *bm_ad, int32_t *bm_neg8)
{
    for (int64_t b = 0; b < nb; b++) {
        size_t o = (size_t)b * (size_t)n_tok + (size_t)t;
        bm[o] = a[b];
        bm_ad[o] = ad[b];
        bm_neg8[o] = neg8[b];
    }
}

/* ---- repacked groups ------------------------------------------------------ */

void gemm_q4_0_8rows_ref(const void *w, const struct block_q8_0 *a, size_t a_stride, int n_tok, int64_t n,
                         float *out, size_t out_stride)
{
    float r8[REPACK_ROWS];
    for (int t = 0; t < n_tok; t++) {
        repack_dot8_q4_0_q8_0_ref(w, a + (size_t)t * a_stride, n, r8);
        scatter(r8, out + (size_t)t * out_stride);
    }
}

void gemm_q8_0_8rows_ref(const void *w, const struct block_q8_0 *a, size_t a_stride, int n_tok, int64_t n,
                         float *out, size_t out_stride)
{
    float r8[REPACK_ROWS];
    for (int t = 0; t < n_tok; t++) {
        repack_dot8_q8_0_q8_0_ref(w, a + (size_t)t * a_stride, n, r8);
        scatter(r8, out + (size_t)t * out_stride);
    }
}

void gemm_q4_k_8rows_ref(const void *w, const struct block_q8_k *a, size_t a_stride, int n_tok, int64_t n,
                         float *out, size_t out_stride)
{
    float r8[REPACK_ROWS];
    for (int t = 0; t < n_tok; t++) {
        repack_dot8_q4_k_q8_k_ref(w, a + (size_t)t * a_stride, n, r8);
        scatter(r8, out + (size_t)t * out_stride);
    }
}

/* ---- plain rows ----------------------------------------------------------- */

void gemm_q4_0_plain8_ref(const void *w, size_t rb, const struct block_q8_0 *a, size_t a_stride, int n_tok,
                          int64_t n, float *out, size_t out_stride)
{
    for (int t = 0; t < n_tok; t++)
        for (int r = 0; r < REPACK_ROWS; r++)
            out[(size_t)t * out_stride + (size_t)r] =
                quant_dot_q4_0_q8_0_ref((const uint8_t *)w + (size_t)r * rb, a + (size_t)t * a_stride, n);
}

void gemm_q8_0_plain8_ref(const void *w, size_t rb, const struct block_q8_0 *a, size_t a_stride, int n_tok,
                          int64_t n, float *out, size_t out_stride)
{
    for (int t = 0; t < n_tok; t++)
        for (int r = 0; r < REPACK_ROWS; r++)
            out[(size_t)t * out_stride + (size_t)r] =
                quant_dot_q8_0_q8_0_ref((const uint8_t *)w + (size_t)r * rb, a + (size_t)t * a_stride, n);
}

void gemm_q6_k_plain8_ref(const void *w, size_t rb, const struct block_q8_k *a, size_t a_stride, int n_tok,
                          int64_t n, float *out, size_t out_stride)
{
    for (int t = 0; t < n_tok; t++)
        for (int r = 0; r < REPACK_ROWS; r++)
            out[(size_t)t * out_stride + (size_t)r] =
                quant_dot_q6_k_q8_k_ref((const uint8_t *)w + (size_t)r * rb, a + (size_t)t * a_stride, n);
}
