/* results.c: run and meta records as JSON, and runs.jsonl I/O.
 * Sections: run record, meta record, jsonl append/read. */
#include "results.h"
#include "files.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

const char *const results_identity_names[] = { "none", "ref", "same", "differs", "no-ref" };

/* ---- run record ------------------------------------------------------------- */

static void set_int(json_t *o, const char *k, int64_t v)
{
    json_object_set_new(o, k, json_integer((json_int_t)v));
}

static json_t *mem_report(const char *path)
{
    char *text;
    if (!path || files_read(path, &text, NULL, NULL))
        return NULL;
    json_error_t je;
    json_t *j = json_loads(text, 0, &je);
    if (!j) /* keep what the engine wrote even if it is not JSON */
        j = json_pack("{s:s, s:s}", "unparsed", text, "error", je.text);
    free(text);
    return j;
}

json_t *results_run_json(const struct results_run *r)
{
    const struct sweep *s = r->sweep;
    const struct sweep_run *a = &r->at;
    char key[2048], group[2048], label[SWEEP_PATH_LEN];
    sweep_case_key(s, a, key, sizeof key);
    sweep_group_key(s, a, group, sizeof group);
    sweep_model_label(s->models[a->model], label, sizeof label);
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string("run"));
    set_int(o, "index", (int64_t)a->index);
    json_object_set_new(o, "case", json_string(key));
    json_object_set_new(o, "group", json_string(group));
    json_object_set_new(o, "model", json_string(label));
    json_object_set_new(o, "quant", json_string(s->quants[a->quant]));
    json_object_set_new(o, "workload", json_string(s->workloads[a->workload].name));
    set_int(o, "threads", s->threads[a->threads]);
    json_object_set_new(o, "cache", json_string(s->cold[a->cache] ? "cold" : "warm"));
    json_object_set_new(o, "mode", json_string(s->modes[a->mode].name));
    if (s->engines[a->engine].name[0])
        json_object_set_new(o, "engine", json_string(s->engines[a->engine].name));
    set_int(o, "rep", a->rep);
    if (r->attempts > 1)
        set_int(o, "attempts", r->attempts);
    if (r->gen_ms >= 0 && strcmp(r->status, "ok") == 0)
        json_object_set_new(o, "gen_ms", json_real(r->gen_ms));
    if (r->repack_note)
        json_object_set_new(o, "repack_changes_output", json_boolean(strcmp(r->repack_note, "differs") == 0));
    json_object_set_new(o, "status", json_string(r->status));
    if (r->reason[0])
        json_object_set_new(o, "reason", json_string(r->reason));
    json_object_set_new(o, "identity", json_string(results_identity_names[r->identity]));
    if (r->identity == RESULTS_ID_DIFFERS) {
        json_object_set_new(o, "diff", json_pack("{s:I, s:s, s:s}", "offset", (json_int_t)r->diff.offset,
                                                 "ref", r->diff.ref_ctx, "new", r->diff.new_ctx));
    }
    if (r->argv) {
        json_t *av = json_array();
        for (char *const *p = r->argv; *p; p++)
            json_array_append_new(av, json_string(*p));
        json_object_set_new(o, "argv", av);
        const struct launch_result *m = &r->m;
        set_int(o, "exit_code", m->exit_code);
        set_int(o, "signal", m->term_signal);
        set_int(o, "wall_ns", m->wall_ns);
        set_int(o, "utime_us", m->utime_us);
        set_int(o, "stime_us", m->stime_us);
        set_int(o, "maxrss_kib", m->maxrss_kib);
        set_int(o, "sampled_peak_kib", m->sampled_peak_kib);
        set_int(o, "hwm_kib", m->hwm_kib);
        set_int(o, "minflt", m->minflt);
        set_int(o, "majflt", m->majflt);
        set_int(o, "inblock", m->inblock);
        set_int(o, "oublock", m->oublock);
        set_int(o, "read_bytes", m->read_bytes);
        set_int(o, "rchar", m->rchar);
        set_int(o, "nvcsw", m->nvcsw);
        set_int(o, "nivcsw", m->nivcsw);
        set_int(o, "n_samples", m->n_samples);
        if (m->smaps_peak.have || m->smaps_last.have) { /* launch.h: the per-mapping view */
            json_t *sm = json_object();
            const struct launch_smaps *snap[] = { &m->smaps_peak, &m->smaps_last };
            const char *names[] = { "peak", "last" };
            for (int i = 0; i < 2; i++) {
                const struct launch_smaps *p = snap[i];
                if (!p->have)
                    continue;
                json_t *so = json_object(), *an = json_array();
                set_int(so, "t_ms", p->t_ms);
                set_int(so, "vm_rss_kib", p->vm_rss_kib);
                set_int(so, "file_rss_kib", p->m.file_rss_kib);
                json_t *tf = json_string(p->m.top_file); /* NULL if not UTF-8 */
                json_object_set_new(so, "top_file", tf ? tf : json_string("(path not UTF-8)"));
                set_int(so, "top_file_rss_kib", p->m.top_file_rss_kib);
                set_int(so, "anon_rss_kib", p->m.anon_rss_kib);
                for (int k = 0; k < p->m.n_anon; k++)
                    json_array_append_new(an, json_pack("{s:s, s:I, s:I}", "start", p->m.anon[k].start, "size_kib",
                                                        (json_int_t)p->m.anon[k].size_kib, "rss_kib",
                                                        (json_int_t)p->m.anon[k].rss_kib));
                json_object_set_new(so, "largest_anon", an);
                json_object_set_new(sm, names[i], so);
            }
            set_int(sm, "n_reads", m->n_smaps_reads);
            set_int(sm, "read_us", m->smaps_read_ns / 1000);
            json_object_set_new(o, "smaps", sm);
        }
        char hex[17];
        snprintf(hex, sizeof hex, "%016llx", (unsigned long long)r->out_xxh64);
        json_object_set_new(o, "out_xxh64", json_string(hex));
    }
    if (r->stdout_rel)
        json_object_set_new(o, "stdout", json_string(r->stdout_rel));
    if (r->timeline_rel)
        json_object_set_new(o, "timeline", json_string(r->timeline_rel));
    if (r->ppl_text)
        json_object_set_new(o, "ppl_text", json_string(r->ppl_text));
    if (r->ppl >= 0)
        json_object_set_new(o, "ppl", json_real(r->ppl));
    if (r->cold)
        json_object_set_new(o, "cold", json_pack("{s:I, s:I, s:I, s:b}", "file_bytes", (json_int_t)r->cache.file_bytes,
                                                 "resident_before_evict", (json_int_t)r->cache.resident_before,
                                                 "resident_at_start", (json_int_t)r->cache.resident_after,
                                                 "evicted", r->cache.resident_after == 0));
    if (r->cgroup)
        json_object_set(o, "cgroup", r->cgroup);
    json_t *mr = mem_report(r->mem_report_path);
    if (mr)
        json_object_set_new(o, "mem_report", mr);
    return o;
}

/* ---- meta record ------------------------------------------------------------ */

static void cmd_line(const char *cmd, char *out, size_t n)
{
    out[0] = '\0';
    FILE *p = popen(cmd, "r");
    if (!p)
        return;
    if (fgets(out, (int)n, p))
        out[strcspn(out, "\n")] = '\0';
    pclose(p);
}

static void file_field(const char *path, const char *key, char *out, size_t n)
{
    out[0] = '\0';
    FILE *f = fopen(path, "r");
    char line[512];
    size_t k = strlen(key);
    while (f && fgets(line, sizeof line, f)) {
        if (strncmp(line, key, k) == 0) {
            char *v = strchr(line, ':');
            if (v) {
                v++;
                v += strspn(v, " \t");
                v[strcspn(v, "\n")] = '\0';
                snprintf(out, n, "%s", v);
            }
            break;
        }
    }
    if (f)
        fclose(f);
}

json_t *results_meta_json(const struct sweep *s, const char *const *versions, const char *const *digests,
                          const char *shard)
{
    struct utsname u;
    char host[256] = "", cpu[256], mem[64], commit[128], dirty[8], boot[64] = "";
    time_t now = time(NULL);
    char stamp[32];
    strftime(stamp, sizeof stamp, "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
    uname(&u);
    gethostname(host, sizeof host - 1);
    file_field("/proc/cpuinfo", "model name", cpu, sizeof cpu);
    file_field("/proc/meminfo", "MemTotal", mem, sizeof mem);
    FILE *bf = fopen("/proc/sys/kernel/random/boot_id", "r");
    if (bf) { /* one boot of one machine: a time baseline is only valid within it */
        if (fgets(boot, sizeof boot, bf))
            boot[strcspn(boot, "\n")] = '\0';
        fclose(bf);
    }
    cmd_line("git rev-parse HEAD 2>/dev/null", commit, sizeof commit);
    cmd_line("git status --porcelain --untracked-files=no 2>/dev/null | head -c1 | wc -c", dirty, sizeof dirty);
    json_t *o = json_object();
    json_object_set_new(o, "type", json_string("meta"));
    json_object_set_new(o, "started", json_string(stamp));
    json_object_set_new(o, "machine", json_pack("{s:s, s:s, s:s, s:s, s:s, s:I, s:s, s:s}", "host", host, "kernel",
                                                u.release, "arch", u.machine, "os", u.sysname, "cpu", cpu, "cpus",
                                                (json_int_t)sysconf(_SC_NPROCESSORS_ONLN), "mem_total", mem,
                                                "boot_id", boot));
    json_object_set_new(o, "git_commit", json_string(commit));
    json_object_set_new(o, "git_dirty", json_boolean(atoi(dirty) > 0));
    json_object_set_new(o, "engine", json_string(sweep_engine_kind_name(s->engines[0].kind)));
    json_object_set_new(o, "engine_version", json_string(versions[0]));
    json_object_set_new(o, "engine_xxh64", json_string(digests[0]));
    json_t *ens = json_array();
    for (int k = 0; k < s->n_engines; k++)
        json_array_append_new(ens, json_pack("{s:s, s:s, s:s, s:s, s:s}", "name", s->engines[k].name, "kind",
                                             sweep_engine_kind_name(s->engines[k].kind), "identity",
                                             s->engines[k].identity, "version", versions[k], "xxh64", digests[k]));
    json_object_set_new(o, "engines", ens);
    json_object_set_new(o, "order", json_string(s->order_random ? "random" : "fixed"));
    set_int(o, "seed", (int64_t)s->seed);
    json_object_set_new(o, "sweep_path", json_string(s->path));
    json_object_set_new(o, "sweep_text", json_string(s->text));
    json_object_set_new(o, "shard", json_string(shard ? shard : "1/1"));
    set_int(o, "n_runs", (int64_t)sweep_n_selected(s));
#ifdef __SANITIZE_ADDRESS__
    json_object_set_new(o, "sanitized_build", json_true()); /* figures inflated by ASan */
#endif
    return o;
}

/* ---- jsonl ------------------------------------------------------------------ */

enum status results_append(const char *dir, json_t *obj, struct err *e)
{
    char path[4096];
    if (files_join(path, sizeof path, dir, "runs.jsonl", e))
        return STATUS_ERR;
    char *line = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII);
    if (!line)
        return err_set(e, "cannot encode a run record");
    size_t n = strlen(line);
    char *nl = realloc(line, n + 2);
    if (!nl) {
        free(line);
        return err_set(e, "out of memory");
    }
    nl[n] = '\n', nl[n + 1] = '\0';
    enum status st = files_append_line(path, nl, e);
    free(nl);
    return st;
}

enum status results_each(const char *dir, int trim, void (*fn)(json_t *obj, void *ctx), void *ctx, struct err *e)
{
    char path[4096];
    if (files_join(path, sizeof path, dir, "runs.jsonl", e))
        return STATUS_ERR;
    if (trim && files_trim_torn(path, e))
        return STATUS_ERR;
    char *text;
    size_t len;
    if (files_read(path, &text, &len, e))
        return STATUS_ERR;
    /* Strict: a NUL byte, or (when not trimming, as compare and merge read) a
     * last line without its newline, is a damaged file, never a shorter one. */
    const char *nul = memchr(text, '\0', len);
    if (nul) {
        int line = 1;
        for (const char *q = text; q < nul; q++)
            line += *q == '\n';
        err_set(e, "%s:%d: a NUL byte at offset %zu: the file is damaged", path, line, (size_t)(nul - text));
        free(text);
        return STATUS_ERR;
    }
    if (!trim && len && text[len - 1] != '\n') {
        int line = 1;
        for (size_t i = 0; i < len; i++)
            line += text[i] == '\n';
        err_set(e, "%s:%d: the last line has no newline (cut short by a crash? rbench run --resume trims it)", path,
                line);
        free(text);
        return STATUS_ERR;
    }
    char *end = strrchr(text, '\n'); /* a torn last line is not a record yet */
    if (end)
        end[1] = '\0';
    else
        text[0] = '\0';
    int lineno = 0;
    enum status st = STATUS_OK;
    for (char *save = NULL, *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        lineno++;
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        if (!o || !json_is_object(o)) {
            json_decref(o);
            st = err_set(e, "%s:%d: expected a JSON object: %s", path, lineno, je.text);
            break;
        }
        fn(o, ctx);
        json_decref(o);
    }
    free(text);
    return st;
}
