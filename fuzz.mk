# fuzz.mk: fuzzing, the fuzz regression test and valgrind. Included by the top
# Makefile, which provides CSTD, WARN, BUILD, ENGINE_SRC, ENGINE_LIB, HARNESS_LIB,
# MINILLM, DATA_DIR and the $(BUILD)/%.o rule. See docs/HARDENING.md.
#
#   make fuzz [SECONDS=60]   each libFuzzer target for SECONDS (clang, build/fuzz)
#   make fuzz-ci             each target for 20 s (what CI runs)
#   make fuzz-regress        replay fuzz/seeds and fuzz/regress through every target
#   make valgrind            a small completion and perplexity under memcheck

FUZZ_TARGETS := gguf tokenizer spec
SECONDS      ?= 60
FUZZ_CC      ?= clang
FUZZ_BUILD   := build/fuzz
FUZZ_SAN     := -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS  := $(CSTD) $(WARN) -O1 -g -fno-omit-frame-pointer $(FUZZ_SAN) -pthread -MMD -MP \
                -Iengine -Iharness -Ifuzz

# Every engine file plus the sweep parser, instrumented for coverage.
FUZZ_LIB_SRC := $(ENGINE_SRC) harness/spec.c
FUZZ_LIB_OBJ := $(FUZZ_LIB_SRC:%.c=$(FUZZ_BUILD)/obj/%.o)
FUZZ_LIB     := $(FUZZ_BUILD)/libfuzzed.a
FUZZ_BINS    := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
FUZZ_MAINS   := $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/obj/fuzz/fuzz_%.o)

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -c $< -o $@

$(FUZZ_BUILD)/obj/fuzz/%.o: fuzz/%.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(FUZZ_CFLAGS) -fsanitize=fuzzer-no-link -DFUZZ_LIBFUZZER -c $< -o $@

$(FUZZ_LIB): $(FUZZ_LIB_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BUILD)/fuzz_%: $(FUZZ_BUILD)/obj/fuzz/fuzz_%.o $(FUZZ_LIB)
	$(FUZZ_CC) -fsanitize=fuzzer $(FUZZ_SAN) -pthread -o $@ $^ -lm

.PHONY: fuzz fuzz-build fuzz-ci fuzz-regress valgrind
fuzz-build: $(FUZZ_MAINS) $(FUZZ_BINS)

# The corpora are generated into build/fuzz/corpus from the data files and
# minillm gen (scripts/fuzz.sh); crashes land in build/fuzz/crashes/TARGET.
fuzz: fuzz-build $(MINILLM) data
	@scripts/fuzz.sh --seconds $(SECONDS) --minillm $(MINILLM) --data $(DATA_DIR) $(FUZZ_TARGETS)

fuzz-ci:
	@$(MAKE) --no-print-directory fuzz SECONDS=20

# The regression test: the same entry points, built with $(CC) like any test,
# so `make test` and `make asan` replay every seed and reproducer.
FUZZ_REPLAY     := $(BUILD)/tests/test_fuzz_regress
FUZZ_REPLAY_OBJ := $(BUILD)/fuzz/replay.o $(BUILD)/fuzz/fuzz_gguf.o $(BUILD)/fuzz/fuzz_tokenizer.o \
                   $(BUILD)/fuzz/fuzz_spec.o

$(BUILD)/fuzz/%.o: CFLAGS += -Iharness -Ifuzz

$(FUZZ_REPLAY): $(FUZZ_REPLAY_OBJ) $(HARNESS_LIB) $(ENGINE_LIB)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcmocka $(HARNESS_LIBS) $(LDLIBS)

TEST_BINS += $(FUZZ_REPLAY)
test-run: $(FUZZ_REPLAY)

fuzz-regress: $(FUZZ_REPLAY) data
	@RB_TEST_DATA=$(DATA_DIR) $(FUZZ_REPLAY)

valgrind:
	@$(MAKE) --no-print-directory VARIANT=debug all data
	@scripts/valgrind.sh build/debug/minillm $(DATA_DIR)

-include $(FUZZ_LIB_OBJ:.o=.d) $(FUZZ_MAINS:.o=.d) $(FUZZ_REPLAY_OBJ:.o=.d)
