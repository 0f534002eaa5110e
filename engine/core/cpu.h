/* cpu.h: what the CPU running us can execute, detected once.
 *
 * The one place the engine asks the CPU about itself; the kernel table
 * (kernels/kernels.h) turns the answers into a SIMD level. On CPUs other
 * than x86 every answer is 0. */
#ifndef CPU_H
#define CPU_H

/* AVX2, F16C and FMA, with the OS saving the YMM state. */
int cpu_has_avx2_f16c(void);
/* AVX-512 VL and VNNI on top of AVX2 and F16C (256-bit vpdpbusd, vpdpwssd). */
int cpu_has_avx512_vnni(void);

#endif
