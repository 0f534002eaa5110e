/* test_run.c: `rbench run` and `rbench compare` end to end, driving the fake
 * engine (tests/fake_minillm) through the real rbench binary.
 *   one mode perturbs a byte      -> exit 1, that mode's runs "differs" at offset 7
 *   one mode crashes, one hangs   -> recorded as signal / timeout, the sweep goes on
 *   kill -9 mid-sweep, --resume   -> every run exactly once, all ok
 *   compare same vs same          -> 0; 400 ms slower over 5 reps -> 1 (0 with
 *                                    --no-time-gate); the gates: test_compare.c
 *   cache cold                    -> residency 0 at every start, recorded
 *   mem-limit (fake's own cost + 72 MiB), 96 MiB touched -> "oom" (root only),
 *                                    the reclaim mode (48 MiB) passes
 *   engine llama.cpp              -> mode flags mapped, unsupported modes skipped
 *                                    with the reason, Final line read from stderr
 *   --shard 1/2 + 2/2, merge      -> same cases as one whole run; duplicates refused
 *   /bin/true as the engine       -> < 4 MiB peak through rbench (not under ASan) */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <fcntl.h>
#include <math.h>
#include <jansson.h>
#include <signal.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include "files.h"
#include "launch.h"
#include "testenv.h"

static char rbench[PATH_MAX], fake[PATH_MAX], tmp[PATH_MAX];

/* Writes a sweep named name into tmp with the given mode line and extras. */
static void write_sweep(const char *name, const char *model, const char *modes, const char *extra)
{
    char path[PATH_MAX], text[4096];
    TFMT(path, "%s/%s.sweep", tmp, name);
    TFMT(text,
         "engine minillm bin=%s\nmodel %s\nquant f32 q8_0\nmode %s\n"
         "workload complete prompt=\"Hello there\" n=6\nworkload perplexity file=text.txt ctx=32\n%s",
         fake, model, modes, extra);
    assert_int_equal(testenv_write(path, text), 0);
}

/* rbench run SWEEP --out tmp/OUT [more]; returns its exit code. */
static int rb_run(const char *sweep, const char *out, const char *more)
{
    char sp[PATH_MAX], op[PATH_MAX], log[PATH_MAX], root[PATH_MAX];
    TFMT(sp, "%s/%s.sweep", tmp, sweep);
    TFMT(op, "%s/%s", tmp, out);
    TFMT(log, "%s/%s.log", tmp, out);
    TFMT(root, "%s/results", tmp);
    char *argv[] = { rbench, "run", sp, "--out", op, "--results", root, "--data-dir", tmp, "--progress", "plain",
                     "--quiet", (char *)more, NULL };
    struct launch_opts o = { .argv = argv, .stdout_path = log, .stderr_path = log, .timeout_s = 120 };
    struct launch_result r;
    assert_int_equal(launch_run(&o, &r, NULL), STATUS_OK);
    return r.exit_code;
}

static int rb_compare(const char *base, const char *new_dir, const char *flag, char *report, size_t n)
{
    char b[PATH_MAX], c[PATH_MAX], out[PATH_MAX];
    TFMT(b, "%s/%s", tmp, base);
    TFMT(c, "%s/%s", tmp, new_dir);
    TFMT(out, "%s/compare-%s-%s.md", tmp, base, new_dir);
    char *argv[] = { rbench, "compare", b, c, (char *)flag, NULL };
    struct launch_opts o = { .argv = argv, .stdout_path = out };
    struct launch_result r;
    assert_int_equal(launch_run(&o, &r, NULL), STATUS_OK);
    char *text;
    assert_int_equal(files_read(out, &text, NULL, NULL), STATUS_OK);
    snprintf(report, n, "%s", text);
    free(text);
    return r.exit_code;
}

/* Run records of tmp/out/runs.jsonl as a JSON array (caller decrefs). */
static json_t *runs_of(const char *out)
{
    char path[PATH_MAX], *text;
    TFMT(path, "%s/%s/runs.jsonl", tmp, out);
    assert_int_equal(files_read(path, &text, NULL, NULL), STATUS_OK);
    json_t *a = json_array();
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        json_t *o = json_loads(l, 0, NULL);
        assert_non_null(o);
        if (strcmp(json_string_value(json_object_get(o, "type")), "run") == 0)
            json_array_append(a, o);
        json_decref(o);
    }
    free(text);
    return a;
}

static const char *sget(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static void clear_env(void)
{
    unsetenv("FAKE_PERTURB");
    unsetenv("FAKE_CRASH");
    unsetenv("FAKE_HANG");
    unsetenv("FAKE_ALLOC_MIB");
    unsetenv("FAKE_SLEEP_MS");
    unsetenv("FAKE_LLAMA_RECLAIM");
}

static void test_perturb_fails_gate(void **state)
{
    (void)state;
    write_sweep("perturb", "tiny", "mmap mmap+reclaim no-repack", "reps 2\n");
    setenv("FAKE_PERTURB", "--no-repack", 1);
    assert_int_equal(rb_run("perturb", "perturb", NULL), 1);
    clear_env();
    json_t *a = runs_of("perturb");
    assert_int_equal(json_array_size(a), 2 * 2 * 2 * 3);
    size_t i;
    json_t *o;
    int n_differs = 0;
    json_array_foreach(a, i, o)
    {
        assert_string_equal(sget(o, "status"), "ok");
        if (strcmp(sget(o, "mode"), "no-repack") == 0) {
            assert_string_equal(sget(o, "identity"), "differs");
            assert_int_equal(json_integer_value(json_object_get(json_object_get(o, "diff"), "offset")), 7);
            n_differs++;
        } else {
            assert_true(strcmp(sget(o, "identity"), "ref") == 0 || strcmp(sget(o, "identity"), "same") == 0);
        }
    }
    assert_int_equal(n_differs, 8);
    json_decref(a);
    char path[PATH_MAX], *md;
    TFMT(path, "%s/perturb/summary.md", tmp);
    assert_int_equal(files_read(path, &md, NULL, NULL), STATUS_OK);
    assert_non_null(strstr(md, "| no-repack |"));
    assert_non_null(strstr(md, "FAIL | differs at rep 0: offset 7"));
    free(md);
}

static void test_crash_and_timeout_recorded(void **state)
{
    (void)state;
    write_sweep("crash", "tiny", "mmap read mlock", "timeout 0.5\n");
    setenv("FAKE_CRASH", "read", 1);    /* the value of --load read */
    setenv("FAKE_HANG", "--mlock", 1);
    assert_int_equal(rb_run("crash", "crash", NULL), 1);
    clear_env();
    json_t *a = runs_of("crash");
    assert_int_equal(json_array_size(a), 2 * 2 * 3);
    size_t i;
    json_t *o;
    json_array_foreach(a, i, o)
    {
        const char *mode = sget(o, "mode"), *st = sget(o, "status");
        if (strcmp(mode, "read") == 0) {
            assert_string_equal(st, "signal");
            assert_int_equal(json_integer_value(json_object_get(o, "signal")), SIGABRT);
        } else if (strcmp(mode, "mlock") == 0) {
            assert_string_equal(st, "timeout");
        } else {
            assert_string_equal(st, "ok");
        }
    }
    json_decref(a);
}

static int count_lines(const char *path)
{
    char *text;
    if (files_read(path, &text, NULL, NULL))
        return 0;
    int n = 0;
    for (char *p = text; *p; p++)
        n += *p == '\n';
    free(text);
    return n;
}

static void test_kill9_resume(void **state)
{
    (void)state;
    write_sweep("resume", "tiny", "mmap read", "reps 3\n");
    char sp[PATH_MAX], op[PATH_MAX], root[PATH_MAX], jsonl[PATH_MAX];
    TFMT(sp, "%s/resume.sweep", tmp);
    TFMT(op, "%s/resume", tmp);
    TFMT(root, "%s/results", tmp);
    TFMT(jsonl, "%s/resume/runs.jsonl", tmp);
    setenv("FAKE_SLEEP_MS", "60", 1);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open("/dev/null", O_WRONLY);
        dup2(fd, 1), dup2(fd, 2);
        execl(rbench, rbench, "run", sp, "--out", op, "--results", root, "--data-dir", tmp, (char *)NULL);
        _exit(127);
    }
    /* 1 meta line + some runs, then kill -9 mid-sweep */
    for (int i = 0; i < 1000 && count_lines(jsonl) < 1 + 5; i++)
        usleep(10000);
    kill(pid, SIGKILL);
    waitpid(pid, NULL, 0);
    int before = count_lines(jsonl) - 1;
    assert_true(before >= 5);
    assert_true(before < 24);
    assert_int_equal(rb_run("resume", "resume", "--resume"), 0);
    clear_env();
    json_t *a = runs_of("resume");
    assert_int_equal(json_array_size(a), 2 * 2 * 3 * 2);
    int seen[24] = { 0 };
    size_t i;
    json_t *o;
    json_array_foreach(a, i, o)
    {
        json_int_t k = json_integer_value(json_object_get(o, "index"));
        assert_true(k >= 0 && k < 24);
        seen[k]++;
        assert_string_equal(sget(o, "status"), "ok");
        assert_string_not_equal(sget(o, "identity"), "differs");
    }
    for (int k = 0; k < 24; k++)
        assert_int_equal(seen[k], 1);
    json_decref(a);
    /* resuming a finished run is a no-op that still passes */
    assert_int_equal(rb_run("resume", "resume", "--resume"), 0);
    assert_int_equal(count_lines(jsonl), 1 + 24);
}

/* --resume refuses a directory started by another build of the engine. */
static void test_resume_other_build(void **state)
{
    (void)state;
    char copy[PATH_MAX], path[PATH_MAX], text[1024], cmd[3 * PATH_MAX];
    TFMT(copy, "%s/fake-copy", tmp);
    TFMT(cmd, "cp '%s' '%s'", fake, copy);
    assert_int_equal(system(cmd), 0);
    TFMT(path, "%s/rb.sweep", tmp);
    TFMT(text, "engine minillm bin=%s\nmodel tiny\nquant f32\nmode mmap\nworkload complete prompt=\"x\" n=1\n", copy);
    assert_int_equal(testenv_write(path, text), 0);
    assert_int_equal(rb_run("rb", "rb", NULL), 0);
    FILE *f = fopen(copy, "ab"); /* "rebuild" it: the bytes change */
    assert_non_null(f);
    fputc(0, f);
    assert_int_equal(fclose(f), 0);
    assert_int_equal(rb_run("rb", "rb", "--resume"), 2);
    char log[PATH_MAX], *out;
    TFMT(log, "%s/rb.log", tmp);
    assert_int_equal(files_read(log, &out, NULL, NULL), STATUS_OK);
    assert_non_null(strstr(out, "was run with another build of engine 1"));
    free(out);
}

/* The gates themselves are tested on fixtures (test_compare.c); this is the one
 * end-to-end time check: the same sweep twice, the second 400 ms slower per run
 * with the same work otherwise, gated with a 20 ms floor. The margin is
 * max(5 % of a ~10 ms run, 20 ms) = 20 ms, so the effect is 20x the margin; a
 * base run would have to take over 400 ms on a loaded machine to hide it. */
static void test_compare_gates(void **state)
{
    (void)state;
    char rep[16384];
    char path[PATH_MAX], text[1024];
    TFMT(path, "%s/cmp.sweep", tmp);
    TFMT(text, "engine minillm bin=%s\nmodel tiny\nquant f32\nmode mmap\nworkload complete prompt=\"x\" n=1\nreps 5\n",
         fake);
    assert_int_equal(testenv_write(path, text), 0);
    assert_int_equal(rb_run("cmp", "base", NULL), 0);
    assert_int_equal(rb_run("cmp", "same", NULL), 0);
    assert_int_equal(rb_compare("base", "same", "--no-time-gate", rep, sizeof rep), 0);
    assert_non_null(strstr(rep, "no regression"));

    setenv("FAKE_SLEEP_MS", "400", 1);
    assert_int_equal(rb_run("cmp", "slow", NULL), 0);
    clear_env();
    assert_int_equal(rb_compare("base", "slow", "--time-floor=20", rep, sizeof rep), 1);
    assert_non_null(strstr(rep, "wall time +"));
    assert_int_equal(rb_compare("base", "slow", "--no-time-gate", rep, sizeof rep), 0);
    assert_non_null(strstr(rep, "[time gate off]"));
}

static void test_cold_cache(void **state)
{
    (void)state;
    write_sweep("cold", "tiny", "mmap read", "cache cold\n");
    assert_int_equal(rb_run("cold", "cold", NULL), 0);
    json_t *a = runs_of("cold");
    assert_int_equal(json_array_size(a), 8);
    size_t i;
    json_t *o;
    json_array_foreach(a, i, o)
    {
        json_t *c = json_object_get(o, "cold");
        assert_non_null(c);
        assert_int_equal(json_integer_value(json_object_get(c, "resident_at_start")), 0);
        assert_true(json_is_true(json_object_get(c, "evicted")));
        assert_true(json_integer_value(json_object_get(c, "file_bytes")) > 0);
    }
    json_decref(a);
}

/* The limit is sized from the engine actually used: a first run under a loose
 * limit measures what the fake costs with nothing touched (far more under ASan
 * than in a release build), then the limit is that plus 72 MiB, with 96 MiB
 * touched without reclaim and 48 MiB with it (the fake halves): 24 MiB over and
 * 24 MiB under. */
static void test_mem_limit_oom(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    write_sweep("oom-base", "tiny", "mmap", "mem-limit 1024M\nreps 1\n");
    assert_int_equal(rb_run("oom-base", "oom-base", NULL), 0);
    json_t *a = runs_of("oom-base");
    double base_mib = 0;
    size_t i;
    json_t *o;
    json_array_foreach(a, i, o)
    {
        if (strcmp(sget(o, "status"), "error") == 0 && strstr(sget(o, "reason"), "cgroup"))
            skip(); /* no usable memory controller here */
        assert_string_equal(sget(o, "status"), "ok");
        json_t *pk = json_object_get(json_object_get(o, "cgroup"), "peak_bytes");
        assert_non_null(pk);
        base_mib = fmax(base_mib, json_number_value(pk) / 1048576.0);
    }
    json_decref(a);
    assert_true(base_mib > 0);
    char extra[64];
    TFMT(extra, "mem-limit %dM\n", (int)ceil(base_mib) + 72);
    write_sweep("oom", "tiny", "mmap mmap+reclaim", extra);
    setenv("FAKE_ALLOC_MIB", "96", 1);
    assert_int_equal(rb_run("oom", "oom", NULL), 1);
    clear_env();
    a = runs_of("oom");
    json_array_foreach(a, i, o)
    {
        assert_string_equal(sget(o, "status"), strcmp(sget(o, "mode"), "mmap") == 0 ? "oom" : "ok");
        assert_non_null(json_object_get(json_object_get(o, "cgroup"), "peak_bytes"));
    }
    json_decref(a);
}

/* rbench limit on the fake engine, which touches 96 MiB (48 MiB under
 * reclaim): each case's minimum is found to within the tolerance (a probe
 * just below it failed), confirmed by a run at it, and is larger for the mode
 * that touches more; every probe is recorded. */
static void test_limit_search(void **state)
{
    (void)state;
    if (geteuid() != 0)
        skip();
    char sp[PATH_MAX], out[PATH_MAX], log[PATH_MAX], path[PATH_MAX], *text;
    TFMT(sp, "%s/limit.sweep", tmp);
    char body[2048];
    TFMT(body, "engine minillm bin=%s\nmodel tiny\nquant f32\nmode mmap mmap+reclaim\n"
               "workload complete prompt=\"Hello there\" n=6\ncache cold\n", fake);
    assert_int_equal(testenv_write(sp, body), 0);
    TFMT(out, "%s/limit-out", tmp);
    TFMT(log, "%s/limit.log", tmp);
    setenv("FAKE_ALLOC_MIB", "96", 1);
    setenv("FAKE_SLEEP_MS", "100", 1); /* a reference long enough that the slowdown bound is not noise */
    char *argv[] = { rbench, "limit", sp, "--out", out, "--data-dir", tmp, "--curve", "3", "--slowdown", "50", NULL };
    struct launch_opts lo = { .argv = argv, .stdout_path = log, .stderr_path = log, .timeout_s = 300 };
    struct launch_result r;
    assert_int_equal(launch_run(&lo, &r, NULL), STATUS_OK);
    clear_env();
    assert_int_equal(files_read(log, &text, NULL, NULL), STATUS_OK);
    if (r.exit_code == 2 && (strstr(text, "no memory cgroup controller") || strstr(text, "cannot set a memory limit") ||
                             strstr(text, "cannot create cgroups"))) {
        printf("# skipped: %s", text);
        free(text);
        skip();
    }
    if (r.exit_code != 0)
        fail_msg("rbench limit exit %d:\n%s", r.exit_code, text);
    free(text);
    TFMT(path, "%s/minlimit.csv", out);
    assert_int_equal(files_read(path, &text, NULL, NULL), STATUS_OK);
    assert_non_null(strstr(text, "engine,model,quant,mode,workload,threads,cache,min_limit_mib,peak_mib,"));
    double min[2] = { 0, 0 }, peak[2] = { 0, 0 };
    int rows = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        char mode[64];
        double mn, pk;
        if (sscanf(l, "minillm,tiny,f32,%63[^,],complete,1,cold,%lf,%lf", mode, &mn, &pk) != 3)
            continue;
        int k = strcmp(mode, "mmap") == 0 ? 0 : 1;
        min[k] = mn, peak[k] = pk, rows++;
        assert_non_null(strstr(l, "\"found\""));
        assert_non_null(strstr(l, "--no-memory-check")); /* the argv, as run */
    }
    free(text);
    printf("# minimum: mmap %.0f MiB (peak %.1f), mmap+reclaim %.0f MiB (peak %.1f)\n", min[0], peak[0], min[1],
           peak[1]);
    assert_int_equal(rows, 2);
    assert_true(min[0] >= 96 && min[0] <= peak[0] + 1);
    assert_true(min[1] >= 48 && min[1] <= peak[1] + 1);
    assert_true(min[0] - min[1] > 30); /* 48 MiB less touched */
    /* the probes: a reference per case, an oom, a confirmation at each
     * minimum that completed, and a failure within the tolerance below it */
    TFMT(path, "%s/probes.jsonl", out);
    assert_int_equal(files_read(path, &text, NULL, NULL), STATUS_OK);
    int refs = 0, ooms = 0, confirmed[2] = { 0, 0 }, bracketed[2] = { 0, 0 }, curve = 0;
    for (char *save = NULL, *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        json_t *o = json_loads(l, 0, NULL);
        assert_non_null(o);
        int k = strcmp(sget(o, "mode"), "mmap") == 0 ? 0 : 1;
        double lim = json_number_value(json_object_get(o, "limit_mib"));
        const char *ph = sget(o, "phase"), *stt = sget(o, "status");
        refs += strcmp(ph, "reference") == 0;
        ooms += strcmp(stt, "oom") == 0;
        curve += strcmp(ph, "curve") == 0;
        if (strcmp(ph, "confirm") == 0 && strcmp(stt, "ok") == 0 && fabs(lim - min[k]) < 0.5)
            confirmed[k] = 1;
        if (strcmp(stt, "ok") != 0 && lim < min[k] && lim >= min[k] - 8.5)
            bracketed[k] = 1;
        json_decref(o);
    }
    free(text);
    assert_int_equal(refs, 2);
    assert_true(ooms > 0);
    assert_int_equal(curve, 6);
    assert_true(confirmed[0] && confirmed[1]);
    assert_true(bracketed[0] && bracketed[1]);
}

static void test_llama_adapter(void **state)
{
    (void)state;
    char p[PATH_MAX], text[4096];
    static const char *const names[] = { "llama-completion", "llama-perplexity" };
    for (int k = 0; k < 2; k++) {
        TFMT(p, "%s/%s", tmp, names[k]);
        unlink(p);
        assert_int_equal(symlink(fake, p), 0);
    }
    TFMT(p, "%s/llama.sweep", tmp);
    TFMT(text,
         "engine llama.cpp completion=%s/llama-completion perplexity=%s/llama-perplexity\nmodel tiny\nquant f32\n"
         "mode mmap read mlock mmap+reclaim mmap+evict\nworkload complete prompt=\"Hi\" n=4\n"
         "workload perplexity file=text.txt ctx=32 chunks=2\n",
         tmp, tmp);
    assert_int_equal(testenv_write(p, text), 0);
    assert_int_equal(rb_run("llama", "llama", NULL), 0);
    json_t *a = runs_of("llama");
    assert_int_equal(json_array_size(a), 10);
    size_t i;
    json_t *o;
    json_array_foreach(a, i, o)
    {
        const char *mode = sget(o, "mode");
        char *av = json_dumps(json_object_get(o, "argv"), JSON_COMPACT);
        if (strcmp(mode, "mmap+reclaim") == 0) {
            assert_string_equal(sget(o, "status"), "skipped");
            assert_non_null(strstr(sget(o, "reason"), "--reclaim-mmap-source"));
        } else if (strcmp(mode, "mmap+evict") == 0) {
            assert_string_equal(sget(o, "status"), "skipped");
        } else {
            assert_string_equal(sget(o, "status"), "ok");
            assert_string_not_equal(sget(o, "identity"), "differs");
            if (strcmp(mode, "read") == 0)
                assert_non_null(strstr(av, "\"--load-mode\",\"none\""));
            if (strcmp(mode, "mlock") == 0)
                assert_non_null(strstr(av, "\"--load-mode\",\"mmap+mlock\""));
            if (strcmp(sget(o, "workload"), "perplexity") == 0) /* Final line read from stderr */
                assert_non_null(strstr(sget(o, "ppl_text"), "Final estimate"));
        }
        free(av);
    }
    json_decref(a);
    setenv("FAKE_LLAMA_RECLAIM", "1", 1);
    assert_int_equal(rb_run("llama", "llama2", NULL), 0);
    unsetenv("FAKE_LLAMA_RECLAIM");
    a = runs_of("llama2");
    json_array_foreach(a, i, o)
    {
        if (strcmp(sget(o, "mode"), "mmap+reclaim") == 0) {
            assert_string_equal(sget(o, "status"), "ok");
            char *av = json_dumps(json_object_get(o, "argv"), JSON_COMPACT);
            assert_non_null(strstr(av, "--reclaim-mmap-source"));
            free(av);
        }
    }
    json_decref(a);
}

/* An older llama.cpp (no --load-mode in --help): --no-mmap and --mlock. An
 * output cut short once is retried; twice is "incomplete", not a failure. */
static void test_llama_spellings_and_truncation(void **state)
{
    (void)state;
    char p[PATH_MAX], text[4096], counter[PATH_MAX];
    TFMT(p, "%s/llama-old.sweep", tmp);
    TFMT(text,
         "engine llama.cpp completion=%s/llama-completion perplexity=%s/llama-perplexity\nmodel tiny\nquant f32\n"
         "mode mmap read mlock no-repack\nworkload complete prompt=\"Hi\" n=4\n",
         tmp, tmp);
    assert_int_equal(testenv_write(p, text), 0);
    setenv("FAKE_LLAMA_OLD", "1", 1);
    setenv("FAKE_REPACK_CHANGES", "1", 1);
    assert_int_equal(rb_run("llama-old", "llama-old", NULL), 0);
    json_t *a = runs_of("llama-old");
    size_t i;
    json_t *o;
    json_array_foreach(a, i, o)
    {
        const char *mode = sget(o, "mode");
        char *av = json_dumps(json_object_get(o, "argv"), JSON_COMPACT);
        assert_string_equal(sget(o, "status"), "ok");
        assert_null(strstr(av, "--load-mode"));
        if (strcmp(mode, "read") == 0)
            assert_non_null(strstr(av, "\"--no-mmap\""));
        assert_true(fabs(json_number_value(json_object_get(o, "gen_ms")) - 7.25) < 1e-9); /* not "prompt eval" */
        if (strcmp(mode, "mlock") == 0)
            assert_non_null(strstr(av, "\"--mlock\""));
        /* repack changes llama.cpp's output: its own identity group, the change recorded */
        if (strcmp(mode, "no-repack") == 0) {
            assert_string_equal(sget(o, "identity"), "ref");
            assert_true(json_is_true(json_object_get(o, "repack_changes_output")));
        } else if (strcmp(mode, "mmap") != 0) {
            assert_string_equal(sget(o, "identity"), "same");
        }
        free(av);
    }
    json_decref(a);
    unsetenv("FAKE_LLAMA_OLD");
    unsetenv("FAKE_REPACK_CHANGES");

    TFMT(counter, "%s/trunc-count", tmp);
    setenv("FAKE_TRUNCATE_COUNTER", counter, 1);
    setenv("FAKE_TRUNCATE", "mmap+mlock", 1);
    setenv("FAKE_TRUNCATE_TIMES", "1", 1); /* the mlock run is cut short once: retried, then ok */
    assert_int_equal(rb_run("llama-old", "trunc1", NULL), 0);
    a = runs_of("trunc1");
    o = json_array_get(a, 2);
    assert_string_equal(sget(o, "mode"), "mlock");
    assert_string_equal(sget(o, "status"), "ok");
    assert_int_equal(json_integer_value(json_object_get(o, "attempts")), 2);
    json_decref(a);
    unlink(counter);
    setenv("FAKE_TRUNCATE_TIMES", "2", 1); /* cut short twice: incomplete, the sweep still passes */
    assert_int_equal(rb_run("llama-old", "trunc2", NULL), 0);
    a = runs_of("trunc2");
    o = json_array_get(a, 2);
    assert_string_equal(sget(o, "status"), "incomplete");
    assert_string_equal(sget(o, "identity"), "none");
    json_decref(a);
    unsetenv("FAKE_TRUNCATE");
    unsetenv("FAKE_TRUNCATE_TIMES");
    unsetenv("FAKE_TRUNCATE_COUNTER");
    char sum[PATH_MAX], *md;
    TFMT(sum, "%s/trunc2/summary.md", tmp);
    assert_int_equal(files_read(sum, &md, NULL, NULL), STATUS_OK);
    assert_non_null(strstr(md, "incomplete"));
    free(md);
}

/* Two builds of one engine in one sweep: interleaved in a seeded random order,
 * identity held across builds, a build that changes a byte caught. */
static void test_named_engines(void **state)
{
    (void)state;
    char p[PATH_MAX], text[4096], head[PATH_MAX];
    TFMT(head, "%s/fake-head", tmp);
    unlink(head);
    assert_int_equal(symlink(fake, head), 0);
    TFMT(p, "%s/ab.sweep", tmp);
    TFMT(text,
         "engine base minillm bin=%s\nengine head minillm bin=%s\nmodel tiny\nquant f32\nmode mmap mmap+reclaim\n"
         "workload complete prompt=\"Hi\" n=4\nreps 4\norder random\nseed 3\n",
         fake, head);
    assert_int_equal(testenv_write(p, text), 0);
    assert_int_equal(rb_run("ab", "ab", NULL), 0);
    json_t *a = runs_of("ab");
    assert_int_equal(json_array_size(a), 16);
    size_t i;
    json_t *o;
    int n_head = 0, head_first = 0, prev_rep = -1;
    json_array_foreach(a, i, o)
    {
        assert_string_equal(sget(o, "status"), "ok");
        assert_string_not_equal(sget(o, "identity"), "differs");
        n_head += strcmp(sget(o, "engine"), "head") == 0;
        int rep = (int)json_integer_value(json_object_get(o, "rep"));
        if (rep != prev_rep) /* the first run of each rep's block */
            head_first += strcmp(sget(o, "engine"), "head") == 0, prev_rep = rep;
        assert_non_null(strstr(sget(o, "case"), sget(o, "engine")));
    }
    assert_int_equal(n_head, 8);
    assert_true(fabs(json_number_value(json_object_get(json_array_get(a, 0), "gen_ms")) - 6.25) < 1e-9);
    assert_true(head_first >= 1); /* reps 1-3 are shuffled: not always base first (seed 3) */
    json_decref(a);

    setenv("FAKE_PERTURB", "fake-head", 1);
    assert_int_equal(rb_run("ab", "ab-diff", NULL), 1);
    clear_env();
    a = runs_of("ab-diff");
    json_array_foreach(a, i, o)
        assert_string_equal(sget(o, "identity"),
                            strcmp(sget(o, "engine"), "head") == 0 ? "differs"
                            : strcmp(sget(o, "mode"), "mmap") == 0 && json_integer_value(json_object_get(o, "rep")) == 0
                                ? "ref" : "same");
    json_decref(a);
}

static void test_shard_merge(void **state)
{
    (void)state;
    char rep[16384];
    write_sweep("shard", "tiny", "mmap read", "reps 2\n");
    assert_int_equal(rb_run("shard", "whole", NULL), 0);
    assert_int_equal(rb_run("shard", "s1", "--shard=1/2"), 0);
    assert_int_equal(rb_run("shard", "s2", "--shard=2/2"), 0);
    json_t *a1 = runs_of("s1"), *a2 = runs_of("s2");
    assert_int_equal(json_array_size(a1) + json_array_size(a2), 16);
    assert_true(json_array_size(a1) > 0 && json_array_size(a2) > 0);
    json_decref(a1);
    json_decref(a2);
    char out[PATH_MAX], d1[PATH_MAX], d2[PATH_MAX], log[PATH_MAX];
    TFMT(out, "%s/merged", tmp);
    TFMT(d1, "%s/s1", tmp);
    TFMT(d2, "%s/s2", tmp);
    TFMT(log, "%s/merge.log", tmp);
    char *argv[] = { rbench, "merge", out, d1, d2, NULL };
    struct launch_opts lo = { .argv = argv, .stdout_path = log, .stderr_path = log };
    struct launch_result r;
    assert_int_equal(launch_run(&lo, &r, NULL), STATUS_OK);
    assert_int_equal(r.exit_code, 0);
    json_t *m = runs_of("merged");
    assert_int_equal(json_array_size(m), 16);
    json_decref(m);
    assert_int_equal(rb_compare("whole", "merged", "--no-time-gate", rep, sizeof rep), 0);
    /* merging onto a directory that holds a run would replace it: refused, runs kept */
    lo.argv = argv;
    assert_int_equal(launch_run(&lo, &r, NULL), STATUS_OK);
    assert_int_equal(r.exit_code, 1);
    char *text;
    assert_int_equal(files_read(log, &text, NULL, NULL), STATUS_OK);
    assert_non_null(strstr(text, "already holds a run"));
    free(text);
    m = runs_of("merged");
    assert_int_equal(json_array_size(m), 16);
    json_decref(m);
    /* merging a shard with itself duplicates runs: refused */
    char out2[PATH_MAX];
    TFMT(out2, "%s/merged-dup", tmp);
    char *dup[] = { rbench, "merge", out2, d1, d1, NULL };
    lo.argv = dup;
    assert_int_equal(launch_run(&lo, &r, NULL), STATUS_OK);
    assert_int_equal(r.exit_code, 1);
    assert_int_equal(files_read(log, &text, NULL, NULL), STATUS_OK);
    assert_non_null(strstr(text, "appears twice"));
    free(text);
}

/* A results directory is locked for a run's whole life: a second rbench into
 * it (run, resume or merge) is refused, not interleaved. */
static void test_dir_locked(void **state)
{
    (void)state;
    char dir[PATH_MAX], lockp[PATH_MAX], log[PATH_MAX], *text;
    TFMT(dir, "%s/locked", tmp);
    assert_int_equal(mkdir(dir, 0755), 0);
    TFMT(lockp, "%s/.rbench.lock", dir);
    int fd = open(lockp, O_RDWR | O_CREAT, 0644);
    assert_true(fd >= 0);
    assert_int_equal(flock(fd, LOCK_EX | LOCK_NB), 0); /* as another rbench would hold it */
    write_sweep("locked", "tiny", "mmap", "");
    assert_int_equal(rb_run("locked", "locked", NULL), 2);
    TFMT(log, "%s/locked.log", tmp);
    assert_int_equal(files_read(log, &text, NULL, NULL), STATUS_OK);
    assert_non_null(strstr(text, "in use by another rbench"));
    free(text);
    char jsonl[PATH_MAX];
    TFMT(jsonl, "%s/runs.jsonl", dir);
    assert_false(files_exist(jsonl));
    close(fd); /* released: the run goes ahead */
    assert_int_equal(rb_run("locked", "locked", NULL), 0);
    assert_true(files_exist(jsonl));
}

/* A run whose engine hit a full disk is not a result: the sweep stops
 * without recording it, and --resume reruns it (the rest is kept). */
static void test_disk_full_rerun(void **state)
{
    (void)state;
    write_sweep("dfull", "tiny", "mmap read", "");
    setenv("FAKE_DISK_FULL", "1", 1);
    int rc = rb_run("dfull", "dfull", NULL);
    unsetenv("FAKE_DISK_FULL");
    assert_int_equal(rc, 1);
    char log[PATH_MAX], *text;
    TFMT(log, "%s/dfull.log", tmp);
    assert_int_equal(files_read(log, &text, NULL, NULL), STATUS_OK);
    assert_non_null(strstr(text, "hit a full disk"));
    assert_non_null(strstr(text, "--resume"));
    free(text);
    json_t *a = runs_of("dfull");
    assert_int_equal(json_array_size(a), 0); /* the first run stopped the sweep, unrecorded */
    json_decref(a);
    assert_int_equal(rb_run("dfull", "dfull", "--resume"), 0);
    a = runs_of("dfull");
    assert_int_equal(json_array_size(a), 8); /* 2 quants x 2 workloads x 2 modes, each once */
    size_t i;
    json_t *o;
    json_array_foreach(a, i, o) assert_string_equal(sget(o, "status"), "ok");
    json_decref(a);
}

/* An automatic results name is unique: when NAME is taken (another run
 * started in the same second), the run goes to NAME-2 and leaves NAME alone. */
static void test_unique_names(void **state)
{
    (void)state;
    write_sweep("uniq", "tiny", "mmap", "");
    char root[PATH_MAX], d[PATH_MAX], sp[PATH_MAX], log[PATH_MAX], latest[PATH_MAX], target[PATH_MAX] = "";
    TFMT(root, "%s/uniq-results", tmp);
    assert_int_equal(mkdir(root, 0755), 0);
    time_t now = time(NULL);
    for (int k = 0; k < 60; k++) { /* this second and the next 59 taken: a slow start still meets one */
        char stamp[32];
        time_t t = now + k;
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", gmtime(&t));
        TFMT(d, "%s/%s-uniq", root, stamp);
        assert_int_equal(mkdir(d, 0755), 0);
    }
    TFMT(sp, "%s/uniq.sweep", tmp);
    TFMT(log, "%s/uniq.log", tmp);
    char *argv[] = { rbench, "run", sp, "--results", root, "--data-dir", tmp, "--progress", "plain", "--quiet",
                     "--no-history", NULL };
    struct launch_opts o = { .argv = argv, .stdout_path = log, .stderr_path = log, .timeout_s = 120 };
    struct launch_result r;
    assert_int_equal(launch_run(&o, &r, NULL), STATUS_OK);
    assert_int_equal(r.exit_code, 0);
    TFMT(latest, "%s/latest", root);
    assert_true(readlink(latest, target, sizeof target - 1) > 0);
    printf("# taken: 60 names from this second on; the run went to %s\n", target);
    size_t n = strlen(target);
    assert_true(n > 2 && strcmp(target + n - 2, "-2") == 0);
    for (int k = 0; k < 60; k++) {
        char stamp[32], jsonl[PATH_MAX];
        time_t t = now + k;
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", gmtime(&t));
        TFMT(jsonl, "%s/%s-uniq/runs.jsonl", root, stamp);
        assert_false(files_exist(jsonl));
    }
    TFMT(d, "%s/%s/runs.jsonl", root, target);
    assert_true(files_exist(d));
}

/* rbench itself stays small, so what it launches is measured small. */
static void test_true_through_rbench(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__)
    skip(); /* the ASan rbench is large; its children inherit that at exec */
#endif
    char p[PATH_MAX];
    TFMT(p, "%s/true.sweep", tmp);
    assert_int_equal(testenv_write(p, "engine minillm bin=/bin/true\nmodel tiny\nquant f32\nmode mmap read\n"
                                      "workload complete prompt=x n=1\nreps 2\n"), 0);
    assert_int_equal(rb_run("true", "true", NULL), 0);
    json_t *a = runs_of("true");
    assert_int_equal(json_array_size(a), 4);
    size_t i;
    json_t *o;
    json_array_foreach(a, i, o)
    {
        json_int_t kib = json_integer_value(json_object_get(o, "maxrss_kib"));
        assert_true(kib > 0 && kib < 4096);
    }
    json_decref(a);
}

static int setup(void **state)
{
    (void)state;
    testenv_path("rbench", rbench, sizeof rbench);
    testenv_path("tests/fake_minillm", fake, sizeof fake);
    if (!testenv_tmpdir(tmp, sizeof tmp))
        return -1;
    char p[PATH_MAX];
    TFMT(p, "%s/tiny.gguf", tmp);
    testenv_write(p, "not really a model\n");
    TFMT(p, "%s/tiny2.gguf", tmp);
    testenv_write(p, "another one\n");
    TFMT(p, "%s/text.txt", tmp);
    testenv_write(p, "some text to score\n");
    clear_env();
    return 0;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_perturb_fails_gate),
        cmocka_unit_test(test_crash_and_timeout_recorded),
        cmocka_unit_test(test_kill9_resume),
        cmocka_unit_test(test_resume_other_build),
        cmocka_unit_test(test_compare_gates),
        cmocka_unit_test(test_cold_cache),
        cmocka_unit_test(test_mem_limit_oom),
        cmocka_unit_test(test_limit_search),
        cmocka_unit_test(test_llama_adapter),
        cmocka_unit_test(test_llama_spellings_and_truncation),
        cmocka_unit_test(test_named_engines),
        cmocka_unit_test(test_shard_merge),
        cmocka_unit_test(test_dir_locked),
        cmocka_unit_test(test_unique_names),
        cmocka_unit_test(test_disk_full_rerun),
        cmocka_unit_test(test_true_through_rbench),
    };
    return cmocka_run_group_tests(tests, setup, NULL);
}
