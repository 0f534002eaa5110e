/* testdata.h: where a test finds its data files and writes its scratch files.
 *
 *   data:    $RB_TEST_DATA (unset or empty: build/data, which make data fills)
 *   scratch: $RB_BUILD/tmp (RB_BUILD unset: build/release/tmp)
 *
 * scripts/run-tests.sh (make test, make asan) sets both. A missing data file
 * fails the test: it is never skipped. The functions are static inline, as a
 * test binary is one .c file linked with libengine.a (see the Makefile) and
 * each test uses only some of them. Include after <cmocka.h>. */
#ifndef TESTDATA_H
#define TESTDATA_H

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

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

#endif
