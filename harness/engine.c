/* engine.c: binaries, data lookup, model preparation, and the two adapters.
 * Sections: init, data lookup, model preparation, command lines. */
#include "engine.h"
#include "files.h"
#include "launch.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* ---- init ------------------------------------------------------------------ */

static void pick(char *dst, const char *sweep_value, const char *env, const char *self_dir, const char *name)
{
    const char *v = getenv(env);
    char here[SWEEP_PATH_LEN];
    if (sweep_value && *sweep_value)
        snprintf(dst, SWEEP_PATH_LEN, "%s", sweep_value);
    else if (v && *v)
        snprintf(dst, SWEEP_PATH_LEN, "%s", v);
    else if (self_dir && files_join(here, sizeof here, self_dir, name, NULL) == STATUS_OK && access(here, X_OK) == 0)
        snprintf(dst, SWEEP_PATH_LEN, "%s", here);
    else
        snprintf(dst, SWEEP_PATH_LEN, "%s", name);
}

/* First line of `bin args` (stdout, else stderr) into out; "" on failure. */
static void first_line(const char *bin, const char *arg, char *out, size_t n, const char *tmp_dir, int whole_has,
                       const char *needle, int *found)
{
    char path[SWEEP_PATH_LEN];
    out[0] = '\0';
    if (files_join(path, sizeof path, tmp_dir, ".engine-probe.txt", NULL))
        return;
    char *argv[] = { (char *)bin, (char *)arg, NULL };
    struct launch_opts o = { .argv = argv, .stdout_path = path, .stderr_path = whole_has ? path : NULL, .timeout_s = 30 };
    struct launch_result r;
    if (launch_run(&o, &r, NULL) == STATUS_OK) {
        char *text;
        if (files_read(path, &text, NULL, NULL) == STATUS_OK) {
            size_t k = strcspn(text, "\n");
            snprintf(out, n, "%.*s", (int)(k < n ? k : n - 1), text);
            if (found)
                *found = needle && strstr(text, needle) != NULL;
            free(text);
        }
    }
    unlink(path);
}

static const char *engine_binary(const struct engine *en)
{
    return en->sweep->engine == SWEEP_ENGINE_MINILLM ? en->minillm : en->llama_completion;
}

static int binary_stat(const char *bin, long long *size, long long *mtime_ns)
{
    struct stat st;
    if (!strchr(bin, '/') || stat(bin, &st) != 0)
        return 0;
    *size = (long long)st.st_size;
    *mtime_ns = (long long)st.st_mtim.tv_sec * 1000000000LL + st.st_mtim.tv_nsec;
    return 1;
}

static void binary_digest(struct engine *en)
{
    char *data;
    size_t n;
    const char *bin = engine_binary(en);
    if (!binary_stat(bin, &en->bin_size, &en->bin_mtime_ns) || files_read(bin, &data, &n, NULL))
        return;
    snprintf(en->digest, sizeof en->digest, "%016llx", (unsigned long long)XXH64(data, n, 0));
    free(data);
}

enum status engine_init(struct engine *en, const struct sweep *s, const char *data_dir, const char *cache_dir,
                        const char *self_dir, struct err *e)
{
    memset(en, 0, sizeof *en);
    en->sweep = s;
    const char *dirs[] = { data_dir, getenv("RB_DATA_DIR"), "build/data", "../shared" };
    for (size_t i = 0; i < sizeof dirs / sizeof *dirs; i++)
        if (dirs[i] && *dirs[i] && strlen(dirs[i]) < SWEEP_PATH_LEN)
            snprintf(en->data_dirs[en->n_data_dirs++], SWEEP_PATH_LEN, "%s", dirs[i]);
    if (strlen(cache_dir) >= sizeof en->cache_dir)
        return err_set(e, "cache dir path too long");
    snprintf(en->cache_dir, sizeof en->cache_dir, "%s", cache_dir);
    if (files_mkdirs(en->cache_dir, e))
        return STATUS_ERR;
    pick(en->minillm, s->engine_bin, "RB_MINILLM", self_dir, "minillm");
    if (s->engine == SWEEP_ENGINE_MINILLM) {
        first_line(en->minillm, "--version", en->version, sizeof en->version, en->cache_dir, 0, NULL, NULL);
    } else {
        pick(en->llama_completion, s->llama_completion, "LLAMA_COMPLETION", self_dir, "llama-completion");
        pick(en->llama_perplexity, s->llama_perplexity, "LLAMA_PERPLEXITY", self_dir, "llama-perplexity");
        char dummy[8];
        first_line(en->llama_completion, "--version", en->version, sizeof en->version, en->cache_dir, 1, NULL, NULL);
        first_line(en->llama_completion, "--help", dummy, sizeof dummy, en->cache_dir, 1,
                   "--reclaim-mmap-source", &en->llama_has_reclaim);
    }
    if (!en->version[0])
        snprintf(en->version, sizeof en->version, "unknown");
    binary_digest(en);
    return STATUS_OK;
}

int engine_binary_changed(const struct engine *en)
{
    long long size, mtime;
    if (!en->digest[0] || !binary_stat(engine_binary(en), &size, &mtime))
        return 0;
    return size != en->bin_size || mtime != en->bin_mtime_ns;
}

int engine_ppl_in_stderr(const struct engine *en)
{
    return en->sweep->engine == SWEEP_ENGINE_LLAMACPP;
}

/* ---- data lookup ------------------------------------------------------------ */

enum status engine_find_data(const struct engine *en, const char *name, char *out, size_t n, struct err *e)
{
    static const char *const forms[] = { "%s/%s", "%s/%s.gguf", "%s/models/%s", "%s/models/%s.gguf", "%s/datasets/%s" };
    struct stat st;
    if (stat(name, &st) == 0 && S_ISREG(st.st_mode)) {
        if ((size_t)snprintf(out, n, "%s", name) >= n)
            return err_set(e, "path too long: %s", name);
        return STATUS_OK;
    }
    for (int d = 0; d < en->n_data_dirs; d++)
        for (size_t f = 0; f < sizeof forms / sizeof *forms; f++) {
            int len = snprintf(out, n, forms[f], en->data_dirs[d], name);
            if (len > 0 && (size_t)len < n && stat(out, &st) == 0 && S_ISREG(st.st_mode))
                return STATUS_OK;
        }
    char tried[512] = "";
    for (int d = 0; d < en->n_data_dirs; d++) {
        size_t k = strlen(tried);
        snprintf(tried + k, sizeof tried - k, "%s%s", d ? ", " : "", en->data_dirs[d]);
    }
    return err_set(e, "cannot find '%s' (as a path, or in data dirs: %s; set RB_DATA_DIR or --data-dir)", name, tried);
}

/* ---- model preparation ------------------------------------------------------ */

static uint64_t stat_digest(uint64_t seed, const char *path)
{
    struct stat st;
    char buf[SWEEP_PATH_LEN + 64];
    int len = snprintf(buf, sizeof buf, "%s|%lld|%lld", path, stat(path, &st) == 0 ? (long long)st.st_size : -1LL,
                       stat(path, &st) == 0 ? (long long)st.st_mtime : -1LL);
    return XXH64(buf, len > 0 ? (size_t)len : 0, seed);
}

static enum status run_tool(char **argv, const char *log, struct err *e)
{
    struct launch_opts o = { .argv = argv, .stdout_path = log, .stderr_path = log, .timeout_s = 3600 };
    struct launch_result r;
    if (launch_run(&o, &r, e))
        return STATUS_ERR;
    if (r.exit_code != 0)
        return err_set(e, "'%s %s' failed (exit %d, signal %d); see %s", argv[0], argv[1], r.exit_code,
                       r.term_signal, log ? log : "(no log)");
    return STATUS_OK;
}

enum status engine_prepare_model(const struct engine *en, int model, int quant, char *out, size_t n,
                                 const char *log, struct err *e)
{
    const struct sweep *s = en->sweep;
    const char *m = s->models[model], *q = s->quants[quant];
    int gen = strncmp(m, "gen:", 4) == 0;
    char src[SWEEP_PATH_LEN] = "";
    if (!gen) {
        if (engine_find_data(en, m, src, sizeof src, e))
            return STATUS_ERR;
        if (strcmp(q, "f32") == 0) {
            if ((size_t)snprintf(out, n, "%s", src) >= n)
                return err_set(e, "path too long: %s", src);
            return STATUS_OK;
        }
    }
    /* Which engine build made it matters as much as the source. */
    char bin[SWEEP_PATH_LEN];
    if (strchr(en->minillm, '/'))
        snprintf(bin, sizeof bin, "%s", en->minillm);
    else
        bin[0] = '\0';
    uint64_t h = stat_digest(stat_digest(0, gen ? m : src), bin);
    char label[SWEEP_PATH_LEN], name[SWEEP_PATH_LEN + 64];
    sweep_model_label(gen ? m + 4 : m, label, sizeof label);
    snprintf(name, sizeof name, "%s%s-%s-%08llx.gguf", gen ? "gen-" : "", label, q,
             (unsigned long long)(h & 0xffffffffu));
    if (files_join(out, n, en->cache_dir, name, e))
        return STATUS_ERR;
    if (access(out, R_OK) == 0)
        return STATUS_OK;
    char tmp[SWEEP_PATH_LEN + 16];
    snprintf(tmp, sizeof tmp, "%s.part", out);
    char *argv[9];
    if (gen) {
        char *a[] = { (char *)en->minillm, "gen", "--shape", (char *)m + 4, "--type", (char *)q, tmp, NULL };
        memcpy(argv, a, sizeof a);
    } else {
        char *a[] = { (char *)en->minillm, "quantize", src, tmp, (char *)q, NULL };
        memcpy(argv, a, sizeof a);
    }
    if (run_tool(argv, log, e)) {
        unlink(tmp);
        return STATUS_ERR;
    }
    if (rename(tmp, out) < 0)
        return err_set(e, "rename %s: %s", out, strerror(errno));
    return STATUS_OK;
}

/* ---- command lines ---------------------------------------------------------- */

static void add(struct engine_cmd *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct engine_cmd *c, const char *fmt, ...)
{
    if (c->argc >= ENGINE_MAX_ARGS || c->used >= sizeof c->store)
        return;
    va_list ap;
    va_start(ap, fmt);
    int len = vsnprintf(c->store + c->used, sizeof c->store - c->used, fmt, ap);
    va_end(ap);
    if (len < 0 || (size_t)len >= sizeof c->store - c->used)
        return;
    c->argv[c->argc++] = c->store + c->used;
    c->argv[c->argc] = NULL;
    c->used += (size_t)len + 1;
}

static enum status minillm_command(const struct engine *en, const struct sweep_run *r, const char *model,
                                   const char *data_file, const char *mem_report, struct engine_cmd *c)
{
    const struct sweep *s = en->sweep;
    const struct sweep_workload *w = &s->workloads[r->workload];
    const struct sweep_mode *md = &s->modes[r->mode];
    add(c, "%s", en->minillm);
    if (w->kind == SWEEP_WL_COMPLETE) {
        add(c, "complete"), add(c, "-m"), add(c, "%s", model), add(c, "-p"), add(c, "%s", w->prompt);
        add(c, "-n"), add(c, "%d", w->n_predict);
    } else {
        add(c, "perplexity"), add(c, "-m"), add(c, "%s", model), add(c, "-f"), add(c, "%s", data_file);
        if (w->chunks)
            add(c, "--chunks"), add(c, "%d", w->chunks);
    }
    if (w->ctx)
        add(c, "-c"), add(c, "%d", w->ctx);
    add(c, "-t"), add(c, "%d", s->threads[r->threads]);
    add(c, "--load"), add(c, md->load == SWEEP_LOAD_READ ? "read" : "mmap");
    if (md->mlock)
        add(c, "--mlock");
    if (md->no_repack)
        add(c, "--no-repack");
    if (md->reclaim != SWEEP_RECLAIM_OFF) {
        add(c, "--reclaim"), add(c, md->reclaim == SWEEP_RECLAIM_EVICT ? "evict" : "dontneed");
        add(c, "--reclaim-at"), add(c, md->reclaim_at_end ? "end" : "load");
    }
    if (mem_report)
        add(c, "--mem-report"), add(c, "%s", mem_report);
    return STATUS_OK;
}

static void llama_command(const struct engine *en, const struct sweep_run *r, const char *model,
                          const char *data_file, struct engine_cmd *c, char *skip, size_t n_skip)
{
    const struct sweep *s = en->sweep;
    const struct sweep_workload *w = &s->workloads[r->workload];
    const struct sweep_mode *md = &s->modes[r->mode];
    if (md->reclaim == SWEEP_RECLAIM_EVICT || md->reclaim_at_end) {
        snprintf(skip, n_skip, "llama.cpp has no evict or at-end reclaim");
        return;
    }
    if (md->reclaim == SWEEP_RECLAIM_DONTNEED && !en->llama_has_reclaim) {
        snprintf(skip, n_skip, "this llama.cpp build has no --reclaim-mmap-source (PR #24156)");
        return;
    }
    if (w->kind == SWEEP_WL_COMPLETE) {
        add(c, "%s", en->llama_completion), add(c, "-m"), add(c, "%s", model), add(c, "-p"), add(c, "%s", w->prompt);
        add(c, "-n"), add(c, "%d", w->n_predict), add(c, "--temp"), add(c, "0"), add(c, "--seed"), add(c, "1");
        add(c, "-no-cnv");
    } else {
        add(c, "%s", en->llama_perplexity), add(c, "-m"), add(c, "%s", model), add(c, "-f"), add(c, "%s", data_file);
        if (w->chunks)
            add(c, "--chunks"), add(c, "%d", w->chunks);
    }
    if (w->ctx)
        add(c, "-c"), add(c, "%d", w->ctx);
    add(c, "-t"), add(c, "%d", s->threads[r->threads]);
    /* Current builds: --mlock means no mmap + mlock; mmap with mlock is a load mode. */
    if (md->mlock && md->load == SWEEP_LOAD_READ) {
        add(c, "--mlock");
    } else if (md->mlock) {
        add(c, "--load-mode");
        add(c, "mmap+mlock");
    } else if (md->load == SWEEP_LOAD_READ) {
        add(c, "--no-mmap");
    }
    if (md->no_repack)
        add(c, "--no-repack");
    if (md->reclaim == SWEEP_RECLAIM_DONTNEED)
        add(c, "--reclaim-mmap-source");
}

enum status engine_command(const struct engine *en, const struct sweep_run *r, const char *model_path,
                           const char *mem_report, struct engine_cmd *cmd, char *skip, size_t n_skip,
                           struct err *e)
{
    memset(cmd, 0, sizeof *cmd);
    skip[0] = '\0';
    const struct sweep_workload *w = &en->sweep->workloads[r->workload];
    char data_file[SWEEP_PATH_LEN] = "";
    if (w->kind == SWEEP_WL_PERPLEXITY && engine_find_data(en, w->file, data_file, sizeof data_file, e))
        return STATUS_ERR;
    if (en->sweep->engine == SWEEP_ENGINE_MINILLM)
        minillm_command(en, r, model_path, data_file, mem_report, cmd);
    else
        llama_command(en, r, model_path, data_file, cmd, skip, n_skip);
    if (!skip[0] && cmd->argc >= ENGINE_MAX_ARGS)
        return err_set(e, "command line too long");
    return STATUS_OK;
}
