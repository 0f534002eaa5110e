/* fuzz_gguf.c: a GGUF file from a stranger, through everything that reads one.
 *
 * One input is one file. It goes through gguf_parse (then every KV, string,
 * array and tensor range is touched, so ASan sees any range the parser let
 * through that lies outside the buffer), gguf_parse_header on a prefix, the
 * config and tokenizer readers, and, for files that get that far, model_load
 * from an in-memory file (both load modes) and two forward steps: a file the
 * loader accepts must be one the forward pass can run. */
#define _GNU_SOURCE /* memfd_create */
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "model/forward.h"
#include "fuzz.h"
#include "format/gguf.h"
#include "model/model.h"
#include "tokenizer/tokenizer.h"

static volatile uint8_t sink;
static int mem_fd = -1;

void fuzz_gguf_init(void)
{
    mem_fd = memfd_create("fuzz_gguf", MFD_CLOEXEC);
}

static void touch(const void *p, uint64_t n)
{
    if (n == 0)
        return;
    const volatile uint8_t *b = p;
    sink ^= b[0];
    sink ^= b[n - 1];
}

static uint64_t kv_elem_bytes(uint32_t type)
{
    static const uint8_t size_of[GGUF_TYPE_COUNT] = {1, 1, 2, 2, 4, 4, 4, 1, 0, 0, 8, 8, 8};
    return type < GGUF_TYPE_COUNT ? size_of[type] : 0;
}

/* Every borrowed pointer the parser handed out lies inside the buffer; with
 * has_data, every tensor's bytes too. */
static void walk(const struct gguf_file *f, const uint8_t *buf, size_t size, int has_data)
{
    for (uint64_t i = 0; i < f->n_kv; i++) {
        const struct gguf_kv *kv = &f->kv[i];
        touch(kv->key.ptr, kv->key.len);
        FUZZ_CHECK(kv->type < GGUF_TYPE_COUNT);
        char key[256];
        if (kv->key.len < sizeof key && !memchr(kv->key.ptr, 0, kv->key.len)) {
            memcpy(key, kv->key.ptr, kv->key.len);
            key[kv->key.len] = '\0';
            /* keys are not required to be unique by every writer: the first wins */
            FUZZ_CHECK(gguf_find_key(f, key) >= 0 && gguf_find_key(f, key) <= (int64_t)i);
            uint32_t u32;
            uint64_t u64;
            float f32;
            int b;
            struct gguf_str s;
            (void)gguf_get_u32(f, key, &u32, NULL);
            (void)gguf_get_u64(f, key, &u64, NULL);
            (void)gguf_get_f32(f, key, &f32, NULL);
            (void)gguf_get_bool(f, key, &b, NULL);
            if (gguf_get_str(f, key, &s, NULL) == STATUS_OK)
                touch(s.ptr, s.len);
        }
        uint32_t et = kv->type == GGUF_TYPE_ARRAY ? kv->arr_type : kv->type;
        if (et == GGUF_TYPE_STRING) {
            for (uint64_t j = 0; j < kv->n; j++) {
                const struct gguf_str *s = &kv->strs[j];
                FUZZ_CHECK(s->len <= size && (const uint8_t *)s->ptr >= buf &&
                           (const uint8_t *)s->ptr - buf <= (ptrdiff_t)(size - s->len));
                touch(s->ptr, s->len);
            }
        } else {
            uint64_t n = kv->n * kv_elem_bytes(et);
            FUZZ_CHECK(kv_elem_bytes(et) > 0 && kv->data >= buf && (uint64_t)(kv->data - buf) <= size - n);
            touch(kv->data, n);
        }
    }
    for (uint64_t i = 0; i < f->n_tensors; i++) {
        const struct gguf_tensor *t = &f->tensors[i];
        touch(t->name.ptr, t->name.len);
        FUZZ_CHECK(t->n_dims >= 1 && t->n_dims <= GGUF_MAX_DIMS);
        if (has_data) {
            FUZZ_CHECK(f->data_offset <= size && t->offset <= size - f->data_offset &&
                       t->n_bytes <= size - f->data_offset - t->offset);
            touch(gguf_tensor_data(f, t), t->n_bytes);
        }
        char name[256];
        if (t->name.len < sizeof name && !memchr(t->name.ptr, 0, t->name.len)) {
            memcpy(name, t->name.ptr, t->name.len);
            name[t->name.len] = '\0';
            FUZZ_CHECK(gguf_find_tensor(f, name) >= 0);
        }
        (void)model_tensor_repackable(f, t);
    }
}

/* A vocabulary read from the file encodes and decodes without harm. */
static void vocab(const struct gguf_file *f)
{
    struct tokenizer tok;
    if (tokenizer_load(&tok, f, NULL))
        return;
    static const char text[] = "Hello world, \xE2\x96\x81 caf\xC3\xA9 \xFF 123 <s>";
    int32_t *ids = NULL;
    size_t n = 0;
    if (tokenizer_encode(&tok, text, sizeof text - 1, 1, &ids, &n, NULL) == STATUS_OK)
        for (size_t i = 0; i < n; i++)
            FUZZ_CHECK(ids[i] >= 0 && ids[i] < tok.n_vocab);
    free(ids);
    char piece[64];
    int32_t lim = tok.n_vocab < 4096 ? tok.n_vocab : 4096;
    for (int32_t id = -1; id <= lim; id++) {
        (void)tokenizer_piece(&tok, id, piece, sizeof piece);
        (void)tokenizer_piece_special(&tok, id, piece, sizeof piece);
    }
    tokenizer_free(&tok);
}

/* The loader through a real file descriptor; whatever it accepts must run. */
static void load(const uint8_t *data, size_t size, int mode)
{
    if (mem_fd < 0 || ftruncate(mem_fd, 0) != 0)
        return;
    size_t done = 0;
    while (done < size) {
        ssize_t w = pwrite(mem_fd, data + done, size - done, (off_t)done);
        if (w <= 0)
            return;
        done += (size_t)w;
    }
    char path[64];
    snprintf(path, sizeof path, "/proc/self/fd/%d", mem_fd);
    struct load_opts o;
    load_opts_default(&o);
    o.log = NULL;
    o.load = mode & 1 ? LOAD_READ : LOAD_MMAP;
    o.repack = !(mode & 2);
    o.reclaim = mode & 4 ? RECLAIM_DONTNEED : RECLAIM_OFF;
    struct model m;
    if (model_load(&m, path, &o, NULL))
        return;
    FUZZ_CHECK(m.cfg.n_vocab > 0 && m.cfg.n_layer > 0 && m.cfg.n_ctx_train > 0);
    struct context c;
    int32_t n_ctx = m.cfg.n_ctx_train < 8 ? m.cfg.n_ctx_train : 8;
    if (context_new(&c, &m, n_ctx, 1, NULL) == STATUS_OK) {
        int32_t tok = m.tok.bos_id >= 0 ? m.tok.bos_id : 0;
        for (int32_t pos = 0; pos < 2 && pos < n_ctx; pos++) {
            const float *logits = forward(&c, tok, pos);
            touch(logits, (uint64_t)m.cfg.n_vocab * sizeof *logits);
            tok = (tok + 1) % m.cfg.n_vocab;
        }
        context_free(&c);
    }
    model_free(&m);
}

int fuzz_gguf_one(const uint8_t *data, size_t size)
{
    /* the parser may be handed a mapping of any address; never assume alignment */
    struct gguf_file f;
    if (gguf_parse(&f, data, size, NULL) == STATUS_OK) {
        walk(&f, data, size, 1);
        struct model_config cfg;
        (void)model_config_read(&cfg, &f, NULL);
        vocab(&f);
        uint64_t header = f.header_bytes, data_offset = f.data_offset;
        gguf_free(&f);
        /* the header alone parses the same way (how --load read starts) */
        struct gguf_file h;
        FUZZ_CHECK(gguf_parse_header(&h, data, (size_t)header, size, NULL) == STATUS_OK);
        FUZZ_CHECK(h.data_offset == data_offset);
        walk(&h, data, (size_t)header, 0);
        gguf_free(&h);
        load(data, size, (int)(size & 7));
    } else {
        /* a prefix may still be a parsable header of a longer file */
        struct gguf_file h;
        if (gguf_parse_header(&h, data, size, (uint64_t)size * 2 + 4096, NULL) == STATUS_OK) {
            walk(&h, data, size, 0);
            gguf_free(&h);
        }
    }
    return 0;
}

FUZZ_ENTRY(gguf)
