#!/usr/bin/env bash
# vs-llamacpp.sh: minillm's speed beside llama.cpp's on the same GGUF file.
#
#   scripts/vs-llamacpp.sh MODEL [THREADS] [REPS]
#   LLAMA_BENCH=/path/to/llama-bench scripts/vs-llamacpp.sh MODEL ...
#
# With LLAMA_BENCH set, runs `minillm bench` and `llama-bench` alternately
# (REPS rounds, interleaved so drift hits both alike) with -p 128 -n 32 and the
# same threads, and prints pp128 / tg32 tokens/s of each and the ratios.
# Without it, compares with the reference figures measured on this machine
# class (1B-shaped Q4_0: pp128 289.5, tg32 49.6; 3B-shaped: 99.3 / 19.8) and
# says so. minillm's lines carry its output hash, identical every repetition.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
model=${1:?usage: vs-llamacpp.sh MODEL [THREADS] [REPS]}
threads=${2:-2}
reps=${3:-3}
minillm=${MINILLM:-$here/build/release/minillm}
[ -x "$minillm" ] || { echo "vs-llamacpp: build first (make)" >&2; exit 1; }

# lb_rate P N: avg_ts of llama-bench's CSV row with n_prompt P and n_gen N. The
# columns are found by name in the header (their order and number change between
# llama.cpp versions); fields are quoted and hold no commas in these columns.
lb_rate() {
    awk -F, -v p="$1" -v g="$2" '
        { gsub(/"/, "") }
        NR == 1 { for (i = 1; i <= NF; i++) col[$i] = i; next }
        !("n_prompt" in col) || !("avg_ts" in col) { exit 1 }
        $col["n_prompt"] == p && $col["n_gen"] == g { r = $col["avg_ts"] }
        END { if (r == "") exit 1; print r }'
}

mean_of() { awk '{ s += $1; n++ } END { if (n) printf "%.2f", s / n; else print "nan" }'; }

mpp=(); mtg=(); lpp=(); ltg=()
for r in $(seq 1 "$reps"); do
    out=$("$minillm" bench -m "$model" -p 128 -n 32 -r 1 -t "$threads" 2>/dev/null)
    echo "$out" | grep -E 'pp128|tg32|generation reads' | sed "s/^/minillm round $r: /" >&2
    mpp+=("$(echo "$out" | awk -F'|' '/pp128/ { split($5, a, " "); print a[1] }')")
    mtg+=("$(echo "$out" | awk -F'|' '/tg32/ { split($5, a, " "); print a[1] }')")
    if [ -n "${LLAMA_BENCH:-}" ]; then
        lout=$("$LLAMA_BENCH" -m "$model" -p 128 -n 32 -r 1 -t "$threads" -o csv 2>/dev/null)
        pp=$(echo "$lout" | lb_rate 128 0) && tg=$(echo "$lout" | lb_rate 0 32) || {
            echo "vs-llamacpp: no pp128/tg32 rows in the CSV of $LLAMA_BENCH" >&2; exit 1; }
        echo "llama-bench round $r: pp128 $pp t/s, tg32 $tg t/s" >&2
        lpp+=("$pp"); ltg+=("$tg")
    fi
done
m_pp=$(printf '%s\n' "${mpp[@]}" | mean_of)
m_tg=$(printf '%s\n' "${mtg[@]}" | mean_of)
if [ -n "${LLAMA_BENCH:-}" ]; then
    l_pp=$(printf '%s\n' "${lpp[@]}" | mean_of)
    l_tg=$(printf '%s\n' "${ltg[@]}" | mean_of)
    source="llama-bench, measured side by side ($reps interleaved rounds)"
else
    size=$(stat -c %s "$model")
    if [ "$size" -gt 1200000000 ]; then l_pp=99.3; l_tg=19.8; else l_pp=289.5; l_tg=49.6; fi
    source="llama.cpp reference figures for this machine class (no LLAMA_BENCH given)"
fi
echo "| test | minillm t/s | llama.cpp t/s | ratio |"
echo "|---|---:|---:|---:|"
awk -v a="$m_pp" -v b="$l_pp" 'BEGIN { printf "| pp128 | %.2f | %.2f | %.3f |\n", a, b, a / b }'
awk -v a="$m_tg" -v b="$l_tg" 'BEGIN { printf "| tg32 | %.2f | %.2f | %.3f |\n", a, b, a / b }'
echo "llama.cpp: $source; threads $threads"
if [ -n "${LLAMA_BENCH:-}" ]; then
    # each round's pair ran back to back: its ratio sees one state of the
    # machine, so their median is less moved by drift than the means
    for t in pp tg; do
        if [ $t = pp ]; then a=("${mpp[@]}"); b=("${lpp[@]}"); else a=("${mtg[@]}"); b=("${ltg[@]}"); fi
        ratios=$(for i in "${!a[@]}"; do awk -v x="${a[$i]}" -v y="${b[$i]}" 'BEGIN { printf "%.3f\n", x / y }'; done)
        med=$(echo "$ratios" | sort -n | awk '{ r[NR] = $1 } END { printf "%.3f", NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2 }')
        echo "$t ratio per round: $(echo $ratios); median $med"
    done
fi
