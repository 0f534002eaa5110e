#!/usr/bin/env bash
# bench.sh: what `make bench` runs after building minillm and rbench and
# linking the data (docs/BENCH.md).
#
#   1. rbench runs harness/sweeps/bench.sweep into results/<UTC time>-bench
#      (results/latest points at it); rbench quantizes and generates the
#      models it needs into $RB_CACHE_DIR/models, once;
#   2. hyperfine times `minillm complete` per mode (scripts/hyperfine.sh);
#   3. rbench compare against the baseline of this machine class
#      (results/baselines/<class>/), when there is one;
#   4. plots and report.md (scripts/plots.sh);
#   5. prints the summary table and where the report and plots are.
#
# bench.sh [--name NAME | --from DIR] [--history] [--base DIR] [--gate] [--sweep FILE]
#   --from DIR skip the sweep: report on a finished run directory (e.g. one
#              made by rbench merge from --shard runs); hyperfine is skipped
#              when the models of its runs are not on this machine
#   --history  append to results/history.csv and history-tps.csv (nightly)
#   --base DIR compare with DIR instead of the committed baseline
#   --gate     exit 1 when the comparison finds a regression (nightly)
#   --check-tools  only check that gnuplot, hyperfine and jq are installed
# Environment: RB_REPS overrides the sweep's reps; RB_NO_TIME_GATE=1 reports
# time changes without failing on them; see also bench-lib.sh.
# Exit: 0 ok; 1 a run failed, an identity group differs, or (--gate) a
# regression; 2 could not run.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh

sweep=harness/sweeps/bench.sweep
name=""
from=""
history=0
base=""
gate=0
while [ $# -gt 0 ]; do
    case "$1" in
    --name) name=$2; shift ;;
    --from) from=$2; shift ;;
    --history) history=1 ;;
    --base) base=$2; shift ;;
    --gate) gate=1 ;;
    --sweep) sweep=$2; shift ;;
    --check-tools) need gnuplot:gnuplot-nox hyperfine:hyperfine jq:jq; exit 0 ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done
need gnuplot:gnuplot-nox hyperfine:hyperfine jq:jq
[ -x "$RBENCH" ] && [ -x "$MINILLM" ] || die "$RBENCH or $MINILLM missing: run make first"
start=$SECONDS
engine_env
rc=0
popts=()
if [ -n "$from" ]; then
    dir=$from
    [ -f "$dir/runs.jsonl" ] || die "$dir/runs.jsonl: no such file"
    echo "== bench: reporting on $dir (machine class $(machine_class))"
    n_bad=$(jq -s '[ .[] | select(.type == "run" and ((.status != "ok" and .status != "skipped")
                                                      or .identity == "differs")) ] | length' "$dir/runs.jsonl")
    [ "$n_bad" = 0 ] || { rc=1; echo "bench: $n_bad failed or differing runs in $dir"; }
    [ $history = 0 ] || popts+=(--append-history --rbench-history)
else
    name=${name:-$(stamp)-$(basename "$sweep" .sweep)}
    dir=$RB_RESULTS/$name
    echo "== bench: $sweep -> $dir (machine class $(machine_class), models cached in $RB_CACHE_DIR/models)"
    opts=(--quiet)
    [ $history = 1 ] || opts+=(--no-history)
    [ -z "${RB_REPS:-}" ] || opts+=(--reps "$RB_REPS")
    [ -t 1 ] || opts+=(--progress plain)
    run_sweep "$sweep" "$name" "${opts[@]}" || rc=$?
    [ $rc -le 1 ] || die "rbench run could not run the sweep (exit $rc)"
    [ -f "$dir/runs.jsonl" ] || die "$dir/runs.jsonl missing"
    [ $history = 0 ] || popts+=(--append-history)
    prune_cache "$dir"
fi

echo "== hyperfine"
scripts/hyperfine.sh "$dir" || say "bench: hyperfine failed; the report has no whole-command timings"

[ -n "$base" ] || base=$(baseline_dir)
crc=0
if [ -n "$base" ]; then
    echo "== compare: $base -> $dir"
    copts=(--md "$dir/compare.md")
    [ "${RB_NO_TIME_GATE:-0}" != 1 ] || copts+=(--no-time-gate)
    "$RBENCH" compare "$base" "$dir" "${copts[@]}" >"$dir/compare.txt" 2>&1 || crc=$?
    case $crc in
    0) verdict="no regression against \`$base\`" ;;
    1) verdict="REGRESSION against \`$base\`: $(regressions "$dir/compare.md" | awk -F': ' '{ sub(/ [+-].*/, "", $2); n[$2]++ }
                     END { for (k in n) printf "%s%d %s", (c++ ? ", " : ""), n[k], k }')" ;;
    *) verdict="could not compare with \`$base\` (rbench compare exit $crc)" ;;
    esac
    # A baseline from another machine (or boot) gates memory, faults, perplexity
    # and identity; its times are information only (rbench compare says so).
    other=$(sed -n 's/^- time not compared: //p' "$dir/compare.md")
    [ -z "$other" ] || verdict="$verdict; time not compared: $other"
    echo "$verdict" >"$dir/compare.verdict"
    echo "compare: $verdict" | tr -d '`'
    [ $crc != 1 ] || regressions "$dir/compare.md" | sed -n "1,20s/^/  /p"
    [ $crc -le 1 ] || tail -n 20 "$dir/compare.txt"
else
    echo "== compare: no baseline for machine class $(machine_class) ($RB_RESULTS/baselines/$(machine_class)); make baseline blesses this run"
fi

echo "== plots"
scripts/plots.sh "$dir" "${popts[@]}"

echo
echo "== summary ($(jq -r '.[0].workload' "$dir/cases.json") workload; every case: $dir/summary.md)"
summary_table "$dir/cases.json" "$(jq -r '.[0].workload' "$dir/cases.json")" \
    "$([ -f "$dir/hyperfine.csv" ] && echo "$dir/hyperfine.csv" || echo /dev/null)"
n_bad=$(jq '[ .[] | select(.identity != "pass") ] | length' "$dir/cases.json")
echo
echo "bench: $(jq length "$dir/cases.json") cases, $n_bad not passing the identity gate; sweep exit $rc; $(( (SECONDS - start) / 60 ))m$(( (SECONDS - start) % 60 ))s"
echo "bench: report $dir/report.md (results/latest/report.md)"
[ $rc = 0 ] || exit 1
[ $gate = 0 ] || [ $crc = 0 ] || exit $(( crc == 1 ? 1 : 2 ))
exit 0
