/* test_launch.c: the launcher measures what it claims.
 *   /bin/true                      -> peak RSS < 4 MiB (not under ASan, whose
 *                                     shadow memory a forked child inherits)
 *   fake engine touching 64 MiB    -> ru_maxrss within 1% of /usr/bin/time -v
 *   fake engine touching 64 MiB    -> ru_maxrss >= 64 MiB, timeline rows
 *   fake engine abort()            -> term_signal SIGABRT, no failure
 *   fake engine hang, timeout 0.3s -> timed_out, SIGKILL, wall < 5 s
 *   missing binary                 -> STATUS_ERR naming it
 *   exit code                      -> recorded
 *   smaps of this process          -> a 32 MiB populated file mapping is the top
 *                                     file, a touched 24 MiB anon region among
 *                                     the largest anonymous mappings
 *   handcrafted smaps text         -> groups, top 3, bad lines skipped (below)
 *   child holding 64 MiB, smaps on -> peak snapshot anon >= 50 MiB, reads rate
 *                                     limited; smaps off -> no snapshot
 * The child is this binary run as `test_launch --child-hold MIB MS`. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <sys/mman.h>
#include <time.h>

#include "launch.h"
#include "proc.h"
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

/* The anon entry of s that covers [p, p + len), or NULL. */
static const struct proc_smaps_vma *anon_covering(const struct proc_smaps *s, const void *p, size_t len)
{
    uintptr_t a = (uintptr_t)p;
    for (int i = 0; i < s->n_anon; i++) {
        uintptr_t start = (uintptr_t)strtoull(s->anon[i].start, NULL, 16);
        if (start <= a && a + len <= start + (uintptr_t)s->anon[i].size_kib * 1024)
            return &s->anon[i];
    }
    return NULL;
}

static void test_smaps_self(void **state)
{
    (void)state;
    char dir[PATH_MAX], path[PATH_MAX], real[PATH_MAX];
    assert_non_null(testenv_tmpdir(dir, sizeof dir));
    TFMT(path, "%s/model.bin", dir);
    const size_t file_len = (size_t)32 << 20, anon_len = (size_t)24 << 20;
    int fd = open(path, O_RDWR | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    static char block[1 << 16];
    memset(block, 'x', sizeof block);
    for (size_t off = 0; off < file_len; off += sizeof block)
        assert_int_equal(write(fd, block, sizeof block), (ssize_t)sizeof block);
    void *fmap = mmap(NULL, file_len, PROT_READ, MAP_SHARED | MAP_POPULATE, fd, 0);
    assert_true(fmap != MAP_FAILED);
    char *amap = mmap(NULL, anon_len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    assert_true(amap != MAP_FAILED);
    memset(amap, 1, anon_len);
    struct proc_smaps s;
    struct err e = { "" };
    assert_int_equal(proc_smaps_read(getpid(), &s, &e), STATUS_OK);
    assert_non_null(realpath(path, real));
    assert_string_equal(s.top_file, real);
    assert_true(s.top_file_rss_kib >= 30 * 1024);
    assert_true(s.file_rss_kib >= s.top_file_rss_kib);
    assert_true(s.anon_rss_kib >= 24 * 1024);
    assert_true(s.rss_kib >= s.file_rss_kib + 24 * 1024);
    const struct proc_smaps_vma *v = anon_covering(&s, amap, anon_len);
    if (!v)
        fail_msg("the 24 MiB region at %p is not among the %d largest anon mappings", (void *)amap, s.n_anon);
    assert_true(v->rss_kib >= 24 * 1024);
    for (int i = 1; i < s.n_anon; i++)
        assert_true(s.anon[i - 1].rss_kib >= s.anon[i].rss_kib);
    munmap(amap, anon_len);
    munmap(fmap, file_len);
    close(fd);
    unlink(path);
    rmdir(dir);
    /* a pid that cannot exist */
    assert_int_equal(proc_smaps_read(0x7ffffff0, &s, &e), STATUS_ERR);
    assert_non_null(strstr(e.msg, "/smaps"));
}

/* Handcrafted smaps text, the outcome written beside each part. */
static void test_smaps_handcrafted(void **state)
{
    (void)state;
    char long_path[1600];
    memset(long_path, 'p', sizeof long_path - 1);
    long_path[0] = '/';
    long_path[sizeof long_path - 1] = '\0';
    char text[8192];
    int n = snprintf(text, sizeof text,
        "Rss:   999 kB\n"                                           /* before any header: skipped */
        "1000-65000 r--p 00000000 08:01 11   /m/model.gguf\n"      /* model part 1: 100 */
        "Size:  400 kB\nRss:   100 kB\nAnonymous: 0 kB\nVmFlags: rd mr\n"
        "70000-90000 r-xp 00000000 08:01 12   /lib/libc.so\n"       /* 120, alone */
        "Rss:   120 kB\n"
        "a0000-b0000 rw-p 00000000 00:00 0 \n"                      /* anon, no path: 10 */
        "Rss:   10 kB\nAnonymous: 10 kB\n"
        "b0000-c0000 rw-p 00000000 00:00 0   [heap]\n"              /* anon: 30 */
        "Rss:   30 kB\nAnonymous: 30 kB\n"
        "c0000-d0000 r--p 00040000 08:01 11   /m/model.gguf\n"      /* model part 2: 50 -> 150, top */
        "Rss:   50 kB\n"
        "d0000-e0000 rw-p 00000000 00:00 0   [anon:ggml]\n"         /* anon: 20 */
        "Rss:   20 kB\nAnonymous: 20 kB\n"
        "e0000-f0000 rw-p 00000000 00:00 0   [stack]\n"             /* anon: 5, fourth: dropped */
        "Rss:   5 kB\nAnonymous: 5 kB\n"
        "f0000-f1000 r-xp 00000000 00:00 0   [vdso]\n"              /* other: 8, in rss_kib only */
        "Rss:   8 kB\n"
        "f2000-f3000 r--p\n"                                        /* bad header: skipped with its lines */
        "Rss:   777 kB\n"
        "garbage line\n"                                            /* unknown: skipped */
        "zz-yy nonsense\n"
        "100000-200000 r--p 00000000 08:01 13   %s\n"               /* cut path, 1 */
        "Rss:   1 kB\n"
        "200000-300000 rw-p 00000000 00:00 0 \n"                    /* Rss clamped at 1 PiB, no newline */
        "Rss:   -5 kB\nAnonymous: 99999999999999999999999 kB",
        long_path);
    assert_true(n > 0 && n < (int)sizeof text);
    FILE *f = fmemopen(text, (size_t)n, "r");
    assert_non_null(f);
    struct proc_smaps s;
    proc_smaps_parse(f, &s);
    fclose(f);
    assert_int_equal(s.n_vmas, 10);
    assert_string_equal(s.top_file, "/m/model.gguf");
    assert_int_equal(s.top_file_rss_kib, 150);
    assert_int_equal(s.file_rss_kib, 100 + 120 + 50 + 1);
    assert_int_equal(s.rss_kib, 100 + 120 + 10 + 30 + 50 + 20 + 5 + 8 + 1);
    assert_int_equal(s.anon_rss_kib, 10 + 30 + 20 + 5 + (1LL << 40));
    assert_int_equal(s.n_anon, 3);
    assert_string_equal(s.anon[0].start, "b0000");
    assert_int_equal(s.anon[0].rss_kib, 30);
    assert_int_equal(s.anon[0].size_kib, 64);
    assert_string_equal(s.anon[1].start, "d0000");
    assert_string_equal(s.anon[2].start, "a0000");
    /* empty input, and a header with nothing after it */
    f = fmemopen((char[]){ "" }, 1, "r");
    proc_smaps_parse(f, &s);
    fclose(f);
    assert_int_equal(s.n_vmas, 0);
    assert_string_equal(s.top_file, "");
    char one[] = "1000-2000 rw-p 00000000 00:00 0";
    f = fmemopen(one, sizeof one - 1, "r");
    proc_smaps_parse(f, &s);
    fclose(f);
    assert_int_equal(s.n_vmas, 1);
    assert_int_equal(s.n_anon, 0);
}

static char self_exe[PATH_MAX];

/* `test_launch --child-hold MIB MS`: touches MIB of anonymous memory, holds it MS. */
static int child_hold(long mib, long ms)
{
    size_t len = (size_t)mib << 20;
    char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return 1;
    memset(p, 1, len);
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
    return p[len - 1] == 1 ? 0 : 1;
}

static void test_smaps_sampled(void **state)
{
    (void)state;
    char *argv[] = { self_exe, "--child-hold", "64", "1000", NULL };
    struct launch_opts o = { .argv = argv, .smaps = 1 };
    struct launch_result r;
    assert_int_equal(launch_run(&o, &r, NULL), STATUS_OK);
    assert_int_equal(r.exit_code, 0);
    const struct launch_smaps *pk = &r.smaps_peak, *last = &r.smaps_last;
    assert_true(pk->have && last->have);
    assert_true(pk->vm_rss_kib >= 64 * 1024);
    assert_true(pk->m.anon_rss_kib >= 50 * 1024);
    assert_true(pk->m.n_anon >= 1);
    assert_true(pk->m.anon[0].rss_kib >= 50 * 1024);
    assert_true(pk->m.anon[0].size_kib >= 64 * 1024);
    assert_true(last->t_ms >= pk->t_ms);
    assert_true(last->m.anon_rss_kib >= 50 * 1024); /* held to the end */
    assert_true(pk->m.top_file[0] == '/');          /* the binary or a library */
    /* read now and then, not every sample: >= 100 ms apart */
    assert_true(r.n_smaps_reads >= 2);
    assert_true(r.n_smaps_reads <= r.wall_ns / 100000000 + 1);
    assert_true(r.n_smaps_reads < r.n_samples);
    assert_true(r.smaps_read_ns > 0);
    /* off by default */
    char *argv2[] = { self_exe, "--child-hold", "1", "50", NULL };
    struct launch_opts o2 = { .argv = argv2 };
    assert_int_equal(launch_run(&o2, &r, NULL), STATUS_OK);
    assert_int_equal(r.exit_code, 0);
    assert_false(r.smaps_peak.have || r.smaps_last.have);
    assert_int_equal(r.n_smaps_reads, 0);
}

int main(int argc, char **argv)
{
    if (argc == 4 && strcmp(argv[1], "--child-hold") == 0)
        return child_hold(atol(argv[2]), atol(argv[3]));
    ssize_t n = readlink("/proc/self/exe", self_exe, sizeof self_exe - 1);
    if (n > 0)
        self_exe[n] = '\0';
    testenv_path("tests/fake_minillm", fake, sizeof fake);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_true_is_small),   cmocka_unit_test(test_alloc_measured),
        cmocka_unit_test(test_agrees_with_time_v),
        cmocka_unit_test(test_crash_recorded),  cmocka_unit_test(test_timeout_kills),
        cmocka_unit_test(test_missing_binary),  cmocka_unit_test(test_exit_code_and_stdout),
        cmocka_unit_test(test_smaps_self),      cmocka_unit_test(test_smaps_handcrafted),
        cmocka_unit_test(test_smaps_sampled),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
