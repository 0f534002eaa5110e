/* main.c: the rbench command line. Subcommands: run, compare, merge,
 * summarize, check. Only this file prints usage and picks exit codes
 * (0 ok, 1 failure or regression, 2 usage or could not compare). */
#include "compare.h"
#include "paired.h"
#include "limit.h"
#include "merge.h"
#include "run.h"
#include "spec.h"
#include "summary.h"

#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char usage_main[] =
    "usage: rbench COMMAND [options]\n"
    "\n"
    "Sweeps an LLM engine over models x quants x memory modes x workloads,\n"
    "measures every run, and gates on byte-identical output across modes.\n"
    "\n"
    "commands:\n"
    "  run SWEEP          run a sweep file into a results directory\n"
    "  compare BASE NEW   compare two results directories (exit 1 on regression)\n"
    "  merge OUT DIR...   merge shard directories of one sweep into OUT\n"
    "  summarize DIR      rewrite DIR's summary.csv and summary.md\n"
    "  check SWEEP...     parse sweep files and print their expansion size\n"
    "  limit SWEEP        the smallest memory-cgroup limit at which each case completes\n"
    "\n"
    "`rbench COMMAND --help` describes each. Docs: docs/HARNESS.md.\n";

static const char usage_run[] =
    "usage: rbench run SWEEP [options]\n"
    "  --results DIR      results root (default: results)\n"
    "  --name NAME        run directory name under the root (default: UTC time + sweep)\n"
    "  --out DIR          the run directory itself\n"
    "  --resume           finish an interrupted run dir (--out/--name, else root/latest)\n"
    "  --data-dir DIR     where model/text names are looked up first (also $RB_DATA_DIR)\n"
    "  --cache-dir DIR    quantized/generated models (default: ROOT/cache)\n"
    "  --shard I/N        run only groups with index % N == I-1\n"
    "  --reps N           override the sweep's reps\n"
    "  --timeout SEC      override the sweep's per-run timeout\n"
    "  --mem-limit SIZE   run each run in a memory cgroup limited to SIZE (root)\n"
    "  --progress MODE    auto (default), live, plain\n"
    "  --no-history       do not append to ROOT/history.csv\n"
    "  --quiet            no summary table on stdout\n"
    "exit: 0 all runs ok and identical, 1 failures, 2 could not run\n";

static const char usage_limit[] =
    "usage: rbench limit SWEEP [options]\n"
    "  Finds, for each case of the sweep (reps ignored), the smallest memory-cgroup\n"
    "  limit at which the run completes: exit 0, output identical to a run without a\n"
    "  limit, wall time within --slowdown times its. Bisection from the unconstrained\n"
    "  cgroup peak, then one confirmation run at the minimum. Root (or a delegated\n"
    "  cgroup): v1 memory.limit_in_bytes or v2 memory.max, swap off. The sweep's\n"
    "  `cache warm|cold` axis says where the model's page cache is charged: cold\n"
    "  evicts it before each probe (the run pays for what it reads), warm reads it\n"
    "  first from rbench (outside the run's cgroup). minillm runs get --no-memory-check.\n"
    "  --results DIR      results root (default: results)\n"
    "  --name NAME        directory name under the root (default: UTC time + limit + sweep)\n"
    "  --out DIR          the directory itself\n"
    "  --data-dir DIR     where model/text names are looked up first (also $RB_DATA_DIR)\n"
    "  --cache-dir DIR    quantized/generated models (default: ROOT/cache)\n"
    "  --curve N          also run a ladder of N limits, from the unconstrained peak\n"
    "                     down to 95%% of the minimum (default: none)\n"
    "  --tolerance PCT    stop bisecting within PCT %% of the limit (default 1) ...\n"
    "  --tolerance-mib M  ... or M MiB, whichever is larger (default 8)\n"
    "  --slowdown X       slower than X times the unconstrained run does not complete (10)\n"
    "writes probes.jsonl (every probe), minlimit.csv, curve.csv, limit.json\n"
    "exit: 0 every case found its minimum, 1 some did not, 2 could not start\n";

static const char usage_compare[] =
    "usage: rbench compare BASE NEW [options]\n"
    "       rbench compare --paired A B DIR [--md FILE] [--no-time-gate] [--time-slack PCT]\n"
    "  --paired A B DIR   two named engines of one sweep run interleaved in DIR: time by the\n"
    "                     per-pair ratio B/A (median and sign-test interval; a slowdown fails\n"
    "                     above --time-slack, default 5 %, when the interval excludes no change),\n"
    "                     memory and major faults directly, identity across the builds\n"
    "  --new-engine NAME  compare only NEW's runs of that named engine (e.g. against a\n"
    "                     single-engine baseline)\n"
    "  --common-only      gate the cases both hold; BASE cases missing from NEW are listed only\n"
    "  --md FILE          also write the markdown report to FILE\n"
    "  --no-time-gate     report time changes but never fail on them\n"
    "  --time-floor MS    a slowdown must also exceed MS milliseconds (default 100)\n"
    "  --time-any-machine gate time even when BASE was measured on another machine or boot\n"
    "                     (by default time is then information only)\n"
    "Hard gates: identity, exact perplexity, peak RSS beyond max(1%, 2 MiB).\n"
    "Soft gate: wall time > 5% and > the floor slower, and Mann-Whitney U p < 0.05 (>= 5 samples each).\n"
    "exit: 0 no regression, 1 regression, 2 could not compare (missing cases listed)\n";

static const char usage_merge[] =
    "usage: rbench merge OUT DIR...\n"
    "  Merges run directories of shards of one sweep into OUT (runs.jsonl,\n"
    "  out/, timelines/), then writes OUT's summaries.\n";

static int wants_help(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0)
            return 1;
    return 0;
}

static void self_dir(char *out, size_t n)
{
    ssize_t k = readlink("/proc/self/exe", out, n - 1);
    out[k > 0 ? k : 0] = '\0';
    char *slash = strrchr(out, '/');
    if (slash)
        *slash = '\0';
}

static int cmd_run(int argc, char **argv)
{
    static const struct option opts[] = {
        { "results", required_argument, NULL, 'R' }, { "name", required_argument, NULL, 'n' },
        { "out", required_argument, NULL, 'o' },     { "resume", no_argument, NULL, 'r' },
        { "data-dir", required_argument, NULL, 'd' }, { "cache-dir", required_argument, NULL, 'c' },
        { "shard", required_argument, NULL, 's' },   { "reps", required_argument, NULL, 'p' },
        { "timeout", required_argument, NULL, 't' }, { "mem-limit", required_argument, NULL, 'm' },
        { "progress", required_argument, NULL, 'P' }, { "no-history", no_argument, NULL, 'H' },
        { "quiet", no_argument, NULL, 'q' },         { NULL, 0, NULL, 0 },
    };
    static char self[PATH_MAX];
    struct run_opts o = { .results_root = "results", .progress = -1 };
    self_dir(self, sizeof self);
    o.self_dir = self;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        struct err e;
        switch (c) {
        case 'R': o.results_root = optarg; break;
        case 'n': o.name = optarg; break;
        case 'o': o.out_dir = optarg; break;
        case 'r': o.resume = 1; break;
        case 'd': o.data_dir = optarg; break;
        case 'c': o.cache_dir = optarg; break;
        case 'H': o.no_history = 1; break;
        case 'q': o.quiet = 1; break;
        case 's':
            if (sscanf(optarg, "%d/%d", &o.shard_i, &o.shard_n) != 2 || o.shard_n < 1 || o.shard_i < 1 ||
                o.shard_i > o.shard_n) {
                fprintf(stderr, "rbench run: --shard expects I/N with 1 <= I <= N, got '%s'\n", optarg);
                return 2;
            }
            break;
        case 'p':
            o.reps = atoi(optarg);
            if (o.reps < 1) {
                fprintf(stderr, "rbench run: --reps expects a count >= 1, got '%s'\n", optarg);
                return 2;
            }
            break;
        case 't':
            o.timeout_s = atof(optarg);
            if (!(o.timeout_s > 0)) {
                fprintf(stderr, "rbench run: --timeout expects seconds > 0, got '%s'\n", optarg);
                return 2;
            }
            break;
        case 'm':
            if (sweep_size_parse(optarg, &o.mem_limit_bytes, &e) || !o.mem_limit_bytes) {
                fprintf(stderr, "rbench run: --mem-limit: expected a size like 512M, got '%s'\n", optarg);
                return 2;
            }
            break;
        case 'P':
            if (strcmp(optarg, "auto") == 0)
                o.progress = -1;
            else if (strcmp(optarg, "live") == 0)
                o.progress = 1;
            else if (strcmp(optarg, "plain") == 0)
                o.progress = 0;
            else {
                fprintf(stderr, "rbench run: --progress expects auto, live or plain, got '%s'\n", optarg);
                return 2;
            }
            break;
        default: fputs(usage_run, stderr); return 2;
        }
    }
    if (optind + 1 != argc) {
        fputs(usage_run, stderr);
        return 2;
    }
    o.sweep_path = argv[optind];
    return run_sweep(&o);
}

static int cmd_limit(int argc, char **argv)
{
    static const struct option opts[] = {
        { "results", required_argument, NULL, 'R' },   { "name", required_argument, NULL, 'n' },
        { "out", required_argument, NULL, 'o' },       { "data-dir", required_argument, NULL, 'd' },
        { "cache-dir", required_argument, NULL, 'c' }, { "curve", required_argument, NULL, 'C' },
        { "tolerance", required_argument, NULL, 'T' }, { "tolerance-mib", required_argument, NULL, 'M' },
        { "slowdown", required_argument, NULL, 'S' },  { NULL, 0, NULL, 0 },
    };
    static char self[PATH_MAX];
    struct limit_opts o = { .results_root = "results", .tol_pct = 1.0, .tol_bytes = 8u << 20, .slowdown = 10.0 };
    self_dir(self, sizeof self);
    o.self_dir = self;
    int c;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        char *end = NULL;
        double v = optarg ? strtod(optarg, &end) : 0;
        int bad = strchr("CTMS", c) && optarg && (end == optarg || *end); /* the numeric ones */
        switch (c) {
        case 'R': o.results_root = optarg; break;
        case 'n': o.name = optarg; break;
        case 'o': o.out_dir = optarg; break;
        case 'd': o.data_dir = optarg; break;
        case 'c': o.cache_dir = optarg; break;
        case 'C': bad |= !(v >= 2 && v <= 100) || v != (int)v; o.curve_steps = (int)v; break;
        case 'T': bad |= !(v > 0 && v < 50); o.tol_pct = v; break;
        case 'M': bad |= !(v >= 1 && v < 1e6); o.tol_bytes = (uint64_t)(v * 1048576.0); break;
        case 'S': bad |= !(v > 1 && v < 1000); o.slowdown = v; break;
        default: fputs(usage_limit, stderr); return 2;
        }
        if (bad) {
            fprintf(stderr, "rbench limit: bad value '%s' (--curve 2..100, --tolerance 0..50, --tolerance-mib >= 1, "
                            "--slowdown > 1)\n", optarg);
            return 2;
        }
    }
    if (optind + 1 != argc) {
        fputs(usage_limit, stderr);
        return 2;
    }
    o.sweep_path = argv[optind];
    return limit_run(&o);
}

static int cmd_compare(int argc, char **argv)
{
    static const struct option opts[] = {
        { "md", required_argument, NULL, 'm' }, { "no-time-gate", no_argument, NULL, 'T' },
        { "time-floor", required_argument, NULL, 'F' }, { "time-any-machine", no_argument, NULL, 'A' },
        { "paired", no_argument, NULL, 'P' },           { "new-engine", required_argument, NULL, 'E' },
        { "time-slack", required_argument, NULL, 'S' }, { "common-only", no_argument, NULL, 'C' },
        { NULL, 0, NULL, 0 },
    };
    struct compare_opts o = { .time_gate = 1, .time_floor_ms = COMPARE_TIME_FLOOR_MS };
    struct paired_opts po = { .time_slack = 0.05, .time_gate = 1 };
    int c, paired = 0;
    while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
        if (c == 'm')
            o.md_path = optarg;
        else if (c == 'T')
            o.time_gate = 0;
        else if (c == 'A')
            o.time_any_machine = 1;
        else if (c == 'P')
            paired = 1;
        else if (c == 'E')
            o.new_engine = optarg;
        else if (c == 'C')
            o.common_only = 1;
        else if (c == 'S') {
            char *end;
            po.time_slack = strtod(optarg, &end) / 100;
            if (*end || end == optarg || !(po.time_slack >= 0 && po.time_slack < 10)) {
                fprintf(stderr, "rbench compare: --time-slack expects a percentage >= 0, got '%s'\n", optarg);
                return 2;
            }
        }
        else if (c == 'F') {
            char *end;
            o.time_floor_ms = strtod(optarg, &end);
            if (*end || end == optarg || !(o.time_floor_ms >= 0)) {
                fprintf(stderr, "rbench compare: --time-floor expects milliseconds >= 0, got '%s'\n", optarg);
                return 2;
            }
        } else {
            fputs(usage_compare, stderr);
            return 2;
        }
    }
    if (paired) {
        if (optind + 3 != argc) {
            fputs(usage_compare, stderr);
            return 2;
        }
        po.md_path = o.md_path, po.time_gate = o.time_gate;
        return paired_compare(argv[optind + 2], argv[optind], argv[optind + 1], &po, stdout);
    }
    if (optind + 2 != argc) {
        fputs(usage_compare, stderr);
        return 2;
    }
    return compare_dirs(argv[optind], argv[optind + 1], &o, stdout);
}

static int cmd_merge(int argc, char **argv)
{
    if (argc < 3) {
        fputs(usage_merge, stderr);
        return 2;
    }
    struct err e = { "" };
    if (merge_dirs(argv[1], (const char *const *)argv + 2, (size_t)(argc - 2), &e) ||
        summary_write(argv[1], &e)) {
        fprintf(stderr, "rbench merge: %s\n", e.msg);
        return 1;
    }
    fprintf(stderr, "rbench merge: %d directories -> %s\n", argc - 2, argv[1]);
    return 0;
}

static int cmd_summarize(int argc, char **argv)
{
    if (argc != 2) {
        fputs("usage: rbench summarize DIR\n", stderr);
        return 2;
    }
    struct err e = { "" };
    if (summary_write(argv[1], &e)) {
        fprintf(stderr, "rbench summarize: %s\n", e.msg);
        return 1;
    }
    return 0;
}

static int cmd_check(int argc, char **argv)
{
    if (argc < 2) {
        fputs("usage: rbench check SWEEP...\n", stderr);
        return 2;
    }
    int rc = 0;
    struct sweep *s = calloc(1, sizeof *s);
    if (!s)
        return 1;
    for (int i = 1; i < argc; i++) {
        struct err e = { "" };
        if (sweep_load(s, argv[i], &e)) {
            fprintf(stderr, "%s\n", e.msg);
            rc = 1;
            continue;
        }
        printf("%s: %zu runs in %zu groups (%d models x %d quants x %d workloads x %d threads; "
               "%d caches x %d reps x %d engines x %d modes; order %s)\n",
               argv[i], sweep_n_selected(s), sweep_n_groups(s), s->n_models, s->n_quants, s->n_workloads,
               s->n_threads, s->n_caches, s->reps, s->n_engines, s->n_modes,
               s->order_random ? "random" : "fixed");
        sweep_free(s);
    }
    free(s);
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        fputs(usage_main, argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const char *cmd = argv[1];
    argc--, argv++;
    if (wants_help(argc, argv)) {
        const char *u = strcmp(cmd, "run") == 0       ? usage_run
                        : strcmp(cmd, "compare") == 0 ? usage_compare
                        : strcmp(cmd, "merge") == 0   ? usage_merge
                        : strcmp(cmd, "limit") == 0   ? usage_limit
                                                      : usage_main;
        fputs(u, stdout);
        return 0;
    }
    if (strcmp(cmd, "run") == 0)
        return cmd_run(argc, argv);
    if (strcmp(cmd, "compare") == 0)
        return cmd_compare(argc, argv);
    if (strcmp(cmd, "merge") == 0)
        return cmd_merge(argc, argv);
    if (strcmp(cmd, "summarize") == 0)
        return cmd_summarize(argc, argv);
    if (strcmp(cmd, "check") == 0)
        return cmd_check(argc, argv);
    if (strcmp(cmd, "limit") == 0)
        return cmd_limit(argc, argv);
    fprintf(stderr, "rbench: unknown command '%s'\n\n%s", cmd, usage_main);
    return 2;
}
