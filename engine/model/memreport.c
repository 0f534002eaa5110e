/* memreport.c: sampling /proc/self, predicting the peak, writing the JSON.
 *
 * A phase reads status, rusage, io, the page cache of the model file and,
 * when the JSON is wanted, smaps (memreport_maps: each header line opens a
 * mapping whose Rss:/Anonymous: lines follow; it is folded at the next
 * header). The JSON is written by hand with fixed keys (numbers and fixed
 * strings only; the model path is escaped), to a temp file renamed into place. */
#include "model/memreport.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "model/forward.h"
#include "model/model.h"

void memreport_init(struct memreport *r, const char *model_path, const char *out_path)
{
    memset(r, 0, sizeof *r);
    r->model_path = model_path;
    r->out_path = out_path;
    if (!model_path || !realpath(model_path, r->model_real))
        r->model_real[0] = '\0';
}

static uint64_t status_field(const char *buf, const char *key)
{
    const char *p = strstr(buf, key);
    if (!p)
        return 0;
    p += strlen(key);
    return strtoull(p, NULL, 10) * 1024; /* kB */
}

enum { VMA_NONE, VMA_MODEL, VMA_FILE, VMA_ANON, VMA_OTHER };

static void maps_fold(struct mem_maps *mm, int kind, const struct mem_anon *v, int by_path)
{
    if (kind == VMA_MODEL || kind == VMA_FILE) {
        mm->file_rss += v->rss;
        if (kind == VMA_MODEL)
            mm->model_rss += v->rss;
        else if (!by_path && v->rss > mm->model_rss)
            mm->model_rss = v->rss;
    } else if (kind == VMA_ANON && v->rss > 0) {
        int n = mm->n_anon, k = n < MEMREPORT_N_ANON ? n : n - 1;
        if (n == MEMREPORT_N_ANON && v->rss <= mm->anon[n - 1].rss)
            return;
        for (; k > 0 && mm->anon[k - 1].rss < v->rss; k--)
            mm->anon[k] = mm->anon[k - 1];
        mm->anon[k] = *v;
        mm->n_anon += n < MEMREPORT_N_ANON;
    }
}

static uint64_t kib_bytes(const char *p)
{
    unsigned long long v = strtoull(p, NULL, 10);
    return v > (1ULL << 40) ? (1ULL << 50) : (uint64_t)v * 1024; /* past 1 PiB: a bad line */
}

void memreport_maps(const char *model_real, struct mem_maps *mm)
{
    memset(mm, 0, sizeof *mm);
    FILE *f = fopen("/proc/self/smaps", "r");
    if (!f)
        return;
    int by_path = model_real && *model_real, kind = VMA_NONE;
    struct mem_anon v = {0};
    char line[PATH_MAX + 160];
    while (fgets(line, sizeof line, f)) {
        size_t len = strlen(line);
        if (len > 0 && line[len - 1] == '\n') {
            line[len - 1] = '\0';
        } else { /* cut: drop the rest of the line */
            int ch;
            while ((ch = fgetc(f)) != EOF && ch != '\n')
                ;
        }
        uint64_t start, end;
        int off = -1;
        if ((line[0] >= '0' && line[0] <= '9') || (line[0] >= 'a' && line[0] <= 'f')) {
            /* "start-end perms offset dev inode   path" */
            maps_fold(mm, kind, &v, by_path);
            kind = VMA_NONE;
            if (sscanf(line, "%" SCNx64 "-%" SCNx64 " %*s %*s %*s %*s %n", &start, &end, &off) != 2 || off < 0 ||
                end < start)
                continue; /* a header that does not parse: its lines are skipped */
            const char *path = line + off;
            if (*path == '/')
                kind = by_path && !strcmp(path, model_real) ? VMA_MODEL : VMA_FILE;
            else if (!*path || !strcmp(path, "[heap]") || !strncmp(path, "[stack", 6) || !strncmp(path, "[anon:", 6))
                kind = VMA_ANON;
            else
                kind = VMA_OTHER;
            v = (struct mem_anon){ .start = start, .size = end - start };
        } else if (kind != VMA_NONE && !strncmp(line, "Rss:", 4)) {
            v.rss = kib_bytes(line + 4);
        } else if (kind != VMA_NONE && !strncmp(line, "Anonymous:", 10)) {
            mm->anon_rss += kib_bytes(line + 10);
        }
    }
    maps_fold(mm, kind, &v, by_path);
    mm->have = !ferror(f);
    fclose(f);
}

uint64_t memreport_file_cached(const char *path)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK); /* never block on a FIFO */
    if (fd < 0)
        return 0;
    struct stat sb;
    uint64_t cached = 0;
    if (fstat(fd, &sb) == 0 && sb.st_size > 0) {
        size_t size = (size_t)sb.st_size;
        void *map = mmap(NULL, size, PROT_READ, MAP_SHARED, fd, 0);
        if (map != MAP_FAILED) {
            long ps = sysconf(_SC_PAGESIZE);
            size_t n_pages = (size + (size_t)ps - 1) / (size_t)ps;
            unsigned char *vec = malloc(n_pages);
            if (vec && mincore(map, size, vec) == 0)
                for (size_t i = 0; i < n_pages; i++)
                    cached += (vec[i] & 1) ? (uint64_t)ps : 0;
            free(vec);
            munmap(map, size);
        }
    }
    close(fd);
    return cached;
}

void memreport_phase(struct memreport *r, const char *phase)
{
    if (r->n >= MEMREPORT_MAX_PHASES)
        return;
    struct mem_sample *s = &r->s[r->n++];
    memset(s, 0, sizeof *s);
    s->phase = phase;
    char buf[4096];
    int fd = open("/proc/self/status", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n > 0) {
            buf[n] = 0;
            s->vm_rss = status_field(buf, "VmRSS:");
            s->vm_hwm = status_field(buf, "VmHWM:");
            s->rss_anon = status_field(buf, "RssAnon:");
            s->rss_file = status_field(buf, "RssFile:");
        }
    }
    struct rusage ru;
    if (getrusage(RUSAGE_SELF, &ru) == 0) {
        s->minflt = (uint64_t)ru.ru_minflt;
        s->majflt = (uint64_t)ru.ru_majflt;
    }
    fd = open("/proc/self/io", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        ssize_t n = read(fd, buf, sizeof buf - 1);
        close(fd);
        if (n > 0) {
            buf[n] = 0;
            const char *p = strstr(buf, "\nread_bytes:");
            if (p)
                s->read_bytes = strtoull(p + 12, NULL, 10);
        }
    }
    /* both walks are for the JSON alone: smaps (before the mincore mapping
     * below, which it would list) and the page-cache probe, which maps the
     * whole file and asks about every page (25-40 ms a phase for a 1.9 GB
     * file, five phases: a tenth of a short run) */
    if (r->out_path) {
        memreport_maps(r->model_real, &s->maps);
        if (r->model_path)
            s->cache_bytes = memreport_file_cached(r->model_path);
    }
    if (r->n == 1)
        r->plan.base_rss = s->vm_rss;
}

uint64_t memreport_predict_peak(const struct mem_plan *p)
{
    uint64_t run = p->kv_bytes + p->scratch_bytes; /* allocated after the load */
    uint64_t weights = p->header_bytes + p->inplace_bytes + p->repacked_bytes;
    if (!strcmp(p->load, "read")) /* the staging buffer lives during the load only */
        return p->base_rss + weights + (p->largest_repacked > run ? p->largest_repacked : run);
    /* mmap: the whole file is resident from the start (populated mapping) */
    int reclaiming = p->n_repacked && strcmp(p->reclaim, "off") && !p->mlock;
    if (reclaiming && !strcmp(p->reclaim_at, "load")) /* one source resident beside its copy */
        return p->base_rss + weights + (p->largest_repacked > run ? p->largest_repacked : run);
    if (reclaiming) /* every source resident until the end of the load, then dropped before the KV cache */
        return p->base_rss + weights + (p->repacked_bytes > run ? p->repacked_bytes : run);
    return p->base_rss + weights + p->repacked_bytes + run; /* the sources stay for good */
}

void memreport_plan(struct memreport *r, const struct model *m, const struct context *c)
{
    struct mem_plan *p = &r->plan;
    static const char *loads[] = {"mmap", "read"}, *recl[] = {"off", "dontneed", "evict"}, *at[] = {"load", "end"};
    p->file_bytes = m->plan.file_bytes;
    p->header_bytes = m->plan.header_bytes;
    p->inplace_bytes = m->plan.inplace_bytes;
    p->repacked_bytes = m->plan.repacked_bytes;
    p->reclaimed_bytes = m->plan.reclaimed_bytes;
    p->n_repacked = m->plan.n_repacked;
    p->n_reclaim_failed = m->plan.n_reclaim_failed;
    p->largest_repacked = m->plan.largest_repacked;
    p->kv_bytes = c->kv_bytes;
    p->scratch_bytes = c->scratch_bytes;
    snprintf(p->load, sizeof p->load, "%s", loads[m->opts.load]);
    snprintf(p->reclaim, sizeof p->reclaim, "%s", recl[m->opts.reclaim]);
    snprintf(p->reclaim_at, sizeof p->reclaim_at, "%s", at[m->opts.reclaim_at]);
    p->mlock = m->opts.mlock;
    p->repack = m->opts.repack;
    p->predicted_peak = memreport_predict_peak(p);
    p->have = 1;
}

static void json_str(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char ch = (unsigned char)*s;
        if (ch == '"' || ch == '\\')
            fprintf(f, "\\%c", ch);
        else if (ch < 0x20)
            fprintf(f, "\\u%04x", ch);
        else
            fputc(ch, f);
    }
    fputc('"', f);
}

enum status memreport_write(const struct memreport *r, struct err *e)
{
    if (!r->out_path)
        return STATUS_OK;
    size_t n = strlen(r->out_path) + 16;
    char *tmp = malloc(n);
    if (!tmp)
        return err_set(e, "mem-report: out of memory");
    snprintf(tmp, n, "%s.tmpXXXXXX", r->out_path); /* a fresh name: no stale file or symlink is followed */
    int fd = mkstemp(tmp);
    FILE *f = fd >= 0 && fchmod(fd, 0644) == 0 ? fdopen(fd, "w") : NULL;
    if (!f) {
        err_set(e, "mem-report: cannot write %s: %s", r->out_path, strerror(errno));
        if (fd >= 0) {
            close(fd);
            unlink(tmp);
        }
        free(tmp);
        return STATUS_ERR;
    }
    const struct mem_plan *p = &r->plan;
    fprintf(f, "{\n  \"model\": ");
    json_str(f, r->model_path);
    fprintf(f, ",\n  \"model_realpath\": "); /* what "maps"."model_rss" matched; "": the largest file mapping */
    json_str(f, r->model_real);
    fprintf(f, ",\n  \"phases\": [\n");
    for (int i = 0; i < r->n; i++) {
        const struct mem_sample *s = &r->s[i];
        fprintf(f,
                "    {\"phase\": \"%s\", \"vm_rss\": %" PRIu64 ", \"vm_hwm\": %" PRIu64 ", \"rss_anon\": %" PRIu64
                ", \"rss_file\": %" PRIu64 ", \"minflt\": %" PRIu64 ", \"majflt\": %" PRIu64
                ", \"read_bytes\": %" PRIu64 ", \"file_cached_bytes\": %" PRIu64,
                s->phase, s->vm_rss, s->vm_hwm, s->rss_anon, s->rss_file, s->minflt, s->majflt, s->read_bytes,
                s->cache_bytes);
        const struct mem_maps *mm = &s->maps;
        if (mm->have) {
            fprintf(f,
                    ",\n     \"maps\": {\"model_rss\": %" PRIu64 ", \"file_rss\": %" PRIu64 ", \"anon_rss\": %" PRIu64
                    ", \"largest_anon\": [",
                    mm->model_rss, mm->file_rss, mm->anon_rss);
            for (int k = 0; k < mm->n_anon; k++)
                fprintf(f, "%s{\"start\": \"%" PRIx64 "\", \"size\": %" PRIu64 ", \"rss\": %" PRIu64 "}",
                        k ? ", " : "", mm->anon[k].start, mm->anon[k].size, mm->anon[k].rss);
            fprintf(f, "]}");
        }
        fprintf(f, "}%s\n", i + 1 < r->n ? "," : "");
    }
    fprintf(f, "  ],\n  \"plan\": {\"load\": \"%s\", \"mlock\": %s, \"repack\": %s, \"reclaim\": \"%s\", "
               "\"reclaim_at\": \"%s\",\n",
            p->load, p->mlock ? "true" : "false", p->repack ? "true" : "false", p->reclaim, p->reclaim_at);
    fprintf(f,
            "    \"file_bytes\": %" PRIu64 ", \"header_bytes\": %" PRIu64 ", \"inplace_bytes\": %" PRIu64
            ", \"repacked_bytes\": %" PRIu64 ", \"n_repacked\": %" PRIu64 ", \"largest_repacked_bytes\": %" PRIu64
            ",\n    \"reclaimed_bytes\": %" PRIu64 ", \"reclaim_failures\": %" PRIu64 ", \"kv_bytes\": %" PRIu64
            ", \"scratch_bytes\": %" PRIu64 ", \"base_rss\": %" PRIu64 ", \"predicted_peak\": %" PRIu64 "}\n}\n",
            p->file_bytes, p->header_bytes, p->inplace_bytes, p->repacked_bytes, p->n_repacked, p->largest_repacked,
            p->reclaimed_bytes, p->n_reclaim_failed, p->kv_bytes, p->scratch_bytes, p->base_rss, p->predicted_peak);
    int bad = ferror(f);
    bad |= fflush(f) != 0;
    bad |= fsync(fileno(f)) != 0;
    bad |= fclose(f) != 0;
    if (bad || rename(tmp, r->out_path) != 0) {
        err_set(e, "mem-report: cannot write %s: %s", r->out_path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return STATUS_ERR;
    }
    free(tmp);
    return STATUS_OK;
}

static double mib(uint64_t b)
{
    return (double)b / (1024.0 * 1024.0);
}

void memreport_summary(const struct memreport *r, FILE *f)
{
    const struct mem_plan *p = &r->plan;
    if (!p->have || !f)
        return;
    fprintf(f, "memory: file %.1f MiB, in place %.1f MiB, repacked %.1f MiB (%" PRIu64 " tensors), reclaimed %.1f MiB, "
               "KV %.1f MiB, scratch %.1f MiB\n",
            mib(p->file_bytes), mib(p->inplace_bytes), mib(p->repacked_bytes), p->n_repacked, mib(p->reclaimed_bytes),
            mib(p->kv_bytes), mib(p->scratch_bytes));
    if (r->n > 0)
        fprintf(f, "memory: peak RSS %.1f MiB, predicted minimum %.1f MiB, major faults %" PRIu64 "\n",
                mib(r->s[r->n - 1].vm_hwm), mib(p->predicted_peak), r->s[r->n - 1].majflt);
}
