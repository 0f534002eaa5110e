/* cgroup.c: v1/v2 memory cgroups. Sections: discovery, per-run lifecycle,
 * reading the counters. Every file is a few bytes of text. */
#include "cgroup.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define V1_ROOT "/sys/fs/cgroup/memory"
#define V2_ROOT "/sys/fs/cgroup"

static int write_text(const char *dir, const char *file, const char *text)
{
    char path[1400];
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
        return -1;
    FILE *f = fopen(path, "w");
    if (!f)
        return -1;
    int bad = fputs(text, f) < 0;
    return (fclose(f) != 0 || bad) ? -1 : 0;
}

/* First number after "key " in dir/file (key NULL: the file's first number). */
static int64_t read_num(const char *dir, const char *file, const char *key)
{
    char path[1400], line[256];
    if (snprintf(path, sizeof path, "%s/%s", dir, file) >= (int)sizeof path)
        return -1;
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    int64_t v = -1;
    size_t k = key ? strlen(key) : 0;
    while (fgets(line, sizeof line, f)) {
        if (!key) {
            v = strtoll(line, NULL, 10);
            break;
        }
        if (strncmp(line, key, k) == 0 && line[k] == ' ') {
            v = strtoll(line + k + 1, NULL, 10);
            break;
        }
    }
    fclose(f);
    return v;
}

/* ---- discovery --------------------------------------------------------------- */

/* Our path in the hierarchy from /proc/self/cgroup ("N:memory:/x" or "0::/x"). */
static int self_path(int v2, char *out, size_t n)
{
    FILE *f = fopen("/proc/self/cgroup", "r");
    char line[1024];
    int found = 0;
    while (f && !found && fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = '\0';
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        int match = v2 ? strcmp(line, "0") == 0 && c1[1] == '\0' : strstr(c1 + 1, "memory") != NULL;
        if (match && (size_t)snprintf(out, n, "%s", c2 + 1) < n)
            found = 1;
    }
    if (f)
        fclose(f);
    return found;
}

enum status cgroup_init(struct cgroup *cg, uint64_t limit_bytes, struct err *e)
{
    memset(cg, 0, sizeof *cg);
    cg->limit = limit_bytes;
    if (geteuid() != 0)
        return err_set(e, "memory cgroups (cgroup on / mem-limit) need root");
    char rel[512];
    struct stat st;
    if (stat(V1_ROOT "/memory.usage_in_bytes", &st) == 0 && self_path(0, rel, sizeof rel)) {
        cg->v2 = 0;
        snprintf(cg->base, sizeof cg->base, "%s%s", V1_ROOT, strcmp(rel, "/") == 0 ? "" : rel);
    } else if (stat(V2_ROOT "/cgroup.controllers", &st) == 0 && self_path(1, rel, sizeof rel)) {
        cg->v2 = 1;
        snprintf(cg->base, sizeof cg->base, "%s%s", V2_ROOT, strcmp(rel, "/") == 0 ? "" : rel);
        /* v2 puts controllers on children only; it may already be on */
        write_text(cg->base, "cgroup.subtree_control", "+memory");
    } else {
        return err_set(e, "no memory cgroup controller found (v1 at " V1_ROOT " or v2 at " V2_ROOT ")");
    }
    if (access(cg->base, W_OK) != 0)
        return err_set(e, "cannot create cgroups under %s: %s", cg->base, strerror(errno));
    return STATUS_OK;
}

/* ---- per-run lifecycle ------------------------------------------------------- */

enum status cgroup_create(struct cgroup *cg, size_t run_index, struct err *e)
{
    snprintf(cg->dir, sizeof cg->dir, "%s/rbench-%ld-r%05zu", cg->base, (long)getpid(), run_index);
    snprintf(cg->procs, sizeof cg->procs, "%s/cgroup.procs", cg->dir);
    rmdir(cg->dir); /* a leftover of a killed rbench */
    if (mkdir(cg->dir, 0755) < 0)
        return err_set(e, "mkdir %s: %s", cg->dir, strerror(errno));
    if (cg->limit) {
        char v[32];
        snprintf(v, sizeof v, "%llu", (unsigned long long)cg->limit);
        if (write_text(cg->dir, cg->v2 ? "memory.max" : "memory.limit_in_bytes", v) < 0) {
            int er = errno;
            rmdir(cg->dir);
            return err_set(e, "setting the memory limit in %s: %s", cg->dir, strerror(er));
        }
        if (!cg->v2)
            write_text(cg->dir, "memory.swappiness", "0");
        else
            write_text(cg->dir, "memory.swap.max", "0");
    }
    return STATUS_OK;
}

/* ---- counters ------------------------------------------------------------------ */

json_t *cgroup_collect(const struct cgroup *cg)
{
    int64_t peak, rss, cache, oom, fail;
    if (cg->v2) {
        peak = read_num(cg->dir, "memory.peak", NULL);
        rss = read_num(cg->dir, "memory.stat", "anon");
        cache = read_num(cg->dir, "memory.stat", "file");
        oom = read_num(cg->dir, "memory.events", "oom_kill");
        fail = read_num(cg->dir, "memory.events", "max");
    } else {
        peak = read_num(cg->dir, "memory.max_usage_in_bytes", NULL);
        rss = read_num(cg->dir, "memory.stat", "total_rss");
        cache = read_num(cg->dir, "memory.stat", "total_cache");
        oom = read_num(cg->dir, "memory.oom_control", "oom_kill");
        fail = read_num(cg->dir, "memory.failcnt", NULL);
    }
    return json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:I}", "version", cg->v2 ? 2 : 1, "peak_bytes", (json_int_t)peak,
                     "rss_bytes", (json_int_t)rss, "cache_bytes", (json_int_t)cache, "limit_bytes",
                     (json_int_t)cg->limit, "oom_kills", (json_int_t)oom, "failcnt", (json_int_t)fail);
}

void cgroup_destroy(struct cgroup *cg)
{
    /* Pages it still charges (page cache) move to the parent on rmdir. */
    for (int i = 0; i < 50 && rmdir(cg->dir) < 0 && errno == EBUSY; i++)
        usleep(10000);
    cg->dir[0] = cg->procs[0] = '\0';
}

void cgroup_fini(struct cgroup *cg)
{
    (void)cg;
}
