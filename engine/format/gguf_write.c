/* gguf_write.c: the streaming GGUF v3 writer declared in gguf_write.h.
 *
 * Data flow: KV pairs are serialized into a growing byte buffer as they are
 * added; tensor infos are kept as a table. write_header lays out the aligned
 * offsets and writes the header in one go; tensor bytes then pass straight
 * from the caller to the file, with padding inserted at tensor boundaries.
 * Everything goes to PATH.tmp, which finish renames into place.
 * Sections: failure and I/O helpers, KV pairs, tensor infos, header and data,
 * finish and free. */
#include "format/gguf_write.h"

#include <errno.h>
#include <sys/stat.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* ---- failure and I/O helpers ----------------------------------------------- */

/* Marks the writer failed and formats the message; returns STATUS_ERR. */
static enum status wfail(struct gguf_writer *w, struct err *e, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static enum status wfail(struct gguf_writer *w, struct err *e, const char *fmt, ...)
{
    w->failed = 1;
    va_list ap;
    va_start(ap, fmt);
    err_vset(e, fmt, ap);
    va_end(ap);
    return STATUS_ERR;
}

static enum status check_usable(struct gguf_writer *w, struct err *e)
{
    if (w->fd < 0 || w->failed || w->finished)
        return wfail(w, e, "gguf_write: %s: writer is not open (an earlier call failed or it was finished)",
                     w->tmp_path ? w->tmp_path : "(none)");
    return STATUS_OK;
}

static enum status write_all(struct gguf_writer *w, const void *data, size_t n, struct err *e)
{
    const uint8_t *p = data;
    while (n > 0) {
        ssize_t k = write(w->fd, p, n);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return wfail(w, e, "gguf_write: writing %s at byte %" PRIu64 ": %s", w->tmp_path, w->file_bytes,
                         strerror(errno));
        if (k == 0)
            return wfail(w, e, "gguf_write: writing %s at byte %" PRIu64 ": no progress", w->tmp_path,
                         w->file_bytes);
        p += k;
        n -= (size_t)k;
        w->file_bytes += (uint64_t)k;
    }
    return STATUS_OK;
}

static enum status write_zeros(struct gguf_writer *w, uint64_t n, struct err *e)
{
    static const uint8_t zeros[4096];
    while (n > 0) {
        size_t k = n < sizeof zeros ? (size_t)n : sizeof zeros;
        if (write_all(w, zeros, k, e))
            return STATUS_ERR;
        n -= k;
    }
    return STATUS_OK;
}

static uint64_t pad_to(uint64_t n, uint64_t align)
{
    return (align - n % align) % align;
}

enum status gguf_writer_open(struct gguf_writer *w, const char *path, struct err *e)
{
    memset(w, 0, sizeof *w);
    w->fd = -1;
    w->alignment = GGUF_DEFAULT_ALIGNMENT;
    /* Only a regular file (or nothing) is replaced: renaming over a device node,
     * a directory or a FIFO would destroy it. */
    struct stat st;
    if (lstat(path, &st) == 0 && !S_ISREG(st.st_mode) && !S_ISLNK(st.st_mode))
        return err_set(e, "gguf_write: %s exists and is not a regular file; refusing to replace it", path);
    size_t n = strlen(path);
    w->path = malloc(n + 1);
    w->tmp_path = malloc(n + 12);
    if (!w->path || !w->tmp_path) {
        gguf_writer_free(w);
        return err_set(e, "gguf_write: out of memory");
    }
    memcpy(w->path, path, n + 1);
    /* A fresh temporary name (O_EXCL): a stale PATH.tmp, or one that is a
     * symlink to the input, is never opened, truncated or followed. */
    snprintf(w->tmp_path, n + 12, "%s.tmpXXXXXX", path);
    w->fd = mkstemp(w->tmp_path);
    if (w->fd < 0) {
        err_set(e, "gguf_write: cannot create a temporary file beside %s: %s", path, strerror(errno));
        gguf_writer_free(w);
        return STATUS_ERR;
    }
    w->created = 1;
    if (fcntl(w->fd, F_SETFD, FD_CLOEXEC) != 0 || fchmod(w->fd, 0644) != 0) {
        err_set(e, "gguf_write: %s: %s", w->tmp_path, strerror(errno));
        gguf_writer_free(w);
        return STATUS_ERR;
    }
    return STATUS_OK;
}

/* ---- KV pairs -------------------------------------------------------------- */

static const uint8_t scalar_size[GGUF_TYPE_COUNT] = {
    [GGUF_TYPE_UINT8] = 1, [GGUF_TYPE_INT8] = 1, [GGUF_TYPE_UINT16] = 2,
    [GGUF_TYPE_INT16] = 2, [GGUF_TYPE_UINT32] = 4, [GGUF_TYPE_INT32] = 4,
    [GGUF_TYPE_FLOAT32] = 4, [GGUF_TYPE_BOOL] = 1, [GGUF_TYPE_UINT64] = 8,
    [GGUF_TYPE_INT64] = 8, [GGUF_TYPE_FLOAT64] = 8,
};

static unsigned scalar_bytes(uint32_t type)
{
    return type < GGUF_TYPE_COUNT ? scalar_size[type] : 0;
}

static enum status kv_put(struct gguf_writer *w, const void *src, size_t n, struct err *e)
{
    if (n > w->kv_cap - w->kv_bytes) {
        if (n > SIZE_MAX / 2 - w->kv_bytes)
            return wfail(w, e, "gguf_write: %s: metadata too large", w->path);
        size_t cap = (w->kv_bytes + n) * 2 + 256;
        uint8_t *p = realloc(w->kv, cap);
        if (!p)
            return wfail(w, e, "gguf_write: %s: out of memory for %zu bytes of metadata", w->path, cap);
        w->kv = p;
        w->kv_cap = cap;
    }
    memcpy(w->kv + w->kv_bytes, src, n);
    w->kv_bytes += n;
    return STATUS_OK;
}

static enum status kv_le(struct gguf_writer *w, uint64_t v, unsigned n_bytes, struct err *e)
{
    uint8_t b[8];
    for (unsigned i = 0; i < n_bytes; i++)
        b[i] = (uint8_t)(v >> (8 * i));
    return kv_put(w, b, n_bytes, e);
}

static enum status kv_str(struct gguf_writer *w, const char *s, uint64_t len, struct err *e)
{
    if (len > SIZE_MAX)
        return wfail(w, e, "gguf_write: %s: string too long", w->path);
    if (kv_le(w, len, 8, e))
        return STATUS_ERR;
    return len ? kv_put(w, s, (size_t)len, e) : STATUS_OK;
}

/* Host value of a scalar type (n_bytes wide) read as an integer, for LE output. */
static uint64_t host_bits(const void *value, unsigned n_bytes)
{
    uint8_t u8;
    uint16_t u16;
    uint32_t u32;
    uint64_t u64 = 0;
    switch (n_bytes) {
    case 1: memcpy(&u8, value, 1); return u8;
    case 2: memcpy(&u16, value, 2); return u16;
    case 4: memcpy(&u32, value, 4); return u32;
    default: memcpy(&u64, value, 8); return u64;
    }
}

/* Starts a KV: state checks, key checks, then the key and the value type. */
static enum status kv_begin(struct gguf_writer *w, const char *key, size_t key_len, uint32_t type, struct err *e)
{
    if (check_usable(w, e))
        return STATUS_ERR;
    if (w->header_written)
        return wfail(w, e, "gguf_write: %s: KV '%.*s' added after the header was written", w->path,
                     (int)key_len, key);
    if (key_len == 0)
        return wfail(w, e, "gguf_write: %s: empty key", w->path);
    for (uint64_t i = 0; i < w->n_kv; i++)
        if (strlen(w->keys[i]) == key_len && !memcmp(w->keys[i], key, key_len))
            return wfail(w, e, "gguf_write: %s: duplicate key '%.*s'", w->path, (int)key_len, key);
    if (key_len == 17 && !memcmp(key, "general.alignment", 17) && type != GGUF_TYPE_UINT32)
        return wfail(w, e, "gguf_write: %s: general.alignment must be u32, not %s", w->path,
                     gguf_kv_type_name(type));
    char **keys = realloc(w->keys, (size_t)(w->n_kv + 1) * sizeof *keys);
    if (!keys)
        return wfail(w, e, "gguf_write: %s: out of memory", w->path);
    w->keys = keys;
    keys[w->n_kv] = malloc(key_len + 1);
    if (!keys[w->n_kv])
        return wfail(w, e, "gguf_write: %s: out of memory", w->path);
    memcpy(keys[w->n_kv], key, key_len);
    keys[w->n_kv][key_len] = '\0';
    w->n_kv++;
    if (kv_str(w, key, key_len, e) || kv_le(w, type, 4, e))
        return STATUS_ERR;
    return STATUS_OK;
}

static enum status set_alignment(struct gguf_writer *w, uint32_t a, struct err *e)
{
    if (a == 0 || (a & (a - 1)))
        return wfail(w, e, "gguf_write: %s: general.alignment %" PRIu32 " is not a power of two", w->path, a);
    w->alignment = a;
    return STATUS_OK;
}

static int is_alignment_key(const char *key, size_t len)
{
    return len == 17 && !memcmp(key, "general.alignment", 17);
}

enum status gguf_writer_add_scalar(struct gguf_writer *w, const char *key, uint32_t type, const void *value,
                                   struct err *e)
{
    unsigned sz = scalar_bytes(type);
    if (!sz)
        return wfail(w, e, "gguf_write: %s: key '%s': %s is not a scalar type", w->path, key,
                     gguf_kv_type_name(type));
    if (kv_begin(w, key, strlen(key), type, e))
        return STATUS_ERR;
    uint64_t bits = host_bits(value, sz);
    if (type == GGUF_TYPE_BOOL)
        bits = bits != 0;
    if (is_alignment_key(key, strlen(key)) && set_alignment(w, (uint32_t)bits, e))
        return STATUS_ERR;
    return kv_le(w, bits, sz, e);
}

enum status gguf_writer_add_u32(struct gguf_writer *w, const char *key, uint32_t v, struct err *e)
{
    return gguf_writer_add_scalar(w, key, GGUF_TYPE_UINT32, &v, e);
}

enum status gguf_writer_add_i32(struct gguf_writer *w, const char *key, int32_t v, struct err *e)
{
    return gguf_writer_add_scalar(w, key, GGUF_TYPE_INT32, &v, e);
}

enum status gguf_writer_add_u64(struct gguf_writer *w, const char *key, uint64_t v, struct err *e)
{
    return gguf_writer_add_scalar(w, key, GGUF_TYPE_UINT64, &v, e);
}

enum status gguf_writer_add_f32(struct gguf_writer *w, const char *key, float v, struct err *e)
{
    return gguf_writer_add_scalar(w, key, GGUF_TYPE_FLOAT32, &v, e);
}

enum status gguf_writer_add_bool(struct gguf_writer *w, const char *key, int v, struct err *e)
{
    uint8_t b = v != 0;
    return gguf_writer_add_scalar(w, key, GGUF_TYPE_BOOL, &b, e);
}

enum status gguf_writer_add_str(struct gguf_writer *w, const char *key, const char *s, struct err *e)
{
    if (kv_begin(w, key, strlen(key), GGUF_TYPE_STRING, e))
        return STATUS_ERR;
    return kv_str(w, s, strlen(s), e);
}

enum status gguf_writer_add_arr(struct gguf_writer *w, const char *key, uint32_t elem_type, const void *data,
                                uint64_t n, struct err *e)
{
    unsigned sz = scalar_bytes(elem_type);
    if (!sz)
        return wfail(w, e, "gguf_write: %s: key '%s': array elements of type %s are not scalars", w->path, key,
                     gguf_kv_type_name(elem_type));
    if (kv_begin(w, key, strlen(key), GGUF_TYPE_ARRAY, e) || kv_le(w, elem_type, 4, e) || kv_le(w, n, 8, e))
        return STATUS_ERR;
    const uint8_t *p = data;
    for (uint64_t i = 0; i < n; i++) {
        uint64_t bits = host_bits(p + i * sz, sz);
        if (elem_type == GGUF_TYPE_BOOL)
            bits = bits != 0;
        if (kv_le(w, bits, sz, e))
            return STATUS_ERR;
    }
    return STATUS_OK;
}

enum status gguf_writer_add_str_arr(struct gguf_writer *w, const char *key, const struct gguf_str *strs,
                                    uint64_t n, struct err *e)
{
    if (kv_begin(w, key, strlen(key), GGUF_TYPE_ARRAY, e) || kv_le(w, GGUF_TYPE_STRING, 4, e) ||
        kv_le(w, n, 8, e))
        return STATUS_ERR;
    for (uint64_t i = 0; i < n; i++)
        if (kv_str(w, strs[i].ptr, strs[i].len, e))
            return STATUS_ERR;
    return STATUS_OK;
}

enum status gguf_writer_add_kv(struct gguf_writer *w, const struct gguf_kv *kv, struct err *e)
{
    if (kv->key.len > SIZE_MAX - 1)
        return wfail(w, e, "gguf_write: %s: key too long", w->path);
    size_t key_len = (size_t)kv->key.len;
    if (kv_begin(w, kv->key.ptr, key_len, kv->type, e))
        return STATUS_ERR;
    if (kv->type == GGUF_TYPE_STRING)
        return kv_str(w, kv->strs[0].ptr, kv->strs[0].len, e);
    if (kv->type == GGUF_TYPE_ARRAY) {
        if (kv_le(w, kv->arr_type, 4, e) || kv_le(w, kv->n, 8, e))
            return STATUS_ERR;
        if (kv->arr_type == GGUF_TYPE_STRING) {
            for (uint64_t i = 0; i < kv->n; i++)
                if (kv_str(w, kv->strs[i].ptr, kv->strs[i].len, e))
                    return STATUS_ERR;
            return STATUS_OK;
        }
        /* scalar elements are stored little-endian already: copy the bytes */
        unsigned sz = scalar_bytes(kv->arr_type);
        if (!sz || kv->n > SIZE_MAX / sz)
            return wfail(w, e, "gguf_write: %s: key '%.*s': cannot copy this array", w->path, (int)key_len,
                         kv->key.ptr);
        return kv_put(w, kv->data, (size_t)(kv->n * sz), e);
    }
    unsigned sz = scalar_bytes(kv->type);
    if (!sz)
        return wfail(w, e, "gguf_write: %s: key '%.*s': unknown type %" PRIu32, w->path, (int)key_len,
                     kv->key.ptr, kv->type);
    if (is_alignment_key(kv->key.ptr, key_len)) {
        uint32_t a = (uint32_t)kv->data[0] | (uint32_t)kv->data[1] << 8 | (uint32_t)kv->data[2] << 16 |
                     (uint32_t)kv->data[3] << 24;
        if (set_alignment(w, a, e))
            return STATUS_ERR;
    }
    return kv_put(w, kv->data, sz, e);
}

/* ---- tensor infos ---------------------------------------------------------- */

enum status gguf_writer_add_tensor(struct gguf_writer *w, const char *name, uint32_t n_dims, const uint64_t *ne,
                                   uint32_t type, struct err *e)
{
    if (check_usable(w, e))
        return STATUS_ERR;
    if (w->header_written)
        return wfail(w, e, "gguf_write: %s: tensor '%s' added after the header was written", w->path, name);
    size_t len = strlen(name);
    if (len == 0 || len > 255)
        return wfail(w, e, "gguf_write: %s: tensor name length %zu is not in 1..255", w->path, len);
    if (n_dims < 1 || n_dims > GGUF_MAX_DIMS)
        return wfail(w, e, "gguf_write: %s: tensor '%s': n_dims %" PRIu32 " is not in 1..%d", w->path, name,
                     n_dims, GGUF_MAX_DIMS);
    uint64_t be, bb;
    if (!gguf_type_geometry(type, &be, &bb))
        return wfail(w, e, "gguf_write: %s: tensor '%s': unknown ggml type %" PRIu32, w->path, name, type);
    uint64_t n_elems = 1;
    for (uint32_t d = 0; d < n_dims; d++) {
        if (ne[d] == 0 || ne[d] > INT64_MAX / n_elems)
            return wfail(w, e, "gguf_write: %s: tensor '%s': dimension %" PRIu32 " = %" PRIu64
                         " is zero or overflows", w->path, name, d, ne[d]);
        n_elems *= ne[d];
    }
    if (ne[0] % be)
        return wfail(w, e, "gguf_write: %s: tensor '%s': row length %" PRIu64 " is not a multiple of the %s block (%"
                     PRIu64 ")", w->path, name, ne[0], gguf_ggml_type_name(type), be);
    if (n_elems / be > UINT64_MAX / bb)
        return wfail(w, e, "gguf_write: %s: tensor '%s': byte size overflows", w->path, name);
    for (uint64_t i = 0; i < w->n_tensors; i++)
        if (!strcmp(w->tensors[i].name, name))
            return wfail(w, e, "gguf_write: %s: duplicate tensor '%s'", w->path, name);
    if (w->n_tensors == w->cap_tensors) {
        uint64_t cap = w->cap_tensors ? w->cap_tensors * 2 : 64;
        struct gguf_writer_tensor *t = realloc(w->tensors, (size_t)cap * sizeof *t);
        if (!t)
            return wfail(w, e, "gguf_write: %s: out of memory", w->path);
        w->tensors = t;
        w->cap_tensors = cap;
    }
    struct gguf_writer_tensor *t = &w->tensors[w->n_tensors];
    memset(t, 0, sizeof *t);
    t->name = malloc(len + 1);
    if (!t->name)
        return wfail(w, e, "gguf_write: %s: out of memory", w->path);
    memcpy(t->name, name, len + 1);
    t->n_dims = n_dims;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++)
        t->ne[d] = d < n_dims ? ne[d] : 1;
    t->type = type;
    t->n_bytes = n_elems / be * bb;
    w->n_tensors++;
    return STATUS_OK;
}

/* ---- header and data ------------------------------------------------------- */

static void put_le(uint8_t **p, uint64_t v, unsigned n_bytes)
{
    for (unsigned i = 0; i < n_bytes; i++)
        (*p)[i] = (uint8_t)(v >> (8 * i));
    *p += n_bytes;
}

enum status gguf_writer_write_header(struct gguf_writer *w, struct err *e)
{
    if (check_usable(w, e))
        return STATUS_ERR;
    if (w->header_written)
        return wfail(w, e, "gguf_write: %s: header written twice", w->path);

    uint64_t info_bytes = 0, off = 0;
    for (uint64_t i = 0; i < w->n_tensors; i++) {
        struct gguf_writer_tensor *t = &w->tensors[i];
        info_bytes += 8 + strlen(t->name) + 4 + 8 * (uint64_t)t->n_dims + 4 + 8;
        t->offset = off;
        if (t->n_bytes > UINT64_MAX - off - w->alignment)
            return wfail(w, e, "gguf_write: %s: data section size overflows", w->path);
        off += t->n_bytes + pad_to(t->n_bytes, w->alignment);
    }
    uint64_t total = 24 + (uint64_t)w->kv_bytes + info_bytes;
    /* A file without tensors ends right after its header, as llama.cpp's vocab files do. */
    uint64_t pad = w->n_tensors ? pad_to(total, w->alignment) : 0;
    if (total > SIZE_MAX)
        return wfail(w, e, "gguf_write: %s: header too large", w->path);
    uint8_t *buf = malloc((size_t)total);
    if (!buf)
        return wfail(w, e, "gguf_write: %s: out of memory for a %" PRIu64 "-byte header", w->path, total);
    uint8_t *p = buf;
    put_le(&p, GGUF_MAGIC, 4);
    put_le(&p, 3, 4);
    put_le(&p, w->n_tensors, 8);
    put_le(&p, w->n_kv, 8);
    if (w->kv_bytes)
        memcpy(p, w->kv, w->kv_bytes);
    p += w->kv_bytes;
    for (uint64_t i = 0; i < w->n_tensors; i++) {
        const struct gguf_writer_tensor *t = &w->tensors[i];
        size_t len = strlen(t->name);
        put_le(&p, len, 8);
        memcpy(p, t->name, len);
        p += len;
        put_le(&p, t->n_dims, 4);
        for (uint32_t d = 0; d < t->n_dims; d++)
            put_le(&p, t->ne[d], 8);
        put_le(&p, t->type, 4);
        put_le(&p, t->offset, 8);
    }
    enum status st = write_all(w, buf, (size_t)total, e);
    free(buf);
    if (st || write_zeros(w, pad, e))
        return STATUS_ERR;
    w->header_written = 1;
    return STATUS_OK;
}

enum status gguf_writer_write(struct gguf_writer *w, const void *data, size_t n, struct err *e)
{
    if (check_usable(w, e))
        return STATUS_ERR;
    if (!w->header_written)
        return wfail(w, e, "gguf_write: %s: tensor data written before the header", w->path);
    const uint8_t *p = data;
    while (n > 0) {
        if (w->cur >= w->n_tensors)
            return wfail(w, e, "gguf_write: %s: %zu bytes of data beyond the last tensor", w->path, n);
        const struct gguf_writer_tensor *t = &w->tensors[w->cur];
        uint64_t left = t->n_bytes - w->cur_bytes;
        size_t k = left < n ? (size_t)left : n;
        if (write_all(w, p, k, e))
            return STATUS_ERR;
        p += k;
        n -= k;
        w->cur_bytes += k;
        if (w->cur_bytes == t->n_bytes) {
            if (write_zeros(w, pad_to(t->n_bytes, w->alignment), e))
                return STATUS_ERR;
            w->cur++;
            w->cur_bytes = 0;
        }
    }
    return STATUS_OK;
}

/* ---- finish and free ------------------------------------------------------- */

enum status gguf_writer_finish(struct gguf_writer *w, struct err *e)
{
    if (check_usable(w, e))
        return STATUS_ERR;
    if (!w->header_written && w->n_tensors == 0 && gguf_writer_write_header(w, e))
        return STATUS_ERR;
    if (!w->header_written)
        return wfail(w, e, "gguf_write: %s: finished before the header was written", w->path);
    if (w->cur < w->n_tensors)
        return wfail(w, e, "gguf_write: %s: tensor '%s' has %" PRIu64 " of %" PRIu64 " bytes written", w->path,
                     w->tensors[w->cur].name, w->cur_bytes, w->tensors[w->cur].n_bytes);
    if (fsync(w->fd))
        return wfail(w, e, "gguf_write: fsync %s: %s", w->tmp_path, strerror(errno));
    int fd = w->fd;
    w->fd = -1;
    if (close(fd))
        return wfail(w, e, "gguf_write: close %s: %s", w->tmp_path, strerror(errno));
    if (rename(w->tmp_path, w->path))
        return wfail(w, e, "gguf_write: rename %s to %s: %s", w->tmp_path, w->path, strerror(errno));
    w->finished = 1;
    return STATUS_OK;
}

void gguf_writer_free(struct gguf_writer *w)
{
    if (!w)
        return;
    if (w->fd >= 0)
        close(w->fd);
    if (w->created && !w->finished)
        unlink(w->tmp_path);
    for (uint64_t i = 0; i < w->n_kv; i++)
        free(w->keys[i]);
    for (uint64_t i = 0; i < w->n_tensors; i++)
        free(w->tensors[i].name);
    free(w->keys);
    free(w->tensors);
    free(w->kv);
    free(w->path);
    free(w->tmp_path);
    memset(w, 0, sizeof *w);
    w->fd = -1;
}
