/* results.h: one run's record, and the run directory that holds them.
 *
 * A run directory holds runs.jsonl: a "meta" line (machine, git commit,
 * engine version, sweep text), then one "run" line per finished run, appended
 * with fsync, so a kill -9 loses at most the run in flight (a torn last line
 * is cut off on --resume). Next to it: out/ (stdout, stderr, memory report
 * per run), timelines/ (RSS csv per run), and the summaries. */
#ifndef RB_RESULTS_H
#define RB_RESULTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "cache.h"
#include "core/err.h"
#include "gate.h"
#include "launch.h"
#include "spec.h"

enum results_identity {
    RESULTS_ID_NONE = 0,     /* not gated: the run failed or was skipped */
    RESULTS_ID_REF = 1,      /* the group's reference */
    RESULTS_ID_SAME = 2,
    RESULTS_ID_DIFFERS = 3,
    RESULTS_ID_NO_REF = 4,   /* the reference failed: nothing to compare to */
};

struct results_run {
    const struct sweep *sweep;   /* borrowed */
    struct sweep_run at;
    const char *status;          /* ok exit signal timeout oom skipped error */
    char reason[640];            /* skip reason or error message */
    char *const *argv;           /* NULL when not launched */
    struct launch_result m;
    int cold;
    struct cache_state cache;    /* when cold */
    json_t *cgroup;              /* owned by the caller; NULL if none */
    uint64_t out_xxh64;
    enum results_identity identity;
    struct gate_diff diff;       /* when DIFFERS */
    char *ppl_text;              /* perplexity identity text, or NULL */
    double ppl;                  /* -1 when none */
    const char *mem_report_path; /* engine's JSON, embedded if it exists */
    const char *stdout_rel, *timeline_rel; /* paths relative to the run dir */
    int attempts;                /* 2 when a first attempt came back incomplete */
    double gen_ms;               /* the engine's own generation time (engine_gen_ms), -1 if none */
    const char *repack_note;     /* llama.cpp no-repack reference vs repack on: "same" / "differs" / NULL */
};

extern const char *const results_identity_names[];

/* The JSON object for one run line (caller decrefs). */
json_t *results_run_json(const struct results_run *r);

/* The meta line: machine info, git commit (git_dir's HEAD), the engines
 * (name, kind, identity class, version, digest; the first one also as the
 * flat engine/engine_version/engine_xxh64 fields), sweep path and text, the
 * run order's seed, shard. Caller decrefs. */
json_t *results_meta_json(const struct sweep *s, const char *const *versions, const char *const *digests,
                          const char *shard);

/* Appends obj as one line to dir/runs.jsonl. */
enum status results_append(const char *dir, json_t *obj, struct err *e);

/* Reads dir/runs.jsonl (torn tail cut first when trim): calls fn for each
 * complete line's object. Lines that do not parse are errors naming the line. */
enum status results_each(const char *dir, int trim, void (*fn)(json_t *obj, void *ctx), void *ctx, struct err *e);

#endif
