/* proc.h: readers for /proc/<pid>/status, /proc/<pid>/io and /proc/<pid>/smaps.
 *
 * status and io are cheap (~0.1 ms) and safe to poll; a field the kernel does
 * not show reads as -1. smaps walks the page tables of every mapping (16-47 ms
 * on a 2 GiB process, taking the child's mmap lock for reading), so launch.c
 * reads it only when the RSS has grown or half a second has passed; it is
 * folded here into the per-mapping view: the file holding the most Rss, all
 * file-backed Rss, all anonymous Rss and the largest anonymous mappings.
 * smaps_rollup is never read. */
#ifndef RB_PROC_H
#define RB_PROC_H

#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

#include "core/err.h"

struct proc_status {
    int64_t vm_rss_kib, vm_hwm_kib, rss_anon_kib, rss_file_kib, rss_shmem_kib;
};

struct proc_io {
    int64_t rchar, read_bytes, write_bytes;
};

#define PROC_SMAPS_N_ANON 3
#define PROC_SMAPS_PATH_LEN 1024 /* longer paths are cut */

struct proc_smaps_vma {
    char start[24];             /* start address in hex, as the kernel prints it */
    int64_t size_kib, rss_kib;
};

/* One read of smaps, folded. A file-backed mapping has a path starting with
 * '/' (shared memory and memfds included); an anonymous one has no path, or is
 * [heap], [stack] or [anon:NAME]; [vdso] and the like count in rss_kib only. */
struct proc_smaps {
    int n_vmas;
    int64_t rss_kib;            /* Rss of every mapping */
    int64_t file_rss_kib;       /* Rss of the file-backed mappings */
    int64_t anon_rss_kib;       /* the Anonymous: lines summed (private copies of file pages too) */
    int64_t top_file_rss_kib;   /* Rss summed over the mappings of the file holding the most */
    char top_file[PROC_SMAPS_PATH_LEN]; /* "" when nothing file-backed is resident */
    int n_anon;                 /* entries in anon */
    struct proc_smaps_vma anon[PROC_SMAPS_N_ANON]; /* largest Rss first */
};

/* Reads /proc/<pid>/status. A zombie has no memory lines: all stay -1.
 * Fails only when the file cannot be opened (process gone). */
enum status proc_status_read(pid_t pid, struct proc_status *st, struct err *e);

/* Reads /proc/<pid>/io; works on a zombie not yet reaped. */
enum status proc_io_read(pid_t pid, struct proc_io *io, struct err *e);

/* Reads and folds /proc/<pid>/smaps into out (a zombie's is empty: n_vmas 0).
 * Fails only when the file cannot be opened or read. No allocation beyond
 * the stdio stream's. */
enum status proc_smaps_read(pid_t pid, struct proc_smaps *out, struct err *e);

/* Folds smaps text from f into out. Lines it does not know, and header lines
 * that do not parse, are skipped; a line longer than the buffer is cut. */
void proc_smaps_parse(FILE *f, struct proc_smaps *out);

#endif
