/* table.h: the tests' way into the kernel table (kernels/kernels.h): each
 * helper runs a kernel at the current SIMD level, as the engine does, so a
 * test can compare what the table hands out under kernels_cap_level with
 * the reference forms. Header-only; static inline, so unused ones cost
 * nothing. Include after cmocka.h (table_rows8 asserts its allocations). */
#ifndef TESTS_TABLE_H
#define TESTS_TABLE_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include "kernels/gemm.h"
#include "kernels/kernels.h"

/* from_float of `type` at the current level. */
static inline void table_from_float(uint32_t type, const float *x, void *y, int64_t n)
{
    kernels_fns(type, KERN_PLAIN)->from_float(x, y, n);
}

/* The one-row dot of a plain `type` row at the current level. */
static inline float table_dot(uint32_t type, const void *w, const void *a, int64_t n)
{
    return kernels_fns(type, KERN_PLAIN)->dot(w, a, n);
}

/* The 8-row kernel of (type, layout) at the current level, for n_tok
 * activation rows a_stride blocks apart: Q8_0 rows for Q4_0 / Q8_0, Q8_K
 * rows for the K-quants. The Q8_0 scales, offsets and block-major copy a
 * kernel may read, and the expanded one-token Q8_K row, are prepared here,
 * as the forward pass prepares them. */
static inline void table_rows8(uint32_t type, enum kern_layout layout, const void *w, size_t rb, const void *a,
                               size_t a_stride, int n_tok, int64_t n, float *out, size_t out_stride)
{
    const struct kern_row *k = kernels_row(type, layout);
    const struct kern_fns *f = &k->fn[kernels_level()];
    struct kern_act act = {.n_tok = n_tok};
    struct block_q8_0 *bm = NULL;
    float *ad = NULL, *bm_ad = NULL;
    int32_t *neg8 = NULL, *bm_neg8 = NULL;
    struct gemm_q8k_one *one = NULL;
    if (k->act_type == GGML_TYPE_Q8_K) {
        act.q8k = a;
        act.q8k_stride = a_stride;
        if (n_tok == 1 && f->expand_one) {
            one = aligned_alloc(_Alignof(struct gemm_q8k_one), sizeof *one * (size_t)(n / QK_K));
            assert_true(one != NULL);
            f->expand_one(a, n / QK_K, one);
            act.q8k_one = one;
        }
    } else {
        int64_t nb = n / QK8_0;
        size_t nt = (size_t)n_tok, nbs = (size_t)nb;
        const struct block_q8_0 *q = a;
        bm = malloc(sizeof *bm * nbs * nt);
        ad = malloc(sizeof *ad * nbs * nt), bm_ad = malloc(sizeof *bm_ad * nbs * nt);
        neg8 = malloc(sizeof *neg8 * nbs * nt), bm_neg8 = malloc(sizeof *bm_neg8 * nbs * nt);
        assert_true(bm && ad && bm_ad && neg8 && bm_neg8);
        for (int t = 0; t < n_tok; t++) {
            gemm_q8_0_prepare(q + (size_t)t * a_stride, nb, ad + (size_t)t * nbs, neg8 + (size_t)t * nbs);
            gemm_q8_0_to_block_major(q + (size_t)t * a_stride, ad + (size_t)t * nbs, neg8 + (size_t)t * nbs, t,
                                     n_tok, nb, bm, bm_ad, bm_neg8);
        }
        int block_major = f->block_major && n_tok > 1;
        act.q8 = q;
        act.q8_stride = a_stride;
        act.q8_bm = block_major ? bm : q;
        act.q8_bm_d = block_major ? bm_ad : ad;
        act.q8_bm_neg8 = block_major ? bm_neg8 : neg8;
    }
    f->rows8(w, rb, &act, n, out, out_stride);
    free(bm), free(ad), free(bm_ad), free(neg8), free(bm_neg8), free(one);
}

#endif
