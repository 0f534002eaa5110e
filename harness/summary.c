/* summary.c: csv, markdown and history printers over a struct table.
 * Printers build the text in a memstream, then files_write_atomic it. */
#include "summary.h"
#include "files.h"
#include "stats.h"

#include <stdlib.h>
#include <string.h>

static void csv_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"')
            fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

/* median/min/max of a case's figure into out[3]; 0 when no sample. */
static int fig_stats(const struct table_case *c, enum table_fig k, double out[3])
{
    int n = c->n[k];
    if (!n)
        return 0;
    double tmp[TABLE_MAX_SAMPLES];
    memcpy(tmp, c->v[k], (size_t)n * sizeof *tmp);
    out[0] = stats_median(tmp, (size_t)n);
    out[1] = stats_min(tmp, (size_t)n);
    out[2] = stats_max(tmp, (size_t)n);
    return 1;
}

static void write_csv(const struct table *t, FILE *f)
{
    fputs("case,model,quant,workload,threads,cache,mode,n_runs,n_ok,identity,ppl", f);
    for (int k = 0; k < TABLE_N_FIG; k++)
        fprintf(f, ",%s_median,%s_min,%s_max", table_fig_names[k], table_fig_names[k], table_fig_names[k]);
    fputs(",failures,first_diff,engine,n_incomplete,n_retried\n", f);
    for (size_t i = 0; i < t->n_cases; i++) {
        const struct table_case *c = &t->cases[i];
        csv_str(f, c->key);
        fputc(',', f);
        csv_str(f, c->model);
        fprintf(f, ",%s,", c->quant);
        csv_str(f, c->workload);
        fprintf(f, ",%d,%s,", c->threads, c->cache);
        csv_str(f, c->mode);
        fprintf(f, ",%d,%d,%s,", c->n_runs, c->n_ok, table_verdict(c));
        if (c->ppl >= 0)
            fprintf(f, "%.6f", c->ppl);
        for (int k = 0; k < TABLE_N_FIG; k++) {
            double s[3];
            if (fig_stats(c, (enum table_fig)k, s))
                fprintf(f, ",%.3f,%.3f,%.3f", s[0], s[1], s[2]);
            else
                fputs(",,,", f);
        }
        fputc(',', f);
        csv_str(f, c->failures);
        fputc(',', f);
        csv_str(f, c->first_diff);
        fputc(',', f);
        csv_str(f, c->engine);
        fprintf(f, ",%d,%d\n", c->n_incomplete, c->n_retried);
    }
}

static void md_fig(FILE *f, const struct table_case *c, enum table_fig k, const char *fmt)
{
    double s[3];
    fputs(" | ", f);
    if (!fig_stats(c, k, s)) {
        fputs("-", f);
        return;
    }
    fprintf(f, fmt, s[0]);
    if (c->n[k] > 1 && s[1] != s[2]) {
        fputs(" (", f);
        fprintf(f, fmt, s[1]);
        fputs("–", f);
        fprintf(f, fmt, s[2]);
        fputs(")", f);
    }
}

void summary_markdown(const struct table *t, FILE *f)
{
    fputs("| model | quant | workload | t | cache | mode | peak RSS MiB | wall ms | major faults | read MiB | "
          "PPL | identity | notes |\n",
          f);
    fputs("|---|---|---|---|---|---|---|---|---|---|---|---|---|\n", f);
    for (size_t i = 0; i < t->n_cases; i++) {
        const struct table_case *c = &t->cases[i];
        fprintf(f, "| %s | %s | %s | %d | %s | %s%s%s", c->model, c->quant, c->workload, c->threads, c->cache, c->mode,
                c->engine[0] ? " @" : "", c->engine);
        md_fig(f, c, FIG_MAXRSS_MIB, "%.1f");
        md_fig(f, c, FIG_WALL_MS, "%.0f");
        md_fig(f, c, FIG_MAJFLT, "%.0f");
        md_fig(f, c, FIG_READ_MIB, "%.1f");
        if (c->ppl >= 0)
            fprintf(f, " | %.4f", c->ppl);
        else
            fputs(" | -", f);
        fprintf(f, " | %s | ", table_verdict(c));
        if (c->first_diff[0])
            fprintf(f, "differs at %s; ", c->first_diff);
        if (c->failures[0])
            fprintf(f, "%s; ", c->failures);
        if (c->n_incomplete)
            fprintf(f, "%d incomplete (output cut short twice, not counted); ", c->n_incomplete);
        if (c->n_retried)
            fprintf(f, "%d retried after a cut-short output; ", c->n_retried);
        fputs(" |\n", f);
    }
}

static enum status emit(const char *dir, const char *name, const struct table *t,
                        void (*printer)(const struct table *, FILE *), struct err *e)
{
    char path[4096], *buf = NULL;
    size_t len = 0;
    if (files_join(path, sizeof path, dir, name, e))
        return STATUS_ERR;
    FILE *f = open_memstream(&buf, &len);
    if (!f)
        return err_set(e, "open_memstream failed");
    printer(t, f);
    fclose(f);
    enum status st = files_write_atomic(path, buf, len, e);
    free(buf);
    return st;
}

static void write_md(const struct table *t, FILE *f)
{
    json_t *m = t->meta;
    fprintf(f, "# rbench results\n\n");
    if (m) {
        fprintf(f, "- sweep: `%s`\n- started: %s\n- engine: %s (%s)\n- git commit: %s%s\n",
                json_string_value(json_object_get(m, "sweep_path")),
                json_string_value(json_object_get(m, "started")), json_string_value(json_object_get(m, "engine")),
                json_string_value(json_object_get(m, "engine_version")),
                json_string_value(json_object_get(m, "git_commit")),
                json_is_true(json_object_get(m, "git_dirty")) ? " (dirty)" : "");
        json_t *mc = json_object_get(m, "machine");
        fprintf(f, "- machine: %s, %lld CPUs, %s, Linux %s\n", json_string_value(json_object_get(mc, "cpu")),
                (long long)json_integer_value(json_object_get(mc, "cpus")),
                json_string_value(json_object_get(mc, "mem_total")),
                json_string_value(json_object_get(mc, "kernel")));
    }
    size_t n_fail = 0;
    for (size_t i = 0; i < t->n_cases; i++)
        n_fail += strcmp(table_verdict(&t->cases[i]), "pass") != 0;
    fprintf(f, "- runs: %zu in %zu cases; cases not passing: %zu\n\n", t->n_records, t->n_cases, n_fail);
    fprintf(f, "Figures are medians over repetitions (min–max); peak RSS is wait4 ru_maxrss.\n\n");
    summary_markdown(t, f);
}

enum status summary_write(const char *dir, struct err *e)
{
    struct table t;
    if (table_load(&t, dir, e))
        return STATUS_ERR;
    enum status st = emit(dir, "summary.csv", &t, write_csv, e);
    if (!st)
        st = emit(dir, "summary.md", &t, write_md, e);
    table_free(&t);
    return st;
}

enum status summary_append_history(const char *dir, const char *history, struct err *e)
{
    struct table t;
    if (table_load(&t, dir, e))
        return STATUS_ERR;
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    if (!f) {
        table_free(&t);
        return err_set(e, "open_memstream failed");
    }
    if (!files_exist(history))
        fputs("started,run_dir,git_commit,engine_version,case,n_ok,identity,maxrss_mib,wall_ms,majflt,read_mib,ppl\n", f);
    const char *started = json_string_value(json_object_get(t.meta, "started"));
    const char *commit = json_string_value(json_object_get(t.meta, "git_commit"));
    const char *ver = json_string_value(json_object_get(t.meta, "engine_version"));
    const char *base = strrchr(dir, '/');
    base = base && base[1] ? base + 1 : dir;
    for (size_t i = 0; i < t.n_cases; i++) {
        const struct table_case *c = &t.cases[i];
        fprintf(f, "%s,", started ? started : "");
        csv_str(f, base);
        fprintf(f, ",%s,", commit ? commit : "");
        csv_str(f, ver ? ver : "");
        fputc(',', f);
        csv_str(f, c->key);
        fprintf(f, ",%d,%s", c->n_ok, table_verdict(c));
        static const enum table_fig figs[] = { FIG_MAXRSS_MIB, FIG_WALL_MS, FIG_MAJFLT, FIG_READ_MIB };
        for (size_t k = 0; k < sizeof figs / sizeof *figs; k++) {
            double s[3];
            if (fig_stats(c, figs[k], s))
                fprintf(f, ",%.3f", s[0]);
            else
                fputs(",", f);
        }
        if (c->ppl >= 0)
            fprintf(f, ",%.6f\n", c->ppl);
        else
            fputs(",\n", f);
    }
    fclose(f);
    enum status st = len ? files_append_line(history, buf, e) : STATUS_OK;
    free(buf);
    table_free(&t);
    return st;
}
