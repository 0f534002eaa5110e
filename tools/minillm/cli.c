/* cli.c: minillm's option parsing, context checks and the `info` command.
 *
 * Every numeric option is parsed strictly (the whole string, in range); an
 * unknown option or a missing value is a usage error naming the option. */
#include "cli.h"

#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <time.h>
#include <unistd.h>

#include "model/forward.h"
#include "format/gguf.h"
#include "kernels/quant.h"

static void usage_cmd(enum cli_cmd cmd, FILE *f)
{
    if (cmd == CLI_BENCH)
        fprintf(f, "usage: minillm bench -m MODEL [-p 128] [-n 32] [-r 3] [-t T] [-c C] [mode flags]\n"
                   "  -m MODEL     GGUF model file\n"
                   "  -p N         prompt-processing test of N tokens (0: skip; default 128)\n"
                   "  -n N         generation test of N tokens (0: skip; default 32), then the memory\n"
                   "               ceiling: the same tokens, each followed by three passes streaming its\n"
                   "               weights (one stream a thread prefetching into all cache levels, one\n"
                   "               non-temporally, eight streams a thread); tg's share of the fastest\n"
                   "               kind's mean rate\n"
                   "  -r N         repetitions after one warm-up (default 3); output hashes must agree\n");
    else if (cmd == CLI_COMPLETE)
        fprintf(f, "usage: minillm complete -m MODEL -p TEXT [-n N] [-t T] [-c C] [mode flags]\n"
                   "  -m MODEL     GGUF model file\n"
                   "  -p TEXT      prompt (BOS is added as the vocab says)\n"
                   "  -n N         tokens to generate, greedy (default 64; stops early at EOS)\n"
                   "  --logits-digest  end with a digest of every logit vector's raw bits (identity\n"
                   "               down to one ulp of any logit)\n");
    else
        fprintf(f, "usage: minillm perplexity -m MODEL -f FILE [-c C] [--chunks N] [-t T] [mode flags]\n"
                   "  -m MODEL     GGUF model file\n"
                   "  -f FILE      text to score\n"
                   "  --chunks N   score at most N chunks (default: all the text holds)\n");
    fprintf(f, "  -t T         threads (default: online CPUs, at most 8); results do not depend on T\n"
               "  -c C         context length (default %s; at most the model's context_length)\n"
               "  --load mmap|read, --no-mmap, --mlock, --no-repack\n"
               "  --reclaim off|dontneed|evict, --reclaim-mmap-source, --reclaim-at load|end\n"
               "  --mem-report FILE   JSON memory report (phases and plan)\n"
               "  --no-memory-check   skip the check that refuses, before allocating, memory the\n"
               "               limits cannot hold (RLIMIT_AS, the memory cgroup less its reclaimable\n"
               "               file cache, MemAvailable): the kernel decides instead\n"
               "  --no-huge-pages     no transparent-huge-page hint on the repack (and read) buffer:\n"
               "               a faster load for short runs, slower generation; output unchanged\n",
            cmd == CLI_PERPLEXITY ? "512" : cmd == CLI_BENCH ? "max(512, p + n)" : "min(4096, context_length)");
}

static enum status parse_int(const char *opt, const char *s, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno || end == s || *end || v < lo || v > hi) {
        fprintf(stderr, "minillm: %s expects an integer in %ld..%ld, got '%s'\n", opt, lo, hi, s);
        return STATUS_ERR;
    }
    *out = v;
    return STATUS_OK;
}

/* Every option: its name, the commands that take it (a bit per enum cli_cmd)
 * and whether a value follows. An option missing here is unknown. */
#define ALL_CMDS (1u << CLI_COMPLETE | 1u << CLI_PERPLEXITY | 1u << CLI_BENCH)
static const struct cli_opt {
    const char *name;
    unsigned cmds;
    int takes_value;
} cli_opts_table[] = {
    {"--no-mmap", ALL_CMDS, 0},
    {"--mlock", ALL_CMDS, 0},
    {"--no-repack", ALL_CMDS, 0},
    {"--reclaim-mmap-source", ALL_CMDS, 0},
    {"--logits-digest", 1u << CLI_COMPLETE, 0},
    {"--no-memory-check", ALL_CMDS, 0},
    {"--no-huge-pages", ALL_CMDS, 0},
    {"-m", ALL_CMDS, 1},
    {"-p", 1u << CLI_COMPLETE | 1u << CLI_BENCH, 1},
    {"-f", 1u << CLI_PERPLEXITY, 1},
    {"--mem-report", ALL_CMDS, 1},
    {"-r", 1u << CLI_BENCH, 1},
    {"-n", 1u << CLI_COMPLETE | 1u << CLI_BENCH, 1},
    {"-t", ALL_CMDS, 1},
    {"-c", ALL_CMDS, 1},
    {"--chunks", 1u << CLI_PERPLEXITY, 1},
    {"--load", ALL_CMDS, 1},
    {"--reclaim", ALL_CMDS, 1},
    {"--reclaim-at", ALL_CMDS, 1},
};

static const struct cli_opt *cli_opt_find(enum cli_cmd cmd, const char *a)
{
    for (size_t k = 0; k < sizeof cli_opts_table / sizeof *cli_opts_table; k++)
        if (!strcmp(cli_opts_table[k].name, a) && (cli_opts_table[k].cmds & (1u << cmd)))
            return &cli_opts_table[k];
    return NULL;
}

/* One of `names` (NULL-terminated), as its index; -1 after printing the choices. */
static int choice(const char *opt, const char *v, const char *const *names, const char *expects)
{
    for (int k = 0; names[k]; k++)
        if (!strcmp(v, names[k]))
            return k;
    fprintf(stderr, "minillm: %s expects %s, got '%s'\n", opt, expects, v);
    return -1;
}

/* Applies option `a` (known to be valid for cmd) with value v (NULL for a flag). */
static enum status cli_apply(struct cli_opts *o, enum cli_cmd cmd, const char *a, const char *v)
{
    static const char *const loads[] = {"mmap", "read", NULL};
    static const char *const reclaims[] = {"off", "dontneed", "evict", NULL};
    static const char *const ats[] = {"load", "end", NULL};
    long n;
    int k;
    if (!strcmp(a, "--no-mmap"))
        o->load.load = LOAD_READ;
    else if (!strcmp(a, "--mlock"))
        o->load.mlock = 1;
    else if (!strcmp(a, "--no-repack"))
        o->load.repack = 0;
    else if (!strcmp(a, "--reclaim-mmap-source"))
        o->load.reclaim = RECLAIM_DONTNEED;
    else if (!strcmp(a, "--logits-digest"))
        o->logits_digest = 1;
    else if (!strcmp(a, "--no-memory-check"))
        o->load.memory_check = 0;
    else if (!strcmp(a, "--no-huge-pages"))
        o->load.huge_pages = 0;
    else if (!strcmp(a, "-m"))
        o->model = v;
    else if (!strcmp(a, "-p") && cmd == CLI_COMPLETE)
        o->prompt = v;
    else if (!strcmp(a, "-f"))
        o->text_file = v;
    else if (!strcmp(a, "--mem-report")) {
        struct stat mst; /* replaced by rename at the end: only a regular file, or nothing */
        if (lstat(v, &mst) == 0 && !S_ISREG(mst.st_mode)) {
            fprintf(stderr, "minillm: --mem-report %s exists and is not a regular file (a symlink, device or "
                            "directory); refusing to replace it\n", v);
            return STATUS_ERR;
        }
        o->mem_report = v;
    } else if (!strcmp(a, "-p")) { /* bench */
        if (parse_int(a, v, 0, 1 << 16, &n))
            return STATUS_ERR;
        o->n_pp = (int)n;
    } else if (!strcmp(a, "-r")) {
        if (parse_int(a, v, 1, 64, &n))
            return STATUS_ERR;
        o->reps = (int)n;
    } else if (!strcmp(a, "-n")) {
        if (parse_int(a, v, 0, 1 << 20, &n))
            return STATUS_ERR;
        o->n_predict = (int)n;
    } else if (!strcmp(a, "-t")) {
        if (parse_int(a, v, 1, 256, &n))
            return STATUS_ERR;
        o->n_threads = (int)n;
    } else if (!strcmp(a, "-c")) {
        if (parse_int(a, v, 8, 1 << 24, &n))
            return STATUS_ERR;
        o->n_ctx = (int32_t)n;
    } else if (!strcmp(a, "--chunks")) {
        if (parse_int(a, v, 1, INT_MAX, &n))
            return STATUS_ERR;
        o->n_chunks = (int)n;
    } else if (!strcmp(a, "--load")) {
        if ((k = choice(a, v, loads, "mmap or read")) < 0)
            return STATUS_ERR;
        o->load.load = k ? LOAD_READ : LOAD_MMAP;
    } else if (!strcmp(a, "--reclaim")) {
        if ((k = choice(a, v, reclaims, "off, dontneed or evict")) < 0)
            return STATUS_ERR;
        o->load.reclaim = k == 0 ? RECLAIM_OFF : k == 1 ? RECLAIM_DONTNEED : RECLAIM_EVICT;
    } else if (!strcmp(a, "--reclaim-at")) {
        if ((k = choice(a, v, ats, "load or end")) < 0)
            return STATUS_ERR;
        o->load.reclaim_at = k ? RECLAIM_AT_END : RECLAIM_AT_LOAD;
    }
    return STATUS_OK;
}

/* The required options and the defaults that depend on other options. */
static enum status cli_finish(struct cli_opts *o, enum cli_cmd cmd)
{
    if (!o->model) {
        fprintf(stderr, "minillm: -m MODEL is required\n");
        return STATUS_ERR;
    }
    if (cmd == CLI_COMPLETE && !o->prompt) {
        fprintf(stderr, "minillm: -p TEXT is required\n");
        return STATUS_ERR;
    }
    if (cmd == CLI_PERPLEXITY && !o->text_file) {
        fprintf(stderr, "minillm: -f FILE is required\n");
        return STATUS_ERR;
    }
    if (cmd == CLI_PERPLEXITY && !o->n_ctx)
        o->n_ctx = 512;
    if (cmd == CLI_BENCH && !o->n_ctx)
        o->n_ctx = o->n_pp + o->n_predict > 512 ? o->n_pp + o->n_predict : 512;
    if (cmd == CLI_BENCH && o->n_pp + o->n_predict == 0) {
        fprintf(stderr, "minillm: bench: -p and -n are both 0: nothing to measure\n");
        return STATUS_ERR;
    }
    o->load.n_threads = o->n_threads; /* -t also repacks the weights at load */
    return STATUS_OK;
}

enum status cli_parse(struct cli_opts *o, enum cli_cmd cmd, int argc, char **argv)
{
    memset(o, 0, sizeof *o);
    load_opts_default(&o->load);
    o->n_predict = cmd == CLI_BENCH ? 32 : 64;
    o->n_pp = 128;
    o->reps = 3;
    long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
    o->n_threads = ncpu < 1 ? 1 : ncpu > 8 ? 8 : (int)ncpu;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage_cmd(cmd, stdout);
            o->help = 1;
            return STATUS_OK;
        }
        const struct cli_opt *opt = cli_opt_find(cmd, a);
        const char *v = opt && opt->takes_value ? argv[i + 1] : NULL; /* argv[argc] is NULL */
        if (!opt)
            fprintf(stderr, "minillm: unknown option '%s'\n", a);
        else if (opt->takes_value && !v)
            fprintf(stderr, "minillm: option %s needs a value\n", a);
        if (!opt || (opt->takes_value && !v) || cli_apply(o, cmd, a, v))
            goto bad;
        i += opt->takes_value;
    }
    if (cli_finish(o, cmd))
        goto bad;
    return STATUS_OK;
bad:
    usage_cmd(cmd, stderr);
    return STATUS_ERR;
}

enum status cli_check_ctx(int32_t *n_ctx, const struct model *m, struct err *e)
{
    int32_t train = m->cfg.n_ctx_train;
    if (*n_ctx == 0)
        *n_ctx = train < 4096 ? train : 4096;
    if (*n_ctx > train)
        return err_set(e, "-c %d exceeds the model's context_length %d", *n_ctx, train);
    return STATUS_OK;
}

/* ---- info -------------------------------------------------------------------- */

static void print_kv(const struct gguf_kv *kv)
{
    printf("  %-44.*s ", (int)kv->key.len, kv->key.ptr);
    if (kv->type == GGUF_TYPE_STRING) {
        printf("string  \"%.*s\"\n", (int)(kv->strs[0].len > 80 ? 80 : kv->strs[0].len), kv->strs[0].ptr);
        return;
    }
    if (kv->type == GGUF_TYPE_ARRAY) {
        printf("array   %" PRIu64 " x %s", kv->n, gguf_kv_type_name(kv->arr_type));
        if (kv->arr_type == GGUF_TYPE_STRING && kv->n > 0)
            printf("  [\"%.*s\", ...]", (int)(kv->strs[0].len > 24 ? 24 : kv->strs[0].len), kv->strs[0].ptr);
        printf("\n");
        return;
    }
    const uint8_t *p = kv->data;
    static const int size_of[GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    uint64_t u = 0;
    for (int i = size_of[kv->type] - 1; i >= 0; i--)
        u = (u << 8) | p[i];
    switch (kv->type) {
    case GGUF_TYPE_UINT8: printf("u8      %u\n", p[0]); break;
    case GGUF_TYPE_INT8: printf("i8      %d\n", (int8_t)p[0]); break;
    case GGUF_TYPE_BOOL: printf("bool    %s\n", p[0] ? "true" : "false"); break;
    case GGUF_TYPE_UINT16: printf("u16     %u\n", (unsigned)(p[0] | p[1] << 8)); break;
    case GGUF_TYPE_INT16: printf("i16     %d\n", (int16_t)(p[0] | p[1] << 8)); break;
    case GGUF_TYPE_UINT32: printf("u32     %" PRIu32 "\n", (uint32_t)u); break;
    case GGUF_TYPE_INT32: printf("i32     %" PRId32 "\n", (int32_t)(uint32_t)u); break;
    case GGUF_TYPE_UINT64: printf("u64     %" PRIu64 "\n", u); break;
    case GGUF_TYPE_INT64: printf("i64     %" PRId64 "\n", (int64_t)u); break;
    case GGUF_TYPE_FLOAT32: {
        uint32_t w = (uint32_t)u;
        float fl;
        memcpy(&fl, &w, 4);
        printf("f32     %g\n", fl);
        break;
    }
    case GGUF_TYPE_FLOAT64: {
        double d;
        memcpy(&d, &u, 8);
        printf("f64     %g\n", d);
        break;
    }
    default: printf("?\n");
    }
}

int cli_info(int argc, char **argv)
{
    if (argc != 2 || !strcmp(argv[1], "-h") || !strcmp(argv[1], "--help")) {
        fprintf(argc == 2 ? stdout : stderr, "usage: minillm info MODEL\n"
                                             "  prints the metadata, the tensor table and the memory plan of each mode\n");
        return argc == 2 ? 0 : 2;
    }
    const char *path = argv[1];
    struct err e = {{0}};
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* never block on a FIFO */
    struct stat sb;
    if (fd < 0 || fstat(fd, &sb) != 0) {
        fprintf(stderr, "minillm: cannot open %s: %s\n", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return 1;
    }
    if (!S_ISREG(sb.st_mode) || sb.st_size == 0) {
        fprintf(stderr, "minillm: %s %s\n", path, S_ISREG(sb.st_mode) ? "is empty" : "is not a regular file");
        close(fd);
        return 1;
    }
    size_t size = (size_t)sb.st_size;
    void *map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED) {
        fprintf(stderr, "minillm: cannot map %s (%zu bytes): %s\n", path, size, strerror(errno));
        return 1;
    }
    struct gguf_file f;
    if (gguf_parse(&f, map, size, &e)) {
        fprintf(stderr, "minillm: %s: %s\n", path, e.msg);
        munmap(map, size);
        return 1;
    }
    printf("file: %s\nsize: %zu bytes, GGUF v%" PRIu32 ", %" PRIu64 " KV pairs, %" PRIu64
           " tensors, alignment %" PRIu64 ", data at %" PRIu64 "\n\nmetadata:\n",
           path, size, f.version, f.n_kv, f.n_tensors, f.alignment, f.data_offset);
    for (uint64_t i = 0; i < f.n_kv; i++)
        print_kv(&f.kv[i]);
    printf("\ntensors:\n  %-32s %-6s %-22s %14s %14s  %s\n", "name", "type", "shape", "offset", "bytes", "placement");
    uint64_t repack_bytes = 0, inplace_bytes = 0, largest = 0;
    for (uint64_t i = 0; i < f.n_tensors; i++) {
        const struct gguf_tensor *t = &f.tensors[i];
        char shape[64];
        int n = snprintf(shape, sizeof shape, "[%" PRIu64, t->ne[0]);
        for (uint32_t d = 1; d < t->n_dims && n < (int)sizeof shape; d++)
            n += snprintf(shape + n, sizeof shape - (size_t)n, ",%" PRIu64, t->ne[d]);
        snprintf(shape + n, sizeof shape - (size_t)n, "]");
        int rp = model_tensor_repackable(&f, t);
        if (rp) {
            repack_bytes += t->n_bytes;
            largest = t->n_bytes > largest ? t->n_bytes : largest;
        } else {
            inplace_bytes += t->n_bytes;
        }
        printf("  %-32.*s %-6s %-22s %14" PRIu64 " %14" PRIu64 "  %s\n", (int)t->name.len, t->name.ptr,
               gguf_ggml_type_name(t->type), shape, f.data_offset + t->offset, t->n_bytes,
               rp ? "repacked" : "in place");
    }
    /* the same checks a load makes (config, tokenizer, every tensor's name,
     * type and shape), without placing a weight: a file complete refuses is
     * refused here too, and gets no memory plan */
    struct load_opts lo;
    load_opts_default(&lo);
    lo.load = LOAD_READ;
    lo.check_only = 1;
    lo.log = NULL;
    struct model chk;
    if (model_load(&chk, path, &lo, &e)) {
        fprintf(stderr, "minillm: %s cannot be loaded: %s\n", path, e.msg);
        gguf_free(&f);
        munmap(map, size);
        return 1;
    }
    model_free(&chk);
    struct model_config cfg;
    if (model_config_read(&cfg, &f, &e) == STATUS_OK) {
        int32_t n_ctx = cfg.n_ctx_train < 4096 ? cfg.n_ctx_train : 4096;
        struct gguf_kv const *toks;
        cfg.n_vocab = gguf_get_arr(&f, "tokenizer.ggml.tokens", GGUF_TYPE_STRING, &toks, NULL) == STATUS_OK
                          ? (int32_t)toks->n : 0;
        struct mem_plan p = {0};
        context_sizes(&cfg, n_ctx, &p.kv_bytes, &p.scratch_bytes);
        p.file_bytes = size;
        p.header_bytes = f.data_offset;
        p.largest_repacked = largest;
        printf("\nmemory plan at -c %d (KV cache %.1f MiB, scratch %.1f MiB; excludes the process itself):\n", n_ctx,
               (double)p.kv_bytes / 1048576.0, (double)p.scratch_bytes / 1048576.0);
        static const struct {
            const char *name, *load, *reclaim;
            int repack, mlock;
        } modes[] = {
            {"mmap", "mmap", "off", 1, 0},          {"mmap + reclaim", "mmap", "dontneed", 1, 0},
            {"read", "read", "off", 1, 0},          {"mlock", "mmap", "off", 1, 1},
            {"no-repack", "mmap", "off", 0, 0},
        };
        for (size_t k = 0; k < sizeof modes / sizeof modes[0]; k++) {
            p.repacked_bytes = modes[k].repack ? repack_bytes : 0;
            p.inplace_bytes = modes[k].repack ? inplace_bytes : inplace_bytes + repack_bytes;
            p.n_repacked = p.repacked_bytes ? 1 : 0;
            p.largest_repacked = modes[k].repack ? largest : 0;
            p.mlock = modes[k].mlock;
            snprintf(p.load, sizeof p.load, "%s", modes[k].load);
            snprintf(p.reclaim, sizeof p.reclaim, "%s", modes[k].reclaim);
            snprintf(p.reclaim_at, sizeof p.reclaim_at, "load");
            printf("  %-16s repacked %9.1f MiB  in place %9.1f MiB  predicted peak %9.1f MiB\n", modes[k].name,
                   (double)p.repacked_bytes / 1048576.0, (double)p.inplace_bytes / 1048576.0,
                   (double)memreport_predict_peak(&p) / 1048576.0);
        }
    }
    gguf_free(&f);
    munmap(map, size);
    return 0;
}
