/* model.c: loading a llama GGUF model into memory in one of the memory modes.
 *
 * Data flow: open -> header (mapped, or read into a growing buffer) -> config
 * and tokenizer -> bind tensors (shape and type checks) -> place the bytes:
 *   mmap: in-place weights point into the read-only mapping; repacked weights
 *         are copied into the repack buffer, and with reclaim their source
 *         pages are dropped right after the copy (or all at the end);
 *   read: in-place weights are read into one anonymous buffer; repacked ones
 *         are read through a staging buffer straight into the repack layout.
 * Sections: options, config, tensor binding, placement (repack, reclaim), load/free. */
#include "model/model.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/memlimit.h"
#include "kernels/quant.h"

#include "kernels/repack.h"

void load_opts_default(struct load_opts *o)
{
    memset(o, 0, sizeof *o);
    o->load = LOAD_MMAP;
    o->repack = 1;
    o->memory_check = 1;
    o->huge_pages = 1;
    o->n_threads = 1;
    o->reclaim = RECLAIM_OFF;
    o->reclaim_at = RECLAIM_AT_LOAD;
    o->log = stderr;
}

static void logf_(const struct load_opts *o, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#include <stdarg.h>
static void logf_(const struct load_opts *o, const char *fmt, ...)
{
    if (!o->log)
        return;
    va_list ap;
    va_start(ap, fmt);
    vfprintf(o->log, fmt, ap);
    va_end(ap);
}

/* ---- config ---------------------------------------------------------------- */

static enum status get_i32(const struct gguf_file *f, const char *arch, const char *name, int32_t *out,
                           int required, struct err *e)
{
    char key[128];
    uint32_t v;
    snprintf(key, sizeof key, "%s.%s", arch, name);
    if (!gguf_has(f, key)) {
        if (required)
            return err_set(e, "model: missing key '%s'", key);
        return STATUS_OK;
    }
    if (gguf_get_u32(f, key, &v, e))
        return STATUS_ERR;
    if (v == 0 || v > (1u << 24))
        return err_set(e, "model: key '%s' = %" PRIu32 " is out of range", key, v);
    *out = (int32_t)v;
    return STATUS_OK;
}

enum status model_config_read(struct model_config *c, const struct gguf_file *f, struct err *e)
{
    struct gguf_str arch_s;
    char arch[64];
    memset(c, 0, sizeof *c);
    if (gguf_get_str(f, "general.architecture", &arch_s, e))
        return STATUS_ERR;
    if (arch_s.len >= sizeof arch)
        return err_set(e, "model: architecture name too long (%" PRIu64 " bytes)", arch_s.len);
    memcpy(arch, arch_s.ptr, arch_s.len);
    arch[arch_s.len] = 0;
    if (strcmp(arch, "llama") != 0)
        return err_set(e, "model: unsupported architecture '%s' (supported: llama)", arch);

    if (get_i32(f, arch, "embedding_length", &c->n_embd, 1, e) ||
        get_i32(f, arch, "block_count", &c->n_layer, 1, e) ||
        get_i32(f, arch, "feed_forward_length", &c->n_ff, 1, e) ||
        get_i32(f, arch, "attention.head_count", &c->n_head, 1, e))
        return STATUS_ERR;
    c->n_head_kv = c->n_head;
    c->n_ctx_train = 2048;
    if (get_i32(f, arch, "attention.head_count_kv", &c->n_head_kv, 0, e) ||
        get_i32(f, arch, "context_length", &c->n_ctx_train, 0, e))
        return STATUS_ERR;
    if (get_i32(f, arch, "expert_count", &c->n_expert, 0, e))
        return STATUS_ERR;
    if (c->n_expert) {
        c->n_expert_used = 2;
        if (get_i32(f, arch, "expert_used_count", &c->n_expert_used, 0, e))
            return STATUS_ERR;
        if (c->n_expert > 1024 || c->n_expert_used > c->n_expert)
            return err_set(e, "model: expert_used_count %d / expert_count %d out of range", c->n_expert_used,
                           c->n_expert);
    }
    if (c->n_embd % c->n_head)
        return err_set(e, "model: embedding_length %d is not a multiple of head_count %d", c->n_embd, c->n_head);
    if (c->n_head % c->n_head_kv)
        return err_set(e, "model: head_count %d is not a multiple of head_count_kv %d", c->n_head, c->n_head_kv);
    c->head_dim = c->n_embd / c->n_head;
    if (get_i32(f, arch, "attention.key_length", &c->head_dim, 0, e))
        return STATUS_ERR;
    c->rope_dim = c->head_dim;
    if (get_i32(f, arch, "rope.dimension_count", &c->rope_dim, 0, e))
        return STATUS_ERR;
    if (c->rope_dim > c->head_dim || c->rope_dim % 2 || c->head_dim % 2)
        return err_set(e, "model: rope.dimension_count %d does not fit head dimension %d", c->rope_dim, c->head_dim);

    char key[128];
    c->rope_base = 10000.0f;
    snprintf(key, sizeof key, "%s.rope.freq_base", arch);
    if (gguf_has(f, key) && gguf_get_f32(f, key, &c->rope_base, e))
        return STATUS_ERR;
    c->norm_eps = 1e-5f;
    snprintf(key, sizeof key, "%s.attention.layer_norm_rms_epsilon", arch);
    if (gguf_has(f, key) && gguf_get_f32(f, key, &c->norm_eps, e))
        return STATUS_ERR;
    if (!(c->rope_base > 0.0f) || !(c->norm_eps >= 0.0f))
        return err_set(e, "model: bad rope.freq_base %g or rms epsilon %g", c->rope_base, c->norm_eps);
    return STATUS_OK;
}

/* ---- tensor binding -------------------------------------------------------- */

/* Finds a tensor and checks its shape: ne0 x ne1 (ne1 = 1 for vectors). */
static enum status bind(const struct model *m, struct weight *w, const char *name, int64_t ne0, int64_t ne1,
                        int optional, int *found, struct err *e)
{
    int64_t i = gguf_find_tensor(&m->gguf, name);
    if (found)
        *found = i >= 0;
    if (i < 0) {
        if (optional)
            return STATUS_OK;
        return err_set(e, "model: tensor '%s' not found", name);
    }
    const struct gguf_tensor *t = &m->gguf.tensors[i];
    if ((int64_t)t->ne[0] != ne0 || (int64_t)t->ne[1] != ne1 || t->ne[2] != 1 || t->ne[3] != 1)
        return err_set(e, "model: tensor '%s' has shape [%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                          "], expected [%" PRId64 ",%" PRId64 "]",
                       name, t->ne[0], t->ne[1], t->ne[2], t->ne[3], ne0, ne1);
    if (!quant_type_supported(t->type))
        return err_set(e, "model: tensor '%s' has type %s, which this engine does not compute with", name,
                       gguf_ggml_type_name(t->type));
    if (ne1 == 1 && t->type != GGML_TYPE_F32)
        return err_set(e, "model: tensor '%s' is %s; vectors must be f32", name, gguf_ggml_type_name(t->type));
    w->type = t->type;
    w->n_in = ne0;
    w->n_out = ne1;
    w->file_off = m->gguf.data_offset + t->offset;
    w->n_bytes = t->n_bytes;
    return STATUS_OK;
}

/* Binds slice `x` of a 3-D expert tensor [ne0, ne1, n_expert]. */
static enum status bind_expert(const struct model *m, struct weight *w, const char *name, int64_t ne0, int64_t ne1,
                               int64_t x, struct err *e)
{
    int64_t i = gguf_find_tensor(&m->gguf, name);
    if (i < 0)
        return err_set(e, "model: tensor '%s' not found", name);
    const struct gguf_tensor *t = &m->gguf.tensors[i];
    if ((int64_t)t->ne[0] != ne0 || (int64_t)t->ne[1] != ne1 || (int64_t)t->ne[2] != m->cfg.n_expert ||
        t->ne[3] != 1)
        return err_set(e, "model: tensor '%s' has shape [%" PRIu64 ",%" PRIu64 ",%" PRIu64 ",%" PRIu64
                          "], expected [%" PRId64 ",%" PRId64 ",%d]",
                       name, t->ne[0], t->ne[1], t->ne[2], t->ne[3], ne0, ne1, m->cfg.n_expert);
    if (!quant_type_supported(t->type))
        return err_set(e, "model: tensor '%s' has type %s, which this engine does not compute with", name,
                       gguf_ggml_type_name(t->type));
    uint64_t slice = t->n_bytes / (uint64_t)m->cfg.n_expert;
    w->type = t->type;
    w->n_in = ne0;
    w->n_out = ne1;
    w->n_bytes = slice;
    w->file_off = m->gguf.data_offset + t->offset + (uint64_t)x * slice;
    return STATUS_OK;
}

static size_t weight_capacity(const struct model *m)
{
    return 2 + (size_t)m->cfg.n_layer * (8 + 3 * (size_t)m->cfg.n_expert);
}

/* Every weight of the model, in one list, for placement. */
static size_t weight_list(struct model *m, struct weight **out, int *is_matmul)
{
    size_t n = 0;
    out[n] = &m->tok_embd, is_matmul[n++] = 0;
    if (!m->tied_output)
        out[n] = &m->output, is_matmul[n++] = 1;
    for (int l = 0; l < m->cfg.n_layer; l++) {
        struct layer *L = &m->layers[l];
        struct weight *ws[] = {&L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down};
        size_t n_ws = m->cfg.n_expert ? 4 : 7;
        for (size_t k = 0; k < n_ws; k++)
            out[n] = ws[k], is_matmul[n++] = 1;
        if (m->cfg.n_expert) {
            out[n] = &L->router, is_matmul[n++] = 1;
            for (int x = 0; x < m->cfg.n_expert; x++) {
                out[n] = &L->exp_gate[x], is_matmul[n++] = 1;
                out[n] = &L->exp_up[x], is_matmul[n++] = 1;
                out[n] = &L->exp_down[x], is_matmul[n++] = 1;
            }
        }
    }
    return n;
}

static enum status bind_all(struct model *m, struct weight *norms, struct err *e)
{
    const struct model_config *c = &m->cfg;
    char name[96];
    int64_t qd = (int64_t)c->n_head * c->head_dim, kvd = (int64_t)c->n_head_kv * c->head_dim;
    int found;
    if (bind(m, &m->tok_embd, "token_embd.weight", c->n_embd, c->n_vocab, 0, NULL, e) ||
        bind(m, &norms[0], "output_norm.weight", c->n_embd, 1, 0, NULL, e) ||
        bind(m, &m->output, "output.weight", c->n_embd, c->n_vocab, 1, &found, e))
        return STATUS_ERR;
    m->tied_output = !found;
    if (m->tied_output)
        m->output = m->tok_embd;
    for (int l = 0; l < c->n_layer; l++) {
        struct layer *L = &m->layers[l];
#define B(w, suffix, ne0, ne1) \
    (snprintf(name, sizeof name, "blk.%d." suffix, l), bind(m, w, name, ne0, ne1, 0, NULL, e))
        if (B(&norms[1 + 2 * l], "attn_norm.weight", c->n_embd, 1) ||
            B(&norms[2 + 2 * l], "ffn_norm.weight", c->n_embd, 1) ||
            B(&L->wq, "attn_q.weight", c->n_embd, qd) || B(&L->wk, "attn_k.weight", c->n_embd, kvd) ||
            B(&L->wv, "attn_v.weight", c->n_embd, kvd) || B(&L->wo, "attn_output.weight", qd, c->n_embd))
            return STATUS_ERR;
        if (!c->n_expert) {
            if (B(&L->w_gate, "ffn_gate.weight", c->n_embd, c->n_ff) ||
                B(&L->w_up, "ffn_up.weight", c->n_embd, c->n_ff) ||
                B(&L->w_down, "ffn_down.weight", c->n_ff, c->n_embd))
                return STATUS_ERR;
            continue;
        }
        if (B(&L->router, "ffn_gate_inp.weight", c->n_embd, c->n_expert))
            return STATUS_ERR;
#undef B
        L->exp_gate = calloc((size_t)c->n_expert, sizeof *L->exp_gate);
        L->exp_up = calloc((size_t)c->n_expert, sizeof *L->exp_up);
        L->exp_down = calloc((size_t)c->n_expert, sizeof *L->exp_down);
        if (!L->exp_gate || !L->exp_up || !L->exp_down)
            return err_set(e, "model: out of memory");
        for (int x = 0; x < c->n_expert; x++) {
            char n1[96], n2[96], n3[96];
            snprintf(n1, sizeof n1, "blk.%d.ffn_gate_exps.weight", l);
            snprintf(n2, sizeof n2, "blk.%d.ffn_up_exps.weight", l);
            snprintf(n3, sizeof n3, "blk.%d.ffn_down_exps.weight", l);
            if (bind_expert(m, &L->exp_gate[x], n1, c->n_embd, c->n_ff, x, e) ||
                bind_expert(m, &L->exp_up[x], n2, c->n_embd, c->n_ff, x, e) ||
                bind_expert(m, &L->exp_down[x], n3, c->n_ff, c->n_embd, x, e))
                return STATUS_ERR;
        }
    }
    return STATUS_OK;
}

/* ---- placement -------------------------------------------------------------- */

static uint64_t page_size(void)
{
    long p = sysconf(_SC_PAGESIZE);
    return p > 0 ? (uint64_t)p : 4096;
}

/* Asks for transparent huge pages over the anonymous buffer [p, p + n): a
 * generated token streams every weight once, and with 4 KiB pages it also
 * walks a page table entry per 4 KiB (the Q4_0 8-row kernel streamed a median
 * 9 % faster over 512 MB of repacked rows with the hint, 8 interleaved
 * rounds). Only a hint: the bytes and what RSS counts stay the same (the
 * buffer is written whole); without THP, or with THP "never", nothing
 * changes. The file mapping gets no hint: its pages are the page cache's,
 * shared with other readers, and keep whatever size they were read in. */
static void hugepage_hint(void *p, uint64_t n)
{
#ifdef MADV_HUGEPAGE
    (void)madvise(p, n, MADV_HUGEPAGE);
#else
    (void)p;
    (void)n;
#endif
}

/* Drops the whole pages of the file range [a, b) from the mapping. Pages that
 * hold any byte outside the range stay (rounded inward). */
static void reclaim_range(struct model *m, uint64_t a, uint64_t b)
{
    uint64_t ps = page_size();
    uint64_t s = (a + ps - 1) / ps * ps, t = b / ps * ps;
    if (t <= s)
        return;
    if (madvise(m->map + s, t - s, MADV_DONTNEED) != 0) {
        m->plan.n_reclaim_failed++;
        return;
    }
    m->plan.reclaimed_bytes += t - s;
    if (m->opts.reclaim == RECLAIM_EVICT)
        posix_fadvise(m->fd, (off_t)s, (off_t)(t - s), POSIX_FADV_DONTNEED);
}

static int want_repack(const struct model *m, const struct weight *w, int is_matmul)
{
    return m->opts.repack && is_matmul && repack_supported(w->type, w->n_out, w->n_in);
}

int model_tensor_repackable(const struct gguf_file *f, const struct gguf_tensor *t)
{
    (void)f;
    return (t->n_dims == 2 || t->n_dims == 3) && !gguf_str_eq(t->name, "token_embd.weight") &&
           repack_supported(t->type, (int64_t)t->ne[1], (int64_t)t->ne[0]);
}

static int cmp_off(const void *a, const void *b)
{
    const struct weight *x = *(struct weight *const *)a, *y = *(struct weight *const *)b;
    return x->file_off < y->file_off ? -1 : x->file_off > y->file_off;
}

static enum status read_exact(int fd, void *dst, uint64_t n, uint64_t off, const char *path, struct err *e)
{
    uint8_t *p = dst;
    while (n) {
        size_t chunk = n > (1u << 30) ? (1u << 30) : (size_t)n;
        ssize_t r = pread(fd, p, chunk, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            return err_set(e, "model: cannot read %s at offset %" PRIu64 ": %s", path, off,
                           r < 0 ? strerror(errno) : "unexpected end of file");
        p += r, off += (uint64_t)r, n -= (uint64_t)r;
    }
    return STATUS_OK;
}

/* The bytes a placement needs: repacked, in place (both 64-byte aligned)
 * and the largest repacked tensor (LOAD_READ's staging buffer). */
struct place_sizes {
    uint64_t repack, inplace, stage;
};

/* Decides each weight's layout, binds its kernel table row, sums the sizes,
 * and refuses what the memory limits cannot hold. */
static enum status place_plan(struct model *m, struct weight **ws, const int *mm, size_t n, struct place_sizes *z,
                              struct err *e)
{
    *z = (struct place_sizes){0};
    for (size_t i = 0; i < n; i++) {
        ws[i]->repacked = want_repack(m, ws[i], mm[i]);
        ws[i]->kern = kernels_row(ws[i]->type, ws[i]->repacked ? KERN_REPACKED : KERN_PLAIN);
        if (ws[i]->repacked) {
            z->repack += (ws[i]->n_bytes + 63) / 64 * 64;
            if (ws[i]->n_bytes > z->stage)
                z->stage = ws[i]->n_bytes;
        } else {
            z->inplace += (ws[i]->n_bytes + 63) / 64 * 64;
        }
    }
    /* anonymous memory the load will touch; mapped file pages are not counted
     * (the kernel can drop them), except under --mlock */
    uint64_t anon = z->repack + (m->opts.load == LOAD_READ ? z->inplace + z->stage : 0) +
                    (m->opts.mlock && m->opts.load == LOAD_MMAP ? m->plan.file_bytes : 0);
    char what[160];
    snprintf(what, sizeof what, "loading %s (%s%s)", m->path, m->opts.load == LOAD_READ ? "read" : "mmap",
             z->repack ? ", repacked weights" : "");
    if (m->opts.memory_check && memlimit_check(anon, what, e))
        return STATUS_ERR;
    return STATUS_OK;
}

/* The repack buffer, and for LOAD_READ the weights' buffer and the staging
 * buffer (*stage, the caller frees it). */
/* An anonymous private mapping of n bytes into *p (with the huge-page hint
 * when asked for), or NULL and an error naming `what`. */
static enum status anon_alloc(struct model *m, uint8_t **p, uint64_t n, const char *what, struct err *e)
{
    void *q = mmap(NULL, n, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (q == MAP_FAILED) {
        *p = NULL;
        return err_set(e, "model: cannot allocate the %" PRIu64 "-byte %s: %s", n, what, strerror(errno));
    }
    *p = q;
    if (m->opts.huge_pages)
        hugepage_hint(q, n);
    return STATUS_OK;
}

static enum status place_alloc(struct model *m, const struct place_sizes *z, uint8_t **stage, struct err *e)
{
    if (z->repack) {
        if (anon_alloc(m, &m->repack, z->repack, "repack buffer", e))
            return STATUS_ERR;
        m->repack_bytes = z->repack;
    }
    if (m->opts.load != LOAD_READ)
        return STATUS_OK;
    if (z->inplace) {
        if (anon_alloc(m, &m->buf, z->inplace, "weights buffer", e))
            return STATUS_ERR;
        m->buf_bytes = z->inplace;
    }
    if (z->stage && !(*stage = malloc(z->stage)))
        return err_set(e, "model: out of memory for a %" PRIu64 "-byte staging buffer", z->stage);
    return STATUS_OK;
}

/* Points (mmap) or reads (read) each weight in file order, or repacks it
 * into the repack buffer; with reclaim at load, each run of consecutive
 * repacked tensors is dropped from the mapping as it grows. */
/* ---- repacking on several threads ------------------------------------------
 * A matrix is repacked group by group (8 rows), each group from its own 8
 * source rows to its own place, so the groups split over threads give the
 * same bytes. Most of a repack's time on a fresh buffer is the kernel
 * zeroing the pages the copy first touches, which threads do side by side. */

struct repack_part {
    kern_repack_fn fn;
    const uint8_t *src;
    uint8_t *dst;
    int64_t rows, cols;
};

static void *repack_part_run(void *arg)
{
    const struct repack_part *p = arg;
    if (p->rows > 0)
        p->fn(p->src, p->dst, p->rows, p->cols);
    return NULL;
}

#define MAX_REPACK_THREADS 16

/* The permutation at the kernels' level (kernels.h: a repacked row's repack;
 * every level gives repack_matrix's bytes). */
static void repack_parallel(uint32_t type, const uint8_t *src, uint8_t *dst, int64_t rows, int64_t cols, int nth)
{
    kern_repack_fn fn = kernels_fns(type, KERN_REPACKED)->repack;
    size_t rb = quant_row_bytes(type, cols);
    int64_t groups = rows / REPACK_ROWS;
    nth = nth < 1 ? 1 : nth > MAX_REPACK_THREADS ? MAX_REPACK_THREADS : nth;
    if (nth > groups)
        nth = (int)(groups > 0 ? groups : 1);
    struct repack_part part[MAX_REPACK_THREADS];
    pthread_t tid[MAX_REPACK_THREADS];
    int started[MAX_REPACK_THREADS] = {0};
    for (int t = 0; t < nth; t++) {
        int64_t g0 = groups * t / nth, g1 = groups * (t + 1) / nth;
        size_t off = (size_t)(g0 * REPACK_ROWS) * rb;
        part[t] = (struct repack_part){fn, src + off, dst + off, (g1 - g0) * REPACK_ROWS, cols};
        /* a thread that cannot start leaves its part to this one: same bytes */
        if (t > 0)
            started[t] = pthread_create(&tid[t], NULL, repack_part_run, &part[t]) == 0;
    }
    repack_part_run(&part[0]);
    for (int t = 1; t < nth; t++) {
        if (started[t])
            pthread_join(tid[t], NULL);
        else
            repack_part_run(&part[t]);
    }
}

static enum status place_weights(struct model *m, struct weight **ws, size_t n, uint8_t *stage, struct err *e)
{
    uint64_t rp_off = 0, buf_off = 0;
    uint64_t run_start = 0; /* file offset where the current run of copied-out tensors began */
    uint64_t dropped_upto = 0; /* reclaim at load: pages below this are already dropped */
    int in_run = 0;
    int reclaim_now = m->opts.load == LOAD_MMAP && m->opts.reclaim != RECLAIM_OFF && !m->opts.mlock &&
                      m->opts.reclaim_at == RECLAIM_AT_LOAD;
    for (size_t i = 0; i < n; i++) {
        struct weight *w = ws[i];
        if (i > 0 && w->file_off == ws[i - 1]->file_off) { /* same tensor bound twice */
            w->data = ws[i - 1]->data;
            continue;
        }
        if (!w->repacked) {
            in_run = 0;
            if (m->opts.load == LOAD_MMAP) {
                w->data = m->map + w->file_off;
            } else {
                if (read_exact(m->fd, m->buf + buf_off, w->n_bytes, w->file_off, m->path, e))
                    return STATUS_ERR;
                w->data = m->buf + buf_off;
                buf_off += (w->n_bytes + 63) / 64 * 64;
            }
            m->plan.inplace_bytes += w->n_bytes;
            continue;
        }
        const uint8_t *src;
        if (m->opts.load == LOAD_MMAP) {
            src = m->map + w->file_off;
        } else {
            if (read_exact(m->fd, stage, w->n_bytes, w->file_off, m->path, e))
                return STATUS_ERR;
            src = stage;
        }
        repack_parallel(w->type, src, m->repack + rp_off, w->n_out, w->n_in, m->opts.n_threads);
        w->data = m->repack + rp_off;
        rp_off += (w->n_bytes + 63) / 64 * 64;
        m->plan.repacked_bytes += w->n_bytes;
        m->plan.n_repacked++;
        if (w->n_bytes > m->plan.largest_repacked)
            m->plan.largest_repacked = w->n_bytes;
        if (!in_run)
            run_start = w->file_off;
        in_run = 1;
        if (reclaim_now) {
            uint64_t end = w->file_off + w->n_bytes;
            reclaim_range(m, run_start > dropped_upto ? run_start : dropped_upto, end);
            dropped_upto = end / page_size() * page_size();
        }
    }
    return STATUS_OK;
}

/* Reclaim at the end: each run of consecutive repacked tensors at once. */
static void reclaim_runs(struct model *m, struct weight *const *ws, size_t n)
{
    uint64_t run_start = 0;
    int in_run = 0;
    for (size_t i = 0; i < n; i++) {
        const struct weight *w = ws[i];
        if (!w->repacked) {
            in_run = 0;
            continue;
        }
        if (!in_run)
            run_start = w->file_off;
        in_run = 1;
        if (i + 1 == n || !ws[i + 1]->repacked)
            reclaim_range(m, run_start, w->file_off + w->n_bytes);
    }
}

/* Places every weight (the norms are vectors and always in place). Weights
 * are visited in file order so reclaim can drop contiguous runs. */
static enum status place(struct model *m, struct weight *norms, size_t n_norms, struct err *e)
{
    size_t cap = weight_capacity(m);
    struct weight **ws = calloc(cap + n_norms, sizeof *ws);
    int *mm = calloc(cap + n_norms, sizeof *mm);
    uint8_t *stage = NULL;
    enum status st = STATUS_ERR;
    if (!ws || !mm) {
        err_set(e, "model: out of memory");
        goto done;
    }
    size_t n = weight_list(m, ws, mm);
    for (size_t i = 0; i < n_norms; i++)
        ws[n] = &norms[i], mm[n++] = 0;

    struct place_sizes z;
    if (place_plan(m, ws, mm, n, &z, e) || place_alloc(m, &z, &stage, e))
        goto done;
    qsort(ws, n, sizeof *ws, cmp_off);
    if (place_weights(m, ws, n, stage, e))
        goto done;
    if (m->opts.load == LOAD_MMAP && m->opts.reclaim != RECLAIM_OFF && !m->opts.mlock &&
        m->opts.reclaim_at == RECLAIM_AT_END)
        reclaim_runs(m, ws, n);
    if (m->tied_output)
        m->output = m->tok_embd;
    st = STATUS_OK;
done:
    free(stage);
    free(ws);
    free(mm);
    return st;
}

/* ---- load / free ------------------------------------------------------------ */

/* LOAD_READ: reads a prefix of the file big enough to parse the header. */
static enum status read_header(struct model *m, uint64_t file_size, uint8_t **hdr, struct err *e)
{
    uint64_t n = file_size < (1u << 20) ? file_size : (1u << 20);
    for (;;) {
        uint8_t *b = realloc(*hdr, n ? n : 1);
        if (!b)
            return err_set(e, "model: out of memory reading the header of %s", m->path);
        *hdr = b;
        if (read_exact(m->fd, b, n, 0, m->path, e))
            return STATUS_ERR;
        if (gguf_parse_header(&m->gguf, b, n, file_size, e) == STATUS_OK)
            return STATUS_OK;
        if (n == file_size)
            return STATUS_ERR; /* the whole file does not parse: e says why */
        n = n * 4 < file_size ? n * 4 : file_size;
    }
}

enum status model_load(struct model *m, const char *path, const struct load_opts *o, struct err *e)
{
    struct weight *norms = NULL;
    uint8_t *hdr = NULL;
    memset(m, 0, sizeof *m);
    m->fd = -1;
    m->opts = *o;
    m->path = path;
    m->fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* a FIFO must not block: it is refused below */
    if (m->fd < 0) {
        err_set(e, "model: cannot open %s: %s", path, strerror(errno));
        goto fail;
    }
    struct stat sb;
    if (fstat(m->fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        err_set(e, "model: %s is not a regular file", path);
        goto fail;
    }
    uint64_t size = (uint64_t)sb.st_size;
    m->plan.file_bytes = size;
    if (size == 0) {
        err_set(e, "model: %s is empty", path);
        goto fail;
    }
    if (o->load == LOAD_MMAP) {
        /* populated at once, as llama.cpp's loader prefetches its mapping: the
         * whole file is resident before the weights are placed */
        m->map = mmap(NULL, size, PROT_READ, MAP_SHARED | MAP_POPULATE, m->fd, 0);
        if (m->map == MAP_FAILED) {
            m->map = NULL;
            err_set(e, "model: cannot map %s: %s", path, strerror(errno));
            goto fail;
        }
        m->map_bytes = size;
        if (o->mlock && mlock(m->map, size) != 0) {
            err_set(e, "model: --mlock: cannot lock %" PRIu64 " bytes of %s: %s (raise RLIMIT_MEMLOCK)", size, path,
                    strerror(errno));
            goto fail;
        }
        if (gguf_parse(&m->gguf, m->map, size, e))
            goto fail;
    } else if (read_header(m, size, &hdr, e)) {
        goto fail;
    }
    m->plan.header_bytes = m->gguf.data_offset;
    if (o->on_mapped)
        o->on_mapped(o->on_mapped_arg);
    for (uint64_t i = 0; i < m->gguf.n_tensors; i++)
        m->plan.tensor_bytes += m->gguf.tensors[i].n_bytes;

    if (model_config_read(&m->cfg, &m->gguf, e) || tokenizer_load(&m->tok, &m->gguf, e))
        goto fail;
    m->cfg.n_vocab = m->tok.n_vocab;
    /* each layer has at least 9 tensors: refuse a block_count the file cannot
     * hold before allocating per layer (a 2 KB file could ask for gigabytes) */
    if ((uint64_t)m->cfg.n_layer * 9 > m->gguf.n_tensors) {
        err_set(e, "model: block_count %d needs at least %" PRIu64 " tensors, the file has %" PRIu64,
                m->cfg.n_layer, (uint64_t)m->cfg.n_layer * 9, m->gguf.n_tensors);
        goto fail;
    }
    m->layers = calloc((size_t)m->cfg.n_layer, sizeof *m->layers);
    size_t n_norms = 1 + 2 * (size_t)m->cfg.n_layer;
    norms = calloc(n_norms, sizeof *norms);
    if (!m->layers || !norms) {
        err_set(e, "model: out of memory");
        goto fail;
    }
    if (bind_all(m, norms, e))
        goto fail;
    if (o->check_only) {
        gguf_free(&m->gguf);
        free(hdr);
        free(norms);
        return STATUS_OK;
    }
    if (place(m, norms, n_norms, e))
        goto fail;
    m->output_norm = norms[0].data;
    for (int l = 0; l < m->cfg.n_layer; l++) {
        m->layers[l].attn_norm = norms[1 + 2 * l].data;
        m->layers[l].ffn_norm = norms[2 + 2 * l].data;
    }
    if (o->mlock && o->load == LOAD_READ && m->buf && mlock(m->buf, m->buf_bytes) != 0) {
        err_set(e, "model: --mlock: cannot lock the weights: %s (raise RLIMIT_MEMLOCK)", strerror(errno));
        goto fail;
    }
    if (o->mlock && m->repack && mlock(m->repack, m->repack_bytes) != 0) {
        err_set(e, "model: --mlock: cannot lock the repack buffer: %s (raise RLIMIT_MEMLOCK)", strerror(errno));
        goto fail;
    }
    if (o->reclaim != RECLAIM_OFF) {
        if (o->mlock)
            logf_(o, "reclaim: inert under --mlock (locked pages cannot be dropped: madvise gives EINVAL)\n");
        else if (o->load == LOAD_READ)
            logf_(o, "reclaim: inert under --load read (there is no file mapping to drop)\n");
    }
    /* the header strings are no longer needed: the tokenizer copied its own */
    gguf_free(&m->gguf);
    free(hdr);
    free(norms);
    if (o->load == LOAD_READ) {
        close(m->fd);
        m->fd = -1;
    }
    return STATUS_OK;
fail:
    free(hdr);
    free(norms);
    model_free(m);
    return STATUS_ERR;
}

void model_free(struct model *m)
{
    if (!m)
        return;
    tokenizer_free(&m->tok);
    gguf_free(&m->gguf);
    for (int l = 0; m->layers && l < m->cfg.n_layer; l++) {
        free(m->layers[l].exp_gate);
        free(m->layers[l].exp_up);
        free(m->layers[l].exp_down);
    }
    free(m->layers);
    m->layers = NULL;
    if (m->map)
        munmap(m->map, m->map_bytes);
    if (m->buf)
        munmap(m->buf, m->buf_bytes);
    if (m->repack)
        munmap(m->repack, m->repack_bytes);
    m->map = m->buf = m->repack = NULL;
    if (m->fd >= 0)
        close(m->fd);
    m->fd = -1;
}
