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
#include <time.h>
#include <unistd.h>
#include <xxhash.h>

/* ---- run directory and resume state ----------------------------------------- */

struct state {
    const struct run_opts *o;
    struct sweep *s;
    struct engine en;
    char dir[PATH_MAX];
    unsigned char *done;       /* per run index: 0 not done, 1 ok, 2 failed, 3 skipped */
    char sweep_mismatch;
    char engine_digest[17];    /* from the meta line when resuming */
    char prep_key[64];         /* model/quant prepared last */
    char model_path[SWEEP_PATH_LEN];
    char prep_error[640];
    struct cgroup cg;
    int use_cgroup;
};

static unsigned char done_code(const char *status)
{
    return strcmp(status, "ok") == 0 ? 1 : strcmp(status, "skipped") == 0 ? 3 : 2;
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
        if (dg && !st->engine_digest[0])
            snprintf(st->engine_digest, sizeof st->engine_digest, "%s", dg);
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
        if (files_join(tmp, sizeof tmp, o->results_root, name, e))
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
static enum status identity_of(const struct state *st, size_t index, enum sweep_wl kind, char **text, size_t *len,
                               uint64_t *hash, struct err *e)
{
    char abs[PATH_MAX], rel[64], *out, *err_text = NULL;
    size_t n_out, n_err = 0;
    run_file(st, index, ".out", abs, sizeof abs, rel, sizeof rel);
    if (files_read(abs, &out, &n_out, e))
        return STATUS_ERR;
    if (hash)
        *hash = XXH64(out, n_out, 0);
    if (kind == SWEEP_WL_PERPLEXITY && engine_ppl_in_stderr(&st->en)) {
        run_file(st, index, ".err", abs, sizeof abs, rel, sizeof rel);
        if (files_read(abs, &err_text, &n_err, NULL) == STATUS_OK) {
            char *both = realloc(out, n_out + n_err + 1);
            if (both) {
                memcpy(both + n_out, err_text, n_err + 1);
                out = both, n_out += n_err;
            }
            free(err_text);
        }
    }
    enum status rc = gate_identity_text(kind, out, n_out, text, len, e);
    free(out);
    return rc;
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

/* Runs one point and appends its record; returns 1 if it failed or differs,
 * -1 if rbench was interrupted (nothing recorded), -2 if the record could not
 * be written (disk full: the sweep must stop), 0 otherwise. */
static int one_run(struct state *st, const struct sweep_run *r)
{
    const struct sweep *s = st->s;
    struct results_run rec;
    memset(&rec, 0, sizeof rec);
    rec.sweep = s, rec.at = *r, rec.ppl = -1, rec.status = "error";
    struct engine_cmd *cmd = calloc(1, sizeof *cmd);
    char out_abs[PATH_MAX], out_rel[64], err_abs[PATH_MAX], err_rel[64], tl_abs[PATH_MAX], tl_rel[64];
    char mr_abs[PATH_MAX], mr_rel[64], tl_tmp[PATH_MAX + 8];
    run_file(st, r->index, ".out", out_abs, sizeof out_abs, out_rel, sizeof out_rel);
    run_file(st, r->index, ".err", err_abs, sizeof err_abs, err_rel, sizeof err_rel);
    run_file(st, r->index, ".csv", tl_abs, sizeof tl_abs, tl_rel, sizeof tl_rel);
    run_file(st, r->index, ".mem.json", mr_abs, sizeof mr_abs, mr_rel, sizeof mr_rel);
    snprintf(tl_tmp, sizeof tl_tmp, "%s.tmp", tl_abs);
    const struct sweep_workload *w = &s->workloads[r->workload];
    struct err e = { "" };
    int failed = 1;
    char *text = NULL, *ref_text = NULL;
    size_t len = 0, ref_len = 0;

    if (!cmd) {
        snprintf(rec.reason, sizeof rec.reason, "out of memory");
        goto record;
    }
    prepare(st, r);
    if (st->prep_error[0]) {
        snprintf(rec.reason, sizeof rec.reason, "%s", st->prep_error);
        goto record;
    }
    unlink(mr_abs);
    int minillm = s->engine == SWEEP_ENGINE_MINILLM;
    if (engine_command(&st->en, r, st->model_path, minillm ? mr_abs : NULL, cmd, rec.reason, sizeof rec.reason, &e)) {
        snprintf(rec.reason, sizeof rec.reason, "%s", e.msg);
        goto record;
    }
    if (rec.reason[0]) {
        rec.status = "skipped";
        failed = 0;
        goto record;
    }
    if (s->cold[r->cache]) {
        rec.cold = 1;
        if (cache_evict(st->model_path, &rec.cache, &e)) {
            snprintf(rec.reason, sizeof rec.reason, "cold cache: %s", e.msg);
            goto record;
        }
        if (rec.cache.resident_after > 0)
            snprintf(rec.reason, sizeof rec.reason,
                     "eviction incomplete: %lld bytes still cached (another process maps the file?)",
                     (long long)rec.cache.resident_after);
    }
    const char *procs = NULL;
    if (st->use_cgroup) {
        if (cgroup_create(&st->cg, r->index, &e)) {
            snprintf(rec.reason, sizeof rec.reason, "cgroup: %s", e.msg);
            goto record;
        }
        procs = st->cg.procs;
    }
    FILE *tl = fopen(tl_tmp, "w");
    if (tl)
        fputs(LAUNCH_TIMELINE_HEADER, tl);
    struct launch_opts lo = { .argv = cmd->argv, .stdout_path = out_abs, .stderr_path = err_abs,
                              .timeout_s = st->o->timeout_s > 0 ? st->o->timeout_s : s->timeout_s,
                              .timeline = tl, .cgroup_procs = procs };
    enum status lst = launch_run(&lo, &rec.m, &e);
    if (tl && fclose(tl) == 0 && lst == STATUS_OK)
        rename(tl_tmp, tl_abs);
    else
        unlink(tl_tmp);
    if (st->use_cgroup) {
        rec.cgroup = cgroup_collect(&st->cg);
        cgroup_destroy(&st->cg);
    }
    if (lst) {
        snprintf(rec.reason, sizeof rec.reason, "%s", e.msg);
        goto record;
    }
    if (rec.m.interrupted) {
        json_decref(rec.cgroup);
        free(cmd);
        return -1;
    }
    rec.argv = cmd->argv;
    rec.stdout_rel = out_rel, rec.timeline_rel = tl_rel, rec.mem_report_path = mr_abs;
    int oom = rec.cgroup && json_integer_value(json_object_get(rec.cgroup, "oom_kills")) > 0;
    if (rec.m.timed_out)
        rec.status = "timeout";
    else if (oom)
        rec.status = "oom";
    else if (rec.m.term_signal)
        rec.status = "signal";
    else if (rec.m.exit_code != 0)
        rec.status = "exit";
    else
        rec.status = "ok";
    if (strcmp(rec.status, "ok") != 0)
        goto record;

    /* identity gate */
    if (identity_of(st, r->index, w->kind, &text, &len, &rec.out_xxh64, &e)) {
        rec.status = "error";
        snprintf(rec.reason, sizeof rec.reason, "%s", e.msg);
        goto record;
    }
    if (w->kind == SWEEP_WL_PERPLEXITY) {
        rec.ppl_text = strndup(text, len);
        rec.ppl = rec.ppl_text ? gate_ppl_final(rec.ppl_text) : -1;
    }
    size_t ref = sweep_group_ref(s, r);
    failed = 0;
    if (ref == r->index) {
        rec.identity = RESULTS_ID_REF;
    } else if (st->done[ref] != 1 || identity_of(st, ref, w->kind, &ref_text, &ref_len, NULL, NULL)) {
        rec.identity = RESULTS_ID_NO_REF;
        failed = 1;
    } else if (gate_compare(ref_text, ref_len, text, len, &rec.diff)) {
        rec.identity = RESULTS_ID_SAME;
    } else {
        rec.identity = RESULTS_ID_DIFFERS;
        failed = 1;
    }

record:;
    json_t *j = results_run_json(&rec);
    if (results_append(st->dir, j, &e)) {
        fprintf(stderr, "rbench: cannot write results: %s\n", e.msg);
        json_decref(j);
        free(text);
        free(ref_text);
        free(rec.ppl_text);
        json_decref(rec.cgroup);
        free(cmd);
        return -2;
    }
    json_decref(j);
    st->done[r->index] = done_code(rec.status);
    if (rec.identity == RESULTS_ID_DIFFERS) {
        char key[1024];
        sweep_case_key(s, r, key, sizeof key);
        fprintf(stderr, "rbench: IDENTITY FAIL %s rep %d: first difference at byte %lld\n  ref: \"%s\"\n  new: \"%s\"\n",
                key, r->rep, (long long)rec.diff.offset, rec.diff.ref_ctx, rec.diff.new_ctx);
    }
    if (strcmp(rec.status, "ok") != 0 && strcmp(rec.status, "skipped") != 0) {
        char key[1024];
        sweep_case_key(s, r, key, sizeof key);
        fprintf(stderr, "rbench: %s rep %d: %s%s%s\n", key, r->rep, rec.status, rec.reason[0] ? ": " : "", rec.reason);
    }
    free(text);
    free(ref_text);
    free(rec.ppl_text);
    json_decref(rec.cgroup);
    free(cmd);
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

int run_sweep(const struct run_opts *o)
{
    struct state *st = calloc(1, sizeof *st);
    struct sweep *s = calloc(1, sizeof *s);
    struct err e = { "" };
    int rc = 2;
    if (!st || !s) {
        fprintf(stderr, "rbench: out of memory\n");
        goto out;
    }
    st->o = o, st->s = s;
    if (sweep_load(s, o->sweep_path, &e))
        goto fail;
    if (o->reps > 0)
        s->reps = o->reps;
    if (o->mem_limit_bytes)
        s->mem_limit_bytes = o->mem_limit_bytes, s->cgroup = 1;
    if (pick_dir(st, &e))
        goto fail;
    size_t n_runs = sweep_n_runs(s);
    if (!(st->done = calloc(n_runs ? n_runs : 1, 1))) {
        err_set(&e, "out of memory");
        goto fail;
    }
    char jsonl[PATH_MAX];
    if (files_join(jsonl, sizeof jsonl, st->dir, "runs.jsonl", &e))
        goto fail;
    int have = files_exist(jsonl);
    if (have && !o->resume) {
        err_set(&e, "%s already holds a run; use --resume to finish it or another --name", st->dir);
        goto fail;
    }
    if (have && results_each(st->dir, 1, on_record, st, &e))
        goto fail;
    if (st->sweep_mismatch) {
        err_set(&e, "%s was run with a different sweep text; not resuming", st->dir);
        goto fail;
    }
    char cache_dir[PATH_MAX];
    if (o->cache_dir)
        snprintf(cache_dir, sizeof cache_dir, "%s", o->cache_dir);
    else if (files_join(cache_dir, sizeof cache_dir, o->results_root, "cache", &e))
        goto fail;
    if (engine_init(&st->en, s, o->data_dir, cache_dir, o->self_dir, &e))
        goto fail;
    if (s->cgroup) {
        if (cgroup_init(&st->cg, s->mem_limit_bytes, &e))
            goto fail;
        st->use_cgroup = 1;
    }
    if (!have) {
        char shard[32];
        snprintf(shard, sizeof shard, "%d/%d", o->shard_n ? o->shard_i : 1, o->shard_n ? o->shard_n : 1);
        json_t *meta = results_meta_json(s, st->en.version, st->en.digest, shard);
        enum status ms = results_append(st->dir, meta, &e);
        json_decref(meta);
        if (ms)
            goto fail;
    }
    fprintf(stderr, "rbench: %s -> %s (engine %s)\n", o->sweep_path, st->dir, st->en.version);

    size_t n_sel = 0, n_done = 0;
    struct sweep_run r;
    for (size_t i = 0; i < n_runs; i++) {
        sweep_run_at(s, i, &r);
        if (in_shard(st, &r))
            n_sel++, n_done += st->done[i] != 0;
    }
    int live = o->progress < 0 ? isatty(2) : o->progress;
    launch_trap_signals();
    double t0 = now_s();
    size_t pos = n_done, n_new = 0;
    int any_fail = 0, interrupted = 0;
    for (size_t i = 0; i < n_runs && !interrupted; i++) {
        sweep_run_at(s, i, &r);
        if (!in_shard(st, &r) || st->done[i])
            continue;
        pos++;
        progress(st, &r, pos, n_sel, n_new, n_sel - pos + 1, t0, live);
        if (engine_binary_changed(&st->en)) {
            fprintf(stderr, "rbench: the engine binary changed during the sweep (rebuilt?); stopping so one result "
                            "does not mix two engines\n");
            interrupted = 2;
            break;
        }
        int f = launch_interrupted() ? -1 : one_run(st, &r);
        if (f < 0)
            interrupted = f == -2 ? 3 : 1;
        else
            n_new++, any_fail |= f;
    }
    if (live)
        fputs("\r\033[K", stderr);
    /* Earlier sessions' failures count too. */
    for (size_t i = 0; i < n_runs; i++) {
        sweep_run_at(s, i, &r);
        if (in_shard(st, &r) && st->done[i] == 2)
            any_fail = 1;
    }
    if (st->use_cgroup)
        cgroup_fini(&st->cg);
    int write_failed = interrupted == 3;
    if (summary_write(st->dir, &e)) {
        fprintf(stderr, "rbench: summary: %s\n", e.msg);
        write_failed = 1;
    }
    if (write_failed) {
        fprintf(stderr, "rbench: results could not be written in %s (disk full?); %zu new runs kept; free space, "
                        "then finish with: rbench run %s --out %s --resume\n",
                st->dir, n_new, o->sweep_path, st->dir);
        rc = 1;
        goto out;
    }
    if (interrupted == 2) {
        fprintf(stderr, "rbench: %zu new runs kept in %s; start a new run for the new engine\n", n_new, st->dir);
        rc = 1;
        goto out;
    }
    if (interrupted) {
        fprintf(stderr, "rbench: interrupted after %zu new runs; finish with: rbench run %s --out %s --resume\n",
                n_new, o->sweep_path, st->dir);
        rc = 1;
        goto out;
    }
    if (n_new && !o->no_history) {
        char hist[PATH_MAX];
        if (files_join(hist, sizeof hist, o->results_root, "history.csv", &e) ||
            summary_append_history(st->dir, hist, &e)) {
            fprintf(stderr, "rbench: history: %s\n", e.msg);
            rc = 1;
            goto out;
        }
    }
    /* verdicts from the whole directory, resumed parts included */
    struct table t;
    if (table_load(&t, st->dir, &e) == STATUS_OK) {
        for (size_t i = 0; i < t.n_cases; i++)
            if (t.cases[i].n_differs || t.cases[i].n_no_ref)
                any_fail = 1;
        if (!o->quiet)
            summary_markdown(&t, stdout);
        table_free(&t);
    }
    fprintf(stderr, "rbench: %zu runs (%zu new) in %s: %s\n", n_sel, n_new, st->dir,
            any_fail ? "FAILURES (see summary.md)" : "all ok, every identity group passes");
    rc = any_fail ? 1 : 0;
    goto out;
fail:
    fprintf(stderr, "rbench: %s\n", e.msg);
out:
    if (s)
        sweep_free(s);
    if (st)
        free(st->done);
    free(st);
    free(s);
    return rc;
}
