/* spec.c: the sweep file parser and the run expansion.
 *
 * Data flow: text -> lines -> words (whitespace-separated, "..." quoting with
 * \" \\ \n escapes, '#' comments) -> one directive per line -> struct sweep.
 * Sections: words, directive handlers, parse entry points, expansion/keys. */
#include "spec.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <strings.h>

#define MAX_WORDS 64

/* ---- words ---------------------------------------------------------------- */

struct line {
    const char *path;
    int lineno;
    char *words[MAX_WORDS];
    int n_words;
    char buf[8192];
};

static enum status line_err(const struct line *l, struct err *e, const char *what, const char *got)
{
    return err_set(e, "%s:%d: expected %s, got '%s'", l->path, l->lineno, what, got ? got : "end of line");
}

/* Splits src (one line, no newline) into words held in l->buf. */
static enum status line_split(struct line *l, const char *src, size_t len, struct err *e)
{
    size_t o = 0, i = 0;
    l->n_words = 0;
    if (len >= sizeof l->buf)
        return err_set(e, "%s:%d: line longer than %zu bytes", l->path, l->lineno, sizeof l->buf - 1);
    while (i < len) {
        while (i < len && isspace((unsigned char)src[i]))
            i++;
        if (i == len || src[i] == '#')
            break;
        if (l->n_words == MAX_WORDS)
            return err_set(e, "%s:%d: more than %d words", l->path, l->lineno, MAX_WORDS);
        l->words[l->n_words++] = &l->buf[o];
        int quoted = 0;
        while (i < len && (quoted || !isspace((unsigned char)src[i]))) {
            char c = src[i++];
            if (c == '"') {
                quoted = !quoted;
                continue;
            }
            if (quoted && c == '\\') {
                if (i == len)
                    break;
                c = src[i++];
                if (c == 'n')
                    c = '\n';
                else if (c == 't')
                    c = '\t';
                else if (c != '\\' && c != '"')
                    return err_set(e, "%s:%d: expected an escape \\n \\t \\\\ or \\\", got '\\%c'",
                                   l->path, l->lineno, c);
            }
            l->buf[o++] = c;
        }
        if (quoted)
            return err_set(e, "%s:%d: expected a closing '\"'", l->path, l->lineno);
        l->buf[o++] = '\0';
    }
    return STATUS_OK;
}

static int parse_int(const char *t, long lo, long hi, long *out)
{
    char *end;
    errno = 0;
    long v = strtol(t, &end, 10);
    if (errno || end == t || *end || v < lo || v > hi)
        return 0;
    *out = v;
    return 1;
}

/* "key=value" -> value when the word starts with key=, else NULL. */
static const char *kv(const char *word, const char *key)
{
    size_t n = strlen(key);
    return strncmp(word, key, n) == 0 && word[n] == '=' ? word + n + 1 : NULL;
}

/* ---- directive handlers --------------------------------------------------- */

static enum status need_values(const struct line *l, struct err *e, const char *what)
{
    return l->n_words < 2 ? line_err(l, e, what, NULL) : STATUS_OK;
}

static enum status room(const struct line *l, int n, struct err *e)
{
    if (n >= SWEEP_MAX_AXIS)
        return err_set(e, "%s:%d: more than %d values on one axis", l->path, l->lineno, SWEEP_MAX_AXIS);
    return STATUS_OK;
}

static enum status copy_str(const struct line *l, char *dst, size_t n, const char *src, struct err *e)
{
    if (strlen(src) >= n)
        return err_set(e, "%s:%d: '%.40s...' longer than %zu bytes", l->path, l->lineno, src, n - 1);
    memcpy(dst, src, strlen(src) + 1);
    return STATUS_OK;
}

const char *sweep_engine_kind_name(enum sweep_engine k)
{
    return k == SWEEP_ENGINE_LLAMACPP ? "llama.cpp" : "minillm";
}

static int engine_kind(const char *w, enum sweep_engine *k)
{
    if (strcmp(w, "minillm") == 0)
        *k = SWEEP_ENGINE_MINILLM;
    else if (strcmp(w, "llama.cpp") == 0)
        *k = SWEEP_ENGINE_LLAMACPP;
    else
        return 0;
    return 1;
}

static int engine_name_ok(const char *w)
{
    if (!*w || strlen(w) >= 64 || strchr(w, '='))
        return 0;
    for (; *w; w++)
        if (!isalnum((unsigned char)*w) && !strchr("_-.", *w))
            return 0;
    return 1;
}

/* engine KIND [k=v...]  or  engine NAME KIND [k=v...] */
static enum status do_engine(struct sweep *s, const struct line *l, struct err *e)
{
    static const char *const what = "an engine: minillm or llama.cpp, or NAME minillm|llama.cpp";
    if (need_values(l, e, what))
        return STATUS_ERR;
    if (s->n_engines == SWEEP_MAX_ENGINES)
        return err_set(e, "%s:%d: more than %d engines", l->path, l->lineno, SWEEP_MAX_ENGINES);
    struct sweep_engine_spec *en = &s->engines[s->n_engines];
    memset(en, 0, sizeof *en);
    int i = 1;
    enum sweep_engine k2;
    /* "engine minillm minillm": a name may spell a kind when a kind follows it */
    if (!engine_kind(l->words[1], &en->kind) || (l->n_words > 2 && engine_kind(l->words[2], &k2))) {
        if (!engine_name_ok(l->words[1]))
            return line_err(l, e, what, l->words[1]);
        if (l->n_words < 3 || !engine_kind(l->words[2], &en->kind))
            return line_err(l, e, "minillm or llama.cpp after the engine's name", l->n_words < 3 ? NULL : l->words[2]);
        snprintf(en->name, sizeof en->name, "%s", l->words[1]);
        i = 2;
    }
    int named = en->name[0] != '\0';
    if (s->n_engines > 0 && (!named || !s->engines[0].name[0]))
        return line_err(l, e, "one unnamed engine, or several engines each with a name (engine NAME KIND ...)",
                        l->words[1]);
    for (int k = 0; k < s->n_engines; k++)
        if (strcmp(s->engines[k].name, en->name) == 0)
            return line_err(l, e, "an engine name not used before", en->name);
    snprintf(en->identity, sizeof en->identity, "%s", sweep_engine_kind_name(en->kind));
    for (i++; i < l->n_words; i++) {
        const char *w = l->words[i], *v;
        if ((v = kv(w, "bin")) && en->kind == SWEEP_ENGINE_MINILLM) {
            if (copy_str(l, en->bin, sizeof en->bin, v, e))
                return STATUS_ERR;
        } else if ((v = kv(w, "completion")) && en->kind == SWEEP_ENGINE_LLAMACPP) {
            if (copy_str(l, en->completion, sizeof en->completion, v, e))
                return STATUS_ERR;
        } else if ((v = kv(w, "perplexity")) && en->kind == SWEEP_ENGINE_LLAMACPP) {
            if (copy_str(l, en->perplexity, sizeof en->perplexity, v, e))
                return STATUS_ERR;
        } else if ((v = kv(w, "modes"))) {
            if (!*v || copy_str(l, en->modes, sizeof en->modes, v, e))
                return line_err(l, e, "modes=MODE[,MODE...]", w);
        } else if ((v = kv(w, "identity"))) {
            if (!engine_name_ok(v))
                return line_err(l, e, "identity=CLASS (letters, digits, _ - .)", w);
            snprintf(en->identity, sizeof en->identity, "%s", v);
        } else {
            return line_err(l, e,
                            en->kind == SWEEP_ENGINE_MINILLM ? "bin=PATH, modes=LIST or identity=CLASS"
                                                             : "completion=PATH, perplexity=PATH, modes=LIST or identity=CLASS",
                            w);
        }
    }
    s->n_engines++;
    return STATUS_OK;
}

/* order fixed|random */
static enum status do_order(struct sweep *s, const struct line *l, struct err *e)
{
    if (l->n_words != 2 || (strcmp(l->words[1], "fixed") != 0 && strcmp(l->words[1], "random") != 0))
        return line_err(l, e, "order fixed or order random", l->n_words > 1 ? l->words[l->n_words - 1] : NULL);
    s->order_random = strcmp(l->words[1], "random") == 0;
    return STATUS_OK;
}

static enum status do_model(struct sweep *s, const struct line *l, struct err *e)
{
    if (need_values(l, e, "a model: a name, a path or gen:SHAPE"))
        return STATUS_ERR;
    for (int i = 1; i < l->n_words; i++) {
        if (room(l, s->n_models, e))
            return STATUS_ERR;
        if (strcmp(l->words[i], "gen:") == 0)
            return line_err(l, e, "a shape after gen:", l->words[i]);
        for (int j = 0; j < s->n_models; j++) /* a repeat would be merged into one case key */
            if (strcmp(s->models[j], l->words[i]) == 0)
                return line_err(l, e, "a model not listed before", l->words[i]);
        if (copy_str(l, s->models[s->n_models], SWEEP_PATH_LEN, l->words[i], e))
            return STATUS_ERR;
        s->model_quants[s->n_models++] = UINT32_MAX; /* narrowed after parsing */
    }
    return STATUS_OK;
}

static enum status do_quant(struct sweep *s, const struct line *l, struct err *e)
{
    static const char *const known[] = { "f32", "f16", "q8_0", "q4_0", "q4_k", "q6_k", "q4_k_m" };
    if (need_values(l, e, "a quant: f32 f16 q8_0 q4_0 q4_k q6_k q4_k_m"))
        return STATUS_ERR;
    for (int i = 1; i < l->n_words; i++) {
        char q[16];
        size_t n = strlen(l->words[i]);
        if (n >= sizeof q)
            return line_err(l, e, "a quant: f32 f16 q8_0 q4_0 q4_k q6_k q4_k_m", l->words[i]);
        for (size_t k = 0; k <= n; k++)
            q[k] = (char)tolower((unsigned char)l->words[i][k]);
        size_t j = 0;
        while (j < sizeof known / sizeof *known && strcmp(known[j], q) != 0)
            j++;
        if (j == sizeof known / sizeof *known)
            return line_err(l, e, "a quant: f32 f16 q8_0 q4_0 q4_k q6_k q4_k_m", l->words[i]);
        if (room(l, s->n_quants, e))
            return STATUS_ERR;
        for (int k = 0; k < s->n_quants; k++)
            if (strcmp(s->quants[k], q) == 0)
                return line_err(l, e, "a quant not listed before", l->words[i]);
        memcpy(s->quants[s->n_quants++], q, n + 1);
    }
    return STATUS_OK;
}

enum status sweep_mode_parse(struct sweep_mode *m, const char *name, struct err *e)
{
    memset(m, 0, sizeof *m);
    if (strlen(name) >= sizeof m->name || !*name)
        return err_set(e, "mode name '%s' empty or too long", name);
    memcpy(m->name, name, strlen(name) + 1);
    char tmp[SWEEP_NAME_LEN];
    memcpy(tmp, name, strlen(name) + 1);
    int n_load = 0;
    for (char *save = NULL, *p = strtok_r(tmp, "+", &save); p; p = strtok_r(NULL, "+", &save)) {
        if (strcmp(p, "mmap") == 0)
            m->load = SWEEP_LOAD_MMAP, n_load++;
        else if (strcmp(p, "read") == 0 || strcmp(p, "no-mmap") == 0)
            m->load = SWEEP_LOAD_READ, n_load++;
        else if (strcmp(p, "mlock") == 0)
            m->mlock = 1;
        else if (strcmp(p, "no-repack") == 0)
            m->no_repack = 1;
        else if (strcmp(p, "reclaim") == 0 || strcmp(p, "dontneed") == 0)
            m->reclaim = SWEEP_RECLAIM_DONTNEED;
        else if (strcmp(p, "evict") == 0)
            m->reclaim = SWEEP_RECLAIM_EVICT;
        else if (strcmp(p, "at-end") == 0)
            m->reclaim_at_end = 1;
        else
            return err_set(e, "expected mode parts mmap read mlock no-repack reclaim evict at-end joined by '+', got '%s' in '%s'", p, name);
    }
    if (n_load > 1)
        return err_set(e, "expected at most one of mmap/read in mode '%s'", name);
    if (m->reclaim_at_end && m->reclaim == SWEEP_RECLAIM_OFF)
        return err_set(e, "expected reclaim or evict with at-end in mode '%s'", name);
    return STATUS_OK;
}

static enum status do_mode(struct sweep *s, const struct line *l, struct err *e)
{
    if (need_values(l, e, "a mode such as mmap, mmap+reclaim, read, mlock, no-repack"))
        return STATUS_ERR;
    for (int i = 1; i < l->n_words; i++) {
        struct err me;
        if (room(l, s->n_modes, e))
            return STATUS_ERR;
        for (int j = 0; j < s->n_modes; j++)
            if (strcmp(s->modes[j].name, l->words[i]) == 0)
                return line_err(l, e, "a mode not listed before", l->words[i]);
        if (sweep_mode_parse(&s->modes[s->n_modes], l->words[i], &me))
            return err_set(e, "%s:%d: %s", l->path, l->lineno, me.msg);
        s->n_modes++;
    }
    return STATUS_OK;
}

static enum status do_workload(struct sweep *s, const struct line *l, struct err *e)
{
    if (need_values(l, e, "a workload: complete or perplexity"))
        return STATUS_ERR;
    if (room(l, s->n_workloads, e))
        return STATUS_ERR;
    struct sweep_workload *w = &s->workloads[s->n_workloads];
    memset(w, 0, sizeof *w);
    const char *kind = l->words[1];
    if (strcmp(kind, "complete") == 0)
        w->kind = SWEEP_WL_COMPLETE, w->n_predict = 32;
    else if (strcmp(kind, "perplexity") == 0)
        w->kind = SWEEP_WL_PERPLEXITY;
    else
        return line_err(l, e, "a workload: complete or perplexity", kind);
    memcpy(w->name, kind, strlen(kind) + 1);
    s->n_workloads++; /* counted now so sweep_free frees the prompt on error */
    for (int i = 2; i < l->n_words; i++) {
        const char *t = l->words[i], *v;
        long n;
        if ((v = kv(t, "name"))) {
            if (!*v || strchr(v, '|') || copy_str(l, w->name, sizeof w->name, v, e))
                return line_err(l, e, "name=ID (no '|', at most 127 bytes)", t);
        } else if ((v = kv(t, "ctx"))) {
            if (!parse_int(v, 1, 1 << 20, &n))
                return line_err(l, e, "ctx=N with 1 <= N <= 1048576", t);
            w->ctx = (int)n;
        } else if (w->kind == SWEEP_WL_COMPLETE && (v = kv(t, "prompt"))) {
            free(w->prompt);
            if (!(w->prompt = strdup(v)))
                return err_set(e, "out of memory");
        } else if ((v = kv(t, "models"))) {
            if (!*v || copy_str(l, w->models, sizeof w->models, v, e))
                return line_err(l, e, "models=NAME[,NAME...]", t);
        } else if (w->kind == SWEEP_WL_COMPLETE && (v = kv(t, "digest"))) {
            if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0)
                return line_err(l, e, "digest=on or digest=off", t);
            w->digest = strcmp(v, "on") == 0;
        } else if (w->kind == SWEEP_WL_COMPLETE && (v = kv(t, "n"))) {
            if (!parse_int(v, 0, 1 << 20, &n))
                return line_err(l, e, "n=N with 0 <= N <= 1048576", t);
            w->n_predict = (int)n;
        } else if (w->kind == SWEEP_WL_PERPLEXITY && (v = kv(t, "file"))) {
            if (!*v || copy_str(l, w->file, sizeof w->file, v, e))
                return line_err(l, e, "file=NAME", t);
        } else if (w->kind == SWEEP_WL_PERPLEXITY && (v = kv(t, "chunks"))) {
            if (!parse_int(v, 1, 1 << 20, &n))
                return line_err(l, e, "chunks=N with N >= 1", t);
            w->chunks = (int)n;
        } else {
            return line_err(l, e, w->kind == SWEEP_WL_COMPLETE ? "prompt=\"TEXT\", n=N, ctx=N, digest=on|off, models=A,B or name=ID"
                                                               : "file=NAME, ctx=N, chunks=N, models=A,B or name=ID", t);
        }
    }
    if (w->kind == SWEEP_WL_COMPLETE && !w->prompt)
        return line_err(l, e, "prompt=\"TEXT\" for complete", NULL);
    if (w->kind == SWEEP_WL_PERPLEXITY && !w->file[0])
        return line_err(l, e, "file=NAME for perplexity", NULL);
    for (int j = 0; j < s->n_workloads - 1; j++)
        if (strcmp(s->workloads[j].name, w->name) == 0)
            return line_err(l, e, "a workload name not used before (add name=ID)", w->name);
    return STATUS_OK;
}

static enum status do_threads(struct sweep *s, const struct line *l, struct err *e)
{
    if (need_values(l, e, "a thread count"))
        return STATUS_ERR;
    for (int i = 1; i < l->n_words; i++) {
        long n;
        if (!parse_int(l->words[i], 1, 1024, &n))
            return line_err(l, e, "a thread count 1..1024", l->words[i]);
        if (room(l, s->n_threads, e))
            return STATUS_ERR;
        for (int j = 0; j < s->n_threads; j++)
            if (s->threads[j] == (int)n)
                return line_err(l, e, "a thread count not listed before", l->words[i]);
        s->threads[s->n_threads++] = (int)n;
    }
    return STATUS_OK;
}

static enum status do_cache(struct sweep *s, const struct line *l, struct err *e)
{
    if (need_values(l, e, "warm or cold"))
        return STATUS_ERR;
    for (int i = 1; i < l->n_words; i++) {
        int cold;
        if (strcmp(l->words[i], "warm") == 0)
            cold = 0;
        else if (strcmp(l->words[i], "cold") == 0)
            cold = 1;
        else
            return line_err(l, e, "warm or cold", l->words[i]);
        for (int j = 0; j < s->n_caches; j++)
            if (s->cold[j] == cold)
                return line_err(l, e, "each of warm/cold at most once", l->words[i]);
        s->cold[s->n_caches++] = cold;
    }
    return STATUS_OK;
}

enum status sweep_size_parse(const char *t, uint64_t *bytes, struct err *e)
{
    char *end;
    errno = 0;
    double v = strtod(t, &end);
    uint64_t mult = 1;
    if (errno || end == t || !(v >= 0)) /* NaN too: converting it to uint64_t is undefined */
        return err_set(e, "expected a size like 512M or 2G, got '%s'", t);
    switch (toupper((unsigned char)*end)) {
    case '\0': break;
    case 'K': mult = 1ull << 10; end++; break;
    case 'M': mult = 1ull << 20; end++; break;
    case 'G': mult = 1ull << 30; end++; break;
    default: return err_set(e, "expected a size like 512M or 2G, got '%s'", t);
    }
    if (*end == 'i' || *end == 'B')
        end += *end == 'i' ? (end[1] == 'B' ? 2 : 1) : 1;
    if (*end || v * (double)mult > 1e18)
        return err_set(e, "expected a size like 512M or 2G, got '%s'", t);
    *bytes = (uint64_t)(v * (double)mult);
    return STATUS_OK;
}

static enum status do_scalar(struct sweep *s, const struct line *l, struct err *e)
{
    const char *d = l->words[0];
    if (l->n_words != 2)
        return line_err(l, e, "exactly one value", l->n_words > 2 ? l->words[2] : NULL);
    const char *v = l->words[1];
    long n;
    if (strcmp(d, "reps") == 0) {
        if (!parse_int(v, 1, 10000, &n))
            return line_err(l, e, "reps 1..10000", v);
        s->reps = (int)n;
    } else if (strcmp(d, "timeout") == 0) {
        char *end;
        double t = strtod(v, &end);
        if (end == v || *end || !(t > 0 && t < 1e6))
            return line_err(l, e, "a timeout in seconds > 0", v);
        s->timeout_s = t;
    } else if (strcmp(d, "mem-limit") == 0) {
        struct err se;
        if (sweep_size_parse(v, &s->mem_limit_bytes, &se))
            return err_set(e, "%s:%d: %s", l->path, l->lineno, se.msg);
        s->cgroup = 1;
    } else if (strcmp(d, "seed") == 0) {
        char *end;
        errno = 0;
        unsigned long long v2 = strtoull(v, &end, 10);
        if (errno || end == v || *end || *v == '-' || v2 > (1ull << 53))
            return line_err(l, e, "a seed: an integer 0..2^53", v);
        s->seed = (uint64_t)v2;
    } else if (strcmp(d, "cgroup") == 0 || strcmp(d, "smaps") == 0) {
        if (strcmp(v, "on") != 0 && strcmp(v, "off") != 0)
            return line_err(l, e, "on or off", v);
        *(d[0] == 'c' ? &s->cgroup : &s->smaps) = strcmp(v, "on") == 0;
    }
    return STATUS_OK;
}

/* "NAME@q4_0,q8_0" -> NAME, and the quant mask of those axis entries. */
static enum status resolve_model_quants(struct sweep *s, struct err *e)
{
    for (int m = 0; m < s->n_models; m++) {
        char *at = strrchr(s->models[m], '@');
        if (!at)
            continue;
        *at = '\0';
        uint32_t mask = 0;
        for (char *save = NULL, *q = strtok_r(at + 1, ",", &save); q; q = strtok_r(NULL, ",", &save)) {
            int k = 0;
            while (k < s->n_quants && strcasecmp(s->quants[k], q) != 0)
                k++;
            if (k == s->n_quants)
                return err_set(e, "%s: model %s: expected quants from the quant line after '@', got '%s'",
                               s->path, s->models[m], q);
            mask |= 1u << k;
        }
        if (!mask || !*s->models[m])
            return err_set(e, "%s: model '%s': expected NAME@QUANT[,QUANT...]", s->path, s->models[m]);
        s->model_quants[m] = mask;
    }
    return STATUS_OK;
}

/* An engine's modes=A,B -> the mask of those mode axis entries. */
static enum status resolve_engine_modes(struct sweep *s, struct err *e)
{
    for (int k = 0; k < s->n_engines; k++) {
        struct sweep_engine_spec *en = &s->engines[k];
        if (!en->modes[0])
            continue;
        char list[SWEEP_PATH_LEN];
        snprintf(list, sizeof list, "%s", en->modes);
        for (char *save = NULL, *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
            int m = 0;
            while (m < s->n_modes && strcmp(s->modes[m].name, name) != 0)
                m++;
            if (m == s->n_modes)
                return err_set(e, "%s: engine %s: expected modes from the mode line in modes=, got '%s'", s->path,
                               en->name[0] ? en->name : sweep_engine_kind_name(en->kind), name);
            en->mode_mask |= 1u << m;
        }
    }
    return STATUS_OK;
}

/* A workload's models=A,B -> the mask of those model axis entries (named as
 * the model line names them, without @quants). */
static enum status resolve_workload_models(struct sweep *s, struct err *e)
{
    for (int k = 0; k < s->n_workloads; k++) {
        struct sweep_workload *w = &s->workloads[k];
        if (!w->models[0])
            continue;
        char list[SWEEP_PATH_LEN];
        snprintf(list, sizeof list, "%s", w->models);
        for (char *save = NULL, *name = strtok_r(list, ",", &save); name; name = strtok_r(NULL, ",", &save)) {
            int m = 0;
            while (m < s->n_models && strcmp(s->models[m], name) != 0)
                m++;
            if (m == s->n_models)
                return err_set(e, "%s: workload %s: expected models from the model line in models=, got '%s'", s->path,
                               w->name, name);
            w->model_mask |= 1u << m;
        }
    }
    return STATUS_OK;
}

/* ---- parse entry points --------------------------------------------------- */

struct directive {
    const char *name;
    enum status (*fn)(struct sweep *, const struct line *, struct err *);
};

static const struct directive directives[] = {
    { "engine", do_engine },     { "model", do_model },         { "quant", do_quant },
    { "mode", do_mode },         { "workload", do_workload },   { "threads", do_threads },
    { "cache", do_cache },       { "reps", do_scalar },         { "timeout", do_scalar },
    { "mem-limit", do_scalar },  { "cgroup", do_scalar },       { "order", do_order },
    { "seed", do_scalar },       { "smaps", do_scalar },
};

static enum status parse_body(struct sweep *s, const char *path, const char *text, struct err *e)
{
    snprintf(s->path, sizeof s->path, "%s", path);
    if (!(s->text = strdup(text)))
        return err_set(e, "out of memory");
    s->reps = 1;
    s->timeout_s = 600;

    struct line *l = calloc(1, sizeof *l);
    if (!l)
        return err_set(e, "out of memory");
    l->path = path;
    const char *p = text;
    enum status st = STATUS_OK;
    while (*p && st == STATUS_OK) {
        const char *nl = strchr(p, '\n');
        size_t len = nl ? (size_t)(nl - p) : strlen(p);
        l->lineno++;
        st = line_split(l, p, len, e);
        p += len + (nl != NULL);
        if (st || l->n_words == 0)
            continue;
        size_t i = 0, n = sizeof directives / sizeof *directives;
        while (i < n && strcmp(directives[i].name, l->words[0]) != 0)
            i++;
        if (i == n)
            st = line_err(l, e, "a directive (engine model quant mode workload threads cache reps timeout mem-limit cgroup order seed smaps)", l->words[0]);
        else
            st = directives[i].fn(s, l, e);
    }
    free(l);
    if (st)
        return st;
    if (!s->n_models)
        return err_set(e, "%s: expected a 'model' line", path);
    if (!s->n_quants)
        return err_set(e, "%s: expected a 'quant' line", path);
    if (!s->n_modes)
        return err_set(e, "%s: expected a 'mode' line", path);
    if (!s->n_workloads)
        return err_set(e, "%s: expected a 'workload' line", path);
    if (resolve_model_quants(s, e) || resolve_workload_models(s, e) || resolve_engine_modes(s, e))
        return STATUS_ERR;
    if (!s->n_threads)
        s->threads[s->n_threads++] = 1;
    if (!s->n_caches)
        s->cold[s->n_caches++] = 0;
    if (!s->n_engines) {
        memset(&s->engines[0], 0, sizeof s->engines[0]);
        snprintf(s->engines[0].identity, sizeof s->engines[0].identity, "minillm");
        s->n_engines = 1;
    }
    return STATUS_OK;
}

enum status sweep_parse(struct sweep *s, const char *path, const char *text, struct err *e)
{
    memset(s, 0, sizeof *s);
    enum status st = parse_body(s, path, text, e);
    if (st)
        sweep_free(s);
    return st;
}

enum status sweep_load(struct sweep *s, const char *path, struct err *e)
{
    memset(s, 0, sizeof *s);
    struct stat sb;
    if (stat(path, &sb) == 0 && !S_ISREG(sb.st_mode))
        return err_set(e, "%s: not a regular file (a sweep is a text file; see harness/sweeps/)", path);
    FILE *f = fopen(path, "rb");
    if (!f)
        return err_set(e, "%s: %s", path, strerror(errno));
    char *buf = NULL;
    size_t len = 0, cap = 0;
    for (;;) {
        if (len + 4096 + 1 > cap) {
            cap = cap ? cap * 2 : 8192;
            char *nb = realloc(buf, cap);
            if (!nb) {
                free(buf);
                fclose(f);
                return err_set(e, "out of memory");
            }
            buf = nb;
        }
        size_t got = fread(buf + len, 1, 4096, f);
        len += got;
        if (got < 4096)
            break;
    }
    int bad = ferror(f);
    fclose(f);
    buf[len] = '\0';
    if (bad || strlen(buf) != len) {
        free(buf);
        return err_set(e, "%s: %s", path, bad ? "read error" : "contains a NUL byte");
    }
    enum status st = sweep_parse(s, path, buf, e);
    free(buf);
    return st;
}

void sweep_free(struct sweep *s)
{
    if (!s)
        return;
    for (int i = 0; i < s->n_workloads; i++)
        free(s->workloads[i].prompt);
    free(s->text);
    s->text = NULL;
    s->n_workloads = 0;
}

/* ---- expansion and keys --------------------------------------------------- */

size_t sweep_block_len(const struct sweep *s)
{
    return (size_t)s->n_engines * (size_t)s->n_modes;
}

size_t sweep_n_runs(const struct sweep *s)
{
    return sweep_n_groups(s) * (size_t)s->n_caches * (size_t)s->reps * sweep_block_len(s);
}

/* Whether engine k runs mode m (its modes= list, or every mode). */
static int engine_runs_mode(const struct sweep *s, int k, int m)
{
    uint32_t mm = s->engines[k].mode_mask;
    return !mm || ((mm >> m) & 1u);
}

int sweep_run_selected(const struct sweep *s, const struct sweep_run *r)
{
    uint32_t wm = s->workloads[r->workload].model_mask;
    return ((s->model_quants[r->model] >> r->quant) & 1u) && (!wm || ((wm >> r->model) & 1u)) &&
           engine_runs_mode(s, r->engine, r->mode);
}

size_t sweep_n_selected(const struct sweep *s)
{
    size_t pairs = 0;
    for (int k = 0; k < s->n_engines; k++)
        for (int m = 0; m < s->n_modes; m++)
            pairs += (size_t)engine_runs_mode(s, k, m);
    size_t n = 0, per = (size_t)s->n_threads * (size_t)s->n_caches * (size_t)s->reps * pairs;
    for (int m = 0; m < s->n_models; m++)
        for (int q = 0; q < s->n_quants; q++)
            for (int w = 0; w < s->n_workloads; w++) {
                uint32_t wm = s->workloads[w].model_mask;
                n += ((s->model_quants[m] >> q) & 1u) && (!wm || ((wm >> m) & 1u)) ? per : 0;
            }
    return n;
}

size_t sweep_n_groups(const struct sweep *s)
{
    return (size_t)s->n_models * (size_t)s->n_quants * (size_t)s->n_workloads * (size_t)s->n_threads;
}

void sweep_run_at(const struct sweep *s, size_t i, struct sweep_run *r)
{
    r->index = i;
    r->mode = (int)(i % (size_t)s->n_modes), i /= (size_t)s->n_modes;
    r->engine = (int)(i % (size_t)s->n_engines), i /= (size_t)s->n_engines;
    r->rep = (int)(i % (size_t)s->reps), i /= (size_t)s->reps;
    r->cache = (int)(i % (size_t)s->n_caches), i /= (size_t)s->n_caches;
    r->threads = (int)(i % (size_t)s->n_threads), i /= (size_t)s->n_threads;
    r->workload = (int)(i % (size_t)s->n_workloads), i /= (size_t)s->n_workloads;
    r->quant = (int)(i % (size_t)s->n_quants), i /= (size_t)s->n_quants;
    r->model = (int)i;
}

size_t sweep_group_of(const struct sweep *s, const struct sweep_run *r)
{
    return (((size_t)r->model * (size_t)s->n_quants + (size_t)r->quant) * (size_t)s->n_workloads +
            (size_t)r->workload) * (size_t)s->n_threads + (size_t)r->threads;
}

size_t sweep_group_ref(const struct sweep *s, const struct sweep_run *r)
{
    return sweep_group_of(s, r) * (size_t)s->n_caches * (size_t)s->reps * sweep_block_len(s);
}

/* llama.cpp's output changes with repack; minillm's must not. */
static int repack_variant(const struct sweep *s, int engine, int mode)
{
    return s->engines[engine].kind == SWEEP_ENGINE_LLAMACPP && s->modes[mode].no_repack;
}

/* The first (engine, mode) of r's identity group with the given repack variant,
 * as an offset inside a block; SIZE_MAX when there is none. */
static size_t first_in_class(const struct sweep *s, int engine, int variant)
{
    for (int k = 0; k < s->n_engines; k++) {
        if (strcmp(s->engines[k].identity, s->engines[engine].identity) != 0)
            continue;
        for (int m = 0; m < s->n_modes; m++)
            if (engine_runs_mode(s, k, m) && repack_variant(s, k, m) == variant)
                return (size_t)k * (size_t)s->n_modes + (size_t)m;
    }
    return SIZE_MAX;
}

size_t sweep_identity_ref(const struct sweep *s, const struct sweep_run *r)
{
    size_t off = first_in_class(s, r->engine, repack_variant(s, r->engine, r->mode));
    return sweep_group_ref(s, r) + off; /* r itself is in its class: off is found */
}

size_t sweep_repack_ref(const struct sweep *s, const struct sweep_run *r)
{
    if (!repack_variant(s, r->engine, r->mode))
        return SIZE_MAX;
    size_t off = first_in_class(s, r->engine, 0);
    return off == SIZE_MAX ? SIZE_MAX : sweep_group_ref(s, r) + off;
}

/* splitmix64: a small, well-mixed generator for the run order. */
static uint64_t mix64(uint64_t *x)
{
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

void sweep_block_order(const struct sweep *s, size_t first, size_t *perm)
{
    size_t n = sweep_block_len(s), n_front = 0;
    for (size_t k = 0; k < n; k++)
        perm[k] = first + k;
    if (!s->order_random || n < 2)
        return;
    /* identity references first, in canonical order; the rest shuffled */
    for (size_t k = 0; k < n; k++) {
        struct sweep_run r;
        sweep_run_at(s, first + k, &r);
        if (sweep_identity_ref(s, &r) == first + k) {
            size_t t = perm[n_front];
            perm[n_front++] = perm[k];
            perm[k] = t;
        }
    }
    uint64_t x = s->seed ^ (first * 0xd1b54a32d192ed03ull);
    for (size_t k = n - 1; k > n_front; k--) {
        size_t j = n_front + (size_t)(mix64(&x) % (uint64_t)(k - n_front + 1));
        size_t t = perm[k];
        perm[k] = perm[j];
        perm[j] = t;
    }
}

void sweep_model_label(const char *model, char *buf, size_t n)
{
    if (strncmp(model, "gen:", 4) == 0) {
        snprintf(buf, n, "%s", model);
        return;
    }
    const char *base = strrchr(model, '/');
    base = base ? base + 1 : model;
    size_t len = strlen(base);
    if (len > 5 && strcmp(base + len - 5, ".gguf") == 0)
        len -= 5;
    snprintf(buf, n, "%.*s", (int)len, base);
}

void sweep_group_key(const struct sweep *s, const struct sweep_run *r, char *buf, size_t n)
{
    char label[SWEEP_PATH_LEN];
    sweep_model_label(s->models[r->model], label, sizeof label);
    snprintf(buf, n, "%s|%s|%s|t%d", label, s->quants[r->quant], s->workloads[r->workload].name,
             s->threads[r->threads]);
}

void sweep_case_key(const struct sweep *s, const struct sweep_run *r, char *buf, size_t n)
{
    char g[SWEEP_PATH_LEN + 512];
    sweep_group_key(s, r, g, sizeof g);
    const char *en = s->engines[r->engine].name;
    snprintf(buf, n, "%s|%s|%s%s%s", g, s->cold[r->cache] ? "cold" : "warm", s->modes[r->mode].name, *en ? "|" : "",
             en);
}
