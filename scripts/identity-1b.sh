#!/usr/bin/env bash
# identity-1b.sh: output bytes of a generated Llama-3.2-1B-shaped model are the
# same in every memory mode: load {mmap, read} x mlock {off, on} x reclaim
# {off, dontneed, evict} x reclaim-at {load, end} x repack {on, off} x threads
# {1, 2} (96 runs of `minillm complete`). Prints one line per run and a
# closing "N passed, N failed"; exits 1 on any difference.
#   usage: scripts/identity-1b.sh [TYPE] [N]   (TYPE default q4_0, N tokens default 16)
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
type=${1:-q4_0}
n=${2:-16}
minillm=${MINILLM:-$here/build/release/minillm}
cache=${RB_CACHE_DIR:-${HOME:-/tmp}/.cache/rbench}
[ -x "$minillm" ] || { echo "identity-1b: build first (make)" >&2; exit 1; }
mkdir -p "$cache"
model="$cache/gen-llama-3.2-1b-$type.gguf"
[ -f "$model" ] || "$minillm" gen --shape llama-3.2-1b --type "$type" "$model"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
ref=""
pass=0
fail=0
for load in mmap read; do
  for mlock in off on; do
    for reclaim in off dontneed evict; do
      for at in load end; do
        for repack in on off; do
          for t in 1 2; do
            args=(--load "$load" --reclaim "$reclaim" --reclaim-at "$at" -t "$t")
            [ "$mlock" = on ] && args+=(--mlock)
            [ "$repack" = off ] && args+=(--no-repack)
            out="$tmp/out"
            "$minillm" complete -m "$model" -p "Once upon a time" -n "$n" -c 256 "${args[@]}" >"$out" 2>"$tmp/err"
            sum=$(sha256sum "$out" | cut -c1-16)
            [ -n "$ref" ] || ref=$sum
            if [ "$sum" = "$ref" ]; then verdict=same; pass=$((pass + 1)); else verdict=DIFFERENT; fail=$((fail + 1)); fi
            printf '%-5s mlock=%-3s reclaim=%-8s at=%-4s repack=%-3s t=%s  %s  %s\n' \
                "$load" "$mlock" "$reclaim" "$at" "$repack" "$t" "$sum" "$verdict"
          done
        done
      done
    done
  done
done
echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
