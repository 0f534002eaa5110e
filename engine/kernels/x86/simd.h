/* simd.h: the target attributes of the x86 kernels, defined here once, and
 * the AVX2 helpers they share. Included by the files of kernels/x86 only,
 * which the build compiles on x86 alone (kernels.mk).
 *
 * The build has no -march: each x86 function carries one of these, and the
 * kernel table (kernels.c) hands it out only at a SIMD level the CPU has.
 *   AVX2  AVX2 + F16C (the KERN_AVX2 level, which also requires FMA)
 *   VNNI  AVX2 + F16C + AVX-512 VL + VNNI (the KERN_VNNI level)
 * Neither enables FMA, so nothing inlined into a kernel can contract its
 * float multiply-adds. */
#ifndef KERNELS_X86_SIMD_H
#define KERNELS_X86_SIMD_H

#if !defined(__x86_64__) && !defined(__i386__)
#error "kernels/x86/simd.h is for x86 builds only"
#endif

#include <immintrin.h>
#include <stdint.h>
#include <string.h>

#define AVX2 __attribute__((target("avx2,f16c")))
#define VNNI __attribute__((target("avx2,f16c,avx512vl,avx512vnni")))
/* AVX2 with FMA, for the few functions whose fused multiply-adds are written
 * out (vec_x86.c's exp): the ref forms make the same fmaf calls. The build's
 * -std=c11 keeps GCC from contracting anything else (-ffp-contract=off). */
#define AVX2_FMA __attribute__((target("avx2,f16c,fma")))

/* The sum of the 8 int32 lanes (wrapping, as the adds). */
AVX2 static inline int32_t hsum_i32(__m256i v)
{
    __m128i s = _mm_add_epi32(_mm256_castsi256_si128(v), _mm256_extracti128_si256(v, 1));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0x4e));
    s = _mm_add_epi32(s, _mm_shuffle_epi32(s, 0xb1));
    return _mm_cvtsi128_si32(s);
}

/* 32 bytes at p, any alignment. */
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

/* ---- streaming the weights of one token ----------------------------------
 * With one token a matmul reads each weight byte once, so the kernel is a
 * memory stream with arithmetic in between; the arithmetic slows the hardware
 * prefetchers' ramp, and the streamed lines push the activation (re-read for
 * every row) out of L1. A software prefetch STREAM_AHEAD bytes ahead fixes
 * both. Measured on one thread over a 256 MB Q4_0 matrix, 3 interleaved
 * rounds, same output (n_in 2048 / 8192), with the non-temporal hint: none
 * 27.1 / 24.4 GB/s; 4.6 KiB ahead 33.5 / 26.1; 9.2 KiB 32.2 / 32.0; 13.8 KiB
 * 34.8 / 27.0; a plain read without the arithmetic gains nothing from it
 * (28-29 GB/s either way). The hint is T0 (all cache levels): on a host whose
 * other tenants held the bandwidth to 7-20 GB/s, the non-temporal one made
 * generation about half as fast (tg32, 2 threads, same hashes, interleaved:
 * 1B Q4_K_M 9.1-12.6 against 13.2-23.7 t/s over 8 rounds; runs at 47-48 against
 * 88-97 % of the faster streaming pass, 1B Q4_0 71-75 against 96-117 %, 3B Q4_0
 * 64-76 against 65-100 %). Prefetches past the end of a buffer are harmless
 * (they never fault). */
#define STREAM_AHEAD 9216

/* Prefetch the `bytes` (a constant: the loop unrolls) that sit `ahead` past
 * p. */
static inline __attribute__((always_inline)) void stream_prefetch_at(const void *p, const int bytes, const int ahead)
{
    const char *q = (const char *)p + ahead;
#pragma GCC unroll 32
    for (int o = 0; o < bytes; o += 64)
        _mm_prefetch(q + o, _MM_HINT_T0);
}

/* The same, STREAM_AHEAD past p (a kernel reading one stream). */
static inline __attribute__((always_inline)) void stream_prefetch(const void *p, const int bytes)
{
    stream_prefetch_at(p, bytes, STREAM_AHEAD);
}

#endif
