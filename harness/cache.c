/* cache.c: mincore residency and fadvise eviction of one file. */
#include "cache.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

enum status cache_residency(const char *path, int64_t *resident, int64_t *file_bytes, struct err *e)
{
    *resident = 0;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return err_set(e, "%s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) < 0) {
        close(fd);
        return err_set(e, "%s: %s", path, strerror(errno));
    }
    *file_bytes = st.st_size;
    if (st.st_size == 0) {
        close(fd);
        return STATUS_OK;
    }
    long page = sysconf(_SC_PAGESIZE);
    size_t len = (size_t)st.st_size, n_pages = (len + (size_t)page - 1) / (size_t)page;
    void *map = mmap(NULL, len, PROT_READ, MAP_SHARED, fd, 0);
    close(fd);
    if (map == MAP_FAILED)
        return err_set(e, "%s: mmap: %s", path, strerror(errno));
    unsigned char *vec = malloc(n_pages);
    enum status rc = STATUS_OK;
    if (!vec)
        rc = err_set(e, "out of memory");
    else if (mincore(map, len, vec) < 0)
        rc = err_set(e, "%s: mincore: %s", path, strerror(errno));
    else
        for (size_t i = 0; i < n_pages; i++)
            *resident += (vec[i] & 1) ? page : 0;
    if (*resident > *file_bytes)
        *resident = *file_bytes; /* the last page is partial */
    free(vec);
    munmap(map, len);
    return rc;
}

enum status cache_evict(const char *path, struct cache_state *cs, struct err *e)
{
    memset(cs, 0, sizeof *cs);
    if (cache_residency(path, &cs->resident_before, &cs->file_bytes, e))
        return STATUS_ERR;
    int fd = open(path, O_RDONLY);
    if (fd < 0)
        return err_set(e, "%s: %s", path, strerror(errno));
    fdatasync(fd); /* dirty pages are not dropped */
    int rc = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    close(fd);
    if (rc != 0)
        return err_set(e, "%s: posix_fadvise: %s", path, strerror(rc));
    return cache_residency(path, &cs->resident_after, &cs->file_bytes, e);
}
