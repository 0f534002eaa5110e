# engine/kernels: element types and the kernels that convert and multiply
# them. ref/: the scalar reference forms (any CPU); x86/: the AVX2 and
# AVX-512 VNNI forms, which may call ref/ (never the reverse); kernels.c:
# the kernel table, the one dispatch point above both.
ENGINE_SRC += engine/kernels/kernels.c \
              engine/kernels/ref/quant.c engine/kernels/ref/quant_k.c \
              engine/kernels/ref/repack.c engine/kernels/ref/gemm.c engine/kernels/ref/vec.c \
              engine/kernels/ref/attention.c

# kernels/x86 only when the compiler targets x86 (kernels.c names its forms
# under the same condition).
KERNELS_ARCH := $(firstword $(subst -, ,$(shell $(CC) -dumpmachine)))
ifneq ($(filter x86_64 i386 i486 i586 i686,$(KERNELS_ARCH)),)
ENGINE_SRC += engine/kernels/x86/quant_x86.c engine/kernels/x86/quant_k_x86.c engine/kernels/x86/gemm_x86.c engine/kernels/x86/repack_x86.c \
              engine/kernels/x86/vec_x86.c engine/kernels/x86/attention_x86.c
endif
