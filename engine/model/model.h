/* model.h: a llama-architecture model loaded from GGUF, and how its bytes are held.
 *
 * Loading maps (or reads) the file, parses the header, binds every tensor to a
 * struct weight, and, when repacking is on, copies eligible matmul weights into
 * one 64-byte-aligned anonymous buffer in the 8-row interleaved layout. With
 * reclaim on, the file pages those copies came from are dropped (madvise) so
 * they stop counting in the resident set; see DESIGN §3.1 and docs/ARCHITECTURE.md.
 *
 * Ownership: the model owns the mapping / read buffer, the repack buffer, the
 * tokenizer and the tables; weights point into those and are borrowed by the
 * forward pass. */
#ifndef MODEL_H
#define MODEL_H

#include <stdint.h>
#include <stdio.h>

#include "core/err.h"
#include "format/gguf.h"
#include "kernels/kernels.h"
#include "tokenizer/tokenizer.h"

enum load_mode { LOAD_MMAP = 0, LOAD_READ = 1 };
enum reclaim_mode { RECLAIM_OFF = 0, RECLAIM_DONTNEED = 1, RECLAIM_EVICT = 2 };
enum reclaim_at { RECLAIM_AT_LOAD = 0, RECLAIM_AT_END = 1 };

struct load_opts {
    enum load_mode load;
    int mlock;
    int repack; /* 1: repack eligible weights (default) */
    int memory_check; /* 1: refuse allocations the limits cannot hold (memlimit.h; default) */
    int huge_pages;   /* 1: ask for transparent huge pages on the repack and read buffers (default):
                       * faster generation, a slower first touch at load (--no-huge-pages: 0) */
    int check_only; /* 1: read the header, config, tokenizer and tensor table and
                     * check them as a load would, then stop before placing any
                     * weight (what `minillm info` runs; use with LOAD_READ) */
    int n_threads; /* threads that repack the weights at load (default 1; the CLI passes -t) */
    enum reclaim_mode reclaim;
    enum reclaim_at reclaim_at;
    FILE *log; /* diagnostics (stderr); NULL for silence */
    /* called once the file is mapped (mmap) or its header read (read), before
     * any weight is placed: the memory report's "mapped" phase */
    void (*on_mapped)(void *arg);
    void *on_mapped_arg;
};

void load_opts_default(struct load_opts *o);

struct weight {
    uint32_t type;     /* enum ggml_type */
    int64_t n_in;      /* ne[0]: row length */
    int64_t n_out;     /* ne[1]: rows */
    const void *data;  /* plain or repacked layout */
    int repacked;      /* 1: data is in the 8-row interleaved layout */
    const struct kern_row *kern; /* its kernels: (type, layout) in the kernel table, bound at load */
    uint64_t file_off; /* absolute offset of the tensor in the file */
    uint64_t n_bytes;
};

struct layer {
    const float *attn_norm; /* [n_embd] */
    const float *ffn_norm;  /* [n_embd] */
    struct weight wq;       /* [n_embd] -> [n_head * head_dim] */
    struct weight wk;       /* [n_embd] -> [n_head_kv * head_dim] */
    struct weight wv;       /* [n_embd] -> [n_head_kv * head_dim] */
    struct weight wo;       /* [n_head * head_dim] -> [n_embd] */
    struct weight w_gate;   /* [n_embd] -> [n_ff] */
    struct weight w_up;     /* [n_embd] -> [n_ff] */
    struct weight w_down;   /* [n_ff] -> [n_embd] */
    /* mixture of experts (n_expert > 0) instead of w_gate/w_up/w_down: */
    struct weight router;   /* ffn_gate_inp: [n_embd] -> [n_expert] */
    struct weight *exp_gate; /* [n_expert]: slices of ffn_gate_exps, [n_embd] -> [n_ff] */
    struct weight *exp_up;   /* [n_expert]: slices of ffn_up_exps, [n_embd] -> [n_ff] */
    struct weight *exp_down; /* [n_expert]: slices of ffn_down_exps, [n_ff] -> [n_embd] */
};

struct model_config {
    int32_t n_vocab;
    int32_t n_embd;
    int32_t n_layer;
    int32_t n_head;
    int32_t n_head_kv;
    int32_t n_ff;
    int32_t head_dim;
    int32_t rope_dim;
    int32_t n_ctx_train;
    int32_t n_expert;      /* 0: dense FFN */
    int32_t n_expert_used; /* experts per token (top-k) */
    float rope_base;
    float norm_eps;
};

/* Byte accounting of the load, for the memory report and `info`. */
struct model_plan {
    uint64_t file_bytes;
    uint64_t header_bytes;   /* bytes before the data section */
    uint64_t tensor_bytes;   /* all tensors */
    uint64_t inplace_bytes;  /* tensors used where they lie (mapping or read buffer) */
    uint64_t repacked_bytes; /* tensors copied into the repack buffer */
    uint64_t reclaimed_bytes; /* source bytes dropped with madvise (whole pages) */
    uint64_t largest_repacked; /* bytes of the largest repacked tensor (the staging/transient size) */
    uint64_t n_repacked;
    uint64_t n_reclaim_failed; /* madvise calls that failed (e.g. mlock: EINVAL) */
};

struct model {
    struct model_config cfg;
    struct load_opts opts;
    struct gguf_file gguf; /* header tables; strings point into `map` or `header` */
    struct tokenizer tok;
    struct weight tok_embd;  /* [n_embd] x n_vocab rows */
    struct weight output;    /* tok_embd when tied */
    const float *output_norm;
    struct layer *layers;
    int tied_output;
    struct model_plan plan;

    int fd;
    uint8_t *map;       /* LOAD_MMAP: whole file, read-only */
    uint64_t map_bytes;
    uint8_t *buf;       /* LOAD_READ: whole data section in anonymous memory */
    uint64_t buf_bytes;
    uint8_t *repack;    /* repacked weights, 64-byte aligned */
    uint64_t repack_bytes;
    const char *path;
};

/* Opens and loads a model. On failure *m holds nothing to free. */
enum status model_load(struct model *m, const char *path, const struct load_opts *o, struct err *e);
void model_free(struct model *m);

/* Whether a tensor of a parsed file would be repacked when repacking is on:
 * a 2-D matmul weight (not the token embedding) of a repackable type and shape. */
int model_tensor_repackable(const struct gguf_file *f, const struct gguf_tensor *t);

/* Reads the hyperparameters from a parsed header (no tensors touched). */
enum status model_config_read(struct model_config *c, const struct gguf_file *f, struct err *e);

#endif
