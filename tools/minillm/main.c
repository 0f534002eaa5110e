/* main.c: the minillm command line.
 *
 *   minillm complete   -m MODEL -p TEXT [-n N] [-t T] [-c C] [mode flags]
 *   minillm perplexity -m MODEL -f FILE [-c C] [--chunks N] [-t T] [mode flags]
 *   minillm bench -m MODEL [-p N] [-n N] [-r R] [-t T]
 *   minillm info MODEL
 *   minillm quantize IN OUT TYPE   (f32 f16 q8_0 q4_0 q4_k q6_k q4_k_m)
 *   minillm gen --shape NAME --type T [--seed S] OUT
 *
 * Results go to stdout, diagnostics to stderr. Exit codes: 0 ok, 1 failure,
 * 2 usage. Sections: option parsing, complete, perplexity, info, dispatch. */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "core/clock.h"
#include "model/forward.h"
#include "model/model.h"
#include "run/complete.h"
#include "run/perplexity.h"
#include "run/speed.h"

static void mapped_phase(void *arg)
{
    memreport_phase(arg, "mapped");
}

/* ---- a run: load, context, memory report ------------------------------------ */

/* Loads the model and makes its context, sampling the report's start, mapped
 * and loaded phases. Returns 0, or 1 after printing the error. */
static int run_open(struct cli_opts *o, struct model *m, struct context *c, struct memreport *mr)
{
    struct err e = {{0}};
    memreport_init(mr, o->model, o->mem_report);
    memreport_phase(mr, "start");
    o->load.on_mapped = mapped_phase;
    o->load.on_mapped_arg = mr;
    if (model_load(m, o->model, &o->load, &e)) {
        fprintf(stderr, "minillm: %s\n", e.msg);
        return 1;
    }
    memreport_phase(mr, "loaded");
    int32_t n_ctx = o->n_ctx;
    if (cli_check_ctx(&n_ctx, m, &e) || context_new(c, m, n_ctx, o->n_threads, &e)) {
        fprintf(stderr, "minillm: %s\n", e.msg);
        model_free(m);
        return 1;
    }
    memreport_plan(mr, m, c);
    return 0;
}

/* Ends a run whose work returned rc (0 ok, 1 failed with e): the end phase,
 * the JSON report, the summary, and the frees. Returns the exit code. */
static int run_close(int rc, struct err *e, struct model *m, struct context *c, struct memreport *mr)
{
    if (rc)
        fprintf(stderr, "minillm: %s\n", e->msg);
    memreport_phase(mr, "end");
    if (memreport_write(mr, e) && rc == 0) {
        fprintf(stderr, "minillm: %s\n", e->msg);
        rc = 1;
    }
    memreport_summary(mr, stderr);
    context_free(c);
    model_free(m);
    return rc;
}

/* ---- complete -------------------------------------------------------------- */

static int cmd_complete(int argc, char **argv)
{
    struct cli_opts o;
    struct err e = {{0}};
    if (cli_parse(&o, CLI_COMPLETE, argc, argv))
        return 2;
    if (o.help)
        return 0;
    struct model m;
    struct context c;
    struct memreport mr;
    double t0 = clock_now_s();
    if (run_open(&o, &m, &c, &mr))
        return 1;
    double t_load = clock_now_s() - t0;
    struct complete_stats st;
    /* The test knobs come from the environment (docs/BENCH.md: measuring the nightly gate). */
    const char *slow = getenv("MINILLM_TEST_SLOWDOWN_PCT"), *ulp = getenv("MINILLM_TEST_ULP");
    struct complete_opts co = { .logits_digest = o.logits_digest,
                                .test_slowdown_pct = slow ? strtod(slow, NULL) : 0,
                                .test_ulp = ulp && *ulp && strcmp(ulp, "0") != 0 };
    if (co.test_slowdown_pct > 0 || co.test_ulp)
        fprintf(stderr, "complete: test knobs on: slowdown %.1f %%, ulp %d\n", co.test_slowdown_pct, co.test_ulp);
    int rc = complete_run(&c, o.prompt, o.n_predict, &co, stdout, &st, &mr, &e) ? 1 : 0;
    if (rc == 0)
        fprintf(stderr, "complete: load %.3f s, prompt %zu tokens %.3f s, generated %d tokens %.3f s (%.2f tok/s)\n",
                t_load, st.n_prompt, st.prompt_s, st.n_gen, st.gen_s, st.n_gen > 0 ? st.n_gen / st.gen_s : 0.0);
    return run_close(rc, &e, &m, &c, &mr);
}

/* ---- perplexity ------------------------------------------------------------ */

static int cmd_perplexity(int argc, char **argv)
{
    struct cli_opts o;
    struct err e = {{0}};
    if (cli_parse(&o, CLI_PERPLEXITY, argc, argv))
        return 2;
    if (o.help)
        return 0;
    struct model m;
    struct context c;
    struct memreport mr;
    if (run_open(&o, &m, &c, &mr))
        return 1;
    int rc = perplexity_run(&c, o.text_file, o.n_chunks, stdout, stderr, &mr, &e) ? 1 : 0;
    return run_close(rc, &e, &m, &c, &mr);
}

/* ---- bench ----------------------------------------------------------------- */

static int cmd_bench(int argc, char **argv)
{
    struct cli_opts o;
    struct err e = {{0}};
    if (cli_parse(&o, CLI_BENCH, argc, argv))
        return 2;
    if (o.help)
        return 0;
    struct model m;
    struct context c;
    if (model_load(&m, o.model, &o.load, &e)) {
        fprintf(stderr, "minillm: %s\n", e.msg);
        return 1;
    }
    int32_t n_ctx = o.n_ctx;
    if (n_ctx < o.n_pp || n_ctx < o.n_predict) {
        fprintf(stderr, "minillm: bench: -c %d is smaller than the test lengths\n", n_ctx);
        model_free(&m);
        return 2;
    }
    if (cli_check_ctx(&n_ctx, &m, &e) || context_new(&c, &m, n_ctx, o.n_threads, &e)) {
        fprintf(stderr, "minillm: %s\n", e.msg);
        model_free(&m);
        return 1;
    }
    const char *name = strrchr(o.model, '/') ? strrchr(o.model, '/') + 1 : o.model;
    struct speed_opts bo = {o.n_pp, o.n_predict, o.reps};
    int rc = speed_run(&c, &bo, name, stdout, &e) ? 1 : 0;
    if (rc)
        fprintf(stderr, "minillm: %s\n", e.msg);
    context_free(&c);
    model_free(&m);
    return rc;
}

/* ---- dispatch -------------------------------------------------------------- */

static void usage(FILE *f)
{
    fprintf(f,
            "usage: minillm COMMAND [options]\n"
            "\n"
            "commands:\n"
            "  complete   -m MODEL -p TEXT [-n N] [-t T] [-c C]   greedy completion: prompt + continuation on stdout\n"
            "  perplexity -m MODEL -f FILE [-c C] [--chunks N] [-t T]   perplexity as llama.cpp computes it\n"
            "  bench      -m MODEL [-p 128] [-n 32] [-r 3] [-t T]   prompt and generation tokens/s\n"
            "  info MODEL                                        metadata, tensor table, memory plan\n"
            "  quantize IN OUT TYPE                              quantize a GGUF model (per-tensor fallback); TYPE:\n"
            "                                                    f32, f16, q8_0, q4_0, q4_k, q6_k or q4_k_m\n"
            "  gen --shape NAME --type T [--seed S] OUT          write a synthetic model (shapes: see gen --help)\n"
            "\n"
            "memory modes (complete, perplexity):\n"
            "  --load mmap|read      map the file (default) or read it into anonymous memory (--no-mmap)\n"
            "  --mlock               lock the weights in memory\n"
            "  --no-repack           keep every weight in the file layout\n"
            "  --reclaim off|dontneed|evict   drop the file pages of repacked weights (--reclaim-mmap-source = dontneed)\n"
            "  --reclaim-at load|end after each tensor's copy (default; lowers the peak) or after all copies\n"
            "  --mem-report FILE     write a JSON memory report\n"
            "\n"
            "Run 'minillm COMMAND --help' for the options of one command.\n");
}

/* Results go to stdout: a write that failed (a full disk) fails the command
 * rather than exit 0 with the results cut short. */
static int check_stdout(int rc)
{
    int flush_failed = fflush(stdout) != 0;
    int err = errno;
    if ((flush_failed || ferror(stdout)) && rc == 0) {
        fprintf(stderr, "minillm: cannot write the results to stdout: %s\n",
                flush_failed ? strerror(err) : "write error");
        return 1;
    }
    return rc;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") || !strcmp(cmd, "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(cmd, "--version")) {
        printf("minillm %s\n", CLI_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "complete"))
        return check_stdout(cmd_complete(argc - 1, argv + 1));
    if (!strcmp(cmd, "perplexity"))
        return check_stdout(cmd_perplexity(argc - 1, argv + 1));
    if (!strcmp(cmd, "bench"))
        return cmd_bench(argc - 1, argv + 1);
    if (!strcmp(cmd, "info"))
        return check_stdout(cli_info(argc - 1, argv + 1));
    if (!strcmp(cmd, "quantize"))
        return cli_quantize(argc - 1, argv + 1);
    if (!strcmp(cmd, "gen"))
        return cli_gen(argc - 1, argv + 1);
    fprintf(stderr, "minillm: unknown command '%s'\n\n", cmd);
    usage(stderr);
    return 2;
}
