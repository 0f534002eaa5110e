/* memreport.h: the process's memory at named phases, and the load plan, as JSON.
 *
 * Each phase records VmRSS, VmHWM, RssAnon, RssFile (/proc/self/status, KiB
 * turned to bytes), minor/major faults (getrusage), bytes read from storage
 * (/proc/self/io read_bytes). With a JSON output it also records how many
 * bytes of the model file are in the page cache (mincore over a fresh,
 * untouched mapping) and folds /proc/self/smaps into the per-mapping view
 * ("maps"): the Rss of the model file's mappings (matched by its realpath),
 * of all file-backed and all anonymous memory, and the largest anonymous
 * mappings. Both walk every page (the probe ~25 ms per phase for a 1.9 GB
 * file, smaps ~ms per GiB resident), so a run without --mem-report skips
 * them: the summary does not use them.
 * The plan holds the byte accounting of the load and the predicted minimum
 * peak (DESIGN §3.2). */
#ifndef MEMREPORT_H
#define MEMREPORT_H

#include <limits.h>
#include <stdint.h>
#include <stdio.h>

#include "core/err.h"

struct model;
struct context;

#define MEMREPORT_MAX_PHASES 8
#define MEMREPORT_N_ANON 3

struct mem_anon {
    uint64_t start, size, rss; /* address; bytes */
};

/* /proc/self/smaps folded (bytes). File-backed: a path starting with '/';
 * anonymous: no path, [heap], [stack], [anon:NAME]. */
struct mem_maps {
    uint64_t model_rss; /* the model file's mappings; without a model path, the largest file mapping */
    uint64_t file_rss;  /* every file-backed mapping */
    uint64_t anon_rss;  /* the Anonymous: lines summed */
    int have, n_anon;
    struct mem_anon anon[MEMREPORT_N_ANON]; /* largest Rss first */
};

struct mem_sample {
    const char *phase;
    uint64_t vm_rss, vm_hwm, rss_anon, rss_file; /* bytes */
    uint64_t minflt, majflt;
    uint64_t read_bytes;
    uint64_t cache_bytes; /* model file bytes resident in the page cache */
    struct mem_maps maps; /* only with out_path */
};

struct mem_plan {
    uint64_t file_bytes, header_bytes, inplace_bytes, repacked_bytes, reclaimed_bytes;
    uint64_t n_repacked, n_reclaim_failed, largest_repacked;
    uint64_t base_rss; /* VmRSS at the first phase: the process before the model */
    uint64_t kv_bytes, scratch_bytes;
    uint64_t predicted_peak;
    int have;
    char load[8], reclaim[12], reclaim_at[8];
    int mlock, repack;
};

struct memreport {
    const char *model_path;
    char model_real[PATH_MAX]; /* realpath of model_path as smaps names it; "" if unknown */
    const char *out_path; /* NULL: no JSON, summary only */
    int n;
    struct mem_sample s[MEMREPORT_MAX_PHASES];
    struct mem_plan plan;
};

void memreport_init(struct memreport *r, const char *model_path, const char *out_path);
/* Samples now under the name `phase` (a string literal). */
void memreport_phase(struct memreport *r, const char *phase);
/* Fills the plan from a loaded model and its context. */
void memreport_plan(struct memreport *r, const struct model *m, const struct context *c);
/* Writes the JSON file atomically (temp + rename) when out_path is set. */
enum status memreport_write(const struct memreport *r, struct err *e);
/* A few lines on `f`: buffers and the peak against the prediction. */
void memreport_summary(const struct memreport *r, FILE *f);

/* The smallest peak RSS a run can have: what must be resident at once.
 * mmap: the whole file (populated at load) + the repack buffer, less what
 * reclaim drops during the load (all sources but the tensor being copied),
 * or, reclaiming at the end, what it drops before the KV cache is allocated;
 * read: header + weights in anonymous memory + the staging buffer during the
 * load. KV cache and scratch (allocated after the load) in every mode. */
uint64_t memreport_predict_peak(const struct mem_plan *p);

/* Folds /proc/self/smaps into mm, counting as the model the mappings whose
 * path is model_real (NULL or "": the largest file mapping). mm->have stays 0
 * if smaps cannot be read. */
void memreport_maps(const char *model_real, struct mem_maps *mm);

/* Bytes of the file at path resident in the page cache (mincore); 0 on error. */
uint64_t memreport_file_cached(const char *path);

#endif
