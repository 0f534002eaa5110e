/* testdata.h: where a test finds its data files and writes its scratch files.
 *
 *   data:    $RB_TEST_DATA (unset or empty: build/data, which make data fills)
 *   scratch: $RB_BUILD/tmp (RB_BUILD unset: build/release/tmp)
 *
 * scripts/run-tests.sh (make test, make asan) sets both. A missing data file
 * fails the test: it is never skipped. The functions are static inline, as a
 * test binary is one .c file linked with libengine.a (see the Makefile) and
 * each test uses only some of them. Include after <cmocka.h>.
 * Sections: paths, data files (any file read whole, a GGUF file mapped).
 * The tests' one random generator is rng.h. */
#ifndef TESTDATA_H
#define TESTDATA_H

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format/gguf.h"

/* ---- paths -------------------------------------------------------------- */

/* out = the path of data file name; fails the test when it is not readable. */
static inline void testdata_path(char *out, size_t cap, const char *name)
{
    const char *dir = getenv("RB_TEST_DATA");
    snprintf(out, cap, "%s/%s", dir && *dir ? dir : "build/data", name);
    if (access(out, R_OK) != 0)
        fail_msg("test data %s is missing (run scripts/get-data.sh)", out);
}

/* out = the scratch directory, created when missing; 0, or -1 when it
 * cannot be created (main then returns 1). */
static inline int testdata_tmp_dir(char *out, size_t cap)
{
    const char *b = getenv("RB_BUILD");
    char cmd[1200];
    snprintf(out, cap, "%s/tmp", b ? b : "build/release");
    snprintf(cmd, sizeof cmd, "mkdir -p '%s'", out);
    return system(cmd) == 0 ? 0 : -1;
}

/* ---- data files --------------------------------------------------------- */

struct testdata_blob {
    char *p; /* [n + 1], NUL-terminated; the caller frees it */
    size_t n;
};

/* A whole file at path, NUL-terminated (n counts the file's bytes only);
 * fails the test when it cannot be opened or read. */
static inline struct testdata_blob testdata_read_path(const char *path)
{
    struct testdata_blob b = {NULL, 0};
    FILE *fp = fopen(path, "rb");
    if (!fp)
        fail_msg("cannot open %s", path);
    assert_int_equal(fseek(fp, 0, SEEK_END), 0);
    long size = ftell(fp);
    assert_true(size >= 0);
    rewind(fp);
    b.n = (size_t)size;
    b.p = malloc(b.n + 1);
    assert_non_null(b.p);
    assert_int_equal(fread(b.p, 1, b.n, fp), b.n);
    b.p[b.n] = 0;
    fclose(fp);
    return b;
}

/* A whole data file; fails the test when it is missing. */
static inline struct testdata_blob testdata_read(const char *name)
{
    char path[4096];
    testdata_path(path, sizeof path, name);
    return testdata_read_path(path);
}

/* A GGUF data file, mapped read-only and parsed. */
struct testdata_gguf {
    void *p;
    size_t n;
    struct gguf_file f;
};

/* Maps and parses a GGUF data file; fails the test when it is missing or
 * does not parse. Release it with testdata_unmap_gguf. */
static inline void testdata_map_gguf(const char *name, struct testdata_gguf *m)
{
    char path[4096];
    struct stat st;
    struct err e = {{0}};
    testdata_path(path, sizeof path, name);
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        fail_msg("data file %s missing (set RB_TEST_DATA)", path);
    assert_int_equal(fstat(fd, &st), 0);
    m->n = (size_t)st.st_size;
    m->p = mmap(NULL, m->n, PROT_READ, MAP_PRIVATE, fd, 0);
    close(fd);
    assert_true(m->p != MAP_FAILED);
    if (gguf_parse(&m->f, m->p, m->n, &e) != STATUS_OK)
        fail_msg("%s: %s", path, e.msg);
}

static inline void testdata_unmap_gguf(struct testdata_gguf *m)
{
    gguf_free(&m->f);
    munmap(m->p, m->n);
}

#endif
