/* merge.c: collect meta + run lines from each shard, check, write one
 * runs.jsonl, copy the per-run files. */
#include "merge.h"
#include "files.h"
#include "results.h"

#include <dirent.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

struct collect {
    json_t *meta;       /* first shard's meta */
    json_t *runs;       /* array of run objects */
    int mismatch;
    char *first_text;
};

static void on_line(json_t *o, void *ctx)
{
    struct collect *c = ctx;
    const char *type = json_string_value(json_object_get(o, "type"));
    if (type && strcmp(type, "meta") == 0) {
        const char *text = json_string_value(json_object_get(o, "sweep_text"));
        if (!c->meta) {
            c->meta = json_deep_copy(o);
        } else if (!text || strcmp(text, json_string_value(json_object_get(c->meta, "sweep_text"))) != 0) {
            c->mismatch = 1;
        }
        return;
    }
    if (type && strcmp(type, "run") == 0)
        json_array_append(c->runs, o);
}

static int by_index(const void *x, const void *y)
{
    json_int_t a = json_integer_value(json_object_get(*(json_t *const *)x, "index"));
    json_int_t b = json_integer_value(json_object_get(*(json_t *const *)y, "index"));
    return (a > b) - (a < b);
}

static enum status copy_dir(const char *from_root, const char *to_root, const char *sub, struct err *e)
{
    char from[4096], to[4096];
    if (files_join(from, sizeof from, from_root, sub, e) || files_join(to, sizeof to, to_root, sub, e) ||
        files_mkdirs(to, e))
        return STATUS_ERR;
    DIR *d = opendir(from);
    if (!d)
        return STATUS_OK; /* nothing to copy */
    enum status st = STATUS_OK;
    struct dirent *de;
    while (!st && (de = readdir(d))) {
        if (de->d_name[0] == '.' || strstr(de->d_name, ".tmp"))
            continue;
        char src[4096], dst[4096], *data;
        size_t n;
        if (files_join(src, sizeof src, from, de->d_name, e) || files_join(dst, sizeof dst, to, de->d_name, e) ||
            files_read(src, &data, &n, e)) {
            st = STATUS_ERR;
            break;
        }
        st = files_write_atomic(dst, data, n, e);
        free(data);
    }
    closedir(d);
    return st;
}

enum status merge_dirs(const char *out, const char *const *dirs, size_t n_dirs, struct err *e)
{
    struct collect c = { NULL, json_array(), 0, NULL };
    enum status st = STATUS_OK;
    int lock = -1;
    char rj[4096];
    /* OUT is a new directory: never one that holds a run (merging onto it would
     * replace its runs); it stays locked while it is written. */
    st = files_mkdirs(out, e);
    if (!st)
        st = files_lock_dir(out, &lock, e);
    if (!st)
        st = files_join(rj, sizeof rj, out, "runs.jsonl", e);
    if (!st && files_exist(rj))
        st = err_set(e, "%s already holds a run; merge into a new directory", out);
    for (size_t i = 0; i < n_dirs && !st; i++)
        st = results_each(dirs[i], 0, on_line, &c, e);
    if (!st && !c.meta)
        st = err_set(e, "no meta line in the given directories");
    if (!st && c.mismatch)
        st = err_set(e, "the directories come from different sweeps (sweep_text differs)");
    size_t n = json_array_size(c.runs);
    json_t **v = calloc(n ? n : 1, sizeof *v);
    if (!st && !v)
        st = err_set(e, "out of memory");
    for (size_t i = 0; !st && i < n; i++)
        v[i] = json_array_get(c.runs, i);
    if (!st)
        qsort(v, n, sizeof *v, by_index);
    for (size_t i = 1; !st && i < n; i++)
        if (json_integer_value(json_object_get(v[i], "index")) == json_integer_value(json_object_get(v[i - 1], "index")))
            st = err_set(e, "run %lld appears twice (overlapping shards?)",
                         (long long)json_integer_value(json_object_get(v[i], "index")));
    char *buf = NULL;
    size_t len = 0;
    if (!st) {
        FILE *f = open_memstream(&buf, &len);
        json_object_set_new(c.meta, "shard", json_string("merged"));
        json_t *from = json_array();
        for (size_t i = 0; i < n_dirs; i++)
            json_array_append_new(from, json_string(dirs[i]));
        json_object_set_new(c.meta, "merged_from", from);
        json_dumpf(c.meta, f, JSON_COMPACT | JSON_ENSURE_ASCII);
        fputc('\n', f);
        for (size_t i = 0; i < n; i++) {
            json_dumpf(v[i], f, JSON_COMPACT | JSON_ENSURE_ASCII);
            fputc('\n', f);
        }
        fclose(f);
        char path[4096];
        st = files_mkdirs(out, e);
        if (!st)
            st = files_join(path, sizeof path, out, "runs.jsonl", e);
        if (!st)
            st = files_write_atomic(path, buf, len, e);
    }
    for (size_t i = 0; !st && i < n_dirs; i++) {
        st = copy_dir(dirs[i], out, "out", e);
        if (!st)
            st = copy_dir(dirs[i], out, "timelines", e);
    }
    free(buf);
    free(v);
    json_decref(c.meta);
    json_decref(c.runs);
    if (lock >= 0)
        close(lock);
    return st;
}
