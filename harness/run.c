/* run.c: the sweep loop. Sections: run directory and resume state, one run,
 * progress, the loop. */
#include "run.h"
#include "cache.h"
#include "cgroup.h"
#include "engine.h"
#include "files.h"
#include "gate.h"
#include "launch.h"
#include "results.h"
#include "spec.h"
#include "summary.h"

#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

/* ---- run directory and resume state ----------------------------------------- */

struct state {
    const struct run_opts *o;
    struct sweep *s;
    struct engine en;
    char dir[PATH_MAX];
    unsigned char *done;       /* per run index: 0 not done, 1 ok, 2 failed, 3 skipped or incomplete */
    char sweep_mismatch;
    json_t *meta_engines;      /* the meta line's engines when resuming (owned) */
    char meta_digest[17];      /* its flat engine_xxh64 (older results) */
    char prep_key[64];         /* model/quant prepared last */
    char model_path[SWEEP_PATH_LEN];
    char prep_error[640];
    struct cgroup cg;
    int use_cgroup;
    int lock_fd;               /* the results directory's lock, held for the whole run */
};

static unsigned char done_code(const char *status)
{
    return strcmp(status, "ok") == 0 ? 1 : strcmp(status, "skipped") == 0 || strcmp(status, "incomplete") == 0 ? 3 : 2;
}

static void on_record(json_t *o, void *ctx)
{
    struct state *st = ctx;
    const char *type = json_string_value(json_object_get(o, "type"));
    if (type && strcmp(type, "meta") == 0) {
        const char *text = json_string_value(json_object_get(o, "sweep_text"));
        if (!text || strcmp(text, st->s->text) != 0)
            st->sweep_mismatch = 1;
        const char *dg = json_string_value(json_object_get(o, "engine_xxh64"));
        if (dg && !st->meta_digest[0])
            snprintf(st->meta_digest, sizeof st->meta_digest, "%s", dg);
        if (!st->meta_engines && json_is_array(json_object_get(o, "engines")))
            st->meta_engines = json_incref(json_object_get(o, "engines"));
        return;
    }
    json_int_t i = json_integer_value(json_object_get(o, "index"));
    const char *status = json_string_value(json_object_get(o, "status"));
    if (i >= 0 && (size_t)i < sweep_n_runs(st->s))
        st->done[i] = done_code(status ? status : "");
}

static int pick_dir(struct state *st, struct err *e)
{
    const struct run_opts *o = st->o;
    char tmp[PATH_MAX];
    if (o->out_dir) {
        snprintf(tmp, sizeof tmp, "%s", o->out_dir);
    } else if (o->name) {
        if (files_join(tmp, sizeof tmp, o->results_root, o->name, e))
            return -1;
    } else if (o->resume) {
        if (files_join(tmp, sizeof tmp, o->results_root, "latest", e))
            return -1;
    } else {
        char stamp[64], base[SWEEP_PATH_LEN], name[PATH_MAX];
        time_t now = time(NULL);
        strftime(stamp, sizeof stamp, "%Y%m%d-%H%M%S", gmtime(&now));
        sweep_model_label(st->s->path, base, sizeof base); /* basename, sans extension below */
        char *dot = strrchr(base, '.');
        if (dot)
            *dot = '\0';
        if (o->shard_n)
            snprintf(name, sizeof name, "%s-%s-shard%dof%d", stamp, base, o->shard_i, o->shard_n);
        else
            snprintf(name, sizeof name, "%s-%s", stamp, base);
        /* unique: two runs started in the same second get NAME and NAME-2 */
        if (files_mkdir_unique(o->results_root, name, tmp, sizeof tmp, e))
            return -1;
    }
    if (files_mkdirs(tmp, e))
        return -1;
    if (!realpath(tmp, st->dir)) {
        err_set(e, "%s: %s", tmp, strerror(errno));
        return -1;
    }
    char sub[PATH_MAX];
    static const char *const subs[] = { "out", "timelines" };
    for (size_t i = 0; i < 2; i++)
        if (files_join(sub, sizeof sub, st->dir, subs[i], e) || files_mkdirs(sub, e))
            return -1;
    /* results/latest -> this run, when it lives in the results root */
    if (!o->out_dir && !(o->resume && !o->name)) {
        char link[PATH_MAX], link_tmp[PATH_MAX + 8];
        const char *base = strrchr(st->dir, '/') + 1;
        if (!files_join(link, sizeof link, o->results_root, "latest", NULL)) {
            snprintf(link_tmp, sizeof link_tmp, "%s.tmp", link);
            unlink(link_tmp);
            if (symlink(base, link_tmp) == 0 && rename(link_tmp, link) != 0)
                unlink(link_tmp);
        }
    }
    return 0;
}

/* ---- one run ------------------------------------------------------------------ */

static void run_file(const struct state *st, size_t index, const char *ext, char *abs, size_t n_abs, char *rel,
                     size_t n_rel)
{
    snprintf(rel, n_rel, "%s/r%05zu%s", strcmp(ext, ".csv") == 0 ? "timelines" : "out", index, ext);
    if ((size_t)snprintf(abs, n_abs, "%s/%s", st->dir, rel) >= n_abs)
        abs[0] = '\0';
}

/* The identity text of a finished run from its saved output. */
static enum status identity_of(const struct state *st, size_t index, int engine, enum sweep_wl kind, char **text,
                               size_t *len, uint64_t *hash, struct err *e)
{
    char out[PATH_MAX], err_path[PATH_MAX], rel[64];
    run_file(st, index, ".out", out, sizeof out, rel, sizeof rel);
    run_file(st, index, ".err", err_path, sizeof err_path, rel, sizeof rel);
    return engine_identity_text(&st->en, engine, kind, out, err_path, text, len, hash, e);
}

static void prepare(struct state *st, const struct sweep_run *r)
{
    char key[64];
    snprintf(key, sizeof key, "%d/%d", r->model, r->quant);
    if (strcmp(key, st->prep_key) == 0)
        return;
    snprintf(st->prep_key, sizeof st->prep_key, "%s", key);
    st->prep_error[0] = '\0';
    char log[PATH_MAX];
    struct err e = { "" };
    if (files_join(log, sizeof log, st->dir, "out/prepare.log", &e) ||
        engine_prepare_model(&st->en, r->model, r->quant, st->model_path, sizeof st->model_path, log, &e))
        snprintf(st->prep_error, sizeof st->prep_error, "preparing the model: %s", e.msg);
}

/* The files of one run, absolute and relative to the run directory. */
struct run_paths {
    char out_abs[PATH_MAX], out_rel[64], err_abs[PATH_MAX], err_rel[64], tl_abs[PATH_MAX], tl_rel[64];
    char mr_abs[PATH_MAX], mr_rel[64], tl_tmp[PATH_MAX + 8];
};

static void run_paths(const struct state *st, size_t index, struct run_paths *p)
{
    run_file(st, index, ".out", p->out_abs, sizeof p->out_abs, p->out_rel, sizeof p->out_rel);
    run_file(st, index, ".err", p->err_abs, sizeof p->err_abs, p->err_rel, sizeof p->err_rel);
    run_file(st, index, ".csv", p->tl_abs, sizeof p->tl_abs, p->tl_rel, sizeof p->tl_rel);
    run_file(st, index, ".mem.json", p->mr_abs, sizeof p->mr_abs, p->mr_rel, sizeof p->mr_rel);
    snprintf(p->tl_tmp, sizeof p->tl_tmp, "%s.tmp", p->tl_abs);
}

/* One launch of the run's command: cold cache, cgroup, launch, status.
 * Returns -1 when rbench was interrupted, 1 when the launch could not happen
 * (rec->reason says why), 0 when it ran (rec->status says how it ended). */
static int launch_once(struct state *st, const struct sweep_run *r, struct engine_cmd *cmd, const struct run_paths *p,
                       struct results_run *rec)
{
    const struct sweep *s = st->s;
    struct err e = { "" };
    json_decref(rec->cgroup);
    rec->cgroup = NULL;
    rec->reason[0] = '\0';
    rec->status = "error";
    if (s->cold[r->cache]) {
        rec->cold = 1;
        if (cache_evict(st->model_path, &rec->cache, &e)) {
            snprintf(rec->reason, sizeof rec->reason, "cold cache: %s", e.msg);
            return 1;
        }
        if (rec->cache.resident_after > 0)
            snprintf(rec->reason, sizeof rec->reason,
                     "eviction incomplete: %lld bytes still cached (another process maps the file?)",
                     (long long)rec->cache.resident_after);
    }
    const char *procs = NULL;
    if (st->use_cgroup) {
        if (cgroup_create(&st->cg, r->index, &e)) {
            snprintf(rec->reason, sizeof rec->reason, "cgroup: %s", e.msg);
            return 1;
        }
        procs = st->cg.procs;
    }
    FILE *tl = fopen(p->tl_tmp, "w");
    if (tl)
        fputs(LAUNCH_TIMELINE_HEADER, tl);
    struct launch_opts lo = { .argv = cmd->argv, .stdout_path = p->out_abs, .stderr_path = p->err_abs,
                              .timeout_s = st->o->timeout_s > 0 ? st->o->timeout_s : s->timeout_s,
                              .timeline = tl, .cgroup_procs = procs, .smaps = s->smaps };
    enum status lst = launch_run(&lo, &rec->m, &e);
    if (tl && fclose(tl) == 0 && lst == STATUS_OK)
        rename(p->tl_tmp, p->tl_abs);
    else
        unlink(p->tl_tmp);
    if (st->use_cgroup) {
        rec->cgroup = cgroup_collect(&st->cg);
        cgroup_destroy(&st->cg);
    }
    if (lst) {
        snprintf(rec->reason, sizeof rec->reason, "%s", e.msg);
        return 1;
    }
    if (rec->m.interrupted)
        return -1;
    int oom = rec->cgroup && json_integer_value(json_object_get(rec->cgroup, "oom_kills")) > 0;
    rec->status = rec->m.timed_out ? "timeout" : oom ? "oom" : rec->m.term_signal ? "signal"
                : rec->m.exit_code != 0 ? "exit" : "ok";
    return 0;
}

/* Whether an ok run printed all its output (llama.cpp's logger can drop the
 * end); also takes the engine's own generation time from its stderr. */
static int output_complete(const struct state *st, const struct sweep_run *r, const struct run_paths *p,
                           double *gen_ms)
{
    char *err_text = NULL;
    files_read(p->err_abs, &err_text, NULL, NULL);
    int ok = engine_output_complete(&st->en, r->engine, st->s->workloads[r->workload].kind, err_text);
    *gen_ms = engine_gen_ms(&st->en, r->engine, err_text);
    free(err_text);
    return ok;
}

/* The identity verdict of an ok run against its reference; 1 when it fails. */
static int gate_run(struct state *st, const struct sweep_run *r, struct results_run *rec, struct err *e)
{
    const struct sweep *s = st->s;
    enum sweep_wl kind = s->workloads[r->workload].kind;
    char *text = NULL, *ref_text = NULL;
    size_t len = 0, ref_len = 0;
    if (identity_of(st, r->index, r->engine, kind, &text, &len, &rec->out_xxh64, e)) {
        rec->status = "error";
        snprintf(rec->reason, sizeof rec->reason, "%s", e->msg);
        return 1;
    }
    if (kind == SWEEP_WL_PERPLEXITY) {
        rec->ppl_text = strndup(text, len);
        rec->ppl = rec->ppl_text ? gate_ppl_final(rec->ppl_text) : -1;
    }
    int failed = 0;
    size_t ref = sweep_identity_ref(s, r);
    struct sweep_run rr;
    sweep_run_at(s, ref, &rr);
    if (ref == r->index) {
        rec->identity = RESULTS_ID_REF;
        /* llama.cpp without repack: record whether repack changes its output */
        size_t rp = sweep_repack_ref(s, r);
        struct sweep_run pr;
        if (rp != SIZE_MAX && st->done[rp] == 1) {
            sweep_run_at(s, rp, &pr);
            if (identity_of(st, rp, pr.engine, kind, &ref_text, &ref_len, NULL, NULL) == STATUS_OK) {
                struct gate_diff d;
                rec->repack_note = gate_compare(ref_text, ref_len, text, len, &d) ? "same" : "differs";
            }
        }
    } else if (st->done[ref] != 1 || identity_of(st, ref, rr.engine, kind, &ref_text, &ref_len, NULL, NULL)) {
        rec->identity = RESULTS_ID_NO_REF;
        failed = 1;
    } else if (gate_compare(ref_text, ref_len, text, len, &rec->diff)) {
        rec->identity = RESULTS_ID_SAME;
    } else {
        rec->identity = RESULTS_ID_DIFFERS;
        failed = 1;
    }
    free(text);
    free(ref_text);
    return failed;
}

/* Whether a failed run failed because the disk was full (ENOSPC, EDQUOT, or
 * EFBIG under RLIMIT_FSIZE) rather than through the engine: its stderr says
 * so. Such a run is not a result; it is not recorded, so --resume reruns it. */
static int hit_full_disk(const struct run_paths *p)
{
    static const char *const says[] = { "No space left on device", "Disk quota exceeded", "File too large" };
    char *text = NULL;
    if (files_read(p->err_abs, &text, NULL, NULL))
        return 0;
    int full = 0;
    for (size_t k = 0; k < sizeof says / sizeof *says && !full; k++)
        full = strstr(text, says[k]) != NULL;
    free(text);
    return full;
}

/* Runs one point and appends its record; returns 1 if it failed or differs,
 * -1 if rbench was interrupted (nothing recorded), -2 if the record could not
 * be written (disk full: the sweep must stop), 0 otherwise. */
static int one_run(struct state *st, const struct sweep_run *r)
{
    const struct sweep *s = st->s;
    struct results_run rec;
    memset(&rec, 0, sizeof rec);
    rec.sweep = s, rec.at = *r, rec.ppl = -1, rec.status = "error", rec.gen_ms = -1;
    struct engine_cmd *cmd = calloc(1, sizeof *cmd);
    struct run_paths *p = calloc(1, sizeof *p);
    struct err e = { "" };
    int failed = 1, rc;

    if (!cmd || !p) {
        snprintf(rec.reason, sizeof rec.reason, "out of memory");
        goto record;
    }
    run_paths(st, r->index, p);
    prepare(st, r);
    if (st->prep_error[0]) {
        snprintf(rec.reason, sizeof rec.reason, "%s", st->prep_error);
        goto record;
    }
    unlink(p->mr_abs);
    int minillm = s->engines[r->engine].kind == SWEEP_ENGINE_MINILLM;
    if (engine_command(&st->en, r, st->model_path, minillm ? p->mr_abs : NULL, cmd, rec.reason, sizeof rec.reason,
                       &e)) {
        snprintf(rec.reason, sizeof rec.reason, "%s", e.msg);
        goto record;
    }
    if (rec.reason[0]) {
        rec.status = "skipped";
        failed = 0;
        goto record;
    }
    rec.argv = cmd->argv;
    rec.stdout_rel = p->out_rel, rec.timeline_rel = p->tl_rel, rec.mem_report_path = p->mr_abs;
    /* An output cut short (llama.cpp's logger) is retried once, then recorded
     * as incomplete: not an identity failure, but not a result either. */
    for (rec.attempts = 1;; rec.attempts++) {
        rc = launch_once(st, r, cmd, p, &rec);
        if (rc < 0) {
            failed = -1;
            goto done;
        }
        if (rc == 0 && strcmp(rec.status, "exit") == 0 && hit_full_disk(p)) {
            fprintf(stderr, "rbench: run %zu: the engine hit a full disk (see %s); not recorded\n", r->index,
                    p->err_rel);
            failed = -2;
            goto done;
        }
        if (rc > 0 || strcmp(rec.status, "ok") != 0)
            goto record;
        if (output_complete(st, r, p, &rec.gen_ms))
            break;
        if (rec.attempts == 2) { /* counted in the summary; not a failure of the engine under test */
            rec.status = "incomplete";
            snprintf(rec.reason, sizeof rec.reason, "output cut short twice (no closing lines in stderr)");
            failed = 0;
            goto record;
        }
        fprintf(stderr, "rbench: run %zu: output cut short; retrying once\n", r->index);
    }
    failed = gate_run(st, r, &rec, &e);

record:;
    json_t *j = results_run_json(&rec);
    if (results_append(st->dir, j, &e)) {
        fprintf(stderr, "rbench: cannot write results: %s\n", e.msg);
        failed = -2;
    }
    json_decref(j);
    if (failed == -2)
        goto done;
    st->done[r->index] = done_code(rec.status);
    char key[1024];
    sweep_case_key(s, r, key, sizeof key);
    if (rec.identity == RESULTS_ID_DIFFERS)
        fprintf(stderr, "rbench: IDENTITY FAIL %s rep %d: first difference at byte %lld\n  ref: \"%s\"\n  new: \"%s\"\n",
                key, r->rep, (long long)rec.diff.offset, rec.diff.ref_ctx, rec.diff.new_ctx);
    if (strcmp(rec.status, "ok") != 0 && strcmp(rec.status, "skipped") != 0)
        fprintf(stderr, "rbench: %s rep %d: %s%s%s\n", key, r->rep, rec.status, rec.reason[0] ? ": " : "", rec.reason);
done:
    free(rec.ppl_text);
    json_decref(rec.cgroup);
    free(cmd);
    free(p);
    return failed;
}

/* ---- progress ------------------------------------------------------------------ */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void progress(const struct state *st, const struct sweep_run *r, size_t i, size_t n, size_t n_new,
                     size_t n_left, double t0, int live)
{
    char key[1024], eta[32] = "";
    sweep_case_key(st->s, r, key, sizeof key);
    if (n_new > 0) {
        double left = (now_s() - t0) / (double)n_new * (double)n_left;
        snprintf(eta, sizeof eta, " ETA %dm%02ds", (int)(left / 60), (int)left % 60);
    }
    if (live)
        fprintf(stderr, "\r\033[K[%zu/%zu] %s rep %d%s", i, n, key, r->rep, eta);
    else
        fprintf(stderr, "[%zu/%zu] %s rep %d%s\n", i, n, key, r->rep, eta);
}

/* ---- the loop ------------------------------------------------------------------ */

static int in_shard(const struct state *st, const struct sweep_run *r)
{
    if (!sweep_run_selected(st->s, r))
        return 0;
    return !st->o->shard_n || (int)(sweep_group_of(st->s, r) % (size_t)st->o->shard_n) == st->o->shard_i - 1;
}

/* --resume must not mix builds: every engine's digest must equal the one the
 * directory was started with. */
static enum status check_same_engines(const struct state *st, struct err *e)
{
    for (int k = 0; k < st->en.n_builds; k++) {
        const char *was = NULL;
        if (st->meta_engines)
            was = json_string_value(json_object_get(json_array_get(st->meta_engines, (size_t)k), "xxh64"));
        else if (k == 0)
            was = st->meta_digest;
        const char *now = st->en.builds[k].digest;
        if (was && *was && strcmp(was, now) != 0)
            return err_set(e, "%s was run with another build of engine %d%s%s (xxh64 %s, now %s); not resuming: start a "
                              "new run",
                           st->dir, k + 1, st->s->engines[k].name[0] ? " " : "", st->s->engines[k].name, was,
                           now[0] ? now : "none");
    }
    return STATUS_OK;
}

/* The directory, its lock and resume state, the engines and the meta line:
 * everything before the first run. */
static enum status sweep_open(struct state *st, struct err *e)
{
    const struct run_opts *o = st->o;
    struct sweep *s = st->s;
    if (sweep_load(s, o->sweep_path, e))
        return STATUS_ERR;
    if (o->reps > 0)
        s->reps = o->reps;
    if (o->mem_limit_bytes)
        s->mem_limit_bytes = o->mem_limit_bytes, s->cgroup = 1;
    if (pick_dir(st, e) || files_lock_dir(st->dir, &st->lock_fd, e))
        return STATUS_ERR;
    size_t n_runs = sweep_n_runs(s);
    if (!(st->done = calloc(n_runs ? n_runs : 1, 1)))
        return err_set(e, "out of memory");
    char jsonl[PATH_MAX];
    if (files_join(jsonl, sizeof jsonl, st->dir, "runs.jsonl", e))
        return STATUS_ERR;
    int have = files_exist(jsonl);
    if (have && !o->resume)
        return err_set(e, "%s already holds a run; use --resume to finish it or another --name", st->dir);
    if (have && results_each(st->dir, 1, on_record, st, e))
        return STATUS_ERR;
    if (st->sweep_mismatch)
        return err_set(e, "%s was run with a different sweep text; not resuming", st->dir);
    char cache_dir[PATH_MAX];
    if (o->cache_dir)
        snprintf(cache_dir, sizeof cache_dir, "%s", o->cache_dir);
    else if (files_join(cache_dir, sizeof cache_dir, o->results_root, "cache", e))
        return STATUS_ERR;
    if (engine_init(&st->en, s, o->data_dir, cache_dir, o->self_dir, e))
        return STATUS_ERR;
    if (s->cgroup) {
        if (cgroup_init(&st->cg, s->mem_limit_bytes, e))
            return STATUS_ERR;
        st->use_cgroup = 1;
    }
    const char *versions[SWEEP_MAX_ENGINES], *digests[SWEEP_MAX_ENGINES];
    for (int k = 0; k < st->en.n_builds; k++)
        versions[k] = st->en.builds[k].version, digests[k] = st->en.builds[k].digest;
    if (have && check_same_engines(st, e))
        return STATUS_ERR;
    if (!have) {
        char shard[32];
        snprintf(shard, sizeof shard, "%d/%d", o->shard_n ? o->shard_i : 1, o->shard_n ? o->shard_n : 1);
        json_t *meta = results_meta_json(s, versions, digests, shard);
        enum status ms = results_append(st->dir, meta, e);
        json_decref(meta);
        if (ms)
            return STATUS_ERR;
    }
    for (int k = 0; k < st->en.n_builds; k++)
        fprintf(stderr, "rbench: %s -> %s (engine %s%s%s, %s)\n", o->sweep_path, st->dir, s->engines[k].name,
                s->engines[k].name[0] ? ": " : "", versions[k], digests[k][0] ? digests[k] : "no digest");
    return STATUS_OK;
}

/* What the loop did: selected and new runs, whether any failed, and why it
 * stopped early (0 it did not, 1 interrupted, 2 an engine binary changed,
 * 3 results could not be written). */
struct sweep_tally {
    size_t n_sel, n_new;
    int any_fail, stopped;
};

/* Every selected run not done yet, block by block (the engines x modes of
 * one case and rep), in the block's order: fixed, or seeded random with the
 * identity references first. */
static enum status sweep_loop(struct state *st, struct sweep_tally *t, struct err *e)
{
    const struct sweep *s = st->s;
    size_t n_runs = sweep_n_runs(s), n_done = 0;
    struct sweep_run r;
    for (size_t i = 0; i < n_runs; i++) {
        sweep_run_at(s, i, &r);
        if (in_shard(st, &r))
            t->n_sel++, n_done += st->done[i] != 0;
    }
    int live = st->o->progress < 0 ? isatty(2) : st->o->progress;
    launch_trap_signals();
    double t0 = now_s();
    size_t pos = n_done, blen = sweep_block_len(s);
    size_t *order = calloc(blen, sizeof *order);
    if (!order)
        return err_set(e, "out of memory");
    for (size_t first = 0; first < n_runs && !t->stopped; first += blen) {
        sweep_block_order(s, first, order);
        for (size_t k = 0; k < blen && !t->stopped; k++) {
            size_t i = order[k];
            sweep_run_at(s, i, &r);
            if (!in_shard(st, &r) || st->done[i])
                continue;
            pos++;
            progress(st, &r, pos, t->n_sel, t->n_new, t->n_sel - pos + 1, t0, live);
            const char *changed = engine_binary_changed(&st->en);
            if (changed) {
                fprintf(stderr, "rbench: %s changed during the sweep (rebuilt?); stopping so one result does not "
                                "mix two builds\n", changed);
                t->stopped = 2;
                break;
            }
            int f = launch_interrupted() ? -1 : one_run(st, &r);
            if (f < 0)
                t->stopped = f == -2 ? 3 : 1;
            else
                t->n_new++, t->any_fail |= f;
        }
    }
    free(order);
    if (live)
        fputs("\r\033[K", stderr);
    for (size_t i = 0; i < n_runs; i++) { /* earlier sessions' failures count too */
        sweep_run_at(s, i, &r);
        if (in_shard(st, &r) && st->done[i] == 2)
            t->any_fail = 1;
    }
    return STATUS_OK;
}

/* Summaries, history and the verdict from the whole directory (resumed parts
 * included); the exit code. */
static int sweep_finish(struct state *st, struct sweep_tally *t)
{
    const struct run_opts *o = st->o;
    struct err e = { "" };
    int write_failed = t->stopped == 3;
    if (summary_write(st->dir, &e)) {
        fprintf(stderr, "rbench: summary: %s\n", e.msg);
        write_failed = 1;
    }
    if (write_failed) {
        fprintf(stderr, "rbench: results could not be written in %s (disk full?); %zu new runs kept; free space, "
                        "then finish with: rbench run %s --out %s --resume\n",
                st->dir, t->n_new, o->sweep_path, st->dir);
        return 1;
    }
    if (t->stopped == 2) {
        fprintf(stderr, "rbench: %zu new runs kept in %s; start a new run for the new engine\n", t->n_new, st->dir);
        return 1;
    }
    if (t->stopped) {
        fprintf(stderr, "rbench: interrupted after %zu new runs; finish with: rbench run %s --out %s --resume\n",
                t->n_new, o->sweep_path, st->dir);
        return 1;
    }
    if (t->n_new && !o->no_history) {
        char hist[PATH_MAX];
        if (files_join(hist, sizeof hist, o->results_root, "history.csv", &e) ||
            summary_append_history(st->dir, hist, &e)) {
            fprintf(stderr, "rbench: history: %s\n", e.msg);
            return 1;
        }
    }
    struct table tb;
    if (table_load(&tb, st->dir, &e) == STATUS_OK) {
        for (size_t i = 0; i < tb.n_cases; i++)
            if (tb.cases[i].n_differs || tb.cases[i].n_no_ref)
                t->any_fail = 1;
        if (!o->quiet)
            summary_markdown(&tb, stdout);
        table_free(&tb);
    }
    fprintf(stderr, "rbench: %zu runs (%zu new) in %s: %s\n", t->n_sel, t->n_new, st->dir,
            t->any_fail ? "FAILURES (see summary.md)" : "all ok, every identity group passes");
    return t->any_fail ? 1 : 0;
}

int run_sweep(const struct run_opts *o)
{
    struct state *st = calloc(1, sizeof *st);
    struct sweep *s = calloc(1, sizeof *s);
    struct sweep_tally t = { 0 };
    struct err e = { "" };
    int rc = 2;
    if (!st || !s) {
        fprintf(stderr, "rbench: out of memory\n");
    } else {
        st->o = o, st->s = s, st->lock_fd = -1;
        if (sweep_open(st, &e) || sweep_loop(st, &t, &e))
            fprintf(stderr, "rbench: %s\n", e.msg);
        else
            rc = sweep_finish(st, &t);
        if (st->use_cgroup)
            cgroup_fini(&st->cg);
        sweep_free(s);
        free(st->done);
        json_decref(st->meta_engines);
        if (st->lock_fd >= 0)
            close(st->lock_fd);
    }
    free(st);
    free(s);
    return rc;
}
