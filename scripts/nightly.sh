#!/usr/bin/env bash
# nightly.sh [--from DIR]: what `make nightly` (and the scheduled CI job) runs.
#
# A bench run named nightly-<UTC time> that appends to results/history.csv
# and history-tps.csv, compared with a reference and gated:
#   reference = results/baselines/<machine class>/ when committed (make
#               baseline), else the last nightly run that passed
#               (results/nightly-last); the very first nightly has none and
#               becomes the reference.
# Exit 0 when every run is ok, every identity group passes and rbench compare
# finds no regression (identity, failures, perplexity, peak RSS, time); then
# results/nightly-last moves to this run. Exit 1 otherwise, naming what
# regressed; 2 when it could not run. RB_DISABLE_RECLAIM=1 runs the engine
# without reclaim (a deliberate memory regression, to see the gate fire).
# --from DIR gates a finished run under results/ instead of running the sweep
# (the CI job's merged shards).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh

name=nightly-$(stamp)
from=()
if [ "${1:-}" = --from ]; then
    [ -f "${2:-}/runs.jsonl" ] || die "--from ${2:-}: no runs.jsonl there"
    name=$(basename "$2")
    [ "$RB_RESULTS/$name" -ef "$2" ] || die "--from $2: expected a directory under $RB_RESULTS"
    from=(--from "$2")
fi
last=$RB_RESULTS/nightly-last
base=$(baseline_dir)
[ -n "$base" ] || { [ -f "$last/runs.jsonl" ] && base=$last; } || true
opts=(--history --gate)
if [ ${#from[@]} = 0 ]; then opts+=(--name "$name"); else opts+=("${from[@]}"); fi
if [ -n "$base" ]; then
    opts+=(--base "$base")
    echo "nightly: reference $base"
else
    echo "nightly: no baseline and no earlier nightly; this run becomes the reference"
fi

rc=0
scripts/bench.sh "${opts[@]}" || rc=$?
dir=$RB_RESULTS/$name
if [ $rc = 0 ]; then
    ln -sfn "$name" "$last"
    echo "nightly: PASS${base:+ against $base} ($dir; results/nightly-last -> $name)"
    exit 0
fi
echo "nightly: FAIL (exit $rc): $dir/report.md"
if [ -f "$dir/compare.md" ] && [ -n "$(regressions "$dir/compare.md")" ]; then
    echo "nightly: regressions against $base (rbench compare; all rows in $dir/compare.md):"
    regressions "$dir/compare.md" | sed -n "1,20s/^/  /p"
fi
exit $rc
