/* mb_memory.c: microbenchmarks of the memory operations behind the modes.
 *
 *   madvise_dontneed_file/MiB  madvise(MADV_DONTNEED) of a populated file
 *                              mapping: cost per GiB (s_per_GiB)
 *   load/MODE                  model_load + model_free per memory mode
 *
 * The madvise benchmark maps a temporary file it writes into the build
 * directory (mb_tmpdir, unlinked at once) and re-touches every page before
 * each timed call. Checks after timing: the call dropped the range from the
 * resident set, and the mapping still reads the file's bytes. The load
 * benchmark uses $MB_MODEL, else a generated `tiny` Q4_0 model (synth.h) in
 * the build directory; it checks that every weight of a loaded model, once
 * unpacked from the repacked layout, equals the file's bytes. */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "convert/synth.h"
#include "format/gguf.h"
#include "mb.h"
#include "model/model.h"
#include "kernels/repack.h"

/* ---- madvise ------------------------------------------------------------- */

/* Resident pages of this process (/proc/self/statm), or -1. */
static long resident_pages(void)
{
    long size, resident = -1;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &size, &resident) != 2)
        resident = -1;
    fclose(f);
    return resident;
}

/* The byte written at offset `page * page_size` of the temp file. */
static unsigned char page_mark(size_t page) { return (unsigned char)(page * 131 + 7); }

/* Reads one byte of every page (faulting the mapping in); returns their sum. */
static unsigned touch(const unsigned char *p, size_t bytes, size_t page)
{
    unsigned sum = 0;
    for (size_t off = 0; off < bytes; off += page)
        sum += ((const volatile unsigned char *)p)[off];
    return sum;
}

/* A temp file of `bytes` in the build directory, already unlinked; -1 on failure. */
static int temp_file(size_t bytes, size_t page)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/mb-madvise-XXXXXX", mb_tmpdir());
    int fd = mkstemp(path);
    if (fd < 0)
        return -1;
    unlink(path);
    enum { CHUNK = 1 << 20 };
    unsigned char *buf = calloc(1, CHUNK);
    if (!buf)
        goto fail;
    for (size_t off = 0; off < bytes; off += CHUNK) {
        for (size_t p = 0; p < CHUNK; p += page)
            buf[p] = page_mark((off + p) / page);
        if (write(fd, buf, CHUNK) != CHUNK) {
            free(buf);
            goto fail;
        }
    }
    free(buf);
    return fd;
fail:
    close(fd);
    return -1;
}

static void bm_madvise_dontneed_file(struct mb_state *s)
{
    size_t bytes = (size_t)mb_arg(s, 0) << 20, page = (size_t)sysconf(_SC_PAGESIZE);
    int fd = temp_file(bytes, page);
    if (fd < 0) {
        mb_fail(s, "cannot write a %zu MiB temp file in %s", bytes >> 20, mb_tmpdir());
        return;
    }
    unsigned char *p = mmap(NULL, bytes, PROT_READ, MAP_SHARED, fd, 0);
    if (p == MAP_FAILED) {
        mb_fail(s, "mmap of the temp file failed");
        close(fd);
        return;
    }
    unsigned sink = 0;
    while (mb_run(s)) {
        mb_pause(s);
        sink += touch(p, bytes, page);
        mb_resume(s);
        if (madvise(p, bytes, MADV_DONTNEED) != 0) {
            mb_fail(s, "madvise(MADV_DONTNEED) failed");
            goto done;
        }
    }
    mb_keep(&sink);
    mb_bytes(s, (int64_t)bytes);
    mb_time_per(s, "s_per_GiB", (double)bytes / (double)(1u << 30));

    /* The drop: populated, the range counts in the resident set; after the
     * call, at most a tenth of it still does. */
    touch(p, bytes, page);
    long before = resident_pages();
    madvise(p, bytes, MADV_DONTNEED);
    long after = resident_pages(), n_pages = (long)(bytes / page);
    if (before < 0 || after < 0 || before - after < n_pages - n_pages / 10) {
        mb_fail(s, "MADV_DONTNEED dropped %ld of %ld resident pages", before - after, n_pages);
        goto done;
    }
    /* The contents: the mapping reads the file's bytes again. */
    for (size_t off = 0; off < bytes; off += page) {
        if (p[off] != page_mark(off / page)) {
            mb_fail(s, "after MADV_DONTNEED, page %zu reads %u instead of %u", off / page, p[off],
                    page_mark(off / page));
            goto done;
        }
    }
done:
    munmap(p, bytes);
    close(fd);
}

/* ---- model load per mode ----------------------------------------------------- */

static char model_file[4096];
static int model_generated;

static void remove_model(void)
{
    if (model_generated)
        unlink(model_file);
}

/* $MB_MODEL, else a tiny Q4_0 model generated once per process. */
static const char *bench_model(struct err *e)
{
    if (model_file[0])
        return model_file;
    const char *env = getenv("MB_MODEL");
    if (env && *env) {
        snprintf(model_file, sizeof model_file, "%s", env);
        return model_file;
    }
    snprintf(model_file, sizeof model_file, "%s/mb-tiny-q4_0-%ld.gguf", mb_tmpdir(), (long)getpid());
    if (synth_model("tiny", GGML_TYPE_Q4_0, 1, model_file, NULL, e)) {
        model_file[0] = 0;
        return NULL;
    }
    model_generated = 1;
    atexit(remove_model);
    return model_file;
}

/* Whether weight w holds the file's bytes (unpacked first when repacked). */
static int weight_matches(const struct weight *w, int fd)
{
    if (!w->data || !w->n_bytes)
        return 1;
    unsigned char *file = malloc(w->n_bytes), *plain = malloc(w->n_bytes);
    int ok = file && plain && pread(fd, file, w->n_bytes, (off_t)w->file_off) == (ssize_t)w->n_bytes;
    if (ok && w->repacked)
        repack_unpack_matrix(w->type, w->data, plain, w->n_out, w->n_in);
    ok = ok && memcmp(w->repacked ? plain : w->data, file, w->n_bytes) == 0;
    free(file);
    free(plain);
    return ok;
}

/* Every matrix of m against the file: "" when all match, else the first that does not. */
static const char *check_weights(const struct model *m, const char *path)
{
    static char what[128];
    int fd = open(path, O_RDONLY);
    if (fd < 0) {
        snprintf(what, sizeof what, "cannot open %.100s", path);
        return what;
    }
    what[0] = 0;
    if (!weight_matches(&m->tok_embd, fd))
        snprintf(what, sizeof what, "token_embd");
    else if (!m->tied_output && !weight_matches(&m->output, fd))
        snprintf(what, sizeof what, "output");
    for (int l = 0; !what[0] && l < m->cfg.n_layer; l++) {
        const struct layer *L = &m->layers[l];
        const struct weight *ws[] = { &L->wq, &L->wk, &L->wv, &L->wo, &L->w_gate, &L->w_up, &L->w_down };
        for (size_t k = 0; !what[0] && k < sizeof ws / sizeof *ws; k++)
            if (!weight_matches(ws[k], fd))
                snprintf(what, sizeof what, "layer %d matrix %zu (q k v o gate up down)", l, k);
    }
    close(fd);
    return what;
}

static void bench_load(struct mb_state *s, enum load_mode load, enum reclaim_mode reclaim, int repack)
{
    struct err e = { { 0 } };
    const char *path = bench_model(&e);
    if (!path) {
        mb_fail(s, "cannot generate the tiny model: %s", e.msg);
        return;
    }
    struct load_opts o;
    load_opts_default(&o);
    o.load = load;
    o.reclaim = reclaim;
    o.repack = repack;
    o.log = NULL;
    struct model m;
    while (mb_run(s)) {
        if (model_load(&m, path, &o, &e)) {
            mb_fail(s, "model_load %s: %s", path, e.msg);
            return;
        }
        model_free(&m);
    }
    if (model_load(&m, path, &o, &e)) {
        mb_fail(s, "model_load %s: %s", path, e.msg);
        return;
    }
    mb_bytes(s, (int64_t)m.plan.file_bytes);
    mb_counter(s, "repacked_bytes", (double)m.plan.repacked_bytes);
    mb_counter(s, "reclaimed_bytes", (double)m.plan.reclaimed_bytes);
    const char *bad = check_weights(&m, path);
    if (bad[0])
        mb_fail(s, "%s: loaded weights differ from the file: %s", path, bad);
    model_free(&m);
}

static void bm_load_mmap(struct mb_state *s) { bench_load(s, LOAD_MMAP, RECLAIM_OFF, 1); }
static void bm_load_mmap_reclaim(struct mb_state *s) { bench_load(s, LOAD_MMAP, RECLAIM_DONTNEED, 1); }
static void bm_load_read(struct mb_state *s) { bench_load(s, LOAD_READ, RECLAIM_OFF, 1); }
static void bm_load_no_repack(struct mb_state *s) { bench_load(s, LOAD_MMAP, RECLAIM_OFF, 0); }

const struct mb_bench mb_memory_benches[] = {
    {"madvise_dontneed_file", bm_madvise_dontneed_file, 1, {64}},
    {"load/mmap", bm_load_mmap, 0, {0}},
    {"load/mmap+reclaim", bm_load_mmap_reclaim, 0, {0}},
    {"load/read", bm_load_read, 0, {0}},
    {"load/no-repack", bm_load_no_repack, 0, {0}},
    {NULL, NULL, 0, {0}},
};
