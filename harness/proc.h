/* proc.h: readers for /proc/<pid>/status and /proc/<pid>/io.
 *
 * Both are cheap (~0.1 ms) and safe to poll; smaps_rollup is not and is never
 * read here. A field the kernel does not show reads as -1. */
#ifndef RB_PROC_H
#define RB_PROC_H

#include <stdint.h>
#include <sys/types.h>

#include "err.h"

struct proc_status {
    int64_t vm_rss_kib, vm_hwm_kib, rss_anon_kib, rss_file_kib, rss_shmem_kib;
};

struct proc_io {
    int64_t rchar, read_bytes, write_bytes;
};

/* Reads /proc/<pid>/status. A zombie has no memory lines: all stay -1.
 * Fails only when the file cannot be opened (process gone). */
enum status proc_status_read(pid_t pid, struct proc_status *st, struct err *e);

/* Reads /proc/<pid>/io; works on a zombie not yet reaped. */
enum status proc_io_read(pid_t pid, struct proc_io *io, struct err *e);

#endif
