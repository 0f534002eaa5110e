/* merge.h: `rbench merge OUT DIR...`: shards of one sweep into one run dir.
 * The shards must share the sweep text; runs.jsonl gets one meta line and
 * every run line (by index, duplicates refused); out/ and timelines/ files
 * are copied (their names carry the run index, so they never collide). */
#ifndef RB_MERGE_H
#define RB_MERGE_H

#include <stddef.h>

#include "core/err.h"

enum status merge_dirs(const char *out, const char *const *dirs, size_t n_dirs, struct err *e);

#endif
