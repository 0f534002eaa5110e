/* gguf.h: a bounds-checked reader for GGUF v2/v3 files held in memory.
 *
 * On-disk layout (all integers little-endian):
 *
 *   u32  magic "GGUF" (0x46554747)
 *   u32  version (2 or 3; version 1 used 32-bit counts and is refused)
 *   u64  n_tensors
 *   u64  n_kv
 *   n_kv times:      key (gguf string), u32 value type, value
 *   n_tensors times: name (gguf string), u32 n_dims (1..4), u64 ne[n_dims],
 *                    u32 ggml type, u64 offset (relative to the data section)
 *   padding to `general.alignment` (default 32)
 *   data section: tensor bytes, each tensor at its aligned offset
 *
 *   gguf string: u64 length, then that many bytes (no terminator)
 *   array value: u32 element type, u64 count, then the elements
 *
 * A file with zero tensors may end right after the KV/tensor-info section
 * (no padding, no data section). Nothing read from the file is trusted: every
 * count, length, offset and size is range-checked with overflow-safe forms,
 * and a failure names the field and the bad value.
 *
 * Ownership: gguf_parse borrows the buffer; every pointer it hands out (key
 * and string values, array data) points into that buffer and stays valid
 * only as long as the buffer does. The parsed tables belong to the struct
 * and are released by gguf_free. */
#ifndef GGUF_H
#define GGUF_H

#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

#define GGUF_MAGIC 0x46554747u /* "GGUF" read as a little-endian u32 */
#define GGUF_DEFAULT_ALIGNMENT 32
#define GGUF_MAX_DIMS 4

/* KV value types, as stored on disk (append-only). */
enum gguf_type {
    GGUF_TYPE_UINT8 = 0,
    GGUF_TYPE_INT8 = 1,
    GGUF_TYPE_UINT16 = 2,
    GGUF_TYPE_INT16 = 3,
    GGUF_TYPE_UINT32 = 4,
    GGUF_TYPE_INT32 = 5,
    GGUF_TYPE_FLOAT32 = 6,
    GGUF_TYPE_BOOL = 7,
    GGUF_TYPE_STRING = 8,
    GGUF_TYPE_ARRAY = 9,
    GGUF_TYPE_UINT64 = 10,
    GGUF_TYPE_INT64 = 11,
    GGUF_TYPE_FLOAT64 = 12,
    GGUF_TYPE_COUNT = 13,
};

/* Tensor element types, numbered as ggml numbers them (append-only). Only
 * some are computed with; the rest are known so errors can name them. */
enum ggml_type {
    GGML_TYPE_F32 = 0,
    GGML_TYPE_F16 = 1,
    GGML_TYPE_Q4_0 = 2,
    GGML_TYPE_Q4_1 = 3,
    GGML_TYPE_Q5_0 = 6,
    GGML_TYPE_Q5_1 = 7,
    GGML_TYPE_Q8_0 = 8,
    GGML_TYPE_Q8_1 = 9,
    GGML_TYPE_Q2_K = 10,
    GGML_TYPE_Q3_K = 11,
    GGML_TYPE_Q4_K = 12,
    GGML_TYPE_Q5_K = 13,
    GGML_TYPE_Q6_K = 14,
    GGML_TYPE_Q8_K = 15,
    GGML_TYPE_BF16 = 30,
    GGML_TYPE_COUNT = 40,
};

/* Block geometry of a ggml type: elements per block and bytes per block.
 * Returns 0 when the type is unknown to this reader (then the file is
 * refused, since its tensor sizes cannot be checked). */
int gguf_type_geometry(uint32_t type, uint64_t *blck_elems, uint64_t *blck_bytes);
const char *gguf_ggml_type_name(uint32_t type);
const char *gguf_kv_type_name(uint32_t type);

struct gguf_str {
    uint64_t len;
    const char *ptr; /* borrowed, not NUL-terminated */
};

struct gguf_kv {
    struct gguf_str key;
    uint32_t type;      /* enum gguf_type */
    uint32_t arr_type;  /* element type when type == GGUF_TYPE_ARRAY */
    uint64_t n;         /* element count (1 for scalars) */
    const uint8_t *data; /* scalars and non-string arrays: first element (may be unaligned: memcpy) */
    struct gguf_str *strs; /* STRING, or ARRAY of STRING: n parsed strings (owned) */
};

struct gguf_tensor {
    struct gguf_str name;
    uint32_t n_dims;
    uint64_t ne[GGUF_MAX_DIMS]; /* ggml order, fastest dimension first; unused dims are 1 */
    uint32_t type;              /* enum ggml_type */
    uint64_t offset;            /* relative to the data section */
    uint64_t n_elems;
    uint64_t n_bytes;
};

struct gguf_file {
    const uint8_t *base; /* borrowed */
    size_t size;
    uint32_t version;
    uint64_t n_kv;
    uint64_t n_tensors;
    struct gguf_kv *kv;          /* owned */
    struct gguf_tensor *tensors; /* owned */
    uint64_t alignment;
    uint64_t data_offset;  /* absolute offset of the data section */
    uint64_t header_bytes; /* bytes of magic, counts, KVs and tensor infos */
};

/* Parses a whole GGUF image of `size` bytes at `buf`. Checks every tensor's
 * byte range lies within the buffer. On failure f holds nothing to free. */
enum status gguf_parse(struct gguf_file *f, const uint8_t *buf, size_t size, struct err *e);

/* Parses only the header (KVs and tensor infos) from a prefix of the file
 * of `size` bytes; `file_size` is the whole file's size, against which the
 * tensor ranges are checked. Used to read a header without the data. */
enum status gguf_parse_header(struct gguf_file *f, const uint8_t *buf, size_t size,
                              uint64_t file_size, struct err *e);

/* Releases the tables; f may be NULL or already freed. */
void gguf_free(struct gguf_file *f);

/* Index of a key, or -1. */
int64_t gguf_find_key(const struct gguf_file *f, const char *key);
/* Index of a tensor by name, or -1. */
int64_t gguf_find_tensor(const struct gguf_file *f, const char *name);

/* Typed getters. Integer getters accept any integer KV type whose value fits
 * the requested type; a missing key returns STATUS_ERR with the message
 * "key 'K' not found" and leaves *out untouched, so callers can pre-set a
 * default and ignore the status with gguf_has(). */
int gguf_has(const struct gguf_file *f, const char *key);
enum status gguf_get_u32(const struct gguf_file *f, const char *key, uint32_t *out, struct err *e);
enum status gguf_get_u64(const struct gguf_file *f, const char *key, uint64_t *out, struct err *e);
enum status gguf_get_f32(const struct gguf_file *f, const char *key, float *out, struct err *e);
enum status gguf_get_bool(const struct gguf_file *f, const char *key, int *out, struct err *e);
enum status gguf_get_str(const struct gguf_file *f, const char *key, struct gguf_str *out, struct err *e);
/* Array getter: the KV must be an array of elem_type; returns its kv. */
enum status gguf_get_arr(const struct gguf_file *f, const char *key, uint32_t elem_type,
                         const struct gguf_kv **out, struct err *e);

/* Compares a gguf string with a C string. */
int gguf_str_eq(struct gguf_str s, const char *c);

/* Pointer to a tensor's bytes in the parsed buffer (gguf_parse only). */
const uint8_t *gguf_tensor_data(const struct gguf_file *f, const struct gguf_tensor *t);

#endif
