#!/usr/bin/env bash
# valgrind.sh MINILLM DATA_DIR: small runs of minillm under memcheck.
#
# A completion and a perplexity on stories260K (2 threads), each memory mode
# that takes another code path (read, repack off, reclaim, a Q4_0 model that is
# repacked, a memory report), quantize and info. Every run must finish with
# zero memcheck errors and zero leaks of any kind (--errors-for-leak-kinds=all:
# "still reachable" counts too). Prints one line per run; exit 1 if any failed.
# `make valgrind` builds build/debug (-O0 -g) and runs this.
set -uo pipefail
bin=${1:?usage: valgrind.sh MINILLM DATA_DIR}
data=${2:?usage: valgrind.sh MINILLM DATA_DIR}
command -v valgrind >/dev/null || { echo "valgrind.sh: valgrind is not installed" >&2; exit 1; }
model=$data/stories260K.gguf
text=$data/tinystories_val_sample.txt
for f in "$model" "$text"; do
    [ -f "$f" ] || { echo "valgrind.sh: $f is missing (make data)" >&2; exit 1; }
done
tmp=$(mktemp -d "${TMPDIR:-/tmp}/rb-valgrind.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

vg=(valgrind --tool=memcheck --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=all
    --track-origins=yes --quiet)
fail=0
n=0
run() { # name expected-exit args... (memcheck's own failure exit: 1, or 97 when minillm should exit 1)
    local name=$1 want=$2 log rc=0 vg_exit=1
    shift 2
    [ "$want" = 0 ] || vg_exit=97
    n=$((n + 1))
    log=$tmp/$n.log
    "${vg[@]}" --error-exitcode=$vg_exit --log-file="$log" "$bin" "$@" >"$tmp/$n.out" 2>"$tmp/$n.err" || rc=$?
    if [ "$rc" = "$want" ] && [ ! -s "$log" ]; then
        echo "valgrind: ok      $name"
    else
        echo "valgrind: FAILED  $name (exit $rc, expected $want)"
        sed -n '1,60s/^/    /p' "$log"
        tail -3 "$tmp/$n.err" | sed 's/^/    stderr: /'
        fail=1
    fi
}

head -c 5000 "$model" >"$tmp/truncated.gguf"
echo "Once upon a time there was a cat." >"$tmp/short.txt"
run "complete" 0 complete -m "$model" -p "Once upon a time" -n 16 -t 2
run "perplexity" 0 perplexity -m "$model" -f "$text" -c 128 --chunks 2 -t 2
run "complete --load read --mem-report" 0 complete -m "$model" -p "Once" -n 8 -t 2 --load read \
    --mem-report "$tmp/mem.json"
run "quantize q4_0" 0 quantize "$model" "$tmp/q4_0.gguf" q4_0
run "complete q4_0 --reclaim dontneed" 0 complete -m "$tmp/q4_0.gguf" -p "Once upon a time" -n 8 -t 2 \
    --reclaim dontneed
run "perplexity q4_0 --no-repack" 0 perplexity -m "$tmp/q4_0.gguf" -f "$text" -c 128 --chunks 1 -t 1 \
    --no-repack
run "info q4_0" 0 info "$tmp/q4_0.gguf"
run "gen tiny q8_0" 0 gen --shape tiny --type q8_0 "$tmp/tiny.gguf"
run "error path: truncated model" 1 complete -m "$tmp/truncated.gguf" -p x
run "error path: text shorter than a chunk" 1 perplexity -m "$model" -f "$tmp/short.txt" -c 128
echo "valgrind: $n runs, $([ $fail = 0 ] && echo "all clean" || echo "some FAILED")"
exit $fail
