/* memlimit.c: reads the three limits of memlimit.h. All reads are best
 * effort: a limit that cannot be read is not applied. */
#include "core/memlimit.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

static uint64_t read_u64_file(const char *path)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return UINT64_MAX;
    char buf[64] = {0};
    uint64_t v = UINT64_MAX;
    if (fgets(buf, sizeof buf, f) && strncmp(buf, "max", 3) != 0) {
        char *end;
        unsigned long long x = strtoull(buf, &end, 10);
        if (end != buf)
            v = x;
    }
    fclose(f);
    return v;
}

/* The field `key` of a "key value" file (kB when scale is 1024). */
static uint64_t read_field(const char *path, const char *key, uint64_t scale)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return UINT64_MAX;
    char line[256];
    uint64_t v = UINT64_MAX;
    size_t n = strlen(key);
    while (fgets(line, sizeof line, f))
        if (!strncmp(line, key, n)) {
            v = strtoull(line + n, NULL, 10) * scale;
            break;
        }
    fclose(f);
    return v;
}

/* The cgroup's page cache on the file LRU lists (memory.stat, bytes): clean
 * file pages, the model's own mapping among them, that the kernel can drop
 * under the limit. Shared memory and locked pages sit on other lists and are
 * not counted. 0 if memory.stat cannot be read. */
static uint64_t file_lru(const char *stat_path, const char *active, const char *inactive)
{
    uint64_t a = read_field(stat_path, active, 1), i = read_field(stat_path, inactive, 1);
    return (a == UINT64_MAX ? 0 : a) + (i == UINT64_MAX ? 0 : i);
}

/* This process's cgroup limit less its usage, v2 or v1; the usage counts the
 * reclaimable file cache as free. */
static uint64_t cgroup_headroom(void)
{
    FILE *f = fopen("/proc/self/cgroup", "r");
    if (!f)
        return UINT64_MAX;
    char line[1024], path[1200];
    uint64_t room = UINT64_MAX;
    while (fgets(line, sizeof line, f)) {
        line[strcspn(line, "\n")] = 0;
        char *c1 = strchr(line, ':'), *c2 = c1 ? strchr(c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c1 = *c2 = 0;
        const char *ctrl = c1 + 1, *cg = c2 + 1;
        uint64_t lim = UINT64_MAX, use = 0, file = 0;
        if (!strcmp(line, "0") && !*ctrl) { /* v2 */
            snprintf(path, sizeof path, "/sys/fs/cgroup%s/memory.max", cg);
            lim = read_u64_file(path);
            snprintf(path, sizeof path, "/sys/fs/cgroup%s/memory.current", cg);
            use = read_u64_file(path);
            snprintf(path, sizeof path, "/sys/fs/cgroup%s/memory.stat", cg);
            file = file_lru(path, "active_file ", "inactive_file ");
        } else if (strstr(ctrl, "memory")) { /* v1 */
            snprintf(path, sizeof path, "/sys/fs/cgroup/memory%s/memory.limit_in_bytes", cg);
            lim = read_u64_file(path);
            snprintf(path, sizeof path, "/sys/fs/cgroup/memory%s/memory.usage_in_bytes", cg);
            use = read_u64_file(path);
            snprintf(path, sizeof path, "/sys/fs/cgroup/memory%s/memory.stat", cg);
            file = file_lru(path, "total_active_file ", "total_inactive_file ");
        }
        if (lim == UINT64_MAX || lim >= (UINT64_C(1) << 60))
            continue; /* unlimited */
        if (use == UINT64_MAX)
            use = 0;
        use = use > file ? use - file : 0; /* the kernel evicts clean file cache before it OOM-kills */
        uint64_t r = lim > use ? lim - use : 0;
        if (r < room)
            room = r;
    }
    fclose(f);
    return room;
}

uint64_t memlimit_headroom(const char **which)
{
    uint64_t best = UINT64_MAX;
    const char *name = "none";
    struct rlimit rl;
    if (getrlimit(RLIMIT_AS, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY) {
        uint64_t vm = read_field("/proc/self/status", "VmSize:", 1024);
        uint64_t room = vm != UINT64_MAX && vm < rl.rlim_cur ? rl.rlim_cur - vm : 0;
        if (room < best)
            best = room, name = "RLIMIT_AS";
    }
    uint64_t cg = cgroup_headroom();
    if (cg < best)
        best = cg, name = "the memory cgroup's limit";
    uint64_t avail = read_field("/proc/meminfo", "MemAvailable:", 1024);
    if (avail < best)
        best = avail, name = "MemAvailable";
    if (which)
        *which = name;
    return best;
}

enum status memlimit_check(uint64_t need, const char *what, struct err *e)
{
    const char *which;
    uint64_t room = memlimit_headroom(&which);
    if (need <= room)
        return STATUS_OK;
    return err_set(e, "not enough memory: %s needs %.1f MiB but %s leaves %.1f MiB (--no-memory-check skips this "
                      "check)", what, (double)need / 1048576.0, which, (double)room / 1048576.0);
}
