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

#include "err.h"

#define SWEEP_MAX_AXIS 32
#define SWEEP_NAME_LEN 128
#define SWEEP_PATH_LEN 1024

enum sweep_load { SWEEP_LOAD_MMAP = 0, SWEEP_LOAD_READ = 1 };
enum sweep_reclaim { SWEEP_RECLAIM_OFF = 0, SWEEP_RECLAIM_DONTNEED = 1, SWEEP_RECLAIM_EVICT = 2 };
enum sweep_wl { SWEEP_WL_COMPLETE = 0, SWEEP_WL_PERPLEXITY = 1 };
enum sweep_engine { SWEEP_ENGINE_MINILLM = 0, SWEEP_ENGINE_LLAMACPP = 1 };

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
    char file[SWEEP_PATH_LEN];    /* perplexity: text file (name or path) */
    int ctx;                      /* 0: engine default */
    int chunks;                   /* perplexity: 0 = all */
};

struct sweep {
    char path[SWEEP_PATH_LEN];    /* where it was read from, for messages */
    char *text;                   /* the file verbatim, owned */

    enum sweep_engine engine;
    char engine_bin[SWEEP_PATH_LEN];      /* minillm binary; "" = default */
    char llama_completion[SWEEP_PATH_LEN]; /* llama.cpp binaries; "" = env */
    char llama_perplexity[SWEEP_PATH_LEN];

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
};

/* One point of the expansion: indices into the sweep's axes. */
struct sweep_run {
    size_t index;
    int model, quant, workload, threads, cache, rep, mode;
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
 * quants. Selection depends on model and quant only, so a group is either
 * whole or absent. */
int sweep_run_selected(const struct sweep *s, const struct sweep_run *r);
size_t sweep_n_selected(const struct sweep *s);

/* Fills r with the i-th run. Order, outermost first: model, quant, workload,
 * threads, cache, rep, mode, so a case's modes alternate across reps. */
void sweep_run_at(const struct sweep *s, size_t i, struct sweep_run *r);

/* Index of the group of r (model, quant, workload, threads); groups are
 * numbered in run order, 0 .. sweep_n_groups()-1. */
size_t sweep_group_of(const struct sweep *s, const struct sweep_run *r);
size_t sweep_n_groups(const struct sweep *s);

/* The run index of the group's reference: first cache, rep 0, first mode. */
size_t sweep_group_ref(const struct sweep *s, const struct sweep_run *r);

/* "model|quant|workload|tN|cache|mode": the case key joined on by compare;
 * the group key is the same without cache and mode. */
void sweep_case_key(const struct sweep *s, const struct sweep_run *r, char *buf, size_t n);
void sweep_group_key(const struct sweep *s, const struct sweep_run *r, char *buf, size_t n);

/* A model's display name: the basename without .gguf, or "gen:SHAPE". */
void sweep_model_label(const char *model, char *buf, size_t n);

#endif
