/* testenv.h: what every harness test needs to find: the build directory
 * (RB_BUILD made absolute, else the parent of the test binary's directory), the fake engine
 * and rbench in it, and a fresh temporary directory. */
#ifndef RB_TESTENV_H
#define RB_TESTENV_H

#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static inline const char *testenv_build(void)
{
    static char dir[PATH_MAX];
    if (dir[0])
        return dir;
    const char *env = getenv("RB_BUILD");
    if (env && *env) { /* absolute, so paths survive symlinks and chdir */
        if (!realpath(env, dir))
            snprintf(dir, sizeof dir, "%s", env);
        return dir;
    }
    ssize_t n = readlink("/proc/self/exe", dir, sizeof dir - 1);
    if (n <= 0)
        return ".";
    dir[n] = '\0';
    for (int k = 0; k < 2; k++) { /* <build>/tests/test_x -> <build> */
        char *slash = strrchr(dir, '/');
        if (slash)
            *slash = '\0';
    }
    return dir;
}

/* "<build>/<rel>" in a static buffer of its own per call site's slot. */
static inline const char *testenv_path(const char *rel, char *buf, size_t n)
{
    if (snprintf(buf, n, "%s/%s", testenv_build(), rel) >= (int)n)
        buf[0] = '\0';
    return buf;
}

/* A new directory under TMPDIR (or /tmp), written into buf. */
static inline const char *testenv_tmpdir(char *buf, size_t n)
{
    const char *t = getenv("TMPDIR");
    if (snprintf(buf, n, "%s/rbtest-XXXXXX", t && *t ? t : "/tmp") >= (int)n)
        return NULL;
    return mkdtemp(buf);
}

/* snprintf into an array, asserting nothing was cut. */
#define TFMT(buf, ...) assert_true(snprintf(buf, sizeof buf, __VA_ARGS__) < (int)sizeof buf)

static inline int testenv_write(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    fputs(text, f);
    return fclose(f);
}

#endif
