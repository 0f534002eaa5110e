/* files.c: see files.h. Everything here is plain POSIX I/O; the atomic and
 * append paths fsync because results must survive a kill -9 of rbench. */
#include "files.h"

#include <errno.h>
#include <limits.h>
#include <sys/file.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum status files_join(char *buf, size_t n, const char *a, const char *b, struct err *e)
{
    int len = snprintf(buf, n, "%s/%s", a, b);
    if (len < 0 || (size_t)len >= n)
        return err_set(e, "path %s/%s longer than %zu bytes", a, b, n - 1);
    return STATUS_OK;
}

enum status files_mkdirs(const char *path, struct err *e)
{
    char tmp[4096];
    size_t len = strlen(path);
    if (len >= sizeof tmp)
        return err_set(e, "path too long: %s", path);
    memcpy(tmp, path, len + 1);
    for (size_t i = 1; i <= len; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0')
            continue;
        char c = tmp[i];
        tmp[i] = '\0';
        if (mkdir(tmp, 0755) < 0 && errno != EEXIST)
            return err_set(e, "mkdir %s: %s", tmp, strerror(errno));
        tmp[i] = c;
    }
    return STATUS_OK;
}

enum status files_read(const char *path, char **data, size_t *n, struct err *e)
{
    *data = NULL;
    if (n)
        *n = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return err_set(e, "%s: %s", path, strerror(errno));
    size_t len = 0, cap = 4096;
    char *buf = malloc(cap);
    for (;;) {
        if (!buf) {
            close(fd);
            return err_set(e, "%s: out of memory", path);
        }
        if (cap - len < 2) {
            char *nb = realloc(buf, cap * 2);
            if (!nb)
                free(buf);
            buf = nb, cap *= 2;
            continue;
        }
        ssize_t got = read(fd, buf + len, cap - len - 1);
        if (got < 0 && errno == EINTR)
            continue;
        if (got < 0) {
            int er = errno;
            free(buf);
            close(fd);
            return err_set(e, "%s: %s", path, strerror(er));
        }
        if (got == 0)
            break;
        len += (size_t)got;
    }
    close(fd);
    buf[len] = '\0';
    *data = buf;
    if (n)
        *n = len;
    return STATUS_OK;
}

static enum status write_all(int fd, const char *p, size_t n, const char *path, struct err *e)
{
    while (n) {
        ssize_t w = write(fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0)
            return err_set(e, "%s: %s", path, strerror(errno));
        p += w, n -= (size_t)w;
    }
    return STATUS_OK;
}

enum status files_write_atomic(const char *path, const void *data, size_t n, struct err *e)
{
    char tmp[4096];
    if (snprintf(tmp, sizeof tmp, "%s.tmp.%ld", path, (long)getpid()) >= (int)sizeof tmp)
        return err_set(e, "path too long: %s", path);
    int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return err_set(e, "%s: %s", tmp, strerror(errno));
    enum status st = write_all(fd, data, n, tmp, e);
    if (!st && fsync(fd) < 0)
        st = err_set(e, "%s: fsync: %s", tmp, strerror(errno));
    close(fd);
    if (st) {
        unlink(tmp);
        return st;
    }
    if (rename(tmp, path) < 0) {
        int er = errno;
        unlink(tmp);
        return err_set(e, "rename %s: %s", path, strerror(er));
    }
    return STATUS_OK;
}

enum status files_append_line(const char *path, const char *line, struct err *e)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND, 0644);
    if (fd < 0)
        return err_set(e, "%s: %s", path, strerror(errno));
    struct stat sb;
    off_t before = fstat(fd, &sb) == 0 ? sb.st_size : -1;
    enum status st = write_all(fd, line, strlen(line), path, e);
    if (!st && fsync(fd) < 0)
        st = err_set(e, "%s: fsync: %s", path, strerror(errno));
    if (st && before >= 0 && ftruncate(fd, before) == 0) /* leave no torn line behind */
        fsync(fd);
    close(fd);
    return st;
}

enum status files_trim_torn(const char *path, struct err *e)
{
    char *data;
    size_t n;
    if (files_read(path, &data, &n, e))
        return STATUS_ERR;
    size_t keep = n;
    while (keep > 0 && data[keep - 1] != '\n')
        keep--;
    free(data);
    if (keep != n && truncate(path, (off_t)keep) < 0)
        return err_set(e, "truncate %s: %s", path, strerror(errno));
    return STATUS_OK;
}

int files_exist(const char *path)
{
    struct stat st;
    return lstat(path, &st) == 0;
}

enum status files_lock_dir(const char *dir, int *fd, struct err *e)
{
    char path[4096];
    *fd = -1;
    if (files_join(path, sizeof path, dir, ".rbench.lock", e))
        return STATUS_ERR;
    int f = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0644);
    if (f < 0)
        return err_set(e, "%s: %s", path, strerror(errno));
    if (flock(f, LOCK_EX | LOCK_NB) != 0) {
        int busy = errno == EWOULDBLOCK;
        close(f);
        return err_set(e, "%s: %s", dir,
                       busy ? "in use by another rbench (a run, a resume or a merge); wait for it or use another "
                              "--name"
                            : strerror(errno));
    }
    *fd = f;
    return STATUS_OK;
}

enum status files_mkdir_unique(const char *root, const char *name, char *out, size_t n, struct err *e)
{
    if (files_mkdirs(root, e))
        return STATUS_ERR;
    for (int k = 1; k <= 1000; k++) {
        char uniq[PATH_MAX];
        if (k == 1)
            snprintf(uniq, sizeof uniq, "%s", name);
        else if (snprintf(uniq, sizeof uniq, "%s-%d", name, k) >= (int)sizeof uniq)
            return err_set(e, "%s: name too long", name);
        if (files_join(out, n, root, uniq, e))
            return STATUS_ERR;
        if (mkdir(out, 0777) == 0)
            return STATUS_OK;
        if (errno != EEXIST)
            return err_set(e, "cannot create %s: %s", out, strerror(errno));
    }
    return err_set(e, "%s/%s: 1000 names taken", root, name);
}
