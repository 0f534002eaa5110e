# engine.mk: libengine.a, built from the engine's layers, one folder each.
# Included by the top Makefile, which provides BUILD and the $(BUILD)/%.o rule.
#
# ENGINE_LAYERS is the one place the layer order is declared, bottom first:
# a file may call into its own folder and into folders listed before it,
# never into one listed after it (scripts/check-layers.py, run by make test,
# checks this and that no two files call each other in a cycle). A
# subfolder listed on its own (kernels/ref, kernels/x86) is its own layer.
ENGINE_LAYERS := core format kernels/ref kernels/x86 kernels tokenizer model convert run

ENGINE_SRC :=
include engine/core/core.mk
include engine/format/format.mk
include engine/kernels/kernels.mk
include engine/tokenizer/tokenizer.mk
include engine/model/model.mk
include engine/convert/convert.mk
include engine/run/run.mk

ENGINE_OBJ := $(ENGINE_SRC:%.c=$(BUILD)/%.o)
ENGINE_LIB := $(BUILD)/libengine.a

$(ENGINE_LIB): $(ENGINE_OBJ)
	@rm -f $@
	ar rcs $@ $^
