# Every entry point of the project. `make help` lists them.
# One build directory per variant: build/release, build/debug, build/asan.

.DEFAULT_GOAL := all
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

# libengine.a (engine/engine.mk and a .mk in each layer's folder) and the
# minillm command line over it (tools/minillm/minillm.mk).
include engine/engine.mk
include tools/minillm/minillm.mk

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

# The layering check (scripts/check-layers.py): from the objects' symbols, no
# call cycle between two engine files, and each layer calls only the layers
# listed before it in ENGINE_LAYERS (engine/engine.mk).
.PHONY: check-layers
check-layers: $(ENGINE_OBJ) $(MINILLM_OBJ)
	@python3 scripts/check-layers.py $(BUILD) "$(ENGINE_LAYERS)" $(ENGINE_OBJ) $(MINILLM_OBJ)

test-run: all check-layers $(TEST_BINS) data
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
	@echo "make                build build/release/minillm and rbench (same as make all)"
	@echo "make all            build build/release/minillm and rbench"
	@echo "make deps           install what the build, tests and bench need (scripts/setup.sh; DEPS_GROUPS=ci|llamacpp|all)"
	@echo "make test           set up, build, check the layers, fetch/verify test data, run every test (release)"
	@echo "make asan           the same tests under ASan + UBSan (build/asan)"
	@echo "make test-run       build and run every test of VARIANT without the setup step (test and asan call it)"
	@echo "make check-layers   fail on a call cycle between engine files or a call into a higher layer"
	@echo "make harness        build rbench and the harness tests"
	@echo "make harness-test   run the harness tests only"
	@echo "make data           find/verify/download the test data into build/data"
	@echo "make bench          the default benchmark sweep, compare with the baseline, plots, report"
	@echo "make bench-run      make bench without the setup step"
	@echo "make bench-tools    name the Debian packages of missing benchmark tools"
	@echo "make nightly        A/B: the baseline's commit and HEAD interleaved in one sweep, paired gates"
	@echo "make nightly-run    make nightly without the setup step"
	@echo "make baseline       bless results/latest (or RUN=DIR) as this machine class's baseline"
	@echo "make plots          redraw the plots and report of results/latest (or RUN=DIR)"
	@echo "make microbench     Google Benchmark microbenchmarks to results/microbench/ (MB_ARGS=...)"
	@echo "make microbench-tools  check Google Benchmark is installed"
	@echo "make bench-pr       llama.cpp PR #24156's table on same-shape models, minillm only"
	@echo "make llamacpp       build stock llama.cpp and llama.cpp + PR #24156 side by side"
	@echo "make bench-llamacpp one sweep, three engines: the PR's table from llama.cpp itself"
	@echo "make bench-memlimit  the smallest memory-cgroup limit per case and mode, cold and warm cache (root)"
	@echo "make bench-memlimit-run  make bench-memlimit without the setup step"
	@echo "make bench-llamacpp-run  make bench-llamacpp without the setup step"
	@echo "make fuzz           each libFuzzer target for SECONDS (60)"
	@echo "make fuzz-build     build the libFuzzer targets (clang, build/fuzz)"
	@echo "make fuzz-ci        each libFuzzer target for 20 s (what CI runs)"
	@echo "make fuzz-regress   replay the fuzz seeds and reproducers"
	@echo "make valgrind       a small completion and perplexity under memcheck"
	@echo "make clean          remove build/"
	@echo "make help           this list"
	@echo "VARIANT=debug|asan|release selects the build directory build/\$$VARIANT"

-include $(ENGINE_OBJ:.o=.d) $(MINILLM_OBJ:.o=.d) $(ENGINE_TESTS:$(BUILD)/tests/%=$(BUILD)/engine/tests/%.d)
