/* fuzz_spec.c: the harness's sweep-file parser on arbitrary text.
 *
 * The input, NUL-terminated, goes through sweep_parse; a sweep it accepts is
 * expanded (the first runs, the last, and a stride through the rest) into
 * runs, groups and keys, whose indices must stay inside the axes. The text is
 * also read as a mode name and as a size, the two parsers called elsewhere. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz.h"
#include "spec.h"

static struct sweep *sw; /* large (fixed-size path arrays): one, on the heap */

void fuzz_spec_init(void)
{
    sw = malloc(sizeof *sw);
    FUZZ_CHECK(sw);
}

static void expand(const struct sweep *s)
{
    size_t n = sweep_n_runs(s), n_groups = sweep_n_groups(s);
    FUZZ_CHECK(n > 0 && sweep_n_selected(s) <= n);
    /* the first 64 runs, the last 64 and 64 spread over the rest */
    for (size_t k = 0; k < 192; k++) {
        size_t at = k < 64 ? k : k < 128 ? n - 1 - (k - 64) : (k - 128) * (n / 64 + 1);
        if (at >= n) /* includes the wrap of n - 1 - j when n is small */
            continue;
        struct sweep_run r;
        sweep_run_at(s, at, &r);
        FUZZ_CHECK(r.index == at);
        FUZZ_CHECK(r.model >= 0 && r.model < s->n_models && r.quant >= 0 && r.quant < s->n_quants);
        FUZZ_CHECK(r.workload >= 0 && r.workload < s->n_workloads && r.mode >= 0 && r.mode < s->n_modes);
        FUZZ_CHECK(r.threads >= 0 && r.threads < s->n_threads && r.cache >= 0 && r.cache < s->n_caches);
        FUZZ_CHECK(r.rep >= 0 && r.rep < s->reps);
        (void)sweep_run_selected(s, &r);
        FUZZ_CHECK(sweep_group_of(s, &r) < n_groups);
        FUZZ_CHECK(sweep_group_ref(s, &r) < n);
        char key[4096];
        sweep_case_key(s, &r, key, sizeof key);
        FUZZ_CHECK(strlen(key) < sizeof key);
        sweep_group_key(s, &r, key, 8); /* truncation is safe */
        sweep_model_label(s->models[r.model], key, sizeof key);
    }
}

int fuzz_spec_one(const uint8_t *data, size_t size)
{
    char *text = malloc(size + 1);
    FUZZ_CHECK(text);
    memcpy(text, data, size);
    text[size] = '\0';
    struct err e = {{0}};
    if (sweep_parse(sw, "fuzz.sweep", text, &e) == STATUS_OK) {
        expand(sw);
        sweep_free(sw);
    } else {
        FUZZ_CHECK(e.msg[0] != '\0');
    }
    if (size < 256) {
        struct sweep_mode m;
        uint64_t bytes;
        (void)sweep_mode_parse(&m, text, NULL);
        (void)sweep_size_parse(text, &bytes, NULL);
    }
    free(text);
    return 0;
}

FUZZ_ENTRY(spec)
