#!/usr/bin/env bash
# vs-llamacpp.sh: minillm's speed beside llama.cpp's on the same GGUF file.
#
#   LLAMA_BENCH=.../llama-bench [LLAMA_COMPLETION=.../llama-completion] \
#       scripts/vs-llamacpp.sh MODEL [THREADS] [ROUNDS]
#
# Each round runs `minillm bench -p 128 -n 32 -r 1` and `llama-bench -p 128
# -n 32 -r 1` back to back (interleaved, so drift hits both alike), with the
# same threads (default 2) and file; ROUNDS defaults to 8. With
# LLAMA_COMPLETION set, each round also times load plus one token,
# `complete -n 1 -c 2048` against `llama-completion -n 1 -c 2048`, wall clock
# from outside, the file read through the page cache right before each.
#
# Prints, per test, each engine's mean and the range of its single rounds,
# the ratio of the means and the median of the per-round ratios; for tg the
# fraction of the streaming ceiling `minillm bench` measured in each round
# (its tokens alternated with streaming passes, mean against mean).
# Also the share of CPU time the hypervisor took from this VM during each
# round (steal, /proc/stat): a round with much steal ran on a contended host.
# Identity: minillm's pp and tg logits hashes and its completion's stdout
# must be the same every round, else the script fails (exit 1).
# Without LLAMA_BENCH it prints minillm's figures alone.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
model=${1:?usage: [LLAMA_BENCH=...] [LLAMA_COMPLETION=...] vs-llamacpp.sh MODEL [THREADS] [ROUNDS]}
threads=${2:-2}
rounds=${3:-8}
minillm=${MINILLM:-$here/build/release/minillm}
[ -x "$minillm" ] || { echo "vs-llamacpp: build first (make)" >&2; exit 1; }
[ -f "$model" ] || { echo "vs-llamacpp: no such file: $model" >&2; exit 1; }
lb=${LLAMA_BENCH:-}
lc=${LLAMA_COMPLETION:-}
prompt="Once upon a time"

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

now() { date +%s.%N; }
# cpu_ticks: the total and the steal jiffies of all CPUs so far (nothing
# where /proc/stat is missing)
cpu_ticks() { awk '/^cpu / { t = 0; for (i = 2; i <= 9; i++) t += $i; print t, $9; exit }' /proc/stat 2>/dev/null; }
# steal_pct T0 S0 T1 S1: steal as a percentage of the ticks between
steal_pct() { awk -v a="$1" -v b="$2" -v c="$3" -v d="$4" 'BEGIN { if (c > a) printf "%.1f", 100 * (d - b) / (c - a); else print "0.0" }'; }
errlog=$(mktemp)
trap 'rm -f "$errlog"' EXIT
# failed WHAT STATUS: a tool failed; say so with the end of its stderr, and stop
# (a crashed engine must not pass for a fast one)
failed() {
    local why="exit $2"
    [ "$2" -gt 128 ] && why="killed by signal $(($2 - 128))$( [ "$2" = 139 ] && echo ' (SIGSEGV)')"
    if [ -s "$errlog" ]; then
        echo "vs-llamacpp: $1 failed ($why); the end of its stderr:" >&2
        tail -n 5 "$errlog" | sed 's/^/    /' >&2
    else
        echo "vs-llamacpp: $1 failed ($why), with nothing on stderr" >&2
    fi
    exit 1
}
# warm FILE: read it through the page cache right before a timed load, so
# each engine starts from a fully cached file (this VM's proactive reclaim
# can drop parts of it between rounds)
warm() { cat "$1" >/dev/null; }
# stats: mean, min and max of the numbers on stdin
stats() { awk '{ s += $1; n++; if (n == 1 || $1 < lo) lo = $1; if (n == 1 || $1 > hi) hi = $1 }
               END { if (n) printf "%.3f %.3f %.3f", s / n, lo, hi; else print "nan nan nan" }'; }
median() { sort -g | awk '{ r[NR] = $1 } END { printf "%.3f", NR % 2 ? r[(NR + 1) / 2] : (r[NR / 2] + r[NR / 2 + 1]) / 2 }'; }

declare -a mpp mtg mceil lpp ltg mload lload steal
hpp="" htg="" hout=""
same() { # same NAME EXPECTED GOT: the identity check
    if [ -n "$2" ] && [ "$2" != "$3" ]; then
        echo "vs-llamacpp: minillm's $1 changed between rounds ($2, then $3): not the same output" >&2
        exit 1
    fi
}
for r in $(seq 1 "$rounds"); do
    read -r ticks0 steal0 <<<"$(cpu_ticks)"
    out=$("$minillm" bench -m "$model" -p 128 -n 32 -r 1 -t "$threads" 2>"$errlog") || failed "minillm bench" $?
    pp=$(echo "$out" | awk -F'|' '/ pp128 / { split($5, a, " "); print a[1] }')
    tg=$(echo "$out" | awk -F'|' '/ tg32 / { split($5, a, " "); print a[1] }')
    h1=$(echo "$out" | awk -F'|' '/ pp128 / { gsub(/ /, "", $6); print $6 }')
    h2=$(echo "$out" | awk -F'|' '/ tg32 / { gsub(/ /, "", $6); print $6 }')
    ceil=$(echo "$out" | sed -n 's/.*(ceiling \([0-9.]*\) t\/s).*/\1/p')
    frac=$(echo "$out" | sed -n 's/.*generation runs at \([0-9.]*\) %.*/\1/p')
    [ -n "$frac" ] || { echo "vs-llamacpp: no ceiling line in minillm bench's output" >&2; exit 1; }
    same "pp128 hash" "$hpp" "$h1"; same "tg32 hash" "$htg" "$h2"
    hpp=$h1 htg=$h2
    mpp+=("$pp"); mtg+=("$tg"); mceil+=("$(awk -v f="$frac" 'BEGIN { printf "%.4f", f / 100 }')")
    line="round $r: minillm pp128 $pp tg32 $tg t/s ($frac % of the ceiling, $ceil t/s; hashes $h1 $h2)"
    if [ -n "$lb" ]; then
        lout=$("$lb" -m "$model" -p 128 -n 32 -r 1 -t "$threads" -o csv 2>"$errlog") || failed "$lb" $?
        p=$(echo "$lout" | lb_rate 128 0) && g=$(echo "$lout" | lb_rate 0 32) || {
            echo "vs-llamacpp: no pp128/tg32 rows in the CSV of $lb" >&2; exit 1; }
        lpp+=("$p"); ltg+=("$g")
        line="$line; llama-bench pp128 $p tg32 $g t/s"
    fi
    if [ -n "$lc" ]; then
        warm "$model"
        t0=$(now)
        o=$("$minillm" complete -m "$model" -p "$prompt" -n 1 -c 2048 -t "$threads" 2>"$errlog") ||
            failed "minillm complete" $?
        t1=$(now)
        warm "$model"
        t1=$(now)
        "$lc" -m "$model" -p "$prompt" -n 1 -c 2048 -t "$threads" --temp 0 --seed 1 -no-cnv >/dev/null 2>"$errlog" \
            </dev/null || failed "$lc" $?
        t2=$(now)
        h=$(printf '%s' "$o" | sha256sum | cut -c1-16)
        same "completion stdout hash" "$hout" "$h"
        hout=$h
        mload+=("$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }')")
        lload+=("$(awk -v a="$t1" -v b="$t2" 'BEGIN { printf "%.3f", b - a }')")
        line="$line; load+1 token minillm ${mload[-1]} s (stdout $h), llama-completion ${lload[-1]} s"
    fi
    read -r ticks1 steal1 <<<"$(cpu_ticks)"
    if [ -n "$ticks0" ] && [ -n "$ticks1" ]; then
        steal+=("$(steal_pct "$ticks0" "$steal0" "$ticks1" "$steal1")")
        line="$line; host steal ${steal[-1]} %"
    fi
    echo "$line" >&2
done

row() { # row TEST NAME_A VALUES_A NAME_B VALUES_B: one table line
    read -r ma la ha <<<"$(printf '%s\n' $2 | stats)"
    if [ -n "$3" ]; then
        read -r mb lb_ hb <<<"$(printf '%s\n' $3 | stats)"
        local -a a=($2) b=($3) rs=()
        for i in "${!a[@]}"; do rs+=("$(awk -v x="${a[$i]}" -v y="${b[$i]}" 'BEGIN { printf "%.4f", x / y }')"); done
        med=$(printf '%s\n' "${rs[@]}" | median)
        rl=$(printf '%s\n' "${rs[@]}" | stats | awk '{ printf "%.2f–%.2f", $2, $3 }')
        awk -v t="$1" -v ma="$ma" -v la="$la" -v ha="$ha" -v mb="$mb" -v lb="$lb_" -v hb="$hb" -v med="$med" -v rl="$rl" \
            'BEGIN { printf "| %s | %.2f (%.2f–%.2f) | %.2f (%.2f–%.2f) | %.3f | %.3f (%s) |\n", t, ma, la, ha, mb, lb, hb, ma / mb, med, rl }'
    else
        awk -v t="$1" -v ma="$ma" -v la="$la" -v ha="$ha" 'BEGIN { printf "| %s | %.2f (%.2f–%.2f) | – | – | – |\n", t, ma, la, ha }'
    fi
}
echo "$(basename "$model"), $threads threads, $rounds interleaved rounds"
echo "| test | minillm: mean (range of rounds) | llama.cpp: mean (range) | ratio of means | median round ratio (range) |"
echo "|---|---:|---:|---:|---:|"
row "pp128 t/s" "${mpp[*]}" "${lpp[*]:-}"
row "tg32 t/s" "${mtg[*]}" "${ltg[*]:-}"
if [ -n "$lc" ]; then
    # time: lower is better, so the ratio is minillm / llama.cpp (<= 0.5: twice as fast)
    row "load + 1 token, s" "${mload[*]}" "${lload[*]}"
fi
read -r cm cl ch <<<"$(printf '%s\n' "${mceil[@]}" | stats)"
awk -v m="$cm" -v l="$cl" -v h="$ch" 'BEGIN { printf "minillm tg32 / streaming ceiling (measured in each round): mean %.1f %% (rounds %.1f–%.1f %%)\n", 100 * m, 100 * l, 100 * h }'
if [ "${#steal[@]}" -gt 0 ]; then
    read -r sm sl sh <<<"$(printf '%s\n' "${steal[@]}" | stats)"
    awk -v m="$sm" -v l="$sl" -v h="$sh" 'BEGIN { printf "host steal (CPU time the hypervisor took, /proc/stat): mean %.1f %% (rounds %.1f–%.1f %%)\n", m, l, h }'
fi
echo "identity: every round gave pp128 hash $hpp, tg32 hash $htg${hout:+, completion stdout $hout}"
echo "commands: $(basename "$minillm") bench -m MODEL -p 128 -n 32 -r 1 -t $threads${lb:+; llama-bench -m MODEL -p 128 -n 32 -r 1 -t $threads}${lc:+; minillm complete -m MODEL -p \"$prompt\" -n 1 -c 2048 -t $threads; llama-completion (same) --temp 0 --seed 1 -no-cnv}"
