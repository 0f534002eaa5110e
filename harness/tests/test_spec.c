/* test_spec.c: the sweep parser and the expansion order.
 * Handcrafted bad inputs are listed with the message they must produce;
 * the shipped sweeps (harness/sweeps, found from the working directory) must
 * parse. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "spec.h"
#include "testenv.h"

static const char good[] =
    "# a comment\n"
    "engine minillm bin=./fake\n"
    "model stories260K gen:llama-3.2-1b@q4_0   # trailing comment\n"
    "quant f32 Q8_0 q4_0\n"
    "mode mmap mmap+reclaim read mlock no-repack\n"
    "workload complete prompt=\"Once upon a \\\"time\\\"\\n\" n=16 ctx=64\n"
    "workload perplexity file=wiki.test.raw ctx=128 chunks=2\n"
    "threads 1 2\n"
    "cache warm cold\n"
    "reps 3\n"
    "timeout 30\n";

static void test_good(void **state)
{
    (void)state;
    struct sweep *s = calloc(1, sizeof *s);
    struct err e = { "" };
    assert_int_equal(sweep_parse(s, "good.sweep", good, &e), STATUS_OK);
    assert_string_equal(s->engines[0].bin, "./fake");
    assert_int_equal(s->n_models, 2);
    assert_string_equal(s->models[1], "gen:llama-3.2-1b");
    assert_int_equal(s->model_quants[1], 1u << 2);
    assert_string_equal(s->quants[1], "q8_0");
    assert_int_equal(s->n_modes, 5);
    assert_int_equal(s->modes[1].reclaim, SWEEP_RECLAIM_DONTNEED);
    assert_int_equal(s->modes[2].load, SWEEP_LOAD_READ);
    assert_true(s->modes[3].mlock);
    assert_true(s->modes[4].no_repack);
    assert_string_equal(s->workloads[0].prompt, "Once upon a \"time\"\n");
    assert_int_equal(s->workloads[0].n_predict, 16);
    assert_int_equal(s->workloads[1].chunks, 2);
    assert_int_equal(s->n_threads, 2);
    assert_int_equal(s->n_caches, 2);
    assert_int_equal(s->reps, 3);
    assert_true(s->timeout_s == 30);
    /* 2 models x 3 quants x 2 wl x 2 threads x 2 caches x 3 reps x 5 modes */
    assert_int_equal(sweep_n_runs(s), 2 * 3 * 2 * 2 * 2 * 3 * 5);
    /* gen model only in q4_0: 1 of its 3 quants */
    assert_int_equal(sweep_n_selected(s), (3 + 1) * 2 * 2 * 2 * 3 * 5);
    assert_string_equal(s->text, good);
    sweep_free(s);
    free(s);
}

static void test_order_abab(void **state)
{
    (void)state;
    struct sweep *s = calloc(1, sizeof *s);
    assert_int_equal(sweep_parse(s, "g", good, NULL), STATUS_OK);
    struct sweep_run r;
    /* modes alternate fastest, then reps */
    sweep_run_at(s, 0, &r);
    assert_int_equal(r.mode, 0);
    assert_int_equal(r.rep, 0);
    sweep_run_at(s, 1, &r);
    assert_int_equal(r.mode, 1);
    sweep_run_at(s, 5, &r);
    assert_int_equal(r.mode, 0);
    assert_int_equal(r.rep, 1);
    sweep_run_at(s, sweep_n_runs(s) - 1, &r);
    assert_int_equal(r.model, 1);
    assert_int_equal(r.quant, 2);
    /* the group reference is the group's first run */
    sweep_run_at(s, 37, &r);
    size_t ref = sweep_group_ref(s, &r);
    struct sweep_run rr;
    sweep_run_at(s, ref, &rr);
    assert_int_equal(sweep_group_of(s, &rr), sweep_group_of(s, &r));
    assert_int_equal(rr.mode, 0);
    assert_int_equal(rr.rep, 0);
    assert_int_equal(rr.cache, 0);
    char key[512];
    sweep_case_key(s, &r, key, sizeof key);
    assert_string_equal(key, "stories260K|f32|complete|t2|warm|read");
    sweep_free(s);
    free(s);
}

struct bad {
    const char *text;
    const char *msg; /* substring of the error */
};

static const struct bad bads[] = {
    { "model a\nquant f32\nmode mmap\nworkload complete prompt=x\nfrobnicate 3\n", "b.sweep:5: expected a directive" },
    { "model a\nquant f33\n", "b.sweep:2: expected a quant" },
    { "model a\nquant f32\nmode mmap+fast\n", "b.sweep:3: expected mode parts" },
    { "model a\nquant f32\nmode mmap+read\n", "at most one of mmap/read" },
    { "model a\nquant f32\nmode mmap mmap\n", "b.sweep:3: expected a mode not listed before" },
    { "model a b a\nquant f32\n", "b.sweep:1: expected a model not listed before, got 'a'" },
    { "model a\nquant f32 q8_0 Q8_0\n", "b.sweep:2: expected a quant not listed before, got 'Q8_0'" },
    { "model a\nquant f32\nmode mmap\nworkload complete prompt=x\nthreads 1 2 1\n", "b.sweep:5: expected a thread count not listed before, got '1'" },
    { "model a\nquant f32\nmode mmap\nworkload complete n=3\n", "b.sweep:4: expected prompt=" },
    { "model a\nquant f32\nmode mmap\nworkload complete prompt=\"x\n", "b.sweep:4: expected a closing" },
    { "model a\nquant f32\nmode mmap\nworkload perplexity ctx=12\n", "b.sweep:4: expected file=NAME" },
    { "model a\nquant f32\nmode mmap\nworkload perplexity file=f n=3\n", "got 'n=3'" },
    { "model a\nquant f32\nmode mmap\nworkload complete prompt=x\nworkload complete prompt=y\n", "b.sweep:5: expected a workload name not used" },
    { "model a\nquant f32\nmode mmap\nworkload complete prompt=x\nthreads 0\n", "b.sweep:5: expected a thread count" },
    { "model a\nquant f32\nmode mmap\nworkload complete prompt=x\nreps 2 3\n", "b.sweep:5: expected exactly one value, got '3'" },
    { "model a\nquant f32\nmode mmap\nworkload complete prompt=x\ncache hot\n", "b.sweep:5: expected warm or cold, got 'hot'" },
    { "model a\nquant f32\nmode mmap\nworkload complete prompt=x\nmem-limit lots\n", "b.sweep:5: expected a size" },
    { "model a\nquant f32\nmode mmap\nworkload complete prompt=x\nengine gpt\n", "b.sweep:5: expected minillm or llama.cpp after the engine's name" },
    { "engine a/b minillm\n", "b.sweep:1: expected an engine" },
    { "engine minillm\nengine head minillm\n", "b.sweep:2: expected one unnamed engine, or several engines each with a name" },
    { "engine head minillm\nengine llama.cpp\n", "b.sweep:2: expected one unnamed engine" },
    { "engine head minillm\nengine head minillm\n", "b.sweep:2: expected an engine name not used before, got 'head'" },
    { "engine head minillm completion=x\n", "b.sweep:1: expected bin=PATH, modes=LIST or identity=CLASS, got 'completion=x'" },
    { "engine pr llama.cpp identity=a|b\n", "b.sweep:1: expected identity=CLASS" },
    { "engine a minillm modes=mmap,rd\nengine b minillm\nmodel m\nquant f32\nmode mmap read\nworkload complete prompt=x\n", "engine a: expected modes from the mode line in modes=, got 'rd'" },
    { "engine a minillm modes=\n", "b.sweep:1: expected modes=MODE[,MODE...]" },
    { "order shuffled\n", "b.sweep:1: expected order fixed or order random, got 'shuffled'" },
    { "seed -3\n", "b.sweep:1: expected a seed" },
    { "model a\nquant f32\nmode mmap\nworkload complete prompt=x models=c\n", "workload complete: expected models from the model line in models=, got 'c'" },
    { "model a@q8_0\nquant f32\nmode mmap\nworkload complete prompt=x\n", "expected quants from the quant line after '@', got 'q8_0'" },
    { "quant f32\nmode mmap\nworkload complete prompt=x\n", "b.sweep: expected a 'model' line" },
    { "model a\nquant f32\nworkload complete prompt=x\n", "b.sweep: expected a 'mode' line" },
    { "model a\nquant f32\nmode mmap\n", "b.sweep: expected a 'workload' line" },
};

/* Named engines: the expansion, the keys, the identity references and the
 * seeded block order. */
static void test_engines(void **state)
{
    (void)state;
    struct sweep *s = calloc(1, sizeof *s);
    struct err e = { "" };
    const char *text = "engine base minillm bin=./a\nengine head minillm bin=./b\n"
                       "engine stock llama.cpp\nengine pr llama.cpp completion=./c identity=llama.cpp\n"
                       "model m\nquant q4_0\nmode mmap no-repack mmap+reclaim\nworkload complete prompt=x\n"
                       "reps 3\norder random\nseed 7\n";
    assert_int_equal(sweep_parse(s, "e.sweep", text, &e), STATUS_OK);
    assert_int_equal(s->n_engines, 4);
    assert_string_equal(s->engines[1].name, "head");
    assert_string_equal(s->engines[1].bin, "./b");
    assert_string_equal(s->engines[3].identity, "llama.cpp");
    assert_int_equal(s->order_random, 1);
    assert_int_equal((int)s->seed, 7);
    assert_int_equal(sweep_block_len(s), 12);
    assert_int_equal(sweep_n_runs(s), 36);
    struct sweep_run r;
    char key[256];
    sweep_run_at(s, 4, &r); /* rep 0, engine head, mode no-repack */
    assert_int_equal(r.engine, 1);
    assert_int_equal(r.mode, 1);
    sweep_case_key(s, &r, key, sizeof key);
    assert_string_equal(key, "m|q4_0|complete|t1|warm|no-repack|head");
    /* minillm: one class across builds and modes, the reference is base mmap */
    assert_int_equal(sweep_identity_ref(s, &r), 0);
    assert_int_equal(sweep_repack_ref(s, &r), SIZE_MAX);
    /* llama.cpp: repack on and off are two groups, both builds in each */
    sweep_run_at(s, 12 + 9 + 2, &r); /* rep 1, pr, mmap+reclaim */
    assert_int_equal(sweep_identity_ref(s, &r), 6); /* stock mmap */
    sweep_run_at(s, 12 + 9 + 1, &r); /* rep 1, pr, no-repack */
    assert_int_equal(sweep_identity_ref(s, &r), 7); /* stock no-repack */
    assert_int_equal(sweep_repack_ref(s, &r), 6);

    /* the order: a permutation, references first, same for the same seed */
    size_t perm[12], again[12], other[12];
    sweep_block_order(s, 0, perm);
    assert_int_equal(perm[0], 0);
    assert_int_equal(perm[1], 6);
    assert_int_equal(perm[2], 7);
    int seen[12] = { 0 };
    for (int k = 0; k < 12; k++)
        seen[perm[k]]++;
    for (int k = 0; k < 12; k++)
        assert_int_equal(seen[k], 1);
    sweep_block_order(s, 0, again);
    assert_memory_equal(perm, again, sizeof perm);
    int moved = 0;
    for (int k = 0; k < 12; k++)
        moved += perm[k] != (size_t)k;
    assert_true(moved > 3);
    sweep_block_order(s, 12, perm); /* rep 1: no reference, the whole block shuffled */
    s->seed = 8;
    sweep_block_order(s, 12, other);
    assert_memory_not_equal(perm, other, sizeof perm);
    s->order_random = 0;
    sweep_block_order(s, 12, perm);
    for (int k = 0; k < 12; k++)
        assert_int_equal(perm[k], 12 + k);
    sweep_free(s);

    /* a workload restricted to some models: whole groups selected or not */
    assert_int_equal(sweep_parse(s, "e.sweep",
                                 "model a b@q4_0\nquant f32 q4_0\nmode mmap read\nworkload complete prompt=x models=b\n"
                                 "workload perplexity file=f\nreps 2\n",
                                 &e),
                     STATUS_OK);
    assert_int_equal(sweep_n_selected(s), (2 + 1) * 4 + 1 * 4); /* perplexity: a f32, a q4_0, b q4_0; complete: b q4_0 */
    size_t n_sel = 0;
    for (size_t i = 0; i < sweep_n_runs(s); i++) {
        sweep_run_at(s, i, &r);
        if (sweep_run_selected(s, &r)) {
            n_sel++;
            assert_true(r.workload == 1 || r.model == 1);
        }
    }
    assert_int_equal(n_sel, sweep_n_selected(s));
    sweep_free(s);

    /* an engine restricted to some modes: its other modes are not selected,
     * and its class's reference is a mode it runs */
    assert_int_equal(sweep_parse(s, "e.sweep",
                                 "engine stock llama.cpp\nengine pr llama.cpp identity=llama.cpp modes=mmap+reclaim,read\n"
                                 "engine mini minillm modes=read\nmodel m\nquant f32\nmode mmap mmap+reclaim read\n"
                                 "workload complete prompt=x\nreps 2\n",
                                 &e),
                     STATUS_OK);
    assert_int_equal(sweep_n_selected(s), (3 + 2 + 1) * 2);
    n_sel = 0;
    for (size_t i = 0; i < sweep_n_runs(s); i++) {
        sweep_run_at(s, i, &r);
        n_sel += (size_t)sweep_run_selected(s, &r);
        if (r.engine == 1 && r.mode == 0)
            assert_false(sweep_run_selected(s, &r));
        if (r.engine == 2 && sweep_run_selected(s, &r)) {
            size_t ref = sweep_identity_ref(s, &r);
            struct sweep_run rr;
            sweep_run_at(s, ref, &rr);
            assert_int_equal(rr.engine, 2); /* mini read, not the unselected mini mmap */
            assert_int_equal(rr.mode, 2);
        }
    }
    assert_int_equal(n_sel, sweep_n_selected(s));
    sweep_free(s);

    /* a lone engine keeps the old keys */
    assert_int_equal(sweep_parse(s, "e.sweep", "model m\nquant f32\nmode mmap\nworkload complete prompt=x\n", &e),
                     STATUS_OK);
    assert_int_equal(s->n_engines, 1);
    sweep_run_at(s, 0, &r);
    sweep_case_key(s, &r, key, sizeof key);
    assert_string_equal(key, "m|f32|complete|t1|warm|mmap");
    sweep_free(s);
    free(s);
}

static void test_bad(void **state)
{
    (void)state;
    struct sweep *s = calloc(1, sizeof *s);
    for (size_t i = 0; i < sizeof bads / sizeof *bads; i++) {
        struct err e = { "" };
        assert_int_equal(sweep_parse(s, "b.sweep", bads[i].text, &e), STATUS_ERR);
        if (!strstr(e.msg, bads[i].msg))
            fail_msg("case %zu: got \"%s\", want \"%s\"", i, e.msg, bads[i].msg);
        sweep_free(s); /* harmless after a failed parse */
    }
    /* a directory, or a device, is named as such (not "read error") */
    static const char *const not_files[] = { ".", "/dev/zero" };
    for (size_t i = 0; i < 2; i++) {
        struct err e = { "" };
        assert_int_equal(sweep_load(s, not_files[i], &e), STATUS_ERR);
        if (!strstr(e.msg, "not a regular file"))
            fail_msg("%s: got \"%s\"", not_files[i], e.msg);
    }
    free(s);
}

static void test_sizes(void **state)
{
    (void)state;
    uint64_t b;
    assert_int_equal(sweep_size_parse("512M", &b, NULL), STATUS_OK);
    assert_int_equal(b, 512ull << 20);
    assert_int_equal(sweep_size_parse("1.5GiB", &b, NULL), STATUS_OK);
    assert_int_equal(b, 3ull << 29);
    assert_int_equal(sweep_size_parse("4096", &b, NULL), STATUS_OK);
    assert_int_equal(b, 4096);
    assert_int_equal(sweep_size_parse("12X", &b, NULL), STATUS_ERR);
}

static void test_shipped(void **state)
{
    (void)state;
    static const char *const names[] = { "harness/sweeps/smoke.sweep", "harness/sweeps/default.sweep" };
    struct sweep *s = calloc(1, sizeof *s);
    for (size_t i = 0; i < 2; i++) {
        if (access(names[i], R_OK) != 0)
            skip();
        struct err e = { "" };
        if (sweep_load(s, names[i], &e))
            fail_msg("%s", e.msg);
        sweep_free(s);
    }
    free(s);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_good),  cmocka_unit_test(test_order_abab), cmocka_unit_test(test_engines),
        cmocka_unit_test(test_bad),
        cmocka_unit_test(test_sizes), cmocka_unit_test(test_shipped),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
