#!/usr/bin/env bash
# bench-memlimit.sh: what `make bench-memlimit` runs: what reclaim buys under a
# memory limit. For each case of harness/sweeps/memlimit.sweep (cold cache)
# and memlimit-warm.sweep (warm cache), the smallest memory-cgroup limit at
# which the run completes (rbench limit), the cost curve below the peak, a
# Markdown table and plots.
#
#   scripts/bench-memlimit.sh [--curve N] [--name NAME] [--no-llamacpp]
#
#   1. llama.cpp and llama.cpp+PR are included when make llamacpp has built
#      them ($RB_CACHE_DIR/llama.cpp and llama.cpp-pr24156); otherwise their
#      engine lines are dropped from a copy of the sweeps, with a line saying so;
#   2. rbench limit on the cold sweep with --curve N (default 4) into
#      results/NAME/cold, then on the warm sweep into results/NAME/warm
#      (NAME default memlimit-<UTC time>);
#   3. scripts/memlimit-report.py: memlimit.md (the table) and the plot data;
#      plots/memlimit.gp: plots/memlimit-MODEL-CACHE.png and .svg (wall time
#      and bytes read against the limit, one line per engine + mode).
# Needs root (or a delegated memory cgroup): rbench limit says so otherwise.
# Exit: 0 every case found its minimum; 1 some did not; 2 could not run.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh

curve=4
name=memlimit-$(stamp)
llama=1
while [ $# -gt 0 ]; do
    case "$1" in
    --curve) curve=$2; shift ;;
    --name) name=$2; shift ;;
    --no-llamacpp) llama=0 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done
need gnuplot:gnuplot-nox python3:python3
[ -x "$RBENCH" ] && [ -x "$MINILLM" ] || die "$RBENCH or $MINILLM missing: run make first"
dir=$RB_RESULTS/$name
[ ! -e "$dir" ] || die "$dir exists; pick another --name"
mkdir -p "$dir/plots"

# The llama.cpp builds, only when already built (building takes ~10 minutes:
# make llamacpp does it).
stock=$RB_CACHE_DIR/llama.cpp/build/bin pr=$RB_CACHE_DIR/llama.cpp-pr24156/build/bin
if [ $llama = 1 ] && [ -x "$stock/llama-completion" ] && [ -x "$pr/llama-completion" ]; then
    export LLAMA_COMPLETION=$stock/llama-completion LLAMA_PERPLEXITY=$stock/llama-perplexity
    export LLAMA_PR_COMPLETION=$pr/llama-completion LLAMA_PR_PERPLEXITY=$pr/llama-perplexity
    say "bench-memlimit: with llama.cpp ($stock) and llama.cpp+PR ($pr)"
else
    say "bench-memlimit: llama.cpp is not built ($([ $llama = 1 ] && echo 'make llamacpp builds it' || echo '--no-llamacpp')):" \
        "minillm only"
fi
for s in memlimit memlimit-warm; do
    if [ -n "${LLAMA_COMPLETION:-}" ]; then
        cp "harness/sweeps/$s.sweep" "$dir/$s.sweep"
    else
        grep -v -E '^engine +(stock|pr) ' "harness/sweeps/$s.sweep" >"$dir/$s.sweep"
    fi
done

rc=0
lim() { "$RBENCH" limit "$1" --out "$2" --cache-dir "$RB_CACHE_DIR/models" --data-dir "$DATA_DIR" "${@:3}"; }
say "== bench-memlimit: cold cache -> $dir/cold"
lim "$dir/memlimit.sweep" "$dir/cold" --curve "$curve" || rc=$?
[ $rc -le 1 ] || die "rbench limit could not run (exit $rc)"
say "== bench-memlimit: warm cache -> $dir/warm"
wrc=0
lim "$dir/memlimit-warm.sweep" "$dir/warm" || wrc=$?
[ $wrc -le 1 ] || die "rbench limit could not run the warm sweep (exit $wrc)"
[ $wrc = 0 ] || rc=1

trc=0
python3 scripts/memlimit-report.py "$dir/cold" "$dir/warm" --plot-dir "$dir/plots" >"$dir/memlimit.md" || trc=$?
[ $trc -le 1 ] || die "memlimit-report.py could not read $dir"
for p in $(cat "$dir/plots/memlimit-panels.txt"); do
    series=$(tr '\n' ' ' <"$dir/plots/memlimit-$p.series")
    for fmt in png svg; do
        gnuplot -e "data='$dir/plots/memlimit-$p.dat'; peaks='$dir/plots/memlimit-$p-peaks.dat'; series='$series'" \
            -e "title='Under a memory cgroup limit: $p (completion, 4 tokens, -c 2048; open circles: no limit)'" \
            -e "fmt='$fmt'; out='$dir/plots/memlimit-$p'; w=1300; h=560" plots/memlimit.gp ||
            say "bench-memlimit: gnuplot failed for $p $fmt"
    done
done
cat "$dir/memlimit.md"
echo
echo "bench-memlimit: $dir/memlimit.md, $dir/plots/memlimit-*.png; minlimit.csv and probes.jsonl in $dir/cold and $dir/warm"
[ $rc = 0 ] && [ $trc = 0 ]
