#!/usr/bin/env bash
# hyperfine.sh RUN_DIR: times `minillm complete` per memory mode with
# hyperfine (warmup, then several runs), for one model of a finished sweep.
#
# The commands are the sweep's own: for each mode of the chosen `complete`
# group, rep 0's argv from runs.jsonl without --mem-report. The group is
# $RB_HYPERFINE_MODEL's (a model name as in the sweep, e.g. gen:llama-3.2-1b),
# else the one with the largest peak RSS. Writes RUN_DIR/hyperfine.json
# (hyperfine's export) and RUN_DIR/hyperfine.csv (mode, mean_ms, stddev_ms,
# min_ms, max_ms, runs), which plots.sh folds into report.md.
# Environment: RB_HYPERFINE_RUNS (3), RB_HYPERFINE_WARMUP (1).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh
need hyperfine:hyperfine jq:jq
dir=${1:?usage: hyperfine.sh RUN_DIR}
runs=$dir/runs.jsonl
[ -f "$runs" ] || die "$runs: no such file"

# The group: model|quant of the complete case with the largest median peak RSS.
model=${RB_HYPERFINE_MODEL:-}
group=$(jq -rs --arg model "$model" '
    [ .[] | select(.type == "run" and .status == "ok" and .workload == "complete"
                   and ($model == "" or .model == $model)) ]
    | group_by(.group)
    | map({group: .[0].group, rss: (map(.maxrss_kib) | sort | .[length / 2 | floor])})
    | max_by(.rss) | .group // empty' "$runs")
[ -n "$group" ] || die "no successful complete runs${model:+ of $model} in $runs"

# name<TAB>command per mode, in the sweep's mode order.
cmds=$(jq -rs --arg g "$group" '
    [ .[] | select(.type == "run" and .group == $g and .rep == 0 and .status == "ok") ]
    | sort_by(.index) | .[]
    | [ .mode,
        ([ .argv as $a | range(0; $a | length)
           | select($a[.] != "--mem-report" and (. == 0 or $a[. - 1] != "--mem-report")) | $a[.] ]
         | @sh) ] | @tsv' "$runs")

# The engine and model must be on this machine (a merged run may come from others).
for f in $(jq -r --arg g "$group" 'select(.type == "run" and .group == $g and .rep == 0 and .status == "ok")
                                  | .argv[0], .argv[(.argv | index(["-m"])) + 1]' "$runs" | sort -u); do
    [ -e "$f" ] || { echo "hyperfine: skipped: $f is not on this machine"; exit 0; }
done

args=()
while IFS=$'\t' read -r mode cmd; do
    args+=(-n "$mode" "$cmd")
done <<<"$cmds"
echo "hyperfine: $group, $(grep -c . <<<"$cmds") modes, warmup ${RB_HYPERFINE_WARMUP:-1}, runs ${RB_HYPERFINE_RUNS:-3}"
hyperfine --style basic --warmup "${RB_HYPERFINE_WARMUP:-1}" --runs "${RB_HYPERFINE_RUNS:-3}" \
    --export-json "$dir/hyperfine.json" "${args[@]}"

jq -r --arg g "$group" '
    "group,mode,mean_ms,stddev_ms,min_ms,max_ms,runs",
    def ms: . * 10000 | round / 10;
    (.results[] | [ $g, .command, (.mean | ms), (.stddev // 0 | ms), (.min | ms), (.max | ms),
                    (.times | length) ] | @csv)' "$dir/hyperfine.json" >"$dir/hyperfine.csv"
echo "hyperfine: wrote $dir/hyperfine.json and $dir/hyperfine.csv"
