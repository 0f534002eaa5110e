#!/usr/bin/env bash
# baseline.sh [RUN_DIR]: bless a finished bench run (default results/latest)
# as the baseline of this machine class, results/baselines/<class>/, which
# make bench and make nightly then compare against. Deliberate: commit it.
#
# Kept: runs.jsonl (all rbench compare reads; without the memory report's
# per-phase samples), summary.csv, summary.md,
# report.md and hyperfine.csv. Local paths are cut from the run records
# (argv, output file names, the model path in the memory report).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh
need jq:jq
src=${1:-$RB_RESULTS/latest}
[ -f "$src/runs.jsonl" ] || die "$src/runs.jsonl: no such file (run make bench first)"
n_bad=$(jq -s '[ .[] | select(.type == "run" and (.status != "ok" or .identity == "differs")) ] | length' "$src/runs.jsonl")
[ "$n_bad" = 0 ] || die "$src has $n_bad failed or differing runs; a baseline must be clean"

class=$(machine_class)
dst=$RB_RESULTS/baselines/$class
tmp=$dst.tmp.$$
rm -rf "$tmp"
mkdir -p "$tmp"
jq -c 'if .type == "run" then
           del(.argv, .stdout, .timeline, .mem_report.phases?)
           | if .mem_report.model then .mem_report.model |= (split("/") | last) else . end
           | if .mem_report.model_realpath then .mem_report.model_realpath |= (split("/") | last) else . end
           | if .smaps then .smaps |= with_entries(if (.value | type) == "object" and .value.top_file
                                                  then .value.top_file |= (split("/") | last) else . end)
             else . end
       else . end' "$src/runs.jsonl" >"$tmp/runs.jsonl"
for f in summary.csv summary.md report.md hyperfine.csv; do
    [ -f "$src/$f" ] && cp "$src/$f" "$tmp/"
done
# The report's images and local paths do not travel with the baseline.
[ -f "$tmp/report.md" ] && sed -i -e '/^!\[/d' -e '/^\[.*\.svg\](/d' -e 's|run directory: `[^`]*`|run directory: (baseline)|' "$tmp/report.md"
# The commit the baseline measured: make nightly builds it as BASE.
jq -r 'select(.type == "meta") | .git_commit // empty' "$src/runs.jsonl" | awk 'NR == 1' >"$tmp/BASE_COMMIT"
[ -s "$tmp/BASE_COMMIT" ] || rm -f "$tmp/BASE_COMMIT"
rm -rf "$dst"
mv "$tmp" "$dst"
echo "baseline: $(readlink -f "$src" | xargs basename) -> $dst ($(jq -s '[ .[] | select(.type == "run") ] | length' "$dst/runs.jsonl") runs)"
echo "baseline: review and commit it: git add $dst && git commit -m 'results: baseline for $class'"
