#!/usr/bin/env bash
# fuzz.sh: run the libFuzzer targets (built by `make fuzz-build` in build/fuzz).
#
#   fuzz.sh [--seconds N] [--minillm BIN] [--data DIR] TARGET...   (gguf tokenizer spec)
#
# Per target, builds a seed corpus from the real files into build/fuzz/gen/TARGET
# (once; delete it to rebuild), then fuzzes for N seconds (default 60) with
# build/fuzz/corpus/TARGET as the growing corpus plus the generated seeds,
# fuzz/seeds/TARGET and fuzz/regress/TARGET. A crash is saved in
# build/fuzz/crashes/TARGET/; turn it into a regression input by copying it
# to fuzz/regress/TARGET/ under a descriptive name (docs/HARDENING.md).
# Prints one line per target (executions, corpus size, crashes); exit 1 if any
# target crashed or could not run.
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
secs=60
minillm=build/release/minillm
data=build/data
while [ $# -gt 0 ]; do
    case "$1" in
    --seconds) secs=$2; shift 2 ;;
    --minillm) minillm=$2; shift 2 ;;
    --data) data=$2; shift 2 ;;
    -h|--help) sed -n '2,13p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    -*) echo "fuzz.sh: unknown option $1" >&2; exit 2 ;;
    *) break ;;
    esac
done
[ $# -gt 0 ] || { echo "fuzz.sh: no target (gguf tokenizer spec)" >&2; exit 2; }
case "$secs" in ''|*[!0-9]*) echo "fuzz.sh: --seconds expects a number, got '$secs'" >&2; exit 2 ;; esac
export RB_TEST_DATA="$data"
out=build/fuzz

# One file per test string of llama.cpp's vocab tests (separated by this line).
split_vocab_tests() { # file dir prefix
    awk -v dir="$2" -v pre="$3" '
        /^__ggml_vocab_test__$/ { n++; next }
        { f = sprintf("%s/%s-%03d.txt", dir, pre, n); if (seen[f]++) printf "\n" >> f; printf "%s", $0 >> f }
    ' "$1"
}

# Small files only: the fuzzer mutates the header far more often when an input
# is tens of KiB, not MiB (the real files are checked whole by test_gguf).
gen_gguf() { # dir
    local d=$1 t s
    for s in tiny tiny-untied; do
        for t in f16 q8_0 q4_0; do
            "$minillm" gen --shape "$s" --type "$t" "$d/gen-$s-$t.gguf" 2>/dev/null
        done
    done
    "$minillm" quantize "$data/stories260K.gguf" "$d/stories260K-q4_0.gguf" q4_0 2>/dev/null
}

gen_tokenizer() { # dir
    local d=$1 f
    split_vocab_tests "$data/ggml-vocab-llama-spm.gguf.inp" "$d" vocab
    # short passages of real text, one per file
    for f in tinystories_val_sample.txt wiki.test.raw; do
        # awk reads the file itself: an early exit cannot kill a writer (SIGPIPE)
        awk -v dir="$d" -v pre="${f%%.*}" \
            '{ bytes += length($0) + 1; if (bytes > 65536) exit }
             NF { n++; if (n > 48) exit; printf "%s\n", substr($0, 1, 2000) > sprintf("%s/%s-%02d.txt", dir, pre, n) }' \
            "$data/$f"
    done
}

gen_spec() { # dir
    cp harness/sweeps/*.sweep "$1/"
}

max_len() {
    case "$1" in gguf) echo 320000 ;; tokenizer) echo 4096 ;; *) echo 8192 ;; esac
}

status=0
for t in "$@"; do
    bin=$out/fuzz_$t
    [ -x "$bin" ] || { echo "fuzz.sh: $bin is missing: make fuzz-build" >&2; status=1; continue; }
    gen=$out/gen/$t
    if [ ! -d "$gen" ]; then
        rm -rf "$gen.part" # left by an interrupted run
        mkdir -p "$gen.part"
        "gen_$t" "$gen.part"
        mv "$gen.part" "$gen"
    fi
    mkdir -p "$out/corpus/$t" "$out/crashes/$t" "$out/logs"
    dict=()
    [ -f "fuzz/$t.dict" ] && dict=(-dict="fuzz/$t.dict")
    regress=()
    [ -d "fuzz/regress/$t" ] && regress=("fuzz/regress/$t")
    log=$out/logs/$t.log
    # -timeout: one input taking longer is a hang, saved like a crash
    rc=0
    "$bin" -max_total_time="$secs" -timeout=25 -rss_limit_mb=2048 -max_len="$(max_len "$t")" \
        -print_final_stats=1 -artifact_prefix="$out/crashes/$t/" "${dict[@]}" \
        "$out/corpus/$t" "$gen" "fuzz/seeds/$t" "${regress[@]}" >"$log" 2>&1 || rc=$?
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    corpus=$(find "$out/corpus/$t" -type f | wc -l)
    crashes=$(grep -o "Test unit written to .*" "$log" | sed 's/Test unit written to //' | tr '\n' ' ' || true)
    if [ $rc != 0 ] || [ -n "$crashes" ]; then
        echo "fuzz $t: FAILED (exit $rc) after ${execs:-?} executions; ${crashes:-no input saved}; log: $log"
        grep -m 3 "ERROR\|check failed\|runtime error" "$log" | sed 's/^/  /' || true
        status=1
    else
        echo "fuzz $t: ${execs:-?} executions in $secs s, no crash (corpus $corpus files)"
    fi
done
exit $status
