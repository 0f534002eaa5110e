/* quantize.c: model quantization, GGUF in -> GGUF out (rules in quantize.h).
 *
 * Data flow: the input is mapped read-only and parsed (only its header pages
 * are touched); each tensor's bytes are then read with pread in blocks of
 * rows, dequantized to float row by row, converted to the chosen type and
 * streamed to the writer, so memory is a few MiB whatever the model size.
 * Sections: type names, the per-tensor decision, conversion, the file. */
#include "quantize.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "gguf.h"
#include "gguf_write.h"
#include "quant.h"

#define CHUNK_BYTES ((size_t)4 << 20) /* rows are read and written in blocks of about this size */

/* ---- type names ------------------------------------------------------------ */

enum status quantize_type_from_name(const char *name, uint32_t *type, struct err *e)
{
    static const struct {
        const char *name;
        uint32_t type;
    } names[] = {
        {"f32", GGML_TYPE_F32}, {"f16", GGML_TYPE_F16}, {"q8_0", GGML_TYPE_Q8_0}, {"q4_0", GGML_TYPE_Q4_0},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (!strcmp(name, names[i].name)) {
            *type = names[i].type;
            return STATUS_OK;
        }
    return err_set(e, "unknown type '%s' (expected f32, f16, q8_0 or q4_0)", name);
}

uint32_t quantize_file_type(uint32_t type)
{
    switch (type) {
    case GGML_TYPE_F16: return 1;
    case GGML_TYPE_Q8_0: return 7;
    case GGML_TYPE_Q4_0: return 2;
    default: return 0;
    }
}

void quantize_row(uint32_t type, const float *src, void *dst, int64_t n)
{
    switch (type) {
    case GGML_TYPE_F32: memcpy(dst, src, (size_t)n * sizeof(float)); break;
    case GGML_TYPE_F16: quant_f16_quantize_row(src, dst, n); break;
    case GGML_TYPE_Q8_0: quant_q8_0_quantize_row(src, dst, n); break;
    case GGML_TYPE_Q4_0: quant_q4_0_quantize_row(src, dst, n); break;
    default: break;
    }
}

/* ---- the per-tensor decision ----------------------------------------------- */

static int ends_with(struct gguf_str s, const char *suffix)
{
    size_t n = strlen(suffix);
    return s.len >= n && !memcmp(s.ptr + s.len - n, suffix, n);
}

enum choice {
    CHOICE_TARGET,   /* converted to the target type */
    CHOICE_FALLBACK, /* F16: rows do not divide the target's block */
    CHOICE_KEPT,     /* copied as it is */
};

/* The type tensor t becomes for `target`, with the kind of choice and, when
 * it is not simply the target, the reason in `why` (empty otherwise). */
static uint32_t choose_type(const struct gguf_tensor *t, uint32_t target, int is_output, enum choice *kind,
                            char *why, size_t why_len)
{
    uint64_t be, bb;
    why[0] = '\0';
    *kind = CHOICE_KEPT;
    if (t->n_dims < 2 || !ends_with(t->name, ".weight")) {
        snprintf(why, why_len, "%s, kept", t->n_dims < 2 ? "1-D" : "not a .weight");
        return t->type;
    }
    if (!quant_type_supported(t->type)) {
        snprintf(why, why_len, "%s cannot be dequantized here, kept", gguf_ggml_type_name(t->type));
        return t->type;
    }
    gguf_type_geometry(target, &be, &bb);
    if (t->ne[0] % be) {
        snprintf(why, why_len, "row %" PRIu64 " not a multiple of %" PRIu64, t->ne[0], be);
        *kind = CHOICE_FALLBACK;
        return GGML_TYPE_F16;
    }
    /* llama.cpp keeps the output matrix (the token embedding when it is tied) at
     * higher precision than a 4-bit target, since every logit goes through it.
     * It uses Q6_K; Q8_0 stands in for it here. */
    if (is_output && target == GGML_TYPE_Q4_0) {
        snprintf(why, why_len, "output matrix kept at q8_0 as llama.cpp keeps it above 4 bits");
        *kind = CHOICE_TARGET;
        return GGML_TYPE_Q8_0;
    }
    if (t->type == target)
        snprintf(why, why_len, "already %s, copied", gguf_ggml_type_name(target));
    *kind = CHOICE_TARGET;
    return target;
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

enum status quantize_file(const char *in, const char *out, const char *type_name, FILE *log, struct err *e)
{
    uint32_t target = GGML_TYPE_F32;
    if (quantize_type_from_name(type_name, &target, e))
        return STATUS_ERR;

    enum status st = STATUS_ERR;
    struct gguf_file f = {0};
    struct gguf_writer w = {0};
    w.fd = -1;
    uint32_t *types = NULL;
    void *map = MAP_FAILED;
    size_t size = 0;
    int fd = open(in, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(e, "quantize: cannot open %s: %s", in, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb)) {
        err_set(e, "quantize: stat %s: %s", in, strerror(errno));
        goto out;
    }
    size = (size_t)sb.st_size;
    if (size == 0) {
        err_set(e, "quantize: %s is empty", in);
        goto out;
    }
    map = mmap(NULL, size, PROT_READ, MAP_PRIVATE, fd, 0);
    if (map == MAP_FAILED) {
        err_set(e, "quantize: mmap %s: %s", in, strerror(errno));
        goto out;
    }
    if (gguf_parse(&f, map, size, e)) {
        char msg[sizeof e->msg];
        if (e) {
            snprintf(msg, sizeof msg, "%s", e->msg);
            err_set(e, "quantize: %s: %s", in, msg);
        }
        goto out;
    }

    types = malloc((f.n_tensors ? f.n_tensors : 1) * sizeof *types);
    if (!types) {
        err_set(e, "quantize: out of memory");
        goto out;
    }
    if (gguf_writer_open(&w, out, e))
        goto out;
    int have_ftype = 0, have_qv = 0;
    for (uint64_t i = 0; i < f.n_kv; i++) {
        const struct gguf_kv *kv = &f.kv[i];
        enum status s;
        if (gguf_str_eq(kv->key, "general.file_type")) {
            s = gguf_writer_add_u32(&w, "general.file_type", quantize_file_type(target), e);
            have_ftype = 1;
        } else if (gguf_str_eq(kv->key, "general.quantization_version")) {
            s = gguf_writer_add_u32(&w, "general.quantization_version", 2, e);
            have_qv = 1;
        } else {
            s = gguf_writer_add_kv(&w, kv, e);
        }
        if (s)
            goto out;
    }
    if (!have_ftype && gguf_writer_add_u32(&w, "general.file_type", quantize_file_type(target), e))
        goto out;
    if (!have_qv && gguf_writer_add_u32(&w, "general.quantization_version", 2, e))
        goto out;

    uint64_t in_bytes = 0, out_bytes = 0, n_kind[3] = {0};
    for (uint64_t i = 0; i < f.n_tensors; i++) {
        const struct gguf_tensor *t = &f.tensors[i];
        char why[96], name[256], shape[96];
        enum choice kind;
        int is_output = gguf_str_eq(t->name, "output.weight") ||
                        (gguf_str_eq(t->name, "token_embd.weight") && gguf_find_tensor(&f, "output.weight") < 0);
        types[i] = choose_type(t, target, is_output, &kind, why, sizeof why);
        n_kind[kind]++;
        snprintf(name, sizeof name, "%.*s", (int)t->name.len, t->name.ptr);
        format_shape(t, shape, sizeof shape);
        if (log)
            fprintf(log, "%s [%s] %s -> %s%s%s%s\n", name, shape, gguf_ggml_type_name(t->type),
                    gguf_ggml_type_name(types[i]), why[0] ? " (" : "", why, why[0] ? ")" : "");
        if (gguf_writer_add_tensor(&w, name, t->n_dims, t->ne, types[i], e))
            goto out;
        in_bytes += t->n_bytes;
        out_bytes += w.tensors[i].n_bytes;
    }
    if (gguf_writer_write_header(&w, e))
        goto out;
    for (uint64_t i = 0; i < f.n_tensors; i++)
        if (convert_tensor(fd, in, f.data_offset + f.tensors[i].offset, &f.tensors[i], types[i], &w, e))
            goto out;
    if (gguf_writer_finish(&w, e))
        goto out;
    if (log)
        fprintf(log, "quantize: %" PRIu64 " tensors: %" PRIu64 " %s, %" PRIu64 " f16 fallback, %" PRIu64
                " kept; %.2f MiB -> %.2f MiB\n", f.n_tensors, n_kind[CHOICE_TARGET], type_name,
                n_kind[CHOICE_FALLBACK], n_kind[CHOICE_KEPT],
                (double)in_bytes / (1 << 20), (double)out_bytes / (1 << 20));
    st = STATUS_OK;
out:
    gguf_writer_free(&w);
    free(types);
    gguf_free(&f);
    if (map != MAP_FAILED)
        munmap(map, size);
    close(fd);
    return st;
}
