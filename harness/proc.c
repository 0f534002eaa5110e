/* proc.c: line parsers for /proc/<pid>/status and /proc/<pid>/io. Each opens
 * the file, matches "Key:" prefixes and takes the first number after it. */
#include "proc.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

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
