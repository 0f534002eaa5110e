/* engine.c: binaries, data lookup, model preparation, and the two adapters.
 * Sections: init, data lookup, model preparation, command lines. */
#include "engine.h"
#include "files.h"
#include "gate.h"
#include "launch.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>
#include <xxhash.h>

/* ---- init ------------------------------------------------------------------ */

/* A sweep value "$NAME" is the environment variable NAME (checked by
 * engine_init: unset is an error). */
static const char *sweep_value_of(const char *v)
{
    return v && v[0] == '$' ? getenv(v + 1) : v;
}

static void pick(char *dst, const char *sweep_value, const char *env, const char *self_dir, const char *name)
{
    const char *v = getenv(env);
    char here[SWEEP_PATH_LEN];
    sweep_value = sweep_value_of(sweep_value);
    if (sweep_value && *sweep_value)
        snprintf(dst, SWEEP_PATH_LEN, "%s", sweep_value);
    else if (v && *v)
        snprintf(dst, SWEEP_PATH_LEN, "%s", v);
    else if (self_dir && files_join(here, sizeof here, self_dir, name, NULL) == STATUS_OK && access(here, X_OK) == 0)
        snprintf(dst, SWEEP_PATH_LEN, "%s", here);
    else
        snprintf(dst, SWEEP_PATH_LEN, "%s", name);
}

/* The output of `bin arg` (stdout, and stderr too when both), as a heap
 * string the caller frees; NULL when it could not run. */
static char *probe_output(const char *bin, const char *arg, const char *tmp_dir, int both)
{
    char path[SWEEP_PATH_LEN], *text = NULL;
    if (files_join(path, sizeof path, tmp_dir, ".engine-probe.txt", NULL))
        return NULL;
    char *argv[] = { (char *)bin, (char *)arg, NULL };
    struct launch_opts o = { .argv = argv, .stdout_path = path, .stderr_path = both ? path : NULL, .timeout_s = 30 };
    struct launch_result r;
    if (launch_run(&o, &r, NULL) != STATUS_OK || files_read(path, &text, NULL, NULL) != STATUS_OK)
        text = NULL;
    unlink(path);
    return text;
}

/* The first line of text into out ("" when text is NULL). */
static void first_line_of(const char *text, char *out, size_t n)
{
    size_t k = text ? strcspn(text, "\n") : 0;
    snprintf(out, n, "%.*s", (int)(k < n ? k : n - 1), text ? text : "");
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

static void add_file(struct engine_build *b, const char *path)
{
    for (int i = 0; i < b->n_files; i++)
        if (strcmp(b->files[i], path) == 0)
            return;
    if (b->n_files < ENGINE_MAX_FILES && strlen(path) < SWEEP_PATH_LEN &&
        binary_stat(path, &b->size[b->n_files], &b->mtime_ns[b->n_files]))
        snprintf(b->files[b->n_files++], SWEEP_PATH_LEN, "%s", path);
}

static int by_name(const void *x, const void *y)
{
    return strcmp(*(char *const *)x, *(char *const *)y);
}

/* Every lib*.so* beside bin (a llama.cpp build keeps libllama and libggml* in
 * its bin directory; the binaries themselves are small launchers), sorted so
 * the digest does not depend on directory order. Symlinks resolve to one file. */
static void add_build_libs(struct engine_build *b, const char *bin)
{
    char dir[SWEEP_PATH_LEN];
    if (!realpath(bin, dir))
        return;
    char *slash = strrchr(dir, '/');
    if (!slash)
        return;
    *slash = '\0';
    DIR *d = opendir(dir);
    if (!d)
        return;
    char *names[64];
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) && n < 64)
        if (strncmp(de->d_name, "lib", 3) == 0 && strstr(de->d_name, ".so"))
            names[n++] = strdup(de->d_name);
    closedir(d);
    qsort(names, (size_t)n, sizeof *names, by_name);
    for (int i = 0; i < n; i++) {
        char p[SWEEP_PATH_LEN * 2], real[SWEEP_PATH_LEN];
        if (names[i] && snprintf(p, sizeof p, "%s/%s", dir, names[i]) < (int)sizeof p && realpath(p, real))
            add_file(b, real);
        free(names[i]);
    }
}

/* xxh64 over the version line and the contents of every file, in order. */
static void build_digest(struct engine_build *b)
{
    XXH64_state_t *h = XXH64_createState();
    if (!h)
        return;
    XXH64_reset(h, 0);
    XXH64_update(h, b->version, strlen(b->version));
    int any = 0;
    for (int i = 0; i < b->n_files; i++) {
        char *data;
        size_t n;
        if (files_read(b->files[i], &data, &n, NULL))
            continue;
        XXH64_update(h, data, n);
        free(data);
        any = 1;
    }
    if (any)
        snprintf(b->digest, sizeof b->digest, "%016llx", (unsigned long long)XXH64_digest(h));
    XXH64_freeState(h);
}

static void init_build(struct engine_build *b, const struct sweep_engine_spec *spec, const char *self_dir,
                       const char *tmp_dir)
{
    memset(b, 0, sizeof *b);
    b->spec = spec;
    if (spec->kind == SWEEP_ENGINE_MINILLM) {
        pick(b->minillm, spec->bin, "RB_MINILLM", self_dir, "minillm");
        char *v = probe_output(b->minillm, "--version", tmp_dir, 0);
        first_line_of(v, b->version, sizeof b->version);
        free(v);
        add_file(b, b->minillm);
    } else {
        pick(b->llama_completion, spec->completion, "LLAMA_COMPLETION", self_dir, "llama-completion");
        pick(b->llama_perplexity, spec->perplexity, "LLAMA_PERPLEXITY", self_dir, "llama-perplexity");
        char *v = probe_output(b->llama_completion, "--version", tmp_dir, 1);
        first_line_of(v, b->version, sizeof b->version);
        free(v);
        /* One --help says which spellings this build takes. */
        char *help = probe_output(b->llama_completion, "--help", tmp_dir, 1);
        static const char *const probes[] = { "--reclaim-mmap-source", "--load-mode", "--no-mmap", "--mlock",
                                              "--no-repack", "--log-verbosity" };
        int *found[] = { &b->llama_has_reclaim, &b->llama_load_mode, &b->llama_no_mmap, &b->llama_mlock,
                         &b->llama_no_repack, &b->llama_verbosity };
        for (size_t i = 0; i < sizeof probes / sizeof *probes; i++)
            *found[i] = help && strstr(help, probes[i]) != NULL;
        free(help);
        add_file(b, b->llama_completion);
        add_file(b, b->llama_perplexity);
        add_build_libs(b, b->llama_completion);
        add_build_libs(b, b->llama_perplexity);
    }
    if (!b->version[0])
        snprintf(b->version, sizeof b->version, "unknown");
    build_digest(b);
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
    const char *tool = NULL;
    for (int k = 0; k < s->n_engines && !tool; k++)
        if (s->engines[k].kind == SWEEP_ENGINE_MINILLM)
            tool = s->engines[k].bin;
    for (int k = 0; k < s->n_engines; k++) {
        const struct sweep_engine_spec *sp = &s->engines[k];
        const char *vals[] = { sp->bin, sp->completion, sp->perplexity };
        for (size_t i = 0; i < 3; i++) {
            const char *v = sweep_value_of(vals[i]);
            if (vals[i][0] == '$' && (!v || !*v))
                return err_set(e, "engine %s: %s is not set (scripts/get-llamacpp.sh prints the LLAMA_* lines)",
                               sp->name[0] ? sp->name : sweep_engine_kind_name(sp->kind), vals[i]);
        }
    }
    pick(en->minillm, tool, "RB_MINILLM", self_dir, "minillm");
    for (int k = 0; k < s->n_engines; k++)
        init_build(&en->builds[k], &s->engines[k], self_dir, en->cache_dir);
    en->n_builds = s->n_engines;
    return STATUS_OK;
}

const char *engine_binary_changed(const struct engine *en)
{
    for (int k = 0; k < en->n_builds; k++) {
        const struct engine_build *b = &en->builds[k];
        for (int i = 0; i < b->n_files; i++) {
            long long size, mtime;
            if (!binary_stat(b->files[i], &size, &mtime) || size != b->size[i] || mtime != b->mtime_ns[i])
                return b->files[i];
        }
    }
    return NULL;
}

int engine_ppl_in_stderr(const struct engine *en, int engine)
{
    return en->builds[engine].spec->kind == SWEEP_ENGINE_LLAMACPP;
}

int engine_output_complete(const struct engine *en, int engine, enum sweep_wl kind, const char *err_text)
{
    if (en->builds[engine].spec->kind != SWEEP_ENGINE_LLAMACPP)
        return 1;
    if (!err_text)
        return 0;
    if (kind == SWEEP_WL_PERPLEXITY)
        return strstr(err_text, "Final estimate: PPL") != NULL;
    /* the closing performance report: common_perf_print or llama_perf_context_print */
    for (const char *p = err_text; (p = strstr(p, "_perf_")) != NULL; p++) {
        const char *eol = strchr(p, '\n');
        const char *t = strstr(p, "total time");
        if (t && (!eol || t < eol))
            return 1;
    }
    return 0;
}

double engine_gen_ms(const struct engine *en, int engine, const char *err_text)
{
    if (!err_text)
        return -1;
    if (en->builds[engine].spec->kind == SWEEP_ENGINE_MINILLM) {
        const char *p = strstr(err_text, "complete: load ");
        p = p ? strstr(p, "generated ") : NULL;
        int n;
        double sec;
        if (p && sscanf(p, "generated %d tokens %lf s", &n, &sec) == 2 && sec >= 0)
            return sec * 1000;
        return -1;
    }
    /* "...perf...: eval time = X ms / N runs", not the "prompt eval time" line */
    for (const char *p = err_text; (p = strstr(p, "eval time =")) != NULL; p++) {
        const char *bol = p;
        while (bol > err_text && bol[-1] != '\n')
            bol--;
        int prompt = 0;
        for (const char *q = bol; q + 6 <= p && !prompt; q++)
            prompt = strncmp(q, "prompt", 6) == 0;
        double ms;
        if (!prompt && sscanf(p, "eval time = %lf ms", &ms) == 1 && ms >= 0)
            return ms;
    }
    return -1;
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
    /* A name of this process's own: two sweeps preparing the same model at
     * once each write their own part and rename it into place (same bytes). */
    char tmp[SWEEP_PATH_LEN + 32];
    snprintf(tmp, sizeof tmp, "%s.part%ld", out, (long)getpid());
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
    add(c, "%s", en->builds[r->engine].minillm);
    if (w->kind == SWEEP_WL_COMPLETE) {
        add(c, "complete"), add(c, "-m"), add(c, "%s", model), add(c, "-p"), add(c, "%s", w->prompt);
        add(c, "-n"), add(c, "%d", w->n_predict);
        if (w->digest)
            add(c, "--logits-digest");
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
    const struct engine_build *b = &en->builds[r->engine];
    const struct sweep_workload *w = &s->workloads[r->workload];
    const struct sweep_mode *md = &s->modes[r->mode];
    if (md->reclaim == SWEEP_RECLAIM_EVICT || md->reclaim_at_end) {
        snprintf(skip, n_skip, "llama.cpp has no evict or at-end reclaim");
        return;
    }
    if (md->reclaim == SWEEP_RECLAIM_DONTNEED && !b->llama_has_reclaim) {
        snprintf(skip, n_skip, "this llama.cpp build has no --reclaim-mmap-source (PR #24156)");
        return;
    }
    if (md->no_repack && !b->llama_no_repack) {
        snprintf(skip, n_skip, "this llama.cpp build has no --no-repack");
        return;
    }
    /* The load mode, in whichever spelling this build's --help shows:
     * --load-mode none|mlock|mmap+mlock (newer) or --no-mmap/--mlock (older,
     * where --mlock alone keeps mmap). */
    const char *lm = NULL, *f1 = NULL, *f2 = NULL;
    int read = md->load == SWEEP_LOAD_READ;
    if (b->llama_load_mode) {
        lm = read ? (md->mlock ? "mlock" : "none") : md->mlock ? "mmap+mlock" : NULL;
    } else if (b->llama_no_mmap || b->llama_mlock) {
        f1 = read ? "--no-mmap" : NULL;
        f2 = md->mlock ? "--mlock" : NULL;
        if ((f1 && !b->llama_no_mmap) || (f2 && !b->llama_mlock)) {
            snprintf(skip, n_skip, "this llama.cpp build has no %s", f1 && !b->llama_no_mmap ? "--no-mmap" : "--mlock");
            return;
        }
    } else if (read || md->mlock) {
        snprintf(skip, n_skip, "this llama.cpp build shows neither --load-mode nor --no-mmap/--mlock in --help");
        return;
    }
    if (w->kind == SWEEP_WL_COMPLETE) {
        add(c, "%s", b->llama_completion), add(c, "-m"), add(c, "%s", model), add(c, "-p"), add(c, "%s", w->prompt);
        add(c, "-n"), add(c, "%d", w->n_predict), add(c, "--temp"), add(c, "0"), add(c, "--seed"), add(c, "1");
        add(c, "-no-cnv");
    } else {
        add(c, "%s", b->llama_perplexity), add(c, "-m"), add(c, "%s", model), add(c, "-f"), add(c, "%s", data_file);
        if (w->chunks)
            add(c, "--chunks"), add(c, "%d", w->chunks);
    }
    if (w->ctx)
        add(c, "-c"), add(c, "%d", w->ctx);
    add(c, "-t"), add(c, "%d", s->threads[r->threads]);
    if (lm)
        add(c, "--load-mode"), add(c, "%s", lm);
    if (f1)
        add(c, "%s", f1);
    if (f2)
        add(c, "%s", f2);
    if (md->no_repack)
        add(c, "--no-repack");
    if (md->reclaim == SWEEP_RECLAIM_DONTNEED)
        add(c, "--reclaim-mmap-source");
    if (b->llama_verbosity) /* the buffer sizes (CPU_REPACK) are logged at level 4; stdout is the same */
        add(c, "-lv"), add(c, "4");
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
    if (en->builds[r->engine].spec->kind == SWEEP_ENGINE_MINILLM)
        minillm_command(en, r, model_path, data_file, mem_report, cmd);
    else
        llama_command(en, r, model_path, data_file, cmd, skip, n_skip);
    if (!skip[0] && cmd->argc >= ENGINE_MAX_ARGS)
        return err_set(e, "command line too long");
    return STATUS_OK;
}

enum status engine_identity_text(const struct engine *en, int engine, enum sweep_wl kind, const char *out_path,
                                 const char *err_path, char **text, size_t *len, uint64_t *hash, struct err *e)
{
    char *out, *err_text = NULL;
    size_t n_out, n_err = 0;
    if (files_read(out_path, &out, &n_out, e))
        return STATUS_ERR;
    if (hash)
        *hash = XXH64(out, n_out, 0);
    if (kind == SWEEP_WL_PERPLEXITY && engine_ppl_in_stderr(en, engine) &&
        files_read(err_path, &err_text, &n_err, NULL) == STATUS_OK) {
        char *both = realloc(out, n_out + n_err + 1);
        if (both) {
            memcpy(both + n_out, err_text, n_err + 1);
            out = both, n_out += n_err;
        }
    }
    free(err_text);
    enum status rc = gate_identity_text(kind, out, n_out, text, len, e);
    free(out);
    return rc;
}
