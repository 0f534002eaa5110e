/* run.h: `rbench run`: a sweep, start to finish (or resumed).
 *
 * Flow per selected run, in sweep order: prepare the model (once per model x
 * quant), evict it when cold, build the engine command (or a skip), launch
 * and measure, gate the output against the group reference, append the
 * record. Then the summaries and one history append. */
#ifndef RB_RUN_H
#define RB_RUN_H

#include <stdint.h>

struct run_opts {
    const char *sweep_path;
    const char *results_root;  /* default "results" */
    const char *out_dir;       /* the run directory itself, else root/name */
    const char *name;          /* default: <UTC timestamp>-<sweep name> */
    const char *data_dir;      /* before $RB_DATA_DIR in the lookup */
    const char *cache_dir;     /* default root/cache */
    const char *self_dir;      /* where rbench lives: minillm is looked for there */
    int resume;                /* finish the run dir (default root/latest) */
    int shard_i, shard_n;      /* run groups with index % n == i - 1; 0: all */
    int progress;              /* -1 auto (tty?), 0 plain lines, 1 live line */
    int no_history;
    int reps;                  /* > 0: overrides the sweep */
    double timeout_s;          /* > 0: overrides the sweep */
    uint64_t mem_limit_bytes;  /* > 0: overrides the sweep (cgroup) */
    int quiet;                 /* no summary table on stdout */
};

/* Returns the exit code: 0 every run ok and every identity group passing,
 * 1 some failure or interrupted, 2 could not start (bad sweep, bad dirs). */
int run_sweep(const struct run_opts *o);

#endif
