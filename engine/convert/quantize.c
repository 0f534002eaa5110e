/* quantize.c: model quantization, GGUF in -> GGUF out (rules in quantize.h).
 *
 * Data flow: the input is mapped read-only and parsed (only its header pages
 * are touched); each tensor's bytes are then read with pread in blocks of
 * rows, dequantized to float row by row, converted to the chosen type and
 * streamed to the writer, so memory is a few MiB whatever the model size.
 * quantize_choose_type is the one place the per-tensor rules live; synth.c
 * calls it too. Sections: type names, the per-tensor decision, conversion,
 * the file. */
#include "convert/quantize.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "format/gguf.h"
#include "format/gguf_write.h"
#include "kernels/kernels.h"
#include "kernels/quant.h"
#include "kernels/quant_k.h"

#define CHUNK_BYTES ((size_t)4 << 20) /* rows are read and written in blocks of about this size */

/* ---- type names ------------------------------------------------------------ */

static const struct {
    const char *name;
    uint32_t target;
    uint32_t file_type; /* llama.cpp's llama_ftype */
} targets[] = {
    {"f32", GGML_TYPE_F32, 0},   {"f16", GGML_TYPE_F16, 1},   {"q8_0", GGML_TYPE_Q8_0, 7},
    {"q4_0", GGML_TYPE_Q4_0, 2}, {"q4_k", GGML_TYPE_Q4_K, 14}, {"q6_k", GGML_TYPE_Q6_K, 18},
    {"q4_k_m", QUANTIZE_Q4_K_M, 15},
};
#define N_TARGETS (sizeof targets / sizeof targets[0])

enum status quantize_type_from_name(const char *name, uint32_t *target, struct err *e)
{
    for (size_t i = 0; i < N_TARGETS; i++)
        if (!strcmp(name, targets[i].name)) {
            *target = targets[i].target;
            return STATUS_OK;
        }
    return err_set(e, "unknown type '%s' (expected f32, f16, q8_0, q4_0, q4_k, q6_k or q4_k_m)", name);
}

const char *quantize_target_name(uint32_t target)
{
    return target == QUANTIZE_Q4_K_M ? "q4_k_m" : gguf_ggml_type_name(target);
}

uint32_t quantize_file_type(uint32_t target)
{
    for (size_t i = 0; i < N_TARGETS; i++)
        if (targets[i].target == target)
            return targets[i].file_type;
    return 0;
}

/* F32 is copied; the other types go through their from_float in the
 * kernel table (the fast forms give the same bytes). */
void quantize_row(uint32_t type, const float *src, void *dst, int64_t n)
{
    const struct kern_fns *f = kernels_fns(type, KERN_PLAIN);
    if (type == GGML_TYPE_F32)
        memcpy(dst, src, (size_t)n * sizeof(float));
    else if (f && f->from_float)
        f->from_float(src, dst, n);
}

/* ---- the per-tensor decision ----------------------------------------------- */

static int ends_with(const char *s, const char *suffix)
{
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && !memcmp(s + n - k, suffix, k);
}

/* llama.cpp's choice of layers that get more bits in the _M mixes. */
static int use_more_bits(int i, int n)
{
    return i < n / 8 || i >= 7 * n / 8 || (i - n / 8) % 3 == 2;
}

/* N of a "blk.N." name, or -1. */
static int layer_of(const char *name)
{
    if (strncmp(name, "blk.", 4) || name[4] < '0' || name[4] > '9')
        return -1;
    long v = 0;
    const char *p = name + 4;
    for (; *p >= '0' && *p <= '9' && v < 1000000; p++)
        v = v * 10 + (*p - '0');
    return *p == '.' ? (int)v : -1;
}

void quantize_choose_type(const char *name, uint32_t n_dims, const uint64_t *ne, uint32_t src_type, uint32_t target,
                          const struct quantize_model *m, struct quantize_choice *c)
{
    size_t wl = sizeof c->why;
    c->why[0] = '\0';
    c->type = src_type;
    c->kind = QUANTIZE_KEPT;
    /* rule 1 */
    if (n_dims < 2) {
        snprintf(c->why, wl, "1-D, kept");
        return;
    }
    if (!ends_with(name, "weight")) {
        snprintf(c->why, wl, "not a weight, kept");
        return;
    }
    if (strstr(name, "_norm.weight")) {
        snprintf(c->why, wl, "norm, kept");
        return;
    }
    if (strstr(name, "ffn_gate_inp.weight")) {
        snprintf(c->why, wl, "expert router, kept as llama.cpp keeps it");
        return;
    }
    if (!quant_type_supported(src_type)) {
        snprintf(c->why, wl, "%s cannot be dequantized here, kept", gguf_ggml_type_name(src_type));
        return;
    }

    uint32_t base = target == QUANTIZE_Q4_K_M ? GGML_TYPE_Q4_K : target;
    c->type = base;
    c->kind = QUANTIZE_TARGET;
    if (base != GGML_TYPE_F32 && base != GGML_TYPE_F16) { /* rule 2: the rest is for quantized targets */
        int layer = layer_of(name), n_layer = (int)m->n_layer;
        int is_output = !strcmp(name, "output.weight") || (!m->has_output && !strcmp(name, "token_embd.weight"));
        int attn_v = strstr(name, "attn_v.weight") != NULL, attn_k = strstr(name, "attn_k.weight") != NULL;
        if (is_output) { /* rule 3 */
            if (base != GGML_TYPE_Q8_0 && base != GGML_TYPE_Q6_K) {
                c->type = GGML_TYPE_Q6_K;
                snprintf(c->why, wl, "output matrix: q6_k as llama.cpp gives it");
            }
        } else if (target == QUANTIZE_Q4_K_M && (attn_v || strstr(name, "ffn_down")) && layer >= 0 &&
                   use_more_bits(layer, n_layer)) { /* rule 4 */
            c->type = GGML_TYPE_Q6_K;
            snprintf(c->why, wl, "q4_k_m: layer %d of %d gets q6_k", layer, n_layer);
        }
        if (!is_output && m->n_expert == 8 && (attn_v || attn_k) && base != GGML_TYPE_Q8_0) { /* rule 5 */
            c->type = GGML_TYPE_Q8_0;
            snprintf(c->why, wl, "8 experts: attn_k/attn_v get q8_0 as llama.cpp gives them");
        }
        if (c->type != base)
            c->kind = QUANTIZE_RAISED;

        uint64_t be, bb; /* rule 6 */
        gguf_type_geometry(c->type, &be, &bb);
        if (ne[0] % be) {
            int k_quant = c->type == GGML_TYPE_Q4_K || c->type == GGML_TYPE_Q6_K;
            uint32_t fb = k_quant && ne[0] % 32 == 0 ? GGML_TYPE_Q8_0 : GGML_TYPE_F16;
            size_t k = c->why[0] ? strlen(c->why) : 0;
            snprintf(c->why + k, wl - k, "%srow %" PRIu64 " not a multiple of %" PRIu64 " for %s, %s instead",
                     k ? "; " : "", ne[0], be, gguf_ggml_type_name(c->type), gguf_ggml_type_name(fb));
            c->type = fb;
            c->kind = QUANTIZE_FALLBACK;
        }
    }
    if (src_type == c->type) {
        size_t k = strlen(c->why);
        snprintf(c->why + k, wl - k, "%salready %s, copied", k ? "; " : "", gguf_ggml_type_name(c->type));
    }
}

static void format_shape(const struct gguf_tensor *t, char *buf, size_t n)
{
    size_t k = 0;
    buf[0] = '\0';
    for (uint32_t d = 0; d < t->n_dims && k < n; d++)
        k += (size_t)snprintf(buf + k, n - k, "%s%" PRIu64, d ? "," : "", t->ne[d]);
}

/* ---- conversion ------------------------------------------------------------ */

static enum status pread_all(int fd, void *buf, size_t n, uint64_t off, const char *path, struct err *e)
{
    uint8_t *p = buf;
    while (n > 0) {
        ssize_t k = pread(fd, p, n, (off_t)off);
        if (k < 0 && errno == EINTR)
            continue;
        if (k < 0)
            return err_set(e, "quantize: reading %s at byte %" PRIu64 ": %s", path, off, strerror(errno));
        if (k == 0)
            return err_set(e, "quantize: reading %s at byte %" PRIu64 ": unexpected end of file", path, off);
        p += k;
        n -= (size_t)k;
        off += (uint64_t)k;
    }
    return STATUS_OK;
}

/* Streams tensor t (at absolute file offset `off`) to the writer as `type`. */
static enum status convert_tensor(int fd, const char *path, uint64_t off, const struct gguf_tensor *t,
                                  uint32_t type, struct gguf_writer *w, struct err *e)
{
    enum status st = STATUS_ERR;
    if (type == t->type) { /* a plain copy, in chunks */
        uint8_t *buf = malloc(CHUNK_BYTES);
        if (!buf)
            return err_set(e, "quantize: out of memory");
        for (uint64_t done = 0; done < t->n_bytes;) {
            size_t k = t->n_bytes - done < CHUNK_BYTES ? (size_t)(t->n_bytes - done) : CHUNK_BYTES;
            if (pread_all(fd, buf, k, off + done, path, e) || gguf_writer_write(w, buf, k, e))
                goto out_copy;
            done += k;
        }
        st = STATUS_OK;
out_copy:
        free(buf);
        return st;
    }

    int64_t row = (int64_t)t->ne[0];
    uint64_t n_rows = t->n_elems / t->ne[0];
    size_t src_row = quant_row_bytes(t->type, row);
    size_t dst_row = quant_row_bytes(type, row);
    size_t widest = src_row > dst_row ? src_row : dst_row;
    uint64_t rows_per_chunk = widest >= CHUNK_BYTES ? 1 : CHUNK_BYTES / widest;
    if (rows_per_chunk > n_rows)
        rows_per_chunk = n_rows;
    uint8_t *src = malloc((size_t)rows_per_chunk * src_row);
    uint8_t *dst = malloc((size_t)rows_per_chunk * dst_row);
    float *f = malloc((size_t)row * sizeof *f);
    if (!src || !dst || !f) {
        err_set(e, "quantize: out of memory for rows of %" PRId64, row);
        goto out;
    }
    for (uint64_t r = 0; r < n_rows; r += rows_per_chunk) {
        uint64_t k = n_rows - r < rows_per_chunk ? n_rows - r : rows_per_chunk;
        if (pread_all(fd, src, (size_t)k * src_row, off + r * src_row, path, e))
            goto out;
        for (uint64_t i = 0; i < k; i++) {
            quant_dequantize_row(t->type, src + i * src_row, f, row);
            quantize_row(type, f, dst + i * dst_row, row);
        }
        if (gguf_writer_write(w, dst, (size_t)k * dst_row, e))
            goto out;
    }
    st = STATUS_OK;
out:
    free(f);
    free(dst);
    free(src);
    return st;
}

/* ---- the file -------------------------------------------------------------- */

/* The model facts the rules use: n_layer from the blk.N names (llama.cpp's
 * block_count), n_expert from ARCH.expert_count (0 when absent). */
static void model_of(const struct gguf_file *f, struct quantize_model *m)
{
    m->n_layer = 0;
    m->n_expert = 0;
    m->has_output = gguf_find_tensor(f, "output.weight") >= 0;
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        char name[32];
        snprintf(name, sizeof name, "%.*s", (int)f->tensors[i].name.len, f->tensors[i].name.ptr);
        int l = layer_of(name);
        if (l >= 0 && (uint32_t)l + 1 > m->n_layer)
            m->n_layer = (uint32_t)l + 1;
    }
    struct gguf_str arch;
    if (gguf_get_str(f, "general.architecture", &arch, NULL) == STATUS_OK && arch.len < 64) {
        char key[96];
        uint32_t n = 0;
        snprintf(key, sizeof key, "%.*s.expert_count", (int)arch.len, arch.ptr);
        if (gguf_has(f, key) && gguf_get_u32(f, key, &n, NULL) == STATUS_OK)
            m->n_expert = n;
    }
}

/* One quantize_file call: the input (mapped and parsed), the writer, the
 * chosen type of each tensor and the tallies the log line reports. */
struct qfile {
    const char *in;
    uint32_t target;
    int fd;
    void *map; /* MAP_FAILED: not mapped */
    size_t size;
    struct gguf_file f;
    struct gguf_writer w;
    uint32_t *types; /* [f.n_tensors] */
    uint64_t in_bytes, out_bytes, n_kind[4], n_type[GGML_TYPE_COUNT];
};

/* Opens, checks (a regular, non-empty file that is not `out`), maps and
 * parses the input. */
static enum status qfile_open(struct qfile *q, const char *out, struct err *e)
{
    q->fd = open(q->in, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block the open */
    if (q->fd < 0)
        return err_set(e, "quantize: cannot open %s: %s", q->in, strerror(errno));
    struct stat sb, so;
    if (fstat(q->fd, &sb))
        return err_set(e, "quantize: stat %s: %s", q->in, strerror(errno));
    if (!S_ISREG(sb.st_mode))
        return err_set(e, "quantize: %s is not a regular file", q->in);
    if (stat(out, &so) == 0 && so.st_dev == sb.st_dev && so.st_ino == sb.st_ino)
        return err_set(e, "quantize: %s is the input file %s; refusing to replace it", out, q->in);
    q->size = (size_t)sb.st_size;
    if (q->size == 0)
        return err_set(e, "quantize: %s is empty", q->in);
    q->map = mmap(NULL, q->size, PROT_READ, MAP_PRIVATE, q->fd, 0);
    if (q->map == MAP_FAILED)
        return err_set(e, "quantize: mmap %s: %s", q->in, strerror(errno));
    if (gguf_parse(&q->f, q->map, q->size, e)) {
        char msg[sizeof e->msg];
        if (e) {
            snprintf(msg, sizeof msg, "%s", e->msg);
            err_set(e, "quantize: %s: %s", q->in, msg);
        }
        return STATUS_ERR;
    }
    q->types = malloc((q->f.n_tensors ? q->f.n_tensors : 1) * sizeof *q->types);
    return q->types ? STATUS_OK : err_set(e, "quantize: out of memory");
}

/* The input's KVs, with general.file_type and quantization_version set for
 * the target (added when the input has none). */
static enum status qfile_kvs(struct qfile *q, struct err *e)
{
    int have_ftype = 0, have_qv = 0;
    for (uint64_t i = 0; i < q->f.n_kv; i++) {
        const struct gguf_kv *kv = &q->f.kv[i];
        enum status s;
        if (gguf_str_eq(kv->key, "general.file_type")) {
            s = gguf_writer_add_u32(&q->w, "general.file_type", quantize_file_type(q->target), e);
            have_ftype = 1;
        } else if (gguf_str_eq(kv->key, "general.quantization_version")) {
            s = gguf_writer_add_u32(&q->w, "general.quantization_version", 2, e);
            have_qv = 1;
        } else {
            s = gguf_writer_add_kv(&q->w, kv, e);
        }
        if (s)
            return STATUS_ERR;
    }
    if (!have_ftype && gguf_writer_add_u32(&q->w, "general.file_type", quantize_file_type(q->target), e))
        return STATUS_ERR;
    if (!have_qv && gguf_writer_add_u32(&q->w, "general.quantization_version", 2, e))
        return STATUS_ERR;
    return STATUS_OK;
}

/* Each tensor's type (quantize_choose_type, logged one line per tensor)
 * into the writer's table, counted for the summary. */
static enum status qfile_tensor_table(struct qfile *q, FILE *log, struct err *e)
{
    struct quantize_model qm;
    model_of(&q->f, &qm);
    for (uint64_t i = 0; i < q->f.n_tensors; i++) {
        const struct gguf_tensor *t = &q->f.tensors[i];
        char name[256], shape[96];
        struct quantize_choice c;
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        quantize_choose_type(name, t->n_dims, t->ne, t->type, q->target, &qm, &c);
        q->types[i] = c.type;
        q->n_kind[c.kind]++;
        if (c.type < GGML_TYPE_COUNT)
            q->n_type[c.type]++;
        format_shape(t, shape, sizeof shape);
        if (log)
            fprintf(log, "%s [%s] %s -> %s%s%s%s\n", name, shape, gguf_ggml_type_name(t->type),
                    gguf_ggml_type_name(q->types[i]), c.why[0] ? " (" : "", c.why, c.why[0] ? ")" : "");
        if (gguf_writer_add_tensor(&q->w, name, t->n_dims, t->ne, q->types[i], e))
            return STATUS_ERR;
        q->in_bytes += t->n_bytes;
        q->out_bytes += q->w.tensors[i].n_bytes;
    }
    return STATUS_OK;
}

static void qfile_summary(const struct qfile *q, const char *type_name, FILE *log)
{
    fprintf(log, "quantize: %" PRIu64 " tensors (", q->f.n_tensors);
    const char *sep = "";
    for (uint32_t ty = 0; ty < GGML_TYPE_COUNT; ty++)
        if (q->n_type[ty]) {
            fprintf(log, "%s%" PRIu64 " %s", sep, q->n_type[ty], gguf_ggml_type_name(ty));
            sep = ", ";
        }
    fprintf(log, "): %" PRIu64 " %s, %" PRIu64 " raised, %" PRIu64 " fallback, %" PRIu64
            " kept; %.2f MiB -> %.2f MiB\n", q->n_kind[QUANTIZE_TARGET], type_name, q->n_kind[QUANTIZE_RAISED],
            q->n_kind[QUANTIZE_FALLBACK], q->n_kind[QUANTIZE_KEPT], (double)q->in_bytes / (1 << 20),
            (double)q->out_bytes / (1 << 20));
}

static void qfile_close(struct qfile *q)
{
    gguf_writer_free(&q->w);
    free(q->types);
    gguf_free(&q->f);
    if (q->map != MAP_FAILED)
        munmap(q->map, q->size);
    if (q->fd >= 0)
        close(q->fd);
}

enum status quantize_file(const char *in, const char *out, const char *type_name, FILE *log, struct err *e)
{
    struct qfile q = {.in = in, .target = GGML_TYPE_F32, .fd = -1, .map = MAP_FAILED};
    q.w.fd = -1;
    if (quantize_type_from_name(type_name, &q.target, e))
        return STATUS_ERR;
    enum status st = STATUS_ERR;
    if (qfile_open(&q, out, e) || gguf_writer_open(&q.w, out, e) || qfile_kvs(&q, e) ||
        qfile_tensor_table(&q, log, e) || gguf_writer_write_header(&q.w, e))
        goto out;
    for (uint64_t i = 0; i < q.f.n_tensors; i++)
        if (convert_tensor(q.fd, in, q.f.data_offset + q.f.tensors[i].offset, &q.f.tensors[i], q.types[i], &q.w, e))
            goto out;
    if (gguf_writer_finish(&q.w, e))
        goto out;
    if (log)
        qfile_summary(&q, type_name, log);
    st = STATUS_OK;
out:
    qfile_close(&q);
    return st;
}
