/* compare.c: the join, the gates, the markdown report. */
#include "compare.h"
#include "files.h"
#include "gate.h"
#include "stats.h"
#include "table.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define RSS_SLACK_MIB 2.0
#define RSS_SLACK_FRAC 0.01
#define TIME_SLACK_FRAC 0.05
#define TIME_P 0.05
#define TIME_MIN_SAMPLES 5

static double median_of(const struct table_case *c, enum table_fig k)
{
    double tmp[TABLE_MAX_SAMPLES];
    if (!c->n[k])
        return NAN;
    memcpy(tmp, c->v[k], (size_t)c->n[k] * sizeof *tmp);
    return stats_median(tmp, (size_t)c->n[k]);
}

/* Appends "what" to the verdict text. */
static void add(char *v, size_t n, const char *what)
{
    size_t k = strlen(v);
    snprintf(v + k, n - k, "%s%s", k ? "; " : "", what);
}

/* Gates one joined case; returns 1 on regression, writing reasons into v. */
static int gate_case(const struct table_case *b, const struct table_case *c, const struct compare_opts *o,
                     int time_gate, char *v, size_t n, double *p_out)
{
    int reg = 0;
    char msg[800];
    *p_out = NAN;
    if (c->n_differs) {
        snprintf(msg, sizeof msg, "identity: output differs (%s)", c->first_diff);
        add(v, n, msg), reg = 1;
    }
    if (c->n_ok < c->n_runs && c->n_skipped < c->n_runs && b->n_ok == b->n_runs) {
        snprintf(msg, sizeof msg, "runs failed: %s", c->failures);
        add(v, n, msg), reg = 1;
    }
    if (b->ppl_text[0] && c->ppl_text[0] && strcmp(b->ppl_text, c->ppl_text) != 0) {
        struct gate_diff d;
        gate_compare(b->ppl_text, strlen(b->ppl_text), c->ppl_text, strlen(c->ppl_text), &d);
        snprintf(msg, sizeof msg, "perplexity changed: final %.4f -> %.4f; first difference at byte %lld: \"%s\" -> \"%s\"",
                 b->ppl, c->ppl, (long long)d.offset, d.ref_ctx, d.new_ctx);
        add(v, n, msg), reg = 1;
    } else if (b->ppl_text[0] && !c->ppl_text[0] && c->n_ok) {
        add(v, n, "perplexity missing"), reg = 1;
    }
    double rb = median_of(b, FIG_MAXRSS_MIB), rc = median_of(c, FIG_MAXRSS_MIB);
    if (!isnan(rb) && !isnan(rc)) {
        double slack = fmax(rb * RSS_SLACK_FRAC, RSS_SLACK_MIB);
        if (rc - rb > slack) {
            snprintf(msg, sizeof msg, "peak RSS +%.1f MiB (+%.1f%%, allowed %.1f MiB)", rc - rb,
                     100 * (rc - rb) / rb, slack);
            add(v, n, msg), reg = 1;
        }
    }
    double tb = median_of(b, FIG_WALL_MS), tc = median_of(c, FIG_WALL_MS);
    if (!isnan(tb) && !isnan(tc) && c->n[FIG_WALL_MS] >= TIME_MIN_SAMPLES && b->n[FIG_WALL_MS] >= TIME_MIN_SAMPLES) {
        double p = stats_mwu_p_greater(b->v[FIG_WALL_MS], (size_t)b->n[FIG_WALL_MS], c->v[FIG_WALL_MS],
                                       (size_t)c->n[FIG_WALL_MS]);
        *p_out = p;
        if (tc > tb * (1 + TIME_SLACK_FRAC) && tc - tb > o->time_floor_ms && p < TIME_P) {
            snprintf(msg, sizeof msg, "wall time +%.1f%% (p = %.3f)%s", 100 * (tc - tb) / tb, p,
                     time_gate ? "" : !o->time_gate ? " [time gate off]" : " [time not compared]");
            add(v, n, msg);
            reg |= time_gate;
        }
    }
    return reg;
}

static void fmt_change(FILE *f, double a, double b, const char *num)
{
    if (isnan(a) || isnan(b)) {
        fputs(" | -", f);
        return;
    }
    fputs(" | ", f);
    fprintf(f, num, a);
    fputs(" → ", f);
    fprintf(f, num, b);
    if (a != 0)
        fprintf(f, " (%+.1f%%)", 100 * (b - a) / a);
}

/* Writes into why what differs between the machines of two meta lines ("" when
 * they are the same machine, boot included). A missing field counts as a
 * difference: a baseline without its boot cannot vouch for its times. */
static void machine_diff(json_t *mb, json_t *mn, char *why, size_t n)
{
    static const char *const keys[] = { "host", "kernel", "cpu", "cpus", "boot_id" };
    json_t *b = json_object_get(mb, "machine"), *c = json_object_get(mn, "machine");
    why[0] = '\0';
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++) {
        json_t *x = json_object_get(b, keys[i]), *y = json_object_get(c, keys[i]);
        if (x && y && json_equal(x, y))
            continue;
        char *sx = x ? json_dumps(x, JSON_ENCODE_ANY) : NULL, *sy = y ? json_dumps(y, JSON_ENCODE_ANY) : NULL;
        size_t k = strlen(why);
        snprintf(why + k, n - k, "%s%s %s vs %s", k ? ", " : "", keys[i], sx ? sx : "(none)", sy ? sy : "(none)");
        free(sx);
        free(sy);
    }
}

static void report(const struct table *tb, const struct table *tn, const struct compare_opts *o, int time_gate,
                   FILE *f, int *n_reg, int *n_missing, int *n_common)
{
    fputs("| case | peak RSS MiB | wall ms | p(slower) | PPL | identity | verdict |\n", f);
    fputs("|---|---|---|---|---|---|---|\n", f);
    for (size_t i = 0; i < tb->n_cases; i++) {
        const struct table_case *b = &tb->cases[i], *c = table_find(tn, b->key);
        if (!c)
            continue;
        (*n_common)++;
        char v[1024] = "";
        double p;
        int reg = gate_case(b, c, o, time_gate, v, sizeof v, &p);
        *n_reg += reg;
        fputs("| ", f);
        table_md_cell(f, b->key);
        fmt_change(f, median_of(b, FIG_MAXRSS_MIB), median_of(c, FIG_MAXRSS_MIB), "%.1f");
        fmt_change(f, median_of(b, FIG_WALL_MS), median_of(c, FIG_WALL_MS), "%.0f");
        if (isnan(p))
            fputs(" | -", f);
        else
            fprintf(f, " | %.3f", p);
        if (c->ppl >= 0)
            fprintf(f, " | %.4f%s", c->ppl, b->ppl >= 0 && strcmp(b->ppl_text, c->ppl_text) ? " (changed)" : "");
        else
            fputs(" | -", f);
        fprintf(f, " | %s | %s%s", table_verdict(c), reg ? "**REGRESSION**" : "ok", v[0] ? ": " : "");
        table_md_cell(f, v);
        fputs(" |\n", f);
    }
    for (size_t i = 0; i < tb->n_cases; i++)
        if (!table_find(tn, tb->cases[i].key)) {
            if (!*n_missing)
                fputs("\nCases in BASE missing from NEW:\n\n", f);
            fprintf(f, "- %s\n", tb->cases[i].key);
            (*n_missing)++;
        }
    int n_new = 0;
    for (size_t i = 0; i < tn->n_cases; i++)
        if (!table_find(tb, tn->cases[i].key)) {
            if (!n_new++)
                fputs("\nCases only in NEW (not gated):\n\n", f);
            fprintf(f, "- %s\n", tn->cases[i].key);
        }
}

int compare_dirs(const char *base, const char *new_dir, const struct compare_opts *o, FILE *out)
{
    struct table tb, tn;
    struct err e = { "" };
    if (table_load(&tb, base, &e)) {
        fprintf(stderr, "rbench compare: BASE: %s\n", e.msg);
        return 2;
    }
    if (table_load_engine(&tn, new_dir, o->new_engine, &e)) {
        fprintf(stderr, "rbench compare: NEW: %s\n", e.msg);
        table_free(&tb);
        return 2;
    }
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    int n_reg = 0, n_missing = 0, n_common = 0;
    fprintf(f, "# rbench compare\n\n- base: `%s`\n- new: `%s`\n", base, new_dir);
    char why[1024];
    machine_diff(tb.meta, tn.meta, why, sizeof why);
    int time_gate = o->time_gate && (!why[0] || o->time_any_machine);
    if (why[0])
        fprintf(f, "- time %s: baseline from another machine (%s)\n",
                o->time_any_machine ? "compared anyway (--time-any-machine)" : "not compared", why);
    fputc('\n', f);
    report(&tb, &tn, o, time_gate, f, &n_reg, &n_missing, &n_common);
    int rc = n_common == 0 || (n_missing && !o->common_only) ? 2 : n_reg ? 1 : 0;
    fprintf(f, "\n%d cases compared, %d regressions, %d missing: %s\n", n_common, n_reg, n_missing,
            rc == 0 ? "no regression" : rc == 1 ? "REGRESSION" : "could not compare");
    fclose(f);
    fwrite(buf, 1, len, out);
    if (o->md_path && files_write_atomic(o->md_path, buf, len, &e)) {
        fprintf(stderr, "rbench compare: %s\n", e.msg);
        rc = 2; /* the report asked for is not there */
    }
    free(buf);
    table_free(&tb);
    table_free(&tn);
    return rc;
}
