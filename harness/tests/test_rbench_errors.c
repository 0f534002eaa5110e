/* test_rbench_errors.c: rbench's user-facing failures when writing results.
 *   results directory that cannot be created -> exit 2, one message naming it
 *   a full disk (RLIMIT_FSIZE) while writing  -> exit 1, a message, no
 *                                                temporary file left behind and
 *                                                no torn line in runs.jsonl
 * Driven through the real rbench binary and the fake engine. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <dirent.h>
#include <fcntl.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "testenv.h"

static char rbench[PATH_MAX], fake[PATH_MAX], tmp[PATH_MAX];

/* Runs rbench with argv (NULL-terminated, argv[0] ignored) and, when fsize is
 * not 0, RLIMIT_FSIZE = fsize bytes; stderr goes to err_path. Exit code. */
static int run_rbench(char **argv, rlim_t fsize, const char *err_path)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd < 0 || dup2(fd, 2) < 0 || dup2(fd, 1) < 0)
            _exit(99);
        if (fsize) {
            signal(SIGXFSZ, SIG_IGN); /* writes past the limit fail with EFBIG instead */
            struct rlimit rl = {fsize, fsize};
            setrlimit(RLIMIT_FSIZE, &rl);
        }
        argv[0] = rbench;
        execv(rbench, argv);
        _exit(98);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    assert_true(WIFEXITED(st));
    return WEXITSTATUS(st);
}

static char *slurp(const char *path)
{
    static char buf[8192];
    FILE *f = fopen(path, "r");
    assert_non_null(f);
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

/* Files whose name contains ".tmp" anywhere under dir. */
static int count_tmp(const char *dir)
{
    DIR *d = opendir(dir);
    if (!d)
        return 0;
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d))) {
        if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
            continue;
        char p[PATH_MAX];
        if (snprintf(p, sizeof p, "%s/%s", dir, de->d_name) >= (int)sizeof p)
            continue;
        if (strstr(de->d_name, ".tmp"))
            n++;
        if (de->d_type == DT_DIR)
            n += count_tmp(p);
    }
    closedir(d);
    return n;
}

static void write_sweep(const char *path)
{
    char text[2048];
    TFMT(text,
         "engine minillm bin=%s\nmodel tiny.gguf\nquant f32\nmode mmap mmap+reclaim\n"
         "workload complete prompt=\"Hello there\" n=6\nreps 2\n",
         fake);
    assert_int_equal(testenv_write(path, text), 0);
}

static void test_unwritable_results_dir(void **state)
{
    (void)state;
    char sweep[PATH_MAX], blocker[PATH_MAX], results[PATH_MAX], err[PATH_MAX];
    TFMT(sweep, "%s/e.sweep", tmp);
    write_sweep(sweep);
    TFMT(blocker, "%s/a-file", tmp); /* a regular file where a directory is needed: fails even for root */
    assert_int_equal(testenv_write(blocker, "x\n"), 0);
    TFMT(results, "%s/a-file/results", tmp);
    TFMT(err, "%s/unwritable.log", tmp);
    char *argv[] = {NULL, "run", sweep, "--results", results, "--data-dir", tmp, "--progress", "plain", NULL};
    int code = run_rbench(argv, 0, err);
    const char *msg = slurp(err);
    print_message("# rbench exit %d: %s", code, msg);
    assert_int_equal(code, 2);
    assert_non_null(strstr(msg, "a-file/results"));
}

static void test_full_disk_while_writing(void **state)
{
    (void)state;
    char sweep[PATH_MAX], results[PATH_MAX], out[PATH_MAX], err[PATH_MAX];
    TFMT(sweep, "%s/f.sweep", tmp);
    write_sweep(sweep);
    TFMT(results, "%s/full-results", tmp);
    TFMT(out, "%s/full-results/run", tmp);
    TFMT(err, "%s/full.log", tmp);
    char *argv[] = {NULL, "run", sweep, "--results", results, "--out", out, "--data-dir", tmp,
                    "--progress", "plain", NULL};
    int code = run_rbench(argv, 3000, err); /* files may not grow past 3000 bytes */
    const char *msg = slurp(err);
    print_message("# rbench exit %d under RLIMIT_FSIZE: %.300s\n", code, msg);
    assert_int_equal(code, 1);
    assert_true(strstr(msg, "File too large") || strstr(msg, "EFBIG") || strstr(msg, "cannot write") ||
                strstr(msg, "write"));
    assert_int_equal(count_tmp(results), 0);
    /* what runs.jsonl holds is whole lines: the torn record was cut off */
    char jl[PATH_MAX];
    TFMT(jl, "%s/runs.jsonl", out);
    const char *text = slurp(jl);
    size_t n = strlen(text);
    assert_true(n == 0 || text[n - 1] == '\n');
}

static int setup(void **state)
{
    (void)state;
    testenv_path("rbench", rbench, sizeof rbench);
    testenv_path("tests/fake_minillm", fake, sizeof fake);
    if (!testenv_tmpdir(tmp, sizeof tmp))
        return -1;
    char p[PATH_MAX];
    if (snprintf(p, sizeof p, "%s/tiny.gguf", tmp) >= (int)sizeof p)
        return -1;
    testenv_write(p, "not really a model\n");
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unwritable_results_dir),
        cmocka_unit_test(test_full_disk_while_writing),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
