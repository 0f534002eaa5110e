/* table.h: a run directory read back as cases with their samples.
 *
 * Both the summaries and compare work from this: runs.jsonl is the source of
 * truth; a case collects the figures of its successful runs (in run order),
 * its failures, and its identity verdict. */
#ifndef RB_TABLE_H
#define RB_TABLE_H

#include <jansson.h>
#include <stddef.h>
#include <stdio.h>

#include "core/err.h"

enum table_fig {
    FIG_WALL_MS, FIG_USER_MS, FIG_SYS_MS, FIG_MAXRSS_MIB, FIG_SAMPLED_MIB, FIG_MAJFLT, FIG_MINFLT,
    FIG_INBLOCK, FIG_READ_MIB, FIG_COLD_RESIDENT_MIB, TABLE_N_FIG
};

extern const char *const table_fig_names[TABLE_N_FIG];

#define TABLE_MAX_SAMPLES 256

struct table_case {
    char key[512];
    char model[160], quant[16], workload[128], cache[8], mode[128];
    int threads;
    size_t first_index;
    int n_runs, n_ok, n_skipped;
    int n_incomplete, n_retried;    /* output cut short twice / once (then complete) */
    char engine[64];                /* the named engine, "" for a lone one */
    int n_differs, n_no_ref;        /* identity */
    char failures[256];             /* "timeout x1, signal 6 x2" */
    char first_diff[512];           /* "offset N: ref "..." new "..."" */
    char ppl_text[512];             /* of the first ok run */
    double ppl;                     /* -1 when none */
    int ppl_varies;                 /* ok runs disagree on ppl_text */
    double v[TABLE_N_FIG][TABLE_MAX_SAMPLES];
    int n[TABLE_N_FIG];
};

struct table {
    json_t *meta;                   /* the first meta line, owned */
    struct table_case *cases;
    size_t n_cases, cap;
    size_t n_records;
};

/* Loads dir/runs.jsonl. Cases are sorted by their first run index. */
enum status table_load(struct table *t, const char *dir, struct err *e);

/* The same for one named engine's runs only, its "|ENGINE" cut from the case
 * keys, so they join with a single-engine directory's cases. */
enum status table_load_engine(struct table *t, const char *dir, const char *engine, struct err *e);
void table_free(struct table *t);

/* "pass", "FAIL" (an output differs), "n/a" (nothing to compare). */
const char *table_verdict(const struct table_case *c);

/* Writes s as a markdown table cell's text ('|' escaped). */
void table_md_cell(FILE *f, const char *s);

/* Finds a case by key; NULL when absent. */
const struct table_case *table_find(const struct table *t, const char *key);

#endif
