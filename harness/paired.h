/* paired.h: `rbench compare --paired A B DIR`: two engine builds measured
 * interleaved in one sweep (one results directory), judged pair by pair.
 *
 * A pair is the runs of engine A and engine B with the same case (the key
 * without its engine part) and the same rep: they ran next to each other on
 * the same machine, so the machine's drift cancels in their ratio.
 *   time:     per-pair ratio wall_B / wall_A, and the same for the engine's
 *             own generation time (gen_ms, when both report it: it leaves out
 *             loading), pooled over the cases of a group (model, quant,
 *             workload, threads); a group's slowdown fails when the median
 *             ratio exceeds 1 + time_slack AND the sign-test interval's
 *             one-sided lower bound (stats_median_interval) at 0.05 / (number
 *             of group x figure tests) exceeds 1, so a night's chance of any
 *             false alarm stays under 5 %;
 *   memory:   median peak RSS of B vs A beyond max(1 %, 2 MiB);
 *   faults:   median major faults of B above A's by more than 16;
 *   identity: any run of A or B that differs from its identity reference
 *             (same identity class: byte-identical builds), or B failing
 *             where A ran. */
#ifndef RB_PAIRED_H
#define RB_PAIRED_H

#include <stdio.h>

struct paired_opts {
    const char *md_path;     /* also write the report here; NULL: no */
    double time_slack;       /* 0.05: a slowdown must exceed 5 % */
    int time_gate;           /* 0: report time, never fail on it */
};

/* Prints the markdown report to out; returns 0 no regression, 1 regression,
 * 2 could not compare (unreadable dir, unknown engine, no pair). */
int paired_compare(const char *dir, const char *a, const char *b, const struct paired_opts *o, FILE *out);

#endif
