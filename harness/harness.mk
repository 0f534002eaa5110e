# harness.mk: rbench, its library and its tests. Included by the top Makefile,
# which provides CC, CFLAGS, LDFLAGS, BUILD and the $(BUILD)/%.o rule.

HARNESS_SRC   := $(filter-out harness/main.c,$(wildcard harness/*.c))
HARNESS_OBJ   := $(HARNESS_SRC:%.c=$(BUILD)/%.o) $(BUILD)/engine/core/err.o
HARNESS_LIB   := $(BUILD)/libharness.a
HARNESS_LIBS  := -ljansson -lxxhash
RBENCH        := $(BUILD)/rbench
# Fake engines the tests drive (programs, not tests).
HARNESS_FAKES := $(BUILD)/tests/fake_minillm
HARNESS_TESTS := $(patsubst harness/tests/%.c,$(BUILD)/tests/%,$(wildcard harness/tests/test_*.c))

all: $(RBENCH)

$(BUILD)/harness/%.o: CFLAGS += -Iharness

$(HARNESS_LIB): $(HARNESS_OBJ)
	@rm -f $@
	ar rcs $@ $^

$(RBENCH): $(BUILD)/harness/main.o $(HARNESS_LIB)
	$(CC) $(LDFLAGS) -o $@ $^ $(HARNESS_LIBS) $(LDLIBS)

$(HARNESS_FAKES): $(BUILD)/tests/%: $(BUILD)/harness/tests/%.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# Test binaries find rbench and the fakes through RB_BUILD (or next to
# themselves), so they depend on them.
$(HARNESS_TESTS): $(BUILD)/tests/%: $(BUILD)/harness/tests/%.o $(HARNESS_LIB) $(RBENCH) $(HARNESS_FAKES)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $< $(HARNESS_LIB) -lcmocka $(HARNESS_LIBS) $(LDLIBS)

.PHONY: harness harness-test
harness: $(RBENCH) $(HARNESS_TESTS)

# Runs only the harness tests (the top-level test target runs everything).
harness-test: harness
	@set -e; for t in $(HARNESS_TESTS); do RB_BUILD=$(BUILD) RB_TEST_DATA=$(DATA_DIR) $$t; done

-include $(HARNESS_OBJ:.o=.d) $(BUILD)/harness/main.d $(HARNESS_TESTS:$(BUILD)/tests/%=$(BUILD)/harness/tests/%.d) $(HARNESS_FAKES:$(BUILD)/tests/%=$(BUILD)/harness/tests/%.d)
