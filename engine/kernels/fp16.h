/* fp16.h: IEEE half <-> float, exact and round-to-nearest-even as the F16C
 * hardware does, by integer bit manipulation. Included by quant.h.
 *
 * Each file that uses them gets its own copy, called, not inlined (FP16_FN):
 * the compiler then knows which registers the call leaves alone, so the
 * dequantizers' and reference dots' loops keep the code they had when the
 * conversions lived in quant.c beside them (make microbench measured the
 * loops up to 1.2x slower both with a call into another file and with the
 * conversion inlined). */
#ifndef KERNELS_FP16_H
#define KERNELS_FP16_H

#include <stdint.h>
#include <string.h>

#define FP16_FN static __attribute__((noinline, unused))

static inline float fp16_f32_from_bits(uint32_t u)
{
    float f;
    memcpy(&f, &u, sizeof f);
    return f;
}

static inline uint32_t fp16_f32_bits(float f)
{
    uint32_t u;
    memcpy(&u, &f, sizeof u);
    return u;
}

FP16_FN float quant_fp16_to_fp32(uint16_t h)
{
    uint32_t sign = (uint32_t)(h & 0x8000u) << 16;
    uint32_t exp = (h >> 10) & 0x1fu;
    uint32_t mant = h & 0x3ffu;

    if (exp == 0x1f) /* inf; a NaN is quieted, payload kept, as F16C does */
        return fp16_f32_from_bits(sign | 0x7f800000u | (mant << 13) | (mant ? 0x400000u : 0));
    if (exp == 0) {
        if (mant == 0)
            return fp16_f32_from_bits(sign);
        /* Subnormal half, mant * 2^-24: shift the leading one up to bit 10,
         * lowering the exponent; every half subnormal is a normal float. */
        int32_t e = 1;
        while (!(mant & 0x400u)) {
            mant <<= 1;
            e--;
        }
        return fp16_f32_from_bits(sign | (uint32_t)(e + 127 - 15) << 23 | (mant & 0x3ffu) << 13);
    }
    return fp16_f32_from_bits(sign | ((exp + 127 - 15) << 23) | (mant << 13));
}

/* Rounds `value >> shift` to nearest, ties to even (1 <= shift <= 24). */
static inline uint32_t fp16_shift_rne(uint32_t value, uint32_t shift)
{
    uint32_t q = value >> shift;
    uint32_t rem = value & ((1u << shift) - 1);
    uint32_t half = 1u << (shift - 1);
    if (rem > half || (rem == half && (q & 1)))
        q++;
    return q;
}

FP16_FN uint16_t quant_fp32_to_fp16(float f)
{
    uint32_t x = fp16_f32_bits(f);
    uint16_t sign = (uint16_t)((x >> 16) & 0x8000u);
    x &= 0x7fffffffu;

    if (x > 0x7f800000u) /* NaN: quieted, payload truncated, as F16C does */
        return (uint16_t)(sign | 0x7e00u | ((x >> 13) & 0x3ffu));
    /* 65520 = 0x477ff000 is halfway between the largest half (65504) and 2^16;
     * the tie goes to the even neighbour, which is infinity. */
    if (x >= 0x477ff000u)
        return (uint16_t)(sign | 0x7c00u);
    if (x < 0x38800000u) { /* below 2^-14: a half subnormal or zero */
        if (x <= 0x33000000u) /* at most 2^-25: rounds to zero (the tie too) */
            return sign;
        uint32_t e = x >> 23; /* 102..112 */
        uint32_t m = (x & 0x7fffffu) | 0x800000u;
        /* value = m * 2^(e - 150); in units of 2^-24 that is m >> (126 - e).
         * A carry out to 0x400 is the smallest normal half, as wanted. */
        return (uint16_t)(sign | fp16_shift_rne(m, 126 - e));
    }
    /* Normal: rebias the exponent, round the 23-bit mantissa to 10 bits. A carry
     * propagates into the exponent, which is the correct next binade. */
    uint32_t h = ((x >> 23) - 127 + 15) << 10 | ((x & 0x7fffffu) >> 13);
    uint32_t rem = x & 0x1fffu;
    if (rem > 0x1000u || (rem == 0x1000u && (h & 1)))
        h++;
    return (uint16_t)(sign | h);
}

#endif
