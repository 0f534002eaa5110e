/* files.h: the file operations results depend on: whole-file reads, atomic
 * writes (temp + fsync + rename), durable line appends, mkdir -p, path joins.
 * Paths longer than the caller's buffer are errors, never silently cut. */
#ifndef RB_FILES_H
#define RB_FILES_H

#include <stddef.h>

#include "core/err.h"

/* "a/b" into buf; STATUS_ERR when it does not fit. */
enum status files_join(char *buf, size_t n, const char *a, const char *b, struct err *e);

/* mkdir -p; existing directories are fine. */
enum status files_mkdirs(const char *path, struct err *e);

/* Reads the whole file into a new NUL-terminated buffer the caller frees. */
enum status files_read(const char *path, char **data, size_t *n, struct err *e);

/* Writes path.tmp, fsyncs it, renames it over path: readers see the old file
 * or the new one, never a part. */
enum status files_write_atomic(const char *path, const void *data, size_t n, struct err *e);

/* Appends one line (which must end in '\n') with a single write and fsyncs,
 * so a kill leaves at most a torn last line, which files_trim_torn removes. */
enum status files_append_line(const char *path, const char *line, struct err *e);

/* Cuts a trailing partial line (no final '\n') off the file, if any. */
enum status files_trim_torn(const char *path, struct err *e);

/* 1 if the path exists (any type), else 0. */
int files_exist(const char *path);

/* Creates root (and its parents) and then root/NAME, or root/NAME-2,
 * root/NAME-3, ... when taken (mkdir is atomic: two processes never get the
 * same one); the path made goes to out. */
enum status files_mkdir_unique(const char *root, const char *name, char *out, size_t n, struct err *e);

/* Takes the lock of a results directory (DIR/.rbench.lock, flock exclusive,
 * not waiting) for the caller's whole life: *fd holds it; close it (or exit)
 * to release. Fails naming the directory when another rbench holds it. */
enum status files_lock_dir(const char *dir, int *fd, struct err *e);

#endif
