/* replay.c: the fuzz regression test, built like any test (release, asan).
 *
 * Replays every file of fuzz/regress/TARGET/ (crash reproducers) and
 * fuzz/seeds/TARGET/ (the handcrafted seeds) through the same entry points
 * libFuzzer calls, so a fixed crash stays fixed in `make test` and `make
 * asan` without clang. Paths are relative to the repository root (where make
 * runs the tests) or to $RB_FUZZ_DIR; a missing seeds folder fails the test. */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "fuzz.h"

static int cmp_str(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Runs every regular file of DIR/kind/target through one(), in name order
 * (so a failure is reproducible); returns how many ran. A missing folder
 * fails the test when it is required (seeds; git keeps no empty regress/X). */
static int replay_dir(const char *kind, const char *target, int required, int (*one)(const uint8_t *, size_t))
{
    const char *root = getenv("RB_FUZZ_DIR");
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/%s/%s", root && *root ? root : "fuzz", kind, target);
    DIR *d = opendir(dir);
    if (!d && !required)
        return 0;
    if (!d)
        fail_msg("%s is missing: run from the repository root or set RB_FUZZ_DIR", dir);
    char *names[4096];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < (int)(sizeof names / sizeof *names))
        if (de->d_name[0] != '.') {
            names[n] = strdup(de->d_name);
            assert_non_null(names[n]);
            n++;
        }
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, cmp_str);
    int ran = 0;
    for (int i = 0; i < n; i++) {
        char path[8192];
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        struct stat sb;
        FILE *fp = fopen(path, "rb");
        if (fp && fstat(fileno(fp), &sb) == 0 && S_ISREG(sb.st_mode)) {
            /* an exactly-sized block, so ASan sees a read one past the input */
            size_t size = (size_t)sb.st_size;
            uint8_t *buf = malloc(size ? size : 1);
            assert_non_null(buf);
            assert_int_equal(fread(buf, 1, size, fp), size);
            fprintf(stderr, "  %s\n", path);
            assert_int_equal(one(buf, size), 0);
            free(buf);
            ran++;
        }
        if (fp)
            fclose(fp);
        free(names[i]);
    }
    return ran;
}

static void replay(const char *target, void (*init)(void), int (*one)(const uint8_t *, size_t))
{
    init();
    int seeds = replay_dir("seeds", target, 1, one);
    int regress = replay_dir("regress", target, 0, one);
    printf("fuzz %s: %d seeds, %d regression inputs replayed\n", target, seeds, regress);
    assert_true(seeds > 0);
}

static void test_gguf(void **state)
{
    (void)state;
    replay("gguf", fuzz_gguf_init, fuzz_gguf_one);
}

static void test_tokenizer(void **state)
{
    (void)state;
    replay("tokenizer", fuzz_tokenizer_init, fuzz_tokenizer_one);
}

static void test_spec(void **state)
{
    (void)state;
    replay("spec", fuzz_spec_init, fuzz_spec_one);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_gguf),
        cmocka_unit_test(test_tokenizer),
        cmocka_unit_test(test_spec),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
