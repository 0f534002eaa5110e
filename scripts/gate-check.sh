#!/usr/bin/env bash
# gate-check.sh: how good is the nightly's time gate? Runs harness/sweeps/gate-check.sweep
# N times ("nights") and judges each with rbench compare --paired, as the nightly does:
#   base vs head    the same build twice: any REGRESSION is a false alarm;
#   base vs slow10  a deliberate 10 % slowdown of each generation step: caught?
#
#   scripts/gate-check.sh [--nights N] [--hogs K]
#     --nights N   nights to run (default 10)
#     --hogs K     keep K `yes >/dev/null` processes running meanwhile (default 0)
# RB_GC_PCT=P sets the slowdown of the "slow10" build (default 10).
# Prints one line per night and the counts; the run directories stay under
# results/gate-check-*. Exit 0 when it ran (the counts are the result), 2 if not.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh

nights=10 hogs=0
while [ $# -gt 0 ]; do
    case "$1" in
    --nights) nights=$2; shift ;;
    --hogs) hogs=$2; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done
[ -x "$RBENCH" ] && [ -x "$MINILLM" ] || die "$RBENCH or $MINILLM missing: run make first"
nd=build/gate-check
mkdir -p "$nd"
real=$(cd "$(dirname "$MINILLM")" && pwd)/$(basename "$MINILLM")
wrap() { { echo '#!/bin/sh'; echo "exec env $2 '$real' \"\$@\""; } >"$nd/$1"; chmod +x "$nd/$1"; }
wrap base ""
wrap head ""
wrap slow10 "MINILLM_TEST_SLOWDOWN_PCT=${RB_GC_PCT:-10}"
export RB_GC_BASE=$(pwd)/$nd/base RB_GC_HEAD=$(pwd)/$nd/head RB_GC_SLOW10=$(pwd)/$nd/slow10

pids=()
cleanup() { [ ${#pids[@]} = 0 ] || kill "${pids[@]}" 2>/dev/null || true; }
trap cleanup EXIT
for _ in $(seq 1 "$hogs"); do
    yes >/dev/null &
    pids+=($!)
done
[ "$hogs" = 0 ] || echo "gate-check: $hogs yes hogs running"

fa=0 c10=0 ran=0
stamp0=$(stamp)
for n in $(seq 1 "$nights"); do
    name=gate-check-$stamp0-n$n
    rc=0
    run_sweep harness/sweeps/gate-check.sweep "$name" --quiet --no-history --progress plain >"$nd/$name.log" 2>&1 || rc=$?
    [ $rc -le 1 ] || { tail -n 5 "$nd/$name.log"; die "night $n: rbench run exit $rc"; }
    dir=$RB_RESULTS/$name
    verdict() { # B -> "ok|REGRESSION ratio"
        local r=0 line
        "$RBENCH" compare --paired base "$1" "$dir" --md "$dir/paired-$1.md" >/dev/null 2>&1 || r=$?
        # the group row after its key cell (which holds escaped '|'): pairs, wall ratio, bound, gen ratio, bound
        line=$(grep -F '| gen:llama' "$dir/paired-$1.md" | sed 's/^| [^ ]* |//' |
               awk -F'|' 'NR == 1 { for (i = 2; i <= 5; i++) gsub(/ /, "", $i); print "gen " $4 " (bound " $5 "), wall " $2 " (bound " $3 ")" }')
        echo "$r $line"
    }
    read -r rh wh <<<"$(verdict head)"
    read -r r10 w10 <<<"$(verdict slow10)"
    [ "$rh" != 1 ] || fa=$((fa + 1))
    [ "$r10" != 1 ] || c10=$((c10 + 1))
    ran=$((ran + 1))
    echo "night $n: head vs base exit $rh ($wh); slow10 exit $r10 ($w10); identity $(jq -s '[.[] | select(.type == "run" and .identity == "differs")] | length' "$dir/runs.jsonl") runs differing"
done
echo "gate-check: $ran nights, $hogs hogs: false alarms (head vs base) $fa/$ran; 10 % slowdown caught $c10/$ran"
