# bench.mk: make bench, microbench, nightly, baseline, plots (docs/BENCH.md).
# Included by the top Makefile after harness.mk; uses its BUILD, CC, CXX,
# CFLAGS, OPT, LDFLAGS, LDLIBS, ENGINE_LIB, MINILLM, RBENCH and DATA_DIR.
#
# The microbenchmarks (harness/microbench/) are C benchmark functions built
# with the project's C flags and one C++ shim that registers them with Google
# Benchmark. `make test` runs three more test programs from here: the
# microbenchmarks in smoke mode (tests/test_microbench) and a 1-rep sweep with
# plots (tests/test_bench_smoke, a copy of scripts/bench-smoke.sh), and
# scripts/vs-llamacpp.sh against fake llama.cpp tools (tests/test_vs_llamacpp).

MB_C_SRC    := $(wildcard harness/microbench/*.c)
MB_OBJ      := $(MB_C_SRC:%.c=$(BUILD)/%.o) $(BUILD)/harness/microbench/shim.o
MICROBENCH  := $(BUILD)/microbench
MB_TEST     := $(BUILD)/tests/test_microbench
BENCH_SMOKE := $(BUILD)/tests/test_bench_smoke
VS_SMOKE    := $(BUILD)/tests/test_vs_llamacpp
MB_LIBS     := -lbenchmark -lpthread
MB_CXXFLAGS := -std=c++17 $(OPT) -Wall -Wextra -Werror -pthread -MMD -MP

# The project's C flags already hold -Werror; C++ gets its own warnings.
$(BUILD)/harness/microbench/shim.o: harness/microbench/shim.cc
	@mkdir -p $(dir $@)
	$(CXX) $(MB_CXXFLAGS) -Iharness/microbench -c $< -o $@

$(MICROBENCH) $(MB_TEST): $(MB_OBJ) $(ENGINE_LIB)
	@mkdir -p $(dir $@)
	$(CXX) $(LDFLAGS) -o $@ $(MB_OBJ) $(ENGINE_LIB) $(MB_LIBS) $(LDLIBS)

$(BENCH_SMOKE): scripts/bench-smoke.sh $(MINILLM) $(RBENCH)
	@mkdir -p $(dir $@)
	cp scripts/bench-smoke.sh $@
	chmod +x $@

$(VS_SMOKE): scripts/vs-llamacpp-smoke.sh scripts/vs-llamacpp.sh $(MINILLM)
	@mkdir -p $(dir $@)
	cp scripts/vs-llamacpp-smoke.sh $@
	chmod +x $@

HARNESS_TESTS += $(MB_TEST) $(BENCH_SMOKE) $(VS_SMOKE)

# Quantized and generated models are cached in $RB_CACHE_DIR/models
# (default ~/.cache/rbench/models: outside the checkout; see bench-lib.sh).
BENCH_ENV := BUILD=$(BUILD) DATA_DIR=$(DATA_DIR)

.PHONY: bench microbench nightly baseline plots bench-tools microbench-tools
# Before building: name the Debian packages of missing tools.
bench-tools:
	@scripts/bench.sh --check-tools

microbench-tools:
	@echo '#include <benchmark/benchmark.h>' | $(CXX) -std=c++17 -E -x c++ - >/dev/null 2>&1 || \
	{ echo "microbench: Google Benchmark is missing; install it with: sudo apt-get install libbenchmark-dev"; exit 2; }

# bench and nightly set the machine up first (scripts/setup.sh), then build
# and run in a sub-make.
bench:
	@scripts/setup.sh bench
	@$(MAKE) --no-print-directory bench-run

nightly:
	@scripts/setup.sh bench
	@$(MAKE) --no-print-directory nightly-run

.PHONY: bench-run nightly-run
bench-run: bench-tools $(MINILLM) $(RBENCH) data
	@$(BENCH_ENV) scripts/bench.sh

nightly-run: bench-tools $(MINILLM) $(RBENCH) data
	@$(BENCH_ENV) scripts/nightly.sh

# Copies results/latest (or RUN=DIR) to results/baselines/<machine class>/.
baseline:
	@$(BENCH_ENV) scripts/baseline.sh $(RUN)

# Redraws the plots and report of results/latest (or RUN=DIR).
plots:
	@$(BENCH_ENV) scripts/plots.sh $(if $(RUN),$(RUN),results/latest)

# Google Benchmark JSON to results/microbench/<UTC time>.json (latest.json
# points at it); MB_ARGS adds flags, e.g. MB_ARGS=--benchmark_filter=dot.
microbench: microbench-tools $(MICROBENCH)
	@mkdir -p results/microbench
	@out=results/microbench/$$(date -u +%Y%m%d-%H%M%S).json; \
	MB_TMPDIR=$(BUILD) $(MICROBENCH) --benchmark_out=$$out --benchmark_out_format=json $(MB_ARGS) && \
	ln -sfn $$(basename $$out) results/microbench/latest.json && echo "microbench: wrote $$out"

-include $(MB_OBJ:.o=.d)

# llama.cpp, stock and with PR #24156 (scripts/llamacpp/reclaim-mmap-source.patch),
# built side by side into $RB_CACHE_DIR/llama.cpp and llama.cpp-pr24156 (npm
# registry source; ~4 minutes each on 2 cores, reused once built).
.PHONY: llamacpp bench-llamacpp bench-llamacpp-run
llamacpp:
	@scripts/setup.sh llamacpp
	@scripts/get-llamacpp.sh

# One sweep, three engines: harness/sweeps/llamacpp.sweep, the PR's table from
# llama.cpp itself and a plot per engine x mode (scripts/bench-llamacpp.sh).
bench-llamacpp:
	@scripts/setup.sh bench llamacpp
	@$(MAKE) --no-print-directory bench-llamacpp-run

bench-llamacpp-run: $(MINILLM) $(RBENCH) data
	@$(BENCH_ENV) scripts/bench-llamacpp.sh

# What reclaim buys under a memory limit: per case of harness/sweeps/memlimit.sweep
# (cold cache) and memlimit-warm.sweep (warm), the smallest memory-cgroup limit at
# which the run completes identically, the cost curve, a table and plots
# (scripts/bench-memlimit.sh; root). llama.cpp is included when make llamacpp built it.
.PHONY: bench-memlimit bench-memlimit-run
bench-memlimit:
	@scripts/setup.sh bench
	@$(MAKE) --no-print-directory bench-memlimit-run

bench-memlimit-run: $(MINILLM) $(RBENCH) data
	@$(BENCH_ENV) scripts/bench-memlimit.sh
