/* test_model.c: the engine on real models against llama.cpp's own figures.
 *
 * The expected values are read from the reference file llama.cpp.md (figures
 * measured with llama.cpp, in the test data directory): per-chunk perplexity
 * of stories260K and its greedy completion. Also: a third-party F16 file
 * loads and completes; quantized stories260K stays close to F32; -t 1 and
 * -t 2 give the same bytes. Data comes from $RB_TEST_DATA; missing data fails. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "rng.h"
#include "testdata.h"

#include "run/speed.h"
#include "run/complete.h"
#include "model/forward.h"
#include "model/model.h"
#include "run/perplexity.h"
#include "convert/quantize.h"

static char tmp_dir[1024];

static char *read_all(const char *path)
{
    return testdata_read_path(path).p;
}

/* Parses "[k]v," values out of text into vals; returns the count. */
static int parse_chunks(const char *text, double *vals, int cap)
{
    int n = 0;
    for (const char *p = text; (p = strchr(p, '[')) && n < cap; p++) {
        int k;
        double v;
        if (sscanf(p, "[%d]%lf,", &k, &v) == 2 && k == n + 1)
            vals[n++] = v;
    }
    return n;
}

/* The section of the reference file that starts with `heading`. */
static char *ref_section(const char *heading)
{
    char path[1100];
    testdata_path(path, sizeof path, "llama.cpp.md");
    char *all = read_all(path);
    char *s = strstr(all, heading);
    if (!s)
        fail_msg("reference file lacks the section '%s'", heading);
    char *end = strstr(s + strlen(heading), "\n## ");
    if (end)
        *end = 0;
    char *copy = strdup(s);
    free(all);
    return copy;
}

static char *run_perplexity(const char *model_path, int n_ctx, int chunks, int threads)
{
    struct model m;
    struct context c;
    struct load_opts o;
    struct err e = {{0}};
    char text[1100];
    testdata_path(text, sizeof text, "tinystories_val_sample.txt");
    load_opts_default(&o);
    o.log = NULL;
    if (model_load(&m, model_path, &o, &e))
        fail_msg("%s", e.msg);
    if (context_new(&c, &m, n_ctx, threads, &e))
        fail_msg("%s", e.msg);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    assert_non_null(out);
    if (perplexity_run(&c, text, chunks, out, NULL, NULL, &e))
        fail_msg("%s", e.msg);
    fclose(out);
    context_free(&c);
    model_free(&m);
    return buf;
}

static char *run_complete_opts(const char *model_path, const char *prompt, int n, int threads, int repack,
                               const struct complete_opts *co)
{
    struct model m;
    struct context c;
    struct load_opts o;
    struct err e = {{0}};
    load_opts_default(&o);
    o.log = NULL;
    o.repack = repack;
    if (model_load(&m, model_path, &o, &e))
        fail_msg("%s", e.msg);
    if (context_new(&c, &m, 256, threads, &e))
        fail_msg("%s", e.msg);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    struct complete_stats st;
    if (complete_run(&c, prompt, n, co, out, &st, NULL, &e))
        fail_msg("%s", e.msg);
    fclose(out);
    context_free(&c);
    model_free(&m);
    return buf;
}

static char *run_complete(const char *model_path, const char *prompt, int n, int threads)
{
    return run_complete_opts(model_path, prompt, n, threads, 1, NULL);
}

/* --logits-digest: the same line for every thread count and repack on/off; the
 * one-ulp knob changes the digest and nothing else; the slowdown knob changes
 * nothing in the output. */
static void test_logits_digest(void **state)
{
    (void)state;
    char model[1100];
    testdata_path(model, sizeof model, "stories260K.gguf");
    struct complete_opts co = { .logits_digest = 1 };
    char *a = run_complete_opts(model, "Once upon a time", 12, 1, 1, &co);
    char *b = run_complete_opts(model, "Once upon a time", 12, 3, 0, &co);
    assert_string_equal(a, b);
    const char *line = strstr(a, "logits fnv1a64 ");
    assert_non_null(line);
    assert_non_null(strstr(line, " over 12 vectors of 512\n"));
    char *plain = run_complete(model, "Once upon a time", 12, 2);
    assert_int_equal(strncmp(a, plain, strlen(plain)), 0); /* the text, then the digest line */
    struct complete_opts ulp = { .logits_digest = 1, .test_ulp = 1 };
    char *u = run_complete_opts(model, "Once upon a time", 12, 2, 1, &ulp);
    assert_string_not_equal(a, u);
    assert_int_equal(strncmp(u, plain, strlen(plain)), 0);
    struct complete_opts slow = { .logits_digest = 1, .test_slowdown_pct = 50 };
    char *sl = run_complete_opts(model, "Once upon a time", 12, 2, 1, &slow);
    assert_string_equal(a, sl);
    free(a), free(b), free(plain), free(u), free(sl);
}

static double final_ppl(const char *text)
{
    const char *p = strstr(text, "Final estimate: PPL = ");
    assert_non_null(p);
    return strtod(p + strlen("Final estimate: PPL = "), NULL);
}

static void test_perplexity_matches_llamacpp(void **state)
{
    (void)state;
    char model[1100];
    testdata_path(model, sizeof model, "stories260K.gguf");
    char *ref = ref_section("## stories260K.gguf (F32), perplexity");
    char *got = run_perplexity(model, 256, 40, 2);
    double rv[64], gv[64];
    int nr = parse_chunks(ref, rv, 64), ng = parse_chunks(got, gv, 64);
    assert_int_equal(nr, 40);
    assert_int_equal(ng, 40);
    double worst = 0.0;
    for (int i = 0; i < 40; i++) {
        double d = gv[i] > rv[i] ? gv[i] - rv[i] : rv[i] - gv[i];
        if (d > worst)
            worst = d;
        if (d > 0.0005 + 1e-9)
            fail_msg("chunk %d: %.4f, llama.cpp %.4f", i + 1, gv[i], rv[i]);
    }
    double fr = final_ppl(ref), fg = final_ppl(got);
    printf("# stories260K PPL %.4f (llama.cpp %.4f), worst chunk difference %.4f\n", fg, fr, worst);
    assert_true(fg - fr < 0.0005 + 1e-9 && fr - fg < 0.0005 + 1e-9);
    free(ref);
    free(got);
}

static void test_completion_matches_llamacpp(void **state)
{
    (void)state;
    char model[1100];
    testdata_path(model, sizeof model, "stories260K.gguf");
    char *ref = ref_section("## stories260K.gguf (F32), greedy completion");
    /* the expected text is the indented block after "prints exactly" */
    char *p = strstr(ref, "prints exactly");
    assert_non_null(p);
    p = strstr(p, "\n\n    ");
    assert_non_null(p);
    p += 2;
    char expect[2048] = {0};
    size_t n = 0;
    while (*p == ' ' && !strncmp(p, "    ", 4)) { /* indented lines, indentation removed */
        p += 4;
        while (*p && *p != '\n' && n + 2 < sizeof expect)
            expect[n++] = *p++;
        if (*p == '\n')
            p++;
        expect[n++] = '\n';
    }
    for (int t = 1; t <= 2; t++) {
        char *got = run_complete(model, "Once upon a time", 64, t);
        assert_string_equal(got, expect);
        free(got);
    }
    free(ref);
}

static void test_f16_third_party_model(void **state)
{
    (void)state;
    char model[1100];
    testdata_path(model, sizeof model, "llama-2-tiny-random.gguf");
    char *a = run_complete(model, "Hello world", 16, 1);
    char *b = run_complete(model, "Hello world", 16, 2);
    assert_true(strncmp(a, "Hello world", 11) == 0);
    assert_true(strlen(a) > strlen("Hello world\n")); /* something was generated */
    assert_string_equal(a, b);
    free(a);
    free(b);
}

static void test_quantized_close_to_f32(void **state)
{
    (void)state;
    char model[1100], q[1200];
    struct err e = {{0}};
    testdata_path(model, sizeof model, "stories260K.gguf");
    char *f32 = run_perplexity(model, 256, 40, 2);
    double base = final_ppl(f32);
    static const struct {
        const char *type;
        double tol;
    } cases[] = {{"q8_0", 0.005}, {"q4_0", 0.10}};
    for (size_t i = 0; i < 2; i++) {
        snprintf(q, sizeof q, "%s/stories260K-%s.gguf", tmp_dir, cases[i].type);
        if (quantize_file(model, q, cases[i].type, NULL, &e))
            fail_msg("%s", e.msg);
        char *got = run_perplexity(q, 256, 40, 2);
        double v = final_ppl(got);
        printf("# stories260K %s PPL %.4f vs F32 %.4f (%+.2f%%)\n", cases[i].type, v, base, 100.0 * (v / base - 1.0));
        assert_true(v / base - 1.0 < cases[i].tol);
        assert_true(v / base - 1.0 > -cases[i].tol);
        unlink(q);
        free(got);
    }
    free(f32);
}

/* A Q4_K_M file made by llama-quantize (Q4_K and Q6_K tensors): llama.cpp's
 * perplexity is in the reference file; the K-quant kernels must agree to 0.1%,
 * with repacking on and off giving the same bytes. */
static void test_k_quants_match_llamacpp(void **state)
{
    (void)state;
    char model[1100];
    testdata_path(model, sizeof model, "tiny-random-Q4_K_M.gguf");
    char *ref = ref_section("## tiny-random-Q4_K_M.gguf (K-quant oracle)");
    char *got = run_perplexity(model, 128, 8, 2);
    double fr = final_ppl(ref), fg = final_ppl(got);
    printf("# tiny-random-Q4_K_M PPL %.4f (llama.cpp %.4f, %+.3f%%)\n", fg, fr, 100.0 * (fg / fr - 1.0));
    assert_true(fg / fr - 1.0 < 0.001 && fr / fg - 1.0 < 0.001);
    free(ref);
    free(got);
}

static void test_bad_context_and_model_errors(void **state)
{
    (void)state;
    struct model m;
    struct load_opts o;
    struct err e = {{0}};
    load_opts_default(&o);
    o.log = NULL;
    assert_int_equal(model_load(&m, "/nonexistent/model.gguf", &o, &e), STATUS_ERR);
    assert_non_null(strstr(e.msg, "cannot open"));
    char vocab[1100];
    testdata_path(vocab, sizeof vocab, "ggml-vocab-llama-spm.gguf"); /* a vocab file has no tensors */
    assert_int_equal(model_load(&m, vocab, &o, &e), STATUS_ERR);
    assert_non_null(strstr(e.msg, "tensor")); /* the vocab file holds no tensor at all */
    char gpt2[1100];
    testdata_path(gpt2, sizeof gpt2, "ggml-vocab-gpt-2.gguf");
    assert_int_equal(model_load(&m, gpt2, &o, &e), STATUS_ERR);
    assert_non_null(strstr(e.msg, "unsupported architecture 'gpt2'"));
}

/* A load that needs more anonymous memory than RLIMIT_AS leaves is refused
 * with a message before anything is allocated (in a child, to keep the limit
 * away from the other tests). */
static void test_memory_limit_refused(void **state)
{
    (void)state;
    char model[1100];
    testdata_path(model, sizeof model, "tiny-random-Q4_K_M.gguf"); /* 13.9 MiB of repacked weights */
    int fds[2];
    assert_int_equal(pipe(fds), 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        close(fds[0]);
        FILE *st = fopen("/proc/self/status", "r");
        char line[256];
        unsigned long long vm_kb = 0;
        while (st && fgets(line, sizeof line, st))
            if (!strncmp(line, "VmSize:", 7))
                vm_kb = strtoull(line + 7, NULL, 10);
        if (st)
            fclose(st);
        /* room for the 18 MiB mapping and a little more, not for the repack buffer too */
        struct rlimit rl = {(vm_kb + 24 * 1024) * 1024, (vm_kb + 24 * 1024) * 1024};
        setrlimit(RLIMIT_AS, &rl);
        struct model m;
        struct load_opts o;
        struct err e = {{0}};
        load_opts_default(&o);
        o.log = NULL;
        enum status st2 = model_load(&m, model, &o, &e);
        if (write(fds[1], e.msg, strlen(e.msg) + 1) < 0)
            _exit(3);
        /* --no-memory-check: the check stands aside, and the allocation
         * itself is what fails, with the kernel's own error */
        struct err e2 = {{0}};
        o.memory_check = 0;
        enum status st3 = model_load(&m, model, &o, &e2);
        if (write(fds[1], e2.msg, strlen(e2.msg) + 1) < 0)
            _exit(3);
        _exit(st2 == STATUS_ERR && st3 == STATUS_ERR ? 0 : 1);
    }
    close(fds[1]);
    char msg[1200] = {0};
    size_t n = 0;
    for (ssize_t r; n < sizeof msg - 1 && (r = read(fds[0], msg + n, sizeof msg - 1 - n)) > 0;)
        n += (size_t)r;
    close(fds[0]);
    int wst;
    assert_int_equal(waitpid(pid, &wst, 0), pid);
    assert_true(n > 0);
    const char *unchecked = msg + strlen(msg) + 1;
    printf("# under RLIMIT_AS: %s\n# the same, memory_check = 0: %s\n", msg, unchecked);
    assert_true(WIFEXITED(wst) && WEXITSTATUS(wst) == 0);
    assert_non_null(strstr(msg, "not enough memory"));
    assert_non_null(strstr(msg, "RLIMIT_AS"));
    assert_non_null(strstr(msg, "--no-memory-check"));
    assert_null(strstr(unchecked, "not enough memory"));
    assert_non_null(strstr(unchecked, "cannot allocate"));
}

/* minillm bench: both rows with their hashes, and the bytes per generated
 * token equal to the file's matrices less the embedding table (counted from
 * the tensor table, not from the engine's weights). */
static void test_bench_reports(void **state)
{
    (void)state;
    char model[1100];
    testdata_path(model, sizeof model, "stories260K.gguf");
    struct model m;
    struct context c;
    struct load_opts o;
    struct err e = {{0}};
    load_opts_default(&o);
    o.log = NULL;
    if (model_load(&m, model, &o, &e))
        fail_msg("%s", e.msg);
    if (context_new(&c, &m, 64, 2, &e))
        fail_msg("%s", e.msg);
    char *buf = NULL;
    size_t len = 0;
    FILE *out = open_memstream(&buf, &len);
    struct speed_opts bo = {.n_prompt = 8, .n_gen = 4, .reps = 2};
    if (speed_run(&c, &bo, "stories260K.gguf", out, &e))
        fail_msg("%s", e.msg);
    fclose(out);
    context_free(&c);
    model_free(&m);
    FILE *f = fopen(model, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    size_t size = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *img = malloc(size);
    assert_non_null(img);
    assert_int_equal(fread(img, 1, size, f), size);
    fclose(f);
    struct gguf_file g;
    if (gguf_parse(&g, img, size, &e))
        fail_msg("%s", e.msg);
    unsigned long long want = 0;
    for (uint64_t i = 0; i < g.n_tensors; i++) {
        const struct gguf_tensor *t = &g.tensors[i];
        int is_embd = t->name.len == 17 && !memcmp(t->name.ptr, "token_embd.weight", 17);
        if (t->n_dims == 2 && !is_embd)
            want += t->n_bytes;
    }
    gguf_free(&g);
    free(img);
    assert_non_null(strstr(buf, "| stories260K.gguf | 2 | pp8 | "));
    assert_non_null(strstr(buf, "| stories260K.gguf | 2 | tg4 | "));
    const char *p = strstr(buf, "MB of weights per token (");
    assert_non_null(p);
    unsigned long long got = 0;
    assert_int_equal(sscanf(p, "MB of weights per token (%llu bytes)", &got), 1);
    assert_true(want > 0);
    assert_int_equal(got, want);
    assert_non_null(strstr(buf, "of this machine's memory bandwidth right now"));
    free(buf);
}

/* The greedy choice (two widened passes) picks what the one-pass scan
 * `logits[v] > logits[best]` picks: random values drawn from a few levels so
 * that ties are common, signed zeros, NaNs (never chosen, and at index 0 the
 * scan's answer 0), every length around the 8-lane body and its tail, and a
 * vocabulary-sized row. */
static int32_t greedy_one_pass(const float *x, int32_t n)
{
    int32_t best = 0;
    for (int32_t v = 1; v < n; v++)
        if (x[v] > x[best])
            best = v;
    return best;
}

static void test_greedy_matches_scan(void **state)
{
    (void)state;
    enum { BIG = 128256 };
    float *x = malloc(BIG * sizeof *x);
    assert_non_null(x);
    rng_state = 0x9e3779b97f4a7c15ull;
    for (int trial = 0; trial < 4000; trial++) {
        int32_t n = trial < 3990 ? 1 + (int32_t)(rng_next_u32() % 70) : BIG;
        int levels = 1 + (int)(rng_next_u32() % 6);
        for (int32_t i = 0; i < n; i++) {
            uint32_t r = rng_next_u32();
            x[i] = (float)(int)(r % (uint32_t)levels) - 2.0f;
            if (x[i] == 0.0f && (r & 0x100))
                x[i] = -0.0f;
            if ((r >> 20) % 97 == 0)
                x[i] = NAN;
        }
        if (trial % 7 == 0)
            x[0] = NAN;
        int32_t want = greedy_one_pass(x, n), got = complete_greedy(x, n);
        if (got != want)
            fail_msg("trial %d, n %d: greedy %d, scan %d", trial, n, got, want);
    }
    free(x);
}

int main(void)
{
    if (testdata_tmp_dir(tmp_dir, sizeof tmp_dir) != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_perplexity_matches_llamacpp),
        cmocka_unit_test(test_completion_matches_llamacpp),
        cmocka_unit_test(test_logits_digest),
        cmocka_unit_test(test_f16_third_party_model),
        cmocka_unit_test(test_quantized_close_to_f32),
        cmocka_unit_test(test_k_quants_match_llamacpp),
        cmocka_unit_test(test_bad_context_and_model_errors),
        cmocka_unit_test(test_memory_limit_refused),
        cmocka_unit_test(test_bench_reports),
        cmocka_unit_test(test_greedy_matches_scan),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
