# engine/kernels: element types and the kernels that convert and multiply
# them. ref/: the scalar reference forms (any CPU); x86/: the AVX2 and
# AVX-512 VNNI forms, which fall back to ref/.
ENGINE_SRC += engine/kernels/ref/quant.c engine/kernels/ref/quant_k.c engine/kernels/ref/repack.c \
              engine/kernels/ref/gemm.c engine/kernels/ref/vec.c engine/kernels/ref/attention.c \
              engine/kernels/x86/quant_x86.c engine/kernels/x86/quant_k_x86.c engine/kernels/x86/gemm_x86.c
