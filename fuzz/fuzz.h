/* fuzz.h: the fuzz targets' entry points, shared by libFuzzer and the replay test.
 *
 * Each target X is a pair of functions: fuzz_X_init() runs once (it may read
 * test data found through $RB_TEST_DATA) and fuzz_X_one() runs one input and
 * returns 0; a bug shows as a crash, a sanitizer report or an abort from a
 * failed FUZZ_CHECK. Built with -DFUZZ_LIBFUZZER, FUZZ_ENTRY(X) also defines
 * libFuzzer's LLVMFuzzerInitialize/LLVMFuzzerTestOneInput for the target;
 * otherwise fuzz/replay.c calls the pairs directly (the regression test). */
#ifndef FUZZ_H
#define FUZZ_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

void fuzz_gguf_init(void);
int fuzz_gguf_one(const uint8_t *data, size_t size);
void fuzz_tokenizer_init(void);
int fuzz_tokenizer_one(const uint8_t *data, size_t size);
void fuzz_spec_init(void);
int fuzz_spec_one(const uint8_t *data, size_t size);

/* An invariant the code under test must keep; abort() so libFuzzer saves the input. */
#define FUZZ_CHECK(cond)                                                                   \
    do {                                                                                   \
        if (!(cond)) {                                                                     \
            fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond);       \
            abort();                                                                       \
        }                                                                                  \
    } while (0)

#ifdef FUZZ_LIBFUZZER
#define FUZZ_ENTRY(name)                                                                   \
    int LLVMFuzzerInitialize(int *argc, char ***argv);                                     \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);                          \
    int LLVMFuzzerInitialize(int *argc, char ***argv)                                      \
    {                                                                                      \
        (void)argc;                                                                        \
        (void)argv;                                                                        \
        fuzz_##name##_init();                                                              \
        return 0;                                                                          \
    }                                                                                      \
    int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)                           \
    {                                                                                      \
        return fuzz_##name##_one(data, size);                                              \
    }
#else
#define FUZZ_ENTRY(name)
#endif

#endif
