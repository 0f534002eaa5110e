/* cache.h: the page cache around one file, for cold-cache runs.
 *
 * cache_evict() writes back and drops the file's pages with
 * posix_fadvise(POSIX_FADV_DONTNEED), which only drops pages nobody maps, so
 * it then counts what is still resident with mincore(): a non-zero residency
 * after eviction means another process maps the file, and is reported. */
#ifndef RB_CACHE_H
#define RB_CACHE_H

#include <stdint.h>

#include "core/err.h"

struct cache_state {
    int64_t file_bytes;
    int64_t resident_before;  /* bytes in the page cache before evicting */
    int64_t resident_after;   /* ... after: 0 when eviction worked */
};

/* Bytes of the file now in the page cache (mincore over a read-only map). */
enum status cache_residency(const char *path, int64_t *resident, int64_t *file_bytes, struct err *e);

/* Evicts the file and measures before/after. Fails only when the file cannot
 * be opened or mapped; incomplete eviction is a result (resident_after > 0). */
enum status cache_evict(const char *path, struct cache_state *cs, struct err *e);

#endif
