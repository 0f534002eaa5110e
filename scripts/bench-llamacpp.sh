#!/usr/bin/env bash
# bench-llamacpp.sh: what `make bench-llamacpp` runs after `make llamacpp`:
# one sweep, three engines (minillm, stock llama.cpp, llama.cpp with PR #24156),
# and the PR's table measured on llama.cpp itself.
#
#   scripts/bench-llamacpp.sh [--sweep FILE] [--name NAME]
#
#   1. the LLAMA_* and LLAMA_PR_* paths from scripts/get-llamacpp.sh (which
#      builds both trees into $RB_CACHE_DIR once, then reuses them);
#   2. rbench run harness/sweeps/llamacpp.sweep into results/NAME (default
#      llamacpp-<UTC time>; results/latest points at it);
#   3. scripts/llamacpp-table.py: the table (llamacpp-table.md in the run
#      directory, printed), and plots/engines.gp: peak RSS per engine x mode
#      (plots/engines.png and .svg in the run directory).
# Environment: RB_REPS overrides the sweep's reps; see bench-lib.sh for the rest.
# Exit: 0 every identity group that must pass passed and no run failed; 1
# otherwise (named in the table's FAILED list); 2 could not run.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh

sweep=harness/sweeps/llamacpp.sweep
name=llamacpp-$(stamp)
while [ $# -gt 0 ]; do
    case "$1" in
    --sweep) sweep=$2; shift ;;
    --name) name=$2; shift ;;
    -h|--help) awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "$0"; exit 0 ;;
    *) die "unknown option $1 (see --help)" ;;
    esac
    shift
done
need gnuplot:gnuplot-nox python3:python3 jq:jq
[ -x "$RBENCH" ] && [ -x "$MINILLM" ] || die "$RBENCH or $MINILLM missing: run make first"

echo "== bench-llamacpp: the llama.cpp builds (scripts/get-llamacpp.sh)"
envs=$(scripts/get-llamacpp.sh) || die "scripts/get-llamacpp.sh failed (make llamacpp says why)"
while IFS= read -r line; do
    case "$line" in
    "export LLAMA_"*=*) v=${line#export }; export "${v%%=*}=${v#*=}" ;;
    esac
done <<<"$envs"
for v in LLAMA_COMPLETION LLAMA_PERPLEXITY LLAMA_PR_COMPLETION LLAMA_PR_PERPLEXITY; do
    [ -x "${!v:-}" ] || die "$v is not an executable (${!v:-unset}); run make llamacpp"
done

echo "== bench-llamacpp: $sweep -> $RB_RESULTS/$name"
opts=(--quiet)
[ -z "${RB_REPS:-}" ] || opts+=(--reps "$RB_REPS")
[ -t 1 ] || opts+=(--progress plain)
rc=0
run_sweep "$sweep" "$name" "${opts[@]}" || rc=$?
[ $rc -le 1 ] || die "rbench run could not run the sweep (exit $rc)"
dir=$RB_RESULTS/$name

trc=0
python3 scripts/llamacpp-table.py "$dir" --plot-data "$dir/engines.txt" >"$dir/llamacpp-table.md" || trc=$?
[ $trc -le 1 ] || die "llamacpp-table.py could not read $dir"

# Plot: one block per model; x = engine index, the modes' bars side by side.
mkdir -p "$dir/plots"
engines=$(jq -r 'select(.type == "meta") | [.engines[].name] | join(" ")' "$dir/runs.jsonl" | awk 'NR == 1')
modes="mmap mmap+reclaim read mlock no-repack"
awk -v engines="$engines" -v modes="$modes" '
    BEGIN { ne = split(engines, E, " "); nm = split(modes, M, " ")
            for (i = 1; i <= ne; i++) ei[E[i]] = i - 1; for (i = 1; i <= nm; i++) mi[M[i]] = i - 1 }
    { if (!($1 in seen)) { seen[$1] = ++n; order[n] = $1 }
      rows[$1] = rows[$1] sprintf("%.4f %d %d %s %s %s\n", ei[$2] + (mi[$3] - (nm - 1) / 2) * 0.8 / nm, ei[$2], mi[$3], $2, $3, $4) }
    END { for (k = 1; k <= n; k++) printf "%s%s", (k > 1 ? "\n\n" : ""), rows[order[k]] }
' "$dir/engines.txt" >"$dir/plots/engines.dat"
models=$(awk '!s[$1]++ { printf "%s%s", (n++ ? " " : ""), $1 }' "$dir/engines.txt")
if [ -s "$dir/plots/engines.dat" ]; then
    for fmt in png svg; do
        gnuplot -e "data='$dir/plots/engines.dat'; models='$models'; engines='$engines'; modes='$modes'" \
            -e "title='Peak RSS per engine and mode (completion: -c 4096; stories260K -c 2048)'; fmt='$fmt'; out='$dir/plots/engines'" \
            -e "w=$((420 * $(echo "$models" | wc -w) + 200)); h=560" plots/engines.gp ||
            say "bench-llamacpp: gnuplot failed for $fmt"
    done
fi
cat "$dir/llamacpp-table.md"
echo
echo "bench-llamacpp: $dir/llamacpp-table.md, $dir/plots/engines.png; sweep exit $rc, table exit $trc"
[ $rc = 0 ] && [ $trc = 0 ]
