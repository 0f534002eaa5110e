/* test_modes.c: output bytes are identical across every memory mode.
 *
 * For stories260K in F32, Q8_0 and Q4_0 (quantized into the build's tmp dir),
 * every combination of load {mmap, read} x mlock {off, on} x reclaim {off,
 * dontneed, evict} x reclaim-at {load, end} x repack {on, off} x threads
 * {1, 2} must produce the same completion text and the same logits bytes at
 * every generated position as the first combination. Also checks the plan:
 * with repack on, quantized models repack tensors; with reclaim on mmap
 * without mlock, bytes are reclaimed. And a batch of tokens gives the same
 * logits bytes as the tokens one at a time while its llama.cpp micro-batch
 * stays below 64 tokens (from 64 on, heads of a multiple of 16 take the tiled
 * attention, as in llama.cpp). And the SIMD levels (the scalar ref, AVX2,
 * AVX-512 VNNI, as far as the CPU goes) give the same bytes as each other,
 * repack on and off, 1 and 2 threads, batch and one at a time, and on a
 * 96-token batch. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "testdata.h"

#include "model/forward.h"
#include "kernels/kernels.h"
#include "model/model.h"
#include "convert/synth.h"
#include "kernels/quant.h"
#include "convert/quantize.h"

static char tmp_dir[1024];

#define N_GEN 24

struct outcome {
    int32_t toks[N_GEN];
    uint64_t logits_hash; /* FNV-1a over the logits bytes of every step */
    struct model_plan plan;
};

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++)
        h = (h ^ b[i]) * 1099511628211ull;
    return h;
}

static void run(const char *path, const struct load_opts *o, int threads, struct outcome *out)
{
    struct model m;
    struct context c;
    struct err e = {{0}};
    if (model_load(&m, path, o, &e))
        fail_msg("%s", e.msg);
    if (context_new(&c, &m, 64, threads, &e))
        fail_msg("%s", e.msg);
    int32_t *toks = NULL;
    size_t n = 0;
    if (tokenizer_encode(&m.tok, "Once upon a time", 16, 1, &toks, &n, &e))
        fail_msg("%s", e.msg);
    const float *logits = NULL;
    for (size_t i = 0; i < n; i++)
        logits = forward(&c, toks[i], (int32_t)i);
    uint64_t h = 1469598103934665603ull;
    for (int g = 0; g < N_GEN; g++) {
        h = fnv(h, logits, sizeof(float) * (size_t)m.cfg.n_vocab);
        int32_t best = 0;
        for (int32_t v = 1; v < m.cfg.n_vocab; v++)
            if (logits[v] > logits[best])
                best = v;
        out->toks[g] = best;
        logits = forward(&c, best, (int32_t)(n + (size_t)g));
    }
    out->logits_hash = h;
    out->plan = m.plan;
    free(toks);
    context_free(&c);
    model_free(&m);
}

static void check_model(const char *path, int quantized)
{
    struct outcome ref, got;
    struct load_opts o;
    load_opts_default(&o);
    o.log = NULL;
    run(path, &o, 1, &ref);
    int n_runs = 0;
    for (int load = 0; load < 2; load++)
        for (int lock = 0; lock < 2; lock++)
            for (int rec = 0; rec < 3; rec++)
                for (int at = 0; at < 2; at++)
                    for (int rp = 0; rp < 2; rp++)
                        for (int t = 1; t <= 2; t++) {
                            o.load = (enum load_mode)load;
                            o.mlock = lock;
                            o.reclaim = (enum reclaim_mode)rec;
                            o.reclaim_at = (enum reclaim_at)at;
                            o.repack = rp == 0;
                            o.n_threads = t == 1 ? 1 : 3; /* the repack split over 3 threads (uneven parts) */
                            run(path, &o, t, &got);
                            n_runs++;
                            if (memcmp(got.toks, ref.toks, sizeof ref.toks) || got.logits_hash != ref.logits_hash)
                                fail_msg("%s: load=%d mlock=%d reclaim=%d at=%d repack=%d t=%d differs from the "
                                         "reference mode",
                                         path, load, lock, rec, at, o.repack, t);
                            /* the plan says what the mode did */
                            if (quantized && o.repack)
                                assert_true(got.plan.n_repacked > 0);
                            if (!o.repack)
                                assert_int_equal(got.plan.n_repacked, 0);
                            int reclaiming = load == 0 && !lock && rec != 0 && o.repack;
                            if (!reclaiming)
                                assert_int_equal(got.plan.reclaimed_bytes, 0);
                            else if (quantized)
                                assert_true(got.plan.reclaimed_bytes > 0);
                            assert_true(got.plan.reclaimed_bytes <= got.plan.repacked_bytes);
                        }
    assert_int_equal(n_runs, 96);
}

/* A batch gives the same logits bytes as the same tokens one at a time. */
static void check_batch(const char *path)
{
    struct model m;
    struct context a, b;
    struct load_opts o;
    struct err e = {{0}};
    load_opts_default(&o);
    o.log = NULL;
    if (model_load(&m, path, &o, &e))
        fail_msg("%s", e.msg);
    if (context_new(&a, &m, 64, 2, &e) || context_new(&b, &m, 64, 1, &e))
        fail_msg("%s", e.msg);
    int32_t toks[48];
    for (int i = 0; i < 48; i++)
        toks[i] = i == 0 ? m.tok.bos_id : (int32_t)((i * 37 + 5) % m.cfg.n_vocab);
    size_t nv = (size_t)m.cfg.n_vocab;
    float *seq = malloc(48 * nv * sizeof(float));
    assert_non_null(seq);
    for (int i = 0; i < 48; i++)
        memcpy(seq + (size_t)i * nv, forward(&b, toks[i], i), nv * sizeof(float));
    /* in batches of n_batch with every position's logits */
    for (int i = 0; i < 48; i += a.n_batch) {
        int n = 48 - i < a.n_batch ? 48 - i : a.n_batch;
        const float *l = forward_batch(&a, toks + i, n, i, 1, 0);
        assert_non_null(l);
        for (int t = 0; t < n; t++)
            if (memcmp(l + (size_t)t * nv, seq + (size_t)(i + t) * nv, nv * sizeof(float)))
                fail_msg("%s: batched logits at position %d differ from one-at-a-time", path, i + t);
    }
    /* and with the last position's logits only, in one call */
    const float *last = forward_batch(&a, toks, 48, 0, 0, 0);
    assert_memory_equal(last, seq + 47 * nv, nv * sizeof(float));
    free(seq);
    context_free(&a);
    context_free(&b);
    model_free(&m);
}

/* A prompt of N_LONG tokens, run as perplexity runs a chunk (calls of
 * n_batch with every position's logits, declared one llama.cpp batch) and as
 * complete runs a prompt (one call, the last position's logits): one
 * micro-batch of N_LONG >= 64 tokens, so heads whose size is a multiple of
 * 16 take the tiled F32 attention (forward.c), and others the F16 one. Both
 * ways give the same bytes; against the tokens one at a time (F16 attention
 * throughout) the last logits differ exactly when the heads are tiled.
 * Returns a hash of every position's logits. */
#define N_LONG 96

static uint64_t run_long(const char *path, const struct load_opts *o, int threads)
{
    struct model m;
    struct context c, one;
    struct err e = {{0}};
    if (model_load(&m, path, o, &e))
        fail_msg("%s", e.msg);
    if (context_new(&c, &m, 128, threads, &e) || context_new(&one, &m, 128, threads, &e))
        fail_msg("%s", e.msg);
    int32_t toks[N_LONG];
    for (int i = 0; i < N_LONG; i++)
        toks[i] = i == 0 ? m.tok.bos_id : (int32_t)((i * 53 + 11) % m.cfg.n_vocab);
    size_t nv = (size_t)m.cfg.n_vocab;
    uint64_t h = 1469598103934665603ull;
    float *last = malloc(nv * sizeof(float));
    assert_non_null(last);
    for (int i = 0; i < N_LONG; i += c.n_batch) {
        int n = N_LONG - i < c.n_batch ? N_LONG - i : c.n_batch;
        const float *l = forward_batch(&c, toks + i, n, i, 1, N_LONG);
        assert_non_null(l);
        h = fnv(h, l, (size_t)n * nv * sizeof(float));
        memcpy(last, l + (size_t)(n - 1) * nv, nv * sizeof(float));
    }
    assert_null(forward_batch(&c, toks, 8, N_LONG - 4, 1, N_LONG)); /* beyond its batch */
    const float *prompt = forward_batch(&c, toks, N_LONG, 0, 0, 0);
    assert_memory_equal(prompt, last, nv * sizeof(float));
    const float *l1 = NULL;
    for (int i = 0; i < N_LONG; i++)
        l1 = forward(&one, toks[i], i);
    int tiled = m.cfg.head_dim % 16 == 0;
    if (tiled != (memcmp(l1, last, nv * sizeof(float)) != 0))
        fail_msg("%s: head size %d, but the batch of %d %s the tokens one at a time", path, m.cfg.head_dim, N_LONG,
                 tiled ? "equals" : "differs from");
    free(last);
    context_free(&c);
    context_free(&one);
    model_free(&m);
    return h;
}

/* Every SIMD level this CPU has (ref forced, AVX2 with VNNI off, the best)
 * against the best level's reference run: repack on and off, 1 and 2
 * threads, the batch check and the long prompt (tiled attention) at each
 * level. */
static void check_levels(const char *path)
{
    struct outcome ref, got;
    struct load_opts o;
    load_opts_default(&o);
    o.log = NULL;
    run(path, &o, 1, &ref);
    uint64_t ref_long = run_long(path, &o, 1);
    static const char *names[] = {"ref", "avx2", "best"};
    for (int level = 0; level < 3; level++) {
        if (level == 1 && !((kernels_cpu_level() >= KERN_AVX2) && (kernels_cpu_level() >= KERN_VNNI)))
            continue; /* without VNNI, "best" is AVX2 already */
        kernels_cap_level(level == 0 ? KERN_REF : level == 1 ? KERN_AVX2 : KERN_BEST);
        for (int rp = 0; rp < 2; rp++)
            for (int t = 1; t <= 2; t++) {
                o.repack = rp == 0;
                run(path, &o, t, &got);
                if (memcmp(got.toks, ref.toks, sizeof ref.toks) || got.logits_hash != ref.logits_hash)
                    fail_msg("%s: SIMD level %s, repack=%d t=%d differs from the best level", path, names[level],
                             o.repack, t);
                if (run_long(path, &o, t) != ref_long)
                    fail_msg("%s: SIMD level %s, repack=%d t=%d: the %d-token batch differs from the best level",
                             path, names[level], o.repack, t, N_LONG);
            }
        check_batch(path);
    }
    kernels_cap_level(KERN_BEST);
}

static void model_path(char *out, size_t cap, const char *type)
{
    char src[1100];
    struct err e = {{0}};
    testdata_path(src, sizeof src, "stories260K.gguf");
    if (!strcmp(type, "f32")) {
        snprintf(out, cap, "%s", src);
        return;
    }
    snprintf(out, cap, "%s/modes-stories260K-%s.gguf", tmp_dir, type);
    if (quantize_file(src, out, type, NULL, &e))
        fail_msg("%s", e.msg);
}

static void test_identity_f32(void **state)
{
    (void)state;
    char p[1200];
    model_path(p, sizeof p, "f32");
    check_model(p, 0);
    check_batch(p);
    check_levels(p);
}

static void test_identity_q8_0(void **state)
{
    (void)state;
    char p[1200];
    model_path(p, sizeof p, "q8_0");
    check_model(p, 1);
    check_batch(p);
    check_levels(p);
    unlink(p);
}

static void test_identity_q4_0(void **state)
{
    (void)state;
    char p[1200];
    model_path(p, sizeof p, "q4_0");
    check_model(p, 1);
    check_batch(p);
    check_levels(p);
    unlink(p);
}

/* K-quants: a generated 256-wide dense model in Q4_K_M (Q4_K matrices,
 * repacked; Q6_K attn_v and ffn_down of some layers and the output, plain). */
static void test_identity_q4_k_m(void **state)
{
    (void)state;
    char p[1200];
    struct err e = {{0}};
    uint32_t target;
    snprintf(p, sizeof p, "%s/modes-tiny-256-q4_k_m.gguf", tmp_dir);
    if (quantize_type_from_name("q4_k_m", &target, &e) || synth_model("tiny-256", target, 11, p, NULL, &e))
        fail_msg("%s", e.msg);
    check_model(p, 1);
    check_batch(p);
    check_levels(p);
    unlink(p);
}

/* A llama-style mixture of experts (generated), F32 and Q4_0: expert
 * slices are repacked and reclaimed like other weights, same bytes. */
static void test_identity_moe(void **state)
{
    (void)state;
    static const struct {
        const char *name;
        uint32_t type;
    } types[] = {{"f32", GGML_TYPE_F32}, {"q4_0", GGML_TYPE_Q4_0}};
    for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
        char p[1200];
        struct err e = {{0}};
        snprintf(p, sizeof p, "%s/modes-tiny-moe-%s.gguf", tmp_dir, types[i].name);
        if (synth_model("tiny-moe", types[i].type, 7, p, NULL, &e))
            fail_msg("%s", e.msg);
        check_model(p, types[i].type != GGML_TYPE_F32);
        check_batch(p);
        check_levels(p);
        unlink(p);
    }
}

int main(void)
{
    if (testdata_tmp_dir(tmp_dir, sizeof tmp_dir) != 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_identity_f32),
        cmocka_unit_test(test_identity_q8_0),
        cmocka_unit_test(test_identity_q4_0),
        cmocka_unit_test(test_identity_q4_k_m),
        cmocka_unit_test(test_identity_moe),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
