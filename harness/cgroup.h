/* cgroup.h: one memory cgroup per run (root only), for the container-charged
 * peak, its cache/rss split, and runs under a memory limit whose OOM kill is
 * recorded as such. v1 (memory controller under /sys/fs/cgroup/memory) when
 * mounted, else v2 (unified hierarchy with the memory controller). */
#ifndef RB_CGROUP_H
#define RB_CGROUP_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "core/err.h"

struct cgroup {
    int v2;
    char base[1024];     /* our own cgroup, under which runs get children */
    char dir[1200];      /* the current run's cgroup */
    char procs[1300];    /* dir/cgroup.procs: what the child joins */
    uint64_t limit;
};

/* Finds the hierarchy and our place in it; fails (with the reason) when
 * there is no usable memory controller or we may not create cgroups. */
enum status cgroup_init(struct cgroup *cg, uint64_t limit_bytes, struct err *e);

/* Creates the run's cgroup (limit applied); cg->procs is then valid. */
enum status cgroup_create(struct cgroup *cg, size_t run_index, struct err *e);

/* After the run: {"version", "peak_bytes", "rss_bytes", "cache_bytes",
 * "limit_bytes", "oom_kills", "failcnt"} (caller decrefs). */
json_t *cgroup_collect(const struct cgroup *cg);

/* Removes the run's cgroup (its tasks are gone). */
void cgroup_destroy(struct cgroup *cg);
void cgroup_fini(struct cgroup *cg);

#endif
