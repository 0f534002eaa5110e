/* spec.h: sweep specifications (the .sweep files under harness/sweeps) and their expansion.
 *
 * A sweep is a few axes (model, quant, mode, workload, threads, cache) plus
 * scalars (engine, reps, timeout, memory limit). sweep_parse() reads the
 * line-based text format documented in docs/HARNESS.md; sweep_run_at() turns a
 * run index into one point of the cartesian product, model-major, with the
 * modes of a case interleaved across repetitions (ABAB). */
#ifndef RB_SPEC_H
#define RB_SPEC_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define SWEEP_MAX_AXIS 32
#define SWEEP_NAME_LEN 128
#define SWEEP_PATH_LEN 1024

enum sweep_load { SWEEP_LOAD_MMAP = 0, SWEEP_LOAD_READ = 1 };
enum sweep_reclaim { SWEEP_RECLAIM_OFF = 0, SWEEP_RECLAIM_DONTNEED = 1, SWEEP_RECLAIM_EVICT = 2 };
enum sweep_wl { SWEEP_WL_COMPLETE = 0, SWEEP_WL_PERPLEXITY = 1 };
enum sweep_engine { SWEEP_ENGINE_MINILLM = 0, SWEEP_ENGINE_LLAMACPP = 1 };

/* "minillm" or "llama.cpp". */
const char *sweep_engine_kind_name(enum sweep_engine k);

/* A mode is a named set of memory options; its name is its parts joined by
 * '+': mmap, read, mlock, reclaim, evict, at-end, no-repack. */
struct sweep_mode {
    char name[SWEEP_NAME_LEN];
    enum sweep_load load;
    int mlock;
    int no_repack;
    enum sweep_reclaim reclaim;
    int reclaim_at_end;
};

struct sweep_workload {
    char name[SWEEP_NAME_LEN];
    enum sweep_wl kind;
    char *prompt;                 /* complete: owned */
    int n_predict;                /* complete: tokens to generate */
    int digest;                   /* complete: minillm --logits-digest (identity down to one ulp) */
    char file[SWEEP_PATH_LEN];    /* perplexity: text file (name or path) */
    int ctx;                      /* 0: engine default */
    int chunks;                   /* perplexity: 0 = all */
    char models[SWEEP_PATH_LEN];  /* models=A,B: only these models ("" = all), as the model line names them */
    uint32_t model_mask;          /* resolved from models: bit m = model axis entry m; 0 = all */
};

#define SWEEP_MAX_ENGINES 8

/* One engine of a sweep: `engine KIND [k=v...]` (one unnamed engine, name "")
 * or `engine NAME KIND [k=v...]` (several named builds, run interleaved). */
struct sweep_engine_spec {
    char name[64];                  /* "" for the lone unnamed engine; else part of the case key */
    enum sweep_engine kind;
    char bin[SWEEP_PATH_LEN];       /* minillm binary; "" = default */
    char completion[SWEEP_PATH_LEN]; /* llama.cpp binaries; "" = env */
    char perplexity[SWEEP_PATH_LEN];
    char modes[SWEEP_PATH_LEN];     /* modes=A,B: this engine runs only these modes ("" = all) */
    uint32_t mode_mask;             /* resolved from modes: bit m = mode axis entry m; 0 = all */
    char identity[64];              /* identity class (default: the kind): engines of one
                                       class must give the same bytes */
};

struct sweep {
    char path[SWEEP_PATH_LEN];    /* where it was read from, for messages */
    char *text;                   /* the file verbatim, owned */

    struct sweep_engine_spec engines[SWEEP_MAX_ENGINES];
    int n_engines;                /* >= 1 after parsing (default: one unnamed minillm) */
    int order_random;             /* the runs of a block (case, rep) in a seeded random order */
    uint64_t seed;                /* the order's seed (recorded in the meta line) */

    char models[SWEEP_MAX_AXIS][SWEEP_PATH_LEN]; /* name, path or gen:SHAPE */
    uint32_t model_quants[SWEEP_MAX_AXIS];       /* bit q: quant axis q applies */
    int n_models;
    char quants[SWEEP_MAX_AXIS][16];             /* f32 (as is), f16, q8_0, q4_0 */
    int n_quants;
    struct sweep_mode modes[SWEEP_MAX_AXIS];
    int n_modes;
    struct sweep_workload workloads[SWEEP_MAX_AXIS];
    int n_workloads;
    int threads[SWEEP_MAX_AXIS];
    int n_threads;
    int cold[2];                                 /* cache axis: 0 warm, 1 cold */
    int n_caches;
    int reps;
    double timeout_s;
    uint64_t mem_limit_bytes;                    /* 0: no limit */
    int cgroup;                                  /* run each run in a memory cgroup */
    int smaps;                                   /* read the child's /proc/<pid>/smaps at its peak */
};

/* One point of the expansion: indices into the sweep's axes. */
struct sweep_run {
    size_t index;
    int model, quant, workload, threads, cache, rep, engine, mode;
};

/* Parses text (NUL-terminated) read from path into s, which the caller
 * zeroes or not: it is overwritten. Unset axes get defaults (threads 1,
 * reps 1, cache warm, timeout 600 s); model, quant, mode and workload are
 * required. On failure e says "path:line: expected ..., got ...". */
enum status sweep_parse(struct sweep *s, const char *path, const char *text, struct err *e);

/* Reads the file and parses it. */
enum status sweep_load(struct sweep *s, const char *path, struct err *e);

/* Frees what the sweep owns; s itself stays the caller's. NULL is fine. */
void sweep_free(struct sweep *s);

/* Parses one mode name ("mmap+reclaim") into m. */
enum status sweep_mode_parse(struct sweep_mode *m, const char *name, struct err *e);

/* Parses "512M", "2G", "1048576" (binary units) into bytes. */
enum status sweep_size_parse(const char *text, uint64_t *bytes, struct err *e);

/* Every point of the product, selected or not (see sweep_run_selected). */
size_t sweep_n_runs(const struct sweep *s);

/* Whether r is run at all: a model written NAME@q4_0,q8_0 runs only in those
 * quants, and a workload with models=A,B only on those models. Selection
 * depends on model, quant and workload only, so a group is either whole or
 * absent. */
int sweep_run_selected(const struct sweep *s, const struct sweep_run *r);
size_t sweep_n_selected(const struct sweep *s);

/* Fills r with the i-th run. Order, outermost first: model, quant, workload,
 * threads, cache, rep, engine, mode, so a case's engines and modes alternate
 * across reps. */
void sweep_run_at(const struct sweep *s, size_t i, struct sweep_run *r);

/* Runs per block: the engines x modes of one (group, cache, rep). */
size_t sweep_block_len(const struct sweep *s);

/* The execution order inside the block that starts at run index `first`:
 * fills perm[0 .. sweep_block_len()-1] with the run indices to execute, in
 * order. Fixed order: canonical. Random order: a permutation drawn from seed
 * and the block, with every identity reference the block holds moved to the
 * front (so each run finds its reference done). */
void sweep_block_order(const struct sweep *s, size_t first, size_t *perm);

/* The identity reference of r: the run its output must equal. Runs are in one
 * identity group when they share the group (model, quant, workload, threads)
 * and the engine's identity class; for llama.cpp, repack on and off are
 * separate groups (its output changes with repack). The reference is the
 * group's first run in canonical order with cache 0 and rep 0. */
size_t sweep_identity_ref(const struct sweep *s, const struct sweep_run *r);

/* For a llama.cpp no-repack reference: the reference of the same engine class
 * with repack on (to record whether repack changes the output), or SIZE_MAX. */
size_t sweep_repack_ref(const struct sweep *s, const struct sweep_run *r);

/* Index of the group of r (model, quant, workload, threads); groups are
 * numbered in run order, 0 .. sweep_n_groups()-1. */
size_t sweep_group_of(const struct sweep *s, const struct sweep_run *r);
size_t sweep_n_groups(const struct sweep *s);

/* The run index of the group's first run: first cache, rep 0, first engine and mode. */
size_t sweep_group_ref(const struct sweep *s, const struct sweep_run *r);

/* "model|quant|workload|tN|cache|mode", then "|ENGINE" for named engines: the
 * case key joined on by compare; the group key is "model|quant|workload|tN". */
void sweep_case_key(const struct sweep *s, const struct sweep_run *r, char *buf, size_t n);
void sweep_group_key(const struct sweep *s, const struct sweep_run *r, char *buf, size_t n);

/* A model's display name: the basename without .gguf, or "gen:SHAPE". */
void sweep_model_label(const char *model, char *buf, size_t n);

#endif
