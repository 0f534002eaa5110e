#!/usr/bin/env bash
# plots.sh RUN_DIR [--append-history [--rbench-history]]: the plots (PNG and
# SVG) and report.md of a finished sweep.
#
#   RUN_DIR/cases.json        one object per case: medians, repacked bytes, PPL,
#                             tokens/s (from the engine's log), identity verdict
#   RUN_DIR/plots/*.png|svg   peak_rss, rss_timeline, ppl, history (plots/*.gp)
#   RUN_DIR/plots/data/       the data files gnuplot read
#   RUN_DIR/report.md         summary table, hyperfine timings, comparison with
#                             the baseline (compare.md), the plots, rbench's summary
#
# The history plot reads $RB_RESULTS/history.csv (rbench's, peak RSS) and
# $RB_RESULTS/history-tps.csv (tokens/s per case and run). --append-history
# first adds this run to history-tps.csv, and with --rbench-history to
# history.csv too, in rbench's format (for a run made by `rbench merge`, which
# does not append history itself). Prints the plot paths.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/bench-lib.sh
need gnuplot:gnuplot-nox jq:jq
arg=${1:?usage: plots.sh RUN_DIR [--append-history [--rbench-history]]}
append=0
rbench_history=0
for o in "${@:2}"; do
    case "$o" in
    --append-history) append=1 ;;
    --rbench-history) rbench_history=1 ;;
    *) die "unknown option $o" ;;
    esac
done
[ -f "$arg/runs.jsonl" ] || die "$arg/runs.jsonl: no such file"
dir=$(cd "$arg" && pwd -P)
rel=${dir#"$(pwd -P)"/}
plots=$dir/plots
data=$plots/data
mkdir -p "$data"

# ---- cases.json -------------------------------------------------------------

# Generation speed of each run, from the engine's "generated N tokens ... (X tok/s)".
for f in "$dir"/out/r*.err; do
    [ -e "$f" ] || continue
    i=${f##*/r}
    i=${i%.err}
    sed -n 's/.*generated [0-9]* tokens .*(\([0-9.]*\) tok\/s).*/\1/p' "$f" | awk "NR == 1 { print $((10#$i)), \$0 }"
done >"$data/tps.txt"

jq -s --rawfile tps "$data/tps.txt" '
    def median: sort | if length == 0 then null
                       elif length % 2 == 1 then .[length / 2 | floor]
                       else (.[length / 2 - 1] + .[length / 2]) / 2 end;
    ($tps | split("\n") | map(select(length > 0) | split(" ") | {key: .[0], value: (.[1] | tonumber)})
     | from_entries) as $t
    | [ .[] | select(.type == "run") ] | group_by(.case)
    | map(map(select(.status == "ok")) as $ok
          | { case: .[0].case, group: .[0].group, model: .[0].model, quant: .[0].quant,
              workload: .[0].workload, mode: .[0].mode, threads: .[0].threads,
              first: (map(.index) | min), n_runs: length, n_ok: ($ok | length),
              identity: (if any(.[]; .identity == "differs") then "FAIL"
                         elif any(.[]; .identity == "no-ref") or ($ok | length) < length or ($ok | length) == 0
                         then "n/a" else "pass" end),
              rss_mib: ($ok | map(.maxrss_kib / 1024) | median),
              rss_min: ($ok | map(.maxrss_kib / 1024) | min),
              rss_max: ($ok | map(.maxrss_kib / 1024) | max),
              wall_ms: ($ok | map(.wall_ns / 1e6) | median),
              majflt: ($ok | map(.majflt) | median),
              read_mib: ($ok | map(.read_bytes // empty | select(. >= 0) / 1048576) | median),
              repacked_mib: ($ok | map(.mem_report.plan.repacked_bytes // empty) | median | if . then . / 1048576 else null end),
              reclaimed_mib: ($ok | map(.mem_report.plan.reclaimed_bytes // empty) | median | if . then . / 1048576 else null end),
              predicted_mib: ($ok | map(.mem_report.plan.predicted_peak // empty) | median | if . then . / 1048576 else null end),
              ppl: ($ok | map(.ppl // empty) | first),
              ppl_err: ($ok | map(.ppl_text // empty | capture("\\+/- (?<e>[0-9.]+)").e | tonumber) | first),
              tok_s: ($ok | map($t[.index | tostring] // empty) | median) })
    | sort_by(.first)' "$dir/runs.jsonl" >"$dir/cases.json"

if [ $append = 1 ]; then
    meta=$(head -n1 "$dir/runs.jsonl")
    tps_hist=$RB_RESULTS/history-tps.csv
    [ -f "$tps_hist" ] || echo "started,run_dir,case,tok_s" >"$tps_hist"
    jq -r --argjson m "$meta" --arg d "$(basename "$dir")" \
        '.[] | select(.tok_s != null) | [ $m.started, $d, .case, .tok_s ] | @csv' "$dir/cases.json" >>"$tps_hist"
    if [ $rbench_history = 1 ]; then
        hist=$RB_RESULTS/history.csv
        [ -f "$hist" ] || echo "started,run_dir,git_commit,engine_version,case,n_ok,identity,maxrss_mib,wall_ms,majflt,read_mib,ppl" >"$hist"
        jq -r --argjson m "$meta" --arg d "$(basename "$dir")" '
            def f(p): if . == null then "" else (. * p | round / p | tostring) end;
            .[] | "\($m.started),\($d | @json),\($m.git_commit),\($m.engine_version | @json),\(.case | @json),\(.n_ok),\(.identity),\(.rss_mib | f(1000)),\(.wall_ms | f(1000)),\(.majflt | f(1000)),\(.read_mib | f(1000)),\(.ppl | f(1000000))"' \
            "$dir/cases.json" >>"$hist"
    fi
fi

# words FILTER: the distinct values of a jq expression over cases, in order.
words() { jq -r "[.[] | $1] | reduce .[] as \$x ([]; if index([\$x]) then . else . + [\$x] end) | join(\" \")" "$dir/cases.json"; }
models=$(words .model)
modes=$(words .mode)
workload=$(jq -r '.[0].workload' "$dir/cases.json")

# gp SCRIPT OUT W H VARS...: one plot in both formats.
gp() {
    local script=$1 out=$2 w=$3 h=$4 fmt
    shift 4
    for fmt in png svg; do
        gnuplot -e "fmt='$fmt'; out='$out'; w=$w; h=$h" "$@" "plots/$script.gp"
    done
    made+=("$out.png")
}
made=()

# ---- peak RSS per model x quant, a bar per mode ------------------------------

jq -r --arg w "$workload" --arg modes "$modes" '
    ($modes | split(" ")) as $ms
    | [ .[] | select(.workload == $w) ] as $c
    | [ $c[].model ] | reduce .[] as $m ([]; if index([$m]) then . else . + [$m] end)
    | map(. as $m | [ $c[] | select(.model == $m) ]
          | ([ .[].quant ] | reduce .[] as $q ([]; if index([$q]) then . else . + [$q] end)) as $qs
          | "# \($m)",
            (.[] | (.quant as $q | $qs | index([$q])) as $qi | (.mode as $mo | $ms | index([$mo])) as $mi
             | "\($qi + ($mi - ($ms | length - 1) / 2) * 0.8 / ($ms | length)) \(.quant) \($qi) \($mi) \(.mode) \(.rss_mib) \(.repacked_mib // 0)"),
            "", "")
    | .[]' "$dir/cases.json" >"$data/peak_rss.dat"
nquants=$(for m in $models; do
    jq -r --arg m "$m" --arg w "$workload" '[ .[] | select(.model == $m and .workload == $w) | .quant ] | unique | length' "$dir/cases.json"
done | xargs)
gp peak_rss "$plots/peak_rss" $((500 + 350 * $(wc -w <<<"$models"))) 560 \
    -e "data='$data/peak_rss.dat'; models='$models'; nquants='$nquants'; modes='$modes'" \
    -e "title='Peak RSS per model and weight type, workload $workload ($(basename "$dir"))'"

# ---- RSS over time, one line per mode, of the model with the largest peak ----

tl_group=$(jq -r --arg w "$workload" '[ .[] | select(.workload == $w and .rss_mib != null) ] | max_by(.rss_mib) | .group // empty' "$dir/cases.json")
if [ -n "$tl_group" ]; then
    files=() titles=() i=0
    : >"$data/loads.csv"
    while IFS=$'\t' read -r mode tl out; do
        [ -f "$dir/$tl" ] || continue
        files+=("$dir/$tl")
        titles+=("$mode")
        load_s=$(sed -n 's/^[a-z]*: load \([0-9.]*\) s.*/\1/p' "$dir/${out%.out}.err" 2>/dev/null | awk "NR == 1")
        if [ -n "$load_s" ]; then
            # VmRSS at the sample nearest the end of the load.
            awk -F, -v t="$load_s" -v i=$i 'NR > 1 { d = $1 / 1000 - t; d = d < 0 ? -d : d; if (!n++ || d < best) { best = d; r = $2 } }
                END { if (n) printf "%d,%s,%.1f\n", i, t, r / 1024 }' "$dir/$tl" >>"$data/loads.csv"
        fi
        i=$((i + 1))
    done < <(jq -r --arg g "$tl_group" 'select(.type == "run" and .group == $g and .rep == 0 and .status == "ok" and .timeline)
                                        | [ .mode, .timeline, .stdout ] | @tsv' "$dir/runs.jsonl")
    if [ ${#files[@]} -gt 0 ]; then
        gp rss_timeline "$plots/rss_timeline" 1200 800 \
            -e "files='${files[*]}'; titles='${titles[*]}'; loads='$data/loads.csv'" \
            -e "title='Resident memory over time per mode: ${tl_group//|/ } (rep 0; rbench samples every 10 ms)'"
    fi
fi

# ---- perplexity per quant (real models only: gen: models have random weights) -

jq -r '[ .[] | select(.ppl != null and (.model | startswith("gen:") | not)) ] | . as $c
       | [ $c[].model ] | reduce .[] as $m ([]; if index([$m]) then . else . + [$m] end)
       | map(. as $m | [ $c[] | select(.model == $m) ] | unique_by(.quant) | sort_by(.first)
             | "# \($m)", (to_entries[] | "\(.key) \(.value.quant) \(.value.ppl) \(.value.ppl_err // 0)"), "", "")
       | .[]' "$dir/cases.json" >"$data/ppl.dat"
ppl_models=$(grep '^# ' "$data/ppl.dat" | cut -c3- | xargs || true)
if [ -n "$ppl_models" ]; then
    ppl_nq=$(awk '/^# /{ if (n) printf "%d ", n; n = 0; next } NF { n++ } END { if (n) printf "%d", n }' "$data/ppl.dat")
    gp ppl "$plots/ppl" $((400 + 350 * $(wc -w <<<"$ppl_models"))) 500 \
        -e "data='$data/ppl.dat'; models='$ppl_models'; nquants='$ppl_nq'" \
        -e "title='Perplexity per weight type, error bars: the +/- estimate (same value in every memory mode)'"
fi

# ---- nightly history ------------------------------------------------------------

hist=$RB_RESULTS/history.csv
if [ -f "$hist" ] && [ "$(wc -l <"$hist")" -gt 1 ]; then
    tps_hist=$RB_RESULTS/history-tps.csv
    [ -f "$tps_hist" ] || tps_hist=/dev/null
    # One plot per model of this run; one block per case of the chosen
    # workload: time, peak RSS, tokens/s (-1: not recorded).
    for m in $models; do
        f=$data/history-${m//[^A-Za-z0-9._-]/_}.dat
        awk -F, -v w="$workload" -v m="$m" -v modes="$modes" '
            BEGIN { nm = split(modes, mo, " "); for (k = 1; k <= nm; k++) mi[mo[k]] = k }
            FNR == 1 { next }
            { for (k = 1; k <= NF; k++) gsub(/"/, "", $k) }
            FILENAME != ARGV[2] { tps[$2 "," $3] = $4; next }
            { split($5, p, "|"); if (p[1] != m || p[3] != w) next
              if (!($5 in seen)) { seen[$5] = ++n; name[n] = $5; q = p[2]; md = p[6]
                  if (!(q in qi)) qi[q] = ++nq
                  label[n] = q "/" md; lt[n] = (md in mi) ? mi[md] : nm + 1; pt[n] = qi[q] + 4 }
              rows[$5] = rows[$5] sprintf("%s %s %s\n", $1, $8, (($2 "," $5) in tps) ? tps[$2 "," $5] : -1)
              times[$1] = 1 }
            END { nt = 0; for (t in times) { nt++; last = t }
                  for (i = 1; i <= n; i++) printf "#! %s %d %d\n", label[i], lt[i], pt[i]
                  printf "#! single=%s\n", nt == 1 ? last : ""
                  for (i = 1; i <= n; i++) printf "# %s\n%s\n\n", name[i], rows[name[i]] }' \
            "$tps_hist" "$hist" >"$f"
        labels=$(awk '/^#! [^ ]+ [0-9]+ [0-9]+$/ { print $2 }' "$f" | xargs)
        [ -n "$labels" ] || continue
        lts=$(awk '/^#! [^ ]+ [0-9]+ [0-9]+$/ { print $3 }' "$f" | xargs)
        pts=$(awk '/^#! [^ ]+ [0-9]+ [0-9]+$/ { print $4 }' "$f" | xargs)
        single=$(sed -n 's/^#! single=//p' "$f")
        nruns=$(awk -F, 'NR > 1 { gsub(/"/, ""); r[$2] = 1 } END { print length(r) }' "$hist")
        out=$(basename "$f" .dat)
        gp history "$plots/$out" 1200 800 \
            -e "data='$f'; labels='$labels'; lts='$lts'; pts='$pts'" \
            ${single:+-e "single='$single'"} \
            -e "title='Nightly history of $m, workload $workload (runs in $hist: $nruns)'"
    done
fi

# ---- report.md --------------------------------------------------------------------

hf=$dir/hyperfine.csv
[ -f "$hf" ] || hf=/dev/null
{
    jq -r '"# Benchmark report: \(.sweep_path | split("/") | last)",
           "",
           "- started \(.started); engine \(.engine_version) (xxh64 \(.engine_xxh64))",
           "- git commit \(.git_commit)\(if .git_dirty then " (dirty)" else "" end)",
           "- machine: \(.machine.cpu), \(.machine.cpus) CPUs, \(.machine.mem_total), Linux \(.machine.kernel)"' \
        <(head -n1 "$dir/runs.jsonl")
    echo "- machine class: $(machine_class); run directory: \`$rel\`"
    n_fail=$(jq '[ .[] | select(.identity != "pass") ] | length' "$dir/cases.json")
    echo "- identity gate: $(jq length "$dir/cases.json") cases, $n_fail not passing"
    [ -f "$dir/compare.verdict" ] && echo "- comparison with the baseline: $(cat "$dir/compare.verdict")"
    echo
    echo "## Summary (workload \`$workload\`)"
    echo
    echo "Medians over repetitions; peak RSS is wait4's ru_maxrss; repacked and reclaimed bytes come from"
    echo "the engine's memory report; tokens/s is the engine's generation speed; hyperfine is the whole"
    echo "command (load included), mean ± σ."
    echo
    summary_table "$dir/cases.json" "$workload" "$hf"
    echo
    if [ "$hf" != /dev/null ]; then
        echo "## hyperfine: \`minillm complete\` per mode ($(awk -F, 'NR == 2 { gsub(/"/, "", $1); print $1 }' "$hf"))"
        echo
        echo "| mode | mean ± σ (ms) | min (ms) | max (ms) | runs |"
        echo "|---|---:|---:|---:|---:|"
        awk -F, 'NR > 1 { gsub(/"/, ""); printf "| %s | %.1f ± %.1f | %.1f | %.1f | %d |\n", $2, $3, $4, $5, $6, $7 }' "$hf"
        echo
    fi
    if [ -s "$data/ppl.dat" ]; then
        echo "## Perplexity"
        echo
        echo "| model | weight type | PPL |"
        echo "|---|---|---:|"
        jq -r '[ .[] | select(.ppl != null) ] | unique_by(.model + "|" + .quant) | sort_by(.first) | .[]
               | "| \(.model) | \(.quant) | \(.ppl)\(if .ppl_err then " ± \(.ppl_err)" else "" end) |"' "$dir/cases.json"
        echo
    fi
    echo "## Plots"
    echo
    for p in "${made[@]}"; do
        b=$(basename "$p" .png)
        echo "![$b](plots/$b.png)"
        echo
        echo "[$b.svg](plots/$b.svg)"
        echo
    done
    if [ -f "$dir/compare.md" ]; then
        echo "## Comparison with the baseline"
        echo
        cat "$dir/compare.md"
        echo
    fi
    if [ -f "$dir/summary.md" ]; then
        echo "## Every case (rbench summary)"
        echo
        sed -n '/^| model/,$p' "$dir/summary.md"
    fi
} >"$dir/report.md"

echo "plots: report $rel/report.md"
for p in "${made[@]}"; do echo "plots: ${p#"$(pwd -P)"/} (and .svg)"; done
