#!/usr/bin/env bash
# in-cgroup.sh: run one command under a memory-cgroup limit, by hand: to rerun
# a minimum that `rbench limit` reported (minlimit.csv's argv column).
#
#   scripts/in-cgroup.sh LIMIT [--cold FILE]... -- COMMAND [ARG...]
#
# LIMIT is bytes or a size with a binary suffix (606M, 2G). --cold FILE drops
# FILE from the page cache first (posix_fadvise DONTNEED), so the run is
# charged for reading it, as rbench limit's cold probes are. The command runs
# in a new child of this shell's memory cgroup (v1 memory.limit_in_bytes under
# /sys/fs/cgroup/memory, else v2 memory.max), with swap off for it; its stdout
# and stderr pass through. Afterwards one line on stderr: the exit status, the
# cgroup's peak and whether it was OOM-killed. Needs root (or a delegated cgroup).
# Exit: the command's own status (128 + signal when killed); 2 on a usage error.
set -euo pipefail
die() { printf 'in-cgroup.sh: %s\n' "$*" >&2; exit 2; }
[ $# -ge 3 ] || die "usage: scripts/in-cgroup.sh LIMIT [--cold FILE]... -- COMMAND [ARG...]"
limit=$1; shift
case "$limit" in
*[kK]) bytes=$(( ${limit%?} * 1024 )) ;;
*[mM]) bytes=$(( ${limit%?} * 1024 * 1024 )) ;;
*[gG]) bytes=$(( ${limit%?} * 1024 * 1024 * 1024 )) ;;
*[0-9]) bytes=$limit ;;
*) die "LIMIT: expected bytes or a size like 606M, got '$limit'" ;;
esac
cold=()
while [ $# -gt 0 ] && [ "$1" != "--" ]; do
    case "$1" in
    --cold) [ $# -ge 2 ] || die "--cold needs a file"; cold+=("$2"); shift 2 ;;
    *) die "unknown option '$1' (the command goes after --)" ;;
    esac
done
[ "${1:-}" = "--" ] && [ $# -ge 2 ] || die "no command after --"
shift

if [ -f /sys/fs/cgroup/memory/memory.usage_in_bytes ]; then
    ver=1 rel=$(awk -F: '$2 ~ /(^|,)memory(,|$)/ { print $3 }' /proc/self/cgroup)
    base=/sys/fs/cgroup/memory${rel%/}
elif [ -f /sys/fs/cgroup/cgroup.controllers ]; then
    ver=2 rel=$(awk -F: '$1 == "0" { print $3 }' /proc/self/cgroup)
    base=/sys/fs/cgroup${rel%/}
    echo +memory >"$base/cgroup.subtree_control" 2>/dev/null || true
else
    die "no memory cgroup controller (v1 /sys/fs/cgroup/memory or v2 /sys/fs/cgroup)"
fi
cg=$base/in-cgroup-$$
mkdir "$cg" 2>/dev/null || die "cannot create $cg (root, or a delegated cgroup, is needed)"
trap 'rmdir "$cg" 2>/dev/null || true' EXIT
if [ $ver = 1 ]; then
    echo "$bytes" >"$cg/memory.limit_in_bytes"
    echo 0 >"$cg/memory.swappiness" 2>/dev/null || true
else
    echo "$bytes" >"$cg/memory.max"
    echo 0 >"$cg/memory.swap.max" 2>/dev/null || true
fi
for f in "${cold[@]}"; do
    python3 -c 'import os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)' "$f" || die "cannot evict $f"
done
rc=0
sh -c 'echo $$ >"$1/cgroup.procs" && shift && exec "$@"' in-cgroup "$cg" "$@" || rc=$?
if [ $ver = 1 ]; then
    peak=$(cat "$cg/memory.max_usage_in_bytes") oom=$(awk '$1 == "oom_kill" { print $2 }' "$cg/memory.oom_control")
else
    peak=$(cat "$cg/memory.peak" 2>/dev/null || echo -1) oom=$(awk '$1 == "oom_kill" { print $2 }' "$cg/memory.events")
fi
printf 'in-cgroup.sh: exit %d under %s (cgroup v%d): peak %.1f MiB, OOM kills %s\n' "$rc" "$limit" "$ver" \
    "$(awk -v b="$peak" 'BEGIN { print b / 1048576 }')" "${oom:-0}" >&2
exit $rc
