/* test_errors.c: every user-facing failure of the real minillm binary.
 *
 * Each case runs $RB_BUILD/minillm (fork + exec, stderr to a file, an alarm
 * against hangs) and checks the exit code (1 failure, 2 usage), that stderr
 * holds exactly one "minillm: " line and that it says the expected thing,
 * and, for commands that write files, that nothing half-written is left
 * (neither OUT nor a temporary OUT.tmp*). A full disk is simulated with RLIMIT_FSIZE
 * (SIGXFSZ ignored, so writes fail with EFBIG) or a stdout on /dev/full.
 *
 * Sections: running minillm, broken model files (made here from
 * stories260K), the case tables (model files, context and text, CLI values,
 * outputs), main. Data: $RB_TEST_DATA (missing data fails the test). */
#define _XOPEN_SOURCE 700 /* nftw */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <glob.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "format/gguf.h"
#include "format/gguf_write.h"

static char minillm[1024];
static char data_dir[1024];
static char tmp_dir[1024];

/* ---- running minillm --------------------------------------------------------- */

enum out_to { OUT_NULL = 0, OUT_FULL, OUT_FILE };

struct errcase {
    const char *name;
    const char *argv[20]; /* after "minillm"; "@D" = the data folder, "@T" = the temp folder */
    int exit_code;
    const char *msg;      /* must appear in the one "minillm: " line; "usage: ..." =
                           * stderr is that usage text alone (no "minillm: " line) */
    enum out_to out;      /* stdout: /dev/null, /dev/full or @T/stdout.txt */
    long fsize;           /* RLIMIT_FSIZE in bytes, 0 = none */
    const char *absent;   /* "@T/x": neither x nor x.tmp* may exist afterwards */
};

/* Replaces every "@D" with the data folder and "@T" with the temp folder. */
static void expand(char *out, size_t cap, const char *arg)
{
    size_t n = 0;
    out[0] = '\0';
    for (const char *p = arg; *p && n + 1 < cap; p++) {
        const char *sub = p[0] == '@' && p[1] == 'D' ? data_dir : p[0] == '@' && p[1] == 'T' ? tmp_dir : NULL;
        if (sub) {
            n += (size_t)snprintf(out + n, cap - n, "%s", sub);
            p++;
        } else {
            out[n++] = *p;
            out[n] = '\0';
        }
        if (n >= cap)
            fail_msg("argument too long: %s", arg);
    }
}

static int exists(const char *path)
{
    struct stat sb;
    return lstat(path, &sb) == 0;
}

/* Runs one case and checks everything it promises. */
static void run_case(const struct errcase *c)
{
    char args[20][1200];
    char *argv[22];
    int n = 0;
    argv[n++] = minillm;
    for (int i = 0; c->argv[i]; i++, n++) {
        expand(args[i], sizeof args[i], c->argv[i]);
        argv[n] = args[i];
    }
    argv[n] = NULL;
    char out_path[1200];
    snprintf(out_path, sizeof out_path, "%s/stdout.txt", tmp_dir);
    unlink(out_path);
    int pfd[2]; /* stderr through a pipe: a file would fall under the size limit too */
    assert_int_equal(pipe(pfd), 0);

    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        const char *out = c->out == OUT_FULL ? "/dev/full" : c->out == OUT_FILE ? out_path : "/dev/null";
        int fo = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fo < 0 || dup2(fo, 1) < 0 || dup2(pfd[1], 2) < 0)
            _exit(99);
        close(pfd[0]);
        if (c->fsize) {
            struct rlimit rl = {(rlim_t)c->fsize, (rlim_t)c->fsize};
            signal(SIGXFSZ, SIG_IGN); /* a write past the limit fails with EFBIG */
            if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
                _exit(99);
        }
        alarm(300); /* kept across exec: a hang fails the case instead of the suite */
        execv(minillm, argv);
        _exit(98);
    }
    close(pfd[1]);
    size_t cap = 1 << 16, len = 0;
    char *err = malloc(cap);
    assert_non_null(err);
    for (;;) {
        if (len + 1 == cap) {
            cap *= 2;
            err = realloc(err, cap);
            assert_non_null(err);
        }
        ssize_t got = read(pfd[0], err + len, cap - 1 - len);
        if (got < 0 && errno == EINTR)
            continue;
        if (got <= 0)
            break;
        len += (size_t)got;
    }
    err[len] = '\0';
    close(pfd[0]);
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (!WIFEXITED(st))
        fail_msg("%s: minillm killed by signal %d; stderr:\n%s", c->name, WTERMSIG(st), err);
    if (WEXITSTATUS(st) != c->exit_code)
        fail_msg("%s: exit %d, expected %d; stderr:\n%s", c->name, WEXITSTATUS(st), c->exit_code, err);

    if (!strncmp(c->msg, "usage: ", 7)) {
        if (strncmp(err, c->msg, strlen(c->msg)) != 0 || strstr(err, "minillm: "))
            fail_msg("%s: stderr is not '%s...' alone:\n%s", c->name, c->msg, err);
        free(err);
        return;
    }
    /* one "minillm: " line, holding the expected text */
    int n_msg = 0;
    const char *line = NULL;
    for (const char *p = err; *p;) {
        if (!strncmp(p, "minillm: ", 9)) {
            n_msg++;
            line = p;
        }
        const char *nl = strchr(p, '\n');
        p = nl ? nl + 1 : p + strlen(p);
    }
    if (n_msg != 1)
        fail_msg("%s: %d 'minillm: ' lines, expected 1; stderr:\n%s", c->name, n_msg, err);
    size_t line_len = strcspn(line, "\n");
    char msg[2048];
    snprintf(msg, sizeof msg, "%.*s", (int)(line_len < sizeof msg - 1 ? line_len : sizeof msg - 1), line);
    char want[1200];
    expand(want, sizeof want, c->msg);
    if (!strstr(msg, want))
        fail_msg("%s: message '%s' does not say '%s'", c->name, msg, want);
    if (getenv("TEST_ERRORS_VERBOSE")) /* to read every message at once */
        printf("  %-44s exit %d  %s\n", c->name, c->exit_code, msg);

    if (c->absent) {
        char p[1300];
        expand(p, sizeof p, c->absent);
        if (exists(p))
            fail_msg("%s: %s was left behind", c->name, p);
        strcat(p, ".tmp*"); /* the writer's temporary files are OUT.tmpXXXXXX */
        glob_t g;
        if (glob(p, 0, NULL, &g) == 0) {
            char first[1300];
            snprintf(first, sizeof first, "%s", g.gl_pathv[0]);
            globfree(&g);
            fail_msg("%s: %s was left behind", c->name, first);
        }
    }
    free(err);
}

static void run_cases(const struct errcase *cases, size_t n)
{
    for (size_t i = 0; i < n; i++)
        run_case(&cases[i]);
}

/* ---- broken model files -------------------------------------------------------- */

static uint8_t *load(const char *name, size_t *size)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", data_dir, name);
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("test data %s is missing (make data)", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    uint8_t *buf = malloc((size_t)n);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    fclose(f);
    *size = (size_t)n;
    return buf;
}

static void put(const char *name, const void *data, size_t n)
{
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, n, f), n);
    assert_int_equal(fclose(f), 0);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

/* stories260K rewritten through the writer with general.architecture set to
 * `arch`, tensor `tensor` stored as `type` (its bytes zeroed) and, when
 * n_layer > 0, llama.block_count set to it. */
static void put_variant(const char *name, const char *arch, const char *tensor, uint32_t type, uint32_t n_layer)
{
    size_t size;
    uint8_t *buf = load("stories260K.gguf", &size);
    struct gguf_file f;
    struct gguf_writer w;
    struct err e = {{0}};
    char path[1200];
    snprintf(path, sizeof path, "%s/%s", tmp_dir, name);
    assert_int_equal(gguf_parse(&f, buf, size, &e), STATUS_OK);
    assert_int_equal(gguf_writer_open(&w, path, &e), STATUS_OK);
    for (uint64_t i = 0; i < f.n_kv; i++) {
        if (arch && gguf_str_eq(f.kv[i].key, "general.architecture"))
            assert_int_equal(gguf_writer_add_str(&w, "general.architecture", arch, &e), STATUS_OK);
        else if (n_layer && gguf_str_eq(f.kv[i].key, "llama.block_count"))
            assert_int_equal(gguf_writer_add_u32(&w, "llama.block_count", n_layer, &e), STATUS_OK);
        else
            assert_int_equal(gguf_writer_add_kv(&w, &f.kv[i], &e), STATUS_OK);
    }
    for (uint64_t i = 0; i < f.n_tensors; i++) {
        const struct gguf_tensor *t = &f.tensors[i];
        char tname[256];
        snprintf(tname, sizeof tname, "%.*s", (int)t->name.len, t->name.ptr);
        uint32_t ty = tensor && !strcmp(tname, tensor) ? type : t->type;
        assert_int_equal(gguf_writer_add_tensor(&w, tname, t->n_dims, t->ne, ty, &e), STATUS_OK);
    }
    assert_int_equal(gguf_writer_write_header(&w, &e), STATUS_OK);
    for (uint64_t i = 0; i < f.n_tensors; i++) {
        const struct gguf_tensor *t = &f.tensors[i];
        uint64_t n = w.tensors[i].n_bytes;
        if (w.tensors[i].type == t->type) {
            assert_int_equal(gguf_writer_write(&w, gguf_tensor_data(&f, t), n, &e), STATUS_OK);
        } else {
            void *zero = calloc(1, n);
            assert_non_null(zero);
            assert_int_equal(gguf_writer_write(&w, zero, n, &e), STATUS_OK);
            free(zero);
        }
    }
    assert_int_equal(gguf_writer_finish(&w, &e), STATUS_OK);
    gguf_writer_free(&w);
    gguf_free(&f);
    free(buf);
}

/* Every broken file the model-file cases use, in tmp_dir. */
static int setup(void **state)
{
    (void)state;
    size_t size;
    uint8_t *buf = load("stories260K.gguf", &size);
    struct gguf_file f;
    assert_int_equal(gguf_parse(&f, buf, size, NULL), STATUS_OK);
    uint64_t data_off = f.data_offset;
    gguf_free(&f);

    put("empty.gguf", buf, 0);
    put("trunc-magic.gguf", buf, 3);
    put("trunc-counts.gguf", buf, 20);
    put("trunc-kv.gguf", buf, 1000);
    put("trunc-header.gguf", buf, (size_t)data_off - 100);
    put("trunc-data.gguf", buf, size / 2);
    put("trunc-last-byte.gguf", buf, size - 1);

    uint8_t *c = malloc(size);
    assert_non_null(c);
    memcpy(c, buf, size);
    memcpy(c, "GGUX", 4);
    put("bad-magic.gguf", c, size);
    memcpy(c, buf, size);
    put_le32(c + 4, 1);
    put("version-1.gguf", c, size);
    memcpy(c, buf, size);
    put_le32(c + 4, 7);
    put("version-7.gguf", c, size);
    memcpy(c, buf, size);
    c[16] = 0xff, c[17] = 0xff, c[18] = 0xff, c[19] = 0x7f; /* n_kv */
    put("huge-n-kv.gguf", c, size);
    memcpy(c, buf, size);
    uint64_t key_len = c[24] | (uint64_t)c[25] << 8; /* the first key's length (short) */
    put_le32(c + 32 + key_len, 99);                   /* its value type */
    put("bad-kv-type.gguf", c, size);
    free(c);
    free(buf);

    put_variant("arch-gpt2.gguf", "gpt2", NULL, 0, 0);
    put_variant("type-q5_1.gguf", NULL, "blk.0.attn_q.weight", GGML_TYPE_Q5_1, 0);
    put_variant("type-bf16.gguf", NULL, "blk.1.ffn_up.weight", GGML_TYPE_BF16, 0);
    put_variant("block-count.gguf", NULL, NULL, 0, 1000000);

    char path[1200];
    snprintf(path, sizeof path, "%s/unreadable.gguf", tmp_dir);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0000);
    assert_true(fd >= 0);
    close(fd);
    snprintf(path, sizeof path, "%s/fifo.gguf", tmp_dir);
    assert_int_equal(mkfifo(path, 0644), 0); /* opening it for reading must not block */
    snprintf(path, sizeof path, "%s/huge.txt", tmp_dir); /* sparse: 1 GiB + 1, no disk used */
    fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true(fd >= 0);
    assert_int_equal(ftruncate(fd, (1L << 30) + 1), 0);
    close(fd);
    put("short.txt", "Once upon a time there was a cat.\n", 34);
    put("empty.txt", "", 0);
    return 0;
}

static int remove_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    chmod(path, 0700);
    return remove(path);
}

static int teardown(void **state)
{
    (void)state;
    return nftw(tmp_dir, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* ---- the cases ------------------------------------------------------------------ */

#define COMPLETE(model) {"complete", "-m", model, "-p", "Once", "-n", "4", "-t", "1", NULL}

static void test_model_files(void **state)
{
    (void)state;
    static const struct errcase cases[] = {
        {"missing model", COMPLETE("@T/none.gguf"), 1, "cannot open @T/none.gguf: No such file", 0, 0, 0},
        {"model is a directory", COMPLETE("@T"), 1, "@T is not a regular file", 0, 0, 0},
        {"empty model", COMPLETE("@T/empty.gguf"), 1, "@T/empty.gguf is empty", 0, 0, 0},
        {"model is a FIFO", COMPLETE("@T/fifo.gguf"), 1, "@T/fifo.gguf is not a regular file", 0, 0, 0},
        {"info on a FIFO", {"info", "@T/fifo.gguf", NULL}, 1, "@T/fifo.gguf is not a regular file", 0, 0, 0},
        {"info on a device", {"info", "/dev/zero", NULL}, 1, "/dev/zero is not a regular file", 0, 0, 0},
        {"info on an empty file", {"info", "@T/empty.gguf", NULL}, 1, "@T/empty.gguf is empty", 0, 0, 0},
        /* info parses these headers fine; it must still refuse what a load refuses */
        {"info, unsupported architecture", {"info", "@T/arch-gpt2.gguf", NULL}, 1,
         "cannot be loaded: model: unsupported architecture 'gpt2'", 0, 0, 0},
        {"info, unsupported tensor type", {"info", "@T/type-q5_1.gguf", NULL}, 1, "cannot be loaded", 0, 0, 0},
        {"info, block_count beyond the tensors", {"info", "@T/block-count.gguf", NULL}, 1,
         "cannot be loaded: model: block_count", 0, 0, 0},
        {"truncated in the magic", COMPLETE("@T/trunc-magic.gguf"), 1, "truncated file", 0, 0, 0},
        {"truncated in the counts", COMPLETE("@T/trunc-counts.gguf"), 1, "truncated file", 0, 0, 0},
        {"truncated in the KVs", COMPLETE("@T/trunc-kv.gguf"), 1, "larger than the file could hold", 0, 0, 0},
        {"truncated in the tensor infos", COMPLETE("@T/trunc-header.gguf"), 1, "gguf: ", 0, 0, 0},
        {"truncated in the data", COMPLETE("@T/trunc-data.gguf"), 1, "beyond the data section", 0, 0, 0},
        {"last byte missing", COMPLETE("@T/trunc-last-byte.gguf"), 1, "beyond the data section", 0, 0, 0},
        {"truncated, --load read",
         {"complete", "-m", "@T/trunc-data.gguf", "-p", "x", "--load", "read", NULL}, 1,
         "beyond the data section", 0, 0, 0},
        {"truncated, perplexity",
         {"perplexity", "-m", "@T/trunc-data.gguf", "-f", "@D/tinystories_val_sample.txt", NULL}, 1,
         "beyond the data section", 0, 0, 0},
        {"truncated, info", {"info", "@T/trunc-data.gguf", NULL}, 1, "beyond the data section", 0, 0, 0},
        {"bad magic", COMPLETE("@T/bad-magic.gguf"), 1, "magic", 0, 0, 0},
        {"GGUF version 1", COMPLETE("@T/version-1.gguf"), 1, "version 1", 0, 0, 0},
        {"GGUF version 7", COMPLETE("@T/version-7.gguf"), 1, "version 7", 0, 0, 0},
        {"absurd KV count", COMPLETE("@T/huge-n-kv.gguf"), 1, "n_kv", 0, 0, 0},
        {"unknown KV type", COMPLETE("@T/bad-kv-type.gguf"), 1, "type 99", 0, 0, 0},
        {"unsupported architecture", COMPLETE("@T/arch-gpt2.gguf"), 1, "unsupported architecture 'gpt2'", 0, 0, 0},
        {"unsupported tensor type q5_1", COMPLETE("@T/type-q5_1.gguf"), 1, "q5_1", 0, 0, 0},
        {"unsupported tensor type bf16", COMPLETE("@T/type-bf16.gguf"), 1, "bf16", 0, 0, 0},
        {"quantize a truncated model", {"quantize", "@T/trunc-data.gguf", "@T/q.gguf", "q8_0", NULL}, 1,
         "beyond the data section", 0, 0, "@T/q.gguf"},
        {"quantize a missing model", {"quantize", "@T/none.gguf", "@T/q.gguf", "q8_0", NULL}, 1,
         "cannot open @T/none.gguf", 0, 0, "@T/q.gguf"},
    };
    run_cases(cases, sizeof cases / sizeof *cases);
    if (geteuid() != 0) { /* root reads a mode-000 file anyway */
        static const struct errcase unreadable = {
            "unreadable model", COMPLETE("@T/unreadable.gguf"), 1, "Permission denied", 0, 0, 0};
        run_case(&unreadable);
    }
}

static void test_context_and_text(void **state)
{
    (void)state;
    static const struct errcase cases[] = {
        {"context above the model's", {"complete", "-m", "@D/stories260K.gguf", "-p", "x", "-c", "4096", NULL}, 1,
         "-c 4096 exceeds the model's context_length 2048", 0, 0, 0},
        {"perplexity context above the model's",
         {"perplexity", "-m", "@D/stories260K.gguf", "-f", "@D/tinystories_val_sample.txt", "-c", "65536", NULL}, 1,
         "-c 65536 exceeds the model's context_length 2048", 0, 0, 0},
        {"text shorter than one chunk",
         {"perplexity", "-m", "@D/stories260K.gguf", "-f", "@T/short.txt", "-c", "128", NULL}, 1,
         "at least 2 * n_ctx = 256 are needed", 0, 0, 0},
        {"empty text", {"perplexity", "-m", "@D/stories260K.gguf", "-f", "@T/empty.txt", "-c", "128", NULL}, 1,
         "at least 2 * n_ctx = 256 are needed", 0, 0, 0},
        {"missing text", {"perplexity", "-m", "@D/stories260K.gguf", "-f", "@T/none.txt", NULL}, 1,
         "cannot open @T/none.txt", 0, 0, 0},
        {"text is a directory", {"perplexity", "-m", "@D/stories260K.gguf", "-f", "@T", "-c", "128", NULL}, 1,
         "@T is not a regular file", 0, 0, 0},
        {"text is a FIFO (must not block)",
         {"perplexity", "-m", "@D/stories260K.gguf", "-f", "@T/fifo.gguf", "-c", "128", NULL}, 1,
         "@T/fifo.gguf is not a regular file", 0, 0, 0},
        {"text is /dev/zero (must not grow without bound)",
         {"perplexity", "-m", "@D/stories260K.gguf", "-f", "/dev/zero", "-c", "128", NULL}, 1,
         "/dev/zero is not a regular file", 0, 0, 0},
        {"text above the size limit",
         {"perplexity", "-m", "@D/stories260K.gguf", "-f", "@T/huge.txt", "-c", "128", NULL}, 1,
         "the text limit is 1024 MiB", 0, 0, 0},
    };
    run_cases(cases, sizeof cases / sizeof *cases);
}

static void test_cli_values(void **state)
{
    (void)state;
#define C(...) {"complete", "-m", "@D/stories260K.gguf", "-p", "x", __VA_ARGS__, NULL}
#define P(...) {"perplexity", "-m", "@D/stories260K.gguf", "-f", "@D/tinystories_val_sample.txt", __VA_ARGS__, NULL}
    static const struct errcase cases[] = {
        {"no command", {NULL}, 2, "usage: minillm COMMAND", 0, 0, 0},
        {"unknown command", {"completes", NULL}, 2, "unknown command 'completes'", 0, 0, 0},
        {"-n negative", C("-n", "-1"), 2, "-n expects an integer in 0..1048576, got '-1'", 0, 0, 0},
        {"-n not a number", C("-n", "ten"), 2, "-n expects an integer", 0, 0, 0},
        {"-n trailing junk", C("-n", "10x"), 2, "-n expects an integer", 0, 0, 0},
        {"-n too large", C("-n", "99999999999999999999"), 2, "-n expects an integer", 0, 0, 0},
        {"-t zero", C("-t", "0"), 2, "-t expects an integer in 1..256, got '0'", 0, 0, 0},
        {"-t too many", C("-t", "257"), 2, "-t expects an integer in 1..256", 0, 0, 0},
        {"-t empty", C("-t", ""), 2, "-t expects an integer", 0, 0, 0},
        {"-c too small", C("-c", "4"), 2, "-c expects an integer in 8..16777216, got '4'", 0, 0, 0},
        {"-c not a number", C("-c", "1k"), 2, "-c expects an integer", 0, 0, 0},
        {"--load bad", C("--load", "mmapp"), 2, "--load expects mmap or read, got 'mmapp'", 0, 0, 0},
        {"--reclaim bad", C("--reclaim", "yes"), 2, "--reclaim expects off, dontneed or evict, got 'yes'", 0, 0, 0},
        {"--reclaim-at bad", C("--reclaim-at", "start"), 2, "--reclaim-at expects load or end, got 'start'", 0, 0,
         0},
        {"unknown option", C("--turbo", "1"), 2, "unknown option '--turbo'", 0, 0, 0},
        {"option without its value", C("-n"), 2, "option -n needs a value", 0, 0, 0},
        {"unknown option, last", C("--bogus"), 2, "unknown option '--bogus'", 0, 0, 0},
        {"-f is not a complete option", C("-f", "x.txt"), 2, "unknown option '-f'", 0, 0, 0},
        {"complete without -m", {"complete", "-p", "x", NULL}, 2, "-m MODEL is required", 0, 0, 0},
        {"complete without -p", {"complete", "-m", "@D/stories260K.gguf", NULL}, 2, "-p TEXT is required", 0, 0, 0},
        {"--chunks zero", P("--chunks", "0"), 2, "--chunks expects an integer in 1..", 0, 0, 0},
        {"--chunks negative", P("--chunks", "-3"), 2, "--chunks expects an integer", 0, 0, 0},
        {"-p is not a perplexity option", P("-p", "x"), 2, "unknown option '-p'", 0, 0, 0},
        {"-n is not a perplexity option", P("-n", "3"), 2, "unknown option '-n'", 0, 0, 0},
        {"perplexity without -f", {"perplexity", "-m", "@D/stories260K.gguf", NULL}, 2, "-f FILE is required", 0, 0,
         0},
        {"info without a model", {"info", NULL}, 2, "usage: minillm info MODEL", 0, 0, 0},
        {"quantize with two arguments", {"quantize", "@D/stories260K.gguf", "@T/q.gguf", NULL}, 2,
         "usage: minillm quantize IN OUT TYPE", 0, 0,
         "@T/q.gguf"},
        {"quantize to an unknown type", {"quantize", "@D/stories260K.gguf", "@T/q.gguf", "q5_0", NULL}, 2,
         "unknown type 'q5_0'", 0, 0, "@T/q.gguf"},
        {"gen without --shape", {"gen", "--type", "q4_0", "@T/g.gguf", NULL}, 2, "--shape, --type and OUT are required",
         0, 0, "@T/g.gguf"},
        {"gen unknown shape", {"gen", "--shape", "huge", "--type", "q4_0", "@T/g.gguf", NULL}, 2,
         "unknown shape 'huge'", 0, 0, "@T/g.gguf"},
        {"gen unknown type", {"gen", "--shape", "tiny", "--type", "q3", "@T/g.gguf", NULL}, 2, "unknown type 'q3'", 0,
         0, "@T/g.gguf"},
        {"gen negative seed", {"gen", "--shape", "tiny", "--type", "f16", "--seed", "-1", "@T/g.gguf", NULL}, 2,
         "--seed expects a non-negative integer, got '-1'", 0, 0, "@T/g.gguf"},
        {"gen seed not a number", {"gen", "--shape", "tiny", "--type", "f16", "--seed", "0x10", "@T/g.gguf", NULL}, 2,
         "--seed expects a non-negative integer", 0, 0, "@T/g.gguf"},
        {"gen option without its value", {"gen", "--shape", "tiny", "--type", NULL}, 2, "--type needs a value", 0, 0,
         0},
        {"gen two outputs", {"gen", "--shape", "tiny", "--type", "f16", "@T/g.gguf", "@T/h.gguf", NULL}, 2,
         "more than one output file", 0, 0, "@T/g.gguf"},
        {"gen unknown option", {"gen", "--shape", "tiny", "--type", "f16", "--fast", "@T/g.gguf", NULL}, 2,
         "unknown option '--fast'", 0, 0, "@T/g.gguf"},
    };
#undef C
#undef P
    run_cases(cases, sizeof cases / sizeof *cases);
}

static void test_outputs(void **state)
{
    (void)state;
    static const struct errcase cases[] = {
        {"mem-report in a missing directory",
         {"complete", "-m", "@D/stories260K.gguf", "-p", "x", "-n", "2", "--mem-report", "@T/nodir/r.json", NULL}, 1,
         "mem-report: cannot write @T/nodir/r.json", 0, 0, 0},
        {"mem-report onto a directory",
         {"complete", "-m", "@D/stories260K.gguf", "-p", "x", "-n", "2", "--mem-report", "@T/adir", NULL}, 2,
         "--mem-report @T/adir exists and is not a regular file", 0, 0, 0},
        {"mem-report onto a device node (replaced by rename before)",
         {"complete", "-m", "@D/stories260K.gguf", "-p", "x", "-n", "2", "--mem-report", "/dev/null", NULL}, 2,
         "--mem-report /dev/null exists and is not a regular file", 0, 0, 0},
        {"mem-report on a full disk",
         {"perplexity", "-m", "@D/stories260K.gguf", "-f", "@D/tinystories_val_sample.txt", "-c", "128", "--chunks",
          "2", "--mem-report", "@T/r.json", NULL},
         1, "mem-report: cannot write @T/r.json: File too large", OUT_NULL, 256, "@T/r.json"},
        {"complete results on a full disk", {"complete", "-m", "@D/stories260K.gguf", "-p", "Once", "-n", "8", NULL},
         1, "cannot write the results to stdout", OUT_FULL, 0, 0},
        {"complete results past the file size limit",
         {"complete", "-m", "@D/stories260K.gguf", "-p", "Once", "-n", "64", NULL}, 1,
         "cannot write the results to stdout", OUT_FILE, 32, 0},
        {"perplexity results on a full disk",
         {"perplexity", "-m", "@D/stories260K.gguf", "-f", "@D/tinystories_val_sample.txt", "-c", "128", "--chunks",
          "2", NULL},
         1, "cannot write the results to stdout", OUT_FULL, 0, 0},
        {"info on a full disk", {"info", "@D/stories260K.gguf", NULL}, 1, "cannot write the results to stdout",
         OUT_FULL, 0, 0},
        {"quantize into a missing directory", {"quantize", "@D/stories260K.gguf", "@T/nodir/q.gguf", "q4_0", NULL}, 1,
         "cannot create a temporary file beside @T/nodir/q.gguf: No such file", 0, 0, 0},
        {"quantize onto a directory", {"quantize", "@D/stories260K.gguf", "@T/adir", "q4_0", NULL}, 1, "@T/adir", 0, 0,
         "@T/adir.tmp"},
        {"quantize on a full disk", {"quantize", "@D/stories260K.gguf", "@T/q.gguf", "q4_0", NULL}, 1,
         "File too large", 0, 100000, "@T/q.gguf"},
        {"gen into a missing directory", {"gen", "--shape", "tiny", "--type", "q4_0", "@T/nodir/g.gguf", NULL}, 1,
         "cannot create a temporary file beside @T/nodir/g.gguf: No such file", 0, 0, 0},
        {"gen on a full disk", {"gen", "--shape", "tiny", "--type", "q8_0", "@T/g.gguf", NULL}, 1, "File too large", 0,
         50000, "@T/g.gguf"},
    };
    char dir[1200];
    snprintf(dir, sizeof dir, "%s/adir", tmp_dir);
    assert_true(mkdir(dir, 0755) == 0 || errno == EEXIST);
    run_cases(cases, sizeof cases / sizeof *cases);
    /* the directories the writes were aimed at are untouched */
    char p[1300];
    snprintf(p, sizeof p, "%s/adir.tmp", tmp_dir);
    assert_false(exists(p));
    struct stat sb;
    assert_int_equal(stat(dir, &sb), 0);
    assert_true(S_ISDIR(sb.st_mode));
}

/* The same commands succeed when nothing is wrong, so the cases above fail
 * for the reason they name. */
static void test_control_runs(void **state)
{
    (void)state;
    const char *ok[][16] = {
        {"complete", "-m", "@D/stories260K.gguf", "-p", "Once", "-n", "8", "--mem-report", "@T/ok.json", NULL},
        {"perplexity", "-m", "@D/stories260K.gguf", "-f", "@D/tinystories_val_sample.txt", "-c", "128", "--chunks",
         "2", NULL},
        {"quantize", "@D/stories260K.gguf", "@T/ok.gguf", "q4_0", NULL},
        {"gen", "--shape", "tiny", "--type", "q8_0", "@T/ok-gen.gguf", NULL},
        {"info", "@T/ok.gguf", NULL},
        {"complete", "-m", "@D/stories260K.gguf", "-p", "Once", "-n", "4", "--no-huge-pages", "--no-memory-check",
         NULL},
        {"complete", "-m", "@T/none.gguf", "--help", NULL}, /* help wins over what the options would do */
        {"perplexity", "-h", NULL},
        {"bench", "--help", NULL},
    };
    for (size_t i = 0; i < sizeof ok / sizeof *ok; i++) {
        char args[16][1200], *argv[18];
        int n = 0;
        argv[n++] = minillm;
        for (int k = 0; ok[i][k]; k++, n++) {
            expand(args[k], sizeof args[k], ok[i][k]);
            argv[n] = args[k];
        }
        argv[n] = NULL;
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            int fd = open("/dev/null", O_WRONLY);
            dup2(fd, 1);
            dup2(fd, 2);
            execv(minillm, argv);
            _exit(98);
        }
        int st;
        assert_int_equal(waitpid(pid, &st, 0), pid);
        if (!WIFEXITED(st) || WEXITSTATUS(st) != 0)
            fail_msg("control run %s failed (status %d)", ok[i][0], st);
    }
    char p[1200];
    snprintf(p, sizeof p, "%s/ok.json", tmp_dir);
    assert_true(exists(p));
}

int main(void)
{
    const char *b = getenv("RB_BUILD");
    const char *d = getenv("RB_TEST_DATA");
    if (!b || !*b || !d || !*d) {
        fprintf(stderr, "test_errors: set RB_BUILD and RB_TEST_DATA (scripts/run-tests.sh does)\n");
        return 1;
    }
    snprintf(minillm, sizeof minillm, "%s/minillm", b);
    snprintf(data_dir, sizeof data_dir, "%s", d);
    if (access(minillm, X_OK) != 0) {
        fprintf(stderr, "test_errors: %s is missing\n", minillm);
        return 1;
    }
    snprintf(tmp_dir, sizeof tmp_dir, "%s/tmp", b);
    mkdir(tmp_dir, 0755);
    snprintf(tmp_dir, sizeof tmp_dir, "%s/tmp/errors-XXXXXX", b);
    if (!mkdtemp(tmp_dir)) {
        perror("test_errors: mkdtemp");
        return 1;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_control_runs),
        cmocka_unit_test(test_model_files),
        cmocka_unit_test(test_context_and_text),
        cmocka_unit_test(test_cli_values),
        cmocka_unit_test(test_outputs),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
