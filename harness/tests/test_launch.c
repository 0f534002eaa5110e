/* test_launch.c: the launcher measures what it claims.
 *   /bin/true                      -> peak RSS < 4 MiB (not under ASan, whose
 *                                     shadow memory a forked child inherits)
 *   fake engine touching 64 MiB    -> ru_maxrss within 1% of /usr/bin/time -v
 *   fake engine touching 64 MiB    -> ru_maxrss >= 64 MiB, timeline rows
 *   fake engine abort()            -> term_signal SIGABRT, no failure
 *   fake engine hang, timeout 0.3s -> timed_out, SIGKILL, wall < 5 s
 *   missing binary                 -> STATUS_ERR naming it
 *   exit code                      -> recorded */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <math.h>

#include "launch.h"
#include "testenv.h"

#if defined(__SANITIZE_ADDRESS__)
#define UNDER_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define UNDER_ASAN 1
#endif
#endif

static char fake[PATH_MAX];

static void test_true_is_small(void **state)
{
    (void)state;
#ifdef UNDER_ASAN
    skip();
#endif
    char *argv[] = { "/bin/true", NULL };
    struct launch_opts o = { .argv = argv };
    struct launch_result r;
    assert_int_equal(launch_run(&o, &r, NULL), STATUS_OK);
    assert_int_equal(r.exit_code, 0);
    assert_true(r.maxrss_kib > 0);
    assert_true(r.maxrss_kib < 4096);
    assert_true(r.wall_ns > 0);
}

static void test_alloc_measured(void **state)
{
    (void)state;
    char tl[PATH_MAX], dir[PATH_MAX];
    assert_non_null(testenv_tmpdir(dir, sizeof dir));
    TFMT(tl, "%s/timeline.csv", dir);
    FILE *f = fopen(tl, "w");
    assert_non_null(f);
    setenv("FAKE_ALLOC_MIB", "64", 1);
    setenv("FAKE_SLEEP_MS", "50", 1);
    char *argv[] = { fake, "complete", "-m", "m.gguf", "-p", "Hi", "-n", "3", NULL };
    struct launch_opts o = { .argv = argv, .timeline = f };
    struct launch_result r;
    assert_int_equal(launch_run(&o, &r, NULL), STATUS_OK);
    unsetenv("FAKE_ALLOC_MIB");
    unsetenv("FAKE_SLEEP_MS");
    fclose(f);
    assert_int_equal(r.exit_code, 0);
    assert_true(r.maxrss_kib >= 64 * 1024);
#ifndef UNDER_ASAN
    assert_true(r.maxrss_kib < 96 * 1024);
#endif
    assert_true(r.n_samples >= 2);
    assert_true(r.read_bytes >= 0);
    assert_true(r.minflt > 1000);
    assert_true(r.wall_ns >= 50000000);
    f = fopen(tl, "r");
    char line[256];
    int rows = 0;
    while (fgets(line, sizeof line, f))
        rows++;
    fclose(f);
    assert_int_equal(rows, r.n_samples);
}

/* Peak of `/usr/bin/time -v CMD` ("Maximum resident set size (kbytes): N"). */
static long time_v_maxrss(char **cmd)
{
    char dir[PATH_MAX], log[PATH_MAX];
    assert_non_null(testenv_tmpdir(dir, sizeof dir));
    TFMT(log, "%s/time.log", dir);
    char *argv[16] = { "/usr/bin/time", "-v" };
    for (int i = 0; cmd[i] && i < 13; i++)
        argv[i + 2] = cmd[i];
    struct launch_opts o = { .argv = argv, .stderr_path = log };
    struct launch_result r;
    assert_int_equal(launch_run(&o, &r, NULL), STATUS_OK);
    FILE *f = fopen(log, "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (strstr(line, "Maximum resident set size (kbytes):"))
            kib = strtol(strchr(line, ':') + 1, NULL, 10);
    if (f)
        fclose(f);
    return kib;
}

static void test_agrees_with_time_v(void **state)
{
    (void)state;
#ifdef UNDER_ASAN
    skip();
#endif
    if (access("/usr/bin/time", X_OK) != 0)
        skip();
    setenv("FAKE_ALLOC_MIB", "64", 1);
    char *argv[] = { fake, "complete", "-m", "m.gguf", "-p", "Hi", NULL };
    struct launch_opts o = { .argv = argv };
    struct launch_result r;
    assert_int_equal(launch_run(&o, &r, NULL), STATUS_OK);
    long ref = time_v_maxrss(argv);
    unsetenv("FAKE_ALLOC_MIB");
    assert_true(ref > 64 * 1024);
    double rel = fabs((double)r.maxrss_kib - (double)ref) / (double)ref;
    if (rel >= 0.01)
        fail_msg("rbench %lld KiB vs /usr/bin/time -v %ld KiB", (long long)r.maxrss_kib, ref);
}

static void test_crash_recorded(void **state)
{
    (void)state;
    setenv("FAKE_CRASH", "*", 1);
    char *argv[] = { fake, "complete", "-m", "m", "-p", "x", NULL };
    struct launch_opts o = { .argv = argv };
    struct launch_result r;
    assert_int_equal(launch_run(&o, &r, NULL), STATUS_OK);
    unsetenv("FAKE_CRASH");
    assert_int_equal(r.exit_code, -1);
    assert_int_equal(r.term_signal, SIGABRT);
    assert_false(r.timed_out);
}

static void test_timeout_kills(void **state)
{
    (void)state;
    setenv("FAKE_HANG", "*", 1);
    char *argv[] = { fake, "complete", "-m", "m", "-p", "x", NULL };
    struct launch_opts o = { .argv = argv, .timeout_s = 0.3 };
    struct launch_result r;
    assert_int_equal(launch_run(&o, &r, NULL), STATUS_OK);
    unsetenv("FAKE_HANG");
    assert_true(r.timed_out);
    assert_int_equal(r.term_signal, SIGKILL);
    assert_true(r.wall_ns >= 300000000);
    assert_true(r.wall_ns < 5000000000LL);
}

static void test_missing_binary(void **state)
{
    (void)state;
    char *argv[] = { "/nonexistent/minillm", NULL };
    struct launch_opts o = { .argv = argv };
    struct launch_result r;
    struct err e = { "" };
    assert_int_equal(launch_run(&o, &r, &e), STATUS_ERR);
    assert_non_null(strstr(e.msg, "/nonexistent/minillm"));
}

static void test_exit_code_and_stdout(void **state)
{
    (void)state;
    char dir[PATH_MAX], out[PATH_MAX];
    assert_non_null(testenv_tmpdir(dir, sizeof dir));
    TFMT(out, "%s/out", dir);
    char *argv[] = { "/bin/sh", "-c", "printf hello; exit 3", NULL };
    struct launch_opts o = { .argv = argv, .stdout_path = out };
    struct launch_result r;
    assert_int_equal(launch_run(&o, &r, NULL), STATUS_OK);
    assert_int_equal(r.exit_code, 3);
    assert_int_equal(r.term_signal, 0);
    FILE *f = fopen(out, "r");
    char buf[16] = { 0 };
    assert_non_null(f);
    assert_int_equal(fread(buf, 1, sizeof buf - 1, f), 5);
    fclose(f);
    assert_string_equal(buf, "hello");
}

int main(void)
{
    testenv_path("tests/fake_minillm", fake, sizeof fake);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_true_is_small),   cmocka_unit_test(test_alloc_measured),
        cmocka_unit_test(test_agrees_with_time_v),
        cmocka_unit_test(test_crash_recorded),  cmocka_unit_test(test_timeout_kills),
        cmocka_unit_test(test_missing_binary),  cmocka_unit_test(test_exit_code_and_stdout),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
