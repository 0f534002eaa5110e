/* paired.c: see paired.h. Sections: folding runs into pairs, the gates,
 * the report. */
#include "paired.h"
#include "files.h"
#include "results.h"
#include "stats.h"
#include "table.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define MAX_PAIR_REPS 256
#define RSS_SLACK_MIB 2.0
#define RSS_SLACK_FRAC 0.01
#define MAJFLT_SLACK 16.0
#define ALPHA 0.05

/* One side (A or B) of a case: its runs' figures by rep. */
struct side {
    double wall_ms[MAX_PAIR_REPS], rss_mib[MAX_PAIR_REPS], majflt[MAX_PAIR_REPS];
    double gen_ms[MAX_PAIR_REPS];      /* the engine's own generation time; -1 when not reported */
    unsigned char have[MAX_PAIR_REPS]; /* 1: an ok run at this rep */
    int n_runs, n_ok, n_differs, n_failed;
    char first_fail[160];
};

struct pcase {
    char key[512]; /* the case key without its engine part */
    size_t first_index;
    struct side s[2];
};

struct fold {
    const char *eng[2];
    struct pcase *cases;
    size_t n, cap;
    int seen[2], oom;
    char cls[2][64];
};

static const char *str(json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    return s ? s : "";
}

/* ---- folding runs into pairs ------------------------------------------------ */

static struct pcase *case_for(struct fold *f, const char *key, size_t index)
{
    for (size_t i = 0; i < f->n; i++)
        if (strcmp(f->cases[i].key, key) == 0)
            return &f->cases[i];
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        struct pcase *nc = realloc(f->cases, cap * sizeof *nc);
        if (!nc) {
            f->oom = 1;
            return NULL;
        }
        f->cases = nc, f->cap = cap;
    }
    struct pcase *c = &f->cases[f->n++];
    memset(c, 0, sizeof *c);
    snprintf(c->key, sizeof c->key, "%s", key);
    c->first_index = index;
    return c;
}

static void fold_one(json_t *o, void *ctx)
{
    struct fold *f = ctx;
    if (strcmp(str(o, "type"), "meta") == 0) {
        json_t *ens = json_object_get(o, "engines");
        for (size_t i = 0; i < json_array_size(ens); i++)
            for (int k = 0; k < 2; k++)
                if (strcmp(str(json_array_get(ens, i), "name"), f->eng[k]) == 0)
                    snprintf(f->cls[k], sizeof f->cls[k], "%s", str(json_array_get(ens, i), "identity"));
        return;
    }
    if (strcmp(str(o, "type"), "run") != 0)
        return;
    const char *eng = str(o, "engine");
    int k = strcmp(eng, f->eng[0]) == 0 ? 0 : strcmp(eng, f->eng[1]) == 0 ? 1 : -1;
    if (k < 0)
        return;
    f->seen[k] = 1;
    /* the key without "|ENGINE" */
    char key[512];
    snprintf(key, sizeof key, "%s", str(o, "case"));
    size_t kl = strlen(key), el = strlen(eng);
    if (kl > el + 1 && key[kl - el - 1] == '|' && strcmp(key + kl - el, eng) == 0)
        key[kl - el - 1] = '\0';
    struct pcase *c = case_for(f, key, (size_t)json_integer_value(json_object_get(o, "index")));
    if (!c)
        return;
    struct side *s = &c->s[k];
    const char *status = str(o, "status");
    if (strcmp(status, "skipped") == 0 || strcmp(status, "incomplete") == 0)
        return;
    s->n_runs++;
    if (strcmp(str(o, "identity"), "differs") == 0 || strcmp(str(o, "identity"), "no-ref") == 0)
        s->n_differs++;
    json_int_t rep = json_integer_value(json_object_get(o, "rep"));
    if (strcmp(status, "ok") != 0) {
        if (!s->n_failed++)
            snprintf(s->first_fail, sizeof s->first_fail, "rep %lld %s", (long long)rep, status);
        return;
    }
    s->n_ok++;
    if (rep < 0 || rep >= MAX_PAIR_REPS)
        return;
    s->have[rep] = 1;
    s->wall_ms[rep] = json_number_value(json_object_get(o, "wall_ns")) / 1e6;
    s->rss_mib[rep] = json_number_value(json_object_get(o, "maxrss_kib")) / 1024;
    s->majflt[rep] = json_number_value(json_object_get(o, "majflt"));
    json_t *g = json_object_get(o, "gen_ms");
    s->gen_ms[rep] = g ? json_number_value(g) : -1;
}

/* ---- the gates ---------------------------------------------------------------- */

static double median_of(const struct side *s, const double *v)
{
    double t[MAX_PAIR_REPS];
    size_t n = 0;
    for (int r = 0; r < MAX_PAIR_REPS; r++)
        if (s->have[r])
            t[n++] = v[r];
    return n ? stats_median(t, n) : NAN;
}

static void add(char *v, size_t n, const char *what)
{
    size_t k = strlen(v);
    snprintf(v + k, n - k, "%s%s", k ? "; " : "", what);
}

/* The per-pair ratios vb/va of one time figure (pairs where both are > 0),
 * appended to out (room for MAX_PAIR_REPS); returns how many. */
static size_t ratios(const struct side *a, const struct side *b, const double *va, const double *vb, double *out)
{
    size_t np = 0;
    for (int k = 0; k < MAX_PAIR_REPS; k++)
        if (a->have[k] && b->have[k] && va[k] > 0 && vb[k] > 0)
            out[np++] = vb[k] / va[k];
    return np;
}

struct ratio {
    double median, lo, hi;
    int n;
};

/* Median and sign-test interval at alpha of r[0..n) (reordered). */
static void summarize(double *r, size_t n, double alpha, struct ratio *out)
{
    out->n = (int)n;
    out->median = out->lo = out->hi = NAN;
    if (!n)
        return;
    out->median = stats_median(r, n); /* sorts r */
    stats_median_interval(r, n, alpha, &out->lo, &out->hi);
}

/* Two table cells: the median ratio and its lower bound (or whole interval). */
static void ratio_cells(FILE *m, const struct ratio *r, int interval)
{
    if (isnan(r->median))
        fputs(" - | - |", m);
    else if (isnan(r->lo))
        fprintf(m, " %.3f | (too few pairs) |", r->median);
    else if (interval)
        fprintf(m, " %.3f | %.3f–%.3f |", r->median, r->lo, r->hi);
    else
        fprintf(m, " %.3f | %.3f |", r->median, r->lo);
}

/* Gates one case on what does not need pooling: identity, failures, memory,
 * faults; returns 1 on regression. */
static int gate(const struct pcase *c, int same_class, char *v, size_t n)
{
    const struct side *a = &c->s[0], *b = &c->s[1];
    char msg[400];
    int reg = 0;
    if (same_class && (a->n_differs || b->n_differs)) {
        snprintf(msg, sizeof msg, "identity: %d run(s) of A and %d of B differ from their reference", a->n_differs,
                 b->n_differs);
        add(v, n, msg), reg = 1;
    }
    if (b->n_failed && !a->n_failed) {
        snprintf(msg, sizeof msg, "B failed: %s", b->first_fail);
        add(v, n, msg), reg = 1;
    }
    double ra = median_of(a, a->rss_mib), rb = median_of(b, b->rss_mib);
    if (!isnan(ra) && !isnan(rb) && rb - ra > fmax(ra * RSS_SLACK_FRAC, RSS_SLACK_MIB)) {
        snprintf(msg, sizeof msg, "peak RSS +%.1f MiB (+%.1f%%)", rb - ra, 100 * (rb - ra) / ra);
        add(v, n, msg), reg = 1;
    }
    double fa = median_of(a, a->majflt), fb = median_of(b, b->majflt);
    if (!isnan(fa) && !isnan(fb) && fb - fa > MAJFLT_SLACK) {
        snprintf(msg, sizeof msg, "major faults %.0f -> %.0f", fa, fb);
        add(v, n, msg), reg = 1;
    }
    if (!a->n_ok && !b->n_ok)
        add(v, n, "no ok run on either side");
    return reg;
}

/* ---- the report ------------------------------------------------------------- */

static int by_index(const void *x, const void *y)
{
    const struct pcase *a = x, *b = y;
    return (a->first_index > b->first_index) - (a->first_index < b->first_index);
}

int paired_compare(const char *dir, const char *a, const char *b, const struct paired_opts *o, FILE *out)
{
    struct fold f;
    memset(&f, 0, sizeof f);
    f.eng[0] = a, f.eng[1] = b;
    struct err e = { "" };
    if (results_each(dir, 0, fold_one, &f, &e)) {
        fprintf(stderr, "rbench compare --paired: %s\n", e.msg);
        free(f.cases);
        return 2;
    }
    if (f.oom || !f.seen[0] || !f.seen[1]) {
        fprintf(stderr, "rbench compare --paired: %s\n",
                f.oom ? "out of memory" : "no run of that engine in the directory (engine names are in the meta line)");
        if (!f.oom)
            fprintf(stderr, "  wanted A '%s' (%s) and B '%s' (%s)\n", a, f.seen[0] ? "found" : "missing", b,
                    f.seen[1] ? "found" : "missing");
        free(f.cases);
        return 2;
    }
    if (f.n)
        qsort(f.cases, f.n, sizeof *f.cases, by_index);
    int same_class = f.cls[0][0] && strcmp(f.cls[0], f.cls[1]) == 0;
    char *buf = NULL;
    size_t len = 0;
    FILE *m = open_memstream(&buf, &len);
    if (!m) {
        free(f.cases);
        return 2;
    }
    /* Time is judged per group (model, quant, workload, threads): the pairs of
     * all its cases pooled, one test per group and figure, each at
     * ALPHA / (number of tests), so a night's false-alarm rate stays <= ALPHA. */
    struct pgroup {
        char key[512];
        double r[2][MAX_PAIR_REPS * 8];
        size_t n[2];
    } *gs = calloc(f.n ? f.n : 1, sizeof *gs);
    if (!gs) {
        fclose(m);
        free(buf);
        free(f.cases);
        return 2;
    }
    size_t n_groups = 0;
    for (size_t i = 0; i < f.n; i++) {
        const struct pcase *c = &f.cases[i];
        char gk[512];
        snprintf(gk, sizeof gk, "%s", c->key);
        for (int cut = 0; cut < 2; cut++) { /* drop "|cache|mode" */
            char *bar = strrchr(gk, '|');
            if (bar)
                *bar = '\0';
        }
        size_t g = 0;
        while (g < n_groups && strcmp(gs[g].key, gk) != 0)
            g++;
        if (g == n_groups)
            snprintf(gs[n_groups++].key, sizeof gs->key, "%s", gk);
        double tmp[MAX_PAIR_REPS];
        const double *va[2] = { c->s[0].wall_ms, c->s[0].gen_ms }, *vb[2] = { c->s[1].wall_ms, c->s[1].gen_ms };
        for (int k = 0; k < 2; k++) {
            size_t np = ratios(&c->s[0], &c->s[1], va[k], vb[k], tmp);
            size_t room = sizeof gs->r[k] / sizeof *gs->r[k] - gs[g].n[k];
            np = np < room ? np : room;
            memcpy(gs[g].r[k] + gs[g].n[k], tmp, np * sizeof *tmp);
            gs[g].n[k] += np;
        }
    }
    int n_tests = 0;
    for (size_t g = 0; g < n_groups; g++)
        n_tests += (gs[g].n[0] > 0) + (gs[g].n[1] > 0);
    double alpha = n_tests ? ALPHA / n_tests : ALPHA;

    fprintf(m, "# rbench compare --paired %s %s\n\n- run: `%s`\n- identity: %s\n- time: per-pair ratio B/A of wall "
               "time and of the engine's own generation time, pooled per group (the modes of a model, quant, "
               "workload); a slowdown fails when the median ratio is above %.2f and the sign-test interval's "
               "one-sided lower bound at %.4f (%.2f over %d tests) is above 1\n\n",
            a, b, dir,
            same_class ? "same class: A and B must give the same bytes"
                       : "different identity classes: outputs not compared (a deliberate change)",
            1 + o->time_slack, alpha, ALPHA, n_tests);
    fprintf(m, "## Time, per group\n\n| group | pairs | wall B/A | lower bound | generation B/A | lower bound | verdict |\n"
               "|---|---:|---:|---:|---:|---:|---|\n");
    int n_reg = 0, n_pairs_total = 0;
    for (size_t g = 0; g < n_groups; g++) {
        struct ratio rs[2];
        char v[512] = "";
        int reg = 0;
        static const char *const what[2] = { "wall time", "generation time" };
        for (int k = 0; k < 2; k++) {
            summarize(gs[g].r[k], gs[g].n[k], alpha, &rs[k]);
            if (rs[k].n && rs[k].median > 1 + o->time_slack && rs[k].lo > 1) {
                char msg[200];
                snprintf(msg, sizeof msg, "%s x%.3f (lower bound %.3f, %d pairs)%s", what[k], rs[k].median, rs[k].lo,
                         rs[k].n, o->time_gate ? "" : " [time gate off]");
                add(v, sizeof v, msg);
                reg |= o->time_gate;
            }
        }
        n_reg += reg, n_pairs_total += rs[0].n;
        fputs("| ", m);
        table_md_cell(m, gs[g].key);
        fprintf(m, " | %d |", rs[0].n);
        for (int k = 0; k < 2; k++)
            ratio_cells(m, &rs[k], 0);
        fprintf(m, " %s%s", reg ? "**REGRESSION**" : "ok", v[0] ? ": " : "");
        table_md_cell(m, v);
        fputs(" |\n", m);
    }
    free(gs);

    fprintf(m, "\n## Per case (time for information: median ratio and its 90 %% interval)\n\n"
               "| case | pairs | wall ms A → B | wall B/A | interval | generation B/A | interval | peak RSS MiB A → B | "
               "majflt A → B | verdict |\n");
    fprintf(m, "|---|---:|---|---:|---|---:|---|---|---|---|\n");
    for (size_t i = 0; i < f.n; i++) {
        const struct pcase *c = &f.cases[i];
        char v[1024] = "";
        int reg = gate(c, same_class, v, sizeof v);
        n_reg += reg;
        fputs("| ", m);
        table_md_cell(m, c->key);
        double tmp[MAX_PAIR_REPS];
        struct ratio rs[2];
        const double *va[2] = { c->s[0].wall_ms, c->s[0].gen_ms }, *vb[2] = { c->s[1].wall_ms, c->s[1].gen_ms };
        for (int k = 0; k < 2; k++)
            summarize(tmp, ratios(&c->s[0], &c->s[1], va[k], vb[k], tmp), ALPHA, &rs[k]);
        fprintf(m, " | %d | %.0f → %.0f |", rs[0].n, median_of(&c->s[0], c->s[0].wall_ms),
                median_of(&c->s[1], c->s[1].wall_ms));
        for (int k = 0; k < 2; k++)
            ratio_cells(m, &rs[k], 1);
        fprintf(m, " %.1f → %.1f | %.0f → %.0f | %s%s", median_of(&c->s[0], c->s[0].rss_mib),
                median_of(&c->s[1], c->s[1].rss_mib), median_of(&c->s[0], c->s[0].majflt),
                median_of(&c->s[1], c->s[1].majflt), reg ? "**REGRESSION**" : "ok", v[0] ? ": " : "");
        table_md_cell(m, v);
        fputs(" |\n", m);
    }
    int rc = n_pairs_total == 0 ? 2 : n_reg ? 1 : 0;
    fprintf(m, "\n%zu groups, %zu cases, %d pairs, %d regressions: %s\n", n_groups, f.n, n_pairs_total, n_reg,
            rc == 0 ? "no regression" : rc == 1 ? "REGRESSION" : "could not compare (no pair)");
    fclose(m);
    fwrite(buf, 1, len, out);
    if (o->md_path && files_write_atomic(o->md_path, buf, len, &e)) {
        fprintf(stderr, "rbench compare --paired: %s\n", e.msg);
        rc = 2;
    }
    free(buf);
    free(f.cases);
    return rc;
}
