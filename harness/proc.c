/* proc.c: line parsers for /proc/<pid>/status, /proc/<pid>/io and smaps.
 * status and io: open the file, match "Key:" prefixes, take the first number.
 * smaps: each header line ("start-end perms offset dev inode path") opens a
 * mapping whose Rss: and Anonymous: lines follow; a mapping is folded when the
 * next header (or the end) arrives. Sections: status and io, smaps. */
#include "proc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- status and io -------------------------------------------------------- */

struct field {
    const char *key;
    int64_t *dst;
};

static enum status read_fields(pid_t pid, const char *file, const struct field *f, size_t n, struct err *e)
{
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/%s", (long)pid, file);
    for (size_t i = 0; i < n; i++)
        *f[i].dst = -1;
    FILE *fp = fopen(path, "r");
    if (!fp)
        return err_set(e, "%s: %s", path, strerror(errno));
    while (fgets(line, sizeof line, fp)) {
        for (size_t i = 0; i < n; i++) {
            size_t k = strlen(f[i].key);
            if (strncmp(line, f[i].key, k) == 0 && line[k] == ':') {
                *f[i].dst = strtoll(line + k + 1, NULL, 10);
                break;
            }
        }
    }
    fclose(fp);
    return STATUS_OK;
}

enum status proc_status_read(pid_t pid, struct proc_status *st, struct err *e)
{
    const struct field f[] = {
        { "VmRSS", &st->vm_rss_kib },     { "VmHWM", &st->vm_hwm_kib },
        { "RssAnon", &st->rss_anon_kib }, { "RssFile", &st->rss_file_kib },
        { "RssShmem", &st->rss_shmem_kib },
    };
    return read_fields(pid, "status", f, sizeof f / sizeof *f, e);
}

enum status proc_io_read(pid_t pid, struct proc_io *io, struct err *e)
{
    const struct field f[] = {
        { "rchar", &io->rchar }, { "read_bytes", &io->read_bytes }, { "write_bytes", &io->write_bytes },
    };
    return read_fields(pid, "io", f, sizeof f / sizeof *f, e);
}

/* ---- smaps ------------------------------------------------------------------ */

enum { VMA_NONE, VMA_FILE, VMA_ANON, VMA_OTHER };

#define SMAPS_GROUPS 512          /* distinct file paths; past that a mapping is a group of its own */
#define SMAPS_KIB_MAX (1LL << 40) /* 1 PiB: a larger figure is a bad line, clamped */

struct smaps_fold {
    struct proc_smaps *out;
    struct {
        uint64_t hash;            /* 0: empty slot */
        int64_t rss_kib;
    } group[SMAPS_GROUPS];        /* Rss per file path, open addressing */
    uint64_t top_hash;            /* the group out->top_file names */
    /* the mapping being read */
    int kind;
    struct proc_smaps_vma vma;
    uint64_t hash;
    char path[PROC_SMAPS_PATH_LEN];
};

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (; *s; s++)
        h = (h ^ (unsigned char)*s) * 0x100000001b3ULL;
    return h ? h : 1;
}

static int vma_kind(const char *path)
{
    if (!*path)
        return VMA_ANON;
    if (*path == '/')
        return VMA_FILE;
    if (!strcmp(path, "[heap]") || !strncmp(path, "[stack", 6) || !strncmp(path, "[anon:", 6))
        return VMA_ANON;
    return VMA_OTHER;
}

static int64_t kib_value(const char *p)
{
    long long v = strtoll(p, NULL, 10);
    return v < 0 ? 0 : v > SMAPS_KIB_MAX ? SMAPS_KIB_MAX : (int64_t)v;
}

/* The group's running sum, or NULL when the table is full. */
static int64_t *group_rss(struct smaps_fold *f, uint64_t hash)
{
    for (size_t i = 0, k = hash % SMAPS_GROUPS; i < SMAPS_GROUPS; i++, k = (k + 1) % SMAPS_GROUPS) {
        if (f->group[k].hash == hash)
            return &f->group[k].rss_kib;
        if (f->group[k].hash == 0) {
            f->group[k].hash = hash;
            return &f->group[k].rss_kib;
        }
    }
    return NULL;
}

/* Adds the mapping just read to the totals, its file's group, the top anon list. */
static void fold_vma(struct smaps_fold *f)
{
    struct proc_smaps *o = f->out;
    const struct proc_smaps_vma *v = &f->vma;
    if (f->kind == VMA_NONE)
        return;
    o->n_vmas++;
    o->rss_kib += v->rss_kib;
    if (f->kind == VMA_FILE) {
        o->file_rss_kib += v->rss_kib;
        int64_t *g = group_rss(f, f->hash), sum = v->rss_kib;
        if (g)
            sum = *g += v->rss_kib;
        /* the leader when it last grew is the leader at the end */
        if (sum > o->top_file_rss_kib || (g && f->hash == f->top_hash)) {
            o->top_file_rss_kib = sum;
            f->top_hash = f->hash;
            memcpy(o->top_file, f->path, sizeof o->top_file);
        }
    } else if (f->kind == VMA_ANON && v->rss_kib > 0) {
        int n = o->n_anon;
        if (n == PROC_SMAPS_N_ANON && v->rss_kib <= o->anon[n - 1].rss_kib)
            return;
        int k = n < PROC_SMAPS_N_ANON ? n : n - 1;
        for (; k > 0 && o->anon[k - 1].rss_kib < v->rss_kib; k--)
            o->anon[k] = o->anon[k - 1];
        o->anon[k] = *v;
        if (n < PROC_SMAPS_N_ANON)
            o->n_anon++;
    }
}

/* "start-end perms offset dev inode   path": folds the mapping before and
 * starts the next. Returns 0 if the line is no header; a line that starts like
 * one but does not parse ends the mapping before, and what follows it is
 * skipped up to the next header. */
static int smaps_header(struct smaps_fold *f, const char *line)
{
    if (!((*line >= '0' && *line <= '9') || (*line >= 'a' && *line <= 'f')))
        return 0;
    char *p;
    unsigned long long start = strtoull(line, &p, 16), end;
    size_t n_start = (size_t)(p - line);
    if (*p != '-')
        return 0;
    fold_vma(f);
    f->kind = VMA_NONE;
    end = strtoull(p + 1, &p, 16);
    if (*p != ' ' || end < start || n_start >= sizeof f->vma.start)
        return 1;
    for (int i = 0; i < 4; i++) { /* perms offset dev inode */
        p += strspn(p, " ");
        size_t n = strcspn(p, " ");
        if (n == 0)
            return 1;
        p += n;
    }
    p += strspn(p, " ");
    f->kind = vma_kind(p);
    memset(&f->vma, 0, sizeof f->vma);
    memcpy(f->vma.start, line, n_start);
    f->vma.size_kib = (int64_t)((end - start) / 1024);
    snprintf(f->path, sizeof f->path, "%s", p);
    f->hash = fnv1a(f->path);
    return 1;
}

void proc_smaps_parse(FILE *fp, struct proc_smaps *out)
{
    struct smaps_fold f;
    memset(&f, 0, sizeof f);
    f.out = out;
    memset(out, 0, sizeof *out);
    char line[PROC_SMAPS_PATH_LEN + 160];
    while (fgets(line, sizeof line, fp)) {
        size_t n = strlen(line);
        if (n > 0 && line[n - 1] == '\n') {
            line[n - 1] = '\0';
        } else { /* cut: drop the rest of the line */
            int c;
            while ((c = fgetc(fp)) != EOF && c != '\n')
                ;
        }
        if (smaps_header(&f, line) || f.kind == VMA_NONE)
            continue;
        if (!strncmp(line, "Rss:", 4))
            f.vma.rss_kib = kib_value(line + 4);
        else if (!strncmp(line, "Anonymous:", 10))
            out->anon_rss_kib += kib_value(line + 10);
    }
    fold_vma(&f);
}

enum status proc_smaps_read(pid_t pid, struct proc_smaps *out, struct err *e)
{
    char path[64], buf[32768]; /* fewer read()s of the seq file */
    snprintf(path, sizeof path, "/proc/%ld/smaps", (long)pid);
    memset(out, 0, sizeof *out);
    FILE *fp = fopen(path, "r");
    if (!fp)
        return err_set(e, "%s: %s", path, strerror(errno));
    setvbuf(fp, buf, _IOFBF, sizeof buf);
    proc_smaps_parse(fp, out);
    int bad = ferror(fp), err_no = errno;
    fclose(fp);
    if (bad)
        return err_set(e, "%s: %s", path, strerror(err_no));
    return STATUS_OK;
}
