/* fp16.h: IEEE half <-> float, exact and round-to-nearest-even as the F16C
 * hardware does (kernels/ref/quant.c, beside the dequantizers and dots that
 * call them most). Included by quant.h. */
#ifndef KERNELS_FP16_H
#define KERNELS_FP16_H

#include <stdint.h>

float quant_fp16_to_fp32(uint16_t h);
uint16_t quant_fp32_to_fp16(float f);

#endif
