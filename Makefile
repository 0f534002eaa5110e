# Every entry point of the project. `make help` lists them.
# One build directory per variant: build/release, build/debug, build/asan.

VARIANT ?= release
BUILD   := build/$(VARIANT)
CC      ?= cc
CXX     ?= c++

WARN      := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes -Wmissing-prototypes -Werror
CSTD      := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
OPT_release := -O2 -g
OPT_debug   := -O0 -g
OPT_asan    := -O1 -g -fno-omit-frame-pointer -fsanitize=address,undefined -fno-sanitize-recover=all
OPT     := $(OPT_$(VARIANT))
CFLAGS  += $(CSTD) $(WARN) $(OPT) -pthread -MMD -MP
LDFLAGS += $(filter -fsanitize%,$(OPT)) -pthread
LDLIBS  += -lm

ENGINE_SRC  := $(filter-out engine/main.c,$(wildcard engine/*.c))
ENGINE_OBJ  := $(ENGINE_SRC:%.c=$(BUILD)/%.o)
ENGINE_LIB  := $(BUILD)/libengine.a
MINILLM     := $(BUILD)/minillm
ENGINE_TESTS := $(patsubst engine/tests/%.c,$(BUILD)/tests/%,$(wildcard engine/tests/test_*.c))

.PHONY: all test asan clean help data test-run deps
all: $(MINILLM)

# Every program, header and library the build, tests and bench need, installed
# with apt-get when missing (scripts/setup.sh; silent and quick when all is there).
# DEPS_GROUPS=ci adds clang/libFuzzer and valgrind; llamacpp adds npm, git, cmake.
DEPS_GROUPS ?= test
deps:
	@scripts/setup.sh $(DEPS_GROUPS)

$(BUILD)/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Iengine -c $< -o $@

$(ENGINE_LIB): $(ENGINE_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(MINILLM): $(BUILD)/engine/main.o $(ENGINE_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/%: $(BUILD)/engine/tests/%.o $(ENGINE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(LDLIBS)

-include harness/harness.mk
# make bench, microbench, nightly, baseline, plots: bench.mk. make fuzz, valgrind: fuzz.mk.
# (Included before the test rules: they add test binaries to HARNESS_TESTS.)
-include bench.mk
-include fuzz.mk

# Test data (models, texts) resolved by checksum into build/data (symlinks).
DATA_DIR := build/data
data:
	@scripts/get-data.sh --link $(DATA_DIR)

TEST_BINS += $(ENGINE_TESTS) $(HARNESS_TESTS)

# test, asan and bench check the machine first (scripts/setup.sh), then build in
# a sub-make, so a missing header is installed before anything compiles.
test:
	@scripts/setup.sh test
	@$(MAKE) --no-print-directory VARIANT=release test-run

asan:
	@scripts/setup.sh test
	@$(MAKE) --no-print-directory VARIANT=asan test-run

test-run: all $(TEST_BINS) data
	@scripts/run-tests.sh $(BUILD) $(DATA_DIR) $(TEST_BINS)

# The llama.cpp PR #24156 table on Llama-3.2-3B- and OLMoE-shaped synthetic models
# (generates ~6 GB of models into the rbench cache; peaks near 9 GiB).
.PHONY: bench-pr
bench-pr: all
	@$(BUILD)/rbench run harness/sweeps/pr24156.sweep --name pr24156-$$(date +%Y%m%d-%H%M%S)
	@python3 scripts/pr-table.py results/latest

clean:
	rm -rf build

help:
	@echo "make            build build/release/minillm (and rbench)"
	@echo "make test       build, fetch/verify test data, run every test (release)"
	@echo "make asan       the same tests under ASan + UBSan (build/asan)"
	@echo "make bench      the default benchmark sweep"
	@echo "make bench-pr   llama.cpp PR #24156's table on same-shape models"
	@echo "make clean      remove build/"
	@echo "VARIANT=debug|asan|release selects the build directory build/\$$VARIANT"

-include $(ENGINE_OBJ:.o=.d) $(BUILD)/engine/main.d
