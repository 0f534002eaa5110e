/* vec.h: F32 and F16 weight rows dotted with an F32 activation row.
 *
 * Fixed order, shared by the scalar _ref and the AVX2 form (same bits): the
 * first n - n % 8 elements are summed in 8 lanes, lane j taking the elements
 * i = j (mod 8) in order (p = w[i] * x[i], lane = lane + p: never fused); the
 * lanes are added as ((l0+l4)+(l2+l6))+((l1+l5)+(l3+l7)); the last n % 8
 * products are then added one by one. F16 weights are widened exactly. */
#ifndef VEC_H
#define VEC_H

#include <stdint.h>

/* w: n F32 (vec_dot_f32_*) or F16 (vec_dot_f16_*) weights; x: n floats.
 * The AVX2 forms (kernels/x86/vec_x86.c) only at a SIMD level the CPU has
 * (kernels.h). */
float vec_dot_f32_ref(const void *w, const void *x, int64_t n);
float vec_dot_f16_ref(const void *w, const void *x, int64_t n);
float vec_dot_f32_avx2(const void *w, const void *x, int64_t n);
float vec_dot_f16_avx2(const void *w, const void *x, int64_t n);

/* e^x by the algorithm of ggml's x86 ggml_v_expf (its AVX-512 form, what
 * llama.cpp runs for SwiGLU on such CPUs): x = n ln2 + b with n an integer
 * (rounded through the 1.5 x 2^23 shift), e^b by a degree-5 polynomial in
 * fused multiply-adds, times 2^n rounded once; |n| > 192 gives +inf (n > 0)
 * or 0. Within 2.3 ulp of e^x; the same bits in every form. */
float vec_expf_ref(float x);

/* SwiGLU in place: g[i] = g[i] / (1 + vec_expf(0 - g[i])) * u[i], each
 * operation rounded in that order, as ggml's ggml_vec_swiglu_f32 (x86).
 * The AVX2 form (AVX2 + FMA) computes 8 elements at a time with the same
 * operations: the same bits. */
void vec_swiglu_ref(float *g, const float *u, int64_t n);
void vec_swiglu_avx2(float *g, const float *u, int64_t n);

#endif
