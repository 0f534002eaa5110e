/* cli_tools.c: the model-writing commands, quantize and gen. */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "convert/quantize.h"
#include "convert/synth.h"
#include "core/clock.h"

int cli_quantize(int argc, char **argv)
{
    if (argc == 2 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
        printf("usage: minillm quantize IN OUT TYPE\n"
               "  TYPE: f32, f16, q8_0, q4_0, q4_k, q6_k or q4_k_m. Matrix weights become TYPE (q4_k_m:\n"
               "  llama.cpp's mix of Q4_K and Q6_K); the output matrix is Q6_K under 4-bit types; vectors\n"
               "  stay f32; a matrix whose row does not divide the block falls back to q8_0 or f16. Each\n"
               "  tensor's choice and its reason are logged.\n");
        return 0;
    }
    if (argc != 4) {
        fprintf(stderr, "usage: minillm quantize IN OUT TYPE   (TYPE: f32 f16 q8_0 q4_0 q4_k q6_k q4_k_m)\n");
        return 2;
    }
    struct err e = {{0}};
    uint32_t type;
    if (quantize_type_from_name(argv[3], &type, &e)) {
        fprintf(stderr, "minillm: %s\n", e.msg);
        return 2;
    }
    double t0 = clock_now_s();
    if (quantize_file(argv[1], argv[2], argv[3], stderr, &e)) {
        fprintf(stderr, "minillm: %s\n", e.msg);
        return 1;
    }
    fprintf(stderr, "quantize: wrote %s in %.2f s\n", argv[2], clock_now_s() - t0);
    return 0;
}

static void gen_usage(FILE *f)
{
    fprintf(f, "usage: minillm gen --shape NAME --type T [--seed S] OUT\n"
               "  writes a llama GGUF with deterministic pseudo-random weights in a real shape\n"
               "  --type  f32, f16, q8_0, q4_0, q4_k, q6_k or q4_k_m (the rules of quantize; norms stay f32)\n"
               "  --seed  64-bit seed (default 1); the same seed gives the same bytes\n"
               "  shapes:");
    for (size_t i = 0; synth_shape_name(i); i++)
        fprintf(f, " %s", synth_shape_name(i));
    fprintf(f, "\n");
}

int cli_gen(int argc, char **argv)
{
    const char *shape = NULL, *type_name = NULL, *out = NULL;
    uint64_t seed = 1;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            gen_usage(stdout);
            return 0;
        }
        if ((!strcmp(a, "--shape") || !strcmp(a, "--type") || !strcmp(a, "--seed")) && i + 1 >= argc) {
            fprintf(stderr, "minillm: gen: %s needs a value\n", a);
            gen_usage(stderr);
            return 2;
        }
        if (!strcmp(a, "--shape")) {
            shape = argv[++i];
        } else if (!strcmp(a, "--type")) {
            type_name = argv[++i];
        } else if (!strcmp(a, "--seed")) {
            char *end;
            errno = 0;
            unsigned long long v = strtoull(argv[++i], &end, 10);
            if (errno || *end || end == argv[i] || argv[i][0] == '-') {
                fprintf(stderr, "minillm: gen: --seed expects a non-negative integer, got '%s'\n", argv[i]);
                return 2;
            }
            seed = v;
        } else if (a[0] == '-' && a[1]) {
            fprintf(stderr, "minillm: gen: unknown option '%s'\n", a);
            gen_usage(stderr);
            return 2;
        } else if (!out) {
            out = a;
        } else {
            fprintf(stderr, "minillm: gen: more than one output file ('%s', '%s')\n", out, a);
            return 2;
        }
    }
    if (!shape || !type_name || !out) {
        fprintf(stderr, "minillm: gen: --shape, --type and OUT are required\n");
        gen_usage(stderr);
        return 2;
    }
    if (!synth_shape_find(shape)) {
        fprintf(stderr, "minillm: gen: unknown shape '%s'\n", shape);
        gen_usage(stderr);
        return 2;
    }
    struct err e = {{0}};
    uint32_t type;
    if (quantize_type_from_name(type_name, &type, &e)) {
        fprintf(stderr, "minillm: gen: %s\n", e.msg);
        return 2;
    }
    double t0 = clock_now_s();
    if (synth_model(shape, type, seed, out, stderr, &e)) {
        fprintf(stderr, "minillm: gen: %s\n", e.msg);
        return 1;
    }
    fprintf(stderr, "gen: wrote %s (%s, %s, seed %llu) in %.2f s\n", out, shape, type_name,
            (unsigned long long)seed, clock_now_s() - t0);
    return 0;
}
