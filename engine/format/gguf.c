/* gguf.c: GGUF v2/v3 parsing from a memory image, with every field checked.
 *
 * Data flow: a cursor walks the buffer; every read goes through cur_need(),
 * which refuses to step past the end. Counts read from the file are checked
 * against the bytes that remain before anything is allocated for them, so a
 * crafted count cannot make the parser allocate more than the file could hold.
 * Sections: cursor, type tables, KV parsing, tensor infos, lookups/getters. */
#include "format/gguf.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

/* ---- cursor ---------------------------------------------------------------- */

struct cur {
    const uint8_t *buf;
    uint64_t size;
    uint64_t off;
};

static int cur_need(const struct cur *c, uint64_t n)
{
    return n <= c->size - c->off;
}

static uint64_t rd_u64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = (v << 8) | p[i];
    return v;
}

static uint32_t rd_u32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static enum status cur_u32(struct cur *c, uint32_t *v, const char *what, struct err *e)
{
    if (!cur_need(c, 4))
        return err_set(e, "gguf: truncated file: %s at offset %" PRIu64 " needs 4 bytes, file has %" PRIu64,
                       what, c->off, c->size);
    *v = rd_u32(c->buf + c->off);
    c->off += 4;
    return STATUS_OK;
}

static enum status cur_u64(struct cur *c, uint64_t *v, const char *what, struct err *e)
{
    if (!cur_need(c, 8))
        return err_set(e, "gguf: truncated file: %s at offset %" PRIu64 " needs 8 bytes, file has %" PRIu64,
                       what, c->off, c->size);
    *v = rd_u64(c->buf + c->off);
    c->off += 8;
    return STATUS_OK;
}

static enum status cur_str(struct cur *c, struct gguf_str *s, const char *what, struct err *e)
{
    uint64_t len;
    if (cur_u64(c, &len, what, e))
        return STATUS_ERR;
    if (!cur_need(c, len))
        return err_set(e, "gguf: %s length %" PRIu64 " at offset %" PRIu64 " runs past the end of the file (%" PRIu64 " bytes)",
                       what, len, c->off - 8, c->size);
    s->len = len;
    s->ptr = (const char *)c->buf + c->off;
    c->off += len;
    return STATUS_OK;
}

/* ---- type tables ----------------------------------------------------------- */

static const uint8_t kv_scalar_size[GGUF_TYPE_COUNT] = {
    [GGUF_TYPE_UINT8] = 1, [GGUF_TYPE_INT8] = 1, [GGUF_TYPE_UINT16] = 2,
    [GGUF_TYPE_INT16] = 2, [GGUF_TYPE_UINT32] = 4, [GGUF_TYPE_INT32] = 4,
    [GGUF_TYPE_FLOAT32] = 4, [GGUF_TYPE_BOOL] = 1, [GGUF_TYPE_UINT64] = 8,
    [GGUF_TYPE_INT64] = 8, [GGUF_TYPE_FLOAT64] = 8,
};

const char *gguf_kv_type_name(uint32_t type)
{
    static const char *names[GGUF_TYPE_COUNT] = {
        "u8", "i8", "u16", "i16", "u32", "i32", "f32", "bool", "string", "array", "u64", "i64", "f64",
    };
    return type < GGUF_TYPE_COUNT ? names[type] : "unknown";
}

struct type_info {
    const char *name;
    uint32_t blck_elems;
    uint32_t blck_bytes;
};

static const struct type_info ggml_types[GGML_TYPE_COUNT] = {
    [GGML_TYPE_F32] = {"f32", 1, 4},
    [GGML_TYPE_F16] = {"f16", 1, 2},
    [GGML_TYPE_Q4_0] = {"q4_0", 32, 18},
    [GGML_TYPE_Q4_1] = {"q4_1", 32, 20},
    [GGML_TYPE_Q5_0] = {"q5_0", 32, 22},
    [GGML_TYPE_Q5_1] = {"q5_1", 32, 24},
    [GGML_TYPE_Q8_0] = {"q8_0", 32, 34},
    [GGML_TYPE_Q8_1] = {"q8_1", 32, 36},
    [GGML_TYPE_Q2_K] = {"q2_k", 256, 84},
    [GGML_TYPE_Q3_K] = {"q3_k", 256, 110},
    [GGML_TYPE_Q4_K] = {"q4_k", 256, 144},
    [GGML_TYPE_Q5_K] = {"q5_k", 256, 176},
    [GGML_TYPE_Q6_K] = {"q6_k", 256, 210},
    [GGML_TYPE_Q8_K] = {"q8_k", 256, 292},
    [GGML_TYPE_BF16] = {"bf16", 1, 2},
};

int gguf_type_geometry(uint32_t type, uint64_t *blck_elems, uint64_t *blck_bytes)
{
    if (type >= GGML_TYPE_COUNT || !ggml_types[type].name)
        return 0;
    *blck_elems = ggml_types[type].blck_elems;
    *blck_bytes = ggml_types[type].blck_bytes;
    return 1;
}

const char *gguf_ggml_type_name(uint32_t type)
{
    if (type >= GGML_TYPE_COUNT || !ggml_types[type].name)
        return "unknown";
    return ggml_types[type].name;
}

/* ---- KV pairs -------------------------------------------------------------- */

static enum status parse_strings(struct cur *c, struct gguf_kv *kv, uint64_t n, struct err *e)
{
    /* each string needs at least its 8-byte length: bound n before allocating */
    if (n > (c->size - c->off) / 8)
        return err_set(e, "gguf: key '%.*s': string array count %" PRIu64 " exceeds the bytes left (%" PRIu64 ")",
                       (int)kv->key.len, kv->key.ptr, n, c->size - c->off);
    kv->strs = malloc((n ? n : 1) * sizeof *kv->strs);
    if (!kv->strs)
        return err_set(e, "gguf: out of memory for %" PRIu64 " strings", n);
    for (uint64_t i = 0; i < n; i++)
        if (cur_str(c, &kv->strs[i], "string value", e))
            return STATUS_ERR;
    return STATUS_OK;
}

static enum status parse_kv(struct cur *c, struct gguf_kv *kv, uint64_t idx, struct err *e)
{
    if (cur_str(c, &kv->key, "key", e))
        return STATUS_ERR;
    if (kv->key.len == 0)
        return err_set(e, "gguf: KV %" PRIu64 " has an empty key", idx);
    if (cur_u32(c, &kv->type, "value type", e))
        return STATUS_ERR;
    kv->n = 1;
    if (kv->type == GGUF_TYPE_STRING) {
        kv->arr_type = GGUF_TYPE_STRING;
        return parse_strings(c, kv, 1, e);
    }
    if (kv->type == GGUF_TYPE_ARRAY) {
        if (cur_u32(c, &kv->arr_type, "array element type", e) || cur_u64(c, &kv->n, "array count", e))
            return STATUS_ERR;
        if (kv->arr_type == GGUF_TYPE_STRING)
            return parse_strings(c, kv, kv->n, e);
        if (kv->arr_type >= GGUF_TYPE_COUNT || !kv_scalar_size[kv->arr_type])
            return err_set(e, "gguf: key '%.*s': invalid array element type %" PRIu32,
                           (int)kv->key.len, kv->key.ptr, kv->arr_type);
        uint64_t esz = kv_scalar_size[kv->arr_type];
        if (kv->n > (c->size - c->off) / esz)
            return err_set(e, "gguf: key '%.*s': array of %" PRIu64 " %s runs past the end of the file",
                           (int)kv->key.len, kv->key.ptr, kv->n, gguf_kv_type_name(kv->arr_type));
        kv->data = c->buf + c->off;
        c->off += kv->n * esz;
        return STATUS_OK;
    }
    if (kv->type >= GGUF_TYPE_COUNT || !kv_scalar_size[kv->type])
        return err_set(e, "gguf: key '%.*s': invalid value type %" PRIu32, (int)kv->key.len, kv->key.ptr, kv->type);
    if (!cur_need(c, kv_scalar_size[kv->type]))
        return err_set(e, "gguf: truncated file: value of key '%.*s' at offset %" PRIu64,
                       (int)kv->key.len, kv->key.ptr, c->off);
    kv->arr_type = kv->type;
    kv->data = c->buf + c->off;
    c->off += kv_scalar_size[kv->type];
    return STATUS_OK;
}

/* ---- tensor infos ---------------------------------------------------------- */

static enum status parse_tensor(struct cur *c, struct gguf_tensor *t, struct err *e)
{
    if (cur_str(c, &t->name, "tensor name", e))
        return STATUS_ERR;
    if (t->name.len == 0 || t->name.len > 255)
        return err_set(e, "gguf: tensor name length %" PRIu64 " is not in 1..255", t->name.len);
    if (cur_u32(c, &t->n_dims, "tensor n_dims", e))
        return STATUS_ERR;
    if (t->n_dims < 1 || t->n_dims > GGUF_MAX_DIMS)
        return err_set(e, "gguf: tensor '%.*s': n_dims %" PRIu32 " is not in 1..%d",
                       (int)t->name.len, t->name.ptr, t->n_dims, GGUF_MAX_DIMS);
    t->n_elems = 1;
    for (uint32_t d = 0; d < GGUF_MAX_DIMS; d++) {
        t->ne[d] = 1;
        if (d < t->n_dims && cur_u64(c, &t->ne[d], "tensor dimension", e))
            return STATUS_ERR;
        if (t->ne[d] == 0 || t->ne[d] > INT64_MAX / t->n_elems)
            return err_set(e, "gguf: tensor '%.*s': dimension %" PRIu32 " = %" PRIu64 " is zero or overflows",
                           (int)t->name.len, t->name.ptr, d, t->ne[d]);
        t->n_elems *= t->ne[d];
    }
    if (cur_u32(c, &t->type, "tensor type", e) || cur_u64(c, &t->offset, "tensor offset", e))
        return STATUS_ERR;
    uint64_t be, bb;
    if (!gguf_type_geometry(t->type, &be, &bb))
        return err_set(e, "gguf: tensor '%.*s': unknown ggml type %" PRIu32, (int)t->name.len, t->name.ptr, t->type);
    if (t->ne[0] % be)
        return err_set(e, "gguf: tensor '%.*s': row length %" PRIu64 " is not a multiple of the %s block (%" PRIu64 ")",
                       (int)t->name.len, t->name.ptr, t->ne[0], gguf_ggml_type_name(t->type), be);
    uint64_t n_blocks = t->n_elems / be;
    if (n_blocks > UINT64_MAX / bb)
        return err_set(e, "gguf: tensor '%.*s': byte size overflows", (int)t->name.len, t->name.ptr);
    t->n_bytes = n_blocks * bb;
    return STATUS_OK;
}

/* ---- whole file ------------------------------------------------------------ */

static enum status parse(struct gguf_file *f, const uint8_t *buf, uint64_t size, uint64_t file_size,
                         struct err *e)
{
    struct cur c = {buf, size, 0};
    uint32_t magic;
    memset(f, 0, sizeof *f);
    f->base = buf;
    f->size = size;
    if (cur_u32(&c, &magic, "magic", e))
        return STATUS_ERR;
    if (magic != GGUF_MAGIC)
        return err_set(e, "gguf: bad magic 0x%08" PRIx32 " (not a GGUF file)", magic);
    if (cur_u32(&c, &f->version, "version", e))
        return STATUS_ERR;
    if (f->version != 2 && f->version != 3)
        return err_set(e, "gguf: unsupported version %" PRIu32 " (2 and 3 are supported)", f->version);
    if (cur_u64(&c, &f->n_tensors, "n_tensors", e) || cur_u64(&c, &f->n_kv, "n_kv", e))
        return STATUS_ERR;
    /* a KV takes at least 8 (key len) + 1 (key) + 4 (type) + 1 bytes; a tensor info at least 8+1+4+8+4+8 */
    if (f->n_kv > (c.size - c.off) / 14)
        return err_set(e, "gguf: n_kv %" PRIu64 " is larger than the file could hold", f->n_kv);
    if (f->n_tensors > (c.size - c.off) / 33)
        return err_set(e, "gguf: n_tensors %" PRIu64 " is larger than the file could hold", f->n_tensors);
    f->kv = calloc(f->n_kv ? f->n_kv : 1, sizeof *f->kv);
    f->tensors = calloc(f->n_tensors ? f->n_tensors : 1, sizeof *f->tensors);
    if (!f->kv || !f->tensors)
        goto oom;

    f->alignment = GGUF_DEFAULT_ALIGNMENT;
    for (uint64_t i = 0; i < f->n_kv; i++) {
        struct gguf_kv *kv = &f->kv[i];
        if (parse_kv(&c, kv, i, e))
            goto fail;
        for (uint64_t j = 0; j < i; j++)
            if (f->kv[j].key.len == kv->key.len && !memcmp(f->kv[j].key.ptr, kv->key.ptr, kv->key.len)) {
                err_set(e, "gguf: duplicate key '%.*s'", (int)kv->key.len, kv->key.ptr);
                goto fail;
            }
        if (gguf_str_eq(kv->key, "general.alignment")) {
            if (kv->type != GGUF_TYPE_UINT32) {
                err_set(e, "gguf: general.alignment has type %s, expected u32", gguf_kv_type_name(kv->type));
                goto fail;
            }
            uint32_t a = rd_u32(kv->data);
            if (a == 0 || (a & (a - 1))) {
                err_set(e, "gguf: general.alignment %" PRIu32 " is not a power of two", a);
                goto fail;
            }
            f->alignment = a;
        }
    }
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        if (parse_tensor(&c, &f->tensors[i], e))
            goto fail;
        struct gguf_tensor *t = &f->tensors[i];
        if (t->offset % f->alignment) {
            err_set(e, "gguf: tensor '%.*s': offset %" PRIu64 " is not a multiple of the alignment %" PRIu64,
                    (int)t->name.len, t->name.ptr, t->offset, f->alignment);
            goto fail;
        }
        for (uint64_t j = 0; j < i; j++)
            if (f->tensors[j].name.len == t->name.len && !memcmp(f->tensors[j].name.ptr, t->name.ptr, t->name.len)) {
                err_set(e, "gguf: duplicate tensor '%.*s'", (int)t->name.len, t->name.ptr);
                goto fail;
            }
    }
    f->header_bytes = c.off;

    /* The data section starts at the next aligned offset. A file without
     * tensors may end before it. */
    uint64_t pad = (f->alignment - c.off % f->alignment) % f->alignment;
    f->data_offset = c.off + pad;
    if (f->n_tensors == 0)
        return STATUS_OK;
    if (f->data_offset > file_size) {
        err_set(e, "gguf: data section offset %" PRIu64 " is beyond the end of the file (%" PRIu64 " bytes)",
                f->data_offset, file_size);
        goto fail;
    }
    uint64_t data_size = file_size - f->data_offset;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        struct gguf_tensor *t = &f->tensors[i];
        if (t->offset > data_size || t->n_bytes > data_size - t->offset) {
            err_set(e, "gguf: tensor '%.*s': bytes [%" PRIu64 ", +%" PRIu64 ") lie beyond the data section (%" PRIu64 " bytes)",
                    (int)t->name.len, t->name.ptr, t->offset, t->n_bytes, data_size);
            goto fail;
        }
    }
    return STATUS_OK;
oom:
    err_set(e, "gguf: out of memory");
fail:
    gguf_free(f);
    return STATUS_ERR;
}

enum status gguf_parse(struct gguf_file *f, const uint8_t *buf, size_t size, struct err *e)
{
    return parse(f, buf, size, size, e);
}

enum status gguf_parse_header(struct gguf_file *f, const uint8_t *buf, size_t size, uint64_t file_size,
                              struct err *e)
{
    if (size > file_size)
        return err_set(e, "gguf: header buffer (%zu) larger than the file (%" PRIu64 ")", size, file_size);
    return parse(f, buf, size, file_size, e);
}

void gguf_free(struct gguf_file *f)
{
    if (!f)
        return;
    if (f->kv)
        for (uint64_t i = 0; i < f->n_kv; i++)
            free(f->kv[i].strs);
    free(f->kv);
    free(f->tensors);
    f->kv = NULL;
    f->tensors = NULL;
    f->n_kv = f->n_tensors = 0;
}

/* ---- lookups --------------------------------------------------------------- */

int gguf_str_eq(struct gguf_str s, const char *c)
{
    size_t n = strlen(c);
    return s.len == n && !memcmp(s.ptr, c, n);
}

int64_t gguf_find_key(const struct gguf_file *f, const char *key)
{
    for (uint64_t i = 0; i < f->n_kv; i++)
        if (gguf_str_eq(f->kv[i].key, key))
            return (int64_t)i;
    return -1;
}

int64_t gguf_find_tensor(const struct gguf_file *f, const char *name)
{
    for (uint64_t i = 0; i < f->n_tensors; i++)
        if (gguf_str_eq(f->tensors[i].name, name))
            return (int64_t)i;
    return -1;
}

int gguf_has(const struct gguf_file *f, const char *key)
{
    return gguf_find_key(f, key) >= 0;
}

const uint8_t *gguf_tensor_data(const struct gguf_file *f, const struct gguf_tensor *t)
{
    return f->base + f->data_offset + t->offset;
}

static const struct gguf_kv *find_kv(const struct gguf_file *f, const char *key, struct err *e)
{
    int64_t i = gguf_find_key(f, key);
    if (i < 0) {
        err_set(e, "key '%s' not found", key);
        return NULL;
    }
    return &f->kv[i];
}

/* Reads an integer KV as signed/unsigned 64-bit; *neg set when negative. */
static enum status get_int(const struct gguf_file *f, const char *key, uint64_t *v, int *neg, struct err *e)
{
    const struct gguf_kv *kv = find_kv(f, key, e);
    if (!kv)
        return STATUS_ERR;
    const uint8_t *p = kv->data;
    int64_t s = 0;
    *neg = 0;
    switch (kv->type) {
    case GGUF_TYPE_UINT8: *v = p[0]; return STATUS_OK;
    case GGUF_TYPE_UINT16: *v = (uint64_t)p[0] | (uint64_t)p[1] << 8; return STATUS_OK;
    case GGUF_TYPE_UINT32: *v = rd_u32(p); return STATUS_OK;
    case GGUF_TYPE_UINT64: *v = rd_u64(p); return STATUS_OK;
    case GGUF_TYPE_INT8: s = (int8_t)p[0]; break;
    case GGUF_TYPE_INT16: s = (int16_t)(uint16_t)((uint16_t)p[0] | (uint16_t)p[1] << 8); break;
    case GGUF_TYPE_INT32: s = (int32_t)rd_u32(p); break;
    case GGUF_TYPE_INT64: s = (int64_t)rd_u64(p); break;
    default:
        return err_set(e, "key '%s' has type %s, expected an integer", key, gguf_kv_type_name(kv->type));
    }
    *neg = s < 0;
    *v = (uint64_t)s;
    return STATUS_OK;
}

enum status gguf_get_u64(const struct gguf_file *f, const char *key, uint64_t *out, struct err *e)
{
    uint64_t v = 0;
    int neg;
    if (get_int(f, key, &v, &neg, e))
        return STATUS_ERR;
    if (neg)
        return err_set(e, "key '%s' is negative (%" PRId64 ")", key, (int64_t)v);
    *out = v;
    return STATUS_OK;
}

enum status gguf_get_u32(const struct gguf_file *f, const char *key, uint32_t *out, struct err *e)
{
    uint64_t v = 0;
    if (gguf_get_u64(f, key, &v, e))
        return STATUS_ERR;
    if (v > UINT32_MAX)
        return err_set(e, "key '%s' value %" PRIu64 " does not fit 32 bits", key, v);
    *out = (uint32_t)v;
    return STATUS_OK;
}

enum status gguf_get_f32(const struct gguf_file *f, const char *key, float *out, struct err *e)
{
    const struct gguf_kv *kv = find_kv(f, key, e);
    if (!kv)
        return STATUS_ERR;
    if (kv->type == GGUF_TYPE_FLOAT32) {
        uint32_t u = rd_u32(kv->data);
        memcpy(out, &u, 4);
        return STATUS_OK;
    }
    if (kv->type == GGUF_TYPE_FLOAT64) {
        uint64_t u = rd_u64(kv->data);
        double d;
        memcpy(&d, &u, 8);
        *out = (float)d;
        return STATUS_OK;
    }
    return err_set(e, "key '%s' has type %s, expected f32", key, gguf_kv_type_name(kv->type));
}

enum status gguf_get_bool(const struct gguf_file *f, const char *key, int *out, struct err *e)
{
    const struct gguf_kv *kv = find_kv(f, key, e);
    if (!kv)
        return STATUS_ERR;
    if (kv->type != GGUF_TYPE_BOOL)
        return err_set(e, "key '%s' has type %s, expected bool", key, gguf_kv_type_name(kv->type));
    *out = kv->data[0] != 0;
    return STATUS_OK;
}

enum status gguf_get_str(const struct gguf_file *f, const char *key, struct gguf_str *out, struct err *e)
{
    const struct gguf_kv *kv = find_kv(f, key, e);
    if (!kv)
        return STATUS_ERR;
    if (kv->type != GGUF_TYPE_STRING)
        return err_set(e, "key '%s' has type %s, expected string", key, gguf_kv_type_name(kv->type));
    *out = kv->strs[0];
    return STATUS_OK;
}

enum status gguf_get_arr(const struct gguf_file *f, const char *key, uint32_t elem_type,
                         const struct gguf_kv **out, struct err *e)
{
    const struct gguf_kv *kv = find_kv(f, key, e);
    if (!kv)
        return STATUS_ERR;
    if (kv->type != GGUF_TYPE_ARRAY || kv->arr_type != elem_type)
        return err_set(e, "key '%s' has type %s of %s, expected an array of %s", key, gguf_kv_type_name(kv->type),
                       gguf_kv_type_name(kv->arr_type), gguf_kv_type_name(elem_type));
    *out = kv;
    return STATUS_OK;
}
