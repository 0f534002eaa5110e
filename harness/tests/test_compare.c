/* test_compare.c: the gates of `rbench compare` on runs.jsonl fixtures with
 * chosen wall times, peak RSS, perplexity text and identity verdicts, so no
 * outcome depends on this machine's speed or load. Each case is written to
 * two directories (BASE, NEW) and compared through the real rbench binary:
 *   identical                          -> 0, "no regression"
 *   peak RSS +10 %                     -> 1, "peak RSS +" on that row
 *   peak RSS +1 MiB (inside 2 MiB)     -> 0
 *   wall time +50 %, every sample      -> 1, "wall time +" (0 with --no-time-gate)
 *   wall time noise (+-20 %, overlap)  -> 0
 *   wall time +3 % (under 5 %)         -> 0
 *   wall time +50 %, 4 samples         -> 0 (too few samples to judge)
 *   wall time +50 %, other kernel/boot -> 0, "time not compared: baseline from
 *                                         another machine"; 1 with --time-any-machine
 *   same slowdown, memory +10 %, other machine -> 1 (memory still gated)
 *   perplexity text changed            -> 1, "perplexity changed"
 *   an output differs in NEW           -> 1, "identity"
 *   a BASE case missing from NEW       -> 2, "missing from NEW"
 *   a meta line and no run             -> 2 (no qsort of nothing under UBSan)
 *   a NUL byte in BASE, a torn last line in NEW -> 2, the line named
 *   a run that failed in NEW           -> 1, "runs failed"
 * and `rbench compare --paired A B DIR` on one directory holding two named
 * builds (engine field, keys "...|mode|ENGINE"):
 * (time is judged per group, the pairs of its cases pooled; each fixture is
 * one group of two cases, 12 pairs)
 *   ratios around 1 (+-10 %)           -> 0
 *   B 10 % slower in every pair        -> 1, "wall time x1.1"; 0 with --no-time-gate
 *   B 10 % slower, 4 of 12 pairs faster -> 0 (the lower bound is below 1)
 *   B 3 % slower in every pair         -> 0 (under the 5 % slack), 1 with --time-slack 2
 *   generation time 10 % slower, wall in its noise -> 1, "generation time x1.1"
 *   B +30 MiB peak / +40 major faults  -> 1
 *   B's output differs, same class     -> 1 "identity"; other class -> 0
 *   an engine not in the directory     -> 2
 *   --new-engine head against a single-engine BASE -> joins on the plain keys */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include <sys/stat.h>

#include "files.h"
#include "launch.h"
#include "testenv.h"

static char rbench[PATH_MAX], tmp[PATH_MAX];

#define N_REPS 5

/* One case of a fixture: a mode's samples. */
struct fx_case {
    const char *mode;
    double wall_ms[N_REPS];
    double rss_mib;
    const char *ppl_text; /* NULL: a completion case */
    const char *identity; /* "ref", "pass", "differs" */
    const char *status;   /* "ok", "exit", ... */
    int n_reps;           /* 0: N_REPS */
};

struct fx_machine {
    const char *kernel, *boot_id;
};

static const struct fx_machine here = { "6.1.0-test", "11111111-aaaa" };
static const struct fx_machine other = { "6.1.0-other", "22222222-bbbb" };

/* Writes tmp/name/runs.jsonl: a meta line, then N_REPS runs of each case,
 * interleaved as rbench writes them. */
static void fixture(const char *name, const struct fx_machine *m, const struct fx_case *cases, int n_cases)
{
    char dir[PATH_MAX], path[PATH_MAX];
    TFMT(dir, "%s/%s", tmp, name);
    assert_true(mkdir(dir, 0755) == 0);
    TFMT(path, "%s/runs.jsonl", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"type\":\"meta\",\"machine\":{\"host\":\"fx\",\"kernel\":\"%s\",\"arch\":\"x86_64\",\"os\":\"Linux\","
            "\"cpu\":\"Fixture CPU\",\"cpus\":2,\"mem_total\":\"1 kB\",\"boot_id\":\"%s\"},\"engine\":\"minillm\","
            "\"engine_version\":\"fixture\",\"engine_xxh64\":\"0\",\"shard\":\"1/1\",\"n_runs\":0}\n",
            m->kernel, m->boot_id);
    int index = 0;
    for (int rep = 0; rep < N_REPS; rep++)
        for (int k = 0; k < n_cases; k++) {
            const struct fx_case *c = &cases[k];
            if (rep >= (c->n_reps ? c->n_reps : N_REPS))
                continue;
            const char *wl = c->ppl_text ? "perplexity" : "complete";
            fprintf(f,
                    "{\"type\":\"run\",\"index\":%d,\"case\":\"m|f32|%s|t2|warm|%s\",\"group\":\"m|f32|%s|t2\","
                    "\"model\":\"m\",\"quant\":\"f32\",\"workload\":\"%s\",\"threads\":2,\"cache\":\"warm\","
                    "\"mode\":\"%s\",\"rep\":%d,\"status\":\"%s\",\"identity\":\"%s\",\"exit_code\":%d,"
                    "\"signal\":0,\"wall_ns\":%.0f,\"utime_us\":1000,\"stime_us\":1000,\"maxrss_kib\":%.0f,"
                    "\"sampled_peak_kib\":%.0f,\"majflt\":0,\"minflt\":100,\"inblock\":0,\"read_bytes\":0",
                    index++, wl, c->mode, wl, wl, c->mode, rep, c->status ? c->status : "ok",
                    c->identity ? c->identity : "pass", c->status && strcmp(c->status, "exit") == 0 ? 1 : 0,
                    c->wall_ms[rep] * 1e6, c->rss_mib * 1024, c->rss_mib * 1024);
            if (c->identity && strcmp(c->identity, "differs") == 0)
                fputs(",\"diff\":{\"offset\":7,\"ref\":\"abc\",\"new\":\"abd\"}", f);
            if (c->ppl_text)
                fprintf(f, ",\"ppl_text\":\"%s\",\"ppl\":4.0", c->ppl_text);
            fputs("}\n", f);
        }
    assert_int_equal(fclose(f), 0);
}

/* Runs rbench with argv (NULL-terminated, after "rbench"), stdout to tmp/NAME.md and
 * stderr to tmp/NAME.err; the report in rep, the exit code returned. */
static int run_rbench(const char *name, char **args, char *rep, size_t n)
{
    char out[PATH_MAX], err[PATH_MAX];
    TFMT(out, "%s/%s.md", tmp, name);
    TFMT(err, "%s/%s.err", tmp, name);
    char *argv[12] = { rbench };
    for (int i = 0; args[i] && i < 10; i++)
        argv[i + 1] = args[i];
    struct launch_opts o = { .argv = argv, .stdout_path = out, .stderr_path = err, .timeout_s = 60 };
    struct launch_result r;
    assert_int_equal(launch_run(&o, &r, NULL), STATUS_OK);
    char *text;
    assert_int_equal(files_read(out, &text, NULL, NULL), STATUS_OK);
    snprintf(rep, n, "%s", text);
    free(text);
    return r.exit_code;
}

/* rbench compare tmp/base tmp/new [flag]; reports in tmp/base-new.{md,err}. */
static int compare(const char *base, const char *new_dir, const char *flag, char *rep, size_t n)
{
    char b[PATH_MAX], c[PATH_MAX], name[256];
    TFMT(b, "%s/%s", tmp, base);
    TFMT(c, "%s/%s", tmp, new_dir);
    TFMT(name, "%s-%s", base, new_dir);
    char *args[] = { "compare", b, c, (char *)flag, NULL };
    return run_rbench(name, args, rep, n);
}

static const struct fx_case base_cases[] = {
    { "mmap", { 100, 102, 98, 101, 99 }, 500, NULL, "ref", NULL, 0 },
    { "mmap+reclaim", { 100, 101, 99, 100, 100 }, 300, NULL, "pass", NULL, 0 },
    { "mmap", { 200, 201, 199, 202, 198 }, 400, "[1]4.0000,", "ref", NULL, 0 },
};
#define N_BASE (int)(sizeof base_cases / sizeof *base_cases)

/* BASE with one change applied to case k (the rest as in base_cases). */
static void variant(const char *name, const struct fx_machine *m, int k, struct fx_case changed)
{
    struct fx_case c[N_BASE];
    memcpy(c, base_cases, sizeof c);
    if (k >= 0)
        c[k] = changed;
    fixture(name, m, c, N_BASE);
}

static int setup(void **state)
{
    (void)state;
    testenv_path("rbench", rbench, sizeof rbench);
    assert_non_null(testenv_tmpdir(tmp, sizeof tmp));
    fixture("base", &here, base_cases, N_BASE);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    char cmd[PATH_MAX + 16];
    TFMT(cmd, "rm -rf '%s'", tmp);
    return system(cmd) == 0 ? 0 : -1;
}

static const char *row_of(const char *rep, const char *mode_cell)
{
    char key[128];
    snprintf(key, sizeof key, "| m\\|f32\\|%s |", mode_cell);
    return strstr(rep, key);
}

/* The verdict cell of a row says ok (1) or REGRESSION (0). */
static int row_ok(const char *rep, const char *mode_cell)
{
    const char *r = row_of(rep, mode_cell);
    assert_non_null(r);
    const char *eol = strchr(r, '\n');
    const char *ok = strstr(r, "| ok");
    return ok && ok < eol;
}

static void test_identical(void **state)
{
    (void)state;
    char rep[16384];
    variant("same", &here, -1, base_cases[0]);
    assert_int_equal(compare("base", "same", NULL, rep, sizeof rep), 0);
    assert_non_null(strstr(rep, "3 cases compared, 0 regressions, 0 missing: no regression"));
    assert_null(strstr(rep, "time not compared"));
}

/* --md onto a path that cannot be written: exit 2, not a silent 0. */
static void test_md_unwritable(void **state)
{
    (void)state;
    char rep[16384], b[PATH_MAX], md[PATH_MAX];
    TFMT(b, "%s/base", tmp);
    TFMT(md, "%s/no-such-dir/report.md", tmp);
    char *args[] = { "compare", b, b, "--md", md, NULL };
    assert_int_equal(run_rbench("md-unwritable", args, rep, sizeof rep), 2);
}

static void test_memory(void **state)
{
    (void)state;
    char rep[16384];
    struct fx_case fat = base_cases[1];
    fat.rss_mib = 330; /* +10 % */
    variant("fat", &here, 1, fat);
    assert_int_equal(compare("base", "fat", "--no-time-gate", rep, sizeof rep), 1);
    assert_false(row_ok(rep, "complete\\|t2\\|warm\\|mmap+reclaim"));
    assert_non_null(strstr(rep, "peak RSS +30.0 MiB"));
    assert_true(row_ok(rep, "complete\\|t2\\|warm\\|mmap"));

    struct fx_case slack = base_cases[1];
    slack.rss_mib = 301; /* inside max(1 %, 2 MiB) */
    variant("slack", &here, 1, slack);
    assert_int_equal(compare("base", "slack", NULL, rep, sizeof rep), 0);
}

static void test_time(void **state)
{
    (void)state;
    char rep[16384];
    struct fx_case slow = base_cases[2]; /* 200 -> 300 ms */
    for (int i = 0; i < N_REPS; i++)
        slow.wall_ms[i] += 100 + i;
    variant("slow", &here, 2, slow);
    assert_int_equal(compare("base", "slow", NULL, rep, sizeof rep), 1);
    assert_non_null(strstr(rep, "wall time +"));
    assert_false(row_ok(rep, "perplexity\\|t2\\|warm\\|mmap"));
    assert_int_equal(compare("base", "slow", "--no-time-gate", rep, sizeof rep), 0);
    assert_non_null(strstr(rep, "[time gate off]"));

    struct fx_case noise = base_cases[2]; /* overlapping samples, median +10 % */
    static const double nz[N_REPS] = { 160, 240, 220, 180, 250 };
    memcpy(noise.wall_ms, nz, sizeof nz);
    variant("noise", &here, 2, noise);
    assert_int_equal(compare("base", "noise", NULL, rep, sizeof rep), 0);

    struct fx_case small = base_cases[2]; /* every sample +3 %: under the 5 % slack */
    for (int i = 0; i < N_REPS; i++)
        small.wall_ms[i] *= 1.03;
    variant("small", &here, 2, small);
    assert_int_equal(compare("base", "small", "--time-floor=0", rep, sizeof rep), 0);

    struct fx_case few = slow; /* 4 samples: not enough to judge */
    few.n_reps = 4;
    variant("few", &here, 2, few);
    assert_int_equal(compare("base", "few", NULL, rep, sizeof rep), 0);
}

static void test_other_machine(void **state)
{
    (void)state;
    char rep[16384];
    struct fx_case slow = base_cases[2];
    for (int i = 0; i < N_REPS; i++)
        slow.wall_ms[i] += 100 + i;
    variant("elsewhere", &other, 2, slow);
    assert_int_equal(compare("base", "elsewhere", NULL, rep, sizeof rep), 0);
    assert_non_null(strstr(rep, "time not compared: baseline from another machine (kernel"));
    assert_non_null(strstr(rep, "boot_id"));
    assert_non_null(strstr(rep, "[time not compared]"));
    assert_int_equal(compare("base", "elsewhere", "--time-any-machine", rep, sizeof rep), 1);

    /* memory is still gated across machines */
    struct fx_case c[N_BASE];
    memcpy(c, base_cases, sizeof c);
    c[2] = slow;
    c[0].rss_mib = 560;
    fixture("elsewhere-fat", &other, c, N_BASE);
    assert_int_equal(compare("base", "elsewhere-fat", NULL, rep, sizeof rep), 1);
    assert_non_null(strstr(rep, "peak RSS +60.0 MiB"));
    assert_null(strstr(rep, "**REGRESSION**: wall"));
}

static void test_perplexity_identity_failures(void **state)
{
    (void)state;
    char rep[16384];
    struct fx_case ppl = base_cases[2];
    ppl.ppl_text = "[1]4.0001,";
    variant("ppl", &here, 2, ppl);
    assert_int_equal(compare("base", "ppl", NULL, rep, sizeof rep), 1);
    assert_non_null(strstr(rep, "perplexity changed"));
    assert_true(row_ok(rep, "complete\\|t2\\|warm\\|mmap"));

    struct fx_case differs = base_cases[1];
    differs.identity = "differs";
    variant("differs", &here, 1, differs);
    assert_int_equal(compare("base", "differs", NULL, rep, sizeof rep), 1);
    assert_non_null(strstr(rep, "identity: output differs"));

    struct fx_case failed = base_cases[1];
    failed.status = "exit";
    variant("failed", &here, 1, failed);
    assert_int_equal(compare("base", "failed", NULL, rep, sizeof rep), 1);
    assert_non_null(strstr(rep, "runs failed: rep 0 exit 1"));

    /* damaged files are errors naming the line, never a shorter file */
    char path[PATH_MAX], errp[PATH_MAX], *text;
    size_t n;
    fixture("nul", &here, base_cases, N_BASE);
    TFMT(path, "%s/nul/runs.jsonl", tmp);
    assert_int_equal(files_read(path, &text, &n, NULL), STATUS_OK);
    FILE *fp = fopen(path, "r+b");
    assert_non_null(fp);
    assert_int_equal(fseek(fp, (long)(n / 2), SEEK_SET), 0);
    assert_int_equal(fputc(0, fp), 0);
    assert_int_equal(fclose(fp), 0);
    free(text);
    assert_int_equal(compare("nul", "same", NULL, rep, sizeof rep), 2);
    TFMT(errp, "%s/nul-same.err", tmp);
    assert_int_equal(files_read(errp, &text, NULL, NULL), STATUS_OK);
    assert_non_null(strstr(text, "a NUL byte at offset"));
    free(text);
    fixture("torn", &here, base_cases, N_BASE);
    TFMT(path, "%s/torn/runs.jsonl", tmp);
    assert_int_equal(files_read(path, &text, &n, NULL), STATUS_OK);
    assert_int_equal(truncate(path, (off_t)n - 10), 0);
    free(text);
    assert_int_equal(compare("same", "torn", NULL, rep, sizeof rep), 2);
    TFMT(errp, "%s/same-torn.err", tmp);
    assert_int_equal(files_read(errp, &text, NULL, NULL), STATUS_OK);
    assert_non_null(strstr(text, "NEW:"));
    assert_non_null(strstr(text, "the last line has no newline"));
    free(text);

    fixture("meta-only", &here, base_cases, 0); /* no run at all: could not compare, no crash */
    assert_int_equal(compare("meta-only", "meta-only", NULL, rep, sizeof rep), 2);

    fixture("partial", &here, base_cases, N_BASE - 1);
    assert_int_equal(compare("base", "partial", NULL, rep, sizeof rep), 2);
    assert_non_null(strstr(rep, "missing from NEW"));
    assert_non_null(strstr(rep, "- m|f32|perplexity|t2|warm|mmap"));
}

#define AB_REPS 6

struct ab_case {
    const char *mode;
    double wall_a[AB_REPS], wall_b[AB_REPS];
    double rss_a, rss_b, majflt_b;
    const char *identity_b;
    double gen_a[AB_REPS], gen_b[AB_REPS]; /* the engine's generation time; 0: not reported */
};

/* tmp/name/runs.jsonl with engines a and b (identity classes cls_a, cls_b),
 * AB_REPS reps, the two builds' runs of each case side by side. */
static void fixture_ab(const char *name, const char *cls_a, const char *cls_b, const struct ab_case *cases, int n)
{
    char dir[PATH_MAX], path[PATH_MAX];
    TFMT(dir, "%s/%s", tmp, name);
    assert_true(mkdir(dir, 0755) == 0);
    TFMT(path, "%s/runs.jsonl", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f,
            "{\"type\":\"meta\",\"machine\":{\"host\":\"fx\"},\"engines\":[{\"name\":\"a\",\"kind\":\"minillm\","
            "\"identity\":\"%s\"},{\"name\":\"b\",\"kind\":\"minillm\",\"identity\":\"%s\"}]}\n",
            cls_a, cls_b);
    int index = 0;
    for (int rep = 0; rep < AB_REPS; rep++)
        for (int k = 0; k < n; k++)
            for (int e = 0; e < 2; e++) {
                const struct ab_case *c = &cases[k];
                const char *id = e ? (c->identity_b ? c->identity_b : "same") : rep == 0 ? "ref" : "same";
                fprintf(f,
                        "{\"type\":\"run\",\"index\":%d,\"case\":\"m|f32|complete|t2|warm|%s|%s\",\"engine\":\"%s\","
                        "\"mode\":\"%s\",\"rep\":%d,\"status\":\"ok\",\"identity\":\"%s\",\"wall_ns\":%.0f,"
                        "\"maxrss_kib\":%.0f,\"majflt\":%.0f",
                        index++, c->mode, e ? "b" : "a", e ? "b" : "a", c->mode, rep, id,
                        (e ? c->wall_b[rep] : c->wall_a[rep]) * 1e6, (e ? c->rss_b : c->rss_a) * 1024,
                        e ? c->majflt_b : 0.0);
                double g = e ? c->gen_b[rep] : c->gen_a[rep];
                if (g > 0)
                    fprintf(f, ",\"gen_ms\":%.3f", g);
                fputs("}\n", f);
            }
    assert_int_equal(fclose(f), 0);
}

/* rbench compare --paired a b tmp/name [flag] */
static int paired(const char *name, const char *a, const char *flag, char *rep, size_t n)
{
    char d[PATH_MAX], out[256];
    TFMT(d, "%s/%s", tmp, name);
    TFMT(out, "%s-paired", name);
    char *args[] = { "compare", "--paired", (char *)a, "b", d, (char *)flag, NULL };
    return run_rbench(out, args, rep, n);
}

static const struct ab_case ab_same = { "mmap", { 100, 120, 90, 110, 95, 105 }, { 104, 111, 96, 102, 99, 100 },
                                        500, 500, 0, NULL, { 0 }, { 0 } };

/* Two cases (modes read and mmap) of one group, both with c's figures. */
static void ab_variant(const char *name, const struct ab_case *c)
{
    struct ab_case cs[2] = { *c, *c };
    cs[0].mode = "read";
    fixture_ab(name, "minillm", "minillm", cs, 2);
}

static void test_paired(void **state)
{
    (void)state;
    char rep[16384];
    ab_variant("ab-same", &ab_same);
    assert_int_equal(paired("ab-same", "a", NULL, rep, sizeof rep), 0);
    assert_non_null(strstr(rep, "1 groups, 2 cases, 12 pairs, 0 regressions: no regression"));

    struct ab_case slow = ab_same; /* every pair 8-12 % slower, against a drifting machine */
    static const double d[AB_REPS] = { 1.10, 1.12, 1.08, 1.11, 1.09, 1.10 };
    for (int i = 0; i < AB_REPS; i++)
        slow.wall_b[i] = slow.wall_a[i] * d[i];
    ab_variant("ab-slow", &slow);
    assert_int_equal(paired("ab-slow", "a", NULL, rep, sizeof rep), 1);
    assert_non_null(strstr(rep, "wall time x1.10"));
    assert_int_equal(paired("ab-slow", "a", "--no-time-gate", rep, sizeof rep), 0);

    struct ab_case mixed = slow; /* 4 of 12 pairs faster: the median is still +9 %, the lower bound below 1 */
    mixed.wall_b[2] = mixed.wall_a[2] * 0.97;
    mixed.wall_b[4] = mixed.wall_a[4] * 0.97;
    ab_variant("ab-mixed", &mixed);
    assert_int_equal(paired("ab-mixed", "a", NULL, rep, sizeof rep), 0);

    struct ab_case small = ab_same; /* 2-4 % slower in every pair */
    for (int i = 0; i < AB_REPS; i++)
        small.wall_b[i] = small.wall_a[i] * (1.02 + 0.004 * i);
    ab_variant("ab-small", &small);
    assert_int_equal(paired("ab-small", "a", NULL, rep, sizeof rep), 0);
    assert_int_equal(paired("ab-small", "a", "--time-slack=2", rep, sizeof rep), 1);

    struct ab_case fat = ab_same;
    fat.rss_b = 530, fat.majflt_b = 40;
    ab_variant("ab-fat", &fat);
    assert_int_equal(paired("ab-fat", "a", NULL, rep, sizeof rep), 1);
    assert_non_null(strstr(rep, "peak RSS +30.0 MiB"));
    assert_non_null(strstr(rep, "major faults 0 -> 40"));

    struct ab_case differs = ab_same;
    differs.identity_b = "differs";
    ab_variant("ab-differs", &differs);
    assert_int_equal(paired("ab-differs", "a", NULL, rep, sizeof rep), 1);
    assert_non_null(strstr(rep, "identity: 0 run(s) of A and 6 of B differ"));
    struct ab_case cs[1] = { differs };
    fixture_ab("ab-own", "minillm", "own", cs, 1); /* a deliberate output change */
    assert_int_equal(paired("ab-own", "a", NULL, rep, sizeof rep), 0);
    assert_non_null(strstr(rep, "different identity classes"));

    assert_int_equal(paired("ab-same", "nosuch", NULL, rep, sizeof rep), 2);

    /* wall time inside its noise, the engine's own generation time 10 % slower in every pair */
    struct ab_case gen = ab_same;
    for (int i = 0; i < AB_REPS; i++)
        gen.gen_a[i] = 40 + i, gen.gen_b[i] = (40 + i) * (1.09 + 0.004 * i);
    ab_variant("ab-gen", &gen);
    assert_int_equal(paired("ab-gen", "a", NULL, rep, sizeof rep), 1);
    assert_non_null(strstr(rep, "generation time x1.1"));
    assert_null(strstr(rep, "wall time x"));

    /* one build of an A/B directory against a single-engine baseline */
    char b[PATH_MAX], c[PATH_MAX];
    TFMT(b, "%s/base", tmp);
    TFMT(c, "%s/ab-same", tmp);
    char *args[] = { "compare", b, c, "--new-engine", "b", NULL };
    run_rbench("new-engine", args, rep, sizeof rep);
    assert_non_null(strstr(rep, "| m\\|f32\\|complete\\|t2\\|warm\\|mmap |"));
    assert_null(strstr(rep, "mmap\\|b"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identical),
        cmocka_unit_test(test_md_unwritable),
        cmocka_unit_test(test_memory),
        cmocka_unit_test(test_time),
        cmocka_unit_test(test_other_machine),
        cmocka_unit_test(test_perplexity_identity_failures),
        cmocka_unit_test(test_paired),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
