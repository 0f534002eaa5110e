/* cpu.c: CPU feature detection (cpu.h), cached after the first call.
 *
 * Relaxed atomics hold the cache: every thread computes the same value, so
 * a race costs a repeated cpuid, never a wrong answer. */
#include "core/cpu.h"

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>

static int detect_avx2_f16c(void)
{
    unsigned eax, ebx, ecx, edx;
    __builtin_cpu_init();
    /* __builtin_cpu_supports also checks the OS saves the YMM state */
    if (!__builtin_cpu_supports("avx2"))
        return 0;
    if (!__get_cpuid(1, &eax, &ebx, &ecx, &edx))
        return 0;
    return (ecx & bit_F16C) && (ecx & bit_FMA); /* FMA: the exp of vec_x86.c */
}

static int detect_avx512_vnni(void)
{
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512vnni") && detect_avx2_f16c();
}
#else
static int detect_avx2_f16c(void)
{
    return 0;
}

static int detect_avx512_vnni(void)
{
    return 0;
}
#endif

static int cached(int *slot, int (*detect)(void))
{
    int v = __atomic_load_n(slot, __ATOMIC_RELAXED);
    if (v < 0) {
        v = detect();
        __atomic_store_n(slot, v, __ATOMIC_RELAXED);
    }
    return v;
}

int cpu_has_avx2_f16c(void)
{
    static int v = -1;
    return cached(&v, detect_avx2_f16c);
}

int cpu_has_avx512_vnni(void)
{
    static int v = -1;
    return cached(&v, detect_avx512_vnni);
}
