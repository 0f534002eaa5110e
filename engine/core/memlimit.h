/* memlimit.h: refuse, before allocating, memory the process cannot have.
 *
 * The tightest of three limits is taken: RLIMIT_AS (less what the process
 * already maps), the memory cgroup's limit (v2 memory.max, or v1
 * memory.limit_in_bytes, of this process's cgroup; less its current usage,
 * where the cgroup's clean file cache on the LRU lists counts as free, since
 * the kernel evicts it before it OOM-kills),
 * and MemAvailable. A load that would exceed it fails with a message naming
 * the limit, instead of being OOM-killed later. */
#ifndef MEMLIMIT_H
#define MEMLIMIT_H

#include <stdint.h>

#include "core/err.h"

/* Bytes this process can still allocate and touch, and which limit that is
 * ("RLIMIT_AS", "cgroup memory.max", "MemAvailable"); UINT64_MAX if none is known. */
uint64_t memlimit_headroom(const char **which);

/* STATUS_ERR with a message when `need` bytes for `what` exceed the headroom. */
enum status memlimit_check(uint64_t need, const char *what, struct err *e);

#endif
