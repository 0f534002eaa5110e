/* compare.h: `rbench compare BASE NEW`: join two run directories on case
 * keys and gate NEW against BASE.
 *
 * Hard gates: identity (NEW's own groups must pass), exact perplexity text,
 * peak RSS (median ru_maxrss) beyond max(1%, 2 MiB), and runs that failed in
 * NEW but not in BASE. Soft gate: median wall time > 5% (and > 20 ms) slower
 * and a one-sided Mann-Whitney U p < 0.05, with >= 5 samples on each side.
 *
 * Time belongs to one machine: when the two meta lines name different machines
 * (host, kernel, CPU, CPU count or boot), time changes are reported as
 * information only ("time not compared: ..."), unless time_any_machine. */
#ifndef RB_COMPARE_H
#define RB_COMPARE_H

#include <stdio.h>

struct compare_opts {
    const char *md_path;   /* also write the report here; NULL: no */
    int time_gate;         /* 0: time changes are reported, never fail */
    double time_floor_ms;  /* a slowdown must also exceed this many ms (COMPARE_TIME_FLOOR_MS) */
    int time_any_machine;  /* 1: gate time even when BASE comes from another machine */
    const char *new_engine; /* NULL, or only this named engine's runs of NEW (keys without it) */
    int common_only;       /* 1: BASE cases missing from NEW are listed, not "could not compare" */
};

/* Slowdowns smaller than this are run-to-run drift between sessions on a shared
 * 2-core VM (measured: +10-30 % on 250 ms runs of the same binary), not regressions. */
#define COMPARE_TIME_FLOOR_MS 100.0

/* Prints the markdown report to out; returns 0 no regression, 1 regression,
 * 2 could not compare (unreadable dirs, no common case, or BASE cases
 * missing from NEW, all listed). */
int compare_dirs(const char *base, const char *new_dir, const struct compare_opts *o, FILE *out);

#endif
