/* limit.c: `rbench limit` (limit.h). Sections: the directory and its files,
 * one probe, the search of one case, the loop over cases. */
#include "limit.h"
#include "cache.h"
#include "cgroup.h"
#include "engine.h"
#include "files.h"
#include "gate.h"
#include "launch.h"
#include "results.h"
#include "spec.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

#define MIB (1024.0 * 1024.0)

struct lstate {
    const struct limit_opts *o;
    struct sweep s;
    struct engine en;
    struct cgroup cg;
    char dir[PATH_MAX];
    char probes[PATH_MAX], minlimit[PATH_MAX], curve[PATH_MAX];
    size_t n_probes; /* over the whole directory: names the probe's files and cgroup */
};

/* One case: a sweep point with rep 0, and what its reference gave. */
struct lcase {
    struct sweep_run r;
    char key[1024];
    char model_path[SWEEP_PATH_LEN];
    struct engine_cmd cmd;
    char argv_text[8192]; /* the command, shell-quoted: runnable as is */
    char *ref_text;       /* identity text of the reference */
    size_t ref_len;
    double ref_wall_s;
    uint64_t ref_peak;    /* its cgroup peak, bytes */
    int64_t ref_maxrss_kib, ref_read_bytes;
};

/* What one probe gave. */
struct lprobe {
    uint64_t limit;      /* bytes; 0 = none */
    const char *status;  /* ok oom timeout slow differs exit signal incomplete error */
    double wall_s;
    int64_t majflt, read_bytes, maxrss_kib;
    int64_t cg_peak;     /* the cgroup's own peak, bytes (-1 unknown) */
    char reason[640];
};

/* ---- the directory and its files ------------------------------------------------- */

static enum status pick_dir(struct lstate *st, struct err *e)
{
    const struct limit_opts *o = st->o;
    char tmp[PATH_MAX];
    if (o->out_dir) {
        snprintf(tmp, sizeof tmp, "%s", o->out_dir);
        if (files_mkdirs(tmp, e))
            return STATUS_ERR;
    } else {
        char base[SWEEP_PATH_LEN], name[PATH_MAX], stamp[32];
        sweep_model_label(st->s.path, base, sizeof base);
        char *dot = strrchr(base, '.');
        if (dot)
            *dot = '\0';
        time_t now = time(NULL);
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", gmtime(&now));
        if (o->name)
            snprintf(name, sizeof name, "%s", o->name);
        else
            snprintf(name, sizeof name, "%s-limit-%s", stamp, base);
        if (o->name) {
            if (files_join(tmp, sizeof tmp, o->results_root, name, e) || files_mkdirs(tmp, e))
                return STATUS_ERR;
        } else if (files_mkdir_unique(o->results_root, name, tmp, sizeof tmp, e)) {
            return STATUS_ERR;
        }
    }
    if (!realpath(tmp, st->dir))
        return err_set(e, "%s: %s", tmp, strerror(errno));
    char sub[PATH_MAX];
    if (files_join(sub, sizeof sub, st->dir, "out", e) || files_mkdirs(sub, e) ||
        files_join(st->probes, sizeof st->probes, st->dir, "probes.jsonl", e) ||
        files_join(st->minlimit, sizeof st->minlimit, st->dir, "minlimit.csv", e) ||
        files_join(st->curve, sizeof st->curve, st->dir, "curve.csv", e))
        return STATUS_ERR;
    if (files_exist(st->probes))
        return err_set(e, "%s already holds a limit search; use another --out or --name", st->dir);
    return STATUS_OK;
}

/* Appends text to s, single-quoted for a POSIX shell when it needs quotes. */
static void shell_quote(char *buf, size_t n, const char *arg)
{
    size_t len = strlen(buf);
    int plain = *arg != '\0';
    for (const char *p = arg; *p && plain; p++)
        plain = strchr("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-+./=:,@%", *p) != NULL;
    if (len && len + 1 < n)
        buf[len++] = ' ', buf[len] = '\0';
    if (plain) {
        snprintf(buf + len, n - len, "%s", arg);
        return;
    }
    if (len + 1 < n)
        buf[len++] = '\'';
    for (const char *p = arg; *p && len + 5 < n; p++) {
        if (*p == '\'') {
            memcpy(buf + len, "'\\''", 4);
            len += 4;
        } else {
            buf[len++] = *p;
        }
    }
    if (len + 1 < n)
        buf[len++] = '\'';
    buf[len < n ? len : n - 1] = '\0';
}

/* A CSV field: quoted, with quotes doubled. */
static void csv_field(FILE *f, const char *text)
{
    fputc('"', f);
    for (const char *p = text; *p; p++) {
        if (*p == '"')
            fputc('"', f);
        fputc(*p, f);
    }
    fputc('"', f);
}

static const char *cache_name(const struct sweep *s, const struct sweep_run *r)
{
    return s->cold[r->cache] ? "cold" : "warm";
}

static const char *engine_label(const struct sweep *s, const struct sweep_run *r)
{
    const struct sweep_engine_spec *sp = &s->engines[r->engine];
    return sp->name[0] ? sp->name : sweep_engine_kind_name(sp->kind);
}

static void case_columns(FILE *f, const struct sweep *s, const struct lcase *c)
{
    char model[SWEEP_PATH_LEN];
    sweep_model_label(s->models[c->r.model], model, sizeof model);
    fprintf(f, "%s,%s,%s,%s,%s,%d,%s", engine_label(s, &c->r), model, s->quants[c->r.quant], s->modes[c->r.mode].name,
            s->workloads[c->r.workload].name, s->threads[c->r.threads], cache_name(s, &c->r));
}

/* ---- one probe ------------------------------------------------------------------ */

/* Reads the whole file once from this process, so its pages are cached and
 * charged here, outside the run's cgroup. */
static enum status warm_file(const char *path, struct err *e)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return err_set(e, "warming %s: %s", path, strerror(errno));
    static char buf[1 << 20];
    ssize_t got;
    while ((got = read(fd, buf, sizeof buf)) > 0 || (got < 0 && errno == EINTR))
        ;
    int er = errno;
    close(fd);
    return got < 0 ? err_set(e, "warming %s: %s", path, strerror(er)) : STATUS_OK;
}

/* Appends the probe to probes.jsonl and prints its line. */
static void record_probe(struct lstate *st, const struct lcase *c, const char *phase, const struct lprobe *p,
                         size_t id)
{
    const struct sweep *s = &st->s;
    struct err e = { "" };
    json_t *j = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s, s:i, s:s, s:s, s:I, s:f, s:s, s:f, s:I, s:I, s:I, s:I, "
                          "s:s, s:s, s:s}",
                          "type", "probe", "case", c->key, "engine", engine_label(s, &c->r), "model",
                          s->models[c->r.model], "quant", s->quants[c->r.quant], "mode", s->modes[c->r.mode].name,
                          "threads", s->threads[c->r.threads], "cache", cache_name(s, &c->r), "phase", phase,
                          "limit_bytes", (json_int_t)p->limit, "limit_mib", (double)p->limit / MIB, "status",
                          p->status, "wall_s", p->wall_s, "majflt", (json_int_t)p->majflt, "read_bytes",
                          (json_int_t)p->read_bytes, "maxrss_kib", (json_int_t)p->maxrss_kib, "cgroup_peak_bytes",
                          (json_int_t)p->cg_peak, "reason", p->reason, "cgroup", st->cg.v2 ? "v2" : "v1", "argv",
                          c->argv_text);
    char *dump = j ? json_dumps(j, JSON_COMPACT) : NULL;
    size_t n_dump = dump ? strlen(dump) : 0;
    char *line = dump ? malloc(n_dump + 2) : NULL;
    if (line)
        memcpy(line, dump, n_dump), line[n_dump] = '\n', line[n_dump + 1] = '\0';
    free(dump);
    if (!line || files_append_line(st->probes, line, &e))
        fprintf(stderr, "rbench limit: cannot record probe %zu: %s\n", id, line ? e.msg : "out of memory");
    free(line);
    json_decref(j);
    char lim[32];
    if (p->limit)
        snprintf(lim, sizeof lim, "%.0f MiB", (double)p->limit / MIB);
    else
        snprintf(lim, sizeof lim, "no limit");
    fprintf(stderr, "rbench limit:   %-9s %10s  %-10s %7.2f s  majflt %7lld  read %8.1f MiB  cgroup peak %8.1f MiB%s%s\n",
            phase, lim, p->status, p->wall_s, (long long)p->majflt,
            p->read_bytes > 0 ? (double)p->read_bytes / MIB : 0.0, p->cg_peak > 0 ? (double)p->cg_peak / MIB : 0.0,
            p->reason[0] ? "  " : "", p->reason);
}

/* One launch: the cache state, a cgroup with the limit, the run, its
 * counters. Returns -1 when rbench was interrupted, 1 when it could not run
 * (p->reason says why), 0 when it ran (p->status says how it ended). */
static int launch_probe(struct lstate *st, struct lcase *c, size_t id, const char *out, const char *err_path,
                        struct lprobe *p)
{
    const struct sweep *s = &st->s;
    struct err e = { "" };
    if (s->cold[c->r.cache]) {
        struct cache_state cs;
        if (cache_evict(c->model_path, &cs, &e)) {
            snprintf(p->reason, sizeof p->reason, "cold cache: %s", e.msg);
            return 1;
        }
    } else if (warm_file(c->model_path, &e)) {
        snprintf(p->reason, sizeof p->reason, "%s", e.msg);
        return 1;
    }
    st->cg.limit = p->limit;
    if (cgroup_create(&st->cg, id, &e)) {
        snprintf(p->reason, sizeof p->reason, "cgroup: %s", e.msg);
        return 1;
    }
    /* a probe that runs longer than `slowdown` times the reference does not
     * complete; killed a little after that, so "slow" and "timeout" differ */
    double timeout = c->ref_wall_s > 0 ? st->o->slowdown * c->ref_wall_s + 2.0 : s->timeout_s;
    struct launch_opts lo = { .argv = c->cmd.argv, .stdout_path = out, .stderr_path = err_path,
                              .timeout_s = timeout, .cgroup_procs = st->cg.procs };
    struct launch_result m;
    memset(&m, 0, sizeof m);
    enum status lst = launch_run(&lo, &m, &e);
    json_t *cj = cgroup_collect(&st->cg);
    cgroup_destroy(&st->cg);
    p->cg_peak = json_integer_value(json_object_get(cj, "peak_bytes"));
    int oom = json_integer_value(json_object_get(cj, "oom_kills")) > 0;
    json_decref(cj);
    if (lst) {
        snprintf(p->reason, sizeof p->reason, "%s", e.msg);
        return 1;
    }
    if (m.interrupted)
        return -1;
    p->wall_s = (double)m.wall_ns / 1e9;
    p->majflt = m.majflt, p->read_bytes = m.read_bytes, p->maxrss_kib = m.maxrss_kib;
    p->status = m.timed_out ? "timeout" : oom ? "oom" : m.term_signal ? "signal" : m.exit_code ? "exit" : "ok";
    return 0;
}

/* The verdict of a run that exited 0: its output against the reference (or
 * it becomes the reference) and its time against the bound. */
static void judge_probe(struct lstate *st, struct lcase *c, const char *out, const char *err_path, struct lprobe *p)
{
    struct err e = { "" };
    char *text = NULL;
    size_t len = 0;
    if (engine_identity_text(&st->en, c->r.engine, st->s.workloads[c->r.workload].kind, out, err_path, &text, &len,
                             NULL, &e)) {
        p->status = "error";
        snprintf(p->reason, sizeof p->reason, "%s", e.msg);
        return;
    }
    if (!c->ref_text) { /* this is the reference */
        c->ref_text = text, c->ref_len = len;
        return;
    }
    struct gate_diff d;
    if (!gate_compare(c->ref_text, c->ref_len, text, len, &d)) {
        p->status = "differs";
        snprintf(p->reason, sizeof p->reason, "first difference at byte %lld", (long long)d.offset);
    } else if (p->wall_s > st->o->slowdown * c->ref_wall_s) {
        p->status = "slow";
        snprintf(p->reason, sizeof p->reason, "%.2f s, more than %g x the reference's %.2f s", p->wall_s,
                 st->o->slowdown, c->ref_wall_s);
    }
    free(text);
}

/* Runs the case's command once under `limit` (0: none) and records the probe
 * in probes.jsonl. phase: reference, search, confirm or curve. Returns -1
 * when rbench was interrupted. */
static int probe(struct lstate *st, struct lcase *c, uint64_t limit, const char *phase, struct lprobe *p)
{
    memset(p, 0, sizeof *p);
    p->limit = limit;
    p->cg_peak = -1;
    size_t id = ++st->n_probes;
    char out[PATH_MAX + 32], err_path[PATH_MAX + 32];
    snprintf(out, sizeof out, "%s/out/p%05zu.out", st->dir, id);
    snprintf(err_path, sizeof err_path, "%s/out/p%05zu.err", st->dir, id);
    for (int attempt = 1;; attempt++) {
        p->status = "error";
        int rc = launch_probe(st, c, id, out, err_path, p);
        if (rc < 0)
            return -1;
        if (rc > 0 || strcmp(p->status, "ok") != 0)
            break;
        char *err_text = NULL;
        files_read(err_path, &err_text, NULL, NULL);
        int whole = engine_output_complete(&st->en, c->r.engine, st->s.workloads[c->r.workload].kind, err_text);
        free(err_text);
        if (whole) {
            judge_probe(st, c, out, err_path, p);
            break;
        }
        if (attempt == 2) { /* llama.cpp's logger cut the end: once more, then give up */
            p->status = "incomplete";
            break;
        }
    }
    record_probe(st, c, phase, p, id);
    return 0;
}

/* ---- the search of one case -------------------------------------------------------- */

static uint64_t round_mib(uint64_t bytes, int up)
{
    uint64_t m = 1u << 20;
    return up ? (bytes + m - 1) / m * m : bytes / m * m;
}

static void curve_row(struct lstate *st, const struct lcase *c, const struct lprobe *p)
{
    FILE *f = fopen(st->curve, "a");
    if (!f)
        return;
    case_columns(f, &st->s, c);
    fprintf(f, ",%.0f,%s,%.3f,%lld,%.1f,%.1f,%.1f,%.3f\n", (double)p->limit / MIB, p->status, p->wall_s,
            (long long)p->majflt, p->read_bytes > 0 ? (double)p->read_bytes / MIB : 0.0,
            p->cg_peak > 0 ? (double)p->cg_peak / MIB : 0.0, (double)c->ref_peak / MIB, c->ref_wall_s);
    fclose(f);
}

/* Finds the case's minimum; writes its minlimit.csv row (and curve rows).
 * Returns 0 found, 1 not found, -1 interrupted. */
static int search_case(struct lstate *st, struct lcase *c)
{
    struct lprobe p, at_min;
    memset(&at_min, 0, sizeof at_min);
    const char *verdict = "found";
    uint64_t min = 0;
    int n0 = (int)st->n_probes;
    if (probe(st, c, 0, "reference", &p) < 0)
        return -1;
    if (strcmp(p.status, "ok") != 0 || p.cg_peak <= 0) {
        verdict = "the reference run failed";
        goto row;
    }
    c->ref_wall_s = p.wall_s, c->ref_peak = (uint64_t)p.cg_peak;
    c->ref_maxrss_kib = p.maxrss_kib, c->ref_read_bytes = p.read_bytes;
    curve_row(st, c, &p);
    /* the top: the reference's own peak, raised until a run completes there */
    uint64_t hi = round_mib(c->ref_peak, 1), lo = 0;
    for (int k = 0;; k++) {
        if (probe(st, c, hi, "search", &p) < 0)
            return -1;
        if (strcmp(p.status, "ok") == 0)
            break;
        if (k == 3) {
            verdict = "no limit up to 1.33 x the unconstrained peak completed";
            goto row;
        }
        lo = hi, hi = round_mib(hi + hi / 10, 1);
    }
    at_min = p;
    for (;;) {
        uint64_t tol = (uint64_t)((double)hi * st->o->tol_pct / 100.0);
        if (tol < st->o->tol_bytes)
            tol = st->o->tol_bytes;
        if (hi - lo <= tol)
            break;
        uint64_t mid = round_mib(lo + (hi - lo) / 2, 0);
        if (mid <= lo || mid >= hi)
            break;
        if (probe(st, c, mid, "search", &p) < 0)
            return -1;
        if (strcmp(p.status, "ok") == 0)
            hi = mid, at_min = p;
        else
            lo = mid;
    }
    /* confirmed once more at the minimum; a near-limit run may not repeat, so
     * a failure raises it by one bracket step and tries again (3 times) */
    for (int k = 0;; k++) {
        if (probe(st, c, hi, "confirm", &p) < 0)
            return -1;
        if (strcmp(p.status, "ok") == 0) {
            at_min = p;
            break;
        }
        if (k == 2) {
            verdict = "the minimum found did not complete again on confirmation";
            break;
        }
        hi = round_mib(hi + (st->o->tol_bytes > hi / 100 ? st->o->tol_bytes : hi / 100), 1);
    }
    min = hi;
    if (st->o->curve_steps > 1 && strcmp(verdict, "found") == 0) {
        int n = st->o->curve_steps;
        double top = (double)round_mib(c->ref_peak, 1), bottom = 0.95 * (double)min;
        for (int k = 0; k < n; k++) {
            uint64_t l = round_mib((uint64_t)(top - (top - bottom) * k / (n - 1)), 0);
            if (probe(st, c, l, "curve", &p) < 0)
                return -1;
            curve_row(st, c, &p);
        }
    }
row:;
    FILE *f = fopen(st->minlimit, "a");
    if (f) {
        case_columns(f, &st->s, c);
        int found = strcmp(verdict, "found") == 0;
        fprintf(f, ",%.0f,%.1f,%.1f,%.3f,%.3f,%lld,%.1f,%.1f,%d,", found ? (double)min / MIB : -1.0,
                (double)c->ref_peak / MIB, (double)c->ref_maxrss_kib / 1024.0, c->ref_wall_s,
                found ? at_min.wall_s : -1.0, (long long)(found ? at_min.majflt : -1),
                found && at_min.read_bytes > 0 ? (double)at_min.read_bytes / MIB : 0.0,
                c->ref_read_bytes > 0 ? (double)c->ref_read_bytes / MIB : 0.0, (int)st->n_probes - n0);
        csv_field(f, verdict);
        fputc(',', f);
        csv_field(f, c->argv_text);
        fputc('\n', f);
        fclose(f);
    }
    fprintf(stderr, "rbench limit: %s: %s%s", c->key, verdict, strcmp(verdict, "found") == 0 ? "" : "\n");
    if (strcmp(verdict, "found") == 0)
        fprintf(stderr, " %.0f MiB (unconstrained peak %.1f MiB; at the minimum %.2f s vs %.2f s, %lld major faults)\n",
                (double)min / MIB, (double)c->ref_peak / MIB, at_min.wall_s, c->ref_wall_s, (long long)at_min.majflt);
    return strcmp(verdict, "found") == 0 ? 0 : 1;
}

/* ---- the loop over cases ----------------------------------------------------------- */

static enum status write_headers(struct lstate *st, struct err *e)
{
    static const char cols[] = "engine,model,quant,mode,workload,threads,cache";
    char text[1024];
    snprintf(text, sizeof text,
             "%s,min_limit_mib,peak_mib,rss_peak_mib,ref_wall_s,wall_at_min_s,majflt_at_min,read_mib_at_min,"
             "ref_read_mib,probes,verdict,argv\n", cols);
    if (files_write_atomic(st->minlimit, text, strlen(text), e))
        return STATUS_ERR;
    snprintf(text, sizeof text, "%s,limit_mib,status,wall_s,majflt,read_mib,cgroup_peak_mib,peak_mib,ref_wall_s\n",
             cols);
    return files_write_atomic(st->curve, text, strlen(text), e);
}

static enum status write_meta(struct lstate *st, struct err *e)
{
    const char *versions[SWEEP_MAX_ENGINES], *digests[SWEEP_MAX_ENGINES];
    for (int k = 0; k < st->en.n_builds; k++)
        versions[k] = st->en.builds[k].version, digests[k] = st->en.builds[k].digest;
    json_t *meta = results_meta_json(&st->s, versions, digests, "1/1");
    if (!meta)
        return err_set(e, "out of memory");
    json_object_set_new(meta, "type", json_string("limit"));
    json_object_set_new(meta, "cgroup", json_string(st->cg.v2 ? "v2 memory.max" : "v1 memory.limit_in_bytes"));
    json_object_set_new(meta, "tol_pct", json_real(st->o->tol_pct));
    json_object_set_new(meta, "tol_mib", json_real((double)st->o->tol_bytes / MIB));
    json_object_set_new(meta, "slowdown", json_real(st->o->slowdown));
    json_object_set_new(meta, "curve_steps", json_integer(st->o->curve_steps));
    char path[PATH_MAX], *text = json_dumps(meta, JSON_INDENT(2));
    json_decref(meta);
    enum status rc = text && files_join(path, sizeof path, st->dir, "limit.json", e) == STATUS_OK
                         ? files_write_atomic(path, text, strlen(text), e)
                         : STATUS_ERR;
    free(text);
    return rc;
}

static int prepare_case(struct lstate *st, struct lcase *c, struct err *e)
{
    char log[PATH_MAX], skip[256] = "";
    if (files_join(log, sizeof log, st->dir, "out/prepare.log", e) ||
        engine_prepare_model(&st->en, c->r.model, c->r.quant, c->model_path, sizeof c->model_path, log, e))
        return -1;
    if (engine_command(&st->en, &c->r, c->model_path, NULL, &c->cmd, skip, sizeof skip, e))
        return -1;
    if (skip[0]) {
        fprintf(stderr, "rbench limit: %s: skipped: %s\n", c->key, skip);
        return 1;
    }
    /* minillm's own preflight would refuse near the limit before the kernel
     * is asked: the search measures the kernel, not that check */
    if (st->s.engines[c->r.engine].kind == SWEEP_ENGINE_MINILLM && c->cmd.argc < ENGINE_MAX_ARGS) {
        c->cmd.argv[c->cmd.argc++] = (char *)"--no-memory-check";
        c->cmd.argv[c->cmd.argc] = NULL;
    }
    c->argv_text[0] = '\0';
    for (int k = 0; k < c->cmd.argc; k++)
        shell_quote(c->argv_text, sizeof c->argv_text, c->cmd.argv[k]);
    return 0;
}

int limit_run(const struct limit_opts *o)
{
    struct lstate *st = calloc(1, sizeof *st);
    struct lcase *c = calloc(1, sizeof *c);
    struct err e = { "" };
    int rc = 2, lock_fd = -1, any_missing = 0, n_cases = 0, k_case = 0;
    if (!st || !c) {
        fprintf(stderr, "rbench limit: out of memory\n");
        goto out;
    }
    st->o = o;
    if (sweep_load(&st->s, o->sweep_path, &e))
        goto fail;
    if (cgroup_init(&st->cg, 0, &e)) {
        err_set(&e, "%s. The limit search needs a memory cgroup of its own: run as root, or in a delegated cgroup "
                    "(v2 memory.max or v1 memory.limit_in_bytes writable)", e.msg);
        goto fail;
    }
    st->cg.limit = 64u << 20; /* a trial: a cgroup may be creatable where its limit is not settable (v2, busy parent) */
    if (cgroup_create(&st->cg, 0, &e)) {
        err_set(&e, "cannot set a memory limit on a child cgroup: %s", e.msg);
        goto fail;
    }
    cgroup_destroy(&st->cg);
    if (pick_dir(st, &e) || files_lock_dir(st->dir, &lock_fd, &e))
        goto fail;
    char cache_dir[PATH_MAX];
    if (o->cache_dir)
        snprintf(cache_dir, sizeof cache_dir, "%s", o->cache_dir);
    else if (files_join(cache_dir, sizeof cache_dir, o->results_root, "cache", &e))
        goto fail;
    if (engine_init(&st->en, &st->s, o->data_dir, cache_dir, o->self_dir, &e) || write_meta(st, &e) ||
        write_headers(st, &e))
        goto fail;
    size_t n_runs = sweep_n_runs(&st->s);
    struct sweep_run r;
    for (size_t i = 0; i < n_runs; i++) {
        sweep_run_at(&st->s, i, &r);
        n_cases += r.rep == 0 && sweep_run_selected(&st->s, &r);
    }
    fprintf(stderr, "rbench limit: %d cases into %s (cgroup %s; tolerance max(%g %%, %.0f MiB); a probe completes "
                    "when it exits 0, its output is identical and it is within %g x the reference's time)\n",
            n_cases, st->dir, st->cg.v2 ? "v2" : "v1", o->tol_pct, (double)o->tol_bytes / MIB, o->slowdown);
    launch_trap_signals();
    rc = 0;
    for (size_t i = 0; i < n_runs; i++) {
        sweep_run_at(&st->s, i, &r);
        if (r.rep != 0 || !sweep_run_selected(&st->s, &r))
            continue;
        free(c->ref_text);
        memset(c, 0, sizeof *c);
        c->r = r;
        sweep_case_key(&st->s, &r, c->key, sizeof c->key);
        const char *changed = engine_binary_changed(&st->en);
        if (changed) {
            fprintf(stderr, "rbench limit: %s changed during the search (rebuilt?); stopping so one result does not "
                            "mix two builds\n", changed);
            rc = 1;
            goto out;
        }
        fprintf(stderr, "rbench limit: [%d/%d] %s\n", ++k_case, n_cases, c->key);
        int pr = prepare_case(st, c, &e);
        if (pr < 0) {
            fprintf(stderr, "rbench limit: %s: %s\n", c->key, e.msg);
            any_missing = 1;
            continue;
        }
        if (pr > 0)
            continue;
        int f = search_case(st, c);
        if (f < 0 || launch_interrupted()) {
            fprintf(stderr, "rbench limit: interrupted; what was found is in %s\n", st->dir);
            rc = 1;
            goto out;
        }
        any_missing |= f;
    }
    rc = any_missing ? 1 : 0;
    fprintf(stderr, "rbench limit: done: %s/minlimit.csv%s\n", st->dir,
            o->curve_steps > 1 ? ", curve.csv" : "");
    goto out;
fail:
    fprintf(stderr, "rbench limit: %s\n", e.msg);
    rc = 2;
out:
    if (c)
        free(c->ref_text);
    if (lock_fd >= 0)
        close(lock_fd);
    if (st)
        sweep_free(&st->s);
    free(c);
    free(st);
    return rc;
}
