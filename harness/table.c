/* table.c: runs.jsonl -> cases. Records are folded one at a time (the
 * jsonl callback), so memory is one case per key, not one per run. */
#include "table.h"
#include "results.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const table_fig_names[TABLE_N_FIG] = {
    "wall_ms", "user_ms", "sys_ms", "maxrss_mib", "sampled_peak_mib", "majflt", "minflt", "inblock", "read_mib",
    "cold_resident_mib",
};

struct fold {
    struct table *t;
    const char *engine; /* NULL: every run */
    int oom;
};

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

static double num(json_t *o, const char *k)
{
    return json_number_value(json_object_get(o, k));
}

static struct table_case *case_for(struct fold *f, json_t *o)
{
    struct table *t = f->t;
    char key_buf[512];
    const char *key = str(o, "case");
    if (f->engine) { /* "...|mode|ENGINE" -> "...|mode" */
        snprintf(key_buf, sizeof key_buf, "%s", key);
        size_t kl = strlen(key_buf), el = strlen(f->engine);
        if (kl > el + 1 && key_buf[kl - el - 1] == '|' && strcmp(key_buf + kl - el, f->engine) == 0)
            key_buf[kl - el - 1] = '\0';
        key = key_buf;
    }
    for (size_t i = t->n_cases; i-- > 0;)
        if (strcmp(t->cases[i].key, key) == 0)
            return &t->cases[i];
    if (t->n_cases == t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 16;
        struct table_case *nc = realloc(t->cases, cap * sizeof *nc);
        if (!nc) {
            f->oom = 1;
            return NULL;
        }
        t->cases = nc, t->cap = cap;
    }
    struct table_case *c = &t->cases[t->n_cases++];
    memset(c, 0, sizeof *c);
    snprintf(c->key, sizeof c->key, "%s", key);
    snprintf(c->model, sizeof c->model, "%s", str(o, "model"));
    snprintf(c->quant, sizeof c->quant, "%s", str(o, "quant"));
    snprintf(c->workload, sizeof c->workload, "%s", str(o, "workload"));
    snprintf(c->cache, sizeof c->cache, "%s", str(o, "cache"));
    snprintf(c->mode, sizeof c->mode, "%s", str(o, "mode"));
    snprintf(c->engine, sizeof c->engine, "%s", str(o, "engine"));
    c->threads = (int)num(o, "threads");
    c->first_index = (size_t)num(o, "index");
    c->ppl = -1;
    return c;
}

static void push(struct table_case *c, enum table_fig fig, double v)
{
    if (c->n[fig] < TABLE_MAX_SAMPLES)
        c->v[fig][c->n[fig]++] = v;
}

static void note_failure(struct table_case *c, const char *what)
{
    size_t k = strlen(c->failures);
    snprintf(c->failures + k, sizeof c->failures - k, "%s%s", k ? ", " : "", what);
}

static void fold_one(json_t *o, void *ctx)
{
    struct fold *f = ctx;
    const char *type = str(o, "type");
    if (strcmp(type, "meta") == 0) {
        if (!f->t->meta)
            f->t->meta = json_incref(o);
        return;
    }
    if (strcmp(type, "run") != 0)
        return;
    if (f->engine && strcmp(str(o, "engine"), f->engine) != 0)
        return;
    f->t->n_records++;
    struct table_case *c = case_for(f, o);
    if (!c)
        return;
    size_t idx = (size_t)num(o, "index");
    if (idx < c->first_index)
        c->first_index = idx;
    const char *status = str(o, "status"), *id = str(o, "identity");
    if (num(o, "attempts") > 1)
        c->n_retried++;
    if (strcmp(status, "incomplete") == 0) { /* not a result, not a failure: counted apart */
        c->n_incomplete++;
        return;
    }
    c->n_runs++;
    if (strcmp(id, "differs") == 0) {
        if (!c->n_differs++) {
            json_t *d = json_object_get(o, "diff");
            snprintf(c->first_diff, sizeof c->first_diff, "rep %d: offset %lld: ref \"%s\" new \"%s\"",
                     (int)num(o, "rep"), (long long)num(d, "offset"), str(d, "ref"), str(d, "new"));
        }
    } else if (strcmp(id, "no-ref") == 0) {
        c->n_no_ref++;
    }
    if (strcmp(status, "skipped") == 0) {
        c->n_skipped++;
        if (!c->failures[0])
            snprintf(c->failures, sizeof c->failures, "skipped: %s", str(o, "reason"));
        return;
    }
    if (strcmp(status, "ok") != 0) {
        char what[128];
        if (strcmp(status, "signal") == 0)
            snprintf(what, sizeof what, "rep %d signal %d", (int)num(o, "rep"), (int)num(o, "signal"));
        else if (strcmp(status, "exit") == 0)
            snprintf(what, sizeof what, "rep %d exit %d", (int)num(o, "rep"), (int)num(o, "exit_code"));
        else
            snprintf(what, sizeof what, "rep %d %s", (int)num(o, "rep"), status);
        note_failure(c, what);
        return;
    }
    c->n_ok++;
    push(c, FIG_WALL_MS, num(o, "wall_ns") / 1e6);
    push(c, FIG_USER_MS, num(o, "utime_us") / 1e3);
    push(c, FIG_SYS_MS, num(o, "stime_us") / 1e3);
    push(c, FIG_MAXRSS_MIB, num(o, "maxrss_kib") / 1024);
    push(c, FIG_SAMPLED_MIB, num(o, "sampled_peak_kib") / 1024);
    push(c, FIG_MAJFLT, num(o, "majflt"));
    push(c, FIG_MINFLT, num(o, "minflt"));
    push(c, FIG_INBLOCK, num(o, "inblock"));
    if (num(o, "read_bytes") >= 0)
        push(c, FIG_READ_MIB, num(o, "read_bytes") / 1048576);
    json_t *cold = json_object_get(o, "cold");
    if (cold)
        push(c, FIG_COLD_RESIDENT_MIB, num(cold, "resident_at_start") / 1048576);
    const char *pt = str(o, "ppl_text");
    if (*pt) {
        if (c->ppl < 0 && !c->ppl_text[0]) {
            snprintf(c->ppl_text, sizeof c->ppl_text, "%s", pt);
            c->ppl = json_object_get(o, "ppl") ? num(o, "ppl") : -1;
        } else if (strncmp(c->ppl_text, pt, sizeof c->ppl_text - 1) != 0) {
            c->ppl_varies = 1;
        }
    }
}

static int by_index(const void *x, const void *y)
{
    const struct table_case *a = x, *b = y;
    return (a->first_index > b->first_index) - (a->first_index < b->first_index);
}

enum status table_load(struct table *t, const char *dir, struct err *e)
{
    return table_load_engine(t, dir, NULL, e);
}

enum status table_load_engine(struct table *t, const char *dir, const char *engine, struct err *e)
{
    memset(t, 0, sizeof *t);
    struct fold f = { t, engine, 0 };
    if (results_each(dir, 0, fold_one, &f, e)) {
        table_free(t);
        return STATUS_ERR;
    }
    if (f.oom) {
        table_free(t);
        return err_set(e, "out of memory reading %s", dir);
    }
    if (t->n_cases) /* qsort(NULL, 0) is undefined */
        qsort(t->cases, t->n_cases, sizeof *t->cases, by_index);
    return STATUS_OK;
}

void table_free(struct table *t)
{
    if (!t)
        return;
    json_decref(t->meta);
    free(t->cases);
    memset(t, 0, sizeof *t);
}

const char *table_verdict(const struct table_case *c)
{
    if (c->n_differs)
        return "FAIL";
    if (c->n_no_ref || c->n_ok < c->n_runs || c->n_ok == 0)
        return "n/a";
    return "pass";
}

const struct table_case *table_find(const struct table *t, const char *key)
{
    for (size_t i = 0; i < t->n_cases; i++)
        if (strcmp(t->cases[i].key, key) == 0)
            return &t->cases[i];
    return NULL;
}

void table_md_cell(FILE *f, const char *s)
{
    for (; *s; s++) {
        if (*s == '|')
            fputc('\\', f);
        fputc(*s, f);
    }
}
