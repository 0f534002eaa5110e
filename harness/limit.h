/* limit.h: `rbench limit`: the smallest memory-cgroup limit at which each
 * case of a sweep completes, and the cost curve below the unconstrained peak.
 *
 * Per case (engine x model x quant x mode x workload x threads x cache; reps
 * are ignored), in its own cgroup each time (v1 memory.limit_in_bytes or v2
 * memory.max, swap off):
 *   1. the reference: one run without a limit. Its output is the identity
 *      reference, its wall time the time reference, its cgroup peak the top;
 *   2. a bisection between 0 and that peak. A probe completes when it exits 0,
 *      its output equals the reference byte for byte and its wall time is
 *      within `slowdown` times the reference's. The search stops when the
 *      bracket is within max(tol_pct % of the top, tol_bytes);
 *   3. a confirmation run at the minimum found (raised a step if it fails);
 *   4. with curve_steps, a ladder of limits from the peak down to 95 % of the
 *      minimum.
 * The cache axis decides where the model's page cache is charged: cold
 * evicts the file before every probe, so the run's own cgroup pays for the
 * pages it reads; warm reads the file first from rbench, outside the run's
 * cgroup, so the limit only sees what the run allocates.
 *
 * The directory gets probes.jsonl (every probe), minlimit.csv (one row per
 * case, with the exact command line), curve.csv (the ladder) and limit.json
 * (machine, cgroup version, engines). */
#ifndef RB_LIMIT_H
#define RB_LIMIT_H

#include <stdint.h>

struct limit_opts {
    const char *sweep_path;
    const char *results_root; /* default "results" */
    const char *out_dir;      /* the directory itself, else root/name */
    const char *name;         /* default <UTC timestamp>-limit-<sweep name> */
    const char *data_dir;
    const char *cache_dir;    /* default root/cache */
    const char *self_dir;
    int curve_steps;          /* 0: no curve */
    double tol_pct;           /* bracket width, % of the top (default 1) */
    uint64_t tol_bytes;       /* ... or this many bytes, whichever is larger (default 8 MiB) */
    double slowdown;          /* a probe slower than this times the reference does not complete (10) */
};

/* Returns 0 when every case found its minimum, 1 when some case could not
 * (its reference failed, or no limit up to the peak completed), 2 when it
 * could not start (bad sweep, no cgroup, not root). */
int limit_run(const struct limit_opts *o);

#endif
