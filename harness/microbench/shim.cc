// shim.cc: the one C++ file of the microbenchmarks. It registers the C
// benchmark functions of mb_kernels.c and mb_memory.c with Google Benchmark
// and implements mb.h over benchmark::State.
//
// One binary, two names: build/VARIANT/microbench runs the benchmarks with
// Google Benchmark's own flags (make microbench adds --benchmark_out=FILE);
// build/VARIANT/tests/test_microbench (the same program, linked again under
// that name) is the smoke test `make test` runs: every benchmark a few
// iterations long. Either exits 1 when any identity check failed, and prints
// a closing line with the counts.
#include <benchmark/benchmark.h>

#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "mb.h"

struct mb_state {
    benchmark::State *st;
};

static int g_failures;
static int g_skipped;
static std::string g_tmpdir = ".";

extern "C" {

int mb_run(struct mb_state *s) { return s->st->KeepRunning(); }
int64_t mb_arg(const struct mb_state *s, int i) { return s->st->range(i); }
void mb_pause(struct mb_state *s) { s->st->PauseTiming(); }
void mb_resume(struct mb_state *s) { s->st->ResumeTiming(); }

void mb_bytes(struct mb_state *s, int64_t bytes_per_iter)
{
    s->st->SetBytesProcessed(s->st->iterations() * bytes_per_iter);
}

void mb_items(struct mb_state *s, int64_t items_per_iter)
{
    s->st->SetItemsProcessed(s->st->iterations() * items_per_iter);
}

void mb_time_per(struct mb_state *s, const char *name, double units_per_iter)
{
    // units * iterations / seconds, inverted: seconds per unit.
    s->st->counters[name] = benchmark::Counter(
        units_per_iter, benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void mb_counter(struct mb_state *s, const char *name, double value)
{
    s->st->counters[name] = benchmark::Counter(value);
}

void mb_label(struct mb_state *s, const char *label) { s->st->SetLabel(label); }

void mb_fail(struct mb_state *s, const char *fmt, ...)
{
    char msg[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    g_failures++;
    std::fprintf(stderr, "microbench: IDENTITY FAILURE: %s\n", msg);
    s->st->SkipWithError(msg);
}

void mb_skip(struct mb_state *s, const char *why)
{
    g_skipped++;
    std::string msg = std::string("skipped: ") + why;
    s->st->SkipWithError(msg.c_str());
}

void mb_keep(const void *p)
{
    benchmark::DoNotOptimize(p);
    benchmark::ClobberMemory();
}

const char *mb_tmpdir(void) { return g_tmpdir.c_str(); }

} // extern "C"

static void register_table(const struct mb_bench *t, benchmark::TimeUnit unit, bool real_time)
{
    for (; t->name; t++) {
        const struct mb_bench *b = t;
        auto *r = benchmark::RegisterBenchmark(b->name, [b](benchmark::State &st) {
            struct mb_state ms = {&st};
            b->fn(&ms);
        });
        if (b->n_args)
            r->Args(std::vector<int64_t>(b->args, b->args + b->n_args));
        r->Unit(unit);
        if (real_time)
            r->UseRealTime();
    }
}

// The directory of argv[0]: where the build puts its binaries.
static std::string dir_of(const char *path)
{
    const char *slash = std::strrchr(path, '/');
    return slash ? std::string(path, (size_t)(slash - path)) : std::string(".");
}

int main(int argc, char **argv)
{
    const char *base = std::strrchr(argv[0], '/');
    base = base ? base + 1 : argv[0];
    bool smoke = std::strncmp(base, "test_", 5) == 0;

    // A smoke run shortens every benchmark; flags given on the command line
    // come after and win.
    std::vector<char *> args(argv, argv + argc);
    static char min_time[] = "--benchmark_min_time=0.002";
    if (smoke)
        args.insert(args.begin() + 1, min_time);
    int n = (int)args.size();
    args.push_back(nullptr);
    benchmark::Initialize(&n, args.data());
    if (benchmark::ReportUnrecognizedArguments(n, args.data()))
        return 2;

    const char *tmp = std::getenv("MB_TMPDIR");
    g_tmpdir = tmp && *tmp ? tmp : dir_of(argv[0]);

    register_table(mb_kernel_benches, benchmark::kNanosecond, false);
    register_table(mb_memory_benches, benchmark::kMicrosecond, true);
    size_t n_run = benchmark::RunSpecifiedBenchmarks();
    benchmark::Shutdown();

    std::printf("%s: %zu benchmarks, %d identity failures, %d skipped\n", base, n_run, g_failures, g_skipped);
    return g_failures ? 1 : 0;
}
