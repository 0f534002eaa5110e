/* summary.h: the printers of a run directory: summary.csv (one row per case:
 * median/min/max of every figure, identity verdict), summary.md (the table a
 * reader looks at), and rows appended to the results root's history.csv. */
#ifndef RB_SUMMARY_H
#define RB_SUMMARY_H

#include <stdio.h>

#include "core/err.h"
#include "table.h"

/* Writes dir/summary.csv and dir/summary.md atomically from dir/runs.jsonl. */
enum status summary_write(const char *dir, struct err *e);

/* Appends one row per case of dir to history (created with a header). */
enum status summary_append_history(const char *dir, const char *history, struct err *e);

/* The markdown table of t to f (also used for terminal output). */
void summary_markdown(const struct table *t, FILE *f);

#endif
