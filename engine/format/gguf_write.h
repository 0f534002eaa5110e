/* gguf_write.h: a streaming GGUF v3 writer (the layout is described in gguf.h).
 *
 * Use, in this order:
 *   gguf_writer_open        creates PATH.tmp
 *   gguf_writer_add_*       KV pairs, any order; keys must be unique
 *   gguf_writer_add_tensor  tensor infos, in the order their bytes will follow
 *   gguf_writer_write_header
 *   gguf_writer_write       each tensor's bytes, in order, in chunks of any size;
 *                           the padding after each tensor is written for you
 *   gguf_writer_finish      fsync, close, rename PATH.tmp to PATH
 *   gguf_writer_free        always; removes PATH.tmp unless finish succeeded
 *
 * Only the KV pairs and tensor infos are held in memory, so a model of any size
 * is written in bounded memory. Tensor offsets are aligned to 32 bytes, or to
 * `general.alignment` (which must then be a u32 power of two) when it is added.
 * After any failure the writer only accepts gguf_writer_free; every error names
 * the file and, for I/O, the errno text. */
#ifndef GGUF_WRITE_H
#define GGUF_WRITE_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"
#include "format/gguf.h"

struct gguf_writer_tensor {
    char *name; /* owned */
    uint32_t n_dims;
    uint64_t ne[GGUF_MAX_DIMS];
    uint32_t type; /* enum ggml_type */
    uint64_t n_bytes;
    uint64_t offset; /* relative to the data section, set by write_header */
};

struct gguf_writer {
    char *path;     /* final path (owned) */
    char *tmp_path; /* path + ".tmp" (owned) */
    int fd;         /* of tmp_path; -1 when closed */
    int created;    /* tmp_path was created by this writer */
    int failed;     /* a call failed: only free is useful */
    int finished;   /* renamed into place */
    uint8_t *kv;    /* serialized KV pairs (owned) */
    size_t kv_bytes, kv_cap;
    uint64_t n_kv;
    char **keys; /* for the duplicate check (owned) */
    struct gguf_writer_tensor *tensors; /* owned */
    uint64_t n_tensors, cap_tensors;
    uint32_t alignment;
    int header_written;
    uint64_t cur;        /* index of the tensor being streamed */
    uint64_t cur_bytes;  /* bytes of it written so far */
    uint64_t file_bytes; /* bytes written to the file so far */
};

/* Creates (truncates) PATH.tmp. On failure w holds nothing to free, though
 * gguf_writer_free(w) is still safe. */
enum status gguf_writer_open(struct gguf_writer *w, const char *path, struct err *e);

/* A scalar KV; `value` points to the host value of `type` (uint8_t for bool,
 * float for FLOAT32, double for FLOAT64, ...). Not for STRING or ARRAY. */
enum status gguf_writer_add_scalar(struct gguf_writer *w, const char *key, uint32_t type, const void *value,
                                   struct err *e);
enum status gguf_writer_add_u32(struct gguf_writer *w, const char *key, uint32_t v, struct err *e);
enum status gguf_writer_add_i32(struct gguf_writer *w, const char *key, int32_t v, struct err *e);
enum status gguf_writer_add_u64(struct gguf_writer *w, const char *key, uint64_t v, struct err *e);
enum status gguf_writer_add_f32(struct gguf_writer *w, const char *key, float v, struct err *e);
enum status gguf_writer_add_bool(struct gguf_writer *w, const char *key, int v, struct err *e);
/* A NUL-terminated string value. */
enum status gguf_writer_add_str(struct gguf_writer *w, const char *key, const char *s, struct err *e);
/* An array of n scalars of elem_type, host values laid out like a C array. */
enum status gguf_writer_add_arr(struct gguf_writer *w, const char *key, uint32_t elem_type, const void *data,
                                uint64_t n, struct err *e);
/* An array of n strings (gguf strings, so they may hold any bytes). */
enum status gguf_writer_add_str_arr(struct gguf_writer *w, const char *key, const struct gguf_str *strs,
                                    uint64_t n, struct err *e);
/* Copies a KV parsed by gguf_parse, value and type unchanged. */
enum status gguf_writer_add_kv(struct gguf_writer *w, const struct gguf_kv *kv, struct err *e);

/* Declares the next tensor: ne in ggml order (fastest first), 1 <= n_dims <= 4,
 * ne[0] a multiple of the type's block. Names must be unique. */
enum status gguf_writer_add_tensor(struct gguf_writer *w, const char *name, uint32_t n_dims, const uint64_t *ne,
                                   uint32_t type, struct err *e);

/* Computes the aligned offsets and writes magic, counts, KVs, tensor infos
 * and the padding before the data section. */
enum status gguf_writer_write_header(struct gguf_writer *w, struct err *e);

/* Appends n bytes of tensor data, crossing tensor boundaries as needed.
 * Writing more bytes than the declared tensors hold is an error. */
enum status gguf_writer_write(struct gguf_writer *w, const void *data, size_t n, struct err *e);

/* Checks every tensor was written in full (writing the header first if no
 * tensor was declared and it was not written), then fsyncs, closes and
 * renames PATH.tmp to PATH. */
enum status gguf_writer_finish(struct gguf_writer *w, struct err *e);

/* Releases everything; removes PATH.tmp unless finish succeeded. w may be NULL. */
void gguf_writer_free(struct gguf_writer *w);

#endif
